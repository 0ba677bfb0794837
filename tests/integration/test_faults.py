"""Fault and crash runs on 3-member clusters (127.0.0.1), beyond test_cluster*.py:

  - the leader SIGSTOPped (a partitioned old leader) while clients write through the
    other two; it must not acknowledge a write that is not in the final log, steps
    down after SIGCONT and converges with the others;
  - a follower SIGSTOPped while the leader compacts past its log (--snapshot-count
    20): it catches up (by snapshot on etcetera) with TTL keys, directories and hidden
    keys, and still has them after a kill -9 and restart;
  - all three members kill -9'd at once under write load: every acknowledged write
    survives on every member, with the same index;
  - quorum lost (two of three down): writes and quorum reads fail after etcd's
    request timeout with its error, plain reads still answer, and writes work again
    once one member is back;
  - watches held on a follower across a leader kill deliver every event, in order,
    with the indexes the writes returned;
  - quorum GETs stay linearizable across a SIGSTOPped and a killed leader; TTL keys
    expire after a leader kill; a follower kill -9'd while catching up by snapshot
    comes back whole;
  - one-way peer cuts through a TCP relay (etcetera only: etcd's stream transport
    cannot be cut one way by a relay in front of one member).

Every server is stopped by the fixtures; SIGSTOPped ones are resumed in finally
blocks so that their cleanup (SIGTERM) works.
"""

import http.client
import json
import os
import signal
import threading
import time

import pytest

import itestlib
from itestlib import StreamReader, get, post, put, request, wait_until

from test_cluster import leader_of
from test_watch import Poll

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sigstop(m):
    os.killpg(m.proc.pid, signal.SIGSTOP)


def sigcont(m):
    if m.running():
        os.killpg(m.proc.pid, signal.SIGCONT)


class Writers:
    """Threads that PUT unique keys below prefix through the given members (one
    keep-alive connection each, reconnecting after errors) and record every
    acknowledged write as key -> (value, modifiedIndex)."""

    def __init__(self, members, prefix, per_member=2, timeout=10):
        self.members = members
        self.prefix = prefix
        self.timeout = timeout
        self.acked = {}
        self.errors = 0
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(m, "%s/w%d" % (prefix, i)),
                                         daemon=True)
                        for i, m in enumerate(members * per_member)]
        for t in self.threads:
            t.start()

    def _run(self, member, prefix):
        n = 0
        conn = None
        while not self.stop_ev.is_set():
            n += 1
            key = "%s-%05d" % (prefix, n)
            value = "v%d" % n
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(itestlib.HOST, member.client_port,
                                                      timeout=self.timeout)
                conn.request("PUT", "/v2/keys" + key, body="value=" + value, headers=FORM)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                with self.lock:
                    self.errors += 1
                time.sleep(0.05)
                continue
            if r.status == 201:
                with self.lock:
                    self.acked[key] = (value, json.loads(body)["node"]["modifiedIndex"])
            else:
                with self.lock:
                    self.errors += 1
        if conn is not None:
            conn.close()

    def count(self):
        with self.lock:
            return len(self.acked)

    def stop(self, timeout=20):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a writer is stuck"


def snapshot_every(monkeypatch, count):
    """Members started from here on take a snapshot every @count entries."""
    monkeypatch.setattr(itestlib.ServerProc, "argv",
                        lambda self, orig=itestlib.ServerProc.argv: orig(self) +
                        ["--snapshot-count", str(count)])


def leaves(server, prefix, quorum=False):
    return itestlib.key_tree(server, prefix, quorum=quorum, timeout=20)


def same_index_everywhere(members, timeout=20):
    """Waits until every member reports the same X-Etcd-Index (all applied the same
    log); returns it."""
    def agree():
        try:
            idx = {m.index() for m in members}
        except OSError:
            return None
        return idx.pop() if len(idx) == 1 else None
    idx, _ = wait_until(agree, timeout, 0.1)
    assert idx, "members do not converge on one X-Etcd-Index: %s" % (
        [get(m, "/v2/keys/").headers.get("x-etcd-index") for m in members])
    return idx


