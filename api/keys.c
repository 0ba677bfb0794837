/*
 * api/keys.c - the /v2/keys handler: reads, writes, quorum reads and watches.
 *
 * Reads run on the reactor against the published store version (RCU, no locks). Writes are
 * encoded as store commands and proposed to the Raft node; the Raft thread applies them and
 * hands each result back to the reactor that asked, in one batch message per applied batch
 * (api/apply.c). Watches look in the event history first and otherwise park in the reactor's
 * own watch hub; the same batch messages deliver new events to them.
 *
 * Request lifetime: h2o keeps a request alive until its response ends; a write or read that is
 * waiting on another thread holds a guard in the request's pool, so if the request goes away
 * first (HTTP/2 reset) the completion finds req == NULL and only frees its memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "api/params.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/ecode.h"
#include "core/log.h"

#define API_STREAM_QUEUE_MAX 100 /* undelivered events per stream watcher, as etcd */

static const char keys_allow[] = "HEAD,GET,PUT,POST,DELETE";

static void send_success(struct api *a, h2o_req_t *req, int status, const char *body, size_t len,
                         uint64_t index, raft_index ri, raft_term rt, bool head)
{
    api__cors(req);
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    api__header_u64(req, "X-Etcd-Index", index);
    api__header_u64(req, "X-Raft-Index", ri);
    api__header_u64(req, "X-Raft-Term", rt);
    if (head) {
        api__content_type(req, "application/json");
        req->res.status = status;
        req->res.reason = "OK";
        req->res.content_length = len;
        static h2o_generator_t gen = { NULL, NULL };
        h2o_start_response(req, &gen);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    api__send(req, status, "application/json", body, len);
}

/* ---- reads --------------------------------------------------------------------------------- */

static void do_get(struct api *a, struct api_reactor *r, h2o_req_t *req, const char *key,
                   size_t key_len, bool recursive, bool sorted)
{
    struct et_buf out = ET_BUF_INIT, cause = ET_BUF_INIT;
    struct raft_status st;
    uint64_t index = 0;
    bool head = api__method_is(req, "HEAD");

    raft_node_status(a->node, &st);
    store_reader_online();
    int err =
        store_get(a->store, key, key_len, recursive, sorted, et_wall_ns(), &out, &index, &cause);
    store_reader_offline();
    if (err) {
        __atomic_add_fetch(&r->gets_fail, 1, __ATOMIC_RELAXED);
        api__send_v2_error(a, req, err, cause.data, cause.len, index);
    } else {
        __atomic_add_fetch(&r->gets_success, 1, __ATOMIC_RELAXED);
        /* the rendered body goes to h2o as is: no copy, freed with the request */
        api__pool_own(req, out.data);
        send_success(a, req, 200, out.data, out.len, index, st.commit, st.term, head);
        out = (struct et_buf)ET_BUF_INIT;
    }
    et_buf_free(&out);
    et_buf_free(&cause);
}

struct api_qread {
    struct raft_read read;
    struct et_msg msg;
    struct api *api;
    struct api_reactor *reactor;
    h2o_req_t *req;
    struct api_guard *guard;
    int err;
    bool recursive, sorted;
    size_t key_len;
    char key[];
};

static void qread_complete(struct et_msg *m)
{
    struct api_qread *q = (struct api_qread *)((char *)m - offsetof(struct api_qread, msg));
    if (q->req) {
        api__unguard(&q->guard);
        if (q->err)
            api__send_v2_error(q->api, q->req, ET_E_RAFT_INTERNAL,
                               H2O_STRLIT("etcdserver: request timed out"), 0);
        else
            do_get(q->api, q->reactor, q->req, q->key, q->key_len, q->recursive, q->sorted);
    }
    et_free(q);
}

static void qread_done(struct raft_read *rd, int err)
{
    struct api_qread *q = (struct api_qread *)rd;
    q->err = err;
    q->msg.fn = qread_complete;
    q->api->cfg.host.post(q->reactor->handle, &q->msg);
}

static void quorum_get(struct api *a, struct api_reactor *r, h2o_req_t *req, const char *key,
                       size_t key_len, bool recursive, bool sorted)
{
    struct api_qread *q = et_calloc(1, sizeof(*q) + key_len + 1);
    q->read.done = qread_done;
    q->api = a;
    q->reactor = r;
    q->req = req;
    q->recursive = recursive;
    q->sorted = sorted;
    q->key_len = key_len;
    memcpy(q->key, key, key_len);
    api__guard(req, (void **)&q->req, &q->guard);
    if (raft_node_read(a->node, &q->read) != 0) {
        api__unguard(&q->guard);
        et_free(q);
        api__send_v2_error(a, req, ET_E_RAFT_INTERNAL, H2O_STRLIT("etcdserver: too many requests"),
                           0);
    }
}

/* ---- writes -------------------------------------------------------------------------------- */

static void write_free(struct api_write *w)
{
    api__unguard(&w->guard);
    if (w->event)
        store_event_unref(w->event);
    et_buf_free(&w->entry);
    et_buf_free(&w->cause);
    et_buf_free(&w->reply);
    et_free(w);
}

/* Runs on the reactor that proposed @w, once the Raft thread has a result. */
static void write_complete(struct api_write *w)
{
    struct api *a = w->api;
    h2o_req_t *req = w->req;

    if (req && w->hup)
        a->cfg.host.hup_cancel(w->hup); /* the connection (which owns it) is still there */
    w->hup = NULL;

    if (req == NULL) {
        write_free(w);
        return;
    }
    api__unguard(&w->guard); /* before answering: the answer may end the request */
    if (w->err < 0) {
        const char *cause = w->err == -ETIMEDOUT ? "etcdserver: request timed out"
                            : w->err == -EAGAIN  ? "etcdserver: too many requests"
                                                 : "etcdserver: server stopped";
        api__send_v2_error(a, req, ET_E_RAFT_INTERNAL, cause, strlen(cause), 0);
    } else if (w->err > 0) {
        api__send_v2_error(a, req, w->err, w->cause.data, w->cause.len, w->index);
    } else if (w->kind == API_WRITE_ADMIN_CONFIG) {
        struct et_buf b = ET_BUF_INIT;
        et_buf_append(&b, w->reply.data, w->reply.len);
        et_buf_append_char(&b, '\n');
        char *body = h2o_mem_alloc_pool(&req->pool, b.len);
        memcpy(body, b.data, b.len);
        api__cors(req);
        api__send(req, 200, "application/json", body, b.len);
        et_buf_free(&b);
    } else {
        struct store_event *ev = w->event;
        int status = ev->created ? 201 : 200;
        /* noValueOnSuccess trims only set, create, update and compareAndSwap replies (3.4) */
        bool trim =
            w->no_value && ev->action != STORE_ACTION_DELETE && ev->action != STORE_ACTION_CAD;
        if (trim) {
            struct et_buf b = ET_BUF_INIT;
            et_buf_printf(&b, "{\"action\":\"%s\"}\n", store_action_name(ev->action));
            char *body = h2o_mem_alloc_pool(&req->pool, b.len);
            memcpy(body, b.data, b.len);
            send_success(a, req, status, body, b.len, ev->index, w->raft_index, w->raft_term,
                         false);
            et_buf_free(&b);
        } else {
            api__pool_hold_event(req, ev);
            send_success(a, req, status, ev->json, ev->json_len, ev->index, w->raft_index,
                         w->raft_term, false);
        }
    }
    write_free(w);
}

static void write_failed_msg(struct et_msg *m)
{
    struct api_write *w = *(struct api_write **)(m + 1);
    et_free(m);
    write_complete(w);
}

/* Raft thread: the proposal could not be committed. */
static void write_failed(struct raft_proposal *p, int err)
{
    struct api_write *w = (struct api_write *)p;
    struct et_msg *m = et_alloc(sizeof(*m) + sizeof(w));
    w->err = err;
    m->fn = write_failed_msg;
    memcpy(m + 1, &w, sizeof(w));
    w->api->cfg.host.post(w->reactor->handle, m);
}

bool api__is_write_proposal(struct raft_proposal *p)
{
    return p->done == write_failed;
}

/* The client left while its write was out: the answer finds a closed connection. */
static void write_hangup(void *data)
{
    ((struct api_write *)data)->hup = NULL;
}

void api__propose(struct api *a, struct api_reactor *r, h2o_req_t *req, const struct store_cmd *cmd,
                  uint8_t kind, bool no_value)
{
    struct api_write *w = et_calloc(1, sizeof(*w));
    w->api = a;
    w->reactor = r;
    w->req = req;
    w->kind = kind;
    w->no_value = no_value;
    if (kind == API_WRITE_ADMIN_CONFIG)
        et_buf_append(&w->reply, cmd->value, cmd->value_len);
    w->op = cmd->op;
    store_cmd_encode(cmd, &w->entry);
    w->proposal.data = w->entry.data;
    w->proposal.len = w->entry.len;
    w->proposal.done = write_failed;
    api__guard(req, (void **)&w->req, &w->guard);
    if (__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE) ||
        raft_node_propose(a->node, &w->proposal) != 0) {
        w->err = __atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE) ? -ECANCELED : -EAGAIN;
        write_complete(w);
        return;
    }
    /* Keeps the socket's read interest while the write is out (h2o would drop it and take it
     * back when answering: two epoll_ctl calls per write). */
    if (a->cfg.host.hup_watch)
        w->hup = a->cfg.host.hup_watch(req, write_hangup, w);
}

