/*
 * raft/wal.c - the write-ahead log (format and recovery rules in raft/wal.h).
 *
 * Group commit: the node encodes a whole batch of records into one buffer; raft_wal_sync() writes
 * it with one write and one fdatasync. Two ways to do that are built in, chosen per WAL:
 *   - plain pwrite(2) + fdatasync(2) from the node's thread (the default), and
 *   - io_uring: IORING_OP_WRITE linked (IOSQE_IO_LINK) to IORING_OP_FSYNC with
 *     IORING_FSYNC_DATASYNC, one submit-and-wait per batch.
 * Measured with etcetera-walbench on this machine (ext4 on virtio, kernel 6.18, liburing 2.3,
 * 256-byte entries, zero-filled 64 MiB segments; the disk and the 2 cores are shared with other
 * work, load average 10-13, so single runs swing by 2x and more):
 *     raft_wal_sync()/s              pwrite+fdatasync   io_uring (write linked to DATASYNC fsync)
 *     quieter, single 2 s runs
 *       batch of 1 entry             2632 .. 4711         653 .. 734
 *       batch of 64 entries          1412 .. 2059         731 .. 1629
 *     loaded, medians of 5 alternating 1 s rounds
 *       batch of 1 entry             1361 .. 2484        1723 .. 2212
 *       batch of 64 entries          1230 .. 1528        1387 .. 1608
 * io_uring never won clearly: its fsync is punted to an io-wq kernel worker (a thread hand-off
 * per batch), and the node's thread has nothing else to do while it waits. So the default is
 * pwrite+fdatasync, the simpler path; io_uring stays selectable (raft_wal_options.use_uring,
 * raft_node_config.wal_use_uring) for machines where it measures better. The batching is what
 * matters: group commit gives 8-12x the appends/s of fsync-per-write at 64 proposers.
 *
 * Recovery state machine (scan_segment):
 *   read header ──ok──► check crc ──ok──► decode ──ok──► replay, next record
 *        │ zero/short       │ bad             │ bad
 *        └──────────────────┴─────────────────┴──► bad_record(): valid record later in the
 *              segment or a later segment? ──yes──► -EBADMSG (corruption, file + offset logged)
 *                                           ──no───► torn tail: zero from there, write there
 * A segment head (first record of a segment after the first) is checked, not replayed:
 *   check_head(): begins the segment it names, and the segment before ends where the head says
 *   it was closed? ──no──► -EBADMSG (that segment lost its last records)
 *
 * Invariants: (1) the bytes of a segment past w->off are zero; (2) every segment begins with the
 * last durable hard state and snapshot marker; (3) segments are numbered without gaps; (4) a
 * segment after the first begins with a head recording the byte length at which the one before
 * it was closed, written and synced before the segment is renamed into place (seg_create).
 *
 * Why (4): the other checks see a bad record, but a non-last segment cut or zeroed exactly at a
 * record boundary reads as a clean end. The writer knows where a segment ends when it closes it,
 * and nothing writes a closed segment again (only the last one's torn tail is ever cut), so the
 * length in its successor's head must equal where its records end. This holds whatever the
 * records are: log truncation (entries rewritten at lower indexes) and snapshot installs change
 * indexes, never bytes of a closed segment. The oldest segment left after raft_wal_release_to
 * has no predecessor to compare with; a segment whose successor has no head (older code) is
 * checked record by record only, and an older build refuses a head record as corruption.
 */
#include "raft/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>
#include <msgpack.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "core/mpcheck.h"
#include "raft/snap.h"

#define REC_HDR       8u
#define WAL_PREP_NAME "next.wal.tmp"

struct wal_seg {
    uint64_t seq;     /* file number, consecutive */
    raft_index first; /* index of the first entry written to it (name only) */
};

