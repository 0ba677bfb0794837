/*
 * core/mpsc.c - Vyukov's intrusive MPSC queue. The stub node keeps the list non-empty so that
 * producers and the consumer never touch the same pointer except through the one exchange.
 */
#include "core/mpsc.h"

void et_mpsc_init(struct et_mpsc *q, size_t max)
{
    q->_stub._next = NULL;
    q->_head = &q->_stub;
    q->_tail = &q->_stub;
    q->_count = 0;
    q->max = max;
}

static void push_node(struct et_mpsc *q, struct et_mpsc_node *n)
{
    __atomic_store_n(&n->_next, NULL, __ATOMIC_RELAXED);
    struct et_mpsc_node *prev = __atomic_exchange_n(&q->_head, n, __ATOMIC_ACQ_REL);
    __atomic_store_n(&prev->_next, n, __ATOMIC_RELEASE);
}

void et_mpsc_push(struct et_mpsc *q, struct et_mpsc_node *n)
{
    __atomic_add_fetch(&q->_count, 1, __ATOMIC_RELAXED);
    push_node(q, n);
}

bool et_mpsc_try_push(struct et_mpsc *q, struct et_mpsc_node *n)
{
    if (q->max && __atomic_add_fetch(&q->_count, 1, __ATOMIC_RELAXED) > q->max) {
        __atomic_sub_fetch(&q->_count, 1, __ATOMIC_RELAXED);
        return false;
    }
    if (!q->max)
        __atomic_add_fetch(&q->_count, 1, __ATOMIC_RELAXED);
    push_node(q, n);
    return true;
}

struct et_mpsc_node *et_mpsc_pop(struct et_mpsc *q)
{
    struct et_mpsc_node *tail = q->_tail;
    struct et_mpsc_node *next = __atomic_load_n(&tail->_next, __ATOMIC_ACQUIRE);

    if (tail == &q->_stub) {
        if (next == NULL)
            return NULL;
        q->_tail = next;
        tail = next;
        next = __atomic_load_n(&next->_next, __ATOMIC_ACQUIRE);
    }
    if (next) {
        q->_tail = next;
        __atomic_sub_fetch(&q->_count, 1, __ATOMIC_RELAXED);
        return tail;
    }
    if (tail != __atomic_load_n(&q->_head, __ATOMIC_ACQUIRE))
        return NULL; /* a producer is mid-push; it will wake us again */
    push_node(q, &q->_stub);
    next = __atomic_load_n(&tail->_next, __ATOMIC_ACQUIRE);
    if (next) {
        q->_tail = next;
        __atomic_sub_fetch(&q->_count, 1, __ATOMIC_RELAXED);
        return tail;
    }
    return NULL;
}

size_t et_mpsc_count(const struct et_mpsc *q)
{
    return __atomic_load_n(&q->_count, __ATOMIC_RELAXED);
}
