/* Thread semantics, for the sandbox class against the container class (tests/sandbox_threads.rs).
 * A static program (built with -pthread); each subcommand tests one area and prints one
 * `name=value` line per observation, only values that are the same on any Linux (no tids, no
 * times: `tid_differs=1` rather than a tid). A value that is not what Linux gives is followed by
 * a line `FAIL name: got X, want Y`; the program goes on and exits 1 at the end if anything
 * failed. No check compares durations; every wait is bounded (2 s at most), and a watchdog
 * thread ends the program (exit 3) if an area still runs after 20 s.
 *
 *   threads mutex    pthread mutex under contention, condition variables (hand-off,
 *                    ping-pong, broadcast), join values, detached threads, tids, TLS, errno
 *   threads futex    raw futex(2): WAIT/WAKE, timeouts (relative, absolute, CLOCK_REALTIME),
 *                    WAIT_BITSET/WAKE_BITSET, CMP_REQUEUE, WAKE_OP, shared futexes between
 *                    processes, argument errors
 *   threads pi       FUTEX_LOCK_PI/TRYLOCK_PI/UNLOCK_PI on a word, PTHREAD_PRIO_INHERIT mutex
 *   threads robust   robust mutexes whose owner thread or process dies: EOWNERDEAD,
 *                    pthread_mutex_consistent, ENOTRECOVERABLE
 *   threads exit     CLONE_CHILD_CLEARTID and set_tid_address, exit_group from a thread, the
 *                    leader's exit before the other threads, execve and fork from a thread
 *   threads signals  tgkill to a thread, process signals to the one thread not blocking them,
 *                    pending process signals, futex waits interrupted (EINTR or restarted),
 *                    sched_yield, sched_getaffinity, getcpu
 *   threads fs       CLONE_FS: a thread's chdir and umask are its process's (pthreads share
 *                    them), a forked child's are its own
 *
 * The rootfs must hold this program as /bin/threads (the exit area execs it). The program runs
 * as the container's pid 1: signals it has no handler for are ignored by it.
 * Internal subcommand run by exec: helper-exec READY_FD GO_FD PID.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

static const char *area_name = "?";

/* ---------------------------------------------------------------- reporting */

/* ---------------------------------------------------------------- helpers */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* `clock`'s time now plus ms. */
static struct timespec deadline(clockid_t clock, long ms) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits (bounded, 2 s) until *p == want; 1 if it came. */
static int wait_for(int *p, int want) {
    for (long end = now_ms() + 2000; LOAD(p) != want;) {
        if (now_ms() > end)
            return 0;
        sleep_ms(1);
    }
    return 1;
}

/* Waits (bounded, 2 s) until *p >= want; 1 if it came. */
static int wait_at_least(int *p, int want) {
    for (long end = now_ms() + 2000; LOAD(p) < want;) {
        if (now_ms() > end)
            return 0;
        sleep_ms(1);
    }
    return 1;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static long fx(void *uaddr, int op, int val, const void *ts, void *uaddr2, int val3) {
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* Ends the area now: what cannot go on (a thread that did not start). */
static void give_up(const char *what) {
    fail(what, "cannot go on");
    printf("%s: FAILED\n", area_name);
    fflush(stdout);
    _exit(1);
}

static pthread_t spawn(void *(*fn)(void *), void *arg, const char *what) {
    pthread_t t;
    int r = pthread_create(&t, NULL, fn, arg);
    if (r != 0) {
        printf("FAIL %s: pthread_create %s\n", what, errname(r));
        give_up(what);
    }
    return t;
}

/* pthread_join bounded at 2 s; the join's error number (a FAIL when not 0). */
static int join(pthread_t t, void **ret, const char *what) {
    struct timespec ts = deadline(CLOCK_MONOTONIC, 2000);
    int r = pthread_clockjoin_np(t, ret, CLOCK_MONOTONIC, &ts);
    if (r != 0) {
        char b[64];
        snprintf(b, sizeof b, "pthread_join %s", errname(r));
        fail(what, b);
    }
    return r;
}

/* Reads exactly n bytes, waiting at most 2 s in all; 1 if they came. */
static int read_timed(int fd, void *buf, size_t n) {
    size_t got = 0;
    long end = now_ms() + 2000;
    while (got < n) {
        long left = end - now_ms();
        if (left < 0)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0;
        got += k;
    }
    return 1;
}

/* A futex waiter thread: waits once on `word` with `op` (a bitset wait when bitset is set,
 * with an absolute 2 s deadline, else a relative 2 s timeout) and records the result. */
struct waiter {
    pthread_t t;
    int *word;
    int op;
    int val;
    int bitset;
    int started, done;
    long ret;
    int err;
};

static void *waiter_fn(void *p) {
    struct waiter *w = p;
    STORE(&w->started, 1);
    errno = 0;
    long r;
    if (w->bitset) {
        struct timespec ts = deadline(CLOCK_MONOTONIC, 2000);
        r = fx(w->word, w->op, w->val, &ts, NULL, w->bitset);
    } else {
        struct timespec ts = {2, 0};
        r = fx(w->word, w->op, w->val, &ts, NULL, 0);
    }
    w->err = errno;
    w->ret = r;
    STORE(&w->done, 1);
    return NULL;
}

static void start_waiter(struct waiter *w, int *word, int op, int val, int bitset) {
    memset(w, 0, sizeof *w);
    w->word = word;
    w->op = op;
    w->val = val;
    w->bitset = bitset;
    w->t = spawn(waiter_fn, w, "waiter");
    if (!wait_for(&w->started, 1))
        fail("waiter", "never started");
}

/* Calls a waking futex op until `want` waiters were woken in all (at most 2 s): the total.
 * *max_seen gets the largest count one call returned; an error stops the loop. */
static long wake_until(int *word, int op, int n, long val2, int *word2, int val3, int want,
                       long *max_seen) {
    long total = 0;
    *max_seen = 0;
    for (long end = now_ms() + 2000; total < want && now_ms() <= end;) {
        long r = fx(word, op, n, (void *)val2, word2, val3);
        if (r < 0) {
            char b[64];
            snprintf(b, sizeof b, "wake op %d: %s", op, errname(errno));
            fail("wake_until", b);
            return total;
        }
        if (r > *max_seen)
            *max_seen = r;
        total += r;
        if (total < want)
            sleep_ms(1);
    }
    return total;
}

/* Joins waiters and counts those whose wait returned 0 (woken). */
static int reap_waiters(struct waiter *w, int n) {
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (!wait_for(&w[i].done, 1)) {
            fail("waiter", "still waiting after 2 s");
            continue;
        }
        join(w[i].t, NULL, "waiter");
        ok += w[i].ret == 0;
    }
    return ok;
}

/* ---------------------------------------------------------------- watchdog */

static void *watchdog_fn(void *p) {
    (void)p;
    sleep_ms(20000);
    char b[128];
    int n = snprintf(b, sizeof b, "FAIL watchdog: %s still running after 20 s\n", area_name);
    if (write(1, b, n) < 0) {
    }
    _exit(3);
}

/* A detached thread with every signal blocked: it takes no signal of the tests. */
static void start_watchdog(void) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, watchdog_fn, NULL) != 0)
        fail("watchdog", "pthread_create failed");
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- mutex */

static pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int lock_errors;
static __thread int tls_var;

struct tinfo {
    int idx;
    pid_t tid, pid, ppid;
    int tls_ok;
    int *tls_addr;
    int errno_after;
    int *errno_addr;
};

static void *count_fn(void *p) {
    struct tinfo *ti = p;
    ti->tid = gettid_();
    ti->pid = getpid();
    ti->ppid = getppid();
    tls_var = ti->idx;
    ti->tls_addr = &tls_var;
    for (int i = 0; i < 100000; i++) {
        if (pthread_mutex_lock(&mx) != 0) {
            lock_errors++;
            continue;
        }
        counter++;
        pthread_mutex_unlock(&mx);
    }
    ti->tls_ok = tls_var == ti->idx;
    /* errno is the thread's own. */
    close(-1);
    ti->errno_after = errno;
    ti->errno_addr = &errno;
    return (void *)(intptr_t)(7 + ti->idx);
}

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, handoff, pongs, cond_timeouts, bc_waiting, bc_go, bc_woke;

