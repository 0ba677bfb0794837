/*
 * core/srv.c - DNS SRV lookups (see srv.h). res_query() and dn_expand() are in libc; the ns_*
 * message parsers are not, so the answer's sections are walked by hand.
 */
#include "core/srv.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define SRV_ANSWER_BYTES_MAX 8192

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void push(struct et_srv_records *out, const char *target, uint16_t port)
{
    out->v = et_realloc(out->v, (out->count + 1) * sizeof(*out->v));
    size_t len = strlen(target);
    while (len > 0 && target[len - 1] == '.')
        len--;
    out->v[out->count].target = et_strndup(target, len);
    out->v[out->count].port = port;
    out->count++;
}

int et_srv_parse(const unsigned char *ans, size_t len, struct et_srv_records *out)
{
    if (len < NS_HFIXEDSZ)
        return -1;
    const unsigned char *end = ans + len, *p = ans + NS_HFIXEDSZ;
    unsigned qd = get16(ans + 4), an = get16(ans + 6);
    char host[NS_MAXDNAME];
    for (unsigned i = 0; i < qd; i++) {
        int n = dn_expand(ans, end, p, host, sizeof(host));
        if (n < 0 || end - p < n + 4)
            return -1;
        p += n + 4; /* name, type, class */
    }
    for (unsigned i = 0; i < an; i++) {
        int n = dn_expand(ans, end, p, host, sizeof(host));
        if (n < 0 || end - p < n + 10)
            return -1;
        p += n;
        uint16_t type = get16(p), rdlen = get16(p + 8);
        p += 10; /* type, class, ttl, rdlength */
        if (end - p < rdlen)
            return -1;
        /* priority, weight, port, target: the target must lie within this record's data */
        if (type == ns_t_srv && rdlen >= 7 &&
            dn_expand(ans, p + rdlen, p + 6, host, sizeof(host)) >= 0)
            push(out, host, get16(p + 4));
        p += rdlen;
    }
    return 0;
}

void et_srv_no_such_host(struct et_buf *why, const char *name)
{
    char server[64] = "";
    if (!(_res.options & RES_INIT))
        res_init();
    if (_res.nscount > 0 && _res.nsaddr_list[0].sin_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&_res.nsaddr_list[0].sin_addr;
        snprintf(server, sizeof(server), " on %u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
                 ntohs(_res.nsaddr_list[0].sin_port));
    }
    et_buf_printf(why, "lookup %s%s: no such host", name, server);
}

int et_srv_lookup(const char *name, struct et_srv_records *out, struct et_buf *why)
{
    unsigned char ans[SRV_ANSWER_BYTES_MAX];
    if (!(_res.options & RES_INIT))
        res_init();
    int n = res_query(name, ns_c_in, ns_t_srv, ans, sizeof(ans));
    if (n >= (int)NS_HFIXEDSZ && et_srv_parse(ans, (size_t)n, out) == 0)
        return 0;
    et_srv_no_such_host(why, name);
    return -1;
}

void et_srv_records_free(struct et_srv_records *r)
{
    for (size_t i = 0; i < r->count; i++)
        et_free(r->v[i].target);
    et_free(r->v);
    r->v = NULL;
    r->count = 0;
}
