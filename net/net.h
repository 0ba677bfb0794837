/*
 * net/net.h - the reactors: one thread per core, each with its own io_uring ring and h2o
 * contexts, accepting client and peer connections on its own SO_REUSEPORT listeners.
 *
 * net/ knows HTTP only through h2o and nothing of the v2 API: the server's main() hands it one
 * request handler per service (client, peer). Cross-thread work comes back to a reactor as a
 * struct et_msg posted with net_post() (lock-free queue + one eventfd wake-up).
 *
 * Threads: net_bind(), net_start() and net_stop() from the main thread; everything else from
 * reactor threads unless marked "Thread: any".
 */
#ifndef ET_NET_NET_H
#define ET_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "core/assert.h"
#include "core/mpsc.h"

struct net;
struct net_reactor;
struct net_sockets;

enum net_service {
    NET_SERVICE_CLIENT,
    NET_SERVICE_PEER,
    NET_SERVICE_COUNT,
};

struct net_listener_config {
    const char
        *host; /* numeric address or name to bind ("127.0.0.1", "0.0.0.0", "::", "localhost") */
    uint16_t port;
    uint8_t service;  /* enum net_service */
    SSL_CTX *ssl_ctx; /* TLS (https URLs) when non-NULL; borrowed, must outlive the net */
};

struct net_config {
    const struct net_listener_config *listeners;
    size_t listener_count;
    size_t max_connections;        /* process-wide; beyond it new connections get a 503 */
    uint64_t idle_timeout_ms;      /* keep-alive idle connections are closed after this */
    uint64_t req_timeout_ms;       /* headers and body must arrive within this */
    size_t max_request_bytes;      /* h2o's entity limit (413 beyond it) */
    size_t peer_max_request_bytes; /* the same on peer listeners (snapshots); 0: the above */
    /* Request handlers, called on a reactor thread; return 0 (h2o handler contract). */
    int (*on_req[NET_SERVICE_COUNT])(h2o_handler_t *self, h2o_req_t *req);
    /* Called on each reactor thread when it starts and before it ends. */
    void (*on_thread_start)(struct net_reactor *r, void *data);
    void (*on_thread_stop)(struct net_reactor *r, void *data);
    /* Called on each reactor thread when net_stop() begins: finish parked responses. */
    void (*on_shutdown)(struct net_reactor *r, void *data);
    void *data;
};

/*
 * Binds every listener once for each of @reactor_count (>= 1) reactors (SO_REUSEPORT) and
 * listens, without any thread: the server does this first, as etcd does, so that a port in use
 * fails the start at once and clients that connect while the WAL replays wait in the backlog
 * instead of being refused. A listener whose address an earlier one (or anything else) holds
 * fails with EADDRINUSE. Returns 0, or a negative errno after logging etcd's message.
 */
ET_NODISCARD int net_bind(const struct net_listener_config *listeners, size_t listener_count,
                          unsigned reactor_count, struct net_sockets **out);

/* Closes sockets that never reached net_start(). NULL is fine. */
void net_sockets_close(struct net_sockets *s);

/*
 * Starts one reactor thread per reactor of @sockets (net_bind() of cfg->listeners), which it
 * takes over.
 */
struct net *net_start(const struct net_config *cfg, struct net_sockets *sockets);

/* Stops accepting, lets in-flight responses finish (at most ~0.5 s), joins and frees. */
void net_stop(struct net *n);

unsigned net_reactor_count(const struct net *n);
struct net_reactor *net_reactor_at(struct net *n, unsigned i);
/* The reactor running the calling thread, or NULL on other threads. */
struct net_reactor *net_reactor_self(void);
unsigned net_reactor_id(const struct net_reactor *r);
/* Per-reactor slot for the application (set in on_thread_start). */
void **net_reactor_user(struct net_reactor *r);
h2o_evloop_t *net_reactor_loop(struct net_reactor *r);

/* Queues @m for @r and wakes it; @m->fn runs on @r's thread. Thread: any. */
void net_post(struct net_reactor *r, struct et_msg *m);

/*
 * Hang-up detection for parked responses: h2o stops reading a connection while a request is in
 * progress, so a client that leaves is only noticed through POLLRDHUP. net_hup_watch() arms an
 * io_uring poll on the request's socket (one per connection, kept across its keep-alive
 * requests); @fn(@data) runs once if the peer hangs up or errors. net_hup_cancel() disarms it
 * (must be called before the response completes if not fired). The request is taken to be
 * parked: its HTTP/1 bytes move out of the socket's 8 KB read buffer into an exact-size copy.
 * Returns a handle or NULL when the connection has no pollable socket (e.g. HTTP/2 stream).
 */
struct net_hup;
struct net_hup *net_hup_watch(h2o_req_t *req, void (*fn)(void *data), void *data);
void net_hup_cancel(struct net_hup *h);

/* Connections currently open in the process. Thread: any. */
size_t net_connection_count(const struct net *n);

#endif
