/*
 * tests/config/test_config.c - flags, environment, config file, defaults, usage and version
 * (spec/config.md). Expected messages were checked against etcd 3.4.23.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/config.h"

struct t_run {
    struct et_config cfg;
    int rc;
    int code;
    char *out;
    char *err;
};

static struct t_run t_r;

static void t_free(void)
{
    et_config_free(&t_r.cfg);
    free(t_r.out);
    free(t_r.err);
    memset(&t_r, 0, sizeof(t_r));
}

TestSuite(config, .fini = t_free);

/* Parses argv (NULL-terminated after "etcd") with environment @env (NULL-terminated). */
static void t_parse_env(char **env, ...)
{
    char *argv[64] = { "etcd" };
    int argc = 1;
    va_list ap;
    va_start(ap, env);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    size_t out_len = 0, err_len = 0;
    FILE *out = open_memstream(&t_r.out, &out_len);
    FILE *err = open_memstream(&t_r.err, &err_len);
    t_r.rc = et_config_parse_to(&t_r.cfg, argc, argv, env, out, err, &t_r.code);
    fclose(out);
    fclose(err);
}

#define t_parse(...) t_parse_env(NULL, __VA_ARGS__, NULL)

static char *t_first_line(const char *s)
{
    static char line[1024];
    size_t n = strcspn(s, "\n");
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    memcpy(line, s, n);
    line[n] = '\0';
    return line;
}

static void t_expect_exit(int code, const char *first_err_line)
{
    cr_assert_eq(t_r.rc, ET_CONFIG_EXIT);
    cr_assert_eq(t_r.code, code, "exit code %d, want %d (stderr: %s)", t_r.code, code, t_r.err);
    cr_assert_str_eq(t_first_line(t_r.err), first_err_line);
}

