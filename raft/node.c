/*
 * raft/node.c - the Raft thread of one member (contract in raft/node.h): it drives the pure core
 * (raft/raft.h) with the WAL (raft/wal.h), the snapshot files (raft/snap.h) and a transport hook.
 *
 * Each turn of the thread's loop (node_main):
 *
 *   wait: eventfd written by producers, or the next tick's deadline (ppoll; never a busy spin)
 *     ├─ peer messages from raft_node_receive(): decode, raft_step()              node_inbound()
 *     ├─ tick: raft_tick() and cfg->tick every tick_ms, also when idle            node_tick()
 *     ├─ proposals: raft_propose() each with its origin tag (member id, local
 *     │  sequence) prepended; a follower forwards them to the leader through the
 *     │  transport; held while no leader is known                                node_proposals()
 *     ├─ reads: one raft_read_index() for every read that arrived                 node_reads()
 *     ├─ Ready / Advance until the core is idle                                   node_ready()
 *     │    (0) send msgs_early  (1) persist snapshot, entries, hard state; ONE fdatasync
 *     │    (2) send msgs  (3) apply committed through cfg->apply in index order, matching local
 *     │    proposals by origin tag; cfg->applied once  (4) read states  → raft_advance()
 *     ├─ reads whose index is applied finish; deadlines expire                   node_serve_reads()
 *     └─ every snapshot_count applied entries: snapshot, raft_compact, WAL release node_snapshot()
 *
 * Group commit falls out of this shape: everything proposed while the previous fdatasync ran is
 * appended by the core as one Ready and made durable with one write and one fdatasync. A hard
 * state whose term and vote are unchanged (only the commit index moved) does not force a sync:
 * it rides with the next one, since a lost commit index is recomputed by Raft.
 *
 * Entry data: a client entry (RAFT_ENTRY_NORMAL) is `u64 origin id | u64 origin seq | bytes` in
 * the core; the WAL stores the tag in its record fields and the bytes alone. Sequences start at
 * the wall clock in ns at each start, so a past run's entries never match this run's proposals.
 *
 * Start-up (raft_node_start, caller's thread): newest valid snapshot (cfg->snapshot_load), WAL
 * replay, raft_new() with that restore state; a cluster of one elects itself at once (ticks
 * fast-forwarded) and entries up to the commit index are applied (p = NULL); then the thread.
 *
 * Ownership: a struct raft_proposal belongs to its caller; the node holds it from a successful
 * raft_node_propose() until cfg->apply has seen its entry or ->done() has run. Threads:
 * producers call propose/read/receive; status fields are atomics; all else is the node thread's.
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

#include <msgpack.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mpcheck.h"
#include "raft/raft.h"
#include "raft/snap.h"
#include "raft/wal.h"

#define NODE_ENVELOPE        16u /* u64 origin id | u64 origin seq */
#define NODE_ENTRY_BYTES_MAX (RAFT_WAL_RECORD_MAX - 128u)
#define NODE_PROPOSALS_MAX   4096u /* proposals handed to the core per loop turn */
#define NODE_SNAPSHOTS_KEPT  2u
#define NODE_READ_TAG        (1ull << 63) /* r->_index holds a read context while in flight */
/* First byte of a forwarded proposal on the peer link: 0xc1 is never used by msgpack, so it
 * cannot begin a Raft message (raft_msg_encode writes msgpack). */
#define NODE_FORWARD_TAG 0xc1
/* A membership change a follower forwards: 0xc2 | encoded change | origin tag | context. */
#define NODE_CHANGE_TAG  0xc2
#define NODE_RATE_WINDOW 200u /* messages in the rate window of /v2/stats/self */

struct node_pending {
    uint64_t seq;
    struct raft_proposal *p;
};

/* A FIFO of pointers (proposals or reads), grown on demand. */
struct node_list {
    void **v;
    size_t n, cap;
};

/* The last NODE_RATE_WINDOW messages of one direction (etcd's stats window). */
struct node_rate {
    int64_t at_ns[NODE_RATE_WINDOW];
    uint32_t bytes[NODE_RATE_WINDOW];
    size_t head, count;
    uint64_t total;
};

/* A change a follower forwarded, held by the leader while a previous change commits. */
struct node_fwd_change {
    int64_t deadline_ns;
    size_t len;
    unsigned char data[]; /* encoded change | origin tag | context */
};

struct node_inmsg {
    struct et_mpsc_node node;
    size_t len;
    unsigned char data[];
};

struct raft_node {
    struct raft_node_config cfg; /* copy; data_dir owned */
    char *wal_dir;
    char *snap_dir;
    struct raft_wal *wal;
    struct raft *r;

    /* producers -> node */
    struct et_mpsc props;
    struct et_mpsc reads;
    struct et_mpsc inbound;
    struct et_mpsc changes;
    int efd;          /* eventfd: producers write it after pushing when the node may sleep */
    int wake_pending; /* atomic: a wake-up is already on its way */
    int stopping;     /* atomic */
    pthread_t thread;

    /* status (atomics, any thread) */
    uint64_t st_term;
    uint64_t st_commit;
    uint64_t st_applied;
    uint64_t st_snap_index;
    uint64_t st_leader;
    int st_is_leader;
    int64_t st_leader_since_ns;
    uint64_t st_recv_append, st_send_append; /* atomics */
    uint64_t st_rates[4];                    /* atomics: bit patterns of doubles */

    /* node thread */
    raft_term durable_term;      /* hard state last made durable (decides whether a Ready syncs) */
    raft_index conf_early_index; /* a voter added to a one-voter cluster: applied once durable */
    raft_id durable_vote;
    raft_index applied;
    raft_term applied_term;
    raft_index snap_index;          /* newest snapshot on disk */
    raft_index snap_prev_index;     /* the one before it: the WAL is kept back to here */
    raft_index snap_tried_index;    /* applied index at the last snapshot attempt */
    struct node_snap_job *snap_job; /* a snapshot file being written, or NULL */
    uint64_t next_seq;              /* origin sequence of the next local proposal */
    uint64_t first_seq;             /* this run's first */
    uint64_t next_read_ctx;
    int failed; /* the WAL or the state machine failed: every request fails with this */
    bool applied_any;
    struct et_buf scratch;               /* envelopes and encoded messages */
    raft_id snap_sent[RAFT_MEMBERS_MAX]; /* snapshots handed to the transport in this Ready */
    size_t snap_sent_count;

