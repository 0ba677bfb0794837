#!/usr/bin/env python3
"""ctl_compare - etcetera-ctl against the real etcdctl (v2 mode), byte for byte.

Two fresh, identical single-member servers are started: the reference (real etcd) for
`ETCDCTL_API=2 etcdctl` and the target (real etcd by default, or any etcd-compatible
server given with --target-cmd) for etcetera-ctl. Every case runs its steps in lockstep, one
step on each side, so both servers see the same history and the answers must match exactly:
stdout, stderr and exit status. Only what differs by construction is normalised: the servers'
URLs, member ids and names, and (with --loose, for a non-etcd target) index numbers.

Usage:
  ctl_compare.py --ctl build/release/tools/etcetera-ctl [--filter REGEX] [-v]
  ctl_compare.py --ctl ... --target-cmd 'etcetera --data-dir {data_dir} ...' --loose

Exit status: 0 all cases passed, 1 some failed, 77 etcd or etcdctl missing (skip).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ETCD_CMD = ("{etcd} --enable-v2 --name {name} --data-dir {data_dir} "
            "--listen-client-urls {client_url} --advertise-client-urls {client_url} "
            "--listen-peer-urls {peer_url} --initial-advertise-peer-urls {peer_url} "
            "--initial-cluster {name}={peer_url}")

EXEC_ECHO = ('echo "$ETCD_WATCH_ACTION|$ETCD_WATCH_KEY|$ETCD_WATCH_VALUE|'
             '$ETCD_WATCH_MODIFIED_INDEX"')
DEAD = "http://127.0.0.1:{dead_port}"

# A step: a list of arguments (the server URL is given with --endpoints unless the list
# starts with "@raw"), or a dict:
#   {"cmd": [...], "stdin": "text", "env": {...}, "raw": True (no --endpoints added),
#    "unordered": True (compare the output lines as a set: server order differs)}
#   {"bg": [...], "then": [steps], "wait": "exit" | "output"}   background watch
#   {"sleep": s}
CASES = [
    ("help_and_usage", [
        {"raw": True, "cmd": []},
        {"raw": True, "cmd": ["--help"]},
        {"raw": True, "cmd": ["-h"]},
        {"raw": True, "cmd": ["help"]},
        {"raw": True, "cmd": ["h"]},
        {"raw": True, "cmd": ["--version"]},
        {"raw": True, "cmd": ["-v"]},
        {"raw": True, "cmd": ["bogus"]},
        {"raw": True, "cmd": ["help", "bogus"]},
        {"raw": True, "cmd": ["--bogus", "get", "/foo"]},
        {"raw": True, "cmd": ["--timeout", "abc", "get", "/foo"]},
        {"raw": True, "cmd": ["--timeout", "5", "get", "/foo"]},
        {"raw": True, "cmd": ["--debug=maybe", "get", "/foo"]},
        {"raw": True, "cmd": ["member"]},
        {"raw": True, "cmd": ["member", "--help"]},
        {"raw": True, "cmd": ["help", "member"]},
        {"raw": True, "cmd": ["member", "help", "list"]},
        {"raw": True, "cmd": ["member", "bogus"]},
        {"raw": True, "cmd": ["member", "list", "--bogus"]},
        {"raw": True, "cmd": ["user"]},
        {"raw": True, "cmd": ["role", "--help"]},
        {"raw": True, "cmd": ["auth", "-h"]},
    ] + [{"raw": True, "cmd": [c, "--help"]} for c in
         ["backup", "cluster-health", "mk", "mkdir", "rm", "rmdir", "get", "ls", "set",
          "setdir", "update", "updatedir", "watch", "exec-watch"]]
      + [{"raw": True, "cmd": ["help", c]} for c in ["get", "set", "exec-watch"]]
      + [{"raw": True, "cmd": ["member", s, "-h"]} for s in ["list", "add", "remove", "update"]]
      + [["get", "--bogus", "/foo"], ["set", "--ttl", "abc", "/x", "y"],
         ["set", "--ttl", "99999999999999999999", "/x", "y"], ["ls", "--sort=maybe"],
         ["set", "--ttl"], ["get", "-h"], ["get", "/foo", "--help"],
         ["set", "---ttl", "5", "/x", "y"]]),
    ("odd_arguments", [
        {"raw": True, "cmd": ["help", "h"]},
        {"raw": True, "cmd": ["help", "help"]},
        {"raw": True, "cmd": ["-o"]},
        {"raw": True, "cmd": ["--endpoints"]},
        {"raw": True, "cmd": ["---debug", "get"]},
        {"raw": True, "cmd": ["-", "get"]},
        {"raw": True, "cmd": ["--", "get", "--help"]},
        ["--no-sync=true", "set", "/a", "1"],
        ["get", "--sort=false", "/a"],
        ["get", "--quorum=1", "/a"],
        ["set", "/k", "v", "--ttl"],
        ["set", "/k", "--swap-with-value"],
        ["set", "/k", "--swap-with-value", "--ttl", "5", "v"],
        ["set", "--ttl=5", "/k", "v"],
        ["-o", "extended", "get", "/k"],
        ["rm", "-r"],
        ["watch", "-f"],
        ["member", "add", "a", "b", "c"],
        ["member", "update", "x"],
        ["ls", "-p", "-r", "--sort", "/", "extra"],
        ["rm", "--dir", "/a", "--recursive"],
        ["set", "-", "v"],
        ["get", "-"],
        ["mk", "--in-order", "/a", "v"],
        ["set", "/x y/z", "sp ace"],
        ["ls", "-r", "--sort"],
        ["-o", "json", "ls", "-r", "--sort"],
    ]),
    ("api_version", [
        {"raw": True, "cmd": ["--version"], "env": {"ETCDCTL_API": "4"}},
    ]),
    ("set_get", [
        ["set", "/message", "Hello"],
        ["get", "/message"],
        ["set", "message", "Hello again"],
        ["get", "--quorum", "/message"],
        ["get", "-q", "message"],
        ["get", "/nokey"],
        ["get"],
        ["set", "/novalue"],
        ["set"],
        ["get", "/message", "extra", "args"],
        ["set", "/a b", "x&y=z%"],
        ["get", "/a b"],
        ["set", "/q?x#y", "v"],
        ["get", "/q?x#y"],
        ["set", "/neg", "-value"],
        ["get", "/neg"],
        ["set", "--", "/dd", "-v"],
        ["set", "/dd2", "--", "-v"],
        ["get", "/dd2"],
        ["set", "-value", "/k"],
        ["set", "/k", "--ttl", "100", "v"],
        ["set", "/multi", "line\nvalue\n"],
        ["get", "/multi"],
        ["set", "/esc", "<a&b>\"x\"\t\u00e9"],
        ["-o", "json", "get", "/esc"],
        ["get", "//message//"],
        ["get", "/x/../message"],
        ["set", "/message/child", "v"],
        ["get", "/message/./child"],
        ["set", "/", "root"],
        ["get", "/"],
        {"cmd": ["set", "/stdin"], "stdin": "from stdin\n"},
        ["get", "/stdin"],
    ]),
    ("output_formats", [
        ["set", "/ext", "v"],
        ["-o", "extended", "get", "/ext"],
        ["-o", "json", "get", "/ext"],
        ["-o", "extended", "set", "/ext", "w"],
        ["-o", "json", "set", "/ext", "x"],
        ["-o", "json", "mk", "/ext2", "v"],
        ["-o", "extended", "get", "/nope"],
        ["-o", "json", "get", "/nope"],
        ["-o", "yaml", "get", "/ext"],
        ["-o", "yaml", "mkdir", "/yd"],
        ["--output", "extended", "ls", "/yd"],
        ["-output=json", "ls", "--sort", "/"],
        ["-o", "extended", "ls"],
        ["-o", "json", "rm", "/ext"],
        ["-o", "extended", "rm", "-r", "/yd"],
    ]),
    ("ls", [
        ["set", "/dir/a", "1"],
        ["set", "/dir/b", "2"],
        ["mkdir", "/dir/sub"],
        ["set", "/dir/sub/c", "3"],
        ["set", "/top", "t"],
        ["set", "/_hidden", "h"],
        ["ls", "--sort"],
        ["ls", "--sort", "/"],
        ["ls", "--sort", "/dir"],
        ["ls", "--sort", "-p", "/dir"],
        ["ls", "-r", "-p", "--sort"],
        ["ls", "--recursive", "--sort", "/dir"],
        ["ls", "/dir/a"],
        ["ls", "/nope"],
        ["ls", "/_hidden"],
        ["ls", "--sort", "-q", "/dir/"],
        ["-o", "json", "ls", "--sort", "/dir"],
        ["-o", "extended", "ls", "--sort", "/dir"],
        ["ls", "/top/x"],
    ]),
    ("mk_mkdir", [
        ["mk", "/mk1", "first"],
        ["mk", "/mk1", "second"],
        ["get", "/mk1"],
        ["mk", "--ttl", "100", "/mk2", "ttl"],
        ["-o", "extended", "get", "/mk2"],
        ["mk", "--in-order", "/queue", "job1"],
        ["mk", "--in-order", "/queue", "job2"],
        ["-o", "extended", "mk", "--in-order", "--ttl", "100", "/queue", "job3"],
        ["ls", "--sort", "/queue"],
        ["mk", "/novalue"],
        ["mk"],
        ["mkdir", "/dir1"],
        ["mkdir", "/dir1"],
        ["mkdir", "/mk1"],
        ["mkdir", "/dir1/sub/deeper"],
        ["mkdir", "--ttl", "100", "/dttl"],
        ["-o", "extended", "ls", "/dttl"],
        ["-o", "json", "mkdir", "/d3"],
        ["-o", "extended", "mkdir", "/d4"],
        ["mkdir"],
        ["mkdir", "/"],
        ["get", "/dir1"],
        ["ls", "--recursive", "--sort", "/dir1"],
    ]),
    ("setdir_update_updatedir", [
        ["setdir", "/sd"],
        ["setdir", "/sd"],
        ["setdir", "--ttl", "100", "/sd2"],
        ["-o", "extended", "ls", "/sd2"],
        ["set", "/sdf", "v"],
        ["setdir", "/sdf"],
        ["-o", "json", "setdir", "/sd3"],
        ["ls", "-p", "--sort", "/"],
        ["update", "/u1", "x"],
        ["set", "/u1", "a"],
        ["update", "/u1", "b"],
        ["-o", "extended", "update", "/u1", "c"],
        ["-o", "json", "update", "--ttl", "100", "/u1", "d"],
        ["update"],
        ["update", "/u1"],
        ["mkdir", "/ud"],
        ["updatedir", "--ttl", "100", "/ud"],
        ["-o", "extended", "ls", "/ud"],
        ["-o", "json", "updatedir", "/ud"],
        ["updatedir", "--ttl", "100", "/ud-missing"],
        ["updatedir", "/u1"],
        ["get", "/u1"],
        ["updatedir"],
        ["setdir", "/"],
    ]),
    ("rm_rmdir", [
        ["set", "/r1", "v"],
        ["rm", "/r1"],
        ["rm", "/r1"],
        ["mkdir", "/rdir"],
        ["rm", "/rdir"],
        ["rm", "--dir", "/rdir"],
        ["set", "/rr/a/b", "v"],
        ["set", "/rr/c", "w"],
        ["rm", "--dir", "/rr"],
        ["rm", "-r", "/rr"],
        ["ls", "/rr"],
        ["set", "/r2", "v"],
        ["-o", "extended", "rm", "/r2"],
        ["set", "/cad", "1"],
        ["rm", "--with-value", "2", "/cad"],
        ["rm", "--with-value", "1", "/cad"],
        ["set", "/cad", "1"],
        ["rm", "--with-index", "1", "/cad"],
        ["-o", "extended", "rm", "--with-value", "1", "/cad"],
        ["set", "/cad", "1"],
        ["rm", "--with-value", "zz", "--with-index", "1", "/cad"],
        ["rm", "--with-index", "abc", "/cad"],
        ["rm"],
        ["rm", "/"],
        ["mkdir", "/rd"],
        ["set", "/rd/x", "1"],
        ["rmdir", "/rd"],
        ["rmdir", "/rd/x"],
        ["rmdir", "/rd"],
        ["rmdir", "/rd"],
        ["rmdir"],
        ["mkdir", "/rq"],
        ["rm", "/rq", "--recursive"],
        ["rm", "--recursive", "/rq"],
    ]),
    ("compare_and_swap", [
        ["set", "/cas", "old"],
        ["set", "--swap-with-value", "old", "/cas", "new"],
        ["set", "--swap-with-value", "old", "/cas", "newer"],
        ["-o", "json", "set", "--swap-with-value", "new", "/cas", "newest"],
        ["set", "--swap-with-index", "1", "/cas", "stale"],
        ["set", "--swap-with-value", "zz", "--swap-with-index", "1", "/cas", "x"],
        ["set", "--swap-with-value", "x", "/nonexist", "y"],
        ["set", "--swap-with-value", "", "/cas", "empty-cond"],
        ["set", "--swap-with-index", "0", "/cas", "zero-index"],
        ["set", "--ttl", "-5", "/cas", "negative-ttl"],
        ["-o", "extended", "get", "/cas"],
        ["set", "--swap-with-index", "0x10", "/cas", "hex"],
    ]),
    ("ttl", [
        ["set", "--ttl", "100", "/tk", "v"],
        ["-o", "extended", "get", "/tk"],
        ["set", "--ttl", "1", "/short", "v"],
        ["get", "/short"],
        {"sleep": 2.5},
        ["get", "/short"],
    ]),
    ("watch", [
        ["set", "/wk", "before"],
        {"bg": ["watch", "/wk"], "then": [["set", "/wk", "hi"]], "wait": "exit"},
        ["mkdir", "/wd"],
        {"bg": ["watch", "--recursive", "/wd"], "then": [["mkdir", "/wd/sub"],
                                                        ["set", "/wd/x", "v"]], "wait": "exit"},
        {"bg": ["-o", "extended", "watch", "-r", "/wd"], "then": [["rm", "/wd/x"]],
         "wait": "exit"},
        {"bg": ["-o", "json", "watch", "-f", "/wc"],
         "then": [["set", "/wc", "1"], ["set", "--swap-with-value", "1", "/wc", "2"],
                  ["rm", "--with-value", "2", "/wc"], ["mk", "/wc", "3"],
                  ["update", "/wc", "4"]],
         "wait": "output"},
        {"bg": ["watch", "-f", "/wt"], "then": [["set", "--ttl", "1", "/wt", "x"],
                                               {"sleep": 2.5}, ["set", "/wt", "y"]],
         "wait": "output"},
        {"bg": ["-o", "extended", "watch", "-f", "-r", "/wt2"],
         "then": [["set", "--ttl", "1", "/wt2/k", "x"], {"sleep": 2.5}], "wait": "output"},
        ["set", "/wa", "1"],
        ["set", "/wa", "2"],
        ["watch", "--after-index", "1", "/wa"],
        ["-o", "json", "watch", "--after-index", "1", "/wa"],
        ["watch"],
        ["watch", "--after-index", "x", "/wa"],
    ]),
    ("exec_watch", [
        ["set", "/ew", "before"],
        {"bg": ["exec-watch", "--recursive", "/ew", "--", "sh", "-c", EXEC_ECHO],
         "then": [["set", "/ew", "changed"]], "wait": "output"},
        {"bg": ["exec-watch", "-r", "/ewd", "--", "sh", "-c", EXEC_ECHO],
         "then": [["mkdir", "/ewd/sub"], ["set", "/ewd/k", "v"]], "wait": "output"},
        {"bg": ["exec-watch", "sh", "-c", EXEC_ECHO, "/ewl"],
         "then": [["set", "/ewl", "legacy"]], "wait": "output"},
        {"bg": ["exec-watch", "-r", "/ewx", "--", "/nonexistent/binary"],
         "then": [["set", "/ewx/k", "v"]], "wait": "exit"},
        ["exec-watch", "/only-key"],
        ["exec-watch"],
    ]),
    ("member_and_health", [
        ["member", "list"],
        ["member", "list", "extra"],
        ["-o", "json", "member", "list"],
        ["cluster-health"],
        ["member", "add"],
        ["member", "add", "m2", "notaurl"],
        ["member", "add", "m2", "http://127.0.0.1"],
        ["member", "remove"],
        ["member", "remove", "deadbeef"],
        ["member", "remove", "{name}"],
        ["member", "update"],
        ["member", "update", "deadbeef", "http://127.0.0.1:1"],
        ["member", "add", "m2", "http://127.0.0.1:{spare_port}"],
        {"cmd": ["member", "list"], "unordered": True},
        {"cmd": ["cluster-health"], "unordered": True},
    ]),
    ("endpoints_and_connection", [
        {"raw": True, "cmd": ["--peers", "{url}", "set", "/legacy", "v"]},
        {"raw": True, "cmd": ["-C", "{url}", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoint", "{url}", "get", "/legacy"]},
        {"raw": True, "cmd": ["get", "/legacy"], "env": {"ETCDCTL_ENDPOINTS": "{url}"}},
        {"raw": True, "cmd": ["get", "/legacy"], "env": {"ETCDCTL_PEERS": "{url}"}},
        {"raw": True, "cmd": ["get", "/legacy"], "env": {"ETCDCTL_ENDPOINT": "{url}"}},
        {"raw": True, "cmd": ["--peers", DEAD, "get", "/legacy"],
         "env": {"ETCDCTL_ENDPOINTS": "{url}"}},
        {"raw": True, "cmd": ["--endpoint", "{url}", "get", "/legacy"],
         "env": {"ETCDCTL_PEERS": DEAD}},
        {"raw": True, "cmd": ["--endpoints", "{url}/", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", DEAD, "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", DEAD, "member", "list"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "get", "/legacy"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "mk", "/legacy2", "v"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "rm", "/legacy"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "member", "list"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "cluster-health"]},
        {"raw": True, "cmd": ["--endpoints", DEAD, "get"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", DEAD, "exec-watch"]},
        {"raw": True, "cmd": ["--endpoints", "127.0.0.1:1", "get", "/legacy"]},
        {"raw": True, "cmd": ["--no-sync", "--endpoints", "localhost:1", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", ":1", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--no-sync", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--no-sync", "--debug", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "--no-sync", "set", "--ttl",
                              "10", "--swap-with-value", "v", "/legacy", "a\"b c&d"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "mkdir", "/dbgdir"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "rm", "-r", "/dbgdir"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "--no-sync", "cluster-health"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "ls", "-r", "--sort", "-q"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--debug", "mk", "--in-order", "/dq", "x"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--cert-file", "/nonexistent.crt",
                              "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--ca-file", "/nonexistent.ca",
                              "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "get", "/legacy"],
         "env": {"ETCDCTL_CA_FILE": "/nonexistent.ca"}},
        {"raw": True, "cmd": ["--endpoints", "{url}", "-u", "root:pw", "get", "/legacy"]},
        {"raw": True, "cmd": ["--endpoints", "{url}", "--timeout", "1s", "--total-timeout",
                              "3s", "get", "/legacy"]},
    ]),
    ("user_role_auth", [
        ["user", "list"],
        ["role", "list"],
        ["auth", "enable"],
        ["user", "add", "root:rootpw"],
        ["user", "add", "alice:alicepw"],
        ["user", "add", "alice:again"],
        {"cmd": ["user", "add", "carol"], "stdin": ""},
        {"cmd": ["user", "add", "dave"], "stdin": "davepw\n"},
        ["user", "list"],
        ["user", "get", "root"],
        ["user", "get", "alice"],
        ["user", "get", "nosuch"],
        ["user", "get"],
        ["user", "list", "extra"],
        ["role", "add", "reader"],
        ["role", "add", "reader"],
        ["role", "add", "root"],
        ["role", "add"],
        ["role", "grant", "--path", "/foo/*", "--read", "reader"],
        ["role", "grant", "--path", "/foo/*", "--read", "reader"],
        ["role", "grant", "--path", "/w/*", "--write", "reader"],
        ["role", "grant", "--path", "/bar", "--rw", "reader"],
        ["role", "grant", "--path", "foo", "--read", "reader"],
        ["role", "grant", "--read", "reader"],
        ["role", "grant", "--path", "/x", "reader"],
        ["role", "grant", "--path", "/x", "--read", "--write", "reader"],
        ["role", "grant", "--path", "/x", "--read"],
        ["role", "grant", "--path", "/x", "--read", "nosuch"],
        ["role", "get", "reader"],
        ["role", "get", "root"],
        ["role", "get", "nosuch"],
        ["role", "list"],
        ["user", "grant", "--roles", "reader", "alice"],
        ["user", "grant", "--roles", "reader", "--roles", "root", "dave"],
        ["user", "get", "alice"],
        ["user", "get", "dave"],
        ["user", "grant", "alice"],
        ["user", "revoke", "--roles", "reader", "dave"],
        ["user", "revoke", "--roles", "nosuch", "dave"],
        {"cmd": ["user", "passwd", "dave"], "stdin": "newpw\n"},
        ["auth", "enable"],
        ["auth", "enable", "extra"],
        ["user", "list"],
        ["-u", "alice:alicepw", "user", "list"],
        ["-u", "dave:newpw", "user", "list"],
        ["-u", "root:rootpw", "user", "list"],
        ["-u", "root:wrong", "get", "/foo"],
        ["-u", "alice:alicepw", "set", "/w/a", "1"],
        ["-u", "alice:alicepw", "get", "/w/a"],
        {"cmd": ["-u", "alice", "get", "/bar"], "stdin": "alicepw\n"},
        ["set", "/open", "guest can write"],
        ["--debug", "-u", "root:rootpw", "role", "list"],
        ["-u", "root:rootpw", "role", "revoke", "--path", "/bar", "--rw", "reader"],
        ["-u", "root:rootpw", "role", "revoke", "--path", "/bar", "--rw", "reader"],
        ["-u", "root:rootpw", "user", "remove", "root"],
        ["-u", "root:rootpw", "auth", "disable"],
        ["auth", "disable"],
        ["role", "remove", "reader"],
        ["role", "remove", "reader"],
        ["user", "remove", "alice"],
        ["user", "remove", "alice"],
        ["user", "list"],
    ]),
    ("misbehaving_servers", [
        {"raw": True, "cmd": ["--endpoints", "{fake}/hang", "--timeout", "300ms", "--no-sync",
                              "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/hang", "--total-timeout", "700ms",
                              "--no-sync", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/hang", "--total-timeout", "700ms",
                              "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/500", "--no-sync", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/502", "--no-sync", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/503", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/502", "--no-sync", "mk", "/k", "v"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/html", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/badjson4xx", "--no-sync", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/empty", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/nourls", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/nourls", "--debug", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/html", "member", "list"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/html", "cluster-health"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/500", "cluster-health"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/500,{url}", "--no-sync", "get", "/k"]},
        {"raw": True, "cmd": ["--endpoints", DEAD + ",{url}", "--no-sync", "set", "/k", "v"]},
        {"raw": True, "cmd": ["--endpoints", "{fake}/nourls", "member", "list"]},
    ]),
    # The classic 2014 getting-started sequence (etcd 0.4 README and CoreOS guides).
    ("getting_started_2014", [
        ["set", "/message", "Hello world"],
        ["get", "/message"],
        ["mk", "/foo/bar", "Hello world"],
        ["mkdir", "/foo/dir"],
        ["set", "/foo/bar/baz", "x"],
        {"cmd": ["ls"], "unordered": True},
        {"cmd": ["ls", "--recursive"], "unordered": True},
        ["ls", "--recursive", "--sort", "/foo"],
        ["get", "/foo"],
        ["-o", "extended", "get", "/foo/bar"],
        ["update", "/foo/bar", "Hola mundo"],
        ["update", "--ttl", "100", "/foo/bar", "Hola mundo"],
        ["-o", "extended", "get", "/foo/bar"],
        ["mkdir", "--ttl", "100", "/tmpdir"],
        ["updatedir", "--ttl", "200", "/tmpdir"],
        ["-o", "extended", "ls", "/tmpdir"],
        ["set", "/path/to/new/key", "value"],
        ["ls", "--recursive", "--sort", "/path"],
        ["setdir", "/newdir"],
        ["ls", "-p", "--sort"],
        ["rm", "--recursive", "/path"],
        ["rmdir", "/newdir"],
        ["rmdir", "/foo/dir"],
        {"bg": ["watch", "/foo/bar"], "then": [["set", "/foo/bar", "watched"]], "wait": "exit"},
        {"bg": ["watch", "--recursive", "/foo"], "then": [["set", "/foo/new", "n"]],
         "wait": "exit"},
        {"bg": ["exec-watch", "--recursive", "/foo", "--", "sh", "-c", EXEC_ECHO],
         "then": [["set", "/foo/bar", "exec"]], "wait": "output"},
        ["rm", "/message"],
        ["rm", "--recursive", "/foo"],
        ["ls", "--sort"],
    ]),
]


class FakeHandler(BaseHTTPRequestHandler):
    """Misbehaving servers for the connection cases; the mode is the first path segment of the
    endpoint URL ({fake}/hang, {fake}/500, ...), so one listener serves them all."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        mode = self.path.split("/")[1]
        rest = "/" + self.path.split("/", 2)[2] if self.path.count("/") >= 2 else "/"
        if mode == "hang":
            time.sleep(3)
            self.close_connection = True
            return
        if mode in ("500", "502", "503"):
            return self.reply(int(mode), "oops", "text/plain")
        if mode == "html":
            return self.reply(200 if not rest.startswith("/v2/members") else 404, "<html/>",
                              "text/html")
        if mode == "empty":
            if rest.startswith("/v2/members"):
                return self.reply(404, "404 page not found\n", "text/plain")
            return self.reply(200, "")
        if mode == "nourls":
            return self.reply(200, '{"members":[{"id":"1","name":"a","peerURLs":[],"clientURLs":[]}]}')
        if mode == "badjson4xx":
            return self.reply(404, "not json", "text/plain")
        self.reply(404, "404 page not found\n", "text/plain")

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


