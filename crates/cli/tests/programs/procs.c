/* Process semantics, for the sandbox class against the container class (tests/sandbox_procs.rs).
 * A static program; each subcommand tests one area and prints one `name=value` line per
 * observation, only values that are the same on any Linux (no pids, no times: `ppid_ok=1`
 * rather than a pid). A value that is not what Linux gives is followed by a line
 * `FAIL name: got X, want Y`; the program goes on and exits 1 at the end if anything failed.
 *
 *   procs fork     fork/wait4/waitid: exit statuses, deaths by signal, zombies, WNOHANG,
 *                  WNOWAIT, ECHILD, SIGCHLD ignored, clone and clone3 as fork
 *   procs exec     execve of /bin/sh -c, close-on-exec, failed execs, #! scripts, argv/envp,
 *                  vfork (+exec), execveat, fexecve, posix_spawn, signal state across exec
 *   procs pipe     pipes between processes: data, EOF, EPIPE/SIGPIPE, PIPE_BUF atomicity,
 *                  O_NONBLOCK, FIONREAD, poll, pipe sizes
 *   procs fds      dup/dup2/dup3/F_DUPFD/close_range, shared offsets and flags, fork's copy
 *   procs signals  kill, SIGCHLD handlers and siginfo, sigsuspend, stop/continue, EINTR and
 *                  SA_RESTART, kill(0)/kill(-1), faults (SIGSEGV, SIGILL, SIGFPE) to handlers
 *   procs pgrp     process groups and sessions: setpgid, getpgid, setsid, getsid,
 *                  kill(-pgid), waiting by group
 *   procs orphans  reparenting to pid 1 (the program is pid 1 in both classes) and to a
 *                  subreaper, orphaned zombies
 *   procs sleep    nanosleep/clock_nanosleep: duration, EINVAL, concurrent sleepers, EINTR
 *
 * The rootfs must hold this program as /bin/procs, /notelf (mode 0755, not a program) and
 * /script.sh (mode 0755: `#!/bin/sh` then `echo "script $0 $1"`). The program runs as the
 * container's pid 1: signals it has no handler for are ignored by it, and orphans come to it.
 * Internal subcommands run by exec: exit N, fdcheck FD..., sigstate, args..., ids PID PPID,
 * block.
 */
#define _GNU_SOURCE
#include <sys/select.h>
#include <sys/sysmacros.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <utime.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* ---------------------------------------------------------------- reporting */

static const char *cld_code(int c) {
    switch (c) {
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED";
    case CLD_CONTINUED: return "CLD_CONTINUED";
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    default: {
        static char b[16];
        snprintf(b, sizeof b, "code%d", c);
        return b;
    }
    }
}

static const char *poll_str(short ev) {
    static char b[8][64];
    static int i;
    i = (i + 1) % 8;
    b[i][0] = 0;
    if (ev & POLLIN) strcat(b[i], "|IN");
    if (ev & POLLOUT) strcat(b[i], "|OUT");
    if (ev & POLLERR) strcat(b[i], "|ERR");
    if (ev & POLLHUP) strcat(b[i], "|HUP");
    if (ev & POLLNVAL) strcat(b[i], "|NVAL");
    if (ev & ~(POLLIN | POLLOUT | POLLERR | POLLHUP | POLLNVAL)) {
        char x[16];
        snprintf(x, sizeof x, "|%#x", ev & ~(POLLIN | POLLOUT | POLLERR | POLLHUP | POLLNVAL));
        strcat(b[i], x);
    }
    return b[i][0] ? b[i] + 1 : "0";
}

/* ---------------------------------------------------------------- helpers */

static volatile sig_atomic_t got_usr1, got_usr2, chld_count;
static volatile int chld_code, chld_status, chld_pid;
static void on_usr1(int s) {
    (void)s;
    got_usr1++;
}
static void on_usr2(int s) {
    (void)s;
    got_usr2++;
}

/* Waits up to `ms` for `pid` (WNOHANG polling): its pid, 0 on timeout (the child is then
 * killed and reaped, and a FAIL printed), -1 with errno on error. */
static pid_t wait_timed(pid_t pid, int *st, int opts, int ms, const char *what) {
    long end = now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, st, opts | WNOHANG);
        if (r != 0)
            return r;
        if (now_ms() > end)
            break;
        sleep_ms(2);
    }
    printf("FAIL %s: child still running after %d ms\n", what, ms);
    failures++;
    fflush(stdout);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, st, 0);
    }
    *st = -1;
    return 0;
}

/* The status of `pid` as text, waited for at most 1.5 s. */
static const char *reap(pid_t pid, const char *what) {
    int st = 0;
    pid_t r = wait_timed(pid, &st, 0, 1500, what);
    if (r == 0)
        return "timeout";
    if (r < 0)
        return ret_str(-1, errno);
    if (r != pid)
        return "other-pid";
    return status_str(st);
}

/* Sends `sig` to `pid` every 20 ms until it ends (a signal that comes before the child is in
 * the call it should interrupt is then followed by another); its status as text. */
static const char *kill_until_exit(pid_t pid, int sig, const char *what) {
    long end = now_ms() + 1500;
    int st = 0;
    while (now_ms() < end) {
        kill(pid, sig);
        sleep_ms(20);
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return status_str(st);
        if (r < 0)
            return ret_str(-1, errno);
    }
    return reap(pid, what);
}

/* Waits (bounded) until *flag == want, as a handler sets it. */
static void wait_flag(volatile int *flag, int want) {
    for (long end = now_ms() + 500; *flag != want && now_ms() < end;)
        sleep_ms(2);
}

/* Reads up to n bytes, waiting at most ms for the first ones (poll); -2 on timeout. */
static ssize_t read_timed(int fd, void *buf, size_t n, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r == 0)
        return -2;
    if (r < 0)
        return -1;
    return read(fd, buf, n);
}

/* Reads until EOF (or `cap` bytes), at most `ms` in all; returns the count, -2 on timeout. */
static ssize_t read_all(int fd, char *buf, size_t cap, int ms) {
    size_t got = 0;
    long end = now_ms() + ms;
    while (got < cap) {
        long left = end - now_ms();
        if (left < 0)
            return -2;
        ssize_t r = read_timed(fd, buf + got, cap - got, (int)left);
        if (r == -2)
            return -2;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += r;
    }
    return got;
}

/* Waits (bounded) for one byte from a child that says it is ready. */
static void await_ready(int fd, const char *what) {
    char c;
    if (read_timed(fd, &c, 1, 1500) != 1) {
        printf("FAIL %s: child never got ready\n", what);
        failures++;
        fflush(stdout);
    }
}

static void ready(int fd) {
    char c = 'r';
    if (write(fd, &c, 1) != 1)
        _exit(99);
}

static void set_action(int sig, void (*h)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Runs /bin/procs with `args` in a child whose stdout is a pipe; returns what it printed
 * (first line's newline kept) and sets *status to its wait status text. */
static const char *run_capture(char *const argv[], char *const envp[], void (*setup)(void),
                               const char **status) {
    static char out[4][4096];
    static int i;
    i = (i + 1) % 4;
    int p[2];
    if (pipe(p) < 0) {
        *status = "pipe failed";
        return "";
    }
    pid_t c = xfork();
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (setup)
            setup();
        execve(argv[0], argv, envp ? envp : environ);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = read_all(p[0], out[i], sizeof out[i] - 1, 1500);
    close(p[0]);
    out[i][n > 0 ? n : 0] = 0;
    *status = reap(c, "run_capture");
    /* One line of output: newlines become ';'. */
    for (char *s = out[i]; *s; s++)
        if (*s == '\n')
            *s = ';';
    return out[i];
}

/* A page of read-only data of its own, which the mapcache area makes writable in one
 * process: no other process running this program may see the change. */
static const char ro_page[4096] __attribute__((aligned(4096))) = "original";

/* ---------------------------------------------------------------- internal subcommands */

static int helper(int argc, char **argv) {
    const char *cmd = argv[1];
    if (!strcmp(cmd, "exit") && argc > 2)
        exit(atoi(argv[2]));
    if (!strcmp(cmd, "fdcheck")) {
        for (int i = 2; i < argc; i++)
            printf("%s%s", fcntl(atoi(argv[i]), F_GETFD) >= 0 ? "open" : "closed",
                   i + 1 < argc ? " " : "\n");
        return 0;
    }
    if (!strcmp(cmd, "sigstate")) {
        struct sigaction a1, a2;
        sigaction(SIGUSR1, NULL, &a1);
        sigaction(SIGUSR2, NULL, &a2);
        sigset_t m;
        sigprocmask(SIG_BLOCK, NULL, &m);
#define DISP(a) ((a).sa_handler == SIG_DFL ? "dfl" : (a).sa_handler == SIG_IGN ? "ign" : "handler")
        printf("usr1=%s usr2=%s term_blocked=%d\n", DISP(a1), DISP(a2), sigismember(&m, SIGTERM));
        return 0;
    }
    if (!strcmp(cmd, "rodata")) {
        printf("%s\n", ro_page);
        return 0;
    }
    if (!strcmp(cmd, "args")) {
        printf("argc=%d", argc);
        for (int i = 2; i < argc; i++)
            printf(" [%s]", argv[i]);
        int n = 0;
        for (char **e = environ; *e; e++)
            n++;
        const char *v = getenv("PROCS_ENV");
        printf(" envc=%d env=%s\n", n, v ? v : "(unset)");
        return 0;
    }
    if (!strcmp(cmd, "ids") && argc > 3)
        return getpid() == atoi(argv[2]) && getppid() == atoi(argv[3]) ? 0 : 1;
    if (!strcmp(cmd, "info")) { /* for people, not the tests: what pid 1 is */
        printf("pid=%d ppid=%d pgrp=%d sid=%d\n", getpid(), getppid(), getpgrp(), getsid(0));
        errno = 0;
        long r = setsid();
        printf("setsid=%s pgrp=%d sid=%d\n", ret_str(r, errno), getpgrp(), getsid(0));
        return 0;
    }
    if (!strcmp(cmd, "block")) {
        for (;;)
            pause();
    }
    return -1;
}

/* ---------------------------------------------------------------- fork */

static int t_fork(void) {
    int st = 0;
    errno = 0;
    long r = wait4(-1, &st, 0, NULL);
    show_ret("wait4_no_children", r, errno, -1, ECHILD);
    r = waitpid(-1, &st, WNOHANG);
    show_ret("waitpid_wnohang_no_children", r, errno, -1, ECHILD);
    r = waitpid(12345, &st, 0);
    show_ret("waitpid_not_a_child", r, errno, -1, ECHILD);

    /* Exit statuses through a blocking wait4. */
    int codes[] = {0, 1, 42, 255, 256 + 3};
    for (unsigned i = 0; i < sizeof codes / sizeof *codes; i++) {
        pid_t c = xfork();
        if (c == 0)
            _exit(codes[i]);
        st = 0;
        pid_t w = wait4(c, &st, 0, NULL);
        char name[32];
        snprintf(name, sizeof name, "exit_%d", codes[i]);
        char want[32];
        snprintf(want, sizeof want, "exited %d", codes[i] & 0xff);
        show(name, w == c ? status_str(st) : "wrong pid", want);
    }
    /* exit and exit_group system calls. */
    pid_t c = xfork();
    if (c == 0)
        syscall(SYS_exit, 9);
    show("sys_exit_9", reap(c, "sys_exit"), "exited 9");
    c = xfork();
    if (c == 0)
        syscall(SYS_exit_group, 10);
    show("sys_exit_group_10", reap(c, "sys_exit_group"), "exited 10");

    /* The child's pid and parent as it sees them. */
    int p[2];
    pipe(p);
    pid_t me = getpid();
    c = xfork();
    if (c == 0) {
        pid_t ids[2] = {getpid(), getppid()};
        write(p[1], ids, sizeof ids);
        _exit(0);
    }
    pid_t ids[2] = {0, 0};
    read_timed(p[0], ids, sizeof ids, 1500);
    close(p[0]);
    close(p[1]);
    show_int("child_getpid_is_fork_result", ids[0] == c, 1);
    show_int("child_getppid_is_parent", ids[1] == me, 1);
    show_int("fork_result_positive", c > 0, 1);
    show("ids_child", reap(c, "ids"), "exited 0");

    /* Deaths by signal. */
    c = xfork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGTERM);
    show("killed_by_sigterm", reap(c, "sigterm"), "killed SIGTERM");
    c = xfork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGKILL);
    show("killed_by_sigkill", reap(c, "sigkill"), "killed SIGKILL");
    c = xfork();
    if (c == 0) {
        prctl(PR_SET_DUMPABLE, 0); /* no core file, whatever the host's core_pattern */
        raise(SIGQUIT);
        _exit(1);
    }
    show("killed_by_sigquit_core_action", reap(c, "sigquit"), "killed SIGQUIT");
    c = xfork();
    if (c == 0) {
        prctl(PR_SET_DUMPABLE, 0);
        abort();
    }
    show("abort", reap(c, "abort"), "killed SIGABRT");
    c = xfork();
    if (c == 0) {
        kill(getpid(), SIGUSR1);
        _exit(1);
    }
    show("killed_by_own_sigusr1", reap(c, "sigusr1"), "killed SIGUSR1");

    /* A zombie stays visible (kill 0, waitid WNOWAIT) until it is reaped. */
    c = xfork();
    if (c == 0)
        _exit(7);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    show_ret("waitid_wnowait", r, errno, 0, 0);
    show_int("waitid_wnowait_pid_ok", si.si_pid == c, 1);
    show("waitid_wnowait_code", cld_code(si.si_code), "CLD_EXITED");
    show_int("waitid_wnowait_status", si.si_status, 7);
    show_int("waitid_wnowait_signo", si.si_signo, SIGCHLD);
    errno = 0;
    SHOW_RET("kill0_zombie", kill(c, 0), 0, 0);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOWAIT | WNOHANG);
    show_int("waitid_wnowait_again_pid_ok", r == 0 && si.si_pid == c, 1);
    st = 0;
    r = wait4(c, &st, WNOHANG, NULL);
    show_int("wait4_reaps_zombie", r == c, 1);
    show("zombie_status", status_str(st), "exited 7");
    errno = 0;
    SHOW_RET("kill0_reaped", kill(c, 0), -1, ESRCH);
    errno = 0;
    SHOW_RET("wait4_reaped_again", wait4(c, &st, 0, NULL), -1, ECHILD);

    /* WNOHANG while the child runs (blocked on a pipe). */
    pipe(p);
    c = xfork();
    if (c == 0) {
        close(p[1]);
        char b;
        _exit(read(p[0], &b, 1) == 0 ? 0 : 1);
    }
    close(p[0]);
    errno = 0;
    SHOW_RET("wait4_wnohang_running", wait4(c, &st, WNOHANG, NULL), 0, 0);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOHANG);
    show_int("waitid_wnohang_running", r, 0);
    show_int("waitid_wnohang_running_si_pid", si.si_pid, 0);
    close(p[1]);
    show("child_saw_eof", reap(c, "wnohang child"), "exited 0");

    /* waitid's siginfo for a killed child. */
    c = xfork();
    if (c == 0) {
        for (;;)
            pause();
    }
    kill(c, SIGKILL);
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED);
    show_int("waitid_all_killed", r == 0 && si.si_pid == c, 1);
    show("waitid_killed_code", cld_code(si.si_code), "CLD_KILLED");
    show("waitid_killed_status", signame(si.si_status), "SIGKILL");

    /* Many children, reaped in any order by wait4(-1). */
    int n = 0, sum = 0;
    for (int i = 1; i <= 10; i++) {
        if (xfork() == 0)
            _exit(i);
    }
    for (;;) {
        st = 0;
        r = wait4(-1, &st, 0, NULL);
        if (r <= 0)
            break;
        n++;
        sum += WEXITSTATUS(st);
    }
    show_int("many_children_reaped", n, 10);
    show_int("many_children_status_sum", sum, 55);
    show("many_children_then", errname(errno), "ECHILD");

    /* SIGCHLD ignored: children leave no zombie; wait4 waits for them, then ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    c = xfork();
    if (c == 0) {
        sleep_ms(20);
        _exit(3);
    }
    errno = 0;
    r = wait4(-1, &st, 0, NULL);
    show_ret("sigchld_ign_wait4", r, errno, -1, ECHILD);
    errno = 0;
    SHOW_RET("sigchld_ign_kill0", kill(c, 0), -1, ESRCH);
    signal(SIGCHLD, SIG_DFL);

    /* clone(SIGCHLD) and clone3 as fork. */
    c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (c == 0)
        _exit(11);
    show("clone_as_fork", c > 0 ? reap(c, "clone") : ret_str(-1, errno), "exited 11");
    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    fflush(stdout);
    c = syscall(SYS_clone3, &ca, sizeof ca);
    if (c == 0)
        _exit(12);
    show("clone3_as_fork", c > 0 ? reap(c, "clone3") : ret_str(-1, errno), "exited 12");

    /* Memory after fork is a copy. */
    static volatile int var = 1;
    c = xfork();
    if (c == 0) {
        var = 2;
        _exit(var);
    }
    show("child_wrote_copy", reap(c, "copy"), "exited 2");
    show_int("parent_copy_untouched", var, 1);
    return 0;
}

