/*
 * bench/http.c - the incremental HTTP/1.1 response parser (see http.h).
 *
 * Bounds: a header block longer than BENCH_HTTP_HEADERS_MAX bytes, a chunk-size line longer
 * than 64 bytes or a Content-Length above 1 GiB is treated as a malformed response, so a
 * confused server cannot make the client buffer without limit.
 */
#include "bench/http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define BENCH_HTTP_HEADERS_MAX (64 * 1024)
#define BENCH_HTTP_BODY_MAX    ((size_t)1 << 30)

void bench_http_resp_init(struct bench_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->state = BENCH_HTTP_HEADERS;
}

/* Parses a decimal (or, with @hex, hexadecimal) number at p[0..n); -1 when there is none. */
static int64_t parse_num(const char *p, size_t n, bool hex)
{
    int64_t v = 0;
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t start = i;
    for (; i < n; i++) {
        int d;
        char c = p[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (v > (INT64_MAX >> 5))
            return -1;
        v = v * (hex ? 16 : 10) + d;
    }
    return i == start ? -1 : v;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value,
                      size_t *value_len)
{
    size_t name_len = strlen(name);
    if (n <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
        return false;
    *value = line + name_len + 1;
    *value_len = n - name_len - 1;
    while (*value_len > 0 && (**value == ' ' || **value == '\t')) {
        (*value)++;
        (*value_len)--;
    }
    return true;
}

static bool value_has_token(const char *v, size_t n, const char *token)
{
    size_t t = strlen(token);
    for (size_t i = 0; i + t <= n; i++)
        if (strncasecmp(v + i, token, t) == 0)
            return true;
    return false;
}

/* Parses the status line and headers in buf[0..end), end pointing at the final CRLF CRLF. */
static int parse_head(struct bench_http_resp *r, const char *buf, size_t end)
{
    const char *eol = memchr(buf, '\n', end);
    if (end < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || eol == NULL)
        return -EBADMSG;
    int64_t status = parse_num(buf + 8, 4, false);
    if (status < 100 || status > 999)
        return -EBADMSG;
    r->status = (int)status;
    r->keep_alive = buf[7] == '1';
    int64_t content_length = -1;

    const char *p = eol + 1;
    const char *stop = buf + end;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        size_t n = (size_t)((nl ? nl : stop) - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        const char *v;
        size_t vn;
        if (header_is(p, n, "Content-Length", &v, &vn)) {
            content_length = parse_num(v, vn, false);
            if (content_length < 0 || (size_t)content_length > BENCH_HTTP_BODY_MAX)
                return -EBADMSG;
        } else if (header_is(p, n, "Transfer-Encoding", &v, &vn)) {
            r->chunked = value_has_token(v, vn, "chunked");
        } else if (header_is(p, n, "Connection", &v, &vn)) {
            if (value_has_token(v, vn, "close"))
                r->keep_alive = false;
            else if (value_has_token(v, vn, "keep-alive"))
                r->keep_alive = true;
        } else if (header_is(p, n, "X-Etcd-Index", &v, &vn)) {
            int64_t idx = parse_num(v, vn, false);
            r->etcd_index = idx > 0 ? (uint64_t)idx : 0;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (r->chunked) {
        r->state = BENCH_HTTP_CHUNK_SIZE;
    } else if (content_length >= 0) {
        r->state = BENCH_HTTP_BODY_LEN;
        r->remaining = (size_t)content_length;
    } else if (r->status == 204 || r->status == 304 || r->status < 200) {
        r->state = BENCH_HTTP_BODY_LEN;
        r->remaining = 0;
    } else {
        r->state = BENCH_HTTP_BODY_EOF;
        r->keep_alive = false;
    }
    return 0;
}

/* Finds the end of a CRLF-terminated line starting at @from; returns its length or -1. */
static long find_line(const char *buf, size_t len, size_t from)
{
    const char *nl = memchr(buf + from, '\n', len - from);
    if (nl == NULL)
        return -1;
    return (long)(nl - (buf + from));
}

int bench_http_parse(struct bench_http_resp *r, const char *buf, size_t len, bool eof)
{
    for (;;) {
        switch (r->state) {
        case BENCH_HTTP_HEADERS: {
            const char *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
            if (end == NULL)
                return len > BENCH_HTTP_HEADERS_MAX || eof ? -EBADMSG : 0;
            int ret = parse_head(r, buf, (size_t)(end - buf) + 2);
            if (ret < 0)
                return ret;
            r->pos = (size_t)(end - buf) + 4;
            r->body_start = r->pos;
            break;
        }
        case BENCH_HTTP_BODY_LEN: {
            size_t take = len - r->pos < r->remaining ? len - r->pos : r->remaining;
            r->pos += take;
            r->remaining -= take;
            r->body_bytes += take;
            if (r->remaining > 0)
                return eof ? -EBADMSG : 0;
            r->state = BENCH_HTTP_DONE;
            break;
        }
        case BENCH_HTTP_CHUNK_SIZE: {
            long n = find_line(buf, len, r->pos);
            if (n < 0)
                return len - r->pos > 64 || eof ? -EBADMSG : 0;
            int64_t size = parse_num(buf + r->pos, (size_t)n, true);
            if (size < 0 || (size_t)size > BENCH_HTTP_BODY_MAX)
                return -EBADMSG;
            r->pos += (size_t)n + 1;
            r->remaining = (size_t)size;
            r->state = size == 0 ? BENCH_HTTP_TRAILER : BENCH_HTTP_CHUNK_DATA;
            break;
        }
        case BENCH_HTTP_CHUNK_DATA: {
            /* The chunk's data, then its CRLF (remaining counts the data only). */
            size_t take = len - r->pos < r->remaining ? len - r->pos : r->remaining;
            r->pos += take;
            r->remaining -= take;
            r->body_bytes += take;
            if (r->remaining > 0 || len - r->pos < 2)
                return eof ? -EBADMSG : 0;
            if (buf[r->pos] != '\r' || buf[r->pos + 1] != '\n')
                return -EBADMSG;
            r->pos += 2;
            r->state = BENCH_HTTP_CHUNK_SIZE;
            break;
        }
        case BENCH_HTTP_TRAILER: {
            long n = find_line(buf, len, r->pos);
            if (n < 0)
                return eof ? -EBADMSG : 0;
            r->pos += (size_t)n + 1;
            if (n == 0 || (n == 1 && buf[r->pos - 2] == '\r'))
                r->state = BENCH_HTTP_DONE;
            break;
        }
        case BENCH_HTTP_BODY_EOF:
            r->body_bytes += len - r->pos;
            r->pos = len;
            if (!eof)
                return 0;
            r->state = BENCH_HTTP_DONE;
            break;
        case BENCH_HTTP_DONE:
            return 1;
        }
    }
}
