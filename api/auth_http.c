/*
 * api/auth_http.c - the /v2/auth endpoints, the permission checks etcd 3.4 applies to
 * /v2/keys and to member changes, and the replication of the auth state (spec/auth.md).
 *
 *   GET/PUT/DELETE /v2/auth/enable           status / enable / disable
 *   GET            /v2/auth/users[/]         every user with its roles
 *   GET/PUT/DELETE /v2/auth/users/<name>
 *   GET            /v2/auth/roles[/]         every role, root included
 *   GET/PUT/DELETE /v2/auth/roles/<name>
 *
 * Replication: a PUT or DELETE becomes an auth command (api/auth.h) proposed through Raft as an
 * entry of its own kind (AUTH_CMD_MAGIC: never a store command); every member applies it to its
 * auth state on the Raft thread (api__auth_apply) and the member that proposed it answers the
 * client with the result computed there. Snapshots carry the state in front of the store's
 * (api__auth_snapshot_save/load), so it survives restarts and reaches new members. The state is
 * kept out of the key space on purpose: nothing a client can read or watch through /v2/keys
 * (listings, waitIndex history scans of "/") can reach a password hash.
 *
 * Passwords: bcrypt through libxcrypt's crypt(3) ("$2b$", cost 10 as etcd's v2 auth). Checking
 * a bcrypt hash costs about 50 ms of CPU, which etcd pays on every authenticated request. A
 * reactor cannot pay it (every connection of the reactor would wait), so:
 *   - the outcome of a check is remembered under SHA-256(hash || password) in a small cache (a
 *     new hash after a password change never matches an old entry);
 *   - a request whose credentials are not in the cache, and a user PUT that must hash a new
 *     password, are handed to one worker thread ("auth-bcrypt"). When the worker is done, the
 *     request runs again from the start on its reactor (api__route_again) with the result at
 *     hand, so no handler ever waits and none runs twice past its checks;
 *   - the credentials of a request are looked up once, at the start of its route
 *     (api__auth_defer); its handler takes the outcome from @known.
 *
 * Threads: handlers and checks run on reactors under the read side of @lock; the Raft thread
 * takes the write side to apply commands and snapshots. @enabled mirrors st.enabled so that
 * requests pay nothing while auth is off. The worker takes only @work_lock (its queue, held
 * briefly by the reactors that fill it) and @cache_lock; a job's request pointer belongs to
 * the reactor (its guard clears it there), the worker fills in the result alone.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "api/params.h"
#include "core/alloc.h"
#include "core/ascii.h"
#include "core/ecode.h"
#include "core/json.h"
#include "core/log.h"

#define AUTH_BCRYPT_COST 10
#define AUTH_CACHE_MAX   64 /* remembered successful password checks */

enum cache_state {
    CACHE_UNUSED,
    CACHE_GOOD, /* the password matched the hash */
    CACHE_BAD,  /* it did not (a client retrying a wrong password costs one bcrypt check) */
};

/* bcrypt work for the worker thread: check a password against a hash, or hash a new one. */
enum job_kind {
    JOB_CHECK,
    JOB_HASH
};

struct auth_job {
    struct et_msg msg; /* back to the request's reactor */
    struct auth_job *next;
    struct api *api;
    struct api_reactor *reactor;
    h2o_req_t *req; /* NULL once the request went away */
    struct api_guard *guard;
    uint8_t kind;   /* enum job_kind */
    bool done;      /* the worker ran it (else it stopped first) */
    char *password; /* the password to check or hash */
    char *hash;     /* JOB_CHECK: the user's hash; JOB_HASH: the result, NULL on failure */
    unsigned char digest[32]; /* JOB_CHECK: cache key */
    int state;                /* JOB_CHECK: CACHE_GOOD or CACHE_BAD */
};

struct api_auth {
    pthread_rwlock_t lock;
    struct auth_state st; /* under @lock; written by the Raft thread only */
    bool enabled;         /* atomic mirror of st.enabled */
    pthread_mutex_t cache_lock;
    unsigned char cache[AUTH_CACHE_MAX][32]; /* SHA-256(hash || 0 || password) */
    uint8_t cache_state[AUTH_CACHE_MAX];     /* enum cache_state */
    unsigned cache_next;
    /* the bcrypt worker, started on first use */
    pthread_mutex_t work_lock;
    pthread_cond_t work_cv;
    struct auth_job *work_head, **work_tail;
    pthread_t worker;
    bool worker_running, worker_stop;
};

