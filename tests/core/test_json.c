/* tests/core/test_json.c - JSON string escaping matches Go's encoding/json byte for byte; decimal
 * integer appends. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/json.h"

static char *t_json(const char *s, size_t len)
{
    static struct et_buf b;
    et_buf_reset(&b);
    et_json_string(&b, s, len);
    return b.data;
}

Test(core_json, escapes_as_etcd_does)
{
    const char in[] = "<a>&\"q\"\\ tab\tnl\n \xc3\xa9";
    cr_assert_str_eq(t_json(in, sizeof(in) - 1),
                     "\"\\u003ca\\u003e\\u0026\\\"q\\\"\\\\ tab\\tnl\\n \xc3\xa9\"");
}

Test(core_json, control_bytes_use_lowercase_unicode_escapes)
{
    cr_assert_str_eq(t_json("\x08\x0c\x1f", 3), "\"\\u0008\\u000c\\u001f\"");
    cr_assert_str_eq(t_json("a\0b", 3), "\"a\\u0000b\"");
}

Test(core_json, invalid_utf8_bytes_become_replacement_chars)
{
    cr_assert_str_eq(t_json("\xff\xfe", 2), "\"\\ufffd\\ufffd\"");
    cr_assert_str_eq(t_json("\xe2\x9c", 2), "\"\\ufffd\\ufffd\"");
    cr_assert_str_eq(t_json("\xe2\x9c\x93", 3), "\"\xe2\x9c\x93\"");
}

Test(core_json, line_separators_are_escaped_and_slash_and_del_are_raw)
{
    cr_assert_str_eq(t_json("\xe2\x80\xa8\xe2\x80\xa9", 6), "\"\\u2028\\u2029\"");
    cr_assert_str_eq(t_json("/\x7f", 2), "\"/\x7f\"");
}

/*
 * The escaper scans 16 bytes at a time; this reference does one byte at a time from the rules
 * (spec 4.6) and the two must agree on every string, wherever the special bytes fall.
 */
static size_t ref_utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || n < need)
        return 0;
    uint32_t cp = c & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < need; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[need] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return need;
}

static void ref_json(struct et_buf *b, const unsigned char *s, size_t len)
{
    et_buf_append_char(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        char tmp[8];
        if (c == '"' || c == '\\') {
            et_buf_append_char(b, '\\');
            et_buf_append_char(b, (char)c);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            et_buf_append_char(b, '\\');
            et_buf_append_char(b, c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            et_buf_append_str(b, tmp);
        } else if (c >= 0x80) {
            size_t n = ref_utf8_len(s + i, len - i);
            if (n == 0) {
                et_buf_append_str(b, "\\ufffd");
                i++;
                continue;
            }
            if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] & 0xfe) == 0xa8)
                et_buf_append_str(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            else
                et_buf_append(b, s + i, n);
            i += n;
            continue;
        } else {
            et_buf_append_char(b, (char)c);
        }
        i++;
    }
    et_buf_append_char(b, '"');
}

Test(core_json, agrees_with_a_byte_at_a_time_reference)
{
    /* mostly plain text with the bytes that matter mixed in at random positions */
    static const unsigned char specials[] = { '"',  '\\', '<',  '>',  '&',  '\n', '\r', '\t',
                                              0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2,
                                              0xe0, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0xa8 };
    static const char *const seqs[] = { "\xc3\xa9",     "\xe2\x80\xa8",     "\xe2\x80\xa9",
                                        "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
                                        "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xc0\xaf" };
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    struct et_buf got = ET_BUF_INIT, want = ET_BUF_INIT;
    unsigned char s[80];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0, target;
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        target = (size_t)(rng >> 33) % 70;
        while (len < target) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(rng >> 40);
            if (r % 8 == 0) {
                s[len++] = specials[(r >> 3) % sizeof(specials)];
            } else if (r % 8 == 1) {
                const char *q = seqs[(r >> 3) % ET_ARRAY_SIZE(seqs)];
                size_t ql = strlen(q);
                /* a sequence may be cut by the end of the string */
                size_t room = sizeof(s) - len < ql ? sizeof(s) - len : ql;
                memcpy(s + len, q, room);
                len += room;
            } else {
                s[len++] = (unsigned char)(' ' + (r >> 3) % 95);
            }
        }
        et_buf_reset(&got);
        et_buf_reset(&want);
        et_buf_append_str(&got, "x"); /* appends after existing content */
        et_buf_append_str(&want, "x");
        et_json_string(&got, (const char *)s, len);
        ref_json(&want, s, len);
        cr_assert_eq(got.len, want.len, "length differs at iteration %d: %s vs %s", iter, got.data,
                     want.data);
        cr_assert(memcmp(got.data, want.data, got.len) == 0, "%s vs %s", got.data, want.data);
        cr_assert_eq(got.data[got.len], '\0');
    }
    et_buf_free(&got);
    et_buf_free(&want);
}

Test(core_json, long_plain_and_late_escapes)
{
    char s[100];
    memset(s, 'a', sizeof(s));
    for (size_t pos = 0; pos < sizeof(s); pos++) {
        s[pos] = '<';
        char *out = t_json(s, sizeof(s));
        cr_assert_eq(strlen(out), sizeof(s) + 2 + 5);
        cr_assert(memcmp(out + 1 + pos, "\\u003c", 6) == 0, "escape at %zu", pos);
        s[pos] = 'a';
    }
    cr_assert_str_eq(t_json("", 0), "\"\"");
    cr_assert_str_eq(t_json("0123456789abcdef\xc3\xa9", 18), "\"0123456789abcdef\xc3\xa9\"");
}

Test(core_buf, decimal_integers)
{
    static const struct {
        uint64_t v;
        const char *s;
    } cases[] = { { 0, "0" },
                  { 7, "7" },
                  { 10, "10" },
                  { 99, "99" },
                  { 100, "100" },
                  { 1009, "1009" },
                  { 12345, "12345" },
                  { 1000000000000ULL, "1000000000000" },
                  { UINT64_MAX, "18446744073709551615" } };
    struct et_buf b = ET_BUF_INIT;
    for (size_t i = 0; i < ET_ARRAY_SIZE(cases); i++) {
        et_buf_reset(&b);
        et_buf_append_u64(&b, cases[i].v);
        cr_assert_str_eq(b.data, cases[i].s);
    }
    et_buf_reset(&b);
    et_buf_append_i64(&b, INT64_MIN);
    cr_assert_str_eq(b.data, "-9223372036854775808");
    et_buf_free(&b);
}
