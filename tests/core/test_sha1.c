/* tests/core/test_sha1.c - SHA-1 matches the FIPS 180 examples and OpenSSL at every length
 * around the block and padding boundaries. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/sha.h>

#include "core/sha1.h"

static void hex(const uint8_t *md, char out[2 * ET_SHA1_LEN + 1])
{
    for (int i = 0; i < ET_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check(const void *p, size_t len, const char *want)
{
    uint8_t md[ET_SHA1_LEN];
    char got[2 * ET_SHA1_LEN + 1];
    et_sha1(p, len, md);
    hex(md, got);
    cr_assert_str_eq(got, want, "length %zu", len);
}

Test(core_sha1, fips_examples)
{
    check("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check(NULL, 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

Test(core_sha1, million_a)
{
    static char a[1000000];
    memset(a, 'a', sizeof(a));
    check(a, sizeof(a), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

Test(core_sha1, same_as_openssl_at_every_length_to_300)
{
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        uint8_t a[ET_SHA1_LEN], b[SHA_DIGEST_LENGTH];
        et_sha1(buf, len, a);
        SHA1(buf, len, b);
        cr_assert(memcmp(a, b, sizeof(a)) == 0, "length %zu", len);
    }
}
