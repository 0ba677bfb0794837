/*
 * net/reactor.c - one reactor thread per core.
 *
 * Each reactor owns an io_uring ring (SINGLE_ISSUER | DEFER_TASKRUN), an h2o event loop and one
 * h2o context per service. The ring does multishot accept on the reactor's own SO_REUSEPORT
 * listeners and POLLRDHUP polls for parked responses; accepted sockets go to h2o, which owns
 * HTTP. SQEs are queued where they arise and submitted once per loop iteration, before the loop
 * blocks (reactor_run_once), so a burst of parked responses costs one io_uring_enter. The ring's
 * registered eventfd is itself an h2o socket, so h2o_evloop_run() is the one blocking call of the
 * thread: when it turns readable we reap completions (io_uring_get_events then the CQ) and drain
 * the cross-thread inbox (net_post pushes there and writes the eventfd).
 *
 * Lifetimes: whatever an SQE points to lives until its CQE. Accept SQEs point to the reactor's
 * listener slots (live until the thread ends). A hang-up poll points to the connection's struct
 * net_hup: one per connection that ever parked a response, armed once and kept across its
 * keep-alive requests (a response that ends only clears ->fn, no SQE); the connection's close
 * asks the kernel to remove a poll still in flight, and that poll's CQE frees the struct.
 *
 * Shutdown (net_stop): each reactor cancels its accepts, lets the application finish parked
 * responses (on_shutdown), and runs until its connections are gone or 0.5 s passed; what is
 * still open then (idle keep-alive clients) stays allocated until the process exits.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/net.h"

#define NET_RING_ENTRIES 1024
#define NET_TAG_ACCEPT   1u
#define NET_TAG_HUP      2u
#define NET_TAG_MASK     3u
#define NET_SHUTDOWN_NS  (500 * ET_NS_PER_MSEC)

struct net_listener {
    int fd;                      /* listening socket (this reactor's own, SO_REUSEPORT) */
    uint8_t service;             /* enum net_service */
    h2o_accept_ctx_t accept_ctx; /* the service's context, with this listener's TLS */
    bool armed;                  /* a multishot accept is in flight */
};

struct net_reactor {
    struct net *net;
    unsigned id;
    pthread_t thread;
    h2o_evloop_t *loop;
    h2o_context_t ctx[NET_SERVICE_COUNT];
    h2o_accept_ctx_t accept_ctx[NET_SERVICE_COUNT];
    struct io_uring ring;
    int efd; /* ring's registered eventfd, also net_post's wake-up */
    h2o_socket_t *efd_sock;
    struct net_listener *listeners;
    size_t listener_count;
    struct et_mpsc inbox;
    size_t conn_count; /* connections of this reactor */
    bool stopping;
    void *user;
    char _pad[64];
};

struct net {
    struct net_config cfg;
    h2o_globalconf_t globalconf[NET_SERVICE_COUNT];
    struct net_reactor *reactors;
    unsigned reactor_count;
    size_t conn_count; /* atomic, all reactors */
};

struct net_hup {
    void (*fn)(void *data); /* the parked response's callback; NULL while none is parked */
    void *data;
    h2o_socket_t *sock;   /* of this reactor's (self_reactor) */
    h2o_req_t *req;       /* the parked request */
    h2o_buffer_t *parked; /* the request's bytes while the socket reads into a fresh buffer */
    bool reading;         /* on_parked_read is the socket's read callback */
    bool armed;           /* a POLLRDHUP poll is in flight */
    bool closed;          /* the connection is gone: the poll's CQE frees this */
};

static __thread struct net_reactor *self_reactor;

static void hup_fire(struct net_hup *h);

/* A response for connections beyond max_connections, written before closing. */
static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Length: 29\r\nConnection: close\r\n\r\n"
                                    "too many open connections\r\n\r\n";

/* ---- listeners ------------------------------------------------------------------------- */

/*
 * Resolves a listen address as etcd (Go) does: "localhost" is 127.0.0.1 even where no hosts
 * file says so, and IPv4 answers come before IPv6 ones (a name that resolves to both binds its
 * IPv4 address, like Go's listener).
 */
