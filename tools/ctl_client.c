/*
 * tools/ctl_client.c - the HTTP side of etcetera-ctl: endpoints, cluster sync, failover, and
 * the error texts of etcd's Go v2 client (spec/etcdctl.md 4, 5, 6, 10).
 *
 * Failover follows httpClusterClient.Do: start at the pinned endpoint, try each in turn; a
 * transport error or a 5xx answer is recorded and the next endpoint is tried, except for
 * "one-shot" requests (creates with prevExist=false and deletes) which return the first
 * failure. When every endpoint failed the result is a ClusterError, printed by ctl_fail() as
 * "Error:  client: etcd cluster is unavailable or misconfigured; error #0: ..." plus a detail
 * block. Transport errors are rendered as Go's net package renders them ("dial tcp
 * 127.0.0.1:1: connect: connection refused"), since scripts match on them.
 *
 * Timeouts: a whole-command deadline (--total-timeout, reset per phase like etcdctl's
 * contextWithTotalTimeout) and a per-request header timeout (--timeout); wait (watch)
 * requests have neither. libcurl is driven with the easy interface, one handle reused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "tools/ctl.h"

#define CTL_DIAL_TIMEOUT_NS_MAX (30 * ET_NS_PER_SEC) /* etcdctl's dial timeout cap */

struct ctl_ep {
    char *url;    /* as etcdctl prints it (url.String()) */
    char *scheme; /* "http", "https" or whatever was given */
    char *base;   /* scheme://host[:port] */
    char *path;   /* the endpoint's own path, often "" or "/" */
};

struct ctl_client {
    const struct ctl_opts *opts;
    struct ctl_ep *eps;
    size_t ep_count;
    size_t pinned;       /* endpoint tried first */
    int64_t deadline_ns; /* monotonic; 0 = none */
    char *auth_header;   /* "Authorization: Basic ..." or NULL */
    CURL *curl;
};

/* ======================= errors ======================= */

void ctl_error_free(struct ctl_error *err)
{
    for (size_t i = 0; i < err->item_count; i++)
        et_free(err->items[i]);
    et_free(err->items);
    et_free(err->text);
    memset(err, 0, sizeof(*err));
}

void ctl_error_set(struct ctl_error *err, const char *fmt, ...)
{
    struct et_buf b = ET_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    ET_ASSERT(s != NULL);
    et_buf_append_str(&b, s);
    free(s);
    ctl_error_free(err);
    err->text = b.data;
}

/* Builds the ClusterError text from the collected items. */
static void cluster_error(struct ctl_error *err)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "client: etcd cluster is unavailable or misconfigured");
    for (size_t i = 0; i < err->item_count; i++)
        et_buf_printf(&b, "; error #%zu: %s\n", i, err->items[i]);
    et_free(err->text);
    err->text = b.data;
    err->cluster = true;
}

void ctl_fail(const struct ctl_error *err, int rc)
{
    fflush(stdout);
    fprintf(stderr, "Error:  %s\n", err->text ? err->text : "");
    if (err->cluster) {
        for (size_t i = 0; i < err->item_count; i++)
            fprintf(stderr, "error #%zu: %s\n", i, err->items[i]);
        fputc('\n', stderr);
    }
    exit(rc);
}

void ctl_fail_msg(int rc, const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "Error:  %s\n", msg);
    exit(rc);
}

/* ======================= escaping ======================= */

void ctl_query_escape(struct et_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            et_buf_append_char(b, (char)c);
        } else if (c == ' ') {
            et_buf_append_char(b, '+');
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            et_buf_append(b, e, 3);
        }
    }
}

void ctl_path_escape(struct et_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~$&+,/:;=@", c)) {
            et_buf_append_char(b, (char)c);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            et_buf_append(b, e, 3);
        }
    }
}

