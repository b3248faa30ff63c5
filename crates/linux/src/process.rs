//! Processes: creation with namespace flags, waiting, signals, credentials and exec.

use crate::{cstr, cstring, cvt};
use std::ffi::CString;
use std::io;
use std::path::Path;

/// Which side of a fork-like clone we are on.
pub enum Forked {
    Child,
    Parent(i32),
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks the calling process with `flags` (CLONE_NEW* namespace flags), the way fork(2) does:
/// the child continues on a copy of the caller's stack. When `cgroup_fd` is given the child
/// starts inside that cgroup v2 directory (CLONE_INTO_CGROUP).
///
/// The caller must be single-threaded: the child gets a copy of only the calling thread, so a
/// lock held by another thread would stay locked forever in the child. bulkhead's command
/// processes never start threads, which is what makes this sound.
pub fn clone_fork(flags: u64, cgroup_fd: Option<i32>) -> io::Result<Forked> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= 0x200000000; // CLONE_INTO_CGROUP
        args.cgroup = fd as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size passed; with no CLONE_VM and a zero stack
    // the child runs on a private copy of our address space, like fork(2). Invariant: the
    // process is single-threaded (see above).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent(pid as i32)),
        _ => {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOSYS) && cgroup_fd.is_none() {
                return clone_fork_legacy(flags);
            }
            Err(err)
        }
    }
}

/// fork(2) through the C library, for a multi-threaded caller (the shim): unlike a raw clone,
/// glibc's fork runs its atfork handlers, so the allocator's locks are usable in the child.
/// The child holds only the calling thread; it must not touch locks other threads may hold
/// (it runs one runtime operation and leaves with `exit_now`).
pub fn fork_threaded() -> io::Result<Forked> {
    // SAFETY: fork has no memory preconditions; the child's restrictions are documented above
    // and kept by the one caller.
    match unsafe { libc::fork() } {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent(pid)),
        _ => Err(io::Error::last_os_error()),
    }
}

/// clone(2) for kernels without clone3 (before 5.3).
fn clone_fork_legacy(flags: u64) -> io::Result<Forked> {
    // SAFETY: as for clone3: no CLONE_VM, null stack, so the child runs on a copy of our memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match r {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent(pid as i32)),
        _ => Err(io::Error::last_os_error()),
    }
}

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// How a process ended, from its (exited or killed) wait status.
    pub fn from_wait_status(status: i32) -> Exit {
        if status & 0x7f == 0 {
            Exit::Code((status >> 8) & 0xff)
        } else {
            Exit::Signal(status & 0x7f)
        }
    }

    /// The shell convention runc follows: the exit code, or 128 + the signal number.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// waitpid(2), retried on EINTR; returns the raw status.
pub fn waitpid_status(pid: i32, flags: i32) -> io::Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r >= 0 {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// waitpid(pid, flags | WNOHANG): the raw status, or None when `pid` has not changed state.
pub fn try_waitpid_status(pid: i32, flags: i32) -> io::Result<Option<i32>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, flags | libc::WNOHANG) };
        if r > 0 {
            return Ok(Some(status));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// waitpid(-1, flags) for a loop that serves many children (the sentry's stubs): the pid and raw
/// status of one that changed state; None when none has (WNOHANG) or there is no child.
pub fn wait_any_status(flags: i32) -> io::Result<Option<(i32, i32)>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer for the duration of the call.
        let r = unsafe { libc::waitpid(-1, &mut status, flags) };
        if r > 0 {
            return Ok(Some((r, status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Waits for `pid` to end.
pub fn wait_pid(pid: i32) -> io::Result<Exit> {
    loop {
        let status = waitpid_status(pid, 0)?;
        if libc::WIFEXITED(status) {
            return Ok(Exit::Code(libc::WEXITSTATUS(status)));
        }
        if libc::WIFSIGNALED(status) {
            return Ok(Exit::Signal(libc::WTERMSIG(status)));
        }
    }
}

/// Reaps any exited child without blocking; returns its pid and exit, if one had ended.
pub fn try_wait_any() -> Option<(i32, Exit)> {
    let mut status = 0;
    // SAFETY: `status` is a valid out pointer for the duration of the call.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if r <= 0 {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some((r, Exit::Code(libc::WEXITSTATUS(status))))
    } else if libc::WIFSIGNALED(status) {
        Some((r, Exit::Signal(libc::WTERMSIG(status))))
    } else {
        None
    }
}

/// Waits for any child to end, blocking; `None` when there is no child at all (ECHILD).
pub fn wait_any() -> io::Result<Option<(i32, Exit)>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer for the duration of the call.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(e),
            }
        }
        if libc::WIFEXITED(status) {
            return Ok(Some((r, Exit::Code(libc::WEXITSTATUS(status)))));
        }
        if libc::WIFSIGNALED(status) {
            return Ok(Some((r, Exit::Signal(libc::WTERMSIG(status)))));
        }
    }
}

