/*
 * store/tree.c - the persistent key tree: nodes, the children treap of each directory, reference
 * counting with deferred freeing, and an iterative subtree walk. Each treap entry counts the
 * entries of its subtree, so a directory knows its number of children (listings size their body
 * from it); the count fits padding the entry had anyway.
 *
 * A directory's children form a treap ordered by name whose priorities are a hash of the name, so
 * its shape depends only on the names it holds. Insert and delete copy the O(log n) entries on
 * the search path and share every other subtree, taking one more reference on it; the entries
 * that the working tree alone holds (made since the last publish, one reference each, see
 * store__tn_excl) are changed in place instead (store__tn_insert_own).
 *
 * Invariants: (1) an object reachable from a published version, or shared by two parents, is
 * never modified; (2) reference counts are touched by the writer only; (3) an object whose count
 * reaches zero is put in a retire batch and freed only after an RCU grace period, because readers
 * may still see it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "store/store_int.h"

/* ---- nodes ------------------------------------------------------------------------------ */

struct store_node *store__node_new(struct store_mem *m, bool dir, const char *name, size_t name_len,
                                   const char *value, size_t value_len)
{
    ET_ASSERT(name_len <= UINT32_MAX && value_len <= UINT32_MAX);
    ET_ASSERT(!dir || value_len == 0);
    struct store_node *n = et_alloc(sizeof(*n) + name_len + value_len + 1);
    memset(n, 0, sizeof(*n));
    n->refs = 1;
    n->epoch = m->epoch;
    n->dir = dir;
    n->name_len = (uint32_t)name_len;
    n->value_len = (uint32_t)value_len;
    if (name_len)
        memcpy(n->data, name, name_len);
    if (value_len)
        memcpy(n->data + name_len, value, value_len);
    n->data[name_len + value_len] = '\0';
    m->node_allocs++;
    m->node_live++;
    return n;
}

struct store_node *store__node_copy(struct store_mem *m, const struct store_node *n)
{
    struct store_node *c = store__node_new(m, n->dir, store__node_name(n), n->name_len,
                                           store__node_value(n), n->value_len);
    c->created_index = n->created_index;
    c->modified_index = n->modified_index;
    c->expire_ns = n->expire_ns;
    c->kids = store__tn_get(n->kids);
    return c;
}

struct store_node *store__node_get(struct store_node *n)
{
    if (n) {
        ET_ASSERT(n->refs > 0);
        n->refs++;
    }
    return n;
}

struct store_tn *store__tn_get(struct store_tn *t)
{
    if (t) {
        ET_ASSERT(t->refs > 0);
        t->refs++;
    }
    return t;
}

/*
 * Retiring: objects reaching zero are pushed on two work stacks (linked through gc_next);
 * draining a stack drops the references the object held and moves the object to the batch's
 * array, so no recursion happens whatever the depth of the tree. Freeing walks that array, not
 * the objects: after a grace period they are cold, and a list through them would cost a cache
 * miss per object before free() even starts.
 */
struct retire_work {
    struct store_node *nodes;
    struct store_tn *tns;
};

static void drain(struct store_mem *m, struct store_gc *gc, struct retire_work *w)
{
    while (w->nodes || w->tns) {
        if (w->nodes) {
            struct store_node *n = w->nodes;
            w->nodes = n->gc_next;
            struct store_tn *k = n->kids;
            if (k && --k->refs == 0) {
                k->gc_next = w->tns;
                w->tns = k;
            }
            store__gc_push(gc, n);
            m->node_live--;
            continue;
        }
        struct store_tn *t = w->tns;
        w->tns = t->gc_next;
        struct store_tn *sub[2] = { t->l, t->r };
        for (int i = 0; i < 2; i++) {
            if (sub[i] && --sub[i]->refs == 0) {
                sub[i]->gc_next = w->tns;
                w->tns = sub[i];
            }
        }
        if (--t->node->refs == 0) {
            t->node->gc_next = w->nodes;
            w->nodes = t->node;
        }
        store__gc_push(gc, t);
        m->tn_live--;
    }
}

void store__node_put(struct store_mem *m, struct store_gc *gc, struct store_node *n)
{
    if (n == NULL)
        return;
    ET_ASSERT(n->refs > 0);
    if (--n->refs)
        return;
    struct retire_work w = { .nodes = n, .tns = NULL };
    n->gc_next = NULL;
    drain(m, gc, &w);
}