char *ctl_canonical_path(const char *p)
{
    /* Go's path.Clean on a rooted path, then the trailing slash put back. */
    size_t n = strlen(p);
    char *out = et_alloc(n + 3);
    size_t w = 0;
    const char *s = p;
    out[w++] = '/';
    while (*s) {
        while (*s == '/')
            s++;
        const char *seg = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (w > 1 && out[w - 1] != '/')
                w--;
            if (w > 1)
                w--; /* the slash before the removed segment */
            continue;
        }
        if (w > 1)
            out[w++] = '/';
        memcpy(out + w, seg, len);
        w += len;
    }
    if (n > 0 && p[n - 1] == '/' && w > 1)
        out[w++] = '/';
    out[w] = '\0';
    return out;
}

void ctl_go_quote(struct et_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    et_buf_append_char(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\a':
            esc = "\\a";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\v':
            esc = "\\v";
            break;
        default:
            break;
        }
        if (esc) {
            et_buf_append_str(b, esc);
        } else if (c < 0x20 || c == 0x7f) {
            char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            et_buf_append(b, e, 4);
        } else {
            et_buf_append_char(b, (char)c);
        }
    }
    et_buf_append_char(b, '"');
}

/* ======================= endpoints ======================= */

/*
 * Parses one endpoint the way etcdctl does (Go's url.Parse, then "http" when no scheme).
 * Returns 0, or -1 with Go's error text in @err.
 */
static int parse_endpoint(const char *raw, struct ctl_ep *ep, struct et_buf *err)
{
    const char *p = raw;
    size_t scheme_len = 0;
    for (const char *q = raw; *q; q++) {
        char c = *q;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (q == raw)
                break;
            continue;
        }
        if (c == ':') {
            if (q == raw) {
                et_buf_printf(err, "parse \"%s\": missing protocol scheme", raw);
                return -1;
            }
            scheme_len = (size_t)(q - raw);
        }
        break;
    }
    for (const char *q = raw; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            et_buf_printf(err, "parse \"%s\": net/url: invalid control character in URL", raw);
            return -1;
        }
    }
    if (scheme_len == 0) {
        const char *colon = strchr(raw, ':');
        const char *slash = strchr(raw, '/');
        if (colon && (!slash || colon < slash)) {
            et_buf_printf(err, "parse \"%s\": first path segment in URL cannot contain colon", raw);
            return -1;
        }
        ep->scheme = et_strdup("http");
        p = raw;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        size_t host_len = strcspn(p, "/?#");
        ep->base = NULL;
        struct et_buf u = ET_BUF_INIT;
        et_buf_printf(&u, "http://%s", p);
        ep->url = u.data;
        ep->base = et_strndup(u.data, strlen("http://") + host_len);
        ep->path = et_strndup(p + host_len, strcspn(p + host_len, "?#"));
        return 0;
    }
    ep->scheme = et_strndup(raw, scheme_len);
    for (char *c = ep->scheme; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    p = raw + scheme_len + 1;
    ep->url = et_strdup(raw);
    if (strncmp(p, "//", 2) != 0) {
        /* opaque ("localhost:2379"): no host; the request fails on the scheme */
        ep->base = et_strdup(raw);
        ep->path = et_strdup("");
        return 0;
    }
    p += 2;
    size_t host_len = strcspn(p, "/?#");
    const char *host_end = p + host_len;
    const char *port = NULL;
    for (const char *q = host_end; q > p; q--) {
        if (q[-1] == ']')
            break;
        if (q[-1] == ':') {
            port = q;
            break;
        }
    }
    if (port) {
        for (const char *q = port; q < host_end; q++) {
            if (*q < '0' || *q > '9') {
                et_buf_printf(err, "parse \"%s\": invalid port \":%.*s\" after host", raw,
                              (int)(host_end - port), port);
                return -1;
            }
        }
    }
    ep->base = et_strndup(raw, (size_t)(host_end - raw));
    ep->path = et_strndup(host_end, strcspn(host_end, "?#"));
    return 0;
}

