/*
 * tests/store/test_inplace.c - changing the working tree in place (store__node_excl) is invisible:
 * a store that publishes after many writes answers every write and every read exactly as one
 * that publishes after each write (where nothing is ever changed in place), and a published
 * version, held as a captured snapshot, reads the same however many writes follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "store/store.h"
#include "store/store_int.h"
#include "t_store.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* A random key: one to three levels of a few names, so operations keep meeting each other. */
static void random_key(char *out, size_t cap)
{
    static const char *const top[] = { "a", "b", "queue", "_hidden" };
    size_t n = (size_t)snprintf(out, cap, "/%s", top[rnd(4)]);
    unsigned depth = rnd(3);
    for (unsigned i = 0; i < depth; i++)
        n += (size_t)snprintf(out + n, cap - n, "/%s%u", rnd(3) ? "k" : "dir", rnd(40));
}

static struct store_cmd random_cmd(char *key, size_t cap, char *value, int64_t now)
{
    random_key(key, cap);
    snprintf(value, 16, "v%u", rnd(1000));
    struct store_cmd c = { .key = key,
                           .key_len = strlen(key),
                           .value = value,
                           .value_len = strlen(value),
                           .now_ns = now };
    switch (rnd(12)) {
    case 0:
        c.op = STORE_OP_CREATE;
        break;
    case 1:
        c.op = STORE_OP_UPDATE;
        break;
    case 2:
        c.op = STORE_OP_SET;
        c.dir = true;
        c.value = "";
        c.value_len = 0;
        break;
    case 3:
        c.op = STORE_OP_DELETE;
        c.dir = rnd(2);
        c.recursive = rnd(2);
        break;
    case 4:
        c.op = STORE_OP_CREATE_INORDER;
        c.key = "/queue";
        c.key_len = 6;
        break;
    case 5:
        c.op = STORE_OP_CAS;
        c.has_prev_value = true;
        c.prev_value = value; /* sometimes right */
        c.prev_value_len = c.value_len;
        break;
    case 6:
        c.op = STORE_OP_SET;
        c.expire_ns = now + (int64_t)rnd(3) * ET_NS_PER_SEC; /* some expire at the next sweep */
        break;
    case 7:
        c.op = STORE_OP_EXPIRE;
        break;
    default:
        c.op = STORE_OP_SET;
        break;
    }
    return c;
}

static void result_text(const struct store_result *r, struct et_buf *out)
{
    et_buf_reset(out);
    char head[64];
    snprintf(head, sizeof(head), "err %d index %llu: ", r->err, (unsigned long long)r->index);
    et_buf_append_str(out, head);
    et_buf_append(out, r->cause.data, r->cause.len);
    for (size_t i = 0; i < r->event_count; i++)
        et_buf_append_str(out, r->events[i]->json);
}

static void tree_text(struct store *s, int64_t now, struct et_buf *out)
{
    et_buf_reset(out);
    uint64_t index;
    struct et_buf cause = ET_BUF_INIT;
    cr_assert_eq(store_get(s, "/", 1, true, true, now, out, &index, &cause), 0);
    et_buf_free(&cause);
}

/*
 * Every node under @root with its indexes and value, as a reader walking that version sees it.
 * A version a reader still holds must read the same after any number of later publishes: this
 * thread stays an online reader and never passes a quiescent state, so nothing it could still
 * see is freed, and whatever the writer changes in place shows up here.
 */
static void dump(const struct store_node *root, struct et_buf *out)
{
    et_buf_reset(out);
    struct store_walk w;
    store__walk_init(&w, "/", 1);
    store__walk_descend(&w, root);
    const struct store_node *n;
    enum store_walk_step st;
    while ((st = store__walk_next(&w, &n, NULL)) != STORE_WALK_END) {
        if (st != STORE_WALK_NODE)
            continue;
        char line[96];
        snprintf(line, sizeof(line), " %llu/%llu/%lld%s=", (unsigned long long)n->created_index,
                 (unsigned long long)n->modified_index, (long long)n->expire_ns, n->dir ? "/" : "");
        et_buf_append(out, w.path.data, w.path.len);
        et_buf_append_str(out, line);
        et_buf_append(out, store__node_value(n), n->value_len);
        et_buf_append_char(out, '\n');
        if (n->dir && n->kids)
            store__walk_descend(&w, n);
    }
    store__walk_free(&w);
}

