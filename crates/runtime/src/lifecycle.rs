//! The OCI lifecycle: create, start, state, kill, delete, and run (create + start + wait).
//! Every command takes the container's lock; a command that fails changes nothing.

use crate::config::{self, Config};
use crate::hooks::ContainerHooks;
use crate::sandbox::{class_of, platform_of, sandbox_spec, Class};
use crate::state::{self, Locked, Phase, State, Status, Store};
use crate::tty::{self, OwnConsole};
use crate::{faults, log};
use anyhow::{anyhow, bail, Context, Result};
use bulkhead_container::cgroups::{self, Cgroup};
use bulkhead_container::exe;
use bulkhead_container::launch::{self, Launch};
use bulkhead_container::{resources, rootfs};
use bulkhead_linux::process as sys;
use oci_spec::runtime::LinuxNamespaceType;
use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `create` (and `run`).
#[derive(Debug, Default, Clone)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `run` in the foreground may allocate a terminal without a console socket.
    pub detach: bool,
    /// `--class`: the isolation class when the config's annotation does not name one.
    pub class: Option<String>,
    /// `--sandbox-platform`: the sandbox's platform when the annotation does not name one.
    pub sandbox_platform: Option<String>,
    /// `--systemd-cgroup`: systemd makes the container's cgroup (a transient unit).
    pub systemd_cgroup: bool,
}

/// Creates the container; returns the init's pid. On failure nothing is left behind: no state
/// directory, cgroup, mount (they live in the init's mount namespace) or process.
pub fn create(store: &Store, opts: &CreateOpts) -> Result<i32> {
    state::validate_id(&opts.id)?;
    let t0 = Instant::now();
    let mut cfg = config::load(&opts.bundle)?;
    log::debug(&format!(
        "create {}: config parsed and checked in {:?}",
        opts.id,
        t0.elapsed()
    ));
    check_console(&cfg, opts)?;
    let listen = listen_fds(&mut cfg);
    let locked = store.create(&opts.id)?;
    faults::point("create:locked");
    let mut cgroup = Cgroup::default();
    let init = Cell::new(None);
    let host_mounts = Cell::new(None);
    match create_locked(
        &locked,
        &cfg,
        opts,
        listen,
        &mut cgroup,
        &init,
        &host_mounts,
    ) {
        Ok(pid) => Ok(pid),
        Err(e) => {
            // Every failure after the clone: the init goes first, then its mounts and cgroups.
            if let Some((pid, start)) = init.get() {
                kill_and_reap(pid, start);
            }
            if let Some(before) = host_mounts.get() {
                if let Err(ue) = rootfs::unmount_host_binds(&cfg.rootfs, before) {
                    log::warn(&format!("cleanup after failed create: {ue}"));
                }
            }
            if let Err(ce) = cgroup.remove() {
                log::warn(&format!("cleanup after failed create: {ce}"));
            }
            let _ = locked.remove();
            Err(e)
        }
    }
}

/// Kills and reaps the init of a failed create, if `pid` is still the process that was cloned
/// (launch may have reaped it already, and its pid may be anyone's by now).
fn kill_and_reap(pid: i32, start: u64) {
    match sys::stat_start(pid) {
        Ok((state, t)) if t == start => {
            if state != 'Z' {
                let _ = sys::kill(pid, libc::SIGKILL);
            }
            let _ = sys::wait_pid(pid);
        }
        _ => {}
    }
}

fn check_console(cfg: &Config, opts: &CreateOpts) -> Result<()> {
    let terminal = cfg
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    console_rules(terminal, opts.console_socket.is_some())
}

/// A terminal needs a console socket to send it to, and a console socket needs a terminal
/// (runc's rules, with its messages).
pub(crate) fn console_rules(terminal: bool, socket: bool) -> Result<()> {
    match (terminal, socket) {
        (true, false) => {
            bail!("cannot allocate tty if bulkhead will detach without setting console socket")
        }
        (false, true) => {
            bail!("cannot use console socket if bulkhead will not detach or allocate tty")
        }
        _ => Ok(()),
    }
}