static void ep_free(struct ctl_ep *ep)
{
    et_free(ep->url);
    et_free(ep->scheme);
    et_free(ep->base);
    et_free(ep->path);
}

static void shuffle_eps(struct ctl_ep *eps, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)random() % i;
        struct ctl_ep t = eps[i - 1];
        eps[i - 1] = eps[j];
        eps[j] = t;
    }
}

/* Replaces the endpoint list with the comma list @list; prints and exits 1 on a parse error. */
static void set_endpoints(struct ctl_client *c, char **list, size_t n)
{
    struct ctl_ep *eps = et_calloc(n ? n : 1, sizeof(*eps));
    for (size_t i = 0; i < n; i++) {
        struct et_buf err = ET_BUF_INIT;
        if (parse_endpoint(list[i], &eps[i], &err) != 0) {
            fflush(stdout);
            fprintf(stderr, "%s\n", err.data);
            exit(CTL_EXIT_BAD_ARGS);
        }
    }
    shuffle_eps(eps, n);
    for (size_t i = 0; i < c->ep_count; i++)
        ep_free(&c->eps[i]);
    et_free(c->eps);
    c->eps = eps;
    c->ep_count = n;
    c->pinned = 0;
}

void ctl_client_endpoints(const struct ctl_client *c, struct et_buf *b, const char *sep)
{
    for (size_t i = 0; i < c->ep_count; i++) {
        if (i)
            et_buf_append_str(b, sep);
        et_buf_append_str(b, c->eps[i].url);
    }
    *et_buf_reserve(b, 0) = '\0';
}

/* ======================= transport ======================= */

struct xfer {
    struct ctl_resp *resp;
};

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct xfer *x = data;
    et_buf_append(&x->resp->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    struct xfer *x = data;
    size_t len = size * n;
    static const char name[] = "x-etcd-index:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t vlen = len - (sizeof(name) - 1);
        if (vlen >= sizeof(tmp))
            vlen = sizeof(tmp) - 1;
        memcpy(tmp, p + sizeof(name) - 1, vlen);
        tmp[vlen] = '\0';
        x->resp->etcd_index = strtoull(tmp, NULL, 10);
    }
    return len;
}

void ctl_resp_free(struct ctl_resp *resp)
{
    et_buf_free(&resp->body);
    memset(resp, 0, sizeof(*resp));
}

static const char *status_text(long status)
{
    switch (status) {
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 506:
        return "Variant Also Negotiates";
    case 507:
        return "Insufficient Storage";
    case 508:
        return "Loop Detected";
    case 510:
        return "Not Extended";
    case 511:
        return "Network Authentication Required";
    default:
        return "";
    }
}

/* Go's syscall error text: strerror with a lower-case first letter. */
static void errno_text(struct et_buf *b, long e)
{
    const char *s = strerror((int)e);
    if (*s >= 'A' && *s <= 'Z') {
        et_buf_append_char(b, (char)(*s - 'A' + 'a'));
        s++;
    }
    et_buf_append_str(b, s);
}

/* "host:port" of the connection attempt, as Go's dial error shows it. */
static void dial_addr(CURL *h, const char *url, struct et_buf *b)
{
    char *ip = NULL;
    long port = 0;
    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    if (ip && *ip && port > 0) {
        if (strchr(ip, ':'))
            et_buf_printf(b, "[%s]:%ld", ip, port);
        else
            et_buf_printf(b, "%s:%ld", ip, port);
        return;
    }
    CURLU *u = curl_url();
    char *host = NULL, *p = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
    }
    et_buf_printf(b, "%s:%s", host ? host : "", p ? p : "");
    curl_free(host);
    curl_free(p);
    curl_url_cleanup(u);
}

enum attempt_result {
    ATTEMPT_OK,       /* got an HTTP answer */
    ATTEMPT_FAILED,   /* transport error, text in @msg */
    ATTEMPT_DEADLINE, /* the whole-command deadline passed */
};

