"""Multi-member clusters beyond the basics of test_cluster.py: 3 and 5 members on
127.0.0.1, a leader SIGKILLed under write load (no acknowledged write may be
lost), a SIGSTOPped minority, membership changes with curl and with the real
etcdctl (v2), a new member joining with --initial-cluster-state existing, and
members restarted on their data directories (membership survives, also across
snapshots).
"""

import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

import itestlib
from itestlib import delete, get, put, request, wait_until

from test_cluster import leader_of


class JoiningProc(itestlib.ServerProc):
    """A member started with --initial-cluster-state existing (after member add)."""

    def argv(self):
        a = super().argv()
        a[a.index("--initial-cluster-state") + 1] = "existing"
        return a


def members_of(server):
    return get(server, "/v2/members").json()["members"]


def add_member(server, peer_url):
    r = request(server, "POST", "/v2/members", body='{"peerURLs":["%s"]}' % peer_url,
                headers={"Content-Type": "application/json"}, timeout=15)
    assert r.status == 201, r
    return r.json()


def join(pool_servers, cluster, server_bin, server_kind, name):
    """member add through cluster[0], then start the new member; returns it."""
    client_port, peer_port = itestlib.free_port(), itestlib.free_port()
    peer_url = "http://%s:%d" % (itestlib.HOST, peer_port)
    m = add_member(cluster[0], peer_url)
    assert m["name"] == "" and m["clientURLs"] == [] and m["peerURLs"] == [peer_url]
    initial = cluster[0].initial_cluster + ",%s=%s" % (name, peer_url)
    new = JoiningProc(server_bin, server_kind, name=name, ports=(client_port, peer_port),
                      initial_cluster=initial)
    pool_servers.append(new)
    new.start(timeout=60)
    return new, m["id"]


@pytest.fixture
def joiners(server_bin, server_kind):
    made = []
    yield made
    for s in made:
        s.cleanup()


def test_five_members(make_cluster):
    cluster = make_cluster(5)
    for n, m in enumerate(cluster):
        assert put(m, "/v2/keys/five/k%d" % n, {"value": m.name}).status == 201
    for m in cluster:
        nodes = get(m, "/v2/keys/five?recursive=true&sorted=true&quorum=true").json()["node"]
        assert [c["value"] for c in nodes["nodes"]] == [x.name for x in cluster]
    ms = members_of(cluster[3])
    assert sorted(x["name"] for x in ms) == ["m0", "m1", "m2", "m3", "m4"]
    lead = leader_of(cluster)
    assert len(get(lead, "/v2/stats/leader").json()["followers"]) == 4


def test_leader_kill9_under_load_loses_no_acknowledged_write(make_cluster):
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        n = 0
        while not stop.is_set():
            key = "/load/w%d-%d" % (w, n)
            target = cluster[(w + n) % 3]
            n += 1
            try:
                r = put(target, "/v2/keys" + key, {"value": str(n)}, timeout=10)
            except OSError:
                continue
            if r.status in (200, 201):
                with lock:
                    acked[key] = str(n)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    lead.kill()                      # SIGKILL in the middle of the load
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(30)
    rest = [m for m in cluster if m is not lead]
    assert len(acked) > 50, "too few writes went through: %d" % len(acked)
    for m in rest:
        r = get(m, "/v2/keys/load?recursive=true&quorum=true", timeout=15).json()
        have = {c["key"]: c["value"] for c in r["node"]["nodes"]}
        lost = [k for k in acked if have.get(k) != acked[k]]
        assert not lost, "%s lost acknowledged writes: %s" % (m.name, lost[:5])
    # the killed leader comes back, catches up and holds them too
    lead.start(timeout=60)
    r = get(lead, "/v2/keys/load?recursive=true&quorum=true", timeout=15).json()
    have = {c["key"]: c["value"] for c in r["node"]["nodes"]}
    assert all(have.get(k) == v for k, v in acked.items())


