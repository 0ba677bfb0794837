/*
 * tests/api_auth/test_auth.c - the pure v2 auth model (api/auth.h): pattern matching and
 * permission checks (spec/auth.md 1 and 3.1), the store's answers for users, roles and the
 * enable switch (4.1-4.3, as verified on etcd 3.4), request JSON decoding, HTTP Basic parsing,
 * and the command and snapshot encodings.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "api/auth.h"
#include "core/alloc.h"
#include "core/buf.h"

static struct auth_state st;
static struct et_buf out;

static void t_setup(void)
{
    auth_state_init(&st);
    out = (struct et_buf)ET_BUF_INIT;
}

static void t_teardown(void)
{
    auth_state_free(&st);
    et_buf_free(&out);
}

TestSuite(auth, .init = t_setup, .fini = t_teardown);

/* A list from a NULL-terminated array; NULL itself gives a nil list. */
static struct auth_list t_list(const char *const *v)
{
    struct auth_list l = { .nil = v == NULL };
    for (; v && *v; v++) {
        l.v = et_realloc(l.v, (l.n + 1) * sizeof(*l.v));
        l.v[l.n++] = et_strdup(*v);
    }
    return l;
}

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static struct auth_list *t_lists(struct auth_cmd *c, size_t i)
{
    struct auth_list *l[] = { &c->roles,       &c->grant,       &c->revoke,
                              &c->read,        &c->write,       &c->grant_read,
                              &c->grant_write, &c->revoke_read, &c->revoke_write };
    return i < sizeof(l) / sizeof(*l) ? l[i] : NULL;
}

/*
 * Applies a command built from the arguments (the lists of @extra are taken and reset to nil;
 * extra == NULL: all nil); returns the status, body in `out`. The command goes through the log
 * encoding first, as every member sees it.
 */
static int t_apply(uint8_t op, const char *name, const char *hash, struct auth_cmd *extra)
{
    struct auth_cmd c = { 0 };
    for (size_t i = 0; t_lists(&c, i); i++)
        t_lists(&c, i)->nil = true;
    if (extra)
        c = *extra;
    c.op = op;
    c.name = et_strdup(name);
    c.hash = et_strdup(hash ? hash : "");
    struct et_buf enc = ET_BUF_INIT;
    struct auth_cmd d;
    auth_cmd_encode(&c, &enc);
    cr_assert_eq(auth_cmd_decode(enc.data, enc.len, &d), 0);
    auth_cmd_free(&c);
    if (extra)
        for (size_t i = 0; t_lists(extra, i); i++)
            *t_lists(extra, i) = (struct auth_list){ .nil = true };
    et_buf_free(&enc);
    et_buf_reset(&out);
    int rc = auth_apply(&st, &d, &out);
    auth_cmd_free(&d);
    return rc;
}

/* A command with every list nil. */
static struct auth_cmd t_cmd(void)
{
    struct auth_cmd c = { 0 };
    for (size_t i = 0; t_lists(&c, i); i++)
        t_lists(&c, i)->nil = true;
    return c;
}

static void t_expect(int rc, int status, const char *body)
{
    cr_assert_eq(rc, status, "status %d, want %d (%s)", rc, status, out.data ? out.data : "");
    cr_assert_str_eq(out.data ? out.data : "", body);
}

static void t_user(const char *name, const char *const *roles)
{
    struct auth_cmd c = t_cmd();
    c.roles = t_list(roles);
    int rc = t_apply(roles ? AUTH_OP_USER_CREATE : AUTH_OP_USER_PUT, name, "$2b$hash", &c);
    cr_assert(rc == 200 || rc == 201);
}

static void t_role(const char *name, const char *const *read, const char *const *write)
{
    struct auth_cmd c = t_cmd();
    c.read = t_list(read);
    c.write = t_list(write);
    cr_assert_eq(t_apply(AUTH_OP_ROLE_CREATE, name, NULL, &c), 201);
}

/* ---- patterns ---------------------------------------------------------------------------- */

#define M(p, k) auth_pattern_match((p), (k), strlen(k))
#define P(p, k) auth_pattern_prefix_match((p), (k), strlen(k))

