/*
 * core/ecode.c - lookups over the ET_ECODES table.
 */
#include "core/ecode.h"

#include <stddef.h>

const char *et_strerror(int code)
{
    switch (code) {
#define X(name, c, http, msg) \
    case c:                   \
        return msg;
        ET_ECODES(X)
#undef X
    default:
        return NULL;
    }
}

int et_ecode_http_status(int code)
{
    switch (code) {
#define X(name, c, http, msg) \
    case c:                   \
        return http;
        ET_ECODES(X)
#undef X
    default:
        return 400;
    }
}
