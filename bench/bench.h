/*
 * bench/bench.h - the insides of etcetera-bench shared by its files: options, the run, the
 * worker threads and their connections, and the workload hooks.
 *
 * Threads: main() parses options, starts one worker per --threads, prints progress and samples
 * the server's /proc counters; each worker runs its own epoll loop over its own connections and
 * alone touches them and its histogram. Workers and main share only the atomics in struct
 * bench_run.
 */
#ifndef ET_BENCH_BENCH_H
#define ET_BENCH_BENCH_H

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench/hist.h"
#include "bench/http.h"

enum bench_workload {
    BENCH_WL_READ,           /* GET of one key */
    BENCH_WL_READ_MANY,      /* GET of a random key among --keys */
    BENCH_WL_WRITE,          /* PUT of a random key among --keys */
    BENCH_WL_CREATE_INORDER, /* POST to a queue directory */
    BENCH_WL_REGISTRY,       /* TTL refreshes on many keys plus directory GETs */
    BENCH_WL_WATCH,          /* --watchers long polls on one key, one writer */
    BENCH_WL_RECURSIVE_GET,  /* GET ?recursive=true of a directory of --keys keys */
};

enum bench_setup {
    BENCH_SETUP_YES,  /* create the keys the workload needs, then measure */
    BENCH_SETUP_NO,   /* measure only (the keys exist from an earlier --setup only) */
    BENCH_SETUP_ONLY, /* create the keys and exit */
};

#define BENCH_PIDS_MAX 16

struct bench_opts {
    char host[256];               /* from --endpoint */
    char port[16];                /* from --endpoint */
    char prefix[128];             /* key prefix under /v2/keys, e.g. "/bench" */
    enum bench_workload workload; /* --workload */
    enum bench_setup setup;       /* --setup */
    unsigned connections;         /* --connections (load connections; watch: --watchers) */
    unsigned threads;             /* --threads */
    unsigned keys;                /* --keys: key space of read-many, write, registry, rget */
    unsigned value_size;          /* --value-size, bytes */
    unsigned watchers;            /* --watchers */
    unsigned ttl_s;               /* --ttl of the registry keys */
    unsigned events_max;          /* --events: watch stops after this many writes (0: time) */
    double duration_s;            /* --duration */
    double warmup_s;              /* --warmup: load before measuring */
    pid_t pids[BENCH_PIDS_MAX];   /* --pid: server processes to sample */
    unsigned pid_count;           /* entries in pids */
    bool json;                    /* --json: one JSON object on stdout */
    bool quiet;                   /* --quiet: no progress line */
};

enum bench_phase {
    BENCH_PHASE_WARMUP,  /* load runs, nothing is recorded */
    BENCH_PHASE_MEASURE, /* operations that start now are recorded */
    BENCH_PHASE_STOP,    /* workers stop issuing and leave */
};

/* How many recent write indexes the watch workload tracks (power of two). */
#define BENCH_WATCH_RING 4096

struct bench_watch_slot {
    _Atomic uint64_t index;  /* the write index this slot describes */
    _Atomic int64_t resp_ns; /* when the writer got its PUT response (mono ns), 0 = not yet */
    _Atomic int64_t send_ns; /* when the writer sent that PUT (mono ns) */
    _Atomic uint32_t got;    /* watchers that received this index */
};

struct bench_run {
    struct bench_opts *opts;
    struct addrinfo *addr;            /* the server's address */
    _Atomic int phase;                /* enum bench_phase */
    _Atomic int64_t measure_start_ns; /* mono ns at which measuring began */
    _Atomic uint64_t setup_next;      /* next key number the setup writes */
    uint64_t setup_total;             /* keys the setup writes */
    _Atomic unsigned ready;           /* workers whose connections are all open and busy */
    _Atomic unsigned finished;        /* workers that have left their loop */
    char value[4096];                 /* the value sent by writes (value_size 'x's) */
    struct bench_watch_slot *watch;   /* BENCH_WATCH_RING slots, watch workload only */
    _Atomic uint64_t watch_writes;    /* writes done by the watch writer while measuring */
    _Atomic uint64_t watch_missed;    /* watcher receipts missing when the writer timed out */
    _Atomic int64_t watch_send_ns;    /* when the writer sent its outstanding PUT (mono ns) */
    _Atomic uint64_t watch_cycles;    /* writes the writer saw through (all got it or timeout) */
    int writer_wake_fd;               /* eventfd of the writer's worker */
};

