/*
 * raft/log.c - the in-memory Raft log of the pure core: the entries after the last snapshot.
 *
 * The log is one array: ents[i] holds index snap.index + 1 + i. Entry data is owned by the core
 * (copied on append) and freed through raft__defer_free() so that anything handed out in a
 * struct raft_ready stays valid until raft_advance(). The configuration is derived from the log:
 * the snapshot's configuration plus every conf-change entry (thesis 4.1: "a server always uses
 * the latest configuration in its log, regardless of whether the entry is committed").
 *
 * Invariants: (1) terms never decrease along the log; (2) nothing at or below the commit index
 * is ever truncated (Log Matching + Leader Completeness make that impossible; we assert it).
 */
#include <string.h>

#include "core/alloc.h"
#include "raft/raft_int.h"

raft_index raft__last_index(const struct raft *r)
{
    return r->snap.index + r->ent_count;
}

raft_term raft__last_term(const struct raft *r)
{
    return r->ent_count ? r->ents[r->ent_count - 1].term : r->snap.term;
}

const struct raft_entry *raft__entry(const struct raft *r, raft_index index)
{
    if (index <= r->snap.index || index > raft__last_index(r))
        return NULL;
    return &r->ents[index - r->snap.index - 1];
}

raft_term raft__term(const struct raft *r, raft_index index)
{
    if (index == r->snap.index)
        return r->snap.term;
    const struct raft_entry *e = raft__entry(r, index);
    return e ? e->term : 0;
}

void raft__log_append(struct raft *r, raft_term term, uint8_t type, const void *data, size_t len)
{
    ET_ASSERT(term >= raft__last_term(r));
    ET_ASSERT(len <= UINT32_MAX);
    if (r->ent_count == r->ent_cap) {
        r->ent_cap = r->ent_cap ? r->ent_cap * 2 : 64;
        r->ents = et_realloc(r->ents, r->ent_cap * sizeof(*r->ents));
    }
    struct raft_entry *e = &r->ents[r->ent_count++];
    e->term = term;
    e->index = raft__last_index(r);
    e->type = type;
    e->len = (uint32_t)len;
    e->data = len ? et_memdup(data, len) : NULL;
    if (type == RAFT_ENTRY_CONF_CHANGE) {
        struct raft_conf_change cc;
        /* Checked by the leader before it was appended and by raft_step() on arrival. */
        ET_ASSERT(raft_conf_change_decode(data, len, &cc) == 0);
        raft__conf_apply(&r->conf, &cc);
        r->conf_index = e->index;
        raft__conf_changed(r);
    }
}

/* Removes the entries from index @from on (a conflicting suffix, thesis 3.5). */
void raft__log_truncate(struct raft *r, raft_index from)
{
    ET_ASSERT(from > r->commit);
    ET_ASSERT(from > r->snap.index);
    ET_ASSERT(from <= raft__last_index(r));
    for (raft_index i = from; i <= raft__last_index(r); i++)
        raft__defer_free(r, (void *)raft__entry(r, i)->data);
    r->ent_count = from - r->snap.index - 1;
    if (r->stable >= from)
        r->stable = from - 1;
    if (r->conf_index >= from) {
        /* A configuration entry was removed: fall back to the one before it (thesis 4.1). */
        raft__conf_at(r, from - 1, &r->conf);
        r->conf_index = r->snap.index;
        for (raft_index i = from - 1; i > r->snap.index; i--) {
            if (raft__entry(r, i)->type == RAFT_ENTRY_CONF_CHANGE) {
                r->conf_index = i;
                break;
            }
        }
        raft__conf_changed(r);
    }
}

/* Forgets the entries up to @upto, which the caller's snapshot now covers (thesis 5.1). */
void raft__log_compact(struct raft *r, raft_index upto)
{
    ET_ASSERT(upto > r->snap.index);
    ET_ASSERT(upto <= r->applied);
    ET_ASSERT(upto <= raft__last_index(r));
    struct raft_snapshot_meta meta = { .index = upto, .term = raft__term(r, upto) };
    raft__conf_at(r, upto, &meta.conf);
    size_t drop = upto - r->snap.index;
    for (size_t i = 0; i < drop; i++)
        raft__defer_free(r, (void *)r->ents[i].data);
    memmove(r->ents, r->ents + drop, (r->ent_count - drop) * sizeof(*r->ents));
    r->ent_count -= drop;
    r->snap = meta;
}

/* Replaces the whole log by a snapshot received from the leader (thesis 5.3 step 6-8). */
void raft__log_reset(struct raft *r, const struct raft_snapshot_meta *meta)
{
    ET_ASSERT(meta->index > r->commit);
    for (size_t i = 0; i < r->ent_count; i++)
        raft__defer_free(r, (void *)r->ents[i].data);
    r->ent_count = 0;
    r->snap = *meta;
    r->conf = meta->conf;
    r->conf_index = meta->index;
    r->commit = meta->index;
    r->applied = meta->index;
    r->stable = meta->index;
    raft__conf_changed(r);
}

/*
 * Election restriction (thesis 3.6.1): "If the logs have last entries with different terms, then
 * the log with the later term is more up-to-date. If the logs end with the same term, then
 * whichever log is longer is more up-to-date."
 */
bool raft__log_up_to_date(const struct raft *r, raft_index index, raft_term term)
{
    raft_term last_term = raft__last_term(r);
    return term > last_term || (term == last_term && index >= raft__last_index(r));
}

/*
 * The largest index <= @index whose term is <= @term: no entry above it can match a log whose
 * entry at @index has term @term (fast backtracking, thesis 5.3 / etcd's findConflictByTerm).
 */
raft_index raft__find_conflict_by_term(const struct raft *r, raft_index index, raft_term term)
{
    if (index > raft__last_index(r))
        index = raft__last_index(r);
    while (index > r->snap.index && raft__term(r, index) > term)
        index--;
    return index;
}

/* The configuration as of @index (>= snapshot index): the snapshot's plus later changes. */
void raft__conf_at(const struct raft *r, raft_index index, struct raft_conf *out)
{
    ET_ASSERT(index >= r->snap.index);
    *out = r->snap.conf;
    for (raft_index i = r->snap.index + 1; i <= index && i <= raft__last_index(r); i++) {
        const struct raft_entry *e = raft__entry(r, i);
        struct raft_conf_change cc;
        if (e->type != RAFT_ENTRY_CONF_CHANGE)
            continue;
        ET_ASSERT(raft_conf_change_decode(e->data, e->len, &cc) == 0);
        raft__conf_apply(out, &cc);
    }
}