struct raft_wal {
    char *dir;
    int dir_fd;
    uint64_t seg_bytes;
    bool use_uring;
    struct io_uring ring;
    struct wal_seg *segs; /* oldest first; the last one is being written */
    size_t seg_count;
    size_t seg_cap;
    int fd;         /* the last segment */
    uint64_t off;   /* next write offset in it */
    uint64_t alloc; /* its allocated size */
    struct et_buf batch;
    raft_index last_index;         /* last entry appended */
    raft_index last_index_dur;     /* last entry made durable */
    raft_index batch_first;        /* first entry in the pending batch (0: none) */
    struct raft_hard_state hs;     /* last appended */
    struct raft_hard_state hs_dur; /* last made durable */
    raft_index snap_index, snap_index_dur;
    raft_term snap_term, snap_term_dur;
    bool failed; /* a write or sync failed: the WAL is unusable */
    /* the next segment, zero-filled in the background once the current one is half full */
    pthread_t prep_thread;
    bool prep_started;
    int prep_fd;  /* set by the thread; read after pthread_join */
    int prep_ret; /* likewise */
};

/* ---- encoding ---------------------------------------------------------------------------- */

static int buf_write(void *data, const char *p, size_t len)
{
    et_buf_append(data, p, len);
    return 0;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Appends one framed record to @b: the caller packs the payload between begin and end. */
static size_t rec_begin(struct et_buf *b, msgpack_packer *pk)
{
    size_t at = b->len;
    et_buf_reserve(b, REC_HDR);
    b->len += REC_HDR;
    msgpack_packer_init(pk, b, buf_write);
    return at;
}

static void rec_end(struct et_buf *b, size_t at)
{
    size_t len = b->len - at - REC_HDR;
    ET_ASSERT(len > 0);
    ET_ASSERT(len <= RAFT_WAL_RECORD_MAX);
    unsigned char *h = (unsigned char *)b->data + at;
    put_le32(h, (uint32_t)len);
    put_le32(h + 4, et_crc32c(0, h + REC_HDR, len));
}

static void encode_hs(struct et_buf *b, const struct raft_hard_state *hs)
{
    msgpack_packer pk;
    size_t at = rec_begin(b, &pk);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, RAFT_WAL_HARD_STATE);
    msgpack_pack_uint64(&pk, hs->term);
    msgpack_pack_uint64(&pk, hs->vote);
    msgpack_pack_uint64(&pk, hs->commit);
    rec_end(b, at);
}

static void encode_head(struct et_buf *b, uint64_t seq, uint64_t prev_end)
{
    msgpack_packer pk;
    size_t at = rec_begin(b, &pk);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint8(&pk, RAFT_WAL_SEGMENT_HEAD);
    msgpack_pack_uint64(&pk, seq);
    msgpack_pack_uint64(&pk, prev_end);
    rec_end(b, at);
}

static void encode_snap(struct et_buf *b, raft_index index, raft_term term, bool reset)
{
    msgpack_packer pk;
    size_t at = rec_begin(b, &pk);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, RAFT_WAL_SNAPSHOT);
    msgpack_pack_uint64(&pk, index);
    msgpack_pack_uint64(&pk, term);
    msgpack_pack_uint8(&pk, reset);
    rec_end(b, at);
}

void raft_wal_append_entry(struct raft_wal *w, const struct raft_wal_entry *e)
{
    msgpack_packer pk;
    ET_ASSERT(e->index > 0);
    ET_ASSERT(e->len == 0 || e->data != NULL);
    size_t at = rec_begin(&w->batch, &pk);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_uint8(&pk, RAFT_WAL_ENTRY);
    msgpack_pack_uint64(&pk, e->index);
    msgpack_pack_uint64(&pk, e->term);
    msgpack_pack_uint32(&pk, e->type);
    msgpack_pack_uint64(&pk, e->origin_id);
    msgpack_pack_uint64(&pk, e->origin_seq);
    msgpack_pack_bin(&pk, e->len);
    msgpack_pack_bin_body(&pk, e->data, e->len);
    rec_end(&w->batch, at);
    if (w->batch_first == 0)
        w->batch_first = e->index;
    w->last_index = e->index;
}

