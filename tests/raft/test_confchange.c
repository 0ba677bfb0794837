/*
 * tests/raft/test_confchange.c - single-member configuration changes and learners.
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "t_cluster.h"

static struct t_cluster *c;

static void t_teardown(void)
{
    t_cluster_free(c);
}

TestSuite(raft_confchange, .fini = t_teardown);

static int t_cc(raft_id leader, uint8_t type, raft_id id)
{
    struct raft_conf_change cc = { type, id };
    int err = raft_propose_conf_change(c->r[leader], &cc, NULL);
    t_process(c, leader);
    return err;
}

Test(raft_confchange, adds_voter_effective_on_append)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_add_member(c, 4);
    t_isolate(c, 2);
    t_isolate(c, 3);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_VOTER, 4), 0);
    cr_assert_eq(raft_get_conf(c->r[1])->count, 4, "in effect as soon as appended");
    t_settle(c);
    /* 4 members: quorum is 3, leader + new member are not enough */
    cr_assert_eq(t_info(c, 1).commit, 1);
    t_heal(c);
    t_tick_all(c, 2);
    cr_assert_eq(t_info(c, 1).commit, 2);
    cr_assert_eq(raft_get_conf(c->r[4])->count, 4);
}

Test(raft_confchange, refuses_second_change_while_one_is_pending)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 2);
    t_isolate(c, 3);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 4), 0);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 5), -EBUSY);
}

Test(raft_confchange, refuses_change_before_leader_commits_in_its_term)
{
    c = t_cluster_new(3, true, true);
    t_elect_only(c, 1);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 4), -EBUSY, "its no-op is not committed yet");
    t_tick_all(c, 2);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 4), 0);
}

Test(raft_confchange, validates_changes)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_VOTER, 2), -EEXIST);
    cr_assert_eq(t_cc(1, RAFT_CC_REMOVE, 7), -ENOENT);
    cr_assert_eq(t_cc(2, RAFT_CC_REMOVE, 3), -EPERM);
    cr_assert_eq(t_cc(1, 0, 3), -EINVAL);
}

Test(raft_confchange, removes_member_and_shrinks_quorum)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(t_cc(1, RAFT_CC_REMOVE, 3), 0);
    t_settle(c);
    t_isolate(c, 3);
    t_isolate(c, 2);
    t_propose(c, 1, "alone");
    t_settle(c);
    cr_assert_eq(t_info(c, 1).commit, 2, "quorum of 2 needs member 2");
    t_heal(c);
    t_isolate(c, 3);
    t_tick_all(c, 2);
    cr_assert_eq(t_info(c, 1).commit, 3);
}

Test(raft_confchange, removed_leader_steps_down_after_commit)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(t_cc(1, RAFT_CC_REMOVE, 1), 0);
    cr_assert_eq(t_info(c, 1).role, RAFT_LEADER, "still leading until the change commits");
    t_settle(c);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
    t_tick_all(c, 40);
    raft_id l = t_leader(c);
    cr_assert(l == 2 || l == 3);
    cr_assert_eq(t_propose(c, l, "after"), 0);
    t_settle(c);
    cr_assert_eq(c->applied_n[l], 1);
}

Test(raft_confchange, learner_does_not_count_for_quorum)
{
    c = t_cluster_new(1, true, true);
    t_tick(c, 1, 25);
    t_add_member(c, 2);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 2), 0);
    t_settle(c);
    cr_assert_eq(raft_get_conf(c->r[2])->count, 2);
    t_isolate(c, 2);
    t_propose(c, 1, "x");
    t_settle(c);
    cr_assert_eq(t_info(c, 1).commit, 3, "the learner is not needed to commit");
    t_heal(c);
    t_tick_all(c, 2);
    cr_assert_eq(c->applied_n[2], 1, "but it receives the log");
}

Test(raft_confchange, promotes_learner_to_voter)
{
    c = t_cluster_new(1, true, true);
    t_tick(c, 1, 25);
    t_add_member(c, 2);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_LEARNER, 2), 0);
    t_settle(c);
    cr_assert_eq(t_cc(1, RAFT_CC_ADD_VOTER, 2), 0);
    t_settle(c);
    const struct raft_conf *conf = raft_get_conf(c->r[1]);
    cr_assert_eq(conf->count, 2);
    cr_assert(conf->members[1].voter);
    t_isolate(c, 2);
    t_propose(c, 1, "x");
    t_settle(c);
    cr_assert_eq(t_info(c, 1).commit, 3, "now a voter: needed for quorum");
}

Test(raft_confchange, conf_change_entry_roundtrips)
{
    uint8_t buf[RAFT_CONF_CHANGE_LEN];
    struct raft_conf_change in = { RAFT_CC_REMOVE, 0x0102030405060708ULL }, out;
    raft_conf_change_encode(&in, buf);
    cr_assert_eq(raft_conf_change_decode(buf, sizeof(buf), &out), 0);
    cr_assert_eq(out.id, in.id);
    cr_assert_eq(out.type, in.type);
    cr_assert_eq(raft_conf_change_decode(buf, 3, &out), -EINVAL);
    buf[0] = 77;
    cr_assert_eq(raft_conf_change_decode(buf, sizeof(buf), &out), -EINVAL);
}
