/*
 * raft/snap.h - snapshot files: the applied state at an index, so the WAL before it can go.
 *
 * On disk: <dir>/<index:016x>-<term:016x>.snap, a 48-byte header (magic "ETSNAP2", index, term,
 * meta length, data length, crc32c over the header fields, meta and data; little endian), then
 * the meta (the node's: the cluster configuration at the index) and the data (whatever
 * cfg->snapshot_save produced). Both are opaque here. A file is written under a temporary name,
 * fsynced, renamed into place and the directory fsynced, so a crash leaves either the old set of
 * snapshots or the new one, never a partial file under a snapshot's name.
 *
 * Thread: any; the functions share no state.
 */
#ifndef ET_RAFT_SNAP_H
#define ET_RAFT_SNAP_H

#include <stddef.h>

#include "core/assert.h"
#include "raft/node.h"

struct raft_snap {
    raft_index index;
    raft_term term;
    void *meta; /* new: freed by raft_snap_free() */
    size_t meta_len;
    void *data; /* new: freed by raft_snap_free() */
    size_t len;
};

/*
 * Writes a snapshot at (@index, @term) durably into @dir (created if missing): @meta_len bytes of
 * meta and @len bytes of data, both borrowed.
 */
ET_NODISCARD int raft_snap_save(const char *dir, raft_index index, raft_term term, const void *meta,
                                size_t meta_len, const void *data, size_t len);

/* Frees what raft_snap_load() allocated in @s. */
void raft_snap_free(struct raft_snap *s);

/*
 * Loads the newest snapshot in @dir whose checksum verifies; damaged ones are logged and skipped.
 * Returns 0 and fills @out, -ENOENT when there is none, or a negative errno.
 */
ET_NODISCARD int raft_snap_load(const char *dir, struct raft_snap *out);

/* Creates @path and its missing parents (mode 0700). Shared with the WAL. */
ET_NODISCARD int raft__mkdir_p(const char *path);

/* Removes every snapshot file but the newest @keep (and stray temporary files). */
ET_NODISCARD int raft_snap_purge(const char *dir, size_t keep);

#endif
