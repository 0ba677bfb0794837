/*
 * raft/raft.h - the pure Raft state machine: no I/O, no clock, no threads, no randomness of its
 * own.
 *
 * The caller feeds it events (raft_step() for a peer message, raft_tick() for one unit of time,
 * raft_propose() for a client entry, raft_read_index() for a linearizable read) and collects what
 * the core wants done with raft_ready(): hard state and entries to persist, messages to send,
 * committed entries to apply, read barriers that became safe. The caller does that work in the
 * order below and then calls raft_advance(). This is the Step / Ready / Advance shape of etcd's
 * raft library; time is a tick count and the only randomness (the election timeout jitter) comes
 * from the seed in struct raft_config.
 *
 * Features: leader election with pre-vote and check-quorum (Raft thesis 9.6, 6.2), log replication
 * with batching, pipelining and fast backtracking (5.3), the commit rule of 5.4.2 (a leader appends
 * a no-op when elected), snapshots / InstallSnapshot / log compaction (chapter 5 of the thesis),
 * single-member configuration changes effective on append (4.1), learners, leader transfer with
 * TimeoutNow (3.10) and ReadIndex reads (6.4).
 *
 * Thread: a struct raft is used by one thread at a time; the core takes no locks.
 *
 * ---------------------------------------------------------------------------------------------
 * THE READY / ADVANCE CONTRACT (what a driver must do, in this order)
 *
 *   if (raft_has_ready(r)) {
 *       struct raft_ready rd;
 *       raft_ready(r, &rd);
 *       (0) rd.msgs_early[] MAY be sent at once, before or while the disk works: they are a
 *           leader's AppendEntries / heartbeats / snapshots / TimeoutNow, which depend on nothing
 *           that is not durable yet (thesis 10.2.1: the leader counts its own log only once it
 *           is durable, see raft_advance()).
 *       (1) Persist, and make durable with one fdatasync before step (2):
 *           - rd.snapshot when not NULL: store the snapshot (meta and data) and then DISCARD EVERY
 *             STORED LOG ENTRY (the log now starts after rd.snapshot->meta.index). Load the
 *             snapshot into the state machine (its state is now rd.snapshot->meta.index).
 *           - rd.entries[0..entry_count): first delete every stored entry with an index >=
 *             rd.entries[0].index (a conflicting suffix that the leader overwrote), then append.
 *           - rd.hard_state when rd.hard_state_changed (term, vote, commit).
 *           The three may be written in any order, but all must be durable before step (2):
 *           a vote or an append acknowledgement must never reach a peer before it is on disk.
 *           A crash before the fdatasync may keep any subset that is a prefix of the order
 *           they were written in: that is safe. rd.hard_state.commit never covers an entry of
 *           the same Ready (it catches up in the next one), and raft_new() repairs a torn
 *           batch (a commit beyond the stored log is lowered, a term below the last entry's
 *           is raised).
 *       (2) Send rd.msgs[0..msg_count) (best effort; the core retries on its own).
 *       (3) Apply rd.committed[0..committed_count) to the state machine, in order. Entries of
 *           type RAFT_ENTRY_NOOP and RAFT_ENTRY_CONF_CHANGE carry no client data (the core has
 *           already acted on a configuration change; raft_conf_change_decode() reads it).
 *       (4) Serve rd.reads[]: a read with err == 0 is linearizable once the state machine has
 *           applied rd.reads[i].index; err < 0 means it failed (leadership lost): retry it.
 *       raft_advance(r, &rd);
 *   }
 *
 * Between raft_ready() and raft_advance() the caller must not call anything else on @r (queue
 * incoming messages, ticks and proposals and feed them after raft_advance()). Every pointer in a
 * struct raft_ready (entries, messages and their entries and snapshot data) stays valid until
 * raft_advance(). raft_advance() may produce new work: check raft_has_ready() again.
 *
 * RESTART: pass what was durable in struct raft_config.restore: the last snapshot (meta and
 * data), the stored entries after it, the last durable hard state, and how far the state machine
 * has applied (at least the snapshot index). Committed entries above .applied come back through
 * rd.committed.
 *
 * A change of the commit index alone (term and vote unchanged) need not be made durable at
 * once: commit is knowledge that the leader hands out again after a restart.
 *
 * LOG COMPACTION: when the state machine has applied index i, serialise it, call
 * raft_compact(r, i, image, len), then store the image durably together with
 * raft_get_snapshot_meta(r) (index, term and the configuration as of i, which is not always the
 * latest configuration). The stored log entries up to i may then be deleted. A crash in between
 * loses nothing: the log still holds those entries.
 *
 * NEW MEMBERS: every member, including one added later by a configuration change, is created
 * with the cluster's bootstrap configuration (struct raft_config.bootstrap, the configuration at
 * index 0) unless it restarts from a snapshot; the log then replays every later change.
 * ---------------------------------------------------------------------------------------------
 *
 * Errors: 0 or -errno. -EPERM: not the leader; -EBUSY: a leader transfer or configuration change
 * is in progress; -EINVAL: bad argument or malformed message; -EEXIST / -ENOENT / -ENOSPC:
 * configuration change refused; -EAGAIN: no leader known (retry later).
 */
