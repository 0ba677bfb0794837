/*
 * core/config_url.c - URL lists and --initial-cluster, validated the way etcd 3.4 does.
 *
 * etcd parses every URL flag with Go's net/url.Parse and then types.NewURLs (scheme, host:port,
 * no path). We reproduce the subset of url.Parse that decides acceptance and its error texts
 * (`parse "x": first path segment in URL cannot contain colon`, `missing ']' in host`,
 * `invalid port ":x" after host`, `invalid character " " in host name`, `invalid URL escape
 * "%zz"`, control characters), then NewURLs' own messages (spec/config.md section 1), then
 * net.SplitHostPort's acceptance rules. Nothing here keeps state; all results are new memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ascii.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/config_int.h"

void et_strlist_free(struct et_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        et_free(l->items[i]);
    et_free(l->items);
    l->items = NULL;
    l->count = 0;
}

void et__strlist_push(struct et_strlist *l, const char *s, size_t len)
{
    l->items = et_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = et_strndup(s, len);
}

/* Appends @s quoted as Go's %q does for the ASCII range (other bytes are copied). */
void et__go_quote(struct et_buf *b, const char *s, size_t len)
{
    et_buf_append_char(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            et_buf_append_str(b, "\\\"");
            break;
        case '\\':
            et_buf_append_str(b, "\\\\");
            break;
        case '\a':
            et_buf_append_str(b, "\\a");
            break;
        case '\b':
            et_buf_append_str(b, "\\b");
            break;
        case '\f':
            et_buf_append_str(b, "\\f");
            break;
        case '\n':
            et_buf_append_str(b, "\\n");
            break;
        case '\r':
            et_buf_append_str(b, "\\r");
            break;
        case '\t':
            et_buf_append_str(b, "\\t");
            break;
        case '\v':
            et_buf_append_str(b, "\\v");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                et_buf_printf(b, "\\x%02x", c);
            else
                et_buf_append_char(b, (char)c);
        }
    }
    et_buf_append_char(b, '"');
}

void et__set_err(char *err, size_t err_len, const char *msg)
{
    if (err_len == 0)
        return;
    snprintf(err, err_len, "%s", msg);
}

/* ---- Go net/url.Parse (the parts that decide acceptance) -------------------------------- */

struct go_url {
    const char *scheme; /* slices into the trimmed input */
    size_t scheme_len;
    const char *authority; /* NULL when the URL has no "//" */
    size_t authority_len;
    const char *host; /* inside the authority, after any userinfo */
    size_t host_len;
    bool opaque;      /* "http:foo" */
    size_t path_len;  /* length of the (escaped) path */
    const char *rest; /* query and fragment, copied into the normalised form */
    bool frag_error;  /* the error was in the fragment (Go then quotes the whole URL) */
};

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* shouldEscape(c, encodeHost) for c < 0x80. */
static bool host_char_bad(char c)
{
    if (is_alnum(c))
        return false;
    return strchr("!$&'()*+,;=:[]<>\"-_.~", c) == NULL || c == '\0';
}

/* Go's unescape() acceptance check; @host selects encodeHost rules. */
static int check_escapes(const char *s, size_t len, bool host, struct et_buf *e)
{
    for (size_t i = 0; i < len;) {
        if (s[i] == '%') {
            if (i + 2 >= len || et_hex_digit(s[i + 1]) < 0 || et_hex_digit(s[i + 2]) < 0) {
                size_t n = len - i > 3 ? 3 : len - i;
                et_buf_append_str(e, "invalid URL escape ");
                et__go_quote(e, s + i, n);
                return -EINVAL;
            }
            if (host && et_hex_digit(s[i + 1]) < 8 && memcmp(s + i, "%25", 3) != 0) {
                et_buf_append_str(e, "invalid URL escape ");
                et__go_quote(e, s + i, 3);
                return -EINVAL;
            }
            i += 3;
            continue;
        }
        if (host && (unsigned char)s[i] < 0x80 && host_char_bad(s[i])) {
            et_buf_append_str(e, "invalid character ");
            et__go_quote(e, s + i, 1);
            et_buf_append_str(e, " in host name");
            return -EINVAL;
        }
        i++;
    }
    return 0;
}