void store__tn_put(struct store_mem *m, struct store_gc *gc, struct store_tn *t)
{
    if (t == NULL)
        return;
    ET_ASSERT(t->refs > 0);
    if (--t->refs)
        return;
    struct retire_work w = { .nodes = NULL, .tns = t };
    t->gc_next = NULL;
    drain(m, gc, &w);
}

void store__gc_push(struct store_gc *gc, void *p)
{
    if (ET_UNLIKELY(gc->block_count == gc->block_cap)) {
        gc->block_cap = gc->block_cap ? gc->block_cap * 2 : 64;
        gc->blocks = et_realloc(gc->blocks, gc->block_cap * sizeof(*gc->blocks));
    }
    gc->blocks[gc->block_count++] = p;
}

void store__gc_free(struct store_gc *gc)
{
    for (size_t i = 0; i < gc->event_count; i++)
        store_event_unref(gc->events[i]);
    for (size_t i = 0; i < gc->block_count; i++)
        et_free(gc->blocks[i]);
    et_free(gc->events);
    et_free(gc->blocks);
    et_free(gc);
}

/* ---- the children treap ----------------------------------------------------------------- */

int store__name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* FNV-1a then a 64-bit finaliser: priorities must look random for any set of names. */
static uint32_t name_prio(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h;
}

/*
 * A name's first 8 bytes as a big-endian number, zero-padded. Comparing two of these orders the
 * names as store__name_cmp does whenever they differ (a shorter name's padding sorts before any
 * byte but 0, and an equal prefix falls back to the full comparison), so a lookup touches a
 * node's name only where the prefixes tie: one cache line per level instead of two or three.
 */
static uint64_t name_pfx(const char *name, size_t len)
{
    uint8_t b[8] = { 0 };
    memcpy(b, name, len < 8 ? len : 8);
    uint64_t v;
    memcpy(&v, b, 8);
    return __builtin_bswap64(v);
}

static int tn_cmp(const struct store_tn *t, uint64_t pfx, const char *name, size_t len)
{
    if (pfx != t->pfx)
        return pfx < t->pfx ? -1 : 1;
    return store__name_cmp(name, len, store__node_name(t->node), t->node->name_len);
}

/* Returns a new entry; takes the references @l, @r and @node. */
static struct store_tn *tn_new(struct store_mem *m, struct store_node *node, uint64_t pfx,
                               uint32_t prio, struct store_tn *l, struct store_tn *r)
{
    struct store_tn *t = et_alloc(sizeof(*t));
    t->refs = 1;
    t->epoch = m->epoch;
    t->prio = prio;
    t->l = l;
    t->r = r;
    t->count = 1 + store__tn_count(l) + store__tn_count(r);
    t->node = node;
    t->pfx = pfx;
    t->gc_next = NULL;
    m->tn_allocs++;
    m->tn_live++;
    return t;
}

/* A copy of @t sharing its node and subtrees except the ones replaced by the caller. */
static struct store_tn *tn_with(struct store_mem *m, const struct store_tn *t, struct store_tn *l,
                                struct store_tn *r)
{
    return tn_new(m, store__node_get(t->node), t->pfx, t->prio, l, r);
}

const struct store_node *store__tn_find(const struct store_tn *t, const char *name, size_t len)
{
    uint64_t pfx = name_pfx(name, len);
    while (t) {
        int c = tn_cmp(t, pfx, name, len);
        if (c == 0)
            return t->node;
        t = c < 0 ? t->l : t->r;
    }
    return NULL;
}

/* Recursion depth is the treap height, O(log n) expected. */
static struct store_tn *tn_put(struct store_mem *m, const struct store_tn *t,
                               struct store_node *child, uint64_t pfx, uint32_t prio)
{
    if (t == NULL)
        return tn_new(m, child, pfx, prio, NULL, NULL);
    int c = tn_cmp(t, pfx, store__node_name(child), child->name_len);
    if (c == 0)
        return tn_new(m, child, pfx, t->prio, store__tn_get(t->l), store__tn_get(t->r));
    if (c < 0) {
        struct store_tn *nl = tn_put(m, t->l, child, pfx, prio);
        if (nl->prio > t->prio) {
            /* nl is fresh and unshared: rotate right in place */
            struct store_tn *down = tn_with(m, t, nl->r, store__tn_get(t->r));
            nl->r = down;
            nl->count = 1 + store__tn_count(nl->l) + down->count;
            return nl;
        }
        return tn_with(m, t, nl, store__tn_get(t->r));
    }
    struct store_tn *nr = tn_put(m, t->r, child, pfx, prio);
    if (nr->prio > t->prio) {
        struct store_tn *down = tn_with(m, t, store__tn_get(t->l), nr->l);
        nr->l = down;
        nr->count = 1 + down->count + store__tn_count(nr->r);
        return nr;
    }
    return tn_with(m, t, store__tn_get(t->l), nr);
}

