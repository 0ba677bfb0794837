/*
 * api/api_int.h - declarations shared by the files of api/.
 */
#ifndef ET_API_API_INT_H
#define ET_API_API_INT_H

#include <pthread.h>

#include "api/api.h"
#include "core/buf.h"

#define API_REACTORS_MAX 256

/* Per-reactor state, touched only by its reactor (counters are read by others, relaxed). */
struct api_reactor {
    void *handle; /* the host's reactor handle */
    unsigned index;
    struct store_hub *hub;    /* this reactor's watchers */
    struct api_watch *parked; /* every parked watch (for shutdown) */
    uint64_t gets_success;    /* /v2/stats/store, local reads */
    uint64_t gets_fail;
    uint64_t watchers; /* registered watches (atomic: read by the Raft thread) */
};

/* A batch posted from the Raft thread to one reactor after each applied batch. */
struct api_batch {
    struct et_msg msg;
    struct api *api;
    struct api_reactor *reactor;
    struct store_event **events;
    size_t event_count;
    struct api_write **writes;
    size_t write_count;
};

struct api {
    struct api_config cfg;
    struct store *store;
    struct raft_node *node;
    bool stopping; /* atomic: refuse new proposals */
    struct api_reactor reactors[API_REACTORS_MAX];
    unsigned reactor_count;
    int64_t start_ns;
    char id_hex[17];
    char cluster_hex[17];

    /* Raft thread only: what the current applied batch produced. */
    struct store_event **batch_events;
    size_t batch_event_count, batch_event_cap;
    struct api_write **batch_writes[API_REACTORS_MAX];
    size_t batch_write_count[API_REACTORS_MAX], batch_write_cap[API_REACTORS_MAX];
    struct api_sweep *sweep_cur; /* atomic: the newest sweep, until applied or dropped */
    raft_term sweep_term;        /* timer thread: the term sweep_cur was proposed in */
    int64_t expiry_published_ns; /* Raft thread: last value given to the timer */

    /* The TTL timer thread (api/expiry.c). */
    pthread_t expiry_thread;
    pthread_mutex_t expiry_mu;
    pthread_cond_t expiry_cv;
    int64_t expiry_next_ns; /* under expiry_mu: earliest expiration, INT64_MAX = none */
    bool expiry_stop;       /* under expiry_mu */
    bool expiry_running;

    /* 0.4 admin configuration, parsed from /_etcd/config when applied (relaxed atomics). */
    struct {
        uint64_t active_size;
        uint64_t remove_delay;
        uint64_t sync_interval;
    } admin;

    struct api_auth *auth; /* v2 auth state (api/auth_http.c) */

    /* Membership (api/members.c): changed by the Raft thread under mlock, read by reactors
     * under mlock. */
    pthread_mutex_t mlock;
    struct api_mem *mem; /* the members, in no particular order */
    size_t mem_count, mem_cap;
    struct api_member *pending; /* added in the log, not committed yet (not persisted) */
    size_t pending_count;
    raft_id *removed; /* IDs removed for good (410 Gone) */
    size_t removed_count;
    char **stale; /* names whose /_etcd/machines entry must go (Raft thread) */
    size_t stale_count;
    int64_t stale_proposed_ns; /* when the leader last proposed their deletion (0: never) */
    char **self_client_urls;   /* what this member publishes */
    size_t self_client_url_count;
    bool self_published;    /* atomic: the table holds this member's current attributes */
    bool publish_in_flight; /* atomic */
    int64_t publish_sent_ns;
    bool autoremove_in_flight; /* Raft thread: a removeDelay removal is being committed */
    bool version_set;          /* atomic: the version entry was applied (kept in the trailer) */
    size_t bootstrap_count;    /* members of --initial-cluster (or discovery) */
    int64_t version_sent_ns;   /* Raft thread, leader: when the version entry was proposed */
    bool was_leader;           /* Raft thread: the previous tick ran as leader */
};

/* One member of the table. */
struct api_mem {
    struct api_member m;
    bool published;               /* its attributes entry was applied (name, client URLs) */
    bool machines_written;        /* /_etcd/machines/<name> holds its current values */
    int64_t machines_proposed_ns; /* when the leader proposed that write (0: not pending) */
    int64_t contact_ns; /* leader: last time it was heard from (removeDelay; not persisted) */
};

