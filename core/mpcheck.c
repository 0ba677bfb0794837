/*
 * core/mpcheck.c - a structural check of msgpack bytes before msgpack-c unpacks them.
 *
 * msgpack-c allocates room for a container's declared element count before reading the
 * elements, so four garbage bytes can ask for gigabytes. This scan walks the encoding without
 * allocating and refuses any container or string that claims more elements or bytes than the
 * input still holds (each element takes at least one byte), and any trailing or missing byte.
 */
#include "core/mpcheck.h"

#include <stdint.h>

static uint64_t be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

bool et_msgpack_check(const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t off = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending) {
        if (off >= len || pending > len - off)
            return false;
        unsigned char b = p[off++];
        pending--;
        uint64_t skip = 0, count = 0; /* payload bytes / new elements */
        size_t lenbytes = 0;          /* size of a length field that follows */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            count = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            count = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                lenbytes = 1;
                break;
            case 0xc5:
            case 0xda:
                lenbytes = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenbytes = 4;
                break;
            case 0xc7:
                lenbytes = 1;
                skip = 1;
                break;
            case 0xc8:
                lenbytes = 2;
                skip = 1;
                break;
            case 0xc9:
                lenbytes = 4;
                skip = 1;
                break;
            case 0xca:
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xd4:
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xde:
                lenbytes = 2;
                break;
            case 0xdd:
            case 0xdf:
                lenbytes = 4;
                break;
            default:
                return false; /* 0xc1 */
            }
            if (lenbytes) {
                if (len - off < lenbytes)
                    return false;
                uint64_t n = be(p + off, lenbytes);
                off += lenbytes;
                if (b == 0xdc || b == 0xdd)
                    count = n;
                else if (b == 0xde || b == 0xdf)
                    count = 2 * n;
                else
                    skip += n;
            }
        }
        if (skip > len - off)
            return false;
        off += skip;
        if (count > len - off)
            return false;
        pending += count;
    }
    return off == len;
}
