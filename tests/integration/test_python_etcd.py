"""python-etcd (Debian python3-etcd), an unmodified v2 client library: every
call its Client offers and the exception class each v2 error maps to.
"""

import threading
import time

import pytest

etcd = pytest.importorskip("etcd")


@pytest.fixture
def client(server):
    c = etcd.Client(host="127.0.0.1", port=server.client_port, read_timeout=10)
    yield c
    c.http.clear()


def test_write_read_set_get(client, uniq):
    r = client.write(uniq + "/a", "1")
    assert r.action == "set" and r.value == "1" and r.newKey is True
    assert r.key == uniq + "/a"
    assert r.etcd_index == r.modifiedIndex
    r = client.set(uniq + "/a", "2")
    assert r.value == "2" and r.newKey is False
    assert r._prev_node.value == "1"
    assert client.read(uniq + "/a").value == "2"
    assert client.get(uniq + "/a").value == "2"
    assert (uniq + "/a") in client
    assert (uniq + "/nope") not in client
    # integer values travel as text
    assert client.write(uniq + "/n", 42).value == "42"


def test_error_classes(client, uniq):
    client.write(uniq + "/k", "v")
    client.write(uniq + "/d", None, dir=True)
    client.write(uniq + "/d/child", "c")
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read(uniq + "/missing")
    with pytest.raises(etcd.EtcdAlreadyExist):
        client.write(uniq + "/k", "x", prevExist=False)
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.write(uniq + "/missing", "x", prevExist=True)
    with pytest.raises(etcd.EtcdCompareFailed):
        client.write(uniq + "/k", "x", prevValue="wrong")
    with pytest.raises(etcd.EtcdCompareFailed):
        client.test_and_set(uniq + "/k", "x", "wrong")
    with pytest.raises(etcd.EtcdNotFile):
        client.write(uniq + "/d", "x")
    with pytest.raises(etcd.EtcdNotFile):
        client.delete(uniq + "/d")
    with pytest.raises(etcd.EtcdDirNotEmpty):
        client.delete(uniq + "/d", dir=True)
    with pytest.raises(etcd.EtcdNotDir):
        client.write(uniq + "/k/below", "x")
    with pytest.raises(etcd.EtcdNotDir):
        client.read(uniq + "/k/below")
    with pytest.raises(etcd.EtcdRootReadOnly):
        client.delete("/", recursive=True)
    with pytest.raises(etcd.EtcdValueError):
        client.write(uniq + "/k", "x", ttl="abc")
    with pytest.raises(etcd.EtcdValueError):
        client.read(uniq + "/k", recursive="maybe")
    # every one of them is an EtcdException
    with pytest.raises(etcd.EtcdException):
        client.read(uniq + "/missing")


def test_update_and_test_and_set(client, uniq):
    client.write(uniq + "/u", "1")
    o = client.read(uniq + "/u")
    o.value = "2"
    r = client.update(o)
    assert r.action == "compareAndSwap" and r.value == "2"
    # a stale object no longer matches prevIndex
    o.value = "3"
    with pytest.raises(etcd.EtcdCompareFailed):
        client.update(o)
    r = client.test_and_set(uniq + "/u", "new", "2", ttl=60)
    assert r.value == "new" and r.ttl == 60
    r = client.write(uniq + "/u", "byindex", prevIndex=r.modifiedIndex)
    assert r.action == "compareAndSwap"
    # update() of a directory changes its TTL only
    client.write(uniq + "/ud", None, dir=True, ttl=100)
    d = client.read(uniq + "/ud")
    d.ttl = 200
    r = client.update(d)
    assert r.dir is True and r.ttl == 200


def test_delete_pop(client, uniq):
    client.write(uniq + "/p", "popped")
    prev = client.pop(uniq + "/p")
    assert prev.value == "popped"
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read(uniq + "/p")
    client.write(uniq + "/c", "v")
    with pytest.raises(etcd.EtcdCompareFailed):
        client.delete(uniq + "/c", prevValue="other")
    r = client.delete(uniq + "/c", prevValue="v")
    assert r.action == "compareAndDelete"
    r = client.write(uniq + "/ci", "v")
    assert client.delete(uniq + "/ci", prevIndex=r.modifiedIndex).action == "compareAndDelete"


def test_directories(client, uniq):
    r = client.write(uniq + "/dir", None, dir=True)
    assert r.dir is True
    for name, v in (("b", "2"), ("a", "1"), ("sub/c", "3")):
        client.write(uniq + "/dir/" + name, v)
    top = client.read(uniq + "/dir")
    assert top.dir is True
    assert sorted(c.key for c in top.leaves) == [uniq + "/dir/" + n for n in ("a", "b", "sub")]
    rec = client.read(uniq + "/dir", recursive=True, sorted=True)
    assert [c.value for c in rec.leaves] == ["1", "2", "3"]
    assert [c.key for c in rec.get_subtree()] == [
        uniq + "/dir", uniq + "/dir/a", uniq + "/dir/b", uniq + "/dir/sub", uniq + "/dir/sub/c"]
    client.write(uniq + "/dir/empty", None, dir=True)
    assert client.delete(uniq + "/dir/empty", dir=True).action == "delete"
    assert client.delete(uniq + "/dir", recursive=True).action == "delete"
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read(uniq + "/dir")
    with pytest.raises(etcd.EtcdException):
        client.write(uniq + "/x", "value", dir=True)   # refused by the client itself


