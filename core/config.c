/*
 * core/config.c - command line, ETCD_* environment and config file -> struct et_config.
 *
 * One table lists every flag: its name, value kind, field, default (as text, parsed like a user
 * value), usage line and help. Parsing follows etcd 3.4's etcdmain (spec/config.md):
 *
 *   argv (Go flag rules) -> positional args? -> --version -> config file (exclusive) or ETCD_* env
 *   -> derived defaults (initial cluster from name, data dir from name) -> Validate() -> TLS/URL
 *   scheme checks
 *
 * Exit statuses: 2 for flag syntax errors (with usage), 1 for everything etcd reports as
 * "error verifying flags" or fatal, 0 for --help and --version. Messages are etcd's.
 */
#include "core/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/config_int.h"

#define NO_FIELD SIZE_MAX
#define F(field) offsetof(struct et_config, field)

enum kind {
    K_STR,
    K_BOOL,
    K_UINT,     /* Go uint / uint64: ParseUint(s, 0, 64) */
    K_INT,      /* Go int64: ParseInt(s, 0, 64) */
    K_URLS,     /* UniqueURLs with the whole-value exception "" */
    K_CORS,     /* UniqueURLs with the whole-value exception "*" */
    K_LIST,     /* comma-separated strings */
    K_ENUM,     /* one of choices; stored as an int-sized enum */
    K_DURATION, /* Go time.Duration (accepted, not stored) */
    K_IGNORED,  /* legacy 0.4 name: bool-style, warns and ignores */
    K_ADDR,     /* 0.4/2.x "IP:port" (a bind address may omit the port) */
    K_PEERS,    /* 0.4 comma list of "host:port" */
    K_CA,       /* 2.x --ca-file: trusted CA and client-cert-auth at once */
};

enum section {
    S_MEMBER,
    S_CLUSTER,
    S_SECURITY,
    S_AUTH,
    S_PROFILING,
    S_LOGGING,
    S_PROXY,
    S_EXPERIMENTAL,
    S_UNSAFE,
    S_DEPRECATED,
    S_ETCETERA,
    S_LEGACY,
    S_HIDDEN,
};

struct flag_def {
    const char *name;
    enum kind kind;
    size_t off;        /* field in struct et_config, NO_FIELD = accept and ignore */
    const char *def;   /* default value text; NULL = zero */
    const char *shown; /* default as the usage text shows it */
    const char *help;  /* usage lines after the first (newline-separated) */
    enum section section;
    const char *const *choices; /* K_ENUM */
};

static const char *const cluster_states[] = { "new", "existing", NULL };
static const char *const fallbacks[] = { "proxy", "exit", NULL };
static const char *const proxies[] = { "off", "readonly", "on", NULL };

#define DEF_CLIENT_URLS "http://localhost:2379,http://localhost:4001"
#define DEF_PEER_URLS   "http://localhost:2380,http://localhost:7001"
#define DEF_CLUSTER     "default=http://localhost:2380,default=http://localhost:7001"