/* Renders a libcurl failure as Go's transport error text; sets *@conn for dial errors. */
static void transport_error(CURL *h, CURLcode rc, const char *url, struct et_buf *msg, bool *conn)
{
    long os_errno = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    *conn = false;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        et_buf_append_str(msg, "dial tcp ");
        dial_addr(h, url, msg);
        et_buf_append_str(msg, ": connect: ");
        errno_text(msg, os_errno ? os_errno : ECONNREFUSED);
        *conn = true;
        break;
    case CURLE_COULDNT_RESOLVE_HOST: {
        char *host = NULL;
        CURLU *u = curl_url();
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK)
            curl_url_get(u, CURLUPART_HOST, &host, 0);
        et_buf_printf(msg, "dial tcp: lookup %s: no such host", host ? host : "");
        curl_free(host);
        curl_url_cleanup(u);
        *conn = true;
        break;
    }
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (os_errno == ECONNRESET) {
            et_buf_append_str(msg, "read: connection reset by peer");
            *conn = true;
        } else {
            et_buf_append_str(msg, "EOF");
        }
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        et_buf_append_str(msg, "x509: certificate signed by unknown authority");
        break;
    case CURLE_SSL_CONNECT_ERROR:
        et_buf_append_str(msg, "remote error: tls: bad certificate");
        break;
    default:
        et_buf_append_str(msg, curl_easy_strerror(rc));
        break;
    }
}

/* Builds the request URL for @req on endpoint @ep. */
static char *request_url(const struct ctl_ep *ep, const struct ctl_req *req)
{
    struct et_buf b = ET_BUF_INIT;
    struct et_buf p = ET_BUF_INIT;
    et_buf_append_str(&p, ep->path);
    et_buf_append_str(&p, req->path);
    char *clean = ctl_canonical_path(p.data);
    et_buf_append_str(&b, ep->base);
    ctl_path_escape(&b, clean);
    if (req->query && *req->query)
        et_buf_printf(&b, "?%s", req->query);
    et_free(clean);
    et_buf_free(&p);
    return b.data;
}

static int64_t min_pos(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

static enum attempt_result attempt(struct ctl_client *c, const char *url, const struct ctl_req *req,
                                   bool use_timeouts, struct ctl_resp *resp, struct et_buf *msg,
                                   bool *conn, bool *header_timeout)
{
    CURL *h = c->curl;
    struct xfer x = { resp };
    struct curl_slist *headers = NULL;
    int64_t now = et_mono_ns();
    int64_t deadline = req->no_deadline ? 0 : c->deadline_ns;
    int64_t remain = deadline ? deadline - now : 0;
    int64_t limit = 0;
    bool limit_is_deadline = false;

    if (use_timeouts && deadline && remain <= 0)
        return ATTEMPT_DEADLINE;
    if (use_timeouts) {
        limit = min_pos(c->opts->timeout_ns, remain);
        limit_is_deadline = deadline && limit == remain;
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
    int64_t dial = min_pos(c->opts->total_timeout_ns, CTL_DIAL_TIMEOUT_NS_MAX);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(dial / ET_NS_PER_MSEC));
    if (limit > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         (long)((limit + ET_NS_PER_MSEC - 1) / ET_NS_PER_MSEC));
    if (c->opts->ca_file && *c->opts->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->opts->ca_file);
    if (c->opts->cert_file && *c->opts->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->opts->cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->opts->key_file);
    }
    if (req->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/x-www-form-urlencoded");
        headers = curl_slist_append(headers, ct);
    }
    headers = curl_slist_append(headers, "Expect:");
    if (c->auth_header)
        headers = curl_slist_append(headers, c->auth_header);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        return ATTEMPT_OK;
    }
    et_buf_reset(&resp->body);
    if (rc == CURLE_OPERATION_TIMEDOUT && limit > 0) {
        if (limit_is_deadline)
            return ATTEMPT_DEADLINE;
        *header_timeout = true;
        return ATTEMPT_FAILED;
    }
    transport_error(h, rc, url, msg, conn);
    return ATTEMPT_FAILED;
}