/// glibc malloc: one arena for every thread. A long-lived, mostly idle process with many
/// threads (the shim) otherwise keeps each thread's arena and its high-water mark resident.
/// Call before starting threads.
pub fn malloc_one_arena() {
    // SAFETY: mallopt only sets a tunable of the allocator; no memory is passed.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Returns the allocator's free pages to the kernel (idle points of a long-lived process).
pub fn malloc_trim() {
    // SAFETY: malloc_trim only releases free memory the allocator owns.
    unsafe { libc::malloc_trim(0) };
}

/// The effective uid (not root: an unprivileged, rootless runtime).
pub fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// AT_HWCAP2 of the auxiliary vector (bit 1: FSGSBASE, the fs/gs base instructions are
/// usable in user space).
pub fn hwcap2() -> u64 {
    // SAFETY: getauxval takes an integer and has no preconditions.
    unsafe { libc::getauxval(libc::AT_HWCAP2) }
}

/// The host's AT_HWCAP (CPU features), as the kernel gave it to this process.
pub fn hwcap() -> u64 {
    // SAFETY: getauxval takes an integer and has no preconditions.
    unsafe { libc::getauxval(libc::AT_HWCAP) }
}

/// A call no sandbox allowlist has (socket(AF_INET)): the sentry's self-test that its filter
/// stops it. Returns only if the call was let through (closing what it made).
pub fn forbidden_call_selftest() {
    // SAFETY: socket takes integers only; a returned fd is ours and closed at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd >= 0 {
        // SAFETY: `fd` was just returned to us and is not used again.
        unsafe { libc::close(fd) };
    }
}

/// Sends `sig` to one process. A pid <= 0 would mean a whole process group (0: our own, -1:
/// every process we may signal), never what a caller holding a container's pid means: refused
/// with ESRCH, so a state file that says pid 0 can never kill the runtime's own caller.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill touches no memory.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// Sends `sig` to thread `tid` of thread group `tgid` (tgkill: that thread, not whichever
/// thread of the group the kernel picks, as kill would).
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> io::Result<()> {
    if tgid <= 0 || tid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: tgkill takes integers only and touches no memory.
    cvt(unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) } as i32)?;
    Ok(())
}

/// Whether `pid` exists (a zombie counts as existing).
pub fn pid_exists(pid: i32) -> bool {
    pid > 0
        && (kill(pid, 0).is_ok() || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

fn prctl(op: i32, arg: u64) -> io::Result<()> {
    // SAFETY: the prctl operations used here take integer arguments only.
    cvt(unsafe { libc::prctl(op, arg, 0u64, 0u64, 0u64) })?;
    Ok(())
}

/// Makes the process non-dumpable: other processes (also those of the container) cannot ptrace
/// it or open its /proc/<pid>/exe, mem or fds. Exec of the container's program resets it.
pub fn set_dumpable(on: bool) -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, on as u64)
}

/// Sets no_new_privs: exec can never grant privileges again (setuid bits, file capabilities).
pub fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
}

/// Keeps permitted capabilities across a change of uid away from 0.
pub fn set_keep_caps(on: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, on as u64)
}

/// Asks the kernel to send `sig` to us when our parent dies.
pub fn set_parent_death_signal(sig: i32) -> io::Result<()> {
    prctl(libc::PR_SET_PDEATHSIG, sig as u64)
}

/// Marks the process as a child subreaper: orphaned descendants are reparented to it.
pub fn set_child_subreaper() -> io::Result<()> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
}

/// Starts a new session (and process group) led by the caller.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid touches no memory.
    cvt(unsafe { libc::setsid() })?;
    Ok(())
}

/// Sets real, effective and saved uid.
pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only. The raw syscall changes only this thread, which is all
    // there is (single-threaded process).
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })?;
    Ok(())
}

/// Sets real, effective and saved gid.
pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: as for setresuid.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    Ok(())
}

/// Sets the supplementary groups.
pub fn setgroups(gids: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `gids`, which outlives the call.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) })?;
    Ok(())
}

/// Sets the file mode creation mask.
pub fn umask(mask: u32) {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe { libc::umask(mask) };
}

/// Makes the program `cmd` starts die (SIGKILL) when the thread that starts it does, so a hook
/// cannot outlive a runtime killed while it waited for it; a parent already gone by the time
/// the child could ask is caught too (its parent is then someone else).
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    };
}

/// Our soft RLIMIT_STACK (RLIM_INFINITY as u64::MAX), which processes we start inherit.
pub fn stack_limit() -> u64 {
    getrlimit(libc::RLIMIT_STACK as i32).map_or(8 << 20, |(soft, _)| soft)
}