static int resolve_listen(const struct net_listener_config *lc, struct addrinfo **res)
{
    struct addrinfo hints = { .ai_family = AF_INET,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    const char *host = lc->host[0] ? lc->host : NULL;
    char port[8];

    snprintf(port, sizeof(port), "%u", lc->port);
    if (host && strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (getaddrinfo(host, port, &hints, res) == 0)
        return 0;
    hints.ai_family = AF_UNSPEC;
    return getaddrinfo(host, port, &hints, res) == 0 ? 0 : -EADDRNOTAVAIL;
}

/*
 * Binds @lc once without SO_REUSEPORT and closes it: fails with -EADDRINUSE when anything
 * (another etcetera included) already listens there. Without this probe a second server of the
 * same user would silently join the first one's SO_REUSEPORT group and share its clients.
 */
static int probe_free(const struct net_listener_config *lc)
{
    struct addrinfo *res;
    int ret = 0;
    if (resolve_listen(lc, &res) != 0)
        return -EADDRNOTAVAIL;
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ret = -errno;
    } else {
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (res->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
            ret = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    return ret;
}

static int listen_on(const struct net_listener_config *lc)
{
    struct addrinfo *res, *ai;
    int fd = -1, on = 1, err = -EADDRNOTAVAIL;
    if (resolve_listen(lc, &res) != 0)
        return -EADDRNOTAVAIL;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        err = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd >= 0 ? fd : err;
}

/* ---- io_uring ------------------------------------------------------------------------------ */

static struct io_uring_sqe *get_sqe(struct net_reactor *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (sqe == NULL) {
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
    }
    ET_ASSERT(sqe != NULL);
    return sqe;
}

static void arm_accept(struct net_reactor *r, struct net_listener *l)
{
    struct io_uring_sqe *sqe = get_sqe(r);
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)l | NET_TAG_ACCEPT);
    l->armed = true;
}

static void on_conn_close(void *data)
{
    struct net_reactor *r = data;
    ET_ASSERT(r->conn_count > 0);
    r->conn_count--;
    __atomic_sub_fetch(&r->net->conn_count, 1, __ATOMIC_RELAXED);
}

/* The on_close of a connection that has a struct net_hup (see net_hup_watch). */
static void on_conn_close_hup(void *data)
{
    struct net_hup *h = data;
    struct net_reactor *r = self_reactor; /* h2o closes sockets on their reactor's thread */
    on_conn_close(r);
    h->fn = NULL;
    h->reading = false;
    if (h->parked) /* h2o has disposed of the socket's own buffer */
        h2o_buffer_dispose(&h->parked);
    if (!h->armed) {
        et_free(h);
        return;
    }
    h->closed = true;
    struct io_uring_sqe *sqe = get_sqe(r);
    io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)h | NET_TAG_HUP);
    io_uring_sqe_set_data64(sqe, 0);
}

