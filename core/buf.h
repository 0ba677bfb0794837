/*
 * core/buf.h - a growable byte buffer. Used to build JSON bodies, log records and WAL batches.
 *
 * The buffer owns its bytes; et_buf_free() releases them. @data is NUL-terminated after every
 * append (one spare byte is always kept) so bodies can be handed to C string functions.
 */
#ifndef ET_CORE_BUF_H
#define ET_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/assert.h"

struct et_buf {
    char *data; /* bytes, NUL-terminated; NULL before the first append */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define ET_BUF_INIT \
    {               \
        NULL, 0, 0  \
    }

/* Grows the buffer so that @extra more bytes (plus the NUL) fit. */
void et__buf_grow(struct et_buf *b, size_t extra);

/* Makes room for @extra more bytes (plus the NUL) and returns where they go. */
static inline char *et_buf_reserve(struct et_buf *b, size_t extra)
{
    if (ET_UNLIKELY(b->cap - b->len <= extra)) /* cap >= len always; 0 - 0 for a new buffer */
        et__buf_grow(b, extra);
    return b->data + b->len;
}

static inline void et_buf_append(struct et_buf *b, const void *p, size_t len)
{
    char *dst = et_buf_reserve(b, len);
    if (len)
        memcpy(dst, p, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void et_buf_printf(struct et_buf *b, const char *fmt, ...) ET_PRINTF(2, 3);
void et_buf_append_u64(struct et_buf *b, uint64_t v);

#define ET_U64_STR_MAX 20 /* decimal digits of UINT64_MAX */
/* Writes @v in decimal to @dst (room for ET_U64_STR_MAX; no NUL). Returns the length. */
size_t et_u64_str(char *dst, uint64_t v);
/* Writes @v as exactly @width decimal digits, zero padded (higher digits are dropped). Returns
 * dst + width. */
char *et_u64_str_fixed(char *dst, uint64_t v, size_t width);
void et_buf_append_i64(struct et_buf *b, int64_t v);
/* Forgets the contents, keeps the memory. */
void et_buf_reset(struct et_buf *b);
void et_buf_free(struct et_buf *b);

static inline void et_buf_append_str(struct et_buf *b, const char *s)
{
    et_buf_append(b, s, strlen(s));
}

static inline void et_buf_append_char(struct et_buf *b, char c)
{
    char *p = et_buf_reserve(b, 1);
    p[0] = c;
    p[1] = '\0';
    b->len++;
}

#endif
