//! Class dispatch: which isolation class a container gets, and the sandbox class's runner,
//! which turns the container's init into the sentry.

use anyhow::{bail, Result};
use bulkhead_container::credentials::CapSets;
use bulkhead_container::launch::Runner;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType, Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// The annotation that picks the class per container (and so per pod).
pub const CLASS_ANNOTATION: &str = "dev.bulkhead.class";
/// The annotation that picks the sandbox's platform (systrap or ptrace).
pub const PLATFORM_ANNOTATION: &str = "dev.bulkhead.sandbox.platform";
/// The platform when neither the annotation nor `--sandbox-platform` names one (the test
/// suite runs once per platform with it).
pub const PLATFORM_ENV: &str = "BULKHEAD_SANDBOX_PLATFORM";
/// A test hook: make the confined sentry call something outside its allowlist.
pub const SELFTEST_ANNOTATION: &str = "dev.bulkhead.sentry.selftest";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    #[default]
    Container,
    Sandbox,
}

/// The class of a container: its annotation wins over the command line's `--class`.
pub fn class_of(spec: &Spec, flag: Option<&str>) -> Result<Class> {
    let annotated = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .map(String::as_str);
    match annotated.or(flag) {
        None | Some("container") => Ok(Class::Container),
        Some("sandbox") => Ok(Class::Sandbox),
        Some(other) if annotated.is_some() => {
            bail!("annotations[{CLASS_ANNOTATION}]: unknown class {other:?} (container or sandbox)")
        }
        Some(other) => bail!("--class: unknown class {other:?} (container or sandbox)"),
    }
}

/// The sandbox's platform: the annotation, else `--sandbox-platform`, else
/// $BULKHEAD_SANDBOX_PLATFORM, else systrap.
pub fn platform_of(spec: &Spec, flag: Option<&str>) -> Result<bulkhead_sentry::platform::Kind> {
    use bulkhead_sentry::platform::Kind;
    let annotated = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(PLATFORM_ANNOTATION))
        .map(String::as_str);
    let env = std::env::var(PLATFORM_ENV).ok().filter(|v| !v.is_empty());
    let (name, source) = match (annotated, flag, env.as_deref()) {
        (Some(a), _, _) => (a, format!("annotations[{PLATFORM_ANNOTATION}]")),
        (None, Some(f), _) => (f, "--sandbox-platform".to_string()),
        (None, None, Some(e)) => (e, PLATFORM_ENV.to_string()),
        (None, None, None) => return Ok(Kind::default()),
    };
    match Kind::parse(name) {
        Some(k) => Ok(k),
        None => bail!("{source}: unknown sandbox platform {name:?} (systrap or ptrace)"),
    }
}

/// Which /dev mounts a sandbox keeps. /dev/shm (the spec's tmpfs, a pod's shared one bound
/// in) holds files of the application's own: POSIX shared memory and semaphores (shm_open,
/// Python's multiprocessing), which the sentry passes through. Its mount point must not be
/// made in the image (a read-only rootfs, the image left as it was): it is kept when the
/// image has /dev/shm, or when the image has a /dev directory and the spec mounts a tmpfs
/// there, which is then kept to hold it (empty: the sandbox class makes no device nodes, and
/// the sentry serves the rest of /dev itself).
struct ShmMounts {
    shm: bool,
    dev_tmpfs: bool,
}

impl ShmMounts {
    fn keeps(&self, dest: &Path, typ: &str) -> bool {
        let shm = dest.starts_with("/dev/shm") && matches!(typ, "tmpfs" | "bind" | "");
        self.shm && shm || self.dev_tmpfs && dest == Path::new("/dev") && typ == "tmpfs"
    }
}