def test_in_order_append(client, uniq):
    keys = [client.write(uniq + "/queue", "job%d" % n, append=True) for n in range(5)]
    assert all(k.action == "create" and k.newKey for k in keys)
    names = [k.key for k in keys]
    assert names == sorted(names)
    listed = client.read(uniq + "/queue", sorted=True)
    assert [c.value for c in listed.leaves] == ["job%d" % n for n in range(5)]
    assert [c.key for c in listed.leaves] == names


def test_ttl_and_refresh(client, uniq):
    r = client.write(uniq + "/t", "v", ttl=2)
    assert r.ttl == 2 and r.expiration is not None
    r = client.refresh(uniq + "/t", ttl=30)
    assert r.value == "v" and r.ttl == 30
    time.sleep(2.3)
    assert client.read(uniq + "/t").value == "v"
    client.write(uniq + "/gone", "v", ttl=1)
    t0 = time.time()
    while time.time() - t0 < 4:
        try:
            client.read(uniq + "/gone")
        except etcd.EtcdKeyNotFound:
            break
        time.sleep(0.05)
    else:
        pytest.fail("key with ttl=1 did not expire")
    assert time.time() - t0 <= 2.6
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.refresh(uniq + "/absent", ttl=5)


def test_watch(client, uniq):
    client.write(uniq + "/w", "0")
    got = {}

    def watcher():
        got["r"] = client.watch(uniq + "/w", timeout=10)

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.3)
    w = client.write(uniq + "/w", "1")
    t.join(10)
    assert got["r"].value == "1" and got["r"].modifiedIndex == w.modifiedIndex
    # from an index in history, and recursive
    old = client.watch(uniq + "/w", index=w.modifiedIndex, timeout=5)
    assert old.value == "1"
    client.write(uniq + "/rec/deep", "x")
    r = client.watch(uniq, index=w.modifiedIndex + 1, recursive=True, timeout=5)
    assert r.key == uniq + "/rec/deep"


def test_watch_timeout(client, uniq):
    with pytest.raises(etcd.EtcdWatchTimedOut):
        client.watch(uniq + "/never", timeout=0.5)
    # the client is still usable afterwards
    client.write(uniq + "/after", "ok")
    assert client.read(uniq + "/after").value == "ok"


def test_eternal_watch_bounded(client, uniq):
    start = client.write(uniq + "/e", "0").modifiedIndex
    for n in range(1, 4):
        client.write(uniq + "/e", str(n))
    seen = []
    for ev in client.eternal_watch(uniq + "/e", index=start + 1):
        seen.append(ev.value)
        if len(seen) == 3:
            break
    assert seen == ["1", "2", "3"]

    def later():
        time.sleep(0.3)
        client.write(uniq + "/e", "live")
    t = threading.Thread(target=later)
    t.start()
    gen = client.eternal_watch(uniq + "/e")
    assert next(gen).value == "live"
    t.join()


def test_event_index_cleared(fresh_server):
    c = etcd.Client(host="127.0.0.1", port=fresh_server.client_port, read_timeout=30)
    for n in range(1010):
        c.write("/hist/k", str(n))
    with pytest.raises(etcd.EtcdEventIndexCleared):
        c.watch("/hist/k", index=1, timeout=5)
    # recovery: read, then watch from etcd_index + 1
    r = c.read("/hist/k")
    got = {}

    def watcher():
        got["r"] = c.watch("/hist/k", index=r.etcd_index + 1, timeout=10)
    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.3)
    c.write("/hist/k", "fresh")
    t.join(10)
    assert got["r"].value == "fresh"
    c.http.clear()


def test_cluster_info(client, server, server_kind):
    members = client.members
    assert len(members) == 1
    (mid, m), = members.items()
    assert m["name"] == server.name and m["clientURLs"] == [server.url]
    assert client.leader == m
    assert client.machines == [server.url]
    st = client.stats
    assert st["name"] == server.name and st["state"] == "StateLeader"
    assert client.leader_stats["leader"] == mid
    assert "setsSuccess" in client.store_stats
    assert client.version and client.cluster_version
    if server_kind == "etcetera":
        assert client.version == "2.3.8"


def test_reconnecting_client(server, uniq):
    c = etcd.Client(host=(("127.0.0.1", server.client_port),), allow_reconnect=True,
                    read_timeout=10)
    c.write(uniq + "/r", "v")
    assert c.read(uniq + "/r").value == "v"
    c.http.clear()


def test_lock(client, uniq):
    lock = etcd.Lock(client, uniq[1:] + "_lock")
    assert lock.acquire(lock_ttl=30)
    assert lock.is_acquired
    other = etcd.Lock(client, uniq[1:] + "_lock")
    assert not other.acquire(blocking=False)
    lock.release()
    assert other.acquire(blocking=True, timeout=5, lock_ttl=30)
    other.release()
