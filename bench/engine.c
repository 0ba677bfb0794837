/*
 * bench/engine.c - the worker threads of etcetera-bench: raw non-blocking sockets, one epoll
 * loop per thread, one request outstanding per keep-alive connection (closed loop).
 *
 * Why epoll and not libcurl: the client shares two cores with the server it measures, so its
 * own cost per request must stay small. A request costs one send(2) and usually one recv(2)
 * (a short read means the socket is drained, so no second read waits for EAGAIN), plus a share
 * of one epoll_wait(2); the client reports its own CPU per op so the reader can see it.
 *
 * Connection life: open (blocking connect, then non-blocking) -> busy (request written,
 * response being parsed) -> idle for an instant -> busy again. A broken connection or a
 * "Connection: close" answer is reopened and the workload builds a fresh request.
 * Only the owning worker touches a connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#define BENCH_IN_CHUNK   16384 /* bytes of free room guaranteed before each recv */
#define BENCH_EVENTS_MAX 256   /* epoll events handled per wait */

uint64_t bench_rand(struct bench_worker *w)
{
    /* xorshift64*: fast, and good enough to pick keys. */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int bench_connect(const struct addrinfo *addr)
{
    int one = 1;
    int fd = socket(addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (connect(fd, addr->ai_addr, addr->ai_addrlen) == 0)
            break;
        if (errno == EINTR)
            continue;
        int ret = -errno;
        close(fd);
        return ret;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int bench_http_once(const struct addrinfo *addr, const char *req, struct bench_http_resp *r)
{
    char buf[65536];
    size_t len = 0, req_len = strlen(req), sent = 0;
    int ret, fd = bench_connect(addr);
    if (fd < 0)
        return fd;
    while (sent < req_len) {
        ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            ret = -errno;
            goto out_close;
        }
        sent += (size_t)n;
    }
    bench_http_resp_init(r);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 10000) == 0) {
            ret = -ETIMEDOUT;
            goto out_close;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            goto out_close;
        }
        len += (size_t)n;
        ret = bench_http_parse(r, buf, len, n == 0 || len + 1 == sizeof(buf));
        if (ret != 0)
            break;
    }
    ret = ret < 0 ? ret : 0;
out_close:
    close(fd);
    return ret;
}

/* Opens @c's socket and registers it with the worker's epoll. */
static int conn_open(struct bench_worker *w, struct bench_conn *c)
{
    int fd = bench_connect(w->run->addr);
    if (fd < 0)
        return fd;
    int ret = set_nonblocking(fd);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (ret == 0 && epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        ret = -errno;
    if (ret < 0) {
        close(fd);
        return ret;
    }
    c->fd = fd;
    c->busy = false;
    c->want_out = false;
    c->in_len = 0;
    return 0;
}

static void conn_close(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* closing removes it from the epoll set */
    c->fd = -1;
    c->busy = false;
}

static void set_want_out(struct bench_worker *w, struct bench_conn *c, bool on)
{
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
    if (c->want_out == on)
        return;
    c->want_out = on;
    ET_ASSERT(epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0);
}

static void conn_broken(struct bench_worker *w, struct bench_conn *c);

/* Writes what is left of the request; arms EPOLLOUT while the socket is full. */
static void conn_flush(struct bench_worker *w, struct bench_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_out(w, c, true);
            return;
        }
        if (n < 0) {
            conn_broken(w, c);
            return;
        }
        c->out_off += (size_t)n;
    }
    set_want_out(w, c, false);
}

void bench_conn_send(struct bench_worker *w, struct bench_conn *c)
{
    ET_ASSERT(c->fd >= 0);
    ET_ASSERT(!c->busy);
    ET_ASSERT(c->out_len > 0);
    c->out_off = 0;
    c->busy = true;
    bench_http_resp_init(&c->resp);
    c->in_len = 0;
    c->start_ns = et_mono_ns();
    conn_flush(w, c);
}

/* Asks the workload for @c's next request and sends it, unless the run is over. */
static void conn_next(struct bench_worker *w, struct bench_conn *c)
{
    if (atomic_load_explicit(&w->run->phase, memory_order_relaxed) == BENCH_PHASE_STOP)
        return;
    if (c->role == BENCH_ROLE_WRITER)
        return; /* the writer is driven by bench_watch_writer_poll() */
    if (!bench_workload_next(w, c)) {
        c->done = true;
        return;
    }
    bench_conn_send(w, c);
}

