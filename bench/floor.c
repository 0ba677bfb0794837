/*
 * bench/floor.c - etcetera-floor: the least work a durable etcd v2 server can do, as a yardstick.
 *
 * The side-by-side benchmark compares etcetera with etcd, and with nginx's `return 200` for reads:
 * how close to the machine's limit a server runs. nginx cannot stand in for the durable write and
 * the long-poll watch workloads, so this program does: it answers those workloads' requests with
 * etcd's framing and bodies of etcd's size, and does nothing else. No key tree, no Raft, no event
 * history, no real parsing beyond what the framing needs:
 *   - PUT or POST: the request is appended to a preallocated, zero-filled file; once per event
 *     loop turn the appended bytes go out with one pwrite and one fdatasync (group commit), and
 *     only then are the answers written. X-Etcd-Index counts the writes.
 *   - GET ...?wait=true&waitIndex=N: answered at once when N is at most the current index, else
 *     parked the way etcd parks a watcher: the headers (chunked) are flushed at once, and the
 *     body and the last chunk follow in one write when a write reaches N.
 *   - any other GET: a small key body.
 * What is left is the kernel's share (sockets, epoll, the disk flush), which every server pays.
 * A workload whose target ratio to etcd is above this program's own ratio cannot be met on the
 * machine by any server that keeps etcd's wire behaviour. It is a yardstick, not a server: it
 * keeps nothing, and a restart forgets everything.
 *
 * Threads (--threads, default 1) each run an epoll loop on their own SO_REUSEPORT listener and
 * their own file. A write bumps one shared index and wakes every thread (eventfd) to release its
 * parked watchers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_THREADS_MAX 16
#define FLOOR_FILE_BYTES  (64u << 20) /* the write file; writes wrap around at its end */
#define FLOOR_REQ_MAX     (64u << 10) /* a request larger than this closes the connection */
#define FLOOR_EVENTS      256
#define FLOOR_KEY_MAX     512
#define FLOOR_HEADERS_MAX 512
#define FLOOR_BODY_MAX    (FLOOR_KEY_MAX * 2 + 256)
#define FLOOR_CLUSTER_ID  "cdf818194e3a8c32"

struct conn {
    int fd;
    char *in; /* received bytes not consumed yet */
    size_t in_len, in_cap;
    bool parked;         /* a watch whose headers went out */
    uint64_t wait_index; /* parked: the index it waits for */
    char key[FLOOR_KEY_MAX];
    struct conn *prev, *next; /* the thread's parked list */
};

struct pending { /* a write answered after the next fdatasync */
    struct conn *c;
    uint64_t index;
    bool create;
    char key[FLOOR_KEY_MAX];
    char value[64];
};

struct floor_thread {
    int epfd, lfd, efd, file_fd;
    uint64_t file_off;
    char *wal; /* this turn's appended bytes */
    size_t wal_len, wal_cap;
    struct pending *pend;
    size_t pend_count, pend_cap;
    struct conn parked; /* list head */
    uint64_t released;  /* watchers were released up to this index */
    pthread_t thread;
};

static struct {
    struct sockaddr_in addr;
    const char *dir;
    unsigned threads;
    _Atomic uint64_t index;
    _Atomic uint64_t syncs, synced_writes, sync_ns; /* GET /floor/stats */
    struct floor_thread th[FLOOR_THREADS_MAX];
} g;

static void die(const char *what)
{
    fprintf(stderr, "etcetera-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "etcetera-floor: out of memory\n");
        exit(1);
    }
    return p;
}

/* The Date header's value, formatted once per second per thread. */
static const char *http_date(void)
{
    static __thread time_t last;
    static __thread char buf[64];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

/* Writes all of @p; false when the connection is gone. */
static bool send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* a yardstick's answers are small; a full socket buffer means a stuck client */
                struct timespec ts = { 0, 100000 };
                nanosleep(&ts, NULL);
                continue;
            }
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static int headers(char *out, int status, const char *reason, uint64_t index, bool chunked,
                   size_t body_len)
{
    int n = snprintf(out, FLOOR_HEADERS_MAX,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "X-Etcd-Cluster-Id: " FLOOR_CLUSTER_ID "\r\nX-Etcd-Index: %" PRIu64 "\r\n"
                     "X-Raft-Index: %" PRIu64 "\r\nX-Raft-Term: 2\r\nDate: %s\r\n",
                     status, reason, index, index + 4, http_date());
    if (chunked)
        n += snprintf(out + n, FLOOR_HEADERS_MAX - (size_t)n, "Transfer-Encoding: chunked\r\n\r\n");
    else
        n += snprintf(out + n, FLOOR_HEADERS_MAX - (size_t)n, "Content-Length: %zu\r\n\r\n",
                      body_len);
    return n;
}

