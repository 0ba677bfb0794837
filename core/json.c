/*
 * core/json.c - Go-compatible JSON string escaping. Runs of bytes that need no escaping are
 * copied in one append; UTF-8 is validated sequence by sequence as Go's utf8.DecodeRune does
 * (overlong forms, surrogates and values above U+10FFFF are invalid, one \ufffd per bad byte).
 */
#include "core/json.h"

#include <stdint.h>

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

void et_json_string(struct et_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, start = 0;

    et_buf_reserve(b, len + 2);
    et_buf_append_char(b, '"');
    while (i < len) {
        unsigned c = s[i];
        if (plain[c]) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_valid_len(s + i, len - i);
            if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
                et_buf_append(b, s + start, i - start);
                et_buf_append_str(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
                i += 3;
                start = i;
                continue;
            }
            if (n) {
                i += n;
                continue;
            }
            et_buf_append(b, s + start, i - start);
            et_buf_append_str(b, "\\ufffd");
            start = ++i;
            continue;
        }
        et_buf_append(b, s + start, i - start);
        switch (c) {
        case '"':
            et_buf_append_str(b, "\\\"");
            break;
        case '\\':
            et_buf_append_str(b, "\\\\");
            break;
        case '\n':
            et_buf_append_str(b, "\\n");
            break;
        case '\r':
            et_buf_append_str(b, "\\r");
            break;
        case '\t':
            et_buf_append_str(b, "\\t");
            break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            et_buf_append(b, u, sizeof(u));
        }
        }
        start = ++i;
    }
    et_buf_append(b, s + start, i - start);
    et_buf_append_char(b, '"');
}
