#!/usr/bin/env python3
"""Differential conformance against real etcd, as one ctest case.

Runs ../shared/conformance/v2diff.py (the repository's parent holds shared/)
against a server binary with the --target-cmd template from v2diff's
docstring: every sample scenario, our own scenarios in tests/conformance/,
and --randomized OPS for seeds 1..SEEDS.  With --ctl, also the shared
etcdctl_diff.py (etcdctl against both servers, and etcetera-ctl against the
target).  The runs are independent (each starts its own reference etcd and
target), so several run at once; they mostly wait on the servers, not the CPU.

    run_conformance.py --server build/release/server/etcetera \
        --ctl build/release/tools/etcetera-ctl
    run_conformance.py --server etcd       # self-check: etcd against etcd

Exits 0 when every run passed, 1 otherwise, 77 (ctest's skip code) when the
shared harness, etcd or the server binary is missing.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_SHARED = os.path.abspath(os.path.join(REPO, "..", "shared"))

TEMPLATE = ("{bin} --data-dir {{data_dir}} --name {{name}} "
            "--listen-client-urls http://127.0.0.1:{{client_port}} "
            "--advertise-client-urls http://127.0.0.1:{{client_port}} "
            "--listen-peer-urls http://127.0.0.1:{{peer_port}} "
            "--initial-advertise-peer-urls http://127.0.0.1:{{peer_port}} "
            "--initial-cluster {{name}}=http://127.0.0.1:{{peer_port}}")

# Sample scenarios that compare what etcetera deliberately does differently
# (DESIGN.md "Decisions"): /version reports 2.3.8/2.3.0 plus an "etcetera"
# field.  test_decisions.py checks etcetera's answer instead.
DEVIATIONS = ["version_endpoint"]

# A v2diff run whose servers did not come up (e.g. two parallel runs picked
# the same free port) is retried once; anything else is a real result.  A
# port taken by another run's server can also answer v2diff's readiness probe
# before our target finds it in use and exits, hence the bind error.
STARTUP_FAILURE = re.compile(r"during start-up|not ready after|cannot start|no free ports|"
                             r"bind: address already in use", re.IGNORECASE)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", required=True, help="etcetera binary, or 'etcd' for a self-check")
    p.add_argument("--shared", default=DEFAULT_SHARED, help="the shared/ directory")
    p.add_argument("--seeds", type=int, default=20, help="randomized seeds 1..N (default 20)")
    p.add_argument("--ops", type=int, default=300, help="operations per randomized run")
    p.add_argument("--jobs", type=int, default=4, help="v2diff runs at once (default 4)")
    p.add_argument("--ctl", help="etcetera-ctl binary: also run etcdctl_diff.py")
    p.add_argument("--only", choices=["sample", "ours", "random", "etcdctl"], action="append",
                   help="run only these parts (repeatable)")
    args = p.parse_args()

    v2diff = os.path.join(args.shared, "conformance", "v2diff.py")
    if not os.path.isfile(v2diff):
        skip("%s is missing (the shared conformance harness lives next to the repository)"
             % v2diff)
    if not shutil.which("etcd"):
        skip("etcd is not installed (Debian: etcd-server); it is the reference")
    if args.server == "etcd":
        target = ["--target-etcd"]
    else:
        if not (os.path.isfile(args.server) and os.access(args.server, os.X_OK)):
            skip("server binary '%s' not built" % args.server)
        target = ["--target-cmd", TEMPLATE.format(bin=shlex.quote(os.path.abspath(args.server)))]

    parts = set(args.only or ["sample", "ours", "random", "etcdctl"])
    runs = []  # (label, script, extra arguments)
    if "sample" in parts:
        if args.server == "etcd":
            runs.append(("sample scenarios", v2diff, []))
        else:
            print("not compared (documented deviations): " + ", ".join(DEVIATIONS))
            runs.append(("sample scenarios", v2diff,
                         ["--filter", "^(?!(%s)$)" % "|".join(DEVIATIONS)]))
    if "ours" in parts:
        runs.append(("tests/conformance scenarios", v2diff,
                     ["--scenarios", os.path.join(REPO, "tests", "conformance")]))
    if "random" in parts:
        for seed in range(1, args.seeds + 1):
            runs.append(("randomized seed %d" % seed, v2diff,
                         ["--randomized", str(args.ops), "--seed", str(seed)]))

    etcdctl_diff = os.path.join(args.shared, "conformance", "etcdctl_diff.py")
    if "etcdctl" in parts and args.ctl and os.path.isfile(etcdctl_diff):
        if not shutil.which("etcdctl"):
            print("not run: etcdctl_diff.py (etcdctl is not installed; Debian: etcd-client)")
        elif args.server == "etcd":
            runs.insert(0, ("etcdctl_diff", etcdctl_diff, []))
        else:
            runs.insert(0, ("etcdctl_diff", etcdctl_diff,
                            ["--target-ctl", os.path.abspath(args.ctl)]))

    results = {}
    lock = threading.Lock()
    queue = list(runs)

    def one(script, extra):
        cmd = [sys.executable, script] + target + extra
        for attempt in (1, 2):
            t0 = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            out = proc.stdout + proc.stderr
            if proc.returncode == 0 or attempt == 2 or not STARTUP_FAILURE.search(out):
                return proc.returncode, out, time.time() - t0

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                label, script, extra = queue.pop(0)
            rc, out, secs = one(script, extra)
            with lock:
                results[label] = (rc, out, secs)
                summary = [ln for ln in out.splitlines()
                           if ln.startswith(("conformance:", "etcdctl:"))]
                print("%-28s %s  %s (%.0fs)" % (label, "ok  " if rc == 0 else "FAIL",
                                                 summary[-1] if summary else "no summary", secs))
                sys.stdout.flush()

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    failed = [label for label, _, _ in runs if results[label][0] != 0]
    for label in failed:
        rc, out, _ = results[label]
        lines = out.splitlines()
        shown = [ln for ln in lines if not ln.startswith("PASS ")]
        print("\n===== %s (exit %d) =====" % (label, rc))
        print("\n".join(shown[-80:]))
    print("\nconformance runs: %d passed, %d failed (%.0fs)" % (
        len(runs) - len(failed), len(failed), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
