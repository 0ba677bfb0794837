/*
 * tools/ctl_member.c - member list|add|remove|update and cluster-health (spec/etcdctl.md 9).
 *
 * These go through the members API (/v2/members). Unlike the key commands their failures print
 * the bare error text (no "Error:" prefix) and exit 1, and -o is ignored. cluster-health never
 * syncs and then asks every member's client URLs for /health with a plain GET.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "tools/ctl.h"

ET_PRINTF(1, 2) ET_NORETURN static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    exit(CTL_EXIT_BAD_ARGS);
}

/* The bare error text and a newline on stderr, exit 1 (member commands). */
ET_NORETURN static void die_err(const struct ctl_error *err)
{
    die("%s\n", err->text ? err->text : "");
}

/* GET /v2/members[/leader] expecting 200; returns the parsed body or NULL with @err set. */
static struct et_jv *members_get(struct ctl_client *c, const char *path, struct ctl_error *err)
{
    struct ctl_req req = { .method = "GET", .path = path };
    struct ctl_resp resp;
    if (ctl_client_do(c, &req, &resp, err) != 0)
        return NULL;
    struct et_jv *root = NULL;
    if (resp.status != 200) {
        ctl_error_set(err, "unexpected status code %ld", resp.status);
    } else {
        root = et_jv_parse(resp.body.data, resp.body.len);
        if (!root || root->type != ET_JV_OBJECT) {
            et_jv_free(root);
            root = NULL;
            ctl_error_set(err, "invalid character in response body");
        }
    }
    ctl_resp_free(&resp);
    return root;
}

static const struct et_jv *members_of(const struct et_jv *root)
{
    const struct et_jv *ms = et_jv_get(root, "members");
    return ms && ms->type == ET_JV_ARRAY ? ms : NULL;
}

/* Appends the strings of array member @key joined by @sep. */
static void join(struct et_buf *b, const struct et_jv *obj, const char *key, const char *sep)
{
    const struct et_jv *a = et_jv_get(obj, key);
    *et_buf_reserve(b, 0) = '\0';
    for (size_t i = 0; a && a->type == ET_JV_ARRAY && i < a->count; i++) {
        if (i)
            et_buf_append_str(b, sep);
        if (a->items[i].type == ET_JV_STRING)
            et_buf_append_str(b, a->items[i].str);
    }
}

static int member_list(struct ctl_client *c, const struct ctl_cmd *cmd)
{
    struct ctl_error err = { 0 };
    if (cmd->arg_count != 0)
        die("No arguments accepted\n");
    ctl_client_reset_deadline(c);
    struct et_jv *root = members_get(c, "/v2/members", &err);
    if (!root)
        die_err(&err);
    struct et_jv *leader = members_get(c, "/v2/members/leader", &err);
    if (!leader)
        die("Failed to get leader:  %s\n", err.text);
    const struct et_jv *ms = members_of(root);
    for (size_t i = 0; ms && i < ms->count; i++) {
        const struct et_jv *m = &ms->items[i];
        struct et_buf peers = ET_BUF_INIT, clients = ET_BUF_INIT;
        join(&peers, m, "peerURLs", ",");
        join(&clients, m, "clientURLs", ",");
        const char *id = et_jv_str(m, "id");
        const char *name = et_jv_str(m, "name");
        if (!*name)
            printf("%s[unstarted]: peerURLs=%s\n", id, peers.data);
        else
            printf("%s: name=%s peerURLs=%s clientURLs=%s isLeader=%s\n", id, name, peers.data,
                   clients.data, strcmp(id, et_jv_str(leader, "id")) == 0 ? "true" : "false");
        et_buf_free(&peers);
        et_buf_free(&clients);
    }
    et_jv_free(root);
    et_jv_free(leader);
    return CTL_EXIT_OK;
}

/*
 * etcd's types.NewURLs() checks on each peer URL, then the list sorted; the JSON body
 * {"peerURLs":[...]} goes into @body. Returns 0 or -1 with the error text in @err.
 */
