/*
 * store/hub.c - the watch hub: which registered watchers an event wakes (spec 5.6.1, live rules).
 *
 * Watchers are grouped in slots by exact key, found through a hash table; each slot keeps its
 * recursive and non-recursive watchers in separate lists, so an event costs one lookup per
 * component of its key (the key and each ancestor), touching only recursive watchers at the
 * ancestors. A removal of a directory also wakes watchers placed exactly on the removed nodes
 * below it: the event carries their keys (store_event._sub_keys), one lookup each.
 *
 * Delivery may call back into the hub (add, remove, free the delivered watcher): a slot is pinned
 * while its watchers are visited, and each watcher is detached before its callback runs.
 *
 * Thread: the hub's owner only (no locks).
 */
#include <string.h>

#include "core/alloc.h"
#include "store/store.h"

struct hub_slot {
    struct hub_slot *hnext; /* hash chain */
    uint64_t hash;
    struct store_watcher lists[2]; /* sentinels: [0] non-recursive, [1] recursive */
    unsigned pins;                 /* dispatches visiting this slot */
    size_t key_len;
    char key[];
};

struct store_hub {
    struct hub_slot **buckets;
    size_t bucket_count; /* power of two */
    size_t slot_count;
    size_t watcher_count;
};

static uint64_t key_hash(const char *k, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static void list_init(struct store_watcher *head)
{
    head->_next = head->_prev = head;
}

static bool list_empty(const struct store_watcher *head)
{
    return head->_next == head;
}

static void list_unlink(struct store_watcher *w)
{
    w->_prev->_next = w->_next;
    w->_next->_prev = w->_prev;
    w->_next = w->_prev = NULL;
}

static void list_append(struct store_watcher *head, struct store_watcher *w)
{
    w->_prev = head->_prev;
    w->_next = head;
    head->_prev->_next = w;
    head->_prev = w;
}

struct store_hub *store_hub_new(void)
{
    struct store_hub *h = et_calloc(1, sizeof(*h));
    h->bucket_count = 64;
    h->buckets = et_calloc(h->bucket_count, sizeof(*h->buckets));
    return h;
}

void store_hub_free(struct store_hub *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->bucket_count; i++) {
        struct hub_slot *s = h->buckets[i];
        while (s) {
            /* watchers still registered are forgotten, not touched: they may be gone already */
            struct hub_slot *next = s->hnext;
            et_free(s);
            s = next;
        }
    }
    et_free(h->buckets);
    et_free(h);
}

static struct hub_slot *slot_find(const struct store_hub *h, const char *key, size_t len,
                                  uint64_t hash)
{
    for (struct hub_slot *s = h->buckets[hash & (h->bucket_count - 1)]; s; s = s->hnext)
        if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    return NULL;
}

