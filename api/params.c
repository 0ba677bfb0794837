/*
 * api/params.c - request target routing and parameter parsing for the v2 keys API.
 *
 * etcd 3.4 (built with Go 1.19) gets these behaviours from Go's standard library, so this file
 * reproduces the relevant parts of it, byte for byte where a client can see the difference:
 *   - net/url: percent-decoding of the path (encodePath mode) and of query/form components
 *     (encodeQueryComponent: '+' is a space), url.EscapeError's message (strconv.Quote of at
 *     most three bytes), ParseQuery's skipping of empty and semicolon pairs, escaping of a path;
 *   - net/http: ServeMux's cleanPath() redirect and http.Redirect's Location / body,
 *     Request.ParseForm (body pairs before query pairs, 10 MiB limit, first error wins);
 *   - mime.ParseMediaType, whose errors become a 210 cause for PUT/POST.
 * Then the keys handler's own checks run in the order of spec/v2-keys-api.md section 3.4.
 *
 * Pure: no I/O, no global state. Memory: decoded strings live in the caller's api_params_store,
 * one allocation per parsed string, freed by api_params_free().
 */
#include "api/params.h"

#include <stddef.h>
#include <string.h>

#include "core/alloc.h"
#include "core/ascii.h"
#include "core/ecode.h"

struct api_param {
    const char *name; /* decoded, NUL-terminated */
    size_t name_len;
    const char *value; /* decoded, NUL-terminated */
    size_t value_len;
};

static const char go_hex_upper[] = "0123456789ABCDEF";
static const char go_hex_lower[] = "0123456789abcdef";

/* ==== Go compatibility: strconv.Quote and url.EscapeError ================================== */

/* Decodes one UTF-8 sequence as Go's utf8.DecodeRune does; returns the width and sets *r, or
 * returns 1 with *r = -1 for an invalid or incomplete sequence. */
static size_t utf8_decode(const unsigned char *s, size_t len, int32_t *r)
{
    ET_ASSERT(len > 0);
    unsigned char c = s[0];
    if (c < 0x80) {
        *r = c;
        return 1;
    }
    size_t need;
    int32_t v;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        v = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        v = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        *r = -1;
        return 1;
    }
    if (len < need + 1 || s[1] < lo || s[1] > hi) {
        *r = -1;
        return 1;
    }
    v = (v << 6) | (s[1] & 0x3f);
    for (size_t i = 2; i <= need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            *r = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *r = v;
    return need + 1;
}

/*
 * Go's unicode.IsPrint for the code points an escape error can show: ASCII, Latin-1 and the
 * two-byte UTF-8 range up to U+07FF (an error quotes at most three bytes starting with '%').
 * Ranges from Go 1.19's strconv/isprint.go (Unicode 13). Above U+07FF we say printable; such
 * code points cannot occur here.
 */
static bool go_is_print(int32_t r)
{
    static const uint16_t ranges[][2] = {
        { 0x0020, 0x007e }, { 0x00a1, 0x0377 }, { 0x037a, 0x037f }, { 0x0384, 0x0556 },
        { 0x0559, 0x058a }, { 0x058d, 0x05c7 }, { 0x05d0, 0x05ea }, { 0x05ef, 0x05f4 },
        { 0x0606, 0x061b }, { 0x061e, 0x070d }, { 0x0710, 0x074a }, { 0x074d, 0x07b1 },
        { 0x07c0, 0x07fa }, { 0x07fd, 0x082d },
    };
    static const uint16_t holes[] = { 0x00ad, 0x038b, 0x038d, 0x03a2, 0x0530, 0x0590, 0x06dd };
    if (r >= 0x800)
        return true;
    for (size_t i = 0; i < ET_ARRAY_SIZE(holes); i++)
        if (r == holes[i])
            return false;
    for (size_t i = 0; i < ET_ARRAY_SIZE(ranges); i++)
        if (r >= ranges[i][0] && r <= ranges[i][1])
            return true;
    return false;
}

