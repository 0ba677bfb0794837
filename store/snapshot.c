/*
 * store/snapshot.c - the whole key space as one msgpack value, for Raft snapshots.
 *
 * Format (array of 8):
 *   ["etcetera-store", 1, index, [13 stats counters], hist_first, hist_last, nodes, events]
 *   nodes:  flat pre-order list, root first, children in name order, each
 *           [depth, name, dir, value, createdIndex, modifiedIndex, expire_ns]
 *   events: [index, action, flags (1 refresh, 2 dir, 4 created), key, json] from hist_first up
 * A flat list (not nesting) keeps any directory depth loadable without recursion. Loading checks
 * every field and builds the new tree aside; a bad snapshot leaves the store untouched (-EINVAL).
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "core/alloc.h"
#include "core/mpcheck.h"
#include "store/store_int.h"

#define SNAP_MAGIC   "etcetera-store"
#define SNAP_VERSION 1
#define SNAP_STATS   (sizeof(struct store_stats) / sizeof(uint64_t))

static int buf_write(void *data, const char *p, size_t len)
{
    et_buf_append(data, p, len);
    return 0;
}

static void pack_bytes(msgpack_packer *pk, const char *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

static void pack_node(msgpack_packer *pk, size_t depth, const struct store_node *n)
{
    msgpack_pack_array(pk, 7);
    msgpack_pack_uint64(pk, depth);
    pack_bytes(pk, store__node_name(n), n->name_len);
    if (n->dir)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pack_bytes(pk, store__node_value(n), n->value_len);
    msgpack_pack_uint64(pk, n->created_index);
    msgpack_pack_uint64(pk, n->modified_index);
    msgpack_pack_int64(pk, n->expire_ns);
}

static size_t count_nodes(const struct store_node *root)
{
    size_t count = 1;
    struct store_walk w;
    store__walk_init(&w, "/", 1);
    store__walk_descend(&w, root);
    const struct store_node *n;
    enum store_walk_step st;
    while ((st = store__walk_next(&w, &n, NULL)) != STORE_WALK_END) {
        if (st == STORE_WALK_NODE) {
            count++;
            if (n->dir && n->kids)
                store__walk_descend(&w, n);
        }
    }
    store__walk_free(&w);
    return count;
}

/*
 * An image is what a snapshot needs of one published version, held by references: the tree's
 * root (nodes are never changed once published, so the tree stays as it was however the writer
 * goes on), the counters, and the history events. It is taken and released on the writer's
 * thread; writing it out (the long part) may run on any thread meanwhile.
 */
struct store_image {
    struct store_node *root;
    uint64_t index;
    uint64_t stats[SNAP_STATS];
    uint64_t first, last; /* history kept, or 0, 0 */
    struct store_event **events;
};

struct store_image *store_snapshot_capture(struct store *s)
{
    const struct store_version *v = __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE);
    struct store_image *img = et_calloc(1, sizeof(*img));
    img->root = store__node_get(v->root);
    img->index = v->index;
    struct store_stats st;
    store_stats_get(s, &st);
    memcpy(img->stats, &st, sizeof(img->stats));

    /* history: the newest events still in their slots (a writer ahead of @v may have reused
     * the oldest ones) */
    uint64_t first = v->hist_last + 1;
    while (v->hist_last && first > v->hist_first) {
        struct store_event *ev =
            __atomic_load_n(&s->hist[(first - 1) % s->hist_cap], __ATOMIC_ACQUIRE);
        if (ev == NULL || ev->index != first - 1)
            break;
        first--;
    }
    if (first <= v->hist_last) {
        img->first = first;
        img->last = v->hist_last;
        img->events = et_alloc((img->last - first + 1) * sizeof(*img->events));
        for (uint64_t i = first; i <= img->last; i++) {
            struct store_event *ev = __atomic_load_n(&s->hist[i % s->hist_cap], __ATOMIC_ACQUIRE);
            store_event_ref(ev);
            img->events[i - first] = ev;
        }
    }
    return img;
}

