/* Timers and signal waits, for the sandbox class against the container class
 * (tests/sandbox_timers.rs). A static program (built with -pthread); each subcommand tests one
 * area and prints one `name=value` line per observation, only values that are the same on any
 * run (no pids, no addresses, no times: `in_alt_stack=1` rather than an address). A value that
 * is not what Linux gives is followed by a line `FAIL name: got X, want Y`; the program goes on
 * and exits 1 at the end if anything failed. No check compares durations except lower bounds
 * Linux guarantees; every wait is bounded (3 s at most), and a watchdog thread ends the program
 * (exit 3) if an area still runs after 20 s.
 *
 *   timers alarm         alarm(2): seconds left (rounded), cancel, SIGALRM to a handler that
 *                        interrupts pause(), ignored, blocked or default, not kept across fork
 *   timers itimer        setitimer/getitimer: ITIMER_REAL one-shot and periodic, old values,
 *                        argument errors, ITIMER_VIRTUAL and ITIMER_PROF expire on CPU
 *                        time (not while sleeping), once and periodically
 *   timers posix_timers  timer_create/settime/gettime/getoverrun/delete (raw syscalls):
 *                        SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID, TIMER_ABSTIME, intervals,
 *                        argument errors
 *   timers sigwait       rt_sigtimedwait, sigtimedwait, sigwaitinfo, sigqueue, rt_sigqueueinfo and
 *                        rt_tgsigqueueinfo, queueing of realtime and standard signals, the
 *                        order pending signals are delivered in
 *   timers altstack      sigaltstack: set/get, SA_ONSTACK handlers on the alternate stack,
 *                        SS_AUTODISARM, a stack overflow caught on it, argument errors
 *
 * The program runs as the container's pid 1, which ignores signals it has no handler for: the
 * parent installs a handler for every signal it uses, and default actions are only checked in
 * forked children.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM ((int)(1U << 31)) /* linux/signal.h: drop the stack on handler entry */
#endif

static const char *area_name = "?";
static pid_t main_tid;

/* ---------------------------------------------------------------- reporting */

static const char *codename(int c) {
    switch (c) {
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TIMER: return "SI_TIMER";
    case SI_TKILL: return "SI_TKILL";
    default: {
        static char b[8][16];
        static int i;
        i = (i + 1) % 8;
        snprintf(b[i], sizeof b[i], "code%d", c);
        return b[i];
    }
    }
}

/* sigaltstack's ss_flags by name. */
static const char *ssflags(int f) {
    switch (f) {
    case 0: return "0";
    case SS_ONSTACK: return "SS_ONSTACK";
    case SS_DISABLE: return "SS_DISABLE";
    case SS_AUTODISARM: return "SS_AUTODISARM";
    case SS_ONSTACK | SS_AUTODISARM: return "SS_ONSTACK|SS_AUTODISARM";
    default: {
        static char b[4][16];
        static int i;
        i = (i + 1) % 4;
        snprintf(b[i], sizeof b[i], "%#x", f);
        return b[i];
    }
    }
}

/* A signal-returning call (sigtimedwait): the signal's name or "-1 ERRNO". */
#define SHOW_SIG(name, call, want)                                                         \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (long)(call);                                                            \
        show(name, r_ < 0 ? ret_str(r_, errno) : signame((int)r_), want);                  \
    } while (0)

/* ---------------------------------------------------------------- helpers */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* Waits (bounded, ms) until *p >= want; 1 if it came. */
static int wait_at_least(int *p, int want, long ms) {
    for (long end = now_ms() + ms; LOAD(p) < want;) {
        if (now_ms() > end)
            return 0;
        sleep_ms(1);
    }
    return 1;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static sigset_t one_sig(int s) {
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, s);
    return m;
}

static void block(int s) {
    sigset_t m = one_sig(s);
    sigprocmask(SIG_BLOCK, &m, NULL);
}

static void unblock(int s) {
    sigset_t m = one_sig(s);
    sigprocmask(SIG_UNBLOCK, &m, NULL);
}

static int is_pending(int s) {
    sigset_t m;
    sigpending(&m);
    return sigismember(&m, s);
}

/* Takes every pending instance of the blocked signal s (nothing is printed). */
static void drain(int s) {
    sigset_t m = one_sig(s);
    struct timespec zero = {0, 0};
    for (int i = 0; i < 100 && sigtimedwait(&m, NULL, &zero) == s; i++) {
    }
}

/* An SA_SIGINFO handler; `full` blocks every signal while it runs. */
static void set_info_handler(int sig, void (*h)(int, siginfo_t *, void *), int flags, int full) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO | flags;
    if (full)
        sigfillset(&sa.sa_mask);
    else
        sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Ends the area now: what cannot go on (a thread that did not start). */
static void give_up(const char *what) {
    fail(what, "cannot go on");
    printf("%s: FAILED\n", area_name);
    fflush(stdout);
    _exit(1);
}

/* A thread that starts with every signal blocked (it unblocks what it takes itself). */
static pthread_t spawn(void *(*fn)(void *), void *arg, const char *what) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    int r = pthread_create(&t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        printf("FAIL %s: pthread_create %s\n", what, errname(r));
        give_up(what);
    }
    return t;
}

/* pthread_join bounded at 3 s (a FAIL when the thread does not end). */
static void join(pthread_t t, const char *what) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 3;
    int r = pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &ts);
    if (r != 0) {
        char b[64];
        snprintf(b, sizeof b, "pthread_join %s", errname(r));
        fail(what, b);
    }
}

