/*
 * tools/ctl_main.c - etcetera-ctl's entry point: API selection, global options, the choice of
 * endpoints and the command dispatch, as etcdctl 3.4 does in v2 mode (spec/etcdctl.md 1-4).
 *
 * Global options are Go flags and stop at the command name. Environment fallbacks apply only
 * when the flag is empty; the endpoint list comes from the first non-empty of --endpoints,
 * ETCDCTL_ENDPOINTS, --endpoint, ETCDCTL_ENDPOINT, --peers/-C, ETCDCTL_PEERS, then the
 * default (spec/etcdctl.md 4.1).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/clock.h"
#include "tools/ctl.h"

#define CTL_DEFAULT_ENDPOINTS "http://127.0.0.1:2379,http://127.0.0.1:4001"

enum {
    G_DEBUG,
    G_NO_SYNC,
    G_OUTPUT,
    G_DISCOVERY_SRV,
    G_INSECURE_DISCOVERY,
    G_PEERS,
    G_ENDPOINT,
    G_ENDPOINTS,
    G_CERT_FILE,
    G_KEY_FILE,
    G_CA_FILE,
    G_USERNAME,
    G_TIMEOUT,
    G_TOTAL_TIMEOUT,
    G_HELP,
    G_VERSION,
    G_COUNT,
};

static struct ctl_flag global_flags[G_COUNT] = {
    [G_DEBUG] = { .names = { "debug" }, .type = CTL_FLAG_BOOL },
    [G_NO_SYNC] = { .names = { "no-sync" }, .type = CTL_FLAG_BOOL },
    [G_OUTPUT] = { .names = { "output", "o" }, .type = CTL_FLAG_STRING, .s = "simple" },
    [G_DISCOVERY_SRV] = { .names = { "discovery-srv", "D" }, .type = CTL_FLAG_STRING },
    [G_INSECURE_DISCOVERY] = { .names = { "insecure-discovery" }, .type = CTL_FLAG_BOOL },
    [G_PEERS] = { .names = { "peers", "C" }, .type = CTL_FLAG_STRING },
    [G_ENDPOINT] = { .names = { "endpoint" }, .type = CTL_FLAG_STRING },
    [G_ENDPOINTS] = { .names = { "endpoints" }, .type = CTL_FLAG_STRING },
    [G_CERT_FILE] = { .names = { "cert-file" }, .type = CTL_FLAG_STRING },
    [G_KEY_FILE] = { .names = { "key-file" }, .type = CTL_FLAG_STRING },
    [G_CA_FILE] = { .names = { "ca-file" }, .type = CTL_FLAG_STRING },
    [G_USERNAME] = { .names = { "username", "u" }, .type = CTL_FLAG_STRING },
    [G_TIMEOUT] = { .names = { "timeout" }, .type = CTL_FLAG_DURATION, .i = 2 * ET_NS_PER_SEC },
    [G_TOTAL_TIMEOUT] = { .names = { "total-timeout" },
                          .type = CTL_FLAG_DURATION,
                          .i = 5 * ET_NS_PER_SEC },
    [G_HELP] = { .names = { "help", "h" }, .type = CTL_FLAG_BOOL },
    [G_VERSION] = { .names = { "version", "v" }, .type = CTL_FLAG_BOOL },
};

static void print_help(const char *key)
{
    const char *text = ctl_help_text(key);
    ET_ASSERT(text != NULL);
    fputs(text, stdout);
}

ET_NORETURN static void no_help_topic(const char *name)
{
    fflush(stdout);
    fprintf(stderr, "No help topic for '%s'\n", name);
    exit(CTL_EXIT_UNKNOWN_COMMAND);
}

/* The flag's value, else the environment variable's, else "" (spec/etcdctl.md 3). */
static const char *flag_or_env(int id, const char *env)
{
    const char *v = global_flags[id].s;
    if (v && *v)
        return v;
    v = env ? getenv(env) : NULL;
    return v ? v : "";
}