def check_acked(members, prefix, acked):
    for m in members:
        have = leaves(m, prefix)
        lost = [(k, v, have.get(k)) for k, v in acked.items() if have.get(k) != v]
        assert not lost, "%s lost or changed %d of %d acknowledged writes, e.g. %r" % (
            m.name, len(lost), len(acked), lost[:3])


def knows_leader(member, leader, timeout=10):
    """Waits until member's /v2/stats/self names leader's id as its leader."""
    lid = get(leader, "/v2/stats/self").json()["id"]
    ok, _ = wait_until(lambda: get(member, "/v2/stats/self", timeout=3).json()
                       ["leaderInfo"]["leader"] == lid, timeout, 0.05)
    assert ok, "%s does not follow the new leader %s" % (member.name, leader.name)


def strip_ttl(node):
    """A node listing without the "ttl" fields (they count down between reads; the
    expiration time is compared instead)."""
    node = dict(node)
    node.pop("ttl", None)
    if "nodes" in node:
        node["nodes"] = [strip_ttl(c) for c in node["nodes"]]
    return node


def test_partitioned_old_leader_steps_down_and_converges(make_cluster):
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    rest = [m for m in cluster if m is not lead]
    w = Writers(rest, "/f1/load")
    # clients of the leader itself: their writes are in flight when it stops, and
    # their answers come after SIGCONT, when its uncommitted entries are overwritten
    wl = Writers([lead], "/f1/onlead", per_member=4, timeout=40)
    stale = {}
    try:
        ok, _ = wait_until(lambda: w.count() >= 20 and wl.count() >= 20, 10, 0.05)
        assert ok, "no writes before the fault"
        sigstop(lead)

        def stale_write():
            try:
                stale["r"] = put(lead, "/v2/keys/f1/stale", {"value": "from-old-leader"},
                                 timeout=35)
            except OSError as e:
                stale["err"] = e
        st = threading.Thread(target=stale_write, daemon=True)
        st.start()
        new = leader_of(rest)
        at_election = w.count()
        ok, _ = wait_until(lambda: w.count() >= at_election + 30, 20, 0.05)
        assert ok, "the majority acknowledged only %d writes after electing %s" % (
            w.count() - at_election, new.name)
    finally:
        sigcont(lead)
    st.join(40)
    assert not st.is_alive(), "the write sent to the stopped leader never returned"
    w.stop()
    wl.stop(45)
    # the old leader steps down: one leader, everybody agrees on it
    def one_leader():
        states = [get(m, "/v2/stats/self", timeout=3).json() for m in cluster]
        leaders = [s["id"] for s in states if s["state"] == "StateLeader"]
        if len(leaders) != 1:
            return False
        return all(s["leaderInfo"]["leader"] == leaders[0] for s in states)
    ok, _ = wait_until(one_leader, 15, 0.1)
    assert ok, "the members do not agree on one leader after SIGCONT"
    assert get(lead, "/v2/stats/self").json()["state"] == "StateFollower"
    # writes through the old leader work again
    ok, _ = wait_until(lambda: put(lead, "/v2/keys/f1/final", {"value": "end"},
                                   timeout=10).status == 201, 20, 0.2)
    assert ok, "the old leader does not accept writes after SIGCONT"
    for m in cluster:
        r = get(m, "/v2/keys/f1/final?quorum=true", timeout=10)
        assert r.status == 200 and r.json()["node"]["value"] == "end", (m.name, r)
    same_index_everywhere(cluster)
    check_acked(cluster, "/f1/load", w.acked)
    check_acked(cluster, "/f1/onlead", wl.acked)
    trees = [leaves(m, "/f1") for m in cluster]
    assert trees[0] == trees[1] == trees[2]
    # the write sent to the stopped leader: success only if it is in the final log
    r = stale.get("r")
    if r is not None and r.status in (200, 201):
        n = r.json()["node"]
        assert trees[0].get("/f1/stale") == (n["value"], n["modifiedIndex"]), (
            "the stopped leader acknowledged a write that is not in the final log", r)
    elif r is not None:
        assert r.status == 500 and r.json()["errorCode"] == 300, r
    # the old leader's log had a tail that was overwritten: after kill -9 it must
    # replay the log as it is now, not the entries it once appended as leader
    lead.kill()
    lead.start(timeout=60)
    assert get(lead, "/v2/keys/f1/final?quorum=true").json()["node"]["value"] == "end"
    same_index_everywhere(cluster)
    assert leaves(lead, "/f1") == trees[1]


