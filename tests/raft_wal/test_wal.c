/*
 * tests/raft_wal/test_wal.c - the WAL's contract: round trip, torn tails cut at every byte of the
 * last record, preallocated zeros, corruption in the middle refused with file and offset,
 * segment rotation and release.
 */
#include <errno.h>
#include <stdio.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "raft/wal.h"
#include "t_util.h"

#define T_SEG (64u << 10)

static const struct raft_wal_options t_opt = { .segment_bytes = T_SEG };

static char *t_dir;

static void t_setup(void)
{
    t_dir = t_mkdtemp();
}

static void t_teardown(void)
{
    t_rm_rf(t_dir);
}

TestSuite(raft_wal, .init = t_setup, .fini = t_teardown);

/* Appends entry @index with deterministic bytes of length @len. */
static void t_append(struct raft_wal *w, raft_index index, raft_term term, size_t len)
{
    unsigned char buf[4096];
    cr_assert(len <= sizeof(buf));
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(index * 31 + i);
    struct raft_wal_entry e = { .index = index,
                                .term = term,
                                .type = RAFT_ENTRY_NORMAL,
                                .origin_id = 7,
                                .origin_seq = 1000 + index,
                                .data = buf,
                                .len = len };
    raft_wal_append_entry(w, &e);
}

static void t_check_entry(const struct t_rec *t, raft_index index, raft_term term, size_t len)
{
    cr_assert_eq(t->r.type, RAFT_WAL_ENTRY);
    cr_assert_eq(t->r.entry.index, index);
    cr_assert_eq(t->r.entry.term, term);
    cr_assert_eq(t->r.entry.origin_id, 7);
    cr_assert_eq(t->r.entry.origin_seq, 1000 + index);
    cr_assert_eq(t->r.entry.len, len);
    const unsigned char *b = t->r.entry.data;
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(b[i], (unsigned char)(index * 31 + i), "entry %lu byte %zu",
                     (unsigned long)index, i);
}

static int t_open(struct t_recs *rs, struct raft_wal **w)
{
    return raft_wal_open(t_dir, &t_opt, t_collect, rs, w);
}

Test(raft_wal, round_trip_entries_hard_state_and_snapshot_marker)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_assert_eq(t_open(&rs, &w), 0);
    cr_assert_eq(rs.n, 0);
    for (raft_index i = 1; i <= 100; i++) {
        t_append(w, i, 1 + i / 50, (size_t)(i * 13 % 300));
        if (i % 10 == 0) {
            struct raft_hard_state hs = { .term = 1 + i / 50, .vote = 7, .commit = i };
            raft_wal_append_hard_state(w, &hs);
            cr_assert_eq(raft_wal_sync(w), 0);
        }
    }
    raft_wal_append_snapshot(w, 42, 1, true);
    cr_assert_eq(raft_wal_sync(w), 0);
    cr_assert_eq(raft_wal_pending_bytes(w), 0);
    raft_wal_close(w);

    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(rs.n, 100 + 10 + 1);
    size_t k = 0;
    for (raft_index i = 1; i <= 100; i++) {
        t_check_entry(&rs.v[k++], i, 1 + i / 50, (size_t)(i * 13 % 300));
        if (i % 10 == 0) {
            cr_assert_eq(rs.v[k].r.type, RAFT_WAL_HARD_STATE);
            cr_assert_eq(rs.v[k].r.hs.commit, i);
            cr_assert_eq(rs.v[k].r.hs.vote, 7);
            k++;
        }
    }
    cr_assert_eq(rs.v[k].r.type, RAFT_WAL_SNAPSHOT);
    cr_assert_eq(rs.v[k].r.snap.index, 42);
    cr_assert(rs.v[k].r.snap.reset);
    t_recs_free(&rs);
}

Test(raft_wal, unsynced_appends_are_not_written)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_assert_eq(t_open(&rs, &w), 0);
    t_append(w, 1, 1, 10);
    cr_assert_eq(raft_wal_sync(w), 0);
    t_append(w, 2, 1, 10);
    raft_wal_close(w);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 1);
    t_recs_free(&rs);
}

