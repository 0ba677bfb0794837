/*
 * tests/sim/sim.c - deterministic simulation of a cluster of pure raft cores (raft/raft.h).
 *
 * One 64-bit seed decides everything: cluster size (3 or 5), core options, the network (delay,
 * drop, duplication, reordering, partitions and heals), the disks (fsync latency; a crash loses
 * unsynced writes or keeps a torn prefix of them), crashes and restarts, client proposals,
 * ReadIndex reads, configuration changes (learner, promote, add and remove voters), leader
 * transfers and log compaction. Time is simulated in milliseconds; every member ticks each
 * SIM_TICK_MS. Every message goes through raft_msg_encode / raft_msg_decode.
 *
 * Each member follows the Ready contract of raft/raft.h literally: msgs_early leave at once,
 * the batch is written to a volatile disk buffer, msgs leave only when the simulated fdatasync
 * completes, then committed entries are applied and raft_advance() is called.
 *
 * Checked after every step (any failure prints the seed and the command that replays it):
 *  - election safety: at most one leader per term;
 *  - log matching: two durable logs holding an entry with the same index and term hold the
 *    same prefix up to it (a chain hash per (index, term), kept in a global table);
 *  - state machine safety: every member applies the same entry at each index, in order, and a
 *    snapshot carries the same state as the members that applied up to it;
 *  - leader completeness: a new leader holds every entry any member has applied, which also
 *    means nothing committed is ever lost, across crashes included;
 *  - ReadIndex linearizability: a read's index is at least every commit index any member knew
 *    when the read was issued;
 *  - liveness: after the network heals and every member is back, a leader exists and proposals
 *    commit and are applied by every member of its configuration within a bounded time.
 *
 * Usage: ET_SIM_SEED=<n> replays one run with a one-line-per-event trace;
 *        ET_SIM_SEEDS=<count> [ET_SIM_START=<first>] runs a range (default 1000 from 1).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "raft/raft.h"

#define SIM_NODES_MAX 7
#define SIM_TICK_MS   10
#define SIM_CHAOS_MS  2500 /* faults happen before this */
#define SIM_END_MS    5000 /* liveness is checked from then on */
#define SIM_QUIET_MS  600  /* no proposals during the last stretch: let everyone catch up */
#define SIM_GRACE_MS  1000 /* from SIM_END_MS on, liveness must be reached within this */
#define SIM_INBOX_MAX 4096

/* ---------------------------------------------------------------------------------------------
 * Randomness and hashing
 */

static uint64_t g_rng;
static uint64_t g_seed;
static bool g_trace;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
    g_rng += 0x9e3779b97f4a7c15ULL;
    return mix64(g_rng);
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static bool chance(double p)
{
    return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}

static uint64_t hash_bytes(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return mix64(h ^ len);
}

/* The chain hash of a log / state machine: covers every entry up to and including @e. */
static uint64_t chain(uint64_t prev, const struct raft_entry *e)
{
    uint64_t h = prev ^ mix64(e->term * 0x9e3779b97f4a7c15ULL + e->index);
    h ^= mix64(e->type + 0x51ULL) ^ hash_bytes(e->len ? e->data : "", e->len);
    return mix64(h);
}

/* ---------------------------------------------------------------------------------------------
 * Failure reporting
 */

static const char *g_argv0;
static uint64_t g_now;

static void print_replay(void)
{
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "raft_sim: FAILED seed %" PRIu64 " at t=%" PRIu64
                     "ms; replay: ET_SIM_SEED=%" PRIu64 " %s\n",
                     g_seed, g_now, g_seed, g_argv0);
    if (n > 0)
        (void)!write(2, line, (size_t)n);
}

static void on_fatal_signal(int sig)
{
    print_replay();
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "raft_sim: check failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    print_replay();
    exit(1);
}

#define TRACE(...)                             \
    do {                                       \
        if (g_trace) {                         \
            printf("t=%05" PRIu64 " ", g_now); \
            printf(__VA_ARGS__);               \
            printf("\n");                      \
        }                                      \
    } while (0)

static const char *msg_name(uint8_t t)
{
    static const char *names[] = { "?",         "APPEND",  "APPEND_RESP",  "VOTE",
                                   "VOTE_RESP", "PREVOTE", "PREVOTE_RESP", "SNAPSHOT",
                                   "HEARTBEAT", "HB_RESP", "TIMEOUT_NOW",  "READ_INDEX",
                                   "READ_RESP" };
    return t <= RAFT_MSG_TYPE_MAX ? names[t] : "?";
}

/* ---------------------------------------------------------------------------------------------
 * Global history for the checks
 */

struct slot {
    raft_index index;
    raft_term term;
    uint64_t chain;
};

static struct slot *g_table; /* (index, term) -> chain hash, open addressing */
static size_t g_table_cap, g_table_used;

static uint64_t *g_applied_hash; /* by index: chain hash after applying it (0 = unknown) */
static raft_term *g_applied_term;
static size_t g_applied_cap;
static raft_index g_applied_max; /* highest index any member applied */
static raft_index g_commit_max;  /* highest commit index any member ever had */
static raft_id *g_leader_of;     /* by term */
static size_t g_leader_cap;

