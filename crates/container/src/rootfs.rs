//! The container's root filesystem: propagation, the config's mounts, devices, pivot_root, and
//! the finishing touches (sysctls, masked and read-only paths, a read-only root).

use crate::devices;
use crate::error::{Context, Error, Result};
use crate::mounts::{self, MountContext};
use bulkhead_linux::{fd, mount as sys};
use oci_spec::runtime::Spec;
use std::fs::File;
use std::path::{Path, PathBuf};

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
    if !ctx.mountns {
        return prepare_in_host_namespace(spec, rootfs, ctx);
    }
    let prop = propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    // An unbindable "/" would refuse the bind of the rootfs below it, of the config's host
    // sources and of read-only paths: it is private (with the same reach) until `finish`.
    let unbindable = prop & libc::MS_UNBINDABLE != 0;
    let first = if unbindable {
        libc::MS_PRIVATE | (prop & libc::MS_REC)
    } else {
        prop
    };
    // Stop our mounts from reaching the host before making any.
    sys::mount(None, Path::new("/"), None, first, None)
        .ctx(|| "linux.rootfsPropagation: set the propagation of /".into())?;
    // pivot_root refuses a new root whose parent mount is shared, and a shared parent would
    // carry the bind below to its peers: the parent is made private (as runc does).
    parent_mount_private(rootfs)?;
    // pivot_root needs the new root to be a mount point; a recursive bind of itself makes it one.
    sys::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx(|| format!("bind rootfs {}", rootfs.display()))?;
    mount_all(spec, rootfs, ctx)
}

/// Without a mount namespace of its own (as runc does then) the container's mounts are made in
/// the runtime's, beneath a bind of the rootfs on itself; the root becomes a chroot. The host's
/// propagation is left as it is, but the bind is made private so that nothing mounted beneath it
/// reaches other namespaces; the runtime unmounts it when the container is deleted.
fn prepare_in_host_namespace(spec: &Spec, rootfs: &Path, ctx: &MountContext) -> Result<File> {
    sys::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx(|| format!("bind rootfs {}", rootfs.display()))?;
    sys::mount(None, rootfs, None, libc::MS_PRIVATE | libc::MS_REC, None)
        .ctx(|| format!("make the bind of rootfs {} private", rootfs.display()))?;
    mount_all(spec, rootfs, ctx)
}

/// Whether the last config mount on /dev is a bind (of a directory the container does not own:
/// no node or link is made in it, as runc makes none).
fn dev_is_bound(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .rfind(|m| m.destination() == Path::new("/dev"))
        .is_some_and(|m| {
            let opts = mounts::parse_options(m.options().as_deref().unwrap_or(&[]));
            opts.bind || m.typ().as_deref() == Some("bind")
        })
}

/// The config's mounts and the device nodes, beneath the rootfs.
fn mount_all(spec: &Spec, rootfs: &Path, ctx: &MountContext) -> Result<File> {
    let linux = spec.linux().as_ref();
    let prop = propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    let root = fd::open_dir(rootfs).ctx(|| format!("open rootfs {}", rootfs.display()))?;
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        let tree = ctx.idmapped.get(i).and_then(Option::as_ref);
        mounts::mount_entry(&root, m, tree, ctx)?;
    }
    // As runc: the default nodes and the config's, whether /dev is a tmpfs or the image's
    // directory (bound from the host's in a user namespace), but none into a /dev bound from
    // elsewhere (the host's own /dev, for one).
    if ctx.devices && !dev_is_bound(spec) {
        let mut nodes = devices::defaults();
        for d in linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]) {
            let n = devices::from_config(d)?;
            nodes.retain(|x| x.path != n.path);
            nodes.push(n);
        }
        devices::create(&root, &nodes, ctx.userns)?;
    }
    // A shared rootfs must not propagate the container's mounts back (runc does the same).
    if prop & libc::MS_SHARED != 0 && ctx.mountns {
        sys::mount(None, rootfs, None, libc::MS_PRIVATE, None)
            .ctx(|| "make rootfs private".into())?;
    }
    Ok(root)
}

