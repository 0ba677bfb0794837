"""Durability: the server is SIGKILLed while writers are running and restarted on
the same data directory; every write it acknowledged must be read back with
its value and index.  Also: a torn WAL tail (etcetera's layout only), TTLs and
the event history across restarts.

A write counts as acknowledged when the client received a 2xx answer.  Writes
that were in flight when the process died may or may not survive.  The random
moments come from a seed printed in the failure message (ET_KILL9_SEED
repeats a run).
"""

import glob
import json
import http.client
import os
import random
import signal
import threading
import time

import pytest

from itestlib import get, key_tree as read_tree, put, wait_until

ROUNDS = int(os.environ.get("ET_KILL9_ROUNDS", "20"))
WRITERS = 4
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Writer(threading.Thread):
    """PUTs unique keys (and overwrites one counter key) until the server dies
    or stop is set; records every acknowledged write."""

    def __init__(self, server, prefix, wid, rng, stop):
        super().__init__(daemon=True)
        self.server = server
        self.prefix = "%s/w%d" % (prefix, wid)
        self.rng = random.Random(rng.random())
        self.stop = stop
        self.acked = []          # (key, value, modifiedIndex)
        self.last_acked = None   # highest counter value acknowledged
        self.last_sent = None    # highest counter value sent

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.client_port, timeout=10)
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                if n % 5 == 0:
                    self.last_sent = n
                    conn.request("PUT", "/v2/keys%s/last" % self.prefix, body="value=%d" % n,
                                 headers=FORM)
                    r = conn.getresponse()
                    r.read()
                    if r.status in (200, 201):
                        self.last_acked = n
                    continue
                key = "%s/k%06d" % (self.prefix, n)
                value = "%d-%x" % (n, self.rng.getrandbits(48))
                conn.request("PUT", "/v2/keys" + key, body="value=" + value, headers=FORM)
                r = conn.getresponse()
                body = r.read()
                if r.status == 201:
                    idx = json.loads(body)["node"]["modifiedIndex"]
                    self.acked.append((key, value, idx))
        except (OSError, http.client.HTTPException):
            pass                 # the server was killed
        finally:
            conn.close()


def run_writers(server, prefix, rng, duration):
    stop = threading.Event()
    ws = [Writer(server, prefix, i, rng, stop) for i in range(WRITERS)]
    for w in ws:
        w.start()
    time.sleep(duration)
    return ws, stop


def check_acked(tree, writers, tag):
    missing = []
    for w in writers:
        for key, value, idx in w.acked:
            got = tree.get(key)
            if got != (value, idx):
                missing.append((key, value, idx, got))
        if w.last_acked is not None:
            got = tree.get(w.prefix + "/last")
            v = int(got[0]) if got else None
            assert v is not None and w.last_acked <= v <= w.last_sent, (
                "%s: counter %s, acknowledged %s, last sent %s" % (
                    tag, v, w.last_acked, w.last_sent))
    return missing


@pytest.mark.parametrize("snapshot_count", [None, 200])
def test_kill9_rounds(make_server, snapshot_count):
    """With --snapshot-count 200 the kills also land while snapshots are being written."""
    seed = int(os.environ.get("ET_KILL9_SEED", str(int(time.time() * 1000) % 100000)))
    rng = random.Random(seed)
    server = make_server(extra_args=["--snapshot-count", str(snapshot_count)]
                         if snapshot_count else [])
    all_writers = []
    total = 0
    for rnd in range(ROUNDS):
        prefix = "/k9/r%02d" % rnd
        ws, stop = run_writers(server, prefix, rng, rng.uniform(0.05, 0.6))
        server.kill()
        for w in ws:
            w.join(15)
        stop.set()
        acked = sum(len(w.acked) for w in ws)
        total += acked
        server.start()
        tree = read_tree(server, prefix)
        missing = check_acked(tree, ws, "round %d" % rnd)
        assert not missing, "seed %d round %d: %d of %d acknowledged writes lost, e.g. %r" % (
            seed, rnd, len(missing), acked, missing[:3])
        all_writers.extend(ws)
    # everything from every round is still there after the last restart
    server.restart(signal.SIGTERM)
    tree = read_tree(server, "/k9")
    missing = check_acked(tree, all_writers, "final")
    assert not missing, "seed %d: %d writes lost after a clean restart" % (seed, len(missing))
    print("kill9: seed %d, %d rounds, %d acknowledged writes checked" % (seed, ROUNDS, total))
    assert total > ROUNDS, "too few writes were acknowledged to test anything (%d)" % total


def _newest_wal(data_dir):
    files = [f for f in glob.glob(os.path.join(data_dir, "member", "wal", "*"))
             if os.path.isfile(f) and os.path.getsize(f) > 0]
    if not files:
        return None
    wals = sorted(f for f in files if f.endswith(".wal"))
    if wals:
        return wals[-1]       # <seq:016x>-<index:016x>.wal: the name sorts by age
    return max(files, key=lambda f: (os.path.getmtime(f), f))


