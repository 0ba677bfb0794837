/*
 * core/alloc.c - allocation wrappers that never return NULL. See core/alloc.h.
 */
#include "core/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ET_NORETURN static void out_of_memory(size_t size, const char *file, int line)
{
    fprintf(stderr, "etcetera: out of memory allocating %zu bytes at %s:%d\n", size, file, line);
    abort();
}

void et__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "etcetera: %s:%d: assertion `%s' failed\n", file, line, expr);
    fflush(stderr);
    abort();
}

void *et__alloc(size_t size, const char *file, int line)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size, file, line);
    return p;
}

void *et__calloc(size_t count, size_t size, const char *file, int line)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(count * size, file, line);
    return p;
}

void *et__realloc(void *p, size_t size, const char *file, int line)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        out_of_memory(size, file, line);
    return q;
}

void *et__alloc_array(size_t count, size_t size, const char *file, int line)
{
    if (size != 0 && count > SIZE_MAX / size)
        out_of_memory(SIZE_MAX, file, line);
    return et__alloc(count * size, file, line);
}

char *et__strndup(const char *s, size_t len, const char *file, int line)
{
    char *p = et__alloc(len + 1, file, line);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *et__memdup(const void *src, size_t len, const char *file, int line)
{
    void *p = et__alloc(len, file, line);
    if (len)
        memcpy(p, src, len);
    return p;
}

void et_free(void *p)
{
    free(p);
}
