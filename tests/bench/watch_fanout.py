#!/usr/bin/env python3
"""tests/bench/watch_fanout.py - many parked long-poll watchers on one member.

Parks --watchers (default 15,000) long polls on one key of a single member, checks the member
still answers a GET within 1 s, fires one write, checks every watcher received it, checks the
GET again, and prints the member's RSS per parked watcher. Exit 0 pass, 1 fail, 77 skip (no
server binary, or an RLIMIT_NOFILE hard limit too low for the watchers).
Works against real etcd too (--server-bin $(which etcd)) for comparison.
"""
import argparse
import json
import os
import resource
import selectors
import socket
import sys
import tempfile
import shutil
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from side_by_side import Server  # noqa: E402

SKIP = 77


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http(method, url, data=None, timeout=5):
    req = urllib.request.Request(url, method=method, data=data)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers, r.read()


def timed_get(endpoint):
    t0 = time.monotonic()
    status, _, _ = http("GET", endpoint + "/v2/keys/fan/key", timeout=1)
    return status, time.monotonic() - t0


def wait_watchers(endpoint, want, timeout_s):
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        _, _, body = http("GET", endpoint + "/v2/stats/store")
        seen = json.loads(body).get("watchers", 0)
        if seen >= want:
            return seen
        time.sleep(0.2)
    return seen


def park(endpoint_port, n, wait_index):
    sel = selectors.DefaultSelector()
    req = (f"GET /v2/keys/fan/key?wait=true&waitIndex={wait_index} HTTP/1.1\r\n"
           f"Host: 127.0.0.1:{endpoint_port}\r\n\r\n").encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", endpoint_port), timeout=10)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
    return sel, socks


def collect(sel, n, timeout_s):
    """Reads until every watcher's buffer holds the fired event; returns the count that did."""
    done = 0
    deadline = time.monotonic() + timeout_s
    while done < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            buf = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            buf += chunk
            if b'"value":"fired"' in buf:
                done += 1
                sel.unregister(key.fileobj)
            elif not chunk:
                sel.unregister(key.fileobj)  # closed without the event: counted as missing
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--watchers", type=int, default=15000)
    args = ap.parse_args()
    if not os.path.exists(args.server_bin):
        print(f"SKIP: no server binary at {args.server_bin}")
        return SKIP
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.watchers + 512
    if hard != resource.RLIM_INFINITY and hard < need:
        print(f"SKIP: RLIMIT_NOFILE hard limit {hard} < {need} needed for {args.watchers} "
              "watchers (client and server each hold one fd per watcher)")
        return SKIP
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tmp = tempfile.mkdtemp(prefix="etcetera-fanout-")
    srv = Server("member", tmp)
    socks = []
    try:
        srv.start_etcd_like(args.server_bin)
        ep = srv.endpoint
        _, headers, _ = http("PUT", ep + "/v2/keys/fan/key", b"value=0")
        index = int(headers["X-Etcd-Index"])
        base_kb = rss_kb(srv.proc.pid)

        t0 = time.monotonic()
        sel, socks = park(srv.port, args.watchers, index + 1)
        seen = wait_watchers(ep, args.watchers, 60)
        if seen < args.watchers:
            print(f"FAIL: only {seen} of {args.watchers} watchers registered after 60 s")
            return 1
        parked_kb = rss_kb(srv.proc.pid)
        print(f"parked {args.watchers} watchers in {time.monotonic() - t0:.1f} s")
        status, dt = timed_get(ep)
        print(f"GET with watchers parked: {status} in {dt * 1e3:.1f} ms")
        if status != 200 or dt > 1:
            print("FAIL: GET not answered within 1 s while the watchers are parked")
            return 1

        t1 = time.monotonic()
        http("PUT", ep + "/v2/keys/fan/key", b"value=fired")
        got = collect(sel, args.watchers, 60)
        print(f"{got} of {args.watchers} watchers received the write in "
              f"{time.monotonic() - t1:.2f} s")
        status, dt = timed_get(ep)
        print(f"GET after the fan-out: {status} in {dt * 1e3:.1f} ms")
        print(f"RSS: {base_kb / 1024:.1f} MiB before, {parked_kb / 1024:.1f} MiB parked: "
              f"{(parked_kb - base_kb) * 1024 / args.watchers:.0f} bytes per parked watcher")
        if got != args.watchers:
            print(f"FAIL: {args.watchers - got} watchers missed the write")
            return 1
        if status != 200 or dt > 1:
            print("FAIL: GET not answered within 1 s after the fan-out")
            return 1
        print("PASS")
        return 0
    finally:
        for s in socks:
            s.close()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