    struct node_pending *pend; /* proposed, waiting for their entry to commit; FIFO by seq */
    size_t pend_head, pend_count, pend_cap;
    struct node_list phold;   /* proposals waiting for a leader */
    struct node_list rhold;   /* reads waiting for a leader */
    struct node_list rflight; /* reads waiting for their read state (_index = ctx | tag) */
    struct node_list rwait;   /* reads waiting for applied >= _index */
    struct node_list chold;   /* local changes not handed to the core yet */
    struct node_list cpend;   /* local changes proposed, waiting for their entry */
    struct node_list cfwd;    /* leader: forwarded changes waiting for the previous one */
    struct node_rate recv_rate, send_rate;
    int64_t next_tick_ns;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void list_push(struct node_list *l, void *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = et_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = p;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
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

/* ---- status ------------------------------------------------------------------------------ */

static void publish_status(struct raft_node *n)
{
    struct raft_info info;
    raft_get_info(n->r, &info);
    bool is_leader = info.role == RAFT_LEADER;
    if (info.leader != __atomic_load_n(&n->st_leader, __ATOMIC_RELAXED) ||
        info.term != __atomic_load_n(&n->st_term, __ATOMIC_RELAXED))
        __atomic_store_n(&n->st_leader_since_ns, info.leader ? et_wall_ns() : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_term, info.term, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_leader, info.leader, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_is_leader, is_leader, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_commit, info.commit, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_applied, n->applied, __ATOMIC_RELEASE);
    __atomic_store_n(&n->st_snap_index, n->snap_index, __ATOMIC_RELAXED);
}

static void rate_add(struct node_rate *r, int64_t now, size_t bytes)
{
    r->at_ns[r->head] = now;
    r->bytes[r->head] = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
    r->head = (r->head + 1) % NODE_RATE_WINDOW;
    if (r->count < NODE_RATE_WINDOW)
        r->count++;
    r->total++;
}

/* Messages/s and bytes/s over the window; 0 when nothing came in the last second (as etcd). */
static void rate_get(const struct node_rate *r, int64_t now, double *pkgs, double *bytes)
{
    *pkgs = *bytes = 0;
    if (r->count == 0)
        return;
    size_t newest = (r->head + NODE_RATE_WINDOW - 1) % NODE_RATE_WINDOW;
    size_t oldest = (r->head + NODE_RATE_WINDOW - r->count) % NODE_RATE_WINDOW;
    if (now - r->at_ns[newest] > ET_NS_PER_SEC)
        return;
    double span = (double)(now - r->at_ns[oldest]) / 1e9;
    if (span < 0.001)
        span = 0.001;
    uint64_t sum = 0;
    for (size_t i = 0; i < r->count; i++)
        sum += r->bytes[(oldest + i) % NODE_RATE_WINDOW];
    *pkgs = (double)r->count / span;
    *bytes = (double)sum / span;
}

static void store_double(uint64_t *slot, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    __atomic_store_n(slot, bits, __ATOMIC_RELAXED);
}

static double load_double(uint64_t *slot)
{
    uint64_t bits = __atomic_load_n(slot, __ATOMIC_RELAXED);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* Once per tick: the rates of /v2/stats/self. */
static void publish_rates(struct raft_node *n, int64_t now)
{
    double v[4];
    rate_get(&n->recv_rate, now, &v[0], &v[1]);
    rate_get(&n->send_rate, now, &v[2], &v[3]);
    for (int i = 0; i < 4; i++)
        store_double(&n->st_rates[i], v[i]);
    __atomic_store_n(&n->st_recv_append, n->recv_rate.total, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_send_append, n->send_rate.total, __ATOMIC_RELAXED);
}

void raft_node_status(struct raft_node *n, struct raft_status *out)
{
    out->id = n->cfg.id;
    out->applied = __atomic_load_n(&n->st_applied, __ATOMIC_ACQUIRE);
    out->commit = __atomic_load_n(&n->st_commit, __ATOMIC_RELAXED);
    out->snapshot_index = __atomic_load_n(&n->st_snap_index, __ATOMIC_RELAXED);
    out->term = __atomic_load_n(&n->st_term, __ATOMIC_RELAXED);
    out->leader = __atomic_load_n(&n->st_leader, __ATOMIC_RELAXED);
    out->is_leader = __atomic_load_n(&n->st_is_leader, __ATOMIC_RELAXED);
    out->leader_since_ns = __atomic_load_n(&n->st_leader_since_ns, __ATOMIC_RELAXED);
    out->recv_append_count = __atomic_load_n(&n->st_recv_append, __ATOMIC_RELAXED);
    out->send_append_count = __atomic_load_n(&n->st_send_append, __ATOMIC_RELAXED);
    out->recv_pkg_rate = load_double(&n->st_rates[0]);
    out->recv_bandwidth_rate = load_double(&n->st_rates[1]);
    out->send_pkg_rate = load_double(&n->st_rates[2]);
    out->send_bandwidth_rate = load_double(&n->st_rates[3]);
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

int raft_node_change(struct raft_node *n, struct raft_change *c)
{
    ET_ASSERT(c->done != NULL);
    ET_ASSERT(c->context_len == 0 || c->context != NULL);
    if (c->id == 0 || (c->type != RAFT_CC_ADD_VOTER && c->type != RAFT_CC_REMOVE))
        return -EINVAL;
    if (c->context_len > NODE_ENTRY_BYTES_MAX)
        return -EMSGSIZE;
    c->_deadline_ns = et_mono_ns() + (int64_t)n->cfg.request_timeout_ms * ET_NS_PER_MSEC;
    c->_seq = 0;
    if (!et_mpsc_try_push(&n->changes, &c->_node))
        return -EAGAIN;
    node_wake(n);
    return 0;
}

int raft_node_read(struct raft_node *n, struct raft_read *r)
{
    return raft_node_read_within(n, r, n->cfg.request_timeout_ms);
}

int raft_node_read_within(struct raft_node *n, struct raft_read *r, unsigned timeout_ms)
{
    ET_ASSERT(r->done != NULL);
    r->_deadline_ns = et_mono_ns() + (int64_t)timeout_ms * ET_NS_PER_MSEC;
    r->_index = 0;
    if (!et_mpsc_try_push(&n->reads, &r->_node))
        return -EAGAIN;
    node_wake(n);
    return 0;
}

int raft_node_receive(struct raft_node *n, const void *msg, size_t len)
{
    struct node_inmsg *m = et_alloc(sizeof(*m) + len);
    m->len = len;
    memcpy(m->data, msg, len);
    if (!et_mpsc_try_push(&n->inbound, &m->node)) {
        et_free(m);
        return -EAGAIN;
    }
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

/*
 * The local proposal behind an entry tagged (@origin, @seq), or NULL. Proposals of this member
 * commit in the order they were proposed, so earlier pending ones were most likely lost (their
 * entries overwritten after a leader change). They fail with -ETIMEDOUT, the "outcome unknown"
 * answer: were a transport ever to reorder forwarded proposals, such an entry could still
 * commit later (then applied without its proposal), so -EAGAIN ("not applied") would be a lie.
 */
static struct raft_proposal *pend_match(struct raft_node *n, raft_id origin, uint64_t seq)
{
    struct node_pending *f;
    if (origin != n->cfg.id || seq < n->first_seq)
        return NULL;
    while ((f = pend_front(n)) && f->seq < seq) {
        struct raft_proposal *lost = f->p;
        pend_pop(n);
        lost->done(lost, -ETIMEDOUT);
    }
    if (!f || f->seq != seq)
        return NULL;
    struct raft_proposal *p = f->p;
    pend_pop(n);
    return p;
}

/* ---- configuration in snapshot meta ------------------------------------------------------ */

static int pack_buf(void *data, const char *p, size_t len)
{
    et_buf_append(data, p, len);
    return 0;
}

/* Encodes @c as msgpack [[id, voter], ...] into @b. */
static void conf_encode(const struct raft_conf *c, struct et_buf *b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, pack_buf);
    msgpack_pack_array(&pk, c->count);
    for (uint32_t i = 0; i < c->count; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint64(&pk, c->members[i].id);
        if (c->members[i].voter)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
}

static int conf_decode(const void *p, size_t len, struct raft_conf *c)
{
    msgpack_unpacked u;
    size_t off = 0;
    int ret = -EBADMSG;
    memset(c, 0, sizeof(*c));
    msgpack_unpacked_init(&u);
    if (!et_msgpack_check(p, len) || /* crc-valid bytes may still declare a huge array */
        msgpack_unpack_next(&u, p, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size > RAFT_MEMBERS_MAX)
        goto out;
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
        const msgpack_object *m = &u.data.via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size != 2 ||
            m->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            m->via.array.ptr[1].type != MSGPACK_OBJECT_BOOLEAN)
            goto out;
        c->members[i].id = m->via.array.ptr[0].via.u64;
        c->members[i].voter = m->via.array.ptr[1].via.boolean;
    }
    c->count = u.data.via.array.size;
    ret = 0;
out:
    msgpack_unpacked_destroy(&u);
    return ret;
}

/* ---- apply ------------------------------------------------------------------------------- */

/* The local change behind a conf entry tagged (@origin, @seq), or NULL. */
static struct raft_change *change_match(struct raft_node *n, raft_id origin, uint64_t seq)
{
    if (origin != n->cfg.id || seq < n->first_seq)
        return NULL;
    for (size_t i = 0; i < n->cpend.n; i++) {
        struct raft_change *c = n->cpend.v[i];
        if (c->_seq == seq) {
            memmove(&n->cpend.v[i], &n->cpend.v[i + 1], (n->cpend.n - i - 1) * sizeof(void *));
            n->cpend.n--;
            return c;
        }
    }
    return NULL;
}

/* A membership change entered the log: tell the caller (its context without the origin tag). */
static void node_conf_appended(struct raft_node *n, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    if (!n->cfg.conf_appended || raft_conf_change_decode(e->data, e->len, &cc) != 0)
        return;
    const unsigned char *ctx = (const unsigned char *)e->data + RAFT_CONF_CHANGE_LEN;
    size_t ctx_len = e->len - RAFT_CONF_CHANGE_LEN;
    if (ctx_len < NODE_ENVELOPE)
        return;
    n->cfg.conf_appended(n->cfg.data, &cc, ctx + NODE_ENVELOPE, ctx_len - NODE_ENVELOPE);
}

/* A committed membership change: entry data is the change | origin tag | context. */
static void node_apply_conf(struct raft_node *n, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    const unsigned char *d = e->data;
    if (raft_conf_change_decode(e->data, e->len, &cc) != 0)
        return; /* the core checked it on append: cannot happen */
    struct raft_change *c = NULL;
    const unsigned char *ctx = d + RAFT_CONF_CHANGE_LEN;
    size_t ctx_len = e->len - RAFT_CONF_CHANGE_LEN;
    if (ctx_len >= NODE_ENVELOPE) {
        c = change_match(n, get_le64(ctx), get_le64(ctx + 8));
        ctx += NODE_ENVELOPE;
        ctx_len -= NODE_ENVELOPE;
    }
    if (n->cfg.conf_apply)
        n->cfg.conf_apply(n->cfg.data, e->index, &cc, ctx, ctx_len, c);
    else if (c)
        c->done(c, -ENOTSUP);
}

static void node_apply_entry(struct raft_node *n, const struct raft_entry *e)
{
    ET_ASSERT(e->index == n->applied + 1);
    if (e->type == RAFT_ENTRY_NORMAL) {
        const unsigned char *d = e->data;
        if (e->len >= NODE_ENVELOPE) {
            raft_id origin = get_le64(d);
            struct raft_proposal *p = pend_match(n, origin, get_le64(d + 8));
            n->cfg.apply(n->cfg.data, e->index, e->term, d + NODE_ENVELOPE, e->len - NODE_ENVELOPE,
                         p);
        } else {
            et_error("raft: entry %" PRIu64 " has no origin tag (%u bytes): applied as is",
                     e->index, e->len);
            n->cfg.apply(n->cfg.data, e->index, e->term, d, e->len, NULL);
        }
    }
    if (e->type == RAFT_ENTRY_CONF_CHANGE && e->index != n->conf_early_index)
        node_apply_conf(n, e);
    /* Noops only advance the applied index. */
    n->applied = e->index;
    n->applied_term = e->term;
    n->applied_any = true;
}

/*
 * A voter added to a cluster of one: etcd commits a membership change under the configuration
 * before it, so its answer comes as soon as the one member has the entry, while Raft's
 * single-server rule (thesis 4.1) wants a majority of the new configuration, which the new member
 * must be running to give. The entry cannot be lost once it is durable here (no leader can be
 * elected without this member's vote, which goes only to a log holding it), so it is applied and
 * answered now, as etcd does, and not again when it commits.
 */
static void node_conf_early(struct raft_node *n, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    if (raft_conf_change_decode(e->data, e->len, &cc) != 0 || cc.type != RAFT_CC_ADD_VOTER)
        return;
    const struct raft_conf *conf = raft_get_conf(n->r);
    uint32_t others = 0;
    bool self = false;
    for (uint32_t i = 0; i < conf->count; i++) {
        if (!conf->members[i].voter || conf->members[i].id == cc.id)
            continue;
        others += conf->members[i].id != n->cfg.id;
        self |= conf->members[i].id == n->cfg.id;
    }
    if (!self || others != 0 || e->index <= n->applied)
        return;
    node_apply_conf(n, e);
    n->conf_early_index = e->index;
}

/* ---- persistence ------------------------------------------------------------------------- */

/* The WAL form of a core entry: the origin tag moves from the bytes into the record. */
static void wal_append_core_entry(struct raft_wal *w, const struct raft_entry *e)
{
    struct raft_wal_entry we = {
        .index = e->index, .term = e->term, .type = e->type, .data = e->data, .len = e->len
    };
    if (e->type == RAFT_ENTRY_NORMAL && e->len >= NODE_ENVELOPE) {
        const unsigned char *d = e->data;
        we.origin_id = get_le64(d);
        we.origin_seq = get_le64(d + 8);
        we.data = d + NODE_ENVELOPE;
        we.len = e->len - NODE_ENVELOPE;
    }
    raft_wal_append_entry(w, &we);
}

/* Stores a leader's snapshot (file, then state machine) and marks the WAL reset. */
static int node_snapshot_finish(struct raft_node *n, bool in_ready);

static int node_install_snapshot(struct raft_node *n, const struct raft_snapshot *s)
{
    (void)node_snapshot_finish(n, true); /* a local one being written goes first */
    struct et_buf meta = ET_BUF_INIT;
    conf_encode(&s->meta.conf, &meta);
    int ret = raft_snap_save(n->snap_dir, s->meta.index, s->meta.term, meta.data, meta.len, s->data,
                             s->len);
    et_buf_free(&meta);
    if (ret < 0) {
        et_error("raft: saving the leader's snapshot at %" PRIu64 ": %s", s->meta.index,
                 strerror(-ret));
        return ret;
    }
    ret = n->cfg.snapshot_load ? n->cfg.snapshot_load(n->cfg.data, s->data, s->len) : -ENOTSUP;
    if (ret < 0) {
        et_error("raft: loading the leader's snapshot at %" PRIu64 ": %s", s->meta.index,
                 strerror(-ret));
        return ret;
    }
    raft_wal_append_snapshot(n->wal, s->meta.index, s->meta.term, true);
    n->applied = n->snap_tried_index = s->meta.index;
    n->applied_term = s->meta.term;
    n->snap_prev_index = n->snap_index = s->meta.index;
    n->applied_any = true;
    et_info("raft: installed the leader's snapshot at index %" PRIu64 " (%zu bytes)", s->meta.index,
            s->len);
    return 0;
}

static void node_send(struct raft_node *n, const struct raft_msg *msgs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!n->cfg.send)
            continue;
        et_buf_reset(&n->scratch);
        raft_msg_encode(&msgs[i], &n->scratch);
        n->cfg.send(n->cfg.data, msgs[i].to, n->scratch.data, n->scratch.len);
        if (msgs[i].type == RAFT_MSG_APPEND)
            rate_add(&n->send_rate, et_mono_ns(), n->scratch.len);
        /* The send hook has no delivery report yet: count a snapshot as delivered once handed
         * over (if it was lost, the follower rejects the next append and the leader sends the
         * snapshot again). Reported after raft_advance(), as the core requires. */
        if (msgs[i].type == RAFT_MSG_SNAPSHOT && n->snap_sent_count < RAFT_MEMBERS_MAX)
            n->snap_sent[n->snap_sent_count++] = msgs[i].to;
    }
}

/* Read states from the core: confirmed reads wait for apply, failed ones retry. */
static void node_read_states(struct raft_node *n, const struct raft_read_state *rs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t keep = 0;
        for (size_t k = 0; k < n->rflight.n; k++) {
            struct raft_read *r = n->rflight.v[k];
            if (r->_index != (rs[i].ctx | NODE_READ_TAG)) {
                n->rflight.v[keep++] = r;
            } else if (rs[i].err == 0) {
                r->_index = rs[i].index;
                list_push(&n->rwait, r);
            } else {
                r->_index = 0;
                list_push(&n->rhold, r); /* leadership lost before it was confirmed */
            }
        }
        n->rflight.n = keep;
    }
}

/*
 * Runs Ready / Advance until the core has nothing to do (the contract in raft/raft.h).
 * Returns 0, or a negative error after which the node must not touch the core again.
 */
static int node_ready(struct raft_node *n)
{
    int ret = 0;
    while (raft_has_ready(n->r)) {
        struct raft_ready rd;
        raft_ready(n->r, &rd);
        node_send(n, rd.msgs_early, rd.msg_early_count);
        bool sync = false;
        if (rd.snapshot) {
            if ((ret = node_install_snapshot(n, rd.snapshot)) < 0)
                return ret;
            sync = true;
        }
        for (size_t i = 0; i < rd.entry_count; i++) {
            wal_append_core_entry(n->wal, &rd.entries[i]);
            if (rd.entries[i].type == RAFT_ENTRY_CONF_CHANGE)
                node_conf_appended(n, &rd.entries[i]);
        }
        sync |= rd.entry_count > 0;
        if (rd.hard_state_changed) {
            raft_wal_append_hard_state(n->wal, &rd.hard_state);
            sync |= rd.hard_state.term != n->durable_term || rd.hard_state.vote != n->durable_vote;
        }
        if (sync) {
            if ((ret = raft_wal_sync(n->wal)) < 0)
                return ret;
            if (rd.hard_state_changed) {
                n->durable_term = rd.hard_state.term;
                n->durable_vote = rd.hard_state.vote;
            }
        }
        node_send(n, rd.msgs, rd.msg_count);
        for (size_t i = 0; i < rd.committed_count; i++)
            if (rd.committed[i].index > n->applied)
                node_apply_entry(n, &rd.committed[i]);
        if (rd.role == RAFT_LEADER)
            for (size_t i = 0; i < rd.entry_count; i++)
                if (rd.entries[i].type == RAFT_ENTRY_CONF_CHANGE)
                    node_conf_early(n, &rd.entries[i]);
        node_read_states(n, rd.reads, rd.read_count);
        raft_advance(n->r, &rd);
        for (size_t i = 0; i < n->snap_sent_count; i++)
            raft_report_snapshot(n->r, n->snap_sent[i], true);
        n->snap_sent_count = 0;
    }
    publish_status(n);
    if (n->applied_any && n->cfg.applied)
        n->cfg.applied(n->cfg.data);
    n->applied_any = false;
    return 0;
}

/* ---- snapshots --------------------------------------------------------------------------- */

/*
 * A snapshot is serialised, written and synced on a thread of its own: with a large store that
 * takes long enough (hundreds of milliseconds at 200,000 keys) to delay heartbeats and every
 * write if the Raft thread did it. The Raft thread only captures the applied state (by reference,
 * cfg->snapshot_capture) and the configuration at that index. Once the file is durable, the core
 * is compacted to it, and the WAL marker and the release of old segments follow
 * (node_snapshot_finish). A crash in between loses nothing: the WAL still holds every entry.
 */
struct node_snap_job {
    pthread_t thread;
    struct raft_node *n;
    raft_index index;
    raft_term term;
    struct et_buf meta;
    void *image; /* captured state, serialised by the thread; or NULL: data was made at once */
    void *data;
    size_t len;
    int ret;       /* raft_snap_save()'s, read after the join */
    int done;      /* atomic: the thread finished */
    bool threaded; /* else it ran on the Raft thread (no thread could be created) */
};

static void *snap_job_main(void *arg)
{
    struct node_snap_job *j = arg;
    if (j->image)
        j->n->cfg.snapshot_write(j->image, &j->data, &j->len);
    j->ret = raft_snap_save(j->n->snap_dir, j->index, j->term, j->meta.data, j->meta.len, j->data,
                            j->len);
    /* Once this file is durable the one before it is the fallback, and older ones can go (the
     * WAL is kept back to that fallback until this snapshot's marker is durable, and beyond). */
    if (j->ret == 0 && j->threaded) {
        int ret = raft_snap_purge(j->n->snap_dir, NODE_SNAPSHOTS_KEPT);
        if (ret < 0)
            et_warn("raft: removing old snapshot files: %s", strerror(-ret));
    }
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    node_wake(j->n);
    return NULL;
}

/*
 * Waits for the snapshot being written, then compacts the core to it (unless @in_ready: a
 * leader's snapshot is being installed, which replaces the log anyway), records it in the WAL and
 * drops what it covers.
 */
static int node_snapshot_finish(struct raft_node *n, bool in_ready)
{
    struct node_snap_job *j = n->snap_job;
    if (j == NULL)
        return 0;
    n->snap_job = NULL;
    if (j->threaded)
        pthread_join(j->thread, NULL);
    if (j->image)
        n->cfg.snapshot_release(n->cfg.data, j->image);
    int ret = j->ret;
    bool j_threaded = j->threaded; /* the thread purged the older files itself */
    raft_index index = j->index;
    raft_term term = j->term;
    size_t len = j->len;
    bool stale = false;
    if (ret == 0 && !in_ready && !n->failed) {
        /* Refused only when the core moved past this index meanwhile (a leader's snapshot was
         * installed): the file is then simply an older one. */
        stale = raft_compact_take(n->r, index, j->data, len) < 0;
        if (!stale)
            j->data = NULL; /* the core's now */
    }
    et_buf_free(&j->meta);
    et_free(j->data);
    et_free(j);
    if (ret < 0) {
        et_error("raft: snapshot at index %" PRIu64 " failed: %s", index, strerror(-ret));
        return ret;
    }
    if (n->failed)
        return n->failed;
    if (stale || index <= n->snap_index)
        return 0;
    raft_wal_append_snapshot(n->wal, index, term, false);
    if ((ret = raft_wal_sync(n->wal)) < 0) {
        n->failed = ret; /* the WAL is unusable: so is the node */
        return ret;
    }
    /* Keep the WAL back to the previous snapshot: a damaged newest one can still be replaced. */
    n->snap_prev_index = n->snap_index;
    n->snap_index = index;
    if ((ret = raft_wal_release_to(n->wal, n->snap_prev_index)) < 0 ||
        (!j_threaded && (ret = raft_snap_purge(n->snap_dir, NODE_SNAPSHOTS_KEPT)) < 0))
        et_warn("raft: compaction after the snapshot at %" PRIu64 " failed: %s", index,
                strerror(-ret));
    et_info("raft: snapshot at index %" PRIu64 " (%zu bytes), WAL kept from %" PRIu64, index, len,
            n->snap_prev_index);
    return 0;
}

static int node_snapshot(struct raft_node *n)
{
    struct raft_conf conf;
    if (raft_conf_at(n->r, n->applied, &conf) < 0) {
        et_error("raft: no configuration at the applied index %" PRIu64, n->applied);
        return -EINVAL;
    }
    struct node_snap_job *j = et_calloc(1, sizeof(*j));
    j->n = n;
    j->index = n->applied;
    j->term = n->applied_term;
    conf_encode(&conf, &j->meta);
    if (n->cfg.snapshot_capture)
        j->image = n->cfg.snapshot_capture(n->cfg.data);
    else
        n->cfg.snapshot_save(n->cfg.data, &j->data, &j->len);
    n->snap_job = j;
    j->threaded = true; /* set before the thread reads it */
    if (pthread_create(&j->thread, NULL, snap_job_main, j) != 0) {
        j->threaded = false;
        snap_job_main(j); /* no thread: write it here */
        return node_snapshot_finish(n, false);
    }
    return 0;
}

static void node_maybe_snapshot(struct raft_node *n)
{
    if (n->snap_job) {
        if (!__atomic_load_n(&n->snap_job->done, __ATOMIC_ACQUIRE))
            return; /* one at a time */
        (void)node_snapshot_finish(n, false);
    }
    if (n->cfg.snapshot_count == 0 || n->failed ||
        !(n->cfg.snapshot_save || n->cfg.snapshot_capture))
        return;
    if (n->applied - n->snap_tried_index < n->cfg.snapshot_count)
        return;
    /* A failed snapshot (disk full, say) is retried snapshot_count entries later. */
    n->snap_tried_index = n->applied;
    (void)node_snapshot(n);
}

/* ---- the loop's steps -------------------------------------------------------------------- */

/* A proposal forwarded by a follower: the leader proposes it with the follower's origin tag. */
static void node_forwarded(struct raft_node *n, const unsigned char *d, size_t len)
{
    if (len < 1 + NODE_ENVELOPE || len - 1 > NODE_ENTRY_BYTES_MAX + NODE_ENVELOPE) {
        et_warn("raft: malformed forwarded proposal (%zu bytes) dropped", len);
        return;
    }
    /* Not the leader (any more): dropped; the follower's deadline answers its client. */
    if (raft_propose(n->r, d + 1, len - 1, NULL, NULL) < 0)
        et_debug("raft: forwarded proposal from %" PRIu64 " dropped: not the leader",
                 get_le64(d + 1));
}

/* Leader: proposes a forwarded change (@d: change | origin | context); held while busy. */
static int node_propose_change_data(struct raft_node *n, const unsigned char *d, size_t len)
{
    struct raft_conf_change cc;
    if (raft_conf_change_decode(d, len, &cc) != 0)
        return -EINVAL;
    return raft_propose_conf_change_ctx(n->r, &cc, d + RAFT_CONF_CHANGE_LEN,
                                        len - RAFT_CONF_CHANGE_LEN, NULL);
}

static void node_forwarded_change(struct raft_node *n, const unsigned char *d, size_t len)
{
    if (len < RAFT_CONF_CHANGE_LEN + NODE_ENVELOPE || len > NODE_ENTRY_BYTES_MAX) {
        et_warn("raft: malformed forwarded membership change (%zu bytes) dropped", len);
        return;
    }
    int ret = node_propose_change_data(n, d, len);
    if (ret == -EBUSY) {
        struct node_fwd_change *f = et_alloc(sizeof(*f) + len);
        f->deadline_ns = et_mono_ns() + (int64_t)n->cfg.request_timeout_ms * ET_NS_PER_MSEC;
        f->len = len;
        memcpy(f->data, d, len);
        list_push(&n->cfwd, f);
    } else if (ret < 0) {
        et_info("raft: forwarded membership change refused: %s", strerror(-ret));
    }
}

/* Hands one local change to the core (or forwards it). Returns false to retry it later. */
static bool node_change_one(struct raft_node *n, struct raft_change *c)
{
    struct raft_conf_change cc = { .type = c->type, .id = c->id };
    size_t len = 1 + RAFT_CONF_CHANGE_LEN + NODE_ENVELOPE + c->context_len;
    unsigned char *d;
    if (c->_seq == 0)
        c->_seq = n->next_seq++;
    et_buf_reset(&n->scratch);
    d = (unsigned char *)et_buf_reserve(&n->scratch, len);
    d[0] = NODE_CHANGE_TAG;
    raft_conf_change_encode(&cc, d + 1);
    put_le64(d + 1 + RAFT_CONF_CHANGE_LEN, n->cfg.id);
    put_le64(d + 1 + RAFT_CONF_CHANGE_LEN + 8, c->_seq);
    if (c->context_len)
        memcpy(d + 1 + RAFT_CONF_CHANGE_LEN + NODE_ENVELOPE, c->context, c->context_len);
    int ret = node_propose_change_data(n, d + 1, len - 1);
    if (ret == -EPERM) {
        raft_id leader = raft_leader(n->r);
        if (leader == 0 || leader == n->cfg.id || !n->cfg.send)
            return false;
        n->cfg.send(n->cfg.data, leader, d, len);
        ret = 0;
    }
    if (ret == -EBUSY)
        return false;
    if (ret < 0) {
        c->done(c, ret);
        return true;
    }
    list_push(&n->cpend, c);
    return true;
}

static void node_changes(struct raft_node *n, int64_t now)
{
    struct et_mpsc_node *qn;
    while ((qn = et_mpsc_pop(&n->changes)))
        list_push(&n->chold, qn);
    struct node_list *lists[] = { &n->chold, &n->cpend };
    for (size_t l = 0; l < ET_ARRAY_SIZE(lists); l++) {
        size_t keep = 0;
        for (size_t i = 0; i < lists[l]->n; i++) {
            struct raft_change *c = lists[l]->v[i];
            if (n->failed)
                c->done(c, n->failed);
            else if (now > c->_deadline_ns)
                c->done(c, -ETIMEDOUT);
            else if (l == 1 || !node_change_one(n, c))
                lists[l]->v[keep++] = c;
        }
        lists[l]->n = keep;
    }
    size_t keep = 0;
    for (size_t i = 0; i < n->cfwd.n; i++) {
        struct node_fwd_change *f = n->cfwd.v[i];
        if (now <= f->deadline_ns && !n->failed &&
            node_propose_change_data(n, f->data, f->len) == -EBUSY) {
            n->cfwd.v[keep++] = f;
            continue;
        }
        et_free(f);
    }
    n->cfwd.n = keep;
}

static void node_inbound(struct raft_node *n)
{
    struct et_mpsc_node *qn;
    while ((qn = et_mpsc_pop(&n->inbound))) {
        struct node_inmsg *im = (struct node_inmsg *)qn;
        struct raft_msg m;
        if (n->failed) {
            /* a failed member takes no part */
        } else if (im->len > 0 && im->data[0] == NODE_FORWARD_TAG) {
            node_forwarded(n, im->data, im->len);
        } else if (im->len > 0 && im->data[0] == NODE_CHANGE_TAG) {
            node_forwarded_change(n, im->data + 1, im->len - 1);
        } else if (raft_msg_decode(im->data, im->len, &m) == 0) {
            if (m.type == RAFT_MSG_APPEND)
                rate_add(&n->recv_rate, et_mono_ns(), im->len);
            if (raft_step(n->r, &m) < 0)
                et_debug("raft: message type %u from %" PRIu64 " refused", m.type, m.from);
            raft_msg_decoded_free(&m);
        } else {
            et_warn("raft: undecodable peer message (%zu bytes) dropped", im->len);
        }
        et_free(im);
    }
}

static void node_tick(struct raft_node *n, int64_t now)
{
    if (now < n->next_tick_ns)
        return;
    if (!n->failed)
        raft_tick(n->r);
    publish_rates(n, now);
    if (n->cfg.tick)
        n->cfg.tick(n->cfg.data, __atomic_load_n(&n->st_is_leader, __ATOMIC_RELAXED));
    n->next_tick_ns += (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
    if (n->next_tick_ns <= now) /* fell behind (a long fsync): do not tick in a burst */
        n->next_tick_ns = now + (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
}

/* Hands one proposal to the core. Returns false when it must wait for a leader. */
static bool node_propose_one(struct raft_node *n, struct raft_proposal *p)
{
    unsigned char *d;
    et_buf_reset(&n->scratch);
    d = (unsigned char *)et_buf_reserve(&n->scratch, 1 + NODE_ENVELOPE + p->len);
    d[0] = NODE_FORWARD_TAG;
    put_le64(d + 1, n->cfg.id);
    put_le64(d + 9, n->next_seq);
    if (p->len)
        memcpy(d + 1 + NODE_ENVELOPE, p->data, p->len);
    int ret = raft_propose(n->r, d + 1, NODE_ENVELOPE + p->len, NULL, NULL);
    if (ret == -EPERM) {
        /* A follower forwards to the leader it knows; the origin tag brings the entry home. */
        raft_id leader = raft_leader(n->r);
        if (leader == 0 || leader == n->cfg.id || !n->cfg.send)
            return false;
        n->cfg.send(n->cfg.data, leader, d, 1 + NODE_ENVELOPE + p->len);
        ret = 0;
    }
    if (ret == -EBUSY)
        return false; /* a leader transfer is running: wait for it */
    if (ret < 0) {
        p->done(p, ret);
        return true;
    }
    pend_push(n, n->next_seq++, p);
    return true;
}

static void node_proposals(struct raft_node *n, int64_t now)
{
    struct et_mpsc_node *qn;
    size_t keep = 0, handed = 0;
    for (size_t i = 0; i < n->phold.n; i++) {
        struct raft_proposal *p = n->phold.v[i];
        if (n->failed)
            p->done(p, n->failed);
        else if (now > p->_deadline_ns)
            p->done(p, -ETIMEDOUT);
        else if (keep > 0 || !node_propose_one(n, p))
            n->phold.v[keep++] = p;
    }
    n->phold.n = keep;
    while (handed++ < NODE_PROPOSALS_MAX && (qn = et_mpsc_pop(&n->props))) {
        struct raft_proposal *p = (struct raft_proposal *)qn;
        if (n->failed)
            p->done(p, n->failed);
        else if (now > p->_deadline_ns)
            p->done(p, -ETIMEDOUT);
        else if (n->phold.n > 0 || !node_propose_one(n, p))
            list_push(&n->phold, p); /* keeps this member's proposals in order */
    }
    /* Proposed but not committed in time: the caller hears -ETIMEDOUT (the entry may still
     * commit later and is then applied without its proposal, like etcd's timeouts). */
    struct node_pending *f;
    while ((f = pend_front(n)) && now > f->p->_deadline_ns) {
        struct raft_proposal *p = f->p;
        pend_pop(n);
        p->done(p, -ETIMEDOUT);
    }
}

static void node_reads(struct raft_node *n)
{
    struct et_mpsc_node *qn;
    while ((qn = et_mpsc_pop(&n->reads)))
        list_push(&n->rhold, qn);
    if (n->rhold.n == 0 || n->failed)
        return;
    /* One ReadIndex round for every read waiting: they share a context. */
    uint64_t ctx = ++n->next_read_ctx;
    if (raft_read_index(n->r, ctx) < 0)
        return; /* no leader known yet: they wait (until their deadline) */
    for (size_t i = 0; i < n->rhold.n; i++) {
        struct raft_read *r = n->rhold.v[i];
        r->_index = ctx | NODE_READ_TAG;
        list_push(&n->rflight, r);
    }
    n->rhold.n = 0;
}

/* Finishes reads whose index is applied, and expires the others. */
static void node_serve_reads(struct raft_node *n, int64_t now)
{
    struct node_list *lists[] = { &n->rwait, &n->rhold, &n->rflight };
    for (size_t l = 0; l < ET_ARRAY_SIZE(lists); l++) {
        size_t keep = 0;
        for (size_t i = 0; i < lists[l]->n; i++) {
            struct raft_read *r = lists[l]->v[i];
            if (n->failed)
                r->done(r, n->failed);
            else if (l == 0 && r->_index <= n->applied)
                r->done(r, 0);
            else if (now > r->_deadline_ns)
                r->done(r, -ETIMEDOUT);
            else
                lists[l]->v[keep++] = r;
        }
        lists[l]->n = keep;
    }
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

static void node_fail(struct raft_node *n, int err)
{
    if (n->failed)
        return;
    et_error("raft: member %" PRIu64 " stops taking part in the cluster: %s", n->cfg.id,
             strerror(-err));
    n->failed = err;
    while (n->pend_count) {
        struct raft_proposal *p = pend_front(n)->p;
        pend_pop(n);
        p->done(p, err);
    }
    __atomic_store_n(&n->st_is_leader, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&n->st_leader, 0, __ATOMIC_RELAXED);
}

static void node_cancel_all(struct raft_node *n)
{
    struct et_mpsc_node *qn;
    /* The caller of stop must not propose after it; producers are done pushing by now. */
    while ((qn = et_mpsc_pop(&n->props)))
        ((struct raft_proposal *)qn)->done((struct raft_proposal *)qn, -ECANCELED);
    for (size_t i = 0; i < n->phold.n; i++)
        ((struct raft_proposal *)n->phold.v[i])->done(n->phold.v[i], -ECANCELED);
    n->phold.n = 0;
    while (n->pend_count) {
        struct raft_proposal *p = pend_front(n)->p;
        pend_pop(n);
        p->done(p, -ECANCELED);
    }
    while ((qn = et_mpsc_pop(&n->reads)))
        list_push(&n->rhold, qn);
    struct node_list *lists[] = { &n->rwait, &n->rhold, &n->rflight };
    for (size_t l = 0; l < ET_ARRAY_SIZE(lists); l++) {
        for (size_t i = 0; i < lists[l]->n; i++)
            ((struct raft_read *)lists[l]->v[i])->done(lists[l]->v[i], -ECANCELED);
        lists[l]->n = 0;
    }
    while ((qn = et_mpsc_pop(&n->inbound)))
        et_free(qn);
    while ((qn = et_mpsc_pop(&n->changes)))
        list_push(&n->chold, qn);
    struct node_list *clists[] = { &n->chold, &n->cpend };
    for (size_t l = 0; l < ET_ARRAY_SIZE(clists); l++) {
        for (size_t i = 0; i < clists[l]->n; i++)
            ((struct raft_change *)clists[l]->v[i])->done(clists[l]->v[i], -ECANCELED);
        clists[l]->n = 0;
    }
    for (size_t i = 0; i < n->cfwd.n; i++)
        et_free(n->cfwd.v[i]);
    n->cfwd.n = 0;
}

static void *node_main(void *arg)
{
    struct raft_node *n = arg;
    pthread_setname_np(pthread_self(), "raft");
    n->next_tick_ns = et_mono_ns() + (int64_t)n->cfg.tick_ms * ET_NS_PER_MSEC;
    while (!__atomic_load_n(&n->stopping, __ATOMIC_ACQUIRE)) {
        bool more = et_mpsc_count(&n->props) > 0 && n->phold.n == 0;
        if (!more)
            node_wait(n);
        /* Re-arm before draining: a push after this point writes the eventfd again. */
        __atomic_exchange_n(&n->wake_pending, 0, __ATOMIC_ACQ_REL);
        node_inbound(n);
        node_tick(n, et_mono_ns());
        int64_t now = et_mono_ns(); /* after the tick: deadlines are judged when popped */
        node_proposals(n, now);
        node_changes(n, now);
        node_reads(n);
        if (!n->failed) {
            int ret = node_ready(n);
            if (ret < 0)
                node_fail(n, ret);
        }
        node_serve_reads(n, now);
        node_maybe_snapshot(n);
    }
    (void)node_snapshot_finish(n, false);
    node_cancel_all(n);
    return NULL;
}

/* ---- start-up ---------------------------------------------------------------------------- */

struct replay {
    struct raft_entry *ents; /* after the snapshot: ents[i].index = base + i + 1 */
    size_t count, cap;
    raft_index base;
    struct raft_hard_state hs;
};

static void replay_free(struct replay *rp)
{
    for (size_t i = 0; i < rp->count; i++)
        et_free((void *)rp->ents[i].data);
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
        if (!r->snap.reset)
            return 0;
        /* A leader's snapshot replaced the whole log. */
        if (r->snap.index > rp->base) {
            et_error("raft: the WAL records a snapshot at %" PRIu64 " from the leader but the "
                     "newest valid snapshot file is at %" PRIu64 ": refusing to start",
                     r->snap.index, rp->base);
            return -EBADMSG;
        }
        while (rp->count > 0)
            et_free((void *)rp->ents[--rp->count].data);
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
    while (rp->count > 0 && rp->ents[rp->count - 1].index >= e->index)
        et_free((void *)rp->ents[--rp->count].data);
    if (rp->count == rp->cap) {
        rp->cap = rp->cap ? 2 * rp->cap : 1024;
        rp->ents = et_realloc(rp->ents, rp->cap * sizeof(*rp->ents));
    }
    bool tagged = e->type == RAFT_ENTRY_NORMAL;
    size_t len = e->len + (tagged ? NODE_ENVELOPE : 0);
    ET_ASSERT(len <= UINT32_MAX);
    unsigned char *d = et_alloc(len ? len : 1);
    if (tagged) {
        put_le64(d, e->origin_id);
        put_le64(d + 8, e->origin_seq);
    }
    if (e->len)
        memcpy(d + (tagged ? NODE_ENVELOPE : 0), e->data, e->len);
    rp->ents[rp->count++] = (struct raft_entry){ .term = e->term,
                                                 .index = e->index,
                                                 .type = (uint8_t)e->type,
                                                 .len = (uint32_t)len,
                                                 .data = d };
    return 0;
}

static void node_bootstrap_conf(const struct raft_node_config *cfg, struct raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; cfg->peers && i < cfg->peer_count && c->count < RAFT_MEMBERS_MAX; i++)
        c->members[c->count++] = (struct raft_member){ .id = cfg->peers[i].id, .voter = true };
    if (c->count == 0)
        c->members[c->count++] = (struct raft_member){ .id = cfg->id, .voter = true };
}

/* Loads the snapshot and the WAL, and creates the core from them. */
static int node_restore(struct raft_node *n)
{
    struct raft_snap snap = { 0 };
    struct replay rp = { 0 };
    struct raft_restore rs = { 0 };
    struct raft_config rc = { 0 };
    int ret = raft_snap_load(n->snap_dir, &snap);
    if (ret < 0 && ret != -ENOENT)
        return ret;
    if (ret == 0) {
        ret = conf_decode(snap.meta, snap.meta_len, &rs.snapshot.meta.conf);
        if (ret == 0)
            ret = n->cfg.snapshot_load ? n->cfg.snapshot_load(n->cfg.data, snap.data, snap.len)
                                       : -ENOTSUP;
        if (ret < 0) {
            et_error("raft: loading the snapshot at index %" PRIu64 " failed: %s", snap.index,
                     strerror(-ret));
            goto out;
        }
        rs.snapshot.meta.index = snap.index;
        rs.snapshot.meta.term = snap.term;
        rs.snapshot.data = snap.data;
        rs.snapshot.len = snap.len;
        n->applied = n->snap_index = n->snap_prev_index = n->snap_tried_index = snap.index;
        n->applied_term = snap.term;
    }
    rp.base = n->snap_index;
    struct raft_wal_options wo = { .segment_bytes = n->cfg.wal_segment_bytes,
                                   .use_uring = n->cfg.wal_use_uring };
    if ((ret = raft_wal_open(n->wal_dir, &wo, replay_record, &rp, &n->wal)) < 0)
        goto out;
    rs.hard_state = rp.hs;
    raft_index last = rp.base + rp.count;
    /* A commit index only rides along with later syncs (see the top): it may lag a snapshot. */
    if (rs.hard_state.commit < rp.base)
        rs.hard_state.commit = rp.base;
    if (rs.hard_state.commit > last)
        rs.hard_state.commit = last;
    rs.entries = rp.ents;
    rs.entry_count = rp.count;
    rs.applied = n->applied;
    if (rp.base == 0 && rp.count == 0 && rp.hs.term == 0) {
        /* A fresh member starts in term 1, as etcd's (whose bootstrap entries are in term 1), so
         * the first election makes term 2 and X-Raft-Term reads as etcd's. Every member starts
         * there without a vote and nobody campaigns in term 1, so it needs no write. */
        rs.hard_state.term = rp.hs.term = 1;
    }
    n->durable_term = rp.hs.term;
    n->durable_vote = rp.hs.vote;

    node_bootstrap_conf(&n->cfg, &rc.bootstrap);
    rc.id = n->cfg.id;
    rc.heartbeat_ticks = 1;
    rc.election_ticks = n->cfg.election_ms / n->cfg.tick_ms;
    if (rc.election_ticks < 3)
        rc.election_ticks = 3;
    rc.seed = n->cfg.id ^ (uint64_t)et_wall_ns();
    rc.max_msg_entries = 1024;
    rc.max_msg_bytes = 4u << 20;
    rc.max_inflight = 64;
    rc.pre_vote = true;
    rc.check_quorum = true;
    rc.restore = &rs;
    if ((ret = raft_new(&rc, &n->r)) < 0) {
        et_error("raft: the WAL and snapshot do not form a consistent state (snapshot %" PRIu64
                 ", entries to %" PRIu64 ", commit %" PRIu64 "): refusing to start",
                 rp.base, last, rs.hard_state.commit);
        ret = -EBADMSG;
        goto out;
    }
    et_info("raft: member %" PRIu64 " restored snapshot %" PRIu64 ", WAL to %" PRIu64
            ", commit %" PRIu64 ", term %" PRIu64,
            n->cfg.id, rp.base, last, rs.hard_state.commit, rp.hs.term);
out:
    replay_free(&rp);
    raft_snap_free(&snap);
    return ret;
}

/* A cluster of one need not wait out an election timeout: it elects itself now. */
static int node_elect_alone(struct raft_node *n)
{
    const struct raft_conf *c = raft_get_conf(n->r);
    struct raft_info info;
    int ret;
    if (c->count != 1 || c->members[0].id != n->cfg.id || !c->members[0].voter)
        return 0;
    /* At most two election timeouts of ticks (the timeout is randomized below 2x). */
    for (uint32_t i = 0; i < 4 * n->cfg.election_ms / n->cfg.tick_ms + 8; i++) {
        raft_get_info(n->r, &info);
        if (info.role == RAFT_LEADER)
            return 0;
        raft_tick(n->r);
        if ((ret = node_ready(n)) < 0)
            return ret;
    }
    et_warn("raft: member %" PRIu64 " alone in its cluster did not become leader", n->cfg.id);
    return 0;
}

static void node_free(struct raft_node *n)
{
    raft_free(n->r);
    raft_wal_close(n->wal);
    if (n->efd >= 0)
        close(n->efd);
    et_free(n->pend);
    et_free(n->phold.v);
    et_free(n->rhold.v);
    et_free(n->rflight.v);
    et_free(n->rwait.v);
    et_free(n->chold.v);
    et_free(n->cpend.v);
    et_free(n->cfwd.v);
    et_buf_free(&n->scratch);
    et_free(n->wal_dir);
    et_free(n->snap_dir);
    et_free((char *)n->cfg.data_dir);
    et_free(n);
}

int raft_node_start(const struct raft_node_config *cfg, struct raft_node **out)
{
    ET_ASSERT(cfg->data_dir != NULL);
    ET_ASSERT(cfg->apply != NULL);
    ET_ASSERT(cfg->id != 0);
    ET_ASSERT(cfg->tick_ms > 0);
    if (cfg->peer_count > 1 && !cfg->send) {
        et_error("raft: a cluster of %zu members needs a peer transport (cfg->send)",
                 cfg->peer_count);
        return -EINVAL;
    }
    struct raft_node *n = et_calloc(1, sizeof(*n));
    int ret;
    n->cfg = *cfg;
    n->cfg.data_dir = et_strdup(cfg->data_dir);
    if (n->cfg.request_timeout_ms == 0)
        n->cfg.request_timeout_ms = 7000;
    if (n->cfg.election_ms == 0)
        n->cfg.election_ms = 10 * n->cfg.tick_ms;
    n->wal_dir = path_join(cfg->data_dir, "member/wal");
    n->snap_dir = path_join(cfg->data_dir, "member/snap");
    et_mpsc_init(&n->props, cfg->queue_max);
    et_mpsc_init(&n->reads, cfg->queue_max);
    et_mpsc_init(&n->inbound, cfg->queue_max ? cfg->queue_max : 4096);
    et_mpsc_init(&n->changes, 1024);
    n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->efd < 0) {
        ret = -errno;
        goto out_free;
    }
    if ((ret = raft__mkdir_p(n->snap_dir)) < 0 || (ret = node_restore(n)) < 0)
        goto out_free;
    /* Sequences grow across restarts (wall clock at start, then +1 per proposal), so entries of
     * an earlier run are never mistaken for this run's proposals. */
    n->next_seq = n->first_seq = (uint64_t)et_wall_ns();
    /* Committed entries above the snapshot come back through Ready: apply them now. */
    if ((ret = node_ready(n)) < 0)
        goto out_free;
    if ((ret = node_elect_alone(n)) < 0 || (ret = node_ready(n)) < 0)
        goto out_free;
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