static void grow(struct store_hub *h)
{
    size_t n = h->bucket_count * 2;
    struct hub_slot **b = et_calloc(n, sizeof(*b));
    for (size_t i = 0; i < h->bucket_count; i++) {
        struct hub_slot *s = h->buckets[i];
        while (s) {
            struct hub_slot *next = s->hnext;
            s->hnext = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    et_free(h->buckets);
    h->buckets = b;
    h->bucket_count = n;
}

static void slot_maybe_free(struct store_hub *h, struct hub_slot *s)
{
    if (s->pins || !list_empty(&s->lists[0]) || !list_empty(&s->lists[1]))
        return;
    struct hub_slot **pp = &h->buckets[s->hash & (h->bucket_count - 1)];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    h->slot_count--;
    et_free(s);
}

void store_hub_add(struct store_hub *h, struct store_watcher *w)
{
    ET_ASSERT(w->fn != NULL);
    ET_ASSERT(w->key != NULL && w->key_len > 0);
    uint64_t hash = key_hash(w->key, w->key_len);
    struct hub_slot *s = slot_find(h, w->key, w->key_len, hash);
    if (s == NULL) {
        if (h->slot_count >= h->bucket_count)
            grow(h);
        s = et_alloc(sizeof(*s) + w->key_len);
        s->hash = hash;
        list_init(&s->lists[0]);
        list_init(&s->lists[1]);
        s->pins = 0;
        s->key_len = w->key_len;
        memcpy(s->key, w->key, w->key_len);
        s->hnext = h->buckets[hash & (h->bucket_count - 1)];
        h->buckets[hash & (h->bucket_count - 1)] = s;
        h->slot_count++;
    }
    list_append(&s->lists[w->recursive ? 1 : 0], w);
    w->_slot = s;
    h->watcher_count++;
}

void store_hub_remove(struct store_hub *h, struct store_watcher *w)
{
    struct hub_slot *s = w->_slot;
    if (s == NULL)
        return;
    list_unlink(w);
    w->_slot = NULL;
    h->watcher_count--;
    slot_maybe_free(h, s);
}

size_t store_hub_count(const struct store_hub *h)
{
    return h->watcher_count;
}

/*
 * Delivers @ev to every watcher of list @l of @s with start_index <= the event's index. The list
 * is moved aside first; each watcher goes back before the next one unless its callback ends it.
 */
static void deliver_list(struct store_hub *h, struct hub_slot *s, int l, struct store_event *ev)
{
    struct store_watcher *head = &s->lists[l];
    if (list_empty(head))
        return;
    struct store_watcher pending;
    pending._next = head->_next;
    pending._prev = head->_prev;
    pending._next->_prev = &pending;
    pending._prev->_next = &pending;
    list_init(head);
    while (!list_empty(&pending)) {
        struct store_watcher *w = pending._next;
        list_unlink(w);
        if (ev->index < w->start_index) {
            list_append(head, w);
            continue;
        }
        w->_slot = NULL;
        h->watcher_count--;
        if (w->fn(w, ev, w->data)) {
            list_append(head, w);
            w->_slot = s;
            h->watcher_count++;
        }
    }
}

static void deliver(struct store_hub *h, const char *key, size_t len, bool exact, bool recursive,
                    struct store_event *ev)
{
    struct hub_slot *s = slot_find(h, key, len, key_hash(key, len));
    if (s == NULL)
        return;
    s->pins++;
    if (exact)
        deliver_list(h, s, 0, ev);
    if (recursive)
        deliver_list(h, s, 1, ev);
    s->pins--;
    slot_maybe_free(h, s);
}

/* Whether a component of @key after its first @plen bytes starts with '_' (etcd's isHidden). */
static bool hidden_below(const char *key, size_t key_len, size_t plen)
{
    size_t i = plen == 1 ? 1 : plen + 1;
    if (i < key_len && key[i] == '_')
        return true;
    for (; i + 1 < key_len; i++)
        if (key[i] == '/' && key[i + 1] == '_')
            return true;
    return false;
}

static void dispatch_one(struct store_hub *h, struct store_event *ev)
{
    const char *key = ev->key;
    size_t len = ev->key_len;
    /* ancestors, from the root down: recursive watchers, unless hidden below them (rule 4) */
    if (len > 1 && !hidden_below(key, len, 1))
        deliver(h, "/", 1, false, true, ev);
    for (size_t i = 1; i < len; i++) {
        if (key[i] == '/' && !hidden_below(key, len, i))
            deliver(h, key, i, false, true, ev);
    }
    /* the key itself: every watcher (rule 1 and 2) */
    deliver(h, key, len, true, true, ev);
    /* rule 3: watchers placed on nodes removed with a directory */
    if (ev->removal && ev->_sub_keys) {
        size_t off = 0;
        while (off < ev->_sub_keys_len) {
            uint32_t l;
            memcpy(&l, ev->_sub_keys + off, sizeof(l));
            deliver(h, ev->_sub_keys + off + sizeof(l), l, true, true, ev);
            off += sizeof(l) + l;
        }
    }
}

void store_hub_dispatch(struct store_hub *h, struct store_event *const *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct store_event *ev = events[i];
        if (ev->refresh || h->watcher_count == 0)
            continue;
        dispatch_one(h, ev);
    }
}