static void add_item(struct ctl_error *err, char *text, bool conn)
{
    err->items = et_realloc(err->items, (err->item_count + 1) * sizeof(*err->items));
    err->items[err->item_count++] = text;
    if (!conn)
        err->connection = false;
}

int ctl_client_do(struct ctl_client *c, const struct ctl_req *req, struct ctl_resp *resp,
                  struct ctl_error *err)
{
    ET_ASSERT(req->method != NULL);
    ET_ASSERT(req->path != NULL);
    memset(resp, 0, sizeof(*resp));
    ctl_error_free(err);
    err->connection = true;
    if (c->ep_count == 0) {
        ctl_error_set(err, "client: no endpoints available");
        return -1;
    }
    for (size_t n = 0; n < c->ep_count; n++) {
        size_t k = (c->pinned + n) % c->ep_count;
        const struct ctl_ep *ep = &c->eps[k];
        char *url = request_url(ep, req);
        if (c->opts->debug) {
            struct et_buf line = ET_BUF_INIT;
            et_buf_printf(&line, "cURL Command: curl -X %s %s", req->method, url);
            if (req->body) {
                et_buf_append_str(&line, " -d ");
                ctl_go_quote(&line, req->body, strlen(req->body));
            }
            fprintf(stderr, "%s\n", line.data);
            et_buf_free(&line);
        }
        struct et_buf msg = ET_BUF_INIT;
        bool conn = false, header_timeout = false;
        enum attempt_result ar;
        if (strcmp(ep->scheme, "http") != 0 && strcmp(ep->scheme, "https") != 0) {
            et_buf_printf(&msg, "unsupported protocol scheme \"%s\"", ep->scheme);
            ar = ATTEMPT_FAILED;
        } else {
            ar = attempt(c, url, req, !req->wait, resp, &msg, &conn, &header_timeout);
        }
        et_free(url);
        if (ar == ATTEMPT_DEADLINE) {
            et_buf_free(&msg);
            ctl_resp_free(resp);
            ctl_error_free(err);
            ctl_error_set(err, "context deadline exceeded");
            err->connection = true;
            return -1;
        }
        if (ar == ATTEMPT_OK && resp->status / 100 != 5) {
            et_buf_free(&msg);
            c->pinned = k;
            return 0;
        }
        if (ar == ATTEMPT_OK) {
            if (resp->status == 500 || resp->status == 503)
                et_buf_printf(&msg, "client: etcd member %s has no leader", ep->url);
            else
                et_buf_printf(&msg, "client: etcd member %s returns server error [%s]", ep->url,
                              status_text(resp->status));
            ctl_resp_free(resp);
        } else if (header_timeout) {
            et_buf_printf(&msg, "client: endpoint %s exceeded header timeout", ep->url);
        }
        *et_buf_reserve(&msg, 0) = '\0';
        add_item(err, msg.data, conn);
        if (req->one_shot) {
            c->pinned = (k + 1) % c->ep_count;
            err->text = et_strdup(err->items[0]);
            return -1;
        }
    }
    cluster_error(err);
    return -1;
}

int ctl_client_get_url(struct ctl_client *c, const char *url, struct ctl_resp *resp,
                       struct ctl_error *err)
{
    struct ctl_req req = { .method = "GET", .path = "", .wait = true };
    struct et_buf msg = ET_BUF_INIT;
    bool conn = false, header_timeout = false;
    char *saved_auth = c->auth_header;
    memset(resp, 0, sizeof(*resp));
    ctl_error_free(err);
    c->auth_header = NULL; /* the health check is a plain http.Client.Get */
    enum attempt_result ar = attempt(c, url, &req, false, resp, &msg, &conn, &header_timeout);
    c->auth_header = saved_auth;
    if (ar == ATTEMPT_OK) {
        et_buf_free(&msg);
        return 0;
    }
    *et_buf_reserve(&msg, 0) = '\0';
    ctl_error_set(err, "Get \"%s\": %s", url, msg.data);
    et_buf_free(&msg);
    return -1;
}

