/*
 * server/discovery.c - etcd's v2 discovery, the member side (spec/discovery.md section 3), over
 * libcurl, reproducing etcd 3.4's v2discovery package and its etcdmain error reports.
 *
 * The discovery URL splits into an endpoint (scheme://host[:port]) and a token path T; every
 * request goes to the endpoint + a key under T, with no /v2/keys prefix of our own:
 *
 *   check   GET T/_config/size, GET T            (size; registrations ordered by createdIndex)
 *   create  PUT T/<id>?prevExist=false value=<name>=<peerURL>[,...]; watch T/<id> at its index
 *   check   again; the X-Etcd-Index of the listing is where the wait starts
 *   wait    watch T recursively, one event at a time, until `size` registrations are known
 *   result  the first `size` registrations' values joined with ",": the initial cluster
 *
 * Errors are classified as etcd's v2 client does: a connection error or a 5xx answer means
 * "no endpoint available" (ClusterError) and is retried forever with exponential back-off
 * (2 s doubling to 256 s) while checking the cluster or waiting for peers; everything else ends
 * the bootstrap with etcd's message. The gets and the create carry etcd's 5 s request timeout;
 * the watches have none. Requests never use the environment's proxies, only --discovery-proxy.
 *
 * libcurl is loaded with dlopen() on the first bootstrap, not linked: a member that does not use
 * discovery never maps it and what it drags in (GnuTLS, LDAP, Kerberos, ...), some 8 MB of
 * resident pages. Once loaded it stays loaded.
 *
 * Thread: main, before any other thread of ours exists. All memory is freed before returning.
 */
#include "server/discovery.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/ascii.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/jsonread.h"
#include "core/log.h"

#define DISC_REQUEST_TIMEOUT_MS 5000           /* etcd's client.DefaultRequestTimeout */
#define DISC_DIAL_TIMEOUT_MS    30000          /* etcd's discovery transport dial timeout */
#define DISC_BACKOFF_SHIFT_MAX  8              /* back-off stops doubling at 2^8 s */
#define DISC_BODY_BYTES_MAX     (64u << 20)    /* a larger answer is not a registry */
#define DISC_REDIRECTS_MAX      10L            /* etcd's client follows up to 10 */
#define DISC_LIBCURL            "libcurl.so.4" /* soname of libcurl 7.16 and later */

/* The libcurl functions discovery calls, resolved from DISC_LIBCURL by curl_load(). */
struct disc_curl {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *curl);
    void (*easy_reset)(CURL *curl);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
};

static struct disc_curl cu; /* set by curl_load(), read-only afterwards */

/* What one request came to, as etcd's v2 client sorts outcomes. */
enum disc_outcome {
    DISC_OK,          /* 200/201 with a keys response: resp.node is set */
    DISC_EMPTY,       /* 200/201 with an empty body (a watch the server ended): ask again */
    DISC_FAILED,      /* an error that ends the bootstrap; d->err holds etcd's text */
    DISC_UNAVAILABLE, /* connection error or 5xx (etcd's ClusterError); d->err holds the cause */
};

/* Why the bootstrap failed: etcdmain reports these three apart from the rest. */
enum disc_fail {
    DISC_FAIL_OTHER,
    DISC_FAIL_FULL,     /* "discovery: cluster is full" */
    DISC_FAIL_DUP_ID,   /* own key already registered */
    DISC_FAIL_DUP_NAME, /* fewer distinct names than the size */
};

struct disc_node {
    char *key;
    char *value;
    uint64_t created_index;
    uint64_t modified_index;
};

struct disc_nodes {
    struct disc_node *items;
    size_t count;
};

struct disc_resp {
    struct et_jv *json;       /* the parsed body, or NULL */
    const struct et_jv *node; /* its "node" member (DISC_OK) */
    uint64_t etcd_index;      /* X-Etcd-Index of the last response, 0 when absent */
    bool invalid_json;        /* DISC_FAILED because the body was not what etcd sends */
    bool timed_out;           /* DISC_FAILED on the request timeout */
};

struct disc {
    CURL *curl;
    char *endpoint;    /* scheme://authority, the base of every request; "" when unusable */
    char *shown_url;   /* the endpoint as etcd logs it (path dropped, query kept) */
    char *scheme_err;  /* why no request can be sent (Go's transport error), or NULL */
    char *cluster;     /* the token path, cleaned, escaped: "/_etcd/registry/tok" */
    char *self_key;    /* cluster + "/" + own ID in hex */
    char *proxy;       /* --discovery-proxy with a scheme, or NULL */
    unsigned retries;  /* back-offs so far (never reset, as in etcd) */
    struct et_buf err; /* the failure's text */
    enum disc_fail fail;
    struct et_buf body; /* the response being received */
    uint64_t hdr_index; /* X-Etcd-Index seen in the response being received */
    bool body_overflow;
};