static void table_grow(void);

/* Log matching: (index, term) names one prefix everywhere. */
static void table_check(raft_index index, raft_term term, uint64_t h, raft_id who)
{
    if (g_table_used * 2 >= g_table_cap)
        table_grow();
    size_t mask = g_table_cap - 1;
    size_t i = mix64(index * 31 + term) & mask;
    for (;; i = (i + 1) & mask) {
        struct slot *s = &g_table[i];
        if (s->index == 0) {
            *s = (struct slot){ index, term, h };
            g_table_used++;
            return;
        }
        if (s->index == index && s->term == term) {
            if (s->chain != h)
                fail("log matching: n%" PRIu64 " holds (index %" PRIu64 ", term %" PRIu64
                     ") with a different prefix",
                     who, index, term);
            return;
        }
    }
}

static void table_grow(void)
{
    struct slot *old = g_table;
    size_t old_cap = g_table_cap;
    g_table_cap = old_cap ? old_cap * 2 : 4096;
    g_table = et_calloc(g_table_cap, sizeof(*g_table));
    g_table_used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].index)
            table_check(old[i].index, old[i].term, old[i].chain, 0);
    et_free(old);
}

static void applied_reserve(raft_index index)
{
    if (index < g_applied_cap)
        return;
    size_t cap = g_applied_cap ? g_applied_cap : 1024;
    while (cap <= index)
        cap *= 2;
    g_applied_hash = et_realloc(g_applied_hash, cap * sizeof(*g_applied_hash));
    g_applied_term = et_realloc(g_applied_term, cap * sizeof(*g_applied_term));
    memset(g_applied_hash + g_applied_cap, 0, (cap - g_applied_cap) * sizeof(*g_applied_hash));
    memset(g_applied_term + g_applied_cap, 0, (cap - g_applied_cap) * sizeof(*g_applied_term));
    g_applied_cap = cap;
}

/* Election safety: one leader per term. */
static void check_leader(raft_term term, raft_id id)
{
    if (term >= g_leader_cap) {
        size_t cap = g_leader_cap ? g_leader_cap : 256;
        while (cap <= term)
            cap *= 2;
        g_leader_of = et_realloc(g_leader_of, cap * sizeof(*g_leader_of));
        memset(g_leader_of + g_leader_cap, 0, (cap - g_leader_cap) * sizeof(*g_leader_of));
        g_leader_cap = cap;
    }
    if (g_leader_of[term] && g_leader_of[term] != id)
        fail("election safety: n%" PRIu64 " and n%" PRIu64 " both lead term %" PRIu64,
             g_leader_of[term], id, term);
    g_leader_of[term] = id;
}

/* ---------------------------------------------------------------------------------------------
 * Simulated disk: durable state plus the batch being written
 */

struct dentry {
    struct raft_entry e; /* data owned */
    uint64_t chain;
};

struct disk {
    struct raft_hard_state hs;
    struct raft_snapshot_meta snap;
    uint64_t snap_hash; /* the snapshot's "data": the state machine's chain hash */
    struct dentry *ents;
    size_t n, cap;
};

static void disk_truncate(struct disk *d, raft_index from)
{
    while (d->n && d->ents[d->n - 1].e.index >= from)
        et_free((void *)d->ents[--d->n].e.data);
}

static void disk_append(struct disk *d, const struct raft_entry *e, raft_id who)
{
    raft_index last = d->n ? d->ents[d->n - 1].e.index : d->snap.index;
    if (e->index != last + 1)
        fail("n%" PRIu64 ": Ready entry %" PRIu64 " does not follow the stored log (%" PRIu64 ")",
             who, e->index, last);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->ents = et_realloc(d->ents, d->cap * sizeof(*d->ents));
    }
    uint64_t prev = d->n ? d->ents[d->n - 1].chain : d->snap_hash;
    struct dentry *de = &d->ents[d->n++];
    de->e = *e;
    de->e.data = e->len ? et_memdup(e->data, e->len) : NULL;
    de->chain = chain(prev, e);
    table_check(e->index, e->term, de->chain, who);
}

static void disk_compact(struct disk *d, raft_index upto)
{
    size_t drop = 0;
    while (drop < d->n && d->ents[drop].e.index <= upto)
        et_free((void *)d->ents[drop++].e.data);
    memmove(d->ents, d->ents + drop, (d->n - drop) * sizeof(*d->ents));
    d->n -= drop;
}

