/*
 * tools/ctl_srv.c - endpoints from DNS SRV records (--discovery-srv, spec/etcdctl.md 4.3).
 *
 * Looks up _etcd-client-ssl._tcp.<domain> (https) and _etcd-client._tcp.<domain> (http), with
 * "-<name>" appended to the service when ETCDCTL_DISCOVERY_SRV_NAME is set, as etcd's SRV
 * discoverer does. Only when both lookups fail is it an error. Unless insecure discovery is on,
 * http:// results are dropped with a note on stderr. The answer is parsed by hand (res_query
 * is in libc; the ns_* parsers are not), bounded by the answer length at every step.
 *
 * Not done: etcdctl also uses the domain as the TLS server name; we verify against the host
 * names the records give.
 */
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tools/ctl.h"

#define CTL_SRV_ANSWER_BYTES_MAX 8192

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Appends "scheme://target.:port" for each SRV answer of @name; returns 0 or -1 (no answer). */
static int lookup(const char *name, const char *scheme, struct et_buf *out, struct et_buf *why)
{
    unsigned char ans[CTL_SRV_ANSWER_BYTES_MAX];
    int n = res_query(name, ns_c_in, ns_t_srv, ans, sizeof(ans));
    if (n < (int)NS_HFIXEDSZ) {
        char server[64] = "";
        if (_res.nscount > 0 && _res.nsaddr_list[0].sin_family == AF_INET) {
            const unsigned char *a = (const unsigned char *)&_res.nsaddr_list[0].sin_addr;
            snprintf(server, sizeof(server), " on %u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
                     ntohs(_res.nsaddr_list[0].sin_port));
        }
        et_buf_printf(why, "lookup %s%s: no such host", name, server);
        return -1;
    }
    const unsigned char *end = ans + n, *p = ans + NS_HFIXEDSZ;
    unsigned qd = get16(ans + 4), an = get16(ans + 6);
    char host[NS_MAXDNAME];
    for (unsigned i = 0; i < qd; i++) {
        int len = dn_expand(ans, end, p, host, sizeof(host));
        if (len < 0 || p + len + 4 > end)
            return -1;
        p += len + 4;
    }
    for (unsigned i = 0; i < an && p < end; i++) {
        int len = dn_expand(ans, end, p, host, sizeof(host));
        if (len < 0 || p + len + 10 > end)
            return -1;
        p += len;
        uint16_t type = get16(p), rdlen = get16(p + 8);
        p += 10;
        if (p + rdlen > end)
            return -1;
        if (type == ns_t_srv && rdlen >= 7 && dn_expand(ans, end, p + 6, host, sizeof(host)) >= 0) {
            if (out->len)
                et_buf_append_char(out, ',');
            et_buf_printf(out, "%s://%s.:%u", scheme, host, get16(p + 4));
        }
        p += rdlen;
    }
    return 0;
}

char *ctl_srv_discover(const char *domain, bool insecure)
{
    const char *sname = getenv("ETCDCTL_DISCOVERY_SRV_NAME");
    struct et_buf found = ET_BUF_INIT, why_s = ET_BUF_INIT, why = ET_BUF_INIT, name = ET_BUF_INIT;
    ET_ASSERT(domain != NULL && *domain);
    res_init();
    *et_buf_reserve(&found, 0) = '\0';
    et_buf_printf(&name, "_etcd-client-ssl%s%s._tcp.%s", sname && *sname ? "-" : "",
                  sname ? sname : "", domain);
    int rs = lookup(name.data, "https", &found, &why_s);
    et_buf_reset(&name);
    et_buf_printf(&name, "_etcd-client%s%s._tcp.%s", sname && *sname ? "-" : "", sname ? sname : "",
                  domain);
    struct et_buf http = ET_BUF_INIT;
    *et_buf_reserve(&http, 0) = '\0';
    int rh = lookup(name.data, "http", &http, &why);
    if (rs != 0 && rh != 0) {
        fflush(stdout);
        fprintf(stderr, "dns lookup errors: %s and %s\n", why_s.data, why.data);
        exit(CTL_EXIT_BAD_ARGS);
    }
    /* insecure endpoints are kept only when asked for (etcdctl prints what it drops) */
    char *save = NULL;
    for (char *tok = strtok_r(http.data, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!insecure) {
            fprintf(stderr, "ignoring discovered insecure endpoint \"%s\"\n", tok);
            continue;
        }
        if (found.len)
            et_buf_append_char(&found, ',');
        et_buf_append_str(&found, tok);
    }
    et_buf_free(&http);
    et_buf_free(&why_s);
    et_buf_free(&why);
    et_buf_free(&name);
    if (found.len == 0) {
        et_buf_free(&found);
        return NULL;
    }
    return found.data;
}