static long tv_us(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

static long ts_ns(struct timespec ts) { return ts.tv_sec * 1000000000L + ts.tv_nsec; }

/* ---------------------------------------------------------------- watchdog and guard */

static void *watchdog_fn(void *p) {
    (void)p;
    sleep_ms(20000);
    char b[128];
    int n = snprintf(b, sizeof b, "FAIL watchdog: %s still running after 20 s\n", area_name);
    if (write(1, b, n) < 0) {
    }
    _exit(3);
}

static void start_watchdog(void) {
    pthread_t t = spawn(watchdog_fn, NULL, "watchdog");
    pthread_detach(t);
}

/* The guard bounds a wait that has no timeout of its own (pause, sigwaitinfo): after
 * its time it sends GUARD_SIG to the main thread every 100 ms until disarmed. A wait either
 * has GUARD_SIG unblocked (it is handled: EINTR) or in its set (blocked: the wait returns it). */
#define GUARD_SIG SIGWINCH
static struct {
    pthread_t t;
    long ms;
    int stop, fired;
} guard;

static void on_guard(int s) { (void)s; }

static void *guard_fn(void *p) {
    (void)p;
    for (long end = now_ms() + guard.ms; !LOAD(&guard.stop) && now_ms() < end;)
        sleep_ms(2);
    for (int i = 0; i < 30 && !LOAD(&guard.stop); i++) {
        STORE(&guard.fired, 1);
        syscall(SYS_tgkill, getpid(), main_tid, GUARD_SIG);
        sleep_ms(100);
    }
    return NULL;
}

static void guard_arm(long ms) {
    guard.ms = ms;
    guard.stop = guard.fired = 0;
    guard.t = spawn(guard_fn, NULL, "guard");
}

/* Stops the guard; a FAIL for `what` if it had to end the wait. */
static void guard_disarm(const char *what) {
    STORE(&guard.stop, 1);
    join(guard.t, "guard");
    if (LOAD(&guard.fired))
        fail(what, "the wait did not end by itself (ended by the guard)");
    sigset_t m = one_sig(GUARD_SIG), old;
    sigprocmask(SIG_BLOCK, &m, &old);
    drain(GUARD_SIG);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- alarm
 *
 * Linux: alarm(2) arms the process's ITIMER_REAL for whole seconds (and clears its interval);
 * it returns the seconds the previous alarm had left, rounded to the nearest second but never 0
 * while one is pending; alarm(0) cancels. SIGALRM runs its handler, which interrupts pause()
 * (-1 EINTR); ignored, the signal is discarded; blocked, it stays pending; with the default
 * action it kills. A forked child does not inherit the alarm (its alarm(0) returns 0) and the
 * parent keeps its own.
 */

static int alrm_count;
static void on_alrm(int s) {
    (void)s;
    ADD(&alrm_count, 1);
}

static void set_real(long interval_us, long value_us) {
    struct itimerval v = {{interval_us / 1000000, interval_us % 1000000},
                          {value_us / 1000000, value_us % 1000000}};
    setitimer(ITIMER_REAL, &v, NULL);
}

static int real_is_zero(void) {
    struct itimerval v = {0};
    getitimer(ITIMER_REAL, &v);
    return tv_us(v.it_value) == 0 && tv_us(v.it_interval) == 0;
}

/* Children that get an alarm of 1 s: default action, ignored, blocked, cancelled. */
enum { ALARM_DEFAULT, ALARM_IGNORED, ALARM_BLOCKED, ALARM_CANCELLED };

static void alarm_child(int how) {
    signal(SIGALRM, how == ALARM_IGNORED ? SIG_IGN : SIG_DFL);
    if (how == ALARM_BLOCKED)
        block(SIGALRM);
    alarm(1);
    if (how == ALARM_CANCELLED)
        alarm(0);
    sleep_ms(how == ALARM_DEFAULT ? 2500 : 1400);
    if (how == ALARM_BLOCKED)
        _exit(is_pending(SIGALRM) ? 0 : 1);
    if (how == ALARM_IGNORED)
        _exit(is_pending(SIGALRM) ? 2 : 0);
    _exit(0);
}

static void alarm_values(void) {
    show_int("alarm_none_pending", alarm(0), 0);
    show_int("alarm_first", alarm(5), 0);
    show_int("alarm_returns_seconds_left", alarm(10), 5);
    struct itimerval v = {0};
    getitimer(ITIMER_REAL, &v);
    long left = tv_us(v.it_value);
    show_int("alarm_is_itimer_real", left > 9000000 && left <= 10000000, 1);
    show_int("alarm_itimer_no_interval", tv_us(v.it_interval), 0);
    show_int("alarm_cancel_returns_left", alarm(0), 10);
    show_int("alarm_cancelled", alarm(0), 0);
    show_int("alarm_cancelled_itimer_zero", real_is_zero(), 1);
    set_real(0, 2700000);
    show_int("alarm_rounds_half_up", alarm(0), 3);
    set_real(0, 2300000);
    show_int("alarm_rounds_down", alarm(0), 2);
    set_real(0, 200000);
    show_int("alarm_below_1s_not_0", alarm(0), 1);
    alarm(100000);
    show_int("alarm_large", alarm(0), 100000);
    set_real(1000000, 3000000);
    show_int("alarm_after_setitimer", alarm(7), 3);
    getitimer(ITIMER_REAL, &v);
    show_int("alarm_clears_interval", tv_us(v.it_interval), 0);
    alarm(0);
}

static void alarm_fork(void) {
    alarm(10);
    pid_t c = xfork();
    if (c == 0) {
        unsigned left = alarm(0);
        _exit(left > 100 ? 100 : (int)left);
    }
    if (c > 0)
        show("alarm_not_inherited_by_child", reap_ms(c, 2000, "alarm child"), "exited 0");
    show_int("alarm_kept_in_parent_after_fork", alarm(0), 10);
}

static int t_alarm(void) {
    set_handler(SIGALRM, on_alrm, 0);
    alarm_values();
    alarm_fork();

    /* The children's alarms run while the parent's own alarm interrupts pause(). */
    static const char *names[] = {"alarm_default_kills", "alarm_ignored_survives",
                                  "alarm_blocked_stays_pending", "alarm_cancelled_never_fires"};
    static const char *wants[] = {"killed SIGALRM", "exited 0", "exited 0", "exited 0"};
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = xfork();
        if (kids[i] == 0)
            alarm_child(i);
    }
    alrm_count = 0;
    show_int("alarm_1", alarm(1), 0);
    guard_arm(3000);
    errno = 0;
    int r = pause();
    int e = errno;
    guard_disarm("pause");
    show_ret("pause_interrupted_by_alarm", r, e, -1, EINTR);
    show_int("alarm_handler_ran", LOAD(&alrm_count), 1);
    show_int("alarm_spent", alarm(0), 0);
    for (int i = 0; i < 4; i++)
        if (kids[i] > 0)
            show(names[i], reap_ms(kids[i], 3000, names[i]), wants[i]);
    return 0;
}

/* ---------------------------------------------------------------- itimer
 *
 * Linux: getitimer of a disarmed timer is all zero; setitimer returns the old value (time
 * left, interval as set, to the microsecond); ITIMER_REAL sends SIGALRM (si_code SI_KERNEL)
 * once for a one-shot timer, every interval for a periodic one, and no more once cancelled.
 * A zero it_value disarms ITIMER_REAL (the interval given is dropped too).
 * `which` other than 0..2 is EINVAL, a tv_usec outside 0..999999 or a negative tv_sec EINVAL,
 * a bad pointer EFAULT. ITIMER_VIRTUAL and ITIMER_PROF are accepted and read back nonzero while
 * armed (Linux adds a tick to their value: it is not compared with the value set); they send
 * their signal after that much CPU time, none while the process sleeps.
 */

static int it_count, it_code, vt_count, prof_count;
static void on_it_alrm(int s, siginfo_t *si, void *uc) {
    (void)s;
    (void)uc;
    it_code = si->si_code;
    ADD(&it_count, 1);
}
static void on_vt(int s) {
    (void)s;
    ADD(&vt_count, 1);
}
static void on_prof(int s) {
    (void)s;
    ADD(&prof_count, 1);
}

static int itv_is(struct itimerval v, long interval_us, long value_us) {
    return tv_us(v.it_interval) == interval_us && tv_us(v.it_value) == value_us;
}

/* it_value in (lo, hi] microseconds. */
static int itv_left(struct itimerval v, long lo, long hi) {
    return tv_us(v.it_value) > lo && tv_us(v.it_value) <= hi;
}

static void itimer_one_shot(void) {
    struct itimerval z = {{0, 0}, {0, 0}}, v, old = {0}, cur = {0};
    memset(&cur, 0xff, sizeof cur);
    SHOW_RET("getitimer_disarmed", getitimer(ITIMER_REAL, &cur), 0, 0);
    show_int("getitimer_disarmed_zero", itv_is(cur, 0, 0), 1);
    it_count = 0;
    v = (struct itimerval){{0, 0}, {0, 200000}};
    memset(&old, 0xff, sizeof old);
    SHOW_RET("setitimer_one_shot", setitimer(ITIMER_REAL, &v, &old), 0, 0);
    show_int("setitimer_old_disarmed_zero", itv_is(old, 0, 0), 1);
    getitimer(ITIMER_REAL, &cur);
    show_int("getitimer_counting", itv_left(cur, 0, 200000) && tv_us(cur.it_interval) == 0, 1);
    wait_at_least(&it_count, 1, 2000);
    sleep_ms(100);
    show_int("one_shot_signals", LOAD(&it_count), 1);
    show("one_shot_si_code", codename(it_code), "SI_KERNEL");
    getitimer(ITIMER_REAL, &cur);
    show_int("one_shot_expired_zero", itv_is(cur, 0, 0), 1);

    v = (struct itimerval){{1, 250000}, {5, 0}};
    setitimer(ITIMER_REAL, &v, NULL);
    v = (struct itimerval){{0, 0}, {7, 0}};
    setitimer(ITIMER_REAL, &v, &old);
    show_int("setitimer_old_value_left", itv_left(old, 4000000, 5000000), 1);
    show_int("setitimer_old_interval", tv_us(old.it_interval), 1250000);
    SHOW_RET("setitimer_cancel", setitimer(ITIMER_REAL, &z, &old), 0, 0);
    show_int("setitimer_cancel_old_left", itv_left(old, 6000000, 7000000), 1);
    getitimer(ITIMER_REAL, &cur);
    show_int("cancelled_zero", itv_is(cur, 0, 0), 1);

    v = (struct itimerval){{0, 0}, {5, 0}};
    setitimer(ITIMER_REAL, &v, NULL);
    v = (struct itimerval){{1, 0}, {0, 0}};
    SHOW_RET("setitimer_zero_value", setitimer(ITIMER_REAL, &v, &old), 0, 0);
    show_int("setitimer_zero_value_old_left", itv_left(old, 4000000, 5000000), 1);
    getitimer(ITIMER_REAL, &cur);
    show_int("zero_value_disarms_all", itv_is(cur, 0, 0), 1);
}

static void itimer_periodic(void) {
    struct itimerval z = {{0, 0}, {0, 0}}, v, old = {0};
    it_count = 0;
    v = (struct itimerval){{0, 20000}, {0, 20000}};
    SHOW_RET("setitimer_periodic", setitimer(ITIMER_REAL, &v, NULL), 0, 0);
    show_int("periodic_at_least_3", wait_at_least(&it_count, 3, 2000), 1);
    setitimer(ITIMER_REAL, &z, &old);
    show_int("periodic_old_interval", tv_us(old.it_interval), 20000);
    int n = LOAD(&it_count);
    sleep_ms(100);
    show_int("periodic_cancelled_no_more", LOAD(&it_count) == n, 1);
}

static void itimer_errors(void) {
    struct itimerval v = {{0, 0}, {1, 0}}, cur = {0};
    SHOW_RET("setitimer_bad_which", syscall(SYS_setitimer, 3, &v, NULL), -1, EINVAL);
    SHOW_RET("setitimer_negative_which", syscall(SYS_setitimer, -1, &v, NULL), -1, EINVAL);
    SHOW_RET("getitimer_bad_which", syscall(SYS_getitimer, 3, &cur), -1, EINVAL);
    v = (struct itimerval){{0, 0}, {0, 1000000}};
    SHOW_RET("setitimer_usec_too_big", syscall(SYS_setitimer, ITIMER_REAL, &v, NULL), -1, EINVAL);
    v = (struct itimerval){{0, -1}, {1, 0}};
    SHOW_RET("setitimer_interval_usec_negative", syscall(SYS_setitimer, ITIMER_REAL, &v, NULL), -1,
             EINVAL);
    v = (struct itimerval){{0, 0}, {-1, 0}};
    SHOW_RET("setitimer_sec_negative", syscall(SYS_setitimer, ITIMER_REAL, &v, NULL), -1, EINVAL);
    show_int("rejected_left_disarmed", real_is_zero(), 1);
    SHOW_RET("getitimer_bad_pointer", syscall(SYS_getitimer, ITIMER_REAL, (void *)8), -1, EFAULT);
    SHOW_RET("setitimer_bad_pointer", syscall(SYS_setitimer, ITIMER_REAL, (void *)8, NULL), -1,
             EFAULT);
}

/* ITIMER_VIRTUAL and ITIMER_PROF: accepted, read back while armed, cancelled; a bounded busy
 * loop under a 10 ms timer may or may not get the signal (not printed). */
static void itimer_cpu(int which, const char *name) {
    char n[64];
    struct itimerval z = {{0, 0}, {0, 0}}, v = {{0, 0}, {1, 0}}, cur = {0};
    snprintf(n, sizeof n, "setitimer_%s", name);
    SHOW_RET(n, setitimer(which, &v, NULL), 0, 0);
    getitimer(which, &cur);
    snprintf(n, sizeof n, "getitimer_%s_armed", name);
    show_int(n, tv_us(cur.it_value) > 0, 1);
    v = (struct itimerval){{0, 10000}, {0, 10000}};
    snprintf(n, sizeof n, "setitimer_%s_short", name);
    SHOW_RET(n, setitimer(which, &v, NULL), 0, 0);
    volatile unsigned long spin = 0;
    for (long end = now_ms() + 60; now_ms() < end;)
        spin++;
    snprintf(n, sizeof n, "setitimer_%s_cancel", name);
    SHOW_RET(n, setitimer(which, &z, NULL), 0, 0);
    getitimer(which, &cur);
    snprintf(n, sizeof n, "getitimer_%s_cancelled_zero", name);
    show_int(n, itv_is(cur, 0, 0), 1);
}

/* Spins (user CPU time) until *count reaches `want` or `ms` of wall time pass; whether it
 * did. The clock is read only every 200000 turns: in the sandbox each read is a system call,
 * whose time is not user time. */
static int spin_until(volatile int *count, int want, long ms) {
    volatile unsigned long spin = 0;
    for (long end = now_ms() + ms; now_ms() < end && *count < want;)
        for (int i = 0; i < 200000 && *count < want; i++)
            spin++;
    return *count >= want;
}

/* ITIMER_VIRTUAL and ITIMER_PROF count CPU time: 20 ms of it, spent in a loop, sends the
 * signal; 150 ms of sleeping (no CPU) does not; a periodic one fires again. */
static void itimer_cpu_expiry(int which, const char *name, int *count) {
    char n[64];
    struct itimerval z = {{0, 0}, {0, 0}}, v = {{0, 0}, {0, 20000}};
    int before = *count;
    setitimer(which, &v, NULL);
    sleep_ms(150);
    snprintf(n, sizeof n, "%s_not_while_sleeping", name);
    show_int(n, *count - before, 0);
    snprintf(n, sizeof n, "%s_after_cpu_time", name);
    show_int(n, spin_until(count, before + 1, 3000), 1);
    v = (struct itimerval){{0, 10000}, {0, 10000}};
    setitimer(which, &v, NULL);
    before = *count;
    snprintf(n, sizeof n, "%s_periodic_first", name);
    show_int(n, spin_until(count, before + 1, 3000), 1);
    snprintf(n, sizeof n, "%s_periodic_again", name);
    show_int(n, spin_until(count, before + 2, 3000), 1);
    setitimer(which, &z, NULL);
}

static int t_itimer(void) {
    set_info_handler(SIGALRM, on_it_alrm, 0, 0);
    set_handler(SIGVTALRM, on_vt, 0);
    set_handler(SIGPROF, on_prof, 0);
    itimer_one_shot();
    itimer_periodic();
    itimer_errors();
    itimer_cpu(ITIMER_VIRTUAL, "virtual");
    itimer_cpu(ITIMER_PROF, "prof");
    itimer_cpu_expiry(ITIMER_VIRTUAL, "virtual", &vt_count);
    itimer_cpu_expiry(ITIMER_PROF, "prof", &prof_count);
    return 0;
}

/* ---------------------------------------------------------------- posix_timers
 *
 * Linux: timer_create on CLOCK_MONOTONIC, CLOCK_REALTIME (and BOOTTIME and the CPU-time
 * clocks) gives a timer id; SIGEV_SIGNAL sends sigev_signo with si_code SI_TIMER and si_value
 * the sigev_value (with no sigevent: SIGALRM and the timer id as value); SIGEV_NONE sends
 * nothing but timer_gettime counts down (0 once expired); SIGEV_SIGNAL|SIGEV_THREAD_ID sends
 * the signal to that thread of the process. TIMER_ABSTIME takes an absolute time (one past
 * fires at once) and timer_gettime reports relative time left. A zero it_value disarms (and
 * the interval reads back 0). Errors: a deleted or unknown timer EINVAL, a bad clock EINVAL (a
 * clock without timers EOPNOTSUPP); sigev_notify other than SIGEV_NONE, SIGEV_SIGNAL,
 * SIGEV_THREAD (taken as SIGEV_SIGNAL by the kernel) and SIGEV_SIGNAL|SIGEV_THREAD_ID, a signal
 * outside 1..SIGRTMAX or a thread not in the process EINVAL, tv_nsec
 * outside 0..999999999 EINVAL, no new value EINVAL, a bad timer-id pointer EFAULT.
 */

/* The kernel's struct sigevent (64 bytes): sigev_notify_thread_id is the first union word. */
struct ksigevent {
    union sigval value;
    int signo;
    int notify;
    int tid;
    int pad[11];
};

static long k_create(clockid_t clock, struct ksigevent *ev, int *id) {
    return syscall(SYS_timer_create, clock, ev, id);
}
static long k_settime(int id, int flags, const struct itimerspec *n, struct itimerspec *o) {
    return syscall(SYS_timer_settime, id, flags, n, o);
}
static long k_gettime(int id, struct itimerspec *cur) {
    return syscall(SYS_timer_gettime, id, cur);
}
static long k_overrun(int id) { return syscall(SYS_timer_getoverrun, id); }
static long k_delete(int id) { return syscall(SYS_timer_delete, id); }

static struct ksigevent sigev(int notify, int signo, int value) {
    struct ksigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.notify = notify;
    ev.signo = signo;
    ev.value.sival_int = value;
    return ev;
}

static struct itimerspec its_ms(long interval_ms, long value_ms) {
    struct itimerspec s = {{interval_ms / 1000, (interval_ms % 1000) * 1000000L},
                           {value_ms / 1000, (value_ms % 1000) * 1000000L}};
    return s;
}

static int its_zero(struct itimerspec s) {
    return ts_ns(s.it_value) == 0 && ts_ns(s.it_interval) == 0;
}

/* it_value in (0, ms]. */
static int its_left(struct itimerspec s, long ms) {
    return ts_ns(s.it_value) > 0 && ts_ns(s.it_value) <= ms * 1000000L;
}

/* What the timer-signal handler saw last. */
static int pt_count, pt_signo, pt_code, pt_value;
static pid_t pt_tid;
static void on_timer(int s, siginfo_t *si, void *uc) {
    (void)uc;
    pt_signo = s == si->si_signo ? s : -1;
    pt_code = si->si_code;
    pt_value = si->si_value.sival_int;
    pt_tid = gettid_();
    ADD(&pt_count, 1);
}

static void pt_reset(void) {
    pt_count = pt_signo = pt_code = pt_value = 0;
    pt_tid = 0;
}

static int tsig(void) { return SIGRTMIN + 1; }

/* A one-shot 20 ms SIGEV_SIGNAL timer on `clock`: its signal and siginfo. */
static void pt_signal_on(clockid_t clock, const char *name, int value) {
    char n[64];
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), value);
    int id = -1;
    snprintf(n, sizeof n, "timer_create_%s", name);
    SHOW_RET(n, k_create(clock, &ev, &id), 0, 0);
    snprintf(n, sizeof n, "%s_id_nonnegative", name);
    show_int(n, id >= 0, 1);
    struct itimerspec cur = {0}, s = its_ms(0, 20);
    memset(&cur, 0xff, sizeof cur);
    k_gettime(id, &cur);
    snprintf(n, sizeof n, "%s_gettime_disarmed_zero", name);
    show_int(n, its_zero(cur), 1);
    pt_reset();
    snprintf(n, sizeof n, "timer_settime_%s", name);
    SHOW_RET(n, k_settime(id, 0, &s, NULL), 0, 0);
    wait_at_least(&pt_count, 1, 2000);
    sleep_ms(50);
    snprintf(n, sizeof n, "%s_signals", name);
    show_int(n, LOAD(&pt_count), 1);
    snprintf(n, sizeof n, "%s_si_signo", name);
    show(n, signame(pt_signo), "SIGRTMIN+1");
    snprintf(n, sizeof n, "%s_si_code", name);
    show(n, codename(pt_code), "SI_TIMER");
    snprintf(n, sizeof n, "%s_si_value", name);
    show_int(n, pt_value, value);
    k_gettime(id, &cur);
    snprintf(n, sizeof n, "%s_expired_zero", name);
    show_int(n, its_zero(cur), 1);
    snprintf(n, sizeof n, "%s_getoverrun_one_shot", name);
    SHOW_RET(n, k_overrun(id), 0, 0);
    snprintf(n, sizeof n, "timer_delete_%s", name);
    SHOW_RET(n, k_delete(id), 0, 0);
}

