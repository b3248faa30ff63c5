//! The sentry's cage, built before it runs any application code: new user, pid, mount,
//! network, ipc and uts namespaces, an empty root, only the file capabilities it acts with for
//! the application (KEPT_CAPS, in its own user namespace), no_new_privs, and a seccomp
//! allowlist of the host calls it needs. The stubs it forks inherit all of it.

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use std::io;

/// One allowed host call, with an optional argument condition (arg index, op, value).
struct Rule {
    nr: i64,
    /// All must hold: (arg index, op, value).
    conds: Vec<(u32, ScmpCompareOp, u64)>,
    why: &'static str,
}

fn any(nr: i64, why: &'static str) -> Rule {
    Rule {
        nr,
        conds: Vec::new(),
        why,
    }
}

fn arg(nr: i64, i: u32, op: ScmpCompareOp, v: u64, why: &'static str) -> Rule {
    Rule {
        nr,
        conds: vec![(i, op, v)],
        why,
    }
}

const NO_EXEC: ScmpCompareOp = ScmpCompareOp::MaskedEqual(libc::PROT_EXEC as u64);

/// The reviewed allowlist: every host call the sentry (and its stubs) may make, and why.
/// Anything else kills the sentry. `bulkhead features` reports its size.
fn allowlist(mem_fd: i32, entry_fd: i32) -> Vec<Rule> {
    use libc::*;
    use ScmpCompareOp::Equal;
    vec![
        // files of the rootfs, through fds opened beneath the root
        any(SYS_openat2, "open beneath the rootfs fd (RESOLVE_IN_ROOT)"),
        any(SYS_read, "read files and stdio"),
        any(SYS_write, "write files, stdio and the log"),
        any(SYS_writev, "std's buffered writes"),
        any(SYS_pread64, "file reads at an offset, the loader"),
        any(SYS_pwrite64, "file writes at an offset"),
        any(SYS_lseek, "file offsets"),
        any(SYS_close, "close fds"),
        any(
            SYS_close_range,
            "a new stub closes every fd but the memory file",
        ),
        any(SYS_fstat, "stat of open files"),
        any(SYS_newfstatat, "glibc's fstat"),
        any(SYS_statx, "std's metadata"),
        any(SYS_getdents64, "directory listings"),
        any(
            SYS_poll,
            "the kernel's loop: SIGCHLD signalfd, deadlines, the container's stdio",
        ),
        any(
            SYS_restart_syscall,
            "the host resumes a poll with a timeout that a freeze (pause/resume) or a stop \
             interrupted",
        ),
        any(SYS_readlinkat, "symlink targets"),
        any(SYS_mkdirat, "mkdir"),
        arg(
            SYS_mknodat,
            2,
            ScmpCompareOp::MaskedEqual(S_IFMT as u64),
            S_IFIFO as u64,
            "mkfifo: FIFOs only, never device nodes",
        ),
        arg(
            SYS_mknodat,
            2,
            ScmpCompareOp::MaskedEqual(S_IFMT as u64),
            S_IFSOCK as u64,
            "the inode of a unix socket bound to a path (the socket itself is the sentry's)",
        ),
        any(SYS_unlinkat, "unlink, rmdir"),
        any(SYS_renameat, "rename"),
        any(SYS_renameat2, "rename"),
        any(SYS_symlinkat, "symlink"),
        arg(
            SYS_linkat,
            4,
            Equal,
            0,
            "hard links, never following a symlink",
        ),
        arg(
            SYS_memfd_create,
            1,
            Equal,
            libc::MFD_CLOEXEC as u64,
            "the application's memfd_create: an anonymous host file, close-on-exec",
        ),
        arg(
            SYS_fchmodat2,
            3,
            Equal,
            AT_EMPTY_PATH as u64,
            "chmod of a file by its O_PATH fd",
        ),
        arg(
            SYS_fchownat,
            4,
            Equal,
            AT_EMPTY_PATH as u64,
            "chown of a file by its O_PATH fd",
        ),
        arg(
            SYS_utimensat,
            3,
            Equal,
            AT_EMPTY_PATH as u64,
            "file times by an O_PATH fd",
        ),
        any(SYS_fstatfs, "statfs of the rootfs's file systems, by fd"),
        // extended attributes: by a directory fd and a name in it, or an open fd
        // (AT_EMPTY_PATH), never a path the host resolves from its root
        any(
            crate::host::SYS_GETXATTRAT,
            "read a rootfs file's extended attribute",
        ),
        any(
            crate::host::SYS_SETXATTRAT,
            "set a rootfs file's extended attribute",
        ),
        any(
            crate::host::SYS_LISTXATTRAT,
            "list a rootfs file's extended attributes",
        ),
        any(
            crate::host::SYS_REMOVEXATTRAT,
            "remove a rootfs file's extended attribute",
        ),
        arg(
            SYS_flock,
            1,
            ScmpCompareOp::MaskedEqual(LOCK_NB as u64),
            LOCK_NB as u64,
            "flock between the sandbox's processes, never waiting in the host",
        ),
        any(SYS_ftruncate, "truncate open files"),
        any(SYS_fsync, "fsync"),
        any(SYS_fdatasync, "fdatasync"),
        arg(SYS_fcntl, 1, Equal, F_GETFD as u64, "fd flags"),
        arg(SYS_fcntl, 1, Equal, F_SETFD as u64, "fd flags"),
        arg(
            SYS_fcntl,
            1,
            Equal,
            F_GETFL as u64,
            "whether a stdio stream of an exec waits (stdio.rs)",
        ),
        arg(SYS_ioctl, 1, Equal, TCGETS, "terminal attributes of stdio"),
        arg(SYS_ioctl, 1, Equal, TCSETS, "terminal attributes of stdio"),
        arg(SYS_ioctl, 1, Equal, TCSETSW, "terminal attributes of stdio"),
        arg(SYS_ioctl, 1, Equal, TCSETSF, "terminal attributes of stdio"),
        arg(SYS_ioctl, 1, Equal, TIOCGWINSZ, "terminal size of stdio"),
        arg(SYS_ioctl, 1, Equal, TIOCSWINSZ, "terminal size of stdio"),
        // memory: the sentry's own heap and the stubs' mappings of the memory file; never exec
        arg(SYS_mmap, 2, NO_EXEC, 0, "memory, never executable"),
        Rule {
            nr: SYS_mmap,
            conds: vec![
                (3, Equal, (MAP_SHARED | MAP_FIXED) as u64),
                (4, Equal, mem_fd as u64),
            ],
            why: "a stub maps the memory file, executable where the application's code is",
        },
        arg(
            SYS_mprotect,
            2,
            NO_EXEC,
            0,
            "memory protection, never executable",
        ),
        any(SYS_munmap, "unmap"),
        any(SYS_mremap, "std's realloc of large buffers"),
        any(SYS_madvise, "return memory to the host"),
        any(SYS_brk, "the sentry's heap"),
        arg(
            SYS_fallocate,
            1,
            Equal,
            (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) as u64,
            "free memory-file pages",
        ),
        // the platform: stubs and their tracing
        arg(
            SYS_clone,
            0,
            Equal,
            SIGCHLD as u64,
            "fork a stub (plain fork only)",
        ),
        arg(
            SYS_clone,
            0,
            Equal,
            crate::platform::ptrace::THREAD_FLAGS,
            "a stub's host thread for an application thread (made by the stub itself)",
        ),
        any(SYS_ptrace, "run and inspect stubs (the ptrace platform)"),
        arg(
            SYS_seccomp,
            0,
            Equal,
            SECCOMP_SET_MODE_FILTER as u64,
            "a systrap stub installs its own filter on top of this one",
        ),
        arg(
            SYS_arch_prctl,
            0,
            Equal,
            crate::platform::systrap::layout::ARCH_SET_FS,
            "a systrap stub sets the application's thread pointer",
        ),
        arg(
            SYS_arch_prctl,
            0,
            Equal,
            crate::platform::systrap::layout::ARCH_SET_GS,
            "a systrap stub sets the application's gs base",
        ),
        any(SYS_wait4, "wait for the stubs' stops and exits"),
        any(
            SYS_kill,
            "stop and kill stubs, stop a running one (SIGURG) for a signal",
        ),
        any(SYS_tgkill, "abort"),
        arg(
            SYS_prctl,
            0,
            Equal,
            PR_SET_PDEATHSIG as u64,
            "a stub dies with the sentry",
        ),
        arg(
            SYS_prctl,
            0,
            Equal,
            PR_SET_NO_NEW_PRIVS as u64,
            "a systrap stub may install its filter (set already when confined)",
        ),
        arg(
            SYS_rseq,
            2,
            Equal,
            1,
            "a stub unregisters glibc's rseq area",
        ),
        any(SYS_getpid, "a stub stops itself"),
        any(SYS_setsid, "a stub leaves the terminal's session"),
        any(SYS_gettid, "std"),
        // signals, time, randomness, threads of the runtime library
        any(SYS_rt_sigaction, "std's signal set-up"),
        any(SYS_rt_sigprocmask, "signal masks"),
        any(SYS_rt_sigreturn, "return from a signal handler"),
        any(SYS_sigaltstack, "std's stack-overflow handler"),
        any(SYS_futex, "std's locks"),
        any(SYS_sched_yield, "yield"),
        any(SYS_clock_gettime, "clocks for the application"),
        any(SYS_getrandom, "randomness for the application"),
        any(SYS_exit, "exit"),
        any(SYS_exit_group, "exit"),
        // `bulkhead exec` (kernel/entry.rs)
        arg(
            SYS_accept4,
            0,
            Equal,
            entry_fd as u64,
            "take exec requests on the entry socket the runtime made (that fd only)",
        ),
        arg(
            SYS_recvmsg,
            2,
            Equal,
            MSG_CMSG_CLOEXEC as u64,
            "read an exec request and the stdio fds that come with it",
        ),
    ]
}

