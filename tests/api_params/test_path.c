/* tests/api_params/test_path.c - request target routing, decoding, cleaning and redirects, as
 * observed on etcd 3.4.23 (spec/v2-keys-api.md section 2). */
#include <criterion/criterion.h>

#include "api/params.h"

static struct et_buf t_key, t_loc;
static const char *t_query;
static size_t t_query_len;

static enum api_path_kind t_route(const char *target)
{
    et_buf_reset(&t_key);
    et_buf_reset(&t_loc);
    return api_keys_path(target, strlen(target), &t_key, &t_loc, &t_query, &t_query_len);
}

static void t_fini(void)
{
    et_buf_free(&t_key);
    et_buf_free(&t_loc);
}

TestSuite(api_path, .fini = t_fini);

#define t_assert_key(target, expected)                                                           \
    do {                                                                                         \
        cr_assert_eq(t_route(target), API_PATH_KEYS, "%s", target);                              \
        cr_assert_eq(t_key.len, sizeof(expected) - 1, "%s", target);                             \
        cr_assert(memcmp(t_key.data, expected, t_key.len) == 0, "%s -> %s", target, t_key.data); \
    } while (0)

#define t_assert_redirect(target, expected)                             \
    do {                                                                \
        cr_assert_eq(t_route(target), API_PATH_REDIRECT, "%s", target); \
        cr_assert_str_eq(t_loc.data, expected, "%s", target);           \
    } while (0)

Test(api_path, root_forms)
{
    t_assert_key("/v2/keys", "/");
    t_assert_key("/v2/keys/", "/");
    t_assert_key("/v2/keys?recursive=true", "/");
    cr_assert_eq(t_query_len, strlen("recursive=true"));
    cr_assert(memcmp(t_query, "recursive=true", t_query_len) == 0);
}

Test(api_path, keys_are_decoded)
{
    t_assert_key("/v2/keys/foo", "/foo");
    t_assert_key("/v2/keys/foo/", "/foo");
    t_assert_key("/v2/keys/a/b/c", "/a/b/c");
    t_assert_key("/v2/keys/sp%20ace", "/sp ace");
    t_assert_key("/v2/keys/pct%25", "/pct%");
    t_assert_key("/v2/keys/q%3Fmark", "/q?mark");
    t_assert_key("/v2/keys/%E2%9C%93", "/\xe2\x9c\x93");
    t_assert_key("/v2/keys/nul%00byte", "/nul\0byte");
    t_assert_key("/v2/keys/a+b", "/a+b");
    t_assert_key("/v2/keys/enc%2Fslash", "/enc/slash");
    t_assert_key("/v2/keys/.../a", "/.../a");
    t_assert_key("/v2/keys/.a/..b", "/.a/..b");
}

Test(api_path, prefix_is_matched_after_decoding)
{
    t_assert_key("/v2/%6beys/q", "/q");
    t_assert_key("/v2/keys%2Fa", "/a");
}

Test(api_path, query_is_raw_and_optional)
{
    cr_assert_eq(t_route("/v2/keys/a"), API_PATH_KEYS);
    cr_assert_null(t_query);
    cr_assert_eq(t_query_len, 0);
    cr_assert_eq(t_route("/v2/keys/a?"), API_PATH_KEYS);
    cr_assert_not_null(t_query);
    cr_assert_eq(t_query_len, 0);
    cr_assert_eq(t_route("/v2/keys/a?x=%zz?y"), API_PATH_KEYS);
    cr_assert_eq(t_query_len, 7);
    cr_assert(memcmp(t_query, "x=%zz?y", 7) == 0);
}

Test(api_path, not_found)
{
    const char *targets[] = { "/v2/keysX", "/v2/key",     "/v2",        "/v2/",
                              "/",         "/v2/keysa/b", "/v3/keys/a", "/V2/keys/a" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(targets); i++)
        cr_assert_eq(t_route(targets[i]), API_PATH_NOT_FOUND, "%s", targets[i]);
}

Test(api_path, bad_escapes_and_control_bytes)
{
    const char *targets[] = {
        "/v2/keys/%zz",     "/v2/keys/%",     "/v2/keys/%4", "/v2/keys/a%g0", "/v2/keys/\x01",
        "/v2/keys//a?\x01", "/v2/keys/a\x7f", "*",           "v2/keys/a",     ""
    };
    for (size_t i = 0; i < ET_ARRAY_SIZE(targets); i++)
        cr_assert_eq(t_route(targets[i]), API_PATH_BAD, "%s", targets[i]);
    /* A bad escape in the query is not the router's business. */
    cr_assert_eq(t_route("/v2/keys/a?%zz"), API_PATH_KEYS);
}

