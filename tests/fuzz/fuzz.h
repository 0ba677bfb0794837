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

#endif
