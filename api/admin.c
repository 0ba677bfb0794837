/*
 * api/admin.c - the etcd 0.4-era cluster administration endpoints that 2014 tutorials use, and
 * the read-only /_etcd/machines registry view (spec/v2-cluster-api.md section 11; DESIGN.md
 * "Decisions").
 *
 *   GET/PUT /v2/admin/config        {"activeSize":9,"removeDelay":1800,"syncInterval":5}
 *   GET     /v2/admin/machines      [{"name","state","clientURL","peerURL"}, ...] by name
 *   GET     /v2/admin/machines/<n>  one object, or null
 *   DELETE  /v2/admin/machines/<n>  member removal by name (200, empty body; 404 unknown)
 *
 * The configuration is replicated: a PUT proposes an internal write of /_etcd/config through
 * Raft and every member parses it when applying (api__admin_applied), so it survives restarts
 * through the WAL and snapshots. The leader also keeps /_etcd/machines/<name> equal to the
 * membership, as 0.4 did; clients can read /_etcd but not write it (error 106). activeSize caps
 * the members /v2/members accepts (api/cluster.c); removeDelay is how long the leader waits
 * before it removes a member it cannot reach (admin_remove_unreachable).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/jsonread.h"
#include "core/log.h"

#define ADMIN_ACTIVE_SIZE_DEFAULT   9
#define ADMIN_REMOVE_DELAY_DEFAULT  1800
#define ADMIN_SYNC_INTERVAL_DEFAULT 5

void api__admin_init(struct api *a)
{
    a->admin.active_size = ADMIN_ACTIVE_SIZE_DEFAULT;
    a->admin.remove_delay = ADMIN_REMOVE_DELAY_DEFAULT;
    a->admin.sync_interval = ADMIN_SYNC_INTERVAL_DEFAULT;
}

static void config_json(struct et_buf *b, uint64_t active, uint64_t remove, uint64_t sync)
{
    et_buf_printf(b, "{\"activeSize\":%llu,\"removeDelay\":%llu,\"syncInterval\":%llu}",
                  (unsigned long long)active, (unsigned long long)remove, (unsigned long long)sync);
}

/* Parses @body as a JSON object; numeric members named like the config fields update @out
 * (0.4: missing or non-numeric fields keep their values, numbers are truncated). Members are
 * taken in document order, as Go decodes them, so of duplicates the last number wins. */
static bool parse_config(const char *body, size_t len, uint64_t out[3])
{
    static const char *const names[3] = { "activeSize", "removeDelay", "syncInterval" };
    struct et_jv *doc = et_jv_parse(body, len);
    bool ok = doc != NULL && doc->type == ET_JV_OBJECT;
    for (size_t m = 0; ok && m < doc->count; m++) {
        const struct et_jv *v = &doc->items[m];
        for (int i = 0; i < 3; i++) {
            if (v->type != ET_JV_NUMBER || !et_jv_name_eq(doc->keys[m], doc->key_lens[m], names[i]))
                continue;
            double d = strtod(v->str, NULL);
            if (d >= 0 && d < 1e15)
                out[i] = (uint64_t)d;
        }
    }
    if (doc)
        et_jv_free(doc);
    return ok;
}

/* ---- handlers ------------------------------------------------------------------------------ */

static void send_copy(h2o_req_t *req, int status, const char *ctype, struct et_buf *b)
{
    char *body = h2o_mem_alloc_pool(&req->pool, b->len ? b->len : 1);
    memcpy(body, b->data, b->len);
    api__cors(req);
    api__send(req, status, ctype, body, b->len);
    et_buf_free(b);
}