Test(auth, star_pattern_is_a_plain_string_prefix)
{
    cr_assert(M("/foo*", "/foo"));
    cr_assert(M("/foo*", "/foo/x"));
    cr_assert(M("/foo*", "/foobar"));
    cr_assert(M("/foo/*", "/foo/"));
    cr_assert(M("/foo/*", "/foo/a/b"));
    cr_assert_not(M("/foo/*", "/foo"));
    cr_assert(M("/*", "/"));
    cr_assert_not(M("/*", ""));
}

Test(auth, other_patterns_match_exactly)
{
    cr_assert(M("/foo", "/foo"));
    cr_assert_not(M("/foo", "/foo/"));
    cr_assert_not(M("/foo", "/foo/x"));
    cr_assert_not(M("/foo", "/fo"));
    cr_assert_not(M("", ""));
}

Test(auth, recursive_access_needs_a_star_pattern)
{
    cr_assert(P("/foo/*", "/foo/"));
    cr_assert(P("/pre*", "/pre"));
    cr_assert_not(P("/w/*", "/w"));
    cr_assert_not(P("/exact", "/exact"));
    cr_assert_not(P("", "/x"));
}

/* ---- permission checks (spec 3.1's verified matrix) ------------------------------------- */

static void t_matrix_setup(void)
{
    t_setup();
    t_user("root", NULL);
    t_role("reader", L("/bar", "/exact", "/foo/", "/foo/*", "/pre*"), L("/w/*"));
    t_user("alice", L("reader", "nosuch"));
    t_user("nobody", NULL);
    cr_assert_eq(t_apply(AUTH_OP_ENABLE, "", NULL, NULL), 200);
}

#define A(key, rec, wr) auth_key_allowed(&st, alice, (key), strlen(key), (rec), (wr))

Test(auth, key_matrix_of_a_user, .init = t_matrix_setup, .fini = t_teardown)
{
    const struct auth_user *alice = auth_user_find(&st, "alice", 5);
    cr_assert_not_null(alice);
    cr_assert(A("/pre", false, false));
    cr_assert(A("/pre", true, false));
    cr_assert(A("/prefix", false, false));
    cr_assert(A("/exact", false, false));
    cr_assert_not(A("/exact/", false, false));
    cr_assert_not(A("/exact", true, false));
    cr_assert_not(A("/foo", false, false));
    cr_assert(A("/foo/", true, false));
    cr_assert(A("/bar", false, false));
    cr_assert_not(A("/bar", false, true));
    cr_assert(A("/w/a", false, true));
    cr_assert_not(A("/w/a", false, false));
    cr_assert_not(A("/w", false, true));
    cr_assert_not(A("/w", true, true));
    cr_assert_not(A("/", true, false));
    const struct auth_user *nobody = auth_user_find(&st, "nobody", 6);
    cr_assert_not(auth_key_allowed(&st, nobody, "/bar", 4, false, false));
    const struct auth_user *root = auth_user_find(&st, "root", 4);
    cr_assert(auth_user_is_root(root));
    cr_assert(auth_key_allowed(&st, root, "/", 1, true, true));
}

Test(auth, guest_gets_key_access_only, .init = t_matrix_setup, .fini = t_teardown)
{
    /* enabling auth created the guest role with read and write on everything */
    cr_assert(auth_key_allowed(&st, NULL, "/a", 2, false, true));
    struct auth_cmd c = t_cmd();
    c.has_revoke = true;
    c.revoke_read = t_list(L("/*"));
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "guest", NULL, &c), 200,
             "{\"role\":\"guest\",\"permissions\":{\"kv\":{\"read\":[],\"write\":[\"/*\"]}}}\n");
    cr_assert_not(auth_key_allowed(&st, NULL, "/a", 2, false, false));
    cr_assert(auth_key_allowed(&st, NULL, "/a", 2, false, true));
    cr_assert(auth_key_allowed(&st, NULL, "/a", 2, true, true)); /* recursive: key rule */
}

Test(auth, everything_allowed_while_disabled)
{
    cr_assert(auth_key_allowed(&st, NULL, "/x", 2, true, true));
}

/* ---- users ------------------------------------------------------------------------------- */

