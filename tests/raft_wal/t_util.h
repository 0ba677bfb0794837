/*
 * tests/raft_wal/t_util.h - helpers shared by the WAL, snapshot and node tests: temporary
 * directories, a record collector for raft_wal_open(), and file surgery.
 */
#ifndef ET_TESTS_RAFT_WAL_T_UTIL_H
#define ET_TESTS_RAFT_WAL_T_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "raft/wal.h"

static inline char *t_mkdtemp(void)
{
    char *d = et_strdup("/tmp/et-raft-wal-XXXXXX");
    if (!mkdtemp(d))
        abort();
    return d;
}

static inline int t_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void t_rm_rf(char *dir)
{
    nftw(dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    et_free(dir);
}

/* Records seen by raft_wal_open, entries with owned copies of their bytes. */
struct t_rec {
    struct raft_wal_record r;
    void *bytes;
};

struct t_recs {
    struct t_rec *v;
    size_t n, cap;
};

static inline int t_collect(void *data, const struct raft_wal_record *r)
{
    struct t_recs *rs = data;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 64;
        rs->v = et_realloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    struct t_rec *t = &rs->v[rs->n++];
    t->r = *r;
    t->bytes = NULL;
    if (r->type == RAFT_WAL_ENTRY && r->entry.len) {
        t->bytes = et_memdup(r->entry.data, r->entry.len);
        t->r.entry.data = t->bytes;
    }
    return 0;
}

static inline void t_recs_free(struct t_recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        et_free(rs->v[i].bytes);
    et_free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

/* Entries only, in order. */
static inline size_t t_entry_count(const struct t_recs *rs)
{
    size_t c = 0;
    for (size_t i = 0; i < rs->n; i++)
        c += rs->v[i].r.type == RAFT_WAL_ENTRY;
    return c;
}

/* Path of the only (or the last) segment file in @dir; returns new. */
static inline char *t_last_segment(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char best[256] = "";
    if (!d)
        return NULL;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".wal") && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    closedir(d);
    if (!best[0])
        return NULL;
    char *p = et_alloc(strlen(dir) + strlen(best) + 2);
    sprintf(p, "%s/%s", dir, best);
    return p;
}

static inline size_t t_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t c = 0;
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        c += l > s && strcmp(de->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return c;
}

/* Copies file @from to @to. */
static inline void t_copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n;
    if (in < 0 || out < 0)
        abort();
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            abort();
    close(in);
    close(out);
}

/* Overwrites [@off, @off + @len) of @path with @byte. */
static inline void t_fill(const char *path, off_t off, size_t len, int byte)
{
    char buf[4096];
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        abort();
    memset(buf, byte, sizeof(buf));
    while (len > 0) {
        size_t k = len < sizeof(buf) ? len : sizeof(buf);
        if (pwrite(fd, buf, k, off) != (ssize_t)k)
            abort();
        off += (off_t)k;
        len -= k;
    }
    close(fd);
}

static inline void t_xor_byte(const char *path, off_t off, unsigned char mask)
{
    unsigned char c;
    int fd = open(path, O_RDWR);
    if (fd < 0 || pread(fd, &c, 1, off) != 1)
        abort();
    c ^= mask;
    if (pwrite(fd, &c, 1, off) != 1)
        abort();
    close(fd);
}

#endif
