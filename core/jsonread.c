/*
 * core/jsonread.c - the JSON reader of core/jsonread.h, the one JSON parser of the tree.
 *
 * An iterative parse over a byte range into a small tree (no recursion: a reactor thread's stack
 * need not hold one frame per level). It follows Go's encoding/json scanner: the same grammar,
 * nesting bounded as Go bounds it (ET_JV_DEPTH_MAX, 10000 levels), and on invalid input the
 * message json.Unmarshal gives, for the first error in document order ("invalid character 'x'
 * looking for beginning of value", "unexpected end of JSON input", ... "after top-level value",
 * "exceeded max depth"), which etcd's 400 answers to /v2/members carry. Strings are decoded as Go
 * decodes them (\uXXXX including surrogate pairs to UTF-8; a lone surrogate and each byte of
 * invalid UTF-8 become U+FFFD); numbers keep their literal text so 64-bit indexes are never
 * rounded through a double. Object lookups follow Go's encoding/json decoding into a struct:
 * every member whose name matches the field (exactly or case-insensitively, with Go's two
 * non-ASCII folds) is decoded in turn, so the last wins.
 *
 * Threads: any; nothing is shared. The tree belongs to the caller (et_jv_free()).
 */
#include "core/jsonread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ascii.h"
#include "core/buf.h"
#include "core/json.h"

#define ET_JV_DEPTH_MAX 10000 /* Go's maxNestingDepth (encoding/json/scanner.go) */

struct reader {
    const char *p;      /* next byte */
    const char *end;    /* one past the last byte */
    unsigned flags;     /* ET_JV_FIRST_VALUE, ET_JV_REFUSE_NUL */
    struct et_buf *err; /* where the syntax error's message goes; NULL: not wanted */
};

/* Go's quoteChar(c): the byte taken as a rune (U+0000-U+00FF), as strconv.Quote writes it. */
static void go_quote_char(char out[8], unsigned char c)
{
    static const char ctl[] = "\a\b\f\n\r\t\v", name[] = "abfnrtv";
    const char *e = c != '\0' ? strchr(ctl, c) : NULL;
    if (c == '\\' || c == '\'')
        snprintf(out, 8, "\\%c", c);
    else if (e != NULL)
        snprintf(out, 8, "\\%c", name[e - ctl]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(out, 8, "\\x%02x", c);
    else if (c < 0x7f)
        snprintf(out, 8, "%c", c);
    else if (c < 0xa1 || c == 0xad) /* C1 controls, no-break space, soft hyphen: not printable */
        snprintf(out, 8, "\\u%04x", c);
    else
        snprintf(out, 8, "%c%c", 0xc0 | c >> 6, 0x80 | (c & 0x3f));
}

/* The syntax error at r->p, in the words of Go's scanner: "unexpected end of JSON input" at the
 * end, else "invalid character 'c' @what". Called once per failed parse; returns false. */
static bool fail(struct reader *r, const char *what)
{
    char q[8];
    if (r->err == NULL)
        return false;
    if (r->p >= r->end) {
        et_buf_append_str(r->err, "unexpected end of JSON input");
    } else {
        go_quote_char(q, (unsigned char)*r->p);
        et_buf_printf(r->err, "invalid character '%s' %s", q, what);
    }
    return false;
}

/* A literal or a number cut short by the end of the input: Go's scanner then reads one space
 * more, so its message is "invalid character ' ' @what", not "unexpected end of JSON input". */
static bool fail_in_token(struct reader *r, const char *what)
{
    if (r->err && r->p >= r->end) {
        et_buf_printf(r->err, "invalid character ' ' %s", what);
        return false;
    }
    return fail(r, what);
}

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* A literal, byte by byte: Go reports the first byte that differs, and the one it expected
 * ("in literal true (expecting 'r')"). */
static bool literal(struct reader *r, const char *word)
{
    for (const char *w = word; *w; w++, r->p++) {
        if (r->p >= r->end || *r->p != *w) {
            char what[48];
            snprintf(what, sizeof(what), "in literal %s (expecting '%c')", word, *w);
            return fail_in_token(r, what);
        }
    }
    return true;
}

/* The 4 hex digits at @p (which has at least 4 bytes) as a number, or -1. */
static int peek_hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = et_hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static void put_utf8(struct et_buf *b, unsigned cp)
{
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xc0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xe0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        s[0] = (char)(0xf0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    et_buf_append(b, s, n);
}

/* Decodes one \uXXXX escape, r->p after its 'u' (and its low surrogate when it is a high one:
 * a bad next escape is left to be reported as itself). */
static bool unicode_escape(struct reader *r, struct et_buf *b)
{
    unsigned cp = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        int h = r->p < r->end ? et_hex_digit(*r->p) : -1;
        if (h < 0)
            return fail_in_token(r, "in \\u hexadecimal character escape");
        cp = cp << 4 | (unsigned)h;
    }
    if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
        int lo = peek_hex4(r->p + 2);
        if (lo >= 0xdc00 && lo < 0xe000) {
            r->p += 6;
            put_utf8(b, 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00));
            return true;
        }
    }
    if (cp >= 0xd800 && cp < 0xe000)
        cp = 0xfffd; /* a lone surrogate, as Go */
    if (cp == 0 && (r->flags & ET_JV_REFUSE_NUL)) {
        if (r->err)
            et_buf_append_str(r->err, "\\u0000 in a string refused");
        return false;
    }
    put_utf8(b, cp);
    return true;
}

