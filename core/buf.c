/*
 * core/buf.c - growable byte buffer. Capacity doubles, so appends are amortised O(1).
 */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/alloc.h"

void et__buf_grow(struct et_buf *b, size_t extra)
{
    ET_ASSERT(extra < SIZE_MAX / 2 - b->len);
    size_t need = b->len + extra + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
            cap *= 2;
        b->data = et_realloc(b->data, cap);
        b->cap = cap;
    }
}

void et_buf_printf(struct et_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ET_ASSERT(n >= 0);
    char *dst = et_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t et_u64_str(char *dst, uint64_t v)
{
    /* two digits per division: indexes are printed thousands of times per listing, and three
     * times in the headers of every answer */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                   "31323334353637383940414243444546474849505152535455565758596061"
                                   "62636465666768697071727374757677787980818283848586878889909192"
                                   "93949596979899";
    char tmp[ET_U64_STR_MAX];
    size_t i = sizeof(tmp);
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--i] = pairs[d + 1];
        tmp[--i] = pairs[d];
    }
    if (v >= 10) {
        tmp[--i] = pairs[v * 2 + 1];
        tmp[--i] = pairs[v * 2];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(dst, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

char *et_u64_str_fixed(char *dst, uint64_t v, size_t width)
{
    for (size_t i = width; i > 0; i--) {
        dst[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return dst + width;
}

void et_buf_append_u64(struct et_buf *b, uint64_t v)
{
    char *dst = et_buf_reserve(b, ET_U64_STR_MAX);
    b->len += et_u64_str(dst, v);
    b->data[b->len] = '\0';
}

void et_buf_append_i64(struct et_buf *b, int64_t v)
{
    if (v < 0) {
        et_buf_append_char(b, '-');
        et_buf_append_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        et_buf_append_u64(b, (uint64_t)v);
    }
}

void et_buf_reset(struct et_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void et_buf_free(struct et_buf *b)
{
    et_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
