/*
 * tests/raft_wal/test_node.c - the node's contract with one member: concurrent proposals applied
 * exactly once in order, durable across restarts, replay after a crash between fsync and apply,
 * read barriers, deadlines, cancellation on stop, ticks, snapshots with WAL compaction.
 *
 * The state machine under test is a list of 64-bit values (one per entry) guarded by a mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "core/alloc.h"
#include "raft/node.h"
#include "raft/snap.h"
#include "raft/wal.h"
#include "t_util.h"

struct t_sm {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t *vals;
    raft_index *idx;
    size_t n, cap;
    size_t with_p;
    size_t applied_batches;
    size_t ticks;
    size_t loads;
    int gate_closed; /* apply waits while set */
    int in_apply;    /* set while apply waits at the gate */
    int tick_gate;   /* tick waits while set */
    int in_tick;     /* set while tick waits at its gate */
};

struct t_prop {
    struct raft_proposal p;
    uint64_t v;
    int applied; /* set by apply (node thread) */
    int err;     /* set by done */
    int done_calls;
};

static struct t_sm t_sm;
static char *t_dir;

static void t_sm_reset(void)
{
    et_free(t_sm.vals);
    et_free(t_sm.idx);
    t_sm.vals = NULL;
    t_sm.idx = NULL;
    t_sm.n = t_sm.cap = t_sm.with_p = t_sm.applied_batches = t_sm.ticks = t_sm.loads = 0;
}

static void t_setup(void)
{
    pthread_mutex_init(&t_sm.mu, NULL);
    pthread_cond_init(&t_sm.cv, NULL);
    t_dir = t_mkdtemp();
}

static void t_teardown(void)
{
    t_sm_reset();
    t_rm_rf(t_dir);
}

TestSuite(raft_node, .init = t_setup, .fini = t_teardown, .timeout = 120);

static void t_push(uint64_t v, raft_index index)
{
    if (t_sm.n == t_sm.cap) {
        t_sm.cap = t_sm.cap ? 2 * t_sm.cap : 1024;
        t_sm.vals = et_realloc(t_sm.vals, t_sm.cap * sizeof(*t_sm.vals));
        t_sm.idx = et_realloc(t_sm.idx, t_sm.cap * sizeof(*t_sm.idx));
    }
    t_sm.vals[t_sm.n] = v;
    t_sm.idx[t_sm.n++] = index;
}

static void t_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                    struct raft_proposal *p)
{
    (void)data;
    cr_assert_gt(term, 0);
    cr_assert_eq(len, 8);
    uint64_t v;
    memcpy(&v, entry, 8);
    pthread_mutex_lock(&t_sm.mu);
    while (t_sm.gate_closed) {
        t_sm.in_apply = 1;
        pthread_cond_broadcast(&t_sm.cv);
        pthread_cond_wait(&t_sm.cv, &t_sm.mu);
    }
    t_sm.in_apply = 0;
    t_push(v, index);
    if (p) {
        struct t_prop *tp = (struct t_prop *)p;
        cr_assert_eq(tp->v, v, "the attached proposal is the entry's own");
        tp->applied++;
        t_sm.with_p++;
    }
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
}

static void t_applied(void *data)
{
    (void)data;
    pthread_mutex_lock(&t_sm.mu);
    t_sm.applied_batches++;
    pthread_mutex_unlock(&t_sm.mu);
}

static void t_tick(void *data, bool is_leader)
{
    (void)data;
    cr_assert(is_leader);
    pthread_mutex_lock(&t_sm.mu);
    while (t_sm.tick_gate) {
        t_sm.in_tick = 1;
        pthread_cond_broadcast(&t_sm.cv);
        pthread_cond_wait(&t_sm.cv, &t_sm.mu);
    }
    t_sm.ticks++;
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
}

static void t_snapshot_save(void *data, void **out, size_t *len)
{
    (void)data;
    pthread_mutex_lock(&t_sm.mu);
    *len = t_sm.n * 16;
    *out = et_alloc(*len ? *len : 1);
    memcpy(*out, t_sm.vals, t_sm.n * 8);
    memcpy((char *)*out + t_sm.n * 8, t_sm.idx, t_sm.n * 8);
    pthread_mutex_unlock(&t_sm.mu);
}