/* Builds a WAL of 4 records and a 5th; returns the 5th record's [start, end). */
static void t_five(uint64_t *start, uint64_t *end)
{
    struct raft_wal *w;
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    for (raft_index i = 1; i <= 4; i++) {
        t_append(w, i, 1, 20 + i);
        cr_assert_eq(raft_wal_sync(w), 0);
    }
    *start = raft_wal_write_offset(w);
    t_append(w, 5, 1, 200);
    cr_assert_eq(raft_wal_sync(w), 0);
    *end = raft_wal_write_offset(w);
    raft_wal_close(w);
}

/* Reopens a damaged copy: expects entries 1..4 intact, then that appending works again. */
static void t_expect_cut_and_recover(const char *dir)
{
    struct t_recs rs = { 0 };
    struct raft_wal *w;
    cr_assert_eq(raft_wal_open(dir, &t_opt, t_collect, &rs, &w), 0);
    cr_assert_eq(t_entry_count(&rs), 4);
    /* The cut tail reads as zeros again (wal.c invariant 1). */
    char *seg = t_last_segment(dir);
    int fd = open(seg, O_RDONLY);
    unsigned char b[512];
    ssize_t got = pread(fd, b, sizeof(b), (off_t)raft_wal_write_offset(w));
    cr_assert_geq(got, 0);
    for (ssize_t i = 0; i < got; i++)
        cr_assert_eq(b[i], 0, "byte %zd after the cut", i);
    close(fd);
    et_free(seg);
    for (raft_index i = 1; i <= 4; i++)
        t_check_entry(&rs.v[i - 1], i, 1, 20 + i);
    t_append(w, 5, 2, 33);
    cr_assert_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    t_recs_free(&rs);
    cr_assert_eq(raft_wal_open(dir, &t_opt, t_collect, &rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 5);
    t_check_entry(&rs.v[3], 4, 1, 24);
    cr_assert_eq(rs.v[4].r.entry.term, 2);
    cr_assert_eq(rs.v[4].r.entry.len, 33);
    t_recs_free(&rs);
}

static void t_torn_every_offset(int mode)
{
    uint64_t start, end;
    cr_redirect_stderr(); /* one torn-tail warning per offset */
    t_five(&start, &end);
    char *seg = t_last_segment(t_dir);
    char *copy_dir = t_mkdtemp();
    const char *name = strrchr(seg, '/') + 1;
    char *copy = et_alloc(strlen(copy_dir) + strlen(name) + 2);
    sprintf(copy, "%s/%s", copy_dir, name);
    for (uint64_t k = start; k < end; k++) {
        t_copy_file(seg, copy);
        if (mode == 0) {
            t_fill(copy, (off_t)k, end - k, 0); /* the write never reached these bytes */
        } else if (mode == 1) {
            cr_assert_eq(truncate(copy, (off_t)k), 0); /* the file itself ends there */
        } else {
            t_fill(copy, (off_t)k, end - k, 0xa5); /* garbage from a torn sector */
        }
        t_expect_cut_and_recover(copy_dir);
        unlink(copy);
    }
    et_free(copy);
    et_free(seg);
    t_rm_rf(copy_dir);
}

Test(raft_wal, torn_tail_zeroed_at_every_byte_of_the_last_record_is_cut)
{
    t_torn_every_offset(0);
}

Test(raft_wal, torn_tail_truncated_at_every_byte_of_the_last_record_is_cut)
{
    t_torn_every_offset(1);
}

Test(raft_wal, torn_tail_garbage_at_every_byte_of_the_last_record_is_cut)
{
    t_torn_every_offset(2);
}

Test(raft_wal, preallocated_zeros_and_empty_segments_are_not_records)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    /* A fresh segment is all zeros; reopening it many times finds nothing and cuts nothing. */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(t_open(&rs, &w), 0);
        cr_assert_eq(raft_wal_write_offset(w), 0);
        raft_wal_close(w);
    }
    cr_assert_eq(rs.n, 0);
    char *seg = t_last_segment(t_dir);
    struct stat st;
    cr_assert_eq(stat(seg, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, T_SEG, "segments are preallocated");
    /* A zero-length segment (crash right after creating it) is empty too. */
    cr_assert_eq(truncate(seg, 0), 0);
    cr_assert_eq(t_open(&rs, &w), 0);
    t_append(w, 1, 1, 5);
    cr_assert_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 1);
    et_free(seg);
    t_recs_free(&rs);
}

