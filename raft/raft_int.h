/*
 * raft/raft_int.h - declarations shared by the files of the pure Raft core (raft/raft.h).
 *
 * The core is split by concern: raft.c (life cycle, term rules, Ready/Advance), log.c (the
 * in-memory log), election.c (roles, votes, pre-vote, check-quorum, leader transfer),
 * replication.c (progress, AppendEntries, heartbeats, commit), snapshot.c (compaction and
 * InstallSnapshot), confchange.c (membership), readindex.c (ReadIndex) and codec.c (wire form).
 *
 * Role diagram (function behind each transition):
 *
 *            tick timeout                 pre-vote quorum             vote quorum
 *   FOLLOWER ------------> PRE_CANDIDATE ----------------> CANDIDATE ------------> LEADER
 *      ^    raft__campaign()      |   raft__campaign(false)   |  raft__become_leader() |
 *      |                          |                           |                        |
 *      +--------------------------+---------------------------+------------------------+
 *         raft__become_follower(): higher term seen, AppendEntries from a leader of our
 *         term, pre-vote/vote quorum refused, or (leader) check-quorum failed / removed.
 *   TimeoutNow goes from FOLLOWER straight to CANDIDATE (raft__campaign(true)).
 *
 * Invariants kept by every function:
 *   (1) snap_index < first entry index; ents[i].index == snap_index + 1 + i; terms never
 *       decrease along the log;
 *   (2) applied <= commit <= last index, snap_index <= applied;
 *   (3) stable <= last index (stable = durable prefix as far as the core knows);
 *   (4) only a LEADER has progress entries in prs[] that it acts on;
 *   (5) commit never decreases and no entry <= commit is ever truncated (asserted in log.c).
 */
#ifndef ET_RAFT_RAFT_INT_H
#define ET_RAFT_RAFT_INT_H

#include "raft/raft.h"

#define RAFT_INFLIGHT_MAX      64
#define RAFT_PENDING_READS_MAX 4096

enum raft_pr_state {
    RAFT_PR_PROBE = 0,     /* one AppendEntries at a time until the match is found */
    RAFT_PR_REPLICATE = 1, /* optimistic pipelining of up to max_inflight messages */
    RAFT_PR_SNAPSHOT = 2,  /* a snapshot is on its way; send nothing else */
};

/* The leader's view of one member (thesis 3.5: nextIndex and matchIndex). */
struct raft_progress {
    raft_id id;
    bool voter;
    raft_index match;            /* highest index known replicated on the member */
    raft_index next;             /* next index to send */
    uint8_t state;               /* enum raft_pr_state */
    bool probe_sent;             /* PROBE: an AppendEntries is outstanding */
    bool recent_active;          /* heard from since the last check-quorum round */
    raft_index pending_snapshot; /* SNAPSHOT: index of the snapshot sent */
    uint32_t snapshot_ticks;     /* SNAPSHOT: ticks waited for its acknowledgement */
    uint64_t read_ack;           /* highest heartbeat read sequence echoed */
    raft_index hb_match;         /* match at the previous heartbeat answer (stall check) */
    raft_index inflight[RAFT_INFLIGHT_MAX]; /* last index of each AppendEntries in flight */
    uint32_t in_start;
    uint32_t in_count;
};

/* A read waiting for its heartbeat round (leader) or for the leader's first commit. */
struct raft_pending_read {
    uint64_t ctx;
    raft_id from;     /* 0: local caller; otherwise the follower that forwarded it */
    raft_index index; /* commit index when the read was accepted */
    uint64_t seq;     /* heartbeat round that confirms it; 0 = not started yet */
};

/* A growable array of outgoing messages. */
struct raft_msgs {
    struct raft_msg *v;
    size_t count;
    size_t cap;
};

struct raft {
    raft_id id;
    uint32_t election_ticks;
    uint32_t heartbeat_ticks;
    uint32_t max_msg_entries;
    size_t max_msg_bytes;
    uint32_t max_inflight;
    bool pre_vote;
    bool check_quorum;
    uint64_t rng; /* splitmix64 state, seeded by the caller */

    /* persistent state (thesis figure 3.1) */
    raft_term term;
    raft_id vote;
    raft_index commit;
    struct raft_hard_state persisted_hs; /* last hard state handed to the caller */

    /* volatile state */
    enum raft_role role;
    raft_id leader;
    raft_index applied;
    raft_index stable; /* entries up to here were handed out to persist (and then advanced) */

    /* the log: ents[0].index == snap_index + 1 */
    struct raft_entry *ents;
    size_t ent_count;
    size_t ent_cap;

    /* the current snapshot (compaction point) */
    struct raft_snapshot_meta snap;
    void *snap_data;
    size_t snap_len;
    bool snap_restore_pending; /* a received snapshot must go out in the next Ready */