#ifndef ET_RAFT_RAFT_H
#define ET_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"

typedef uint64_t raft_index;
typedef uint64_t raft_term;
typedef uint64_t raft_id; /* a member id; 0 means none */

struct raft;
struct et_buf;

/* Fixed capacities: the members of one configuration (voters and learners). */
#define RAFT_MEMBERS_MAX 16

/* ----------------------------------------------------------------------------------------------
 * Entries and configurations
 */

enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 0,      /* client data, opaque to the core */
    RAFT_ENTRY_CONF_CHANGE = 1, /* a struct raft_conf_change, see raft_conf_change_encode() */
    RAFT_ENTRY_NOOP = 2,        /* appended by a new leader (thesis 6.4, 5.4.2) */
};

struct raft_entry {
    raft_term term;
    raft_index index;
    uint8_t type;     /* enum raft_entry_type */
    uint32_t len;     /* bytes at @data */
    const void *data; /* owned by the core (or by a decoded message's buffer) */
};

struct raft_member {
    raft_id id;
    bool voter; /* false: a learner (receives the log, does not vote or count for quorum) */
};

/* A configuration: the members of the cluster, at most RAFT_MEMBERS_MAX. */
struct raft_conf {
    uint32_t count;
    struct raft_member members[RAFT_MEMBERS_MAX];
};

enum raft_conf_change_type {
    RAFT_CC_ADD_VOTER = 1,   /* add a voter, or promote an existing learner */
    RAFT_CC_ADD_LEARNER = 2, /* add a learner */
    RAFT_CC_REMOVE = 3,      /* remove a voter or a learner */
};

/* One single-member change; carried in a RAFT_ENTRY_CONF_CHANGE entry (9 bytes). */
struct raft_conf_change {
    uint8_t type; /* enum raft_conf_change_type */
    raft_id id;
};

#define RAFT_CONF_CHANGE_LEN 9

/* Snapshot meta: the state machine after applying everything up to @index. */
struct raft_snapshot_meta {
    raft_index index;
    raft_term term;        /* of the entry at @index */
    struct raft_conf conf; /* the configuration as of @index */
};

struct raft_snapshot {
    struct raft_snapshot_meta meta;
    const void *data; /* opaque state machine image */
    size_t len;
};

/* The state that must be durable before the core's messages leave (thesis 3.8, figure 3.1). */
struct raft_hard_state {
    raft_term term;
    raft_id vote; /* candidate voted for in @term, 0 for none */
    raft_index commit;
};

/* ----------------------------------------------------------------------------------------------
 * Messages. Fixed fields; unused ones are 0. Wire format: raft_msg_encode() / raft_msg_decode().
 */