/* ---- URLs, paths and forms ----------------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Go's url.QueryEscape: the form body etcd's client sends. */
static void form_escape(struct et_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p))
            et_buf_append_char(b, (char)*p);
        else if (*p == ' ')
            et_buf_append_char(b, '+');
        else
            et_buf_printf(b, "%%%02X", *p);
    }
}

/* Go's url.Parse rejections we reproduce: control characters and bad %-escapes. */
static bool url_check(const char *s, struct et_buf *err)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            et_buf_printf(err, "parse \"%s\": net/url: invalid control character in URL", s);
            return false;
        }
    }
    for (const char *p = s; *p && *p != '#'; p++) {
        if (*p != '%')
            continue;
        if (et_hex_digit(p[1]) < 0 || et_hex_digit(p[2]) < 0) {
            size_t n = strnlen(p, 3);
            et_buf_printf(err, "parse \"%s\": invalid URL escape \"%.*s\"", s, (int)n, p);
            return false;
        }
    }
    return true;
}

/* Length of a URL scheme at the start of @s ("http" in "http://"), 0 when there is none. */
static size_t scheme_len(const char *s)
{
    if (!isalpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

/*
 * Go's path.Clean of "/" + @path (%-escapes decoded), re-escaped as Go escapes URL paths:
 * what etcd's client puts on the wire for a key under the token.
 */
static char *clean_path(const char *path, size_t len)
{
    char *dec = et_alloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '%' && i + 2 < len && et_hex_digit(path[i + 1]) >= 0 &&
            et_hex_digit(path[i + 2]) >= 0) {
            dec[n++] = (char)(et_hex_digit(path[i + 1]) << 4 | et_hex_digit(path[i + 2]));
            i += 2;
        } else {
            dec[n++] = path[i];
        }
    }
    dec[n] = '\0';
    /* segments: "" and "." vanish, ".." drops the one before it */
    struct et_buf out = ET_BUF_INIT;
    size_t *starts = et_calloc(n + 1, sizeof(size_t));
    size_t depth = 0;
    for (size_t pos = 0; pos < n;) {
        size_t sl = strcspn(dec + pos, "/");
        const char *seg = dec + pos;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (depth > 0)
                out.len = starts[--depth];
        } else if (sl > 0 && !(sl == 1 && seg[0] == '.')) {
            starts[depth++] = out.len;
            et_buf_append_char(&out, '/');
            for (size_t i = 0; i < sl; i++) {
                unsigned char c = (unsigned char)seg[i];
                if (is_unreserved(c) || (c != '\0' && strchr("$&+,:;=@", c) != NULL))
                    et_buf_append_char(&out, (char)c);
                else
                    et_buf_printf(&out, "%%%02X", c);
            }
        }
        pos += sl + 1;
    }
    et_free(starts);
    et_free(dec);
    if (out.len == 0)
        et_buf_append_char(&out, '/');
    out.data[out.len] = '\0';
    return out.data;
}

/* Go's path.Join(dir, name) for a cleaned @dir and a plain @name. */
static char *path_join(const char *dir, const char *name)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
    return b.data;
}

/* Go's path.Base: the last element of a key. */
static const char *path_base(const char *key)
{
    size_t len = strlen(key);
    while (len > 1 && key[len - 1] == '/')
        len--;
    const char *p = key + len;
    while (p > key && p[-1] != '/')
        p--;
    return p;
}

static bool base_eq(const char *key_a, const char *key_b)
{
    const char *a = path_base(key_a), *b = path_base(key_b);
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    return la == lb && memcmp(a, b, la) == 0;
}

/*
 * Splits the discovery URL as etcd's newDiscovery does: the path is the token, the rest the
 * endpoint. Returns false with Go's parse error in d->err.
 */
static bool disc_parse_url(struct disc *d, const char *url)
{
    if (!url_check(url, &d->err))
        return false;
    size_t sl = scheme_len(url);
    size_t end = strcspn(url, "#");
    struct et_buf ep = ET_BUF_INIT, shown = ET_BUF_INIT;
    const char *rest = url + sl + (sl ? 1 : 0);
    const char *path = rest;
    char *scheme = et_strndup(url, sl);
    for (char *p = scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sl > 0 && strncmp(rest, "//", 2) == 0) {
        size_t al = strcspn(rest + 2, "/?#");
        et_buf_printf(&ep, "%s://%.*s", scheme, (int)al, rest + 2);
        path = rest + 2 + al;
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
            struct et_buf e = ET_BUF_INIT;
            et_buf_printf(&e, "unsupported protocol scheme \"%s\"", scheme);
            d->scheme_err = e.data;
        } else if (al == 0) {
            d->scheme_err = et_strdup("http: no Host in request URL");
        }
    } else {
        /* no authority: Go builds requests that its transport refuses */
        struct et_buf e = ET_BUF_INIT;
        et_buf_printf(&e, "unsupported protocol scheme \"%s\"", scheme);
        d->scheme_err = e.data;
    }
    size_t pl = strcspn(path, "?#");
    et_buf_append_str(&shown, ep.data ? ep.data : "");
    if (path[pl] == '?')
        et_buf_append(&shown, path + pl, (size_t)(url + end - (path + pl)));
    d->endpoint = ep.data ? ep.data : et_strdup("");
    d->shown_url = shown.data ? shown.data : et_strdup("");
    d->cluster = clean_path(path, pl);
    et_free(scheme);
    return true;
}

