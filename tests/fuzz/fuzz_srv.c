/*
 * tests/fuzz/fuzz_srv.c - fuzzes et_srv_parse(), the hand-walked DNS answer behind
 * --discovery-srv: whatever the bytes, it returns 0 or -1, and every record it keeps has a host
 * name of DNS length without a trailing dot, so a record can be turned into a URL.
 */
#include <arpa/nameser.h>
#include <string.h>

#include "core/srv.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct et_srv_records r = { 0 };
    int ret = et_srv_parse(data, size, &r);
    FUZZ_CHECK(ret == 0 || ret == -1);
    FUZZ_CHECK(size >= NS_HFIXEDSZ || (ret == -1 && r.count == 0));
    /* every SRV record takes an owner name (1 byte or more), 10 fixed bytes and 7 of data */
    FUZZ_CHECK(r.count <= size / 17);
    for (size_t i = 0; i < r.count; i++) {
        size_t len = strlen(r.v[i].target);
        FUZZ_CHECK(len < NS_MAXDNAME);
        FUZZ_CHECK(len == 0 || r.v[i].target[len - 1] != '.');
    }
    et_srv_records_free(&r);
    FUZZ_CHECK(r.v == NULL && r.count == 0);
    return 0;
}