static void disk_free(struct disk *d)
{
    disk_truncate(d, 0);
    et_free(d->ents);
    memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------------------------------------
 * Members
 */

struct pending_read {
    uint64_t ctx;
    raft_index min_index; /* g_commit_max when issued */
};

struct node {
    raft_id id;
    bool exists;  /* created (bootstrap, or added by a conf change) */
    bool up;      /* running */
    bool retired; /* removed from the cluster for good */
    struct raft *r;
    struct disk disk;
    uint64_t restart_at;
    uint64_t tick_phase;
    /* the Ready in progress */
    bool syncing;
    uint64_t sync_at;
    struct raft_ready rd;
    /* messages delivered while syncing */
    struct et_buf inbox[SIM_INBOX_MAX];
    size_t inbox_n;
    uint32_t ticks_due;
    /* state machine */
    raft_index applied;
    uint64_t sm_hash;
    raft_index compact_every;
    struct pending_read reads[64];
    size_t read_n;
    raft_id snap_reports[8]; /* raft_report_snapshot() to make: id, negative id = failed */
    int64_t snap_report_ok[8];
    size_t snap_report_n;
    enum raft_role last_role; /* to notice a new leader */
    raft_term last_term;
};

struct wire {
    uint64_t at;
    raft_id from, to;
    uint8_t type;
    struct et_buf bytes;
};

struct options {
    int voters;
    double drop, dup;
    uint32_t delay_max_ms;
    double p_crash, p_partition, p_propose, p_read, p_conf, p_transfer;
    bool torn_hs_first; /* torn writes keep a prefix of [hs, entries] instead of [entries, hs] */
    struct raft_config cfg;
};

struct sim {
    struct options o;
    struct node nodes[SIM_NODES_MAX + 1]; /* by id */
    int group[SIM_NODES_MAX + 1];         /* partition: members talk within a group */
    uint64_t heal_at;
    struct wire *net;
    size_t net_n, net_cap;
    uint64_t next_ctx;
    raft_id next_id;
    uint64_t proposals, heal_proposals_applied, reads_ok, crashes, snapshots_sent, elections;
};

static struct sim *S;

/* ---------------------------------------------------------------------------------------------
 * Network
 */

static bool linked(raft_id a, raft_id b)
{
    return S->group[a] == S->group[b];
}

static void report_snapshot_later(const struct raft_msg *m, bool delivered)
{
    struct node *n = &S->nodes[m->from];
    if (m->type != RAFT_MSG_SNAPSHOT || !chance(0.7) || n->snap_report_n == 8)
        return;
    n->snap_reports[n->snap_report_n] = m->to;
    n->snap_report_ok[n->snap_report_n++] = delivered || chance(0.3); /* transports can lie */
}

static void net_send(const struct raft_msg *m)
{
    if (!linked(m->from, m->to) || chance(S->o.drop)) {
        TRACE("n%" PRIu64 " -> n%" PRIu64 " %s dropped", m->from, m->to, msg_name(m->type));
        report_snapshot_later(m, false);
        return;
    }
    report_snapshot_later(m, true);
    int copies = chance(S->o.dup) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        if (S->net_n == S->net_cap) {
            S->net_cap = S->net_cap ? S->net_cap * 2 : 256;
            S->net = et_realloc(S->net, S->net_cap * sizeof(*S->net));
        }
        struct wire *w = &S->net[S->net_n++];
        *w = (struct wire){ .at = g_now + 1 + rnd_below(S->o.delay_max_ms),
                            .from = m->from,
                            .to = m->to,
                            .type = m->type };
        raft_msg_encode(m, &w->bytes);
    }
    TRACE("n%" PRIu64 " -> n%" PRIu64 " %s term=%" PRIu64 " idx=%" PRIu64 " lt=%" PRIu64
          " commit=%" PRIu64 " n=%u%s%s",
          m->from, m->to, msg_name(m->type), m->term, m->index, m->log_term, m->commit,
          m->entry_count, m->reject ? " reject" : "", copies > 1 ? " (dup)" : "");
}

/* ---------------------------------------------------------------------------------------------
 * A member's life: create, crash, restart
 */

static void node_config(struct node *n, struct raft_config *cfg)
{
    *cfg = S->o.cfg;
    cfg->id = n->id;
    cfg->seed = rnd();
}

static void node_start(struct node *n)
{
    struct raft_config cfg;
    node_config(n, &cfg);
    struct disk *d = &n->disk;
    struct raft_entry *ents = et_alloc_array(d->n + 1, sizeof(*ents));
    for (size_t i = 0; i < d->n; i++)
        ents[i] = d->ents[i].e;
    uint8_t image[8];
    memcpy(image, &d->snap_hash, 8);
    struct raft_restore rs = {
        .hard_state = d->hs,
        .snapshot = { d->snap, d->snap.index ? image : NULL, d->snap.index ? 8 : 0 },
        .entries = ents,
        .entry_count = d->n,
        .applied = d->snap.index,
    };
    cfg.restore = &rs;
    int err = raft_new(&cfg, &n->r);
    et_free(ents);
    if (err)
        fail("n%" PRIu64 ": raft_new refused its own durable state (%d)", n->id, err);
    n->up = true;
    n->syncing = false;
    n->applied = d->snap.index;
    n->sm_hash = d->snap_hash;
    n->inbox_n = 0;
    n->ticks_due = 0;
    n->read_n = 0;
    n->snap_report_n = 0;
    n->last_role = RAFT_FOLLOWER;
    n->last_term = 0;
    TRACE("n%" PRIu64 " start: term=%" PRIu64 " vote=%" PRIu64 " commit=%" PRIu64 " snap=%" PRIu64
          " log=%zu",
          n->id, d->hs.term, d->hs.vote, d->hs.commit, d->snap.index, d->n);
}