static void pt_default_sigevent(void) {
    int a = -1, b = -1;
    SHOW_RET("timer_create_two", k_create(CLOCK_MONOTONIC, NULL, &a) | k_create(CLOCK_MONOTONIC,
                                                                                NULL, &b),
             0, 0);
    show_int("timer_ids_differ", a != b, 1);
    k_delete(b);
    /* No sigevent: SIGALRM with the timer id as value. */
    set_info_handler(SIGALRM, on_timer, 0, 0);
    pt_reset();
    struct itimerspec s = its_ms(0, 20);
    k_settime(a, 0, &s, NULL);
    wait_at_least(&pt_count, 1, 2000);
    show("null_sigevent_signo", signame(pt_signo), "SIGALRM");
    show("null_sigevent_si_code", codename(pt_code), "SI_TIMER");
    show_int("null_sigevent_value_is_id", pt_value == a, 1);
    k_delete(a);
}

static void pt_sigev_none(void) {
    struct ksigevent ev = sigev(SIGEV_NONE, tsig(), 1);
    int id = -1;
    SHOW_RET("timer_create_sigev_none", k_create(CLOCK_MONOTONIC, &ev, &id), 0, 0);
    pt_reset();
    struct itimerspec a = {0}, b = {0}, s = its_ms(0, 1000);
    k_settime(id, 0, &s, NULL);
    k_gettime(id, &a);
    show_int("sigev_none_counting", its_left(a, 1000), 1);
    sleep_ms(30);
    k_gettime(id, &b);
    show_int("sigev_none_counts_down", ts_ns(b.it_value) > 0 && ts_ns(b.it_value) < ts_ns(a.it_value),
             1);
    s = its_ms(0, 30);
    k_settime(id, 0, &s, NULL);
    sleep_ms(80);
    k_gettime(id, &b);
    show_int("sigev_none_expired_zero", its_zero(b), 1);
    show_int("sigev_none_no_signal", LOAD(&pt_count), 0);
    show_int("sigev_none_nothing_pending", is_pending(tsig()), 0);
    k_delete(id);
}