/*
 * Raft thread, while applying a member-table change: moves the index as etcd 3.4's write of the
 * same change under /0 does, counted as a successful @op (STORE_OP_SET, _CREATE, _UPDATE or
 * _DELETE). With a @name, the write of /_etcd/machines/<name> (@value; NULL deletes it) is that
 * step, unless it fails (nothing to delete); without, an index step no watcher receives.
 */
void api__apply_cluster(struct api *a, uint8_t op, const char *name, const struct et_buf *value);

/* Member entries (api/members.c): API_MEMBER_TAG | op | member record. */
#define API_MEMBER_TAG    0xc1
#define API_MEMBER_ATTR   1 /* name and client URLs, published by the member itself */
#define API_MEMBER_UPDATE 2 /* peer URLs (PUT /v2/members/<id>) */
#define API_MEMBER_VERSION \
    3 /* the cluster's version is known (leader, once every member published) */

enum api_write_kind {
    API_WRITE_KEYS,         /* /v2/keys: answer with the event */
    API_WRITE_ADMIN_CONFIG, /* /v2/admin/config: answer with the new configuration */
};

/* A write waiting for its commit; allocated by the reactor, completed on it. */
struct api_write {
    struct raft_proposal proposal;
    struct api *api;
    struct api_reactor *reactor;
    struct api_guard *guard; /* NULL once the request went away */
    h2o_req_t *req;          /* NULL when the client is gone */
    void *hup;               /* host.hup_watch() while the proposal is out (valid while req) */
    struct et_buf entry;     /* the encoded store command */
    bool no_value;           /* noValueOnSuccess */
    uint8_t kind;            /* enum api_write_kind */
    uint8_t op;
    /* result, filled on the Raft thread */
    int err; /* 0, ET_E_* or negative errno from the node */
    uint64_t index;
    struct et_buf cause;
    struct et_buf reply;       /* API_WRITE_ADMIN_CONFIG: the body to answer with */
    struct store_event *event; /* reference on success */
    raft_index raft_index;
    raft_term raft_term;
};

/* A TTL sweep proposal of the leader (one in flight per term, see api/expiry.c). */
struct api_sweep {
    struct raft_proposal proposal;
    struct et_buf entry;
    struct api *api;
};

/* A request's lifetime guard: h2o frees it with the request's pool. */
struct api_guard {
    void **ptr;              /* the owner's request pointer, cleared when the request goes */
    struct api_guard **self; /* the owner's pointer to this guard, cleared likewise */
};

extern struct api *api__global;

/* http.c: responses */
void api__cors(h2o_req_t *req);
void api__send(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len);
/* Hands @mem (et_alloc'd) to @req: freed when the request ends. */
void api__pool_own(h2o_req_t *req, void *mem);
/* Keeps a reference to @ev until @req ends (its JSON can then be sent without a copy). */
void api__pool_hold_event(h2o_req_t *req, struct store_event *ev);
void api__send_404(h2o_req_t *req);
void api__send_405(h2o_req_t *req, const char *allow);
void api__send_message(h2o_req_t *req, int status, const char *message, bool lf, bool cluster_id);
void api__send_v2_error(struct api *a, h2o_req_t *req, int code, const char *cause,
                        size_t cause_len, uint64_t index);
void api__header(h2o_req_t *req, const char *name, const char *value, size_t len);
void api__content_type(h2o_req_t *req, const char *ctype);
void api__header_u64(h2o_req_t *req, const char *name, uint64_t v);
void api__raft_headers(struct api *a, h2o_req_t *req);
bool api__method_is(h2o_req_t *req, const char *m);
/* Registers a guard that clears *@ptr and *@self when @req is disposed; stores it in *@self. */
void api__guard(h2o_req_t *req, void **ptr, struct api_guard **self);
/* The owner is done with the request: the guard will not touch the owner any more. */
void api__unguard(struct api_guard **self);

/* api.c: a request a handler set aside, routed again from the start on its reactor (client
 * port only) */
void api__route_again(struct api *a, h2o_req_t *req);

/* keys.c */
int api__keys(struct api *a, h2o_req_t *req);
void api__dispatch_batch(struct et_msg *m);
void api__watch_shutdown(struct api *a, struct api_reactor *r);

void api__propose(struct api *a, struct api_reactor *r, h2o_req_t *req, const struct store_cmd *cmd,
                  uint8_t kind, bool no_value);
bool api__is_write_proposal(struct raft_proposal *p);

