/*
 * core/json.c - Go-compatible JSON string escaping. Runs of bytes that need no escaping are found
 * 16 bytes at a time (SSE2) and copied in one append; UTF-8 is validated sequence by sequence as
 * Go's utf8.DecodeRune does (overlong forms, surrogates and values above U+10FFFF are invalid, one
 * \ufffd per bad byte).
 */
#include "core/json.h"

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Length of the valid UTF-8 sequence at @p (at most @n bytes), or 0 if invalid. */
static size_t utf8_valid_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0) {
        if (n < 2 || (p[1] & 0xc0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xf0) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] >= 0xa0)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xf5) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && p[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

size_t et_json_unquote_utf8(struct et_buf *b, const char *s, size_t len)
{
    size_t n = utf8_valid_len((const unsigned char *)s, len);
    if (b != NULL)
        et_buf_append(b, n ? s : "\xef\xbf\xbd", n ? n : 3);
    return n ? n : 1;
}

/* 1 for the bytes that are copied as they are (printable ASCII that Go does not escape). */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0),
    R16(0),
    /* 0x20-0x2f: " and & are escaped */
    1,
    1,
    0,
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    /* 0x30-0x3f: < and > are escaped */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    1,
    0,
    1,
    R16(1),
    /* 0x50-0x5f: \ is escaped */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    R16(1),
    R16(1),
    R16(0),
    R16(0),
    R16(0),
    R16(0),
    R16(0),
    R16(0),
    R16(0),
    R16(0),
#undef R16
};

/*
 * Bytes of @s (@n of them) before the first one that is not plain: 16 bytes at a time with SSE2
 * (a signed "less than 0x20" catches both control bytes and every byte >= 0x80), then the table.
 */
static size_t plain_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i lt = _mm_set1_epi8(0x20);
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i amp = _mm_set1_epi8('&'), less = _mm_set1_epi8('<'), more = _mm_set1_epi8('>');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, lt), _mm_cmpeq_epi8(v, quote));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, bslash));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, amp));
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(v, less), _mm_cmpeq_epi8(v, more)));
        unsigned mask = (unsigned)_mm_movemask_epi8(bad);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    while (i < n && plain[s[i]])
        i++;
    return i;
}

/* Appends the escape of byte @c (not plain, below 0x80). */
static void escape_ascii(struct et_buf *b, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        et_buf_append(b, "\\\"", 2);
        break;
    case '\\':
        et_buf_append(b, "\\\\", 2);
        break;
    case '\n':
        et_buf_append(b, "\\n", 2);
        break;
    case '\r':
        et_buf_append(b, "\\r", 2);
        break;
    case '\t':
        et_buf_append(b, "\\t", 2);
        break;
    default: {
        char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
        et_buf_append(b, u, sizeof(u));
    }
    }
}

void et_json_string(struct et_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    char *dst = et_buf_reserve(b, len + 2);
    size_t i = plain_prefix(s, len);
    if (ET_LIKELY(i == len)) {
        /* the common case: nothing to escape, one copy between the quotes */
        dst[0] = '"';
        memcpy(dst + 1, s, len);
        dst[len + 1] = '"';
        dst[len + 2] = '\0';
        b->len += len + 2;
        return;
    }
    et_buf_append_char(b, '"');
    size_t start = 0; /* first byte not yet appended */
    while (i < len) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_valid_len(s + i, len - i);
            if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
                et_buf_append(b, s + start, i - start);
                et_buf_append(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                i += 3;
                start = i;
            } else if (n) {
                i += n; /* valid UTF-8 is copied raw */
            } else {
                et_buf_append(b, s + start, i - start);
                et_buf_append(b, "\\ufffd", 6);
                start = ++i;
            }
        } else {
            et_buf_append(b, s + start, i - start);
            escape_ascii(b, c);
            start = ++i;
        }
        i += plain_prefix(s + i, len - i);
    }
    et_buf_append(b, s + start, i - start);
    et_buf_append_char(b, '"');
}