/* etcd's newProxyFunc: a proxy without an http(s) scheme gets "http://" in front. */
static bool disc_set_proxy(struct disc *d, const char *proxy)
{
    if (proxy == NULL || proxy[0] == '\0')
        return true;
    struct et_buf u = ET_BUF_INIT, perr = ET_BUF_INIT;
    size_t sl = scheme_len(proxy);
    if (sl >= 4 && strncasecmp(proxy, "http", 4) == 0)
        et_buf_append_str(&u, proxy);
    else
        et_buf_printf(&u, "http://%s", proxy);
    if (!url_check(u.data, &perr)) {
        et_buf_printf(&d->err, "invalid proxy address \"%s\": %s", proxy, perr.data);
        et_buf_free(&u);
        et_buf_free(&perr);
        return false;
    }
    et_buf_free(&perr);
    d->proxy = u.data;
    et_info("discovery: using proxy \"%s\"", d->proxy);
    return true;
}

/* ---- one request --------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct disc *d = data;
    size_t len = size * n;
    if (d->body.len + len > DISC_BODY_BYTES_MAX) {
        d->body_overflow = true;
        return 0;
    }
    et_buf_append(&d->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    struct disc *d = data;
    size_t len = size * n;
    static const char name[] = "x-etcd-index:";
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        d->hdr_index = 0; /* a new response (after a redirect) */
        d->body.len = 0;
    } else if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t vl = len - (sizeof(name) - 1);
        if (vl >= sizeof(tmp))
            vl = sizeof(tmp) - 1;
        memcpy(tmp, p + sizeof(name) - 1, vl);
        tmp[vl] = '\0';
        d->hdr_index = strtoull(tmp, NULL, 10);
    }
    return len;
}

/* host:port of the endpoint as Go dials it (default port filled in). */
static void endpoint_hostport(const struct disc *d, struct et_buf *b)
{
    const char *a = strstr(d->endpoint, "://");
    a = a ? a + 3 : d->endpoint;
    const char *at = strrchr(a, '@');
    if (at)
        a = at + 1;
    const char *close = strrchr(a, ']');
    const char *colon = strrchr(close ? close : a, ':');
    et_buf_append_str(b, a);
    if (colon == NULL)
        et_buf_append_str(b, strncmp(d->endpoint, "https", 5) == 0 ? ":443" : ":80");
}

