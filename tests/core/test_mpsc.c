/* tests/core/test_mpsc.c - the MPSC queue keeps per-producer order and loses nothing. */
#include <pthread.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "core/mpsc.h"

struct t_item {
    struct et_mpsc_node node;
    int producer;
    int seq;
};

#define T_PER_PRODUCER 20000
#define T_PRODUCERS    4

static struct et_mpsc t_q;
static struct t_item t_items[T_PRODUCERS][T_PER_PRODUCER];

static void *t_produce(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < T_PER_PRODUCER; i++) {
        t_items[p][i].producer = p;
        t_items[p][i].seq = i;
        et_mpsc_push(&t_q, &t_items[p][i].node);
    }
    return NULL;
}

Test(core_mpsc, every_item_arrives_once_in_producer_order)
{
    pthread_t th[T_PRODUCERS];
    int next[T_PRODUCERS] = { 0 };
    int got = 0;

    et_mpsc_init(&t_q, 0);
    for (int p = 0; p < T_PRODUCERS; p++)
        pthread_create(&th[p], NULL, t_produce, (void *)(intptr_t)p);
    while (got < T_PRODUCERS * T_PER_PRODUCER) {
        struct et_mpsc_node *n = et_mpsc_pop(&t_q);
        if (n == NULL)
            continue;
        struct t_item *it = (struct t_item *)n;
        cr_assert_eq(it->seq, next[it->producer]);
        next[it->producer]++;
        got++;
    }
    for (int p = 0; p < T_PRODUCERS; p++)
        pthread_join(th[p], NULL);
    cr_assert_null(et_mpsc_pop(&t_q));
}

Test(core_mpsc, bounded_queue_refuses_when_full)
{
    struct t_item a, b, c;
    et_mpsc_init(&t_q, 2);
    cr_assert(et_mpsc_try_push(&t_q, &a.node));
    cr_assert(et_mpsc_try_push(&t_q, &b.node));
    cr_assert_not(et_mpsc_try_push(&t_q, &c.node));
    cr_assert_eq(et_mpsc_pop(&t_q), &a.node);
    cr_assert(et_mpsc_try_push(&t_q, &c.node));
}
