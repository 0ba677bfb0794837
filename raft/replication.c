/*
 * raft/replication.c - log replication: the leader's progress per member, AppendEntries with
 * batching and pipelining, heartbeats, fast backtracking and the commit rule.
 *
 * Rules implemented here (Raft thesis):
 *  - 3.5 consistency check: "When sending an AppendEntries RPC, the leader includes the index
 *    and term of the entry in its log that immediately precedes the new entries. If the follower
 *    does not find an entry in its log with the same index and term, then it refuses the new
 *    entries." A follower deletes a conflicting entry and all that follow it, never a committed
 *    one.
 *  - 3.5 optimization: a rejection carries a hint (the follower's last index that could match,
 *    and its term), so the leader skips a whole term per round trip instead of one entry.
 *  - 3.5 / 10.2: the leader pipelines: in REPLICATE state it sends up to max_inflight messages
 *    without waiting, each with up to max_msg_entries entries / max_msg_bytes bytes; in PROBE it
 *    sends one at a time until the match point is known.
 *  - 3.6.2 / 5.4.2: "Raft never commits log entries from previous terms by counting replicas.
 *    Only log entries from the leader's current term are committed by counting replicas".
 *  - 10.2.1: the leader counts its own log only up to what is durable (r->stable).
 *
 * Progress states per member: PROBE --accepted--> REPLICATE --rejected/stuck--> PROBE;
 * PROBE/REPLICATE --needs compacted entries--> SNAPSHOT --acknowledged/timeout--> PROBE.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

struct raft_progress *raft__progress(struct raft *r, raft_id id)
{
    for (uint32_t i = 0; i < r->pr_count; i++)
        if (r->prs[i].id == id)
            return &r->prs[i];
    return NULL;
}

static void progress_init(struct raft *r, struct raft_progress *pr, const struct raft_member *mb)
{
    memset(pr, 0, sizeof(*pr));
    pr->id = mb->id;
    pr->voter = mb->voter;
    pr->next = raft__last_index(r) + 1;
    pr->state = RAFT_PR_PROBE;
    pr->recent_active = true; /* give every member a full timeout before check-quorum */
}

void raft__progress_reset(struct raft *r)
{
    r->pr_count = r->conf.count;
    for (uint32_t i = 0; i < r->conf.count; i++)
        progress_init(r, &r->prs[i], &r->conf.members[i]);
}

void raft__progress_become_probe(struct raft_progress *pr)
{
    pr->state = RAFT_PR_PROBE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->in_count = 0;
    pr->pending_snapshot = 0;
}

static void progress_become_replicate(struct raft_progress *pr)
{
    pr->state = RAFT_PR_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    pr->in_count = 0;
}

/* Keeps the progress array in step with a changed configuration (leader only). */
void raft__conf_changed(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft_progress old[RAFT_MEMBERS_MAX];
    uint32_t old_count = r->pr_count;
    memcpy(old, r->prs, old_count * sizeof(*old));
    r->pr_count = r->conf.count;
    for (uint32_t i = 0; i < r->conf.count; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        uint32_t j = 0;
        while (j < old_count && old[j].id != mb->id)
            j++;
        if (j < old_count) {
            r->prs[i] = old[j];
            r->prs[i].voter = mb->voter;
        } else {
            progress_init(r, &r->prs[i], mb);
        }
    }
    if (r->transferee && !raft__is_voter(&r->conf, r->transferee))
        r->transferee = 0;
}

static void inflight_add(struct raft *r, struct raft_progress *pr, raft_index last)
{
    ET_ASSERT(pr->in_count < r->max_inflight);
    pr->inflight[(pr->in_start + pr->in_count) % RAFT_INFLIGHT_MAX] = last;
    pr->in_count++;
}

static void inflight_free_upto(struct raft_progress *pr, raft_index index)
{
    while (pr->in_count && pr->inflight[pr->in_start] <= index) {
        pr->in_start = (pr->in_start + 1) % RAFT_INFLIGHT_MAX;
        pr->in_count--;
    }
}

/* Copies a batch of entries from @from for one AppendEntries; *@count gets the batch size. */
static struct raft_entry *batch(struct raft *r, raft_index from, uint32_t *count)
{
    raft_index last = raft__last_index(r);
    size_t bytes = 0;
    uint32_t n = 0;
    while (from + n <= last && n < r->max_msg_entries) {
        const struct raft_entry *e = raft__entry(r, from + n);
        if (n > 0 && bytes + e->len > r->max_msg_bytes)
            break;
        bytes += e->len;
        n++;
    }
    *count = n;
    if (n == 0)
        return NULL;
    struct raft_entry *v = et_alloc_array(n, sizeof(*v));
    memcpy(v, raft__entry(r, from), n * sizeof(*v));
    return v;
}

