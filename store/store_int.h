/*
 * store/store_int.h - declarations shared by the files of the store module only.
 *
 * The tree: a directory's children live in a persistent treap (struct store_tn) ordered by name
 * bytes, with the priority derived from a hash of the name, so the shape depends only on the set
 * of names. Nodes and treap entries are reference counted by the writer alone (plain integers):
 * a version of the tree holds one reference on its root, a treap entry one on its node and on its
 * two subtrees, a directory one on its treap root. An object whose count drops to zero is retired
 * and freed after an RCU grace period; an object reachable from a published root is never
 * written again.
 */
#ifndef ET_STORE_STORE_INT_H
#define ET_STORE_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <urcu-qsbr.h>

#include "core/buf.h"
#include "store/store.h"

/* Expirations before 2000-01-01T00:00:00Z mean "permanent" (etcd's minExpireTime, S-30). */
#define STORE_MIN_EXPIRE_NS (946684800LL * 1000000000LL)

struct store_tn;

/* A key or a directory. Immutable once reachable from a published root. */
struct store_node {
    uint32_t refs;              /* writer-only reference count */
    uint32_t name_len;          /* last path component (empty for the root) */
    uint32_t value_len;         /* keys only */
    bool dir;                   /* directory (children in @kids) or key (value in @data) */
    uint64_t epoch;             /* store_mem.epoch when made (see store__node_excl) */
    uint64_t created_index;     /* createdIndex (0 for the root) */
    uint64_t modified_index;    /* modifiedIndex (0 for the root) */
    int64_t expire_ns;          /* absolute expiration, wall ns; 0 = permanent */
    struct store_tn *kids;      /* directories: treap of children (NULL when empty) */
    struct store_node *gc_next; /* retire work stack link (writer) */
    char data[];                /* name bytes, then value bytes */
};

/* One entry of a directory's children treap. */
struct store_tn {
    uint32_t refs;            /* writer-only reference count */
    uint32_t prio;            /* heap priority: hash of the name */
    uint32_t count;           /* entries in this subtree (itself included); fits the padding */
    uint64_t epoch;           /* store_mem.epoch when made (see store__node_excl) */
    uint64_t pfx;             /* the name's first 8 bytes, big-endian, zero-padded (see tn_cmp) */
    struct store_tn *l, *r;   /* smaller / larger names */
    struct store_node *node;  /* the child */
    struct store_tn *gc_next; /* retire work stack link (writer) */
};

static inline const char *store__node_name(const struct store_node *n)
{
    return n->data;
}

static inline const char *store__node_value(const struct store_node *n)
{
    return n->data + n->name_len;
}

/* Objects waiting for a grace period, freed together by one call_rcu callback. */
struct store_gc {
    struct rcu_head head;
    struct store_event **events; /* references dropped after the grace period */
    size_t event_count, event_cap;
    void **blocks; /* retired nodes, treap entries and plain allocations, freed after it */
    size_t block_count, block_cap;
};

/* The writer's allocation counters (store_mem_stats). */
struct store_mem {
    uint64_t node_allocs, tn_allocs;
    uint64_t node_live, tn_live;
    uint64_t epoch; /* advanced by every publish; 64 bits, so it never comes round again */
};

/*
 * Objects made since the last publish (epoch == m->epoch) were never reachable from a published
 * version, so no reader can see them. One of those with a single reference, reached from the
 * working root through objects that are all like it, belongs to the working tree alone: the
 * writer may change it in place instead of copying it. A batch of writes into one directory then
 * copies the path to the root once, not once per write.
 */
static inline bool store__node_excl(const struct store_mem *m, const struct store_node *n)
{
    return n->epoch == m->epoch && n->refs == 1;
}

static inline bool store__tn_excl(const struct store_mem *m, const struct store_tn *t)
{
    return t->epoch == m->epoch && t->refs == 1;
}

/* ---- tree.c -------------------------------------------------------------------------------- */

