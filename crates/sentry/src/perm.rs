//! File permissions for the application's credentials (kernel/creds.rs), checked by the
//! sentry before it acts: the host sees only the sentry, which holds in its own user
//! namespace the capabilities it needs to act for any application (confine.rs), so the
//! application's own rights are enforced here, as Linux's generic_permission and may_delete
//! do: owner, group or other bits by the file-system ids; CAP_DAC_OVERRIDE and
//! CAP_DAC_READ_SEARCH; search permission on every directory of a path; write and search on
//! the directory an entry is made in or removed from; the sticky bit; CAP_FOWNER for changing
//! what only the owner may change.

use crate::kernel::creds::{Creds, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER};
use crate::mm::Errno;
use crate::vfs::Fs;

pub const R: u32 = 4;
pub const W: u32 = 2;
pub const X: u32 = 1;

/// Whether `c` may access a file of `st` for `want` (R, W, X bits), Linux's
/// generic_permission.
pub fn may(c: &Creds, st: &libc::stat, want: u32) -> bool {
    may_as(c, c.uids.fs, c.gids.fs, st, want, c.caps.effective)
}

/// As `may`, with the ids and capabilities given (access(2) checks the real ids).
fn may_as(c: &Creds, uid: u32, gid: u32, st: &libc::stat, want: u32, caps: u64) -> bool {
    let mode = st.st_mode;
    let bits = if uid == st.st_uid {
        mode >> 6
    } else if gid == st.st_gid || c.groups.contains(&st.st_gid) {
        mode >> 3
    } else {
        mode
    } & 7;
    if want & !bits == 0 {
        return true;
    }
    let has = |cap: u32| caps & (1 << cap) != 0;
    let dir = mode & libc::S_IFMT == libc::S_IFDIR;
    // CAP_DAC_OVERRIDE: anything but executing a file that no one may execute.
    if has(CAP_DAC_OVERRIDE) && (dir || want & X == 0 || mode & 0o111 != 0) {
        return true;
    }
    // CAP_DAC_READ_SEARCH: reading files, reading and searching directories.
    has(CAP_DAC_READ_SEARCH) && want & W == 0 && (dir || want == R)
}

/// Whether `c` bypasses every read and search check (root's usual case: no lookups needed).
fn reads_all(c: &Creds) -> bool {
    c.capable(CAP_DAC_OVERRIDE) || c.capable(CAP_DAC_READ_SEARCH)
}

/// The directories `abs` passes through, from the root: "/", "/a", "/a/b" for "/a/b/c".
fn ancestors(abs: &str) -> Vec<String> {
    let parts: Vec<&str> = abs.split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len())
        .map(|n| format!("/{}", parts[..n].join("/")))
        .collect()
}

/// Search permission on every directory on the way to `abs` (EACCES).
pub fn search(fs: &Fs, c: &Creds, abs: &str) -> Result<(), Errno> {
    if reads_all(c) || synthetic(abs) {
        return Ok(());
    }
    for dir in ancestors(abs) {
        if let Some(st) = dir_stat(fs, &dir) {
            // Linux's walk finds a file where a directory should be before it asks for
            // search permission on it.
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(libc::ENOTDIR);
            }
            if !may(c, &st, X) {
                return Err(libc::EACCES);
            }
        }
    }
    Ok(())
}

/// The stat of directory `dir` for a search check, from `DIRS` when it was looked up lately.
fn dir_stat(fs: &Fs, dir: &str) -> Option<libc::stat> {
    let key = (fs.root_id(), dir.to_string());
    if let Some(st) = DIRS.with(|d| d.borrow_mut().get(&key)) {
        return Some(st);
    }
    let st = fs.stat(dir, true).ok()?;
    DIRS.with(|d| d.borrow_mut().put(key, st));
    Some(st)
}

/// How long a looked-up directory's mode and owner are trusted: what a change made from
/// outside the sandbox (the host editing the rootfs under a running pod) may take to show.
const DIRS_FRESH: std::time::Duration = std::time::Duration::from_secs(1);
/// Bound on the entries kept (a walk of a large tree must not grow the sentry).
const DIRS_MAX: usize = 4096;

