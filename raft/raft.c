/*
 * raft/raft.c - life cycle of the pure Raft core, the term rules every message passes through,
 * and the Ready / Advance hand-off (see the contract in raft/raft.h).
 *
 * Term rules (thesis figure 3.1, "Rules for Servers"): "If RPC request or response contains term
 * T > currentTerm: set currentTerm = T, convert to follower." Two refinements from chapter 9 and
 * 6: a server that heard from a leader within the election timeout ignores (pre-)votes (leader
 * lease, so a partitioned member cannot depose a healthy leader), and a pre-vote never changes
 * anyone's term.
 *
 * Ownership: messages produced by the core are queued in r->msgs / r->msgs_early; their entry
 * arrays are allocated per message and freed, with r->garbage, in raft_advance().
 */
#include "raft/raft.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

/* ---------------------------------------------------------------------------------------------
 * Helpers shared by the core's files
 */

static bool msg_may_go_early(const struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER)
        return false;
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
           m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW;
}

/* Queues @m (copied; its entries array, if any, now belongs to the queue). */
void raft__send(struct raft *r, struct raft_msg *m)
{
    ET_ASSERT(m->to != 0);
    ET_ASSERT(m->to != r->id);
    m->from = r->id;
    if (m->term == 0 && m->type != RAFT_MSG_READ_INDEX && m->type != RAFT_MSG_READ_INDEX_RESP)
        m->term = r->term;
    struct raft_msgs *q = msg_may_go_early(r, m) ? &r->msgs_early : &r->msgs;
    if (q->count == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->v = et_realloc(q->v, q->cap * sizeof(*q->v));
    }
    q->v[q->count++] = *m;
}

void raft__defer_free(struct raft *r, void *p)
{
    if (p == NULL)
        return;
    if (r->garbage_count == r->garbage_cap) {
        r->garbage_cap = r->garbage_cap ? r->garbage_cap * 2 : 64;
        r->garbage = et_realloc(r->garbage, r->garbage_cap * sizeof(*r->garbage));
    }
    r->garbage[r->garbage_count++] = p;
}

int raft__member_pos(const struct raft_conf *c, raft_id id)
{
    for (uint32_t i = 0; i < c->count; i++)
        if (c->members[i].id == id)
            return (int)i;
    return -1;
}

bool raft__is_voter(const struct raft_conf *c, raft_id id)
{
    int pos = raft__member_pos(c, id);
    return pos >= 0 && c->members[pos].voter;
}

