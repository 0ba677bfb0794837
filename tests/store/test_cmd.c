/*
 * tests/store/test_cmd.c - command encoding: round trips, and rejection of anything malformed
 * (the decoder reads WAL and peer data).
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "store/store.h"

static struct store_cmd sample(void)
{
    static const char key[] = "/a/b\0c";
    struct store_cmd c = {
        .op = STORE_OP_CAS,
        .dir = true,
        .recursive = false,
        .refresh = true,
        .has_prev_value = true,
        .key = key,
        .key_len = sizeof(key) - 1,
        .value = "new \xff value",
        .value_len = 11,
        .prev_value = "old",
        .prev_value_len = 3,
        .prev_index = 18446744073709551615ULL,
        .expire_ns = -5,
        .now_ns = 1700000000123456789LL,
    };
    return c;
}

Test(store_cmd, round_trip_keeps_every_field)
{
    struct store_cmd c = sample(), d;
    struct et_buf b = ET_BUF_INIT;
    store_cmd_encode(&c, &b);
    cr_assert_eq(store_cmd_decode(b.data, b.len, &d), 0);
    cr_assert_eq(d.op, c.op);
    cr_assert_eq(d.dir, true);
    cr_assert_eq(d.recursive, false);
    cr_assert_eq(d.refresh, true);
    cr_assert_eq(d.has_prev_value, true);
    cr_assert_eq(d.key_len, c.key_len);
    cr_assert_eq(memcmp(d.key, c.key, c.key_len), 0);
    cr_assert(d.key >= b.data && d.key < b.data + b.len); /* points into the input */
    cr_assert_eq(d.value_len, c.value_len);
    cr_assert_eq(memcmp(d.value, c.value, c.value_len), 0);
    cr_assert_eq(d.prev_value_len, 3);
    cr_assert_eq(memcmp(d.prev_value, "old", 3), 0);
    cr_assert_eq(d.prev_index, c.prev_index);
    cr_assert_eq(d.expire_ns, -5);
    cr_assert_eq(d.now_ns, c.now_ns);
    et_buf_free(&b);
}

Test(store_cmd, round_trip_of_empty_strings)
{
    struct store_cmd c = { .op = STORE_OP_EXPIRE, .now_ns = 7 }, d;
    struct et_buf b = ET_BUF_INIT;
    store_cmd_encode(&c, &b);
    cr_assert_eq(store_cmd_decode(b.data, b.len, &d), 0);
    cr_assert_eq(d.op, STORE_OP_EXPIRE);
    cr_assert_eq(d.key_len, 0);
    cr_assert_eq(d.value_len, 0);
    cr_assert_eq(d.now_ns, 7);
    et_buf_free(&b);
}

Test(store_cmd, every_truncation_is_rejected)
{
    struct store_cmd c = sample(), d;
    struct et_buf b = ET_BUF_INIT;
    store_cmd_encode(&c, &b);
    for (size_t len = 0; len < b.len; len++)
        cr_assert_eq(store_cmd_decode(b.data, len, &d), -EINVAL, "len %zu", len);
    et_buf_append_char(&b, 0); /* trailing byte */
    cr_assert_eq(store_cmd_decode(b.data, b.len, &d), -EINVAL);
    et_buf_free(&b);
}

Test(store_cmd, wrong_shapes_are_rejected)
{
    struct store_cmd d;
    static const unsigned char not_array[] = { 0x01 };
    static const unsigned char short_array[] = { 0x92, 0x01, 0x00 };
    /* op 99 */
    static const unsigned char bad_op[] = { 0x98, 0x63, 0x00, 0xc4, 0x01, '/', 0xc4,
                                            0x00, 0xc4, 0x00, 0x00, 0x00, 0x00 };
    /* flags 16 */
    static const unsigned char bad_flags[] = { 0x98, 0x01, 0x10, 0xc4, 0x01, '/', 0xc4,
                                               0x00, 0xc4, 0x00, 0x00, 0x00, 0x00 };
    /* key is an integer */
    static const unsigned char bad_key[] = { 0x98, 0x01, 0x00, 0x05, 0xc4, 0x00,
                                             0xc4, 0x00, 0x00, 0x00, 0x00 };
    /* prev_index negative */
    static const unsigned char bad_index[] = { 0x98, 0x01, 0x00, 0xc4, 0x01, '/', 0xc4,
                                               0x00, 0xc4, 0x00, 0xff, 0x00, 0x00 };
    /* a bin claiming 4 GiB */
    static const unsigned char huge[] = { 0x98, 0x01, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff };
    cr_assert_eq(store_cmd_decode(NULL, 0, &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(not_array, sizeof(not_array), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(short_array, sizeof(short_array), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(bad_op, sizeof(bad_op), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(bad_flags, sizeof(bad_flags), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(bad_key, sizeof(bad_key), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(bad_index, sizeof(bad_index), &d), -EINVAL);
    cr_assert_eq(store_cmd_decode(huge, sizeof(huge), &d), -EINVAL);
}

Test(store_cmd, random_garbage_never_crashes)
{
    uint64_t x = 88172645463325252ULL;
    unsigned char buf[64];
    struct store_cmd c = sample(), d;
    struct et_buf enc = ET_BUF_INIT;
    store_cmd_encode(&c, &enc);
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + (size_t)(x % sizeof(buf));
        for (size_t j = 0; j < len; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[j] = (unsigned char)x;
        }
        int rc = store_cmd_decode(buf, len, &d);
        cr_assert(rc == 0 || rc == -EINVAL);
        /* flip one byte of a valid encoding too */
        struct et_buf m = ET_BUF_INIT;
        et_buf_append(&m, enc.data, enc.len);
        m.data[x % m.len] ^= (char)(1u << (x >> 60 & 7));
        if (store_cmd_decode(m.data, m.len, &d) == 0) {
            cr_assert(d.key_len <= m.len);
            cr_assert(d.value_len <= m.len);
        }
        et_buf_free(&m);
    }
    et_buf_free(&enc);
}
