/*
 * tests/fuzz/fuzz_jsonread.c - fuzzes et_jv_parse() (admin config bodies, discovery answers,
 * client responses).
 *
 * The input is the document. Checks on an accepted one: the tree is well formed (strings
 * NUL-terminated at their length and valid UTF-8 as Go decodes them, member names present,
 * array and object storage consistent),
 * no value nests deeper than the parser's bound, every number literal follows JSON's grammar,
 * and the tree written back as JSON by the serializer below parses again to the same tree,
 * which serializes to the same bytes; a lookup returns only a member of that name. Leaks are left
 * to LSan.
 */
#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/jsonread.h"
#include "tests/fuzz/fuzz.h"

#define DEPTH_MAX 10000 /* core/jsonread.c's ET_JV_DEPTH_MAX (Go's maxNestingDepth) */

/* RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
    } else {
        if (i == len || s[i] < '1' || s[i] > '9')
            return false;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    return i == len;
}

static void check_tree(const struct et_jv *v, int depth)
{
    FUZZ_CHECK(depth <= DEPTH_MAX);
    switch (v->type) {
    case ET_JV_NULL:
    case ET_JV_BOOL:
        FUZZ_CHECK(v->str == NULL && v->count == 0);
        break;
    case ET_JV_NUMBER:
        FUZZ_CHECK(v->str != NULL && strlen(v->str) == v->len);
        FUZZ_CHECK(json_number(v->str, v->len));
        break;
    case ET_JV_STRING:
        FUZZ_CHECK(v->str != NULL && v->str[v->len] == '\0');
        FUZZ_CHECK(fuzz_utf8_valid(v->str, v->len));
        break;
    case ET_JV_ARRAY:
    case ET_JV_OBJECT:
        FUZZ_CHECK(v->str == NULL);
        FUZZ_CHECK((v->count == 0 || v->items != NULL));
        FUZZ_CHECK((v->type == ET_JV_OBJECT) == (v->keys != NULL) || v->count == 0);
        for (size_t i = 0; i < v->count; i++) {
            FUZZ_CHECK(v->type == ET_JV_ARRAY ||
                       (v->keys[i] != NULL && v->keys[i][v->key_lens[i]] == '\0'));
            FUZZ_CHECK(v->type == ET_JV_ARRAY || fuzz_utf8_valid(v->keys[i], v->key_lens[i]));
            check_tree(&v->items[i], depth + 1);
        }
        break;
    default:
        FUZZ_CHECK(!"unknown type");
    }
}

static void serialize(struct et_buf *b, const struct et_jv *v)
{
    switch (v->type) {
    case ET_JV_NULL:
        et_buf_append_str(b, "null");
        break;
    case ET_JV_BOOL:
        et_buf_append_str(b, v->boolean ? "true" : "false");
        break;
    case ET_JV_NUMBER:
        et_buf_append(b, v->str, v->len);
        break;
    case ET_JV_STRING:
        et_json_string(b, v->str, v->len);
        break;
    case ET_JV_ARRAY:
    case ET_JV_OBJECT:
        et_buf_append_char(b, v->type == ET_JV_ARRAY ? '[' : '{');
        for (size_t i = 0; i < v->count; i++) {
            if (i)
                et_buf_append_char(b, ',');
            if (v->type == ET_JV_OBJECT) {
                et_json_string(b, v->keys[i], v->key_lens[i]);
                et_buf_append_char(b, ':');
            }
            serialize(b, &v->items[i]);
        }
        et_buf_append_char(b, v->type == ET_JV_ARRAY ? ']' : '}');
        break;
    }
}

static void same_tree(const struct et_jv *a, const struct et_jv *b)
{
    FUZZ_CHECK(a->type == b->type && a->boolean == b->boolean && a->count == b->count);
    FUZZ_CHECK(a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0));
    for (size_t i = 0; i < a->count; i++) {
        FUZZ_CHECK(a->type != ET_JV_OBJECT ||
                   (a->key_lens[i] == b->key_lens[i] &&
                    memcmp(a->keys[i], b->keys[i], a->key_lens[i]) == 0));
        same_tree(&a->items[i], &b->items[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct et_jv *v = et_jv_parse((const char *)data, size);
    if (v == NULL)
        return 0;
    check_tree(v, 0);
    struct et_buf out = ET_BUF_INIT, again = ET_BUF_INIT;
    serialize(&out, v);
    struct et_jv *w = et_jv_parse(out.data, out.len);
    FUZZ_CHECK(w != NULL);
    same_tree(v, w);
    serialize(&again, w);
    FUZZ_CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
    /* The lookups never fail on any accepted tree, and find only members so named. */
    const struct et_jv *m = et_jv_get(v, "key");
    for (size_t i = 0; m != NULL && i < v->count; i++)
        FUZZ_CHECK(&v->items[i] != m || et_jv_name_eq(v->keys[i], v->key_lens[i], "key"));
    (void)et_jv_str(v, "key");
    (void)et_jv_u64(v, "index");
    et_jv_free(w);
    et_jv_free(v);
    et_buf_free(&out);
    et_buf_free(&again);
    return 0;
}