def test_minority_stopped_keeps_cluster_available(make_cluster):
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    follower = [m for m in cluster if m is not lead][0]
    os.kill(follower.proc.pid, signal.SIGSTOP)
    try:
        alive = [m for m in cluster if m is not follower]
        for n in range(10):
            assert put(alive[n % 2], "/v2/keys/part/f%d" % n, {"value": "x"},
                       timeout=10).status == 201
        # now stop the leader instead: the other two elect a new one and keep going
        os.kill(follower.proc.pid, signal.SIGCONT)
        os.kill(lead.proc.pid, signal.SIGSTOP)
        rest = [m for m in cluster if m is not lead]
        ok, _ = wait_until(lambda: put(rest[0], "/v2/keys/part/after", {"value": "y"},
                                       timeout=10).status == 201, 20, 0.2)
        assert ok, "the majority did not elect a new leader"
        assert get(rest[1], "/v2/keys/part/after?quorum=true").json()["node"]["value"] == "y"
        # the follower that was stopped caught up
        r = get(follower, "/v2/keys/part?recursive=true&quorum=true").json()["node"]["nodes"]
        assert len(r) == 11
    finally:
        for m in cluster:
            if m.running():
                os.kill(m.proc.pid, signal.SIGCONT)
    # the old leader rejoins as a follower and sees everything
    got, _ = wait_until(lambda: get(lead, "/v2/keys/part/after").status == 200, 15, 0.1)
    assert got


def test_member_add_errors_as_etcd(make_cluster):
    cluster = make_cluster(3)
    m = cluster[1]

    def post(body, ctype="application/json"):
        return request(m, "POST", "/v2/members", body=body, headers={"Content-Type": ctype})

    r = post('{"peerURLs":["http://127.0.0.1:1"]}', "application/x-www-form-urlencoded")
    assert r.status == 415 and r.json() == {
        "message": "Bad Content-Type application/x-www-form-urlencoded, accept application/json"}
    assert "x-etcd-cluster-id" in r.headers
    cases = [
        ("", "unexpected end of JSON input"),
        ("{", "unexpected end of JSON input"),
        ("x", "invalid character 'x' looking for beginning of value"),
        ('{"peerURLs":"a"}',
         "json: cannot unmarshal string into Go struct field .peerURLs of type []string"),
        ('{"peerURLs":[1]}',
         "json: cannot unmarshal number into Go struct field .peerURLs of type string"),
        ('{"peerURLs":["http://127.0.0.1:1"]} x', "invalid character 'x' after top-level value"),
        ("{}", "no valid URLs given"),
        ('{"peerURLs":[]}', "no valid URLs given"),
        ("null", "no valid URLs given"),
        ('{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        ('{"peerURLs":["ftp://127.0.0.1:22398"]}',
         "URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:22398"),
        ('{"peerURLs":["http://127.0.0.1"]}',
         'URL address does not have the form "host:port": http://127.0.0.1'),
        ('{"peerURLs":["http://127.0.0.1:22398/path"]}',
         "URL must not contain a path: http://127.0.0.1:22398/path"),
    ]
    for body, msg in cases:
        r = post(body)
        assert (r.status, r.json()) == (400, {"message": msg}), body
    r = post('{"peerURLs":["%s"]}' % cluster[2].peer_url)
    assert (r.status, r.json()) == (409, {"message": "membership: peerURL exists"})
    # PUT / DELETE on unknown or malformed IDs
    r = request(m, "PUT", "/v2/members/zzz", body='{"peerURLs":["http://127.0.0.1:2"]}',
                headers={"Content-Type": "application/json"})
    assert (r.status, r.json()) == (404, {"message": "No such member: zzz"})
    assert delete(m, "/v2/members/00ab").json() == {"message": "No such member: ab"}
    # activeSize caps the voting members
    cfg = request(m, "PUT", "/v2/admin/config", body='{"activeSize":3}').json()
    assert cfg["activeSize"] == 3
    r = post('{"peerURLs":["http://127.0.0.1:3"]}')
    assert r.status == 409 and "activeSize" in r.json()["message"]
    assert len(members_of(m)) == 3


