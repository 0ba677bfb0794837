"""HTTP/1.1 connection handling: keep-alive, pipelining (several requests in
one write, answered in order on the same connection), Connection: close,
HTTP/1.0, Expect: 100-continue from curl, many concurrent connections, and a
second server started on a port that is taken.
"""

import http.client
import json
import os
import socket
import threading

from itestlib import curl, free_port, get, put, raw_exchange


def req(method, path, body=None, extra=""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    if body is not None:
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append("Content-Length: %d" % len(body))
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n" + (body or "")).encode()


def test_keep_alive(server, uniq):
    conn = http.client.HTTPConnection("127.0.0.1", server.client_port, timeout=10)
    try:
        conn.request("PUT", "/v2/keys%s/ka" % uniq, body="value=0",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        sock = conn.sock
        for i in range(200):
            conn.request("GET", "/v2/keys%s/ka" % uniq if i % 2 else "/v2/keys%s/nope" % uniq)
            r = conn.getresponse()
            body = r.read()
            assert r.status == (200 if i % 2 else 404)
            json.loads(body)
            assert conn.sock is sock, "server closed a keep-alive connection"
            assert r.getheader("connection", "").lower() != "close"
    finally:
        conn.close()


def test_pipelining(server, uniq):
    data = (req("PUT", "/v2/keys%s/p" % uniq, "value=one")
            + req("GET", "/v2/keys%s/p" % uniq)
            + req("GET", "/v2/keys%s/missing" % uniq))
    resps, rest = raw_exchange(server, data, 3)
    assert len(resps) == 3, resps
    assert rest == b""
    s1, h1, b1, _ = resps[0]
    assert s1.startswith("HTTP/1.1 201")
    assert json.loads(b1)["action"] == "set"
    s2, h2, b2, _ = resps[1]
    assert s2.startswith("HTTP/1.1 200")
    assert json.loads(b2)["node"]["value"] == "one"
    s3, h3, b3, _ = resps[2]
    assert s3.startswith("HTTP/1.1 404")
    assert json.loads(b3)["errorCode"] == 100


def test_pipelining_with_watch_and_errors(server, uniq):
    i = put(server, "/v2/keys%s/w" % uniq, {"value": "v"}).json()["node"]["modifiedIndex"]
    data = (req("GET", "/v2/keys%s/w?wait=true&waitIndex=%d" % (uniq, i))
            + req("PATCH", "/v2/keys%s/w" % uniq)
            + req("GET", "/v2/keys%s/w?recursive=bad" % uniq)
            + req("DELETE", "/v2/keys%s/w" % uniq)
            + req("GET", "/version"))
    resps, rest = raw_exchange(server, data, 5)
    assert [r[0].split()[1] for r in resps] == ["200", "405", "400", "200", "200"]
    assert json.loads(resps[0][2])["node"]["value"] == "v"
    assert json.loads(resps[3][2])["action"] == "delete"
    assert "etcdserver" in json.loads(resps[4][2])


def test_pipelining_many_writes(server, uniq):
    data = b"".join(req("PUT", "/v2/keys%s/m%d" % (uniq, n), "value=%d" % n)
                    for n in range(50))
    resps, _ = raw_exchange(server, data, 50, timeout=15)
    assert len(resps) == 50
    idx = [json.loads(b)["node"]["modifiedIndex"] for _, _, b, _ in resps]
    assert idx == sorted(idx) and len(set(idx)) == 50
    for n in range(50):
        assert json.loads(resps[n][2])["node"]["key"] == "%s/m%d" % (uniq, n)


def _read_until_close(sock, timeout=5):
    sock.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return buf, False
        if not chunk:
            return buf, True
        buf += chunk


def test_connection_close(server):
    s = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    try:
        s.sendall(req("GET", "/v2/keys/", extra="Connection: close"))
        buf, closed = _read_until_close(s)
        assert buf.startswith(b"HTTP/1.1 200")
        assert closed, "server kept the connection open after Connection: close"
    finally:
        s.close()


def test_http10(server):
    s = socket.create_connection(("127.0.0.1", server.client_port), timeout=5)
    try:
        s.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        buf, closed = _read_until_close(s)
        assert buf.split(b" ")[1] == b"200"
        assert b"etcdserver" in buf
        assert closed
    finally:
        s.close()


def test_expect_100_continue(server, uniq, tmp_path):
    f = tmp_path / "body"
    f.write_bytes(b"value=" + b"x" * (2 * 1024 * 1024))
    r = curl("-H", "Expect: 100-continue", "-XPUT", "--data-binary", "@%s" % f,
             "-H", "Content-Type: application/x-www-form-urlencoded",
             server.url + "/v2/keys%s/big" % uniq)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["node"]["key"] == uniq + "/big"
    assert len(get(server, "/v2/keys%s/big" % uniq).json()["node"]["value"]) == 2 * 1024 * 1024


def test_concurrent_connections(server, uniq):
    errors = []

    def worker(n):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.client_port, timeout=20)
            for k in range(20):
                conn.request("PUT", "/v2/keys%s/c%d" % (uniq, n), body="value=%d" % k,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                r.read()
                if r.status not in (200, 201):
                    errors.append(r.status)
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    nodes = get(server, "/v2/keys%s" % uniq).json()["node"]["nodes"]
    assert len(nodes) == 32 and all(n["value"] == "19" for n in nodes)


def test_port_in_use_ends_the_start(server, make_server):
    """A server given a client port that another one listens on exits at once
    with etcd's error, before it writes anything to its data directory; the
    first server keeps its port and its clients."""
    second = make_server(start=False, name="second", ports=(server.client_port, free_port()))
    second.start(wait=False)
    assert second.wait_exit(10) == 1
    assert "listen tcp 127.0.0.1:%d: bind: address already in use" % server.client_port \
        in second.log()
    assert os.listdir(second.data_dir) == []
    r = get(server, "/v2/members")
    assert [m["name"] for m in r.json()["members"]] == [server.name]


def test_client_and_peer_urls_on_one_port(make_server):
    """Client and peer listeners given the same address: the second one cannot
    bind, and the start ends with etcd's error instead of two services sharing
    one port."""
    port = free_port()
    both = make_server(start=False, name="both", ports=(port, port))
    both.start(wait=False)
    assert both.wait_exit(10) == 1
    assert "listen tcp 127.0.0.1:%d: bind: address already in use" % port in both.log()
