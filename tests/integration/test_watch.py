"""Watches: long polls (`?wait=true`), streams (`&stream=true`), waitIndex
history catch-up, the 401 EventIndexCleared recovery recipe, and the chunked
framing of watch responses on the wire.

etcd 3.4 quirks that etcetera deliberately changes (spec section 13) are not
asserted either way: a stream whose first event comes from history may or may
not continue (Q4), and a stream watcher on a deleted key may get the event
once or twice (Q15).
"""

import http.client
import json
import re
import socket
import threading
import time

import pytest

from itestlib import Response, StreamReader, delete, get, post, put, raw_exchange, request


def K(prefix, *parts):
    return "/v2/keys" + prefix + "".join("/" + p for p in parts)


class Poll:
    """A long poll.  The constructor returns once the response headers are in:
    servers send them as soon as the watch is registered (before any event),
    so a write made after that is guaranteed to be seen by the watch.  The body
    (the event) is read by a thread."""

    def __init__(self, server, path, timeout=10):
        self.result = None
        self.error = None
        self.conn = http.client.HTTPConnection("127.0.0.1", server.client_port, timeout=5)
        self.conn.request("GET", path)
        try:
            self.resp = self.conn.getresponse()
        except socket.timeout:
            self.conn.close()
            pytest.fail("watch %s: no response headers within 5 s (they must be sent when "
                        "the watch is registered, before any event)" % path)
        self.conn.sock.settimeout(timeout)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            body = self.resp.read()
            self.result = Response(self.resp.status, self.resp.reason,
                                   self.resp.getheaders(), body)
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.conn.close()

    def wait(self, timeout=10):
        self.t.join(timeout)
        assert not self.t.is_alive(), "watch did not return"
        if self.error:
            raise self.error
        return self.result

    def pending(self):
        return self.t.is_alive()


def test_long_poll_set(server, uniq):
    put(server, K(uniq, "w"), {"value": "0"})
    idx = server.index()
    p = Poll(server, K(uniq, "w") + "?wait=true")
    assert p.pending()
    w = put(server, K(uniq, "w"), {"value": "1"}).json()
    r = p.wait()
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers.get("transfer-encoding") == "chunked"
    # X-Etcd-Index is the index when the watch was registered
    assert int(r.headers["x-etcd-index"]) == idx
    assert "x-etcd-cluster-id" in r.headers
    assert r.body.endswith(b"}\n") and r.body.count(b"\n") == 1
    assert r.json() == w


@pytest.mark.parametrize("op,action", [
    (lambda s, u: put(s, K(u, "k") + "?prevExist=true", {"value": "2"}), "update"),
    (lambda s, u: put(s, K(u, "k") + "?prevValue=1", {"value": "2"}), "compareAndSwap"),
    (lambda s, u: delete(s, K(u, "k")), "delete"),
    (lambda s, u: delete(s, K(u, "k") + "?prevValue=1"), "compareAndDelete"),
])
def test_long_poll_actions(server, uniq, op, action):
    put(server, K(uniq, "k"), {"value": "1"})
    p = Poll(server, K(uniq, "k") + "?wait=true")
    op(server, uniq)
    b = p.wait().json()
    assert b["action"] == action
    assert b["node"]["key"] == uniq + "/k"
    assert b["prevNode"]["value"] == "1"


def test_watch_create_of_missing_key(server, uniq):
    p = Poll(server, K(uniq, "new") + "?wait=true")
    put(server, K(uniq, "new"), {"value": "v"})
    b = p.wait().json()
    assert b["action"] == "set" and b["node"]["value"] == "v"


def test_recursive_watch(server, uniq):
    p = Poll(server, K(uniq) + "?wait=true&recursive=true")
    put(server, K(uniq, "d", "e", "f"), {"value": "deep"})
    b = p.wait().json()
    assert b["node"]["key"] == uniq + "/d/e/f"
    # in-order create seen by a recursive watch on the parent
    p = Poll(server, K(uniq, "q") + "?wait=true&recursive=true")
    c = post(server, K(uniq, "q"), {"value": "job"}).json()
    assert p.wait().json() == c


