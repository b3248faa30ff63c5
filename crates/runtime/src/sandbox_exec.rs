//! `exec` into a sandbox-class container. The process runs inside the sandbox, served by the
//! sentry: the runtime asks the sentry for it over the entry socket the sentry took from
//! `create` (`exec.sock` in the state directory; the sentry's side is
//! bulkhead-sentry's kernel/entry.rs), handing over its stdin, stdout and stderr. On the host a
//! proxy stands for the process: in the foreground `bulkhead exec` itself, detached (`-d`, the
//! shim, podman's conmon) a child whose pid goes to the pid file. The proxy passes on the
//! signals it gets and exits as the process did (its code, or killed by its signal), so
//! whoever waits for it sees the process's end; killing the proxy kills the process.

use anyhow::{anyhow, bail, Context, Result};
use bulkhead_linux::poll;
use bulkhead_linux::process as sys;
use oci_spec::runtime::Process;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The entry socket's name in the state directory.
pub const ENTRY_SOCKET: &str = "exec.sock";

/// Whether the container in `dir` is a sandbox that takes exec requests.
pub fn is_sandbox(dir: &Path) -> bool {
    dir.join(ENTRY_SOCKET).exists()
}

/// A container of a CRI pod whose processes the pod's sentry serves (the pause container's,
/// which `create` joined): its entry socket is a link to the pod's. Its id and its init,
/// the host process that stands for its first process.
struct Joined {
    id: String,
    init: i32,
}

fn joined(dir: &Path) -> Result<Option<Joined>> {
    if !dir.join(ENTRY_SOCKET).is_symlink() {
        return Ok(None);
    }
    let st = crate::state::load(dir)?;
    Ok(Some(Joined {
        id: st.id,
        init: st.pid,
    }))
}

/// `line` for the pod's sentry, naming the container in `dir` when it joined the pod's.
fn for_container(dir: &Path, line: &str) -> Result<String> {
    Ok(match joined(dir)? {
        Some(j) => format!("{line} {}", j.id),
        None => line.to_string(),
    })
}

/// A joined container's root as its init sees it (its mount namespace, its pivoted root): the
/// root its exec'd processes get.
fn root_of(j: &Joined) -> Result<OwnedFd> {
    let path = format!("/proc/{}/root", j.init);
    bulkhead_linux::fd::openat(None, Path::new(&path), libc::O_PATH | libc::O_DIRECTORY, 0)
        .with_context(|| format!("exec: the container's root ({path})"))
}

/// How a request names the pod's container whose root comes with it: its id, and whether
/// the process is the container's first (kernel/entry.rs's `init`) or an exec'd one.
type Container<'a> = Option<(&'a str, &'static str)>;

/// The request body (kernel/entry.rs's format): NUL-terminated fields; `container` last.
fn request(p: &Process, caps: [u64; 5], container: Container) -> Vec<u8> {
    let user = p.user();
    let args = p.args().clone().unwrap_or_default();
    let env = p.env().clone().unwrap_or_default();
    let mut fields: Vec<String> = vec![
        user.uid().to_string(),
        user.gid().to_string(),
        user.umask().unwrap_or(0o022).to_string(),
    ];
    let groups = user.additional_gids().clone().unwrap_or_default();
    fields.push(groups.len().to_string());
    fields.extend(groups.iter().map(u32::to_string));
    fields.extend(caps.iter().map(u64::to_string));
    fields.push(u8::from(p.no_new_privileges().unwrap_or(false)).to_string());
    fields.push(p.cwd().to_string_lossy().into_owned());
    fields.push(args.len().to_string());
    fields.extend(args);
    fields.push(env.len().to_string());
    fields.extend(env);
    if let Some((id, role)) = container {
        fields.push(id.to_string());
        fields.push(role.to_string());
    }
    let mut body = Vec::new();
    for f in fields {
        body.extend_from_slice(f.as_bytes());
        body.push(0);
    }
    let mut msg = (body.len() as u32).to_le_bytes().to_vec();
    msg.extend(body);
    msg
}

