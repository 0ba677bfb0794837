/*
 * raft/confchange.c - single-member configuration changes (Raft thesis chapter 4).
 *
 * "The leader ... appends the new configuration to its log ... servers always use the latest
 * configuration in their logs, regardless of whether the entry is committed" (4.1): the change
 * takes effect in raft__log_append() / raft__log_truncate(), on every member, as soon as the entry
 * is in its log. Safety rests on changing one member at a time (majorities of the old and new
 * configurations always overlap) and on two restrictions: "a leader [may not] append a new
 * configuration entry until the previous one is committed", and (the fix from Ongaro's 2015
 * raft-dev post) a new leader first commits an entry of its own term.
 *
 * A leader that removes itself keeps leading, without counting its own vote, until the entry
 * commits, then steps down (4.2.2). Learners receive the log but neither vote nor count.
 */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

void raft_conf_change_encode(const struct raft_conf_change *cc, uint8_t *out)
{
    out[0] = cc->type;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(cc->id >> (8 * i));
}

int raft_conf_change_decode(const void *data, size_t len, struct raft_conf_change *cc)
{
    const uint8_t *p = data;
    /* Bytes after the change are the proposer's context (raft_propose_conf_change_ctx()). */
    if (len < RAFT_CONF_CHANGE_LEN || p == NULL)
        return -EINVAL;
    cc->type = p[0];
    cc->id = 0;
    for (int i = 0; i < 8; i++)
        cc->id |= (raft_id)p[1 + i] << (8 * i);
    if (cc->id == 0 || cc->type < RAFT_CC_ADD_VOTER || cc->type > RAFT_CC_REMOVE)
        return -EINVAL;
    return 0;
}

/* Applies @cc to @c. A change that does not fit is ignored (the leader never proposes one). */
void raft__conf_apply(struct raft_conf *c, const struct raft_conf_change *cc)
{
    int pos = raft__member_pos(c, cc->id);
    switch ((enum raft_conf_change_type)cc->type) {
    case RAFT_CC_ADD_VOTER:
    case RAFT_CC_ADD_LEARNER:
        if (pos >= 0) {
            if (cc->type == RAFT_CC_ADD_VOTER)
                c->members[pos].voter = true; /* promotion of a learner */
        } else if (c->count < RAFT_MEMBERS_MAX) {
            c->members[c->count++] = (struct raft_member){ cc->id, cc->type == RAFT_CC_ADD_VOTER };
        }
        break;
    case RAFT_CC_REMOVE:
        if (pos >= 0) {
            memmove(&c->members[pos], &c->members[pos + 1],
                    (c->count - (uint32_t)pos - 1) * sizeof(c->members[0]));
            c->count--;
        }
        break;
    default:
        ET_UNREACHABLE();
    }
}

static int conf_change_check(const struct raft *r, const struct raft_conf_change *cc)
{
    if (cc->id == 0)
        return -EINVAL;
    int pos = raft__member_pos(&r->conf, cc->id);
    switch (cc->type) {
    case RAFT_CC_ADD_VOTER:
        if (pos >= 0 && r->conf.members[pos].voter)
            return -EEXIST;
        if (pos < 0 && r->conf.count == RAFT_MEMBERS_MAX)
            return -ENOSPC;
        return 0;
    case RAFT_CC_ADD_LEARNER:
        if (pos >= 0)
            return -EEXIST;
        if (r->conf.count == RAFT_MEMBERS_MAX)
            return -ENOSPC;
        return 0;
    case RAFT_CC_REMOVE:
        if (pos < 0)
            return -ENOENT;
        if (r->conf.members[pos].voter && raft__quorum(r) == 1 && r->conf.count == 1)
            return -EINVAL; /* never remove the last voter */
        if (r->conf.members[pos].voter) {
            uint32_t voters = 0;
            for (uint32_t i = 0; i < r->conf.count; i++)
                voters += r->conf.members[i].voter;
            if (voters == 1)
                return -EINVAL;
        }
        return 0;
    default:
        return -EINVAL;
    }
}

int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc, raft_index *index)
{
    return raft_propose_conf_change_ctx(r, cc, NULL, 0, index);
}

int raft_propose_conf_change_ctx(struct raft *r, const struct raft_conf_change *cc, const void *ctx,
                                 size_t ctx_len, raft_index *index)
{
    ET_ASSERT(ctx_len == 0 || ctx != NULL);
    ET_ASSERT(ctx_len <= UINT32_MAX - RAFT_CONF_CHANGE_LEN);
    ET_ASSERT(!r->in_ready);
    if (r->role != RAFT_LEADER)
        return -EPERM;
    if (r->transferee != 0 || r->pending_conf_index > r->commit ||
        raft__term(r, r->commit) != r->term)
        return -EBUSY;
    int err = conf_change_check(r, cc);
    if (err)
        return err;
    uint8_t *buf = et_alloc(RAFT_CONF_CHANGE_LEN + ctx_len);
    raft_conf_change_encode(cc, buf);
    if (ctx_len)
        memcpy(buf + RAFT_CONF_CHANGE_LEN, ctx, ctx_len);
    raft__log_append(r, r->term, RAFT_ENTRY_CONF_CHANGE, buf, RAFT_CONF_CHANGE_LEN + ctx_len);
    et_free(buf);
    r->pending_conf_index = raft__last_index(r);
    if (index)
        *index = r->pending_conf_index;
    /* A removed voter may have been the one holding commits back. */
    if (raft__maybe_commit(r))
        raft__broadcast_append(r, true);
    return 0;
}

/* Thesis 4.2.2: a leader that is not part of the configuration steps down once it commits. */
void raft__maybe_step_down_removed(struct raft *r)
{
    if (r->role == RAFT_LEADER && !raft__is_voter(&r->conf, r->id) && r->commit >= r->conf_index)
        raft__become_follower(r, r->term, 0);
}
