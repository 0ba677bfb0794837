/*
 * tools/ctl.h - etcetera-ctl internals: an etcdctl (v2 mode) compatible client.
 *
 * The program is single-threaded. It parses the global options (ctl_main.c), builds a client
 * over libcurl that speaks to the configured endpoints with etcd's client failover rules
 * (ctl_client.c), runs one command (ctl_keys.c, ctl_watch.c, ctl_member.c) and exits with
 * etcdctl's exit status. Every message, help screen and exit status follows spec/etcdctl.md.
 *
 * Memory: the process is short-lived; results handed out by these functions are "returns new"
 * and freed by their owners where the lifetime is a loop (watch), otherwise at exit.
 */
#ifndef ET_TOOLS_CTL_H
#define ET_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/buf.h"
#include "core/jsonread.h"

/* etcdctl's exit statuses (spec/etcdctl.md 10.2). */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_BAD_ARGS = 1,
    CTL_EXIT_BAD_CONNECTION = 2,
    CTL_EXIT_UNKNOWN_COMMAND = 3,
    CTL_EXIT_SERVER_ERROR = 4,
    CTL_EXIT_CLUSTER_NOT_HEALTHY = 5,
};

#define CTL_REFERENCE_VERSION "3.4.23" /* the etcdctl release whose behaviour we reproduce */

/* ======================= options (ctl_main.c) ======================= */

struct ctl_opts {
    bool debug;
    bool no_sync;
    bool insecure_discovery;
    const char *output;        /* "simple", "extended", "json" or anything the user typed */
    const char *endpoints;     /* the effective comma list after the selection order (4.1) */
    const char *discovery_srv; /* DNS domain for SRV discovery, "" for none */
    const char *cert_file;
    const char *key_file;
    const char *ca_file;
    const char *username;     /* "user" or "user:password", or NULL */
    int64_t timeout_ns;       /* per-request header timeout */
    int64_t total_timeout_ns; /* whole-command deadline */
};

/* ======================= client (ctl_client.c) ======================= */

/* One failed attempt or a whole failure, as the Go client would print it. */
struct ctl_error {
    char *text;   /* Error() of the error; NULL means success */
    bool cluster; /* a ClusterError: print the detail block after the Error: line */
    char **items; /* ClusterError members, each printed as "error #i: <item>" */
    size_t item_count;
    bool connection;   /* isConnectionError(): dial failures and deadlines */
    bool no_endpoints; /* client.ErrNoEndpoints from a sync */
};

struct ctl_resp {
    long status;         /* HTTP status */
    struct et_buf body;  /* response body */
    uint64_t etcd_index; /* X-Etcd-Index, 0 when absent */
};

struct ctl_req {
    const char *method;       /* "GET", "PUT", "POST", "DELETE" */
    const char *path;         /* unescaped path below the endpoint, e.g. "/v2/keys/a b" */
    const char *query;        /* encoded query without '?', or NULL */
    const char *body;         /* encoded body, or NULL for none */
    const char *content_type; /* for @body */
    bool one_shot;            /* do not retry on the next endpoint (creates, deletes) */
    bool wait;                /* long poll: neither header timeout nor deadline */
    bool no_deadline;         /* header timeout only (a context.TODO() request) */
};

struct ctl_client;

/*
 * Builds the client from @o: parses the endpoints and TLS files (printing etcdctl's message and
 * exiting 1 on error), then syncs the endpoint list from /v2/members unless @sync is false or
 * --no-sync was given (exiting 2 or 4 as etcdctl does), and prints the debug trace lines.
 */
struct ctl_client *ctl_client_new(const struct ctl_opts *o, bool sync);

/*
 * Sends @req to the pinned endpoint and fails over to the next ones like etcd's
 * httpClusterClient. Returns 0 with @resp filled, or -1 with @err set.
 */
int ctl_client_do(struct ctl_client *c, const struct ctl_req *req, struct ctl_resp *resp,
                  struct ctl_error *err);

/* A plain GET of an absolute @url (cluster-health); errors as Go's http.Client.Get formats them. */
int ctl_client_get_url(struct ctl_client *c, const char *url, struct ctl_resp *resp,
                       struct ctl_error *err);

/* Restarts the whole-command deadline (--total-timeout) from now. */
void ctl_client_reset_deadline(struct ctl_client *c);

/* The current endpoint list joined with @sep (for debug lines). */
void ctl_client_endpoints(const struct ctl_client *c, struct et_buf *b, const char *sep);

/*
 * Client URLs from the SRV records of @domain (spec/etcdctl.md 4.3): returns a new comma list,
 * or NULL when nothing usable was found; prints etcdctl's message and exits 1 when both
 * lookups fail.
 */
char *ctl_srv_discover(const char *domain, bool insecure);

/* Prompts on stdout and reads a line from stdin with echo off, as etcdctl does. Returns new. */
char *ctl_ask_password(const char *prompt);

void ctl_resp_free(struct ctl_resp *resp);
void ctl_error_free(struct ctl_error *err);
/* Sets @err to a plain error with printf-formatted text. */
void ctl_error_set(struct ctl_error *err, const char *fmt, ...) ET_PRINTF(2, 3);

