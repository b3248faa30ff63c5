//! The config's `mounts`: option parsing and mounting beneath the rootfs.

use crate::error::{Context, Error, Result};
use bulkhead_linux::{fd, mount as sys, resolve};
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A mount's options split the way mount(2) wants them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// MS_* flags set by the options.
    pub flags: u64,
    /// MS_* flags cleared by the options (`rw`, `suid`, `dev`, ...); kept for remounts.
    pub cleared: u64,
    /// Propagation changes (MS_SHARED, MS_SLAVE, ...), each applied by its own mount call.
    pub propagation: Vec<u64>,
    /// Filesystem-specific options, passed as mount data ("mode=755,size=65536k").
    pub data: Vec<String>,
    /// A bind or rbind mount.
    pub bind: bool,
    /// MOUNT_ATTR_* bits the recursive options (`rro`, `rnosuid`, ...) set on the mount and
    /// every mount beneath it (mount_setattr with AT_RECURSIVE).
    pub rec_set: u64,
    /// MOUNT_ATTR_* bits the recursive options (`rrw`, `rsuid`, ...) clear.
    pub rec_clear: u64,
    /// `idmap`/`ridmap`: understood only on a mount with mappings; kept to report them.
    pub unsupported: Vec<String>,
}

/// Parses OCI/fstab mount options. Unknown words are filesystem data, as runc treats them.
pub fn parse_options(opts: &[String]) -> Options {
    let mut o = Options::default();
    for opt in opts {
        let set = |o: &mut Options, f: u64| {
            o.flags |= f;
            o.cleared &= !f;
        };
        let clear = |o: &mut Options, f: u64| {
            o.flags &= !f;
            o.cleared |= f;
        };
        let rec = |o: &mut Options, set: u64, clear: u64| {
            o.rec_set = (o.rec_set & !clear) | set;
            o.rec_clear = (o.rec_clear & !set) | clear;
        };
        // An access-time mode replaces the whole mode (the kernel wants all of it cleared).
        let rec_atime = |o: &mut Options, mode: u64| {
            rec(o, 0, sys::MOUNT_ATTR__ATIME);
            o.rec_set |= mode;
        };
        match opt.as_str() {
            "defaults" => {}
            "rro" => rec(&mut o, sys::MOUNT_ATTR_RDONLY, 0),
            "rrw" => rec(&mut o, 0, sys::MOUNT_ATTR_RDONLY),
            "rnosuid" => rec(&mut o, sys::MOUNT_ATTR_NOSUID, 0),
            "rsuid" => rec(&mut o, 0, sys::MOUNT_ATTR_NOSUID),
            "rnodev" => rec(&mut o, sys::MOUNT_ATTR_NODEV, 0),
            "rdev" => rec(&mut o, 0, sys::MOUNT_ATTR_NODEV),
            "rnoexec" => rec(&mut o, sys::MOUNT_ATTR_NOEXEC, 0),
            "rexec" => rec(&mut o, 0, sys::MOUNT_ATTR_NOEXEC),
            "rnodiratime" => rec(&mut o, sys::MOUNT_ATTR_NODIRATIME, 0),
            "rdiratime" => rec(&mut o, 0, sys::MOUNT_ATTR_NODIRATIME),
            "rnosymfollow" => rec(&mut o, sys::MOUNT_ATTR_NOSYMFOLLOW, 0),
            "rsymfollow" => rec(&mut o, 0, sys::MOUNT_ATTR_NOSYMFOLLOW),
            "rnoatime" => rec_atime(&mut o, sys::MOUNT_ATTR_NOATIME),
            "rstrictatime" | "rnorelatime" => rec_atime(&mut o, sys::MOUNT_ATTR_STRICTATIME),
            "rrelatime" | "ratime" | "rnostrictatime" => {
                rec_atime(&mut o, sys::MOUNT_ATTR_RELATIME)
            }
            "ro" => set(&mut o, libc::MS_RDONLY),
            "rw" => clear(&mut o, libc::MS_RDONLY),
            "nosuid" => set(&mut o, libc::MS_NOSUID),
            "suid" => clear(&mut o, libc::MS_NOSUID),
            "nodev" => set(&mut o, libc::MS_NODEV),
            "dev" => clear(&mut o, libc::MS_NODEV),
            "noexec" => set(&mut o, libc::MS_NOEXEC),
            "exec" => clear(&mut o, libc::MS_NOEXEC),
            "sync" => set(&mut o, libc::MS_SYNCHRONOUS),
            "async" => clear(&mut o, libc::MS_SYNCHRONOUS),
            "dirsync" => set(&mut o, libc::MS_DIRSYNC),
            "remount" => set(&mut o, libc::MS_REMOUNT),
            "mand" => set(&mut o, libc::MS_MANDLOCK),
            "nomand" => clear(&mut o, libc::MS_MANDLOCK),
            "atime" => clear(&mut o, libc::MS_NOATIME),
            "noatime" => set(&mut o, libc::MS_NOATIME),
            "diratime" => clear(&mut o, libc::MS_NODIRATIME),
            "nodiratime" => set(&mut o, libc::MS_NODIRATIME),
            "relatime" => set(&mut o, libc::MS_RELATIME),
            "norelatime" => clear(&mut o, libc::MS_RELATIME),
            "strictatime" => set(&mut o, libc::MS_STRICTATIME),
            "nostrictatime" => clear(&mut o, libc::MS_STRICTATIME),
            "bind" => o.bind = true,
            "rbind" => {
                o.bind = true;
                o.flags |= libc::MS_REC;
            }
            "private" => o.propagation.push(libc::MS_PRIVATE),
            "rprivate" => o.propagation.push(libc::MS_PRIVATE | libc::MS_REC),
            "shared" => o.propagation.push(libc::MS_SHARED),
            "rshared" => o.propagation.push(libc::MS_SHARED | libc::MS_REC),
            "slave" => o.propagation.push(libc::MS_SLAVE),
            "rslave" => o.propagation.push(libc::MS_SLAVE | libc::MS_REC),
            "unbindable" => o.propagation.push(libc::MS_UNBINDABLE),
            "runbindable" => o.propagation.push(libc::MS_UNBINDABLE | libc::MS_REC),
            // Container-engine hints that carry no kernel meaning here.
            "tmpcopyup" | "notmpcopyup" | "copy-symlink" | "z" | "Z" | "U" => {}
            "idmap" | "ridmap" => o.unsupported.push(opt.clone()),
            other => o.data.push(other.to_string()),
        }
    }
    o
}

