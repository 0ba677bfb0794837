/*
 * raft/readindex.c - linearizable reads without a log write (Raft thesis 6.4, "ReadIndex").
 *
 * The thesis' steps: "1. If the leader has not yet marked an entry from its current term
 * committed, it waits until it has. 2. The leader saves its current commit index in a local
 * variable readIndex. 3. The leader needs to make sure it hasn't been superseded ... it sends a
 * new round of heartbeats and waits for their acknowledgments from a majority of the cluster.
 * 4. The leader waits for its state machine to advance at least as far as the readIndex".
 * Step 4 is the caller's: rd.reads[] gives the index. A follower forwards the request to the
 * leader (6.4.1) and serves the read locally once it has applied that far.
 *
 * Heartbeat rounds are numbered (r->read_seq, sent as the heartbeat context and echoed back); a
 * read registered while round s is the next to go out is confirmed when a majority of voters
 * has echoed s or later. All reads issued between two Readies share one round.
 */
#include <errno.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

void raft__read_out(struct raft *r, uint64_t ctx, raft_index index, int err)
{
    if (r->read_out_count == r->read_out_cap) {
        r->read_out_cap = r->read_out_cap ? r->read_out_cap * 2 : 16;
        r->read_out = et_realloc(r->read_out, r->read_out_cap * sizeof(*r->read_out));
    }
    r->read_out[r->read_out_count++] = (struct raft_read_state){ ctx, index, err };
}

static void read_done(struct raft *r, const struct raft_pending_read *p, int err)
{
    if (p->from == 0)
        raft__read_out(r, p->ctx, err ? 0 : p->index, err);
    else
        raft__send(r, &(struct raft_msg){ .type = RAFT_MSG_READ_INDEX_RESP,
                                          .to = p->from,
                                          .context = p->ctx,
                                          .index = err ? 0 : p->index,
                                          .reject = err != 0 });
}

/* The number of the heartbeat round about to be sent (starting a new one if reads wait). */
uint64_t raft__read_round(struct raft *r)
{
    if (r->read_round_pending) {
        r->read_seq++;
        r->read_round_pending = false;
    }
    return r->read_seq;
}

static bool single_voter(const struct raft *r)
{
    return raft__quorum(r) == 1 && raft__is_voter(&r->conf, r->id);
}

/* Step 2 and 3 for one read, once the leader has committed in its term. */
static void read_start(struct raft *r, struct raft_pending_read *p)
{
    p->index = r->commit;
    if (single_voter(r)) {
        read_done(r, p, 0);
        p->seq = UINT64_MAX; /* done; swept by the caller */
        return;
    }
    p->seq = r->read_seq + 1;
    r->read_round_pending = true;
}

static void sweep_done(struct raft *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->pending_read_count; i++)
        if (r->pending_reads[i].seq != UINT64_MAX)
            r->pending_reads[n++] = r->pending_reads[i];
    r->pending_read_count = n;
}

static int leader_read(struct raft *r, uint64_t ctx, raft_id from)
{
    if (r->pending_read_count == RAFT_PENDING_READS_MAX)
        return -EAGAIN;
    struct raft_pending_read *p = &r->pending_reads[r->pending_read_count++];
    *p = (struct raft_pending_read){ .ctx = ctx, .from = from };
    if (raft__term(r, r->commit) == r->term) /* step 1 */
        read_start(r, p);
    sweep_done(r);
    return 0;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
    ET_ASSERT(!r->in_ready);
    if (r->role == RAFT_LEADER)
        return leader_read(r, ctx, 0);
    if (r->leader == 0)
        return -EAGAIN;
    raft__send(r,
               &(struct raft_msg){ .type = RAFT_MSG_READ_INDEX, .to = r->leader, .context = ctx });
    return 0;
}

void raft__step_read_index(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER || leader_read(r, m->context, m->from) != 0)
        raft__send(r, &(struct raft_msg){ .type = RAFT_MSG_READ_INDEX_RESP,
                                          .to = m->from,
                                          .context = m->context,
                                          .reject = true });
}

void raft__step_read_index_resp(struct raft *r, const struct raft_msg *m)
{
    raft__read_out(r, m->context, m->reject ? 0 : m->index, m->reject ? -EAGAIN : 0);
}

/* A heartbeat answer arrived: release the reads whose round a majority has acknowledged. */
void raft__reads_on_ack(struct raft *r)
{
    ET_ASSERT(r->role == RAFT_LEADER);
    if (r->pending_read_count == 0)
        return;
    uint64_t acks[RAFT_MEMBERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->pr_count; i++)
        if (r->prs[i].voter)
            acks[n++] = r->prs[i].id == r->id ? UINT64_MAX : r->prs[i].read_ack;
    /* the quorum-th largest acknowledgement: simple selection, n <= RAFT_MEMBERS_MAX */
    uint32_t q = raft__quorum(r);
    uint64_t confirmed = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at_least = 0;
        for (uint32_t j = 0; j < n; j++)
            at_least += acks[j] >= acks[i];
        if (at_least >= q && acks[i] > confirmed)
            confirmed = acks[i];
    }
    for (size_t i = 0; i < r->pending_read_count; i++) {
        struct raft_pending_read *p = &r->pending_reads[i];
        if (p->seq != 0 && p->seq <= confirmed) {
            read_done(r, p, 0);
            p->seq = UINT64_MAX;
        }
    }
    sweep_done(r);
}

/* The commit index moved: reads waiting for the leader's first commit of its term may start. */
void raft__reads_on_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER || raft__term(r, r->commit) != r->term)
        return;
    for (size_t i = 0; i < r->pending_read_count; i++)
        if (r->pending_reads[i].seq == 0)
            read_start(r, &r->pending_reads[i]);
    sweep_done(r);
}

/* Leadership is lost: every waiting read fails (the caller retries with the new leader). */
void raft__reads_fail_all(struct raft *r)
{
    for (size_t i = 0; i < r->pending_read_count; i++)
        read_done(r, &r->pending_reads[i], -EAGAIN);
    r->pending_read_count = 0;
    r->read_round_pending = false;
}
