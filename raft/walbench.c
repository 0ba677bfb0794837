/*
 * raft/walbench.c - etcetera-walbench: what group commit buys on this machine's disk.
 *
 * Table 1, durable appends per second with 1, 8 and 64 concurrent proposers (closed loop: each
 * proposer waits until its entry is applied before proposing again):
 *   - group:  raft_node_propose() through a single-member node (one write + one fdatasync per
 *             batch of whatever arrived while the previous sync ran);
 *   - fsync:  each proposer appends with its own pwrite + fdatasync to one zero-filled file.
 * Table 2, the WAL's batch sync alone (raft_wal_sync in a loop, batches of 1 and 64 records):
 * plain pwrite + fdatasync versus io_uring write linked to fdatasync.
 *
 * Usage: etcetera-walbench [--dir DIR] [--seconds N] [--size BYTES] [--proposers N]
 * DIR (default: a new directory under the current one) decides the file system measured.
 * This is a benchmark of the raft module itself, so it lives in raft/ (bench/ tools speak HTTP
 * only); bench/wal.cmake builds it beside the other benchmarks.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "raft/node.h"
#include "raft/wal.h"

static size_t entry_bytes = 256;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static double seconds = 2.0;

struct waiter {
    struct raft_proposal p;
    int state; /* futex word: 0 waiting, 1 applied, 2 failed */
};

static void futex_wake(int *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void futex_wait(int *w)
{
    while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == 0)
        syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static void on_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                     struct raft_proposal *p)
{
    (void)data, (void)index, (void)term, (void)entry, (void)len;
    if (p) {
        struct waiter *w = (struct waiter *)p;
        __atomic_store_n(&w->state, 1, __ATOMIC_RELEASE);
        futex_wake(&w->state);
    }
}

static void on_done(struct raft_proposal *p, int err)
{
    struct waiter *w = (struct waiter *)p;
    fprintf(stderr, "walbench: proposal failed: %s\n", strerror(-err));
    __atomic_store_n(&w->state, 2, __ATOMIC_RELEASE);
    futex_wake(&w->state);
}

struct worker {
    struct raft_node *node; /* group mode */
    int fd;                 /* fsync mode */
    uint64_t *off;          /* fsync mode: shared append offset */
    int64_t end_ns;
    uint64_t count;
    char *buf;
};

static void *group_worker(void *arg)
{
    struct worker *wk = arg;
    struct waiter w;
    while (et_mono_ns() < wk->end_ns) {
        memset(&w, 0, sizeof(w));
        w.p.data = wk->buf;
        w.p.len = entry_bytes;
        w.p.done = on_done;
        int ret;
        while ((ret = raft_node_propose(wk->node, &w.p)) == -EAGAIN)
            sched_yield();
        if (ret < 0)
            abort();
        futex_wait(&w.state);
        if (w.state != 1)
            abort();
        wk->count++;
    }
    return NULL;
}

