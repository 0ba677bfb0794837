/*
 * raft/node.c - the Raft thread of one member (contract in raft/node.h).
 *
 * One thread owns the WAL, the snapshot files and the member's Raft state. Each turn of its loop:
 *
 *   wait (eventfd written by producers, or the next tick's deadline: ppoll, never a busy spin)
 *     ├─ tick: cfg->tick every tick_ms, also when idle                         node_tick()
 *     ├─ drain the proposal queue (bounded batch): number the entries, tag each
 *     │  with its origin (member id, local sequence), encode into the WAL batch  node_collect()
 *     ├─ one write + one fdatasync for the whole batch (group commit)           raft_wal_sync()
 *     ├─ commit: with one member an entry is committed once durable             node_commit()
 *     ├─ apply in index order through cfg->apply, attaching the local proposal
 *     │  found by origin tag; cfg->applied once per batch                       node_apply()
 *     ├─ read barriers (ReadIndex) whose index is applied finish               node_reads()
 *     └─ every snapshot_count applied entries: snapshot, compact the WAL        node_snapshot()
 *
 * Start-up (raft_node_start, on the caller's thread): newest valid snapshot through
 * cfg->snapshot_load, WAL replay into memory, apply up to the durable commit index (p = NULL),
 * then a new term is recorded and the thread starts.
 *
 * Ownership: a struct raft_proposal belongs to its caller; the node holds it from a successful
 * raft_node_propose() until cfg->apply has seen its entry or ->done() has run. Pending local
 * proposals wait in a FIFO ordered by their sequence number; an entry carrying this member's
 * origin matches the FIFO's head (earlier ones were lost and fail with -ECANCELED).
 *
 * Multi-member: this version runs a cluster of one (the node is leader of every term it starts
 * and an entry commits when durable). The steps above keep the shape that a pure Raft core
 * (Step/Ready/Advance) and a peer transport fill in: persist before send, apply committed.
 *
 * Threads: producers call raft_node_propose/raft_node_read; status fields are atomics read by
 * anyone; everything else is touched only by the node's thread (or by start/stop around it).
 */
#include "raft/node.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "raft/snap.h"
#include "raft/wal.h"

#define NODE_BATCH_ENTRIES_MAX 4096u
#define NODE_BATCH_BYTES_MAX   (16u << 20)
#define NODE_ENTRY_BYTES_MAX   (RAFT_WAL_RECORD_MAX - 128u)
#define NODE_SNAPSHOTS_KEPT    2u

/* An entry replayed from the WAL at start-up (owned copy of its bytes). */
struct node_entry {
    struct raft_wal_entry e;
    void *owned;
};

struct node_pending {
    uint64_t seq;
    struct raft_proposal *p;
};

struct raft_node {
    struct raft_node_config cfg; /* copy; data_dir points into dir_buf */
    char *wal_dir;
    char *snap_dir;
    struct raft_wal *wal;

    /* producers -> node */
    struct et_mpsc props;
    struct et_mpsc reads;
    int efd;          /* eventfd: producers write after pushing, when the node may sleep */
    int wake_pending; /* atomic: 1 once a producer wrote efd and the node has not yet drained */
    int stopping;     /* atomic */
    pthread_t thread;

    /* status (atomics, any thread) */
    uint64_t st_term;
    uint64_t st_commit;
    uint64_t st_applied;
    uint64_t st_leader;
    int st_is_leader;
    int64_t st_leader_since_ns;

    /* Raft state (node thread) */
    raft_term term;
    raft_id vote;
    raft_index commit;
    raft_index last_index;
    raft_index applied;
    raft_term applied_term;
    raft_index snap_index;       /* newest snapshot on disk */
    raft_index snap_prev_index;  /* the one before it: the WAL is kept back to here */
    raft_index snap_tried_index; /* applied index at the last snapshot attempt */
    uint64_t next_seq;           /* origin sequence of the next local proposal */
    uint64_t first_seq;          /* this run's first: older sequences are a past run's */
    int failed;                  /* the WAL failed: every proposal fails with this error */