void ctl_client_reset_deadline(struct ctl_client *c)
{
    c->deadline_ns = c->opts->total_timeout_ns > 0 ? et_mono_ns() + c->opts->total_timeout_ns : 0;
}

/* ======================= construction and sync ======================= */

static char **split_commas(const char *s, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **out = et_calloc(cap, sizeof(*out));
    *n = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == '\0') {
            out[(*n)++] = et_strndup(start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return out;
}

/* Go's "open <path>: <error>" for an unreadable TLS file; exits 1 like etcdctl. */
static void check_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return;
    }
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "open %s: ", path);
    errno_text(&b, errno);
    fflush(stdout);
    fprintf(stderr, "%s\n", b.data);
    exit(CTL_EXIT_BAD_ARGS);
}

static void check_tls(const struct ctl_opts *o)
{
    const char *cert = o->cert_file ? o->cert_file : "";
    const char *key = o->key_file ? o->key_file : "";
    if (*cert || *key) {
        if (!*cert || !*key) {
            fflush(stdout);
            fprintf(stderr, "KeyFile and CertFile must both be present[key: %s, cert: %s]\n", key,
                    cert);
            exit(CTL_EXIT_BAD_ARGS);
        }
        check_file(cert);
        check_file(key);
    }
    if (o->ca_file && *o->ca_file)
        check_file(o->ca_file);
}

char *ctl_ask_password(const char *prompt)
{
    struct termios old, quiet;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    char *line = NULL;
    size_t cap = 0;
    fputs(prompt, stdout);
    fflush(stdout);
    /* etcdctl turns echo off with stty(1), which complains when stdin is no terminal */
    static const char stty_msg[] = "stty: 'standard input': Inappropriate ioctl for device\n";
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    } else {
        fputs(stty_msg, stderr);
    }
    ssize_t n = getline(&line, &cap, stdin);
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    else
        fputs(stty_msg, stderr);
    fputs("\n", stdout);
    fflush(stdout);
    if (n < 0) {
        free(line);
        return et_strdup("");
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *out = et_strdup(line);
    free(line);
    return out;
}

static void set_auth(struct ctl_client *c, const char *flag)
{
    const char *colon = strchr(flag, ':');
    char *user, *pass;
    if (colon) {
        user = et_strndup(flag, (size_t)(colon - flag));
        pass = et_strdup(colon + 1);
    } else {
        user = et_strdup(flag);
        pass = ctl_ask_password("Password: ");
    }
    struct et_buf plain = ET_BUF_INIT, hdr = ET_BUF_INIT;
    et_buf_printf(&plain, "%s:%s", user, pass);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    et_buf_append_str(&hdr, "Authorization: Basic ");
    const unsigned char *s = (const unsigned char *)plain.data;
    for (size_t i = 0; i < plain.len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < plain.len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < plain.len)
            v |= s[i + 2];
        char q[4] = { tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                      i + 1 < plain.len ? tbl[(v >> 6) & 63] : '=',
                      i + 2 < plain.len ? tbl[v & 63] : '=' };
        et_buf_append(&hdr, q, 4);
    }
    c->auth_header = hdr.data;
    et_buf_free(&plain);
    et_free(user);
    et_free(pass);
}

