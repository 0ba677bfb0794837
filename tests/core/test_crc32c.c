/* tests/core/test_crc32c.c - CRC-32C matches the standard check value. */
#include <criterion/criterion.h>

#include "core/crc32c.h"

Test(core_crc32c, standard_check_value)
{
    cr_assert_eq(et_crc32c(0, "123456789", 9), 0xe3069283u);
}

Test(core_crc32c, incremental_equals_one_shot)
{
    uint32_t a = et_crc32c(0, "hello, world", 12);
    uint32_t b = et_crc32c(et_crc32c(0, "hello, ", 7), "world", 5);
    cr_assert_eq(a, b);
}
