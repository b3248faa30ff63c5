//! Idmapped bind mounts (a mount's uidMappings/gidMappings): the source's file owners appear
//! through a user namespace's maps, as runc 1.2 does it. The namespace is made by a child that
//! only exists to own it: cloned with CLONE_NEWUSER, its maps written, its namespace opened,
//! then let go.

use crate::error::{Context, Error, Result};
use bulkhead_linux::{fd, process as sys};
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

/// The mount's mappings, if it has any; both lists or neither (the spec's rule).
pub fn mappings(m: &Mount) -> Result<Option<(&[LinuxIdMapping], &[LinuxIdMapping])>> {
    match (m.uid_mappings().as_deref(), m.gid_mappings().as_deref()) {
        (None, None) => Ok(None),
        (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => Ok(Some((u, g))),
        _ => Err(Error::Config(format!(
            "mounts[{}]: uidMappings and gidMappings must both be given, non-empty",
            m.destination().display()
        ))),
    }
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with these maps, held by an fd. Must be called single-threaded (the init).
pub fn userns(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
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
