/*
 * core/ascii.h - byte classes of ASCII text shared by the parsers (URLs, percent escapes, JSON).
 */
#ifndef ET_CORE_ASCII_H
#define ET_CORE_ASCII_H

/* The value of the hexadecimal digit @c (either case), or -1. */
static inline int et_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#endif