/* Waits on cv (cm held) with a 2 s deadline; 0 on timeout. */
static int cv_wait(void) {
    struct timespec ts = deadline(CLOCK_MONOTONIC, 2000);
    int r = pthread_cond_clockwait(&cv, &cm, CLOCK_MONOTONIC, &ts);
    if (r == ETIMEDOUT) {
        cond_timeouts++;
        return 0;
    }
    return 1;
}

static void *handoff_fn(void *p) {
    (void)p;
    pthread_mutex_lock(&cm);
    handoff = 42;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&cm);
        while (turn != 1)
            if (!cv_wait())
                break;
        turn = 0;
        pongs++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&cm);
    }
    return NULL;
}

static void *bcast_fn(void *p) {
    (void)p;
    pthread_mutex_lock(&cm);
    bc_waiting++;
    while (!bc_go)
        if (!cv_wait())
            break;
    bc_woke += bc_go;
    pthread_mutex_unlock(&cm);
    return NULL;
}

static int detached_ran;
static void *detached_fn(void *p) {
    (void)p;
    STORE(&detached_ran, 1);
    return NULL;
}

static void *ret_fn(void *p) { return p; }

static int t_mutex(void) {
    /* Four threads, 100000 increments each under one mutex. */
    struct tinfo ti[4];
    pthread_t t[4];
    memset(ti, 0, sizeof ti);
    tls_var = 99;
    for (int i = 0; i < 4; i++) {
        ti[i].idx = i + 1;
        t[i] = spawn(count_fn, &ti[i], "counter");
    }
    int joined_ok = 0;
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        if (join(t[i], &r, "counter") == 0)
            joined_ok += (intptr_t)r == 7 + i + 1;
    }
    show_int("mutex_counter", counter, 400000);
    show_int("mutex_lock_errors", lock_errors, 0);
    show_int("join_values", joined_ok, 4);
    int tid_differs = 1, pid_same = 1, ppid_same = 1, tls_ok = 1, tls_distinct = 1, eb = 1;
    for (int i = 0; i < 4; i++) {
        tid_differs &= ti[i].tid != getpid() && ti[i].tid > 0;
        for (int j = 0; j < i; j++) {
            tid_differs &= ti[i].tid != ti[j].tid;
            tls_distinct &= ti[i].tls_addr != ti[j].tls_addr;
        }
        tls_distinct &= ti[i].tls_addr != &tls_var;
        pid_same &= ti[i].pid == getpid();
        ppid_same &= ti[i].ppid == getppid();
        tls_ok &= ti[i].tls_ok;
        eb &= ti[i].errno_after == EBADF && ti[i].errno_addr != &errno;
    }
    show_int("main_tid_is_pid", gettid_() == getpid(), 1);
    show_int("thread_tids_differ", tid_differs, 1);
    show_int("thread_pid_same", pid_same, 1);
    show_int("thread_ppid_same", ppid_same, 1);
    show_int("tls_own_value", tls_ok && tls_var == 99, 1);
    show_int("tls_distinct", tls_distinct, 1);
    show_int("errno_per_thread", eb, 1);
    SHOW_ERR("mutex_trylock_free", pthread_mutex_trylock(&mx), 0);
    pthread_mutex_unlock(&mx);

    /* A condition variable: a value handed over, then 100 round trips. */
    pthread_t h = spawn(handoff_fn, NULL, "handoff");
    pthread_mutex_lock(&cm);
    while (handoff != 42)
        if (!cv_wait())
            break;
    int got = handoff;
    pthread_mutex_unlock(&cm);
    show_int("cond_handoff", got, 42);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&cm);
        turn = 1;
        pthread_cond_broadcast(&cv);
        while (turn != 0)
            if (!cv_wait())
                break;
        pthread_mutex_unlock(&cm);
    }
    join(h, NULL, "handoff");
    show_int("cond_pingpong", pongs, 100);

    /* A broadcast wakes all three waiters. */
    pthread_t b[3];
    for (int i = 0; i < 3; i++)
        b[i] = spawn(bcast_fn, NULL, "broadcast");
    for (long end = now_ms() + 2000; now_ms() < end;) {
        pthread_mutex_lock(&cm);
        int n = bc_waiting;
        pthread_mutex_unlock(&cm);
        if (n == 3)
            break;
        sleep_ms(1);
    }
    pthread_mutex_lock(&cm);
    bc_go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&cm);
    for (int i = 0; i < 3; i++)
        join(b[i], NULL, "broadcast");
    show_int("cond_broadcast_woke", bc_woke, 3);
    /* A timed wait with nobody signalling ends with ETIMEDOUT. */
    pthread_mutex_lock(&cm);
    struct timespec ts = deadline(CLOCK_MONOTONIC, 20);
    SHOW_ERR("cond_clockwait_timeout", pthread_cond_clockwait(&cv, &cm, CLOCK_MONOTONIC, &ts),
             ETIMEDOUT);
    ts = deadline(CLOCK_REALTIME, 20);
    SHOW_ERR("cond_timedwait_timeout", pthread_cond_timedwait(&cv, &cm, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&cm);
    show_int("cond_timeouts", cond_timeouts, 0);

    /* Join values, detached threads. */
    void *rv = NULL;
    pthread_t r = spawn(ret_fn, (void *)(intptr_t)1234, "ret");
    join(r, &rv, "ret");
    show_int("join_value", (intptr_t)rv, 1234);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t d;
    SHOW_ERR("create_detached", pthread_create(&d, &a, detached_fn, NULL), 0);
    pthread_attr_destroy(&a);
    show_int("detached_ran", wait_for(&detached_ran, 1), 1);
    pthread_t d2 = spawn(ret_fn, NULL, "detach");
    SHOW_ERR("pthread_detach", pthread_detach(d2), 0);
    return 0;
}

/* ---------------------------------------------------------------- futex */

static int fw, fw2;