    /* pending local proposals, FIFO by seq (ring buffer) */
    struct node_pending *pend;
    size_t pend_head, pend_count, pend_cap;
    /* read barriers waiting for their index to be applied, FIFO */
    struct raft_read **rwait;
    size_t rwait_count, rwait_cap;
    /* the batch being written: proposals in index order */
    struct raft_proposal **batch;
    raft_index batch_first;
    uint64_t batch_seq_first;
    size_t batch_count;

    int64_t next_tick_ns;
};

/* ---- status ------------------------------------------------------------------------------ */

static void publish_status(struct raft_node *n)
{
    __atomic_store_n(&n->st_term, n->term, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_commit, n->commit, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_applied, n->applied, __ATOMIC_RELEASE);
}

void raft_node_status(struct raft_node *n, struct raft_status *out)
{
    out->id = n->cfg.id;
    out->applied = __atomic_load_n(&n->st_applied, __ATOMIC_ACQUIRE);
    out->commit = __atomic_load_n(&n->st_commit, __ATOMIC_RELAXED);
    out->term = __atomic_load_n(&n->st_term, __ATOMIC_RELAXED);
    out->leader = __atomic_load_n(&n->st_leader, __ATOMIC_RELAXED);
    out->is_leader = __atomic_load_n(&n->st_is_leader, __ATOMIC_RELAXED);
    out->leader_since_ns = __atomic_load_n(&n->st_leader_since_ns, __ATOMIC_RELAXED);
}

/* ---- producers --------------------------------------------------------------------------- */