def test_stopped_follower_catches_up_by_snapshot(make_cluster, monkeypatch):
    snapshot_every(monkeypatch, 20)
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    f = [m for m in cluster if m is not lead][0]
    others = [m for m in cluster if m is not f]
    assert put(f, "/v2/keys/f2/dir?dir=true").status == 201
    assert put(f, "/v2/keys/f2/_hidden", {"value": "h1"}).status == 201
    assert put(f, "/v2/keys/f2/ttl-long", {"value": "t", "ttl": "300"}).status == 201
    assert put(f, "/v2/keys/f2/ttl-short", {"value": "t", "ttl": "2"}).status == 201
    assert put(f, "/v2/keys/f2/change", {"value": "old"}).status == 201
    gap_from = lead.index() + 1
    sigstop(f)
    try:
        for n in range(120):
            r = put(others[n % 2], "/v2/keys/f2/bulk/k%03d" % n, {"value": str(n)})
            assert r.status == 201, r
        o = others[0]
        assert put(o, "/v2/keys/f2/dir/sub/_h2", {"value": "h2"}).status == 201
        assert put(o, "/v2/keys/f2/dir/sub/k", {"value": "deep"}).status == 201
        assert put(o, "/v2/keys/f2/ttldir?dir=true&ttl=300").status == 201
        assert post(o, "/v2/keys/f2/queue", {"value": "job"}).status == 201
        assert put(o, "/v2/keys/f2/change?prevValue=old", {"value": "new"}).status == 200
        assert put(o, "/v2/keys/f2/ttl-long?prevExist=true&refresh=true&ttl=600").status == 200
        assert request(o, "DELETE", "/v2/keys/f2/bulk/k000").status == 200
        gone, _ = wait_until(lambda: get(o, "/v2/keys/f2/ttl-short").status == 404, 10, 0.1)
        assert gone, "ttl-short did not expire"
        for n in range(40):     # more snapshots after the expiry
            assert put(others[n % 2], "/v2/keys/f2/more/k%02d" % n, {"value": "m"}).status == 201
        gap_to = lead.index()
    finally:
        sigcont(f)

    def snapshot_of(m):
        r = get(m, "/v2/keys/f2?recursive=true&sorted=true", timeout=10)
        hidden = [get(m, "/v2/keys/f2/" + k, timeout=10).text
                  for k in ("_hidden", "dir/sub/_h2")]
        return strip_ttl(r.json()["node"]), hidden, r.headers["x-etcd-index"]

    def converged():
        s = [snapshot_of(m) for m in cluster]
        return s if s[0] == s[1] == s[2] else None
    same_index_everywhere(cluster)
    got, _ = wait_until(converged, 15, 0.2)
    assert got, "the resumed follower differs: %r" % ([snapshot_of(m) for m in (f, lead)],)
    if f.kind == "etcetera":
        # the leader compacts at every snapshot: the follower must have been sent one
        with open(f.logfile, encoding="utf-8", errors="replace") as lf:
            assert "installed the leader's snapshot" in lf.read(), f.log_tail()
    tree, hidden, _ = got[0]
    assert [json.loads(h)["node"]["value"] for h in hidden] == ["h1", "h2"]
    names = [c["key"] for c in tree["nodes"]]
    assert "/f2/ttl-short" not in names and "/f2/_hidden" not in names
    ttl_long = [c for c in tree["nodes"] if c["key"] == "/f2/ttl-long"][0]
    assert "expiration" in ttl_long
    ttl = get(f, "/v2/keys/f2/ttl-long").json()["node"]["ttl"]
    assert 500 < ttl <= 600
    # the event history came with the snapshot: waitIndex inside the gap gives the same
    # events on the follower as on the leader
    def history(m):
        out = []
        for i in range(gap_from, gap_to, 7):
            r = get(m, "/v2/keys/f2?wait=true&recursive=true&waitIndex=%d" % i, timeout=5)
            out.append((r.status, r.body))
        return out
    assert history(f) == history(lead)
    # the resumed follower serves writes and quorum reads
    assert put(f, "/v2/keys/f2/after", {"value": "a"}).status == 201
    assert get(lead, "/v2/keys/f2/after?quorum=true").json()["node"]["value"] == "a"
    # kill -9 and restart on its data directory: still everything
    f.kill()
    f.start(timeout=60)
    ok, _ = wait_until(lambda: snapshot_of(f) == snapshot_of(lead), 15, 0.2)
    assert ok, "after kill -9: %r != %r" % (snapshot_of(f), snapshot_of(lead))
    assert get(f, "/v2/keys/f2/ttl-long").json()["node"]["ttl"] > 500
    assert history(f) == history(lead)


