/*
 * tests/store/test_snapshot.c - snapshots: a loaded store answers every query as the original,
 * damaged snapshots are refused without changing anything (S-39).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/ecode.h"
#include "t_store.h"

TestSuite(snapshot, .init = t_setup, .fini = t_teardown);

static void fill(void)
{
    cr_assert_eq(t_set("/a/b/c", "1"), 0);
    cr_assert_eq(t_mkdir("/dir"), 0);
    cr_assert_eq(t_set("/dir/_hidden", "h"), 0);
    cr_assert_eq(t_set_ttl("/dir/ttl", "t", 5000), 0);
    cr_assert_eq(t_mkdir_ttl("/tdir", 3000), 0);
    cr_assert_eq(t_set("/tdir/x", "x"), 0);
    cr_assert_eq(t_post("/queue", "job"), 0);
    cr_assert_eq(t_update("/a/b/c", "2"), 0);
    cr_assert_eq(t_refresh(STORE_OP_UPDATE, "/dir/ttl", 6000), 0);
    cr_assert_eq(t_del("/a/b", true, true), 0);
    cr_assert_eq(t_set("/nul\x01key", "v\x7f"), 0);
    store_apply_cluster(t_store, STORE_OP_SET); /* an index step in the history */
    store_publish(t_store);
}

/* Everything observable, as one string. */
static char *observe(struct store *s)
{
    struct et_buf all = ET_BUF_INIT, cause = ET_BUF_INIT;
    uint64_t index;
    cr_assert_eq(store_get(s, "/", 1, true, true, t_now, &all, &index, &cause), 0);
    et_buf_printf(&all, "index=%llu next=%lld\n", (unsigned long long)index,
                  (long long)store_next_expiry(s));
    static const char *const keys[] = { "/dir/_hidden", "/tdir", "/a" };
    for (size_t i = 0; i < 3; i++) {
        et_buf_reset(&cause);
        int rc = store_get(s, keys[i], strlen(keys[i]), true, true, t_now, &all, &index, &cause);
        et_buf_printf(&all, "rc=%d %s\n", rc, cause.data ? cause.data : "");
    }
    for (uint64_t from = 1; from <= store_index(s) + 1; from++) {
        struct store_event *ev;
        uint64_t to;
        et_buf_reset(&cause);
        int rc = store_history_find(s, "/", 1, true, from, &ev, &to, &cause);
        et_buf_printf(&all, "%d %llu %s%s\n", rc, (unsigned long long)to, ev ? ev->json : "-",
                      cause.data ? cause.data : "");
        store_event_unref(ev);
    }
    struct store_stats st;
    store_stats_get(s, &st);
    et_buf_printf(&all, "sets=%llu expire=%llu", (unsigned long long)st.sets_success,
                  (unsigned long long)st.expire_count);
    et_buf_free(&cause);
    return all.data;
}

Test(snapshot, round_trip_answers_every_query_identically)
{
    fill();
    struct et_buf snap = ET_BUF_INIT;
    store_snapshot_save(t_store, &snap);
    char *before = observe(t_store);
    struct store *copy = store_new(NULL);
    cr_assert_eq(store_snapshot_load(copy, snap.data, snap.len), 0);
    char *after = observe(copy);
    cr_assert_str_eq(after, before);
    /* and both go on identically: the same sweep and writes */
    t_now += 3500 * ET_NS_PER_MSEC;
    struct store_cmd sweep = { .op = STORE_OP_EXPIRE, .now_ns = t_now };
    struct store_result r1, r2;
    store_apply(t_store, &sweep, &r1);
    store_apply(copy, &sweep, &r2);
    cr_assert_eq(r1.event_count, 1);
    cr_assert_eq(r2.event_count, 1);
    cr_assert_str_eq(r1.events[0]->json, r2.events[0]->json);
    store_result_free(&r1);
    store_result_free(&r2);
    store_publish(t_store);
    store_publish(copy);
    char *b2 = observe(t_store), *a2 = observe(copy);
    cr_assert_str_eq(a2, b2);
    free(before);
    free(after);
    free(b2);
    free(a2);
    store_free(copy);
    et_buf_free(&snap);
}