void raft_wal_append_hard_state(struct raft_wal *w, const struct raft_hard_state *hs)
{
    encode_hs(&w->batch, hs);
    w->hs = *hs;
}

void raft_wal_append_snapshot(struct raft_wal *w, raft_index index, raft_term term, bool reset)
{
    encode_snap(&w->batch, index, term, reset);
    w->snap_index = index;
    w->snap_term = term;
}

size_t raft_wal_pending_bytes(const struct raft_wal *w)
{
    return w->batch.len;
}

/* ---- decoding ---------------------------------------------------------------------------- */

static bool obj_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

/* Decodes one payload into @r. Returns false when it is not a well-formed record. */
static bool decode(msgpack_unpacked *u, const unsigned char *p, size_t len,
                   struct raft_wal_record *r)
{
    size_t used = 0;
    uint64_t t, v[6];
    /* A crc-valid payload is still checked: a few bytes may declare a container of gigabytes. */
    if (!et_msgpack_check(p, len) ||
        msgpack_unpack_next(u, (const char *)p, len, &used) != MSGPACK_UNPACK_SUCCESS ||
        used != len)
        return false;
    const msgpack_object *o = &u->data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return false;
    const msgpack_object *a = o->via.array.ptr;
    uint32_t n = o->via.array.size;
    if (!obj_u64(&a[0], &t))
        return false;
    memset(r, 0, sizeof(*r));
    switch (t) {
    case RAFT_WAL_ENTRY:
        if (n != 7 || a[6].type != MSGPACK_OBJECT_BIN)
            return false;
        for (int i = 0; i < 5; i++)
            if (!obj_u64(&a[1 + i], &v[i]))
                return false;
        if (v[0] == 0 || v[2] > UINT32_MAX)
            return false;
        r->type = RAFT_WAL_ENTRY;
        r->entry = (struct raft_wal_entry){ .index = v[0],
                                            .term = v[1],
                                            .type = (uint32_t)v[2],
                                            .origin_id = v[3],
                                            .origin_seq = v[4],
                                            .data = a[6].via.bin.ptr,
                                            .len = a[6].via.bin.size };
        return true;
    case RAFT_WAL_HARD_STATE:
        if (n != 4 || !obj_u64(&a[1], &v[0]) || !obj_u64(&a[2], &v[1]) || !obj_u64(&a[3], &v[2]))
            return false;
        r->type = RAFT_WAL_HARD_STATE;
        r->hs = (struct raft_hard_state){ .term = v[0], .vote = v[1], .commit = v[2] };
        return true;
    case RAFT_WAL_SNAPSHOT:
        if (n != 4 || !obj_u64(&a[1], &v[0]) || !obj_u64(&a[2], &v[1]) || !obj_u64(&a[3], &v[2]) ||
            v[2] > 1)
            return false;
        r->type = RAFT_WAL_SNAPSHOT;
        r->snap.index = v[0];
        r->snap.term = v[1];
        r->snap.reset = v[2] == 1;
        return true;
    case RAFT_WAL_SEGMENT_HEAD:
        if (n != 3 || !obj_u64(&a[1], &v[0]) || !obj_u64(&a[2], &v[1]))
            return false;
        r->type = RAFT_WAL_SEGMENT_HEAD;
        r->head.seq = v[0];
        r->head.prev_end = v[1];
        return true;
    default:
        return false;
    }
}

/*
 * Checks the record at @pos of @p[0..@size). Returns its total length (header included) and
 * fills @r, or 0 when no valid record starts there; @why says what failed.
 */
