/*
 * core/crc32c.h - CRC-32C (Castagnoli), the checksum of WAL records and snapshot files.
 */
#ifndef ET_CORE_CRC32C_H
#define ET_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends @crc (0 to start) over @len bytes at @p. */
uint32_t et_crc32c(uint32_t crc, const void *p, size_t len);

#endif