/// Flags that a read-only or other attribute remount of a bind mount takes.
const REMOUNT_ATTRS: u64 = libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME;

/// Everything a config mount needs besides the rootfs.
pub struct MountContext<'a> {
    /// The bundle directory: relative bind sources are relative to it.
    pub bundle: &'a Path,
    /// Whether the container has a new user namespace (mknod and some mounts are refused there).
    pub userns: bool,
    /// Whether the container has a mount namespace other than the runtime's.
    pub mountns: bool,
    /// Whether the container has its own cgroup namespace.
    pub cgroupns: bool,
    /// Whether the container has its own network namespace (sysfs needs one to be mounted fresh).
    pub netns: bool,
    /// The container's cgroup, for a `cgroup` mount.
    pub cgroup: Option<&'a crate::cgroups::Cgroup>,
    /// Per config mount, the idmapped copy of its source the runtime made (idmap::prepare).
    pub idmapped: &'a [Option<OwnedFd>],
    /// linux.mountLabel, when the host has SELinux: the context of tmpfs, devpts and mqueue.
    pub mount_label: Option<&'a str>,
    /// Device nodes are made (not for the sandbox class, whose /dev is the sentry's: the
    /// image's /dev is left as it is).
    pub devices: bool,
}

/// Mounts one config entry beneath `root` (an fd of the rootfs directory). `tree`: for an
/// idmapped bind, the idmapped copy of its source the runtime made (idmap::prepare).
pub fn mount_entry(
    root: &impl AsRawFd,
    m: &Mount,
    tree: Option<&OwnedFd>,
    ctx: &MountContext,
) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::Config(format!(
            "mounts: destination {:?} is not an absolute path",
            dest
        )));
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    // "idmap"/"ridmap" are understood on a mount the runtime has idmapped.
    let idmapped = tree.is_some();
    if let Some(bad) = opts
        .unsupported
        .iter()
        .find(|o| !(idmapped && matches!(o.as_str(), "idmap" | "ridmap")))
    {
        return Err(Error::Config(format!(
            "mounts[{}]: option {bad:?} is not supported yet",
            dest.display()
        )));
    }
    if (typ == "cgroup" || typ == "cgroup2") && !opts.bind {
        crate::cgroups::mount_cgroupfs(root, dest, &opts, ctx)?;
    } else if opts.bind || typ == "bind" {
        bind_entry(root, m, &opts, tree, ctx)?;
    } else {
        new_mount(root, m, &opts, ctx)?;
    }
    set_recursive_attrs(root, &opts, dest)
}