static int t_snapshot_load(void *data, const void *p, size_t len)
{
    (void)data;
    if (len % 16)
        return -EINVAL;
    pthread_mutex_lock(&t_sm.mu);
    t_sm.n = 0;
    size_t n = len / 16;
    for (size_t i = 0; i < n; i++) {
        uint64_t v, x;
        memcpy(&v, (const char *)p + i * 8, 8);
        memcpy(&x, (const char *)p + n * 8 + i * 8, 8);
        t_push(v, x);
    }
    t_sm.loads++;
    pthread_mutex_unlock(&t_sm.mu);
    return 0;
}

static void t_done(struct raft_proposal *p, int err)
{
    struct t_prop *tp = (struct t_prop *)p;
    pthread_mutex_lock(&t_sm.mu);
    tp->err = err;
    tp->done_calls++;
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
}

static struct raft_node_config t_cfg(void)
{
    static const struct raft_peer_config self = { .id = 1,
                                                  .name = "default",
                                                  .peer_urls = "http://127.0.0.1:2380" };
    return (struct raft_node_config){ .data_dir = t_dir,
                                      .id = 1,
                                      .peers = &self,
                                      .peer_count = 1,
                                      .tick_ms = 10,
                                      .election_ms = 100,
                                      .request_timeout_ms = 7000,
                                      .queue_max = 100000,
                                      .snapshot_count = 0,
                                      .apply = t_apply,
                                      .applied = t_applied,
                                      .tick = t_tick,
                                      .snapshot_save = t_snapshot_save,
                                      .snapshot_load = t_snapshot_load,
                                      .wal_segment_bytes = 256u << 10 };
}

static void t_prop_init(struct t_prop *tp, uint64_t v)
{
    memset(tp, 0, sizeof(*tp));
    tp->v = v;
    tp->p.data = &tp->v;
    tp->p.len = 8;
    tp->p.done = t_done;
}

/* Waits (bounded: 30 s) until @cond, evaluated under the mutex, holds. */
#define T_WAIT(cond)                                                           \
    do {                                                                       \
        struct timespec dl_;                                                   \
        clock_gettime(CLOCK_REALTIME, &dl_);                                   \
        dl_.tv_sec += 30;                                                      \
        pthread_mutex_lock(&t_sm.mu);                                          \
        while (!(cond))                                                        \
            if (pthread_cond_timedwait(&t_sm.cv, &t_sm.mu, &dl_) == ETIMEDOUT) \
                break;                                                         \
        bool ok_ = (cond);                                                     \
        pthread_mutex_unlock(&t_sm.mu);                                        \
        cr_assert(ok_, "timed out waiting for " #cond);                        \
    } while (0)

Test(raft_node, one_proposal_is_applied_with_its_proposal_attached)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_prop tp;
    struct raft_status st;
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    raft_node_status(n, &st);
    cr_assert(st.is_leader);
    cr_assert_eq(st.leader, 1);
    cr_assert_eq(st.term, 2); /* fresh members start in term 1, as etcd's */
    cr_assert_gt(st.leader_since_ns, 0);
    t_prop_init(&tp, 42);
    cr_assert_eq(raft_node_propose(n, &tp.p), 0);
    T_WAIT(tp.applied == 1 && t_sm.applied_batches >= 1);
    /* the status atomics are stored by the node thread around the apply: wait for them too */
    T_WAIT((raft_node_status(n, &st), st.applied == 2 && st.commit == 2));
    raft_node_stop(n);
    cr_assert_eq(tp.done_calls, 0, "done is not called for an applied proposal");
    cr_assert_eq(t_sm.n, 1);
    cr_assert_eq(t_sm.vals[0], 42);
    /* The leader's no-op of term 1 came first (index 1), without an apply call. */
    cr_assert_eq(t_sm.idx[0], 2);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(st.commit, 2);
    cr_assert_geq(t_sm.applied_batches, 1);
}

#define T_PRODUCERS 8
#define T_PER       1000

struct t_producer {
    struct raft_node *n;
    int id;
    struct t_prop *props;
};

static void *t_produce(void *arg)
{
    struct t_producer *pr = arg;
    for (int i = 0; i < T_PER; i++) {
        struct t_prop *tp = &pr->props[i];
        t_prop_init(tp, (uint64_t)pr->id << 32 | (uint64_t)i);
        int ret;
        while ((ret = raft_node_propose(pr->n, &tp->p)) == -EAGAIN)
            sched_yield();
        cr_assert_eq(ret, 0);
    }
    return NULL;
}