Test(auth, root_user_always_has_the_root_role)
{
    t_expect(t_apply(AUTH_OP_USER_PUT, "root", "h1", NULL), 201,
             "{\"user\":\"root\",\"roles\":[\"root\"]}\n");
    struct auth_cmd c = t_cmd();
    c.revoke = t_list(L("root"));
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "root", NULL, &c), 200,
             "{\"user\":\"root\",\"roles\":[]}\n");
    const struct auth_user *u = auth_user_find(&st, "root", 4);
    cr_assert(auth_user_is_root(u));
    et_buf_reset(&out);
    cr_assert_eq(auth_user_json(&st, u, &out), 0);
    cr_assert_str_eq(out.data, "{\"user\":\"root\",\"roles\":[{\"role\":\"root\",\"permissions\":"
                               "{\"kv\":{\"read\":[\"/*\"],\"write\":[\"/*\"]}}}]}\n");
}

Test(auth, user_create_update_and_delete_answers)
{
    t_expect(t_apply(AUTH_OP_USER_PUT, "dave", "h", NULL), 201,
             "{\"user\":\"dave\",\"roles\":null}\n");
    t_expect(t_apply(AUTH_OP_USER_PUT, "dave", NULL, NULL), 200,
             "{\"user\":\"dave\",\"roles\":[]}\n");
    t_expect(t_apply(AUTH_OP_USER_PUT, "dave", NULL, NULL), 400,
             "auth: User not updated. Use grant/revoke/password to update the user.");
    t_expect(t_apply(AUTH_OP_USER_PUT, "dave", "h2", NULL), 200,
             "{\"user\":\"dave\",\"roles\":[]}\n");
    cr_assert_str_eq(auth_user_find(&st, "dave", 4)->hash, "h2");
    t_expect(t_apply(AUTH_OP_USER_PUT, "eve", NULL, NULL), 400,
             "auth: Cannot create user eve with an empty password");
    t_expect(t_apply(AUTH_OP_USER_CREATE, "dave", "x", NULL), 409,
             "auth: User dave already exists.");
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "nobody", NULL, NULL), 404,
             "auth: User nobody does not exist.");
    t_expect(t_apply(AUTH_OP_USER_DELETE, "dave", NULL, NULL), 200, "");
    t_expect(t_apply(AUTH_OP_USER_DELETE, "dave", NULL, NULL), 404,
             "auth: User dave does not exist");
    cr_assert_eq(st.user_count, 0);
}

Test(auth, grant_and_revoke_roles_as_sets)
{
    t_user("dave", NULL);
    struct auth_cmd c = t_cmd();
    c.grant = t_list(L("w", "r"));
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "dave", NULL, &c), 200,
             "{\"user\":\"dave\",\"roles\":[\"r\",\"w\"]}\n");
    c.grant = t_list(L("r"));
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "dave", NULL, &c), 409,
             "auth: Granting duplicate role r for user dave");
    c.grant = t_list(NULL);
    c.revoke = t_list(L("q"));
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "dave", NULL, &c), 409,
             "auth: Revoking ungranted role q for user dave");
    c.grant = t_list(L("q"));
    c.revoke = t_list(L("q"));
    t_expect(t_apply(AUTH_OP_USER_UPDATE, "dave", NULL, &c), 400,
             "auth: User not updated. Use grant/revoke/password to update the user.");
    /* a granted role that does not exist: GET of the user fails, the listing skips it */
    et_buf_reset(&out);
    cr_assert_eq(auth_user_json(&st, auth_user_find(&st, "dave", 4), &out), 404);
    cr_assert_str_eq(out.data, "auth: Role r does not exist.");
    et_buf_reset(&out);
    auth_users_json(&st, &out);
    cr_assert_str_eq(out.data, "{\"users\":[{\"user\":\"dave\"}]}\n");
}

/* ---- roles ------------------------------------------------------------------------------- */