#define HELD 6

Test(store_inplace, batched_publishes_answer_as_single_ones_and_published_versions_never_change)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    store_reader_register();
    struct store *batched = store_new(NULL);
    struct store *single = store_new(NULL);
    struct store_image *held[HELD] = { 0 };
    struct et_buf held_bytes[HELD], read_text[HELD];
    const struct store_version *reading[HELD] = { 0 };
    for (int i = 0; i < HELD; i++)
        held_bytes[i] = read_text[i] = (struct et_buf)ET_BUF_INIT;
    struct et_buf a = ET_BUF_INIT, b = ET_BUF_INIT, img = ET_BUF_INIT;
    int64_t now = T_EPOCH_NS;
    uint64_t excl_batches = 0;

    for (int batch = 0; batch < 1500; batch++) {
        unsigned ops = 1 + rnd(40);
        for (unsigned i = 0; i < ops; i++) {
            char key[128], value[16];
            struct store_cmd c = random_cmd(key, sizeof(key), value, now);
            struct store_result ra = { 0 }, rb = { 0 };
            store_apply(batched, &c, &ra);
            store_apply(single, &c, &rb);
            store_publish(single);
            result_text(&ra, &a);
            result_text(&rb, &b);
            cr_assert_str_eq(a.data, b.data, "batch %d op %u (%s)", batch, i, key);
            store_result_free(&ra);
            store_result_free(&rb);
        }
        excl_batches += store__node_excl(&batched->mem, batched->root);
        store_publish(batched);
        tree_text(batched, now, &a);
        tree_text(single, now, &b);
        cr_assert_str_eq(a.data, b.data, "trees differ after batch %d", batch);

        /* a held version reads the same as when it was captured */
        int slot = batch % HELD;
        for (int i = 0; i < HELD; i++) {
            if (held[i] == NULL)
                continue;
            et_buf_reset(&img);
            store_image_write(held[i], &img);
            cr_assert_eq(img.len, held_bytes[i].len, "held version %d changed size", i);
            cr_assert_eq(memcmp(img.data, held_bytes[i].data, img.len), 0,
                         "held version %d changed", i);
        }
        for (int i = 0; i < HELD; i++) {
            if (reading[i] == NULL)
                continue;
            dump(reading[i]->root, &img);
            cr_assert_str_eq(img.data, read_text[i].data, "a version being read changed");
        }
        reading[slot] = __atomic_load_n(&batched->cur, __ATOMIC_ACQUIRE);
        dump(reading[slot]->root, &read_text[slot]);
        if (rnd(4) == 0) {
            if (held[slot])
                store_image_release(batched, held[slot]);
            held[slot] = store_snapshot_capture(batched);
            et_buf_reset(&held_bytes[slot]);
            store_image_write(held[slot], &held_bytes[slot]);
        }
        now += ET_NS_PER_SEC / 2;
    }
    /* the working root was the batch's own most of the time: the in-place path did run */
    cr_assert_gt(excl_batches, 1000);

    for (int i = 0; i < HELD; i++) {
        if (held[i])
            store_image_release(batched, held[i]);
        et_buf_free(&held_bytes[i]);
        et_buf_free(&read_text[i]);
    }
    store_publish(batched);
    /* the same live tree in both, made with fewer copies in the batched store */
    struct store_mem_stats ma, mb;
    store_mem_stats_get(batched, &ma);
    store_mem_stats_get(single, &mb);
    cr_assert_eq(ma.node_live, mb.node_live);
    cr_assert_eq(ma.tn_live, mb.tn_live);
    cr_assert_lt(ma.tn_allocs, mb.tn_allocs * 3 / 4, "batched %llu single %llu",
                 (unsigned long long)ma.tn_allocs, (unsigned long long)mb.tn_allocs);
    et_buf_free(&a);
    et_buf_free(&b);
    et_buf_free(&img);
    store_free(batched);
    store_free(single);
    store_reader_unregister();
}