/// One line of /proc/self/mountinfo, the fields used here.
struct MountLine {
    /// The directory of the file system mounted (`/` when the whole file system is).
    root: PathBuf,
    point: PathBuf,
    shared: bool,
    fstype: String,
}

/// The mounts listed in /proc/self/mountinfo, in its order.
fn mount_lines(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let optional: Vec<&str> = fields
                .iter()
                .skip(6)
                .take_while(|f| **f != "-")
                .copied()
                .collect();
            Some(MountLine {
                root: PathBuf::from(unescape_mountinfo(fields.get(3)?)),
                point: PathBuf::from(unescape_mountinfo(fields.get(4)?)),
                shared: optional.iter().any(|f| f.starts_with("shared:")),
                fstype: fields.get(7 + optional.len())?.to_string(),
            })
        })
        .collect()
}

/// The mount points listed in /proc/self/mountinfo, each with whether it is shared.
fn mount_points(text: &str) -> Vec<(PathBuf, bool)> {
    mount_lines(text)
        .into_iter()
        .map(|m| (m.point, m.shared))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount `path` lies in (the last one mounted on its longest ancestor) and whether it is
/// shared.
fn parent_mount(mountinfo: &str, path: &Path) -> Option<(PathBuf, bool)> {
    let mut best: Option<(PathBuf, bool)> = None;
    for (point, shared) in mount_points(mountinfo) {
        if !path.starts_with(&point) {
            continue;
        }
        let longer = best
            .as_ref()
            .is_none_or(|(b, _)| point.components().count() >= b.components().count());
        if longer {
            best = Some((point, shared));
        }
    }
    best
}

/// Makes the mount the rootfs lies in private when it is shared.
fn parent_mount_private(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    let rootfs = std::fs::canonicalize(rootfs).unwrap_or_else(|_| rootfs.to_path_buf());
    if let Some((point, true)) = parent_mount(&info, &rootfs) {
        sys::mount(None, &point, None, libc::MS_PRIVATE, None).ctx(|| {
            format!(
                "make {} (the mount the rootfs is in) private",
                point.display()
            )
        })?;
    }
    Ok(())
}

/// The mounts at exactly `path` in this mount namespace (stacked ones each count).
pub fn mounts_at(path: &Path) -> Result<usize> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    Ok(mount_points(&info)
        .iter()
        .filter(|(p, _)| p == path)
        .count())
}

/// Unmounts what a container without a mount namespace left at its rootfs in the runtime's
/// mount namespace (the bind of the rootfs, with the config's mounts beneath it): the mounts
/// stacked at `rootfs` above the `before` there were before it was created.
pub fn unmount_host_binds(rootfs: &Path, before: usize) -> Result<()> {
    while mounts_at(rootfs)? > before {
        sys::umount(rootfs, libc::MNT_DETACH)
            .ctx(|| format!("unmount the container's bind of {}", rootfs.display()))?;
    }
    Ok(())
}

