/* Calls through glibc's wrappers (`mov $nr, %eax; syscall`), which the systrap platform
 * patches into jumps to its fast entry after their first trap (docs/sandbox.md). Everything
 * it checks must hold in the container class too; what differs is the one line about the
 * code of getpid, which it reads itself:
 *   code: before=b8 after=XX   (b8: `mov $39, %eax`, as linked; e9: a `jmp rel32`, patched)
 * Each check prints one line; a failed one exits 1.
 *   asm site: XX               (the same for a `mov $39, %eax; syscall` of its own)
 *   read site: before=0f after=XX (glibc's read, `xor %eax, %eax; syscall; cmp`: its
 *                              `syscall` (0f) becomes the jump (e9))
 *   read restart: ok           (reads from that site: a signal frame saved on a return to it
 *                              before the patch, and a restarted read, come back right)
 *   straddling: mov=XX cmp=XX  (sites of each form whose 5 patched bytes straddle two pages:
 *                              patched (e9) on systrap while the process has one thread)
 *   patched          - the checks below, in order
 *   kick: ok                   (a signal reaches a thread that makes no calls)
 *   gs: code=b8 straddling=b8/0f (a program that sets its gs base has its sites put back)
 *   patched getpid N - N getpid calls through glibc; prints nanoseconds per call
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failed;
#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                                \
            printf("\n");                                                                       \
            failed = 1;                                                                         \
        }                                                                                       \
    } while (0)

static volatile int alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static long ns_since(const struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000000000L + (b.tv_nsec - a->tv_nsec);
}

/* getpid's first byte, as the program reads its own code. */
static unsigned code_byte(void) {
    volatile unsigned char *p = (volatile unsigned char *)(void *)getpid;
    return *p;
}

static void *thread_main(void *arg) {
    long pid = (long)arg, bad = 0;
    for (int i = 0; i < 20000; i++) {
        if (getpid() != pid || getppid() < 0)
            bad++;
    }
    return (void *)bad;
}

/* glibc's read begins with a test of __libc_single_threaded and a `syscall` that returns to
 * a `cmp $-4096, %rax`: the first `syscall` in its first 64 bytes. */
static volatile unsigned char *read_site(void) {
    volatile unsigned char *p = (volatile unsigned char *)(void *)read;
    for (int i = 0; i < 64; i++)
        if (p[i] == 0x0f && p[i + 1] == 0x05)
            return p + i;
    return NULL;
}

/* A site of each form whose 5 patched bytes straddle a page boundary: `mov $39, %eax` 3
 * bytes before it, and a `syscall` 1 byte before it (after a 2-byte `mov %edi, %eax`). */
long straddle_mov(void);
long straddle_cmp(long nr);
__asm__(".pushsection .text.straddle, \"ax\"\n"
        ".balign 4096\n"
        ".fill 4093, 1, 0x90\n"
        "straddle_mov:\n"
        "mov $39, %eax\n"
        "syscall\n"
        "ret\n"
        ".balign 4096\n"
        ".fill 4093, 1, 0x90\n"
        "straddle_cmp:\n"
        "mov %edi, %eax\n"
        "syscall\n"
        "cmp $-4096, %rax\n"
        "ret\n"
        ".popsection\n");

static int rfds[2], handler_fds[2];
static volatile int handled;
/* Reads twice through read's site from inside a handler that interrupted a read from the same
 * site: the second read patches it while the interrupted read's frame holds the old return
 * address. Then it gives the interrupted read its byte (for the SA_RESTART case). */
static void on_alarm_reads(int sig) {
    (void)sig;
    char c[2];
    for (int i = 0; i < 2; i++) {
        if (write(handler_fds[1], "h", 1) != 1 || read(handler_fds[0], c, 1) != 1 || c[0] != 'h')
            handled = -100;
    }
    if (write(rfds[1], "r", 1) == 1)
        handled++;
}

