/*
 * raft/node.h - one member's consensus node: the Raft thread, its write-ahead log and its peers.
 *
 * This is the interface the server uses; how the node reaches agreement (the pure core in
 * raft/raft.h, the WAL in raft/wal.h, the peer transport) is hidden behind it.
 *
 * Threads: raft_node_propose() and raft_node_read() may be called from any thread. Every
 * callback in struct raft_node_config runs on the node's own thread, in log order.
 *
 * Write path: a proposal is queued (bounded MPSC), batched with every other proposal that
 * arrives while the previous fdatasync runs, appended to the WAL, made durable with one
 * fdatasync per batch, replicated, and once committed applied through cfg->apply in index
 * order; after each batch of applies cfg->applied runs once (publish, notify watchers). A
 * proposal that cannot be committed (node stopping, no leader within the request timeout) is
 * finished through its ->done callback with a negative error instead.
 */
#ifndef ET_RAFT_NODE_H
#define ET_RAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/mpsc.h"
#include "raft/raft.h"

struct raft_node;

/*
 * A client proposal. The caller owns it; @data is borrowed until @done runs. Exactly one of
 * these happens: cfg->apply sees the entry with this proposal attached (then @done is not
 * called), or @done(p, err) runs with err < 0 (-ECANCELED on shutdown, -ETIMEDOUT, -EAGAIN).
 */
struct raft_proposal {
    struct et_mpsc_node _node;
    const void *data; /* the entry's bytes (opaque to the node) */
    size_t len;
    void (*done)(struct raft_proposal *p, int err);
    int64_t _deadline_ns;
};

/*
 * A linearizable read barrier (ReadIndex). @done(r, 0) runs once everything committed before
 * the read was issued has been applied locally, or @done(r, err < 0) on failure.
 */
struct raft_read {
    struct et_mpsc_node _node;
    void (*done)(struct raft_read *r, int err);
    raft_index _index;
    int64_t _deadline_ns;
};

/*
 * A membership change (one member at a time, thesis 4.1). The caller owns it; @context is
 * borrowed until the change finishes. Exactly one of these happens: cfg->conf_apply sees the
 * committed entry with this change attached (then @done is not called), or @done(c, err) runs
 * with err < 0: -ETIMEDOUT (not committed in time; it may still commit later), -ECANCELED
 * (stopping), -EEXIST / -ENOENT / -ENOSPC / -EINVAL (refused by this member as leader).
 * Any member may propose: a follower forwards the change to its leader.
 */
struct raft_change {
    struct et_mpsc_node _node;
    uint8_t type;        /* RAFT_CC_ADD_VOTER or RAFT_CC_REMOVE */
    raft_id id;          /* the member added or removed */
    const void *context; /* opaque bytes committed with the change (e.g. the member's URLs) */
    size_t context_len;
    void (*done)(struct raft_change *c, int err);
    int64_t _deadline_ns;
    uint64_t _seq;
};

struct raft_peer_config {
    raft_id id;
    const char *name;
    const char *peer_urls; /* comma-separated */
};

struct raft_node_config {
    const char *data_dir; /* WAL and snapshots live in <data_dir>/member/{wal,snap} */
    raft_id id;           /* this member */
    const struct raft_peer_config *peers; /* initial cluster, including this member */
    size_t peer_count;
    uint32_t tick_ms;            /* heartbeat interval (etcd --heartbeat-interval, 100) */
    uint32_t election_ms;        /* election timeout (etcd --election-timeout, 1000) */
    uint32_t request_timeout_ms; /* proposal deadline (etcd: 5 s + 2 elections = 7 s) */
    size_t queue_max;            /* proposals queued before raft_node_propose() refuses */
    uint64_t snapshot_count;     /* applied entries between snapshots (etcd --snapshot-count) */
    void *data;                  /* passed to every callback */

