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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/sha1.h"
#include "net/net.h"
#include "net/peer.h"
#include "net/selfcert.h"
#include "raft/node.h"
#include "server/discovery.h"
#include "server/srv.h"

/*
 * jemalloc's build-time options (its ABI names this symbol; the MALLOC_CONF environment variable
 * still overrides). h2o gives every request a 4 KiB memory-pool chunk, which a parked long poll
 * keeps: with jemalloc's default one-page slabs for that size class each chunk costs an extent
 * record of its own; 16-page slabs saved ~0.4 MiB of RSS with 5,000 parked watchers.
 */
const char *malloc_conf = "slab_sizes:4096-4096:16";

static struct net *server_net;
static struct net_peers *server_peers;
static struct raft_node *server_node;
static struct api *server_api;
static int server_stopping; /* atomic: peers' connections are closed after their next request */

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

/* ---- the peer transport, wired between raft/ and net/ ---------------------------------- */

/*
 * The client side of https peer URLs from etcd's --peer-* flags: the member's peer certificate
 * is also its client certificate, --peer-trusted-ca-file checks the other members' certificates
 * (the system's CAs without it), and the self-signed certificates of --peer-auto-tls skip the
 * check as etcd does (members accept each other's generated certificates unverified).
 */
static struct net_peer_tls peer_tls(const struct et_config *c)
{
    const struct et_config_tls *t = &c->peer_tls;
    return (struct net_peer_tls){
        .cert_file = t->cert_file,
        .key_file = t->key_file,
        .trusted_ca_file = t->trusted_ca_file,
        .skip_verify = t->self_signed,
    };
}

static void host_peer_set(raft_id id, const char *url)
{
    if (net_peers_set(server_peers, id, url) != 0)
        et_error("etcetera: member %llx cannot be reached at %s", (unsigned long long)id, url);
}

static void host_peer_remove(raft_id id)
{
    net_peers_remove(server_peers, id);
}

static bool host_peer_stats(raft_id id, struct api_peer_stats *out)
{
    struct net_peer_stats ps;
    if (!net_peers_stats(server_peers, id, &ps))
        return false;
    *out = (struct api_peer_stats){ .success = ps.success,
                                    .fail = ps.fail,
                                    .current_ms = ps.current_ms,
                                    .average_ms = ps.average_ms,
                                    .stddev_ms = ps.stddev_ms,
                                    .min_ms = ps.min_ms,
                                    .max_ms = ps.max_ms,
                                    .last_success_ns = ps.last_success_ns };
    return true;
}

static void *stop_later(void *arg)
{
    (void)arg;
    usleep(1000 * 1000); /* let the answer to the removal (if it came here) leave first */
    et_warn("etcetera: this member was removed from the cluster: stopping");
    kill(getpid(), SIGTERM);
    return NULL;
}

static void host_removed(void)
{
    static int once;
    pthread_t t;
    if (__atomic_exchange_n(&once, 1, __ATOMIC_ACQ_REL))
        return;
    if (pthread_create(&t, NULL, stop_later, NULL) == 0)
        pthread_detach(t);
}

/* A peer refused our messages with 410 Gone: this member was removed while it could not hear
 * of it (the leader stops replicating to a removed member). */
static void peer_gone(void *data, uint64_t peer_id)
{
    (void)data;
    et_warn("etcetera: member %llx says this member was removed from the cluster",
            (unsigned long long)peer_id);
    host_removed();
}

/* The node's send hook: Raft messages and forwarded proposals leave through the transport. */
static void raft_send(void *data, raft_id to, const void *msg, size_t len)
{
    (void)data;
    int ret = net_peers_send(server_peers, to, msg, len);
    if (ret == -ENOENT)
        et_debug("etcetera: message for unknown member %llx dropped", (unsigned long long)to);
}

static void peer_frame(void *data, const void *msg, size_t len)
{
    size_t *dropped = data;
    struct raft_node *node = __atomic_load_n(&server_node, __ATOMIC_ACQUIRE);
    if (node == NULL || raft_node_receive(node, msg, len) != 0)
        (*dropped)++;
}