/* Parses a string starting at its opening quote; returns new NUL-terminated bytes (each byte of
 * invalid UTF-8 decoded to U+FFFD as Go does), or NULL on a syntax error. */
static char *parse_string(struct reader *r, size_t *len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    struct et_buf b = ET_BUF_INIT;
    r->p++; /* the opening quote */
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c >= 0x80) {
            r->p += et_json_unquote_utf8(&b, r->p, (size_t)(r->end - r->p));
            continue;
        }
        if (c < 0x20) {
            fail(r, "in string literal");
            goto fail;
        }
        r->p++;
        if (c != '\\') {
            et_buf_append_char(&b, (char)c);
            continue;
        }
        if (r->p >= r->end) {
            fail_in_token(r, "in string escape code");
            goto fail;
        }
        char e = *r->p;
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            et_buf_append_char(&b, to[hit - from]);
            r->p++;
        } else if (e != 'u') {
            fail(r, "in string escape code");
            goto fail;
        } else {
            r->p++;
            if (!unicode_escape(r, &b))
                goto fail;
        }
    }
    if (r->p >= r->end) {
        fail(r, "");
        goto fail;
    }
    r->p++; /* the closing quote */
    *et_buf_reserve(&b, 0) = '\0';
    *len = b.len;
    return b.data;
fail:
    et_buf_free(&b);
    return NULL;
}

/* Skips digits; false when there is none (Go's message then names @where). */
static bool digits(struct reader *r, const char *where)
{
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return fail_in_token(r, where);
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return true;
}

/* JSON's number grammar, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, at a '-' or a digit. */
static bool parse_number(struct reader *r, struct et_jv *v)
{
    const char *start = r->p;
    if (*r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++; /* no leading zeros: a digit after it ends the value */
    else if (!digits(r, "in numeric literal"))
        return false;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!digits(r, "after decimal point in numeric literal"))
            return false;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!digits(r, "in exponent of numeric literal"))
            return false;
    }
    v->type = ET_JV_NUMBER;
    v->len = (size_t)(r->p - start);
    v->str = et_strndup(start, v->len);
    return true;
}