/* Number of separate writes a Ready needs: snapshot, each entry, hard state. */
static size_t ready_ops(const struct raft_ready *rd)
{
    return (rd->snapshot != NULL) + rd->entry_count + rd->hard_state_changed;
}

/* A change of commit alone may stay unsynced (raft.h allows it): sometimes it is not written. */
static void write_hs(struct disk *d, const struct raft_hard_state *hs)
{
    if (hs->term == d->hs.term && hs->vote == d->hs.vote && chance(0.3))
        return;
    d->hs = *hs;
}

/*
 * Performs the first @k writes of @rd, in the order the simulated WAL issues them: the
 * snapshot, then the entries and the hard state (or the hard state first, per run). A crash
 * before the fdatasync keeps such a prefix (a torn batch).
 */
static void write_prefix(struct node *n, const struct raft_ready *rd, size_t k)
{
    struct disk *d = &n->disk;
    if (k && rd->snapshot) {
        /* InstallSnapshot: the snapshot replaces the whole stored log (raft.h contract) */
        disk_truncate(d, 0);
        d->snap = rd->snapshot->meta;
        memcpy(&d->snap_hash, rd->snapshot->data, 8);
        table_check(d->snap.index, d->snap.term, d->snap_hash, n->id);
        k--;
    }
    bool hs_first = S->o.torn_hs_first;
    if (k && hs_first && rd->hard_state_changed) {
        write_hs(d, &rd->hard_state);
        k--;
    }
    if (k && rd->entry_count)
        disk_truncate(d, rd->entries[0].index);
    for (size_t i = 0; k && i < rd->entry_count; i++, k--)
        disk_append(d, &rd->entries[i], n->id);
    if (k && !hs_first && rd->hard_state_changed) {
        write_hs(d, &rd->hard_state);
        k--;
    }
}

static void node_crash(struct node *n, bool forever)
{
    if (n->syncing) {
        size_t total = ready_ops(&n->rd), k = 0;
        if (chance(0.5))
            k = rnd_below(total + 1); /* torn: a prefix reached the disk */
        write_prefix(n, &n->rd, k);
        TRACE("n%" PRIu64 " crash before fsync: %zu of %zu writes survive", n->id, k, total);
    } else {
        TRACE("n%" PRIu64 " crash%s", n->id, forever ? " (retired)" : "");
    }
    raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->syncing = false;
    for (size_t i = 0; i < n->inbox_n; i++)
        et_buf_free(&n->inbox[i]);
    n->inbox_n = 0;
    if (!forever)
        S->crashes++;
    n->restart_at = g_now + 50 + rnd_below(600);
}

/* ---------------------------------------------------------------------------------------------
 * Ready processing
 */

static void retire_later(raft_id id);

static void apply_entry(struct node *n, const struct raft_entry *e)
{
    if (e->index != n->applied + 1)
        fail("n%" PRIu64 " applies %" PRIu64 " after %" PRIu64, n->id, e->index, n->applied);
    n->sm_hash = chain(n->sm_hash, e);
    n->applied = e->index;
    applied_reserve(e->index);
    if (g_applied_hash[e->index] == 0) {
        g_applied_hash[e->index] = n->sm_hash;
        g_applied_term[e->index] = e->term;
        if (e->index > g_applied_max)
            g_applied_max = e->index;
        if (e->type == RAFT_ENTRY_NORMAL && e->len && ((const char *)e->data)[0] == 'h')
            S->heal_proposals_applied++; /* proposed after the heal (see client_propose()) */
        struct raft_conf_change cc;
        if (e->type == RAFT_ENTRY_CONF_CHANGE &&
            raft_conf_change_decode(e->data, e->len, &cc) == 0 && cc.type == RAFT_CC_REMOVE)
            retire_later(cc.id);
    } else if (g_applied_hash[e->index] != n->sm_hash) {
        fail("state machine safety: n%" PRIu64 " applied a different entry at %" PRIu64, n->id,
             e->index);
    }
    TRACE("n%" PRIu64 " apply %" PRIu64 " term=%" PRIu64 " type=%u", n->id, e->index, e->term,
          e->type);
}

static void check_read(struct node *n, const struct raft_read_state *rs)
{
    for (size_t i = 0; i < n->read_n; i++) {
        if (n->reads[i].ctx != rs->ctx)
            continue;
        if (rs->err == 0) {
            if (rs->index < n->reads[i].min_index)
                fail("linearizability: n%" PRIu64 " read %" PRIu64 " got index %" PRIu64
                     " but %" PRIu64 " was committed before it was issued",
                     n->id, rs->ctx, rs->index, n->reads[i].min_index);
            S->reads_ok++;
        }
        TRACE("n%" PRIu64 " read %" PRIu64 " -> index %" PRIu64 " err %d", n->id, rs->ctx,
              rs->index, rs->err);
        n->reads[i] = n->reads[--n->read_n];
        return;
    }
    /* an answer to a read forwarded before this member restarted: ignored, as a driver does */
    TRACE("n%" PRIu64 " read %" PRIu64 " unknown (issued before a restart)", n->id, rs->ctx);
}