/* Peer listener: POST /raft carries frames for this member's node; the rest goes to api/. */
static int peer_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t gen = { NULL, NULL };
    size_t plen = req->path_normalized.len;
    if (!(plen == strlen(NET_PEER_PATH) &&
          memcmp(req->path_normalized.base, NET_PEER_PATH, plen) == 0))
        return api_peer_on_req(self, req);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        req->res.status = 405;
        req->res.reason = "Method Not Allowed";
        h2o_send_inline(req, H2O_STRLIT("POST only\n"));
        return 0;
    }
    /* A member removed from the cluster hears it here (etcd answers such a peer the same). */
    ssize_t from = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-etcetera-from"), -1);
    struct api *api = __atomic_load_n(&server_api, __ATOMIC_ACQUIRE);
    if (from >= 0 && api) {
        char hex[24];
        h2o_iovec_t v = req->headers.entries[from].value;
        snprintf(hex, sizeof(hex), "%.*s", (int)(v.len < 20 ? v.len : 20), v.base);
        if (api_member_removed(api, strtoull(hex, NULL, 16))) {
            req->res.status = 410;
            req->res.reason = "Gone";
            h2o_send_inline(req, H2O_STRLIT("this member was removed from the cluster\n"));
            return 0;
        }
    }
    size_t dropped = 0;
    long frames = net_peer_frames_parse(req->entity.base, req->entity.len, peer_frame, &dropped);
    if (frames < 0) {
        req->res.status = 400;
        req->res.reason = "Bad Request";
        h2o_send_inline(req, H2O_STRLIT("malformed frames\n"));
        return 0;
    }
    if (dropped)
        et_debug("etcetera: %zu peer messages dropped (inbound queue full)", dropped);
    /* Shutting down: peers keep their connections open (keep-alive), so close each one after
     * its next batch (heartbeats come every tick) and the reactors can drain in time. */
    if (__atomic_load_n(&server_stopping, __ATOMIC_ACQUIRE))
        req->http1_is_persistent = 0;
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_start_response(req, &gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* etcd's member ID: SHA-1 over the sorted peer URLs joined, then the cluster token. */
static uint64_t member_id(const struct et_strlist *peer_urls, const char *token)
{
    uint8_t md[ET_SHA1_LEN];
    struct et_buf b = ET_BUF_INIT;
    char **urls = et_calloc(peer_urls->count + 1, sizeof(char *));
    if (peer_urls->count)
        memcpy(urls, peer_urls->items, peer_urls->count * sizeof(char *));
    qsort(urls, peer_urls->count, sizeof(char *), cmp_str);
    for (size_t i = 0; i < peer_urls->count; i++)
        et_buf_append_str(&b, urls[i]);
    et_buf_append_str(&b, token);
    et_sha1(b.data, b.len, md);
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
    uint8_t md[ET_SHA1_LEN];
    uint8_t *b = et_alloc(8 * n + 1);
    qsort(ids, n, sizeof(*ids), cmp_u64);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            b[8 * i + (size_t)k] = (uint8_t)(ids[i] >> (56 - 8 * k));
    et_sha1(b, 8 * n, md);
    et_free(b);
    return be64(md);
}

static void strs_free_n(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        et_free(v[i]);
    et_free(v);
}

struct server {
    struct et_config cfg;
    struct api_member *members; /* the bootstrap membership (owned strings) */
    struct raft_peer_config *peers;
    char **peer_urls_joined;
    size_t member_count;
    raft_id self_id;
    uint64_t cluster_id;
    bool identity_saved; /* the data dir already records the identity */
    struct net_listener_config *listeners;
    struct et_url *urls;
    size_t listener_count;
};

static char **strs_dup(char *const *v, size_t n)
{
    char **out = et_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = et_strdup(v[i]);
    return out;
}

/* Splits a comma-separated list into new strings. */
static char **split_commas(const char *s, size_t *count)
{
    char **v = et_calloc(1, sizeof(char *));
    size_t n = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        v = et_realloc(v, (n + 2) * sizeof(char *));
        v[n] = et_alloc(len + 1);
        memcpy(v[n], s, len);
        v[n++][len] = '\0';
        s += len + (e ? 1 : 0);
    }
    v[n] = NULL;
    *count = n;
    return v;
}