static void admin_config(struct api *a, h2o_req_t *req)
{
    struct et_buf b = ET_BUF_INIT;
    uint64_t v[3] = { __atomic_load_n(&a->admin.active_size, __ATOMIC_RELAXED),
                      __atomic_load_n(&a->admin.remove_delay, __ATOMIC_RELAXED),
                      __atomic_load_n(&a->admin.sync_interval, __ATOMIC_RELAXED) };

    if (api__method_is(req, "GET")) {
        config_json(&b, v[0], v[1], v[2]);
        et_buf_append_char(&b, '\n');
        send_copy(req, 200, "application/json", &b);
        return;
    }
    if (!api__method_is(req, "PUT")) {
        api__send_405(req, "GET,PUT");
        return;
    }
    if (!parse_config(req->entity.base ? req->entity.base : "", req->entity.len, v)) {
        et_buf_append_str(&b, "invalid JSON in the request body\n");
        send_copy(req, 500, "text/plain; charset=utf-8", &b);
        return;
    }
    /* 0.4's minimums: values below them are raised */
    if (v[0] < 3)
        v[0] = 3;
    if (v[1] < 2)
        v[1] = 2;
    if (v[2] < 1)
        v[2] = 1;
    config_json(&b, v[0], v[1], v[2]);
    struct store_cmd cmd = { .op = STORE_OP_INTERNAL_SET,
                             .key = "/_etcd/config",
                             .key_len = 13,
                             .value = b.data,
                             .value_len = b.len,
                             .now_ns = et_wall_ns() };
    api__propose(a, api__reactor(a), req, &cmd, API_WRITE_ADMIN_CONFIG, false);
    et_buf_free(&b);
}

/* The member named @name, or NULL. The caller holds a->mlock. */
static const struct api_member *member_by_name(struct api *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->mem_count; i++) {
        const struct api_member *m = &a->mem[i].m;
        if (m->name[0] && strlen(m->name) == len && memcmp(m->name, name, len) == 0)
            return m;
    }
    return NULL;
}

static void machine_json(struct et_buf *b, const struct api_member *m, raft_id leader)
{
    et_buf_append_str(b, "{\"name\":");
    et_json_cstr(b, m->name);
    et_buf_printf(b, ",\"state\":\"%s\",\"clientURL\":", m->id == leader ? "leader" : "follower");
    et_json_cstr(b, m->client_url_count ? m->client_urls[0] : "");
    et_buf_append_str(b, ",\"peerURL\":");
    et_json_cstr(b, m->peer_url_count ? m->peer_urls[0] : "");
    et_buf_append_char(b, '}');
}

static int cmp_member_name(const void *x, const void *y)
{
    const struct api_member *a = *(const struct api_member *const *)x;
    const struct api_member *b = *(const struct api_member *const *)y;
    return strcmp(a->name, b->name);
}

static void admin_machines(struct api *a, h2o_req_t *req, const char *name, size_t name_len)
{
    struct et_buf b = ET_BUF_INIT;
    struct raft_status st;
    raft_node_status(a->node, &st);

    if (name == NULL) {
        if (!api__method_is(req, "GET")) {
            api__send_405(req, "GET");
            return;
        }
        /* 0.4 listed registered machines: members that have published a name */
        pthread_mutex_lock(&a->mlock);
        const struct api_member **sorted = et_calloc(a->mem_count + 1, sizeof(*sorted));
        size_t n = 0;
        for (size_t i = 0; i < a->mem_count; i++)
            if (a->mem[i].m.name[0])
                sorted[n++] = &a->mem[i].m;
        qsort(sorted, n, sizeof(*sorted), cmp_member_name);
        et_buf_append_char(&b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                et_buf_append_char(&b, ',');
            machine_json(&b, sorted[i], st.leader);
        }
        pthread_mutex_unlock(&a->mlock);
        et_buf_append_str(&b, "]\n");
        et_free(sorted);
        send_copy(req, 200, "application/json", &b);
        return;
    }
    pthread_mutex_lock(&a->mlock);
    const struct api_member *m = member_by_name(a, name, name_len);
    raft_id id = m ? m->id : 0;
    if (m && api__method_is(req, "GET"))
        machine_json(&b, m, st.leader);
    pthread_mutex_unlock(&a->mlock);
    if (api__method_is(req, "GET")) {
        if (id == 0)
            et_buf_append_str(&b, "null");
        et_buf_append_char(&b, '\n');
        send_copy(req, 200, "application/json", &b);
        return;
    }
    if (!api__method_is(req, "DELETE")) {
        api__send_405(req, "GET,DELETE");
        return;
    }
    if (id == 0) {
        struct et_buf msg = ET_BUF_INIT;
        et_buf_append_str(&msg, "No such member: ");
        et_buf_append(&msg, name, name_len);
        api__send_message(req, 404, msg.data, false, false);
        et_buf_free(&msg);
        return;
    }
    api__member_remove(a, req, id, true);
}