static int t_futex(void) {
    struct timespec rel = {0, 20 * 1000000L};
    struct timespec ts;
    long max_seen;

    /* Waits that return at once or time out. */
    fw = 1;
    SHOW_RET("wait_mismatch", fx(&fw, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), -1, EAGAIN);
    SHOW_RET("wait_mismatch_shared", fx(&fw, FUTEX_WAIT, 0, NULL, NULL, 0), -1, EAGAIN);
    fw = 0;
    SHOW_RET("wait_timeout", fx(&fw, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0), -1, ETIMEDOUT);
    SHOW_RET("wait_timeout_shared", fx(&fw, FUTEX_WAIT, 0, &rel, NULL, 0), -1, ETIMEDOUT);
    ts = deadline(CLOCK_MONOTONIC, 20);
    SHOW_RET("wait_bitset_abs_monotonic",
             fx(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), -1,
             ETIMEDOUT);
    ts = deadline(CLOCK_REALTIME, 20);
    SHOW_RET("wait_bitset_abs_realtime",
             fx(&fw, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts, NULL,
                FUTEX_BITSET_MATCH_ANY),
             -1, ETIMEDOUT);
    ts.tv_sec = 1;
    ts.tv_nsec = 0;
    SHOW_RET("wait_bitset_past_deadline",
             fx(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), -1,
             ETIMEDOUT);
    ts = deadline(CLOCK_MONOTONIC, 20);
    SHOW_RET("wait_bitset_zero", fx(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, 0), -1, EINVAL);
    struct timespec bad = {0, 2000000000L};
    SHOW_RET("wait_bad_timeout", fx(&fw, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0), -1, EINVAL);
    SHOW_RET("wait_unaligned", fx((char *)&fw + 1, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0), -1,
             EINVAL);
    SHOW_RET("wake_unaligned", fx((char *)&fw + 1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), -1,
             EINVAL);
    SHOW_RET("wait_null", fx(NULL, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0), -1, EFAULT);
    SHOW_RET("bad_op", fx(&fw, 99, 0, NULL, NULL, 0), -1, ENOSYS);
    SHOW_RET("wake_clock_realtime", fx(&fw, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0),
             -1, ENOSYS);
    SHOW_RET("wake_nobody", fx(&fw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0, 0);

    /* WAKE of one at a time, then of all: three waiters each time. */
    struct waiter w[3];
    fw = 0;
    for (int i = 0; i < 3; i++)
        start_waiter(&w[i], &fw, FUTEX_WAIT_PRIVATE, 0, 0);
    show_int("wake_one_total", wake_until(&fw, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0, 3, &max_seen), 3);
    show_int("wake_one_max", max_seen, 1);
    show_int("wake_one_woken", reap_waiters(w, 3), 3);
    for (int i = 0; i < 3; i++)
        start_waiter(&w[i], &fw, FUTEX_WAIT_PRIVATE, 0, 0);
    show_int("wake_all_total",
             wake_until(&fw, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0, 3, &max_seen), 3);
    show_int("wake_all_max_ok", max_seen >= 1 && max_seen <= 3, 1);
    show_int("wake_all_woken", reap_waiters(w, 3), 3);
    /* Shared (not private) waiters, woken by a shared wake. */
    for (int i = 0; i < 2; i++)
        start_waiter(&w[i], &fw, FUTEX_WAIT, 0, 0);
    show_int("wake_shared_total", wake_until(&fw, FUTEX_WAKE, INT_MAX, 0, NULL, 0, 2, &max_seen),
             2);
    show_int("wake_shared_woken", reap_waiters(w, 2), 2);

    /* WAKE_BITSET wakes the waiters whose bitset it meets, not the others. */
    start_waiter(&w[0], &fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x1);
    start_waiter(&w[1], &fw, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x2);
    show_int("wake_bitset_2_total",
             wake_until(&fw, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, 0x2, 1, &max_seen), 1);
    show_int("wake_bitset_2_max", max_seen, 1);
    wait_for(&w[1].done, 1);
    show_int("wake_bitset_2_woke_waiter_2", LOAD(&w[1].done) && w[1].ret == 0, 1);
    show_int("wake_bitset_2_left_waiter_1", LOAD(&w[0].done), 0);
    show_int("wake_bitset_1_total",
             wake_until(&fw, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, 0x1, 1, &max_seen), 1);
    show_int("wake_bitset_woken", reap_waiters(w, 2), 2);
    SHOW_RET("wake_bitset_zero", fx(&fw, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), -1, EINVAL);
    /* A plain WAIT is a bitset wait with every bit: a WAKE_BITSET of any bit wakes it. */
    start_waiter(&w[0], &fw, FUTEX_WAIT_PRIVATE, 0, 0);
    show_int("wake_bitset_wakes_plain_wait",
             wake_until(&fw, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 0x40, 1, &max_seen), 1);
    show_int("wake_bitset_plain_woken", reap_waiters(w, 1), 1);

    /* CMP_REQUEUE: a wrong value, then three waiters moved from fw to fw2. */
    fw = 5;
    fw2 = 0;
    SHOW_RET("cmp_requeue_wrong_value",
             fx(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)1L, &fw2, 6), -1, EAGAIN);
    SHOW_RET("cmp_requeue_negative",
             fx(&fw, FUTEX_CMP_REQUEUE_PRIVATE, -1, (void *)1L, &fw2, 5), -1, EINVAL);
    SHOW_RET("cmp_requeue_nobody", fx(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &fw2, 5), 0,
             0);
    for (int i = 0; i < 3; i++)
        start_waiter(&w[i], &fw, FUTEX_WAIT_PRIVATE, 5, 0);
    show_int("cmp_requeue_moved",
             wake_until(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &fw2, 5, 3, &max_seen), 3);
    show_int("cmp_requeue_none_woken", LOAD(&w[0].done) + LOAD(&w[1].done) + LOAD(&w[2].done), 0);
    SHOW_RET("wake_first_word_after_requeue", fx(&fw, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0),
             0, 0);
    SHOW_RET("wake_second_word_after_requeue",
             fx(&fw2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 3, 0);
    show_int("cmp_requeue_woken", reap_waiters(w, 3), 3);
    /* CMP_REQUEUE that wakes one and moves one of two waiters: both moved to fw2 first (so
     * that both are queued), then from fw2 back to fw. */
    for (int i = 0; i < 2; i++)
        start_waiter(&w[i], &fw, FUTEX_WAIT_PRIVATE, 5, 0);
    show_int("cmp_requeue_moved_two",
             wake_until(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &fw2, 5, 2, &max_seen), 2);
    SHOW_RET("cmp_requeue_wake_one_move_one",
             fx(&fw2, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &fw, 0), 2, 0);
    SHOW_RET("cmp_requeue_moved_back", fx(&fw, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1, 0);
    SHOW_RET("cmp_requeue_second_word_empty", fx(&fw2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0),
             0, 0);
    show_int("cmp_requeue_wake_and_move_woken", reap_waiters(w, 2), 2);

    /* WAKE_OP: the operation on the second word, then the wakes its comparison allows. */
    fw = 0;
    fw2 = 5;
#define WAKE_OP(op, arg, cmp, cmparg) fx(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2, \
                                         FUTEX_OP((op), (arg), (cmp), (cmparg)))
    SHOW_RET("wake_op_set", WAKE_OP(FUTEX_OP_SET, 9, FUTEX_OP_CMP_EQ, 5), 0, 0);
    show_int("wake_op_set_word", fw2, 9);
    SHOW_RET("wake_op_add", WAKE_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 0), 0, 0);
    show_int("wake_op_add_word", fw2, 12);
    SHOW_RET("wake_op_or_shift", WAKE_OP(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_GT, 1),
             0, 0);
    show_int("wake_op_or_shift_word", fw2, 28);
    SHOW_RET("wake_op_andn", WAKE_OP(FUTEX_OP_ANDN, 4, FUTEX_OP_CMP_NE, 0), 0, 0);
    show_int("wake_op_andn_word", fw2, 24);
    SHOW_RET("wake_op_xor", WAKE_OP(FUTEX_OP_XOR, 1, FUTEX_OP_CMP_LT, 0), 0, 0);
    show_int("wake_op_xor_word", fw2, 25);
    SHOW_RET("wake_op_bad_op", WAKE_OP(7, 1, FUTEX_OP_CMP_EQ, 0), -1, ENOSYS);
    show_int("wake_op_bad_op_word", fw2, 25);
    /* A waiter on each word; a false comparison wakes only the first word's. */
    start_waiter(&w[1], &fw2, FUTEX_WAIT_PRIVATE, 25, 0);
    long falses = 0;
    for (int i = 0; i < 5; i++) {
        falses += WAKE_OP(FUTEX_OP_SET, 25, FUTEX_OP_CMP_NE, 25);
        sleep_ms(1);
    }
    show_int("wake_op_cmp_false_woke", falses, 0);
    show_int("wake_op_cmp_false_waiter_left", LOAD(&w[1].done), 0);
    start_waiter(&w[0], &fw, FUTEX_WAIT_PRIVATE, 0, 0);
    show_int("wake_op_cmp_true_total",
             wake_until(&fw, FUTEX_WAKE_OP_PRIVATE, 1, 1, &fw2,
                        FUTEX_OP(FUTEX_OP_SET, 25, FUTEX_OP_CMP_EQ, 25), 2, &max_seen),
             2);
    show_int("wake_op_cmp_true_max_ok", max_seen >= 1 && max_seen <= 2, 1);
    show_int("wake_op_woken", reap_waiters(w, 2), 2);
    show_int("wake_op_final_word", fw2, 25);

    /* A futex in a MAP_SHARED page, between processes: the child waits, the parent wakes. */
    int *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        give_up("mmap shared");
    page[0] = 0; /* the futex */
    page[1] = 0; /* the child is about to wait */
    pid_t c = xfork();
    if (c == 0) {
        STORE(&page[1], 1);
        struct timespec two = {2, 0};
        long r = fx(&page[0], FUTEX_WAIT, 0, &two, NULL, 0);
        _exit(r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 2);
    }
    if (c > 0) {
        show_int("shared_child_started", wait_for(&page[1], 1), 1);
        show_int("shared_wake_total",
                 wake_until(&page[0], FUTEX_WAKE, INT_MAX, 0, NULL, 0, 1, &max_seen), 1);
        show("shared_child", reap_ms(c, 2000, "shared futex child"), "exited 0");
    }
    /* A private wake is keyed by the waker's own address space: it does not reach a waiter
     * of another process (a shared wake then ends the child's wait). */
    page[1] = 0;
    c = xfork();
    if (c == 0) {
        STORE(&page[1], 1);
        struct timespec two = {2, 0};
        long r = fx(&page[0], FUTEX_WAIT, 0, &two, NULL, 0);
        _exit(r == 0 ? 0 : errno == ETIMEDOUT ? 1 : 2);
    }
    if (c > 0) {
        wait_for(&page[1], 1);
        long priv = 0;
        for (int i = 0; i < 5; i++) {
            priv += fx(&page[0], FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
            sleep_ms(1);
        }
        show_int("shared_private_wake_other_process", priv, 0);
        for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1)) {
            fx(&page[0], FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
            if (waitpid(c, NULL, WNOHANG) != 0)
                break;
        }
        reap_ms(c, 2000, "private wake child");
    }
    /* The child wakes the parent through the same page. */
    page[0] = 0;
    page[1] = 0;
    c = xfork();
    if (c == 0) {
        if (!wait_for(&page[1], 1))
            _exit(3);
        long total = 0;
        for (long end = now_ms() + 2000; total < 1 && now_ms() < end; sleep_ms(1))
            total += fx(&page[0], FUTEX_WAKE, 1, NULL, NULL, 0);
        _exit(total == 1 ? 0 : 1);
    }
    if (c > 0) {
        STORE(&page[1], 1);
        struct timespec two = {2, 0};
        SHOW_RET("shared_parent_woken_by_child", fx(&page[0], FUTEX_WAIT, 0, &two, NULL, 0), 0, 0);
        show("shared_waker_child", reap_ms(c, 2000, "shared futex waker"), "exited 0");
    }
    munmap(page, 4096);
    return 0;
}

