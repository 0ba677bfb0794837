/*
 * api/api.c - the api object, per-reactor state and the request router.
 *
 * Routing follows etcd 3.4's Go mux: a path that is not clean is redirected (301) before any
 * handler runs (except for CONNECT, whose path the mux leaves alone); OPTIONS on any path is
 * answered with the CORS headers only; /v2/keys goes to api/keys.c; everything else to the cluster
 * endpoints (api/cluster.c) or a plain-text 404.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "api/params.h"
#include "core/alloc.h"
#include "core/clock.h"

struct api *api__global;

struct api *api_new(const struct api_config *cfg)
{
    struct api *a = et_calloc(1, sizeof(*a));
    ET_ASSERT(cfg->reactor_count > 0 && cfg->reactor_count <= API_REACTORS_MAX);
    a->cfg = *cfg;
    a->cfg.name = et_strdup(cfg->name);
    a->cfg.members = NULL;
    api__members_init(a, cfg);
    api__admin_init(a);
    api__auth_init(a);
    api__expiry_init(a);
    a->reactor_count = cfg->reactor_count;
    struct store_config sc = { .history_max = cfg->history_max ? cfg->history_max : 1000 };
    a->store = store_new(&sc);
    a->start_ns = et_wall_ns();
    snprintf(a->id_hex, sizeof(a->id_hex), "%llx", (unsigned long long)cfg->id);
    snprintf(a->cluster_hex, sizeof(a->cluster_hex), "%llx", (unsigned long long)cfg->cluster_id);
    api__global = a;
    return a;
}

struct store *api_store(struct api *a)
{
    return a->store;
}

void api_attach(struct api *a, struct raft_node *node)
{
    __atomic_store_n(&a->node, node, __ATOMIC_RELEASE);
    api__expiry_start(a);
}

bool api_registered(struct api *a)
{
    return api__members_registered(a);
}

void api_begin_shutdown(struct api *a)
{
    __atomic_store_n(&a->stopping, true, __ATOMIC_RELEASE);
    api__expiry_stop(a);
    api__auth_stop(a); /* while the reactors still run: waiting requests get their answer */
}

void api_free(struct api *a)
{
    api__members_free(a);
    for (size_t i = 0; i < a->batch_event_count; i++)
        store_event_unref(a->batch_events[i]);
    et_free(a->batch_events);
    for (unsigned i = 0; i < API_REACTORS_MAX; i++)
        et_free(a->batch_writes[i]);
    api__expiry_stop(a);
    ET_ASSERT(a->sweep_cur == NULL); /* the stopped node answered every proposal */
    pthread_mutex_destroy(&a->expiry_mu);
    pthread_cond_destroy(&a->expiry_cv);
    store_free(a->store);
    api__auth_free(a);
    et_free((char *)a->cfg.name);
    if (api__global == a)
        api__global = NULL;
    et_free(a);
}

struct api_reactor *api__reactor(struct api *a)
{
    unsigned i = a->cfg.host.reactor_index(a->cfg.host.reactor_self());
    ET_ASSERT(i < a->reactor_count);
    return &a->reactors[i];
}

void api_reactor_start(struct net_reactor *nr, void *data)
{
    struct api *a = data;
    (void)nr;
    void *h = a->cfg.host.reactor_self();
    struct api_reactor *r = &a->reactors[a->cfg.host.reactor_index(h)];
    r->handle = h;
    r->index = a->cfg.host.reactor_index(h);
    r->hub = store_hub_new();
    store_reader_register();
    store_reader_offline();
}

void api_reactor_shutdown(struct net_reactor *nr, void *data)
{
    (void)nr;
    struct api *a = data;
    api__watch_shutdown(a, api__reactor(a));
}

void api_reactor_stop(struct net_reactor *nr, void *data)
{
    (void)nr;
    struct api *a = data;
    struct api_reactor *r = api__reactor(a);
    api__watch_shutdown(a, r);
    store_hub_free(r->hub);
    r->hub = NULL;
    store_reader_online();
    store_reader_unregister();
}

/* ---- routing ------------------------------------------------------------------------------- */

static void send_redirect(h2o_req_t *req, const char *location, size_t len)
{
    api__cors(req);
    api__header(req, "Location", location, len);
    if (api__method_is(req, "GET") || api__method_is(req, "HEAD")) {
        struct et_buf b = ET_BUF_INIT;
        if (!api_redirect_body(&b, req->input.path.base, req->input.path.len))
            et_buf_reset(&b);
        char *body = h2o_mem_alloc_pool(&req->pool, b.len);
        memcpy(body, b.data, b.len);
        api__send(req, 301, "text/html; charset=utf-8", body, b.len);
        et_buf_free(&b);
    } else {
        api__send(req, 301, NULL, NULL, 0);
    }
}

static int route(struct api *a, h2o_req_t *req, bool peer)
{
    struct et_buf location = ET_BUF_INIT;

    if (a == NULL || __atomic_load_n(&a->node, __ATOMIC_ACQUIRE) == NULL) {
        api__send_message(req, 503, "server is starting", false, false);
        return 0;
    }
    if (!peer && api__auth_defer(a, req))
        return 0; /* back through api__route_again() once its credentials are checked */
    enum api_path_kind kind =
        api_keys_path(req->input.path.base, req->input.path.len, NULL, &location, NULL, NULL);
    if (kind != API_PATH_BAD && api__method_is(req, "OPTIONS")) {
        /* a malformed URL fails in Go's request parser, before the CORS wrapper */
        api__cors(req);
        api__send(req, 200, NULL, NULL, 0);
        et_buf_free(&location);
        return 0;
    }
    if (kind == API_PATH_REDIRECT && api__method_is(req, "CONNECT")) {
        /* Go's mux does not clean a CONNECT request's path: it goes by prefix to the keys
         * handler (405 there) or matches no route (404). */
        static const char keys_prefix[] = "/v2/keys/";
        size_t n = sizeof(keys_prefix) - 1;
        bool keys = req->input.path.len >= n && memcmp(req->input.path.base, keys_prefix, n) == 0;
        if (keys && !peer)
            api__keys(a, req);
        else
            api__send_404(req);
        et_buf_free(&location);
        return 0;
    }
    switch (kind) {
    case API_PATH_REDIRECT:
        send_redirect(req, location.data, location.len);
        break;
    case API_PATH_BAD:
        req->http1_is_persistent = 0;
        api__send(req, 400, "text/plain; charset=utf-8", H2O_STRLIT("400 Bad Request"));
        break;
    case API_PATH_KEYS:
        if (peer)
            api__send_404(req);
        else
            api__keys(a, req);
        break;
    case API_PATH_NOT_FOUND:
        if (peer || !api__auth_route(a, req))
            api__cluster(a, req, peer);
        break;
    }
    et_buf_free(&location);
    return 0;
}

void api__route_again(struct api *a, h2o_req_t *req)
{
    (void)route(a, req, false);
}

int api_client_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return route(api__global, req, false);
}

int api_peer_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return route(api__global, req, true);
}