def start_fake():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, label, template, name):
        self.label = label
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.client_url = "http://127.0.0.1:%d" % self.client_port
        self.peer_url = "http://127.0.0.1:%d" % self.peer_port
        self.data_dir = tempfile.mkdtemp(prefix="ctl-compare-")
        cmd = template.format(etcd="etcd", name=name, data_dir=self.data_dir,
                              client_url=self.client_url, peer_url=self.peer_url,
                              client_port=self.client_port, peer_port=self.peer_port)
        self.log = open(os.path.join(self.data_dir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, shell=True, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.member_id = None

    def get(self, path, timeout=2):
        with urllib.request.urlopen(self.client_url + path, timeout=timeout) as r:
            return json.loads(r.read().decode())

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s server exited early (log in %s)" % (self.label,
                                                                         self.data_dir))
            try:
                self.get("/v2/keys/")
                self.member_id = self.get("/v2/members")["members"][0]["id"]
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        raise RuntimeError("%s server did not start in %ss" % (self.label, timeout))

    def watchers(self):
        try:
            return int(self.get("/v2/stats/store").get("watchers"))
        except Exception:  # noqa: BLE001 - not every server has store stats
            return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class Side:
    def __init__(self, label, binary, server, ctx):
        self.label = label
        self.binary = binary
        self.server = server
        self.ctx = ctx

    def render(self, a):
        return a.format(url=self.server.client_url, name=self.server.name, **self.ctx)

    def argv_env(self, step):
        if isinstance(step, list):
            step = {"cmd": step}
        args = [self.render(a) for a in step["cmd"]]
        if not step.get("raw"):
            args = ["--endpoints", self.server.client_url] + args
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
        env["ETCDCTL_API"] = "2"
        for k, v in step.get("env", {}).items():
            env[k] = self.render(v)
        return [self.binary] + args, env, step.get("stdin", "")

    def run(self, step, timeout=20):
        argv, env, stdin = self.argv_env(step)
        try:
            p = subprocess.run(argv, input=stdin.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, timeout=timeout)
            return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}
        except subprocess.TimeoutExpired as e:
            return {"rc": "timeout", "out": e.stdout or b"", "err": e.stderr or b""}