enum raft_msg_type {
    RAFT_MSG_APPEND = 1,           /* AppendEntries: log_term/index = previous entry */
    RAFT_MSG_APPEND_RESP = 2,      /* index = last matching index, or reject + hints */
    RAFT_MSG_VOTE = 3,             /* RequestVote: log_term/index = candidate's last entry */
    RAFT_MSG_VOTE_RESP = 4,        /* reject = vote refused */
    RAFT_MSG_PREVOTE = 5,          /* term = the term the candidate would use (not yet adopted) */
    RAFT_MSG_PREVOTE_RESP = 6,     /* reject = pre-vote refused */
    RAFT_MSG_SNAPSHOT = 7,         /* InstallSnapshot: snapshot meta and data in one message */
    RAFT_MSG_HEARTBEAT = 8,        /* commit = min(commit, follower's match); context = read seq */
    RAFT_MSG_HEARTBEAT_RESP = 9,   /* context echoed */
    RAFT_MSG_TIMEOUT_NOW = 10,     /* leader transfer: campaign now, bypassing pre-vote */
    RAFT_MSG_READ_INDEX = 11,      /* follower -> leader: context = the caller's read id */
    RAFT_MSG_READ_INDEX_RESP = 12, /* leader -> follower: index = read index; reject = failed */
};

#define RAFT_MSG_TYPE_MAX 12

struct raft_msg {
    uint8_t type; /* enum raft_msg_type */
    raft_id from;
    raft_id to;
    raft_term term;         /* the sender's term (for PREVOTE the proposed term) */
    raft_term log_term;     /* see the message types */
    raft_index index;       /* see the message types */
    raft_index commit;      /* leader's commit index (APPEND, HEARTBEAT) */
    bool reject;            /* a refused vote or a rejected append */
    bool force;             /* VOTE caused by leader transfer: ignore the leader lease */
    raft_index reject_hint; /* APPEND_RESP reject: the follower's best guess of a match */
    raft_term hint_term;    /* APPEND_RESP reject: term of the follower's entry at reject_hint */
    uint64_t context;       /* heartbeat read sequence / read id */
    uint32_t entry_count;
    const struct raft_entry *entries;
    struct raft_snapshot snapshot; /* RAFT_MSG_SNAPSHOT only */
    void *_decoded;                /* raft_msg_decode()'s allocation, NULL otherwise */
};

/*
 * Appends the wire form of @m (msgpack) to @out. @m is borrowed. Thread: any.
 */
void raft_msg_encode(const struct raft_msg *m, struct et_buf *out);

/*
 * Decodes one message from @buf[0..len) (borrowed for the call). On success fills @out, whose
 * entries and data live in one new block: free it with raft_msg_decoded_free(). Returns 0, or
 * -EINVAL for anything malformed (truncated, wrong types, an unknown message type, more than
 * RAFT_MEMBERS_MAX members, trailing bytes). Never crashes on garbage. Thread: any.
 */
ET_NODISCARD int raft_msg_decode(const void *buf, size_t len, struct raft_msg *out);

/* Frees what raft_msg_decode() allocated in @m (not @m itself). */
void raft_msg_decoded_free(struct raft_msg *m);

/* Encodes @cc into @out[RAFT_CONF_CHANGE_LEN]. */
void raft_conf_change_encode(const struct raft_conf_change *cc, uint8_t *out);

/* Decodes a conf-change entry's data (bytes after the first RAFT_CONF_CHANGE_LEN are the
 * proposer's context and ignored here). Returns 0 or -EINVAL. */
ET_NODISCARD int raft_conf_change_decode(const void *data, size_t len, struct raft_conf_change *cc);

/* ----------------------------------------------------------------------------------------------
 * Configuration and life cycle
 */

struct raft_restore {
    struct raft_hard_state hard_state;
    /* the last durable snapshot; .data == NULL && .meta.index == 0 when there is none */
    struct raft_snapshot snapshot;
    const struct raft_entry *entries; /* borrowed (copied): stored entries after the snapshot */
    size_t entry_count;
    raft_index applied; /* the state machine's applied index (>= snapshot index) */
};