/* The number of voters of the current configuration that make a majority. */
uint32_t raft__quorum(const struct raft *r)
{
    uint32_t voters = 0;
    for (uint32_t i = 0; i < r->conf.count; i++)
        voters += r->conf.members[i].voter;
    return voters / 2 + 1;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void raft__reset_timers(struct raft *r)
{
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    /* Thesis 3.4: "election timeouts are chosen randomly from a fixed interval". */
    r->randomized_timeout = r->election_ticks + (uint32_t)(splitmix64(&r->rng) % r->election_ticks);
}

/* ---------------------------------------------------------------------------------------------
 * Life cycle
 */

static bool conf_valid(const struct raft_conf *c)
{
    if (c->count > RAFT_MEMBERS_MAX)
        return false;
    for (uint32_t i = 0; i < c->count; i++) {
        if (c->members[i].id == 0)
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (c->members[j].id == c->members[i].id)
                return false;
    }
    return true;
}

static int restore_valid(const struct raft_restore *rs)
{
    const struct raft_snapshot_meta *sm = &rs->snapshot.meta;
    if (!conf_valid(&sm->conf) || (sm->index == 0) != (sm->term == 0))
        return -EINVAL;
    raft_term last_term = sm->term;
    for (size_t i = 0; i < rs->entry_count; i++) {
        const struct raft_entry *e = &rs->entries[i];
        struct raft_conf_change cc;
        if (e->index != sm->index + 1 + i || e->term < last_term || e->term == 0)
            return -EINVAL;
        if (e->type > RAFT_ENTRY_NOOP)
            return -EINVAL;
        if (e->type == RAFT_ENTRY_CONF_CHANGE && raft_conf_change_decode(e->data, e->len, &cc))
            return -EINVAL;
        last_term = e->term;
    }
    raft_index last = sm->index + rs->entry_count;
    if (rs->applied > last || rs->applied < sm->index)
        return -EINVAL;
    return 0;
}

int raft_new(const struct raft_config *cfg, struct raft **out)
{
    if (cfg->id == 0 || cfg->heartbeat_ticks == 0 || cfg->election_ticks <= cfg->heartbeat_ticks)
        return -EINVAL;
    if (cfg->max_msg_entries == 0 || cfg->max_msg_bytes == 0 || cfg->max_inflight == 0 ||
        cfg->max_inflight > RAFT_INFLIGHT_MAX || !conf_valid(&cfg->bootstrap))
        return -EINVAL;
    if (cfg->restore && restore_valid(cfg->restore))
        return -EINVAL;
    struct raft *r = et_calloc(1, sizeof(*r));
    r->id = cfg->id;
    r->election_ticks = cfg->election_ticks;
    r->heartbeat_ticks = cfg->heartbeat_ticks;
    r->max_msg_entries = cfg->max_msg_entries;
    r->max_msg_bytes = cfg->max_msg_bytes;
    r->max_inflight = cfg->max_inflight;
    r->pre_vote = cfg->pre_vote;
    r->check_quorum = cfg->check_quorum;
    r->rng = cfg->seed ^ (cfg->id * 0x9e3779b97f4a7c15ULL);
    r->pending_reads = et_alloc_array(RAFT_PENDING_READS_MAX, sizeof(*r->pending_reads));
    r->snap.conf = cfg->bootstrap;
    r->conf = cfg->bootstrap;
    const struct raft_restore *rs = cfg->restore;
    if (rs) {
        if (rs->snapshot.meta.index > 0) {
            r->snap = rs->snapshot.meta;
            r->conf = r->snap.conf;
            r->conf_index = r->snap.index;
            r->snap_data = rs->snapshot.len ? et_memdup(rs->snapshot.data, rs->snapshot.len) : NULL;
            r->snap_len = rs->snapshot.len;
        }
        for (size_t i = 0; i < rs->entry_count; i++)
            raft__log_append(r, rs->entries[i].term, rs->entries[i].type, rs->entries[i].data,
                             rs->entries[i].len);
        r->term = rs->hard_state.term;
        r->vote = rs->hard_state.vote;
        r->commit = rs->hard_state.commit;
        /* A crash in the middle of a Ready may leave any prefix of its writes (see the contract):
         * entries without the hard state that came with them, or the reverse. Repair both. */
        if (r->term < raft__last_term(r)) {
            /* We accepted entries of a later term, so we were in it; a vote in that term would
             * have been durable before it was sent, so there was none. */
            r->term = raft__last_term(r);
            r->vote = 0;
        }
        if (r->commit > raft__last_index(r))
            r->commit = raft__last_index(r); /* commit is knowledge; it can be learnt again */
        if (r->commit < r->snap.index)
            r->commit = r->snap.index; /* a snapshot only ever holds committed entries */
        if (r->commit < r->applied)
            r->commit = r->applied; /* what the state machine applied was committed */
        r->applied = rs->applied;
        r->persisted_hs = rs->hard_state;
    }
    r->stable = raft__last_index(r);
    r->role = RAFT_FOLLOWER;
    raft__reset_timers(r);
    *out = r;
    return 0;
}

static void msgs_release(struct raft_msgs *q)
{
    for (size_t i = 0; i < q->count; i++)
        et_free((void *)q->v[i].entries);
    q->count = 0;
}

static void garbage_release(struct raft *r)
{
    for (size_t i = 0; i < r->garbage_count; i++)
        et_free(r->garbage[i]);
    r->garbage_count = 0;
}

void raft_free(struct raft *r)
{
    if (r == NULL)
        return;
    msgs_release(&r->msgs);
    msgs_release(&r->msgs_early);
    et_free(r->msgs.v);
    et_free(r->msgs_early.v);
    garbage_release(r);
    et_free(r->garbage);
    for (size_t i = 0; i < r->ent_count; i++)
        et_free((void *)r->ents[i].data);
    et_free(r->ents);
    et_free(r->snap_data);
    et_free(r->pending_reads);
    et_free(r->read_out);
    et_free(r);
}

/* ---------------------------------------------------------------------------------------------
 * Inputs
 */

void raft_tick(struct raft *r)
{
    ET_ASSERT(!r->in_ready);
    if (r->role == RAFT_LEADER)
        raft__tick_leader(r);
    else
        raft__tick_election(r);
    raft__maybe_step_down_removed(r);
}

static bool entries_valid(const struct raft_msg *m)
{
    raft_term prev_term = m->log_term;
    if (m->entry_count && m->entries == NULL)
        return false;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct raft_entry *e = &m->entries[i];
        struct raft_conf_change cc;
        if (e->index != m->index + 1 + i || e->term < prev_term || e->term > m->term)
            return false;
        if (e->type > RAFT_ENTRY_NOOP || (e->len && e->data == NULL))
            return false;
        if (e->type == RAFT_ENTRY_CONF_CHANGE && raft_conf_change_decode(e->data, e->len, &cc))
            return false;
        prev_term = e->term;
    }
    return true;
}