    /* configuration: conf is the latest appended one (effective on append, thesis 4.1) */
    struct raft_conf conf;
    raft_index conf_index;         /* index of the entry that produced conf, snap index if none */
    raft_index pending_conf_index; /* leader: a new change waits until commit reaches this */

    /* timers, in ticks */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_timeout;

    /* election: votes[i] is 1 granted, -1 refused, 0 no answer, for conf.members[i] */
    raft_id vote_ids[RAFT_MEMBERS_MAX];
    int8_t votes[RAFT_MEMBERS_MAX];
    uint32_t vote_count;

    /* leader */
    struct raft_progress prs[RAFT_MEMBERS_MAX];
    uint32_t pr_count;
    raft_id transferee;
    uint32_t transfer_elapsed;

    /* ReadIndex */
    uint64_t read_seq;       /* last heartbeat round sent */
    bool read_round_pending; /* reads wait for a round that has not been sent yet */
    struct raft_pending_read *pending_reads;
    size_t pending_read_count;
    struct raft_read_state *read_out;
    size_t read_out_count;
    size_t read_out_cap;

    /* outputs held until raft_advance() */
    struct raft_msgs msgs_early;
    struct raft_msgs msgs;
    void **garbage; /* entry data and snapshot images freed at the next advance */
    size_t garbage_count;
    size_t garbage_cap;
    bool in_ready;
    struct raft_snapshot ready_snap;
};

/* raft.c */
void raft__send(struct raft *r, struct raft_msg *m);
void raft__defer_free(struct raft *r, void *p);
uint32_t raft__quorum(const struct raft *r);
bool raft__is_voter(const struct raft_conf *c, raft_id id);
int raft__member_pos(const struct raft_conf *c, raft_id id);

/* log.c */
raft_index raft__last_index(const struct raft *r);
raft_term raft__last_term(const struct raft *r);
raft_term raft__term(const struct raft *r, raft_index index);
const struct raft_entry *raft__entry(const struct raft *r, raft_index index);
void raft__log_append(struct raft *r, raft_term term, uint8_t type, const void *data, size_t len);
void raft__log_truncate(struct raft *r, raft_index from);
void raft__log_compact(struct raft *r, raft_index upto);
void raft__log_reset(struct raft *r, const struct raft_snapshot_meta *meta);
bool raft__log_up_to_date(const struct raft *r, raft_index index, raft_term term);
raft_index raft__find_conflict_by_term(const struct raft *r, raft_index index, raft_term term);
void raft__conf_at(const struct raft *r, raft_index index, struct raft_conf *out);

/* election.c */
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__become_leader(struct raft *r);
void raft__campaign(struct raft *r, bool transfer);
void raft__tick_election(struct raft *r);
void raft__tick_leader(struct raft *r);
void raft__step_vote(struct raft *r, const struct raft_msg *m);
void raft__step_vote_resp(struct raft *r, const struct raft_msg *m);
void raft__step_timeout_now(struct raft *r, const struct raft_msg *m);
bool raft__promotable(const struct raft *r);
void raft__reset_timers(struct raft *r);

/* replication.c */
void raft__progress_reset(struct raft *r);
struct raft_progress *raft__progress(struct raft *r, raft_id id);
void raft__send_append(struct raft *r, struct raft_progress *pr, bool send_if_empty);
void raft__broadcast_append(struct raft *r, bool send_if_empty);
void raft__broadcast_heartbeat(struct raft *r);
bool raft__maybe_commit(struct raft *r);
void raft__step_append(struct raft *r, const struct raft_msg *m);
void raft__step_append_resp(struct raft *r, const struct raft_msg *m);
void raft__step_heartbeat(struct raft *r, const struct raft_msg *m);
void raft__step_heartbeat_resp(struct raft *r, const struct raft_msg *m);
void raft__progress_become_probe(struct raft_progress *pr);

/* snapshot.c */
void raft__send_snapshot(struct raft *r, struct raft_progress *pr);
void raft__step_snapshot(struct raft *r, const struct raft_msg *m);
void raft__tick_snapshots(struct raft *r);

/* confchange.c */
void raft__conf_apply(struct raft_conf *c, const struct raft_conf_change *cc);
void raft__conf_changed(struct raft *r);
void raft__maybe_step_down_removed(struct raft *r);

/* readindex.c */
void raft__step_read_index(struct raft *r, const struct raft_msg *m);
void raft__step_read_index_resp(struct raft *r, const struct raft_msg *m);
void raft__reads_on_ack(struct raft *r);
void raft__reads_on_commit(struct raft *r);
void raft__reads_fail_all(struct raft *r);
void raft__read_out(struct raft *r, uint64_t ctx, raft_index index, int err);
uint64_t raft__read_round(struct raft *r);

#endif
