/*
 * core/log.c - line-at-a-time logging to stderr. Each line is formatted into a stack buffer and
 * written with a single write(2), so lines from different threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum et_log_level log_level = ET_LOG_INFO;

void et_log_set_level(enum et_log_level level)
{
    log_level = level;
}

void et_log(enum et_log_level level, const char *fmt, ...)
{
    static const char tags[] = { 'D', 'I', 'W', 'E' };
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    if (level < log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%06ldZ %c | ", ts.tv_nsec / 1000,
                          tags[level]);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m : sizeof(line) - n - 2;
    line[n++] = '\n';
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}
