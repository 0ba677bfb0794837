/*
 * core/config.h - the server's configuration surface: etcd's command-line flags, the ETCD_*
 * environment and the YAML config file (spec/config.md).
 *
 * Flags follow Go's flag package (`-name x`, `-name=x`, `--name x`, `--name=x`, booleans take
 * no separate word, `--` ends the flags); every flag has an ETCD_<NAME> environment variable used
 * only when the flag is absent (flag and variable both set is fatal, as in etcd 3.4); a config
 * file (`--config-file` / ETCD_CONFIG_FILE) replaces flags and environment entirely. Error
 * messages and exit statuses are etcd 3.4's, byte for byte. Defaults are etcd 2.x's listeners
 * (clients on :2379 and :4001, peers on :2380 and :7001) and 3.4's everything else.
 *
 * Every string and array in struct et_config is owned by it; et_config_free() releases them.
 * Thread: whoever calls it (start-up, before any other thread exists).
 */
#ifndef ET_CORE_CONFIG_H
#define ET_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/assert.h"
#include "core/log.h"

/* The etcd version etcetera is compatible with (first line of --version, /version). */
#define ET_ETCD_COMPAT_VERSION "2.3.8"
#ifndef ET_VERSION
#define ET_VERSION "0.1.0"
#endif

/* Returned by et_config_parse() when the process should exit with *exit_code. */
#define ET_CONFIG_EXIT 1

enum et_cluster_state {
    ET_CLUSTER_STATE_NEW,
    ET_CLUSTER_STATE_EXISTING,
};

enum et_discovery_fallback {
    ET_DISCOVERY_FALLBACK_PROXY,
    ET_DISCOVERY_FALLBACK_EXIT,
};

enum et_proxy_mode {
    ET_PROXY_OFF,
    ET_PROXY_READONLY,
    ET_PROXY_ON,
};

/* One side's TLS settings (client listeners or peer listeners). */
struct et_config_tls {
    char *cert_file;        /* PEM certificate; NULL when unset */
    char *key_file;         /* its key; NULL when unset */
    char *trusted_ca_file;  /* CA for client certificates; NULL when unset */
    char *crl_file;         /* revocation list; NULL when unset */
    char *allowed_hostname; /* required SAN in client certs; NULL when unset */
    char *allowed_cn;       /* required CN (peer side only); NULL when unset */
    bool client_cert_auth;  /* require and verify client certificates */
    bool auto_tls;          /* generate a self-signed certificate */
    bool self_signed;       /* not a flag: cert_file/key_file were made for auto_tls */
};

/* A string list parsed from a comma-separated flag value. */
struct et_strlist {
    char **items; /* owned strings */
    size_t count;
};

struct et_config {
    /* Member */
    char *name;                     /* default "default" */
    char *data_dir;                 /* default "<name>.etcd" */
    char *wal_dir;                  /* NULL when unset */
    uint64_t snapshot_count;        /* entries between snapshots; default 100000 */
    uint64_t heartbeat_interval_ms; /* default 100 */
    uint64_t election_timeout_ms;   /* default 1000 */
    bool initial_election_tick_advance;
    /* URL lists: each entry validated (scheme, host:port, no path), sorted as etcd does. */
    struct et_strlist listen_peer_urls;
    struct et_strlist listen_client_urls;
    uint64_t max_snapshots;
    uint64_t max_wals;
    int64_t quota_backend_bytes;
    uint64_t max_request_bytes; /* etcd's flag name; default 10 MiB, etcd v2's form-body limit
                                 * (etcd's own default 1572864 is its v3 gRPC limit) */

    /* Clustering */
    struct et_strlist initial_advertise_peer_urls;
    char *initial_cluster; /* raw "n1=url,n2=url"; NULL when cleared by discovery */
    enum et_cluster_state initial_cluster_state;
    char *initial_cluster_token; /* default "etcd-cluster" */
    struct et_strlist advertise_client_urls;
    char *discovery; /* NULL when unset */
    enum et_discovery_fallback discovery_fallback;
    char *discovery_proxy;    /* NULL when unset */
    char *discovery_srv;      /* NULL when unset */
    char *discovery_srv_name; /* NULL when unset */
    bool strict_reconfig_check;
    bool pre_vote;
    bool enable_v2; /* accepted for compatibility; etcetera always serves v2 */
    bool force_new_cluster;

    /* Security */
    struct et_config_tls client_tls;
    struct et_config_tls peer_tls;
    struct et_strlist cipher_suites;
    struct et_strlist cors;           /* empty or "*" = all origins */
    struct et_strlist host_whitelist; /* empty or "*" = all hosts */

    /* Auth */
    char *auth_token;
    uint64_t bcrypt_cost;
    uint64_t auth_token_ttl_s;

    /* Profiling, logging */
    bool enable_pprof;
    char *metrics;
    struct et_strlist listen_metrics_urls;
    char *logger;
    struct et_strlist log_outputs;
    enum et_log_level log_level; /* from --log-level (and --debug) */
    bool debug;
    char *log_package_levels;

    /* v2 proxy */
    enum et_proxy_mode proxy;
    uint64_t proxy_failure_wait_ms;
    uint64_t proxy_refresh_interval_ms;
    uint64_t proxy_dial_timeout_ms;
    uint64_t proxy_write_timeout_ms;
    uint64_t proxy_read_timeout_ms;