/* The cause Go's transport would give for a failed exchange. */
static void curl_cause(struct disc *d, CURLcode rc)
{
    long os_errno = 0;
    char *ip = NULL;
    long port = 0;
    cu.easy_getinfo(d->curl, CURLINFO_OS_ERRNO, &os_errno);
    cu.easy_getinfo(d->curl, CURLINFO_PRIMARY_IP, &ip);
    cu.easy_getinfo(d->curl, CURLINFO_PRIMARY_PORT, &port);
    const char *pfx = d->proxy ? "proxyconnect tcp: " : "";
    struct et_buf where = ET_BUF_INIT;
    if (ip != NULL && ip[0] != '\0' && port > 0)
        et_buf_printf(&where, "%s:%ld", ip, port);
    else if (d->proxy == NULL)
        endpoint_hostport(d, &where);
    else
        et_buf_append_str(&where, d->proxy + strcspn(d->proxy, ":") + 3);
    switch (rc) {
    case CURLE_COULDNT_CONNECT: {
        char why[128];
        snprintf(why, sizeof(why), "%s", os_errno ? strerror((int)os_errno) : "connection refused");
        why[0] = (char)tolower((unsigned char)why[0]);
        et_buf_printf(&d->err, "%sdial tcp %s: connect: %s", pfx, where.data, why);
        break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: {
        char *colon = strrchr(where.data, ':');
        int hl = colon ? (int)(colon - where.data) : (int)where.len;
        et_buf_printf(&d->err, "%sdial tcp: lookup %.*s: no such host", pfx, hl, where.data);
        break;
    }
    case CURLE_OPERATION_TIMEDOUT:
        et_buf_printf(&d->err, "%sdial tcp %s: i/o timeout", pfx, where.data);
        break;
    case CURLE_GOT_NOTHING:
        et_buf_append_str(&d->err, "EOF");
        break;
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        et_buf_append_str(&d->err, "unexpected EOF");
        break;
    default:
        et_buf_printf(&d->err, "%s", cu.easy_strerror(rc));
        break;
    }
    et_buf_free(&where);
}

static const char *status_text(long status)
{
    switch (status) {
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* Reads a 200/201 body as etcd's unmarshalSuccessfulKeysResponse, an error body as etcd's
 * unmarshalFailedKeysResponse ("<code>: <message> (<cause>) [<index>]"). */
static enum disc_outcome disc_decode(struct disc *d, long status, struct disc_resp *r)
{
    if (status == 200 || status == 201) {
        if (d->body.len == 0)
            return DISC_EMPTY;
        r->json = et_jv_parse(d->body.data, d->body.len);
        r->node = et_jv_get(r->json, "node");
        if (r->node != NULL && r->node->type == ET_JV_OBJECT)
            return DISC_OK;
    } else {
        r->json = d->body.len ? et_jv_parse(d->body.data, d->body.len) : NULL;
        const struct et_jv *code = et_jv_get(r->json, "errorCode");
        if (r->json != NULL && r->json->type == ET_JV_OBJECT &&
            (code == NULL || code->type == ET_JV_NUMBER)) {
            et_buf_printf(&d->err, "%" PRId64 ": %s (%s) [%" PRIu64 "]",
                          et_jv_i64(r->json, "errorCode"), et_jv_str(r->json, "message"),
                          et_jv_str(r->json, "cause"), et_jv_u64(r->json, "index"));
            return DISC_FAILED;
        }
    }
    r->invalid_json = true;
    et_buf_append_str(&d->err, "client: response is invalid json. The endpoint is probably "
                               "not valid etcd cluster endpoint.");
    return DISC_FAILED;
}

/*
 * One request: @method on the endpoint + @path + "?" + @query, with a form @body (PUT) or
 * none. @timeout_ms 0 means none (watches). Fills @r (free with resp_free).
 */
static enum disc_outcome disc_request(struct disc *d, const char *method, const char *path,
                                      const char *query, const char *body, long timeout_ms,
                                      struct disc_resp *r)
{
    struct et_buf url = ET_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    *r = (struct disc_resp){ 0 };
    et_buf_reset(&d->err);
    if (d->scheme_err != NULL) {
        et_buf_append_str(&d->err, d->scheme_err);
        return DISC_UNAVAILABLE;
    }
    et_buf_printf(&url, "%s%s?%s", d->endpoint, path, query);
    et_buf_reset(&d->body);
    d->hdr_index = 0;
    d->body_overflow = false;
    cu.easy_reset(d->curl);
    cu.easy_setopt(d->curl, CURLOPT_URL, url.data);
    cu.easy_setopt(d->curl, CURLOPT_PROXY, d->proxy ? d->proxy : "");
    cu.easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(d->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    cu.easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)DISC_DIAL_TIMEOUT_MS);
    cu.easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    cu.easy_setopt(d->curl, CURLOPT_FOLLOWLOCATION, 1L);
    cu.easy_setopt(d->curl, CURLOPT_MAXREDIRS, DISC_REDIRECTS_MAX);
    cu.easy_setopt(d->curl, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    cu.easy_setopt(d->curl, CURLOPT_USERAGENT, "Go-http-client/1.1");
    cu.easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_body);
    cu.easy_setopt(d->curl, CURLOPT_WRITEDATA, d);
    cu.easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, on_header);
    cu.easy_setopt(d->curl, CURLOPT_HEADERDATA, d);
    if (body != NULL) {
        hdrs = cu.slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
        cu.easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdrs);
        cu.easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
        cu.easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cu.easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
    et_debug("discovery: %s %s", method, url.data);
    CURLcode rc = cu.easy_perform(d->curl);
    cu.slist_free_all(hdrs);
    et_buf_free(&url);
    long status = 0;
    cu.easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
    r->etcd_index = d->hdr_index;
    if (rc == CURLE_OPERATION_TIMEDOUT && timeout_ms > 0) {
        r->timed_out = true;
        et_buf_append_str(&d->err, "context deadline exceeded");
        return DISC_FAILED;
    }
    if (d->body_overflow) {
        et_buf_printf(&d->err, "response from %s larger than %u bytes", d->shown_url,
                      DISC_BODY_BYTES_MAX);
        return DISC_FAILED;
    }
    if (rc != CURLE_OK) {
        curl_cause(d, rc);
        return DISC_UNAVAILABLE;
    }
    if (status / 100 == 5) {
        if (status == 500 || status == 503)
            et_buf_printf(&d->err, "client: etcd member %s has no leader", d->endpoint);
        else
            et_buf_printf(&d->err, "client: etcd member %s returns server error [%s]", d->endpoint,
                          status_text(status));
        return DISC_UNAVAILABLE;
    }
    return disc_decode(d, status, r);
}

static void resp_free(struct disc_resp *r)
{
    if (r->json)
        et_jv_free(r->json);
    *r = (struct disc_resp){ 0 };
}

static enum disc_outcome disc_get(struct disc *d, const char *key, struct disc_resp *r)
{
    return disc_request(d, "GET", key, "quorum=false&recursive=false&sorted=false", NULL,
                        DISC_REQUEST_TIMEOUT_MS, r);
}

/* A watch, asked again while the server ends it with an empty answer (etcd's watcher.Next). */
static enum disc_outcome disc_watch(struct disc *d, const char *key, bool recursive,
                                    uint64_t wait_index, struct disc_resp *r)
{
    char query[96];
    snprintf(query, sizeof(query), "recursive=%s&wait=true&waitIndex=%" PRIu64,
             recursive ? "true" : "false", wait_index);
    for (;;) {
        enum disc_outcome o = disc_request(d, "GET", key, query, NULL, 0, r);
        if (o != DISC_EMPTY)
            return o;
        resp_free(r);
    }
}

/* ---- the protocol -------------------------------------------------------------------------- */

static void nodes_clear(struct disc_nodes *ns)
{
    for (size_t i = 0; i < ns->count; i++) {
        et_free(ns->items[i].key);
        et_free(ns->items[i].value);
    }
    et_free(ns->items);
    *ns = (struct disc_nodes){ 0 };
}

static void nodes_push(struct disc_nodes *ns, const struct et_jv *n)
{
    ns->items = et_realloc(ns->items, (ns->count + 1) * sizeof(*ns->items));
    ns->items[ns->count++] = (struct disc_node){
        .key = et_strdup(et_jv_str(n, "key")),
        .value = et_strdup(et_jv_str(n, "value")),
        .created_index = et_jv_u64(n, "createdIndex"),
        .modified_index = et_jv_u64(n, "modifiedIndex"),
    };
}

static void nodes_truncate(struct disc_nodes *ns, size_t n)
{
    while (ns->count > n) {
        ns->count--;
        et_free(ns->items[ns->count].key);
        et_free(ns->items[ns->count].value);
    }
}

static int cmp_created(const void *a, const void *b)
{
    uint64_t x = ((const struct disc_node *)a)->created_index;
    uint64_t y = ((const struct disc_node *)b)->created_index;
    return x < y ? -1 : x > y;
}

/* strconv.ParseUint(s, 10, 64). */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static enum disc_outcome fail_with(struct disc *d, enum disc_fail why, const char *text)
{
    d->fail = why;
    et_buf_reset(&d->err);
    et_buf_append_str(&d->err, text);
    return DISC_FAILED;
}

/* etcd's checkCluster, one attempt: the size, the registrations (sorted), the full check. */
static enum disc_outcome check_cluster_once(struct disc *d, struct disc_nodes *out, uint64_t *size,
                                            uint64_t *index)
{
    struct disc_resp r;
    char *size_key = path_join(d->cluster, "_config/size");
    enum disc_outcome o = disc_get(d, size_key, &r);
    et_free(size_key);
    if (o == DISC_EMPTY)
        o = fail_with(d, DISC_FAIL_OTHER, "client: response body is empty");
    else if (o == DISC_FAILED && r.invalid_json)
        o = fail_with(d, DISC_FAIL_OTHER, "discovery: bad discovery endpoint");
    else if (o == DISC_OK && !parse_u64(et_jv_str(r.node, "value"), size))
        o = fail_with(d, DISC_FAIL_OTHER, "discovery: size key is bad");
    resp_free(&r);
    if (o != DISC_OK)
        return o;

    o = disc_get(d, d->cluster, &r);
    if (o == DISC_EMPTY)
        o = fail_with(d, DISC_FAIL_OTHER, "client: response body is empty");
    if (o != DISC_OK) {
        resp_free(&r);
        return o;
    }
    *index = r.etcd_index;
    const struct et_jv *list = et_jv_get(r.node, "nodes");
    for (size_t i = 0; list && list->type == ET_JV_ARRAY && i < list->count; i++)
        if (!base_eq(et_jv_str(&list->items[i], "key"), "_config"))
            nodes_push(out, &list->items[i]);
    resp_free(&r);
    if (out->count > 1)
        qsort(out->items, out->count, sizeof(*out->items), cmp_created);
    for (size_t i = 0; i < out->count; i++) {
        if (base_eq(out->items[i].key, d->self_key))
            break;
        if (*size > 0 && i >= *size - 1) {
            nodes_truncate(out, (size_t)*size);
            return fail_with(d, DISC_FAIL_FULL, "discovery: cluster is full");
        }
    }
    return DISC_OK;
}

static void backoff(struct disc *d, const char *step)
{
    d->retries++;
    unsigned shift = d->retries > DISC_BACKOFF_SHIFT_MAX ? DISC_BACKOFF_SHIFT_MAX : d->retries;
    int64_t wait_ns = ((int64_t)1 << shift) * ET_NS_PER_SEC;
    struct et_buf dur = ET_BUF_INIT;
    et_duration_go(&dur, wait_ns);
    et_info("discovery: %s: error connecting to %s, retrying in %s", step, d->shown_url, dur.data);
    et_buf_free(&dur);
    struct timespec ts = { .tv_sec = (time_t)(wait_ns / ET_NS_PER_SEC), .tv_nsec = 0 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* etcd's checkCluster with its retries while no endpoint answers. */
static enum disc_outcome check_cluster(struct disc *d, struct disc_nodes *out, uint64_t *size,
                                       uint64_t *index)
{
    for (;;) {
        nodes_clear(out);
        enum disc_outcome o = check_cluster_once(d, out, size, index);
        if (o != DISC_UNAVAILABLE)
            return o;
        et_error("discovery: error #0: %s", d->err.data);
        backoff(d, "cluster status check");
    }
}

/* The text of etcd's ClusterError (what a caller that does not retry reports). */
static enum disc_outcome unavailable_fails(struct disc *d)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "client: etcd cluster is unavailable or misconfigured; error #0: %s",
                  d->err.data);
    fail_with(d, DISC_FAIL_OTHER, b.data);
    et_buf_free(&b);
    return DISC_FAILED;
}

/* etcd's createSelf: a create-only PUT of the own key, then a watch that sees it. */
static enum disc_outcome create_self(struct disc *d, const char *contents)
{
    struct et_buf body = ET_BUF_INIT;
    struct disc_resp r;
    et_buf_append_str(&body, "value=");
    form_escape(&body, contents);
    enum disc_outcome o = disc_request(d, "PUT", d->self_key, "prevExist=false", body.data,
                                       DISC_REQUEST_TIMEOUT_MS, &r);
    et_buf_free(&body);
    if (o == DISC_FAILED && et_jv_i64(r.json, "errorCode") == 105 && !r.invalid_json)
        o = fail_with(d, DISC_FAIL_DUP_ID, "discovery: found duplicate id");
    else if (o == DISC_UNAVAILABLE)
        o = unavailable_fails(d);
    else if (o == DISC_EMPTY)
        o = fail_with(d, DISC_FAIL_OTHER, "client: response body is empty");
    uint64_t created = o == DISC_OK ? et_jv_u64(r.node, "createdIndex") : 0;
    resp_free(&r);
    if (o != DISC_OK)
        return o;
    o = disc_watch(d, d->self_key, false, created, &r);
    resp_free(&r);
    return o == DISC_UNAVAILABLE ? unavailable_fails(d) : o;
}

static void log_found(const struct disc *d, const struct disc_nodes *ns)
{
    for (size_t i = 0; i < ns->count; i++) {
        if (base_eq(ns->items[i].key, d->self_key))
            et_info("discovery: found self %s in the cluster", path_base(d->self_key));
        else
            et_info("discovery: found peer %s in the cluster", path_base(ns->items[i].key));
    }
}

/* etcd's waitNodes (and waitNodesRetry): watch the token until `size` registrations are in. */
static enum disc_outcome wait_nodes(struct disc *d, struct disc_nodes *ns, uint64_t size,
                                    uint64_t index)
{
    for (;;) {
        if (ns->count > size)
            nodes_truncate(ns, (size_t)size);
        log_found(d, ns);
        uint64_t wait_index = index + 1;
        enum disc_outcome o = DISC_OK;
        while (ns->count < size) {
            struct disc_resp r;
            et_info("discovery: found %zu peer(s), waiting for %" PRIu64 " more", ns->count,
                    size - ns->count);
            o = disc_watch(d, d->cluster, true, wait_index, &r);
            if (o == DISC_OK) {
                /* every event counts, as in etcd (no de-duplication) */
                et_info("discovery: found peer %s in the cluster",
                        path_base(et_jv_str(r.node, "key")));
                nodes_push(ns, r.node);
                wait_index = et_jv_u64(r.node, "modifiedIndex") + 1;
            }
            resp_free(&r);
            if (o != DISC_OK)
                break;
        }
        if (o == DISC_FAILED)
            return o;
        if (o == DISC_OK) {
            et_info("discovery: found %zu needed peer(s)", ns->count);
            return DISC_OK;
        }
        et_error("discovery: error #0: %s", d->err.data);
        backoff(d, "waiting for other nodes");
        o = check_cluster(d, ns, &size, &index);
        if (o != DISC_OK)
            return o;
    }
}

/* etcd's nodesToCluster: the registrations as one initial-cluster string, checked. */
static enum disc_outcome nodes_to_cluster(struct disc *d, const struct disc_nodes *ns,
                                          uint64_t size, char **out)
{
    struct et_buf s = ET_BUF_INIT;
    char why[256];
    struct et_cluster_members cl;
    for (size_t i = 0; i < ns->count; i++)
        et_buf_printf(&s, "%s%s", i ? "," : "", ns->items[i].value);
    *out = s.data ? s.data : et_strdup("");
    if (et_initial_cluster_parse(*out, &cl, why, sizeof(why)) != 0)
        return fail_with(d, DISC_FAIL_OTHER, "discovery: invalid URL");
    size_t names = cl.count;
    et_cluster_members_free(&cl);
    if (names != size)
        return fail_with(d, DISC_FAIL_DUP_NAME, "discovery: found duplicate name");
    return DISC_OK;
}

/* etcd's joinCluster. On success *@out is the initial cluster (new string). */
static enum disc_outcome join_cluster(struct disc *d, const char *contents, char **out)
{
    struct disc_nodes ns = { 0 };
    uint64_t size = 0, index = 0;
    enum disc_outcome o = check_cluster(d, &ns, &size, &index);
    if (o == DISC_OK)
        o = create_self(d, contents);
    if (o == DISC_OK)
        o = check_cluster(d, &ns, &size, &index);
    if (o == DISC_OK)
        o = wait_nodes(d, &ns, size, index);
    if (o == DISC_OK)
        o = nodes_to_cluster(d, &ns, size, out);
    nodes_clear(&ns);
    return o;
}

/* ---- start-up glue ------------------------------------------------------------------------- */

/* etcd's wal.Exist: a *.wal file in <data-dir>/member/wal. */
static bool wal_exists(const char *wal_dir)
{
    DIR *dir = opendir(wal_dir);
    if (dir == NULL)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        found = n > 4 && strcmp(de->d_name + n - 4, ".wal") == 0;
    }
    closedir(dir);
    return found;
}