static void maybe_compact(struct node *n)
{
    if (n->applied < n->disk.snap.index + n->compact_every || n->applied == 0)
        return;
    raft_index at = n->applied;
    if (raft_compact(n->r, at, &n->sm_hash, 8) != 0)
        fail("n%" PRIu64 ": raft_compact(%" PRIu64 ") refused", n->id, at);
    /* the caller stores the snapshot durably, then drops the log it covers */
    struct disk *d = &n->disk;
    d->snap = *raft_get_snapshot_meta(n->r);
    if (d->snap.index != at)
        fail("n%" PRIu64 ": snapshot meta index %" PRIu64 " after compacting at %" PRIu64, n->id,
             d->snap.index, at);
    d->snap_hash = n->sm_hash;
    disk_compact(d, at);
    TRACE("n%" PRIu64 " compact at %" PRIu64, n->id, at);
}

/* The simulated fdatasync completed: the batch is durable; finish the Ready. */
static void finish_sync(struct node *n)
{
    struct raft_ready *rd = &n->rd;
    write_prefix(n, rd, ready_ops(rd));
    for (size_t i = 0; i < rd->msg_count; i++)
        net_send(&rd->msgs[i]);
    if (rd->snapshot) {
        memcpy(&n->sm_hash, rd->snapshot->data, 8);
        n->applied = rd->snapshot->meta.index;
        raft_index at = n->applied;
        if (at < g_applied_cap && g_applied_hash[at] && g_applied_hash[at] != n->sm_hash)
            fail("state machine safety: n%" PRIu64 " installed a snapshot at %" PRIu64
                 " that differs from what was applied",
                 n->id, at);
        S->snapshots_sent++;
        TRACE("n%" PRIu64 " install snapshot %" PRIu64, n->id, at);
    }
    for (size_t i = 0; i < rd->committed_count; i++)
        apply_entry(n, &rd->committed[i]);
    for (size_t i = 0; i < rd->read_count; i++)
        check_read(n, &rd->reads[i]);
    raft_advance(n->r, rd);
    n->syncing = false;
}

/* Feeds queued input to an idle member and starts its next Ready. */
static void node_run(struct node *n)
{
    for (int round = 0; round < 8 && n->up && !n->syncing; round++) {
        for (size_t i = 0; i < n->inbox_n; i++) {
            struct raft_msg m;
            if (raft_msg_decode(n->inbox[i].data, n->inbox[i].len, &m) != 0)
                fail("n%" PRIu64 ": a message the core encoded does not decode", n->id);
            TRACE("n%" PRIu64 " <- n%" PRIu64 " %s term=%" PRIu64 " idx=%" PRIu64 " n=%u%s", n->id,
                  m.from, msg_name(m.type), m.term, m.index, m.entry_count,
                  m.reject ? " reject" : "");
            if (raft_step(n->r, &m) != 0)
                fail("n%" PRIu64 ": raft_step refused a valid message", n->id);
            raft_msg_decoded_free(&m);
            et_buf_free(&n->inbox[i]);
        }
        n->inbox_n = 0;
        for (; n->ticks_due; n->ticks_due--)
            raft_tick(n->r);
        for (size_t i = 0; i < n->snap_report_n; i++)
            raft_report_snapshot(n->r, n->snap_reports[i], n->snap_report_ok[i] != 0);
        n->snap_report_n = 0;
        if (!raft_has_ready(n->r)) {
            maybe_compact(n);
            return;
        }
        raft_ready(n->r, &n->rd);
        n->syncing = true;
        for (size_t i = 0; i < n->rd.msg_early_count; i++)
            net_send(&n->rd.msgs_early[i]);
        if (ready_ops(&n->rd) == 0 || chance(0.3)) {
            finish_sync(n); /* nothing to write, or a fast disk */
            maybe_compact(n);
            continue;
        }
        n->sync_at = g_now + (chance(0.05) ? 10 + rnd_below(30) : 1 + rnd_below(3));
        return;
    }
}

static void deliver_due(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < S->net_n; i++) {
        struct wire *w = &S->net[i];
        if (w->at > g_now) {
            S->net[kept++] = *w;
            continue;
        }
        struct node *n = &S->nodes[w->to];
        if (!n->up || !linked(w->from, w->to) || n->inbox_n == SIM_INBOX_MAX) {
            et_buf_free(&w->bytes);
            continue;
        }
        n->inbox[n->inbox_n++] = w->bytes;
    }
    S->net_n = kept;
}

/* ---------------------------------------------------------------------------------------------
 * Checks after every step
 */

static void check_new_leader(struct node *n, const struct raft_info *in)
{
    check_leader(in->term, n->id);
    if (n->last_role == RAFT_LEADER && n->last_term == in->term)
        return;
    S->elections++;
    TRACE("n%" PRIu64 " leads term %" PRIu64 " (last index %" PRIu64 ")", n->id, in->term,
          in->last_index);
    /* Leader completeness: everything applied anywhere is in the new leader's log. */
    for (raft_index i = in->snapshot_index + 1; i <= g_applied_max; i++) {
        if (raft_term_at(n->r, i) != g_applied_term[i])
            fail("leader completeness: n%" PRIu64 " leads term %" PRIu64
                 " without committed entry %" PRIu64 " (term %" PRIu64 ", has %" PRIu64 ")",
                 n->id, in->term, i, g_applied_term[i], raft_term_at(n->r, i));
    }
}