static struct api_member *member_push(struct server *s, raft_id id, const char *name,
                                      char **peer_urls, size_t peer_url_count)
{
    s->members = et_realloc(s->members, (s->member_count + 1) * sizeof(*s->members));
    struct api_member *m = &s->members[s->member_count++];
    *m = (struct api_member){ .id = id,
                              .name = et_strdup(name),
                              .peer_urls = peer_urls,
                              .peer_url_count = peer_url_count,
                              .client_urls = et_calloc(1, sizeof(char *)) };
    return m;
}

/* --initial-cluster-state new: every member derives the same IDs from the flags. */
/*
 * The members of a new cluster, from --initial-cluster. @checked_by_srv: the string came from
 * DNS SRV records, where this member was found by address (srv_bootstrap), so its URLs there
 * need not equal --initial-advertise-peer-urls letter for letter.
 */
static int members_from_flags(struct server *s, bool checked_by_srv)
{
    char err[512];
    struct et_config *c = &s->cfg;
    struct et_cluster_members cl;
    if (et_initial_cluster_parse(c->initial_cluster, &cl, err, sizeof(err)) != 0) {
        et_error("etcdmain: %s", err);
        return -EINVAL;
    }
    if (!checked_by_srv && et_config_check_initial_cluster(c, err, sizeof(err)) != 0) {
        et_error("etcdmain: %s", err);
        et_cluster_members_free(&cl);
        return -EINVAL;
    }
    uint64_t *ids = et_calloc(cl.count + 1, sizeof(*ids));
    for (size_t i = 0; i < cl.count; i++) {
        struct et_cluster_member *m = &cl.members[i];
        ids[i] = member_id(&m->peer_urls, c->initial_cluster_token);
        member_push(s, ids[i], m->name, strs_dup(m->peer_urls.items, m->peer_urls.count),
                    m->peer_urls.count);
        if (strcmp(m->name, c->name) == 0)
            s->self_id = ids[i];
    }
    s->cluster_id = cluster_id(ids, cl.count);
    et_free(ids);
    et_cluster_members_free(&cl);
    return 0;
}

/*
 * --initial-cluster-state existing: ask the members named in --initial-cluster for the
 * cluster's current member list (GET /etcetera/members on their peer URLs); this member must be
 * in it already (added with member add), found by its --initial-advertise-peer-urls.
 */
static int members_from_cluster(struct server *s)
{
    char err[512];
    struct et_config *c = &s->cfg;
    struct et_cluster_members cl;
    if (et_initial_cluster_parse(c->initial_cluster, &cl, err, sizeof(err)) != 0) {
        et_error("etcdmain: %s", err);
        return -EINVAL;
    }
    struct et_buf resp = ET_BUF_INIT;
    struct net_peer_tls tls = peer_tls(c);
    int64_t deadline = et_mono_ns() + 30 * ET_NS_PER_SEC;
    bool got = false;
    while (!got && et_mono_ns() < deadline) {
        for (size_t i = 0; i < cl.count && !got; i++) {
            if (strcmp(cl.members[i].name, c->name) == 0)
                continue;
            for (size_t j = 0; j < cl.members[i].peer_urls.count && !got; j++) {
                et_buf_reset(&resp);
                got = net_http_get(cl.members[i].peer_urls.items[j], "/etcetera/members", &tls,
                                   2000, &resp) == 200;
            }
        }
        if (!got)
            usleep(200000);
    }
    et_cluster_members_free(&cl);
    if (!got) {
        et_error("etcdmain: cannot fetch the member list from any member of --initial-cluster "
                 "(--initial-cluster-state existing needs a running cluster)");
        et_buf_free(&resp);
        return -EHOSTUNREACH;
    }
    const char *h = strcasestr(resp.data, "\r\nX-Etcd-Cluster-Id:");
    const char *body = strstr(resp.data, "\r\n\r\n");
    int ret = 0;
    if (h == NULL || body == NULL) {
        et_error("etcdmain: malformed member list from the existing cluster");
        et_buf_free(&resp);
        return -EBADMSG;
    }
    s->cluster_id = strtoull(h + 20, NULL, 16);
    for (char *line = (char *)body + 4; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char name[256], urls[4096];
        unsigned long long id;
        if (sscanf(line, "%llx %255s %4095s", &id, name, urls) == 3) {
            size_t n;
            char **pu = split_commas(urls, &n);
            member_push(s, id, strcmp(name, "-") == 0 ? "" : name, pu, n);
            for (size_t k = 0; k < n; k++)
                for (size_t l = 0; l < c->initial_advertise_peer_urls.count; l++)
                    if (strcmp(pu[k], c->initial_advertise_peer_urls.items[l]) == 0)
                        s->self_id = id;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    et_buf_free(&resp);
    if (s->self_id == 0) {
        et_error("etcdmain: this member's peer URLs are not in the existing cluster's member "
                 "list: add it first (etcdctl member add %s <peer URL>)",
                 c->name);
        ret = -ENOENT;
    }
    return ret;
}

static char *identity_path(const struct server *s)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "%s/member/etcetera.cluster", s->cfg.data_dir);
    return b.data;
}