static void on_accepted(struct net_reactor *r, struct net_listener *l, int fd)
{
    struct net *n = r->net;
    int on = 1;

    if (n->cfg.max_connections &&
        __atomic_load_n(&n->conn_count, __ATOMIC_RELAXED) >= n->cfg.max_connections) {
        ssize_t w = write(fd, busy_response, sizeof(busy_response) - 1);
        (void)w;
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    h2o_socket_t *sock =
        h2o_evloop_socket_create(r->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = r;
    r->conn_count++;
    __atomic_add_fetch(&n->conn_count, 1, __ATOMIC_RELAXED);
    h2o_accept(&l->accept_ctx, sock);
}

static void handle_cqe(struct net_reactor *r, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    unsigned tag = (unsigned)(ud & NET_TAG_MASK);
    void *p = (void *)(uintptr_t)(ud & ~(uint64_t)NET_TAG_MASK);

    if (tag == NET_TAG_ACCEPT) {
        struct net_listener *l = p;
        if (cqe->res >= 0)
            on_accepted(r, l, cqe->res);
        else if (cqe->res != -ECANCELED && cqe->res != -EAGAIN && cqe->res != -EINTR)
            et_warn("reactor %u: accept failed: %s", r->id, strerror(-cqe->res));
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            l->armed = false;
            if (!r->stopping)
                arm_accept(r, l);
        }
    } else if (tag == NET_TAG_HUP) {
        struct net_hup *h = p;
        void (*fn)(void *data) = h->fn;
        h->armed = false;
        if (h->closed) {
            et_free(h);
        } else if (fn && cqe->res != -ECANCELED) {
            hup_fire(h);
        }
    }
    /* tag 0: completions of cancel / poll-remove requests, nothing to do */
}

static void reap(struct net_reactor *r)
{
    struct io_uring_cqe *cqe;
    unsigned head, count = 0;

    io_uring_get_events(&r->ring);
    io_uring_for_each_cqe(&r->ring, head, cqe)
    {
        handle_cqe(r, cqe);
        count++;
    }
    io_uring_cq_advance(&r->ring, count);
}

static void drain_inbox(struct net_reactor *r)
{
    struct et_mpsc_node *node;
    while ((node = et_mpsc_pop(&r->inbox)) != NULL) {
        struct et_msg *m = (struct et_msg *)node;
        m->fn(m);
    }
}

static void on_wakeup(h2o_socket_t *sock, const char *err)
{
    struct net_reactor *r = sock->data;
    ET_ASSERT(err == NULL);
    h2o_buffer_consume(&sock->input, sock->input->size);
    reap(r);
    drain_inbox(r);
    io_uring_submit(&r->ring);
}

/* ---- public API ---------------------------------------------------------------------------- */

void net_post(struct net_reactor *r, struct et_msg *m)
{
    uint64_t one = 1;
    et_mpsc_push(&r->inbox, &m->_node);
    ssize_t w = write(r->efd, &one, sizeof(one));
    (void)w; /* EAGAIN only when the counter is saturated: a wake-up is pending anyway */
}

/*
 * Parked HTTP/1 requests. h2o parses a request in place, so its request line, headers and what
 * derives from them point into the socket's read buffer (8 KB, allocated for reading), and it
 * stops reading the connection until the response ends, so a client that leaves would go
 * unnoticed. While a request is parked its bytes move to an exact-size buffer of their own
 * (the request is pointed at the copy) and the socket keeps reading into a fresh buffer with
 * our callback: a hang-up ends the parked response, bytes the client sends ahead (a pipelined
 * request) stay for h2o, which gets its buffer back (the request's bytes, then those) before
 * the response ends. The epoll interest stays as it was: no epoll_ctl per parked response.
 * TLS sockets, and a socket that got bytes ahead, are watched with a POLLRDHUP io_uring poll.
 */
static void rebase(const char **p, const char *from, size_t len, char *to)
{
    if (*p != NULL && *p >= from && *p < from + len)
        *p = to + (*p - from);
}

static void rebase_iov(h2o_iovec_t *v, const char *from, size_t len, char *to)
{
    rebase((const char **)&v->base, from, len, to);
}

static void rebase_headers(h2o_headers_t *hs, const char *from, size_t len, char *to)
{
    for (size_t i = 0; i < hs->size; i++) {
        h2o_header_t *h = &hs->entries[i];
        if (!h2o_iovec_is_token(h->name))
            rebase_iov(h->name, from, len, to);
        rebase(&h->orig_name, from, len, to);
        rebase_iov(&h->value, from, len, to);
    }
}

/* Points @req's strings that lie in @from's bytes at the same bytes of @to. */
static void rebase_request(h2o_req_t *req, const h2o_buffer_t *from, h2o_buffer_t *to)
{
    const char *f = from->bytes;
    size_t len = from->size;
    char *t = to->bytes;
    rebase_iov(&req->input.authority, f, len, t);
    rebase_iov(&req->input.method, f, len, t);
    rebase_iov(&req->input.path, f, len, t);
    rebase_iov(&req->authority, f, len, t);
    rebase_iov(&req->method, f, len, t);
    rebase_iov(&req->path, f, len, t);
    rebase_iov(&req->path_normalized, f, len, t);
    rebase_iov(&req->entity, f, len, t);
    rebase_iov(&req->upgrade, f, len, t);
    rebase_headers(&req->headers, f, len, t);
    rebase_headers(&req->res.headers, f, len, t);
    for (size_t i = 0; i < req->env.size; i++)
        rebase_iov(&req->env.entries[i], f, len, t);
}

/* A buffer of exactly @a's bytes then @b's (b may be NULL), for @a's prototype. A capacity
 * unlike the prototype's makes h2o free it with free() and grow it by copying. */
static h2o_buffer_t *buffer_join(const h2o_buffer_t *a, const h2o_buffer_t *b)
{
    size_t blen = b ? b->size : 0, len = a->size + blen;
    h2o_buffer_t *n = h2o_mem_alloc(offsetof(h2o_buffer_t, _buf) + len);
    n->capacity = len;
    n->size = len;
    n->bytes = n->_buf;
    n->_prototype = a->_prototype;
    n->_fd = -1;
    memcpy(n->_buf, a->bytes, a->size);
    if (blen)
        memcpy(n->_buf + a->size, b->bytes, blen);
    return n;
}

static void on_parked_read(h2o_socket_t *sock, const char *err);

static void arm_poll(struct net_hup *h)
{
    if (h->armed)
        return;
    /* queued: the reactor submits before it next blocks */
    struct io_uring_sqe *sqe = get_sqe(self_reactor);
    io_uring_prep_poll_add(sqe, h2o_socket_get_fd(h->sock), POLLRDHUP);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)h | NET_TAG_HUP);
    h->armed = true;
}

