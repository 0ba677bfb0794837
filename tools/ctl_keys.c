/*
 * tools/ctl_keys.c - the key commands (get, ls, set, mk, mkdir, setdir, update, updatedir, rm,
 * rmdir) and the response printers shared with watch (spec/etcdctl.md 5, 7, 8).
 *
 * Every command first builds the client (which syncs the cluster, as etcdctl does before looking
 * at its own arguments), then checks its arguments, sends one request under the total timeout
 * and prints the answer with the chosen output format. Requests are byte-identical to
 * etcdctl's: query parameters and form fields sorted by name, Go's escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "tools/ctl.h"

/* ======================= decoding and printing ======================= */

static const struct et_jv *non_null(const struct et_jv *v)
{
    return v && v->type == ET_JV_OBJECT ? v : NULL;
}

int ctl_keys_decode(const struct ctl_resp *resp, struct ctl_keys_resp *out, struct ctl_error *err)
{
    memset(out, 0, sizeof(*out));
    bool ok_status = resp->status == 200 || resp->status == 201;
    if (ok_status && resp->body.len == 0)
        return 1;
    struct et_jv *root = et_jv_parse(resp->body.data, resp->body.len);
    if (!root || root->type != ET_JV_OBJECT) {
        et_jv_free(root);
        ctl_error_set(err, "client: response is invalid json. The endpoint is probably not "
                           "valid etcd cluster endpoint");
        return -1;
    }
    if (!ok_status) {
        ctl_error_set(err, "%lld: %s (%s) [%llu]", (long long)et_jv_i64(root, "errorCode"),
                      et_jv_str(root, "message"), et_jv_str(root, "cause"),
                      (unsigned long long)et_jv_u64(root, "index"));
        et_jv_free(root);
        return -1;
    }
    out->root = root;
    out->action = et_jv_str(root, "action");
    out->node = non_null(et_jv_get(root, "node"));
    out->prev = non_null(et_jv_get(root, "prevNode"));
    out->index = resp->etcd_index;
    return 0;
}

static void put_value(const struct et_jv *node)
{
    const struct et_jv *v = et_jv_get(node, "value");
    if (v && v->type == ET_JV_STRING)
        fwrite(v->str, 1, v->len, stdout);
    fputc('\n', stdout);
}

/* Go's encoding/json rendering of a client.Node (spec/etcdctl.md 7.3). */
static void json_node(struct et_buf *b, const struct et_jv *n)
{
    const struct et_jv *v;
    if (!n) {
        et_buf_append_str(b, "null");
        return;
    }
    et_buf_append_str(b, "{\"key\":");
    v = et_jv_get(n, "key");
    et_json_string(b, v && v->type == ET_JV_STRING ? v->str : "",
                   v && v->type == ET_JV_STRING ? v->len : 0);
    if (et_jv_bool(n, "dir"))
        et_buf_append_str(b, ",\"dir\":true");
    et_buf_append_str(b, ",\"value\":");
    v = et_jv_get(n, "value");
    et_json_string(b, v && v->type == ET_JV_STRING ? v->str : "",
                   v && v->type == ET_JV_STRING ? v->len : 0);
    et_buf_append_str(b, ",\"nodes\":");
    v = et_jv_get(n, "nodes");
    if (v && v->type == ET_JV_ARRAY) {
        et_buf_append_char(b, '[');
        for (size_t i = 0; i < v->count; i++) {
            if (i)
                et_buf_append_char(b, ',');
            json_node(b, non_null(&v->items[i]));
        }
        et_buf_append_char(b, ']');
    } else {
        et_buf_append_str(b, "null");
    }
    et_buf_printf(b, ",\"createdIndex\":%llu,\"modifiedIndex\":%llu",
                  (unsigned long long)et_jv_u64(n, "createdIndex"),
                  (unsigned long long)et_jv_u64(n, "modifiedIndex"));
    v = et_jv_get(n, "expiration");
    if (v && v->type == ET_JV_STRING) {
        et_buf_append_str(b, ",\"expiration\":");
        et_json_string(b, v->str, v->len);
    }
    int64_t ttl = et_jv_i64(n, "ttl");
    if (ttl != 0)
        et_buf_printf(b, ",\"ttl\":%lld", (long long)ttl);
    et_buf_append_char(b, '}');
}

