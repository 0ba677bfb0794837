/*
 * tests/raft/test_election.c - leader election, pre-vote, check-quorum, leases, transfer.
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "t_cluster.h"

static struct t_cluster *c;

static void t_teardown(void)
{
    t_cluster_free(c);
}

TestSuite(raft_election, .fini = t_teardown);

Test(raft_election, elects_leader_with_majority_votes)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(t_leader(c), 1);
    cr_assert_eq(t_info(c, 1).term, 1);
    cr_assert_eq(t_info(c, 2).leader, 1);
    cr_assert_eq(t_info(c, 3).leader, 1);
}

Test(raft_election, leader_appends_noop_on_election)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    cr_assert_eq(t_info(c, 1).last_index, 1);
    cr_assert_eq(raft_term_at(c->r[1], 1), 1);
    cr_assert_eq(t_info(c, 1).commit, 1, "the no-op commits once a majority holds it");
    cr_assert_eq(t_info(c, 2).commit, 1);
}

Test(raft_election, prevote_does_not_bump_term)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    for (int i = 0; i < 100; i++)
        t_tick(c, 3, 1);
    t_settle(c);
    cr_assert_eq(t_info(c, 3).term, 1, "an isolated member keeps its term with pre-vote");
    cr_assert_neq(t_info(c, 3).role, RAFT_CANDIDATE);
    t_heal(c);
    t_tick_all(c, 3);
    cr_assert_eq(t_leader(c), 1, "rejoining does not disrupt the leader");
    cr_assert_eq(t_info(c, 1).term, 1);
}

Test(raft_election, candidate_without_prevote_bumps_term)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    t_isolate(c, 3);
    for (int i = 0; i < 100; i++)
        t_tick(c, 3, 1);
    cr_assert_gt(t_info(c, 3).term, 1);
}

Test(raft_election, rejects_vote_for_candidate_with_stale_log)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    t_isolate(c, 3);
    cr_assert_eq(t_propose(c, 1, "x"), 0);
    t_settle(c);
    cr_assert_eq(t_info(c, 2).last_index, 2);
    cr_assert_eq(t_info(c, 3).last_index, 1);
    /* 3 campaigns with a shorter log: 2 must refuse */
    t_heal(c);
    t_isolate(c, 1);
    t_campaign(c, 3);
    cr_assert_eq(t_info(c, 3).role, RAFT_CANDIDATE);
    cr_assert_eq(t_queued(c, RAFT_MSG_VOTE, 3, 2), 1);
    t_settle(c);
    cr_assert_eq(t_info(c, 2).vote, 0, "2 did not vote for 3");
    cr_assert_neq(t_info(c, 3).role, RAFT_LEADER);
}

Test(raft_election, grants_one_vote_per_term)
{
    c = t_cluster_new(3, false, false);
    struct raft_msg v = { .type = RAFT_MSG_VOTE, .from = 1, .to = 3, .term = 5 };
    cr_assert_eq(raft_step(c->r[3], &v), 0);
    v.from = 2;
    cr_assert_eq(raft_step(c->r[3], &v), 0);
    struct raft_ready rd;
    raft_ready(c->r[3], &rd);
    cr_assert_eq(rd.msg_count, 2);
    cr_assert_eq(rd.msgs[0].reject, false);
    cr_assert_eq(rd.msgs[1].reject, true);
    cr_assert(rd.hard_state_changed);
    cr_assert_eq(rd.hard_state.vote, 1, "the vote is hard state, persisted before it is sent");
    cr_assert_eq(rd.msg_early_count, 0, "a vote answer must wait for the disk");
    raft_advance(c->r[3], &rd);
}

Test(raft_election, leader_steps_down_without_quorum_contact)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 1);
    for (int i = 0; i < 25; i++)
        t_tick(c, 1, 1);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
}

Test(raft_election, leader_with_quorum_contact_stays)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    t_tick_all(c, 50);
    cr_assert_eq(t_leader(c), 1);
}

Test(raft_election, follower_in_lease_ignores_higher_term_vote)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    struct raft_msg v = {
        .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 9, .index = 100, .log_term = 9
    };
    cr_assert_eq(raft_step(c->r[2], &v), 0);
    cr_assert_eq(t_info(c, 2).term, 1, "inside the lease the vote is ignored");
    cr_assert_eq(t_info(c, 2).leader, 1);
    v.force = true; /* a leader transfer bypasses the lease */
    cr_assert_eq(raft_step(c->r[2], &v), 0);
    cr_assert_eq(t_info(c, 2).term, 9);
    cr_assert_eq(t_info(c, 2).vote, 3);
}