static bool valid_optional_port(const char *p, size_t len)
{
    if (len == 0)
        return true;
    if (p[0] != ':')
        return false;
    for (size_t i = 1; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static const char *mem_rchr(const char *s, size_t len, char c)
{
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == c)
            return s + i - 1;
    return NULL;
}

static int parse_host(const char *h, size_t len, struct et_buf *e)
{
    const char *colon_port = NULL;
    if (len > 0 && h[0] == '[') {
        const char *rb = mem_rchr(h, len, ']');
        if (rb == NULL) {
            et_buf_append_str(e, "missing ']' in host");
            return -EINVAL;
        }
        colon_port = rb + 1;
    } else {
        colon_port = mem_rchr(h, len, ':');
    }
    if (colon_port != NULL) {
        size_t plen = (size_t)(h + len - colon_port);
        if (!valid_optional_port(colon_port, plen)) {
            et_buf_append_str(e, "invalid port ");
            et__go_quote(e, colon_port, plen);
            et_buf_append_str(e, " after host");
            return -EINVAL;
        }
    }
    return check_escapes(h, len, true, e);
}

static bool valid_userinfo(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && strchr("-._:~!$&'()*+,;=%@", s[i]) == NULL)
            return false;
    return true;
}

/* Parses @s (length @len, NUL-terminated) as Go's url.Parse; on error appends the bare reason
 * to @e. */
static int go_url_parse(const char *s, size_t len, struct go_url *u, struct et_buf *e)
{
    memset(u, 0, sizeof(*u));
    const char *hash = memchr(s, '#', len);
    size_t ulen = hash ? (size_t)(hash - s) : len;
    for (size_t i = 0; i < ulen; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            et_buf_append_str(e, "net/url: invalid control character in URL");
            return -EINVAL;
        }
    }
    /* Scheme: letters first, then letters, digits, + - . up to a colon. */
    const char *rest = s;
    for (size_t i = 0; i < ulen; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                break;
            continue;
        }
        if (c == ':') {
            if (i == 0) {
                et_buf_append_str(e, "missing protocol scheme");
                return -EINVAL;
            }
            u->scheme = s;
            u->scheme_len = i;
            rest = s + i + 1;
        }
        break;
    }
    size_t rlen = ulen - (size_t)(rest - s);
    const char *q = memchr(rest, '?', rlen);
    size_t plen = q ? (size_t)(q - rest) : rlen;
    u->rest = rest + plen;
    if (plen == 0 || rest[0] != '/') {
        if (u->scheme != NULL) {
            u->opaque = true;
            return 0;
        }
        const char *slash = memchr(rest, '/', plen);
        size_t seg = slash ? (size_t)(slash - rest) : plen;
        if (memchr(rest, ':', seg) != NULL) {
            et_buf_append_str(e, "first path segment in URL cannot contain colon");
            return -EINVAL;
        }
    }
    const char *path = rest;
    if (plen >= 2 && rest[0] == '/' && rest[1] == '/' &&
        (u->scheme != NULL || plen < 3 || rest[2] != '/')) {
        const char *a = rest + 2;
        const char *slash = memchr(a, '/', plen - 2);
        size_t alen = slash ? (size_t)(slash - a) : plen - 2;
        u->authority = a;
        u->authority_len = alen;
        const char *at = mem_rchr(a, alen, '@');
        u->host = at ? at + 1 : a;
        u->host_len = alen - (size_t)(u->host - a);
        int rc = parse_host(u->host, u->host_len, e);
        if (rc != 0)
            return rc;
        if (at != NULL) {
            if (!valid_userinfo(a, (size_t)(at - a))) {
                et_buf_append_str(e, "net/url: invalid userinfo");
                return -EINVAL;
            }
            rc = check_escapes(a, (size_t)(at - a), false, e);
            if (rc != 0)
                return rc;
        }
        path = a + alen;
    }
    u->path_len = plen - (size_t)(path - rest);
    int rc = check_escapes(path, u->path_len, false, e);
    if (rc != 0)
        return rc;
    if (hash != NULL) {
        rc = check_escapes(hash + 1, len - ulen - 1, false, e);
        u->frag_error = rc != 0;
    }
    return rc;
}

