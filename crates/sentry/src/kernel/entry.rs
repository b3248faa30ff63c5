//! Processes started from outside: `bulkhead exec` (and the shim's exec) into a running
//! sandbox. The runtime made a listening socket in the container's state directory before the
//! sentry confined itself and handed it over; the sentry accepts on it from its loop, and it
//! is the only way in (the state directory is root's, the socket 0600).
//!
//! A request of length 0 is a command instead, one line after it: `ps` is answered with a
//! line per process of the sandbox (procfs::listing's fields) and `end`; `signal N` sends
//! signal N to every process of the sandbox (`kill --all`) and is answered `ok`. Either may
//! name a container of the pod after it (`ps ID`, `signal N ID`): then only its processes.
//!
//! A request may add a container of the pod to the sandbox (the pod's containers share its
//! sentry, and so its network): a fourth fd, the O_PATH root of the container's filesystem
//! as its runtime prepared it, and two last fields, the container's id and `init` for its
//! first process (`exec` for another). The process and all it starts see that root; the
//! container's processes end when its first one does, or when the runtime's end of that
//! first request (the container's init on the host) goes.
//!
//! One connection is one process. The runtime sends a request — a 4-byte little-endian length,
//! then NUL-terminated fields: uid, gid, umask, the supplementary group count and groups, the
//! five capability masks (effective, permitted, inheritable, bounding, ambient), no_new_privs
//! (0 or 1), cwd, the argument count and arguments, the environment count and
//! variables — with the process's stdin, stdout and stderr attached (SCM_RIGHTS). The sentry
//! answers `pid N` (its pid in the sandbox) or `error MESSAGE`, takes `signal N` lines for it
//! afterwards (and `tty-signal N` for the signals of its terminal, which go to the terminal's
//! foreground process group), and answers `exit STATUS` (the wait status) when it ends. The process has no
//! parent in the sandbox, as one that `runc exec` starts; its orphans go to pid 1. If the
//! runtime's end closes first (the process on the host that stands for it was killed), the
//! process is killed too.

use super::creds::CapSets;
use super::task::{Cpu, Creds, NewProcess, Task};
use super::Kernel;
use crate::mm::Errno;
use crate::vfs::{self, FdTable, Node};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

/// A started process's stdin: the host fd and its holder.
type Stdin = (RawFd, Rc<OwnedFd>);

/// The largest request taken (arguments and environment together).
const MAX_REQUEST: usize = 1 << 20;
/// The PATH a request without one searches, as the container class's default.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Entry {
    listener: OwnedFd,
    sessions: Vec<Session>,
}

type Roots = std::collections::BTreeMap<String, std::rc::Weak<OwnedFd>>;

thread_local! {
    /// The pod's other containers: each one's root, by id (a process belongs to the
    /// container whose root it sees).
    static CONTAINERS: std::cell::RefCell<Roots> = const {
        std::cell::RefCell::new(std::collections::BTreeMap::new())
    };
}

thread_local! {
    /// The CPU time of the pod's containers' processes that ended or replaced their image
    /// (execve starts a new stub), by container id: a container's usage, like a cgroup's,
    /// counts everything it ran, so that rates of it (the kubelet's) never go back.
    static SPENT: std::cell::RefCell<std::collections::BTreeMap<String, Cpu>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// `cpu`, the CPU time of a stub that goes (its process ended or exec'd), to the account of
/// the pod's container whose root `root` is, if it is one.
pub fn spent(root: &Rc<OwnedFd>, cpu: Cpu) {
    let id = CONTAINERS.with(|c| {
        c.borrow()
            .iter()
            .find(|(_, w)| w.upgrade().is_some_and(|r| Rc::ptr_eq(&r, root)))
            .map(|(id, _)| id.clone())
    });
    if let Some(id) = id {
        SPENT.with(|s| {
            let mut s = s.borrow_mut();
            let total = s.get(&id).copied().unwrap_or_default() + cpu;
            s.insert(id, total);
        });
    }
}

struct Session {
    conn: OwnedFd,
    /// Bytes read and not yet taken (the request, then `signal` lines).
    buf: Vec<u8>,
    /// The stdio that came with the request.
    fds: Vec<OwnedFd>,
    /// The process started for it.
    pid: Option<i32>,
    /// Its terminal (the host device's number), when its stdin is one: `tty-signal` lines go
    /// to that terminal's foreground process group.
    tty: Option<u64>,
    /// The pod's container it started, if it did: the container's processes end with its
    /// first one, or when the runtime's end (the container's init) goes.
    container: Option<String>,
}

/// What a request asks for.
struct Request {
    uid: u32,
    gid: u32,
    umask: u32,
    groups: Vec<u32>,
    caps: [u64; 5],
    no_new_privs: bool,
    cwd: String,
    args: Vec<String>,
    env: Vec<String>,
    /// The pod's container the process belongs to (its id), whose root came as the fourth
    /// fd.
    container: Option<String>,
    /// The process is the container's first (`init` after the id): the container's other
    /// processes end with it.
    first: bool,
}

impl Entry {
    /// `listener`: the listening socket the runtime made, non-blocking.
    pub fn new(listener: OwnedFd) -> Entry {
        Entry {
            listener,
            sessions: Vec::new(),
        }
    }

    /// The fds the loop polls for it: the listener and every connection.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.listener.as_raw_fd()];
        v.extend(self.sessions.iter().map(|s| s.conn.as_raw_fd()));
        v
    }
}

