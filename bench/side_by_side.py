#!/usr/bin/env python3
"""bench/side_by_side.py - etcetera against real etcd 3.4 on the same machine, in the same run.

Starts etcd (--enable-v2) and etcetera with the same flags on free 127.0.0.1 ports, plus nginx
answering `return 200 '{}'` (the ceiling of an HTTP server that does nothing), then runs each
workload of etcetera-bench on the servers alternately in short rounds, so that noise from the
machine (other users, CPU frequency) hits every server alike. A ratio is the median of the
per-round ratios. Every workload gets freshly started etcd and etcetera (new ports, empty data
directories, stopped and deleted afterwards), so nothing an earlier workload left behind shows
in its throughput or RSS; nginx, which holds no state, stays up for the whole run. Writes
report.md, results.json and rounds.svg into the report directory.

For the durable write and the watch workloads, where nginx cannot stand in, etcetera-floor
(bench/floor.c) is the yardstick instead: it answers those requests with etcd's framing and does
only the kernel's share (sockets, epoll, one pwrite and fdatasync per batch). Its ratio to etcd is
the most any server keeping etcd's wire behaviour could reach on this machine, and the report puts
it beside each target.

Only the standard library is used. Without --server-bin (or when the binary is missing) it runs
etcd and nginx alone, which is how it was developed before the server existed.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> etcetera-bench arguments. Watch workloads carry their watcher count in the name.
WORKLOADS = {
    "read": ["--workload", "read", "--connections", "32"],
    "read-many": ["--workload", "read-many", "--connections", "32"],
    "write": ["--workload", "write", "--connections", "32"],
    "create-inorder": ["--workload", "create-inorder", "--connections", "32"],
    "registry": ["--workload", "registry", "--connections", "32"],
    "recursive-get": ["--workload", "recursive-get", "--connections", "4"],
    "watch-1000": ["--workload", "watch", "--watchers", "1000"],
    "watch-5000": ["--workload", "watch", "--watchers", "5000"],
    "watch-10000": ["--workload", "watch", "--watchers", "10000"],
    # Durable writes depend on concurrency: with 32 closed-loop connections a request waits for
    # the fdatasync in flight and then its own, so the disk's flush latency bounds both servers.
    # The same workloads at 128 connections show how each scales (reported, no target).
    "write-c128": ["--workload", "write", "--connections", "128"],
    "create-inorder-c128": ["--workload", "create-inorder", "--connections", "128"],
}

# Workloads the floor server (etcetera-floor) can answer the way etcd would.
FLOOR_WORKLOADS = {"write", "create-inorder", "watch-1000", "watch-5000", "watch-10000",
                   "write-c128", "create-inorder-c128"}

# The targets: workload -> list of (metric, operator, value, description).
TARGETS = {
    "read": [("tput", ">=", 2.5, "throughput >= 2.5x"), ("cpu", ">=", 4, "CPU/op >= 4x less"),
             ("nginx", ">=", 0.8, ">= 0.8x nginx")],
    "read-many": [("tput", ">=", 2.5, "throughput >= 2.5x")],
    "write": [("tput", ">=", 3, "throughput >= 3x"), ("p99", "<=", 1.0, "p99 <= etcd's")],
    "create-inorder": [("tput", ">=", 3, "throughput >= 3x")],
    "registry": [("tput", ">=", 3, "throughput >= 3x")],
    "recursive-get": [("tput", ">=", 5, "throughput >= 5x")],
    "watch-1000": [("tput", ">=", 5, "events/s >= 5x")],
    "watch-5000": [("tput", ">=", 5, "events/s >= 5x"), ("rss", "<=", 0.25, "RSS <= 1/4")],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout_s, proc):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} within {timeout_s} s")


class Server:
    """One server process: etcd, etcetera (same flags) or nginx."""

    def __init__(self, name, tmp):
        self.name = name
        self.tmp = tmp
        self.proc = None
        self.port = None
        self.log = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start_etcd_like(self, binary):
        self.port, peer = free_port(), free_port()
        data = os.path.join(self.tmp, self.name + ".data")
        args = [binary, "--enable-v2", "--name", "default", "--data-dir", data,
                "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"default=http://127.0.0.1:{peer}"]
        self._spawn(args)
        wait_http(self.endpoint + "/v2/keys/", 30, self.proc)

    def start_nginx(self, binary):
        self.port = free_port()
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes auto;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {self.tmp}/nginx-body;
    proxy_temp_path {self.tmp}/nginx-proxy;
    fastcgi_temp_path {self.tmp}/nginx-fastcgi;
    uwsgi_temp_path {self.tmp}/nginx-uwsgi;
    scgi_temp_path {self.tmp}/nginx-scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{self.port} reuseport;
        default_type application/json;
        location / {{ return 200 '{{}}'; }}
    }}
}}
""")
        self._spawn([binary, "-p", self.tmp, "-c", conf, "-g", "daemon off;"])
        wait_http(self.endpoint + "/", 10, self.proc)

    def start_floor(self, binary):
        self.port = free_port()
        data = os.path.join(self.tmp, self.name + ".data")
        os.makedirs(data)
        self._spawn([binary, "--data-dir", data, "--listen", f"127.0.0.1:{self.port}"])
        wait_http(self.endpoint + "/v2/keys/", 10, self.proc)

    def _spawn(self, args):
        self.log = open(os.path.join(self.tmp, self.name + ".log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def pids(self):
        """The server's pid and its direct children (nginx workers)."""
        pids = [self.proc.pid]
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
        return pids

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()


def run_bench(bench, server, args, duration, warmup, setup):
    cmd = [bench, "--endpoint", server.endpoint, "--json", "--quiet", "--setup", setup,
           "--duration", str(duration), "--warmup", str(warmup),
           "--pid", ",".join(map(str, server.pids()))] + args
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=600)
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} exited with status {server.proc.returncode} "
                           f"(log: {server.log.name})")
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    if setup == "only":
        return None
    return json.loads(out.stdout)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def per_round_ratio(a_runs, b_runs, key, invert=False):
    """Median over rounds of a[key]/b[key] (or b/a with invert), skipping zeros."""
    ratios = []
    for a, b in zip(a_runs, b_runs):
        x, y = a.get(key), b.get(key)
        if not x or not y:
            continue
        ratios.append(y / x if invert else x / y)
    return median(ratios)


