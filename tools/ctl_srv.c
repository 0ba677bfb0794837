/*
 * tools/ctl_srv.c - endpoints from DNS SRV records (--discovery-srv, spec/etcdctl.md 4.3).
 *
 * Looks up _etcd-client-ssl._tcp.<domain> (https) and _etcd-client._tcp.<domain> (http), with
 * "-<name>" appended to the service when ETCDCTL_DISCOVERY_SRV_NAME is set, as etcd's SRV
 * discoverer does. Only when both lookups fail is it an error. Unless insecure discovery is on,
 * http:// results are dropped with a note on stderr. The lookups are core/srv's.
 *
 * Not done: etcdctl also uses the domain as the TLS server name; we verify against the host
 * names the records give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/srv.h"
#include "tools/ctl.h"

/* Appends "scheme://target.:port" for each SRV answer of @name; returns 0 or -1 (no answer). */
static int lookup(const char *name, const char *scheme, struct et_buf *out, struct et_buf *why)
{
    struct et_srv_records r = { 0 };
    if (et_srv_lookup(name, &r, why) != 0)
        return -1;
    for (size_t i = 0; i < r.count; i++) {
        if (out->len)
            et_buf_append_char(out, ',');
        et_buf_printf(out, "%s://%s.:%u", scheme, r.v[i].target, r.v[i].port);
    }
    et_srv_records_free(&r);
    return 0;
}

char *ctl_srv_discover(const char *domain, bool insecure)
{
    const char *sname = getenv("ETCDCTL_DISCOVERY_SRV_NAME");
    struct et_buf found = ET_BUF_INIT, why_s = ET_BUF_INIT, why = ET_BUF_INIT, name = ET_BUF_INIT;
    ET_ASSERT(domain != NULL && *domain);
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