/* etcd's checkDuplicateURL on the discovered cluster (a fatal error in etcd). */
static bool has_duplicate_url(const char *cluster)
{
    char why[256];
    struct et_cluster_members cl;
    bool dup = false;
    if (et_initial_cluster_parse(cluster, &cl, why, sizeof(why)) != 0)
        return false;
    for (size_t i = 0; i < cl.count && !dup; i++)
        for (size_t j = 0; j < cl.members[i].peer_urls.count && !dup; j++)
            for (size_t k = i; k < cl.count && !dup; k++)
                for (size_t l = k == i ? j + 1 : 0; l < cl.members[k].peer_urls.count; l++)
                    if (strcmp(cl.members[i].peer_urls.items[j],
                               cl.members[k].peer_urls.items[l]) == 0)
                        dup = true;
    et_cluster_members_free(&cl);
    return dup;
}

/* What etcdmain logs when the bootstrap fails (etcd 3.4, startEtcdOrProxyV2). */
static void report_failure(const struct et_config *cfg, const struct disc *d)
{
    switch (d->fail) {
    case DISC_FAIL_DUP_ID:
        et_error("etcdmain: member \"%s\" has previously registered with discovery service "
                 "token (%s).",
                 cfg->name, cfg->discovery);
        et_error("etcdmain: But etcd could not find valid cluster configuration in the given "
                 "data dir (%s).",
                 cfg->data_dir);
        et_info("etcdmain: Please check the given data dir path if the previous bootstrap "
                "succeeded");
        et_info("etcdmain: or use a new discovery token if the previous bootstrap failed.");
        return;
    case DISC_FAIL_DUP_NAME:
        et_error("etcdmain: member with duplicated name has registered with discovery service "
                 "token(%s).",
                 cfg->discovery);
        et_error("etcdmain: please check (cURL) the discovery token for more information.");
        et_error("etcdmain: please do not reuse the discovery token and generate a new one to "
                 "bootstrap the cluster.");
        return;
    case DISC_FAIL_FULL:
        if (cfg->discovery_fallback == ET_DISCOVERY_FALLBACK_PROXY)
            et_warn("etcdmain: discovery cluster full; etcetera has no v2 proxy mode to fall "
                    "back to (--discovery-fallback proxy), so it exits as with "
                    "--discovery-fallback exit");
        break;
    case DISC_FAIL_OTHER:
        break;
    }
    et_error("etcdmain: failed to join discovery cluster (%s)", d->err.data);
    et_info("etcdmain: discovery token %s was used, but failed to bootstrap the cluster.",
            cfg->discovery);
    et_info("etcdmain: please generate a new discovery token and try to bootstrap again.");
}

