"""etcd v2 discovery, the member side (spec/discovery.md section 3).

Members of the server under test bootstrap with --discovery from a token on a
discovery keyspace, which is either real etcd or the server under test itself
(both must work: the keyspace side is ordinary /v2/keys).  A logging HTTP proxy
(--discovery-proxy) records the requests a member sends, so the request trace
of section 3 is checked too.  Run with --server etcd to see the same tests pass
against real etcd; where etcetera deviates (no v2 proxy mode to fall back to
when the cluster is full) the test says so.
"""

import hashlib
import http.client
import http.server
import shutil
import signal
import socketserver
import threading
import urllib.parse
import uuid

import pytest

import itestlib
from itestlib import HOST, ServerProc, get, put, wait_until


# -- helpers -------------------------------------------------------------------------

class DiscoveryMember(ServerProc):
    """A member bootstrapped by discovery: no --initial-cluster, a --discovery URL."""

    def __init__(self, binary, kind, discovery, extra=(), **kw):
        super().__init__(binary, kind, **kw)
        self.discovery = discovery
        self.extra = list(extra)

    def argv(self):
        return [self.binary,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--discovery", self.discovery,
                "--enable-v2"] + self.extra

    def wait_log(self, text, timeout=20):
        found, _ = wait_until(lambda: text in self.log(), timeout, 0.05)
        return found


def member_id(peer_urls, token):
    """etcd's member ID: SHA-1 of the sorted peer URLs and the token; under
    discovery the token is the discovery URL."""
    h = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode()).digest()
    return "%x" % int.from_bytes(h[:8], "big")


class Pool:
    def __init__(self, binary, kind):
        self.binary = binary
        self.kind = kind
        self.procs = []

    def keyspace(self, binary, kind):
        s = ServerProc(binary, kind, name="ks")
        self.procs.append(s)
        return s.start()

    def member(self, discovery, name, start=True, extra=(), **kw):
        m = DiscoveryMember(self.binary, self.kind, discovery, extra=extra, name=name, **kw)
        self.procs.append(m)
        if start:
            m.start(wait=False)
        return m

    def cleanup(self):
        errors = []
        for p in self.procs:
            try:
                p.cleanup()
            except itestlib.ServerError as e:
                errors.append(str(e))
        if errors:
            raise itestlib.ServerError("\n".join(errors))


@pytest.fixture
def pool(server_bin, server_kind):
    p = Pool(server_bin, server_kind)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture(params=["etcd", "self"])
def keyspace(request, pool, server_bin, server_kind):
    """The discovery keyspace: real etcd, or the server under test."""
    if request.param == "etcd":
        path = shutil.which("etcd")
        if not path:
            pytest.skip("etcd is not installed")
        return pool.keyspace(path, "etcd")
    return pool.keyspace(server_bin, server_kind)


def mint(ks, size):
    """A self-hosted token (spec 2.1): returns the discovery URL."""
    tok = uuid.uuid4().hex
    if size is not None:
        r = put(ks, "/v2/keys/_etcd/registry/%s/_config/size" % tok, form={"value": str(size)})
        assert r.status == 201, r
    return "%s/v2/keys/_etcd/registry/%s" % (ks.url, tok)


def registrations(ks, durl):
    path = urllib.parse.urlsplit(durl).path
    r = get(ks, path + "?recursive=true")
    assert r.status == 200, r
    return r.json()["node"].get("nodes", [])


FAILED_LINES = ("I | etcdmain: discovery token {u} was used, but failed to bootstrap the cluster.",
                "I | etcdmain: please generate a new discovery token and try to bootstrap again.")


def assert_failed_join(m, cause):
    rc = m.wait_exit()
    log = m.log()
    assert rc == 1, log
    assert "E | etcdmain: failed to join discovery cluster (%s)" % cause in log, log
    for line in FAILED_LINES:
        assert line.format(u=m.discovery) in log, log


# -- bootstrap ---------------------------------------------------------------------------

