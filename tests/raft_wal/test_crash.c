/*
 * tests/raft_wal/test_crash.c - kill -9 at random moments. 20 rounds: run crash_writer on one
 * WAL directory, read the indexes it acknowledges (printed after fdatasync returned), SIGKILL it
 * after a random few milliseconds, then reopen the WAL and check that every acknowledged index is
 * there with its bytes, and that the log has no holes. Each round resumes the previous one's log.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "core/clock.h"
#include "raft/wal.h"
#include "t_util.h"

struct t_check {
    raft_index next; /* the index expected next */
    int bad;
};

static int t_verify(void *data, const struct raft_wal_record *r)
{
    struct t_check *c = data;
    if (r->type != RAFT_WAL_ENTRY)
        return 0;
    const struct raft_wal_entry *e = &r->entry;
    size_t len = (size_t)(e->index * 7919 % 2048);
    const unsigned char *b = e->data;
    if (e->index != c->next || e->len != len)
        c->bad++;
    for (size_t k = 0; k < e->len && k < len; k++)
        if (b[k] != (unsigned char)(e->index + k))
            c->bad++;
    c->next = e->index + 1;
    return 0;
}

/* Runs the writer for about @ms, kills it, returns the highest acknowledged index. */
static raft_index t_run_and_kill(const char *dir, int ms)
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(T_CRASH_WRITER, T_CRASH_WRITER, dir, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[65536], part[32];
    size_t plen = 0;
    raft_index acked = 0;
    int64_t kill_at = et_mono_ns() + (int64_t)ms * ET_NS_PER_MSEC;
    bool killed = false;
    for (;;) {
        int64_t left = kill_at - et_mono_ns();
        if (!killed && left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (poll(&p, 1, killed ? 5000 : (int)(left / ET_NS_PER_MSEC) + 1) <= 0) {
            cr_assert(!killed, "the writer's pipe did not close after SIGKILL");
            continue;
        }
        ssize_t n = read(pfd[0], buf, sizeof(buf));
        if (n == 0)
            break; /* every line written before the kill has been read */
        cr_assert_gt(n, 0);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                cr_assert_lt(plen, sizeof(part) - 1);
                part[plen++] = buf[i];
                continue;
            }
            part[plen] = '\0';
            plen = 0;
            raft_index v = strtoull(part, NULL, 10);
            cr_assert_gt(v, acked, "acknowledged indexes grow");
            acked = v;
        }
    }
    close(pfd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (!killed || !WIFSIGNALED(status))
        cr_assert_fail("the writer exited by itself (status %d)", status);
    return acked;
}

Test(raft_wal_crash, every_acknowledged_index_survives_kill_9, .timeout = 300)
{
    char *dir = t_mkdtemp();
    unsigned seed = (unsigned)time(NULL);
    raft_index acked_max = 0;
    srand(seed);
    cr_log_info("seed %u", seed);
    cr_redirect_stderr(); /* torn-tail warnings */
    for (int round = 0; round < 20; round++) {
        raft_index acked = t_run_and_kill(dir, 5 + rand() % 60);
        if (acked > acked_max)
            acked_max = acked;
        struct t_check c = { .next = 1 };
        struct raft_wal *w;
        struct raft_wal_options opt = { .segment_bytes = 256u << 10 };
        cr_assert_eq(raft_wal_open(dir, &opt, t_verify, &c, &w), 0, "round %d (seed %u)", round,
                     seed);
        raft_wal_close(w);
        cr_assert_eq(c.bad, 0, "round %d: entries damaged or out of order (seed %u)", round, seed);
        cr_assert_geq(c.next - 1, acked_max,
                      "round %d: acknowledged index %llu lost, log ends at %llu (seed %u)", round,
                      (unsigned long long)acked_max, (unsigned long long)(c.next - 1), seed);
    }
    cr_assert_gt(acked_max, 20, "the writer made progress");
    t_rm_rf(dir);
}
