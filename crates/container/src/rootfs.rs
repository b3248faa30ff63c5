//! The container's root filesystem: propagation, the config's mounts, devices, pivot_root, and
//! the finishing touches (sysctls, masked and read-only paths, a read-only root).

use crate::devices;
use crate::error::{Context, Error, Result};
use crate::mounts::{self, MountContext};
use bulkhead_linux::{fd, mount as sys};
use oci_spec::runtime::Spec;
use std::fs::File;
use std::path::Path;

/// The rootfs propagation flags for a `linux.rootfsPropagation` value.
pub fn propagation(value: Option<&str>) -> Result<u64> {
    Ok(match value.unwrap_or("") {
        // runc's default: events from the host still reach us, ours never reach the host.
        "" | "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "private" => libc::MS_PRIVATE,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        other => {
            return Err(Error::Config(format!(
                "linux.rootfsPropagation: unknown value {other:?}"
            )))
        }
    })
}

/// Everything up to (not including) pivot_root, run in the init's new mount namespace.
/// Returns an fd of the rootfs.
pub fn prepare(spec: &Spec, rootfs: &Path, ctx: &MountContext) -> Result<File> {
    let linux = spec.linux().as_ref();
    let prop = propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    // Stop our mounts from reaching the host before making any.
    sys::mount(None, Path::new("/"), None, prop, None)
        .ctx(|| "make / a slave/private mount".into())?;
    // pivot_root needs the new root to be a mount point; a recursive bind of itself makes it one.
    sys::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx(|| format!("bind rootfs {}", rootfs.display()))?;
    let root = fd::open_dir(rootfs).ctx(|| format!("open rootfs {}", rootfs.display()))?;
    let mut dev_is_mounted = false;
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        let tree = ctx.idmapped.get(i).and_then(Option::as_ref);
        mounts::mount_entry(&root, m, tree, ctx)?;
        dev_is_mounted |= m.destination() == Path::new("/dev");
    }
    let mut nodes = Vec::new();
    if dev_is_mounted || !ctx.userns {
        nodes = devices::defaults();
    }
    for d in linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]) {
        let n = devices::from_config(d)?;
        nodes.retain(|x| x.path != n.path);
        nodes.push(n);
    }
    devices::create(&root, &nodes, ctx.userns)?;
    // A shared rootfs must not propagate the container's mounts back (runc does the same).
    if prop & libc::MS_SHARED != 0 {
        sys::mount(None, rootfs, None, libc::MS_PRIVATE, None)
            .ctx(|| "make rootfs private".into())?;
    }
    Ok(root)
}

/// Makes the rootfs "/" with pivot_root, leaving no trace of the old root. With `no_pivot`, moves
/// it over "/" and chroots (for ramdisk roots, where pivot_root is refused).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        std::env::set_current_dir(rootfs).ctx(|| "chdir rootfs".into())?;
        sys::mount(
            Some(Path::new(".")),
            Path::new("/"),
            None,
            libc::MS_MOVE,
            None,
        )
        .ctx(|| "move rootfs to /".into())?;
        sys::chroot(Path::new(".")).ctx(|| "chroot".into())?;
        return std::env::set_current_dir("/").ctx(|| "chdir /".into());
    }
    let old = fd::open_dir(Path::new("/")).ctx(|| "open old root".into())?;
    let new = fd::open_dir(rootfs).ctx(|| "open new root".into())?;
    fchdir(&new)?;
    // pivot_root(".", ".") stacks the old root on top of the new one, so no directory for it is
    // needed in the rootfs; unmounting "." afterwards removes it.
    sys::pivot_root(Path::new("."), Path::new(".")).ctx(|| "pivot_root".into())?;
    fchdir(&old)?;
    // Keep the unmount from propagating to the host's mounts.
    sys::mount(
        None,
        Path::new("."),
        None,
        libc::MS_SLAVE | libc::MS_REC,
        None,
    )
    .ctx(|| "make old root a slave".into())?;
    sys::umount(Path::new("."), libc::MNT_DETACH).ctx(|| "unmount old root".into())?;
    std::env::set_current_dir("/").ctx(|| "chdir /".into())
}

fn fchdir(dir: &File) -> Result<()> {
    fd::fchdir(dir).ctx(|| "fchdir".into())
}

/// After pivot_root: sysctls, /dev links, masked and read-only paths, read-only root.
pub fn finish(spec: &Spec, ns: &crate::namespaces::Plan) -> Result<()> {
    let linux = spec.linux().as_ref();
    devices::symlinks()?;
    devices::ptmx_link()?;
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        crate::sysctl::write_all(sysctl, ns)?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or(&[])
    {
        readonly_path(Path::new(p))?;
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[])
    {
        mask_path(Path::new(p))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        mounts::remount(Path::new("/"), libc::MS_RDONLY, Path::new("/"))?;
    }
    Ok(())
}

/// Bind a path onto itself read-only. A path that does not exist is skipped, as runc does.
fn readonly_path(p: &Path) -> Result<()> {
    match sys::mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        r => r.ctx(|| format!("linux.readonlyPaths: bind {}", p.display()))?,
    }
    mounts::remount(
        p,
        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        p,
    )
}

/// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask_path(p: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        r => r.ctx(|| format!("linux.maskedPaths: stat {}", p.display()))?,
    };
    if meta.is_dir() {
        sys::mount(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            libc::MS_RDONLY,
            None,
        )
    } else {
        sys::mount(Some(Path::new("/dev/null")), p, None, libc::MS_BIND, None)
    }
    .ctx(|| format!("linux.maskedPaths: mask {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_values() {
        assert_eq!(propagation(None).unwrap(), libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(propagation(Some("private")).unwrap(), libc::MS_PRIVATE);
        let err = propagation(Some("sideways")).unwrap_err().to_string();
        assert!(err.contains("linux.rootfsPropagation"), "{err}");
    }
}
