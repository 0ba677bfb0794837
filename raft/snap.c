/*
 * raft/snap.c - snapshot files (format in raft/snap.h).
 *
 * Save: write <name>.tmp, fsync it, rename to <name>, fsync the directory. Load: newest first by
 * index, the first whose header and crc32c verify wins; a damaged newest one is skipped with a
 * warning (an older one plus the WAL still hold everything, and the node checks that the WAL
 * reaches back to the snapshot it loads).
 */
#include "raft/snap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/log.h"

#define SNAP_MAGIC "ETSNAP2"
#define SNAP_HDR   48

struct snap_name {
    raft_index index;
    raft_term term;
};

int raft__mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/*
 * A large image goes to the disk in steps of this size, each written back before the next is
 * copied in: written all at once and then fsynced, megabytes would reach the device together,
 * and the WAL's fdatasync (whose cache flush waits for them) would stall writes meanwhile.
 */
#define SNAP_STEP (1u << 20)

static int write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

int raft_snap_save(const char *dir, raft_index index, raft_term term, const void *meta,
                   size_t meta_len, const void *data, size_t len)
{
    unsigned char h[SNAP_HDR] = { 0 };
    char name[64], tmp[80];
    int ret = raft__mkdir_p(dir);
    if (ret < 0)
        return ret;
    ET_ASSERT(len == 0 || data != NULL);
    ET_ASSERT(meta_len == 0 || meta != NULL);
    memcpy(h, SNAP_MAGIC, 8);
    put_le64(h + 8, index);
    put_le64(h + 16, term);
    put_le64(h + 24, meta_len);
    put_le64(h + 32, len);
    uint32_t crc = et_crc32c(et_crc32c(et_crc32c(0, h + 8, 32), meta, meta_len), data, len);
    for (int i = 0; i < 4; i++)
        h[40 + i] = (unsigned char)(crc >> (8 * i));
    snprintf(name, sizeof(name), "%016" PRIx64 "-%016" PRIx64 ".snap", index, term);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        ret = -errno;
        goto out_dir;
    }
    if ((ret = write_all(fd, h, sizeof(h))) < 0 || (ret = write_all(fd, meta, meta_len)) < 0)
        goto out_unlink;
    for (size_t off = 0; off < len; off += SNAP_STEP) {
        size_t step = len - off < SNAP_STEP ? len - off : SNAP_STEP;
        if ((ret = write_all(fd, (const char *)data + off, step)) < 0)
            goto out_unlink;
        if (len > SNAP_STEP)
            (void)sync_file_range(fd, 0, 0,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                      SYNC_FILE_RANGE_WAIT_AFTER); /* a hint: fsync decides */
    }
    if (fsync(fd) < 0 || renameat(dfd, tmp, dfd, name) < 0 || fsync(dfd) < 0) {
        ret = -errno;
        goto out_unlink;
    }
    close(fd);
    close(dfd);
    return 0;
out_unlink:
    close(fd);
    unlinkat(dfd, tmp, 0);
out_dir:
    close(dfd);
    return ret;
}

static int cmp_desc(const void *a, const void *b)
{
    const struct snap_name *x = a, *y = b;
    return x->index > y->index ? -1 : x->index < y->index;
}

/* Lists the snapshot files of @dir, newest first. Returns the count or a negative errno. */
static ssize_t list_snaps(const char *dir, struct snap_name **out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, cap = 0;
    *out = NULL;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d))) {
        struct snap_name s;
        char tail[8];
        if (strlen(de->d_name) != 16 + 1 + 16 + 5 ||
            sscanf(de->d_name, "%16" SCNx64 "-%16" SCNx64 "%7s", &s.index, &s.term, tail) != 3 ||
            strcmp(tail, ".snap") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = et_realloc(*out, cap * sizeof(**out));
        }
        (*out)[n++] = s;
    }
    closedir(d);
    if (n)
        qsort(*out, n, sizeof(**out), cmp_desc);
    return (ssize_t)n;
}

/* Reads and verifies one file. Returns 0, -EBADMSG when damaged, or a negative errno. */
static int read_snap(const char *path, const struct snap_name *sn, struct raft_snap *out)
{
    unsigned char h[SNAP_HDR];
    struct stat st;
    int ret = -EBADMSG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out_close;
    }
    if ((size_t)st.st_size < SNAP_HDR || pread(fd, h, SNAP_HDR, 0) != SNAP_HDR)
        goto out_close;
    uint64_t meta_len = get_le64(h + 24), len = get_le64(h + 32);
    uint64_t body = (uint64_t)st.st_size - SNAP_HDR;
    if (memcmp(h, SNAP_MAGIC, 8) != 0 || get_le64(h + 8) != sn->index ||
        get_le64(h + 16) != sn->term || meta_len > body || len != body - meta_len)
        goto out_close;
    char *all = et_alloc(body ? body : 1);
    size_t got = 0;
    while (got < body) {
        ssize_t n = pread(fd, all + got, body - got, (off_t)(SNAP_HDR + got));
        if (n <= 0) {
            et_free(all);
            goto out_close;
        }
        got += (size_t)n;
    }
    uint32_t crc = et_crc32c(et_crc32c(0, h + 8, 32), all, body);
    uint32_t want =
        (uint32_t)h[40] | (uint32_t)h[41] << 8 | (uint32_t)h[42] << 16 | (uint32_t)h[43] << 24;
    if (crc != want) {
        et_free(all);
        goto out_close;
    }
    *out = (struct raft_snap){ .index = sn->index,
                               .term = sn->term,
                               .meta = et_memdup(all, meta_len ? meta_len : 1),
                               .meta_len = meta_len,
                               .data = et_memdup(all + meta_len, len ? len : 1),
                               .len = len };
    et_free(all);
    ret = 0;
out_close:
    close(fd);
    return ret;
}

int raft_snap_load(const char *dir, struct raft_snap *out)
{
    struct snap_name *names;
    char path[4096];
    ssize_t n = list_snaps(dir, &names);
    int ret = -ENOENT;
    if (n < 0)
        return (int)n;
    for (ssize_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%016" PRIx64 "-%016" PRIx64 ".snap", dir, names[i].index,
                 names[i].term);
        ret = read_snap(path, &names[i], out);
        if (ret == 0)
            break;
        et_warn("snap: %s is damaged (%s): trying an older snapshot", path, strerror(-ret));
        ret = -ENOENT;
    }
    et_free(names);
    return ret;
}

int raft_snap_purge(const char *dir, size_t keep)
{
    struct snap_name *names;
    char path[4096];
    ssize_t n = list_snaps(dir, &names);
    if (n < 0)
        return (int)n;
    for (ssize_t i = (ssize_t)keep; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%016" PRIx64 "-%016" PRIx64 ".snap", dir, names[i].index,
                 names[i].term);
        if (unlink(path) < 0 && errno != ENOENT) {
            et_free(names);
            return -errno;
        }
    }
    et_free(names);
    return 0;
}

void raft_snap_free(struct raft_snap *s)
{
    et_free(s->meta);
    et_free(s->data);
    s->meta = s->data = NULL;
}