void store_image_write(const struct store_image *img, struct et_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_str(&pk, strlen(SNAP_MAGIC));
    msgpack_pack_str_body(&pk, SNAP_MAGIC, strlen(SNAP_MAGIC));
    msgpack_pack_uint64(&pk, SNAP_VERSION);
    msgpack_pack_uint64(&pk, img->index);
    msgpack_pack_array(&pk, SNAP_STATS);
    for (size_t i = 0; i < SNAP_STATS; i++)
        msgpack_pack_uint64(&pk, img->stats[i]);
    msgpack_pack_uint64(&pk, img->first);
    msgpack_pack_uint64(&pk, img->last);

    msgpack_pack_array(&pk, count_nodes(img->root));
    pack_node(&pk, 0, img->root);
    struct store_walk w;
    store__walk_init(&w, "/", 1);
    store__walk_descend(&w, img->root);
    const struct store_node *n;
    enum store_walk_step step;
    while ((step = store__walk_next(&w, &n, NULL)) != STORE_WALK_END) {
        if (step != STORE_WALK_NODE)
            continue;
        pack_node(&pk, w.frame_count, n);
        if (n->dir && n->kids)
            store__walk_descend(&w, n);
    }
    store__walk_free(&w);

    size_t count = img->events ? img->last - img->first + 1 : 0;
    msgpack_pack_array(&pk, count);
    for (size_t i = 0; i < count; i++) {
        const struct store_event *ev = img->events[i];
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint64(&pk, ev->index);
        msgpack_pack_uint64(&pk, ev->action);
        msgpack_pack_uint64(&pk, (ev->refresh ? 1u : 0u) | (ev->dir ? 2u : 0u) |
                                     (ev->created ? 4u : 0u));
        pack_bytes(&pk, ev->key, ev->key_len);
        pack_bytes(&pk, ev->json, ev->json_len);
    }
}

void store_image_release(struct store *s, struct store_image *img)
{
    if (img == NULL)
        return;
    store__node_release(s, img->root);
    for (uint64_t i = 0; img->events && i <= img->last - img->first; i++)
        store_event_unref(img->events[i]);
    et_free(img->events);
    et_free(img);
}

void store_snapshot_save(struct store *s, struct et_buf *out)
{
    struct store_image *img = store_snapshot_capture(s);
    store_image_write(img, out);
    store_image_release(s, img);
}

/* ---- loading ---------------------------------------------------------------------------- */

static bool obj_bytes(const msgpack_object *o, const char **p, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *len = o->via.bin.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *len = o->via.str.size;
        return true;
    }
    return false;
}

static const msgpack_object *obj_array(const msgpack_object *o, uint32_t size)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != size)
        return NULL;
    return o->via.array.ptr;
}

/* A directory being filled while loading: its children arrive in name order. */
struct load_frame {
    struct store_node *dir;
    struct store_node **kids;
    size_t count, cap;
};

struct loader {
    struct store_mem *mem;
    struct load_frame *frames;
    size_t depth, cap;
};

static void frame_close(struct loader *l)
{
    struct load_frame *f = &l->frames[--l->depth];
    f->dir->kids = store__tn_build(l->mem, f->kids, f->count);
    et_free(f->kids);
}

static void frame_open(struct loader *l, struct store_node *dir)
{
    if (l->depth == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->frames = et_realloc(l->frames, l->cap * sizeof(*l->frames));
    }
    l->frames[l->depth++] = (struct load_frame){ .dir = dir };
}

static bool name_ok(const char *p, size_t len)
{
    if (len == 0 || len > UINT32_MAX || memchr(p, '/', len))
        return false;
    return !(len == 1 && p[0] == '.') && !(len == 2 && p[0] == '.' && p[1] == '.');
}

