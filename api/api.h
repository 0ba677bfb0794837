/*
 * api/api.h - the etcd v2 surface: request handlers for the client and peer listeners, and the
 * callbacks the Raft node calls to apply committed commands to the store.
 *
 * The server's main() builds one struct api (api_new), passes api_client_on_req/api_peer_on_req
 * to net/ and the api_raft_* callbacks to raft/, then calls api_attach() once both exist.
 *
 * Threads: handlers and api_reactor_* run on reactors; api_raft_* on the Raft thread.
 */
#ifndef ET_API_API_H
#define ET_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "core/mpsc.h"
#include "raft/node.h"
#include "store/store.h"

struct api;

struct api_member {
    raft_id id;
    char *name;
    char **peer_urls;
    size_t peer_url_count;
    char **client_urls;
    size_t client_url_count;
};

/* Statistics of the messages sent to one peer (etcd's /v2/stats/leader follower entry). */
struct api_peer_stats {
    uint64_t success, fail;
    double current_ms, average_ms, stddev_ms, min_ms, max_ms;
    int64_t last_success_ns; /* monotonic; 0: never */
};

/*
 * What the api needs from the reactors, supplied by main() so that api/ never depends on net/:
 * reactors are opaque handles numbered 0..reactor_count-1.
 */
struct api_host_ops {
    void *(*reactor_self)(void); /* the calling reactor, NULL elsewhere */
    unsigned (*reactor_index)(void *reactor);
    void *(*reactor_at)(unsigned index);
    void (*post)(void *reactor, struct et_msg *m); /* run m->fn on that reactor. Thread: any */
    /* Arm / disarm a hang-up callback for a parked request (NULL when unsupported). */
    void *(*hup_watch)(h2o_req_t *req, void (*fn)(void *data), void *data);
    void (*hup_cancel)(void *hup);
    /* The peer transport (NULL for none). Called on the Raft thread (and on main at start-up)
     * whenever the membership changes: where member @id is now, or that it is gone. */
    void (*peer_set)(raft_id id, const char *peer_url);
    void (*peer_remove)(raft_id id);
    /* Send statistics to member @id (/v2/stats/leader); false if unknown. Thread: any. */
    bool (*peer_stats)(raft_id id, struct api_peer_stats *out);
    /* This member was removed from the cluster (Raft thread): the server should stop. */
    void (*removed)(void);
};

struct api_config {
    struct api_host_ops host;
    const char *name; /* this member's name */
    raft_id id;       /* this member's id */
    uint64_t cluster_id;
    const struct api_member *members; /* initial membership (this member included) */
    size_t member_count;
    size_t history_max; /* --event-history */
    size_t body_max;    /* form bodies above this get error 210 (10 MiB) */
    unsigned reactor_count;
    bool expose_etcd_machines; /* serve the read-only /_etcd/machines view */
};

/* Returns a new api with an empty store. Thread: main. */
struct api *api_new(const struct api_config *cfg);
/* The store the api applies to (for the node's snapshot callbacks). */
struct store *api_store(struct api *a);
/* Connects the api to the running node; requests are refused until this is called. */
void api_attach(struct api *a, struct raft_node *node);
/* True once this member's attributes (name, client URLs) and its /_etcd/machines entry have been
 * applied (the member list and registry view are complete for this member). */
bool api_registered(struct api *a);
/*
 * Writes the membership as the peer endpoint GET /etcetera/members serves it (what a member
 * joining with --initial-cluster-state existing reads): one line per member,
 * "<id hex> <name or -> <peer URLs, comma-separated>\n". Thread: any.
 */
void api_members_text(struct api *a, struct et_buf *out);
/* True when member @id was removed from the cluster for good. Thread: any. */
bool api_member_removed(struct api *a, raft_id id);
/* Stops new proposals; in-flight ones still complete. Thread: main, before net_stop(). */
void api_begin_shutdown(struct api *a);
void api_free(struct api *a);

/* h2o handlers (net_config.on_req). */
int api_client_on_req(h2o_handler_t *self, h2o_req_t *req);
int api_peer_on_req(h2o_handler_t *self, h2o_req_t *req);

/* Reactor hooks (net_config.on_thread_start / on_thread_stop / on_shutdown); data = the api. */
struct net_reactor;
void api_reactor_start(struct net_reactor *r, void *data);
void api_reactor_stop(struct net_reactor *r, void *data);
void api_reactor_shutdown(struct net_reactor *r, void *data);

/* Raft node callbacks (struct raft_node_config); data = the api. */
void api_raft_apply(void *data, raft_index index, raft_term term, const void *entry, size_t len,
                    struct raft_proposal *p);
void api_raft_conf_apply(void *data, raft_index index, const struct raft_conf_change *cc,
                         const void *ctx, size_t ctx_len, struct raft_change *c);
void api_raft_conf_appended(void *data, const struct raft_conf_change *cc, const void *ctx,
                            size_t ctx_len);
void api_raft_applied(void *data);
void api_raft_tick(void *data, bool is_leader);
void api_raft_snapshot_save(void *data, void **out, size_t *len);
void *api_raft_snapshot_capture(void *data);
void api_raft_snapshot_write(void *image, void **out, size_t *len);
void api_raft_snapshot_release(void *data, void *image);
int api_raft_snapshot_load(void *data, const void *p, size_t len);

#endif