static size_t check_record(msgpack_unpacked *u, const unsigned char *p, size_t size, size_t pos,
                           struct raft_wal_record *r, const char **why)
{
    if (size - pos < REC_HDR) {
        *why = "truncated record header";
        return 0;
    }
    uint32_t len = get_le32(p + pos), crc = get_le32(p + pos + 4);
    if (len == 0) {
        *why = crc ? "zero record length" : "end of data (zeros)";
        return 0;
    }
    if (len > RAFT_WAL_RECORD_MAX || len > size - pos - REC_HDR) {
        *why = "record length past the end of the segment";
        return 0;
    }
    if (et_crc32c(0, p + pos + REC_HDR, len) != crc) {
        *why = "crc32c mismatch";
        return 0;
    }
    if (!decode(u, p + pos + REC_HDR, len, r)) {
        *why = "undecodable record payload";
        return 0;
    }
    return REC_HDR + len;
}

/* Does a valid record start anywhere in [@from, @end)? Cheap filters before the crc. */
static bool valid_record_after(msgpack_unpacked *u, const unsigned char *p, size_t size,
                               size_t from, size_t end)
{
    struct raft_wal_record r;
    const char *why;
    for (size_t q = from; q < end && q + REC_HDR + 2 <= size; q++) {
        unsigned char a = p[q + REC_HDR], t = p[q + REC_HDR + 1];
        if (a < 0x93 || a > 0x97 || t < RAFT_WAL_ENTRY || t > RAFT_WAL_SEGMENT_HEAD)
            continue;
        if (check_record(u, p, size, q, &r, &why))
            return true;
    }
    return false;
}

/* ---- segments and directory -------------------------------------------------------------- */

static void seg_name(char *out, size_t n, const struct wal_seg *s)
{
    snprintf(out, n, "%016" PRIx64 "-%016" PRIx64 ".wal", s->seq, s->first);
}

static int cmp_seg(const void *a, const void *b)
{
    const struct wal_seg *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void seg_push(struct raft_wal *w, struct wal_seg s)
{
    if (w->seg_count == w->seg_cap) {
        w->seg_cap = w->seg_cap ? 2 * w->seg_cap : 8;
        w->segs = et_realloc(w->segs, w->seg_cap * sizeof(*w->segs));
    }
    w->segs[w->seg_count++] = s;
}

static int list_segments(struct raft_wal *w)
{
    DIR *d = fdopendir(dup(w->dir_fd));
    struct dirent *de;
    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        struct wal_seg s;
        char tail[8];
        if (sscanf(de->d_name, "%16" SCNx64 "-%16" SCNx64 "%7s", &s.seq, &s.first, tail) == 3 &&
            strcmp(tail, ".wal") == 0 && strlen(de->d_name) == 16 + 1 + 16 + 4)
            seg_push(w, s);
    }
    closedir(d);
    if (w->seg_count)
        qsort(w->segs, w->seg_count, sizeof(*w->segs), cmp_seg);
    for (size_t i = 1; i < w->seg_count; i++) {
        if (w->segs[i].seq != w->segs[i - 1].seq + 1) {
            et_error("wal: %s: segment %016" PRIx64 " is missing (found %016" PRIx64
                     " after it): refusing to start",
                     w->dir, w->segs[i - 1].seq + 1, w->segs[i].seq);
            return -EBADMSG;
        }
    }
    return 0;
}

/*
 * Preallocates a segment by writing zeros, not with fallocate(): an fdatasync after writing into
 * fallocated (unwritten) extents must also commit the extent conversion to the journal, which
 * cost about 60% more per sync here (dd oflag=dsync, 256-byte writes: 2050/s vs 3265/s).
 * The zeros go to the disk WAL_FILL_STEP at a time (sync_file_range), so the live segment's
 * fdatasync, whose cache flush waits for writes in flight, never queues behind 64 MiB of them.
 */
#define WAL_FILL_STEP (1u << 20)

