//! Path resolution confined to a root directory. Every mount target, device node and
//! executable inside a container rootfs is reached through these functions, so a symlink planted
//! in the rootfs (`/proc -> /`, `/dev -> /host/dev`, a swapped directory) can never lead outside
//! it (CVE-2021-30465 and its kin).

use crate::{cstr, cvt};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` as if `root` were "/": `..` stops at the root and absolute symlinks are taken
/// relative to it (openat2 RESOLVE_IN_ROOT), and /proc magic links are refused.
pub fn open_in_root(
    root: &impl AsRawFd,
    path: &Path,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let rel = relative(path);
    let c = cstr(if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &rel
    })?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: if flags & libc::O_CREAT != 0 {
            mode as u64
        } else {
            0
        },
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // EAGAIN: a rename or mount anywhere on the host while `..` was being resolved, which
    // the kernel cannot tell from an escape; openat2(2) says to try again (bounded here).
    let mut tries = 0;
    loop {
        // SAFETY: `c` and `how` are valid for the call and `how`'s size is passed; the
        // returned fd is fresh and owned by nobody else.
        let r = cvt(unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        });
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < EAGAIN_TRIES => tries += 1,
            // SAFETY: as above, a fresh fd.
            r => return r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        }
    }
}

/// How many times open_in_root tries again after openat2's EAGAIN.
const EAGAIN_TRIES: u32 = 64;

/// `path` with its leading `/` removed and `.` components dropped.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect()
}

/// What to create at the end of `make_in_root` if it does not exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Opens `path` beneath `root` with O_PATH, creating missing directories on the way (mode 0755)
/// and the last component as `kind`. Each step is resolved in the root, so a symlink swapped in
/// between two steps still cannot point outside it.
pub fn make_in_root(root: &impl AsRawFd, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH, 0) {
        return Ok(fd);
    }
    let rel = relative(path);
    let mut so_far = PathBuf::new();
    let comps: Vec<_> = rel.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        so_far.push(comp);
        let last = i + 1 == comps.len();
        if open_in_root(root, &so_far, libc::O_PATH, 0).is_ok() {
            continue;
        }
        let parent = open_in_root(
            root,
            so_far.parent().unwrap_or(Path::new("")),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?;
        let name = cstr(comp.as_os_str())?;
        if last && kind == Kind::File {
            // SAFETY: `name` outlives the call; the fd is fresh and immediately owned.
            let fd = cvt(unsafe {
                libc::openat(
                    parent.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    0o644,
                )
            })?;
            drop(unsafe { OwnedFd::from_raw_fd(fd) });
        } else {
            // SAFETY: `name` outlives the call.
            let r = unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(e);
                }
            }
        }
    }
    open_in_root(root, path, libc::O_PATH, 0)
}

/// Whether an O_PATH fd refers to a directory.
pub fn is_dir(fd: &impl AsRawFd) -> io::Result<bool> {
    Ok(crate::fd::fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR)
}
