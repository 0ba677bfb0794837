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

/*
 * Proleptic Gregorian date of day @days since 1970-01-01, by whole 400-year eras (146,097 days;
 * the era here starts on March 1st, so that the leap day ends a year). No gmtime_r(): it takes
 * the time zone lock, and listings of keys with a TTL format one expiration per key.
 */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;                                   /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void et_time_rfc3339(struct et_buf *b, int64_t t_ns)
{
    int64_t sec = t_ns / ET_NS_PER_SEC, frac = t_ns % ET_NS_PER_SEC;
    if (frac < 0) {
        frac += ET_NS_PER_SEC;
        sec--;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    /* int64 nanoseconds span the years 1677 to 2262: always four digits */
    char *p = et_buf_reserve(b, 19), *s = p;
    p = et_u64_str_fixed(p, (uint64_t)year, 4);
    *p++ = '-';
    p = et_u64_str_fixed(p, (uint64_t)(month), 2);
    *p++ = '-';
    p = et_u64_str_fixed(p, (uint64_t)(day), 2);
    *p++ = 'T';
    p = et_u64_str_fixed(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = et_u64_str_fixed(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = et_u64_str_fixed(p, (uint64_t)(rem % 60), 2);
    b->len += (size_t)(p - s);
    b->data[b->len] = '\0';
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