/* ---------------------------------------------------------------- exec */

static void sigstate_setup(void) {
    set_handler(SIGUSR1, on_usr1, 0);
    signal(SIGUSR2, SIG_IGN);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    sigprocmask(SIG_BLOCK, &m, NULL);
}

static const char *fork_exec_status(const char *path, char *const argv[]) {
    pid_t c = xfork();
    if (c == 0) {
        execv(path, argv);
        _exit(127);
    }
    return reap(c, path);
}

static int t_exec(void) {
    const char *st;
    /* /bin/sh -c with its stdout on a pipe. */
    char *sh[] = {"/bin/sh", "-c", "echo from-sh $0 $1; exit 3", "x", "y", NULL};
    show("sh_c_output", run_capture(sh, NULL, NULL, &st), "from-sh x y;");
    show("sh_c_status", st, "exited 3");

    /* Close-on-exec: which descriptors the new program still has. */
    int a[2], b[2];
    pipe2(a, O_CLOEXEC);
    pipe(b);
    int c = fcntl(b[0], F_DUPFD_CLOEXEC, 20);
    int d = dup3(b[1], 30, O_CLOEXEC);
    int e = dup2(a[0], 31);
    int f = dup(b[0]);
    fcntl(f, F_SETFD, FD_CLOEXEC);
    int g = dup(b[0]);
    syscall(SYS_close_range, g, g, CLOSE_RANGE_CLOEXEC);
    char flags[64];
    snprintf(flags, sizeof flags, "%d %d %d %d %d %d %d %d", fcntl(a[0], F_GETFD),
             fcntl(a[1], F_GETFD), fcntl(b[0], F_GETFD), fcntl(b[1], F_GETFD), fcntl(c, F_GETFD),
             fcntl(d, F_GETFD), fcntl(e, F_GETFD), fcntl(f, F_GETFD));
    show("fd_flags_before_exec", flags, "1 1 0 0 1 1 0 1");
    show_int("f_dupfd_cloexec_min", c >= 20, 1);
    show_int("dup3_at_30", d, 30);
    show_int("g_cloexec_by_close_range", fcntl(g, F_GETFD), 1);
    char fds[9][8];
    char *chk[12] = {"/bin/procs", "fdcheck"};
    int all[9] = {a[0], a[1], b[0], b[1], c, d, e, f, g};
    for (int i = 0; i < 9; i++) {
        snprintf(fds[i], sizeof fds[i], "%d", all[i]);
        chk[2 + i] = fds[i];
    }
    chk[11] = NULL;
    show("fds_after_exec", run_capture(chk, NULL, NULL, &st),
         "closed closed open open closed closed open closed closed;");
    show("fdcheck_status", st, "exited 0");
    for (int i = 0; i < 9; i++)
        close(all[i]);

    /* Failed execs return, with the reason. */
    char *none[] = {"x", NULL};
    errno = 0;
    long r = execve("/no/such/program", none, environ);
    show_ret("execve_missing", r, errno, -1, ENOENT);
    errno = 0;
    r = execve("/etc/passwd", none, environ);
    show_ret("execve_not_executable", r, errno, -1, EACCES);
    errno = 0;
    r = execve("/etc", none, environ);
    show_ret("execve_directory", r, errno, -1, EACCES);
    errno = 0;
    r = execve("/notelf", none, environ);
    show_ret("execve_not_a_program", r, errno, -1, ENOEXEC);
    errno = 0;
    r = execve("/bin/procs/x", none, environ);
    show_ret("execve_through_a_file", r, errno, -1, ENOTDIR);
    errno = 0;
    r = execve("", none, environ);
    show_ret("execve_empty_path", r, errno, -1, ENOENT);
    show("still_running_after_failed_execs", "yes", "yes");

    /* A #! script, argv and envp. */
    char *script[] = {"/script.sh", "arg1", NULL};
    show("script_output", run_capture(script, NULL, NULL, &st), "script /script.sh arg1;");
    show("script_status", st, "exited 0");
    char *args[] = {"/bin/procs", "args", "one", "two words", "", NULL};
    char *env[] = {"PROCS_ENV=hello", NULL};
    show("argv_envp", run_capture(args, env, NULL, &st), "argc=5 [one] [two words] [] envc=1 env=hello;");

    /* The exec'd program keeps its pid and parent. */
    pid_t me = getpid();
    pid_t k = xfork();
    if (k == 0) {
        char pid_s[16], ppid_s[16];
        snprintf(pid_s, sizeof pid_s, "%d", getpid());
        snprintf(ppid_s, sizeof ppid_s, "%d", me);
        char *ids[] = {"/bin/procs", "ids", pid_s, ppid_s, NULL};
        execv(ids[0], ids);
        _exit(127);
    }
    show("exec_keeps_pid_and_ppid", reap(k, "ids"), "exited 0");

    /* Signal dispositions and mask across exec: handlers reset, SIG_IGN and the mask kept. */
    char *ss[] = {"/bin/procs", "sigstate", NULL};
    show("signal_state_after_exec", run_capture(ss, NULL, sigstate_setup, &st),
         "usr1=dfl usr2=ign term_blocked=1;");
    show("sigstate_status", st, "exited 0");

    /* vfork: the parent waits, the child shares its memory until it execs or exits. */
    static volatile int shared;
    shared = 0;
    fflush(stdout);
    long t0 = now_ms();
    k = vfork();
    if (k == 0) {
        shared = 1;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        _exit(4);
    }
    long waited = now_ms() - t0;
    show("vfork_exit", reap(k, "vfork"), "exited 4");
    show_int("vfork_parent_waited_for_child", waited >= 45, 1);
    show_int("vfork_child_write_seen_by_parent", shared, 1);
    fflush(stdout);
    k = vfork();
    if (k == 0) {
        char *ex[] = {"/bin/procs", "exit", "5", NULL};
        execv(ex[0], ex);
        _exit(127);
    }
    show("vfork_exec", reap(k, "vfork exec"), "exited 5");
    fflush(stdout);
    k = vfork();
    if (k == 0) {
        char *ex[] = {"/no/such", NULL};
        execv(ex[0], ex);
        _exit(errno == ENOENT ? 126 : 125);
    }
    show("vfork_failed_exec", reap(k, "vfork failed exec"), "exited 126");

    /* execveat relative to a directory, fexecve, bad flags. */
    int dir = open("/bin", O_RDONLY | O_DIRECTORY);
    char *ex6[] = {"procs", "exit", "6", NULL};
    k = xfork();
    if (k == 0) {
        syscall(SYS_execveat, dir, "procs", ex6, environ, 0);
        _exit(127);
    }
    show("execveat_dirfd", reap(k, "execveat"), "exited 6");
    int self = open("/bin/procs", O_RDONLY | O_CLOEXEC);
    char *ex7[] = {"procs", "exit", "7", NULL};
    k = xfork();
    if (k == 0) {
        fexecve(self, ex7, environ);
        _exit(127);
    }
    show("fexecve", reap(k, "fexecve"), "exited 7");
    errno = 0;
    r = syscall(SYS_execveat, dir, "procs", ex6, environ, 0x40000);
    show_ret("execveat_bad_flags", r, errno, -1, EINVAL);
    close(dir);
    close(self);

    /* posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), the exec error comes back in shared
     * memory). */
    char *ex8[] = {"/bin/procs", "exit", "8", NULL};
    pid_t sp = 0;
    fflush(stdout);
    int rc = posix_spawn(&sp, ex8[0], NULL, NULL, ex8, environ);
    show("posix_spawn", errname(rc), "0");
    show("posix_spawn_status", rc == 0 ? reap(sp, "posix_spawn") : "none", "exited 8");
    char *missing[] = {"/no/such/program", NULL};
    sp = 0;
    rc = posix_spawn(&sp, missing[0], NULL, NULL, missing, environ);
    show("posix_spawn_missing", errname(rc), "ENOENT");
    if (rc == 0)
        reap(sp, "posix_spawn missing");
    char *ex9[] = {"/bin/procs", "exit", "9", NULL};
    show("fork_exec_9", fork_exec_status(ex9[0], ex9), "exited 9");
    return 0;
}

/* ---------------------------------------------------------------- pipe */

static volatile sig_atomic_t sigpipe_seen;
static void on_sigpipe(int s) {
    (void)s;
    sigpipe_seen = 1;
}

