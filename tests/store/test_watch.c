/*
 * tests/store/test_watch.c - the watch hub's live matching rules (spec 5.6.1; cases S-21..S-29,
 * S-40, S-41, S-44, H-37, H-41..H-44).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"
#include "t_store.h"

struct rec {
    struct store_watcher w;
    bool stream;
    int count;
    char log[1024]; /* "action key index;" per delivered event */
};

static struct store_hub *t_hub;

static void hub_setup(void)
{
    t_setup();
    t_hub = store_hub_new();
}

static void hub_teardown(void)
{
    store_hub_free(t_hub);
    t_teardown();
}

TestSuite(watch, .init = hub_setup, .fini = hub_teardown);

static bool rec_fn(struct store_watcher *w, struct store_event *ev, void *data)
{
    struct rec *r = data;
    (void)w;
    r->count++;
    size_t len = strlen(r->log);
    snprintf(r->log + len, sizeof(r->log) - len, "%s %s %llu;", store_action_name(ev->action),
             ev->key, (unsigned long long)ev->index);
    return r->stream;
}

static void t_watch(struct rec *r, const char *key, bool recursive, bool stream)
{
    memset(r, 0, sizeof(*r));
    r->w.key = key;
    r->w.key_len = strlen(key);
    r->w.recursive = recursive;
    r->w.start_index = store_index(t_store) + 1;
    r->w.fn = rec_fn;
    r->w.data = r;
    r->stream = stream;
    store_hub_add(t_hub, &r->w);
}

/* Apply through the helpers, then dispatch what happened. */
#define DO(call)                 \
    do {                         \
        cr_assert_eq((call), 0); \
        t_dispatch(t_hub);       \
    } while (0)

Test(watch, exact_watch_fires_once_on_create) /* S-21, H-36 */
{
    struct rec r;
    t_watch(&r, "/foo", false, false);
    DO(t_create("/foo", "bar"));
    cr_assert_str_eq(r.log, "create /foo 1;");
    cr_assert_eq(store_hub_count(t_hub), 0);
    DO(t_set("/foo", "baz"));
    cr_assert_eq(r.count, 1);
}

Test(watch, recursive_watch_sees_children) /* S-22 */
{
    struct rec r;
    t_watch(&r, "/foo", true, false);
    DO(t_create("/foo/bar", "baz"));
    cr_assert_str_eq(r.log, "create /foo/bar 1;");
}

Test(watch, exact_watch_sees_update_cas_delete) /* S-23 */
{
    struct rec r;
    DO(t_set("/foo", "bar"));
    t_watch(&r, "/foo", false, false);
    DO(t_update("/foo", "baz"));
    t_watch(&r, "/foo", false, false);
    DO(t_cas("/foo", "qux", "baz", 0));
    cr_assert_str_eq(r.log, "compareAndSwap /foo 3;");
    t_watch(&r, "/foo", false, false);
    DO(t_del("/foo", false, false));
    cr_assert_str_eq(r.log, "delete /foo 4;");
}

Test(watch, recursive_watch_sees_child_update_cas_delete) /* S-24 */
{
    struct rec r;
    DO(t_set("/foo/bar", "x"));
    t_watch(&r, "/foo", true, true);
    DO(t_update("/foo/bar", "y"));
    DO(t_cas("/foo/bar", "z", "y", 0));
    DO(t_del("/foo/bar", false, false));
    cr_assert_str_eq(r.log, "update /foo/bar 2;compareAndSwap /foo/bar 3;delete /foo/bar 4;");
}

Test(watch, stream_gets_every_event_in_order) /* S-25 */
{
    struct rec r;
    t_watch(&r, "/foo", false, true);
    DO(t_create("/foo", "a"));
    DO(t_update("/foo", "b"));
    DO(t_set("/other", "c"));
    cr_assert_str_eq(r.log, "create /foo 1;update /foo 2;");
    cr_assert_eq(store_hub_count(t_hub), 1);
    store_hub_remove(t_hub, &r.w);
    cr_assert_eq(store_hub_count(t_hub), 0);
}

Test(watch, watch_on_hidden_key_itself_is_delivered) /* S-26 */
{
    struct rec r;
    t_watch(&r, "/_foo", false, true);
    DO(t_create("/_foo", "a"));
    DO(t_update("/_foo", "b"));
    DO(t_del("/_foo", false, false));
    cr_assert_str_eq(r.log, "create /_foo 1;update /_foo 2;delete /_foo 3;");
}