/*
 * The server closed or reset @c, or sent garbage: count an error, reopen and carry on.
 * A connection that cannot be reopened is given up (the run reports the error count).
 */
static void conn_broken(struct bench_worker *w, struct bench_conn *c)
{
    atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
    conn_close(c);
    int ret = conn_open(w, c);
    if (ret < 0) {
        if (w->failure == 0)
            et_error("reconnect failed: %s", strerror(-ret));
        w->failure = ret;
        c->done = true;
        return;
    }
    conn_next(w, c);
}

/* Reads what arrived on @c and, when a whole response is in, hands it to the workload. */
static void conn_readable(struct bench_worker *w, struct bench_conn *c)
{
    if (c->in_cap - c->in_len < BENCH_IN_CHUNK) {
        c->in_cap = c->in_cap ? c->in_cap * 2 : 2 * BENCH_IN_CHUNK;
        c->in = et_realloc(c->in, c->in_cap);
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0 || (n == 0 && !c->busy)) {
        conn_broken(w, c);
        return;
    }
    c->in_len += (size_t)n;
    int ret = bench_http_parse(&c->resp, c->in, c->in_len, n == 0);
    if (ret < 0 || (ret == 0 && n == 0)) {
        conn_broken(w, c);
        return;
    }
    if (ret == 0)
        return;
    int64_t now_ns = et_mono_ns();
    c->busy = false;
    bench_workload_done(w, c, now_ns);
    /* One request is outstanding at a time, so nothing may follow the response. */
    if (!c->resp.keep_alive || n == 0 || c->resp.pos != c->in_len) {
        conn_close(c);
        int oret = conn_open(w, c);
        if (oret < 0) {
            w->failure = oret;
            c->done = true;
            return;
        }
    }
    c->in_len = 0;
    /* A huge answer (a recursive GET) need not pin its buffer on every connection. */
    if (c->in_cap > (1u << 20) && c->role != BENCH_ROLE_LOAD) {
        et_free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    conn_next(w, c);
}

static void handle_event(struct bench_worker *w, struct epoll_event *ev)
{
    struct bench_conn *c = ev->data.ptr;
    if (c == NULL) {
        uint64_t v;
        if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            et_warn("eventfd read: %s", strerror(errno));
        return;
    }
    if (c->fd < 0)
        return;
    if ((ev->events & EPOLLOUT) && c->want_out)
        conn_flush(w, c);
    if (c->fd >= 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_readable(w, c);
}

/* Opens every connection of @w and sends each one's first request. */
static int worker_start(struct bench_worker *w)
{
    for (unsigned i = 0; i < w->conn_count; i++) {
        struct bench_conn *c = &w->conns[i];
        int ret = conn_open(w, c);
        if (ret < 0)
            return ret;
        conn_next(w, c);
    }
    if (w->wake_fd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

static bool all_done(const struct bench_worker *w)
{
    for (unsigned i = 0; i < w->conn_count; i++)
        if (!w->conns[i].done || w->conns[i].busy)
            return false;
    return true;
}

void *bench_worker_main(void *arg)
{
    struct bench_worker *w = arg;
    struct bench_run *run = w->run;
    struct epoll_event evs[BENCH_EVENTS_MAX];

    int ret = worker_start(w);
    if (ret < 0) {
        w->failure = ret;
        et_error("worker %u: cannot open its connections: %s", w->id, strerror(-ret));
    }
    atomic_fetch_add(&run->ready, 1);
    while (ret == 0 && atomic_load(&run->phase) != BENCH_PHASE_STOP) {
        if (w->setup_mode && all_done(w))
            break;
        int n = epoll_wait(w->epfd, evs, BENCH_EVENTS_MAX, w->writer ? 5 : 50);
        if (n < 0 && errno != EINTR) {
            w->failure = -errno;
            break;
        }
        for (int i = 0; i < n; i++)
            handle_event(w, &evs[i]);
        if (w->writer)
            bench_watch_writer_poll(w, w->writer, et_mono_ns());
    }
    for (unsigned i = 0; i < w->conn_count; i++)
        conn_close(&w->conns[i]);
    atomic_fetch_add(&run->finished, 1);
    return NULL;
}
