/*
 * tests/raft/test_replication.c - AppendEntries, commit rule, backtracking, batching, pipelining.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "t_cluster.h"

static struct t_cluster *c;

static void t_teardown(void)
{
    t_cluster_free(c);
}

TestSuite(raft_replication, .fini = t_teardown);

Test(raft_replication, replicates_and_commits_on_majority)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    cr_assert_eq(t_propose(c, 1, "a"), 0);
    cr_assert_eq(t_propose(c, 1, "b"), 0);
    t_settle(c);
    cr_assert_eq(t_info(c, 1).commit, 3);
    cr_assert_eq(c->applied_n[1], 2);
    cr_assert_str_eq(c->applied[1][1], "b");
    cr_assert_eq(c->applied_n[3], 0);
    t_heal(c);
    t_tick_all(c, 2);
    cr_assert_eq(c->applied_n[3], 2, "the lagging member catches up");
}

Test(raft_replication, follower_refuses_proposals)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    cr_assert_eq(raft_propose(c->r[2], "a", 1, NULL, NULL), -EPERM);
    cr_assert_eq(raft_leader(c->r[2]), 1);
}

Test(raft_replication, leader_counts_own_entry_only_after_persisted)
{
    c = t_cluster_new(1, false, false);
    t_tick(c, 1, 25);
    raft_index idx;
    cr_assert_eq(raft_propose(c->r[1], "a", 1, &idx, NULL), 0);
    struct raft_ready rd;
    raft_ready(c->r[1], &rd);
    cr_assert_eq(rd.entry_count, 1);
    cr_assert_eq(rd.committed_count, 0, "not committed before it is durable");
    raft_advance(c->r[1], &rd);
    cr_assert_eq(t_info(c, 1).commit, idx);
}

Test(raft_replication, leader_appends_go_out_before_persisting)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    cr_assert_eq(raft_propose(c->r[1], "a", 1, NULL, NULL), 0);
    struct raft_ready rd;
    raft_ready(c->r[1], &rd);
    cr_assert_eq(rd.entry_count, 1);
    cr_assert_eq(rd.msg_early_count, 2, "AppendEntries may be sent while the disk works");
    cr_assert_eq(rd.msgs_early[0].type, RAFT_MSG_APPEND);
    raft_advance(c->r[1], &rd);
}

Test(raft_replication, follower_ack_waits_for_persist)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    t_propose(c, 1, "a");
    cr_assert(t_deliver_one(c) || 1);
    /* every APPEND_RESP a follower produced went through msgs (after persist) */
    struct raft_msg m = { .type = RAFT_MSG_APPEND,
                          .from = 1,
                          .to = 2,
                          .term = 1,
                          .index = 2,
                          .log_term = 1,
                          .commit = 1 };
    struct raft_entry e = {
        .term = 1, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = "z"
    };
    t_settle(c);
    m.index = t_info(c, 2).last_index;
    e.index = m.index + 1;
    m.entries = &e;
    m.entry_count = 1;
    cr_assert_eq(raft_step(c->r[2], &m), 0);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_eq(rd.entry_count, 1);
    cr_assert_eq(rd.msg_early_count, 0);
    cr_assert_eq(rd.msg_count, 1);
    cr_assert_eq(rd.msgs[0].type, RAFT_MSG_APPEND_RESP);
    cr_assert_eq(rd.msgs[0].index, e.index);
    raft_advance(c->r[2], &rd);
}

/*
 * Figure 8 of the Raft paper: an entry of an older term replicated on a majority is not committed
 * by counting; it commits only together with an entry of the leader's term.
 */