static int event_body(char *out, const char *action, const char *key, const char *value,
                      uint64_t index)
{
    return snprintf(out, FLOOR_BODY_MAX,
                    "{\"action\":\"%s\",\"node\":{\"key\":\"%s\",\"value\":\"%s\","
                    "\"modifiedIndex\":%" PRIu64 ",\"createdIndex\":%" PRIu64 "}}\n",
                    action, key, value, index, index);
}

/* A whole answer with a Content-Length body. */
static bool answer(struct conn *c, int status, const char *reason, uint64_t index, const char *body,
                   int body_len)
{
    char buf[FLOOR_HEADERS_MAX + FLOOR_BODY_MAX];
    int n = headers(buf, status, reason, index, false, (size_t)body_len);
    memcpy(buf + n, body, (size_t)body_len);
    return send_all(c->fd, buf, (size_t)n + (size_t)body_len);
}

/* A watch's body and the last chunk, after headers already sent (or with them: @hdr). */
static bool watch_event(struct conn *c, uint64_t index, bool hdr)
{
    char body[FLOOR_BODY_MAX], buf[FLOOR_HEADERS_MAX + FLOOR_BODY_MAX + 32];
    char value[24];
    snprintf(value, sizeof(value), "%" PRIu64, index);
    int bl = event_body(body, "set", c->key, value, index);
    int n = hdr ? headers(buf, 200, "OK", index, true, 0) : 0;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%x\r\n", bl);
    memcpy(buf + n, body, (size_t)bl);
    n += bl;
    memcpy(buf + n, "\r\n0\r\n\r\n", 7);
    return send_all(c->fd, buf, (size_t)n + 7);
}

static void unpark(struct conn *c)
{
    if (!c->parked)
        return;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->parked = false;
}

static void conn_close(struct floor_thread *t, struct conn *c)
{
    unpark(c);
    for (size_t i = 0; i < t->pend_count; i++)
        if (t->pend[i].c == c)
            t->pend[i].c = NULL;
    close(c->fd);
    free(c->in);
    free(c);
}

/* Copies the path of @target (before any '?') into @key. */
static void copy_key(char *key, const char *target, size_t len)
{
    size_t n = 0;
    while (n < len && target[n] != '?' && n + 1 < FLOOR_KEY_MAX)
        n++;
    memcpy(key, target, n);
    key[n] = '\0';
    if (strncmp(key, "/v2/keys", 8) == 0)
        memmove(key, key + 8, n - 7);
}

/* The value of query parameter @name= in @target, 0 when absent. */
static uint64_t query_u64(const char *target, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = memmem(target, len, name, nl);
    if (p == NULL || (p[-1] != '?' && p[-1] != '&'))
        return 0;
    return strtoull(p + nl, NULL, 10);
}

static bool query_has(const char *target, size_t len, const char *what)
{
    return memmem(target, len, what, strlen(what)) != NULL;
}