/// Makes the rootfs "/" with pivot_root, leaving no trace of the old root. With `no_pivot`, moves
/// it over "/" and chroots (for ramdisk roots, where pivot_root is refused). Without a mount
/// namespace of the container's own, chroots into it (as runc does; `no_pivot` would move the
/// rootfs over the host's "/").
pub fn pivot(rootfs: &Path, no_pivot: bool, mountns: bool) -> Result<()> {
    if !mountns {
        std::env::set_current_dir(rootfs).ctx(|| "chdir rootfs".into())?;
        sys::chroot(Path::new(".")).ctx(|| "chroot into the rootfs".into())?;
        return std::env::set_current_dir("/").ctx(|| "chdir /".into());
    }
    if no_pivot {
        std::env::set_current_dir(rootfs).ctx(|| "chdir rootfs".into())?;
        hide_host_proc_and_sys(rootfs)?;
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
    // pivot_root also refuses a shared current root ("shared" as rootfsPropagation, with the
    // rootfs on a mount of its own): the old root is detached below anyway.
    if let Some((_, true)) = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|info| parent_mount(&info, Path::new("/")))
    {
        sys::mount(None, Path::new("/"), None, libc::MS_PRIVATE, None)
            .ctx(|| "make the old root private".into())?;
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

/// Before a move and chroot (`--no-pivot`) the host's mounts stay in the container's mount
/// namespace, out of its sight but not of the kernel's: a whole proc or sysfs among them lets a
/// process that makes a user and mount namespace of its own mount a fresh proc or sysfs, without
/// the masked and read-only paths (the kernel allows one where an unmasked one is already in the
/// namespace). As runc does, each one outside the rootfs is unmounted (made a slave first, so the
/// unmount does not reach the host), or covered with an empty tmpfs where that is refused.
fn hide_host_proc_and_sys(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    for m in mount_lines(&info) {
        if !matches!(m.fstype.as_str(), "proc" | "sysfs")
            || m.root != Path::new("/")
            || m.point.starts_with(rootfs)
        {
            continue;
        }
        let p = &m.point;
        match sys::mount(None, p, None, libc::MS_SLAVE | libc::MS_REC, None) {
            // Gone with a parent unmounted before it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            r => r.ctx(|| format!("--no-pivot: make the host's {} a slave", p.display()))?,
        }
        match sys::umount(p, libc::MNT_DETACH) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)) => {
                sys::mount(
                    Some(Path::new("tmpfs")),
                    p,
                    Some("tmpfs"),
                    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    None,
                )
                .ctx(|| format!("--no-pivot: cover the host's {}", p.display()))?
            }
            Err(e) => {
                return Err(e).ctx(|| format!("--no-pivot: unmount the host's {}", p.display()))
            }
        }
    }
    Ok(())
}

fn fchdir(dir: &File) -> Result<()> {
    fd::fchdir(dir).ctx(|| "fchdir".into())
}

/// After pivot_root: sysctls, /dev links, masked and read-only paths, read-only root.
pub fn finish(spec: &Spec, ns: &crate::namespaces::Plan) -> Result<()> {
    let linux = spec.linux().as_ref();
    if !dev_is_bound(spec) {
        devices::symlinks()?;
        devices::ptmx_link()?;
    }
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
    let prop = propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    if prop & libc::MS_UNBINDABLE != 0 {
        sys::mount(None, Path::new("/"), None, prop, None)
            .ctx(|| "linux.rootfsPropagation: make the root unbindable".into())?;
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

    #[test]
    fn mountinfo_lines() {
        let info = "22 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n\
                    23 22 0:21 / /proc rw,relatime - proc proc rw\n\
                    24 22 0:22 /sub /mnt/x rw shared:2 master:1 - sysfs sysfs rw\n";
        let got: Vec<(String, String, String, bool)> = mount_lines(info)
            .into_iter()
            .map(|m| {
                (
                    m.root.display().to_string(),
                    m.point.display().to_string(),
                    m.fstype,
                    m.shared,
                )
            })
            .collect();
        let want = |r: &str, p: &str, t: &str, s| (r.into(), p.into(), t.into(), s);
        assert_eq!(
            got,
            [
                want("/", "/", "ext4", true),
                want("/", "/proc", "proc", false),
                want("/sub", "/mnt/x", "sysfs", true)
            ]
        );
    }

    #[test]
    fn parent_mount_is_the_longest_mount_point_above() {
        let info = "22 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n\
                    30 22 0:30 / /tmp rw - tmpfs tmpfs rw\n\
                    31 22 0:31 / /tmp/a\\040b rw shared:7 master:2 - tmpfs tmpfs rw\n";
        let got = |p: &str| parent_mount(info, Path::new(p));
        assert_eq!(got("/usr/x"), Some((PathBuf::from("/"), true)));
        assert_eq!(got("/tmp/x/rootfs"), Some((PathBuf::from("/tmp"), false)));
        assert_eq!(
            got("/tmp/a b/rootfs"),
            Some((PathBuf::from("/tmp/a b"), true))
        );
        assert_eq!(got("/tmp/a"), Some((PathBuf::from("/tmp"), false)));
        assert_eq!(got("/"), Some((PathBuf::from("/"), true)));
    }
}
