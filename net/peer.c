/*
 * net/peer.c - the member-to-member transport (contract and wire format in net/peer.h).
 *
 * One thread serves every peer (a cluster has at most a few dozen) with non-blocking sockets
 * and poll(2): peer traffic is a handful of connections, so a ring per peer would buy nothing.
 * Each peer moves through
 *
 *     IDLE (no socket) ──queue not empty, backoff over──► CONNECTING ──► [HANDSHAKE] ──► READY
 *     READY ──queue not empty──► SENDING (writev header + body) ──► WAITING (read the answer)
 *     WAITING ──2xx──► READY            any error or timeout ──► IDLE (batch dropped, backoff)
 *
 * https peers: HANDSHAKE runs SSL_connect() on the non-blocking socket, and SENDING / WAITING
 * go through SSL_write / SSL_read instead of writev / read. Whenever OpenSSL wants the socket
 * readable or writable (SSL_ERROR_WANT_READ / WANT_WRITE, in any state: TLS 1.3 may read while
 * writing) the peer's poll events follow (peer->want) and the same step is retried when poll
 * says so. A TLS failure (handshake refused, certificate rejected by either side) takes the
 * ordinary failure path (backoff) and is logged with the peer URL and OpenSSL's reason. The
 * SSL_CTX is made once: at start when certificate files are configured (so bad files fail the
 * start), else on the first https connection (OpenSSL is not initialised for http clusters).
 *
 * Batching: while a request is in flight, new messages pile up in the queue and leave as the
 * next request, so the number of requests per second adapts to the round trip, not to the
 * message rate. Invariants: (1) at most one request in flight per peer, so frames arrive in the
 * order they were queued; (2) the queue never exceeds queue_bytes_max (new messages are dropped
 * instead: Raft resends what matters).
 *
 * Locking: one mutex guards the peer table and the queues; the network I/O happens outside it.
 * Callers (the Raft thread) only ever hold it for a memcpy.
 */
#include "net/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"

#define PEERS_MAX        64u
#define RESP_HEAD_MAX    4096u
#define BACKOFF_MIN_MS   20u
#define STATS_MIN_INIT   9223372036854775808.0 /* 2^63, etcd's "no sample yet" */
#define TLS_LOG_EVERY_NS (10 * ET_NS_PER_SEC)  /* one TLS failure line per peer per 10 s */

enum peer_state {
    PEER_IDLE,
    PEER_CONNECTING,
    PEER_HANDSHAKE, /* https: SSL_connect() in progress */
    PEER_READY,
    PEER_SENDING,
    PEER_WAITING,
};

struct net_peer {
    uint64_t id;
    char *host; /* guarded by the mutex */
    char *port;
    bool tls;                    /* guarded: an https URL */
    bool addr_changed;           /* guarded: reconnect to the new address */
    bool removed;                /* guarded: the thread frees it */
    struct et_buf queue;         /* guarded: frames waiting */
    size_t queue_msgs;           /* guarded */
    struct net_peer_stats stats; /* guarded */
    double sum_ms, sum_sq_ms;    /* guarded */

    /* thread only */
    enum peer_state state;
    int fd;
    SSL *ssl;           /* https: the connection's TLS state, NULL otherwise */
    short want;         /* poll events OpenSSL asked for (0: those of the state) */
    char url[300];      /* the URL connected to (for log lines) */
    char host_now[256]; /* its host, checked against the certificate */
    bool tls_now;       /* it is an https URL */
    bool answered;      /* this connection has had an answer */
    int64_t tls_logged_ns;
    int64_t retry_ns; /* IDLE: no connect before this */
    uint32_t backoff_ms;
    int64_t deadline_ns; /* CONNECTING / SENDING / WAITING must end before this */
    int64_t sent_ns;     /* when the request started */
    struct et_buf head;  /* request header */
    struct et_buf body;  /* request body: the batch */
    size_t body_msgs;
    size_t out_off;   /* bytes of head + body written */
    struct et_buf in; /* the response read so far */
};

struct net_peers {
    struct net_peers_config cfg;
    pthread_mutex_t lock;
    struct net_peer *peers[PEERS_MAX]; /* guarded */
    size_t peer_count;                 /* guarded */
    int efd;
    int wake_pending; /* atomic */
    int stopping;     /* atomic */
    pthread_t thread;
    SSL_CTX *ssl_ctx; /* https peers: made at start or by the thread, freed at stop */
};

/* ---- TLS (client side) ------------------------------------------------------------------- */

typedef int (*tls_security_fn)(const SSL *s, const SSL_CTX *ctx, int op, int bits, int nid,
                               void *other, void *ex);
static tls_security_fn tls_default_security; /* OpenSSL's, the same for every context */
static pthread_once_t tls_default_once = PTHREAD_ONCE_INIT;