/* Gives the socket its request buffer back, with whatever was read ahead appended. */
static void unpark_input(struct net_hup *h)
{
    h2o_socket_t *sock = h->sock;
    if (h->reading) {
        h2o_socket_read_stop(sock);
        h->reading = false;
    }
    if (h->parked == NULL)
        return;
    h2o_buffer_t *ahead = sock->input;
    if (ahead->size) {
        h2o_buffer_t *joined = buffer_join(h->parked, ahead);
        rebase_request(h->req, h->parked, joined);
        h2o_buffer_dispose(&h->parked);
        h->parked = joined;
    }
    h2o_buffer_dispose(&sock->input);
    sock->input = h->parked;
    h->parked = NULL;
}

/* The client left: the parked response's callback runs once, with h2o's buffer restored. */
static void hup_fire(struct net_hup *h)
{
    void (*fn)(void *data) = h->fn;
    unpark_input(h);
    h->fn = NULL; /* @fn may end the response and even the connection */
    fn(h->data);
}

static void on_parked_read(h2o_socket_t *sock, const char *err)
{
    struct net_hup *h = sock->on_close.data;
    ET_ASSERT(sock->on_close.cb == on_conn_close_hup && h->reading && h->fn != NULL);
    if (err != NULL) {
        hup_fire(h);
    } else if (sock->input->size == 0) {
        h2o_buffer_dispose(&sock->input); /* nothing read: give the fresh buffer back */
        h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    } else {
        /* bytes ahead of the response: keep them for h2o, stop reading, watch by poll */
        h2o_socket_read_stop(sock);
        h->reading = false;
        arm_poll(h);
    }
}

#define NET_COMPACT_MAX 4096 /* requests larger than this keep their buffer while parked */