Test(watch, hidden_below_recursive_watch_is_skipped) /* S-27 */
{
    struct rec r;
    t_watch(&r, "/foo", true, true);
    DO(t_create("/foo/_bar", "a"));
    DO(t_update("/foo/_bar", "b"));
    DO(t_del("/foo/_bar", false, false));
    DO(t_mkdir("/foo/_baz"));
    DO(t_create("/foo/_baz/quux", "q"));
    cr_assert_eq(r.count, 0);
}

Test(watch, hidden_above_watch_point_is_delivered) /* S-28 */
{
    struct rec r;
    t_watch(&r, "/_foo/bar", true, false);
    DO(t_create("/_foo/bar/baz", "a"));
    cr_assert_str_eq(r.log, "create /_foo/bar/baz 1;");
}

static bool quit_after_two(struct store_watcher *w, struct store_event *ev, void *data)
{
    struct rec *r = data;
    (void)w;
    (void)ev;
    return ++r->count < 2;
}

Test(watch, watcher_dropped_by_its_callback_leaves_store_working) /* S-29 (adapted) */
{
    struct rec r;
    t_watch(&r, "/s", false, true);
    r.w.fn = quit_after_two;
    for (int i = 0; i < 101; i++)
        DO(t_set("/s", "x"));
    cr_assert_eq(r.count, 2);
    cr_assert_eq(store_hub_count(t_hub), 0);
    cr_assert_eq(store_index(t_store), 101);
}

Test(watch, hidden_key_expiry_not_delivered_to_root_watch) /* S-40 */
{
    struct rec r;
    DO(t_set_ttl("/_hidden", "h", 100));
    DO(t_set_ttl("/visible", "v", 200));
    t_watch(&r, "/", true, true);
    t_now += 150 * ET_NS_PER_MSEC;
    DO(t_sweep());
    cr_assert_eq(r.count, 0);
    t_now += 100 * ET_NS_PER_MSEC;
    DO(t_sweep());
    cr_assert_str_eq(r.log, "expire /visible 4;");
}

Test(watch, hidden_rule_combinations) /* S-41 */
{
    struct rec root, hid, sub;
    t_watch(&root, "/", true, true);
    t_watch(&hid, "/_foo", true, true);
    t_watch(&sub, "/_foo/foo", false, true);
    DO(t_set("/_foo/foo", "1"));
    DO(t_set("/_foo/_foo", "2"));
    cr_assert_eq(root.count, 0);
    cr_assert_str_eq(hid.log, "set /_foo/foo 1;");
    cr_assert_str_eq(sub.log, "set /_foo/foo 1;");
    struct rec exact;
    t_watch(&exact, "/_foo", false, true);
    DO(t_del("/_foo", false, true));
    cr_assert_str_eq(exact.log, "delete /_foo 3;");
}

Test(watch, recursive_match_respects_component_boundary) /* S-44 */
{
    struct rec r;
    t_watch(&r, "/fo", true, true);
    DO(t_set("/foo", "1"));
    DO(t_set("/food/bar", "1"));
    DO(t_set("/fo/bar", "1"));
    cr_assert_str_eq(r.log, "set /fo/bar 3;");
}

Test(watch, dir_removal_wakes_watchers_of_removed_nodes_only) /* H-37, 5.6.1 rule 3 */
{
    struct rec inside, missing, exact, parent;
    DO(t_set("/w2/sub/key", "1"));
    t_watch(&inside, "/w2/sub/key", false, false);
    t_watch(&missing, "/w2/sub/nonexist", false, false);
    t_watch(&exact, "/w2", false, true);
    t_watch(&parent, "/", true, true);
    DO(t_del("/w2", true, true));
    cr_assert_str_eq(inside.log, "delete /w2 2;");
    cr_assert_eq(missing.count, 0);
    cr_assert_str_eq(exact.log, "delete /w2 2;"); /* once (Q15 deviation) */
    cr_assert_str_eq(parent.log, "delete /w2 2;");
    store_hub_remove(t_hub, &missing.w);
}

Test(watch, dir_expiry_wakes_watchers_inside) /* 6.3 */
{
    struct rec inside;
    DO(t_mkdir_ttl("/d", 100));
    DO(t_set("/d/k", "1"));
    t_watch(&inside, "/d/k", false, false);
    t_now += 200 * ET_NS_PER_MSEC;
    DO(t_sweep());
    cr_assert_str_eq(inside.log, "expire /d 3;");
}