/* SIGEV_THREAD_ID: a thread waits (bounded) for the timer's signal in its handler. */
static int tid_ready, tid_done;
static pid_t target_tid;
static void *tid_thread_fn(void *p) {
    (void)p;
    target_tid = gettid_();
    unblock(tsig());
    STORE(&tid_ready, 1);
    for (long end = now_ms() + 2000; !LOAD(&tid_done) && now_ms() < end;)
        sleep_ms(1);
    return NULL;
}

static void pt_thread_id(void) {
    tid_ready = tid_done = 0;
    pthread_t t = spawn(tid_thread_fn, NULL, "thread id target");
    wait_at_least(&tid_ready, 1, 2000);
    struct ksigevent ev = sigev(SIGEV_SIGNAL | SIGEV_THREAD_ID, tsig(), 77);
    ev.tid = target_tid;
    int id = -1;
    SHOW_RET("timer_create_thread_id", k_create(CLOCK_MONOTONIC, &ev, &id), 0, 0);
    pt_reset();
    struct itimerspec s = its_ms(0, 20);
    k_settime(id, 0, &s, NULL);
    wait_at_least(&pt_count, 1, 2000);
    STORE(&tid_done, 1);
    join(t, "thread id target");
    show_int("thread_id_signals", LOAD(&pt_count), 1);
    show_int("thread_id_handler_in_thread", pt_tid == target_tid, 1);
    show("thread_id_si_code", codename(pt_code), "SI_TIMER");
    show_int("thread_id_si_value", pt_value, 77);
    k_delete(id);
}

static void pt_abstime(void) {
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), 5);
    int id = -1;
    k_create(CLOCK_MONOTONIC, &ev, &id);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec cur = {0}, s = {{0, 0}, now};
    s.it_value.tv_nsec += 200000000;
    if (s.it_value.tv_nsec >= 1000000000L) {
        s.it_value.tv_sec++;
        s.it_value.tv_nsec -= 1000000000L;
    }
    pt_reset();
    SHOW_RET("timer_settime_abstime", k_settime(id, TIMER_ABSTIME, &s, NULL), 0, 0);
    k_gettime(id, &cur);
    show_int("abstime_gettime_relative", its_left(cur, 200), 1);
    wait_at_least(&pt_count, 1, 2000);
    show_int("abstime_fires", LOAD(&pt_count), 1);
    k_delete(id);

    k_create(CLOCK_REALTIME, &ev, &id);
    s = (struct itimerspec){{0, 0}, {1, 0}};
    pt_reset();
    SHOW_RET("timer_settime_abstime_past", k_settime(id, TIMER_ABSTIME, &s, NULL), 0, 0);
    show_int("abstime_past_fires", wait_at_least(&pt_count, 1, 2000), 1);
    k_delete(id);
}

static void pt_interval(void) {
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), 9);
    int id = -1;
    k_create(CLOCK_MONOTONIC, &ev, &id);
    pt_reset();
    struct itimerspec cur = {0}, old = {0}, z = its_ms(0, 0), s = its_ms(10, 10);
    SHOW_RET("timer_settime_interval", k_settime(id, 0, &s, NULL), 0, 0);
    show_int("interval_at_least_3", wait_at_least(&pt_count, 3, 2000), 1);
    k_gettime(id, &cur);
    show_int("interval_reads_back", ts_ns(cur.it_interval), 10000000);
    show_int("interval_value_left", its_left(cur, 10), 1);
    long ov = k_overrun(id);
    show_int("timer_getoverrun_nonnegative", ov >= 0, 1);
    SHOW_RET("timer_settime_disarm", k_settime(id, 0, &z, &old), 0, 0);
    show_int("disarm_old_interval", ts_ns(old.it_interval), 10000000);
    int n = LOAD(&pt_count);
    sleep_ms(100);
    show_int("interval_disarmed_no_more", LOAD(&pt_count) == n, 1);

    /* Blocked: the signal waits, once, with SI_TIMER. */
    block(tsig());
    s = its_ms(5, 5);
    k_settime(id, 0, &s, NULL);
    sleep_ms(60);
    show_int("blocked_timer_signal_pending", is_pending(tsig()), 1);
    sigset_t m = one_sig(tsig());
    siginfo_t si = {0};
    memset(&si, 0, sizeof si);
    struct timespec zero = {0, 0};
    SHOW_SIG("blocked_timer_sigtimedwait", sigtimedwait(&m, &si, &zero), "SIGRTMIN+1");
    show("blocked_timer_si_code", codename(si.si_code), "SI_TIMER");
    show_int("blocked_timer_si_overrun_nonnegative", si.si_overrun >= 0, 1);
    k_settime(id, 0, &z, NULL);
    drain(tsig());
    unblock(tsig());

    /* Old value on re-arm; a zero value disarms and the interval reads back 0. */
    s = its_ms(0, 5000);
    k_settime(id, 0, &s, NULL);
    s = its_ms(0, 7000);
    k_settime(id, 0, &s, &old);
    show_int("settime_old_value_left", ts_ns(old.it_value) > 4000000000L &&
                                           ts_ns(old.it_value) <= 5000000000L,
             1);
    s = its_ms(1000, 0);
    SHOW_RET("settime_zero_value", k_settime(id, 0, &s, &old), 0, 0);
    show_int("settime_zero_value_old_left", its_left(old, 7000), 1);
    memset(&cur, 0xff, sizeof cur);
    k_gettime(id, &cur);
    show_int("zero_value_disarms_all", its_zero(cur), 1);
    k_delete(id);
}

static void pt_other_clocks(void) {
    static const struct {
        clockid_t clock;
        const char *name;
    } clocks[] = {
        {CLOCK_BOOTTIME, "timer_create_boottime"},
        {CLOCK_PROCESS_CPUTIME_ID, "timer_create_process_cputime"},
        {CLOCK_THREAD_CPUTIME_ID, "timer_create_thread_cputime"},
    };
    for (unsigned i = 0; i < sizeof clocks / sizeof *clocks; i++) {
        struct ksigevent ev = sigev(SIGEV_NONE, 0, 0);
        int id = -1;
        SHOW_RET(clocks[i].name, k_create(clocks[i].clock, &ev, &id), 0, 0);
        if (id >= 0)
            k_delete(id);
    }
}

