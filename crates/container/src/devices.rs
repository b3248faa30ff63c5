//! Device nodes in the container's /dev: the default set every container gets, the config's
//! `linux.devices`, and the standard /dev symlinks.

use crate::error::{Context, Error, Result};
use bulkhead_linux::{fd, mount as sys, resolve};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices the OCI runtime spec says every Linux container has.
pub fn defaults() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(name, major, minor)| Node {
        path: PathBuf::from("/dev").join(name),
        kind: libc::S_IFCHR,
        major: *major,
        minor: *minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Converts a config device, checking its fields.
pub fn from_config(d: &LinuxDevice) -> Result<Node> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Config(format!(
                "linux.devices[{}]: type \"a\" is only valid in device cgroup rules",
                d.path().display()
            )))
        }
    };
    if !d.path().is_absolute() {
        return Err(Error::Config(format!(
            "linux.devices: path {:?} is not absolute",
            d.path()
        )));
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Creates `nodes` beneath `root`. In a user namespace mknod is refused, so the host's node of
/// the same path is bind-mounted instead, as runc does.
pub fn create(root: &impl AsRawFd, nodes: &[Node], userns: bool) -> Result<()> {
    for n in nodes {
        let parent = n.path.parent().unwrap_or(Path::new("/"));
        resolve::make_in_root(root, parent, resolve::Kind::Dir)
            .ctx(|| format!("linux.devices: create {}", parent.display()))?;
        let dir = resolve::open_in_root(root, parent, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .ctx(|| format!("linux.devices: open {}", parent.display()))?;
        let name = Path::new(n.path.file_name().unwrap_or_default());
        if userns {
            let target = resolve::make_in_root(root, &n.path, resolve::Kind::File)
                .ctx(|| format!("linux.devices: create {}", n.path.display()))?;
            sys::mount(
                Some(&n.path),
                Path::new(&fd::proc_fd_path(&target)),
                None,
                libc::MS_BIND,
                None,
            )
            .ctx(|| format!("linux.devices: bind {}", n.path.display()))?;
            continue;
        }
        // Replace whatever the image has there: a device's identity comes from the config.
        let _ = bulkhead_linux::fd::unlinkat(&dir, name);
        sys::mknodat(dir.as_raw_fd(), name, n.kind | n.mode, n.major, n.minor)
            .ctx(|| format!("linux.devices: mknod {}", n.path.display()))?;
        let node = resolve::open_in_root(root, &n.path, libc::O_PATH | libc::O_NOFOLLOW, 0)
            .ctx(|| format!("linux.devices: open {}", n.path.display()))?;
        // fchown on an O_PATH fd is refused; go through /proc/self/fd, which names this node.
        std::os::unix::fs::chown(fd::proc_fd_path(&node), Some(n.uid), Some(n.gid))
            .ctx(|| format!("linux.devices: chown {}", n.path.display()))?;
        // mknod applies the umask; set the exact mode the config asks for.
        std::fs::set_permissions(
            fd::proc_fd_path(&node),
            std::os::unix::fs::PermissionsExt::from_mode(n.mode),
        )
        .ctx(|| format!("linux.devices: chmod {}", n.path.display()))?;
    }
    Ok(())
}

/// The standard symlinks in /dev, made inside the container once its root is "/".
pub fn symlinks() -> Result<()> {
    // A rootfs without /dev and no /dev mount (the sandbox class serves its own) gets none.
    if !Path::new("/dev").is_dir() {
        return Ok(());
    }
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        match symlink(target, link) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).ctx(|| {
                    format!("mounts: /dev must be writable after the mounts (symlink {link})")
                })
            }
        }
    }
    Ok(())
}

/// /dev/ptmx as a link into the container's own devpts instance, when /dev/pts is mounted.
pub fn ptmx_link() -> Result<()> {
    if !Path::new("/dev/pts/ptmx").exists() {
        return Ok(());
    }
    let _ = std::fs::remove_file("/dev/ptmx");
    symlink("pts/ptmx", "/dev/ptmx").ctx(|| "symlink /dev/ptmx".into())
}