Test(watch, non_recursive_dir_and_root_watches_ignore_children) /* H-44, 5.6.1 */
{
    struct rec root, dir, key;
    DO(t_mkdir("/wd"));
    DO(t_set("/w/k", "1"));
    t_watch(&root, "/", false, true);
    t_watch(&dir, "/wd", false, true);
    t_watch(&key, "/w/k", false, true);
    DO(t_set("/wd/c", "1"));
    DO(t_set("/w/k/child", "1") == 0 ? 1 : 0); /* 104: nothing happens */
    DO(t_set("/w/other", "1"));
    cr_assert_eq(root.count + dir.count + key.count, 0);
    DO(t_update_ttl("/wd", "", 5000));
    cr_assert_str_eq(dir.log, "update /wd 5;");
}

Test(watch, refresh_events_never_delivered) /* 6.4 */
{
    struct rec r;
    DO(t_set_ttl("/r1", "v", 1000));
    t_watch(&r, "/r1", false, true);
    DO(t_refresh(STORE_OP_SET, "/r1", 2000));
    DO(t_refresh(STORE_OP_UPDATE, "/r1", 3000));
    cr_assert_eq(r.count, 0);
    DO(t_set("/r1", "w"));
    cr_assert_str_eq(r.log, "set /r1 4;");
}

Test(watch, events_before_start_index_are_skipped)
{
    struct rec r;
    t_watch(&r, "/k", false, true);
    r.w.start_index = 3;
    DO(t_set("/k", "1"));
    DO(t_set("/k", "2"));
    DO(t_set("/k", "3"));
    cr_assert_str_eq(r.log, "set /k 3;");
}

static struct rec *t_victim;

static bool remove_other(struct store_watcher *w, struct store_event *ev, void *data)
{
    (void)ev;
    (void)data;
    store_hub_remove(t_hub, t_victim ? &t_victim->w : w);
    t_victim = NULL;
    return false;
}

static bool free_self(struct store_watcher *w, struct store_event *ev, void *data)
{
    (void)ev;
    (void)data;
    et_free(w);
    return false;
}

Test(watch, callbacks_may_remove_others_and_free_themselves)
{
    struct rec a, b;
    t_watch(&a, "/x", false, true);
    t_watch(&b, "/x", false, true);
    a.w.fn = remove_other;
    t_victim = &b;
    struct store_watcher *heap = et_calloc(1, sizeof(*heap));
    heap->key = "/x";
    heap->key_len = 2;
    heap->fn = free_self;
    heap->start_index = 1;
    store_hub_add(t_hub, heap);
    DO(t_set("/x", "1"));
    cr_assert_eq(b.count, 0);
    cr_assert_eq(store_hub_count(t_hub), 0);
}

static int t_hits;

static bool count_hit(struct store_watcher *w, struct store_event *ev, void *data)
{
    (void)w;
    (void)ev;
    (void)data;
    t_hits++;
    return true;
}

Test(watch, hundred_thousand_watchers)
{
    enum {
        N = 100000
    };
    struct store_watcher *ws = et_calloc(2 * N, sizeof(*ws));
    char *keys = et_alloc(N * 16);
    for (int i = 0; i < N; i++) {
        snprintf(keys + i * 16, 16, "/k/%06d", i);
        ws[i].key = keys + i * 16;
        ws[i].key_len = strlen(ws[i].key);
        ws[i].fn = count_hit;
        ws[i].start_index = 1;
        store_hub_add(t_hub, &ws[i]);
        ws[N + i].key = "/same";
        ws[N + i].key_len = 5;
        ws[N + i].fn = count_hit;
        ws[N + i].start_index = 1;
        store_hub_add(t_hub, &ws[N + i]);
    }
    cr_assert_eq(store_hub_count(t_hub), 2 * N);
    DO(t_set("/k/050000", "x"));
    cr_assert_eq(t_hits, 1);
    DO(t_set("/same", "x"));
    cr_assert_eq(t_hits, 1 + N);
    for (int i = 0; i < 2 * N; i++)
        store_hub_remove(t_hub, &ws[i]);
    cr_assert_eq(store_hub_count(t_hub), 0);
    et_free(ws);
    et_free(keys);
}
