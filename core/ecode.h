/*
 * core/ecode.h - the etcd v2 error codes: one table, one place.
 *
 * Each row: name, code, HTTP status, message (etcd 3.4's text, byte for byte; see
 * spec/v2-keys-api.md section 10). The enum, the status lookup and et_strerror() come from it.
 * Functions across the tree return 0 for success, -errno for system errors and one of these
 * positive codes for v2 errors.
 */
#ifndef ET_CORE_ECODE_H
#define ET_CORE_ECODE_H

#define ET_ECODES(X)                                                                         \
    X(KEY_NOT_FOUND, 100, 404, "Key not found")                                              \
    X(TEST_FAILED, 101, 412, "Compare failed")                                               \
    X(NOT_FILE, 102, 403, "Not a file")                                                      \
    X(NO_MORE_PEER, 103, 400, "Reached the max number of peers in the cluster")              \
    X(NOT_DIR, 104, 400, "Not a directory")                                                  \
    X(NODE_EXIST, 105, 412, "Key already exists")                                            \
    X(KEY_IS_PRESERVED, 106, 400, "The prefix of given key is a keyword in etcd")            \
    X(ROOT_RONLY, 107, 400, "Root is read only")                                             \
    X(DIR_NOT_EMPTY, 108, 403, "Directory not empty")                                        \
    X(EXISTING_PEER_ADDR, 109, 400, "Peer address has existed")                              \
    X(UNAUTHORIZED, 110, 401, "The request requires user authentication")                    \
    X(VALUE_REQUIRED, 200, 400, "Value is Required in POST form")                            \
    X(PREV_VALUE_REQUIRED, 201, 400, "PrevValue is Required in POST form")                   \
    X(TTL_NAN, 202, 400, "The given TTL in POST form is not a number")                       \
    X(INDEX_NAN, 203, 400, "The given index in POST form is not a number")                   \
    X(VALUE_OR_TTL_REQUIRED, 204, 400, "Value or TTL is required in POST form")              \
    X(TIMEOUT_NAN, 205, 400, "The given timeout in POST form is not a number")               \
    X(NAME_REQUIRED, 206, 400, "Name is required in POST form")                              \
    X(INDEX_OR_VALUE_REQUIRED, 207, 400, "Index or value is required")                       \
    X(INDEX_VALUE_MUTEX, 208, 400, "Index and value cannot both be specified")               \
    X(INVALID_FIELD, 209, 400, "Invalid field")                                              \
    X(INVALID_FORM, 210, 400, "Invalid POST form")                                           \
    X(REFRESH_VALUE, 211, 400, "Value provided on refresh")                                  \
    X(REFRESH_TTL_REQUIRED, 212, 400, "A TTL must be provided on refresh")                   \
    X(RAFT_INTERNAL, 300, 500, "Raft Internal Error")                                        \
    X(LEADER_ELECT, 301, 500, "During Leader Election")                                      \
    X(WATCHER_CLEARED, 400, 400, "watcher is cleared due to etcd recovery")                  \
    X(EVENT_INDEX_CLEARED, 401, 400, "The event in requested index is outdated and cleared") \
    X(STANDBY_INTERNAL, 402, 400, "Standby Internal Error")                                  \
    X(INVALID_ACTIVE_SIZE, 403, 400, "Invalid active size")                                  \
    X(INVALID_REMOVE_DELAY, 404, 400, "Standby remove delay")                                \
    X(CLIENT_INTERNAL, 500, 400, "Client Internal Error")

enum et_ecode {
#define X(name, code, http, msg) ET_E_##name = code,
    ET_ECODES(X)
#undef X
};

/* etcd's message for @code, or NULL when @code is not a v2 error code. */
const char *et_strerror(int code);

/* The HTTP status etcd answers @code with (400 for unknown codes, as 3.4 does). */
int et_ecode_http_status(int code);

#endif