/* Go's net.SplitHostPort acceptance; on success sets host and port slices. */
static bool split_host_port(const char *hp, size_t len, const char **host, size_t *host_len,
                            const char **port, size_t *port_len)
{
    const char *colon = mem_rchr(hp, len, ':');
    if (colon == NULL)
        return false;
    size_t i = (size_t)(colon - hp), j = 0, k = 0;
    if (hp[0] == '[') {
        const char *rb = memchr(hp, ']', len);
        if (rb == NULL)
            return false;
        size_t end = (size_t)(rb - hp);
        if (end + 1 != i)
            return false;
        *host = hp + 1;
        *host_len = end - 1;
        j = 1;
        k = end + 1;
    } else {
        if (memchr(hp, ':', i) != NULL)
            return false;
        *host = hp;
        *host_len = i;
    }
    if (memchr(hp + j, '[', len - j) != NULL || memchr(hp + k, ']', len - k) != NULL)
        return false;
    *port = colon + 1;
    *port_len = len - i - 1;
    return true;
}

static void trim_space(const char **s, size_t *len)
{
    /* (a NUL byte is not space: strchr() would find the terminator) */
    while (*len > 0 && (*s)[0] != '\0' && strchr(" \t\n\r\v\f", (*s)[0]) != NULL) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && (*s)[*len - 1] != '\0' && strchr(" \t\n\r\v\f", (*s)[*len - 1]) != NULL)
        (*len)--;
}

/* ---- URL.String() ------------------------------------------------------------------------- */

enum go_enc {
    ENC_HOST,     /* encodeHost */
    ENC_USERINFO, /* encodeUserPassword */
    ENC_FRAGMENT, /* encodeFragment */
};

/* Go's shouldEscape(c, mode) for the modes URL.String() uses on a member URL. */
static bool go_should_escape(unsigned char c, enum go_enc mode)
{
    if (c >= 0x80 || c == '\0')
        return true;
    if (is_alnum((char)c) || strchr("-_.~", (char)c) != NULL)
        return false;
    if (mode == ENC_HOST && strchr("!$&'()*+,;=:[]<>\"", (char)c) != NULL)
        return false;
    if (strchr("$&+,/:;=?@", (char)c) != NULL)
        return mode == ENC_USERINFO ? strchr("@/?:", (char)c) != NULL : mode != ENC_FRAGMENT;
    return !(mode == ENC_FRAGMENT && strchr("!()*", (char)c) != NULL);
}

/* Appends escape(unescape(@s), @mode): every %XX decoded, then what @mode escapes written as
 * upper-case %XX (Go prints "%C3" for a host or userinfo given as "%c3"). The escapes of @s
 * were checked by go_url_parse(). */
static void put_reescaped(struct et_buf *b, const char *s, size_t len, enum go_enc mode)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && et_hex_digit(s[i + 1]) >= 0 && et_hex_digit(s[i + 2]) >= 0) {
            c = (unsigned char)(et_hex_digit(s[i + 1]) << 4 | et_hex_digit(s[i + 2]));
            i += 2;
        }
        if (go_should_escape(c, mode))
            et_buf_printf(b, "%%%02X", c);
        else
            et_buf_append_char(b, (char)c);
    }
}

/* The authority as URL.String() writes it: User.String() (name and password unescaped, then
 * escaped as encodeUserPassword) and escape(Host, encodeHost). */
static void put_authority(struct et_buf *b, const char *a, size_t len)
{
    const char *at = mem_rchr(a, len, '@');
    if (at != NULL) {
        size_t ulen = (size_t)(at - a);
        const char *colon = memchr(a, ':', ulen);
        size_t nlen = colon ? (size_t)(colon - a) : ulen;
        put_reescaped(b, a, nlen, ENC_USERINFO);
        if (colon != NULL) {
            et_buf_append_char(b, ':');
            put_reescaped(b, colon + 1, ulen - nlen - 1, ENC_USERINFO);
        }
        et_buf_append_char(b, '@');
        len -= ulen + 1;
        a = at + 1;
    }
    put_reescaped(b, a, len, ENC_HOST);
}

/* Go's validEncoded(s, encodeFragment): the raw fragment is printed as given when it holds
 * nothing that escape() would change but its %XX. */
static bool fragment_encoded(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr("!$&'()*+,;=:@[]%", s[i]) == NULL || s[i] == '\0')
            if (go_should_escape((unsigned char)s[i], ENC_FRAGMENT))
                return false;
    return true;
}

