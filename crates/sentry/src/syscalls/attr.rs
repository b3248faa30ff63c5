//! File attributes: chmod, chown, file times and statfs. Each acts on an O_PATH fd of the
//! file, found beneath the root like every other path (vfs.rs), so the host calls take an fd
//! and an empty path (AT_EMPTY_PATH), never a path the application chose.
//!
//! The sentry holds no capabilities: what it changes is what an unprivileged owner may
//! (chmod and times of files it owns, chown to the same owner); giving the application's own
//! capabilities their effect (CAP_CHOWN, CAP_FOWNER) is the credentials issue's.

use super::*;
use std::fs::File;

/// The file a *at call names: `dirfd` itself for an empty path with AT_EMPTY_PATH, else the
/// path beneath the root, following a last symlink unless AT_SYMLINK_NOFOLLOW.
/// What a change acts on: an open file's host fd or an O_PATH fd of a path; and the path
/// (for inotify's IN_ATTRIB).
enum Target {
    Fd(i32, String),
    Path(File, String),
}

impl Target {
    fn raw(&self) -> i32 {
        match self {
            Target::Fd(fd, _) => *fd,
            Target::Path(f, _) => f.as_raw_fd(),
        }
    }

    /// The change was made: IN_ATTRIB for the file's watchers.
    fn changed(&self) -> i64 {
        let (Target::Fd(_, p) | Target::Path(_, p)) = self;
        crate::inotify::on_path(p, crate::inotify::IN_ATTRIB);
        0
    }
}

fn target(t: &mut Task, dirfd: i32, addr: u64, flags: i32) -> Result<Target, Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let p = t.mm.read_cstr(addr, PATH_MAX as usize)?;
    if p.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        return fd_target(t, dirfd);
    }
    let p = String::from_utf8(p).map_err(|_| EINVAL)?;
    let abs = at(t, dirfd, &p)?;
    crate::perm::search(&t.fs, &t.creds, &abs)?;
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    t.fs.path_fd(&abs, follow).map(|f| Target::Path(f, abs))
}

/// The stat of what is about to change.
fn stat_of(f: &Target) -> Result<libc::stat, Errno> {
    crate::host::fstat_raw(f.raw()).map_err(err)
}

/// chmod by the owner or with CAP_FOWNER; the set-group-ID bit goes unless the caller is in
/// the file's group or has CAP_FSETID (Linux's rules).
fn checked_mode(t: &Task, f: &Target, mode: u32) -> Result<u32, Errno> {
    let st = stat_of(f)?;
    crate::perm::owner(&t.creds, &st)?;
    let c = &t.creds;
    let in_group = c.in_group(st.st_gid);
    if !in_group && !c.capable(crate::kernel::creds::CAP_FSETID) {
        return Ok(mode & !S_ISGID);
    }
    Ok(mode)
}