/*
 * Reactor: what api__auth_defer() found out about the credentials of the request being routed.
 * It is written at the start of every client request's route, before any handler runs, so a
 * handler never sees another request's; a request routed again after a job carries that job.
 */
static __thread struct {
    const h2o_req_t *req;
    int state;                  /* CACHE_GOOD, CACHE_BAD, or CACHE_UNUSED: not known */
    const struct auth_job *job; /* the worker's job for this request, while it runs again */
} known;

static void worker_stop(struct api_auth *au);

void api__auth_init(struct api *a)
{
    struct api_auth *au = et_calloc(1, sizeof(*au));
    ET_ASSERT(pthread_rwlock_init(&au->lock, NULL) == 0);
    ET_ASSERT(pthread_mutex_init(&au->cache_lock, NULL) == 0);
    ET_ASSERT(pthread_mutex_init(&au->work_lock, NULL) == 0);
    ET_ASSERT(pthread_cond_init(&au->work_cv, NULL) == 0);
    au->work_tail = &au->work_head;
    auth_state_init(&au->st);
    a->auth = au;
}

void api__auth_free(struct api *a)
{
    struct api_auth *au = a->auth;
    if (au == NULL)
        return;
    worker_stop(au);
    auth_state_free(&au->st);
    pthread_rwlock_destroy(&au->lock);
    pthread_mutex_destroy(&au->cache_lock);
    pthread_mutex_destroy(&au->work_lock);
    pthread_cond_destroy(&au->work_cv);
    et_free(au);
    a->auth = NULL;
}

static bool auth_on(struct api *a)
{
    return __atomic_load_n(&a->auth->enabled, __ATOMIC_ACQUIRE);
}

/* ---- passwords ------------------------------------------------------------------------------ */

static void cache_digest(const char *hash, const char *password, unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    ET_ASSERT(ctx != NULL);
    ET_ASSERT(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
    EVP_DigestUpdate(ctx, hash, strlen(hash) + 1);
    EVP_DigestUpdate(ctx, password, strlen(password));
    ET_ASSERT(EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32);
    EVP_MD_CTX_free(ctx);
}

/* Returns a new crypt(3) bcrypt hash of @password, or NULL (logged) when hashing fails. */
static char *password_hash(const char *password)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", AUTH_BCRYPT_COST, NULL, 0, setting, sizeof(setting)) == NULL) {
        et_error("auth: crypt_gensalt failed: %s", strerror(errno));
        return NULL;
    }
    struct crypt_data *cd = et_calloc(1, sizeof(*cd));
    char *h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
    char *out = h && h[0] != '*' ? et_strdup(h) : NULL;
    if (out == NULL)
        et_error("auth: bcrypt hashing failed");
    explicit_bzero(cd, sizeof(*cd));
    et_free(cd);
    return out;
}

/* The hash of user @name (new), or NULL when it has none or does not exist. */
static char *user_hash(struct api_auth *au, const char *name)
{
    char *hash = NULL;
    pthread_rwlock_rdlock(&au->lock);
    const struct auth_user *u = auth_user_find(&au->st, name, strlen(name));
    if (u && u->hash[0])
        hash = et_strdup(u->hash);
    pthread_rwlock_unlock(&au->lock);
    return hash;
}

/* The remembered outcome for cache key @d, or CACHE_UNUSED. */
static int cache_lookup(struct api_auth *au, const unsigned char d[32])
{
    int state = CACHE_UNUSED;
    pthread_mutex_lock(&au->cache_lock);
    for (unsigned i = 0; i < AUTH_CACHE_MAX && state == CACHE_UNUSED; i++)
        if (au->cache_state[i] != CACHE_UNUSED && memcmp(au->cache[i], d, 32) == 0)
            state = au->cache_state[i];
    pthread_mutex_unlock(&au->cache_lock);
    return state;
}