static void t_check_log(size_t total)
{
    uint64_t next[T_PRODUCERS] = { 0 };
    cr_assert_eq(t_sm.n, total);
    for (size_t i = 0; i < t_sm.n; i++) {
        if (i > 0)
            cr_assert_eq(t_sm.idx[i], t_sm.idx[i - 1] + 1, "indexes are applied in order");
        uint64_t v = t_sm.vals[i];
        int id = (int)(v >> 32);
        cr_assert_lt(id, T_PRODUCERS);
        cr_assert_eq(v & 0xffffffffu, next[id], "each producer's proposals in its order, once");
        next[id]++;
    }
}

Test(raft_node, concurrent_proposals_are_applied_once_in_order_and_survive_restart)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_producer pr[T_PRODUCERS];
    pthread_t th[T_PRODUCERS];
    cfg.queue_max = 64; /* small: producers also meet -EAGAIN */
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    for (int i = 0; i < T_PRODUCERS; i++) {
        pr[i] = (struct t_producer){ .n = n,
                                     .id = i,
                                     .props = et_calloc(T_PER, sizeof(struct t_prop)) };
        pthread_create(&th[i], NULL, t_produce, &pr[i]);
    }
    for (int i = 0; i < T_PRODUCERS; i++)
        pthread_join(th[i], NULL);
    T_WAIT(t_sm.n == T_PRODUCERS * T_PER);
    raft_node_stop(n);
    t_check_log(T_PRODUCERS * T_PER);
    cr_assert_eq(t_sm.with_p, T_PRODUCERS * T_PER);
    cr_assert_lt(t_sm.applied_batches, T_PRODUCERS * T_PER, "applies are batched");
    for (int i = 0; i < T_PRODUCERS; i++) {
        for (int k = 0; k < T_PER; k++) {
            cr_assert_eq(pr[i].props[k].applied, 1);
            cr_assert_eq(pr[i].props[k].done_calls, 0);
        }
        et_free(pr[i].props);
    }
    uint64_t *before = et_memdup(t_sm.vals, t_sm.n * 8);

    /* Restart: the WAL replays every entry to apply, in the same order, without proposals. */
    t_sm_reset();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    pthread_mutex_lock(&t_sm.mu);
    cr_assert_eq(t_sm.n, T_PRODUCERS * T_PER);
    cr_assert_eq(memcmp(before, t_sm.vals, t_sm.n * 8), 0);
    cr_assert_eq(t_sm.with_p, 0);
    pthread_mutex_unlock(&t_sm.mu);
    struct raft_status st;
    raft_node_status(n, &st);
    cr_assert_eq(st.applied, T_PRODUCERS * T_PER + 2, "both terms' no-ops count");
    cr_assert_eq(st.term, 3, "a restart starts a new term");
    /* New proposals continue the log. */
    struct t_prop tp;
    t_prop_init(&tp, 5);
    cr_assert_eq(raft_node_propose(n, &tp.p), 0);
    T_WAIT(tp.applied == 1);
    cr_assert_eq(t_sm.idx[t_sm.n - 1], T_PRODUCERS * T_PER + 3);
    raft_node_stop(n);
    et_free(before);
}

Test(raft_node, entries_durable_but_not_applied_before_a_crash_are_replayed)
{
    /* What a node leaves when it dies after fdatasync returned and before apply ran. */
    char *wal_dir = et_alloc(strlen(t_dir) + 16);
    sprintf(wal_dir, "%s/member/wal", t_dir);
    struct raft_wal *w;
    cr_assert_eq(raft_wal_open(wal_dir, NULL, NULL, NULL, &w), 0);
    struct raft_hard_state hs = { .term = 4, .vote = 1, .commit = 0 };
    raft_wal_append_hard_state(w, &hs);
    for (uint64_t i = 1; i <= 50; i++) {
        uint64_t v = 1000 + i;
        struct raft_wal_entry e = {
            .index = i, .term = 4, .origin_id = 1, .origin_seq = i, .data = &v, .len = 8
        };
        raft_wal_append_entry(w, &e);
    }
    cr_assert_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    et_free(wal_dir);

    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    struct raft_status st;
    raft_node_status(n, &st);
    cr_assert_eq(st.applied, 51, "50 replayed, then the new term's no-op");
    cr_assert_eq(st.term, 5);
    raft_node_stop(n);
    cr_assert_eq(t_sm.n, 50);
    for (size_t i = 0; i < 50; i++) {
        cr_assert_eq(t_sm.vals[i], 1001 + i);
        cr_assert_eq(t_sm.idx[i], i + 1);
    }
    cr_assert_eq(t_sm.with_p, 0, "replayed entries carry no proposal");
}

