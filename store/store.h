/*
 * store/store.h - the etcd v2 key space: a copy-on-write tree of directories and keys, the event
 * history, TTL expiry and the watch matching rules. The store does no I/O, reads no clock and
 * knows nothing of HTTP: it applies commands and answers queries, rendering JSON exactly as etcd
 * 3.4 does (spec/v2-keys-api.md sections 4-8).
 *
 * Threads:
 *   - one writer (the apply callback of the Raft thread) calls store_apply() for each committed
 *     command and store_publish() once per applied batch;
 *   - any number of readers (reactors) call store_get() / store_history_find() / store_index()
 *     while registered with store_reader_register() and online (liburcu QSBR);
 *   - a store_hub is owned by one thread (each reactor has its own); it never touches the tree.
 *
 * Indexes: the etcd index starts at 0 and grows by one per successful mutation (one per expired
 * node for a sweep). Commands carry absolute times chosen by the proposer, so every member that
 * applies the same log reaches the same state.
 */
#ifndef ET_STORE_STORE_H
#define ET_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/buf.h"

struct store;

/* ---- commands (replicated through the Raft log) ---------------------------------------- */

enum store_op {
    STORE_OP_SET = 1,         /* create or replace (etcd "set") */
    STORE_OP_CREATE,          /* must not exist (prevExist=false) */
    STORE_OP_UPDATE,          /* must exist (prevExist=true, no comparison) */
    STORE_OP_CAS,             /* compareAndSwap: prev_value and/or prev_index */
    STORE_OP_DELETE,          /* delete (dir / recursive flags) */
    STORE_OP_CAD,             /* compareAndDelete */
    STORE_OP_CREATE_INORDER,  /* POST: child of @key named by the new index, 20 digits */
    STORE_OP_EXPIRE,          /* sweep: expire every node whose expiration <= now_ns */
    STORE_OP_INTERNAL_SET,    /* server-owned key (e.g. /_etcd/...): set without client checks */
    STORE_OP_INTERNAL_DELETE, /* server-owned key removal (recursive) */
};

/*
 * A command. Strings are borrowed (not NUL-terminated; use the lengths). After
 * store_cmd_decode() they point into the decoded buffer.
 */
struct store_cmd {
    uint8_t op;          /* enum store_op */
    bool dir;            /* create a directory (set/create/inorder) or allow dir delete */
    bool recursive;      /* delete: whole subtree */
    bool refresh;        /* TTL-only refresh (spec 6.4): no watcher notified */
    bool has_prev_value; /* compare on prev_value */
    const char *key;     /* cleaned absolute path, "/" for the root, no trailing slash */
    size_t key_len;
    const char *value; /* new value ("" when absent) */
    size_t value_len;
    const char *prev_value; /* CAS/CAD comparison value (non-empty when has_prev_value) */
    size_t prev_value_len;
    uint64_t prev_index; /* CAS/CAD comparison on modifiedIndex; 0 = not given */
    int64_t expire_ns;   /* absolute expiration (wall ns); 0 = permanent */
    int64_t now_ns;      /* proposer's wall clock: sweeps and ttl rendering use it */
};

/* Appends the msgpack encoding of @cmd to @out. */
void store_cmd_encode(const struct store_cmd *cmd, struct et_buf *out);
/* Decodes @len bytes at @p into @cmd (strings point into @p). Returns 0 or -EINVAL. */
ET_NODISCARD int store_cmd_decode(const void *p, size_t len, struct store_cmd *cmd);

/* ---- events ------------------------------------------------------------------------------- */

enum store_action {
    STORE_ACTION_GET,
    STORE_ACTION_SET,
    STORE_ACTION_CREATE,
    STORE_ACTION_UPDATE,
    STORE_ACTION_CAS,
    STORE_ACTION_DELETE,
    STORE_ACTION_CAD,
    STORE_ACTION_EXPIRE,
};

/* "get", "set", "create", "update", "compareAndSwap", "delete", "compareAndDelete", "expire". */
const char *store_action_name(int action);

/*
 * One change of the key space, immutable once made and shared by reference (the history, the
 * writer's response and every watcher that receives it). @json is the complete event body as
 * etcd sends it: {"action":...,"node":...,"prevNode":...} followed by one LF, with ttl values
 * computed when the event happened.
 */
