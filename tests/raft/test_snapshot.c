/*
 * tests/raft/test_snapshot.c - log compaction and InstallSnapshot.
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "t_cluster.h"

static struct t_cluster *c;

static void t_teardown(void)
{
    t_cluster_free(c);
}

TestSuite(raft_snapshot, .fini = t_teardown);

Test(raft_snapshot, compact_rejects_unapplied_index)
{
    c = t_cluster_new(1, false, false);
    t_tick(c, 1, 25);
    t_propose(c, 1, "a");
    cr_assert_eq(raft_compact(c->r[1], 5, "s", 1), -EINVAL);
    cr_assert_eq(raft_compact(c->r[1], 2, "s", 1), 0);
    cr_assert_eq(t_info(c, 1).first_index, 3);
    cr_assert_eq(raft_term_at(c->r[1], 2), 1, "the snapshot keeps its last term");
    cr_assert_eq(raft_compact(c->r[1], 2, "s", 1), -EINVAL, "not beyond the current snapshot");
}

Test(raft_snapshot, sends_snapshot_to_follower_behind_compaction)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    t_propose(c, 1, "a");
    t_propose(c, 1, "b");
    t_settle(c);
    cr_assert_eq(t_info(c, 1).commit, 3);
    cr_assert_eq(raft_compact(c->r[1], 3, "IMAGE", 5), 0);
    t_heal(c);
    t_tick_all(c, 3);
    cr_assert_eq(t_info(c, 3).snapshot_index, 3);
    cr_assert_eq(t_info(c, 3).commit, 3);
    cr_assert_eq(c->applied_index[3], 3, "the snapshot was loaded");
    t_propose(c, 1, "c");
    t_settle(c);
    cr_assert_eq(c->applied_n[3], 1, "replication continues after the snapshot");
}

Test(raft_snapshot, follower_installs_snapshot_and_discards_log)
{
    c = t_cluster_new(3, false, false);
    struct raft_entry ents[3] = { { .term = 1, .index = 1 },
                                  { .term = 1, .index = 2 },
                                  { .term = 1, .index = 3 } };
    struct raft_restore rs = { .hard_state = { .term = 1 }, .entries = ents, .entry_count = 3 };
    raft_free(c->r[2]);
    struct raft_config cfg = c->cfg;
    cfg.id = 2;
    cfg.restore = &rs;
    cr_assert_eq(raft_new(&cfg, &c->r[2]), 0);
    struct raft_msg m = { .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3 };
    m.snapshot.meta =
        (struct raft_snapshot_meta){ .index = 10, .term = 2, .conf = c->cfg.bootstrap };
    m.snapshot.data = "state";
    m.snapshot.len = 5;
    cr_assert_eq(raft_step(c->r[2], &m), 0);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_not_null(rd.snapshot);
    cr_assert_eq(rd.snapshot->meta.index, 10);
    cr_assert_eq(rd.snapshot->len, 5);
    cr_assert_eq(rd.entry_count, 0);
    cr_assert_eq(rd.committed_count, 0);
    cr_assert_eq(rd.hard_state.commit, 10);
    cr_assert_eq(rd.msg_count, 1);
    cr_assert_eq(rd.msgs[0].index, 10);
    raft_advance(c->r[2], &rd);
    cr_assert_eq(t_info(c, 2).last_index, 10);
    cr_assert_eq(raft_term_at(c->r[2], 3), 0, "the old log is gone");
}

Test(raft_snapshot, ignores_snapshot_older_than_commit)
{
    c = t_cluster_new(3, false, false);
    t_elect(c, 1);
    t_propose(c, 1, "a");
    t_settle(c);
    struct raft_msg m = { .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1 };
    m.snapshot.meta =
        (struct raft_snapshot_meta){ .index = 1, .term = 1, .conf = c->cfg.bootstrap };
    cr_assert_eq(raft_step(c->r[2], &m), 0);
    struct raft_ready rd;
    raft_ready(c->r[2], &rd);
    cr_assert_null(rd.snapshot);
    raft_advance(c->r[2], &rd);
    cr_assert_eq(t_info(c, 2).last_index, 2);
}

Test(raft_snapshot, reported_snapshot_is_not_counted_until_acknowledged)
{
    c = t_cluster_new(3, true, true);
    t_elect(c, 1);
    t_isolate(c, 3);
    t_propose(c, 1, "a");
    t_propose(c, 1, "b");
    t_settle(c);
    cr_assert_eq(raft_compact(c->r[1], 3, "IMAGE", 5), 0);
    t_heal(c);
    t_tick(c, 1, 1); /* heartbeat: 3 answers, the leader finds it needs the snapshot */
    t_settle(c);
    t_drop_all(c);
    /* the last send may have been the snapshot itself; force one to be in flight and lose it */
    t_isolate(c, 3);
    t_tick(c, 1, 12); /* snapshot retry after an election timeout, lost */
    t_settle(c);
    raft_report_snapshot(c->r[1], 3, true);
    t_process(c, 1);
    /* a heartbeat must not tell 3 to commit what it does not hold */
    t_heal(c);
    t_tick(c, 1, 1);
    cr_assert_eq(t_queued(c, RAFT_MSG_HEARTBEAT, 1, 3), 1);
    t_settle(c);
    t_tick_all(c, 15);
    cr_assert_eq(t_info(c, 3).commit, 3);
    cr_assert_eq(c->applied_index[3], 3, "3 ends up with the snapshot, through its own answer");
}
