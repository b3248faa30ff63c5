/* Credential semantics, for the sandbox class against the container class. A static program;
 * each subcommand tests one area and prints one `name=value` line per observation, only values
 * that are the same on any Linux. A value that is not what Linux gives is followed by a line
 * `FAIL name: got X, want Y`; the program goes on and exits 1 at the end if anything failed.
 * Every change of credentials that cannot be undone is made in a forked child, which prints
 * its own lines and exits 0 when all of them were right (`child_...=exited 0`): each area,
 * and each part of one, starts from the container's credentials.
 *
 *   creds ids     getuid..getresgid, setresuid/setreuid/setuid/seteuid/setfsuid and their
 *                 gid twins, privileged and not; invalid ids; /proc/self/status Uid:/Gid:
 *   creds groups  getgroups (count, short buffer, bad pointer), setgroups (sorting, limits,
 *                 EFAULT, EPERM without CAP_SETGID); /proc/self/status Groups:
 *   creds caps    capget/capset (versions, the rules for each set, another process's sets),
 *                 the bounding set (PR_CAPBSET_READ/DROP), the ambient set (PR_CAP_AMBIENT),
 *                 the effect of uid changes on capabilities (keepcaps, seteuid, setfsuid),
 *                 no_new_privs; /proc/self/status Cap*: and NoNewPrivs:
 *   creds perms   file permissions by the credentials: root with CAP_DAC_OVERRIDE reads
 *                 another user's 0600 file but cannot execute a file with no execute bit;
 *                 uid 1000 without capabilities cannot read root's 0600 file, write a 0644
 *                 one, search a 0700 directory, create in a 0755 one, remove another's file
 *                 from a sticky directory, chmod or set times of root's file; its new files
 *                 are its own; access(2) answers alike (needs a writable /tmp)
 *   creds exec    ids and capabilities across execve: root's (bounding | inheritable),
 *                 no_new_privs, a non-root euid, uid 1000 with and without ambient caps,
 *                 saved ids set from effective ids; set-user-ID and set-group-ID files and
 *                 AT_SECURE (needs a writable /tmp)
 *   creds xattr   extended attributes: the get/set/list/remove families on paths, links and
 *                 open files, their flags, limits and errors, the namespaces' rules, /proc's
 *                 files, pipes and O_PATH descriptors, another user's rights (needs a
 *                 writable /tmp on a file system with user attributes)
 *
 * It must run as pid 1 of a container as uid 0, gid 0, additional gids 10 and 20, with
 * podman's default capabilities as bounding, effective and permitted set (CAP_CHOWN,
 * CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SETFCAP,
 * CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT), inheritable and ambient empty,
 * no_new_privs off. The rootfs must hold this program as /bin/creds (the exec area runs it).
 * Internal subcommand run by exec: state (one line: ids, groups, capability sets as hex masks,
 * keepcaps, no_new_privs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

#define C(x) (1ULL << (x))
/* The container's bounding, effective and permitted set (podman's default): 0x800405fb. */
#define PODMAN                                                                             \
    (C(CAP_CHOWN) | C(CAP_DAC_OVERRIDE) | C(CAP_FOWNER) | C(CAP_FSETID) | C(CAP_KILL) |    \
     C(CAP_NET_BIND_SERVICE) | C(CAP_SETFCAP) | C(CAP_SETGID) | C(CAP_SETPCAP) |           \
     C(CAP_SETUID) | C(CAP_SYS_CHROOT))
/* The capabilities a change of the file-system uid from 0 drops from the effective set. */
#define FS_CAPS                                                                            \
    (C(CAP_CHOWN) | C(CAP_DAC_OVERRIDE) | C(CAP_DAC_READ_SEARCH) | C(CAP_FOWNER) |         \
     C(CAP_FSETID) | C(CAP_LINUX_IMMUTABLE) | C(CAP_MAC_OVERRIDE) | C(CAP_MKNOD))
#define NBS C(CAP_NET_BIND_SERVICE)

/* prctl with all four arguments as unsigned longs (it is variadic). */
#define PRCTL(op, a, b, c, d)                                                              \
    prctl(op, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c), (unsigned long)(d))

/* ---------------------------------------------------------------- reading credentials */

static const char *hex(uint64_t v) {
    char *b = scratch();
    snprintf(b, 48, "0x%llx", (unsigned long long)v);
    return b;
}

static const char *resuid(void) {
    uid_t r = 9, e = 9, s = 9;
    char *b = scratch();
    if (syscall(SYS_getresuid, &r, &e, &s) < 0)
        return ret_str(-1, errno);
    snprintf(b, 48, "%u %u %u", r, e, s);
    return b;
}

static const char *resgid(void) {
    gid_t r = 9, e = 9, s = 9;
    char *b = scratch();
    if (syscall(SYS_getresgid, &r, &e, &s) < 0)
        return ret_str(-1, errno);
    snprintf(b, 48, "%u %u %u", r, e, s);
    return b;
}

/* The current fsuid/fsgid: setfsuid(-1) changes nothing and returns it. */
static long fsuid(void) {
    return syscall(SYS_setfsuid, -1);
}
static long fsgid(void) {
    return syscall(SYS_setfsgid, -1);
}

/* The supplementary groups, "10 20" ("" for none). */
static const char *groups_sep(const char *sep) {
    static char b[4][256];
    static int i;
    char *o = b[i = (i + 1) % 4];
    gid_t g[64];
    long n = syscall(SYS_getgroups, 64, g);
    if (n < 0)
        return ret_str(-1, errno);
    o[0] = 0;
    for (long k = 0; k < n; k++)
        snprintf(o + strlen(o), 256 - strlen(o), "%s%u", k ? sep : "", g[k]);
    return o;
}

static const char *groups_str(void) {
    return groups_sep(" ");
}

/* The value of /proc/self/status's line `key:`, tabs made spaces, trailing blanks dropped;
 * "missing" when there is no such line. */
static const char *status_line(const char *key) {
    static char out[4][256];
    static int i;
    char *o = out[i = (i + 1) % 4];
    char buf[16384];
    size_t got = 0;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ret_str(-1, errno);
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    buf[got] = 0;
    size_t kl = strlen(key);
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) != 0 || l[kl] != ':')
            continue;
        char *v = l + kl + 1;
        while (*v == '\t' || *v == ' ')
            v++;
        size_t n = 0;
        while (v[n] && v[n] != '\n' && n < 255) {
            o[n] = v[n] == '\t' ? ' ' : v[n];
            n++;
        }
        while (n > 0 && o[n - 1] == ' ')
            n--;
        o[n] = 0;
        return o;
    }
    return "missing";
}

static void show_status(const char *name, const char *key, const char *want) {
    show(name, status_line(key), want);
}

struct caps {
    uint64_t eff, prm, inh;
};

/* capget (version 3) of `pid`; -1 with errno on error. */
static long capget3(pid_t pid, struct caps *c) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    long r = syscall(SYS_capget, &h, d);
    c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
    c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
    c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
    return r;
}

/* capset (version 3) of `pid` (0: the caller). */
static long capset3(pid_t pid, uint64_t eff, uint64_t prm, uint64_t inh) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
        {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
    };
    return syscall(SYS_capset, &h, d);
}

/* The ambient and bounding sets, as masks (asked capability by capability, up to the first
 * that the kernel does not know). */
static uint64_t ambient_mask(void) {
    uint64_t m = 0;
    for (int c = 0; c < 64; c++) {
        int r = PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
        if (r < 0)
            break;
        if (r == 1)
            m |= C(c);
    }
    return m;
}

static uint64_t bounding_mask(void) {
    uint64_t m = 0;
    for (int c = 0; c < 64; c++) {
        int r = PRCTL(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0)
            break;
        if (r == 1)
            m |= C(c);
    }
    return m;
}

/* Shows `<p>_eff`, `<p>_prm` and `<p>_inh` of the caller, against the wanted masks. */
static void show_caps(const char *p, uint64_t eff, uint64_t prm, uint64_t inh) {
    struct caps c;
    char n[96];
    errno = 0;
    if (capget3(0, &c) < 0) {
        snprintf(n, sizeof n, "%s_capget", p);
        show(n, ret_str(-1, errno), "0");
        return;
    }
    snprintf(n, sizeof n, "%s_eff", p);
    show(n, hex(c.eff), hex(eff));
    snprintf(n, sizeof n, "%s_prm", p);
    show(n, hex(c.prm), hex(prm));
    snprintf(n, sizeof n, "%s_inh", p);
    show(n, hex(c.inh), hex(inh));
}

static void show_amb(const char *name, uint64_t want) {
    show(name, hex(ambient_mask()), hex(want));
}

/* ---------------------------------------------------------------- processes */

/* Runs fn in a forked child, whose credential changes stay there: its lines come as it
 * goes, and `name=exited 0` says it found nothing wrong (1: a FAIL line above). */
