"""Helpers for the integration tests: server processes and HTTP clients.

A ServerProc is one etcd-compatible member (real `etcd --enable-v2` or an
etcetera binary) started with etcd's flags on free 127.0.0.1 ports, with its
data in a private temporary directory.  It runs in a process group of its own,
so stop()/kill() reach every child, and cleanup() always removes the directory.
The same data directory and ports are reused by restart(), which is what the
durability tests need.

The HTTP helpers speak plain HTTP/1.1 with the standard library only, so a test
sees exactly what went over the wire: status, every header, raw body bytes.
Nothing here knows which server it talks to; tests compare against what real
etcd 3.4 does.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

HOST = "127.0.0.1"

_used_ports = set()


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on now; never the same twice
    in one test run (the kernel may hand out a just-closed port again)."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        # 42379-42999 belongs to the conformance harness (v2diff.py), which may
        # run at the same time and picks its ports there.
        if port not in _used_ports and not 42379 <= port <= 42999:
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port found")


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if the test process itself is killed
    (e.g. by a ctest timeout), so no server outlives its test run."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


class ServerError(Exception):
    pass


class ServerProc:
    """One server member on 127.0.0.1 (see the module comment)."""

    def __init__(self, binary, kind, name="itest", workdir=None, extra_args=(),
                 ports=None, initial_cluster=None):
        self.binary = binary
        self.kind = kind                    # "etcd" or "etcetera"
        self.name = name
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="et-itest-")
        self.data_dir = os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.client_port, self.peer_port = ports or (free_port(), free_port())
        self.url = "http://%s:%d" % (HOST, self.client_port)
        self.peer_url = "http://%s:%d" % (HOST, self.peer_port)
        self.initial_cluster = initial_cluster or "%s=%s" % (name, self.peer_url)
        self.extra_args = list(extra_args)
        self.proc = None
        self.starts = 0
        self.logfile = os.path.join(self.workdir, "server.log")

    # -- process control ------------------------------------------------------

    def argv(self):
        state = "new"
        return [self.binary,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", self.initial_cluster,
                "--initial-cluster-state", state,
                "--initial-cluster-token", "et-itest",
                "--enable-v2"] + self.extra_args

    def start(self, timeout=30.0, wait=True):
        if self.running():
            raise ServerError("server already running")
        logf = open(self.logfile, "ab")
        logf.write(("\n=== start %d: %s\n" % (self.starts + 1, " ".join(self.argv()))).encode())
        logf.flush()
        try:
            env = dict(os.environ)
            env.pop("ETCDCTL_API", None)
            self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=env, preexec_fn=_die_with_parent)
        finally:
            logf.close()
        self.starts += 1
        if wait:
            self.wait_ready(timeout)
        return self

    def log(self):
        """Everything the server wrote so far (every start's output)."""
        with open(self.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self, timeout=20):
        """The exit status once the process ends, or None if it still runs after @timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=30.0):
        """Waits until /version answers and the member can serve writes
        (/health says true: a leader exists and a quorum read went through)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if not self.running():
                raise ServerError("%s exited with status %s during start-up\n%s" % (
                    self.binary, self.proc.returncode, self.log_tail()))
            try:
                r = request(self, "GET", "/version", timeout=2)
                if r.status == 200:
                    h = request(self, "GET", "/health", timeout=3)
                    if h.status == 200 and b'"true"' in h.body and self._is_us():
                        return
                    last = "health %s %r" % (h.status, h.body[:80])
                else:
                    last = "version %s" % r.status
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise ServerError("server not ready after %.0fs (last: %s)\n%s" % (
            timeout, last, self.log_tail()))

    def _is_us(self):
        """True when the member answering on our port is this process (a port
        taken by someone else would make another server answer)."""
        r = request(self, "GET", "/v2/members", timeout=3)
        if r.status != 200:
            return False
        names = [m.get("name") for m in r.json().get("members", [])
                 if self.url in (m.get("clientURLs") or [])]
        if names != [self.name]:
            raise ServerError("another server answers on %s (members: %s)\n%s" % (
                self.url, r.text.strip(), self.log_tail()))
        return self.running()

    def _signal_group(self, sig):
        # The group is signalled only while its leader is our unreaped child,
        # so the group id cannot have been reused by an unrelated process.
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL, as a crash or power loss would (for the process)."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Graceful stop; escalates to SIGKILL after timeout.  Returns the exit
        status (or None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self._signal_group(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def restart(self, sig=signal.SIGTERM, timeout=30.0):
        if sig == signal.SIGKILL:
            self.kill()
        else:
            self.stop(sig)
        return self.start(timeout)

    def cleanup(self):
        """Stops the server (SIGTERM first, so that sanitizer builds run their
        leak check), removes its directory, and raises ServerError if the log
        holds a sanitizer report."""
        findings = ""
        try:
            self.stop(signal.SIGTERM, timeout=10)
            self.kill()
            findings = self.sanitizer_report()
        finally:
            if self.own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if findings:
            raise ServerError("sanitizer report in the server log:\n" + findings)

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "WARNING: ThreadSanitizer", "runtime error:")

    def sanitizer_report(self, lines=60):
        try:
            with open(self.logfile, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        for n, line in enumerate(text):
            if any(m in line for m in self.SANITIZER_MARKERS):
                return "\n".join(text[n:n + lines])
        return ""

    def log_tail(self, lines=40):
        try:
            with open(self.logfile, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(data[-lines:])

    # -- convenience ------------------------------------------------------------

    def index(self):
        return int(request(self, "GET", "/v2/keys/").headers["x-etcd-index"])


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.header_list = headers               # [(name, value)] as received
        self.headers = {}
        for k, v in headers:
            k = k.lower()
            self.headers[k] = self.headers[k] + ", " + v if k in self.headers else v
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %r %r>" % (self.status, self.headers, self.body[:300])


def _target(server):
    if isinstance(server, str):
        u = urllib.parse.urlsplit(server)
        return u.hostname, u.port
    return HOST, server.client_port


def request(server, method, path, body=None, headers=None, form=None, timeout=10.0):
    """One request on a fresh connection.  form: dict or list of pairs sent as
    application/x-www-form-urlencoded."""
    host, port = _target(server)
    hdrs = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form)
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read() if method != "HEAD" else b""
        return Response(resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


def get(server, path, **kw):
    return request(server, "GET", path, **kw)


def key_tree(server, prefix, quorum=False, timeout=30):
    """All keys below prefix (a recursive GET): {key: (value, modifiedIndex)}; {} if absent."""
    r = get(server, "/v2/keys%s?recursive=true%s" % (prefix, "&quorum=true" if quorum else ""),
            timeout=timeout)
    if r.status == 404:
        return {}
    assert r.status == 200, r
    out = {}

    def walk(n):
        if n.get("dir"):
            for c in n.get("nodes", []):
                walk(c)
        else:
            out[n["key"]] = (n["value"], n["modifiedIndex"])
    walk(r.json()["node"])
    return out


def put(server, path, form=None, **kw):
    return request(server, "PUT", path, form=form if form is not None else {}, **kw)


def post(server, path, form=None, **kw):
    return request(server, "POST", path, form=form if form is not None else {}, **kw)


def delete(server, path, **kw):
    return request(server, "DELETE", path, **kw)


def wait_until(pred, timeout, interval=0.02):
    """Polls pred() until it returns a true value; returns (value, elapsed)."""
    t0 = time.time()
    while True:
        v = pred()
        if v:
            return v, time.time() - t0
        if time.time() - t0 > timeout:
            return v, time.time() - t0
        time.sleep(interval)


def raw_exchange(server, data, want_responses=1, timeout=5.0):
    """Sends raw bytes on one connection and reads until want_responses complete
    HTTP responses have arrived (or EOF).  Returns (responses, leftover) where each
    response is (status_line, headers_dict, body_bytes)."""
    host, port = _target(server)
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        out = []
        deadline = time.time() + timeout
        while len(out) < want_responses and time.time() < deadline:
            parsed, rest = parse_responses(buf)
            if len(parsed) >= want_responses:
                out, buf = parsed, rest
                break
            chunk = s.recv(65536)
            if not chunk:
                out, buf = parse_responses(buf)
                break
            buf += chunk
        else:
            if not out:
                out, buf = parse_responses(buf)
        return out, buf
    finally:
        s.close()


def parse_responses(buf):
    """Parses as many complete HTTP/1.1 responses (Content-Length or chunked)
    as buf holds.  Returns (list of (status_line, headers, body, raw_chunks)),
    leftover bytes)."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1").split("\r\n")
        status_line = head[0]
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        rest = buf[end + 4:]
        chunks = None
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            chunks = []
            pos = 0
            complete = False
            while True:
                nl = rest.find(b"\r\n", pos)
                if nl < 0:
                    break
                size = int(rest[pos:nl].split(b";")[0], 16)
                if len(rest) < nl + 2 + size + 2:
                    break
                data = rest[nl + 2:nl + 2 + size]
                if rest[nl + 2 + size:nl + 4 + size] != b"\r\n":
                    raise ValueError("bad chunk terminator")
                pos = nl + 4 + size
                if size == 0:
                    complete = True
                    break
                chunks.append(data)
                body += data
            if not complete:
                return out, buf
            rest = rest[pos:]
        else:
            n = int(headers.get("content-length", "0"))
            if len(rest) < n:
                return out, buf
            body = rest[:n]
            rest = rest[n:]
        out.append((status_line, headers, body, chunks))
        buf = rest


class StreamReader:
    """A watch response read incrementally from a raw socket, so that tests can
    check the chunked framing (one JSON object + LF per chunk)."""

    def __init__(self, server, path, timeout=10.0):
        host, port = _target(server)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port))
                          .encode())
        self.buf = b""
        self.status_line = None
        self.headers = {}
        self._read_head()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.find(b"\r\n\r\n")
        head = self.buf[:end].decode("latin-1").split("\r\n")
        self.status_line = head[0]
        for line in head[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.buf = self.buf[end + 4:]

    def next_chunk(self, timeout=5.0):
        """Returns the next chunk's data (b"" for the terminating chunk)."""
        self.sock.settimeout(timeout)
        while True:
            nl = self.buf.find(b"\r\n")
            if nl >= 0:
                size = int(self.buf[:nl].split(b";")[0], 16)
                if len(self.buf) >= nl + 2 + size + 2:
                    data = self.buf[nl + 2:nl + 2 + size]
                    assert self.buf[nl + 2 + size:nl + 4 + size] == b"\r\n", \
                        "chunk not terminated by CRLF"
                    self.buf = self.buf[nl + 4 + size:]
                    return data
            self._fill()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(argv, timeout=20, env=None, input_data=None):
    """Runs a client program; returns CompletedProcess with text output."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e,
                          input=input_data)


def curl(*args, timeout=20):
    """curl -sS with the given arguments; returns CompletedProcess."""
    return run(["curl", "-sS", "--max-time", str(timeout)] + list(args), timeout=timeout + 5)


def etcdctl(server, *args, timeout=20, env=None):
    e = {"ETCDCTL_API": "2"}
    if env:
        e.update(env)
    return run(["etcdctl", "--endpoints", server.url] + list(args), timeout=timeout, env=e)
