/*
 * tools/ctl_auth.c - user, role and auth commands (spec/etcdctl.md 11, spec/auth.md).
 *
 * Requests go to /v2/auth/{users,roles,enable} with JSON bodies shaped like Go's json.Marshal
 * of etcd's client structs (hence "roles":null and the null permission lists). Failures print
 * the bare message on stderr and exit 1; a non-2xx answer's {"message": ...} is the message.
 * With --debug the "Cluster-Endpoints:" line appears twice, as in etcdctl, because these
 * commands print it again after building the client.
 *
 * Reference quirk kept (spec/etcdctl.md 11): `user get` prints "Roles: " followed by the role
 * names joined by spaces, where etcdctl's list begins with one empty string per role object the
 * server returned (a failed decode into []string leaves zero values before the names).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
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

static struct ctl_client *auth_client(const struct ctl_opts *o)
{
    struct ctl_client *c = ctl_client_new(o, true);
    if (o->debug) {
        struct et_buf b = ET_BUF_INIT;
        ctl_client_endpoints(c, &b, ", ");
        fprintf(stderr, "Cluster-Endpoints: %s\n", b.data);
        et_buf_free(&b);
    }
    ctl_client_reset_deadline(c);
    return c;
}

/*
 * Sends one auth request; on success returns the parsed body (or an empty object when the
 * body is not JSON and @need_body is false). On failure prints the message and exits 1.
 * @ok1/@ok2 are the accepted statuses.
 */
static struct et_jv *auth_do(struct ctl_client *c, const char *method, const char *path,
                             const char *body, long ok1, long ok2, bool need_body)
{
    struct ctl_req req = {
        .method = method, .path = path, .body = body, .content_type = "application/json"
    };
    struct ctl_resp resp;
    struct ctl_error err = { 0 };
    if (ctl_client_do(c, &req, &resp, &err) != 0)
        die("%s\n", err.text);
    struct et_jv *j = et_jv_parse(resp.body.data, resp.body.len);
    if (resp.status != ok1 && resp.status != ok2) {
        if (!j)
            die("invalid character looking for beginning of value\n");
        die("%s\n", et_jv_str(j, "message"));
    }
    if (!j && need_body)
        die("invalid character looking for beginning of value\n");
    ctl_resp_free(&resp);
    return j;
}

static char *path_of(const char *kind, const char *name)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "/v2/auth/%s/%s", kind, name);
    return b.data;
}

static void json_str_list(struct et_buf *b, const char *const *items, size_t n)
{
    if (n == 0) {
        et_buf_append_str(b, "null");
        return;
    }
    et_buf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            et_buf_append_char(b, ',');
        et_json_cstr(b, items[i]);
    }
    et_buf_append_char(b, ']');
}

/* ======================= user ======================= */

/* A one-argument user command: the name, after the argument check etcdctl makes first. */
static const char *one_name(const struct ctl_cmd *cmd, const char *what)
{
    if (cmd->arg_count != 1)
        die("Please provide a %s\n", what);
    return cmd->args[0];
}

static void no_args(const struct ctl_cmd *cmd)
{
    if (cmd->arg_count != 0)
        die("No arguments accepted\n");
}

static void user_list(const struct ctl_opts *o, const struct ctl_cmd *cmd)
{
    no_args(cmd);
    struct ctl_client *c = auth_client(o);
    struct et_jv *j = auth_do(c, "GET", "/v2/auth/users", NULL, 200, 200, true);
    const struct et_jv *us = et_jv_get(j, "users");
    for (size_t i = 0; us && us->type == ET_JV_ARRAY && i < us->count; i++)
        printf("%s\n", et_jv_str(&us->items[i], "user"));
    et_jv_free(j);
}

