/*
 * api/auth.c - the v2 auth model: etcd 3.4's v2auth store (users, roles, enable flag) as a pure
 * state machine, its binary command and snapshot encodings, permission checks, and the JSON the
 * /v2/auth endpoints read and write (spec/auth.md sections 1-4).
 *
 * Reproduced etcd quirks (all verified against etcd 3.4): the root user always holds the root
 * role (attached when read, so a revoke answers "roles":[] but the next GET shows root again);
 * grant and revoke work on sets and answer sorted lists; an update that leaves the user or role
 * deeply equal (Go's reflect.DeepEqual: null differs from []) is refused with 400; an update of a
 * missing user or role answers "does not exist." (the store's lookup error wins over the
 * "doesn't exist." the update path would give); role names are not checked on grant.
 *
 * Threads: none of its own; the caller serialises writers against readers (api/auth_http.c).
 */
#include "api/auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/jsonread.h"

/* ---- lists ---------------------------------------------------------------------------------- */

void auth_list_free(struct auth_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        et_free(l->v[i]);
    et_free(l->v);
    l->v = NULL;
    l->n = 0;
    l->nil = true;
}

static void list_push(struct auth_list *l, const char *s)
{
    l->v = et_realloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = et_strdup(s);
    l->nil = false;
}

static void list_copy(struct auth_list *dst, const struct auth_list *src)
{
    *dst = (struct auth_list){ .nil = src->nil };
    for (uint32_t i = 0; i < src->n; i++)
        list_push(dst, src->v[i]);
    dst->nil = src->nil;
}

static long list_find(const struct auth_list *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return (long)i;
    return -1;
}

