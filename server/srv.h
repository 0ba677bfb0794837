/*
 * server/srv.h - bootstrapping from DNS SRV records (--discovery-srv, spec/config.md and
 * spec/discovery.md 3.4): the initial cluster is read from _etcd-server-ssl._tcp.<domain>
 * (https peers) and _etcd-server._tcp.<domain> (http peers), each with "-<name>" appended to the
 * service when --discovery-srv-name is set.
 */
#ifndef ET_SERVER_SRV_H
#define ET_SERVER_SRV_H

#include "core/assert.h"

struct et_config;

/*
 * Sets cfg->initial_cluster from the SRV records of cfg->discovery_srv, as etcd builds it: a
 * record whose target and port resolve to the same address as one of this member's
 * --initial-advertise-peer-urls is this member (named cfg->name), the others are named "0",
 * "1", ... in the order found; URLs are "<scheme>://<target>:<port>" (the name the records give,
 * so every member derives the same member IDs). Both services are read and their members joined.
 * Returns 0, or -1 after logging etcd's message (the process exits with status 1): no record
 * found, or none of them is this member. Thread: main, before the other threads start.
 */
ET_NODISCARD int srv_bootstrap(struct et_config *cfg);

#endif
