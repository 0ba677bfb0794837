/*
 * tests/core/test_jsonread.c - core/jsonread.h: nesting as deep as Go's decoder allows, parsed
 * and freed without recursion, and object lookups where the last matching member wins.
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