void ctl_keys_print(const struct ctl_keys_resp *r, const char *format)
{
    bool is_delete = strcmp(r->action, "delete") == 0;
    if (strcmp(format, "simple") == 0) {
        if (!is_delete) {
            put_value(r->node);
        } else {
            fputs("PrevNode.Value: ", stdout);
            put_value(r->prev);
        }
    } else if (strcmp(format, "extended") == 0) {
        printf("Key: %s\n", et_jv_str(r->node, "key"));
        printf("Created-Index: %llu\n", (unsigned long long)et_jv_u64(r->node, "createdIndex"));
        printf("Modified-Index: %llu\n", (unsigned long long)et_jv_u64(r->node, "modifiedIndex"));
        if (r->prev) {
            fputs("PrevNode.Value: ", stdout);
            put_value(r->prev);
        }
        printf("TTL: %lld\n", (long long)et_jv_i64(r->node, "ttl"));
        printf("Index: %llu\n", (unsigned long long)r->index);
        if (!is_delete) {
            fputc('\n', stdout);
            put_value(r->node);
        }
    } else if (strcmp(format, "json") == 0) {
        struct et_buf b = ET_BUF_INIT;
        et_buf_append_str(&b, "{\"action\":");
        et_json_cstr(&b, r->action);
        et_buf_append_str(&b, ",\"node\":");
        json_node(&b, r->node);
        et_buf_append_str(&b, ",\"prevNode\":");
        json_node(&b, r->prev);
        et_buf_append_str(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        et_buf_free(&b);
    } else {
        fflush(stdout);
        fprintf(stderr, "Unsupported output format: %s\n", format);
    }
}

char *ctl_keys_path(const char *key)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "/v2/keys");
    if (key[0] != '/')
        et_buf_append_char(&b, '/');
    et_buf_append_str(&b, key);
    return b.data;
}

/* ======================= the commands ======================= */

enum key_cmd {
    KEY_GET,
    KEY_LS,
    KEY_SET,
    KEY_MK,
    KEY_MKDIR,
    KEY_SETDIR,
    KEY_UPDATE,
    KEY_UPDATEDIR,
    KEY_RM,
    KEY_RMDIR,
};

#define F_BOOL(...)                                     \
    {                                                   \
        .names = { __VA_ARGS__ }, .type = CTL_FLAG_BOOL \
    }
#define F_INT(...)                                     \
    {                                                  \
        .names = { __VA_ARGS__ }, .type = CTL_FLAG_INT \
    }
#define F_STR(...)                                        \
    {                                                     \
        .names = { __VA_ARGS__ }, .type = CTL_FLAG_STRING \
    }

static struct ctl_flag get_flags[] = { F_BOOL("sort"), F_BOOL("quorum", "q"), CTL_FLAG_HELP };
static struct ctl_flag ls_flags[] = { F_BOOL("sort"), F_BOOL("recursive", "r"), F_BOOL("p"),
                                      F_BOOL("quorum", "q"), CTL_FLAG_HELP };
static struct ctl_flag set_flags[] = { F_INT("ttl"), F_STR("swap-with-value"),
                                       F_INT("swap-with-index"), CTL_FLAG_HELP };
static struct ctl_flag mk_flags[] = { F_BOOL("in-order"), F_INT("ttl"), CTL_FLAG_HELP };
static struct ctl_flag mkdir_flags[] = { F_INT("ttl"), CTL_FLAG_HELP };
static struct ctl_flag setdir_flags[] = { F_INT("ttl"), CTL_FLAG_HELP };
static struct ctl_flag update_flags[] = { F_INT("ttl"), CTL_FLAG_HELP };
static struct ctl_flag updatedir_flags[] = { F_INT("ttl"), CTL_FLAG_HELP };
static struct ctl_flag rm_flags[] = { F_BOOL("dir"), F_BOOL("recursive", "r"), F_STR("with-value"),
                                      F_INT("with-index"), CTL_FLAG_HELP };
static struct ctl_flag rmdir_flags[] = { CTL_FLAG_HELP };