def test_member_add_join_remove_with_curl(make_cluster, joiners, server_bin, server_kind):
    cluster = make_cluster(3)
    new, nid = join(joiners, cluster, server_bin, server_kind, "m3")
    # every member lists the new one with its name and client URL once it published them
    for m in cluster + [new]:
        ok, _ = wait_until(lambda: any(x["id"] == nid and x["name"] == "m3" and
                                       x["clientURLs"] == [new.url] for x in members_of(m)),
                           10, 0.1)
        assert ok, "%s does not list m3 with its client URL" % m.name
    assert put(new, "/v2/keys/joined", {"value": "yes"}).status == 201
    assert get(cluster[0], "/v2/keys/joined?quorum=true").json()["node"]["value"] == "yes"
    registered, _ = wait_until(lambda: "/_etcd/machines/m3" in [
        n["key"] for n in get(cluster[1], "/v2/keys/_etcd/machines").json()["node"]["nodes"]],
        10, 0.1)
    assert registered
    # change its peer URL (same value back: the member stays reachable)
    r = request(cluster[2], "PUT", "/v2/members/" + nid,
                body='{"peerURLs":["%s"]}' % new.peer_url,
                headers={"Content-Type": "application/json"})
    assert r.status == 204, r
    # remove it through a follower; it stops by itself
    r = delete(cluster[1], "/v2/members/" + nid, timeout=15)
    assert r.status == 204, r
    ok, _ = wait_until(lambda: not new.running(), 15, 0.1)
    assert ok, "the removed member is still running"
    for m in cluster:
        ok, _ = wait_until(lambda: sorted(x["name"] for x in members_of(m)) == ["m0", "m1", "m2"],
                           5, 0.1)
        assert ok
    r = delete(cluster[0], "/v2/members/" + nid)
    assert (r.status, r.json()) == (410, {"message": "Member permanently removed: " + nid})
    gone, _ = wait_until(lambda: "/_etcd/machines/m3" not in [
        n["key"] for n in get(cluster[0], "/v2/keys/_etcd/machines").json()["node"]["nodes"]],
        10, 0.1)
    assert gone
    assert put(cluster[2], "/v2/keys/after-remove", {"value": "1"}).status == 201


def _etcdctl(cluster, *args):
    env = dict(os.environ, ETCDCTL_API="2")
    eps = ",".join(m.url for m in cluster)
    return subprocess.run(["etcdctl", "--endpoints", eps] + list(args), env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("etcdctl") is None, reason="etcdctl is not installed")
def test_member_add_remove_with_etcdctl(make_cluster, joiners, server_bin, server_kind):
    cluster = make_cluster(3)
    peer_port, client_port = itestlib.free_port(), itestlib.free_port()
    peer_url = "http://%s:%d" % (itestlib.HOST, peer_port)
    out = _etcdctl(cluster, "member", "add", "m3", peer_url)
    assert out.returncode == 0, out.stderr
    assert "Added member named m3 with ID" in out.stdout
    assert 'ETCD_INITIAL_CLUSTER_STATE="existing"' in out.stdout
    # etcdctl prints the --initial-cluster the new member needs: use it as given
    line = [l for l in out.stdout.splitlines() if l.startswith("ETCD_INITIAL_CLUSTER=")][0]
    initial = line.split("=", 1)[1].strip('"')
    new = JoiningProc(server_bin, server_kind, name="m3", ports=(client_port, peer_port),
                      initial_cluster=initial)
    joiners.append(new)
    new.start(timeout=60)
    out = _etcdctl(cluster, "member", "list")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 4
    line = [l for l in out.stdout.splitlines() if "name=m3" in l][0]
    assert "clientURLs=%s" % new.url in line
    mid = line.split(":")[0].split("[")[0]
    out = _etcdctl(cluster, "member", "remove", mid)
    assert out.returncode == 0, out.stderr
    assert "Removed member %s from cluster" % mid in out.stdout
    ok, _ = wait_until(lambda: not new.running(), 15, 0.1)
    assert ok
    out = _etcdctl(cluster, "member", "list")
    assert len(out.stdout.strip().splitlines()) == 3


