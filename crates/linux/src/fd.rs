//! File descriptors: opening with O_CLOEXEC always, and the fd-hygiene step before exec.

use crate::{cstr, cvt};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Opens `path` relative to `dir` (or the cwd when `dir` is None) with `flags | O_CLOEXEC`.
pub fn openat(dir: Option<RawFd>, path: &Path, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let dirfd = dir.unwrap_or(libc::AT_FDCWD);
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; the returned fd is
    // fresh and owned by nobody else, so wrapping it in OwnedFd is sound.
    let fd = cvt(unsafe { libc::openat(dirfd, c.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a path for reference only (O_PATH), not following a final symlink when `nofollow`.
pub fn open_path(path: &Path, nofollow: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::O_PATH;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    openat(None, path, flags, 0)
}

/// Opens a directory (read-only, O_DIRECTORY).
pub fn open_dir(path: &Path) -> io::Result<File> {
    openat(None, path, libc::O_RDONLY | libc::O_DIRECTORY, 0).map(File::from)
}

/// Marks every fd at or above `first` close-on-exec, so nothing of the runtime's reaches the
/// container's program (CVE-2024-21626), whatever the caller handed us.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags; no memory is touched.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk the fd table instead.
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let name = entry?.file_name();
        if let Some(fd) = name.to_str().and_then(|s| s.parse::<i32>().ok()) {
            if fd >= first as i32 {
                set_cloexec(fd, true)?;
            }
        }
    }
    Ok(())
}

/// Sets or clears FD_CLOEXEC on one fd.
pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd touches no memory; a bad fd gives EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, new) })?;
    Ok(())
}

/// Sets O_NONBLOCK on one fd.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd touches no memory; a bad fd gives EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// A description of its own, non-blocking, for the pipe, FIFO or terminal open at `fd`: the
/// sentry serves the container's stdio without ever waiting in the host, and setting
/// O_NONBLOCK on `fd` itself would change the description it shares with whoever handed it
/// over (conmon, the shim, a shell). Opening /proc/self/fd/N makes a new description of the
/// same pipe or terminal (O_NOCTTY: it never becomes our controlling terminal). None for
/// anything else (a regular file never blocks; a socket cannot be opened again) and for a
/// pipe whose other end is gone (ENXIO): the caller keeps `fd`.
pub fn reopen_nonblocking(fd: RawFd) -> io::Result<Option<OwnedFd>> {
    let st = fstat(fd)?;
    let kind = st.st_mode & libc::S_IFMT;
    let stream = kind == libc::S_IFIFO || (kind == libc::S_IFCHR && is_terminal(fd));
    if !stream {
        return Ok(None);
    }
    // SAFETY: fcntl on an integer fd touches no memory.
    let mode = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })? & libc::O_ACCMODE;
    let path = Path::new("/proc/self/fd").join(fd.to_string());
    match openat(None, &path, mode | libc::O_NONBLOCK | libc::O_NOCTTY, 0) {
        Ok(own) => Ok(Some(own)),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A non-blocking description of its own of the pty slave open at `fd`, by its name in the
/// devpts mounted at /dev/pts (where /proc is not mounted: the sandbox's init, whose console
/// is such a slave); None when `fd` is no pty slave there.
pub fn reopen_pty_slave(fd: RawFd) -> io::Result<Option<OwnedFd>> {
    let st = fstat(fd)?;
    let dev = st.st_rdev;
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    // Unix98 pty slaves: majors 136 to 143, 256 minors each.
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || !(136..=143).contains(&major) {
        return Ok(None);
    }
    let path = format!("/dev/pts/{}", (major - 136) * 256 + minor);
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
    let own = match openat(None, Path::new(&path), flags, 0) {
        Ok(own) => own,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The name must lead to the very terminal (another devpts could be mounted there).
    Ok((fstat(own.as_raw_fd())?.st_rdev == dev).then_some(own))
}

/// `fd`'s own non-blocking description (`reopen_nonblocking`), else a duplicate of `fd`.
pub fn reopen_or_dup(fd: RawFd) -> io::Result<OwnedFd> {
    if let Some(own) = reopen_nonblocking(fd)? {
        return Ok(own);
    }
    // SAFETY: fcntl on an integer fd touches no memory; on success the new fd is fresh and
    // owned by nobody else.
    let dup = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Whether `fd` is a terminal (TCGETS answers).
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: `t` is plain old data that TCGETS fills completely on success.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    unsafe { libc::tcgetattr(fd, &mut t) == 0 }
}

/// An eventfd (close-on-exec), counting from 0.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) })?;
    // SAFETY: eventfd succeeded, so `fd` is open and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking eventfd (close-on-exec): a wake-up that a writer never waits on.
pub fn eventfd_nonblocking() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: eventfd succeeded, so `fd` is open and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the calling process may write `path` (access(2) with W_OK, real ids).
pub fn writable(path: &Path) -> bool {
    let Ok(c) = cstr(path) else {
        return false;
    };
    // SAFETY: `c` is NUL-terminated and outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// unlinkat(2) of `name` in the directory `dir` (not a directory itself).
pub fn unlinkat(dir: &impl AsRawFd, name: &Path) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: `c` is NUL-terminated and outlives the call; the fd is the caller's.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })?;
    Ok(())
}

/// An anonymous memory file (memfd), close-on-exec.
pub fn memfd(name: &str) -> io::Result<File> {
    let cname = crate::cstring(name)?;
    // SAFETY: `cname` outlives the call; the fd is fresh and owned here.
    Ok(unsafe { File::from_raw_fd(cvt(libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC))?) })
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes; both are fresh and owned here.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both fds are open and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// dup2 that keeps the target open across exec (dup2 clears FD_CLOEXEC on the new fd).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    if from == to {
        return set_cloexec(to, false);
    }
    // SAFETY: dup2 on integer fds touches no memory.
    cvt(unsafe { libc::dup2(from, to) })?;
    Ok(())
}

