#![allow(non_upper_case_globals)] // the kernel's own names (SYS_read, ...)
//! The x86-64 system call table: one handler per call, grouped by subsystem in the match
//! below. A call without a handler returns ENOSYS and is counted.

use crate::kernel::Task;
use crate::mm::{page_up, Errno};
use crate::vfs::{self, wrap, Node};
use libc::*;
use std::os::fd::AsRawFd;

type R = Result<i64, Errno>;

/// Serves system call `nr` of `t`; returns the value for rax (negative errno on failure).
pub fn dispatch(t: &mut Task, nr: u64) -> i64 {
    let a = [
        t.regs.rdi, t.regs.rsi, t.regs.rdx, t.regs.r10, t.regs.r8, t.regs.r9,
    ];
    let res = match nr as i64 {
        // files
        SYS_read => read(t, a[0] as i32, a[1], a[2]),
        SYS_write => write(t, a[0] as i32, a[1], a[2]),
        SYS_pread64 => pread(t, a[0] as i32, a[1], a[2], a[3] as i64),
        SYS_pwrite64 => pwrite(t, a[0] as i32, a[1], a[2], a[3] as i64),
        SYS_readv => readv(t, a[0] as i32, a[1], a[2]),
        SYS_writev => writev(t, a[0] as i32, a[1], a[2]),
        SYS_open => openat(t, AT_FDCWD, a[0], a[1] as i32, a[2] as u32),
        SYS_openat => openat(t, a[0] as i32, a[1], a[2] as i32, a[3] as u32),
        SYS_close => t.fds.close(a[0] as i32).map(|_| 0),
        SYS_stat => stat(t, AT_FDCWD, a[0], a[1], 0),
        SYS_lstat => stat(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        SYS_fstat => fstat(t, a[0] as i32, a[1]),
        SYS_newfstatat => stat(t, a[0] as i32, a[1], a[2], a[3] as i32),
        SYS_statx => statx(t, a[0] as i32, a[1], a[2] as i32, a[4]),
        SYS_lseek => lseek(t, a[0] as i32, a[1] as i64, a[2] as i32),
        SYS_getdents64 => getdents64(t, a[0] as i32, a[1], a[2]),
        SYS_access => access(t, AT_FDCWD, a[0]),
        SYS_faccessat | SYS_faccessat2 => access(t, a[0] as i32, a[1]),
        SYS_readlink => readlink(t, AT_FDCWD, a[0], a[1], a[2]),
        SYS_readlinkat => readlink(t, a[0] as i32, a[1], a[2], a[3]),
        SYS_ioctl => ioctl(t, a[0] as i32, a[1], a[2]),
        SYS_fcntl => fcntl(t, a[0] as i32, a[1] as i32, a[2]),
        SYS_dup => dup(t, a[0] as i32, None, false),
        SYS_dup2 => dup(t, a[0] as i32, Some(a[1] as i32), false),
        SYS_dup3 => dup(
            t,
            a[0] as i32,
            Some(a[1] as i32),
            a[2] as i32 & O_CLOEXEC != 0,
        ),
        SYS_sendfile => sendfile(t, a[0] as i32, a[1] as i32, a[2], a[3]),
        SYS_poll => poll(t, a[0], a[1], a[2] as i32 as i64),
        SYS_ppoll => ppoll(t, a[0], a[1], a[2]),
        SYS_mkdir => path_op(t, AT_FDCWD, a[0], |t, p| {
            t.fs.mkdir(p, a[1] as u32 & !t.umask)
        }),
        SYS_mkdirat => path_op(t, a[0] as i32, a[1], |t, p| {
            t.fs.mkdir(p, a[2] as u32 & !t.umask)
        }),
        SYS_rmdir => path_op(t, AT_FDCWD, a[0], |t, p| t.fs.unlink(p, AT_REMOVEDIR)),
        SYS_unlink => path_op(t, AT_FDCWD, a[0], |t, p| t.fs.unlink(p, 0)),
        SYS_unlinkat => path_op(t, a[0] as i32, a[1], |t, p| {
            t.fs.unlink(p, a[2] as i32 & AT_REMOVEDIR)
        }),
        SYS_rename => rename(t, AT_FDCWD, a[0], AT_FDCWD, a[1]),
        SYS_renameat | SYS_renameat2 => rename(t, a[0] as i32, a[1], a[2] as i32, a[3]),
        SYS_symlink => symlink(t, a[0], AT_FDCWD, a[1]),
        SYS_symlinkat => symlink(t, a[0], a[1] as i32, a[2]),
        SYS_chdir => path_op(t, AT_FDCWD, a[0], |t, p| t.fs.chdir(p)),
        SYS_fchdir => fchdir(t, a[0] as i32),
        SYS_getcwd => getcwd(t, a[0], a[1]),
        SYS_umask => Ok(std::mem::replace(&mut t.umask, a[0] as u32 & 0o777) as i64),
        SYS_fsync | SYS_fdatasync => host_fd(t, a[0] as i32)
            .and_then(|f| crate::host::fsync(f).map_err(err))
            .map(|_| 0),
        SYS_ftruncate => host_fd(t, a[0] as i32)
            .and_then(|f| crate::host::ftruncate(f, a[1] as i64).map_err(err))
            .map(|_| 0),
        SYS_fchmod => host_fd(t, a[0] as i32)
            .and_then(|f| crate::host::fchmod(f, a[1] as u32).map_err(err))
            .map(|_| 0),
        SYS_fadvise64 => t.fds.get(a[0] as i32).map(|_| 0),
        // extended attributes: the sandbox's file system has none
        SYS_getxattr | SYS_lgetxattr | SYS_fgetxattr => Err(ENODATA),
        SYS_listxattr | SYS_llistxattr | SYS_flistxattr => Ok(0),
        // memory
        SYS_brk => Ok(t.mm.set_brk(t.asp.as_mut(), a[0]) as i64),
        SYS_mmap => mmap(t, a[0], a[1], a[2] as i32, a[3] as i32, a[4] as i32, a[5]),
        SYS_munmap => t.mm.unmap(t.asp.as_mut(), a[0], a[1]).map(|_| 0),
        SYS_mprotect => {
            t.mm.protect(t.asp.as_mut(), a[0], a[1], a[2] as i32)
                .map(|_| 0)
        }
        SYS_mremap => {
            t.mm.remap(
                t.asp.as_mut(),
                a[0],
                a[1],
                a[2],
                a[3] as i32 & MREMAP_MAYMOVE != 0,
            )
            .map(|x| x as i64)
        }
        SYS_madvise => madvise(t, a[0], a[1], a[2] as i32),
        // identity and process
        SYS_getpid | SYS_gettid | SYS_getpgrp => Ok(1),
        SYS_getppid => Ok(0),
        SYS_getpgid | SYS_getsid => Ok(1),
        SYS_setsid | SYS_setpgid => Ok(0),
        SYS_getuid | SYS_geteuid => Ok(t.creds.uid as i64),
        SYS_getgid | SYS_getegid => Ok(t.creds.gid as i64),
        SYS_getresuid => getres(t, [a[0], a[1], a[2]], t.creds.uid),
        SYS_getresgid => getres(t, [a[0], a[1], a[2]], t.creds.gid),
        SYS_getgroups => Ok(0),
        SYS_uname => uname(t, a[0]),
        SYS_sethostname => sethostname(t, a[0], a[1]),
        SYS_arch_prctl => arch_prctl(t, a[0] as i32, a[1]),
        SYS_set_tid_address => {
            t.clear_tid = a[0];
            Ok(1)
        }
        SYS_set_robust_list => Ok(0),
        SYS_prlimit64 => prlimit(t, a[0] as i32, a[1] as u32, a[2], a[3]),
        SYS_getrlimit => prlimit(t, 0, a[0] as u32, 0, a[1]),
        SYS_setrlimit => prlimit(t, 0, a[0] as u32, a[1], 0),
        SYS_sched_getaffinity => sched_getaffinity(t, a[1], a[2]),
        SYS_sched_yield => Ok(0),
        SYS_prctl => prctl(t, a[0] as i32, a[1]),
        SYS_sysinfo => sysinfo(t, a[0]),
        SYS_exit | SYS_exit_group => {
            t.exit = Some((a[0] & 0xff) as i32);
            Ok(0)
        }
        // signals (delivered on the way back from a call: signals.rs)
        SYS_rt_sigaction => sigaction(t, a[0] as usize, a[1], a[2]),
        SYS_rt_sigprocmask => sigprocmask(t, a[0] as i32, a[1], a[2]),
        SYS_rt_sigreturn => Ok(crate::signals::sigreturn(t)),
        SYS_sigaltstack => Ok(0),
        SYS_kill | SYS_tgkill | SYS_tkill => kill_self(t, &a, nr as i64),
        // time and randomness
        SYS_clock_gettime => clock_gettime(t, a[0] as i32, a[1]),
        SYS_clock_getres => put(t, a[1], &timespec_bytes(0, 1)).map(|_| 0),
        SYS_gettimeofday => gettimeofday(t, a[0]),
        SYS_time => time(t, a[0]),
        // nanosleep is a relative clock_nanosleep on CLOCK_MONOTONIC, as in Linux.
        SYS_nanosleep => clock_nanosleep(t, CLOCK_MONOTONIC, 0, a[0]),
        SYS_clock_nanosleep => clock_nanosleep(t, a[0] as i32, a[1] as i32, a[2]),
        SYS_getrandom => getrandom(t, a[0], a[1]),
        // a single task: nobody to wait for or wake
        SYS_futex => futex(a[1] as i32),
        _ => {
            *t.unimplemented.entry(nr).or_insert(0) += 1;
            Err(ENOSYS)
        }
    };
    match res {
        Ok(v) => v,
        Err(e) => -(e as i64),
    }
}

fn err(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(EIO)
}

fn put(t: &mut Task, addr: u64, data: &[u8]) -> Result<(), Errno> {
    t.mm.write(addr, data)
}

fn path(t: &Task, addr: u64) -> Result<String, Errno> {
    let bytes = t.mm.read_cstr(addr, PATH_MAX as usize)?;
    if bytes.is_empty() {
        return Err(ENOENT);
    }
    String::from_utf8(bytes).map_err(|_| EINVAL)
}

/// The absolute path of `p` relative to `dirfd`.
fn at(t: &Task, dirfd: i32, p: &str) -> Result<String, Errno> {
    if p.starts_with('/') || dirfd == AT_FDCWD {
        return Ok(t.fs.abs(None, p));
    }
    let f = t.fds.get(dirfd)?;
    let base = f.borrow().path.clone();
    Ok(t.fs.abs(Some(&base), p))
}

/// /proc is generated from the task: bring it up to date before it is looked at.
fn fresh(t: &mut Task, abs: &str) {
    if abs == "/proc" || abs.starts_with("/proc/") {
        t.refresh_proc();
    }
}

fn path_op(
    t: &mut Task,
    dirfd: i32,
    addr: u64,
    op: impl FnOnce(&mut Task, &str) -> Result<(), Errno>,
) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    op(t, &abs).map(|_| 0)
}