/* Usage order. */
static const struct flag_def flags[] = {
    /* Member */
    { "name", K_STR, F(name), "default", "'default'", "Human-readable name for this member.",
      S_MEMBER, NULL },
    { "data-dir", K_STR, F(data_dir), NULL, "'${name}.etcd'", "Path to the data directory.",
      S_MEMBER, NULL },
    { "wal-dir", K_STR, F(wal_dir), NULL, "''", "Path to the dedicated wal directory.", S_MEMBER,
      NULL },
    { "snapshot-count", K_UINT, F(snapshot_count), "100000", "'100000'",
      "Number of committed transactions to trigger a snapshot to disk.", S_MEMBER, NULL },
    { "heartbeat-interval", K_UINT, F(heartbeat_interval_ms), "100", "'100'",
      "Time (in milliseconds) of a heartbeat interval.", S_MEMBER, NULL },
    { "election-timeout", K_UINT, F(election_timeout_ms), "1000", "'1000'",
      "Time (in milliseconds) for an election to timeout. See tuning documentation for details.",
      S_MEMBER, NULL },
    { "initial-election-tick-advance", K_BOOL, F(initial_election_tick_advance), "true", "'true'",
      "Whether to fast-forward initial election ticks on boot for faster election.", S_MEMBER,
      NULL },
    { "listen-peer-urls", K_URLS, F(listen_peer_urls), DEF_PEER_URLS, "'" DEF_PEER_URLS "'",
      "List of URLs to listen on for peer traffic.", S_MEMBER, NULL },
    { "listen-client-urls", K_URLS, F(listen_client_urls), DEF_CLIENT_URLS, "'" DEF_CLIENT_URLS "'",
      "List of URLs to listen on for client traffic.", S_MEMBER, NULL },
    { "max-snapshots", K_UINT, F(max_snapshots), "5", "'5'",
      "Maximum number of snapshot files to retain (0 is unlimited).", S_MEMBER, NULL },
    { "max-wals", K_UINT, F(max_wals), "5", "'5'",
      "Maximum number of wal files to retain (0 is unlimited).", S_MEMBER, NULL },
    { "quota-backend-bytes", K_INT, F(quota_backend_bytes), "0", "'0'",
      "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).",
      S_MEMBER, NULL },
    { "backend-batch-interval", K_DURATION, NO_FIELD, NULL, "''",
      "BackendBatchInterval is the maximum time before commit the backend transaction.", S_MEMBER,
      NULL },
    { "backend-batch-limit", K_UINT, NO_FIELD, NULL, "'0'",
      "BackendBatchLimit is the maximum operations before commit the backend transaction.",
      S_MEMBER, NULL },
    { "max-txn-ops", K_UINT, NO_FIELD, NULL, "'128'",
      "Maximum number of operations permitted in a transaction.", S_MEMBER, NULL },
    { "max-request-bytes", K_UINT, F(max_request_bytes), "10485760", "'10485760'",
      "Maximum client request size in bytes the server will accept.\n"
      "(etcetera: default 10 MiB, the v2 form-body limit; etcd's 1572864 applies to v3 gRPC "
      "only.)",
      S_MEMBER, NULL },
    { "max-concurrent-streams", K_UINT, NO_FIELD, NULL, "'math.MaxUint32'",
      "Maximum concurrent streams that each client can open at a time.", S_MEMBER, NULL },
    { "grpc-keepalive-min-time", K_DURATION, NO_FIELD, NULL, "'5s'",
      "Minimum duration interval that a client should wait before pinging server.", S_MEMBER,
      NULL },
    { "grpc-keepalive-interval", K_DURATION, NO_FIELD, NULL, "'2h'",
      "Frequency duration of server-to-client ping to check if a connection is alive (0 to "
      "disable).",
      S_MEMBER, NULL },
    { "grpc-keepalive-timeout", K_DURATION, NO_FIELD, NULL, "'20s'",
      "Additional duration of wait before closing a non-responsive connection (0 to disable).",
      S_MEMBER, NULL },

    /* Clustering */
    { "initial-advertise-peer-urls", K_URLS, F(initial_advertise_peer_urls), DEF_PEER_URLS,
      "'" DEF_PEER_URLS "'",
      "List of this member's peer URLs to advertise to the rest of the cluster.", S_CLUSTER, NULL },
    { "initial-cluster", K_STR, F(initial_cluster), DEF_CLUSTER, "'" DEF_CLUSTER "'",
      "Initial cluster configuration for bootstrapping.", S_CLUSTER, NULL },
    { "initial-cluster-state", K_ENUM, F(initial_cluster_state), "new", "'new'",
      "Initial cluster state ('new' or 'existing').", S_CLUSTER, cluster_states },
    { "initial-cluster-token", K_STR, F(initial_cluster_token), "etcd-cluster", "'etcd-cluster'",
      "Initial cluster token for the etcd cluster during bootstrap.\n"
      "Specifying this can protect you from unintended cross-cluster interaction when running "
      "multiple clusters.",
      S_CLUSTER, NULL },
    { "advertise-client-urls", K_URLS, F(advertise_client_urls), DEF_CLIENT_URLS,
      "'" DEF_CLIENT_URLS "'",
      "List of this member's client URLs to advertise to the public.\n"
      "The client URLs advertised should be accessible to machines that talk to etcd cluster. "
      "etcd client libraries parse these URLs to connect to the cluster.",
      S_CLUSTER, NULL },
    { "discovery", K_STR, F(discovery), NULL, "''", "Discovery URL used to bootstrap the cluster.",
      S_CLUSTER, NULL },
    { "discovery-fallback", K_ENUM, F(discovery_fallback), "proxy", "'proxy'",
      "Expected behavior ('exit' or 'proxy') when discovery services fails.\n"
      "\"proxy\" supports v2 API only.",
      S_CLUSTER, fallbacks },
    { "discovery-proxy", K_STR, F(discovery_proxy), NULL, "''",
      "HTTP proxy to use for traffic to discovery service.", S_CLUSTER, NULL },
    { "discovery-srv", K_STR, F(discovery_srv), NULL, "''",
      "DNS srv domain used to bootstrap the cluster.", S_CLUSTER, NULL },
    { "discovery-srv-name", K_STR, F(discovery_srv_name), NULL, "''",
      "Suffix to the dns srv name queried when bootstrapping.", S_CLUSTER, NULL },
    { "strict-reconfig-check", K_BOOL, F(strict_reconfig_check), "true", "'true'",
      "Reject reconfiguration requests that would cause quorum loss.", S_CLUSTER, NULL },
    { "pre-vote", K_BOOL, F(pre_vote), "false", "'false'",
      "Enable to run an additional Raft election phase.", S_CLUSTER, NULL },
    { "auto-compaction-retention", K_STR, NO_FIELD, NULL, "'0'",
      "Auto compaction retention length. 0 means disable auto compaction.", S_CLUSTER, NULL },
    { "auto-compaction-mode", K_STR, NO_FIELD, NULL, "'periodic'",
      "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration "
      "based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' "
      "for revision number based retention.",
      S_CLUSTER, NULL },
    { "enable-v2", K_BOOL, F(enable_v2), "true", "'true'",
      "Accept etcd V2 client requests. (etcetera always serves the v2 API; accepted for "
      "compatibility.)",
      S_CLUSTER, NULL },

    /* Security */
    { "cert-file", K_STR, F(client_tls.cert_file), NULL, "''",
      "Path to the client server TLS cert file.", S_SECURITY, NULL },
    { "key-file", K_STR, F(client_tls.key_file), NULL, "''",
      "Path to the client server TLS key file.", S_SECURITY, NULL },
    { "client-cert-auth", K_BOOL, F(client_tls.client_cert_auth), "false", "'false'",
      "Enable client cert authentication.", S_SECURITY, NULL },
    { "client-crl-file", K_STR, F(client_tls.crl_file), NULL, "''",
      "Path to the client certificate revocation list file.", S_SECURITY, NULL },
    { "client-cert-allowed-hostname", K_STR, F(client_tls.allowed_hostname), NULL, "''",
      "Allowed TLS hostname for client cert authentication.", S_SECURITY, NULL },
    { "trusted-ca-file", K_STR, F(client_tls.trusted_ca_file), NULL, "''",
      "Path to the client server TLS trusted CA cert file.", S_SECURITY, NULL },
    { "auto-tls", K_BOOL, F(client_tls.auto_tls), "false", "'false'",
      "Client TLS using generated certificates.", S_SECURITY, NULL },
    { "peer-cert-file", K_STR, F(peer_tls.cert_file), NULL, "''",
      "Path to the peer server TLS cert file.", S_SECURITY, NULL },
    { "peer-key-file", K_STR, F(peer_tls.key_file), NULL, "''",
      "Path to the peer server TLS key file.", S_SECURITY, NULL },
    { "peer-client-cert-auth", K_BOOL, F(peer_tls.client_cert_auth), "false", "'false'",
      "Enable peer client cert authentication.", S_SECURITY, NULL },
    { "peer-trusted-ca-file", K_STR, F(peer_tls.trusted_ca_file), NULL, "''",
      "Path to the peer server TLS trusted CA file.", S_SECURITY, NULL },
    { "peer-cert-allowed-cn", K_STR, F(peer_tls.allowed_cn), NULL, "''",
      "Required CN for client certs connecting to the peer endpoint.", S_SECURITY, NULL },
    { "peer-cert-allowed-hostname", K_STR, F(peer_tls.allowed_hostname), NULL, "''",
      "Allowed TLS hostname for inter peer authentication.", S_SECURITY, NULL },
    { "peer-auto-tls", K_BOOL, F(peer_tls.auto_tls), "false", "'false'",
      "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are "
      "not provided.",
      S_SECURITY, NULL },
    { "peer-crl-file", K_STR, F(peer_tls.crl_file), NULL, "''",
      "Path to the peer certificate revocation list file.", S_SECURITY, NULL },
    { "cipher-suites", K_LIST, F(cipher_suites), NULL, "''",
      "Comma-separated list of supported TLS cipher suites between client/server and peers "
      "(empty will be auto-populated by Go).",
      S_SECURITY, NULL },
    { "cors", K_CORS, F(cors), "*", "'*'",
      "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty "
      "or * means allow all).",
      S_SECURITY, NULL },
    { "host-whitelist", K_LIST, F(host_whitelist), "*", "'*'",
      "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * "
      "means allow all).",
      S_SECURITY, NULL },

    /* Auth */
    { "auth-token", K_STR, F(auth_token), "simple", "'simple'",
      "Specify a v3 authentication token type and its options ('simple' or 'jwt').", S_AUTH, NULL },
    { "bcrypt-cost", K_UINT, F(bcrypt_cost), "10", "10",
      "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid "
      "values are between 4 and 31.",
      S_AUTH, NULL },
    { "auth-token-ttl", K_UINT, F(auth_token_ttl_s), "300", "300",
      "Time (in seconds) of the auth-token-ttl.", S_AUTH, NULL },

    /* Profiling and Monitoring */
    { "enable-pprof", K_BOOL, F(enable_pprof), "false", "'false'",
      "Enable runtime profiling data via HTTP server. Address is at client URL + "
      "\"/debug/pprof/\"",
      S_PROFILING, NULL },
    { "metrics", K_STR, F(metrics), "basic", "'basic'",
      "Set level of detail for exported metrics, specify 'extensive' to include histogram "
      "metrics.",
      S_PROFILING, NULL },
    { "listen-metrics-urls", K_URLS, F(listen_metrics_urls), NULL, "''",
      "List of URLs to listen on for the metrics and health endpoints.", S_PROFILING, NULL },

    /* Logging */
    { "logger", K_STR, F(logger), "capnslog", "'capnslog'",
      "Specify 'zap' for structured logging or 'capnslog'. [WARN] 'capnslog' will be deprecated "
      "in v3.5.",
      S_LOGGING, NULL },
    { "log-outputs", K_LIST, F(log_outputs), "default", "'default'",
      "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, "
      "or list of comma separated output targets.",
      S_LOGGING, NULL },
    { "log-level", K_STR, NO_FIELD, NULL, "'info'",
      "Configures log level. Only supports debug, info, warn, error, panic, or fatal.", S_LOGGING,
      NULL },

    /* v2 Proxy */
    { "proxy", K_ENUM, F(proxy), "off", "'off'", "Proxy mode setting ('off', 'readonly' or 'on').",
      S_PROXY, proxies },
    { "proxy-failure-wait", K_UINT, F(proxy_failure_wait_ms), "5000", "5000",
      "Time (in milliseconds) an endpoint will be held in a failed state.", S_PROXY, NULL },
    { "proxy-refresh-interval", K_UINT, F(proxy_refresh_interval_ms), "30000", "30000",
      "Time (in milliseconds) of the endpoints refresh interval.", S_PROXY, NULL },
    { "proxy-dial-timeout", K_UINT, F(proxy_dial_timeout_ms), "1000", "1000",
      "Time (in milliseconds) for a dial to timeout.", S_PROXY, NULL },
    { "proxy-write-timeout", K_UINT, F(proxy_write_timeout_ms), "5000", "5000",
      "Time (in milliseconds) for a write to timeout.", S_PROXY, NULL },
    { "proxy-read-timeout", K_UINT, F(proxy_read_timeout_ms), "0", "0",
      "Time (in milliseconds) for a read to timeout.", S_PROXY, NULL },

    /* Experimental (accepted and ignored) */
    { "experimental-initial-corrupt-check", K_BOOL, NO_FIELD, NULL, "'false'",
      "Enable to check data corruption before serving any client/peer traffic.", S_EXPERIMENTAL,
      NULL },
    { "experimental-corrupt-check-time", K_DURATION, NO_FIELD, NULL, "'0s'",
      "Duration of time between cluster corruption check passes.", S_EXPERIMENTAL, NULL },
    { "experimental-enable-v2v3", K_STR, NO_FIELD, NULL, "''",
      "Serve v2 requests through the v3 backend under a given prefix.", S_EXPERIMENTAL, NULL },
    { "experimental-backend-bbolt-freelist-type", K_STR, NO_FIELD, NULL, "'array'",
      "ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend "
      "uses(array and map are supported types).",
      S_EXPERIMENTAL, NULL },
    { "experimental-enable-lease-checkpoint", K_BOOL, NO_FIELD, NULL, "'false'",
      "ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to "
      "prevent indefinite auto-renewal of long lived leases.",
      S_EXPERIMENTAL, NULL },
    { "experimental-compaction-batch-limit", K_INT, NO_FIELD, NULL, "1000",
      "ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction "
      "batch.",
      S_EXPERIMENTAL, NULL },
    { "experimental-peer-skip-client-san-verification", K_BOOL, NO_FIELD, NULL, "'false'",
      "Skip verification of SAN field in client certificate for peer connections.", S_EXPERIMENTAL,
      NULL },
    { "experimental-watch-progress-notify-interval", K_DURATION, NO_FIELD, NULL, "'10m'",
      "Duration of periodical watch progress notification.", S_EXPERIMENTAL, NULL },
    { "experimental-warning-apply-duration", K_DURATION, NO_FIELD, NULL, "'100ms'",
      "Warning is generated if requests take more than this duration.", S_EXPERIMENTAL, NULL },

    /* Unsafe */
    { "force-new-cluster", K_BOOL, F(force_new_cluster), "false", "'false'",
      "Force to create a new one-member cluster.", S_UNSAFE, NULL },

    /* TO BE DEPRECATED */
    { "debug", K_BOOL, F(debug), "false", "'false'",
      "Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use "
      "'--log-level=debug' instead.",
      S_DEPRECATED, NULL },
    { "log-package-levels", K_STR, F(log_package_levels), NULL, "''",
      "Specify a particular log level for each etcd package (eg: "
      "'etcdmain=CRITICAL,etcdserver=DEBUG').",
      S_DEPRECATED, NULL },

    /* etcetera */
    { "event-history", K_UINT, F(event_history), "1000", "'1000'",
      "Number of recent events kept for watchers (etcd keeps 1000).", S_ETCETERA, NULL },
    { "reactors", K_UINT, F(reactors), NULL, "'<online CPUs>'",
      "Number of reactor (request-serving) threads.", S_ETCETERA, NULL },
    { "max-connections", K_UINT, F(max_connections), "0", "'0'",
      "Maximum number of open client connections (0 is unlimited).", S_ETCETERA, NULL },

    /* etcd 0.4 / 2.x */
    { "addr", K_ADDR, F(addr), NULL, "''",
      "(0.4) Advertised client IP:port; also listens on all interfaces at that port unless "
      "-bind-addr is set.",
      S_LEGACY, NULL },
    { "bind-addr", K_ADDR, F(bind_addr), NULL, "''",
      "(0.4) Client listen IP[:port] (the port defaults to -addr's).", S_LEGACY, NULL },
    { "peer-addr", K_ADDR, F(peer_addr), NULL, "''",
      "(0.4) Advertised peer IP:port; also listens on all interfaces at that port unless "
      "-peer-bind-addr is set.",
      S_LEGACY, NULL },
    { "peer-bind-addr", K_ADDR, F(peer_bind_addr), NULL, "''",
      "(0.4) Peer listen IP[:port] (the port defaults to -peer-addr's).", S_LEGACY, NULL },
    { "peers", K_PEERS, F(peers), NULL, "''",
      "(0.4) Comma-separated host:port peer addresses of an existing cluster to join.", S_LEGACY,
      NULL },
    { "peers-file", K_STR, F(peers_file), NULL, "''",
      "(0.4) File holding the comma-separated -peers list.", S_LEGACY, NULL },
    { "ca-file", K_CA, F(client_tls), NULL, "''",
      "(2.x) Client CA file: same as --trusted-ca-file with --client-cert-auth.", S_LEGACY, NULL },
    { "peer-ca-file", K_CA, F(peer_tls), NULL, "''",
      "(2.x) Peer CA file: same as --peer-trusted-ca-file with --peer-client-cert-auth.", S_LEGACY,
      NULL },

    /* Hidden */
    { "config-file", K_STR, F(config_file), NULL, NULL, NULL, S_HIDDEN, NULL },
    { "version", K_BOOL, F(_version), "false", NULL, NULL, S_HIDDEN, NULL },
    { "enable-grpc-gateway", K_BOOL, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "unsafe-no-fsync", K_BOOL, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "cluster-active-size", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "cluster-remove-delay", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "cluster-sync-interval", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "config", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "force", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "max-result-buffer", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "max-retry-attempts", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "peer-heartbeat-interval", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "peer-election-timeout", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "retry-interval", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "snapshot", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "v", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
    { "vv", K_IGNORED, NO_FIELD, NULL, NULL, NULL, S_HIDDEN, NULL },
};

#define FLAG_COUNT ET_ARRAY_SIZE(flags)

static const char *const section_titles[] = {
    [S_MEMBER] = "Member:",
    [S_CLUSTER] = "Clustering:",
    [S_SECURITY] = "Security:",
    [S_AUTH] = "Auth:",
    [S_PROFILING] = "Profiling and Monitoring:",
    [S_LOGGING] = "Logging:",
    [S_PROXY] = "v2 Proxy (to be deprecated in v4):",
    [S_EXPERIMENTAL] = "Experimental feature:",
    [S_UNSAFE] = "Unsafe feature:",
    [S_DEPRECATED] = "TO BE DEPRECATED:\n",
    [S_ETCETERA] = "etcetera:",
    [S_LEGACY] = "etcd 0.4 / 2.x compatibility:",
};

/* ---- output ------------------------------------------------------------------------------ */

struct pctx {
    struct et_config *cfg;
    FILE *out;
    FILE *err;
    char **envp;
    bool set_cmd[FLAG_COUNT]; /* given on the command line */
    bool set_any[FLAG_COUNT]; /* given on the command line, in the environment or the file */
    char *log_level;          /* --log-level text */
};

ET_PRINTF(3, 4) static void emit(struct pctx *p, char level, const char *fmt, ...)
{
    struct et_buf b = ET_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ET_ASSERT(n >= 0);
    char *dst = et_buf_reserve(&b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b.len = (size_t)n;
    if (p->err == stderr) {
        enum et_log_level l = ET_LOG_INFO;
        if (level == 'E' || level == 'C')
            l = ET_LOG_ERROR;
        else if (level == 'W')
            l = ET_LOG_WARN;
        else if (level == 'D')
            l = ET_LOG_DEBUG;
        et_log(l, "%s", b.data);
    } else {
        fprintf(p->err, "%c | %s\n", level, b.data);
    }
    et_buf_free(&b);
}

static const char usage_head[] =
    "Usage:\n"
    "\n"
    "  etcd [flags]\n"
    "    Start an etcd server.\n"
    "\n"
    "  etcd --version\n"
    "    Show the version of etcd.\n"
    "\n"
    "  etcd -h | --help\n"
    "    Show the help information about etcd.\n"
    "\n"
    "  etcd --config-file\n"
    "    Path to the server configuration file. Note that if a configuration file is provided, "
    "other command line flags and environment variables will be ignored.\n"
    "\n";

static void print_flag_list(FILE *out)
{
    int section = -1;
    for (size_t i = 0; i < FLAG_COUNT; i++) {
        const struct flag_def *f = &flags[i];
        if (f->section == S_HIDDEN)
            continue;
        if ((int)f->section != section) {
            if (section == S_UNSAFE)
                fputs("\nCAUTIOUS with unsafe flag! It may break the guarantees given by the "
                      "consensus protocol!\n",
                      out);
            section = (int)f->section;
            fprintf(out, "\n%s\n", section_titles[section]);
        }
        fprintf(out, "  --%s %s\n", f->name, f->shown);
        for (const char *h = f->help; *h != '\0';) {
            const char *nl = strchr(h, '\n');
            size_t len = nl ? (size_t)(nl - h) : strlen(h);
            fprintf(out, "    %.*s\n", (int)len, h);
            h += len + (nl ? 1 : 0);
        }
    }
}

void et_config_print_version(FILE *out)
{
    const char *arch = "amd64";
#if defined(__aarch64__)
    arch = "arm64";
#elif defined(__i386__)
    arch = "386";
#elif !defined(__x86_64__)
    arch = "unknown";
#endif
    fprintf(out, "etcd Version: %s\n", ET_ETCD_COMPAT_VERSION);
    fprintf(out, "etcetera Version: %s\n", ET_VERSION);
#ifdef ET_GIT_SHA
    fprintf(out, "Git SHA: %s\n", ET_GIT_SHA);
#else
    fputs("Git SHA: Not provided\n", out);
#endif
    fprintf(out, "Go Version: none (C17, %s)\n", __VERSION__);
    fprintf(out, "Go OS/Arch: linux/%s\n", arch);
}

/* ---- value parsing (Go strconv / flag semantics) ----------------------------------------- */

enum {
    V_OK,
    V_SYNTAX,
    V_RANGE
};

static bool underscore_ok(const char *s)
{
    char saw = '^';
    size_t i = 0;
    if (s[0] == '-' || s[0] == '+')
        s++;
    bool hex = false;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '0' && strchr("bBoOxX", s[1]) != NULL) {
        i = 2;
        saw = '0';
        hex = (s[1] | 0x20) == 'x';
    }
    for (; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return false;
        saw = '!';
    }
    return saw != '_';
}

/* strconv.ParseUint(s, 0, 64). */
static int go_parse_uint(const char *s0, uint64_t *out)
{
    const char *s = s0;
    if (*s == '\0')
        return V_SYNTAX;
    unsigned base = 10;
    if (s[0] == '0') {
        size_t n = strlen(s);
        char c1 = (char)(s[1] | 0x20);
        if (n >= 3 && c1 == 'b') {
            base = 2;
            s += 2;
        } else if (n >= 3 && c1 == 'o') {
            base = 8;
            s += 2;
        } else if (n >= 3 && c1 == 'x') {
            base = 16;
            s += 2;
        } else {
            base = 8;
            s += 1;
        }
    }
    bool underscores = false;
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        char c = *s;
        unsigned d;
        if (c == '_') {
            underscores = true;
            continue;
        } else if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            d = (unsigned)((c | 0x20) - 'a' + 10);
        } else {
            return V_SYNTAX;
        }
        if (d >= base)
            return V_SYNTAX;
        if (v > (UINT64_MAX - d) / base)
            return V_RANGE;
        v = v * base + d;
    }
    if (underscores && !underscore_ok(s0))
        return V_SYNTAX;
    *out = v;
    return V_OK;
}

