/*
 * raft/election.c - roles, leader election with pre-vote, check-quorum and leader transfer.
 *
 * Rules implemented here (Raft thesis):
 *  - 3.4: "If a follower receives no communication over a period of time called the election
 *    timeout, then it assumes there is no viable leader and begins an election"; the timeout is
 *    randomized (raft__reset_timers()).
 *  - 3.6.1: "the voter denies its vote if its own log is more up-to-date than that of the
 *    candidate"; each server votes for at most one candidate per term (the vote is persisted
 *    before the answer leaves: it is hard state, see the Ready contract).
 *  - 9.6 pre-vote: "a candidate would first ask other servers whether its log was up-to-date
 *    enough to get their vote"; only when a majority says yes does it increment its term.
 *  - 6.2 check-quorum: "a leader steps down if an election timeout elapses without a successful
 *    round of heartbeats to a majority of its cluster".
 *  - 3.10 leader transfer: the target receives TimeoutNow and starts an election at once; its
 *    vote requests are marked force so that members inside their leader lease still answer.
 *  - 5.4.2 / 6.4: a new leader appends a no-op entry of its term so that it can commit.
 */
#include <errno.h>

#include "raft/raft_int.h"

bool raft__promotable(const struct raft *r)
{
    return raft__is_voter(&r->conf, r->id) && !r->snap_restore_pending;
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
    ET_ASSERT(term >= r->term);
    bool was_leader = r->role == RAFT_LEADER;
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
    }
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->transferee = 0;
    raft__reset_timers(r);
    if (was_leader || r->pending_read_count)
        raft__reads_fail_all(r);
}

void raft__become_leader(struct raft *r)
{
    ET_ASSERT(r->role == RAFT_CANDIDATE);
    ET_ASSERT(r->vote == r->id);
    r->role = RAFT_LEADER;
    r->leader = r->id;
    r->transferee = 0;
    raft__reset_timers(r);
    raft__progress_reset(r);
    /* A new leader must not accept a configuration change before it knows what is committed:
     * wait until everything in its log at election time is committed. */
    r->pending_conf_index = raft__last_index(r);
    /* Thesis 6.4: "each leader commit a blank no-op entry into the log at the start of its
     * term". It is also what lets entries of earlier terms commit (5.4.2). */
    raft__log_append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0);
    raft__broadcast_append(r, true);
}

static uint32_t tally(const struct raft *r, int8_t want)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->vote_count; i++)
        n += r->votes[i] == want && raft__is_voter(&r->conf, r->vote_ids[i]);
    return n;
}

static void record_vote(struct raft *r, raft_id id, bool granted)
{
    for (uint32_t i = 0; i < r->vote_count; i++) {
        if (r->vote_ids[i] == id) {
            if (r->votes[i] == 0)
                r->votes[i] = granted ? 1 : -1;
            return;
        }
    }
}

/* Called when a pre-vote or vote round may have concluded. */
static void check_votes(struct raft *r)
{
    uint32_t q = raft__quorum(r);
    if (tally(r, 1) >= q) {
        if (r->role == RAFT_PRE_CANDIDATE)
            raft__campaign(r, false);
        else
            raft__become_leader(r);
    } else if (tally(r, -1) >= q) {
        raft__become_follower(r, r->term, 0);
    }
}

/*
 * Starts a pre-vote round (pre_vote configured, not a transfer) or a real election: "To begin an
 * election, a follower increments its current term and transitions to candidate state. It then
 * votes for itself and issues RequestVote RPCs in parallel to each of the other servers."
 */
void raft__campaign(struct raft *r, bool transfer)
{
    ET_ASSERT(r->role != RAFT_LEADER);
    ET_ASSERT(raft__promotable(r));
    bool pre = r->pre_vote && !transfer && r->role != RAFT_PRE_CANDIDATE;
    raft_term term;
    if (pre) {
        r->role = RAFT_PRE_CANDIDATE;
        term = r->term + 1; /* proposed, not adopted */
    } else {
        r->role = RAFT_CANDIDATE;
        r->term++;
        r->vote = r->id;
        term = r->term;
    }
    r->leader = 0;
    raft__reset_timers(r);
    r->vote_count = r->conf.count;
    for (uint32_t i = 0; i < r->conf.count; i++) {
        r->vote_ids[i] = r->conf.members[i].id;
        r->votes[i] = r->vote_ids[i] == r->id ? 1 : 0;
    }
    for (uint32_t i = 0; i < r->conf.count; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        if (mb->id == r->id || !mb->voter)
            continue;
        raft__send(r, &(struct raft_msg){
                          .type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE,
                          .to = mb->id,
                          .term = term,
                          .index = raft__last_index(r),
                          .log_term = raft__last_term(r),
                          .force = transfer,
                      });
    }
    check_votes(r); /* a single voter wins at once */
}