static void tls_default_init(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    ET_ASSERT(ctx != NULL);
    tls_default_security = SSL_CTX_get_security_callback(ctx);
    SSL_CTX_free(ctx);
}

static int tls_security(const SSL *s, const SSL_CTX *ctx, int op, int bits, int nid, void *other,
                        void *ex)
{
    if (op == SSL_SECOP_CA_MD) /* a signature digest in our own chain (a peer's has SECOP_PEER) */
        return 1;
    return tls_default_security(s, ctx, op, bits, nid, other, ex);
}

void net_tls_accept_own_chain_digests(SSL_CTX *ctx)
{
    pthread_once(&tls_default_once, tls_default_init); /* contexts are made on several threads */
    SSL_CTX_set_security_callback(ctx, tls_security);
}

/*
 * The client context for https peers, as etcd 3.4's peer transport (pkg/transport TLSInfo
 * ClientConfig): TLS 1.2 or later; the member's --peer-cert-file/--peer-key-file are offered as
 * client certificate; the server's certificate must chain to --peer-trusted-ca-file, or, without
 * one, to the system's CAs (Go's default roots: etcd does not skip the check when no CA is
 * given; checked: two etcd 3.4 members with a private CA and no --peer-trusted-ca-file log
 * "x509: certificate signed by unknown authority" and get no leader); only --peer-auto-tls
 * without certificate files (etcd's self-signed case) skips it.
 * Returns NULL after logging why.
 */