Test(config, defaults_are_etcd2_listeners_and_34_values)
{
    t_parse_env(NULL, NULL);
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    struct et_config *c = &t_r.cfg;
    cr_assert_str_eq(c->name, "default");
    cr_assert_str_eq(c->data_dir, "default.etcd");
    cr_assert_eq(c->listen_client_urls.count, 2);
    cr_assert_str_eq(c->listen_client_urls.items[0], "http://localhost:2379");
    cr_assert_str_eq(c->listen_client_urls.items[1], "http://localhost:4001");
    cr_assert_str_eq(c->advertise_client_urls.items[1], "http://localhost:4001");
    cr_assert_eq(c->listen_peer_urls.count, 2);
    cr_assert_str_eq(c->listen_peer_urls.items[0], "http://localhost:2380");
    cr_assert_str_eq(c->initial_advertise_peer_urls.items[1], "http://localhost:7001");
    cr_assert_str_eq(c->initial_cluster,
                     "default=http://localhost:2380,default=http://localhost:7001");
    cr_assert_eq(c->initial_cluster_state, ET_CLUSTER_STATE_NEW);
    cr_assert_str_eq(c->initial_cluster_token, "etcd-cluster");
    cr_assert_eq(c->snapshot_count, 100000);
    cr_assert_eq(c->heartbeat_interval_ms, 100);
    cr_assert_eq(c->election_timeout_ms, 1000);
    cr_assert_eq(c->max_request_bytes, 10485760);
    cr_assert_eq(c->event_history, 1000);
    cr_assert_eq(c->reactors, (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
    cr_assert_eq(c->max_connections, 0);
    cr_assert(c->enable_v2);
    cr_assert(c->strict_reconfig_check);
    cr_assert_eq(c->discovery_fallback, ET_DISCOVERY_FALLBACK_PROXY);
    cr_assert_eq(c->proxy, ET_PROXY_OFF);
    cr_assert_eq(c->cors.count, 1);
    cr_assert_str_eq(c->cors.items[0], "*");
    cr_assert_null(c->discovery);
    cr_assert_null(c->client_tls.cert_file);
    cr_assert_eq(c->log_level, ET_LOG_INFO);
    cr_assert_eq(c->bcrypt_cost, 10);
    char err[256];
    cr_assert_eq(et_config_check_initial_cluster(c, err, sizeof(err)), 0, "%s", err);
}

Test(config, every_flag_form_sets_the_value)
{
    const char *forms[][2] = {
        { "-name", "a" }, { "--name", "a" }, { "-name=a", NULL }, { "--name=a", NULL }
    };
    for (size_t i = 0; i < 4; i++) {
        if (forms[i][1])
            t_parse((char *)forms[i][0], (char *)forms[i][1]);
        else
            t_parse((char *)forms[i][0]);
        cr_assert_eq(t_r.rc, 0, "%s: %s", forms[i][0], t_r.err);
        cr_assert_str_eq(t_r.cfg.name, "a");
        cr_assert_str_eq(t_r.cfg.data_dir, "a.etcd");
        t_free();
    }
}

Test(config, booleans_follow_go_parse_bool)
{
    t_parse("--enable-v2=false", "--pre-vote", "-force-new-cluster=T", "--debug=0");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_not(t_r.cfg.enable_v2);
    cr_assert(t_r.cfg.pre_vote);
    cr_assert(t_r.cfg.force_new_cluster);
    cr_assert_not(t_r.cfg.debug);
    t_free();
    t_parse("--enable-v2=maybe");
    t_expect_exit(2, "invalid boolean value \"maybe\" for -enable-v2: parse error");
    t_free();
    /* A bool flag never takes the next word: it becomes a positional argument. */
    t_parse("--enable-v2", "true");
    t_expect_exit(1, "E | etcdmain: error verifying flags, 'true' is not a valid flag. See 'etcd "
                     "--help'.");
}

Test(config, unknown_flag_prints_error_and_usage_exit_2)
{
    t_parse("--bogus");
    t_expect_exit(2, "flag provided but not defined: -bogus");
    cr_assert(strstr(t_r.err, "\nUsage:\n\n  etcd [flags]\n") != NULL);
    cr_assert_str_eq(t_r.out, "");
    t_free();
    t_parse("-peer-bind-addr-x", "1");
    t_expect_exit(2, "flag provided but not defined: -peer-bind-addr-x");
}

Test(config, legacy_04_addresses_fold_into_urls)
{
    t_parse("-name", "instance1", "-addr", "10.1.2.3:4001", "-peer-addr", "10.1.2.3:7001", "-peers",
            "10.1.2.4:7001,10.1.2.5:7001");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    struct et_config *c = &t_r.cfg;
    cr_assert_eq(c->advertise_client_urls.count, 1);
    cr_assert_str_eq(c->advertise_client_urls.items[0], "http://10.1.2.3:4001");
    cr_assert_str_eq(c->listen_client_urls.items[0], "http://0.0.0.0:4001");
    cr_assert_str_eq(c->initial_advertise_peer_urls.items[0], "http://10.1.2.3:7001");
    cr_assert_str_eq(c->listen_peer_urls.items[0], "http://0.0.0.0:7001");
    cr_assert_str_eq(c->initial_cluster, "instance1=http://10.1.2.3:7001");
    cr_assert_eq(c->peers.count, 2);
    cr_assert_str_eq(c->peers.items[1], "10.1.2.5:7001");
    t_free();
    t_parse("-c", "127.0.0.1:4002", "-cl", "127.0.0.1", "-sl", "127.0.0.1:7002");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.listen_client_urls.items[0], "http://127.0.0.1:4002");
    cr_assert_str_eq(t_r.cfg.listen_peer_urls.items[0], "http://127.0.0.1:7002");
    cr_assert(strstr(t_r.err, "[deprecated] use -addr, not -c\n") != NULL);
    t_free();
    t_parse("-addr", "::1:4001");
    t_expect_exit(2, "invalid value \"::1:4001\" for flag -addr: address ::1:4001: too many "
                     "colons in address");
    t_free();
    t_parse("-addr", "[::1]:4001", "-bind-addr", "::");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.listen_client_urls.items[0], "http://[::]:4001");
    cr_assert_str_eq(t_r.cfg.advertise_client_urls.items[0], "http://[::1]:4001");
    t_free();
    t_parse("-addr", "host.example:4001");
    t_expect_exit(2, "invalid value \"host.example:4001\" for flag -addr: bad IP in address "
                     "specification");
    t_free();
    t_parse("-addr", "10.0.0.1:4001", "--advertise-client-urls", "http://10.0.0.1:2379");
    t_expect_exit(1, "E | etcdmain: error verifying flags, Set only one of flags "
                     "-advertise-client-urls and -addr. See 'etcd --help'.");
    t_free();
    t_parse("--ca-file", "ca.pem");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.client_tls.trusted_ca_file, "ca.pem");
    cr_assert(t_r.cfg.client_tls.client_cert_auth);
}