/* Runs the protocol; 0 with *@out set, or -1 with the failure in @d. */
static int discover(struct disc *d, const struct et_config *cfg, uint64_t self_id, char **out)
{
    char idhex[24];
    snprintf(idhex, sizeof(idhex), "%" PRIx64, self_id);
    if (!disc_parse_url(d, cfg->discovery) || !disc_set_proxy(d, cfg->discovery_proxy))
        return -1;
    d->self_key = path_join(d->cluster, idhex);
    d->curl = cu.easy_init();
    if (d->curl == NULL) {
        et_buf_append_str(&d->err, "cannot initialise libcurl");
        return -1;
    }
    /* the registration: this member's own initial-cluster fragment */
    struct et_buf contents = ET_BUF_INIT;
    for (size_t i = 0; i < cfg->initial_advertise_peer_urls.count; i++)
        et_buf_printf(&contents, "%s%s=%s", i ? "," : "", cfg->name,
                      cfg->initial_advertise_peer_urls.items[i]);
    enum disc_outcome o = join_cluster(d, contents.data ? contents.data : "", out);
    et_buf_free(&contents);
    return o == DISC_OK ? 0 : -1;
}

/* Resolves one symbol of libcurl into *@slot; false (with the reason logged) when missing. */
static bool curl_sym(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (f == NULL) {
        et_error("etcdmain: discovery needs %s, which lacks %s: %s", DISC_LIBCURL, name, dlerror());
        return false;
    }
    memcpy(slot, &f, sizeof(f)); /* POSIX: a data pointer from dlsym() converts to a function */
    return true;
}