/* The slow part: bcrypt @password against @hash and remember the outcome. Thread: any. */
static int check_and_remember(struct api_auth *au, const char *hash, const char *password,
                              const unsigned char d[32])
{
    struct crypt_data *cd = et_calloc(1, sizeof(*cd));
    const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    size_t n = strlen(hash);
    int state =
        h != NULL && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0 ? CACHE_GOOD : CACHE_BAD;
    explicit_bzero(cd, sizeof(*cd));
    et_free(cd);
    pthread_mutex_lock(&au->cache_lock);
    memcpy(au->cache[au->cache_next], d, 32);
    au->cache_state[au->cache_next] = (uint8_t)state;
    au->cache_next = (au->cache_next + 1) % AUTH_CACHE_MAX;
    pthread_mutex_unlock(&au->cache_lock);
    return state;
}

/*
 * True when @password is the password of user @name (as the state is now). Only for credentials
 * api__auth_defer() could not settle: auth turned on while the request was being routed, or the
 * worker is stopping or could not start. A miss in the cache is checked here, on the calling
 * thread.
 */
static bool password_ok(struct api_auth *au, const char *name, const char *password)
{
    char *hash = user_hash(au, name);
    if (hash == NULL)
        return false;
    unsigned char d[32];
    cache_digest(hash, password, d);
    int state = cache_lookup(au, d);
    if (state == CACHE_UNUSED)
        state = check_and_remember(au, hash, password, d);
    bool ok = state == CACHE_GOOD;
    explicit_bzero(d, sizeof(d));
    et_free(hash);
    return ok;
}

/* The Authorization header's value (NULL when absent or empty: Go's Header.Get == ""). */
static const h2o_iovec_t *authorization(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0 || req->headers.entries[i].value.len == 0)
        return NULL;
    return &req->headers.entries[i].value;
}

/* ---- the bcrypt worker ---------------------------------------------------------------------- */

static void job_free(struct auth_job *j)
{
    if (j->password) {
        explicit_bzero(j->password, strlen(j->password));
        et_free(j->password);
    }
    et_free(j->hash);
    et_free(j);
}

/* Reactor: the worker is done with @j; the request (if still there) runs again from the start. */
static void job_finished(struct et_msg *m)
{
    struct auth_job *j = (struct auth_job *)((char *)m - offsetof(struct auth_job, msg));
    h2o_req_t *req = j->req;
    if (req) {
        api__unguard(&j->guard);
        if (!j->done) {
            api__send_message(req, 500, "etcdserver: server stopped", false, true);
        } else {
            known.req = req;
            known.job = j;
            api__route_again(j->api, req);
            known.req = NULL;
            known.job = NULL;
        }
    }
    job_free(j);
}

static void job_post(struct auth_job *j)
{
    j->msg.fn = job_finished;
    j->api->cfg.host.post(j->reactor->handle, &j->msg);
}

static void *worker_main(void *arg)
{
    struct api_auth *au = arg;
    pthread_setname_np(pthread_self(), "auth-bcrypt");
    pthread_mutex_lock(&au->work_lock);
    for (;;) {
        while (au->work_head == NULL && !au->worker_stop)
            pthread_cond_wait(&au->work_cv, &au->work_lock);
        struct auth_job *j = au->work_head;
        if (j == NULL)
            break; /* stopping, nothing left */
        if ((au->work_head = j->next) == NULL)
            au->work_tail = &au->work_head;
        if (!au->worker_stop) {
            pthread_mutex_unlock(&au->work_lock);
            if (j->kind == JOB_CHECK)
                j->state = check_and_remember(au, j->hash, j->password, j->digest);
            else
                j->hash = password_hash(j->password);
            j->done = true;
            pthread_mutex_lock(&au->work_lock);
        }
        job_post(j); /* a job left when stopping goes back undone */
    }
    pthread_mutex_unlock(&au->work_lock);
    return NULL;
}

static void worker_stop(struct api_auth *au)
{
    pthread_mutex_lock(&au->work_lock);
    bool running = au->worker_running;
    au->worker_stop = true;
    pthread_cond_signal(&au->work_cv);
    pthread_mutex_unlock(&au->work_lock);
    if (running)
        pthread_join(au->worker, NULL);
    au->worker_running = false;
}

/*
 * Reactor: hands @j to the worker; the request waits for job_finished(). False when the worker
 * is stopped or cannot start (the caller then does the work itself); @j is then freed.
 */
