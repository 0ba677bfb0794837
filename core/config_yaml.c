/*
 * core/config_yaml.c - the subset of YAML that etcd's sample configuration file uses.
 *
 * Accepted: comments, an optional "---" start, top-level "key: scalar", a top-level key whose
 * value is an indented block of "key: scalar" lines (the *-transport-security maps), a block
 * list ("- item" lines) or a flow list ("[a, b]") as a value (joined with ','), plain, single-
 * and double-quoted scalars, and null / ~ as empty. Anything else is an error naming the line,
 * in the style of the Go yaml library ("error converting YAML to JSON: yaml: line 3: ..."). Never
 * reads past @len.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/config_int.h"

struct yline {
    const char *p; /* content after indentation, comment stripped, trailing space trimmed */
    size_t len;
    size_t indent;
    int no; /* 1-based line number */
};

void et__yaml_free(struct et__yaml_doc *doc)
{
    for (size_t i = 0; i < doc->count; i++) {
        et_free(doc->entries[i].section);
        et_free(doc->entries[i].key);
        et_free(doc->entries[i].value);
    }
    et_free(doc->entries);
    doc->entries = NULL;
    doc->count = 0;
}

/* Length of @p up to an unquoted comment ("#" at the start or after a blank). */
static size_t strip_comment(const char *p, size_t len)
{
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            continue;
        }
        if ((c == '\'' || c == '"') && (i == 0 || strchr(" \t:[,", p[i - 1]) != NULL))
            quote = c;
        else if (c == '#' && (i == 0 || p[i - 1] == ' ' || p[i - 1] == '\t'))
            return i;
    }
    return len;
}

/* Decodes one scalar (plain or quoted) into @out. */
static int scalar(const char *p, size_t len, struct et_buf *out, int no, struct et_buf *e,
                  bool *quoted)
{
    *quoted = false;
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    if (len > 0 && (p[0] == '\'' || p[0] == '"'))
        *quoted = true;
    if (len > 0 && p[0] == '\'') {
        for (size_t i = 1; i < len; i++) {
            if (p[i] == '\'') {
                if (i + 1 < len && p[i + 1] == '\'') {
                    et_buf_append_char(out, '\'');
                    i++;
                    continue;
                }
                if (i + 1 != len)
                    goto bad;
                return 0;
            }
            et_buf_append_char(out, p[i]);
        }
        goto bad;
    }
    if (len > 0 && p[0] == '"') {
        for (size_t i = 1; i < len; i++) {
            char c = p[i];
            if (c == '"') {
                if (i + 1 != len)
                    goto bad;
                return 0;
            }
            if (c == '\\' && i + 1 < len) {
                c = p[++i];
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
            }
            et_buf_append_char(out, c);
        }
        goto bad;
    }
    if ((len == 1 && p[0] == '~') || (len == 4 && memcmp(p, "null", 4) == 0) ||
        (len == 4 && memcmp(p, "Null", 4) == 0) || (len == 4 && memcmp(p, "NULL", 4) == 0))
        return 0;
    if (len > 0 && strchr("&*!|>%@`{", p[0]) != NULL) {
        et_buf_printf(e, "error converting YAML to JSON: yaml: line %d: unsupported YAML construct",
                      no);
        return -EINVAL;
    }
    et_buf_append(out, p, len);
    if (out->data == NULL)
        et_buf_reserve(out, 0);
    return 0;
bad:
    et_buf_printf(e, "error converting YAML to JSON: yaml: line %d: found unexpected end of stream",
                  no + 1);
    return -EINVAL;
}

/* A flow list "[a, 'b', c]" joined with ','. */
static int flow_list(const char *p, size_t len, struct et_buf *out, int no, struct et_buf *e)
{
    if (len < 2 || p[len - 1] != ']') {
        et_buf_printf(
            e, "error converting YAML to JSON: yaml: line %d: did not find expected ',' or ']'",
            no);
        return -EINVAL;
    }
    p++;
    len -= 2;
    size_t start = 0;
    bool first = true;
    char quote = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && quote) {
            if (p[i] == quote)
                quote = 0;
            continue;
        }
        if (i < len && (p[i] == '\'' || p[i] == '"')) {
            quote = p[i];
            continue;
        }
        if (i < len && p[i] != ',')
            continue;
        size_t n = i - start;
        const char *item = p + start;
        while (n > 0 && (*item == ' ' || *item == '\t')) {
            item++;
            n--;
        }
        if (n > 0 || !first || i < len) {
            if (!first)
                et_buf_append_char(out, ',');
            bool q;
            if (scalar(item, n, out, no, e, &q) != 0)
                return -EINVAL;
        }
        first = false;
        start = i + 1;
    }
    if (out->data == NULL)
        et_buf_reserve(out, 0);
    return 0;
}

static bool all_digits(const char *s, const char *set)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