/* Decodes one node entry; returns a new node (refs 1) and its depth, or NULL. */
static struct store_node *load_node(struct store_mem *m, const msgpack_object *o, uint64_t *depth)
{
    const msgpack_object *a = obj_array(o, 7);
    const char *name, *value;
    size_t name_len, value_len;
    uint64_t created, modified;
    int64_t expire;
    if (a == NULL || !store__mp_u64(&a[0], depth) || !obj_bytes(&a[1], &name, &name_len) ||
        a[2].type != MSGPACK_OBJECT_BOOLEAN || !obj_bytes(&a[3], &value, &value_len) ||
        !store__mp_u64(&a[4], &created) || !store__mp_u64(&a[5], &modified) ||
        !store__mp_i64(&a[6], &expire))
        return NULL;
    bool dir = a[2].via.boolean;
    if ((dir && value_len) || name_len > UINT32_MAX || value_len > UINT32_MAX)
        return NULL;
    if (*depth == 0 ? (name_len != 0 || !dir) : !name_ok(name, name_len))
        return NULL;
    struct store_node *n = store__node_new(m, dir, name, name_len, value, value_len);
    n->created_index = created;
    n->modified_index = modified;
    n->expire_ns = expire;
    return n;
}

/* Builds the tree from the node list into *@root (new reference). */
static int load_tree(struct store_mem *m, struct store_gc *gc, const msgpack_object *o,
                     struct store_node **root)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return -EINVAL;
    struct loader l = { .mem = m };
    uint64_t depth;
    int rc = 0;
    *root = load_node(m, &o->via.array.ptr[0], &depth);
    if (*root == NULL || depth != 0) {
        store__node_put(m, gc, *root);
        *root = NULL;
        return -EINVAL;
    }
    frame_open(&l, *root);
    for (uint32_t i = 1; i < o->via.array.size; i++) {
        struct store_node *n = load_node(m, &o->via.array.ptr[i], &depth);
        if (n == NULL || depth == 0 || depth > l.depth) {
            store__node_put(m, gc, n);
            rc = -EINVAL;
            break;
        }
        while (l.depth > depth)
            frame_close(&l);
        struct load_frame *f = &l.frames[l.depth - 1];
        if (f->count) {
            const struct store_node *last = f->kids[f->count - 1];
            if (store__name_cmp(store__node_name(last), last->name_len, store__node_name(n),
                                n->name_len) >= 0) {
                store__node_put(m, gc, n);
                rc = -EINVAL;
                break;
            }
        }
        if (f->count == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 8;
            f->kids = et_realloc(f->kids, f->cap * sizeof(*f->kids));
        }
        f->kids[f->count++] = n;
        if (n->dir)
            frame_open(&l, n);
    }
    while (l.depth)
        frame_close(&l);
    et_free(l.frames);
    if (rc) {
        store__node_put(m, gc, *root);
        *root = NULL;
    }
    return rc;
}

static int load_events(const msgpack_object *o, uint64_t first, uint64_t last, uint64_t index,
                       struct store_event ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -EINVAL;
    uint32_t n = o->via.array.size;
    if (n == 0)
        return first == 0 && last == 0 ? 0 : -EINVAL;
    if (first == 0 || last != index || last < first || last - first + 1 != n)
        return -EINVAL;
    struct store_event **evs = et_calloc(n, sizeof(*evs));
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = obj_array(&o->via.array.ptr[i], 5);
        uint64_t idx, action, flags;
        const char *key, *json;
        size_t key_len, json_len;
        if (a == NULL || !store__mp_u64(&a[0], &idx) || idx != first + i ||
            !store__mp_u64(&a[1], &action) || action > STORE_ACTION_EXPIRE ||
            action == STORE_ACTION_GET || !store__mp_u64(&a[2], &flags) || flags > 7 ||
            !obj_bytes(&a[3], &key, &key_len) || !store__key_valid(key, key_len) ||
            !obj_bytes(&a[4], &json, &json_len) || json_len == 0) {
            for (uint32_t j = 0; j < i; j++)
                store_event_unref(evs[j]);
            et_free(evs);
            return -EINVAL;
        }
        struct store_event *ev = store__event_raw((int)action, idx, key, key_len, json, json_len);
        ev->refresh = flags & 1;
        ev->dir = flags & 2;
        ev->created = flags & 4;
        evs[i] = ev;
    }
    *out = evs;
    *count = n;
    return 0;
}

