/*
 * tests/config/test_config_url.c - URL lists, --initial-cluster, the bootstrap checks and the
 * YAML config file. Expected messages were checked against etcd 3.4.23.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/config.h"

static char t_err[512];

static void t_url_err(const char *url, const char *want)
{
    struct et_url u;
    cr_assert_eq(et_url_parse(url, &u, t_err, sizeof(t_err)), -EINVAL, "%s accepted", url);
    cr_assert_str_eq(t_err, want);
}

Test(config_url, go_url_parse_errors)
{
    t_url_err("127.0.0.1:1",
              "parse \"127.0.0.1:1\": first path segment in URL cannot contain colon");
    t_url_err("http://[::1:1", "parse \"http://[::1:1\": missing ']' in host");
    t_url_err("http://a b:1", "parse \"http://a b:1\": invalid character \" \" in host name");
    t_url_err("http://h:x", "parse \"http://h:x\": invalid port \":x\" after host");
    t_url_err("http://h:1/%zz", "parse \"http://h:1/%zz\": invalid URL escape \"%zz\"");
    t_url_err("http://h:1#%zz", "parse \"http://h:1#%zz\": invalid URL escape \"%zz\"");
    t_url_err(":1", "parse \":1\": missing protocol scheme");
    t_url_err("http://h\x01:1", "parse \"http://h\\x01:1\": net/url: invalid control character "
                                "in URL");
    t_url_err("", "URL scheme must be http, https, unix, or unixs: ");
    t_url_err("ftp://h:1", "URL scheme must be http, https, unix, or unixs: ftp://h:1");
    t_url_err("http://h", "URL address does not have the form \"host:port\": http://h");
    t_url_err("http:foo", "URL address does not have the form \"host:port\": http:foo");
    t_url_err("http://a:1:2", "URL address does not have the form \"host:port\": http://a:1:2");
    t_url_err("http://h:1/", "URL must not contain a path: http://h:1/");
}

Test(config_url, parses_parts)
{
    struct et_url u;
    cr_assert_eq(et_url_parse(" HTTP://[::1]:2379?x=1", &u, t_err, sizeof(t_err)), 0, "%s", t_err);
    cr_assert_str_eq(u.scheme, "http");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.port, "2379");
    cr_assert_str_eq(u.raw, "http://[::1]:2379?x=1");
    et_url_free(&u);
    cr_assert_eq(et_url_parse("http://h\xc3\xa9:1", &u, t_err, sizeof(t_err)), 0, "%s", t_err);
    cr_assert_str_eq(u.host, "h\xc3\xa9");
    cr_assert_str_eq(u.raw, "http://h%C3%A9:1", "URL.String() escapes the host");
    et_url_free(&u);
    cr_assert_eq(et_url_parse_len("http://a:1\0/p", 13, &u, t_err, sizeof(t_err)), -EINVAL);
    cr_assert_str_eq(t_err,
                     "parse \"http://a:1\\x00/p\": net/url: invalid control character in URL");
    cr_assert_eq(et_url_parse("unix://localhost:1", &u, t_err, sizeof(t_err)), 0);
    cr_assert(et_url_host_bindable(u.scheme, u.host));
    et_url_free(&u);
    cr_assert(et_url_host_bindable("http", "localhost"));
    cr_assert(et_url_host_bindable("http", "10.1.2.3"));
    cr_assert(et_url_host_bindable("http", "fe80::1"));
    cr_assert_not(et_url_host_bindable("http", "example.com"));
    cr_assert_not(et_url_host_bindable("http", ""));
}

Test(config_url, list_is_sorted_and_validated)
{
    struct et_strlist l;
    cr_assert_eq(et_urls_parse("http://b:2,http://a:1", &l, t_err, sizeof(t_err)), 0);
    cr_assert_eq(l.count, 2);
    cr_assert_str_eq(l.items[0], "http://a:1");
    et_strlist_free(&l);
    cr_assert_eq(et_urls_parse("http://a:1,,http://b:2", &l, t_err, sizeof(t_err)), -EINVAL);
    cr_assert_str_eq(t_err, "URL scheme must be http, https, unix, or unixs: ");
}

Test(config_url, initial_cluster_parse)
{
    struct et_cluster_members m;
    cr_assert_eq(et_initial_cluster_parse("a=http://1.1.1.1:2380,b=http://2.2.2.2:2380,"
                                          "a=http://1.1.1.1:7001",
                                          &m, t_err, sizeof(t_err)),
                 0, "%s", t_err);
    cr_assert_eq(m.count, 2);
    cr_assert_str_eq(m.members[0].name, "a");
    cr_assert_eq(m.members[0].peer_urls.count, 2);
    cr_assert_str_eq(m.members[0].peer_urls.items[1], "http://1.1.1.1:7001");
    cr_assert_str_eq(m.members[1].name, "b");
    et_cluster_members_free(&m);
    cr_assert_eq(et_initial_cluster_parse("foo", &m, t_err, sizeof(t_err)), -EINVAL);
    cr_assert_str_eq(t_err, "URL scheme must be http, https, unix, or unixs: ");
    cr_assert_eq(et_initial_cluster_parse("default=foo", &m, t_err, sizeof(t_err)), -EINVAL);
    cr_assert_str_eq(t_err, "URL scheme must be http, https, unix, or unixs: foo");
}

/* Bootstrap checks: parse a command line, then check the cluster as the server will. */
static void t_check(const char *cluster, const char *name, const char *want)
{
    char *argv[] = { "etcd",
                     "--name",
                     (char *)name,
                     "--initial-advertise-peer-urls",
                     "http://127.0.0.1:32394",
                     "--initial-cluster",
                     (char *)cluster };
    struct et_config c;
    int code;
    FILE *null = fopen("/dev/null", "w");
    cr_assert_eq(et_config_parse_to(&c, 7, argv, NULL, null, null, &code), 0);
    fclose(null);
    int rc = et_config_check_initial_cluster(&c, t_err, sizeof(t_err));
    if (want == NULL)
        cr_assert_eq(rc, 0, "%s", t_err);
    else
        cr_assert_str_eq(t_err, want);
    et_config_free(&c);
}