static void user_get(const struct ctl_opts *o, const struct ctl_cmd *cmd)
{
    const char *name = one_name(cmd, "username");
    struct ctl_client *c = auth_client(o);
    char *path = path_of("users", name);
    struct et_jv *j = auth_do(c, "GET", path, NULL, 200, 200, true);
    const struct et_jv *roles = et_jv_get(j, "roles");
    struct et_buf line = ET_BUF_INIT;
    *et_buf_reserve(&line, 0) = '\0';
    size_t n = roles && roles->type == ET_JV_ARRAY ? roles->count : 0;
    bool objects = false;
    for (size_t i = 0; i < n; i++)
        objects |= roles->items[i].type != ET_JV_STRING;
    size_t words = 0;
    for (size_t pass = objects ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const struct et_jv *r = &roles->items[i];
            const char *w = "";
            if (pass == 1)
                w = r->type == ET_JV_STRING ? r->str : et_jv_str(r, "role");
            if (words++)
                et_buf_append_char(&line, ' ');
            et_buf_append_str(&line, w);
        }
    }
    printf("User: %s\nRoles: %s\n", et_jv_str(j, "user"), line.data);
    et_buf_free(&line);
    et_jv_free(j);
    et_free(path);
}

static void user_put(struct ctl_client *c, const char *name, const char *password,
                     const char *field, const char *const *roles, size_t role_count)
{
    struct et_buf body = ET_BUF_INIT;
    et_buf_append_str(&body, "{\"user\":");
    et_json_cstr(&body, name);
    if (password && *password) {
        et_buf_append_str(&body, ",\"password\":");
        et_json_cstr(&body, password);
    }
    et_buf_append_str(&body, ",\"roles\":null");
    if (field) {
        et_buf_printf(&body, ",\"%s\":", field);
        json_str_list(&body, roles, role_count);
    }
    et_buf_append_char(&body, '}');
    char *path = path_of("users", name);
    et_jv_free(auth_do(c, "PUT", path, body.data, 200, password && !field ? 201 : 200, false));
    et_free(path);
    et_buf_free(&body);
}

static void user_cmd(const struct ctl_opts *o, const char *sub, struct ctl_cmd *cmd)
{
    if (strcmp(sub, "list") == 0) {
        user_list(o, cmd);
    } else if (strcmp(sub, "get") == 0) {
        user_get(o, cmd);
    } else if (strcmp(sub, "add") == 0) {
        const char *arg = one_name(cmd, "username");
        const char *colon = strchr(arg, ':');
        char *name = colon ? et_strndup(arg, (size_t)(colon - arg)) : et_strdup(arg);
        char *pass = colon ? et_strdup(colon + 1) : NULL;
        struct ctl_client *c = auth_client(o);
        if (!pass)
            pass = ctl_ask_password("New password: ");
        user_put(c, name, pass, NULL, NULL, 0);
        printf("User %s created\n", name);
    } else if (strcmp(sub, "remove") == 0) {
        const char *name = one_name(cmd, "username");
        struct ctl_client *c = auth_client(o);
        char *path = path_of("users", name);
        et_jv_free(auth_do(c, "DELETE", path, NULL, 200, 200, false));
        printf("User %s removed\n", name);
    } else if (strcmp(sub, "passwd") == 0) {
        const char *name = one_name(cmd, "username");
        struct ctl_client *c = auth_client(o);
        char *pass = ctl_ask_password("New password: ");
        user_put(c, name, pass, NULL, NULL, 0);
        printf("Password updated\n");
    } else {
        const struct ctl_flag *f = ctl_cmd_flag(cmd, "roles");
        if (!f || f->str_count == 0)
            die("No roles specified; please use `--roles`\n");
        const char *name = one_name(cmd, "username");
        user_put(auth_client(o), name, NULL, strcmp(sub, "grant") == 0 ? "grant" : "revoke",
                 f->strs, f->str_count);
        printf("User %s updated\n", name);
    }
}

/* ======================= role ======================= */

