//! `exec`: a new process in a running container. The runtime forks a child that joins the
//! init's namespaces and cgroup, takes the process's identity, and execs.

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::namespaces::{flag, proc_name};
use crate::process::{self, ProcessOpts};
use crate::sync::{self, Channel, Msg};
use crate::trace;
use bulkhead_linux::{fd, ns, process as sys, socket};
use oci_spec::runtime::{LinuxNamespaceType as T, Process};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

const ORDER: [T; 8] = [
    T::User,
    T::Ipc,
    T::Uts,
    T::Network,
    T::Cgroup,
    T::Pid,
    T::Time,
    T::Mount,
];

pub struct Exec<'a> {
    /// The container's init, whose namespaces are joined.
    pub init_pid: i32,
    pub process: &'a Process,
    pub cgroup: &'a Cgroup,
    pub console: Option<UnixStream>,
    pub preserve_fds: u32,
    pub runtime: (u64, u64),
    /// The container's seccomp profile: an exec'd process gets it too.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// Passes a seccomp notify fd on to the profile's listener.
    pub listener: Option<&'a dyn Fn(i32, OwnedFd) -> std::result::Result<(), String>>,
}

/// Starts the process; returns its pid once it has executed its program.
pub fn exec(e: &Exec) -> Result<i32> {
    let nss = open_namespaces(e.init_pid)?;
    let (parent_end, child_end) = socket::seqpacket_pair().ctx(|| "create sync socket".into())?;
    // A pid namespace applies to children only: join it here, fork, and return to our own.
    let own_pid = fd::openat(None, "/proc/self/ns/pid".as_ref(), libc::O_RDONLY, 0)
        .ctx(|| "open own pid namespace".into())?;
    if let Some((_, f)) = nss.iter().find(|(t, _)| *t == T::Pid) {
        ns::setns(f, libc::CLONE_NEWPID).ctx(|| "join the container's pid namespace".into())?;
    }
    // As the init: cloned into the v2 cgroup, it joins the v1 ones itself (launch.rs).
    let (forked, joined) = e.cgroup.clone_into(0);
    let _ = ns::setns(&own_pid, libc::CLONE_NEWPID);
    match forked.ctx(|| "fork the exec process".into())? {
        sys::Forked::Child => {
            drop(parent_end);
            let ch = Channel(child_end);
            let err = child(e, &nss, &ch, joined)
                .err()
                .unwrap_or_else(|| Error::Child("exec returned".into()));
            ch.send_error(&err.to_string());
            sys::exit_now(1)
        }
        sys::Forked::Parent(pid) => {
            drop(child_end);
            let ch = Channel(parent_end);
            let res = drive(e, pid, &ch);
            if res.is_err() {
                let _ = sys::kill(pid, libc::SIGKILL);
                let _ = sys::wait_pid(pid);
            }
            res.map(|_| pid)
        }
    }
}

fn drive(e: &Exec, pid: i32, ch: &Channel) -> Result<()> {
    ch.send(sync::GO)?;
    loop {
        match ch.recv()? {
            Msg::Word(w) if w == sync::READY => break,
            Msg::Word(w) if w == sync::SECCOMP => {
                let fd = ch.recv_fd()?;
                let l = e.listener.ok_or_else(|| {
                    Error::Child("linux.seccomp: no listener for the notify fd".into())
                })?;
                l(pid, fd).map_err(Error::Child)?;
            }
            Msg::Word(w) => return Err(Error::Child(format!("sync: unexpected message {w:?}"))),
            Msg::Failed(m) => return Err(Error::Child(m)),
            Msg::Closed => return Err(Error::Child("exec process ended during set-up".into())),
        }
    }
    // The child's end is close-on-exec: end-of-file means the exec happened.
    match ch.recv()? {
        Msg::Closed => Ok(()),
        Msg::Failed(m) => Err(Error::Child(m)),
        Msg::Word(w) => Err(Error::Child(format!("sync: unexpected message {w:?}"))),
    }
}

/// The init's namespaces that differ from ours, in the order they must be joined.
fn open_namespaces(pid: i32) -> Result<Vec<(T, OwnedFd)>> {
    let mut out = Vec::new();
    for t in ORDER {
        let name = proc_name(t);
        let theirs = format!("/proc/{pid}/ns/{name}");
        let (Ok(a), Ok(b)) = (
            std::fs::metadata(&theirs),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) else {
            continue; // the kernel lacks this namespace type
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let f = fd::openat(None, theirs.as_ref(), libc::O_RDONLY, 0)
            .ctx(|| format!("open {theirs}"))?;
        out.push((t, f));
    }
    Ok(out)
}

fn child(e: &Exec, nss: &[(T, OwnedFd)], ch: &Channel, joined: Option<&Path>) -> Result<()> {
    sys::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    sys::set_parent_death_signal(libc::SIGKILL).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    ch.expect(sync::GO)?;
    // Still in the host's user namespace: the container's is joined below.
    e.cgroup.join_self_except(joined)?;
    // Still in the host's mount namespace, which has selinuxfs.
    let selinux = crate::attributes::selinux_enabled();
    // A container without a mount namespace of its own has a chroot as its root (rootfs::pivot):
    // the process enters it too, or it would run on the host's root.
    let chroot = if nss.iter().any(|(t, _)| *t == T::Mount) {
        None
    } else {
        let root = format!("/proc/{}/root", e.init_pid);
        Some(fd::open_dir(Path::new(&root)).ctx(|| format!("open {root}"))?)
    };
    let mut userns = false;
    for (t, f) in nss {
        if *t == T::Pid {
            continue;
        }
        ns::setns(f, flag(*t) as i32)
            .ctx(|| format!("join the container's {} namespace", proc_name(*t)))?;
        trace::step(|| {
            format!(
                "exec: setns into the {name} namespace (with path /proc/{pid}/ns/{name})",
                name = proc_name(*t),
                pid = e.init_pid
            )
        });
        userns |= *t == T::User;
    }
    if userns {
        sys::setresgid(0).ctx(|| "become root in the user namespace".into())?;
        sys::setresuid(0).ctx(|| "become root in the user namespace".into())?;
    }
    if let Some(root) = chroot {
        fd::fchdir(&root).ctx(|| "enter the container's root".into())?;
        bulkhead_linux::mount::chroot(Path::new("."))
            .ctx(|| "chroot into the container's root".into())?;
        sys::chdir(Path::new("/")).ctx(|| "chdir /".into())?;
    }
    let opts = ProcessOpts {
        channel: ch.0.try_clone().ok().map(crate::sync::Channel),
        console: e.console.as_ref().and_then(|c| c.try_clone().ok()),
        setgroups_allowed: !userns
            || std::fs::read_to_string("/proc/self/setgroups")
                .map(|s| s.trim() == "allow")
                .unwrap_or(true),
        runtime: e.runtime,
        seccomp: e.seccomp.clone(),
        selinux,
    };
    process::setup_session(e.process, &opts)?;
    let prepared = process::prepare(e.process, &opts)?;
    drop(opts);
    sys::set_parent_death_signal(0).ctx(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    trace::step(|| format!("exec: about to exec {}", prepared.path.display()));
    ch.send(sync::READY)?;
    Err(process::exec(&prepared, e.preserve_fds))
}