/* Handles one request; false closes the connection. */
static bool handle(struct floor_thread *t, struct conn *c, const char *req, size_t head_len,
                   const char *body, size_t body_len)
{
    const char *sp1 = memchr(req, ' ', head_len);
    if (sp1 == NULL)
        return false;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(req + head_len - target));
    if (sp2 == NULL)
        return false;
    size_t tlen = (size_t)(sp2 - target);
    size_t mlen = (size_t)(sp1 - req);
    uint64_t index = atomic_load(&g.index);
    if ((mlen == 3 && memcmp(req, "PUT", 3) == 0) || (mlen == 4 && memcmp(req, "POST", 4) == 0)) {
        if (t->pend_count == t->pend_cap) {
            t->pend_cap = t->pend_cap ? t->pend_cap * 2 : 64;
            t->pend = xrealloc(t->pend, t->pend_cap * sizeof(*t->pend));
        }
        struct pending *p = &t->pend[t->pend_count++];
        p->c = c;
        p->index = atomic_fetch_add(&g.index, 1) + 1;
        p->create = req[1] == 'O';
        copy_key(p->key, target, tlen);
        if (p->create) {
            size_t kl = strlen(p->key);
            snprintf(p->key + kl, FLOOR_KEY_MAX - kl, "/%020" PRIu64, p->index);
        }
        const char *v = memmem(body, body_len, "value=", 6);
        size_t vl = 0;
        if (v) {
            v += 6;
            while (v + vl < body + body_len && v[vl] != '&' && vl + 1 < sizeof(p->value))
                vl++;
            memcpy(p->value, v, vl);
        }
        p->value[vl] = '\0';
        size_t need = head_len + body_len;
        if (t->wal_len + need > t->wal_cap) {
            t->wal_cap = (t->wal_len + need) * 2;
            t->wal = xrealloc(t->wal, t->wal_cap);
        }
        memcpy(t->wal + t->wal_len, req, head_len);
        memcpy(t->wal + t->wal_len + head_len, body, body_len);
        t->wal_len += need;
        return true;
    }
    if (!(mlen == 3 && memcmp(req, "GET", 3) == 0)) {
        static const char nf[] = "{\"errorCode\":100,\"message\":\"Key not found\"}\n";
        return answer(c, 404, "Not Found", index, nf, (int)sizeof(nf) - 1);
    }
    copy_key(c->key, target, tlen);
    if (query_has(target, tlen, "wait=true")) {
        uint64_t w = query_u64(target, tlen, "waitIndex=");
        if (w && w <= index)
            return watch_event(c, w, true);
        char hdr[FLOOR_HEADERS_MAX];
        int n = headers(hdr, 200, "OK", index, true, 0);
        if (!send_all(c->fd, hdr, (size_t)n))
            return false;
        c->wait_index = w ? w : index + 1;
        c->parked = true;
        c->next = &t->parked;
        c->prev = t->parked.prev;
        t->parked.prev->next = c;
        t->parked.prev = c;
        return true;
    }
    char b[FLOOR_BODY_MAX];
    if (strcmp(c->key, "/floor/stats") == 0) {
        int sl =
            snprintf(b, sizeof(b),
                     "{\"syncs\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"sync_ns\":%" PRIu64 "}\n",
                     atomic_load(&g.syncs), atomic_load(&g.synced_writes), atomic_load(&g.sync_ns));
        return answer(c, 200, "OK", index, b, sl);
    }
    int bl = snprintf(b, sizeof(b),
                      "{\"action\":\"get\",\"node\":{\"key\":\"%s\",\"value\":\"x\","
                      "\"modifiedIndex\":%" PRIu64 ",\"createdIndex\":%" PRIu64 "}}\n",
                      c->key, index, index);
    return answer(c, 200, "OK", index, b, bl);
}

/* Parses and handles every whole request received; false closes the connection. */
static bool conn_input(struct floor_thread *t, struct conn *c)
{
    size_t off = 0;
    while (!c->parked) {
        char *p = c->in + off;
        size_t avail = c->in_len - off;
        char *end = memmem(p, avail, "\r\n\r\n", 4);
        if (end == NULL)
            break;
        size_t head_len = (size_t)(end - p) + 4;
        size_t body_len = 0;
        for (char *h = memchr(p, '\n', head_len); h && h < p + head_len;
             h = memchr(h + 1, '\n', (size_t)(p + head_len - h - 1))) {
            if (strncasecmp(h + 1, "content-length:", 15) == 0) {
                body_len = strtoul(h + 16, NULL, 10);
                break;
            }
        }
        if (body_len > FLOOR_REQ_MAX || head_len + body_len > FLOOR_REQ_MAX) /* no wrap-around */
            return false;
        if (avail < head_len + body_len)
            break;
        if (!handle(t, c, p, head_len, p + head_len, body_len))
            return false;
        off += head_len + body_len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

static bool conn_read(struct floor_thread *t, struct conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            if (c->in_cap >= FLOOR_REQ_MAX + 4096)
                return false;
            c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
            c->in = xrealloc(c->in, c->in_cap);
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n == 0)
            return false;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN;
        c->in_len += (size_t)n;
        if (!conn_input(t, c))
            return false;
        if ((size_t)n < room) /* drained: the next bytes raise a new edge */
            return true;
    }
}

