/*
 * net/peer.c - the member-to-member transport (contract and wire format in net/peer.h).
 *
 * One thread serves every peer (a cluster has at most a few dozen) with non-blocking sockets
 * and poll(2): peer traffic is a handful of connections, so a ring per peer would buy nothing.
 * Each peer moves through
 *
 *     IDLE (no socket) ──queue not empty, backoff over──► CONNECTING ──► READY
 *     READY ──queue not empty──► SENDING (writev header + body) ──► WAITING (read the answer)
 *     WAITING ──2xx──► READY            any error or timeout ──► IDLE (batch dropped, backoff)
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

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"

#define PEERS_MAX      64u
#define RESP_HEAD_MAX  4096u
#define BACKOFF_MIN_MS 20u
#define STATS_MIN_INIT 9223372036854775808.0 /* 2^63, etcd's "no sample yet" */

enum peer_state {
    PEER_IDLE,
    PEER_CONNECTING,
    PEER_READY,
    PEER_SENDING,
    PEER_WAITING,
};

struct net_peer {
    uint64_t id;
    char *host; /* guarded by the mutex */
    char *port;
    bool addr_changed;           /* guarded: reconnect to the new address */
    bool removed;                /* guarded: the thread frees it */
    struct et_buf queue;         /* guarded: frames waiting */
    size_t queue_msgs;           /* guarded */
    struct net_peer_stats stats; /* guarded */
    double sum_ms, sum_sq_ms;    /* guarded */

    /* thread only */
    enum peer_state state;
    int fd;
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
};

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
    if (strcmp(u.scheme, "http") != 0 || u.port[0] == '\0') {
        et_error("peer: cannot use peer URL %s of member %" PRIx64 ": only http://host:port is "
                 "supported",
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
        p->peers[p->peer_count++] = peer;
    } else if (strcmp(peer->host, u.host) != 0 || strcmp(peer->port, u.port) != 0) {
        et_free(peer->host);
        et_free(peer->port);
        peer->host = et_strdup(u.host);
        peer->port = et_strdup(u.port);
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

static void peer_close(struct net_peer *peer)
{
    if (peer->fd >= 0)
        close(peer->fd);
    peer->fd = -1;
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

static void peer_connect(struct net_peers *p, struct net_peer *peer)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char host[256], port[16];
    pthread_mutex_lock(&p->lock);
    snprintf(host, sizeof(host), "%s", peer->host);
    snprintf(port, sizeof(port), "%s", peer->port);
    peer->addr_changed = false;
    pthread_mutex_unlock(&p->lock);
    int ret = getaddrinfo(host, port, &hints, &ai);
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
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        peer->state = PEER_READY;
    else if (errno != EINPROGRESS)
        peer_fail(p, peer, "connect", errno);
    freeaddrinfo(ai);
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
        ssize_t r = read(peer->fd, dst, 4096);
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
                close(peer->fd);
                peer->fd = -1;
                peer->state = PEER_IDLE;
                peer->stats.fail += peer->body_msgs;
                peer->body_msgs = 0;
                et_buf_reset(&peer->body);
                et_buf_reset(&peer->in);
            }
            p->peers[keep++] = peer;
            continue;
        }
        if (peer->fd >= 0)
            close(peer->fd);
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
                peer->state = PEER_READY;
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
    pthread_mutex_init(&p->lock, NULL);
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0) {
        int ret = -errno;
        pthread_mutex_destroy(&p->lock);
        et_free(p);
        return ret;
    }
    int ret = pthread_create(&p->thread, NULL, peers_main, p);
    if (ret != 0) {
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
    close(p->efd);
    pthread_mutex_destroy(&p->lock);
    et_free(p);
}

/* ---- start-up fetch ----------------------------------------------------------------------- */

int net_http_get(const char *url, const char *path, uint32_t timeout_ms, struct et_buf *resp)
{
    struct et_url u;
    char err[256];
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int64_t deadline = et_mono_ns() + (int64_t)timeout_ms * ET_NS_PER_MSEC;
    int ret;
    if (et_url_parse(url, &u, err, sizeof(err)) != 0)
        return -EINVAL;
    if (strcmp(u.scheme, "http") != 0 || u.port[0] == '\0' ||
        getaddrinfo(u.host, u.port, &hints, &ai) != 0 || ai == NULL) {
        et_url_free(&u);
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        ret = -errno;
        goto out;
    }
    if (poll(&pfd, 1, (int)timeout_ms) <= 0) {
        ret = -ETIMEDOUT;
        goto out;
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        ret = -soerr;
        goto out;
    }
    struct et_buf req = ET_BUF_INIT;
    et_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", path, u.host,
                  u.port);
    ret = write(fd, req.data, req.len) == (ssize_t)req.len ? 0 : -EIO;
    et_buf_free(&req);
    if (ret < 0)
        goto out;
    for (;;) {
        int64_t left = (deadline - et_mono_ns()) / ET_NS_PER_MSEC;
        pfd.events = POLLIN;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            ret = -ETIMEDOUT;
            goto out;
        }
        char *dst = et_buf_reserve(resp, 4096);
        ssize_t r = read(fd, dst, 4096);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            ret = -errno;
            goto out;
        }
        if (r == 0)
            break;
        resp->len += (size_t)r;
        resp->data[resp->len] = '\0';
    }
    int status = 0;
    ret = resp->len && sscanf(resp->data, "HTTP/1.%*d %d", &status) == 1 ? status : -EBADMSG;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    et_url_free(&u);
    return ret;
}