static int t_pipe(void) {
    int p[2];
    /* Data from a child, larger than the pipe, then EOF. */
    pipe(p);
    pid_t c = xfork();
    enum { BIG = 200000 };
    if (c == 0) {
        close(p[0]);
        static char big[BIG];
        for (int i = 0; i < BIG; i++)
            big[i] = (char)(i * 7);
        if (write(p[1], "hello, pipe\n", 12) != 12)
            _exit(2);
        ssize_t w = write(p[1], big, BIG); /* blocks until the parent has read most of it */
        _exit(w == BIG ? 0 : 1);
    }
    close(p[1]);
    static char buf[BIG + 100];
    ssize_t n = read_all(p[0], buf, sizeof buf, 1500);
    show_int("pipe_bytes", n, 12 + BIG);
    int good = n == 12 + BIG && !memcmp(buf, "hello, pipe\n", 12);
    for (int i = 0; good && i < BIG; i++)
        good = buf[12 + i] == (char)(i * 7);
    show_int("pipe_data_in_order", good, 1);
    errno = 0;
    SHOW_RET("read_at_eof", read(p[0], buf, 10), 0, 0);
    show("big_blocking_write_complete", reap(c, "writer"), "exited 0");
    close(p[0]);

    /* A reader blocked on an empty pipe gets EOF when the last writer closes. */
    pipe(p);
    int w2 = dup(p[1]);
    c = xfork();
    if (c == 0) {
        close(p[1]);
        close(w2);
        char b;
        _exit(read(p[0], &b, 1) == 0 ? 0 : 1);
    }
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    show_int("poll_writer_dup_still_open", poll(&pf, 1, 0), 0);
    sleep_ms(30);
    close(w2);
    show("blocked_reader_gets_eof", reap(c, "eof reader"), "exited 0");
    pf.revents = 0;
    show_int("poll_after_last_writer", poll(&pf, 1, 0), 1);
    show("poll_after_last_writer_revents", poll_str(pf.revents), "HUP");
    close(p[0]);

    /* EPIPE and SIGPIPE. */
    c = xfork();
    if (c == 0) {
        signal(SIGPIPE, SIG_IGN);
        int q[2];
        pipe(q);
        close(q[0]);
        ssize_t r = write(q[1], "x", 1);
        _exit(r == -1 && errno == EPIPE ? 0 : 1);
    }
    show("epipe_with_sigpipe_ignored", reap(c, "epipe ign"), "exited 0");
    c = xfork();
    if (c == 0) {
        int q[2];
        pipe(q);
        close(q[0]);
        write(q[1], "x", 1);
        _exit(1);
    }
    show("sigpipe_default_kills", reap(c, "sigpipe dfl"), "killed SIGPIPE");
    c = xfork();
    if (c == 0) {
        set_handler(SIGPIPE, on_sigpipe, 0);
        int q[2];
        pipe(q);
        close(q[0]);
        ssize_t r = write(q[1], "x", 1);
        _exit(r == -1 && errno == EPIPE && sigpipe_seen ? 0 : 1);
    }
    show("sigpipe_handler_and_epipe", reap(c, "sigpipe handler"), "exited 0");
    /* The reader is another process that exits. */
    pipe(p);
    c = xfork();
    if (c == 0)
        _exit(0);
    close(p[0]);
    reap(c, "reader");
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    SHOW_RET("epipe_reader_process_gone", write(p[1], "x", 1), -1, EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    /* A writer blocked on a full pipe, whose reader goes: it returns what it wrote. */
    int res[2];
    pipe(p);
    pipe(res);
    c = xfork();
    if (c == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        static char big[100000];
        ssize_t r = write(p[1], big, sizeof big);
        int e = errno;
        char line[64];
        snprintf(line, sizeof line, "%s", ret_str(r, e));
        write(res[1], line, strlen(line) + 1);
        _exit(0);
    }
    close(p[1]);
    close(res[1]);
    int queued = 0;
    for (long end = now_ms() + 1500; now_ms() < end; sleep_ms(2)) {
        ioctl(p[0], FIONREAD, &queued);
        if (queued >= 65536)
            break;
    }
    show_int("full_pipe_queued", queued, 65536);
    sleep_ms(20);
    close(p[0]);
    char line[64] = "";
    read_timed(res[0], line, sizeof line, 1500);
    show("blocked_writer_reader_closed_write", line, "65536");
    show("blocked_writer_reader_closed_status", reap(c, "blocked writer"), "exited 0");
    close(res[0]);

    /* PIPE_BUF: 4 writers of 4096-byte records; no record is torn. */
    pipe(p);
    enum { WRITERS = 4, RECORDS = 32 };
    pid_t ws[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        ws[i] = xfork();
        if (ws[i] == 0) {
            close(p[0]);
            char rec[PIPE_BUF];
            memset(rec, 'A' + i, sizeof rec);
            for (int j = 0; j < RECORDS; j++)
                if (write(p[1], rec, sizeof rec) != sizeof rec)
                    _exit(1);
            _exit(0);
        }
    }
    close(p[1]);
    static char all[WRITERS * RECORDS * PIPE_BUF + 1];
    n = read_all(p[0], all, sizeof all, 1500);
    close(p[0]);
    int torn = 0, counts[WRITERS] = {0};
    for (ssize_t off = 0; off + PIPE_BUF <= n; off += PIPE_BUF) {
        char ch = all[off];
        for (int j = 1; j < PIPE_BUF; j++)
            if (all[off + j] != ch) {
                torn++;
                break;
            }
        if (ch >= 'A' && ch < 'A' + WRITERS)
            counts[ch - 'A']++;
    }
    show_int("pipe_buf", PIPE_BUF, 4096);
    show_int("atomic_bytes", n, WRITERS * RECORDS * PIPE_BUF);
    show_int("atomic_torn_records", torn, 0);
    show_int("atomic_records_per_writer_ok",
             counts[0] == RECORDS && counts[1] == RECORDS && counts[2] == RECORDS &&
                 counts[3] == RECORDS,
             1);
    for (int i = 0; i < WRITERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "atomic_writer_%d", i);
        show(name, reap(ws[i], "atomic writer"), "exited 0");
    }

    /* O_NONBLOCK. */
    pipe2(p, O_NONBLOCK);
    show_int("nonblock_flag_read_end", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK), 1);
    show_int("nonblock_flag_write_end", !!(fcntl(p[1], F_GETFL) & O_NONBLOCK), 1);
    show_int("accmode_read_end", fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
    show_int("accmode_write_end", fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
    errno = 0;
    SHOW_RET("nonblock_read_empty", read(p[0], buf, 10), -1, EAGAIN);
    long total = 0;
    int writes = 0;
    char page[4096];
    memset(page, 'p', sizeof page);
    for (;;) {
        ssize_t w = write(p[1], page, sizeof page);
        if (w < 0)
            break;
        total += w;
        if (++writes > 100)
            break;
    }
    show_int("nonblock_fill_total", total, 65536);
    show("nonblock_write_full", errname(errno), "EAGAIN");
    errno = 0;
    SHOW_RET("nonblock_write_1_full", write(p[1], "x", 1), -1, EAGAIN);
    int q = 0;
    ioctl(p[0], FIONREAD, &q);
    show_int("fionread_full", q, 65536);
    show_int("nonblock_read_all", read(p[0], buf, sizeof buf), 65536);
    errno = 0;
    SHOW_RET("nonblock_read_empty_again", read(p[0], buf, 10), -1, EAGAIN);
    static char big2[100000];
    show_int("nonblock_big_write_partial", write(p[1], big2, sizeof big2), 65536);
    read(p[0], buf, sizeof buf);
    fcntl(p[0], F_SETFL, 0);
    show_int("nonblock_cleared", !!(fcntl(p[0], F_GETFL) & O_NONBLOCK), 0);
    close(p[0]);
    close(p[1]);

    /* FIONREAD. */
    pipe(p);
    write(p[1], buf, 123);
    ioctl(p[0], FIONREAD, &q);
    show_int("fionread_123", q, 123);
    read(p[0], buf, 23);
    ioctl(p[0], FIONREAD, &q);
    show_int("fionread_after_read_23", q, 100);
    ioctl(p[1], FIONREAD, &q);
    show_int("fionread_write_end", q, 100);
    read(p[0], buf, 100);
    ioctl(p[0], FIONREAD, &q);
    show_int("fionread_empty", q, 0);
    /* A blocking read returns what is there, without waiting for the whole count. */
    write(p[1], "0123456789", 10);
    show_int("read_returns_available", read(p[0], buf, 1000), 10);

    /* poll. */
    struct pollfd pfs[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    long t0 = now_ms();
    int r = poll(pfs, 1, 60);
    long waited = now_ms() - t0;
    show_int("poll_empty_timeout", r, 0);
    show_int("poll_empty_waited_timeout", waited >= 55, 1);
    show_int("poll_empty_returned_soon", waited < 1000, 1);
    show_int("poll_zero_timeout", poll(pfs, 1, 0), 0);
    struct timespec ts = {0, 30000000};
    t0 = now_ms();
    show_int("ppoll_timeout", ppoll(pfs, 1, &ts, NULL), 0);
    show_int("ppoll_waited", now_ms() - t0 >= 25, 1);
    r = poll(pfs, 2, 0);
    show_int("poll_writable_count", r, 1);
    show("poll_write_end", poll_str(pfs[1].revents), "OUT");
    show("poll_read_end_empty", poll_str(pfs[0].revents), "0");
    write(p[1], "abc", 3);
    r = poll(pfs, 2, 0);
    show_int("poll_both_ready", r, 2);
    show("poll_read_end_data", poll_str(pfs[0].revents), "IN");
    read(p[0], buf, 3);
    /* Woken by a child's write. */
    c = xfork();
    if (c == 0) {
        sleep_ms(40);
        write(p[1], "late", 4);
        _exit(0);
    }
    t0 = now_ms();
    pfs[0].revents = 0;
    r = poll(pfs, 1, 1500);
    waited = now_ms() - t0;
    show_int("poll_woken_by_write", r, 1);
    show("poll_woken_revents", poll_str(pfs[0].revents), "IN");
    show_int("poll_woken_before_timeout", waited < 1000, 1);
    reap(c, "late writer");
    read(p[0], buf, 4);
    /* Writer gone with data queued; then drained. */
    write(p[1], "zz", 2);
    close(p[1]);
    pfs[0].revents = 0;
    poll(pfs, 1, 0);
    show("poll_data_and_hup", poll_str(pfs[0].revents), "IN|HUP");
    read(p[0], buf, 2);
    poll(pfs, 1, 0);
    show("poll_hup_drained", poll_str(pfs[0].revents), "HUP");
    close(p[0]);
    /* Reader gone: the write end reports an error. */
    pipe(p);
    close(p[0]);
    struct pollfd wp = {p[1], POLLOUT, 0};
    poll(&wp, 1, 0);
    show("poll_write_end_no_reader", poll_str(wp.revents), "OUT|ERR");
    close(p[1]);
    struct pollfd bad[2] = {{999, POLLIN, 0}, {-1, POLLIN, 0}};
    show_int("poll_bad_fd_count", poll(bad, 2, 0), 1);
    show("poll_bad_fd", poll_str(bad[0].revents), "NVAL");
    show("poll_negative_fd", poll_str(bad[1].revents), "0");

    /* Pipe sizes. */
    pipe2(p, O_NONBLOCK);
    show_int("f_getpipe_sz", fcntl(p[0], F_GETPIPE_SZ), 65536);
    show_int("f_getpipe_sz_write_end", fcntl(p[1], F_GETPIPE_SZ), 65536);
    show_int("f_setpipe_sz_12288", fcntl(p[1], F_SETPIPE_SZ, 12288), 16384);
    show_int("f_getpipe_sz_after", fcntl(p[0], F_GETPIPE_SZ), 16384);
    total = 0;
    for (int i = 0; i < 100; i++) {
        ssize_t w = write(p[1], page, sizeof page);
        if (w < 0)
            break;
        total += w;
    }
    show_int("small_pipe_fill_total", total, 16384);
    errno = 0;
    SHOW_RET("f_setpipe_sz_below_queued", fcntl(p[0], F_SETPIPE_SZ, 4096), -1, EBUSY);
    read(p[0], buf, sizeof buf);
    show_int("f_setpipe_sz_1", fcntl(p[0], F_SETPIPE_SZ, 1), 4096);
    show_int("f_setpipe_sz_65536", fcntl(p[0], F_SETPIPE_SZ, 65536), 65536);
    errno = 0;
    SHOW_RET("f_setpipe_sz_over_max", fcntl(p[0], F_SETPIPE_SZ, 4 << 20), -1, EPERM);
    close(p[0]);
    close(p[1]);
    int file = open("/etc/passwd", O_RDONLY);
    errno = 0;
    SHOW_RET("f_getpipe_sz_regular_file", fcntl(file, F_GETPIPE_SZ), -1, EBADF);
    close(file);
    errno = 0;
    SHOW_RET("pipe2_bad_flags", pipe2(p, O_APPEND), -1, EINVAL);

    /* Packet mode (O_DIRECT): each write is a packet, a read takes at most one and drops
     * what of it does not fit. */
    SHOW_RET("pipe2_direct", pipe2(p, O_DIRECT), 0, 0);
    char pk[16] = {0};
    write(p[1], "abc", 3);
    write(p[1], "de", 2);
    SHOW_RET("packet_read_first", read(p[0], pk, sizeof pk), 3, 0);
    SHOW_RET("packet_read_second", read(p[0], pk, sizeof pk), 2, 0);
    write(p[1], "hello", 5);
    write(p[1], "x", 1);
    SHOW_RET("packet_read_short", read(p[0], pk, 2), 2, 0);
    memset(pk, 0, sizeof pk);
    SHOW_RET("packet_rest_dropped", read(p[0], pk, sizeof pk), 1, 0);
    show("packet_next", pk, "x");
    close(p[0]);
    close(p[1]);
    return 0;
}

/* ---------------------------------------------------------------- fds */

static int t_fds(void) {
    int p[2];
    pipe(p);
    /* dup takes the lowest free number. */
    int lowest = 0;
    while (fcntl(lowest, F_GETFD) != -1)
        lowest++;
    int d = dup(p[0]);
    show_int("dup_lowest_free", d == lowest, 1);
    close(d);
    errno = 0;
    SHOW_RET("dup_bad_fd", dup(999), -1, EBADF);
    show_int("dup2_same_fd", dup2(p[0], p[0]), p[0]);
    errno = 0;
    SHOW_RET("dup2_same_bad_fd", dup2(999, 999), -1, EBADF);
    errno = 0;
    SHOW_RET("dup3_same_fd", dup3(p[0], p[0], 0), -1, EINVAL);
    errno = 0;
    SHOW_RET("dup3_bad_flags", dup3(p[0], 40, O_NONBLOCK), -1, EINVAL);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    errno = 0;
    SHOW_RET("dup2_at_nofile_limit", dup2(p[0], (int)rl.rlim_cur), -1, EBADF);
    show_int("dup2_below_nofile_limit", dup2(p[0], (int)rl.rlim_cur - 1), (int)rl.rlim_cur - 1);
    close((int)rl.rlim_cur - 1);
    errno = 0;
    SHOW_RET("f_dupfd_at_limit", fcntl(p[0], F_DUPFD, (int)rl.rlim_cur), -1, EINVAL);
    /* dup2 over an open descriptor closes it silently. */
    int file = open("/etc/passwd", O_RDONLY);
    show_int("dup2_over_open_fd", dup2(p[1], file), file);
    write(file, "via-dup2", 8); /* file is now the pipe's write end */
    char buf[64] = "";
    show_int("dup2_target_is_pipe", read(p[0], buf, sizeof buf), 8);
    /* A dup shares the file offset and status flags, not close-on-exec. */
    int f1 = open("/etc/passwd", O_RDONLY);
    int f2 = dup(f1);
    read(f1, buf, 4);
    show_int("dup_shares_offset", lseek(f2, 0, SEEK_CUR), 4);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int pd = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
    show_int("dup_shares_status_flags", !!(fcntl(pd, F_GETFL) & O_NONBLOCK), 1);
    show_int("dup_cloexec_own", fcntl(pd, F_GETFD), 1);
    show_int("original_cloexec_own", fcntl(p[0], F_GETFD), 0);
    errno = 0;
    SHOW_RET("read_via_dup_nonblock", read(pd, buf, 1), -1, EAGAIN);
    fcntl(p[0], F_SETFL, 0);
    /* After fork: the same open files (offsets shared), separate tables. */
    pid_t c = xfork();
    if (c == 0) {
        read(f1, buf, 6);
        close(f2);
        close(p[1]);
        _exit(0);
    }
    reap(c, "fork fds");
    show_int("fork_shares_offset", lseek(f1, 0, SEEK_CUR), 10);
    show_int("fork_child_close_is_its_own", fcntl(f2, F_GETFD) >= 0, 1);
    show_int("fork_child_close_pipe_is_its_own", write(p[1], "k", 1), 1);
    read(p[0], buf, 1);
    /* close_range. */
    int base = 50;
    for (int i = 0; i < 5; i++)
        dup2(f1, base + i);
    show_int("close_range_cloexec", (int)syscall(SYS_close_range, base, base + 1, CLOSE_RANGE_CLOEXEC), 0);
    show_int("close_range_cloexec_marked", fcntl(base, F_GETFD) + fcntl(base + 1, F_GETFD), 2);
    show_int("close_range_cloexec_not_beyond", fcntl(base + 2, F_GETFD), 0);
    show_int("close_range_some", (int)syscall(SYS_close_range, base, base + 2, 0), 0);
    errno = 0;
    SHOW_RET("close_range_closed", fcntl(base + 1, F_GETFD), -1, EBADF);
    show_int("close_range_kept", fcntl(base + 3, F_GETFD), 0);
    show_int("close_range_to_max", (int)syscall(SYS_close_range, base + 3, ~0U, 0), 0);
    errno = 0;
    SHOW_RET("close_range_to_max_closed", fcntl(base + 4, F_GETFD), -1, EBADF);
    show_int("close_range_to_max_kept_below", fcntl(f1, F_GETFD), 0);
    errno = 0;
    SHOW_RET("close_range_inverted", syscall(SYS_close_range, 10, 5, 0), -1, EINVAL);
    errno = 0;
    SHOW_RET("close_range_bad_flags", syscall(SYS_close_range, 10, 20, 0x100), -1, EINVAL);
    errno = 0;
    SHOW_RET("close_bad_fd", close(999), -1, EBADF);
    errno = 0;
    SHOW_RET("close_twice", close(pd) == 0 ? close(pd) : -2, -1, EBADF);
    return 0;
}

/* ---------------------------------------------------------------- signals */

static void on_chld(int s, siginfo_t *si, void *uc) {
    (void)s;
    (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static sigjmp_buf fault_env;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;
static volatile long fault_cr2;
static void *volatile fixup_page;
static void on_fault(int s, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    fault_sig = s;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    fault_cr2 = uc->uc_mcontext.gregs[REG_CR2];
    if (fixup_page) {
        mprotect(fixup_page, 4096, PROT_READ | PROT_WRITE);
        return; /* the faulting instruction runs again */
    }
    siglongjmp(fault_env, 1);
}

__asm__(".text\n.globl procs_ud2\n.type procs_ud2,@function\nprocs_ud2:\n\tud2\n\tret\n");
void procs_ud2(void);

/* An address in the unmapped first page, which the compiler cannot see through. */
static volatile uintptr_t null_base;
static void *null_page(uintptr_t off) {
    return (void *)(null_base + off);
}

static const char *segv_code(int c) {
    return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : cld_code(c);
}

static int t_signals(void) {
    int p[2], rd[2];
    /* kill to a child that handles it: pause returns EINTR after the handler. */
    pipe(rd);
    pid_t c = xfork();
    if (c == 0) {
        set_handler(SIGUSR1, on_usr1, 0);
        ready(rd[1]);
        int r = pause();
        _exit(r == -1 && errno == EINTR && got_usr1 >= 1 ? 0 : 1);
    }
    await_ready(rd[0], "pause child");
    SHOW_RET("kill_child", kill(c, SIGUSR1), 0, 0);
    show("child_handler_ran_pause_eintr", kill_until_exit(c, SIGUSR1, "pause child"), "exited 0");
    /* kill with a bad signal, to no one. */
    /* A bad signal: EINVAL; to a pid that is gone, Linux looks the pid up first: ESRCH. */
    errno = 0;
    SHOW_RET("kill_bad_signal", kill(getpid(), 65), -1, EINVAL);
    errno = 0;
    SHOW_RET("kill_bad_signal_no_such_pid", kill(c, 65), -1, ESRCH);
    errno = 0;
    SHOW_RET("kill_no_such_pid", kill(99999, 0), -1, ESRCH);

    /* SIGCHLD handler with siginfo; sigsuspend wakes on it. */
    set_action(SIGCHLD, on_chld, SA_RESTART);
    sigset_t chld, old, empty;
    sigemptyset(&chld);
    sigemptyset(&empty);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    chld_count = 0;
    c = xfork();
    if (c == 0)
        _exit(7);
    int r = sigsuspend(&empty);
    show_ret("sigsuspend_woken", r, errno, -1, EINTR);
    show_int("sigchld_handler_ran", chld_count, 1);
    show("sigchld_si_code", cld_code(chld_code), "CLD_EXITED");
    show_int("sigchld_si_status", chld_status, 7);
    show_int("sigchld_si_pid_ok", chld_pid == c, 1);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    show_int("sigsuspend_restored_mask", sigismember(&now, SIGCHLD), 1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    show("sigchld_child", reap(c, "sigchld child"), "exited 7");
    /* A signal sent while blocked is pending, and runs when unblocked. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGUSR2);
    set_handler(SIGUSR2, on_usr2, 0);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    got_usr2 = 0;
    kill(getpid(), SIGUSR2);
    sigset_t pend;
    sigpending(&pend);
    show_int("blocked_signal_pending", sigismember(&pend, SIGUSR2), 1);
    show_int("blocked_signal_not_run", got_usr2, 0);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    show_int("unblocked_signal_ran", got_usr2, 1);

    /* Stop and continue a child blocked in pause, then a busy one. */
    chld_count = 0;
    c = xfork();
    if (c == 0) {
        for (;;)
            pause();
    }
    int st = 0;
    kill(c, SIGSTOP);
    pid_t w = wait_timed(c, &st, WUNTRACED, 1500, "stop");
    show("wuntraced", w == c ? status_str(st) : "none", "stopped SIGSTOP");
    wait_flag(&chld_code, CLD_STOPPED);
    show("sigchld_on_stop_code", cld_code(chld_code), "CLD_STOPPED");
    show_int("sigchld_on_stop_status", chld_status, SIGSTOP);
    siginfo_t si;
    memset(&si, 0xff, sizeof si);
    waitid(P_PID, c, &si, WSTOPPED | WNOHANG);
    show_int("stop_reported_once", si.si_pid, 0);
    errno = 0;
    SHOW_RET("wnohang_stopped_without_wuntraced", waitpid(c, &st, WNOHANG), 0, 0);
    kill(c, SIGCONT);
    w = wait_timed(c, &st, WCONTINUED, 1500, "continue");
    show("wcontinued", w == c ? status_str(st) : "none", "continued");
    wait_flag(&chld_code, CLD_CONTINUED);
    show("sigchld_on_continue_code", cld_code(chld_code), "CLD_CONTINUED");
    kill(c, SIGSTOP);
    memset(&si, 0, sizeof si);
    long end = now_ms() + 1500;
    while (si.si_pid == 0 && now_ms() < end) {
        waitid(P_PID, c, &si, WSTOPPED | WNOWAIT | WNOHANG);
        if (si.si_pid == 0)
            sleep_ms(2);
    }
    show("waitid_stopped_code", cld_code(si.si_code), "CLD_STOPPED");
    show("waitid_stopped_status", signame(si.si_status), "SIGSTOP");
    memset(&si, 0, sizeof si);
    waitid(P_PID, c, &si, WSTOPPED | WNOHANG);
    show_int("waitid_wnowait_left_it", si.si_pid == c, 1);
    /* A fatal signal other than SIGKILL waits, pending, while the process is stopped (no
     * thread of it wants a signal); SIGCONT lets it act. */
    kill(c, SIGTERM);
    sleep_ms(100);
    errno = 0;
    SHOW_RET("sigterm_waits_while_stopped", waitpid(c, &st, WNOHANG), 0, 0);
    kill(c, SIGCONT);
    show("sigterm_acts_after_sigcont", reap(c, "stopped child"), "killed SIGTERM");
    c = xfork();
    if (c == 0) {
        volatile unsigned long spin = 0;
        for (;;)
            spin++;
    }
    sleep_ms(20);
    kill(c, SIGSTOP);
    w = wait_timed(c, &st, WUNTRACED, 1500, "stop busy");
    show("busy_child_stopped", w == c ? status_str(st) : "none", "stopped SIGSTOP");
    kill(c, SIGCONT);
    w = wait_timed(c, &st, WCONTINUED, 1500, "continue busy");
    show("busy_child_continued", w == c ? status_str(st) : "none", "continued");
    kill(c, SIGKILL);
    show("busy_child_killed", reap(c, "busy child"), "killed SIGKILL");
    signal(SIGCHLD, SIG_DFL);
    /* Signals whose default is to ignore do not end a child. */
    pipe(p);
    c = xfork();
    if (c == 0) {
        close(p[1]);
        char b;
        _exit(read(p[0], &b, 1) == 0 ? 0 : 1);
    }
    close(p[0]);
    kill(c, SIGCHLD);
    kill(c, SIGURG);
    kill(c, SIGWINCH);
    kill(c, SIGCONT);
    sleep_ms(20);
    close(p[1]);
    show("default_ignored_signals", reap(c, "ignoring child"), "exited 0");

    /* A read blocked on a pipe, interrupted by a handler: EINTR without SA_RESTART. */
    for (int restart = 0; restart < 2; restart++) {
        pipe(p);
        pipe(rd);
        c = xfork();
        if (c == 0) {
            close(p[1]);
            set_handler(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
            got_usr1 = 0;
            ready(rd[1]);
            char b[8];
            ssize_t n = read(p[0], b, sizeof b);
            if (restart)
                _exit(n == 4 && got_usr1 >= 1 ? 0 : 1);
            _exit(n == -1 && errno == EINTR && got_usr1 >= 1 ? 0 : 1);
        }
        close(p[0]);
        await_ready(rd[0], "reader");
        sleep_ms(50); /* in its read by now */
        if (restart) {
            for (int i = 0; i < 3; i++) {
                kill(c, SIGUSR1);
                sleep_ms(30);
            }
            write(p[1], "data", 4);
            show("read_sa_restart_gets_data", reap(c, "restarted reader"), "exited 0");
        } else {
            show("read_no_restart_eintr", kill_until_exit(c, SIGUSR1, "interrupted reader"),
                 "exited 0");
        }
        close(p[1]);
        close(rd[0]);
        close(rd[1]);
    }
    /* wait4 interrupted in the parent: EINTR, or restarted under SA_RESTART. */
    for (int restart = 0; restart < 2; restart++) {
        set_handler(SIGUSR1, on_usr1, restart ? SA_RESTART : 0);
        got_usr1 = 0;
        c = xfork();
        if (c == 0) {
            sleep_ms(50);
            kill(getppid(), SIGUSR1);
            sleep_ms(50);
            _exit(5);
        }
        errno = 0;
        w = wait4(c, &st, 0, NULL);
        if (restart) {
            show_int("wait4_sa_restart_pid_ok", w == c, 1);
            show("wait4_sa_restart_status", status_str(st), "exited 5");
        } else {
            show_ret("wait4_no_restart", w, errno, -1, EINTR);
            reap(c, "wait4 child");
        }
        show_int(restart ? "wait4_sa_restart_handler" : "wait4_no_restart_handler", got_usr1, 1);
    }
    set_handler(SIGUSR1, SIG_DFL, 0);

    /* kill(0, sig) and kill(-1, sig), from a child leading its own group. */
    pipe(p);
    c = xfork();
    if (c == 0) {
        setpgid(0, 0);
        set_handler(SIGUSR1, on_usr1, 0);
        sigset_t u1, none;
        sigemptyset(&u1);
        sigemptyset(&none);
        sigaddset(&u1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &u1, NULL);
        int rk[2];
        pipe(rk);
        pid_t kids[2];
        for (int i = 0; i < 2; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                got_usr1 = 0;
                ready(rk[1]);
                while (!got_usr1)
                    sigsuspend(&none);
                write(p[1], "k", 1);
                _exit(0);
            }
        }
        char b[2];
        for (int i = 0; i < 2; i++)
            read(rk[0], b, 1);
        got_usr1 = 0;
        kill(0, SIGUSR1);
        sigprocmask(SIG_UNBLOCK, &u1, NULL);
        int ok = got_usr1 == 1;
        for (int i = 0; i < 2; i++) {
            int s2;
            ok &= waitpid(kids[i], &s2, 0) == kids[i] && WIFEXITED(s2) && !WEXITSTATUS(s2);
        }
        _exit(ok ? 0 : 1);
    }
    show("kill_0_group_and_self", reap(c, "kill 0"), "exited 0");
    close(p[1]);
    char kb[8];
    show_int("kill_0_reached_group_members", (int)read_all(p[0], kb, sizeof kb, 500), 2);
    close(p[0]);
    /* kill(-1): everyone but pid 1 (us) gets it. */
    set_handler(SIGUSR2, on_usr2, 0);
    got_usr2 = 0;
    sigset_t u2;
    sigemptyset(&u2);
    sigaddset(&u2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &u2, &old);
    pipe(rd);
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = xfork();
        if (kids[i] == 0) {
            if (i == 2)
                setsid(); /* another session too */
            got_usr2 = 0;
            ready(rd[1]);
            while (!got_usr2)
                sigsuspend(&empty);
            _exit(10 + i);
        }
    }
    for (int i = 0; i < 3; i++)
        await_ready(rd[0], "kill -1 child");
    SHOW_RET("kill_minus_1", kill(-1, SIGUSR2), 0, 0);
    for (int i = 0; i < 3; i++) {
        char name[32], want[16];
        snprintf(name, sizeof name, "kill_minus_1_child_%d", i);
        snprintf(want, sizeof want, "exited %d", 10 + i);
        show(name, reap(kids[i], "kill -1 child"), want);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    show_int("kill_minus_1_not_self", got_usr2, 0);
    close(rd[0]);
    close(rd[1]);

    /* Faults to a handler, with si_code and si_addr. */
    set_action(SIGSEGV, on_fault, 0);
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(fault_env, 1) == 0) {
        *(volatile char *)(none + 16) = 1;
        show("segv_prot_none", "not faulted", "faulted");
    } else {
        show("segv_prot_none", "faulted", "faulted");
    }
    show("segv_prot_none_signal", signame(fault_sig), "SIGSEGV");
    show("segv_prot_none_code", segv_code(fault_code), "SEGV_ACCERR");
    show_int("segv_prot_none_addr_ok", fault_addr == none + 16, 1);
    show_int("segv_prot_none_cr2_ok", fault_cr2 == (long)(none + 16), 1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    show_int("segv_unblocked_after_siglongjmp", sigismember(&now, SIGSEGV), 0);
    fault_sig = 0;
    if (sigsetjmp(fault_env, 1) == 0) {
        (void)*(volatile int *)null_page(0x28);
        show("segv_null", "not faulted", "faulted");
    } else {
        show("segv_null", "faulted", "faulted");
    }
    show("segv_null_code", segv_code(fault_code), "SEGV_MAPERR");
    show_int("segv_null_addr_ok", fault_addr == (void *)0x28, 1);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(fault_env, 1) == 0) {
        ((volatile char *)ro)[100] = 1;
        show("segv_read_only", "not faulted", "faulted");
    } else {
        show("segv_read_only", "faulted", "faulted");
    }
    show("segv_read_only_code", segv_code(fault_code), "SEGV_ACCERR");
    show_int("segv_read_only_addr_ok", fault_addr == ro + 100, 1);
    /* A handler that fixes the page and returns: the write is done again, and works. */
    fixup_page = ro;
    ((volatile char *)ro)[200] = 42;
    fixup_page = NULL;
    show_int("segv_fixup_resumed", ((volatile char *)ro)[200], 42);
    /* SIGILL and SIGFPE. */
    set_action(SIGILL, on_fault, 0);
    if (sigsetjmp(fault_env, 1) == 0) {
        procs_ud2();
        show("sigill", "not faulted", "faulted");
    } else {
        show("sigill", "faulted", "faulted");
    }
    show("sigill_signal", signame(fault_sig), "SIGILL");
    show_int("sigill_code_illopn", fault_code == ILL_ILLOPN, 1);
    show_int("sigill_addr_ok", fault_addr == (void *)procs_ud2, 1);
    set_action(SIGFPE, on_fault, 0);
    /* Both operands volatile: gcc turns 1 / x into compares, which never trap. */
    static volatile int zero = 0, one = 1;
    if (sigsetjmp(fault_env, 1) == 0) {
        static volatile int quotient;
        quotient = one / zero;
        (void)quotient;
        show("sigfpe", "not faulted", "faulted");
    } else {
        show("sigfpe", "faulted", "faulted");
    }
    show("sigfpe_signal", signame(fault_sig), "SIGFPE");
    show_int("sigfpe_code_intdiv", fault_code == FPE_INTDIV, 1);
    show_int("sigfpe_addr_set", fault_addr != NULL, 1);
    /* Unhandled faults in children: death by the signal, even when it is blocked. */
    c = xfork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(volatile int *)null_page(8) = 1;
        _exit(1);
    }
    show("child_segv_unhandled", reap(c, "segv child"), "killed SIGSEGV");
    c = xfork();
    if (c == 0) {
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGSEGV);
        sigprocmask(SIG_BLOCK, &m, NULL);
        *(volatile int *)null_page(8) = 1;
        _exit(1);
    }
    show("child_segv_blocked", reap(c, "segv blocked child"), "killed SIGSEGV");
    c = xfork();
    if (c == 0) {
        signal(SIGSEGV, SIG_IGN);
        *(volatile int *)null_page(8) = 1;
        _exit(1);
    }
    show("child_segv_ignored", reap(c, "segv ignored child"), "killed SIGSEGV");
    return 0;
}

/* ---------------------------------------------------------------- pgrp */

static int t_pgrp(void) {
    pid_t me = getpid();
    pid_t mypg = getpgrp();
    show_int("getpgid_0_is_getpgrp", getpgid(0) == mypg, 1);
    show_int("getpgid_self_is_getpgrp", getpgid(me) == mypg, 1);
    show_int("getsid_0_is_getsid_self", getsid(0) == getsid(me), 1);
    errno = 0;
    SHOW_RET("getpgid_no_such", getpgid(99999), -1, ESRCH);
    errno = 0;
    SHOW_RET("getsid_no_such", getsid(99999), -1, ESRCH);
    errno = 0;
    SHOW_RET("setpgid_no_such", setpgid(99999, 0), -1, ESRCH);
    int rd[2];
    pipe(rd);
    pid_t c1 = xfork();
    if (c1 == 0) {
        ready(rd[1]);
        for (;;)
            pause();
    }
    await_ready(rd[0], "c1");
    show_int("child_inherits_pgrp", getpgid(c1) == mypg, 1);
    show_int("child_inherits_session", getsid(c1) == getsid(0), 1);
    SHOW_RET("setpgid_child_own_group", setpgid(c1, c1), 0, 0);
    show_int("getpgid_child_own_group", getpgid(c1) == c1, 1);
    show_int("getsid_child_unchanged", getsid(c1) == getsid(0), 1);
    pid_t c2 = xfork();
    if (c2 == 0) {
        ready(rd[1]);
        for (;;)
            pause();
    }
    await_ready(rd[0], "c2");
    SHOW_RET("setpgid_into_existing_group", setpgid(c2, c1), 0, 0);
    show_int("getpgid_joined", getpgid(c2) == c1, 1);
    errno = 0;
    SHOW_RET("setpgid_no_such_group", setpgid(c2, 99999), -1, EPERM);
    errno = 0;
    SHOW_RET("setpgid_negative", setpgid(c2, -5), -1, EINVAL);
    errno = 0;
    SHOW_RET("kill_group_0", kill(-c1, 0), 0, 0);
    errno = 0;
    SHOW_RET("kill_no_such_group", kill(-99999, 0), -1, ESRCH);
    /* kill(-pgid) reaches both, not us; wait4(-pgid) reaps them. */
    SHOW_RET("kill_minus_pgid", kill(-c1, SIGTERM), 0, 0);
    int n = 0, st, killed = 0;
    long end = now_ms() + 1500;
    while (n < 2 && now_ms() < end) {
        pid_t w = waitpid(-c1, &st, WNOHANG);
        if (w > 0) {
            n++;
            killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
        } else if (w < 0) {
            break;
        } else {
            sleep_ms(2);
        }
    }
    show_int("wait_by_pgid_reaped", n, 2);
    show_int("wait_by_pgid_killed_by_sigterm", killed, 2);
    errno = 0;
    SHOW_RET("wait_by_pgid_then", waitpid(-c1, &st, WNOHANG), -1, ECHILD);
    /* waitid(P_PGID). */
    pid_t c3 = xfork();
    if (c3 == 0) {
        setpgid(0, 0);
        ready(rd[1]);
        _exit(3);
    }
    setpgid(c3, c3); /* either may run first: both set it (EACCES/ESRCH once it is gone) */
    await_ready(rd[0], "c3");
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PGID, c3, &si, WEXITED);
    show_int("waitid_p_pgid", r == 0 && si.si_pid == c3, 1);
    show_int("waitid_p_pgid_status", si.si_status, 3);
    /* wait4(0): only children in our own group. */
    pid_t other = xfork();
    if (other == 0) {
        setpgid(0, 0);
        _exit(6);
    }
    setpgid(other, other);
    memset(&si, 0, sizeof si);
    waitid(P_PID, other, &si, WEXITED | WNOWAIT); /* it is a zombie now */
    pid_t same = xfork();
    if (same == 0)
        _exit(5);
    st = 0;
    pid_t w = wait4(0, &st, 0, NULL);
    show_int("wait4_0_own_group_only", w == same, 1);
    show("wait4_0_status", status_str(st), "exited 5");
    show("other_group_child", reap(other, "other"), "exited 6");

    /* setsid in a child. */
    c1 = xfork();
    if (c1 == 0) {
        pid_t sid = setsid();
        show_int("setsid_returns_pid", sid == getpid(), 1);
        show_int("setsid_getsid", getsid(0) == getpid(), 1);
        show_int("setsid_getpgrp", getpgrp() == getpid(), 1);
        errno = 0;
        SHOW_RET("setsid_again", setsid(), -1, EPERM);
        errno = 0;
        SHOW_RET("setpgid_other_session", setpgid(0, mypg), -1, EPERM);
        fflush(stdout);
        ready(rd[1]);
        for (;;)
            pause();
    }
    await_ready(rd[0], "setsid child");
    show_int("parent_sees_child_session", getsid(c1) == c1, 1);
    show_int("parent_sees_child_group", getpgid(c1) == c1, 1);
    errno = 0;
    SHOW_RET("setpgid_child_session_leader", setpgid(c1, mypg), -1, EPERM);
    kill(c1, SIGKILL);
    reap(c1, "setsid child");
    c1 = xfork();
    if (c1 == 0) {
        setpgid(0, 0);
        errno = 0;
        SHOW_RET("setsid_group_leader", setsid(), -1, EPERM);
        errno = 0;
        SHOW_RET("setpgid_parent", setpgid(getppid(), 0), -1, ESRCH);
        show_int("setpgid_0_0_getpgrp", getpgrp() == getpid(), 1);
        fflush(stdout);
        _exit(0);
    }
    show("group_leader_child", reap(c1, "leader child"), "exited 0");
    /* setpgid on a child that has exec'd: EACCES. */
    int ex[2];
    pipe2(ex, O_CLOEXEC);
    c1 = xfork();
    if (c1 == 0) {
        close(ex[0]);
        char *b[] = {"/bin/procs", "block", NULL};
        execv(b[0], b);
        _exit(127);
    }
    close(ex[1]);
    char x;
    read_timed(ex[0], &x, 1, 1500); /* EOF: the exec closed its end */
    close(ex[0]);
    errno = 0;
    SHOW_RET("setpgid_after_exec", setpgid(c1, c1), -1, EACCES);
    kill(c1, SIGKILL);
    show("exec_child_killed", reap(c1, "exec child"), "killed SIGKILL");
    return 0;
}

/* ---------------------------------------------------------------- orphans */

static int t_orphans(void) {
    int p[2];
    /* A grandchild whose parent exits goes to pid 1 (us): getppid() == 1; we reap it. */
    show_int("i_am_pid_1", getpid(), 1);
    pipe(p);
    pid_t a = xfork();
    if (a == 0) {
        pid_t g = fork();
        if (g == 0) {
            long end = now_ms() + 1500;
            while (getppid() != 1 && now_ms() < end)
                sleep_ms(2);
            pid_t info[2] = {getpid(), getppid()};
            write(p[1], info, sizeof info);
            _exit(4);
        }
        _exit(0);
    }
    close(p[1]);
    show("orphaning_parent", reap(a, "middle"), "exited 0");
    pid_t info[2] = {0, 0};
    read_timed(p[0], info, sizeof info, 1500);
    close(p[0]);
    show_int("orphan_getppid", info[1], 1);
    int st = 0;
    pid_t w = wait_timed(-1, &st, 0, 1500, "orphan");
    show_int("orphan_reaped_by_pid1", w == info[0] && w > 0, 1);
    show("orphan_status", status_str(st), "exited 4");
    errno = 0;
    SHOW_RET("orphans_none_left", wait4(-1, &st, WNOHANG, NULL), -1, ECHILD);

    /* A zombie grandchild whose parent exits: pid 1 can reap it. */
    pipe(p);
    a = xfork();
    if (a == 0) {
        pid_t g = fork();
        if (g == 0)
            _exit(9);
        siginfo_t si;
        waitid(P_PID, g, &si, WEXITED | WNOWAIT);
        write(p[1], &g, sizeof g);
        _exit(0);
    }
    close(p[1]);
    show("zombie_parent", reap(a, "zombie parent"), "exited 0");
    pid_t g = 0;
    read_timed(p[0], &g, sizeof g, 1500);
    close(p[0]);
    st = 0;
    w = wait_timed(g, &st, 0, 1500, "orphaned zombie");
    show_int("orphaned_zombie_reaped", w == g && g > 0, 1);
    show("orphaned_zombie_status", status_str(st), "exited 9");

    /* A subreaper gets its orphaned descendants instead of pid 1. */
    a = xfork();
    if (a == 0) {
        int ok = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
        int q[2];
        pipe(q);
        pid_t b = fork();
        if (b == 0) {
            pid_t first = getpid(); /* b's pid, known before b can exit */
            if (fork() == 0) {
                long end = now_ms() + 1500;
                while (getppid() == first && now_ms() < end)
                    sleep_ms(2);
                pid_t pp = getppid();
                write(q[1], &pp, sizeof pp);
                _exit(8);
            }
            _exit(0);
        }
        int s2;
        ok &= waitpid(b, &s2, 0) == b;
        pid_t pp = 0;
        read(q[0], &pp, sizeof pp);
        ok &= pp == getpid();
        ok &= wait(&s2) > 0 && WIFEXITED(s2) && WEXITSTATUS(s2) == 8;
        _exit(ok ? 0 : 1);
    }
    show("subreaper", reap(a, "subreaper"), "exited 0");
    errno = 0;
    SHOW_RET("nothing_left", wait4(-1, &st, WNOHANG, NULL), -1, ECHILD);
    return 0;
}

/* ---------------------------------------------------------------- sleep */

static int t_sleep(void) {
    struct timespec ts = {0, 50000000}, rem = {0, 0};
    long t0 = now_ms();
    SHOW_RET("nanosleep", nanosleep(&ts, &rem), 0, 0);
    long took = now_ms() - t0;
    show_int("nanosleep_long_enough", took >= 50, 1);
    show_int("nanosleep_not_too_long", took < 1000, 1);
    t0 = now_ms();
    show_int("clock_nanosleep_monotonic", clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    show_int("clock_nanosleep_long_enough", now_ms() - t0 >= 50, 1);
    struct timespec zero = {0, 0}, bad = {0, 1000000000}, neg = {-1, 0};
    show_int("nanosleep_zero", nanosleep(&zero, NULL), 0);
    errno = 0;
    SHOW_RET("nanosleep_bad_nsec", nanosleep(&bad, NULL), -1, EINVAL);
    errno = 0;
    SHOW_RET("nanosleep_negative", nanosleep(&neg, NULL), -1, EINVAL);
    show("clock_nanosleep_bad_nsec", errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL)),
         "EINVAL");
    show("clock_nanosleep_bad_clock", errname(clock_nanosleep(12345, 0, &ts, NULL)), "EINVAL");
    errno = 0;
    SHOW_RET("nanosleep_efault", syscall(SYS_nanosleep, (void *)8, NULL), -1, EFAULT);
    /* Sleepers in several processes sleep at the same time. */
    t0 = now_ms();
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = xfork();
        if (kids[i] == 0) {
            struct timespec t = {0, 300000000};
            _exit(nanosleep(&t, NULL) == 0 ? 0 : 1);
        }
    }
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= !strcmp(reap(kids[i], "sleeper"), "exited 0");
    took = now_ms() - t0;
    show_int("concurrent_sleepers_ok", ok, 1);
    show_int("concurrent_sleepers_overlap", took >= 300 && took < 800, 1);
    /* A handler ends a sleep with EINTR and the time left, even under SA_RESTART. */
    set_handler(SIGUSR1, on_usr1, SA_RESTART);
    got_usr1 = 0;
    pid_t c = xfork();
    if (c == 0) {
        sleep_ms(50);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    struct timespec one = {1, 0};
    rem.tv_sec = rem.tv_nsec = 0;
    t0 = now_ms();
    errno = 0;
    int r = nanosleep(&one, &rem);
    took = now_ms() - t0;
    show_ret("nanosleep_interrupted", r, errno, -1, EINTR);
    show_int("nanosleep_interrupted_handler_ran", got_usr1, 1);
    long left = rem.tv_sec * 1000 + rem.tv_nsec / 1000000;
    show_int("nanosleep_interrupted_rem_ok", left > 0 && left <= 1000 - took + 20, 1);
    show_int("nanosleep_interrupted_early", took < 900, 1);
    reap(c, "waker");
    /* clock_nanosleep returns the error number itself. */
    got_usr1 = 0;
    c = xfork();
    if (c == 0) {
        sleep_ms(50);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    show("clock_nanosleep_interrupted", errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &one, NULL)),
         "EINTR");
    reap(c, "waker");
    /* A signal pid 1 has no handler for does not end its sleep. */
    signal(SIGUSR1, SIG_DFL);
    c = xfork();
    if (c == 0) {
        sleep_ms(20);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    ts.tv_nsec = 80000000;
    SHOW_RET("pid1_unhandled_signal_sleep", nanosleep(&ts, NULL), 0, 0);
    reap(c, "waker");
    return 0;
}

