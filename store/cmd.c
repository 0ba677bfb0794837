/*
 * store/cmd.c - the wire form of a store command, as it travels in the Raft log.
 *
 * Format: a msgpack array of 8 elements:
 *   [op, flags, key, value, prev_value, prev_index, expire_ns, now_ns]
 * flags: 1 dir, 2 recursive, 4 refresh, 8 has_prev_value; strings as bin (any bytes).
 * Decoding reads data from the WAL and from peers, so every field is type- and range-checked and
 * anything unexpected (wrong types, trailing bytes, truncation) is -EINVAL, never a crash.
 */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "core/mpcheck.h"
#include "store/store_int.h"

#define CMD_FIELDS 8

enum {
    CMD_F_DIR = 1,
    CMD_F_RECURSIVE = 2,
    CMD_F_REFRESH = 4,
    CMD_F_HAS_PREV_VALUE = 8,
};

static int buf_write(void *data, const char *p, size_t len)
{
    et_buf_append(data, p, len);
    return 0;
}

static void pack_bytes(msgpack_packer *pk, const char *p, size_t len)
{
    ET_ASSERT(len <= UINT32_MAX);
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

void store_cmd_encode(const struct store_cmd *cmd, struct et_buf *out)
{
    ET_ASSERT(cmd != NULL);
    ET_ASSERT(out != NULL);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    unsigned flags = (cmd->dir ? CMD_F_DIR : 0) | (cmd->recursive ? CMD_F_RECURSIVE : 0) |
                     (cmd->refresh ? CMD_F_REFRESH : 0) |
                     (cmd->has_prev_value ? CMD_F_HAS_PREV_VALUE : 0);
    msgpack_pack_array(&pk, CMD_FIELDS);
    msgpack_pack_uint8(&pk, cmd->op);
    msgpack_pack_unsigned_int(&pk, flags);
    pack_bytes(&pk, cmd->key, cmd->key_len);
    pack_bytes(&pk, cmd->value, cmd->value_len);
    pack_bytes(&pk, cmd->prev_value, cmd->prev_value_len);
    msgpack_pack_uint64(&pk, cmd->prev_index);
    msgpack_pack_int64(&pk, cmd->expire_ns);
    msgpack_pack_int64(&pk, cmd->now_ns);
}

/* The input buffer: decoded strings must point into it (msgpack-c's unpacker is zero-copy). */
struct span {
    const char *p;
    size_t len;
};

static bool get_bytes(const msgpack_object *o, const struct span *in, const char **p, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *len = o->via.bin.size;
    } else if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *len = o->via.str.size;
    } else {
        return false;
    }
    if (*len == 0) {
        *p = in->p; /* a valid pointer even for empty strings */
        return true;
    }
    return *p >= in->p && *len <= in->len && (size_t)(*p - in->p) <= in->len - *len;
}

static int decode_fields(const msgpack_object *a, const struct span *in, struct store_cmd *cmd)
{
    uint64_t op, flags;
    if (!store__mp_u64(&a[0], &op) || op < STORE_OP_SET || op > STORE_OP_INTERNAL_DELETE)
        return -EINVAL;
    if (!store__mp_u64(&a[1], &flags) || flags > 15)
        return -EINVAL;
    memset(cmd, 0, sizeof(*cmd));
    cmd->op = (uint8_t)op;
    cmd->dir = flags & CMD_F_DIR;
    cmd->recursive = flags & CMD_F_RECURSIVE;
    cmd->refresh = flags & CMD_F_REFRESH;
    cmd->has_prev_value = flags & CMD_F_HAS_PREV_VALUE;
    if (!get_bytes(&a[2], in, &cmd->key, &cmd->key_len) ||
        !get_bytes(&a[3], in, &cmd->value, &cmd->value_len) ||
        !get_bytes(&a[4], in, &cmd->prev_value, &cmd->prev_value_len))
        return -EINVAL;
    if (!store__mp_u64(&a[5], &cmd->prev_index) || !store__mp_i64(&a[6], &cmd->expire_ns) ||
        !store__mp_i64(&a[7], &cmd->now_ns))
        return -EINVAL;
    return 0;
}

int store_cmd_decode(const void *p, size_t len, struct store_cmd *cmd)
{
    ET_ASSERT(cmd != NULL);
    if (p == NULL || len == 0 || !et_msgpack_check(p, len))
        return -EINVAL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -EINVAL;
    if (msgpack_unpack_next(&u, p, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        goto out;
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != CMD_FIELDS)
        goto out;
    struct store_cmd tmp;
    struct span in = { p, len };
    rc = decode_fields(o->via.array.ptr, &in, &tmp);
    if (rc == 0)
        *cmd = tmp;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}