/* Appends {"kv":{"read":R,"write":W}} with @path in the lists @read/@write select. */
static void perms(struct et_buf *b, const char *path, bool read, bool write)
{
    et_buf_append_str(b, "{\"kv\":{\"read\":");
    json_str_list(b, &path, read ? 1 : 0);
    et_buf_append_str(b, ",\"write\":");
    json_str_list(b, &path, write ? 1 : 0);
    et_buf_append_str(b, "}}");
}

/* reflect.DeepEqual of two decoded client.Role values (null and [] differ). */
static bool same_list(const struct et_jv *a, const struct et_jv *b)
{
    bool a_nil = !a || a->type != ET_JV_ARRAY, b_nil = !b || b->type != ET_JV_ARRAY;
    if (a_nil || b_nil)
        return a_nil == b_nil;
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (a->items[i].type != ET_JV_STRING || b->items[i].type != ET_JV_STRING ||
            strcmp(a->items[i].str, b->items[i].str) != 0)
            return false;
    return true;
}

static bool same_role(const struct et_jv *a, const struct et_jv *b)
{
    const struct et_jv *ka = et_jv_get(et_jv_get(a, "permissions"), "kv");
    const struct et_jv *kb = et_jv_get(et_jv_get(b, "permissions"), "kv");
    return strcmp(et_jv_str(a, "role"), et_jv_str(b, "role")) == 0 &&
           same_list(et_jv_get(ka, "read"), et_jv_get(kb, "read")) &&
           same_list(et_jv_get(ka, "write"), et_jv_get(kb, "write"));
}

static void role_grant_revoke(const struct ctl_opts *o, struct ctl_cmd *cmd, bool grant)
{
    const char *path = ctl_cmd_str(cmd, "path");
    if (!*path)
        die("No path specified; please use `--path`\n");
    char *canon = ctl_canonical_path(path);
    if (strcmp(canon, path) != 0)
        die("Not canonical path; please use `--path=%s`\n", canon);
    bool r = ctl_cmd_bool(cmd, "read"), w = ctl_cmd_bool(cmd, "write");
    bool rw = ctl_cmd_bool(cmd, "readwrite");
    if (r + w + rw != 1)
        die("Please specify exactly one of --read, --write or --readwrite\n");
    const char *name = one_name(cmd, "role name");
    struct ctl_client *c = auth_client(o);
    char *rpath = path_of("roles", name);
    struct et_jv *cur = auth_do(c, "GET", rpath, NULL, 200, 200, true);
    struct et_buf body = ET_BUF_INIT;
    et_buf_append_str(&body, "{\"role\":");
    et_json_cstr(&body, name);
    et_buf_append_str(&body, ",\"permissions\":{\"kv\":{\"read\":null,\"write\":null}},");
    et_buf_append_str(&body, grant ? "\"grant\":" : "\"revoke\":");
    perms(&body, path, r || rw, w || rw);
    et_buf_append_char(&body, '}');
    struct et_jv *now = auth_do(c, "PUT", rpath, body.data, 200, 200, true);
    if (same_role(cur, now))
        printf(grant ? "Role unchanged; already granted" : "Role unchanged; already revoked");
    printf("Role %s updated\n", name);
}