/// Connects to `--console-socket`, if given.
pub(crate) fn connect_console(path: Option<&std::path::Path>) -> Result<Option<UnixStream>> {
    path.map(|p| {
        UnixStream::connect(p)
            .map_err(|e| anyhow!("--console-socket {}: {}", p.display(), config::io_msg(&e)))
    })
    .transpose()
}

/// Socket activation: fds handed to us with LISTEN_FDS are passed on to the container, with
/// LISTEN_FDS and LISTEN_PID=1 in its environment, as runc does.
fn listen_fds(cfg: &mut Config) -> u32 {
    let n: u32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if n > 0 {
        if let Some(p) = cfg.spec.process_mut().as_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.push(format!("LISTEN_FDS={n}"));
            env.push("LISTEN_PID=1".into());
            p.set_env(Some(env));
        }
    }
    n
}

/// The create's hooks, and the moment the init exists: its pid goes into the state at once, so
/// a runtime killed from then on leaves a container that `delete --force` finds and kills.
struct CreateHooks<'a> {
    hooks: ContainerHooks<'a>,
    locked: &'a Locked,
    init: &'a Cell<Option<(i32, u64)>>,
}

impl bulkhead_container::launch::Hooks for CreateHooks<'_> {
    fn cloned(&self, pid: i32) -> std::result::Result<(), String> {
        let start = sys::start_time(pid).map_err(|e| format!("read the init's start time: {e}"))?;
        self.init.set(Some((pid, start)));
        let mut st = self.hooks.state.clone();
        st.pid = pid;
        st.pid_start = start;
        self.locked.save(&st).map_err(|e| format!("{e:#}"))?;
        faults::point("create:cloned");
        Ok(())
    }
    fn create_runtime(&self, pid: i32) -> std::result::Result<(), String> {
        self.hooks.create_runtime(pid)
    }
    fn create_container(&self, pid: i32) -> std::result::Result<(), String> {
        self.hooks.create_container(pid)
    }
    fn start_container(&self, pid: i32) -> std::result::Result<(), String> {
        self.hooks.start_container(pid)
    }
    fn seccomp_listener(
        &self,
        pid: i32,
        fd: std::os::fd::OwnedFd,
    ) -> std::result::Result<(), String> {
        self.hooks.seccomp_listener(pid, fd)
    }
}

