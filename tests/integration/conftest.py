"""pytest fixtures: which server is under test, and server processes.

The server is chosen by `--server etcd|etcetera|PATH` or the environment
variable ET_SERVER (same values); the default is real etcd, the reference.
`etcetera` means the binary named by ET_ETCETERA_BIN, else the first
build/*/server/etcetera found under the repository root.  A PATH whose base
name starts with "etcd" but is not etcetera is treated as an etcd binary.

Fixtures
  server_kind     "etcd" or "etcetera" (tests skip deviations with it)
  server          one member shared by a test module (tests use unique keys)
  fresh_server    a member of its own for one test (counters, history)
  make_server     factory: make_server() -> a started ServerProc, cleaned up
                  after the test; ServerProc.restart(sig) / kill() / start()
                  reuse the same data directory and ports.
  restartable_server  make_server() for tests that need just one.
  make_cluster    factory: make_cluster(3) -> three started members of one
                  cluster (names m0.., shared --initial-cluster).

Every server is killed (whole process group) and its temporary directory
removed when its fixture ends, whether the test passed or not; the tail of its
log is attached to the report of a failed test.
"""

import glob
import hashlib
import os
import re
import shutil

import pytest

import itestlib

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pytest_addoption(parser):
    parser.addoption("--server", default=None,
                     help="server under test: etcd, etcetera or a path to a binary "
                     "(default: $ET_SERVER, else etcd)")


def _find_etcetera():
    env = os.environ.get("ET_ETCETERA_BIN")
    if env:
        return env
    found = sorted(glob.glob(os.path.join(REPO_ROOT, "build", "*", "server", "etcetera")),
                   key=os.path.getmtime, reverse=True)
    return found[0] if found else None


def resolve_server(choice):
    """Returns (kind, binary path) or raises pytest.UsageError."""
    choice = choice or "etcd"
    if choice == "etcd":
        path = shutil.which("etcd")
        if not path:
            raise pytest.UsageError("etcd is not installed")
        return "etcd", path
    if choice == "etcetera":
        path = _find_etcetera()
        if not path:
            raise pytest.UsageError("no etcetera binary: build it or set ET_ETCETERA_BIN")
        return "etcetera", os.path.abspath(path)
    path = os.path.abspath(choice)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise pytest.UsageError("server binary %s is not an executable file" % choice)
    base = os.path.basename(path)
    kind = "etcd" if base.startswith("etcd") and "etcetera" not in base else "etcetera"
    return kind, path


def pytest_configure(config):
    choice = config.getoption("--server") or os.environ.get("ET_SERVER")
    config.et_server = resolve_server(choice)


def pytest_report_header(config):
    kind, path = config.et_server
    return "server under test: %s (%s)" % (kind, path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.when == "call" and rep.failed:
        servers = []
        for v in getattr(item, "funcargs", {}).values():
            if isinstance(v, itestlib.ServerProc):
                servers.append(v)
            elif isinstance(getattr(v, "__self__", None), _Pool):
                servers.extend(v.__self__.servers)
        for s in servers:
            rep.sections.append(("server log (%s)" % s.url, s.log_tail(60)))


@pytest.fixture(scope="session")
def server_kind(pytestconfig):
    return pytestconfig.et_server[0]


@pytest.fixture(scope="session")
def server_bin(pytestconfig):
    return pytestconfig.et_server[1]


class _Pool:
    """Servers started for one fixture scope; all are cleaned up together."""

    def __init__(self, kind, binary):
        self.kind = kind
        self.binary = binary
        self.servers = []

    def make(self, start=True, **kw):
        s = itestlib.ServerProc(self.binary, self.kind, **kw)
        self.servers.append(s)
        if start:
            s.start()
        return s

    def make_cluster(self, n):
        """n members that form one cluster; returns them started and ready."""
        ports = [(itestlib.free_port(), itestlib.free_port()) for _ in range(n)]
        names = ["m%d" % i for i in range(n)]
        initial = ",".join("%s=http://%s:%d" % (nm, itestlib.HOST, pp)
                           for nm, (_, pp) in zip(names, ports))
        members = []
        for nm, pp in zip(names, ports):
            s = itestlib.ServerProc(self.binary, self.kind, name=nm, ports=pp,
                                    initial_cluster=initial)
            self.servers.append(s)
            members.append(s)
        for s in members:
            s.start(wait=False)
        for s in members:
            s.wait_ready(60)
        return members

    def cleanup(self):
        errors = []
        for s in self.servers:
            try:
                s.cleanup()
            except itestlib.ServerError as e:
                errors.append(str(e))
        self.servers = []
        if errors:
            raise itestlib.ServerError("\n".join(errors))


@pytest.fixture(scope="module")
def server(pytestconfig, request):
    pool = _Pool(*pytestconfig.et_server)
    try:
        yield pool.make()
    finally:
        pool.cleanup()


@pytest.fixture
def fresh_server(pytestconfig, request):
    pool = _Pool(*pytestconfig.et_server)
    try:
        yield pool.make()
    finally:
        pool.cleanup()


@pytest.fixture
def make_server(pytestconfig, request):
    pool = _Pool(*pytestconfig.et_server)
    try:
        yield pool.make
    finally:
        pool.cleanup()


@pytest.fixture
def make_cluster(pytestconfig):
    """factory: make_cluster(n) -> n started members of one cluster."""
    pool = _Pool(*pytestconfig.et_server)
    try:
        yield pool.make_cluster
    finally:
        pool.cleanup()


@pytest.fixture
def made():
    """Servers a test starts itself (append them); every one is cleaned up after it."""
    servers = []
    yield servers
    errors = []
    for s in servers:
        try:
            s.cleanup()
        except itestlib.ServerError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def restartable_server(make_server):
    """A started member for one test; restart(signal.SIGKILL or SIGTERM),
    kill(), stop() and start() keep its data directory and ports."""
    return make_server()


@pytest.fixture
def uniq(request):
    """A key prefix unique to the test (top-level directory name)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    return "/t_%s_%s" % (name.strip("_"), digest)