/// Asks the sentry of the sandbox in `dir` for `p` with `stdio` as its fds 0, 1 and 2;
/// returns the connection once the process runs, with its pid in the sandbox.
fn ask(dir: &Path, p: &Process, stdio: [i32; 3]) -> Result<(UnixStream, i32)> {
    let conn = connect(dir).context("exec")?;
    let own = crate::sandbox::sentry_stdio(stdio).context("exec: stdio")?;
    let mut fds: Vec<i32> = own.iter().map(|f| f.as_raw_fd()).collect();
    let joined = joined(dir)?;
    let root = joined.as_ref().map(root_of).transpose()?;
    fds.extend(root.as_ref().map(|r| r.as_raw_fd()));
    send_request(
        conn,
        p,
        &fds,
        joined.as_ref().map(|j| (j.id.as_str(), "exec")),
    )
}

/// Sends the request for `p` with `fds` (stdio, and a joining container's root) over `conn`;
/// returns the connection once the process runs, with its pid in the sandbox.
fn send_request(
    mut conn: UnixStream,
    p: &Process,
    fds: &[i32],
    container: Container,
) -> Result<(UnixStream, i32)> {
    let caps = bulkhead_container::credentials::CapSets::from_config(p.capabilities().as_ref())
        .map_err(|e| anyhow!("process.capabilities: {e}"))?
        .masks();
    let msg = request(p, caps, container);
    let sent =
        bulkhead_linux::socket::send_fds(&conn, &msg, fds).context("exec: send the request")?;
    conn.write_all(&msg[sent..])
        .context("exec: send the request")?;
    let line = read_line(&mut conn)?.ok_or_else(|| anyhow!("exec: the sentry did not answer"))?;
    if let Some(e) = line.strip_prefix("error ") {
        bail!("exec: {e}");
    }
    let pid = line
        .strip_prefix("pid ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("exec: the sentry answered {line:?}"))?;
    Ok((conn, pid))
}

/// A connection to the sentry's entry socket in the state directory `dir`.
pub fn connect(dir: &Path) -> Result<UnixStream> {
    // Through the directory's fd: the path stays short enough for sun_path.
    let handle = bulkhead_linux::fd::open_dir(dir).context("open the state directory")?;
    let path = Path::new(&bulkhead_linux::fd::proc_fd_path(&handle)).join(ENTRY_SOCKET);
    UnixStream::connect(path).context("reach the sandbox's sentry")
}

/// Sends a command (kernel/entry.rs: a request of length 0, then one line); returns the
/// connection to read the answer from.
fn command(dir: &Path, line: &str) -> Result<UnixStream> {
    let mut conn = connect(dir)?;
    let mut msg = 0u32.to_le_bytes().to_vec();
    msg.extend_from_slice(format!("{line}\n").as_bytes());
    conn.write_all(&msg)
        .context("send a command to the sentry")?;
    Ok(conn)
}

/// What the pod's sentry counts for a container that joined it (kernel/entry.rs's `stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinedUsage {
    /// CPU time, in nanoseconds, of everything the container ran.
    pub user_ns: u64,
    pub system_ns: u64,
    /// Bytes of memory its processes hold.
    pub memory: u64,
    /// Its threads.
    pub tasks: u64,
}

/// The usage of the container in `dir` as the pod's sentry counts it, when it joined a pod's
/// sandbox (its processes run in the pod's sentry, not in its own cgroup); None otherwise.
pub fn joined_usage(dir: &Path) -> Result<Option<JoinedUsage>> {
    let Some(j) = joined(dir)? else {
        return Ok(None);
    };
    let mut conn = command(dir, &format!("stats {}", j.id)).context("stats")?;
    let line = read_line(&mut conn)?.ok_or_else(|| anyhow!("stats: no answer from the sentry"))?;
    if let Some(e) = line.strip_prefix("error ") {
        bail!("{e}");
    }
    let f: Vec<u64> = line
        .strip_prefix("stats ")
        .map(|r| {
            r.split(' ')
                .map(|v| v.parse().unwrap_or(u64::MAX))
                .collect()
        })
        .unwrap_or_default();
    match f[..] {
        [user_ns, system_ns, memory, tasks] if !f.contains(&u64::MAX) => Ok(Some(JoinedUsage {
            user_ns,
            system_ns,
            memory,
            tasks,
        })),
        _ => bail!("stats: the sentry answered {line:?}"),
    }
}