static int peer_urls_body(char **urls, size_t n, struct et_buf *body, struct ctl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *u = urls[i];
        const char *colon = strchr(u, ':');
        size_t slen = colon ? (size_t)(colon - u) : 0;
        bool ok_scheme = colon && ((slen == 4 && strncmp(u, "http", 4) == 0) ||
                                   (slen == 5 && strncmp(u, "https", 5) == 0) ||
                                   (slen == 4 && strncmp(u, "unix", 4) == 0) ||
                                   (slen == 5 && strncmp(u, "unixs", 5) == 0));
        if (!ok_scheme) {
            ctl_error_set(err, "URL scheme must be http, https, unix, or unixs: %s", u);
            return -1;
        }
        const char *host = colon + 1;
        if (strncmp(host, "//", 2) == 0)
            host += 2;
        size_t hlen = strcspn(host, "/?#");
        const char *pc = memrchr(host, ':', hlen);
        if (!pc || pc == host + hlen - 1 ||
            (memchr(host, ']', hlen) && pc < (char *)memchr(host, ']', hlen))) {
            ctl_error_set(err, "URL address does not have the form \"host:port\": %s", u);
            return -1;
        }
        if (host[hlen] == '/') {
            ctl_error_set(err, "URL must not contain a path: %s", u);
            return -1;
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(urls[k - 1], urls[k]) > 0; k--) {
            char *t = urls[k];
            urls[k] = urls[k - 1];
            urls[k - 1] = t;
        }
    et_buf_append_str(body, "{\"peerURLs\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            et_buf_append_char(body, ',');
        ctl_go_quote(body, urls[i], strlen(urls[i]));
    }
    et_buf_append_str(body, "]}");
    return 0;
}

/* A non-2xx answer's {"message": ...} (membership errors) as the error text. */
static void message_error(const struct ctl_resp *resp, struct ctl_error *err)
{
    struct et_jv *j = et_jv_parse(resp->body.data, resp->body.len);
    if (j)
        ctl_error_set(err, "%s", et_jv_str(j, "message"));
    else
        ctl_error_set(err, "invalid character in response body");
    et_jv_free(j);
}

static int member_add(struct ctl_client *c, const struct ctl_cmd *cmd)
{
    struct ctl_error err = { 0 };
    struct et_buf body = ET_BUF_INIT;
    if (cmd->arg_count != 2)
        die("Provide a name and a single member peerURL\n");
    const char *name = cmd->args[0];
    char *url = cmd->args[1];
    if (peer_urls_body(&url, 1, &body, &err) != 0)
        die_err(&err);
    struct ctl_req req = { .method = "POST",
                           .path = "/v2/members",
                           .body = body.data,
                           .content_type = "application/json" };
    struct ctl_resp resp;
    ctl_client_reset_deadline(c);
    if (ctl_client_do(c, &req, &resp, &err) != 0)
        die_err(&err);
    if (resp.status == 409) {
        message_error(&resp, &err);
        die_err(&err);
    }
    if (resp.status != 201) {
        ctl_error_set(&err, "unexpected status code %ld", resp.status);
        die_err(&err);
    }
    struct et_jv *m = et_jv_parse(resp.body.data, resp.body.len);
    char *new_id = et_strdup(et_jv_str(m, "id"));
    printf("Added member named %s with ID %s to cluster\n", name, new_id);
    struct et_jv *root = members_get(c, "/v2/members", &err);
    if (!root)
        die_err(&err);
    struct et_buf conf = ET_BUF_INIT;
    const struct et_jv *ms = members_of(root);
    *et_buf_reserve(&conf, 0) = '\0';
    for (size_t i = 0; ms && i < ms->count; i++) {
        const struct et_jv *mm = &ms->items[i];
        const struct et_jv *pu = et_jv_get(mm, "peerURLs");
        const char *n = strcmp(et_jv_str(mm, "id"), new_id) == 0 ? name : et_jv_str(mm, "name");
        for (size_t k = 0; pu && pu->type == ET_JV_ARRAY && k < pu->count; k++) {
            if (conf.len)
                et_buf_append_char(&conf, ',');
            et_buf_printf(&conf, "%s=%s", n,
                          pu->items[k].type == ET_JV_STRING ? pu->items[k].str : "");
        }
    }
    struct et_buf out = ET_BUF_INIT;
    et_buf_append_str(&out, "\nETCD_NAME=");
    ctl_go_quote(&out, name, strlen(name));
    et_buf_append_str(&out, "\nETCD_INITIAL_CLUSTER=");
    ctl_go_quote(&out, conf.data, conf.len);
    et_buf_append_str(&out, "\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n");
    fwrite(out.data, 1, out.len, stdout);
    return CTL_EXIT_OK;
}