/* ---------------------------------------------------------------- pi */

static int pw, pw2, pw3;

struct pi_info {
    int started;
    pid_t tid;
    long ret, ret_unlock, ret_try, ret_unlock_other;
    int err, err_unlock, err_try, err_unlock_other;
    int word_after;
};

/* Tries (TRYLOCK_PI) and unlocks (UNLOCK_PI) pw, which main holds. */
static void *pi_try_fn(void *p) {
    struct pi_info *pi = p;
    errno = 0;
    pi->ret_try = fx(&pw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    pi->err_try = errno;
    errno = 0;
    pi->ret_unlock_other = fx(&pw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    pi->err_unlock_other = errno;
    /* LOCK_PI with a deadline (absolute, CLOCK_REALTIME) that comes first. */
    struct timespec ts = deadline(CLOCK_REALTIME, 20);
    errno = 0;
    pi->ret = fx(&pw, FUTEX_LOCK_PI_PRIVATE, 0, &ts, NULL, 0);
    pi->err = errno;
    return NULL;
}

/* Blocks in LOCK_PI on pw2 until main unlocks it; then unlocks it. */
static void *pi_lock_fn(void *p) {
    struct pi_info *pi = p;
    pi->tid = gettid_();
    STORE(&pi->started, 1);
    struct timespec ts = deadline(CLOCK_REALTIME, 2000);
    errno = 0;
    pi->ret = fx(&pw2, FUTEX_LOCK_PI_PRIVATE, 0, &ts, NULL, 0);
    pi->err = errno;
    pi->word_after = LOAD(&pw2);
    errno = 0;
    pi->ret_unlock = fx(&pw2, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    pi->err_unlock = errno;
    return NULL;
}

/* pthread_mutex_timedlock with a 2 s deadline: the error number. */
static int lock2s(pthread_mutex_t *m) {
    struct timespec ts = deadline(CLOCK_REALTIME, 2000);
    return pthread_mutex_timedlock(m, &ts);
}

static pthread_mutex_t pim;
static long pi_counter;
static int pi_lock_errors, pi_first_error, pi_trylock_busy;

static void *pi_count_fn(void *p) {
    (void)p;
    struct timespec ts = {0, 0};
    for (int i = 0; i < 20000; i++) {
        if (i % 1000 == 0)
            ts = deadline(CLOCK_REALTIME, 2000);
        int r = pthread_mutex_timedlock(&pim, &ts);
        if (r != 0) {
            if (!pi_lock_errors++)
                pi_first_error = r;
            continue;
        }
        pi_counter++;
        pthread_mutex_unlock(&pim);
    }
    return NULL;
}

static void *pi_trylock_fn(void *p) {
    (void)p;
    pi_trylock_busy = pthread_mutex_trylock(&pim);
    if (pi_trylock_busy == 0)
        pthread_mutex_unlock(&pim);
    return NULL;
}

static int t_pi(void) {
    pid_t me = gettid_();
    /* Uncontended: the word holds the owner's tid. */
    pw = 0;
    SHOW_RET("lock_pi", fx(&pw, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    show_int("lock_pi_word_is_tid", pw == me, 1);
    SHOW_RET("lock_pi_again", fx(&pw, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), -1, EDEADLK);
    SHOW_RET("trylock_pi_own", fx(&pw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), -1, EDEADLK);
    SHOW_RET("unlock_pi", fx(&pw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    show_int("unlock_pi_word", pw, 0);
    SHOW_RET("unlock_pi_not_owner", fx(&pw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), -1, EPERM);
    SHOW_RET("trylock_pi", fx(&pw, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    show_int("trylock_pi_word_is_tid", pw == me, 1);
    /* Another thread: TRYLOCK_PI fails, UNLOCK_PI is not its to do, LOCK_PI times out. */
    struct pi_info a;
    memset(&a, 0, sizeof a);
    pthread_t t = spawn(pi_try_fn, &a, "pi try");
    join(t, NULL, "pi try");
    show_ret("trylock_pi_other_thread", a.ret_try, a.err_try, -1, EAGAIN);
    show_ret("unlock_pi_other_thread", a.ret_unlock_other, a.err_unlock_other, -1, EPERM);
    show_ret("lock_pi_timeout", a.ret, a.err, -1, ETIMEDOUT);
    show_int("lock_pi_word_owner_kept", (pw & FUTEX_TID_MASK) == me, 1);
    SHOW_RET("unlock_pi_after_waiters", fx(&pw, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    show_int("unlock_pi_after_waiters_word", pw, 0);
    /* An owner that does not exist. */
    pw3 = 0x3ffffff0;
    SHOW_RET("trylock_pi_dead_owner", fx(&pw3, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), -1,
             ESRCH);

    /* Contended: a second thread blocks (the word gets FUTEX_WAITERS) and gets the lock after
     * the unlock, with its tid in the word. */
    pw2 = 0;
    SHOW_RET("lock_pi_contended", fx(&pw2, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    struct pi_info b;
    memset(&b, 0, sizeof b);
    t = spawn(pi_lock_fn, &b, "pi lock");
    wait_for(&b.started, 1);
    int waiters = 0;
    for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1))
        if (LOAD(&pw2) & FUTEX_WAITERS) {
            waiters = 1;
            break;
        }
    show_int("lock_pi_waiters_bit", waiters, 1);
    show_int("lock_pi_waiters_owner_kept", (pw2 & FUTEX_TID_MASK) == me, 1);
    SHOW_RET("unlock_pi_to_waiter", fx(&pw2, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0, 0);
    join(t, NULL, "pi lock");
    show_ret("lock_pi_waiter_got_it", b.ret, b.err, 0, 0);
    show_int("lock_pi_word_is_waiter_tid", (b.word_after & FUTEX_TID_MASK) == b.tid, 1);
    show_ret("unlock_pi_by_waiter", b.ret_unlock, b.err_unlock, 0, 0);
    show_int("lock_pi_final_word", pw2, 0);

    /* A PTHREAD_PRIO_INHERIT mutex used by two threads. */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    SHOW_ERR("mutexattr_prio_inherit", pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT), 0);
    SHOW_ERR("pi_mutex_init", pthread_mutex_init(&pim, &ma), 0);
    pthread_mutexattr_destroy(&ma);
    pthread_t c[2];
    for (int i = 0; i < 2; i++)
        c[i] = spawn(pi_count_fn, NULL, "pi counter");
    for (int i = 0; i < 2; i++)
        join(c[i], NULL, "pi counter");
    show_int("pi_mutex_counter", pi_counter, 40000);
    show_int("pi_mutex_lock_errors", pi_lock_errors, 0);
    show("pi_mutex_first_lock_error", errname(pi_first_error), "0");
    SHOW_ERR("pi_mutex_lock", lock2s(&pim), 0);
    t = spawn(pi_trylock_fn, NULL, "pi trylock");
    join(t, NULL, "pi trylock");
    show("pi_mutex_trylock_other", errname(pi_trylock_busy), "EBUSY");
    SHOW_ERR("pi_mutex_unlock", pthread_mutex_unlock(&pim), 0);
    /* A waiter blocked in the kernel gets it when it is unlocked. */
    SHOW_ERR("pi_mutex_lock_again", lock2s(&pim), 0);
    pi_counter = 0;
    t = spawn(pi_count_fn, NULL, "pi waiter");
    sleep_ms(10);
    SHOW_ERR("pi_mutex_unlock_again", pthread_mutex_unlock(&pim), 0);
    join(t, NULL, "pi waiter");
    show_int("pi_mutex_waiter_counter", pi_counter, 20000);
    SHOW_ERR("pi_mutex_destroy", pthread_mutex_destroy(&pim), 0);
    return 0;
}

/* ---------------------------------------------------------------- robust */

static pthread_mutex_t rm1, rm2, rm3;
static int rm3_held;

static void init_robust(pthread_mutex_t *m, int pshared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (pshared)
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (pthread_mutex_init(m, &a) != 0)
        give_up("robust mutex init");
    pthread_mutexattr_destroy(&a);
}

static void *lock_and_leave_fn(void *p) {
    return (void *)(intptr_t)pthread_mutex_lock((pthread_mutex_t *)p);
}

/* Holds rm3 while main blocks on it, then exits. */
static void *hold_rm3_fn(void *p) {
    (void)p;
    pthread_mutex_lock(&rm3);
    STORE(&rm3_held, 1);
    sleep_ms(20);
    return NULL;
}

static int t_robust(void) {
    init_robust(&rm1, 0);
    init_robust(&rm2, 0);
    init_robust(&rm3, 0);
    /* The owner thread ends without unlocking. */
    void *r = (void *)1;
    pthread_t t = spawn(lock_and_leave_fn, &rm1, "robust owner");
    join(t, &r, "robust owner");
    show_int("robust_owner_locked", (intptr_t)r, 0);
    show("robust_lock_owner_dead", errname(lock2s(&rm1)), "EOWNERDEAD");
    SHOW_ERR("robust_consistent", pthread_mutex_consistent(&rm1), 0);
    SHOW_ERR("robust_unlock", pthread_mutex_unlock(&rm1), 0);
    SHOW_ERR("robust_lock_after_consistent", lock2s(&rm1), 0);
    SHOW_ERR("robust_unlock_again", pthread_mutex_unlock(&rm1), 0);
    /* Unlocked without pthread_mutex_consistent: not recoverable. */
    t = spawn(lock_and_leave_fn, &rm2, "robust owner 2");
    join(t, NULL, "robust owner 2");
    show("robust_lock_owner_dead_2", errname(lock2s(&rm2)), "EOWNERDEAD");
    SHOW_ERR("robust_unlock_inconsistent", pthread_mutex_unlock(&rm2), 0);
    show("robust_not_recoverable", errname(lock2s(&rm2)), "ENOTRECOVERABLE");
    /* Main is waiting (or about to) when the owner thread ends. */
    t = spawn(hold_rm3_fn, NULL, "robust holder");
    wait_for(&rm3_held, 1);
    show("robust_waiter_owner_dead", errname(lock2s(&rm3)), "EOWNERDEAD");
    SHOW_ERR("robust_waiter_consistent", pthread_mutex_consistent(&rm3), 0);
    SHOW_ERR("robust_waiter_unlock", pthread_mutex_unlock(&rm3), 0);
    join(t, NULL, "robust holder");

    /* Across processes: a process-shared robust mutex in a MAP_SHARED page, its owner child
     * _exits. */
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        give_up("mmap shared");
    pthread_mutex_t *sm = (pthread_mutex_t *)page;
    int *held = (int *)(page + 2048);
    init_robust(sm, 1);
    pid_t c = xfork();
    if (c == 0)
        _exit(pthread_mutex_lock(sm) == 0 ? 0 : 1);
    if (c > 0) {
        show("shared_robust_owner", reap_ms(c, 2000, "robust owner child"), "exited 0");
        show("shared_robust_owner_dead", errname(lock2s(sm)), "EOWNERDEAD");
        SHOW_ERR("shared_robust_consistent", pthread_mutex_consistent(sm), 0);
        SHOW_ERR("shared_robust_unlock", pthread_mutex_unlock(sm), 0);
        SHOW_ERR("shared_robust_lock_again", lock2s(sm), 0);
        SHOW_ERR("shared_robust_unlock_again", pthread_mutex_unlock(sm), 0);
    }
    /* The parent waits while the child holds it and _exits. */
    *held = 0;
    c = xfork();
    if (c == 0) {
        if (pthread_mutex_lock(sm) != 0)
            _exit(1);
        STORE(held, 1);
        sleep_ms(20);
        _exit(0);
    }
    if (c > 0) {
        wait_for(held, 1);
        show("shared_robust_waiter_owner_dead", errname(lock2s(sm)), "EOWNERDEAD");
        SHOW_ERR("shared_robust_waiter_consistent", pthread_mutex_consistent(sm), 0);
        SHOW_ERR("shared_robust_waiter_unlock", pthread_mutex_unlock(sm), 0);
        show("shared_robust_holder", reap_ms(c, 2000, "robust holder child"), "exited 0");
    }
    /* The owner child is a thread of a child process that goes on living. */
    *held = 0;
    c = xfork();
    if (c == 0) {
        pthread_t ct;
        void *cr = (void *)1;
        if (pthread_create(&ct, NULL, lock_and_leave_fn, sm) != 0)
            _exit(2);
        struct timespec ts = deadline(CLOCK_MONOTONIC, 2000);
        if (pthread_clockjoin_np(ct, &cr, CLOCK_MONOTONIC, &ts) != 0 || cr != NULL)
            _exit(3);
        STORE(held, 1);
        /* Stays until the parent has seen EOWNERDEAD. */
        wait_for(held, 2);
        _exit(0);
    }
    if (c > 0) {
        wait_for(held, 1);
        show("shared_robust_thread_owner_dead", errname(lock2s(sm)), "EOWNERDEAD");
        SHOW_ERR("shared_robust_thread_consistent", pthread_mutex_consistent(sm), 0);
        SHOW_ERR("shared_robust_thread_unlock", pthread_mutex_unlock(sm), 0);
        STORE(held, 2);
        show("shared_robust_thread_child", reap_ms(c, 2000, "robust thread child"), "exited 0");
    }
    munmap(page, 4096);
    return 0;
}

/* ---------------------------------------------------------------- exit */

/* A raw clone thread (glibc's clone(), no TLS of its own): sets its clear-tid address to
 * cleared_word and ends with SYS_exit when its function returns. */
static int ctid_word = -1, cleared_word = 77, raw_tid_seen, raw_set_tid_ret, raw_go;
static char raw_stack[65536] __attribute__((aligned(16)));

static int raw_fn(void *p) {
    (void)p;
    raw_tid_seen = (int)syscall(SYS_gettid);
    raw_set_tid_ret = (int)syscall(SYS_set_tid_address, &cleared_word);
    while (!LOAD(&raw_go)) {
    }
    return 0;
}

/* Waits (bounded, 2 s) for the kernel to zero *word at a thread's exit, in FUTEX_WAIT (shared,
 * as the kernel's wake is): 1 if it became 0 and the waits ended by wakes or a changed value. */
static int wait_cleared(int *word) {
    for (long end = now_ms() + 2000;;) {
        int v = LOAD(word);
        if (v == 0)
            return 1;
        long left = end - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
        if (fx(word, FUTEX_WAIT, v, &ts, NULL, 0) == -1 && errno == ETIMEDOUT)
            return 0;
    }
}

static int gone_word = 1;

static void *spin_fn(void *p) {
    (void)p;
    for (long end = now_ms() + 3000; now_ms() < end;)
        for (volatile int i = 0; i < 100000; i++) {
        }
    return NULL;
}

static void *sleep_fn(void *p) {
    (void)p;
    sleep_ms(3000);
    return NULL;
}

/* Scenarios, each the body of a forked child whose status the parent reads. */
static void *exit7_fn(void *p) {
    (void)p;
    sleep_ms(5);
    exit(7);
}

static void *exit_group9_fn(void *p) {
    (void)p;
    sleep_ms(5);
    syscall(SYS_exit_group, 9);
    return NULL;
}

/* Waits for the leader to be gone (its clear-tid word, gone_word), then ends as *p says. */
static void *after_leader_fn(void *p) {
    int how = (int)(intptr_t)p;
    int ok = wait_cleared(&gone_word);
    if (!ok)
        _exit(6);
    switch (how) {
    case 0: _exit(5);
    case 1: pthread_exit(NULL);
    default: syscall(SYS_exit, 5);
    }
    return NULL;
}

/* The leader ends with `leader` (0: pthread_exit, 1: SYS_exit 3) while another thread goes on
 * and ends with `other` (0: _exit(5), 1: pthread_exit, 2: SYS_exit 5). */
static void leader_first(int leader, int other) {
    pthread_t t;
    if (pthread_create(&t, NULL, after_leader_fn, (void *)(intptr_t)other) != 0)
        _exit(90);
    syscall(SYS_set_tid_address, &gone_word);
    if (leader == 0)
        pthread_exit(NULL);
    syscall(SYS_exit, 3);
    _exit(91);
}

static int exec_fds[2][2], exec_tids[2];

static void *exec_fn(void *p) {
    (void)p;
    exec_tids[1] = gettid_();
    if (write(exec_fds[0][1], exec_tids, sizeof exec_tids) != sizeof exec_tids)
        _exit(97);
    char a1[16], a2[16], a3[16];
    snprintf(a1, sizeof a1, "%d", exec_fds[0][1]);
    snprintf(a2, sizeof a2, "%d", exec_fds[1][0]);
    snprintf(a3, sizeof a3, "%d", getpid());
    char *argv[] = {"/bin/threads", "helper-exec", a1, a2, a3, NULL};
    execve("/bin/threads", argv, environ);
    _exit(98);
}

static void *spin_tid_fn(void *p) {
    exec_tids[0] = gettid_();
    STORE((int *)p, 1);
    return spin_fn(NULL);
}

static int fork_child_pid;
static const char *fork_child_status;

static void *fork_child_ok_fn(void *p) { return p; }

/* Forks; the child checks it is one thread whose parent is the process, makes a thread of its
 * own and exits 21. With `reap`, this thread waits for it; else main does. */
static void *fork_fn(void *p) {
    int reap_here = (int)(intptr_t)p;
    pid_t pid = getpid();
    pid_t c = xfork();
    if (c == 0) {
        int code = 21;
        if (gettid_() != getpid())
            code = 22;
        else if (getppid() != pid)
            code = 23;
        else {
            pthread_t t;
            void *r = NULL;
            struct timespec ts = deadline(CLOCK_MONOTONIC, 2000);
            if (pthread_create(&t, NULL, fork_child_ok_fn, (void *)1) != 0 ||
                pthread_clockjoin_np(t, &r, CLOCK_MONOTONIC, &ts) != 0 || r != (void *)1)
                code = 24;
        }
        _exit(code);
    }
    fork_child_pid = c;
    if (reap_here && c > 0)
        fork_child_status = reap_ms(c, 2000, "fork from thread");
    return NULL;
}

static int t_exit(void) {
    /* CLONE_CHILD_CLEARTID through pthread: join after the thread is gone. */
    void *rv = NULL;
    pthread_t t = spawn(ret_fn, (void *)(intptr_t)55, "cleartid");
    sleep_ms(10);
    join(t, &rv, "cleartid");
    show_int("join_after_exit", (intptr_t)rv, 55);

    /* A raw clone: CLONE_PARENT_SETTID puts the tid in ctid_word; the thread moves its
     * clear-tid address (set_tid_address gives back its tid) to cleared_word, which the
     * kernel then zeroes and wakes at its exit; ctid_word keeps the tid. */
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    int ctid = clone(raw_fn, raw_stack + sizeof raw_stack, flags, NULL, &ctid_word, NULL,
                     &ctid_word);
    if (ctid < 0)
        give_up("clone");
    show_int("clone_parent_settid", ctid_word == ctid, 1);
    for (long end = now_ms() + 2000; !LOAD(&raw_set_tid_ret) && now_ms() < end;)
        sleep_ms(1);
    show_int("raw_thread_tid", raw_tid_seen == ctid, 1);
    show_int("set_tid_address_returns_tid", raw_set_tid_ret == ctid, 1);
    STORE(&raw_go, 1);
    show_int("set_tid_address_word_cleared_and_woken", wait_cleared(&cleared_word), 1);
    show_int("clear_child_tid_old_word_kept", ctid_word == ctid, 1);

    /* A thread calls exit() (exit_group) while others spin or sleep. */
    struct {
        const char *name;
        void *(*fn)(void *);
        const char *want;
    } groups[] = {
        {"thread_exit_call", exit7_fn, "exited 7"},
        {"thread_exit_group", exit_group9_fn, "exited 9"},
    };
    for (unsigned i = 0; i < sizeof groups / sizeof *groups; i++) {
        pid_t c = xfork();
        if (c == 0) {
            pthread_t a, b, e;
            if (pthread_create(&a, NULL, spin_fn, NULL) || pthread_create(&b, NULL, sleep_fn, NULL) ||
                pthread_create(&e, NULL, groups[i].fn, NULL))
                _exit(90);
            sleep_ms(3000);
            _exit(91);
        }
        if (c > 0)
            show(groups[i].name, reap_ms(c, 2000, groups[i].name), groups[i].want);
    }

    /* The leader ends first; the status is the last way out: exit_group's code, glibc's
     * exit(0) after the last pthread_exit, or, when the last thread ends with SYS_exit, that
     * thread's code (Linux 5.19 and later: the last thread to exit sets the group's exit code;
     * before, the leader's own code was reported: `old`, accepted too). */
    struct {
        const char *name;
        int leader, other;
        const char *want, *old;
    } firsts[] = {
        {"leader_pthread_exit_then_exit_group", 0, 0, "exited 5", "exited 5"},
        {"leader_pthread_exit_then_pthread_exit", 0, 1, "exited 0", "exited 0"},
        {"leader_pthread_exit_then_sys_exit", 0, 2, "exited 5", "exited 0"},
        {"leader_sys_exit_then_exit_group", 1, 0, "exited 5", "exited 5"},
        {"leader_sys_exit_then_sys_exit", 1, 2, "exited 5", "exited 3"},
    };
    for (unsigned i = 0; i < sizeof firsts / sizeof *firsts; i++) {
        pid_t c = xfork();
        if (c == 0)
            leader_first(firsts[i].leader, firsts[i].other);
        if (c > 0)
            show_either(firsts[i].name, reap_ms(c, 2000, firsts[i].name), firsts[i].want, firsts[i].old);
    }

    /* execve from a thread while another spins and the leader sleeps: the program runs as the
     * process (same pid, its only thread's tid is the pid), and the old threads' tids are
     * gone. */
    if (pipe(exec_fds[0]) < 0 || pipe(exec_fds[1]) < 0)
        give_up("pipe");
    pid_t c = xfork();
    if (c == 0) {
        int spinning = 0;
        pthread_t s, e;
        if (pthread_create(&s, NULL, spin_tid_fn, &spinning) != 0)
            _exit(90);
        wait_for(&spinning, 1);
        if (pthread_create(&e, NULL, exec_fn, NULL) != 0)
            _exit(90);
        sleep_ms(3000);
        _exit(99);
    }
    if (c > 0) {
        close(exec_fds[0][1]);
        close(exec_fds[1][0]);
        int tids[2] = {0, 0};
        char said = '?';
        int got = read_timed(exec_fds[0][0], tids, sizeof tids);
        show_int("exec_thread_tids", got && tids[0] > 0 && tids[1] > 0, 1);
        got = read_timed(exec_fds[0][0], &said, 1);
        show("exec_from_thread_helper", got ? (said == 'y' ? "one thread, same pid" : "wrong ids")
                                            : "no answer",
             "one thread, same pid");
        SHOW_RET("exec_old_spinner_gone", syscall(SYS_tgkill, c, tids[0], 0), -1, ESRCH);
        SHOW_RET("exec_old_tid_gone", syscall(SYS_tgkill, c, tids[1], 0), -1, ESRCH);
        SHOW_RET("exec_process_there", syscall(SYS_tgkill, c, c, 0), 0, 0);
        if (write(exec_fds[1][1], "g", 1) != 1)
            fail("exec_go", errname(errno));
        show("exec_from_thread", reap_ms(c, 2000, "exec from thread"), "exited 0");
        close(exec_fds[0][0]);
        close(exec_fds[1][1]);
    }

    /* fork from a thread: the child is one thread, its parent the process; the thread that
     * forked or another (main) waits for it. */
    t = spawn(fork_fn, (void *)1, "fork thread");
    join(t, NULL, "fork thread");
    show("fork_from_thread_reaped_by_thread", fork_child_status ? fork_child_status : "none",
         "exited 21");
    t = spawn(fork_fn, (void *)0, "fork thread 2");
    join(t, NULL, "fork thread 2");
    show("fork_from_thread_reaped_by_main",
         fork_child_pid > 0 ? reap_ms(fork_child_pid, 2000, "fork from thread 2") : "none", "exited 21");
    return 0;
}

static int helper_exec(int argc, char **argv) {
    if (argc < 5)
        return 2;
    int rfd = atoi(argv[2]), gfd = atoi(argv[3]);
    pid_t want = atoi(argv[4]);
    char said = gettid_() == getpid() && getpid() == want ? 'y' : 'n';
    if (write(rfd, &said, 1) != 1)
        return 3;
    char go;
    if (!read_timed(gfd, &go, 1))
        return 4;
    return 0;
}

/* ---------------------------------------------------------------- signals */

static int h_tid, h_count;
static void on_sig(int s) {
    (void)s;
    STORE(&h_tid, gettid_());
    ADD(&h_count, 1);
}

struct sig_thread {
    pthread_t t;
    pid_t tid;
    int unblock; /* SIGUSR2 unblocked in this thread (1 at once, 2 when main says) */
    int ready, stop, go, unblocked;
};

static void *sig_thread_fn(void *p) {
    struct sig_thread *s = p;
    s->tid = gettid_();
    sigset_t u;
    sigemptyset(&u);
    sigaddset(&u, SIGUSR2);
    if (s->unblock == 1)
        pthread_sigmask(SIG_UNBLOCK, &u, NULL);
    STORE(&s->ready, 1);
    for (long end = now_ms() + 3000; !LOAD(&s->stop) && now_ms() < end;) {
        if (s->unblock == 2 && LOAD(&s->go) && !s->unblocked) {
            pthread_sigmask(SIG_UNBLOCK, &u, NULL);
            STORE(&s->unblocked, 1);
        }
        sleep_ms(1);
    }
    return NULL;
}

static void start_sig_thread(struct sig_thread *s, int unblock) {
    memset(s, 0, sizeof *s);
    s->unblock = unblock;
    s->t = spawn(sig_thread_fn, s, "signal thread");
    if (!wait_for(&s->ready, 1))
        fail("signal thread", "never ready");
}

static void stop_sig_thread(struct sig_thread *s) {
    STORE(&s->stop, 1);
    join(s->t, NULL, "signal thread");
}

/* A thread in FUTEX_WAIT on sw, interrupted by signals. */
static int sw, sw_ready;
static long sw_ret;
static int sw_err, sw_done;
static pid_t sw_tid;

static void *futex_sig_fn(void *p) {
    int timed = (int)(intptr_t)p;
    sw_tid = gettid_();
    STORE(&sw_ready, 1);
    struct timespec two = {2, 0};
    errno = 0;
    sw_ret = fx(&sw, FUTEX_WAIT_PRIVATE, 0, timed ? &two : NULL, NULL, 0);
    sw_err = errno;
    STORE(&sw_done, 1);
    return NULL;
}

static int t_signals(void) {
    set_handler(SIGUSR1, on_sig, 0);
    set_handler(SIGUSR2, on_sig, 0);
    sigset_t u2, m;
    sigemptyset(&u2);
    sigaddset(&u2, SIGUSR2);

    /* tgkill runs the handler in the thread it names. */
    struct sig_thread a, b, c;
    start_sig_thread(&a, 0);
    h_tid = h_count = 0;
    SHOW_RET("tgkill_thread", syscall(SYS_tgkill, getpid(), a.tid, SIGUSR1), 0, 0);
    wait_at_least(&h_count, 1);
    show_int("tgkill_handler_ran", LOAD(&h_count), 1);
    show_int("tgkill_handler_in_target", LOAD(&h_tid) == a.tid, 1);
    h_tid = h_count = 0;
    SHOW_RET("tkill_thread", syscall(SYS_tkill, a.tid, SIGUSR1), 0, 0);
    wait_at_least(&h_count, 1);
    show_int("tkill_handler_in_target", LOAD(&h_tid) == a.tid, 1);
    h_tid = h_count = 0;
    SHOW_RET("tgkill_main", syscall(SYS_tgkill, getpid(), getpid(), SIGUSR1), 0, 0);
    show_int("tgkill_main_handler_in_main", LOAD(&h_count) == 1 && LOAD(&h_tid) == getpid(), 1);
    SHOW_RET("tgkill_probe", syscall(SYS_tgkill, getpid(), a.tid, 0), 0, 0);
    SHOW_RET("tgkill_no_such_tid", syscall(SYS_tgkill, getpid(), 0x3ffffff0, 0), -1, ESRCH);
    SHOW_RET("tgkill_bad_tgid", syscall(SYS_tgkill, 0, a.tid, 0), -1, EINVAL);
    SHOW_RET("tgkill_bad_signal", syscall(SYS_tgkill, getpid(), a.tid, 1000), -1, EINVAL);
    stop_sig_thread(&a);
    long r = 0;
    for (long end = now_ms() + 2000; now_ms() < end; sleep_ms(1)) {
        r = syscall(SYS_tgkill, getpid(), a.tid, 0);
        if (r == -1)
            break;
    }
    show_ret("tgkill_ended_thread", r, errno, -1, ESRCH);

    /* SIGUSR2 blocked in main and in a, unblocked in b: kill() of the process goes to b,
     * once per kill. */
    pthread_sigmask(SIG_BLOCK, &u2, NULL);
    start_sig_thread(&a, 0);
    start_sig_thread(&b, 1);
    h_tid = h_count = 0;
    int in_b = 0;
    for (int i = 0; i < 5; i++) {
        kill(getpid(), SIGUSR2);
        wait_at_least(&h_count, i + 1);
        in_b += LOAD(&h_tid) == b.tid;
    }
    sleep_ms(20);
    show_int("kill_to_only_unblocked_thread", in_b, 5);
    show_int("kill_handler_runs_once_each", LOAD(&h_count), 5);
    stop_sig_thread(&b);

    /* Blocked everywhere: pending for the process; the first thread to unblock takes it. */
    start_sig_thread(&c, 2);
    h_tid = h_count = 0;
    SHOW_RET("kill_all_blocked", kill(getpid(), SIGUSR2), 0, 0);
    sleep_ms(10);
    show_int("all_blocked_not_delivered", LOAD(&h_count), 0);
    sigpending(&m);
    show_int("all_blocked_pending", sigismember(&m, SIGUSR2), 1);
    STORE(&c.go, 1);
    wait_at_least(&h_count, 1);
    show_int("unblocking_thread_takes_it", LOAD(&h_count) == 1 && LOAD(&h_tid) == c.tid, 1);
    sigpending(&m);
    show_int("pending_taken", sigismember(&m, SIGUSR2), 0);
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    show_int("mask_per_thread", sigismember(&m, SIGUSR2), 1);
    stop_sig_thread(&c);
    stop_sig_thread(&a);
    pthread_sigmask(SIG_UNBLOCK, &u2, NULL);

    /* A process signal with a handler and several threads that can take it: one run. */
    start_sig_thread(&a, 1);
    start_sig_thread(&b, 1);
    h_tid = h_count = 0;
    kill(getpid(), SIGUSR1);
    wait_at_least(&h_count, 1);
    sleep_ms(20);
    show_int("kill_process_handler_once", LOAD(&h_count), 1);
    stop_sig_thread(&a);
    stop_sig_thread(&b);

    /* A futex wait with a timeout, interrupted by a handler: EINTR (tgkill again until the
     * thread was in the wait when the signal came). */
    sw = 0;
    sw_ready = sw_done = 0;
    pthread_t t = spawn(futex_sig_fn, (void *)1, "futex eintr");
    wait_for(&sw_ready, 1);
    for (long end = now_ms() + 2000; !LOAD(&sw_done) && now_ms() < end;) {
        syscall(SYS_tgkill, getpid(), sw_tid, SIGUSR1);
        sleep_ms(20);
    }
    join(t, NULL, "futex eintr");
    show_ret("futex_wait_timed_interrupted", sw_ret, sw_err, -1, EINTR);
    /* Without a timeout and with SA_RESTART, the wait goes on after the handler: the wake
     * ends it with 0. */
    set_handler(SIGUSR1, on_sig, SA_RESTART);
    sw = 0;
    sw_ready = sw_done = 0;
    h_count = 0;
    t = spawn(futex_sig_fn, (void *)0, "futex restart");
    wait_for(&sw_ready, 1);
    sleep_ms(20);
    syscall(SYS_tgkill, getpid(), sw_tid, SIGUSR1);
    wait_at_least(&h_count, 1);
    sleep_ms(20);
    show_int("futex_wait_restart_handler_ran", LOAD(&h_count), 1);
    show_int("futex_wait_restart_still_waiting", LOAD(&sw_done), 0);
    for (long end = now_ms() + 2000; !LOAD(&sw_done) && now_ms() < end; sleep_ms(1))
        fx(&sw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    if (LOAD(&sw_done))
        join(t, NULL, "futex restart");
    else
        fail("futex_wait_restart", "never woken");
    show_ret("futex_wait_restarted", sw_ret, sw_err, 0, 0);

    /* Scheduling calls. */
    SHOW_RET("sched_yield", sched_yield(), 0, 0);
    cpu_set_t set;
    CPU_ZERO(&set);
    SHOW_RET("sched_getaffinity", sched_getaffinity(0, sizeof set, &set), 0, 0);
    show_int("sched_getaffinity_nonzero", CPU_COUNT(&set) > 0, 1);
    errno = 0;
    r = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    show_int("sched_getaffinity_raw_size_ok", r > 0 && r <= (long)sizeof set && r % 8 == 0, 1);
    char tiny[1];
    SHOW_RET("sched_getaffinity_small", syscall(SYS_sched_getaffinity, 0, 1, tiny), -1, EINVAL);
    SHOW_RET("sched_getaffinity_no_such_tid", syscall(SYS_sched_getaffinity, 0x3ffffff0, sizeof set,
                                                      &set),
             -1, ESRCH);
    start_sig_thread(&a, 0);
    cpu_set_t tset;
    CPU_ZERO(&tset);
    SHOW_RET("sched_getaffinity_thread", sched_getaffinity(a.tid, sizeof tset, &tset), 0, 0);
    show_int("sched_getaffinity_thread_same", CPU_EQUAL(&set, &tset), 1);
    stop_sig_thread(&a);
    SHOW_RET("sched_setaffinity_same", sched_setaffinity(0, sizeof set, &set), 0, 0);
    unsigned cpu = 0xffffffff, node = 0xffffffff;
    SHOW_RET("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL), 0, 0);
    show_int("getcpu_cpu_in_affinity", cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set), 1);
    show_int("getcpu_cpu_below_count", cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF), 1);
    show_int("getcpu_node_set", node != 0xffffffff, 1);
    cpu = 0xffffffff;
    SHOW_RET("getcpu_cpu_only", syscall(SYS_getcpu, &cpu, NULL, NULL), 0, 0);
    show_int("getcpu_cpu_only_set", cpu != 0xffffffff, 1);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* An area starts with its name known to the watchdog, which ends it if it hangs. */
static void start_area(const char *name) {
    area_name = name;
    start_watchdog();
}

/* ---------------------------------------------------------------- fs */

static void *chdir_thread(void *arg) {
    (void)arg;
    long r = chdir("/tmp");
    umask(077);
    return (void *)r;
}

static const char *cwd_now(void) {
    char *b = scratch();
    if (!getcwd(b, 48))
        return errname(errno);
    return b;
}

static int t_fs(void) {
    SHOW_RET("chdir_root", chdir("/"), 0, 0);
    umask(022);
    pthread_t th;
    void *r = (void *)-1;
    if (pthread_create(&th, NULL, chdir_thread, NULL) != 0 || pthread_join(th, &r) != 0)
        fail("thread", "could not run");
    show_int("thread_chdir", (long)r, 0);
    show("cwd_after_thread_chdir", cwd_now(), "/tmp");
    mode_t old = umask(022);
    show_int("umask_after_thread", old, 077);
    pid_t k = fork();
    if (k == 0) {
        int bad = chdir("/") != 0;
        umask(0);
        _exit(bad);
    }
    int st = 0;
    waitpid(k, &st, 0);
    show_int("child_exit", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
    show("cwd_after_child_chdir", cwd_now(), "/tmp");
    old = umask(022);
    show_int("umask_after_child", old, 022);
    chdir("/");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: threads mutex|futex|pi|robust|exit|signals|fs\n");
        return 2;
    }
    if (!strcmp(argv[1], "helper-exec"))
        return helper_exec(argc, argv);
    static const struct area areas[] = {
        {"mutex", t_mutex}, {"futex", t_futex}, {"pi", t_pi},
        {"robust", t_robust}, {"exit", t_exit}, {"signals", t_signals},
        {"fs", t_fs},
    };
    return run_area("threads", argv[1], areas, sizeof areas / sizeof *areas, start_area);
}