/* The query and fragment: RawQuery as given, then EscapedFragment(). */
static void put_rest(struct et_buf *b, const char *s, size_t len)
{
    const char *hash = memchr(s, '#', len);
    size_t qlen = hash ? (size_t)(hash - s) : len;
    et_buf_append(b, s, qlen);
    if (hash == NULL)
        return;
    const char *f = hash + 1;
    size_t flen = len - qlen - 1;
    et_buf_append_char(b, '#');
    if (fragment_encoded(f, flen))
        et_buf_append(b, f, flen);
    else
        put_reescaped(b, f, flen, ENC_FRAGMENT);
}

/* Parses one URL of a list: types.NewURLs' rules. Appends etcd's message to @e on error. */
static int url_parse_one(const char *s, size_t len, struct et_url *out, struct et_buf *e)
{
    trim_space(&s, &len);
    struct go_url u;
    struct et_buf reason = ET_BUF_INIT;
    int rc = go_url_parse(s, len, &u, &reason);
    if (rc != 0) {
        /* Go reports the URL without its fragment. */
        const char *hash = memchr(s, '#', len);
        et_buf_append_str(e, "parse ");
        et__go_quote(e, s, hash && !u.frag_error ? (size_t)(hash - s) : len);
        et_buf_append_str(e, ": ");
        et_buf_append(e, reason.data, reason.len);
        et_buf_free(&reason);
        return rc;
    }
    et_buf_free(&reason);
    char scheme[8] = "";
    if (u.scheme_len > 0 && u.scheme_len < sizeof(scheme)) {
        for (size_t i = 0; i < u.scheme_len; i++)
            scheme[i] = (char)(u.scheme[i] | 0x20);
        scheme[u.scheme_len] = '\0';
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
        strcmp(scheme, "unix") != 0 && strcmp(scheme, "unixs") != 0) {
        et_buf_printf(e, "URL scheme must be http, https, unix, or unixs: %.*s", (int)len, s);
        return -EINVAL;
    }
    const char *host = NULL, *port = NULL;
    size_t host_len = 0, port_len = 0;
    if (u.opaque || u.host == NULL || u.host_len == 0 ||
        !split_host_port(u.host, u.host_len, &host, &host_len, &port, &port_len)) {
        et_buf_printf(e, "URL address does not have the form \"host:port\": %.*s", (int)len, s);
        return -EINVAL;
    }
    if (u.path_len > 0) {
        et_buf_printf(e, "URL must not contain a path: %.*s", (int)len, s);
        return -EINVAL;
    }
    if (out != NULL) {
        out->scheme = et_strdup(scheme);
        /* Go's URL.Host is unescaped: "%C3" and a raw 0xC3 byte name the same host */
        struct et_buf h = ET_BUF_INIT;
        for (size_t i = 0; i < host_len; i++) {
            if (host[i] == '%' && i + 2 < host_len && et_hex_digit(host[i + 1]) >= 0 &&
                et_hex_digit(host[i + 2]) >= 0) {
                et_buf_append_char(
                    &h, (char)(et_hex_digit(host[i + 1]) << 4 | et_hex_digit(host[i + 2])));
                i += 2;
            } else {
                et_buf_append_char(&h, host[i]);
            }
        }
        out->host = et_strndup(h.data ? h.data : "", h.len);
        et_buf_free(&h);
        out->port = et_strndup(port, port_len);
        struct et_buf raw = ET_BUF_INIT;
        et_buf_append_str(&raw, scheme);
        et_buf_append_str(&raw, "://");
        put_authority(&raw, u.authority, u.authority_len);
        put_rest(&raw, u.rest, len - (size_t)(u.rest - s));
        out->raw = raw.data;
    }
    return 0;
}

int et_url_parse(const char *s, struct et_url *out, char *err, size_t err_len)
{
    ET_ASSERT(s != NULL);
    return et_url_parse_len(s, strlen(s), out, err, err_len);
}

int et_url_parse_len(const char *s, size_t len, struct et_url *out, char *err, size_t err_len)
{
    ET_ASSERT(s != NULL);
    ET_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    struct et_buf e = ET_BUF_INIT;
    int rc = url_parse_one(s, len, out, &e);
    if (rc != 0)
        et__set_err(err, err_len, e.data);
    et_buf_free(&e);
    return rc;
}