def test_non_matching_events_do_not_wake(server, uniq):
    put(server, K(uniq, "wk"), {"value": "1"})
    put(server, K(uniq, "wd", "c"), {"value": "1"})
    p1 = Poll(server, K(uniq, "wk") + "?wait=true")
    p2 = Poll(server, K(uniq, "wd") + "?wait=true")          # not recursive
    p3 = Poll(server, K(uniq, "fo") + "?wait=true&recursive=true")
    put(server, K(uniq, "other"), {"value": "x"})
    put(server, K(uniq, "wd", "c"), {"value": "2"})
    put(server, K(uniq, "foo"), {"value": "not below /fo"})
    time.sleep(0.5)
    assert p1.pending() and p2.pending() and p3.pending()
    put(server, K(uniq, "wk"), {"value": "2"})
    put(server, K(uniq, "wd") + "?dir=true&prevExist=true&ttl=100")
    put(server, K(uniq, "fo", "bar"), {"value": "1"})
    assert p1.wait().json()["node"]["value"] == "2"
    b2 = p2.wait().json()
    assert b2["action"] == "update" and b2["node"]["dir"] is True
    assert p3.wait().json()["node"]["key"] == uniq + "/fo/bar"


def test_watch_woken_by_ancestor_delete(server, uniq):
    put(server, K(uniq, "w2", "sub", "key"), {"value": "v"})
    p = Poll(server, K(uniq, "w2", "sub", "key") + "?wait=true")
    delete(server, K(uniq, "w2") + "?recursive=true")
    b = p.wait().json()
    assert b["action"] == "delete"
    assert b["node"]["key"] == uniq + "/w2" and b["node"]["dir"] is True


def test_hidden_not_delivered_live(server, uniq):
    put(server, K(uniq, "hw", "seed"), {"value": "1"})
    p = Poll(server, K(uniq, "hw") + "?wait=true&recursive=true")
    put(server, K(uniq, "hw", "_h"), {"value": "hidden"})
    put(server, K(uniq, "hw", "_hd", "inner"), {"value": "hidden too"})
    time.sleep(0.4)
    assert p.pending(), "a hidden key woke a recursive watcher"
    # a watcher exactly on the hidden key sees it
    q = Poll(server, K(uniq, "hw", "_h") + "?wait=true")
    put(server, K(uniq, "hw", "_h"), {"value": "again"})
    assert q.wait().json()["node"]["value"] == "again"
    put(server, K(uniq, "hw", "visible"), {"value": "v"})
    assert p.wait().json()["node"]["key"] == uniq + "/hw/visible"


def test_wait_index_history(server, uniq):
    a = put(server, K(uniq, "h"), {"value": "1"}).json()["node"]["modifiedIndex"]
    put(server, K(uniq, "h"), {"value": "2"})
    put(server, K(uniq, "other"), {"value": "x"})
    t0 = time.time()
    r = get(server, K(uniq, "h") + "?wait=true&waitIndex=%d" % a, timeout=5)
    assert time.time() - t0 < 2, "history watch did not answer immediately"
    b = r.json()
    assert b["node"]["modifiedIndex"] == a and b["node"]["value"] == "1"
    r = get(server, K(uniq, "h") + "?wait=true&waitIndex=%d" % (a + 1), timeout=5)
    assert r.json()["node"]["value"] == "2"
    # waitIndex without wait is a plain get; waitIndex=0 means "from now"
    assert get(server, K(uniq, "h") + "?waitIndex=1").json()["action"] == "get"
    p = Poll(server, K(uniq, "h") + "?wait=true&waitIndex=0")
    put(server, K(uniq, "h"), {"value": "3"})
    assert p.wait().json()["node"]["value"] == "3"
    # a future waitIndex blocks until that index is reached
    cur = server.index()
    p = Poll(server, K(uniq) + "?wait=true&recursive=true&waitIndex=%d" % (cur + 2))
    put(server, K(uniq, "f1"), {"value": "1"})
    time.sleep(0.3)
    assert p.pending(), "watch fired for an index below waitIndex"
    put(server, K(uniq, "f2"), {"value": "2"})
    assert p.wait().json()["node"]["key"] == uniq + "/f2"


