/*
 * core/srv.h - DNS SRV lookups, for the two places etcd reads SRV records: a member bootstrapping
 * with --discovery-srv (_etcd-server[-ssl]._tcp.<domain>) and etcetera-ctl's --discovery-srv
 * (_etcd-client[-ssl]._tcp.<domain>). The query goes through the libc resolver (res_query, so
 * /etc/resolv.conf decides the server); the answer is parsed here, bounded at every step.
 */
#ifndef ET_CORE_SRV_H
#define ET_CORE_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/buf.h"

struct et_srv_record {
    char *target; /* host name, without the trailing dot */
    uint16_t port;
};

struct et_srv_records {
    struct et_srv_record *v;
    size_t count;
};

/*
 * Appends the SRV records of @name (e.g. "_etcd-server._tcp.example.com") to @out, in the order
 * the answer lists them. Returns 0, or -1 when the name has no answer, with Go's wording of the
 * reason appended to @why ("lookup <name> on <server>:53: no such host").
 */
ET_NODISCARD int et_srv_lookup(const char *name, struct et_srv_records *out, struct et_buf *why);

/*
 * Parses a DNS answer (@ans[0..@len)) and appends its SRV records to @out. Returns 0, or -1 for
 * a malformed message (records parsed before the damage are kept).
 */
ET_NODISCARD int et_srv_parse(const unsigned char *ans, size_t len, struct et_srv_records *out);

/* Appends Go's wording for a name that did not resolve: "lookup <name> on <server>:53: no such
 * host" (the first nameserver of /etc/resolv.conf). */
void et_srv_no_such_host(struct et_buf *why, const char *name);

void et_srv_records_free(struct et_srv_records *r);

#endif