fn host_fd(t: &Task, fd: i32) -> Result<i32, Errno> {
    let f = t.fds.get(fd)?;
    let b = f.borrow();
    match &b.node {
        Node::Host(h) => Ok(h.as_raw_fd()),
        Node::Stdio(s) => Ok(*s),
        _ => Err(EINVAL),
    }
}

const IO_CHUNK: usize = 1 << 20;

fn read(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let f = t.fds.get(fd)?;
    let mut data = vec![0u8; (len as usize).min(IO_CHUNK)];
    let n = {
        let mut of = f.borrow_mut();
        if of.flags & O_ACCMODE == O_WRONLY {
            return Err(EBADF);
        }
        let pos = of.pos;
        match &mut of.node {
            Node::Host(h) => crate::host::read(h.as_raw_fd(), &mut data).map_err(err)?,
            Node::Stdio(s) => crate::host::read(*s, &mut data).map_err(err)?,
            Node::Null => 0,
            Node::Zero | Node::Full => data.len(),
            Node::Random => crate::host::getrandom(&mut data).map_err(err)?,
            Node::Data(d) => {
                let n = d.len().saturating_sub(pos).min(data.len());
                data[..n].copy_from_slice(&d[pos..pos + n]);
                of.pos += n;
                n
            }
            Node::Dir(_) => return Err(EISDIR),
        }
    };
    if matches!(f.borrow().node, Node::Zero | Node::Full) {
        data[..n].fill(0);
    }
    put(t, buf, &data[..n])?;
    Ok(n as i64)
}