static void role_cmd(const struct ctl_opts *o, const char *sub, struct ctl_cmd *cmd)
{
    if (strcmp(sub, "list") == 0) {
        no_args(cmd);
        struct ctl_client *c = auth_client(o);
        struct et_jv *j = auth_do(c, "GET", "/v2/auth/roles", NULL, 200, 200, true);
        const struct et_jv *rs = et_jv_get(j, "roles");
        for (size_t i = 0; rs && rs->type == ET_JV_ARRAY && i < rs->count; i++)
            printf("%s\n", et_jv_str(&rs->items[i], "role"));
    } else if (strcmp(sub, "get") == 0) {
        const char *name = one_name(cmd, "role name");
        struct ctl_client *c = auth_client(o);
        struct et_jv *j = auth_do(c, "GET", path_of("roles", name), NULL, 200, 200, true);
        const struct et_jv *kv = et_jv_get(et_jv_get(j, "permissions"), "kv");
        printf("Role: %s\n", et_jv_str(j, "role"));
        const char *const lists[] = { "read", "write" };
        for (size_t l = 0; l < 2; l++) {
            printf("KV %s:\n", l == 0 ? "Read" : "Write");
            const struct et_jv *a = et_jv_get(kv, lists[l]);
            for (size_t i = 0; a && a->type == ET_JV_ARRAY && i < a->count; i++)
                if (a->items[i].type == ET_JV_STRING)
                    printf("\t%s\n", a->items[i].str);
        }
    } else if (strcmp(sub, "add") == 0) {
        const char *name = one_name(cmd, "role name");
        struct ctl_client *c = auth_client(o);
        char *path = path_of("roles", name);
        struct ctl_req probe = { .method = "GET", .path = path };
        struct ctl_resp resp;
        struct ctl_error err = { 0 };
        if (ctl_client_do(c, &probe, &resp, &err) == 0 && resp.status == 200)
            die("Role %s already exists\n", name);
        ctl_error_free(&err);
        struct et_buf body = ET_BUF_INIT;
        et_buf_append_str(&body, "{\"role\":");
        et_json_cstr(&body, name);
        et_buf_append_str(&body, ",\"permissions\":{\"kv\":{\"read\":null,\"write\":null}}}");
        et_jv_free(auth_do(c, "PUT", path, body.data, 200, 201, false));
        printf("Role %s created\n", name);
    } else if (strcmp(sub, "remove") == 0) {
        const char *name = one_name(cmd, "role name");
        struct ctl_client *c = auth_client(o);
        et_jv_free(auth_do(c, "DELETE", path_of("roles", name), NULL, 200, 200, false));
        printf("Role %s removed\n", name);
    } else {
        role_grant_revoke(o, cmd, strcmp(sub, "grant") == 0);
    }
}

/* ======================= dispatch ======================= */

int ctl_cmd_auth(const struct ctl_opts *o, const char *group, int argc, char **argv)
{
    ET_ASSERT(argc >= 1);
    char key[64];
    const char *sub = argv[0];
    snprintf(key, sizeof(key), "%s %s", group, sub);
    struct ctl_flag user_flags[] = { { .names = { "roles" }, .type = CTL_FLAG_STRINGS },
                                     CTL_FLAG_HELP };
    struct ctl_flag role_flags[] = {
        { .names = { "path" }, .type = CTL_FLAG_STRING },
        { .names = { "read" }, .type = CTL_FLAG_BOOL },
        { .names = { "write" }, .type = CTL_FLAG_BOOL },
        { .names = { "readwrite", "rw" }, .type = CTL_FLAG_BOOL },
        CTL_FLAG_HELP,
    };
    struct ctl_flag help_only[] = { CTL_FLAG_HELP };
    struct ctl_cmd cmd = { .name = key, .flags = help_only, .flag_count = 1 };
    bool grant_revoke = strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0;
    if (grant_revoke && strcmp(group, "user") == 0) {
        cmd.flags = user_flags;
        cmd.flag_count = ET_ARRAY_SIZE(user_flags);
    } else if (grant_revoke) {
        cmd.flags = role_flags;
        cmd.flag_count = ET_ARRAY_SIZE(role_flags);
    }
    ctl_cmd_parse(&cmd, argc - 1, argv + 1);
    if (strcmp(group, "user") == 0) {
        user_cmd(o, sub, &cmd);
    } else if (strcmp(group, "role") == 0) {
        role_cmd(o, sub, &cmd);
    } else {
        bool enable = strcmp(sub, "enable") == 0;
        no_args(&cmd);
        struct ctl_client *c = auth_client(o);
        et_jv_free(auth_do(c, enable ? "PUT" : "DELETE", "/v2/auth/enable", NULL, 200,
                           enable ? 201 : 200, false));
        printf("Authentication %s\n", enable ? "Enabled" : "Disabled");
    }
    return CTL_EXIT_OK;
}