struct raft_config {
    raft_id id;                 /* this member, non-zero */
    struct raft_conf bootstrap; /* the configuration at index 0 (see NEW MEMBERS above) */
    uint32_t election_ticks;    /* election timeout; randomized in [election, 2 * election) */
    uint32_t heartbeat_ticks;   /* heartbeat interval, < election_ticks */
    uint64_t seed;              /* randomness for the election timeout jitter */
    uint32_t max_msg_entries;   /* batching: entries per AppendEntries (>= 1) */
    size_t max_msg_bytes;       /* batching: entry bytes per AppendEntries (>= 1) */
    uint32_t max_inflight;      /* pipelining: AppendEntries in flight per follower (>= 1) */
    bool pre_vote;              /* thesis 9.6 */
    bool check_quorum;          /* thesis 6.2: leader steps down without quorum contact */
    /* Enable at least one of the two: without them a member whose add entry was overwritten
     * (it thinks it is a voter, the leader does not) disrupts elections forever (4.2.3). */
    const struct raft_restore *restore; /* NULL for a fresh member */
};

enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRE_CANDIDATE = 1,
    RAFT_CANDIDATE = 2,
    RAFT_LEADER = 3,
};

/*
 * Returns a new core for @cfg (borrowed; restore entries are copied, restore snapshot data is
 * copied). Returns 0 or -EINVAL for an inconsistent configuration or restore state.
 */
ET_NODISCARD int raft_new(const struct raft_config *cfg, struct raft **out);

void raft_free(struct raft *r);

/* ----------------------------------------------------------------------------------------------
 * Inputs
 */

/* Advances logical time by one tick: election and heartbeat timers, check-quorum. */
void raft_tick(struct raft *r);

/*
 * Handles a message from a peer. @m is borrowed for the call (entries and snapshot data are
 * copied). Returns 0, or -EINVAL when @m is not addressed to this member or is malformed.
 */
ET_NODISCARD int raft_step(struct raft *r, const struct raft_msg *m);

/*
 * Appends a client entry (@type RAFT_ENTRY_NORMAL) on the leader. @data is copied. On success
 * *@index and *@term (either may be NULL) name the entry: it is the caller's entry if and only if
 * rd.committed later holds an entry with that index AND that term. Returns 0, -EPERM (not the
 * leader; raft_leader() names it), or -EBUSY (leader transfer in progress).
 */
ET_NODISCARD int raft_propose(struct raft *r, const void *data, size_t len, raft_index *index,
                              raft_term *term);

/*
 * Proposes one configuration change on the leader (thesis 4.1: one member at a time, effective
 * as soon as it is appended). Returns 0, -EPERM, -EBUSY (a change is still uncommitted, the
 * leader has not committed an entry of its term yet, or a transfer is running), -EEXIST (already
 * in that role), -ENOENT (removing a non-member), -ENOSPC (RAFT_MEMBERS_MAX), -EINVAL.
 */
ET_NODISCARD int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc,
                                          raft_index *index);

/* The same, with @ctx[0..ctx_len) (copied) appended to the entry's data after the encoded change:
 * opaque to the core, it reaches every member with the committed entry (e.g. the new member's
 * addresses). */
ET_NODISCARD int raft_propose_conf_change_ctx(struct raft *r, const struct raft_conf_change *cc,
                                              const void *ctx, size_t ctx_len, raft_index *index);

/*
 * Requests a linearizable read barrier identified by @ctx (the caller's id, non-zero). The
 * answer comes back in a later rd.reads[] (thesis 6.4: the leader records its commit index,
 * confirms leadership with a heartbeat round, then the read may be served once applied reaches
 * that index; a follower asks the leader). Returns 0, or -EAGAIN when no leader is known.
 * A forwarded request lost on the network is never answered: the caller needs a deadline. After
 * a restart, an answer to a request forwarded by the previous instance may arrive: ignore
 * unknown @ctx values.
 */
ET_NODISCARD int raft_read_index(struct raft *r, uint64_t ctx);