static bool job_submit(struct api *a, h2o_req_t *req, struct auth_job *j)
{
    struct api_auth *au = a->auth;
    bool ok = !__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE);
    j->api = a;
    j->reactor = api__reactor(a);
    j->req = req;
    pthread_mutex_lock(&au->work_lock);
    ok = ok && !au->worker_stop;
    if (ok && !au->worker_running) {
        ok = pthread_create(&au->worker, NULL, worker_main, au) == 0;
        au->worker_running = ok;
        if (!ok)
            et_warn("auth: no bcrypt worker thread: passwords are checked on the reactors");
    }
    if (ok) {
        api__guard(req, (void **)&j->req, &j->guard);
        *au->work_tail = j;
        au->work_tail = &j->next;
        pthread_cond_signal(&au->work_cv);
    }
    pthread_mutex_unlock(&au->work_lock);
    if (!ok)
        job_free(j);
    return ok;
}

void api__auth_stop(struct api *a)
{
    if (a->auth)
        worker_stop(a->auth);
}

bool api__auth_defer(struct api *a, h2o_req_t *req)
{
    struct api_auth *au = a->auth;
    const struct auth_job *job = known.req == req ? known.job : NULL; /* set by job_finished */
    known.req = req;
    known.job = job;
    known.state = job && job->kind == JOB_CHECK ? job->state : CACHE_UNUSED;

    const h2o_iovec_t *hdr;
    char *user = NULL, *password = NULL;
    if (known.state != CACHE_UNUSED || !auth_on(a) || (hdr = authorization(req)) == NULL ||
        auth_basic_parse(hdr->base, hdr->len, &user, &password) != 0)
        return false; /* a header that does not parse fails in the handler, as before */
    char *hash = user_hash(au, user);
    et_free(user);
    unsigned char d[32];
    if (hash == NULL) {
        known.state = CACHE_BAD; /* no such user, or one without a password */
    } else {
        cache_digest(hash, password, d);
        known.state = cache_lookup(au, d);
    }
    if (known.state != CACHE_UNUSED) {
        et_free(hash);
        explicit_bzero(password, strlen(password));
        et_free(password);
        return false;
    }
    struct auth_job *j = et_calloc(1, sizeof(*j));
    memcpy(j->digest, d, sizeof(d));
    j->kind = JOB_CHECK;
    j->hash = hash;
    j->password = password;
    return job_submit(a, req, j); /* false: the handler checks it itself (password_ok) */
}

/* ---- who is asking -------------------------------------------------------------------------- */

/* @req's Basic credentials (@hdr) when they name a user and carry its password: the name (new),
 * else NULL. The outcome api__auth_defer() found for them is used when there is one. */
static char *authenticate(struct api *a, h2o_req_t *req, const h2o_iovec_t *hdr)
{
    char *user = NULL, *password = NULL;
    if (auth_basic_parse(hdr->base, hdr->len, &user, &password) != 0)
        return NULL;
    bool ok = known.req == req && known.state != CACHE_UNUSED
                  ? known.state == CACHE_GOOD
                  : password_ok(a->auth, user, password);
    explicit_bzero(password, strlen(password));
    et_free(password);
    if (!ok) {
        et_free(user);
        return NULL;
    }
    return user;
}

/* hasRootAccess: auth off, or Basic credentials of a user holding the root role. */
static bool root_access(struct api *a, h2o_req_t *req)
{
    if (!auth_on(a))
        return true;
    const h2o_iovec_t *hdr = authorization(req);
    char *name = hdr ? authenticate(a, req, hdr) : NULL;
    if (name == NULL)
        return false;
    struct api_auth *au = a->auth;
    pthread_rwlock_rdlock(&au->lock);
    const struct auth_user *u = auth_user_find(&au->st, name, strlen(name));
    bool ok = !au->st.enabled || (u && auth_user_is_root(u));
    pthread_rwlock_unlock(&au->lock);
    et_free(name);
    return ok;
}

static void send_no_auth(h2o_req_t *req)
{
    api__send_message(req, 401, "Insufficient credentials", false, false);
}

/* ---- /v2/keys ------------------------------------------------------------------------------- */

/* The key etcd checks: the decoded path after /v2/keys with its trailing slash (spec 3.1). */
static void raw_key(h2o_req_t *req, const char *key, size_t key_len, struct et_buf *out)
{
    size_t n = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    const char *p = req->input.path.base;
    bool slash = (n >= 1 && p[n - 1] == '/') ||
                 (n >= 3 && p[n - 3] == '%' && p[n - 2] == '2' && (p[n - 1] | 0x20) == 'f');
    if (key_len == 1 && key[0] == '/') {
        if (slash)
            et_buf_append_char(out, '/');
        return;
    }
    et_buf_append(out, key, key_len);
    if (slash)
        et_buf_append_char(out, '/');
}