/// The recursive options, on the new mount and every mount beneath it (as runc 1.1 applies
/// them: mount_setattr with AT_RECURSIVE, after the mount and its own options).
fn set_recursive_attrs(root: &impl AsRawFd, opts: &Options, dest: &Path) -> Result<()> {
    if opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    let (mnt, _) = reopen(root, dest)?;
    sys::set_attrs(&mnt, opts.rec_set, opts.rec_clear, true).ctx(|| {
        format!(
            "mounts[{}]: recursive options (mount_setattr)",
            dest.display()
        )
    })
}

/// A mount of a file system (tmpfs, proc, sysfs, devpts, mqueue, ...).
fn new_mount(root: &impl AsRawFd, m: &Mount, opts: &Options, ctx: &MountContext) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let target = resolve::make_in_root(root, dest, resolve::Kind::Dir)
        .ctx(|| format!("mounts: create destination {}", dest.display()))?;
    let target_path = PathBuf::from(fd::proc_fd_path(&target));
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let mut data = opts.data.join(",");
    if matches!(typ, "tmpfs" | "devpts" | "mqueue") {
        data = crate::attributes::with_mount_label(&data, ctx.mount_label);
    }
    let flags = opts.flags & !libc::MS_REMOUNT;
    let res = sys::mount(Some(&source), &target_path, Some(typ), flags, Some(&data));
    match res {
        Err(e) if typ == "sysfs" && (e.raw_os_error() == Some(libc::EPERM) || !ctx.netns) => {
            // A sysfs instance belongs to a network namespace; without one of our own (or in a
            // user namespace) the kernel refuses a new one, so bind the host's, read-only.
            sys::mount(
                Some(Path::new("/sys")),
                &target_path,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .ctx(|| format!("mounts: bind /sys on {}", dest.display()))?;
            let (_fd, mounted) = reopen(root, dest)?;
            remount(
                &mounted,
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                dest,
            )?;
        }
        Err(e) if typ == "mqueue" && e.raw_os_error() == Some(libc::EPERM) && ctx.userns => {
            sys::mount(
                Some(Path::new("/dev/mqueue")),
                &target_path,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .ctx(|| format!("mounts: bind /dev/mqueue on {}", dest.display()))?;
        }
        r => r.ctx(|| format!("mounts: mount {typ} on {}", dest.display()))?,
    }
    apply_propagation(root, opts, dest)
}

fn bind_entry(
    root: &impl AsRawFd,
    m: &Mount,
    opts: &Options,
    tree: Option<&OwnedFd>,
    ctx: &MountContext,
) -> Result<()> {
    let dest = m.destination();
    let src = m.source().as_ref().ok_or_else(|| {
        Error::Config(format!(
            "mounts[{}]: a bind mount needs a source",
            dest.display()
        ))
    })?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        ctx.bundle.join(src)
    };
    // Open the source once and mount from the fd, so what we checked is what we mount.
    let src_fd = fd::open_path(&src, false)
        .ctx(|| format!("mounts[{}]: source {}", dest.display(), src.display()))?;
    let kind = if resolve::is_dir(&src_fd).unwrap_or(true) {
        resolve::Kind::Dir
    } else {
        resolve::Kind::File
    };
    let target = resolve::make_in_root(root, dest, kind)
        .ctx(|| format!("mounts: create destination {}", dest.display()))?;
    let target_path = PathBuf::from(fd::proc_fd_path(&target));
    let src_path = PathBuf::from(fd::proc_fd_path(&src_fd));
    if let Some(tree) = tree {
        sys::attach_tree(tree, &target).ctx(|| {
            format!(
                "mounts[{}]: attach the idmapped bind of {}",
                dest.display(),
                src.display()
            )
        })?;
    } else {
        let flags = libc::MS_BIND | (opts.flags & libc::MS_REC);
        sys::mount(Some(&src_path), &target_path, None, flags, None)
            .ctx(|| format!("mounts: bind {} on {}", src.display(), dest.display()))?;
    }
    if opts.flags & REMOUNT_ATTRS != 0 {
        // The bind itself ignores attribute flags; they take a second, remount call.
        let (_fd, mounted) = reopen(root, dest)?;
        remount(&mounted, opts.flags & REMOUNT_ATTRS, dest)?;
    }
    apply_propagation(root, opts, dest)
}