/* Absolute expiration for a ttl in seconds; ttls past int64 nanoseconds are permanent (Q8). */
static int64_t expiration(int64_t now, bool has_ttl, uint64_t ttl)
{
    if (!has_ttl)
        return 0;
    if (ttl > (uint64_t)(INT64_MAX - now) / (uint64_t)ET_NS_PER_SEC)
        return 0;
    return now + (int64_t)ttl * ET_NS_PER_SEC;
}

/* True when @key (or its prefix component @prefix) equals or lies below @prefix. */
static bool below(const char *key, size_t key_len, const char *prefix)
{
    size_t n = strlen(prefix);
    return key_len >= n && memcmp(key, prefix, n) == 0 && (key_len == n || key[n] == '/');
}

/*
 * Keys the server owns: /_etcd/machines (the 0.4 member registry) and /_etcd/config (the
 * admin configuration), and /_etcd itself for deletion. The rest of /_etcd stays writable:
 * /_etcd/registry/<token> is where discovery keeps its tokens (spec/discovery.md).
 */
static bool server_owned(const char *key, size_t key_len, uint8_t op)
{
    if (below(key, key_len, "/_etcd/machines") || below(key, key_len, "/_etcd/config"))
        return true;
    return key_len == 6 && memcmp(key, "/_etcd", 6) == 0 &&
           (op == STORE_OP_DELETE || op == STORE_OP_CAD);
}

