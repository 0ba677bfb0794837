/*
 * tests/fuzz/fuzz_wal.c - fuzzes what the raft shell reads back from its data directory: WAL
 * segments (raft_wal_open) and snapshot files (raft_snap_load). Each run works in a fresh
 * temporary directory (under /dev/shm when there is one, so syncs cost nothing), removed after.
 * data[0] & 3 picks the mode:
 *   0: the rest of the input is the only segment;
 *   1: it is cut in two segments at data[1..2] (the first is not the last, so a bad record in it
 *      is corruption, never a torn tail);
 *   2: records chosen by the input are written by the WAL itself (4 KiB segments, so it
 *      rotates), then one region of one segment is damaged: zeroed, truncated, one byte flipped,
 *      or overwritten with pseudo-random bytes (entry data is pseudo-random too, so damage
 *      cannot forge a valid record);
 *   3: the rest of the input is a snapshot file, beside an older valid one.
 * Properties (raft/wal.h, raft/snap.h):
 *   - open returns 0 or -EBADMSG; after -EBADMSG the files are unchanged (nothing was cut);
 *   - every record returned is a crc-valid frame of the input, in file order, with its data;
 *   - after a successful open, the last segment holds zeros past the write offset, a second
 *     open returns the same records, and an appended entry is read back after them;
 *   - a segment head (the first frame of a segment, RAFT_WAL_SEGMENT_HEAD) is never replayed,
 *     and after a successful open the records of the segment before it end exactly at the
 *     length it records;
 *   - mode 2: the records before the first damaged byte come back intact; damage to a segment
 *     that is not the last is -EBADMSG, even a truncation or zeroing at a record boundary (the
 *     next segment's head says where it was closed); a damaged record of the last segment
 *     followed by an intact one is -EBADMSG, and a damaged last batch is cut where it starts.
 *   - snapshot files: the newest whose header and crc32c verify is loaded, byte for byte.
 * With FUZZ_WAL_GEN=<prefix> in the environment, a mode 2 input also writes its undamaged WAL's
 * last segment as a mode 0 input to <prefix>.wal and a snapshot file as a mode 3 input to
 * <prefix>.snap (how the seed corpus's valid files were made: replay one input).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "core/mpcheck.h"
#include "raft/snap.h"
#include "raft/wal.h"
#include "tests/fuzz/fuzz.h"

#define SEG_BYTES 4096u
#define REC_HDR   8u
#define SEGS_MAX  64

static const struct raft_wal_options wal_opt = { .segment_bytes = SEG_BYTES };

/* ---- files -------------------------------------------------------------------------------- */

static char dir[256];

static void dir_make(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/et-fuzz-wal-XXXXXX", base);
    FUZZ_CHECK(mkdtemp(dir) != NULL);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void dir_remove(void)
{
    FUZZ_CHECK(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void file_write(const char *name, const void *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(len == 0 || write(fd, p, len) == (ssize_t)len);
    close(fd);
}

/* One segment file's bytes (new, et_free), by name. */
struct seg {
    char name[64];
    unsigned char *p;
    size_t len;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct seg *)a)->name, ((const struct seg *)b)->name);
}

/* Reads every *.wal file of the directory, sorted by name. Returns the count. */
static size_t segs_read(struct seg *segs)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    FUZZ_CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".wal") != 0)
            continue;
        FUZZ_CHECK(n < SEGS_MAX && l < sizeof(segs[n].name));
        memcpy(segs[n].name, de->d_name, l + 1);
        n++;
    }
    closedir(d);
    qsort(segs, n, sizeof(*segs), cmp_name);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, segs[i].name);
        int fd = open(path, O_RDONLY);
        FUZZ_CHECK(fd >= 0 && fstat(fd, &st) == 0);
        segs[i].len = (size_t)st.st_size;
        segs[i].p = et_alloc(segs[i].len + 1);
        FUZZ_CHECK(pread(fd, segs[i].p, segs[i].len, 0) == (ssize_t)segs[i].len);
        close(fd);
    }
    return n;
}