/* A timer on the process's CPU-time clock: 20 ms of CPU time sends its signal; sleeping does
 * not; timer_gettime counts down only while the process runs. */
static void pt_cpu_clock(void) {
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), 0x77);
    int id = -1;
    pt_reset();
    SHOW_RET("cpu_timer_create", k_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), 0, 0);
    struct itimerspec its = {{0, 0}, {0, 20 * 1000000L}}, cur;
    SHOW_RET("cpu_timer_settime", k_settime(id, 0, &its, NULL), 0, 0);
    sleep_ms(150);
    show_int("cpu_timer_not_while_sleeping", pt_count, 0);
    k_gettime(id, &cur);
    show_int("cpu_timer_left_while_sleeping",
             cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 5 * 1000000L, 1);
    show_int("cpu_timer_after_cpu_time", spin_until(&pt_count, 1, 3000), 1);
    show_int("cpu_timer_value", pt_value, 0x77);
    k_delete(id);
}

static void pt_create_errors(void) {
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), 0);
    int id = -1;
    SHOW_RET("timer_create_bad_clock", k_create(12345, &ev, &id), -1, EINVAL);
    SHOW_RET("timer_create_clock_16", k_create(16, &ev, &id), -1, EINVAL);
    SHOW_RET("timer_create_monotonic_raw", k_create(CLOCK_MONOTONIC_RAW, &ev, &id), -1,
             EOPNOTSUPP);
    ev = sigev(7, tsig(), 0);
    SHOW_RET("timer_create_bad_notify", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(3, tsig(), 0);
    SHOW_RET("timer_create_notify_3", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_NONE | SIGEV_THREAD_ID, tsig(), 0);
    ev.tid = gettid_();
    SHOW_RET("timer_create_none_thread_id", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_THREAD | SIGEV_THREAD_ID, tsig(), 0);
    ev.tid = gettid_();
    SHOW_RET("timer_create_thread_thread_id", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_SIGNAL | SIGEV_THREAD_ID, tsig(), 0);
    ev.tid = 0x3ffffff0;
    SHOW_RET("timer_create_thread_id_no_such", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_SIGNAL, 0, 0);
    SHOW_RET("timer_create_signal_0", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_SIGNAL, 65, 0);
    SHOW_RET("timer_create_signal_65", k_create(CLOCK_MONOTONIC, &ev, &id), -1, EINVAL);
    ev = sigev(SIGEV_NONE, 0, 0);
    SHOW_RET("timer_create_none_signal_0", k_create(CLOCK_MONOTONIC, &ev, &id), 0, 0);
    k_delete(id);
    ev = sigev(SIGEV_SIGNAL, tsig(), 0);
    SHOW_RET("timer_create_bad_id_pointer", k_create(CLOCK_MONOTONIC, &ev, NULL), -1, EFAULT);
}

static void pt_settime_errors(void) {
    struct ksigevent ev = sigev(SIGEV_SIGNAL, tsig(), 0);
    int id = -1;
    k_create(CLOCK_MONOTONIC, &ev, &id);
    struct itimerspec cur = {0}, s = {{0, 0}, {0, 1000000000L}};
    SHOW_RET("timer_settime_nsec_too_big", k_settime(id, 0, &s, NULL), -1, EINVAL);
    s = (struct itimerspec){{0, 0}, {0, -1}};
    SHOW_RET("timer_settime_nsec_negative", k_settime(id, 0, &s, NULL), -1, EINVAL);
    s = (struct itimerspec){{0, 1000000000L}, {1, 0}};
    SHOW_RET("timer_settime_interval_nsec_too_big", k_settime(id, 0, &s, NULL), -1, EINVAL);
    s = (struct itimerspec){{0, 0}, {-1, 0}};
    SHOW_RET("timer_settime_sec_negative", k_settime(id, 0, &s, NULL), -1, EINVAL);
    SHOW_RET("timer_settime_null", k_settime(id, 0, NULL, NULL), -1, EINVAL);
    k_gettime(id, &cur);
    show_int("rejected_settime_left_disarmed", its_zero(cur), 1);
    SHOW_RET("timer_gettime_bad_pointer", k_gettime(id, (void *)8), -1, EFAULT);
    SHOW_RET("timer_delete", k_delete(id), 0, 0);
    s = its_ms(0, 1000);
    SHOW_RET("timer_settime_deleted", k_settime(id, 0, &s, NULL), -1, EINVAL);
    SHOW_RET("timer_gettime_deleted", k_gettime(id, &cur), -1, EINVAL);
    SHOW_RET("timer_getoverrun_deleted", k_overrun(id), -1, EINVAL);
    SHOW_RET("timer_delete_deleted", k_delete(id), -1, EINVAL);
    SHOW_RET("timer_settime_unknown", k_settime(0x7ffff, 0, &s, NULL), -1, EINVAL);
    SHOW_RET("timer_delete_negative", k_delete(-1), -1, EINVAL);
}

static int t_posix_timers(void) {
    set_info_handler(tsig(), on_timer, 0, 0);
    pt_signal_on(CLOCK_MONOTONIC, "monotonic", 0x1234);
    pt_signal_on(CLOCK_REALTIME, "realtime", 0x4321);
    pt_default_sigevent();
    pt_sigev_none();
    pt_thread_id();
    pt_abstime();
    pt_interval();
    pt_other_clocks();
    pt_cpu_clock();
    pt_create_errors();
    pt_settime_errors();
    return 0;
}

/* ---------------------------------------------------------------- sigwait
 *
 * Linux: rt_sigtimedwait takes a pending blocked signal of its set (the handler does not run)
 * and fills siginfo (kill: SI_USER with the sender's pid and uid; tgkill: SI_TKILL); with
 * nothing pending a zero timeout is EAGAIN at once, a short one EAGAIN after at least the
 * timeout; a handled signal outside the set interrupts it with EINTR even with SA_RESTART;
 * a tv_nsec outside 0..999999999 or a wrong sigset size is EINVAL. A signal sent to another
 * thread is not taken. sigqueue sends SI_QUEUE with the value. rt_sigqueueinfo and
 * rt_tgsigqueueinfo pass the caller's siginfo as it is, but a si_code >= 0 or SI_TKILL is
 * EPERM unless the target is the calling thread itself (the pid given equals the caller's tid).
 * Realtime signals queue (three sent while blocked run the handler three times, values in
 * order); standard signals do not (once); unblocked together, lower-numbered signals are
 * delivered first.
 */

#define S1 SIGUSR1
#define S2 SIGUSR2

static int rec_n, rec_sig[16], rec_val[16];
static void on_rec(int s, siginfo_t *si, void *uc) {
    (void)uc;
    int i = ADD(&rec_n, 1) - 1;
    if (i < 16) {
        rec_sig[i] = s;
        rec_val[i] = si->si_value.sival_int;
    }
}

static void rec_reset(void) {
    rec_n = 0;
    memset(rec_sig, 0, sizeof rec_sig);
    memset(rec_val, 0, sizeof rec_val);
}

static int rt(int n) { return SIGRTMIN + n; }

/* rt_sigtimedwait itself (ts NULL: sigwaitinfo): glibc's wrappers report SI_TKILL as SI_USER. */
static long k_timedwait(const sigset_t *set, siginfo_t *si, const struct timespec *ts) {
    return syscall(SYS_rt_sigtimedwait, set, si, ts, _NSIG / 8);
}

static siginfo_t qinfo(int code, int value) {
    siginfo_t si = {0};
    memset(&si, 0, sizeof si);
    si.si_code = code;
    si.si_pid = 4242;
    si.si_uid = 0;
    si.si_value.sival_int = value;
    return si;
}

static long sigqueueinfo(pid_t pid, int sig, siginfo_t si) {
    si.si_signo = sig;
    return syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
}

static long tgsigqueueinfo(pid_t tgid, pid_t tid, int sig, siginfo_t si) {
    si.si_signo = sig;
    return syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si);
}