/* strconv.ParseInt(s, 0, 64). */
static int go_parse_int(const char *s, int64_t *out)
{
    if (*s == '\0')
        return V_SYNTAX;
    bool neg = false;
    const char *d = s;
    if (*d == '+' || *d == '-') {
        neg = *d == '-';
        d++;
    }
    uint64_t u = 0;
    int rc = go_parse_uint(d, &u);
    if (rc == V_OK && underscore_ok(s) == false && strchr(s, '_') != NULL)
        rc = V_SYNTAX;
    if (rc != V_OK)
        return rc;
    if (!neg && u > (uint64_t)INT64_MAX)
        return V_RANGE;
    if (neg && u > (uint64_t)INT64_MAX + 1)
        return V_RANGE;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return V_OK;
}

/* strconv.ParseBool. */
static int go_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(t); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = true;
            return V_OK;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = false;
            return V_OK;
        }
    }
    return V_SYNTAX;
}

/* time.ParseDuration acceptance: [-+]("0" | (digits[.digits] unit)+). */
static int go_parse_duration(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0)
        return V_OK;
    if (*s == '\0')
        return V_SYNTAX;

    static const struct {
        const char *u;
        double ns;
    } units[] = { { "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
                  { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },        { "h", 3600e9 } };

    double total = 0;
    while (*s != '\0') {
        const char *start = s;
        double v = 0;
        while (*s >= '0' && *s <= '9')
            v = v * 10 + (*s++ - '0');
        bool digits = s != start;
        if (*s == '.') {
            s++;
            double scale = 0.1;
            const char *fs = s;
            while (*s >= '0' && *s <= '9') {
                v += (*s++ - '0') * scale;
                scale /= 10;
            }
            digits = digits || s != fs;
        }
        if (!digits)
            return V_SYNTAX;
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < ET_ARRAY_SIZE(units); i++) {
            size_t n = strlen(units[i].u);
            if (strncmp(s, units[i].u, n) == 0 && n > best) {
                best = n;
                mul = units[i].ns;
            }
        }
        if (best == 0)
            return V_SYNTAX;
        s += best;
        total += v * mul;
        if (total > 9223372036854775807.0)
            return V_SYNTAX;
    }
    return V_OK;
}