static void segs_free(struct seg *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        et_free(segs[i].p);
}

static bool segs_equal(const struct seg *a, size_t na, const struct seg *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || a[i].len != b[i].len ||
            memcmp(a[i].p, b[i].p, a[i].len) != 0)
            return false;
    return true;
}

/* ---- records ------------------------------------------------------------------------------ */

struct recs {
    struct raft_wal_record *v;
    void **bytes;
    size_t n, cap;
};

static int collect(void *data, const struct raft_wal_record *r)
{
    struct recs *rs = data;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 64;
        rs->v = et_realloc(rs->v, rs->cap * sizeof(*rs->v));
        rs->bytes = et_realloc(rs->bytes, rs->cap * sizeof(*rs->bytes));
    }
    rs->v[rs->n] = *r;
    rs->bytes[rs->n] = NULL;
    if (r->type == RAFT_WAL_ENTRY) {
        FUZZ_CHECK(r->entry.len == 0 || r->entry.data != NULL);
        rs->bytes[rs->n] = et_memdup(r->entry.data, r->entry.len ? r->entry.len : 1);
        rs->v[rs->n].entry.data = rs->bytes[rs->n];
    }
    rs->n++;
    return 0;
}

static void recs_free(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        et_free(rs->bytes[i]);
    et_free(rs->v);
    et_free(rs->bytes);
    memset(rs, 0, sizeof(*rs));
}

static bool rec_equal(const struct raft_wal_record *a, const struct raft_wal_record *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case RAFT_WAL_ENTRY:
        return a->entry.index == b->entry.index && a->entry.term == b->entry.term &&
               a->entry.type == b->entry.type && a->entry.origin_id == b->entry.origin_id &&
               a->entry.origin_seq == b->entry.origin_seq && a->entry.len == b->entry.len &&
               memcmp(a->entry.data, b->entry.data, a->entry.len) == 0;
    case RAFT_WAL_HARD_STATE:
        return a->hs.term == b->hs.term && a->hs.vote == b->hs.vote && a->hs.commit == b->hs.commit;
    case RAFT_WAL_SNAPSHOT:
        return a->snap.index == b->snap.index && a->snap.term == b->snap.term &&
               a->snap.reset == b->snap.reset;

    case RAFT_WAL_SEGMENT_HEAD:
        return false; /* never replayed */
    }
    return false;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The crc-valid frame at @pos of @s, or 0. */
static size_t frame_at(const struct seg *s, size_t pos)
{
    if (s->len - pos < REC_HDR)
        return 0;
    uint32_t len = le32(s->p + pos);
    if (len == 0 || len > s->len - pos - REC_HDR ||
        et_crc32c(0, s->p + pos + REC_HDR, len) != le32(s->p + pos + 4))
        return 0;
    return REC_HDR + len;
}

