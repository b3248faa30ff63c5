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