static void *field(struct et_config *cfg, const struct flag_def *f)
{
    return (char *)cfg + f->off;
}

static void split_list(const char *v, struct et_strlist *out, bool unique)
{
    struct et_strlist l = { 0 };
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool dup = false;
        for (size_t i = 0; unique && i < l.count; i++)
            dup = dup || (strlen(l.items[i]) == len && memcmp(l.items[i], p, len) == 0);
        if (!dup)
            et__strlist_push(&l, p, len);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *out = l;
}

static void dedup_sorted(struct et_strlist *l)
{
    size_t w = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (w > 0 && strcmp(l->items[w - 1], l->items[i]) == 0) {
            et_free(l->items[i]);
            continue;
        }
        l->items[w++] = l->items[i];
    }
    l->count = w;
}

/*
 * Checks an etcd 2.x address flag value (flags.IPAddressPort): "IP:port" with an IP literal (or
 * "localhost"); a bind address may also be a bare IP (0.4: the port comes from -addr).
 */
static int check_addr(const char *v, bool bind, struct et_buf *e)
{
    char host[128];
    const char *colon = strrchr(v, ':');
    bool bracket = v[0] == '[';
    if (bind && (colon == NULL || (bracket && v[strlen(v) - 1] == ']') ||
                 (!bracket && strchr(v, ':') != colon))) {
        colon = NULL; /* a bare IP */
    } else if (colon == NULL) {
        et_buf_printf(e, "address %s: missing port in address", v);
        return -EINVAL;
    } else if (!bracket && strchr(v, ':') != colon) {
        et_buf_printf(e, "address %s: too many colons in address", v);
        return -EINVAL;
    }
    size_t hlen = colon ? (size_t)(colon - v) : strlen(v);
    const char *h = v;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host) || (colon == NULL && hlen == 0)) {
        et_buf_append_str(e, "bad IP in address specification");
        return -EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    uint64_t port = 0;
    if (colon != NULL && (go_parse_uint(colon + 1, &port) != V_OK || port > 65535)) {
        et_buf_printf(e, "address %s: invalid port", v);
        return -EINVAL;
    }
    if (hlen == 0 && bind) {
        et_buf_append_str(e, "IP required can't use a port only");
        return -EINVAL;
    }
    if (!et_url_host_bindable("http", host)) {
        et_buf_append_str(e, "bad IP in address specification");
        return -EINVAL;
    }
    return 0;
}

/*
 * Sets flag @f from @v. On error appends the reason Go's flag package reports ("parse error",
 * "value out of range", "invalid value", or a URL message) to @e and returns -EINVAL.
 */
static int flag_set(struct pctx *p, const struct flag_def *f, const char *v, struct et_buf *e)
{
    struct et_config *cfg = p->cfg;
    bool store = f->off != NO_FIELD;
    switch (f->kind) {
    case K_STR: {
        if (strcmp(f->name, "log-level") == 0) {
            et_free(p->log_level);
            p->log_level = et_strdup(v);
        }
        if (!store)
            return 0;
        char **dst = field(cfg, f);
        et_free(*dst);
        *dst = *v ? et_strdup(v) : NULL;
        return 0;
    }
    case K_BOOL: {
        bool b;
        if (go_parse_bool(v, &b) != V_OK) {
            et_buf_append_str(e, "parse error");
            return -EINVAL;
        }
        if (store)
            *(bool *)field(cfg, f) = b;
        return 0;
    }
    case K_UINT: {
        uint64_t u = 0;
        int rc = go_parse_uint(v, &u);
        if (rc != V_OK) {
            et_buf_append_str(e, rc == V_RANGE ? "value out of range" : "parse error");
            return -EINVAL;
        }
        if (store)
            *(uint64_t *)field(cfg, f) = u;
        return 0;
    }
    case K_INT: {
        int64_t i = 0;
        int rc = go_parse_int(v, &i);
        if (rc != V_OK) {
            et_buf_append_str(e, rc == V_RANGE ? "value out of range" : "parse error");
            return -EINVAL;
        }
        if (store)
            *(int64_t *)field(cfg, f) = i;
        return 0;
    }
    case K_DURATION:
        if (go_parse_duration(v) != V_OK) {
            et_buf_append_str(e, "parse error");
            return -EINVAL;
        }
        return 0;
    case K_URLS:
    case K_CORS: {
        struct et_strlist l = { 0 };
        const char *exception = f->kind == K_CORS ? "*" : "";
        if (strcmp(v, exception) == 0) {
            if (*v)
                et__strlist_push(&l, v, strlen(v));
        } else if (et__urls_parse_buf(v, &l, e) != 0) {
            return -EINVAL;
        }
        dedup_sorted(&l);
        if (store) {
            struct et_strlist *dst = field(cfg, f);
            et_strlist_free(dst);
            *dst = l;
        } else {
            et_strlist_free(&l);
        }
        return 0;
    }
    case K_LIST: {
        struct et_strlist l = { 0 };
        if (*v)
            split_list(v, &l, true);
        if (store) {
            struct et_strlist *dst = field(cfg, f);
            et_strlist_free(dst);
            *dst = l;
        } else {
            et_strlist_free(&l);
        }
        return 0;
    }
    case K_ENUM:
        for (int i = 0; f->choices[i] != NULL; i++) {
            if (strcmp(v, f->choices[i]) == 0) {
                *(int *)field(cfg, f) = i;
                return 0;
            }
        }
        et_buf_append_str(e, "invalid value");
        return -EINVAL;
    case K_IGNORED:
        emit(p, 'W', "pkg/flags: flag \"-%s\" is no longer supported - ignoring.", f->name);
        return 0;
    case K_ADDR: {
        bool bind = strstr(f->name, "bind") != NULL;
        if (check_addr(v, bind, e) != 0)
            return -EINVAL;
        char **dst = field(cfg, f);
        et_free(*dst);
        *dst = et_strdup(v);
        return 0;
    }
    case K_PEERS: {
        struct et_strlist l = { 0 };
        if (*v)
            split_list(v, &l, true);
        for (size_t i = 0; i < l.count; i++) {
            const char *colon = strrchr(l.items[i], ':');
            if (colon == NULL || colon == l.items[i] || colon[1] == '\0') {
                et_buf_printf(e, "address %s: missing port in address", l.items[i]);
                et_strlist_free(&l);
                return -EINVAL;
            }
        }
        struct et_strlist *dst = field(cfg, f);
        et_strlist_free(dst);
        *dst = l;
        return 0;
    }
    case K_CA: {
        struct et_config_tls *t = field(cfg, f);
        et_free(t->trusted_ca_file);
        t->trusted_ca_file = *v ? et_strdup(v) : NULL;
        t->client_cert_auth = t->client_cert_auth || *v;
        return 0;
    }
    }
    ET_UNREACHABLE();
}