/* Makes this turn's writes durable, answers them, and wakes every thread's watchers. */
static void commit(struct floor_thread *t)
{
    if (t->pend_count == 0)
        return;
    size_t len = t->wal_len;
    if (t->file_off + len > FLOOR_FILE_BYTES)
        t->file_off = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (pwrite(t->file_fd, t->wal, len, (off_t)t->file_off) != (ssize_t)len)
        die("pwrite");
    if (fdatasync(t->file_fd) < 0)
        die("fdatasync");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_fetch_add(&g.syncs, 1);
    atomic_fetch_add(&g.synced_writes, t->pend_count);
    atomic_fetch_add(
        &g.sync_ns, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)));
    t->file_off += len;
    t->wal_len = 0;
    for (size_t i = 0; i < t->pend_count; i++) {
        struct pending *p = &t->pend[i];
        if (p->c == NULL)
            continue;
        char b[FLOOR_BODY_MAX];
        int bl = event_body(b, p->create ? "create" : "set", p->key, p->value, p->index);
        if (!answer(p->c, p->create ? 201 : 200, p->create ? "Created" : "OK", p->index, b, bl)) {
            struct conn *c = p->c;
            conn_close(t, c);
        }
    }
    t->pend_count = 0;
    uint64_t one = 1;
    for (unsigned i = 0; i < g.threads; i++) /* this thread releases its own after the turn */
        if (&g.th[i] != t && write(g.th[i].efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            die("eventfd");
}

static void release_watchers(struct floor_thread *t)
{
    uint64_t index = atomic_load(&g.index);
    if (index == t->released)
        return;
    t->released = index;
    struct conn *c = t->parked.next;
    while (c != &t->parked) {
        struct conn *next = c->next;
        if (c->wait_index <= index) {
            unpark(c);
            if (!watch_event(c, c->wait_index, false) || !conn_input(t, c))
                conn_close(t, c);
        }
        c = next;
    }
}

static void *thread_main(void *arg)
{
    struct floor_thread *t = arg;
    struct epoll_event evs[FLOOR_EVENTS];
    for (;;) {
        int n = epoll_wait(t->epfd, evs, FLOOR_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &t->lfd) {
                int fd;
                while ((fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct conn *c = calloc(1, sizeof(*c));
                    if (c == NULL)
                        die("calloc");
                    c->fd = fd;
                    /* edge-triggered: a parked watcher's stray bytes are read and kept, not spun on
                     */
                    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                              .data.ptr = c };
                    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        die("epoll_ctl");
                }
                continue;
            }
            if (ptr == &t->efd) {
                uint64_t v;
                if (read(t->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    die("eventfd");
                continue;
            }
            struct conn *c = ptr;
            bool ok = !(evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP));
            if (ok)
                ok = conn_read(t, c);
            if (!ok)
                conn_close(t, c);
        }
        commit(t);
        release_watchers(t);
    }
    return NULL;
}

static void thread_init(struct floor_thread *t, int id)
{
    t->parked.next = t->parked.prev = &t->parked;
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (t->lfd < 0 || setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(t->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        die("socket");
    if (bind(t->lfd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0)
        die("bind");
    if (listen(t->lfd, 4096) < 0)
        die("listen");
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->epfd < 0 || t->efd < 0)
        die("epoll");
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->lfd };
    struct epoll_event ev2 = { .events = EPOLLIN, .data.ptr = &t->efd };
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev) < 0 ||
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->efd, &ev2) < 0)
        die("epoll_ctl");
    char path[4096];
    snprintf(path, sizeof(path), "%s/floor-%d.wal", g.dir, id);
    t->file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (t->file_fd < 0)
        die(path);
    /* zero-filled, as a WAL segment is, so an fdatasync never has metadata to write */
    static char zeros[1 << 20];
    for (unsigned off = 0; off < FLOOR_FILE_BYTES; off += sizeof(zeros))
        if (pwrite(t->file_fd, zeros, sizeof(zeros), off) != (ssize_t)sizeof(zeros))
            die("pwrite");
    if (fdatasync(t->file_fd) < 0)
        die("fdatasync");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: etcetera-floor --data-dir DIR [--listen HOST:PORT] [--threads N]\n"
               "  the least work a durable etcd v2 server can do for the write and watch\n"
               "  workloads (a yardstick for etcetera-bench, not a server)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
                                          { "data-dir", required_argument, NULL, 'd' },
                                          { "threads", required_argument, NULL, 't' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    const char *listen_at = "127.0.0.1:2379";
    g.threads = 1;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            listen_at = optarg;
            break;
        case 'd':
            g.dir = optarg;
            break;
        case 't':
            g.threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (g.dir == NULL || g.threads < 1 || g.threads > FLOOR_THREADS_MAX) {
        usage(stderr);
        return 2;
    }
    char host[64];
    const char *colon = strrchr(listen_at, ':');
    if (colon == NULL || (size_t)(colon - listen_at) >= sizeof(host)) {
        usage(stderr);
        return 2;
    }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = '\0';
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1) {
        fprintf(stderr, "etcetera-floor: %s is not an IPv4 address\n", host);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    for (unsigned i = 0; i < g.threads; i++)
        thread_init(&g.th[i], (int)i);
    for (unsigned i = 1; i < g.threads; i++)
        if (pthread_create(&g.th[i].thread, NULL, thread_main, &g.th[i]) != 0)
            die("pthread_create");
    thread_main(&g.th[0]);
    return 0;
}
