/*
 * bench/hist.h - a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values (nanoseconds) below 2^(BENCH_HIST_SUB_BITS+1) are counted exactly; above that each
 * power-of-two range is cut into 2^BENCH_HIST_SUB_BITS equal buckets, so a reported quantile is
 * within 1/128 (0.8%) of the true value at every magnitude. One histogram is about 60 KiB and
 * is written by one thread only; threads merge theirs at the end of a run.
 */
#ifndef ET_BENCH_HIST_H
#define ET_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_BUCKETS  ((64 - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS)

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS]; /* values per bucket */
    uint64_t total;                      /* values recorded */
    uint64_t min;                        /* smallest value recorded (ns); UINT64_MAX when empty */
    uint64_t max;                        /* largest value recorded (ns) */
    double sum;                          /* sum of values, for the mean (ns) */
};

void bench_hist_init(struct bench_hist *h);
/* Counts one value of @v_ns. Thread: the histogram's owner. */
void bench_hist_record(struct bench_hist *h, uint64_t v_ns);
/* Adds every count of @src into @dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value (ns) at quantile @q in [0, 1]: the midpoint of the bucket holding it; 0 when empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);
/* The bucket index of @v_ns (exposed for the unit test of the bucket layout). */
unsigned bench_hist_index(uint64_t v_ns);
/* The smallest value that falls in bucket @idx. */
uint64_t bench_hist_bucket_low(unsigned idx);

#endif