Test(raft_replication, commits_only_current_term_entries_by_counting)
{
    c = t_cluster_new(3, false, false);
    struct raft_entry ents[2] = { { .term = 1, .index = 1 }, { .term = 2, .index = 2 } };
    struct raft_restore rs1 = { .hard_state = { .term = 3 }, .entries = ents, .entry_count = 2 };
    struct raft_restore rs3 = { .hard_state = { .term = 3 }, .entries = ents, .entry_count = 1 };
    for (int i = 1; i <= 3; i++) {
        raft_free(c->r[i]);
        struct raft_config cfg = c->cfg;
        cfg.id = (raft_id)i;
        cfg.restore = i == 3 ? &rs3 : &rs1;
        cr_assert_eq(raft_new(&cfg, &c->r[i]), 0);
    }
    t_elect_only(c, 1);
    cr_assert_eq(t_info(c, 1).term, 4);
    raft_index before = t_info(c, 1).commit;
    /* 2 reports it holds index 2 (term 2): a majority holds it, yet it must not commit */
    struct raft_msg ack = {
        .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 4, .index = 2
    };
    cr_assert_eq(raft_step(c->r[1], &ack), 0);
    t_process(c, 1);
    cr_assert_eq(t_info(c, 1).commit, before);
    cr_assert_lt(before, 2);
    ack.index = 3; /* the leader's no-op of term 4 */
    cr_assert_eq(raft_step(c->r[1], &ack), 0);
    t_process(c, 1);
    cr_assert_eq(t_info(c, 1).commit, 3, "index 2 commits indirectly with the term-4 entry");
}

Test(raft_replication, follower_truncates_conflicting_suffix)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    t_isolate(c, 1);
    t_propose(c, 1, "lost1");
    t_propose(c, 1, "lost2");
    t_drop_all(c);
    t_tick(c, 2, 40);
    t_settle(c);
    cr_assert_eq(t_leader(c), 2);
    t_propose(c, 2, "kept");
    t_settle(c);
    t_heal(c);
    t_tick_all(c, 3);
    cr_assert_eq(t_info(c, 1).role, RAFT_FOLLOWER);
    cr_assert_eq(c->applied_n[1], 1);
    cr_assert_str_eq(c->applied[1][0], "kept");
    cr_assert_eq(raft_term_at(c->r[1], 2), raft_term_at(c->r[2], 2));
}

Test(raft_replication, rejects_append_with_mismatched_prev_and_hints)
{
    c = t_cluster_new(3, false, false);
    struct raft_msg m = {
        .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .index = 5, .log_term = 1
    };
    cr_assert_eq(raft_step(c->r[2], &m), 0);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_eq(rd.msg_count, 1);
    cr_assert(rd.msgs[0].reject);
    cr_assert_eq(rd.msgs[0].index, 5);
    cr_assert_eq(rd.msgs[0].reject_hint, 0, "hint: the follower's log ends at 0");
    raft_advance(c->r[2], &rd);
}

/* A follower with a long divergent tail from one old term is repaired in a few round trips. */
Test(raft_replication, leader_backtracks_a_term_per_round_trip)
{
    c = t_cluster_new(3, false, false);
    struct raft_entry ents[60];
    for (int i = 0; i < 60; i++)
        ents[i] = (struct raft_entry){ .term = i < 10 ? 1 : 2, .index = (raft_index)i + 1 };
    struct raft_entry other[60];
    for (int i = 0; i < 60; i++)
        other[i] = (struct raft_entry){ .term = i < 10 ? 1 : 3, .index = (raft_index)i + 1 };
    struct raft_restore rs_old = { .hard_state = { .term = 3 },
                                   .entries = ents,
                                   .entry_count = 60 };
    struct raft_restore rs_new = { .hard_state = { .term = 3 },
                                   .entries = other,
                                   .entry_count = 50 };
    for (int i = 1; i <= 3; i++) {
        raft_free(c->r[i]);
        struct raft_config cfg = c->cfg;
        cfg.id = (raft_id)i;
        cfg.restore = i == 3 ? &rs_old : &rs_new;
        cr_assert_eq(raft_new(&cfg, &c->r[i]), 0);
    }
    t_elect(c, 1);
    cr_assert_eq(t_leader(c), 1);
    t_settle(c);
    cr_assert_eq(t_info(c, 3).last_index, 51);
    cr_assert_eq(raft_term_at(c->r[3], 30), 3);
    cr_assert_eq(t_info(c, 3).commit, 51);
}