Test(config_url, bootstrap_checks)
{
    t_check("default=http://127.0.0.1:32394", "default", NULL);
    t_check("b=http://127.0.0.1:32394", "default",
            "couldn't find local name \"default\" in the initial cluster configuration");
    t_check("default=http://127.0.0.1:1", "default",
            "--initial-cluster has default=http://127.0.0.1:1 but missing from "
            "--initial-advertise-peer-urls=http://127.0.0.1:32394 (resolved urls: "
            "\"http://127.0.0.1:32394\" != \"http://127.0.0.1:1\")");
    t_check("default=http://127.0.0.1:32394,default=http://127.0.0.1:32394", "default",
            "failed to resolve http://127.0.0.1:32394 to match "
            "--initial-cluster=default=http://127.0.0.1:32394 "
            "(len([\"http://127.0.0.1:32394\"]) != len([\"http://127.0.0.1:32394\" "
            "\"http://127.0.0.1:32394\"]))");
    t_check("foo", "default",
            "error setting up initial cluster: URL scheme must be http, https, "
            "unix, or unixs: ");
}

/* ---- config file ---- */

static char t_path[64];

static void t_write(const char *text)
{
    strcpy(t_path, "/tmp/et_cfg_XXXXXX");
    int fd = mkstemp(t_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int t_load(struct et_config *c, char **out_err, char **env, const char *extra_flag)
{
    char *argv[] = { "etcd", "--config-file", t_path, (char *)extra_flag, "x" };
    int argc = extra_flag ? 5 : 3;
    int code = 0;
    size_t n1 = 0, n2 = 0;
    char *o = NULL;
    FILE *out = open_memstream(&o, &n1);
    FILE *err = open_memstream(out_err, &n2);
    int rc = et_config_parse_to(c, argc, argv, env, out, err, &code);
    fclose(out);
    fclose(err);
    free(o);
    unlink(t_path);
    return rc ? code : 0;
}

Test(config_file, sample_keys_and_exclusivity)
{
    t_write("# etcd config\n"
            "name: 'fromfile'\n"
            "data-dir: ./fromfile.data   # comment\n"
            "snapshot-count: 5000\n"
            "heartbeat-interval: 100\n"
            "election-timeout: 1000\n"
            "listen-client-urls: http://127.0.0.1:32393,http://127.0.0.1:4001\n"
            "advertise-client-urls: \"http://127.0.0.1:32393\"\n"
            "listen-peer-urls: http://127.0.0.1:32394\n"
            "initial-advertise-peer-urls: http://127.0.0.1:32394\n"
            "initial-cluster: fromfile=http://127.0.0.1:32394\n"
            "initial-cluster-state: 'existing'\n"
            "enable-v2: true\n"
            "strict-reconfig-check: no\n"
            "cors:\n"
            "discovery-fallback: 'exit'\n"
            "proxy: 'off'\n"
            "log-outputs: [stderr]\n"
            "cert-file: /ignored/top/level\n"
            "unknown-key: whatever\n"
            "client-transport-security:\n"
            "  cert-file: /c.pem\n"
            "  key-file: /k.pem\n"
            "  client-cert-auth: true\n"
            "  trusted-ca-file:\n"
            "  auto-tls: false\n"
            "peer-transport-security:\n"
            "  cert-file: /pc.pem\n"
            "  key-file: /pk.pem\n");
    struct et_config c;
    char *err = NULL;
    char *env[] = { "ETCD_NAME=envname", NULL };
    cr_assert_eq(t_load(&c, &err, env, "--name"), 0, "%s", err);
    cr_assert_str_eq(c.name, "fromfile");
    cr_assert_str_eq(c.data_dir, "./fromfile.data");
    cr_assert_eq(c.snapshot_count, 5000);
    cr_assert_eq(c.listen_client_urls.count, 2);
    cr_assert_str_eq(c.advertise_client_urls.items[0], "http://127.0.0.1:32393");
    cr_assert_eq(c.initial_cluster_state, ET_CLUSTER_STATE_EXISTING);
    cr_assert_not(c.strict_reconfig_check);
    cr_assert_eq(c.discovery_fallback, ET_DISCOVERY_FALLBACK_EXIT);
    cr_assert_str_eq(c.log_outputs.items[0], "stderr");
    cr_assert_str_eq(c.client_tls.cert_file, "/c.pem");
    cr_assert(c.client_tls.client_cert_auth);
    cr_assert_str_eq(c.peer_tls.key_file, "/pk.pem");
    cr_assert_str_eq(c.config_file, t_path);
    cr_assert(strstr(err, "Loading server configuration from") != NULL);
    et_config_free(&c);
    free(err);
}

Test(config_file, errors)
{
    struct et_config c;
    char *err = NULL;
    t_write("snapshot-count: abc\n");
    cr_assert_eq(t_load(&c, &err, NULL, NULL), 1);
    cr_assert(strstr(err, "E | etcdmain: error verifying flags, error unmarshaling JSON: while "
                          "decoding JSON: json: cannot unmarshal string into Go struct field "
                          "configYAML.snapshot-count of type uint64. See 'etcd --help'.") != NULL,
              "%s", err);
    et_config_free(&c);
    free(err);
    t_write("listen-peer-urls: 127.0.0.1:1\n");
    cr_assert_eq(t_load(&c, &err, NULL, NULL), 1);
    cr_assert(strstr(err,
                     "unexpected error setting up listen-peer-urls: parse "
                     "\"127.0.0.1:1\": first path segment in URL cannot contain colon\n") != NULL,
              "%s", err);
    et_config_free(&c);
    free(err);
    /* Each bad input and the message etcd 3.4.23 gives for it (where we match it). */
    const char *bad[][2] = {
        { "name 'x'\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                        "string into Go value of type embed.configYAML" },
        { "\tname: x\n", "error converting YAML to JSON: yaml: found character that cannot "
                         "start any token" },
        { "a:\n  b: 1\n   c: 2\n", "error converting YAML to JSON: yaml: line 3: " },
        { "name: 'x\n", "error converting YAML to JSON: yaml: line " },
        { "  name: x\nb: 1\n", "error converting YAML to JSON: yaml: line " },
        { "log-outputs: [a, b\n", "error converting YAML to JSON: yaml: line " },
        { "x: &anchor y\n", "error converting YAML to JSON: yaml: line " },
        { "name: true\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                          "bool into Go struct field configYAML.name of type string" },
        { "name: 123\n", "json: cannot unmarshal number into Go struct field configYAML.name of "
                         "type string" },
        { "snapshot-count: 5.5\n", "json: cannot unmarshal number 5.5 into Go struct field "
                                   "configYAML.snapshot-count of type uint64" },
        { "snapshot-count: '5'\n", "json: cannot unmarshal string into Go struct field "
                                   "configYAML.snapshot-count of type uint64" },
        { "enable-v2: maybe\n", "json: cannot unmarshal string into Go struct field "
                                "configYAML.enable-v2 of type bool" },
        { "log-outputs: stderr\n", "json: cannot unmarshal string into Go struct field "
                                   "configYAML.log-outputs of type []string" },
        { "cors: [a]\n", "json: cannot unmarshal array into Go struct field configYAML.cors of "
                         "type string" },
        { "initial-cluster-state: bad\n", "error verifying flags, unexpected clusterState "
                                          "\"bad\". See 'etcd --help'." },
        { "proxy: off\n", "C | unexpected error setting up proxyFlag: invalid value" },
        { "discovery-fallback: bad\n", "C | unexpected error setting up discovery-fallback "
                                       "flag: invalid value" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_write(bad[i][0]);
        cr_assert_eq(t_load(&c, &err, NULL, NULL), 1, "accepted: %s", bad[i][0]);
        cr_assert(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][0], err);
        et_config_free(&c);
        free(err);
    }
    t_write("enable-v2: yes\nname: ~\nsnapshot-count: 0x10\nproxy: 'readonly'\n");
    cr_assert_eq(t_load(&c, &err, NULL, NULL), 0, "%s", err);
    cr_assert(c.enable_v2);
    cr_assert_str_eq(c.name, "default");
    cr_assert_eq(c.snapshot_count, 16);
    cr_assert_eq(c.proxy, ET_PROXY_READONLY);
    et_config_free(&c);
    free(err);
}

Test(config_file, block_list_and_env_file)
{
    t_write("---\nname: lists\nlog-outputs:\n  - stdout\n  - stderr\ncipher-suites:\n"
            "- TLS_A\n- TLS_B\n");
    struct et_config c;
    char *err = NULL;
    char *env[] = { "ETCD_CONFIG_FILE=ignored-because-flag-given", NULL };
    cr_assert_eq(t_load(&c, &err, env, NULL), 0, "%s", err);
    cr_assert_str_eq(c.name, "lists");
    cr_assert_eq(c.log_outputs.count, 2);
    cr_assert_str_eq(c.log_outputs.items[1], "stderr");
    cr_assert_eq(c.cipher_suites.count, 2);
    cr_assert_str_eq(c.cipher_suites.items[0], "TLS_A");
    cr_assert_str_eq(c.data_dir, "lists.etcd");
    et_config_free(&c);
    free(err);
}

/* etcd 3.4's config file has no 0.4 / 2.x keys: it ignores them, whatever their value (a bad
 * address used to end the parse with status 1 and no message). */
Test(config_file, legacy_keys_are_ignored_as_by_etcd)
{
    t_write("name: old\naddr: bogus\npeer-addr: 1)7.0.0.1:7001\nbind-addr: 0.0.0.0\n"
            "ca-file: /ca.pem\npeers: zzz\n");
    struct et_config c;
    char *err = NULL;
    cr_assert_eq(t_load(&c, &err, NULL, NULL), 0, "%s", err);
    cr_assert_null(c.addr);
    cr_assert_null(c.peer_addr);
    cr_assert_null(c.bind_addr);
    cr_assert_null(c.client_tls.trusted_ca_file);
    cr_assert_not(c.client_tls.client_cert_auth);
    cr_assert_eq(c.peers.count, 0);
    cr_assert_str_eq(c.advertise_client_urls.items[0], "http://localhost:2379");
    et_config_free(&c);
    free(err);
}

/* A directory opens but cannot be read; etcd 3.4.23 exits 1 with Go's os.PathError. */
Test(config_file, directory_is_a_read_error)
{
    strcpy(t_path, "/tmp/et_cfg_dir_XXXXXX");
    cr_assert_not_null(mkdtemp(t_path));
    char dir[sizeof(t_path)];
    strcpy(dir, t_path);
    char want[256];
    snprintf(want, sizeof(want),
             "E | etcdmain: error verifying flags, read %s: is a directory. See 'etcd --help'.\n",
             dir);
    struct et_config c;
    char *err = NULL;
    cr_assert_eq(t_load(&c, &err, NULL, NULL), 1, "%s", err);
    rmdir(dir);
    cr_assert(strstr(err, want) != NULL, "%s", err);
    et_config_free(&c);
    free(err);
}

/* The normalised form is Go's URL.String(), as etcd 3.4 prints a member's peer URLs. */
static void t_url_raw(const char *s, size_t len, const char *want)
{
    struct et_url u;
    cr_assert_eq(et_url_parse_len(s, len, &u, t_err, sizeof(t_err)), 0, "%s", t_err);
    cr_assert_str_eq(u.raw, want);
    et_url_free(&u);
}

Test(config_url, raw_is_go_url_string)
{
    /* host escapes come out upper-case; a zone's %25 stays */
    t_url_raw("http://h%c3%a9x:1", 17, "http://h%C3%A9x:1");
    t_url_raw("http://[fe80::1%25en]:1", 23, "http://[fe80::1%25en]:1");
    struct et_url u; /* the host is Go's URL.Host: unescaped */
    cr_assert_eq(et_url_parse("http://h%c3%A9:1", &u, t_err, sizeof(t_err)), 0, "%s", t_err);
    cr_assert_str_eq(u.host, "h\xc3\xa9");
    et_url_free(&u);
    /* userinfo: unescaped, then escaped as encodeUserPassword */
    t_url_raw("http://a!b*%3a:c%41(%40@h:1", 27, "http://a%21b%2A%3A:cA%28%40@h:1");
    /* the query is kept as given; a fragment that is validly encoded too */
    t_url_raw("http://h:1?q=%c3%20\xc3\xa9#ok%c3!/?", 30, "http://h:1?q=%c3%20\xc3\xa9#ok%c3!/?");
    /* a fragment holding bytes Go escapes is unescaped and escaped again, NUL included */
    t_url_raw("http://h:1#a\xc3\xa9\x01 b%c3\x7f\0", 22, "http://h:1#a%C3%A9%01%20b%C3%7F%00");
}