Test(auth, role_grant_revoke_and_deep_equality)
{
    t_expect(t_apply(AUTH_OP_ROLE_CREATE, "rn", NULL, NULL), 201,
             "{\"role\":\"rn\",\"permissions\":{\"kv\":{\"read\":null,\"write\":null}}}\n");
    t_expect(t_apply(AUTH_OP_ROLE_CREATE, "rn", NULL, NULL), 409, "auth: Role rn already exists.");
    struct auth_cmd c = t_cmd();
    c.has_revoke = true;
    c.revoke_read = t_list(L("/zz"));
    c.grant_read = t_list(NULL);
    /* revoking nothing from null lists makes them [] (a change) ... */
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "rn", NULL, &c), 200,
             "{\"role\":\"rn\",\"permissions\":{\"kv\":{\"read\":[],\"write\":[]}}}\n");
    /* ... and the second time nothing changes */
    c.revoke_read = t_list(L("/zz"));
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "rn", NULL, &c), 400,
             "auth: Role not updated. Use grant/revoke to update the role.");
    struct auth_cmd g = t_cmd();
    g.has_grant = true;
    g.grant_read = t_list(L("/b", "/a"));
    g.grant_write = t_list(NULL);
    t_expect(
        t_apply(AUTH_OP_ROLE_UPDATE, "rn", NULL, &g), 200,
        "{\"role\":\"rn\",\"permissions\":{\"kv\":{\"read\":[\"/a\",\"/b\"],\"write\":[]}}}\n");
    g.grant_read = t_list(NULL);
    g.grant_write = t_list(L("/w", "/w"));
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "rn", NULL, &g), 409,
             "auth: Granting duplicate write permission /w");
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "r2", NULL, NULL), 404, "auth: Role r2 does not exist.");
    t_expect(t_apply(AUTH_OP_ROLE_UPDATE, "root", NULL, NULL), 403,
             "auth: Cannot modify role root: is root role.");
    t_expect(t_apply(AUTH_OP_ROLE_CREATE, "root", NULL, NULL), 403,
             "auth: Cannot modify role root: is root role.");
    t_expect(t_apply(AUTH_OP_ROLE_DELETE, "root", NULL, NULL), 403,
             "auth: Cannot modify role root: is root role.");
    t_expect(t_apply(AUTH_OP_ROLE_DELETE, "nosuch", NULL, NULL), 404,
             "auth: Role nosuch doesn't exist.");
}

Test(auth, role_listing_puts_root_in_its_sorted_place)
{
    auth_roles_json(&st, &out);
    cr_assert_str_eq(out.data, "{\"roles\":[{\"role\":\"root\",\"permissions\":{\"kv\":{\"read\":"
                               "[\"/*\"],\"write\":[\"/*\"]}}}]}\n");
    t_role("a", NULL, NULL);
    t_role("z", NULL, NULL);
    et_buf_reset(&out);
    auth_roles_json(&st, &out);
    const char *a = strstr(out.data, "\"a\""), *r = strstr(out.data, "\"root\""),
               *z = strstr(out.data, "\"z\"");
    cr_assert(a && r && z && a < r && r < z);
    cr_assert_null(strstr(out.data, ",,"));
}

/* ---- enable / disable -------------------------------------------------------------------- */

Test(auth, enable_needs_root_and_creates_guest)
{
    t_expect(t_apply(AUTH_OP_ENABLE, "", NULL, NULL), 409,
             "auth: No root user available, please create one");
    t_expect(t_apply(AUTH_OP_DISABLE, "", NULL, NULL), 409, "auth: already disabled");
    t_user("root", NULL);
    t_expect(t_apply(AUTH_OP_ENABLE, "", NULL, NULL), 200, "");
    cr_assert(st.enabled);
    const struct auth_role *g = auth_role_find(&st, "guest", 5);
    cr_assert_not_null(g);
    cr_assert_eq(g->read.n, 1);
    cr_assert_str_eq(g->write.v[0], "/*");
    t_expect(t_apply(AUTH_OP_ENABLE, "", NULL, NULL), 409, "auth: already enabled");
    t_expect(t_apply(AUTH_OP_USER_DELETE, "root", NULL, NULL), 403,
             "auth: Cannot delete root user while auth is enabled.");
    t_expect(t_apply(AUTH_OP_DISABLE, "", NULL, NULL), 200, "");
    cr_assert_not_null(auth_role_find(&st, "guest", 5)); /* guest stays */
}

/* ---- encodings --------------------------------------------------------------------------- */

Test(auth, snapshot_round_trip)
{
    t_user("root", NULL);
    t_user("alice", L("reader", ""));
    t_role("reader", L("/a"), NULL);
    cr_assert_eq(t_apply(AUTH_OP_ENABLE, "", NULL, NULL), 200);
    struct et_buf snap = ET_BUF_INIT;
    auth_state_encode(&st, &snap);
    et_buf_append_str(&snap, "store bytes follow");
    struct auth_state copy;
    size_t used = 0;
    auth_state_init(&copy);
    cr_assert_eq(auth_state_decode(&copy, snap.data, snap.len, &used), 0);
    cr_assert_str_eq(snap.data + used, "store bytes follow");
    cr_assert(copy.enabled);
    cr_assert_eq(copy.user_count, 2);
    cr_assert_eq(copy.role_count, 2);
    const struct auth_role *r = auth_role_find(&copy, "reader", 6);
    cr_assert(r && r->write.nil && !r->read.nil);
    struct et_buf again = ET_BUF_INIT;
    auth_state_encode(&copy, &again);
    cr_assert_eq(again.len, used);
    cr_assert_eq(memcmp(again.data, snap.data, used), 0);
    /* every truncation is refused cleanly */
    for (size_t n = 0; n < used; n++)
        cr_assert_neq(auth_state_decode(&copy, snap.data, n, &used), 0);
    auth_state_free(&copy);
    et_buf_free(&snap);
    et_buf_free(&again);
}