/* A scalar (string, number, literal) at r->p (not the end) into @v. */
static bool parse_scalar(struct reader *r, struct et_jv *v)
{
    switch (*r->p) {
    case '"':
        v->type = ET_JV_STRING;
        v->str = parse_string(r, &v->len);
        return v->str != NULL;
    case 't':
        v->type = ET_JV_BOOL;
        v->boolean = true;
        return literal(r, "true");
    case 'f':
        v->type = ET_JV_BOOL;
        return literal(r, "false");
    case 'n':
        v->type = ET_JV_NULL;
        return literal(r, "null");
    default:
        if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
            return fail(r, "looking for beginning of value");
        return parse_number(r, v);
    }
}

/* Appends a zeroed element to container @c and, for an object, reads the member's name and
 * its ':'. Returns the new element (to parse the value into), or NULL on a syntax error. */
static struct et_jv *next_slot(struct reader *r, struct et_jv *c)
{
    bool obj = c->type == ET_JV_OBJECT;
    size_t n = c->count;
    if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4...: grow to the next power of two */
        size_t cap = n ? n * 2 : 1;
        c->items = et_realloc(c->items, cap * sizeof(*c->items));
        if (obj) {
            c->keys = et_realloc(c->keys, cap * sizeof(*c->keys));
            c->key_lens = et_realloc(c->key_lens, cap * sizeof(*c->key_lens));
        }
    }
    memset(&c->items[n], 0, sizeof(c->items[0]));
    c->count++;
    if (!obj)
        return &c->items[n];
    c->keys[n] = NULL;
    c->key_lens[n] = 0;
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') {
        fail(r, "looking for beginning of object key string");
        return NULL;
    }
    c->keys[n] = parse_string(r, &c->key_lens[n]);
    if (c->keys[n] == NULL)
        return NULL;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') {
        fail(r, "after object key");
        return NULL;
    }
    r->p++;
    return &c->items[n];
}

/*
 * Parses one value into @root without recursion: @open holds the containers being filled,
 * innermost last. A container's element array only grows while that container is innermost,
 * so the pointers kept in @open stay valid. At most ET_JV_DEPTH_MAX containers nest, as Go's
 * scanner allows (a deeper one is "invalid character '[' exceeded max depth").
 */
static bool parse_tree(struct reader *r, struct et_jv *root)
{
    struct et_jv **open = NULL;
    size_t depth = 0, cap = 0;
    struct et_jv *v = root; /* the slot the next value goes to */
    bool ok = false;
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end) {
            fail(r, "");
            goto out;
        }
        char c = *r->p;
        if (c == '{' || c == '[') {
            if (depth == ET_JV_DEPTH_MAX) {
                fail(r, "exceeded max depth");
                goto out;
            }
            v->type = c == '{' ? ET_JV_OBJECT : ET_JV_ARRAY;
            r->p++;
            skip_ws(r);
            if (r->p < r->end && *r->p == (c == '{' ? '}' : ']')) {
                r->p++; /* empty: the value is complete */
            } else {
                if (depth == cap) {
                    cap = cap ? cap * 2 : 16;
                    open = et_realloc(open, cap * sizeof(*open));
                }
                open[depth++] = v;
                if ((v = next_slot(r, v)) == NULL)
                    goto out;
                continue;
            }
        } else if (!parse_scalar(r, v)) {
            goto out;
        }
        /* a value is complete: close the containers it ends, or start the next element */
        for (;;) {
            if (depth == 0) {
                ok = true;
                goto out;
            }
            struct et_jv *top = open[depth - 1];
            bool obj = top->type == ET_JV_OBJECT;
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                if ((v = next_slot(r, top)) == NULL)
                    goto out;
                break;
            }
            if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
                r->p++;
                depth--;
                continue;
            }
            fail(r, obj ? "after object key:value pair" : "after array element");
            goto out;
        }
    }
out:
    et_free(open);
    return ok;
}

/* Frees what @root holds (not @root itself), without recursion: a stack of containers with the
 * index of the next element to free in each. */
