/*
 * api/http.c - building responses the way etcd 3.4's Go server shapes them: status lines with
 * Go's reason phrases, the CORS headers on every response (spec 9.2), plain-text 404/405 bodies,
 * JSON errors with one trailing LF, and Content-Length on every non-streamed body.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/ecode.h"
#include "core/json.h"

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/*
 * Adds a response header. HTTP/2 requires lower-case names; HTTP/1.1 gets the canonical
 * spelling etcd's Go server sends (X-Etcd-Index), through h2o's orig_name.
 */
void api__header(h2o_req_t *req, const char *name, const char *value, size_t len)
{
    size_t n = strlen(name);
    char *lower = h2o_mem_alloc_pool(&req->pool, n + 1);
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    h2o_add_header_by_str(&req->pool, &req->res.headers, lower, n, 1, name, value, len);
}

void api__content_type(h2o_req_t *req, const char *ctype)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, "Content-Type", ctype,
                   strlen(ctype));
}

void api__header_u64(h2o_req_t *req, const char *name, uint64_t v)
{
    char *s = h2o_mem_alloc_pool(&req->pool, ET_U64_STR_MAX);
    api__header(req, name, s, et_u64_str(s, v));
}

void api__cors(h2o_req_t *req)
{
    api__header(req, "Access-Control-Allow-Headers",
                H2O_STRLIT("accept, content-type, authorization"));
    api__header(req, "Access-Control-Allow-Methods", H2O_STRLIT("POST, GET, OPTIONS, PUT, DELETE"));
    api__header(req, "Access-Control-Allow-Origin", H2O_STRLIT("*"));
}

bool api__method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/*
 * Sends the whole response. @body is not copied: it must stay valid until the request ends
 * (the request's pool, static data, or memory handed over with api__pool_own / held events).
 */
void api__send(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    static h2o_generator_t gen = { NULL, NULL };
    h2o_iovec_t buf = h2o_iovec_init(body, len);

    req->res.status = status;
    req->res.reason = reason(status);
    if (ctype)
        api__content_type(req, ctype);
    req->res.content_length = len;
    h2o_start_response(req, &gen);
    h2o_send(req, &buf, len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

static void free_owned(void *p)
{
    et_free(*(void **)p);
}

void api__pool_own(h2o_req_t *req, void *mem)
{
    void **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), free_owned);
    *slot = mem;
}

static void unref_held(void *p)
{
    store_event_unref(*(struct store_event **)p);
}

void api__pool_hold_event(h2o_req_t *req, struct store_event *ev)
{
    struct store_event **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), unref_held);
    store_event_ref(ev);
    *slot = ev;
}

void api__send_404(h2o_req_t *req)
{
    api__cors(req);
    api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
    api__send(req, 404, "text/plain; charset=utf-8", H2O_STRLIT("404 page not found\n"));
}

void api__send_405(h2o_req_t *req, const char *allow)
{
    api__cors(req);
    if (allow)
        api__header(req, "Allow", allow, strlen(allow));
    api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
    api__send(req, 405, "text/plain; charset=utf-8", H2O_STRLIT("Method Not Allowed\n"));
}

void api__send_message(h2o_req_t *req, int status, const char *message, bool lf, bool cluster_id)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "{\"message\":");
    et_json_cstr(&b, message);
    et_buf_append_str(&b, lf ? "}\n" : "}");
    char *body = h2o_mem_alloc_pool(&req->pool, b.len);
    memcpy(body, b.data, b.len);
    api__cors(req);
    if (cluster_id)
        api__header(req, "X-Etcd-Cluster-Id", api__global->cluster_hex,
                    strlen(api__global->cluster_hex));
    api__send(req, status, "application/json", body, b.len);
    et_buf_free(&b);
}

void api__raft_headers(struct api *a, h2o_req_t *req)
{
    struct raft_status st;
    raft_node_status(a->node, &st);
    api__header_u64(req, "X-Raft-Index", st.commit);
    api__header_u64(req, "X-Raft-Term", st.term);
}

void api__send_v2_error(struct api *a, h2o_req_t *req, int code, const char *cause,
                        size_t cause_len, uint64_t index)
{
    struct et_buf b = ET_BUF_INIT;
    const char *msg = et_strerror(code);

    et_buf_append_str(&b, "{\"errorCode\":");
    et_buf_append_u64(&b, (uint64_t)code);
    et_buf_append_str(&b, ",\"message\":");
    et_json_cstr(&b, msg ? msg : "");
    if (cause_len) {
        et_buf_append_str(&b, ",\"cause\":");
        et_json_string(&b, cause, cause_len);
    }
    et_buf_append_str(&b, ",\"index\":");
    et_buf_append_u64(&b, index);
    et_buf_append_str(&b, "}\n");
    char *body = h2o_mem_alloc_pool(&req->pool, b.len);
    memcpy(body, b.data, b.len);
    api__cors(req);
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    api__header_u64(req, "X-Etcd-Index", index);
    api__send(req, et_ecode_http_status(code), "application/json", body, b.len);
    et_buf_free(&b);
}

static void guard_dispose(void *p)
{
    struct api_guard *g = p;
    if (g->ptr)
        *g->ptr = NULL;
    if (g->self)
        *g->self = NULL;
}

void api__guard(h2o_req_t *req, void **ptr, struct api_guard **self)
{
    struct api_guard *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), guard_dispose);
    g->ptr = ptr;
    g->self = self;
    *self = g;
}

void api__unguard(struct api_guard **self)
{
    if (*self) {
        (*self)->ptr = NULL;
        (*self)->self = NULL;
        *self = NULL;
    }
}
