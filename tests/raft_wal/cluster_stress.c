/*
 * tests/raft_wal/cluster_stress.c - three nodes in one process under ThreadSanitizer (Criterion
 * cannot run under TSan): an in-memory transport between their threads, two producer threads on
 * the leader, every value applied by every member in the same order, then the leader stops and
 * the others carry on. Exit 0 and "N passed, 0 failed" on success.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "raft/node.h"
#include "t_util.h"

#define N        3
#define PER      1000
#define PRODUCED (2 * PER)

struct member {
    char *dir;
    struct raft_node *node; /* guarded by net */
    pthread_mutex_t mu;
    uint64_t vals[2 * PRODUCED + 16];
    size_t n;
};

static struct member m[N + 1];
static pthread_rwlock_t net = PTHREAD_RWLOCK_INITIALIZER;
static struct raft_peer_config peers[N];
static int failures;

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                   \
        }                                                                         \
    } while (0)

static void nap(void)
{
    struct timespec ts = { 0, 2 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

static void on_send(void *data, raft_id to, const void *msg, size_t len)
{
    (void)data;
    pthread_rwlock_rdlock(&net);
    if (to >= 1 && to <= N && m[to].node && raft_node_receive(m[to].node, msg, len) < 0)
        nap(); /* dropped: a full queue is a lossy link */
    pthread_rwlock_unlock(&net);
}

struct prop {
    struct raft_proposal p;
    int state; /* 1 applied, -errno failed */
    uint64_t v;
};

static void on_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                     struct raft_proposal *p)
{
    struct member *mb = data;
    (void)index, (void)term;
    CHECK(len == 8);
    pthread_mutex_lock(&mb->mu);
    if (mb->n < ET_ARRAY_SIZE(mb->vals))
        memcpy(&mb->vals[mb->n++], entry, 8);
    pthread_mutex_unlock(&mb->mu);
    if (p)
        __atomic_store_n(&((struct prop *)p)->state, 1, __ATOMIC_RELEASE);
}

static void on_done(struct raft_proposal *p, int err)
{
    __atomic_store_n(&((struct prop *)p)->state, err, __ATOMIC_RELEASE);
}

static void start(raft_id id)
{
    struct raft_node_config cfg = { .data_dir = m[id].dir,
                                    .id = id,
                                    .peers = peers,
                                    .peer_count = N,
                                    .tick_ms = 10,
                                    .election_ms = 150,
                                    .request_timeout_ms = 30000,
                                    .queue_max = 4096,
                                    .data = &m[id],
                                    .apply = on_apply,
                                    .wal_segment_bytes = 1u << 20,
                                    .send = on_send };
    struct raft_node *node;
    CHECK(raft_node_start(&cfg, &node) == 0);
    pthread_rwlock_wrlock(&net);
    m[id].node = node;
    pthread_rwlock_unlock(&net);
}

static void stop(raft_id id)
{
    pthread_rwlock_wrlock(&net);
    struct raft_node *node = m[id].node;
    m[id].node = NULL;
    pthread_rwlock_unlock(&net);
    raft_node_stop(node);
}

static raft_id wait_leader(raft_id not )
{
    for (int i = 0; i < 10000; i++) {
        for (raft_id id = 1; id <= N; id++) {
            struct raft_status st;
            if (id == not || !m[id].node)
                continue;
            raft_node_status(m[id].node, &st);
            if (st.is_leader)
                return id;
        }
        nap();
    }
    CHECK(!"a leader was elected");
    return 1;
}

static size_t count(raft_id id)
{
    pthread_mutex_lock(&m[id].mu);
    size_t n = m[id].n;
    pthread_mutex_unlock(&m[id].mu);
    return n;
}

struct producer {
    raft_id leader;
    struct prop *props;
    uint64_t base;
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    for (int i = 0; i < PER; i++) {
        struct prop *pp = &pr->props[i];
        pp->v = pr->base + (uint64_t)i;
        pp->p.data = &pp->v;
        pp->p.len = 8;
        pp->p.done = on_done;
        int ret;
        while ((ret = raft_node_propose(m[pr->leader].node, &pp->p)) == -EAGAIN)
            nap();
        CHECK(ret == 0);
    }
    return NULL;
}

static void wait_count(raft_id id, size_t want)
{
    for (int i = 0; i < 15000 && count(id) < want; i++)
        nap();
    CHECK(count(id) == want);
}

int main(void)
{
    int checks = 0;
    struct producer pr[2];
    pthread_t th[2];
    for (raft_id id = 1; id <= N; id++) {
        m[id].dir = t_mkdtemp();
        pthread_mutex_init(&m[id].mu, NULL);
        peers[id - 1] = (struct raft_peer_config){ .id = id, .name = "m", .peer_urls = "" };
    }
    for (raft_id id = 1; id <= N; id++)
        start(id);
    raft_id leader = wait_leader(0);
    for (int i = 0; i < 2; i++) {
        pr[i] = (struct producer){ .leader = leader,
                                   .props = et_calloc(PER, sizeof(struct prop)),
                                   .base = (uint64_t)i << 32 };
        pthread_create(&th[i], NULL, produce, &pr[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (raft_id id = 1; id <= N; id++)
        wait_count(id, PRODUCED);
    for (raft_id id = 2; id <= N; id++)
        CHECK(memcmp(m[1].vals, m[id].vals, PRODUCED * 8) == 0);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < PER; k++)
            CHECK(__atomic_load_n(&pr[i].props[k].state, __ATOMIC_ACQUIRE) == 1);
    checks++;

    /* The leader goes; the two others elect one and go on. */
    stop(leader);
    raft_id next = wait_leader(leader);
    pr[0].leader = next;
    memset(pr[0].props, 0, PER * sizeof(struct prop));
    produce(&pr[0]);
    for (raft_id id = 1; id <= N; id++)
        if (id != leader)
            wait_count(id, PRODUCED + PER);
    checks++;

    for (raft_id id = 1; id <= N; id++) {
        if (m[id].node)
            stop(id);
        t_rm_rf(m[id].dir);
    }
    for (int i = 0; i < 2; i++)
        et_free(pr[i].props);
    int failed = __atomic_load_n(&failures, __ATOMIC_RELAXED) ? 1 : 0;
    printf("cluster_stress: %d passed, %d failed\n", checks - failed, failed);
    return failed;
}
