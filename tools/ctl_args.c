/*
 * tools/ctl_args.c - command-line parsing as etcdctl's CLI library (urfave/cli 1.22) does it.
 *
 * A command's arguments go through two steps (spec/etcdctl.md 2):
 *  1. reordering: every token naming one of the command's flags (plus the token after it, when
 *     that is not itself a flag) moves to the front; a "--" stops the scan and is placed first
 *     among the remaining tokens (so a "--" not preceded by a flag is consumed by step 2);
 *  2. Go's flag package: flags until the first non-flag token or "--"; the rest are positional.
 * The same Go flag rules (ctl_go_flags()) parse the global options in ctl_main.c. Error texts
 * are Go's ("flag provided but not defined: -x", "invalid value \"abc\" for flag -ttl: parse
 * error"), because scripts see them on stdout and stderr.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tools/ctl.h"

/* ---------------- Go value parsers ---------------- */

int ctl_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
    for (size_t i = 0; i < ET_ARRAY_SIZE(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int ctl_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    int base = 10;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && p[1] != '\0') {
        base = 8;
        p += 1;
    }
    if (*p == '\0')
        return -1;
    uint64_t v = 0;
    bool overflow = false;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'z')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'Z')
            d = *p - 'A' + 10;
        else
            return -1;
        if (d >= base)
            return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            overflow = true;
        else
            v = v * (uint64_t)base + (uint64_t)d;
    }
    if (overflow || v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return -2;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int ctl_parse_duration(const char *s, int64_t *out_ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = { { "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
                  { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },        { "h", 3600e9 } };

    const char *p = s;
    bool neg = false;
    double total = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    if (*p == '\0')
        return -1;
    while (*p) {
        const char *num = p;
        while (isdigit((unsigned char)*p) || *p == '.')
            p++;
        if (p == num || (p - num == 1 && *num == '.'))
            return -1;
        double v = strtod(num, NULL);
        const char *u = p;
        while (*p && !isdigit((unsigned char)*p) && *p != '.')
            p++;
        size_t ulen = (size_t)(p - u), i;
        for (i = 0; i < ET_ARRAY_SIZE(units); i++)
            if (strlen(units[i].unit) == ulen && memcmp(units[i].unit, u, ulen) == 0)
                break;
        if (i == ET_ARRAY_SIZE(units))
            return -1;
        total += v * units[i].ns;
    }
    if (total > 9.2e18)
        return -1;
    *out_ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* ---------------- Go's flag package ---------------- */

static struct ctl_flag *find_flag(struct ctl_flag *flags, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ET_ARRAY_SIZE(flags[i].names) && flags[i].names[k]; k++)
            if (strlen(flags[i].names[k]) == len && memcmp(flags[i].names[k], name, len) == 0)
                return &flags[i];
    return NULL;
}

static int set_value(struct ctl_flag *f, const char *name, const char *value, struct et_buf *err)
{
    int rc;
    switch (f->type) {
    case CTL_FLAG_BOOL:
        ET_UNREACHABLE();
    case CTL_FLAG_INT:
        rc = ctl_parse_int(value, &f->i);
        if (rc != 0)
            goto invalid;
        break;
    case CTL_FLAG_DURATION:
        rc = ctl_parse_duration(value, &f->i);
        if (rc != 0)
            goto invalid;
        break;
    case CTL_FLAG_STRING:
        f->s = value;
        break;
    case CTL_FLAG_STRINGS:
        f->strs = et_realloc(f->strs, (f->str_count + 1) * sizeof(*f->strs));
        f->strs[f->str_count++] = value;
        f->s = value;
        break;
    }
    f->set = true;
    return 0;
invalid:
    et_buf_reset(err);
    et_buf_append_str(err, "invalid value ");
    ctl_go_quote(err, value, strlen(value));
    et_buf_printf(err, " for flag -%s: %s", name, rc == -2 ? "value out of range" : "parse error");
    return -1;
}

int ctl_go_flags(struct ctl_flag *flags, size_t n, int argc, char **argv, int *pos,
                 struct et_buf *err)
{
    while (*pos < argc) {
        const char *s = argv[*pos];
        size_t len = strlen(s);
        if (len < 2 || s[0] != '-')
            return 0;
        size_t minuses = 1;
        if (s[1] == '-') {
            minuses = 2;
            if (len == 2) {
                (*pos)++;
                return 0;
            }
        }
        const char *name = s + minuses;
        if (name[0] == '-' || name[0] == '=') {
            et_buf_printf(err, "bad flag syntax: %s", s);
            return -1;
        }
        (*pos)++;
        const char *eq = strchr(name + 1, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        char *nm = et_strndup(name, name_len);
        struct ctl_flag *f = find_flag(flags, n, name, name_len);
        if (!f) {
            et_buf_printf(err, "flag provided but not defined: -%s", nm);
            et_free(nm);
            return -1;
        }
        if (f->type == CTL_FLAG_BOOL) {
            if (eq && ctl_parse_bool(eq + 1, &f->b) != 0) {
                et_buf_append_str(err, "invalid boolean value ");
                ctl_go_quote(err, eq + 1, strlen(eq + 1));
                et_buf_printf(err, " for -%s: parse error", nm);
                et_free(nm);
                return -1;
            }
            if (!eq)
                f->b = true;
            f->set = true;
        } else {
            const char *value;
            if (eq) {
                value = eq + 1;
            } else if (*pos < argc) {
                value = argv[(*pos)++];
            } else {
                et_buf_printf(err, "flag needs an argument: -%s", nm);
                et_free(nm);
                return -1;
            }
            if (set_value(f, nm, value, err) != 0) {
                et_free(nm);
                return -1;
            }
        }
        et_free(nm);
    }
    return 0;
}

/* ---------------- urfave/cli command parsing ---------------- */

/* urfave's argIsFlag(): strip up to two dashes, then anything from '='. */
static bool arg_is_flag(struct ctl_cmd *cmd, const char *arg)
{
    if (strcmp(arg, "-") == 0 || arg[0] != '-')
        return false;
    if (strncmp(arg, "--", 2) == 0)
        arg += 2;
    else
        arg += 1;
    if (arg[0] == '-')
        arg += 1;
    size_t len = strcspn(arg, "=");
    return find_flag(cmd->flags, cmd->flag_count, arg, len) != NULL;
}

static char **reorder(struct ctl_cmd *cmd, int argc, char **argv)
{
    char **flags = et_calloc((size_t)argc + 1, sizeof(char *));
    char **rest = et_calloc((size_t)argc + 1, sizeof(char *));
    size_t nf = 0, nr = 0;
    bool may_be_value = false;
    cmd->dashdash_at = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (may_be_value && !arg_is_flag(cmd, a)) {
            may_be_value = false;
            flags[nf++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            cmd->dashdash_at = (long)nr;
            memmove(rest + 1, rest, nr * sizeof(char *));
            rest[0] = argv[i];
            nr++;
            for (int k = i + 1; k < argc; k++)
                rest[nr++] = argv[k];
            break;
        } else if (arg_is_flag(cmd, a)) {
            flags[nf++] = argv[i];
            may_be_value = strchr(a, '=') == NULL;
        } else {
            rest[nr++] = argv[i];
        }
    }
    memcpy(flags + nf, rest, nr * sizeof(char *));
    et_free(rest);
    return flags;
}

static void usage_error(const struct ctl_cmd *cmd, const char *msg)
{
    const char *help = ctl_help_text(cmd->name);
    printf("Incorrect Usage: %s\n\n%s", msg, help ? help : "");
    fflush(stdout);
    fprintf(stderr, "%s\n", msg);
    exit(CTL_EXIT_BAD_ARGS);
}

void ctl_cmd_parse(struct ctl_cmd *cmd, int argc, char **argv)
{
    struct et_buf err = ET_BUF_INIT;
    ET_ASSERT(cmd->name != NULL);
    ET_ASSERT(argc >= 0);
    char **args = reorder(cmd, argc, argv);
    int pos = 0;
    if (ctl_go_flags(cmd->flags, cmd->flag_count, argc, args, &pos, &err) != 0)
        usage_error(cmd, err.data);
    if (ctl_cmd_bool(cmd, "help")) {
        const char *help = ctl_help_text(cmd->name);
        fputs(help ? help : "", stdout);
        exit(CTL_EXIT_OK);
    }
    cmd->args = args + pos;
    cmd->arg_count = (size_t)(argc - pos);
}

const struct ctl_flag *ctl_cmd_flag(const struct ctl_cmd *cmd, const char *name)
{
    return find_flag(cmd->flags, cmd->flag_count, name, strlen(name));
}

bool ctl_cmd_bool(const struct ctl_cmd *cmd, const char *name)
{
    const struct ctl_flag *f = ctl_cmd_flag(cmd, name);
    return f && f->b;
}

int64_t ctl_cmd_int(const struct ctl_cmd *cmd, const char *name)
{
    const struct ctl_flag *f = ctl_cmd_flag(cmd, name);
    return f ? f->i : 0;
}

const char *ctl_cmd_str(const struct ctl_cmd *cmd, const char *name)
{
    const struct ctl_flag *f = ctl_cmd_flag(cmd, name);
    return f && f->s ? f->s : "";
}
