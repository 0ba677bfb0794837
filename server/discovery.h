/*
 * server/discovery.h - etcd's v2 discovery, the member side (spec/discovery.md section 3): a
 * member started with --discovery <URL> registers itself under the token, waits for the
 * others and turns the registrations into its initial cluster.
 */
#ifndef ET_SERVER_DISCOVERY_H
#define ET_SERVER_DISCOVERY_H

#include <stdint.h>

#include "core/assert.h"

struct et_config;

/*
 * Bootstraps @cfg from its discovery URL (cfg->discovery, which must be set) as etcd 3.4 does.
 * @self_id is this member's ID computed as etcd computes it under discovery: SHA-1 over its
 * sorted --initial-advertise-peer-urls and the discovery URL itself (etcd uses the URL as the
 * cluster token when discovering).
 *
 * On success cfg->initial_cluster holds the discovered "name=peerURL,..." string and
 * cfg->initial_cluster_token the discovery URL, so that every member derives the same member
 * and cluster IDs as etcd. When the data dir already holds a WAL, discovery is skipped with
 * etcd's warning and @cfg is left as it is (the member restarts from its data dir).
 *
 * Blocks until the cluster is complete (the waits have no timeout, as in etcd); SIGINT and
 * SIGTERM end the process meanwhile. Thread: main, before any other thread exists.
 * Returns 0, or -1 after logging etcd's messages (the process should exit with status 1).
 */
ET_NODISCARD int discovery_bootstrap(struct et_config *cfg, uint64_t self_id);

#endif
