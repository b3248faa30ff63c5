//! Idmapped bind mounts (a mount's uidMappings/gidMappings, or the `idmap`/`ridmap` option
//! with the container's own mappings): the source's file owners appear through a user
//! namespace's maps, as runc 1.2 does it. The runtime makes each one before it clones the init,
//! in the host's user namespace where the kernel allows it: a detached copy of the source
//! (open_tree), idmapped (mount_setattr); the init, a fork, inherits the fd and only attaches
//! the copy on its target, which works from inside a new user namespace too. The namespace
//! for the maps is made by a child that only exists to own it: cloned with CLONE_NEWUSER, its
//! maps written, its namespace opened, then let go.

use crate::error::{Context, Error, Result};
use bulkhead_linux::{fd, mount as mnt, process as sys};
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

type Maps<'a> = (&'a [LinuxIdMapping], &'a [LinuxIdMapping]);

fn has_option(m: &Mount, names: &[&str]) -> bool {
    m.options()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|o| names.contains(&o.as_str()))
}

/// The mount's mappings, if it is idmapped: its own (both lists or neither, the spec's rule),
/// or, for the `idmap`/`ridmap` option alone, the container's user namespace mappings.
pub fn mappings<'a>(m: &'a Mount, spec: &'a Spec) -> Result<Option<Maps<'a>>> {
    let dest = m.destination().display();
    match (m.uid_mappings().as_deref(), m.gid_mappings().as_deref()) {
        (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => Ok(Some((u, g))),
        (None, None) if !has_option(m, &["idmap", "ridmap"]) => Ok(None),
        (None, None) => {
            let linux = spec.linux().as_ref();
            match (
                linux.and_then(|l| l.uid_mappings().as_deref()),
                linux.and_then(|l| l.gid_mappings().as_deref()),
            ) {
                (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => Ok(Some((u, g))),
                _ => Err(Error::Config(format!(
                    "mounts[{dest}]: option idmap needs uidMappings and gidMappings, on the mount or for the container's user namespace"
                ))),
            }
        }
        _ => Err(Error::Config(format!(
            "mounts[{dest}]: uidMappings and gidMappings must both be given, non-empty"
        ))),
    }
}

/// One entry per config mount: the idmapped detached copy of its source, for the idmapped
/// binds. Call in the runtime before the init is cloned, single-threaded.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Vec<Option<OwnedFd>>> {
    let mut trees = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let Some((uid, gid)) = mappings(m, spec)? else {
            trees.push(None);
            continue;
        };
        let dest = m.destination().display();
        if sys::euid() != 0 {
            return Err(Error::Config(format!(
                "mounts[{dest}]: idmapped mounts need a root runtime (the kernel allows them only with CAP_SYS_ADMIN over the source's filesystem)"
            )));
        }
        if m.typ().as_deref() != Some("bind") && !has_option(m, &["bind", "rbind"]) {
            return Err(Error::Config(format!(
                "mounts[{dest}]: idmapping is supported on bind mounts only"
            )));
        }
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Config(format!("mounts[{dest}]: a bind mount needs a source")))?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.join(src)
        };
        let recursive = has_option(m, &["rbind", "ridmap"]);
        let what = || format!("mounts[{dest}]: idmapped bind of {}", src.display());
        let ns = userns(uid, gid).map_err(|e| Error::Config(format!("mounts[{dest}]: {e}")))?;
        let tree = mnt::clone_tree(&src, recursive).ctx(what)?;
        mnt::set_idmap(&tree, &ns, recursive).ctx(what)?;
        trees.push(Some(tree));
    }
    Ok(trees)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with these maps, held by an fd. Must be called single-threaded.
fn userns(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (wait_r, wait_w) = fd::pipe().ctx(|| "idmapped mount: pipe".into())?;
    let (pid_r, pid_w) = fd::pipe().ctx(|| "idmapped mount: pipe".into())?;
    match sys::clone_fork(libc::CLONE_NEWUSER as u64, None)
        .ctx(|| "idmapped mount: clone a user namespace".into())?
    {
        sys::Forked::Child => {
            drop((wait_w, pid_r));
            // The caller may be pid 1 of a new pid namespace while /proc is still the host's:
            // the child's pid as that /proc knows it is what /proc/self names.
            let me = std::fs::read_link("/proc/self").unwrap_or_default();
            let _ = std::fs::File::from(pid_w).write_all(me.as_os_str().as_encoded_bytes());
            // Lives until the parent closes its end: the namespace must exist while opened.
            let _ = std::fs::File::from(wait_r).read(&mut [0u8; 1]);
            sys::exit_now(0)
        }
        sys::Forked::Parent(pid) => {
            drop((wait_r, pid_w));
            let opened = (|| {
                let mut proc_pid = String::new();
                std::fs::File::from(pid_r)
                    .read_to_string(&mut proc_pid)
                    .ctx(|| "idmapped mount: read the helper's pid".into())?;
                let dir = format!("/proc/{}", proc_pid.trim());
                std::fs::write(format!("{dir}/uid_map"), map_text(uid))
                    .ctx(|| "idmapped mount: write uid_map".into())?;
                std::fs::write(format!("{dir}/gid_map"), map_text(gid))
                    .ctx(|| "idmapped mount: write gid_map".into())?;
                fd::openat(None, format!("{dir}/ns/user").as_ref(), libc::O_RDONLY, 0)
                    .ctx(|| "idmapped mount: open the user namespace".into())
            })();
            drop(wait_w);
            let _ = sys::wait_pid(pid);
            opened
        }
    }
}
