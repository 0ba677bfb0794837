/*
 * tests/raft/t_cluster.c - the hand-driven cluster behind the raft unit tests. See t_cluster.h.
 */
#include "t_cluster.h"

#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"

struct t_cluster *t_cluster_new(int n, bool pre_vote, bool check_quorum)
{
    struct t_cluster *c = et_calloc(1, sizeof(*c));
    c->n = n;
    c->cfg = (struct raft_config){
        .election_ticks = 10,
        .heartbeat_ticks = 1,
        .seed = 42,
        .max_msg_entries = 64,
        .max_msg_bytes = 1 << 20,
        .max_inflight = 8,
        .pre_vote = pre_vote,
        .check_quorum = check_quorum,
    };
    c->cfg.bootstrap.count = (uint32_t)n;
    for (int i = 0; i < n; i++)
        c->cfg.bootstrap.members[i] = (struct raft_member){ (raft_id)i + 1, true };
    for (int i = 1; i <= n; i++) {
        struct raft_config cfg = c->cfg;
        cfg.id = (raft_id)i;
        cr_assert_eq(raft_new(&cfg, &c->r[i]), 0);
    }
    return c;
}

void t_add_member(struct t_cluster *c, raft_id id)
{
    struct raft_config cfg = c->cfg;
    cfg.id = id;
    cr_assert_eq(raft_new(&cfg, &c->r[id]), 0);
    if ((int)id > c->n)
        c->n = (int)id;
}

void t_cluster_free(struct t_cluster *c)
{
    if (c == NULL)
        return;
    for (int i = 1; i <= T_MAX; i++) {
        raft_free(c->r[i]);
        for (size_t j = 0; j < c->applied_n[i]; j++)
            et_free(c->applied[i][j]);
    }
    for (size_t i = 0; i < c->qn; i++)
        et_buf_free(&c->q[i].bytes);
    et_free(c->q);
    et_free(c);
}

static void enqueue(struct t_cluster *c, const struct raft_msg *m)
{
    if (c->qn == c->qcap) {
        c->qcap = c->qcap ? c->qcap * 2 : 64;
        c->q = et_realloc(c->q, c->qcap * sizeof(*c->q));
    }
    struct t_wire *w = &c->q[c->qn++];
    *w = (struct t_wire){ .from = m->from, .to = m->to, .type = m->type };
    raft_msg_encode(m, &w->bytes);
}

void t_process(struct t_cluster *c, raft_id id)
{
    struct raft *r = c->r[id];
    for (int guard = 0; r && raft_has_ready(r); guard++) {
        cr_assert_lt(guard, 1000, "ready loop does not converge");
        struct raft_ready rd;
        raft_ready(r, &rd);
        for (size_t i = 0; i < rd.msg_early_count; i++)
            enqueue(c, &rd.msgs_early[i]);
        for (size_t i = 0; i < rd.msg_count; i++)
            enqueue(c, &rd.msgs[i]);
        if (rd.snapshot)
            c->applied_index[id] = rd.snapshot->meta.index;
        for (size_t i = 0; i < rd.committed_count; i++) {
            const struct raft_entry *e = &rd.committed[i];
            cr_assert_eq(e->index, c->applied_index[id] + 1, "applies in order");
            c->applied_index[id] = e->index;
            if (e->type == RAFT_ENTRY_NORMAL && c->applied_n[id] < T_APPLIED_MAX)
                c->applied[id][c->applied_n[id]++] = et_strndup(e->len ? e->data : "", e->len);
        }
        for (size_t i = 0; i < rd.read_count && c->read_n[id] < 64; i++)
            c->reads[id][c->read_n[id]++] = rd.reads[i];
        raft_advance(r, &rd);
    }
}

