/*
 * bench/workloads.c - what each workload asks the server, and what it does with the answers.
 *
 * Key layout under --prefix (default /bench), one directory per workload so workloads never
 * disturb each other's key counts:
 *   read            <prefix>/read/key
 *   read-many       <prefix>/many/k<0..keys-1>
 *   write           <prefix>/write/k<random>
 *   create-inorder  <prefix>/queue/<server-made in-order key>
 *   registry        <prefix>/reg/s<0..9>/i<n>  (ttl; refreshed with refresh=true&prevExist=true)
 *   watch           <prefix>/watch/key
 *   recursive-get   <prefix>/rget/k<0..keys-1>
 *
 * The watch workload runs in lockstep: the writer PUTs, and writes again once every watcher
 * has received that index (or after BENCH_WATCH_TIMEOUT_NS, counting the missing receipts).
 * Watchers re-arm with waitIndex = received modifiedIndex + 1, so a watcher that re-arms late
 * is served from the event history and never misses an event. Notify latency runs from the
 * moment the writer's PUT response arrived to the moment a watcher's response arrived; a
 * watcher served before the writer's own response counts as 0.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/assert.h"
#include "core/clock.h"

#define BENCH_WATCH_TIMEOUT_NS   (2 * ET_NS_PER_SEC)
#define BENCH_REGISTRY_SERVICES  10 /* directories the registry keys are spread over */
#define BENCH_REGISTRY_GET_EVERY 10 /* one op in this many is a directory GET */

static const char *const workload_names[] = {
    [BENCH_WL_READ] = "read",
    [BENCH_WL_READ_MANY] = "read-many",
    [BENCH_WL_WRITE] = "write",
    [BENCH_WL_CREATE_INORDER] = "create-inorder",
    [BENCH_WL_REGISTRY] = "registry",
    [BENCH_WL_WATCH] = "watch",
    [BENCH_WL_RECURSIVE_GET] = "recursive-get",
};

const char *bench_workload_name(enum bench_workload wl)
{
    ET_ASSERT((unsigned)wl < ET_ARRAY_SIZE(workload_names));
    return workload_names[wl];
}

int bench_workload_parse(const char *name, enum bench_workload *wl)
{
    for (unsigned i = 0; i < ET_ARRAY_SIZE(workload_names); i++) {
        if (strcmp(name, workload_names[i]) == 0) {
            *wl = (enum bench_workload)i;
            return 0;
        }
    }
    return -EINVAL;
}

uint64_t bench_workload_setup_keys(const struct bench_opts *o)
{
    switch (o->workload) {
    case BENCH_WL_READ:
    case BENCH_WL_WATCH:
        return 1;
    case BENCH_WL_READ_MANY:
    case BENCH_WL_REGISTRY:
    case BENCH_WL_RECURSIVE_GET:
        return o->keys;
    case BENCH_WL_WRITE:
    case BENCH_WL_CREATE_INORDER:
        return 0;
    }
    ET_UNREACHABLE();
}

/*
 * Builds "METHOD /v2/keys<prefix><path> HTTP/1.1" with @body (form-encoded, may be NULL) into
 * c->out. The path is formatted from @fmt.
 */
ET_PRINTF(5, 6)

static void build(struct bench_run *run, struct bench_conn *c, const char *method, const char *body,
                  const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    int pn = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    ET_ASSERT(pn > 0 && (size_t)pn < sizeof(path));

    int n;
    if (body != NULL) {
        n = snprintf(c->out, sizeof(c->out),
                     "%s /v2/keys%s%s HTTP/1.1\r\nHost: %s:%s\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, run->opts->prefix, path, run->opts->host, run->opts->port,
                     strlen(body), body);
    } else {
        n = snprintf(c->out, sizeof(c->out), "%s /v2/keys%s%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n",
                     method, run->opts->prefix, path, run->opts->host, run->opts->port);
    }
    ET_ASSERT(n > 0 && (size_t)n < sizeof(c->out));
    c->out_len = (size_t)n;
}

