/*
 * tests/core/test_jsonread.c - core/jsonread.h: nesting as deep as Go's decoder allows, parsed
 * and freed without recursion, object lookups where the last matching member wins, Go's syntax
 * error messages, and the first-value and NUL-refusing modes.
 */
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/jsonread.h"

/* @levels nested arrays (or objects), @inner at the bottom. */
static char *t_nested(int levels, bool objects, const char *inner)
{
    struct et_buf b = ET_BUF_INIT;
    for (int i = 0; i < levels; i++)
        et_buf_append_str(&b, objects ? "{\"a\":" : "[");
    et_buf_append_str(&b, inner);
    for (int i = 0; i < levels; i++)
        et_buf_append_char(&b, objects ? '}' : ']');
    return b.data;
}

Test(jsonread, nests_to_go_max_depth)
{
    /* Go's scanner allows 10000 open arrays or objects and refuses the 10001st */
    static const struct {
        int levels;
        bool objects, ok;
    } cases[] = { { 200, false, true },    { 10000, false, true }, { 10001, false, false },
                  { 20000, false, false }, { 10000, true, true },  { 10001, true, false } };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *s = t_nested(cases[i].levels, cases[i].objects, "1");
        struct et_jv *v = et_jv_parse(s, strlen(s));
        cr_assert_eq(v != NULL, cases[i].ok, "%d levels", cases[i].levels);
        if (v) {
            const struct et_jv *in = v;
            for (int d = 1; d < cases[i].levels; d++)
                in = &in->items[0];
            cr_assert_eq(in->count, 1);
            cr_assert_eq(in->items[0].type, ET_JV_NUMBER);
        }
        et_jv_free(v);
        et_free(s);
    }
    char *s = t_nested(5000, false, "[1,]"); /* an error deep down */
    cr_assert_null(et_jv_parse(s, strlen(s)));
    et_free(s);
}

