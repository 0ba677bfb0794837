/*
 * server/main.c - etcetera, the server: one member of a cluster (a single member is a cluster
 * of one). main() alone sees every module: it parses etcd's flags (core/config), builds the
 * api (store + v2 handlers), starts the Raft node on the data dir, then the reactors on every
 * client and peer URL, and waits for SIGINT/SIGTERM to stop them in the reverse order.
 *
 * Member and cluster IDs are derived as etcd derives them (SHA-1 of the sorted peer URLs and
 * the cluster token; SHA-1 of the sorted member IDs), so a member keeps its ID across restarts
 * and a given configuration gets the same IDs as under etcd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "net/net.h"
#include "raft/node.h"

static struct net *server_net;

static void *host_reactor_self(void)
{
    return net_reactor_self();
}

static unsigned host_reactor_index(void *r)
{
    return net_reactor_id(r);
}

static void *host_reactor_at(unsigned i)
{
    return net_reactor_at(server_net, i);
}

static void host_post(void *r, struct et_msg *m)
{
    net_post(r, m);
}

static void *host_hup_watch(h2o_req_t *req, void (*fn)(void *data), void *data)
{
    return net_hup_watch(req, fn, data);
}

static void host_hup_cancel(void *h)
{
    net_hup_cancel(h);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* etcd's member ID: SHA-1 over the sorted peer URLs joined, then the cluster token. */
static uint64_t member_id(const struct et_strlist *peer_urls, const char *token)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    struct et_buf b = ET_BUF_INIT;
    char **urls = et_memdup(peer_urls->items, (peer_urls->count + 1) * sizeof(char *));
    qsort(urls, peer_urls->count, sizeof(char *), cmp_str);
    for (size_t i = 0; i < peer_urls->count; i++)
        et_buf_append_str(&b, urls[i]);
    et_buf_append_str(&b, token);
    SHA1((const unsigned char *)b.data, b.len, md);
    et_buf_free(&b);
    et_free(urls);
    return be64(md);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* etcd's cluster ID: SHA-1 over the sorted member IDs as big-endian 64-bit numbers. */
static uint64_t cluster_id(uint64_t *ids, size_t n)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    unsigned char *b = et_alloc(8 * n + 1);
    qsort(ids, n, sizeof(*ids), cmp_u64);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            b[8 * i + (size_t)k] = (unsigned char)(ids[i] >> (56 - 8 * k));
    SHA1(b, 8 * n, md);
    et_free(b);
    return be64(md);
}

struct server {
    struct et_config cfg;
    struct et_cluster_members cluster;
    struct api_member *members;
    struct raft_peer_config *peers;
    char **peer_urls_joined;
    size_t member_count;
    raft_id self_id;
    uint64_t cluster_id;
    struct net_listener_config *listeners;
    struct et_url *urls;
    size_t listener_count;
};

static int build_members(struct server *s)
{
    char err[512];
    struct et_config *c = &s->cfg;

    if (c->initial_cluster == NULL) {
        et_error("etcdmain: no --initial-cluster (discovery is not supported yet)");
        return -EINVAL;
    }
    if (et_initial_cluster_parse(c->initial_cluster, &s->cluster, err, sizeof(err)) != 0) {
        et_error("etcdmain: %s", err);
        return -EINVAL;
    }
    if (et_config_check_initial_cluster(c, err, sizeof(err)) != 0) {
        et_error("etcdmain: %s", err);
        return -EINVAL;
    }
    s->member_count = s->cluster.count;
    s->members = et_calloc(s->member_count, sizeof(*s->members));
    s->peers = et_calloc(s->member_count, sizeof(*s->peers));
    s->peer_urls_joined = et_calloc(s->member_count, sizeof(char *));
    uint64_t *ids = et_calloc(s->member_count, sizeof(*ids));
    for (size_t i = 0; i < s->member_count; i++) {
        struct et_cluster_member *m = &s->cluster.members[i];
        struct api_member *am = &s->members[i];
        am->id = member_id(&m->peer_urls, c->initial_cluster_token);
        am->name = m->name;
        am->peer_urls = m->peer_urls.items;
        am->peer_url_count = m->peer_urls.count;
        if (strcmp(m->name, c->name) == 0) {
            s->self_id = am->id;
            am->client_urls = c->advertise_client_urls.items;
            am->client_url_count = c->advertise_client_urls.count;
        }
        struct et_buf joined = ET_BUF_INIT;
        for (size_t j = 0; j < m->peer_urls.count; j++) {
            if (j)
                et_buf_append_char(&joined, ',');
            et_buf_append_str(&joined, m->peer_urls.items[j]);
        }
        s->peer_urls_joined[i] = joined.data;
        s->peers[i] =
            (struct raft_peer_config){ .id = am->id, .name = m->name, .peer_urls = joined.data };
        ids[i] = am->id;
    }
    s->cluster_id = cluster_id(ids, s->member_count);
    et_free(ids);
    return 0;
}

