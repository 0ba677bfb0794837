/*
 * api/auth.h - the v2 auth model (spec/auth.md): users, roles, the enabled flag, the commands
 * that change them, permission checks and the JSON the /v2/auth endpoints send.
 *
 * Pure: no HTTP, no threads, no clock, no randomness (password hashes are computed by the caller
 * before a command is proposed). Every member applies the same commands to the same state in
 * the same order (auth_apply), so they all agree. api/auth_http.c owns the locking.
 *
 * Go slices: etcd 3.4 distinguishes a nil []string (rendered null) from an empty one ([]), and
 * its "not updated" checks compare with reflect.DeepEqual, so a list here remembers which it is.
 */
#ifndef ET_API_AUTH_H
#define ET_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define AUTH_ROOT_ROLE  "root"
#define AUTH_GUEST_ROLE "guest"
#define AUTH_ROOT_USER  "root"

/* A Go []string. */
struct auth_list {
    char **v;   /* owned strings */
    uint32_t n; /* entries */
    bool nil;   /* null rather than [] (n is 0) */
};

struct auth_user {
    char *name;
    char *hash;             /* crypt(3) password hash; "" = none */
    struct auth_list roles; /* as stored: the root user's implicit role is not included */
};

struct auth_role {
    char *name;
    struct auth_list read;  /* kv read patterns */
    struct auth_list write; /* kv write patterns */
};

/* The replicated auth state. Users and roles are kept sorted by name (bytewise). */
struct auth_state {
    bool enabled;
    struct auth_user *users;
    size_t user_count;
    struct auth_role *roles; /* never contains "root" (built in) */
    size_t role_count;
};

enum auth_op {
    AUTH_OP_ENABLE = 1,
    AUTH_OP_DISABLE,
    AUTH_OP_USER_CREATE, /* PUT with "roles": CreateUser */
    AUTH_OP_USER_PUT,    /* PUT without roles/grant/revoke: CreateOrUpdateUser */
    AUTH_OP_USER_UPDATE, /* PUT with grant/revoke: UpdateUser */
    AUTH_OP_USER_DELETE,
    AUTH_OP_ROLE_CREATE, /* PUT without grant/revoke: CreateRole */
    AUTH_OP_ROLE_UPDATE, /* PUT with grant/revoke: UpdateRole */
    AUTH_OP_ROLE_DELETE,
};

/* One change of the auth state (replicated through the Raft log). */
struct auth_cmd {
    uint8_t op; /* enum auth_op */
    char *name; /* user or role name */
    char *hash; /* user: hash of the new password, "" = no password given */
    struct auth_list roles, grant, revoke; /* user */
    struct auth_list read, write;          /* role create: the permissions as given */
    bool has_grant, has_revoke;            /* role update: "grant"/"revoke" objects present */
    struct auth_list grant_read, grant_write, revoke_read, revoke_write;
};

void auth_list_free(struct auth_list *l);
void auth_cmd_free(struct auth_cmd *c);
void auth_state_init(struct auth_state *st);
void auth_state_free(struct auth_state *st);
/* True when @st holds nothing (disabled, no users, no roles). */
bool auth_state_empty(const struct auth_state *st);

/*
 * Applies @c to @st as etcd 3.4's v2 auth store does. Returns the HTTP status; @out gets the
 * response body for a success (JSON with its LF, or nothing) or the error message (for a status
 * >= 400, e.g. "auth: User bob does not exist."). The state changes only on success.
 */
int auth_apply(struct auth_state *st, const struct auth_cmd *c, struct et_buf *out);

/* Binary encodings (bounded decoders: malformed input gives -EINVAL, never a crash). */
#define AUTH_CMD_MAGIC \
    "\xc1"             \
    "ETAUC1" /* 0xc1 never starts a msgpack document */
#define AUTH_CMD_MAGIC_LEN 7
#define AUTH_SNAP_MAGIC \
    "\xc1"              \
    "ETAUS1"
#define AUTH_SNAP_MAGIC_LEN 7
void auth_cmd_encode(const struct auth_cmd *c, struct et_buf *out);
/* Decodes a command (fills @c with new allocations; auth_cmd_free() it). */
int auth_cmd_decode(const void *p, size_t len, struct auth_cmd *c);
/* Appends magic, length and the state. */
void auth_state_encode(const struct auth_state *st, struct et_buf *out);
/* Replaces @st with the state at the start of @p; *@used = bytes consumed. */
int auth_state_decode(struct auth_state *st, const void *p, size_t len, size_t *used);

/* ---- lookups and permission checks (etcd's v2auth) ------------------------------------- */

const struct auth_user *auth_user_find(const struct auth_state *st, const char *name, size_t len);
const struct auth_role *auth_role_find(const struct auth_state *st, const char *name, size_t len);

/* simpleMatch: "p*" is a prefix match on "p", anything else an exact match. */
bool auth_pattern_match(const char *pat, const char *key, size_t key_len);
/* prefixMatch (recursive requests): only "p*" patterns, prefix match on "p". */
bool auth_pattern_prefix_match(const char *pat, const char *key, size_t key_len);
/* The user holds the root role (the root user always does). */
bool auth_user_is_root(const struct auth_user *u);
/* A key request by @u (NULL: the guest role) may go ahead. @recursive is ignored for guests. */
bool auth_key_allowed(const struct auth_state *st, const struct auth_user *u, const char *key,
                      size_t key_len, bool recursive, bool write);

/* ---- JSON ----------------------------------------------------------------------------- */

/* GET /v2/auth/users/<u>: 0 (body appended) or 404 with the message appended. */
int auth_user_json(const struct auth_state *st, const struct auth_user *u, struct et_buf *out);
void auth_users_json(const struct auth_state *st, struct et_buf *out);
void auth_role_json(const struct auth_role *r, struct et_buf *out); /* NULL: the root role */
void auth_roles_json(const struct auth_state *st, struct et_buf *out);

/*
 * Request bodies, decoded as Go's encoding/json decodes them into etcd's User and Role structs
 * (first JSON value only, member names case-insensitive, null leaves a field unset, a type
 * mismatch is an error). Return 0 or -EINVAL ("Invalid JSON in request body.").
 */
struct auth_user_req {
    char *user, *password;
    struct auth_list roles, grant, revoke;
};

struct auth_role_req {
    char *role;
    struct auth_list read, write;               /* permissions */
    bool has_grant, has_revoke;                 /* the pointer fields are non-nil */
    struct auth_list grant_read, grant_write;   /* grant.kv */
    struct auth_list revoke_read, revoke_write; /* revoke.kv */
};

int auth_user_req_parse(const char *body, size_t len, struct auth_user_req *out);
void auth_user_req_free(struct auth_user_req *r);
int auth_role_req_parse(const char *body, size_t len, struct auth_role_req *out);
void auth_role_req_free(struct auth_role_req *r);

/* Decodes HTTP Basic credentials ("Basic " + base64(user:password), scheme case-insensitive).
 * Returns 0 with new strings in *@user / *@password, or -EINVAL. */
int auth_basic_parse(const char *hdr, size_t len, char **user, char **password);

#endif
