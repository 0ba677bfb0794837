/*
 * tests/store/test_tree.c - the children treap keeps each entry's subtree count right through
 * inserts, replacements, removals and bulk builds (listings size their body from it), and a large
 * listing renders exactly the nodes that single-key GETs render, in name order. Lookups and the
 * in-order walk follow byte order for names that tie on their first 8 bytes, hold 0 bytes or end
 * inside them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"
#include "store/store_int.h"
#include "t_store.h"

/* Checks every count below @t (iteratively: an explicit stack); returns the entries seen. */
static uint32_t check_counts(const struct store_tn *t)
{
    const struct store_tn *stack[256];
    size_t sp = 0;
    uint32_t seen = 0;
    if (t)
        stack[sp++] = t;
    while (sp) {
        const struct store_tn *x = stack[--sp];
        cr_assert_eq(x->count, 1 + store__tn_count(x->l) + store__tn_count(x->r));
        seen++;
        cr_assert_lt(sp + 2, ET_ARRAY_SIZE(stack));
        if (x->l)
            stack[sp++] = x->l;
        if (x->r)
            stack[sp++] = x->r;
    }
    return seen;
}

static struct store_node *leaf(struct store_mem *m, unsigned id)
{
    char name[16];
    int n = snprintf(name, sizeof(name), "k%u", id);
    return store__node_new(m, false, name, (size_t)n, "v", 1);
}

Test(store_tree, counts_follow_inserts_replacements_and_removals)
{
    struct store_mem m = { 0 };
    struct store_gc *gc = et_calloc(1, sizeof(*gc));
    struct store_tn *root = NULL;
    bool present[300] = { false };
    uint32_t live = 0;
    uint64_t rng = 12345;
    for (int step = 0; step < 3000; step++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned id = (unsigned)(rng >> 33) % ET_ARRAY_SIZE(present);
        char name[16];
        int nl = snprintf(name, sizeof(name), "k%u", id);
        struct store_tn *next;
        if (present[id] && (rng >> 20) % 2) {
            next = store__tn_remove(&m, root, name, (size_t)nl);
            present[id] = false;
            live--;
        } else {
            next = store__tn_insert(&m, root, leaf(&m, id)); /* a replacement when present */
            if (!present[id])
                live++;
            present[id] = true;
        }
        store__tn_put(&m, gc, root); /* the old version stays valid until now */
        root = next;
        cr_assert_eq(store__tn_count(root), live);
        cr_assert_eq(check_counts(root), live);
    }
    store__tn_put(&m, gc, root);
    cr_assert_eq(m.tn_live, 0);
    store__gc_free(gc);
}

Test(store_tree, bulk_build_sets_counts)
{
    struct store_mem m = { 0 };
    for (size_t n = 1; n <= 200; n += 13) {
        struct store_gc *gc = et_calloc(1, sizeof(*gc));
        struct store_node **kids = et_alloc_array(n, sizeof(*kids));
        for (size_t i = 0; i < n; i++)
            kids[i] = leaf(&m, (unsigned)(1000 + i)); /* same digit count: ascending names */
        struct store_tn *root = store__tn_build(&m, kids, n);
        for (size_t i = 0; i < n; i++)
            store__node_put(&m, gc, kids[i]); /* the treap took its own references */
        cr_assert_eq(store__tn_count(root), n);
        cr_assert_eq(check_counts(root), n);
        store__tn_put(&m, gc, root);
        store__gc_free(gc);
        et_free(kids);
    }
    cr_assert_eq(m.node_live, 0);
}

/* The treap's in-order sequence of names, through the same walk listings use. */
static size_t walk_names(struct store_node *dir, const char **out, size_t *lens, size_t max)
{
    struct store_walk w;
    const struct store_node *n;
    size_t k = 0;
    store__walk_init(&w, "/", 1);
    store__walk_descend(&w, dir);
    while (store__walk_next(&w, &n, NULL) == STORE_WALK_NODE) {
        cr_assert_lt(k, max);
        out[k] = store__node_name(n);
        lens[k++] = n->name_len;
    }
    store__walk_free(&w);
    return k;
}