fn create_locked(
    locked: &Locked,
    cfg: &Config,
    opts: &CreateOpts,
    listen: u32,
    cgroup: &mut Cgroup,
    init: &Cell<Option<(i32, u64)>>,
    host_mounts: &Cell<Option<usize>>,
) -> Result<i32> {
    let linux = cfg.spec.linux().as_ref();
    let driver = if opts.systemd_cgroup {
        cgroups::Driver::Systemd
    } else {
        cgroups::Driver::Cgroupfs
    };
    *cgroup = cgroups::plan(
        linux.and_then(|l| l.cgroups_path().as_deref()),
        &opts.id,
        driver,
        cfg.spec.annotations().as_ref(),
    )?;
    if bulkhead_linux::process::euid() != 0 {
        cgroup.drop_unwritable();
        let limits = linux.and_then(|l| l.resources().as_ref()).is_some_and(|r| {
            r.memory().is_some()
                || r.cpu().is_some()
                || r.pids().is_some()
                || r.block_io().is_some()
        });
        if limits && cgroup.dirs.is_empty() {
            bail!("linux.resources: a rootless container cannot have limits without a cgroup it may write to");
        }
    }
    if !cfg.ns.has(LinuxNamespaceType::Mount) {
        host_mounts.set(Some(rootfs::mounts_at(&cfg.rootfs)?));
    }
    // As runc 1.1: a cgroup that already holds processes is used, with a warning.
    if let Ok(pids) = cgroup.pids() {
        if !pids.is_empty() {
            log::warn(&format!(
                "container's cgroup is not empty: {} process(es) found",
                pids.len()
            ));
        }
    }
    // The directories about to be made are in the state before the first exists.
    cgroup.claim();
    let mut st = State {
        id: opts.id.clone(),
        pid: 0,
        pid_start: 0,
        bundle: cfg.bundle.clone(),
        rootfs: cfg.rootfs.clone(),
        created: crate::time::now_rfc3339(),
        owner: String::new(),
        phase: Phase::Creating,
        cgroup: cgroup.clone(),
        config: cfg.spec.clone(),
        host_rootfs_mounts: host_mounts.get(),
    };
    locked.save(&st)?;
    faults::point("create:saved");
    let t0 = Instant::now();
    cgroup.create()?;
    // As runc 1.1: a frozen cgroup (its own freezer, or a frozen parent's) would freeze the
    // init on joining, and create would wait for it forever.
    if resources::is_frozen(cgroup) {
        bail!("container's cgroup unexpectedly frozen");
    }
    faults::point("create:cgroups");
    log::debug(&format!(
        "create {}: cgroups made in {:?}",
        opts.id,
        t0.elapsed()
    ));
    st.cgroup = cgroup.clone();
    locked.save(&st)?;
    let console = connect_console(opts.console_socket.as_deref())?;
    let start = UnixListener::bind(locked.start_socket()).context("create start socket")?;
    let class = class_of(&cfg.spec, opts.class.as_deref())?;
    let platform = platform_of(&cfg.spec, opts.sandbox_platform.as_deref())?;
    let sandboxed = (class == Class::Sandbox).then(|| sandbox_spec(&cfg.spec, &cfg.rootfs));
    // The sandbox's config may add namespaces (its own user namespace): plan from it.
    let ns = match &sandboxed {
        Some(s) => bulkhead_container::namespaces::plan(
            s.linux()
                .as_ref()
                .and_then(|l| l.namespaces().as_deref())
                .unwrap_or(&[]),
        )?,
        None => cfg.ns.clone(),
    };
    let mut l = Launch {
        spec: sandboxed.as_ref().unwrap_or(&cfg.spec),
        bundle: cfg.bundle.clone(),
        rootfs: cfg.rootfs.clone(),
        ns,
        cgroup,
        // Set once the init exists (Cgroup::enter): a systemd unit is born with a process.
        resources: linux.and_then(|l| l.resources().as_ref()),
        spec_devices: device_nodes(&cfg.spec),
        console,
        start,
        no_pivot: opts.no_pivot,
        preserve_fds: opts.preserve_fds + listen,
        new_keyring: !opts.no_new_keyring,
        runtime: exe::runtime_identity().context("stat /proc/self/exe")?,
        runner: None,
    };
    let hooks = CreateHooks {
        hooks: ContainerHooks {
            hooks: cfg.spec.hooks().as_ref(),
            state: &st,
        },
        locked,
        init,
    };
    let runner = match class {
        Class::Sandbox => Some(crate::sandbox::runner(
            &cfg.spec, locked, &opts.id, platform,
        )?),
        Class::Container => None,
    };
    l.runner = runner
        .as_ref()
        .map(crate::sandbox::SandboxRunner::as_runner);
    let t0 = Instant::now();
    let pid = launch::launch(&l, &hooks).map_err(|e| explain_setup_death(e, cgroup, cfg))?;
    log::debug(&format!(
        "create {}: init {pid} set up (namespaces, mounts, hooks) in {:?}",
        opts.id,
        t0.elapsed()
    ));
    faults::point("create:launched");
    st.pid = pid;
    st.pid_start = init.get().map(|(_, t)| t).unwrap_or_default();
    st.phase = Phase::Created;
    if let Some(p) = &opts.pid_file {
        state::write_pid_file(p, pid)?;
    }
    locked.save(&st)?;
    faults::point("create:done");
    Ok(pid)
}