/* The Go yaml library's implicit typing of a plain scalar. */
static enum et__yaml_type resolve(const char *s)
{
    static const char *const bools[] = { "y",    "Y",     "yes",   "Yes",   "YES",  "n",
                                         "N",    "no",    "No",    "NO",    "true", "True",
                                         "TRUE", "false", "False", "FALSE", "on",   "On",
                                         "ON",   "off",   "Off",   "OFF" };
    if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return ET_YAML_NULL;
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
        if (strcmp(s, bools[i]) == 0)
            return ET_YAML_BOOL;
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (strncmp(d, "0x", 2) == 0 && all_digits(d + 2, "0123456789abcdefABCDEF_"))
        return ET_YAML_INT;
    if ((strncmp(d, "0o", 2) == 0 || strncmp(d, "0b", 2) == 0) && all_digits(d + 2, "01234567_"))
        return ET_YAML_INT;
    if (all_digits(d, "0123456789_") && d[0] != '_')
        return ET_YAML_INT;
    if (strcmp(d, ".inf") == 0 || strcmp(d, ".Inf") == 0 || strcmp(d, ".INF") == 0 ||
        strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
        return ET_YAML_FLOAT;
    bool digit = false, bad = false;
    for (const char *c = d; *c && !bad; c++) {
        if (*c >= '0' && *c <= '9')
            digit = true;
        else if (*c == 'e' || *c == 'E')
            bad = !digit || !(c[1] == '-' || c[1] == '+' || (c[1] >= '0' && c[1] <= '9'));
        else if (*c == '-' || *c == '+')
            bad = c == d || (c[-1] != 'e' && c[-1] != 'E');
        else if (*c != '.' && *c != '_')
            bad = true;
    }
    return digit && !bad && strpbrk(d, ".eE") != NULL ? ET_YAML_FLOAT : ET_YAML_STRING;
}

static int value_of(const char *p, size_t len, struct et_buf *out, enum et__yaml_type *type, int no,
                    struct et_buf *e)
{
    while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    if (len > 0 && p[0] == '[') {
        *type = ET_YAML_LIST;
        return flow_list(p, len, out, no, e);
    }
    bool quoted;
    int rc = scalar(p, len, out, no, e, &quoted);
    *type = quoted ? ET_YAML_STRING : resolve(out->data ? out->data : "");
    return rc;
}

static void push(struct et__yaml_doc *doc, const char *section, const char *key, size_t key_len,
                 struct et_buf *value, enum et__yaml_type type, int no)
{
    doc->entries = et_realloc(doc->entries, (doc->count + 1) * sizeof(*doc->entries));
    struct et__yaml_entry *y = &doc->entries[doc->count++];
    y->section = et_strdup(section);
    y->key = et_strndup(key, key_len);
    y->value = value->data ? et_strndup(value->data, value->len) : et_strdup("");
    y->line = no;
    y->type = type;
}

/* Splits "key: value" (a key may be quoted); returns -EINVAL if there is no ": ". */
static int split_key(const struct yline *l, const char **key, size_t *key_len, const char **val,
                     size_t *val_len, struct et_buf *e)
{
    const char *p = l->p;
    size_t i = 0;
    if (l->len > 0 && (p[0] == '"' || p[0] == '\'')) {
        const char *q = memchr(p + 1, p[0], l->len - 1);
        if (q == NULL)
            goto bad;
        *key = p + 1;
        *key_len = (size_t)(q - p - 1);
        i = (size_t)(q - p) + 1;
        if (i >= l->len || p[i] != ':')
            goto bad;
    } else {
        for (; i < l->len; i++)
            if (p[i] == ':' && (i + 1 == l->len || p[i + 1] == ' ' || p[i + 1] == '\t'))
                break;
        if (i == l->len || i == 0)
            goto bad;
        *key = p;
        *key_len = i;
        while (*key_len > 0 && (p[*key_len - 1] == ' ' || p[*key_len - 1] == '\t'))
            (*key_len)--;
    }
    *val = p + i + 1;
    *val_len = l->len - i - 1;
    return 0;
bad:
    et_buf_printf(e, "error converting YAML to JSON: yaml: line %d: could not find expected ':'",
                  l->no);
    return -EINVAL;
}

static int read_lines(const char *text, size_t len, struct yline **out, size_t *count,
                      struct et_buf *e)
{
    struct yline *lines = NULL;
    size_t n = 0;
    int no = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - s) : len - pos;
        pos += l + (nl ? 1 : 0);
        no++;
        if (l > 0 && s[l - 1] == '\r')
            l--;
        size_t ind = 0;
        while (ind < l && s[ind] == ' ')
            ind++;
        if (ind < l && s[ind] == '\t') {
            et_buf_printf(
                e,
                "error converting YAML to JSON: yaml: found character that cannot start any token");
            et_free(lines);
            return -EINVAL;
        }
        size_t c = strip_comment(s + ind, l - ind);
        while (c > 0 && (s[ind + c - 1] == ' ' || s[ind + c - 1] == '\t'))
            c--;
        if (c == 0 || (ind == 0 && c == 3 && memcmp(s, "---", 3) == 0))
            continue;
        if (memchr(s + ind, '\0', c) != NULL) {
            et_buf_printf(
                e, "error converting YAML to JSON: yaml: control characters are not allowed");
            et_free(lines);
            return -EINVAL;
        }
        lines = et_realloc(lines, (n + 1) * sizeof(*lines));
        lines[n++] = (struct yline){ .p = s + ind, .len = c, .indent = ind, .no = no };
    }
    *out = lines;
    *count = n;
    return 0;
}

