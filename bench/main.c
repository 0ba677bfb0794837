/*
 * bench/main.c - etcetera-bench: a load generator for etcd-v2-compatible servers.
 *
 * main() parses the options, writes the keys the workload needs (--setup), opens the
 * connections, lets the load run for --warmup seconds, then measures for --duration seconds:
 * throughput, a latency histogram, the server's CPU per operation (utime + stime deltas of
 * /proc/<pid>/stat for each --pid) and its memory (VmHWM and VmRSS of /proc/<pid>/status), and
 * the client's own CPU per operation (getrusage), so the reader can judge the client's share of
 * a machine both programs run on. A progress line goes to stderr once a second; the result goes
 * to stdout as text or, with --json, as one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#define SETUP_CONNECTIONS_MAX 32

struct proc_sample {
    uint64_t cpu_ticks; /* utime + stime of every --pid, clock ticks */
    uint64_t hwm_kb;    /* sum of VmHWM, KiB */
    uint64_t rss_kb;    /* sum of VmRSS, KiB */
    bool ok;            /* every pid could be read */
};

static void usage(FILE *f)
{
    fputs("usage: etcetera-bench [options]\n"
          "  --endpoint URL       server to load (default http://127.0.0.1:2379)\n"
          "  --workload NAME      read | read-many | write | create-inorder | registry |\n"
          "                       watch | recursive-get (default read)\n"
          "  --connections N      keep-alive connections (default 64)\n"
          "  --threads N          client threads (default 2)\n"
          "  --duration S         seconds measured (default 10)\n"
          "  --warmup S           seconds of load before measuring (default 1)\n"
          "  --keys N             key space (default 10000; registry 1000)\n"
          "  --value-size B       bytes per written value (default 64, max 4000)\n"
          "  --watchers N         long-poll watchers of the watch workload (default 1000)\n"
          "  --ttl S              TTL of the registry keys (default 300)\n"
          "  --pid PID[,PID..]    server processes to sample for CPU and RSS (repeatable)\n"
          "  --setup yes|no|only  write the keys the workload reads first (default yes)\n"
          "  --prefix /DIR        key prefix (default /bench)\n"
          "  --json               print the result as one JSON object\n"
          "  --quiet              no progress line on stderr\n",
          f);
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 86400))
        return -EINVAL;
    *out = v;
    return 0;
}

/* Splits "http://host:port[/]" into o->host and o->port. */
static int parse_endpoint(const char *url, struct bench_opts *o)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://") != NULL)
        return -EINVAL; /* https and friends: this client speaks plain HTTP only */
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    size_t host_len = colon ? (size_t)(colon - p) : (slash ? (size_t)(slash - p) : strlen(p));
    if (host_len == 0 || host_len >= sizeof(o->host))
        return -EINVAL;
    memcpy(o->host, p, host_len);
    o->host[host_len] = '\0';
    if (colon) {
        size_t port_len = slash && slash > colon ? (size_t)(slash - colon - 1) : strlen(colon + 1);
        unsigned port;
        char tmp[16];
        if (port_len == 0 || port_len >= sizeof(tmp))
            return -EINVAL;
        memcpy(tmp, colon + 1, port_len);
        tmp[port_len] = '\0';
        if (parse_uint(tmp, 1, 65535, &port) < 0)
            return -EINVAL;
        snprintf(o->port, sizeof(o->port), "%u", port);
    } else {
        snprintf(o->port, sizeof(o->port), "80");
    }
    return 0;
}

static int parse_pids(const char *s, struct bench_opts *o)
{
    char buf[256];
    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned pid;
        if (o->pid_count == BENCH_PIDS_MAX || parse_uint(tok, 1, 1u << 30, &pid) < 0)
            return -EINVAL;
        o->pids[o->pid_count++] = (pid_t)pid;
    }
    return 0;
}

