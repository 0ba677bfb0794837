/*
 * raft/codec.c - the wire form of struct raft_msg, in msgpack (msgpack-c).
 *
 * A message is one msgpack array of 14 items, in the order of struct raft_msg:
 *   [type, from, to, term, log_term, index, commit, reject, force, reject_hint, hint_term,
 *    context, entries, snapshot]
 * entries is an array of [term, index, type, data(bin)]; snapshot is nil or
 * [index, term, [[id, voter], ...], data(bin)]. Integers are unsigned, flags are booleans.
 *
 * Decoding takes bytes from the network, so it trusts nothing: before msgpack-c sees the buffer,
 * check_object() walks it once and refuses any container that claims more items than bytes
 * remain (msgpack-c would otherwise allocate for the claimed count) or nests deeper than our
 * format does. Every field is then type-checked; anything unexpected is -EINVAL.
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "raft/raft.h"

#define MSG_FIELDS 14
#define DEPTH_MAX  5

static int buf_write(void *data, const char *p, size_t len)
{
    et_buf_append(data, p, len);
    return 0;
}

static void pack_u64(msgpack_packer *pk, uint64_t v)
{
    msgpack_pack_uint64(pk, v);
}

static void pack_bool(msgpack_packer *pk, bool v)
{
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

void raft_msg_encode(const struct raft_msg *m, struct et_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, MSG_FIELDS);
    pack_u64(&pk, m->type);
    pack_u64(&pk, m->from);
    pack_u64(&pk, m->to);
    pack_u64(&pk, m->term);
    pack_u64(&pk, m->log_term);
    pack_u64(&pk, m->index);
    pack_u64(&pk, m->commit);
    pack_bool(&pk, m->reject);
    pack_bool(&pk, m->force);
    pack_u64(&pk, m->reject_hint);
    pack_u64(&pk, m->hint_term);
    pack_u64(&pk, m->context);
    msgpack_pack_array(&pk, m->entry_count);
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct raft_entry *e = &m->entries[i];
        msgpack_pack_array(&pk, 4);
        pack_u64(&pk, e->term);
        pack_u64(&pk, e->index);
        pack_u64(&pk, e->type);
        pack_bin(&pk, e->data, e->len);
    }
    if (m->type != RAFT_MSG_SNAPSHOT) {
        msgpack_pack_nil(&pk);
        return;
    }
    const struct raft_snapshot *s = &m->snapshot;
    msgpack_pack_array(&pk, 4);
    pack_u64(&pk, s->meta.index);
    pack_u64(&pk, s->meta.term);
    msgpack_pack_array(&pk, s->meta.conf.count);
    for (uint32_t i = 0; i < s->meta.conf.count; i++) {
        msgpack_pack_array(&pk, 2);
        pack_u64(&pk, s->meta.conf.members[i].id);
        pack_bool(&pk, s->meta.conf.members[i].voter);
    }
    pack_bin(&pk, s->data, s->len);
}

/* ---------------------------------------------------------------------------------------------
 * Structural pre-check
 */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Returns the end of the object at @p, or NULL when it is malformed or overruns @end. */
static const uint8_t *check_object(const uint8_t *p, const uint8_t *end, int depth)
{
    if (p >= end || depth > DEPTH_MAX)
        return NULL;
    uint8_t b = *p++;
    uint64_t skip = 0, items = 0; /* bytes to skip, or child objects to walk */
    static const uint8_t fixext_len[] = { 1, 2, 4, 8, 16 };
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return p;
    if (b >= 0x80 && b <= 0x8f)
        items = 2 * (uint64_t)(b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f)
        items = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf)
        skip = b & 0x1f;
    else if (b >= 0xcc && b <= 0xd3)
        skip = 1u << ((b - 0xcc) & 3);
    else if (b == 0xca || b == 0xcb)
        skip = b == 0xca ? 4 : 8;
    else if (b >= 0xd4 && b <= 0xd8)
        skip = 1 + (uint64_t)fixext_len[b - 0xd4];
    else {
        int n; /* width of the length field */
        switch (b) {
        case 0xc4:
        case 0xc7:
        case 0xd9:
            n = 1;
            break;
        case 0xc5:
        case 0xc8:
        case 0xda:
        case 0xdc:
        case 0xde:
            n = 2;
            break;
        case 0xc6:
        case 0xc9:
        case 0xdb:
        case 0xdd:
        case 0xdf:
            n = 4;
            break;
        default:
            return NULL; /* 0xc1 is never used */
        }
        if ((uint64_t)(end - p) < (uint64_t)n)
            return NULL;
        uint64_t len = be(p, n);
        p += n;
        if (b == 0xdc || b == 0xdd)
            items = len;
        else if (b == 0xde || b == 0xdf)
            items = 2 * len;
        else
            skip = len + (b >= 0xc7 && b <= 0xc9); /* ext: one type byte */
    }
    if (skip > (uint64_t)(end - p) || items > (uint64_t)(end - p))
        return NULL;
    p += skip;
    for (uint64_t i = 0; i < items; i++) {
        p = check_object(p, end, depth + 1);
        if (p == NULL)
            return NULL;
    }
    return p;
}

/* ---------------------------------------------------------------------------------------------
 * Field extraction
 */

static bool get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

static bool get_bool(const msgpack_object *o, bool *v)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *v = o->via.boolean;
    return true;
}

