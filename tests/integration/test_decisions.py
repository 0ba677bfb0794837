"""etcetera's documented deviations from etcd 3.4 (DESIGN.md "Decisions",
spec section 13).  Real etcd behaves differently here by design, so these
tests run against etcetera only.
"""

import json
import urllib.parse

import pytest

from itestlib import StreamReader, delete, get, put, request


@pytest.fixture(autouse=True)
def _etcetera_only(server_kind):
    if server_kind != "etcetera":
        pytest.skip("etcetera's deviation from etcd 3.4")


def _event(chunk):
    assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1, chunk
    return json.loads(chunk)


def test_stream_from_history_keeps_streaming(server, uniq):
    """Q4: after the historical first event, later events keep coming."""
    i = put(server, "/v2/keys%s/k" % uniq, {"value": "old"}).json()["node"]["modifiedIndex"]
    put(server, "/v2/keys%s/k" % uniq, {"value": "mid"})
    s = StreamReader(server, "/v2/keys%s/k?wait=true&stream=true&waitIndex=%d" % (uniq, i))
    try:
        assert _event(s.next_chunk())["node"]["value"] == "old"
        assert _event(s.next_chunk())["node"]["value"] == "mid"
        new = put(server, "/v2/keys%s/k" % uniq, {"value": "new"}).json()
        assert _event(s.next_chunk()) == new
    finally:
        s.close()


def test_stream_delete_delivered_once(server, uniq):
    """Q15: a stream watcher exactly on a key gets its delete once."""
    put(server, "/v2/keys%s/d" % uniq, {"value": "1"})
    s = StreamReader(server, "/v2/keys%s/d?wait=true&stream=true" % uniq)
    try:
        d = delete(server, "/v2/keys%s/d" % uniq).json()
        n = put(server, "/v2/keys%s/d" % uniq, {"value": "2"}).json()
        assert _event(s.next_chunk()) == d
        assert _event(s.next_chunk()) == n, "delete event delivered twice"
    finally:
        s.close()


def test_long_request_line(server, uniq):
    """Q12: request lines longer than 4 KiB are accepted."""
    name = "k" * 8000
    r = put(server, "/v2/keys%s/%s" % (uniq, name), {"value": "long"})
    assert r.status == 201
    assert get(server, "/v2/keys%s/%s" % (uniq, name)).json()["node"]["value"] == "long"
    q = "&".join("x%d=%d" % (n, n) for n in range(1500))
    r = get(server, "/v2/keys%s/%s?%s" % (uniq, name, q))
    assert r.status == 200


def test_etcd_machines_directory(server):
    """/_etcd/machines: hidden, read-only, one key per member."""
    r = get(server, "/v2/keys/_etcd/machines")
    assert r.status == 200
    nodes = r.json()["node"]["nodes"]
    assert len(nodes) == 1
    fields = urllib.parse.parse_qs(nodes[0]["value"])
    assert fields == {"etcd": [server.url], "raft": [server.peer_url]}
    root = get(server, "/v2/keys/").json()["node"].get("nodes", [])
    assert all(not n["key"].startswith("/_etcd") for n in root)
    for method, path in (("PUT", "/v2/keys/_etcd/machines/x"), ("PUT", "/v2/keys/_etcd/config"),
                         ("DELETE", "/v2/keys/_etcd/machines?recursive=true"),
                         ("POST", "/v2/keys/_etcd/machines")):
        w = request(server, method, path, body="value=1",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= w.status < 500, (method, path, w)
        assert "errorCode" in w.json()
    assert len(get(server, "/v2/keys/_etcd/machines").json()["node"]["nodes"]) == 1


def test_event_history_flag(make_server):
    """--event-history N keeps N events for waitIndex catch-up."""
    s = make_server(extra_args=["--event-history", "3000"])
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", s.client_port, timeout=30)
    first = None
    for n in range(2000):
        conn.request("PUT", "/v2/keys/eh/k", body="value=%d" % n,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        b = json.loads(r.read())
        if first is None:
            first = b["node"]["modifiedIndex"]
    conn.close()
    r = get(s, "/v2/keys/eh/k?wait=true&waitIndex=%d" % first, timeout=5)
    assert r.status == 200, r
    assert r.json()["node"]["value"] == "0"


def test_version_fields(server):
    b = get(server, "/version").json()
    assert b["etcdserver"] == "2.3.8" and b["etcdcluster"] == "2.3.0"
    assert isinstance(b.get("etcetera"), str) and b["etcetera"]


def test_discovery_keyspace_under_etcd_registry(server):
    """spec/discovery.md: /_etcd/registry/<token> is an ordinary, writable keyspace."""
    r = request(server, "PUT", "/v2/keys/_etcd/registry/tok1/_config/size", body="value=3",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 201
    r = request(server, "PUT", "/v2/keys/_etcd/registry/tok1/3b984eaff4e80fb?prevExist=false",
                body="value=m1%3Dhttp%3A%2F%2F127.0.0.1%3A2380",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 201
    nodes = get(server, "/v2/keys/_etcd/registry/tok1?recursive=true").json()["node"]["nodes"]
    assert [n["key"] for n in nodes] == ["/_etcd/registry/tok1/3b984eaff4e80fb"]
    assert get(server, "/v2/keys/_etcd/registry/tok1/_config/size").json()["node"]["value"] == "3"
