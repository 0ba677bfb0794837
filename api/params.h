/*
 * api/params.h - request target routing and parameter parsing for the v2 keys API.
 *
 * Pure functions: no I/O, no h2o, no store access, no clock. They turn the raw request target,
 * the method, the Content-Type and the body into a validated request or an etcd error, following
 * spec/v2-keys-api.md sections 2 (routing, decoding, cleaning, redirects), 3 (parameter sources,
 * grammars, validation order) and 5.3.1 / 5.5 (write dispatch). etcd 3.4 does this with Go's
 * net/url, net/http (ParseForm, ServeMux) and mime packages; the corner cases reproduced here
 * (error strings, precedence, semicolons, media-type errors) are theirs.
 *
 * Threads: any; nothing here keeps state outside the caller's structs.
 */
#ifndef ET_API_PARAMS_H
#define ET_API_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/buf.h"
#include "store/store.h"

/* ---- request target ------------------------------------------------------------------------ */

/* Result of routing the raw request target (path + query, not decoded). */
enum api_path_kind {
    API_PATH_KEYS,      /* /v2/keys[/...], clean: @key holds the node path */
    API_PATH_REDIRECT,  /* path not clean: answer 301 with @location */
    API_PATH_NOT_FOUND, /* clean, but not /v2/keys[/...]: answer 404 page not found */
    API_PATH_BAD,       /* invalid escape or control byte in the path: answer 400 Bad Request */
};

/*
 * Parses @target (e.g. "/v2/keys//a%20b/?recursive=true"), @len bytes, not NUL-terminated.
 * The path part (before the first '?') is percent-decoded (%2F becomes '/', '+' stays '+'; an
 * invalid escape or a raw control byte -> API_PATH_BAD) and cleaned like Go's ServeMux does.
 *   - Not clean (//, /./, /../, trailing /. or /..; one trailing slash is fine) ->
 *     API_PATH_REDIRECT, *location = cleaned path escaped as Go's URL.EscapedPath() would,
 *     plus "?" and the raw query (bytes >= 0x80 as lower-case %xx) when it is not empty. This
 * applies to every path, as in etcd (Go's ServeMux redirects before routing), including paths
 * climbing out of /v2/keys.
 *   - Clean and /v2/keys, /v2/keys/ or /v2/keys/... -> API_PATH_KEYS, @key = the node path:
 *     "/" for the root, "/a/b" otherwise, never a trailing slash (NUL bytes possible: use len).
 *   - Anything else -> API_PATH_NOT_FOUND. The path is decoded before matching, so
 *     "/v2/%6beys/a" and "/v2/keys%2Fa" are keys requests, as in etcd.
 * @target is the origin form ("/..."); anything else (e.g. "*") is API_PATH_BAD.
 * @key and @location are appended to (they may be NULL when the caller does not need them).
 * *query / *query_len (may be NULL) get the raw query after the first '?', borrowed from
 * @target (NULL / 0 when there is no '?').
 */
ET_NODISCARD enum api_path_kind api_keys_path(const char *target, size_t len, struct et_buf *key,
                                              struct et_buf *location, const char **query,
                                              size_t *query_len);

/*
 * Appends @path (@len decoded bytes) percent-escaped as Go's url.URL.EscapedPath() does for a
 * path it has to escape itself: A-Z a-z 0-9 - _ . ~ $ & + , / : ; = @ stay, every other byte
 * becomes %XX (upper-case hex).
 */
void api_escape_path(struct et_buf *out, const char *path, size_t len);

/*
 * Appends the body etcd (Go's http.Redirect) writes for a GET answered with a 301 for @target:
 * <a href="URL">Moved Permanently</a>. and two LF, where URL is the Location html-escaped
 * (& < > " ' as &amp; &lt; &gt; &#34; &#39;) but with non-ASCII query bytes left raw.
 * HEAD gets the same Content-Type (text/html; charset=utf-8) and no body; other methods get
 * neither. Returns false (appending nothing) when @target is not a redirect.
 */
ET_NODISCARD bool api_redirect_body(struct et_buf *out, const char *target, size_t len);

/* ---- value grammars (spec 3.2) ------------------------------------------------------------- */

/* Parses a Go strconv.ParseBool value: 1 t T TRUE true True 0 f F FALSE false False.
 * Returns true and sets *out on success; false for anything else (including empty). */
ET_NODISCARD bool api_parse_bool(const char *s, size_t len, bool *out);

/* Parses decimal digits only (leading zeros fine) into a uint64; false for empty, sign, any
 * other byte or overflow past 18446744073709551615. */
ET_NODISCARD bool api_parse_u64(const char *s, size_t len, uint64_t *out);

/* ---- form / query parameters --------------------------------------------------------------- */

struct api_param; /* one decoded name/value pair (private) */

/*
 * Owns decoded name/value pairs. Initialise with api_params_init() (or API_PARAMS_STORE_INIT),
 * release with api_params_free(). Only the first occurrence of each name is kept (body pairs
 * are added before query pairs), so lookups are O(1) and memory is bounded by the distinct
 * names, whatever a client repeats.
 */
