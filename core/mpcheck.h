/*
 * core/mpcheck.h - a structural check of msgpack bytes before msgpack-c unpacks them (shared by
 * the store's command and snapshot decoders and the WAL's record decoder).
 */
#ifndef ET_CORE_MPCHECK_H
#define ET_CORE_MPCHECK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether @len bytes at @data are exactly one msgpack object whose every container and string
 * fits in them (msgpack-c allocates a container's declared size before reading its elements, so
 * a few bytes could otherwise ask for gigabytes). Borrows @data; allocates nothing.
 */
bool et_msgpack_check(const void *data, size_t len);

#endif