/* Appends strconv.Quote(@s) (Go syntax, double quotes). */
static void go_quote(struct et_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    et_buf_append_char(out, '"');
    for (size_t i = 0; i < len;) {
        int32_t r;
        size_t w = utf8_decode(p + i, len - i, &r);
        if (r < 0) {
            char esc[4] = { '\\', 'x', go_hex_lower[p[i] >> 4], go_hex_lower[p[i] & 15] };
            et_buf_append(out, esc, 4);
        } else if (r == '"' || r == '\\') {
            et_buf_append_char(out, '\\');
            et_buf_append_char(out, (char)r);
        } else if (go_is_print(r)) {
            et_buf_append(out, p + i, w);
        } else if (r < 0x20 || r == 0x7f) {
            static const char names[] = "abtnvfr"; /* \a=7 ... \r=13 */
            if (r >= 7 && r <= 13) {
                et_buf_append_char(out, '\\');
                et_buf_append_char(out, names[r - 7]);
            } else {
                char esc[4] = { '\\', 'x', go_hex_lower[r >> 4], go_hex_lower[r & 15] };
                et_buf_append(out, esc, 4);
            }
        } else {
            et_buf_printf(out, "\\u%04x", (unsigned)r);
        }
        i += w;
    }
    et_buf_append_char(out, '"');
}

/* Appends url.EscapeError's text for the bad escape starting at @s (at most 3 bytes shown). */
static void escape_error(struct et_buf *cause, const char *s, size_t left)
{
    if (cause == NULL)
        return;
    et_buf_append_str(cause, "invalid URL escape ");
    go_quote(cause, s, left > 3 ? 3 : left);
}

/*
 * Percent-decodes @len bytes of @s into @dst (room for @len bytes). @plus_is_space selects
 * query-component mode. Returns the decoded length, or (size_t)-1 on a bad escape with
 * *bad_at set to its offset.
 */
static size_t unescape(const char *s, size_t len, char *dst, bool plus_is_space, size_t *bad_at)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < len ? et_hex_digit((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < len ? et_hex_digit((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                *bad_at = i;
                return (size_t)-1;
            }
            dst[o++] = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            dst[o++] = ' ';
        } else {
            dst[o++] = (char)c;
        }
    }
    return o;
}

/* ==== request target ======================================================================= */

/* Go's shouldEscape(c, encodePath). */
static bool path_should_escape(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '@':
        return false;
    default:
        return true;
    }
}

void api_escape_path(struct et_buf *out, const char *path, size_t len)
{
    ET_ASSERT(out != NULL);
    ET_ASSERT(path != NULL || len == 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (path_should_escape(c)) {
            char esc[3] = { '%', go_hex_upper[c >> 4], go_hex_upper[c & 15] };
            et_buf_append(out, esc, 3);
        } else {
            et_buf_append_char(out, (char)c);
        }
    }
}

/*
 * Go's path.Clean for a rooted path @p (@len >= 1, p[0] == '/'), written to @dst (room for
 * @len bytes). Returns the cleaned length (at least 1: "/").
 */
static size_t clean_rooted(const char *p, size_t len, char *dst)
{
    ET_ASSERT(len >= 1);
    ET_ASSERT(p[0] == '/');
    size_t w = 1, r = 1, dotdot = 1;
    dst[0] = '/';
    while (r < len) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == len || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == len || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && dst[w] != '/')
                    w--;
            }
        } else {
            if (w != 1)
                dst[w++] = '/';
            for (; r < len && p[r] != '/'; r++)
                dst[w++] = p[r];
        }
    }
    return w;
}

#define KEYS_PREFIX     "/v2/keys"
#define KEYS_PREFIX_LEN (sizeof(KEYS_PREFIX) - 1)

/* Appends @q with bytes >= 0x80 hex-escaped in lower case (Go's hexEscapeNonASCII, which
 * http.Redirect applies to the Location header only). */
static void append_hex_non_ascii(struct et_buf *out, const char *q, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)q[i];
        if (c >= 0x80) {
            char esc[3] = { '%', go_hex_lower[c >> 4], go_hex_lower[c & 15] };
            et_buf_append(out, esc, 3);
        } else {
            et_buf_append_char(out, (char)c);
        }
    }
}