static const char *pick_endpoints(void)
{
    static const struct {
        int flag; /* -1: environment only */
        const char *env;
    } order[] = {
        { G_ENDPOINTS, NULL },      { -1, "ETCDCTL_ENDPOINTS" }, { G_ENDPOINT, NULL },
        { -1, "ETCDCTL_ENDPOINT" }, { G_PEERS, NULL },           { -1, "ETCDCTL_PEERS" },
    };

    for (size_t i = 0; i < ET_ARRAY_SIZE(order); i++) {
        const char *v = order[i].flag >= 0 ? global_flags[order[i].flag].s : getenv(order[i].env);
        if (v && *v)
            return v;
    }
    return CTL_DEFAULT_ENDPOINTS;
}

/* member/user/role/auth: a sub-application with its own help and subcommands. */
static int run_group(const struct ctl_opts *o, const char *group, int argc, char **argv)
{
    static const char *const subs[][8] = {
        { "member", "list", "add", "remove", "update" },
        { "user", "add", "get", "list", "remove", "grant", "revoke", "passwd" },
        { "role", "add", "get", "list", "remove", "grant", "revoke" },
        { "auth", "enable", "disable" },
    };
    char key[64];
    if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
        strcmp(argv[0], "-help") == 0 || strcmp(argv[0], "--h") == 0) {
        print_help(group);
        return CTL_EXIT_OK;
    }
    if (argv[0][0] == '-' && argv[0][1] != '\0') {
        const char *name = argv[0] + (argv[0][1] == '-' ? 2 : 1);
        printf("Incorrect Usage. flag provided but not defined: -%.*s\n\n", (int)strcspn(name, "="),
               name);
        print_help(group);
        fflush(stdout);
        fprintf(stderr, "flag provided but not defined: -%.*s\n", (int)strcspn(name, "="), name);
        return CTL_EXIT_BAD_ARGS;
    }
    if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "h") == 0) {
        if (argc < 2) {
            print_help(group);
            return CTL_EXIT_OK;
        }
        snprintf(key, sizeof(key), "%s %s", group, argv[1]);
        if (!ctl_help_text(key))
            no_help_topic(argv[1]);
        print_help(key);
        return CTL_EXIT_OK;
    }
    for (size_t g = 0; g < ET_ARRAY_SIZE(subs); g++) {
        if (strcmp(subs[g][0], group) != 0)
            continue;
        for (size_t s = 1; s < ET_ARRAY_SIZE(subs[g]) && subs[g][s]; s++) {
            if (strcmp(subs[g][s], argv[0]) != 0)
                continue;
            if (strcmp(group, "member") == 0)
                return ctl_cmd_member(o, argc, argv);
            return ctl_cmd_auth(o, group, argc, argv);
        }
    }
    no_help_topic(argv[0]);
}

static int dispatch(const struct ctl_opts *o, const char *name, int argc, char **argv)
{
    static const char *const key_cmds[] = { "get",    "ls",     "set",       "mk", "mkdir",
                                            "setdir", "update", "updatedir", "rm", "rmdir" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(key_cmds); i++)
        if (strcmp(name, key_cmds[i]) == 0)
            return ctl_cmd_keys(o, name, argc, argv);
    if (strcmp(name, "watch") == 0)
        return ctl_cmd_watch(o, argc, argv);
    if (strcmp(name, "exec-watch") == 0)
        return ctl_cmd_exec_watch(o, argc, argv);
    if (strcmp(name, "cluster-health") == 0)
        return ctl_cmd_cluster_health(o, argc, argv);
    if (strcmp(name, "member") == 0 || strcmp(name, "user") == 0 || strcmp(name, "role") == 0 ||
        strcmp(name, "auth") == 0)
        return run_group(o, name, argc, argv);
    if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0) {
        if (argc == 0) {
            print_help("main");
            return CTL_EXIT_OK;
        }
        char key[64];
        if (strcmp(argv[0], "h") == 0 || strcmp(argv[0], "help") == 0) {
            print_help("help"); /* the help command's own (oddly blank) help */
            return CTL_EXIT_OK;
        }
        snprintf(key, sizeof(key), "help %s", argv[0]);
        if (ctl_help_text(key)) {
            print_help(key);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[0], "main") == 0 || !ctl_help_text(argv[0]) || strchr(argv[0], ' '))
            no_help_topic(argv[0]);
        print_help(argv[0]);
        return CTL_EXIT_OK;
    }
    if (strcmp(name, "backup") == 0) {
        struct ctl_flag flags[] = {
            { .names = { "data-dir" }, .type = CTL_FLAG_STRING },
            { .names = { "wal-dir" }, .type = CTL_FLAG_STRING },
            { .names = { "backup-dir" }, .type = CTL_FLAG_STRING },
            { .names = { "backup-wal-dir" }, .type = CTL_FLAG_STRING },
            { .names = { "with-v3" }, .type = CTL_FLAG_BOOL },
            CTL_FLAG_HELP,
        };
        struct ctl_cmd cmd = { .name = "backup", .flags = flags, .flag_count = 6 };
        ctl_cmd_parse(&cmd, argc, argv);
        fflush(stdout);
        fprintf(stderr, "etcetera-ctl: backup is not supported by etcetera-ctl\n");
        return CTL_EXIT_BAD_ARGS;
    }
    no_help_topic(name);
}