/* Opens with stderr captured; returns the result and whether stderr names @needle. */
static int t_open_expect_msg(const char *needle, bool *found)
{
    struct raft_wal *w = NULL;
    int ret = raft_wal_open(t_dir, &t_opt, NULL, NULL, &w);
    fflush(stderr);
    char buf[8192];
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    *found = strstr(buf, needle) != NULL;
    if (ret == 0)
        raft_wal_close(w);
    return ret;
}

static void t_corrupt_middle(int how)
{
    struct raft_wal *w;
    uint64_t off[6];
    cr_redirect_stderr();
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    for (raft_index i = 1; i <= 5; i++) {
        off[i - 1] = raft_wal_write_offset(w);
        t_append(w, i, 1, 40);
        cr_assert_eq(raft_wal_sync(w), 0);
    }
    off[5] = raft_wal_write_offset(w);
    raft_wal_close(w);
    char *seg = t_last_segment(t_dir);
    if (how == 0)
        t_xor_byte(seg, (off_t)(off[1] + 20), 0x10); /* a bit flip in record 2's payload */
    else if (how == 1)
        t_xor_byte(seg, (off_t)off[1] + 2, 0x7f); /* record 2's length field */
    else
        t_fill(seg, (off_t)off[1], off[2] - off[1], 0); /* record 2 zeroed (lost write) */
    char needle[300];
    snprintf(needle, sizeof(needle), "%s at byte offset %lu", strrchr(seg, '/') + 1,
             (unsigned long)off[1]);
    bool found;
    cr_assert_eq(t_open_expect_msg(needle, &found), -EBADMSG);
    cr_assert(found, "the error names the file and the offset: %s", needle);
    /* Still refused on a second try: nothing was cut. */
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), -EBADMSG);
    et_free(seg);
}

Test(raft_wal, corrupt_payload_in_the_middle_stops_start_up)
{
    t_corrupt_middle(0);
}

Test(raft_wal, corrupt_length_in_the_middle_stops_start_up)
{
    t_corrupt_middle(1);
}

Test(raft_wal, zeroed_record_in_the_middle_stops_start_up)
{
    t_corrupt_middle(2);
}

Test(raft_wal, segments_rotate_carry_state_and_are_released)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_assert_eq(t_open(&rs, &w), 0);
    for (raft_index i = 1; i <= 2000; i++) {
        t_append(w, i, 3, 200);
        if (i % 20 == 0) {
            struct raft_hard_state hs = { .term = 3, .vote = 9, .commit = i };
            raft_wal_append_hard_state(w, &hs);
            cr_assert_eq(raft_wal_sync(w), 0);
        }
    }
    raft_wal_append_snapshot(w, 1500, 3, false);
    cr_assert_eq(raft_wal_sync(w), 0);
    size_t segs = raft_wal_segment_count(w);
    cr_assert_gt(segs, 5, "2000 x 200 bytes span several 64 KiB segments");
    cr_assert_eq(raft_wal_release_to(w, 1500), 0);
    size_t left = raft_wal_segment_count(w);
    cr_assert_lt(left, segs);
    cr_assert_eq(t_count_files(t_dir, ".wal"), left);
    raft_wal_close(w);

    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    /* Every entry after the snapshot is still there, in order; the state came along. */
    raft_index next = 0;
    bool saw_hs = false, saw_snap = false;
    for (size_t i = 0; i < rs.n; i++) {
        const struct raft_wal_record *r = &rs.v[i].r;
        if (r->type == RAFT_WAL_ENTRY) {
            if (next)
                cr_assert_eq(r->entry.index, next);
            next = r->entry.index + 1;
            t_check_entry(&rs.v[i], r->entry.index, 3, 200);
        }
        saw_hs |= r->type == RAFT_WAL_HARD_STATE && r->hs.vote == 9;
        saw_snap |= r->type == RAFT_WAL_SNAPSHOT && r->snap.index == 1500;
    }
    cr_assert_eq(next, 2001);
    cr_assert_leq(rs.v[0].r.type == RAFT_WAL_ENTRY ? rs.v[0].r.entry.index : 0, 1501);
    cr_assert(saw_hs);
    cr_assert(saw_snap);
    t_recs_free(&rs);
}

