/*
 * api/cluster.c - everything on the client and peer listeners that is not /v2/keys: /version,
 * /health, /v2/stats/{self,store,leader}, /v2/members, /v2/machines and the 0.4-era
 * /v2/admin/{config,machines} (spec/v2-cluster-api.md; DESIGN.md "Decisions").
 *
 * Bodies, statuses, trailing LFs and which responses carry X-Etcd-Cluster-Id follow etcd 3.4
 * (spec section 2's table).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"

#define ETCETERA_VERSION "0.1.0"

static bool path_is(h2o_req_t *req, const char *p)
{
    size_t len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    return h2o_memis(req->input.path.base, len, p, strlen(p));
}

static void send_buf(h2o_req_t *req, int status, const char *ctype, struct et_buf *b)
{
    char *body = h2o_mem_alloc_pool(&req->pool, b->len ? b->len : 1);
    if (b->len)
        memcpy(body, b->data, b->len);
    api__cors(req);
    api__send(req, status, ctype, body, b->len);
    et_buf_free(b);
}

static bool only_get(h2o_req_t *req)
{
    if (api__method_is(req, "GET"))
        return true;
    api__send_405(req, "GET");
    return false;
}

static void version(h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    if (!only_get(req))
        return;
    et_buf_append_str(
        &b, "{\"etcdserver\":\"2.3.8\",\"etcdcluster\":\"2.3.0\",\"etcetera\":\"" ETCETERA_VERSION
            "\"}");
    send_buf(req, 200, "application/json", &b);
}

static void health(struct api *a, h2o_req_t *req)
{
    struct raft_status st;
    struct et_buf b = ET_BUF_INIT;
    if (!only_get(req))
        return;
    raft_node_status(a->node, &st);
    if (st.leader != 0) {
        et_buf_append_str(&b, "{\"health\":\"true\"}");
        send_buf(req, 200, "text/plain; charset=utf-8", &b);
    } else {
        api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
        et_buf_append_str(&b, "{\"health\":\"false\"}\n");
        send_buf(req, 503, "text/plain; charset=utf-8", &b);
    }
}

static void stats_self(struct api *a, h2o_req_t *req)
{
    struct raft_status st;
    struct et_buf b = ET_BUF_INIT;
    int64_t now = et_wall_ns();
    if (!only_get(req))
        return;
    raft_node_status(a->node, &st);
    int64_t since = st.leader_since_ns ? st.leader_since_ns : a->start_ns;
    et_buf_append_str(&b, "{\"name\":");
    et_json_cstr(&b, a->cfg.name);
    et_buf_printf(&b, ",\"id\":\"%s\",\"state\":\"%s\",\"startTime\":\"", a->id_hex,
                  st.is_leader ? "StateLeader" : "StateFollower");
    et_time_rfc3339(&b, a->start_ns);
    et_buf_printf(&b, "\",\"leaderInfo\":{\"leader\":\"%llx\",\"uptime\":\"",
                  (unsigned long long)st.leader);
    et_duration_go(&b, st.leader ? now - since : 0);
    et_buf_append_str(&b, "\",\"startTime\":\"");
    et_time_rfc3339(&b, since);
    et_buf_append_str(&b, "\"},\"recvAppendRequestCnt\":0,\"sendAppendRequestCnt\":0}");
    send_buf(req, 200, "application/json", &b);
}

static void stats_store(struct api *a, h2o_req_t *req)
{
    struct store_stats s;
    struct et_buf b = ET_BUF_INIT;
    uint64_t gets_ok = 0, gets_fail = 0, watchers = 0;
    if (!only_get(req))
        return;
    store_stats_get(a->store, &s);
    for (unsigned i = 0; i < a->reactor_count; i++) {
        gets_ok += __atomic_load_n(&a->reactors[i].gets_success, __ATOMIC_RELAXED);
        gets_fail += __atomic_load_n(&a->reactors[i].gets_fail, __ATOMIC_RELAXED);
        watchers += __atomic_load_n(&a->reactors[i].watchers, __ATOMIC_RELAXED);
    }
    et_buf_printf(&b,
                  "{\"getsSuccess\":%llu,\"getsFail\":%llu,\"setsSuccess\":%llu,\"setsFail\":%llu,"
                  "\"deleteSuccess\":%llu,\"deleteFail\":%llu,\"updateSuccess\":%llu,"
                  "\"updateFail\":%llu,\"createSuccess\":%llu,\"createFail\":%llu,"
                  "\"compareAndSwapSuccess\":%llu,\"compareAndSwapFail\":%llu,"
                  "\"compareAndDeleteSuccess\":%llu,\"compareAndDeleteFail\":%llu,"
                  "\"expireCount\":%llu,\"watchers\":%llu}",
                  (unsigned long long)gets_ok, (unsigned long long)gets_fail,
                  (unsigned long long)s.sets_success, (unsigned long long)s.sets_fail,
                  (unsigned long long)s.delete_success, (unsigned long long)s.delete_fail,
                  (unsigned long long)s.update_success, (unsigned long long)s.update_fail,
                  (unsigned long long)s.create_success, (unsigned long long)s.create_fail,
                  (unsigned long long)s.cas_success, (unsigned long long)s.cas_fail,
                  (unsigned long long)s.cad_success, (unsigned long long)s.cad_fail,
                  (unsigned long long)s.expire_count, (unsigned long long)watchers);
    send_buf(req, 200, "application/json", &b);
}

static void stats_leader(struct api *a, h2o_req_t *req)
{
    struct raft_status st;
    struct et_buf b = ET_BUF_INIT;
    if (!only_get(req))
        return;
    raft_node_status(a->node, &st);
    if (!st.is_leader) {
        api__send_message(req, 403, "not current leader", false, false);
        return;
    }
    et_buf_printf(&b, "{\"leader\":\"%s\",\"followers\":{", a->id_hex);
    bool first = true;
    for (size_t i = 0; i < a->member_count; i++) {
        if (a->members[i].id == a->cfg.id)
            continue;
        et_buf_printf(&b,
                      "%s\"%llx\":{\"latency\":{\"current\":0,\"average\":0,"
                      "\"standardDeviation\":0,\"minimum\":9223372036854776000,\"maximum\":0},"
                      "\"counts\":{\"fail\":0,\"success\":0}}",
                      first ? "" : ",", (unsigned long long)a->members[i].id);
        first = false;
    }
    et_buf_append_str(&b, "}}");
    send_buf(req, 200, "application/json", &b);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void url_list(struct et_buf *b, char **urls, size_t n)
{
    char **sorted = et_memdup(urls, (n ? n : 1) * sizeof(char *));
    qsort(sorted, n, sizeof(char *), cmp_str);
    et_buf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            et_buf_append_char(b, ',');
        et_json_cstr(b, sorted[i]);
    }
    et_buf_append_char(b, ']');
    et_free(sorted);
}

static void member_json(struct et_buf *b, const struct api_member *m)
{
    et_buf_printf(b, "{\"id\":\"%llx\",\"name\":", (unsigned long long)m->id);
    et_json_cstr(b, m->name);
    et_buf_append_str(b, ",\"peerURLs\":");
    url_list(b, m->peer_urls, m->peer_url_count);
    et_buf_append_str(b, ",\"clientURLs\":");
    url_list(b, m->client_urls, m->client_url_count);
    et_buf_append_char(b, '}');
}

static int cmp_member(const void *x, const void *y)
{
    const struct api_member *a = *(const struct api_member *const *)x;
    const struct api_member *b = *(const struct api_member *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void members(struct api *a, h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    bool is_leader_path = path_is(req, "/v2/members/leader");
    bool is_root = path_is(req, "/v2/members") || path_is(req, "/v2/members/");

    if (!api__method_is(req, "GET") && !api__method_is(req, "POST") &&
        !api__method_is(req, "PUT") && !api__method_is(req, "DELETE")) {
        api__send_405(req, "GET,POST,DELETE,PUT");
        return;
    }
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    if (api__method_is(req, "GET")) {
        if (is_leader_path) {
            struct raft_status st;
            raft_node_status(a->node, &st);
            for (size_t i = 0; i < a->member_count; i++) {
                if (a->members[i].id == st.leader && st.leader) {
                    member_json(&b, &a->members[i]);
                    et_buf_append_char(&b, '\n');
                    send_buf(req, 200, "application/json", &b);
                    return;
                }
            }
            api__send_message(req, 503, "During election", false, false);
            return;
        }
        if (!is_root) {
            api__send_message(req, 404, "Not found", false, false);
            return;
        }
        const struct api_member **sorted = et_calloc(a->member_count + 1, sizeof(*sorted));
        for (size_t i = 0; i < a->member_count; i++)
            sorted[i] = &a->members[i];
        qsort(sorted, a->member_count, sizeof(*sorted), cmp_member);
        et_buf_append_str(&b, "{\"members\":[");
        for (size_t i = 0; i < a->member_count; i++) {
            if (i)
                et_buf_append_char(&b, ',');
            member_json(&b, sorted[i]);
        }
        et_buf_append_str(&b, "]}\n");
        et_free(sorted);
        send_buf(req, 200, "application/json", &b);
        return;
    }
    if ((api__method_is(req, "PUT") || api__method_is(req, "DELETE")) && is_root) {
        api__cors(req);
        api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
        api__send(req, 405, "text/plain; charset=utf-8", H2O_STRLIT("Method Not Allowed\n"));
        return;
    }
    /* Membership changes need the multi-member cluster (a later issue): refuse clearly. */
    api__send_message(req, 500, "Internal Server Error", false, false);
}