static void node_wake(struct raft_node *n)
{
    if (__atomic_exchange_n(&n->wake_pending, 1, __ATOMIC_ACQ_REL) == 0) {
        uint64_t one = 1;
        while (write(n->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
}

int raft_node_propose(struct raft_node *n, struct raft_proposal *p)
{
    ET_ASSERT(p->done != NULL);
    ET_ASSERT(p->len == 0 || p->data != NULL);
    if (p->len > NODE_ENTRY_BYTES_MAX)
        return -EMSGSIZE;
    p->_deadline_ns = et_mono_ns() + (int64_t)n->cfg.request_timeout_ms * ET_NS_PER_MSEC;
    if (!et_mpsc_try_push(&n->props, &p->_node))
        return -EAGAIN;
    node_wake(n);
    return 0;
}

int raft_node_read(struct raft_node *n, struct raft_read *r)
{
    ET_ASSERT(r->done != NULL);
    r->_deadline_ns = et_mono_ns() + (int64_t)n->cfg.request_timeout_ms * ET_NS_PER_MSEC;
    r->_index = 0;
    if (!et_mpsc_try_push(&n->reads, &r->_node))
        return -EAGAIN;
    node_wake(n);
    return 0;
}

/* ---- pending proposals ------------------------------------------------------------------- */

static void pend_push(struct raft_node *n, uint64_t seq, struct raft_proposal *p)
{
    if (n->pend_count == n->pend_cap) {
        size_t cap = n->pend_cap ? 2 * n->pend_cap : 64;
        struct node_pending *np = et_alloc_array(cap, sizeof(*np));
        for (size_t i = 0; i < n->pend_count; i++)
            np[i] = n->pend[(n->pend_head + i) % n->pend_cap];
        et_free(n->pend);
        n->pend = np;
        n->pend_cap = cap;
        n->pend_head = 0;
    }
    n->pend[(n->pend_head + n->pend_count++) % n->pend_cap] = (struct node_pending){ seq, p };
}

static struct node_pending *pend_front(struct raft_node *n)
{
    return n->pend_count ? &n->pend[n->pend_head] : NULL;
}

static void pend_pop(struct raft_node *n)
{
    ET_ASSERT(n->pend_count > 0);
    n->pend_head = (n->pend_head + 1) % n->pend_cap;
    n->pend_count--;
}

/* The local proposal behind an entry of this member's origin, or NULL. */
static struct raft_proposal *pend_match(struct raft_node *n, const struct raft_wal_entry *e)
{
    struct node_pending *f;
    if (e->origin_id != n->cfg.id || e->origin_seq < n->first_seq)
        return NULL;
    while ((f = pend_front(n)) && f->seq < e->origin_seq) {
        struct raft_proposal *lost = f->p;
        pend_pop(n);
        lost->done(lost, -ECANCELED); /* its entry was dropped (leader change) */
    }
    if (!f || f->seq != e->origin_seq)
        return NULL;
    struct raft_proposal *p = f->p;
    pend_pop(n);
    return p;
}

/* ---- apply ------------------------------------------------------------------------------- */

static void node_apply_entry(struct raft_node *n, const struct raft_wal_entry *e,
                             struct raft_proposal *p)
{
    ET_ASSERT(e->index == n->applied + 1);
    if (e->type == RAFT_ENTRY_NORMAL) {
        n->cfg.apply(n->cfg.data, e->index, e->term, e->data, e->len, p);
    } else {
        ET_ASSERT(p == NULL); /* internal entries never carry a client proposal */
    }
    n->applied = e->index;
    n->applied_term = e->term;
}

/* ---- snapshots --------------------------------------------------------------------------- */

static int node_snapshot(struct raft_node *n)
{
    void *buf = NULL;
    size_t len = 0;
    int ret;
    n->cfg.snapshot_save(n->cfg.data, &buf, &len);
    ret = raft_snap_save(n->snap_dir, n->applied, n->applied_term, NULL, 0, buf, len);
    et_free(buf);
    if (ret < 0) {
        et_error("raft: saving a snapshot at index %" PRIu64 " failed: %s", n->applied,
                 strerror(-ret));
        return ret;
    }
    raft_wal_append_snapshot(n->wal, n->applied, n->applied_term);
    if ((ret = raft_wal_sync(n->wal)) < 0) {
        n->failed = ret; /* the WAL is unusable: so is the node */
        return ret;
    }
    /* Keep the WAL back to the previous snapshot: a damaged newest one can still be replaced. */
    n->snap_prev_index = n->snap_index;
    n->snap_index = n->applied;
    if ((ret = raft_wal_release_to(n->wal, n->snap_prev_index)) < 0 ||
        (ret = raft_snap_purge(n->snap_dir, NODE_SNAPSHOTS_KEPT)) < 0)
        et_warn("raft: compaction after the snapshot at %" PRIu64 " failed: %s", n->applied,
                strerror(-ret));
    et_info("raft: snapshot at index %" PRIu64 " (%zu bytes), WAL kept from %" PRIu64, n->applied,
            len, n->snap_prev_index);
    return 0;
}

static void node_maybe_snapshot(struct raft_node *n)
{
    if (n->cfg.snapshot_count == 0 || n->failed || !n->cfg.snapshot_save)
        return;
    if (n->applied - n->snap_tried_index < n->cfg.snapshot_count)
        return;
    /* A failed snapshot (disk full, say) is retried snapshot_count entries later; the WAL
     * simply keeps growing meanwhile. */
    n->snap_tried_index = n->applied;
    (void)node_snapshot(n);
}

/* ---- the thread -------------------------------------------------------------------------- */

static void node_fail_batch(struct raft_node *n, int err)
{
    for (size_t i = 0; i < n->batch_count; i++)
        n->batch[i]->done(n->batch[i], err);
    n->batch_count = 0;
}

/* Drains up to one batch of proposals into the WAL's pending batch. Returns true if more wait. */
static bool node_collect(struct raft_node *n, int64_t now)
{
    struct et_mpsc_node *qn;
    size_t bytes = 0;
    n->batch_count = 0;
    n->batch_first = n->last_index + 1;
    n->batch_seq_first = n->next_seq;
    while (n->batch_count < NODE_BATCH_ENTRIES_MAX && bytes < NODE_BATCH_BYTES_MAX &&
           (qn = et_mpsc_pop(&n->props))) {
        struct raft_proposal *p = (struct raft_proposal *)qn;
        if (n->failed) {
            p->done(p, n->failed);
            continue;
        }
        if (now > p->_deadline_ns) {
            p->done(p, -ETIMEDOUT);
            continue;
        }
        struct raft_wal_entry e = { .index = n->batch_first + n->batch_count,
                                    .term = n->term,
                                    .type = RAFT_ENTRY_NORMAL,
                                    .origin_id = n->cfg.id,
                                    .origin_seq = n->next_seq++,
                                    .data = p->data,
                                    .len = p->len };
        raft_wal_append_entry(n->wal, &e);
        pend_push(n, e.origin_seq, p);
        n->batch[n->batch_count++] = p;
        bytes += p->len;
    }
    return n->batch_count == NODE_BATCH_ENTRIES_MAX || bytes >= NODE_BATCH_BYTES_MAX;
}

/* Makes the batch durable and (one member) commits and applies it. */
static void node_commit(struct raft_node *n)
{
    if (n->batch_count == 0)
        return;
    raft_index last = n->batch_first + n->batch_count - 1;
    struct raft_hard_state hs = { .term = n->term, .vote = n->vote, .commit = last };
    raft_wal_append_hard_state(n->wal, &hs);
    int ret = raft_wal_sync(n->wal);
    if (ret < 0) {
        n->failed = ret;
        for (size_t i = 0; i < n->batch_count; i++)
            pend_pop(n); /* the batch's proposals are the newest pending ones */
        node_fail_batch(n, ret);
        return;
    }
    n->last_index = last;
    n->commit = last;
    for (size_t i = 0; i < n->batch_count; i++) {
        struct raft_proposal *p = n->batch[i];
        struct raft_wal_entry e = { .index = n->batch_first + i,
                                    .term = n->term,
                                    .type = RAFT_ENTRY_NORMAL,
                                    .origin_id = n->cfg.id,
                                    .origin_seq = n->batch_seq_first + i,
                                    .data = p->data,
                                    .len = p->len };
        struct raft_proposal *match = pend_match(n, &e);
        ET_ASSERT(match == p);
        node_apply_entry(n, &e, p);
    }
    n->batch_count = 0;
    publish_status(n);
    if (n->cfg.applied)
        n->cfg.applied(n->cfg.data);
}

static void node_reads(struct raft_node *n, int64_t now)
{
    struct et_mpsc_node *qn;
    size_t keep = 0;
    while ((qn = et_mpsc_pop(&n->reads))) {
        struct raft_read *r = (struct raft_read *)qn;
        if (n->failed) {
            r->done(r, n->failed);
            continue;
        }
        /* ReadIndex: the leader's commit index when the read arrives (one member: no quorum
         * round needed to confirm leadership). */
        r->_index = n->commit;
        if (n->rwait_count == n->rwait_cap) {
            n->rwait_cap = n->rwait_cap ? 2 * n->rwait_cap : 64;
            n->rwait = et_realloc(n->rwait, n->rwait_cap * sizeof(*n->rwait));
        }
        n->rwait[n->rwait_count++] = r;
    }
    for (size_t i = 0; i < n->rwait_count; i++) {
        struct raft_read *r = n->rwait[i];
        if (r->_index <= n->applied)
            r->done(r, 0);
        else if (now > r->_deadline_ns)
            r->done(r, -ETIMEDOUT);
        else
            n->rwait[keep++] = r;
    }
    n->rwait_count = keep;
}

static void node_tick(struct raft_node *n, int64_t now)
{
    if (now < n->next_tick_ns)
        return;
    if (n->cfg.tick)
        n->cfg.tick(n->cfg.data, __atomic_load_n(&n->st_is_leader, __ATOMIC_RELAXED));
    n->next_tick_ns += (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
    if (n->next_tick_ns <= now) /* fell behind (a long fsync): do not tick in a burst */
        n->next_tick_ns = now + (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
}

/* Sleeps until a producer writes the eventfd or the next tick is due. */
static void node_wait(struct raft_node *n)
{
    int64_t wait_ns = n->next_tick_ns - et_mono_ns();
    if (wait_ns <= 0)
        return;
    struct pollfd pfd = { .fd = n->efd, .events = POLLIN };
    struct timespec ts = { .tv_sec = wait_ns / ET_NS_PER_SEC, .tv_nsec = wait_ns % ET_NS_PER_SEC };
    if (ppoll(&pfd, 1, &ts, NULL) > 0) {
        uint64_t v;
        if (read(n->efd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
            et_warn("raft: reading the wake-up eventfd: %s", strerror(errno));
    }
}

static void node_drain_cancel(struct raft_node *n)
{
    struct et_mpsc_node *qn;
    /* Producers may still be mid-push; the caller of stop must not propose after it. */
    while ((qn = et_mpsc_pop(&n->props))) {
        struct raft_proposal *p = (struct raft_proposal *)qn;
        p->done(p, -ECANCELED);
    }
    while (n->pend_count) {
        struct raft_proposal *p = pend_front(n)->p;
        pend_pop(n);
        p->done(p, -ECANCELED);
    }
    while ((qn = et_mpsc_pop(&n->reads))) {
        struct raft_read *r = (struct raft_read *)qn;
        r->done(r, -ECANCELED);
    }
    for (size_t i = 0; i < n->rwait_count; i++)
        n->rwait[i]->done(n->rwait[i], -ECANCELED);
    n->rwait_count = 0;
}

static void *node_main(void *arg)
{
    struct raft_node *n = arg;
    bool more = false;
    n->next_tick_ns = et_mono_ns() + (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
    while (!__atomic_load_n(&n->stopping, __ATOMIC_ACQUIRE)) {
        if (!more)
            node_wait(n);
        /* Re-arm before draining: a push after this point writes the eventfd again. */
        __atomic_exchange_n(&n->wake_pending, 0, __ATOMIC_ACQ_REL);
        node_tick(n, et_mono_ns());
        int64_t now = et_mono_ns(); /* after the tick: deadlines are judged when popped */
        more = node_collect(n, now);
        node_commit(n);
        node_reads(n, now);
        node_maybe_snapshot(n);
    }
    node_drain_cancel(n);
    return NULL;
}

/* ---- start-up ---------------------------------------------------------------------------- */

struct replay {
    struct node_entry *ents; /* log entries after the snapshot, ents[i].e.index = base + i + 1 */
    size_t count, cap;
    raft_index base;
    struct raft_hard_state hs;
    raft_index marker_index;
};

static void replay_free(struct replay *rp)
{
    for (size_t i = 0; i < rp->count; i++)
        et_free(rp->ents[i].owned);
    et_free(rp->ents);
}

static int replay_record(void *data, const struct raft_wal_record *r)
{
    struct replay *rp = data;
    if (r->type == RAFT_WAL_HARD_STATE) {
        rp->hs = r->hs;
        return 0;
    }
    if (r->type == RAFT_WAL_SNAPSHOT) {
        if (r->snap.index > rp->marker_index)
            rp->marker_index = r->snap.index;
        return 0;
    }
    const struct raft_wal_entry *e = &r->entry;
    if (e->index <= rp->base)
        return 0; /* covered by the snapshot */
    if (e->index > rp->base + rp->count + 1) {
        et_error("raft: the WAL jumps from entry %" PRIu64 " to %" PRIu64 " (snapshot at %" PRIu64
                 "): entries are missing, refusing to start",
                 rp->base + rp->count, e->index, rp->base);
        return -EBADMSG;
    }
    /* An entry at or below the last replaces it and everything after (Raft log truncation). */
    while (rp->count > 0 && rp->ents[rp->count - 1].e.index >= e->index)
        et_free(rp->ents[--rp->count].owned);
    if (rp->count == rp->cap) {
        rp->cap = rp->cap ? 2 * rp->cap : 1024;
        rp->ents = et_realloc(rp->ents, rp->cap * sizeof(*rp->ents));
    }
    struct node_entry *ne = &rp->ents[rp->count++];
    ne->e = *e;
    ne->owned = e->len ? et_memdup(e->data, e->len) : NULL;
    ne->e.data = ne->owned;
    return 0;
}

static int node_restore(struct raft_node *n)
{
    struct raft_snap snap = { 0 };
    struct replay rp = { 0 };
    int ret = raft_snap_load(n->snap_dir, &snap);
    if (ret < 0 && ret != -ENOENT)
        return ret;
    if (ret == 0) {
        ret = n->cfg.snapshot_load ? n->cfg.snapshot_load(n->cfg.data, snap.data, snap.len)
                                   : -ENOTSUP;
        raft_snap_free(&snap);
        if (ret < 0) {
            et_error("raft: loading the snapshot at index %" PRIu64 " failed: %s", snap.index,
                     strerror(-ret));
            return ret;
        }
        n->applied = n->commit = n->last_index = n->snap_index = snap.index;
        n->snap_tried_index = snap.index;
        n->applied_term = snap.term;
    }
    rp.base = n->snap_index;
    struct raft_wal_options wo = { .segment_bytes = n->cfg.wal_segment_bytes,
                                   .use_uring = n->cfg.wal_use_uring };
    ret = raft_wal_open(n->wal_dir, &wo, replay_record, &rp, &n->wal);
    if (ret < 0)
        goto out;
    n->term = rp.hs.term;
    n->vote = rp.hs.vote;
    n->last_index = rp.base + rp.count;
    /* One member: everything durable is committed (it is the whole quorum). */
    n->commit = n->cfg.peer_count <= 1 ? n->last_index : rp.hs.commit;
    if (n->commit < n->applied)
        n->commit = n->applied;
    if (n->commit > n->last_index)
        n->commit = n->last_index;
    for (size_t i = 0; i < rp.count && rp.ents[i].e.index <= n->commit; i++)
        node_apply_entry(n, &rp.ents[i].e, NULL);
    if (rp.count && n->cfg.applied)
        n->cfg.applied(n->cfg.data);
    et_info("raft: restored snapshot %" PRIu64 ", WAL to %" PRIu64 ", applied %" PRIu64
            ", term %" PRIu64,
            n->snap_index, n->last_index, n->applied, n->term);
out:
    replay_free(&rp);
    return ret;
}

static void node_free(struct raft_node *n)
{
    raft_wal_close(n->wal);
    if (n->efd >= 0)
        close(n->efd);
    et_free(n->pend);
    et_free(n->rwait);
    et_free(n->batch);
    et_free(n->wal_dir);
    et_free(n->snap_dir);
    et_free((char *)n->cfg.data_dir);
    et_free(n);
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = et_alloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

int raft_node_start(const struct raft_node_config *cfg, struct raft_node **out)
{
    ET_ASSERT(cfg->data_dir != NULL);
    ET_ASSERT(cfg->apply != NULL);
    ET_ASSERT(cfg->id != 0);
    ET_ASSERT(cfg->tick_ms > 0);
    if (cfg->peer_count > 1) {
        et_error("raft: clusters of %zu members are not supported yet (one member only)",
                 cfg->peer_count);
        return -ENOTSUP;
    }
    struct raft_node *n = et_calloc(1, sizeof(*n));
    int ret;
    n->cfg = *cfg;
    n->cfg.data_dir = et_strdup(cfg->data_dir);
    if (n->cfg.request_timeout_ms == 0)
        n->cfg.request_timeout_ms = 7000;
    n->wal_dir = path_join(cfg->data_dir, "member/wal");
    n->snap_dir = path_join(cfg->data_dir, "member/snap");
    et_mpsc_init(&n->props, cfg->queue_max);
    et_mpsc_init(&n->reads, cfg->queue_max);
    n->batch = et_alloc_array(NODE_BATCH_ENTRIES_MAX, sizeof(*n->batch));
    n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->efd < 0) {
        ret = -errno;
        goto out_free;
    }
    if ((ret = raft__mkdir_p(n->snap_dir)) < 0 || (ret = node_restore(n)) < 0)
        goto out_free;
    /* One member: it wins the election of a new term by itself; record the term and vote. */
    n->term++;
    n->vote = cfg->id;
    struct raft_hard_state hs = { .term = n->term, .vote = n->vote, .commit = n->commit };
    raft_wal_append_hard_state(n->wal, &hs);
    if ((ret = raft_wal_sync(n->wal)) < 0)
        goto out_free;
    /* Sequences grow across restarts (wall clock at start, then +1 per proposal), so entries of
     * an earlier run are never mistaken for this run's proposals. */
    n->next_seq = n->first_seq = (uint64_t)et_wall_ns();
    __atomic_store_n(&n->st_leader, cfg->id, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_is_leader, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_leader_since_ns, et_wall_ns(), __ATOMIC_RELAXED);
    publish_status(n);
    ret = pthread_create(&n->thread, NULL, node_main, n);
    if (ret != 0) {
        ret = -ret;
        goto out_free;
    }
    *out = n;
    return 0;
out_free:
    node_free(n);
    return ret;
}

void raft_node_stop(struct raft_node *n)
{
    if (!n)
        return;
    __atomic_store_n(&n->stopping, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    while (write(n->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(n->thread, NULL);
    node_free(n);
}