fn write(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let res = write_inner(t, fd, buf, len);
    if res == Err(EPIPE) {
        raise_default(t, SIGPIPE);
    }
    res
}

/// A signal the kernel sends the task itself (SIGPIPE on a broken pipe).
fn raise_default(t: &mut Task, sig: i32) {
    crate::signals::send(t, sig);
}

fn write_inner(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let f = t.fds.get(fd)?;
    let data = t.mm.read_vec(buf, (len as usize).min(IO_CHUNK))?;
    let of = f.borrow();
    if of.flags & O_ACCMODE == O_RDONLY && !matches!(of.node, Node::Stdio(_)) {
        return Err(EBADF);
    }
    let n = match &of.node {
        Node::Host(h) => crate::host::write(h.as_raw_fd(), &data).map_err(err)?,
        Node::Stdio(s) => crate::host::write(*s, &data).map_err(err)?,
        Node::Null | Node::Zero | Node::Random => data.len(),
        Node::Full => return Err(ENOSPC),
        Node::Data(_) | Node::Dir(_) => return Err(EBADF),
    };
    Ok(n as i64)
}

fn pread(t: &mut Task, fd: i32, buf: u64, len: u64, off: i64) -> R {
    let h = host_fd(t, fd).map_err(|_| ESPIPE)?;
    let mut data = vec![0u8; (len as usize).min(IO_CHUNK)];
    let n = crate::host::pread(h, &mut data, off).map_err(err)?;
    put(t, buf, &data[..n])?;
    Ok(n as i64)
}

fn pwrite(t: &mut Task, fd: i32, buf: u64, len: u64, off: i64) -> R {
    let h = host_fd(t, fd).map_err(|_| ESPIPE)?;
    let data = t.mm.read_vec(buf, (len as usize).min(IO_CHUNK))?;
    Ok(crate::host::pwrite(h, &data, off).map_err(err)? as i64)
}

/// The (base, len) pairs of an iovec array.
fn iovecs(t: &Task, iov: u64, cnt: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if cnt > 1024 {
        return Err(EINVAL);
    }
    (0..cnt)
        .map(|i| {
            Ok((
                t.mm.read_u64(iov + i * 16)?,
                t.mm.read_u64(iov + i * 16 + 8)?,
            ))
        })
        .collect()
}

fn readv(t: &mut Task, fd: i32, iov: u64, cnt: u64) -> R {
    let mut total = 0;
    for (base, len) in iovecs(t, iov, cnt)? {
        if len == 0 {
            continue;
        }
        let n = read(t, fd, base, len)?;
        total += n;
        if (n as u64) < len {
            break;
        }
    }
    Ok(total)
}