/* ---------------------------------------------------------------- cputime */

/* Burns `s` seconds of the process's CPU time. */
static void burn(double s) {
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    } while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < s);
}

static long usec(struct timeval tv) {
    return tv.tv_sec * 1000000L + tv.tv_usec;
}

/* CPU time as Linux accounts it: the process's own (times, getrusage, the CPU-time clocks)
 * grows as it computes; a child's reaches wait4's rusage and, once reaped, the parent's
 * children times; getrusage refuses an unknown `who`; clock_getres knows the clocks. */
static int t_cputime(void) {
    burn(0.3);
    struct tms tm;
    clock_t now = times(&tm);
    show_int("times_counts_self", tm.tms_utime + tm.tms_stime >= 25, 1);
    show_int("times_returns_ticks", now > 0, 1);
    show_int("times_no_children_yet", tm.tms_cutime + tm.tms_cstime, 0);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    show_int("thread_clock_counts", ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= 250, 1);
    pid_t c = xfork();
    if (c == 0) {
        burn(0.2);
        _exit(0);
    }
    struct rusage ru;
    int st;
    SHOW_RET("wait4_rusage", wait4(c, &st, 0, &ru), c, 0);
    show_int("wait4_rusage_child_cpu", usec(ru.ru_utime) + usec(ru.ru_stime) >= 150000, 1);
    times(&tm);
    show_int("times_counts_children", tm.tms_cutime + tm.tms_cstime >= 15, 1);
    SHOW_RET("getrusage_children", getrusage(RUSAGE_CHILDREN, &ru), 0, 0);
    show_int("getrusage_children_cpu", usec(ru.ru_utime) + usec(ru.ru_stime) >= 150000, 1);
    SHOW_RET("getrusage_self", getrusage(RUSAGE_SELF, &ru), 0, 0);
    show_int("getrusage_self_cpu", usec(ru.ru_utime) + usec(ru.ru_stime) >= 250000, 1);
    show_int("getrusage_self_maxrss", ru.ru_maxrss > 0, 1);
    SHOW_RET("getrusage_thread", getrusage(RUSAGE_THREAD, &ru), 0, 0);
    SHOW_RET("getrusage_bad_who", getrusage(7, &ru), -1, EINVAL);
    ts.tv_nsec = -1;
    SHOW_RET("clock_getres_monotonic", clock_getres(CLOCK_MONOTONIC, &ts), 0, 0);
    show_int("clock_getres_monotonic_ns", ts.tv_sec == 0 && ts.tv_nsec > 0, 1);
    SHOW_RET("clock_getres_cputime", clock_getres(CLOCK_PROCESS_CPUTIME_ID, &ts), 0, 0);
    SHOW_RET("clock_getres_bad", clock_getres(77, &ts), -1, EINVAL);
    return 0;
}