Test(store_tree, names_order_bytewise_around_the_8_byte_prefix)
{
    static const struct {
        const char *p;
        size_t len;
    } names[] = {
        { "", 0 },
        { "\0", 1 },
        { "a", 1 },
        { "a\0", 2 },
        { "a\0\0", 3 },
        { "a\1", 2 },
        { "abcdefg", 7 },
        { "abcdefg\0", 8 },
        { "abcdefgh", 8 },
        { "abcdefgh\0", 9 },
        { "abcdefghi", 9 },
        { "abcdefghij", 10 },
        { "abcdefgi", 8 },
        { "abcdefh", 7 },
        { "\xff", 1 },
        { "\xff\xff\xff\xff\xff\xff\xff\xff", 8 },
        { "\xff\xff\xff\xff\xff\xff\xff\xff\0", 9 },
    };

    size_t n = ET_ARRAY_SIZE(names);
    struct store_mem m = { 0 };
    struct store_gc *gc = et_calloc(1, sizeof(*gc));
    struct store_node *dir = store__node_new(&m, true, "d", 1, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n; /* 7 is prime to n: every name, shuffled */
        struct store_tn *next = store__tn_insert(
            &m, dir->kids, store__node_new(&m, false, names[j].p, names[j].len, "v", 1));
        store__tn_put(&m, gc, dir->kids);
        dir->kids = next;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_node *f = store__tn_find(dir->kids, names[i].p, names[i].len);
        cr_assert_not_null(f, "name %zu not found", i);
        cr_assert_eq(f->name_len, names[i].len);
        cr_assert_eq(memcmp(store__node_name(f), names[i].p, names[i].len), 0);
    }
    cr_assert_null(store__tn_find(dir->kids, "abcdefgh\0\0", 10));
    cr_assert_null(store__tn_find(dir->kids, "a\0\0\0", 4));
    const char *seen[32];
    size_t lens[32];
    cr_assert_eq(walk_names(dir, seen, lens, ET_ARRAY_SIZE(seen)), n);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(store__name_cmp(seen[i - 1], lens[i - 1], seen[i], lens[i]), 0,
                     "walk position %zu is out of byte order", i);
    store__node_put(&m, gc, dir);
    store__gc_free(gc);
    cr_assert_eq(m.node_live, 0);
    cr_assert_eq(m.tn_live, 0);
}

TestSuite(store_listing, .init = t_setup, .fini = t_teardown);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "node" object of a GET body (between {"action":"get","node": and }\n). */
static char *node_of(const char *body)
{
    const char *head = "{\"action\":\"get\",\"node\":";
    size_t hl = strlen(head), bl = strlen(body);
    cr_assert(bl > hl + 2 && strncmp(body, head, hl) == 0, "%s", body);
    return et_strndup(body + hl, bl - hl - 2);
}

Test(store_listing, large_directory_lists_what_single_gets_render)
{
    /* 300 children: plain keys of growing length, keys needing escapes, UTF-8, a TTL key, a
     * nested directory, hidden keys (listed nowhere) */
    enum {
        N = 300
    };

    char *names[N];
    for (int i = 0; i < N; i++) {
        char name[64];
        switch (i % 10) {
        case 3:
            snprintf(name, sizeof(name), "q\"<%d>&\\", i);
            break;
        case 5:
            snprintf(name, sizeof(name), "\xc3\xa9t\xc3\xa9%d\t", i);
            break;
        case 7:
            snprintf(name, sizeof(name), "_hidden%d", i);
            break;
        default:
            snprintf(name, sizeof(name), "key%0*d", 1 + i % 6, i);
        }
        names[i] = et_strndup(name, strlen(name));
        char key[80], value[128];
        snprintf(key, sizeof(key), "/big/%s", name);
        snprintf(value, sizeof(value), "value %d %.*s", i, i % 90,
                 "\x01\xff<tail>.........."
                 ".........................................................................");
        if (i == 42)
            cr_assert_eq(t_set_ttl(key, value, 90000), 0);
        else if (i == 61)
            cr_assert_eq(t_mkdir(key), 0);
        else
            cr_assert_eq(t_set(key, value), 0);
    }
    cr_assert_eq(t_set("/big/key61/inner", "x"), 0);
    t_now += ET_NS_PER_SEC / 2; /* ttl is computed at read time */
    qsort(names, N, sizeof(names[0]), cmp_str);

    for (int recursive = 0; recursive < 2; recursive++) {
        struct et_buf want = ET_BUF_INIT;
        char *dir = node_of(t_get("/big", false));
        /* the directory's own fields, then the listing, then its indexes */
        char *nodes = strstr(dir, ",\"nodes\":[");
        cr_assert(nodes != NULL);
        et_buf_append_str(&want, "{\"action\":\"get\",\"node\":");
        et_buf_append(&want, dir, (size_t)(nodes - dir));
        et_buf_append_str(&want, ",\"nodes\":[");
        bool first = true;
        for (int i = 0; i < N; i++) {
            if (names[i][0] == '_')
                continue;
            char key[80];
            snprintf(key, sizeof(key), "/big/%s", names[i]);
            char *child = node_of(t_get(key, recursive));
            if (!first)
                et_buf_append_char(&want, ',');
            first = false;
            char *sub = strstr(child, ",\"nodes\":[");
            if (sub && !recursive) {
                /* one level: a child directory is listed without its own children */
                et_buf_append(&want, child, (size_t)(sub - child));
                et_buf_append_str(&want, strstr(sub, "],\"modifiedIndex\"") + 1);
            } else {
                et_buf_append_str(&want, child);
            }
            et_free(child);
        }
        char *tail = strstr(dir, "],\"modifiedIndex\"");
        cr_assert(tail != NULL);
        et_buf_append_str(&want, tail);
        et_buf_append_str(&want, "}\n");
        et_free(dir);
        const char *got = t_get("/big", recursive);
        cr_assert_str_eq(got, want.data);
        cr_assert(strstr(got, "\"ttl\":90") != NULL);
        cr_assert(strstr(got, "hidden") == NULL);
        cr_assert_eq(strstr(got, "/big/key61/inner") != NULL, recursive == 1);
        et_buf_free(&want);
    }
    for (int i = 0; i < N; i++)
        et_free(names[i]);
}
