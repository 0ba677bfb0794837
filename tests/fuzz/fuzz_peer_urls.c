/*
 * tests/fuzz/fuzz_peer_urls.c - fuzzes api__peer_urls_parse(), the decoder of the bodies of
 * POST and PUT /v2/members ({"peerURLs":[...]}).
 *
 * The input is the body. Checks: a refusal carries a message and leaves no URLs; an accepted
 * body is JSON (et_jv_parse() accepts it: the same parser, core/jsonread.c, decodes it), and its
 * URLs are exactly the strings of the body's last "peerURLs" member (names matched as
 * Go matches them: et_jv_name_eq()), each as et_url_parse_len() prints it, sorted.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/config.h"
#include "core/jsonread.h"
#include "tests/fuzz/fuzz.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The URLs the body names, printed and sorted as etcd does; the accepted request is @got. */
static void check_urls(const char *body, size_t len, const struct api_url_req *got)
{
    struct et_jv *doc = et_jv_parse(body, len);
    FUZZ_CHECK(doc != NULL && doc->type == ET_JV_OBJECT);
    const struct et_jv *list = NULL;
    for (size_t i = 0; i < doc->count; i++)
        if (et_jv_name_eq(doc->keys[i], doc->key_lens[i], "peerURLs"))
            list = &doc->items[i];
    FUZZ_CHECK(list != NULL && list->type == ET_JV_ARRAY && list->count == got->count);
    char **want = calloc(list->count, sizeof(char *));
    for (size_t i = 0; i < list->count; i++) {
        const struct et_jv *e = &list->items[i];
        FUZZ_CHECK(e->type == ET_JV_STRING);
        struct et_url u;
        char err[512];
        FUZZ_CHECK(et_url_parse_len(e->str, e->len, &u, err, sizeof(err)) == 0);
        want[i] = strdup(u.raw);
        et_url_free(&u);
    }
    qsort(want, list->count, sizeof(char *), cmp_str);
    for (size_t i = 0; i < got->count; i++) {
        FUZZ_CHECK(strcmp(want[i], got->urls[i]) == 0);
        free(want[i]);
    }
    free(want);
    et_jv_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_url_req u;
    struct et_buf msg = ET_BUF_INIT;
    const char *body = size ? (const char *)data : "";
    if (!api__peer_urls_parse(body, size, &u, &msg)) {
        FUZZ_CHECK(msg.len > 0 && u.count == 0 && u.urls == NULL);
        et_buf_free(&msg);
        return 0;
    }
    FUZZ_CHECK(msg.len == 0 && u.count > 0);
    check_urls(body, size, &u);
    api__url_req_free(&u);
    return 0;
}
