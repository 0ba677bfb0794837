/*
 * tests/fuzz/fuzz_jsonread.c - fuzzes et_jv_parse() and et_jv_parse_go() (admin config, member
 * and auth bodies, discovery answers, client responses).
 *
 * The input is the document. Checks on an accepted one: the tree is well formed (strings
 * NUL-terminated at their length and valid UTF-8 as Go decodes them, member names present,
 * array and object storage consistent),
 * no value nests deeper than the parser's bound, every number literal follows JSON's grammar,
 * and the tree written back as JSON by the serializer below parses again to the same tree,
 * which serializes to the same bytes; a lookup returns only a member of that name. The modes of
 * et_jv_parse_go(): without flags it accepts what et_jv_parse() accepts, to the same tree, and
 * gives a message of Go's form exactly when it refuses; ET_JV_FIRST_VALUE accepts at least that,
 * to the same tree; ET_JV_REFUSE_NUL refuses exactly the accepted trees holding a NUL byte. Leaks
 * are left to LSan.
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

/* Whether a string or a member name of @v holds a NUL byte. */
static bool has_nul(const struct et_jv *v)
{
    if (v->type == ET_JV_STRING && memchr(v->str, '\0', v->len) != NULL)
        return true;
    for (size_t i = 0; i < v->count; i++) {
        if (v->type == ET_JV_OBJECT && memchr(v->keys[i], '\0', v->key_lens[i]) != NULL)
            return true;
        if (has_nul(&v->items[i]))
            return true;
    }
    return false;
}

static void check_modes(const char *s, size_t len, const struct et_jv *v)
{
    struct et_buf err = ET_BUF_INIT;
    struct et_jv *g = et_jv_parse_go(s, len, 0, &err);
    FUZZ_CHECK((g == NULL) == (v == NULL) && (g == NULL) == (err.len > 0));
    if (err.len) {
        *et_buf_reserve(&err, 0) = '\0';
        FUZZ_CHECK(strcmp(err.data, "unexpected end of JSON input") == 0 ||
                   strncmp(err.data, "invalid character '", 19) == 0);
    }
    if (g)
        same_tree(v, g);
    et_jv_free(g);
    et_buf_free(&err);
    struct et_jv *f = et_jv_parse_go(s, len, ET_JV_FIRST_VALUE, NULL);
    FUZZ_CHECK(v == NULL || f != NULL);
    if (v)
        same_tree(v, f);
    struct et_jv *n = et_jv_parse_go(s, len, ET_JV_FIRST_VALUE | ET_JV_REFUSE_NUL, NULL);
    FUZZ_CHECK((n != NULL) == (f != NULL && !has_nul(f)));
    if (n)
        same_tree(f, n);
    et_jv_free(n);
    et_jv_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct et_jv *v = et_jv_parse((const char *)data, size);
    check_modes((const char *)data, size, v);
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
