//! The runtime's side of starting a container: fork the init with its namespaces, give it its
//! uid/gid maps and cgroup, run the hooks that belong to the runtime's namespace, and wait until
//! the init reports that it is ready for `start`.

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::init;
use crate::namespaces::{self, Plan};
use crate::sync::{self, Channel, Msg};
use bulkhead_linux::{fd, ns, process as sys, socket};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The hooks the container class calls at the moments the OCI spec names. The runtime layer
/// implements them; `create_container` and `start_container` run inside the init.
pub trait Hooks {
    /// The init exists (it waits for its first word on the sync channel): the runtime records
    /// its pid before anything else can fail or kill the runtime. An error kills the init.
    fn cloned(&self, _pid: i32) -> std::result::Result<(), String> {
        Ok(())
    }
    /// prestart and createRuntime: in the runtime's namespaces, once the init's exist.
    fn create_runtime(&self, pid: i32) -> std::result::Result<(), String>;
    /// createContainer: in the container's namespaces, before pivot_root.
    fn create_container(&self, pid: i32) -> std::result::Result<(), String>;
    /// startContainer: in the container, after `start`, just before the program is executed.
    fn start_container(&self, pid: i32) -> std::result::Result<(), String>;
    /// The seccomp notify fd of the container's process, for linux.seccomp.listenerPath.
    fn seccomp_listener(
        &self,
        pid: i32,
        fd: std::os::fd::OwnedFd,
    ) -> std::result::Result<(), String>;
}

/// Runs the container's program in place of exec: the sandbox class's sentry. Called in the
/// init after `start`, with the program resolved; returns its exit status.
pub trait Runner {
    fn run(
        &self,
        path: &std::path::Path,
        process: &oci_spec::runtime::Process,
    ) -> std::result::Result<i32, String>;
}

/// Everything the init needs; the init is a fork, so it sees this struct as it is at the fork.
pub struct Launch<'a> {
    pub spec: &'a Spec,
    pub bundle: PathBuf,
    /// The rootfs, absolute.
    pub rootfs: PathBuf,
    pub ns: Plan,
    pub cgroup: &'a Cgroup,
    /// The limits the cgroup gets once the init exists (`Cgroup::enter`).
    pub resources: Option<&'a oci_spec::runtime::LinuxResources>,
    /// The paths of the config's linux.devices (see `resources::apply`).
    pub spec_devices: Vec<std::path::PathBuf>,
    pub console: Option<UnixStream>,
    /// Where `start` connects; the init accepts on it once it is ready.
    pub start: UnixListener,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    /// Join a new session keyring (runc's default; `--no-new-keyring` turns it off).
    pub new_keyring: bool,
    pub runtime: (u64, u64),
    /// The sandbox class: run the program with this instead of exec.
    pub runner: Option<&'a dyn Runner>,
}

/// Forks the init and walks it to the "created" state. Returns the init's pid (in the runtime's
/// pid namespace). On failure the init is killed and reaped before returning.
pub fn launch(l: &Launch, hooks: &dyn Hooks) -> Result<i32> {
    let (parent_end, child_end) = socket::seqpacket_pair().ctx(|| "create sync socket".into())?;
    // Idmapped binds are made here, in the host's user namespace; the init only attaches them.
    let idmapped = crate::idmap::prepare(l.spec, &l.bundle)?;
    let opened = namespaces::open_joins(&l.ns)?;
    let pid_join = opened.iter().find(|(t, _)| *t == LinuxNamespaceType::Pid);
    let own_pid_ns = match pid_join {
        Some((_, f)) => {
            let own = fd::openat(None, "/proc/self/ns/pid".as_ref(), libc::O_RDONLY, 0)
                .ctx(|| "open own pid namespace".into())?;
            ns::setns(f, libc::CLONE_NEWPID)
                .ctx(|| "linux.namespaces: join pid namespace".into())?;
            Some(own)
        }
        None => None,
    };
    // Into its v2 cgroup at birth; it joins the others itself (in a new user namespace,
    // through the `tasks` files opened here, or, where there are none, moved by `drive`).
    let tasks = match l.ns.creates(LinuxNamespaceType::User) {
        true => l.cgroup.open_v1_tasks()?,
        false => None,
    };
    let (forked, joined) = l.cgroup.clone_into(l.ns.clone_flags);
    if let Some(own) = &own_pid_ns {
        // Children forked from here on (hooks) must be in our own pid namespace again.
        let _ = ns::setns(own, libc::CLONE_NEWPID);
    }
    match forked.ctx(|| "clone the container's init".into())? {
        sys::Forked::Child => {
            drop(parent_end);
            init::run(
                l,
                &opened,
                &idmapped,
                Channel(child_end),
                hooks,
                (joined, tasks),
            )
        }
        sys::Forked::Parent(pid) => {
            let moves_itself = tasks.is_some();
            drop((child_end, idmapped, tasks));
            let ch = Channel(parent_end);
            match drive(l, pid, &ch, hooks, (joined, moves_itself)) {
                Ok(()) => Ok(pid),
                Err(e) => {
                    let _ = sys::kill(pid, libc::SIGKILL);
                    let _ = sys::wait_pid(pid);
                    Err(e)
                }
            }
        }
    }
}

