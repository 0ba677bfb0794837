/*
 * raft/snapshot.c - log compaction and InstallSnapshot (Raft thesis chapter 5).
 *
 * "Each server takes snapshots independently, covering just the committed entries in its log"
 * (5.1): the caller serialises its state machine at an applied index and hands the image to
 * raft_compact(), which forgets the entries it covers. "The leader uses a new RPC called
 * InstallSnapshot to send snapshots to followers that are too far behind" (5.3): when a
 * member needs an entry that is gone, raft__send_append() lands here. We send the whole image
 * in one message (the transport may chunk it); the follower then replaces its log: "If the
 * follower already has log entries matching the snapshot's last index and term, it retains the
 * entries following those, otherwise it discards its entire log" (figure 5.3, steps 6-7). We
 * keep only the commit index in the first case (entries past it come again by AppendEntries).
 */
#include <errno.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

void raft__send_snapshot(struct raft *r, struct raft_progress *pr)
{
    ET_ASSERT(r->role == RAFT_LEADER);
    ET_ASSERT(r->snap.index > 0);
    raft__send(r, &(struct raft_msg){
                      .type = RAFT_MSG_SNAPSHOT,
                      .to = pr->id,
                      .snapshot = { r->snap, r->snap_data, r->snap_len },
                  });
    pr->state = RAFT_PR_SNAPSHOT;
    pr->pending_snapshot = r->snap.index;
    pr->snapshot_ticks = 0;
    pr->in_count = 0;
    pr->probe_sent = false;
}

void raft__tick_snapshots(struct raft *r)
{
    for (uint32_t i = 0; i < r->pr_count; i++) {
        struct raft_progress *pr = &r->prs[i];
        /* A snapshot lost on the way gets no answer: retry after an election timeout. */
        if (pr->state == RAFT_PR_SNAPSHOT && ++pr->snapshot_ticks >= r->election_ticks)
            raft__progress_become_probe(pr);
    }
}

void raft_report_snapshot(struct raft *r, raft_id id, bool ok)
{
    ET_ASSERT(!r->in_ready);
    if (r->role != RAFT_LEADER)
        return;
    struct raft_progress *pr = raft__progress(r, id);
    if (pr == NULL || pr->state != RAFT_PR_SNAPSHOT)
        return;
    /* Never raise match here: only the member's own answer proves what it holds (a match
     * counted towards commit must be durable on the member). Delivered means "probe after it". */
    raft_index pending = pr->pending_snapshot;
    raft__progress_become_probe(pr);
    if (ok && pending + 1 > pr->next)
        pr->next = pending + 1;
    /* Wait for the member's answer (or a heartbeat answer) before probing, as etcd does. */
    pr->probe_sent = true;
}

void raft__step_snapshot(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER)
        return;
    if (r->role != RAFT_FOLLOWER || r->leader != m->from)
        raft__become_follower(r, m->term, m->from);
    r->election_elapsed = 0;
    const struct raft_snapshot_meta *meta = &m->snapshot.meta;
    struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP, .to = m->from, .index = r->commit };
    if (meta->index <= r->commit) {
        raft__send(r, &resp); /* old news */
        return;
    }
    if (raft__term(r, meta->index) == meta->term) {
        /* We hold the snapshot's last entry: everything up to it is committed. */
        r->commit = meta->index;
        resp.index = r->commit;
        raft__send(r, &resp);
        return;
    }
    raft__log_reset(r, meta);
    raft__defer_free(r, r->snap_data);
    r->snap_data = m->snapshot.len ? et_memdup(m->snapshot.data, m->snapshot.len) : NULL;
    r->snap_len = m->snapshot.len;
    r->snap_restore_pending = true;
    resp.index = meta->index;
    raft__send(r, &resp);
}

int raft_compact_take(struct raft *r, raft_index index, void *data, size_t len)
{
    ET_ASSERT(!r->in_ready);
    if (index <= r->snap.index || index > r->applied || r->snap_restore_pending)
        return -EINVAL;
    if (len && data == NULL)
        return -EINVAL;
    raft__log_compact(r, index);
    raft__defer_free(r, r->snap_data);
    if (len == 0) {
        et_free(data);
        data = NULL;
    }
    r->snap_data = data;
    r->snap_len = len;
    return 0;
}

int raft_compact(struct raft *r, raft_index index, const void *data, size_t len)
{
    void *copy = len ? et_memdup(data, len) : NULL;
    int ret = raft_compact_take(r, index, copy, len);
    if (ret < 0)
        et_free(copy);
    return ret;
}