Test(raft_election, stale_leader_steps_down_on_higher_term)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 1);
    for (int i = 0; i < 60; i++) { /* 1 is not ticked: it believes it still leads */
        t_tick(c, 2, 1);
        t_tick(c, 3, 1);
        t_settle(c);
    }
    raft_id l = t_leader(c);
    cr_assert(l == 2 || l == 3, "the majority elects a new leader once the lease ran out");
    cr_assert_eq(t_info(c, 1).role, RAFT_LEADER);
    t_heal(c);
    t_tick(c, 1, 1); /* old leader's heartbeat gets an answer at the new term */
    t_settle(c);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
    cr_assert_eq(t_info(c, 1).term, t_info(c, l).term);
}

Test(raft_election, learner_never_campaigns)
{
    c = t_cluster_new(1, true, true);
    c->cfg.bootstrap.members[1] = (struct raft_member){ 2, false };
    c->cfg.bootstrap.count = 2;
    raft_free(c->r[1]);
    struct raft_config cfg = c->cfg;
    cfg.id = 1;
    cr_assert_eq(raft_new(&cfg, &c->r[1]), 0);
    t_add_member(c, 2);
    t_tick(c, 2, 100);
    cr_assert_eq(t_info(c, 2).role, RAFT_FOLLOWER);
    cr_assert_eq(t_info(c, 2).term, 0);
}

Test(raft_election, single_member_elects_itself)
{
    c = t_cluster_new(1, true, true);
    t_tick(c, 1, 25);
    cr_assert_eq(t_info(c, 1).role, RAFT_LEADER);
    cr_assert_eq(t_propose(c, 1, "a"), 0);
    cr_assert_eq(t_info(c, 1).commit, 2);
    cr_assert_eq(c->applied_n[1], 1);
}

Test(raft_election, transfer_leader_hands_over_with_timeout_now)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(raft_transfer_leader(c->r[1], 3), 0);
    t_process(c, 1);
    t_settle(c);
    cr_assert_eq(t_leader(c), 3);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
    cr_assert_eq(t_info(c, 3).term, 2);
}

Test(raft_election, transfer_catches_target_up_first)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    cr_assert_eq(t_propose(c, 1, "x"), 0);
    t_settle(c);
    t_heal(c);
    cr_assert_eq(raft_transfer_leader(c->r[1], 3), 0);
    cr_assert_eq(raft_propose(c->r[1], "y", 1, NULL, NULL), -EBUSY, "proposals wait");
    t_process(c, 1);
    t_tick_all(c, 3);
    cr_assert_eq(t_leader(c), 3);
    cr_assert_eq(t_info(c, 3).last_index, 3);
}

Test(raft_election, transfer_gives_up_after_election_timeout)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    cr_assert_eq(raft_transfer_leader(c->r[1], 3), 0);
    t_tick_all(c, 12);
    cr_assert_eq(t_leader(c), 1);
    cr_assert_eq(t_info(c, 1).transferee, 0);
    cr_assert_eq(t_propose(c, 1, "z"), 0);
}

/* A member that cannot campaign (not yet a voter in its own log) must not hold on to its leader
 * lease forever: once the leader is silent it answers other candidates. */
Test(raft_election, non_voter_lease_expires_when_leader_is_silent)
{
    c = t_cluster_new(3, true, true);
    c->cfg.bootstrap.count = 2; /* member 3 starts outside the configuration */
    for (int i = 1; i <= 3; i++) {
        raft_free(c->r[i]);
        struct raft_config cfg = c->cfg;
        cfg.id = (raft_id)i;
        cr_assert_eq(raft_new(&cfg, &c->r[i]), 0);
    }
    struct raft_msg hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 3, .term = 1 };
    cr_assert_eq(raft_step(c->r[3], &hb), 0);
    t_process(c, 3);
    t_drop_all(c);
    t_tick(c, 3, 35);
    struct raft_msg pv = { .type = RAFT_MSG_PREVOTE, .from = 2, .to = 3, .term = 2 };
    cr_assert_eq(raft_step(c->r[3], &pv), 0);
    t_process(c, 3);
    cr_assert_eq(t_queued(c, RAFT_MSG_PREVOTE_RESP, 3, 2), 1, "the lease has expired");
}