static int seg_fill(int fd, uint64_t off, uint64_t bytes)
{
    static const char zeros[1 << 16];
    uint64_t step_end = off + WAL_FILL_STEP;
    while (off < bytes) {
        size_t n = bytes - off < sizeof(zeros) ? (size_t)(bytes - off) : sizeof(zeros);
        ssize_t r = pwrite(fd, zeros, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        off += (uint64_t)r;
        if (off >= step_end || off == bytes) {
            (void)sync_file_range(fd, 0, 0,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                      SYNC_FILE_RANGE_WAIT_AFTER); /* a hint: fdatasync decides */
            step_end = off + WAL_FILL_STEP;
        }
    }
    return fdatasync(fd) < 0 ? -errno : 0;
}

/* Creates the next segment, preallocated, and makes its name durable. */
static void *prep_main(void *arg)
{
    struct raft_wal *w = arg;
    int fd = openat(w->dir_fd, WAL_PREP_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        w->prep_ret = -errno;
        return NULL;
    }
    w->prep_ret = seg_fill(fd, 0, w->seg_bytes);
    if (w->prep_ret < 0)
        close(fd);
    else
        w->prep_fd = fd;
    return NULL;
}

/* Starts filling the next segment in the background (a cut then costs a rename). */
static void prep_start(struct raft_wal *w)
{
    if (w->prep_started)
        return;
    w->prep_fd = -1;
    w->prep_ret = 0;
    if (pthread_create(&w->prep_thread, NULL, prep_main, w) == 0)
        w->prep_started = true;
}

/* Waits for the background segment; returns its fd, or -1 when there is none. */
static int prep_take(struct raft_wal *w)
{
    if (!w->prep_started)
        return -1;
    pthread_join(w->prep_thread, NULL);
    w->prep_started = false;
    if (w->prep_ret < 0)
        et_warn("wal: preparing the next segment: %s", strerror(-w->prep_ret));
    return w->prep_fd;
}

static int write_all(int fd, const char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/*
 * Creates the next segment, preallocated under WAL_PREP_NAME. One after the first begins with its
 * head, closing the current segment at w->off, and the last durable hard state and snapshot
 * marker (invariants 2 and 4); they are synced before the rename, so a segment under its own
 * name always holds them, even after a crash right after the cut.
 */
static int seg_create(struct raft_wal *w)
{
    struct et_buf head = ET_BUF_INIT;
    char name[64];
    const char *at = WAL_PREP_NAME; /* the file's name so far, for the cleanup */
    int err = 0;
    struct wal_seg s = { .seq = w->seg_count ? w->segs[w->seg_count - 1].seq + 1 : 0,
                         .first = w->batch_first ? w->batch_first : w->last_index_dur + 1 };
    seg_name(name, sizeof(name), &s);
    int fd = prep_take(w);
    if (fd < 0) {
        fd = openat(w->dir_fd, WAL_PREP_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        err = seg_fill(fd, 0, w->seg_bytes);
    }
    if (err == 0 && w->seg_count > 0) {
        ET_ASSERT(w->fd >= 0);
        encode_head(&head, s.seq, w->off);
        encode_hs(&head, &w->hs_dur);
        encode_snap(&head, w->snap_index_dur, w->snap_term_dur, false); /* state, not a reset */
        err = write_all(fd, head.data, head.len, 0);
        if (err == 0 && fdatasync(fd) < 0)
            err = -errno;
    }
    if (err < 0)
        goto out_unlink;
    if (renameat(w->dir_fd, WAL_PREP_NAME, w->dir_fd, name) < 0) {
        err = -errno;
        goto out_unlink;
    }
    at = name;
    if (fsync(w->dir_fd) < 0) {
        err = -errno;
        goto out_unlink;
    }
    if (w->fd >= 0) {
        /* The old segment is complete and durable; give back its unused preallocation. */
        if (ftruncate(w->fd, (off_t)w->off) < 0)
            et_warn("wal: trimming the previous segment: %s", strerror(errno));
        close(w->fd);
    }
    seg_push(w, s);
    w->fd = fd;
    w->off = head.len;
    w->alloc = w->seg_bytes;
    et_buf_free(&head);
    return 0;
out_unlink:
    close(fd);
    unlinkat(w->dir_fd, at, 0);
    et_buf_free(&head);
    return err;
}

/* ---- recovery ---------------------------------------------------------------------------- */

struct scan {
    struct raft_wal *w;
    raft_wal_replay_fn fn;
    void *data;
    msgpack_unpacked u;
    uint64_t prev_end; /* where the records of the segment scanned before end (bytes) */
};

static void track(struct raft_wal *w, const struct raft_wal_record *r)
{
    switch (r->type) {
    case RAFT_WAL_ENTRY:
        w->last_index = w->last_index_dur = r->entry.index;
        break;
    case RAFT_WAL_HARD_STATE:
        w->hs = w->hs_dur = r->hs;
        break;
    case RAFT_WAL_SNAPSHOT:
        w->snap_index = w->snap_index_dur = r->snap.index;
        w->snap_term = w->snap_term_dur = r->snap.term;
        break;
    case RAFT_WAL_SEGMENT_HEAD:
        break;
    }
}

/* Last non-zero byte + 1 of @p[0..@size). */
static size_t data_end(const unsigned char *p, size_t size)
{
    while (size > 0 && p[size - 1] == 0)
        size--;
    return size;
}

/* Zeroes [@from, @to) of the last segment and makes it durable. */
static int zero_range(int fd, uint64_t from, uint64_t to)
{
    static const char zeros[65536];
    while (from < to) {
        size_t n = to - from < sizeof(zeros) ? to - from : sizeof(zeros);
        ssize_t r = pwrite(fd, zeros, n, (off_t)from);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        from += (uint64_t)r;
    }
    return fdatasync(fd) < 0 ? -errno : 0;
}

/*
 * Checks the head found at @pos of segment @i (@name): it must begin the segment it names, and
 * the segment before it, when still there, must end where it was closed (invariant 4).
 */
static int check_head(const struct scan *sc, size_t i, const char *name, size_t pos,
                      const struct raft_wal_record *r)
{
    struct raft_wal *w = sc->w;
    char prev[64];
    if (pos != 0 || r->head.seq != w->segs[i].seq) {
        et_error("wal: a head of segment %016" PRIx64 " in %s/%s at byte offset %zu: refusing to "
                 "start; restore this member from a snapshot or a peer",
                 r->head.seq, w->dir, name, pos);
        return -EBADMSG;
    }
    if (i == 0 || r->head.prev_end == sc->prev_end)
        return 0; /* i == 0: the segments before it were released */
    seg_name(prev, sizeof(prev), &w->segs[i - 1]);
    et_error("wal: %s/%s ends at byte offset %" PRIu64 " but was closed at %" PRIu64
             " (the head of %s says): its last records are lost, refusing to start; restore "
             "this member from a snapshot or a peer",
             w->dir, prev, sc->prev_end, r->head.prev_end, name);
    return -EBADMSG;
}

/*
 * Scans one segment. For the last one, sets the write position after the last good record and
 * cuts a torn tail. Returns 0, -EBADMSG on corruption, or the replay callback's error.
 */
static int scan_segment(struct scan *sc, size_t i, bool last)
{
    struct raft_wal *w = sc->w;
    char name[64];
    struct stat st;
    int ret = 0;
    seg_name(name, sizeof(name), &w->segs[i]);
    int fd = openat(w->dir_fd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out_close;
    }
    size_t size = (size_t)st.st_size, pos = 0, end = 0;
    const unsigned char *p = NULL;
    if (size > 0) {
        p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            ret = -errno;
            goto out_close;
        }
        end = data_end(p, size);
    }
    const char *why = NULL;
    while (pos < end) {
        struct raft_wal_record r;
        size_t n = check_record(&sc->u, p, size, pos, &r, &why);
        if (n == 0)
            break;
        if (r.type == RAFT_WAL_SEGMENT_HEAD) {
            if ((ret = check_head(sc, i, name, pos, &r)) < 0)
                goto out_unmap;
            pos += n;
            continue;
        }
        track(w, &r);
        if (sc->fn && (ret = sc->fn(sc->data, &r)) < 0)
            goto out_unmap;
        pos += n;
    }
    if (pos < end) {
        /* A bad record. Only the last batch of the last segment may be torn. */
        if (!last || valid_record_after(&sc->u, p, size, pos + 1, end)) {
            et_error("wal: corrupt record in %s/%s at byte offset %zu (%s), followed by valid "
                     "data: refusing to start; restore this member from a snapshot or a peer",
                     w->dir, name, pos, why);
            ret = -EBADMSG;
            goto out_unmap;
        }
        et_warn("wal: torn tail in %s/%s at byte offset %zu (%s): cutting %zu bytes", w->dir, name,
                pos, why, end - pos);
        if ((ret = zero_range(fd, pos, end)) < 0)
            goto out_unmap;
    }
    sc->prev_end = pos;
    if (last) {
        w->off = pos;
        w->alloc = size;
        if (size < w->seg_bytes && seg_fill(fd, size, w->seg_bytes) == 0)
            w->alloc = w->seg_bytes;
        w->fd = fd;
        fd = -1;
    }
out_unmap:
    if (p)
        munmap((void *)p, size);
out_close:
    if (fd >= 0)
        close(fd);
    return ret;
}

int raft_wal_open(const char *dir, const struct raft_wal_options *opt, raft_wal_replay_fn fn,
                  void *data, struct raft_wal **out)
{
    struct raft_wal *w = et_calloc(1, sizeof(*w));
    int ret;
    w->dir = et_strdup(dir);
    w->fd = -1;
    w->seg_bytes = opt && opt->segment_bytes ? opt->segment_bytes : RAFT_WAL_SEGMENT_BYTES;
    if ((ret = raft__mkdir_p(dir)) < 0)
        goto out_free;
    w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0) {
        ret = -errno;
        goto out_free;
    }
    if ((ret = list_segments(w)) < 0)
        goto out_dir;
    struct scan sc = { .w = w, .fn = fn, .data = data };
    msgpack_unpacked_init(&sc.u);
    for (size_t i = 0; i < w->seg_count && ret == 0; i++)
        ret = scan_segment(&sc, i, i + 1 == w->seg_count);
    msgpack_unpacked_destroy(&sc.u);
    if (ret < 0)
        goto out_dir;
    if (w->seg_count == 0 && (ret = seg_create(w)) < 0)
        goto out_dir;
    if (opt && opt->use_uring) {
        ret = io_uring_queue_init(4, &w->ring, 0);
        if (ret < 0) {
            et_warn("wal: io_uring unavailable (%s): using pwrite + fdatasync", strerror(-ret));
        } else {
            w->use_uring = true;
        }
    }
    *out = w;
    return 0;
out_dir:
    if (w->fd >= 0)
        close(w->fd);
    close(w->dir_fd);
out_free:
    et_free(w->segs);
    et_free(w->dir);
    et_free(w);
    return ret;
}

void raft_wal_close(struct raft_wal *w)
{
    if (!w)
        return;
    if (w->use_uring)
        io_uring_queue_exit(&w->ring);
    int fd = prep_take(w);
    if (fd >= 0)
        close(fd);
    unlinkat(w->dir_fd, WAL_PREP_NAME, 0);
    if (w->fd >= 0)
        close(w->fd);
    close(w->dir_fd);
    et_buf_free(&w->batch);
    et_free(w->segs);
    et_free(w->dir);
    et_free(w);
}

/* ---- group commit ------------------------------------------------------------------------ */

static int sync_pwrite(struct raft_wal *w, const char *p, size_t len)
{
    int ret = write_all(w->fd, p, len, w->off);
    if (ret < 0)
        return ret;
    return fdatasync(w->fd) < 0 ? -errno : 0;
}

/* One submission: the write, linked to a data sync that runs only if the write completed. */
static int sync_uring(struct raft_wal *w, const char *p, size_t len)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    ET_ASSERT(sqe != NULL);
    io_uring_prep_write(sqe, w->fd, p, (unsigned)len, w->off);
    sqe->flags |= IOSQE_IO_LINK;
    sqe->user_data = 1;
    sqe = io_uring_get_sqe(&w->ring);
    ET_ASSERT(sqe != NULL);
    io_uring_prep_fsync(sqe, w->fd, IORING_FSYNC_DATASYNC);
    sqe->user_data = 2;
    int ret = io_uring_submit_and_wait(&w->ring, 2);
    if (ret < 0 && ret != -EINTR)
        return ret;
    int res[3] = { 0, 0, 0 };
    for (int got = 0; got < 2;) {
        struct io_uring_cqe *cqe;
        ret = io_uring_wait_cqe(&w->ring, &cqe);
        if (ret == -EINTR)
            continue;
        if (ret < 0)
            return ret;
        ET_ASSERT(cqe->user_data == 1 || cqe->user_data == 2);
        res[cqe->user_data] = cqe->res;
        io_uring_cqe_seen(&w->ring, cqe);
        got++;
    }
    if (res[1] < 0)
        return res[1];
    if ((size_t)res[1] < len) {
        /* Short write: the linked sync was cancelled; finish by hand. */
        ret = write_all(w->fd, p + res[1], len - (size_t)res[1], w->off + (uint64_t)res[1]);
        if (ret < 0)
            return ret;
        return fdatasync(w->fd) < 0 ? -errno : 0;
    }
    return res[2];
}