/// The modes and owners of directories that search() looked up: every path lookup of an
/// application without CAP_DAC_OVERRIDE (nginx's workers, any non-root user) checks each
/// directory on the way, three host calls apiece, the same few directories again and again.
/// Every change the sandbox itself makes to names or permissions forgets it all
/// (`forget`, from the system-call table); a change from outside shows within DIRS_FRESH.
struct DirCache {
    since: std::time::Instant,
    map: std::collections::HashMap<(usize, String), libc::stat>,
}

impl DirCache {
    fn get(&mut self, key: &(usize, String)) -> Option<libc::stat> {
        if self.since.elapsed() > DIRS_FRESH {
            self.map.clear();
            self.since = std::time::Instant::now();
        }
        self.map.get(key).copied()
    }

    fn put(&mut self, key: (usize, String), st: libc::stat) {
        if self.map.len() >= DIRS_MAX {
            self.map.clear();
        }
        self.map.insert(key, st);
    }
}

thread_local! {
    static DIRS: std::cell::RefCell<DirCache> = std::cell::RefCell::new(DirCache {
        since: std::time::Instant::now(),
        map: std::collections::HashMap::new(),
    });
}

/// Forgets every directory search() looked up: called before any system call that may
/// change a name or a permission (rename, unlink, chmod, chown, an xattr, a mount).
pub fn forget() {
    DIRS.with(|d| d.borrow_mut().map.clear());
}

/// The sentry's own /proc and /dev: their permissions are its to give.
fn synthetic(abs: &str) -> bool {
    (abs == "/proc" || abs.starts_with("/proc/") || abs == "/dev" || abs.starts_with("/dev/"))
        && !crate::vfs::in_dev_shm(abs)
}

/// open(2) of `abs` with `flags`: the path searched; an existing file readable and/or
/// writable as asked (O_TRUNC asks for writing); a new one (O_CREAT) made in a directory that
/// is writable and searchable.
pub fn open(fs: &Fs, c: &Creds, abs: &str, flags: i32) -> Result<(), Errno> {
    if synthetic(abs) {
        return Ok(());
    }
    search(fs, c, abs)?;
    let follow = flags & libc::O_NOFOLLOW == 0;
    match fs.stat(abs, follow) {
        // O_CREAT|O_EXCL of an existing file: open answers EEXIST before any permission.
        Ok(_) if flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL => Ok(()),
        Ok(st) => {
            let want = match flags & libc::O_ACCMODE {
                libc::O_RDONLY => R,
                libc::O_WRONLY => W,
                _ => R | W,
            } | if flags & libc::O_TRUNC != 0 { W } else { 0 };
            let link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
            if flags & libc::O_PATH != 0 || link || may(c, &st, want) {
                Ok(())
            } else {
                Err(libc::EACCES)
            }
        }
        Err(_) if flags & libc::O_CREAT != 0 => create(fs, c, abs),
        Err(_) => Ok(()), // open itself tells ENOENT
    }
}

/// Making an entry `abs`: its directory writable and searchable.
pub fn create(fs: &Fs, c: &Creds, abs: &str) -> Result<(), Errno> {
    if synthetic(abs) {
        return Ok(());
    }
    search(fs, c, abs)?;
    let parent = parent_of(abs);
    match fs.stat(&parent, true) {
        Ok(st) if !may(c, &st, W | X) => Err(libc::EACCES),
        _ => Ok(()),
    }
}

/// Whether `c` may make a hard link to a file of `st` (Linux's fs.protected_hardlinks, on by
/// default): its owner or CAP_FOWNER may; anyone else only for a regular file without set-id
/// bits that they may read and write.
pub fn may_link(c: &Creds, st: &libc::stat) -> bool {
    if c.uids.fs == st.st_uid || c.capable(CAP_FOWNER) {
        return true;
    }
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    let setid = st.st_mode & libc::S_ISUID != 0
        || st.st_mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP);
    regular && !setid && may(c, st, R | W)
}

/// Removing (or renaming away) the entry `abs`: as `create`, and in a sticky directory only
/// the owner of the entry or of the directory (or CAP_FOWNER).
pub fn delete(fs: &Fs, c: &Creds, abs: &str) -> Result<(), Errno> {
    create(fs, c, abs)?;
    let (Ok(dir), Ok(st)) = (fs.stat(&parent_of(abs), true), fs.stat(abs, false)) else {
        return Ok(());
    };
    let sticky = dir.st_mode & libc::S_ISVTX != 0;
    if sticky && c.uids.fs != st.st_uid && c.uids.fs != dir.st_uid && !c.capable(CAP_FOWNER) {
        return Err(libc::EPERM);
    }
    Ok(())
}