static SSL_CTX *tls_client_ctx(const struct net_peer_tls *t)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    net_tls_accept_own_chain_digests(ctx);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* a bare close is an EOF */
#endif
    if (t->cert_file != NULL && t->key_file != NULL &&
        (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1))
        goto fail;
    if (t->skip_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    if (t->trusted_ca_file ? SSL_CTX_load_verify_locations(ctx, t->trusted_ca_file, NULL) != 1
                           : SSL_CTX_set_default_verify_paths(ctx) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
fail:
    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    ERR_clear_error();
    et_error("peer: cannot set up TLS for https peers (cert %s, key %s, trusted CA %s): %s",
             t->cert_file ? t->cert_file : "-", t->key_file ? t->key_file : "-",
             t->trusted_ca_file ? t->trusted_ca_file : "(system)", why);
    SSL_CTX_free(ctx);
    return NULL;
}

/* A client connection on connected socket @fd to @host (an IP or a DNS name), whose certificate
 * must name @host unless the context skips verification. NULL when OpenSSL cannot make one. */
static SSL *tls_conn_new(SSL_CTX *ctx, int fd, const char *host)
{
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1 || (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)) {
        SSL_free(ssl);
        return NULL;
    }
    if (SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                : X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

/* Why the TLS call on @ssl failed with SSL_get_error() = @e (errno @sys): the certificate check's
 * verdict, else OpenSSL's error queue, else the system error. Clears the error queue. */
static void tls_reason(SSL *ssl, int e, int sys, char *out, size_t n)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long err = ERR_peek_last_error();
    if (vr != X509_V_OK)
        snprintf(out, n, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    else if (err != 0)
        ERR_error_string_n(err, out, n);
    else if (e == SSL_ERROR_SYSCALL && sys != 0)
        snprintf(out, n, "%s", strerror(sys));
    else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
        snprintf(out, n, "connection closed by the peer during TLS");
    else
        snprintf(out, n, "TLS error %d", e);
    ERR_clear_error();
}

/* ---- framing ------------------------------------------------------------------------------ */

void net_peer_frame_append(struct et_buf *out, const void *msg, size_t len)
{
    ET_ASSERT(len <= NET_PEER_FRAME_MAX);
    unsigned char *p = (unsigned char *)et_buf_reserve(out, NET_PEER_FRAME_HEAD + len);
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    if (len)
        memcpy(p + NET_PEER_FRAME_HEAD, msg, len);
    out->len += NET_PEER_FRAME_HEAD + len;
    out->data[out->len] = '\0';
}

long net_peer_frames_parse(const void *body, size_t len,
                           void (*fn)(void *data, const void *msg, size_t len), void *data)
{
    const unsigned char *p = body;
    size_t off = 0;
    long frames = 0;
    while (off < len) {
        if (len - off < NET_PEER_FRAME_HEAD)
            return -EBADMSG;
        size_t n =
            (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
        off += NET_PEER_FRAME_HEAD;
        if (n > NET_PEER_FRAME_MAX || n > len - off)
            return -EBADMSG;
        fn(data, p + off, n);
        off += n;
        frames++;
    }
    return frames;
}

/* ---- the table (callers' side) ---------------------------------------------------------- */

static void wake(struct net_peers *p)
{
    if (__atomic_exchange_n(&p->wake_pending, 1, __ATOMIC_ACQ_REL) == 0) {
        uint64_t one = 1;
        while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
}

static struct net_peer *find_locked(struct net_peers *p, uint64_t id)
{
    for (size_t i = 0; i < p->peer_count; i++)
        if (p->peers[i]->id == id && !p->peers[i]->removed)
            return p->peers[i];
    return NULL;
}

int net_peers_set(struct net_peers *p, uint64_t id, const char *url)
{
    struct et_url u;
    char err[256];
    ET_ASSERT(id != 0);
    if (et_url_parse(url, &u, err, sizeof(err)) != 0) {
        et_error("peer: cannot use peer URL %s of member %" PRIx64 ": %s", url, id, err);
        return -EINVAL;
    }
    bool tls = strcmp(u.scheme, "https") == 0;
    if ((!tls && strcmp(u.scheme, "http") != 0) || u.port[0] == '\0') {
        et_error("peer: cannot use peer URL %s of member %" PRIx64 ": only http://host:port and "
                 "https://host:port are supported",
                 url, id);
        et_url_free(&u);
        return -EINVAL;
    }
    pthread_mutex_lock(&p->lock);
    struct net_peer *peer = find_locked(p, id);
    int ret = 0;
    if (peer == NULL && p->peer_count == PEERS_MAX) {
        ret = -ENOSPC;
    } else if (peer == NULL) {
        peer = et_calloc(1, sizeof(*peer));
        peer->id = id;
        peer->fd = -1;
        peer->stats.min_ms = STATS_MIN_INIT;
        peer->host = et_strdup(u.host);
        peer->port = et_strdup(u.port);
        peer->tls = tls;
        p->peers[p->peer_count++] = peer;
    } else if (strcmp(peer->host, u.host) != 0 || strcmp(peer->port, u.port) != 0 ||
               peer->tls != tls) {
        et_free(peer->host);
        et_free(peer->port);
        peer->host = et_strdup(u.host);
        peer->port = et_strdup(u.port);
        peer->tls = tls;
        peer->addr_changed = true;
    }
    pthread_mutex_unlock(&p->lock);
    et_url_free(&u);
    wake(p);
    return ret;
}

void net_peers_remove(struct net_peers *p, uint64_t id)
{
    pthread_mutex_lock(&p->lock);
    struct net_peer *peer = find_locked(p, id);
    if (peer)
        peer->removed = true;
    pthread_mutex_unlock(&p->lock);
    wake(p);
}

int net_peers_send(struct net_peers *p, uint64_t id, const void *msg, size_t len)
{
    int ret = 0;
    if (len > NET_PEER_FRAME_MAX)
        return -EMSGSIZE;
    pthread_mutex_lock(&p->lock);
    struct net_peer *peer = find_locked(p, id);
    if (peer == NULL) {
        ret = -ENOENT;
    } else if (peer->queue.len + NET_PEER_FRAME_HEAD + len > p->cfg.queue_bytes_max &&
               peer->queue.len > 0) {
        peer->stats.fail++;
        ret = -ENOBUFS;
    } else {
        net_peer_frame_append(&peer->queue, msg, len);
        peer->queue_msgs++;
    }
    bool first = ret == 0 && peer->queue_msgs == 1;
    pthread_mutex_unlock(&p->lock);
    if (first)
        wake(p); /* later ones ride with the first: the thread takes the whole queue */
    return ret;
}

bool net_peers_stats(struct net_peers *p, uint64_t id, struct net_peer_stats *out)
{
    pthread_mutex_lock(&p->lock);
    struct net_peer *peer = find_locked(p, id);
    if (peer)
        *out = peer->stats;
    pthread_mutex_unlock(&p->lock);
    return peer != NULL;
}

/* ---- the thread ------------------------------------------------------------------------- */

/* Closes the socket and its TLS state (no close_notify: the peer reads an EOF either way). */
static void conn_close(struct net_peer *peer)
{
    if (peer->ssl)
        SSL_free(peer->ssl);
    peer->ssl = NULL;
    if (peer->fd >= 0)
        close(peer->fd);
    peer->fd = -1;
    peer->want = 0;
}

static void peer_close(struct net_peer *peer)
{
    conn_close(peer);
    peer->state = PEER_IDLE;
    et_buf_reset(&peer->in);
}

/* Drops the batch in flight after a failure and schedules the reconnection. */
static void peer_fail(struct net_peers *p, struct net_peer *peer, const char *what, int err)
{
    int64_t now = et_mono_ns();
    if (peer->body_msgs || peer->state == PEER_CONNECTING)
        et_debug("peer: %s to member %" PRIx64 " failed: %s", what, peer->id, strerror(err));
    /* What waited behind the failure is stale by the time a connection is back: Raft resends. */
    pthread_mutex_lock(&p->lock);
    peer->stats.fail += peer->body_msgs + peer->queue_msgs;
    peer->queue_msgs = 0;
    et_buf_reset(&peer->queue);
    pthread_mutex_unlock(&p->lock);
    peer->body_msgs = 0;
    et_buf_reset(&peer->body);
    peer_close(peer);
    peer->backoff_ms = peer->backoff_ms ? peer->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (peer->backoff_ms > p->cfg.backoff_max_ms)
        peer->backoff_ms = p->cfg.backoff_max_ms;
    peer->retry_ns = now + (int64_t)peer->backoff_ms * ET_NS_PER_MSEC;
}

/* Whether a TLS failure is logged now: at most once per TLS_LOG_EVERY_NS for each @last_ns (the
 * callers retry, and each retry fails the same way). Any thread. */
static bool tls_log_due(int64_t *last_ns)
{
    int64_t now = et_mono_ns(), last = __atomic_load_n(last_ns, __ATOMIC_RELAXED);
    return (last == 0 || now - last >= TLS_LOG_EVERY_NS) &&
           __atomic_compare_exchange_n(last_ns, &last, now, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

/* A TLS call on an https peer failed (SSL_get_error() = @e, errno @sys): log why (at most once
 * per TLS_LOG_EVERY_NS per peer, the reconnections repeat it), then the ordinary failure path. */
static void peer_fail_tls(struct net_peers *p, struct net_peer *peer, const char *what, int e,
                          int sys)
{
    char why[256];
    tls_reason(peer->ssl, e, sys, why, sizeof(why));
    if (tls_log_due(&peer->tls_logged_ns)) {
        /* TLS 1.3 servers check the client certificate after the client's handshake is over:
         * a refusal shows as the first request failing, often as a plain reset */
        bool hint = peer->state != PEER_HANDSHAKE && !peer->answered && e == SSL_ERROR_SYSCALL;
        et_warn("peer: %s with member %" PRIx64 " at %s failed: %s%s", what, peer->id, peer->url,
                why,
                hint ? " (first request after the TLS handshake: the peer may have refused "
                       "this member's certificate)"
                     : "");
    }
    peer_fail(p, peer, what, EPROTO);
}

/*
 * After an SSL call on @peer returned @r (<= 0 for SSL_connect, 0 for the _ex calls; errno was
 * @sys): true when it only waits for the socket (peer->want set), false after failing the peer.
 */
static bool peer_tls_wait(struct net_peers *p, struct net_peer *peer, int r, int sys,
                          const char *what)
{
    int e = SSL_get_error(peer->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        peer->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return true;
    }
    peer_fail_tls(p, peer, what, e, sys);
    return false;
}

static void peer_handshake(struct net_peers *p, struct net_peer *peer)
{
    peer->want = 0;
    ERR_clear_error();
    int r = SSL_connect(peer->ssl);
    if (r == 1)
        peer->state = PEER_READY;
    else
        peer_tls_wait(p, peer, r, errno, "TLS handshake");
}

/* The TCP connection is up: READY, or for https the start of the TLS handshake. */
static void peer_connected(struct net_peers *p, struct net_peer *peer)
{
    if (!peer->tls_now) {
        peer->state = PEER_READY;
        return;
    }
    if (p->ssl_ctx == NULL && (p->ssl_ctx = tls_client_ctx(&p->cfg.tls)) == NULL) {
        peer_fail(p, peer, "TLS set-up", EINVAL);
        return;
    }
    peer->ssl = tls_conn_new(p->ssl_ctx, peer->fd, peer->host_now);
    if (peer->ssl == NULL) {
        peer_fail_tls(p, peer, "TLS set-up", SSL_ERROR_SSL, 0);
        return;
    }
    peer->answered = false;
    peer->state = PEER_HANDSHAKE;
    peer_handshake(p, peer);
}

static void peer_connect(struct net_peers *p, struct net_peer *peer)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char port[16];
    pthread_mutex_lock(&p->lock);
    snprintf(peer->host_now, sizeof(peer->host_now), "%s", peer->host);
    peer->tls_now = peer->tls;
    snprintf(port, sizeof(port), "%s", peer->port);
    bool v6 = strchr(peer->host, ':') != NULL;
    snprintf(peer->url, sizeof(peer->url), "%s://%s%s%s:%s", peer->tls ? "https" : "http",
             v6 ? "[" : "", peer->host, v6 ? "]" : "", peer->port);
    peer->addr_changed = false;
    pthread_mutex_unlock(&p->lock);
    int ret = getaddrinfo(peer->host_now, port, &hints, &ai);
    if (ret != 0 || ai == NULL) {
        peer_fail(p, peer, "resolving the address", EHOSTUNREACH);
        return;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        peer_fail(p, peer, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    peer->fd = fd;
    peer->state = PEER_CONNECTING;
    peer->deadline_ns = et_mono_ns() + (int64_t)p->cfg.io_timeout_ms * ET_NS_PER_MSEC;
    ret = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    freeaddrinfo(ai);
    if (ret == 0)
        peer_connected(p, peer);
    else if (ret != EINPROGRESS)
        peer_fail(p, peer, "connect", ret);
}

/* READY with work queued: take a batch of whole frames and build the request. */
static void peer_start_request(struct net_peers *p, struct net_peer *peer)
{
    pthread_mutex_lock(&p->lock);
    const unsigned char *q = (const unsigned char *)peer->queue.data;
    size_t take = 0, msgs = 0;
    while (take < peer->queue.len) {
        size_t n = (size_t)q[take] << 24 | (size_t)q[take + 1] << 16 | (size_t)q[take + 2] << 8 |
                   q[take + 3];
        if (msgs > 0 && take + NET_PEER_FRAME_HEAD + n > p->cfg.batch_bytes_max)
            break;
        take += NET_PEER_FRAME_HEAD + n;
        msgs++;
    }
    et_buf_reset(&peer->body);
    if (take == peer->queue.len) {
        struct et_buf t = peer->body; /* swap: no copy of the common case */
        peer->body = peer->queue;
        peer->queue = t;
    } else {
        et_buf_append(&peer->body, peer->queue.data, take);
        memmove(peer->queue.data, peer->queue.data + take, peer->queue.len - take);
        peer->queue.len -= take;
    }
    peer->queue_msgs -= msgs;
    char host[300];
    snprintf(host, sizeof(host), "%s:%s", peer->host, peer->port);
    pthread_mutex_unlock(&p->lock);
    peer->body_msgs = msgs;
    et_buf_reset(&peer->head);
    et_buf_printf(&peer->head,
                  "POST " NET_PEER_PATH " HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                  "application/octet-stream\r\nContent-Length: %zu\r\nX-Etcetera-From: %" PRIx64
                  "\r\n\r\n",
                  host, peer->body.len, p->cfg.self_id);
    peer->out_off = 0;
    peer->state = PEER_SENDING;
    peer->sent_ns = et_mono_ns();
    peer->deadline_ns = peer->sent_ns + (int64_t)p->cfg.io_timeout_ms * ET_NS_PER_MSEC;
}

static void peer_write(struct net_peers *p, struct net_peer *peer)
{
    for (;;) {
        size_t total = peer->head.len + peer->body.len;
        if (peer->out_off == total) {
            peer->state = PEER_WAITING;
            return;
        }
        if (peer->ssl) { /* one SSL_write per buffer, retried with the same bytes after WANT_* */
            bool in_head = peer->out_off < peer->head.len;
            const char *src = in_head ? peer->head.data + peer->out_off
                                      : peer->body.data + (peer->out_off - peer->head.len);
            size_t len = in_head ? peer->head.len - peer->out_off : total - peer->out_off;
            size_t w = 0;
            peer->want = 0;
            ERR_clear_error();
            if (SSL_write_ex(peer->ssl, src, len, &w) != 1) {
                peer_tls_wait(p, peer, 0, errno, "sending");
                return;
            }
            peer->out_off += w;
            continue;
        }
        struct iovec iov[2];
        int n = 0;
        if (peer->out_off < peer->head.len)
            iov[n++] =
                (struct iovec){ peer->head.data + peer->out_off, peer->head.len - peer->out_off };
        size_t boff = peer->out_off > peer->head.len ? peer->out_off - peer->head.len : 0;
        if (boff < peer->body.len)
            iov[n++] = (struct iovec){ peer->body.data + boff, peer->body.len - boff };
        ssize_t w = writev(peer->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w < 0) {
            peer_fail(p, peer, "sending", errno);
            return;
        }
        peer->out_off += (size_t)w;
    }
}

static void peer_acked(struct net_peers *p, struct net_peer *peer)
{
    double ms = (double)(et_mono_ns() - peer->sent_ns) / 1e6;
    pthread_mutex_lock(&p->lock);
    struct net_peer_stats *s = &peer->stats;
    s->success += peer->body_msgs;
    s->requests++;
    s->current_ms = ms;
    s->last_success_ns = et_mono_ns();
    peer->sum_ms += ms;
    peer->sum_sq_ms += ms * ms;
    s->average_ms = peer->sum_ms / (double)s->requests;
    double var = peer->sum_sq_ms / (double)s->requests - s->average_ms * s->average_ms;
    s->stddev_ms = var > 0 ? sqrt(var) : 0;
    if (ms < s->min_ms)
        s->min_ms = ms;
    if (ms > s->max_ms)
        s->max_ms = ms;
    pthread_mutex_unlock(&p->lock);
    peer->body_msgs = 0;
    peer->backoff_ms = 0;
    peer->answered = true;
    et_buf_reset(&peer->body);
    et_buf_reset(&peer->in);
    peer->state = PEER_READY;
}

/*
 * Parses the answer in peer->in. Returns 1 when complete (2xx), 0 when more bytes are needed,
 * or a negative errno for a refused request or a malformed answer.
 */
static int response_parse(const struct et_buf *in, bool *close_after)
{
    const char *end = in->len ? memmem(in->data, in->len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
        return in->len > RESP_HEAD_MAX ? -EBADMSG : 0;
    int status = 0;
    if (sscanf(in->data, "HTTP/1.%*d %d", &status) != 1)
        return -EBADMSG;
    size_t head = (size_t)(end - in->data) + 4, clen = 0;
    *close_after = false;
    for (const char *l = strstr(in->data, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "content-length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
        else if (strncasecmp(l + 2, "connection: close", 17) == 0)
            *close_after = true;
        else if (strncasecmp(l + 2, "transfer-encoding:", 18) == 0)
            *close_after = true; /* not expected from our peers: read no further */
    }
    if (status == 204 || status == 304)
        clen = 0;
    if (in->len < head + clen)
        return 0;
    if (status == 410)
        return -EIDRM; /* the peer says we were removed */
    if (status < 200 || status > 299)
        return -EPROTO;
    return 1;
}

static void peer_read(struct net_peers *p, struct net_peer *peer)
{
    for (;;) {
        char *dst = et_buf_reserve(&peer->in, 4096);
        ssize_t r;
        if (peer->ssl) {
            size_t got = 0;
            peer->want = 0;
            ERR_clear_error();
            int ok = SSL_read_ex(peer->ssl, dst, 4096, &got), sys = errno;
            int e = ok == 1 ? SSL_ERROR_NONE : SSL_get_error(peer->ssl, 0);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                peer->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                return; /* includes TLS 1.3 session tickets arriving on an idle connection */
            }
            if (e == SSL_ERROR_SSL) { /* an alert (e.g. our certificate refused) or bad data */
                peer_fail_tls(p, peer, "reading the answer", e, sys);
                return;
            }
            errno = sys ? sys : ECONNRESET;
            r = ok == 1 ? (ssize_t)got : e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
        } else {
            r = read(peer->fd, dst, 4096);
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            if (peer->state == PEER_READY) { /* the peer closed an idle connection */
                peer_close(peer);
                return;
            }
            peer_fail(p, peer, "reading the answer", r == 0 ? ECONNRESET : errno);
            return;
        }
        peer->in.len += (size_t)r;
        peer->in.data[peer->in.len] = '\0';
        if (peer->state != PEER_WAITING) {
            peer_fail(p, peer, "unexpected bytes from", EPROTO);
            return;
        }
        bool close_after = false;
        int ret = response_parse(&peer->in, &close_after);
        if (ret == -EIDRM && p->cfg.on_gone)
            p->cfg.on_gone(p->cfg.data, peer->id);
        if (ret < 0) {
            peer_fail(p, peer, "the request", -ret);
            return;
        }
        if (ret == 1) {
            peer_acked(p, peer);
            if (close_after)
                peer_close(peer);
            return;
        }
    }
}

/* Drops removed peers; reconnects peers whose address changed. Called with the lock held. */
static void reap_locked(struct net_peers *p)
{
    size_t keep = 0;
    for (size_t i = 0; i < p->peer_count; i++) {
        struct net_peer *peer = p->peers[i];
        if (!peer->removed) {
            if (peer->addr_changed && peer->fd >= 0) {
                conn_close(peer);
                peer->state = PEER_IDLE;
                peer->stats.fail += peer->body_msgs;
                peer->body_msgs = 0;
                et_buf_reset(&peer->body);
                et_buf_reset(&peer->in);
            }
            p->peers[keep++] = peer;
            continue;
        }
        conn_close(peer);
        et_buf_free(&peer->queue);
        et_buf_free(&peer->head);
        et_buf_free(&peer->body);
        et_buf_free(&peer->in);
        et_free(peer->host);
        et_free(peer->port);
        et_free(peer);
    }
    p->peer_count = keep;
}

/* One poll round over every peer socket and the wake-up eventfd. */
static void peers_turn(struct net_peers *p)
{
    struct pollfd pfd[PEERS_MAX + 1];
    struct net_peer *who[PEERS_MAX + 1];
    size_t n = 0;
    int64_t now = et_mono_ns(), wake_ns = now + 100 * ET_NS_PER_MSEC;

    /* Re-arm before looking at the queues: a send after this point writes the eventfd. */
    __atomic_store_n(&p->wake_pending, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&p->lock);
    reap_locked(p);
    struct net_peer *peers[PEERS_MAX];
    size_t count = p->peer_count;
    bool queued[PEERS_MAX];
    for (size_t i = 0; i < count; i++) {
        peers[i] = p->peers[i];
        queued[i] = peers[i]->queue_msgs > 0;
    }
    pthread_mutex_unlock(&p->lock);

    for (size_t i = 0; i < count; i++) {
        struct net_peer *peer = peers[i];
        if (peer->state == PEER_IDLE && queued[i]) {
            if (now >= peer->retry_ns)
                peer_connect(p, peer);
            else if (peer->retry_ns < wake_ns)
                wake_ns = peer->retry_ns;
        }
        if (peer->state == PEER_READY && queued[i])
            peer_start_request(p, peer);
        if (peer->state == PEER_SENDING)
            peer_write(p, peer);
        if (peer->state != PEER_IDLE && peer->state != PEER_READY && now > peer->deadline_ns) {
            peer_fail(p, peer, "the request (timed out)", ETIMEDOUT);
            continue;
        }
        if (peer->fd < 0)
            continue;
        short ev = POLLIN;
        if (peer->state == PEER_CONNECTING || peer->state == PEER_SENDING)
            ev = POLLOUT;
        if (peer->want)
            ev = peer->want; /* OpenSSL's wish overrides the state's */
        pfd[n] = (struct pollfd){ .fd = peer->fd, .events = ev };
        who[n++] = peer;
        if (peer->state != PEER_READY && peer->deadline_ns < wake_ns)
            wake_ns = peer->deadline_ns;
    }
    pfd[n] = (struct pollfd){ .fd = p->efd, .events = POLLIN };
    int64_t wait_ns = wake_ns - now;
    int timeout_ms = wait_ns <= 0 ? 0 : (int)((wait_ns + ET_NS_PER_MSEC - 1) / ET_NS_PER_MSEC);
    if (poll(pfd, n + 1, timeout_ms) <= 0)
        return;
    if (pfd[n].revents) {
        uint64_t v;
        if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            et_warn("peer: reading the wake-up eventfd: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
        struct net_peer *peer = who[i];
        if (!pfd[i].revents || peer->fd != pfd[i].fd)
            continue;
        if (peer->state == PEER_CONNECTING) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(peer->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err)
                peer_fail(p, peer, "connect", err);
            else
                peer_connected(p, peer);
        } else if (peer->state == PEER_HANDSHAKE) {
            peer_handshake(p, peer);
        } else if (peer->state == PEER_SENDING) {
            peer_write(p, peer);
        } else {
            peer_read(p, peer);
        }
    }
}

static void *peers_main(void *arg)
{
    struct net_peers *p = arg;
    /* A peer that closes while we write must give EPIPE, not kill the process: writev and
     * OpenSSL's socket writes raise SIGPIPE, delivered to this thread, which keeps it blocked
     * (whatever the embedding program does with the signal). */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    while (!__atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
        peers_turn(p);
    return NULL;
}

int net_peers_start(const struct net_peers_config *cfg, struct net_peers **out)
{
    struct net_peers *p = et_calloc(1, sizeof(*p));
    p->cfg = *cfg;
    if (p->cfg.queue_bytes_max == 0)
        p->cfg.queue_bytes_max = (size_t)256 << 20;
    if (p->cfg.batch_bytes_max == 0)
        p->cfg.batch_bytes_max = (size_t)8 << 20;
    if (p->cfg.io_timeout_ms == 0)
        p->cfg.io_timeout_ms = 5000;
    if (p->cfg.backoff_max_ms == 0)
        p->cfg.backoff_max_ms = 1000;
    const struct net_peer_tls *t = &p->cfg.tls;
    if ((t->cert_file || t->key_file || t->trusted_ca_file) &&
        (p->ssl_ctx = tls_client_ctx(t)) == NULL) {
        et_free(p);
        return -EINVAL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0) {
        int ret = -errno;
        pthread_mutex_destroy(&p->lock);
        SSL_CTX_free(p->ssl_ctx);
        et_free(p);
        return ret;
    }
    int ret = pthread_create(&p->thread, NULL, peers_main, p);
    if (ret != 0) {
        SSL_CTX_free(p->ssl_ctx);
        close(p->efd);
        pthread_mutex_destroy(&p->lock);
        et_free(p);
        return -ret;
    }
    *out = p;
    return 0;
}

void net_peers_stop(struct net_peers *p)
{
    if (p == NULL)
        return;
    __atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->peer_count; i++)
        p->peers[i]->removed = true;
    reap_locked(p);
    SSL_CTX_free(p->ssl_ctx);
    close(p->efd);
    pthread_mutex_destroy(&p->lock);
    et_free(p);
}

/* ---- start-up fetch ----------------------------------------------------------------------- */

/* Waits until @fd has @events or @deadline passes: 0 or -ETIMEDOUT. */
static int fd_wait(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    for (;;) {
        int64_t left = (deadline - et_mono_ns() + ET_NS_PER_MSEC - 1) / ET_NS_PER_MSEC;
        if (left <= 0)
            return -ETIMEDOUT;
        int r = poll(&pfd, 1, (int)left);
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/*
 * After a TLS call on @ssl failed with @r (errno @sys): waits for what OpenSSL wants and
 * returns 0 (retry the call), -ETIMEDOUT, 1 for a clean TLS close, or -EPROTO with the reason
 * in @why.
 */
static int tls_get_wait(SSL *ssl, int fd, int r, int sys, int64_t deadline, char *why, size_t n)
{
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return fd_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 1;
    tls_reason(ssl, e, sys, why, n);
    return -EPROTO;
}

static int64_t tls_get_logged_ns; /* net_http_get()'s TLS failures, any thread */

int net_http_get(const char *url, const char *path, const struct net_peer_tls *tls,
                 uint32_t timeout_ms, struct et_buf *resp)
{
    static const struct net_peer_tls no_tls = { 0 };
    struct et_url u;
    char err[256];
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int64_t deadline = et_mono_ns() + (int64_t)timeout_ms * ET_NS_PER_MSEC;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    struct et_buf req = ET_BUF_INIT;
    int ret, fd = -1;
    if (et_url_parse(url, &u, err, sizeof(err)) != 0)
        return -EINVAL;
    bool https = strcmp(u.scheme, "https") == 0;
    if ((!https && strcmp(u.scheme, "http") != 0) || u.port[0] == '\0' ||
        getaddrinfo(u.host, u.port, &hints, &ai) != 0 || ai == NULL) {
        et_url_free(&u);
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        ret = -errno;
        goto out;
    }
    if ((ret = fd_wait(fd, POLLOUT, deadline)) != 0)
        goto out;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        ret = -soerr;
        goto out;
    }
    if (https) {
        ret = -EPROTO;
        if ((ctx = tls_client_ctx(tls ? tls : &no_tls)) == NULL)
            goto out;
        if ((ssl = tls_conn_new(ctx, fd, u.host)) == NULL) {
            tls_reason(NULL, SSL_ERROR_SSL, 0, err, sizeof(err));
            goto tls_failed;
        }
        for (;;) {
            ERR_clear_error();
            int r = SSL_connect(ssl);
            if (r == 1)
                break;
            ret = tls_get_wait(ssl, fd, r, errno, deadline, err, sizeof(err));
            if (ret == 1) {
                ret = -EPROTO;
                snprintf(err, sizeof(err), "connection closed by the peer during TLS");
            }
            if (ret == -EPROTO)
                goto tls_failed;
            if (ret < 0)
                goto out;
        }
    }
    et_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", path, u.host,
                  u.port);
    for (size_t off = 0; off < req.len;) {
        size_t w = 0;
        if (ssl) {
            ERR_clear_error();
            if (SSL_write_ex(ssl, req.data + off, req.len - off, &w) != 1) {
                ret = tls_get_wait(ssl, fd, 0, errno, deadline, err, sizeof(err));
                if (ret == 1)
                    ret = -ECONNRESET;
                if (ret == -EPROTO)
                    goto tls_failed;
                if (ret < 0)
                    goto out;
            }
        } else {
            ssize_t n = write(fd, req.data + off, req.len - off);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                ret = -errno;
                goto out;
            }
            if (n < 0 && (ret = fd_wait(fd, POLLOUT, deadline)) != 0)
                goto out;
            w = n > 0 ? (size_t)n : 0;
        }
        off += w;
    }
    for (;;) {
        char *dst = et_buf_reserve(resp, 4096);
        size_t got = 0;
        if (ssl) {
            ERR_clear_error();
            if (SSL_read_ex(ssl, dst, 4096, &got) != 1) {
                ret = tls_get_wait(ssl, fd, 0, errno, deadline, err, sizeof(err));
                if (ret == 1)
                    break; /* close_notify, or a bare close (SSL_OP_IGNORE_UNEXPECTED_EOF) */
                if (ret == -EPROTO)
                    goto tls_failed;
                if (ret < 0)
                    goto out;
                continue;
            }
        } else {
            ssize_t r = read(fd, dst, 4096);
            if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
                if ((ret = fd_wait(fd, POLLIN, deadline)) != 0)
                    goto out;
                continue;
            }
            if (r < 0) {
                ret = -errno;
                goto out;
            }
            if (r == 0)
                break;
            got = (size_t)r;
        }
        resp->len += got;
        resp->data[resp->len] = '\0';
    }
    int status = 0;
    ret = resp->len && sscanf(resp->data, "HTTP/1.%*d %d", &status) == 1 ? status : -EBADMSG;
    goto out;
tls_failed:
    if (tls_log_due(&tls_get_logged_ns))
        et_warn("peer: TLS with %s failed: %s", url, err);
    ret = -EPROTO;
out:
    if (ssl)
        SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    et_buf_free(&req);
    freeaddrinfo(ai);
    et_url_free(&u);
    return ret;
}
