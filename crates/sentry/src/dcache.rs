//! The directories of recent path lookups, kept open (O_PATH) by path. A stat or a read-only
//! open of `/www/index.html` then asks the host about the leaf beneath `/www`'s fd in one
//! call (fstatat, openat2), instead of resolving the whole path beneath the root again: a
//! stat by path was three host calls (an O_PATH open, fstat, close), and nginx makes one per
//! request before it opens the file (docs/sandbox.md, "Goals missed").
//!
//! Why it is safe: each kept fd was opened beneath the root (RESOLVE_IN_ROOT), and a lookup
//! beneath it names one component that is neither `.` nor `..`, with no symlink followed
//! (the caller falls back to the general path for a symlink leaf). Why it stays true: every
//! change the sandbox makes to names forgets it all (`forget`, from the system-call table, as
//! perm.rs's directory cache), and a change from outside the sandbox (the host renaming a
//! directory of a volume under a running pod) shows within FRESH, as perm.rs's does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// How long a kept directory fd stands for its path.
const FRESH: Duration = Duration::from_secs(1);
/// Bound on the fds kept (each is one of the sentry's own host fds).
const MAX: usize = 64;

struct Entry {
    /// The root the directory was looked up beneath. Held weakly so that the root's
    /// allocation, whose address is half of the key, cannot be reused by another root (a
    /// joined container's) while the entry lives.
    root: Weak<OwnedFd>,
    dir: OwnedFd,
}

struct Cache {
    since: Instant,
    map: HashMap<(usize, String), Entry>,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache {
            since: Instant::now(),
            map: HashMap::new(),
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Forgets every kept directory: called before any system call that may change a name.
pub fn forget() {
    CACHE.with(|c| c.borrow_mut().map.clear());
}

/// Closes the kept fds once they are stale; when the next check is due, if any are kept.
/// The loop calls it before it sleeps and wakes for the deadline, so that an idle sandbox
/// holds no directory of the rootfs open for long (a volume the host would unmount).
pub fn expire() -> Option<Instant> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.since.elapsed() > FRESH {
            c.map.clear();
        }
        (!c.map.is_empty()).then(|| c.since + FRESH + Duration::from_millis(1))
    })
}

/// `abs` (absolute, normalized) split into its directory and a leaf the host may look up
/// beneath the directory's fd with nothing else resolved; None for the root itself, a
/// trailing slash, or a `.` or `..` anywhere.
pub fn split(abs: &str) -> Option<(&str, &str)> {
    let (dir, leaf) = abs.rsplit_once('/')?;
    if leaf.is_empty() || abs.split('/').any(|p| p == "." || p == "..") {
        return None;
    }
    Some((if dir.is_empty() { "/" } else { dir }, leaf))
}

/// Runs `f` with an fd of directory `dir` beneath `root`: the root's own for "/", else the
/// kept one, opened and kept first when needed. None when `dir` cannot be opened as a
/// directory: the caller's general path then gives the errno.
pub fn with_dir<R>(
    root: &Rc<OwnedFd>,
    dir: &str,
    f: impl FnOnce(BorrowedFd<'_>) -> R,
) -> Option<R> {
    if dir == "/" {
        return Some(f(root.as_fd()));
    }
    let key = (Rc::as_ptr(root) as usize, dir.to_string());
    let mut c = CACHE.with(|c| std::mem::take(&mut *c.borrow_mut()));
    if c.since.elapsed() > FRESH {
        c.map.clear();
        c.since = Instant::now();
    }
    let kept = c
        .map
        .get(&key)
        .filter(|e| e.root.upgrade().is_some_and(|r| Rc::ptr_eq(&r, root)));
    let r = match kept {
        Some(e) => Some(f(e.dir.as_fd())),
        None => {
            let flags = libc::O_PATH | libc::O_DIRECTORY;
            let path = std::path::Path::new(dir);
            match bulkhead_linux::resolve::open_in_root(&**root, path, flags, 0) {
                Ok(dir) => {
                    let r = f(dir.as_fd());
                    if c.map.len() >= MAX {
                        c.map.clear();
                    }
                    let root = Rc::downgrade(root);
                    c.map.insert(key, Entry { root, dir });
                    Some(r)
                }
                Err(_) => None,
            }
        }
    };
    CACHE.with(|cell| *cell.borrow_mut() = c);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn only_plain_leaves_are_split() {
        assert_eq!(split("/www/index.html"), Some(("/www", "index.html")));
        assert_eq!(split("/etc"), Some(("/", "etc")));
        assert_eq!(split("/"), None);
        assert_eq!(split("/www/"), None);
        assert_eq!(split("/www/.."), None);
        assert_eq!(split("/www/../etc/passwd"), None);
        assert_eq!(split("/www/."), None);
    }

    #[test]
    fn a_kept_directory_serves_only_its_own_root() {
        let open = |p: &str| {
            let c = std::ffi::CString::new(p).unwrap();
            // SAFETY: a valid C string; the fd is fresh and owned here.
            let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            assert!(fd >= 0);
            Rc::new(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
        };
        let a = tempfile_dir("a");
        let b = tempfile_dir("b");
        std::fs::create_dir_all(format!("{a}/d")).unwrap();
        std::fs::create_dir_all(format!("{b}/d")).unwrap();
        std::fs::write(format!("{a}/d/only-in-a"), "").unwrap();
        let (ra, rb) = (open(&a), open(&b));
        let has = |root: &Rc<OwnedFd>| {
            with_dir(root, "/d", |fd| {
                crate::host::fstatat(fd.as_raw_fd(), c"only-in-a", 0).is_ok()
            })
        };
        assert_eq!(has(&ra), Some(true));
        assert_eq!(has(&rb), Some(false));
        assert_eq!(has(&ra), Some(true));
        assert_eq!(with_dir(&ra, "/missing", |_| ()), None);
        std::fs::remove_dir_all(a).unwrap();
        std::fs::remove_dir_all(b).unwrap();
    }

    fn tempfile_dir(tag: &str) -> String {
        let d = std::env::temp_dir().join(format!("dcache-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.to_string_lossy().into_owned()
    }
}
