/*
 * core/alloc.h - the one way etcetera allocates memory.
 *
 * Every allocation goes through these wrappers: they abort with the caller's file and line when
 * memory runs out (no NULL checks scattered through the tree), and multiplications of counts and
 * sizes are checked. The process allocator is jemalloc (linked into every program).
 */
#ifndef ET_CORE_ALLOC_H
#define ET_CORE_ALLOC_H

#include <stddef.h>

#include "core/assert.h"

void *et__alloc(size_t size, const char *file, int line);
void *et__calloc(size_t count, size_t size, const char *file, int line);
void *et__realloc(void *p, size_t size, const char *file, int line);
void *et__alloc_array(size_t count, size_t size, const char *file, int line);
char *et__strndup(const char *s, size_t len, const char *file, int line);
void *et__memdup(const void *p, size_t len, const char *file, int line);

/* Returns new memory of @size bytes (uninitialised); never NULL. */
#define et_alloc(size) et__alloc((size), __FILE__, __LINE__)
/* Returns new zeroed memory for @n objects of @size bytes; never NULL. */
#define et_calloc(n, size) et__calloc((n), (size), __FILE__, __LINE__)
/* Resizes @p (which may be NULL) to @size bytes; never NULL. */
#define et_realloc(p, size) et__realloc((p), (size), __FILE__, __LINE__)
/* Returns new memory for @n objects of @size bytes, checking the product for overflow. */
#define et_alloc_array(n, size) et__alloc_array((n), (size), __FILE__, __LINE__)
/* Returns a new NUL-terminated copy of the first @len bytes of @s. */
#define et_strndup(s, len) et__strndup((s), (len), __FILE__, __LINE__)
#define et_strdup(s)       et__strndup((s), strlen(s), __FILE__, __LINE__)
/* Returns a new copy of @len bytes at @p. */
#define et_memdup(p, len) et__memdup((p), (len), __FILE__, __LINE__)

void et_free(void *p);

#endif