/* Loads libcurl and fills cu; 0, or -1 with the reason logged. */
static int curl_load(void)
{
    static bool loaded;
    if (loaded)
        return 0;
    void *lib = dlopen(DISC_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        et_error("etcdmain: discovery needs libcurl, which cannot be loaded (%s); install it "
                 "(Debian: apt-get install libcurl4)",
                 dlerror());
        return -1;
    }
    struct disc_curl c;
    if (!curl_sym(lib, "curl_global_init", &c.global_init) ||
        !curl_sym(lib, "curl_global_cleanup", &c.global_cleanup) ||
        !curl_sym(lib, "curl_easy_init", &c.easy_init) ||
        !curl_sym(lib, "curl_easy_cleanup", &c.easy_cleanup) ||
        !curl_sym(lib, "curl_easy_reset", &c.easy_reset) ||
        !curl_sym(lib, "curl_easy_setopt", &c.easy_setopt) ||
        !curl_sym(lib, "curl_easy_perform", &c.easy_perform) ||
        !curl_sym(lib, "curl_easy_getinfo", &c.easy_getinfo) ||
        !curl_sym(lib, "curl_easy_strerror", &c.easy_strerror) ||
        !curl_sym(lib, "curl_slist_append", &c.slist_append) ||
        !curl_sym(lib, "curl_slist_free_all", &c.slist_free_all)) {
        dlclose(lib);
        return -1;
    }
    cu = c;
    loaded = true; /* never unloaded: libcurl's TLS backend may keep exit handlers */
    return 0;
}