def _last_nonzero(path):
    """Offset just past the last non-zero byte (the end of the data in a
    preallocated segment)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            block = f.read(step)
            stripped = block.rstrip(b"\0")
            if stripped:
                return pos - step + len(stripped)
            pos -= step
    return 0


def test_torn_wal_tail(make_server, server_kind):
    if server_kind == "etcd":
        pytest.skip("torn-tail round uses etcetera's WAL layout")
    rng = random.Random(int(os.environ.get("ET_KILL9_SEED", "7")))
    server = make_server()
    ws, stop = run_writers(server, "/torn/a", rng, 0.5)
    stop.set()
    for w in ws:
        w.join(15)
    server.kill()
    wal = _newest_wal(server.data_dir)
    assert wal, "no WAL file under %s/member/wal" % server.data_dir
    end = _last_nonzero(wal)
    cut = rng.randint(1, 8)
    assert end > cut
    os.truncate(wal, end - cut)
    server.start()   # a torn tail must be repaired, not refuse start-up
    tree = read_tree(server, "/torn/a")
    acked = sorted((idx, key, value) for w in ws for key, value, idx in w.acked)
    lost = [(idx, key) for idx, key, value in acked if tree.get(key) != (value, idx)]
    kept = [idx for idx, key, value in acked if tree.get(key) == (value, idx)]
    if lost:
        # only the newest writes (the torn record) may be gone, never a hole
        assert min(i for i, _ in lost) > max(kept or [0]), "hole in the log: lost %r" % lost[:5]
        assert len(lost) <= 2 * WRITERS, "torn tail lost %d writes" % len(lost)
    # writes after the repair are durable too
    ws2, stop2 = run_writers(server, "/torn/b", rng, 0.3)
    server.kill()
    stop2.set()
    for w in ws2:
        w.join(15)
    server.start()
    assert not check_acked(read_tree(server, "/torn/b"), ws2, "after repair")
    assert get(server, "/v2/keys/torn/after").status == 404
    assert put(server, "/v2/keys/torn/after", {"value": "ok"}).status == 201


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_ttl_survives_restart(restartable_server, sig):
    server = restartable_server
    t0 = time.time()
    short = put(server, "/v2/keys/ttl/short", {"value": "s", "ttl": "2"}).json()["node"]
    long_ = put(server, "/v2/keys/ttl/long", {"value": "l", "ttl": "100"}).json()["node"]
    put(server, "/v2/keys/ttl/dir?dir=true&ttl=2")
    put(server, "/v2/keys/ttl/dir/child", {"value": "c"})
    put(server, "/v2/keys/ttl/perm", {"value": "p"})
    if sig == signal.SIGKILL:
        server.kill()
    else:
        server.stop(sig)
    time.sleep(max(0.0, t0 + 2.5 - time.time()))
    server.start()
    ready = time.time()
    gone, _ = wait_until(lambda: get(server, "/v2/keys/ttl/short").status == 404, 3.0)
    assert gone, "a key whose TTL ran out while the server was down is still there"
    assert time.time() - ready <= 1.5 + 0.2
    gone, _ = wait_until(lambda: get(server, "/v2/keys/ttl/dir/child").status == 404, 1.5)
    assert gone
    n = get(server, "/v2/keys/ttl/long").json()["node"]
    assert n["value"] == "l"
    assert n["expiration"] == long_["expiration"], "restart moved the expiration time"
    assert n["ttl"] <= 100 - int(time.time() - t0) + 1
    assert get(server, "/v2/keys/ttl/perm").json()["node"]["value"] == "p"
    # the expiry is an ordinary event in the history
    ev = get(server, "/v2/keys/ttl/short?wait=true&waitIndex=%d" % (short["modifiedIndex"] + 1),
             timeout=5).json()
    assert ev["action"] == "expire" and ev["prevNode"]["value"] == "s"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_history_survives_restart(restartable_server, sig):
    server = restartable_server
    idx = []
    for v in ("1", "2", "3"):
        idx.append(put(server, "/v2/keys/hist/k", {"value": v}).json()["node"]["modifiedIndex"])
    put(server, "/v2/keys/hist/other", {"value": "x"})
    before = server.index()
    server.restart(sig)
    assert server.index() >= before
    for v, i in zip(("1", "2", "3"), idx):
        r = get(server, "/v2/keys/hist/k?wait=true&waitIndex=%d" % i, timeout=5)
        assert r.status == 200
        b = r.json()
        assert b["node"]["value"] == v and b["node"]["modifiedIndex"] == i
    r = get(server, "/v2/keys/hist?wait=true&recursive=true&waitIndex=%d" % (idx[2] + 1),
            timeout=5).json()
    assert r["node"]["key"] == "/hist/other"
    # new writes continue the index sequence
    n = put(server, "/v2/keys/hist/k", {"value": "4"}).json()["node"]
    assert n["modifiedIndex"] > before
    assert n["createdIndex"] == n["modifiedIndex"]
