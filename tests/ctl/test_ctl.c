/*
 * tests/ctl/test_ctl.c - etcetera-ctl's parsers: the JSON reader, Go's number, bool and
 * duration syntax, the key path canonicalisation and escaping, and the urfave/cli argument
 * reordering that decides which words are flags (spec/etcdctl.md 2 and 5).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "core/alloc.h"
#include "tools/ctl.h"

static char *t_canon(const char *p)
{
    return ctl_canonical_path(p);
}

Test(ctl_json, parses_keys_response)
{
    const char *body = "{\"action\":\"get\",\"node\":{\"key\":\"/a\",\"value\":\"x\\u00e9\\n\","
                       "\"modifiedIndex\":18446744073709551615,\"createdIndex\":3,\"dir\":false,"
                       "\"nodes\":[{\"key\":\"/a/b\"},null]}}";
    struct et_jv *j = et_jv_parse(body, strlen(body));
    cr_assert_not_null(j);
    const struct et_jv *node = et_jv_get(j, "node");
    cr_assert_str_eq(et_jv_str(node, "value"), "x\xc3\xa9\n");
    cr_assert_eq(et_jv_u64(node, "modifiedIndex"), UINT64_MAX);
    cr_assert_eq(et_jv_u64(node, "createdIndex"), 3);
    cr_assert_eq(et_jv_bool(node, "dir"), false);
    cr_assert_eq(et_jv_get(node, "nodes")->count, 2);
    cr_assert_str_eq(et_jv_str(node, "KEY"), "/a", "names match case-insensitively as in Go");
    et_jv_free(j);
}

Test(ctl_json, decodes_surrogates_and_rejects_garbage)
{
    const char *s = "\"\\ud83d\\ude00\\ud800\"";
    struct et_jv *j = et_jv_parse(s, strlen(s));
    cr_assert_not_null(j);
    cr_assert_str_eq(j->str, "\xf0\x9f\x98\x80\xef\xbf\xbd");
    et_jv_free(j);
    const char *raw = "\"a\xff"
                      "b\xe2\x82\"";
    j = et_jv_parse(raw, strlen(raw));
    cr_assert_not_null(j);
    cr_assert_str_eq(j->str,
                     "a\xef\xbf\xbd"
                     "b\xef\xbf\xbd\xef\xbf\xbd",
                     "U+FFFD per bad byte, as Go");
    et_jv_free(j);
    const char *nums = "[0,-0,1.5,-1e10,2E-3,1e+2,18446744073709551615]";
    j = et_jv_parse(nums, strlen(nums));
    cr_assert_not_null(j);
    cr_assert_eq(j->count, 7);
    cr_assert_str_eq(j->items[3].str, "-1e10");
    et_jv_free(j);
    const char *bad[] = { "", "{", "{\"a\":}", "[1,]", "nul", "{\"a\":1} x", "\"\x01\"",
                          /* numbers outside JSON's grammar */
                          "-", "+1", "1-2", "--", ".5", "1.", "01", "1e", "1e+", "0x1", "[-]" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(bad); i++)
        cr_assert_null(et_jv_parse(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
    char deep[200];
    memset(deep, '[', sizeof(deep));
    cr_assert_null(et_jv_parse(deep, sizeof(deep)), "nesting is bounded");
}

Test(ctl_parse, go_integers)
{
    int64_t v;
    cr_assert_eq(ctl_parse_int("10", &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(ctl_parse_int("-5", &v), 0);
    cr_assert_eq(v, -5);
    cr_assert_eq(ctl_parse_int("0x10", &v), 0);
    cr_assert_eq(v, 16);
    cr_assert_eq(ctl_parse_int("010", &v), 0);
    cr_assert_eq(v, 8);
    cr_assert_eq(ctl_parse_int("abc", &v), -1);
    cr_assert_eq(ctl_parse_int("", &v), -1);
    cr_assert_eq(ctl_parse_int("99999999999999999999", &v), -2);
    cr_assert_eq(ctl_parse_int("9223372036854775807", &v), 0);
    cr_assert_eq(ctl_parse_int("9223372036854775808", &v), -2);
}

Test(ctl_parse, go_durations_and_bools)
{
    int64_t ns;
    bool b;
    cr_assert_eq(ctl_parse_duration("300ms", &ns), 0);
    cr_assert_eq(ns, 300000000);
    cr_assert_eq(ctl_parse_duration("1m30s", &ns), 0);
    cr_assert_eq(ns, 90000000000LL);
    cr_assert_eq(ctl_parse_duration("1.5h", &ns), 0);
    cr_assert_eq(ns, 5400000000000LL);
    cr_assert_eq(ctl_parse_duration("0", &ns), 0);
    cr_assert_eq(ctl_parse_duration("5", &ns), -1, "a bare number is rejected");
    cr_assert_eq(ctl_parse_duration("abc", &ns), -1);
    cr_assert_eq(ctl_parse_duration("2x", &ns), -1);
    cr_assert_eq(ctl_parse_bool("True", &b), 0);
    cr_assert(b);
    cr_assert_eq(ctl_parse_bool("0", &b), 0);
    cr_assert(!b);
    cr_assert_eq(ctl_parse_bool("yes", &b), -1);
}

Test(ctl_path, canonical_keeps_trailing_slash)
{
    const char *cases[][2] = {
        { "/v2/keys//foo//", "/v2/keys/foo/" },
        { "/v2/keys/a/../foo", "/v2/keys/foo" },
        { "/v2/keys/foo/./bar", "/v2/keys/foo/bar" },
        { "//v2/keys/", "/v2/keys/" },
        { "/v2/keys/../../..", "/" },
        { "", "/" },
    };
    for (size_t i = 0; i < ET_ARRAY_SIZE(cases); i++) {
        char *got = t_canon(cases[i][0]);
        cr_assert_str_eq(got, cases[i][1], "%s", cases[i][0]);
        et_free(got);
    }
}

Test(ctl_path, escapes_like_go)
{
    struct et_buf b = ET_BUF_INIT;
    ctl_path_escape(&b, "/a b?c#d&e=f");
    cr_assert_str_eq(b.data, "/a%20b%3Fc%23d&e=f");
    et_buf_reset(&b);
    ctl_query_escape(&b, "x&y=z% \"\xc3\xa9", 10);
    cr_assert_str_eq(b.data, "x%26y%3Dz%25+%22%C3%A9");
    et_buf_reset(&b);
    ctl_go_quote(&b, "a\"b\\\n\x01", 6);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\\\n\\x01\"");
    et_buf_free(&b);
}

static struct ctl_flag t_set_flags[] = {
    { .names = { "ttl" }, .type = CTL_FLAG_INT },
    { .names = { "swap-with-value" }, .type = CTL_FLAG_STRING },
    CTL_FLAG_HELP,
};

Test(ctl_args, moves_known_flags_before_positionals)
{
    char *argv[] = { "/k", "--ttl", "10", "-value", NULL };
    struct ctl_cmd cmd = { .name = "set", .flags = t_set_flags, .flag_count = 3 };
    ctl_cmd_parse(&cmd, 4, argv);
    cr_assert_eq(cmd.arg_count, 2);
    cr_assert_str_eq(cmd.args[0], "/k");
    cr_assert_str_eq(cmd.args[1], "-value", "an unknown -word stays a value");
    cr_assert_eq(ctl_cmd_int(&cmd, "ttl"), 10);
}

Test(ctl_args, double_dash_ends_flags)
{
    char *argv[] = { "/k", "--", "--ttl", NULL };
    struct ctl_cmd cmd = { .name = "set", .flags = t_set_flags, .flag_count = 3 };
    ctl_cmd_parse(&cmd, 3, argv);
    cr_assert_eq(cmd.arg_count, 2);
    cr_assert_str_eq(cmd.args[1], "--ttl");
    cr_assert_eq(cmd.dashdash_at, 1);
    cr_assert_eq(ctl_cmd_flag(&cmd, "ttl")->set, false);
}

Test(ctl_args, usage_error_exits_1, .exit_code = 1)
{
    char *argv[] = { "--ttl", "abc", "/k", "v", NULL };
    struct ctl_cmd cmd = { .name = "set", .flags = t_set_flags, .flag_count = 3 };
    ctl_cmd_parse(&cmd, 4, argv);
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * etcetera-ctl is a short-lived command: it allocates its parsed arguments and its client once
 * and lets the process exit release them (every error path exits at once, as etcdctl does), so
 * LeakSanitizer's exit-time report would only list those. Memory errors are still reported.
 */
const char *__lsan_default_options(void);

const char *__lsan_default_options(void)
{
    return "detect_leaks=0";
}

/* The same, for runs whose ASAN_OPTIONS turn leak detection back on. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:ctl_cmd_parse\nleak:ctl_go_flags\n";
}
#endif
