/*
 * core/jsonread.h - a compact JSON reader, the tree's one JSON parser: parses one document into
 * a small tree. Used by the client (server responses), the server's discovery (keyspace answers)
 * and the server's request bodies: the 0.4 admin endpoint, /v2/members (whose 400 answers carry
 * Go's syntax error messages) and /v2/auth (only the first value of a body, as etcd's
 * json.Decoder reads it). Nesting is bounded as in Go (10000 levels, parsed without recursion),
 * strings are decoded to UTF-8, numbers keep their literal text (64-bit indexes never pass
 * through a double), and object lookups follow Go's encoding/json (a name matches exactly or
 * case-insensitively; of duplicates the last wins).
 */
#ifndef ET_CORE_JSONREAD_H
#define ET_CORE_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct et_buf;

enum et_jv_type {
    ET_JV_NULL,
    ET_JV_BOOL,
    ET_JV_NUMBER,
    ET_JV_STRING,
    ET_JV_ARRAY,
    ET_JV_OBJECT,
};

struct et_jv {
    enum et_jv_type type;
    bool boolean;        /* ET_JV_BOOL */
    char *str;           /* STRING: decoded bytes (NUL-terminated); NUMBER: the literal text */
    size_t len;          /* bytes in @str */
    struct et_jv *items; /* ARRAY elements or OBJECT member values */
    char **keys;         /* OBJECT member names (decoded, NUL-terminated) */
    size_t *key_lens;    /* OBJECT member names' bytes (a decoded name may hold a NUL) */
    size_t count;        /* elements or members */
};

/* Flags of et_jv_parse_go(). */
#define ET_JV_FIRST_VALUE 0x1u /* json.Decoder.Decode: the first value only, the rest not read */
#define ET_JV_REFUSE_NUL  0x2u /* a \u0000 escape in any string or name is an error */

/*
 * Parses @len bytes at @s (borrowed) as Go's encoding/json does. Without ET_JV_FIRST_VALUE as
 * json.Unmarshal: one value with only white space around it; with it as json.Decoder.Decode:
 * the first value, the bytes after it not looked at. ET_JV_REFUSE_NUL is for decoders into C
 * strings (api/auth.c): Go would take the NUL. Returns new tree, or NULL for invalid JSON with
 * json.Unmarshal's syntax error message (e.g. "invalid character 'x' looking for beginning of
 * value", "unexpected end of JSON input") appended to @err when @err is not NULL.
 * Thread: any.
 */
struct et_jv *et_jv_parse_go(const char *s, size_t len, unsigned flags, struct et_buf *err);
/* Parses @len bytes at @s as one JSON value (et_jv_parse_go() without flags or message).
 * Returns new tree, or NULL for invalid JSON. */
struct et_jv *et_jv_parse(const char *s, size_t len);
void et_jv_free(struct et_jv *v);
/* @key (@key_len bytes) names the struct field @name (ASCII) as Go's encoding/json matches
 * them: ASCII case-insensitively, and U+017F (long s) and U+212A (Kelvin sign) count as 's' and
 * 'k', which they fold to. */
bool et_jv_name_eq(const char *key, size_t key_len, const char *name);
/* The member @key of object @obj, matched as et_jv_name_eq(); of several, the last (Go decodes
 * each in document order into the same field). */
const struct et_jv *et_jv_get(const struct et_jv *obj, const char *key);
/* The string member @key, or "" when absent or not a string. These scalar accessors take the
 * last matching member that is not null: null leaves a Go scalar field as it was. */
const char *et_jv_str(const struct et_jv *obj, const char *key);
/* The unsigned integer member @key, or 0 when absent or not a number. */
uint64_t et_jv_u64(const struct et_jv *obj, const char *key);
int64_t et_jv_i64(const struct et_jv *obj, const char *key);
bool et_jv_bool(const struct et_jv *obj, const char *key);

#endif