/* A restart uses the identity recorded at the first start, not the flags (as etcd does). */
static int members_from_data_dir(struct server *s)
{
    char *path = identity_path(s);
    FILE *f = fopen(path, "r");
    et_free(path);
    if (f == NULL)
        return -ENOENT;
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        char name[256], urls[4096];
        if (sscanf(line, "cluster %llx", &v) == 1) {
            s->cluster_id = v;
        } else if (sscanf(line, "self %llx", &v) == 1) {
            s->self_id = v;
        } else if (sscanf(line, "member %llx %255s %4095s", &v, name, urls) == 3) {
            size_t n;
            char **pu = split_commas(urls, &n);
            member_push(s, v, strcmp(name, "-") == 0 ? "" : name, pu, n);
        }
    }
    fclose(f);
    if (s->cluster_id == 0 || s->self_id == 0 || s->member_count == 0) {
        et_error("etcdmain: the cluster identity in %s/member/etcetera.cluster is damaged",
                 s->cfg.data_dir);
        return -EBADMSG;
    }
    s->identity_saved = true;
    return 0;
}

static int identity_save(const struct server *s)
{
    char *path = identity_path(s);
    struct et_buf tmp = ET_BUF_INIT, b = ET_BUF_INIT;
    et_buf_printf(&tmp, "%s.tmp", path);
    et_buf_printf(&b, "cluster %llx\nself %llx\n", (unsigned long long)s->cluster_id,
                  (unsigned long long)s->self_id);
    for (size_t i = 0; i < s->member_count; i++) {
        const struct api_member *m = &s->members[i];
        et_buf_printf(&b, "member %llx %s ", (unsigned long long)m->id, m->name[0] ? m->name : "-");
        for (size_t j = 0; j < m->peer_url_count; j++)
            et_buf_printf(&b, "%s%s", j ? "," : "", m->peer_urls[j]);
        et_buf_append_char(&b, '\n');
    }
    int ret = 0;
    FILE *f = fopen(tmp.data, "w");
    if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        ret = -errno;
    if (f)
        fclose(f);
    if (ret == 0 && rename(tmp.data, path) != 0)
        ret = -errno;
    if (ret < 0)
        et_error("etcetera: cannot record the cluster identity in %s: %s", path, strerror(-ret));
    et_buf_free(&tmp);
    et_buf_free(&b);
    et_free(path);
    return ret;
}