enum {
    OPT_ENDPOINT = 256,
    OPT_WORKLOAD,
    OPT_CONNECTIONS,
    OPT_THREADS,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_KEYS,
    OPT_VALUE_SIZE,
    OPT_WATCHERS,
    OPT_TTL,
    OPT_PID,
    OPT_SETUP,
    OPT_PREFIX,
    OPT_JSON,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option long_opts[] = {
    { "endpoint", required_argument, NULL, OPT_ENDPOINT },
    { "workload", required_argument, NULL, OPT_WORKLOAD },
    { "connections", required_argument, NULL, OPT_CONNECTIONS },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "keys", required_argument, NULL, OPT_KEYS },
    { "value-size", required_argument, NULL, OPT_VALUE_SIZE },
    { "watchers", required_argument, NULL, OPT_WATCHERS },
    { "ttl", required_argument, NULL, OPT_TTL },
    { "pid", required_argument, NULL, OPT_PID },
    { "setup", required_argument, NULL, OPT_SETUP },
    { "prefix", required_argument, NULL, OPT_PREFIX },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

/* Applies one option; returns 0 or -EINVAL (the caller names the option). */
static int apply_opt(int opt, const char *arg, struct bench_opts *o)
{
    switch (opt) {
    case OPT_ENDPOINT:
        return parse_endpoint(arg, o);
    case OPT_WORKLOAD:
        return bench_workload_parse(arg, &o->workload);
    case OPT_CONNECTIONS:
        return parse_uint(arg, 1, 1000000, &o->connections);
    case OPT_THREADS:
        return parse_uint(arg, 1, 256, &o->threads);
    case OPT_DURATION:
        return parse_seconds(arg, &o->duration_s);
    case OPT_WARMUP:
        return parse_seconds(arg, &o->warmup_s);
    case OPT_KEYS:
        return parse_uint(arg, 1, 100000000, &o->keys);
    case OPT_VALUE_SIZE:
        return parse_uint(arg, 0, 4000, &o->value_size);
    case OPT_WATCHERS:
        return parse_uint(arg, 1, 1000000, &o->watchers);
    case OPT_TTL:
        return parse_uint(arg, 1, 1000000000, &o->ttl_s);
    case OPT_PID:
        return parse_pids(arg, o);
    case OPT_SETUP:
        if (strcmp(arg, "yes") == 0)
            o->setup = BENCH_SETUP_YES;
        else if (strcmp(arg, "no") == 0)
            o->setup = BENCH_SETUP_NO;
        else if (strcmp(arg, "only") == 0)
            o->setup = BENCH_SETUP_ONLY;
        else
            return -EINVAL;
        return 0;
    case OPT_PREFIX:
        if (arg[0] != '/' || strlen(arg) >= sizeof(o->prefix) || strpbrk(arg, "?# %\r\n"))
            return -EINVAL;
        snprintf(o->prefix, sizeof(o->prefix), "%s", arg);
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    }
    return -EINVAL;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    int opt;

    *o = (struct bench_opts){ .connections = 64,
                              .threads = 2,
                              .duration_s = 10,
                              .warmup_s = 1,
                              .value_size = 64,
                              .watchers = 1000,
                              .ttl_s = 300 };
    snprintf(o->prefix, sizeof(o->prefix), "/bench");
    ET_ASSERT(parse_endpoint("http://127.0.0.1:2379", o) == 0);
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP || opt == 'h') {
            usage(stdout);
            exit(0);
        }
        if (opt == '?') {
            usage(stderr);
            return -EINVAL;
        }
        if (apply_opt(opt, optarg, o) < 0) {
            fprintf(stderr, "etcetera-bench: invalid value for --%s: '%s'\n",
                    long_opts[opt - OPT_ENDPOINT].name, optarg);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "etcetera-bench: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (o->keys == 0)
        o->keys = o->workload == BENCH_WL_REGISTRY ? 1000 : 10000;
    if (o->threads > (o->workload == BENCH_WL_WATCH ? o->watchers : o->connections))
        o->threads = o->workload == BENCH_WL_WATCH ? o->watchers : o->connections;
    return 0;
}

/* ---------------------------------------------------------------- /proc sampling */

static bool read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

static uint64_t status_kb(const char *status, const char *field)
{
    const char *p = strstr(status, field);
    return p ? strtoull(p + strlen(field), NULL, 10) : 0;
}

static void proc_sample(const struct bench_opts *o, struct proc_sample *s)
{
    char buf[4096];

    *s = (struct proc_sample){ .ok = o->pid_count > 0 };
    for (unsigned i = 0; i < o->pid_count; i++) {
        if (!read_proc_file(o->pids[i], "stat", buf, sizeof(buf))) {
            s->ok = false;
            continue;
        }
        /* Fields after the command name (which may hold spaces): state is field 3, utime 14. */
        char *p = strrchr(buf, ')');
        unsigned long long utime = 0, stime = 0;
        if (p == NULL || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu",
                                &utime, &stime) != 2) {
            s->ok = false;
            continue;
        }
        s->cpu_ticks += utime + stime;
        if (read_proc_file(o->pids[i], "status", buf, sizeof(buf))) {
            s->hwm_kb += status_kb(buf, "VmHWM:");
            s->rss_kb += status_kb(buf, "VmRSS:");
        }
    }
}