/* Appends the redirect URL as http.Redirect's HTML body shows it (html-escaped, raw bytes). */
static void append_html_url(struct et_buf *out, const char *path, size_t path_len,
                            const char *query, size_t query_len)
{
    struct et_buf url = ET_BUF_INIT;
    api_escape_path(&url, path, path_len);
    if (query_len > 0) {
        et_buf_append_char(&url, '?');
        et_buf_append(&url, query, query_len);
    }
    for (size_t i = 0; i < url.len; i++) {
        switch (url.data[i]) {
        case '&':
            et_buf_append_str(out, "&amp;");
            break;
        case '<':
            et_buf_append_str(out, "&lt;");
            break;
        case '>':
            et_buf_append_str(out, "&gt;");
            break;
        case '"':
            et_buf_append_str(out, "&#34;");
            break;
        case '\'':
            et_buf_append_str(out, "&#39;");
            break;
        default:
            et_buf_append_char(out, url.data[i]);
            break;
        }
    }
    et_buf_free(&url);
}

/* api_keys_path(), plus the GET redirect body in @html when not NULL. */
static enum api_path_kind route(const char *target, size_t len, struct et_buf *key,
                                struct et_buf *location, const char **query, size_t *query_len,
                                struct et_buf *html)
{
    ET_ASSERT(target != NULL || len == 0);
    if (query != NULL)
        *query = NULL;
    if (query_len != NULL)
        *query_len = 0;
    /* Go's url.parse refuses any control byte in the request URI. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)target[i] < 0x20 || target[i] == 0x7f)
            return API_PATH_BAD;
    if (len == 0 || target[0] != '/')
        return API_PATH_BAD;
    const char *qmark = memchr(target, '?', len);
    size_t raw_len = qmark != NULL ? (size_t)(qmark - target) : len;
    if (qmark != NULL && query != NULL)
        *query = qmark + 1;
    if (qmark != NULL && query_len != NULL)
        *query_len = len - raw_len - 1;

    /* One scratch allocation: the decoded path, then its cleaned form (+1 for a '/'). */
    char *dec = et_alloc(2 * raw_len + 2);
    char *clean = dec + raw_len;
    size_t bad_at;
    size_t dec_len = unescape(target, raw_len, dec, false, &bad_at);
    enum api_path_kind kind;
    if (dec_len == (size_t)-1) {
        kind = API_PATH_BAD;
        goto out_free;
    }
    /* dec[0] == '/': '%2F' decodes to '/', and a raw first byte is '/'. */
    size_t clean_len = clean_rooted(dec, dec_len, clean);
    if (dec[dec_len - 1] == '/' && clean_len != 1) /* ServeMux keeps one trailing slash */
        clean[clean_len++] = '/';
    if (clean_len != dec_len || memcmp(clean, dec, dec_len) != 0) {
        kind = API_PATH_REDIRECT;
        /* ServeMux builds a new URL from the path and the raw query: an empty query ("a?")
         * loses its '?'. */
        size_t q_len = qmark != NULL ? len - raw_len - 1 : 0;
        const char *q = qmark != NULL ? qmark + 1 : "";
        if (location != NULL) {
            api_escape_path(location, clean, clean_len);
            if (q_len > 0) {
                et_buf_append_char(location, '?');
                append_hex_non_ascii(location, q, q_len);
            }
        }
        if (html != NULL) {
            et_buf_append_str(html, "<a href=\"");
            append_html_url(html, clean, clean_len, q, q_len);
            et_buf_append_str(html, "\">Moved Permanently</a>.\n\n");
        }
        goto out_free;
    }
    if (dec_len < KEYS_PREFIX_LEN || memcmp(dec, KEYS_PREFIX, KEYS_PREFIX_LEN) != 0 ||
        (dec_len > KEYS_PREFIX_LEN && dec[KEYS_PREFIX_LEN] != '/')) {
        kind = API_PATH_NOT_FOUND;
        goto out_free;
    }
    kind = API_PATH_KEYS;
    if (key != NULL) {
        const char *k = dec + KEYS_PREFIX_LEN;
        size_t k_len = dec_len - KEYS_PREFIX_LEN;
        if (k_len > 1 && k[k_len - 1] == '/')
            k_len--;
        if (k_len == 0)
            et_buf_append_char(key, '/');
        else
            et_buf_append(key, k, k_len);
    }
out_free:
    et_free(dec);
    return kind;
}

enum api_path_kind api_keys_path(const char *target, size_t len, struct et_buf *key,
                                 struct et_buf *location, const char **query, size_t *query_len)
{
    return route(target, len, key, location, query, query_len, NULL);
}

