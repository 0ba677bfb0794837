/*
 * tests/fuzz/fuzz_store_snapshot.c - fuzzes store_snapshot_load(), which rebuilds the key space
 * from the bytes of a snapshot file (a damaged data directory must not crash or corrupt it).
 *
 * Every input is first loaded as a snapshot into a store holding a little state:
 *   - refused: the result is -EINVAL and the store is as before (saves the same bytes);
 *   - accepted: its re-encoding loads into a fresh store that encodes to the same bytes, and both
 *     stores answer a recursive get and go on identically (a sweep far in the future, a write).
 * An input that does not start like a snapshot (0x98, an array of 8) is also read as a list of
 * 4-byte operations applied to a store with a small history; its snapshot must load into a
 * fresh store that encodes to the same bytes and behaves the same.
 *
 * The stores live across runs and are emptied by loading an empty store's snapshot (state that a
 * load left behind would show as a difference between a store and its reloaded copy). Each run
 * ends with an RCU barrier, so the versions it replaced are freed within the run: libFuzzer
 * runs a full leak scan after any run that freed less than it allocated.
 *
 * With FUZZ_STORE_SNAPSHOT_GEN=<file> in the environment, the snapshot made from an ops input is
 * also written to <file> (how the seed corpus's valid snapshots were made: replay one input).
 */
#include <errno.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "core/buf.h"
#include "core/clock.h"
#include "store/store.h"
#include "tests/fuzz/fuzz.h"

#define T_EPOCH_NS (1700000000LL * ET_NS_PER_SEC)

static const char *const names[] = {
    "a",
    "b",
    "_h",
    "dir-with-a-long-name",
    "dir-with-a-long-namf",
    "\x01\x7f",
    "zz",
    "00000000000000000001",
};

#define HISTORY_MAX_OPS 16 /* ops inputs use a history of 1..16 events, so it wraps */

/* [0]: stores under test, [1]: their reloaded copies; index: history_max (0: the default). */
static struct store *stores[2][HISTORY_MAX_OPS + 1];
static struct et_buf empty_snap = ET_BUF_INIT;

/* An empty store with @history_max (0: the default) for @role; valid until the next call. */
static struct store *empty_store(int role, size_t history_max)
{
    struct store **s = &stores[role][history_max];
    if (*s == NULL) {
        struct store_config cfg = { .history_max = history_max };
        *s = store_new(&cfg);
        if (empty_snap.len == 0)
            store_snapshot_save(*s, &empty_snap);
    } else {
        FUZZ_CHECK(store_snapshot_load(*s, empty_snap.data, empty_snap.len) == 0);
    }
    return *s;
}

static void apply(struct store *s, const struct store_cmd *c, struct et_buf *log)
{
    struct store_result r;
    store_apply(s, c, &r);
    store_publish(s);
    if (log) {
        et_buf_printf(log, "err=%d index=%llu\n", r.err, (unsigned long long)r.index);
        for (size_t i = 0; i < r.event_count; i++)
            et_buf_append(log, r.events[i]->json, r.events[i]->json_len);
    }
    store_result_free(&r);
}

/* A key of 1 to 3 components picked by @b. */
static size_t make_key(char *out, uint8_t b)
{
    unsigned idx[3] = { (b >> 2) & 7u, (b >> 5) & 7u, ((b >> 2) ^ (b >> 4)) & 7u };
    size_t depth = 1 + (b & 3u) % 3, len = 0;
    for (size_t i = 0; i < depth; i++) {
        out[len++] = '/';
        size_t n = strlen(names[idx[i]]);
        memcpy(out + len, names[idx[i]], n);
        len += n;
    }
    out[len] = '\0';
    return len;
}

static void apply_op(struct store *s, const uint8_t *op, int64_t *now)
{
    static const char *const values[] = { "", "v", "value \"quoted\"\n", "\x01\x7f\xff" };
    char key[128];
    struct store_cmd c = { .key = key, .now_ns = *now };
    c.key_len = make_key(key, op[1]);
    c.value = values[op[2] & 3];
    c.value_len = strlen(c.value);
    if (op[3] & 0x80)
        c.expire_ns = *now + (int64_t)(op[3] & 0x7f) * 100 * ET_NS_PER_MSEC;
    switch (op[0] % 10) {
    case 0:
        c.op = STORE_OP_SET;
        break;
    case 1:
        c.op = STORE_OP_SET;
        c.dir = true;
        c.value_len = 0;
        break;
    case 2:
        c.op = STORE_OP_CREATE;
        c.dir = op[2] & 4;
        c.value_len = c.dir ? 0 : c.value_len;
        break;
    case 3:
        c.op = STORE_OP_UPDATE;
        break;
    case 4:
    case 6:
        c.op = op[0] % 10 == 4 ? STORE_OP_CAS : STORE_OP_CAD;
        c.has_prev_value = op[2] & 8;
        c.prev_value = values[1 + (op[2] >> 4) % 3];
        c.prev_value_len = strlen(c.prev_value);
        c.prev_index = op[3] & 0x0f;
        if (!c.has_prev_value && c.prev_index == 0)
            c.prev_index = 1;
        break;
    case 5:
        c.op = STORE_OP_DELETE;
        c.dir = op[2] & 4;
        c.recursive = op[2] & 8;
        break;
    case 7:
        c.op = STORE_OP_CREATE_INORDER;
        break;
    case 8:
        *now += (int64_t)op[3] * 50 * ET_NS_PER_MSEC;
        c = (struct store_cmd){ .op = STORE_OP_EXPIRE, .key = "", .value = "", .now_ns = *now };
        break;
    default:
        c.op = op[2] & 1 ? STORE_OP_UPDATE : STORE_OP_SET;
        c.refresh = true;
        c.value_len = 0;
        c.expire_ns = *now + (int64_t)(1 + (op[3] & 0x7f)) * 100 * ET_NS_PER_MSEC;
        break;
    }
    apply(s, &c, NULL);
}