/* ---------------------------------------------------------------- attrs */

static long mode_of(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 ? (long)(st.st_mode & 07777) : -1;
}

static long mtime_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_mtime : -1;
}

/* File attributes, as Linux answers root on a writable rootfs: the chmod family (and
 * fchmodat2's AT_SYMLINK_NOFOLLOW on a link, EOPNOTSUPP), chown to the owner it has, file
 * times (utimensat, UTIME_OMIT, utimes, utime, futimens), statfs of the rootfs, /proc and a
 * pipe, capget (the version probe and the config's sets), msync's checks. Needs a writable
 * /tmp. */
static int t_attrs(void) {
    umask(022);
    const char *f = "/tmp/attrs-file", *l = "/tmp/attrs-link";
    unlink(f);
    unlink(l);
    int fd = creat(f, 0666);
    show_int("creat_umask_mode", mode_of(f), 0644);
    SHOW_RET("chmod", chmod(f, 0600), 0, 0);
    show_int("chmod_mode", mode_of(f), 0600);
    SHOW_RET("fchmodat", fchmodat(AT_FDCWD, f, 04640, 0), 0, 0);
    show_int("fchmodat_mode", mode_of(f), 04640);
    SHOW_RET("fchmod", fchmod(fd, 0604), 0, 0);
    show_int("fchmod_mode", mode_of(f), 0604);
    SHOW_RET("symlink", symlink(f, l), 0, 0);
    SHOW_RET("chmod_through_link", chmod(l, 0640), 0, 0);
    show_int("chmod_through_link_mode", mode_of(f), 0640);
    SHOW_RET("fchmodat2_nofollow_link", syscall(452, AT_FDCWD, l, 0600, AT_SYMLINK_NOFOLLOW),
             -1, EOPNOTSUPP);
    SHOW_RET("fchmodat2_bad_flags", syscall(452, AT_FDCWD, f, 0600, 0x8000000), -1, EINVAL);
    SHOW_RET("chmod_missing", chmod("/tmp/attrs-none", 0600), -1, ENOENT);
    SHOW_RET("chmod_empty", chmod("", 0600), -1, ENOENT);
    SHOW_RET("chown_same", chown(f, 0, 0), 0, 0);
    SHOW_RET("chown_unchanged", chown(f, -1, -1), 0, 0);
    SHOW_RET("lchown_link", lchown(l, 0, 0), 0, 0);
    SHOW_RET("fchown", fchown(fd, -1, 0), 0, 0);
    SHOW_RET("fchownat_empty_path", fchownat(fd, "", 0, -1, AT_EMPTY_PATH), 0, 0);
    SHOW_RET("chown_missing", chown("/tmp/attrs-none", 0, 0), -1, ENOENT);

    struct timespec ts[2] = {{1000000, 0}, {2000000, 500}};
    SHOW_RET("utimensat", utimensat(AT_FDCWD, f, ts, 0), 0, 0);
    show_int("utimensat_mtime", mtime_of(f), 2000000);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_OMIT;
    SHOW_RET("utimensat_omit", utimensat(AT_FDCWD, f, ts, 0), 0, 0);
    show_int("utimensat_omit_mtime", mtime_of(f), 2000000);
    ts[1].tv_nsec = 1000000000;
    SHOW_RET("utimensat_bad_nsec", utimensat(AT_FDCWD, f, ts, 0), -1, EINVAL);
    SHOW_RET("utimensat_bad_flags", utimensat(AT_FDCWD, f, NULL, 0x4), -1, EINVAL);
    struct timeval tv[2] = {{3000000, 0}, {4000000, 0}};
    SHOW_RET("utimes", utimes(f, tv), 0, 0);
    show_int("utimes_mtime", mtime_of(f), 4000000);
    tv[1].tv_usec = 1000000;
    SHOW_RET("utimes_bad_usec", utimes(f, tv), -1, EINVAL);
    struct utimbuf ub = {5000000, 6000000};
    SHOW_RET("utime", utime(f, &ub), 0, 0);
    show_int("utime_mtime", mtime_of(f), 6000000);
    time_t before = time(NULL);
    SHOW_RET("futimens_now", futimens(fd, NULL), 0, 0);
    show_int("futimens_now_mtime", mtime_of(f) >= before, 1);

    struct statfs a, b;
    SHOW_RET("statfs_root", statfs("/", &a), 0, 0);
    show_int("statfs_root_type_set", a.f_type != 0 && a.f_bsize > 0, 1);
    SHOW_RET("fstatfs_file", fstatfs(fd, &b), 0, 0);
    SHOW_RET("statfs_file", statfs(f, &a), 0, 0);
    show_int("fstatfs_same_fs", a.f_type == b.f_type, 1);
    SHOW_RET("statfs_proc", statfs("/proc", &a), 0, 0);
    show_int("statfs_proc_type", a.f_type, 0x9fa0);
    SHOW_RET("statfs_missing", statfs("/tmp/attrs-none", &a), -1, ENOENT);
    int p[2];
    pipe(p);
    SHOW_RET("fstatfs_pipe", fstatfs(p[0], &a), 0, 0);
    show_int("fstatfs_pipe_type", a.f_type, 0x50495045);
    SHOW_RET("fstatfs_bad_fd", fstatfs(99, &a), -1, EBADF);
    close(p[0]);
    close(p[1]);

    struct { unsigned version; int pid; } hdr = {0, 0};
    unsigned data[6];
    SHOW_RET("capget_probe", syscall(SYS_capget, &hdr, NULL), 0, 0);
    show_int("capget_probe_version", hdr.version, 0x20080522);
    SHOW_RET("capget_v3", syscall(SYS_capget, &hdr, data), 0, 0);
    char caps[64];
    snprintf(caps, sizeof caps, "%08x%08x", data[3], data[0]);
    printf("capget_effective_value=%s\n", caps);
    hdr.pid = 999999;
    SHOW_RET("capget_no_such_pid", syscall(SYS_capget, &hdr, data), -1, ESRCH);
    hdr.pid = -1;
    SHOW_RET("capget_bad_pid", syscall(SYS_capget, &hdr, data), -1, EINVAL);
    hdr.version = 1;
    hdr.pid = 0;
    SHOW_RET("capget_bad_version", syscall(SYS_capget, &hdr, data), -1, EINVAL);

    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW_RET("msync", msync(m, 8192, MS_SYNC), 0, 0);
    SHOW_RET("msync_unaligned", msync(m + 1, 4096, MS_SYNC), -1, EINVAL);
    SHOW_RET("msync_both", msync(m, 4096, MS_SYNC | MS_ASYNC), -1, EINVAL);
    munmap(m + 4096, 4096);
    SHOW_RET("msync_unmapped", msync(m, 8192, MS_ASYNC), -1, ENOMEM);
    close(fd);
    unlink(l);
    unlink(f);
    return 0;
}