/// The path of an fd under /proc/self/fd, for calls (mount, chdir) that need a path but must act
/// on exactly the object we resolved.
pub fn proc_fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// (device, inode) of an open file.
pub fn dev_ino(fd: &impl AsRawFd) -> io::Result<(u64, u64)> {
    let st = fstat(fd.as_raw_fd())?;
    Ok((st.st_dev, st.st_ino))
}

/// fstat on a raw fd.
pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: `st` is plain old data that fstat fills completely on success.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Takes an exclusive POSIX record lock on the whole file, waiting for it. Unlike flock, such a
/// lock belongs to the process and is not inherited by children, so a forked container init never
/// holds its runtime's lock. Released when the process closes the file.
pub fn lock_exclusive(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: flock is plain data; zeroed fields mean "from offset 0, whole file".
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    loop {
        // SAFETY: `fl` is a valid flock for the duration of the call.
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLKW, &fl) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// fchdir(2): change the working directory to an open directory (no /proc needed).
pub fn fchdir(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) })?;
    Ok(())
}

/// Points every socket fd from `first` up, except those in `keep`, at /dev/null (close-on-exec).
/// A process forked from a server (the shim's launcher, and the container init cloned from it)
/// must not hold the server's listening socket and connections: while it lives, a client would
/// find the socket still listening after the server died. The numbers stay taken (by
/// /dev/null) rather than closed, so nothing that still thinks it owns one writes into a file
/// opened later under the same number.
pub fn null_sockets_from(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let null = openat(None, Path::new("/dev/null"), libc::O_RDWR, 0)?;
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd >= first && !keep.contains(fd) && *fd != null.as_raw_fd())
        .collect();
    for fd in fds {
        // SAFETY: stat is plain data; fstat fills it or fails (an fd closed meanwhile: skip).
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid out pointer for the duration of the call.
        if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            continue;
        }
        // SAFETY: dup3 on integer fds touches no memory.
        cvt(unsafe { libc::dup3(null.as_raw_fd(), fd, libc::O_CLOEXEC) })?;
    }
    Ok(())
}

/// Takes an exclusive flock on `fd` without waiting: false when another open file holds one.
/// The lock lasts as long as the open file (every copy of the fd) does.
pub fn try_lock_exclusive(fd: &impl AsRawFd) -> io::Result<bool> {
    // SAFETY: integer arguments only.
    match cvt(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}
