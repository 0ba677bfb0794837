/*
 * core/sha1.h - SHA-1 (FIPS 180-4), one-shot. etcd derives member and cluster IDs from SHA-1
 * digests; this saves the server from initialising OpenSSL (about 2 MB of resident pages of
 * libcrypto) for two hashes at start-up. Not for anything security-related.
 */
#ifndef ET_CORE_SHA1_H
#define ET_CORE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define ET_SHA1_LEN 20

/* Writes the SHA-1 digest of @len bytes at @p (NULL allowed when @len is 0) to @out. */
void et_sha1(const void *p, size_t len, uint8_t out[ET_SHA1_LEN]);

#endif
