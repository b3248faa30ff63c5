//! `exec`: run another process in a created or running container, from a process.json or from
//! the command line on top of the container's own process settings (as runc builds it).

use crate::config;
use crate::lifecycle::{connect_console, console_rules, forward_and_wait};
use crate::sandbox_exec;
use crate::state::{self, Status, Store};
use crate::tty::{self, OwnConsole};
use anyhow::{anyhow, bail, Context, Result};
use bulkhead_container::cgroups::SubCgroups;
use bulkhead_container::exe;
use bulkhead_container::exec::{self, Exec};
use bulkhead_linux::process as sys;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Default, Clone)]
pub struct ExecOpts {
    pub id: String,
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub preserve_fds: u32,
    pub no_new_privs: bool,
    /// Exec into a paused container too (the process stays frozen until `resume`), as runc's
    /// `--ignore-paused`.
    pub ignore_paused: bool,
    /// The process as a value (the shim's exec request) instead of a file or the command line.
    pub process_spec: Option<Process>,
    /// `--cgroup [CONTROLLER[,...]:]PATH`: a sub-cgroup of the container's to run in (runc 1.1).
    pub cgroup: Vec<String>,
}

/// Runs the process; returns its exit status (0 when detached).
pub fn exec(store: &Store, o: &ExecOpts) -> Result<i32> {
    if let Some(r) = in_sandbox(store, o)? {
        return Ok(if o.detach { 0 } else { r });
    }
    let (pid, master) = spawn(store, o)?;
    if o.detach {
        return Ok(0);
    }
    match master {
        Some(m) => tty::proxy_and_wait(pid, m),
        None => forward_and_wait(pid),
    }
}

/// Starts the process detached (a terminal goes to `console_socket`); returns its pid.
pub fn exec_detached(store: &Store, o: &ExecOpts) -> Result<i32> {
    let o = ExecOpts {
        detach: true,
        ..o.clone()
    };
    if let Some(pid) = in_sandbox(store, &o)? {
        return Ok(pid);
    }
    Ok(spawn(store, &o)?.0)
}

/// A sandbox-class container's process is the sentry's to start (sandbox_exec.rs): None for a
/// container-class one. Detached: the proxy's pid; in the foreground: the exit status.
fn in_sandbox(store: &Store, o: &ExecOpts) -> Result<Option<i32>> {
    state::validate_id(&o.id)?;
    let dir = store.dir(&o.id);
    if !sandbox_exec::is_sandbox(&dir) {
        return Ok(None);
    }
    let st = state::load(&dir).map_err(|_| anyhow!("container {} does not exist", o.id))?;
    if !o.cgroup.is_empty() {
        bail!("exec --cgroup: a sandbox-class container's processes all live in its sentry's cgroup: no sub-cgroup can be given");
    }
    match st.status(&dir) {
        Status::Running => {}
        // The sentry serves exec requests once `start` has started it.
        Status::Created => {
            bail!("cannot exec in a created sandbox-class container (start it first)")
        }
        s => bail!("cannot exec in a {s} container"),
    }
    let process = build_process(&st.config, o)?;
    let terminal = process.terminal().unwrap_or(false);
    console_rules(
        terminal,
        o.console_socket.is_some() || (terminal && !o.detach),
    )?;
    if !terminal && !o.detach {
        // In the foreground without a terminal, bulkhead exec itself stands for the process.
        if let Some(p) = &o.pid_file {
            state::write_pid_file(p, std::process::id() as i32)?;
        }
        return sandbox_exec::exec(&dir, &process).map(Some);
    }
    if !o.detach {
        sys::set_child_subreaper().context("become a subreaper")?;
        sys::block_all_signals().context("block signals")?;
    }
    let (master, pid) = if terminal {
        let (master, slave) = sandbox_exec::terminal(&process)?;
        if o.console_socket.is_none() {
            // Ours to carry: it starts with our terminal's size, as the container class's.
            if let Ok((rows, cols)) = bulkhead_linux::pty::get_winsize(&std::io::stdin()) {
                let _ = bulkhead_linux::pty::set_winsize(&slave, rows, cols);
            }
        }
        let s = slave.as_raw_fd();
        (
            Some(master),
            sandbox_exec::spawn(&dir, &process, [s, s, s], true)?,
        )
    } else {
        (None, sandbox_exec::spawn(&dir, &process, [0, 1, 2], false)?)
    };
    let placed = hand_over(o, pid, master);
    if let Err(err) = placed {
        let _ = sys::kill(pid, libc::SIGKILL);
        return Err(err);
    }
    placed.map(|status| Some(status.unwrap_or(pid)))
}

/// The terminal's master goes to the console socket, or in the foreground is carried by us;
/// the pid file gets the proxy's pid. Returns the exit status when we waited (foreground).
fn hand_over(o: &ExecOpts, pid: i32, master: Option<std::os::fd::OwnedFd>) -> Result<Option<i32>> {
    if let Some(p) = &o.pid_file {
        state::write_pid_file(p, pid)?;
    }
    match (master, &o.console_socket) {
        (Some(m), Some(path)) => {
            let sock = connect_console(Some(path))?.context("console socket")?;
            let name = std::fs::read_link(bulkhead_linux::fd::proc_fd_path(&m)).unwrap_or_default();
            bulkhead_linux::socket::send_fd(
                &sock,
                name.as_os_str().as_encoded_bytes(),
                m.as_raw_fd(),
            )
            .context("send the terminal to the console socket")?;
        }
        (Some(m), None) => return tty::proxy_and_wait(pid, m).map(Some),
        (None, _) => {}
    }
    if o.detach {
        return Ok(None);
    }
    forward_and_wait(pid).map(Some)
}