fn shm_mounts(spec: &Spec, rootfs: &Path) -> ShmMounts {
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let has = |p: &str| mounts.iter().any(|m| m.destination() == Path::new(p));
    let is_dir =
        |p: &str| std::fs::symlink_metadata(rootfs.join(p)).is_ok_and(|m| m.file_type().is_dir());
    let dev_tmpfs = mounts
        .iter()
        .rev()
        .find(|m| m.destination() == Path::new("/dev"))
        .is_some_and(|m| m.typ().as_deref() == Some("tmpfs"));
    let keep_dev = has("/dev/shm") && dev_tmpfs && is_dir("dev");
    ShmMounts {
        shm: has("/dev/shm") && (keep_dev || is_dir("dev") && is_dir("dev/shm")),
        dev_tmpfs: keep_dev,
    }
}

/// The config the container class sets up for a sandbox: the rootfs with the config's bind and
/// tmpfs mounts (volumes, /etc/hosts, /dev/shm, ...), but none of the kernel file systems
/// (proc, sysfs, devpts, mqueue, cgroup) nor the rest of /dev: the sentry serves those itself,
/// and the application must not reach the host's through a symlink in its rootfs.
pub fn sandbox_spec(spec: &Spec, rootfs: &Path) -> Spec {
    let mut s = spec.clone();
    let shm = shm_mounts(spec, rootfs);
    // A terminal is opened through the container's devpts before the sentry starts; the
    // sentry then serves it as the application's stdio and hides /dev/pts itself.
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if let Some(mounts) = s.mounts().clone() {
        let kept = mounts
            .into_iter()
            .filter(|m| {
                let typ = m.typ().as_deref().unwrap_or("");
                let dest = m.destination();
                if terminal && (typ == "devpts" || dest == Path::new("/dev")) {
                    return true;
                }
                if shm.keeps(dest, typ) {
                    return true;
                }
                !matches!(
                    typ,
                    "proc" | "sysfs" | "devpts" | "mqueue" | "cgroup" | "cgroup2"
                ) && !dest.starts_with("/dev")
                    && !dest.starts_with("/proc")
                    && !dest.starts_with("/sys")
            })
            .collect();
        s.set_mounts(Some(kept));
    }
    if let Some(linux) = s.linux_mut().as_mut() {
        // The sentry runs in a user namespace of its own: when the config gives the container
        // none, an identity mapping of every id keeps file owners as they are while the
        // sentry's capabilities stop at that namespace.
        let mut nss = linux.namespaces().clone().unwrap_or_default();
        // Network, ipc, uts, cgroup and pid namespaces shared by path (a pod's, podman's netns)
        // are not joined: the application reaches none of them through the sentry (it sees the
        // sentry's own processes), and joining one owned by the host's user namespace is
        // refused from inside the sentry's own (a CRI pod's shared pid namespace made the
        // sentry's unshare fail with EINVAL).
        for n in nss.iter_mut() {
            if matches!(
                n.typ(),
                LinuxNamespaceType::Network
                    | LinuxNamespaceType::Pid
                    | LinuxNamespaceType::Ipc
                    | LinuxNamespaceType::Uts
                    | LinuxNamespaceType::Cgroup
            ) {
                n.set_path(None);
            }
        }
        linux.set_namespaces(Some(nss.clone()));
        if !nss.iter().any(|n| n.typ() == LinuxNamespaceType::User) {
            let mut user = LinuxNamespace::default();
            user.set_typ(LinuxNamespaceType::User);
            nss.push(user);
            let all: LinuxIdMapping = serde_json::from_value(
                serde_json::json!({"containerID": 0, "hostID": 0, "size": u32::MAX}),
            )
            .unwrap_or_default();
            linux.set_uid_mappings(Some(vec![all]));
            linux.set_gid_mappings(Some(vec![all]));
            linux.set_namespaces(Some(nss));
        }
        // The application's calls never reach the host: a seccomp profile for them is the
        // sentry's to apply (not yet); on the host it would filter the sentry itself.
        linux.set_seccomp(None);
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        linux.set_devices(None);
        linux.set_sysctl(None);
    }
    s
}

/// The process's five capability sets as bit masks (the config was checked before the sandbox
/// starts, so a set that does not convert is empty).
fn cap_masks(p: &Process) -> [u64; 5] {
    CapSets::from_config(p.capabilities().as_ref())
        .unwrap_or_default()
        .masks()
}

