/* tests/api_params/test_params.c - query/form parsing, value grammars, the validation order and
 * cause strings of etcd 3.4's keys handler (spec/v2-keys-api.md section 3), and the write
 * dispatch of sections 5.3.1 and 5.5. Every expectation was observed on etcd 3.4.23. */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "api/params.h"
#include "core/ecode.h"

static struct api_params_store t_st;
static struct api_keys_params t_p;
static struct et_buf t_cause;

static void t_init(void)
{
    api_params_init(&t_st);
}

static void t_fini(void)
{
    api_params_free(&t_st);
    et_buf_free(&t_cause);
}

/* Parses @query (and @body with @ct for PUT/POST) for @method; returns the code. */
static int t_parse_full(const char *method, const char *query, const char *ct, const char *body)
{
    api_params_free(&t_st);
    et_buf_reset(&t_cause);
    return api_keys_params_parse(&t_st, method, query, query ? strlen(query) : 0, ct,
                                 ct ? strlen(ct) : 0, body, body ? strlen(body) : 0,
                                 API_FORM_BODY_MAX, &t_p, &t_cause);
}

static int t_parse(const char *method, const char *query)
{
    return t_parse_full(method, query, NULL, NULL);
}

#define FORM "application/x-www-form-urlencoded"

#define t_assert_err(method, query, code, cause_text)                        \
    do {                                                                     \
        cr_assert_eq(t_parse(method, query), code, "%s ?%s", method, query); \
        cr_assert_str_eq(t_cause.data, cause_text, "%s ?%s", method, query); \
    } while (0)

TestSuite(api_params, .init = t_init, .fini = t_fini);

Test(api_params, bool_grammar_is_go_parse_bool)
{
    const char *yes[] = { "1", "t", "T", "TRUE", "true", "True" };
    const char *no[] = { "0", "f", "F", "FALSE", "false", "False" };
    const char *bad[] = { "", "yes", "on", "tRuE", "TRue", "2", " true", "true ", "truee", "0x1" };
    bool b;
    for (size_t i = 0; i < ET_ARRAY_SIZE(yes); i++) {
        cr_assert(api_parse_bool(yes[i], strlen(yes[i]), &b), "%s", yes[i]);
        cr_assert(b);
        cr_assert(api_parse_bool(no[i], strlen(no[i]), &b), "%s", no[i]);
        cr_assert_not(b);
    }
    for (size_t i = 0; i < ET_ARRAY_SIZE(bad); i++)
        cr_assert_not(api_parse_bool(bad[i], strlen(bad[i]), &b), "%s", bad[i]);
}

Test(api_params, u64_grammar_is_digits_only)
{
    uint64_t v;
    cr_assert(api_parse_u64("007", 3, &v));
    cr_assert_eq(v, 7);
    cr_assert(api_parse_u64("00", 2, &v));
    cr_assert_eq(v, 0);
    cr_assert(api_parse_u64("18446744073709551615", 20, &v));
    cr_assert_eq(v, UINT64_MAX);
    cr_assert(api_parse_u64("000018446744073709551615", 24, &v));
    cr_assert_eq(v, UINT64_MAX);
    const char *bad[] = { "",
                          "-1",
                          "+5",
                          "1.5",
                          " 1",
                          "1 ",
                          "abc",
                          "18446744073709551616",
                          "99999999999999999999",
                          "1e3",
                          "0x10",
                          "1_000" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(bad); i++)
        cr_assert_not(api_parse_u64(bad[i], strlen(bad[i]), &v), "%s", bad[i]);
}

Test(api_params, defaults_when_nothing_given)
{
    cr_assert_eq(t_parse("GET", NULL), 0);
    cr_assert_not(t_p.has_value);
    cr_assert_eq(t_p.value_len, 0);
    cr_assert_str_eq(t_p.value, "");
    cr_assert_eq(t_p.prev_exist, -1);
    cr_assert_not(t_p.has_prev_value);
    cr_assert_not(t_p.has_ttl);
    cr_assert_eq(t_p.prev_index, 0);
    cr_assert_eq(t_p.wait_index, 0);
    cr_assert_not(t_p.dir || t_p.recursive || t_p.sorted || t_p.wait || t_p.quorum || t_p.stream ||
                  t_p.no_value_on_success || t_p.refresh);
}

