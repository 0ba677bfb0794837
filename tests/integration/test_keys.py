"""The /v2/keys API over plain HTTP: CRUD, directories, TTLs, in-order keys,
hidden keys, compare-and-swap/delete, parameter validation and the HTTP
surface (405, 404, 301, CORS, HEAD, escapes, body limits).

Every expectation here is what real etcd 3.4 (--enable-v2) does; the tests pass
against it.  Keys live under a directory unique to each test, so the tests
share one server per module.
"""

import json
import time
import urllib.parse

import pytest

from itestlib import delete, get, post, put, request, wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CORS = {
    "access-control-allow-headers": "accept, content-type, authorization",
    "access-control-allow-methods": "POST, GET, OPTIONS, PUT, DELETE",
    "access-control-allow-origin": "*",
}


def K(prefix, *parts):
    return "/v2/keys" + prefix + "".join("/" + p for p in parts)


def check_error(r, status, code, cause=None, message=None):
    assert r.status == status, r
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["errorCode"] == code, body
    if cause is not None:
        assert body.get("cause") == cause, body
    if message is not None:
        assert body["message"] == message
    assert int(r.headers["x-etcd-index"]) == body["index"]
    assert r.body.endswith(b"\n")
    return body


# ---------------------------------------------------------------------------
# basic CRUD
# ---------------------------------------------------------------------------

def test_set_get_overwrite(server, uniq):
    r = put(server, K(uniq, "foo"), {"value": "bar"})
    assert r.status == 201
    assert r.headers["content-type"] == "application/json"
    for h in ("x-etcd-cluster-id", "x-raft-index", "x-raft-term", "date"):
        assert h in r.headers, h
    assert r.body.endswith(b"\n")
    b = r.json()
    assert b["action"] == "set"
    n = b["node"]
    assert n["key"] == uniq + "/foo" and n["value"] == "bar"
    assert n["modifiedIndex"] == n["createdIndex"] == int(r.headers["x-etcd-index"])
    assert "prevNode" not in b
    assert list(b) == ["action", "node"]
    assert list(n) == ["key", "value", "modifiedIndex", "createdIndex"]

    r2 = put(server, K(uniq, "foo"), {"value": "baz"})
    assert r2.status == 200
    b2 = r2.json()
    assert b2["action"] == "set"
    assert b2["node"]["value"] == "baz"
    assert b2["node"]["createdIndex"] == b2["node"]["modifiedIndex"] > n["modifiedIndex"]
    assert b2["prevNode"] == n

    g = get(server, K(uniq, "foo"))
    assert g.status == 200
    assert g.json() == {"action": "get", "node": b2["node"]}
    assert int(g.headers["x-etcd-index"]) >= b2["node"]["modifiedIndex"]


def test_get_missing(server, uniq):
    r = get(server, K(uniq, "nope", "deeper"))
    check_error(r, 404, 100, cause=uniq, message="Key not found")
    put(server, K(uniq, "a"), {"value": "1"})
    # first missing component is the cause; below a key is "Not a directory"
    check_error(get(server, K(uniq, "zz", "yy")), 404, 100, cause=uniq + "/zz")
    check_error(get(server, K(uniq, "a", "b")), 400, 104, cause=uniq + "/a",
                message="Not a directory")


def test_create_and_update(server, uniq):
    r = put(server, K(uniq, "c") + "?prevExist=false", {"value": "1"})
    assert r.status == 201 and r.json()["action"] == "create"
    check_error(put(server, K(uniq, "c") + "?prevExist=false", {"value": "2"}),
                412, 105, cause=uniq + "/c", message="Key already exists")
    check_error(put(server, K(uniq, "u") + "?prevExist=true", {"value": "2"}),
                404, 100, cause=uniq + "/u")
    created = r.json()["node"]["createdIndex"]
    u = put(server, K(uniq, "c") + "?prevExist=true", {"value": "2"})
    assert u.status == 200
    b = u.json()
    assert b["action"] == "update"
    assert b["node"]["createdIndex"] == created
    assert b["node"]["modifiedIndex"] > created
    assert b["prevNode"]["value"] == "1"
    # update without value stores ""
    u2 = put(server, K(uniq, "c") + "?prevExist=true")
    assert u2.json()["node"]["value"] == ""