/// The root of the pod's container `id`: the one its processes have (an exec into it), else
/// `fd`, kept as the container's from now on (its first process).
fn container_root(id: &str, fd: OwnedFd) -> Rc<OwnedFd> {
    CONTAINERS.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, w| w.strong_count() > 0);
        if let Some(root) = c.get(id).and_then(std::rc::Weak::upgrade) {
            return root;
        }
        let root = Rc::new(fd);
        c.insert(id.to_string(), Rc::downgrade(&root));
        root
    })
}

/// Parses a request body (after its length).
fn parse(body: &[u8]) -> Result<Request, String> {
    let mut fields = body.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f));
    let mut next = |what: &str| {
        fields
            .next()
            .map(|f| f.into_owned())
            .ok_or(format!("request: no {what}"))
    };
    let num = |s: String, what: &str| -> Result<u64, String> {
        s.parse().map_err(|_| format!("request: bad {what} {s:?}"))
    };
    let uid = num(next("uid")?, "uid")? as u32;
    let gid = num(next("gid")?, "gid")? as u32;
    let umask = num(next("umask")?, "umask")? as u32 & 0o777;
    let ngroups = num(next("group count")?, "group count")?;
    let groups = (0..ngroups)
        .map(|_| num(next("group")?, "group").map(|g| g as u32))
        .collect::<Result<Vec<_>, _>>()?;
    let mut caps = [0u64; 5];
    for c in caps.iter_mut() {
        *c = num(next("capabilities")?, "capabilities")?;
    }
    let no_new_privs = num(next("no_new_privs")?, "no_new_privs")? != 0;
    let cwd = next("cwd")?;
    let nargs = num(next("argument count")?, "argument count")?;
    let args = (0..nargs)
        .map(|_| next("argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let nenv = num(next("environment count")?, "environment count")?;
    let env = (0..nenv)
        .map(|_| next("environment"))
        .collect::<Result<Vec<_>, _>>()?;
    if args.is_empty() {
        return Err("request: no arguments".into());
    }
    let container = fields
        .next()
        .map(|f| f.into_owned())
        .filter(|f| !f.is_empty());
    let first = fields.next().is_some_and(|f| f == "init");
    Ok(Request {
        uid,
        gid,
        umask,
        groups,
        caps,
        no_new_privs,
        cwd,
        args,
        env,
        container,
        first,
    })
}

/// Writes one reply line; a peer that is gone is the session's end, found by its read.
fn reply(conn: &OwnedFd, line: &str) {
    let _ = crate::host::write(conn.as_raw_fd(), format!("{line}\n").as_bytes());
}

impl Kernel {
    /// The entry's fds to poll (none without an entry).
    pub(super) fn entry_fds(&self) -> Vec<RawFd> {
        self.entry.as_ref().map(Entry::fds).unwrap_or_default()
    }

    /// After a poll: takes new connections, reads requests and signal lines of those in
    /// `ready`, and ends sessions whose runtime end closed.
    pub(super) fn serve_entry(&mut self, ready: &[RawFd]) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        if ready.contains(&entry.listener.as_raw_fd()) {
            while let Ok(conn) = bulkhead_linux::socket::accept_nonblocking(&entry.listener) {
                entry.sessions.push(Session {
                    conn,
                    buf: Vec::new(),
                    fds: Vec::new(),
                    pid: None,
                    tty: None,
                    container: None,
                });
            }
        }
        let mut keep = Vec::new();
        for mut s in std::mem::take(&mut entry.sessions) {
            if !ready.contains(&s.conn.as_raw_fd()) || self.serve_session(&mut s) {
                keep.push(s);
            }
        }
        entry.sessions = keep;
        self.entry = Some(entry);
    }

    /// Reads what `s` sent; false when the session is over.
    fn serve_session(&mut self, s: &mut Session) -> bool {
        let mut chunk = vec![0u8; 64 << 10];
        let (fds, n) = match bulkhead_linux::socket::recv_fds(&s.conn, &mut chunk, 4) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => (Vec::new(), 0),
        };
        if n == 0 {
            // The runtime's end is gone: so is the process it stood for (a container, all of
            // its processes).
            if let Some(pid) = s.pid {
                self.kill_from_outside(pid);
            }
            self.kill_container(s.container.as_deref());
            if let (Some(tty), Some(pid)) = (s.tty, s.pid) {
                crate::syscalls::detach_terminal(pid, tty);
            }
            return false;
        }
        s.fds.extend(fds);
        s.buf.extend_from_slice(&chunk[..n]);
        if s.pid.is_none() {
            return self.take_request(s);
        }
        while let Some(end) = s.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = s.buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim().to_string();
            let (what, n) = line.split_once(' ').unwrap_or((&line, ""));
            let Some(sig) = n.parse::<i32>().ok().filter(|s| (1..=64).contains(s)) else {
                continue;
            };
            match (what, s.pid, s.tty) {
                ("signal", Some(pid), _) => self.signal_process(pid, sig, Default::default()),
                // The proxy's terminal sent it (^C, ^\, ^Z, a resize, a hang-up): to the
                // terminal's foreground group, as the kernel's line discipline would.
                ("tty-signal", Some(_), Some(tty)) => {
                    let info = crate::signals::Info {
                        code: crate::signals::SI_KERNEL,
                        ..Default::default()
                    };
                    self.signal_group(crate::syscalls::foreground_of(tty), sig, info);
                }
                _ => {}
            }
        }
        true
    }

    /// Starts the process once the whole request is in; false when the session is over.
    fn take_request(&mut self, s: &mut Session) -> bool {
        if s.buf.len() < 4 {
            return true;
        }
        let len = u32::from_le_bytes([s.buf[0], s.buf[1], s.buf[2], s.buf[3]]) as usize;
        if len == 0 {
            return self.take_command(s);
        }
        if len > MAX_REQUEST {
            reply(&s.conn, "error request: too large");
            return false;
        }
        if s.buf.len() < 4 + len {
            return true;
        }
        let body: Vec<u8> = s.buf.drain(..4 + len).skip(4).collect();
        // A terminal as stdin: the process leads its session on it (its foreground group).
        let tty = s
            .fds
            .first()
            .map(|f| crate::syscalls::tty_key(f.as_raw_fd()));
        let request = parse(&body);
        let started = request
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|r| self.start_process(r, &mut s.fds));
        match started {
            Ok((pid, stdin)) => {
                s.pid = Some(pid);
                s.container = request.ok().filter(|r| r.first).and_then(|r| r.container);
                if let (Some(key), Some((raw, hold))) = (tty.filter(|k| *k != 0), stdin) {
                    crate::syscalls::attach_terminal(pid, key, raw, hold);
                    s.tty = Some(key);
                }
                reply(&s.conn, &format!("pid {pid}"));
                true
            }
            Err(e) => {
                reply(&s.conn, &format!("error {e}"));
                false
            }
        }
    }

    /// A command (a request of length 0 and one line), answered at once; false when the
    /// session is over (always, once the line is in).
    fn take_command(&mut self, s: &mut Session) -> bool {
        let Some(end) = s.buf[4..].iter().position(|b| *b == b'\n') else {
            return s.buf.len() < 4 + 64;
        };
        let line = String::from_utf8_lossy(&s.buf[4..4 + end]).into_owned();
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["ps", rest @ ..] if rest.len() <= 1 => match self.process_ids(rest.first().copied()) {
                Ok(pids) => {
                    for l in crate::procfs::listing(|pid| pids.contains(&pid)) {
                        reply(&s.conn, &l);
                    }
                    reply(&s.conn, "end");
                }
                Err(e) => reply(&s.conn, &format!("error ps: {e}")),
            },
            ["stats", id] => match self.container_stats(id) {
                Ok(line) => reply(&s.conn, &line),
                Err(e) => reply(&s.conn, &format!("error stats: {e}")),
            },
            ["signal", n, rest @ ..] if rest.len() <= 1 => {
                let sig = n.parse::<i32>().ok().filter(|sig| (1..=64).contains(sig));
                match (sig, self.process_ids(rest.first().copied())) {
                    (None, _) => reply(&s.conn, &format!("error signal: bad number {n:?}")),
                    (_, Err(e)) => reply(&s.conn, &format!("error signal: {e}")),
                    (Some(sig), Ok(pids)) => {
                        for pid in pids {
                            self.signal_process(pid, sig, Default::default());
                        }
                        reply(&s.conn, "ok");
                    }
                }
            }
            _ => reply(&s.conn, &format!("error command: unknown {line:?}")),
        }
        false
    }

    /// The pids of the sandbox's processes, or of one container's of the pod.
    fn process_ids(&self, container: Option<&str>) -> Result<Vec<i32>, String> {
        let root = match container {
            None => None,
            Some(id) => {
                let root = CONTAINERS.with(|c| c.borrow().get(id).and_then(|w| w.upgrade()));
                Some(root.ok_or_else(|| format!("no container {id:?} in this sandbox"))?)
            }
        };
        let mut pids: Vec<i32> = self
            .tasks
            .values()
            .filter(|t| root.as_ref().is_none_or(|r| Rc::ptr_eq(r, &t.fs.root())))
            .map(|t| t.pid)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// `stats USER SYSTEM MEMORY TASKS` of the pod's container `id`, what its cgroup would say
    /// if its processes ran in it (they run in the pod's sentry): CPU time in nanoseconds,
    /// of its live processes and of every one it ran before (`spent`); the memory its
    /// processes hold, in bytes; its threads.
    fn container_stats(&self, id: &str) -> Result<String, String> {
        let pids = self.process_ids(Some(id))?;
        let mut cpu = SPENT.with(|s| s.borrow().get(id).copied().unwrap_or_default());
        let mut spaces: Vec<&crate::mm::Mm> = Vec::new();
        let mut tasks = 0;
        for pid in &pids {
            let threads: Vec<&Task> = self
                .tasks
                .values()
                .filter(|t| t.pid == *pid)
                .map(|t| &**t)
                .collect();
            tasks += threads.len();
            if let Some(t) = threads.first() {
                cpu = cpu + t.stub_cpu();
            }
            for t in threads {
                if !spaces.iter().any(|m| m.same(&t.mm)) {
                    spaces.push(&t.mm);
                }
            }
        }
        let memory: u64 = spaces.iter().map(|m| m.resident()).sum();
        Ok(format!(
            "stats {} {} {memory} {tasks}",
            cpu.user.as_nanos(),
            cpu.system.as_nanos()
        ))
    }

    /// Starts the process `r` asks for with `stdio` as its fds 0, 1 and 2; returns its pid.
    fn start_process(
        &mut self,
        r: &Request,
        stdio: &mut Vec<OwnedFd>,
    ) -> Result<(i32, Option<Stdin>), String> {
        let root = match (stdio.len(), &r.container) {
            (3, None) => None,
            (4, Some(_)) => stdio.pop(),
            (n, None) => return Err(format!("request: {n} stdio fds (3 wanted)")),
            (n, Some(_)) => return Err(format!("request: {n} fds (stdio and a root wanted)")),
        };
        let init = self
            .tasks
            .values()
            .next()
            .ok_or("the sandbox has no process left")?;
        let (hostname, unimplemented) = (init.hostname.clone(), init.unimplemented.clone());
        // The container's limits, as runc gives an exec'd process the config's.
        let rlimits = init.rlimits.get();
        let mut fs = match (root, &r.container) {
            (Some(root), Some(id)) => {
                vfs::Fs::with_root(container_root(id, root), init.fs.proc.clone())
            }
            _ => init.fs.clone(),
        };
        fs.unshare();
        // The name its exec gives it, not the first process's (refresh_proc fills it in).
        fs.proc.comm.clear();
        fs.set_umask(r.umask);
        let cwd = vfs::normalize("/", &r.cwd);
        fs.chdir(&cwd)
            .map_err(|e| format!("cwd {cwd}: {}", errtext(e)))?;
        let path = find_program(&fs, &r.args[0], &r.env)?;
        let mut asp = self
            .new_stub()
            .map_err(|e| format!("platform: {}", errtext(e)))?;
        let mut mm = crate::mm::Mm::new(&self.memory);
        let creds = Creds::new(
            r.uid,
            r.gid,
            &r.groups,
            CapSets::from_masks(r.caps),
            r.no_new_privs,
        );
        let loaded = crate::loader::load(
            &fs,
            &mut mm,
            asp.as_mut(),
            &self.base,
            &path,
            r.args.clone(),
            &r.env,
            &creds,
        )
        .map_err(|e| format!("exec {path:?}: {}", errtext(e)))?;
        let fds = FdTable::default();
        let mut stdin = None;
        for (n, fd) in std::mem::take(stdio).into_iter().enumerate() {
            let raw = fd.as_raw_fd();
            crate::stdio::register(raw);
            let f = vfs::wrap(Node::Stdio(raw), libc::O_RDWR, &format!("/dev/fd/{n}"));
            let hold = Rc::new(fd);
            if n == 0 {
                stdin = Some((raw, hold.clone()));
            }
            f.borrow_mut().hold = Some(hold);
            fds.install_at(n as i32, f, false);
        }
        let pid = self.alloc_pid();
        let mut task = Task::new_process(NewProcess {
            pid,
            loaded,
            mm,
            asp,
            fs,
            fds,
            hostname,
            env: r.env.clone(),
            unimplemented,
            rlimits,
        });
        task.container_init = r.first && r.container.is_some();
        self.insert(task);
        crate::kernel::wait::poke();
        Ok((pid, stdin))
    }

    /// A process with no parent in the sandbox ended: if a session started it, the session
    /// is told its wait status and ends. True when it was one of the entry's.
    pub(super) fn entry_exited(&mut self, pid: i32, status: i32) -> bool {
        let Some(entry) = self.entry.as_mut() else {
            return false;
        };
        let Some(i) = entry.sessions.iter().position(|s| s.pid == Some(pid)) else {
            return false;
        };
        let s = entry.sessions.remove(i);
        reply(&s.conn, &format!("exit {status}"));
        if let Some(tty) = s.tty {
            crate::syscalls::detach_terminal(pid, tty);
        }
        // As a container's own pid namespace ends with its init.
        self.kill_container(s.container.as_deref());
        true
    }

    /// Kills every process of the pod's container `id`, if any.
    fn kill_container(&mut self, id: Option<&str>) {
        let Some(id) = id else {
            return;
        };
        for pid in self.process_ids(Some(id)).unwrap_or_default() {
            self.kill_from_outside(pid);
        }
    }

    /// SIGKILL to process `pid` from outside the sandbox: as an ancestor namespace's, it
    /// reaches a container's init too.
    fn kill_from_outside(&mut self, pid: i32) {
        for t in self.tasks.values_mut().filter(|t| t.pid == pid) {
            t.container_init = false;
        }
        self.signal_process(pid, libc::SIGKILL, Default::default());
    }
}

fn errtext(e: Errno) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// The program `name` names: a path (from the cwd) when it has a slash, else the first
/// executable regular file of that name in the environment's PATH.
fn find_program(fs: &vfs::Fs, name: &str, env: &[String]) -> Result<String, String> {
    if name.contains('/') {
        return Ok(fs.abs(None, name));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = fs.abs(None, &format!("{dir}/{name}"));
        if let Ok(st) = fs.stat(&candidate, true) {
            if st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(format!("exec {name:?}: executable file not found in $PATH"))
}