/* expiry.c */
void api__expiry_init(struct api *a);
void api__expiry_start(struct api *a);
void api__expiry_stop(struct api *a);
void api__expiry_update(struct api *a);
bool api__is_sweep_proposal(struct raft_proposal *p);
void api__sweep_applied(struct raft_proposal *p); /* frees it */

/* admin.c */
void api__admin_init(struct api *a);
bool api__admin(struct api *a, h2o_req_t *req);
void api__admin_applied(struct api *a, const struct store_cmd *cmd);
void api__admin_tick(struct api *a);
/* The /_etcd/machines/<name> value of @m: etcd=<client URL>&raft=<peer URL>, query-escaped. */
void api__machines_value(struct et_buf *b, const struct api_member *m);
bool api__is_internal_proposal(struct raft_proposal *p);
void api__internal_applied(struct raft_proposal *p);

/* auth_http.c: v2 auth (spec/auth.md) */
void api__auth_init(struct api *a);
void api__auth_free(struct api *a);
/* Answers /v2/auth/... and refuses member changes without root; false: not handled. */
bool api__auth_route(struct api *a, h2o_req_t *req);
/* Credentials not checked yet: the request waits for the bcrypt worker, then runs again. True
 * when it was taken. Thread: reactor. */
bool api__auth_defer(struct api *a, h2o_req_t *req);
/* Stops the bcrypt worker; requests still waiting for it are answered 500. Thread: main. */
void api__auth_stop(struct api *a);
/* The permission check of a /v2/keys request; false: 401 already sent. */
bool api__auth_keys(struct api *a, h2o_req_t *req, const char *key, size_t key_len, bool recursive);
/* Raft thread: applies @entry when it is an auth command (true), else returns false. */
bool api__auth_apply(struct api *a, const void *entry, size_t len, struct raft_proposal *p);
/* Snapshot section in front of the store's (nothing while auth holds no state). */
void api__auth_snapshot_save(struct api *a, struct et_buf *out);
/* Loads the auth section at @p if there is one (*used = its size), else clears the state. */
int api__auth_snapshot_load(struct api *a, const void *p, size_t len, size_t *used);

/* members.c */
void api__members_init(struct api *a, const struct api_config *cfg);
void api__members_free(struct api *a);
bool api__members_registered(struct api *a);
bool api__members_published(struct api *a);
void api__member_encode(struct et_buf *b, const struct api_member *m);
void api__member_copy(struct api_member *dst, const struct api_member *src);
void api__member_free(struct api_member *m);
/* Lookups: the caller holds a->mlock (or is the Raft thread). */
struct api_mem *api__mem_find(struct api *a, raft_id id);
bool api__mem_removed(struct api *a, raft_id id);
void api__members_conf_apply(struct api *a, raft_index index, const struct raft_conf_change *cc,
                             const void *ctx, size_t ctx_len, struct raft_change *c);
void api__members_conf_appended(struct api *a, const struct raft_conf_change *cc, const void *ctx,
                                size_t ctx_len);
void api__members_entry_apply(struct api *a, const void *entry, size_t len,
                              struct raft_proposal *p);
void api__members_machines_applied(struct api *a, const struct store_cmd *cmd);
/* Raft thread, leader: proposes the cluster-version entry once every member has published. */
void api__members_version_tick(struct api *a);
void api__members_tick(struct api *a);
/* Appends the table to a snapshot image / splits it off: returns the store image's length, or
 * SIZE_MAX for a damaged trailer. */
void api__members_save(struct api *a, struct et_buf *out);
size_t api__members_load(struct api *a, const void *p, size_t len);

/* cluster.c */
int api__cluster(struct api *a, h2o_req_t *req, bool peer);
/* Removes member @id through Raft and answers @req: 204 (or 200 with an empty body when
 * @admin, for DELETE /v2/admin/machines/<name>), 404 / 410, or 500. Thread: reactor. */
void api__member_remove(struct api *a, h2o_req_t *req, raft_id id, bool admin);

/* The peer URLs of a POST / PUT /v2/members body: validated, as etcd prints them, sorted. */
struct api_url_req {
    char **urls;
    size_t count;
};

/* Decodes and validates @body as etcd does: true with new strings in @out (api__url_req_free()
 * it), or false with the message of etcd's 400 answer appended to @msg and @out empty. */
bool api__peer_urls_parse(const char *body, size_t len, struct api_url_req *out,
                          struct et_buf *msg);
void api__url_req_free(struct api_url_req *u);

struct api_reactor *api__reactor(struct api *a);

#endif