Test(api_params, every_field_is_parsed)
{
    cr_assert_eq(t_parse("GET", "value=v+1%21&dir=1&recursive=t&sorted=T&wait=TRUE&quorum=true&"
                                "stream=True&noValueOnSuccess=true&prevExist=false&prevValue=p&"
                                "prevIndex=007&waitIndex=9&ttl=00&refresh=false"),
                 0);
    cr_assert(t_p.has_value);
    cr_assert_str_eq(t_p.value, "v 1!");
    cr_assert(t_p.dir && t_p.recursive && t_p.sorted && t_p.wait && t_p.quorum && t_p.stream);
    cr_assert(t_p.no_value_on_success);
    cr_assert_eq(t_p.prev_exist, 0);
    cr_assert(t_p.has_prev_value);
    cr_assert_str_eq(t_p.prev_value, "p");
    cr_assert_eq(t_p.prev_index, 7);
    cr_assert_eq(t_p.wait_index, 9);
    cr_assert(t_p.has_ttl);
    cr_assert_eq(t_p.ttl, 0);
    cr_assert_not(t_p.refresh);
}

Test(api_params, validation_order_follows_spec_3_4)
{
    t_assert_err("GET", "ttl=abc&prevIndex=x", ET_E_INDEX_NAN, "invalid value for \"prevIndex\"");
    t_assert_err("GET", "waitIndex=x&recursive=yes", ET_E_INDEX_NAN,
                 "invalid value for \"waitIndex\"");
    t_assert_err("GET", "recursive=yes&sorted=x", ET_E_INVALID_FIELD,
                 "invalid value for \"recursive\"");
    t_assert_err("GET", "sorted=x&wait=y", ET_E_INVALID_FIELD, "invalid value for \"sorted\"");
    t_assert_err("GET", "wait=x&dir=x", ET_E_INVALID_FIELD, "invalid value for \"wait\"");
    t_assert_err("GET", "dir=x&quorum=x", ET_E_INVALID_FIELD, "invalid value for \"dir\"");
    t_assert_err("GET", "quorum=x&stream=x", ET_E_INVALID_FIELD, "invalid value for \"quorum\"");
    t_assert_err("GET", "stream=x&wait=true&prevValue=", ET_E_INVALID_FIELD,
                 "invalid value for \"stream\"");
    t_assert_err("PUT", "wait=true&prevValue=", ET_E_INVALID_FIELD,
                 "\"wait\" can only be used with GET requests");
    t_assert_err("PUT", "prevValue=&noValueOnSuccess=x", ET_E_PREV_VALUE_REQUIRED,
                 "\"prevValue\" cannot be empty");
    t_assert_err("PUT", "noValueOnSuccess=x&ttl=x", ET_E_INVALID_FIELD,
                 "invalid value for \"noValueOnSuccess\"");
    t_assert_err("PUT", "ttl=x&prevExist=x", ET_E_TTL_NAN, "invalid value for \"ttl\"");
    t_assert_err("PUT", "prevExist=x&refresh=x", ET_E_INVALID_FIELD, "invalid value for prevExist");
    t_assert_err("PUT", "refresh=x", ET_E_INVALID_FIELD, "invalid value for refresh");
    t_assert_err("PUT", "refresh=true&value=a", ET_E_REFRESH_VALUE,
                 "A value was provided on a refresh");
    t_assert_err("PUT", "refresh=true&value=", ET_E_REFRESH_TTL_REQUIRED, "No TTL value set");
    t_assert_err("PUT", "refresh=true&ttl=", ET_E_REFRESH_TTL_REQUIRED, "No TTL value set");
    t_assert_err("PUT", "refresh=true&ttl=&ttl=5", ET_E_REFRESH_TTL_REQUIRED, "No TTL value set");
}

Test(api_params, wait_is_only_for_get)
{
    const char *methods[] = { "PUT", "POST", "DELETE", "HEAD" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(methods); i++)
        t_assert_err(methods[i], "wait=true", ET_E_INVALID_FIELD,
                     "\"wait\" can only be used with GET requests");
    cr_assert_eq(t_parse("GET", "wait=true"), 0);
    cr_assert_eq(t_parse("PUT", "wait=false"), 0);
}