/* Sends one AppendEntries to @pr if its state allows; returns true when more could follow. */
static bool send_one_append(struct raft *r, struct raft_progress *pr, bool send_if_empty)
{
    if (pr->state == RAFT_PR_SNAPSHOT || (pr->state == RAFT_PR_PROBE && pr->probe_sent))
        return false;
    if (pr->state == RAFT_PR_REPLICATE && pr->in_count >= r->max_inflight)
        return false;
    raft_index prev = pr->next - 1;
    if (prev < r->snap.index) {
        raft__send_snapshot(r, pr); /* the entries it needs were compacted away */
        return false;
    }
    uint32_t count;
    struct raft_entry *ents = batch(r, pr->next, &count);
    bool probing = pr->state == RAFT_PR_PROBE && pr->match + 1 != pr->next;
    if (count == 0 && !send_if_empty && !probing)
        return false;
    raft__send(r, &(struct raft_msg){
                      .type = RAFT_MSG_APPEND,
                      .to = pr->id,
                      .index = prev,
                      .log_term = raft__term(r, prev),
                      .commit = r->commit,
                      .entry_count = count,
                      .entries = ents,
                  });
    if (pr->state == RAFT_PR_REPLICATE && count > 0) {
        pr->next = prev + count + 1; /* optimistic: pipelining */
        inflight_add(r, pr, prev + count);
        return pr->next <= raft__last_index(r);
    }
    if (pr->state == RAFT_PR_PROBE)
        pr->probe_sent = true;
    return false;
}

/* Sends what @pr may receive now: in REPLICATE, batches until the window is full. */
void raft__send_append(struct raft *r, struct raft_progress *pr, bool send_if_empty)
{
    ET_ASSERT(r->role == RAFT_LEADER);
    ET_ASSERT(pr->id != r->id);
    for (uint32_t i = 0; i <= r->max_inflight && send_one_append(r, pr, send_if_empty); i++)
        send_if_empty = false;
}

void raft__broadcast_append(struct raft *r, bool send_if_empty)
{
    for (uint32_t i = 0; i < r->pr_count; i++)
        if (r->prs[i].id != r->id)
            raft__send_append(r, &r->prs[i], send_if_empty);
}

void raft__broadcast_heartbeat(struct raft *r)
{
    uint64_t ctx = raft__read_round(r);
    for (uint32_t i = 0; i < r->pr_count; i++) {
        struct raft_progress *pr = &r->prs[i];
        if (pr->id == r->id)
            continue;
        /* Never tell a member to commit beyond what it is known to hold: its log past its
         * match point may still diverge from ours. */
        raft_index commit = pr->match < r->commit ? pr->match : r->commit;
        raft__send(
            r, &(struct raft_msg){
                   .type = RAFT_MSG_HEARTBEAT, .to = pr->id, .commit = commit, .context = ctx });
    }
}

static int cmp_desc(const void *a, const void *b)
{
    raft_index x = *(const raft_index *)a, y = *(const raft_index *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Advances the commit index to the highest index a majority of voters hold, if of our term. */
bool raft__maybe_commit(struct raft *r)
{
    ET_ASSERT(r->role == RAFT_LEADER);
    raft_index match[RAFT_MEMBERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->pr_count; i++) {
        const struct raft_progress *pr = &r->prs[i];
        if (pr->voter)
            match[n++] = pr->id == r->id ? r->stable : pr->match;
    }
    ET_ASSERT(n > 0);
    qsort(match, n, sizeof(match[0]), cmp_desc);
    raft_index q = match[raft__quorum(r) - 1];
    if (q <= r->commit || raft__term(r, q) != r->term)
        return false;
    r->commit = q;
    raft__reads_on_commit(r);
    return true;
}

/* Follower side of AppendEntries (thesis figure 3.1, receiver implementation 1-5). */
void raft__step_append(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER)
        return; /* two leaders in one term cannot exist; never trust such a message */
    if (r->role != RAFT_FOLLOWER || r->leader != m->from)
        raft__become_follower(r, m->term, m->from);
    r->election_elapsed = 0;
    struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP, .to = m->from };
    if (m->index < r->commit) {
        resp.index = r->commit; /* old or duplicated: what we have committed already matches */
        raft__send(r, &resp);
        return;
    }
    if (m->index > raft__last_index(r) || raft__term(r, m->index) != m->log_term) {
        raft_index hint = m->index < raft__last_index(r) ? m->index : raft__last_index(r);
        hint = raft__find_conflict_by_term(r, hint, m->log_term);
        resp.reject = true;
        resp.index = m->index;
        resp.reject_hint = hint;
        resp.hint_term = raft__term(r, hint);
        raft__send(r, &resp);
        return;
    }
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index <= raft__last_index(r)) {
            if (raft__term(r, e->index) == e->term)
                continue; /* already held (Log Matching) */
            if (e->index <= r->commit)
                return; /* would overwrite a committed entry: no correct leader sends this */
            raft__log_truncate(r, e->index);
        }
        raft__log_append(r, e->term, e->type, e->data, e->len);
    }
    raft_index last_new = m->index + m->entry_count;
    /* "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
     * entry)" */
    raft_index commit = m->commit < last_new ? m->commit : last_new;
    if (commit > r->commit)
        r->commit = commit;
    resp.index = last_new;
    raft__send(r, &resp);
}