class Background:
    def __init__(self, side, step):
        argv, env, _ = side.argv_env({"cmd": step["bg"]})
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self.pump, args=(s, acc), daemon=True)
                        for s, acc in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    @staticmethod
    def pump(stream, acc):
        for chunk in iter(lambda: stream.read1(4096), b""):
            acc.append(chunk)

    def finish(self, mode, expect_lines):
        deadline = time.time() + 10
        if mode == "output":
            while time.time() < deadline and self.proc.poll() is None and \
                    b"".join(self.out).count(b"\n") < expect_lines:
                time.sleep(0.05)
            time.sleep(0.3)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            rc = "timeout"
        for t in self.threads:
            t.join(5)
        return {"rc": rc, "out": b"".join(self.out), "err": b"".join(self.err)}


def normalise(res, side, loose, unordered=False):
    def fix(b):
        s = b.decode("utf-8", "replace")
        s = s.replace(side.server.client_url, "{URL}").replace(side.server.peer_url, "{PEER}")
        if side.server.member_id:
            s = s.replace(side.server.member_id, "{ID}")
        s = re.sub(r"127\.0\.0\.1:%d\b" % side.server.client_port, "{HOSTPORT}", s)
        s = re.sub(r"\b[0-9a-f]{12,16}\b", "{HEXID}", s)
        s = re.sub(r'"expiration":"[^"]*"', '"expiration":"{TIME}"', s)
        s = re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"', lambda m: 'ETCD_INITIAL_CLUSTER="%s"' % ",".join(
            sorted(m.group(1).split(","))), s)
        if unordered:
            s = "\n".join(sorted(s.split("\n")))
        if loose:
            s = re.sub(r"\b(\d{1,7}|\d{20})\b", "N", s)  # indexes, in-order key names
        return s
    return {"rc": res["rc"], "out": fix(res["out"]), "err": fix(res["err"])}


