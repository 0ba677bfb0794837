/* tests/bench/test_http.c - the load generator's HTTP/1.1 response parser. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "bench/http.h"

static struct bench_http_resp t_resp;

/* Feeds @s one byte at a time, as the slowest network would; returns the final result. */
static int t_parse_bytewise(const char *s, bool eof_at_end)
{
    size_t len = strlen(s);
    int ret = 0;
    bench_http_resp_init(&t_resp);
    for (size_t i = 1; i <= len && ret == 0; i++)
        ret = bench_http_parse(&t_resp, s, i, eof_at_end && i == len);
    return ret;
}

Test(bench_http, content_length_response)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Etcd-Index: 42\r\n"
                    "Content-Length: 2\r\n\r\n{}";
    cr_assert_eq(t_parse_bytewise(s, false), 1);
    cr_assert_eq(t_resp.status, 200);
    cr_assert_eq(t_resp.etcd_index, 42);
    cr_assert(t_resp.keep_alive);
    cr_assert_eq(t_resp.pos, strlen(s));
    cr_assert_eq(t_resp.body_bytes, 2);
    cr_assert_str_eq(s + t_resp.body_start, "{}");
}

Test(bench_http, chunked_response_with_several_chunks)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
    cr_assert_eq(t_parse_bytewise(s, false), 1);
    cr_assert(t_resp.chunked);
    cr_assert_eq(t_resp.body_bytes, 31);
    cr_assert_eq(t_resp.pos, strlen(s));
}

Test(bench_http, incomplete_chunked_body_waits)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    bench_http_resp_init(&t_resp);
    cr_assert_eq(bench_http_parse(&t_resp, s, strlen(s), false), 0);
    cr_assert_eq(bench_http_parse(&t_resp, s, strlen(s), true), -EBADMSG);
}

Test(bench_http, connection_close_and_http10)
{
    const char *a = "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(t_parse_bytewise(a, false), 1);
    cr_assert_eq(t_resp.status, 404);
    cr_assert_not(t_resp.keep_alive);
    const char *b = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(t_parse_bytewise(b, false), 1);
    cr_assert_not(t_resp.keep_alive);
}

Test(bench_http, body_until_eof_without_length)
{
    const char *s = "HTTP/1.1 200 OK\r\n\r\nabc";
    bench_http_resp_init(&t_resp);
    cr_assert_eq(bench_http_parse(&t_resp, s, strlen(s), false), 0);
    cr_assert_eq(bench_http_parse(&t_resp, s, strlen(s), true), 1);
    cr_assert_eq(t_resp.body_bytes, 3);
    cr_assert_not(t_resp.keep_alive);
}

Test(bench_http, rejects_garbage)
{
    const char *s[] = { "SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        bench_http_resp_init(&t_resp);
        cr_assert_eq(bench_http_parse(&t_resp, s[i], strlen(s[i]), false), -EBADMSG, "%zu", i);
    }
}

Test(bench_http, leaves_following_bytes_alone)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1";
    bench_http_resp_init(&t_resp);
    cr_assert_eq(bench_http_parse(&t_resp, s, strlen(s), false), 1);
    cr_assert_eq(t_resp.pos, strlen(s) - 8);
}