bool api__auth_keys(struct api *a, h2o_req_t *req, const char *key, size_t key_len, bool recursive)
{
    if (!auth_on(a))
        return true;
    struct api_auth *au = a->auth;
    struct et_buf k = ET_BUF_INIT;
    bool write = !api__method_is(req, "GET") && !api__method_is(req, "HEAD");
    const h2o_iovec_t *hdr = authorization(req);
    char *name = NULL;
    bool ok = false;

    raw_key(req, key, key_len, &k);
    if (hdr && (name = authenticate(a, req, hdr)) == NULL)
        goto out; /* bad credentials never fall back to the guest role */
    pthread_rwlock_rdlock(&au->lock);
    const struct auth_user *u = name ? auth_user_find(&au->st, name, strlen(name)) : NULL;
    if (name == NULL || u != NULL)
        ok = auth_key_allowed(&au->st, u, k.data ? k.data : "", k.len, recursive, write);
    pthread_rwlock_unlock(&au->lock);
out:
    if (!ok) {
        static const char cause[] = "Insufficient credentials";
        api__send_v2_error(a, req, ET_E_UNAUTHORIZED, cause, sizeof(cause) - 1, 0);
    }
    et_free(name);
    et_buf_free(&k);
    return ok;
}

/* ---- proposals ------------------------------------------------------------------------------ */

struct auth_prop {
    struct raft_proposal proposal;
    struct et_msg msg;
    struct api *api;
    struct api_reactor *reactor;
    h2o_req_t *req; /* NULL once the request went away */
    struct api_guard *guard;
    struct et_buf entry;
    struct et_buf body; /* the answer (JSON) or the error message */
    int status;
    int err; /* 0 or the node's negative errno */
};

static void send_json(struct api *a, h2o_req_t *req, int status, const char *body, size_t len)
{
    char *copy = h2o_mem_alloc_pool(&req->pool, len ? len : 1);
    if (len)
        memcpy(copy, body, len);
    api__cors(req);
    api__header(req, "X-Etcd-Cluster-Id", a->cluster_hex, strlen(a->cluster_hex));
    api__send(req, status, "application/json", copy, len);
}

static void prop_free(struct auth_prop *ap)
{
    et_buf_free(&ap->entry);
    et_buf_free(&ap->body);
    et_free(ap);
}

/* Reactor: answer the client with what the Raft thread produced. */
static void prop_complete(struct et_msg *m)
{
    struct auth_prop *ap = (struct auth_prop *)((char *)m - offsetof(struct auth_prop, msg));
    h2o_req_t *req = ap->req;
    if (req) {
        api__unguard(&ap->guard); /* the request is alive, so is its guard */
        if (ap->err) {
            const char *msg = ap->err == -ETIMEDOUT ? "etcdserver: request timed out"
                                                    : "etcdserver: server stopped";
            api__send_message(req, 500, msg, false, true);
        } else if (ap->status >= 400) {
            api__send_message(req, ap->status, ap->body.data ? ap->body.data : "", false, true);
        } else {
            send_json(ap->api, req, ap->status, ap->body.data, ap->body.len);
        }
    }
    prop_free(ap);
}

static void prop_post(struct auth_prop *ap)
{
    ap->msg.fn = prop_complete;
    if (ap->reactor->handle)
        ap->api->cfg.host.post(ap->reactor->handle, &ap->msg);
    else
        prop_complete(&ap->msg); /* no reactor running: no client to answer */
}

/* Raft thread: the proposal was not committed. */
static void prop_failed(struct raft_proposal *p, int err)
{
    struct auth_prop *ap = (struct auth_prop *)p;
    ap->err = err ? err : -ECANCELED;
    prop_post(ap);
}