def test_whole_cluster_kill9_under_load(make_cluster):
    cluster = make_cluster(3)
    w = Writers(cluster, "/f3/load", per_member=2)
    try:
        ok, _ = wait_until(lambda: w.count() >= 60, 20, 0.05)
        assert ok, "too few writes before the crash: %d" % w.count()
        time.sleep(0.3)
    finally:
        for m in cluster:               # all at once: signal first, then reap
            m._signal_group(signal.SIGKILL)
        for m in cluster:
            m.kill()
        w.stop()
    acked = dict(w.acked)
    for m in cluster:
        m.start(wait=False)
    for m in cluster:
        m.wait_ready(60)
    for m in cluster:
        r = get(m, "/v2/keys/f3/load?quorum=true", timeout=15)
        assert r.status == 200, r
    same_index_everywhere(cluster)
    check_acked(cluster, "/f3/load", acked)
    trees = [leaves(m, "/f3") for m in cluster]
    assert trees[0] == trees[1] == trees[2]
    # and the cluster keeps working
    assert put(cluster[1], "/v2/keys/f3/after", {"value": "x"}).status == 201
    for m in cluster:
        assert get(m, "/v2/keys/f3/after?quorum=true").json()["node"]["value"] == "x"


def _is_request_timeout(r):
    if r.status != 500:
        return False
    b = r.json()
    return (b.get("errorCode") == 300 and b.get("message") == "Raft Internal Error" and
            b.get("cause", "").startswith("etcdserver: request timed out") and
            b.get("index") == 0)


@pytest.mark.parametrize("alone_role", ["follower", "leader"])
def test_quorum_lost_fails_in_bounded_time(make_cluster, alone_role):
    cluster = make_cluster(3)
    assert put(cluster[0], "/v2/keys/f4/k", {"value": "before"}).status == 201
    for m in cluster:       # everybody has applied it before the fault
        assert get(m, "/v2/keys/f4/k?quorum=true").status == 200
    lead = leader_of(cluster)
    if alone_role == "leader":      # the leader loses its followers: it must step down
        alone = lead
        killed, stopped = [m for m in cluster if m is not lead]
    else:                           # a follower loses its leader and the other follower
        killed = lead
        alone, stopped = [m for m in cluster if m is not lead]
    killed.kill()
    sigstop(stopped)
    try:
        t0 = time.time()
        r = put(alone, "/v2/keys/f4/k", {"value": "during"}, timeout=30)
        took = time.time() - t0
        assert _is_request_timeout(r), r
        assert r.headers.get("x-etcd-index") == "0", r
        assert took < 12, "the write failed only after %.1f s" % took
        t0 = time.time()
        r = get(alone, "/v2/keys/f4/k?quorum=true", timeout=30)
        took = time.time() - t0
        assert _is_request_timeout(r), r
        assert took < 12, "the quorum read failed only after %.1f s" % took
        # plain reads still answer, from the member's own state
        r = get(alone, "/v2/keys/f4/k", timeout=5)
        assert r.status == 200 and r.json()["node"]["value"] == "before", r
        unhealthy, _ = wait_until(lambda: get(alone, "/health", timeout=5).status == 503,
                                  10, 0.2)
        assert unhealthy, "the member alone still says it is healthy"
        # one member back: a quorum again
        killed.start(wait=False)
        ok, _ = wait_until(lambda: put(alone, "/v2/keys/f4/k", {"value": "after"},
                                       timeout=10).status == 200, 30, 0.2)
        assert ok, "writes do not work again after a member came back"
        for m in (alone, killed):
            r = get(m, "/v2/keys/f4/k?quorum=true", timeout=10)
            assert r.json()["node"]["value"] == "after", (m.name, r)
        assert put(killed, "/v2/keys/f4/k2", {"value": "x"}, timeout=10).status == 201
    finally:
        sigcont(stopped)
    # (a write that timed out may or may not have been applied: etcd says nothing)
    same_index_everywhere(cluster)
    vals = {get(m, "/v2/keys/f4/k").json()["node"]["value"] for m in cluster}
    assert vals == {"after"}