def test_size1_bootstraps_registers_and_restarts(pool, keyspace):
    durl = mint(keyspace, 1)
    m = pool.member(durl, "disc1")
    m.wait_ready(30)
    mid = member_id([m.peer_url], durl)
    # the registration: <token>/<id hex> = name=peerURL
    nodes = registrations(keyspace, durl)
    path = urllib.parse.urlsplit(durl).path[len("/v2/keys"):]
    assert [(n["key"], n["value"]) for n in nodes] == [
        ("%s/%s" % (path, mid), "disc1=%s" % m.peer_url)]
    assert "discovery: found self %s in the cluster" % mid in m.log()
    assert "discovery: found 1 needed peer(s)" in m.log()
    # a cluster of one that serves writes, with the member ID etcd derives
    members = get(m, "/v2/members").json()["members"]
    assert [(x["id"], x["name"], x["peerURLs"]) for x in members] == [(mid, "disc1", [m.peer_url])]
    assert put(m, "/v2/keys/after-discovery", form={"value": "v"}).status == 201
    # a restart reuses the data dir: same member, discovery not asked again
    m.restart()
    assert get(m, "/v2/keys/after-discovery").json()["node"]["value"] == "v"
    assert [x["id"] for x in get(m, "/v2/members").json()["members"]] == [mid]
    assert "discovery token ignored since a cluster has already been initialized" in m.log()
    assert len(registrations(keyspace, durl)) == 1


def test_waits_for_the_keyspace_to_come_up(pool, server_bin, server_kind):
    """Keyspace unreachable: etcd's log lines, back-off 2 s, then it bootstraps."""
    ks = pool.keyspace(server_bin, server_kind)
    durl = mint(ks, 1)
    ks.stop()                               # the token survives in its data dir
    m = pool.member(durl, "late")
    assert m.wait_log("retrying in 2s", 10), m.log()
    log = m.log()
    assert "E | discovery: error #0: dial tcp %s:%d: connect: connection refused" % (
        HOST, ks.client_port) in log, log
    assert "I | discovery: cluster status check: error connecting to %s, retrying in 2s" % (
        ks.url) in log, log
    assert m.running()
    ks.start()
    m.wait_ready(30)
    assert len(registrations(ks, durl)) == 1


def test_three_members(pool, keyspace):
    durl = mint(keyspace, 3)
    ms = [pool.member(durl, "d%d" % i) for i in range(3)]
    for m in ms:
        m.wait_ready(60)
    want = sorted((member_id([m.peer_url], durl), m.name) for m in ms)
    for m in ms:
        got = get(m, "/v2/members").json()["members"]
        assert sorted((x["id"], x["name"]) for x in got) == want
    assert put(ms[0], "/v2/keys/three", form={"value": "3"}).status == 201
    r = get(ms[2], "/v2/keys/three?quorum=true")
    assert r.json()["node"]["value"] == "3"
    logs = "".join(m.log() for m in ms)
    assert logs.count("discovery: found 3 needed peer(s)") == 3


# -- the request trace, through --discovery-proxy ----------------------------------------