static void sw_timedwait(void) {
    sigset_t m = one_sig(S1);
    siginfo_t si = {0};
    struct timespec zero = {0, 0}, short_ts = {0, 50000000};
    rec_reset();
    block(S1);
    kill(getpid(), S1);
    memset(&si, 0, sizeof si);
    SHOW_SIG("sigtimedwait_pending", sigtimedwait(&m, &si, &zero), "SIGUSR1");
    show("sigtimedwait_si_signo", signame(si.si_signo), "SIGUSR1");
    show("sigtimedwait_kill_si_code", codename(si.si_code), "SI_USER");
    show_int("sigtimedwait_kill_si_pid_is_self", si.si_pid == getpid(), 1);
    show_int("sigtimedwait_kill_si_uid_is_self", si.si_uid == getuid(), 1);
    show_int("sigtimedwait_handler_not_run", rec_n, 0);
    show_int("sigtimedwait_taken", is_pending(S1), 0);
    syscall(SYS_tgkill, getpid(), gettid_(), S1);
    memset(&si, 0, sizeof si);
    SHOW_SIG("rt_sigtimedwait_tgkill", k_timedwait(&m, &si, &zero), "SIGUSR1");
    show("rt_sigtimedwait_tgkill_si_code", codename(si.si_code), "SI_TKILL");
    kill(getpid(), S1);
    SHOW_SIG("sigtimedwait_null_info", sigtimedwait(&m, NULL, &zero), "SIGUSR1");
    SHOW_RET("sigtimedwait_zero_timeout_empty", sigtimedwait(&m, &si, &zero), -1, EAGAIN);
    long t0 = now_ms();
    SHOW_RET("sigtimedwait_short_timeout", sigtimedwait(&m, &si, &short_ts), -1, EAGAIN);
    show_int("sigtimedwait_waited_timeout", now_ms() - t0 >= 49, 1);
    struct timespec bad = {0, 1000000000L};
    SHOW_RET("sigtimedwait_bad_nsec", sigtimedwait(&m, &si, &bad), -1, EINVAL);
    SHOW_RET("rt_sigtimedwait_bad_setsize", syscall(SYS_rt_sigtimedwait, &m, &si, &zero, 4), -1,
             EINVAL);
}

/* A helper thread that sends `sig` to the main thread (tgkill, or pthread_kill when `once`)
 * every 20 ms until told to stop (2 s at most). */
static struct {
    pthread_t t;
    int sig, once, stop;
    pthread_t main;
} sender;

static void *sender_fn(void *p) {
    (void)p;
    for (long end = now_ms() + 2000; !LOAD(&sender.stop) && now_ms() < end;) {
        sleep_ms(20);
        if (sender.once) {
            pthread_kill(sender.main, sender.sig);
            return NULL;
        }
        syscall(SYS_tgkill, getpid(), main_tid, sender.sig);
    }
    return NULL;
}

static void sender_start(int sig, int once) {
    sender.sig = sig;
    sender.once = once;
    sender.stop = 0;
    sender.main = pthread_self();
    sender.t = spawn(sender_fn, NULL, "sender");
}

static void sender_stop(void) {
    STORE(&sender.stop, 1);
    join(sender.t, "sender");
}

static void sw_interrupted(void) {
    sigset_t m = one_sig(S1);
    siginfo_t si = {0};
    struct timespec two = {2, 0};
    set_info_handler(S2, on_rec, SA_RESTART, 0);
    rec_reset();
    sender_start(S2, 0);
    SHOW_RET("sigtimedwait_interrupted", sigtimedwait(&m, &si, &two), -1, EINTR);
    sender_stop();
    show_int("sigtimedwait_interrupting_handler_ran", rec_n >= 1, 1);

    /* sigwaitinfo (and rt_sigtimedwait without a timeout) take a signal another thread sends
     * with pthread_kill; GUARD_SIG is in their sets (blocked) so the guard can end them. */
    sigaddset(&m, GUARD_SIG);
    block(GUARD_SIG);
    sender_start(S1, 1);
    guard_arm(2000);
    memset(&si, 0, sizeof si);
    SHOW_SIG("sigwaitinfo_from_thread", sigwaitinfo(&m, &si), "SIGUSR1");
    guard_disarm("sigwaitinfo");
    sender_stop();
    show_int("sigwaitinfo_si_pid_is_self", si.si_pid == getpid(), 1);
    sender_start(S1, 1);
    guard_arm(2000);
    memset(&si, 0, sizeof si);
    SHOW_SIG("rt_sigtimedwait_untimed_from_thread", k_timedwait(&m, &si, NULL), "SIGUSR1");
    guard_disarm("rt_sigtimedwait untimed");
    sender_stop();
    show("rt_sigtimedwait_pthread_kill_si_code", codename(si.si_code), "SI_TKILL");
    unblock(GUARD_SIG);
}

/* A thread that (when told) takes S1 sent to it, with a zero timeout. */
static int own_go, own_done, own_sig;
static pid_t own_tid;
static void *own_fn(void *p) {
    (void)p;
    own_tid = gettid_();
    wait_at_least(&own_go, 1, 2000);
    sigset_t m = one_sig(S1);
    struct timespec zero = {0, 0};
    own_sig = sigtimedwait(&m, NULL, &zero);
    STORE(&own_done, 1);
    return NULL;
}

static void sw_other_thread(void) {
    own_go = own_done = 0;
    own_tid = 0;
    own_sig = -2;
    pthread_t t = spawn(own_fn, NULL, "own signal thread");
    for (long end = now_ms() + 2000; !LOAD(&own_tid) && now_ms() < end;)
        sleep_ms(1);
    sigset_t m = one_sig(S1);
    struct timespec zero = {0, 0};
    SHOW_RET("tgkill_other_thread", syscall(SYS_tgkill, getpid(), own_tid, S1), 0, 0);
    SHOW_RET("sigtimedwait_not_other_threads", sigtimedwait(&m, NULL, &zero), -1, EAGAIN);
    show_int("sigpending_not_other_threads", is_pending(S1), 0);
    STORE(&own_go, 1);
    wait_at_least(&own_done, 1, 2000);
    join(t, "own signal thread");
    show("other_thread_takes_its_own", own_sig < 0 ? "none" : signame(own_sig), "SIGUSR1");
}

static void sw_sigqueue_self(void) {
    sigset_t m = one_sig(rt(3));
    siginfo_t si = {0};
    struct timespec zero = {0, 0};
    block(rt(3));
    SHOW_RET("sigqueue_self", sigqueue(getpid(), rt(3), (union sigval){.sival_int = 42}), 0, 0);
    memset(&si, 0, sizeof si);
    SHOW_SIG("sigqueue_taken", sigtimedwait(&m, &si, &zero), "SIGRTMIN+3");
    show("sigqueue_si_code", codename(si.si_code), "SI_QUEUE");
    show_int("sigqueue_si_value", si.si_value.sival_int, 42);
    show_int("sigqueue_si_pid_is_self", si.si_pid == getpid(), 1);
    show_int("sigqueue_si_uid_is_self", si.si_uid == getuid(), 1);

    /* To itself the caller may give any si_code; the fields come as given. */
    m = one_sig(S1);
    static const struct {
        int code;
        const char *name, *taken, *code_name;
    } codes[] = {
        {SI_USER, "rt_sigqueueinfo_self_si_user", "rt_sigqueueinfo_self_si_user_code", "SI_USER"},
        {SI_KERNEL, "rt_sigqueueinfo_self_si_kernel", "rt_sigqueueinfo_self_si_kernel_code",
         "SI_KERNEL"},
        {SI_TKILL, "rt_sigqueueinfo_self_si_tkill", "rt_sigqueueinfo_self_si_tkill_code",
         "SI_TKILL"},
    };
    for (unsigned i = 0; i < sizeof codes / sizeof *codes; i++) {
        SHOW_RET(codes[i].name, sigqueueinfo(getpid(), S1, qinfo(codes[i].code, 5)), 0, 0);
        memset(&si, 0, sizeof si);
        k_timedwait(&m, &si, &zero);
        show(codes[i].taken, codename(si.si_code), codes[i].code_name);
        if (i == 0)
            show_int("rt_sigqueueinfo_self_pid_as_given", si.si_pid, 4242);
    }
    SHOW_RET("rt_sigqueueinfo_signal_0", sigqueueinfo(getpid(), 0, qinfo(SI_QUEUE, 0)), 0, 0);
    SHOW_RET("rt_sigqueueinfo_signal_65", sigqueueinfo(getpid(), 65, qinfo(SI_QUEUE, 0)), -1,
             EINVAL);
    SHOW_RET("rt_sigqueueinfo_no_such_pid", sigqueueinfo(0x3ffffff0, S1, qinfo(SI_QUEUE, 0)), -1,
             ESRCH);
}

/* From a thread other than the leader, the process's pid is not the caller's own id. */
static long thr_user_ret, thr_queue_ret;
static int thr_user_err, thr_queue_err;
static void *queue_from_thread_fn(void *p) {
    (void)p;
    errno = 0;
    thr_user_ret = sigqueueinfo(getpid(), S1, qinfo(SI_USER, 1));
    thr_user_err = errno;
    errno = 0;
    thr_queue_ret = sigqueueinfo(getpid(), S1, qinfo(SI_QUEUE, 1));
    thr_queue_err = errno;
    return NULL;
}

static void sw_sigqueue_from_thread(void) {
    pthread_t t = spawn(queue_from_thread_fn, NULL, "queue thread");
    join(t, "queue thread");
    show_ret("rt_sigqueueinfo_si_user_from_thread", thr_user_ret, thr_user_err, -1, EPERM);
    show_ret("rt_sigqueueinfo_si_queue_from_thread", thr_queue_ret, thr_queue_err, 0, 0);
    drain(S1);
}