static void keys_write(struct api *a, struct api_reactor *r, h2o_req_t *req,
                       const struct api_keys_params *p, const char *key, size_t key_len)
{
    int64_t now = et_wall_ns();
    struct store_cmd cmd = {
        .key = key,
        .key_len = key_len,
        .value = p->value ? p->value : "",
        .value_len = p->value ? p->value_len : 0,
        .dir = p->dir,
        .recursive = p->recursive,
        .refresh = p->refresh,
        .has_prev_value = p->has_prev_value,
        .prev_value = p->prev_value,
        .prev_value_len = p->prev_value_len,
        .prev_index = p->prev_index,
        .expire_ns = expiration(now, p->has_ttl, p->ttl),
        .now_ns = now,
    };

    if (api__method_is(req, "PUT")) {
        cmd.op = (uint8_t)api_keys_put_op(p);
    } else if (api__method_is(req, "POST")) {
        cmd.op = STORE_OP_CREATE_INORDER;
        cmd.has_prev_value = false;
        cmd.prev_index = 0;
    } else {
        cmd.op = (uint8_t)api_keys_delete_op(p);
        cmd.value = "";
        cmd.value_len = 0;
        cmd.expire_ns = 0;
    }
    if (cmd.op == STORE_OP_CREATE || cmd.op == STORE_OP_CREATE_INORDER)
        cmd.refresh = false;
    if (server_owned(key, key_len, cmd.op)) {
        /* the 0.4 registry is server-owned: readable, never written by clients */
        api__send_v2_error(a, req, ET_E_KEY_IS_PRESERVED, key, key_len, store_index(a->store));
        return;
    }
    api__propose(a, r, req, &cmd, API_WRITE_KEYS, p->no_value_on_success);
}