fn parent_of(abs: &str) -> String {
    match abs.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((p, _)) => p.into(),
    }
}

/// A file the sentry just made for the task (it makes them as its own uid 0) gets the task's
/// file-system uid, and its gid unless the directory's set-group-ID bit gave the directory's.
pub fn own_new(fs: &Fs, c: &Creds, abs: &str) {
    if c.uids.fs == 0 && c.gids.fs == 0 {
        return;
    }
    let setgid_dir = fs
        .stat(&parent_of(abs), true)
        .is_ok_and(|st| st.st_mode & libc::S_ISGID != 0);
    let gid = if setgid_dir { u32::MAX } else { c.gids.fs };
    if let Ok(f) = fs.path_fd(abs, false) {
        use std::os::fd::AsRawFd;
        let _ = crate::host::chown_fd(f.as_raw_fd(), c.uids.fs, gid);
    }
}

/// What only the owner (or CAP_FOWNER) may do to the file of `st`: chmod, set its times,
/// EPERM otherwise.
pub fn owner(c: &Creds, st: &libc::stat) -> Result<(), Errno> {
    if c.uids.fs == st.st_uid || c.capable(CAP_FOWNER) {
        Ok(())
    } else {
        Err(libc::EPERM)
    }
}

/// access(2): `mode` (R, W, X; 0 for existence) by the real ids and, for a real root, the
/// permitted capabilities (Linux's access override); with AT_EACCESS (`effective`) as open
/// would check.
pub fn access(fs: &Fs, c: &Creds, abs: &str, mode: u32, effective: bool) -> Result<(), Errno> {
    search(fs, c, abs)?;
    let st = fs.stat(abs, true)?;
    if mode == 0 || synthetic(abs) {
        return Ok(());
    }
    let ok = if effective {
        may(c, &st, mode)
    } else {
        let caps = if c.uids.real == 0 {
            c.caps.permitted
        } else {
            0
        };
        may_as(c, c.uids.real, c.gids.real, &st, mode, caps)
    };
    if ok {
        Ok(())
    } else {
        Err(libc::EACCES)
    }
}

/// Reading (`write` false) or changing an extended attribute `name` of the file of `st`, as
/// Linux's xattr_permission: user.* only on regular files and directories (others: ENODATA
/// to read, EPERM to change), by the file's read or write permission, and in a sticky
/// directory only by its owner or with CAP_FOWNER; trusted.* only with CAP_SYS_ADMIN, which
/// the sandbox never gives effect (ENODATA, EPERM); security.* readable, changed only with
/// CAP_SYS_ADMIN (security.capability: CAP_SETFCAP), which the sentry does not hold on the
/// host; POSIX ACLs (system.posix_acl_*) readable, not changeable (the sentry's checks do not
/// apply them); other names EOPNOTSUPP.
pub fn xattr(c: &Creds, st: &libc::stat, name: &[u8], write: bool) -> Result<(), Errno> {
    let kind = st.st_mode & libc::S_IFMT;
    if name.starts_with(b"user.") {
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return Err(if write { libc::EPERM } else { libc::ENODATA });
        }
        let sticky_dir = kind == libc::S_IFDIR && st.st_mode & libc::S_ISVTX != 0;
        if write && sticky_dir && owner(c, st).is_err() {
            return Err(libc::EPERM);
        }
        if !may(c, st, if write { W } else { R }) {
            return Err(libc::EACCES);
        }
        Ok(())
    } else if name.starts_with(b"trusted.") {
        Err(if write { libc::EPERM } else { libc::ENODATA })
    } else if name.starts_with(b"security.") || name.starts_with(b"system.posix_acl_") {
        if write {
            Err(if name.starts_with(b"system.") {
                libc::EOPNOTSUPP
            } else {
                libc::EPERM
            })
        } else {
            Ok(())
        }
    } else {
        Err(libc::EOPNOTSUPP)
    }
}
