//! The few host calls the sentry makes on the application's behalf that std does not wrap.
//! Each is small; the invariants are stated at the unsafe block.

use std::io;
use std::os::fd::RawFd;

fn cvt(r: i64) -> io::Result<i64> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub fn getrandom(buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) } as i64)
        .map(|n| n as usize)
}

/// clock_gettime as (seconds, nanoseconds).
pub fn clock_gettime(clock: i32) -> io::Result<(i64, i64)> {
    // SAFETY: `ts` is plain data filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::clock_gettime(clock, &mut ts) } as i64)?;
    Ok((ts.tv_sec, ts.tv_nsec))
}

/// The host signals the sentry takes through its signalfd: SIGCHLD (a stub stopped or ended;
/// ptrace reports every stop to the tracer with it) and every signal the sandbox's processes
/// may be sent from outside — by the runtime's `kill` or by the terminal — which the kernel
/// passes on. Not the ones that cannot be caught, nor the sentry's own faults, nor SIGPIPE
/// (ignored) and SIGURG (the sentry sends it to stubs).
pub fn signal_fd() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    const NOT: [i32; 10] = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
        libc::SIGSYS,
        libc::SIGPIPE,
        libc::SIGURG,
    ];
    // SAFETY: the sigset is initialised by sigemptyset before use; signalfd returns a new fd
    // that is owned from here on.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in (1..32).filter(|s| !NOT.contains(s)) {
            libc::sigaddset(&mut set, sig);
        }
        cvt(libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) as i64)?;
        let fd = cvt(libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as i64)?;
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd as i32))
    }
}

/// The signals a signalfd holds, read until it is empty: (signal, si_code) of each.
pub fn read_signals(fd: RawFd) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    // struct signalfd_siginfo is 128 bytes: ssi_signo (u32) at 0, ssi_code (i32) at 8.
    let mut buf = [0u8; 128 * 8];
    while let Ok(n) = read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        for rec in buf[..n].chunks_exact(128) {
            let word = |o: usize| i32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
            out.push((word(0), word(8)));
        }
    }
    out
}

/// The CPU time of the host process that thread `tid` belongs to (a stub): (user, user +
/// system), through its process CPU clock (Linux's MAKE_PROCESS_CPUCLOCK with CPUCLOCK_VIRT
/// and CPUCLOCK_PROF; any thread of the process names it for clock_gettime).
pub fn process_cpu_time(tid: i32) -> Option<(std::time::Duration, std::time::Duration)> {
    let clock = |kind: i32| {
        let id = ((!tid) << 3) | kind;
        clock_gettime(id)
            .ok()
            .map(|(s, ns)| std::time::Duration::new(s.max(0) as u64, ns as u32))
    };
    Some((clock(1)?, clock(0)?))
}

/// chmod of the file `fd` (an O_PATH fd) names.
pub fn chmod_fd(fd: RawFd, mode: u32) -> io::Result<()> {
    // SAFETY: a NUL-terminated empty path and integers; AT_EMPTY_PATH makes it act on `fd`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            fd,
            c"".as_ptr(),
            mode,
            libc::AT_EMPTY_PATH,
        )
    })
    .map(|_| ())
}

/// chown of the file `fd` (an O_PATH fd) names; u32::MAX leaves an id as it is.
pub fn chown_fd(fd: RawFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: as chmod_fd.
    cvt(unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) } as i64)
        .map(|_| ())
}

/// Sets the access and modification times of the file `fd` names (None: now).
pub fn utimens_fd(fd: RawFd, times: Option<&[libc::timespec; 2]>) -> io::Result<()> {
    let p = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `p` is null or points to two timespecs that outlive the call.
    cvt(unsafe { libc::utimensat(fd, c"".as_ptr(), p, libc::AT_EMPTY_PATH) } as i64).map(|_| ())
}

/// fstatfs: the kernel's struct statfs (120 bytes on x86-64) of the file system `fd` is on.
pub fn statfs_fd(fd: RawFd) -> io::Result<Vec<u8>> {
    // SAFETY: plain data filled by the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstatfs(fd, &mut st) } as i64)?;
    let p = &st as *const libc::statfs as *const u8;
    // SAFETY: `st` is initialised plain integers of size_of::<statfs>() bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, std::mem::size_of::<libc::statfs>()) }.to_vec())
}