fn writev(t: &mut Task, fd: i32, iov: u64, cnt: u64) -> R {
    let mut total = 0;
    for (base, len) in iovecs(t, iov, cnt)? {
        if len == 0 {
            continue;
        }
        let n = write(t, fd, base, len)?;
        total += n;
        if (n as u64) < len {
            break;
        }
    }
    Ok(total)
}

fn sendfile(t: &mut Task, out_fd: i32, in_fd: i32, offp: u64, count: u64) -> R {
    if offp != 0 {
        return Err(EINVAL);
    }
    let scratch =
        t.mm.map(t.asp.as_mut(), None, 65536, PROT_READ | PROT_WRITE, false)?;
    let n = read(t, in_fd, scratch, count.min(65536));
    let res = match n {
        Ok(n) if n > 0 => write(t, out_fd, scratch, n as u64),
        other => other,
    };
    let _ = t.mm.unmap(t.asp.as_mut(), scratch, 65536);
    res
}

/// poll: the sentry's own files are always ready; the container's stdio is asked on the host.
fn poll(t: &mut Task, fds: u64, n: u64, timeout_ms: i64) -> R {
    if n > 1024 {
        return Err(EINVAL);
    }
    let raw = t.mm.read_vec(fds, n as usize * 8)?;
    let mut host = Vec::new();
    let mut out = raw.clone();
    let mut ready = 0;
    for i in 0..n as usize {
        let fd = i32::from_le_bytes(raw[i * 8..i * 8 + 4].try_into().unwrap_or([0; 4]));
        let events = i16::from_le_bytes([raw[i * 8 + 4], raw[i * 8 + 5]]);
        let revents: i16 = match t.fds.get(fd) {
            _ if fd < 0 => 0,
            Err(_) => POLLNVAL,
            Ok(f) => match &f.borrow().node {
                Node::Stdio(h) => {
                    host.push((
                        i,
                        libc::pollfd {
                            fd: *h,
                            events,
                            revents: 0,
                        },
                    ));
                    0
                }
                _ => events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM),
            },
        };
        out[i * 8 + 6..i * 8 + 8].copy_from_slice(&revents.to_le_bytes());
        ready += (revents != 0) as i64;
    }
    if !host.is_empty() {
        let mut pfds: Vec<libc::pollfd> = host.iter().map(|(_, p)| *p).collect();
        let wait = if ready > 0 {
            0
        } else {
            timeout_ms.clamp(-1, i32::MAX as i64) as i32
        };
        crate::host::poll(&mut pfds, wait).map_err(err)?;
        for ((i, _), p) in host.iter().zip(pfds) {
            out[i * 8 + 6..i * 8 + 8].copy_from_slice(&p.revents.to_le_bytes());
            ready += (p.revents != 0) as i64;
        }
    }
    put(t, fds, &out)?;
    Ok(ready)
}

fn ppoll(t: &mut Task, fds: u64, n: u64, ts: u64) -> R {
    let timeout = if ts == 0 {
        -1
    } else {
        t.mm.read_u64(ts)? as i64 * 1000 + t.mm.read_u64(ts + 8)? as i64 / 1_000_000
    };
    poll(t, fds, n, timeout)
}

fn openat(t: &mut Task, dirfd: i32, addr: u64, flags: i32, mode: u32) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    fresh(t, &abs);
    let node = t.fs.open(&abs, flags, mode & !t.umask)?;
    if flags & O_DIRECTORY != 0 && !matches!(vfs::stat_of(&node).st_mode & S_IFMT, S_IFDIR) {
        return Err(ENOTDIR);
    }
    t.fds
        .install(wrap(node, flags, &abs), flags & O_CLOEXEC != 0, 0)
        .map(i64::from)
}

fn stat_bytes(st: &stat) -> Vec<u8> {
    // SAFETY-free copy: libc::stat is the kernel's x86-64 struct stat, plain integers.
    let p = st as *const stat as *const u8;
    (0..std::mem::size_of::<stat>())
        .map(|i| unsafe_byte(p, i))
        .collect()
}

fn unsafe_byte(p: *const u8, i: usize) -> u8 {
    // SAFETY: only called with `p` pointing to a live stat and i < size_of::<stat>().
    unsafe { *p.add(i) }
}

fn stat(t: &mut Task, dirfd: i32, addr: u64, buf: u64, flags: i32) -> R {
    let p = t.mm.read_cstr(addr, PATH_MAX as usize)?;
    if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fstat(t, dirfd, buf);
    }
    let p = String::from_utf8(p).map_err(|_| EINVAL)?;
    if p.is_empty() {
        return Err(ENOENT);
    }
    let abs = at(t, dirfd, &p)?;
    fresh(t, &abs);
    // A trailing slash asks for the directory a link points to.
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0 || p.ends_with('/');
    let st = t.fs.stat(&abs, follow)?;
    put(t, buf, &stat_bytes(&st)).map(|_| 0)
}

fn fstat(t: &mut Task, fd: i32, buf: u64) -> R {
    let f = t.fds.get(fd)?;
    let st = vfs::stat_of(&f.borrow().node);
    put(t, buf, &stat_bytes(&st)).map(|_| 0)
}