static void *fsync_worker(void *arg)
{
    struct worker *wk = arg;
    while (et_mono_ns() < wk->end_ns) {
        uint64_t off = __atomic_fetch_add(wk->off, entry_bytes + 8, __ATOMIC_RELAXED);
        if (pwrite(wk->fd, wk->buf, entry_bytes + 8, (off_t)off) < 0 || fdatasync(wk->fd) < 0) {
            perror("walbench: pwrite/fdatasync");
            abort();
        }
        wk->count++;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median5(double *v)
{
    qsort(v, 5, sizeof(*v), cmp_double);
    return v[2];
}

static double run_threads(int n, void *(*fn)(void *), struct worker *proto)
{
    pthread_t *th = et_alloc_array((size_t)n, sizeof(*th));
    struct worker *wk = et_alloc_array((size_t)n, sizeof(*wk));
    int64_t t0 = et_mono_ns();
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        wk[i] = *proto;
        wk[i].end_ns = t0 + (int64_t)(seconds * 1e9);
        pthread_create(&th[i], NULL, fn, &wk[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += wk[i].count;
    }
    double rate = (double)total / ((double)(et_mono_ns() - t0) / 1e9);
    et_free(th);
    et_free(wk);
    return rate;
}

static double bench_group(const char *base, int n, char *buf)
{
    char *dir = et_alloc(strlen(base) + 32);
    sprintf(dir, "%s/group-%d", base, n);
    struct raft_node_config cfg = { .data_dir = dir,
                                    .id = 1,
                                    .peer_count = 1,
                                    .tick_ms = 100,
                                    .election_ms = 1000,
                                    .request_timeout_ms = 60000,
                                    .queue_max = 65536,
                                    .apply = on_apply };
    struct raft_node *node;
    int ret = raft_node_start(&cfg, &node);
    if (ret < 0) {
        fprintf(stderr, "walbench: starting the node in %s: %s\n", dir, strerror(-ret));
        exit(1);
    }
    struct worker proto = { .node = node, .buf = buf };
    double rate = run_threads(n, group_worker, &proto);
    raft_node_stop(node);
    et_free(dir);
    return rate;
}

static double bench_fsync(const char *base, int n, char *buf)
{
    char *path = et_alloc(strlen(base) + 32);
    sprintf(path, "%s/fsync-%d", base, n);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    /* Zero-filled like a WAL segment, so only the batching differs. */
    static const char zeros[1 << 16];
    for (uint64_t off = 0; fd >= 0 && off < RAFT_WAL_SEGMENT_BYTES; off += sizeof(zeros))
        if (pwrite(fd, zeros, sizeof(zeros), (off_t)off) != (ssize_t)sizeof(zeros))
            fd = -1;
    if (fd < 0 || fsync(fd) < 0) {
        perror("walbench: preparing the fsync file");
        exit(1);
    }
    uint64_t off = 0;
    struct worker proto = { .fd = fd, .off = &off, .buf = buf };
    double rate = run_threads(n, fsync_worker, &proto);
    close(fd);
    unlink(path);
    et_free(path);
    return rate;
}

/* raft_wal_sync() of batches of @batch records for the configured time: syncs per second. */
static double bench_wal(const char *base, bool uring, int batch, char *buf)
{
    char *dir = et_alloc(strlen(base) + 32);
    sprintf(dir, "%s/wal-%d-%d", base, uring, batch);
    struct raft_wal_options o = { .use_uring = uring };
    struct raft_wal *w;
    if (raft_wal_open(dir, &o, NULL, NULL, &w) < 0)
        exit(1);
    raft_index idx = 0;
    uint64_t syncs = 0;
    int64_t t0 = et_mono_ns(), end = t0 + (int64_t)(seconds * 1e9);
    while (et_mono_ns() < end) {
        for (int i = 0; i < batch; i++) {
            struct raft_wal_entry e = {
                .index = ++idx, .term = 1, .data = buf, .len = entry_bytes
            };
            raft_wal_append_entry(w, &e);
        }
        if (raft_wal_sync(w) < 0)
            exit(1);
        syncs++;
    }
    double rate = (double)syncs / ((double)(et_mono_ns() - t0) / 1e9);
    raft_wal_close(w);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* every round starts from a fresh WAL */
    et_free(dir);
    return rate;
}

int main(int argc, char **argv)
{
    const char *parent = ".";
    int only = 0; /* --proposers N: that row alone, group commit only */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            parent = argv[++i];
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--proposers") && i + 1 < argc) {
            only = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            entry_bytes = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--dir DIR] [--seconds N] [--size BYTES] [--proposers N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (seconds <= 0 || entry_bytes == 0 || entry_bytes > (1u << 20)) {
        fprintf(stderr, "walbench: bad --seconds or --size\n");
        return 2;
    }
    char *base = et_alloc(strlen(parent) + 32);
    sprintf(base, "%s/walbench-XXXXXX", parent);
    if (!mkdtemp(base)) {
        perror("walbench: mkdtemp");
        return 1;
    }
    char *buf = et_alloc(entry_bytes + 8);
    memset(buf, 'x', entry_bytes + 8);

    if (only > 0) {
        printf("group commit, %d proposers: %.0f durable appends/s\n", only,
               bench_group(base, only, buf));
        nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        et_free(base);
        et_free(buf);
        return 0;
    }
    printf("durable appends/s, %zu-byte entries, %.1f s per cell, in %s\n", entry_bytes, seconds,
           base);
    printf("%-11s %14s %16s %8s\n", "proposers", "group commit", "fsync per write", "ratio");
    static const int counts[] = { 1, 8, 64 };
    for (size_t i = 0; i < ET_ARRAY_SIZE(counts); i++) {
        double g = bench_group(base, counts[i], buf);
        double f = bench_fsync(base, counts[i], buf);
        printf("%-11d %14.0f %16.0f %7.1fx\n", counts[i], g, f, g / f);
        fflush(stdout);
    }
    /* The disk is shared and drifts: alternate the two ways, 5 rounds each, and take medians. */
    printf("\nWAL batch sync alone (raft_wal_sync/s, median of 5 alternating rounds of %.1f s)\n",
           seconds / 2);
    printf("%-11s %16s %16s\n", "batch", "pwrite+fdatasync", "io_uring");
    static const int batches[] = { 1, 64 };
    double secs = seconds;
    seconds = secs / 2;
    for (size_t i = 0; i < ET_ARRAY_SIZE(batches); i++) {
        double p[5], u[5];
        for (int k = 0; k < 5; k++) {
            p[k] = bench_wal(base, false, batches[i], buf);
            u[k] = bench_wal(base, true, batches[i], buf);
        }
        printf("%-11d %16.0f %16.0f\n", batches[i], median5(p), median5(u));
        fflush(stdout);
    }
    seconds = secs;
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    et_free(base);
    et_free(buf);
    return 0;
}