/// flock(2); the sentry always adds LOCK_NB (a wait is the kernel loop's, not the host's).
pub fn flock(fd: RawFd, op: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::flock(fd, op | libc::LOCK_NB) } as i64).map(|_| ())
}

/// mknodat(2) of a FIFO (`mode` has S_IFIFO; the allowlist lets no other kind through).
pub fn mknodat(dir: RawFd, name: &std::ffi::CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mknodat(dir, name.as_ptr(), mode, 0) } as i64).map(|_| ())
}

/// How many threads this process has (from /proc, so only before confinement).
pub fn thread_count() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// read(2) on a raw fd the caller keeps open.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as i64).map(|n| n as usize)
}

pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as i64).map(|n| n as usize)
}

/// fcntl(F_GETFL): a host fd's status flags (O_NONBLOCK...).
pub fn status_flags(fd: RawFd) -> io::Result<i32> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) } as i64).map(|f| f as i32)
}

pub fn pread(fd: RawFd, buf: &mut [u8], off: i64) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) } as i64)
        .map(|n| n as usize)
}

pub fn pwrite(fd: RawFd, buf: &[u8], off: i64) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off) } as i64).map(|n| n as usize)
}

pub fn lseek(fd: RawFd, off: i64, whence: i32) -> io::Result<i64> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::lseek(fd, off, whence) })
}

/// getdents64 into `buf`; the records have the kernel's linux_dirent64 layout.
pub fn getdents64(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: pointer and length describe `buf`.
    cvt(unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) })
        .map(|n| n as usize)
}

/// fstat as the raw kernel structure bytes (x86-64 `struct stat`, 144 bytes).
pub fn fstat_raw(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: `st` is plain data filled by the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd, &mut st) } as i64)?;
    Ok(st)
}

/// fstatat(dir, name, flags).
pub fn fstatat(dir: RawFd, name: &std::ffi::CStr, flags: i32) -> io::Result<libc::stat> {
    // SAFETY: `st` is plain data filled by the call; `name` is a valid C string.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, flags) } as i64)?;
    Ok(st)
}

/// readlinkat(fd, "") on an O_PATH fd of a symlink.
pub fn readlink_fd(fd: RawFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an empty C string and a buffer of the given length.
    let n = cvt(
        unsafe { libc::readlinkat(fd, c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) } as i64,
    )?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// mkdirat / unlinkat / renameat / symlinkat relative to directory fds.
pub fn mkdirat(dir: RawFd, name: &std::ffi::CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) } as i64).map(|_| ())
}

pub fn unlinkat(dir: RawFd, name: &std::ffi::CStr, flags: i32) -> io::Result<()> {
    // SAFETY: as for mkdirat.
    cvt(unsafe { libc::unlinkat(dir, name.as_ptr(), flags) } as i64).map(|_| ())
}

pub fn renameat(od: RawFd, on: &std::ffi::CStr, nd: RawFd, nn: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe { libc::renameat(od, on.as_ptr(), nd, nn.as_ptr()) } as i64).map(|_| ())
}

/// linkat(od, on, nd, nn, 0): the names are single components beneath their directories'
/// fds, and a symlink `on` is linked itself, not followed.
pub fn linkat(od: RawFd, on: &std::ffi::CStr, nd: RawFd, nn: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe { libc::linkat(od, on.as_ptr(), nd, nn.as_ptr(), 0) } as i64).map(|_| ())
}

pub fn symlinkat(target: &std::ffi::CStr, dir: RawFd, name: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) } as i64).map(|_| ())
}

/// ioctl with a pointer to a buffer the caller owns, for the terminal requests passed through
/// to the sentry's own stdio (TCGETS, TCSETS*, TIOCGWINSZ, TIOCSWINSZ).
pub fn ioctl_buf(fd: RawFd, req: u64, buf: &mut [u8]) -> io::Result<i64> {
    // SAFETY: the buffer is as large as the largest structure these requests read or write
    // (the caller sizes it per request).
    cvt(unsafe { libc::ioctl(fd, req as _, buf.as_mut_ptr()) } as i64)
}

pub fn ftruncate(fd: RawFd, len: i64) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::ftruncate(fd, len) } as i64).map(|_| ())
}

pub fn fsync(fd: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::fsync(fd) } as i64).map(|_| ())
}

/// poll(2) on host fds (the container's stdio).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: pointer and length describe `fds`.
    cvt(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) } as i64)
        .map(|n| n as usize)
}

