/* tests/core/test_clock.c - time formats match Go's RFC3339Nano and Duration.String. */
#include <criterion/criterion.h>

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