def bg_ready(side, before):
    deadline = time.time() + 3
    while time.time() < deadline:
        w = side.server.watchers()
        if w is None or before is None:
            time.sleep(0.5)
            return
        if w > before:
            return
        time.sleep(0.05)


def run_case(name, steps, ref, tgt, loose, verbose):
    problems = []

    def compare(label, a, b, unordered=False):
        na = normalise(a, ref, loose, unordered)
        nb = normalise(b, tgt, loose, unordered)
        if na != nb:
            problems.append((label, na, nb))
        elif verbose:
            print("    ok %s" % label)

    for n, st in enumerate(steps, 1):
        if isinstance(st, dict) and "sleep" in st:
            time.sleep(st["sleep"])
            continue
        if isinstance(st, dict) and "bg" in st:
            bgs = []
            for side in (ref, tgt):
                before = side.server.watchers()
                bgs.append(Background(side, st))
                bg_ready(side, before)
            time.sleep(0.1)
            for m, sub in enumerate(st.get("then", []), 1):
                if isinstance(sub, dict) and "sleep" in sub:
                    time.sleep(sub["sleep"])
                    continue
                compare("step %d.%d %s" % (n, m, describe(sub)), ref.run(sub), tgt.run(sub))
            lines = sum(1 for s in st.get("then", []) if isinstance(s, list) and "mkdir" not in s)
            ra = bgs[0].finish(st.get("wait", "exit"), lines)
            rb = bgs[1].finish(st.get("wait", "exit"), lines)
            compare("step %d %s (background)" % (n, " ".join(st["bg"])), ra, rb)
            continue
        unordered = isinstance(st, dict) and st.get("unordered", False)
        compare("step %d %s" % (n, describe(st)), ref.run(st), tgt.run(st), unordered)
    return problems