static const struct {
    const char *name;
    enum key_cmd kind;
    struct ctl_flag *flags;
    size_t flag_count;
} key_cmds[] = {

#define ROW(n, k, f)              \
    {                             \
        n, k, f, ET_ARRAY_SIZE(f) \
    }
    ROW("get", KEY_GET, get_flags),
    ROW("ls", KEY_LS, ls_flags),
    ROW("set", KEY_SET, set_flags),
    ROW("mk", KEY_MK, mk_flags),
    ROW("mkdir", KEY_MKDIR, mkdir_flags),
    ROW("setdir", KEY_SETDIR, setdir_flags),
    ROW("update", KEY_UPDATE, update_flags),
    ROW("updatedir", KEY_UPDATEDIR, updatedir_flags),
    ROW("rm", KEY_RM, rm_flags),
    ROW("rmdir", KEY_RMDIR, rmdir_flags),
#undef ROW
};

/* Appends "&name=value" (or without '&' when @q is empty), escaping the value. */
static void add_param(struct et_buf *q, const char *name, const char *value)
{
    if (q->len)
        et_buf_append_char(q, '&');
    et_buf_printf(q, "%s=", name);
    ctl_query_escape(q, value, strlen(value));
}

/* The value argument or, without one, all of stdin (etcdctl's argOrStdin). */
static char *value_arg(const struct ctl_cmd *cmd)
{
    if (cmd->arg_count > 1)
        return et_strdup(cmd->args[1]);
    struct et_buf b = ET_BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
        et_buf_append(&b, chunk, (size_t)n);
    if (b.len == 0) {
        et_buf_free(&b);
        ctl_fail_msg(CTL_EXIT_BAD_ARGS, "value required");
    }
    return b.data;
}

/* Form body "ttl=T&value=V" as the Go client builds it. */
static char *form_body(int64_t ttl, const char *value)
{
    struct et_buf b = ET_BUF_INIT;
    *et_buf_reserve(&b, 0) = '\0';
    if (ttl > 0)
        et_buf_printf(&b, "ttl=%llu", (unsigned long long)ttl);
    if (value)
        add_param(&b, "value", value);
    return b.data;
}

static const char *bool_str(bool b)
{
    return b ? "true" : "false";
}

/* Fills @req (and the strings it points to, owned by @q/@path/@body) for command @kind. */
static void build_request(enum key_cmd kind, const struct ctl_cmd *cmd, struct ctl_req *req,
                          struct et_buf *q, char **body)
{
    int64_t ttl = ctl_cmd_int(cmd, "ttl");
    char *value = NULL;
    switch (kind) {
    case KEY_GET:
    case KEY_LS:
        req->method = "GET";
        add_param(q, "quorum", bool_str(ctl_cmd_bool(cmd, "quorum")));
        add_param(q, "recursive", bool_str(kind == KEY_LS && ctl_cmd_bool(cmd, "recursive")));
        add_param(q, "sorted", bool_str(ctl_cmd_bool(cmd, "sort")));
        break;
    case KEY_SET:
    case KEY_MK:
    case KEY_UPDATE:
        value = value_arg(cmd);
        req->method = "PUT";
        if (kind == KEY_SET) {
            int64_t idx = ctl_cmd_int(cmd, "swap-with-index");
            const char *pv = ctl_cmd_str(cmd, "swap-with-value");
            if (idx != 0) {
                char num[24];
                snprintf(num, sizeof(num), "%llu", (unsigned long long)idx);
                add_param(q, "prevIndex", num);
            }
            if (*pv)
                add_param(q, "prevValue", pv);
        } else if (kind == KEY_MK && ctl_cmd_bool(cmd, "in-order")) {
            req->method = "POST";
        } else {
            add_param(q, "prevExist", kind == KEY_MK ? "false" : "true");
            req->one_shot = kind == KEY_MK;
        }
        *body = form_body(ttl, value);
        break;
    case KEY_MKDIR:
    case KEY_SETDIR:
    case KEY_UPDATEDIR:
        req->method = "PUT";
        add_param(q, "dir", "true");
        if (kind != KEY_SETDIR)
            add_param(q, "prevExist", kind == KEY_MKDIR ? "false" : "true");
        req->one_shot = kind == KEY_MKDIR;
        *body = form_body(ttl, NULL);
        break;
    case KEY_RM:
    case KEY_RMDIR: {
        int64_t idx = ctl_cmd_int(cmd, "with-index");
        const char *pv = ctl_cmd_str(cmd, "with-value");
        req->method = "DELETE";
        req->one_shot = true;
        if (kind == KEY_RMDIR || ctl_cmd_bool(cmd, "dir"))
            add_param(q, "dir", "true");
        if (idx != 0) {
            char num[24];
            snprintf(num, sizeof(num), "%llu", (unsigned long long)idx);
            add_param(q, "prevIndex", num);
        }
        if (*pv)
            add_param(q, "prevValue", pv);
        if (kind == KEY_RM && ctl_cmd_bool(cmd, "recursive"))
            add_param(q, "recursive", "true");
        break;
    }
    }
    et_free(value);
    *et_buf_reserve(q, 0) = '\0';
    req->query = q->data;
    req->body = *body;
}