static int build_members(struct server *s)
{
    struct et_config *c = &s->cfg;
    int ret = members_from_data_dir(s);
    if (ret == -ENOENT) {
        bool from_srv = c->initial_cluster == NULL && c->discovery_srv != NULL;
        if (from_srv && srv_bootstrap(c) != 0)
            return -EINVAL;
        if (c->initial_cluster == NULL) {
            et_error("etcdmain: no --initial-cluster to bootstrap from");
            return -EINVAL;
        }
        ret = c->initial_cluster_state == ET_CLUSTER_STATE_EXISTING
                  ? members_from_cluster(s)
                  : members_from_flags(s, from_srv);
    }
    if (ret < 0)
        return ret;
    s->peers = et_calloc(s->member_count + 1, sizeof(*s->peers));
    s->peer_urls_joined = et_calloc(s->member_count + 1, sizeof(char *));
    for (size_t i = 0; i < s->member_count; i++) {
        struct api_member *am = &s->members[i];
        struct et_buf joined = ET_BUF_INIT;
        for (size_t j = 0; j < am->peer_url_count; j++) {
            if (j)
                et_buf_append_char(&joined, ',');
            et_buf_append_str(&joined, am->peer_urls[j]);
        }
        s->peer_urls_joined[i] = joined.data ? joined.data : et_strdup("");
        s->peers[i] =
            (struct raft_peer_config){ .id = am->id, .name = am->name, .peer_urls = joined.data };
        if (am->id == s->self_id) {
            strs_free_n(am->client_urls, 0);
            am->client_urls =
                strs_dup(c->advertise_client_urls.items, c->advertise_client_urls.count);
            am->client_url_count = c->advertise_client_urls.count;
        }
    }
    return 0;
}

/* etcd's "<side>TLS: cert = ..." line for a side with certificate files. */
static void tls_log(const char *what, const struct et_config_tls *t)
{
    if (t->cert_file == NULL && t->key_file == NULL)
        return;
    et_info("embed: %s: cert = %s, key = %s, trusted-ca = %s, client-cert-auth = %s, crl-file = %s",
            what, t->cert_file ? t->cert_file : "", t->key_file ? t->key_file : "",
            t->trusted_ca_file ? t->trusted_ca_file : "", t->client_cert_auth ? "true" : "false",
            t->crl_file ? t->crl_file : "");
}

/*
 * --peer-auto-tls / --auto-tls, as etcd 3.4 does them when it sets up its listeners: without
 * certificate files of its own a side gets <data-dir>/fixtures/{peer,client}/{cert,key}.pem,
 * made on the first start (SANs: the hosts of that side's listen URLs) and reused after, and
 * these files become its cert/key (http URLs included: etcd makes them anyway). With
 * certificate files given, they win and auto-tls is ignored with a warning. Returns 0, or -1
 * after logging why (etcd exits then).
 */
static int auto_tls(struct et_config *c)
{
    const struct {
        struct et_config_tls *tls;
        const struct et_strlist *urls;
        const char *what; /* etcd's words */
        const char *dir;
    } sides[] = {
        { &c->peer_tls, &c->listen_peer_urls, "peer", "peer" },
        { &c->client_tls, &c->listen_client_urls, "client", "client" },
    };

    for (size_t s = 0; s < ET_ARRAY_SIZE(sides); s++) {
        struct et_config_tls *t = sides[s].tls;
        if (!t->auto_tls)
            continue;
        if (t->cert_file != NULL || t->key_file != NULL) {
            et_warn("embed: ignoring %s auto TLS since certs given", sides[s].what);
            continue;
        }
        size_t n = sides[s].urls->count;
        struct et_url *u = et_calloc(n + 1, sizeof(*u));
        const char **hosts = et_calloc(n + 1, sizeof(*hosts));
        size_t got = 0;
        char err[512];
        for (size_t i = 0; i < n; i++) {
            if (et_url_parse(sides[s].urls->items[i], &u[got], err, sizeof(err)) != 0) {
                et_url_free(&u[got]); /* cannot happen: the config checked every URL */
                continue;
            }
            hosts[got] = u[got].host;
            got++;
        }
        struct et_buf dir = ET_BUF_INIT;
        et_buf_printf(&dir, "%s/fixtures/%s", c->data_dir, sides[s].dir);
        struct net_selfcert sc;
        int ret = net_selfcert(dir.data, hosts, got, &sc, err, sizeof(err));
        for (size_t i = 0; i < got; i++)
            et_url_free(&u[i]);
        et_free(u);
        et_free(hosts);
        et_buf_free(&dir);
        if (ret != 0) {
            et_error("embed: could not get certs (%s)", err);
            return -1;
        }
        et_debug("embed: %s self-signed certificate %s (%s)", sides[s].what, sc.cert_file,
                 sc.created ? "generated" : "reused");
        t->cert_file = sc.cert_file; /* the config owns them now */
        t->key_file = sc.key_file;
        t->self_signed = true;
    }
    tls_log("peerTLS", &c->peer_tls);
    return 0;
}