Test(api_params, all_parameters_are_validated_for_every_method)
{
    t_assert_err("GET", "ttl=abc", ET_E_TTL_NAN, "invalid value for \"ttl\"");
    t_assert_err("GET", "value=x&refresh=true", ET_E_REFRESH_VALUE,
                 "A value was provided on a refresh");
    t_assert_err("POST", "prevExist=maybe", ET_E_INVALID_FIELD, "invalid value for prevExist");
    t_assert_err("DELETE", "prevValue=", ET_E_PREV_VALUE_REQUIRED, "\"prevValue\" cannot be empty");
    t_assert_err("GET", "recursive=", ET_E_INVALID_FIELD, "invalid value for \"recursive\"");
}

Test(api_params, index_and_ttl_values)
{
    t_assert_err("PUT", "prevIndex=-1", ET_E_INDEX_NAN, "invalid value for \"prevIndex\"");
    t_assert_err("PUT", "prevIndex=abc", ET_E_INDEX_NAN, "invalid value for \"prevIndex\"");
    t_assert_err("PUT", "prevIndex=", ET_E_INDEX_NAN, "invalid value for \"prevIndex\"");
    t_assert_err("GET", "wait=true&waitIndex=abc", ET_E_INDEX_NAN,
                 "invalid value for \"waitIndex\"");
    t_assert_err("GET", "waitIndex=", ET_E_INDEX_NAN, "invalid value for \"waitIndex\"");
    const char *bad_ttl[] = { "ttl=-1", "ttl=1.5", "ttl=abc", "ttl=%2B5",
                              "ttl=18446744073709551616" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(bad_ttl); i++)
        t_assert_err("PUT", bad_ttl[i], ET_E_TTL_NAN, "invalid value for \"ttl\"");
    cr_assert_eq(t_parse("PUT", "ttl="), 0);
    cr_assert_not(t_p.has_ttl);
    cr_assert_eq(t_parse("PUT", "ttl=18446744073709551615"), 0);
    cr_assert(t_p.has_ttl);
    cr_assert_eq(t_p.ttl, UINT64_MAX);
    cr_assert_eq(t_parse("PUT", "prevIndex=00"), 0);
    cr_assert_eq(t_p.prev_index, 0);
}

Test(api_params, refresh_needs_ttl_and_no_value)
{
    cr_assert_eq(t_parse("PUT", "refresh=true&ttl=5"), 0);
    cr_assert(t_p.refresh);
    cr_assert_eq(t_p.ttl, 5);
    cr_assert_eq(t_parse("PUT", "refresh=true&ttl=5&value="), 0);
    cr_assert(t_p.has_value);
    cr_assert_eq(t_parse("PUT", "refresh=false&value=x"), 0);
    cr_assert_not(t_p.refresh);
    t_assert_err("PUT", "refresh=yes", ET_E_INVALID_FIELD, "invalid value for refresh");
    t_assert_err("PUT", "refresh=1", ET_E_REFRESH_TTL_REQUIRED, "No TTL value set");
}

Test(api_params, query_decoding_errors_are_go_url_errors)
{
    t_assert_err("GET", "prevIndex=%zz", ET_E_INVALID_FORM, "invalid URL escape \"%zz\"");
    t_assert_err("GET", "a=%e", ET_E_INVALID_FORM, "invalid URL escape \"%e\"");
    t_assert_err("GET", "a=%", ET_E_INVALID_FORM, "invalid URL escape \"%\"");
    t_assert_err("GET", "%zz=1", ET_E_INVALID_FORM, "invalid URL escape \"%zz\"");
    t_assert_err("GET", "a=%c3%a9%zz", ET_E_INVALID_FORM, "invalid URL escape \"%zz\"");
    t_assert_err("GET", "a%4=x", ET_E_INVALID_FORM, "invalid URL escape \"%4\"");
    t_assert_err("GET", "a=%4&b", ET_E_INVALID_FORM, "invalid URL escape \"%4\"");
    t_assert_err("GET", "a=1;b=2", ET_E_INVALID_FORM, "invalid semicolon separator in query");
    /* The semicolon error replaces an earlier escape error; an escape error does not. */
    t_assert_err("GET", "a=%zz&b;c", ET_E_INVALID_FORM, "invalid semicolon separator in query");
    t_assert_err("GET", "b;c&a=%zz", ET_E_INVALID_FORM, "invalid semicolon separator in query");
    /* A decoding error beats every validation error. */
    t_assert_err("PUT", "prevIndex=x&a=%zz", ET_E_INVALID_FORM, "invalid URL escape \"%zz\"");
}