static bool all_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Whether the frame of @n bytes at @pos of @s is a well-formed segment head (as wal.c decodes). */
static bool head_at(const struct seg *s, size_t pos, size_t n, uint64_t *prev_end)
{
    const unsigned char *p = s->p + pos + REC_HDR;
    size_t len = n - REC_HDR, used = 0;
    msgpack_unpacked u;
    bool ok = false;
    if (!et_msgpack_check(p, len))
        return false;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *)p, len, &used) == MSGPACK_UNPACK_SUCCESS &&
        used == len && u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 3) {
        const msgpack_object *a = u.data.via.array.ptr;
        ok = a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
             a[0].via.u64 == RAFT_WAL_SEGMENT_HEAD &&
             a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
             a[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        *prev_end = a[2].via.u64;
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

/*
 * Where the records of segment @si start: past its head, if it has one, whose recorded length
 * must be where the records of the segment before end (@prev_end) when that one is there.
 */
static size_t seg_enter(const struct seg *segs, size_t si, size_t prev_end)
{
    size_t n = frame_at(&segs[si], 0);
    uint64_t closed_at;
    if (n == 0 || !head_at(&segs[si], 0, n, &closed_at))
        return 0;
    FUZZ_CHECK(si == 0 || closed_at == prev_end);
    return n;
}

/*
 * Checks that @rs are crc-valid frames of @segs in file order (a segment is left only where
 * nothing but zeros follows) and that an entry's data is its frame's last bytes (the msgpack
 * bin is the payload's last element). Returns the write offset the last segment must have.
 */
static size_t check_frames(const struct seg *segs, size_t nsegs, const struct recs *rs)
{
    size_t si = 0, pos = seg_enter(segs, 0, 0);
    for (size_t i = 0; i < rs->n; i++) {
        size_t n;
        while ((n = frame_at(&segs[si], pos)) == 0) {
            FUZZ_CHECK(all_zero(segs[si].p + pos, segs[si].len - pos));
            FUZZ_CHECK(++si < nsegs);
            pos = seg_enter(segs, si, pos);
        }
        if (rs->v[i].type == RAFT_WAL_ENTRY) {
            size_t len = rs->v[i].entry.len;
            FUZZ_CHECK(len <= n - REC_HDR);
            FUZZ_CHECK(memcmp(segs[si].p + pos + n - len, rs->v[i].entry.data, len) == 0);
        }
        pos += n;
    }
    for (; si + 1 < nsegs; si++) { /* what follows must read as clean ends */
        FUZZ_CHECK(all_zero(segs[si].p + pos, segs[si].len - pos));
        pos = seg_enter(segs, si + 1, pos);
    }
    return pos;
}

/* ---- opening ------------------------------------------------------------------------------ */

static void append_one(struct raft_wal *w)
{
    static const unsigned char data[5] = { 'a', 'f', 't', 'e', 'r' };
    struct raft_wal_entry e = { .index = 1, .term = 1, .origin_id = 9, .data = data, .len = 5 };
    raft_wal_append_entry(w, &e);
    FUZZ_CHECK(raft_wal_sync(w) == 0);
}

/*
 * Opens the WAL in dir and checks the general properties. Returns the open's result; on 0,
 * @rs holds the records (the caller frees them).
 */
static int open_and_check(struct recs *rs)
{
    struct seg before[SEGS_MAX], after[SEGS_MAX];
    size_t nb = segs_read(before), na;
    struct raft_wal *w;
    int ret = raft_wal_open(dir, &wal_opt, collect, rs, &w);
    na = segs_read(after);
    if (ret != 0) {
        FUZZ_CHECK(ret == -EBADMSG);
        FUZZ_CHECK(segs_equal(before, nb, after, na));
        recs_free(rs);
        goto out;
    }
    if (nb == 0) {
        FUZZ_CHECK(rs->n == 0 && na == 1);
    } else {
        FUZZ_CHECK(na == nb);
        size_t off = check_frames(before, nb, rs);
        FUZZ_CHECK(raft_wal_write_offset(w) == off);
        const struct seg *last = &after[na - 1];
        FUZZ_CHECK(last->len >= before[nb - 1].len && last->len >= off);
        FUZZ_CHECK(memcmp(last->p, before[nb - 1].p, off) == 0);
        FUZZ_CHECK(all_zero(last->p + off, last->len - off));
        FUZZ_CHECK(segs_equal(before, nb - 1, after, na - 1));
    }
    raft_wal_close(w);
    /* Recovery is idempotent, and the WAL takes writes after it. */
    struct recs again = { 0 };
    FUZZ_CHECK(raft_wal_open(dir, &wal_opt, collect, &again, &w) == 0);
    FUZZ_CHECK(again.n == rs->n);
    for (size_t i = 0; i < rs->n; i++)
        FUZZ_CHECK(rec_equal(&again.v[i], &rs->v[i]));
    append_one(w);
    raft_wal_close(w);
    recs_free(&again);
    FUZZ_CHECK(raft_wal_open(dir, &wal_opt, collect, &again, &w) == 0);
    raft_wal_close(w);
    /* After the same records, maybe a new segment's hard state and snapshot marker (wal.h). */
    FUZZ_CHECK(again.n == rs->n + 1 || again.n == rs->n + 3);
    for (size_t i = 0; i < rs->n; i++)
        FUZZ_CHECK(rec_equal(&again.v[i], &rs->v[i]));
    const struct raft_wal_record *e = &again.v[again.n - 1];
    FUZZ_CHECK(e->type == RAFT_WAL_ENTRY && e->entry.origin_id == 9);
    recs_free(&again);
out:
    segs_free(before, nb);
    segs_free(after, na);
    return ret;
}

static void fuzz_segments(const uint8_t *data, size_t size, bool two)
{
    static const char *const names[2] = { "0000000000000000-0000000000000001.wal",
                                          "0000000000000001-0000000000000001.wal" };
    struct recs rs = { 0 };
    if (two) {
        size_t cut = size >= 2 ? (size_t)(data[0] | data[1] << 8) : 0;
        data += size >= 2 ? 2 : size;
        size -= size >= 2 ? 2 : size;
        cut = size ? cut % (size + 1) : 0;
        file_write(names[0], data, cut);
        file_write(names[1], data + cut, size - cut);
    } else {
        file_write(names[0], data, size);
    }
    if (open_and_check(&rs) == 0)
        recs_free(&rs);
}

/* ---- mode 2: written by the WAL, then damaged -------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void fill_random(unsigned char *p, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(mix(seed + i / 8) >> (8 * (i % 8)));
}

/* Writes the records the input describes (pairs of bytes), entry data from @seed. */
static void write_wal(const uint8_t *d, size_t n, uint64_t seed)
{
    struct raft_wal *w;
    unsigned char buf[320];
    raft_index last = 0;
    raft_term term = 1;
    FUZZ_CHECK(raft_wal_open(dir, &wal_opt, NULL, NULL, &w) == 0);
    for (size_t i = 0; i + 2 <= n && i < 128; i += 2) {
        uint8_t kind = d[i] & 3, arg = d[i + 1];
        if (kind == 0) {
            raft_index index = (arg & 0xc0) == 0xc0 && last > 0 ? last : last + 1;
            struct raft_wal_entry e = { .index = index,
                                        .term = term,
                                        .type = arg & 1,
                                        .origin_id = 1 + (arg & 3u),
                                        .origin_seq = index,
                                        .data = buf,
                                        .len = (arg & 0x3fu) * 5 };
            fill_random(buf, e.len, seed ^ index << 8 ^ term << 32);
            raft_wal_append_entry(w, &e);
            last = index;
        } else if (kind == 1) {
            term += arg & 1;
            struct raft_hard_state hs = { .term = term, .vote = arg >> 1 & 3u, .commit = last };
            raft_wal_append_hard_state(w, &hs);
        } else if (kind == 2) {
            raft_wal_append_snapshot(w, last, term, arg & 1);
        } else {
            FUZZ_CHECK(raft_wal_sync(w) == 0);
        }
    }
    FUZZ_CHECK(raft_wal_sync(w) == 0);
    raft_wal_close(w);
}

/* Where each record of the intact WAL lies. */
struct frame {
    size_t seg, start, end;
    bool head; /* a segment head: not replayed */
};

static void damage(const struct seg *s, const uint8_t *h, uint64_t seed)
{
    char path[512];
    size_t used = s->len;
    while (used > 0 && s->p[used - 1] == 0)
        used--;
    used = used + 16 < s->len ? used + 16 : s->len; /* mostly hit records, sometimes zeros */
    size_t k = (size_t)(h[0] | h[1] << 8) % used, len = 1 + h[2];
    snprintf(path, sizeof(path), "%s/%s", dir, s->name);
    int fd = open(path, O_RDWR);
    FUZZ_CHECK(fd >= 0);
    unsigned char buf[256];
    if (k + len > s->len)
        len = s->len - k;
    switch (h[3] & 3) {
    case 0:
        memset(buf, 0, len);
        break;
    case 1:
        FUZZ_CHECK(ftruncate(fd, (off_t)k) == 0);
        len = 0;
        break;
    case 2:
        buf[0] = s->p[k] ^ (h[2] ? h[2] : 0x5a);
        len = 1;
        break;
    default:
        fill_random(buf, len, ~seed);
        break;
    }
    FUZZ_CHECK(len == 0 || pwrite(fd, buf, len, (off_t)k) == (ssize_t)len);
    close(fd);
}

static bool frame_intact(const struct frame *f, const struct seg *was, const struct seg *now,
                         size_t nnow)
{
    if (f->seg >= nnow || now[f->seg].len < f->end)
        return false;
    return memcmp(was[f->seg].p + f->start, now[f->seg].p + f->start, f->end - f->start) == 0;
}

static void fuzz_written(const uint8_t *data, size_t size)
{
    if (size < 6)
        return;
    uint64_t seed = mix(data[0]);
    write_wal(data + 6, size - 6, seed);
    struct seg was[SEGS_MAX], now[SEGS_MAX];
    size_t nw = segs_read(was), nn;
    struct recs want = { 0 }, got = { 0 };
    FUZZ_CHECK(open_and_check(&want) == 0); /* also appends one entry: read again */
    recs_free(&want);
    segs_free(was, nw);
    nw = segs_read(was);
    struct raft_wal *w;
    FUZZ_CHECK(raft_wal_open(dir, &wal_opt, collect, &want, &w) == 0);
    size_t end = raft_wal_write_offset(w);
    raft_wal_close(w);
    segs_free(was, nw);
    nw = segs_read(was);

    const char *gen = getenv("FUZZ_WAL_GEN");
    if (gen != NULL) {
        char path[512];
        snprintf(path, sizeof(path), "%s.wal", gen);
        FILE *f = fopen(path, "wb");
        FUZZ_CHECK(f != NULL);
        fputc(0, f);
        fwrite(was[nw - 1].p, 1, end + 64 < was[nw - 1].len ? end + 64 : was[nw - 1].len, f);
        fclose(f);
    }

    /* The frames of the intact WAL: one per record, and the segments' heads. */
    struct frame *fr = et_alloc_array(want.n + nw + 1, sizeof(*fr));
    size_t nf = 0, nrec = 0;
    for (size_t si = 0; si < nw; si++) {
        size_t pos = 0, n;
        uint64_t closed_at;
        while ((n = frame_at(&was[si], pos)) != 0) {
            bool head = head_at(&was[si], pos, n, &closed_at);
            FUZZ_CHECK(nf < want.n + nw && head == (pos == 0 && si > 0));
            fr[nf++] = (struct frame){ si, pos, pos + n, head };
            nrec += !head;
            pos += n;
        }
    }
    FUZZ_CHECK(nrec == want.n);

    size_t ds = data[5] % nw;
    if (was[ds].len > 0)
        damage(&was[ds], data + 1, seed);
    nn = segs_read(now);
    size_t j = 0, jr = 0; /* the first damaged frame; the records before it */
    while (j < nf && frame_intact(&fr[j], was, now, nn))
        jr += !fr[j++].head;
    bool intact_after = false;
    for (size_t i = j + 1; i < nf; i++)
        intact_after |= frame_intact(&fr[i], was, now, nn);
    segs_free(now, nn);

    int ret = open_and_check(&got);
    if (j == nf) {
        FUZZ_CHECK(ret == 0 && got.n == want.n);
    } else if (fr[j].seg + 1 < nw || intact_after) {
        FUZZ_CHECK(ret == -EBADMSG); /* only the last segment may lose its tail */
    } else {
        FUZZ_CHECK(ret == 0 && got.n == jr); /* the torn tail is cut where it starts */
    }
    for (size_t i = 0; ret == 0 && i < jr && i < got.n; i++)
        FUZZ_CHECK(rec_equal(&got.v[i], &want.v[i]));
    FUZZ_CHECK(ret != 0 || got.n >= jr);
    recs_free(&got);
    recs_free(&want);
    segs_free(was, nw);
    et_free(fr);
}

/* ---- mode 3: snapshot files -------------------------------------------------------------- */

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Whether @p is a valid snapshot file at index 2, term 1 (raft/snap.h's format, read apart). */
static bool snap_valid(const unsigned char *p, size_t len)
{
    if (len < 48 || memcmp(p, "ETSNAP2", 8) != 0 || le64(p + 8) != 2 || le64(p + 16) != 1)
        return false;
    uint64_t meta = le64(p + 24), data = le64(p + 32), body = len - 48;
    if (meta > body || data != body - meta)
        return false;
    return et_crc32c(et_crc32c(0, p + 8, 32), p + 48, body) == le32(p + 40);
}

static void fuzz_snap(const uint8_t *data, size_t size)
{
    static const char meta_old[] = "m", data_old[] = "old";
    struct raft_snap s;
    FUZZ_CHECK(raft_snap_save(dir, 1, 1, meta_old, 1, data_old, 3) == 0);
    file_write("0000000000000002-0000000000000001.snap", data, size);
    FUZZ_CHECK(raft_snap_load(dir, &s) == 0);
    if (snap_valid(data, size)) {
        uint64_t meta = le64(data + 24);
        FUZZ_CHECK(s.index == 2 && s.term == 1 && s.meta_len == meta);
        FUZZ_CHECK(s.len == size - 48 - meta);
        FUZZ_CHECK(memcmp(s.meta, data + 48, meta) == 0);
        FUZZ_CHECK(memcmp(s.data, data + 48 + meta, s.len) == 0);
    } else {
        FUZZ_CHECK(s.index == 1 && s.term == 1 && s.meta_len == 1 && s.len == 3);
        FUZZ_CHECK(memcmp(s.meta, meta_old, 1) == 0 && memcmp(s.data, data_old, 3) == 0);
    }
    raft_snap_free(&s);
}

static void gen_snap(const uint8_t *data, size_t size)
{
    const char *gen = getenv("FUZZ_WAL_GEN");
    if (gen == NULL || size < 6)
        return;
    char sub[300], path[512];
    snprintf(sub, sizeof(sub), "%s/gen", dir);
    FUZZ_CHECK(raft_snap_save(sub, 2, 1, data + 1, size > 16 ? 8 : 1, data + 6, size - 6) == 0);
    struct seg s = { .name = "0000000000000002-0000000000000001.snap" };
    snprintf(path, sizeof(path), "%s/%s", sub, s.name);
    FILE *in = fopen(path, "rb"), *out;
    snprintf(path, sizeof(path), "%s.snap", gen);
    out = fopen(path, "wb");
    FUZZ_CHECK(in != NULL && out != NULL);
    fputc(3, out);
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(c, out);
    fclose(in);
    fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* Above every level: each torn tail and damaged file would be logged. */
    et_log_set_level((enum et_log_level)(ET_LOG_ERROR + 1));
    dir_make();
    switch (data[0] & 3) {
    case 0:
        fuzz_segments(data + 1, size - 1, false);
        break;
    case 1:
        fuzz_segments(data + 1, size - 1, true);
        break;
    case 2:
        fuzz_written(data + 1, size - 1);
        gen_snap(data, size);
        break;
    default:
        fuzz_snap(data + 1, size - 1);
        break;
    }
    dir_remove();
    return 0;
}