bool api_redirect_body(struct et_buf *out, const char *target, size_t len)
{
    ET_ASSERT(out != NULL);
    return route(target, len, NULL, NULL, NULL, NULL, out) == API_PATH_REDIRECT;
}

/* ==== value grammars ======================================================================= */

bool api_parse_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
    ET_ASSERT(s != NULL || len == 0);
    ET_ASSERT(out != NULL);
    for (size_t i = 0; i < ET_ARRAY_SIZE(yes); i++) {
        if (strlen(yes[i]) == len && memcmp(yes[i], s, len) == 0) {
            *out = true;
            return true;
        }
        if (strlen(no[i]) == len && memcmp(no[i], s, len) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool api_parse_u64(const char *s, size_t len, uint64_t *out)
{
    ET_ASSERT(s != NULL || len == 0);
    ET_ASSERT(out != NULL);
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ==== form / query parameters ============================================================== */

void api_params_init(struct api_params_store *st)
{
    ET_ASSERT(st != NULL);
    *st = (struct api_params_store)API_PARAMS_STORE_INIT;
}

void api_params_free(struct api_params_store *st)
{
    ET_ASSERT(st != NULL);
    for (size_t i = 0; i < st->_chunk_count; i++)
        et_free(st->_chunks[i]);
    et_free(st->_chunks);
    et_free(st->_pairs);
    et_free(st->_slots);
    api_params_init(st);
}

static char *store_chunk(struct api_params_store *st, size_t size)
{
    st->_chunks = et_realloc(st->_chunks, (st->_chunk_count + 1) * sizeof(*st->_chunks));
    char *c = et_alloc(size);
    st->_chunks[st->_chunk_count++] = c;
    return c;
}

static uint64_t name_hash(const char *name, size_t len)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    return h;
}

/* The slot of @name in the open-addressing table: its pair or the empty slot to fill. */
static size_t store_slot(const struct api_params_store *st, const char *name, size_t len)
{
    ET_ASSERT(st->_slot_count > 0);
    size_t mask = st->_slot_count - 1;
    for (size_t i = name_hash(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t idx = st->_slots[i];
        if (idx == 0)
            return i;
        const struct api_param *p = &st->_pairs[idx - 1];
        if (p->name_len == len && memcmp(p->name, name, len) == 0)
            return i;
    }
}

static void store_grow(struct api_params_store *st)
{
    size_t n = st->_slot_count == 0 ? 32 : st->_slot_count * 2;
    et_free(st->_slots);
    st->_slots = et_calloc(n, sizeof(*st->_slots));
    st->_slot_count = n;
    for (size_t i = 0; i < st->_count; i++) {
        const struct api_param *p = &st->_pairs[i];
        st->_slots[store_slot(st, p->name, p->name_len)] = (uint32_t)(i + 1);
    }
}

/* Adds a pair unless its name is already present (the first occurrence wins). Returns whether
 * it was added, so the caller can reuse the bytes of a dropped duplicate. */
static bool store_add(struct api_params_store *st, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
    if (2 * (st->_count + 1) > st->_slot_count)
        store_grow(st);
    size_t slot = store_slot(st, name, name_len);
    if (st->_slots[slot] != 0)
        return false;
    if (st->_count == st->_cap) {
        st->_cap = st->_cap == 0 ? 16 : st->_cap * 2;
        st->_pairs = et_realloc(st->_pairs, st->_cap * sizeof(*st->_pairs));
    }
    /* Pair indexes fit in 32 bits: a pair takes at least one input byte. */
    ET_ASSERT(st->_count < UINT32_MAX);
    st->_pairs[st->_count++] = (struct api_param){ name, name_len, value, value_len };
    st->_slots[slot] = (uint32_t)st->_count;
    return true;
}

int api_form_parse(struct api_params_store *st, const char *s, size_t len, struct et_buf *cause)
{
    ET_ASSERT(st != NULL);
    ET_ASSERT(s != NULL || len == 0);
    if (len == 0)
        return 0;
    /* Each pair of n input bytes needs at most n + 2 bytes (two NULs), and a pair takes at
     * least one input byte plus its '&', except the last one: 2 * len + 2 is enough. */
    char *out = store_chunk(st, 2 * len + 2);
    size_t o = 0;
    bool failed = false; /* an error text has been chosen */
    struct et_buf err = ET_BUF_INIT;
    for (size_t i = 0; i <= len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - s) : len;
        const char *pair = s + i;
        size_t pair_len = end - i;
        i = end + 1;
        if (memchr(pair, ';', pair_len) != NULL) {
            /* Go sets this error unconditionally, replacing an earlier escape error. */
            et_buf_reset(&err);
            et_buf_append_str(&err, "invalid semicolon separator in query");
            failed = true;
            continue;
        }
        if (pair_len == 0)
            continue;
        const char *eq = memchr(pair, '=', pair_len);
        size_t n_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
        const char *v = eq != NULL ? eq + 1 : pair + pair_len;
        size_t v_len = pair_len - n_len - (eq != NULL ? 1 : 0);
        size_t bad;
        char *name = out + o;
        size_t dn = unescape(pair, n_len, name, true, &bad);
        if (dn == (size_t)-1) {
            if (!failed)
                escape_error(&err, pair + bad, n_len - bad);
            failed = true;
            continue;
        }
        name[dn] = '\0';
        char *value = name + dn + 1;
        size_t dv = unescape(v, v_len, value, true, &bad);
        if (dv == (size_t)-1) {
            if (!failed)
                escape_error(&err, v + bad, v_len - bad);
            failed = true;
            continue;
        }
        value[dv] = '\0';
        if (store_add(st, name, dn, value, dv))
            o += dn + dv + 2;
    }
    ET_ASSERT(o <= 2 * len + 2);
    if (failed && cause != NULL)
        et_buf_append(cause, err.data, err.len);
    et_buf_free(&err);
    return failed ? ET_E_INVALID_FORM : 0;
}

bool api_form_get(const struct api_params_store *st, const char *name, const char **val,
                  size_t *len)
{
    ET_ASSERT(st != NULL);
    ET_ASSERT(name != NULL);
    size_t n = strlen(name);
    if (st->_count == 0)
        return false;
    uint32_t idx = st->_slots[store_slot(st, name, n)];
    if (idx == 0)
        return false;
    const struct api_param *p = &st->_pairs[idx - 1];
    if (val != NULL)
        *val = p->value;
    if (len != NULL)
        *len = p->value_len;
    return true;
}

/* ==== Content-Type: Go's mime.ParseMediaType ================================================ */

/* Width of the Unicode white space (Go's unicode.IsSpace) at @s, or 0. */
static size_t go_space_width(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return 1;
    int32_t r;
    size_t w = utf8_decode(p, len, &r);
    if (r == 0x85 || r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 ||
        r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000)
        return w;
    return 0;
}

static void trim_left_space(const char **s, size_t *len)
{
    size_t w;
    while ((w = go_space_width(*s, *len)) > 0) {
        *s += w;
        *len -= w;
    }
}

/* Go's mime isTokenChar: printable ASCII except the RFC 2045 tspecials. */
static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool is_tspecial(unsigned char c)
{
    return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static size_t token_len(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_token_char((unsigned char)s[i]))
        i++;
    return i;
}

/*
 * Lower-cases the media type as strings.ToLower + TrimSpace do, into @dst (room for @len
 * bytes). Non-ASCII characters are never token characters, so only the two whose lower case is
 * ASCII matter: U+0130 -> 'i' and U+212A (Kelvin) -> 'k'; other non-ASCII bytes are kept.
 */
static size_t media_lower(const char *s, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') {
            dst[o++] = (char)(c + 32);
            i++;
        } else if (len - i >= 2 && c == 0xc4 && (unsigned char)s[i + 1] == 0xb0) {
            dst[o++] = 'i';
            i += 2;
        } else if (len - i >= 3 && memcmp(s + i, "\xe2\x84\xaa", 3) == 0) {
            dst[o++] = 'k';
            i += 3;
        } else {
            dst[o++] = (char)c;
            i++;
        }
    }
    /* TrimSpace, both ends. */
    const char *b = dst;
    size_t n = o;
    trim_left_space(&b, &n);
    while (n > 0) {
        size_t w = 0;
        for (size_t k = 1; k <= 3 && k <= n && w == 0; k++)
            if (go_space_width(b + n - k, k) == k)
                w = k;
        if (w == 0)
            break;
        n -= w;
    }
    memmove(dst, b, n);
    return n;
}