def describe(st):
    args = st if isinstance(st, list) else st["cmd"]
    extra = ""
    if isinstance(st, dict) and st.get("env"):
        extra = " env=%s" % st["env"]
    return " ".join(repr(a) if (not a or " " in a) else a for a in args) + extra


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ctl", required=True, help="the etcetera-ctl binary")
    p.add_argument("--etcdctl", default="etcdctl")
    p.add_argument("--target-cmd", help="server command template for etcetera-ctl's side "
                   "(placeholders {name} {data_dir} {client_url} {peer_url} {client_port} "
                   "{peer_port}); default: real etcd")
    p.add_argument("--loose", action="store_true", help="ignore index numbers")
    p.add_argument("--filter", help="only cases whose name matches this regex")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()

    missing = [b for b in ("etcd", args.etcdctl) if shutil.which(b) is None]
    if missing:
        print("SKIP: %s not installed (needed as the reference)" % ", ".join(missing))
        return 77
    if not os.path.exists(args.ctl):
        print("FAIL: %s does not exist" % args.ctl)
        return 1
    ctl = os.path.abspath(args.ctl)
    cases = [c for c in CASES if not args.filter or re.search(args.filter, c[0])]
    failed = 0
    fake = start_fake()
    for name, steps in cases:
        ref = Server("reference", ETCD_CMD, "ctltest")
        tgt = Server("target", args.target_cmd or ETCD_CMD, "ctltest")
        try:
            ref.wait_ready(30)
            tgt.wait_ready(30)
            ctx = {"dead_port": free_port(), "spare_port": free_port(),
                   "fake": "http://127.0.0.1:%d" % fake.server_address[1]}
            t0 = time.time()
            problems = run_case(name, steps, Side("etcdctl", args.etcdctl, ref, ctx),
                                Side("etcetera-ctl", ctl, tgt, ctx), args.loose, args.verbose)
        finally:
            ref.stop()
            tgt.stop()
        if problems:
            failed += 1
            print("FAIL %s (%.1fs)" % (name, time.time() - t0))
            for label, a, b in problems:
                print("  %s" % label)
                for k in ("rc", "out", "err"):
                    if a[k] != b[k]:
                        print("    %s etcdctl:      %r" % (k, a[k]))
                        print("    %s etcetera-ctl: %r" % (k, b[k]))
        else:
            print("PASS %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("ctl_compare: %d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