_Static_assert(sizeof(enum et_cluster_state) == sizeof(int), "K_ENUM stores an int");
_Static_assert(sizeof(enum et_proxy_mode) == sizeof(int), "K_ENUM stores an int");
_Static_assert(sizeof(enum et_discovery_fallback) == sizeof(int), "K_ENUM stores an int");

static void set_defaults(struct pctx *p)
{
    memset(p->cfg, 0, sizeof(*p->cfg));
    struct et_buf e = ET_BUF_INIT;
    for (size_t i = 0; i < FLAG_COUNT; i++) {
        if (flags[i].def == NULL || flags[i].kind == K_IGNORED)
            continue;
        int rc = flag_set(p, &flags[i], flags[i].def, &e);
        ET_ASSERT(rc == 0);
    }
    et_buf_free(&e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    p->cfg->reactors = n > 0 ? (uint64_t)n : 1;
    p->cfg->log_level = ET_LOG_INFO;
}

static const struct flag_def *flag_find(const char *name, size_t len, size_t *index)
{
    for (size_t i = 0; i < FLAG_COUNT; i++) {
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0) {
            *index = i;
            return &flags[i];
        }
    }
    return NULL;
}

/* ---- the command line (Go flag.FlagSet.Parse) -------------------------------------------- */

/* etcd 0.4's one-letter names (it printed "[deprecated] use -X, not -Y" and went on). */
static const char *const aliases[][2] = {
    { "C", "peers" },
    { "CF", "peers-file" },
    { "n", "name" },
    { "c", "addr" },
    { "cl", "bind-addr" },
    { "s", "peer-addr" },
    { "sl", "peer-bind-addr" },
    { "d", "data-dir" },
    { "serverCAFile", "peer-ca-file" },
    { "serverCert", "peer-cert-file" },
    { "serverKey", "peer-key-file" },
    { "clientCAFile", "ca-file" },
    { "clientCert", "cert-file" },
    { "clientKey", "key-file" },
    { "snapshotCount", "snapshot-count" },
};

/* Returns 0 and the index of the first positional argument, 1 for help, or -EINVAL after
 * printing the error and usage. */
static int parse_argv(struct pctx *p, int argc, char **argv, int *first_positional)
{
    int i = 1;
    struct et_buf e = ET_BUF_INIT;
    int rc = 0;
    while (i < argc) {
        const char *s = argv[i];
        if (strlen(s) < 2 || s[0] != '-')
            break;
        const char *name = s + 1;
        if (s[1] == '-') {
            name++;
            if (s[2] == '\0') {
                i++;
                break;
            }
        }
        if (name[0] == '\0' || name[0] == '-' || name[0] == '=') {
            et_buf_printf(&e, "bad flag syntax: %s", s);
            rc = -EINVAL;
            break;
        }
        i++;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        size_t idx = 0;
        const struct flag_def *f = flag_find(name, nlen, &idx);
        for (size_t a = 0; f == NULL && a < ET_ARRAY_SIZE(aliases); a++) {
            if (strlen(aliases[a][0]) == nlen && memcmp(aliases[a][0], name, nlen) == 0) {
                f = flag_find(aliases[a][1], strlen(aliases[a][1]), &idx);
                fprintf(p->err, "[deprecated] use -%s, not -%s\n", aliases[a][1], aliases[a][0]);
            }
        }
        if (f == NULL) {
            if ((nlen == 4 && memcmp(name, "help", 4) == 0) || (nlen == 1 && name[0] == 'h')) {
                rc = 1;
                break;
            }
            et_buf_printf(&e, "flag provided but not defined: -%.*s", (int)nlen, name);
            rc = -EINVAL;
            break;
        }
        struct et_buf why = ET_BUF_INIT;
        if (f->kind == K_BOOL || f->kind == K_IGNORED) {
            if (flag_set(p, f, value ? value : "true", &why) != 0) {
                et_buf_append_str(&e, "invalid boolean value ");
                et__go_quote(&e, value, strlen(value));
                et_buf_printf(&e, " for -%s: %s", f->name, why.data);
                rc = -EINVAL;
            }
        } else {
            if (value == NULL && i < argc)
                value = argv[i++];
            if (value == NULL) {
                et_buf_printf(&e, "flag needs an argument: -%s", f->name);
                rc = -EINVAL;
            } else if (flag_set(p, f, value, &why) != 0) {
                et_buf_append_str(&e, "invalid value ");
                et__go_quote(&e, value, strlen(value));
                et_buf_printf(&e, " for flag -%s: %s", f->name, why.data);
                rc = -EINVAL;
            }
        }
        et_buf_free(&why);
        if (rc != 0)
            break;
        p->set_cmd[idx] = true;
        p->set_any[idx] = true;
    }
    if (rc < 0) {
        fprintf(p->err, "%s\n%s", e.data, usage_head);
        fflush(p->err);
    }
    et_buf_free(&e);
    *first_positional = i;
    return rc;
}

/* ---- the environment (pkg/flags.SetFlagsFromEnv) ----------------------------------------- */

static const char *env_get(char **envp, const char *key)
{
    size_t klen = strlen(key);
    for (char **e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=')
            return *e + klen + 1;
    return NULL;
}

static void env_key(const char *name, char *key, size_t key_len)
{
    size_t j = 0;
    for (const char *c = "ETCD_"; *c && j + 1 < key_len; c++)
        key[j++] = *c;
    for (const char *c = name; *c && j + 1 < key_len; c++)
        key[j++] = *c == '-' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    key[j] = '\0';
}

static int cmp_flag_index(const void *a, const void *b)
{
    return strcmp(flags[*(const size_t *)a].name, flags[*(const size_t *)b].name);
}

/*
 * pkg/flags.SetFlagsFromEnv: every flag not given on the command line takes its non-empty
 * ETCD_* value (in name order; a bad value does not stop the others and the last error is the
 * one reported); then, in environment order, an ETCD_* variable of a flag given on the command
 * line is fatal even when empty, and one that was not used is "unrecognized" (which etcd also
 * says of a known variable set to the empty string). Returns 0, or ET_CONFIG_EXIT after printing.
 */
static int apply_env(struct pctx *p)
{
    size_t order[FLAG_COUNT];
    bool used[FLAG_COUNT] = { false };
    for (size_t i = 0; i < FLAG_COUNT; i++)
        order[i] = i;
    qsort(order, FLAG_COUNT, sizeof(order[0]), cmp_flag_index);
    char key[128];
    struct et_buf last = ET_BUF_INIT;
    for (size_t k = 0; k < FLAG_COUNT; k++) {
        size_t i = order[k];
        env_key(flags[i].name, key, sizeof(key));
        const char *v = env_get(p->envp, key);
        if (p->set_cmd[i] || v == NULL || *v == '\0')
            continue;
        used[i] = true;
        struct et_buf why = ET_BUF_INIT;
        if (flag_set(p, &flags[i], v, &why) != 0) {
            et_buf_reset(&last);
            et_buf_append_str(&last, "invalid value ");
            et__go_quote(&last, v, strlen(v));
            et_buf_printf(&last, " for %s: %s", key, why.data);
        } else {
            p->set_any[i] = true;
            emit(p, 'I', "pkg/flags: recognized and used environment variable %s=%s", key, v);
        }
        et_buf_free(&why);
    }
    int rc = 0;
    for (char **e = p->envp; rc == 0 && e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);
        bool known = false;
        for (size_t i = 0; i < FLAG_COUNT && !known; i++) {
            env_key(flags[i].name, key, sizeof(key));
            if (strlen(key) != klen || memcmp(key, *e, klen) != 0)
                continue;
            known = used[i];
            if (p->set_cmd[i]) {
                emit(p, 'C',
                     "pkg/flags: conflicting environment variable \"%s\" is shadowed by "
                     "corresponding command-line flag (either unset environment variable or "
                     "disable flag)",
                     key);
                rc = ET_CONFIG_EXIT;
            }
        }
        if (rc == 0 && !known && strncmp(*e, "ETCD_", 5) == 0)
            emit(p, 'W', "pkg/flags: unrecognized environment variable %s", *e);
    }
    if (rc == 0 && last.len > 0) {
        emit(p, 'E', "etcdmain: error verifying flags, %s. See 'etcd --help'.", last.data);
        rc = ET_CONFIG_EXIT;
    }
    et_buf_free(&last);
    return rc;
}

/* ---- the config file --------------------------------------------------------------------- */

/* The Go type etcd's config structs give a key (for json.Unmarshal's messages). */
static const char *yaml_go_type(const struct flag_def *f)
{
    switch (f->kind) {
    case K_BOOL:
        return "bool";
    case K_UINT:
        if (strcmp(f->name, "snapshot-count") == 0 || f->section == S_ETCETERA)
            return "uint64";
        return strcmp(f->name, "max-concurrent-streams") == 0 ? "uint32" : "uint";
    case K_INT:
        return strcmp(f->name, "quota-backend-bytes") == 0 ? "int64" : "int";
    case K_DURATION:
        return "time.Duration";
    case K_LIST:
        return strcmp(f->name, "host-whitelist") == 0 ? "string" : "[]string";
    default:
        return "string";
    }
}

