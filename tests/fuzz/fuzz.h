/*
 * tests/fuzz/fuzz.h - the libFuzzer entry point every fuzz target defines.
 *
 * A target is built twice: with -fsanitize=fuzzer when ET_FUZZ is ON (libFuzzer supplies main),
 * and always as "<target>_replay", linked with replay_main.c, which feeds every file of the seed
 * corpus once so that ordinary (ASan) test runs execute the targets' checks too.
 */
#ifndef ET_TESTS_FUZZ_FUZZ_H
#define ET_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed property: print it and abort, so libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Reference UTF-8 check (RFC 3629: no overlong forms, surrogates or values above U+10FFFF). */
static inline int fuzz_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp, min;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
            return 0;
        i += len;
    }
    return 1;
}

#endif