Test(auth, malformed_commands_are_refused)
{
    struct auth_cmd c = t_cmd();
    c.op = AUTH_OP_USER_PUT;
    c.name = "n";
    c.hash = "h";
    c.roles = t_list(L("a"));
    struct et_buf b = ET_BUF_INIT;
    auth_cmd_encode(&c, &b);
    auth_list_free(&c.roles);
    struct auth_cmd d;
    for (size_t n = 0; n < b.len; n++)
        cr_assert_neq(auth_cmd_decode(b.data, n, &d), 0);
    b.data[AUTH_CMD_MAGIC_LEN] = 99; /* unknown op */
    cr_assert_neq(auth_cmd_decode(b.data, b.len, &d), 0);
    cr_assert_neq(auth_cmd_decode("\x93\x01\x02", 3, &d), 0); /* a store command */
    et_buf_free(&b);
}

/* ---- request bodies and credentials ------------------------------------------------------ */

Test(auth, user_json_decodes_like_go)
{
    struct auth_user_req r;
    const char *b = "{\"USER\":\"x\",\"Password\":\"p\\u00e9\",\"roles\":[null,\"b\"],"
                    "\"grant\":null,\"extra\":{\"a\":[1,2]}} trailing";
    cr_assert_eq(auth_user_req_parse(b, strlen(b), &r), 0);
    cr_assert_str_eq(r.user, "x");
    cr_assert_str_eq(r.password, "p\xc3\xa9");
    cr_assert_eq(r.roles.n, 2);
    cr_assert_str_eq(r.roles.v[0], "");
    cr_assert(r.grant.nil && r.revoke.nil);
    auth_user_req_free(&r);
    static const char *const bad[] = {
        "", "nojson", "[]", "{\"user\":5}", "{\"roles\":\"x\"}", "{\"user\":\"a\"", "\"s\""
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cr_assert_neq(auth_user_req_parse(bad[i], strlen(bad[i]), &r), 0, "%s", bad[i]);
        auth_user_req_free(&r);
    }
    cr_assert_eq(auth_user_req_parse("null", 4, &r), 0);
    cr_assert_str_eq(r.user, "");
    auth_user_req_free(&r);
    /* Go folds U+017F to 's' and U+212A to 'k' when it matches field names (etcd 3.4 agrees) */
    const char *folds = "{\"u\\u017fer\":\"x\",\"pa\xc5\xbf\xc5\xbfword\":\"p\"}";
    cr_assert_eq(auth_user_req_parse(folds, strlen(folds), &r), 0);
    cr_assert_str_eq(r.user, "x");
    cr_assert_str_eq(r.password, "p");
    auth_user_req_free(&r);
    const char *raw = "{\"user\":\"a\xff\"}"; /* Go decodes invalid UTF-8 to U+FFFD */
    cr_assert_eq(auth_user_req_parse(raw, strlen(raw), &r), 0);
    cr_assert_str_eq(r.user, "a\xef\xbf\xbd");
    auth_user_req_free(&r);
}