/// One process of a sandbox, as `ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxProcess {
    /// Its pid inside the sandbox.
    pub pid: i32,
    pub ppid: i32,
    /// The effective uid inside.
    pub uid: u32,
    /// Start time and CPU time, in clock ticks (since boot; used).
    pub start_ticks: u64,
    pub cpu_ticks: u64,
    pub cmd: String,
}

/// The processes of the running sandbox in `dir`, as its sentry knows them.
pub fn processes(dir: &Path) -> Result<Vec<SandboxProcess>> {
    let mut conn = command(dir, &for_container(dir, "ps")?).context("ps")?;
    let mut out = Vec::new();
    loop {
        let line =
            read_line(&mut conn)?.ok_or_else(|| anyhow!("ps: the sentry's answer ended early"))?;
        if line == "end" {
            return Ok(out);
        }
        if let Some(e) = line.strip_prefix("error ") {
            bail!("ps: {e}");
        }
        let f: Vec<&str> = line.splitn(6, '\t').collect();
        let num = |i: usize| -> Result<u64> {
            f.get(i)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| anyhow!("ps: the sentry answered {line:?}"))
        };
        out.push(SandboxProcess {
            pid: num(0)? as i32,
            ppid: num(1)? as i32,
            uid: num(2)? as u32,
            start_ticks: num(3)?,
            cpu_ticks: num(4)?,
            cmd: f.get(5).copied().unwrap_or("").to_string(),
        });
    }
}

/// `kill --all`: the sentry sends `sig` to every process of the sandbox. A paused (frozen)
/// sentry reads the command once thawed, as a frozen process takes a signal when thawed:
/// then the answer is not waited for.
pub fn signal_all(dir: &Path, sig: i32, paused: bool) -> Result<()> {
    let line = for_container(dir, &format!("signal {sig}"))?;
    let mut conn = command(dir, &line).context("kill --all")?;
    if paused {
        return Ok(());
    }
    match read_line(&mut conn)? {
        Some(l) if l == "ok" => Ok(()),
        Some(l) => bail!("kill --all: {}", l.strip_prefix("error ").unwrap_or(&l)),
        None => bail!("kill --all: the sandbox ended"),
    }
}

/// One line from the sentry, without its newline; None at end-of-file.
fn read_line(conn: &mut UnixStream) -> Result<Option<String>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match conn.read(&mut b) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("exec: read the sentry's answer"),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// The proxy's work: pass on signals until the sentry says the process ended; returns its
/// wait status. Signals must be blocked already.
fn proxy(mut conn: UnixStream) -> Result<i32> {
    let sigs = poll::signalfd_all().context("exec: signalfd")?;
    bulkhead_sentry::confine::cage_proxy().map_err(|e| anyhow!("exec: {e}"))?;
    loop {
        let ready =
            poll::poll_readable(&[conn.as_raw_fd(), sigs.as_raw_fd()], -1).context("exec: wait")?;
        if ready[1] {
            let (sig, code) = poll::read_signal_info(&sigs).context("exec: read a signal")?;
            // The terminal's own signals (the proxy leads the session of an `exec -t`'s pty)
            // go to its foreground group inside; the others to the process.
            let tty = code == libc::SI_KERNEL
                && matches!(
                    sig,
                    libc::SIGINT | libc::SIGQUIT | libc::SIGTSTP | libc::SIGWINCH | libc::SIGHUP
                );
            let line = if tty { "tty-signal" } else { "signal" };
            if sig != libc::SIGCHLD {
                let _ = conn.write_all(format!("{line} {sig}\n").as_bytes());
            }
        }
        if ready[0] {
            let line = read_line(&mut conn)?
                .ok_or_else(|| anyhow!("exec: the sandbox ended before the process"))?;
            if let Some(status) = line.strip_prefix("exit ").and_then(|s| s.parse().ok()) {
                return Ok(status);
            }
        }
    }
}