static void deliver(struct t_cluster *c, struct t_wire *w)
{
    if (c->r[w->to] && !c->down[w->to] && !c->cut[w->from][w->to] && !c->cut[w->to][w->from]) {
        struct raft_msg m;
        cr_assert_eq(raft_msg_decode(w->bytes.data, w->bytes.len, &m), 0);
        cr_assert_eq(raft_step(c->r[w->to], &m), 0);
        raft_msg_decoded_free(&m);
        t_process(c, w->to);
    }
    et_buf_free(&w->bytes);
}

bool t_deliver_one(struct t_cluster *c)
{
    if (c->qn == 0)
        return false;
    struct t_wire w = c->q[0];
    memmove(c->q, c->q + 1, (c->qn - 1) * sizeof(*c->q));
    c->qn--;
    deliver(c, &w);
    return true;
}

int t_settle(struct t_cluster *c)
{
    int n = 0;
    for (int i = 1; i <= c->n; i++)
        t_process(c, (raft_id)i);
    while (t_deliver_one(c)) {
        n++;
        cr_assert_lt(n, 100000, "cluster does not settle");
    }
    return n;
}

void t_drop_all(struct t_cluster *c)
{
    for (size_t i = 0; i < c->qn; i++)
        et_buf_free(&c->q[i].bytes);
    c->qn = 0;
}

void t_tick(struct t_cluster *c, raft_id id, int ticks)
{
    for (int i = 0; i < ticks; i++) {
        raft_tick(c->r[id]);
        t_process(c, id);
    }
}

void t_tick_all(struct t_cluster *c, int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (int i = 1; i <= c->n; i++)
            if (c->r[i] && !c->down[i])
                t_tick(c, (raft_id)i, 1);
        t_settle(c);
    }
}

void t_elect(struct t_cluster *c, raft_id id)
{
    struct raft_info before = t_info(c, id);
    for (int i = 0;
         i < 40 && t_info(c, id).role == RAFT_FOLLOWER && t_info(c, id).term == before.term; i++)
        t_tick(c, id, 1);
    t_settle(c);
}

void t_campaign(struct t_cluster *c, raft_id id)
{
    for (int i = 0; i < 40 && t_info(c, id).role == RAFT_FOLLOWER; i++)
        t_tick(c, id, 1);
    cr_assert_neq(t_info(c, id).role, RAFT_FOLLOWER);
}

void t_elect_only(struct t_cluster *c, raft_id id)
{
    t_campaign(c, id);
    while (t_info(c, id).role != RAFT_LEADER && t_deliver_one(c))
        ;
    cr_assert_eq(t_info(c, id).role, RAFT_LEADER);
    t_drop_all(c);
}

raft_id t_leader(struct t_cluster *c)
{
    raft_id leader = 0;
    raft_term term = 0;
    for (int i = 1; i <= c->n; i++) {
        if (!c->r[i] || c->down[i])
            continue;
        struct raft_info in = t_info(c, (raft_id)i);
        if (in.role == RAFT_LEADER && in.term >= term) {
            leader = (raft_id)i;
            term = in.term;
        }
    }
    return leader;
}

void t_isolate(struct t_cluster *c, raft_id id)
{
    for (int i = 1; i <= T_MAX; i++)
        c->cut[id][i] = c->cut[i][id] = true;
}

void t_heal(struct t_cluster *c)
{
    memset(c->cut, 0, sizeof(c->cut));
}

int t_propose(struct t_cluster *c, raft_id id, const char *s)
{
    int err = raft_propose(c->r[id], s, strlen(s), NULL, NULL);
    t_process(c, id);
    return err;
}

struct raft_info t_info(struct t_cluster *c, raft_id id)
{
    struct raft_info in;
    raft_get_info(c->r[id], &in);
    return in;
}

int t_queued(struct t_cluster *c, uint8_t type, raft_id from, raft_id to)
{
    int n = 0;
    for (size_t i = 0; i < c->qn; i++)
        n += c->q[i].type == type && (!from || c->q[i].from == from) && (!to || c->q[i].to == to);
    return n;
}
