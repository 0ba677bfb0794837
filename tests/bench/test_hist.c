/* tests/bench/test_hist.c - the load generator's latency histogram: layout and quantiles. */
#include <criterion/criterion.h>

#include "bench/hist.h"

static struct bench_hist t_hist;

Test(bench_hist, buckets_are_contiguous_and_ordered)
{
    unsigned prev = bench_hist_index(0);
    for (uint64_t v = 1; v < (1u << 20); v++) {
        unsigned idx = bench_hist_index(v);
        cr_assert(idx == prev || idx == prev + 1, "v=%lu idx=%u prev=%u", v, idx, prev);
        cr_assert_leq(bench_hist_bucket_low(idx), v);
        prev = idx;
    }
    cr_assert_lt(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS);
}

Test(bench_hist, small_values_are_exact)
{
    for (uint64_t v = 0; v < 256; v++)
        cr_assert_eq(bench_hist_bucket_low(bench_hist_index(v)), v);
}

Test(bench_hist, relative_error_below_one_percent)
{
    for (uint64_t v = 1000; v < 10000000000ULL; v = v * 13 / 10) {
        uint64_t low = bench_hist_bucket_low(bench_hist_index(v));
        cr_assert_leq((double)(v - low) / (double)v, 1.0 / 128, "v=%lu low=%lu", v, low);
    }
}

Test(bench_hist, quantiles_of_uniform_values)
{
    bench_hist_init(&t_hist);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_record(&t_hist, v * 1000); /* 1 us .. 100 ms */
    double p50 = (double)bench_hist_quantile(&t_hist, 0.5);
    double p99 = (double)bench_hist_quantile(&t_hist, 0.99);
    cr_assert(p50 > 50e6 * 0.99 && p50 < 50e6 * 1.01, "p50=%f", p50);
    cr_assert(p99 > 99e6 * 0.99 && p99 < 99e6 * 1.01, "p99=%f", p99);
    cr_assert_eq(bench_hist_quantile(&t_hist, 1.0), 100000000);
    cr_assert_eq(bench_hist_quantile(&t_hist, 0.0), 1000);
}

Test(bench_hist, merge_adds_counts)
{
    static struct bench_hist other;
    bench_hist_init(&t_hist);
    bench_hist_init(&other);
    cr_assert_eq(bench_hist_quantile(&t_hist, 0.5), 0);
    bench_hist_record(&t_hist, 10);
    bench_hist_record(&other, 1000000);
    bench_hist_record(&other, 1000000);
    bench_hist_merge(&t_hist, &other);
    cr_assert_eq(t_hist.total, 3);
    cr_assert_eq(t_hist.min, 10);
    cr_assert_eq(t_hist.max, 1000000);
    uint64_t p50 = bench_hist_quantile(&t_hist, 0.5);
    cr_assert(p50 > 990000 && p50 <= 1000000, "p50=%lu", p50);
}