static void free_inner(struct et_jv *root)
{
    struct frame {
        struct et_jv *v;
        size_t next;
    } *stack = NULL;

    size_t n = 0, cap = 0;
    struct et_jv *v = root;
    for (;;) {
        if (v != NULL && v->count > 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                stack = et_realloc(stack, cap * sizeof(*stack));
            }
            stack[n++] = (struct frame){ v, 0 };
        } else if (v != NULL) {
            et_free(v->items);
            et_free(v->keys);
            et_free(v->key_lens);
            et_free(v->str);
        }
        v = NULL;
        if (n == 0)
            break;
        struct frame *f = &stack[n - 1];
        if (f->next < f->v->count) {
            if (f->v->keys)
                et_free(f->v->keys[f->next]);
            v = &f->v->items[f->next++];
            continue;
        }
        et_free(f->v->items);
        et_free(f->v->keys);
        et_free(f->v->key_lens);
        et_free(f->v->str);
        n--;
    }
    et_free(stack);
}

struct et_jv *et_jv_parse_go(const char *s, size_t len, unsigned flags, struct et_buf *err)
{
    struct reader r = { s, s + len, flags, err };
    struct et_jv *v = et_calloc(1, sizeof(*v));
    ET_ASSERT(s != NULL || len == 0);
    ET_ASSERT((flags & ~(ET_JV_FIRST_VALUE | ET_JV_REFUSE_NUL)) == 0);
    if (!parse_tree(&r, v))
        goto fail;
    if (!(flags & ET_JV_FIRST_VALUE)) {
        skip_ws(&r);
        if (r.p != r.end) {
            fail(&r, "after top-level value");
            goto fail;
        }
    }
    return v;
fail:
    free_inner(v);
    et_free(v);
    return NULL;
}

struct et_jv *et_jv_parse(const char *s, size_t len)
{
    return et_jv_parse_go(s, len, 0, NULL);
}

void et_jv_free(struct et_jv *v)
{
    if (!v)
        return;
    free_inner(v);
    et_free(v);
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

bool et_jv_name_eq(const char *key, size_t key_len, const char *name)
{
    const char *k = key, *end = key + key_len;
    for (; *name; name++) {
        char n = ascii_lower(*name);
        if (k < end && ascii_lower(*k) == n)
            k++;
        else if (n == 's' && end - k >= 2 && memcmp(k, "\xc5\xbf", 2) == 0)
            k += 2; /* U+017F */
        else if (n == 'k' && end - k >= 3 && memcmp(k, "\xe2\x84\xaa", 3) == 0)
            k += 3; /* U+212A */
        else
            return false;
    }
    return k == end;
}

/* Go decodes every member whose name matches the field, in document order, so the last one
 * wins; a null leaves a scalar field alone, so @skip_null picks the last member not null. */
static const struct et_jv *get_last(const struct et_jv *obj, const char *key, bool skip_null)
{
    if (!obj || obj->type != ET_JV_OBJECT)
        return NULL;
    for (size_t i = obj->count; i-- > 0;)
        if (et_jv_name_eq(obj->keys[i], obj->key_lens[i], key) &&
            !(skip_null && obj->items[i].type == ET_JV_NULL))
            return &obj->items[i];
    return NULL;
}

const struct et_jv *et_jv_get(const struct et_jv *obj, const char *key)
{
    return get_last(obj, key, false);
}

const char *et_jv_str(const struct et_jv *obj, const char *key)
{
    const struct et_jv *v = get_last(obj, key, true);
    return v && v->type == ET_JV_STRING ? v->str : "";
}

uint64_t et_jv_u64(const struct et_jv *obj, const char *key)
{
    const struct et_jv *v = get_last(obj, key, true);
    return v && v->type == ET_JV_NUMBER ? strtoull(v->str, NULL, 10) : 0;
}

int64_t et_jv_i64(const struct et_jv *obj, const char *key)
{
    const struct et_jv *v = get_last(obj, key, true);
    return v && v->type == ET_JV_NUMBER ? strtoll(v->str, NULL, 10) : 0;
}

bool et_jv_bool(const struct et_jv *obj, const char *key)
{
    const struct et_jv *v = get_last(obj, key, true);
    return v && v->type == ET_JV_BOOL && v->boolean;
}