def test_delete_key(server, uniq):
    w = put(server, K(uniq, "d"), {"value": "x"}).json()["node"]
    r = delete(server, K(uniq, "d"))
    assert r.status == 200
    b = r.json()
    assert b["action"] == "delete"
    assert "value" not in b["node"]
    assert b["node"]["key"] == uniq + "/d"
    assert b["node"]["createdIndex"] == w["createdIndex"]
    assert b["node"]["modifiedIndex"] > w["modifiedIndex"]
    assert b["prevNode"]["value"] == "x"
    check_error(get(server, K(uniq, "d")), 404, 100)
    check_error(delete(server, K(uniq, "d")), 404, 100)
    # prevExist is ignored by DELETE; the key is still missing
    check_error(delete(server, K(uniq, "d") + "?prevExist=true"), 404, 100)


def test_value_forms(server, uniq):
    # no value -> "", body wins over query, first occurrence wins
    assert put(server, K(uniq, "nv")).json()["node"]["value"] == ""
    r = request(server, "PUT", K(uniq, "p") + "?value=fromquery", body="value=frombody",
                headers=FORM)
    assert r.json()["node"]["value"] == "frombody"
    r = request(server, "PUT", K(uniq, "q") + "?value=fromquery")
    assert r.json()["node"]["value"] == "fromquery"
    r = request(server, "PUT", K(uniq, "dup"), body="value=a&value=b", headers=FORM)
    assert r.json()["node"]["value"] == "a"
    # bodies other than form-encoded are ignored
    r = request(server, "PUT", K(uniq, "js"), body='{"value":"x"}',
                headers={"Content-Type": "application/json"})
    assert r.json()["node"]["value"] == ""
    # '+' in a form is a space
    r = request(server, "PUT", K(uniq, "plus"), body="value=a+b%21", headers=FORM)
    assert r.json()["node"]["value"] == "a b!"


def test_json_escaping(server, uniq):
    v = '<a>&"q"\\ tab\tnl\n \u00e9 \u2028'
    r = put(server, K(uniq, "esc"), {"value": v})
    assert r.json()["node"]["value"] == v
    raw = get(server, K(uniq, "esc")).body
    assert b'"\\u003ca\\u003e\\u0026\\"q\\"\\\\ tab\\tnl\\n \xc3\xa9 \\u2028"' in raw