static const char *yaml_kind_name(enum et__yaml_type t)
{
    switch (t) {
    case ET_YAML_BOOL:
        return "bool";
    case ET_YAML_INT:
    case ET_YAML_FLOAT:
        return "number";
    case ET_YAML_LIST:
        return "array";
    default:
        return "string";
    }
}

/* YAML 1.1 booleans, as the Go yaml library resolves them (true words). */
static bool yaml_true(const char *v)
{
    static const char *const t[] = { "y",    "Y",    "yes", "Yes", "YES", "true",
                                     "True", "TRUE", "on",  "On",  "ON" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(t); i++)
        if (strcmp(v, t[i]) == 0)
            return true;
    return false;
}

/* Maps a YAML key to a flag: top level keys are flag names (TLS keys only inside the
 * *-transport-security maps). Returns NULL for keys etcd ignores, among them the 0.4 / 2.x
 * names (addr, peers, ca-file, ...), which etcd 3.4's config file does not know. */
static const struct flag_def *yaml_flag(const struct et__yaml_entry *y, size_t *idx)
{
    static const char *const tls_keys[][3] = {
        /* yaml key, client flag, peer flag */
        { "cert-file", "cert-file", "peer-cert-file" },
        { "key-file", "key-file", "peer-key-file" },
        { "client-cert-auth", "client-cert-auth", "peer-client-cert-auth" },
        { "trusted-ca-file", "trusted-ca-file", "peer-trusted-ca-file" },
        { "auto-tls", "auto-tls", "peer-auto-tls" },
        { "crl-file", "client-crl-file", "peer-crl-file" },
        { "allowed-cn", NULL, "peer-cert-allowed-cn" },
        { "allowed-hostname", "client-cert-allowed-hostname", "peer-cert-allowed-hostname" },
    };
    int side = -1;
    if (strcmp(y->section, "client-transport-security") == 0)
        side = 1;
    else if (strcmp(y->section, "peer-transport-security") == 0)
        side = 2;
    else if (y->section[0] != '\0')
        return NULL;
    if (side < 0) {
        for (size_t i = 0; i < ET_ARRAY_SIZE(tls_keys); i++)
            if (strcmp(y->key, tls_keys[i][1] ? tls_keys[i][1] : "") == 0 ||
                strcmp(y->key, tls_keys[i][2]) == 0)
                return NULL;
        const struct flag_def *f = flag_find(y->key, strlen(y->key), idx);
        if (f != NULL && (f->kind == K_IGNORED || f->section == S_LEGACY ||
                          strcmp(f->name, "config-file") == 0 || strcmp(f->name, "version") == 0))
            return NULL;
        return f;
    }
    for (size_t i = 0; i < ET_ARRAY_SIZE(tls_keys); i++) {
        const char *name = tls_keys[i][side];
        if (name != NULL && strcmp(y->key, tls_keys[i][0]) == 0)
            return flag_find(name, strlen(name), idx);
    }
    return NULL;
}

/* json.Unmarshal's complaint about a value of the wrong type. */
static void yaml_type_error(const struct et__yaml_entry *y, const struct flag_def *f,
                            const char *number, struct et_buf *e)
{
    bool proxy = strncmp(f->name, "proxy", 5) == 0 || strcmp(f->name, "discovery-fallback") == 0;
    et_buf_printf(e,
                  "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal %s%s%s "
                  "into Go struct field %s.%s%s%s of type %s",
                  yaml_kind_name(y->type), number ? " " : "", number ? number : "",
                  proxy ? "configProxy" : "configYAML", y->section, y->section[0] ? "." : "",
                  y->key, yaml_go_type(f));
}

/*
 * Applies one YAML entry with the typing of etcd's json-tagged structs (spec/config.md section
 * 4). Returns 0, -EINVAL with the message in @e, or ET_CONFIG_EXIT after printing a fatal line.
 */
static int apply_yaml_entry(struct pctx *p, const struct et__yaml_entry *y, struct et_buf *e)
{
    size_t idx = 0;
    const struct flag_def *f = yaml_flag(y, &idx);
    if (f == NULL || y->type == ET_YAML_NULL)
        return 0;
    const char *go = yaml_go_type(f);
    const char *v = y->value;
    bool is_enum = f->kind == K_ENUM;
    bool proxy_str = is_enum && strcmp(f->name, "initial-cluster-state") != 0;
    struct et_buf why = ET_BUF_INIT;
    int rc = 0;
    if (strcmp(go, "[]string") == 0) {
        if (y->type != ET_YAML_LIST)
            rc = -EINVAL;
    } else if (y->type == ET_YAML_LIST) {
        rc = -EINVAL;
    } else if (strcmp(go, "string") == 0) {
        if (y->type == ET_YAML_BOOL && proxy_str)
            v = yaml_true(v) ? "true" : "false";
        else if (y->type != ET_YAML_STRING && !proxy_str)
            rc = -EINVAL;
    } else if (strcmp(go, "bool") == 0) {
        if (y->type != ET_YAML_BOOL)
            rc = -EINVAL;
        else if (f->off != NO_FIELD)
            *(bool *)field(p->cfg, f) = yaml_true(v);
        goto done;
    } else {
        int64_t i = 0;
        uint64_t u = 0;
        bool ok = y->type == ET_YAML_INT;
        bool neg = v[0] == '-';
        if (ok && go[0] == 'u')
            ok = !neg && go_parse_uint(v[0] == '+' ? v + 1 : v, &u) == V_OK &&
                 (strcmp(go, "uint32") != 0 || u <= UINT32_MAX);
        else if (ok)
            ok = go_parse_int(v, &i) == V_OK;
        if (!ok && (y->type == ET_YAML_INT || y->type == ET_YAML_FLOAT)) {
            yaml_type_error(y, f, v, e);
            return -EINVAL;
        }
        if (!ok)
            rc = -EINVAL;
        else if (f->off != NO_FIELD && f->kind == K_UINT)
            *(uint64_t *)field(p->cfg, f) = u;
        else if (f->off != NO_FIELD && f->kind == K_INT)
            *(int64_t *)field(p->cfg, f) = i;
        goto done;
    }
    if (rc != 0)
        goto done;
    if (strcmp(f->name, "initial-cluster-state") == 0 && *v == '\0')
        v = "new";
    if ((f->kind == K_URLS || f->kind == K_CORS) && *v == '\0')
        goto done; /* an empty list keeps the default, as etcd's file loader */
    if (flag_set(p, f, v, &why) != 0) {
        if (f->kind == K_URLS || f->kind == K_CORS) {
            fprintf(p->err, "unexpected error setting up %s: %s\n", f->name, why.data);
        } else if (proxy_str) {
            emit(p, 'C', "unexpected error setting up %s: %s",
                 strcmp(f->name, "proxy") == 0 ? "proxyFlag" : "discovery-fallback flag", why.data);
        } else if (is_enum) {
            et_buf_free(&why);
            et_buf_append_str(e, "unexpected clusterState ");
            et__go_quote(e, v, strlen(v));
            return -EINVAL;
        } else {
            /* No string key etcd reads can fail here; should one, it must not fail silently. */
            et_buf_append_str(e, "invalid value ");
            et__go_quote(e, v, strlen(v));
            et_buf_printf(e, " for %s: %s", y->key, why.data);
            et_buf_free(&why);
            return -EINVAL;
        }
        et_buf_free(&why);
        return ET_CONFIG_EXIT;
    }
done:
    et_buf_free(&why);
    if (rc != 0) {
        yaml_type_error(y, f, NULL, e);
        return rc;
    }
    p->set_any[idx] = true;
    return 0;
}

/* Appends "<op> <path>: <reason>" as Go's os.PathError reads (its errno texts are libc's with a
 * lower-case first letter: "no such file or directory", "is a directory"). */
static void path_error(struct et_buf *e, const char *op, const char *path, int err)
{
    const char *why = strerror(err);
    char first = why[0] >= 'A' && why[0] <= 'Z' ? (char)(why[0] - 'A' + 'a') : why[0];
    et_buf_printf(e, "%s %s: %c%s", op, path, first, why[0] ? why + 1 : "");
}

/* Loads @path; returns 0 or ET_CONFIG_EXIT after printing. */
static int apply_file(struct pctx *p, const char *path)
{
    emit(p, 'I',
         "etcdmain: Loading server configuration from \"%s\". Other configuration command line "
         "flags and environment variables will be ignored if provided.",
         path);
    struct et_buf e = ET_BUF_INIT;
    struct et_buf text = ET_BUF_INIT;
    int rc = 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        path_error(&e, "open", path, errno);
        rc = -EINVAL;
    } else {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            et_buf_append(&text, chunk, n);
        /* A directory opens but cannot be read: etcd says "read <path>: is a directory". */
        if (ferror(fp)) {
            path_error(&e, "read", path, errno);
            rc = -EINVAL;
        }
        fclose(fp);
    }
    struct et__yaml_doc doc = { 0 };
    if (rc == 0)
        rc = et__yaml_parse(text.data ? text.data : "", text.len, &doc, &e);
    for (size_t i = 0; rc == 0 && i < doc.count; i++)
        rc = apply_yaml_entry(p, &doc.entries[i], &e);
    if (rc < 0 && e.len == 0)
        et_buf_append_str(&e, "invalid configuration file");
    if (rc < 0)
        emit(p, 'E', "etcdmain: error verifying flags, %s. See 'etcd --help'.", e.data);
    et__yaml_free(&doc);
    et_buf_free(&text);
    et_buf_free(&e);
    return rc == 0 ? 0 : ET_CONFIG_EXIT;
}