Test(api_params, escape_errors_quote_like_go_strconv)
{
    t_assert_err("GET", "a=%\xc3\xa9", ET_E_INVALID_FORM, "invalid URL escape \"%\xc3\xa9\"");
    t_assert_err("GET", "a=%\xc2\xa0", ET_E_INVALID_FORM, "invalid URL escape \"%\\u00a0\"");
    t_assert_err("GET", "a=%\xc2\x85", ET_E_INVALID_FORM, "invalid URL escape \"%\\u0085\"");
    t_assert_err("GET", "a=%\xc2\xad", ET_E_INVALID_FORM, "invalid URL escape \"%\\u00ad\"");
    t_assert_err("GET", "a=%\"", ET_E_INVALID_FORM, "invalid URL escape \"%\\\"\"");
    t_assert_err("GET", "a=%\\", ET_E_INVALID_FORM, "invalid URL escape \"%\\\\\"");
    t_assert_err("GET", "a=%\xe2\x9c\x93", ET_E_INVALID_FORM, "invalid URL escape \"%\\xe2\\x9c\"");
    t_assert_err("GET", "a=%\xff", ET_E_INVALID_FORM, "invalid URL escape \"%\\xff\"");
    t_assert_err("GET", "a=%\xcd\xb8", ET_E_INVALID_FORM, "invalid URL escape \"%\\u0378\"");
    t_assert_err("GET", "a=%\xd8\x9c", ET_E_INVALID_FORM, "invalid URL escape \"%\\u061c\"");
    t_assert_err("GET", "a=%\xd8\x9d", ET_E_INVALID_FORM, "invalid URL escape \"%\\u061d\"");
    t_assert_err("GET", "a=%\xdc\x8f", ET_E_INVALID_FORM, "invalid URL escape \"%\\u070f\"");
    t_assert_err("GET", "a=%\xdf\xbb", ET_E_INVALID_FORM, "invalid URL escape \"%\\u07fb\"");
    t_assert_err("GET", "a=%\xdf\xbd", ET_E_INVALID_FORM, "invalid URL escape \"%\xdf\xbd\"");
    t_assert_err("GET", "a=%\xd7\xaf", ET_E_INVALID_FORM, "invalid URL escape \"%\xd7\xaf\"");
    t_assert_err("GET", "a=%a\xff", ET_E_INVALID_FORM, "invalid URL escape \"%a\\xff\"");
    t_assert_err("GET", "a=%\xc3", ET_E_INVALID_FORM, "invalid URL escape \"%\\xc3\"");
    t_assert_err("GET", "a=%\t", ET_E_INVALID_FORM, "invalid URL escape \"%\\t\"");
}

Test(api_params, duplicates_first_wins_and_unknown_names_ignored)
{
    cr_assert_eq(t_parse("PUT", "value=a&value=b"), 0);
    cr_assert_str_eq(t_p.value, "a");
    t_assert_err("GET", "prevValue=&prevValue=x", ET_E_PREV_VALUE_REQUIRED,
                 "\"prevValue\" cannot be empty");
    cr_assert_eq(t_parse("PUT", "prevValue=x&prevValue="), 0);
    cr_assert_str_eq(t_p.prev_value, "x");
    cr_assert_eq(t_parse("PUT", "ttl=100&ttl=abc"), 0);
    cr_assert_eq(t_p.ttl, 100);
    cr_assert_eq(t_parse("GET", "Recursive=true&consistent=x&foo=1&&=&=x&value"), 0);
    cr_assert_not(t_p.recursive);
    cr_assert(t_p.has_value);
    cr_assert_eq(t_p.value_len, 0);
}