static void sw_sigqueue_other_process(void) {
    /* S1 is blocked: the child starts with it blocked and takes what was queued to it. */
    pid_t c = xfork();
    if (c == 0) {
        sigset_t m = one_sig(S1);
        siginfo_t si = {0};
        struct timespec two = {2, 0};
        int r = sigtimedwait(&m, &si, &two);
        if (r < 0)
            _exit(1);
        _exit(r == S1 && si.si_code == SI_QUEUE && si.si_value.sival_int == 77 ? 0 : 2);
    }
    if (c <= 0)
        return;
    SHOW_RET("rt_sigqueueinfo_other_si_user", sigqueueinfo(c, S1, qinfo(SI_USER, 1)), -1, EPERM);
    SHOW_RET("rt_sigqueueinfo_other_si_tkill", sigqueueinfo(c, S1, qinfo(SI_TKILL, 1)), -1, EPERM);
    SHOW_RET("rt_sigqueueinfo_other_si_kernel", sigqueueinfo(c, S1, qinfo(SI_KERNEL, 1)), -1,
             EPERM);
    SHOW_RET("rt_sigqueueinfo_other_positive_code", sigqueueinfo(c, S1, qinfo(5, 1)), -1, EPERM);
    SHOW_RET("rt_sigqueueinfo_other_si_queue", sigqueueinfo(c, S1, qinfo(SI_QUEUE, 77)), 0, 0);
    show("rt_sigqueueinfo_other_received", reap_ms(c, 3000, "sigqueue child"), "exited 0");
}

/* A thread that waits (2 s) for RT4 and records what it took. */
static int tg_sig, tg_code, tg_value, tg_done;
static pid_t tg_tid;
static void *tg_fn(void *p) {
    (void)p;
    tg_tid = gettid_();
    sigset_t m = one_sig(rt(4));
    siginfo_t si = {0};
    memset(&si, 0, sizeof si);
    struct timespec two = {2, 0};
    tg_sig = sigtimedwait(&m, &si, &two);
    tg_code = si.si_code;
    tg_value = si.si_value.sival_int;
    STORE(&tg_done, 1);
    return NULL;
}

static void sw_tgsigqueueinfo(void) {
    tg_sig = tg_code = tg_value = tg_done = 0;
    tg_tid = 0;
    pthread_t t = spawn(tg_fn, NULL, "tgsigqueueinfo thread");
    for (long end = now_ms() + 2000; !LOAD(&tg_tid) && now_ms() < end;)
        sleep_ms(1);
    pid_t me = getpid();
    SHOW_RET("rt_tgsigqueueinfo_thread_si_user", tgsigqueueinfo(me, tg_tid, rt(4), qinfo(SI_USER, 1)),
             -1, EPERM);
    SHOW_RET("rt_tgsigqueueinfo_tid_0", tgsigqueueinfo(me, 0, rt(4), qinfo(SI_QUEUE, 1)), -1,
             EINVAL);
    SHOW_RET("rt_tgsigqueueinfo_tgid_0", tgsigqueueinfo(0, tg_tid, rt(4), qinfo(SI_QUEUE, 1)), -1,
             EINVAL);
    SHOW_RET("rt_tgsigqueueinfo_wrong_tgid",
             tgsigqueueinfo(0x3ffffff0, tg_tid, rt(4), qinfo(SI_QUEUE, 1)), -1, ESRCH);
    SHOW_RET("rt_tgsigqueueinfo_thread", tgsigqueueinfo(me, tg_tid, rt(4), qinfo(SI_QUEUE, 99)), 0,
             0);
    wait_at_least(&tg_done, 1, 2500);
    join(t, "tgsigqueueinfo thread");
    show("rt_tgsigqueueinfo_taken", tg_sig > 0 ? signame(tg_sig) : ret_str(-1, EAGAIN),
         "SIGRTMIN+4");
    show("rt_tgsigqueueinfo_si_code", codename(tg_code), "SI_QUEUE");
    show_int("rt_tgsigqueueinfo_si_value", tg_value, 99);
    block(rt(4));
    SHOW_RET("rt_tgsigqueueinfo_self_si_user", tgsigqueueinfo(me, gettid_(), rt(4),
                                                              qinfo(SI_USER, 1)),
             0, 0);
    drain(rt(4));
    unblock(rt(4));
}

static void sw_queueing(void) {
    set_info_handler(rt(5), on_rec, 0, 0);
    set_info_handler(S1, on_rec, 0, 0);
    rec_reset();
    block(rt(5));
    for (int i = 1; i <= 3; i++)
        sigqueue(getpid(), rt(5), (union sigval){.sival_int = i});
    show_int("rt_signal_pending", is_pending(rt(5)), 1);
    unblock(rt(5));
    show_int("rt_signal_queued_runs", rec_n, 3);
    show_int("rt_signal_values_in_order", rec_val[0] == 1 && rec_val[1] == 2 && rec_val[2] == 3,
             1);

    rec_reset();
    block(S1);
    for (int i = 0; i < 3; i++)
        kill(getpid(), S1);
    unblock(S1);
    show_int("standard_signal_kill_runs_once", rec_n, 1);
    rec_reset();
    block(S1);
    for (int i = 1; i <= 3; i++) {
        char n[32];
        snprintf(n, sizeof n, "sigqueue_standard_%d", i);
        SHOW_RET(n, sigqueue(getpid(), S1, (union sigval){.sival_int = i}), 0, 0);
    }
    unblock(S1);
    show_int("standard_signal_sigqueue_runs_once", rec_n, 1);
    show_int("standard_signal_first_value", rec_val[0], 1);
}

static void sw_order(void) {
    int sigs[] = {rt(6), S2, rt(1), S1};
    sigset_t m;
    sigemptyset(&m);
    for (int i = 0; i < 4; i++) {
        set_info_handler(sigs[i], on_rec, 0, 1);
        sigaddset(&m, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &m, NULL);
    rec_reset();
    for (int i = 0; i < 4; i++)
        sigqueue(getpid(), sigs[i], (union sigval){.sival_int = i});
    sigprocmask(SIG_UNBLOCK, &m, NULL);
    char order[128] = "";
    for (int i = 0; i < rec_n && i < 16; i++) {
        if (i)
            strcat(order, ",");
        strcat(order, signame(rec_sig[i]));
    }
    show("delivery_order", order, "SIGUSR1,SIGUSR2,SIGRTMIN+1,SIGRTMIN+6");
}

static int t_sigwait(void) {
    set_info_handler(S1, on_rec, 0, 0);
    set_info_handler(S2, on_rec, 0, 0);
    for (int i = 1; i <= 6; i++)
        set_info_handler(rt(i), on_rec, 0, 0);
    sw_timedwait();
    sw_interrupted();
    sw_other_thread();
    sw_sigqueue_self();
    sw_sigqueue_from_thread();
    sw_sigqueue_other_process();
    unblock(S1);
    sw_tgsigqueueinfo();
    sw_queueing();
    sw_order();
    return 0;
}

/* ---------------------------------------------------------------- altstack
 *
 * Linux: a process starts with no alternate stack (SS_DISABLE, no pointer, size 0);
 * sigaltstack sets one and reads it back (ss_flags 0; SS_ONSTACK given is taken as 0,
 * SS_AUTODISARM is kept and reported). An SA_ONSTACK handler runs on it (a nested one further
 * down the same stack), reads SS_ONSTACK, sees the stack in its ucontext's uc_stack, and cannot
 * change or disable it (EPERM); a handler without SA_ONSTACK runs on the normal stack and may
 * change it, but rt_sigreturn sets the stack saved in the frame's uc_stack back. With
 * SS_AUTODISARM the handler sees the stack disabled, restored after it returns. A new thread
 * has none; a forked child keeps the parent's. A stack overflow is caught by an SA_ONSTACK
 * SIGSEGV handler; without an alternate stack it kills with SIGSEGV. Errors: ss_size below
 * MINSIGSTKSZ ENOMEM (not checked with SS_DISABLE), unknown flags EINVAL, bad pointers EFAULT.
 */

static char alt[65536] __attribute__((aligned(16)));
static char alt2[65536] __attribute__((aligned(16)));

static int in_alt(const void *p) {
    return (const char *)p >= alt && (const char *)p < alt + sizeof alt;
}

static int set_alt(void *sp, size_t size, int flags) {
    stack_t ss = {.ss_sp = sp, .ss_size = size, .ss_flags = flags};
    return sigaltstack(&ss, NULL);
}

static stack_t get_alt(void) {
    stack_t ss;
    memset(&ss, 0xff, sizeof ss);
    sigaltstack(NULL, &ss);
    return ss;
}

/* What the handlers saw. */
static struct {
    int ran, on_alt, flags, uc_ok, set_ret, set_err, dis_ret, dis_err;
    int nested_ran, nested_on_alt, nested_below;
    uintptr_t local;
} hs;
static volatile int nest;

static void on_nested(int s) {
    (void)s;
    volatile char local = 0;
    hs.nested_ran = 1;
    hs.nested_on_alt = in_alt((const void *)&local);
    hs.nested_below = (uintptr_t)&local < hs.local;
}

static void on_alt_sig(int s, siginfo_t *si, void *ucv) {
    (void)s;
    (void)si;
    int saved = errno;
    volatile char local = 0;
    ucontext_t *uc = ucv;
    hs.ran = 1;
    hs.local = (uintptr_t)&local;
    hs.on_alt = in_alt((const void *)&local);
    hs.flags = get_alt().ss_flags;
    hs.uc_ok = uc->uc_stack.ss_sp == alt && uc->uc_stack.ss_size == sizeof alt;
    errno = 0;
    hs.set_ret = set_alt(alt2, sizeof alt2, 0);
    hs.set_err = errno;
    errno = 0;
    hs.dis_ret = set_alt(NULL, 0, SS_DISABLE);
    hs.dis_err = errno;
    if (nest)
        raise(SIGUSR2);
    errno = saved;
}

static void alt_set_get(void) {
    stack_t ss = get_alt();
    show("initial_flags", ssflags(ss.ss_flags), "SS_DISABLE");
    show_int("initial_sp_size_zero", ss.ss_sp == NULL && ss.ss_size == 0, 1);
    SHOW_RET("sigaltstack_set", set_alt(alt, sizeof alt, 0), 0, 0);
    ss = get_alt();
    show("set_flags", ssflags(ss.ss_flags), "0");
    show_int("set_reads_back", ss.ss_sp == alt && ss.ss_size == sizeof alt, 1);
    stack_t old;
    memset(&old, 0, sizeof old);
    stack_t n = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = SS_ONSTACK};
    SHOW_RET("sigaltstack_set_ss_onstack", sigaltstack(&n, &old), 0, 0);
    show_int("old_value_returned", old.ss_sp == alt && old.ss_size == sizeof alt, 1);
    show("ss_onstack_taken_as_0", ssflags(get_alt().ss_flags), "0");
}

