/*
 * store/event.c - events and the JSON rendering of nodes, byte for byte as etcd 3.4 writes them
 * (spec/v2-keys-api.md 4.3, 4.4, 4.7).
 *
 * Node fields, in order: key (omitted for the root), value (keys; never in the node of a removal
 * event), dir, expiration and ttl (nodes with a TTL; ttl omitted when it computes to 0), nodes
 * (the caller's listing), modifiedIndex and createdIndex (omitted when 0). An event is built once,
 * with its complete body, and then shared read-only by reference count between threads.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "store/store_int.h"

static const char *const action_names[] = {
    [STORE_ACTION_GET] = "get",
    [STORE_ACTION_SET] = "set",
    [STORE_ACTION_CREATE] = "create",
    [STORE_ACTION_UPDATE] = "update",
    [STORE_ACTION_CAS] = "compareAndSwap",
    [STORE_ACTION_DELETE] = "delete",
    [STORE_ACTION_CAD] = "compareAndDelete",
    [STORE_ACTION_EXPIRE] = "expire",
};

const char *store_action_name(int action)
{
    ET_ASSERT(action >= 0 && (size_t)action < ET_ARRAY_SIZE(action_names));
    return action_names[action];
}

int64_t store__ttl(int64_t expire_ns, int64_t now_ns)
{
    int64_t d;
    if (__builtin_sub_overflow(expire_ns, now_ns, &d))
        d = expire_ns > now_ns ? INT64_MAX : INT64_MIN;
    /* Go: d / time.Second, plus one when the remainder is positive (a ceiling) */
    int64_t t = d / ET_NS_PER_SEC;
    if (d % ET_NS_PER_SEC > 0)
        t++;
    return t;
}

void store__jnode_of(struct store_jnode *j, const struct store_node *n, const char *key,
                     size_t key_len)
{
    j->key = key;
    j->key_len = key_len;
    j->value = n->dir ? NULL : store__node_value(n);
    j->value_len = n->dir ? 0 : n->value_len;
    j->dir = n->dir;
    j->expire_ns = n->expire_ns;
    j->modified_index = n->modified_index;
    j->created_index = n->created_index;
}

/* Appends literal @lit (a string constant) without the NUL bookkeeping of each append. */
#define PUT_LIT(p, lit)                      \
    do {                                     \
        memcpy((p), (lit), sizeof(lit) - 1); \
        (p) += sizeof(lit) - 1;              \
    } while (0)

void store__json_node_head(struct et_buf *b, const struct store_jnode *j, int64_t now_ns)
{
    bool first = true;
    /* room for the fixed text; the strings reserve for themselves */
    char *p = et_buf_reserve(b, 16);
    *p = '{';
    b->len++;
    if (j->key && !(j->key_len == 1 && j->key[0] == '/')) {
        p = et_buf_reserve(b, 8);
        PUT_LIT(p, "\"key\":");
        b->len = (size_t)(p - b->data);
        et_json_string(b, j->key, j->key_len);
        first = false;
    }
    if (j->value) {
        p = et_buf_reserve(b, 12);
        if (first)
            PUT_LIT(p, "\"value\":");
        else
            PUT_LIT(p, ",\"value\":");
        b->len = (size_t)(p - b->data);
        et_json_string(b, j->value, j->value_len);
        first = false;
    }
    if (j->dir) {
        p = et_buf_reserve(b, 12);
        if (first)
            PUT_LIT(p, "\"dir\":true");
        else
            PUT_LIT(p, ",\"dir\":true");
        b->len = (size_t)(p - b->data);
        *p = '\0';
        first = false;
    }
    if (j->expire_ns) {
        et_buf_append_str(b, first ? "\"expiration\":\"" : ",\"expiration\":\"");
        et_time_rfc3339(b, j->expire_ns);
        et_buf_append_char(b, '"');
        first = false;
        int64_t ttl = store__ttl(j->expire_ns, now_ns);
        if (ttl) {
            et_buf_append_str(b, ",\"ttl\":");
            et_buf_append_i64(b, ttl);
        }
    }
    b->data[b->len] = '\0';
}

