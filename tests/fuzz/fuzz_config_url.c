/*
 * tests/fuzz/fuzz_config_url.c - fuzzes the URL flag grammar and --initial-cluster
 * (core/config_url.c): et_url_parse(), et_urls_parse() and et_initial_cluster_parse() on the
 * same bytes (cut at the first NUL, as an argv string would be).
 *
 * Checks: a rejected input leaves a non-empty message; an accepted URL has a known scheme, a
 * digits-only port, and its rendering (raw) parses again to the same parts; an accepted list has
 * one sorted entry per comma-separated part, each of which parses to itself, and the joined list
 * parses to the same list; an accepted initial cluster has a URL for every member, one URL per
 * non-empty part, and its "name=url,..." rendering parses to the same members. A member's name
 * may be empty: etcd 3.4 accepts `--name '' --initial-cluster '=http://127.0.0.1:2380'` and runs.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "tests/fuzz/fuzz.h"

static char t_err[4096];

static void check_url(const char *s)
{
    struct et_url u, again;
    t_err[0] = '\0';
    if (et_url_parse(s, &u, t_err, sizeof(t_err)) != 0) {
        FUZZ_CHECK(t_err[0] != '\0');
        return;
    }
    FUZZ_CHECK(strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0 ||
               strcmp(u.scheme, "unix") == 0 || strcmp(u.scheme, "unixs") == 0);
    FUZZ_CHECK(strspn(u.port, "0123456789") == strlen(u.port));
    FUZZ_CHECK(strncmp(u.raw, u.scheme, strlen(u.scheme)) == 0);
    FUZZ_CHECK(et_url_parse(u.raw, &again, t_err, sizeof(t_err)) == 0);
    FUZZ_CHECK(strcmp(u.scheme, again.scheme) == 0);
    FUZZ_CHECK(strcmp(u.host, again.host) == 0);
    FUZZ_CHECK(strcmp(u.port, again.port) == 0);
    FUZZ_CHECK(strcmp(u.raw, again.raw) == 0);
    (void)et_url_host_bindable(u.scheme, u.host);
    et_url_free(&again);
    et_url_free(&u);
}

static size_t count_parts(const char *s, bool skip_empty)
{
    size_t n = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        n += len > 0 || !skip_empty;
        if (p[len] == '\0')
            return n;
        p += len + 1;
    }
}

static void join(struct et_buf *b, const struct et_strlist *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        et_buf_printf(b, "%s%s%s%s", b->len > 0 ? "," : "", name ? name : "", name ? "=" : "",
                      l->items[i]);
}

/*
 * Joined with commas, a list parses back to itself unless a URL's string form holds a comma: as
 * in Go's URL.String() (and etcd's /v2/members), a percent-encoded comma in the user info, or in
 * a fragment that has to be escaped again, comes back decoded ("http://u%2cx@h:1" is
 * "http://u,x@h:1"), and etcd splits its lists on commas.
 */
static bool comma_free(const struct et_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (strchr(l->items[i], ',') != NULL)
            return false;
    return true;
}

static void check_list(const char *s)
{
    struct et_strlist l = { 0 }, again = { 0 };
    t_err[0] = '\0';
    if (et_urls_parse(s, &l, t_err, sizeof(t_err)) != 0) {
        FUZZ_CHECK(t_err[0] != '\0');
        FUZZ_CHECK(l.count == 0);
        return;
    }
    FUZZ_CHECK(l.count == count_parts(s, false));
    for (size_t i = 0; i < l.count; i++) {
        FUZZ_CHECK(i == 0 || strcmp(l.items[i - 1], l.items[i]) <= 0);
        struct et_url u;
        FUZZ_CHECK(et_url_parse(l.items[i], &u, t_err, sizeof(t_err)) == 0);
        FUZZ_CHECK(strcmp(u.raw, l.items[i]) == 0);
        et_url_free(&u);
    }
    if (!comma_free(&l))
        goto out;
    struct et_buf b = ET_BUF_INIT;
    join(&b, &l, NULL);
    FUZZ_CHECK(et_urls_parse(b.data, &again, t_err, sizeof(t_err)) == 0);
    FUZZ_CHECK(again.count == l.count);
    for (size_t i = 0; i < l.count; i++)
        FUZZ_CHECK(strcmp(again.items[i], l.items[i]) == 0);
    et_buf_free(&b);
    et_strlist_free(&again);
out:
    et_strlist_free(&l);
}

static void check_cluster(const char *s)
{
    struct et_cluster_members m = { 0 }, again = { 0 };
    t_err[0] = '\0';
    if (et_initial_cluster_parse(s, &m, t_err, sizeof(t_err)) != 0) {
        FUZZ_CHECK(t_err[0] != '\0');
        FUZZ_CHECK(m.count == 0);
        return;
    }
    size_t urls = 0;
    bool rejoin = true; /* see comma_free() */
    struct et_buf b = ET_BUF_INIT;
    for (size_t i = 0; i < m.count; i++) {
        FUZZ_CHECK(m.members[i].name != NULL);
        FUZZ_CHECK(strchr(m.members[i].name, ',') == NULL);
        FUZZ_CHECK(strchr(m.members[i].name, '=') == NULL);
        FUZZ_CHECK(m.members[i].peer_urls.count > 0);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(m.members[i].name, m.members[j].name) != 0);
        for (size_t j = 0; j < m.members[i].peer_urls.count; j++) {
            struct et_url u;
            FUZZ_CHECK(et_url_parse(m.members[i].peer_urls.items[j], &u, t_err, sizeof(t_err)) ==
                       0);
            et_url_free(&u);
        }
        urls += m.members[i].peer_urls.count;
        rejoin = rejoin && comma_free(&m.members[i].peer_urls);
        join(&b, &m.members[i].peer_urls, m.members[i].name);
    }
    FUZZ_CHECK(urls == count_parts(s, true));
    if (!rejoin)
        goto out;
    FUZZ_CHECK(et_initial_cluster_parse(b.data ? b.data : "", &again, t_err, sizeof(t_err)) == 0);
    FUZZ_CHECK(again.count == m.count);
    for (size_t i = 0; i < m.count; i++) {
        FUZZ_CHECK(strcmp(again.members[i].name, m.members[i].name) == 0);
        FUZZ_CHECK(again.members[i].peer_urls.count == m.members[i].peer_urls.count);
        for (size_t j = 0; j < m.members[i].peer_urls.count; j++)
            FUZZ_CHECK(
                strcmp(again.members[i].peer_urls.items[j], m.members[i].peer_urls.items[j]) == 0);
    }
    et_cluster_members_free(&again);
out:
    et_buf_free(&b);
    et_cluster_members_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    FUZZ_CHECK(s != NULL);
    check_url(s);
    check_list(s);
    check_cluster(s);
    free(s);
    return 0;
}