def test_expire_event(server, uniq):
    r = put(server, K(uniq, "ex"), {"value": "v", "ttl": "1"}).json()
    p = Poll(server, K(uniq, "ex") + "?wait=true&waitIndex=%d" % (r["node"]["modifiedIndex"] + 1),
             timeout=6)
    b = p.wait(timeout=6).json()
    assert b["action"] == "expire"
    assert b["node"]["key"] == uniq + "/ex"
    assert "value" not in b["node"]
    assert b["node"]["createdIndex"] == r["node"]["createdIndex"]
    assert b["prevNode"]["value"] == "v"


def test_refresh_not_delivered(server, uniq):
    put(server, K(uniq, "r"), {"value": "v", "ttl": "60"})
    p = Poll(server, K(uniq, "r") + "?wait=true")
    ref = put(server, K(uniq, "r") + "?refresh=true&prevExist=true&ttl=100").json()
    time.sleep(0.4)
    assert p.pending(), "a TTL refresh woke a watcher"
    put(server, K(uniq, "r"), {"value": "after"})
    assert p.wait().json()["node"]["value"] == "after"
    # nor is it found by a history scan
    ri = ref["node"]["modifiedIndex"]
    b = get(server, K(uniq, "r") + "?wait=true&waitIndex=%d" % ri, timeout=5).json()
    assert b["action"] == "set" and b["node"]["value"] == "after"


def test_keepalive_after_long_poll(server, uniq):
    """A finished long poll leaves the connection usable."""
    conn = http.client.HTTPConnection("127.0.0.1", server.client_port, timeout=10)
    try:
        idx = put(server, K(uniq, "ka"), {"value": "1"}).json()["node"]["modifiedIndex"]
        conn.request("GET", K(uniq, "ka") + "?wait=true&waitIndex=%d" % idx)
        r = conn.getresponse()
        assert json.loads(r.read())["node"]["value"] == "1"
        conn.request("GET", K(uniq, "ka"))
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["action"] == "get"
    finally:
        conn.close()


def _watchers(server):
    return get(server, "/v2/stats/store").json()["watchers"]


def _wait_watchers(server, want, timeout=5):
    deadline = time.monotonic() + timeout
    seen = _watchers(server)
    while seen != want and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = _watchers(server)
    return seen


def test_parked_polls_on_one_keepalive_connection(server, uniq):
    """Long polls parked one after another on one connection (with extra request headers) each
    get their event, and the connection then serves a plain read."""
    conn = http.client.HTTPConnection("127.0.0.1", server.client_port, timeout=10)
    hdrs = {"X-Custom-Header": "v" * 300, "Origin": "http://example.test", "Accept": "*/*"}
    try:
        for i in range(3):
            conn.request("GET", K(uniq, "kp") + "?wait=true&x=" + "q" * 200, headers=hdrs)
            r = conn.getresponse()  # headers arrive once the watch is parked
            assert r.status == 200
            put(server, K(uniq, "kp"), {"value": "v%d" % i})
            ev = json.loads(r.read())
            assert ev["action"] == "set" and ev["node"]["value"] == "v%d" % i
        conn.request("GET", K(uniq, "kp"), headers=hdrs)
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["node"]["value"] == "v2"
    finally:
        conn.close()


def test_request_pipelined_behind_parked_poll(server, uniq):
    """A request the client sends while its long poll is parked is answered after the poll's
    event, in order, on the same connection."""
    put(server, K(uniq, "pl"), {"value": "0"})
    s = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    try:
        s.sendall(("GET %s?wait=true HTTP/1.1\r\nHost: x\r\nX-A: %s\r\n\r\n"
                   % (K(uniq, "pl"), "a" * 100)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        assert buf.startswith(b"HTTP/1.1 200")
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % K(uniq, "pl")).encode())
        time.sleep(0.3)  # the server reads it while the poll is still parked
        put(server, K(uniq, "pl"), {"value": "fired"})
        while True:
            m = re.search(rb"\r\n0\r\n\r\n(HTTP/1.1 200 OK\r\n.*?\r\n\r\n)", buf, re.S)
            if m:
                cl = int(re.search(rb"(?i)content-length: (\d+)", m.group(1)).group(1))
                if len(buf) >= m.end() + cl:
                    break
            chunk = s.recv(65536)
            assert chunk, "connection closed early: %r" % buf
            buf += chunk
        head, first = buf.split(b"\r\n\r\n", 1)
        assert b'"value":"fired"' in first.split(b"\r\n0\r\n\r\n")[0]
        body = json.loads(buf[m.end():m.end() + cl])
        assert body["action"] == "get" and body["node"]["value"] == "fired"
    finally:
        s.close()