/// One of our resource limits (`resource` is an RLIMIT_* number): (soft, hard), RLIM_INFINITY
/// as u64::MAX.
pub fn getrlimit(resource: i32) -> io::Result<(u64, u64)> {
    // SAFETY: rlimit is plain data; all-zero is a valid value.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a valid out pointer for the duration of the call; a null new-limit
    // pointer only reads.
    cvt(unsafe { libc::prlimit(0, resource as _, std::ptr::null(), &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets one resource limit (`resource` is an RLIMIT_* number).
pub fn setrlimit(resource: i32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit for the duration of the call; a null old-limit pointer is
    // allowed.
    cvt(unsafe { libc::prlimit(0, resource as _, &lim, std::ptr::null_mut()) })?;
    Ok(())
}

/// Sets the hostname of the current UTS namespace.
pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
    Ok(())
}

/// Sets the NIS domain name of the current UTS namespace.
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`.
    cvt(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) })?;
    Ok(())
}

/// Changes the working directory.
pub fn chdir(path: &Path) -> io::Result<()> {
    std::env::set_current_dir(path)
}

/// Replaces the process image. Returns only on failure.
pub fn execve(path: &Path, args: &[String], env: &[String]) -> io::Error {
    let prog = match cstr(path) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let to_c = |v: &[String]| {
        v.iter()
            .map(|s| cstring(s))
            .collect::<io::Result<Vec<CString>>>()
    };
    let (argv, envp) = match (to_c(args), to_c(env)) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: all pointers point into CStrings that live until after the call, and both arrays
    // are NULL-terminated as execve requires.
    unsafe { libc::execve(prog.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    io::Error::last_os_error()
}

/// Exits immediately without running destructors or flushing stdio buffers: for children that
/// must not touch state shared with their parent's copy.
/// Waits for signals forever (a process that only has to exist).
pub fn pause_forever() -> ! {
    loop {
        // SAFETY: pause touches no memory.
        unsafe { libc::pause() };
    }
}

/// Closes every descriptor from `first` up (close_range(2)).
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) } as i32)?;
    Ok(())
}

/// Closes every fd but `keep`.
pub fn close_all_but(keep: i32) -> io::Result<()> {
    let keep = keep as u32;
    if keep > 0 {
        // SAFETY: integer arguments only.
        cvt(unsafe { libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0) } as i32)?;
    }
    close_from(keep + 1)
}

/// Closes every fd but `a` and `b` (no allocation: safe in a child forked from a threaded
/// process).
pub fn close_all_but_two(a: i32, b: i32) -> io::Result<()> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut first = 0u32;
    for k in [lo, hi] {
        if k < 0 || (k as u32) < first {
            continue;
        }
        let k = k as u32;
        if k > first {
            // SAFETY: integer arguments only.
            cvt(unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0) } as i32)?;
        }
        first = k + 1;
    }
    close_from(first)
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// The start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), used to
/// tell a live container process from a reused pid.
pub fn start_time(pid: i32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (state, start) = parse_stat(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/pid/stat"))?;
    if state == 'Z' || state == 'X' {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(start)
}

/// (state, starttime) of `pid`, zombies included: tells whether a zombie is still the process
/// a caller started (and so is the caller's to reap).
pub fn stat_start(pid: i32) -> io::Result<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/pid/stat"))
}

/// (state, starttime) from the text of /proc/<pid>/stat. The command name may hold spaces and
/// parentheses, so fields are counted from the last ')'.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Blocks every signal in this thread and returns the previous mask.
pub fn block_all_signals() -> io::Result<libc::sigset_t> {
    // SAFETY: both sigsets are plain data initialised by sigfillset / filled by sigprocmask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        cvt(libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old))?;
        Ok(old)
    }
}

/// Restores a signal mask saved by `block_all_signals`.
pub fn set_signal_mask(mask: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `mask` is a valid sigset.
    cvt(unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) })?;
    Ok(())
}

/// Resets every signal disposition to the default and unblocks all signals, so the container's
/// program starts clean.
pub fn reset_signal_handlers() {
    // SAFETY: an empty sigset is valid; sigprocmask only reads it.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; invalid numbers just return EINVAL.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Ends the process by SIGPIPE, as the kernel ends a program that writes to a pipe with no
/// reader and has not ignored the signal (Rust ignores it at start-up, to see EPIPE instead).
pub fn die_of_sigpipe() -> ! {
    // SAFETY: SIG_DFL is a valid disposition; the sigset is initialised by sigemptyset and
    // sigaddset before it is read; raise touches no memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
}

/// Waits for the next signal of those blocked in this thread; returns its number.
pub fn wait_signal() -> io::Result<i32> {
    // SAFETY: `set` is initialised by sigfillset; sigwaitinfo writes into `info`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        loop {
            let r = libc::sigwaitinfo(&set, &mut info);
            if r >= 0 {
                return Ok(r);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }
}

/// Joins a new anonymous session keyring, so the container does not share the caller's keys.
/// Kernels without keyrings, or that refuse it in a user namespace, are tolerated, as runc does.
pub fn join_new_session_keyring() -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: i64 = 1;
    // SAFETY: a null name asks for an anonymous keyring; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if !matches!(
            e.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EACCES)
        ) {
            return Err(e);
        }
    }
    Ok(())
}

extern "C" fn exit_with_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Installs a handler that ends the process with status 128+sig (async-signal-safe: _exit only).
pub fn exit_on_signal(sig: i32) {
    // SAFETY: the handler only calls _exit, which is async-signal-safe.
    unsafe { libc::signal(sig, exit_with_signal as *const () as libc::sighandler_t) };
}

extern "C" {
    // glibc (2.35+) exports where it registered the thread's rseq area.
    static __rseq_offset: libc::ptrdiff_t;
    static __rseq_size: libc::c_uint;
}

/// Unregisters the calling thread's rseq area (registered by glibc at thread start). A process
/// that is about to unmap all of its memory must do this first: the kernel writes to the area
/// on every resume and kills the process with SIGSEGV if it is gone.
pub fn rseq_unregister() -> io::Result<()> {
    const RSEQ_FLAG_UNREGISTER: i32 = 1;
    const RSEQ_SIG: u32 = 0x5305_3053;
    // SAFETY: reading two plain integers glibc exports; fs:0 holds the thread control block's
    // own address on x86-64 (the TLS ABI), so the area address is computed as glibc does.
    let (size, area) = unsafe {
        let tp: u64;
        std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags));
        (__rseq_size, (tp as i64 + __rseq_offset as i64) as u64)
    };
    if size == 0 {
        return Ok(()); // glibc did not register one
    }
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for len in [32u32, size] {
        // SAFETY: integer arguments; unregistering needs the length and signature used when
        // registering, which is 32 (the struct's size) or __rseq_size.
        let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) };
        if r == 0 {
            return Ok(());
        }
        last = io::Error::last_os_error();
    }
    Err(last)
}

/// personality(2).
pub fn set_personality(persona: u64) -> io::Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::syscall(libc::SYS_personality, persona) })?;
    Ok(())
}

/// ioprio_set(2) on the calling process.
pub fn set_io_priority(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) })?;
    Ok(())
}

/// The fields of sched_setattr(2) bulkhead sets.
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// sched_setattr(2) on the calling thread.
pub fn set_scheduler(a: &SchedAttr) -> io::Result<()> {
    #[repr(C)]
    struct Raw {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    let raw = Raw {
        size: std::mem::size_of::<Raw>() as u32,
        policy: a.policy,
        flags: a.flags,
        nice: a.nice,
        priority: a.priority,
        runtime: a.runtime,
        deadline: a.deadline,
        period: a.period,
    };
    // SAFETY: `raw` is the kernel's struct sched_attr (version 0, 48 bytes) with its size set.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw as *const Raw, 0) })?;
    Ok(())
}

/// Lets the program `cmd` starts inherit exactly `keep` (at their numbers) besides its stdio:
/// every other fd of ours, close-on-exec or not (one a caller handed us without the flag), is
/// closed at its exec; and since ours are close-on-exec, no other child started meanwhile by
/// another thread gets the kept ones (as criu's end of the socket pair `criu swrk FD` talks over).
pub fn inherit_only(cmd: &mut std::process::Command, keep: Vec<std::os::fd::RawFd>) {
    use std::os::unix::process::CommandExt;
    // For kernels without CLOSE_RANGE_CLOEXEC (before 5.11): the fds to walk, known before fork.
    let limit = getrlimit(libc::RLIMIT_NOFILE as i32).map_or(1024, |(soft, _)| soft.min(1 << 20));
    // SAFETY: the closure runs in the child between fork and exec and calls only close_range
    // and fcntl, which are async-signal-safe; it allocates nothing (`keep` is only read).
    // The kept fds are open in the parent when `cmd` spawns (the caller holds them), so the
    // child's copies are the same open files.
    unsafe {
        cmd.pre_exec(move || {
            let all = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if all != 0 {
                for fd in 3..limit as i32 {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
            for &fd in &keep {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
    }

    #[test]
    fn exit_status_follows_shell_convention() {
        assert_eq!(Exit::Code(3).status(), 3);
        assert_eq!(Exit::Signal(9).status(), 137);
    }
}