void raft__tick_election(struct raft *r)
{
    ET_ASSERT(r->role != RAFT_LEADER);
    if (r->election_elapsed < UINT32_MAX)
        r->election_elapsed++;
    /* A member that may not campaign (a learner, or not in its configuration) keeps counting,
     * so that its leader lease expires and it can vote for someone else. */
    if (!raft__promotable(r) || r->election_elapsed < r->randomized_timeout)
        return;
    r->election_elapsed = 0;
    if (r->role == RAFT_PRE_CANDIDATE)
        r->role = RAFT_FOLLOWER; /* a failed pre-vote round starts over */
    raft__campaign(r, false);
}

static void check_quorum(struct raft *r)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->pr_count; i++) {
        struct raft_progress *pr = &r->prs[i];
        bool self = pr->id == r->id;
        if (pr->voter && (self || pr->recent_active))
            active++;
        if (!self)
            pr->recent_active = false;
    }
    if (active < raft__quorum(r))
        raft__become_follower(r, r->term, 0);
}

void raft__tick_leader(struct raft *r)
{
    ET_ASSERT(r->role == RAFT_LEADER);
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->election_ticks) {
        r->election_elapsed = 0;
        r->transferee = 0; /* thesis 3.10: abort a transfer that did not finish in time */
        if (r->check_quorum) {
            check_quorum(r);
            if (r->role != RAFT_LEADER)
                return;
        }
    }
    raft__tick_snapshots(r);
    if (r->heartbeat_elapsed >= r->heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        raft__broadcast_heartbeat(r);
    }
}

void raft__step_vote(struct raft *r, const struct raft_msg *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE;
    /* One vote per term; a pre-vote for a later term commits us to nothing. */
    bool can_vote =
        r->vote == m->from || (r->vote == 0 && r->leader == 0) || (pre && m->term > r->term);
    if (can_vote && raft__log_up_to_date(r, m->index, m->log_term)) {
        raft__send(r, &(struct raft_msg){
                          .type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP,
                          .to = m->from,
                          .term = m->term,
                      });
        if (!pre) {
            r->vote = m->from;
            r->election_elapsed = 0;
        }
    } else {
        raft__send(r, &(struct raft_msg){
                          .type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP,
                          .to = m->from,
                          .reject = true,
                      });
    }
}

void raft__step_vote_resp(struct raft *r, const struct raft_msg *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
    if ((pre && r->role != RAFT_PRE_CANDIDATE) || (!pre && r->role != RAFT_CANDIDATE))
        return;
    if (pre && !m->reject && m->term != r->term + 1)
        return; /* an answer to an older pre-vote round */
    record_vote(r, m->from, !m->reject);
    check_votes(r);
}

void raft__step_timeout_now(struct raft *r, const struct raft_msg *m)
{
    (void)m;
    if (r->role == RAFT_LEADER || !raft__promotable(r))
        return;
    raft__campaign(r, true);
}

int raft_transfer_leader(struct raft *r, raft_id target)
{
    ET_ASSERT(!r->in_ready);
    if (r->role != RAFT_LEADER)
        return -EPERM;
    if (target == r->id || !raft__is_voter(&r->conf, target))
        return -EINVAL;
    struct raft_progress *pr = raft__progress(r, target);
    ET_ASSERT(pr != NULL);
    r->transferee = target;
    r->election_elapsed = 0; /* the transfer must finish within one election timeout */
    if (pr->match == raft__last_index(r))
        raft__send(r, &(struct raft_msg){ .type = RAFT_MSG_TIMEOUT_NOW, .to = target });
    else
        raft__send_append(r, pr, false);
    return 0;
}