/* Returns a new node (refs 1) with copies of @name and @value. */
struct store_node *store__node_new(struct store_mem *m, bool dir, const char *name, size_t name_len,
                                   const char *value, size_t value_len);
/* Returns a new node equal to @n (same children, taking new references on them). */
struct store_node *store__node_copy(struct store_mem *m, const struct store_node *n);

/* Take a reference. */
struct store_node *store__node_get(struct store_node *n);
struct store_tn *store__tn_get(struct store_tn *t);
/* Drop a reference; objects reaching zero are retired into @gc (iteratively, no recursion). */
void store__node_put(struct store_mem *m, struct store_gc *gc, struct store_node *n);
void store__tn_put(struct store_mem *m, struct store_gc *gc, struct store_tn *t);
/* Adds @p to the allocations @gc frees. */
void store__gc_push(struct store_gc *gc, void *p);
/* Frees everything in @gc (the batch itself too). Runs after the grace period. */
void store__gc_free(struct store_gc *gc);

/* The child of @t named @name, or NULL. Any thread. */
const struct store_node *store__tn_find(const struct store_tn *t, const char *name, size_t len);
/* Returns a new treap root: @t with @child (taken) stored under its name. @t is borrowed. */
struct store_tn *store__tn_insert(struct store_mem *m, const struct store_tn *t,
                                  struct store_node *child);
/* Returns a new treap root: @t without @name, which must be present. @t is borrowed. */
struct store_tn *store__tn_remove(struct store_mem *m, const struct store_tn *t, const char *name,
                                  size_t len);
/*
 * Like store__tn_insert and store__tn_remove, but the caller's reference on @t is given up to the
 * call (dropped into @gc if no longer needed), and entries that belong to the caller alone
 * (store__tn_excl on every entry from @t down) are changed in place.
 */
struct store_tn *store__tn_insert_own(struct store_mem *m, struct store_gc *gc, struct store_tn *t,
                                      struct store_node *child);
struct store_tn *store__tn_remove_own(struct store_mem *m, struct store_gc *gc, struct store_tn *t,
                                      const char *name, size_t len);
/* True when every entry from @t down to @name's (present) belongs to the caller alone. */
bool store__tn_path_excl(const struct store_mem *m, const struct store_tn *t, const char *name,
                         size_t len);

/* Number of children in treap @t (0 for NULL). */
static inline uint32_t store__tn_count(const struct store_tn *t)
{
    return t ? t->count : 0;
}

/* Builds a treap from @n children sorted by strictly ascending name (references taken). */
struct store_tn *store__tn_build(struct store_mem *m, struct store_node **kids, size_t n);

/* Name order: bytewise, shorter first on a common prefix (Go string order). */
int store__name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Iterative depth-first walk of a subtree (pre-order, children in name order). No recursion, so
 * any directory depth is fine. The caller decides for each directory whether to descend.
 */
struct store_walk_frame {
    const struct store_node *dir;
    size_t key_len;    /* length of the directory's key in @path */
    size_t stack_base; /* first treap stack slot of this frame */
    bool any;          /* caller's flag: a child was emitted */
};

struct store_walk {
    struct et_buf path; /* key of the node last returned */
    struct store_walk_frame *frames;
    size_t frame_count, frame_cap;
    const struct store_tn **stack;
    size_t stack_count, stack_cap;
};

enum store_walk_step {
    STORE_WALK_END,
    STORE_WALK_NODE, /* *n is the next child of the innermost open directory; path is its key */
    STORE_WALK_UP,   /* the innermost directory is finished: *n is it, path is its key */
};

/* Starts a walk at @key (a directory or key whose node the caller already has). */
void store__walk_init(struct store_walk *w, const char *key, size_t key_len);
/* Opens directory @dir (whose key is the current path) so its children come next. */
void store__walk_descend(struct store_walk *w, const struct store_node *dir);
/* The next step; on STORE_WALK_UP, *any is the finished frame's flag. */
enum store_walk_step store__walk_next(struct store_walk *w, const struct store_node **n, bool *any);
/* The innermost open frame (to set its flag). */
struct store_walk_frame *store__walk_top(struct store_walk *w);
void store__walk_free(struct store_walk *w);