struct store_tn *store__tn_insert(struct store_mem *m, const struct store_tn *t,
                                  struct store_node *child)
{
    ET_ASSERT(child != NULL);
    const char *name = store__node_name(child);
    return tn_put(m, t, child, name_pfx(name, child->name_len), name_prio(name, child->name_len));
}

static void tn_recount(struct store_tn *t)
{
    t->count = 1 + store__tn_count(t->l) + store__tn_count(t->r);
}

/*
 * tn_put for an entry that is the caller's alone (store__tn_excl), whose reference passes to the
 * call: the exclusive entries on the search path are changed in place, the first shared one and
 * what is below it copied as tn_put does. The result is exclusive too.
 */
static struct store_tn *tn_put_excl(struct store_mem *m, struct store_gc *gc, struct store_tn *t,
                                    struct store_node *child, uint64_t pfx, uint32_t prio)
{
    int c = tn_cmp(t, pfx, store__node_name(child), child->name_len);
    if (c == 0) {
        struct store_node *old = t->node;
        t->node = child;
        store__node_put(m, gc, old);
        return t;
    }
    struct store_tn **side = c < 0 ? &t->l : &t->r;
    struct store_tn *sub = *side, *ns;
    if (sub == NULL) {
        ns = tn_new(m, child, pfx, prio, NULL, NULL);
    } else if (store__tn_excl(m, sub)) {
        ns = tn_put_excl(m, gc, sub, child, pfx, prio);
    } else {
        ns = tn_put(m, sub, child, pfx, prio);
        store__tn_put(m, gc, sub);
    }
    *side = ns;
    if (ns->prio > t->prio) {
        /* ns is exclusive as well: rotate it above t without copying either */
        if (c < 0) {
            t->l = ns->r;
            ns->r = t;
        } else {
            t->r = ns->l;
            ns->l = t;
        }
        tn_recount(t);
        tn_recount(ns);
        return ns;
    }
    tn_recount(t);
    return t;
}

struct store_tn *store__tn_insert_own(struct store_mem *m, struct store_gc *gc, struct store_tn *t,
                                      struct store_node *child)
{
    ET_ASSERT(child != NULL);
    const char *name = store__node_name(child);
    uint64_t pfx = name_pfx(name, child->name_len);
    uint32_t prio = name_prio(name, child->name_len);
    if (t && store__tn_excl(m, t))
        return tn_put_excl(m, gc, t, child, pfx, prio);
    struct store_tn *r = tn_put(m, t, child, pfx, prio);
    store__tn_put(m, gc, t);
    return r;
}

bool store__tn_path_excl(const struct store_mem *m, const struct store_tn *t, const char *name,
                         size_t len)
{
    uint64_t pfx = name_pfx(name, len);
    while (t) {
        if (!store__tn_excl(m, t))
            return false;
        int c = tn_cmp(t, pfx, name, len);
        if (c == 0)
            return true;
        t = c < 0 ? t->l : t->r;
    }
    ET_ASSERT(!"store__tn_path_excl: name not present");
    return false;
}

/* Joins @a and @b (every name of @a smaller) into a new root; both borrowed. */
static struct store_tn *tn_merge(struct store_mem *m, const struct store_tn *a,
                                 const struct store_tn *b)
{
    if (a == NULL)
        return store__tn_get((struct store_tn *)b);
    if (b == NULL)
        return store__tn_get((struct store_tn *)a);
    if (a->prio > b->prio)
        return tn_with(m, a, store__tn_get(a->l), tn_merge(m, a->r, b));
    return tn_with(m, b, tn_merge(m, a, b->l), store__tn_get(b->r));
}

static struct store_tn *tn_remove(struct store_mem *m, const struct store_tn *t, uint64_t pfx,
                                  const char *name, size_t len)
{
    ET_ASSERT(t != NULL);
    int c = tn_cmp(t, pfx, name, len);
    if (c == 0)
        return tn_merge(m, t->l, t->r);
    if (c < 0)
        return tn_with(m, t, tn_remove(m, t->l, pfx, name, len), store__tn_get(t->r));
    return tn_with(m, t, store__tn_get(t->l), tn_remove(m, t->r, pfx, name, len));
}