/* ---------------------------------------------------------------- locks */

/* flock between processes, as Linux keeps it per open file description: a second
 * description waits (or gets EWOULDBLOCK with LOCK_NB) until the first unlocks or closes; a
 * description shared by fork is one holder; bad operations are EINVAL. Needs a writable /tmp. */
static int t_locks(void) {
    const char *f = "/tmp/locks-file";
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SHOW_RET("flock_ex", flock(fd, LOCK_EX), 0, 0);
    SHOW_RET("flock_ex_again_same_description", flock(fd, LOCK_EX | LOCK_NB), 0, 0);
    int other = open(f, O_RDWR);
    SHOW_RET("flock_other_description_nb", flock(other, LOCK_EX | LOCK_NB), -1, EWOULDBLOCK);
    SHOW_RET("flock_other_shared_nb", flock(other, LOCK_SH | LOCK_NB), -1, EWOULDBLOCK);
    pid_t c = xfork();
    if (c == 0) {
        /* The inherited description holds the lock already; a new one waits for the parent. */
        int inherited = flock(fd, LOCK_EX | LOCK_NB);
        int mine = open(f, O_RDWR);
        flock(mine, LOCK_EX);
        char buf[16] = {0};
        pread(mine, buf, sizeof buf - 1, 0);
        _exit(inherited == 0 && strcmp(buf, "parent") == 0 ? 0 : 1);
    }
    sleep_ms(50);
    pwrite(fd, "parent", 6, 0);
    SHOW_RET("flock_un", flock(fd, LOCK_UN), 0, 0);
    show("waiter_got_lock_after_unlock", reap(c, "waiter1"), "exited 0");
    SHOW_RET("flock_sh", flock(fd, LOCK_SH), 0, 0);
    SHOW_RET("flock_sh_second_description", flock(other, LOCK_SH | LOCK_NB), 0, 0);
    SHOW_RET("flock_upgrade_blocked_nb", flock(fd, LOCK_EX | LOCK_NB), -1, EWOULDBLOCK);
    close(other);
    c = xfork();
    if (c == 0) {
        int mine = open(f, O_RDWR);
        _exit(flock(mine, LOCK_EX) == 0 ? 0 : 1);
    }
    sleep_ms(50);
    close(fd); /* the last close of the description unlocks */
    show("waiter_got_lock_after_close", reap(c, "waiter2"), "exited 0");
    fd = open(f, O_RDWR);
    SHOW_RET("flock_bad_op", flock(fd, 0), -1, EINVAL);
    SHOW_RET("flock_bad_op_bits", flock(fd, LOCK_SH | LOCK_EX), -1, EINVAL);
    SHOW_RET("flock_bad_fd", flock(99, LOCK_EX), -1, EBADF);
    close(fd);
    unlink(f);
    return 0;
}

