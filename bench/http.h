/*
 * bench/http.h - a minimal, incremental HTTP/1.1 response parser for the load generator.
 *
 * It understands exactly what an etcd-v2 server (or nginx) sends back: a status line, headers,
 * and a body framed by Content-Length, by chunked transfer coding, or (with Connection: close
 * and neither) by the end of the stream. It reads the status code, the X-Etcd-Index header and
 * whether the server will keep the connection open; it keeps the body bytes in the caller's
 * buffer so a workload can look inside (a watcher reads the event's modifiedIndex).
 *
 * The parser never copies: it walks the caller's buffer, remembers where it stopped, and is
 * called again with the same buffer after more bytes arrive.
 */
#ifndef ET_BENCH_HTTP_H
#define ET_BENCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_http_state {
    BENCH_HTTP_HEADERS,    /* waiting for the blank line that ends the headers */
    BENCH_HTTP_BODY_LEN,   /* Content-Length body */
    BENCH_HTTP_CHUNK_SIZE, /* waiting for a chunk-size line */
    BENCH_HTTP_CHUNK_DATA, /* inside a chunk's data (and its CRLF) */
    BENCH_HTTP_TRAILER,    /* after the last chunk, waiting for the empty trailer line */
    BENCH_HTTP_BODY_EOF,   /* body runs to the end of the stream */
    BENCH_HTTP_DONE,       /* a whole response has been parsed */
};

struct bench_http_resp {
    enum bench_http_state state;
    size_t pos;          /* bytes of the buffer consumed so far */
    int status;          /* HTTP status code */
    bool keep_alive;     /* false when the server sent Connection: close (or HTTP/1.0) */
    bool chunked;        /* Transfer-Encoding: chunked */
    uint64_t etcd_index; /* X-Etcd-Index, 0 when absent */
    size_t body_start;   /* offset of the body in the buffer */
    size_t remaining;    /* bytes left in the Content-Length body or the current chunk */
    size_t body_bytes;   /* body bytes seen (chunk data only, without framing) */
};

/* Resets @r for a new response starting at offset 0 of the buffer. */
void bench_http_resp_init(struct bench_http_resp *r);

/*
 * Parses what has arrived: @buf holds @len bytes, of which the first r->pos were already seen.
 * Returns 1 when a response is complete (r->pos is then the offset right after it), 0 when
 * more bytes are needed, -EBADMSG when the bytes are not an HTTP/1.x response.
 * @eof says the peer closed the stream: it completes a body that runs to the end.
 */
int bench_http_parse(struct bench_http_resp *r, const char *buf, size_t len, bool eof);

#endif