struct store_event {
    uint64_t index; /* etcd index of the event (node.modifiedIndex) */
    uint32_t _refs; /* atomic reference count */
    uint8_t action; /* enum store_action */
    bool refresh;   /* TTL refresh: never delivered to watchers */
    bool dir;       /* the event's node is a directory */
    bool removal;   /* delete, compareAndDelete or expire */
    bool created;   /* no node existed before (HTTP 201 for set/create) */
    char *key;      /* node key, NUL-terminated */
    size_t key_len;
    char *json; /* full body, NUL-terminated, ends with "\n" */
    size_t json_len;
    /*
     * Removal of a non-empty directory: the keys of every node removed below @key (spec 5.6.1
     * rule 3 wakes watchers of those nodes only), packed as a uint32_t length (native order)
     * followed by the key bytes. NULL otherwise. Read by store_hub_dispatch().
     */
    char *_sub_keys;
    size_t _sub_keys_len;
    size_t _sub_keys_cap;
};

void store_event_ref(struct store_event *ev);
void store_event_unref(struct store_event *ev);

/* ---- the store ---------------------------------------------------------------------------- */

struct store_config {
    size_t history_max; /* events kept for waitIndex catch-up (etcd: 1000) */
};

/* Returns a new empty store (index 0, root directory only). Thread: any, before sharing. */
struct store *store_new(const struct store_config *cfg);
/* Frees the store; no reader may be using it and the writer must be stopped. */
void store_free(struct store *s);

/*
 * Result of store_apply(). On success @err is 0 and @events holds the events made (one for
 * every op except STORE_OP_EXPIRE, which makes one per expired node, possibly none); each is a
 * reference the caller must drop with store_event_unref(). On failure @err is an ET_E_* code,
 * @index the current etcd index and @cause the error's cause text (etcd's, spec 4.5).
 */
struct store_result {
    int err;
    uint64_t index;
    struct et_buf cause;         /* owned; store_result_free() releases it */
    struct store_event **events; /* owned array of references */
    size_t event_count;
    size_t _event_cap;
};

void store_result_free(struct store_result *r);

/*
 * Applies @cmd to the writer's working version. Thread: the writer. Changes become visible to
 * readers at the next store_publish(). @res is overwritten (release an earlier result with
 * store_result_free() first) and must be released with store_result_free(). Always succeeds or
 * fails as etcd would (client errors are results, not assertions): a malformed command from the log
 * is an error result too.
 */
void store_apply(struct store *s, const struct store_cmd *cmd, struct store_result *res);

/*
 * Records a change of the cluster's own records, which etcd 3.4 keeps in the same store under
 * /0, outside the key space (a member added, updated, published or removed; the cluster version):
 * advances the index by one with an event in the history that no watcher receives, so the indexes
 * clients see move as etcd's do. Counted in the statistics as a successful @op (STORE_OP_SET,
 * _CREATE, _UPDATE or _DELETE), as etcd counts those writes. Thread: the writer.
 */
void store_apply_cluster(struct store *s, uint8_t op);

/* Counts a successful @op in the statistics without applying anything. Thread: the writer. */
void store_count_cluster(struct store *s, uint8_t op);

/* Makes everything applied so far visible to readers. Thread: the writer; once per batch. */
void store_publish(struct store *s);

/* Earliest expiration among nodes with a TTL (wall ns), or INT64_MAX. Thread: the writer. */
int64_t store_next_expiry(const struct store *s);

/* The published etcd index. Thread: any. */
uint64_t store_index(const struct store *s);

/* ---- reads (reactor threads) ---------------------------------------------------------------- */

/* Registers / unregisters the calling thread as an RCU reader (it starts online). */
void store_reader_register(void);
void store_reader_unregister(void);
/* A registered reader goes offline before it blocks and online after; quiescent once a turn. */
void store_reader_offline(void);
void store_reader_online(void);
void store_reader_quiescent(void);

/*
 * GET: appends {"action":"get","node":...}\n for @key (recursive/sorted as etcd; hidden children
 * omitted; ttl computed against @now_ns) to @out and sets *@index to the etcd index of the
 * version read. Returns 0, or ET_E_KEY_NOT_FOUND / ET_E_NOT_DIR with the cause appended to
 * @cause. Thread: an online reader.
 */