int et__yaml_parse(const char *text, size_t len, struct et__yaml_doc *doc, struct et_buf *e)
{
    ET_ASSERT(text != NULL);
    ET_ASSERT(doc != NULL);
    memset(doc, 0, sizeof(*doc));
    struct yline *lines = NULL;
    size_t n = 0;
    if (read_lines(text, len, &lines, &n, e) != 0)
        return -EINVAL;
    int rc = 0;
    struct et_buf v = ET_BUF_INIT;
    for (size_t i = 0; rc == 0 && i < n;) {
        const struct yline *l = &lines[i];
        const char *key, *val;
        size_t key_len, val_len;
        if (l->indent != 0) {
            et_buf_printf(e,
                          "error converting YAML to JSON: yaml: line %d: mapping values are not "
                          "allowed in this context",
                          l->no);
            rc = -EINVAL;
            break;
        }
        if (n == 1 && memchr(l->p, ':', l->len) == NULL) {
            et_buf_append_str(e, "error unmarshaling JSON: while decoding JSON: json: cannot "
                                 "unmarshal string into Go value of type embed.configYAML");
            rc = -EINVAL;
            break;
        }
        if ((rc = split_key(l, &key, &key_len, &val, &val_len, e)) != 0)
            break;
        et_buf_reset(&v);
        size_t j = i + 1;
        size_t blank = 0;
        while (blank < val_len && (val[blank] == ' ' || val[blank] == '\t'))
            blank++;
        if (blank < val_len) {
            enum et__yaml_type type;
            rc = value_of(val, val_len, &v, &type, l->no, e);
            if (rc == 0)
                push(doc, "", key, key_len, &v, type, l->no);
        } else if (j < n && lines[j].indent == 0 && lines[j].len > 0 && lines[j].p[0] == '-' &&
                   (lines[j].len == 1 || lines[j].p[1] == ' ')) {
            /* A block list at the same indentation as its key. */
            for (; rc == 0 && j < n && lines[j].indent == 0 && lines[j].p[0] == '-' &&
                   (lines[j].len == 1 || lines[j].p[1] == ' ');
                 j++) {
                if (v.len > 0 || j > i + 1)
                    et_buf_append_char(&v, ',');
                bool q;
                rc = scalar(lines[j].p + 1, lines[j].len - 1, &v, lines[j].no, e, &q);
            }
            if (rc == 0)
                push(doc, "", key, key_len, &v, ET_YAML_LIST, l->no);
        } else if (j < n && lines[j].indent > 0) {
            size_t ind = lines[j].indent;
            char *section = et_strndup(key, key_len);
            bool list = lines[j].p[0] == '-' && (lines[j].len == 1 || lines[j].p[1] == ' ');
            for (; rc == 0 && j < n && lines[j].indent > 0; j++) {
                const struct yline *c = &lines[j];
                if (c->indent != ind) {
                    et_buf_printf(e,
                                  "error converting YAML to JSON: yaml: line %d: mapping values "
                                  "are not allowed in this context",
                                  c->no);
                    rc = -EINVAL;
                } else if (list) {
                    if (c->p[0] != '-' || (c->len > 1 && c->p[1] != ' ')) {
                        et_buf_printf(e,
                                      "error converting YAML to JSON: yaml: line %d: did not find "
                                      "expected '-' indicator",
                                      c->no);
                        rc = -EINVAL;
                        break;
                    }
                    if (j > i + 1)
                        et_buf_append_char(&v, ',');
                    bool q;
                    rc = scalar(c->p + 1, c->len - 1, &v, c->no, e, &q);
                } else {
                    const char *k2, *v2;
                    size_t k2_len, v2_len;
                    struct et_buf sv = ET_BUF_INIT;
                    rc = split_key(c, &k2, &k2_len, &v2, &v2_len, e);
                    enum et__yaml_type t2;
                    if (rc == 0)
                        rc = value_of(v2, v2_len, &sv, &t2, c->no, e);
                    if (rc == 0)
                        push(doc, section, k2, k2_len, &sv, t2, c->no);
                    et_buf_free(&sv);
                }
            }
            if (rc == 0 && list)
                push(doc, "", key, key_len, &v, ET_YAML_LIST, l->no);
            et_free(section);
        } else {
            push(doc, "", key, key_len, &v, ET_YAML_NULL, l->no);
        }
        i = j;
    }
    et_buf_free(&v);
    et_free(lines);
    if (rc != 0)
        et__yaml_free(doc);
    return rc;
}