def test_watch_on_follower_across_leader_kill(make_cluster):
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    f, other = [m for m in cluster if m is not lead]
    first = put(lead, "/v2/keys/f5/k", {"value": "start"}).json()["node"]["modifiedIndex"]
    # a watch without waitIndex starts after what its member has applied: let f apply it
    ok, _ = wait_until(lambda: f.index() >= first, 5, 0.01)
    assert ok
    stream = StreamReader(f, "/v2/keys/f5?wait=true&recursive=true&stream=true")
    polled = []
    poll_err = []

    def poller():
        # chained long polls: each asks for the event after the last one seen
        nxt = first + 1
        try:
            while True:
                p = Poll(f, "/v2/keys/f5?wait=true&recursive=true&waitIndex=%d" % nxt,
                         timeout=30)
                ev = p.wait(35).json()
                polled.append(ev)
                nxt = ev["node"]["modifiedIndex"] + 1
                if ev["node"]["key"] == "/f5/done":
                    return
        except Exception as e:  # noqa: BLE001
            poll_err.append(e)
    pt = threading.Thread(target=poller, daemon=True)
    pt.start()
    sent = []
    try:
        for n in range(10):
            r = put([lead, other, f][n % 3], "/v2/keys/f5/a%d" % n, {"value": str(n)})
            assert r.status == 201, r
            sent.append(r.json())
        lead.kill()
        new = leader_of([f, other])
        knows_leader(f, new)
        for n in range(10):
            r = put([f, other][n % 2], "/v2/keys/f5/b%d" % n, {"value": str(n)}, timeout=10)
            assert r.status == 201, r
            sent.append(r.json())
        r = put(other, "/v2/keys/f5/done", {"value": "1"}, timeout=10)
        assert r.status == 201, r
        sent.append(r.json())
        got = []
        while len(got) < len(sent):
            got.append(json.loads(stream.next_chunk(timeout=15)))
    finally:
        stream.close()
    pt.join(40)
    assert not poll_err, poll_err
    idx = [e["node"]["modifiedIndex"] for e in got]
    assert idx == sorted(idx) and len(set(idx)) == len(idx)
    # the stream and the chained polls saw exactly what the writers were told
    assert [(e["action"], e["node"]) for e in got] == [(e["action"], e["node"]) for e in sent]
    assert [(e["action"], e["node"]) for e in polled] == [
        (e["action"], e["node"]) for e in sent]


def test_rolling_kill9_rounds_under_load(make_cluster, monkeypatch):
    """Rounds of kill -9 of one member (the leader on even rounds, a follower on odd
    ones) while clients write through all three, with small snapshots; the killed
    member restarts on its data directory before the next round."""
    snapshot_every(monkeypatch, 50)
    cluster = make_cluster(3)
    acked = {}
    for rnd in range(4):
        lead = leader_of(cluster)
        victim = lead if rnd % 2 == 0 else [m for m in cluster if m is not lead][rnd % 2]
        w = Writers(cluster, "/f6/r%d" % rnd, per_member=2)
        try:
            ok, _ = wait_until(lambda: w.count() >= 40, 15, 0.05)
            assert ok, "round %d: too few writes before the kill" % rnd
            victim.kill()
            at_kill = w.count()
            ok, _ = wait_until(lambda: w.count() >= at_kill + 40, 20, 0.05)
            assert ok, "round %d: writes stopped after killing %s" % (rnd, victim.name)
            victim.start(timeout=60)
            at_start = w.count()
            ok, _ = wait_until(lambda: w.count() >= at_start + 20, 20, 0.05)
            assert ok, "round %d: writes stopped after %s came back" % (rnd, victim.name)
        finally:
            w.stop()
        acked.update(w.acked)
    same_index_everywhere(cluster)
    check_acked(cluster, "/f6", acked)
    trees = [leaves(m, "/f6") for m in cluster]
    assert trees[0] == trees[1] == trees[2]