Test(raft_wal, a_missing_segment_in_the_middle_stops_start_up)
{
    struct raft_wal *w;
    cr_redirect_stderr();
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    for (raft_index i = 1; i <= 1000; i++) {
        t_append(w, i, 1, 300);
        cr_assert_eq(raft_wal_sync(w), 0);
    }
    cr_assert_gt(raft_wal_segment_count(w), 3);
    raft_wal_close(w);
    char path[512];
    snprintf(path, sizeof(path), "%s/%016x-", t_dir, 1);
    DIR *d = opendir(t_dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "0000000000000001-", 17) == 0) {
            snprintf(path, sizeof(path), "%s/%s", t_dir, de->d_name);
            cr_assert_eq(unlink(path), 0);
        }
    closedir(d);
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), -EBADMSG);
}

Test(raft_wal, io_uring_group_commit_round_trips)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    struct raft_wal_options o = { .segment_bytes = T_SEG, .use_uring = true };
    cr_assert_eq(raft_wal_open(t_dir, &o, NULL, NULL, &w), 0);
    for (raft_index i = 1; i <= 600; i++) {
        t_append(w, i, 1, 100);
        if (i % 7 == 0)
            cr_assert_eq(raft_wal_sync(w), 0);
    }
    cr_assert_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 600);
    size_t k = 0;
    for (size_t i = 0; i < rs.n; i++)
        if (rs.v[i].r.type == RAFT_WAL_ENTRY)
            t_check_entry(&rs.v[i], ++k, 1, 100);
    t_recs_free(&rs);
}

Test(raft_wal, later_entries_at_lower_indexes_replace_the_tail_in_replay_order)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_assert_eq(t_open(&rs, &w), 0);
    for (raft_index i = 1; i <= 5; i++)
        t_append(w, i, 1, 8);
    cr_assert_eq(raft_wal_sync(w), 0);
    t_append(w, 3, 2, 8); /* a new leader overwrote 3.. */
    cr_assert_eq(raft_wal_sync(w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(rs.n, 6);
    cr_assert_eq(rs.v[5].r.entry.index, 3);
    cr_assert_eq(rs.v[5].r.entry.term, 2);
    t_recs_free(&rs);
}

/*
 * A record whose crc verifies but whose payload declares an array of 2^32 - 1 elements (found
 * by tests/fuzz/fuzz_wal.c): msgpack-c would ask for about 96 GiB before reading an element.
 * It is refused as undecodable without allocating, so as a last record it is a torn tail.
 */
Test(raft_wal, a_crc_valid_payload_declaring_a_huge_array_is_a_bad_record)
{
    struct raft_wal *w;
    struct t_recs rs = { 0 };
    cr_redirect_stderr();
    cr_assert_eq(t_open(&rs, &w), 0);
    t_append(w, 1, 1, 8);
    cr_assert_eq(raft_wal_sync(w), 0);
    uint64_t off = raft_wal_write_offset(w);
    raft_wal_close(w);
    static const unsigned char payload[5] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    unsigned char rec[8 + sizeof(payload)] = { sizeof(payload) };
    uint32_t crc = et_crc32c(0, payload, sizeof(payload));
    for (int i = 0; i < 4; i++)
        rec[4 + i] = (unsigned char)(crc >> (8 * i));
    memcpy(rec + 8, payload, sizeof(payload));
    char *seg = t_last_segment(t_dir);
    int fd = open(seg, O_WRONLY);
    cr_assert_eq(pwrite(fd, rec, sizeof(rec), (off_t)off), (ssize_t)sizeof(rec));
    close(fd);
    cr_assert_eq(t_open(&rs, &w), 0);
    cr_assert_eq(raft_wal_write_offset(w), off);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 1);
    et_free(seg);
    t_recs_free(&rs);
}

/* ---- segment heads: a segment other than the last ends where it was closed ---------------- */

