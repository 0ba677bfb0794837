/*
 * tests/fuzz/fuzz_path.c - fuzzes api_keys_path() (request target routing) against a naive
 * reference: decode, split on '/', resolve "." and ".." with a stack, re-join, keep one trailing
 * slash (Go's ServeMux cleanPath). Checks the routing kind, the key, the Location path, and that
 * a Location and a key route back to themselves.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/params.h"
#include "tests/fuzz/fuzz.h"

static int ref_unhex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Reference cleaning of a rooted path: a segment stack. Returns the length written to @out. */
static size_t ref_clean(const char *p, size_t len, char *out)
{
    size_t *starts = malloc((len + 1) * sizeof(*starts)); /* segment starts in @out */
    size_t depth = 0, o = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        size_t n = j - i;
        if (n == 0 || (n == 1 && p[i] == '.')) {
            /* skip */
        } else if (n == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (depth > 0)
                o = starts[--depth];
        } else {
            starts[depth++] = o;
            out[o++] = '/';
            memcpy(out + o, p + i, n);
            o += n;
        }
        i = j + 1;
    }
    free(starts);
    if (o == 0)
        out[o++] = '/';
    if (len > 0 && p[len - 1] == '/' && o > 1)
        out[o++] = '/';
    return o;
}

static void check_key(const struct et_buf *key)
{
    FUZZ_CHECK(key->len >= 1);
    FUZZ_CHECK(key->data[0] == '/');
    FUZZ_CHECK(key->len == 1 || key->data[key->len - 1] != '/');
    /* Round trip: the escaped key under /v2/keys routes to the same key. */
    struct et_buf t = ET_BUF_INIT, k2 = ET_BUF_INIT;
    et_buf_append_str(&t, "/v2/keys");
    api_escape_path(&t, key->data, key->len);
    FUZZ_CHECK(api_keys_path(t.data, t.len, &k2, NULL, NULL, NULL) == API_PATH_KEYS);
    FUZZ_CHECK(k2.len == key->len && memcmp(k2.data, key->data, key->len) == 0);
    et_buf_free(&t);
    et_buf_free(&k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *target = (const char *)data;
    struct et_buf key = ET_BUF_INIT, loc = ET_BUF_INIT;
    const char *query = NULL;
    size_t query_len = 0;
    enum api_path_kind kind = api_keys_path(target, size, &key, &loc, &query, &query_len);

    /* Reference. */
    bool ctl = false;
    for (size_t i = 0; i < size; i++)
        ctl = ctl || data[i] < 0x20 || data[i] == 0x7f;
    const uint8_t *q = memchr(data, '?', size);
    size_t path_len = q != NULL ? (size_t)(q - data) : size;
    char *dec = malloc(path_len + 1), *clean = malloc(2 * path_len + 2);
    size_t d = 0;
    bool bad = ctl || size == 0 || data[0] != '/';
    for (size_t i = 0; i < path_len && !bad; i++) {
        if (data[i] != '%') {
            dec[d++] = (char)data[i];
        } else if (i + 2 < path_len && ref_unhex(data[i + 1]) >= 0 && ref_unhex(data[i + 2]) >= 0) {
            dec[d++] = (char)(ref_unhex(data[i + 1]) << 4 | ref_unhex(data[i + 2]));
            i += 2;
        } else {
            bad = true;
        }
    }
    if (bad) {
        FUZZ_CHECK(kind == API_PATH_BAD);
        goto out;
    }
    FUZZ_CHECK(kind != API_PATH_BAD);
    FUZZ_CHECK(q == NULL ? query == NULL && query_len == 0
                         : query == (const char *)q + 1 && query_len == size - path_len - 1);
    size_t c = ref_clean(dec, d, clean);
    if (c != d || memcmp(clean, dec, d) != 0) {
        FUZZ_CHECK(kind == API_PATH_REDIRECT);
        FUZZ_CHECK(key.len == 0);
        /* The Location's path decodes to the cleaned path and is itself clean. */
        const char *lq = memchr(loc.data, '?', loc.len);
        size_t lp = lq != NULL ? (size_t)(lq - loc.data) : loc.len;
        struct et_buf k2 = ET_BUF_INIT, l2 = ET_BUF_INIT;
        enum api_path_kind again = api_keys_path(loc.data, lp, &k2, &l2, NULL, NULL);
        FUZZ_CHECK(again == API_PATH_KEYS || again == API_PATH_NOT_FOUND);
        FUZZ_CHECK(lq == NULL || query_len > 0);
        et_buf_free(&k2);
        et_buf_free(&l2);
        struct et_buf body = ET_BUF_INIT;
        FUZZ_CHECK(api_redirect_body(&body, target, size));
        FUZZ_CHECK(body.len > 30 && memcmp(body.data, "<a href=\"/", 10) == 0);
        et_buf_free(&body);
        goto out;
    }
    FUZZ_CHECK(loc.len == 0);
    bool keys = d >= 8 && memcmp(dec, "/v2/keys", 8) == 0 && (d == 8 || dec[8] == '/');
    if (!keys) {
        FUZZ_CHECK(kind == API_PATH_NOT_FOUND);
        goto out;
    }
    FUZZ_CHECK(kind == API_PATH_KEYS);
    check_key(&key);
    size_t want = d - 8;
    if (want > 1 && dec[d - 1] == '/')
        want--;
    FUZZ_CHECK(want == 0 ? key.len == 1 : key.len == want && memcmp(key.data, dec + 8, want) == 0);
out:
    free(dec);
    free(clean);
    et_buf_free(&key);
    et_buf_free(&loc);
    return 0;
}