class _LoggingProxy(http.server.BaseHTTPRequestHandler):
    """A forward HTTP proxy that records "METHOD absolute-URL body"."""

    protocol_version = "HTTP/1.1"
    log = None

    def _forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.log.append((self.command, self.path, body.decode()))
        u = urllib.parse.urlsplit(self.path)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("proxy-connection", "connection", "host")}
            conn.request(self.command, u.path + ("?" + u.query if u.query else ""),
                         body=body or None, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = _forward

    def log_message(self, *a):
        pass


@pytest.fixture
def logging_proxy():
    class Handler(_LoggingProxy):
        log = []

    srv = socketserver.ThreadingTCPServer((HOST, 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1], Handler.log
    finally:
        srv.shutdown()
        srv.server_close()


def test_request_trace_through_discovery_proxy(pool, keyspace, logging_proxy):
    port, log = logging_proxy
    durl = mint(keyspace, 1)
    # a bare host:port gets http:// (spec 3.3)
    m = pool.member(durl, "traced", extra=["--discovery-proxy", "%s:%d" % (HOST, port)])
    m.wait_ready(30)
    assert 'discovery: using proxy "http://%s:%d"' % (HOST, port) in m.log()
    mid = member_id([m.peer_url], durl)
    q = "?quorum=false&recursive=false&sorted=false"
    reg = next(n for n in registrations(keyspace, durl) if n["key"].endswith("/" + mid))
    want = [
        ("GET", durl + "/_config/size" + q, ""),
        ("GET", durl + q, ""),
        ("PUT", durl + "/" + mid + "?prevExist=false",
         "value=" + urllib.parse.quote("traced=" + m.peer_url, safe="")),
        ("GET", "%s/%s?recursive=false&wait=true&waitIndex=%d" % (durl, mid, reg["createdIndex"]),
         ""),
        ("GET", durl + "/_config/size" + q, ""),
        ("GET", durl + q, ""),
    ]
    assert log == want


# -- errors (spec 3.2) -------------------------------------------------------------------

@pytest.mark.parametrize("fallback", ["exit", "proxy"])
def test_cluster_full(pool, keyspace, fallback):
    durl = mint(keyspace, 1)
    first = pool.member(durl, "first")
    first.wait_ready(30)
    m = pool.member(durl, "second", extra=["--discovery-fallback", fallback])
    if fallback == "proxy" and m.kind == "etcd":
        # etcd turns into a v2 proxy to the cluster
        assert m.wait_log("etcdmain: discovery cluster full, falling back to proxy"), m.log()
        assert m.running()
        return
    # etcetera has no v2 proxy mode: it says so, then exits as with --discovery-fallback exit
    assert_failed_join(m, "discovery: cluster is full")
    if fallback == "proxy":
        assert "etcetera has no v2 proxy mode" in m.log()
    # the full token was only read, not written
    assert len(registrations(keyspace, durl)) == 1


def test_same_member_with_empty_data_dir_is_a_duplicate_id(pool, keyspace):
    durl = mint(keyspace, 2)
    m = pool.member(durl, "da")
    assert m.wait_log("discovery: found 1 peer(s), waiting for 1 more"), m.log()
    m.stop()
    again = pool.member(durl, "da", ports=(m.client_port, m.peer_port))
    rc = again.wait_exit()
    log = again.log()
    assert rc == 1, log
    assert ('E | etcdmain: member "da" has previously registered with discovery service token '
            "(%s)." % durl) in log
    assert ("E | etcdmain: But etcd could not find valid cluster configuration in the given "
            "data dir (%s)." % again.data_dir) in log
    assert "I | etcdmain: Please check the given data dir path if the previous bootstrap " \
           "succeeded" in log
    assert "I | etcdmain: or use a new discovery token if the previous bootstrap failed." in log


def test_duplicate_name(pool, keyspace):
    durl = mint(keyspace, 2)
    ms = [pool.member(durl, "twin") for _ in range(2)]
    for m in ms:
        rc = m.wait_exit(30)
        log = m.log()
        assert rc == 1, log
        assert ("E | etcdmain: member with duplicated name has registered with discovery service "
                "token(%s)." % durl) in log
        assert "E | etcdmain: please check (cURL) the discovery token for more information." \
            in log
        assert ("E | etcdmain: please do not reuse the discovery token and generate a new one to "
                "bootstrap the cluster.") in log


def test_size_missing(pool, keyspace):
    mint(keyspace, 1)                       # /_etcd/registry exists, the token does not
    durl = mint(keyspace, None)
    m = pool.member(durl, "nosize")
    rc = m.wait_exit()
    log = m.log()
    assert rc == 1, log
    tok = urllib.parse.urlsplit(durl).path[len("/v2/keys"):]
    # the raw key error: the first missing path component, then the index
    assert "E | etcdmain: failed to join discovery cluster (100: Key not found (%s) [" % tok \
        in log, log
    for line in FAILED_LINES:
        assert line.format(u=durl) in log


def test_size_not_an_integer(pool, keyspace):
    durl = mint(keyspace, "three")
    assert_failed_join(pool.member(durl, "badsize"), "discovery: size key is bad")


def test_not_a_keyspace(pool, keyspace):
    durl = "%s/notkeys/%s" % (keyspace.url, uuid.uuid4().hex)
    assert_failed_join(pool.member(durl, "notks"), "discovery: bad discovery endpoint")


def test_malformed_url(pool):
    durl = "http://%zz"
    assert_failed_join(pool.member(durl, "badurl"),
                       'parse "http://%zz": invalid URL escape "%zz"')


def test_sigterm_while_waiting(pool, keyspace):
    durl = mint(keyspace, 2)
    m = pool.member(durl, "waiter")
    assert m.wait_log("waiting for 1 more"), m.log()
    m.proc.send_signal(signal.SIGTERM)
    assert m.wait_exit(10) is not None, "still running after SIGTERM"


def test_flag_conflict_with_initial_cluster(pool, keyspace):
    durl = mint(keyspace, 1)
    m = pool.member(durl, "both", start=False,
                    extra=["--initial-cluster", "both=http://127.0.0.1:1"])
    m.start(wait=False)
    rc = m.wait_exit()
    assert rc == 1
    assert "multiple discovery or bootstrap flags are set" in m.log()
    assert registrations(keyspace, durl) == []
