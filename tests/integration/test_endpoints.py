"""Cluster endpoints of a single member: /version, /health, /v2/stats/*,
/v2/members, /v2/machines, their method checks, and the store counters
(including `watchers`, which must drop when a watching client goes away).
"""

import json
import re
import socket
import time

import pytest

from itestlib import delete, get, put, request, wait_until

HEX = re.compile(r"^[0-9a-f]{1,16}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def test_version(server, server_kind):
    r = get(server, "/version")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert not r.body.endswith(b"\n")
    b = r.json()
    assert list(b)[:2] == ["etcdserver", "etcdcluster"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", b["etcdserver"])
    assert re.fullmatch(r"\d+\.\d+\.0", b["etcdcluster"])
    if server_kind == "etcetera":
        # DESIGN.md "Decisions": a v2-only server reports 2.3
        assert b["etcdserver"] == "2.3.8" and b["etcdcluster"] == "2.3.0"
        assert "etcetera" in b


def test_health(server):
    r = get(server, "/health")
    assert r.status == 200
    assert r.body == b'{"health":"true"}'
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("method,path,allow", [
    ("HEAD", "/version", "GET"),
    ("POST", "/version", "GET"),
    ("HEAD", "/health", "GET"),
    ("PUT", "/health", "GET"),
    ("POST", "/v2/stats/self", "GET"),
    ("HEAD", "/v2/stats/store", "GET"),
    ("DELETE", "/v2/stats/leader", "GET"),
    ("HEAD", "/v2/members", "GET,POST,DELETE,PUT"),
    ("PATCH", "/v2/members", "GET,POST,DELETE,PUT"),
    ("POST", "/v2/machines", "GET,HEAD"),
])
def test_endpoint_methods(server, method, path, allow):
    r = request(server, method, path)
    assert r.status == 405
    got = sorted(p.strip() for p in r.headers["allow"].split(","))
    assert got == sorted(allow.split(","))
    if method != "HEAD":
        assert r.body == b"Method Not Allowed\n"


def _member(server):
    b = get(server, "/v2/members").json()
    assert len(b["members"]) == 1
    return b["members"][0]


def test_members(server):
    r = get(server, "/v2/members")
    assert r.status == 200
    assert r.headers["content-type"] == "application/json"
    assert HEX.match(r.headers["x-etcd-cluster-id"])
    assert r.body.endswith(b"\n")
    m = r.json()["members"][0]
    assert list(m) == ["id", "name", "peerURLs", "clientURLs"]
    assert HEX.match(m["id"])
    assert m["name"] == server.name
    assert m["peerURLs"] == [server.peer_url]
    assert m["clientURLs"] == [server.url]
    assert get(server, "/v2/members/").json() == r.json()
    lr = get(server, "/v2/members/leader")
    assert lr.status == 200 and lr.body.endswith(b"\n")
    assert lr.json() == m
    nf = get(server, "/v2/members/" + m["id"])
    assert nf.status == 404 and nf.json() == {"message": "Not found"}


def test_members_bad_requests(server):
    r = request(server, "POST", "/v2/members", body='{"peerURLs":["http://127.0.0.1:1"]}',
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415
    assert r.json()["message"].startswith("Bad Content-Type")
    r = request(server, "POST", "/v2/members", body="{}",
                headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json() == {"message": "no valid URLs given"}
    r = request(server, "POST", "/v2/members",
                body='{"peerURLs":["%s"]}' % server.peer_url,
                headers={"Content-Type": "application/json"})
    assert r.status == 409 and r.json() == {"message": "membership: peerURL exists"}
    r = request(server, "DELETE", "/v2/members/zzz")
    assert r.status == 404 and r.json() == {"message": "No such member: zzz"}
    assert len(get(server, "/v2/members").json()["members"]) == 1


def test_machines(server):
    r = get(server, "/v2/machines")
    assert r.status == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.body.decode() == server.url
    h = request(server, "HEAD", "/v2/machines")
    assert h.status == 200 and h.body == b""


def test_stats_self(server):
    r = get(server, "/v2/stats/self")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    b = r.json()
    m = _member(server)
    assert b["name"] == server.name
    assert b["id"] == m["id"]
    assert b["state"] == "StateLeader"
    assert RFC3339.match(b["startTime"])
    assert b["leaderInfo"]["leader"] == m["id"]
    assert RFC3339.match(b["leaderInfo"]["startTime"])
    assert re.fullmatch(r"[0-9.hmsµun]+", b["leaderInfo"]["uptime"])
    assert b["recvAppendRequestCnt"] == 0 and b["sendAppendRequestCnt"] == 0
    assert list(b)[:5] == ["name", "id", "state", "startTime", "leaderInfo"]


def test_stats_leader(server):
    r = get(server, "/v2/stats/leader")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"leader": _member(server)["id"], "followers": {}}


STORE_FIELDS = ["getsSuccess", "getsFail", "setsSuccess", "setsFail", "deleteSuccess",
                "deleteFail", "updateSuccess", "updateFail", "createSuccess", "createFail",
                "compareAndSwapSuccess", "compareAndSwapFail", "compareAndDeleteSuccess",
                "compareAndDeleteFail", "expireCount", "watchers"]


def test_stats_store_counters(fresh_server):
    s = fresh_server
    r = get(s, "/v2/stats/store")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    before = r.json()
    assert list(before) == STORE_FIELDS
    put(s, "/v2/keys/a", {"value": "1"})                          # set ok
    put(s, "/v2/keys/dir?dir=true")                               # set ok
    put(s, "/v2/keys/dir", {"value": "x"})                        # set fail (102)
    put(s, "/v2/keys/a?prevExist=true", {"value": "2"})           # update ok
    put(s, "/v2/keys/nx?prevExist=true", {"value": "2"})          # update fail
    put(s, "/v2/keys/c?prevExist=false", {"value": "1"})          # create ok
    put(s, "/v2/keys/c?prevExist=false", {"value": "1"})          # create fail
    put(s, "/v2/keys/a?prevValue=2", {"value": "3"})              # cas ok
    put(s, "/v2/keys/a?prevValue=9", {"value": "3"})              # cas fail
    delete(s, "/v2/keys/c?prevValue=1")                           # cad ok
    delete(s, "/v2/keys/a?prevValue=9")                           # cad fail
    delete(s, "/v2/keys/a")                                       # delete ok
    delete(s, "/v2/keys/a")                                       # delete fail
    assert get(s, "/v2/keys/dir").status == 200                   # get ok
    put(s, "/v2/keys/e", {"value": "1", "ttl": "0"})              # set ok, expires
    wait_until(lambda: get(s, "/v2/keys/e").status == 404, 3)
    time.sleep(0.1)
    after = get(s, "/v2/stats/store").json()
    d = {k: after[k] - before[k] for k in STORE_FIELDS}
    assert d["setsSuccess"] == 3 and d["setsFail"] == 1
    assert d["updateSuccess"] == 1 and d["updateFail"] == 1
    assert d["createSuccess"] == 1 and d["createFail"] == 1
    assert d["compareAndSwapSuccess"] == 1 and d["compareAndSwapFail"] == 1
    # 3.4 counts a failed compareAndDelete as a success (a bug); 1/1 is right
    assert d["compareAndDeleteSuccess"] + d["compareAndDeleteFail"] == 2
    assert d["compareAndDeleteSuccess"] >= 1
    assert d["deleteSuccess"] == 1 and d["deleteFail"] == 1
    assert d["expireCount"] == 1
    assert d["getsSuccess"] >= 1 and after["watchers"] == 0


def test_watchers_counted_and_released(fresh_server):
    s = fresh_server

    def watchers():
        return get(s, "/v2/stats/store").json()["watchers"]

    socks = []
    try:
        for path in ("/v2/keys/w1?wait=true", "/v2/keys/w2?wait=true&stream=true",
                     "/v2/keys/?wait=true&recursive=true"):
            c = socket.create_connection(("127.0.0.1", s.client_port), timeout=5)
            c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
            socks.append(c)
        n, _ = wait_until(lambda: watchers() == 3, 3)
        assert watchers() == 3
    finally:
        for c in socks:
            c.close()
    ok, t = wait_until(lambda: watchers() == 0, 5)
    assert ok, "watchers of closed connections still counted: %d" % watchers()
    # the server still works and new watches still fire
    r = put(s, "/v2/keys/w1", {"value": "x"})
    assert r.status == 201
    assert json.loads(get(s, "/v2/keys/w1?wait=true&waitIndex=%d" %
                          r.json()["node"]["modifiedIndex"]).body)["node"]["value"] == "x"