void store__json_node_tail(struct et_buf *b, const struct store_jnode *j)
{
    /* every node but the root has a key or dir before this, so a comma is always right except
     * for a root without fields, which cannot happen: the root is a directory */
    char *p = et_buf_reserve(b, 2 * (17 + ET_U64_STR_MAX) + 1);
    if (j->modified_index) {
        PUT_LIT(p, ",\"modifiedIndex\":");
        p += et_u64_str(p, j->modified_index);
    }
    if (j->created_index) {
        PUT_LIT(p, ",\"createdIndex\":");
        p += et_u64_str(p, j->created_index);
    }
    *p++ = '}';
    *p = '\0';
    b->len = (size_t)(p - b->data);
}

static struct store_event *event_alloc(int action, uint64_t index, const char *key, size_t key_len)
{
    struct store_event *ev = et_calloc(1, sizeof(*ev));
    ev->index = index;
    ev->_refs = 1;
    ev->action = (uint8_t)action;
    ev->removal = action == STORE_ACTION_DELETE || action == STORE_ACTION_CAD ||
                  action == STORE_ACTION_EXPIRE;
    ev->key = et_strndup(key, key_len);
    ev->key_len = key_len;
    return ev;
}

struct store_event *store__event_new(int action, uint64_t index, const struct store_jnode *node,
                                     const struct store_jnode *prev, int64_t now_ns)
{
    struct store_event *ev = event_alloc(action, index, node->key, node->key_len);
    ev->dir = node->dir;
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "{\"action\":\"");
    et_buf_append_str(&b, store_action_name(action));
    et_buf_append_str(&b, "\",\"node\":");
    store__json_node_head(&b, node, now_ns);
    store__json_node_tail(&b, node);
    if (prev) {
        et_buf_append_str(&b, ",\"prevNode\":");
        store__json_node_head(&b, prev, now_ns);
        store__json_node_tail(&b, prev);
    }
    et_buf_append_str(&b, "}\n");
    ev->json = b.data;
    ev->json_len = b.len;
    return ev;
}

struct store_event *store__event_raw(int action, uint64_t index, const char *key, size_t key_len,
                                     const char *json, size_t json_len)
{
    struct store_event *ev = event_alloc(action, index, key, key_len);
    ev->json = et_strndup(json, json_len);
    ev->json_len = json_len;
    return ev;
}

void store__event_add_sub_key(struct store_event *ev, const char *key, size_t key_len)
{
    ET_ASSERT(key_len <= UINT32_MAX);
    size_t need = ev->_sub_keys_len + sizeof(uint32_t) + key_len;
    if (need > ev->_sub_keys_cap) {
        size_t cap = ev->_sub_keys_cap ? ev->_sub_keys_cap : 256;
        while (cap < need)
            cap *= 2;
        ev->_sub_keys = et_realloc(ev->_sub_keys, cap);
        ev->_sub_keys_cap = cap;
    }
    uint32_t l = (uint32_t)key_len;
    memcpy(ev->_sub_keys + ev->_sub_keys_len, &l, sizeof(l));
    memcpy(ev->_sub_keys + ev->_sub_keys_len + sizeof(l), key, key_len);
    ev->_sub_keys_len = need;
}

void store_event_ref(struct store_event *ev)
{
    ET_ASSERT(ev != NULL);
    uint32_t old = __atomic_fetch_add(&ev->_refs, 1, __ATOMIC_RELAXED);
    ET_ASSERT(old > 0);
}

void store_event_unref(struct store_event *ev)
{
    if (ev == NULL)
        return;
    uint32_t old = __atomic_fetch_sub(&ev->_refs, 1, __ATOMIC_ACQ_REL);
    ET_ASSERT(old > 0);
    if (old != 1)
        return;
    et_free(ev->key);
    et_free(ev->json);
    et_free(ev->_sub_keys);
    et_free(ev);
}