bool api__admin(struct api *a, h2o_req_t *req)
{
    size_t len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    const char *p = req->input.path.base;
    if (h2o_memis(p, len, H2O_STRLIT("/v2/admin/config"))) {
        admin_config(a, req);
        return true;
    }
    if (h2o_memis(p, len, H2O_STRLIT("/v2/admin/machines"))) {
        admin_machines(a, req, NULL, 0);
        return true;
    }
    if (len > 19 && memcmp(p, "/v2/admin/machines/", 19) == 0 &&
        memchr(p + 19, '/', len - 19) == NULL) {
        admin_machines(a, req, p + 19, len - 19);
        return true;
    }
    return false;
}

/* Raft thread: an internal write was applied; keep the cached views in step. */
void api__admin_applied(struct api *a, const struct store_cmd *cmd)
{
    if (cmd->key_len == 13 && memcmp(cmd->key, "/_etcd/config", 13) == 0) {
        uint64_t v[3] = { a->admin.active_size, a->admin.remove_delay, a->admin.sync_interval };
        if (parse_config(cmd->value, cmd->value_len, v)) {
            __atomic_store_n(&a->admin.active_size, v[0], __ATOMIC_RELAXED);
            __atomic_store_n(&a->admin.remove_delay, v[1], __ATOMIC_RELAXED);
            __atomic_store_n(&a->admin.sync_interval, v[2], __ATOMIC_RELAXED);
        }
        return;
    }
    if (cmd->key_len > 16 && memcmp(cmd->key, "/_etcd/machines/", 16) == 0)
        api__members_machines_applied(a, cmd);
}

/* Appends s percent-escaped as Go's url.QueryEscape does. */
static void query_escape(struct et_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            et_buf_append_char(b, (char)c);
        } else if (c == ' ') {
            et_buf_append_char(b, '+');
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            et_buf_append(b, e, 3);
        }
    }
}

void api__machines_value(struct et_buf *b, const struct api_member *m)
{
    et_buf_append_str(b, "etcd=");
    query_escape(b, m->client_url_count ? m->client_urls[0] : "");
    et_buf_append_str(b, "&raft=");
    query_escape(b, m->peer_url_count ? m->peer_urls[0] : "");
}

struct api_internal {
    struct raft_proposal proposal;
    struct et_buf entry;
};

static void internal_failed(struct raft_proposal *p, int err)
{
    struct api_internal *in = (struct api_internal *)p;
    (void)err;
    et_buf_free(&in->entry);
    et_free(in);
}

bool api__is_internal_proposal(struct raft_proposal *p)
{
    return p->done == internal_failed;
}

void api__internal_applied(struct raft_proposal *p)
{
    internal_failed(p, 0);
}

static void propose_internal(struct api *a, uint8_t op, const struct et_buf *key,
                             const struct et_buf *val, int64_t *proposed_ns)
{
    struct store_cmd cmd = { .op = op,
                             .key = key->data,
                             .key_len = key->len,
                             .value = val->len ? val->data : "",
                             .value_len = val->len,
                             .recursive = op == STORE_OP_INTERNAL_DELETE,
                             .now_ns = et_wall_ns() };
    struct api_internal *in = et_calloc(1, sizeof(*in));
    store_cmd_encode(&cmd, &in->entry);
    in->proposal = (struct raft_proposal){ .data = in->entry.data,
                                           .len = in->entry.len,
                                           .done = internal_failed };
    if (raft_node_propose(a->node, &in->proposal) != 0)
        internal_failed(&in->proposal, -EAGAIN);
    else
        *proposed_ns = et_mono_ns();
}

#define ADMIN_RETRY_NS (3 * ET_NS_PER_SEC) /* a registry write not applied by then is retried */

