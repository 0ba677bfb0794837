"""A 3-member cluster on 127.0.0.1: every member accepts writes (no redirects),
reads and watches see writes made through other members, the membership and
stats endpoints describe the cluster, and the cluster keeps serving when its
leader is SIGKILLed; the killed member catches up after a restart.
"""

import json
import signal
import time

import pytest

from itestlib import get, put, request, wait_until

from test_watch import Poll


def leader_of(members):
    """The member whose /v2/stats/self says StateLeader (polled until one does)."""
    def find():
        for m in members:
            if not m.running():
                continue
            try:
                r = get(m, "/v2/stats/self", timeout=2)
            except OSError:
                continue
            if r.status == 200 and r.json()["state"] == "StateLeader":
                return m
        return None
    m, _ = wait_until(find, 15, 0.1)
    assert m is not None, "no member reports being the leader"
    return m


@pytest.fixture
def cluster(make_cluster):
    return make_cluster(3)


def test_writes_on_every_member(cluster):
    ids = {m.url: get(m, "/v2/keys/").headers["x-etcd-cluster-id"] for m in cluster}
    assert len(set(ids.values())) == 1, ids
    for n, m in enumerate(cluster):
        r = put(m, "/v2/keys/c/k%d" % n, {"value": "from-%s" % m.name})
        assert r.status == 201, r                       # answered by that member, no 307
        assert "location" not in r.headers
    for m in cluster:
        r = get(m, "/v2/keys/c?recursive=true&sorted=true&quorum=true")
        vals = [c["value"] for c in r.json()["node"]["nodes"]]
        assert vals == ["from-%s" % x.name for x in cluster]
    # indexes agree everywhere
    idx = {m.url: get(m, "/v2/keys/c/k2?quorum=true").json()["node"]["modifiedIndex"]
           for m in cluster}
    assert len(set(idx.values())) == 1


def test_membership_endpoints(cluster):
    members = get(cluster[0], "/v2/members").json()["members"]
    assert sorted(m["name"] for m in members) == ["m0", "m1", "m2"]
    assert sorted(u for m in members for u in m["clientURLs"]) == sorted(m.url for m in cluster)
    for m in cluster[1:]:
        assert get(m, "/v2/members").json() == {"members": members}
    machines = get(cluster[1], "/v2/machines").body.decode()
    assert machines == ", ".join(sorted(m.url for m in cluster))
    lead = leader_of(cluster)
    ls = get(lead, "/v2/stats/leader").json()
    lid = [m["id"] for m in members if m["name"] == lead.name][0]
    assert ls["leader"] == lid
    assert sorted(ls["followers"]) == sorted(m["id"] for m in members if m["id"] != lid)
    for f in ls["followers"].values():
        assert f["counts"]["success"] > 0
        assert set(f["latency"]) == {"current", "average", "standardDeviation", "minimum",
                                     "maximum"}
    for m in cluster:
        if m is lead:
            continue
        r = get(m, "/v2/stats/leader")
        assert r.status == 403 and r.json() == {"message": "not current leader"}
        st = get(m, "/v2/stats/self").json()
        assert st["state"] == "StateFollower" and st["leaderInfo"]["leader"] == lid
        assert get(m, "/v2/members/leader").json()["name"] == lead.name


def test_watch_across_members(cluster):
    p = Poll(cluster[2], "/v2/keys/xw?wait=true")
    w = put(cluster[0], "/v2/keys/xw", {"value": "v"}).json()
    assert p.wait().json() == w
    s = Poll(cluster[1], "/v2/keys/xr?wait=true&recursive=true")
    put(cluster[2], "/v2/keys/xr/deep/k", {"value": "1"})
    assert s.wait().json()["node"]["key"] == "/xr/deep/k"


def test_leader_killed(cluster):
    lead = leader_of(cluster)
    for n in range(20):
        assert put(cluster[n % 3], "/v2/keys/lk/k%d" % n, {"value": str(n)}).status == 201
    lead.kill()
    rest = [m for m in cluster if m is not lead]
    new = leader_of(rest)
    assert new is not lead
    t0 = time.time()
    ok, _ = wait_until(lambda: put(rest[0], "/v2/keys/lk/after", {"value": "x"},
                                   timeout=10).status in (200, 201), 15, 0.2)
    assert ok, "cluster did not accept writes after losing its leader"
    assert time.time() - t0 < 15
    for m in rest:
        r = get(m, "/v2/keys/lk?recursive=true&quorum=true").json()["node"]["nodes"]
        assert len(r) == 21
    # the old leader comes back as a follower and catches up
    lead.start(wait=False)
    lead.wait_ready(60)
    got, _ = wait_until(lambda: get(lead, "/v2/keys/lk/after").status == 200, 10, 0.1)
    assert got, "restarted member did not catch up"
    assert len(get(lead, "/v2/keys/lk?recursive=true").json()["node"]["nodes"]) == 21
    assert put(lead, "/v2/keys/lk/from-old", {"value": "y"}).status == 201
    assert get(new, "/v2/keys/lk/from-old?quorum=true").json()["node"]["value"] == "y"


def test_follower_restart_keeps_data(cluster):
    lead = leader_of(cluster)
    f = [m for m in cluster if m is not lead][0]
    for n in range(10):
        put(lead, "/v2/keys/fr/k%d" % n, {"value": str(n)})
    f.restart(signal.SIGTERM, timeout=60)
    r = get(f, "/v2/keys/fr?recursive=true&sorted=true&quorum=true").json()["node"]["nodes"]
    assert [c["value"] for c in r] == [str(n) for n in range(10)]
    health = get(f, "/health")
    assert health.status == 200 and json.loads(health.body) == {"health": "true"}


def test_ttl_expires_on_every_member(cluster):
    i = put(cluster[1], "/v2/keys/ttlc", {"value": "v", "ttl": "1"}).json()["node"]["modifiedIndex"]
    for m in cluster:
        gone, _ = wait_until(lambda: get(m, "/v2/keys/ttlc").status == 404, 4)
        assert gone, "%s still has the expired key" % m.name
    # the expiry has the same index on every member
    evs = [request(m, "GET", "/v2/keys/ttlc?wait=true&waitIndex=%d" % (i + 1), timeout=5)
           for m in cluster]
    bodies = [e.json() for e in evs if e.status == 200]
    assert len(bodies) == 3 and all(b == bodies[0] for b in bodies)
    assert bodies[0]["action"] == "expire"