void et_url_free(struct et_url *u)
{
    et_free(u->scheme);
    et_free(u->host);
    et_free(u->port);
    et_free(u->raw);
    memset(u, 0, sizeof(*u));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int et__urls_parse_buf(const char *list, struct et_strlist *out, struct et_buf *e)
{
    struct et_strlist l = { 0 };
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct et_url u;
        int rc = url_parse_one(p, len, &u, e);
        if (rc != 0) {
            et_strlist_free(&l);
            return rc;
        }
        et__strlist_push(&l, u.raw, strlen(u.raw));
        et_url_free(&u);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    qsort(l.items, l.count, sizeof(*l.items), cmp_str);
    *out = l;
    return 0;
}

int et_urls_parse(const char *list, struct et_strlist *out, char *err, size_t err_len)
{
    ET_ASSERT(list != NULL);
    ET_ASSERT(out != NULL);
    struct et_buf e = ET_BUF_INIT;
    int rc = et__urls_parse_buf(list, out, &e);
    if (rc != 0)
        et__set_err(err, err_len, e.data);
    et_buf_free(&e);
    return rc;
}

bool et_url_host_bindable(const char *scheme, const char *host)
{
    if (strcmp(scheme, "unix") == 0 || strcmp(scheme, "unixs") == 0)
        return true;
    if (strcmp(host, "localhost") == 0)
        return true;
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* ---- --initial-cluster ------------------------------------------------------------------ */

void et_cluster_members_free(struct et_cluster_members *m)
{
    for (size_t i = 0; i < m->count; i++) {
        et_free(m->members[i].name);
        et_strlist_free(&m->members[i].peer_urls);
    }
    et_free(m->members);
    m->members = NULL;
    m->count = 0;
}

static struct et_cluster_member *member_get(struct et_cluster_members *m, const char *name,
                                            size_t len)
{
    for (size_t i = 0; i < m->count; i++)
        if (strlen(m->members[i].name) == len && memcmp(m->members[i].name, name, len) == 0)
            return &m->members[i];
    m->members = et_realloc(m->members, (m->count + 1) * sizeof(*m->members));
    struct et_cluster_member *nm = &m->members[m->count++];
    nm->name = et_strndup(name, len);
    nm->peer_urls.items = NULL;
    nm->peer_urls.count = 0;
    return nm;
}

int et_initial_cluster_parse(const char *s, struct et_cluster_members *out, char *err,
                             size_t err_len)
{
    ET_ASSERT(s != NULL);
    ET_ASSERT(out != NULL);
    struct et_cluster_members m = { 0 };
    struct et_buf e = ET_BUF_INIT;
    /* types.NewURLsMap: split on ',', each "name=url" (a missing '=' means an empty URL). */
    for (const char *p = s; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = len - (size_t)(v - p);
            struct et_url u;
            int rc = url_parse_one(v, vlen, &u, &e);
            if (rc != 0) {
                et__set_err(err, err_len, e.data);
                et_buf_free(&e);
                et_cluster_members_free(&m);
                return rc;
            }
            struct et_cluster_member *mem = member_get(&m, p, nlen);
            et__strlist_push(&mem->peer_urls, u.raw, strlen(u.raw));
            et_url_free(&u);
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    for (size_t i = 0; i < m.count; i++)
        qsort(m.members[i].peer_urls.items, m.members[i].peer_urls.count, sizeof(char *), cmp_str);
    et_buf_free(&e);
    *out = m;
    return 0;
}

static void quote_list(struct et_buf *b, const struct et_strlist *l)
{
    et_buf_append_char(b, '[');
    for (size_t i = 0; i < l->count; i++) {
        if (i > 0)
            et_buf_append_char(b, ' ');
        et__go_quote(b, l->items[i], strlen(l->items[i]));
    }
    et_buf_append_char(b, ']');
}

static void join_list(struct et_buf *b, const struct et_strlist *l, const char *prefix)
{
    for (size_t i = 0; i < l->count; i++) {
        if (i > 0)
            et_buf_append_char(b, ',');
        if (prefix != NULL)
            et_buf_printf(b, "%s=", prefix);
        et_buf_append_str(b, l->items[i]);
    }
}

static bool list_has(const struct et_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* ServerConfig.advertiseMatchesCluster without DNS resolution (URLs compare as strings). */
static int advertise_matches(const struct et_config *cfg, const struct et_strlist *init,
                             struct et_buf *e)
{
    const struct et_strlist *ap = &cfg->initial_advertise_peer_urls; /* sorted */
    struct et_buf why = ET_BUF_INIT;
    if (ap->count != init->count) {
        et_buf_append_str(&why, "len(");
        quote_list(&why, ap);
        et_buf_append_str(&why, ") != len(");
        quote_list(&why, init);
        et_buf_append_str(&why, ")");
    } else {
        for (size_t i = 0; i < ap->count; i++) {
            if (strcmp(ap->items[i], init->items[i]) != 0) {
                et_buf_append_str(&why, "resolved urls: ");
                et__go_quote(&why, ap->items[i], strlen(ap->items[i]));
                et_buf_append_str(&why, " != ");
                et__go_quote(&why, init->items[i], strlen(init->items[i]));
                break;
            }
        }
        if (why.len == 0)
            return 0;
    }
    struct et_strlist missing = { 0 };
    for (size_t i = 0; i < init->count; i++)
        if (!list_has(ap, init->items[i]) && !list_has(&missing, init->items[i]))
            et__strlist_push(&missing, init->items[i], strlen(init->items[i]));
    if (missing.count > 0) {
        et_buf_append_str(e, "--initial-cluster has ");
        join_list(e, &missing, cfg->name);
        et_buf_append_str(e, " but missing from --initial-advertise-peer-urls=");
        join_list(e, ap, NULL);
        et_buf_printf(e, " (%s)", why.data);
    } else {
        for (size_t i = 0; i < ap->count; i++)
            if (!list_has(init, ap->items[i]) && !list_has(&missing, ap->items[i]))
                et__strlist_push(&missing, ap->items[i], strlen(ap->items[i]));
        if (missing.count > 0) {
            et_buf_append_str(e, "--initial-advertise-peer-urls has ");
            join_list(e, &missing, NULL);
            et_buf_append_str(e, " but missing from --initial-cluster=");
            join_list(e, ap, cfg->name);
        } else {
            et_buf_append_str(e, "failed to resolve ");
            join_list(e, ap, NULL);
            et_buf_append_str(e, " to match --initial-cluster=");
            join_list(e, ap, cfg->name);
            et_buf_printf(e, " (%s)", why.data);
        }
    }
    et_strlist_free(&missing);
    et_buf_free(&why);
    return -EINVAL;
}

static bool duplicate_url(const struct et_cluster_members *m)
{
    for (size_t i = 0; i < m->count; i++)
        for (size_t j = 0; j < m->members[i].peer_urls.count; j++)
            for (size_t k = i; k < m->count; k++)
                for (size_t l = (k == i ? j + 1 : 0); l < m->members[k].peer_urls.count; l++)
                    if (strcmp(m->members[i].peer_urls.items[j],
                               m->members[k].peer_urls.items[l]) == 0)
                        return true;
    return false;
}

int et_config_check_initial_cluster(const struct et_config *cfg, char *err, size_t err_len)
{
    ET_ASSERT(cfg != NULL);
    ET_ASSERT(cfg->name != NULL);
    struct et_cluster_members m = { 0 };
    char why[512];
    if (et_initial_cluster_parse(cfg->initial_cluster ? cfg->initial_cluster : "", &m, why,
                                 sizeof(why)) != 0) {
        snprintf(err, err_len, "error setting up initial cluster: %s", why);
        return -EINVAL;
    }
    struct et_buf e = ET_BUF_INIT;
    const struct et_cluster_member *self = NULL;
    for (size_t i = 0; i < m.count; i++)
        if (strcmp(m.members[i].name, cfg->name) == 0)
            self = &m.members[i];
    int rc = 0;
    if (self == NULL) {
        et_buf_append_str(&e, "couldn't find local name ");
        et__go_quote(&e, cfg->name, strlen(cfg->name));
        et_buf_append_str(&e, " in the initial cluster configuration");
        rc = -EINVAL;
    } else if (advertise_matches(cfg, &self->peer_urls, &e) != 0) {
        rc = -EINVAL;
    } else if (duplicate_url(&m)) {
        et_buf_append_str(&e, "initial cluster ");
        et_buf_append_str(&e, cfg->initial_cluster);
        et_buf_append_str(&e, " has duplicate url");
        rc = -EINVAL;
    }
    if (rc != 0)
        et__set_err(err, err_len, e.data);
    et_buf_free(&e);
    et_cluster_members_free(&m);
    return rc;
}