static void save(struct store *s, struct et_buf *out)
{
    et_buf_reset(out);
    store_snapshot_save(s, out);
}

/* Everything a client sees now and after the same writes, into @out. */
static void behave(struct store *s, int64_t now, struct et_buf *out)
{
    struct et_buf cause = ET_BUF_INIT;
    uint64_t index;
    int rc = store_get(s, "/", 1, true, true, now, out, &index, &cause);
    et_buf_printf(out, "rc=%d index=%llu next=%lld\n", rc, (unsigned long long)index,
                  (long long)store_next_expiry(s));
    et_buf_free(&cause);
    struct store_cmd sweep = { .op = STORE_OP_EXPIRE, .key = "", .value = "" };
    sweep.now_ns = now + 3600 * ET_NS_PER_SEC;
    apply(s, &sweep, out);
    struct store_cmd set = { .op = STORE_OP_SET, .key = "/a/b", .key_len = 4, .value = "w" };
    set.value_len = 1;
    set.now_ns = sweep.now_ns;
    apply(s, &set, out);
}

/* A fresh store loaded from @snap must encode back to @snap and behave like @orig. */
static void check_reload(struct store *orig, size_t history_max, const struct et_buf *snap,
                         int64_t now)
{
    struct store *copy = empty_store(1, history_max);
    struct et_buf again = ET_BUF_INIT, a = ET_BUF_INIT, b = ET_BUF_INIT;
    FUZZ_CHECK(store_snapshot_load(copy, snap->data, snap->len) == 0);
    save(copy, &again);
    FUZZ_CHECK(again.len == snap->len && memcmp(again.data, snap->data, snap->len) == 0);
    behave(orig, now, &a);
    behave(copy, now, &b);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    save(orig, &a);
    save(copy, &b);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    et_buf_free(&again);
    et_buf_free(&a);
    et_buf_free(&b);
}

static void fuzz_load(const uint8_t *data, size_t size)
{
    struct store *s = empty_store(0, 0);
    struct et_buf before = ET_BUF_INIT, after = ET_BUF_INIT;
    int64_t now = T_EPOCH_NS;
    static const uint8_t setup[][4] = { { 0, 0x01, 1, 0x85 }, { 1, 0x06, 0, 0 } };
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
        apply_op(s, setup[i], &now);
    save(s, &before);
    int rc = store_snapshot_load(s, data, size);
    if (rc != 0) {
        FUZZ_CHECK(rc == -EINVAL);
        save(s, &after);
        FUZZ_CHECK(after.len == before.len && memcmp(after.data, before.data, after.len) == 0);
    } else {
        save(s, &after);
        check_reload(s, 0, &after, now);
    }
    et_buf_free(&before);
    et_buf_free(&after);
}

static void fuzz_ops(const uint8_t *data, size_t size, struct et_buf *snap)
{
    size_t history_max = 1 + data[0] % HISTORY_MAX_OPS;
    struct store *s = empty_store(0, history_max);
    int64_t now = T_EPOCH_NS;
    for (size_t off = 1; off + 4 <= size && off < 1 + 4 * 256; off += 4)
        apply_op(s, data + off, &now);
    save(s, snap);
    check_reload(s, history_max, snap, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool registered;
    if (!registered) {
        store_reader_register();
        registered = true;
    }
    fuzz_load(data, size);
    if (size > 0 && data[0] != 0x98) {
        struct et_buf snap = ET_BUF_INIT;
        fuzz_ops(data, size, &snap);
        const char *gen = getenv("FUZZ_STORE_SNAPSHOT_GEN");
        if (gen != NULL) {
            FILE *f = fopen(gen, "wb");
            FUZZ_CHECK(f != NULL && fwrite(snap.data, 1, snap.len, f) == snap.len);
            fclose(f);
        }
        et_buf_free(&snap);
    }
    store_reader_offline(); /* rcu_barrier() waits for a grace period, so not online */
    rcu_barrier();
    store_reader_online();
    return 0;
}
