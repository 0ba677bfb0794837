/*
 * tests/raft_wal/test_snap.c - snapshot files: save and load, newest wins, damaged ones skipped,
 * purge keeps the newest.
 */
#include <errno.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "raft/snap.h"
#include "t_util.h"

static char *t_dir;

static void t_setup(void)
{
    t_dir = t_mkdtemp();
}

static void t_teardown(void)
{
    t_rm_rf(t_dir);
}

TestSuite(raft_snap, .init = t_setup, .fini = t_teardown);

Test(raft_snap, none_is_enoent)
{
    struct raft_snap s;
    cr_assert_eq(raft_snap_load(t_dir, &s), -ENOENT);
}

Test(raft_snap, newest_valid_wins_and_damaged_is_skipped)
{
    struct raft_snap s;
    cr_redirect_stderr();
    cr_assert_eq(raft_snap_save(t_dir, 10, 1, "m", 1, "ten", 3), 0);
    cr_assert_eq(raft_snap_save(t_dir, 200, 2, "meta", 4, "two hundred", 11), 0);
    cr_assert_eq(raft_snap_save(t_dir, 30, 1, NULL, 0, "", 0), 0);
    cr_assert_eq(raft_snap_load(t_dir, &s), 0);
    cr_assert_eq(s.index, 200);
    cr_assert_eq(s.term, 2);
    cr_assert_eq(s.len, 11);
    cr_assert_eq(memcmp(s.data, "two hundred", 11), 0);
    cr_assert_eq(s.meta_len, 4);
    cr_assert_eq(memcmp(s.meta, "meta", 4), 0);
    raft_snap_free(&s);

    char path[512];
    snprintf(path, sizeof(path), "%s/%016x-%016x.snap", t_dir, 200, 2);
    t_xor_byte(path, 50, 1); /* a bit of the meta */
    cr_assert_eq(raft_snap_load(t_dir, &s), 0);
    cr_assert_eq(s.index, 30);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(s.meta_len, 0);
    raft_snap_free(&s);

    cr_assert_eq(raft_snap_purge(t_dir, 1), 0);
    cr_assert_eq(t_count_files(t_dir, ".snap"), 1);
    cr_assert_eq(raft_snap_load(t_dir, &s), -ENOENT, "only the damaged newest is left");
}