static bool get_array(const msgpack_object *o, uint32_t want, const msgpack_object **items)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || (want != UINT32_MAX && o->via.array.size != want))
        return false;
    *items = o->via.array.ptr;
    return true;
}

static bool get_small(const msgpack_object *o, uint64_t max, uint64_t *v)
{
    return get_u64(o, v) && *v <= max;
}

static bool decode_header(const msgpack_object *f, struct raft_msg *m)
{
    uint64_t type;
    if (!get_small(&f[0], RAFT_MSG_TYPE_MAX, &type) || type == 0)
        return false;
    m->type = (uint8_t)type;
    return get_u64(&f[1], &m->from) && get_u64(&f[2], &m->to) && get_u64(&f[3], &m->term) &&
           get_u64(&f[4], &m->log_term) && get_u64(&f[5], &m->index) &&
           get_u64(&f[6], &m->commit) && get_bool(&f[7], &m->reject) &&
           get_bool(&f[8], &m->force) && get_u64(&f[9], &m->reject_hint) &&
           get_u64(&f[10], &m->hint_term) && get_u64(&f[11], &m->context);
}

/* Bytes the decoded message needs outside struct raft_msg, or SIZE_MAX when malformed. */
static size_t payload_size(const msgpack_object *ents, const msgpack_object *snap)
{
    if (ents->type != MSGPACK_OBJECT_ARRAY)
        return SIZE_MAX;
    size_t need = ents->via.array.size * sizeof(struct raft_entry);
    for (uint32_t i = 0; i < ents->via.array.size; i++) {
        const msgpack_object *e;
        if (!get_array(&ents->via.array.ptr[i], 4, &e) || e[3].type != MSGPACK_OBJECT_BIN)
            return SIZE_MAX;
        need += e[3].via.bin.size;
    }
    if (snap->type != MSGPACK_OBJECT_NIL) {
        const msgpack_object *s;
        if (!get_array(snap, 4, &s) || s[3].type != MSGPACK_OBJECT_BIN)
            return SIZE_MAX;
        need += s[3].via.bin.size;
    }
    return need;
}

static bool decode_entries(const msgpack_object *ents, struct raft_msg *m, char **space)
{
    struct raft_entry *v = (struct raft_entry *)*space;
    *space += ents->via.array.size * sizeof(*v);
    for (uint32_t i = 0; i < ents->via.array.size; i++) {
        const msgpack_object *e = ents->via.array.ptr[i].via.array.ptr;
        uint64_t type;
        if (!get_u64(&e[0], &v[i].term) || !get_u64(&e[1], &v[i].index) ||
            !get_small(&e[2], RAFT_ENTRY_NOOP, &type))
            return false;
        v[i].type = (uint8_t)type;
        v[i].len = e[3].via.bin.size;
        v[i].data = NULL;
        if (v[i].len) {
            memcpy(*space, e[3].via.bin.ptr, v[i].len);
            v[i].data = *space;
            *space += v[i].len;
        }
    }
    m->entry_count = ents->via.array.size;
    m->entries = m->entry_count ? v : NULL;
    return true;
}

static bool decode_snapshot(const msgpack_object *snap, struct raft_msg *m, char *space)
{
    if (snap->type == MSGPACK_OBJECT_NIL)
        return m->type != RAFT_MSG_SNAPSHOT;
    if (m->type != RAFT_MSG_SNAPSHOT)
        return false;
    const msgpack_object *s = snap->via.array.ptr, *members;
    struct raft_snapshot *out = &m->snapshot;
    if (!get_u64(&s[0], &out->meta.index) || !get_u64(&s[1], &out->meta.term) ||
        !get_array(&s[2], UINT32_MAX, &members) || s[2].via.array.size > RAFT_MEMBERS_MAX)
        return false;
    out->meta.conf.count = s[2].via.array.size;
    for (uint32_t i = 0; i < out->meta.conf.count; i++) {
        const msgpack_object *mb;
        if (!get_array(&members[i], 2, &mb) || !get_u64(&mb[0], &out->meta.conf.members[i].id) ||
            !get_bool(&mb[1], &out->meta.conf.members[i].voter))
            return false;
    }
    out->len = s[3].via.bin.size;
    out->data = space;
    if (out->len)
        memcpy(space, s[3].via.bin.ptr, out->len);
    return true;
}

int raft_msg_decode(const void *buf, size_t len, struct raft_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL ||
        check_object(buf, (const uint8_t *)buf + len, 0) != (const uint8_t *)buf + len)
        return -EINVAL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int err = -EINVAL;
    const msgpack_object *f;
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        goto out_destroy;
    if (!get_array(&u.data, MSG_FIELDS, &f) || !decode_header(f, out))
        goto out_destroy;
    size_t need = payload_size(&f[12], &f[13]);
    if (need == SIZE_MAX)
        goto out_destroy;
    out->_decoded = et_alloc(need);
    char *space = out->_decoded;
    if (!decode_entries(&f[12], out, &space) || !decode_snapshot(&f[13], out, space)) {
        raft_msg_decoded_free(out);
        goto out_destroy;
    }
    err = 0;
out_destroy:
    msgpack_unpacked_destroy(&u);
    if (err)
        memset(out, 0, sizeof(*out));
    return err;
}

void raft_msg_decoded_free(struct raft_msg *m)
{
    et_free(m->_decoded);
    m->_decoded = NULL;
    m->entries = NULL;
    m->entry_count = 0;
}