static void print_ls_node(const struct et_jv *n, bool slash)
{
    bool dir = et_jv_bool(n, "dir");
    printf("%s%s\n", et_jv_str(n, "key"), dir && slash ? "/" : "");
    const struct et_jv *kids = et_jv_get(n, "nodes");
    for (size_t i = 0; kids && kids->type == ET_JV_ARRAY && i < kids->count; i++)
        print_ls_node(&kids->items[i], slash);
}

static void print_result(enum key_cmd kind, const struct ctl_cmd *cmd, const struct ctl_opts *o,
                         const struct ctl_keys_resp *r)
{
    bool simple = strcmp(o->output, "simple") == 0;
    bool dir = et_jv_bool(r->node, "dir");
    switch (kind) {
    case KEY_GET:
        if (dir) {
            fflush(stdout);
            fprintf(stderr, "%s: is a directory\n", et_jv_str(r->node, "key"));
            exit(CTL_EXIT_BAD_ARGS);
        }
        ctl_keys_print(r, o->output);
        break;
    case KEY_LS:
        if (simple) {
            if (!dir)
                printf("%s\n", et_jv_str(r->node, "key"));
            const struct et_jv *kids = et_jv_get(r->node, "nodes");
            for (size_t i = 0; kids && kids->type == ET_JV_ARRAY && i < kids->count; i++)
                print_ls_node(&kids->items[i], ctl_cmd_bool(cmd, "p"));
        } else {
            ctl_keys_print(r, o->output);
        }
        break;
    case KEY_MKDIR:
    case KEY_SETDIR:
    case KEY_UPDATEDIR:
        if (!simple)
            ctl_keys_print(r, o->output);
        break;
    case KEY_RM:
    case KEY_RMDIR:
        if (!dir || !simple)
            ctl_keys_print(r, o->output);
        break;
    default:
        ctl_keys_print(r, o->output);
        break;
    }
}

int ctl_cmd_keys(const struct ctl_opts *o, const char *name, int argc, char **argv)
{
    size_t i;
    for (i = 0; i < ET_ARRAY_SIZE(key_cmds); i++)
        if (strcmp(key_cmds[i].name, name) == 0)
            break;
    ET_ASSERT(i < ET_ARRAY_SIZE(key_cmds));
    struct ctl_cmd cmd = { .name = name,
                           .flags = key_cmds[i].flags,
                           .flag_count = key_cmds[i].flag_count };
    enum key_cmd kind = key_cmds[i].kind;
    ctl_cmd_parse(&cmd, argc, argv);

    struct ctl_client *c = ctl_client_new(o, true);
    const char *key = "/";
    if (cmd.arg_count > 0)
        key = cmd.args[0];
    else if (kind != KEY_LS)
        ctl_fail_msg(CTL_EXIT_BAD_ARGS, "key required");

    struct ctl_req req = { 0 };
    struct et_buf q = ET_BUF_INIT;
    char *body = NULL;
    char *path = ctl_keys_path(key);
    req.path = path;
    build_request(kind, &cmd, &req, &q, &body);

    struct ctl_resp resp;
    struct ctl_error err = { 0 };
    struct ctl_keys_resp r;
    ctl_client_reset_deadline(c);
    if (ctl_client_do(c, &req, &resp, &err) != 0)
        ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
    int rc = ctl_keys_decode(&resp, &r, &err);
    if (rc == 1)
        ctl_error_set(&err, "client: response body is empty");
    if (rc != 0)
        ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
    print_result(kind, &cmd, o, &r);
    et_jv_free(r.root);
    ctl_resp_free(&resp);
    et_buf_free(&q);
    et_free(body);
    et_free(path);
    return CTL_EXIT_OK;
}