/// Opens `dest` again after a mount on it: the fd opened before names the covered directory,
/// the new one the root of the new mount. Returns the fd and its /proc/self/fd path.
fn reopen(root: &impl AsRawFd, dest: &Path) -> Result<(std::os::fd::OwnedFd, PathBuf)> {
    let fd = resolve::open_in_root(root, dest, libc::O_PATH, 0)
        .ctx(|| format!("mounts: reopen {}", dest.display()))?;
    let path = PathBuf::from(fd::proc_fd_path(&fd));
    Ok((fd, path))
}

/// Remounts a bind mount with `flags`, keeping the locked flags the mount already has.
pub fn remount(path: &Path, flags: u64, dest: &Path) -> Result<()> {
    let existing = sys::mount_flags_of(path).unwrap_or(0);
    // In a user namespace the kernel refuses a remount that would clear a locked flag:
    // nosuid/nodev/noexec/ro and the atime mode carry over unless asked for anew.
    let atime = libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME | libc::MS_STRICTATIME;
    let mut keep =
        existing & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY);
    if flags & atime == 0 {
        keep |= existing & atime;
    }
    sys::mount(
        None,
        path,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | flags | keep,
        None,
    )
    .ctx(|| format!("mounts: remount {} with flags {:#x}", dest.display(), flags))
}

fn apply_propagation(root: &impl AsRawFd, opts: &Options, dest: &Path) -> Result<()> {
    if opts.propagation.is_empty() {
        return Ok(());
    }
    let (_fd, path) = reopen(root, dest)?;
    for p in &opts.propagation {
        sys::mount(None, &path, None, *p, None)
            .ctx(|| format!("mounts: set propagation of {}", dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_flags_propagation_and_data() {
        let o = parse_options(&v(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rslave",
        ]));
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, v(&["mode=755", "size=65536k"]));
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win() {
        let o = parse_options(&v(&["ro", "rw", "rbind"]));
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert!(o.bind);
        assert_eq!(o.flags & libc::MS_REC, libc::MS_REC);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse_options(&v(&["rbind", "rro", "rnosuid", "rexec", "rnoatime"]));
        assert_eq!(
            o.rec_set,
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_clear, sys::MOUNT_ATTR_NOEXEC | sys::MOUNT_ATTR__ATIME);
        assert!(o.unsupported.is_empty());
        // Later options win; an atime mode replaces the one before.
        let o = parse_options(&v(&["rro", "rrw", "rnoatime", "rstrictatime"]));
        assert_eq!(o.rec_set, sys::MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.rec_clear, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR__ATIME);
        assert_eq!(parse_options(&v(&["idmap"])).unsupported, v(&["idmap"]));
    }
}
