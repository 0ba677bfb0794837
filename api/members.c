/*
 * api/members.c - the cluster's membership as every member sees it: the member table (ID, name,
 * peer and client URLs), the IDs removed for good, and how they change through the Raft log.
 *
 * Three kinds of log entries change the table, and every member applies them in log order:
 *   - a configuration change (the core's RAFT_ENTRY_CONF_CHANGE) adds or removes a member; its
 *     context carries the new member's record (ID and peer URLs): api__members_conf_apply();
 *   - an attributes entry publishes a member's name and client URLs, proposed by that member
 *     itself when it starts (as etcd's publish): api__members_entry_apply();
 *   - an update entry changes a member's peer URLs (PUT /v2/members/<id>).
 * Member entries are normal entries whose first byte is API_MEMBER_TAG (0xc1, a byte that never
 * starts msgpack, so never a store command). Their encoding is the little format below (u32
 * counts and lengths, u64 IDs, little-endian), read with bounds checks.
 *
 * The table survives compaction in the snapshot: api_raft_snapshot_save() appends it after the
 * store image as a trailer (record | u32 length | magic), and loading splits it off again.
 *
 * Every change moves the etcd index as etcd 3.4's write of it under /0 does (an add: one create;
 * a removal: a delete and a create; a publish, which every member makes at every start: one set;
 * a peer URL update: one update; the cluster version, once: one set), so clients see the same
 * indexes: api__apply_cluster(). Where the change rewrites /_etcd/machines/<name> (a publish, an
 * update, a removal), that write is the step. The leader's tick (api/admin.c) repairs entries a
 * rename or an older snapshot left behind; the flags that say what is written are part of the
 * table and of the trailer, so a restart does not rewrite them.
 *
 * Threads: the Raft thread changes the table, holding a->mlock; reactors read it under the same
 * lock (membership endpoints only, never the /v2/keys path). The transport hears of every
 * change through the host's peer_set / peer_remove, on the Raft thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#define TRAILER_MAGIC     "ETMEMB01"
#define TRAILER_MAGIC_LEN 8u
#define MEMBER_URLS_MAX   64u
#define PUBLISH_RETRY_NS  (3 * ET_NS_PER_SEC)

/* ---- encoding ------------------------------------------------------------------------------ */

static void put_u32(struct et_buf *b, uint32_t v)
{
    unsigned char p[4];
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    et_buf_append(b, p, 4);
}

static void put_u64(struct et_buf *b, uint64_t v)
{
    unsigned char p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    et_buf_append(b, p, 8);
}

static void put_str(struct et_buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    et_buf_append(b, s, n);
}

struct rd {
    const unsigned char *p, *end;
    bool bad;
};