/// The *xattrat calls (Linux 6.13), which name a file relative to a directory fd: the sentry
/// reaches a rootfs file's attributes through its parent's O_PATH fd and the last component
/// (never following a symlink there: the sentry resolves links itself, beneath the root) or
/// through an open fd with AT_EMPTY_PATH. The f*xattr calls refuse O_PATH fds.
pub const SYS_SETXATTRAT: i64 = 463;
pub const SYS_GETXATTRAT: i64 = 464;
pub const SYS_LISTXATTRAT: i64 = 465;
pub const SYS_REMOVEXATTRAT: i64 = 466;

/// The kernel's struct xattr_args.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// A file for the *xattrat calls: a directory fd, a name in it ("" with AT_EMPTY_PATH for
/// the fd itself) and the AT_ flags.
pub struct XattrFile<'a> {
    pub dir: RawFd,
    pub name: &'a std::ffi::CStr,
    pub at: i32,
}

/// getxattrat into `buf` (empty: the value's size is answered).
pub fn getxattrat(f: &XattrFile, attr: &std::ffi::CStr, buf: &mut [u8]) -> io::Result<usize> {
    let mut args = XattrArgs {
        value: if buf.is_empty() {
            0
        } else {
            buf.as_mut_ptr() as u64
        },
        size: buf.len() as u32,
        flags: 0,
    };
    // SAFETY: the names are NUL-terminated, `args` points at `buf` (or null with size 0) and
    // all of them outlive the call; the size passed is the structure's.
    cvt(unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            f.dir,
            f.name.as_ptr(),
            f.at,
            attr.as_ptr(),
            &mut args as *mut XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    })
    .map(|n| n as usize)
}

/// setxattrat with XATTR_CREATE / XATTR_REPLACE `flags`.
pub fn setxattrat(
    f: &XattrFile,
    attr: &std::ffi::CStr,
    value: &[u8],
    flags: u32,
) -> io::Result<()> {
    let args = XattrArgs {
        value: value.as_ptr() as u64,
        size: value.len() as u32,
        flags,
    };
    // SAFETY: as for getxattrat; the kernel only reads `value`.
    cvt(unsafe {
        libc::syscall(
            SYS_SETXATTRAT,
            f.dir,
            f.name.as_ptr(),
            f.at,
            attr.as_ptr(),
            &args as *const XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    })
    .map(|_| ())
}

/// listxattrat into `buf` (empty: the list's size is answered).
pub fn listxattrat(f: &XattrFile, buf: &mut [u8]) -> io::Result<usize> {
    let ptr = if buf.is_empty() {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr()
    };
    // SAFETY: the name is NUL-terminated; pointer and length describe `buf` (or null, 0).
    cvt(unsafe {
        libc::syscall(
            SYS_LISTXATTRAT,
            f.dir,
            f.name.as_ptr(),
            f.at,
            ptr,
            buf.len(),
        )
    })
    .map(|n| n as usize)
}

pub fn removexattrat(f: &XattrFile, attr: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe {
        libc::syscall(
            SYS_REMOVEXATTRAT,
            f.dir,
            f.name.as_ptr(),
            f.at,
            attr.as_ptr(),
        )
    })
    .map(|_| ())
}

/// FUTEX_WAKE on a word of memory shared with a stub (not FUTEX_PRIVATE: the stub's mapping
/// of the same memory-file page is another address space).
pub fn futex_wake_shared(word: &std::sync::atomic::AtomicU32, n: i32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// FUTEX_WAIT on a shared word while it holds `val`, at most `timeout`.
pub fn futex_wait_shared(
    word: &std::sync::atomic::AtomicU32,
    val: u32,
    timeout: std::time::Duration,
) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 and `ts` a valid timespec for the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            val,
            &ts as *const libc::timespec,
        )
    };
}

/// Keeps freed heap memory for reuse instead of giving it back at once: the sentry's I/O
/// paths (network frames, socket queues, large reads) allocate and free buffers of tens of
/// KiB per call, and glibc's default of trimming the top of the heap past 128 KiB turned each
/// into fresh page faults; up to 8 MiB of free heap stays mapped. Blocks from 128 KiB (a TCP
/// connection's buffers in the pod's stack) are always mmapped, so their zeroed pages cost
/// nothing until used (glibc would otherwise raise that threshold after the first free, and
/// calloc would clear reused heap memory page by page).
pub fn tune_malloc() {
    // SAFETY: mallopt only changes glibc's allocator parameters (under its own lock); no
    // memory of ours is touched.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}