/* Prints "Error:  <err>" (and the cluster detail block) to stderr and exits with @rc. */
ET_NORETURN void ctl_fail(const struct ctl_error *err, int rc);
/* Prints "Error:  <msg>" to stderr and exits with @rc. */
ET_NORETURN void ctl_fail_msg(int rc, const char *msg);

/* Go's url.QueryEscape of @s appended to @b (form and query values). */
void ctl_query_escape(struct et_buf *b, const char *s, size_t len);
/* Go's path escaping (url.URL.EscapedPath) of @s appended to @b. */
void ctl_path_escape(struct et_buf *b, const char *s);
/* Go's path.Clean keeping a trailing slash and a leading one (etcd's CanonicalURLPath). */
char *ctl_canonical_path(const char *p);
/* Appends Go's %q rendering of @s. */
void ctl_go_quote(struct et_buf *b, const char *s, size_t len);

/* ======================= arguments (ctl_args.c) ======================= */

enum ctl_flag_type {
    CTL_FLAG_BOOL,
    CTL_FLAG_STRING,
    CTL_FLAG_INT,
    CTL_FLAG_DURATION, /* Go duration, stored in @i as ns */
    CTL_FLAG_STRINGS,  /* repeatable string */
};

struct ctl_flag {
    const char *names[3]; /* long name and aliases, without dashes */
    enum ctl_flag_type type;
    /* results */
    bool set;
    bool b;
    int64_t i;
    const char *s;
    const char **strs; /* CTL_FLAG_STRINGS: every value given */
    size_t str_count;
};

/* Every command also accepts --help/-h (the CLI library adds it). */
#define CTL_FLAG_HELP                                   \
    {                                                   \
        .names = { "help", "h" }, .type = CTL_FLAG_BOOL \
    }

/*
 * Go's flag.FlagSet.Parse over @argv from *@pos: consumes flags until the first non-flag or
 * "--" (consumed). Returns 0, or -1 with Go's error text in @err.
 */
int ctl_go_flags(struct ctl_flag *flags, size_t n, int argc, char **argv, int *pos,
                 struct et_buf *err);

/* A command's parsed flags and positional arguments. */
struct ctl_cmd {
    const char *name; /* "get", "member list" (the help key) */
    struct ctl_flag *flags;
    size_t flag_count;
    char **args; /* positional arguments after flag parsing */
    size_t arg_count;
    long dashdash_at; /* positional count before the first "--" in the input, or -1 */
};

/*
 * Parses @argv for command @cmd as etcdctl's CLI library does (flags moved before positional
 * arguments, then Go's flag package). On a usage error prints etcdctl's "Incorrect Usage" text
 * and exits 1; on --help/-h prints the command help and exits 0.
 */
void ctl_cmd_parse(struct ctl_cmd *cmd, int argc, char **argv);
const struct ctl_flag *ctl_cmd_flag(const struct ctl_cmd *cmd, const char *name);
bool ctl_cmd_bool(const struct ctl_cmd *cmd, const char *name);
int64_t ctl_cmd_int(const struct ctl_cmd *cmd, const char *name);
const char *ctl_cmd_str(const struct ctl_cmd *cmd, const char *name);

/* Go's strconv.ParseInt(s, 0, 64); 0 or a negative errno-like code (-1 syntax, -2 range). */
int ctl_parse_int(const char *s, int64_t *out);
/* Go's time.ParseDuration; 0 or -1. */
int ctl_parse_duration(const char *s, int64_t *out_ns);
/* Go's strconv.ParseBool; 0 or -1. */
int ctl_parse_bool(const char *s, bool *out);

/* The help text for @key (see ctl_help.c), or NULL. */
const char *ctl_help_text(const char *key);

/* ======================= commands ======================= */

int ctl_cmd_keys(const struct ctl_opts *o, const char *name, int argc, char **argv);
int ctl_cmd_watch(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_exec_watch(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_member(const struct ctl_opts *o, int argc, char **argv);
/* user|role|auth <sub> ...: @argv[0] is the subcommand. */
int ctl_cmd_auth(const struct ctl_opts *o, const char *group, int argc, char **argv);
int ctl_cmd_cluster_health(const struct ctl_opts *o, int argc, char **argv);

/* SIGINT ends the process with status 0 (watch, exec-watch, cluster-health -f). */
void ctl_exit_on_sigint(void);

/* Key response printing shared by the key commands and watch (spec/etcdctl.md 7). */
struct ctl_keys_resp {
    struct et_jv *root; /* the whole parsed body */
    const char *action;
    const struct et_jv *node; /* may be NULL */
    const struct et_jv *prev; /* may be NULL */
    uint64_t index;           /* X-Etcd-Index */
};

/*
 * Turns an HTTP answer to a keys request into @out, as the Go client's unmarshalHTTPResponse:
 * 200/201 with a body parse as a response, other statuses as an etcd error. Returns 0, 1 for
 * an empty 200/201 body (watch retries those), or -1 with @err set.
 */
int ctl_keys_decode(const struct ctl_resp *resp, struct ctl_keys_resp *out, struct ctl_error *err);
void ctl_keys_print(const struct ctl_keys_resp *r, const char *format);
/* Builds "/v2/keys" + @key (the canonical clean happens per endpoint). */
char *ctl_keys_path(const char *key);

#endif