def test_quorum_reads_stay_linearizable_across_leader_faults(make_cluster):
    """One writer raises a counter key through every member in turn while readers
    send quorum GETs to every member; the leader is SIGSTOPped (with quorum GETs
    queued on it, answered after SIGCONT) and later the new leader is kill -9'd.  A
    quorum GET must never return a value older than one acknowledged before it was
    sent, nor one that had not been sent when it returned."""
    cluster = make_cluster(3)
    key = "/v2/keys/f7/counter"
    assert put(cluster[0], key, {"value": "0"}).status == 201
    lock = threading.Lock()
    acks = []           # (time acknowledged, value)
    sent = [0]          # highest value sent so far
    reads = []          # (time sent, value, time answered, member)
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            with lock:
                sent[0] = n
            try:
                r = put(cluster[n % 3], key, {"value": str(n)}, timeout=10)
            except OSError:
                continue
            if r.status == 200:
                with lock:
                    acks.append((time.monotonic(), n))

    def reader(m):
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = get(m, key + "?quorum=true", timeout=15)
            except OSError:
                time.sleep(0.05)
                continue
            t1 = time.monotonic()
            if r.status == 200:
                with lock:
                    reads.append((t0, int(r.json()["node"]["value"]), t1, m.name, sent[0]))

    threads = [threading.Thread(target=writer, daemon=True)]
    threads += [threading.Thread(target=reader, args=(m,), daemon=True)
                for m in cluster for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        lead = leader_of(cluster)
        sigstop(lead)
        try:
            new = leader_of([m for m in cluster if m is not lead])
            time.sleep(1.5)
        finally:
            sigcont(lead)
        time.sleep(2)
        new.kill()
        leader_of([m for m in cluster if m is not new])
        time.sleep(1.5)
        new.start(timeout=60)
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    acks.sort()
    assert len(acks) > 20 and len(reads) > 50, (len(acks), len(reads))
    bad = []
    for t0, v, t1, name, sent_then in reads:
        before = [n for ta, n in acks if ta < t0]
        if before and v < max(before):
            bad.append(("stale", name, v, max(before)))
        if v > sent_then:
            bad.append(("from the future", name, v, sent_then))
    assert not bad, "%d of %d quorum reads broke linearizability, e.g. %r" % (
        len(bad), len(reads), bad[:5])


class PeerProxy:
    """A TCP relay in front of one member's peer port: the member advertises the
    relay's URL, so every connection another member opens to it goes through here.
    block() cuts those connections and refuses new ones (what the member hears from
    its peers), unblock() heals."""

    def __init__(self, target_port):
        import socket
        self.target = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = itestlib.free_port()
        self.lsock.bind((itestlib.HOST, self.port))
        self.lsock.listen(64)
        self.blocked = False
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                if self.blocked:
                    c.close()
                    continue
            try:
                u = socket.create_connection((itestlib.HOST, self.target), timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        import socket
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def block(self):
        import socket
        with self.lock:
            self.blocked = True
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def unblock(self):
        with self.lock:
            self.blocked = False

    def close(self):
        self.closed = True
        self.block()
        self.lsock.close()


class ProxiedProc(itestlib.ServerProc):
    """A member that listens for peers on listen_peer_port but advertises peer_url
    (its PeerProxy)."""

    listen_peer_port = None

    def argv(self):
        a = super().argv()
        a[a.index("--listen-peer-urls") + 1] = "http://%s:%d" % (itestlib.HOST,
                                                                self.listen_peer_port)
        return a


@pytest.fixture
def proxied_cluster(server_bin, server_kind):
    """make(n) -> (members, proxies): a cluster whose peer traffic goes through
    one PeerProxy per member."""
    made = []

    def make(n):
        real = [itestlib.free_port() for _ in range(n)]
        proxies = [PeerProxy(p) for p in real]
        names = ["m%d" % i for i in range(n)]
        initial = ",".join("%s=http://%s:%d" % (nm, itestlib.HOST, px.port)
                           for nm, px in zip(names, proxies))
        members = []
        for nm, rp, px in zip(names, real, proxies):
            s = ProxiedProc(server_bin, server_kind, name=nm,
                            ports=(itestlib.free_port(), px.port), initial_cluster=initial)
            s.listen_peer_port = rp
            made.append((s, px))
            members.append(s)
        for s in members:
            s.start(wait=False)
        for s in members:
            s.wait_ready(60)
        return members, proxies
    yield make
    errors = []
    for s, px in made:
        px.close()
        try:
            s.cleanup()
        except itestlib.ServerError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


ETCD_STREAMS = ("etcd's transport also carries a member's messages on streams its peers "
                "dial to it: a relay in front of one member cannot cut one direction")


def test_leader_cut_off_from_its_peers(proxied_cluster, server_kind):
    """Nothing reaches the leader from its peers (its peer proxy refuses them): the
    other two elect a leader and keep accepting writes, the cut-off member stops
    being leader (check-quorum) and acknowledges nothing that is not in the final
    log; healed, it converges."""
    if server_kind == "etcd":
        pytest.skip(ETCD_STREAMS)
    cluster, proxies = proxied_cluster(3)
    lead = leader_of(cluster)
    px = proxies[cluster.index(lead)]
    rest = [m for m in cluster if m is not lead]
    assert put(lead, "/v2/keys/f8/before", {"value": "1"}).status == 201
    w = Writers(rest, "/f8/load", per_member=1)
    wl = Writers([lead], "/f8/onlead", per_member=2, timeout=30)
    try:
        px.block()
        t0 = time.time()

        def new_leader():
            for m in rest:
                try:
                    if get(m, "/v2/stats/self", timeout=2).json()["state"] == "StateLeader":
                        return m
                except OSError:
                    pass
            return None
        new, took = wait_until(new_leader, 20, 0.1)
        assert new, "the connected majority elected no leader"
        at = w.count()
        ok, _ = wait_until(lambda: w.count() >= at + 30, 20, 0.05)
        assert ok, "the majority does not accept writes with the old leader cut off"
        stepped, _ = wait_until(lambda: get(lead, "/v2/stats/self", timeout=3).json()
                                ["state"] != "StateLeader", 10, 0.1)
        assert stepped, "the cut-off leader still says it leads %.1f s later" % (
            time.time() - t0)
    finally:
        px.unblock()
    w.stop()
    wl.stop(40)
    ok, _ = wait_until(lambda: put(lead, "/v2/keys/f8/final", {"value": "end"},
                                   timeout=10).status == 201, 30, 0.2)
    assert ok, "the healed member does not accept writes"
    for m in cluster:
        assert get(m, "/v2/keys/f8/final?quorum=true", timeout=10).json()["node"][
            "value"] == "end"
    same_index_everywhere(cluster)
    check_acked(cluster, "/f8/load", w.acked)
    check_acked(cluster, "/f8/onlead", wl.acked)
    trees = [leaves(m, "/f8") for m in cluster]
    assert trees[0] == trees[1] == trees[2]


def test_follower_cut_off_does_not_depose_the_leader(proxied_cluster, server_kind):
    """Nothing reaches one follower from its peers: it campaigns in vain (pre-vote,
    so without raising its term), the other two keep their leader and term and never
    stall; healed, the follower catches up without an election."""
    if server_kind == "etcd":
        pytest.skip(ETCD_STREAMS)
    cluster, proxies = proxied_cluster(3)
    lead = leader_of(cluster)
    f = [m for m in cluster if m is not lead][0]
    term = get(lead, "/v2/keys/").headers["x-raft-term"]
    proxies[cluster.index(f)].block()
    try:
        slowest = 0.0
        for n in range(60):
            t0 = time.time()
            r = put(cluster[cluster.index(f) - 1 - n % 2], "/v2/keys/f9/k%d" % n, {"value": "x"})
            slowest = max(slowest, time.time() - t0)
            assert r.status == 201, r
            time.sleep(0.05)
        assert slowest < 1.0, "a write took %.1f s with one follower cut off" % slowest
        assert get(lead, "/v2/stats/self").json()["state"] == "StateLeader"
    finally:
        proxies[cluster.index(f)].unblock()
    ok, _ = wait_until(lambda: get(f, "/v2/keys/f9/k59").status == 200, 15, 0.1)
    assert ok, "the healed follower did not catch up"
    assert put(f, "/v2/keys/f9/after", {"value": "y"}).status == 201
    assert leader_of(cluster) is lead
    for m in cluster:
        assert get(m, "/v2/keys/").headers["x-raft-term"] == term, m.name
    same_index_everywhere(cluster)


def test_ttl_keys_expire_after_leader_kill(make_cluster):
    """Expiry is the leader's job: keys whose TTL runs out after the leader was
    kill -9'd are expired by the new one, at the same index on every member, the
    restarted old leader included."""
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    rest = [m for m in cluster if m is not lead]
    made = {}
    for n in range(5):
        r = put(rest[n % 2], "/v2/keys/fa/t%d" % n, {"value": "v", "ttl": "3"})
        assert r.status == 201, r
        made["/fa/t%d" % n] = r.json()["node"]["modifiedIndex"]
    assert put(rest[0], "/v2/keys/fa/keep", {"value": "k"}).status == 201
    lead.kill()
    t0 = time.time()
    for m in rest:
        gone, _ = wait_until(lambda: leaves(m, "/fa").keys() == {"/fa/keep"}, 15, 0.1)
        assert gone, "%s still has %s" % (m.name, sorted(leaves(m, "/fa")))
    assert time.time() - t0 < 12, "expiry took %.1f s after the leader died" % (time.time() - t0)
    lead.start(timeout=60)
    same_index_everywhere(cluster)

    def expiries(m):
        out = {}
        for key, idx in made.items():
            r = get(m, "/v2/keys%s?wait=true&waitIndex=%d" % (key, idx + 1), timeout=5)
            assert r.status == 200, (m.name, key, r)
            ev = r.json()
            assert ev["action"] == "expire", ev
            out[key] = ev["node"]["modifiedIndex"]
        return out
    e = [expiries(m) for m in cluster]
    assert e[0] == e[1] == e[2]
    assert leaves(lead, "/fa").keys() == {"/fa/keep"}


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_follower_killed_while_catching_up_by_snapshot(make_cluster, monkeypatch, delay):
    """A follower behind the leader's compaction is resumed and kill -9'd while the
    (1 MB) snapshot is on its way or being installed; restarted on its data
    directory it must come back whole: same keys and index as the others."""
    snapshot_every(monkeypatch, 100)
    cluster = make_cluster(3)
    lead = leader_of(cluster)
    f = [m for m in cluster if m is not lead][0]
    others = [m for m in cluster if m is not f]
    assert put(f, "/v2/keys/fb/first", {"value": "1"}).status == 201
    sigstop(f)
    try:
        w = Writers(others, "/fb/load", per_member=2)
        ok, _ = wait_until(lambda: w.count() >= 400, 30, 0.05)
        w.stop()
        assert ok, "too few writes: %d" % w.count()
        big = "x" * 2000
        for n in range(500):
            assert put(others[n % 2], "/v2/keys/fb/big/k%03d" % n, {"value": big}).status == 201
    finally:
        sigcont(f)
    time.sleep(delay)
    f.kill()
    f.start(timeout=60)
    same_index_everywhere(cluster, 30)
    want = leaves(lead, "/fb")
    assert len(want) >= 501 + len(w.acked)
    assert leaves(f, "/fb") == want
    assert put(f, "/v2/keys/fb/after", {"value": "a"}).status == 201
    assert get(lead, "/v2/keys/fb/after?quorum=true").json()["node"]["value"] == "a"
