/*
 * tests/raft/test_readindex.c - ReadIndex reads (thesis 6.4).
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "t_cluster.h"

static struct t_cluster *c;

static void t_teardown(void)
{
    t_cluster_free(c);
}

TestSuite(raft_readindex, .fini = t_teardown);

Test(raft_readindex, leader_read_waits_for_heartbeat_quorum)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_propose(c, 1, "a");
    t_settle(c);
    t_isolate(c, 2);
    t_isolate(c, 3);
    cr_assert_eq(raft_read_index(c->r[1], 77), 0);
    t_process(c, 1);
    t_settle(c);
    cr_assert_eq(c->read_n[1], 0, "no answer without a majority");
    t_heal(c);
    t_tick(c, 1, 1);
    t_settle(c);
    cr_assert_eq(c->read_n[1], 1);
    cr_assert_eq(c->reads[1][0].ctx, 77);
    cr_assert_eq(c->reads[1][0].index, 2);
    cr_assert_eq(c->reads[1][0].err, 0);
}

Test(raft_readindex, read_sends_heartbeat_round_at_once)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(raft_read_index(c->r[1], 5), 0);
    cr_assert_eq(raft_read_index(c->r[1], 6), 0);
    t_process(c, 1);
    cr_assert_eq(t_queued(c, RAFT_MSG_HEARTBEAT, 1, 0), 2, "two reads share one round");
    t_settle(c);
    cr_assert_eq(c->read_n[1], 2);
}

Test(raft_readindex, follower_read_is_forwarded_to_leader)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_propose(c, 1, "a");
    t_settle(c);
    cr_assert_eq(raft_read_index(c->r[3], 9), 0);
    t_process(c, 3);
    cr_assert_eq(t_queued(c, RAFT_MSG_READ_INDEX, 3, 1), 1);
    t_settle(c);
    cr_assert_eq(c->read_n[3], 1);
    cr_assert_eq(c->reads[3][0].ctx, 9);
    cr_assert_eq(c->reads[3][0].index, 2);
}

Test(raft_readindex, read_without_leader_is_refused)
{
    c = t_cluster_new(3, true, true);
    cr_assert_eq(raft_read_index(c->r[2], 1), -EAGAIN);
}

Test(raft_readindex, read_waits_for_leader_first_commit)
{
    c = t_cluster_new(3, false, false);
    t_elect_only(c, 2);
    cr_assert_lt(raft_term_at(c->r[2], t_info(c, 2).commit), t_info(c, 2).term);
    cr_assert_eq(raft_read_index(c->r[2], 4), 0);
    t_process(c, 2);
    cr_assert_eq(t_queued(c, RAFT_MSG_HEARTBEAT, 2, 0), 0, "no round before the no-op commits");
    t_tick_all(c, 3);
    cr_assert_eq(c->read_n[2], 1);
    cr_assert_eq(c->reads[2][0].err, 0);
    cr_assert_eq(c->reads[2][0].index, 1, "the read index is the no-op's");
}

Test(raft_readindex, read_fails_when_leader_steps_down)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 1);
    cr_assert_eq(raft_read_index(c->r[1], 3), 0);
    t_process(c, 1);
    t_tick(c, 1, 25);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
    cr_assert_eq(c->read_n[1], 1);
    cr_assert_eq(c->reads[1][0].err, -EAGAIN);
}