Test(config, flag_syntax_errors)
{
    t_parse("--name");
    t_expect_exit(2, "flag needs an argument: -name");
    t_free();
    t_parse("---x");
    t_expect_exit(2, "bad flag syntax: ---x");
    t_free();
    t_parse("-=x");
    t_expect_exit(2, "bad flag syntax: -=x");
    t_free();
    t_parse("--", "foo");
    t_expect_exit(1, "E | etcdmain: error verifying flags, 'foo' is not a valid flag. See 'etcd "
                     "--help'.");
    t_free();
    t_parse("--", NULL);
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
}

Test(config, bad_values)
{
    t_parse("--snapshot-count", "abc");
    t_expect_exit(2, "invalid value \"abc\" for flag -snapshot-count: parse error");
    t_free();
    t_parse("--snapshot-count=-1");
    t_expect_exit(2, "invalid value \"-1\" for flag -snapshot-count: parse error");
    t_free();
    t_parse("--snapshot-count=99999999999999999999999");
    t_expect_exit(2, "invalid value \"99999999999999999999999\" for flag -snapshot-count: value "
                     "out of range");
    t_free();
    t_parse("--initial-cluster-state", "bad");
    t_expect_exit(2, "invalid value \"bad\" for flag -initial-cluster-state: invalid value");
    t_free();
    t_parse("--grpc-keepalive-min-time", "bogus");
    t_expect_exit(2, "invalid value \"bogus\" for flag -grpc-keepalive-min-time: parse error");
    t_free();
    t_parse("--snapshot-count=0x10", "--quota-backend-bytes=-1_000", "--max-wals=1_0");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_eq(t_r.cfg.snapshot_count, 16);
    cr_assert_eq(t_r.cfg.quota_backend_bytes, -1000);
    cr_assert_eq(t_r.cfg.max_wals, 10);
}

Test(config, bad_urls)
{
    t_parse("--listen-client-urls", "127.0.0.1:32393");
    t_expect_exit(2, "invalid value \"127.0.0.1:32393\" for flag -listen-client-urls: parse "
                     "\"127.0.0.1:32393\": first path segment in URL cannot contain colon");
    t_free();
    t_parse("--listen-client-urls", "http://127.0.0.1:32393/path");
    t_expect_exit(2, "invalid value \"http://127.0.0.1:32393/path\" for flag -listen-client-urls: "
                     "URL must not contain a path: http://127.0.0.1:32393/path");
    t_free();
    t_parse("--cors", "http://a.example");
    t_expect_exit(2, "invalid value \"http://a.example\" for flag -cors: URL address does not "
                     "have the form \"host:port\": http://a.example");
    t_free();
    t_parse("--listen-client-urls", "http://myhost:1", "--advertise-client-urls", "http://a:1");
    t_expect_exit(1, "E | etcdmain: error verifying flags, expected IP in URL for binding "
                     "(http://myhost:1). See 'etcd --help'.");
}

Test(config, listen_client_without_advertise_is_an_error)
{
    t_parse("--listen-client-urls", "http://127.0.0.1:32393");
    t_expect_exit(1, "E | etcdmain: error verifying flags, --advertise-client-urls is required "
                     "when --listen-client-urls is set explicitly. See 'etcd --help'.");
    cr_assert(strstr(t_r.err, "E | etcdmain: When listening on specific address(es), this etcd "
                              "process must advertise accessible url(s) to each connected "
                              "client.\n") != NULL);
    t_free();
    t_parse("--listen-client-urls", "http://127.0.0.1:32393", "--proxy", "on");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
}