/* ---------------------------------------------------------------- fifos */

/* FIFOs made with mkfifo/mknod, as Linux opens them: O_WRONLY|O_NONBLOCK with no reader is
 * ENXIO, O_RDONLY|O_NONBLOCK and O_RDWR never wait, a blocking open waits for the other side;
 * data and EOF as through a pipe; mknod of a device is EPERM. Needs a writable /tmp. */
static int t_fifos(void) {
    const char *f = "/tmp/fifo-a";
    unlink(f);
    SHOW_RET("mkfifo", mkfifo(f, 0600), 0, 0);
    SHOW_RET("mkfifo_exists", mkfifo(f, 0600), -1, EEXIST);
    struct stat st;
    stat(f, &st);
    show_int("stat_is_fifo", S_ISFIFO(st.st_mode), 1);
    SHOW_RET("open_excl_existing", open(f, O_RDWR | O_CREAT | O_EXCL, 0600), -1, EEXIST);
    SHOW_RET("open_wronly_nonblock_no_reader", open(f, O_WRONLY | O_NONBLOCK), -1, ENXIO);
    int r = open(f, O_RDONLY | O_NONBLOCK);
    show_int("open_rdonly_nonblock", r >= 0, 1);
    int w = open(f, O_WRONLY | O_NONBLOCK);
    show_int("open_wronly_nonblock_with_reader", w >= 0, 1);
    char buf[16] = {0};
    SHOW_RET("write", write(w, "abc", 3), 3, 0);
    SHOW_RET("read", read(r, buf, sizeof buf), 3, 0);
    show("read_data", buf, "abc");
    close(w);
    SHOW_RET("read_eof", read(r, buf, sizeof buf), 0, 0);
    close(r);

    /* A writer's open waits for a reader. */
    pid_t c = xfork();
    if (c == 0) {
        int cw = open(f, O_WRONLY);
        write(cw, "late", 4);
        _exit(cw >= 0 ? 0 : 1);
    }
    sleep_ms(50);
    r = open(f, O_RDONLY);
    memset(buf, 0, sizeof buf);
    long got = 0;
    for (int i = 0; i < 50 && got < 4; i++) {
        long n = read(r, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += n;
    }
    show("blocking_open_pair_data", buf, "late");
    show("blocking_writer", reap(c, "fifo_writer"), "exited 0");
    close(r);

    /* A reader's open waits for a writer. */
    c = xfork();
    if (c == 0) {
        int cr = open(f, O_RDONLY);
        char b[8] = {0};
        long n = read(cr, b, sizeof b - 1);
        _exit(n == 2 && !strcmp(b, "hi") ? 0 : 1);
    }
    sleep_ms(50);
    w = open(f, O_WRONLY);
    write(w, "hi", 2);
    close(w);
    show("blocking_reader", reap(c, "fifo_reader"), "exited 0");

    int rw = open(f, O_RDWR);
    show_int("open_rdwr_alone", rw >= 0, 1);
    SHOW_RET("rdwr_write", write(rw, "x", 1), 1, 0);
    SHOW_RET("rdwr_read", read(rw, buf, 1), 1, 0);
    close(rw);
    SHOW_RET("mknod_fifo", mknod("/tmp/fifo-b", S_IFIFO | 0600, 0), 0, 0);
    SHOW_RET("mknod_regular", mknod("/tmp/fifo-c", S_IFREG | 0600, 0), 0, 0);
    stat("/tmp/fifo-c", &st);
    show_int("mknod_regular_is_file", S_ISREG(st.st_mode), 1);
    SHOW_RET("mknod_device", mknod("/tmp/fifo-d", S_IFCHR | 0600, makedev(1, 3)), -1, EPERM);
    unlink("/tmp/fifo-b");
    unlink("/tmp/fifo-c");
    unlink(f);
    return 0;
}

/* ---------------------------------------------------------------- rlocks */

static int lk(int fd, int cmd, short type, long start, long len) {
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &l);
}

/* F_GETLK's answer for a lock of `type` over [start, start+len), as text. */
static const char *getlk(int fd, int cmd, short type, long start, long len) {
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &l) < 0)
        return ret_str(-1, errno);
    char *b = scratch();
    if (l.l_type == F_UNLCK)
        snprintf(b, 48, "unlocked");
    else
        snprintf(b, 48, "%s %ld+%ld by %s", l.l_type == F_WRLCK ? "write" : "read",
                 (long)l.l_start, (long)l.l_len,
                 l.l_pid == getppid() ? "parent" : l.l_pid == -1 ? "description" : "other");
    return b;
}

/* Record locks as Linux keeps them: a process's POSIX locks conflict with another process's
 * (F_GETLK names the holder), never with its own, merge and split by range, go when the
 * process closes any descriptor of the file; F_SETLKW waits for the unlock; OFD locks belong
 * to the open file description. Needs a writable /tmp. */
