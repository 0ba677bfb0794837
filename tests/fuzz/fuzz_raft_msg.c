/*
 * tests/fuzz/fuzz_raft_msg.c - fuzzes the raft peer message codec and the core's handling of
 * whatever decodes: raft_msg_decode() must refuse garbage with -EINVAL, a decoded message must
 * encode back to bytes that decode to the same message, and raft_step() on a follower and on a
 * leader must never crash on it (it may refuse it with -EINVAL).
 */
#include <string.h>

#include "core/buf.h"
#include "raft/raft.h"
#include "tests/fuzz/fuzz.h"

static void same_msg(const struct raft_msg *a, const struct raft_msg *b)
{
    FUZZ_CHECK(a->type == b->type && a->from == b->from && a->to == b->to);
    FUZZ_CHECK(a->term == b->term && a->log_term == b->log_term && a->index == b->index);
    FUZZ_CHECK(a->commit == b->commit && a->reject == b->reject && a->force == b->force);
    FUZZ_CHECK(a->reject_hint == b->reject_hint && a->hint_term == b->hint_term);
    FUZZ_CHECK(a->context == b->context && a->entry_count == b->entry_count);
    for (uint32_t i = 0; i < a->entry_count; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        FUZZ_CHECK(x->term == y->term && x->index == y->index && x->type == y->type);
        FUZZ_CHECK(x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0));
    }
    FUZZ_CHECK(a->snapshot.meta.index == b->snapshot.meta.index);
    FUZZ_CHECK(a->snapshot.len == b->snapshot.len);
}

static struct raft *new_core(bool leader)
{
    struct raft_config cfg = {
        .id = 1,
        .election_ticks = 10,
        .heartbeat_ticks = 1,
        .seed = 1,
        .max_msg_entries = 16,
        .max_msg_bytes = 4096,
        .max_inflight = 4,
        .pre_vote = false,
        .check_quorum = true,
    };
    cfg.bootstrap.count = 3;
    for (int i = 0; i < 3; i++)
        cfg.bootstrap.members[i] = (struct raft_member){ (raft_id)i + 1, true };
    struct raft *r;
    FUZZ_CHECK(raft_new(&cfg, &r) == 0);
    for (int i = 0; leader && i < 20; i++)
        raft_tick(r);
    if (leader) {
        struct raft_msg v = { .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 1 };
        FUZZ_CHECK(raft_step(r, &v) == 0);
        struct raft_info in;
        raft_get_info(r, &in);
        FUZZ_CHECK(in.role == RAFT_LEADER);
    }
    return r;
}

static void drain(struct raft *r)
{
    for (int i = 0; i < 100 && raft_has_ready(r); i++) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        raft_advance(r, &rd);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raft_msg m;
    if (raft_msg_decode(data, size, &m) != 0)
        return 0;
    struct et_buf b = ET_BUF_INIT;
    raft_msg_encode(&m, &b);
    struct raft_msg again;
    FUZZ_CHECK(raft_msg_decode(b.data, b.len, &again) == 0);
    same_msg(&m, &again);
    raft_msg_decoded_free(&again);
    et_buf_free(&b);
    for (int leader = 0; leader < 2; leader++) {
        struct raft *r = new_core(leader);
        m.to = 1;
        m.from = 2 + (m.from & 1);
        int err = raft_step(r, &m);
        FUZZ_CHECK(err == 0 || err == -22);
        drain(r);
        raft_free(r);
    }
    raft_msg_decoded_free(&m);
    return 0;
}