fn statx(t: &mut Task, dirfd: i32, addr: u64, flags: i32, buf: u64) -> R {
    let p = String::from_utf8(t.mm.read_cstr(addr, PATH_MAX as usize)?).map_err(|_| EINVAL)?;
    let st = if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        vfs::stat_of(&t.fds.get(dirfd)?.borrow().node)
    } else if p.is_empty() {
        return Err(ENOENT);
    } else {
        let abs = at(t, dirfd, &p)?;
        fresh(t, &abs);
        t.fs.stat(&abs, flags & AT_SYMLINK_NOFOLLOW == 0 || p.ends_with('/'))?
    };
    let mut b = vec![0u8; 256];
    let mut w = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    w(0, &0x7ffu32.to_le_bytes()); // stx_mask: the basic stats
    w(4, &(st.st_blksize as u32).to_le_bytes());
    w(16, &(st.st_nlink as u32).to_le_bytes());
    w(20, &st.st_uid.to_le_bytes());
    w(24, &st.st_gid.to_le_bytes());
    w(28, &(st.st_mode as u16).to_le_bytes());
    w(32, &st.st_ino.to_le_bytes());
    w(40, &(st.st_size as u64).to_le_bytes());
    w(48, &(st.st_blocks as u64).to_le_bytes());
    for (off, sec, nsec) in [
        (64, st.st_atime, st.st_atime_nsec),
        (96, st.st_ctime, st.st_ctime_nsec),
        (112, st.st_mtime, st.st_mtime_nsec),
    ] {
        w(off, &sec.to_le_bytes());
        w(off + 8, &(nsec as u32).to_le_bytes());
    }
    w(128, &major(st.st_rdev).to_le_bytes());
    w(132, &minor(st.st_rdev).to_le_bytes());
    w(136, &major(st.st_dev).to_le_bytes());
    w(140, &minor(st.st_dev).to_le_bytes());
    put(t, buf, &b).map(|_| 0)
}

fn lseek(t: &mut Task, fd: i32, off: i64, whence: i32) -> R {
    let f = t.fds.get(fd)?;
    let mut of = f.borrow_mut();
    let len = match &of.node {
        Node::Host(h) => return crate::host::lseek(h.as_raw_fd(), off, whence).map_err(err),
        Node::Stdio(_) => return Err(ESPIPE),
        Node::Data(d) => d.len() as i64,
        Node::Dir(_) if off == 0 && whence == SEEK_SET => {
            of.pos = 0;
            return Ok(0);
        }
        _ => return Ok(0),
    };
    let new = match whence {
        SEEK_SET => off,
        SEEK_CUR => of.pos as i64 + off,
        SEEK_END => len + off,
        _ => return Err(EINVAL),
    };
    if new < 0 {
        return Err(EINVAL);
    }
    of.pos = new as usize;
    Ok(new)
}

fn getdents64(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let f = t.fds.get(fd)?;
    let cap = (len as usize).min(IO_CHUNK);
    let data = {
        let mut of = f.borrow_mut();
        let pos = of.pos;
        match &of.node {
            Node::Host(h) => {
                let mut d = vec![0u8; cap];
                let n = crate::host::getdents64(h.as_raw_fd(), &mut d).map_err(err)?;
                d.truncate(n);
                d
            }
            Node::Dir(entries) => {
                let (d, next) = vfs::dirents(entries, pos, cap);
                if d.is_empty() && next < entries.len() {
                    return Err(EINVAL);
                }
                of.pos = next;
                d
            }
            _ => return Err(ENOTDIR),
        }
    };
    put(t, buf, &data)?;
    Ok(data.len() as i64)
}

fn access(t: &mut Task, dirfd: i32, addr: u64) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    t.fs.stat(&abs, true).map(|_| 0)
}

fn readlink(t: &mut Task, dirfd: i32, addr: u64, buf: u64, len: u64) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    fresh(t, &abs);
    let mut target = t.fs.readlink(&abs)?;
    target.truncate(len as usize);
    put(t, buf, &target)?;
    Ok(target.len() as i64)
}

fn ioctl(t: &mut Task, fd: i32, req: u64, arg: u64) -> R {
    let f = t.fds.get(fd)?;
    let host = match &f.borrow().node {
        Node::Stdio(s) => *s,
        Node::Host(_)
        | Node::Null
        | Node::Zero
        | Node::Full
        | Node::Random
        | Node::Data(_)
        | Node::Dir(_) => return Err(ENOTTY),
    };
    // Job control: the application is the only process group of its terminal.
    if matches!(req, TIOCSPGRP | TIOCSCTTY | TIOCNOTTY) {
        return Ok(0);
    }
    // Terminal requests, passed through to the sentry's own terminal (the container's).
    let size = match req {
        TCGETS => 60,
        TCSETS | TCSETSW | TCSETSF => 60,
        TIOCGWINSZ | TIOCSWINSZ => 8,
        TIOCGPGRP => 4,
        _ => return Err(ENOTTY),
    };
    let mut buf = t.mm.read_vec(arg, size)?;
    crate::host::ioctl_buf(host, req, &mut buf).map_err(err)?;
    if matches!(req, TCGETS | TIOCGWINSZ) {
        put(t, arg, &buf)?;
    }
    if req == TIOCGPGRP {
        put(t, arg, &1i32.to_le_bytes())?;
    }
    Ok(0)
}