/// An init that died during set-up without a word: when its memory cgroup counted an OOM kill,
/// the config's memory limit is what killed it (runc: "unable to set memory limit").
fn explain_setup_death(
    e: bulkhead_container::Error,
    cgroup: &Cgroup,
    cfg: &Config,
) -> anyhow::Error {
    let limit = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit());
    match limit {
        Some(l) if crate::events::oom_kills(cgroup) > 0 => anyhow!(
            "linux.resources.memory.limit: the container's init was OOM-killed during set-up: \
             {l} bytes is too little"
        ),
        _ => e.into(),
    }
}

/// The paths of the config's linux.devices (see resources::apply).
pub(crate) fn device_nodes(spec: &oci_spec::runtime::Spec) -> Vec<PathBuf> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.devices().as_deref())
        .unwrap_or(&[])
        .iter()
        .map(|d| d.path().clone())
        .collect()
}

/// Starts a created container: the init runs the startContainer hooks and execs the program;
/// poststart hooks run once it has.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let (locked, mut st) = store.open(id)?;
    match st.status(&locked.dir) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start a container in the {s} state"),
    }
    log::debug(&format!(
        "start {id}: signalling init {} to run its program",
        st.pid
    ));
    let mut conn =
        UnixStream::connect(locked.start_socket()).context("connect to the container's init")?;
    conn.write_all(b"s")
        .context("signal the container's init")?;
    faults::point("start:signalled");
    let mut reply = String::new();
    // End-of-file: the init has executed the program (its end of the socket is close-on-exec).
    let _ = conn.read_to_string(&mut reply);
    let _ = std::fs::remove_file(locked.dir.join(state::START_SOCKET));
    st.phase = Phase::Started;
    locked.save(&st)?;
    faults::point("start:saved");
    if let Some(e) = reply.strip_prefix("error:") {
        bail!("{e}");
    }
    log::debug(&format!("start {id}: the program runs"));
    let hooks = ContainerHooks {
        hooks: st.config.hooks().as_ref(),
        state: &st,
    };
    // The spec: a failing poststart hook is logged, the container keeps running.
    if let Err(e) = hooks.poststart(st.pid) {
        log::warn(&e);
    }
    Ok(())
}

/// The OCI state JSON of a container, as `state` prints it.
pub fn state_json(store: &Store, id: &str) -> Result<String> {
    state::validate_id(id)?;
    let dir = store.dir(id);
    let st = state::load(&dir).map_err(|_| anyhow!("container {id} does not exist"))?;
    Ok(serde_json::to_string_pretty(&st.oci(st.status(&dir)))?)
}

/// Sends a signal to the init, or with `all` to every process of the container.
pub fn kill(store: &Store, id: &str, sig: i32, all: bool) -> Result<()> {
    let (locked, st) = store.open(id)?;
    let status = st.status(&locked.dir);
    match status {
        Status::Created | Status::Running | Status::Paused => {}
        _ => bail!("container not running"),
    }
    // A started sandbox's processes are the sentry's (the host sees only its stubs), so it
    // signals them; SIGKILL still goes to every host process, which ends them all at once.
    let sandbox = status != Status::Created && crate::sandbox_exec::is_sandbox(&locked.dir);
    // Signal 0 only asks whether the container is there: the host's init answers for both.
    if all && sandbox && sig != libc::SIGKILL && sig != 0 {
        return crate::sandbox_exec::signal_all(&locked.dir, sig, status == Status::Paused);
    }
    if all {
        log::debug(&format!("kill {id}: signal {sig} to every process"));
        st.cgroup.signal_all(sig)?;
        return Ok(());
    }
    log::debug(&format!("kill {id}: signal {sig} to init {}", st.pid));
    sys::kill(st.pid, sig).with_context(|| format!("signal the container's init (pid {})", st.pid))
}