static double rusage_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Lets the client open as many sockets as the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            et_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
    }
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = { .tv_sec = ns / ET_NS_PER_SEC, .tv_nsec = ns % ET_NS_PER_SEC };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------- workers */

struct bench_pool {
    struct bench_worker *workers; /* one per thread */
    unsigned count;               /* threads */
};

/* Spreads @conn_total connections of @role over @threads workers; worker 0 gets the writer. */
static void pool_create(struct bench_run *run, struct bench_pool *p, unsigned threads,
                        unsigned conn_total, enum bench_role role, bool with_writer)
{
    ET_ASSERT(threads > 0);
    ET_ASSERT(conn_total >= threads);
    p->count = threads;
    p->workers = et_calloc(threads, sizeof(*p->workers));
    for (unsigned t = 0; t < threads; t++) {
        struct bench_worker *w = &p->workers[t];
        unsigned n = conn_total / threads + (t < conn_total % threads);
        unsigned extra = with_writer && t == 0;
        w->run = run;
        w->id = t;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        ET_ASSERT(w->epfd >= 0);
        w->wake_fd = -1;
        w->rng = 0x9E3779B97F4A7C15ULL * (t + 1) ^ (uint64_t)et_mono_ns();
        w->setup_mode = role == BENCH_ROLE_SETUP;
        bench_hist_init(&w->hist);
        bench_hist_init(&w->hist_sent);
        w->conn_count = n + extra;
        w->conns = et_calloc(w->conn_count, sizeof(*w->conns));
        for (unsigned i = 0; i < w->conn_count; i++) {
            w->conns[i].fd = -1;
            w->conns[i].role = role;
        }
        if (extra) {
            w->writer = &w->conns[n];
            w->writer->role = BENCH_ROLE_WRITER;
            w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            ET_ASSERT(w->wake_fd >= 0);
            run->writer_wake_fd = w->wake_fd;
        }
    }
}

static void pool_start(struct bench_pool *p)
{
    for (unsigned t = 0; t < p->count; t++)
        ET_ASSERT(pthread_create(&p->workers[t].thread, NULL, bench_worker_main, &p->workers[t]) ==
                  0);
}

static void pool_join(struct bench_pool *p)
{
    for (unsigned t = 0; t < p->count; t++)
        pthread_join(p->workers[t].thread, NULL);
}

static void pool_free(struct bench_pool *p)
{
    for (unsigned t = 0; t < p->count; t++) {
        struct bench_worker *w = &p->workers[t];
        close(w->epfd);
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        for (unsigned i = 0; i < w->conn_count; i++)
            et_free(w->conns[i].in);
        et_free(w->conns);
    }
    et_free(p->workers);
    p->workers = NULL;
}

static uint64_t pool_sum(const struct bench_pool *p, size_t offset)
{
    uint64_t sum = 0;
    for (unsigned t = 0; t < p->count; t++)
        sum += atomic_load((_Atomic uint64_t *)((char *)&p->workers[t] + offset));
    return sum;
}

static int pool_failure(const struct bench_pool *p)
{
    for (unsigned t = 0; t < p->count; t++)
        if (p->workers[t].failure)
            return p->workers[t].failure;
    return 0;
}

/* ---------------------------------------------------------------- progress */

struct progress {
    int64_t start_ns;  /* when the phase began */
    int64_t last_ns;   /* last line printed */
    uint64_t last_ops; /* ops count at the last line */
    const char *what;  /* "setup", "warmup", "measure" */
};

static void progress_tick(const struct bench_run *run, const struct bench_pool *p,
                          struct progress *pr, int64_t now_ns)
{
    uint64_t ops = pool_sum(p, offsetof(struct bench_worker, all_ops));
    double dt = (double)(now_ns - pr->last_ns) / 1e9;
    if (!run->opts->quiet && dt > 0) {
        fprintf(stderr, "[%6.1fs] %-8s %10.0f %s/s  errors %" PRIu64 "\n",
                (double)(now_ns - pr->start_ns) / 1e9, pr->what, (double)(ops - pr->last_ops) / dt,
                run->opts->workload == BENCH_WL_WATCH && p->workers[0].setup_mode == false
                    ? "events"
                    : "ops",
                pool_sum(p, offsetof(struct bench_worker, errors)));
    }
    pr->last_ns = now_ns;
    pr->last_ops = ops;
}

