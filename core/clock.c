/*
 * core/clock.c - clock reads and Go-compatible time formatting.
 */
#include "core/clock.h"

#include <time.h>

int64_t et_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * ET_NS_PER_SEC + ts.tv_nsec;
}

int64_t et_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * ET_NS_PER_SEC + ts.tv_nsec;
}

/* Appends ".ddddddddd" for @frac (0..999999999) with trailing zeros dropped; nothing for 0. */
static void append_fraction(struct et_buf *b, int64_t frac, int digits)
{
    char tmp[16];
    int n = digits;
    if (frac == 0)
        return;
    for (int i = digits - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (n > 0 && tmp[n - 1] == '0')
        n--;
    et_buf_append_char(b, '.');
    et_buf_append(b, tmp, (size_t)n);
}

void et_time_rfc3339(struct et_buf *b, int64_t t_ns)
{
    int64_t sec = t_ns / ET_NS_PER_SEC, frac = t_ns % ET_NS_PER_SEC;
    if (frac < 0) {
        frac += ET_NS_PER_SEC;
        sec--;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    gmtime_r(&tt, &tm);
    et_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    append_fraction(b, frac, 9);
    et_buf_append_char(b, 'Z');
}

void et_duration_go(struct et_buf *b, int64_t d)
{
    uint64_t u;
    if (d < 0) {
        et_buf_append_char(b, '-');
        u = (uint64_t)0 - (uint64_t)d;
    } else {
        u = (uint64_t)d;
    }
    if (u == 0) {
        et_buf_append_str(b, "0s");
        return;
    }
    if (u < 1000) {
        et_buf_append_u64(b, u);
        et_buf_append_str(b, "ns");
        return;
    }
    if (u < 1000000) {
        et_buf_append_u64(b, u / 1000);
        append_fraction(b, (int64_t)(u % 1000), 3);
        et_buf_append_str(b, "\xc2\xb5s");
        return;
    }
    if (u < 1000000000) {
        et_buf_append_u64(b, u / 1000000);
        append_fraction(b, (int64_t)(u % 1000000), 6);
        et_buf_append_str(b, "ms");
        return;
    }
    uint64_t secs = u / 1000000000, frac = u % 1000000000;
    uint64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
    if (h) {
        et_buf_append_u64(b, h);
        et_buf_append_char(b, 'h');
    }
    if (h || m) {
        et_buf_append_u64(b, m);
        et_buf_append_char(b, 'm');
    }
    et_buf_append_u64(b, s);
    append_fraction(b, (int64_t)frac, 9);
    et_buf_append_char(b, 's');
}