static void t_read_done(struct raft_read *r, int err)
{
    (void)r;
    pthread_mutex_lock(&t_sm.mu);
    cr_assert_eq(err, 0);
    t_sm.loads += 100; /* marks the read done; checked below */
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
}

Test(raft_node, read_barrier_finishes_after_earlier_writes_are_applied)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_prop tp[10];
    struct raft_read r = { .done = t_read_done };
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    for (int i = 0; i < 10; i++) {
        t_prop_init(&tp[i], (uint64_t)i);
        cr_assert_eq(raft_node_propose(n, &tp[i].p), 0);
    }
    T_WAIT(t_sm.n == 10);
    cr_assert_eq(raft_node_read(n, &r), 0);
    T_WAIT(t_sm.loads == 100);
    struct raft_status st;
    raft_node_status(n, &st);
    cr_assert_geq(st.applied, r._index);
    cr_assert_geq(r._index, t_sm.idx[9], "the read saw every earlier write");
    raft_node_stop(n);
}

Test(raft_node, proposals_past_their_deadline_fail_with_etimedout)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_prop late[5];
    cfg.request_timeout_ms = 1;
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    pthread_mutex_lock(&t_sm.mu);
    t_sm.tick_gate = 1;
    pthread_mutex_unlock(&t_sm.mu);
    T_WAIT(t_sm.in_tick); /* the node thread is stuck in a tick */
    for (int i = 0; i < 5; i++) {
        t_prop_init(&late[i], 10 + (uint64_t)i);
        cr_assert_eq(raft_node_propose(n, &late[i].p), 0);
    }
    struct timespec ts = { 0, 20 * 1000 * 1000 }; /* let the 1 ms deadlines pass */
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&t_sm.mu);
    t_sm.tick_gate = 0;
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
    for (int i = 0; i < 5; i++)
        T_WAIT(late[i].done_calls == 1);
    raft_node_stop(n);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(late[i].err, -ETIMEDOUT);
        cr_assert_eq(late[i].applied, 0);
    }
    cr_assert_eq(t_sm.n, 0);
}

struct t_stopper {
    struct raft_node *n;
};

static void *t_stop_thread(void *arg)
{
    raft_node_stop(((struct t_stopper *)arg)->n);
    return NULL;
}

Test(raft_node, stop_cancels_queued_proposals_and_full_queue_refuses)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_prop first, queued[4], extra;
    cfg.queue_max = 4;
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    pthread_mutex_lock(&t_sm.mu);
    t_sm.gate_closed = 1;
    pthread_mutex_unlock(&t_sm.mu);
    t_prop_init(&first, 1);
    cr_assert_eq(raft_node_propose(n, &first.p), 0);
    T_WAIT(t_sm.in_apply);
    for (int i = 0; i < 4; i++) {
        t_prop_init(&queued[i], 10 + (uint64_t)i);
        cr_assert_eq(raft_node_propose(n, &queued[i].p), 0);
    }
    t_prop_init(&extra, 99);
    cr_assert_eq(raft_node_propose(n, &extra.p), -EAGAIN, "the queue is bounded");
    struct t_stopper s = { n };
    pthread_t th;
    pthread_create(&th, NULL, t_stop_thread, &s);
    struct timespec ts = { 0, 30 * 1000 * 1000 }; /* let stop raise its flag */
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&t_sm.mu);
    t_sm.gate_closed = 0;
    pthread_cond_broadcast(&t_sm.cv);
    pthread_mutex_unlock(&t_sm.mu);
    pthread_join(th, NULL);
    cr_assert_eq(first.applied, 1);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(queued[i].done_calls + queued[i].applied, 1, "exactly one outcome");
        if (queued[i].done_calls)
            cr_assert_eq(queued[i].err, -ECANCELED);
    }
    cr_assert_eq(extra.done_calls, 0);
}