static uint64_t rd_int(struct rd *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->end - r->p < bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

static char *rd_str(struct rd *r)
{
    uint64_t n = rd_int(r, 4);
    if (r->bad || (uint64_t)(r->end - r->p) < n) {
        r->bad = true;
        return et_strdup("");
    }
    char *s = et_alloc(n + 1);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

static char **rd_strs(struct rd *r, size_t *count)
{
    uint64_t n = rd_int(r, 4);
    if (n > MEMBER_URLS_MAX)
        r->bad = true;
    if (r->bad)
        n = 0;
    char **v = et_calloc(n + 1, sizeof(char *));
    for (uint64_t i = 0; i < n; i++)
        v[i] = rd_str(r);
    *count = n;
    return v;
}

void api__member_encode(struct et_buf *b, const struct api_member *m)
{
    put_u64(b, m->id);
    put_str(b, m->name ? m->name : "");
    put_u32(b, (uint32_t)m->peer_url_count);
    for (size_t i = 0; i < m->peer_url_count; i++)
        put_str(b, m->peer_urls[i]);
    put_u32(b, (uint32_t)m->client_url_count);
    for (size_t i = 0; i < m->client_url_count; i++)
        put_str(b, m->client_urls[i]);
}

static void member_decode(struct rd *r, struct api_member *m)
{
    m->id = rd_int(r, 8);
    m->name = rd_str(r);
    m->peer_urls = rd_strs(r, &m->peer_url_count);
    m->client_urls = rd_strs(r, &m->client_url_count);
}

static char **strs_copy(char *const *v, size_t n)
{
    char **out = et_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = et_strdup(v[i]);
    return out;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        et_free(v[i]);
    et_free(v);
}

void api__member_copy(struct api_member *dst, const struct api_member *src)
{
    dst->id = src->id;
    dst->name = et_strdup(src->name ? src->name : "");
    dst->peer_url_count = src->peer_url_count;
    dst->peer_urls = strs_copy(src->peer_urls, src->peer_url_count);
    dst->client_url_count = src->client_url_count;
    dst->client_urls = strs_copy(src->client_urls, src->client_url_count);
}

void api__member_free(struct api_member *m)
{
    strs_free(m->peer_urls, m->peer_url_count);
    strs_free(m->client_urls, m->client_url_count);
    et_free(m->name);
    memset(m, 0, sizeof(*m));
}

static bool strs_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* ---- the table ----------------------------------------------------------------------------- */

static void table_clear(struct api *a)
{
    for (size_t i = 0; i < a->mem_count; i++)
        api__member_free(&a->mem[i].m);
    a->mem_count = 0;
    a->removed_count = 0;
    strs_free(a->stale, a->stale_count);
    a->stale = NULL;
    a->stale_count = 0;
}

struct api_mem *api__mem_find(struct api *a, raft_id id)
{
    for (size_t i = 0; i < a->mem_count; i++)
        if (a->mem[i].m.id == id)
            return &a->mem[i];
    return NULL;
}

bool api__mem_removed(struct api *a, raft_id id)
{
    for (size_t i = 0; i < a->removed_count; i++)
        if (a->removed[i] == id)
            return true;
    return false;
}

static struct api_mem *mem_add(struct api *a, raft_id id)
{
    if (a->mem_count == a->mem_cap) {
        a->mem_cap = a->mem_cap ? 2 * a->mem_cap : 8;
        a->mem = et_realloc(a->mem, a->mem_cap * sizeof(*a->mem));
    }
    struct api_mem *e = &a->mem[a->mem_count++];
    memset(e, 0, sizeof(*e));
    e->m.id = id;
    e->m.name = et_strdup("");
    e->m.peer_urls = et_calloc(1, sizeof(char *));
    e->m.client_urls = et_calloc(1, sizeof(char *));
    return e;
}

static void stale_push(struct api *a, const char *name)
{
    for (size_t i = 0; i < a->stale_count; i++)
        if (strcmp(a->stale[i], name) == 0)
            return;
    a->stale = et_realloc(a->stale, (a->stale_count + 2) * sizeof(char *));
    a->stale[a->stale_count++] = et_strdup(name);
    a->stale[a->stale_count] = NULL;
    a->stale_proposed_ns = 0;
}

static void removed_push(struct api *a, raft_id id)
{
    if (api__mem_removed(a, id))
        return;
    a->removed = et_realloc(a->removed, (a->removed_count + 1) * sizeof(*a->removed));
    a->removed[a->removed_count++] = id;
}

/* Tells the transport where @e is (never about this member itself). */
static void transport_set(struct api *a, const struct api_mem *e)
{
    if (e->m.id != a->cfg.id && e->m.peer_url_count && a->cfg.host.peer_set)
        a->cfg.host.peer_set(e->m.id, e->m.peer_urls[0]);
}

static void transport_remove(struct api *a, raft_id id)
{
    if (id != a->cfg.id && a->cfg.host.peer_remove)
        a->cfg.host.peer_remove(id);
}

void api__members_init(struct api *a, const struct api_config *cfg)
{
    pthread_mutex_init(&a->mlock, NULL);
    a->bootstrap_count = cfg->member_count;
    for (size_t i = 0; i < cfg->member_count; i++) {
        const struct api_member *src = &cfg->members[i];
        struct api_mem *e = mem_add(a, src->id);
        strs_free(e->m.peer_urls, 0);
        e->m.peer_url_count = src->peer_url_count;
        e->m.peer_urls = strs_copy(src->peer_urls, src->peer_url_count);
        et_free(e->m.name);
        e->m.name = et_strdup(src->name ? src->name : "");
        if (src->id == cfg->id) {
            /* What this member publishes (its client URLs are not in the table until the
             * attributes entry is applied, as on every other member). */
            a->self_client_url_count = src->client_url_count;
            a->self_client_urls = strs_copy(src->client_urls, src->client_url_count);
        }
        transport_set(a, e);
    }
    if (a->self_client_urls == NULL)
        a->self_client_urls = et_calloc(1, sizeof(char *));
}

void api__members_free(struct api *a)
{
    table_clear(a);
    et_free(a->mem);
    for (size_t i = 0; i < a->pending_count; i++)
        api__member_free(&a->pending[i]);
    et_free(a->pending);
    et_free(a->removed);
    strs_free(a->self_client_urls, a->self_client_url_count);
    pthread_mutex_destroy(&a->mlock);
}

bool api__members_registered(struct api *a)
{
    pthread_mutex_lock(&a->mlock);
    struct api_mem *e = api__mem_find(a, a->cfg.id);
    bool ok = e && __atomic_load_n(&a->self_published, __ATOMIC_ACQUIRE) && e->machines_written &&
              __atomic_load_n(&a->version_set, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&a->mlock);
    return ok;
}

bool api__members_published(struct api *a)
{
    return __atomic_load_n(&a->self_published, __ATOMIC_ACQUIRE);
}

/* ---- applying the log ---------------------------------------------------------------------- */

/* Forgets @id from the pending adds. Lock held. */
static void pending_drop(struct api *a, raft_id id)
{
    for (size_t i = 0; i < a->pending_count; i++) {
        if (a->pending[i].id == id) {
            api__member_free(&a->pending[i]);
            a->pending[i] = a->pending[--a->pending_count];
            return;
        }
    }
}

/*
 * An added member entered the log: the core replicates to it from now on (the configuration
 * takes effect on append), so the transport needs its address before the entry commits, and a
 * joining member must find itself in GET /etcetera/members (a cluster of one that adds a second
 * member needs that member's vote to commit the change).
 */
void api__members_conf_appended(struct api *a, const struct raft_conf_change *cc, const void *ctx,
                                size_t ctx_len)
{
    if (cc->type != RAFT_CC_ADD_VOTER && cc->type != RAFT_CC_ADD_LEARNER)
        return;
    struct api_member m = { 0 };
    struct rd r = { ctx, (const unsigned char *)ctx + ctx_len, false };
    member_decode(&r, &m);
    pthread_mutex_lock(&a->mlock);
    if (!r.bad && m.id == cc->id && m.peer_url_count && !api__mem_find(a, m.id)) {
        pending_drop(a, m.id);
        a->pending = et_realloc(a->pending, (a->pending_count + 1) * sizeof(*a->pending));
        a->pending[a->pending_count++] = m;
        if (m.id != a->cfg.id && a->cfg.host.peer_set)
            a->cfg.host.peer_set(m.id, m.peer_urls[0]);
        memset(&m, 0, sizeof(m));
    }
    pthread_mutex_unlock(&a->mlock);
    api__member_free(&m);
}

void api__members_conf_apply(struct api *a, raft_index index, const struct raft_conf_change *cc,
                             const void *ctx, size_t ctx_len, struct raft_change *c)
{
    (void)index;
    bool self_removed = false, added = false;
    char *removed_name = NULL;
    pthread_mutex_lock(&a->mlock);
    pending_drop(a, cc->id);
    struct api_mem *e = api__mem_find(a, cc->id);
    if (cc->type == RAFT_CC_ADD_VOTER || cc->type == RAFT_CC_ADD_LEARNER) {
        struct api_member m = { 0 };
        struct rd r = { ctx, (const unsigned char *)ctx + ctx_len, false };
        member_decode(&r, &m);
        if (r.bad || m.id != cc->id) {
            et_error("members: membership change for %" PRIx64 " carries no valid member "
                     "record; the member has no addresses",
                     cc->id);
        }
        if (e == NULL)
            e = mem_add(a, cc->id);
        if (!r.bad && m.peer_url_count) {
            strs_free(e->m.peer_urls, e->m.peer_url_count);
            e->m.peer_urls = strs_copy(m.peer_urls, m.peer_url_count);
            e->m.peer_url_count = m.peer_url_count;
            e->machines_written = false;
        }
        api__member_free(&m);
        transport_set(a, e);
        added = true;
        et_info("members: member %" PRIx64 " added (%s)", cc->id,
                e->m.peer_url_count ? e->m.peer_urls[0] : "no peer URL");
    } else if (cc->type == RAFT_CC_REMOVE) {
        if (e) {
            removed_name = et_strdup(e->m.name);
            api__member_free(&e->m);
            *e = a->mem[--a->mem_count];
        }
        removed_push(a, cc->id);
        transport_remove(a, cc->id);
        self_removed = cc->id == a->cfg.id;
        et_info("members: member %" PRIx64 " removed", cc->id);
    }
    pthread_mutex_unlock(&a->mlock);
    /* etcd 3.4 creates /0/members/<id>/raftAttributes for an added member; for a removed one it
     * deletes /0/members/<id> and creates /0/removed_members/<id> */
    if (added) {
        api__apply_cluster(a, STORE_OP_CREATE, NULL, NULL);
    } else if (cc->type == RAFT_CC_REMOVE) {
        api__apply_cluster(a, STORE_OP_DELETE, removed_name, NULL);
        api__apply_cluster(a, STORE_OP_CREATE, NULL, NULL);
    }
    et_free(removed_name);
    if (c)
        c->done(c, 1); /* the api's own change: 1 means "applied" (see api__member_change) */
    if (self_removed && a->cfg.host.removed)
        a->cfg.host.removed();
}

void api__members_entry_apply(struct api *a, const void *entry, size_t len, struct raft_proposal *p)
{
    struct rd r = { (const unsigned char *)entry + 1, (const unsigned char *)entry + len, false };
    uint8_t op = (uint8_t)rd_int(&r, 1);
    struct api_member m = { 0 };
    member_decode(&r, &m);
    int result = 1;
    char *name = NULL; /* whose /_etcd/machines entry the change rewrites */
    struct et_buf value = ET_BUF_INIT;
    pthread_mutex_lock(&a->mlock);
    struct api_mem *e = r.bad ? NULL : api__mem_find(a, m.id);
    uint64_t bootstrap = 0;
    if (!r.bad && op == API_MEMBER_VERSION) {
        e = NULL;
        bootstrap = r.p + 4 <= r.end ? rd_int(&r, 4) : 0;
        /* etcd writes the version only when it changes */
        result = __atomic_load_n(&a->version_set, __ATOMIC_RELAXED) ? 0 : 1;
        __atomic_store_n(&a->version_set, true, __ATOMIC_RELEASE);
    } else if (r.bad || (op != API_MEMBER_ATTR && op != API_MEMBER_UPDATE)) {
        et_error("members: malformed member entry (%zu bytes) skipped", len);
        result = -EINVAL;
    } else if (e == NULL) {
        result = -ENOENT; /* removed meanwhile */
    } else if (op == API_MEMBER_ATTR) {
        if (e->m.name[0] && strcmp(e->m.name, m.name) != 0)
            stale_push(a, e->m.name);
        if (strcmp(e->m.name, m.name) != 0 ||
            !strs_equal(e->m.client_urls, e->m.client_url_count, m.client_urls, m.client_url_count))
            e->machines_written = false;
        et_free(e->m.name);
        e->m.name = et_strdup(m.name);
        strs_free(e->m.client_urls, e->m.client_url_count);
        e->m.client_urls = strs_copy(m.client_urls, m.client_url_count);
        e->m.client_url_count = m.client_url_count;
        e->published = true;
        if (m.id == a->cfg.id && a->publish_sent_ns != 0 && /* published since this start */
            strs_equal(m.client_urls, m.client_url_count, a->self_client_urls,
                       a->self_client_url_count) &&
            strcmp(m.name, a->cfg.name) == 0)
            __atomic_store_n(&a->self_published, true, __ATOMIC_RELEASE);
    } else {
        strs_free(e->m.peer_urls, e->m.peer_url_count);
        e->m.peer_urls = strs_copy(m.peer_urls, m.peer_url_count);
        e->m.peer_url_count = m.peer_url_count;
        e->machines_written = false;
        transport_set(a, e);
    }
    if (e && result == 1) {
        name = et_strdup(e->m.name);
        api__machines_value(&value, &e->m);
    }
    pthread_mutex_unlock(&a->mlock);
    api__member_free(&m);
    /* etcd 3.4 sets /0/members/<id>/attributes when a member publishes, updates its
     * raftAttributes for new peer URLs and sets /0/version once the cluster's version is known.
     * Its bootstrap added the first members through the log (one create each); here they came
     * from the configuration, so the first version entry makes up for those steps. */
    for (uint64_t i = 0; result == 1 && i < bootstrap && i < RAFT_MEMBERS_MAX; i++)
        api__apply_cluster(a, STORE_OP_CREATE, NULL, NULL);
    if (result == 1)
        api__apply_cluster(a, op == API_MEMBER_UPDATE ? STORE_OP_UPDATE : STORE_OP_SET, name,
                           name ? &value : NULL);
    et_free(name);
    et_buf_free(&value);
    if (p)
        p->done(p, result); /* the api's own proposal: > 0 applied, < 0 refused */
}

/* Raft thread: an internal write under /_etcd/machines was applied. */
void api__members_machines_applied(struct api *a, const struct store_cmd *cmd)
{
    const char *name = cmd->key + 16;
    size_t len = cmd->key_len - 16;
    pthread_mutex_lock(&a->mlock);
    if (cmd->op == STORE_OP_INTERNAL_SET) {
        bool owned = false;
        for (size_t i = 0; i < a->mem_count; i++)
            owned |= strlen(a->mem[i].m.name) == len && memcmp(a->mem[i].m.name, name, len) == 0;
        if (!owned) { /* a write that landed after its member left or was renamed */
            char *n = et_alloc(len + 1);
            memcpy(n, name, len);
            n[len] = '\0';
            stale_push(a, n);
            et_free(n);
        }
        for (size_t i = 0; i < a->mem_count; i++) {
            struct api_mem *e = &a->mem[i];
            if (strlen(e->m.name) != len || memcmp(e->m.name, name, len) != 0)
                continue;
            /* written with the member's current values (not an older write landing late)? */
            struct et_buf want = ET_BUF_INIT;
            api__machines_value(&want, &e->m);
            if (want.len == cmd->value_len && memcmp(want.data, cmd->value, want.len) == 0)
                e->machines_written = true;
            e->machines_proposed_ns = 0;
            et_buf_free(&want);
        }
    } else {
        for (size_t i = 0; i < a->stale_count; i++) {
            if (strlen(a->stale[i]) == len && memcmp(a->stale[i], name, len) == 0) {
                et_free(a->stale[i]);
                a->stale[i] = a->stale[--a->stale_count];
                a->stale[a->stale_count] = NULL;
                a->stale_proposed_ns = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&a->mlock);
}

/* ---- publishing this member's attributes (every member, on its Raft thread) ----------------- */

struct api_publish {
    struct raft_proposal proposal;
    struct et_buf entry;
    struct api *api;
};

static void publish_done(struct raft_proposal *p, int err)
{
    struct api_publish *pub = (struct api_publish *)p;
    (void)err; /* applied or not: the next tick looks at the table again */
    __atomic_store_n(&pub->api->publish_in_flight, false, __ATOMIC_RELEASE);
    et_buf_free(&pub->entry);
    et_free(pub);
}

void api__members_tick(struct api *a)
{
    int64_t now = et_mono_ns();
    if (__atomic_load_n(&a->self_published, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&a->publish_in_flight, __ATOMIC_ACQUIRE))
        return;
    if (now - a->publish_sent_ns < PUBLISH_RETRY_NS / 10)
        return;
    pthread_mutex_lock(&a->mlock);
    bool member = api__mem_find(a, a->cfg.id) != NULL;
    pthread_mutex_unlock(&a->mlock);
    if (!member)
        return; /* removed, or not added yet: nothing to publish */
    struct api_publish *pub = et_calloc(1, sizeof(*pub));
    struct api_member m = { .id = a->cfg.id,
                            .name = (char *)a->cfg.name,
                            .client_urls = a->self_client_urls,
                            .client_url_count = a->self_client_url_count };
    pub->api = a;
    et_buf_append_char(&pub->entry, (char)API_MEMBER_TAG);
    et_buf_append_char(&pub->entry, API_MEMBER_ATTR);
    api__member_encode(&pub->entry, &m);
    pub->proposal = (struct raft_proposal){ .data = pub->entry.data,
                                            .len = pub->entry.len,
                                            .done = publish_done };
    a->publish_sent_ns = now;
    __atomic_store_n(&a->publish_in_flight, true, __ATOMIC_RELEASE);
    if (raft_node_propose(a->node, &pub->proposal) != 0)
        publish_done(&pub->proposal, -EAGAIN);
}

struct api_version_prop {
    struct raft_proposal proposal;
    struct et_buf entry;
};

static void version_done(struct raft_proposal *p, int err)
{
    struct api_version_prop *v = (struct api_version_prop *)p;
    (void)err; /* applied or not: the next tick looks again */
    et_buf_free(&v->entry);
    et_free(v);
}

/*
 * etcd's leader writes the cluster version once every member reports one (it asks each over the
 * peer port); here, once every member has published its attributes. One index step, once, plus
 * one per bootstrap member (see api__members_entry_apply); the entry carries that count, so
 * every member applies the same steps.
 */
void api__members_version_tick(struct api *a)
{
    int64_t now = et_mono_ns();
    if (__atomic_load_n(&a->version_set, __ATOMIC_ACQUIRE) ||
        (a->version_sent_ns && now - a->version_sent_ns < PUBLISH_RETRY_NS))
        return;
    pthread_mutex_lock(&a->mlock);
    bool all = a->mem_count > 0 && a->pending_count == 0;
    for (size_t i = 0; i < a->mem_count; i++)
        all &= a->mem[i].published;
    pthread_mutex_unlock(&a->mlock);
    if (!all)
        return;
    struct api_version_prop *v = et_calloc(1, sizeof(*v));
    struct api_member m = { .id = a->cfg.id, .name = (char *)"" };
    et_buf_append_char(&v->entry, (char)API_MEMBER_TAG);
    et_buf_append_char(&v->entry, API_MEMBER_VERSION);
    api__member_encode(&v->entry, &m);
    put_u32(&v->entry, (uint32_t)a->bootstrap_count);
    v->proposal =
        (struct raft_proposal){ .data = v->entry.data, .len = v->entry.len, .done = version_done };
    a->version_sent_ns = now;
    if (raft_node_propose(a->node, &v->proposal) != 0)
        version_done(&v->proposal, -EAGAIN);
}

/* ---- the snapshot trailer ---------------------------------------------------------------- */

void api__members_save(struct api *a, struct et_buf *out)
{
    size_t start = out->len;
    pthread_mutex_lock(&a->mlock);
    put_u32(out, (uint32_t)a->mem_count);
    for (size_t i = 0; i < a->mem_count; i++) {
        api__member_encode(out, &a->mem[i].m);
        et_buf_append_char(out, (char)(a->mem[i].machines_written | a->mem[i].published << 1));
    }
    put_u32(out, (uint32_t)a->removed_count);
    for (size_t i = 0; i < a->removed_count; i++)
        put_u64(out, a->removed[i]);
    put_u32(out, (uint32_t)a->stale_count);
    for (size_t i = 0; i < a->stale_count; i++)
        put_str(out, a->stale[i]);
    put_u32(out, __atomic_load_n(&a->version_set, __ATOMIC_RELAXED) ? 1u : 0u); /* flags */
    pthread_mutex_unlock(&a->mlock);
    put_u32(out, (uint32_t)(out->len - start));
    et_buf_append(out, TRAILER_MAGIC, TRAILER_MAGIC_LEN);
}

size_t api__members_load(struct api *a, const void *p, size_t len)
{
    const unsigned char *b = p;
    if (len < 4 + TRAILER_MAGIC_LEN ||
        memcmp(b + len - TRAILER_MAGIC_LEN, TRAILER_MAGIC, TRAILER_MAGIC_LEN) != 0)
        return len; /* no trailer: an image from before membership was replicated */
    struct rd lr = { b + len - TRAILER_MAGIC_LEN - 4, b + len - TRAILER_MAGIC_LEN, false };
    uint64_t tlen = rd_int(&lr, 4);
    if (tlen > len - 4 - TRAILER_MAGIC_LEN)
        return SIZE_MAX;
    size_t tstart = len - TRAILER_MAGIC_LEN - 4 - tlen;
    struct rd r = { b + tstart, b + tstart + tlen, false };
    pthread_mutex_lock(&a->mlock);
    raft_id *old = et_calloc(a->mem_count + 1, sizeof(*old));
    size_t old_count = a->mem_count;
    for (size_t i = 0; i < old_count; i++)
        old[i] = a->mem[i].m.id;
    table_clear(a);
    uint64_t n = rd_int(&r, 4);
    for (uint64_t i = 0; i < n && !r.bad && i < RAFT_MEMBERS_MAX * 4; i++) {
        struct api_member m = { 0 };
        member_decode(&r, &m);
        uint8_t flags = (uint8_t)rd_int(&r, 1);
        struct api_mem *e = mem_add(a, m.id);
        api__member_free(&e->m);
        e->m = m;
        e->machines_written = flags & 1;
        e->published = flags >> 1 & 1;
    }
    n = rd_int(&r, 4);
    for (uint64_t i = 0; i < n && !r.bad && i < 1u << 16; i++)
        removed_push(a, rd_int(&r, 8));
    n = rd_int(&r, 4);
    for (uint64_t i = 0; i < n && !r.bad && i < 1u << 16; i++) {
        char *s = rd_str(&r);
        stale_push(a, s);
        et_free(s);
    }
    uint64_t flags = r.p < r.end ? rd_int(&r, 4) : 0; /* absent in trailers before the version */
    __atomic_store_n(&a->version_set, (flags & 1) != 0, __ATOMIC_RELEASE);
    bool published = false;
    struct api_mem *self = api__mem_find(a, a->cfg.id);
    if (self && self->published && a->publish_sent_ns != 0 &&
        strcmp(self->m.name, a->cfg.name) == 0 &&
        strs_equal(self->m.client_urls, self->m.client_url_count, a->self_client_urls,
                   a->self_client_url_count))
        published = true;
    __atomic_store_n(&a->self_published, published, __ATOMIC_RELEASE);
    for (size_t i = 0; i < old_count; i++)
        if (api__mem_find(a, old[i]) == NULL)
            transport_remove(a, old[i]);
    for (size_t i = 0; i < a->mem_count; i++)
        transport_set(a, &a->mem[i]);
    pthread_mutex_unlock(&a->mlock);
    et_free(old);
    return r.bad ? SIZE_MAX : tstart;
}

void api_members_text(struct api *a, struct et_buf *out)
{
    pthread_mutex_lock(&a->mlock);
    for (size_t i = 0; i < a->mem_count; i++) {
        const struct api_member *m = &a->mem[i].m;
        et_buf_printf(out, "%" PRIx64 " %s ", m->id, m->name[0] ? m->name : "-");
        for (size_t j = 0; j < m->peer_url_count; j++)
            et_buf_printf(out, "%s%s", j ? "," : "", m->peer_urls[j]);
        et_buf_append_char(out, '\n');
    }
    for (size_t i = 0; i < a->pending_count; i++) { /* added, not committed yet */
        const struct api_member *m = &a->pending[i];
        et_buf_printf(out, "%" PRIx64 " - ", m->id);
        for (size_t j = 0; j < m->peer_url_count; j++)
            et_buf_printf(out, "%s%s", j ? "," : "", m->peer_urls[j]);
        et_buf_append_char(out, '\n');
    }
    pthread_mutex_unlock(&a->mlock);
}

bool api_member_removed(struct api *a, raft_id id)
{
    pthread_mutex_lock(&a->mlock);
    bool gone = api__mem_removed(a, id);
    pthread_mutex_unlock(&a->mlock);
    return gone;
}