/* Go's checkMediaTypeDisposition: NULL when @s is "token" or "token/token". */
static const char *media_check(const char *s, size_t len)
{
    size_t t = token_len(s, len);
    if (t == 0)
        return "mime: no media type";
    if (t == len)
        return NULL;
    if (s[t] != '/')
        return "mime: expected slash after first token";
    size_t st = token_len(s + t + 1, len - t - 1);
    if (st == 0)
        return "mime: expected token after slash";
    if (t + 1 + st != len)
        return "mime: unexpected content after media subtype";
    return NULL;
}

struct media_param {
    const char *name; /* lower-cased copy */
    size_t name_len;
    char *value; /* unquoted copy */
    size_t value_len;
};

/* Go's consumeValue: a token or a quoted string (with MSIE-style backslashes). Writes the value
 * to @dst and returns the bytes consumed, or 0 when there is no value. */
static size_t media_value(const char *s, size_t len, char *dst, size_t *dst_len)
{
    *dst_len = 0;
    if (len == 0)
        return 0;
    if (s[0] != '"') {
        size_t t = token_len(s, len);
        memcpy(dst, s, t);
        *dst_len = t;
        return t;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c == '\\' && i + 1 < len && is_tspecial((unsigned char)s[i + 1])) {
            dst[(*dst_len)++] = s[++i];
            continue;
        }
        if (c == '\r' || c == '\n')
            break;
        dst[(*dst_len)++] = (char)c;
    }
    *dst_len = 0; /* no closing quote */
    return 0;
}