static void build_setup(struct bench_run *run, struct bench_conn *c, uint64_t k)
{
    char body[4200];
    const struct bench_opts *o = run->opts;

    snprintf(body, sizeof(body), "value=%s", run->value);
    switch (o->workload) {
    case BENCH_WL_READ:
        build(run, c, "PUT", body, "/read/key");
        return;
    case BENCH_WL_WATCH:
        build(run, c, "PUT", "value=0", "/watch/key");
        return;
    case BENCH_WL_READ_MANY:
        build(run, c, "PUT", body, "/many/k%llu", (unsigned long long)k);
        return;
    case BENCH_WL_RECURSIVE_GET:
        build(run, c, "PUT", body, "/rget/k%llu", (unsigned long long)k);
        return;
    case BENCH_WL_REGISTRY:
        snprintf(body, sizeof(body), "value=%s&ttl=%u", run->value, o->ttl_s);
        build(run, c, "PUT", body, "/reg/s%llu/i%llu",
              (unsigned long long)(k % BENCH_REGISTRY_SERVICES), (unsigned long long)k);
        return;
    case BENCH_WL_WRITE:
    case BENCH_WL_CREATE_INORDER:
        break;
    }
    ET_UNREACHABLE();
}

static void build_load(struct bench_worker *w, struct bench_conn *c)
{
    struct bench_run *run = w->run;
    const struct bench_opts *o = run->opts;
    char body[4200];
    unsigned long long k = o->keys ? bench_rand(w) % o->keys : 0;

    switch (o->workload) {
    case BENCH_WL_READ:
        build(run, c, "GET", NULL, "/read/key");
        return;
    case BENCH_WL_READ_MANY:
        build(run, c, "GET", NULL, "/many/k%llu", k);
        return;
    case BENCH_WL_WRITE:
        snprintf(body, sizeof(body), "value=%s", run->value);
        build(run, c, "PUT", body, "/write/k%llu", k);
        return;
    case BENCH_WL_CREATE_INORDER:
        snprintf(body, sizeof(body), "value=%s", run->value);
        build(run, c, "POST", body, "/queue");
        return;
    case BENCH_WL_REGISTRY:
        if (bench_rand(w) % BENCH_REGISTRY_GET_EVERY == 0) {
            build(run, c, "GET", NULL, "/reg/s%llu", k % BENCH_REGISTRY_SERVICES);
            return;
        }
        snprintf(body, sizeof(body), "ttl=%u&refresh=true&prevExist=true", o->ttl_s);
        build(run, c, "PUT", body, "/reg/s%llu/i%llu", k % BENCH_REGISTRY_SERVICES, k);
        return;
    case BENCH_WL_RECURSIVE_GET:
        build(run, c, "GET", NULL, "/rget?recursive=true");
        return;
    case BENCH_WL_WATCH:
        break;
    }
    ET_UNREACHABLE();
}

bool bench_workload_next(struct bench_worker *w, struct bench_conn *c)
{
    struct bench_run *run = w->run;

    switch (c->role) {
    case BENCH_ROLE_SETUP: {
        uint64_t k = atomic_fetch_add(&run->setup_next, 1);
        if (k >= run->setup_total)
            return false;
        build_setup(run, c, k);
        return true;
    }
    case BENCH_ROLE_LOAD:
        build_load(w, c);
        return true;
    case BENCH_ROLE_WATCHER:
        build(run, c, "GET", NULL, "/watch/key?wait=true&waitIndex=%llu",
              (unsigned long long)c->wait_index);
        return true;
    case BENCH_ROLE_WRITER:
        return false;
    }
    ET_UNREACHABLE();
}

