"""Debian's real `etcdctl` in v2 mode (ETCDCTL_API=2) against the server: the
commands of the classic tutorials, their output formats and exit codes.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from itestlib import etcdctl, put, run

pytestmark = pytest.mark.skipif(
    run(["sh", "-c", "command -v etcdctl"]).returncode != 0, reason="etcdctl not installed")


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def test_set_get_update_rm(server, uniq):
    k = uniq + "/foo"
    assert ok(etcdctl(server, "set", k, "bar")) == "bar\n"
    assert ok(etcdctl(server, "get", k)) == "bar\n"
    assert ok(etcdctl(server, "update", k, "baz")) == "baz\n"
    out = ok(etcdctl(server, "-o", "extended", "get", k))
    lines = out.split("\n")
    assert lines[0] == "Key: " + k
    assert lines[1].startswith("Created-Index: ") and lines[2].startswith("Modified-Index: ")
    assert lines[3] == "TTL: 0" and lines[4].startswith("Index: ")
    assert lines[5:] == ["", "baz", ""]
    j = json.loads(ok(etcdctl(server, "-o", "json", "get", k)))
    assert j["action"] == "get" and j["node"]["value"] == "baz" and j["prevNode"] is None
    assert ok(etcdctl(server, "rm", k)) == "PrevNode.Value: baz\n"
    r = etcdctl(server, "get", k)
    assert r.returncode == 4
    assert r.stderr.startswith("Error:  100: Key not found (%s) [" % k)


def test_mk_and_errors(server, uniq):
    k = uniq + "/mk"
    assert ok(etcdctl(server, "mk", k, "1")) == "1\n"
    r = etcdctl(server, "mk", k, "2")
    assert r.returncode == 4 and "105: Key already exists (%s)" % k in r.stderr
    r = etcdctl(server, "update", uniq + "/nokey", "x")
    assert r.returncode == 4 and "100: Key not found" in r.stderr
    r = etcdctl(server, "set", k + "/below", "x")
    assert r.returncode == 4 and "104: Not a directory (%s)" % k in r.stderr
    r = etcdctl(server, "rm", "--recursive", "/")
    assert r.returncode == 4 and "107: Root is read only (/)" in r.stderr
    r = etcdctl(server, "get")
    assert r.returncode == 1 and "key required" in r.stderr


def test_swap(server, uniq):
    k = uniq + "/cas"
    ok(etcdctl(server, "set", k, "one"))
    r = etcdctl(server, "set", "--swap-with-value", "two", k, "three")
    assert r.returncode == 4 and "101: Compare failed ([two != one])" in r.stderr
    assert ok(etcdctl(server, "set", "--swap-with-value", "one", k, "two")) == "two\n"
    idx = json.loads(ok(etcdctl(server, "-o", "json", "get", k)))["node"]["modifiedIndex"]
    assert ok(etcdctl(server, "set", "--swap-with-index", str(idx), k, "four")) == "four\n"
    r = etcdctl(server, "rm", "--with-value", "nope", k)
    assert r.returncode == 4 and "101: Compare failed" in r.stderr
    assert ok(etcdctl(server, "rm", "--with-value", "four", k)) == "\n"


def test_directories_and_ls(server, uniq):
    d = uniq + "/d1"
    assert ok(etcdctl(server, "mkdir", d)) == ""
    r = etcdctl(server, "mkdir", d)
    assert r.returncode == 4 and "105: Key already exists" in r.stderr
    ok(etcdctl(server, "set", d + "/b", "2"))
    ok(etcdctl(server, "set", d + "/a", "1"))
    ok(etcdctl(server, "mkdir", d + "/sub"))
    ok(etcdctl(server, "set", d + "/sub/c", "3"))
    ok(etcdctl(server, "set", d + "/_hidden", "h"))
    assert ok(etcdctl(server, "ls", "--sort", d)).split() == [d + "/a", d + "/b", d + "/sub"]
    out = ok(etcdctl(server, "ls", "--sort", "-r", "-p", d)).split()
    assert out == [d + "/a", d + "/b", d + "/sub/", d + "/sub/c"]
    assert sorted(ok(etcdctl(server, "ls", d)).split()) == [d + "/a", d + "/b", d + "/sub"]
    assert ok(etcdctl(server, "ls", d + "/a")) == d + "/a\n"
    r = etcdctl(server, "get", d)
    assert r.returncode == 1 and "is a directory" in r.stderr
    r = etcdctl(server, "rmdir", d)
    assert r.returncode == 4 and "108: Directory not empty" in r.stderr
    r = etcdctl(server, "rm", d)
    assert r.returncode == 4 and "102: Not a file" in r.stderr
    j = json.loads(ok(etcdctl(server, "-o", "json", "ls", "--sort", d)))
    assert [n["key"] for n in j["node"]["nodes"]] == [d + "/a", d + "/b", d + "/sub"]
    assert ok(etcdctl(server, "rm", "-r", d)) == ""
    r = etcdctl(server, "ls", d)
    assert r.returncode == 4 and "100: Key not found" in r.stderr


def test_setdir_updatedir_ttl(server, uniq):
    d = uniq + "/td"
    j = json.loads(ok(etcdctl(server, "-o", "json", "setdir", "--ttl", "100", d)))
    assert j["action"] == "set" and j["node"]["dir"] is True and j["node"]["ttl"] == 100
    r = etcdctl(server, "setdir", d)
    assert r.returncode == 4 and "102: Not a file" in r.stderr
    j = json.loads(ok(etcdctl(server, "-o", "json", "updatedir", "--ttl", "200", d)))
    assert j["action"] == "update" and j["node"]["ttl"] == 200
    r = etcdctl(server, "updatedir", uniq + "/nodir")
    assert r.returncode == 4 and "100: Key not found" in r.stderr
    ok(etcdctl(server, "set", "--ttl", "100", uniq + "/t1", "v"))
    out = ok(etcdctl(server, "-o", "extended", "get", uniq + "/t1"))
    assert "TTL: 100\n" in out or "TTL: 99\n" in out


def test_in_order(server, uniq):
    q = uniq + "/queue"
    out = ok(etcdctl(server, "-o", "extended", "mk", "--in-order", q, "job1"))
    key = out.split("\n")[0][len("Key: "):]
    assert key.startswith(q + "/") and len(key) == len(q) + 21
    j = json.loads(ok(etcdctl(server, "-o", "json", "mk", "--in-order", q, "job2")))
    assert j["action"] == "create" and j["node"]["key"] > key
    assert ok(etcdctl(server, "ls", "--sort", q)).split() == [key, j["node"]["key"]]


def test_value_from_stdin(server, uniq):
    r = run(["etcdctl", "--endpoints", server.url, "set", uniq + "/stdin"],
            env={"ETCDCTL_API": "2"}, input_data="from stdin\n")
    assert r.returncode == 0
    assert ok(etcdctl(server, "get", uniq + "/stdin")) == "from stdin\n\n"


def _popen_ctl(server, *args):
    env = dict(os.environ, ETCDCTL_API="2")
    return subprocess.Popen(["etcdctl", "--endpoints", server.url] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def _finish(p, timeout=10):
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail("etcdctl did not finish")


def test_watch(server, uniq):
    k = uniq + "/w"
    p = _popen_ctl(server, "watch", k)
    time.sleep(0.5)
    put(server, "/v2/keys" + k, {"value": "hello"})
    out, err = _finish(p)
    assert p.returncode == 0 and out == "hello\n", err
    # recursive, forever: each event preceded by [action] key
    p = _popen_ctl(server, "watch", "-f", "-r", uniq + "/wr")
    time.sleep(0.5)
    put(server, "/v2/keys%s/wr/a" % uniq, {"value": "6"})
    put(server, "/v2/keys%s/wr/sub?dir=true" % uniq)
    put(server, "/v2/keys%s/wr/sub/x" % uniq, {"value": "7"})
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = _finish(p)
    assert out == "[set] %s/wr/a\n6\n[set] %s/wr/sub/x\n7\n" % (uniq, uniq), err
    # --after-index answers from history
    idx = put(server, "/v2/keys%s/h" % uniq, {"value": "old"}).json()["node"]["modifiedIndex"]
    put(server, "/v2/keys%s/h" % uniq, {"value": "new"})
    r = etcdctl(server, "watch", "--after-index", str(idx - 1), uniq + "/h")
    assert r.returncode == 0 and r.stdout == "old\n"


def test_exec_watch(server, uniq, tmp_path):
    out = tmp_path / "events"
    script = 'echo "$ETCD_WATCH_ACTION|$ETCD_WATCH_KEY|$ETCD_WATCH_VALUE" >> %s' % out
    p = _popen_ctl(server, "exec-watch", "-r", uniq + "/ew", "--", "sh", "-c", script)
    try:
        time.sleep(0.5)
        put(server, "/v2/keys%s/ew/b" % uniq, {"value": "1"})
        deadline = time.time() + 5
        while time.time() < deadline and not (out.exists() and out.read_text()):
            time.sleep(0.05)
        assert out.read_text() == "set|%s/ew/b|1\n" % uniq
    finally:
        p.send_signal(signal.SIGINT)
        _finish(p)


def test_member_list_and_health(server):
    out = ok(etcdctl(server, "member", "list"))
    line = out.strip()
    assert "name=%s" % server.name in line
    assert "peerURLs=%s" % server.peer_url in line
    assert "clientURLs=%s" % server.url in line
    assert line.endswith("isLeader=true")
    out = ok(etcdctl(server, "cluster-health"))
    lines = out.strip().split("\n")
    assert lines[0].endswith("is healthy: got healthy result from %s" % server.url)
    assert lines[-1] == "cluster is healthy"


def test_event_index_cleared_error(fresh_server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", fresh_server.client_port, timeout=30)
    for n in range(1005):
        conn.request("PUT", "/v2/keys/x", body="value=%d" % n,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        conn.getresponse().read()
    conn.close()
    r = etcdctl(fresh_server, "watch", "--after-index", "1", "/x")
    assert r.returncode == 4
    assert "401: The event in requested index is outdated and cleared" in r.stderr
