/*
 * tests/store/test_store.c - the key space: operations, JSON rendering, errors, TTLs and the
 * history scan, against spec/v2-keys-api.md (cases S-xx of section 11.1).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/ecode.h"
#include "t_store.h"

TestSuite(store, .init = t_setup, .fini = t_teardown);

/* ---- set / get / create / update ---- */

Test(store, create_then_get_returns_value_at_index_1) /* S-01 */
{
    cr_assert_eq(t_create("/foo", "bar"), 0);
    cr_assert_str_eq(t_get("/foo", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/foo\",\"value\":\"bar\","
                     "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_eq(store_index(t_store), 1);
}

Test(store, empty_root_renders_without_key_or_indexes) /* H-01 */
{
    cr_assert_str_eq(t_get("/", false), "{\"action\":\"get\",\"node\":{\"dir\":true}}\n");
    cr_assert_eq(t_set("/a", "1"), 0);
    cr_assert_str_eq(t_get("/", false),
                     "{\"action\":\"get\",\"node\":{\"dir\":true,\"nodes\":[{\"key\":\"/a\","
                     "\"value\":\"1\",\"modifiedIndex\":1,\"createdIndex\":1}]}}\n");
}

Test(store, recursive_sorted_get_orders_every_level) /* S-02 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_set("/foo/x", "1"), 0);
    cr_assert_eq(t_set("/foo/z", "3"), 0);
    cr_assert_eq(t_mkdir("/foo/y"), 0);
    cr_assert_eq(t_set("/foo/y/b", "b"), 0);
    cr_assert_eq(t_set("/foo/y/a", "a"), 0);
    cr_assert_str_eq(
        t_get("/foo", true),
        "{\"action\":\"get\",\"node\":{\"key\":\"/foo\",\"dir\":true,\"nodes\":["
        "{\"key\":\"/foo/x\",\"value\":\"1\",\"modifiedIndex\":2,\"createdIndex\":2},"
        "{\"key\":\"/foo/y\",\"dir\":true,\"nodes\":["
        "{\"key\":\"/foo/y/a\",\"value\":\"a\",\"modifiedIndex\":6,\"createdIndex\":6},"
        "{\"key\":\"/foo/y/b\",\"value\":\"b\",\"modifiedIndex\":5,\"createdIndex\":5}],"
        "\"modifiedIndex\":4,\"createdIndex\":4},"
        "{\"key\":\"/foo/z\",\"value\":\"3\",\"modifiedIndex\":3,\"createdIndex\":3}],"
        "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/foo", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/foo\",\"dir\":true,\"nodes\":["
                     "{\"key\":\"/foo/x\",\"value\":\"1\",\"modifiedIndex\":2,\"createdIndex\":2},"
                     "{\"key\":\"/foo/y\",\"dir\":true,\"modifiedIndex\":4,\"createdIndex\":4},"
                     "{\"key\":\"/foo/z\",\"value\":\"3\",\"modifiedIndex\":3,\"createdIndex\":3}],"
                     "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, set_empty_value_keeps_value_field) /* S-03 */
{
    cr_assert_eq(t_set("/foo", ""), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"\","
                              "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert(t_event(0)->created);
    cr_assert_eq(t_event(0)->index, 1);
}

Test(store, set_over_key_reports_prev_node_and_new_created_index) /* S-04, H-02 */
{
    cr_assert_eq(t_set("/foo", ""), 0);
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"bar\","
                     "\"modifiedIndex\":2,\"createdIndex\":2},\"prevNode\":{\"key\":\"/foo\","
                     "\"value\":\"\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_not(t_event(0)->created);
    cr_assert_eq(t_set("/foo", "baz"), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"baz\","
                     "\"modifiedIndex\":3,\"createdIndex\":3},\"prevNode\":{\"key\":\"/foo\","
                     "\"value\":\"bar\",\"modifiedIndex\":2,\"createdIndex\":2}}\n");
}

Test(store, set_creates_missing_ancestors_with_the_write_index) /* S-05, 7.2 */
{
    cr_assert_eq(t_set("/a/b/c/d", "efg"), 0);
    cr_assert_eq(store_index(t_store), 1);
    cr_assert_str_eq(
        t_get("/a", true),
        "{\"action\":\"get\",\"node\":{\"key\":\"/a\",\"dir\":true,\"nodes\":[{\"key\":\"/a/b\","
        "\"dir\":true,\"nodes\":[{\"key\":\"/a/b/c\",\"dir\":true,\"nodes\":[{\"key\":"
        "\"/a/b/c/d\",\"value\":\"efg\",\"modifiedIndex\":1,\"createdIndex\":1}],"
        "\"modifiedIndex\":1,\"createdIndex\":1}],\"modifiedIndex\":1,\"createdIndex\":1}],"
        "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, set_dir_has_dir_and_no_value) /* S-06 */
{
    cr_assert_eq(t_mkdir("/dir"), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/dir\",\"dir\":true,"
                              "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert(t_event(0)->dir);
    cr_assert_str_eq(t_get("/dir", true),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/dir\","
                     "\"dir\":true,\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, create_empty_value_is_action_create) /* S-07 */
{
    cr_assert_eq(t_create("/empty", ""), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"create\",\"node\":{\"key\":\"/empty\",\"value\":"
                              "\"\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert(t_event(0)->created);
}

Test(store, create_existing_fails_105_with_current_index) /* S-08 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_set("/other", "x"), 0);
    cr_assert_eq(t_create("/foo", "x"), ET_E_NODE_EXIST);
    cr_assert_str_eq(t_cause(), "/foo");
    cr_assert_eq(t_err_index(), 2);
    cr_assert_eq(t_event_count(), 0);
    cr_assert_eq(store_index(t_store), 2);
}

Test(store, update_keeps_created_index_and_reports_prev) /* S-09 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_update("/foo", "baz"), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"update\",\"node\":{\"key\":\"/foo\",\"value\":\"baz\","
                     "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":\"/foo\","
                     "\"value\":\"bar\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_eq(t_update("/foo", ""), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"update\",\"node\":{\"key\":\"/foo\",\"value\":\"\","
                     "\"modifiedIndex\":3,\"createdIndex\":1},\"prevNode\":{\"key\":\"/foo\","
                     "\"value\":\"baz\",\"modifiedIndex\":2,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/foo", false), "{\"action\":\"get\",\"node\":{\"key\":\"/foo\","
                                           "\"value\":\"\",\"modifiedIndex\":3,"
                                           "\"createdIndex\":1}}\n");
}

Test(store, update_dir_with_value_fails_102) /* S-10 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_update("/foo", "baz"), ET_E_NOT_FILE);
    cr_assert_str_eq(t_cause(), "/foo");
    cr_assert_eq(t_err_index(), 1);
}

Test(store, update_missing_fails_100) /* H-04 */
{
    cr_assert_eq(t_update("/new2", "x"), ET_E_KEY_NOT_FOUND);
    cr_assert_str_eq(t_cause(), "/new2");
}

Test(store, dir_update_reports_new_index_but_keeps_old_one) /* Q1 */
{
    cr_assert_eq(t_mkdir("/d"), 0);
    cr_assert_eq(t_update_ttl("/d", "", 10000), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"update\",\"node\":{\"key\":\"/d\",\"dir\":true,"
                     "\"expiration\":\"2023-11-14T22:13:30Z\",\"ttl\":10,"
                     "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":\"/d\","
                     "\"dir\":true,\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/d", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/d\",\"dir\":true,"
                     "\"expiration\":\"2023-11-14T22:13:30Z\",\"ttl\":10,"
                     "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, set_dir_over_key_replaces_it) /* H-09 */
{
    cr_assert_eq(t_set("/f2", "v"), 0);
    cr_assert_eq(t_mkdir("/f2"), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/f2\",\"dir\":true,"
                              "\"modifiedIndex\":2,\"createdIndex\":2},\"prevNode\":{\"key\":"
                              "\"/f2\",\"value\":\"v\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, set_over_dir_fails_102) /* H-08 */
{
    cr_assert_eq(t_mkdir("/dir1"), 0);
    cr_assert_eq(t_mkdir("/dir1"), ET_E_NOT_FILE);
    cr_assert_str_eq(t_cause(), "/dir1");
    cr_assert_eq(t_set("/dir1", "x"), ET_E_NOT_FILE);
}

/* ---- delete / compare ---- */

Test(store, delete_key_reports_prev_node_without_value_in_node) /* S-11 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_del("/foo", false, false), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"delete\",\"node\":{\"key\":\"/foo\","
                              "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":"
                              "\"/foo\",\"value\":\"bar\",\"modifiedIndex\":1,"
                              "\"createdIndex\":1}}\n");
    cr_assert(t_event(0)->removal);
    cr_assert_str_eq(t_get("/foo", false), "E100 /foo");
}

Test(store, delete_empty_dir_with_dir_flag) /* S-12 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_del("/foo", true, false), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"delete\",\"node\":{\"key\":\"/foo\",\"dir\":true,"
                              "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":"
                              "\"/foo\",\"dir\":true,\"modifiedIndex\":1,\"createdIndex\":1}}\n");
}

Test(store, delete_nonempty_dir_needs_recursive) /* S-13 */
{
    cr_assert_eq(t_mkdir("/foo/bar"), 0);
    cr_assert_eq(t_del("/foo", true, false), ET_E_DIR_NOT_EMPTY);
    cr_assert_str_eq(t_cause(), "/foo");
    cr_assert_eq(t_del("/foo", false, true), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert_str_eq(t_get("/foo/bar", false), "E100 /foo");
}

Test(store, delete_dir_without_flags_fails_102) /* S-14 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_del("/foo", false, false), ET_E_NOT_FILE);
    cr_assert_str_eq(t_cause(), "/foo");
}

Test(store, root_is_read_only) /* S-15, H-19 */
{
    cr_assert_eq(t_set("/", "x"), ET_E_ROOT_RONLY);
    cr_assert_str_eq(t_cause(), "/");
    cr_assert_eq(t_del("/", true, true), ET_E_ROOT_RONLY);
    cr_assert_eq(t_del("/", false, false), ET_E_ROOT_RONLY);
    cr_assert_eq(t_create("/", "x"), ET_E_ROOT_RONLY);
    cr_assert_eq(t_update("/", "x"), ET_E_ROOT_RONLY);
    cr_assert_eq(t_cas("/", "x", "y", 0), ET_E_ROOT_RONLY);
    cr_assert_eq(t_cad("/", "y", 0), ET_E_NOT_FILE);
    cr_assert_str_eq(t_cause(), ""); /* 3.4 names no cause here */
    cr_assert_eq(store_index(t_store), 0);
}

Test(store, compare_and_delete_by_value_or_index) /* S-16 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_cad("/foo", "bar", 0), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"compareAndDelete\",\"node\":{\"key\":\"/foo\","
                              "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":"
                              "\"/foo\",\"value\":\"bar\",\"modifiedIndex\":1,"
                              "\"createdIndex\":1}}\n");
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_cad("/foo", NULL, 3), 0);
    cr_assert_str_eq(t_get("/foo", false), "E100 /foo");
}

Test(store, compare_and_delete_mismatch_fails_101) /* S-17, H-21 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_cad("/foo", "baz", 0), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[baz != bar]");
    cr_assert_eq(t_err_index(), 1);
    cr_assert_eq(t_cad("/foo", NULL, 100), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[100 != 1]");
    cr_assert_eq(t_cad("/foo", "baz", 100), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[baz != bar] [100 != 1]");
    cr_assert_eq(t_cad("/foo", "bar", 100), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[100 != 1]");
    cr_assert_eq(store_index(t_store), 1);
    cr_assert_str_eq(t_get("/foo", false), "{\"action\":\"get\",\"node\":{\"key\":\"/foo\","
                                           "\"value\":\"bar\",\"modifiedIndex\":1,"
                                           "\"createdIndex\":1}}\n");
}

Test(store, compare_and_delete_dir_fails_102) /* S-18 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_cad("/foo", NULL, 0), ET_E_NOT_FILE);
    cr_assert_str_eq(t_cause(), "/foo");
}

Test(store, compare_and_swap_by_value_or_index) /* S-19 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_cas("/foo", "baz", "bar", 0), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"compareAndSwap\",\"node\":{\"key\":\"/foo\",\"value\":"
                     "\"baz\",\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":"
                     "\"/foo\",\"value\":\"bar\",\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_eq(t_cas("/foo", "qux", NULL, 2), 0);
    cr_assert_str_eq(t_get("/foo", false), "{\"action\":\"get\",\"node\":{\"key\":\"/foo\","
                                           "\"value\":\"qux\",\"modifiedIndex\":3,"
                                           "\"createdIndex\":1}}\n");
}

Test(store, compare_and_swap_mismatch_fails_101_unchanged) /* S-20 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_cas("/foo", "baz", "wrong", 0), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[wrong != bar]");
    cr_assert_eq(t_cas("/foo", "baz", "wrong", 100), ET_E_TEST_FAILED);
    cr_assert_str_eq(t_cause(), "[wrong != bar] [100 != 1]");
    cr_assert_eq(t_err_index(), 1);
    cr_assert_eq(store_index(t_store), 1);
    cr_assert_eq(t_cas("/missing", "x", "y", 0), ET_E_KEY_NOT_FOUND);
    cr_assert_eq(t_mkdir("/d"), 0);
    cr_assert_eq(t_cas("/d", "x", "y", 0), ET_E_NOT_FILE);
}

/* ---- paths and errors ---- */

Test(store, missing_path_cause_is_first_missing_component) /* 4.5 */
{
    cr_assert_str_eq(t_get("/nonexist/deeper/x", false), "E100 /nonexist");
    cr_assert_eq(t_mkdir("/a"), 0);
    cr_assert_str_eq(t_get("/a/zz/yy", false), "E100 /a/zz");
}

Test(store, path_below_key_fails_104_naming_the_key) /* H-10, H-12, 4.5 */
{
    cr_assert_eq(t_set("/a/b/c/d", "v"), 0);
    cr_assert_str_eq(t_get("/a/b/c/d/e", false), "E104 /a/b/c/d");
    cr_assert_eq(t_set("/a/b/c/d/e/f", "v"), ET_E_NOT_DIR);
    cr_assert_str_eq(t_cause(), "/a/b/c/d");
    cr_assert_eq(t_err_index(), 1);
    cr_assert_eq(t_create("/a/b/c/d/e", "v"), ET_E_NOT_DIR);
    cr_assert_eq(t_post("/a/b/c/d", "v"), ET_E_NOT_DIR);
    cr_assert_str_eq(t_cause(), "/a/b/c/d");
    cr_assert_eq(t_del("/a/b/c/d/e", false, false), ET_E_NOT_DIR);
    cr_assert_eq(store_index(t_store), 1);
}

Test(store, post_names_child_by_20_digit_index) /* 5.4, H-11 */
{
    cr_assert_eq(t_set("/x", "1"), 0);
    cr_assert_eq(t_post("/queue", "Job1"), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"create\",\"node\":{\"key\":"
                              "\"/queue/00000000000000000002\",\"value\":\"Job1\","
                              "\"modifiedIndex\":2,\"createdIndex\":2}}\n");
    cr_assert(t_event(0)->created);
    cr_assert_eq(t_post("/", ""), 0);
    cr_assert_str_eq(t_event(0)->key, "/00000000000000000003");
}

Test(store, json_escapes_keys_and_values_like_go) /* 4.6 */
{
    cr_assert_eq(t_set("/q", "<a>&\"q\"\\ tab\tnl\n \xc3\xa9"), 0);
    cr_assert_str_eq(t_get("/q", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/q\",\"value\":\"\\u003ca\\u003e"
                     "\\u0026\\\"q\\\"\\\\ tab\\tnl\\n \xc3\xa9\",\"modifiedIndex\":1,"
                     "\"createdIndex\":1}}\n");
}

Test(store, malformed_keys_are_rejected)
{
    cr_assert_eq(t_set("foo", "x"), ET_E_INVALID_FIELD);
    cr_assert_eq(t_set("/a//b", "x"), ET_E_INVALID_FIELD);
    cr_assert_eq(t_set("/a/", "x"), ET_E_INVALID_FIELD);
    cr_assert_eq(t_set("/a/../b", "x"), ET_E_INVALID_FIELD);
    cr_assert_eq(store_index(t_store), 0);
}

Test(store, hidden_nodes_are_listed_nowhere_but_readable) /* 8 */
{
    cr_assert_eq(t_set("/hd/_hidden", "h"), 0);
    cr_assert_eq(t_set("/hd/_hdir/inner", "i"), 0);
    cr_assert_eq(t_set("/hd/vis", "v"), 0);
    cr_assert_str_eq(t_get("/hd", true),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/hd\",\"dir\":true,\"nodes\":["
                     "{\"key\":\"/hd/vis\",\"value\":\"v\",\"modifiedIndex\":3,"
                     "\"createdIndex\":3}],\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/hd/_hidden", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/hd/_hidden\",\"value\":\"h\","
                     "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/hd/_hdir", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/hd/_hdir\",\"dir\":true,"
                     "\"nodes\":[{\"key\":\"/hd/_hdir/inner\",\"value\":\"i\",\"modifiedIndex\":"
                     "2,\"createdIndex\":2}],\"modifiedIndex\":2,\"createdIndex\":2}}\n");
}

Test(store, internal_set_and_delete_consume_indexes_without_stats)
{
    struct store_cmd c = { .op = STORE_OP_INTERNAL_SET,
                           .key = "/_etcd/machines/n1",
                           .key_len = 18,
                           .value = "raft=x",
                           .value_len = 6 };
    cr_assert_eq(t_apply(c), 0);
    cr_assert_eq(t_event(0)->index, 1);
    cr_assert_eq(t_event(0)->action, STORE_ACTION_SET);
    struct store_cmd d = { .op = STORE_OP_INTERNAL_DELETE, .key = "/_etcd", .key_len = 6 };
    cr_assert_eq(t_apply(d), 0);
    cr_assert_eq(t_event(0)->action, STORE_ACTION_DELETE);
    cr_assert_str_eq(t_get("/_etcd", false), "E100 /_etcd");
    struct store_stats st;
    store_stats_get(t_store, &st);
    cr_assert_eq(st.sets_success + st.delete_success, 0);
}

Test(store, stats_count_client_operations)
{
    cr_assert_eq(t_set("/a", "1"), 0);
    cr_assert_eq(t_create("/a", "1"), ET_E_NODE_EXIST);
    cr_assert_eq(t_post("/q", "1"), 0);
    cr_assert_eq(t_update("/a", "2"), 0);
    cr_assert_eq(t_update("/zz", "2"), ET_E_KEY_NOT_FOUND);
    cr_assert_eq(t_cas("/a", "3", "2", 0), 0);
    cr_assert_eq(t_cas("/a", "3", "nope", 0), ET_E_TEST_FAILED);
    cr_assert_eq(t_cad("/a", "nope", 0), ET_E_TEST_FAILED);
    cr_assert_eq(t_refresh(STORE_OP_SET, "/a", 0), 0);
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_del("/a", false, false), ET_E_KEY_NOT_FOUND);
    struct store_stats st;
    store_stats_get(t_store, &st);
    cr_assert_eq(st.sets_success, 2);
    cr_assert_eq(st.create_success, 1);
    cr_assert_eq(st.create_fail, 1);
    cr_assert_eq(st.update_success, 1);
    cr_assert_eq(st.update_fail, 1);
    cr_assert_eq(st.cas_success, 1);
    cr_assert_eq(st.cas_fail, 1);
    cr_assert_eq(st.cad_fail, 1);
    cr_assert_eq(st.delete_fail, 1);
    cr_assert_eq(st.expire_count, 1);
}

/* ---- TTL ---- */

Test(store, expiration_before_2000_is_permanent) /* S-30 */
{
    struct store_cmd c = { .op = STORE_OP_SET,
                           .key = "/foo",
                           .key_len = 4,
                           .value = "bar",
                           .value_len = 3,
                           .expire_ns = 946684799LL * ET_NS_PER_SEC };
    cr_assert_eq(t_apply(c), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"bar\","
                              "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_eq(store_next_expiry(t_store), INT64_MAX);
    t_now += 1000 * ET_NS_PER_SEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 0);
    cr_assert_eq(store_index(t_store), 1);
}

Test(store, ttl_renders_expiration_and_ceiling_seconds) /* S-31, H-14, 4.7 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_set("/foo/bar", "X"), 0);
    cr_assert_eq(t_set("/foo/_hidden", "Y"), 0);
    cr_assert_eq(t_mkdir("/foo/baz"), 0);
    cr_assert_eq(t_set("/foo/baz/k", "Z"), 0);
    cr_assert_eq(t_set("/foo/baz/_h", "W"), 0);
    cr_assert_eq(t_set_ttl("/foo/ttl", "T", 3000), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/foo/ttl\",\"value\":"
                              "\"T\",\"expiration\":\"2023-11-14T22:13:23Z\",\"ttl\":3,"
                              "\"modifiedIndex\":7,\"createdIndex\":7}}\n");
    cr_assert_str_eq(
        t_get("/foo", true),
        "{\"action\":\"get\",\"node\":{\"key\":\"/foo\",\"dir\":true,\"nodes\":["
        "{\"key\":\"/foo/bar\",\"value\":\"X\",\"modifiedIndex\":2,\"createdIndex\":2},"
        "{\"key\":\"/foo/baz\",\"dir\":true,\"nodes\":[{\"key\":\"/foo/baz/k\",\"value\":\"Z\","
        "\"modifiedIndex\":5,\"createdIndex\":5}],\"modifiedIndex\":4,\"createdIndex\":4},"
        "{\"key\":\"/foo/ttl\",\"value\":\"T\",\"expiration\":\"2023-11-14T22:13:23Z\","
        "\"ttl\":3,\"modifiedIndex\":7,\"createdIndex\":7}],\"modifiedIndex\":1,"
        "\"createdIndex\":1}}\n");
    t_now += 1500 * ET_NS_PER_MSEC;
    cr_assert(strstr(t_get("/foo/ttl", false), "\"ttl\":2,") != NULL);
    t_now += 1500 * ET_NS_PER_MSEC; /* exactly at expiry: ttl 0 is omitted */
    cr_assert(strstr(t_get("/foo/ttl", false), "\"ttl\"") == NULL);
    t_now += 1500 * ET_NS_PER_MSEC; /* past it, before a sweep: negative */
    cr_assert(strstr(t_get("/foo/ttl", false), "\"ttl\":-1,") != NULL);
}

Test(store, ttl_zero_expires_at_next_sweep) /* H-15, Q7 */
{
    cr_assert_eq(t_set_ttl("/z", "v", 0), 0);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"set\",\"node\":{\"key\":\"/z\",\"value\":\"v\","
                              "\"expiration\":\"2023-11-14T22:13:20Z\",\"modifiedIndex\":1,"
                              "\"createdIndex\":1}}\n");
    cr_assert_eq(store_next_expiry(t_store), T_EPOCH_NS);
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"expire\",\"node\":{\"key\":\"/z\","
                              "\"modifiedIndex\":2,\"createdIndex\":1},\"prevNode\":{\"key\":"
                              "\"/z\",\"value\":\"v\",\"expiration\":\"2023-11-14T22:13:20Z\","
                              "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_eq(store_next_expiry(t_store), INT64_MAX);
}

Test(store, update_adds_ttl_and_sweep_removes_key) /* S-32 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_update_ttl("/foo", "bar", 500), 0);
    t_now += 400 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 0);
    t_now += 200 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert_str_eq(t_get("/foo", false), "E100 /foo");
    struct store_stats st;
    store_stats_get(t_store, &st);
    cr_assert_eq(st.expire_count, 1);
}

Test(store, update_without_ttl_makes_key_permanent) /* 5.3.4 */
{
    cr_assert_eq(t_set_ttl("/foo", "bar", 500), 0);
    cr_assert_eq(t_update("/foo", "baz"), 0);
    cr_assert_eq(store_next_expiry(t_store), INT64_MAX);
    t_now += 1000 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 0);
}

Test(store, dir_expiry_removes_subtree_with_one_event) /* S-33, 6.3 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_set_ttl("/foo/child", "c", 550), 0);
    cr_assert_eq(t_set("/foo/sub/k", "k"), 0);
    cr_assert_eq(t_update_ttl("/foo", "", 500), 0);
    t_now += 600 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert_str_eq(t_ev(0), "{\"action\":\"expire\",\"node\":{\"key\":\"/foo\",\"dir\":true,"
                              "\"modifiedIndex\":5,\"createdIndex\":1},\"prevNode\":{\"key\":"
                              "\"/foo\",\"dir\":true,\"expiration\":\"2023-11-14T22:13:20.5Z\","
                              "\"modifiedIndex\":1,\"createdIndex\":1}}\n");
    cr_assert_str_eq(t_get("/foo/child", false), "E100 /foo");
    cr_assert_eq(store_next_expiry(t_store), INT64_MAX);
}

Test(store, sweep_expires_in_expiration_order_with_own_indexes) /* S-34 */
{
    cr_assert_eq(t_set_ttl("/foo", "bar", 400), 0);
    cr_assert_eq(t_set_ttl("/foofoo", "barbarbar", 450), 0);
    cr_assert_eq(t_mkdir_ttl("/foodir", 500), 0);
    t_now += 600 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 3);
    cr_assert_str_eq(t_event(0)->key, "/foo");
    cr_assert_eq(t_event(0)->index, 4);
    cr_assert_str_eq(t_event(1)->key, "/foofoo");
    cr_assert_eq(t_event(1)->index, 5);
    cr_assert_str_eq(t_event(2)->key, "/foodir");
    cr_assert_eq(t_event(2)->index, 6);
    cr_assert(t_event(2)->dir);
    cr_assert_str_eq(t_hist("/", true, 5),
                     "{\"action\":\"expire\",\"node\":{\"key\":\"/foofoo\",\"modifiedIndex\":5,"
                     "\"createdIndex\":2},\"prevNode\":{\"key\":\"/foofoo\",\"value\":"
                     "\"barbarbar\",\"expiration\":\"2023-11-14T22:13:20.45Z\","
                     "\"modifiedIndex\":2,\"createdIndex\":2}}\n");
    cr_assert_str_eq(t_hist("/", true, 6),
                     "{\"action\":\"expire\",\"node\":{\"key\":\"/foodir\",\"dir\":true,"
                     "\"modifiedIndex\":6,\"createdIndex\":3},\"prevNode\":{\"key\":\"/foodir\","
                     "\"dir\":true,\"expiration\":\"2023-11-14T22:13:20.5Z\","
                     "\"modifiedIndex\":3,\"createdIndex\":3}}\n");
    cr_assert_eq(store_index(t_store), 6);
}

Test(store, refresh_is_hidden_from_history_and_expiry_follows) /* S-35, 6.4 */
{
    cr_assert_eq(t_set_ttl("/foo", "bar", 1000), 0);
    cr_assert_eq(t_refresh(STORE_OP_UPDATE, "/foo", 2000), 0);
    cr_assert(t_event(0)->refresh);
    cr_assert_eq(store_index(t_store), 2);
    cr_assert_str_eq(t_hist("/foo", false, 2), "none");
    t_now += 2100 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert(strncmp(t_hist("/foo", false, 2), "{\"action\":\"expire\"", 18) == 0);
}

Test(store, refresh_keeps_value_through_to_expiry) /* S-36, Q9 */
{
    cr_assert_eq(t_set_ttl("/foo", "bar", 500), 0);
    cr_assert_eq(t_refresh(STORE_OP_SET, "/foo", 800), 0);
    cr_assert_str_eq(t_ev(0),
                     "{\"action\":\"set\",\"node\":{\"key\":\"/foo\",\"value\":\"bar\","
                     "\"expiration\":\"2023-11-14T22:13:20.8Z\",\"ttl\":1,\"modifiedIndex\":2,"
                     "\"createdIndex\":2},\"prevNode\":{\"key\":\"/foo\",\"value\":\"bar\","
                     "\"expiration\":\"2023-11-14T22:13:20.5Z\",\"ttl\":1,\"modifiedIndex\":1,"
                     "\"createdIndex\":1}}\n");
    t_now += 900 * ET_NS_PER_MSEC;
    cr_assert_eq(t_sweep(), 0);
    cr_assert_eq(t_event_count(), 1);
    cr_assert(strstr(t_ev(0), "\"prevNode\":{\"key\":\"/foo\",\"value\":\"bar\"") != NULL);
}

Test(store, ttl_change_without_refresh_is_an_update_event) /* S-37 */
{
    cr_assert_eq(t_set("/foo", "bar"), 0);
    cr_assert_eq(t_update_ttl("/foo", "bar", 5000), 0);
    cr_assert_not(t_event(0)->refresh);
    cr_assert(strncmp(t_hist("/foo", false, 2), "{\"action\":\"update\"", 18) == 0);
}

Test(store, refresh_works_for_every_write_kind) /* S-38 */
{
    cr_assert_eq(t_set_ttl("/key", "v", 1000), 0);
    cr_assert_eq(t_mkdir_ttl("/dir", 1000), 0);
    cr_assert_eq(t_refresh(STORE_OP_UPDATE, "/key", 2000), 0);
    cr_assert_eq(t_refresh(STORE_OP_SET, "/key", 2000), 0);
    cr_assert_eq(t_refresh(STORE_OP_UPDATE, "/dir", 2000), 0);
    struct store_cmd c = { .op = STORE_OP_CAS,
                           .key = "/key",
                           .key_len = 4,
                           .refresh = true,
                           .has_prev_value = true,
                           .prev_value = "v",
                           .prev_value_len = 1,
                           .expire_ns = t_now + 3 * ET_NS_PER_SEC };
    cr_assert_eq(t_apply(c), 0);
    cr_assert(strstr(t_ev(0), "\"node\":{\"key\":\"/key\",\"value\":\"v\"") != NULL);
    cr_assert_eq(t_refresh(STORE_OP_SET, "/absent", 1000), ET_E_KEY_NOT_FOUND);
    cr_assert_eq(t_refresh(STORE_OP_SET, "/dir", 1000), ET_E_NOT_FILE);
}

Test(store, refresh_with_create_makes_empty_node) /* Q10 */
{
    cr_assert_eq(t_refresh(STORE_OP_CREATE, "/new", 1000), 0);
    cr_assert(strstr(t_ev(0), "\"action\":\"create\",\"node\":{\"key\":\"/new\",\"value\":\"\"") !=
              NULL);
    cr_assert_not(t_event(0)->refresh);
}

/* ---- history ---- */

Test(store, history_scan_rules) /* S-43 */
{
    cr_assert_eq(t_mkdir("/foo"), 0);
    cr_assert_eq(t_mkdir("/foo/bar"), 0);
    cr_assert_eq(t_mkdir("/foo/foo"), 0);
    cr_assert_eq(t_set("/foo/bar/bar", "x"), 0);
    cr_assert_eq(t_set("/foo/foo/foo", "y"), 0);
    cr_assert_eq(t_del("/foo", true, true), 0);
    cr_assert(strstr(t_hist("/foo", false, 1), "\"modifiedIndex\":1,") != NULL);
    cr_assert(strstr(t_hist("/foo/bar", false, 1), "\"key\":\"/foo/bar\",\"dir\":true,"
                                                   "\"modifiedIndex\":2") != NULL);
    cr_assert(strstr(t_hist("/foo/bar", true, 3), "\"key\":\"/foo/bar/bar\"") != NULL);
    cr_assert(strncmp(t_hist("/foo/foo/foo", false, 6),
                      "{\"action\":\"delete\",\"node\":{"
                      "\"key\":\"/foo\",\"dir\":true",
                      46) == 0);
    cr_assert_str_eq(t_hist("/foo/bar", false, 7), "none");
}

Test(store, history_dir_removal_matches_by_string_prefix) /* Q2, H-45 */
{
    cr_assert_eq(t_set("/w2/x", "1"), 0);
    cr_assert_eq(t_del("/w2", true, true), 0);
    cr_assert(strncmp(t_hist("/w2xyz", false, 1), "{\"action\":\"delete\"", 18) == 0);
    cr_assert(strncmp(t_hist("/w2", false, 1), "{\"action\":\"delete\"", 18) == 0);
}

Test(store, history_ignores_hidden_rule) /* Q3 */
{
    cr_assert_eq(t_set("/hw/_h", "1"), 0);
    cr_assert(strstr(t_hist("/hw", true, 1), "\"key\":\"/hw/_h\"") != NULL);
}

Test(store, history_component_boundary_for_recursive) /* S-44 (history) */
{
    cr_assert_eq(t_set("/foo", "1"), 0);
    cr_assert_str_eq(t_hist("/fo", true, 1), "none");
    cr_assert_eq(t_set("/fo/bar", "1"), 0);
    cr_assert(strstr(t_hist("/fo", true, 1), "\"key\":\"/fo/bar\"") != NULL);
}

Test(store, history_empty_and_future_index)
{
    cr_assert_str_eq(t_hist("/x", false, 1), "none");
    cr_assert_eq(t_set("/x", "1"), 0);
    cr_assert_str_eq(t_hist("/x", false, 2), "none");
    struct store_event *ev;
    uint64_t to;
    struct et_buf cause = ET_BUF_INIT;
    cr_assert_eq(store_history_find(t_store, "/y", 2, false, 1, &ev, &to, &cause), 0);
    cr_assert_null(ev);
    cr_assert_eq(to, 1);
    et_buf_free(&cause);
}

Test(store, cluster_steps_move_the_index_unseen)
{
    cr_assert_eq(t_set("/a", "1"), 0);
    store_apply_cluster(t_store, STORE_OP_CREATE); /* a member added: index 2 */
    store_publish(t_store);
    cr_assert_eq(store_index(t_store), 2);
    cr_assert_str_eq(t_hist("/", true, 2), "none"); /* no watcher receives it */
    cr_assert_eq(t_set("/b", "2"), 0);
    cr_assert(strstr(t_ev(0), "\"modifiedIndex\":3,") != NULL);
    cr_assert(strstr(t_hist("/", true, 2), "\"key\":\"/b\"") != NULL); /* the scan passes it */
    struct store_stats st;
    store_stats_get(t_store, &st);
    cr_assert_eq(st.sets_success, 2);
    cr_assert_eq(st.create_success, 1); /* counted as etcd counts its write under /0 */
}

Test(store_small_history, cleared_history_fails_401, .init = NULL,
     .fini = t_teardown) /* S-42, H-23 */
{
    t_setup_history(5);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(t_set("/foo", "x"), 0);
    cr_assert_str_eq(t_hist("/foo", false, 1), "E401 the requested history has been cleared [2/1]");
    cr_assert(strstr(t_hist("/foo", false, 2), "\"modifiedIndex\":2,") != NULL);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(t_set("/foo", "x"), 0);
    cr_assert_str_eq(t_hist("/foo", false, 21),
                     "E401 the requested history has been cleared [22/21]");
    cr_assert(strstr(t_hist("/foo", false, 22), "\"modifiedIndex\":22,") != NULL);
}

/* ---- scale ---- */

Test(store, hundred_thousand_children_write_in_log_time)
{
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "/big/k%06d", i);
        struct store_cmd c = { .op = STORE_OP_SET,
                               .key = key,
                               .key_len = strlen(key),
                               .value = "v",
                               .value_len = 1,
                               .now_ns = t_now };
        struct store_result r;
        store_apply(t_store, &c, &r);
        cr_assert_eq(r.err, 0);
        store_result_free(&r);
        if (i % 1000 == 0)
            store_publish(t_store);
    }
    store_publish(t_store);
    struct store_mem_stats before, after;
    store_mem_stats_get(t_store, &before);
    cr_assert_eq(t_set("/big/k050000", "changed"), 0);
    cr_assert_eq(t_del("/big/k070000", false, false), 0);
    cr_assert_eq(t_set("/big/new", "n"), 0);
    store_mem_stats_get(t_store, &after);
    uint64_t allocs =
        (after.node_allocs - before.node_allocs) + (after.tn_allocs - before.tn_allocs);
    /* three writes: a treap path (about 2 ln n entries) and two directory copies each */
    cr_assert_lt(allocs, 3 * 120, "allocs for 3 writes: %llu", (unsigned long long)allocs);
    cr_assert_eq(after.node_live, before.node_live); /* one replaced, one removed, one added */
    cr_assert_str_eq(t_get("/big/k050000", false),
                     "{\"action\":\"get\",\"node\":{\"key\":\"/big/k050000\",\"value\":"
                     "\"changed\",\"modifiedIndex\":100001,\"createdIndex\":100001}}\n");
    cr_assert_str_eq(t_get("/big/k070000", false), "E100 /big/k070000");
    struct et_buf out = ET_BUF_INIT, cause = ET_BUF_INIT;
    uint64_t index;
    cr_assert_eq(store_get(t_store, "/big", 4, false, true, t_now, &out, &index, &cause), 0);
    cr_assert(strstr(out.data, "{\"key\":\"/big/k000000\"") != NULL);
    cr_assert(strstr(out.data, "\"/big/k070000\"") == NULL);
    cr_assert(strstr(out.data, "\"/big/k069999\"") < strstr(out.data, "\"/big/k070001\""));
    et_buf_free(&out);
    et_buf_free(&cause);
    cr_assert_eq(t_del("/big", false, true), 0);
    cr_assert_eq(t_event_count(), 1);
}
