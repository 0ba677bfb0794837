/*
 * api/expiry.c - the TTL timer. etcd sweeps every 500 ms; etcetera expires a key within a few
 * milliseconds of its deadline (plus one group commit).
 *
 * One thread sleeps until the earliest expiration the store reports (published by the Raft
 * thread after every applied batch, api__expiry_update) and then, if this member leads,
 * proposes one STORE_OP_EXPIRE sweep carrying its wall clock. The sweep goes through the log
 * like any write, so every member expires the same nodes at the same index. At most one sweep
 * per leadership term is in flight: a sweep proposed in an earlier term may have been lost with
 * that leadership (its entry overwritten), so a member that leads again does not wait for the
 * old sweep's 7 s deadline but proposes a fresh one. Should both commit, no harm is done: each
 * expires what is due at its own clock reading, and every member applies both. Each sweep is its
 * own allocation, freed by the Raft thread once it is applied or dropped; the timer thread only
 * compares the newest one's pointer to NULL.
 *
 * Threads: the timer thread; api__expiry_update() from the Raft thread.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "api/api_int.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

/* While a sweep is in flight, look again this often (it normally completes much sooner). */
#define EXPIRY_RETRY_NS (5 * ET_NS_PER_MSEC)

static void sweep_free(struct api_sweep *s)
{
    struct api_sweep *expected = s;
    __atomic_compare_exchange_n(&s->api->sweep_cur, &expected, NULL, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    et_buf_free(&s->entry);
    et_free(s);
}

static void sweep_failed(struct raft_proposal *p, int err)
{
    (void)err;
    sweep_free((struct api_sweep *)p);
}

bool api__is_sweep_proposal(struct raft_proposal *p)
{
    return p->done == sweep_failed;
}

void api__sweep_applied(struct raft_proposal *p)
{
    sweep_free((struct api_sweep *)p);
}

/* Timer thread: a sweep proposed in @term is still in flight. */
static bool sweep_in_flight(struct api *a, raft_term term)
{
    return __atomic_load_n(&a->sweep_cur, __ATOMIC_ACQUIRE) != NULL && term == a->sweep_term;
}

/* Timer thread: a sweep of the current leadership term is still in flight. */
static bool sweep_pending(struct api *a)
{
    struct raft_status st;
    raft_node_status(a->node, &st);
    return sweep_in_flight(a, st.term);
}

/* Timer thread: propose one sweep at @now if this member leads and none of this term is in
 * flight. */
static void propose_sweep(struct api *a, int64_t now)
{
    struct raft_status st;
    raft_node_status(a->node, &st);
    if (!st.is_leader || sweep_in_flight(a, st.term))
        return;
    struct api_sweep *s = et_calloc(1, sizeof(*s));
    struct store_cmd cmd = {
        .op = STORE_OP_EXPIRE, .key = "/", .key_len = 1, .value = "", .now_ns = now
    };
    s->api = a;
    store_cmd_encode(&cmd, &s->entry);
    s->proposal =
        (struct raft_proposal){ .data = s->entry.data, .len = s->entry.len, .done = sweep_failed };
    a->sweep_term = st.term;
    __atomic_store_n(&a->sweep_cur, s, __ATOMIC_RELEASE);
    if (raft_node_propose(a->node, &s->proposal) != 0)
        sweep_free(s); /* the node never took it */
}

static void *expiry_main(void *arg)
{
    struct api *a = arg;
    pthread_setname_np(pthread_self(), "ttl-timer");
    pthread_mutex_lock(&a->expiry_mu);
    while (!a->expiry_stop) {
        int64_t next = a->expiry_next_ns, now = et_wall_ns();
        if (next == INT64_MAX) {
            pthread_cond_wait(&a->expiry_cv, &a->expiry_mu);
            continue;
        }
        if (now < next || sweep_pending(a)) {
            int64_t until = now < next ? next : now + EXPIRY_RETRY_NS;
            struct timespec ts = { .tv_sec = until / ET_NS_PER_SEC,
                                   .tv_nsec = until % ET_NS_PER_SEC };
            pthread_cond_timedwait(&a->expiry_cv, &a->expiry_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&a->expiry_mu);
        propose_sweep(a, now);
        pthread_mutex_lock(&a->expiry_mu);
        if (!sweep_pending(a) && a->expiry_next_ns == next) {
            /* not the leader (or the queue refused): wait for news or retry a little later */
            struct timespec ts = { .tv_sec = (now + 10 * ET_NS_PER_MSEC) / ET_NS_PER_SEC,
                                   .tv_nsec = (now + 10 * ET_NS_PER_MSEC) % ET_NS_PER_SEC };
            pthread_cond_timedwait(&a->expiry_cv, &a->expiry_mu, &ts);
        }
    }
    pthread_mutex_unlock(&a->expiry_mu);
    return NULL;
}

void api__expiry_init(struct api *a)
{
    pthread_condattr_t ca;
    a->expiry_next_ns = INT64_MAX;
    a->expiry_published_ns = INT64_MAX;
    pthread_mutex_init(&a->expiry_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME); /* deadlines are wall-clock expirations */
    pthread_cond_init(&a->expiry_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void api__expiry_start(struct api *a)
{
    ET_ASSERT(pthread_create(&a->expiry_thread, NULL, expiry_main, a) == 0);
    a->expiry_running = true;
}

void api__expiry_stop(struct api *a)
{
    if (!a->expiry_running)
        return;
    pthread_mutex_lock(&a->expiry_mu);
    a->expiry_stop = true;
    pthread_cond_signal(&a->expiry_cv);
    pthread_mutex_unlock(&a->expiry_mu);
    pthread_join(a->expiry_thread, NULL);
    a->expiry_running = false;
}

/* Raft thread, after each applied batch (and start-up replay): tell the timer the earliest
 * expiration. The timer may not run yet; it reads the value when it starts. */
void api__expiry_update(struct api *a)
{
    int64_t next = store_next_expiry(a->store);
    if (next == a->expiry_published_ns)
        return;
    a->expiry_published_ns = next;
    pthread_mutex_lock(&a->expiry_mu);
    a->expiry_next_ns = next;
    pthread_cond_signal(&a->expiry_cv);
    pthread_mutex_unlock(&a->expiry_mu);
}
