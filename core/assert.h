/*
 * core/assert.h - assertions that stay on in release builds, and the attributes every module uses.
 *
 * A failed ET_ASSERT aborts with file and line: a crash costs less than a wrong answer replicated
 * to every member. ET_DEBUG_ASSERT is for O(n) checks and compiles away unless ET_DEBUG is set.
 */
#ifndef ET_CORE_ASSERT_H
#define ET_CORE_ASSERT_H

#define ET_NODISCARD    __attribute__((warn_unused_result))
#define ET_NORETURN     __attribute__((noreturn))
#define ET_LIKELY(x)    __builtin_expect(!!(x), 1)
#define ET_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define ET_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Print "file:line: assertion `expr' failed" to stderr and abort. */
ET_NORETURN void et__assert_fail(const char *expr, const char *file, int line);

#define ET_ASSERT(cond)                                 \
    do {                                                \
        if (ET_UNLIKELY(!(cond)))                       \
            et__assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)

#if defined(ET_DEBUG) && ET_DEBUG
#define ET_DEBUG_ASSERT(cond) ET_ASSERT(cond)
#else
#define ET_DEBUG_ASSERT(cond) ((void)0)
#endif

#define ET_UNREACHABLE() et__assert_fail("unreachable", __FILE__, __LINE__)

#define ET_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
