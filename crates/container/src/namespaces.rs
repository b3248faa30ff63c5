//! Which namespaces a container gets: new ones are created by the clone that starts its init,
//! existing ones (a `path`) are joined by the init itself, user namespace first.

use crate::error::{Context, Error, Result};
use bulkhead_linux::ns;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType as T};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// The namespace plan of one container.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// CLONE_NEW* flags created when the init is cloned (all but cgroup, see `new_cgroup`).
    pub clone_flags: u64,
    /// A new cgroup namespace, unshared by the init only after it has joined its cgroup, so that
    /// the namespace's root is the container's own cgroup.
    pub new_cgroup: bool,
    /// Namespaces to join, in the order they must be joined.
    pub join: Vec<(T, PathBuf)>,
}

impl Plan {
    pub fn has(&self, t: T) -> bool {
        self.creates(t) || self.join.iter().any(|(j, _)| *j == t)
    }

    pub fn creates(&self, t: T) -> bool {
        if t == T::Cgroup {
            return self.new_cgroup;
        }
        self.clone_flags & flag(t) != 0
    }
}

/// The CLONE_NEW* flag of a namespace type.
pub fn flag(t: T) -> u64 {
    (match t {
        T::Pid => libc::CLONE_NEWPID,
        T::Network => libc::CLONE_NEWNET,
        T::Mount => libc::CLONE_NEWNS,
        T::Ipc => libc::CLONE_NEWIPC,
        T::Uts => libc::CLONE_NEWUTS,
        T::User => libc::CLONE_NEWUSER,
        T::Cgroup => libc::CLONE_NEWCGROUP,
        T::Time => libc::CLONE_NEWTIME,
    }) as u64
}

/// The name of a namespace under /proc/<pid>/ns.
pub fn proc_name(t: T) -> &'static str {
    match t {
        T::Pid => "pid",
        T::Network => "net",
        T::Mount => "mnt",
        T::Ipc => "ipc",
        T::Uts => "uts",
        T::User => "user",
        T::Cgroup => "cgroup",
        T::Time => "time",
    }
}

/// Builds the plan from `linux.namespaces`; a type listed twice is a config error.
pub fn plan(list: &[LinuxNamespace]) -> Result<Plan> {
    let mut p = Plan::default();
    let mut seen = Vec::new();
    for n in list {
        let t = n.typ();
        if seen.contains(&t) {
            return Err(Error::Config(format!(
                "linux.namespaces: {} is listed twice",
                proc_name(t)
            )));
        }
        seen.push(t);
        match n.path() {
            Some(path) => p.join.push((t, path.clone())),
            None if t == T::Cgroup => p.new_cgroup = true,
            None => p.clone_flags |= flag(t),
        }
    }
    // A user namespace must be joined first: it decides what the other joins are allowed to do.
    p.join
        .sort_by_key(|(t, _)| if *t == T::User { 0 } else { 1 });
    Ok(p)
}

/// Opens every namespace to join before any is joined: after joining a mount namespace the host
/// paths are gone. Each must be a namespace of the type it is listed as (a FIFO or plain file
/// is refused at once, never waited on).
pub fn open_joins(plan: &Plan) -> Result<Vec<(T, OwnedFd)>> {
    plan.join
        .iter()
        .map(|(t, path)| {
            let what = || {
                format!(
                    "linux.namespaces: {} namespace {}",
                    proc_name(*t),
                    path.display()
                )
            };
            let f = ns::open_ns(path).ctx(what)?;
            match ns::ns_type(&f) {
                Ok(got) if got as u64 == flag(*t) => Ok((*t, f)),
                Ok(got) => Err(Error::Config(format!(
                    "{}: is a {} namespace",
                    what(),
                    type_of_flag(got as u64)
                        .map(proc_name)
                        .unwrap_or("different")
                ))),
                Err(_) => Err(Error::Config(format!("{}: not a namespace file", what()))),
            }
        })
        .collect()
}

/// The namespace type of a CLONE_NEW* flag.
fn type_of_flag(f: u64) -> Option<T> {
    [
        T::Pid,
        T::Network,
        T::Mount,
        T::Ipc,
        T::Uts,
        T::User,
        T::Cgroup,
        T::Time,
    ]
    .into_iter()
    .find(|t| flag(*t) == f)
}

/// Joins the opened namespaces, in order. A pid namespace is not joined here: it only affects
/// children, so the runtime joins it before it clones the init.
pub fn join(opened: &[(T, OwnedFd)]) -> Result<()> {
    for (t, f) in opened {
        if *t == T::Pid {
            continue;
        }
        ns::setns(f, flag(*t) as i32)
            .ctx(|| format!("linux.namespaces: join {} namespace", proc_name(*t)))?;
    }
    Ok(())
}