/* Sleeps until @until_ns, printing a progress line every second; stops early on failure. */
static void progress_until(const struct bench_run *run, const struct bench_pool *p,
                           struct progress *pr, int64_t until_ns)
{
    for (;;) {
        int64_t now = et_mono_ns();
        if (now >= until_ns || pool_failure(p))
            return;
        int64_t next = pr->last_ns + ET_NS_PER_SEC;
        sleep_ns((next < until_ns ? next : until_ns) - now);
        now = et_mono_ns();
        if (now - pr->last_ns >= ET_NS_PER_SEC)
            progress_tick(run, p, pr, now);
    }
}

/* ---------------------------------------------------------------- phases */

static int run_setup(struct bench_run *run)
{
    const struct bench_opts *o = run->opts;
    uint64_t total = bench_workload_setup_keys(o);
    if (total == 0)
        return 0;
    unsigned conns =
        o->connections < SETUP_CONNECTIONS_MAX ? o->connections : SETUP_CONNECTIONS_MAX;
    if (conns > total)
        conns = (unsigned)total;
    unsigned threads = o->threads < conns ? o->threads : conns;
    struct bench_pool p;

    run->setup_total = total;
    atomic_store(&run->setup_next, 0);
    atomic_store(&run->finished, 0);
    atomic_store(&run->phase, BENCH_PHASE_WARMUP);
    pool_create(run, &p, threads, conns, BENCH_ROLE_SETUP, false);
    struct progress pr = { .start_ns = et_mono_ns(), .what = "setup" };
    pr.last_ns = pr.start_ns;
    pool_start(&p);
    while (atomic_load(&run->finished) < threads)
        progress_until(run, &p, &pr, et_mono_ns() + ET_NS_PER_SEC / 10);
    uint64_t errors = pool_sum(&p, offsetof(struct bench_worker, errors));
    pool_join(&p);
    int ret = pool_failure(&p);
    pool_free(&p);
    if (ret < 0) {
        fprintf(stderr, "etcetera-bench: setup failed: %s\n", strerror(-ret));
        return ret;
    }
    if (errors) {
        fprintf(stderr, "etcetera-bench: setup: %" PRIu64 " of %" PRIu64 " writes failed\n", errors,
                total);
        return -EIO;
    }
    return 0;
}

/* The watch workload starts from the server's current index, read with one GET. */
static int watch_prepare(struct bench_run *run, uint64_t *base_index)
{
    char req[512];
    struct bench_http_resp r;
    snprintf(req, sizeof(req), "GET /v2/keys%s/watch/key HTTP/1.1\r\nHost: %s:%s\r\n\r\n",
             run->opts->prefix, run->opts->host, run->opts->port);
    int ret = bench_http_once(run->addr, req, &r);
    if (ret < 0)
        return ret;
    if (r.etcd_index == 0) {
        fprintf(stderr, "etcetera-bench: watch: the server sent no X-Etcd-Index (status %d)\n",
                r.status);
        return -EPROTO;
    }
    *base_index = r.etcd_index;
    run->watch = et_calloc(BENCH_WATCH_RING, sizeof(*run->watch));
    return 0;
}

struct bench_result {
    double measured_s;           /* length of the measured window */
    uint64_t ops;                /* measured ops (watch: events received by watchers) */
    uint64_t errors;             /* non-2xx answers and broken connections, whole run */
    uint64_t bytes_in;           /* response bytes of measured ops */
    struct bench_hist hist;      /* latency (watch: notify latency) */
    struct bench_hist hist_sent; /* watch: latency from the writer's PUT being sent */
    uint64_t early;              /* watch: receipts before the writer's own response */
    double client_cpu_s;         /* this process's CPU in the window */
    struct proc_sample before;   /* server, at the start of the window */
    struct proc_sample after;    /* server, at the end of the window */
    uint64_t watch_writes;       /* watch: writes in the window */
    uint64_t watch_missed;       /* watch: receipts missing after the writer's timeout */
};

