//! Extended attributes: the get/set/list/remove families on paths (following a last symlink
//! or not) and on open files. The sentry checks the application's right to each (perm::xattr)
//! and then acts through the host's *xattrat calls on the file's directory fd and name, or on
//! the open file's host fd: never through a path the host would resolve.

use super::*;
use crate::host::XattrFile;
use std::ffi::CString;
use std::fs::File;

/// Linux's limits: a name of at most 255 bytes, a value (and a list) of at most 64 KiB.
const NAME_MAX: usize = 255;
const SIZE_MAX: usize = 65536;
const XATTR_CREATE: u32 = 1;
const XATTR_REPLACE: u32 = 2;

/// Where the attributes of what a call names are: a directory fd (kept open) and a name in
/// it, or an open file's fd; with the file's stat and its path (for inotify).
struct Place {
    dir: Option<File>,
    fd: i32,
    name: CString,
    st: libc::stat,
    path: String,
}

impl Place {
    fn file(&self) -> XattrFile<'_> {
        XattrFile {
            dir: self.dir.as_ref().map_or(self.fd, |d| d.as_raw_fd()),
            name: &self.name,
            at: if self.dir.is_some() {
                AT_SYMLINK_NOFOLLOW
            } else {
                AT_EMPTY_PATH
            },
        }
    }
}

/// One of the sentry's own files, which keep no attributes: /proc's answer as Linux's procfs
/// does, the others (pipes, /dev, epoll and the like) as files that cannot have user.*
/// attributes.
#[derive(Clone, Copy, PartialEq)]
enum Own {
    Proc,
    Other,
}

impl Own {
    fn get(self) -> Errno {
        if self == Own::Proc {
            EOPNOTSUPP
        } else {
            ENODATA
        }
    }

    /// A change: /proc's files are 0444 (EACCES unless CAP_DAC_OVERRIDE passes the write
    /// check; then procfs has nothing to set).
    fn change(self, t: &Task) -> Errno {
        match self {
            Own::Proc if t.creds.capable(crate::kernel::creds::CAP_DAC_OVERRIDE) => EOPNOTSUPP,
            Own::Proc => EACCES,
            Own::Other => EPERM,
        }
    }
}

/// The place of a path argument (`follow`: the call follows a last symlink).
fn by_path(t: &mut Task, addr: u64, follow: bool) -> Result<Result<Place, Own>, Errno> {
    let p = path(t, addr)?;
    let abs = at(t, AT_FDCWD, &p)?;
    crate::perm::search(&t.fs, &t.creds, &abs)?;
    let (dir, name, st) = match t.fs.xattr_place(&abs, follow) {
        Err(EOPNOTSUPP) if abs.starts_with("/proc") => return Ok(Err(Own::Proc)),
        Err(EOPNOTSUPP) => return Ok(Err(Own::Other)),
        r => r?,
    };
    Ok(Ok(Place {
        dir: Some(dir),
        fd: -1,
        name,
        st,
        path: abs,
    }))
}

/// The place of an open file: its host fd (EBADF for an O_PATH descriptor, as on Linux).
fn by_fd(t: &Task, fd: i32) -> Result<Result<Place, Own>, Errno> {
    let f = t.fds.get(fd)?;
    let of = f.borrow();
    if of.flags & O_PATH != 0 {
        return Err(EBADF);
    }
    match &of.node {
        Node::Host(h) => Ok(Ok(Place {
            dir: None,
            fd: h.as_raw_fd(),
            name: CString::default(),
            st: crate::host::fstat_raw(h.as_raw_fd()).map_err(err)?,
            path: of.path.clone(),
        })),
        Node::Data(_) | Node::Dir(_) => Ok(Err(Own::Proc)),
        _ => Ok(Err(Own::Other)),
    }
}

/// The attribute name argument: ERANGE when empty or longer than NAME_MAX.
fn attr_name(t: &Task, addr: u64) -> Result<CString, Errno> {
    let b = t.mm.read_cstr(addr, NAME_MAX + 1).map_err(|e| match e {
        ENAMETOOLONG => ERANGE,
        e => e,
    })?;
    if b.is_empty() || b.len() > NAME_MAX {
        return Err(ERANGE);
    }
    CString::new(b).map_err(|_| EINVAL)
}

fn place(t: &mut Task, which: Which) -> Result<Result<Place, Own>, Errno> {
    match which {
        Which::Path(addr, follow) => by_path(t, addr, follow),
        Which::Fd(fd) => by_fd(t, fd),
    }
}

/// What a call names: a path (and whether it follows a last symlink) or an open file.
#[derive(Clone, Copy)]
pub(super) enum Which {
    Path(u64, bool),
    Fd(i32),
}

pub(super) fn get(t: &mut Task, which: Which, name: u64, value: u64, size: u64) -> R {
    let attr = attr_name(t, name)?;
    let p = place(t, which)?.map_err(Own::get)?;
    crate::perm::xattr(&t.creds, &p.st, attr.as_bytes(), false)?;
    let mut buf = vec![0u8; (size as usize).min(SIZE_MAX)];
    let n = crate::host::getxattrat(&p.file(), &attr, &mut buf).map_err(err)?;
    if size != 0 {
        put(t, value, &buf[..n])?;
    }
    Ok(n as i64)
}

pub(super) fn set(t: &mut Task, which: Which, a: [u64; 4]) -> R {
    let [name, value, size, flags] = a;
    if flags & !u64::from(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(EINVAL);
    }
    let attr = attr_name(t, name)?;
    if size as usize > SIZE_MAX {
        return Err(E2BIG);
    }
    if attr.as_bytes() == b"security.capability" && ![12, 20, 24].contains(&size) {
        // Linux checks a file capability's format first (v1, v2 or v3 vfs_cap_data).
        return Err(EINVAL);
    }
    let data = t.mm.read_vec(value, size as usize)?;
    let p = place(t, which)?.map_err(|o| o.change(t))?;
    crate::perm::xattr(&t.creds, &p.st, attr.as_bytes(), true)?;
    crate::host::setxattrat(&p.file(), &attr, &data, flags as u32).map_err(err)?;
    crate::inotify::on_path(&p.path, crate::inotify::IN_ATTRIB);
    Ok(0)
}

/// listxattr: the host's list (it already leaves out trusted.*, which the sentry may not read).
pub(super) fn list(t: &mut Task, which: Which, list: u64, size: u64) -> R {
    let Ok(p) = place(t, which)? else {
        return Ok(0);
    };
    let mut buf = vec![0u8; (size as usize).min(SIZE_MAX)];
    let n = crate::host::listxattrat(&p.file(), &mut buf).map_err(err)?;
    if size != 0 {
        put(t, list, &buf[..n])?;
    }
    Ok(n as i64)
}

pub(super) fn remove(t: &mut Task, which: Which, name: u64) -> R {
    let attr = attr_name(t, name)?;
    let p = place(t, which)?.map_err(|o| o.change(t))?;
    crate::perm::xattr(&t.creds, &p.st, attr.as_bytes(), true)?;
    crate::host::removexattrat(&p.file(), &attr).map_err(err)?;
    crate::inotify::on_path(&p.path, crate::inotify::IN_ATTRIB);
    Ok(0)
}