static void propose(struct api *a, h2o_req_t *req, const struct auth_cmd *c)
{
    struct auth_prop *ap = et_calloc(1, sizeof(*ap));
    ap->api = a;
    ap->reactor = api__reactor(a);
    ap->req = req;
    auth_cmd_encode(c, &ap->entry);
    ap->proposal =
        (struct raft_proposal){ .data = ap->entry.data, .len = ap->entry.len, .done = prop_failed };
    api__guard(req, (void **)&ap->req, &ap->guard);
    if (__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE) ||
        raft_node_propose(a->node, &ap->proposal) != 0) {
        ap->err = -ECANCELED;
        prop_complete(&ap->msg);
    }
}

bool api__auth_apply(struct api *a, const void *entry, size_t len, struct raft_proposal *p)
{
    if (len < AUTH_CMD_MAGIC_LEN || memcmp(entry, AUTH_CMD_MAGIC, AUTH_CMD_MAGIC_LEN) != 0)
        return false;
    struct api_auth *au = a->auth;
    struct auth_prop *ap = p && p->done == prop_failed ? (struct auth_prop *)p : NULL;
    struct auth_cmd c;
    struct et_buf body = ET_BUF_INIT;
    int status;

    if (auth_cmd_decode(entry, len, &c) != 0) {
        et_error("apply: a malformed auth command (%zu bytes) was skipped", len);
        status = 500;
        et_buf_append_str(&body, "auth: malformed command");
    } else {
        pthread_rwlock_wrlock(&au->lock);
        status = auth_apply(&au->st, &c, &body);
        __atomic_store_n(&au->enabled, au->st.enabled, __ATOMIC_RELEASE);
        pthread_rwlock_unlock(&au->lock);
        auth_cmd_free(&c);
    }
    if (ap) {
        ap->status = status;
        ap->body = body;
        prop_post(ap);
    } else {
        et_buf_free(&body);
    }
    return true;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

void api__auth_snapshot_save(struct api *a, struct et_buf *out)
{
    struct api_auth *au = a->auth;
    pthread_rwlock_rdlock(&au->lock);
    if (!auth_state_empty(&au->st))
        auth_state_encode(&au->st, out);
    pthread_rwlock_unlock(&au->lock);
}

int api__auth_snapshot_load(struct api *a, const void *p, size_t len, size_t *used)
{
    struct api_auth *au = a->auth;
    int rc = 0;
    *used = 0;
    pthread_rwlock_wrlock(&au->lock);
    if (len >= AUTH_SNAP_MAGIC_LEN && memcmp(p, AUTH_SNAP_MAGIC, AUTH_SNAP_MAGIC_LEN) == 0)
        rc = auth_state_decode(&au->st, p, len, used);
    else
        auth_state_free(&au->st); /* a snapshot without auth state: nothing configured */
    __atomic_store_n(&au->enabled, au->st.enabled, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&au->lock);
    return rc;
}

/* ---- the endpoints -------------------------------------------------------------------------- */

static bool allow(h2o_req_t *req, bool put_delete)
{
    if (api__method_is(req, "GET") ||
        (put_delete && (api__method_is(req, "PUT") || api__method_is(req, "DELETE"))))
        return true;
    api__send_405(req, put_delete ? "GET,PUT,DELETE" : "GET");
    return false;
}

static void enable_disable(struct api *a, h2o_req_t *req)
{
    if (!allow(req, true))
        return;
    if (!api__method_is(req, "GET") && !root_access(a, req)) {
        send_no_auth(req);
        return;
    }
    if (api__method_is(req, "GET")) {
        const char *body = auth_on(a) ? "{\"enabled\":true}\n" : "{\"enabled\":false}\n";
        send_json(a, req, 200, body, strlen(body));
        return;
    }
    struct auth_cmd c = { .op = api__method_is(req, "PUT") ? AUTH_OP_ENABLE : AUTH_OP_DISABLE,
                          .name = (char *)"",
                          .hash = (char *)"" };
    propose(a, req, &c);
}

static void list_all(struct api *a, h2o_req_t *req, bool users)
{
    struct et_buf b = ET_BUF_INIT;
    if (!allow(req, false))
        return;
    if (!root_access(a, req)) {
        send_no_auth(req);
        return;
    }
    pthread_rwlock_rdlock(&a->auth->lock);
    if (users)
        auth_users_json(&a->auth->st, &b);
    else
        auth_roles_json(&a->auth->st, &b);
    pthread_rwlock_unlock(&a->auth->lock);
    send_json(a, req, 200, b.data, b.len);
    et_buf_free(&b);
}

static const char *body_of(h2o_req_t *req, size_t *len)
{
    *len = req->entity.base ? req->entity.len : 0;
    return req->entity.base ? req->entity.base : "";
}

static void user_get(struct api *a, h2o_req_t *req, const char *name)
{
    struct et_buf b = ET_BUF_INIT;
    int rc;
    pthread_rwlock_rdlock(&a->auth->lock);
    const struct auth_user *u = auth_user_find(&a->auth->st, name, strlen(name));
    if (u == NULL) {
        et_buf_printf(&b, "auth: User %s does not exist.", name);
        rc = 404;
    } else {
        rc = auth_user_json(&a->auth->st, u, &b);
    }
    pthread_rwlock_unlock(&a->auth->lock);
    if (rc)
        api__send_message(req, rc, b.data, false, true);
    else
        send_json(a, req, 200, b.data, b.len);
    et_buf_free(&b);
}

static void user_put(struct api *a, h2o_req_t *req, const char *name)
{
    struct auth_user_req r;
    struct auth_cmd c = { .name = (char *)name };
    size_t len;
    const char *body = body_of(req, &len);

    if (auth_user_req_parse(body, len, &r) != 0) {
        api__send_message(req, 400, "Invalid JSON in request body.", false, true);
        goto out;
    }
    if (strcmp(r.user, name) != 0) {
        api__send_message(req, 400, "User JSON name does not match the name in the URL", false,
                          true);
        goto out;
    }
    if (r.grant.n == 0 && r.revoke.n == 0) {
        c.op = r.roles.n ? AUTH_OP_USER_CREATE : AUTH_OP_USER_PUT;
    } else if (r.roles.n) {
        api__send_message(req, 400, "User JSON contains both roles and grant/revoke", false, true);
        goto out;
    } else {
        c.op = AUTH_OP_USER_UPDATE;
    }
    if (!r.password[0]) {
        c.hash = et_strdup("");
    } else if (known.req == req && known.job && known.job->kind == JOB_HASH &&
               strcmp(known.job->password, r.password) == 0) {
        c.hash = known.job->hash ? et_strdup(known.job->hash) : NULL;
    } else {
        struct auth_job *j = et_calloc(1, sizeof(*j));
        j->kind = JOB_HASH;
        j->password = et_strdup(r.password);
        if (job_submit(a, req, j))
            goto out; /* runs again once the worker has hashed it */
        c.hash = password_hash(r.password);
    }
    if (c.hash == NULL) {
        api__send_message(req, 500, "auth: cannot hash the password", false, true);
        goto out;
    }
    c.roles = r.roles;
    c.grant = r.grant;
    c.revoke = r.revoke;
    propose(a, req, &c);
    et_free(c.hash);
out:
    explicit_bzero(r.password, strlen(r.password));
    auth_user_req_free(&r);
}

static void role_get(struct api *a, h2o_req_t *req, const char *name)
{
    struct et_buf b = ET_BUF_INIT;
    bool root = strcmp(name, AUTH_ROOT_ROLE) == 0;
    pthread_rwlock_rdlock(&a->auth->lock);
    const struct auth_role *r = root ? NULL : auth_role_find(&a->auth->st, name, strlen(name));
    if (root || r)
        auth_role_json(r, &b);
    pthread_rwlock_unlock(&a->auth->lock);
    if (b.len) {
        et_buf_append_char(&b, '\n');
        send_json(a, req, 200, b.data, b.len);
    } else {
        et_buf_printf(&b, "auth: Role %s does not exist.", name);
        api__send_message(req, 404, b.data, false, true);
    }
    et_buf_free(&b);
}

static void role_put(struct api *a, h2o_req_t *req, const char *name)
{
    struct auth_role_req r;
    struct auth_cmd c = { .name = (char *)name, .hash = (char *)"" };
    size_t len;
    const char *body = body_of(req, &len);

    if (auth_role_req_parse(body, len, &r) != 0) {
        api__send_message(req, 400, "Invalid JSON in request body.", false, true);
        goto out;
    }
    if (strcmp(r.role, name) != 0) {
        api__send_message(req, 400, "Role JSON name does not match the name in the URL", false,
                          true);
        goto out;
    }
    /* Permissions.IsEmpty: a nil pointer or no patterns at all */
    bool grant_empty = !r.has_grant || (r.grant_read.n == 0 && r.grant_write.n == 0);
    bool revoke_empty = !r.has_revoke || (r.revoke_read.n == 0 && r.revoke_write.n == 0);
    if (grant_empty && revoke_empty) {
        c.op = AUTH_OP_ROLE_CREATE;
        c.read = r.read;
        c.write = r.write;
    } else if (r.read.n || r.write.n) {
        api__send_message(req, 400, "Role JSON contains both permissions and grant/revoke", false,
                          true);
        goto out;
    } else {
        c.op = AUTH_OP_ROLE_UPDATE;
        c.has_grant = r.has_grant;
        c.has_revoke = r.has_revoke;
        c.grant_read = r.grant_read;
        c.grant_write = r.grant_write;
        c.revoke_read = r.revoke_read;
        c.revoke_write = r.revoke_write;
    }
    propose(a, req, &c);
out:
    auth_role_req_free(&r);
}

static void one(struct api *a, h2o_req_t *req, bool users, const char *name)
{
    if (!allow(req, true))
        return;
    if (!root_access(a, req)) {
        send_no_auth(req);
        return;
    }
    if (api__method_is(req, "GET")) {
        if (users)
            user_get(a, req, name);
        else
            role_get(a, req, name);
    } else if (api__method_is(req, "PUT")) {
        if (users)
            user_put(a, req, name);
        else
            role_put(a, req, name);
    } else {
        struct auth_cmd c = { .op = users ? AUTH_OP_USER_DELETE : AUTH_OP_ROLE_DELETE,
                              .name = (char *)name,
                              .hash = (char *)"" };
        propose(a, req, &c);
    }
}

/* Percent-decodes the path part of @req (route() already refused bad escapes). */
static void decoded_path(h2o_req_t *req, struct et_buf *out)
{
    size_t n = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    const char *p = req->input.path.base;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = et_hex_digit(p[i + 1])) >= 0 &&
            (lo = et_hex_digit(p[i + 2])) >= 0) {
            et_buf_append_char(out, (char)(hi << 4 | lo));
            i += 2;
        } else {
            et_buf_append_char(out, p[i]);
        }
    }
    if (out->data == NULL)
        et_buf_append_str(out, "");
}