/// chown: a new owner needs CAP_CHOWN; a new group, CAP_CHOWN or being the owner and a member
/// of it (u32::MAX leaves an id as it is).
fn check_chown(t: &Task, f: &Target, uid: u32, gid: u32) -> Result<(), Errno> {
    let st = stat_of(f)?;
    let c = &t.creds;
    if c.capable(crate::kernel::creds::CAP_CHOWN) {
        return Ok(());
    }
    let uid_ok = uid == u32::MAX || (uid == st.st_uid && c.uids.fs == st.st_uid);
    let gid_ok = gid == u32::MAX
        || (c.uids.fs == st.st_uid && c.in_group(gid))
        || (gid == st.st_gid && c.uids.fs == st.st_uid);
    if uid_ok && gid_ok {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// Setting times: given ones need the owner or CAP_FOWNER (EPERM); "now" also write access
/// (EACCES).
fn check_times(t: &Task, f: &Target, ts: Option<&[libc::timespec; 2]>) -> Result<(), Errno> {
    let st = stat_of(f)?;
    let now = ts.is_none_or(|ts| ts.iter().all(|x| x.tv_nsec == UTIME_NOW));
    match crate::perm::owner(&t.creds, &st) {
        Ok(()) => Ok(()),
        Err(_) if now && crate::perm::may(&t.creds, &st, crate::perm::W) => Ok(()),
        Err(_) if now => Err(EACCES),
        Err(e) => Err(e),
    }
}

/// An open file's host fd; the sentry's own files (pipes, /dev, /proc) cannot be changed.
fn fd_target(t: &Task, fd: i32) -> Result<Target, Errno> {
    match host_fd(t, fd) {
        Ok(h) => Ok(Target::Fd(h, t.fds.get(fd)?.borrow().path.clone())),
        Err(EINVAL) => Err(EPERM),
        Err(e) => Err(e),
    }
}

pub(super) fn chmod(t: &mut Task, dirfd: i32, addr: u64, mode: u32, flags: i32) -> R {
    let f = target(t, dirfd, addr, flags)?;
    let mode = checked_mode(t, &f, mode & 0o7777)?;
    crate::host::chmod_fd(f.raw(), mode)
        .map_err(err)
        .map(|_| f.changed())
}

pub(super) fn fchmod(t: &mut Task, fd: i32, mode: u32) -> R {
    let f = fd_target(t, fd)?;
    let mode = checked_mode(t, &f, mode & 0o7777)?;
    crate::host::chmod_fd(f.raw(), mode)
        .map_err(err)
        .map(|_| f.changed())
}

pub(super) fn chown(t: &mut Task, dirfd: i32, addr: u64, ids: (u32, u32), flags: i32) -> R {
    let f = target(t, dirfd, addr, flags)?;
    check_chown(t, &f, ids.0, ids.1)?;
    crate::host::chown_fd(f.raw(), ids.0, ids.1)
        .map_err(err)
        .map(|_| f.changed())
}

pub(super) fn fchown(t: &mut Task, fd: i32, uid: u32, gid: u32) -> R {
    let f = fd_target(t, fd)?;
    check_chown(t, &f, uid, gid)?;
    crate::host::chown_fd(f.raw(), uid, gid)
        .map_err(err)
        .map(|_| f.changed())
}

/// A timespec of utimensat: nanoseconds in range, or UTIME_NOW / UTIME_OMIT.
fn read_utime(t: &Task, addr: u64) -> Result<libc::timespec, Errno> {
    let (s, ns) = (t.mm.read_u64(addr)? as i64, t.mm.read_u64(addr + 8)? as i64);
    if !(0..1_000_000_000).contains(&ns) && ns != UTIME_NOW && ns != UTIME_OMIT {
        return Err(EINVAL);
    }
    Ok(libc::timespec {
        tv_sec: s,
        tv_nsec: ns,
    })
}

/// utimensat(dirfd, path, times, flags): a NULL path means dirfd itself; NULL times, now.
pub(super) fn utimensat(t: &mut Task, dirfd: i32, addr: u64, times: u64, flags: i32) -> R {
    let ts = if times == 0 {
        None
    } else {
        Some([read_utime(t, times)?, read_utime(t, times + 16)?])
    };
    let f = if addr == 0 {
        if flags & !AT_SYMLINK_NOFOLLOW != 0 {
            return Err(EINVAL);
        }
        fd_target(t, dirfd)?
    } else {
        target(t, dirfd, addr, flags)?
    };
    check_times(t, &f, ts.as_ref())?;
    crate::host::utimens_fd(f.raw(), ts.as_ref())
        .map_err(err)
        .map(|_| f.changed())
}

/// utimes and futimesat: times as two timevals (NULL: now).
pub(super) fn utimes(t: &mut Task, dirfd: i32, addr: u64, times: u64) -> R {
    let ts = if times == 0 {
        None
    } else {
        let tv = |o: u64| -> Result<libc::timespec, Errno> {
            let (s, us) = (
                t.mm.read_u64(times + o)? as i64,
                t.mm.read_u64(times + o + 8)? as i64,
            );
            if !(0..1_000_000).contains(&us) {
                return Err(EINVAL);
            }
            Ok(libc::timespec {
                tv_sec: s,
                tv_nsec: us * 1000,
            })
        };
        Some([tv(0)?, tv(16)?])
    };
    let f = target(t, dirfd, addr, 0)?;
    check_times(t, &f, ts.as_ref())?;
    crate::host::utimens_fd(f.raw(), ts.as_ref())
        .map_err(err)
        .map(|_| f.changed())
}

/// utime(path, {actime, modtime}) in whole seconds (NULL: now).
pub(super) fn utime(t: &mut Task, addr: u64, times: u64) -> R {
    let ts = if times == 0 {
        None
    } else {
        let sec = |o: u64| -> Result<libc::timespec, Errno> {
            Ok(libc::timespec {
                tv_sec: t.mm.read_u64(times + o)? as i64,
                tv_nsec: 0,
            })
        };
        Some([sec(0)?, sec(8)?])
    };
    let f = target(t, AT_FDCWD, addr, 0)?;
    check_times(t, &f, ts.as_ref())?;
    crate::host::utimens_fd(f.raw(), ts.as_ref())
        .map_err(err)
        .map(|_| f.changed())
}

/// The statfs of the sentry's own file systems: /proc, /dev (a tmpfs) and pipes.
fn synthetic_statfs(magic: i64) -> Vec<u8> {
    let mut b = vec![0u8; 120];
    b[0..8].copy_from_slice(&magic.to_le_bytes());
    b[8..16].copy_from_slice(&4096i64.to_le_bytes()); // f_bsize
    b[64..72].copy_from_slice(&255i64.to_le_bytes()); // f_namelen
    b[72..80].copy_from_slice(&4096i64.to_le_bytes()); // f_frsize
    b
}

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const PIPEFS_MAGIC: i64 = 0x5049_5045;

pub(super) fn statfs(t: &mut Task, addr: u64, buf: u64) -> R {
    let p = path(t, addr)?;
    let abs = at(t, AT_FDCWD, &p)?;
    let b = if abs == "/proc" || abs.starts_with("/proc/") {
        t.fs.stat(&abs, true)?;
        synthetic_statfs(PROC_SUPER_MAGIC)
    } else if abs == "/dev" || abs.starts_with("/dev/") && t.fs.path_fd(&abs, true).is_err() {
        t.fs.stat(&abs, true)?;
        synthetic_statfs(TMPFS_MAGIC)
    } else {
        let f = t.fs.path_fd(&abs, true)?;
        crate::host::statfs_fd(f.as_raw_fd()).map_err(err)?
    };
    put(t, buf, &b).map(|_| 0)
}

pub(super) fn fstatfs(t: &mut Task, fd: i32, buf: u64) -> R {
    let b = match host_fd(t, fd) {
        Ok(h) => crate::host::statfs_fd(h).map_err(err)?,
        Err(EINVAL) => {
            let f = t.fds.get(fd)?;
            let magic = match &f.borrow().node {
                Node::Pipe(..) => PIPEFS_MAGIC,
                _ if f.borrow().path.starts_with("/proc") => PROC_SUPER_MAGIC,
                _ => TMPFS_MAGIC,
            };
            synthetic_statfs(magic)
        }
        Err(e) => return Err(e),
    };
    put(t, buf, &b).map(|_| 0)
}

/// flock: advisory locks of open file descriptions, kept by the host on the sentry's host fd
/// (one per description, so processes of the sandbox contend as on Linux). A lock that must
/// wait is retried by the kernel's loop whenever something changes (an unlock, a close);
/// LOCK_NB gives EWOULDBLOCK. Locks on the sentry's own files (pipes, /dev) always succeed.
pub(super) fn flock(t: &mut Task, fd: i32, op: i32) -> R {
    let kind = op & !LOCK_NB;
    if !matches!(kind, LOCK_SH | LOCK_EX | LOCK_UN) {
        return Err(EINVAL);
    }
    let f = t.fds.get(fd)?;
    let host = match &f.borrow().node {
        Node::Host(h) => Some(h.as_raw_fd()),
        _ => None,
    };
    let Some(h) = host else {
        return Ok(0);
    };
    match crate::host::flock(h, kind) {
        Ok(()) => {
            f.borrow_mut().flocked = true;
            if kind == LOCK_UN {
                crate::kernel::wait::poke();
            }
            Ok(0)
        }
        Err(e) if e.raw_os_error() == Some(EWOULDBLOCK) && op & LOCK_NB == 0 => {
            Err(t.block(crate::kernel::wait::Wait::retry()))
        }
        Err(e) => Err(err(e)),
    }
}

/// fcntl's record locks: F_GETLK/F_SETLK/F_SETLKW (owned by the process) and their F_OFD_
/// forms (owned by the open file description), on a struct flock (l_type, l_whence, l_start,
/// l_len, l_pid). A lock that conflicts is EAGAIN, or with the W forms waits in the kernel's
/// loop until something is unlocked. Only the rootfs's files take them (EINVAL for pipes and
/// the sentry's own files).
pub(super) fn record_lock(t: &mut Task, fd: i32, cmd: i32, arg: u64) -> R {
    let f = t.fds.get(fd)?;
    let b = t.mm.read_vec(arg, 32)?;
    let kind = i16::from_le_bytes([b[0], b[1]]) as i32;
    let whence = i16::from_le_bytes([b[2], b[3]]) as i32;
    let l_start = i64::from_le_bytes(b[8..16].try_into().map_err(|_| EFAULT)?);
    let l_len = i64::from_le_bytes(b[16..24].try_into().map_err(|_| EFAULT)?);
    let l_pid = i32::from_le_bytes(b[24..28].try_into().map_err(|_| EFAULT)?);
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && l_pid != 0 {
        return Err(EINVAL);
    }
    let write = match kind {
        F_RDLCK => Some(false),
        F_WRLCK => Some(true),
        F_UNLCK => None,
        _ => return Err(EINVAL),
    };
    let file = crate::vfs::file_id(&f).ok_or(EINVAL)?;
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => crate::host::lseek(host_fd(t, fd)?, 0, SEEK_CUR).map_err(err)?,
        SEEK_END => {
            crate::host::fstat_raw(host_fd(t, fd)?)
                .map_err(err)?
                .st_size
        }
        _ => return Err(EINVAL),
    };
    let (start, end) = crate::locks::range(base.checked_add(l_start).ok_or(EINVAL)?, l_len)?;
    let owner = if ofd {
        crate::locks::Owner::Description(f.borrow().id())
    } else {
        crate::locks::Owner::Process(t.pid)
    };
    let want = crate::locks::Lock {
        owner,
        write: write.unwrap_or(false),
        start,
        end,
    };
    if matches!(cmd, F_GETLK | F_OFD_GETLK) {
        if write.is_none() {
            return Err(EINVAL);
        }
        let mut out = b.clone();
        match crate::locks::conflict(file, &want) {
            Some(x) => {
                let len = if x.end == u64::MAX {
                    0
                } else {
                    (x.end - x.start) as i64
                };
                let pid = match x.owner {
                    crate::locks::Owner::Process(p) => p,
                    crate::locks::Owner::Description(_) => -1,
                };
                let ty = if x.write { F_WRLCK } else { F_RDLCK } as i16;
                out[0..2].copy_from_slice(&ty.to_le_bytes());
                out[2..4].copy_from_slice(&(SEEK_SET as i16).to_le_bytes());
                out[8..16].copy_from_slice(&(x.start as i64).to_le_bytes());
                out[16..24].copy_from_slice(&len.to_le_bytes());
                out[24..28].copy_from_slice(&pid.to_le_bytes());
            }
            None => out[0..2].copy_from_slice(&(F_UNLCK as i16).to_le_bytes()),
        }
        return put(t, arg, &out).map(|_| 0);
    }
    // A read lock needs a descriptor open for reading, a write lock one open for writing.
    let mode = f.borrow().flags & O_ACCMODE;
    if (write == Some(false) && mode == O_WRONLY) || (write == Some(true) && mode == O_RDONLY) {
        return Err(EBADF);
    }
    if write.is_some() && crate::locks::conflict(file, &want).is_some() {
        return if matches!(cmd, F_SETLKW | F_OFD_SETLKW) {
            Err(t.block(crate::kernel::wait::Wait::retry()))
        } else {
            Err(EAGAIN)
        };
    }
    crate::locks::set(file, owner, write, start, end);
    Ok(0)
}
