/*
 * bench/hist.c - the log-linear histogram (see hist.h for the bucket layout).
 *
 * With b = BENCH_HIST_SUB_BITS and s = max(0, msb(v) - b), bucket index = (s << b) + (v >> s).
 * For s = 0 that is v itself (values below 2^(b+1)); for s >= 1, v >> s lies in [2^b, 2^(b+1)),
 * so shift s owns indexes [(s+1) 2^b, (s+2) 2^b): the ranges are contiguous and disjoint.
 */
#include "bench/hist.h"

#include <string.h>

#include "core/assert.h"

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t v_ns)
{
    unsigned msb = 63u - (unsigned)__builtin_clzll(v_ns | 1);
    unsigned shift = msb > BENCH_HIST_SUB_BITS ? msb - BENCH_HIST_SUB_BITS : 0;
    unsigned idx = (shift << BENCH_HIST_SUB_BITS) + (unsigned)(v_ns >> shift);

    ET_ASSERT(idx < BENCH_HIST_BUCKETS);
    return idx;
}

uint64_t bench_hist_bucket_low(unsigned idx)
{
    ET_ASSERT(idx < BENCH_HIST_BUCKETS);
    if (idx < (2u << BENCH_HIST_SUB_BITS))
        return idx;
    unsigned shift = (idx >> BENCH_HIST_SUB_BITS) - 1;
    uint64_t mantissa = idx - ((uint64_t)shift << BENCH_HIST_SUB_BITS);
    return mantissa << shift;
}

void bench_hist_record(struct bench_hist *h, uint64_t v_ns)
{
    h->counts[bench_hist_index(v_ns)]++;
    h->total++;
    h->sum += (double)v_ns;
    if (v_ns < h->min)
        h->min = v_ns;
    if (v_ns > h->max)
        h->max = v_ns;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    /* The rank of the value wanted, 1-based: ceil(q * total), at least 1. */
    uint64_t rank = (uint64_t)(q * (double)h->total);
    if ((double)rank < q * (double)h->total)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t low = bench_hist_bucket_low(i);
            uint64_t high = i + 1 < BENCH_HIST_BUCKETS ? bench_hist_bucket_low(i + 1) : low + 1;
            uint64_t mid = low + (high - low) / 2;
            /* Never report beyond what was seen. */
            if (mid > h->max)
                mid = h->max;
            if (mid < h->min)
                mid = h->min;
            return mid;
        }
    }
    return h->max;
}