static void check_all(void)
{
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
        struct node *n = &S->nodes[id];
        if (!n->up)
            continue;
        struct raft_info in;
        raft_get_info(n->r, &in);
        if (in.commit > g_commit_max)
            g_commit_max = in.commit;
        if (in.role == RAFT_LEADER)
            check_new_leader(n, &in);
        n->last_role = in.role;
        n->last_term = in.term;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Faults and clients
 */

static raft_id pending_retire[SIM_NODES_MAX + 1];
static int pending_retire_n;

static void retire_later(raft_id id)
{
    pending_retire[pending_retire_n++] = id;
}

static void do_retire(void)
{
    while (pending_retire_n) {
        struct node *n = &S->nodes[pending_retire[--pending_retire_n]];
        if (n->retired)
            continue;
        TRACE("n%" PRIu64 " removed from the cluster: retired", n->id);
        if (n->up)
            node_crash(n, true);
        n->retired = true;
    }
}

static struct node *leader_node(void)
{
    struct node *best = NULL;
    raft_term term = 0;
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
        struct node *n = &S->nodes[id];
        if (!n->up || n->syncing)
            continue;
        struct raft_info in;
        raft_get_info(n->r, &in);
        if (in.role == RAFT_LEADER && in.term >= term) {
            best = n;
            term = in.term;
        }
    }
    return best;
}

static struct node *random_up_node(void)
{
    for (int tries = 0; tries < 16; tries++) {
        struct node *n = &S->nodes[1 + rnd_below(SIM_NODES_MAX)];
        if (n->up && !n->syncing)
            return n;
    }
    return NULL;
}

static void client_propose(void)
{
    struct node *n = leader_node();
    if (!n)
        return;
    char buf[48];
    /* 'h': proposed after the heal, the proposals liveness waits for */
    size_t len = (size_t)snprintf(buf, sizeof(buf), "%c%" PRIu64 ":",
                                  g_now >= S->heal_at ? 'h' : 'p', S->proposals);
    size_t pad = rnd_below(sizeof(buf) - len);
    memset(buf + len, 'x', pad);
    raft_index index;
    if (raft_propose(n->r, buf, len + pad, &index, NULL) == 0) {
        S->proposals++;
        TRACE("n%" PRIu64 " propose index %" PRIu64, n->id, index);
    }
}

static void client_read(void)
{
    struct node *n = random_up_node();
    if (!n || n->read_n == ET_ARRAY_SIZE(n->reads))
        return;
    uint64_t ctx = ++S->next_ctx;
    if (raft_read_index(n->r, ctx) == 0) {
        n->reads[n->read_n++] = (struct pending_read){ ctx, g_commit_max };
        TRACE("n%" PRIu64 " read %" PRIu64 " issued (committed so far: %" PRIu64 ")", n->id, ctx,
              g_commit_max);
    }
}

static void client_conf_change(void)
{
    struct node *l = leader_node();
    if (!l)
        return;
    const struct raft_conf *conf = raft_get_conf(l->r);
    uint32_t voters = 0;
    raft_id learner = 0;
    for (uint32_t i = 0; i < conf->count; i++) {
        voters += conf->members[i].voter;
        if (!conf->members[i].voter)
            learner = conf->members[i].id;
    }
    struct raft_conf_change cc = { 0, 0 };
    if (learner) {
        cc = (struct raft_conf_change){ RAFT_CC_ADD_VOTER, learner }; /* promote */
    } else if (voters > 3 && chance(0.5)) {
        cc = (struct raft_conf_change){ RAFT_CC_REMOVE, conf->members[rnd_below(conf->count)].id };
    } else if (conf->count < 5 && S->next_id <= SIM_NODES_MAX) {
        cc = (struct raft_conf_change){ chance(0.5) ? RAFT_CC_ADD_LEARNER : RAFT_CC_ADD_VOTER,
                                        S->next_id };
    } else if (voters > 3) {
        cc = (struct raft_conf_change){ RAFT_CC_REMOVE, conf->members[rnd_below(conf->count)].id };
    } else {
        return;
    }
    raft_index index;
    int err = raft_propose_conf_change(l->r, &cc, &index);
    TRACE("n%" PRIu64 " conf change type=%u id=%" PRIu64 ": %d", l->id, cc.type, cc.id, err);
    if (err == 0 && cc.type != RAFT_CC_REMOVE && cc.id == S->next_id) {
        struct node *n = &S->nodes[S->next_id++];
        n->exists = true; /* a new member starts empty, with the bootstrap configuration */
        node_start(n);
    }
}