struct api_autoremove {
    struct raft_change change;
    struct api *api;
};

static void autoremove_done(struct raft_change *c, int err)
{
    struct api_autoremove *ar = (struct api_autoremove *)c;
    (void)err; /* applied (1) or failed: the next tick decides again */
    ar->api->autoremove_in_flight = false;
    et_free(ar);
}

/*
 * removeDelay (DESIGN.md "Decisions"): the leader removes a member it has not heard from for
 * that many seconds. Contact times are the leader's own (its transport's last acknowledged
 * send); a new leader starts counting afresh. One removal at a time.
 */
static void admin_remove_unreachable(struct api *a, int64_t now)
{
    int64_t delay_ns =
        (int64_t)__atomic_load_n(&a->admin.remove_delay, __ATOMIC_RELAXED) * ET_NS_PER_SEC;
    for (size_t i = 0; i < a->mem_count; i++) {
        struct api_mem *e = &a->mem[i];
        struct api_peer_stats ps = { 0 };
        if (e->m.id == a->cfg.id)
            continue;
        if (a->cfg.host.peer_stats && a->cfg.host.peer_stats(e->m.id, &ps) &&
            ps.last_success_ns > e->contact_ns)
            e->contact_ns = ps.last_success_ns;
        if (e->contact_ns == 0 || !a->was_leader)
            e->contact_ns = now; /* first seen as leader */
        if (now - e->contact_ns <= delay_ns || a->autoremove_in_flight)
            continue;
        et_warn("admin: member %llx (%s) unreachable for more than removeDelay (%llu s): "
                "removing it from the cluster",
                (unsigned long long)e->m.id, e->m.name,
                (unsigned long long)(delay_ns / ET_NS_PER_SEC));
        struct api_autoremove *ar = et_calloc(1, sizeof(*ar));
        ar->api = a;
        ar->change =
            (struct raft_change){ .type = RAFT_CC_REMOVE, .id = e->m.id, .done = autoremove_done };
        a->autoremove_in_flight = true;
        e->contact_ns = now; /* if the removal fails, wait another removeDelay */
        if (raft_node_change(a->node, &ar->change) != 0)
            autoremove_done(&ar->change, -EAGAIN);
    }
    a->was_leader = true;
}

/*
 * Raft thread, leader: repair /_etcd/machines/<name> where the writes made while applying member
 * changes (api__apply_cluster) left it out of step with the table (a renamed member, a snapshot
 * from before those writes): written for members whose entry is missing or outdated, deleted for
 * names that left. The table is only written by this thread, so it is read here without the lock.
 */
void api__admin_tick(struct api *a)
{
    int64_t now = et_mono_ns();
    admin_remove_unreachable(a, now);
    for (size_t i = 0; i < a->mem_count; i++) {
        struct api_mem *e = &a->mem[i];
        const struct api_member *m = &e->m;
        if (e->machines_written || m->name[0] == '\0' || !e->published ||
            (e->machines_proposed_ns && now - e->machines_proposed_ns < ADMIN_RETRY_NS))
            continue;
        struct et_buf key = ET_BUF_INIT, val = ET_BUF_INIT;
        et_buf_append_str(&key, "/_etcd/machines/");
        et_buf_append_str(&key, m->name);
        api__machines_value(&val, m);
        propose_internal(a, STORE_OP_INTERNAL_SET, &key, &val, &e->machines_proposed_ns);
        et_buf_free(&key);
        et_buf_free(&val);
    }
    if (a->stale_count == 0 ||
        (a->stale_proposed_ns && now - a->stale_proposed_ns < ADMIN_RETRY_NS))
        return;
    for (size_t i = 0; i < a->stale_count; i++) {
        struct et_buf key = ET_BUF_INIT, val = ET_BUF_INIT;
        et_buf_append_str(&key, "/_etcd/machines/");
        et_buf_append_str(&key, a->stale[i]);
        propose_internal(a, STORE_OP_INTERNAL_DELETE, &key, &val, &a->stale_proposed_ns);
        et_buf_free(&key);
    }
}
