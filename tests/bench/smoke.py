#!/usr/bin/env python3
"""tests/bench/smoke.py - a 2 s run of etcetera-bench (read and write) against one member.

Checks the load generator gets answers with no errors and reports the server's CPU and RSS.
With --floor-bin, also runs the write, create-inorder and watch workloads against
etcetera-floor, the yardstick side_by_side.py puts beside etcd for those workloads.
Exit 0 pass, 1 fail, 77 skip (no server or bench binary).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from side_by_side import Server  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--bench-bin", required=True)
    ap.add_argument("--floor-bin")
    args = ap.parse_args()
    for b in (args.server_bin, args.bench_bin):
        if not os.path.exists(b):
            print(f"SKIP: {b} does not exist")
            return 77
    tmp = tempfile.mkdtemp(prefix="etcetera-bench-smoke-")
    try:
        failed = run(args.bench_bin, tmp, "member", lambda s: s.start_etcd_like(args.server_bin),
                     ("read", "write", "watch"))
        if args.floor_bin:
            failed |= run(args.bench_bin, tmp, "floor", lambda s: start_floor_checked(s, args),
                          ("write", "create-inorder", "watch"))
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start_floor_checked(srv, args):
    """Starts etcetera-floor and sends it bodies it must refuse: a Content-Length too large, or
    large enough to wrap around when added to the header length. Each must close the connection
    and leave the floor serving (the workloads that follow need it)."""
    srv.start_floor(args.floor_bin)
    for length in ("99999999999999999999", "18446744073709551615", "-1", "70000"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(f"PUT /v2/keys/x HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode())
            if length == "70000":
                s.sendall(b"v" * 70000)
            try:
                got = s.recv(100)
            except ConnectionResetError:
                got = b""
            if got:
                raise RuntimeError(f"floor answered a Content-Length of {length}: {got!r}")


def run(bench_bin, tmp, name, start, workloads):
    """Runs each workload briefly against a server started by @start; True when one failed."""
    srv = Server(name, tmp)
    try:
        start(srv)
        failed = False
        for wl in workloads:
            cmd = [bench_bin, "--endpoint", srv.endpoint, "--workload", wl, "--duration",
                   "2", "--warmup", "0.2", "--connections", "8", "--watchers", "50", "--json",
                   "--quiet", "--pid", str(srv.proc.pid)]
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, timeout=60)
            if out.returncode != 0:
                print(f"FAIL: {name} {wl}: etcetera-bench exited {out.returncode}: {out.stderr}")
                failed = True
                continue
            r = json.loads(out.stdout)
            print(f"{name} {wl}: {r['ops_per_s']:.0f}/s p99 {r['p99_us']:.0f} us, server "
                  f"{r.get('server_cpu_us_per_op', -1):.1f} us CPU/op, "
                  f"RSS {r.get('server_rss_kb', 0)} KiB, errors {r['errors']}")
            if r["ops"] == 0 or r["errors"] != 0 or "server_cpu_us_per_op" not in r:
                print(f"FAIL: {name} {wl}: no operations, errors, or no server sample")
                failed = True
        return failed
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
