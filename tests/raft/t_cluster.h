/*
 * tests/raft/t_cluster.h - a hand-driven cluster of pure raft cores for the unit tests.
 *
 * Messages go through the wire codec (raft_msg_encode / raft_msg_decode) into one queue and are
 * delivered only when a test says so; links can be cut. Each member keeps what it applied.
 */
#ifndef ET_TESTS_RAFT_T_CLUSTER_H
#define ET_TESTS_RAFT_T_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "raft/raft.h"

#define T_MAX         8
#define T_APPLIED_MAX 4096

struct t_wire {
    raft_id from;
    raft_id to;
    uint8_t type;
    struct et_buf bytes;
};

struct t_cluster {
    int n;
    struct raft *r[T_MAX + 1]; /* by id: r[1] .. r[n] */
    bool cut[T_MAX + 1][T_MAX + 1];
    bool down[T_MAX + 1];
    struct t_wire *q;
    size_t qn, qcap;
    /* what each member applied: normal entries' data as strings */
    char *applied[T_MAX + 1][T_APPLIED_MAX];
    size_t applied_n[T_MAX + 1];
    raft_index applied_index[T_MAX + 1];
    struct raft_read_state reads[T_MAX + 1][64];
    size_t read_n[T_MAX + 1];
    struct raft_config cfg;
};

/* A cluster of @n voters with ids 1..n (and ids n+1..T_MAX ready to be added). */
struct t_cluster *t_cluster_new(int n, bool pre_vote, bool check_quorum);
void t_cluster_free(struct t_cluster *c);
/* Creates member @id (not in the bootstrap configuration) with the bootstrap configuration. */
void t_add_member(struct t_cluster *c, raft_id id);
/* Runs Ready/Advance on @id until it has nothing to do; messages join the queue. */
void t_process(struct t_cluster *c, raft_id id);
/* Delivers queued messages (and processes) until nothing moves. Returns messages delivered. */
int t_settle(struct t_cluster *c);
/* Delivers only the first queued message, if any. */
bool t_deliver_one(struct t_cluster *c);
/* Drops every queued message. */
void t_drop_all(struct t_cluster *c);
void t_tick(struct t_cluster *c, raft_id id, int ticks);
/* Ticks every member @ticks times, settling after each tick. */
void t_tick_all(struct t_cluster *c, int ticks);
/* Makes @id time out and campaign, then settles. */
void t_elect(struct t_cluster *c, raft_id id);
/* Makes @id campaign and delivers messages one by one only until it leads; drops the rest. */
void t_elect_only(struct t_cluster *c, raft_id id);
/* Ticks @id until it becomes a (pre-)candidate. */
void t_campaign(struct t_cluster *c, raft_id id);
raft_id t_leader(struct t_cluster *c);
void t_isolate(struct t_cluster *c, raft_id id);
void t_heal(struct t_cluster *c);
int t_propose(struct t_cluster *c, raft_id id, const char *s);
struct raft_info t_info(struct t_cluster *c, raft_id id);
/* Counts queued messages of @type from @from to @to (0 = any). */
int t_queued(struct t_cluster *c, uint8_t type, raft_id from, raft_id to);

#endif