fn fcntl(t: &mut Task, fd: i32, cmd: i32, arg: u64) -> R {
    match cmd {
        F_DUPFD => dup_min(t, fd, arg as i32, false),
        F_DUPFD_CLOEXEC => dup_min(t, fd, arg as i32, true),
        F_GETFD => t
            .fds
            .cloexec(fd)
            .map(|c| if c { FD_CLOEXEC as i64 } else { 0 }),
        F_SETFD => t
            .fds
            .set_cloexec(fd, arg as i32 & FD_CLOEXEC != 0)
            .map(|_| 0),
        F_GETFL => Ok(t.fds.get(fd)?.borrow().flags as i64),
        F_SETFL => {
            let f = t.fds.get(fd)?;
            let mut of = f.borrow_mut();
            of.flags = (of.flags & O_ACCMODE) | (arg as i32 & (O_APPEND | O_NONBLOCK));
            Ok(0)
        }
        F_SETLK | F_SETLKW | F_GETLK | F_OFD_SETLK | F_OFD_SETLKW | F_OFD_GETLK => {
            t.fds.get(fd).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

fn dup_min(t: &mut Task, fd: i32, min: i32, cloexec: bool) -> R {
    let f = t.fds.get(fd)?;
    t.fds.install(f, cloexec, min).map(i64::from)
}

fn dup(t: &mut Task, fd: i32, to: Option<i32>, cloexec: bool) -> R {
    let f = t.fds.get(fd)?;
    match to {
        None => t.fds.install(f, false, 0).map(i64::from),
        Some(to) if to == fd => Ok(to as i64),
        Some(to) if !(0..1024).contains(&to) => Err(EBADF),
        Some(to) => {
            t.fds.install_at(to, f, cloexec);
            Ok(to as i64)
        }
    }
}

fn rename(t: &mut Task, od: i32, op: u64, nd: i32, np: u64) -> R {
    let (o, n) = (path(t, op)?, path(t, np)?);
    let (o, n) = (at(t, od, &o)?, at(t, nd, &n)?);
    t.fs.rename(&o, &n).map(|_| 0)
}

fn symlink(t: &mut Task, target: u64, dirfd: i32, addr: u64) -> R {
    let target = path(t, target)?;
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    t.fs.symlink(&target, &abs).map(|_| 0)
}

fn fchdir(t: &mut Task, fd: i32) -> R {
    let p = t.fds.get(fd)?.borrow().path.clone();
    t.fs.chdir(&p).map(|_| 0)
}

fn getcwd(t: &mut Task, buf: u64, size: u64) -> R {
    let mut cwd = t.fs.cwd.clone().into_bytes();
    cwd.push(0);
    if cwd.len() as u64 > size {
        return Err(ERANGE);
    }
    put(t, buf, &cwd)?;
    Ok(cwd.len() as i64)
}

fn mmap(t: &mut Task, addr: u64, len: u64, prot: i32, flags: i32, fd: i32, off: u64) -> R {
    if len == 0 || !off.is_multiple_of(4096) {
        return Err(EINVAL);
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let hint = (addr != 0).then_some(addr);
    if flags & MAP_ANONYMOUS != 0 {
        return t
            .mm
            .map(t.asp.as_mut(), hint, len, prot, fixed)
            .map(|a| a as i64);
    }
    // A file mapping: the file's bytes are copied into fresh memory. Shared writable file
    // mappings are not written back yet (step 2 adds a page cache).
    let h = host_fd(t, fd)?;
    let start =
        t.mm.map(t.asp.as_mut(), hint, len, PROT_READ | PROT_WRITE, fixed)?;
    let mut data = vec![0u8; len as usize];
    let mut got = 0;
    while got < data.len() {
        match crate::host::pread(h, &mut data[got..], off as i64 + got as i64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                let _ = t.mm.unmap(t.asp.as_mut(), start, len);
                return Err(err(e));
            }
        }
    }
    t.mm.write_any(start, &data[..got])?;
    if prot != PROT_READ | PROT_WRITE {
        t.mm.protect(t.asp.as_mut(), start, page_up(len), prot)?;
    }
    Ok(start as i64)
}

fn madvise(t: &mut Task, addr: u64, len: u64, advice: i32) -> R {
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => t.mm.discard(addr, len).map(|_| 0),
        _ => Ok(0),
    }
}

fn getres(t: &mut Task, ptrs: [u64; 3], id: u32) -> R {
    for p in ptrs {
        put(t, p, &id.to_le_bytes())?;
    }
    Ok(0)
}

fn uname(t: &mut Task, buf: u64) -> R {
    let mut b = vec![0u8; 65 * 6];
    let release = host_release();
    for (i, v) in [
        "Linux",
        t.hostname.as_str(),
        release.as_str(),
        "#1 bulkhead sentry",
        "x86_64",
        "(none)",
    ]
    .iter()
    .enumerate()
    {
        let bytes = v.as_bytes();
        let n = bytes.len().min(64);
        b[i * 65..i * 65 + n].copy_from_slice(&bytes[..n]);
    }
    put(t, buf, &b).map(|_| 0)
}

/// The host kernel's release, read once before confinement (glibc checks it).
fn host_release() -> String {
    crate::HOST_RELEASE
        .get()
        .cloned()
        .unwrap_or_else(|| "6.0.0".into())
}

fn sethostname(t: &mut Task, addr: u64, len: u64) -> R {
    if len > 64 {
        return Err(EINVAL);
    }
    t.hostname = String::from_utf8_lossy(&t.mm.read_vec(addr, len as usize)?).into_owned();
    Ok(0)
}

fn arch_prctl(t: &mut Task, code: i32, addr: u64) -> R {
    const ARCH_SET_GS: i32 = 0x1001;
    const ARCH_SET_FS: i32 = 0x1002;
    const ARCH_GET_FS: i32 = 0x1003;
    const ARCH_GET_GS: i32 = 0x1004;
    match code {
        ARCH_SET_FS => t.regs.fs_base = addr,
        ARCH_SET_GS => t.regs.gs_base = addr,
        ARCH_GET_FS => put(t, addr, &t.regs.fs_base.to_le_bytes())?,
        ARCH_GET_GS => put(t, addr, &t.regs.gs_base.to_le_bytes())?,
        _ => return Err(EINVAL),
    }
    Ok(0)
}

fn prlimit(t: &mut Task, pid: i32, res: u32, new: u64, old: u64) -> R {
    if pid != 0 && pid != 1 {
        return Err(ESRCH);
    }
    if res >= 16 {
        return Err(EINVAL);
    }
    let cur = t.rlimits.get(&res).copied().unwrap_or(match res as i32 {
        x if x == RLIMIT_STACK as i32 => (8 << 20, u64::MAX),
        x if x == RLIMIT_NOFILE as i32 => (1024, 1024),
        _ => (u64::MAX, u64::MAX),
    });
    if old != 0 {
        let mut b = cur.0.to_le_bytes().to_vec();
        b.extend_from_slice(&cur.1.to_le_bytes());
        put(t, old, &b)?;
    }
    if new != 0 {
        let (s, h) = (t.mm.read_u64(new)?, t.mm.read_u64(new + 8)?);
        if s > h {
            return Err(EINVAL);
        }
        t.rlimits.insert(res, (s, h));
    }
    Ok(0)
}

fn prctl(t: &mut Task, op: i32, arg: u64) -> R {
    match op {
        PR_SET_NAME => {
            let name =
                t.mm.read_cstr(arg, 16)
                    .or_else(|_| t.mm.read_vec(arg, 15))?;
            t.fs.proc.comm = String::from_utf8_lossy(&name).chars().take(15).collect();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = t.fs.proc.comm.clone().into_bytes();
            name.resize(16, 0);
            put(t, arg, &name).map(|_| 0)
        }
        PR_SET_PDEATHSIG | PR_SET_DUMPABLE | PR_SET_NO_NEW_PRIVS => Ok(0),
        PR_GET_DUMPABLE => Ok(1),
        _ => Err(EINVAL),
    }
}

fn sched_getaffinity(t: &mut Task, len: u64, mask: u64) -> R {
    if len < 8 {
        return Err(EINVAL);
    }
    let cpus = crate::CPUS.get().copied().unwrap_or(1).clamp(1, 64);
    let bits: u64 = if cpus == 64 {
        u64::MAX
    } else {
        (1u64 << cpus) - 1
    };
    put(t, mask, &bits.to_le_bytes())?;
    Ok(8)
}

fn sysinfo(t: &mut Task, buf: u64) -> R {
    let mut b = vec![0u8; 112];
    let (up, _) = crate::host::clock_gettime(CLOCK_BOOTTIME).unwrap_or((0, 0));
    b[0..8].copy_from_slice(&up.to_le_bytes());
    let total = crate::MEM_TOTAL.get().copied().unwrap_or(1 << 30);
    b[32..40].copy_from_slice(&total.to_le_bytes());
    b[40..48].copy_from_slice(&total.saturating_sub(t.mm.resident).to_le_bytes());
    b[80..82].copy_from_slice(&1u16.to_le_bytes()); // procs
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    put(t, buf, &b).map(|_| 0)
}

fn sigaction(t: &mut Task, sig: usize, act: u64, old: u64) -> R {
    if sig == 0 || sig > 64 || sig == SIGKILL as usize || sig == SIGSTOP as usize {
        return Err(EINVAL);
    }
    if old != 0 {
        let cur = t.signals.actions[sig];
        put(t, old, &cur)?;
    }
    if act != 0 {
        let mut a = [0u8; 32];
        t.mm.read(act, &mut a)?;
        t.signals.actions[sig] = a;
    }
    Ok(0)
}

fn sigprocmask(t: &mut Task, how: i32, set: u64, old: u64) -> R {
    if old != 0 {
        let m = t.signals.mask;
        put(t, old, &m.to_le_bytes())?;
    }
    if set != 0 {
        let s = t.mm.read_u64(set)? & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
        t.signals.mask = match how {
            SIG_BLOCK => t.signals.mask | s,
            SIG_UNBLOCK => t.signals.mask & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        };
    }
    Ok(0)
}

/// kill/tgkill aimed at the task itself (the only process until fork): the signal is sent,
/// and delivered on the way back from this call.
fn kill_self(t: &mut Task, a: &[u64; 6], nr: i64) -> R {
    let (pid, sig) = if nr == SYS_tgkill {
        (a[1] as i32, a[2] as i32)
    } else {
        (a[0] as i32, a[1] as i32)
    };
    if pid != 1 && pid != 0 && pid != -1 {
        return Err(ESRCH);
    }
    if !(0..=64).contains(&sig) {
        return Err(EINVAL);
    }
    if sig != 0 {
        crate::signals::send(t, sig);
    }
    Ok(0)
}

fn timespec_bytes(s: i64, ns: i64) -> Vec<u8> {
    let mut b = s.to_le_bytes().to_vec();
    b.extend_from_slice(&ns.to_le_bytes());
    b
}

fn clock_gettime(t: &mut Task, clock: i32, buf: u64) -> R {
    let (s, ns) = crate::host::clock_gettime(clock).map_err(err)?;
    put(t, buf, &timespec_bytes(s, ns)).map(|_| 0)
}

fn gettimeofday(t: &mut Task, buf: u64) -> R {
    if buf != 0 {
        let (s, ns) = crate::host::clock_gettime(CLOCK_REALTIME).map_err(err)?;
        put(t, buf, &timespec_bytes(s, ns / 1000))?;
    }
    Ok(0)
}

fn time(t: &mut Task, buf: u64) -> R {
    let (s, _) = crate::host::clock_gettime(CLOCK_REALTIME).map_err(err)?;
    if buf != 0 {
        put(t, buf, &s.to_le_bytes())?;
    }
    Ok(s)
}

/// A timespec argument, checked as the kernel checks it.
fn read_timespec(t: &mut Task, addr: u64) -> Result<(i64, i64), Errno> {
    let (s, ns) = (t.mm.read_u64(addr)? as i64, t.mm.read_u64(addr + 8)? as i64);
    if !(0..1_000_000_000).contains(&ns) || s < 0 {
        return Err(EINVAL);
    }
    Ok((s, ns))
}

/// clock_nanosleep: relative, or with TIMER_ABSTIME until a deadline of `clock` (python's
/// time.sleep and glibc's sleep use it). Only the wall and monotonic clocks pass to the host;
/// a CPU-time clock would measure the sentry's time, and a dynamic clock names a host fd.
/// Flag bits other than TIMER_ABSTIME are ignored, as Linux ignores them.
fn clock_nanosleep(t: &mut Task, clock: i32, flags: i32, req: u64) -> R {
    if !matches!(
        clock,
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_TAI
    ) {
        return Err(EINVAL);
    }
    let (s, ns) = read_timespec(t, req)?;
    crate::host::clock_nanosleep(clock, flags & TIMER_ABSTIME, s, ns)
        .map_err(err)
        .map(|_| 0)
}

fn getrandom(t: &mut Task, buf: u64, len: u64) -> R {
    let mut b = vec![0u8; (len as usize).min(IO_CHUNK)];
    let n = crate::host::getrandom(&mut b).map_err(err)?;
    put(t, buf, &b[..n])?;
    Ok(n as i64)
}

fn futex(op: i32) -> R {
    match op & FUTEX_CMD_MASK {
        FUTEX_WAKE => Ok(0),
        FUTEX_WAIT | FUTEX_WAIT_BITSET => Err(EAGAIN),
        _ => Err(ENOSYS),
    }
}

/// A system call's name, for the ENOSYS report.
pub fn name(nr: u64) -> String {
    let known: &[(i64, &str)] = &[
        (SYS_rseq, "rseq"),
        (SYS_clone, "clone"),
        (SYS_clone3, "clone3"),
        (SYS_fork, "fork"),
        (SYS_vfork, "vfork"),
        (SYS_execve, "execve"),
        (SYS_wait4, "wait4"),
        (SYS_pipe, "pipe"),
        (SYS_pipe2, "pipe2"),
        (SYS_socket, "socket"),
        (SYS_poll, "poll"),
        (SYS_ppoll, "ppoll"),
        (SYS_select, "select"),
        (SYS_pselect6, "pselect6"),
        (SYS_prctl, "prctl"),
        (SYS_statfs, "statfs"),
        (SYS_fstatfs, "fstatfs"),
        (SYS_chown, "chown"),
        (SYS_fchownat, "fchownat"),
        (SYS_utimensat, "utimensat"),
        (SYS_membarrier, "membarrier"),
        (SYS_getcpu, "getcpu"),
        (SYS_alarm, "alarm"),
        (SYS_setitimer, "setitimer"),
        (SYS_copy_file_range, "copy_file_range"),
        (SYS_splice, "splice"),
    ];
    known
        .iter()
        .find(|(n, _)| *n as u64 == nr)
        .map(|(_, s)| format!("{s}({nr})"))
        .unwrap_or_else(|| format!("syscall({nr})"))
}
