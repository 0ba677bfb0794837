/*
 * tests/raft_wal/test_cluster.c - three nodes in one process, joined by an in-memory transport
 * (cfg->send hands the bytes to the peer's raft_node_receive): election, replication to every
 * member in the same order, a read barrier on a follower (ReadIndex through the leader), losing
 * the leader, and a member that restarts after the others compacted their logs (it catches up
 * through InstallSnapshot).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "core/alloc.h"
#include "raft/node.h"
#include "t_util.h"

#define T_N 3

struct t_member {
    raft_id id;
    char *dir;
    struct raft_node *node; /* guarded by t_net */
    pthread_mutex_t mu;
    uint64_t *vals; /* applied values, in order */
    size_t n, cap;
    int loads;
};

static struct t_member t_m[T_N + 1];
static pthread_rwlock_t t_net = PTHREAD_RWLOCK_INITIALIZER;
static struct raft_peer_config t_peers[T_N];
static int t_dropped;

static void t_send(void *data, raft_id to, const void *msg, size_t len)
{
    (void)data;
    pthread_rwlock_rdlock(&t_net);
    if (to >= 1 && to <= T_N && t_m[to].node && raft_node_receive(t_m[to].node, msg, len) < 0)
        __atomic_add_fetch(&t_dropped, 1, __ATOMIC_RELAXED); /* full queue: dropped, like UDP */
    pthread_rwlock_unlock(&t_net);
}

struct t_prop {
    struct raft_proposal p;
    uint64_t v;
    int err; /* atomic */
};

static void t_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                    struct raft_proposal *p)
{
    struct t_member *m = data;
    (void)index, (void)term;
    cr_assert_eq(len, 8);
    if (p)
        __atomic_store_n(&((struct t_prop *)p)->err, 1, __ATOMIC_RELEASE); /* 1: applied */
    pthread_mutex_lock(&m->mu);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->vals = et_realloc(m->vals, m->cap * sizeof(*m->vals));
    }
    memcpy(&m->vals[m->n++], entry, 8);
    pthread_mutex_unlock(&m->mu);
}

static void t_snapshot_save(void *data, void **out, size_t *len)
{
    struct t_member *m = data;
    pthread_mutex_lock(&m->mu);
    *len = m->n * 8;
    *out = et_memdup(m->vals ? (void *)m->vals : (void *)"", *len ? *len : 1);
    pthread_mutex_unlock(&m->mu);
}

static int t_snapshot_load(void *data, const void *p, size_t len)
{
    struct t_member *m = data;
    pthread_mutex_lock(&m->mu);
    m->n = 0;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 256;
            m->vals = et_realloc(m->vals, m->cap * sizeof(*m->vals));
        }
        memcpy(&m->vals[m->n++], (const char *)p + i, 8);
    }
    m->loads++;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int t_start(raft_id id, uint64_t snapshot_count)
{
    struct raft_node_config cfg = { .data_dir = t_m[id].dir,
                                    .id = id,
                                    .peers = t_peers,
                                    .peer_count = T_N,
                                    .tick_ms = 10,
                                    .election_ms = 100,
                                    .request_timeout_ms = 10000,
                                    .queue_max = 4096,
                                    .snapshot_count = snapshot_count,
                                    .data = &t_m[id],
                                    .apply = t_apply,
                                    .snapshot_save = t_snapshot_save,
                                    .snapshot_load = t_snapshot_load,
                                    .wal_segment_bytes = 64u << 10,
                                    .send = t_send };
    struct raft_node *node;
    pthread_mutex_lock(&t_m[id].mu);
    t_m[id].n = 0; /* a restart rebuilds the state from the snapshot and the WAL */
    pthread_mutex_unlock(&t_m[id].mu);
    int ret = raft_node_start(&cfg, &node);
    if (ret == 0) {
        pthread_rwlock_wrlock(&t_net);
        t_m[id].node = node;
        pthread_rwlock_unlock(&t_net);
    }
    return ret;
}