/* Path of the @i-th segment file of t_dir in name order; returns new. */
static char *t_segment(size_t i)
{
    struct dirent **names;
    int n = scandir(t_dir, &names, NULL, alphasort);
    char *p = NULL;
    cr_assert_geq(n, 0);
    for (int k = 0, seen = 0; k < n; k++) {
        if (strstr(names[k]->d_name, ".wal") && seen++ == (int)i) {
            p = et_alloc(strlen(t_dir) + strlen(names[k]->d_name) + 2);
            sprintf(p, "%s/%s", t_dir, names[k]->d_name);
        }
        free(names[k]);
    }
    free(names);
    cr_assert(p != NULL, "segment %zu", i);
    return p;
}

/* Reads @path whole; returns new, its size in *@len. */
static unsigned char *t_read_file(const char *path, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0 && fstat(fd, &st) == 0);
    unsigned char *p = et_alloc((size_t)st.st_size + 1);
    cr_assert_eq(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void t_write_file(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, p, len), (ssize_t)len);
    close(fd);
}

/* Fills @at with the offsets where the records of @p[0..@len) start, then their end; a count. */
static size_t t_boundaries(const unsigned char *p, size_t len, size_t *at, size_t at_max)
{
    size_t n = 0, pos = 0;
    while (pos + 8 <= len && n < at_max) {
        uint32_t l = (uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 | (uint32_t)p[pos + 2] << 16 |
                     (uint32_t)p[pos + 3] << 24;
        if (l == 0 || pos + 8 + l > len)
            break;
        at[n++] = pos;
        pos += 8 + l;
    }
    cr_assert_lt(n, at_max);
    at[n++] = pos;
    return n;
}

/* Writes entries 1..@count (synced by tens, with a hard state) across several segments. */
static size_t t_write_segments(raft_index count)
{
    struct raft_wal *w;
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    for (raft_index i = 1; i <= count; i++) {
        t_append(w, i, 2, 300);
        if (i % 10 == 0) {
            struct raft_hard_state hs = { .term = 2, .vote = 1, .commit = i };
            raft_wal_append_hard_state(w, &hs);
            cr_assert_eq(raft_wal_sync(w), 0);
        }
    }
    cr_assert_eq(raft_wal_sync(w), 0);
    size_t segs = raft_wal_segment_count(w);
    raft_wal_close(w);
    return segs;
}

/*
 * Cuts segment @seg at each of its record boundaries in turn (@zero: zeroes from there instead),
 * expects open to refuse with a message naming it, and restores it.
 */
static void t_cut_at_every_boundary(size_t seg, bool zero)
{
    size_t len, at[1024];
    char *path = t_segment(seg);
    unsigned char *orig = t_read_file(path, &len);
    size_t n = t_boundaries(orig, len, at, 1024);
    cr_assert_eq(at[n - 1], len, "a closed segment is trimmed to its records");
    char needle[300];
    snprintf(needle, sizeof(needle), "%s ends at byte offset", strrchr(path, '/') + 1);
    for (size_t k = 0; k + 1 < n; k++) {
        if (zero)
            t_fill(path, (off_t)at[k], len - at[k], 0);
        else
            cr_assert_eq(truncate(path, (off_t)at[k]), 0);
        bool found;
        cr_assert_eq(t_open_expect_msg(needle, &found), -EBADMSG, "cut at %zu", at[k]);
        cr_assert(found, "the error names the segment: %s", needle);
        t_write_file(path, orig, len);
    }
    /* Intact again, it opens. */
    struct raft_wal *w;
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    raft_wal_close(w);
    et_free(orig);
    et_free(path);
}

Test(raft_wal, a_non_last_segment_truncated_at_a_record_boundary_stops_start_up)
{
    cr_redirect_stderr();
    cr_assert_geq(t_write_segments(700), 3);
    t_cut_at_every_boundary(0, false); /* the first segment, which has no head */
    t_cut_at_every_boundary(1, false); /* one with a head, down to nothing */
}

Test(raft_wal, a_non_last_segment_zeroed_from_a_record_boundary_stops_start_up)
{
    cr_redirect_stderr();
    cr_assert_geq(t_write_segments(700), 3);
    t_cut_at_every_boundary(0, true);
    t_cut_at_every_boundary(1, true);
}

Test(raft_wal, a_torn_tail_of_the_last_segment_after_rotations_is_still_cut)
{
    struct t_recs rs = { 0 };
    struct raft_wal *w;
    size_t len, at[1024];
    cr_redirect_stderr();
    size_t segs = t_write_segments(700);
    cr_assert_geq(segs, 3);
    char *path = t_segment(segs - 1);
    unsigned char *orig = t_read_file(path, &len);
    size_t n = t_boundaries(orig, len, at, 1024);
    cr_assert_geq(n, 5, "head, hard state, snapshot marker, entries");
    /* Cut in the middle of the last record, at the last boundary, and right after the head. */
    const size_t cuts[3] = { at[n - 1] - 7, at[n - 2], at[1] };
    for (int c = 0; c < 3; c++) {
        cr_assert_eq(truncate(path, (off_t)cuts[c]), 0);
        cr_assert_eq(t_open(&rs, &w), 0, "cut at %zu", cuts[c]);
        cr_assert_eq(raft_wal_write_offset(w), c == 0 ? at[n - 2] : cuts[c]);
        raft_wal_close(w);
        /* Only records of the last segment are lost; a torn last record is one of them. */
        cr_assert_geq(t_entry_count(&rs), c == 0 ? 699 : 700 - (n - 1));
        t_recs_free(&rs);
        memset(&rs, 0, sizeof(rs));
        t_write_file(path, orig, len);
    }
    /* Appends after the cut are read back, and the WAL rotates on from there. */
    cr_assert_eq(truncate(path, (off_t)at[n - 2]), 0);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_index next = rs.v[rs.n - 1].r.entry.index + 1;
    for (raft_index i = next; i < next + 400; i++) {
        t_append(w, i, 3, 300);
        cr_assert_eq(raft_wal_sync(w), 0);
    }
    cr_assert_gt(raft_wal_segment_count(w), segs);
    raft_wal_close(w);
    t_recs_free(&rs);
    memset(&rs, 0, sizeof(rs));
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(rs.v[rs.n - 1].r.entry.index, next + 399);
    t_recs_free(&rs);
    et_free(orig);
    et_free(path);
}

/*
 * Rewrites every segment as the code before segment heads wrote it: the same records without
 * the head (a segment then began with the hard state and snapshot marker).
 */
static void t_strip_heads(size_t segs)
{
    for (size_t i = 1; i < segs; i++) {
        size_t len, at[1024];
        char *path = t_segment(i);
        unsigned char *p = t_read_file(path, &len);
        cr_assert_geq(t_boundaries(p, len, at, 1024), 2);
        t_write_file(path, p + at[1], len - at[1]);
        et_free(p);
        et_free(path);
    }
}

Test(raft_wal, a_directory_written_without_segment_heads_still_opens_and_is_checked_after)
{
    struct t_recs rs = { 0 };
    struct raft_wal *w;
    cr_redirect_stderr();
    size_t segs = t_write_segments(700);
    t_strip_heads(segs);
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 700);
    for (size_t i = 0, k = 0; i < rs.n; i++)
        if (rs.v[i].r.type == RAFT_WAL_ENTRY)
            t_check_entry(&rs.v[i], ++k, 2, 300);
    t_recs_free(&rs);
    /* A bad record in an older segment is still corruption. */
    char *path = t_segment(1);
    t_xor_byte(path, 100, 0x20);
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), -EBADMSG);
    t_xor_byte(path, 100, 0x20);
    et_free(path);
    /* Once this code cuts the segment it found last, its successor's head protects it. */
    cr_assert_eq(raft_wal_open(t_dir, &t_opt, NULL, NULL, &w), 0);
    for (raft_index i = 701; i <= 1000; i++) {
        t_append(w, i, 2, 300);
        cr_assert_eq(raft_wal_sync(w), 0);
    }
    cr_assert_gt(raft_wal_segment_count(w), segs);
    raft_wal_close(w);
    t_cut_at_every_boundary(segs - 1, false);
    memset(&rs, 0, sizeof(rs));
    cr_assert_eq(t_open(&rs, &w), 0);
    raft_wal_close(w);
    cr_assert_eq(t_entry_count(&rs), 1000);
    t_recs_free(&rs);
}