/// The exit status a wait status stands for, as the container class reports it.
fn exit_code(status: i32) -> i32 {
    sys::Exit::from_wait_status(status).status()
}

/// `exec` in the foreground: returns the process's exit status.
pub fn exec(dir: &Path, p: &Process) -> Result<i32> {
    sys::block_all_signals().context("block signals")?;
    let (conn, _) = ask(dir, p, [0, 1, 2])?;
    proxy(conn).map(exit_code)
}

/// The first process of a pod's container, in the pod's sandbox: the container's init asks
/// the pod's sentry over `conn` (connected by `create`) for `p`, with `stdio` and the root it
/// prepared (`root`), then stands for the process as an exec's proxy does, and ends as it
/// ended.
pub fn join(conn: UnixStream, id: &str, p: &Process, stdio: [i32; 3], root: OwnedFd) -> ! {
    let run = || -> Result<i32> {
        sys::block_all_signals().context("block signals")?;
        let fds = [stdio[0], stdio[1], stdio[2], root.as_raw_fd()];
        let (conn, _) = send_request(conn, p, &fds, Some((id, "init")))?;
        drop(root);
        proxy(conn)
    };
    match run() {
        Ok(status) => exit_as(status),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e:#}");
            sys::exit_now(1)
        }
    }
}

/// A terminal for `p` (process.terminal): a pty of the host's devpts, whose slave becomes the
/// process's stdio in the sandbox (the sentry passes its terminal requests through). Returns
/// (master, slave).
pub fn terminal(p: &Process) -> Result<(OwnedFd, OwnedFd)> {
    let (master, slave) =
        bulkhead_linux::pty::open_pty(Path::new("/dev/ptmx")).context("exec: open a terminal")?;
    if let Some(size) = p.console_size() {
        bulkhead_linux::pty::set_winsize(&slave, size.height() as u16, size.width() as u16)
            .context("process.consoleSize")?;
    }
    Ok((master, slave))
}

/// Starts the process with `stdio` and a proxy child for it; returns the proxy's pid. With
/// `terminal` (stdio is the slave of a pty made for the exec) the proxy leads a session with
/// it as controlling terminal, so the terminal's ^C, ^\, ^Z, resizes and hang-up come to the
/// proxy, which passes them to the terminal's foreground group inside.
pub fn spawn(dir: &Path, p: &Process, stdio: [i32; 3], terminal: bool) -> Result<i32> {
    let (conn, _) = ask(dir, p, stdio)?;
    // glibc's fork: the caller may be the multi-threaded shim.
    match sys::fork_threaded().context("exec: fork the proxy")? {
        sys::Forked::Child => {
            let _ = sys::block_all_signals();
            if terminal {
                let _ = sys::setsid();
                let _ = bulkhead_linux::pty::set_controlling_tty(&stdio[0]);
            }
            // The proxy keeps its stdio and the connection (moved to fd 3), nothing else of
            // the caller's (the shim's reply pipe, its sockets).
            let raw = conn.into_raw_fd();
            let kept = bulkhead_linux::fd::dup2(raw, 3).and_then(|()| sys::close_from(4));
            let status = match kept {
                // SAFETY: fd 3 is the connection (its only fd now that `raw` was let go of
                // and closed), owned by nothing else.
                Ok(()) => proxy(unsafe { UnixStream::from_raw_fd(3) }).unwrap_or(libc::SIGKILL),
                Err(_) => libc::SIGKILL,
            };
            exit_as(status)
        }
        sys::Forked::Parent(pid) => Ok(pid),
    }
}

/// Ends the proxy as the process ended: with its code, or by its signal.
fn exit_as(status: i32) -> ! {
    match sys::Exit::from_wait_status(status) {
        sys::Exit::Signal(sig) => {
            sys::reset_signal_handlers();
            // SAFETY: integer arguments only; the signal is unblocked to end this process.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            // A signal that does not end a process (the proxy would not be killed by it).
            sys::exit_now(128 + sig)
        }
        sys::Exit::Code(code) => sys::exit_now(code),
    }
}