/*
 * Go's consumeMediaParam on @v: "; name = value". Returns the bytes consumed (0: no parameter
 * here), with the lower-cased name and the value written to @scratch.
 */
static size_t media_param(const char *v, size_t len, char *scratch, struct media_param *mp)
{
    const char *s = v;
    size_t n = len;
    trim_left_space(&s, &n);
    if (n == 0 || s[0] != ';')
        return 0;
    s++, n--;
    trim_left_space(&s, &n);
    size_t t = token_len(s, n);
    if (t == 0)
        return 0;
    for (size_t i = 0; i < t; i++)
        scratch[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    mp->name = scratch;
    mp->name_len = t;
    s += t, n -= t;
    trim_left_space(&s, &n);
    if (n == 0 || s[0] != '=')
        return 0;
    s++, n--;
    trim_left_space(&s, &n);
    mp->value = scratch + t;
    size_t used = media_value(s, n, mp->value, &mp->value_len);
    if (used == 0)
        return 0;
    return (size_t)(s + used - v);
}

/*
 * Parses a Content-Type as mime.ParseMediaType does and reports whether its media type is
 * application/x-www-form-urlencoded (*is_form) and the error text Go would give (NULL if none).
 * Like Go, an invalid parameter still yields the media type; the other errors yield none.
 */
static const char *media_type_parse(const char *ct, size_t len, bool *is_form)
{
    static const char form[] = "application/x-www-form-urlencoded";
    *is_form = false;
    const char *semi = memchr(ct, ';', len);
    size_t base_len = semi != NULL ? (size_t)(semi - ct) : len;
    /* Scratch for the media type and for each parameter's name and value. */
    char *buf = et_alloc(2 * len + 2);
    size_t mt_len = media_lower(ct, base_len, buf);
    const char *err = media_check(buf, mt_len);
    if (err != NULL)
        goto out_free;
    bool form_type = mt_len == sizeof(form) - 1 && memcmp(buf, form, mt_len) == 0;
    /* Parameters: only their errors matter. Go 1.19 rejects any repeated name, even with an
     * equal value (later Go versions accept equal ones). */
    struct media_param *params = NULL;
    size_t count = 0;
    char *scratch = buf + len + 1;
    const char *v = ct + base_len;
    size_t n = len - base_len;
    for (;;) {
        trim_left_space(&v, &n);
        if (n == 0)
            break;
        struct media_param mp;
        size_t used = media_param(v, n, scratch, &mp);
        if (used == 0) {
            /* A lone trailing ';' (with spaces around) is fine. */
            const char *r = v;
            size_t rn = n;
            trim_left_space(&r, &rn);
            if (rn >= 1 && r[0] == ';') {
                r++, rn--;
                trim_left_space(&r, &rn);
                if (rn == 0)
                    break;
            }
            err = "mime: invalid media parameter";
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < count && !dup; i++)
            dup = params[i].name_len == mp.name_len &&
                  memcmp(params[i].name, mp.name, mp.name_len) == 0;
        if (dup) {
            err = "mime: duplicate parameter name";
            form_type = false;
            break;
        }
        params = et_realloc(params, (count + 1) * sizeof(*params));
        params[count++] = mp;
        scratch += mp.name_len + mp.value_len;
        v += used, n -= used;
    }
    et_free(params);
    *is_form = form_type;
out_free:
    et_free(buf);
    return err;
}

/* ==== Request.ParseForm ====================================================================== */

static bool body_is_parsed(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

int api_request_form(struct api_params_store *st, const char *method, const char *query,
                     size_t query_len, const char *content_type, size_t ct_len, const char *body,
                     size_t body_len, size_t body_max, struct et_buf *cause)
{
    ET_ASSERT(st != NULL);
    ET_ASSERT(method != NULL);
    ET_ASSERT(query != NULL || query_len == 0);
    ET_ASSERT(body != NULL || body_len == 0);
    const char *err = NULL;              /* first error, Go's `err` in ParseForm */
    struct et_buf err_buf = ET_BUF_INIT; /* its text when it comes from the form parser */
    if (body_is_parsed(method)) {
        bool is_form = false;
        /* An absent or empty Content-Type is application/octet-stream (RFC 7231 3.1.1.5). */
        if (content_type != NULL && ct_len > 0)
            err = media_type_parse(content_type, ct_len, &is_form);
        if (is_form && body_len > body_max) {
            err = "http: POST too large"; /* replaces a media-type error, as in Go */
            goto out_query;
        }
        if (is_form) {
            int rc = api_form_parse(st, body, body_len, err == NULL ? &err_buf : NULL);
            if (rc != 0 && err == NULL)
                err = err_buf.data;
        }
    }
out_query:;
    struct et_buf qerr = ET_BUF_INIT;
    int rc = api_form_parse(st, query, query_len, &qerr);
    if (rc != 0 && err == NULL)
        err = qerr.data;
    if (err != NULL && cause != NULL)
        et_buf_append_str(cause, err);
    et_buf_free(&qerr);
    et_buf_free(&err_buf);
    return err != NULL ? ET_E_INVALID_FORM : 0;
}

/* ==== keys API parameters ==================================================================== */

/* A bool parameter: absent is fine (false); present must parse. */
static bool get_bool(const struct api_params_store *st, const char *name, bool *out)
{
    const char *v;
    size_t n;
    *out = false;
    return !api_form_get(st, name, &v, &n) || api_parse_bool(v, n, out);
}

static bool get_u64(const struct api_params_store *st, const char *name, uint64_t *out)
{
    const char *v;
    size_t n;
    *out = 0;
    return !api_form_get(st, name, &v, &n) || api_parse_u64(v, n, out);
}

static int fail(struct et_buf *cause, int code, const char *text)
{
    if (cause != NULL)
        et_buf_append_str(cause, text);
    return code;
}

/* Checks 2-12 of spec 3.4. */
static int keys_validate_flags(const struct api_params_store *st, const char *method,
                               struct api_keys_params *out, struct et_buf *cause)
{
    static const struct {
        const char *name;
        size_t offset;
        const char *cause;
    } bools[] = {
        { "recursive", offsetof(struct api_keys_params, recursive),
          "invalid value for \"recursive\"" },
        { "sorted", offsetof(struct api_keys_params, sorted), "invalid value for \"sorted\"" },
        { "wait", offsetof(struct api_keys_params, wait), "invalid value for \"wait\"" },
        { "dir", offsetof(struct api_keys_params, dir), "invalid value for \"dir\"" },
        { "quorum", offsetof(struct api_keys_params, quorum), "invalid value for \"quorum\"" },
        { "stream", offsetof(struct api_keys_params, stream), "invalid value for \"stream\"" },
    };

    if (!get_u64(st, "prevIndex", &out->prev_index))
        return fail(cause, ET_E_INDEX_NAN, "invalid value for \"prevIndex\"");
    if (!get_u64(st, "waitIndex", &out->wait_index))
        return fail(cause, ET_E_INDEX_NAN, "invalid value for \"waitIndex\"");
    for (size_t i = 0; i < ET_ARRAY_SIZE(bools); i++)
        if (!get_bool(st, bools[i].name, (bool *)((char *)out + bools[i].offset)))
            return fail(cause, ET_E_INVALID_FIELD, bools[i].cause);
    if (out->wait && strcmp(method, "GET") != 0)
        return fail(cause, ET_E_INVALID_FIELD, "\"wait\" can only be used with GET requests");
    out->has_prev_value = api_form_get(st, "prevValue", &out->prev_value, &out->prev_value_len);
    if (out->has_prev_value && out->prev_value_len == 0)
        return fail(cause, ET_E_PREV_VALUE_REQUIRED, "\"prevValue\" cannot be empty");
    if (!get_bool(st, "noValueOnSuccess", &out->no_value_on_success))
        return fail(cause, ET_E_INVALID_FIELD, "invalid value for \"noValueOnSuccess\"");
    return 0;
}

/* Checks 13-17 of spec 3.4. */
static int keys_validate_ttl(const struct api_params_store *st, struct api_keys_params *out,
                             struct et_buf *cause)
{
    const char *v;
    size_t n;
    if (api_form_get(st, "ttl", &v, &n) && n > 0) {
        if (!api_parse_u64(v, n, &out->ttl))
            return fail(cause, ET_E_TTL_NAN, "invalid value for \"ttl\"");
        out->has_ttl = true;
    }
    if (api_form_get(st, "prevExist", &v, &n)) {
        bool b;
        if (!api_parse_bool(v, n, &b))
            return fail(cause, ET_E_INVALID_FIELD, "invalid value for prevExist");
        out->prev_exist = b ? 1 : 0;
    }
    if (api_form_get(st, "refresh", &v, &n)) {
        if (!api_parse_bool(v, n, &out->refresh))
            return fail(cause, ET_E_INVALID_FIELD, "invalid value for refresh");
        if (out->refresh && out->value_len > 0)
            return fail(cause, ET_E_REFRESH_VALUE, "A value was provided on a refresh");
        if (out->refresh && !out->has_ttl)
            return fail(cause, ET_E_REFRESH_TTL_REQUIRED, "No TTL value set");
    }
    return 0;
}

int api_keys_params_parse(struct api_params_store *st, const char *method, const char *query,
                          size_t query_len, const char *content_type, size_t ct_len,
                          const char *body, size_t body_len, size_t body_max,
                          struct api_keys_params *out, struct et_buf *cause)
{
    ET_ASSERT(st != NULL);
    ET_ASSERT(method != NULL);
    ET_ASSERT(out != NULL);
    *out = (struct api_keys_params){ .value = "", .prev_exist = -1, .prev_value = "" };
    int rc = api_request_form(st, method, query, query_len, content_type, ct_len, body, body_len,
                              body_max, cause);
    if (rc != 0)
        return rc;
    out->has_value = api_form_get(st, "value", &out->value, &out->value_len);
    rc = keys_validate_flags(st, method, out, cause);
    if (rc != 0)
        return rc;
    rc = keys_validate_ttl(st, out, cause);
    if (rc != 0)
        return rc;
    ET_ASSERT(!out->refresh || out->has_ttl);
    ET_ASSERT(!out->has_prev_value || out->prev_value_len > 0);
    return 0;
}

static bool keys_cmp_given(const struct api_keys_params *p)
{
    return (p->has_prev_value && p->prev_value_len > 0) || p->prev_index > 0;
}

enum store_op api_keys_put_op(const struct api_keys_params *p)
{
    ET_ASSERT(p != NULL);
    ET_ASSERT(p->prev_exist >= -1 && p->prev_exist <= 1);
    if (p->prev_exist == 0)
        return STORE_OP_CREATE;
    if (keys_cmp_given(p))
        return STORE_OP_CAS;
    return p->prev_exist == 1 ? STORE_OP_UPDATE : STORE_OP_SET;
}

enum store_op api_keys_delete_op(const struct api_keys_params *p)
{
    ET_ASSERT(p != NULL);
    return keys_cmp_given(p) ? STORE_OP_CAD : STORE_OP_DELETE;
}