/// How a sandbox-class container runs: a sentry of its own, or (a CRI pod's application
/// container) as part of its pod's sandbox.
pub enum SandboxRunner {
    Own(Box<SentryRunner>),
    Join(JoinRunner),
}

impl SandboxRunner {
    pub fn as_runner(&self) -> &dyn Runner {
        match self {
            SandboxRunner::Own(r) => r.as_ref(),
            SandboxRunner::Join(j) => j,
        }
    }
}

/// Sets up, in `create`, how the sandbox-class container `id` (state in `locked`) will run. A
/// CRI pod's application container whose pause container is a sandbox joins it: its exec
/// socket is a link to the pod's, and its init is connected to the pod's sentry now. Any
/// other gets a sentry of its own, with an exec socket, and the pod's interface when the
/// config names a network namespace that no sandbox serves yet.
pub fn runner(
    spec: &Spec,
    locked: &crate::state::Locked,
    id: &str,
    platform: bulkhead_sentry::platform::Kind,
) -> Result<SandboxRunner> {
    use crate::sandbox_exec::ENTRY_SOCKET;
    use anyhow::Context;
    let root = locked.dir.parent().unwrap_or(Path::new("/"));
    // With a terminal the init opens the console later, and serves it from 0, 1, 2.
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let stdio = (!terminal).then(|| sentry_stdio([0, 1, 2]).ok()).flatten();
    if let Some(pod) = crate::podnet::pod_sandbox(spec, root) {
        std::os::unix::fs::symlink(pod.join(ENTRY_SOCKET), locked.dir.join(ENTRY_SOCKET))
            .context("link the pod's exec socket")?;
        let conn = crate::sandbox_exec::connect(&pod).context("join the pod's sandbox")?;
        return Ok(SandboxRunner::Join(JoinRunner {
            conn,
            id: id.to_string(),
            stdio,
        }));
    }
    let entry = std::os::unix::net::UnixListener::bind(locked.entry_socket())
        .context("create the sandbox's exec socket")?;
    // The pod's interface is the sentry's: taken over while the runtime is still host root.
    let link = match crate::podnet::pod_netns_for(spec, root) {
        Some(path) => crate::podnet::attach(&path)?,
        None => None,
    };
    Ok(SandboxRunner::Own(Box::new(SentryRunner {
        link: std::sync::Mutex::new(link),
        entry: Some(entry),
        hostname: spec.hostname().clone().unwrap_or_default(),
        selftest: spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(SELFTEST_ANNOTATION))
            .cloned(),
        facts: bulkhead_sentry::HostFacts::read(),
        platform,
        stdio,
    })))
}

/// The sentry's own descriptions of `stdio` (its stdio.rs): non-blocking ones of pipes and
/// terminals, made here where /proc is visible, so that the sentry never waits in the host
/// for one process's output; a duplicate of anything else.
pub fn sentry_stdio(stdio: [RawFd; 3]) -> std::io::Result<[OwnedFd; 3]> {
    let [a, b, c] = stdio.map(bulkhead_linux::fd::reopen_or_dup);
    Ok([a?, b?, c?])
}

/// Runs the program as the first process of a pod's container in the pod's sandbox (the
/// pause container's sentry), which `create` connected to: the container's init prepares the
/// root filesystem as for a sandbox of its own, hands its root over, and stands for the
/// process (sandbox_exec::join).
pub struct JoinRunner {
    pub conn: std::os::unix::net::UnixStream,
    /// The container's id, by which the pod's sentry knows its processes.
    pub id: String,
    /// As SentryRunner's.
    pub stdio: Option<[OwnedFd; 3]>,
}