/* Where to probe next after a rejection of the AppendEntries whose previous index was
 * m->index, using the follower's hint (it holds nothing matching above reject_hint). */
static raft_index probe_from_hint(struct raft *r, const struct raft_msg *m)
{
    raft_index probe = m->reject_hint;
    if (m->hint_term > 0 && probe > r->snap.index)
        probe = raft__find_conflict_by_term(r, probe, m->hint_term);
    raft_index next = m->index < probe + 1 ? m->index : probe + 1;
    return next;
}

static void step_append_reject(struct raft *r, struct raft_progress *pr, const struct raft_msg *m)
{
    if (pr->state == RAFT_PR_REPLICATE) {
        if (m->index <= pr->match)
            return; /* stale */
    } else if (pr->next - 1 != m->index) {
        return; /* stale: not an answer to our current probe */
    }
    raft_index next = probe_from_hint(r, m);
    raft__progress_become_probe(pr);
    if (next > pr->match + 1)
        pr->next = next;
    ET_ASSERT(pr->next >= 1);
    raft__send_append(r, pr, false);
}

/* Leader side of an AppendEntries answer. */
void raft__step_append_resp(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft_progress *pr = raft__progress(r, m->from);
    if (pr == NULL)
        return;
    pr->recent_active = true;
    if (m->reject) {
        step_append_reject(r, pr, m);
        return;
    }
    if (m->index > raft__last_index(r))
        return; /* acknowledges entries we never had: not from a correct member of our term */
    bool updated = false;
    if (m->index > pr->match) {
        pr->match = m->index;
        updated = true;
    }
    if (pr->next <= pr->match)
        pr->next = pr->match + 1;
    inflight_free_upto(pr, m->index);
    if (pr->state == RAFT_PR_PROBE && updated)
        progress_become_replicate(pr);
    else if (pr->state == RAFT_PR_SNAPSHOT && pr->match >= pr->pending_snapshot)
        progress_become_replicate(pr); /* the member holds the snapshot: match is exact */
    pr->probe_sent = false;
    if (updated && raft__maybe_commit(r))
        raft__broadcast_append(r, true);
    else
        raft__send_append(r, pr, false);
    if (r->transferee == m->from && pr->match == raft__last_index(r))
        raft__send(r, &(struct raft_msg){ .type = RAFT_MSG_TIMEOUT_NOW, .to = m->from });
}

void raft__step_heartbeat(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER)
        return;
    if (r->role != RAFT_FOLLOWER || r->leader != m->from)
        raft__become_follower(r, m->term, m->from);
    r->election_elapsed = 0;
    raft_index commit = m->commit < raft__last_index(r) ? m->commit : raft__last_index(r);
    if (commit > r->commit)
        r->commit = commit;
    raft__send(r, &(struct raft_msg){
                      .type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .context = m->context });
}

void raft__step_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft_progress *pr = raft__progress(r, m->from);
    if (pr == NULL)
        return;
    pr->recent_active = true;
    pr->probe_sent = false;
    /* Messages in the window may have been lost: if the member made no progress over a whole
     * heartbeat interval while entries were outstanding, probe again from its match. */
    if (pr->state == RAFT_PR_REPLICATE && pr->in_count > 0 && pr->match == pr->hb_match)
        raft__progress_become_probe(pr);
    pr->hb_match = pr->match;
    if (m->context > pr->read_ack) {
        pr->read_ack = m->context;
        raft__reads_on_ack(r);
    }
    if (pr->match < raft__last_index(r))
        raft__send_append(r, pr, false);
}
