/*
 * core/json.h - JSON string output exactly as etcd (Go's encoding/json) renders it.
 *
 * Rules (spec/v2-keys-api.md 4.6): `"` and `\` escaped; LF, CR, TAB as \n \r \t; other bytes
 * below 0x20 as \u00XX (lowercase hex); `<`, `>`, `&` as \u003c \u003e \u0026; U+2028/2029 as
 * \u2028/\u2029; valid UTF-8 raw; each byte of an invalid UTF-8 sequence as \ufffd.
 */
#ifndef ET_CORE_JSON_H
#define ET_CORE_JSON_H

#include <stddef.h>

#include "core/buf.h"

/* Appends @s (@len bytes, any content) as a quoted JSON string. */
void et_json_string(struct et_buf *b, const char *s, size_t len);

/*
 * Decoding: copies the character at @s (@len bytes left, @s[0] >= 0x80) of a JSON string to @b
 * (NULL: skips it) as Go's decoder does: a valid UTF-8 sequence as it is, an invalid byte as
 * U+FFFD. Returns the bytes consumed (at least 1).
 */
size_t et_json_unquote_utf8(struct et_buf *b, const char *s, size_t len);

static inline void et_json_cstr(struct et_buf *b, const char *s)
{
    et_json_string(b, s, strlen(s));
}

#endif