/// `joined`: the cgroup directory the init was cloned into, and whether it joins the v1
/// hierarchies itself (in a new user namespace, through the `tasks` files opened for it).
fn drive(
    l: &Launch,
    pid: i32,
    ch: &Channel,
    hooks: &dyn Hooks,
    (joined, moves_itself): (Option<&Path>, bool),
) -> Result<()> {
    hooks.cloned(pid).map_err(Error::Child)?;
    // Its cgroup and limits, while it waits for our word and runs nothing.
    l.cgroup.enter(pid, l.resources, &l.spec_devices)?;
    if l.ns.creates(LinuxNamespaceType::User) {
        let linux = l.spec.linux().as_ref();
        write_id_map(
            pid,
            "uid_map",
            linux
                .and_then(|x| x.uid_mappings().as_deref())
                .unwrap_or(&[]),
        )?;
        write_id_map(
            pid,
            "gid_map",
            linux
                .and_then(|x| x.gid_mappings().as_deref())
                .unwrap_or(&[]),
        )?;
    }
    if moves_itself {
        l.cgroup.add_v2_except(pid, joined)?;
    } else if l.ns.creates(LinuxNamespaceType::User) {
        // In its new user namespace the init may not open the host's cgroup files; outside
        // one it joins them itself, faster (Cgroup::join_self_except).
        l.cgroup.add_except(pid, joined)?;
    }
    ch.send(&format!("{}:{pid}", sync::GO))?;
    loop {
        match ch.recv()? {
            Msg::Word(w) if w == sync::HOOKS => {
                hooks.create_runtime(pid).map_err(Error::Child)?;
                ch.send(sync::GO)?;
            }
            Msg::Word(w) if w == sync::READY => return Ok(()),
            Msg::Word(w) if w == sync::SECCOMP => {
                let fd = ch.recv_fd()?;
                hooks.seccomp_listener(pid, fd).map_err(Error::Child)?;
            }
            Msg::Word(w) => return Err(Error::Child(format!("sync: unexpected message {w:?}"))),
            Msg::Failed(e) => return Err(Error::Child(e)),
            Msg::Closed => return Err(Error::Child("container init exited during set-up".into())),
        }
    }
}

/// Writes /proc/<pid>/{uid,gid}_map. An empty mapping list is a config error: a new user
/// namespace without mappings can do nothing.
fn write_id_map(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let field = if file == "uid_map" {
        "linux.uidMappings"
    } else {
        "linux.gidMappings"
    };
    if maps.is_empty() {
        return Err(Error::Config(format!(
            "{field}: a new user namespace needs at least one mapping"
        )));
    }
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    // An unprivileged runtime (rootless) may write a gid_map only once setgroups is denied.
    if file == "gid_map" && sys::euid() != 0 {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .ctx(|| format!("{field}: write /proc/{pid}/setgroups"))?;
    }
    std::fs::write(format!("/proc/{pid}/{file}"), text)
        .ctx(|| format!("{field}: write /proc/{pid}/{file}"))
}