    /* Apply the committed entry at @index. @p is the local proposal or NULL. Only client
     * entries are applied; the node's own entries (a new leader's no-op, membership changes)
     * advance the applied index without a call, so indexes seen here may skip. */
    void (*apply)(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                  struct raft_proposal *p);
    /* Apply a committed membership change at @index (the core already acts on it): @cc names
     * it, @ctx[0..ctx_len) is the proposer's context, @c the local change or NULL. Called in log
     * order with apply, also while replaying the WAL at start-up (c = NULL). */
    void (*conf_apply)(void *data, raft_index index, const struct raft_conf_change *cc,
                       const void *ctx, size_t ctx_len, struct raft_change *c);
    /* A membership change entered this member's log (appended, not yet committed; it may still
     * be overwritten). The core already counts the new member: a transport should learn its
     * address now, or a change that needs the new member's vote could never commit. */
    void (*conf_appended)(void *data, const struct raft_conf_change *cc, const void *ctx,
                          size_t ctx_len);
    /* Called once after each batch of apply calls. */
    void (*applied)(void *data);
    /* Called every tick on the node's thread (timers of the state machine, e.g. TTL sweeps). */
    void (*tick)(void *data, bool is_leader);
    /* Serialise the applied state into a new buffer (*out, *len; freed with et_free). */
    void (*snapshot_save)(void *data, void **out, size_t *len);
    /* Optional, used instead of snapshot_save when set: the applied state is captured cheaply
     * on the node's thread (an opaque image), serialised by snapshot_write on a thread of its
     * own while the node goes on, and released with snapshot_release on the node's thread. */
    void *(*snapshot_capture)(void *data);
    void (*snapshot_write)(void *image, void **out, size_t *len);
    void (*snapshot_release)(void *data, void *image);
    /* Replace the applied state with a snapshot. Returns 0 or a negative error (fatal). */
    int (*snapshot_load)(void *data, const void *p, size_t len);

    uint64_t wal_segment_bytes; /* preallocated WAL segment size; 0: 64 MiB */
    bool wal_use_uring;         /* group commit through io_uring instead of pwrite+fdatasync */

    /*
     * The peer transport (NULL for a cluster of one). Sends one message to member @to: opaque
     * bytes (a Raft message, or a proposal a follower forwards to its leader) that the peer
     * hands unchanged to its raft_node_receive(). Runs on the node's thread; @msg is borrowed
     * for the call. Best effort: a message may be dropped (Raft retries; a dropped forwarded
     * proposal times out). Messages between two members should arrive in the order sent.
     */
    void (*send)(void *data, raft_id to, const void *msg, size_t len);
};

struct raft_status {
    raft_id id;
    raft_id leader; /* 0 when none is known */
    raft_term term;
    raft_index commit;
    raft_index applied;
    raft_index snapshot_index; /* newest snapshot; the log before it is compacted away */
    bool is_leader;
    int64_t leader_since_ns;    /* wall clock when the current leader was first seen */
    uint64_t recv_append_count; /* AppendEntries received (etcd recvAppendRequestCnt) */
    uint64_t send_append_count; /* AppendEntries sent */
    double recv_pkg_rate;       /* messages/s over the last up to 200 received (0: idle 1 s) */
    double recv_bandwidth_rate; /* bytes/s, same window */
    double send_pkg_rate;
    double send_bandwidth_rate;
};

/*
 * Opens (or creates) the data dir, restores the last snapshot, replays the WAL through
 * cfg->apply (p = NULL) up to the durable commit index, and starts the node's thread.
 * Returns 0 or a negative errno; a corrupt WAL is reported on stderr naming file and offset and
 * returns -EBADMSG. Thread: any (the caller's callbacks must be ready).
 */
ET_NODISCARD int raft_node_start(const struct raft_node_config *cfg, struct raft_node **out);

/* Stops the thread; pending proposals and reads finish with -ECANCELED. Then frees the node. */
void raft_node_stop(struct raft_node *n);

/*
 * Queues @p. Returns 0, -EAGAIN when the queue is full, or -EMSGSIZE when @p->len exceeds what
 * one WAL record holds (nothing queued on error). Thread: any.
 */
ET_NODISCARD int raft_node_propose(struct raft_node *n, struct raft_proposal *p);

/*
 * Queues a membership change (see struct raft_change). Returns 0, -EAGAIN when the queue is
 * full, or -EINVAL for a bad type or id. Thread: any.
 */
ET_NODISCARD int raft_node_change(struct raft_node *n, struct raft_change *c);

/* Queues a read barrier. Returns 0 or -EAGAIN. Thread: any. */
ET_NODISCARD int raft_node_read(struct raft_node *n, struct raft_read *r);
/* The same with its own deadline instead of the request timeout. */
ET_NODISCARD int raft_node_read_within(struct raft_node *n, struct raft_read *r,
                                       unsigned timeout_ms);

/*
 * Hands the node a message from a peer (@msg[0..@len): what the peer's cfg->send got; copied).
 * Returns 0 or -EAGAIN when the inbound queue is full (the message is dropped). Thread: any.
 */
ET_NODISCARD int raft_node_receive(struct raft_node *n, const void *msg, size_t len);

/* A consistent-enough snapshot of the node's state: atomic loads only, no lock, so reactors call it
 * on every request. Thread: any. */
void raft_node_status(struct raft_node *n, struct raft_status *out);

#endif