static int member_remove(struct ctl_client *c, const struct ctl_cmd *cmd)
{
    struct ctl_error err = { 0 };
    if (cmd->arg_count != 1)
        die("Provide a single member ID\n");
    const char *id = cmd->args[0];
    ctl_client_reset_deadline(c);
    struct et_jv *root = members_get(c, "/v2/members", &err);
    if (!root)
        die("Error while verifying ID against known members: %s\n", err.text);
    const struct et_jv *ms = members_of(root);
    bool found = false;
    for (size_t i = 0; ms && i < ms->count; i++) {
        const struct et_jv *m = &ms->items[i];
        if (strcmp(et_jv_str(m, "id"), id) == 0)
            found = true;
        if (strcmp(et_jv_str(m, "name"), id) == 0) {
            fprintf(stderr,
                    "Found a member named %s; if this is correct, please use its ID, eg:\n"
                    "\tetcdctl member remove %s\n",
                    et_jv_str(m, "name"), et_jv_str(m, "id"));
            fprintf(stderr, "For more details, read the documentation at "
                            "https://github.com/etcd-io/etcd/blob/master/Documentation/"
                            "runtime-configuration.md#remove-a-member\n\n");
        }
    }
    if (!found)
        die("Couldn't find a member in the cluster with an ID of %s.\n", id);
    struct et_buf path = ET_BUF_INIT;
    et_buf_printf(&path, "/v2/members/%s", id);
    struct ctl_req req = { .method = "DELETE", .path = path.data };
    struct ctl_resp resp;
    ctl_client_reset_deadline(c);
    if (ctl_client_do(c, &req, &resp, &err) == 0 && resp.status != 204 && resp.status != 410)
        ctl_error_set(&err, "unexpected status code %ld", resp.status);
    if (err.text)
        die("Received an error trying to remove member %s: %s", id, err.text);
    printf("Removed member %s from cluster\n", id);
    return CTL_EXIT_OK;
}

static int member_update(struct ctl_client *c, const struct ctl_cmd *cmd)
{
    struct ctl_error err = { 0 };
    struct et_buf body = ET_BUF_INIT;
    if (cmd->arg_count != 2)
        die("Provide an ID and a list of comma separated peerURL (0xabcd "
            "http://example.com,http://example1.com)\n");
    const char *id = cmd->args[0];
    size_t n = 1;
    for (const char *p = cmd->args[1]; *p; p++)
        n += *p == ',';
    char **urls = et_calloc(n, sizeof(*urls));
    char *copy = et_strdup(cmd->args[1]);
    char *save = NULL;
    n = 0;
    for (char *t = copy, *s; (s = strsep(&t, ",")) != NULL;)
        urls[n++] = s;
    (void)save;
    if (peer_urls_body(urls, n, &body, &err) != 0)
        die_err(&err);
    struct et_buf path = ET_BUF_INIT;
    et_buf_printf(&path, "/v2/members/%s", id);
    struct ctl_req req = {
        .method = "PUT", .path = path.data, .body = body.data, .content_type = "application/json"
    };
    struct ctl_resp resp;
    ctl_client_reset_deadline(c);
    if (ctl_client_do(c, &req, &resp, &err) != 0)
        die_err(&err);
    if (resp.status == 404)
        die("No such member: %s\n", id);
    if (resp.status == 409) {
        message_error(&resp, &err);
        die_err(&err);
    }
    if (resp.status != 204) {
        ctl_error_set(&err, "unexpected status code %ld", resp.status);
        die_err(&err);
    }
    printf("Updated member with ID %s in cluster\n", id);
    return CTL_EXIT_OK;
}

int ctl_cmd_member(const struct ctl_opts *o, int argc, char **argv)
{
    ET_ASSERT(argc >= 1);
    char key[32];
    snprintf(key, sizeof(key), "member %s", argv[0]);
    struct ctl_flag flags[] = { CTL_FLAG_HELP };
    struct ctl_cmd cmd = { .name = key, .flags = flags, .flag_count = 1 };
    ctl_cmd_parse(&cmd, argc - 1, argv + 1);
    struct ctl_client *c = ctl_client_new(o, true);
    if (strcmp(argv[0], "list") == 0)
        return member_list(c, &cmd);
    if (strcmp(argv[0], "add") == 0)
        return member_add(c, &cmd);
    if (strcmp(argv[0], "remove") == 0)
        return member_remove(c, &cmd);
    ET_ASSERT(strcmp(argv[0], "update") == 0);
    return member_update(c, &cmd);
}

