/*
 * tests/raft_wal/crash_writer.c - the victim of the kill -9 test. Opens the WAL in argv[1],
 * continues after its last entry, and appends batches forever; after each raft_wal_sync()
 * returns it prints the indexes of that batch, one per line, so every printed index is an
 * acknowledged (durable) one. Entry bytes are derived from the index, so the test can check them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft/wal.h"

static int last_seen(void *data, const struct raft_wal_record *r)
{
    if (r->type == RAFT_WAL_ENTRY)
        *(raft_index *)data = r->entry.index;
    return 0;
}

int main(int argc, char **argv)
{
    struct raft_wal_options opt = { .segment_bytes = 256u << 10 };
    struct raft_wal *w;
    raft_index last = 0;
    unsigned char buf[2048];
    char line[32 * 64];
    if (argc != 2) {
        fprintf(stderr, "usage: %s WAL-DIR\n", argv[0]);
        return 2;
    }
    int ret = raft_wal_open(argv[1], &opt, last_seen, &last, &w);
    if (ret < 0) {
        fprintf(stderr, "open: %s\n", strerror(-ret));
        return 1;
    }
    srand((unsigned)getpid());
    for (;;) {
        int count = 1 + rand() % 32;
        size_t n = 0;
        for (int i = 0; i < count; i++) {
            raft_index idx = ++last;
            size_t len = (size_t)(idx * 7919 % sizeof(buf));
            for (size_t k = 0; k < len; k++)
                buf[k] = (unsigned char)(idx + k);
            struct raft_wal_entry e = { .index = idx, .term = 1, .data = buf, .len = len };
            raft_wal_append_entry(w, &e);
        }
        if ((ret = raft_wal_sync(w)) < 0) {
            fprintf(stderr, "sync: %s\n", strerror(-ret));
            return 1;
        }
        for (raft_index i = last - (raft_index)count + 1; i <= last; i++)
            n += (size_t)snprintf(line + n, sizeof(line) - n, "%llu\n", (unsigned long long)i);
        if (write(1, line, n) != (ssize_t)n)
            return 1;
    }
}
