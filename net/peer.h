/*
 * net/peer.h - the member-to-member transport: opaque messages (Raft messages, forwarded
 * proposals, snapshots) from this member to the others, over HTTP/1.1 keep-alive.
 *
 * Wire format: each batch of messages to one peer is one request
 *
 *     POST /raft HTTP/1.1            (NET_PEER_PATH)
 *     Content-Length: N
 *     X-Etcetera-From: <sender id, hex>
 *
 *     frame frame ...                a frame is u32 big-endian length | that many bytes
 *
 * answered by 204 once the receiver has handed every frame on, or by 410 Gone when the
 * receiver knows the sender was removed from the cluster (cfg->on_gone then runs), (the peer
 * listener's h2o handler calls net_peer_frames_parse()). The transport knows nothing of what the
 * bytes mean.
 *
 * Sending: net_peers_send() appends a frame to the peer's bounded queue (dropped when the queue
 * is full: the caller is Raft, which retries) and wakes the transport's one thread. That thread
 * keeps one connection per peer, sends everything queued as one request while no request is in
 * flight (so batches grow with load), reconnects with backoff after any failure, and never
 * blocks the caller. Messages to one peer arrive in the order sent, or not at all.
 *
 * https peer URLs: the connection is TLS (1.2 or later), as etcd's peer transport: this member
 * presents tls.cert_file/tls.key_file as its client certificate (the other side may require one,
 * --peer-client-cert-auth) and checks the peer's certificate against tls.trusted_ca_file, or the
 * system's CAs without one, including that it names the URL's host (IP or DNS SAN).
 *
 * Threads: net_peers_start()/net_peers_stop() on the main thread; send, set, remove and stats
 * from any thread.
 */
#ifndef ET_NET_PEER_H
#define ET_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"

struct et_buf;
struct net_peers;
struct ssl_ctx_st;

#define NET_PEER_PATH       "/raft"
#define NET_PEER_FRAME_HEAD 4u
#define NET_PEER_FRAME_MAX  (1u << 30) /* the largest message (a snapshot) */

/* TLS settings for https peer URLs (etcd's --peer-* flags); the strings must outlive the user. */
struct net_peer_tls {
    const char *cert_file;       /* client certificate (chain) presented to peers; NULL: none */
    const char *key_file;        /* its key; NULL: none */
    const char *trusted_ca_file; /* CAs that sign peers' certificates; NULL: the system's */
    bool skip_verify;            /* do not check peers' certificates (etcd's --peer-auto-tls) */
};

struct net_peers_config {
    uint64_t self_id;        /* sent as X-Etcetera-From */
    size_t queue_bytes_max;  /* per peer: queued bytes beyond this are dropped; 0: 256 MiB */
    size_t batch_bytes_max;  /* bytes per request, unless one message is larger; 0: 8 MiB */
    uint32_t io_timeout_ms;  /* a request unanswered for this long fails; 0: 5000 */
    uint32_t backoff_max_ms; /* reconnect delay grows from 20 ms to this; 0: 1000 */
    /* A peer answered 410 Gone: it says this member was removed from the cluster. Called on
     * the transport's thread (may be NULL). */
    void (*on_gone)(void *data, uint64_t peer_id);
    void *data;
    struct net_peer_tls tls; /* for https peers */
};

/* Statistics of the sends to one peer (etcd's /v2/stats/leader follower entry). */
struct net_peer_stats {
    uint64_t success;  /* messages the peer acknowledged */
    uint64_t fail;     /* messages dropped: queue full, connection or request failed */
    uint64_t requests; /* acknowledged requests (batches) */
    double current_ms; /* round trip of the last acknowledged request */
    double average_ms;
    double stddev_ms; /* population standard deviation */
    double min_ms;    /* 2^63 before the first success (as etcd) */
    double max_ms;
    int64_t last_success_ns; /* monotonic clock of the last acknowledged request (0: never) */
};

/* Starts the transport thread. Returns 0 or a negative errno (-EINVAL: cfg->tls names files
 * that cannot be loaded, logged). */
ET_NODISCARD int net_peers_start(const struct net_peers_config *cfg, struct net_peers **out);

/* Stops the thread, closes every connection, drops what is queued, frees. */
void net_peers_stop(struct net_peers *p);

/*
 * Adds peer @id reachable at @url ("http(s)://host:port"; the first of a member's peer URLs), or
 * changes its address (the connection is re-made). Returns 0 or -EINVAL for a URL the
 * transport cannot use (logged). @url is copied. Thread: any.
 */
ET_NODISCARD int net_peers_set(struct net_peers *p, uint64_t id, const char *url);

/* Forgets peer @id (queued messages dropped). Thread: any. */
void net_peers_remove(struct net_peers *p, uint64_t id);

/*
 * Queues @msg[0..len) (copied) for @id. Returns 0, -ENOENT for an unknown peer, -ENOBUFS when
 * its queue is full (dropped, counted as a failure), -EMSGSIZE above NET_PEER_FRAME_MAX.
 * Thread: any; never blocks on the network.
 */
int net_peers_send(struct net_peers *p, uint64_t id, const void *msg, size_t len);

/* Fills @out for @id. Returns false for an unknown peer. Thread: any. */
bool net_peers_stats(struct net_peers *p, uint64_t id, struct net_peer_stats *out);

/* Appends one frame holding @msg[0..len) (len <= NET_PEER_FRAME_MAX) to @out. */
void net_peer_frame_append(struct et_buf *out, const void *msg, size_t len);

/*
 * Lets @ctx load and present a certificate chain of our own whose signatures use a digest
 * OpenSSL's security level refuses (SHA-1, MD5), as etcd does: Go never checks the signatures of
 * the certificate it serves. Certificates from the other side are judged as before. Call before
 * loading the chain.
 */
void net_tls_accept_own_chain_digests(struct ssl_ctx_st *ctx);

/*
 * Splits @body[0..len) into frames and calls @fn(@data, frame, frame_len) for each, in order.
 * Returns the number of frames, or -EBADMSG when the body is not a whole sequence of frames
 * (then @fn ran for the complete frames before the damage). Thread: any.
 */
ET_NODISCARD long net_peer_frames_parse(const void *body, size_t len,
                                        void (*fn)(void *data, const void *msg, size_t len),
                                        void *data);

/*
 * A blocking HTTP/1.1 GET of @path from @url ("http(s)://host:port"), for start-up only (a
 * member joining an existing cluster asks a peer for the member list); https uses @tls (NULL:
 * no client certificate, the system's CAs) as the transport does. The whole response (status
 * line, headers and body) is appended to @resp. Returns the HTTP status, or a negative errno
 * (-ETIMEDOUT after @timeout_ms, -EINVAL for a URL it cannot use, -EPROTO when TLS fails:
 * logged). Thread: any (blocks).
 */
ET_NODISCARD int net_http_get(const char *url, const char *path, const struct net_peer_tls *tls,
                              uint32_t timeout_ms, struct et_buf *resp);

#endif