static void client_transfer(void)
{
    struct node *l = leader_node();
    if (!l)
        return;
    const struct raft_conf *conf = raft_get_conf(l->r);
    raft_id target = conf->members[rnd_below(conf->count)].id;
    int err = raft_transfer_leader(l->r, target);
    TRACE("n%" PRIu64 " transfer leadership to n%" PRIu64 ": %d", l->id, target, err);
}

static void partition(void)
{
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++)
        S->group[id] = (int)rnd_below(2 + rnd_below(2));
    if (g_trace) {
        printf("t=%05" PRIu64 " partition:", g_now);
        for (raft_id id = 1; id <= SIM_NODES_MAX; id++)
            if (S->nodes[id].exists)
                printf(" n%" PRIu64 "@%d", id, S->group[id]);
        printf("\n");
    }
}

static void heal(void)
{
    memset(S->group, 0, sizeof(S->group));
    TRACE("network healed");
}

static void faults(void)
{
    if (chance(S->o.p_partition))
        partition();
    else if (chance(S->o.p_partition))
        heal();
    if (chance(S->o.p_crash)) {
        /* leaders crash more often than the rest: that is where the interesting cases are */
        struct node *n = &S->nodes[1 + rnd_below(SIM_NODES_MAX)];
        for (raft_id id = 1; id <= SIM_NODES_MAX && chance(0.5); id++) {
            struct raft_info in;
            if (S->nodes[id].up && (raft_get_info(S->nodes[id].r, &in), in.role == RAFT_LEADER))
                n = &S->nodes[id];
        }
        if (n && n->up)
            node_crash(n, false);
    }
    if (chance(S->o.p_conf))
        client_conf_change();
    if (chance(S->o.p_transfer))
        client_transfer();
}

/* ---------------------------------------------------------------------------------------------
 * One run
 */

static void choose_options(struct options *o)
{
    o->voters = chance(0.5) ? 3 : 5;
    o->drop = chance(0.3) ? 0 : (double)rnd_below(100) / 1000.0;
    o->dup = (double)rnd_below(50) / 1000.0;
    o->delay_max_ms = 1 + (uint32_t)rnd_below(20);
    o->p_crash = 0.0002 + (double)rnd_below(40) / 10000.0;
    o->p_partition = (double)rnd_below(30) / 10000.0;
    o->p_propose = 0.02 + (double)rnd_below(80) / 1000.0;
    o->p_read = (double)rnd_below(50) / 1000.0;
    o->p_conf = (double)rnd_below(30) / 10000.0;
    o->p_transfer = (double)rnd_below(10) / 10000.0;
    o->torn_hs_first = chance(0.5);
    o->cfg = (struct raft_config){
        .election_ticks = 10,
        .heartbeat_ticks = 1,
        .max_msg_entries = chance(0.3) ? 1 : 1 + (uint32_t)rnd_below(64),
        .max_msg_bytes = 16 + rnd_below(4096),
        .max_inflight = 1 + (uint32_t)rnd_below(8),
        .pre_vote = chance(0.8),
        .check_quorum = chance(0.8),
    };
    /* Without pre-vote and check-quorum a member that believes it belongs to the cluster while
     * the leader's configuration does not hold it (its add entry was overwritten) can disrupt
     * every election forever (thesis 4.2.3): no configuration changes in such runs. */
    if (!o->cfg.pre_vote && !o->cfg.check_quorum)
        o->p_conf = 0;
    o->cfg.bootstrap.count = (uint32_t)o->voters;
    for (int i = 0; i < o->voters; i++)
        o->cfg.bootstrap.members[i] = (struct raft_member){ (raft_id)i + 1, true };
}

static void run_reset(void)
{
    et_free(g_table);
    et_free(g_applied_hash);
    et_free(g_applied_term);
    et_free(g_leader_of);
    g_table = NULL;
    g_applied_hash = NULL;
    g_applied_term = NULL;
    g_leader_of = NULL;
    g_table_cap = g_table_used = g_applied_cap = g_leader_cap = 0;
    g_applied_max = g_commit_max = 0;
    pending_retire_n = 0;
    table_grow();
}

static void run_free(void)
{
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
        struct node *n = &S->nodes[id];
        if (n->up)
            node_crash(n, true);
        disk_free(&n->disk);
    }
    for (size_t i = 0; i < S->net_n; i++)
        et_buf_free(&S->net[i].bytes);
    et_free(S->net);
    et_free(S);
    S = NULL;
}

static void heal_everything(void)
{
    heal();
    S->o.drop = S->o.dup = 0;
    S->o.delay_max_ms = 1 + S->o.delay_max_ms % 5;
    S->heal_at = g_now;
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
        struct node *n = &S->nodes[id];
        if (n->exists && !n->up && !n->retired)
            node_start(n);
    }
}

