/*
 * tests/fuzz/fuzz_params.c - fuzzes api_keys_params_parse() (query, Content-Type, form body,
 * validation) and the value grammars.
 *
 * Input layout: [method][content-type kind][raw ct length][query length lo][hi][body limit]
 * then the raw Content-Type, the query and the body. Checks: only the codes of spec 3.4 come
 * back, a cause exactly when failing, the guarantees of a successful parse (refresh implies a
 * TTL and no value, prevValue non-empty, wait only on GET, NUL-terminated strings), numeric
 * fields equal to a strtoull reference, and the grammars against reference implementations.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/params.h"
#include "core/ecode.h"
#include "tests/fuzz/fuzz.h"

static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH" };
static const char *const cts[] = { NULL, "application/x-www-form-urlencoded",
                                   "application/x-www-form-urlencoded; charset=utf-8",
                                   "text/plain" };

/* Reference u64 grammar: digits only, then strtoull with overflow detection. */
static bool ref_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    char *copy = strndup(s, len);
    errno = 0;
    unsigned long long v = strtoull(copy, NULL, 10);
    free(copy);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}

static void check_grammars(const char *s, size_t len)
{
    uint64_t a = 0, b = 0;
    bool ok = api_parse_u64(s, len, &a);
    if (len <= 4096) {
        FUZZ_CHECK(ok == ref_u64(s, len, &b));
        FUZZ_CHECK(!ok || a == b);
    }
    bool v;
    ok = api_parse_bool(s, len, &v);
    static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
    bool want = false, want_v = false;
    for (size_t i = 0; i < 6; i++) {
        if (strlen(t[i]) == len && memcmp(t[i], s, len) == 0)
            want = want_v = true;
        if (strlen(f[i]) == len && memcmp(f[i], s, len) == 0)
            want = true;
    }
    FUZZ_CHECK(ok == want);
    FUZZ_CHECK(!ok || v == want_v);
}

static void check_u64_field(struct api_params_store *st, const char *name, uint64_t got)
{
    const char *v;
    size_t n;
    uint64_t want = 0;
    if (api_form_get(st, name, &v, &n) && n > 0)
        FUZZ_CHECK(api_parse_u64(v, n, &want));
    FUZZ_CHECK(got == want);
}

static void check_success(struct api_params_store *st, const char *method,
                          const struct api_keys_params *p)
{
    FUZZ_CHECK(p->value[p->value_len] == '\0');
    FUZZ_CHECK(p->prev_exist >= -1 && p->prev_exist <= 1);
    FUZZ_CHECK(!p->has_prev_value || p->prev_value_len > 0);
    FUZZ_CHECK(!p->wait || strcmp(method, "GET") == 0);
    FUZZ_CHECK(!p->refresh || (p->has_ttl && p->value_len == 0));
    check_u64_field(st, "prevIndex", p->prev_index);
    check_u64_field(st, "waitIndex", p->wait_index);
    check_u64_field(st, "ttl", p->has_ttl ? p->ttl : 0);
    enum store_op put = api_keys_put_op(p), del = api_keys_delete_op(p);
    FUZZ_CHECK(put == STORE_OP_SET || put == STORE_OP_CREATE || put == STORE_OP_UPDATE ||
               put == STORE_OP_CAS);
    FUZZ_CHECK(del == STORE_OP_DELETE || del == STORE_OP_CAD);
    FUZZ_CHECK((p->prev_exist == 0) == (put == STORE_OP_CREATE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    const char *method = methods[data[0] % ET_ARRAY_SIZE(methods)];
    unsigned ct_kind = data[1] % (ET_ARRAY_SIZE(cts) + 1);
    size_t raw_ct_len = data[2];
    size_t query_len = (size_t)data[3] | (size_t)data[4] << 8;
    size_t body_max = data[5] == 0 ? API_FORM_BODY_MAX : data[5];
    const char *rest = (const char *)data + 6;
    size_t left = size - 6;

    const char *ct = NULL;
    size_t ct_len = 0;
    if (ct_kind < ET_ARRAY_SIZE(cts)) {
        ct = cts[ct_kind];
        ct_len = ct != NULL ? strlen(ct) : 0;
    } else {
        ct_len = raw_ct_len < left ? raw_ct_len : left;
        ct = rest;
        rest += ct_len;
        left -= ct_len;
    }
    if (query_len > left)
        query_len = left;
    const char *query = rest;
    const char *body = rest + query_len;
    size_t body_len = left - query_len;

    struct api_params_store st;
    api_params_init(&st);
    struct api_keys_params p;
    struct et_buf cause = ET_BUF_INIT;
    int rc = api_keys_params_parse(&st, method, query, query_len, ct, ct_len, body, body_len,
                                   body_max, &p, &cause);
    FUZZ_CHECK(rc == 0 || rc == ET_E_INVALID_FORM || rc == ET_E_INDEX_NAN ||
               rc == ET_E_INVALID_FIELD || rc == ET_E_PREV_VALUE_REQUIRED || rc == ET_E_TTL_NAN ||
               rc == ET_E_REFRESH_VALUE || rc == ET_E_REFRESH_TTL_REQUIRED);
    FUZZ_CHECK((rc == 0) == (cause.len == 0));
    if (rc == 0)
        check_success(&st, method, &p);
    api_params_free(&st);

    /* A query without '%' or ';' always decodes. */
    bool plain = memchr(query, '%', query_len) == NULL && memchr(query, ';', query_len) == NULL;
    struct et_buf c2 = ET_BUF_INIT;
    api_params_init(&st);
    int frc = api_form_parse(&st, query, query_len, &c2);
    FUZZ_CHECK(!plain || frc == 0);
    FUZZ_CHECK((frc == 0) == (c2.len == 0));
    api_params_free(&st);
    et_buf_free(&c2);

    check_grammars(query, query_len);
    check_grammars(body, body_len);
    et_buf_free(&cause);
    return 0;
}