int raft_wal_sync(struct raft_wal *w)
{
    const char *p = w->batch.data;
    size_t len = w->batch.len;
    int ret;
    ET_ASSERT(!w->failed);
    if (len == 0)
        return 0;
    /* The new segment starts with what the old ones held (invariants 2 and 4, seg_create). */
    if (w->off > 0 && w->off + len > w->alloc && (ret = seg_create(w)) < 0)
        goto out_fail;
    ret = w->use_uring ? sync_uring(w, p, len) : sync_pwrite(w, p, len);
    if (ret < 0)
        goto out_fail;
    w->off += len;
    if (w->off > w->alloc)
        w->alloc = w->off;
    if (w->off >= w->alloc / 2)
        prep_start(w);
    w->hs_dur = w->hs;
    w->last_index_dur = w->last_index;
    w->batch_first = 0;
    w->snap_index_dur = w->snap_index;
    w->snap_term_dur = w->snap_term;
    et_buf_reset(&w->batch);
    return 0;
out_fail:
    et_error("wal: %s: writing %zu bytes failed: %s", w->dir, len, strerror(-ret));
    w->failed = true;
    return ret;
}

int raft_wal_release_to(struct raft_wal *w, raft_index index)
{
    size_t drop = 0;
    char name[64];
    /* Segment i holds only entries below segs[i + 1].first (wal.h invariant 2 keeps state). */
    while (drop + 1 < w->seg_count && w->segs[drop + 1].first - 1 <= index)
        drop++;
    if (drop == 0)
        return 0;
    for (size_t i = 0; i < drop; i++) {
        seg_name(name, sizeof(name), &w->segs[i]);
        if (unlinkat(w->dir_fd, name, 0) < 0 && errno != ENOENT)
            return -errno;
    }
    memmove(w->segs, w->segs + drop, (w->seg_count - drop) * sizeof(*w->segs));
    w->seg_count -= drop;
    return fsync(w->dir_fd) < 0 ? -errno : 0;
}

size_t raft_wal_segment_count(const struct raft_wal *w)
{
    return w->seg_count;
}

uint64_t raft_wal_write_offset(const struct raft_wal *w)
{
    return w->off;
}
