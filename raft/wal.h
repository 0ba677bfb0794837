/*
 * raft/wal.h - the write-ahead log: what a member has promised (entries, term, vote, commit)
 * made durable before it is acknowledged or sent.
 *
 * On disk: <dir>/<seq:016x>-<first index:016x>.wal segment files, preallocated, each a sequence
 * of records `u32 length | u32 crc32c(payload) | msgpack payload` (little endian header). A
 * payload is a msgpack array whose first element is the record type (enum raft_wal_rec_type).
 * Every segment starts with the latest hard state and snapshot marker, so the segments that a
 * snapshot covers can be removed without losing them. A segment after the first begins with a
 * segment head record (RAFT_WAL_SEGMENT_HEAD: its own number and the byte length at which the
 * previous segment was closed), then that state; the three are durable before the segment's name
 * exists. Directories written before segment heads existed have none and still open.
 *
 * Writes are batched: the append functions encode into memory, raft_wal_sync() writes the whole
 * batch with one write and makes it durable with one fdatasync (group commit).
 *
 * Recovery (raft_wal_open): every record of every segment is read and checked; the records are
 * handed to the caller's replay callback in file order (a later entry with an index at or below
 * an earlier one replaces it and everything after it, as Raft's log truncation does). A torn
 * tail (a partial last batch, or preallocated zeros) is cut off and zeroed; a bad record followed
 * by valid data is corruption: an error naming the file and byte offset, and -EBADMSG. Only the
 * last segment may have a torn tail: a segment whose records end before the length its
 * successor's head records (truncated or zeroed, even at a record boundary) lost acknowledged
 * records, and is -EBADMSG too. A segment whose successor has no head (written by older code)
 * is only checked record by record, as before.
 *
 * Thread: one thread at a time per struct raft_wal (the node's thread).
 */
#ifndef ET_RAFT_WAL_H
#define ET_RAFT_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assert.h"
#include "raft/node.h"

struct raft_wal;

enum raft_wal_rec_type {
    RAFT_WAL_ENTRY = 1,
    RAFT_WAL_HARD_STATE = 2,
    RAFT_WAL_SNAPSHOT = 3,
    RAFT_WAL_SEGMENT_HEAD = 4, /* the WAL's own: checked at open, never replayed */
};

/* Entry kinds (enum raft_entry_type) and struct raft_hard_state come from raft/raft.h. */

struct raft_wal_entry {
    raft_index index;
    raft_term term;
    uint32_t type;       /* enum raft_entry_type */
    raft_id origin_id;   /* member that proposed it (0: none) */
    uint64_t origin_seq; /* that member's local proposal sequence */
    const void *data;    /* borrowed */
    size_t len;
};

struct raft_wal_record {
    enum raft_wal_rec_type type;

    union {
        struct raft_wal_entry entry; /* RAFT_WAL_ENTRY; data valid during the callback only */
        struct raft_hard_state hs;   /* RAFT_WAL_HARD_STATE */

        struct {
            raft_index index;
            raft_term term;
            bool reset; /* a leader's snapshot: drop the entries replayed so far */
        } snap; /* RAFT_WAL_SNAPSHOT: a snapshot at (index, term) covers entries up to index */

        struct {
            uint64_t seq;      /* the number of the segment it begins */
            uint64_t prev_end; /* bytes of records in the previous segment when it was closed */
        } head; /* RAFT_WAL_SEGMENT_HEAD: first record of a segment after the first */
    };
};

/*
 * Called for each record found at open, in file order (segment heads excepted). Return 0 or a
 * negative error (stops).
 */
typedef int (*raft_wal_replay_fn)(void *data, const struct raft_wal_record *rec);

struct raft_wal_options {
    uint64_t segment_bytes; /* preallocated size of a segment; 0: RAFT_WAL_SEGMENT_BYTES */
    bool use_uring;         /* group commit through io_uring (write + linked fdatasync) */
};

#define RAFT_WAL_SEGMENT_BYTES (64ull << 20)
#define RAFT_WAL_RECORD_MAX    (64u << 20) /* a larger length field is corruption */

/*
 * Opens the WAL in @dir (created when missing), replays every record through @fn (may be NULL)
 * and cuts a torn tail. @opt may be NULL for defaults. Returns 0 and *@out, -EBADMSG when a
 * record inside the log is corrupt (logged with file and byte offset), or a negative errno.
 */
ET_NODISCARD int raft_wal_open(const char *dir, const struct raft_wal_options *opt,
                               raft_wal_replay_fn fn, void *data, struct raft_wal **out);

/* Closes the files and frees @w. Unsynced appends are dropped. */
void raft_wal_close(struct raft_wal *w);

/* Encode records into the pending batch (memory only). @e->data is copied. */
void raft_wal_append_entry(struct raft_wal *w, const struct raft_wal_entry *e);
void raft_wal_append_hard_state(struct raft_wal *w, const struct raft_hard_state *hs);
/*
 * A snapshot at (@index, @term) is durable. @reset: it was received from a leader and replaces
 * the whole log (replay drops every entry before the marker); otherwise it only covers the
 * entries up to @index (local compaction).
 */
void raft_wal_append_snapshot(struct raft_wal *w, raft_index index, raft_term term, bool reset);

/* Bytes waiting in the pending batch. */
size_t raft_wal_pending_bytes(const struct raft_wal *w);

/*
 * Writes the pending batch with one write and makes it durable with one fdatasync (starting a
 * new segment first when it does not fit). Returns 0 (also when nothing is pending) or a negative
 * errno; after an error the WAL must not be used further (its state on disk is unknown).
 */
ET_NODISCARD int raft_wal_sync(struct raft_wal *w);

/*
 * Removes the segments whose every entry is at or below @index (covered by a durable snapshot).
 * The segment being written is never removed. Returns 0 or a negative errno.
 */
ET_NODISCARD int raft_wal_release_to(struct raft_wal *w, raft_index index);

/* Byte offset in the last segment where the next batch goes (for tests and status). */
uint64_t raft_wal_write_offset(const struct raft_wal *w);

/* Number of segment files (for tests and status). */
size_t raft_wal_segment_count(const struct raft_wal *w);

#endif