struct net_hup *net_hup_watch(h2o_req_t *req, void (*fn)(void *data), void *data)
{
    struct net_reactor *r = self_reactor;
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (r == NULL || sock == NULL || req->version >= 0x200 || h2o_socket_get_fd(sock) < 0)
        return NULL;
    struct net_hup *h;
    if (sock->on_close.cb == on_conn_close_hup) {
        h = sock->on_close.data;
    } else if (sock->on_close.cb == on_conn_close) {
        h = et_alloc(sizeof(*h));
        *h = (struct net_hup){ .sock = sock };
        sock->on_close.cb = on_conn_close_hup;
        sock->on_close.data = h;
    } else {
        return NULL;
    }
    ET_ASSERT(h->sock == sock && h->fn == NULL && h->parked == NULL);
    h->fn = fn;
    h->data = data;
    h->req = req;
    h2o_buffer_t *in = sock->input;
    if (sock->ssl != NULL || h2o_socket_is_reading(sock) || in->bytes == NULL || in->_fd != -1) {
        arm_poll(h);
        return h;
    }
    if (in->size <= NET_COMPACT_MAX) {
        h->parked = buffer_join(in, NULL);
        rebase_request(req, in, h->parked);
        h2o_buffer_dispose(&sock->input);
    } else {
        h->parked = in;
    }
    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    h->reading = true;
    h2o_socket_read_start(sock, on_parked_read);
    return h;
}

void net_hup_cancel(struct net_hup *h)
{
    if (h == NULL)
        return;
    ET_ASSERT(self_reactor != NULL);
    /* a poll stays armed for the connection's next parked response */
    unpark_input(h);
    h->fn = NULL;
    h->data = NULL;
    h->req = NULL;
}

unsigned net_reactor_count(const struct net *n)
{
    return n->reactor_count;
}

struct net_reactor *net_reactor_at(struct net *n, unsigned i)
{
    ET_ASSERT(i < n->reactor_count);
    return &n->reactors[i];
}

struct net_reactor *net_reactor_self(void)
{
    return self_reactor;
}

unsigned net_reactor_id(const struct net_reactor *r)
{
    return r->id;
}

void **net_reactor_user(struct net_reactor *r)
{
    return &r->user;
}

h2o_evloop_t *net_reactor_loop(struct net_reactor *r)
{
    return r->loop;
}

size_t net_connection_count(const struct net *n)
{
    return __atomic_load_n(&n->conn_count, __ATOMIC_RELAXED);
}

/* ---- the reactor thread -------------------------------------------------------------------- */

static void reactor_setup(struct net_reactor *r)
{
    struct net *n = r->net;
    struct io_uring_params params = { .flags =
                                          IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    int ret = io_uring_queue_init_params(NET_RING_ENTRIES, &r->ring, &params);
    if (ret < 0) {
        et_error("reactor %u: io_uring_queue_init: %s", r->id, strerror(-ret));
        abort();
    }
    ET_ASSERT(io_uring_register_eventfd(&r->ring, r->efd) == 0);
    r->loop = h2o_evloop_create();
    for (int s = 0; s < NET_SERVICE_COUNT; s++) {
        h2o_context_init(&r->ctx[s], r->loop, &n->globalconf[s]);
        r->accept_ctx[s] = (h2o_accept_ctx_t){ .ctx = &r->ctx[s], .hosts = n->globalconf[s].hosts };
    }
    for (size_t i = 0; i < r->listener_count; i++) {
        struct net_listener *l = &r->listeners[i];
        l->accept_ctx = r->accept_ctx[l->service];
        l->accept_ctx.ssl_ctx = n->cfg.listeners[i].ssl_ctx;
    }
    r->efd_sock = h2o_evloop_socket_create(r->loop, r->efd, 0);
    r->efd_sock->data = r;
    h2o_socket_read_start(r->efd_sock, on_wakeup);
    for (size_t i = 0; i < r->listener_count; i++)
        arm_accept(r, &r->listeners[i]);
    io_uring_submit(&r->ring);
}

/* One turn of the event loop; SQEs queued by the previous turn are submitted before it blocks. */
static void reactor_run_once(struct net_reactor *r, int32_t max_wait)
{
    if (io_uring_sq_ready(&r->ring) > 0)
        io_uring_submit(&r->ring);
    h2o_evloop_run(r->loop, max_wait); /* -1 on EINTR: the caller loops */
}

static bool listeners_armed(const struct net_reactor *r)
{
    for (size_t i = 0; i < r->listener_count; i++)
        if (r->listeners[i].armed)
            return true;
    return false;
}

static void reactor_drain_and_close(struct net_reactor *r)
{
    struct net *n = r->net;
    for (size_t i = 0; i < r->listener_count; i++) {
        if (r->listeners[i].armed) {
            struct io_uring_sqe *sqe = get_sqe(r);
            io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&r->listeners[i] | NET_TAG_ACCEPT, 0);
            io_uring_sqe_set_data64(sqe, 0);
        }
    }
    io_uring_submit(&r->ring);
    if (n->cfg.on_shutdown)
        n->cfg.on_shutdown(r, n->cfg.data);
    /* h2o_context_request_shutdown() is not used: its HTTP/2 graceful-shutdown timer would
     * outlive the connections and keep the contexts from being disposed. */
    int64_t deadline = et_mono_ns() + NET_SHUTDOWN_NS;
    while ((r->conn_count > 0 || listeners_armed(r)) && et_mono_ns() < deadline)
        reactor_run_once(r, 20);
}

