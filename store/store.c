/*
 * store/store.c - applying commands to the key space, publishing versions, reads and the event
 * history (spec/v2-keys-api.md sections 1, 4-8).
 *
 * The writer keeps a private working version (root, index, history bounds) and changes it by
 * path copying (tree.c); store_publish() makes it visible with a release store of a new version
 * struct and hands everything that became unreachable to call_rcu() in one batch. Readers load the
 * version with acquire semantics (the same as rcu_dereference) while online as QSBR readers.
 *
 * Invariants: (1) the index grows by exactly one per event and only on success; (2) every node
 * with an expiration has exactly one entry in the TTL index, keyed (expiration, key); (3) history
 * slot i % cap holds event i for i in [hist_first, hist_last]; a replaced event is released after
 * a grace period, so a reader that loaded the slot may still take a reference.
 *
 * Threads: store_apply/store_publish/store_next_expiry/store_snapshot_load on the writer; the
 * reads on any online reader; store_index and store_stats_get anywhere.
 */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "core/alloc.h"
#include "core/ecode.h"
#include "store/store_int.h"

/* ---- versions and retire batches ------------------------------------------------------- */

static struct store_gc *gc_cur(struct store *s)
{
    if (s->gc == NULL)
        s->gc = et_calloc(1, sizeof(*s->gc));
    return s->gc;
}

void store__gc_event(struct store *s, struct store_event *ev)
{
    struct store_gc *gc = gc_cur(s);
    if (gc->event_count == gc->event_cap) {
        gc->event_cap = gc->event_cap ? gc->event_cap * 2 : 16;
        gc->events = et_realloc(gc->events, gc->event_cap * sizeof(*gc->events));
    }
    gc->events[gc->event_count++] = ev;
}

static void gc_block(struct store *s, void *p)
{
    store__gc_push(gc_cur(s), p);
}

void store__node_release(struct store *s, struct store_node *n)
{
    store__node_put(&s->mem, gc_cur(s), n);
}

static void gc_cb(struct rcu_head *head)
{
    struct store_gc *gc = caa_container_of(head, struct store_gc, head);
#ifdef __SANITIZE_THREAD__
    /* pairs with the release in store_reader_quiescent/offline: the grace period orders them */
    (void)__atomic_load_n(&store__tsan_sync, __ATOMIC_ACQUIRE);
#endif
    store__gc_free(gc);
}

#ifdef __SANITIZE_THREAD__
uint64_t store__tsan_sync;
#endif

struct store *store_new(const struct store_config *cfg)
{
    struct store *s = et_calloc(1, sizeof(*s));
    s->hist_cap = cfg && cfg->history_max ? cfg->history_max : 1000;
    s->hist = et_calloc(s->hist_cap, sizeof(*s->hist));
    s->root = store__node_new(&s->mem, true, "", 0, NULL, 0);
    s->ttl_rng = 0x9e3779b97f4a7c15ULL;
    store_publish(s);
    return s;
}

void store_publish(struct store *s)
{
    struct store_version *old = s->cur;
    if (old == NULL || old->root != s->root || old->index != s->index ||
        old->hist_first != s->hist_first || old->hist_last != s->hist_last) {
        struct store_version *v = et_alloc(sizeof(*v));
        v->root = store__node_get(s->root);
        v->index = s->index;
        v->hist_first = s->hist_first;
        v->hist_last = s->hist_last;
        __atomic_store_n(&s->cur, v, __ATOMIC_RELEASE);
        __atomic_store_n(&s->published_index, v->index, __ATOMIC_RELEASE);
        if (old) {
            store__node_release(s, old->root);
            gc_block(s, old);
        }
    }
    s->mem.epoch++; /* what was made so far is now visible: never change it in place */
    if (s->gc) {
#ifdef __SANITIZE_THREAD__
        __atomic_fetch_add(&store__tsan_sync, 1, __ATOMIC_RELEASE); /* hand-off to gc_cb */
#endif
        call_rcu(&s->gc->head, gc_cb);
        s->gc = NULL;
    }
}

void store__free_state(struct store *s)
{
    struct store_gc *gc = gc_cur(s);
    store__node_put(&s->mem, gc, s->root);
    s->root = NULL;
    for (size_t i = 0; i < s->hist_cap; i++) {
        if (s->hist[i])
            store__gc_event(s, s->hist[i]);
        __atomic_store_n(&s->hist[i], NULL, __ATOMIC_RELEASE);
    }
    s->hist_first = s->hist_last = 0;
    store__ttl_clear(s);
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    /* wait for every batch already handed to call_rcu (rcu_barrier refuses to run online) */
    bool online = rcu_read_ongoing();
    if (online)
        rcu_thread_offline();
    rcu_barrier();
    if (online)
        rcu_thread_online();
    store__free_state(s);
    if (s->cur) {
        store__node_put(&s->mem, gc_cur(s), s->cur->root);
        gc_block(s, s->cur);
    }
    store__gc_free(s->gc);
    ET_ASSERT(s->mem.node_live == 0);
    ET_ASSERT(s->mem.tn_live == 0);
    et_free(s->hist);
    et_free(s);
}

