/*
 * core/clock.h - time as integers. Wall-clock nanoseconds since the Unix epoch for everything a
 * client sees (expirations, start times) and monotonic nanoseconds for timeouts and latencies.
 * Only programs and shells read the clock; the store and the pure raft core take time as an
 * argument.
 */
#ifndef ET_CORE_CLOCK_H
#define ET_CORE_CLOCK_H

#include <stdint.h>

#include "core/buf.h"

#define ET_NS_PER_SEC  1000000000LL
#define ET_NS_PER_MSEC 1000000LL

/* Wall-clock time, ns since 1970-01-01 UTC. */
int64_t et_wall_ns(void);
/* Monotonic time, ns since an arbitrary origin. */
int64_t et_mono_ns(void);

/*
 * Appends @t_ns as RFC 3339 in UTC with nanoseconds, trailing zeros of the fraction removed and
 * the fraction omitted when zero, as Go's time.RFC3339Nano: "2026-11-24T05:56:12.2085827Z".
 */
void et_time_rfc3339(struct et_buf *b, int64_t t_ns);

/* Appends @d_ns as Go's time.Duration.String(): "13m43.52916739s", "465.807396ms", "0s". */
void et_duration_go(struct et_buf *b, int64_t d_ns);

#endif