static int t_rlocks(void) {
    const char *f = "/tmp/rlocks-file";
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SHOW_RET("setlk_write", lk(fd, F_SETLK, F_WRLCK, 0, 10), 0, 0);
    SHOW_RET("setlk_own_overlap", lk(fd, F_SETLK, F_RDLCK, 0, 5), 0, 0);
    show("getlk_own", getlk(fd, F_GETLK, F_WRLCK, 0, 10), "unlocked");
    pid_t c = xfork();
    if (c == 0) {
        int e = 0;
        e |= strcmp(getlk(fd, F_GETLK, F_WRLCK, 0, 100), "read 0+5 by parent") != 0;
        e |= strcmp(getlk(fd, F_GETLK, F_WRLCK, 7, 1), "write 5+5 by parent") != 0;
        e |= strcmp(getlk(fd, F_GETLK, F_RDLCK, 0, 5), "unlocked") != 0;
        e |= lk(fd, F_SETLK, F_WRLCK, 5, 1) != -1 || errno != EAGAIN ? 2 : 0;
        e |= lk(fd, F_SETLK, F_RDLCK, 10, 10) != 0 ? 4 : 0;
        _exit(e);
    }
    show("child_sees_parent_locks", reap(c, "rlock_child"), "exited 0");

    /* F_SETLKW waits for the unlock. */
    c = xfork();
    if (c == 0) {
        long t0 = now_ms();
        int r = lk(fd, F_SETLKW, F_WRLCK, 0, 1);
        _exit(r == 0 && now_ms() - t0 >= 30 ? 0 : 1);
    }
    sleep_ms(60);
    SHOW_RET("unlock_all", lk(fd, F_SETLK, F_UNLCK, 0, 0), 0, 0);
    show("setlkw_waited_for_unlock", reap(c, "rlock_waiter"), "exited 0");

    /* A split range, and a close of any descriptor of the file drops the process's locks. */
    SHOW_RET("setlk_read_range", lk(fd, F_SETLK, F_RDLCK, 0, 100), 0, 0);
    SHOW_RET("unlock_middle", lk(fd, F_SETLK, F_UNLCK, 40, 20), 0, 0);
    c = xfork();
    if (c == 0) {
        int e = strcmp(getlk(fd, F_GETLK, F_WRLCK, 0, 0), "read 0+40 by parent") != 0;
        e |= strcmp(getlk(fd, F_GETLK, F_WRLCK, 45, 5), "unlocked") != 0 ? 2 : 0;
        e |= strcmp(getlk(fd, F_GETLK, F_WRLCK, 70, 1), "read 60+40 by parent") != 0 ? 4 : 0;
        _exit(e);
    }
    show("split_range", reap(c, "rlock_split"), "exited 0");
    close(open(f, O_RDONLY));
    c = xfork();
    if (c == 0)
        _exit(strcmp(getlk(fd, F_GETLK, F_WRLCK, 0, 0), "unlocked") != 0);
    show("close_of_another_fd_unlocks", reap(c, "rlock_close"), "exited 0");

    /* OFD locks: two descriptions of one process conflict; closing one releases its lock. */
    int a = open(f, O_RDWR), b = open(f, O_RDWR);
    SHOW_RET("ofd_setlk", lk(a, F_OFD_SETLK, F_WRLCK, 0, 10), 0, 0);
    SHOW_RET("ofd_other_description", lk(b, F_OFD_SETLK, F_WRLCK, 5, 10), -1, EAGAIN);
    show("ofd_getlk", getlk(b, F_OFD_GETLK, F_RDLCK, 0, 1), "write 0+10 by description");
    close(a);
    SHOW_RET("ofd_after_close", lk(b, F_OFD_SETLK, F_WRLCK, 5, 10), 0, 0);
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
    SHOW_RET("ofd_pid_set", fcntl(b, F_OFD_SETLK, &l), -1, EINVAL);
    close(b);

    SHOW_RET("bad_type", lk(fd, F_SETLK, 9, 0, 1), -1, EINVAL);
    l = (struct flock){.l_type = F_WRLCK, .l_whence = 7};
    SHOW_RET("bad_whence", fcntl(fd, F_SETLK, &l), -1, EINVAL);
    SHOW_RET("negative_start", lk(fd, F_SETLK, F_WRLCK, -5, 1), -1, EINVAL);
    int ro = open(f, O_RDONLY);
    SHOW_RET("write_lock_on_read_only", lk(ro, F_SETLK, F_WRLCK, 0, 1), -1, EBADF);
    close(ro);
    close(fd);
    unlink(f);
    return 0;
}

/* ---------------------------------------------------------------- select */

static volatile sig_atomic_t select_handled;
static void on_select_signal(int sig) {
    (void)sig;
    select_handled++;
}

/* select and pselect, as Linux answers them: a timeout leaves the sets empty, a ready pipe is
 * in its set, a descriptor that is not open is EBADF, a negative count EINVAL; pselect waits
 * with its own mask (a signal it lets in interrupts it: EINTR, the handler ran) and the old
 * mask is back afterwards. */
static int t_select(void) {
    int p[2];
    pipe(p);
    fd_set r, w;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 50000};
    long t0 = now_ms();
    SHOW_RET("select_timeout", select(p[0] + 1, &r, NULL, NULL, &tv), 0, 0);
    show_int("select_timeout_waited", now_ms() - t0 >= 40, 1);
    show_int("select_timeout_set_empty", FD_ISSET(p[0], &r), 0);
    write(p[1], "x", 1);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    SHOW_RET("select_ready", select(p[1] + 1, &r, &w, NULL, NULL), 2, 0);
    show_int("select_read_set", FD_ISSET(p[0], &r), 1);
    show_int("select_write_set", FD_ISSET(p[1], &w), 1);
    FD_ZERO(&r);
    FD_SET(40, &r);
    SHOW_RET("select_not_open", select(41, &r, NULL, NULL, NULL), -1, EBADF);
    SHOW_RET("select_negative", select(-1, NULL, NULL, NULL, NULL), -1, EINVAL);
    char c;
    read(p[0], &c, 1);

    struct sigaction sa = {.sa_handler = on_select_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, empty, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid_t k = xfork();
    if (k == 0) {
        sleep_ms(50);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts = {2, 0};
    SHOW_RET("pselect_interrupted", pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty), -1, EINTR);
    show_int("pselect_handler_ran", select_handled, 1);
    sigprocmask(SIG_SETMASK, NULL, &now);
    show_int("pselect_mask_back", sigismember(&now, SIGUSR1), 1);
    reap(k, "select_killer");
    write(p[1], "y", 1);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    SHOW_RET("pselect_ready", pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty), 1, 0);
    sigprocmask(SIG_SETMASK, NULL, &now);
    show_int("pselect_ready_mask_back", sigismember(&now, SIGUSR1), 1);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    signal(SIGUSR1, SIG_DFL);
    close(p[0]);
    close(p[1]);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* ---------------------------------------------------------------- mapcache */

/* The first 8 bytes of a read-only mapping of `path`, or the error. */
static const char *mapped_head(const char *path, int flags) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errname(errno);
    char *m = mmap(NULL, 4096, PROT_READ, flags, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return errname(errno);
    char *b = scratch();
    memcpy(b, m, 8);
    b[8] = 0;
    munmap(m, 4096);
    return b;
}

static void put_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        fail("put_file", errname(errno));
    if (fd >= 0)
        close(fd);
}

/* Read-only pages of a program and of files are the same bytes in every process that maps
 * them (the sandbox shares them): a process that makes its read-only data writable and
 * changes it keeps the change to itself and its forks; a second exec of the program, a
 * mapping of a file written since, and MADV_DONTNEED see the file's bytes. */
static int t_mapcache(void) {
    /* Through a volatile pointer: the compiler must not take ro_page's bytes as constant. */
    char *volatile opaque = (char *)ro_page;
    char *page = opaque;
    const char *st;
    char *again[] = {"/bin/procs", "rodata", NULL};
    show("exec_before", run_capture(again, NULL, NULL, &st), "original;");
    SHOW_RET("mprotect_writable", mprotect(page, 4096, PROT_READ | PROT_WRITE), 0, 0);
    strcpy(page, "changed");
    show("rodata_here", page, "changed");
    pid_t k = xfork();
    if (k == 0)
        _exit(strcmp(page, "changed") == 0 ? 0 : 1);
    show("rodata_in_fork", reap(k, "fork"), "exited 0");
    show("exec_after_change", run_capture(again, NULL, NULL, &st), "original;");
    SHOW_RET("mprotect_back", mprotect(page, 4096, PROT_READ), 0, 0);
    show("rodata_still_changed", page, "changed");
    show("exec_after_back", run_capture(again, NULL, NULL, &st), "original;");

    const char *f = "/tmp/mapcache-file";
    put_file(f, "aaaaaaaa");
    show("map_private", mapped_head(f, MAP_PRIVATE), "aaaaaaaa");
    show("map_shared", mapped_head(f, MAP_SHARED), "aaaaaaaa");
    put_file(f, "bbbbbbbb");
    show("map_after_write", mapped_head(f, MAP_PRIVATE), "bbbbbbbb");
    put_file(f, "cccccccccccc");
    show("map_after_longer", mapped_head(f, MAP_PRIVATE), "cccccccc");

    /* MADV_DONTNEED on a read-only private file mapping: the file's bytes again. */
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    SHOW_RET("dontneed", madvise(m, 4096, MADV_DONTNEED), 0, 0);
    show_int("dontneed_kept", m != MAP_FAILED && memcmp(m, "cccc", 4) == 0, 1);
    /* Made writable and written: private to this mapping; a new one has the file's bytes. */
    SHOW_RET("file_writable", mprotect(m, 4096, PROT_READ | PROT_WRITE), 0, 0);
    memcpy(m, "dddd", 4);
    show("file_mapping_written", mapped_head(f, MAP_PRIVATE), "cccccccc");
    show_int("file_mapping_own_copy", memcmp(m, "dddd", 4) == 0, 1);
    munmap(m, 4096);
    unlink(f);
    return 0;
}

/* ---------------------------------------------------------------- fpstate */

/* Whether the CPU and the kernel have AVX (the ymm registers' upper halves). */
static int has_avx(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

static volatile sig_atomic_t fp_handled;

/* A handler that uses the vector registers, as glibc's memcpy and strlen do. */
static void clobber_vectors(int s) {
    (void)s;
    __asm__ volatile("vpcmpeqb %%ymm8, %%ymm8, %%ymm8\n\t"
                     "vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n\t"
                     "vzeroupper" ::: "xmm0", "xmm8");
    fp_handled = 1;
}

/* The interrupted code's vector registers are all back after a handler: ymm8 holds a
 * pattern across a tgkill whose signal's handler overwrites ymm8 and ymm0 (the kernel saves
 * and restores the whole XSAVE state, not only the SSE half). */
static int t_fpstate(void) {
    if (!has_avx()) {
        show("avx", "absent", "absent");
        return 0;
    }
    show("avx", "present", "present");
    set_handler(SIGUSR1, clobber_vectors, 0);
    unsigned char in[32], out[32];
    for (int i = 0; i < 32; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    long pid = getpid(), tid = syscall(SYS_gettid), ret;
    __asm__ volatile("vmovdqu (%[in]), %%ymm8\n\t"
                     "syscall\n\t"
                     "vmovdqu %%ymm8, (%[out])\n\t"
                     "vzeroupper"
                     : "=a"(ret)
                     : "a"((long)SYS_tgkill), "D"(pid), "S"(tid), "d"((long)SIGUSR1),
                       [in] "r"(in), [out] "r"(out)
                     : "rcx", "r11", "memory", "xmm8");
    show_int("tgkill", ret, 0);
    show_int("handler_ran", fp_handled, 1);
    show_int("ymm8_low_kept", memcmp(in, out, 16) == 0, 1);
    show_int("ymm8_high_kept", memcmp(in + 16, out + 16, 16) == 0, 1);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: procs fork|exec|pipe|fds|signals|pgrp|orphans|sleep|cputime|attrs|locks|fifos|rlocks|select|mapcache|fpstate\n");
        return 2;
    }
    int h = helper(argc, argv);
    if (h >= 0)
        return h;
    static const struct area areas[] = {
        {"fork", t_fork}, {"exec", t_exec},   {"pipe", t_pipe},       {"fds", t_fds},
        {"signals", t_signals}, {"pgrp", t_pgrp}, {"orphans", t_orphans}, {"sleep", t_sleep},
        {"cputime", t_cputime}, {"attrs", t_attrs},
        {"locks", t_locks}, {"fifos", t_fifos},
        {"rlocks", t_rlocks}, {"select", t_select}, {"mapcache", t_mapcache},
        {"fpstate", t_fpstate},
    };
    return run_area("procs", argv[1], areas, sizeof areas / sizeof *areas, NULL);
}