static void alt_handlers(void) {
    set_info_handler(SIGUSR1, on_alt_sig, SA_ONSTACK, 0);
    set_handler(SIGUSR2, on_nested, SA_ONSTACK);
    memset(&hs, 0, sizeof hs);
    nest = 1;
    raise(SIGUSR1);
    nest = 0;
    show_int("onstack_handler_ran", hs.ran, 1);
    show_int("onstack_handler_on_alt_stack", hs.on_alt, 1);
    show("onstack_handler_flags", ssflags(hs.flags), "SS_ONSTACK");
    show_int("onstack_handler_uc_stack", hs.uc_ok, 1);
    show_ret("change_while_on_it", hs.set_ret, hs.set_err, -1, EPERM);
    show_ret("disable_while_on_it", hs.dis_ret, hs.dis_err, -1, EPERM);
    show_int("nested_handler_ran", hs.nested_ran, 1);
    show_int("nested_handler_on_alt_stack", hs.nested_on_alt, 1);
    show_int("nested_handler_below_outer", hs.nested_below, 1);
    stack_t ss = get_alt();
    show("after_handler_flags", ssflags(ss.ss_flags), "0");
    show_int("after_handler_same_stack", ss.ss_sp == alt, 1);

    /* Without SA_ONSTACK: the normal stack, flags 0, changes allowed. */
    set_info_handler(SIGUSR1, on_alt_sig, 0, 0);
    memset(&hs, 0, sizeof hs);
    raise(SIGUSR1);
    show_int("plain_handler_on_alt_stack", hs.on_alt, 0);
    show("plain_handler_flags", ssflags(hs.flags), "0");
    show_ret("plain_handler_may_change", hs.set_ret, hs.set_err, 0, 0);
    show_ret("plain_handler_may_disable", hs.dis_ret, hs.dis_err, 0, 0);
    ss = get_alt();
    show("sigreturn_restores_flags", ssflags(ss.ss_flags), "0");
    show_int("sigreturn_restores_stack", ss.ss_sp == alt && ss.ss_size == sizeof alt, 1);
}

static void alt_autodisarm(void) {
    SHOW_RET("sigaltstack_autodisarm", set_alt(alt, sizeof alt, SS_AUTODISARM), 0, 0);
    stack_t ss = get_alt();
    show("autodisarm_flags", ssflags(ss.ss_flags), "SS_AUTODISARM");
    set_info_handler(SIGUSR1, on_alt_sig, SA_ONSTACK, 0);
    memset(&hs, 0, sizeof hs);
    raise(SIGUSR1);
    show_int("autodisarm_handler_on_alt_stack", hs.on_alt, 1);
    show("autodisarm_handler_flags", ssflags(hs.flags), "SS_DISABLE");
    ss = get_alt();
    show("autodisarm_restored_flags", ssflags(ss.ss_flags), "SS_AUTODISARM");
    show_int("autodisarm_restored_stack", ss.ss_sp == alt && ss.ss_size == sizeof alt, 1);
    set_alt(alt, sizeof alt, 0);
}

static int thread_flags = -1;
static void *alt_thread_fn(void *p) {
    (void)p;
    stack_t ss = get_alt();
    thread_flags = ss.ss_sp == NULL && ss.ss_size == 0 ? ss.ss_flags : -1;
    return NULL;
}

static void alt_inherit(void) {
    pthread_t t = spawn(alt_thread_fn, NULL, "altstack thread");
    join(t, "altstack thread");
    show("new_thread_flags", ssflags(thread_flags), "SS_DISABLE");
    pid_t c = xfork();
    if (c == 0) {
        stack_t ss = get_alt();
        _exit(ss.ss_sp == alt && ss.ss_size == sizeof alt && ss.ss_flags == 0 ? 0 : 1);
    }
    if (c > 0)
        show("fork_child_keeps_altstack", reap_ms(c, 2000, "altstack child"), "exited 0");
}

static void alt_errors(void) {
    SHOW_RET("sigaltstack_too_small", set_alt(alt2, 1024, 0), -1, ENOMEM);
    SHOW_RET("sigaltstack_bad_flags", set_alt(alt2, sizeof alt2, 0x1234), -1, EINVAL);
    SHOW_RET("sigaltstack_onstack_and_disable", set_alt(alt2, sizeof alt2, SS_ONSTACK | SS_DISABLE),
             -1, EINVAL);
    show_int("rejected_left_stack", get_alt().ss_sp == alt, 1);
    SHOW_RET("sigaltstack_bad_pointer", sigaltstack((stack_t *)8, NULL), -1, EFAULT);
    SHOW_RET("sigaltstack_bad_old_pointer", sigaltstack(NULL, (stack_t *)8), -1, EFAULT);
    SHOW_RET("sigaltstack_disable_size_0", set_alt(NULL, 0, SS_DISABLE), 0, 0);
    show("disabled_flags", ssflags(get_alt().ss_flags), "SS_DISABLE");
}

/* A stack overflow in a child: recursion until the stack (4 MiB at most) runs out. */
static volatile int never;
static void on_overflow(int s) {
    volatile char local = 0;
    (void)s;
    _exit(in_alt((const void *)&local) ? 42 : 43);
}

__attribute__((noinline)) static int recurse(int n) {
    volatile char buf[1024];
    buf[n % sizeof buf] = (char)n;
    if (never)
        return buf[0];
    return recurse(n + 1) + buf[(n + 1) % sizeof buf];
}

static void overflow_child(int with_alt) {
    prctl(PR_SET_DUMPABLE, 0);
    struct rlimit core = {0, 0}, stack = {4 << 20, 4 << 20};
    setrlimit(RLIMIT_CORE, &core);
    setrlimit(RLIMIT_STACK, &stack);
    set_alt(with_alt ? alt : NULL, with_alt ? sizeof alt : 0, with_alt ? 0 : SS_DISABLE);
    set_handler(SIGSEGV, on_overflow, SA_ONSTACK);
    _exit(recurse(0) == 7 ? 90 : 91);
}

static void alt_overflow(void) {
    static const char *names[] = {"overflow_without_altstack", "overflow_caught_on_altstack"};
    static const char *wants[] = {"killed SIGSEGV", "exited 42"};
    for (int i = 0; i < 2; i++) {
        pid_t c = xfork();
        if (c == 0)
            overflow_child(i);
        if (c > 0)
            show(names[i], reap_ms(c, 3000, names[i]), wants[i]);
    }
}

static int t_altstack(void) {
    alt_set_get();
    alt_handlers();
    set_alt(alt, sizeof alt, 0);
    alt_autodisarm();
    alt_inherit();
    alt_errors();
    alt_overflow();
    return 0;
}

/* ---------------------------------------------------------------- main */

/* An area starts with its name known to the watchdog, which ends it if it hangs. */
static void start_area(const char *name) {
    area_name = name;
    start_watchdog();
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: timers alarm|itimer|posix_timers|sigwait|altstack\n");
        return 2;
    }
    static const struct area areas[] = {
        {"alarm", t_alarm},     {"itimer", t_itimer},     {"posix_timers", t_posix_timers},
        {"sigwait", t_sigwait}, {"altstack", t_altstack},
    };
    main_tid = gettid_();
    set_handler(GUARD_SIG, on_guard, 0);
    return run_area("timers", argv[1], areas, sizeof areas / sizeof *areas, start_area);
}
