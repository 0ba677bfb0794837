/*
 * core/mpsc.h - an intrusive, lock-free multi-producer single-consumer queue (Vyukov's design).
 *
 * Any thread may push; exactly one thread pops. A push is one atomic exchange and never blocks.
 * A pop may return NULL while a producer is between its exchange and its link store; the
 * consumer simply tries again on its next wake-up (producers always wake it after pushing).
 * The queue is bounded by et_mpsc_try_push(): it refuses once @max nodes are queued, so a
 * producer pushes back on its client instead of growing memory.
 */
#ifndef ET_CORE_MPSC_H
#define ET_CORE_MPSC_H

#include <stdbool.h>
#include <stddef.h>

struct et_mpsc_node {
    struct et_mpsc_node *_next;
};

struct et_mpsc {
    struct et_mpsc_node *_head; /* producers exchange here */
    char _pad[64 - sizeof(void *)];
    struct et_mpsc_node *_tail; /* consumer only */
    struct et_mpsc_node _stub;
    size_t _count; /* nodes queued (atomic), for the bound */
    size_t max;    /* et_mpsc_try_push() refuses beyond this; 0 = unbounded */
};

/* A message between threads: @fn runs on the receiving thread. The poster owns the memory. */
struct et_msg {
    struct et_mpsc_node _node;
    void (*fn)(struct et_msg *m);
};

void et_mpsc_init(struct et_mpsc *q, size_t max);
/* Pushes @n unconditionally. Thread: any. */
void et_mpsc_push(struct et_mpsc *q, struct et_mpsc_node *n);
/* Pushes @n unless the queue already holds q->max nodes; returns false when refused. */
bool et_mpsc_try_push(struct et_mpsc *q, struct et_mpsc_node *n);
/* Pops the oldest node or returns NULL. Thread: the one consumer. */
struct et_mpsc_node *et_mpsc_pop(struct et_mpsc *q);
/* Nodes queued right now (approximate while producers run). */
size_t et_mpsc_count(const struct et_mpsc *q);

#endif
