/*
 * server/srv.c - the initial cluster from DNS SRV records (see srv.h).
 *
 * Which record is this member: addresses are compared, not names, so a member advertising
 * http://10.0.1.10:2380 is the record infra0.example.com:2380 when that name resolves to
 * 10.0.1.10. A name resolves to its first IPv4 address, else its first IPv6 one (Go's
 * ResolveTCPAddr prefers IPv4 too).
 */
#include "core/srv.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "server/srv.h"

/* "ip:port" (IPv6 in brackets) for @host:@port, or -1 when it does not resolve. */
static int resolve(const char *host, const char *port, char *out, size_t out_len)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (pick->ai_family == AF_INET) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)pick->ai_addr;
        inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
        snprintf(out, out_len, "%s:%u", ip, ntohs(sa->sin_port));
    } else {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)pick->ai_addr;
        inet_ntop(AF_INET6, &sa->sin6_addr, ip, sizeof(ip));
        snprintf(out, out_len, "[%s]:%u", ip, ntohs(sa->sin6_port));
    }
    freeaddrinfo(res);
    return 0;
}

struct srv_state {
    const struct et_config *cfg;
    struct et_url *ap;   /* the advertised peer URLs, parsed */
    char (*ap_addr)[64]; /* and resolved ("" when not) */
    size_t ap_count;
    unsigned next_name; /* "0", "1", ... for the other members */
    bool found_self;
    struct et_buf cluster; /* "name=url,..." */
};

static void srv_state_free(struct srv_state *st)
{
    for (size_t i = 0; i < st->ap_count; i++)
        et_url_free(&st->ap[i]);
    et_free(st->ap);
    et_free(st->ap_addr);
    et_buf_free(&st->cluster);
}

/* The advertised peer URL at the address @addr, or NULL. */
static const struct et_url *advertised_at(const struct srv_state *st, const char *addr)
{
    for (size_t i = 0; i < st->ap_count; i++)
        if (st->ap_addr[i][0] != '\0' && strcmp(st->ap_addr[i], addr) == 0)
            return &st->ap[i];
    return NULL;
}

/*
 * Adds the members _<service>._tcp.<domain> names. Returns the number added, or -1 with
 * etcd's message in @err ("error querying DNS SRV records for _<service> <reason>").
 */
static int add_service(struct srv_state *st, const char *service, const char *scheme,
                       struct et_buf *err)
{
    struct et_buf name = ET_BUF_INIT, why = ET_BUF_INIT;
    struct et_srv_records recs = { 0 };
    int added = 0;
    et_buf_printf(&name, "_%s._tcp.%s", service, st->cfg->discovery_srv);
    if (et_srv_lookup(name.data, &recs, &why) == 0) {
        for (size_t i = 0; i < recs.count; i++) {
            const struct et_srv_record *r = &recs.v[i];
            char port[8], addr[80];
            snprintf(port, sizeof(port), "%u", r->port);
            if (resolve(r->target, port, addr, sizeof(addr)) != 0) {
                et_buf_reset(&why);
                et_srv_no_such_host(&why, r->target);
                continue;
            }
            const struct et_url *self = advertised_at(st, addr);
            if (self != NULL && strcmp(self->scheme, scheme) != 0) {
                et_buf_reset(&why);
                et_buf_printf(&why,
                              "bootstrap at %s://%s:%u from DNS for %s has scheme mismatch "
                              "with expected peer %s",
                              scheme, r->target, r->port, service, self->raw);
                continue;
            }
            if (st->cluster.len > 0)
                et_buf_append_char(&st->cluster, ',');
            if (self != NULL) {
                et_buf_append_str(&st->cluster, st->cfg->name);
                st->found_self = true;
            } else {
                et_buf_printf(&st->cluster, "%u", st->next_name++);
            }
            et_buf_printf(&st->cluster, "=%s://%s:%u", scheme, r->target, r->port);
            added++;
        }
    }
    if (added == 0)
        et_buf_printf(err, "error querying DNS SRV records for _%s %s", service,
                      why.len ? why.data : "no usable record");
    et_srv_records_free(&recs);
    et_buf_free(&name);
    et_buf_free(&why);
    return added > 0 ? added : -1;
}

int srv_bootstrap(struct et_config *cfg)
{
    ET_ASSERT(cfg->discovery_srv != NULL);
    const struct et_strlist *ap = &cfg->initial_advertise_peer_urls;
    struct srv_state st = { .cfg = cfg, .ap_count = ap->count, .cluster = ET_BUF_INIT };
    st.ap = et_calloc(ap->count + 1, sizeof(*st.ap));
    st.ap_addr = et_calloc(ap->count + 1, sizeof(*st.ap_addr));
    /* This member's own addresses first: one that does not resolve ends it, as in etcd. */
    for (size_t i = 0; i < ap->count; i++) {
        char why[256];
        if (et_url_parse(ap->items[i], &st.ap[i], why, sizeof(why)) != 0)
            continue; /* cannot happen: the flag was checked with the same parser */
        if (resolve(st.ap[i].host, st.ap[i].port, st.ap_addr[i], sizeof(st.ap_addr[i])) != 0) {
            struct et_buf e = ET_BUF_INIT;
            et_srv_no_such_host(&e, st.ap[i].host);
            et_error("embed: couldn't resolve during SRV discovery (%s)", e.data);
            et_error("etcdmain: error setting up initial cluster: %s", e.data);
            et_buf_free(&e);
            srv_state_free(&st);
            return -1;
        }
    }
    const char *suffix = cfg->discovery_srv_name ? cfg->discovery_srv_name : "";
    struct et_buf svc = ET_BUF_INIT, err_ssl = ET_BUF_INIT, err_http = ET_BUF_INIT;
    et_buf_printf(&svc, "etcd-server-ssl%s%s", *suffix ? "-" : "", suffix);
    int ssl = add_service(&st, svc.data, "https", &err_ssl);
    et_buf_reset(&svc);
    et_buf_printf(&svc, "etcd-server%s%s", *suffix ? "-" : "", suffix);
    int http = add_service(&st, svc.data, "http", &err_http);

    int rc = 0;
    if (ssl < 0 && http < 0) {
        et_error("embed: couldn't resolve during SRV discovery (%s)", err_ssl.data);
        et_error("etcdmain: error setting up initial cluster: %s", err_ssl.data);
        rc = -1;
    } else if (!st.found_self) {
        et_error("etcdmain: error setting up initial cluster: cannot find local etcd member "
                 "\"%s\" in SRV records",
                 cfg->name);
        rc = -1;
    } else {
        char *save = NULL;
        struct et_buf copy = ET_BUF_INIT;
        et_buf_append_str(&copy, st.cluster.data);
        for (char *m = strtok_r(copy.data, ",", &save); m; m = strtok_r(NULL, ",", &save))
            et_info("embed: got bootstrap from DNS for etcd-server at %s", m);
        et_buf_free(&copy);
        et_free(cfg->initial_cluster);
        cfg->initial_cluster = st.cluster.data;
        st.cluster = (struct et_buf)ET_BUF_INIT;
    }
    srv_state_free(&st);
    et_buf_free(&svc);
    et_buf_free(&err_ssl);
    et_buf_free(&err_http);
    return rc;
}