Test(config, core_flags_for_a_real_member)
{
    t_parse("--name", "n1", "--data-dir", "/tmp/x", "--listen-client-urls",
            "http://127.0.0.1:2379,http://127.0.0.1:4001", "--advertise-client-urls",
            "http://10.0.0.1:2379", "--listen-peer-urls", "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls", "http://127.0.0.1:2380", "--initial-cluster",
            "n1=http://127.0.0.1:2380,n2=http://127.0.0.2:2380", "--initial-cluster-state",
            "existing", "--initial-cluster-token", "tok");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    struct et_config *c = &t_r.cfg;
    cr_assert_str_eq(c->name, "n1");
    cr_assert_str_eq(c->data_dir, "/tmp/x");
    cr_assert_eq(c->listen_client_urls.count, 2);
    cr_assert_str_eq(c->listen_client_urls.items[1], "http://127.0.0.1:4001");
    cr_assert_eq(c->advertise_client_urls.count, 1);
    cr_assert_str_eq(c->initial_cluster, "n1=http://127.0.0.1:2380,n2=http://127.0.0.2:2380");
    cr_assert_eq(c->initial_cluster_state, ET_CLUSTER_STATE_EXISTING);
    cr_assert_str_eq(c->initial_cluster_token, "tok");
    cr_assert(c->listen_client_urls_set);
    cr_assert(c->initial_cluster_set);
    char err[256];
    cr_assert_eq(et_config_check_initial_cluster(c, err, sizeof(err)), 0, "%s", err);
}

Test(config, named_member_without_initial_cluster_is_a_cluster_of_itself)
{
    t_parse("--name", "foo", "--initial-advertise-peer-urls", "http://127.0.0.1:32394");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.initial_cluster, "foo=http://127.0.0.1:32394");
    t_free();
    t_parse("--discovery", "http://d:1/x");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_null(t_r.cfg.initial_cluster);
    t_free();
    t_parse("--discovery", "http://d:1/x", "--initial-cluster", "default=http://a:1");
    t_expect_exit(1, "E | etcdmain: error verifying flags, multiple discovery or bootstrap flags "
                     "are set. Choose one of \"initial-cluster\", \"discovery\" or "
                     "\"discovery-srv\". See 'etcd --help'.");
}

Test(config, election_and_heartbeat_checks)
{
    t_parse("--heartbeat-interval", "300");
    t_expect_exit(1, "E | etcdmain: error verifying flags, --election-timeout[1000ms] should be "
                     "at least as 5 times as --heartbeat-interval[300ms]. See 'etcd --help'.");
    t_free();
    t_parse("--election-timeout", "60000");
    t_expect_exit(1, "E | etcdmain: error verifying flags, --election-timeout[60000ms] is too "
                     "long, and should be set less than 50000ms. See 'etcd --help'.");
    t_free();
    t_parse("--heartbeat-interval=18446744073709551615");
    cr_assert_eq(t_r.code, 1);
}

Test(config, env_used_when_flag_absent)
{
    char *env[] = { "ETCD_NAME=envname",
                    "ETCD_SNAPSHOT_COUNT=5",
                    "ETCD_ENABLE_V2=false",
                    "PATH=/bin",
                    "ETCD_BOGUS=1",
                    "ETCD_INITIAL_CLUSTER_STATE=existing",
                    NULL };
    t_parse_env(env, NULL);
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.name, "envname");
    cr_assert_str_eq(t_r.cfg.data_dir, "envname.etcd");
    cr_assert_eq(t_r.cfg.snapshot_count, 5);
    cr_assert_not(t_r.cfg.enable_v2);
    cr_assert_eq(t_r.cfg.initial_cluster_state, ET_CLUSTER_STATE_EXISTING);
    cr_assert(strstr(t_r.err, "I | pkg/flags: recognized and used environment variable "
                              "ETCD_NAME=envname\n") != NULL);
    cr_assert(strstr(t_r.err, "W | pkg/flags: unrecognized environment variable ETCD_BOGUS=1\n") !=
              NULL);
}

Test(config, env_and_flag_conflict_is_fatal)
{
    char *env[] = { "ETCD_NAME=x", NULL };
    t_parse_env(env, "--name", "y", NULL);
    t_expect_exit(1, "C | pkg/flags: conflicting environment variable \"ETCD_NAME\" is shadowed "
                     "by corresponding command-line flag (either unset environment variable or "
                     "disable flag)");
    t_free();
    char *empty[] = { "ETCD_NAME=", NULL }; /* even empty, as etcd 3.4 */
    t_parse_env(empty, "--name", "y", NULL);
    cr_assert_eq(t_r.code, 1);
}