/* ---- event.c ------------------------------------------------------------------------------- */

/* What a node looks like in JSON (4.4). */
struct store_jnode {
    const char *key; /* NULL or "/" for the root: omitted */
    size_t key_len;
    const char *value; /* NULL: no value field */
    size_t value_len;
    bool dir;
    int64_t expire_ns; /* 0: no expiration/ttl */
    uint64_t modified_index, created_index;
};

/* Fills @j from @n at @key (with value for keys, TTL, indexes). */
void store__jnode_of(struct store_jnode *j, const struct store_node *n, const char *key,
                     size_t key_len);
/* Appends the fields before "nodes" ("{" included, no closing). */
void store__json_node_head(struct et_buf *b, const struct store_jnode *j, int64_t now_ns);
/* Appends the index fields and "}". */
void store__json_node_tail(struct et_buf *b, const struct store_jnode *j);
/* The ttl etcd reports: ceil((expire - now) / 1 s). */
int64_t store__ttl(int64_t expire_ns, int64_t now_ns);

/* Returns a new event (refs 1) with its JSON body built from @node and @prev (may be NULL). */
struct store_event *store__event_new(int action, uint64_t index, const struct store_jnode *node,
                                     const struct store_jnode *prev, int64_t now_ns);
/* Returns a new event (refs 1) from stored fields (snapshot load). */
struct store_event *store__event_raw(int action, uint64_t index, const char *key, size_t key_len,
                                     const char *json, size_t json_len);

/* Appends @key to a removal event's list of removed descendants (packed, see store_event). */
void store__event_add_sub_key(struct store_event *ev, const char *key, size_t key_len);

/* ---- store.c ------------------------------------------------------------------------------- */

/* A published version: what readers see. Freed after a grace period once replaced. */
struct store_version {
    struct store_node *root; /* holds one reference */
    uint64_t index;          /* etcd index of this version */
    uint64_t hist_first;     /* oldest event in the history (0 when empty) */
    uint64_t hist_last;      /* newest event in the history (0 when empty) */
};

struct store_ttl;

struct store {
    struct store_version *cur; /* published version (release store / acquire load) */
    uint64_t published_index;  /* cur->index, readable without RCU */
    /* writer's working version */
    struct store_node *root; /* one reference */
    uint64_t index;
    struct store_event **hist; /* ring: slot i % hist_cap holds event i (atomic pointers) */
    size_t hist_cap;
    uint64_t hist_first, hist_last;
    struct store_ttl *ttl; /* TTL index (writer only) */
    size_t ttl_count;
    uint64_t ttl_rng;    /* priorities of the TTL treap */
    struct store_gc *gc; /* batch of objects retired since the last publish */
    struct store_mem mem;
    struct store_stats stats; /* relaxed atomic counters */
};

#ifdef __SANITIZE_THREAD__
/* TSan cannot see RCU grace periods; readers release this and the freeing callback acquires it. */
extern uint64_t store__tsan_sync;
#endif

/* Checks that @key is an absolute, cleaned path. */
bool store__key_valid(const char *key, size_t key_len);
/* Drops the working version's reference on @n (retiring what becomes unreachable). */
void store__node_release(struct store *s, struct store_node *n);
/* Releases @ev's history reference after the next grace period. */
void store__gc_event(struct store *s, struct store_event *ev);
/* Adds @key with @expire_ns to the TTL index. */
void store__ttl_add(struct store *s, int64_t expire_ns, const char *key, size_t key_len);
void store__ttl_clear(struct store *s);
/* Drops the working tree, history and TTL index (the published version stays). */
void store__free_state(struct store *s);

/* ---- msgpack field readers shared by commands (cmd.c) and snapshots (snapshot.c) ------- */

/* Reads a non-negative integer; false for any other type. */
static inline bool store__mp_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

/* Reads an integer that fits int64_t; false for any other type or a larger value. */
static inline bool store__mp_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

#endif