ET_NODISCARD int store_get(struct store *s, const char *key, size_t key_len, bool recursive,
                           bool sorted, int64_t now_ns, struct et_buf *out, uint64_t *index,
                           struct et_buf *cause);

/*
 * History catch-up for a watch on @key from @from_index (spec 5.6.2: history rules, string
 * prefix for directory removals, hidden rule not applied, refresh events skipped). Scans events
 * with index in [from_index, store_index()]. Returns 0 and sets *@ev to a new reference of the
 * first match (or NULL when none) and *@scanned_to to the last index scanned; or
 * ET_E_EVENT_INDEX_CLEARED with cause "the requested history has been cleared [oldest/from]".
 * Thread: an online reader.
 */
ET_NODISCARD int store_history_find(struct store *s, const char *key, size_t key_len,
                                    bool recursive, uint64_t from_index, struct store_event **ev,
                                    uint64_t *scanned_to, struct et_buf *cause);

/* ---- client operation counters (/v2/stats/store) ------------------------------------------ */

struct store_stats {
    uint64_t sets_success, sets_fail;
    uint64_t delete_success, delete_fail;
    uint64_t update_success, update_fail;
    uint64_t create_success, create_fail;
    uint64_t cas_success, cas_fail;
    uint64_t cad_success, cad_fail;
    uint64_t expire_count;
};

/* Counters of applied client writes. Thread: any (relaxed atomic reads). */
void store_stats_get(const struct store *s, struct store_stats *out);

/* Tree allocation counters of the writer (tests measure the cost of a write). Thread: writer. */
struct store_mem_stats {
    uint64_t node_allocs; /* nodes ever allocated */
    uint64_t tn_allocs;   /* children-treap entries ever allocated */
    uint64_t node_live;   /* nodes allocated and not yet retired */
    uint64_t tn_live;     /* treap entries allocated and not yet retired */
};

void store_mem_stats_get(const struct store *s, struct store_mem_stats *out);

/* ---- snapshots -------------------------------------------------------------------------- */

/* Appends a msgpack snapshot of the published version (tree, index, history) to @out. */
void store_snapshot_save(struct store *s, struct et_buf *out);
/*
 * The same in three steps, so that the long one can run on another thread: capture the published
 * version by reference (writer thread, cheap), write its snapshot (any thread, while the writer
 * goes on), release it (writer thread; its garbage goes with the next store_publish()).
 */
struct store_image;
struct store_image *store_snapshot_capture(struct store *s);
void store_image_write(const struct store_image *img, struct et_buf *out);
void store_image_release(struct store *s, struct store_image *img);
/* Replaces the whole state with the snapshot at @p. Thread: the writer. Returns 0 or -EINVAL. */
ET_NODISCARD int store_snapshot_load(struct store *s, const void *p, size_t len);

/* ---- the watch hub (one per reactor, single-threaded) ----------------------------------- */

struct store_hub;
struct store_watcher;

/*
 * Called for each event delivered to @w. The event is borrowed for the call (take a reference
 * to keep it). Return true to keep watching (stream), false to be removed (the hub forgets @w
 * before returning, so the callback may free it).
 */
typedef bool (*store_watch_fn)(struct store_watcher *w, struct store_event *ev, void *data);

struct store_watcher {
    const char *key; /* borrowed; must stay valid while registered */
    size_t key_len;
    bool recursive;
    uint64_t start_index; /* only events with index >= this are delivered */
    store_watch_fn fn;
    void *data;
    /* hub-private */
    struct store_watcher *_next, *_prev;
    void *_slot;
};

struct store_hub *store_hub_new(void);
/* Frees the hub. Watchers still registered are forgotten without being touched. */
void store_hub_free(struct store_hub *h);
/* Registers @w (not owned). Thread: the hub's owner. */
void store_hub_add(struct store_hub *h, struct store_watcher *w);
/* Unregisters @w if registered. */
void store_hub_remove(struct store_hub *h, struct store_watcher *w);
/*
 * Delivers @n events (ascending index) to every matching watcher by the live rules (spec 5.6.1:
 * exact key, recursive below on component boundaries, removals of a directory containing the
 * watched key, hidden components below a recursive watch skipped, refresh events never).
 */
void store_hub_dispatch(struct store_hub *h, struct store_event *const *events, size_t n);
/* Watchers registered. */
size_t store_hub_count(const struct store_hub *h);

#endif