def test_http10_parked_poll(server, uniq):
    """An HTTP/1.0 long poll parks and gets its event (no chunked framing); one whose client
    leaves is released."""
    base = _watchers(server)
    req = ("GET %s?wait=true HTTP/1.0\r\nX-B: %s\r\n\r\n" % (K(uniq, "h10"), "b" * 50)).encode()
    a = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    b = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    try:
        a.sendall(req)
        b.sendall(req)
        assert _wait_watchers(server, base + 2) == base + 2
        b.close()
        assert _wait_watchers(server, base + 1) == base + 1
        put(server, K(uniq, "h10"), {"value": "ten"})
        buf = b""
        while True:
            chunk = a.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
        assert b"chunked" not in head.lower()
        ev = json.loads(body)
        assert ev["action"] == "set" and ev["node"]["value"] == "ten"
    finally:
        a.close()
        b.close()
    assert _wait_watchers(server, base) == base


def test_http10_poll_flushes_headers_and_closes(server, uniq):
    """An HTTP/1.0 long poll gets its headers at once, as an HTTP/1.1 one does; its body ends
    with the connection (no length, no chunks), also when the client asked for keep-alive."""
    key = K(uniq, "h10ka")
    s = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    try:
        s.sendall(("GET %s?wait=true HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % key).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)  # before any event: the headers alone
            assert chunk, "closed before the headers"
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        assert b" 200 " in head.split(b"\r\n")[0] and body == b""
        assert b"content-length" not in head.lower()
        put(server, key, {"value": "ka"})
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break  # closed by the server: the end of the body
            body += chunk
        ev = json.loads(body)
        assert ev["action"] == "set" and ev["node"]["value"] == "ka"
    finally:
        s.close()


def test_client_hangup_releases_parked_polls(server, uniq):
    """A client that leaves while its long poll is parked is noticed: the watcher goes away
    (also on a connection whose earlier poll already completed)."""
    base = _watchers(server)
    req = ("GET %s?wait=true HTTP/1.1\r\nHost: x\r\n\r\n" % K(uniq, "hup")).encode()
    socks = [socket.create_connection(("127.0.0.1", server.client_port)) for _ in range(3)]
    try:
        for s in socks:
            s.sendall(req)
        assert _wait_watchers(server, base + 3) == base + 3
        put(server, K(uniq, "hup"), {"value": "1"})  # completes all three
        for s in socks:
            s.settimeout(5)
            buf = b""
            while b"\r\n0\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                assert chunk, "connection closed before the event"
                buf += chunk
            s.sendall(req)  # park again on the same connection
        assert _wait_watchers(server, base + 3) == base + 3
        socks[0].close()
        socks[1].shutdown(socket.SHUT_WR)  # a half-close counts as leaving, as in etcd
        assert _wait_watchers(server, base + 1) == base + 1
    finally:
        for s in socks:
            s.close()
    assert _wait_watchers(server, base) == base


# ---------------------------------------------------------------------------
# streams and framing
# ---------------------------------------------------------------------------

def _event(chunk):
    assert chunk.endswith(b"\n"), "a stream chunk must be one JSON object and a LF"
    assert chunk.count(b"\n") == 1, "a stream chunk must hold exactly one event: %r" % chunk
    return json.loads(chunk)


def test_stream_watch_framing(server, uniq):
    s = StreamReader(server, K(uniq, "s") + "?wait=true&stream=true")
    try:
        assert s.status_line.startswith("HTTP/1.1 200")
        assert s.headers.get("transfer-encoding") == "chunked"
        assert s.headers.get("content-type") == "application/json"
        sent = []
        for v in ("1", "2", "3"):
            sent.append(put(server, K(uniq, "s"), {"value": v}).json())
            put(server, K(uniq, "s2"), {"value": v})      # not watched
        got = [_event(s.next_chunk()) for _ in sent]
        assert got == sent
    finally:
        s.close()


def test_stream_recursive(server, uniq):
    s = StreamReader(server, K(uniq) + "?wait=true&stream=true&recursive=true")
    try:
        a = put(server, K(uniq, "a"), {"value": "1"}).json()
        b = post(server, K(uniq, "q"), {"value": "j"}).json()
        c = delete(server, K(uniq, "a")).json()
        assert [_event(s.next_chunk()) for _ in range(3)] == [a, b, c]
    finally:
        s.close()


def test_stream_delete_once_or_twice(server, uniq):
    put(server, K(uniq, "sk"), {"value": "1"})
    s = StreamReader(server, K(uniq, "sk") + "?wait=true&stream=true")
    try:
        d = delete(server, K(uniq, "sk")).json()
        assert _event(s.next_chunk()) == d
        # 3.4 repeats it (Q15); etcetera sends it once.  Either way the next
        # distinct event must follow.
        n = put(server, K(uniq, "sk"), {"value": "2"}).json()
        e = _event(s.next_chunk())
        if e == d:
            e = _event(s.next_chunk())
        assert e == n
    finally:
        s.close()


def test_stream_from_history_first_event(server, uniq):
    i = put(server, K(uniq, "sh"), {"value": "old"}).json()["node"]["modifiedIndex"]
    s = StreamReader(server, K(uniq, "sh") + "?wait=true&stream=true&waitIndex=%d" % i)
    try:
        assert _event(s.next_chunk())["node"]["value"] == "old"
    finally:
        s.close()


def test_long_poll_chunked_terminated(server, uniq):
    i = put(server, K(uniq, "lp"), {"value": "x"}).json()["node"]["modifiedIndex"]
    req = ("GET %s?wait=true&waitIndex=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (K(uniq, "lp"), i))
    resps, rest = raw_exchange(server, req.encode(), 1)
    assert len(resps) == 1
    status, headers, body, chunks = resps[0]
    assert status.startswith("HTTP/1.1 200")
    assert headers.get("transfer-encoding") == "chunked"
    assert b"".join(chunks) == body and body.endswith(b"\n")
    assert json.loads(body)["node"]["value"] == "x"
    assert rest == b""


# ---------------------------------------------------------------------------
# 401 EventIndexCleared
# ---------------------------------------------------------------------------

def test_event_index_cleared_and_recovery(fresh_server):
    s = fresh_server
    conn = http.client.HTTPConnection("127.0.0.1", s.client_port, timeout=30)
    try:
        for n in range(1100):
            conn.request("PUT", "/v2/keys/hist/k%d" % (n % 7), body="value=%d" % n,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            r.read()
            assert r.status in (200, 201)
    finally:
        conn.close()
    idx = s.index()
    r = get(s, "/v2/keys/hist/k1?wait=true&waitIndex=1", timeout=5)
    assert r.status == 400
    b = r.json()
    assert b["errorCode"] == 401
    assert b["message"] == "The event in requested index is outdated and cleared"
    assert b["index"] == idx == int(r.headers["x-etcd-index"])
    m = re.fullmatch(r"the requested history has been cleared \[(\d+)/1\]", b["cause"])
    assert m, b["cause"]
    oldest = int(m.group(1))
    assert oldest == idx - 999, "history should hold the last 1000 events"
    ok = get(s, "/v2/keys/hist?wait=true&recursive=true&waitIndex=%d" % oldest, timeout=5)
    assert ok.status == 200 and ok.json()["node"]["modifiedIndex"] == oldest
    bad = get(s, "/v2/keys/hist?wait=true&recursive=true&waitIndex=%d" % (oldest - 1))
    assert bad.status == 400 and bad.json()["errorCode"] == 401
    # the recovery recipe: GET, then watch from X-Etcd-Index + 1
    g = get(s, "/v2/keys/hist/k1")
    nxt = int(g.headers["x-etcd-index"]) + 1
    p = Poll(s, "/v2/keys/hist/k1?wait=true&waitIndex=%d" % nxt)
    put(s, "/v2/keys/hist/k2", {"value": "not this"})
    time.sleep(0.3)
    assert p.pending()
    w = put(s, "/v2/keys/hist/k1", {"value": "recovered"}).json()
    assert p.wait().json() == w