/* The first "modifiedIndex" of the body (the event's node; prevNode comes after it), or 0. */
static uint64_t body_modified_index(const struct bench_conn *c)
{
    static const char tag[] = "\"modifiedIndex\":";
    const char *body = c->in + c->resp.body_start;
    const char *p = memmem(body, c->resp.pos - c->resp.body_start, tag, sizeof(tag) - 1);
    if (p == NULL)
        return 0;
    uint64_t v = 0;
    for (p += sizeof(tag) - 1; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static bool measuring_since(struct bench_run *run, int64_t start_ns)
{
    if (atomic_load_explicit(&run->phase, memory_order_relaxed) != BENCH_PHASE_MEASURE)
        return false;
    return start_ns >= atomic_load_explicit(&run->measure_start_ns, memory_order_relaxed);
}

static void watcher_done(struct bench_worker *w, struct bench_conn *c, int64_t now_ns)
{
    struct bench_run *run = w->run;
    uint64_t m = c->resp.status == 200 ? body_modified_index(c) : 0;

    if (m == 0) {
        /* 401 (event index cleared) or worse: re-arm from the server's current index. */
        atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
        if (c->resp.etcd_index)
            c->wait_index = c->resp.etcd_index + 1;
        return;
    }
    c->wait_index = m + 1;
    struct bench_watch_slot *s = &run->watch[m & (BENCH_WATCH_RING - 1)];
    int64_t resp_ns = atomic_load(&s->resp_ns);
    int64_t send_ns;
    uint64_t lat_ns = 0;
    bool early = resp_ns == 0 || atomic_load(&s->index) != m;
    if (early) {
        /* The writer's response is not in yet: this event is its outstanding write. */
        send_ns = atomic_load(&run->watch_send_ns);
    } else {
        send_ns = atomic_load(&s->send_ns);
        lat_ns = now_ns > resp_ns ? (uint64_t)(now_ns - resp_ns) : 0;
    }
    if (measuring_since(run, now_ns)) {
        bench_hist_record(&w->hist, lat_ns);
        bench_hist_record(&w->hist_sent, now_ns > send_ns ? (uint64_t)(now_ns - send_ns) : 0);
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
        if (early)
            atomic_fetch_add_explicit(&w->early, 1, memory_order_relaxed);
        w->bytes_in += c->resp.pos;
    }
    atomic_fetch_add_explicit(&w->all_ops, 1, memory_order_relaxed);
    if (atomic_fetch_add(&s->got, 1) + 1 == run->opts->watchers) {
        uint64_t one = 1;
        if (write(run->writer_wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
    }
}

static void writer_done(struct bench_worker *w, struct bench_conn *c, int64_t now_ns)
{
    struct bench_run *run = w->run;
    uint64_t m = c->resp.status / 100 == 2 ? body_modified_index(c) : 0;

    if (m == 0) {
        atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
        c->writer_wait_ns = 0; /* write again at the next poll */
        return;
    }
    struct bench_watch_slot *s = &run->watch[m & (BENCH_WATCH_RING - 1)];
    atomic_store(&s->index, m);
    atomic_store(&s->send_ns, c->start_ns);
    atomic_store(&s->resp_ns, now_ns);
    c->writer_index = m;
    c->writer_wait_ns = now_ns;
    if (measuring_since(run, c->start_ns))
        atomic_fetch_add(&run->watch_writes, 1);
}

void bench_workload_done(struct bench_worker *w, struct bench_conn *c, int64_t now_ns)
{
    bool ok = c->resp.status / 100 == 2;

    switch (c->role) {
    case BENCH_ROLE_SETUP:
        if (!ok)
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->all_ops, 1, memory_order_relaxed);
        return;
    case BENCH_ROLE_LOAD:
        if (!ok)
            atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->all_ops, 1, memory_order_relaxed);
        if (ok && measuring_since(w->run, c->start_ns)) {
            bench_hist_record(&w->hist, (uint64_t)(now_ns - c->start_ns));
            atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
            w->bytes_in += c->resp.pos;
        }
        return;
    case BENCH_ROLE_WATCHER:
        watcher_done(w, c, now_ns);
        return;
    case BENCH_ROLE_WRITER:
        writer_done(w, c, now_ns);
        return;
    }
    ET_UNREACHABLE();
}

void bench_watch_writer_poll(struct bench_worker *w, struct bench_conn *c, int64_t now_ns)
{
    struct bench_run *run = w->run;
    unsigned watchers = run->opts->watchers;

    if (c->busy || c->fd < 0 || atomic_load(&run->ready) < run->opts->threads)
        return;
    if (c->writer_wait_ns != 0) {
        struct bench_watch_slot *s = &run->watch[c->writer_index & (BENCH_WATCH_RING - 1)];
        uint32_t got = atomic_load(&s->got);
        if (got < watchers && now_ns - c->writer_wait_ns < BENCH_WATCH_TIMEOUT_NS)
            return;
        if (got < watchers && measuring_since(run, c->writer_wait_ns))
            atomic_fetch_add(&run->watch_missed, watchers - got);
        atomic_fetch_add(&run->watch_cycles, 1);
    }
    /* Clear the slots the next indexes will use (other writers may take a few indexes). */
    for (uint64_t i = 1; i <= 64; i++) {
        struct bench_watch_slot *s = &run->watch[(c->writer_index + i) & (BENCH_WATCH_RING - 1)];
        atomic_store(&s->resp_ns, 0);
        atomic_store(&s->index, 0);
        atomic_store(&s->got, 0);
    }
    c->writer_wait_ns = 0;
    char body[64];
    snprintf(body, sizeof(body), "value=%llu", (unsigned long long)c->writer_index + 1);
    build(run, c, "PUT", body, "/watch/key");
    atomic_store(&run->watch_send_ns, et_mono_ns());
    bench_conn_send(w, c);
}