static int msg_valid(const struct raft *r, const struct raft_msg *m)
{
    if (m->to != r->id || m->from == 0 || m->from == r->id)
        return -EINVAL;
    if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX)
        return -EINVAL;
    if (m->type == RAFT_MSG_APPEND && !entries_valid(m))
        return -EINVAL;
    if (m->type != RAFT_MSG_APPEND && m->entry_count)
        return -EINVAL;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        const struct raft_snapshot *s = &m->snapshot;
        if (s->meta.index == 0 || s->meta.term == 0 || s->meta.term > m->term ||
            !conf_valid(&s->meta.conf) || (s->len && s->data == NULL))
            return -EINVAL;
    }
    return 0;
}

/* Messages from a higher term (thesis figure 3.1), with the lease and pre-vote refinements. */
static bool step_higher_term(struct raft *r, const struct raft_msg *m)
{
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
        /* Thesis 4.2.3 / 9.6: within the minimum election timeout of hearing from a leader, a
         * server does not update its term or grant its vote (unless a transfer asked for it). */
        bool in_lease =
            r->check_quorum && r->leader != 0 && r->election_elapsed < r->election_ticks;
        if (in_lease && !m->force)
            return false;
    }
    if (m->type == RAFT_MSG_PREVOTE)
        return true; /* a pre-vote never changes our term */
    if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)
        return true; /* the granted pre-vote carries the term we would campaign in */
    bool from_leader =
        m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAPSHOT;
    raft__become_follower(r, m->term, from_leader ? m->from : 0);
    return true;
}

static void step_lower_term(struct raft *r, const struct raft_msg *m)
{
    if ((r->check_quorum || r->pre_vote) &&
        (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT)) {
        /* Tell a stale leader about our term so it steps down; without this a member whose
         * pre-votes keep failing could never learn that its leader has moved on. */
        raft__send(r, &(struct raft_msg){ .type = RAFT_MSG_APPEND_RESP, .to = m->from });
    } else if (m->type == RAFT_MSG_PREVOTE) {
        raft__send(
            r, &(struct raft_msg){ .type = RAFT_MSG_PREVOTE_RESP, .to = m->from, .reject = true });
    }
    /* Anything else from an older term is stale: ignore it (figure 3.1). */
}