def summarize(runs):
    return {
        "ops_per_s": median([r["ops_per_s"] for r in runs]),
        "p50_us": median([r["p50_us"] for r in runs]),
        "p99_us": median([r["p99_us"] for r in runs]),
        "p999_us": median([r["p999_us"] for r in runs]),
        "cpu_us": median([r.get("server_cpu_us_per_op") for r in runs]),
        "client_cpu_us": median([r.get("client_cpu_us_per_op") for r in runs]),
        "rss_kb": median([r.get("server_rss_kb") for r in runs]),
        "rss_peak_kb": max([r.get("server_rss_peak_kb") or 0 for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "missed": sum(r.get("watch_missed", 0) for r in runs),
        "sent_p50_us": median([r.get("sent_p50_us") for r in runs]),
        "sent_p99_us": median([r.get("sent_p99_us") for r in runs]),
    }


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "loadavg": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def ratio_fmt(v):
    return "-" if v is None else f"{v:.2f}x"


def check_target(metric, op, value, ratios):
    got = ratios.get(metric)
    if got is None:
        return "n/a"
    ok = got >= value if op == ">=" else got <= value
    return "met" if ok else "NOT met"


def svg_rounds(path, results, workloads, names):
    """Per-round throughput of every server, divided by etcd's median for the workload (log y)."""
    import math
    colors = {"etcd": "#1f77b4", "etcetera": "#d62728", "nginx": "#2ca02c", "floor": "#9467bd"}
    w, h, left, top, bottom = 80 + 90 * len(workloads), 380, 60, 30, 90
    vals = []
    for wl in workloads:
        base = median([r["ops_per_s"] for r in results[wl].get("etcd", [])]) or 1
        for n in names:
            vals += [r["ops_per_s"] / base for r in results[wl].get(n, []) if r["ops_per_s"] > 0]
    lo = min(vals + [0.5]) / 1.5
    hi = max(vals + [2]) * 1.5
    ly = lambda v: top + (h - top - bottom) * (1 - (math.log10(v) - math.log10(lo)) /
                                               (math.log10(hi) - math.log10(lo)))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13">throughput per round / etcd median '
           '(log scale; one dot per round)</text>']
    tick = 10 ** math.floor(math.log10(lo))
    while tick <= hi:
        for m in (1, 2, 5):
            v = tick * m
            if lo <= v <= hi:
                y = ly(v)
                out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                           f'stroke="#ddd"/><text x="{left - 5}" y="{y + 4:.1f}" '
                           f'text-anchor="end">{v:g}x</text>')
        tick *= 10
    for i, wl in enumerate(workloads):
        x0 = left + 20 + 90 * i
        base = median([r["ops_per_s"] for r in results[wl].get("etcd", [])]) or 1
        for j, n in enumerate(names):
            for r in results[wl].get(n, []):
                if r["ops_per_s"] > 0:
                    out.append(f'<circle cx="{x0 + 20 * j + 10}" '
                               f'cy="{ly(r["ops_per_s"] / base):.1f}" r="3" '
                               f'fill="{colors.get(n, "#555")}" fill-opacity="0.7"/>')
        out.append(f'<text x="{x0 + 30}" y="{h - bottom + 15}" text-anchor="end" '
                   f'transform="rotate(-40 {x0 + 30} {h - bottom + 15})">{wl}</text>')
    for j, n in enumerate(names):
        out.append(f'<circle cx="{w - 120}" cy="{top + 15 * j}" r="4" fill="{colors.get(n)}"/>'
                   f'<text x="{w - 110}" y="{top + 15 * j + 4}">{n}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def write_report(report_dir, results, workloads, names, info, args):
    rows, target_rows = [], []
    summary = {}
    for wl in workloads:
        s = {n: summarize(results[wl][n]) for n in names if results[wl].get(n)}
        ratios = {}
        if "etcetera" in s and "etcd" in s:
            e, t = results[wl]["etcd"], results[wl]["etcetera"]
            ratios = {"tput": per_round_ratio(t, e, "ops_per_s"),
                      "cpu": per_round_ratio(t, e, "server_cpu_us_per_op", invert=True),
                      "p99": per_round_ratio(t, e, "p99_us"),
                      "rss": per_round_ratio(t, e, "server_rss_kb")}
        if "nginx" in s:
            ref = "etcetera" if "etcetera" in s else "etcd"
            ratios["nginx"] = per_round_ratio(results[wl][ref], results[wl]["nginx"],
                                              "ops_per_s")
        if "floor" in s and "etcd" in s:
            ratios["floor"] = per_round_ratio(results[wl]["floor"], results[wl]["etcd"],
                                              "ops_per_s")
            if "etcetera" in s:
                ratios["of_floor"] = per_round_ratio(results[wl]["etcetera"],
                                                     results[wl]["floor"], "ops_per_s")
        summary[wl] = {"servers": s, "ratios": ratios}
        for n in names:
            if n not in s:
                continue
            x = s[n]
            sent = ""
            if x["sent_p50_us"] is not None:
                sent = (f" (sent: {fmt(x['sent_p50_us'] / 1e3, 2)} / "
                        f"{fmt(x['sent_p99_us'] / 1e3, 2)})")
            rows.append(f"| {wl} | {n} | {fmt(x['ops_per_s'])} | {fmt(x['p50_us'] / 1e3, 2)} / "
                        f"{fmt(x['p99_us'] / 1e3, 2)}{sent} | {fmt(x['cpu_us'], 1)} | "
                        f"{fmt(x['client_cpu_us'], 1)} | {fmt((x['rss_kb'] or 0) / 1024, 1)} / "
                        f"{fmt(x['rss_peak_kb'] / 1024, 1)} | "
                        f"{x['errors']}{'/' + str(x['missed']) if wl.startswith('watch') else ''} |")
        if "etcetera" in s and "etcd" in s:
            rows.append(f"| {wl} | **ratio** | **{ratio_fmt(ratios.get('tput'))}** | p99 "
                        f"{ratio_fmt(ratios.get('p99'))} | {ratio_fmt(ratios.get('cpu'))} less"
                        f" | | {ratio_fmt(ratios.get('rss'))} | |")
        if ratios.get("floor") is not None:
            rows.append(f"| {wl} | *floor/etcd* | *{ratio_fmt(ratios['floor'])}* | "
                        f"etcetera at {ratio_fmt(ratios.get('of_floor'))} of floor | | | | |")
        for metric, op, value, desc in TARGETS.get(wl, []):
            if metric == "nginx" and "etcetera" not in s:
                desc = "(etcd, for reference) vs nginx"
            if metric == "nginx" or "etcetera" in s:
                ceiling = ratio_fmt(ratios.get("floor")) if metric == "tput" else ""
                target_rows.append(f"| {wl} | {desc} | {ratio_fmt(ratios.get(metric))} | "
                                   f"{check_target(metric, op, value, ratios)} | {ceiling} |")
    end_info = machine_info()
    md = [f"# etcetera vs etcd 3.4 - {datetime.datetime.now().isoformat(timespec='seconds')}",
          "",
          f"Machine: {info.get('cpu', '?')}, nproc {info['nproc']}, kernel {info['kernel']}; "
          f"loadavg at start {' '.join(f'{x:.2f}' for x in info['loadavg'])}, at end "
          f"{' '.join(f'{x:.2f}' for x in end_info['loadavg'])}. Load generator and servers "
          "share the machine; nothing is pinned.",
          "Each workload runs on freshly started servers (new data directories, nothing left "
          "from earlier workloads); nginx stays up for the whole run.",
          f"Rounds: {args.rounds} x {args.duration} s (+{args.warmup} s warmup) per server, "
          "servers alternating; a ratio is the median of the per-round ratios "
          "(etcetera/etcd; CPU: etcd/etcetera). Watch rows: events delivered per second, "
          "latency = notify latency after the writer's PUT response (a watcher served before "
          "that response counts 0; in parentheses: from the moment the PUT was sent); RSS "
          "sampled with the watchers parked. floor: etcetera-floor, the least work a durable "
          "etcd v2 server can do (etcd's framing, one fdatasync per batch, nothing else); "
          "floor/etcd is the highest ratio any server could reach here.",
          "",
          "| workload | server | ops/s | p50 / p99 ms | server CPU us/op | client CPU us/op "
          "| RSS / peak MiB | errors (/missed) |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"] + rows
    if target_rows:
        md += ["", "| workload | target | measured | | floor/etcd |",
               "| --- | --- | ---: | --- | ---: |"] + target_rows
    md += ["", "![throughput per round](rounds.svg)", ""]
    with open(os.path.join(report_dir, "report.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(report_dir, "results.json"), "w") as f:
        json.dump({"machine_start": info, "machine_end": end_info, "runs": results,
                   "summary": summary}, f, indent=1)
    svg_rounds(os.path.join(report_dir, "rounds.svg"), results, workloads, names)
    return "\n".join(md)


def default_binary(name, subdir):
    for build in ("release", "debug", "asan"):
        p = os.path.join(ROOT, "build", build, subdir, name)
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-bin", default=default_binary("etcetera", "server"),
                    help="etcetera binary (default: build/release/server/etcetera)")
    ap.add_argument("--bench-bin", default=default_binary("etcetera-bench", "bench"))
    ap.add_argument("--etcd-bin", default=shutil.which("etcd") or "etcd")
    ap.add_argument("--nginx-bin", default="/usr/sbin/nginx")
    ap.add_argument("--floor-bin", default=default_binary("etcetera-floor", "bench"),
                    help="the write/watch yardstick (default: build/release/bench/etcetera-floor)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--watch-duration", type=float, default=8,
                    help="minimum seconds per round of the watch workloads (a fan-out to "
                         "10,000 watchers on etcd takes seconds)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of: " + ", ".join(WORKLOADS))
    ap.add_argument("--report", help="report directory (default bench/report-<timestamp>)")
    args = ap.parse_args()

    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    if not args.bench_bin or not os.path.exists(args.bench_bin):
        ap.error("etcetera-bench not found: build it or pass --bench-bin")
    report_dir = args.report or os.path.join(
        HERE, "report-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(report_dir, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it

    # A SIGTERM still stops the servers and removes the data directories (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("side_by_side: terminated"))
    info = machine_info()
    tmp = tempfile.mkdtemp(prefix="etcetera-sbs-")
    have_ets = bool(args.server_bin and os.path.exists(args.server_bin))
    if not have_ets:
        print("side_by_side: no etcetera binary; measuring etcd and nginx only",
              file=sys.stderr)
    nginx, servers = None, []
    try:
        # nginx holds no state, so one instance serves the whole run.
        if "read" in workloads and os.path.exists(args.nginx_bin):
            nginx = Server("nginx", tmp)
            nginx.start_nginx(args.nginx_bin)
        have_floor = bool(args.floor_bin and os.path.exists(args.floor_bin))
        names = ["etcd"] + (["etcetera"] if have_ets else []) + (["nginx"] if nginx else []) + \
            (["floor"] if have_floor and FLOOR_WORKLOADS.intersection(workloads) else [])
        results = {}
        for wl in workloads:
            # Every workload gets freshly started servers with empty data directories, so that
            # what one workload leaves behind (keys, history, watcher tables, heap) does not
            # show in the next one's throughput or RSS.
            wl_tmp = os.path.join(tmp, wl)
            os.makedirs(wl_tmp)
            servers = fresh_servers(args, wl_tmp, have_ets, have_floor and wl in FLOOR_WORKLOADS)
            try:
                results[wl] = run_workload(args, wl, servers, nginx)
            finally:
                stop_servers(servers, report_dir, wl)
                servers = []
                shutil.rmtree(wl_tmp, ignore_errors=True)
            # Keep a report of what is done so far, should the run be cut short.
            write_report(report_dir, results, list(results), names, info, args)
        print(write_report(report_dir, results, workloads, names, info, args))
        print(f"\nreport: {report_dir}/report.md", file=sys.stderr)
    finally:
        stop_servers(servers + ([nginx] if nginx else []), report_dir, None)
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_servers(args, tmp, have_ets, floor):
    """Starts etcd, (when built) etcetera and (with @floor) etcetera-floor on new ports with new
    data directories in tmp."""
    servers = []
    try:
        etcd = Server("etcd", tmp)
        servers.append(etcd)
        etcd.start_etcd_like(args.etcd_bin)
        if have_ets:
            ets = Server("etcetera", tmp)
            servers.append(ets)
            ets.start_etcd_like(args.server_bin)
        if floor:
            fl = Server("floor", tmp)
            servers.append(fl)
            fl.start_floor(args.floor_bin)
    except BaseException:
        stop_servers(servers, None, None)
        raise
    return servers


def stop_servers(servers, report_dir, wl):
    """Stops the servers and keeps their logs beside the report (named after the workload)."""
    for s in servers:
        s.stop()
        if report_dir and s.log and os.path.exists(s.log.name):
            name = f"{wl}-{s.name}.log" if wl else os.path.basename(s.log.name)
            shutil.copy(s.log.name, os.path.join(report_dir, name))


def run_workload(args, wl, servers, nginx):
    """Sets the workload up on every server, then runs its rounds alternately; returns
    {server name: [per-round result]}."""
    res_by_server = {}
    for s in servers:
        run_bench(args.bench_bin, s, WORKLOADS[wl], 1, 0, "only")
    targets = servers + ([nginx] if nginx and wl == "read" else [])
    duration = max(args.duration, args.watch_duration) if wl.startswith("watch") \
        else args.duration
    for r in range(args.rounds):
        order = targets if r % 2 == 0 else list(reversed(targets))
        for s in order:
            res = run_bench(args.bench_bin, s, WORKLOADS[wl], duration, args.warmup, "no")
            res_by_server.setdefault(s.name, []).append(res)
            print(f"{wl:15s} round {r + 1} {s.name:9s} {res['ops_per_s']:10.0f}/s "
                  f"p99 {res['p99_us'] / 1e3:8.2f} ms  cpu "
                  f"{res.get('server_cpu_us_per_op', 0):7.1f} us/op  load "
                  f"{os.getloadavg()[0]:.1f}", file=sys.stderr)
    return res_by_server

if __name__ == "__main__":
    main()