Test(raft_replication, backtracking_needs_few_rejections)
{
    c = t_cluster_new(2, false, false);
    struct raft_entry ents[100], other[100];
    for (int i = 0; i < 100; i++) {
        ents[i] = (struct raft_entry){ .term = i < 5 ? 1 : 2, .index = (raft_index)i + 1 };
        other[i] = (struct raft_entry){ .term = i < 5 ? 1 : 3, .index = (raft_index)i + 1 };
    }
    struct raft_restore rs1 = { .hard_state = { .term = 3 }, .entries = other, .entry_count = 6 };
    struct raft_restore rs2 = { .hard_state = { .term = 3 }, .entries = ents, .entry_count = 100 };
    struct raft_config cfg = c->cfg;
    raft_free(c->r[1]);
    raft_free(c->r[2]);
    cfg.id = 1;
    cfg.restore = &rs1;
    cr_assert_eq(raft_new(&cfg, &c->r[1]), 0);
    cfg.id = 2;
    cfg.restore = &rs2;
    cr_assert_eq(raft_new(&cfg, &c->r[2]), 0);
    t_tick(c, 1, 40);
    int rejects = 0;
    while (c->qn) {
        if (c->q[0].type == RAFT_MSG_APPEND_RESP) {
            struct raft_msg m;
            cr_assert_eq(raft_msg_decode(c->q[0].bytes.data, c->q[0].bytes.len, &m), 0);
            rejects += m.reject;
            raft_msg_decoded_free(&m);
        }
        t_deliver_one(c);
    }
    cr_assert_eq(t_leader(c), 1);
    cr_assert_leq(rejects, 2, "one rejection skips the whole divergent term (got %d)", rejects);
    cr_assert_eq(t_info(c, 2).last_index, 7);
    cr_assert_eq(t_info(c, 2).commit, 7);
}

Test(raft_replication, batches_entries_per_message)
{
    c = t_cluster_new(2, false, false);
    t_elect(c, 1);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(raft_propose(c->r[1], "e", 1, NULL, NULL), 0);
    struct raft_ready rd;
    raft_ready(c->r[1], &rd);
    cr_assert_eq(rd.msg_early_count, 1, "ten proposals, one AppendEntries");
    cr_assert_eq(rd.msgs_early[0].entry_count, 10);
    raft_advance(c->r[1], &rd);
}

Test(raft_replication, pipelines_up_to_max_inflight)
{
    c = t_cluster_new(2, false, false);
    t_elect(c, 1);
    cr_assert_eq(t_queued(c, RAFT_MSG_APPEND, 1, 2), 0);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(raft_propose(c->r[1], "e", 1, NULL, NULL), 0);
        t_process(c, 1);
    }
    cr_assert_eq(t_queued(c, RAFT_MSG_APPEND, 1, 2), 8, "max_inflight messages without an answer");
    t_settle(c);
    cr_assert_eq(t_info(c, 2).last_index, 21);
    cr_assert_eq(t_info(c, 1).commit, 21);
}

Test(raft_replication, respects_max_msg_bytes)
{
    c = t_cluster_new(2, false, false);
    c->cfg.max_msg_bytes = 10;
    raft_free(c->r[1]);
    struct raft_config cfg = c->cfg;
    cfg.id = 1;
    cr_assert_eq(raft_new(&cfg, &c->r[1]), 0);
    t_elect(c, 1);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(raft_propose(c->r[1], "12345", 5, NULL, NULL), 0);
    struct raft_ready rd;
    raft_ready(c->r[1], &rd);
    cr_assert_eq(rd.msg_early_count, 2);
    cr_assert_eq(rd.msgs_early[0].entry_count, 2);
    raft_advance(c->r[1], &rd);
}

Test(raft_replication, restart_restores_hard_state_and_log)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_propose(c, 1, "a");
    t_settle(c);
    struct raft_entry ents[2] = { { .term = 1, .index = 1, .type = RAFT_ENTRY_NOOP },
                                  { .term = 1, .index = 2, .len = 1, .data = "a" } };
    struct raft_restore rs = { .hard_state = { .term = 1, .vote = 1, .commit = 2 },
                               .entries = ents,
                               .entry_count = 2 };
    raft_free(c->r[2]);
    struct raft_config cfg = c->cfg;
    cfg.id = 2;
    cfg.restore = &rs;
    cr_assert_eq(raft_new(&cfg, &c->r[2]), 0);
    struct raft_info in = t_info(c, 2);
    cr_assert_eq(in.term, 1);
    cr_assert_eq(in.vote, 1);
    cr_assert_eq(in.last_index, 2);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_eq(rd.committed_count, 2, "committed entries above applied are applied again");
    cr_assert_eq(rd.entry_count, 0, "restored entries are already durable");
    raft_advance(c->r[2], &rd);
}