static void ttl_rebuild(struct store *s)
{
    struct store_walk w;
    store__walk_init(&w, "/", 1);
    store__walk_descend(&w, s->root);
    const struct store_node *n;
    enum store_walk_step st;
    while ((st = store__walk_next(&w, &n, NULL)) != STORE_WALK_END) {
        if (st != STORE_WALK_NODE)
            continue;
        if (n->expire_ns)
            store__ttl_add(s, n->expire_ns, w.path.data, w.path.len);
        if (n->dir && n->kids)
            store__walk_descend(&w, n);
    }
    store__walk_free(&w);
}

static int load_parsed(struct store *s, const msgpack_object *top)
{
    const msgpack_object *a = obj_array(top, 8);
    const char *magic;
    size_t magic_len;
    uint64_t version, index, first, last;
    if (a == NULL || !obj_bytes(&a[0], &magic, &magic_len) || magic_len != strlen(SNAP_MAGIC) ||
        memcmp(magic, SNAP_MAGIC, magic_len) != 0 || !store__mp_u64(&a[1], &version) ||
        version != SNAP_VERSION || !store__mp_u64(&a[2], &index) || !store__mp_u64(&a[4], &first) ||
        !store__mp_u64(&a[5], &last))
        return -EINVAL;
    const msgpack_object *st = obj_array(&a[3], SNAP_STATS);
    uint64_t stats[SNAP_STATS];
    for (size_t i = 0; st && i < SNAP_STATS; i++)
        if (!store__mp_u64(&st[i], &stats[i]))
            return -EINVAL;
    if (st == NULL)
        return -EINVAL;
    struct store_event **evs;
    size_t ev_count;
    if (load_events(&a[7], first, last, index, &evs, &ev_count))
        return -EINVAL;
    struct store_gc *scratch = et_calloc(1, sizeof(*scratch));
    struct store_node *root;
    if (load_tree(&s->mem, scratch, &a[6], &root)) {
        store__gc_free(scratch); /* never visible to readers */
        for (size_t i = 0; i < ev_count; i++)
            store_event_unref(evs[i]);
        et_free(evs);
        return -EINVAL;
    }
    store__gc_free(scratch);

    store__free_state(s);
    s->root = root;
    s->index = index;
    for (size_t i = ev_count > s->hist_cap ? ev_count - s->hist_cap : 0; i < ev_count; i++) {
        struct store_event *ev = evs[i];
        if (s->hist_last == 0)
            s->hist_first = ev->index;
        s->hist_last = ev->index;
        __atomic_store_n(&s->hist[ev->index % s->hist_cap], ev, __ATOMIC_RELEASE);
        evs[i] = NULL;
    }
    for (size_t i = 0; i < ev_count; i++)
        store_event_unref(evs[i]);
    et_free(evs);
    for (size_t i = 0; i < SNAP_STATS; i++)
        __atomic_store_n(&((uint64_t *)&s->stats)[i], stats[i], __ATOMIC_RELAXED);
    ttl_rebuild(s);
    store_publish(s);
    return 0;
}

int store_snapshot_load(struct store *s, const void *p, size_t len)
{
    ET_ASSERT(s != NULL);
    if (p == NULL || len == 0 || !et_msgpack_check(p, len))
        return -EINVAL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -EINVAL;
    if (msgpack_unpack_next(&u, p, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        rc = load_parsed(s, &u.data);
    msgpack_unpacked_destroy(&u);
    return rc;
}