def test_membership_survives_restarts_and_snapshots(make_cluster, joiners, server_bin,
                                                    server_kind, monkeypatch):
    # small snapshots so that the joiner catches up from one and restarts from one
    monkeypatch.setattr(itestlib.ServerProc, "argv",
                        lambda self, orig=itestlib.ServerProc.argv: orig(self) +
                        ["--snapshot-count", "20"])
    cluster = make_cluster(3)
    for n in range(60):
        assert put(cluster[n % 3], "/v2/keys/snap/k%d" % n, {"value": str(n)}).status == 201
    new, nid = join(joiners, cluster, server_bin, server_kind, "m3")
    r = get(new, "/v2/keys/snap?recursive=true&quorum=true").json()["node"]["nodes"]
    assert len(r) == 60
    for n in range(60, 100):
        assert put(cluster[n % 3], "/v2/keys/snap/k%d" % n, {"value": str(n)}).status == 201
    before = members_of(cluster[0])
    assert len(before) == 4
    # restart every member on its data directory, one at a time
    for m in cluster + [new]:
        m.restart(signal.SIGTERM, timeout=60)
        assert put(m, "/v2/keys/snap/restarted-%s" % m.name, {"value": "1"}).status == 201
    for m in cluster + [new]:
        ok, _ = wait_until(lambda: members_of(m) == before, 10, 0.1)
        assert ok, "%s: %s != %s" % (m.name, members_of(m), before)
        r = get(m, "/v2/keys/snap?recursive=true&quorum=true").json()["node"]["nodes"]
        assert len(r) == 104


def test_admin_machines_delete_removes_by_name(make_cluster, joiners, server_bin, server_kind):
    cluster = make_cluster(3)
    new, nid = join(joiners, cluster, server_bin, server_kind, "m3")
    ok, _ = wait_until(lambda: get(cluster[0], "/v2/admin/machines/m3").json() is not None,
                       10, 0.1)
    assert ok
    m = get(cluster[0], "/v2/admin/machines/m3").json()
    assert m["clientURL"] == new.url and m["peerURL"] == new.peer_url
    r = delete(cluster[2], "/v2/admin/machines/m3", timeout=15)
    assert r.status == 200 and r.body == b""
    ok, _ = wait_until(lambda: not new.running(), 15, 0.1)
    assert ok, "the removed member is still running"
    assert get(cluster[1], "/v2/admin/machines/m3").body == b"null\n"
    r = delete(cluster[2], "/v2/admin/machines/m3")
    assert (r.status, r.json()) == (404, {"message": "No such member: m3"})


def test_remove_delay_removes_an_unreachable_member(make_cluster):
    cluster = make_cluster(3)
    cfg = request(cluster[0], "PUT", "/v2/admin/config", body='{"removeDelay":2}').json()
    assert cfg["removeDelay"] == 2
    lead = leader_of(cluster)
    victim = [m for m in cluster if m is not lead][0]
    victim.kill()
    ok, _ = wait_until(lambda: sorted(x["name"] for x in members_of(lead)) ==
                       sorted(m.name for m in cluster if m is not victim), 15, 0.2)
    assert ok, "the unreachable member was not removed"
    assert put(lead, "/v2/keys/after-auto-remove", {"value": "1"}).status == 201
    # restarted, it hears from its former peers that it was removed, and stops
    victim.start(wait=False)
    ok, _ = wait_until(lambda: not victim.running(), 20, 0.2)
    assert ok, "the removed member kept running after a restart"