Test(api_params, put_dispatch_table)
{
    struct {
        const char *query;
        enum store_op op;
    } rows[] = {
        { "", STORE_OP_SET },
        { "prevIndex=0&value=q", STORE_OP_SET },
        { "prevIndex=00", STORE_OP_SET },
        { "prevValue=a", STORE_OP_CAS },
        { "prevIndex=3", STORE_OP_CAS },
        { "prevExist=true", STORE_OP_UPDATE },
        { "prevExist=true&prevIndex=0", STORE_OP_UPDATE },
        { "prevExist=true&prevValue=x", STORE_OP_CAS },
        { "prevExist=1&prevIndex=2", STORE_OP_CAS },
        { "prevExist=false", STORE_OP_CREATE },
        { "prevExist=false&prevValue=x&prevIndex=4", STORE_OP_CREATE },
    };

    for (size_t i = 0; i < ET_ARRAY_SIZE(rows); i++) {
        cr_assert_eq(t_parse("PUT", rows[i].query), 0, "%s", rows[i].query);
        cr_assert_eq(api_keys_put_op(&t_p), rows[i].op, "%s", rows[i].query);
    }
}

Test(api_params, delete_dispatch_table)
{
    cr_assert_eq(t_parse("DELETE", "dir=true&recursive=true"), 0);
    cr_assert_eq(api_keys_delete_op(&t_p), STORE_OP_DELETE);
    cr_assert_eq(t_parse("DELETE", "prevIndex=0&prevExist=true"), 0);
    cr_assert_eq(api_keys_delete_op(&t_p), STORE_OP_DELETE);
    cr_assert_eq(t_parse("DELETE", "prevValue=two"), 0);
    cr_assert_eq(api_keys_delete_op(&t_p), STORE_OP_CAD);
    cr_assert_eq(t_parse("DELETE", "prevIndex=5"), 0);
    cr_assert_eq(api_keys_delete_op(&t_p), STORE_OP_CAD);
}

Test(api_params, body_comes_before_query)
{
    cr_assert_eq(t_parse_full("PUT", "value=fromquery", FORM, "value=frombody"), 0);
    cr_assert_str_eq(t_p.value, "frombody");
    cr_assert_eq(t_parse_full("PUT", "ttl=abc", FORM, "ttl=100"), 0);
    cr_assert_eq(t_p.ttl, 100);
    cr_assert_eq(t_parse_full("PUT", "ttl=100", FORM, "ttl=abc"), ET_E_TTL_NAN);
    cr_assert_eq(t_parse_full("POST", "value=q", FORM, "dir=true"), 0);
    cr_assert_str_eq(t_p.value, "q");
    cr_assert(t_p.dir);
}

Test(api_params, body_is_only_read_for_put_and_post_forms)
{
    /* spec Q5: DELETE bodies are ignored, so this is an unconditional delete. */
    cr_assert_eq(t_parse_full("DELETE", NULL, FORM, "prevValue=zzz"), 0);
    cr_assert_not(t_p.has_prev_value);
    cr_assert_eq(api_keys_delete_op(&t_p), STORE_OP_DELETE);
    cr_assert_eq(t_parse_full("GET", NULL, FORM, "ttl=abc"), 0);
    cr_assert_eq(t_parse_full("HEAD", NULL, FORM, "wait=true"), 0);
    const char *other[] = { "application/octet-stream", "text/plain", "application/json",
                            "multipart/form-data; boundary=x", "" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(other); i++) {
        cr_assert_eq(t_parse_full("PUT", NULL, other[i], "value=x"), 0, "%s", other[i]);
        cr_assert_not(t_p.has_value, "%s", other[i]);
    }
    cr_assert_eq(t_parse_full("PUT", NULL, NULL, "value=x"), 0);
    cr_assert_not(t_p.has_value);
}

Test(api_params, body_decoding)
{
    cr_assert_eq(t_parse_full("PUT", NULL, FORM, "value=a+b%2Bc%00d"), 0);
    cr_assert_eq(t_p.value_len, 7);
    cr_assert(memcmp(t_p.value, "a b+c\0d", 7) == 0);
    cr_assert_eq(t_parse_full("PUT", NULL, FORM, "value=%zz"), ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "invalid URL escape \"%zz\"");
    /* A body error is reported before a query error. */
    cr_assert_eq(t_parse_full("PUT", "a=%yy", FORM, "value=%zz"), ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "invalid URL escape \"%zz\"");
}

