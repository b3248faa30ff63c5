/* Bad arguments to memory, signal, random and /dev calls, as fuzzing the sandbox found them:
 * each must get Linux's answer (checked in the container class first), never a sentry crash.
 * Prints `name=result` lines, a FAIL line for a result that is not Linux's, `badcalls: ok`
 * at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

/* int $0x80 with the 32-bit ABI's number for getpid (20): the 64-bit table's 20 is writev. */
static long int80_getpid(void) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    return r;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    long page = 4096;

    /* Addresses above the top of the user address space. */
    SHOW_RET("munmap_above_task_size", munmap((void *)0x800000000000UL, page), -1, EINVAL);
    SHOW_RET("munmap_wrapping_length", syscall(SYS_munmap, 0x10000UL, (unsigned long)-4095), -1, EINVAL);
    SHOW_RET("munmap_unaligned", munmap((void *)0x10001UL, page), -1, EINVAL);
    SHOW_RET("munmap_zero_length", munmap((void *)0x10000UL, 0), -1, EINVAL);

    /* brk(-1) answers the current break and changes nothing. */
    long cur = syscall(SYS_brk, 0);
    long after = syscall(SYS_brk, -1L);
    SHOW_RET("brk_minus_one_is_current", after == cur, 1, 0);
    volatile char *probe_heap = sbrk(0);
    (void)probe_heap;
    SHOW_RET("program_still_runs", 1, 1, 0);

    /* mmap and friends with bad flags or lengths. */
    SHOW_RET("mmap_unknown_flags",
          syscall(SYS_mmap, 0, page, PROT_READ, 0xffffffffUL, -1, 0), -1, EINVAL);
    SHOW_RET("mmap_zero_length",
          syscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -1, EINVAL);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SHOW_RET("mmap_ok", m != MAP_FAILED, 1, 0);
    /* A length that wraps the address space: Linux's ENOMEM (the end is below the start). */
    SHOW_RET("mprotect_length_minus_one", syscall(SYS_mprotect, m, -1L, PROT_READ), -1, ENOMEM);
    SHOW_RET("mprotect_unknown_prot", mprotect(m, page, 0x100), -1, EINVAL);
    SHOW_RET("madvise_unknown_advice", madvise(m, page, 9999), -1, EINVAL);
    SHOW_RET("madvise_dontneed", madvise(m, page, MADV_DONTNEED), 0, 0);
    SHOW_RET("map_fixed_noreplace_over_mapping",
          mmap(m, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
              == MAP_FAILED ? -1 : 0, -1, EEXIST);
    char *other = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(other, page); /* a free spot to move to */
    m[0] = 'x';
    char *moved = mremap(m, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, other);
    SHOW_RET("mremap_fixed_same_size_moves", moved == other, 1, 0);
    SHOW_RET("mremap_fixed_same_size_content", moved == other ? moved[0] : 0, 'x', 0);
    SHOW_RET("mremap_fixed_without_maymove", syscall(SYS_mremap, m + page, page, page, MREMAP_FIXED, m), -1, EINVAL);

    /* getrandom with unknown flags. */
    char buf[16];
    SHOW_RET("getrandom_unknown_flags", getrandom(buf, sizeof buf, 0x100), -1, EINVAL);
    SHOW_RET("getrandom_ok", getrandom(buf, sizeof buf, GRND_NONBLOCK), 16, 0);

    /* Anyone may read SIGKILL's disposition; no one may set it. */
    struct sigaction old;
    SHOW_RET("sigaction_read_sigkill", sigaction(SIGKILL, NULL, &old), 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    SHOW_RET("sigaction_set_sigkill", sigaction(SIGKILL, &sa, NULL), -1, EINVAL);
    SHOW_RET("sigaction_signal_0", sigaction(0, NULL, &old), -1, EINVAL);
    SHOW_RET("sigaction_signal_65", sigaction(65, NULL, &old), -1, EINVAL);

    /* pread and pwrite on the character devices. */
    int fd = open("/dev/null", O_RDWR);
    SHOW_RET("pread_dev_null", pread(fd, buf, 4, 0), 0, 0);
    SHOW_RET("pwrite_dev_null", pwrite(fd, buf, 4, 100), 4, 0);
    close(fd);
    fd = open("/dev/zero", O_RDWR);
    SHOW_RET("pread_dev_zero", pread(fd, buf, 4, 0), 4, 0);
    close(fd);
    fd = open("/dev/full", O_RDWR);
    SHOW_RET("pwrite_dev_full", pwrite(fd, buf, 4, 0), -1, ENOSPC);
    close(fd);

    /* /proc/self/exe is the program; /proc/self/root/.. is the root. */
    fd = open("/proc/self/exe", O_RDONLY);
    SHOW_RET("open_proc_self_exe", fd >= 0, 1, 0);
    char magic[4] = {0};
    if (fd >= 0) {
        SHOW_RET("proc_self_exe_is_elf", read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0, 1, 0);
        close(fd);
    }
    SHOW_RET("proc_self_root_dotdot_is_root",
          access("/proc/self/root/../bin/badcalls", X_OK), 0, 0);

    /* The 32-bit ABI is not served: Linux here runs it (IA32 emulation) and answers getpid. */
    long r80 = int80_getpid();
    printf("int80_answer=%s\n", r80 == getpid() ? "getpid" : r80 == -ENOSYS ? "ENOSYS" : "other");
    fflush(stdout);

    printf("badcalls: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