/* One member's health round; returns true when it answered healthy. */
static bool check_member(struct ctl_client *c, const struct et_jv *m)
{
    const char *id = et_jv_str(m, "id");
    const struct et_jv *cu = et_jv_get(m, "clientURLs");
    size_t n = cu && cu->type == ET_JV_ARRAY ? cu->count : 0;
    if (n == 0) {
        printf("member %s is unreachable: no available published client urls\n", id);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *url = cu->items[i].type == ET_JV_STRING ? cu->items[i].str : "";
        struct et_buf u = ET_BUF_INIT;
        struct ctl_resp resp;
        struct ctl_error err = { 0 };
        et_buf_printf(&u, "%s/health", url);
        int rc = ctl_client_get_url(c, u.data, &resp, &err);
        et_buf_free(&u);
        if (rc != 0) {
            printf("failed to check the health of member %s on %s: %s\n", id, url, err.text);
            ctl_error_free(&err);
            continue;
        }
        struct et_jv *j = et_jv_parse(resp.body.data, resp.body.len);
        const struct et_jv *h = et_jv_get(j, "health");
        ctl_resp_free(&resp);
        if (!j ||
            (h && h->type != ET_JV_STRING && h->type != ET_JV_BOOL && h->type != ET_JV_NULL)) {
            printf("failed to check the health of member %s on %s: %s\n", id, url,
                   j ? "json: cannot unmarshal into Go struct field .health of type bool"
                     : "invalid character looking for beginning of value");
            et_jv_free(j);
            continue;
        }
        bool healthy = h && ((h->type == ET_JV_STRING && strcmp(h->str, "true") == 0) ||
                             (h->type == ET_JV_BOOL && h->boolean));
        et_jv_free(j);
        printf("member %s is %s: got %s result from %s\n", id, healthy ? "healthy" : "unhealthy",
               healthy ? "healthy" : "unhealthy", url);
        return healthy;
    }
    struct et_buf all = ET_BUF_INIT;
    join(&all, m, "clientURLs", " ");
    printf("member %s is unreachable: [%s] are all unreachable\n", id, all.data);
    et_buf_free(&all);
    return false;
}

int ctl_cmd_cluster_health(const struct ctl_opts *o, int argc, char **argv)
{
    struct ctl_flag flags[] = { { .names = { "forever", "f" }, .type = CTL_FLAG_BOOL },
                                CTL_FLAG_HELP };
    struct ctl_cmd cmd = { .name = "cluster-health", .flags = flags, .flag_count = 2 };
    ctl_cmd_parse(&cmd, argc, argv);
    bool forever = ctl_cmd_bool(&cmd, "forever");
    if (forever)
        ctl_exit_on_sigint();
    struct ctl_client *c = ctl_client_new(o, false);
    struct ctl_error err = { 0 };
    struct ctl_req req = { .method = "GET", .path = "/v2/members", .no_deadline = true };
    struct ctl_resp resp;
    struct et_jv *root = NULL;
    if (ctl_client_do(c, &req, &resp, &err) == 0) {
        if (resp.status != 200)
            ctl_error_set(&err, "unexpected status code %ld", resp.status);
        else if (!(root = et_jv_parse(resp.body.data, resp.body.len)))
            ctl_error_set(&err, "invalid character in response body");
        ctl_resp_free(&resp);
    }
    if (!root) {
        printf("cluster may be unhealthy: failed to list members\n");
        ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
    }
    const struct et_jv *ms = members_of(root);
    size_t count = ms ? ms->count : 0;
    for (;;) {
        size_t healthy = 0;
        for (size_t i = 0; i < count; i++)
            healthy += check_member(c, &ms->items[i]);
        if (healthy == count)
            printf("cluster is healthy\n");
        else if (healthy == 0)
            printf("cluster is unavailable\n");
        else
            printf("cluster is degraded\n");
        fflush(stdout);
        if (!forever)
            return healthy == count ? CTL_EXIT_OK : CTL_EXIT_CLUSTER_NOT_HEALTHY;
        printf("\nnext check after 10 second...\n\n");
        fflush(stdout);
        sleep(10);
    }
}