Test(api_params, body_too_large)
{
    const char body[] = "value=0123456789";
    api_params_free(&t_st);
    et_buf_reset(&t_cause);
    cr_assert_eq(api_keys_params_parse(&t_st, "PUT", NULL, 0, FORM, strlen(FORM), body,
                                       strlen(body), strlen(body) - 1, &t_p, &t_cause),
                 ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "http: POST too large");
    api_params_free(&t_st);
    cr_assert_eq(api_keys_params_parse(&t_st, "PUT", NULL, 0, FORM, strlen(FORM), body,
                                       strlen(body), strlen(body), &t_p, NULL),
                 0);
    cr_assert_str_eq(t_p.value, "0123456789");
}

Test(api_params, form_get_is_generic)
{
    struct et_buf cause = ET_BUF_INIT;
    const char *v;
    size_t n;
    cr_assert_eq(api_form_parse(&t_st, "name=x&a=1&name=y", 17, &cause), 0);
    cr_assert_eq(api_form_parse(&t_st, "b=2&a=3", 7, &cause), 0);
    cr_assert(api_form_get(&t_st, "name", &v, &n));
    cr_assert_str_eq(v, "x");
    cr_assert(api_form_get(&t_st, "a", &v, &n));
    cr_assert_str_eq(v, "1");
    cr_assert(api_form_get(&t_st, "b", &v, &n));
    cr_assert_eq(n, 1);
    cr_assert_not(api_form_get(&t_st, "c", &v, &n));
    cr_assert_eq(api_form_parse(&t_st, "c=%zz&d=4", 9, &cause), ET_E_INVALID_FORM);
    cr_assert_str_eq(cause.data, "invalid URL escape \"%zz\"");
    /* Valid pairs are kept even when an error is reported. */
    cr_assert(api_form_get(&t_st, "d", &v, &n));
    cr_assert_not(api_form_get(&t_st, "c", NULL, NULL));
    et_buf_free(&cause);
}

/* Content-Type goes through Go's mime.ParseMediaType; its errors are 210 causes for PUT/POST.
 * The query has a bad escape and the body another, so the first reported error tells which
 * parts were parsed. */
Test(api_params, content_type_is_parsed_like_go_mime)
{
    struct {
        const char *ct;
        const char *cause;
    } rows[] = {
        { NULL, "invalid URL escape \"%zz\"" },
        { "", "invalid URL escape \"%zz\"" },
        { "text", "invalid URL escape \"%zz\"" },
        { "text foo", "mime: expected slash after first token" },
        { ";", "mime: no media type" },
        { "/b", "mime: no media type" },
        { "a/", "mime: expected token after slash" },
        { "a/b c", "mime: unexpected content after media subtype" },
        { FORM ";", "invalid URL escape \"%yy\"" },
        { FORM "; charset=utf-8", "invalid URL escape \"%yy\"" },
        { "APPLICATION/X-WWW-FORM-URLENCODED", "invalid URL escape \"%yy\"" },
        { FORM " ; charset=\"utf-8\"", "invalid URL escape \"%yy\"" },
        { FORM ";a=\"\"", "invalid URL escape \"%yy\"" },
        { "appl\xc4\xb0"
          "cation/x-www-form-urlencoded",
          "invalid URL escape \"%yy\"" },
        { "\xc2\xa0" FORM, "invalid URL escape \"%yy\"" },
        { FORM "\xc2\xa0", "invalid URL escape \"%yy\"" },
        { FORM "; a", "mime: invalid media parameter" },
        { FORM "; a=\"x", "mime: invalid media parameter" },
        { FORM ";;", "mime: invalid media parameter" },
        { FORM "; ;", "mime: invalid media parameter" },
        { FORM "; a=1; a=2", "mime: duplicate parameter name" },
        { FORM "; a=1; A=1", "mime: duplicate parameter name" },
        { FORM ";a*=1;a*=2", "mime: duplicate parameter name" },
        { "text/plain; a=1; a=2", "mime: duplicate parameter name" },
    };

    for (size_t i = 0; i < ET_ARRAY_SIZE(rows); i++) {
        cr_assert_eq(t_parse_full("PUT", "a=%zz", rows[i].ct, "value=x&v=%yy"), ET_E_INVALID_FORM,
                     "%s", rows[i].ct);
        cr_assert_str_eq(t_cause.data, rows[i].cause, "%s", rows[i].ct);
    }
    /* Go 1.19 rejects even equal duplicates; "a*" and "a" are different names. */
    cr_assert_eq(t_parse_full("PUT", NULL, FORM "; a=1; a=1", "value=x"), ET_E_INVALID_FORM);
    cr_assert_eq(t_parse_full("PUT", NULL, FORM "; a=1; A=\"1\"", "value=x"), ET_E_INVALID_FORM);
    cr_assert_eq(t_parse_full("PUT", NULL, FORM "; a*=1; a=1", "value=x"), 0);
    cr_assert_str_eq(t_p.value, "x");
}