Test(auth, role_json_keeps_null_and_pointer_presence)
{
    struct auth_role_req r;
    const char *b = "{\"role\":\"w\",\"permissions\":{\"kv\":{\"read\":[\"/a\"],\"write\":null}},"
                    "\"grant\":{\"kv\":{}},\"revoke\":null}";
    cr_assert_eq(auth_role_req_parse(b, strlen(b), &r), 0);
    cr_assert_str_eq(r.role, "w");
    cr_assert(!r.read.nil && r.read.n == 1 && r.write.nil);
    cr_assert(r.has_grant && !r.has_revoke);
    cr_assert(r.grant_read.nil);
    auth_role_req_free(&r);
    const char *kelvin = "{\"role\":\"w\",\"permissions\":{\"\\u212av\":{\"read\":[\"/a\"]}}}";
    cr_assert_eq(auth_role_req_parse(kelvin, strlen(kelvin), &r), 0);
    cr_assert(r.read.n == 1, "U+212A matches the 'k' of \"kv\"");
    auth_role_req_free(&r);
    const char *deep = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[";
    cr_assert_neq(auth_role_req_parse(deep, strlen(deep), &r), 0);
    auth_role_req_free(&r);
}

Test(auth, basic_credentials)
{
    char *u, *p;
    cr_assert_eq(auth_basic_parse("Basic cm9vdDpyb290cHc=", 22, &u, &p), 0);
    cr_assert_str_eq(u, "root");
    cr_assert_str_eq(p, "rootpw");
    et_free(u);
    et_free(p);
    cr_assert_eq(auth_basic_parse("basic YTpiOmM=", 14, &u, &p), 0); /* a:b:c */
    cr_assert_str_eq(u, "a");
    cr_assert_str_eq(p, "b:c");
    et_free(u);
    et_free(p);
    static const char *const bad[] = {
        "Basic !!!",      "Bearer abc",          "Basic  cm9vdDpyb290cHc=",
        "Basic cm9vdA==", "Basic cm9vdDpy=b290", "Basic"
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        cr_assert_neq(auth_basic_parse(bad[i], strlen(bad[i]), &u, &p), 0, "%s", bad[i]);
}

/* A body nested @levels arrays deep in an unknown member of a user body. */
static char *t_deep_user(int levels)
{
    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "{\"user\":\"d\",\"password\":\"p\",\"x\":");
    for (int i = 0; i < levels; i++)
        et_buf_append_char(&b, '[');
    for (int i = 0; i < levels; i++)
        et_buf_append_char(&b, ']');
    et_buf_append_str(&b, "}");
    return b.data;
}

Test(auth, json_nests_as_deep_as_go_allows)
{
    /* etcd 3.4 creates the user with 200 levels inside the body (and with 9999 inside the
     * object's 1), and answers "Invalid JSON in request body." past Go's 10000 */
    static const struct {
        int levels, rc;
    } cases[] = { { 200, 0 }, { 9999, 0 }, { 10000, -EINVAL }, { 20000, -EINVAL } };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct auth_user_req r;
        char *b = t_deep_user(cases[i].levels);
        cr_assert_eq(auth_user_req_parse(b, strlen(b), &r), cases[i].rc, "%d", cases[i].levels);
        if (cases[i].rc == 0)
            cr_assert_str_eq(r.user, "d");
        auth_user_req_free(&r);
        et_free(b);
    }
    struct auth_role_req r;
    const char *bad =
        "{\"role\":\"r\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[{\"a\":[1,}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]}";
    cr_assert_eq(auth_role_req_parse(bad, strlen(bad), &r), -EINVAL, "bad JSON deep down");
    auth_role_req_free(&r);
}

Test(auth, json_duplicate_members_last_wins)
{
    /* Go decodes each member in document order into the same field (etcd 3.4: a role body
     * with "permissions" twice merges them; "role" twice takes the second) */
    struct auth_user_req u;
    const char *ub = "{\"user\":\"a\",\"USER\":\"b\",\"password\":\"p\",\"password\":null,"
                     "\"roles\":[\"x\"],\"roles\":[\"y\",\"z\"]}";
    cr_assert_eq(auth_user_req_parse(ub, strlen(ub), &u), 0);
    cr_assert_str_eq(u.user, "b");
    cr_assert_str_eq(u.password, "p", "null leaves a string field alone");
    cr_assert_eq(u.roles.n, 2);
    cr_assert_str_eq(u.roles.v[0], "y");
    auth_user_req_free(&u);
    struct auth_role_req r;
    const char *rb = "{\"role\":\"r1\",\"permissions\":{\"kv\":{\"read\":[\"/a\"]}},"
                     "\"permissions\":{\"kv\":{\"write\":[\"/b\"]}}}";
    cr_assert_eq(auth_role_req_parse(rb, strlen(rb), &r), 0);
    cr_assert_eq(r.read.n, 1);
    cr_assert_str_eq(r.read.v[0], "/a");
    cr_assert_eq(r.write.n, 1);
    cr_assert_str_eq(r.write.v[0], "/b");
    auth_role_req_free(&r);
}
