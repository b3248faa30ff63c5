//! OCI hooks: each runs with the container's state on stdin, its own args and env, and its
//! timeout; a non-zero exit or a timeout is an error that names the hook.

use crate::state::{State, Status};
use oci_spec::runtime::{Hook, Hooks as SpecHooks};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` of kind `kind` (for messages) in order; stops at the first failure.
pub fn run(kind: &str, hooks: &[Hook], state_json: &str) -> Result<(), String> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state_json)
            .map_err(|e| format!("hooks.{kind}[{i}] ({}): {e}", h.path().display()))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state_json: &str) -> Result<(), String> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    // args[0] is argv[0], as for execv.
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    bulkhead_linux::process::die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start: {}", crate::config::io_msg(&e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let err = err.trim();
    Err(if err.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {err}")
    })
}

/// The hooks of one container, bound to its state so each kind gets the state JSON it expects.
pub struct ContainerHooks<'a> {
    pub hooks: Option<&'a SpecHooks>,
    pub state: &'a State,
}

impl ContainerHooks<'_> {
    fn json(&self, pid: i32, status: Status) -> String {
        let mut oci = self.state.oci(status);
        oci.pid = pid;
        serde_json::to_string(&oci).unwrap_or_default()
    }

    fn list(&self, pick: fn(&SpecHooks) -> &Option<Vec<Hook>>) -> &[Hook] {
        self.hooks.and_then(|h| pick(h).as_deref()).unwrap_or(&[])
    }

    pub fn poststart(&self, pid: i32) -> Result<(), String> {
        run(
            "poststart",
            self.list(|h| h.poststart()),
            &self.json(pid, Status::Running),
        )
    }

    pub fn poststop(&self) -> Result<(), String> {
        run(
            "poststop",
            self.list(|h| h.poststop()),
            &self.json(0, Status::Stopped),
        )
    }
}

impl bulkhead_container::launch::Hooks for ContainerHooks<'_> {
    fn create_runtime(&self, pid: i32) -> Result<(), String> {
        let json = self.json(pid, Status::Creating);
        #[allow(deprecated)]
        run("prestart", self.list(|h| h.prestart()), &json)?;
        run("createRuntime", self.list(|h| h.create_runtime()), &json)
    }

    fn create_container(&self, pid: i32) -> Result<(), String> {
        run(
            "createContainer",
            self.list(|h| h.create_container()),
            &self.json(pid, Status::Creating),
        )
    }

    fn seccomp_listener(&self, pid: i32, fd: std::os::fd::OwnedFd) -> Result<(), String> {
        let seccomp = self
            .state
            .config
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .ok_or("linux.seccomp: missing")?;
        send_to_listener(&seccomp, &self.json(pid, Status::Creating), pid, fd)
    }

    fn start_container(&self, pid: i32) -> Result<(), String> {
        run(
            "startContainer",
            self.list(|h| h.start_container()),
            &self.json(pid, Status::Created),
        )
    }
}

/// Sends the container process state and the seccomp notify fd to listenerPath, as the runtime
/// spec's "containerProcessState" message (one JSON document, the fd by SCM_RIGHTS).
pub fn send_to_listener(
    seccomp: &oci_spec::runtime::LinuxSeccomp,
    state_json: &str,
    pid: i32,
    fd: std::os::fd::OwnedFd,
) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let path = seccomp
        .listener_path()
        .as_ref()
        .ok_or("linux.seccomp.listenerPath: missing")?;
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        format!(
            "linux.seccomp.listenerPath {}: {}",
            path.display(),
            crate::config::io_msg(&e)
        )
    })?;
    let state: serde_json::Value = serde_json::from_str(state_json).map_err(|e| e.to_string())?;
    let msg = serde_json::json!({
        "ociVersion": "1.0.2",
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": seccomp.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    });
    bulkhead_linux::socket::send_fd(&sock, msg.to_string().as_bytes(), fd.as_raw_fd())
        .map_err(|e| format!("linux.seccomp.listenerPath {}: send: {e}", path.display()))
}