static bool hups_pending(struct net_reactor *r)
{
    /* the ring has no pending-count API; submit what closes queued, then reap what is ready */
    io_uring_submit(&r->ring);
    reap(r);
    return false;
}

static void reactor_teardown(struct net_reactor *r)
{
    struct net *n = r->net;
    (void)hups_pending(r);
    if (n->cfg.on_thread_stop)
        n->cfg.on_thread_stop(r, n->cfg.data);
    h2o_socket_read_stop(r->efd_sock);
    h2o_socket_close(r->efd_sock);
    for (size_t i = 0; i < r->listener_count; i++)
        close(r->listeners[i].fd);
    /* Connections still open past the deadline keep the contexts and the loop alive; they stay
     * reachable from the reactor (the process is exiting) rather than being freed under them. */
    if (r->conn_count == 0) {
        for (int s = 0; s < NET_SERVICE_COUNT; s++)
            h2o_context_dispose(&r->ctx[s]);
        h2o_evloop_run(r->loop, 0);
        h2o_evloop_destroy(r->loop);
        r->loop = NULL;
    }
    io_uring_queue_exit(&r->ring);
}

static void *reactor_main(void *arg)
{
    struct net_reactor *r = arg;
    struct net *n = r->net;
    char name[16];

    snprintf(name, sizeof(name), "reactor-%u", r->id);
    pthread_setname_np(pthread_self(), name);
    self_reactor = r;
    reactor_setup(r);
    if (n->cfg.on_thread_start)
        n->cfg.on_thread_start(r, n->cfg.data);
    while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE))
        reactor_run_once(r, INT32_MAX);
    reactor_drain_and_close(r);
    reactor_teardown(r);
    self_reactor = NULL;
    return NULL;
}

static void on_stop_msg(struct et_msg *m)
{
    et_free(m); /* the stopping flag is already set; the wake-up ends h2o_evloop_run */
}

