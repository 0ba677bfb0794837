/*
 * core/log.h - one line per event on stderr, with a UTC timestamp and a level.
 *
 * Format: "2026-11-29T05:30:00.123456Z I | message". Thread-safe (one write(2) per line).
 */
#ifndef ET_CORE_LOG_H
#define ET_CORE_LOG_H

#include "core/assert.h"

enum et_log_level {
    ET_LOG_DEBUG,
    ET_LOG_INFO,
    ET_LOG_WARN,
    ET_LOG_ERROR,
};

/* Lines below @level are dropped. Default: ET_LOG_INFO. */
void et_log_set_level(enum et_log_level level);

void et_log(enum et_log_level level, const char *fmt, ...) ET_PRINTF(2, 3);

#define et_debug(...) et_log(ET_LOG_DEBUG, __VA_ARGS__)
#define et_info(...)  et_log(ET_LOG_INFO, __VA_ARGS__)
#define et_warn(...)  et_log(ET_LOG_WARN, __VA_ARGS__)
#define et_error(...) et_log(ET_LOG_ERROR, __VA_ARGS__)

#endif