impl Runner for JoinRunner {
    fn run(&self, _: &Path, p: &Process) -> std::result::Result<i32, String> {
        let conn = self
            .conn
            .try_clone()
            .map_err(|e| format!("join the pod's sandbox: {e}"))?;
        let root =
            bulkhead_linux::fd::openat(None, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(|e| format!("join the pod's sandbox: open the root: {e}"))?;
        let stdio = match &self.stdio {
            Some(s) => s.each_ref().map(|f| f.as_raw_fd()),
            None => [0, 1, 2],
        };
        crate::sandbox_exec::join(conn, &self.id, p, stdio, root)
    }
}

/// Runs the program in the sentry: set up while the host is reachable, confine, serve.
pub struct SentryRunner {
    /// Where `exec` asks the sentry for processes (sandbox_exec.rs).
    pub entry: Option<std::os::unix::net::UnixListener>,
    pub hostname: String,
    pub selftest: Option<String>,
    /// Read in the runtime, where the host's /proc is visible.
    pub facts: bulkhead_sentry::HostFacts,
    pub platform: bulkhead_sentry::platform::Kind,
    /// The pod's interface, taken over for the sentry's stack (podnet.rs).
    pub link: std::sync::Mutex<Option<bulkhead_sentry::net::pod::Link>>,
    /// The container's stdio as the sentry serves it (`sentry_stdio`); None with a terminal,
    /// which the init opens later, or when the runtime's stdio could not be had.
    pub stdio: Option<[OwnedFd; 3]>,
}

impl Runner for SentryRunner {
    fn run(&self, path: &Path, p: &Process) -> std::result::Result<i32, String> {
        // Read before confinement: converting the sets reads the host's cap_last_cap.
        let caps = cap_masks(p);
        // The console (process.terminal), opened by the init after `create` made the other
        // stdio's copies: a non-blocking description of the sentry's own too, by its name in
        // the container's devpts, still mounted here (a slow reader of the console would
        // otherwise stop the whole sandbox).
        let console = match p.terminal() {
            Some(true) => bulkhead_linux::fd::reopen_pty_slave(0).ok().flatten(),
            _ => None,
        };
        let env = bulkhead_container::process::env_with_home(p);
        let prep = bulkhead_sentry::prepare(&self.facts, self.platform)?;
        let entry = self
            .entry
            .as_ref()
            .map(|l| {
                l.set_nonblocking(true)?;
                l.try_clone().map(OwnedFd::from)
            })
            .transpose()
            .map_err(|e| format!("sentry: exec socket: {e}"))?;
        let entry_fd = entry.as_ref().map(|f| f.as_raw_fd());
        let root: OwnedFd = bulkhead_sentry::confine::confine(prep.mem_fd(), entry_fd)?;
        if self.selftest.as_deref() == Some("forbidden-syscall") {
            // A call outside the allowlist: the filter must kill us here.
            bulkhead_linux::process::forbidden_call_selftest();
            return Err("sentry: a call outside the allowlist was not stopped".into());
        }
        let prog = bulkhead_sentry::Program {
            path: path.to_string_lossy().into_owned(),
            args: p.args().clone().unwrap_or_default(),
            env,
            cwd: p.cwd().to_string_lossy().into_owned(),
            uid: p.user().uid(),
            gid: p.user().gid(),
            umask: p.user().umask().unwrap_or(0o022),
            groups: p.user().additional_gids().clone().unwrap_or_default(),
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            terminal: p.terminal().unwrap_or(false),
            stdio: match (&self.stdio, &console) {
                (Some(s), _) => Some(s.each_ref().map(|f| f.as_raw_fd())),
                (None, Some(c)) => Some([c.as_raw_fd(); 3]),
                (None, None) => None,
            },
            hostname: self.hostname.clone(),
            caps,
        };
        if let Some(link) = self.link.lock().ok().and_then(|mut l| l.take()) {
            bulkhead_sentry::net::pod::install(link);
        }
        let out = bulkhead_sentry::run(root, prep, &prog, entry)?;
        if !out.enosys.is_empty() {
            // Into the runtime's log (containerd always gives one); without a log file the
            // container's stderr is the application's, so only --debug adds the line there.
            let msg = format!(
                "sandbox: unimplemented system calls (answered ENOSYS): {}",
                out.enosys
            );
            if crate::log::has_file() {
                crate::log::warn(&msg);
            } else {
                crate::log::debug(&msg);
            }
        }
        Ok(out.status)
    }
}
