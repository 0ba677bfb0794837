/* tests/core/test_json.c - JSON string escaping matches Go's encoding/json byte for byte. */
#include <criterion/criterion.h>

#include "core/json.h"

static char *t_json(const char *s, size_t len)
{
    static struct et_buf b;
    et_buf_reset(&b);
    et_json_string(&b, s, len);
    return b.data;
}

Test(core_json, escapes_as_etcd_does)
{
    const char in[] = "<a>&\"q\"\\ tab\tnl\n \xc3\xa9";
    cr_assert_str_eq(t_json(in, sizeof(in) - 1),
                     "\"\\u003ca\\u003e\\u0026\\\"q\\\"\\\\ tab\\tnl\\n \xc3\xa9\"");
}

Test(core_json, control_bytes_use_lowercase_unicode_escapes)
{
    cr_assert_str_eq(t_json("\x08\x0c\x1f", 3), "\"\\u0008\\u000c\\u001f\"");
    cr_assert_str_eq(t_json("a\0b", 3), "\"a\\u0000b\"");
}

Test(core_json, invalid_utf8_bytes_become_replacement_chars)
{
    cr_assert_str_eq(t_json("\xff\xfe", 2), "\"\\ufffd\\ufffd\"");
    cr_assert_str_eq(t_json("\xe2\x9c", 2), "\"\\ufffd\\ufffd\"");
    cr_assert_str_eq(t_json("\xe2\x9c\x93", 3), "\"\xe2\x9c\x93\"");
}

Test(core_json, line_separators_are_escaped_and_slash_and_del_are_raw)
{
    cr_assert_str_eq(t_json("\xe2\x80\xa8\xe2\x80\xa9", 6), "\"\\u2028\\u2029\"");
    cr_assert_str_eq(t_json("/\x7f", 2), "\"/\x7f\"");
}