/* ---- derived settings and Validate() ----------------------------------------------------- */

static size_t flag_index(const char *name)
{
    size_t idx = 0;
    const struct flag_def *f = flag_find(name, strlen(name), &idx);
    ET_ASSERT(f != NULL);
    return idx;
}

/* "scheme://host:port" from an address flag value; @port_from supplies a missing port. */
static char *addr_url(const char *scheme, const char *addr, const char *port_from)
{
    struct et_buf b = ET_BUF_INIT;
    bool has_port = strrchr(addr, ':') != NULL && (addr[0] != '[' || addr[strlen(addr) - 1] != ']');
    if (addr[0] != '[' && strchr(addr, ':') != strrchr(addr, ':'))
        has_port = false; /* a bare IPv6 literal */
    if (has_port || port_from == NULL) {
        et_buf_printf(&b, "%s://%s", scheme, addr);
    } else {
        const char *port = strrchr(port_from, ':');
        bool v6 = addr[0] != '[' && strchr(addr, ':') != NULL;
        et_buf_printf(&b, "%s://%s%s%s%s", scheme, v6 ? "[" : "", addr, v6 ? "]" : "", port);
    }
    return b.data;
}

static void set_url_list(struct et_strlist *l, char *url)
{
    et_strlist_free(l);
    et__strlist_push(l, url, strlen(url));
    et_free(url);
}

/*
 * Folds the 0.4 / 2.x address flags into the URL lists (spec/config.md sections 6 and 8.1).
 * Returns 0, or -EINVAL with "Set only one of flags -X and -Y" in @e.
 */