int main(int argc, char **argv)
{
    const char *api = getenv("ETCDCTL_API");
    if (api && *api && strcmp(api, "2") != 0 && strcmp(api, "3") != 0) {
        fprintf(stderr, "unsupported API version %s\n", api);
        return CTL_EXIT_BAD_ARGS;
    }
    unsetenv("ETCDCTL_API");
    curl_global_init(CURL_GLOBAL_DEFAULT);

    struct et_buf err = ET_BUF_INIT;
    int pos = 1;
    if (ctl_go_flags(global_flags, G_COUNT, argc, argv, &pos, &err) != 0) {
        printf("Incorrect Usage. %s\n\n", err.data);
        print_help("main");
        fflush(stdout);
        fprintf(stderr, "%s\n", err.data);
        return CTL_EXIT_BAD_ARGS;
    }
    if (global_flags[G_HELP].b) {
        print_help("main");
        return CTL_EXIT_OK;
    }
    if (global_flags[G_VERSION].b) {
        printf("etcdctl version: %s\nAPI version: 2\n", CTL_REFERENCE_VERSION);
        return CTL_EXIT_OK;
    }
    if (pos >= argc) {
        print_help("main");
        return CTL_EXIT_OK;
    }

    struct ctl_opts o = {
        .debug = global_flags[G_DEBUG].b,
        .no_sync = global_flags[G_NO_SYNC].b,
        .output = global_flags[G_OUTPUT].s,
        .endpoints = pick_endpoints(),
        .discovery_srv = flag_or_env(G_DISCOVERY_SRV, "ETCDCTL_DISCOVERY_SRV"),
        .cert_file = flag_or_env(G_CERT_FILE, "ETCDCTL_CERT_FILE"),
        .key_file = flag_or_env(G_KEY_FILE, "ETCDCTL_KEY_FILE"),
        .ca_file = flag_or_env(G_CA_FILE, "ETCDCTL_CA_FILE"),
        .username = flag_or_env(G_USERNAME, "ETCDCTL_USERNAME"),
        .timeout_ns = global_flags[G_TIMEOUT].i,
        .total_timeout_ns = global_flags[G_TOTAL_TIMEOUT].i,
    };
    const char *ins = getenv("ETCDCTL_INSECURE_DISCOVERY");
    o.insecure_discovery = global_flags[G_INSECURE_DISCOVERY].b || (ins && *ins);

    const char *name = argv[pos];
    if (strcmp(name, "watch") == 0 || strcmp(name, "exec-watch") == 0)
        ctl_exit_on_sigint();
    int rc = dispatch(&o, name, argc - pos - 1, argv + pos + 1);
    fflush(stdout);
    return rc;
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * etcetera-ctl is a short-lived command: it allocates its parsed arguments and its client once
 * and lets the process exit release them (every error path exits at once, as etcdctl does), so
 * LeakSanitizer's exit-time report would only list those. Memory errors are still reported.
 */
const char *__lsan_default_options(void);

const char *__lsan_default_options(void)
{
    return "detect_leaks=0";
}

/* The same, for runs whose ASAN_OPTIONS turn leak detection back on. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:ctl_\nleak:curl_\nleak:libcurl\n";
}
#endif