/// The number of host system calls in the allowlist (distinct calls, not rules).
pub fn allowlist_size() -> usize {
    let mut nrs: Vec<i64> = allowlist(-1, -1).iter().map(|r| r.nr).collect();
    nrs.sort_unstable();
    nrs.dedup();
    nrs.len()
}

/// The allowlist as "name: why" lines, for docs and `features`.
pub fn allowlist_doc() -> Vec<(i64, &'static str)> {
    allowlist(-1, -1).iter().map(|r| (r.nr, r.why)).collect()
}

/// The first child after unsharing the pid namespace is that namespace's init, and when an
/// init ends Linux kills every other process in its namespace. Were that a stub, the end (or
/// execve) of the application's first process would kill the stubs of all the others, and
/// the dying stub could not be reaped before them (a deadlock). So the first child is a
/// keeper that does nothing: no descriptors, its own session, pausing until the sentry ends
/// (its parent-death signal), which then takes every stub with it.
fn spawn_pid_ns_keeper() -> Result<(), String> {
    use bulkhead_linux::process::{self as sys, Forked};
    match sys::clone_fork(0, None)
        .map_err(|e| format!("sentry: start the pid namespace's init: {e}"))?
    {
        Forked::Child => {
            let _ = sys::set_parent_death_signal(libc::SIGKILL);
            let _ = sys::close_from(0);
            let _ = sys::setsid();
            sys::pause_forever()
        }
        Forked::Parent(_) => Ok(()),
    }
}