static bool same_set(struct ctl_ep *eps, size_t n, char **urls, size_t m)
{
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < m && !found; j++)
            found = strcmp(eps[i].url, urls[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* httpClusterClient.Sync(): GET /v2/members and adopt the members' client URLs. */
static int sync_members(struct ctl_client *c, struct ctl_error *err)
{
    struct ctl_req req = { .method = "GET", .path = "/v2/members" };
    struct ctl_resp resp;
    if (ctl_client_do(c, &req, &resp, err) != 0)
        return -1;
    struct et_jv *root = NULL;
    const struct et_jv *ms = NULL;
    int rc = -1;
    if (resp.status != 200) {
        ctl_error_set(err, "unexpected status code %ld", resp.status);
        goto out;
    }
    root = et_jv_parse(resp.body.data, resp.body.len);
    ms = et_jv_get(root, "members");
    if (!root || root->type != ET_JV_OBJECT) {
        ctl_error_set(err, "invalid character in members response");
        goto out;
    }
    size_t n = 0;
    char **urls = NULL;
    for (size_t i = 0; ms && ms->type == ET_JV_ARRAY && i < ms->count; i++) {
        const struct et_jv *cu = et_jv_get(&ms->items[i], "clientURLs");
        for (size_t k = 0; cu && cu->type == ET_JV_ARRAY && k < cu->count; k++) {
            if (cu->items[k].type != ET_JV_STRING)
                continue;
            urls = et_realloc(urls, (n + 1) * sizeof(*urls));
            urls[n++] = cu->items[k].str;
        }
    }
    if (n == 0) {
        ctl_error_set(err, "client: no endpoints available");
        err->no_endpoints = true;
        err->connection = false;
    } else {
        if (!same_set(c->eps, c->ep_count, urls, n))
            set_endpoints(c, urls, n);
        rc = 0;
    }
    et_free(urls);
out:
    et_jv_free(root);
    ctl_resp_free(&resp);
    if (rc != 0 && !err->no_endpoints && strcmp(err->text, "context deadline exceeded") != 0)
        err->connection = false;
    return rc;
}

struct ctl_client *ctl_client_new(const struct ctl_opts *o, bool sync)
{
    struct ctl_client *c = et_calloc(1, sizeof(*c));
    size_t n;
    c->opts = o;
    srandom((unsigned)(et_mono_ns() ^ getpid()));
    char *found =
        *o->discovery_srv ? ctl_srv_discover(o->discovery_srv, o->insecure_discovery) : NULL;
    char **list = split_commas(found ? found : o->endpoints, &n);
    et_free(found);
    set_endpoints(c, list, n);
    check_tls(o);
    if (o->username && *o->username)
        set_auth(c, o->username);
    c->curl = curl_easy_init();
    ET_ASSERT(c->curl != NULL);

    struct et_buf eps = ET_BUF_INIT;
    if (sync && !o->no_sync) {
        if (o->debug) {
            ctl_client_endpoints(c, &eps, ",");
            fprintf(stderr, "start to sync cluster using endpoints(%s)\n", eps.data);
        }
        struct ctl_error err = { 0 };
        ctl_client_reset_deadline(c);
        if (sync_members(c, &err) != 0) {
            if (err.no_endpoints) {
                et_buf_reset(&eps);
                ctl_client_endpoints(c, &eps, ",");
                fflush(stdout);
                fprintf(stderr, "etcd cluster has no published client endpoints.\n");
                fprintf(stderr,
                        "Try '--no-sync' if you want to access non-published client "
                        "endpoints(%s).\n",
                        eps.data);
                ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
            }
            if (err.connection)
                ctl_fail(&err, CTL_EXIT_BAD_CONNECTION);
        }
        ctl_error_free(&err);
        if (o->debug) {
            et_buf_reset(&eps);
            ctl_client_endpoints(c, &eps, ",");
            fprintf(stderr, "got endpoints(%s) after sync\n", eps.data);
        }
    }
    if (o->debug) {
        et_buf_reset(&eps);
        ctl_client_endpoints(c, &eps, ", ");
        fprintf(stderr, "Cluster-Endpoints: %s\n", eps.data);
    }
    et_buf_free(&eps);
    for (size_t i = 0; i < n; i++)
        et_free(list[i]);
    et_free(list);
    ctl_client_reset_deadline(c);
    return c;
}