/*
 * A TLS context for https listeners from etcd's --cert-file/--key-file (--trusted-ca-file and
 * --client-cert-auth for client certificates), offering HTTP/2 and HTTP/1.1 through ALPN.
 * Returns NULL after logging why.
 */
static SSL_CTX *tls_ctx_new(const struct et_config_tls *t, const char *url)
{
    if (t->cert_file == NULL || t->key_file == NULL) {
        et_error("etcdmain: TLS key/cert (--cert-file, --key-file) must be provided for %s", url);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    net_tls_accept_own_chain_digests(ctx);
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char why[256];
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        ERR_clear_error();
        et_error("etcdmain: cannot load TLS certificate %s / key %s: %s", t->cert_file, t->key_file,
                 why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (t->trusted_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, t->trusted_ca_file, NULL) != 1) {
            et_error("etcdmain: cannot load trusted CA file %s", t->trusted_ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (t->client_cert_auth)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
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
            SSL_CTX *ssl = NULL;
            if (strcmp(s->urls[k].scheme, "https") == 0) {
                ssl = tls_ctx_new(pass == 0 ? &s->cfg.client_tls : &s->cfg.peer_tls, l->items[i]);
                if (ssl == NULL)
                    return -EINVAL;
            } else if (strcmp(s->urls[k].scheme, "http") != 0) {
                et_error("etcdmain: %s listeners are not supported: %s", s->urls[k].scheme,
                         l->items[i]);
                return -EINVAL;
            }
            s->listeners[k] = (struct net_listener_config){
                .host = s->urls[k].host,
                .port = (uint16_t)atoi(s->urls[k].port),
                .service = pass == 0 ? NET_SERVICE_CLIENT : NET_SERVICE_PEER,
                .ssl_ctx = ssl,
            };
        }
    }
    return 0;
}

static void server_free(struct server *s)
{
    for (size_t i = 0; i < s->listener_count; i++) {
        et_url_free(&s->urls[i]);
        if (s->listeners[i].ssl_ctx)
            SSL_CTX_free(s->listeners[i].ssl_ctx);
    }
    et_free(s->urls);
    et_free(s->listeners);
    for (size_t i = 0; i < s->member_count; i++) {
        if (s->peer_urls_joined)
            et_free(s->peer_urls_joined[i]);
        strs_free_n(s->members[i].peer_urls, s->members[i].peer_url_count);
        strs_free_n(s->members[i].client_urls, s->members[i].client_url_count);
        et_free(s->members[i].name);
    }
    et_free(s->peer_urls_joined);
    et_free(s->peers);
    et_free(s->members);
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
    if (auto_tls(&s.cfg) != 0) {
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
    /* The ports first, as etcd: one in use ends the start before discovery or the WAL, and
     * clients that connect meanwhile wait in the backlog for the reactors. */
    struct net_sockets *sockets = NULL;
    if (build_listeners(&s) != 0 ||
        net_bind(s.listeners, s.listener_count, reactors, &sockets) != 0) {
        server_free(&s);
        return 1;
    }
    /* --discovery: the initial cluster comes from the registry (IDs use the URL as token) */
    if (s.cfg.discovery != NULL &&
        discovery_bootstrap(&s.cfg,
                            member_id(&s.cfg.initial_advertise_peer_urls, s.cfg.discovery)) != 0) {
        net_sockets_close(sockets);
        server_free(&s);
        return 1;
    }
    if (build_members(&s) != 0) {
        net_sockets_close(sockets);
        server_free(&s);
        return 1;
    }
    et_info("etcetera: name = %s, data dir = %s, member id = %llx, cluster id = %llx", s.cfg.name,
            s.cfg.data_dir, (unsigned long long)s.self_id, (unsigned long long)s.cluster_id);

    struct net_peers_config pc = { .self_id = s.self_id,
                                   .on_gone = peer_gone,
                                   .tls = peer_tls(&s.cfg) };
    if (net_peers_start(&pc, &server_peers) != 0) {
        et_error("etcetera: cannot start the peer transport");
        net_sockets_close(sockets);
        server_free(&s);
        return 1;
    }
    struct api_config ac = {
        .host = { host_reactor_self, host_reactor_index, host_reactor_at, host_post, host_hup_watch,
                  host_hup_cancel, host_peer_set, host_peer_remove, host_peer_stats, host_removed },
        .name = s.cfg.name,
        .id = s.self_id,
        .cluster_id = s.cluster_id,
        .members = s.members,
        .member_count = s.member_count,
        .history_max = s.cfg.event_history,
        .body_max = (size_t)s.cfg.max_request_bytes, /* form bodies beyond it: error 210 */
        .reactor_count = reactors,
    };
    api = api_new(&ac);
    __atomic_store_n(&server_api, api, __ATOMIC_RELEASE);

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
        .conf_apply = api_raft_conf_apply,
        .conf_appended = api_raft_conf_appended,
        .applied = api_raft_applied,
        .tick = api_raft_tick,
        .snapshot_save = api_raft_snapshot_save,
        .snapshot_capture = api_raft_snapshot_capture,
        .snapshot_write = api_raft_snapshot_write,
        .snapshot_release = api_raft_snapshot_release,
        .snapshot_load = api_raft_snapshot_load,
        .send = raft_send,
    };
    int ret = raft_node_start(&rc, &node);
    if (ret != 0) {
        et_error("etcetera: cannot start the raft node in %s: %s", s.cfg.data_dir, strerror(-ret));
        net_sockets_close(sockets);
        api_free(api);
        net_peers_stop(server_peers);
        server_free(&s);
        return 1;
    }
    __atomic_store_n(&server_node, node, __ATOMIC_RELEASE);
    if (!s.identity_saved)
        (void)identity_save(&s);
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
        .max_connections = s.cfg.max_connections,
        .idle_timeout_ms = 300000,
        .req_timeout_ms = 30000,
        /* h2o's own hard limit (413) sits well above the v2 limit so that etcd's 210 answers */
        .max_request_bytes = (size_t)s.cfg.max_request_bytes + ((size_t)16 << 20),
        .peer_max_request_bytes = (size_t)NET_PEER_FRAME_MAX + (1u << 20),
        .on_req = { api_client_on_req, peer_on_req },
        .on_thread_start = api_reactor_start,
        .on_thread_stop = api_reactor_stop,
        .on_shutdown = api_reactor_shutdown,
        .data = api,
    };
    server_net = net_start(&nc, sockets);
    tls_log("ClientTLS", &s.cfg.client_tls);
    for (size_t i = 0; i < s.cfg.listen_client_urls.count; i++)
        et_info("etcetera: serving client requests on %s", s.cfg.listen_client_urls.items[i]);
    for (size_t i = 0; i < s.cfg.listen_peer_urls.count; i++)
        et_info("etcetera: listening for peers on %s", s.cfg.listen_peer_urls.items[i]);
    et_info("etcetera: ready to serve client requests");

    sigwait(&sigs, &sig);
    et_info("etcetera: received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    api_begin_shutdown(api);
    __atomic_store_n(&server_stopping, 1, __ATOMIC_RELEASE);
    net_stop(server_net);
    raft_node_stop(node);
    net_peers_stop(server_peers);
    api_free(api);
    server_free(&s);
    et_info("etcetera: stopped");
    return 0;
}

/*
 * Sanitizer builds only: third-party code that the sanitizers cannot judge. liburcu is not
 * instrumented for TSan (its call_rcu hand-offs look racy), and h2o keeps per-thread recycle
 * caches of buffers that are never returned when a reactor thread ends, and does not free a
 * context's thread queue when it disposes of the context (LSan counts both).
 */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);

const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:liburcu-qsbr.so.8\n";
}
#endif

#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    /* h2o 2.2.5's h2o_context_dispose() leaves the context's thread queue allocated */
    return "leak:h2o_mem_alloc_recycle\nleak:h2o_multithread_create_queue\n";
}
#endif
