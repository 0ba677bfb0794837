/* tests/core/test_clock.c - time formats match Go's RFC3339Nano and Duration.String. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/clock.h"

static const char *t_rfc(int64_t ns)
{
    static struct et_buf b;
    et_buf_reset(&b);
    et_time_rfc3339(&b, ns);
    return b.data;
}

static const char *t_dur(int64_t ns)
{
    static struct et_buf b;
    et_buf_reset(&b);
    et_duration_go(&b, ns);
    return b.data;
}

Test(core_clock, rfc3339_trims_trailing_zeros_of_the_fraction)
{
    cr_assert_str_eq(t_rfc(1795500972208582781LL), "2026-11-24T06:16:12.208582781Z");
    cr_assert_str_eq(t_rfc(1795500972463612820LL), "2026-11-24T06:16:12.46361282Z");
    cr_assert_str_eq(t_rfc(1795500972000000000LL), "2026-11-24T06:16:12Z");
}

Test(core_clock, durations_print_like_go)
{
    cr_assert_str_eq(t_dur(0), "0s");
    cr_assert_str_eq(t_dur(465807396), "465.807396ms");
    cr_assert_str_eq(t_dur(3738437279LL), "3.738437279s");
    cr_assert_str_eq(t_dur(823529167390LL), "13m43.52916739s");
    cr_assert_str_eq(t_dur(3600LL * ET_NS_PER_SEC), "1h0m0s");
    cr_assert_str_eq(t_dur(1500), "1.5\xc2\xb5s");
}

/* The hand-written calendar against the C library's, over the whole int64 nanosecond range:
 * both ends, leap days and centuries, the epoch, and random instants. */
static void check_against_libc(int64_t ns)
{
    int64_t sec = ns / ET_NS_PER_SEC;
    if (ns % ET_NS_PER_SEC < 0)
        sec--;
    time_t tt = (time_t)sec;
    struct tm tm;
    char want[64];
    cr_assert_not_null(gmtime_r(&tt, &tm));
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
    const char *got = t_rfc(ns);
    cr_assert(strncmp(got, want, strlen(want)) == 0, "%lld: got %s, want %s...", (long long)ns, got,
              want);
}

Test(core_clock, rfc3339_dates_match_the_c_library)
{
    static const int64_t fixed[] = {
        0,
        -1,
        INT64_MAX,
        INT64_MIN,
        951782400LL * ET_NS_PER_SEC,   /* 2000-02-29 */
        951868799LL * ET_NS_PER_SEC,   /* 2000-02-29T23:59:59 */
        4107542400LL * ET_NS_PER_SEC,  /* 2100-03-01 (2100 is not a leap year) */
        -2203891200LL * ET_NS_PER_SEC, /* 1900-03-01 */
        -86400LL * ET_NS_PER_SEC + 1,  /* 1969-12-31, a fraction after midnight */
        1795500972208582781LL,
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_against_libc(fixed[i]);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_against_libc((int64_t)x);
    }
    cr_assert_str_eq(t_rfc(-1), "1969-12-31T23:59:59.999999999Z");
    cr_assert_str_eq(t_rfc(INT64_MAX), "2262-04-11T23:47:16.854775807Z");
    cr_assert_str_eq(t_rfc(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
}

Test(core_clock, u64_strings)
{
    static const uint64_t v[] = { 0, 9, 10, 99, 100, 101, 12345, 4294967296ULL, UINT64_MAX };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[ET_U64_STR_MAX + 1], want[32];
        size_t n = et_u64_str(got, v[i]);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
        cr_assert_str_eq(got, want);
    }
}

Test(core_clock, u64_fixed_width_strings)
{
    char out[24];
    *et_u64_str_fixed(out, 7, 4) = '\0';
    cr_assert_str_eq(out, "0007");
    *et_u64_str_fixed(out, 123456, 2) = '\0';
    cr_assert_str_eq(out, "56", "higher digits are dropped");
    *et_u64_str_fixed(out, UINT64_MAX, ET_U64_STR_MAX) = '\0';
    cr_assert_str_eq(out, "18446744073709551615");
    *et_u64_str_fixed(out, 42, ET_U64_STR_MAX) = '\0';
    cr_assert_str_eq(out, "00000000000000000042");
}