/// Deletes a stopped container; with `force` a live one is killed first. `force` on a container
/// that does not exist succeeds, as runc's does.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let (locked, st) = match store.open(id) {
        Ok(x) => x,
        Err(_) if force => return delete_without_state(store, id),
        Err(e) => return Err(e),
    };
    delete_locked(locked, &st, force)
}

fn delete_locked(locked: Locked, st: &State, force: bool) -> Result<()> {
    faults::point("delete:locked");
    match st.status(&locked.dir) {
        Status::Stopped => {}
        // `create` holds the lock to its end: a container still creating under our lock lost
        // its creator, and nothing will ever finish it.
        Status::Creating => kill_all(st)?,
        _ if force => kill_all(st)?,
        s => bail!("cannot delete container {} that is not stopped: {s}", st.id),
    }
    faults::point("delete:killed");
    destroy(locked, st)?;
    log::debug(&format!(
        "delete {}: processes, cgroups and state removed",
        st.id
    ));
    Ok(())
}

/// Kills the init and every process of the container's cgroup, and waits for the init to go.
pub(crate) fn kill_all(st: &State) -> Result<()> {
    if st.pid > 0 {
        let _ = sys::kill(st.pid, libc::SIGKILL);
    }
    st.cgroup.signal_all(libc::SIGKILL)?;
    // Frozen processes die only once thawed.
    if resources::is_frozen(&st.cgroup) {
        resources::freeze(&st.cgroup, false)?;
    }
    wait_gone(st)
}