/* Liveness: a leader, a proposal from after the heal committed, every member caught up. */
static bool live(char *why, size_t why_len)
{
    struct node *l = leader_node();
    if (!l) {
        snprintf(why, why_len, "no leader");
        return false;
    }
    struct raft_info in;
    raft_get_info(l->r, &in);
    if (S->heal_proposals_applied == 0) {
        snprintf(why, why_len,
                 "no proposal made after the heal committed (leader n%" PRIu64 " commit %" PRIu64
                 ")",
                 l->id, in.commit);
        return false;
    }
    if (in.commit < g_applied_max)
        fail("durability: leader n%" PRIu64 " commit %" PRIu64 " is below applied index %" PRIu64,
             l->id, in.commit, g_applied_max);
    const struct raft_conf *conf = raft_get_conf(l->r);
    for (uint32_t i = 0; i < conf->count; i++) {
        struct node *n = &S->nodes[conf->members[i].id];
        if (!n->retired && (!n->up || n->applied < in.commit)) {
            snprintf(why, why_len,
                     "member n%" PRIu64 " applied %" PRIu64 " of leader n%" PRIu64
                     "'s commit %" PRIu64,
                     n->id, n->applied, l->id, in.commit);
            return false;
        }
    }
    return true;
}

struct totals {
    uint64_t proposals, reads, crashes, snapshots, elections, conf_changes;
};

static void run(uint64_t seed, struct totals *t)
{
    g_seed = seed;
    g_rng = seed * 0x2545f4914f6cdd1dULL + 1;
    g_now = 0;
    run_reset();
    S = et_calloc(1, sizeof(*S));
    choose_options(&S->o);
    S->next_id = (raft_id)S->o.voters + 1;
    S->heal_at = UINT64_MAX;
    TRACE("seed %" PRIu64 ": %d voters, drop %.3f dup %.3f delay<=%ums pre_vote=%d "
          "check_quorum=%d inflight=%u batch=%u",
          seed, S->o.voters, S->o.drop, S->o.dup, S->o.delay_max_ms, S->o.cfg.pre_vote,
          S->o.cfg.check_quorum, S->o.cfg.max_inflight, S->o.cfg.max_msg_entries);
    for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
        struct node *n = &S->nodes[id];
        n->id = id;
        n->tick_phase = rnd_below(SIM_TICK_MS);
        n->compact_every = 5 + rnd_below(40);
        if ((int)id <= S->o.voters) {
            n->exists = true;
            node_start(n);
        }
    }
    char why[160] = "";
    for (g_now = 0; g_now < SIM_END_MS + SIM_GRACE_MS; g_now++) {
        if (g_now >= SIM_END_MS && live(why, sizeof(why)))
            break;
        if (g_now < SIM_CHAOS_MS)
            faults();
        else if (g_now == SIM_CHAOS_MS)
            heal_everything();
        for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
            struct node *n = &S->nodes[id];
            if (n->exists && !n->up && !n->retired && g_now >= n->restart_at)
                node_start(n);
        }
        if (g_now < SIM_END_MS - SIM_QUIET_MS && chance(S->o.p_propose))
            client_propose();
        if (chance(S->o.p_read))
            client_read();
        deliver_due();
        for (raft_id id = 1; id <= SIM_NODES_MAX; id++) {
            struct node *n = &S->nodes[id];
            if (!n->up)
                continue;
            if (n->syncing && g_now >= n->sync_at)
                finish_sync(n);
            if ((g_now + n->tick_phase) % SIM_TICK_MS == 0)
                n->ticks_due++;
            node_run(n);
        }
        do_retire();
        check_all();
    }
    if (g_now == SIM_END_MS + SIM_GRACE_MS)
        fail("liveness: %s %d ms after the network healed", why,
             SIM_END_MS + SIM_GRACE_MS - SIM_CHAOS_MS);
    t->proposals += g_applied_max;
    t->reads += S->reads_ok;
    t->crashes += S->crashes;
    t->snapshots += S->snapshots_sent;
    t->elections += S->elections;
    TRACE("seed %" PRIu64 " ok: %" PRIu64 " entries committed, %" PRIu64 " reads, %" PRIu64
          " crashes, %" PRIu64 " snapshots installed, %" PRIu64 " leaderships",
          seed, g_applied_max, S->reads_ok, S->crashes, S->snapshots_sent, S->elections);
    bool trace = g_trace;
    g_trace = false; /* tearing the run down is not part of its story */
    run_free();
    g_trace = trace;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

int main(int argc, char **argv)
{
    (void)argc;
    g_argv0 = argv[0];
    signal(SIGABRT, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);
    struct totals t = { 0 };
    const char *one = getenv("ET_SIM_SEED");
    if (one && *one) {
        g_trace = true;
        run(strtoull(one, NULL, 10), &t);
        printf("raft_sim: seed %s ok\n", one);
        return 0;
    }
    uint64_t count = env_u64("ET_SIM_SEEDS", 1000);
    uint64_t start = env_u64("ET_SIM_START", 1);
    for (uint64_t s = start; s < start + count; s++)
        run(s, &t);
    printf("raft_sim: %" PRIu64 " seeds ok (%" PRIu64 "..%" PRIu64 "): %" PRIu64
           " entries committed, %" PRIu64 " linearizable reads, %" PRIu64 " crashes, %" PRIu64
           " snapshots installed, %" PRIu64 " leaderships\n",
           count, start, start + count - 1, t.proposals, t.reads, t.crashes, t.snapshots,
           t.elections);
    return 0;
}