Test(config, env_bad_value_reports_the_last_in_name_order)
{
    char *env[] = { "ETCD_SNAPSHOT_COUNT=abc", "ETCD_HEARTBEAT_INTERVAL=x", NULL };
    t_parse_env(env, NULL);
    t_expect_exit(1, "E | etcdmain: error verifying flags, invalid value \"abc\" for "
                     "ETCD_SNAPSHOT_COUNT: parse error. See 'etcd --help'.");
}

Test(config, legacy_names_are_bool_style_and_ignored)
{
    t_parse("-peer-heartbeat-interval=100", "-v");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert(strstr(t_r.err, "W | pkg/flags: flag \"-peer-heartbeat-interval\" is no longer "
                              "supported - ignoring.\n") != NULL);
    t_free();
    t_parse("-peer-heartbeat-interval", "100");
    t_expect_exit(1, "W | pkg/flags: flag \"-peer-heartbeat-interval\" is no longer supported - "
                     "ignoring.");
    cr_assert(strstr(t_r.err, "'100' is not a valid flag") != NULL);
}

Test(config, help_splits_usage_between_stderr_and_stdout)
{
    t_parse("--help");
    cr_assert_eq(t_r.rc, ET_CONFIG_EXIT);
    cr_assert_eq(t_r.code, 0);
    cr_assert(strncmp(t_r.err, "Usage:\n\n  etcd [flags]\n    Start an etcd server.\n", 44) == 0);
    cr_assert(strncmp(t_r.out,
                      "\nMember:\n  --name 'default'\n    Human-readable name for this "
                      "member.\n  --data-dir '${name}.etcd'\n",
                      90) == 0);
    cr_assert(strstr(t_r.out, "  --listen-client-urls 'http://localhost:2379,http://localhost:"
                              "4001'\n") != NULL);
    cr_assert(strstr(t_r.out, "  --event-history '1000'\n") != NULL);
    t_free();
    t_parse("-h");
    cr_assert_eq(t_r.code, 0);
    cr_assert(strstr(t_r.out, "TO BE DEPRECATED:\n\n  --debug 'false'\n") != NULL);
}

Test(config, version_first_line_is_etcd_compat)
{
    t_parse("--version");
    cr_assert_eq(t_r.rc, ET_CONFIG_EXIT);
    cr_assert_eq(t_r.code, 0);
    cr_assert_str_eq(t_first_line(t_r.out), "etcd Version: 2.3.8");
    cr_assert(strstr(t_r.out, "\netcetera Version: " ET_VERSION "\n") != NULL);
    cr_assert(strstr(t_r.out, "\nGo OS/Arch: linux/") != NULL);
}

Test(config, etcetera_flags)
{
    t_parse("--event-history", "5000", "--reactors=3", "--max-connections", "100",
            "--max-request-bytes", "10485760");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_eq(t_r.cfg.event_history, 5000);
    cr_assert_eq(t_r.cfg.reactors, 3);
    cr_assert_eq(t_r.cfg.max_connections, 100);
    cr_assert_eq(t_r.cfg.max_request_bytes, 10485760);
}

Test(config, tls_flags_and_https_without_cert)
{
    t_parse("--cert-file", "c.pem", "--key-file", "k.pem", "--client-cert-auth",
            "--trusted-ca-file", "ca.pem", "--peer-cert-file", "pc.pem", "--peer-key-file",
            "pk.pem", "--peer-auto-tls");
    cr_assert_eq(t_r.rc, 0, "%s", t_r.err);
    cr_assert_str_eq(t_r.cfg.client_tls.cert_file, "c.pem");
    cr_assert_str_eq(t_r.cfg.client_tls.trusted_ca_file, "ca.pem");
    cr_assert(t_r.cfg.client_tls.client_cert_auth);
    cr_assert_str_eq(t_r.cfg.peer_tls.key_file, "pk.pem");
    cr_assert(t_r.cfg.peer_tls.auto_tls);
    t_free();
    t_parse("--listen-client-urls", "https://127.0.0.1:32393", "--advertise-client-urls",
            "https://127.0.0.1:32393");
    t_expect_exit(1, "C | etcdmain: TLS key/cert (--cert-file, --key-file) must be provided for "
                     "client url https://127.0.0.1:32393 with HTTPS scheme");
    t_free();
    t_parse("--listen-peer-urls", "https://127.0.0.1:32394");
    t_expect_exit(1, "C | etcdmain: cannot listen on TLS for 127.0.0.1:32394: KeyFile and "
                     "CertFile are not presented");
}