/* ---- watches ------------------------------------------------------------------------------- */

/* Laid out small: a parked long poll is mostly this struct, its key and h2o's request. */
struct api_watch {
    struct store_watcher w; /* w.key is key[], w.key_len its length */
    h2o_generator_t gen;
    struct api *api;
    struct api_reactor *reactor;
    h2o_req_t *req;
    struct api_guard *guard;
    void *hup;
    struct store_event *inflight;
    struct store_event **queue; /* API_STREAM_QUEUE_MAX slots, allocated on first use */
    struct api_watch *next, *prev;
    uint8_t queue_head, queue_len; /* in the ring, at most API_STREAM_QUEUE_MAX */
    bool stream;
    bool chunked;       /* we frame HTTP/1.1 chunks ourselves (see keys_watch) */
    bool registered;    /* in the hub */
    bool sending;       /* an h2o_send is waiting for proceed() */
    bool finishing;     /* end the response once the current send completes */
    char chunk_hdr[19]; /* "<hex>\r\n" of the chunk in flight (16 hex digits at most) */
    char key[];
};

_Static_assert(API_STREAM_QUEUE_MAX <= UINT8_MAX, "the ring's indexes are uint8_t");

/* The undelivered-event ring; most watchers never need one, so parked long polls stay small. */
static struct store_event **watch_queue(struct api_watch *wt)
{
    if (wt->queue == NULL)
        wt->queue = et_calloc(API_STREAM_QUEUE_MAX, sizeof(*wt->queue));
    return wt->queue;
}

static void watch_unpark(struct api_watch *wt)
{
    struct api_reactor *r = wt->reactor;
    if (wt->registered) {
        store_hub_remove(r->hub, &wt->w);
        wt->registered = false;
    }
    if (wt->hup) {
        wt->api->cfg.host.hup_cancel(wt->hup);
        wt->hup = NULL;
    }
    if (wt->prev)
        wt->prev->next = wt->next;
    else if (r->parked == wt)
        r->parked = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    wt->next = wt->prev = NULL;
}

static void watch_free(struct api_watch *wt)
{
    watch_unpark(wt);
    api__unguard(&wt->guard);
    if (wt->inflight)
        store_event_unref(wt->inflight);
    for (size_t i = 0; i < wt->queue_len; i++)
        store_event_unref(watch_queue(wt)[(wt->queue_head + i) % API_STREAM_QUEUE_MAX]);
    __atomic_sub_fetch(&wt->reactor->watchers, 1, __ATOMIC_SEQ_CST);
    et_free(wt->queue);
    et_free(wt);
}

/* Ends the response (optionally with a last event copied into the request's pool) and frees. */
static void watch_finish(struct api_watch *wt, struct store_event *last)
{
    h2o_req_t *req = wt->req;
    if (req) {
        h2o_iovec_t bufs[3];
        size_t n = 0;
        if (last && wt->chunked) {
            char *hdr = h2o_mem_alloc_pool(&req->pool, 24);
            bufs[n++] = h2o_iovec_init(hdr, (size_t)sprintf(hdr, "%zx\r\n", last->json_len));
        }
        if (last) {
            char *body = h2o_mem_alloc_pool(&req->pool, last->json_len);
            memcpy(body, last->json, last->json_len);
            bufs[n++] = h2o_iovec_init(body, last->json_len);
        }
        if (wt->chunked)
            bufs[n++] = last ? h2o_iovec_init(H2O_STRLIT("\r\n0\r\n\r\n"))
                             : h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
        wt->gen.proceed = NULL;
        wt->gen.stop = NULL;
        api__unguard(&wt->guard);
        h2o_send(req, bufs, n, H2O_SEND_STATE_FINAL);
    }
    watch_free(wt);
}