    /* etcetera's own */
    uint64_t event_history;   /* events kept for watchers; default 1000 */
    uint64_t reactors;        /* reactor threads; default online CPUs */
    uint64_t max_connections; /* 0 = unlimited */

    char *config_file; /* the YAML file used, NULL when none */

    /* etcd 0.4 / 2.x addresses (spec/config.md sections 6-8), already folded into the URL lists
     * above; kept for logging. NULL when unset. */
    char *addr;           /* -addr IP:port: advertised client address */
    char *bind_addr;      /* -bind-addr IP[:port]: client listen address */
    char *peer_addr;      /* -peer-addr IP:port: advertised peer address */
    char *peer_bind_addr; /* -peer-bind-addr IP[:port]: peer listen address */
    /* -peers / -peers-file: "host:port" peer addresses of an existing 0.4-style cluster to join
     * (the server decides how to use them). */
    struct et_strlist peers;
    char *peers_file;

    /* Which settings were given explicitly (flag, env or file). */
    bool listen_client_urls_set;
    bool advertise_client_urls_set;
    bool listen_peer_urls_set;
    bool initial_advertise_peer_urls_set;
    bool initial_cluster_set;

    bool _version; /* private: --version was given */
};

/*
 * Parses @argv (argv[0] is the program) and @envp (NULL-terminated "K=V" strings, may be NULL),
 * filling @cfg (whose previous contents are ignored). Returns 0 when the server should run, or
 * ET_CONFIG_EXIT with *@exit_code set after printing what etcd prints (usage, version, error) on
 * stdout and stderr. @cfg is filled with defaults in either case and must be freed.
 */
ET_NODISCARD int et_config_parse(struct et_config *cfg, int argc, char **argv, char **envp,
                                 int *exit_code);

/* Same, printing on @out (stdout's share) and @err (stderr's share); used by tests. When @err is
 * not stderr, log lines are written to it as "L | message" instead of through et_log(). */
ET_NODISCARD int et_config_parse_to(struct et_config *cfg, int argc, char **argv, char **envp,
                                    FILE *out, FILE *err, int *exit_code);

void et_config_free(struct et_config *cfg);

/* Writes the --version text. */
void et_config_print_version(FILE *out);

/* A parsed URL (one entry of a URL list flag). */
struct et_url {
    char *scheme; /* lower-case: "http", "https", "unix", "unixs" */
    char *host;   /* host without brackets ("::1", "127.0.0.1", "localhost") */
    char *port;   /* digits, may be empty ("http://h:" is accepted by etcd) */
    char *raw;    /* the URL as etcd prints it (scheme lower-cased, spaces trimmed) */
};

/*
 * Parses one URL with etcd's validation (types.NewURLs): Go url.Parse errors, scheme in
 * http/https/unix/unixs, host:port present, no path. On error writes etcd's message (e.g.
 * `URL must not contain a path: http://a:1/p`) into @err and returns -EINVAL.
 * @out receives new strings; free with et_url_free().
 */
ET_NODISCARD int et_url_parse(const char *s, struct et_url *out, char *err, size_t err_len);
/* et_url_parse() of the @len bytes at @s, which may hold NUL bytes (a decoded JSON string). */
ET_NODISCARD int et_url_parse_len(const char *s, size_t len, struct et_url *out, char *err,
                                  size_t err_len);
void et_url_free(struct et_url *u);

/* Parses a comma-separated list (as a URL flag value) into @out (sorted, as etcd). Returns 0 or
 * -EINVAL with etcd's message in @err. */
ET_NODISCARD int et_urls_parse(const char *list, struct et_strlist *out, char *err, size_t err_len);

/* True when @host is an IP literal or "localhost" (what etcd accepts for listen URLs). */
bool et_url_host_bindable(const char *scheme, const char *host);

/* One member of --initial-cluster: a name and its peer URLs (a name may repeat in the flag). */
struct et_cluster_member {
    char *name;
    struct et_strlist peer_urls;
};

struct et_cluster_members {
    struct et_cluster_member *members; /* in order of first appearance */
    size_t count;
};

/*
 * Parses "n1=http://a:2380,n2=http://b:2380" into @out with etcd's messages on error (-EINVAL;
 * e.g. `URL scheme must be http, https, unix, or unixs: foo`). Free with
 * et_cluster_members_free().
 */
ET_NODISCARD int et_initial_cluster_parse(const char *s, struct et_cluster_members *out, char *err,
                                          size_t err_len);
void et_cluster_members_free(struct et_cluster_members *m);

/*
 * The start-up checks etcd makes when bootstrapping a new member from --initial-cluster: the
 * local name must be present (`couldn't find local name "x" in the initial cluster
 * configuration`) and its URLs must equal --initial-advertise-peer-urls. Returns 0 or -EINVAL
 * with etcd's message (to be logged as "etcdmain: <msg>" before exiting 1).
 */
ET_NODISCARD int et_config_check_initial_cluster(const struct et_config *cfg, char *err,
                                                 size_t err_len);

void et_strlist_free(struct et_strlist *l);

#endif
