/*
 * api/cluster.c - everything on the client and peer listeners that is not /v2/keys: /version,
 * /health, /v2/stats/{self,store,leader}, /v2/members, /v2/machines and the 0.4-era
 * /v2/admin/{config,machines} (spec/v2-cluster-api.md; DESIGN.md "Decisions").
 *
 * Bodies, statuses, trailing LFs and which responses carry X-Etcd-Cluster-Id follow etcd 3.4
 * (spec section 2's table).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/jsonread.h"
#include "core/log.h"

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

/* Appends @v as Go's encoding/json writes a float64: the shortest decimal that reads back as
 * @v, in %f form unless the exponent is below -6 or at least 21 (then 1e+21, 1e-07). */
static void go_float(struct et_buf *b, double v)
{
    char tmp[64], digits[32];
    int exp = 0, nd = 0;
    if (!isfinite(v)) {
        et_buf_append_str(b, "0");
        return;
    }
    if (v == 0) {
        et_buf_append_char(b, '0');
        return;
    }
    if (v < 0) {
        et_buf_append_char(b, '-');
        v = -v;
    }
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    for (const char *p = tmp; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    exp = atoi(strchr(tmp, 'e') + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    if (exp < -6 || exp >= 21) {
        et_buf_append_char(b, digits[0]);
        if (nd > 1) {
            et_buf_append_char(b, '.');
            et_buf_append_str(b, digits + 1);
        }
        et_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp >= nd - 1) {
        et_buf_append_str(b, digits);
        for (int i = 0; i < exp - (nd - 1); i++)
            et_buf_append_char(b, '0');
    } else if (exp >= 0) {
        et_buf_append(b, digits, (size_t)exp + 1);
        et_buf_append_char(b, '.');
        et_buf_append_str(b, digits + exp + 1);
    } else {
        et_buf_append_str(b, "0.");
        for (int i = 0; i < -exp - 1; i++)
            et_buf_append_char(b, '0');
        et_buf_append_str(b, digits);
    }
}

static void health_answer(h2o_req_t *req, bool healthy)
{
    struct et_buf b = ET_BUF_INIT;
    if (healthy) {
        et_buf_append_str(&b, "{\"health\":\"true\"}");
        send_buf(req, 200, "text/plain; charset=utf-8", &b);
    } else {
        api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
        et_buf_append_str(&b, "{\"health\":\"false\"}\n");
        send_buf(req, 503, "text/plain; charset=utf-8", &b);
    }
}

static void rate_field(struct et_buf *b, const char *name, double v)
{
    if (v <= 0)
        return; /* omitted when 0, as etcd's omitempty */
    et_buf_printf(b, ",\"%s\":", name);
    go_float(b, v);
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
    et_buf_printf(&b, "\"},\"recvAppendRequestCnt\":%llu",
                  (unsigned long long)st.recv_append_count);
    rate_field(&b, "recvPkgRate", st.recv_pkg_rate);
    rate_field(&b, "recvBandwidthRate", st.recv_bandwidth_rate);
    et_buf_printf(&b, ",\"sendAppendRequestCnt\":%llu", (unsigned long long)st.send_append_count);
    rate_field(&b, "sendPkgRate", st.send_pkg_rate);
    rate_field(&b, "sendBandwidthRate", st.send_bandwidth_rate);
    et_buf_append_char(&b, '}');
    send_buf(req, 200, "application/json", &b);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
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
    /* followers keyed by hex ID in ascending string order (Go sorts map keys) */
    pthread_mutex_lock(&a->mlock);
    char **ids = et_calloc(a->mem_count + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < a->mem_count; i++) {
        if (a->mem[i].m.id == a->cfg.id)
            continue;
        ids[n] = et_alloc(17);
        snprintf(ids[n++], 17, "%llx", (unsigned long long)a->mem[i].m.id);
    }
    pthread_mutex_unlock(&a->mlock);
    qsort(ids, n, sizeof(char *), cmp_str);
    et_buf_printf(&b, "{\"leader\":\"%s\",\"followers\":{", a->id_hex);
    for (size_t i = 0; i < n; i++) {
        struct api_peer_stats ps = { .min_ms = 9223372036854775808.0 };
        raft_id id = strtoull(ids[i], NULL, 16);
        if (a->cfg.host.peer_stats)
            a->cfg.host.peer_stats(id, &ps);
        et_buf_printf(&b, "%s\"%s\":{\"latency\":{\"current\":", i ? "," : "", ids[i]);
        go_float(&b, ps.current_ms);
        et_buf_append_str(&b, ",\"average\":");
        go_float(&b, ps.average_ms);
        et_buf_append_str(&b, ",\"standardDeviation\":");
        go_float(&b, ps.stddev_ms);
        et_buf_append_str(&b, ",\"minimum\":");
        go_float(&b, ps.min_ms);
        et_buf_append_str(&b, ",\"maximum\":");
        go_float(&b, ps.max_ms);
        et_buf_printf(&b, "},\"counts\":{\"fail\":%llu,\"success\":%llu}}",
                      (unsigned long long)ps.fail, (unsigned long long)ps.success);
        et_free(ids[i]);
    }
    et_free(ids);
    et_buf_append_str(&b, "}}");
    send_buf(req, 200, "application/json", &b);
}

/* ---- member objects ------------------------------------------------------------------------ */

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

/* {"members":[...]} sorted by ID, from the table. */
static void members_body(struct api *a, struct et_buf *b)
{
    pthread_mutex_lock(&a->mlock);
    const struct api_member **sorted = et_calloc(a->mem_count + 1, sizeof(*sorted));
    for (size_t i = 0; i < a->mem_count; i++)
        sorted[i] = &a->mem[i].m;
    qsort(sorted, a->mem_count, sizeof(*sorted), cmp_member);
    et_buf_append_str(b, "{\"members\":[");
    for (size_t i = 0; i < a->mem_count; i++) {
        if (i)
            et_buf_append_char(b, ',');
        member_json(b, sorted[i]);
    }
    pthread_mutex_unlock(&a->mlock);
    et_buf_append_str(b, "]}\n");
    et_free(sorted);
}

/* The client URLs of every member, sorted, joined by ", " (spec section 9). */
static void machines_body(struct api *a, struct et_buf *b)
{
    size_t n = 0;
    pthread_mutex_lock(&a->mlock);
    for (size_t i = 0; i < a->mem_count; i++)
        n += a->mem[i].m.client_url_count;
    char **urls = et_calloc(n + 1, sizeof(char *));
    n = 0;
    for (size_t i = 0; i < a->mem_count; i++)
        for (size_t j = 0; j < a->mem[i].m.client_url_count; j++)
            urls[n++] = et_strdup(a->mem[i].m.client_urls[j]);
    pthread_mutex_unlock(&a->mlock);
    qsort(urls, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i)
            et_buf_append_str(b, ", ");
        et_buf_append_str(b, urls[i]);
        et_free(urls[i]);
    }
    et_free(urls);
}

/* ---- request bodies of POST / PUT: Go's encoding/json messages ----------------------------- */

/* Go's name of a JSON value's type in "json: cannot unmarshal <type> into ..." (not null:
 * null decodes into anything). */
static const char *go_type(const struct et_jv *v)
{
    switch (v->type) {
    case ET_JV_OBJECT:
        return "object";
    case ET_JV_ARRAY:
        return "array";
    case ET_JV_STRING:
        return "string";
    case ET_JV_BOOL:
        return "bool";
    case ET_JV_NUMBER:
        return "number";
    case ET_JV_NULL:
        break;
    }
    ET_UNREACHABLE();
}

void api__url_req_free(struct api_url_req *u)
{
    for (size_t i = 0; i < u->count; i++)
        et_free(u->urls[i]);
    et_free(u->urls);
    memset(u, 0, sizeof(*u));
}

/*
 * Decodes {"peerURLs":[...]} as etcd does with json.Unmarshal (field name matched as Go matches
 * it, unknown fields ignored, null as empty, of several the last) and validates the URLs.
 * Returns true, or false with the message of etcd's 400 answer in @msg: Go's syntax error
 * (core/jsonread.c), else the first type error in document order, else "no valid URLs given"
 * or the first bad URL's error.
 */
bool api__peer_urls_parse(const char *body, size_t len, struct api_url_req *out, struct et_buf *msg)
{
    const struct et_jv *list = NULL; /* the last peerURLs array; NULL: none, or null last */
    bool type_err = false;
    memset(out, 0, sizeof(*out));
    struct et_jv *doc = et_jv_parse_go(body, len, 0, msg);
    if (doc == NULL)
        return false;
    if (doc->type != ET_JV_NULL && doc->type != ET_JV_OBJECT) {
        et_buf_printf(msg,
                      "json: cannot unmarshal %s into Go value of type struct { PeerURLs []string "
                      "\"json:\\\"peerURLs\\\"\" }",
                      go_type(doc));
        goto out_free_doc;
    }
    for (size_t i = 0; i < doc->count; i++) {
        const struct et_jv *m = &doc->items[i];
        if (!et_jv_name_eq(doc->keys[i], doc->key_lens[i], "peerURLs"))
            continue;
        if (m->type == ET_JV_NULL) {
            list = NULL;
        } else if (m->type != ET_JV_ARRAY) {
            if (!type_err)
                et_buf_printf(msg,
                              "json: cannot unmarshal %s into Go struct field .peerURLs of type "
                              "[]string",
                              go_type(m));
            type_err = true;
        } else {
            list = m;
            for (size_t k = 0; k < m->count && !type_err; k++) {
                const struct et_jv *e = &m->items[k];
                if (e->type == ET_JV_STRING || e->type == ET_JV_NULL)
                    continue;
                et_buf_printf(msg,
                              "json: cannot unmarshal %s into Go struct field .peerURLs of type "
                              "string",
                              go_type(e));
                type_err = true;
            }
        }
    }
    if (type_err)
        goto out_free_doc;
    if (list == NULL || list->count == 0) {
        et_buf_append_str(msg, "no valid URLs given");
        goto out_free_doc;
    }
    out->urls = et_calloc(list->count + 1, sizeof(char *));
    for (size_t i = 0; i < list->count; i++) {
        const struct et_jv *e = &list->items[i]; /* a string, or null decoded as "" */
        struct et_url u;
        char err[512];
        if (et_url_parse_len(e->str ? e->str : "", e->len, &u, err, sizeof(err)) != 0) {
            et_buf_append_str(msg, err);
            api__url_req_free(out);
            goto out_free_doc;
        }
        out->urls[out->count++] = et_strdup(u.raw);
        et_url_free(&u);
    }
    qsort(out->urls, out->count, sizeof(char *), cmp_str);
    et_jv_free(doc);
    return true;
out_free_doc:
    et_jv_free(doc);
    return false;
}

/* 415 unless the request is JSON (spec 8.2: parameters stripped and lower-cased after ';'). */
static bool json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    h2o_iovec_t ct = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init("", 0);
    char type[256];
    size_t n = ct.len < sizeof(type) - 1 ? ct.len : sizeof(type) - 1;
    memcpy(type, ct.base, n);
    type[n] = '\0';
    char *semi = strchr(type, ';');
    if (semi) {
        *semi = '\0';
        for (char *p = type; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        char *e = semi;
        while (e > type && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
    }
    if (strcmp(type, "application/json") == 0)
        return true;
    struct et_buf msg = ET_BUF_INIT;
    et_buf_printf(&msg, "Bad Content-Type %s, accept application/json", type);
    api__send_message(req, 415, msg.data, false, true);
    et_buf_free(&msg);
    return false;
}

/* ---- operations through Raft ------------------------------------------------------------- */

#define API_HEALTH_READ_MS 1000u /* etcd's /health gives its quorum read a second */

enum mop_kind {
    MOP_LIST,     /* GET /v2/members after a read barrier */
    MOP_MACHINES, /* GET /v2/machines after a read barrier */
    MOP_HEALTH,   /* GET /health: a quorum read within a second */
    MOP_ADD,
    MOP_UPDATE,
    MOP_REMOVE,
};

/* A membership request waiting for Raft; completed on the reactor that took it. */
struct api_mop {
    struct raft_change change;
    struct raft_proposal proposal;
    struct raft_read read;
    struct et_msg msg;
    struct api *api;
    struct api_reactor *reactor;
    h2o_req_t *req; /* NULL once the client is gone */
    struct api_guard *guard;
    uint8_t kind;
    bool admin;
    int err; /* > 0 applied, < 0 failed */
    struct et_buf data;
    struct api_member member; /* MOP_ADD: the new member */
};

static void mop_complete(struct et_msg *m)
{
    struct api_mop *op = (struct api_mop *)((char *)m - offsetof(struct api_mop, msg));
    h2o_req_t *req = op->req;
    struct api *a = op->api;
    struct et_buf b = ET_BUF_INIT;
    if (req) {
        api__unguard(&op->guard);
        if (op->kind == MOP_LIST) {
            members_body(a, &b);
            send_buf(req, 200, "application/json", &b);
        } else if (op->kind == MOP_MACHINES) {
            machines_body(a, &b);
            send_buf(req, 200, "text/plain; charset=utf-8", &b);
        } else if (op->kind == MOP_HEALTH) {
            health_answer(req, op->err == 0);
        } else if (op->err <= 0) {
            et_info("members: membership change failed: %s", strerror(op->err ? -op->err : EIO));
            api__send_message(req, 500, "Internal Server Error", false, true);
        } else if (op->kind == MOP_ADD) {
            member_json(&b, &op->member);
            et_buf_append_char(&b, '\n');
            api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
            send_buf(req, 201, "application/json", &b);
        } else if (op->admin) {
            api__cors(req);
            api__send(req, 200, "text/plain; charset=utf-8", "", 0);
        } else {
            api__cors(req);
            api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
            api__send(req, 204, NULL, NULL, 0);
        }
    }
    et_buf_free(&b);
    et_buf_free(&op->data);
    api__member_free(&op->member);
    et_free(op);
}

static void mop_post(struct api_mop *op, int err)
{
    op->err = err;
    op->msg.fn = mop_complete;
    op->api->cfg.host.post(op->reactor->handle, &op->msg);
}

static void mop_change_done(struct raft_change *c, int err)
{
    mop_post((struct api_mop *)((char *)c - offsetof(struct api_mop, change)), err);
}

static void mop_proposal_done(struct raft_proposal *p, int err)
{
    mop_post((struct api_mop *)((char *)p - offsetof(struct api_mop, proposal)), err);
}

static void mop_read_done(struct raft_read *r, int err)
{
    mop_post((struct api_mop *)((char *)r - offsetof(struct api_mop, read)), err);
}

static struct api_mop *mop_new(struct api *a, h2o_req_t *req, uint8_t kind)
{
    struct api_mop *op = et_calloc(1, sizeof(*op));
    op->api = a;
    op->reactor = api__reactor(a);
    op->req = req;
    op->kind = kind;
    api__guard(req, (void **)&op->req, &op->guard);
    op->change.done = mop_change_done;
    op->proposal.done = mop_proposal_done;
    op->read.done = mop_read_done;
    return op;
}

/* Hands @op to the node; on refusal answers at once. */
static void mop_submit(struct api_mop *op, int ret)
{
    if (ret == 0)
        return;
    if (op->kind == MOP_LIST || op->kind == MOP_MACHINES) {
        mop_complete(&op->msg); /* no barrier possible: answer from the local table */
        return;
    }
    h2o_req_t *req = op->req;
    api__unguard(&op->guard);
    op->req = NULL;
    api__send_message(req, 500, "Internal Server Error", false, true);
    mop_complete(&op->msg);
}

/* GET /v2/members and /v2/machines: on a follower, answered after a read barrier, so that a
 * member that has just started already lists what the cluster committed; at once on the leader
 * (its list is the cluster's, and a leader that lost its majority, like a member added to a
 * cluster of one that has not started yet, must still answer, as etcd does) and when no leader is
 * known (etcd answers from the local list then too). */
static void mop_read_barrier(struct api *a, struct api_mop *op)
{
    struct raft_status st;
    raft_node_status(a->node, &st);
    mop_submit(op, st.leader && !st.is_leader ? raft_node_read(a->node, &op->read) : -EAGAIN);
}

/* /health: a leader is known, this member's own attributes are in the member list, and a
 * linearizable read through the leader completes within a second (a leader that lost its
 * majority, or a member cut off from it, answers false, as etcd's quorum read does). */
static void health(struct api *a, h2o_req_t *req)
{
    struct raft_status st;
    if (!only_get(req))
        return;
    raft_node_status(a->node, &st);
    if (st.leader == 0 || !api__members_published(a)) {
        health_answer(req, false);
        return;
    }
    struct api_mop *op = mop_new(a, req, MOP_HEALTH);
    int ret = raft_node_read_within(a->node, &op->read, API_HEALTH_READ_MS);
    if (ret != 0)
        mop_post(op, ret);
}

/* A new member ID: a hash of its peer URLs, the cluster and the time (as etcd mixes in the
 * time), never 0 and never one in use or removed. The caller holds a->mlock. */
static raft_id new_member_id(struct api *a, const struct api_url_req *u)
{
    uint64_t h = 1469598103934665603ull ^ a->cfg.cluster_id;
    for (size_t i = 0; i < u->count; i++)
        for (const char *p = u->urls[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h ^= (uint64_t)et_wall_ns();
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* 409 when a URL of @u is a peer URL of a member other than @except. Lock held. */
static bool peer_url_used(struct api *a, const struct api_url_req *u, raft_id except)
{
    for (size_t i = 0; i < a->mem_count; i++) {
        const struct api_member *m = &a->mem[i].m;
        if (m->id == except)
            continue;
        for (size_t j = 0; j < m->peer_url_count; j++)
            for (size_t k = 0; k < u->count; k++)
                if (strcmp(m->peer_urls[j], u->urls[k]) == 0)
                    return true;
    }
    return false;
}

static void members_add(struct api *a, h2o_req_t *req)
{
    struct api_url_req u;
    struct et_buf msg = ET_BUF_INIT;
    if (!json_content_type(req))
        return;
    if (!api__peer_urls_parse(req->entity.base ? req->entity.base : "", req->entity.len, &u,
                              &msg)) {
        api__send_message(req, 400, msg.data, false, true);
        et_buf_free(&msg);
        return;
    }
    uint64_t active = __atomic_load_n(&a->admin.active_size, __ATOMIC_RELAXED);
    pthread_mutex_lock(&a->mlock);
    bool used = peer_url_used(a, &u, 0);
    size_t count = a->mem_count;
    raft_id id = new_member_id(a, &u);
    for (int i = 0; id == 0 || api__mem_find(a, id) || api__mem_removed(a, id); i++)
        id = id * 6364136223846793005ull + 1442695040888963407ull;
    pthread_mutex_unlock(&a->mlock);
    if (used) {
        api__send_message(req, 409, "membership: peerURL exists", false, true);
        api__url_req_free(&u);
        return;
    }
    if (count >= active) {
        et_buf_printf(&msg,
                      "membership: the cluster has %zu members and activeSize is %llu (raise it "
                      "with PUT /v2/admin/config or remove a member first)",
                      count, (unsigned long long)active);
        api__send_message(req, 409, msg.data, false, true);
        et_buf_free(&msg);
        api__url_req_free(&u);
        return;
    }
    struct api_mop *op = mop_new(a, req, MOP_ADD);
    op->member = (struct api_member){ .id = id,
                                      .name = et_strdup(""),
                                      .peer_urls = u.urls,
                                      .peer_url_count = u.count,
                                      .client_urls = et_calloc(1, sizeof(char *)) };
    api__member_encode(&op->data, &op->member);
    op->change.type = RAFT_CC_ADD_VOTER;
    op->change.id = id;
    op->change.context = op->data.data;
    op->change.context_len = op->data.len;
    mop_submit(op, raft_node_change(a->node, &op->change));
}

/* Parses the <id> of /v2/members/<id>; answers 404 / 410 itself and returns 0 then. */
static raft_id member_id_arg(struct api *a, h2o_req_t *req, const char *s, size_t len,
                             bool gone_is_410)
{
    char tmp[64], *end;
    struct et_buf msg = ET_BUF_INIT;
    raft_id id = 0;
    if (len > 0 && len < sizeof(tmp)) {
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        id = strtoull(tmp, &end, 16);
        if (errno || *end || !isxdigit((unsigned char)tmp[0]))
            id = 0;
    }
    pthread_mutex_lock(&a->mlock);
    bool known = id && api__mem_find(a, id), removed = id && api__mem_removed(a, id);
    pthread_mutex_unlock(&a->mlock);
    if (known)
        return id;
    if (removed && gone_is_410) {
        et_buf_printf(&msg, "Member permanently removed: %llx", (unsigned long long)id);
        api__send_message(req, 410, msg.data, false, true);
    } else if (removed) {
        api__send_message(req, 500, "Internal Server Error", false, true); /* 3.4 quirk (8.3) */
    } else {
        et_buf_append_str(&msg, "No such member: ");
        if (id)
            et_buf_printf(&msg, "%llx", (unsigned long long)id);
        else
            et_buf_append(&msg, s, len);
        api__send_message(req, 404, msg.data, false, true);
    }
    et_buf_free(&msg);
    return 0;
}

static void members_update(struct api *a, h2o_req_t *req, const char *ids, size_t ids_len)
{
    struct api_url_req u;
    struct et_buf msg = ET_BUF_INIT;
    raft_id id = member_id_arg(a, req, ids, ids_len, false);
    if (id == 0 || !json_content_type(req))
        return;
    if (!api__peer_urls_parse(req->entity.base ? req->entity.base : "", req->entity.len, &u,
                              &msg)) {
        api__send_message(req, 400, msg.data, false, true);
        et_buf_free(&msg);
        return;
    }
    pthread_mutex_lock(&a->mlock);
    bool used = peer_url_used(a, &u, id);
    pthread_mutex_unlock(&a->mlock);
    if (used) {
        api__send_message(req, 409, "membership: peerURL exists", false, true);
        api__url_req_free(&u);
        return;
    }
    struct api_mop *op = mop_new(a, req, MOP_UPDATE);
    struct api_member m = {
        .id = id, .name = "", .peer_urls = u.urls, .peer_url_count = u.count, .client_urls = NULL
    };
    et_buf_append_char(&op->data, (char)API_MEMBER_TAG);
    et_buf_append_char(&op->data, API_MEMBER_UPDATE);
    api__member_encode(&op->data, &m);
    api__url_req_free(&u);
    op->proposal.data = op->data.data;
    op->proposal.len = op->data.len;
    mop_submit(op, raft_node_propose(a->node, &op->proposal));
}

void api__member_remove(struct api *a, h2o_req_t *req, raft_id id, bool admin)
{
    struct api_mop *op = mop_new(a, req, MOP_REMOVE);
    op->admin = admin;
    op->change.type = RAFT_CC_REMOVE;
    op->change.id = id;
    mop_submit(op, raft_node_change(a->node, &op->change));
}

static void members(struct api *a, h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    bool is_leader_path = path_is(req, "/v2/members/leader");
    bool is_root = path_is(req, "/v2/members") || path_is(req, "/v2/members/");
    size_t plen = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;

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
            pthread_mutex_lock(&a->mlock);
            struct api_mem *e = st.leader ? api__mem_find(a, st.leader) : NULL;
            if (e) {
                member_json(&b, &e->m);
                et_buf_append_char(&b, '\n');
            }
            pthread_mutex_unlock(&a->mlock);
            if (e)
                send_buf(req, 200, "application/json", &b);
            else
                api__send_message(req, 503, "During election", false, false);
            return;
        }
        if (!is_root) {
            api__send_message(req, 404, "Not found", false, false);
            return;
        }
        struct api_mop *op = mop_new(a, req, MOP_LIST);
        mop_read_barrier(a, op);
        return;
    }
    if ((api__method_is(req, "PUT") || api__method_is(req, "DELETE")) && is_root) {
        api__cors(req);
        api__header(req, "X-Content-Type-Options", H2O_STRLIT("nosniff"));
        api__send(req, 405, "text/plain; charset=utf-8", H2O_STRLIT("Method Not Allowed\n"));
        return;
    }
    if (api__method_is(req, "POST")) {
        if (is_root)
            members_add(a, req);
        else
            api__send_message(req, 404, "Not found", false, false);
        return;
    }
    const char *ids = req->input.path.base + 12;
    size_t ids_len = plen - 12;
    if (memchr(ids, '/', ids_len)) {
        api__send_message(req, 404, "Not found", false, false);
        return;
    }
    if (api__method_is(req, "PUT")) {
        members_update(a, req, ids, ids_len);
        return;
    }
    raft_id id = member_id_arg(a, req, ids, ids_len, true);
    if (id)
        api__member_remove(a, req, id, false);
}

static void machines(struct api *a, h2o_req_t *req)
{
    if (!api__method_is(req, "GET") && !api__method_is(req, "HEAD")) {
        api__send_405(req, "GET,HEAD");
        return;
    }
    struct api_mop *op = mop_new(a, req, MOP_MACHINES);
    mop_read_barrier(a, op);
}

/* Peer listener: the member list for a member joining with --initial-cluster-state existing. */
static void peer_members(struct api *a, h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    if (!only_get(req))
        return;
    api_members_text(a, &b);
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    send_buf(req, 200, "text/plain; charset=utf-8", &b);
}

int api__cluster(struct api *a, h2o_req_t *req, bool peer)
{
    if (path_is(req, "/version"))
        version(req);
    else if (api__admin(a, req))
        return 0;
    else if (peer && path_is(req, "/etcetera/members"))
        peer_members(a, req);
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