def test_path_escapes(server, uniq):
    r = put(server, K(uniq, "sp%20ace"), {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/sp ace"
    r = put(server, K(uniq, "a+b"), {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/a+b"
    r = put(server, K(uniq, "q%3Fmark"), {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/q?mark"
    r = put(server, K(uniq, "enc%2Fslash"), {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/enc/slash"
    g = get(server, K(uniq, "enc"))
    assert g.json()["node"]["dir"] is True
    r = put(server, K(uniq, "%E2%9C%93"), {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/\u2713"
    # a single trailing slash names the same node
    r = put(server, K(uniq, "ts") + "/", {"value": "1"})
    assert r.json()["node"]["key"] == uniq + "/ts"
    assert get(server, K(uniq, "ts")).json()["node"]["value"] == "1"


def test_no_value_on_success(server, uniq):
    r = put(server, K(uniq, "n") + "?noValueOnSuccess=true", {"value": "1"})
    assert r.status == 201
    assert r.json() == {"action": "set"}
    r = put(server, K(uniq, "n") + "?noValueOnSuccess=true", {"value": "2"})
    assert r.status == 200 and r.json() == {"action": "set"}
    assert get(server, K(uniq, "n")).json()["node"]["value"] == "2"


def test_quorum_get(server, uniq):
    put(server, K(uniq, "qk"), {"value": "v"})
    r = get(server, K(uniq, "qk") + "?quorum=true")
    assert r.status == 200 and r.json()["node"]["value"] == "v"
    # wait=true with quorum=true is a quorum read, not a watch
    r = get(server, K(uniq, "qk") + "?quorum=true&wait=true", timeout=5)
    assert r.status == 200 and r.json()["action"] == "get"


def test_head(server, uniq):
    put(server, K(uniq, "h"), {"value": "hello"})
    g = get(server, K(uniq, "h"))
    h = request(server, "HEAD", K(uniq, "h"))
    assert h.status == 200 and h.body == b""
    assert h.headers["content-type"] == "application/json"
    assert h.headers.get("content-length") == str(len(g.body))
    h = request(server, "HEAD", K(uniq, "missing"))
    assert h.status == 404 and h.body == b""
    h = request(server, "HEAD", K(uniq, "h") + "?wait=true")
    assert h.status == 400


# ---------------------------------------------------------------------------
# directories
# ---------------------------------------------------------------------------

def test_directories(server, uniq):
    r = put(server, K(uniq, "dir1") + "?dir=true")
    assert r.status == 201
    n = r.json()["node"]
    assert n["dir"] is True and "value" not in n
    check_error(put(server, K(uniq, "dir1") + "?dir=true"), 403, 102, cause=uniq + "/dir1",
                message="Not a file")
    check_error(put(server, K(uniq, "dir1"), {"value": "x"}), 403, 102)
    check_error(put(server, K(uniq, "dir1") + "?prevExist=false&dir=true"), 412, 105)
    # empty directory: no nodes field
    g = get(server, K(uniq, "dir1")).json()
    assert g["node"]["dir"] is True and "nodes" not in g["node"]
    # children, one level unless recursive
    put(server, K(uniq, "dir1", "b"), {"value": "2"})
    put(server, K(uniq, "dir1", "a"), {"value": "1"})
    put(server, K(uniq, "dir1", "sub", "x"), {"value": "3"})
    g = get(server, K(uniq, "dir1")).json()["node"]
    keys = sorted(c["key"] for c in g["nodes"])
    assert keys == [uniq + "/dir1/" + c for c in ("a", "b", "sub")]
    sub = [c for c in g["nodes"] if c["key"].endswith("/sub")][0]
    assert sub["dir"] is True and "nodes" not in sub
    g = get(server, K(uniq, "dir1") + "?recursive=true&sorted=true").json()["node"]
    assert [c["key"].rsplit("/", 1)[1] for c in g["nodes"]] == ["a", "b", "sub"]
    assert g["nodes"][2]["nodes"][0]["value"] == "3"
    # recursive/sorted on a key are ignored
    assert get(server, K(uniq, "dir1", "a") + "?recursive=true&sorted=true").json()["node"][
        "value"] == "1"
    # deleting directories
    check_error(delete(server, K(uniq, "dir1")), 403, 102, cause=uniq + "/dir1")
    check_error(delete(server, K(uniq, "dir1") + "?dir=true"), 403, 108, cause=uniq + "/dir1",
                message="Directory not empty")
    d = delete(server, K(uniq, "dir1", "sub", "x"))
    assert d.status == 200
    d = delete(server, K(uniq, "dir1", "sub") + "?dir=true")
    assert d.status == 200 and d.json()["node"]["dir"] is True
    d = delete(server, K(uniq, "dir1") + "?recursive=true")
    assert d.status == 200
    b = d.json()
    assert b["action"] == "delete" and b["node"]["dir"] is True
    assert b["prevNode"]["dir"] is True and "nodes" not in b["prevNode"]
    check_error(get(server, K(uniq, "dir1", "a")), 404, 100, cause=uniq + "/dir1")


def test_implicit_parents(server, uniq):
    r = put(server, K(uniq, "a", "b", "c"), {"value": "efg"})
    idx = r.json()["node"]["modifiedIndex"]
    for p in (K(uniq, "a"), K(uniq, "a", "b")):
        n = get(server, p).json()["node"]
        assert n["dir"] is True
        assert n["createdIndex"] == n["modifiedIndex"] == idx
    # a directory's modifiedIndex does not move when children change
    put(server, K(uniq, "a", "b", "d"), {"value": "1"})
    delete(server, K(uniq, "a", "b", "c"))
    n = get(server, K(uniq, "a", "b")).json()["node"]
    assert n["modifiedIndex"] == idx
    # writing below a key
    check_error(put(server, K(uniq, "a", "b", "d", "e", "f"), {"value": "1"}), 400, 104,
                cause=uniq + "/a/b/d")


def test_set_dir_over_key(server, uniq):
    put(server, K(uniq, "f2"), {"value": "x"})
    r = put(server, K(uniq, "f2") + "?dir=true")
    assert r.status == 200
    b = r.json()
    assert b["node"]["dir"] is True and b["prevNode"]["value"] == "x"


def test_root_is_read_only(server):
    for method, path in (("PUT", "/v2/keys/"), ("PUT", "/v2/keys"), ("DELETE", "/v2/keys/"),
                         ("DELETE", "/v2/keys/?recursive=true"),
                         ("PUT", "/v2/keys/?prevExist=true"),
                         ("PUT", "/v2/keys/?prevValue=x")):
        r = request(server, method, path, body="value=1" if method == "PUT" else None,
                    headers=FORM if method == "PUT" else None)
        check_error(r, 400, 107, cause="/", message="Root is read only")


def test_root_listing(server, uniq):
    put(server, K(uniq, "x"), {"value": "1"})
    r = get(server, "/v2/keys")
    b = r.json()
    assert b["action"] == "get"
    assert b["node"]["dir"] is True
    assert "key" not in b["node"] and "modifiedIndex" not in b["node"]
    assert any(c["key"] == uniq for c in b["node"]["nodes"])
    assert get(server, "/v2/keys/").json()["node"]["dir"] is True


# ---------------------------------------------------------------------------
# hidden keys and in-order keys
# ---------------------------------------------------------------------------

def test_hidden_keys(server, uniq):
    put(server, K(uniq, "hd", "_hidden"), {"value": "secret"})
    put(server, K(uniq, "hd", "visible"), {"value": "v"})
    put(server, K(uniq, "hd", "_hdir", "inner"), {"value": "i"})
    put(server, K(uniq, "hd", "sub", "_h2"), {"value": "h"})
    g = get(server, K(uniq, "hd") + "?recursive=true").json()["node"]
    names = sorted(c["key"] for c in g["nodes"])
    assert names == [uniq + "/hd/sub", uniq + "/hd/visible"]
    sub = [c for c in g["nodes"] if c["key"].endswith("/sub")][0]
    assert "nodes" not in sub
    assert get(server, K(uniq, "hd", "_hidden")).json()["node"]["value"] == "secret"
    hd = get(server, K(uniq, "hd", "_hdir")).json()["node"]
    assert [c["key"] for c in hd["nodes"]] == [uniq + "/hd/_hdir/inner"]
    # a hidden top-level name is absent from the root listing
    put(server, "/v2/keys/_" + uniq[1:] + "_top", {"value": "1"})
    root = get(server, "/v2/keys/").json()["node"].get("nodes", [])
    assert all(not c["key"].startswith("/_") for c in root)
    assert delete(server, "/v2/keys/_" + uniq[1:] + "_top").status == 200


def test_in_order_keys(server, uniq):
    made = []
    for job in ("Job1", "Job2", "Job3"):
        r = post(server, K(uniq, "queue"), {"value": job})
        assert r.status == 201
        b = r.json()
        assert b["action"] == "create"
        key = b["node"]["key"]
        name = key.rsplit("/", 1)[1]
        assert key.startswith(uniq + "/queue/")
        assert len(name) == 20 and name.isdigit()
        assert int(name) == b["node"]["createdIndex"] == int(r.headers["x-etcd-index"])
        made.append((key, job))
    names = [k for k, _ in made]
    assert names == sorted(names) and len(set(names)) == 3
    g = get(server, K(uniq, "queue") + "?sorted=true").json()["node"]["nodes"]
    assert [(c["key"], c["value"]) for c in g] == made
    # POST with ttl and dir
    r = post(server, K(uniq, "queue") + "?dir=true&ttl=100")
    n = r.json()["node"]
    assert n["dir"] is True and n["ttl"] == 100
    # POST to a key
    check_error(post(server, K(uniq, "queue") + "/" + names[0][len(uniq) + 7:],
                     {"value": "x"}), 400, 104)
    check_error(post(server, K(uniq, "queue") + "?wait=true"), 400, 209)


# ---------------------------------------------------------------------------
# compare-and-swap / compare-and-delete
# ---------------------------------------------------------------------------

def test_compare_and_swap(server, uniq):
    n = put(server, K(uniq, "cas"), {"value": "one"}).json()["node"]
    r = put(server, K(uniq, "cas") + "?prevValue=one", {"value": "two"})
    assert r.status == 200
    b = r.json()
    assert b["action"] == "compareAndSwap"
    assert b["node"]["createdIndex"] == n["createdIndex"]
    assert b["prevNode"]["value"] == "one"
    mi = b["node"]["modifiedIndex"]
    e = check_error(put(server, K(uniq, "cas") + "?prevValue=one", {"value": "x"}), 412, 101,
                    cause="[one != two]", message="Compare failed")
    assert e["index"] >= mi
    r = put(server, K(uniq, "cas") + "?prevIndex=%d" % mi, {"value": "three"})
    assert r.status == 200 and r.json()["action"] == "compareAndSwap"
    check_error(put(server, K(uniq, "cas") + "?prevIndex=%d" % mi, {"value": "y"}), 412, 101,
                cause="[%d != %d]" % (mi, r.json()["node"]["modifiedIndex"]))
    mi2 = r.json()["node"]["modifiedIndex"]
    check_error(put(server, K(uniq, "cas") + "?prevIndex=1&prevValue=wrong", {"value": "y"}),
                412, 101, cause="[wrong != three] [1 != %d]" % mi2)
    check_error(put(server, K(uniq, "cas") + "?prevValue=three&prevIndex=1", {"value": "y"}),
                412, 101, cause="[1 != %d]" % mi2)
    # prevExist=true with a comparison is still compareAndSwap
    r = put(server, K(uniq, "cas") + "?prevExist=true&prevValue=three", {"value": "four"})
    assert r.json()["action"] == "compareAndSwap"
    # prevIndex=0 means "not given": a plain set
    r = put(server, K(uniq, "cas") + "?prevIndex=0", {"value": "q"})
    assert r.json()["action"] == "set"
    check_error(put(server, K(uniq, "nokey") + "?prevValue=a", {"value": "b"}), 404, 100)
    put(server, K(uniq, "dd") + "?dir=true")
    check_error(put(server, K(uniq, "dd") + "?prevValue=a", {"value": "b"}), 403, 102)
    check_error(put(server, K(uniq, "cas") + "?prevValue=", {"value": "b"}), 400, 201,
                cause='"prevValue" cannot be empty')


def test_compare_and_delete(server, uniq):
    n = put(server, K(uniq, "cad"), {"value": "one"}).json()["node"]
    check_error(delete(server, K(uniq, "cad") + "?prevValue=two"), 412, 101,
                cause="[two != one]")
    check_error(delete(server, K(uniq, "cad") + "?prevIndex=%d" % (n["modifiedIndex"] + 100)),
                412, 101)
    # a DELETE body is ignored entirely: this is an unconditional delete
    put(server, K(uniq, "body"), {"value": "one"})
    r = request(server, "DELETE", K(uniq, "body"), body="prevValue=zzz", headers=FORM)
    assert r.status == 200 and r.json()["action"] == "delete"
    r = delete(server, K(uniq, "cad") + "?prevIndex=%d" % n["modifiedIndex"])
    assert r.status == 200
    b = r.json()
    assert b["action"] == "compareAndDelete"
    assert b["prevNode"]["value"] == "one" and "value" not in b["node"]
    put(server, K(uniq, "cad2"), {"value": "v"})
    r = delete(server, K(uniq, "cad2") + "?prevValue=v")
    assert r.json()["action"] == "compareAndDelete"
    check_error(delete(server, K(uniq, "cad2") + "?prevValue=v"), 404, 100)
    put(server, K(uniq, "dd") + "?dir=true")
    check_error(delete(server, K(uniq, "dd") + "?prevValue=v&recursive=true"), 403, 102)


# ---------------------------------------------------------------------------
# TTL
# ---------------------------------------------------------------------------

def test_ttl_reported(server, uniq):
    r = put(server, K(uniq, "t"), {"value": "v", "ttl": "5"})
    n = r.json()["node"]
    assert n["ttl"] == 5
    assert n["expiration"].endswith("Z")
    time.sleep(1.2)
    g = get(server, K(uniq, "t")).json()["node"]
    assert g["ttl"] == 4
    assert g["expiration"] == n["expiration"]
    # a set without ttl makes it permanent; so does an update without ttl
    r = put(server, K(uniq, "t") + "?prevExist=true", {"value": "w"})
    assert "ttl" not in r.json()["node"] and "expiration" not in r.json()["node"]
    r = put(server, K(uniq, "t"), {"value": "w", "ttl": ""})
    assert "ttl" not in r.json()["node"]
    # a directory TTL
    r = put(server, K(uniq, "td") + "?dir=true&ttl=30")
    assert r.json()["node"]["ttl"] == 30
    r = put(server, K(uniq, "td") + "?dir=true&prevExist=true&ttl=60")
    assert r.status == 200
    b = r.json()
    assert b["action"] == "update" and b["node"]["dir"] is True and b["node"]["ttl"] == 60


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "+5", "18446744073709551616"])
def test_ttl_invalid(server, uniq, bad):
    check_error(put(server, K(uniq, "bad"), {"value": "v", "ttl": bad}), 400, 202,
                cause='invalid value for "ttl"',
                message="The given TTL in POST form is not a number")
    check_error(get(server, K(uniq, "bad") + "?ttl=" + urllib.parse.quote(bad)), 400, 202)


def _gone(server, path):
    return get(server, path).status == 404


def test_ttl_expiry(server, uniq):
    t0 = time.time()
    r = put(server, K(uniq, "e1"), {"value": "v", "ttl": "1"})
    d = put(server, K(uniq, "edir") + "?dir=true&ttl=1")
    put(server, K(uniq, "edir", "child"), {"value": "c"})
    assert r.status == 201 and d.status == 201
    deadline = t0 + 1.0
    # still there well before the deadline
    assert get(server, K(uniq, "e1")).status == 200
    gone, _ = wait_until(lambda: _gone(server, K(uniq, "e1")), 4.0)
    late = time.time() - deadline
    assert gone, "key with ttl=1 still present 4 s after it was written"
    assert late <= 1.5, "expired %.2fs after its deadline" % late
    gone, _ = wait_until(lambda: _gone(server, K(uniq, "edir", "child")), 3.0)
    assert gone, "child of an expired directory is still present"
    check_error(get(server, K(uniq, "edir")), 404, 100)


def test_ttl_not_early(server, uniq):
    t0 = time.time()
    put(server, K(uniq, "e2"), {"value": "v", "ttl": "2"})
    time.sleep(max(0.0, 1.6 - (time.time() - t0)))
    assert get(server, K(uniq, "e2")).status == 200, "ttl=2 key gone after 1.6 s"
    gone, _ = wait_until(lambda: _gone(server, K(uniq, "e2")), 3.5)
    assert gone
    assert time.time() - t0 <= 2.0 + 1.5 + 0.3


def test_ttl_zero_expires(server, uniq):
    r = put(server, K(uniq, "z"), {"value": "v", "ttl": "0"})
    assert r.status == 201 and "ttl" not in r.json()["node"]
    idx = r.json()["node"]["modifiedIndex"]
    gone, _ = wait_until(lambda: _gone(server, K(uniq, "z")), 2.5)
    assert gone
    w = get(server, K(uniq, "z") + "?wait=true&waitIndex=%d" % (idx + 1), timeout=5).json()
    assert w["action"] == "expire" and w["node"]["key"] == uniq + "/z"
    assert w["prevNode"]["value"] == "v"


def test_refresh(server, uniq):
    n = put(server, K(uniq, "r"), {"value": "keep", "ttl": "2"}).json()["node"]
    r = put(server, K(uniq, "r") + "?refresh=true&prevExist=true&ttl=30")
    assert r.status == 200
    b = r.json()
    assert b["action"] == "update"
    assert b["node"]["value"] == "keep" and b["node"]["ttl"] == 30
    assert b["node"]["createdIndex"] == n["createdIndex"]
    # plain set refresh re-creates the node (new createdIndex), value kept
    r = put(server, K(uniq, "r") + "?refresh=true&ttl=40")
    b = r.json()
    assert r.status == 200 and b["action"] == "set"
    assert b["node"]["value"] == "keep" and b["node"]["ttl"] == 40
    assert b["node"]["createdIndex"] > n["createdIndex"]
    time.sleep(2.5)
    assert get(server, K(uniq, "r")).status == 200, "refreshed key expired on its old TTL"
    check_error(put(server, K(uniq, "r") + "?refresh=true", {"value": "x", "ttl": "5"}),
                400, 211, cause="A value was provided on a refresh")
    check_error(put(server, K(uniq, "r") + "?refresh=true"), 400, 212, cause="No TTL value set")
    check_error(put(server, K(uniq, "r") + "?refresh=yes&ttl=5"), 400, 209,
                cause="invalid value for refresh")
    check_error(put(server, K(uniq, "absent") + "?refresh=true&ttl=5"), 404, 100)


# ---------------------------------------------------------------------------
# parameter validation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("query,code,cause", [
    ("recursive=yes", 209, 'invalid value for "recursive"'),
    ("sorted=tRuE", 209, 'invalid value for "sorted"'),
    ("recursive=", 209, 'invalid value for "recursive"'),
    ("wait=on", 209, 'invalid value for "wait"'),
    ("quorum=2", 209, 'invalid value for "quorum"'),
    ("waitIndex=abc&wait=true", 203, 'invalid value for "waitIndex"'),
    ("prevIndex=-1", 203, 'invalid value for "prevIndex"'),
    ("prevIndex=", 203, 'invalid value for "prevIndex"'),
    ("bad=%zz", 210, 'invalid URL escape "%zz"'),
])
def test_get_validation(server, uniq, query, code, cause):
    check_error(get(server, K(uniq, "v") + "?" + query), 400, code, cause=cause)


@pytest.mark.parametrize("query,code,cause", [
    ("prevExist=maybe", 209, "invalid value for prevExist"),
    ("dir=2", 209, 'invalid value for "dir"'),
    ("wait=true", 209, '"wait" can only be used with GET requests'),
    ("noValueOnSuccess=x", 209, 'invalid value for "noValueOnSuccess"'),
    ("value=%4", 210, 'invalid URL escape "%4"'),
])
def test_put_validation(server, uniq, query, code, cause):
    r = request(server, "PUT", K(uniq, "v") + "?" + query, body="value=1", headers=FORM)
    b = check_error(r, 400, code, cause=cause)
    assert b["index"] == 0 and r.headers["x-etcd-index"] == "0"
    assert get(server, K(uniq, "v")).status == 404, "failed validation must not write"


def test_bad_escape_in_body(server, uniq):
    r = request(server, "PUT", K(uniq, "v"), body="value=%zz", headers=FORM)
    check_error(r, 400, 210, cause='invalid URL escape "%zz"', message="Invalid POST form")


def test_bad_escape_in_path(server):
    r = request(server, "GET", "/v2/keys/%zz")
    assert r.status == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert "errorCode" not in r.text


def test_body_size_limit(server, uniq):
    limit = 10 * 1024 * 1024
    prefix = b"value="
    ok = prefix + b"a" * (limit - len(prefix))
    r = request(server, "PUT", K(uniq, "big"), body=ok, headers=FORM, timeout=60)
    assert r.status == 201, r
    assert len(get(server, K(uniq, "big"), timeout=60).json()["node"]["value"]) == \
        limit - len(prefix)
    too_big = ok + b"a"
    try:
        r = request(server, "PUT", K(uniq, "big2"), body=too_big, headers=FORM, timeout=60)
    except (ConnectionError, OSError) as e:
        pytest.fail("oversized body: connection error instead of a 400/210 answer: %s" % e)
    check_error(r, 400, 210, cause="http: POST too large")
    assert get(server, K(uniq, "big2")).status == 404
    delete(server, K(uniq, "big"))


# ---------------------------------------------------------------------------
# HTTP surface: 405, 404, 301, CORS, OPTIONS
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PATCH", "TRACE", "FOO"])
def test_method_not_allowed(server, uniq, method):
    r = request(server, method, K(uniq, "x"))
    assert r.status == 405
    allow = sorted(p.strip() for p in r.headers["allow"].split(","))
    assert allow == ["DELETE", "GET", "HEAD", "POST", "PUT"]
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.body == b"Method Not Allowed\n"
    assert "x-etcd-index" not in r.headers
    for k, v in CORS.items():
        assert r.headers.get(k) == v


@pytest.mark.parametrize("path", ["/", "/v2", "/v2/", "/v2/keysX", "/v2/key", "/v1/keys/foo",
                                  "/v2/stats", "/nonexistent/path"])
def test_not_found_text(server, path):
    r = get(server, path)
    assert r.status == 404
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.body == b"404 page not found\n"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("access-control-allow-origin") == "*"


@pytest.mark.parametrize("path,location", [
    ("/v2/keys//ts?recursive=true", "/v2/keys/ts?recursive=true"),
    ("/v2/keys/a/./b", "/v2/keys/a/b"),
    ("/v2/keys/a/../b", "/v2/keys/b"),
    ("/v2/keys//dbl//key", "/v2/keys/dbl/key"),
    ("/v2/keys/a/%2e%2e/c", "/v2/keys/c"),
])
def test_redirect_unclean_path(server, path, location):
    r = get(server, path)
    assert r.status == 301
    assert r.headers["location"] == location
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert b"Moved Permanently" in r.body
    p = request(server, "PUT", path, body="value=x", headers=FORM)
    assert p.status == 301 and p.headers["location"] == location and p.body == b""
    # nothing was written
    assert get(server, location.split("?")[0]).status == 404


def test_options_and_cors(server, uniq):
    for path in ("/v2/keys/", K(uniq, "x"), "/v2/stats/self", "/nonexistent"):
        r = request(server, "OPTIONS", path)
        assert r.status == 200, path
        assert r.body == b""
        for k, v in CORS.items():
            assert r.headers.get(k) == v, (path, k)
    for r in (get(server, "/v2/keys/"), get(server, K(uniq, "missing")),
              put(server, K(uniq, "c"), {"value": "1"}),
              get(server, "/v2/keys/?recursive=maybe"),
              get(server, "/version"), get(server, "/v2/members")):
        for k, v in CORS.items():
            assert r.headers.get(k) == v, (r, k)


# ---------------------------------------------------------------------------
# curl, as the classic tutorials use it
# ---------------------------------------------------------------------------

def test_curl_tutorial(server, uniq):
    from itestlib import curl
    base = server.url + K(uniq, "message")
    r = curl("-L", base, "-XPUT", "-d", "value=Hello world")
    assert r.returncode == 0, r.stderr
    b = json.loads(r.stdout)
    assert b["action"] == "set" and b["node"]["value"] == "Hello world"
    r = curl("-L", base)
    assert json.loads(r.stdout)["node"]["value"] == "Hello world"
    r = curl("-L", base, "-XPUT", "-d", "value=Hello etcd", "-d", "ttl=60")
    assert json.loads(r.stdout)["node"]["ttl"] == 60
    r = curl("-L", base + "?prevValue=Hello%20etcd", "-XPUT", "-d", "value=swapped")
    assert json.loads(r.stdout)["action"] == "compareAndSwap"
    r = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", base)
    assert r.stdout == "200"
    r = curl("-L", server.url + K(uniq, "queue"), "-XPOST", "-d", "value=Job1")
    assert json.loads(r.stdout)["node"]["key"].startswith(uniq + "/queue/")
    r = curl("-L", base, "-XDELETE")
    assert json.loads(r.stdout)["action"] == "delete"
    r = curl("-i", base)
    assert r.stdout.startswith("HTTP/1.1 404")
    # curl follows the 301 of an unclean path for a GET
    put(server, K(uniq, "dbl"), {"value": "d"})
    r = curl("-L", server.url + "/v2/keys/" + uniq[1:] + "//dbl")
    assert json.loads(r.stdout)["node"]["value"] == "d"


# ---------------------------------------------------------------------------
# clients that leave while their write is being committed
# ---------------------------------------------------------------------------

def test_writes_whose_clients_leave_still_commit(server, uniq):
    """A client that closes (or half-closes, or sends more behind it) right after its PUT: the
    write still commits, and the server stays sound (run under ASan in CI)."""
    import socket
    for i in range(60):
        body = "value=v%d" % i
        req = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               "Content-Length: %d\r\n\r\n%s" % (K(uniq, "gone%d" % i), len(body), body))
        s = socket.create_connection(("127.0.0.1", server.client_port))
        if i % 3 == 1:
            req += "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % K(uniq, "gone%d" % i)  # pipelined
        s.sendall(req.encode())
        if i % 3 == 2:
            s.shutdown(socket.SHUT_WR)
        s.close()
    for i in range(60):
        wait_until(lambda: get(server, K(uniq, "gone%d" % i)).status == 200, 10)
        assert get(server, K(uniq, "gone%d" % i)).json()["node"]["value"] == "v%d" % i
    # a pipelined pair on a kept connection still gets both answers, in order
    from itestlib import raw_exchange
    body = "value=kept"
    req = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %d\r\n\r\n%sGET %s HTTP/1.1\r\nHost: x\r\n\r\n"
           % (K(uniq, "kept"), len(body), body, K(uniq, "kept")))
    responses, _ = raw_exchange(server, req.encode(), want_responses=2)
    assert [r[0].split(" ")[1] for r in responses] == ["201", "200"], responses
    assert all(b'"value":"kept"' in r[2] for r in responses), responses
