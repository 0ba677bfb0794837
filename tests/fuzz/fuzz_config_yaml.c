/*
 * tests/fuzz/fuzz_config_yaml.c - fuzzes the YAML config file (core/config_yaml.c and the typing
 * in core/config.c) through the public entry point: the input is the file given to
 * `etcd --config-file F` (an in-memory file, reached through /proc/self/fd).
 *
 * Checks: the parse ends with 0 or exit status 1 (never 2: the command line is fine); a rejected
 * file leaves an error line ("E | ..." or "C | ..." or etcd's "unexpected error setting up ..."),
 * and when the file holds no control character or backslash (so no value can carry a newline)
 * that message is exactly one line; an accepted file yields a config whose settings, given
 * again as command-line flags, pass the flag parser's validation and come out the same; the
 * start-up check of --initial-cluster either passes or explains itself.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "tests/fuzz/fuzz.h"

static int t_fd = -1;
static char t_path[64];

/* Runs the config parser on @argv, returning its stderr share in *@err (malloc'd). */
static int t_parse(struct et_config *cfg, int argc, char **argv, int *code, char **err)
{
    size_t err_len = 0;
    FILE *e = open_memstream(err, &err_len);
    FILE *o = fopen("/dev/null", "w");
    FUZZ_CHECK(e != NULL && o != NULL);
    int rc = et_config_parse_to(cfg, argc, argv, NULL, o, e, code);
    fclose(o);
    fclose(e);
    return rc;
}

/* True for the lines that carry the reason of a failed parse. */
static bool error_line(const char *l, size_t len)
{
    return (len > 4 && (memcmp(l, "E | ", 4) == 0 || memcmp(l, "C | ", 4) == 0)) ||
           (len > 28 && memcmp(l, "unexpected error setting up ", 28) == 0);
}

static void check_rejected(const char *err, bool plain)
{
    size_t errors = 0, other = 0;
    for (const char *l = err; *l != '\0';) {
        size_t len = strcspn(l, "\n");
        if (error_line(l, len))
            errors++;
        else if (!(len > 4 && (memcmp(l, "I | ", 4) == 0 || memcmp(l, "W | ", 4) == 0)))
            other++;
        l += len + (l[len] == '\n');
    }
    FUZZ_CHECK(errors >= 1);
    if (!plain)
        return;
    FUZZ_CHECK(other == 0);
    /* etcd's one exception: the advertise-client-urls error has a second, explaining line. */
    FUZZ_CHECK(errors == 1 ||
               (errors == 2 && strstr(err, "must advertise accessible url") != NULL));
}

static void add_str(char **argv, int *argc, const char *flag, const char *v)
{
    if (v == NULL)
        return;
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "--%s=%s", flag, v);
    argv[(*argc)++] = b.data;
}

static void add_u64(char **argv, int *argc, const char *flag, uint64_t v)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "--%s=%llu", flag, (unsigned long long)v);
    argv[(*argc)++] = b.data;
}

static void add_list(char **argv, int *argc, const char *flag, const struct et_strlist *l)
{
    if (l->count == 0)
        return;
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "--%s=", flag);
    for (size_t i = 0; i < l->count; i++)
        et_buf_printf(&b, "%s%s", i ? "," : "", l->items[i]);
    argv[(*argc)++] = b.data;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_list(const struct et_strlist *a, const struct et_strlist *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i], b->items[i]) != 0)
            return false;
    return true;
}

static void add_tls(char **argv, int *argc, const char *pre, const struct et_config_tls *t)
{
    char flag[64];
    snprintf(flag, sizeof(flag), "%scert-file", pre);
    add_str(argv, argc, flag, t->cert_file);
    snprintf(flag, sizeof(flag), "%skey-file", pre);
    add_str(argv, argc, flag, t->key_file);
    snprintf(flag, sizeof(flag), "%strusted-ca-file", pre);
    add_str(argv, argc, flag, t->trusted_ca_file);
    snprintf(flag, sizeof(flag), "%sclient-cert-auth", pre);
    add_str(argv, argc, flag, t->client_cert_auth ? "true" : "false");
    snprintf(flag, sizeof(flag), "%sauto-tls", pre);
    add_str(argv, argc, flag, t->auto_tls ? "true" : "false");
}

static void check_same_tls(const struct et_config_tls *a, const struct et_config_tls *b)
{
    FUZZ_CHECK(same_str(a->cert_file, b->cert_file));
    FUZZ_CHECK(same_str(a->key_file, b->key_file));
    FUZZ_CHECK(same_str(a->trusted_ca_file, b->trusted_ca_file));
    FUZZ_CHECK(a->client_cert_auth == b->client_cert_auth);
    FUZZ_CHECK(a->auto_tls == b->auto_tls);
}