/* A read blocked at read's site until SIGALRM, whose handler patches the site: without
 * SA_RESTART the read ends with EINTR, returning through the frame saved before the patch;
 * with it the read starts again (the trampoline's own `syscall`) and gets the handler's byte. */
static int reads_across_a_patch(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_reads;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    char c = 0;
    errno = 0;
    ssize_t r = read(rfds[0], &c, 1);
    if (restart) {
        CHECK(r == 1 && c == 'r', "restarted read %zd errno %d", r, errno);
    } else {
        CHECK(r == -1 && errno == EINTR, "interrupted read %zd errno %d", r, errno);
        CHECK(read(rfds[0], &c, 1) == 1 && c == 'r', "the handler's byte");
    }
    return r;
}

static volatile int usr1s, stop_sleeper;
static void on_usr1(int sig) {
    (void)sig;
    usr1s++;
}

static void *sleeper_main(void *arg) {
    (void)arg;
    struct timespec ms = {0, 5000000};
    while (!stop_sleeper)
        nanosleep(&ms, NULL);
    return NULL;
}

/* Spins (no system call: the clock is the vDSO's) until SIGUSR1 came 5 times, for at most 10 s. */
static void *spinner_main(void *arg) {
    (void)arg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (usr1s < 5) {
        if (ns_since(&t0) > 10000000000L)
            return (void *)1;
    }
    return NULL;
}

/* `mov $39, %eax; syscall` of its own, with every register the call must keep set to a
 * pattern: after the call (trapped the first time, patched after on systrap) they hold it
 * still, rcx holds the return address and r11 the flags, as Linux leaves them. */
