/*
 * tests/fuzz/fuzz_auth.c - fuzzes the decoders of client input in api/auth.c: the bodies of
 * PUT /v2/auth/users/<u> (auth_user_req_parse) and /v2/auth/roles/<r> (auth_role_req_parse),
 * and the Authorization header (auth_basic_parse).
 *
 * Input layout: [mode] then the rest. Mode 0: the rest is a user body, 1: a role body, 2: an
 * Authorization header, 3: user and password (split at the first NUL byte) that the target
 * encodes itself ("Basic " in a case picked by the mode byte, base64 with CR LF inserted where
 * the second byte says).
 * Checks: the requests are always freed (LSan sees leaks); an accepted request holds non-NULL
 * names and strings of valid UTF-8 (Go decodes invalid bytes to U+FFFD), lists whose nil flag,
 * count and entries agree, no grant/revoke lists without their object, and written back as JSON it
 * decodes to the same request; an accepted header gives a user without ':' (a refused one sets
 * nothing); credentials the target encodes decode to what was encoded.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "api/auth.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/buf.h"
#include "core/json.h"
#include "tests/fuzz/fuzz.h"

static void check_list(const struct auth_list *l)
{
    FUZZ_CHECK(!l->nil || l->n == 0);
    FUZZ_CHECK(l->n == 0 || l->v != NULL);
    for (uint32_t i = 0; i < l->n; i++)
        FUZZ_CHECK(l->v[i] != NULL && fuzz_utf8_valid(l->v[i], strlen(l->v[i])));
}

static void same_list(const struct auth_list *a, const struct auth_list *b)
{
    FUZZ_CHECK(a->nil == b->nil && a->n == b->n);
    for (uint32_t i = 0; i < a->n; i++)
        FUZZ_CHECK(strcmp(a->v[i], b->v[i]) == 0);
}

static void put_list(struct et_buf *b, const char *name, const struct auth_list *l)
{
    et_buf_printf(b, "\"%s\":", name);
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

static void put_perms(struct et_buf *b, const struct auth_list *read, const struct auth_list *write)
{
    et_buf_append_str(b, "{\"kv\":{");
    put_list(b, "read", read);
    et_buf_append_char(b, ',');
    put_list(b, "write", write);
    et_buf_append_str(b, "}}");
}

static void user_body(const uint8_t *data, size_t size)
{
    struct auth_user_req r, again;
    int rc = auth_user_req_parse((const char *)data, size, &r);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        auth_user_req_free(&r);
        return;
    }
    FUZZ_CHECK(r.user != NULL && r.password != NULL);
    FUZZ_CHECK(fuzz_utf8_valid(r.user, strlen(r.user)));
    FUZZ_CHECK(fuzz_utf8_valid(r.password, strlen(r.password)));
    check_list(&r.roles);
    check_list(&r.grant);
    check_list(&r.revoke);

    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "{\"user\":");
    et_json_cstr(&b, r.user);
    et_buf_append_str(&b, ",\"password\":");
    et_json_cstr(&b, r.password);
    et_buf_append_char(&b, ',');
    put_list(&b, "roles", &r.roles);
    et_buf_append_char(&b, ',');
    put_list(&b, "grant", &r.grant);
    et_buf_append_char(&b, ',');
    put_list(&b, "revoke", &r.revoke);
    et_buf_append_char(&b, '}');
    FUZZ_CHECK(auth_user_req_parse(b.data, b.len, &again) == 0);
    FUZZ_CHECK(strcmp(r.user, again.user) == 0 && strcmp(r.password, again.password) == 0);
    same_list(&r.roles, &again.roles);
    same_list(&r.grant, &again.grant);
    same_list(&r.revoke, &again.revoke);
    auth_user_req_free(&again);
    auth_user_req_free(&r);
    et_buf_free(&b);
}

static void role_body(const uint8_t *data, size_t size)
{
    struct auth_role_req r, again;
    int rc = auth_role_req_parse((const char *)data, size, &r);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        auth_role_req_free(&r);
        return;
    }
    FUZZ_CHECK(r.role != NULL && fuzz_utf8_valid(r.role, strlen(r.role)));
    const struct auth_list *lists[] = { &r.read,        &r.write,       &r.grant_read,
                                        &r.grant_write, &r.revoke_read, &r.revoke_write };
    for (size_t i = 0; i < ET_ARRAY_SIZE(lists); i++)
        check_list(lists[i]);
    FUZZ_CHECK(r.has_grant || (r.grant_read.nil && r.grant_write.nil));
    FUZZ_CHECK(r.has_revoke || (r.revoke_read.nil && r.revoke_write.nil));

    struct et_buf b = ET_BUF_INIT;
    et_buf_append_str(&b, "{\"role\":");
    et_json_cstr(&b, r.role);
    et_buf_append_str(&b, ",\"permissions\":");
    put_perms(&b, &r.read, &r.write);
    et_buf_append_str(&b, ",\"grant\":");
    if (r.has_grant)
        put_perms(&b, &r.grant_read, &r.grant_write);
    else
        et_buf_append_str(&b, "null");
    et_buf_append_str(&b, ",\"revoke\":");
    if (r.has_revoke)
        put_perms(&b, &r.revoke_read, &r.revoke_write);
    else
        et_buf_append_str(&b, "null");
    et_buf_append_char(&b, '}');
    FUZZ_CHECK(auth_role_req_parse(b.data, b.len, &again) == 0);
    FUZZ_CHECK(strcmp(r.role, again.role) == 0);
    FUZZ_CHECK(r.has_grant == again.has_grant && r.has_revoke == again.has_revoke);
    const struct auth_list *lists2[] = {
        &again.read,        &again.write,       &again.grant_read,
        &again.grant_write, &again.revoke_read, &again.revoke_write
    };
    for (size_t i = 0; i < ET_ARRAY_SIZE(lists); i++)
        same_list(lists[i], lists2[i]);
    auth_role_req_free(&again);
    auth_role_req_free(&r);
    et_buf_free(&b);
}

static void basic_header(const uint8_t *data, size_t size)
{
    char *user = NULL, *password = NULL;
    if (auth_basic_parse((const char *)data, size, &user, &password) != 0) {
        FUZZ_CHECK(user == NULL && password == NULL);
        return;
    }
    FUZZ_CHECK(user != NULL && password != NULL);
    FUZZ_CHECK(strchr(user, ':') == NULL);
    et_free(user);
    et_free(password);
}

static void b64_encode(struct et_buf *b, const uint8_t *s, size_t len, size_t crlf_at)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        char q[4] = { abc[v >> 18], abc[(v >> 12) & 63], i + 1 < len ? abc[(v >> 6) & 63] : '=',
                      i + 2 < len ? abc[v & 63] : '=' };
        for (size_t k = 0; k < 4; k++) {
            if (i / 3 * 4 + k == crlf_at)
                et_buf_append(b, "\r\n", 2);
            et_buf_append_char(b, q[k]);
        }
    }
}

static void basic_roundtrip(uint8_t mode, const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    size_t crlf_at = data[0];
    data++, size--;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t user_len = nul ? (size_t)(nul - data) : size;
    struct et_buf cred = ET_BUF_INIT, hdr = ET_BUF_INIT;
    et_buf_append(&cred, (const char *)data, user_len);
    et_buf_append_char(&cred, ':');
    for (size_t i = user_len + 1; i < size; i++)
        if (data[i] != '\0')
            et_buf_append_char(&cred, (char)data[i]);
    et_buf_append_str(&hdr, mode & 4 ? "BASIC " : mode & 8 ? "basic " : "Basic ");
    b64_encode(&hdr, (const uint8_t *)cred.data, cred.len, crlf_at);

    char *user = NULL, *password = NULL;
    FUZZ_CHECK(auth_basic_parse(hdr.data, hdr.len, &user, &password) == 0);
    const char *colon = memchr(cred.data, ':', cred.len);
    size_t want_user = (size_t)(colon - cred.data);
    FUZZ_CHECK(strlen(user) == want_user && memcmp(user, cred.data, want_user) == 0);
    FUZZ_CHECK(strlen(password) == cred.len - want_user - 1);
    FUZZ_CHECK(memcmp(password, colon + 1, cred.len - want_user - 1) == 0);
    et_free(user);
    et_free(password);
    et_buf_free(&cred);
    et_buf_free(&hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        user_body(data + 1, size - 1);
        break;
    case 1:
        role_body(data + 1, size - 1);
        break;
    case 2:
        basic_header(data + 1, size - 1);
        break;
    default:
        basic_roundtrip(data[0], data + 1, size - 1);
        break;
    }
    return 0;
}