Test(raft_replication, rejects_inconsistent_restore)
{
    c = t_cluster_new(1, false, false);
    struct raft_entry ents[2] = { { .term = 2, .index = 1 }, { .term = 1, .index = 2 } };
    struct raft_restore rs = { .hard_state = { .term = 2 }, .entries = ents, .entry_count = 2 };
    struct raft_config cfg = c->cfg;
    cfg.id = 1;
    cfg.restore = &rs;
    struct raft *r;
    cr_assert_eq(raft_new(&cfg, &r), -EINVAL, "terms must not decrease");
    rs.entry_count = 1;
    rs.applied = 5;
    cr_assert_eq(raft_new(&cfg, &r), -EINVAL, "applied beyond the log");
}

Test(raft_replication, restart_repairs_torn_batch)
{
    c = t_cluster_new(1, false, false);
    struct raft_entry ents[2] = { { .term = 2, .index = 1 }, { .term = 3, .index = 2 } };
    struct raft_restore rs = { .hard_state = { .term = 2, .vote = 1, .commit = 9 },
                               .entries = ents,
                               .entry_count = 2 };
    struct raft_config cfg = c->cfg;
    cfg.id = 1;
    cfg.restore = &rs;
    struct raft *r;
    cr_assert_eq(raft_new(&cfg, &r), 0);
    struct raft_info in;
    raft_get_info(r, &in);
    cr_assert_eq(in.term, 3, "raised to the last entry's term");
    cr_assert_eq(in.vote, 0, "no vote was durable in that term");
    cr_assert_eq(in.commit, 2, "lowered to the stored log");
    raft_free(r);
}

Test(raft_replication, rejects_malformed_messages)
{
    c = t_cluster_new(3, false, false);
    struct raft_msg m = { .type = 99, .from = 1, .to = 2, .term = 1 };
    cr_assert_eq(raft_step(c->r[2], &m), -EINVAL);
    m.type = RAFT_MSG_APPEND;
    m.to = 3;
    cr_assert_eq(raft_step(c->r[2], &m), -EINVAL, "not addressed to this member");
    m.to = 2;
    struct raft_entry e = { .term = 1, .index = 7 };
    m.entries = &e;
    m.entry_count = 1;
    cr_assert_eq(raft_step(c->r[2], &m), -EINVAL, "entries must follow the previous index");
}

/* A crash may keep the hard state of a Ready but not its entries: the persisted commit must
 * then not name an entry the disk does not hold yet (it could be a stale one of the old log). */
Test(raft_replication, persisted_commit_never_covers_entries_of_the_same_ready)
{
    c = t_cluster_new(3, false, false);
    struct raft_entry e[2] = { { .term = 1, .index = 1, .type = RAFT_ENTRY_NOOP },
                               { .term = 1, .index = 2, .len = 1, .data = "a" } };
    struct raft_msg m = { .type = RAFT_MSG_APPEND,
                          .from = 1,
                          .to = 2,
                          .term = 1,
                          .commit = 2,
                          .entries = e,
                          .entry_count = 2 };
    cr_assert_eq(raft_step(c->r[2], &m), 0);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_eq(rd.entry_count, 2);
    cr_assert_eq(rd.committed_count, 2, "applied after the batch is durable");
    cr_assert_eq(rd.hard_state.commit, 0, "commit is persisted only once its entries are");
    raft_advance(c->r[2], &rd);
    cr_assert(raft_has_ready(c->r[2]));
    raft_ready(c->r[2], &rd);
    cr_assert(rd.hard_state_changed);
    cr_assert_eq(rd.hard_state.commit, 2);
    raft_advance(c->r[2], &rd);
}