static void in_child(const char *name, void (*fn)(void)) {
    pid_t c = xfork();
    if (c < 0)
        return;
    if (c == 0) {
        failures = 0;
        fn();
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    show(name, reap_ms(c, 3000, name), "exited 0");
}

/* Reads until EOF (or cap - 1 bytes), at most ms in all; the count, -2 on timeout. */
static ssize_t read_all(int fd, char *buf, size_t cap, int ms) {
    size_t got = 0;
    long end = now_ms() + ms;
    while (got < cap - 1) {
        long left = end - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left < 0 || poll(&p, 1, (int)left) == 0)
            return -2;
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    buf[got] = 0;
    return got;
}

/* Forks a child that runs `setup` (its checks print as usual; a failed one ends the child
 * with exit 3) and then execs `/bin/creds state` with its stdout a pipe: shows `name` = that
 * line and `name_status` = how it ended. */
static void exec_state_of(const char *name, const char *path, void (*setup)(void),
                          const char *want) {
    int p[2];
    if (pipe(p) < 0) {
        fail(name, "pipe");
        return;
    }
    pid_t c = xfork();
    if (c < 0)
        return;
    if (c == 0) {
        failures = 0;
        close(p[0]);
        if (setup)
            setup();
        fflush(stdout);
        if (failures)
            _exit(3);
        dup2(p[1], 1);
        close(p[1]);
        char *argv[] = {(char *)path, "state", NULL};
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(p[1]);
    char out[1024];
    ssize_t n = read_all(p[0], out, sizeof out, 2000);
    close(p[0]);
    if (n < 0)
        snprintf(out, sizeof out, "%s", n == -2 ? "timeout" : "read error");
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = 0;
    char sn[96];
    snprintf(sn, sizeof sn, "%s_status", name);
    const char *st = reap_ms(c, 2000, name);
    show(name, out, want);
    show(sn, st, "exited 0");
}

static void exec_state(const char *name, void (*setup)(void), const char *want) {
    exec_state_of(name, "/bin/creds", setup, want);
}

/* ---------------------------------------------------------------- internal subcommand */

/* One line: ids (real effective saved fs), groups, capability sets, keepcaps, no_new_privs,
 * AT_SECURE. */
static int state(void) {
    struct caps c = {0, 0, 0};
    capget3(0, &c);
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    syscall(SYS_getresuid, &ru, &eu, &su);
    syscall(SYS_getresgid, &rg, &eg, &sg);
    printf("uid=%u,%u,%u,%ld gid=%u,%u,%u,%ld groups=%s eff=%s prm=%s inh=%s amb=%s bnd=%s "
           "keepcaps=%d nnp=%d secure=%lu\n",
           ru, eu, su, fsuid(), rg, eg, sg, fsgid(), groups_sep(","), hex(c.eff), hex(c.prm),
           hex(c.inh), hex(ambient_mask()), hex(bounding_mask()),
           PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
           getauxval(AT_SECURE));
    return 0;
}

/* ---------------------------------------------------------------- ids */

/* Root becomes uid 1000 in all three ids: it can no longer become root, only its own ids. */
static void ids_setresuid(void) {
    SHOW_RET("setresuid_1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    show("setresuid_1000_resuid", resuid(), "1000 1000 1000");
    show_int("setresuid_1000_getuid", getuid(), 1000);
    show_int("setresuid_1000_geteuid", geteuid(), 1000);
    show_int("setresuid_1000_fsuid", fsuid(), 1000);
    show_status("setresuid_1000_status_uid", "Uid", "1000 1000 1000 1000");
    show("setresuid_1000_resgid", resgid(), "0 0 0");
    SHOW_RET("unpriv_setuid_0", syscall(SYS_setuid, 0), -1, EPERM);
    SHOW_RET("unpriv_setresuid_0", syscall(SYS_setresuid, 0, -1, -1), -1, EPERM);
    SHOW_RET("unpriv_setresuid_none", syscall(SYS_setresuid, -1, -1, -1), 0, 0);
    SHOW_RET("unpriv_setresuid_own", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    SHOW_RET("unpriv_setuid_own", syscall(SYS_setuid, 1000), 0, 0);
    SHOW_RET("unpriv_setreuid_0", syscall(SYS_setreuid, -1, 0), -1, EPERM);
    /* Without CAP_SETGID: the real gid (0) may be set again, no other. */
    SHOW_RET("unpriv_setgid_real", syscall(SYS_setgid, 0), 0, 0);
    SHOW_RET("unpriv_setgid_other", syscall(SYS_setgid, 5), -1, EPERM);
    SHOW_RET("unpriv_setresgid_other", syscall(SYS_setresgid, 5, 5, 5), -1, EPERM);
    show("unpriv_resgid", resgid(), "0 0 0");
}

/* setreuid without privilege: real may become effective, effective may become real or saved;
 * the saved id becomes the new effective when real is set or effective differs from the old
 * real; fsuid follows effective. */
static void ids_setreuid(void) {
    SHOW_RET("setresuid_1000_2000_3000", syscall(SYS_setresuid, 1000, 2000, 3000), 0, 0);
    show("setreuid_start", resuid(), "1000 2000 3000");
    show_status("setreuid_start_status_uid", "Uid", "1000 2000 3000 2000");
    SHOW_RET("setreuid_real_to_saved", syscall(SYS_setreuid, 3000, -1), -1, EPERM);
    SHOW_RET("setreuid_eff_to_real", syscall(SYS_setreuid, -1, 1000), 0, 0);
    show("setreuid_eff_to_real_resuid", resuid(), "1000 1000 3000");
    show_int("setreuid_eff_to_real_fsuid", fsuid(), 1000);
    SHOW_RET("setreuid_eff_to_saved", syscall(SYS_setreuid, -1, 3000), 0, 0);
    show("setreuid_eff_to_saved_resuid", resuid(), "1000 3000 3000");
    SHOW_RET("setreuid_eff_to_lost", syscall(SYS_setreuid, -1, 2000), -1, EPERM);
    SHOW_RET("setreuid_swap", syscall(SYS_setreuid, 3000, 1000), 0, 0);
    show("setreuid_swap_resuid", resuid(), "3000 1000 1000");
    show_status("setreuid_swap_status_uid", "Uid", "3000 1000 1000 1000");
    SHOW_RET("setreuid_none", syscall(SYS_setreuid, -1, -1), 0, 0);
    show("setreuid_none_resuid", resuid(), "3000 1000 1000");
    SHOW_RET("setreuid_other", syscall(SYS_setreuid, 4000, -1), -1, EPERM);
    SHOW_RET("setreuid_real_to_eff", syscall(SYS_setreuid, 1000, -1), 0, 0);
    show("setreuid_real_to_eff_resuid", resuid(), "1000 1000 1000");
}

/* setuid: with CAP_SETUID all ids; without, effective (and fs) only, to real or saved. */
static void ids_setuid(void) {
    SHOW_RET("root_setuid_1000", syscall(SYS_setuid, 1000), 0, 0);
    show("root_setuid_1000_resuid", resuid(), "1000 1000 1000");
    show_status("root_setuid_1000_status_uid", "Uid", "1000 1000 1000 1000");
    SHOW_RET("root_setuid_1000_back", syscall(SYS_setuid, 0), -1, EPERM);
}

static void ids_setuid_unpriv(void) {
    SHOW_RET("setresuid_1000_2000_3000", syscall(SYS_setresuid, 1000, 2000, 3000), 0, 0);
    SHOW_RET("unpriv_setuid_saved", syscall(SYS_setuid, 3000), 0, 0);
    show("unpriv_setuid_saved_resuid", resuid(), "1000 3000 3000");
    show_int("unpriv_setuid_saved_fsuid", fsuid(), 3000);
    SHOW_RET("unpriv_setuid_real", syscall(SYS_setuid, 1000), 0, 0);
    show("unpriv_setuid_real_resuid", resuid(), "1000 1000 3000");
    SHOW_RET("unpriv_setuid_lost", syscall(SYS_setuid, 2000), -1, EPERM);
    show("unpriv_setuid_lost_resuid", resuid(), "1000 1000 3000");
}

/* seteuid (glibc: setresuid(-1, e, -1)) away from root and back: the saved id is 0. */
static void ids_seteuid(void) {
    SHOW_RET("seteuid_1000", seteuid(1000), 0, 0);
    show("seteuid_1000_resuid", resuid(), "0 1000 0");
    show_int("seteuid_1000_geteuid", geteuid(), 1000);
    show_int("seteuid_1000_fsuid", fsuid(), 1000);
    show_status("seteuid_1000_status_uid", "Uid", "0 1000 0 1000");
    SHOW_RET("seteuid_2000", seteuid(2000), -1, EPERM);
    SHOW_RET("seteuid_0", seteuid(0), 0, 0);
    show("seteuid_0_resuid", resuid(), "0 0 0");
    show_int("seteuid_0_fsuid", fsuid(), 0);
    SHOW_RET("setreuid_root_eff", syscall(SYS_setreuid, -1, 1000), 0, 0);
    /* As root, setreuid(-1, e) with e != real: saved = e. */
    show("setreuid_root_eff_resuid", resuid(), "0 1000 1000");
    SHOW_RET("setreuid_root_eff_back", syscall(SYS_setreuid, -1, 0), 0, 0);
    show("setreuid_root_eff_back_resuid", resuid(), "0 0 1000");
}

/* setfsuid returns the previous fsuid whether it changes it or not; fsuid follows euid. */
static void ids_setfsuid(void) {
    SHOW_RET("setfsuid_1234", syscall(SYS_setfsuid, 1234), 0, 0);
    SHOW_RET("setfsuid_query", syscall(SYS_setfsuid, -1), 1234, 0);
    show_status("setfsuid_1234_status_uid", "Uid", "0 0 0 1234");
    show("setfsuid_1234_resuid", resuid(), "0 0 0");
    SHOW_RET("setfsuid_0", syscall(SYS_setfsuid, 0), 1234, 0);
    show_int("setfsuid_0_fsuid", fsuid(), 0);
    SHOW_RET("seteuid_1000", seteuid(1000), 0, 0);
    show_int("seteuid_1000_fsuid", fsuid(), 1000);
    /* Without CAP_SETUID in effective (cleared by the euid change), only the caller's ids. */
    SHOW_RET("unpriv_setfsuid_other", syscall(SYS_setfsuid, 77), 1000, 0);
    show_int("unpriv_setfsuid_other_fsuid", fsuid(), 1000);
    SHOW_RET("unpriv_setfsuid_real", syscall(SYS_setfsuid, 0), 1000, 0);
    show_int("unpriv_setfsuid_real_fsuid", fsuid(), 0);
    show_status("unpriv_setfsuid_real_status_uid", "Uid", "0 1000 0 0");
    SHOW_RET("seteuid_0", seteuid(0), 0, 0);
    show_int("seteuid_0_fsuid", fsuid(), 0);
}

/* The gid twins: no capability changes with them, so CAP_SETGID goes with the uid. */
static void ids_gids(void) {
    SHOW_RET("root_setgid_1000", syscall(SYS_setgid, 1000), 0, 0);
    show("root_setgid_1000_resgid", resgid(), "1000 1000 1000");
    show_status("root_setgid_1000_status_gid", "Gid", "1000 1000 1000 1000");
    SHOW_RET("root_setegid_2000", setegid(2000), 0, 0);
    show("root_setegid_2000_resgid", resgid(), "1000 2000 1000");
    show_int("root_setegid_2000_fsgid", fsgid(), 2000);
    SHOW_RET("root_setfsgid_77", syscall(SYS_setfsgid, 77), 2000, 0);
    SHOW_RET("setfsgid_query", syscall(SYS_setfsgid, -1), 77, 0);
    show_status("root_setfsgid_77_status_gid", "Gid", "1000 2000 1000 77");
    SHOW_RET("root_setresgid", syscall(SYS_setresgid, 1000, 2000, 3000), 0, 0);
    show("root_setresgid_resgid", resgid(), "1000 2000 3000");
    show_int("root_setresgid_fsgid", fsgid(), 2000);
    /* Now without CAP_SETGID. */
    SHOW_RET("drop_root", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    SHOW_RET("setregid_real_to_saved", syscall(SYS_setregid, 3000, -1), -1, EPERM);
    SHOW_RET("setregid_eff_to_real", syscall(SYS_setregid, -1, 1000), 0, 0);
    show("setregid_eff_to_real_resgid", resgid(), "1000 1000 3000");
    SHOW_RET("setregid_eff_to_saved", syscall(SYS_setregid, -1, 3000), 0, 0);
    show("setregid_eff_to_saved_resgid", resgid(), "1000 3000 3000");
    SHOW_RET("setregid_eff_to_lost", syscall(SYS_setregid, -1, 2000), -1, EPERM);
    SHOW_RET("setregid_swap", syscall(SYS_setregid, 3000, 1000), 0, 0);
    show("setregid_swap_resgid", resgid(), "3000 1000 1000");
    show_status("setregid_swap_status_gid", "Gid", "3000 1000 1000 1000");
    SHOW_RET("unpriv_setgid_real", syscall(SYS_setgid, 3000), 0, 0);
    show("unpriv_setgid_real_resgid", resgid(), "3000 3000 1000");
    SHOW_RET("unpriv_setgid_other", syscall(SYS_setgid, 5), -1, EPERM);
    SHOW_RET("unpriv_setresgid_none", syscall(SYS_setresgid, -1, -1, -1), 0, 0);
    SHOW_RET("unpriv_setresgid_shuffle", syscall(SYS_setresgid, 1000, 1000, 3000), 0, 0);
    show("unpriv_setresgid_shuffle_resgid", resgid(), "1000 1000 3000");
    SHOW_RET("unpriv_setresgid_other", syscall(SYS_setresgid, 5, -1, -1), -1, EPERM);
    SHOW_RET("unpriv_setfsgid_other", syscall(SYS_setfsgid, 5), 1000, 0);
    show_int("unpriv_setfsgid_other_fsgid", fsgid(), 1000);
    SHOW_RET("unpriv_setfsgid_saved", syscall(SYS_setfsgid, 3000), 1000, 0);
    show_int("unpriv_setfsgid_saved_fsgid", fsgid(), 3000);
}

/* getuid..getresgid, the set*id rules (each in a child), invalid ids. */
static int t_ids(void) {
    show_int("getuid", getuid(), 0);
    show_int("geteuid", geteuid(), 0);
    show_int("getgid", getgid(), 0);
    show_int("getegid", getegid(), 0);
    show("getresuid", resuid(), "0 0 0");
    show("getresgid", resgid(), "0 0 0");
    show_int("fsuid", fsuid(), 0);
    show_int("fsgid", fsgid(), 0);
    show_status("status_uid", "Uid", "0 0 0 0");
    show_status("status_gid", "Gid", "0 0 0 0");
    SHOW_RET("getresuid_bad_pointer", syscall(SYS_getresuid, (void *)1, (void *)1, (void *)1),
             -1, EFAULT);
    SHOW_RET("getresgid_bad_pointer", syscall(SYS_getresgid, NULL, NULL, NULL), -1, EFAULT);
    /* -1 is no uid: as the one id to set it is EINVAL; as "leave it" it changes nothing. */
    SHOW_RET("setuid_minus1", syscall(SYS_setuid, -1), -1, EINVAL);
    SHOW_RET("setgid_minus1", syscall(SYS_setgid, -1), -1, EINVAL);
    SHOW_RET("setresuid_all_minus1", syscall(SYS_setresuid, -1, -1, -1), 0, 0);
    SHOW_RET("setresgid_all_minus1", syscall(SYS_setresgid, -1, -1, -1), 0, 0);
    SHOW_RET("setreuid_both_minus1", syscall(SYS_setreuid, -1, -1), 0, 0);
    SHOW_RET("setregid_both_minus1", syscall(SYS_setregid, -1, -1), 0, 0);
    SHOW_RET("setfsuid_minus1", syscall(SYS_setfsuid, -1), 0, 0);
    SHOW_RET("setfsgid_minus1", syscall(SYS_setfsgid, -1), 0, 0);
    show("after_minus1_resuid", resuid(), "0 0 0");
    show("after_minus1_resgid", resgid(), "0 0 0");
    /* The same ids again: allowed, nothing changes. */
    SHOW_RET("setresuid_same", syscall(SYS_setresuid, 0, 0, 0), 0, 0);
    SHOW_RET("setuid_same", syscall(SYS_setuid, 0), 0, 0);
    show("after_same_resuid", resuid(), "0 0 0");
    in_child("child_setresuid", ids_setresuid);
    in_child("child_setreuid", ids_setreuid);
    in_child("child_setuid", ids_setuid);
    in_child("child_setuid_unpriv", ids_setuid_unpriv);
    in_child("child_seteuid", ids_seteuid);
    in_child("child_setfsuid", ids_setfsuid);
    in_child("child_gids", ids_gids);
    show("parent_resuid", resuid(), "0 0 0");
    show("parent_resgid", resgid(), "0 0 0");
    return 0;
}

/* ---------------------------------------------------------------- groups */

static void groups_set(void) {
    gid_t g[] = {5, 6};
    SHOW_RET("setgroups_5_6", syscall(SYS_setgroups, 2, g), 0, 0);
    show("setgroups_5_6_groups", groups_str(), "5 6");
    show_status("setgroups_5_6_status", "Groups", "5 6");
    /* Linux keeps the list sorted (duplicates stay). */
    gid_t u[] = {30, 7, 7, 1};
    SHOW_RET("setgroups_unsorted", syscall(SYS_setgroups, 4, u), 0, 0);
    show("setgroups_unsorted_groups", groups_str(), "1 7 7 30");
    SHOW_RET("setgroups_bad_pointer", syscall(SYS_setgroups, 2, (void *)1), -1, EFAULT);
    show("setgroups_bad_pointer_groups", groups_str(), "1 7 7 30");
    SHOW_RET("setgroups_negative", syscall(SYS_setgroups, -1, g), -1, EINVAL);
    SHOW_RET("setgroups_too_many", syscall(SYS_setgroups, 65537, g), -1, EINVAL);
    gid_t bad[] = {8, (gid_t)-1};
    SHOW_RET("setgroups_invalid_gid", syscall(SYS_setgroups, 2, bad), -1, EINVAL);
    show("setgroups_invalid_gid_groups", groups_str(), "1 7 7 30");
    SHOW_RET("setgroups_empty", syscall(SYS_setgroups, 0, NULL), 0, 0);
    SHOW_RET("setgroups_empty_count", syscall(SYS_getgroups, 0, NULL), 0, 0);
    show_status("setgroups_empty_status", "Groups", "");
    SHOW_RET("setgroups_5_6_again", syscall(SYS_setgroups, 2, g), 0, 0);
    /* The groups stay through a uid change; setting them then needs CAP_SETGID. */
    SHOW_RET("setresuid_1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    show("unpriv_groups", groups_str(), "5 6");
    gid_t one[] = {5};
    SHOW_RET("unpriv_setgroups", syscall(SYS_setgroups, 1, one), -1, EPERM);
    SHOW_RET("unpriv_setgroups_empty", syscall(SYS_setgroups, 0, NULL), -1, EPERM);
    SHOW_RET("unpriv_setgroups_same", syscall(SYS_setgroups, 2, g), -1, EPERM);
    show("unpriv_groups_after", groups_str(), "5 6");
}

/* Root without CAP_SETGID in its effective set may not set groups either. */
static void groups_nocap(void) {
    uint64_t p = PODMAN & ~C(CAP_SETGID);
    SHOW_RET("capset_drop_setgid", capset3(0, p, PODMAN, 0), 0, 0);
    gid_t g[] = {5};
    SHOW_RET("nocap_setgroups", syscall(SYS_setgroups, 1, g), -1, EPERM);
    SHOW_RET("capset_raise_setgid", capset3(0, PODMAN, PODMAN, 0), 0, 0);
    SHOW_RET("cap_setgroups", syscall(SYS_setgroups, 1, g), 0, 0);
    show("cap_setgroups_groups", groups_str(), "5");
}

static int t_groups(void) {
    SHOW_RET("getgroups_count", syscall(SYS_getgroups, 0, NULL), 2, 0);
    gid_t g[8] = {0};
    SHOW_RET("getgroups", syscall(SYS_getgroups, 8, g), 2, 0);
    show("groups", groups_str(), "10 20");
    SHOW_RET("getgroups_exact", syscall(SYS_getgroups, 2, g), 2, 0);
    SHOW_RET("getgroups_short", syscall(SYS_getgroups, 1, g), -1, EINVAL);
    SHOW_RET("getgroups_negative", syscall(SYS_getgroups, -1, g), -1, EINVAL);
    SHOW_RET("getgroups_bad_pointer", syscall(SYS_getgroups, 2, (void *)1), -1, EFAULT);
    SHOW_RET("getgroups_count_bad_pointer", syscall(SYS_getgroups, 0, (void *)1), 2, 0);
    show_int("getgroups_glibc", getgroups(8, g), 2);
    show_status("status_groups", "Groups", "10 20");
    in_child("child_setgroups", groups_set);
    in_child("child_setgroups_nocap", groups_nocap);
    show("parent_groups", groups_str(), "10 20");
    return 0;
}

/* ---------------------------------------------------------------- caps */

/* capset's rules for each set. */
static void caps_capset(void) {
    uint64_t nk = PODMAN & ~C(CAP_KILL);
    SHOW_RET("capset_drop_kill_eff", capset3(0, nk, PODMAN, 0), 0, 0);
    show_caps("drop_kill_eff", nk, PODMAN, 0);
    show_status("drop_kill_eff_status_eff", "CapEff", "00000000800405db");
    show_status("drop_kill_eff_status_prm", "CapPrm", "00000000800405fb");
    SHOW_RET("capset_raise_kill_eff", capset3(0, PODMAN, PODMAN, 0), 0, 0);
    show_caps("raise_kill_eff", PODMAN, PODMAN, 0);
    SHOW_RET("capset_eff_not_permitted", capset3(0, PODMAN | C(CAP_SYS_ADMIN), PODMAN, 0),
             -1, EPERM);
    SHOW_RET("capset_prm_grow", capset3(0, PODMAN, PODMAN | C(CAP_SYS_ADMIN), 0), -1, EPERM);
    SHOW_RET("capset_eff_outside_new_prm", capset3(0, PODMAN, nk, 0), -1, EPERM);
    SHOW_RET("capset_pid_self", capset3(getpid(), PODMAN, PODMAN, 0), 0, 0);
    SHOW_RET("capset_pid_other", capset3(1, PODMAN, PODMAN, 0), -1, EPERM);
    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    SHOW_RET("capset_bad_version", syscall(SYS_capset, &h, d), -1, EINVAL);
    show("capset_bad_version_header", hex(h.version), hex(_LINUX_CAPABILITY_VERSION_3));
    h.version = _LINUX_CAPABILITY_VERSION_3;
    SHOW_RET("capset_bad_pointer", syscall(SYS_capset, &h, (void *)1), -1, EFAULT);
    /* Permitted shrinks for good. */
    SHOW_RET("capset_drop_kill_prm", capset3(0, nk, nk, 0), 0, 0);
    show_caps("drop_kill_prm", nk, nk, 0);
    SHOW_RET("capset_regain_kill_prm", capset3(0, nk, PODMAN, 0), -1, EPERM);
    /* Inheritable: with CAP_SETPCAP, anything of the bounding set (KILL is no longer
     * permitted but is still bounding); never outside it. */
    SHOW_RET("capset_inh_bounding_setpcap", capset3(0, nk, nk, C(CAP_KILL)), 0, 0);
    show_caps("inh_bounding_setpcap", nk, nk, C(CAP_KILL));
    show_status("inh_bounding_setpcap_status_inh", "CapInh", "0000000000000020");
    SHOW_RET("capset_inh_outside_bounding", capset3(0, nk, nk, C(CAP_KILL) | C(CAP_SYS_ADMIN)),
             -1, EPERM);
    /* Without CAP_SETPCAP in effective: what it has (old inheritable) and permitted only. */
    uint64_t np = nk & ~C(CAP_SETPCAP);
    SHOW_RET("capset_drop_setpcap_eff", capset3(0, np, nk, C(CAP_KILL)), 0, 0);
    SHOW_RET("capset_inh_keep_add_permitted", capset3(0, np, nk, C(CAP_KILL) | C(CAP_CHOWN)), 0,
             0);
    show_caps("inh_keep_add_permitted", np, nk, C(CAP_KILL) | C(CAP_CHOWN));
    SHOW_RET("capset_inh_drop", capset3(0, np, nk, C(CAP_CHOWN)), 0, 0);
    SHOW_RET("capset_inh_readd_not_permitted", capset3(0, np, nk, C(CAP_KILL) | C(CAP_CHOWN)), -1,
             EPERM);
    show_caps("inh_readd_not_permitted", np, nk, C(CAP_CHOWN));
}

/* Another process's sets through capget; capset of it is EPERM. */
static void caps_other(void) {
    int rd[2], go[2];
    if (pipe(rd) < 0 || pipe(go) < 0) {
        fail("caps_other", "pipe");
        return;
    }
    pid_t c = xfork();
    if (c < 0)
        return;
    if (c == 0) {
        close(rd[0]);
        close(go[1]);
        capset3(0, PODMAN & ~C(CAP_KILL), PODMAN, C(CAP_CHOWN));
        char b = 'r';
        if (write(rd[1], &b, 1) != 1)
            _exit(2);
        struct pollfd p = {go[0], POLLIN, 0};
        poll(&p, 1, 2000);
        _exit(0);
    }
    close(rd[1]);
    close(go[0]);
    char b;
    struct pollfd p = {rd[0], POLLIN, 0};
    if (poll(&p, 1, 2000) != 1 || read(rd[0], &b, 1) != 1)
        fail("capget_other", "child never got ready");
    struct caps o = {0, 0, 0};
    SHOW_RET("capget_other", capget3(c, &o), 0, 0);
    show("capget_other_eff", hex(o.eff), hex(PODMAN & ~C(CAP_KILL)));
    show("capget_other_prm", hex(o.prm), hex(PODMAN));
    show("capget_other_inh", hex(o.inh), hex(C(CAP_CHOWN)));
    SHOW_RET("capset_other", capset3(c, PODMAN, PODMAN, 0), -1, EPERM);
    if (write(go[1], "g", 1) != 1)
        fail("capget_other", "write");
    close(go[1]);
    close(rd[0]);
    show("capget_other_child", reap_ms(c, 2000, "capget_other"), "exited 0");
}

static void caps_bounding(void) {
    SHOW_RET("capbset_drop_kill", PRCTL(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), 0, 0);
    SHOW_RET("capbset_read_kill_after_drop", PRCTL(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0), 0, 0);
    show("capbset_after_drop", hex(bounding_mask()), hex(PODMAN & ~C(CAP_KILL)));
    show_status("capbset_after_drop_status", "CapBnd", "00000000800405db");
    /* The bounding set limits what may be added to inheritable, not what is permitted. */
    show_caps("capbset_after_drop", PODMAN, PODMAN, 0);
    SHOW_RET("capset_inh_dropped_bounding", capset3(0, PODMAN, PODMAN, C(CAP_KILL)), -1, EPERM);
    SHOW_RET("capbset_drop_absent", PRCTL(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0), 0, 0);
    SHOW_RET("capbset_drop_again", PRCTL(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), 0, 0);
    SHOW_RET("capbset_drop_invalid", PRCTL(PR_CAPBSET_DROP, 64, 0, 0, 0), -1, EINVAL);
    SHOW_RET("capset_drop_setpcap", capset3(0, PODMAN & ~C(CAP_SETPCAP), PODMAN, 0), 0, 0);
    SHOW_RET("capbset_drop_no_setpcap", PRCTL(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), -1, EPERM);
    SHOW_RET("capbset_read_chown", PRCTL(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0), 1, 0);
}

static void caps_ambient(void) {
    SHOW_RET("ambient_raise_not_inh", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                            CAP_NET_BIND_SERVICE, 0, 0), -1, EPERM);
    SHOW_RET("capset_inh_nbs", capset3(0, PODMAN, PODMAN, NBS), 0, 0);
    SHOW_RET("ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE,
                                    0, 0), 0, 0);
    SHOW_RET("ambient_is_set", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET,
                                     CAP_NET_BIND_SERVICE, 0, 0), 1, 0);
    SHOW_RET("ambient_is_set_other", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0,
                                           0), 0, 0);
    show_amb("ambient_after_raise", NBS);
    show_status("ambient_after_raise_status", "CapAmb", "0000000000000400");
    SHOW_RET("ambient_raise_not_prm", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN,
                                            0, 0), -1, EPERM);
    SHOW_RET("ambient_raise_invalid", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 64, 0, 0),
             -1, EINVAL);
    SHOW_RET("ambient_is_set_invalid", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 64, 0, 0),
             -1, EINVAL);
    SHOW_RET("ambient_raise_extra_arg", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                              CAP_NET_BIND_SERVICE, 1, 0), -1, EINVAL);
    SHOW_RET("ambient_clear_extra_arg", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0),
             -1, EINVAL);
    SHOW_RET("ambient_bad_op", PRCTL(PR_CAP_AMBIENT, 99, 0, 0, 0), -1, EINVAL);
    SHOW_RET("ambient_lower", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_BIND_SERVICE,
                                    0, 0), 0, 0);
    SHOW_RET("ambient_is_set_after_lower", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET,
                                                 CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
    SHOW_RET("ambient_lower_unset", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0),
             0, 0);
    SHOW_RET("ambient_raise_again", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                          CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
    SHOW_RET("ambient_clear_all", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), 0, 0);
    show_amb("ambient_after_clear_all", 0);
    /* Ambient follows inheritable and permitted: a capability dropped from either leaves it. */
    SHOW_RET("ambient_raise_third", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                          CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
    SHOW_RET("capset_inh_empty", capset3(0, PODMAN, PODMAN, 0), 0, 0);
    show_amb("ambient_after_inh_drop", 0);
    SHOW_RET("capset_inh_nbs_again", capset3(0, PODMAN, PODMAN, NBS), 0, 0);
    SHOW_RET("ambient_raise_fourth", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                           CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
    SHOW_RET("capset_prm_drop_nbs", capset3(0, PODMAN & ~NBS, PODMAN & ~NBS, NBS), 0, 0);
    show_amb("ambient_after_prm_drop", 0);
}

/* setresuid from root to all non-zero: permitted, effective and ambient are cleared
 * (inheritable and bounding stay). */
static void caps_setresuid(void) {
    SHOW_RET("capset_inh_nbs", capset3(0, PODMAN, PODMAN, NBS), 0, 0);
    SHOW_RET("ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE,
                                    0, 0), 0, 0);
    SHOW_RET("setresuid_1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    show_caps("setresuid_1000", 0, 0, NBS);
    show_amb("setresuid_1000_amb", 0);
    show("setresuid_1000_bnd", hex(bounding_mask()), hex(PODMAN));
    show_status("setresuid_1000_status_prm", "CapPrm", "0000000000000000");
    show_status("setresuid_1000_status_eff", "CapEff", "0000000000000000");
    show_status("setresuid_1000_status_inh", "CapInh", "0000000000000400");
    show_status("setresuid_1000_status_amb", "CapAmb", "0000000000000000");
    show_status("setresuid_1000_status_bnd", "CapBnd", "00000000800405fb");
    SHOW_RET("setresuid_1000_capset_raise", capset3(0, NBS, NBS, NBS), -1, EPERM);
}

/* With keepcaps, permitted stays (ambient does not), effective is cleared; capset may raise
 * effective again, and an euid of 0 then makes effective = permitted. */
static void caps_keepcaps(void) {
    SHOW_RET("get_keepcaps_default", PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0, 0);
    SHOW_RET("set_keepcaps_bad", PRCTL(PR_SET_KEEPCAPS, 2, 0, 0, 0), -1, EINVAL);
    SHOW_RET("set_keepcaps", PRCTL(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, 0);
    SHOW_RET("get_keepcaps", PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1, 0);
    show_status("keepcaps_status_uid", "Uid", "0 0 0 0");
    SHOW_RET("capset_inh_nbs", capset3(0, PODMAN, PODMAN, NBS), 0, 0);
    SHOW_RET("ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE,
                                    0, 0), 0, 0);
    SHOW_RET("keepcaps_setresuid_1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    show_caps("keepcaps_setresuid_1000", 0, PODMAN, NBS);
    show_amb("keepcaps_setresuid_1000_amb", 0);
    SHOW_RET("keepcaps_after_setresuid", PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1, 0);
    SHOW_RET("keepcaps_setuid_0_no_eff", syscall(SYS_setuid, 0), -1, EPERM);
    SHOW_RET("keepcaps_capset_raise", capset3(0, C(CAP_SETUID), PODMAN, NBS), 0, 0);
    show_caps("keepcaps_capset_raise", C(CAP_SETUID), PODMAN, NBS);
    SHOW_RET("keepcaps_ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                             CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
    show_amb("keepcaps_ambient_raise_amb", NBS);
    SHOW_RET("keepcaps_setresuid_0", syscall(SYS_setresuid, 0, 0, 0), 0, 0);
    show("keepcaps_setresuid_0_resuid", resuid(), "0 0 0");
    show_caps("keepcaps_setresuid_0", PODMAN, PODMAN, NBS);
    show_amb("keepcaps_setresuid_0_amb", NBS);
    SHOW_RET("clear_keepcaps", PRCTL(PR_SET_KEEPCAPS, 0, 0, 0, 0), 0, 0);
    SHOW_RET("get_keepcaps_cleared", PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0, 0);
}

/* An euid away from 0 clears effective only (ambient stays: real and saved are 0); back to 0
 * effective becomes all of permitted. */
static void caps_seteuid(void) {
    uint64_t nk = PODMAN & ~C(CAP_KILL);
    SHOW_RET("capset_inh_nbs", capset3(0, nk, PODMAN, NBS), 0, 0);
    SHOW_RET("ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE,
                                    0, 0), 0, 0);
    SHOW_RET("seteuid_1000", seteuid(1000), 0, 0);
    show_caps("seteuid_1000", 0, PODMAN, NBS);
    show_amb("seteuid_1000_amb", NBS);
    show_status("seteuid_1000_status_eff", "CapEff", "0000000000000000");
    show_status("seteuid_1000_status_prm", "CapPrm", "00000000800405fb");
    SHOW_RET("seteuid_1000_capset_raise", capset3(0, C(CAP_CHOWN), PODMAN, NBS), 0, 0);
    show_caps("seteuid_1000_capset_raise", C(CAP_CHOWN), PODMAN, NBS);
    SHOW_RET("seteuid_0", seteuid(0), 0, 0);
    show_caps("seteuid_0", PODMAN, PODMAN, NBS);
    show_amb("seteuid_0_amb", NBS);
    /* An euid change between non-zero ids leaves effective alone. */
    SHOW_RET("seteuid_2000", seteuid(2000), 0, 0);
    SHOW_RET("seteuid_2000_capset_raise", capset3(0, C(CAP_SETUID), PODMAN, NBS), 0, 0);
    SHOW_RET("seteuid_3000", seteuid(3000), 0, 0);
    show_caps("seteuid_3000", C(CAP_SETUID), PODMAN, NBS);
    show("seteuid_3000_resuid", resuid(), "0 3000 0");
}

/* setfsuid away from 0 drops the file-system capabilities from effective; back to 0 raises
 * those of them that are permitted. */
static void caps_setfsuid(void) {
    uint64_t nc = PODMAN & ~C(CAP_CHOWN);
    SHOW_RET("setfsuid_1000", syscall(SYS_setfsuid, 1000), 0, 0);
    show_caps("setfsuid_1000", PODMAN & ~FS_CAPS, PODMAN, 0);
    show_status("setfsuid_1000_status_eff", "CapEff", "00000000800405e0");
    show("setfsuid_1000_resuid", resuid(), "0 0 0");
    SHOW_RET("setfsuid_0", syscall(SYS_setfsuid, 0), 1000, 0);
    show_caps("setfsuid_0", PODMAN, PODMAN, 0);
    SHOW_RET("capset_drop_chown_prm", capset3(0, nc & ~C(CAP_KILL), nc, 0), 0, 0);
    SHOW_RET("setfsuid_1000_again", syscall(SYS_setfsuid, 1000), 0, 0);
    show_caps("setfsuid_1000_again", nc & ~C(CAP_KILL) & ~FS_CAPS, nc, 0);
    SHOW_RET("setfsuid_0_again", syscall(SYS_setfsuid, 0), 1000, 0);
    /* Only the file-system ones come back; KILL stays out of effective. */
    show_caps("setfsuid_0_again", nc & ~C(CAP_KILL), nc, 0);
    /* An fsuid change between non-zero ids changes nothing. */
    SHOW_RET("setfsuid_1000_third", syscall(SYS_setfsuid, 1000), 0, 0);
    SHOW_RET("setfsuid_2000", syscall(SYS_setfsuid, 2000), 1000, 0);
    show_caps("setfsuid_2000", nc & ~C(CAP_KILL) & ~FS_CAPS, nc, 0);
}

static void caps_nnp(void) {
    SHOW_RET("get_no_new_privs_default", PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, 0);
    SHOW_RET("set_no_new_privs_bad", PRCTL(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), -1, EINVAL);
    SHOW_RET("set_no_new_privs", PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, 0);
    SHOW_RET("get_no_new_privs", PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, 0);
    SHOW_RET("get_no_new_privs_bad", PRCTL(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), -1, EINVAL);
    show_status("no_new_privs_status", "NoNewPrivs", "1");
    SHOW_RET("unset_no_new_privs", PRCTL(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), -1, EINVAL);
    SHOW_RET("get_no_new_privs_still", PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1, 0);
    /* A fork inherits it. */
    pid_t c = xfork();
    if (c == 0)
        _exit(PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
    if (c > 0)
        show("no_new_privs_fork", reap_ms(c, 2000, "no_new_privs_fork"), "exited 0");
}

static int t_caps(void) {
    show_caps("capget", PODMAN, PODMAN, 0);
    struct __user_cap_header_struct h = {0, 0};
    SHOW_RET("capget_probe", syscall(SYS_capget, &h, NULL), 0, 0);
    show("capget_probe_version", hex(h.version), hex(_LINUX_CAPABILITY_VERSION_3));
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    h.pid = 0;
    SHOW_RET("capget_v1", syscall(SYS_capget, &h, d), 0, 0);
    show("capget_v1_eff", hex(d[0].effective), hex(PODMAN));
    show("capget_v1_untouched", hex(d[1].effective), "0x0");
    h.version = _LINUX_CAPABILITY_VERSION_3;
    SHOW_RET("capget_v3_no_data", syscall(SYS_capget, &h, NULL), 0, 0);
    h.pid = getpid();
    SHOW_RET("capget_self_pid", syscall(SYS_capget, &h, d), 0, 0);
    show("capget_self_pid_eff", hex(d[0].effective), hex(PODMAN));
    h.pid = 0;
    SHOW_RET("capget_bad_pointer", syscall(SYS_capget, &h, (void *)1), -1, EFAULT);
    h.version = 0x12345678;
    SHOW_RET("capget_bad_version", syscall(SYS_capget, &h, d), -1, EINVAL);
    show("capget_bad_version_header", hex(h.version), hex(_LINUX_CAPABILITY_VERSION_3));
    SHOW_RET("capbset_read_kill", PRCTL(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0), 1, 0);
    SHOW_RET("capbset_read_sys_admin", PRCTL(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), 0, 0);
    SHOW_RET("capbset_read_invalid", PRCTL(PR_CAPBSET_READ, 64, 0, 0, 0), -1, EINVAL);
    show("bounding", hex(bounding_mask()), hex(PODMAN));
    show_amb("ambient", 0);
    SHOW_RET("get_keepcaps", PRCTL(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0, 0);
    SHOW_RET("get_securebits", PRCTL(PR_GET_SECUREBITS, 0, 0, 0, 0), 0, 0);
    SHOW_RET("get_no_new_privs", PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, 0);
    show_status("status_cap_inh", "CapInh", "0000000000000000");
    show_status("status_cap_prm", "CapPrm", "00000000800405fb");
    show_status("status_cap_eff", "CapEff", "00000000800405fb");
    show_status("status_cap_bnd", "CapBnd", "00000000800405fb");
    show_status("status_cap_amb", "CapAmb", "0000000000000000");
    show_status("status_no_new_privs", "NoNewPrivs", "0");
    in_child("child_capset", caps_capset);
    caps_other();
    in_child("child_bounding", caps_bounding);
    in_child("child_ambient", caps_ambient);
    in_child("child_setresuid", caps_setresuid);
    in_child("child_keepcaps", caps_keepcaps);
    in_child("child_seteuid", caps_seteuid);
    in_child("child_setfsuid", caps_setfsuid);
    in_child("child_no_new_privs", caps_nnp);
    show_caps("parent", PODMAN, PODMAN, 0);
    show("parent_bounding", hex(bounding_mask()), hex(PODMAN));
    show_amb("parent_ambient", 0);
    SHOW_RET("parent_no_new_privs", PRCTL(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, 0);
    return 0;
}

/* ---------------------------------------------------------------- exec */

static void ex_root_dropped(void) {
    uint64_t nk = PODMAN & ~C(CAP_KILL);
    SHOW_RET("root_dropped_capset", capset3(0, nk & ~C(CAP_CHOWN), nk, 0), 0, 0);
    SHOW_RET("root_dropped_keepcaps", PRCTL(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, 0);
}

static void ex_root_bounding(void) {
    SHOW_RET("root_bounding_drop", PRCTL(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), 0, 0);
}

static void ex_root_inh(void) {
    SHOW_RET("root_inh_capset", capset3(0, PODMAN, PODMAN, C(CAP_KILL) | NBS), 0, 0);
    SHOW_RET("root_inh_bounding_drop", PRCTL(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0), 0, 0);
    SHOW_RET("root_inh_prm_drop", capset3(0, PODMAN & ~C(CAP_KILL), PODMAN & ~C(CAP_KILL),
                                          C(CAP_KILL) | NBS), 0, 0);
}

static void ex_root_nnp(void) {
    uint64_t nk = PODMAN & ~C(CAP_KILL);
    SHOW_RET("root_nnp_capset", capset3(0, nk, nk, 0), 0, 0);
    SHOW_RET("root_nnp_set", PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, 0);
}

static void ex_euid_1000(void) {
    SHOW_RET("euid_1000_setegid", setegid(2000), 0, 0);
    SHOW_RET("euid_1000_seteuid", seteuid(1000), 0, 0);
}

static void ex_uid_1000_inh(void) {
    SHOW_RET("uid_1000_keepcaps", PRCTL(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, 0);
    SHOW_RET("uid_1000_setresuid", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    SHOW_RET("uid_1000_capset_inh", capset3(0, 0, PODMAN, NBS), 0, 0);
}

static void ex_uid_1000_ambient(void) {
    ex_uid_1000_inh();
    SHOW_RET("uid_1000_ambient_raise", PRCTL(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                                             CAP_NET_BIND_SERVICE, 0, 0), 0, 0);
}

static void ex_uid_1000(void) {
    SHOW_RET("uid_1000_plain_setresuid", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
}

static void ex_mixed_ids(void) {
    SHOW_RET("mixed_setresgid", syscall(SYS_setresgid, 3000, 2000, 1000), 0, 0);
    SHOW_RET("mixed_setresuid", syscall(SYS_setresuid, 1000, 2000, 3000), 0, 0);
    SHOW_RET("mixed_setfsuid", syscall(SYS_setfsuid, 3000), 2000, 0);
}

static void ex_groups(void) {
    gid_t g[] = {7, 8, 9};
    SHOW_RET("groups_setgroups", syscall(SYS_setgroups, 3, g), 0, 0);
    SHOW_RET("groups_setresuid", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
}

#define ROOT_IDS "uid=0,0,0,0 gid=0,0,0,0 groups=10,20 "
#define U1000 "uid=1000,1000,1000,1000 gid=0,0,0,0 groups=10,20 "

/* A copy of this program owned by `uid`:`gid` with `mode` (set-id bits), for the set-id
 * execs; "0" or where it failed. */
#define SETID "/tmp/creds-setid"
static const char *setid_copy(uid_t uid, gid_t gid, mode_t mode) {
    int in = open("/bin/creds", O_RDONLY | O_CLOEXEC);
    int out = open(SETID, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (in < 0 || out < 0)
        return "open";
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return "write";
    close(in);
    close(out);
    /* chown first: it clears set-id bits. */
    if (chown(SETID, uid, gid) < 0)
        return "chown";
    if (chmod(SETID, mode) < 0)
        return "chmod";
    return "0";
}

static void ex_to_1000(void) {
    SHOW_RET("setid_setresuid", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
}

static void ex_to_1000_nnp(void) {
    ex_to_1000();
    SHOW_RET("setid_nnp_set", PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, 0);
}

/* Set-user-ID and set-group-ID files as Linux applies them: the owner becomes the effective
 * (and saved) id, a root owner brings root's capabilities, set-group-ID needs group execute,
 * and no_new_privs turns both off; a set-id exec is AT_SECURE. */
static void exec_setid(void) {
    show("setid_copy_suid_sgid", setid_copy(2000, 3000, 06755), "0");
    exec_state_of("exec_setuid_setgid", SETID, ex_to_1000,
                  "uid=1000,2000,2000,2000 gid=0,3000,3000,3000 groups=10,20 eff=0x0 prm=0x0 "
                  "inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 secure=1");
    exec_state_of("exec_setid_no_new_privs", SETID, ex_to_1000_nnp,
                  U1000 "eff=0x0 prm=0x0 inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=1 "
                        "secure=0");
    show("setid_copy_suid_root", setid_copy(0, 3000, 04755), "0");
    exec_state_of("exec_setuid_root", SETID, ex_to_1000,
                  "uid=1000,0,0,0 gid=0,0,0,0 groups=10,20 eff=0x800405fb prm=0x800405fb "
                  "inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 secure=1");
    /* Set-group-ID without group execute marks mandatory locking, not a set-id program. */
    show("setid_copy_sgid_noexec", setid_copy(2000, 3000, 02745), "0");
    exec_state_of("exec_setgid_no_group_exec", SETID, ex_to_1000,
                  U1000 "eff=0x0 prm=0x0 inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 "
                        "secure=0");
    unlink(SETID);
}


static int t_exec(void) {
    /* Root gets all of the bounding set (| inheritable), permitted and effective. */
    exec_state("exec_root", NULL,
               ROOT_IDS "eff=0x800405fb prm=0x800405fb inh=0x0 amb=0x0 bnd=0x800405fb "
                        "keepcaps=0 nnp=0 secure=0");
    exec_state("exec_root_dropped", ex_root_dropped,
               ROOT_IDS "eff=0x800405fb prm=0x800405fb inh=0x0 amb=0x0 bnd=0x800405fb "
                        "keepcaps=0 nnp=0 secure=0");
    exec_state("exec_root_bounding_dropped", ex_root_bounding,
               ROOT_IDS "eff=0x800405db prm=0x800405db inh=0x0 amb=0x0 bnd=0x800405db "
                        "keepcaps=0 nnp=0 secure=0");
    exec_state("exec_root_inheritable", ex_root_inh,
               ROOT_IDS "eff=0x800405fb prm=0x800405fb inh=0x420 amb=0x0 bnd=0x800405db "
                        "keepcaps=0 nnp=0 secure=0");
    /* With no_new_privs no capability comes back that was not permitted. */
    exec_state("exec_root_no_new_privs", ex_root_nnp,
               ROOT_IDS "eff=0x800405db prm=0x800405db inh=0x0 amb=0x0 bnd=0x800405fb "
                        "keepcaps=0 nnp=1 secure=0");
    /* Real uid 0: permitted as root's, effective only for an euid of 0; saved := effective.
     * An effective id other than the real one makes the exec AT_SECURE. */
    exec_state("exec_euid_1000", ex_euid_1000,
               "uid=0,1000,1000,1000 gid=0,2000,2000,2000 groups=10,20 eff=0x0 prm=0x800405fb "
               "inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 secure=1");
    exec_state("exec_uid_1000_ambient", ex_uid_1000_ambient,
               U1000 "eff=0x400 prm=0x400 inh=0x400 amb=0x400 bnd=0x800405fb keepcaps=0 nnp=0 "
                     "secure=0");
    exec_state("exec_uid_1000_inheritable_only", ex_uid_1000_inh,
               U1000 "eff=0x0 prm=0x0 inh=0x400 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 "
                     "secure=0");
    exec_state("exec_uid_1000", ex_uid_1000,
               U1000 "eff=0x0 prm=0x0 inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 "
                     "secure=0");
    exec_state("exec_mixed_ids", ex_mixed_ids,
               "uid=1000,2000,2000,2000 gid=3000,2000,2000,2000 groups=10,20 eff=0x0 prm=0x0 "
               "inh=0x0 amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 secure=1");
    exec_state("exec_groups", ex_groups,
               "uid=1000,1000,1000,1000 gid=0,0,0,0 groups=7,8,9 eff=0x0 prm=0x0 inh=0x0 "
               "amb=0x0 bnd=0x800405fb keepcaps=0 nnp=0 secure=0");
    exec_setid();
    return 0;
}

/* ---------------------------------------------------------------- perms */

#define PT "/tmp/creds-perms"

static void put_file(const char *path, const char *text, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        fail("put_file", errname(errno));
    if (fd >= 0)
        close(fd);
    chmod(path, mode);
}

/* open(path, flags) as "0" or the errno's name. */
static const char *try_open(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errname(errno);
    close(fd);
    return "0";
}

static const char *result(int r) { return r == 0 ? "0" : errname(errno); }

/* Runs `path` (no arguments) in a child: "0" when execve succeeded, else its errno's name. */
static const char *try_exec(const char *path) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return "pipe";
    pid_t c = xfork();
    if (c == 0) {
        char *argv[] = {(char *)path, NULL};
        execve(path, argv, environ);
        int e = errno;
        if (write(p[1], &e, sizeof e) < 0)
            _exit(2);
        _exit(1);
    }
    close(p[1]);
    int e = 0;
    ssize_t n = read(p[0], &e, sizeof e);
    close(p[0]);
    reap_ms(c, 3000, "exec child");
    return n == (ssize_t)sizeof e ? errname(e) : "0";
}

static void as_user(void) {
    gid_t none[1] = {0};
    if (setgroups(0, none) != 0 || setresgid(1000, 1000, 1000) != 0 ||
        setresuid(1000, 1000, 1000) != 0) {
        fail("become_1000", errname(errno));
        return;
    }
    show("user_read_root_0600", try_open(PT "/root-secret", O_RDONLY), "EACCES");
    show("user_read_0644", try_open(PT "/pub", O_RDONLY), "0");
    show("user_write_0644", try_open(PT "/pub", O_WRONLY), "EACCES");
    show("user_read_own_0600", try_open(PT "/user-file", O_RDONLY), "0");
    show("user_search_0700_dir", try_open(PT "/private/f", O_RDONLY), "EACCES");
    show("user_create_in_0755_dir", try_open(PT "/new", O_WRONLY | O_CREAT), "EACCES");
    show("user_create_excl_existing", try_open(PT "/root-secret", O_WRONLY | O_CREAT | O_EXCL),
         "EEXIST");
    show("user_mkdir_in_0755_dir", result(mkdir(PT "/newdir", 0755)), "EACCES");
    show("user_create_in_sticky", try_open(PT "/sticky/mine", O_WRONLY | O_CREAT), "0");
    struct stat st;
    stat(PT "/sticky/mine", &st);
    show_int("user_new_file_owner", st.st_uid, 1000);
    show_int("user_new_file_group", st.st_gid, 1000);
    show("user_unlink_own_in_sticky", result(unlink(PT "/sticky/mine")), "0");
    show("user_unlink_roots_in_sticky", result(unlink(PT "/sticky/roots")), "EPERM");
    show("user_unlink_in_0755_dir", result(unlink(PT "/pub")), "EACCES");
    show("user_chmod_roots", result(chmod(PT "/pub", 0666)), "EPERM");
    show("user_chmod_own", result(chmod(PT "/user-file", 0640)), "0");
    show("user_chown_own_to_root", result(chown(PT "/user-file", 0, 0)), "EPERM");
    show("user_times_now_roots", result(utimensat(AT_FDCWD, PT "/pub", NULL, 0)), "EACCES");
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    show("user_times_set_roots", result(utimensat(AT_FDCWD, PT "/pub", ts, 0)), "EPERM");
    show("user_access_read_root_0600", result(access(PT "/root-secret", R_OK)), "EACCES");
    show("user_access_read_0644", result(access(PT "/pub", R_OK)), "0");
    show("user_access_write_0644", result(access(PT "/pub", W_OK)), "EACCES");
    show("user_chdir_0700_dir", result(chdir(PT "/private")), "EACCES");
    show("user_exec_0644", try_exec(PT "/script"), "EACCES");
    /* A directory searched, then closed by its owner: the next lookup through it is refused
     * (the sentry keeps the directories it looked up: a change must show at once). */
    show("user_mkdir_own", result(mkdir(PT "/sticky/own", 0755)), "0");
    put_file(PT "/sticky/own/f", "mine\n", 0644);
    show("user_search_own_dir", try_open(PT "/sticky/own/f", O_RDONLY), "0");
    show("user_close_own_dir", result(chmod(PT "/sticky/own", 0600)), "0");
    show("user_search_closed_dir", try_open(PT "/sticky/own/f", O_RDONLY), "EACCES");
    show("user_stat_closed_dir", result(stat(PT "/sticky/own/f", &st)), "EACCES");
    char link[8];
    show("user_readlink_closed_dir",
         readlink(PT "/sticky/own/f", link, sizeof link) < 0 ? errname(errno) : "0", "EACCES");
    show("user_open_own_dir", result(chmod(PT "/sticky/own", 0755)), "0");
    show("user_search_opened_dir", try_open(PT "/sticky/own/f", O_RDONLY), "0");
    /* The same name, now a closed directory of another name renamed over it. */
    show("user_mkdir_open", result(mkdir(PT "/sticky/gone", 0755)), "0");
    show("user_search_open", try_open(PT "/sticky/gone/x", O_RDONLY), "ENOENT");
    show("user_mkdir_closed", result(mkdir(PT "/sticky/shut", 0200)), "0");
    show("user_rename_over", result(rename(PT "/sticky/shut", PT "/sticky/gone")), "0");
    show("user_search_renamed", try_open(PT "/sticky/gone/x", O_RDONLY), "EACCES");
}

static int t_perms(void) {
    if (system("rm -rf " PT) != 0)
        fail("cleanup", "rm -rf failed");
    if (mkdir(PT, 0755) != 0 || mkdir(PT "/private", 0700) != 0 ||
        mkdir(PT "/sticky", 01777) != 0) {
        fail("setup", errname(errno));
        return 0;
    }
    chmod(PT "/sticky", 01777);
    put_file(PT "/root-secret", "secret\n", 0600);
    put_file(PT "/pub", "public\n", 0644);
    put_file(PT "/private/f", "hidden\n", 0644);
    put_file(PT "/sticky/roots", "root's\n", 0644);
    put_file(PT "/script", "#!/bin/sh\necho ran\n", 0644);
    put_file(PT "/user-file", "user's\n", 0600);
    show("chown_to_1000", result(chown(PT "/user-file", 1000, 1000)), "0");
    show("root_reads_users_0600", try_open(PT "/user-file", O_RDONLY), "0");
    show("root_writes_users_0600", try_open(PT "/user-file", O_WRONLY), "0");
    show("root_exec_0644", try_exec(PT "/script"), "EACCES");
    show("root_access_exec_0644", result(access(PT "/script", X_OK)), "EACCES");
    in_child("child_as_user", as_user);
    if (system("rm -rf " PT) != 0)
        fail("cleanup", "rm -rf failed");
    return 0;
}

/* ---------------------------------------------------------------- xattr */

#define XF "/tmp/creds-xattr"
#define XL "/tmp/creds-xattr-link"

/* uid 1000 without capabilities: reads a 0644 file's user attributes, may not set them. */
static void xattr_other_user(void) {
    char v[16];
    SHOW_RET("xattr_1000_setresuid", syscall(SYS_setresuid, 1000, 1000, 1000), 0, 0);
    SHOW_RET("xattr_1000_get", getxattr(XF, "user.a", v, sizeof v), 5, 0);
    SHOW_RET("xattr_1000_set", setxattr(XF, "user.a", "x", 1, 0), -1, EACCES);
    SHOW_RET("xattr_1000_remove", removexattr(XF, "user.a"), -1, EACCES);
    SHOW_RET("xattr_1000_trusted", getxattr(XF, "trusted.a", v, sizeof v), -1, ENODATA);
    /* Without CAP_DAC_OVERRIDE a 0444 /proc file is not writable: EACCES before anything. */
    SHOW_RET("xattr_1000_proc_set", setxattr("/proc/self/status", "user.a", "x", 1, 0), -1,
             EACCES);
}

static int t_xattr(void) {
    char v[64], list[256];
    unlink(XF);
    unlink(XL);
    int fd = open(XF, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    SHOW_RET("xattr_set", setxattr(XF, "user.a", "hello", 5, 0), 0, 0);
    SHOW_RET("xattr_set_create_exists", setxattr(XF, "user.a", "x", 1, XATTR_CREATE), -1,
             EEXIST);
    SHOW_RET("xattr_set_replace_missing", setxattr(XF, "user.b", "x", 1, XATTR_REPLACE), -1,
             ENODATA);
    SHOW_RET("xattr_fset", fsetxattr(fd, "user.b", "bee", 3, 0), 0, 0);
    SHOW_RET("xattr_get", getxattr(XF, "user.a", v, sizeof v), 5, 0);
    show("xattr_get_value", memcmp(v, "hello", 5) ? "differs" : "hello", "hello");
    SHOW_RET("xattr_get_size", getxattr(XF, "user.a", NULL, 0), 5, 0);
    SHOW_RET("xattr_get_short", getxattr(XF, "user.a", v, 2), -1, ERANGE);
    SHOW_RET("xattr_get_missing", getxattr(XF, "user.none", v, sizeof v), -1, ENODATA);
    SHOW_RET("xattr_fget", fgetxattr(fd, "user.b", v, sizeof v), 3, 0);
    ssize_t n = listxattr(XF, list, sizeof list);
    show_int("xattr_list", n, 14);
    show("xattr_list_names", n == 14 && !memcmp(list, "user.a\0user.b\0", 14) ? "a,b"
                             : n == 14 && !memcmp(list, "user.b\0user.a\0", 14) ? "a,b"
                                                                                   : "other",
         "a,b");
    SHOW_RET("xattr_list_size", listxattr(XF, NULL, 0), 14, 0);
    SHOW_RET("xattr_list_short", listxattr(XF, list, 3), -1, ERANGE);
    /* A symlink: followed by getxattr, not by lgetxattr; no user attributes on links. */
    SHOW_RET("xattr_symlink", symlink(XF, XL), 0, 0);
    SHOW_RET("xattr_get_through_link", getxattr(XL, "user.a", v, sizeof v), 5, 0);
    SHOW_RET("xattr_lget_link", lgetxattr(XL, "user.a", v, sizeof v), -1, ENODATA);
    SHOW_RET("xattr_lset_link", lsetxattr(XL, "user.a", "x", 1, 0), -1, EPERM);
    SHOW_RET("xattr_remove", removexattr(XF, "user.b"), 0, 0);
    SHOW_RET("xattr_fremove_gone", fremovexattr(fd, "user.b"), -1, ENODATA);
    SHOW_RET("xattr_list_after", listxattr(XF, list, sizeof list), 7, 0);
    /* Names and values out of bounds, unknown namespaces and flags. */
    SHOW_RET("xattr_trusted_set", setxattr(XF, "trusted.a", "x", 1, 0), -1, EPERM);
    SHOW_RET("xattr_unknown_ns", setxattr(XF, "bogus.a", "x", 1, 0), -1, EOPNOTSUPP);
    SHOW_RET("xattr_empty_name", setxattr(XF, "", "x", 1, 0), -1, ERANGE);
    SHOW_RET("xattr_bad_flags", setxattr(XF, "user.a", "x", 1, 99), -1, EINVAL);
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "user.", 5);
    SHOW_RET("xattr_long_name", setxattr(XF, big, "x", 1, 0), -1, ERANGE);
    static char huge[70000];
    SHOW_RET("xattr_value_too_big", setxattr(XF, "user.big", huge, sizeof huge, 0), -1, E2BIG);
    SHOW_RET("xattr_bad_capability", setxattr(XF, "security.capability", "x", 1, 0), -1,
             EINVAL);
    SHOW_RET("xattr_missing_file", setxattr("/tmp/creds-none", "user.a", "x", 1, 0), -1,
             ENOENT);
    SHOW_RET("xattr_bad_pointer", getxattr(XF, (char *)8, v, sizeof v), -1, EFAULT);
    /* The kernel's own files: /proc, a pipe, an O_PATH descriptor. */
    SHOW_RET("xattr_proc_get", getxattr("/proc/self/status", "user.a", v, sizeof v), -1,
             EOPNOTSUPP);
    /* Root's CAP_DAC_OVERRIDE passes the write check; procfs has no attributes to set. */
    SHOW_RET("xattr_proc_set", setxattr("/proc/self/status", "user.a", "x", 1, 0), -1,
             EOPNOTSUPP);
    SHOW_RET("xattr_proc_list", listxattr("/proc/self/status", list, sizeof list), 0, 0);
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
        SHOW_RET("xattr_pipe_get", fgetxattr(p[0], "user.a", v, sizeof v), -1, ENODATA);
        SHOW_RET("xattr_pipe_set", fsetxattr(p[0], "user.a", "x", 1, 0), -1, EPERM);
        close(p[0]);
        close(p[1]);
    }
    int op = open(XF, O_PATH | O_CLOEXEC);
    SHOW_RET("xattr_opath_fget", fgetxattr(op, "user.a", v, sizeof v), -1, EBADF);
    close(op);
    close(fd);
    in_child("xattr_other_user", xattr_other_user);
    unlink(XL);
    unlink(XF);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: creds ids|groups|caps|perms|exec|xattr\n");
        return 2;
    }
    if (!strcmp(argv[1], "state"))
        return state();
    static const struct area areas[] = {
        {"ids", t_ids},     {"groups", t_groups}, {"caps", t_caps},
        {"perms", t_perms}, {"exec", t_exec},   {"xattr", t_xattr},
    };
    return run_area("creds", argv[1], areas, sizeof areas / sizeof *areas, NULL);
}
