/*
 * tests/fuzz/fuzz_config_args.c - fuzzes the whole flag and environment parser
 * (et_config_parse_to()): the input is split on NUL bytes; a piece "ETCD_<NAME>=<value>" goes to
 * the environment, every other piece to argv after "etcd". Pieces naming a config file or a path
 * under /dev or /proc are dropped (reading whatever file a path names is not this target's job,
 * and a device could block).
 *
 * Checks: exit status 2 comes with one of Go's flag errors on the first line after any
 * "[deprecated]" or "no longer supported" notes, followed by the usage text; exit status 1 with an
 * "E | " or "C | " line, every "error verifying flags" line ending in etcd's ". See 'etcd --help'."
 * when it is a single line; exit status 0 without running only for --help or --version (something
 * on stdout or stderr); an accepted command line yields a config that passes Validate()'s checks.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "tests/fuzz/fuzz.h"

#define T_PIECES_MAX 64

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool dropped(const char *s)
{
    return strstr(s, "config-file") != NULL || strstr(s, "CONFIG_FILE") != NULL ||
           strstr(s, "/dev/") != NULL || strstr(s, "/proc/") != NULL;
}

/* Exit status 2: Go's flag package error, then the usage text; before it only the notes of
 * flags already parsed (0.4 aliases, ignored 0.4 names), as etcd logs them while parsing. */
static void check_syntax_error(const char *err)
{
    const char *l = err;
    while (strncmp(l, "[deprecated] use -", 18) == 0 ||
           strncmp(l, "W | pkg/flags: flag \"-", 22) == 0)
        l += strcspn(l, "\n") + 1;
    size_t len = strcspn(l, "\n");
    FUZZ_CHECK(starts(l, len, "flag provided but not defined: -") ||
               starts(l, len, "bad flag syntax: ") || starts(l, len, "invalid value \"") ||
               starts(l, len, "invalid boolean value \"") ||
               starts(l, len, "flag needs an argument: -"));
    FUZZ_CHECK(strstr(l, "\nUsage:\n\n  etcd [flags]\n") != NULL);
}

static void check_fatal(const char *err)
{
    size_t errors = 0;
    for (const char *l = err; *l != '\0';) {
        size_t len = strcspn(l, "\n");
        if (starts(l, len, "E | ") || starts(l, len, "C | "))
            errors++;
        if (starts(l, len, "E | etcdmain: error verifying flags, ") && l[len] == '\n' &&
            l[len + 1] == '\0')
            FUZZ_CHECK(len > 20 && memcmp(l + len - 20, ". See 'etcd --help'.", 20) == 0);
        l += len + (l[len] == '\n');
    }
    FUZZ_CHECK(errors >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[T_PIECES_MAX + 2] = { "etcd" };
    char *envp[T_PIECES_MAX + 1] = { NULL };
    int argc = 1, envc = 0;
    for (char *p = copy; p < copy + size && argc + envc <= T_PIECES_MAX; p += strlen(p) + 1) {
        if (dropped(p))
            continue;
        if (strncmp(p, "ETCD_", 5) == 0 && strchr(p, '=') != NULL)
            envp[envc++] = p;
        else
            argv[argc++] = p;
    }
    argv[argc] = NULL;
    envp[envc] = NULL;

    struct et_config c;
    int code = -1;
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *o = open_memstream(&out, &out_len);
    FILE *e = open_memstream(&err, &err_len);
    FUZZ_CHECK(o != NULL && e != NULL);
    int rc = et_config_parse_to(&c, argc, argv, envp, o, e, &code);
    fclose(o);
    fclose(e);
    FUZZ_CHECK(rc == 0 || rc == ET_CONFIG_EXIT);
    if (rc == 0) {
        FUZZ_CHECK(code == 0);
        FUZZ_CHECK(c.name != NULL && c.data_dir != NULL);
        FUZZ_CHECK(c.heartbeat_interval_ms > 0);
        FUZZ_CHECK(c.election_timeout_ms >= 5 * c.heartbeat_interval_ms);
        FUZZ_CHECK(c.election_timeout_ms <= 50000);
        const struct et_strlist *lists[] = { &c.listen_peer_urls, &c.listen_client_urls,
                                             &c.initial_advertise_peer_urls,
                                             &c.advertise_client_urls };
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
            for (size_t j = 0; j < lists[i]->count; j++) {
                struct et_url u;
                char why[512];
                int urc = et_url_parse(lists[i]->items[j], &u, why, sizeof(why));
                if (urc != 0)
                    fprintf(stderr, "accepted an invalid URL: %s\n", why);
                FUZZ_CHECK(urc == 0);
                FUZZ_CHECK(i >= 2 || et_url_host_bindable(u.scheme, u.host));
                FUZZ_CHECK(i < 2 || u.host[0] != '\0');
                et_url_free(&u);
            }
        }
    } else if (code == 2) {
        check_syntax_error(err);
    } else if (code == 1) {
        check_fatal(err);
    } else {
        FUZZ_CHECK(code == 0);
        FUZZ_CHECK(out_len > 0 || err_len > 0);
    }
    et_config_free(&c);
    free(out);
    free(err);
    free(copy);
    return 0;
}