static int build_listeners(struct server *s)
{
    char err[512];
    size_t n = s->cfg.listen_client_urls.count + s->cfg.listen_peer_urls.count, k = 0;
    s->listeners = et_calloc(n + 1, sizeof(*s->listeners));
    s->urls = et_calloc(n + 1, sizeof(*s->urls));
    for (int pass = 0; pass < 2; pass++) {
        const struct et_strlist *l =
            pass == 0 ? &s->cfg.listen_client_urls : &s->cfg.listen_peer_urls;
        for (size_t i = 0; i < l->count; i++, k++) {
            if (et_url_parse(l->items[i], &s->urls[k], err, sizeof(err)) != 0) {
                et_error("etcdmain: %s", err);
                return -EINVAL;
            }
            s->listener_count = k + 1;
            if (strcmp(s->urls[k].scheme, "http") != 0) {
                et_error("etcdmain: %s listeners are not supported yet: %s", s->urls[k].scheme,
                         l->items[i]);
                return -EINVAL;
            }
            s->listeners[k] = (struct net_listener_config){
                .host = s->urls[k].host,
                .port = (uint16_t)atoi(s->urls[k].port),
                .service = pass == 0 ? NET_SERVICE_CLIENT : NET_SERVICE_PEER,
            };
        }
    }
    return 0;
}

static void server_free(struct server *s)
{
    for (size_t i = 0; i < s->listener_count; i++)
        et_url_free(&s->urls[i]);
    et_free(s->urls);
    et_free(s->listeners);
    for (size_t i = 0; i < s->member_count; i++)
        et_free(s->peer_urls_joined[i]);
    et_free(s->peer_urls_joined);
    et_free(s->peers);
    et_free(s->members);
    et_cluster_members_free(&s->cluster);
    et_config_free(&s->cfg);
}

int main(int argc, char **argv, char **envp)
{
    struct server s = { 0 };
    struct raft_node *node = NULL;
    struct api *api = NULL;
    sigset_t sigs;
    int exit_code = 0, sig = 0;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits this; main waits below */
    signal(SIGPIPE, SIG_IGN);

    if (et_config_parse(&s.cfg, argc, argv, envp, &exit_code) != 0) {
        et_config_free(&s.cfg);
        return exit_code;
    }
    et_log_set_level(s.cfg.log_level);
    if (build_members(&s) != 0 || build_listeners(&s) != 0) {
        server_free(&s);
        return 1;
    }
    unsigned reactors = (unsigned)s.cfg.reactors;
    if (reactors == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        reactors = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (reactors > 256)
        reactors = 256;
    et_info("etcetera: name = %s, data dir = %s, member id = %llx, cluster id = %llx", s.cfg.name,
            s.cfg.data_dir, (unsigned long long)s.self_id, (unsigned long long)s.cluster_id);

    struct api_config ac = {
        .host = { host_reactor_self, host_reactor_index, host_reactor_at, host_post, host_hup_watch,
                  host_hup_cancel },
        .name = s.cfg.name,
        .id = s.self_id,
        .cluster_id = s.cluster_id,
        .members = s.members,
        .member_count = s.member_count,
        .history_max = s.cfg.event_history,
        .body_max = (size_t)10 << 20,
        .reactor_count = reactors,
    };
    api = api_new(&ac);

    struct raft_node_config rc = {
        .data_dir = s.cfg.data_dir,
        .id = s.self_id,
        .peers = s.peers,
        .peer_count = s.member_count,
        .tick_ms = (uint32_t)s.cfg.heartbeat_interval_ms,
        .election_ms = (uint32_t)s.cfg.election_timeout_ms,
        .request_timeout_ms = 5000 + 2 * (uint32_t)s.cfg.election_timeout_ms,
        .queue_max = 65536,
        .snapshot_count = s.cfg.snapshot_count,
        .data = api,
        .apply = api_raft_apply,
        .applied = api_raft_applied,
        .tick = api_raft_tick,
        .snapshot_save = api_raft_snapshot_save,
        .snapshot_load = api_raft_snapshot_load,
    };
    int ret = raft_node_start(&rc, &node);
    if (ret != 0) {
        et_error("etcetera: cannot start the raft node in %s: %s", s.cfg.data_dir, strerror(-ret));
        api_free(api);
        server_free(&s);
        return 1;
    }
    api_attach(api, node);
    if (s.member_count == 1) {
        /* A cluster of one elects itself at once; wait for that and for its registry entry so
         * that the first client request already sees a leader and /_etcd/machines. */
        int64_t deadline = et_mono_ns() + 5 * ET_NS_PER_SEC;
        while (!api_registered(api) && et_mono_ns() < deadline)
            usleep(2000);
    }

    struct net_config nc = {
        .listeners = s.listeners,
        .listener_count = s.listener_count,
        .reactor_count = reactors,
        .max_connections = s.cfg.max_connections,
        .idle_timeout_ms = 300000,
        .req_timeout_ms = 30000,
        .max_request_bytes = (size_t)64 << 20,
        .on_req = { api_client_on_req, api_peer_on_req },
        .on_thread_start = api_reactor_start,
        .on_thread_stop = api_reactor_stop,
        .on_shutdown = api_reactor_shutdown,
        .data = api,
    };
    ret = net_start(&nc, &server_net);
    if (ret != 0) {
        raft_node_stop(node);
        api_free(api);
        server_free(&s);
        return 1;
    }
    for (size_t i = 0; i < s.cfg.listen_client_urls.count; i++)
        et_info("etcetera: serving client requests on %s", s.cfg.listen_client_urls.items[i]);
    for (size_t i = 0; i < s.cfg.listen_peer_urls.count; i++)
        et_info("etcetera: listening for peers on %s", s.cfg.listen_peer_urls.items[i]);
    et_info("etcetera: ready to serve client requests");

    sigwait(&sigs, &sig);
    et_info("etcetera: received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    api_begin_shutdown(api);
    net_stop(server_net);
    raft_node_stop(node);
    api_free(api);
    server_free(&s);
    et_info("etcetera: stopped");
    return 0;
}