struct store_tn *store__tn_remove(struct store_mem *m, const struct store_tn *t, const char *name,
                                  size_t len)
{
    return tn_remove(m, t, name_pfx(name, len), name, len);
}

struct store_tn *store__tn_remove_own(struct store_mem *m, struct store_gc *gc, struct store_tn *t,
                                      const char *name, size_t len)
{
    struct store_tn *r = tn_remove(m, t, name_pfx(name, len), name, len);
    store__tn_put(m, gc, t);
    return r;
}

struct store_tn *store__tn_build(struct store_mem *m, struct store_node **kids, size_t n)
{
    if (n == 0)
        return NULL;
    struct store_tn **st = et_alloc_array(n, sizeof(*st));
    size_t sp = 0;
    /* st holds the right spine; an entry popped off it is complete, so its count is set then */
    for (size_t i = 0; i < n; i++) {
        struct store_node *k = kids[i];
        const char *name = store__node_name(k);
        struct store_tn *x =
            tn_new(m, k, name_pfx(name, k->name_len), name_prio(name, k->name_len), NULL, NULL);
        struct store_tn *last = NULL;
        while (sp && st[sp - 1]->prio < x->prio) {
            last = st[--sp];
            last->count = 1 + store__tn_count(last->l) + store__tn_count(last->r);
        }
        x->l = last;
        if (sp)
            st[sp - 1]->r = x;
        st[sp++] = x;
    }
    while (sp) {
        struct store_tn *t = st[--sp];
        t->count = 1 + store__tn_count(t->l) + store__tn_count(t->r);
    }
    struct store_tn *root = st[0];
    ET_ASSERT(root->count == n);
    et_free(st);
    return root;
}

/* ---- iterative walk --------------------------------------------------------------------- */

void store__walk_init(struct store_walk *w, const char *key, size_t key_len)
{
    memset(w, 0, sizeof(*w));
    et_buf_append(&w->path, key, key_len);
}

/*
 * Pushes @t and its chain of left children. Each entry's node and right subtree are read only
 * when the entry is popped, later: prefetching them now hides most of those cache misses on a
 * large directory (the entries and nodes are scattered over the heap).
 */
static void push_left(struct store_walk *w, const struct store_tn *t)
{
    for (; t; t = t->l) {
        if (ET_UNLIKELY(w->stack_count == w->stack_cap)) {
            w->stack_cap = w->stack_cap ? w->stack_cap * 2 : 64;
            w->stack = et_realloc(w->stack, w->stack_cap * sizeof(*w->stack));
        }
        w->stack[w->stack_count++] = t;
        __builtin_prefetch(t->node);
        if (t->r)
            __builtin_prefetch(t->r);
    }
}

void store__walk_descend(struct store_walk *w, const struct store_node *dir)
{
    ET_ASSERT(dir->dir);
    if (w->frame_count == w->frame_cap) {
        w->frame_cap = w->frame_cap ? w->frame_cap * 2 : 16;
        w->frames = et_realloc(w->frames, w->frame_cap * sizeof(*w->frames));
    }
    struct store_walk_frame *f = &w->frames[w->frame_count++];
    f->dir = dir;
    f->key_len = w->path.len;
    f->stack_base = w->stack_count;
    f->any = false;
    push_left(w, dir->kids);
}

struct store_walk_frame *store__walk_top(struct store_walk *w)
{
    ET_ASSERT(w->frame_count > 0);
    return &w->frames[w->frame_count - 1];
}

enum store_walk_step store__walk_next(struct store_walk *w, const struct store_node **n, bool *any)
{
    if (w->frame_count == 0)
        return STORE_WALK_END;
    struct store_walk_frame *f = &w->frames[w->frame_count - 1];
    /* the key of a child: the directory's key, "/", the name (the root's key "/" is a prefix) */
    w->path.len = f->key_len;
    if (w->stack_count > f->stack_base) {
        const struct store_tn *t = w->stack[--w->stack_count];
        push_left(w, t->r);
        if (f->key_len == 1 && w->path.data[0] == '/')
            w->path.len = 0;
        et_buf_append_char(&w->path, '/');
        et_buf_append(&w->path, store__node_name(t->node), t->node->name_len);
        *n = t->node;
        return STORE_WALK_NODE;
    }
    w->path.data[w->path.len] = '\0';
    *n = f->dir;
    if (any)
        *any = f->any;
    w->frame_count--;
    return STORE_WALK_UP;
}

void store__walk_free(struct store_walk *w)
{
    et_buf_free(&w->path);
    et_free(w->frames);
    et_free(w->stack);
    memset(w, 0, sizeof(*w));
}