/*
 * Starts handing leadership to @target (thesis 3.10): proposals are refused while it runs, the
 * target is brought up to date and sent TimeoutNow. Gives up after an election timeout.
 * Returns 0, -EPERM (not leader), -EINVAL (@target is not a voter or is this member).
 */
ET_NODISCARD int raft_transfer_leader(struct raft *r, raft_id target);

/*
 * Log compaction: the state machine image @data[0..len) (copied) is the state after applying
 * index @index (<= the applied index, > the current snapshot index). The caller has stored it
 * durably; the core now forgets entries up to @index and sends this snapshot to followers that
 * are too far behind. Returns 0 or -EINVAL.
 */
ET_NODISCARD int raft_compact(struct raft *r, raft_index index, const void *data, size_t len);
/* The same, taking @data (allocated with et_alloc) instead of copying it: a large image is not
 * copied again. On an error the caller keeps @data. */
ET_NODISCARD int raft_compact_take(struct raft *r, raft_index index, void *data, size_t len);

/*
 * A snapshot sent to @id was handed over (@ok) or failed: replication to @id resumes with a probe
 * after the member's next answer. This never counts the snapshot as held by @id (only the member's
 * acknowledgement does), so reporting early is safe. Without reports, the leader retries a
 * snapshot that got no answer after an election timeout.
 */
void raft_report_snapshot(struct raft *r, raft_id id, bool ok);

/* ----------------------------------------------------------------------------------------------
 * Outputs
 */

struct raft_read_state {
    uint64_t ctx;     /* the caller's read id */
    raft_index index; /* serve the read once applied >= index */
    int err;          /* 0, or -EAGAIN when leadership was lost before the read was confirmed */
};

struct raft_ready {
    bool hard_state_changed;
    struct raft_hard_state hard_state;
    const struct raft_snapshot *snapshot; /* received from the leader; persist then load */
    const struct raft_entry *entries;     /* to persist (see the contract above) */
    size_t entry_count;
    const struct raft_msg *msgs_early; /* may be sent before persisting */
    size_t msg_early_count;
    const struct raft_msg *msgs; /* send only after persisting */
    size_t msg_count;
    const struct raft_entry *committed; /* to apply, in order */
    size_t committed_count;
    const struct raft_read_state *reads;
    size_t read_count;
    /* soft state, for information (not to be persisted) */
    enum raft_role role;
    raft_id leader;
};

/* True when raft_ready() would return any work. */
bool raft_has_ready(const struct raft *r);

/* Fills @rd with the pending work (see the contract at the top of this file). */
void raft_ready(struct raft *r, struct raft_ready *rd);

/* Tells the core that everything in @rd was done (persisted, sent, applied, served). */
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* ----------------------------------------------------------------------------------------------
 * Queries
 */

struct raft_info {
    raft_id id;
    enum raft_role role;
    raft_id leader;
    raft_term term;
    raft_id vote;
    raft_index commit;
    raft_index applied;
    raft_index first_index; /* first entry held in memory (snapshot index + 1) */
    raft_index last_index;
    raft_index snapshot_index;
    raft_id transferee; /* leader transfer target, 0 if none */
};

void raft_get_info(const struct raft *r, struct raft_info *out);

/* The current (latest appended) configuration. Borrowed; valid until the next call on @r. */
const struct raft_conf *raft_get_conf(const struct raft *r);

/* The configuration as of @index (the snapshot index <= @index <= the last index) into *out.
 * Returns 0 or -EINVAL. */
ET_NODISCARD int raft_conf_at(const struct raft *r, raft_index index, struct raft_conf *out);

/* The current snapshot's meta (after raft_compact() or an installed snapshot): the index, term
 * and configuration a driver stores with the image. Borrowed; valid until the next call. */
const struct raft_snapshot_meta *raft_get_snapshot_meta(const struct raft *r);

/* The leader this member knows for its term, 0 if none. */
raft_id raft_leader(const struct raft *r);

/* The term of the entry at @index, 0 when not held (compacted or beyond the log). */
raft_term raft_term_at(const struct raft *r, raft_index index);

#endif