Test(api_path, unclean_paths_redirect_with_query_kept)
{
    t_assert_redirect("/v2/keys//ts?recursive=true", "/v2/keys/ts?recursive=true");
    t_assert_redirect("/v2/keys//dbl//key", "/v2/keys/dbl/key");
    t_assert_redirect("/v2/keys//a%20b", "/v2/keys/a%20b");
    t_assert_redirect("/v2/keys/a/..", "/v2/keys");
    t_assert_redirect("/v2/keys/a/.%2e", "/v2/keys");
    t_assert_redirect("/v2/keys/..", "/v2");
    t_assert_redirect("/v2/keys/../..", "/");
    t_assert_redirect("/v2/keys/%2e%2e/x", "/v2/x");
    t_assert_redirect("/v2/keys/%2F%2Fa", "/v2/keys/a");
    t_assert_redirect("//v2/keys/a", "/v2/keys/a");
    t_assert_redirect("/v2/stats//x", "/v2/stats/x");
    t_assert_redirect("/v2/keys//a?x=1&y=%zz", "/v2/keys/a?x=1&y=%zz");
    t_assert_redirect("/v2/keys//a??b", "/v2/keys/a??b");
    t_assert_redirect("/v2/keys//a?b#c", "/v2/keys/a?b#c");
}

Test(api_path, one_trailing_slash_is_kept_in_redirects)
{
    t_assert_redirect("/v2/keys//a/", "/v2/keys/a/");
    t_assert_redirect("/v2/keys/a//", "/v2/keys/a/");
    t_assert_redirect("/v2/keys/a/./", "/v2/keys/a/");
    t_assert_redirect("/v2/keys/a/.", "/v2/keys/a");
    t_assert_redirect("/v2/keys//", "/v2/keys/");
}

Test(api_path, empty_query_loses_its_question_mark)
{
    t_assert_redirect("/v2/keys//a?", "/v2/keys/a");
}

Test(api_path, location_is_escaped_as_go_does)
{
    t_assert_redirect("/v2/keys/./a%3Fb%25c%E2%9C%93", "/v2/keys/a%3Fb%25c%E2%9C%93");
    t_assert_redirect("/v2/keys//!*()%27x", "/v2/keys/%21%2A%28%29%27x");
    t_assert_redirect("/v2/keys//a#b?c", "/v2/keys/a%23b?c");
    t_assert_redirect("/v2/keys//\xc3\xa9\xff", "/v2/keys/%C3%A9%FF");
    t_assert_redirect("/v2/keys//a\"<>", "/v2/keys/a%22%3C%3E");
    t_assert_redirect("/v2/keys//%00", "/v2/keys/%00");
    t_assert_redirect("/v2/keys//$&+,:;=@-_.~", "/v2/keys/$&+,:;=@-_.~");
    /* Non-ASCII query bytes: lower-case hex in Location (Go's hexEscapeNonASCII). */
    t_assert_redirect("/v2/keys//a?\xc3\xa9", "/v2/keys/a?%c3%a9");
    t_assert_redirect("/v2/keys//a?%E2%9C%93", "/v2/keys/a?%E2%9C%93");
}

Test(api_path, redirect_body_matches_go)
{
    struct et_buf b = ET_BUF_INIT;
    const char t1[] = "/v2/keys//a?x=<\"'>&y";
    cr_assert(api_redirect_body(&b, t1, strlen(t1)));
    cr_assert_str_eq(
        b.data, "<a href=\"/v2/keys/a?x=&lt;&#34;&#39;&gt;&amp;y\">Moved Permanently</a>.\n\n");
    et_buf_reset(&b);
    const char t2[] = "/v2/keys//a?\xc3\xa9";
    cr_assert(api_redirect_body(&b, t2, strlen(t2)));
    cr_assert_str_eq(b.data, "<a href=\"/v2/keys/a?\xc3\xa9\">Moved Permanently</a>.\n\n");
    et_buf_reset(&b);
    cr_assert(api_redirect_body(&b, "/v2/keys//a", 11));
    cr_assert_str_eq(b.data, "<a href=\"/v2/keys/a\">Moved Permanently</a>.\n\n");
    et_buf_reset(&b);
    cr_assert_not(api_redirect_body(&b, "/v2/keys/a", 10));
    cr_assert_eq(b.len, 0);
    et_buf_free(&b);
}

Test(api_path, outputs_may_be_omitted)
{
    cr_assert_eq(api_keys_path("/v2/keys//a", 11, NULL, NULL, NULL, NULL), API_PATH_REDIRECT);
    cr_assert_eq(api_keys_path("/v2/keys/a?b", 12, NULL, NULL, NULL, NULL), API_PATH_KEYS);
}

Test(api_path, escape_path_keeps_go_path_set)
{
    struct et_buf b = ET_BUF_INIT;
    api_escape_path(&b, "/a b?c#d%e\x01\x80", 12);
    cr_assert_str_eq(b.data, "/a%20b%3Fc%23d%25e%01%80");
    et_buf_free(&b);
}

Test(api_path, long_targets_are_fine)
{
    /* spec Q12: request lines beyond 4096 bytes must be accepted. */
    size_t n = 70000;
    char *t = malloc(n + 1);
    memcpy(t, "/v2/keys/", 9);
    memset(t + 9, 'x', n - 9);
    t[n] = '\0';
    cr_assert_eq(t_route(t), API_PATH_KEYS);
    cr_assert_eq(t_key.len, n - 8);
    free(t);
}