fn cvt(r: i64) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Builds the cage around the calling process, which is already in a user namespace of its
/// own (the runtime gives the sandbox's init one). After this it can touch no host file but
/// through fds it holds, and make no host call outside the allowlist. `mem_fd` is the memory
/// file: the only file a stub may map executable. Returns the fd of the rootfs, opened inside
/// the sentry's own mount namespace so the mounts on it (volumes, /etc/hosts) stay visible
/// through it after the empty root replaces it.
pub fn confine(mem_fd: i32, entry_fd: Option<i32>) -> Result<std::os::fd::OwnedFd, String> {
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    bulkhead_linux::ns::unshare(flags).map_err(|e| format!("sentry: unshare namespaces: {e}"))?;
    spawn_pid_ns_keeper()?;
    let root = bulkhead_linux::fd::openat(
        None,
        std::path::Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .map_err(|e| format!("sentry: open the rootfs: {e}"))?;
    empty_root()?;
    // A closed stdout must give the application EPIPE (and its SIGPIPE), not end the sentry.
    // SAFETY: SIG_IGN is always a valid disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    drop_capabilities(KEPT_CAPS)?;
    bulkhead_linux::process::set_no_new_privs()
        .map_err(|e| format!("sentry: no_new_privs: {e}"))?;
    load_seccomp(mem_fd, entry_fd.unwrap_or(-1))?;
    Ok(root)
}

/// An empty, read-only tmpfs becomes the sentry's root: a detached mount that no path leads
/// to, so the rootfs needs no directory of its own for it (a scratch image with one binary
/// runs) and nothing of the rootfs is covered.
fn empty_root() -> Result<(), String> {
    use bulkhead_linux::{fd, mount};
    use std::path::Path;
    mount::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_PRIVATE | libc::MS_REC,
        None,
    )
    .map_err(|e| format!("sentry: make mounts private: {e}"))?;
    let empty =
        mount::empty_detached_tmpfs().map_err(|e| format!("sentry: mount empty root: {e}"))?;
    fd::fchdir(&empty).map_err(|e| format!("sentry: chdir to the empty root: {e}"))?;
    mount::chroot(Path::new(".")).map_err(|e| format!("sentry: chroot: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("sentry: chdir: {e}"))
}

/// What the sentry keeps, in its own user namespace, of the capabilities it had there: what it
/// needs to act on the rootfs for an application that has them (reading and writing any file,
/// changing owners, modes and times). The application's own rights are checked by the sentry
/// first (perm.rs). Bits: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
/// CAP_FSETID.
pub const KEPT_CAPS: u32 = 0x1f;

fn drop_capabilities(keep: u32) -> Result<(), String> {
    for cap in (0..=63).filter(|c| c >= &32 || keep & (1 << c) == 0) {
        // SAFETY: integer arguments only; EINVAL past the last capability is expected.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: integer arguments only.
    cvt(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } as i64)
    .map_err(|e| format!("sentry: clear ambient capabilities: {e}"))?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: keep,
            permitted: keep,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: header and data are the kernel's v3 capability structures, valid for the call.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) })
        .map_err(|e| format!("sentry: drop capabilities: {e}"))
}

extern "C" fn report_sigsys(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for SIGSYS; si_syscall sits at offset 24 (after
    // si_call_addr). Only async-signal-safe calls follow (write, _exit), and no allocation.
    unsafe {
        let nr = *((info as *const u8).add(24) as *const i32);
        let mut msg = *b"sentry: host call 0000 is outside the allowlist\n";
        let mut n = nr.clamp(0, 9999);
        for i in (18..22).rev() {
            msg[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(128 + libc::SIGSYS);
    }
}

/// A call outside the allowlist traps (SECCOMP_RET_TRAP), and the sentry's handler reports it
/// by number and exits 128+SIGSYS. A trap rather than a kill because the stubs inherit this
/// filter: under the systrap platform every application call must reach the stub's handler
/// (the strictest action of all filters wins, and KILL would beat the stub filter's TRAP).
fn default_action() -> ScmpAction {
    // SAFETY: installs a handler that only does async-signal-safe work.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = report_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
    }
    ScmpAction::Trap
}

fn load_seccomp(mem_fd: i32, entry_fd: i32) -> Result<(), String> {
    let e =
        |what: &str, err: libseccomp::error::SeccompError| format!("sentry: seccomp {what}: {err}");
    let mut f = ScmpFilterContext::new(default_action()).map_err(|x| e("init", x))?;
    // Calls of another ABI (int 0x80) trap too: in a stub they are the application's.
    f.set_act_badarch(ScmpAction::Trap)
        .map_err(|x| e("bad-arch action", x))?;
    // clone3 cannot be filtered by its flags (they are behind a pointer): make it unavailable,
    // so forks fall back to clone, whose flags are checked.
    f.add_rule(
        ScmpAction::Errno(libc::ENOSYS),
        ScmpSyscall::from(libc::SYS_clone3 as i32),
    )
    .map_err(|x| e("clone3", x))?;
    for r in allowlist(mem_fd, entry_fd) {
        let sc = ScmpSyscall::from(r.nr as i32);
        let conds: Vec<ScmpArgCompare> = r
            .conds
            .iter()
            .map(|(i, op, v)| ScmpArgCompare::new(*i, *op, *v))
            .collect();
        if conds.is_empty() {
            f.add_rule(ScmpAction::Allow, sc)
        } else {
            f.add_rule_conditional(ScmpAction::Allow, sc, &conds)
        }
        .map_err(|x| e(r.why, x))?;
    }
    f.load().map_err(|x| e("load", x))
}

/// The cage of a host process that stands for a process of the sandbox (a pod's container's
/// init once it joined the pod's sentry, an exec's proxy): it only reads and writes its
/// connection to the sentry, takes its own signals and ends as the process did. So it keeps
/// no capability, can gain none, and may make only these calls; any other fails with EPERM.
pub fn cage_proxy() -> Result<(), String> {
    use libc::*;
    drop_capabilities(0)?;
    bulkhead_linux::process::set_no_new_privs().map_err(|e| format!("proxy: no_new_privs: {e}"))?;
    let e =
        |what: &str, err: libseccomp::error::SeccompError| format!("proxy: seccomp {what}: {err}");
    let mut f = ScmpFilterContext::new(ScmpAction::Errno(EPERM)).map_err(|x| e("init", x))?;
    let calls = [
        SYS_read,
        SYS_write,
        SYS_writev,
        SYS_recvfrom,
        SYS_sendto,
        SYS_poll,
        SYS_ppoll,
        SYS_close,
        SYS_rt_sigprocmask,
        SYS_rt_sigaction,
        SYS_rt_sigreturn,
        SYS_sigaltstack,
        SYS_restart_syscall,
        SYS_getpid,
        SYS_gettid,
        SYS_tgkill,
        SYS_brk,
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_futex,
        SYS_clock_gettime,
        SYS_sched_yield,
        SYS_exit,
        SYS_exit_group,
    ];
    for nr in calls {
        f.add_rule(ScmpAction::Allow, ScmpSyscall::from(nr as i32))
            .map_err(|x| e("rule", x))?;
    }
    let no_exec = [ScmpArgCompare::new(2, NO_EXEC, 0)];
    f.add_rule_conditional(
        ScmpAction::Allow,
        ScmpSyscall::from(SYS_mmap as i32),
        &no_exec,
    )
    .map_err(|x| e("mmap", x))?;
    f.load().map_err(|x| e("load", x))
}

#[cfg(test)]
mod tests {
    #[test]
    fn allowlist_is_small() {
        let n = super::allowlist_size();
        assert!(n < 80, "the sentry's host allowlist grew to {n} calls");
    }
}