/* An image is the state at its capture, whatever the writer does before it is written out. */
Test(snapshot, captured_image_is_unchanged_by_later_writes)
{
    fill();
    struct store_image *img = store_snapshot_capture(t_store);
    struct et_buf expect = ET_BUF_INIT, got = ET_BUF_INIT;
    store_snapshot_save(t_store, &expect);
    char key[32];
    for (int i = 0; i < 2500; i++) { /* more than the history keeps: its slots are reused */
        snprintf(key, sizeof(key), "/dir/k%d", i % 40);
        cr_assert_eq(t_set(key, "later"), 0);
    }
    cr_assert_eq(t_del("/dir", true, true), 0);
    cr_assert_eq(t_update("/tdir/x", "y"), 0);
    store_image_write(img, &got);
    store_image_release(t_store, img);
    store_publish(t_store);
    cr_assert_eq(got.len, expect.len);
    cr_assert(memcmp(got.data, expect.data, got.len) == 0);
    struct store *copy = store_new(NULL);
    cr_assert_eq(store_snapshot_load(copy, got.data, got.len), 0);
    cr_assert_eq(store_index(copy), 12);
    store_free(copy);
    et_buf_free(&expect);
    et_buf_free(&got);
}

Test(snapshot, restore_then_sweep_drops_expired_keys) /* S-39 */
{
    cr_assert_eq(t_set("/perm", "p"), 0);
    cr_assert_eq(t_set_ttl("/temp", "t", 1000), 0);
    struct et_buf snap = ET_BUF_INIT;
    store_snapshot_save(t_store, &snap);
    struct store *copy = store_new(NULL);
    cr_assert_eq(store_snapshot_load(copy, snap.data, snap.len), 0);
    t_now += 2000 * ET_NS_PER_MSEC;
    struct store_cmd sweep = { .op = STORE_OP_EXPIRE, .now_ns = t_now };
    struct store_result r;
    store_apply(copy, &sweep, &r);
    store_publish(copy);
    cr_assert_eq(r.event_count, 1);
    store_result_free(&r);
    struct et_buf out = ET_BUF_INIT, cause = ET_BUF_INIT;
    uint64_t index;
    cr_assert_eq(store_get(copy, "/perm", 5, false, false, t_now, &out, &index, &cause), 0);
    cr_assert_eq(store_get(copy, "/temp", 5, false, false, t_now, &out, &index, &cause),
                 ET_E_KEY_NOT_FOUND);
    et_buf_free(&out);
    et_buf_free(&cause);
    et_buf_free(&snap);
    store_free(copy);
}

Test(snapshot, deep_tree_round_trips)
{
    struct et_buf key = ET_BUF_INIT;
    for (int i = 0; i < 3000; i++)
        et_buf_append_str(&key, "/d");
    struct store_cmd c = { .op = STORE_OP_SET,
                           .key = key.data,
                           .key_len = key.len,
                           .value = "deep",
                           .value_len = 4,
                           .now_ns = t_now };
    cr_assert_eq(t_apply(c), 0);
    struct et_buf snap = ET_BUF_INIT, a = ET_BUF_INIT, b = ET_BUF_INIT, cause = ET_BUF_INIT;
    store_snapshot_save(t_store, &snap);
    struct store *copy = store_new(NULL);
    cr_assert_eq(store_snapshot_load(copy, snap.data, snap.len), 0);
    uint64_t index;
    cr_assert_eq(store_get(t_store, "/", 1, true, true, t_now, &a, &index, &cause), 0);
    cr_assert_eq(store_get(copy, "/", 1, true, true, t_now, &b, &index, &cause), 0);
    cr_assert_str_eq(a.data, b.data);
    store_free(copy);
    et_buf_free(&key);
    et_buf_free(&snap);
    et_buf_free(&a);
    et_buf_free(&b);
    et_buf_free(&cause);
}

Test(snapshot, damaged_snapshots_are_refused_and_change_nothing)
{
    fill();
    struct et_buf snap = ET_BUF_INIT;
    store_snapshot_save(t_store, &snap);
    struct store *other = store_new(NULL);
    struct store_cmd c = { .op = STORE_OP_SET,
                           .key = "/mine",
                           .key_len = 5,
                           .value = "m",
                           .value_len = 1,
                           .now_ns = t_now };
    struct store_result r;
    store_apply(other, &c, &r);
    store_result_free(&r);
    store_publish(other);
    char *before = observe(other);
    struct et_buf osnap = ET_BUF_INIT;
    store_snapshot_save(other, &osnap);
    for (size_t len = 0; len < snap.len; len += 7)
        cr_assert_eq(store_snapshot_load(other, snap.data, len), -EINVAL, "len %zu", len);
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 3000; i++) {
        struct et_buf m = ET_BUF_INIT;
        et_buf_append(&m, snap.data, snap.len);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m.data[x % m.len] ^= (char)(1u << (x >> 61));
        if (store_snapshot_load(other, m.data, m.len) == 0) {
            /* a flip that still decodes (a value byte): put the original state back */
            cr_assert_eq(store_snapshot_load(other, osnap.data, osnap.len), 0);
        }
        et_buf_free(&m);
    }
    char *after = observe(other);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    store_free(other);
    et_buf_free(&snap);
    et_buf_free(&osnap);
}