static void list_remove_at(struct auth_list *l, uint32_t i)
{
    et_free(l->v[i]);
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
    l->n--;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A Go set built from @src: distinct values, a non-nil slice. */
static void list_set_of(struct auth_list *dst, const struct auth_list *src)
{
    *dst = (struct auth_list){ .nil = false };
    for (uint32_t i = 0; i < src->n; i++)
        if (list_find(dst, src->v[i]) < 0)
            list_push(dst, src->v[i]);
    dst->nil = false;
}

static void list_sort(struct auth_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

/* reflect.DeepEqual on two []string. */
static bool list_equal(const struct auth_list *a, const struct auth_list *b)
{
    if (a->nil != b->nil || a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

/* ---- state ---------------------------------------------------------------------------------- */

void auth_state_init(struct auth_state *st)
{
    memset(st, 0, sizeof(*st));
}

static void user_free(struct auth_user *u)
{
    et_free(u->name);
    et_free(u->hash);
    auth_list_free(&u->roles);
}

static void role_free(struct auth_role *r)
{
    et_free(r->name);
    auth_list_free(&r->read);
    auth_list_free(&r->write);
}

void auth_state_free(struct auth_state *st)
{
    for (size_t i = 0; i < st->user_count; i++)
        user_free(&st->users[i]);
    for (size_t i = 0; i < st->role_count; i++)
        role_free(&st->roles[i]);
    et_free(st->users);
    et_free(st->roles);
    auth_state_init(st);
}

bool auth_state_empty(const struct auth_state *st)
{
    return !st->enabled && st->user_count == 0 && st->role_count == 0;
}

void auth_cmd_free(struct auth_cmd *c)
{
    et_free(c->name);
    et_free(c->hash);
    auth_list_free(&c->roles);
    auth_list_free(&c->grant);
    auth_list_free(&c->revoke);
    auth_list_free(&c->read);
    auth_list_free(&c->write);
    auth_list_free(&c->grant_read);
    auth_list_free(&c->grant_write);
    auth_list_free(&c->revoke_read);
    auth_list_free(&c->revoke_write);
    memset(c, 0, sizeof(*c));
}

static int name_cmp(const char *a, const char *b, size_t blen)
{
    size_t alen = strlen(a);
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Binary search over an array of structs whose first member is the name. */
static size_t lower_bound(const void *base, size_t count, size_t size, const char *name, size_t len)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mname = *(char *const *)((const char *)base + mid * size);
        if (name_cmp(mname, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct auth_user *auth_user_find(const struct auth_state *st, const char *name, size_t len)
{
    size_t i = lower_bound(st->users, st->user_count, sizeof(*st->users), name, len);
    if (i < st->user_count && name_cmp(st->users[i].name, name, len) == 0)
        return &st->users[i];
    return NULL;
}

const struct auth_role *auth_role_find(const struct auth_state *st, const char *name, size_t len)
{
    size_t i = lower_bound(st->roles, st->role_count, sizeof(*st->roles), name, len);
    if (i < st->role_count && name_cmp(st->roles[i].name, name, len) == 0)
        return &st->roles[i];
    return NULL;
}

/* Inserts or replaces (takes @u's allocations). */
static void user_store(struct auth_state *st, struct auth_user *u)
{
    size_t n = strlen(u->name);
    size_t i = lower_bound(st->users, st->user_count, sizeof(*st->users), u->name, n);
    if (i < st->user_count && strcmp(st->users[i].name, u->name) == 0) {
        user_free(&st->users[i]);
    } else {
        st->users = et_realloc(st->users, (st->user_count + 1) * sizeof(*st->users));
        memmove(&st->users[i + 1], &st->users[i], (st->user_count - i) * sizeof(*st->users));
        st->user_count++;
    }
    st->users[i] = *u;
}

static void role_store(struct auth_state *st, struct auth_role *r)
{
    size_t n = strlen(r->name);
    size_t i = lower_bound(st->roles, st->role_count, sizeof(*st->roles), r->name, n);
    if (i < st->role_count && strcmp(st->roles[i].name, r->name) == 0) {
        role_free(&st->roles[i]);
    } else {
        st->roles = et_realloc(st->roles, (st->role_count + 1) * sizeof(*st->roles));
        memmove(&st->roles[i + 1], &st->roles[i], (st->role_count - i) * sizeof(*st->roles));
        st->role_count++;
    }
    st->roles[i] = *r;
}

static void user_remove(struct auth_state *st, const struct auth_user *u)
{
    size_t i = (size_t)(u - st->users);
    ET_ASSERT(i < st->user_count);
    user_free(&st->users[i]);
    memmove(&st->users[i], &st->users[i + 1], (st->user_count - i - 1) * sizeof(*st->users));
    st->user_count--;
}

static void role_remove(struct auth_state *st, const struct auth_role *r)
{
    size_t i = (size_t)(r - st->roles);
    ET_ASSERT(i < st->role_count);
    role_free(&st->roles[i]);
    memmove(&st->roles[i], &st->roles[i + 1], (st->role_count - i - 1) * sizeof(*st->roles));
    st->role_count--;
}

/* The user's roles as etcd's getUser returns them: the root user gets "root" appended. */
static void user_roles(const struct auth_user *u, struct auth_list *out)
{
    list_copy(out, &u->roles);
    if (strcmp(u->name, AUTH_ROOT_USER) == 0 && list_find(out, AUTH_ROOT_ROLE) < 0)
        list_push(out, AUTH_ROOT_ROLE);
}

/* ---- JSON output ---------------------------------------------------------------------------- */

static void list_json(struct et_buf *b, const struct auth_list *l)
{
    if (l->nil) {
        et_buf_append_str(b, "null");
        return;
    }
    et_buf_append_char(b, '[');
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            et_buf_append_char(b, ',');
        et_json_cstr(b, l->v[i]);
    }
    et_buf_append_char(b, ']');
}

static void perms_json(struct et_buf *b, const char *name, const struct auth_list *read,
                       const struct auth_list *write)
{
    et_buf_append_str(b, "{\"role\":");
    et_json_cstr(b, name);
    et_buf_append_str(b, ",\"permissions\":{\"kv\":{\"read\":");
    list_json(b, read);
    et_buf_append_str(b, ",\"write\":");
    list_json(b, write);
    et_buf_append_str(b, "}}}");
}

static char *root_patterns[] = { "/*" };
static const struct auth_list root_list = { root_patterns, 1, false };

void auth_role_json(const struct auth_role *r, struct et_buf *out)
{
    if (r == NULL)
        perms_json(out, AUTH_ROOT_ROLE, &root_list, &root_list);
    else
        perms_json(out, r->name, &r->read, &r->write);
}

/* PUT responses: the User struct with the password left out. */
static void user_put_json(struct et_buf *b, const char *name, const struct auth_list *roles)
{
    et_buf_append_str(b, "{\"user\":");
    et_json_cstr(b, name);
    et_buf_append_str(b, ",\"roles\":");
    list_json(b, roles);
    et_buf_append_str(b, "}\n");
}

/*
 * userWithRoles ("roles" omitted when empty). @strict: a missing role fails the whole answer
 * (GET of one user); otherwise it is left out (the users listing). Returns 0 or 404.
 */
static int user_roles_json(const struct auth_state *st, const struct auth_user *u, bool strict,
                           struct et_buf *out)
{
    struct auth_list roles;
    struct et_buf b = ET_BUF_INIT;
    int rc = 0;
    size_t shown = 0;

    user_roles(u, &roles);
    et_buf_append_str(&b, "{\"user\":");
    et_json_cstr(&b, u->name);
    for (uint32_t i = 0; i < roles.n; i++) {
        const char *rn = roles.v[i];
        const struct auth_role *r = auth_role_find(st, rn, strlen(rn));
        bool is_root = strcmp(rn, AUTH_ROOT_ROLE) == 0;
        if (!is_root && r == NULL) {
            if (!strict)
                continue;
            et_buf_reset(out);
            et_buf_printf(out, "auth: Role %s does not exist.", rn);
            rc = 404;
            goto done;
        }
        et_buf_append_str(&b, shown++ ? "," : ",\"roles\":[");
        auth_role_json(is_root ? NULL : r, &b);
    }
    if (shown)
        et_buf_append_char(&b, ']');
    et_buf_append_char(&b, '}');
    et_buf_append(out, b.data, b.len);
done:
    auth_list_free(&roles);
    et_buf_free(&b);
    return rc;
}

int auth_user_json(const struct auth_state *st, const struct auth_user *u, struct et_buf *out)
{
    int rc = user_roles_json(st, u, true, out);
    if (rc == 0)
        et_buf_append_char(out, '\n');
    return rc;
}

void auth_users_json(const struct auth_state *st, struct et_buf *out)
{
    if (st->user_count == 0) {
        et_buf_append_str(out, "{\"users\":null}\n");
        return;
    }
    et_buf_append_str(out, "{\"users\":[");
    for (size_t i = 0; i < st->user_count; i++) {
        if (i)
            et_buf_append_char(out, ',');
        (void)user_roles_json(st, &st->users[i], false, out);
    }
    et_buf_append_str(out, "]}\n");
}

void auth_roles_json(const struct auth_state *st, struct et_buf *out)
{
    bool root_done = false;
    et_buf_append_str(out, "{\"roles\":[");
    for (size_t i = 0; i <= st->role_count; i++) {
        const struct auth_role *r = i < st->role_count ? &st->roles[i] : NULL;
        if (!root_done && (r == NULL || strcmp(r->name, AUTH_ROOT_ROLE) > 0)) {
            if (i)
                et_buf_append_char(out, ',');
            auth_role_json(NULL, out); /* the built-in root role, in its sorted place */
            root_done = true;
        }
        if (r) {
            if (i || root_done)
                et_buf_append_char(out, ',');
            auth_role_json(r, out);
        }
    }
    et_buf_append_str(out, "]}\n");
}

/* ---- apply ---------------------------------------------------------------------------------- */

/* An error result: etcd's v2auth.Error text ("auth: " first) in @out, and the status. */
#define fail(out, status, ...) \
    (et_buf_reset(out), et_buf_printf((out), "auth: " __VA_ARGS__), (status))

/* CreateUser / createUserInternal. @status: 201 (CreateOrUpdateUser) or 200 (CreateUser). */
static int user_create(struct auth_state *st, const struct auth_cmd *c, int status,
                       struct et_buf *out)
{
    struct auth_user u = { 0 };
    list_copy(&u.roles, &c->roles);
    if (strcmp(c->name, AUTH_ROOT_USER) == 0 && list_find(&u.roles, AUTH_ROOT_ROLE) < 0)
        list_push(&u.roles, AUTH_ROOT_ROLE);
    if (c->hash[0] == '\0') {
        auth_list_free(&u.roles);
        return fail(out, 400, "Cannot create user %s with an empty password", c->name);
    }
    if (auth_user_find(st, c->name, strlen(c->name))) {
        auth_list_free(&u.roles);
        return fail(out, 409, "User %s already exists.", c->name);
    }
    u.name = et_strdup(c->name);
    u.hash = et_strdup(c->hash);
    et_buf_reset(out);
    user_put_json(out, u.name, &u.roles);
    user_store(st, &u);
    return status;
}

/* UpdateUser: User.merge, then the DeepEqual check. */
static int user_update(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out)
{
    const struct auth_user *old = auth_user_find(st, c->name, strlen(c->name));
    if (old == NULL)
        return fail(out, 404, "User %s does not exist.", c->name);
    struct auth_list old_roles, set;
    int rc = 200;
    user_roles(old, &old_roles);
    list_set_of(&set, &old_roles);
    for (uint32_t i = 0; i < c->grant.n; i++) {
        if (list_find(&set, c->grant.v[i]) >= 0) {
            rc = fail(out, 409, "Granting duplicate role %s for user %s", c->grant.v[i], c->name);
            goto out;
        }
        list_push(&set, c->grant.v[i]);
    }
    for (uint32_t i = 0; i < c->revoke.n; i++) {
        long at = list_find(&set, c->revoke.v[i]);
        if (at < 0) {
            rc = fail(out, 409, "Revoking ungranted role %s for user %s", c->revoke.v[i], c->name);
            goto out;
        }
        list_remove_at(&set, (uint32_t)at);
    }
    list_sort(&set);
    if (c->hash[0] == '\0' && list_equal(&old_roles, &set)) {
        rc = fail(out, 400, "User not updated. Use grant/revoke/password to update the user.");
        goto out;
    }
    struct auth_user u = { .name = et_strdup(c->name),
                           .hash = et_strdup(c->hash[0] ? c->hash : old->hash) };
    u.roles = set;
    set = (struct auth_list){ .nil = true };
    et_buf_reset(out);
    user_put_json(out, u.name, &u.roles);
    user_store(st, &u);
out:
    auth_list_free(&old_roles);
    auth_list_free(&set);
    return rc;
}

static int user_delete(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out)
{
    if (st->enabled && strcmp(c->name, AUTH_ROOT_USER) == 0)
        return fail(out, 403, "Cannot delete root user while auth is enabled.");
    const struct auth_user *u = auth_user_find(st, c->name, strlen(c->name));
    if (u == NULL)
        return fail(out, 404, "User %s does not exist", c->name);
    user_remove(st, u);
    et_buf_reset(out);
    return 200;
}

static int role_create(struct auth_state *st, const char *name, const struct auth_list *read,
                       const struct auth_list *write, struct et_buf *out)
{
    if (strcmp(name, AUTH_ROOT_ROLE) == 0)
        return fail(out, 403, "Cannot modify role %s: is root role.", name);
    if (auth_role_find(st, name, strlen(name)))
        return fail(out, 409, "Role %s already exists.", name);
    struct auth_role r = { .name = et_strdup(name) };
    list_copy(&r.read, read);
    list_copy(&r.write, write);
    et_buf_reset(out);
    auth_role_json(&r, out);
    et_buf_append_char(out, '\n');
    role_store(st, &r);
    return 201;
}

/* RWPermission.Grant for one list; 0 or 409. */
static int perm_grant(struct auth_list *set, const struct auth_list *add, const char *kind,
                      struct et_buf *out)
{
    for (uint32_t i = 0; i < add->n; i++) {
        if (list_find(set, add->v[i]) >= 0)
            return fail(out, 409, "Granting duplicate %s permission %s", kind, add->v[i]);
        list_push(set, add->v[i]);
    }
    list_sort(set);
    return 0;
}

static void perm_revoke(struct auth_list *set, const struct auth_list *del)
{
    for (uint32_t i = 0; i < del->n; i++) {
        long at = list_find(set, del->v[i]);
        if (at >= 0)
            list_remove_at(set, (uint32_t)at);
    }
    list_sort(set);
}

/* UpdateRole: Role.merge (grant, then revoke), then the DeepEqual check. */
static int role_update(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out)
{
    if (strcmp(c->name, AUTH_ROOT_ROLE) == 0)
        return fail(out, 403, "Cannot modify role %s: is root role.", c->name);
    const struct auth_role *old = auth_role_find(st, c->name, strlen(c->name));
    if (old == NULL)
        return fail(out, 404, "Role %s does not exist.", c->name);
    struct auth_list read, write;
    int rc = 200;
    list_copy(&read, &old->read);
    list_copy(&write, &old->write);
    if (c->has_grant) {
        struct auth_list r2, w2;
        list_set_of(&r2, &read);
        list_set_of(&w2, &write);
        auth_list_free(&read);
        auth_list_free(&write);
        read = r2;
        write = w2;
        if ((rc = perm_grant(&read, &c->grant_read, "read", out)) != 0 ||
            (rc = perm_grant(&write, &c->grant_write, "write", out)) != 0)
            goto out;
    }
    if (c->has_revoke) {
        struct auth_list r2, w2;
        list_set_of(&r2, &read);
        list_set_of(&w2, &write);
        auth_list_free(&read);
        auth_list_free(&write);
        read = r2;
        write = w2;
        perm_revoke(&read, &c->revoke_read);
        perm_revoke(&write, &c->revoke_write);
    }
    if (list_equal(&read, &old->read) && list_equal(&write, &old->write)) {
        rc = fail(out, 400, "Role not updated. Use grant/revoke to update the role.");
        goto out;
    }
    struct auth_role r = { .name = et_strdup(c->name), .read = read, .write = write };
    read = write = (struct auth_list){ .nil = true };
    et_buf_reset(out);
    auth_role_json(&r, out);
    et_buf_append_char(out, '\n');
    role_store(st, &r);
    rc = 200;
out:
    auth_list_free(&read);
    auth_list_free(&write);
    return rc;
}

static int role_delete(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out)
{
    if (strcmp(c->name, AUTH_ROOT_ROLE) == 0)
        return fail(out, 403, "Cannot modify role %s: is root role.", c->name);
    const struct auth_role *r = auth_role_find(st, c->name, strlen(c->name));
    if (r == NULL)
        return fail(out, 404, "Role %s doesn't exist.", c->name);
    role_remove(st, r);
    et_buf_reset(out);
    return 200;
}

static int enable(struct auth_state *st, struct et_buf *out)
{
    if (st->enabled)
        return fail(out, 409, "already enabled");
    if (auth_user_find(st, AUTH_ROOT_USER, strlen(AUTH_ROOT_USER)) == NULL)
        return fail(out, 409, "No root user available, please create one");
    if (auth_role_find(st, AUTH_GUEST_ROLE, strlen(AUTH_GUEST_ROLE)) == NULL)
        (void)role_create(st, AUTH_GUEST_ROLE, &root_list, &root_list, out);
    st->enabled = true;
    et_buf_reset(out);
    return 200;
}

int auth_apply(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out)
{
    ET_ASSERT(st != NULL);
    ET_ASSERT(c->name != NULL && c->hash != NULL);
    switch (c->op) {
    case AUTH_OP_ENABLE:
        return enable(st, out);
    case AUTH_OP_DISABLE:
        if (!st->enabled)
            return fail(out, 409, "already disabled");
        st->enabled = false;
        et_buf_reset(out);
        return 200;
    case AUTH_OP_USER_CREATE:
        return user_create(st, c, 200, out);
    case AUTH_OP_USER_PUT:
        if (auth_user_find(st, c->name, strlen(c->name)))
            return user_update(st, c, out);
        return user_create(st, c, 201, out);
    case AUTH_OP_USER_UPDATE:
        return user_update(st, c, out);
    case AUTH_OP_USER_DELETE:
        return user_delete(st, c, out);
    case AUTH_OP_ROLE_CREATE:
        return role_create(st, c->name, &c->read, &c->write, out);
    case AUTH_OP_ROLE_UPDATE:
        return role_update(st, c, out);
    case AUTH_OP_ROLE_DELETE:
        return role_delete(st, c, out);
    default:
        et_buf_reset(out);
        et_buf_append_str(out, "auth: unknown command");
        return 500;
    }
}

/* ---- permission checks ---------------------------------------------------------------------- */

bool auth_pattern_match(const char *pat, const char *key, size_t key_len)
{
    size_t n = strlen(pat);
    if (n == 0)
        return false; /* etcd would index pat[-1]; an empty pattern matches nothing here */
    if (pat[n - 1] == '*')
        return key_len >= n - 1 && memcmp(key, pat, n - 1) == 0;
    return key_len == n && memcmp(key, pat, n) == 0;
}

bool auth_pattern_prefix_match(const char *pat, const char *key, size_t key_len)
{
    size_t n = strlen(pat);
    if (n == 0 || pat[n - 1] != '*')
        return false;
    return key_len >= n - 1 && memcmp(key, pat, n - 1) == 0;
}

bool auth_user_is_root(const struct auth_user *u)
{
    return strcmp(u->name, AUTH_ROOT_USER) == 0 || list_find(&u->roles, AUTH_ROOT_ROLE) >= 0;
}

static bool role_allows(const struct auth_role *r, const char *key, size_t key_len, bool recursive,
                        bool write)
{
    const struct auth_list *l = write ? &r->write : &r->read;
    for (uint32_t i = 0; i < l->n; i++) {
        if (recursive ? auth_pattern_prefix_match(l->v[i], key, key_len)
                      : auth_pattern_match(l->v[i], key, key_len))
            return true;
    }
    return false;
}

bool auth_key_allowed(const struct auth_state *st, const struct auth_user *u, const char *key,
                      size_t key_len, bool recursive, bool write)
{
    if (!st->enabled)
        return true;
    if (u == NULL) {
        const struct auth_role *g = auth_role_find(st, AUTH_GUEST_ROLE, strlen(AUTH_GUEST_ROLE));
        return g != NULL && role_allows(g, key, key_len, false, write);
    }
    if (auth_user_is_root(u))
        return true;
    for (uint32_t i = 0; i < u->roles.n; i++) {
        const struct auth_role *r = auth_role_find(st, u->roles.v[i], strlen(u->roles.v[i]));
        if (r && role_allows(r, key, key_len, recursive, write))
            return true;
    }
    return false;
}

/* ---- binary encodings ----------------------------------------------------------------------- */

static void put_u32(struct et_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    et_buf_append(b, x, 4);
}

static void put_str(struct et_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    ET_ASSERT(n <= UINT32_MAX);
    put_u32(b, (uint32_t)n);
    et_buf_append(b, s ? s : "", n);
}

static void put_list(struct et_buf *b, const struct auth_list *l)
{
    put_u32(b, l->nil ? UINT32_MAX : l->n);
    for (uint32_t i = 0; i < l->n; i++)
        put_str(b, l->v[i]);
}

struct rd {
    const unsigned char *p, *end;
    bool bad;
};

static uint32_t get_u32(struct rd *r)
{
    if (r->bad || r->end - r->p < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static char *get_str(struct rd *r)
{
    uint32_t n = get_u32(r);
    if (r->bad || (size_t)(r->end - r->p) < n || memchr(r->p, '\0', n)) {
        r->bad = true;
        return et_strdup("");
    }
    char *s = et_strndup((const char *)r->p, n);
    r->p += n;
    return s;
}

static void get_list(struct rd *r, struct auth_list *l)
{
    uint32_t n = get_u32(r);
    *l = (struct auth_list){ .nil = true };
    if (r->bad || n == UINT32_MAX)
        return;
    l->nil = false;
    if (n > (size_t)(r->end - r->p) / 4) {
        r->bad = true;
        return;
    }
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        char *s = get_str(r);
        list_push(l, s);
        et_free(s);
    }
    l->nil = false;
}

void auth_cmd_encode(const struct auth_cmd *c, struct et_buf *out)
{
    et_buf_append(out, AUTH_CMD_MAGIC, AUTH_CMD_MAGIC_LEN);
    et_buf_append_char(out, (char)c->op);
    put_str(out, c->name);
    put_str(out, c->hash);
    put_list(out, &c->roles);
    put_list(out, &c->grant);
    put_list(out, &c->revoke);
    put_list(out, &c->read);
    put_list(out, &c->write);
    et_buf_append_char(out, (char)((c->has_grant ? 1 : 0) | (c->has_revoke ? 2 : 0)));
    put_list(out, &c->grant_read);
    put_list(out, &c->grant_write);
    put_list(out, &c->revoke_read);
    put_list(out, &c->revoke_write);
}

int auth_cmd_decode(const void *p, size_t len, struct auth_cmd *c)
{
    memset(c, 0, sizeof(*c));
    if (len < AUTH_CMD_MAGIC_LEN + 1 || memcmp(p, AUTH_CMD_MAGIC, AUTH_CMD_MAGIC_LEN) != 0)
        return -EINVAL;
    struct rd r = { (const unsigned char *)p + AUTH_CMD_MAGIC_LEN, (const unsigned char *)p + len,
                    false };
    c->op = *r.p++;
    c->name = get_str(&r);
    c->hash = get_str(&r);
    get_list(&r, &c->roles);
    get_list(&r, &c->grant);
    get_list(&r, &c->revoke);
    get_list(&r, &c->read);
    get_list(&r, &c->write);
    if (r.p < r.end) {
        c->has_grant = *r.p & 1;
        c->has_revoke = (*r.p & 2) != 0;
        r.p++;
    } else {
        r.bad = true;
    }
    get_list(&r, &c->grant_read);
    get_list(&r, &c->grant_write);
    get_list(&r, &c->revoke_read);
    get_list(&r, &c->revoke_write);
    if (r.bad || r.p != r.end || c->op < AUTH_OP_ENABLE || c->op > AUTH_OP_ROLE_DELETE) {
        auth_cmd_free(c);
        return -EINVAL;
    }
    return 0;
}

void auth_state_encode(const struct auth_state *st, struct et_buf *out)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_char(&b, st->enabled ? 1 : 0);
    put_u32(&b, (uint32_t)st->user_count);
    for (size_t i = 0; i < st->user_count; i++) {
        put_str(&b, st->users[i].name);
        put_str(&b, st->users[i].hash);
        put_list(&b, &st->users[i].roles);
    }
    put_u32(&b, (uint32_t)st->role_count);
    for (size_t i = 0; i < st->role_count; i++) {
        put_str(&b, st->roles[i].name);
        put_list(&b, &st->roles[i].read);
        put_list(&b, &st->roles[i].write);
    }
    et_buf_append(out, AUTH_SNAP_MAGIC, AUTH_SNAP_MAGIC_LEN);
    put_u32(out, (uint32_t)b.len);
    et_buf_append(out, b.data, b.len);
    et_buf_free(&b);
}

int auth_state_decode(struct auth_state *st, const void *p, size_t len, size_t *used)
{
    struct auth_state n;
    auth_state_init(&n);
    if (len < AUTH_SNAP_MAGIC_LEN + 4 || memcmp(p, AUTH_SNAP_MAGIC, AUTH_SNAP_MAGIC_LEN) != 0)
        return -EINVAL;
    struct rd r = { (const unsigned char *)p + AUTH_SNAP_MAGIC_LEN, (const unsigned char *)p + len,
                    false };
    uint32_t blob = get_u32(&r);
    if ((size_t)(r.end - r.p) < blob || blob < 1)
        return -EINVAL;
    r.end = r.p + blob;
    n.enabled = *r.p++ != 0;
    uint32_t users = get_u32(&r);
    for (uint32_t i = 0; i < users && !r.bad; i++) {
        struct auth_user u = { 0 };
        u.name = get_str(&r);
        u.hash = get_str(&r);
        get_list(&r, &u.roles);
        user_store(&n, &u);
    }
    uint32_t roles = get_u32(&r);
    for (uint32_t i = 0; i < roles && !r.bad; i++) {
        struct auth_role ro = { 0 };
        ro.name = get_str(&r);
        get_list(&r, &ro.read);
        get_list(&r, &ro.write);
        role_store(&n, &ro);
    }
    if (r.bad || r.p != r.end) {
        auth_state_free(&n);
        return -EINVAL;
    }
    auth_state_free(st);
    *st = n;
    *used = AUTH_SNAP_MAGIC_LEN + 4 + blob;
    return 0;
}

/* ---- request JSON (Go's encoding/json into etcd's structs) ---------------------------------- */

/*
 * etcd reads these bodies with json.Decoder.Decode: the first JSON value, the bytes after it not
 * read. A \u0000 escape anywhere in that value (names and ignored members too) makes the body
 * invalid here, where Go would take it: the decoded names are C strings. Syntax errors, that
 * refusal and type errors all get the same answer ("Invalid JSON in request body.").
 */
static struct et_jv *body_parse(const char *body, size_t len)
{
    return et_jv_parse_go(body, len, ET_JV_FIRST_VALUE | ET_JV_REFUSE_NUL, NULL);
}

/* Decoding into Go fields: null leaves the field alone; a wrong type is an error. */
static bool dec_string(const struct et_jv *v, char **out)
{
    if (v->type == ET_JV_NULL)
        return true;
    if (v->type != ET_JV_STRING)
        return false;
    et_free(*out);
    *out = et_strdup(v->str);
    return true;
}

static bool dec_list(const struct et_jv *v, struct auth_list *out)
{
    if (v->type == ET_JV_NULL) {
        auth_list_free(out); /* null sets a slice to nil */
        return true;
    }
    if (v->type != ET_JV_ARRAY)
        return false;
    auth_list_free(out);
    out->nil = false;
    for (size_t i = 0; i < v->count; i++) {
        if (v->items[i].type == ET_JV_NULL) {
            list_push(out, "");
            continue;
        }
        if (v->items[i].type != ET_JV_STRING)
            return false;
        list_push(out, v->items[i].str);
    }
    out->nil = false;
    return true;
}

/* Struct fields of @v matched as Go matches them, in document order (the last one wins). */
typedef bool (*field_fn)(const char *key, size_t key_len, const struct et_jv *v, void *data);

static bool dec_object(const struct et_jv *v, field_fn fn, void *data)
{
    if (v->type == ET_JV_NULL)
        return true;
    if (v->type != ET_JV_OBJECT)
        return false;
    bool ok = true;
    for (size_t i = 0; i < v->count; i++)
        ok = fn(v->keys[i], v->key_lens[i], &v->items[i], data) && ok;
    return ok;
}

struct rw_lists {
    struct auth_list *read, *write;
};

static bool rw_field(const char *key, size_t key_len, const struct et_jv *v, void *data)
{
    struct rw_lists *rw = data;
    if (et_jv_name_eq(key, key_len, "read"))
        return dec_list(v, rw->read);
    if (et_jv_name_eq(key, key_len, "write"))
        return dec_list(v, rw->write);
    return true;
}

static bool perms_field(const char *key, size_t key_len, const struct et_jv *v, void *data)
{
    if (et_jv_name_eq(key, key_len, "kv"))
        return dec_object(v, rw_field, data);
    return true;
}

static bool user_field(const char *key, size_t key_len, const struct et_jv *v, void *data)
{
    struct auth_user_req *u = data;
    if (et_jv_name_eq(key, key_len, "user"))
        return dec_string(v, &u->user);
    if (et_jv_name_eq(key, key_len, "password"))
        return dec_string(v, &u->password);
    if (et_jv_name_eq(key, key_len, "roles"))
        return dec_list(v, &u->roles);
    if (et_jv_name_eq(key, key_len, "grant"))
        return dec_list(v, &u->grant);
    if (et_jv_name_eq(key, key_len, "revoke"))
        return dec_list(v, &u->revoke);
    return true;
}

static bool role_field(const char *key, size_t key_len, const struct et_jv *v, void *data)
{
    struct auth_role_req *r = data;
    if (et_jv_name_eq(key, key_len, "role"))
        return dec_string(v, &r->role);
    if (et_jv_name_eq(key, key_len, "permissions")) {
        struct rw_lists rw = { &r->read, &r->write };
        return dec_object(v, perms_field, &rw);
    }
    bool grant = et_jv_name_eq(key, key_len, "grant");
    if (grant || et_jv_name_eq(key, key_len, "revoke")) {
        bool *has = grant ? &r->has_grant : &r->has_revoke;
        struct rw_lists rw = { grant ? &r->grant_read : &r->revoke_read,
                               grant ? &r->grant_write : &r->revoke_write };
        if (v->type == ET_JV_NULL) { /* a nil *Permissions */
            *has = false;
            auth_list_free(rw.read);
            auth_list_free(rw.write);
            return true;
        }
        *has = true;
        return dec_object(v, perms_field, &rw);
    }
    return true;
}

void auth_user_req_free(struct auth_user_req *r)
{
    et_free(r->user);
    et_free(r->password);
    auth_list_free(&r->roles);
    auth_list_free(&r->grant);
    auth_list_free(&r->revoke);
    memset(r, 0, sizeof(*r));
}

int auth_user_req_parse(const char *body, size_t len, struct auth_user_req *out)
{
    struct et_jv *v;
    *out = (struct auth_user_req){ .roles.nil = true, .grant.nil = true, .revoke.nil = true };
    out->user = et_strdup("");
    out->password = et_strdup("");
    if ((v = body_parse(body, len)) == NULL)
        return -EINVAL;
    bool ok = dec_object(v, user_field, out);
    et_jv_free(v);
    return ok ? 0 : -EINVAL;
}

void auth_role_req_free(struct auth_role_req *r)
{
    et_free(r->role);
    auth_list_free(&r->read);
    auth_list_free(&r->write);
    auth_list_free(&r->grant_read);
    auth_list_free(&r->grant_write);
    auth_list_free(&r->revoke_read);
    auth_list_free(&r->revoke_write);
    memset(r, 0, sizeof(*r));
}

int auth_role_req_parse(const char *body, size_t len, struct auth_role_req *out)
{
    struct et_jv *v;
    *out = (struct auth_role_req){ .read.nil = true,
                                   .write.nil = true,
                                   .grant_read.nil = true,
                                   .grant_write.nil = true,
                                   .revoke_read.nil = true,
                                   .revoke_write.nil = true };
    out->role = et_strdup("");
    if ((v = body_parse(body, len)) == NULL)
        return -EINVAL;
    bool ok = dec_object(v, role_field, out);
    et_jv_free(v);
    return ok ? 0 : -EINVAL;
}

/* ---- HTTP Basic ------------------------------------------------------------------------------ */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Go's base64.StdEncoding.DecodeString: padded, CR and LF skipped, anything else an error. */
static int b64_decode(const char *s, size_t len, struct et_buf *out)
{
    char q[4];
    size_t qn = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (pad && c != '=')
            return -EINVAL; /* data after padding */
        if (c == '=') {
            if (qn < 2)
                return -EINVAL;
            pad++;
            q[qn++] = 'A';
        } else {
            if (b64val(c) < 0)
                return -EINVAL;
            q[qn++] = c;
        }
        if (qn == 4) {
            unsigned v = (unsigned)b64val(q[0]) << 18 | (unsigned)b64val(q[1]) << 12 |
                         (unsigned)b64val(q[2]) << 6 | (unsigned)b64val(q[3]);
            char o[3] = { (char)(v >> 16), (char)(v >> 8), (char)v };
            et_buf_append(out, o, 3 - pad);
            qn = 0;
            if (pad) {
                for (size_t k = i + 1; k < len; k++)
                    if (s[k] != '\r' && s[k] != '\n')
                        return -EINVAL;
                return 0;
            }
        }
    }
    return qn == 0 ? 0 : -EINVAL;
}

int auth_basic_parse(const char *hdr, size_t len, char **user, char **password)
{
    struct et_buf b = ET_BUF_INIT;
    if (len < 6 || strncasecmp(hdr, "Basic ", 6) != 0)
        return -EINVAL;
    if (b64_decode(hdr + 6, len - 6, &b) != 0 || b.data == NULL) {
        et_buf_free(&b);
        return -EINVAL;
    }
    const char *colon = memchr(b.data, ':', b.len);
    if (colon == NULL || memchr(b.data, '\0', b.len)) {
        et_buf_free(&b);
        return -EINVAL;
    }
    *user = et_strndup(b.data, (size_t)(colon - b.data));
    *password = et_strndup(colon + 1, b.len - (size_t)(colon - b.data) - 1);
    et_buf_free(&b);
    return 0;
}