/* Opens the connections, warms up, measures; fills @res. */
static int run_measure(struct bench_run *run, struct bench_result *res)
{
    const struct bench_opts *o = run->opts;
    bool watch = o->workload == BENCH_WL_WATCH;
    uint64_t base = 0;
    struct bench_pool p;

    if (watch) {
        int ret = watch_prepare(run, &base);
        if (ret < 0) {
            fprintf(stderr, "etcetera-bench: watch: cannot read the index: %s\n", strerror(-ret));
            return ret;
        }
    }
    atomic_store(&run->phase, BENCH_PHASE_WARMUP);
    atomic_store(&run->ready, 0);
    atomic_store(&run->finished, 0);
    pool_create(run, &p, o->threads, watch ? o->watchers : o->connections,
                watch ? BENCH_ROLE_WATCHER : BENCH_ROLE_LOAD, watch);
    for (unsigned t = 0; t < p.count; t++)
        for (unsigned i = 0; i < p.workers[t].conn_count; i++) {
            p.workers[t].conns[i].wait_index = base + 1;
            p.workers[t].conns[i].writer_index = base;
        }
    struct progress pr = { .start_ns = et_mono_ns(), .what = "connect" };
    pr.last_ns = pr.start_ns;
    pool_start(&p);
    while (atomic_load(&run->ready) < o->threads && !pool_failure(&p))
        progress_until(run, &p, &pr, et_mono_ns() + ET_NS_PER_SEC / 20);

    /* Watchers are parked once the first write has reached them all: only then warm up. */
    pr.what = "park";
    int64_t park_deadline = et_mono_ns() + 60 * ET_NS_PER_SEC;
    while (watch && atomic_load(&run->watch_cycles) == 0 && et_mono_ns() < park_deadline &&
           !pool_failure(&p))
        progress_until(run, &p, &pr, et_mono_ns() + ET_NS_PER_SEC / 20);
    pr.what = "warmup";
    progress_until(run, &p, &pr, et_mono_ns() + (int64_t)(o->warmup_s * 1e9));
    proc_sample(o, &res->before);
    double cpu0 = rusage_cpu_s();
    int64_t t0 = et_mono_ns();
    atomic_store(&run->measure_start_ns, t0);
    atomic_store(&run->phase, BENCH_PHASE_MEASURE);
    pr.what = "measure";
    progress_until(run, &p, &pr, t0 + (int64_t)(o->duration_s * 1e9));
    atomic_store(&run->phase, BENCH_PHASE_STOP);
    int64_t t1 = et_mono_ns();
    proc_sample(o, &res->after);
    res->client_cpu_s = rusage_cpu_s() - cpu0;
    res->measured_s = (double)(t1 - t0) / 1e9;

    pool_join(&p);
    int ret = pool_failure(&p);
    res->errors = pool_sum(&p, offsetof(struct bench_worker, errors));
    bench_hist_init(&res->hist);
    bench_hist_init(&res->hist_sent);
    for (unsigned t = 0; t < p.count; t++) {
        bench_hist_merge(&res->hist, &p.workers[t].hist);
        bench_hist_merge(&res->hist_sent, &p.workers[t].hist_sent);
        res->early += atomic_load(&p.workers[t].early);
        res->ops += atomic_load(&p.workers[t].ops);
        res->bytes_in += p.workers[t].bytes_in;
    }
    res->watch_writes = atomic_load(&run->watch_writes);
    res->watch_missed = atomic_load(&run->watch_missed);
    pool_free(&p);
    if (ret < 0)
        fprintf(stderr, "etcetera-bench: a worker failed: %s\n", strerror(-ret));
    return ret;
}

/* ---------------------------------------------------------------- results */

static double us(uint64_t ns)
{
    return (double)ns / 1e3;
}