static bool has_prefix(const struct et_buf *b, const char *pre)
{
    size_t n = strlen(pre);
    return b->len >= n && memcmp(b->data, pre, n) == 0;
}

/* /v2/auth/users/... and /v2/auth/roles/...: Go's path.Clean, then split on '/'. */
static void sub(struct api *a, h2o_req_t *req, bool users, const char *rest, size_t len)
{
    if (len && rest[len - 1] == '/')
        len--; /* path.Clean drops one trailing slash (route() redirected the rest) */
    if (len == 0) {
        list_all(a, req, users);
        return;
    }
    if (memchr(rest, '/', len) || memchr(rest, '\0', len)) {
        api__send_message(req, 400, "Invalid path", false, false);
        return;
    }
    char *name = et_strndup(rest, len);
    one(a, req, users, name);
    et_free(name);
}

bool api__auth_route(struct api *a, h2o_req_t *req)
{
    struct et_buf path = ET_BUF_INIT;
    bool handled = true;

    decoded_path(req, &path);
    if (strcmp(path.data, "/v2/members") == 0 || has_prefix(&path, "/v2/members/")) {
        /* member changes need the root role (spec 3.2); the rest is api/cluster.c's */
        handled = false;
        if ((api__method_is(req, "POST") || api__method_is(req, "PUT") ||
             api__method_is(req, "DELETE")) &&
            !root_access(a, req)) {
            send_no_auth(req);
            handled = true;
        }
    } else if (strcmp(path.data, "/v2/auth/enable") == 0) {
        enable_disable(a, req);
    } else if (strcmp(path.data, "/v2/auth/users") == 0) {
        list_all(a, req, true);
    } else if (strcmp(path.data, "/v2/auth/roles") == 0) {
        list_all(a, req, false);
    } else if (has_prefix(&path, "/v2/auth/users/")) {
        sub(a, req, true, path.data + 15, path.len - 15);
    } else if (has_prefix(&path, "/v2/auth/roles/")) {
        sub(a, req, false, path.data + 15, path.len - 15);
    } else {
        handled = false;
    }
    et_buf_free(&path);
    return handled;
}