static int apply_legacy_addrs(struct pctx *p, struct et_buf *e)
{
    struct et_config *cfg = p->cfg;

    const struct {
        const char *addr_flag, *url_flag;
        char *value;
    } pairs[] = {
        { "addr", "advertise-client-urls", cfg->addr },
        { "bind-addr", "listen-client-urls", cfg->bind_addr },
        { "peer-addr", "initial-advertise-peer-urls", cfg->peer_addr },
        { "peer-bind-addr", "listen-peer-urls", cfg->peer_bind_addr },
    };

    for (size_t i = 0; i < ET_ARRAY_SIZE(pairs); i++) {
        if (pairs[i].value != NULL && p->set_any[flag_index(pairs[i].url_flag)]) {
            et_buf_printf(e, "Set only one of flags -%s and -%s", pairs[i].url_flag,
                          pairs[i].addr_flag);
            return -EINVAL;
        }
    }
    const char *cs = cfg->client_tls.cert_file && cfg->client_tls.key_file ? "https" : "http";
    const char *ps = cfg->peer_tls.cert_file && cfg->peer_tls.key_file ? "https" : "http";
    if (cfg->addr != NULL) {
        set_url_list(&cfg->advertise_client_urls, addr_url(cs, cfg->addr, NULL));
        p->set_any[flag_index("advertise-client-urls")] = true;
        if (cfg->bind_addr == NULL)
            set_url_list(&cfg->listen_client_urls, addr_url(cs, "0.0.0.0", cfg->addr));
    }
    if (cfg->bind_addr != NULL) {
        set_url_list(&cfg->listen_client_urls,
                     addr_url(cs, cfg->bind_addr, cfg->addr ? cfg->addr : ":4001"));
        p->set_any[flag_index("listen-client-urls")] = true;
    }
    if (cfg->peer_addr != NULL) {
        set_url_list(&cfg->initial_advertise_peer_urls, addr_url(ps, cfg->peer_addr, NULL));
        p->set_any[flag_index("initial-advertise-peer-urls")] = true;
        if (cfg->peer_bind_addr == NULL)
            set_url_list(&cfg->listen_peer_urls, addr_url(ps, "0.0.0.0", cfg->peer_addr));
    }
    if (cfg->peer_bind_addr != NULL) {
        set_url_list(&cfg->listen_peer_urls,
                     addr_url(ps, cfg->peer_bind_addr, cfg->peer_addr ? cfg->peer_addr : ":7001"));
        p->set_any[flag_index("listen-peer-urls")] = true;
    }
    if (cfg->peers_file != NULL && cfg->peers.count == 0) {
        FILE *fp = fopen(cfg->peers_file, "r");
        if (fp == NULL) {
            et_buf_printf(e, "open %s: %s", cfg->peers_file,
                          errno == ENOENT ? "no such file or directory" : strerror(errno));
            return -EINVAL;
        }
        char line[4096];
        size_t n = fread(line, 1, sizeof(line) - 1, fp);
        fclose(fp);
        line[n] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        const struct flag_def *f = &flags[flag_index("peers")];
        struct et_buf why = ET_BUF_INIT;
        int rc = flag_set(p, f, line, &why);
        if (rc != 0)
            et_buf_printf(e, "invalid -peers-file %s: %s", cfg->peers_file, why.data);
        et_buf_free(&why);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void derive(struct pctx *p)
{
    struct et_config *cfg = p->cfg;
    cfg->listen_client_urls_set = p->set_any[flag_index("listen-client-urls")];
    cfg->advertise_client_urls_set = p->set_any[flag_index("advertise-client-urls")];
    cfg->listen_peer_urls_set = p->set_any[flag_index("listen-peer-urls")];
    cfg->initial_advertise_peer_urls_set = p->set_any[flag_index("initial-advertise-peer-urls")];
    cfg->initial_cluster_set = p->set_any[flag_index("initial-cluster")];
    if (cfg->name == NULL)
        cfg->name = et_strdup("");
    /* A named member with no --initial-cluster forms a cluster of itself (spec 3.2). */
    if (!cfg->initial_cluster_set && strcmp(cfg->name, "default") != 0) {
        struct et_buf b = ET_BUF_INIT;
        for (size_t i = 0; i < cfg->initial_advertise_peer_urls.count; i++)
            et_buf_printf(&b, "%s%s=%s", i ? "," : "", cfg->name,
                          cfg->initial_advertise_peer_urls.items[i]);
        et_free(cfg->initial_cluster);
        cfg->initial_cluster = b.data;
    }
    if ((cfg->discovery || cfg->discovery_srv || cfg->discovery_srv_name) &&
        !cfg->initial_cluster_set) {
        et_free(cfg->initial_cluster);
        cfg->initial_cluster = NULL;
    }
    if (cfg->data_dir == NULL) {
        struct et_buf b = ET_BUF_INIT;
        et_buf_printf(&b, "%s.etcd", cfg->name);
        cfg->data_dir = b.data;
    }
    if (cfg->initial_cluster_token == NULL)
        cfg->initial_cluster_token = et_strdup("etcd-cluster");
}

static int set_log_level(struct pctx *p, struct et_buf *e)
{
    static const struct {
        const char *name;
        enum et_log_level level;
    } levels[] = { { "debug", ET_LOG_DEBUG }, { "info", ET_LOG_INFO },   { "warn", ET_LOG_WARN },
                   { "error", ET_LOG_ERROR }, { "panic", ET_LOG_ERROR }, { "fatal", ET_LOG_ERROR },
                   { "", ET_LOG_INFO } };

    const char *l = p->log_level ? p->log_level : "info";
    for (size_t i = 0; i < ET_ARRAY_SIZE(levels); i++) {
        if (strcmp(l, levels[i].name) == 0) {
            p->cfg->log_level = p->cfg->debug ? ET_LOG_DEBUG : levels[i].level;
            return 0;
        }
    }
    et_buf_printf(e, "unknown level \"%s\"", l);
    return -EINVAL;
}

static int check_bind_urls(const struct et_strlist *l, struct et_buf *e)
{
    for (size_t i = 0; i < l->count; i++) {
        struct et_url u;
        char why[256];
        if (et_url_parse(l->items[i], &u, why, sizeof(why)) != 0) {
            et_buf_append_str(e, why);
            return -EINVAL;
        }
        bool ok = et_url_host_bindable(u.scheme, u.host);
        et_url_free(&u);
        if (!ok) {
            et_buf_printf(e, "expected IP in URL for binding (%s)", l->items[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static int check_host_urls(const struct et_strlist *l, const char *flag, struct et_buf *e)
{
    for (size_t i = 0; i < l->count; i++) {
        struct et_url u;
        char why[256];
        if (et_url_parse(l->items[i], &u, why, sizeof(why)) != 0) {
            et_buf_append_str(e, why);
            return -EINVAL;
        }
        bool empty = u.host[0] == '\0';
        et_url_free(&u);
        if (empty) {
            et_buf_printf(e, "--%s \"", flag);
            for (size_t j = 0; j < l->count; j++)
                et_buf_printf(e, "%s%s", j ? "," : "", l->items[j]);
            et_buf_printf(e, "\" must be \"host:port\" (unexpected empty host (%s))", l->items[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* embed.Config.Validate() and etcdmain's config.validate(). */
static int validate(struct pctx *p)
{
    struct et_config *cfg = p->cfg;
    struct et_buf e = ET_BUF_INIT;
    int rc = set_log_level(p, &e);
    if (rc == 0)
        rc = check_bind_urls(&cfg->listen_peer_urls, &e);
    if (rc == 0)
        rc = check_bind_urls(&cfg->listen_client_urls, &e);
    if (rc == 0)
        rc = check_bind_urls(&cfg->listen_metrics_urls, &e);
    if (rc == 0)
        rc = check_host_urls(&cfg->initial_advertise_peer_urls, "initial-advertise-peer-urls", &e);
    if (rc == 0)
        rc = check_host_urls(&cfg->advertise_client_urls, "advertise-client-urls", &e);
    if (rc == 0) {
        int n = (cfg->discovery != NULL) + (cfg->initial_cluster != NULL) +
                (cfg->discovery_srv != NULL);
        if (n > 1) {
            et_buf_append_str(&e, "multiple discovery or bootstrap flags are set. Choose one of "
                                  "\"initial-cluster\", \"discovery\" or \"discovery-srv\"");
            rc = -EINVAL;
        }
    }
    if (rc == 0 && cfg->heartbeat_interval_ms == 0) {
        et_buf_printf(&e, "--heartbeat-interval must be >0 (set to %" PRIu64 "ms)",
                      cfg->heartbeat_interval_ms);
        rc = -EINVAL;
    } else if (rc == 0 && cfg->election_timeout_ms == 0) {
        et_buf_printf(&e, "--election-timeout must be >0 (set to %" PRIu64 "ms)",
                      cfg->election_timeout_ms);
        rc = -EINVAL;
    } else if (rc == 0 && (cfg->heartbeat_interval_ms > UINT64_MAX / 5 ||
                           5 * cfg->heartbeat_interval_ms > cfg->election_timeout_ms)) {
        et_buf_printf(&e,
                      "--election-timeout[%" PRIu64 "ms] should be at least as 5 times as "
                      "--heartbeat-interval[%" PRIu64 "ms]",
                      cfg->election_timeout_ms, cfg->heartbeat_interval_ms);
        rc = -EINVAL;
    } else if (rc == 0 && cfg->election_timeout_ms > 50000) {
        et_buf_printf(&e,
                      "--election-timeout[%" PRIu64 "ms] is too long, and should be set less "
                      "than 50000ms",
                      cfg->election_timeout_ms);
        rc = -EINVAL;
    }
    bool unset_advertise = false;
    if (rc == 0 && cfg->listen_client_urls_set && !cfg->advertise_client_urls_set &&
        cfg->proxy == ET_PROXY_OFF) {
        et_buf_append_str(&e, "--advertise-client-urls is required when --listen-client-urls "
                              "is set explicitly");
        unset_advertise = true;
        rc = -EINVAL;
    }
    if (rc != 0) {
        emit(p, 'E', "etcdmain: error verifying flags, %s. See 'etcd --help'.", e.data);
        if (unset_advertise)
            emit(p, 'E',
                 "etcdmain: When listening on specific address(es), this etcd process "
                 "must advertise accessible url(s) to each connected client.");
    }
    et_buf_free(&e);
    return rc == 0 ? 0 : ET_CONFIG_EXIT;
}

/* The scheme/TLS checks etcd makes when it opens its listeners (spec 3.4). */
static int check_tls(struct pctx *p)
{
    struct et_config *cfg = p->cfg;

    const struct {
        const struct et_strlist *urls;
        const struct et_config_tls *tls;
        const char *what;
        const char *flags;
    } sides[] = {
        { &cfg->listen_peer_urls, &cfg->peer_tls, "peer", "--peer-cert-file, --peer-key-file" },
        { &cfg->listen_client_urls, &cfg->client_tls, "client", "--cert-file, --key-file" },
    };

    for (size_t s = 0; s < ET_ARRAY_SIZE(sides); s++) {
        const struct et_config_tls *t = sides[s].tls;
        bool have = (t->cert_file != NULL && t->key_file != NULL) || t->auto_tls;
        for (size_t i = 0; i < sides[s].urls->count; i++) {
            const char *u = sides[s].urls->items[i];
            bool https = strncmp(u, "https://", 8) == 0 || strncmp(u, "unixs://", 8) == 0;
            if (https && !have) {
                if (s == 0) {
                    struct et_url pu;
                    char why[64];
                    const char *hp = u;
                    if (et_url_parse(u, &pu, why, sizeof(why)) == 0)
                        hp = strstr(pu.raw, "://") + 3;
                    emit(p, 'C',
                         "etcdmain: cannot listen on TLS for %.*s: KeyFile and CertFile are not "
                         "presented",
                         (int)strcspn(hp, "/?#"), hp);
                    et_url_free(&pu);
                } else {
                    emit(p, 'C',
                         "etcdmain: TLS key/cert (%s) must be provided for %s url %s with HTTPS "
                         "scheme",
                         sides[s].flags, sides[s].what, u);
                }
                return ET_CONFIG_EXIT;
            }
            /* auto-tls makes certificate files whatever the scheme, so it warns too */
            if (!https && ((t->cert_file != NULL && t->key_file != NULL) || t->auto_tls))
                emit(p, 'W',
                     "embed: The scheme of %s url %s is HTTP while peer key/cert files are "
                     "presented. Ignored %skey/cert files.",
                     sides[s].what, u, s == 0 ? "peer " : "");
        }
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------ */

int et_config_parse_to(struct et_config *cfg, int argc, char **argv, char **envp, FILE *out,
                       FILE *err, int *exit_code)
{
    ET_ASSERT(cfg != NULL);
    ET_ASSERT(exit_code != NULL);
    ET_ASSERT(argc >= 0);
    struct pctx *p = et_calloc(1, sizeof(*p));
    p->cfg = cfg;
    p->out = out;
    p->err = err;
    p->envp = envp;
    set_defaults(p);
    *exit_code = 0;
    int first = 1;
    int rc = parse_argv(p, argc, argv, &first);
    if (rc == 1) {
        fputs(usage_head, err);
        fflush(err);
        print_flag_list(out);
        fflush(out);
        rc = ET_CONFIG_EXIT;
        goto out_free;
    }
    if (rc < 0) {
        *exit_code = 2;
        rc = ET_CONFIG_EXIT;
        goto out_free;
    }
    if (first < argc) {
        emit(p, 'E',
             "etcdmain: error verifying flags, '%s' is not a valid flag. See 'etcd --help'.",
             argv[first]);
        *exit_code = 1;
        rc = ET_CONFIG_EXIT;
        goto out_free;
    }
    if (cfg->_version) {
        et_config_print_version(out);
        fflush(out);
        rc = ET_CONFIG_EXIT;
        goto out_free;
    }
    if (cfg->config_file == NULL) {
        const char *f = env_get(envp, "ETCD_CONFIG_FILE");
        if (f != NULL && *f != '\0')
            cfg->config_file = et_strdup(f);
    }
    if (cfg->config_file != NULL) {
        char *path = cfg->config_file;
        cfg->config_file = NULL;
        et_config_free(cfg);
        set_defaults(p);
        memset(p->set_any, 0, sizeof(p->set_any));
        cfg->config_file = path;
        rc = apply_file(p, path);
    } else {
        rc = apply_env(p);
    }
    if (rc == 0) {
        struct et_buf e = ET_BUF_INIT;
        if (apply_legacy_addrs(p, &e) != 0) {
            emit(p, 'E', "etcdmain: error verifying flags, %s. See 'etcd --help'.", e.data);
            rc = ET_CONFIG_EXIT;
        }
        et_buf_free(&e);
    }
    if (rc == 0) {
        derive(p);
        rc = validate(p);
    }
    if (rc == 0)
        rc = check_tls(p);
    if (rc != 0)
        *exit_code = 1;
out_free:
    et_free(p->log_level);
    et_free(p);
    return rc;
}

int et_config_parse(struct et_config *cfg, int argc, char **argv, char **envp, int *exit_code)
{
    return et_config_parse_to(cfg, argc, argv, envp, stdout, stderr, exit_code);
}

void et_config_free(struct et_config *cfg)
{
    for (size_t i = 0; i < FLAG_COUNT; i++) {
        const struct flag_def *f = &flags[i];
        if (f->off == NO_FIELD)
            continue;
        if (f->kind == K_STR || f->kind == K_ADDR) {
            char **s = field(cfg, f);
            et_free(*s);
            *s = NULL;
        } else if (f->kind == K_URLS || f->kind == K_CORS || f->kind == K_LIST ||
                   f->kind == K_PEERS) {
            et_strlist_free(field(cfg, f));
        }
    }
}
