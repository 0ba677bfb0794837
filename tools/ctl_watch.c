/*
 * tools/ctl_watch.c - watch and exec-watch (spec/etcdctl.md 8.10, 8.11).
 *
 * Both long-poll GET /v2/keys/KEY?recursive=R&wait=true&waitIndex=W, moving W to the event's
 * modifiedIndex + 1 after every event, with neither the header timeout nor the total timeout
 * (a watch may block forever). Events on directories are skipped (exec-watch says so on
 * stderr). exec-watch starts the command per event without waiting for it, with the
 * ETCD_WATCH_* variables added to the environment; a SIGCHLD handler reaps the children.
 * SIGINT ends either command with status 0.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "tools/ctl.h"

extern char **environ;

static void on_sigint(int sig)
{
    (void)sig;
    _exit(CTL_EXIT_OK);
}

void ctl_exit_on_sigint(void)
{
    struct sigaction sa = { .sa_handler = on_sigint };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

struct watcher {
    struct ctl_client *client;
    char *path; /* "/v2/keys/KEY" */
    bool recursive;
    uint64_t wait_index; /* next waitIndex; 0 = from now */
};

/* Waits for the next event (retrying empty answers); exits 4 on an error like etcdctl. */
static void watcher_next(struct watcher *w, struct ctl_resp *resp, struct ctl_keys_resp *r)
{
    for (;;) {
        struct et_buf q = ET_BUF_INIT;
        struct ctl_error err = { 0 };
        et_buf_printf(&q, "recursive=%s&wait=true&waitIndex=%llu", w->recursive ? "true" : "false",
                      (unsigned long long)w->wait_index);
        struct ctl_req req = { .method = "GET", .path = w->path, .query = q.data, .wait = true };
        if (ctl_client_do(w->client, &req, resp, &err) != 0)
            ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
        et_buf_free(&q);
        int rc = ctl_keys_decode(resp, r, &err);
        if (rc < 0)
            ctl_fail(&err, CTL_EXIT_SERVER_ERROR);
        if (rc == 0) {
            w->wait_index = et_jv_u64(r->node, "modifiedIndex") + 1;
            return;
        }
        ctl_resp_free(resp);
    }
}

static uint64_t after_index(int64_t v)
{
    /* etcdctl: index = after-index (+1 when non-zero), then uint64() of it */
    return v != 0 ? (uint64_t)(v + 1) : 0;
}

int ctl_cmd_watch(const struct ctl_opts *o, int argc, char **argv)
{
    struct ctl_flag flags[] = {
        { .names = { "forever", "f" }, .type = CTL_FLAG_BOOL },
        { .names = { "after-index" }, .type = CTL_FLAG_INT },
        { .names = { "recursive", "r" }, .type = CTL_FLAG_BOOL },
        CTL_FLAG_HELP,
    };
    struct ctl_cmd cmd = { .name = "watch", .flags = flags, .flag_count = ET_ARRAY_SIZE(flags) };
    ctl_cmd_parse(&cmd, argc, argv);
    struct watcher w = { .client = ctl_client_new(o, true) };
    if (cmd.arg_count == 0)
        ctl_fail_msg(CTL_EXIT_BAD_ARGS, "key required");
    w.path = ctl_keys_path(cmd.args[0]);
    w.recursive = ctl_cmd_bool(&cmd, "recursive");
    w.wait_index = after_index(ctl_cmd_int(&cmd, "after-index"));
    bool forever = ctl_cmd_bool(&cmd, "forever");
    for (;;) {
        struct ctl_resp resp;
        struct ctl_keys_resp r;
        watcher_next(&w, &resp, &r);
        bool dir = et_jv_bool(r.node, "dir");
        if (!dir) {
            if (w.recursive)
                printf("[%s] %s\n", r.action, et_jv_str(r.node, "key"));
            ctl_keys_print(&r, o->output);
            fflush(stdout);
        }
        et_jv_free(r.root);
        ctl_resp_free(&resp);
        if (!dir && !forever)
            break;
    }
    et_free(w.path);
    return CTL_EXIT_OK;
}