/// Everything up to a running process: its pid, and the terminal when it is ours to carry.
fn spawn(store: &Store, o: &ExecOpts) -> Result<(i32, Option<std::os::fd::OwnedFd>)> {
    state::validate_id(&o.id)?;
    let dir = store.dir(&o.id);
    let st = state::load(&dir).map_err(|_| anyhow!("container {} does not exist", o.id))?;
    match st.status(&dir) {
        Status::Created | Status::Running => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        s => bail!("cannot exec in a {s} container"),
    }
    // The sub-cgroups are checked before anything is started: a missing one is an error, and
    // nothing is left of the exec.
    let cgroup = match SubCgroups::parse(&o.cgroup)? {
        Some(sub) => st.cgroup.with_sub(&sub)?,
        None => st.cgroup.clone(),
    };
    let mut process = build_process(&st.config, o)?;
    crate::log::debug(&format!(
        "exec {}: {:?} in the namespaces of init {}",
        o.id,
        process.args().as_deref().unwrap_or(&[]),
        st.pid
    ));
    let terminal = process.terminal().unwrap_or(false);
    // In the foreground, a terminal without a console socket is ours to carry.
    let own = (terminal && o.console_socket.is_none() && !o.detach)
        .then(|| OwnConsole::new(&o.id))
        .transpose()?;
    if own.is_some() {
        // The new terminal gets our terminal's size before the program runs (runc passes it
        // as consoleSize too): resizing it afterwards raced a program that asks at once.
        if let Ok((rows, cols)) = bulkhead_linux::pty::get_winsize(&std::io::stdin()) {
            let size: Option<oci_spec::runtime::Box> =
                serde_json::from_value(serde_json::json!({"height": rows, "width": cols})).ok();
            process.set_console_size(size);
        }
    }
    let socket = own
        .as_ref()
        .map(|c| c.path.clone())
        .or_else(|| o.console_socket.clone());
    console_rules(terminal, socket.is_some())?;
    let console = connect_console(socket.as_deref())?;
    if !o.detach {
        sys::set_child_subreaper().context("become a subreaper")?;
        sys::block_all_signals().context("block signals")?;
    }
    let state_json = serde_json::to_string(&st.oci(Status::Running)).unwrap_or_default();
    let listener = |pid: i32, fd: std::os::fd::OwnedFd| -> std::result::Result<(), String> {
        let s = st
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .ok_or("linux.seccomp: missing")?;
        crate::hooks::send_to_listener(&s, &state_json, pid, fd)
    };
    let e = Exec {
        init_pid: st.pid,
        process: &process,
        cgroup: &cgroup,
        console,
        preserve_fds: o.preserve_fds,
        runtime: exe::runtime_identity().context("stat /proc/self/exe")?,
        seccomp: st.config.linux().as_ref().and_then(|l| l.seccomp().clone()),
        listener: Some(&listener),
    };
    let pid = exec::exec(&e)?;
    crate::faults::point("exec:spawned");
    let master = match own.as_ref().map(OwnConsole::receive).transpose() {
        Ok(m) => m,
        Err(err) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            return Err(err);
        }
    };
    if let Some(p) = &o.pid_file {
        if let Err(err) = state::write_pid_file(p, pid) {
            let _ = sys::kill(pid, libc::SIGKILL);
            return Err(err);
        }
    }
    Ok((pid, master))
}

fn build_process(spec: &oci_spec::runtime::Spec, o: &ExecOpts) -> Result<Process> {
    if let Some(file) = &o.process {
        let user = spec
            .process()
            .as_ref()
            .map(|p| p.user().clone())
            .unwrap_or_default();
        return config::load_process(file, &user);
    }
    if let Some(p) = &o.process_spec {
        config::validate_process(p)?;
        return Ok(p.clone());
    }
    if o.args.is_empty() {
        bail!("exec: a command to run is required (or --process)");
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    if !o.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &o.env {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
    }
    if let Some(u) = &o.user {
        // As runc: a gid not given stays the container's.
        let (uid, gid) = parse_user(u)?;
        let mut user = p.user().clone();
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
        p.set_user(user);
    }
    if !o.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.additional_gids.clone()));
        p.set_user(user);
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !o.caps.is_empty() {
        p.set_capabilities(Some(add_caps(
            p.capabilities().clone().unwrap_or_default(),
            &o.caps,
        )?));
    }
    config::validate_process(&p)?;
    Ok(p)
}

/// `--user uid[:gid]`, numeric as runc requires.
fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let bad = || anyhow!("--user: {u:?} is not uid[:gid]");
    let (a, b) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let uid = a.parse().map_err(|_| bad())?;
    let gid = b.map(|b| b.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

/// `--cap` adds a capability to every set, so it is usable and kept across exec.
fn add_caps(mut c: LinuxCapabilities, names: &[String]) -> Result<LinuxCapabilities> {
    let mut extra = Capabilities::new();
    for n in names {
        let bare = n.to_ascii_uppercase();
        let bare = bare.strip_prefix("CAP_").unwrap_or(&bare);
        extra.insert(
            Capability::from_str(bare).map_err(|_| anyhow!("--cap: unknown capability {n:?}"))?,
        );
    }
    let merge = |s: &Option<Capabilities>| {
        Some(
            s.clone()
                .unwrap_or_default()
                .union(&extra)
                .copied()
                .collect(),
        )
    };
    c.set_bounding(merge(c.bounding()));
    c.set_effective(merge(c.effective()));
    c.set_permitted(merge(c.permitted()));
    c.set_inheritable(merge(c.inheritable()));
    c.set_ambient(merge(c.ambient()));
    Ok(c)
}