Test(jsonread, containers_and_errors)
{
    const char *ok = " {\"a\":[1,{},[],\"x\",{\"b\":null,\"c\":[true,false]}],\"d\":{}} ";
    struct et_jv *v = et_jv_parse(ok, strlen(ok));
    cr_assert_not_null(v);
    cr_assert_eq(v->count, 2);
    cr_assert_eq(v->items[0].count, 5);
    cr_assert_eq(v->items[0].items[4].items[1].count, 2);
    cr_assert_eq(v->items[1].type, ET_JV_OBJECT);
    et_jv_free(v);
    static const char *const bad[] = { "[",     "[1,]",      "{\"a\"}", "{\"a\":1,}", "{1:2}",
                                       "[1 2]", "{\"a\":1]", "[}",      "[1]]",       "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_null(et_jv_parse(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(jsonread, duplicate_members_last_wins)
{
    /* Go decodes every member whose name matches the field, in order: the last one wins,
     * whatever its case, and null leaves a scalar field as it was */
    const char *s = "{\"key\":\"a\",\"KEY\":\"b\",\"index\":5,\"Index\":7,\"index\":null,"
                    "\"dir\":true,\"dir\":false,\"nodes\":[1],\"nodes\":null}";
    struct et_jv *v = et_jv_parse(s, strlen(s));
    cr_assert_not_null(v);
    cr_assert_str_eq(et_jv_str(v, "key"), "b");
    cr_assert_eq(et_jv_u64(v, "index"), 7);
    cr_assert_eq(et_jv_i64(v, "index"), 7);
    cr_assert_not(et_jv_bool(v, "dir"));
    cr_assert_eq(et_jv_get(v, "nodes")->type, ET_JV_NULL, "null sets a slice to nil");
    cr_assert_eq(et_jv_get(v, "index")->type, ET_JV_NULL);
    et_jv_free(v);
}

/* The message et_jv_parse_go() gives for @s (NULL when it parses), as a new string. */
static char *t_go_error(const char *s, size_t len, unsigned flags)
{
    struct et_buf err = ET_BUF_INIT;
    struct et_jv *v = et_jv_parse_go(s, len, flags, &err);
    cr_assert_eq(v == NULL, err.len > 0, "%s: a message exactly when refused", s);
    et_jv_free(v);
    if (err.len == 0)
        return NULL;
    *et_buf_reserve(&err, 0) = '\0';
    return err.data;
}

Test(jsonread, syntax_errors_in_go_words)
{
    /* json.Unmarshal's messages (Go's encoding/json scanner), as etcd's /v2/members answers */
    static const char *const cases[][2] = {
        { "", "unexpected end of JSON input" },
        { " {", "unexpected end of JSON input" },
        { "[1,", "unexpected end of JSON input" },
        { "\"ab", "unexpected end of JSON input" },
        { "\"a\\", "invalid character ' ' in string escape code" },
        { "\"\\u12", "invalid character ' ' in \\u hexadecimal character escape" },
        { "tru", "invalid character ' ' in literal true (expecting 'e')" },
        { "[n", "invalid character ' ' in literal null (expecting 'u')" },
        { "-", "invalid character ' ' in numeric literal" },
        { "0.", "invalid character ' ' after decimal point in numeric literal" },
        { "1E-", "invalid character ' ' in exponent of numeric literal" },
        { "x", "invalid character 'x' looking for beginning of value" },
        { "[,", "invalid character ',' looking for beginning of value" },
        { "[1,]", "invalid character ']' looking for beginning of value" },
        { "{\"a\":1,}", "invalid character '}' looking for beginning of object key string" },
        { "{1:2}", "invalid character '1' looking for beginning of object key string" },
        { "{\"a\" 1}", "invalid character '1' after object key" },
        { "{\"a\":1]", "invalid character ']' after object key:value pair" },
        { "[1}", "invalid character '}' after array element" },
        { "{} x", "invalid character 'x' after top-level value" },
        { "01", "invalid character '1' after top-level value" },
        { "trux", "invalid character 'x' in literal true (expecting 'e')" },
        { "fals3", "invalid character '3' in literal false (expecting 'e')" },
        { "-a", "invalid character 'a' in numeric literal" },
        { "1.e", "invalid character 'e' after decimal point in numeric literal" },
        { "1e+x", "invalid character 'x' in exponent of numeric literal" },
        { "\"\t\"", "invalid character '\\t' in string literal" },
        { "\"\x01\"", "invalid character '\\x01' in string literal" },
        { "\"\\x\"", "invalid character 'x' in string escape code" },
        { "\"\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape" },
        { "\"\\ud800\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape" },
        { "'", "invalid character '\\'' looking for beginning of value" },
        { "\x7f", "invalid character '\\x7f' looking for beginning of value" },
        { "\xc3\xa9", "invalid character '\xc3\x83' looking for beginning of value" },
        { "\x85", "invalid character '\\u0085' looking for beginning of value" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *got = t_go_error(cases[i][0], strlen(cases[i][0]), 0);
        cr_assert_not_null(got, "%s accepted", cases[i][0]);
        cr_assert_str_eq(got, cases[i][1], "%s", cases[i][0]);
        et_free(got);
    }
    char *deep = t_nested(10001, false, "1");
    char *got = t_go_error(deep, strlen(deep), 0);
    cr_assert_str_eq(got, "invalid character '[' exceeded max depth");
    et_free(got);
    et_free(deep);
}

Test(jsonread, first_value_and_nul_refusal)
{
    /* json.Decoder.Decode reads the first value only: what follows may be anything */
    static const char *const first[] = { "{} x", "null]", "{\"a\":1}{", "1x", "nullx" };
    for (size_t i = 0; i < sizeof(first) / sizeof(*first); i++) {
        struct et_jv *v = et_jv_parse_go(first[i], strlen(first[i]), ET_JV_FIRST_VALUE, NULL);
        cr_assert_not_null(v, "%s", first[i]);
        et_jv_free(v);
        cr_assert_null(et_jv_parse(first[i], strlen(first[i])), "%s", first[i]);
    }
    cr_assert_null(et_jv_parse_go("nul", 3, ET_JV_FIRST_VALUE, NULL));
    cr_assert_null(et_jv_parse_go(" ", 1, ET_JV_FIRST_VALUE, NULL));
    /* \u0000 decodes to a NUL byte, unless refused (in names too) */
    const char *nul = "{\"a\":\"x\\u0000y\"}";
    struct et_jv *v = et_jv_parse(nul, strlen(nul));
    cr_assert_not_null(v);
    cr_assert_eq(v->items[0].len, 3);
    cr_assert_eq(memcmp(v->items[0].str, "x\0y", 4), 0);
    et_jv_free(v);
    static const char *const refused[] = { "{\"a\":\"x\\u0000y\"}", "{\"\\u0000\":1}",
                                           "[[[\"\\u0000\"]]]" };
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        char *got = t_go_error(refused[i], strlen(refused[i]), ET_JV_REFUSE_NUL);
        cr_assert_not_null(got, "%s", refused[i]);
        et_free(got);
    }
    /* a surrogate pair, a lone surrogate, invalid UTF-8 */
    const char *u = "\"\\ud83d\\ude00\\udc00\\ud800x\xff\"";
    v = et_jv_parse_go(u, strlen(u), ET_JV_REFUSE_NUL, NULL);
    cr_assert_not_null(v);
    cr_assert_str_eq(v->str, "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd");
    et_jv_free(v);
}