static void step_role(struct raft *r, const struct raft_msg *m)
{
    switch ((enum raft_msg_type)m->type) {
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PREVOTE:
        raft__step_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_PREVOTE_RESP:
        raft__step_vote_resp(r, m);
        break;
    case RAFT_MSG_APPEND:
        raft__step_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        raft__step_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        raft__step_snapshot(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        raft__step_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft__step_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft__step_timeout_now(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        raft__step_read_index(r, m);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        raft__step_read_index_resp(r, m);
        break;
    default:
        ET_UNREACHABLE();
    }
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    ET_ASSERT(!r->in_ready);
    int err = msg_valid(r, m);
    if (err)
        return err;
    /* ReadIndex requests and answers carry no term: they are valid across terms because the
     * leader confirms its leadership for each of them with a heartbeat round. */
    if (m->type != RAFT_MSG_READ_INDEX && m->type != RAFT_MSG_READ_INDEX_RESP) {
        if (m->term > r->term) {
            if (!step_higher_term(r, m))
                return 0;
        } else if (m->term < r->term) {
            step_lower_term(r, m);
            return 0;
        }
    }
    step_role(r, m);
    raft__maybe_step_down_removed(r);
    return 0;
}

int raft_propose(struct raft *r, const void *data, size_t len, raft_index *index, raft_term *term)
{
    ET_ASSERT(!r->in_ready);
    ET_ASSERT(len == 0 || data != NULL);
    if (r->role != RAFT_LEADER)
        return -EPERM;
    if (r->transferee != 0)
        return -EBUSY;
    if (len > UINT32_MAX)
        return -EINVAL;
    raft__log_append(r, r->term, RAFT_ENTRY_NORMAL, data, len);
    if (index)
        *index = raft__last_index(r);
    if (term)
        *term = r->term;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Ready / Advance
 */

/*
 * The hard state to persist now. Its commit never names an entry that is not durable yet
 * (min(commit, stable)): otherwise a crash that kept the hard state but not the entries of the
 * same batch would leave a commit index pointing at a stale, overwritten entry of the old log.
 * With this the writes of one Ready may reach the disk in any order.
 */
static struct raft_hard_state hs_now(const struct raft *r)
{
    raft_index commit = r->commit < r->stable ? r->commit : r->stable;
    return (struct raft_hard_state){ r->term, r->vote, commit };
}

static bool hs_changed(const struct raft *r)
{
    struct raft_hard_state hs = hs_now(r);
    return hs.term != r->persisted_hs.term || hs.vote != r->persisted_hs.vote ||
           hs.commit != r->persisted_hs.commit;
}

static raft_index committed_upto(const struct raft *r)
{
    /* Entries are persisted in step (1) of the same Ready, before they are applied in (3). */
    return r->commit;
}

/* Leader: anything appended since the last Ready goes out now, batched per follower. */
static bool leader_has_unsent(const struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return false;
    for (uint32_t i = 0; i < r->pr_count; i++) {
        const struct raft_progress *pr = &r->prs[i];
        if (pr->id == r->id || pr->next > raft__last_index(r))
            continue;
        if ((pr->state == RAFT_PR_REPLICATE && pr->in_count < r->max_inflight) ||
            (pr->state == RAFT_PR_PROBE && !pr->probe_sent))
            return true;
    }
    return false;
}

bool raft_has_ready(const struct raft *r)
{
    ET_ASSERT(!r->in_ready);
    return hs_changed(r) || r->snap_restore_pending || r->stable < raft__last_index(r) ||
           r->msgs.count || r->msgs_early.count || committed_upto(r) > r->applied ||
           r->read_out_count || leader_has_unsent(r) || r->read_round_pending;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
    ET_ASSERT(!r->in_ready);
    if (leader_has_unsent(r))
        raft__broadcast_append(r, false);
    if (r->read_round_pending)
        raft__broadcast_heartbeat(r);
    memset(rd, 0, sizeof(*rd));
    rd->hard_state_changed = hs_changed(r);
    rd->hard_state = hs_now(r);
    if (r->snap_restore_pending) {
        r->ready_snap = (struct raft_snapshot){ r->snap, r->snap_data, r->snap_len };
        rd->snapshot = &r->ready_snap;
    }
    raft_index last = raft__last_index(r);
    ET_ASSERT(r->stable <= last);
    if (r->stable < last) {
        rd->entries = raft__entry(r, r->stable + 1);
        rd->entry_count = last - r->stable;
    }
    raft_index upto = committed_upto(r);
    if (upto > r->applied) {
        rd->committed = raft__entry(r, r->applied + 1);
        rd->committed_count = upto - r->applied;
        ET_ASSERT(rd->committed != NULL);
    }
    rd->msgs_early = r->msgs_early.v;
    rd->msg_early_count = r->msgs_early.count;
    rd->msgs = r->msgs.v;
    rd->msg_count = r->msgs.count;
    rd->reads = r->read_out;
    rd->read_count = r->read_out_count;
    rd->role = r->role;
    rd->leader = r->leader;
    r->in_ready = true;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    ET_ASSERT(r->in_ready);
    r->in_ready = false;
    if (rd->hard_state_changed)
        r->persisted_hs = rd->hard_state;
    if (rd->entry_count)
        r->stable = rd->entries[rd->entry_count - 1].index;
    if (rd->committed_count) {
        raft_index upto = rd->committed[rd->committed_count - 1].index;
        ET_ASSERT(upto > r->applied);
        ET_ASSERT(upto <= r->commit);
        r->applied = upto;
    }
    r->snap_restore_pending = false;
    msgs_release(&r->msgs);
    msgs_release(&r->msgs_early);
    garbage_release(r);
    r->read_out_count = 0;
    /* The leader's own log counts towards a majority only once it is durable (thesis 10.2.1). */
    if (r->role == RAFT_LEADER && raft__maybe_commit(r))
        raft__broadcast_append(r, true);
    raft__maybe_step_down_removed(r);
}

/* ---------------------------------------------------------------------------------------------
 * Queries
 */

void raft_get_info(const struct raft *r, struct raft_info *out)
{
    *out = (struct raft_info){
        .id = r->id,
        .role = r->role,
        .leader = r->leader,
        .term = r->term,
        .vote = r->vote,
        .commit = r->commit,
        .applied = r->applied,
        .first_index = r->snap.index + 1,
        .last_index = raft__last_index(r),
        .snapshot_index = r->snap.index,
        .transferee = r->transferee,
    };
}

const struct raft_conf *raft_get_conf(const struct raft *r)
{
    return &r->conf;
}

int raft_conf_at(const struct raft *r, raft_index index, struct raft_conf *out)
{
    if (index < r->snap.index || index > raft__last_index(r))
        return -EINVAL;
    raft__conf_at(r, index, out);
    return 0;
}

const struct raft_snapshot_meta *raft_get_snapshot_meta(const struct raft *r)
{
    return &r->snap;
}

raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}

raft_term raft_term_at(const struct raft *r, raft_index index)
{
    return raft__term(r, index);
}