/* Gives the settings of @c to the flag parser and compares what comes out. */
static void check_as_flags(const struct et_config *c)
{
    static const char *const states[] = { "new", "existing" };
    static const char *const fallbacks[] = { "proxy", "exit" };
    static const char *const proxies[] = { "off", "readonly", "on" };
    char *argv[64] = { "etcd" };
    int argc = 1;
    add_str(argv, &argc, "name", c->name);
    add_str(argv, &argc, "data-dir", c->data_dir);
    add_str(argv, &argc, "wal-dir", c->wal_dir);
    add_u64(argv, &argc, "snapshot-count", c->snapshot_count);
    add_u64(argv, &argc, "heartbeat-interval", c->heartbeat_interval_ms);
    add_u64(argv, &argc, "election-timeout", c->election_timeout_ms);
    add_u64(argv, &argc, "max-snapshots", c->max_snapshots);
    add_u64(argv, &argc, "max-wals", c->max_wals);
    add_list(argv, &argc, "listen-peer-urls", &c->listen_peer_urls);
    add_list(argv, &argc, "listen-client-urls", &c->listen_client_urls);
    add_list(argv, &argc, "initial-advertise-peer-urls", &c->initial_advertise_peer_urls);
    add_list(argv, &argc, "advertise-client-urls", &c->advertise_client_urls);
    add_str(argv, &argc, "initial-cluster", c->initial_cluster);
    add_str(argv, &argc, "initial-cluster-state", states[c->initial_cluster_state]);
    add_str(argv, &argc, "initial-cluster-token", c->initial_cluster_token);
    add_str(argv, &argc, "discovery", c->discovery);
    add_str(argv, &argc, "discovery-srv", c->discovery_srv);
    add_str(argv, &argc, "discovery-srv-name", c->discovery_srv_name);
    add_str(argv, &argc, "discovery-fallback", fallbacks[c->discovery_fallback]);
    add_str(argv, &argc, "proxy", proxies[c->proxy]);
    add_tls(argv, &argc, "", &c->client_tls);
    add_tls(argv, &argc, "peer-", &c->peer_tls);
    FUZZ_CHECK(argc <= 64);

    struct et_config f;
    int code = 0;
    char *err = NULL;
    int rc = t_parse(&f, argc, argv, &code, &err);
    if (rc != 0)
        fprintf(stderr, "accepted as a file, rejected as flags:\n%s", err);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(same_str(f.name, c->name));
    FUZZ_CHECK(same_str(f.data_dir, c->data_dir));
    FUZZ_CHECK(f.snapshot_count == c->snapshot_count);
    FUZZ_CHECK(f.election_timeout_ms == c->election_timeout_ms);
    FUZZ_CHECK(same_list(&f.listen_peer_urls, &c->listen_peer_urls));
    FUZZ_CHECK(same_list(&f.listen_client_urls, &c->listen_client_urls));
    FUZZ_CHECK(same_list(&f.initial_advertise_peer_urls, &c->initial_advertise_peer_urls));
    FUZZ_CHECK(same_list(&f.advertise_client_urls, &c->advertise_client_urls));
    FUZZ_CHECK(same_str(f.initial_cluster, c->initial_cluster));
    FUZZ_CHECK(f.initial_cluster_state == c->initial_cluster_state);
    check_same_tls(&f.client_tls, &c->client_tls);
    check_same_tls(&f.peer_tls, &c->peer_tls);
    et_config_free(&f);
    free(err);
    for (int i = 1; i < argc; i++)
        free(argv[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (t_fd < 0) {
        t_fd = memfd_create("fuzz_config_yaml", 0);
        FUZZ_CHECK(t_fd >= 0);
        snprintf(t_path, sizeof(t_path), "/proc/self/fd/%d", t_fd);
    }
    FUZZ_CHECK(ftruncate(t_fd, 0) == 0);
    FUZZ_CHECK(pwrite(t_fd, data, size, 0) == (ssize_t)size);

    bool plain = true;
    for (size_t i = 0; i < size; i++)
        plain = plain && data[i] != '\\' && (data[i] >= 0x20 || data[i] == '\n') && data[i] != 0x7f;

    struct et_config c;
    int code = -1;
    char *err = NULL;
    char *argv[] = { "etcd", "--config-file", t_path };
    int rc = t_parse(&c, 3, argv, &code, &err);
    FUZZ_CHECK(rc == 0 || rc == ET_CONFIG_EXIT);
    if (rc == 0) {
        FUZZ_CHECK(code == 0);
        FUZZ_CHECK(c.name != NULL && c.data_dir != NULL);
        FUZZ_CHECK(c.heartbeat_interval_ms > 0);
        FUZZ_CHECK(c.election_timeout_ms >= 5 * c.heartbeat_interval_ms);
        FUZZ_CHECK(c.election_timeout_ms <= 50000);
        check_as_flags(&c);
        char why[1024] = "";
        if (et_config_check_initial_cluster(&c, why, sizeof(why)) != 0)
            FUZZ_CHECK(why[0] != '\0');
    } else {
        FUZZ_CHECK(code == 1);
        check_rejected(err, plain);
    }
    et_config_free(&c);
    free(err);
    return 0;
}
