/*
 * api/apply.c - the Raft node's callbacks: apply committed store commands, then hand results
 * and events to the reactors, one message per reactor per applied batch.
 *
 * Thread: the Raft thread only. The batch arrays here are touched by nothing else.
 *
 * Order per batch: store_apply() for each entry (events collected), store_publish() once, then
 * for each reactor one struct api_batch carrying the batch's events (a reference each) and
 * the writes that reactor proposed. A reactor with no watchers and no writes gets nothing.
 *
 * TTL expiry: the leader's timer thread (api/expiry.c) proposes STORE_OP_EXPIRE sweeps carrying
 * its clock; every member applies the same sweep at the same index, so all expire the same
 * keys. After each batch the earliest expiration is handed to that timer.
 */
#include <errno.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/ecode.h"
#include "core/log.h"

static void push_event(struct api *a, struct store_event *ev)
{
    if (a->batch_event_count == a->batch_event_cap) {
        a->batch_event_cap = a->batch_event_cap ? a->batch_event_cap * 2 : 64;
        a->batch_events = et_realloc(a->batch_events, a->batch_event_cap * sizeof(ev));
    }
    a->batch_events[a->batch_event_count++] = ev;
}

static void push_write(struct api *a, struct api_write *w)
{
    unsigned i = w->reactor->index;
    if (a->batch_write_count[i] == a->batch_write_cap[i]) {
        a->batch_write_cap[i] = a->batch_write_cap[i] ? a->batch_write_cap[i] * 2 : 64;
        a->batch_writes[i] = et_realloc(a->batch_writes[i], a->batch_write_cap[i] * sizeof(w));
    }
    a->batch_writes[i][a->batch_write_count[i]++] = w;
}

/* A proposal of the server itself (no client waits on it) has been applied: free it. */
static void internal_applied(struct raft_proposal *p)
{
    if (api__is_sweep_proposal(p))
        api__sweep_applied(p);
    else
        api__internal_applied(p);
}

void api_raft_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                    struct raft_proposal *p)
{
    struct api *a = data;
    struct store_cmd cmd;
    struct store_result res = { 0 };
    struct api_write *w = NULL;

    if (api__auth_apply(a, entry, len, p))
        return;
    if (len > 0 && *(const uint8_t *)entry == API_MEMBER_TAG) {
        api__members_entry_apply(a, entry, len, p);
        return;
    }
    struct raft_proposal *internal = NULL;
    if (p && (api__is_sweep_proposal(p) || api__is_internal_proposal(p))) {
        internal = p; /* a TTL sweep or an admin write: freed after the apply (@entry may be its
                       buffer) */
        p = NULL;
    }
    w = p ? (struct api_write *)p : NULL;
    if (store_cmd_decode(entry, len, &cmd) != 0) {
        et_error("apply: entry %llu is not a store command; skipped", (unsigned long long)index);
        if (w) {
            w->err = ET_E_RAFT_INTERNAL;
            et_buf_append_str(&w->cause, "etcdserver: bad entry");
            push_write(a, w);
        }
        if (internal)
            internal_applied(internal);
        return;
    }
    store_apply(a->store, &cmd, &res);
    if (cmd.op == STORE_OP_INTERNAL_DELETE || (res.err == 0 && cmd.op == STORE_OP_INTERNAL_SET))
        api__admin_applied(a, &cmd);
    for (size_t i = 0; i < res.event_count; i++)
        push_event(a, res.events[i]); /* the batch takes these references */
    if (w) {
        w->err = res.err;
        w->index = res.index;
        w->raft_index = index;
        w->raft_term = term;
        if (res.err) {
            et_buf_append(&w->cause, res.cause.data, res.cause.len);
        } else {
            ET_ASSERT(res.event_count >= 1);
            w->event = res.events[0];
            store_event_ref(w->event);
        }
        push_write(a, w);
    }
    res.event_count = 0;
    store_result_free(&res);
    if (internal)
        internal_applied(internal);
}

void api__apply_cluster(struct api *a, uint8_t op, const char *name, const struct et_buf *value)
{
    bool done = false;
    if (name && name[0]) {
        struct et_buf key = ET_BUF_INIT;
        et_buf_append_str(&key, "/_etcd/machines/");
        et_buf_append_str(&key, name);
        struct store_cmd cmd = { .op = value ? STORE_OP_INTERNAL_SET : STORE_OP_INTERNAL_DELETE,
                                 .key = key.data,
                                 .key_len = key.len,
                                 .value = value && value->len ? value->data : "",
                                 .value_len = value ? value->len : 0,
                                 .recursive = value == NULL };
        struct store_result res = { 0 };
        store_apply(a->store, &cmd, &res);
        done = res.err == 0;
        if (done) {
            api__admin_applied(a, &cmd);
            for (size_t i = 0; i < res.event_count; i++)
                push_event(a, res.events[i]); /* the batch takes these references */
            res.event_count = 0;
            store_count_cluster(a->store, op);
        }
        store_result_free(&res);
        et_buf_free(&key);
    }
    if (!done)
        store_apply_cluster(a->store, op);
    /* The change's answer leaves before this batch is published (its done callback runs now):
     * publish first, so a client that reads right after the answer sees the new index, as with
     * etcd, which answers after applying. Membership changes are rare; the extra version costs
     * nothing that matters. */
    store_publish(a->store);
}

