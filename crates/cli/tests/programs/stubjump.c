/* The systrap platform's confinement, from inside the sandbox: the stub's code page sits at a
 * fixed address in every application process, and its `syscall` instructions are the only
 * ones the stub's seccomp filter lets reach the host. An application that loads a forbidden
 * call into rax and jumps onto one of them must be stopped (killed with SIGSYS), never given
 * a host socket or a host file. Each attempt runs in a forked child; the parent reports how
 * the child ended. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STUB_ADDR 0x6fffffff0000UL
#define CODE_OFF 0x100

static const unsigned char *find_syscall(void) {
    const unsigned char *p = (const unsigned char *)STUB_ADDR;
    for (int i = CODE_OFF; i < 4095; i++)
        if (p[i] == 0x0f && p[i + 1] == 0x05)
            return p + i;
    return 0;
}

/* Jumps to `insn` with the call's number and arguments in place; never returns. */
static void jump(const unsigned char *insn, long nr, long a0, long a1, long a2) {
    register long rax __asm__("rax") = nr;
    register long rdi __asm__("rdi") = a0;
    register long rsi __asm__("rsi") = a1;
    register long rdx __asm__("rdx") = a2;
    __asm__ volatile("jmp *%4" : : "r"(rax), "r"(rdi), "r"(rsi), "r"(rdx), "r"(insn) : "memory");
    __builtin_unreachable();
}

static void attempt(const char *name, const unsigned char *insn, long nr, long a0, long a1,
                    long a2) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        jump(insn, nr, a0, a1, a2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("%s: killed by signal %d\n", name, WTERMSIG(st));
    else
        printf("%s: exited %d\n", name, WEXITSTATUS(st));
}

int main(void) {
    const unsigned char *insn = find_syscall();
    if (!insn) {
        printf("no syscall instruction in the stub page\n");
        return 1;
    }
    printf("stub syscall found\n");
    attempt("socket", insn, SYS_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
    attempt("openat", insn, SYS_openat, AT_FDCWD, (long)"/etc/hostname", O_RDONLY);
    attempt("kill", insn, SYS_kill, 1, SIGKILL, 0);
    return 0;
}
