/* tests/core/test_srv.c - SRV answers are read as DNS lays them out (compressed names, other
 * record types mixed in), and a damaged or cut answer never reads outside its bytes. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/srv.h"

struct msg {
    unsigned char b[512];
    size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void put16(struct msg *m, unsigned v)
{
    unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
    put(m, b, 2);
}

static void put_name(struct msg *m, const char *dotted)
{
    const char *p = dotted;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        unsigned char len = (unsigned char)n;
        put(m, &len, 1);
        put(m, p, n);
        p += n + (dot ? 1 : 0);
    }
    put(m, "", 1);
}

/* An answer to "_etcd-server._tcp.example.com SRV": two SRV records (the second target is
 * compressed against the first), with an A record between them. */
static struct msg answer(void)
{
    struct msg m = { .len = 0 };
    put16(&m, 0x1234); /* id */
    put16(&m, 0x8180); /* response, recursion */
    put16(&m, 1);      /* questions */
    put16(&m, 3);      /* answers */
    put16(&m, 0);
    put16(&m, 0);
    put_name(&m, "_etcd-server._tcp.example.com");
    put16(&m, 33);
    put16(&m, 1);
    /* SRV 0 0 2380 infra0.example.com. (name: pointer to the question at offset 12) */
    put16(&m, 0xc00c);
    put16(&m, 33);
    put16(&m, 1);
    put16(&m, 0);
    put16(&m, 300);
    size_t rdlen_at = m.len;
    put16(&m, 0);
    size_t rd = m.len;
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 2380);
    size_t infra0 = m.len;
    put_name(&m, "infra0.example.com");
    m.b[rdlen_at + 1] = (unsigned char)(m.len - rd);
    /* A 10.0.1.10 for infra0 */
    put16(&m, 0xc000 | (unsigned)infra0);
    put16(&m, 1);
    put16(&m, 1);
    put16(&m, 0);
    put16(&m, 300);
    put16(&m, 4);
    put(&m, "\x0a\x00\x01\x0a", 4);
    /* SRV 0 0 2381 infra1.<example.com from infra0's name> */
    put16(&m, 0xc00c);
    put16(&m, 33);
    put16(&m, 1);
    put16(&m, 0);
    put16(&m, 300);
    put16(&m, 6 + 7 + 2); /* priority, weight, port; "infra1"; pointer */
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 2381);
    put(&m, "\x06infra1", 7);
    put16(&m, 0xc000 | (unsigned)(infra0 + 7));
    cr_assert_eq(m.b[infra0 + 7], 7, "\"example\" label follows infra0");
    return m;
}

Test(core_srv, reads_srv_records_and_skips_others)
{
    struct msg m = answer();
    struct et_srv_records r = { 0 };
    cr_assert_eq(et_srv_parse(m.b, m.len, &r), 0);
    cr_assert_eq(r.count, 2);
    cr_assert_str_eq(r.v[0].target, "infra0.example.com");
    cr_assert_eq(r.v[0].port, 2380);
    cr_assert_str_eq(r.v[1].target, "infra1.example.com");
    cr_assert_eq(r.v[1].port, 2381);
    et_srv_records_free(&r);
    cr_assert_eq(r.count, 0);
}

Test(core_srv, every_cut_of_the_answer_is_refused_or_keeps_whole_records)
{
    struct msg m = answer();
    for (size_t len = 0; len < m.len; len++) {
        /* a copy of exactly @len bytes, so that ASan sees any read past the cut */
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, m.b, len);
        struct et_srv_records r = { 0 };
        int rc = et_srv_parse(cut, len, &r);
        cr_assert_eq(rc, -1, "an answer cut to %zu of %zu bytes is damaged", len, m.len);
        cr_assert_leq(r.count, 1);
        if (r.count == 1) {
            cr_assert_str_eq(r.v[0].target, "infra0.example.com");
            cr_assert_eq(r.v[0].port, 2380);
        }
        et_srv_records_free(&r);
        free(cut);
    }
}

Test(core_srv, a_record_length_past_the_end_is_refused)
{
    struct msg m = answer();
    m.b[12 + 31 + 4 + 2 + 8] = 0xff; /* the first SRV record's rdlength, high byte */
    struct et_srv_records r = { 0 };
    cr_assert_eq(et_srv_parse(m.b, m.len, &r), -1);
    cr_assert_eq(r.count, 0);
    et_srv_records_free(&r);
}
