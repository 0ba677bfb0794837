/*
 * tests/raft_wal/node_stress.c - the node's threading under ThreadSanitizer. Criterion cannot run
 * under TSan (its inheritable arena fails to map), so this is a plain program: producers propose
 * concurrently while reader threads issue read barriers and poll raft_node_status(); every
 * proposal must be applied exactly once, in each producer's order; then a restart replays the
 * same log and a stop with proposals still queued finishes each exactly once.
 * Exit 0 and "N passed, 0 failed" on success.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "raft/node.h"
#include "t_util.h"

#define PRODUCERS 4
#define PER       2000
#define READERS   2

struct prop {
    struct raft_proposal p;
    uint64_t v;
    int outcome; /* atomic: applied (1) or done with an error (2) */
};

static uint64_t *applied_vals;
static size_t applied_n;      /* written by the node thread only; read after stop */
static raft_index last_index; /* node thread only */
static size_t applied_seen;   /* atomic mirror for waiting */
static int failures;

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                   \
        }                                                                         \
    } while (0)

static void on_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                     struct raft_proposal *p)
{
    (void)data;
    (void)term;
    uint64_t v;
    CHECK(len == 8);
    memcpy(&v, entry, 8);
    CHECK(index > last_index); /* increasing; the leaders' no-ops are not applied */
    last_index = index;
    applied_vals[applied_n++] = v;
    __atomic_store_n(&applied_seen, applied_n, __ATOMIC_RELEASE);
    if (p) {
        struct prop *pp = (struct prop *)p;
        CHECK(pp->v == v);
        CHECK(__atomic_exchange_n(&pp->outcome, 1, __ATOMIC_ACQ_REL) == 0);
    }
}

static void on_done(struct raft_proposal *p, int err)
{
    CHECK(err < 0);
    CHECK(__atomic_exchange_n(&((struct prop *)p)->outcome, 2, __ATOMIC_ACQ_REL) == 0);
}

struct producer {
    struct raft_node *n;
    struct prop *props;
    int id;
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    for (int i = 0; i < PER; i++) {
        struct prop *pp = &pr->props[i];
        pp->v = (uint64_t)pr->id << 32 | (uint64_t)i;
        pp->p.data = &pp->v;
        pp->p.len = 8;
        pp->p.done = on_done;
        int ret;
        while ((ret = raft_node_propose(pr->n, &pp->p)) == -EAGAIN)
            sched_yield();
        CHECK(ret == 0);
    }
    return NULL;
}

struct reader {
    struct raft_node *n;
    int stop;       /* atomic */
    int reads_done; /* atomic */
};

struct read_req {
    struct raft_read r;
    int finished;
};

static void on_read(struct raft_read *r, int err)
{
    CHECK(err == 0);
    __atomic_store_n(&((struct read_req *)r)->finished, 1, __ATOMIC_RELEASE);
}

static void *read_loop(void *arg)
{
    struct reader *rd = arg;
    while (!__atomic_load_n(&rd->stop, __ATOMIC_ACQUIRE)) {
        struct read_req q = { .r = { .done = on_read } };
        struct raft_status st;
        raft_node_status(rd->n, &st);
        CHECK(st.is_leader);
        CHECK(st.applied <= st.commit);
        if (raft_node_read(rd->n, &q.r) != 0)
            continue;
        while (!__atomic_load_n(&q.finished, __ATOMIC_ACQUIRE))
            sched_yield();
        raft_node_status(rd->n, &st);
        CHECK(st.applied >= q.r._index);
        __atomic_add_fetch(&rd->reads_done, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static struct raft_node_config config(const char *dir)
{
    return (struct raft_node_config){ .data_dir = dir,
                                      .id = 1,
                                      .peer_count = 1,
                                      .tick_ms = 5,
                                      .election_ms = 50,
                                      .request_timeout_ms = 60000,
                                      .queue_max = 128,
                                      .apply = on_apply,
                                      .wal_segment_bytes = 1u << 20 };
}

int main(void)
{
    char *dir = t_mkdtemp();
    struct raft_node_config cfg = config(dir);
    struct raft_node *n;
    struct producer pr[PRODUCERS];
    struct reader rd = { 0 };
    pthread_t pth[PRODUCERS], rth[READERS];
    int checks = 0;

    applied_vals = et_calloc(2 * PRODUCERS * PER + 16, sizeof(uint64_t)); /* two runs */
    CHECK(raft_node_start(&cfg, &n) == 0);
    rd.n = n;
    for (int i = 0; i < READERS; i++)
        pthread_create(&rth[i], NULL, read_loop, &rd);
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i] = (struct producer){ .n = n, .id = i, .props = et_calloc(PER, sizeof(struct prop)) };
        pthread_create(&pth[i], NULL, produce, &pr[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pth[i], NULL);
    while (__atomic_load_n(&applied_seen, __ATOMIC_ACQUIRE) < PRODUCERS * PER)
        sched_yield();
    __atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < READERS; i++)
        pthread_join(rth[i], NULL);
    raft_node_stop(n);
    checks++;

    /* Exactly once, in each producer's order. */
    uint64_t next[PRODUCERS] = { 0 };
    CHECK(applied_n == PRODUCERS * PER);
    for (size_t i = 0; i < applied_n; i++) {
        int id = (int)(applied_vals[i] >> 32);
        CHECK(id < PRODUCERS);
        if (id < PRODUCERS) {
            CHECK((applied_vals[i] & 0xffffffffu) == next[id]);
            next[id]++;
        }
    }
    for (int i = 0; i < PRODUCERS; i++)
        for (int k = 0; k < PER; k++)
            CHECK(pr[i].props[k].outcome == 1);
    CHECK(rd.reads_done > 0);
    checks++;

    /* Restart: the same log comes back through apply. */
    uint64_t *before = et_memdup(applied_vals, applied_n * 8);
    applied_n = 0;
    last_index = 0;
    CHECK(raft_node_start(&cfg, &n) == 0);
    CHECK(applied_n == PRODUCERS * PER);
    CHECK(memcmp(before, applied_vals, applied_n * 8) == 0);
    checks++;

    /* Stop while producers are still pushing: each proposal gets exactly one outcome. */
    for (int i = 0; i < PRODUCERS; i++) {
        memset(pr[i].props, 0, PER * sizeof(struct prop));
        pr[i].n = n;
        pthread_create(&pth[i], NULL, produce, &pr[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pth[i], NULL);
    raft_node_stop(n);
    for (int i = 0; i < PRODUCERS; i++)
        for (int k = 0; k < PER; k++)
            CHECK(pr[i].props[k].outcome == 1 || pr[i].props[k].outcome == 2);
    checks++;

    for (int i = 0; i < PRODUCERS; i++)
        et_free(pr[i].props);
    et_free(before);
    et_free(applied_vals);
    t_rm_rf(dir);
    int failed = __atomic_load_n(&failures, __ATOMIC_RELAXED) ? 1 : 0;
    printf("node_stress: %d passed, %d failed\n", checks - failed, failed);
    return failed;
}