Test(api_params, too_large_replaces_media_type_error)
{
    const char ct[] = FORM "; a";
    api_params_free(&t_st);
    cr_assert_eq(api_keys_params_parse(&t_st, "POST", NULL, 0, ct, strlen(ct), "value=xx", 8, 7,
                                       &t_p, &t_cause),
                 ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "http: POST too large");
}

Test(api_params, body_semicolons_and_empty_pairs)
{
    cr_assert_eq(t_parse_full("PUT", NULL, FORM, "value=1;x=2"), ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "invalid semicolon separator in query");
    cr_assert_eq(t_parse_full("PUT", "value=q", FORM, "&&value&=zz&value=b"), 0);
    cr_assert(t_p.has_value);
    cr_assert_eq(t_p.value_len, 0);
    cr_assert_eq(t_parse_full("POST", NULL, FORM, "wait=true"), ET_E_INVALID_FIELD);
    cr_assert_eq(t_parse_full("PUT", "prevExist=false", FORM, "prevExist=maybe"),
                 ET_E_INVALID_FIELD);
    cr_assert_str_eq(t_cause.data, "invalid value for prevExist");
    /* GET and DELETE never look at the Content-Type. */
    cr_assert_eq(t_parse_full("GET", NULL, ";", ""), 0);
    cr_assert_eq(t_parse_full("DELETE", "a=%zz", ";", ""), ET_E_INVALID_FORM);
    cr_assert_str_eq(t_cause.data, "invalid URL escape \"%zz\"");
}

/* Repeated names cost nothing (first occurrence kept); many distinct names stay O(1) to find. */
Test(api_params, large_bodies_of_pairs)
{
    size_t n = API_FORM_BODY_MAX;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i += 2)
        memcpy(body + i, i + 2 < n ? "a&" : "a=", 2);
    cr_assert_eq(api_keys_params_parse(&t_st, "PUT", "value=q", 7, FORM, strlen(FORM), body, n,
                                       API_FORM_BODY_MAX, &t_p, &t_cause),
                 0);
    cr_assert_str_eq(t_p.value, "q");
    cr_assert_eq(t_st._count, 2); /* "a" and "value" */
    api_params_free(&t_st);

    size_t o = 0, count = 0;
    while (o + 16 < n) {
        o += (size_t)sprintf(body + o, "k%zu=%zu&", count, count);
        count++;
    }
    memcpy(body + o, "ttl=7", 5);
    o += 5;
    cr_assert_eq(api_keys_params_parse(&t_st, "PUT", NULL, 0, FORM, strlen(FORM), body, o,
                                       API_FORM_BODY_MAX, &t_p, &t_cause),
                 0);
    cr_assert_eq(t_p.ttl, 7);
    cr_assert_eq(t_st._count, count + 1);
    for (size_t i = 0; i < count; i += count / 97) {
        char name[32], want[32];
        const char *v;
        size_t len;
        snprintf(name, sizeof(name), "k%zu", i);
        snprintf(want, sizeof(want), "%zu", i);
        cr_assert(api_form_get(&t_st, name, &v, &len));
        cr_assert_str_eq(v, want);
    }
    free(body);
}

/* Spec Q6 and H-24/H-25: the parser reports the flags; the handler turns wait+quorum into a
 * quorum GET and ignores waitIndex/stream without wait. */
Test(api_params, watch_flags_pass_through)
{
    cr_assert_eq(t_parse("GET", "wait=true&quorum=true"), 0);
    cr_assert(t_p.wait && t_p.quorum);
    cr_assert_eq(t_parse("GET", "waitIndex=5&stream=true"), 0);
    cr_assert_not(t_p.wait);
    cr_assert_eq(t_p.wait_index, 5);
    cr_assert(t_p.stream);
}