static void globalconf_init(struct net *n, int service)
{
    h2o_globalconf_t *gc = &n->globalconf[service];
    h2o_config_init(gc);
    gc->server_name = h2o_iovec_init(H2O_STRLIT(""));
    gc->max_request_entity_size = service == NET_SERVICE_PEER && n->cfg.peer_max_request_bytes
                                      ? n->cfg.peer_max_request_bytes
                                      : n->cfg.max_request_bytes;
    if (n->cfg.req_timeout_ms)
        gc->http1.req_timeout = n->cfg.req_timeout_ms;
    if (n->cfg.idle_timeout_ms)
        gc->http2.idle_timeout = n->cfg.idle_timeout_ms;
    gc->http1.upgrade_to_http2 = 1;
    h2o_hostconf_t *host =
        h2o_config_register_host(gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = n->cfg.on_req[service];
}

struct net_sockets {
    unsigned reactor_count;
    size_t listener_count;
    int fds[]; /* [reactor * listener_count + listener], -1 when not open */
};

void net_sockets_close(struct net_sockets *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->reactor_count * s->listener_count; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    et_free(s);
}

int net_bind(const struct net_listener_config *listeners, size_t listener_count,
             unsigned reactor_count, struct net_sockets **out)
{
    size_t total = reactor_count * listener_count;
    struct net_sockets *s = et_alloc(sizeof(*s) + total * sizeof(s->fds[0]));

    ET_ASSERT(reactor_count >= 1);
    s->reactor_count = reactor_count;
    s->listener_count = listener_count;
    for (size_t i = 0; i < total; i++)
        s->fds[i] = -1;
    /* Probed one by one, each right before its own sockets: a second listener on an address
     * that an earlier one took must fail, not join that one's SO_REUSEPORT group. */
    for (size_t j = 0; j < listener_count; j++) {
        int err = probe_free(&listeners[j]);
        for (unsigned i = 0; i < reactor_count && err == 0; i++) {
            int fd = listen_on(&listeners[j]);
            if (fd < 0)
                err = fd;
            else
                s->fds[i * listener_count + j] = fd;
        }
        if (err < 0) {
            char what[128]; /* in Go's words: "address already in use" */
            snprintf(what, sizeof(what), "%s", strerror(-err));
            what[0] = (char)tolower((unsigned char)what[0]);
            et_error("etcdmain: listen tcp %s:%u: bind: %s", listeners[j].host, listeners[j].port,
                     what);
            net_sockets_close(s);
            return err;
        }
    }
    *out = s;
    return 0;
}

struct net *net_start(const struct net_config *cfg, struct net_sockets *socks)
{
    unsigned count = socks->reactor_count;
    ET_ASSERT(socks->listener_count == cfg->listener_count);

    struct net *n = et_calloc(1, sizeof(*n));
    n->cfg = *cfg;
    n->reactor_count = count;
    n->reactors = et_calloc(count, sizeof(*n->reactors));
    for (int s = 0; s < NET_SERVICE_COUNT; s++)
        globalconf_init(n, s);

    for (unsigned i = 0; i < count; i++) {
        struct net_reactor *r = &n->reactors[i];
        r->net = n;
        r->id = i;
        et_mpsc_init(&r->inbox, 0);
        r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ET_ASSERT(r->efd >= 0);
        r->listeners =
            et_calloc(cfg->listener_count ? cfg->listener_count : 1, sizeof(*r->listeners));
        for (size_t j = 0; j < cfg->listener_count; j++) {
            int *fd = &socks->fds[i * cfg->listener_count + j];
            r->listeners[j] =
                (struct net_listener){ .fd = *fd, .service = cfg->listeners[j].service };
            *fd = -1; /* the reactor closes it now */
            r->listener_count++;
        }
    }
    net_sockets_close(socks);
    for (unsigned i = 0; i < count; i++)
        ET_ASSERT(pthread_create(&n->reactors[i].thread, NULL, reactor_main, &n->reactors[i]) == 0);
    return n;
}

static struct net *leftover; /* a net whose reactors kept connections open past shutdown */

void net_stop(struct net *n)
{
    bool clean = true;

    for (unsigned i = 0; i < n->reactor_count; i++) {
        struct net_reactor *r = &n->reactors[i];
        struct et_msg *m = et_alloc(sizeof(*m));
        m->fn = on_stop_msg;
        __atomic_store_n(&r->stopping, true, __ATOMIC_RELEASE);
        net_post(r, m);
    }
    for (unsigned i = 0; i < n->reactor_count; i++) {
        struct net_reactor *r = &n->reactors[i];
        pthread_join(r->thread, NULL);
        if (r->loop)
            clean = false;
        else
            close(r->efd);
    }
    if (!clean) {
        leftover = n;
        return;
    }
    for (unsigned i = 0; i < n->reactor_count; i++)
        et_free(n->reactors[i].listeners);
    for (int s = 0; s < NET_SERVICE_COUNT; s++)
        h2o_config_dispose(&n->globalconf[s]);
    et_free(n->reactors);
    et_free(n);
}