int discovery_bootstrap(struct et_config *cfg, uint64_t self_id)
{
    ET_ASSERT(cfg != NULL);
    ET_ASSERT(cfg->discovery != NULL);
    struct et_buf wal = ET_BUF_INIT;
    et_buf_printf(&wal, "%s/member/wal", cfg->data_dir);
    if (wal_exists(wal.data)) {
        et_warn("etcdserver: discovery token ignored since a cluster has already been "
                "initialized. Valid log found at \"%s\"",
                wal.data);
        et_buf_free(&wal);
        return 0;
    }
    et_buf_free(&wal);
    if (curl_load() != 0)
        return -1;

    /* main() blocks SIGINT/SIGTERM for its sigwait(); the waits below may last forever, so
     * let those signals end the process meanwhile (as they end etcd). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    cu.global_init(CURL_GLOBAL_DEFAULT);

    struct disc d = { .fail = DISC_FAIL_OTHER };
    char *cluster = NULL;
    int ret = discover(&d, cfg, self_id, &cluster);
    if (ret != 0) {
        report_failure(cfg, &d);
    } else if (has_duplicate_url(cluster)) {
        et_error("etcdmain: discovery cluster %s has duplicate url", cluster);
        ret = -1;
    } else {
        et_free(cfg->initial_cluster);
        cfg->initial_cluster = cluster;
        cluster = NULL;
        et_free(cfg->initial_cluster_token);
        cfg->initial_cluster_token = et_strdup(cfg->discovery);
    }
    et_free(cluster);
    if (d.curl)
        cu.easy_cleanup(d.curl);
    et_free(d.endpoint);
    et_free(d.shown_url);
    et_free(d.scheme_err);
    et_free(d.cluster);
    et_free(d.self_key);
    et_free(d.proxy);
    et_buf_free(&d.err);
    et_buf_free(&d.body);
    cu.global_cleanup();
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    return ret;
}