/// `delete --force` of a directory without a readable state.json: a `create` still running
/// (wait for its lock, then delete what it made), or one killed before it saved any state.
/// The directory is removed only under its lock, or while it has no lock file yet.
fn delete_without_state(store: &Store, id: &str) -> Result<()> {
    state::validate_id(id)?;
    let dir = store.dir(id);
    for _ in 0..3 {
        match store.lock(id) {
            Ok(locked) => {
                return match state::load(&locked.dir) {
                    Ok(st) => delete_locked(locked, &st, true),
                    Err(_) => locked.remove(),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("lock {}", dir.display())),
        }
        // No directory, or one whose `create` has not made its lock yet: an empty directory
        // goes (that create then fails to lock it); one that gained a lock file meanwhile is
        // locked on the next round.
        match std::fs::remove_dir(&dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", dir.display())),
        }
    }
    bail!("container {id}: {} holds files but no lock", dir.display())
}

/// Waits (bounded) for the init to be gone, reaping it if it is our child.
fn wait_gone(st: &State) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sys::start_time(st.pid).ok() == Some(st.pid_start) {
        sys::try_wait_any();
        if Instant::now() > deadline {
            bail!("container init (pid {}) did not exit after SIGKILL", st.pid);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Removes what is left of a stopped container: stray processes (no pid namespace), poststop
/// hooks, cgroups, state.
pub(crate) fn destroy(locked: Locked, st: &State) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = st.cgroup.pids().unwrap_or_default();
        if pids.is_empty() || Instant::now() > deadline {
            break;
        }
        st.cgroup.signal_all(libc::SIGKILL)?;
        sys::try_wait_any();
        std::thread::sleep(Duration::from_millis(2));
    }
    let hooks = ContainerHooks {
        hooks: st.config.hooks().as_ref(),
        state: st,
    };
    if let Err(e) = hooks.poststop() {
        log::warn(&e);
    }
    faults::point("delete:poststop");
    if let Some(before) = st.host_rootfs_mounts {
        rootfs::unmount_host_binds(&st.rootfs, before)?;
    }
    st.cgroup.remove()?;
    faults::point("delete:cgroups-removed");
    locked.remove()
}

/// Waits for `pid` (our child), forwarding the signals we receive to it, and reaping any other
/// child that ends meanwhile (we are a subreaper). Returns the exit status, runc-style.
pub fn forward_and_wait(pid: i32) -> Result<i32> {
    loop {
        while let Some((p, exit)) = sys::try_wait_any() {
            if p == pid {
                log::debug(&format!(
                    "process exited: pid {pid}, status {}",
                    exit.status()
                ));
                return Ok(exit.status());
            }
        }
        let sig = sys::wait_signal().context("wait for signals")?;
        if sig != libc::SIGCHLD {
            let _ = sys::kill(pid, sig);
        }
    }
}

/// `run`: create, start, and unless detached wait for the program and delete the container.
/// Returns the exit status.
pub fn run(store: &Store, opts: &CreateOpts, keep: bool) -> Result<i32> {
    sys::set_child_subreaper().context("become a subreaper")?;
    // Block signals before the init exists, so none is lost between fork and wait; the init
    // unblocks them just before exec.
    sys::block_all_signals().context("block signals")?;
    // In the foreground, a terminal without a console socket is ours to carry.
    let terminal = config::load(&opts.bundle)?
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let own = (terminal && opts.console_socket.is_none() && !opts.detach)
        .then(|| OwnConsole::new(&opts.id))
        .transpose()?;
    let mut opts = opts.clone();
    if let Some(o) = &own {
        opts.console_socket = Some(o.path.clone());
    }
    let pid = create(store, &opts)?;
    let master = match own.as_ref().map(OwnConsole::receive).transpose() {
        Ok(m) => m,
        Err(e) => {
            let _ = delete(store, &opts.id, true);
            return Err(e);
        }
    };
    drop(own);
    if let Err(e) = start(store, &opts.id) {
        let _ = delete(store, &opts.id, true);
        return Err(e);
    }
    if opts.detach {
        return Ok(0);
    }
    let status = match master {
        Some(m) => tty::proxy_and_wait(pid, m)?,
        None => forward_and_wait(pid)?,
    };
    if !keep {
        delete(store, &opts.id, true)?;
    }
    Ok(status)
}

/// `pause`: freeze every process of a running container.
pub fn pause(store: &Store, id: &str) -> Result<()> {
    let (locked, st) = store.open(id)?;
    match st.status(&locked.dir) {
        Status::Running => Ok(resources::freeze(&st.cgroup, true)?),
        s => bail!("cannot pause a container in the {s} state"),
    }
}

/// `resume`: thaw a paused container.
pub fn resume(store: &Store, id: &str) -> Result<()> {
    let (locked, st) = store.open(id)?;
    match st.status(&locked.dir) {
        Status::Paused => Ok(resources::freeze(&st.cgroup, false)?),
        s => bail!("cannot resume a container in the {s} state"),
    }
}

/// `update`: new limits for a created, running or paused container; the stored config is kept
/// in step so a later `update` or `state` sees them.
///
/// Device rules are left as the container was created with them, as runc 1.1.5's `update`
/// leaves them (it reads linux.resources.devices and applies the created container's rules
/// again): containerd sends the container's whole resources, device rules included, with every
/// update, and writing a rule list afresh to a running container's v1 devices cgroup denies
/// every device between its "deny all" and the allows after it.
pub fn update(store: &Store, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let (locked, mut st) = store.open(id)?;
    if st.status(&locked.dir) == Status::Stopped {
        bail!("cannot update a stopped container");
    }
    let mut r = r.clone();
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        crate::log::debug(&format!(
            "update {id}: linux.resources.devices left as created (as runc's update)"
        ));
    }
    r.set_devices(None);
    let r = &r;
    resources::check(r)?;
    st.cgroup.set(r, &device_nodes(&st.config))?;
    if let Some(linux) = st.config.linux_mut().as_mut() {
        let mut merged = linux.resources().clone().unwrap_or_default();
        if r.memory().is_some() {
            merged.set_memory(*r.memory());
        }
        if r.cpu().is_some() {
            merged.set_cpu(r.cpu().clone());
        }
        if r.pids().is_some() {
            merged.set_pids(*r.pids());
        }
        if r.block_io().is_some() {
            merged.set_block_io(r.block_io().clone());
        }
        linux.set_resources(Some(merged));
    }
    locked.save(&st)
}
