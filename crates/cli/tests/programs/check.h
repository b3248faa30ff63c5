/* What the C semantics programs of tests/programs share: the failure count, names for errno
 * values and signals, and `name=value` lines with a FAIL line for each value that is not the
 * wanted one. Each program runs in the container class (the real kernel: the program must
 * pass there first) and in the sandbox; the Rust tests compare the two outputs. */
#ifndef BULKHEAD_CHECK_H
#define BULKHEAD_CHECK_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

/* One of eight rotating buffers, for names made on the spot (several may be in one printf). */
static inline char *scratch(void) {
    static char b[8][48];
    static int i;
    i = (i + 1) % 8;
    return b[i];
}

/* An errno value by its name ("EINVAL"); "0" for none. */
static inline const char *errname(int e) {
    const char *n = e == 0 ? "0" : strerrorname_np(e);
    if (n)
        return n;
    char *b = scratch();
    snprintf(b, 48, "errno%d", e);
    return b;
}

/* A signal by its name ("SIGUSR1", "SIGRTMIN+2"); "none" for 0. */
static inline const char *signame(int s) {
    char *b = scratch();
    const char *a = s > 0 && s < SIGRTMIN ? sigabbrev_np(s) : NULL;
    if (s == 0)
        return "none";
    if (s >= SIGRTMIN && s <= SIGRTMAX)
        snprintf(b, 48, "SIGRTMIN+%d", s - SIGRTMIN);
    else if (a)
        snprintf(b, 48, "SIG%s", a);
    else
        snprintf(b, 48, "sig%d", s);
    return b;
}

/* Prints `name=got`; a FAIL line when it is not `want`. */
static inline void show(const char *name, const char *got, const char *want) {
    printf("%s=%s\n", name, got);
    if (strcmp(got, want) != 0) {
        printf("FAIL %s: got %s, want %s\n", name, got, want);
        failures++;
    }
    fflush(stdout);
}

/* As show, with a second value Linux also gives (another kernel version's). */
static inline void show_either(const char *name, const char *got, const char *want,
                               const char *alt) {
    show(name, got, strcmp(got, alt) == 0 ? alt : want);
}

static inline void show_int(const char *name, long got, long want) {
    char g[32], w[32];
    snprintf(g, sizeof g, "%ld", got);
    snprintf(w, sizeof w, "%ld", want);
    show(name, g, w);
}

/* Installs handler `h` for `sig` with sa_flags `flags` and an empty sa_mask. */
static inline void set_handler(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* A failure that is not a value (a thread that could not start, a wait that never ended). */
static inline void fail(const char *name, const char *what) {
    printf("FAIL %s: %s\n", name, what);
    failures++;
    fflush(stdout);
}

/* A call's result as "R" or "-1 ERRNO". */
static inline const char *ret_str(long r, int e) {
    char *b = scratch();
    if (r == -1)
        snprintf(b, 48, "-1 %s", errname(e));
    else
        snprintf(b, 48, "%ld", r);
    return b;
}

/* A call's result (r, with errno e) against the wanted result and errno. */
static inline void show_ret(const char *name, long r, int e, long want_r, int want_e) {
    char w[48];
    snprintf(w, sizeof w, "%s", ret_str(want_r, want_e));
    show(name, ret_str(r, e), w);
}

/* A call's result and errno (read after the call: argument order is unspecified). */
#define SHOW_RET(name, call, want_r, want_e)                                               \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (long)(call);                                                            \
        int e_ = errno;                                                                    \
        show_ret(name, r_, e_, want_r, want_e);                                            \
    } while (0)

/* A pthread call's result (an error number, 0 for success) by name. */
#define SHOW_ERR(name, call, want) show(name, errname(call), errname(want))

/* A wait status as text: "exited N", "killed SIG" (with " core" when one was dumped),
 * "stopped SIG", "continued". */
static inline const char *status_str(int st) {
    /* Its own buffers: the signal's name comes from scratch(). */
    static char ring[8][48];
    static int i;
    char *b = ring[i = (i + 1) % 8];
    if (WIFEXITED(st))
        snprintf(b, 48, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(b, 48, "killed %s%s", signame(WTERMSIG(st)), WCOREDUMP(st) ? " core" : "");
    else if (WIFSTOPPED(st))
        snprintf(b, 48, "stopped %s", signame(WSTOPSIG(st)));
    else if (WIFCONTINUED(st))
        snprintf(b, 48, "continued");
    else
        snprintf(b, 48, "raw %#x", st);
    return b;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Sleeps ms in all, through handlers that interrupt the sleep. */
static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* The status of `pid` as text, waited for at most ms (then killed: "timeout"). */
static inline const char *reap_ms(pid_t pid, long ms, const char *what) {
    int st = 0;
    for (long end = now_ms() + ms;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return status_str(st);
        if (r < 0)
            return ret_str(-1, errno);
        if (now_ms() > end)
            break;
        sleep_ms(2);
    }
    char b[64];
    snprintf(b, sizeof b, "child still running after %ld ms", ms);
    fail(what, b);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return "timeout";
}

/* One area of a semantics program: the name on its command line and what checks it. */
struct area {
    const char *name;
    int (*fn)(void);
};

/* Runs the area called `name` (after `start`, when given, with the area's name): its lines,
 * then "<area>: ok" or "<area>: FAILED" last; the exit status is 1 when a check failed, 2
 * for an area `prog` does not have. */
static inline int run_area(const char *prog, const char *name, const struct area *areas,
                           size_t n, void (*start)(const char *)) {
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, areas[i].name) != 0)
            continue;
        if (start)
            start(areas[i].name);
        areas[i].fn();
        fflush(stdout);
        printf("%s: %s\n", name, failures ? "FAILED" : "ok");
        fflush(stdout);
        return failures ? 1 : 0;
    }
    fprintf(stderr, "%s: unknown subcommand %s\n", prog, name);
    return 2;
}

/* fork, with stdout flushed first so that nothing is printed twice. */
static inline pid_t xfork(void) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        fail("fork", errname(errno));
    return p;
}

#endif