static void stream_send(struct api_watch *wt, struct store_event *ev)
{
    h2o_iovec_t bufs[3];
    size_t n = 0;
    if (wt->chunked)
        bufs[n++] =
            h2o_iovec_init(wt->chunk_hdr, (size_t)sprintf(wt->chunk_hdr, "%zx\r\n", ev->json_len));
    bufs[n++] = h2o_iovec_init(ev->json, ev->json_len);
    if (wt->chunked)
        bufs[n++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    wt->inflight = ev;
    wt->sending = true;
    h2o_send(wt->req, bufs, n, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct api_watch *wt = (struct api_watch *)((char *)gen - offsetof(struct api_watch, gen));
    (void)req;
    wt->sending = false;
    if (wt->inflight) {
        store_event_unref(wt->inflight);
        wt->inflight = NULL;
    }
    if (wt->finishing) {
        struct store_event *last = NULL;
        if (wt->queue_len) {
            last = watch_queue(wt)[wt->queue_head];
            wt->queue_head = (wt->queue_head + 1) % API_STREAM_QUEUE_MAX;
            wt->queue_len--;
        }
        watch_finish(wt, last);
        if (last)
            store_event_unref(last);
        return;
    }
    if (wt->queue_len) {
        struct store_event *ev = watch_queue(wt)[wt->queue_head];
        wt->queue_head = (wt->queue_head + 1) % API_STREAM_QUEUE_MAX;
        wt->queue_len--;
        stream_send(wt, ev);
    }
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct api_watch *wt = (struct api_watch *)((char *)gen - offsetof(struct api_watch, gen));
    (void)req;
    wt->req = NULL;
    if (wt->guard) {
        api__unguard(&wt->guard);
    }
    watch_free(wt);
}

/* The client went away (POLLRDHUP) while the watch was parked. */
static void on_hangup(void *data)
{
    struct api_watch *wt = data;
    wt->hup = NULL; /* the poll completed: nothing to cancel */
    if (wt->sending) {
        watch_unpark(wt);
        wt->finishing = true;
        return;
    }
    watch_finish(wt, NULL);
}

/* Hub callback: one event for this watcher. */
static bool on_event(struct store_watcher *w, struct store_event *ev, void *data)
{
    struct api_watch *wt = data;
    (void)w;
    if (!wt->stream) {
        wt->registered = false; /* the hub forgets us when we return false */
        if (wt->sending) {
            /* the header flush is still in progress: finish from on_proceed() */
            store_event_ref(ev);
            watch_queue(wt)[0] = ev;
            wt->queue_head = 0;
            wt->queue_len = 1;
            watch_unpark(wt);
            wt->finishing = true;
            return false;
        }
        watch_finish(wt, ev);
        return false;
    }
    store_event_ref(ev);
    if (!wt->sending) {
        stream_send(wt, ev);
        return true;
    }
    if (wt->queue_len == API_STREAM_QUEUE_MAX) {
        /* a consumer this slow is dropped, as etcd does: the stream simply ends */
        store_event_unref(ev);
        wt->registered = false;
        watch_unpark(wt);
        for (size_t i = 0; i < wt->queue_len; i++)
            store_event_unref(watch_queue(wt)[(wt->queue_head + i) % API_STREAM_QUEUE_MAX]);
        wt->queue_len = 0;
        wt->finishing = true;
        return false;
    }
    watch_queue(wt)[(wt->queue_head + wt->queue_len) % API_STREAM_QUEUE_MAX] = ev;
    wt->queue_len++;
    return true;
}

/* Queues the history matches of a stream watcher from @from on; returns the first index the
 * live hub must deliver. */
static uint64_t stream_catch_up(struct api *a, struct api_watch *wt, uint64_t from)
{
    struct et_buf cause = ET_BUF_INIT;
    uint64_t end = from - 1;

    store_reader_online();
    while (wt->queue_len < API_STREAM_QUEUE_MAX && from <= store_index(a->store)) {
        struct store_event *ev = NULL;
        uint64_t scanned = from - 1;
        if (store_history_find(a->store, wt->key, wt->w.key_len, wt->w.recursive, from, &ev,
                               &scanned, &cause) != 0)
            break;
        if (ev == NULL) {
            end = scanned;
            break;
        }
        watch_queue(wt)[(wt->queue_head + wt->queue_len) % API_STREAM_QUEUE_MAX] = ev;
        wt->queue_len++;
        end = ev->index;
        from = ev->index + 1;
    }
    store_reader_offline();
    et_buf_free(&cause);
    return end + 1;
}

static void keys_watch(struct api *a, struct api_reactor *r, h2o_req_t *req,
                       const struct api_keys_params *p, const char *key, size_t key_len)
{
    struct api_watch *wt = et_calloc(1, sizeof(*wt) + key_len + 1);
    struct et_buf cause = ET_BUF_INIT;
    struct store_event *hist = NULL;
    struct raft_status st;

    wt->api = a;
    wt->reactor = r;
    wt->req = req;
    wt->stream = p->stream;
    wt->w.key_len = key_len;
    memcpy(wt->key, key, key_len);
    /* Count first, then read the index: the Raft thread publishes, then reads the count, so
     * either it sends this reactor the next batch or the scan below sees that batch. */
    __atomic_add_fetch(&r->watchers, 1, __ATOMIC_SEQ_CST);
    raft_node_status(a->node, &st);

    store_reader_online();
    uint64_t current = store_index(a->store);
    uint64_t start = p->wait_index ? p->wait_index : current + 1;
    uint64_t scanned = current;
    int err = 0;
    if (start <= current)
        err = store_history_find(a->store, key, key_len, p->recursive, start, &hist, &scanned,
                                 &cause);
    store_reader_offline();

    if (err) {
        api__send_v2_error(a, req, err, cause.data, cause.len, current);
        et_buf_free(&cause);
        __atomic_sub_fetch(&r->watchers, 1, __ATOMIC_SEQ_CST);
        et_free(wt);
        return;
    }
    et_buf_free(&cause);

    req->res.status = 200;
    req->res.reason = "OK";
    api__content_type(req, "application/json");
    api__cors(req);
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    api__header_u64(req, "X-Etcd-Index", current);
    api__header_u64(req, "X-Raft-Index", st.commit);
    api__header_u64(req, "X-Raft-Term", st.term);
    /* HTTP/1.1: we frame the chunks ourselves. h2o's chunked filter turns an empty send into a
     * deferred proceed() without writing, which would hold the headers back until the first
     * event; etcd flushes them at once, and clients (and their timeouts) rely on it. */
    if (req->version == 0x101) {
        wt->chunked = true;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL,
                       H2O_STRLIT("chunked"));
    } else if (req->version < 0x101) {
        /* HTTP/1.0 has no chunks: the body ends when the connection closes, as etcd's does, even
         * if the client asked to keep it alive (h2o would keep it open and the client would wait
         * for more body forever) */
        req->http1_is_persistent = 0;
    }
    wt->gen.proceed = on_proceed;
    wt->gen.stop = on_stop;
    api__guard(req, (void **)&wt->req, &wt->guard);
    h2o_start_response(req, &wt->gen);

    if (hist && !wt->stream) {
        watch_finish(wt, hist);
        store_event_unref(hist);
        return;
    }
    uint64_t live_from = start > scanned + 1 ? start : scanned + 1;
    wt->w.recursive = p->recursive;
    if (hist) {
        /* Deviation Q4 (DESIGN.md): a stream whose first event comes from the history keeps
         * going: every later match still in the history is queued, then live events follow. */
        live_from = stream_catch_up(a, wt, hist->index + 1);
    }
    wt->w.key = wt->key;
    wt->w.key_len = key_len;
    wt->w.recursive = p->recursive;
    wt->w.start_index = live_from;
    wt->w.fn = on_event;
    wt->w.data = wt;
    store_hub_add(r->hub, &wt->w);
    wt->registered = true;
    wt->next = r->parked;
    if (r->parked)
        r->parked->prev = wt;
    r->parked = wt;
    wt->hup = a->cfg.host.hup_watch ? a->cfg.host.hup_watch(req, on_hangup, wt) : NULL;
    if (hist) {
        stream_send(wt, hist); /* takes our reference */
    } else {
        wt->sending = true; /* flush the headers now, as etcd does */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
    }
}

void api__watch_shutdown(struct api *a, struct api_reactor *r)
{
    (void)a;
    while (r->parked) {
        struct api_watch *wt = r->parked;
        watch_unpark(wt);
        if (wt->sending)
            wt->finishing = true;
        else
            watch_finish(wt, NULL);
    }
}

/* Runs on a reactor: events of one applied batch for its hub, then its writes' results. */
void api__dispatch_batch(struct et_msg *m)
{
    struct api_batch *b = (struct api_batch *)m;
    if (b->event_count && store_hub_count(b->reactor->hub))
        store_hub_dispatch(b->reactor->hub, b->events, b->event_count);
    for (size_t i = 0; i < b->write_count; i++)
        write_complete(b->writes[i]);
    for (size_t i = 0; i < b->event_count; i++)
        store_event_unref(b->events[i]);
    et_free(b->events);
    et_free(b->writes);
    et_free(b);
}

/* ---- the handler --------------------------------------------------------------------------- */

int api__keys(struct api *a, h2o_req_t *req)
{
    struct api_reactor *r = api__reactor(a);
    struct api_params_store st;
    struct api_keys_params p;
    struct et_buf key = ET_BUF_INIT, cause = ET_BUF_INIT;
    const char *query = NULL, *ctype = NULL;
    size_t query_len = 0, ct_len = 0;
    char method[8];

    if (!api__method_is(req, "GET") && !api__method_is(req, "HEAD") &&
        !api__method_is(req, "PUT") && !api__method_is(req, "POST") &&
        !api__method_is(req, "DELETE")) {
        api__send_405(req, keys_allow);
        return 0;
    }
    enum api_path_kind kind =
        api_keys_path(req->input.path.base, req->input.path.len, &key, NULL, &query, &query_len);
    ET_ASSERT(kind == API_PATH_KEYS);
    ssize_t ci = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ci >= 0) {
        ctype = req->headers.entries[ci].value.base;
        ct_len = req->headers.entries[ci].value.len;
    }
    size_t mlen = req->method.len < sizeof(method) - 1 ? req->method.len : sizeof(method) - 1;
    memcpy(method, req->method.base, mlen);
    method[mlen] = '\0';

    api_params_init(&st);
    int err =
        api_keys_params_parse(&st, method, query, query_len, ctype, ct_len, req->entity.base,
                              req->entity.base ? req->entity.len : 0, a->cfg.body_max, &p, &cause);
    if (err) {
        api__send_v2_error(a, req, err, cause.data, cause.len, 0);
        goto out;
    }
    if (!api__auth_keys(a, req, key.data, key.len, p.recursive))
        goto out;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        if (p.wait && !p.quorum)
            keys_watch(a, r, req, &p, key.data, key.len);
        else if (p.quorum)
            quorum_get(a, r, req, key.data, key.len, p.recursive, p.sorted);
        else
            do_get(a, r, req, key.data, key.len, p.recursive, p.sorted);
    } else {
        keys_write(a, r, req, &p, key.data, key.len);
    }
out:
    api_params_free(&st);
    et_buf_free(&key);
    et_buf_free(&cause);
    return 0;
}