static void on_sigchld(int sig)
{
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

/* The parent's environment without ETCD_WATCH_*, plus this event's four variables. */
static char **event_env(const struct ctl_keys_resp *r)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = et_calloc(n + 5, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "ETCD_WATCH_ACTION=", 18) != 0 &&
            strncmp(environ[i], "ETCD_WATCH_MODIFIED_INDEX=", 26) != 0 &&
            strncmp(environ[i], "ETCD_WATCH_KEY=", 15) != 0 &&
            strncmp(environ[i], "ETCD_WATCH_VALUE=", 17) != 0)
            env[k++] = environ[i];
    struct et_buf b = ET_BUF_INIT;
    et_buf_printf(&b, "ETCD_WATCH_ACTION=%s", r->action);
    env[k++] = et_strdup(b.data);
    et_buf_reset(&b);
    et_buf_printf(&b, "ETCD_WATCH_MODIFIED_INDEX=%llu",
                  (unsigned long long)et_jv_u64(r->node, "modifiedIndex"));
    env[k++] = et_strdup(b.data);
    et_buf_reset(&b);
    et_buf_printf(&b, "ETCD_WATCH_KEY=%s", et_jv_str(r->node, "key"));
    env[k++] = et_strdup(b.data);
    et_buf_reset(&b);
    et_buf_printf(&b, "ETCD_WATCH_VALUE=%s", et_jv_str(r->node, "value"));
    env[k++] = et_strdup(b.data);
    et_buf_free(&b);
    return env;
}

/* Starts @cmd for event @r; on failure prints Go's exec error (no newline) and exits 1. */
static void spawn_event(char **cmd, const struct ctl_keys_resp *r)
{
    char **env = event_env(r);
    pid_t pid;
    fflush(stdout);
    int rc = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, env);
    if (rc != 0) {
        if (strchr(cmd[0], '/') || rc != ENOENT) {
            const char *s = strerror(rc);
            fprintf(stderr, "fork/exec %s: %c%s", cmd[0],
                    s[0] >= 'A' && s[0] <= 'Z' ? s[0] + 32 : s[0], s + 1);
        } else {
            fprintf(stderr, "exec: \"%s\": executable file not found in $PATH", cmd[0]);
        }
        exit(CTL_EXIT_BAD_ARGS);
    }
    size_t n = 0;
    while (env[n])
        n++;
    for (size_t i = n - 4; i < n; i++)
        et_free(env[i]);
    et_free(env);
}

int ctl_cmd_exec_watch(const struct ctl_opts *o, int argc, char **argv)
{
    struct ctl_flag flags[] = {
        { .names = { "after-index" }, .type = CTL_FLAG_INT },
        { .names = { "recursive", "r" }, .type = CTL_FLAG_BOOL },
        CTL_FLAG_HELP,
    };
    struct ctl_cmd cmd = { .name = "exec-watch",
                           .flags = flags,
                           .flag_count = ET_ARRAY_SIZE(flags) };
    ctl_cmd_parse(&cmd, argc, argv);
    struct watcher w = { .client = ctl_client_new(o, true) };
    if (cmd.arg_count < 2)
        ctl_fail_msg(CTL_EXIT_BAD_ARGS, "key and command to exec required");

    /*
     * The key comes before "--" and the command after it (the documented form). etcdctl's CLI
     * library sometimes swallows that "--" and then takes the last argument as the key; we
     * follow the documented intent (spec/etcdctl.md 8.11) and keep the legacy "command... key"
     * order only when no "--" was given at all.
     */
    const char *key;
    char **command;
    size_t sep = cmd.arg_count;
    for (size_t i = 1; i < cmd.arg_count; i++) {
        if (strcmp(cmd.args[i], "--") == 0) {
            sep = i;
            break;
        }
    }
    if (sep < cmd.arg_count) {
        key = cmd.args[0];
        command = cmd.args + 2; /* etcdctl: args[2:] */
    } else if (cmd.dashdash_at == 1) {
        key = cmd.args[0];
        command = cmd.args + 1;
    } else {
        key = cmd.args[cmd.arg_count - 1];
        cmd.args[cmd.arg_count - 1] = NULL;
        command = cmd.args;
    }
    size_t command_count = 0;
    while (command[command_count] && command + command_count < cmd.args + cmd.arg_count)
        command_count++;
    char **cmdv = et_calloc(command_count + 1, sizeof(*cmdv));
    memcpy(cmdv, command, command_count * sizeof(*cmdv));
    if (command_count == 0)
        ctl_fail_msg(CTL_EXIT_BAD_ARGS, "key and command to exec required");

    struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    w.path = ctl_keys_path(key);
    w.recursive = ctl_cmd_bool(&cmd, "recursive");
    w.wait_index = after_index(ctl_cmd_int(&cmd, "after-index"));
    for (;;) {
        struct ctl_resp resp;
        struct ctl_keys_resp r;
        watcher_next(&w, &resp, &r);
        if (et_jv_bool(r.node, "dir"))
            fprintf(stderr, "Ignored dir %s change\n", et_jv_str(r.node, "key"));
        else
            spawn_event(cmdv, &r);
        et_jv_free(r.root);
        ctl_resp_free(&resp);
    }
}