static void print_result(const struct bench_opts *o, const struct bench_result *r)
{
    double per_s = r->measured_s > 0 ? (double)r->ops / r->measured_s : 0;
    bool have_server = r->before.ok && r->after.ok;
    double server_cpu_s =
        have_server ? (double)(r->after.cpu_ticks - r->before.cpu_ticks) / sysconf(_SC_CLK_TCK) : 0;
    double server_us_per_op = r->ops ? server_cpu_s * 1e6 / (double)r->ops : 0;
    double client_us_per_op = r->ops ? r->client_cpu_s * 1e6 / (double)r->ops : 0;
    bool watch = o->workload == BENCH_WL_WATCH;
    unsigned conns = watch ? o->watchers : o->connections;

    if (o->json) {
        printf("{\"workload\":\"%s\",\"connections\":%u,\"threads\":%u,\"watchers\":%u,"
               "\"measured_s\":%.3f,\"ops\":%" PRIu64 ",\"ops_per_s\":%.1f,\"errors\":%" PRIu64
               ",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
               "\"mean_us\":%.1f,\"bytes_per_op\":%.0f,\"client_cpu_us_per_op\":%.2f,",
               bench_workload_name(o->workload), conns, o->threads, watch ? o->watchers : 0,
               r->measured_s, r->ops, per_s, r->errors, us(bench_hist_quantile(&r->hist, .5)),
               us(bench_hist_quantile(&r->hist, .99)), us(bench_hist_quantile(&r->hist, .999)),
               us(r->hist.total ? r->hist.max : 0),
               r->hist.total ? r->hist.sum / (double)r->hist.total / 1e3 : 0,
               r->ops ? (double)r->bytes_in / (double)r->ops : 0, client_us_per_op);
        if (have_server)
            printf("\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.2f,"
                   "\"server_rss_peak_kb\":%" PRIu64 ",\"server_rss_kb\":%" PRIu64 ",",
                   server_cpu_s, server_us_per_op, r->after.hwm_kb, r->after.rss_kb);
        if (watch)
            printf("\"sent_p50_us\":%.1f,\"sent_p99_us\":%.1f,\"watch_early\":%" PRIu64 ",",
                   us(bench_hist_quantile(&r->hist_sent, .5)),
                   us(bench_hist_quantile(&r->hist_sent, .99)), r->early);
        printf("\"watch_writes\":%" PRIu64 ",\"watch_missed\":%" PRIu64 "}\n", r->watch_writes,
               r->watch_missed);
        return;
    }
    printf("workload %s: %u %s, %u threads, %.2f s measured after %.1f s warmup\n",
           bench_workload_name(o->workload), conns, watch ? "watchers" : "connections", o->threads,
           r->measured_s, o->warmup_s);
    printf("  throughput  %.0f %s/s (%" PRIu64 " in window, %" PRIu64 " errors)\n", per_s,
           watch ? "events" : "ops", r->ops, r->errors);
    if (watch) {
        printf("  writes      %" PRIu64 " (%.1f/s), %" PRIu64 " receipts missing, %" PRIu64
               " before the writer's response (counted as 0)\n",
               r->watch_writes, (double)r->watch_writes / r->measured_s, r->watch_missed, r->early);
        printf("  from send   p50 %.1f us  p99 %.1f us (since the writer's PUT was sent)\n",
               us(bench_hist_quantile(&r->hist_sent, .5)),
               us(bench_hist_quantile(&r->hist_sent, .99)));
    }
    printf("  %-11s p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
           watch ? "notify" : "latency", us(bench_hist_quantile(&r->hist, .5)),
           us(bench_hist_quantile(&r->hist, .99)), us(bench_hist_quantile(&r->hist, .999)),
           us(r->hist.total ? r->hist.max : 0));
    if (have_server)
        printf("  server      %.2f us CPU/op, RSS %.1f MiB now, %.1f MiB peak\n", server_us_per_op,
               (double)r->after.rss_kb / 1024, (double)r->after.hwm_kb / 1024);
    else if (o->pid_count)
        printf("  server      (could not read /proc for the given --pid)\n");
    printf("  client      %.2f us CPU/op\n", client_us_per_op);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct bench_run run = { .opts = &o, .writer_wake_fd = -1 };
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    int gai = getaddrinfo(o.host, o.port, &hints, &run.addr);
    if (gai != 0) {
        fprintf(stderr, "etcetera-bench: cannot resolve %s:%s: %s\n", o.host, o.port,
                gai_strerror(gai));
        return 2;
    }
    memset(run.value, 'x', o.value_size);
    run.value[o.value_size] = '\0';

    int ret = 0;
    if (o.setup != BENCH_SETUP_NO)
        ret = run_setup(&run);
    if (ret == 0 && o.setup != BENCH_SETUP_ONLY) {
        struct bench_result *res = et_calloc(1, sizeof(*res));
        ret = run_measure(&run, res);
        if (ret == 0)
            print_result(&o, res);
        et_free(res);
    }
    et_free(run.watch);
    freeaddrinfo(run.addr);
    return ret == 0 ? 0 : 1;
}