void api_raft_conf_apply(void *data, raft_index index, const struct raft_conf_change *cc,
                         const void *ctx, size_t ctx_len, struct raft_change *c)
{
    api__members_conf_apply(data, index, cc, ctx, ctx_len, c);
}

void api_raft_conf_appended(void *data, const struct raft_conf_change *cc, const void *ctx,
                            size_t ctx_len)
{
    api__members_conf_appended(data, cc, ctx, ctx_len);
}

void api_raft_applied(void *data)
{
    struct api *a = data;

    store_publish(a->store);
    api__expiry_update(a);
    for (unsigned i = 0; i < a->reactor_count; i++) {
        struct api_reactor *r = &a->reactors[i];
        size_t writes = a->batch_write_count[i];
        bool events = a->batch_event_count && __atomic_load_n(&r->watchers, __ATOMIC_SEQ_CST);
        if (!writes && !events)
            continue;
        if (r->handle == NULL) {
            /* reactor not running (start-up replay or shutdown): finish writes here */
            for (size_t j = 0; j < writes; j++)
                a->batch_writes[i][j]->req = NULL;
        }
        struct api_batch *b = et_calloc(1, sizeof(*b));
        b->msg.fn = api__dispatch_batch;
        b->api = a;
        b->reactor = r;
        if (events) {
            b->events = et_memdup(a->batch_events, a->batch_event_count * sizeof(*b->events));
            b->event_count = a->batch_event_count;
            for (size_t j = 0; j < b->event_count; j++)
                store_event_ref(b->events[j]);
        }
        if (writes) {
            b->writes = et_memdup(a->batch_writes[i], writes * sizeof(*b->writes));
            b->write_count = writes;
        }
        a->batch_write_count[i] = 0;
        if (r->handle)
            a->cfg.host.post(r->handle, &b->msg);
        else
            api__dispatch_batch(&b->msg);
    }
    for (size_t i = 0; i < a->batch_event_count; i++)
        store_event_unref(a->batch_events[i]);
    a->batch_event_count = 0;
}

void api_raft_tick(void *data, bool is_leader)
{
    struct api *a = data;
    if (__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&a->node, __ATOMIC_ACQUIRE) == NULL)
        return;
    api__members_tick(a); /* every member publishes its own attributes */
    if (!is_leader) {
        a->was_leader = false; /* contact times restart when it leads again */
        return;
    }
    api__admin_tick(a);
    api__members_version_tick(a);
}

/*
 * A snapshot image is the auth section (if any) | the store image | the membership trailer. It
 * is made in three steps (raft/node.h): the auth and membership sections are small and
 * serialised at once; the store is captured by reference and written later, on the snapshot's
 * own thread.
 */
struct api_snap_image {
    struct et_buf head; /* auth section */
    struct store_image *store;
    struct et_buf tail; /* membership */
};

void *api_raft_snapshot_capture(void *data)
{
    struct api *a = data;
    struct api_snap_image *img = et_calloc(1, sizeof(*img));
    api__auth_snapshot_save(a, &img->head);
    img->store = store_snapshot_capture(a->store);
    api__members_save(a, &img->tail);
    return img;
}

void api_raft_snapshot_write(void *image, void **out, size_t *len)
{
    struct api_snap_image *img = image;
    struct et_buf b = ET_BUF_INIT;
    et_buf_append(&b, img->head.data, img->head.len);
    store_image_write(img->store, &b);
    et_buf_append(&b, img->tail.data, img->tail.len);
    *out = b.data;
    *len = b.len;
}

void api_raft_snapshot_release(void *data, void *image)
{
    struct api *a = data;
    struct api_snap_image *img = image;
    store_image_release(a->store, img->store);
    et_buf_free(&img->head);
    et_buf_free(&img->tail);
    et_free(img);
}

void api_raft_snapshot_save(void *data, void **out, size_t *len)
{
    void *img = api_raft_snapshot_capture(data);
    api_raft_snapshot_write(img, out, len);
    api_raft_snapshot_release(data, img);
}

int api_raft_snapshot_load(void *data, const void *p, size_t len)
{
    struct api *a = data;
    size_t store_len = api__members_load(a, p, len); /* the membership trailer, at the end */
    if (store_len == SIZE_MAX)
        return -EBADMSG;
    size_t skip = 0;
    int rc = api__auth_snapshot_load(a, p, store_len, &skip);
    if (rc)
        return rc;
    rc = store_snapshot_load(a->store, (const char *)p + skip, store_len - skip);
    api__expiry_update(a);
    return rc;
}