enum bench_role {
    BENCH_ROLE_LOAD,    /* closed-loop request after request */
    BENCH_ROLE_SETUP,   /* writes the setup keys */
    BENCH_ROLE_WATCHER, /* long poll, re-armed with waitIndex */
    BENCH_ROLE_WRITER,  /* the watch workload's writer */
};

struct bench_conn {
    int fd;                      /* -1 while closed */
    enum bench_role role;        /* what this connection does */
    bool busy;                   /* a request is outstanding */
    bool want_out;               /* EPOLLOUT is armed (request not fully written) */
    bool done;                   /* nothing more to do (setup finished) */
    char out[8192];              /* the request being sent */
    size_t out_len;              /* bytes of the request */
    size_t out_off;              /* bytes already written */
    char *in;                    /* received bytes of the current response */
    size_t in_len;               /* bytes in @in */
    size_t in_cap;               /* bytes allocated at @in */
    struct bench_http_resp resp; /* parser state of the current response */
    int64_t start_ns;            /* when the current request was sent (mono ns) */
    uint64_t wait_index;         /* watcher: the index the long poll waits for */
    int64_t writer_wait_ns;      /* writer: when it began waiting for the watchers, 0 = not */
    uint64_t writer_index;       /* writer: index of its last write */
};

struct bench_worker {
    struct bench_run *run;
    unsigned id; /* 0-based */
    pthread_t thread;
    int epfd;                    /* this worker's epoll instance */
    int wake_fd;                 /* eventfd that wakes this worker (the writer's only) */
    struct bench_conn *conns;    /* this worker's connections */
    unsigned conn_count;         /* entries in conns */
    uint64_t rng;                /* xorshift state */
    struct bench_hist hist;      /* latency of measured ops (watch: notify latency) */
    struct bench_hist hist_sent; /* watch: latency from the writer's PUT being sent */
    _Atomic uint64_t early;      /* watch: receipts before the writer's own response */
    _Atomic uint64_t ops;        /* measured ops completed (watch: events received) */
    _Atomic uint64_t all_ops;    /* ops completed in any phase, for the progress line */
    _Atomic uint64_t errors;     /* non-2xx answers and broken connections */
    uint64_t bytes_in;           /* response bytes received while measuring */
    int failure;                 /* -errno when the worker gave up, else 0 */
    bool setup_mode;             /* run the setup: leave when every connection is done */
    struct bench_conn *writer;   /* the watch writer when this worker owns it, else NULL */
};

/* engine.c */
void *bench_worker_main(void *arg);
/* Opens a blocking TCP connection to @addr with TCP_NODELAY; returns the fd or -errno. */
int bench_connect(const struct addrinfo *addr);
/*
 * One blocking request on a fresh connection (for set-up checks): sends @req, parses the
 * answer into @r. Returns 0 or -errno (-EBADMSG for a malformed answer, -ETIMEDOUT after 10 s).
 */
int bench_http_once(const struct addrinfo *addr, const char *req, struct bench_http_resp *r);
/* Sends the request already built in @c->out (used by the workload hooks). */
void bench_conn_send(struct bench_worker *w, struct bench_conn *c);
uint64_t bench_rand(struct bench_worker *w);

/* workloads.c */
const char *bench_workload_name(enum bench_workload wl);
int bench_workload_parse(const char *name, enum bench_workload *wl);
/* Keys the setup of the workload writes (0 when it needs none). */
uint64_t bench_workload_setup_keys(const struct bench_opts *o);
/* Builds the next request of @c into c->out; returns false when @c has nothing more to do. */
bool bench_workload_next(struct bench_worker *w, struct bench_conn *c);
/* Handles a complete response of @c at time @now_ns; the body is c->in[resp.body_start..pos). */
void bench_workload_done(struct bench_worker *w, struct bench_conn *c, int64_t now_ns);
/* The watch writer's periodic check (worker 0 only): writes again when every watcher got it. */
void bench_watch_writer_poll(struct bench_worker *w, struct bench_conn *c, int64_t now_ns);

#endif
