//! Mounts, pivot_root and device nodes.

use crate::{cstr, cvt};
use std::io;
use std::path::Path;

/// mount(2). `source`, `fstype` and `data` may be absent.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> io::Result<()> {
    let src = source.map(cstr).transpose()?;
    let tgt = cstr(target)?;
    let fst = fstype.map(cstr).transpose()?;
    let dat = data.filter(|d| !d.is_empty()).map(cstr).transpose()?;
    let ptr = |c: &Option<std::ffi::CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either null or a NUL-terminated string that outlives the call.
    cvt(unsafe { libc::mount(ptr(&src), tgt.as_ptr(), ptr(&fst), flags, ptr(&dat).cast()) })?;
    Ok(())
}

/// umount2(2).
pub fn umount(target: &Path, flags: i32) -> io::Result<()> {
    let tgt = cstr(target)?;
    // SAFETY: `tgt` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::umount2(tgt.as_ptr(), flags) })?;
    Ok(())
}

/// pivot_root(2); there is no libc wrapper.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let n = cstr(new_root)?;
    let o = cstr(put_old)?;
    // SAFETY: both strings are NUL-terminated and outlive the call.
    cvt(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) })?;
    Ok(())
}

/// chroot(2).
pub fn chroot(path: &Path) -> io::Result<()> {
    let p = cstr(path)?;
    // SAFETY: `p` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::chroot(p.as_ptr()) })?;
    Ok(())
}

/// mknodat(2) relative to a directory fd.
pub fn mknodat(dir: i32, name: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
    let n = cstr(name)?;
    let dev = libc::makedev(major as u32, minor as u32);
    // SAFETY: `n` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mknodat(dir, n.as_ptr(), mode, dev) })?;
    Ok(())
}

/// fchownat(2) with AT_SYMLINK_NOFOLLOW, or on the fd itself with an empty path.
pub fn fchown(fd: i32, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::fchown(fd, uid, gid) })?;
    Ok(())
}

/// The mount options of a path's mount, as MS_* flags from statvfs, so a read-only remount of a
/// bind mount keeps nosuid/nodev/noexec that the kernel requires to be kept (in a user namespace
/// clearing them is refused).
pub fn mount_flags_of(path: &Path) -> io::Result<u64> {
    let p = cstr(path)?;
    // SAFETY: `st` is plain data filled by statvfs on success; `p` outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::statvfs(p.as_ptr(), &mut st) })?;
    let mut flags = 0u64;
    for (st_flag, ms_flag) in [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    Ok(flags)
}

const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path` (with the mounts
/// beneath it when `recursive`), not yet attached anywhere.
pub fn clone_tree(path: &Path, recursive: bool) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let p = cstr(path)?;
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as u32
        | if recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        };
    // SAFETY: `p` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// mount_setattr(2): makes the detached mount `tree` an idmapped mount through the user
/// namespace `userns` (whose maps say how file owners appear).
pub fn set_idmap(
    tree: &impl std::os::fd::AsRawFd,
    userns: &impl std::os::fd::AsRawFd,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    setattr(tree, &attr, recursive)
}

/// mount_setattr(2) on the mount whose root `mnt` (an O_PATH fd) is: sets the MOUNT_ATTR_*
/// bits `set` and clears `clear`, on every mount beneath it too when `recursive`.
pub fn set_attrs(
    mnt: &impl std::os::fd::AsRawFd,
    set: u64,
    clear: u64,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    setattr(mnt, &attr, recursive)
}

fn setattr(mnt: &impl std::os::fd::AsRawFd, attr: &MountAttr, recursive: bool) -> io::Result<()> {
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH as u32
        | if recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        };
    // SAFETY: `attr` is a mount_attr of the size passed and `empty` a NUL-terminated string;
    // both outlive the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// move_mount(2) from fd to fd: attaches the detached mount `tree` on the directory or file
/// `target` (an fd resolved beforehand, so no path is walked again).
pub fn attach_tree(
    tree: &impl std::os::fd::AsRawFd,
    target: &impl std::os::fd::AsRawFd,
) -> io::Result<()> {
    let empty = c"";
    // SAFETY: `empty` is NUL-terminated and outlives the call; the fds are the caller's.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// A new, empty, read-only tmpfs as a detached mount (fsopen, fsconfig, fsmount), attached
/// nowhere: a directory to chroot into that no path of any file system leads to.
pub fn empty_detached_tmpfs() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let own = |fd: i64| -> io::Result<OwnedFd> {
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel returned a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    };
    // SAFETY: a NUL-terminated file system name and flags.
    let fs = own(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: NUL-terminated key and value strings for the context `fs`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            c"size".as_ptr(),
            c"4k".as_ptr(),
            0,
        )
    } as i32)?;
    // SAFETY: integer arguments and null pointers, as FSCONFIG_CMD_CREATE takes.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    } as i32)?;
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    // SAFETY: integer arguments only.
    own(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
/// mount_setattr(2)'s attribute bits (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The access-time mode: one of RELATIME, NOATIME, STRICTATIME; changing it clears all of it.
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