static unsigned char *volatile asm_site;
static int registers_kept(long pid) {
    for (unsigned long round = 0; round < 4; round++) {
        register unsigned long r8 __asm__("r8") = 0x0808080808080808UL ^ round;
        register unsigned long r9 __asm__("r9") = 0x0909090909090909UL ^ round;
        register unsigned long r10 __asm__("r10") = 0x1010101010101010UL ^ round;
        register unsigned long r12 __asm__("r12") = 0x1212121212121212UL ^ round;
        register unsigned long r13 __asm__("r13") = 0x1313131313131313UL ^ round;
        register unsigned long r14 __asm__("r14") = 0x1414141414141414UL ^ round;
        register unsigned long r15 __asm__("r15") = 0x1515151515151515UL ^ round;
        register unsigned long r11 __asm__("r11");
        unsigned long rdi = 0xd1d1d1d1d1d1d1d1UL ^ round, rsi = 0x5151515151515151UL ^ round;
        unsigned long rdx = 0xdddddddddddddddUL ^ round, rbx = 0xbbbbbbbbbbbbbbbbUL ^ round;
        unsigned long ret = 0, rcx, at;
        __asm__ volatile("2:\n\t"
                         "mov $39, %%eax\n\t"
                         "syscall\n"
                         "1:\n\t"
                         "mov %%rax, %[ret]\n\t"
                         "lea 2b(%%rip), %%rax\n\t"
                         "mov %%rax, %[site]\n\t"
                         "lea 1b(%%rip), %%rax"
                         : [ret] "=m"(ret), [site] "=m"(asm_site), "=a"(at), "=c"(rcx), "=r"(r11), "+r"(r8), "+r"(r9),
                           "+r"(r10), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15), "+D"(rdi),
                           "+S"(rsi), "+d"(rdx), "+b"(rbx)
                         :
                         : "memory", "cc");
        unsigned long want[11] = {0x0808080808080808UL, 0x0909090909090909UL,
                                  0x1010101010101010UL, 0x1212121212121212UL,
                                  0x1313131313131313UL, 0x1414141414141414UL,
                                  0x1515151515151515UL, 0xd1d1d1d1d1d1d1d1UL,
                                  0x5151515151515151UL, 0xdddddddddddddddUL,
                                  0xbbbbbbbbbbbbbbbbUL};
        unsigned long got[11] = {r8, r9, r10, r12, r13, r14, r15, rdi, rsi, rdx, rbx};
        for (int i = 0; i < 11; i++) {
            if (got[i] != (want[i] ^ round)) {
                printf("FAIL round %lu: register %d is %lx\n", round, i, got[i]);
                return 0;
            }
        }
        if ((long)ret != pid || rcx != at || (r11 & 0x202) != 0x202) {
            printf("FAIL round %lu: rax %lx rcx %lx (want %lx) r11 %lx\n", round, ret, rcx, at,
                   r11);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "getpid") == 0) {
        long n = atol(argv[2]);
        struct timespec t0;
        getpid(); /* the first call traps (and patches the site) */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++)
            getpid();
        printf("%ld\n", ns_since(&t0) / (n > 0 ? n : 1));
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    unsigned before = code_byte();
    pid_t pid = getpid();
    /* Many calls through the same site: the same answer every time. */
    for (int i = 0; i < 100000; i++) {
        pid_t p = getpid();
        if (p != pid) {
            CHECK(0, "getpid %d then %d", pid, p);
            break;
        }
    }
    unsigned after = code_byte();
    printf("code: before=%02x after=%02x\n", before, after);
    CHECK(registers_kept(pid), "registers across a call");
    /* Patched with a plain copy where no atomic store fits: the process has one thread. */
    printf("asm site: %02x\n", asm_site ? *asm_site : 0);

    /* glibc's read: its site patched while the process has one thread, and signal frames
     * and restarts around it. */
    volatile unsigned char *rs = read_site();
    CHECK(rs != NULL, "no syscall in read");
    unsigned read_before = rs ? *rs : 0;
    CHECK(pipe(rfds) == 0 && pipe(handler_fds) == 0, "pipe: %s", strerror(errno));
    reads_across_a_patch(0);
    unsigned read_after = rs ? *rs : 0;
    /* Once patched: many reads through it, each with its own answer; then a restart. */
    for (int i = 0; i < 1000; i++) {
        char out[16], in[16] = {0};
        int n = snprintf(out, sizeof out, "r%d", i);
        CHECK(write(rfds[1], out, n) == n, "write: %s", strerror(errno));
        if (read(rfds[0], in, sizeof in) != n || memcmp(in, out, n) != 0) {
            CHECK(0, "read got %.16s for %s", in, out);
            break;
        }
    }
    CHECK(read(-1, rfds, 1) == -1 && errno == EBADF, "read(-1): errno %d", errno);
    reads_across_a_patch(1);
    CHECK(handled == 2, "handler ran %d", handled);
    printf("read site: before=%02x after=%02x\n", read_before, read_after);
    printf("read restart: ok\n");

    for (int i = 0; i < 100; i++) {
        CHECK(straddle_mov() == pid, "straddle_mov");
        CHECK(straddle_cmp(SYS_getpid) == pid, "straddle_cmp");
    }
    printf("straddling: mov=%02x cmp=%02x\n", *(volatile unsigned char *)(void *)straddle_mov,
           *((volatile unsigned char *)(void *)straddle_cmp + 2));

    /* Arguments and results of other wrappers (write and readv through a pipe). */
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    for (int i = 0; i < 1000; i++) {
        char out[16], in[16] = {0};
        int n = snprintf(out, sizeof out, "msg %d", i);
        CHECK(write(fds[1], out, n) == n, "write: %s", strerror(errno));
        struct iovec v = {in, sizeof in};
        ssize_t got = readv(fds[0], &v, 1);
        if (got != n || memcmp(in, out, n) != 0) {
            CHECK(0, "readv got %zd %.16s for %s", got, in, out);
            break;
        }
    }
    CHECK(write(-1, "x", 1) == -1 && errno == EBADF, "write(-1): errno %d", errno);
    printf("pipe: ok\n");

    /* A signal during a blocking call from a patched site: SIGALRM (no SA_RESTART) ends
     * readv on an empty pipe with EINTR after its handler ran, every time. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    for (int i = 0; i < 3; i++) {
        struct itimerval it = {{0, 0}, {0, 20000}};
        setitimer(ITIMER_REAL, &it, NULL);
        char c;
        struct iovec v = {&c, 1};
        errno = 0;
        ssize_t r = readv(fds[0], &v, 1);
        CHECK(r == -1 && errno == EINTR && alarms == i + 1, "readv %zd errno %d alarms %d", r,
              errno, alarms);
    }
    printf("eintr: alarms=%d\n", alarms);

    /* A signal while the program computes between patched calls: its handler runs, and the
     * registers and floating-point state the loop relies on come back. */
    double x = 1.0;
    int before_alarms = alarms;
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (long i = 0; i < 200000 && alarms < before_alarms + 5; i++) {
        x = x * 1.0000001 + 0.5 * (getpid() == pid);
    }
    struct itimerval stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &stop, NULL);
    CHECK(x > 1.0, "x %f", x);
    printf("signals during calls: ok\n");

    /* fork from a patched site (glibc's fork is `mov $56, %eax; syscall`): twice, so the
     * second goes through the patched site; the child calls patched sites too. */
    for (int i = 0; i < 2; i++) {
        pid_t c = fork();
        if (c == 0) {
            pid_t me = getpid();
            for (int k = 0; k < 1000; k++)
                if (getpid() != me || getppid() != pid)
                    _exit(3);
            _exit(code_byte() == after ? 7 : 4);
        }
        int st = 0;
        CHECK(c > 0 && waitpid(c, &st, 0) == c, "fork/waitpid: %s", strerror(errno));
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x", st);
    }
    printf("fork: ok\n");

    /* Threads calling patched sites at once. */
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&th[i], NULL, thread_main, (void *)(long)pid) == 0, "pthread_create");
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        CHECK(bad == NULL, "thread %d: %ld bad answers", i, (long)bad);
    }
    printf("threads: ok\n");

    /* A signal for a thread that runs without making calls, while the other threads wait in
     * patched calls (where systrap's fast path may take the sentry's kick meant for it). */
    struct sigaction su;
    memset(&su, 0, sizeof su);
    su.sa_handler = on_usr1;
    sigaction(SIGUSR1, &su, NULL);
    pthread_t sleeper, spinner;
    CHECK(pthread_create(&sleeper, NULL, sleeper_main, NULL) == 0, "pthread_create");
    CHECK(pthread_create(&spinner, NULL, spinner_main, NULL) == 0, "pthread_create");
    struct timespec ms = {0, 20000000};
    nanosleep(&ms, NULL);
    nanosleep(&ms, NULL);
    struct timespec t0, tick = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5; i++) {
        pthread_kill(spinner, SIGUSR1);
        while (usr1s <= i && ns_since(&t0) < 10000000000L)
            nanosleep(&tick, NULL);
    }
    void *spun = NULL;
    pthread_join(spinner, &spun);
    CHECK(spun == NULL, "the spinning thread never got its signal");
    stop_sleeper = 1;
    pthread_join(sleeper, NULL);
    printf("kick: ok\n");

    /* The program takes its gs base for itself: it gets it (gs:0 reads its word), and on
     * systrap the patched sites are put back as linked (the fast entry needs gs). */
    static unsigned long mine[2] = {0x1234567887654321UL, 0};
    CHECK(syscall(SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, mine) == 0, "arch_prctl: %s",
          strerror(errno));
    unsigned long at_gs = 0, base = 0;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(at_gs));
    syscall(SYS_arch_prctl, 0x1004 /* ARCH_GET_GS */, &base);
    CHECK(at_gs == mine[0] && base == (unsigned long)mine, "gs:0 %lx base %lx", at_gs, base);
    for (int i = 0; i < 1000; i++)
        CHECK(getpid() == pid, "getpid after gs");
    printf("gs: code=%02x straddling=%02x/%02x\n", code_byte(),
           *(volatile unsigned char *)(void *)straddle_mov,
           *((volatile unsigned char *)(void *)straddle_cmp + 2));
    return failed;
}