static void machines(struct api *a, h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    size_t n = 0;
    if (!api__method_is(req, "GET") && !api__method_is(req, "HEAD")) {
        api__send_405(req, "GET,HEAD");
        return;
    }
    for (size_t i = 0; i < a->member_count; i++)
        n += a->members[i].client_url_count;
    char **urls = et_calloc(n + 1, sizeof(char *));
    n = 0;
    for (size_t i = 0; i < a->member_count; i++)
        for (size_t j = 0; j < a->members[i].client_url_count; j++)
            urls[n++] = a->members[i].client_urls[j];
    qsort(urls, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i)
            et_buf_append_str(&b, ", ");
        et_buf_append_str(&b, urls[i]);
    }
    et_free(urls);
    send_buf(req, 200, "text/plain; charset=utf-8", &b);
}

int api__cluster(struct api *a, h2o_req_t *req, bool peer)
{
    if (path_is(req, "/version"))
        version(req);
    else if (api__admin(a, req))
        return 0;
    else if (!peer && path_is(req, "/health"))
        health(a, req);
    else if (!peer && path_is(req, "/v2/stats/self"))
        stats_self(a, req);
    else if (!peer && path_is(req, "/v2/stats/store"))
        stats_store(a, req);
    else if (!peer && path_is(req, "/v2/stats/leader"))
        stats_leader(a, req);
    else if (!peer &&
             (path_is(req, "/v2/members") ||
              (req->input.path.len >= 12 && memcmp(req->input.path.base, "/v2/members/", 12) == 0)))
        members(a, req);
    else if (!peer && path_is(req, "/v2/machines"))
        machines(a, req);
    else
        api__send_404(req);
    return 0;
}