Test(raft_node, ticks_run_while_idle)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    T_WAIT(t_sm.ticks >= 5);
    raft_node_stop(n);
}

Test(raft_node, snapshots_compact_the_wal_and_restart_from_them)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();

    enum {
        TOTAL = 3000
    };
    struct t_prop *tp = et_calloc(TOTAL, sizeof(*tp));
    cfg.snapshot_count = 400;
    cfg.wal_segment_bytes = 16u << 10;
    cr_redirect_stderr();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    struct raft_status st;
    for (int i = 0; i < TOTAL; i++) {
        t_prop_init(&tp[i], (uint64_t)i);
        cr_assert_eq(raft_node_propose(n, &tp[i].p), 0);
        if (i % 100 == 99) /* let batches form apart so snapshots fall in between */
            T_WAIT(t_sm.n == (size_t)i + 1);
        /* Snapshots are written in the background and one at a time: wait for each, so that on a
         * busy machine they still come every snapshot_count entries and the WAL shrinks as much
         * as the bound below expects. */
        if (i % 400 == 399)
            T_WAIT((raft_node_status(n, &st), st.snapshot_index + 100 > (raft_index)i + 1));
    }
    T_WAIT(t_sm.n == TOTAL);
    raft_node_stop(n);
    char path[512];
    snprintf(path, sizeof(path), "%s/member/snap", t_dir);
    size_t snaps = t_count_files(path, ".snap");
    cr_assert(snaps >= 1 && snaps <= 2, "%zu snapshots kept", snaps);
    snprintf(path, sizeof(path), "%s/member/wal", t_dir);
    size_t segs = t_count_files(path, ".wal");
    /* 3000 entries of ~40 bytes fill about 8 segments of 16 KiB; compaction removed most. */
    cr_assert_lt(segs, 6, "%zu WAL segments left", segs);

    uint64_t *before = et_memdup(t_sm.vals, t_sm.n * 8);
    t_sm_reset();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    pthread_mutex_lock(&t_sm.mu);
    cr_assert_eq(t_sm.loads, 1, "the snapshot was loaded");
    cr_assert_eq(t_sm.n, TOTAL);
    cr_assert_eq(memcmp(before, t_sm.vals, TOTAL * 8), 0);
    for (size_t i = 1; i < TOTAL; i++)
        cr_assert_eq(t_sm.idx[i], t_sm.idx[i - 1] + 1);
    pthread_mutex_unlock(&t_sm.mu);
    raft_node_stop(n);
    et_free(before);
    et_free(tp);
}

Test(raft_node, a_corrupt_wal_stops_start_up_with_ebadmsg)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    struct t_prop tp[5];
    cr_redirect_stderr();
    cr_assert_eq(raft_node_start(&cfg, &n), 0);
    for (int i = 0; i < 5; i++) {
        t_prop_init(&tp[i], (uint64_t)i);
        cr_assert_eq(raft_node_propose(n, &tp[i].p), 0);
        T_WAIT(tp[i].applied == 1); /* one batch each: records follow the damaged one */
    }
    raft_node_stop(n);
    char wal[512];
    snprintf(wal, sizeof(wal), "%s/member/wal", t_dir);
    char *seg = t_last_segment(wal);
    t_xor_byte(seg, 20, 0x40); /* inside the first records */
    t_sm_reset();
    cr_assert_eq(raft_node_start(&cfg, &n), -EBADMSG);
    cr_assert_eq(t_sm.n, 0, "nothing was applied from a corrupt log");
    et_free(seg);
}

Test(raft_node, a_snapshot_whose_crc_valid_meta_declares_a_huge_array_stops_start_up)
{
    struct raft_node *n;
    struct raft_node_config cfg = t_cfg();
    char snap[512];
    snprintf(snap, sizeof(snap), "%s/member/snap", t_dir);
    /* array 32 of 2^32-1 members: msgpack-c would allocate ~96 GiB before reading one */
    static const unsigned char meta[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    cr_assert_eq(raft_snap_save(snap, 10, 2, meta, sizeof(meta), "x", 1), 0);
    cr_redirect_stderr();
    cr_assert_eq(raft_node_start(&cfg, &n), -EBADMSG);
    cr_assert_eq(t_sm.loads, 0, "the snapshot's data was not loaded");
}