struct api_params_store {
    struct api_param *_pairs; /* first occurrences, in order of addition */
    size_t _count;
    size_t _cap;
    uint32_t *_slots;   /* open addressing over _pairs: index + 1, 0 = empty */
    size_t _slot_count; /* power of two, at least twice _count */
    char **_chunks;     /* decoded bytes, one allocation per parsed string */
    size_t _chunk_count;
};

#define API_PARAMS_STORE_INIT        \
    {                                \
        NULL, 0, 0, NULL, 0, NULL, 0 \
    }

void api_params_init(struct api_params_store *st);
/* Frees every pair and decoded byte; every string borrowed from @st becomes invalid. */
void api_params_free(struct api_params_store *st);

/*
 * Parses @s (@len bytes) as Go's url.ParseQuery does and appends the pairs to @st: '&'
 * separates pairs; a pair containing ';' is skipped with the error `invalid semicolon separator
 * in query` (which replaces any earlier error); empty pairs are skipped; '+' -> space; %XX ->
 * byte; a pair with a bad escape is skipped with `invalid URL escape "%zz"` (first error kept).
 * Every valid pair is kept even when an error is returned.
 * Returns 0, or ET_E_INVALID_FORM and appends the error text to @cause (may be NULL).
 */
ET_NODISCARD int api_form_parse(struct api_params_store *st, const char *s, size_t len,
                                struct et_buf *cause);

/* First value of @name (NUL-terminated name, case-sensitive). Returns false when absent. The
 * value is borrowed from @st (valid until api_params_free()) and NUL-terminated after *len. */
ET_NODISCARD bool api_form_get(const struct api_params_store *st, const char *name,
                               const char **val, size_t *len);

/*
 * Parses the parameters of a request like Go's http.Request.ParseForm: for PUT, POST and PATCH
 * with a Content-Type whose media type is application/x-www-form-urlencoded (parsed as
 * mime.ParseMediaType does: parameters ignored, case-insensitive, malformed types reported),
 * the body first, then the query (@query may be NULL). A body longer than @body_max is
 * `http: POST too large`. Returns 0, or ET_E_INVALID_FORM with the first error in @cause.
 * @content_type may be NULL (absent header).
 */
ET_NODISCARD int api_request_form(struct api_params_store *st, const char *method,
                                  const char *query, size_t query_len, const char *content_type,
                                  size_t ct_len, const char *body, size_t body_len, size_t body_max,
                                  struct et_buf *cause);

/* ---- keys API parameters (spec 3.3, 3.4) --------------------------------------------------- */

struct api_keys_params { /* every field as parsed; strings borrowed from the caller's store */
    const char *value;   /* first "value" ("" when absent) */
    size_t value_len;
    bool has_value;           /* "value" present (possibly empty) */
    bool dir;                 /* dir=true */
    bool recursive;           /* recursive=true */
    bool sorted;              /* sorted=true */
    bool wait;                /* wait=true (only valid with GET) */
    bool quorum;              /* quorum=true */
    bool stream;              /* stream=true */
    bool no_value_on_success; /* noValueOnSuccess=true */
    int prev_exist;           /* -1 absent, 0 false, 1 true */
    bool has_prev_value;      /* "prevValue" present (then non-empty: empty is error 201) */
    const char *prev_value;
    size_t prev_value_len;
    uint64_t prev_index; /* 0 = not given */
    uint64_t wait_index; /* 0 = not given */
    bool has_ttl;        /* false for absent or "ttl=" */
    uint64_t ttl;        /* seconds, when has_ttl */
    bool refresh;        /* refresh=true (then has_ttl and an empty value are guaranteed) */
};

/*
 * Parses the query string and (for PUT/POST with a form Content-Type) the body as
 * api_request_form() does, then validates in the order of spec 3.4 for @method ("GET", "HEAD",
 * "PUT", "POST", "DELETE"; the 405 for other methods is the handler's job and must come first).
 * @st must be initialised; @out borrows strings from it.
 * Returns 0, or an ET_E_* code with the exact etcd cause appended to @cause (may be NULL):
 * 210 `invalid URL escape "%zz"` / `http: POST too large`, 203 `invalid value for "prevIndex"`,
 * 209 `invalid value for prevExist`, ... (all answered with HTTP 400 and index 0).
 */
ET_NODISCARD int api_keys_params_parse(struct api_params_store *st, const char *method,
                                       const char *query, size_t query_len,
                                       const char *content_type, size_t ct_len, const char *body,
                                       size_t body_len, size_t body_max,
                                       struct api_keys_params *out, struct et_buf *cause);

/* The store operation of a validated PUT (spec 5.3.1): STORE_OP_CREATE for prevExist=false,
 * STORE_OP_CAS when a comparison is given (non-empty prevValue or prevIndex > 0),
 * STORE_OP_UPDATE for prevExist=true, STORE_OP_SET otherwise. */
enum store_op api_keys_put_op(const struct api_keys_params *p);

/* The store operation of a validated DELETE (spec 5.5): STORE_OP_CAD when a comparison is
 * given, STORE_OP_DELETE otherwise (prevExist ignored). */
enum store_op api_keys_delete_op(const struct api_keys_params *p);

/* Body limit etcd 3.4 applies to form bodies (spec 2.3): 10 MiB. */
#define API_FORM_BODY_MAX ((size_t)10 << 20)

#endif