uint64_t store_index(const struct store *s)
{
    return __atomic_load_n(&s->published_index, __ATOMIC_ACQUIRE);
}

void store_mem_stats_get(const struct store *s, struct store_mem_stats *out)
{
    out->node_allocs = s->mem.node_allocs;
    out->tn_allocs = s->mem.tn_allocs;
    out->node_live = s->mem.node_live;
    out->tn_live = s->mem.tn_live;
}

void store_stats_get(const struct store *s, struct store_stats *out)
{
    const uint64_t *src = (const uint64_t *)&s->stats;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void stat_inc(uint64_t *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- readers ---------------------------------------------------------------------------- */

void store_reader_register(void)
{
    rcu_register_thread();
}

void store_reader_unregister(void)
{
#ifdef __SANITIZE_THREAD__
    __atomic_fetch_add(&store__tsan_sync, 1, __ATOMIC_RELEASE);
#endif
    rcu_unregister_thread();
}

void store_reader_offline(void)
{
#ifdef __SANITIZE_THREAD__
    __atomic_fetch_add(&store__tsan_sync, 1, __ATOMIC_RELEASE);
#endif
    rcu_thread_offline();
}

void store_reader_online(void)
{
    rcu_thread_online();
}

void store_reader_quiescent(void)
{
#ifdef __SANITIZE_THREAD__
    __atomic_fetch_add(&store__tsan_sync, 1, __ATOMIC_RELEASE);
#endif
    rcu_quiescent_state();
}

/* ---- TTL index: a plain treap ordered by (expiration, key), writer only ------------------- */

struct store_ttl {
    int64_t expire_ns;
    uint32_t prio;
    size_t key_len;
    struct store_ttl *l, *r;
    char key[];
};

static int ttl_cmp(int64_t e, const char *k, size_t kl, const struct store_ttl *t)
{
    if (e != t->expire_ns)
        return e < t->expire_ns ? -1 : 1;
    return store__name_cmp(k, kl, t->key, t->key_len);
}

static struct store_ttl *ttl_ins(struct store_ttl *t, struct store_ttl *x)
{
    if (t == NULL)
        return x;
    if (ttl_cmp(x->expire_ns, x->key, x->key_len, t) < 0) {
        t->l = ttl_ins(t->l, x);
        if (t->l->prio > t->prio) {
            struct store_ttl *l = t->l;
            t->l = l->r;
            l->r = t;
            return l;
        }
    } else {
        t->r = ttl_ins(t->r, x);
        if (t->r->prio > t->prio) {
            struct store_ttl *r = t->r;
            t->r = r->l;
            r->l = t;
            return r;
        }
    }
    return t;
}

static struct store_ttl *ttl_merge(struct store_ttl *a, struct store_ttl *b)
{
    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    if (a->prio > b->prio) {
        a->r = ttl_merge(a->r, b);
        return a;
    }
    b->l = ttl_merge(a, b->l);
    return b;
}

static struct store_ttl *ttl_del(struct store_ttl *t, int64_t e, const char *k, size_t kl,
                                 struct store_ttl **out)
{
    if (t == NULL)
        return NULL;
    int c = ttl_cmp(e, k, kl, t);
    if (c < 0) {
        t->l = ttl_del(t->l, e, k, kl, out);
    } else if (c > 0) {
        t->r = ttl_del(t->r, e, k, kl, out);
    } else {
        *out = t;
        return ttl_merge(t->l, t->r);
    }
    return t;
}

void store__ttl_add(struct store *s, int64_t expire_ns, const char *key, size_t key_len)
{
    ET_ASSERT(expire_ns != 0);
    struct store_ttl *x = et_alloc(sizeof(*x) + key_len + 1);
    x->expire_ns = expire_ns;
    s->ttl_rng ^= s->ttl_rng << 13;
    s->ttl_rng ^= s->ttl_rng >> 7;
    s->ttl_rng ^= s->ttl_rng << 17;
    x->prio = (uint32_t)(s->ttl_rng >> 16);
    x->key_len = key_len;
    x->l = x->r = NULL;
    memcpy(x->key, key, key_len);
    x->key[key_len] = '\0';
    s->ttl = ttl_ins(s->ttl, x);
    s->ttl_count++;
}

static void ttl_remove(struct store *s, int64_t expire_ns, const char *key, size_t key_len)
{
    struct store_ttl *out = NULL;
    s->ttl = ttl_del(s->ttl, expire_ns, key, key_len, &out);
    ET_ASSERT(out != NULL);
    s->ttl_count--;
    et_free(out);
}

void store__ttl_clear(struct store *s)
{
    /* iterative: rotate left children up so the tree becomes a right list */
    struct store_ttl *t = s->ttl;
    while (t) {
        if (t->l) {
            struct store_ttl *l = t->l;
            t->l = l->r;
            l->r = t;
            t = l;
            continue;
        }
        struct store_ttl *next = t->r;
        et_free(t);
        t = next;
    }
    s->ttl = NULL;
    s->ttl_count = 0;
}

static const struct store_ttl *ttl_min(const struct store *s)
{
    const struct store_ttl *t = s->ttl;
    while (t && t->l)
        t = t->l;
    return t;
}

int64_t store_next_expiry(const struct store *s)
{
    const struct store_ttl *t = ttl_min(s);
    return t ? t->expire_ns : INT64_MAX;
}

/* ---- paths -------------------------------------------------------------------------------- */

bool store__key_valid(const char *key, size_t key_len)
{
    if (key == NULL || key_len == 0 || key[0] != '/')
        return false;
    if (key_len == 1)
        return true;
    if (key[key_len - 1] == '/')
        return false;
    size_t start = 1;
    for (size_t i = 1; i <= key_len; i++) {
        if (i < key_len && key[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && key[start] == '.') ||
            (len == 2 && key[start] == '.' && key[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

struct comp {
    const char *p;
    size_t len;
};

/* A key split into components and resolved against a tree. nodes[d] is the node at depth d. */
struct path {
    const char *key;
    size_t key_len;
    size_t n;                        /* components */
    struct comp *c;                  /* c[i]: name of the node at depth i + 1 */
    const struct store_node **nodes; /* nodes[0] = root ... nodes[found] */
    size_t found;                    /* deepest depth that exists */
    struct comp inl_c[16];
    const struct store_node *inl_nodes[17];
};

static void path_init(struct path *p, const char *key, size_t key_len)
{
    ET_ASSERT(store__key_valid(key, key_len));
    p->key = key;
    p->key_len = key_len;
    size_t n = 0;
    for (size_t i = 0; i < key_len; i++)
        n += key[i] == '/';
    if (key_len == 1)
        n = 0;
    p->n = n;
    p->c = n <= 16 ? p->inl_c : et_alloc_array(n, sizeof(*p->c));
    p->nodes = n < 17 ? p->inl_nodes : et_alloc_array(n + 1, sizeof(*p->nodes));
    size_t k = 0, start = 1;
    for (size_t i = 1; i <= key_len && n; i++) {
        if (i < key_len && key[i] != '/')
            continue;
        p->c[k].p = key + start;
        p->c[k].len = i - start;
        k++;
        start = i + 1;
    }
    ET_ASSERT(k == n);
    p->found = 0;
}

static void path_free(struct path *p)
{
    if (p->c != p->inl_c)
        et_free(p->c);
    if (p->nodes != p->inl_nodes)
        et_free(p->nodes);
}

/* Length of the key prefix naming the node at depth @d. */
static size_t path_prefix(const struct path *p, size_t d)
{
    if (d == 0)
        return 1;
    return (size_t)(p->c[d - 1].p - p->key) + p->c[d - 1].len;
}

/*
 * Resolves @p against @root. Returns 0 when the whole key exists; ET_E_KEY_NOT_FOUND when the
 * node at depth found + 1 is missing (cause: the key up to it); ET_E_NOT_DIR when the node at
 * depth found is a key with components below it (cause: that key).
 */
static int path_resolve(struct path *p, const struct store_node *root, struct et_buf *cause)
{
    p->nodes[0] = root;
    p->found = 0;
    for (size_t d = 0; d < p->n; d++) {
        const struct store_node *cur = p->nodes[d];
        if (!cur->dir) {
            if (cause)
                et_buf_append(cause, p->key, path_prefix(p, d));
            return ET_E_NOT_DIR;
        }
        const struct store_node *child = store__tn_find(cur->kids, p->c[d].p, p->c[d].len);
        if (child == NULL) {
            if (cause)
                et_buf_append(cause, p->key, path_prefix(p, d + 1));
            return ET_E_KEY_NOT_FOUND;
        }
        p->nodes[d + 1] = child;
        p->found = d + 1;
    }
    return 0;
}

/* A node like @n without children (the caller sets them). */
static struct store_node *node_copy_bare(struct store *s, const struct store_node *n)
{
    struct store_node *c = store__node_new(&s->mem, n->dir, store__node_name(n), n->name_len,
                                           store__node_value(n), n->value_len);
    c->created_index = n->created_index;
    c->modified_index = n->modified_index;
    c->expire_ns = n->expire_ns;
    return c;
}

/*
 * The depth of the deepest directory on @p's resolved path that belongs to the working tree alone
 * (store__node_excl: it, every directory above it and every treap entry between them), or -1.
 */
static long path_excl_depth(const struct store *s, const struct path *p)
{
    const struct store_mem *m = &s->mem;
    if (!store__node_excl(m, s->root))
        return -1;
    size_t d = 0;
    while (d < p->found && p->nodes[d + 1]->dir && store__node_excl(m, p->nodes[d + 1]) &&
           store__tn_path_excl(m, p->nodes[d]->kids, p->c[d].p, p->c[d].len))
        d++;
    return (long)d;
}

/*
 * Makes the working root a version of the old one in which the node at @p's key is @leaf
 * (taken), or removed when @leaf is NULL. Missing ancestors are created as permanent directories
 * with both indexes @index (spec 7.2). Below the deepest directory the working tree holds alone
 * (path_excl_depth) one node and O(log n) treap entries per level are copied; that directory is
 * changed in place, and nothing above it changes. With no such directory, the path is copied up
 * to a new root.
 */
static void path_commit(struct store *s, struct path *p, struct store_node *leaf, uint64_t index)
{
    ET_ASSERT(p->n > 0);
    ET_ASSERT(leaf != NULL || p->found == p->n);
    long excl = path_excl_depth(s, p);
    struct store_node *cur = leaf;
    for (size_t d = p->n; d-- > 0;) {
        struct store_node *np;
        if ((long)d == excl) {
            struct store_node *dir = (struct store_node *)p->nodes[d];
            if (cur)
                dir->kids = store__tn_insert_own(&s->mem, gc_cur(s), dir->kids, cur);
            else
                dir->kids =
                    store__tn_remove_own(&s->mem, gc_cur(s), dir->kids, p->c[d].p, p->c[d].len);
            return;
        }
        if (d <= p->found) {
            const struct store_node *par = p->nodes[d];
            ET_ASSERT(par->dir);
            np = node_copy_bare(s, par);
            if (cur)
                np->kids = store__tn_insert(&s->mem, par->kids, cur);
            else
                np->kids = store__tn_remove(&s->mem, par->kids, p->c[d].p, p->c[d].len);
        } else {
            np = store__node_new(&s->mem, true, p->c[d - 1].p, p->c[d - 1].len, NULL, 0);
            np->created_index = np->modified_index = index;
            np->kids = store__tn_insert(&s->mem, NULL, cur);
        }
        cur = np;
    }
    struct store_node *old = s->root;
    s->root = cur;
    store__node_release(s, old);
}

/* ---- results and events ------------------------------------------------------------------- */

void store_result_free(struct store_result *r)
{
    for (size_t i = 0; i < r->event_count; i++)
        store_event_unref(r->events[i]);
    et_free(r->events);
    et_buf_free(&r->cause);
    memset(r, 0, sizeof(*r));
}

static int fail(struct store *s, struct store_result *r, int code)
{
    r->err = code;
    r->index = s->index;
    return code;
}

static int fail_cause(struct store *s, struct store_result *r, int code, const char *cause,
                      size_t len)
{
    et_buf_append(&r->cause, cause, len);
    return fail(s, r, code);
}

static void hist_add(struct store *s, struct store_event *ev)
{
    if (s->hist_last == 0) {
        s->hist_first = ev->index;
    } else {
        ET_ASSERT(ev->index == s->hist_last + 1);
        if (ev->index - s->hist_first + 1 > s->hist_cap)
            s->hist_first++;
    }
    s->hist_last = ev->index;
    size_t slot = ev->index % s->hist_cap;
    struct store_event *old = s->hist[slot];
    store_event_ref(ev);
    __atomic_store_n(&s->hist[slot], ev, __ATOMIC_RELEASE);
    if (old)
        store__gc_event(s, old);
}

/* Records @ev (taken) as the next event: advances the index, the history and the result. */
static void emit(struct store *s, struct store_result *r, struct store_event *ev)
{
    ET_ASSERT(ev->index == s->index + 1);
    s->index = ev->index;
    hist_add(s, ev);
    if (r->event_count == r->_event_cap) {
        r->_event_cap = r->_event_cap ? r->_event_cap * 2 : 1;
        r->events = et_realloc(r->events, r->_event_cap * sizeof(*r->events));
    }
    r->events[r->event_count++] = ev;
}

static int64_t norm_expire(int64_t expire_ns)
{
    return expire_ns < STORE_MIN_EXPIRE_NS ? 0 : expire_ns;
}

/* The event node of a removal: key, dir, the removal index and the node's createdIndex. */
static void removal_jnode(struct store_jnode *j, const struct store_node *n, const struct path *p,
                          uint64_t index)
{
    memset(j, 0, sizeof(*j));
    j->key = p->key;
    j->key_len = p->key_len;
    j->dir = n->dir;
    j->modified_index = index;
    j->created_index = n->created_index;
}

/*
 * Removes the node at @p (resolved, existing) from the working tree. Its descendants leave the
 * TTL index and their keys are recorded in @ev for the watch hub (spec 5.6.1 rule 3).
 */
static void remove_node(struct store *s, struct path *p, struct store_event *ev, uint64_t index)
{
    const struct store_node *n = p->nodes[p->n];
    if (n->expire_ns)
        ttl_remove(s, n->expire_ns, p->key, p->key_len);
    if (n->dir && n->kids) {
        struct store_walk w;
        store__walk_init(&w, p->key, p->key_len);
        store__walk_descend(&w, n);
        const struct store_node *c;
        enum store_walk_step st;
        while ((st = store__walk_next(&w, &c, NULL)) != STORE_WALK_END) {
            if (st != STORE_WALK_NODE)
                continue;
            store__event_add_sub_key(ev, w.path.data, w.path.len);
            if (c->expire_ns)
                ttl_remove(s, c->expire_ns, w.path.data, w.path.len);
            if (c->dir && c->kids)
                store__walk_descend(&w, c);
        }
        store__walk_free(&w);
    }
    path_commit(s, p, NULL, index);
}

/* ---- operations --------------------------------------------------------------------------- */

static bool value_eq(const struct store_node *n, const char *v, size_t len)
{
    return n->value_len == len && (len == 0 || memcmp(store__node_value(n), v, len) == 0);
}

/* compareAndSwap / compareAndDelete comparison (spec 5.3.5); 0 or ET_E_TEST_FAILED. */
static int compare(struct store *s, struct store_result *r, const struct store_cmd *c,
                   const struct store_node *n)
{
    bool value_ok = !c->has_prev_value || value_eq(n, c->prev_value, c->prev_value_len);
    bool index_ok = c->prev_index == 0 || n->modified_index == c->prev_index;
    if (value_ok && index_ok)
        return 0;
    struct et_buf *b = &r->cause;
    if (!value_ok) {
        et_buf_append_char(b, '[');
        et_buf_append(b, c->prev_value, c->prev_value_len);
        et_buf_append_str(b, " != ");
        et_buf_append(b, store__node_value(n), n->value_len);
        et_buf_append_char(b, ']');
    }
    if (!index_ok) {
        if (!value_ok)
            et_buf_append_char(b, ' ');
        et_buf_printf(b, "[%llu != %llu]", (unsigned long long)c->prev_index,
                      (unsigned long long)n->modified_index);
    }
    return fail(s, r, ET_E_TEST_FAILED);
}

/* set, create, in-order create and internal set (etcd's internalCreate). */
static int op_create(struct store *s, const struct store_cmd *c, struct store_result *r,
                     const char *key, size_t key_len)
{
    bool replace = c->op == STORE_OP_SET || c->op == STORE_OP_INTERNAL_SET;
    bool refresh = c->op == STORE_OP_SET && c->refresh;
    struct path p;
    if (key_len == 1)
        return fail_cause(s, r, ET_E_ROOT_RONLY, "/", 1);
    path_init(&p, key, key_len);
    struct et_buf cause = ET_BUF_INIT;
    int rc = path_resolve(&p, s->root, &cause);
    const struct store_node *prev = rc == 0 ? p.nodes[p.n] : NULL;
    if (rc == ET_E_KEY_NOT_FOUND && !refresh)
        rc = 0;
    if (rc == 0 && prev && !replace)
        rc = ET_E_NODE_EXIST;
    else if (rc == 0 && prev && prev->dir)
        rc = ET_E_NOT_FILE;
    if (rc == ET_E_NODE_EXIST || rc == ET_E_NOT_FILE) {
        et_buf_reset(&cause);
        et_buf_append(&cause, key, key_len);
    }
    if (rc) {
        fail_cause(s, r, rc, cause.data, cause.len);
        goto out;
    }
    uint64_t index = s->index + 1;
    /* a refresh with dir=true replaces the file with an empty directory, as 3.4's Set does */
    bool dir = c->dir;
    const char *value = refresh ? store__node_value(prev) : c->value;
    size_t value_len = dir ? 0 : refresh ? prev->value_len : c->value_len;
    struct store_node *n =
        store__node_new(&s->mem, dir, p.c[p.n - 1].p, p.c[p.n - 1].len, value, value_len);
    n->created_index = n->modified_index = index;
    n->expire_ns = norm_expire(c->expire_ns);

    struct store_jnode jn, jp;
    store__jnode_of(&jn, n, key, key_len);
    if (prev)
        store__jnode_of(&jp, prev, key, key_len);
    int action = replace ? STORE_ACTION_SET : STORE_ACTION_CREATE;
    struct store_event *ev = store__event_new(action, index, &jn, prev ? &jp : NULL, c->now_ns);
    ev->created = prev == NULL;
    ev->refresh = refresh;
    if (prev && prev->expire_ns)
        ttl_remove(s, prev->expire_ns, key, key_len);
    if (n->expire_ns)
        store__ttl_add(s, n->expire_ns, key, key_len);
    path_commit(s, &p, n, index);
    emit(s, r, ev);
out:
    et_buf_free(&cause);
    path_free(&p);
    return r->err;
}

/* update and compareAndSwap: same node, new value and TTL, createdIndex kept. */
static int op_update(struct store *s, const struct store_cmd *c, struct store_result *r)
{
    if (c->key_len == 1)
        return fail_cause(s, r, ET_E_ROOT_RONLY, "/", 1);
    struct path p;
    path_init(&p, c->key, c->key_len);
    int rc = path_resolve(&p, s->root, &r->cause);
    if (rc) {
        fail(s, r, rc);
        goto out;
    }
    const struct store_node *old = p.nodes[p.n];
    bool cas = c->op == STORE_OP_CAS;
    if (old->dir && (cas || (c->value_len && !c->refresh))) {
        fail_cause(s, r, ET_E_NOT_FILE, c->key, c->key_len);
        goto out;
    }
    if (cas && compare(s, r, c, old))
        goto out;
    uint64_t index = s->index + 1;
    struct store_node *n;
    if (old->dir) {
        n = node_copy_bare(s, old);
        n->kids = store__tn_get(old->kids);
    } else if (c->refresh) {
        n = node_copy_bare(s, old);
        n->modified_index = index;
    } else {
        n = store__node_new(&s->mem, false, store__node_name(old), old->name_len, c->value,
                            c->value_len);
        n->created_index = old->created_index;
        n->modified_index = index;
    }
    n->expire_ns = norm_expire(c->expire_ns);
    struct store_jnode jn, jp;
    store__jnode_of(&jn, n, c->key, c->key_len);
    /* Q1: a directory's update reports the new index but the stored node keeps the old one */
    jn.modified_index = index;
    store__jnode_of(&jp, old, c->key, c->key_len);
    int action = cas ? STORE_ACTION_CAS : STORE_ACTION_UPDATE;
    struct store_event *ev = store__event_new(action, index, &jn, &jp, c->now_ns);
    ev->refresh = c->refresh;
    if (old->expire_ns)
        ttl_remove(s, old->expire_ns, c->key, c->key_len);
    if (n->expire_ns)
        store__ttl_add(s, n->expire_ns, c->key, c->key_len);
    path_commit(s, &p, n, index);
    emit(s, r, ev);
out:
    path_free(&p);
    return r->err;
}

/* delete, compareAndDelete and internal delete. */
static int op_delete(struct store *s, const struct store_cmd *c, struct store_result *r)
{
    bool cad = c->op == STORE_OP_CAD;
    bool internal = c->op == STORE_OP_INTERNAL_DELETE;
    bool recursive = c->recursive || internal;
    bool dir = c->dir || recursive;
    if (c->key_len == 1 && !cad)
        return fail_cause(s, r, ET_E_ROOT_RONLY, "/", 1);
    struct path p;
    path_init(&p, c->key, c->key_len);
    int rc = path_resolve(&p, s->root, &r->cause);
    if (rc) {
        fail(s, r, rc);
        goto out;
    }
    const struct store_node *old = p.nodes[p.n];
    if (old->dir && (cad || !dir)) {
        /* 3.4 names no cause when a compare-and-delete hits the root */
        fail_cause(s, r, ET_E_NOT_FILE, c->key, c->key_len == 1 && cad ? 0 : c->key_len);
        goto out;
    }
    if (old->dir && old->kids && !recursive) {
        fail_cause(s, r, ET_E_DIR_NOT_EMPTY, c->key, c->key_len);
        goto out;
    }
    if (cad && compare(s, r, c, old))
        goto out;
    uint64_t index = s->index + 1;
    struct store_jnode jn, jp;
    removal_jnode(&jn, old, &p, index);
    store__jnode_of(&jp, old, c->key, c->key_len);
    struct store_event *ev =
        store__event_new(cad ? STORE_ACTION_CAD : STORE_ACTION_DELETE, index, &jn, &jp, c->now_ns);
    remove_node(s, &p, ev, index);
    emit(s, r, ev);
out:
    path_free(&p);
    return r->err;
}

/* The sweep: every node with expiration <= now, in (expiration, key) order, one event each. */
static void op_expire(struct store *s, const struct store_cmd *c, struct store_result *r)
{
    struct et_buf key = ET_BUF_INIT;
    for (;;) {
        const struct store_ttl *t = ttl_min(s);
        if (t == NULL || t->expire_ns > c->now_ns)
            break;
        et_buf_reset(&key);
        et_buf_append(&key, t->key, t->key_len);
        struct path p;
        path_init(&p, key.data, key.len);
        int rc = path_resolve(&p, s->root, NULL);
        ET_ASSERT(rc == 0);
        const struct store_node *n = p.nodes[p.n];
        uint64_t index = s->index + 1;
        struct store_jnode jn, jp;
        removal_jnode(&jn, n, &p, index);
        store__jnode_of(&jp, n, key.data, key.len);
        struct store_event *ev = store__event_new(STORE_ACTION_EXPIRE, index, &jn, &jp, c->now_ns);
        remove_node(s, &p, ev, index);
        emit(s, r, ev);
        stat_inc(&s->stats.expire_count);
        path_free(&p);
    }
    et_buf_free(&key);
}

static void count(struct store *s, int op, bool ok)
{
    struct store_stats *st = &s->stats;
    switch (op) {
    case STORE_OP_SET:
        stat_inc(ok ? &st->sets_success : &st->sets_fail);
        break;
    case STORE_OP_CREATE:
    case STORE_OP_CREATE_INORDER:
        stat_inc(ok ? &st->create_success : &st->create_fail);
        break;
    case STORE_OP_UPDATE:
        stat_inc(ok ? &st->update_success : &st->update_fail);
        break;
    case STORE_OP_CAS:
        stat_inc(ok ? &st->cas_success : &st->cas_fail);
        break;
    case STORE_OP_DELETE:
        stat_inc(ok ? &st->delete_success : &st->delete_fail);
        break;
    case STORE_OP_CAD:
        stat_inc(ok ? &st->cad_success : &st->cad_fail);
        break;
    default:
        break; /* expiry counts per node; internal writes are not client operations */
    }
}

void store_apply(struct store *s, const struct store_cmd *c, struct store_result *r)
{
    ET_ASSERT(s != NULL);
    ET_ASSERT(c != NULL);
    memset(r, 0, sizeof(*r));
    if (c->op != STORE_OP_EXPIRE && !store__key_valid(c->key, c->key_len)) {
        fail_cause(s, r, ET_E_INVALID_FIELD, "invalid key", 11);
        count(s, c->op, false);
        return;
    }
    switch (c->op) {
    case STORE_OP_SET:
    case STORE_OP_CREATE:
    case STORE_OP_INTERNAL_SET:
        op_create(s, c, r, c->key, c->key_len);
        break;
    case STORE_OP_CREATE_INORDER: {
        /* "/" and the index zero-padded to 20 digits, as etcd's %020d */
        char name[1 + ET_U64_STR_MAX];
        name[0] = '/';
        et_u64_str_fixed(name + 1, s->index + 1, ET_U64_STR_MAX);
        struct et_buf k = ET_BUF_INIT;
        if (c->key_len > 1)
            et_buf_append(&k, c->key, c->key_len);
        et_buf_append(&k, name, sizeof(name));
        op_create(s, c, r, k.data, k.len);
        et_buf_free(&k);
        break;
    }
    case STORE_OP_UPDATE:
    case STORE_OP_CAS:
        op_update(s, c, r);
        break;
    case STORE_OP_DELETE:
    case STORE_OP_CAD:
    case STORE_OP_INTERNAL_DELETE:
        op_delete(s, c, r);
        break;
    case STORE_OP_EXPIRE:
        op_expire(s, c, r);
        break;
    default:
        fail_cause(s, r, ET_E_INVALID_FIELD, "invalid command", 15);
        return;
    }
    count(s, c->op, r->err == 0);
}

void store_count_cluster(struct store *s, uint8_t op)
{
    count(s, op, true);
}

void store_apply_cluster(struct store *s, uint8_t op)
{
    /* a refresh event: kept in the history (and in snapshots) but never matched or delivered */
    static const char key[] = "/0";
    static const char json[] = "{}\n";
    struct store_event *ev = store__event_raw(STORE_ACTION_SET, s->index + 1, key, sizeof(key) - 1,
                                              json, sizeof(json) - 1);
    ev->refresh = true;
    s->index = ev->index;
    hist_add(s, ev);
    store_event_unref(ev);
    count(s, op, true);
}

/* ---- reads -------------------------------------------------------------------------------- */

static bool name_hidden(const struct store_node *n)
{
    return n->name_len > 0 && n->data[0] == '_';
}

/*
 * Sizes the body of a large listing once its first plain child entry (@entry bytes) is rendered,
 * so the buffer does not grow by doubling, copying itself a dozen times: room for @kids entries
 * of about that size (an entry larger than LISTING_ENTRY_MAX counts as that much, so one large
 * value does not reserve for all its siblings; growth covers what the estimate misses). Pages of
 * the reservation that are never written are never touched.
 */
#define LISTING_PRESIZE_MIN 64  /* children below which growing as usual is cheap enough */
#define LISTING_ENTRY_MAX   512 /* bytes an entry counts for at most */

static void presize(struct et_buf *out, size_t entry, uint32_t kids)
{
    if (kids < LISTING_PRESIZE_MIN)
        return;
    if (entry > LISTING_ENTRY_MAX)
        entry = LISTING_ENTRY_MAX;
    /* one entry more per eight: names and indexes get longer further down the listing */
    size_t want = (size_t)kids * (entry + 1) + (size_t)kids * (entry + 1) / 8 + 64;
    et_buf_reserve(out, want);
}

/* Appends the node at @key with its listing (one level, or all levels when @recursive). */
static void render_tree(struct et_buf *out, const struct store_node *top, const char *key,
                        size_t key_len, bool recursive, int64_t now_ns)
{
    struct store_jnode j;
    store__jnode_of(&j, top, key, key_len);
    store__json_node_head(out, &j, now_ns);
    if (!top->dir) {
        store__json_node_tail(out, &j);
        return;
    }
    struct store_walk w;
    store__walk_init(&w, key, key_len);
    store__walk_descend(&w, top);
    const struct store_node *n;
    bool any, sized = false;
    enum store_walk_step st;
    while ((st = store__walk_next(&w, &n, &any)) != STORE_WALK_END) {
        if (st == STORE_WALK_UP) {
            if (any)
                et_buf_append_char(out, ']');
            store__jnode_of(&j, n, NULL, 0);
            store__json_node_tail(out, &j);
            continue;
        }
        if (name_hidden(n))
            continue;
        struct store_walk_frame *f = store__walk_top(&w);
        et_buf_append_str(out, f->any ? "," : ",\"nodes\":[");
        f->any = true;
        size_t entry_start = out->len;
        store__jnode_of(&j, n, w.path.data, w.path.len);
        store__json_node_head(out, &j, now_ns);
        if (n->dir && recursive && n->kids) {
            store__walk_descend(&w, n);
            continue;
        }
        store__json_node_tail(out, &j);
        if (!sized && w.frame_count == 1) {
            sized = true;
            presize(out, out->len - entry_start, store__tn_count(top->kids));
        }
    }
    store__walk_free(&w);
}

static struct store_version *version(struct store *s)
{
    return __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE);
}

int store_get(struct store *s, const char *key, size_t key_len, bool recursive, bool sorted,
              int64_t now_ns, struct et_buf *out, uint64_t *index, struct et_buf *cause)
{
    (void)sorted; /* listings are always in name order, which is what sorted asks for */
    const struct store_version *v = version(s);
    *index = v->index;
    if (!store__key_valid(key, key_len)) {
        et_buf_append(cause, key, key_len);
        return ET_E_KEY_NOT_FOUND;
    }
    struct path p;
    path_init(&p, key, key_len);
    int rc = path_resolve(&p, v->root, cause);
    if (rc == 0) {
        et_buf_append_str(out, "{\"action\":\"get\",\"node\":");
        render_tree(out, p.nodes[p.n], key, key_len, recursive, now_ns);
        et_buf_append_str(out, "}\n");
    }
    path_free(&p);
    return rc;
}

/* History scan match (etcd's EventHistory.scan, spec 5.6.2). */
static bool history_match(const struct store_event *ev, const char *key, size_t key_len,
                          bool recursive)
{
    if (ev->refresh)
        return false;
    if (ev->key_len == key_len && memcmp(ev->key, key, key_len) == 0)
        return true;
    if (recursive) {
        bool root = key_len == 1;
        if (root ? ev->key_len > 1
                 : ev->key_len > key_len && ev->key[key_len] == '/' &&
                       memcmp(ev->key, key, key_len) == 0)
            return true;
    }
    /* Q2: a directory deletion or expiry matches by plain string prefix */
    if ((ev->action == STORE_ACTION_DELETE || ev->action == STORE_ACTION_EXPIRE) && ev->dir &&
        key_len >= ev->key_len && memcmp(key, ev->key, ev->key_len) == 0)
        return true;
    return false;
}

int store_history_find(struct store *s, const char *key, size_t key_len, bool recursive,
                       uint64_t from_index, struct store_event **evp, uint64_t *scanned_to,
                       struct et_buf *cause)
{
    const struct store_version *v = version(s);
    *evp = NULL;
    *scanned_to = v->index;
    if (v->hist_last == 0)
        return 0;
    if (from_index < v->hist_first) {
        et_buf_printf(cause, "the requested history has been cleared [%llu/%llu]",
                      (unsigned long long)v->hist_first, (unsigned long long)from_index);
        return ET_E_EVENT_INDEX_CLEARED;
    }
    for (uint64_t i = from_index; i <= v->hist_last; i++) {
        struct store_event *ev = __atomic_load_n(&s->hist[i % s->hist_cap], __ATOMIC_ACQUIRE);
        if (ev == NULL || ev->index != i) {
            /* the writer has moved on and overwritten the slot since this version */
            uint64_t oldest = ev && ev->index > i ? ev->index - s->hist_cap + 1 : i + 1;
            et_buf_printf(cause, "the requested history has been cleared [%llu/%llu]",
                          (unsigned long long)oldest, (unsigned long long)from_index);
            return ET_E_EVENT_INDEX_CLEARED;
        }
        if (history_match(ev, key, key_len, recursive)) {
            store_event_ref(ev);
            *evp = ev;
            *scanned_to = i;
            return 0;
        }
    }
    return 0;
}