def test_grow_from_one_member_to_three(make_server, joiners, server_bin, server_kind):
    first = make_server(name="m0")
    members = [first]
    for n in (1, 2):
        client_port, peer_port = itestlib.free_port(), itestlib.free_port()
        peer_url = "http://%s:%d" % (itestlib.HOST, peer_port)
        # with one member the change needs the new member's vote: it commits once it starts
        result = {}
        t = threading.Thread(target=lambda: result.update(r=add_member(first, peer_url)))
        t.start()
        initial = ",".join("%s=%s" % (m.name, m.peer_url) for m in members)
        new = JoiningProc(server_bin, server_kind, name="m%d" % n,
                          ports=(client_port, peer_port),
                          initial_cluster=initial + ",m%d=%s" % (n, peer_url))
        joiners.append(new)
        new.start(timeout=60)
        t.join(30)
        assert result["r"]["peerURLs"] == [peer_url]
        members.append(new)
    for m in members:
        ok, _ = wait_until(lambda: sorted(x["name"] for x in members_of(m)) ==
                           ["m0", "m1", "m2"], 10, 0.1)
        assert ok
    assert put(members[2], "/v2/keys/grown", {"value": "3"}).status == 201
    first.kill()                     # two of three remain: still a quorum
    ok, _ = wait_until(lambda: put(members[1], "/v2/keys/grown", {"value": "4"},
                                   timeout=10).status == 200, 20, 0.2)
    assert ok


def _store_writes(server):
    s = get(server, "/v2/stats/store").json()
    return {k: s[k] for k in ("setsSuccess", "createSuccess", "updateSuccess", "deleteSuccess")}


def test_membership_changes_move_the_index_as_etcd(make_cluster, make_server):
    """etcd 3.4 keeps its member records in the v2 store (under /0, outside the key space), so
    each membership change moves X-Etcd-Index and the store statistics: an add is one create, a
    removal a delete and a create, a peer URL update one update, every start of a member one set
    (it publishes its attributes), and the cluster version one set, once."""
    one = make_server(name="solo")
    r = get(one, "/v2/keys/")
    assert r.headers["x-etcd-index"] == "3"  # add, publish, version
    assert r.headers["x-raft-term"] == "2"  # bootstrapped in term 1, elected in term 2
    assert _store_writes(one) == {"setsSuccess": 2, "createSuccess": 1, "updateSuccess": 0,
                                  "deleteSuccess": 0}
    assert put(one, "/v2/keys/first", {"value": "1"}).json()["node"]["createdIndex"] == 4
    one.restart()
    ok, _ = wait_until(lambda: one.index() == 5, 10, 0.05)  # the restart published again
    assert ok, one.index()
    assert get(one, "/v2/keys/").headers["x-raft-term"] == "3"

    cluster = make_cluster(3)
    lead = leader_of(cluster)
    a, b = [m for m in cluster if m is not lead]
    # 3 adds, 3 publishes, the version; etcd sets the version once every member answers
    ok, _ = wait_until(lambda: lead.index() == 7, 15, 0.1)
    assert ok, lead.index()
    before = _store_writes(lead)
    me = [m for m in members_of(lead) if m["name"] == a.name][0]
    r = request(lead, "PUT", "/v2/members/" + me["id"],
                body='{"peerURLs":["%s"]}' % a.peer_url,
                headers={"Content-Type": "application/json"})
    assert r.status == 204, r
    assert lead.index() == 8  # applied before the answer, as etcd's
    gone = [m for m in members_of(lead) if m["name"] == b.name][0]
    b.kill()
    assert delete(lead, "/v2/members/" + gone["id"], timeout=15).status == 204
    assert lead.index() == 10
    # etcd refuses an add (500, before proposing it) until its peers have been connected for a
    # while (strict reconfiguration check)
    peer = "http://127.0.0.1:%d" % itestlib.free_port()
    ok, _ = wait_until(lambda: request(lead, "POST", "/v2/members", body='{"peerURLs":["%s"]}'
                                       % peer, headers={"Content-Type": "application/json"},
                                       timeout=15).status == 201, 15, 0.5)
    assert ok
    assert lead.index() == 11
    after = _store_writes(lead)
    assert {k: after[k] - before[k] for k in after} == {
        "setsSuccess": 0, "createSuccess": 2, "updateSuccess": 1, "deleteSuccess": 1}
    # every member applies the same steps
    ok, _ = wait_until(lambda: a.index() == 11, 5, 0.05)
    assert ok, a.index()