static void t_stop(raft_id id)
{
    pthread_rwlock_wrlock(&t_net);
    struct raft_node *node = t_m[id].node;
    t_m[id].node = NULL;
    pthread_rwlock_unlock(&t_net);
    raft_node_stop(node);
}

static void t_setup(void)
{
    for (raft_id id = 1; id <= T_N; id++) {
        t_m[id] = (struct t_member){ .id = id, .dir = t_mkdtemp() };
        pthread_mutex_init(&t_m[id].mu, NULL);
        t_peers[id - 1] = (struct raft_peer_config){ .id = id, .name = "m", .peer_urls = "" };
    }
}

static void t_teardown(void)
{
    for (raft_id id = 1; id <= T_N; id++) {
        if (t_m[id].node)
            t_stop(id);
        et_free(t_m[id].vals);
        t_rm_rf(t_m[id].dir);
    }
}

TestSuite(raft_cluster, .init = t_setup, .fini = t_teardown, .timeout = 120);

static void t_nap(void)
{
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

/* Waits (bounded: 20 s) for a leader among the running members; returns its id. */
static raft_id t_wait_leader(void)
{
    for (int i = 0; i < 4000; i++) {
        for (raft_id id = 1; id <= T_N; id++) {
            struct raft_status st;
            if (!t_m[id].node)
                continue;
            raft_node_status(t_m[id].node, &st);
            if (st.is_leader)
                return id;
        }
        t_nap();
    }
    cr_assert_fail("no leader elected");
    return 0;
}

static size_t t_count(raft_id id)
{
    pthread_mutex_lock(&t_m[id].mu);
    size_t n = t_m[id].n;
    pthread_mutex_unlock(&t_m[id].mu);
    return n;
}

static void t_wait_count(raft_id id, size_t want)
{
    for (int i = 0; i < 4000 && t_count(id) < want; i++)
        t_nap();
    cr_assert_eq(t_count(id), want, "member %lu applied %zu of %zu", (unsigned long)id, t_count(id),
                 want);
}

static void t_done(struct raft_proposal *p, int err)
{
    __atomic_store_n(&((struct t_prop *)p)->err, err, __ATOMIC_RELEASE);
}

/* Proposes values @from..@to-1 on @id (retrying when the node refuses for a full queue). */
static void t_propose_range(raft_id id, struct t_prop *props, uint64_t from, uint64_t to)
{
    for (uint64_t v = from; v < to; v++) {
        struct t_prop *tp = &props[v];
        *tp = (struct t_prop){ .v = v };
        tp->p.data = &tp->v;
        tp->p.len = 8;
        tp->p.done = t_done;
        int ret;
        while ((ret = raft_node_propose(t_m[id].node, &tp->p)) == -EAGAIN)
            t_nap();
        cr_assert_eq(ret, 0);
    }
}

static void t_same_log(raft_id a, raft_id b, size_t count)
{
    pthread_mutex_lock(&t_m[a].mu);
    pthread_mutex_lock(&t_m[b].mu);
    cr_assert_geq(t_m[a].n, count);
    cr_assert_geq(t_m[b].n, count);
    cr_assert_eq(memcmp(t_m[a].vals, t_m[b].vals, count * 8), 0, "members %lu and %lu differ",
                 (unsigned long)a, (unsigned long)b);
    pthread_mutex_unlock(&t_m[b].mu);
    pthread_mutex_unlock(&t_m[a].mu);
}

struct t_read {
    struct raft_read r;
    int result; /* atomic: 1 ok, -errno failed */
};

static void t_read_done(struct raft_read *r, int err)
{
    __atomic_store_n(&((struct t_read *)r)->result, err ? err : 1, __ATOMIC_RELEASE);
}

Test(raft_cluster, three_members_elect_replicate_survive_a_leader_loss_and_catch_up)
{
    enum {
        FIRST = 200,
        FORWARDED = 50,
        SECOND = 400
    };
    struct t_prop *props = et_calloc(FIRST + SECOND, sizeof(*props));
    cr_redirect_stderr();
    for (raft_id id = 1; id <= T_N; id++)
        cr_assert_eq(t_start(id, 100), 0);
    raft_id leader = t_wait_leader();
    t_propose_range(leader, props, 0, FIRST);
    for (raft_id id = 1; id <= T_N; id++)
        t_wait_count(id, FIRST);
    t_same_log(1, 2, FIRST);
    t_same_log(1, 3, FIRST);
    for (size_t i = 0; i < FIRST; i++)
        cr_assert_eq(t_m[leader].vals[i], i, "the leader applied its proposals in order");

    /* A read barrier on a follower goes through the leader (ReadIndex). */
    raft_id follower = leader % T_N + 1;
    struct t_read rd = { .r = { .done = t_read_done } };
    cr_assert_eq(raft_node_read(t_m[follower].node, &rd.r), 0);
    for (int i = 0; i < 4000 && !__atomic_load_n(&rd.result, __ATOMIC_ACQUIRE); i++)
        t_nap();
    cr_assert_eq(rd.result, 1, "the follower's read barrier finished (%d)", rd.result);
    struct raft_status st;
    raft_node_status(t_m[follower].node, &st);
    cr_assert_geq(st.applied, rd.r._index);
    cr_assert_geq(rd.r._index, FIRST, "the read index covers every earlier write");

    /* Proposals made on a follower are forwarded to the leader and come back to it applied. */
    struct t_prop *fwd = et_calloc(FORWARDED, sizeof(*fwd));
    t_propose_range(follower, fwd, 0, FORWARDED);
    for (raft_id id = 1; id <= T_N; id++)
        t_wait_count(id, FIRST + FORWARDED);
    for (size_t i = 0; i < FORWARDED; i++)
        cr_assert_eq(__atomic_load_n(&fwd[i].err, __ATOMIC_ACQUIRE), 1,
                     "forwarded proposal %zu applied with its proposal attached", i);
    et_free(fwd);

    /* The leader goes; one of the others takes over and the log goes on. */
    struct raft_status gone;
    raft_node_status(t_m[leader].node, &gone);
    t_stop(leader);
    raft_id next = t_wait_leader();
    cr_assert_neq(next, leader);
    t_propose_range(next, props, FIRST, FIRST + SECOND);
    for (raft_id id = 1; id <= T_N; id++)
        if (id != leader)
            t_wait_count(id, FIRST + FORWARDED + SECOND);

    /* Snapshots are written in the background: wait until the logs of both others start past
     * the end of the old leader's (either may lead when it is back), so that it catches up from
     * a snapshot. */
    for (raft_id id = 1; id <= T_N; id++) {
        if (id == leader)
            continue;
        raft_node_status(t_m[id].node, &st);
        for (int i = 0; i < 4000 && st.snapshot_index <= gone.commit + 10; i++) {
            t_nap();
            raft_node_status(t_m[id].node, &st);
        }
        cr_assert_gt(st.snapshot_index, gone.commit + 10,
                     "member %lu: snapshot at %" PRIu64 ", old log to %" PRIu64, (unsigned long)id,
                     st.snapshot_index, gone.commit);
    }

    /* The old leader comes back after the others compacted past its log: it catches up. */
    pthread_mutex_lock(&t_m[leader].mu);
    t_m[leader].loads = 0;
    pthread_mutex_unlock(&t_m[leader].mu);
    cr_assert_eq(t_start(leader, 100), 0);
    t_wait_count(leader, FIRST + FORWARDED + SECOND);
    pthread_mutex_lock(&t_m[leader].mu);
    int loads = t_m[leader].loads;
    pthread_mutex_unlock(&t_m[leader].mu);
    cr_assert_geq(loads, 2, "its own snapshot at start, then the leader's (%d)", loads);
    t_same_log(leader, next, FIRST + FORWARDED + SECOND);
    et_free(props);
}
