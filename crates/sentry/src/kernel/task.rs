//! A task: registers, memory, files, credentials, signal state, and where it is in the
//! kernel's loop (kernel/mod.rs).

use super::wait::{Wait, WOULD_BLOCK};
use crate::mm::{Errno, Mm};
use crate::platform::{AddressSpace, Regs};
use crate::syscalls;
use crate::vfs::{FdTable, Fs};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// CPU time, user and system, as the host measured the stubs' threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpu {
    pub user: std::time::Duration,
    pub system: std::time::Duration,
}

impl std::ops::Add for Cpu {
    type Output = Cpu;
    fn add(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user + o.user,
            system: self.system + o.system,
        }
    }
}

/// The CPU time of a process's reaped children (times' cutime/cstime), shared by its
/// threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuAccount {
    pub children: Cpu,
}

impl Task {
    /// The CPU time of this task's stub: its process's, all threads (the host lets the
    /// sentry read another process's CPU clock, not its threads' ones). Time spent before
    /// an execve, in the stub it replaced, is not counted.
    pub fn stub_cpu(&self) -> Cpu {
        crate::host::process_cpu_time(self.asp.host_tid())
            .map(|(user, total)| Cpu {
                user,
                system: total.saturating_sub(user),
            })
            .unwrap_or_default()
    }
}

pub use super::creds::Creds;

/// The application's signal state: dispositions, mask, what is pending, and the FPU state of
/// each handler frame on its stack (see signals.rs).
#[derive(Clone)]
pub struct Signals {
    /// The raw kernel `struct sigaction` (32 bytes) of each signal, shared by the threads of
    /// a process (CLONE_SIGHAND).
    pub actions: Rc<RefCell<Vec<[u8; 32]>>>,
    pub mask: u64,
    /// Bit `sig - 1` for each signal sent and not yet delivered.
    pub pending: u64,
    /// Those of `pending` that were sent to the process rather than to this thread: any
    /// thread of the process that unblocks one takes it (Linux's shared pending set).
    pub group: u64,
    pub saved: crate::signals::SavedFp,
    /// Each pending signal with who sent it, in the order sent (signals/queue.rs).
    pub queue: Vec<(i32, crate::signals::Info)>,
    /// The alternate signal stack (sigaltstack).
    pub altstack: crate::signals::AltStack,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            actions: Rc::new(RefCell::new(vec![[0u8; 32]; 65])),
            mask: 0,
            pending: 0,
            group: 0,
            saved: Vec::new(),
            queue: Vec::new(),
            altstack: Default::default(),
        }
    }
}

/// Where a task is, as the kernel's loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Running on the host (its stub was resumed); its next stop is an event.
    Running,
    /// Stopped in the sentry and ready to be resumed.
    Ready,
    /// In a system call that waits (`wait`).
    Blocked,
    /// Stopped by a signal (SIGSTOP, SIGTSTP...), until SIGCONT.
    Stopped,
}

/// A task: one thread of a process of the sandbox. Threads of a process share its address
/// space (`mm`), descriptors (`fds`) and signal dispositions (`signals.actions`) through
/// shared handles; the process's identity (pid, parent, group, session) is copied into each
/// of its threads and changed in all of them together.
pub struct Task {
    /// The thread's id (the table's key); equal to `pid` for a process's first thread.
    pub tid: i32,
    /// The process (thread group) id.
    pub pid: i32,
    /// The parent's pid; 0 for the sandbox's pid 1.
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// Whether the process called execve since it was forked (its parent may no longer move
    /// it to another process group: setpgid's EACCES).
    pub execed: bool,
    /// The signal the parent gets at exit (clone's exit_signal, SIGCHLD for fork).
    pub exit_signal: i32,
    pub regs: Regs,
    pub mm: Mm,
    pub asp: Box<dyn AddressSpace>,
    pub fs: Fs,
    pub fds: FdTable,
    pub creds: Creds,
    pub signals: Signals,
    pub hostname: String,
    pub exe: String,
    pub argv: Vec<String>,
    /// The environment the program was started with (/proc/PID/environ).
    pub env: Rc<[String]>,
    /// set_tid_address / CLONE_CHILD_CLEARTID: cleared at exit.
    pub clear_tid: u64,
    /// The wait status once the task is ending (exit code << 8, or the signal).
    pub exit: Option<i32>,
    /// System calls answered with ENOSYS, by number, with their counts (shared by the sandbox).
    pub unimplemented: Rc<RefCell<BTreeMap<u64, u64>>>,
    /// The process's resource limits (shared by its threads).
    pub rlimits: Rc<Cell<super::limits::Limits>>,
    pub state: State,
    /// What the task waits for while `Blocked`.
    pub wait: Option<Wait>,
    /// The deadline of the call being served, kept while it is served again (poll's timeout).
    pub deadline: Option<std::time::Instant>,
    /// Bytes a blocking write has done before it had to wait.
    pub progress: u64,
    /// A close that waits for its TCP connection to deliver what it had to send (SO_LINGER
    /// on with a time): the fd it closed, and the socket, kept until then.
    pub lingering: Option<(i32, Rc<crate::net::unix::Socket>)>,
    /// The vfork parent this task releases when it execs or exits.
    pub vfork_parent: Option<i32>,
    /// A stop or continue not yet reported to the parent by wait4 (its wait status).
    pub report: Option<i32>,
    /// PR_SET_CHILD_SUBREAPER.
    pub subreaper: bool,
    /// PR_SET_PDEATHSIG.
    pub pdeathsig: i32,
    /// The nice value (setpriority): kept and reported, not applied to the host's scheduling
    /// of the stub.
    pub nice: i32,
    /// The mask to restore after a handler that interrupted sigsuspend.
    pub saved_mask: Option<u64>,
    /// A signal for the parent (SIGCHLD when the task stops or continues), sent by the kernel
    /// once the task is back in its table.
    pub to_parent: Option<i32>,
    /// A host signal was sent to make the running stub stop for a signal's delivery.
    pub kicked: bool,
    /// The whole process ends with this task (exit_group, a fatal signal), not the thread.
    pub group_exit: bool,
    /// The process is a pod's container's first (kernel/entry.rs): the init of that
    /// container, which signals reach as they reach pid 1 (only those it handles, and
    /// SIGKILL from outside).
    pub container_init: bool,
    /// set_robust_list's head, walked at exit.
    pub robust_list: u64,
    /// select's descriptor sets as the call gave them, while it waits (it empties the
    /// application's so that a timeout leaves them empty); dropped when the call ends.
    pub select_sets: Option<[Vec<u64>; 3]>,
    /// An open of a FIFO waiting for the other side (fifo.rs); dropped when the call ends.
    pub fifo_open: Option<crate::fifo::Opening>,
    /// The process's children's CPU time (kernel/exit.rs adds to it when it reaps).
    pub cpu: Rc<std::cell::Cell<CpuAccount>>,
}

/// The wait status of a process that exited with `code`.
pub fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// The wait status of a process killed by `sig`. Linux sets WCOREDUMP (0x80) only when a core
/// file was written; the sentry writes none, so a core signal's status has no 0x80 either, as
/// in the container class where core dumps go nowhere.
pub fn killed(sig: i32) -> i32 {
    sig
}

/// The container's exit status for a wait status: the code, or 128 + the signal.
pub fn container_status(status: i32) -> i32 {
    bulkhead_linux::process::Exit::from_wait_status(status).status()
}

/// What a process started from nothing (the sandbox's pid 1, a process `bulkhead exec`
/// starts) is made of; everything else starts as a fresh process's.
pub struct NewProcess {
    pub pid: i32,
    pub loaded: crate::loader::Loaded,
    pub mm: Mm,
    pub asp: Box<dyn AddressSpace>,
    pub fs: Fs,
    pub fds: FdTable,
    pub hostname: String,
    pub env: Vec<String>,
    pub unimplemented: Rc<RefCell<BTreeMap<u64, u64>>>,
    pub rlimits: super::limits::Limits,
}

impl Task {
    /// A process with no parent in the sandbox (ppid 0), leader of its own session and group.
    pub fn new_process(mut p: NewProcess) -> Task {
        p.fds.set_owner(p.pid);
        p.fds.set_limit(super::limits::nofile(&p.rlimits));
        p.fs.proc.start_ticks = crate::procfs::ticks_now();
        let name = std::mem::take(&mut p.loaded.name);
        let mut t = Task {
            tid: p.pid,
            pid: p.pid,
            ppid: 0,
            pgid: p.pid,
            sid: p.pid,
            exit_signal: libc::SIGCHLD,
            regs: p.loaded.regs,
            mm: p.mm,
            asp: p.asp,
            fs: p.fs,
            fds: p.fds,
            creds: p.loaded.creds,
            signals: Default::default(),
            hostname: p.hostname,
            exe: p.loaded.exe_path,
            argv: p.loaded.argv,
            env: p.env.into(),
            clear_tid: 0,
            exit: None,
            unimplemented: p.unimplemented,
            rlimits: Rc::new(Cell::new(p.rlimits)),
            state: State::Ready,
            wait: None,
            deadline: None,
            progress: 0,
            lingering: None,
            vfork_parent: None,
            report: None,
            subreaper: false,
            container_init: false,
            pdeathsig: 0,
            nice: 0,
            saved_mask: None,
            to_parent: None,
            kicked: false,
            group_exit: false,
            robust_list: 0,
            cpu: Default::default(),
            fifo_open: None,
            select_sets: None,
            execed: false,
        };
        t.fs.proc.comm = name;
        t.refresh_proc();
        t
    }

    /// The unimplemented system calls as "name(nr)=count" items, for the log.
    pub fn enosys_report(&self) -> String {
        self.unimplemented
            .borrow()
            .iter()
            .map(|(nr, n)| format!("{}={n}", syscalls::name(*nr)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The ENOSYS report of the whole sandbox, readable after the tasks are gone.
    pub fn enosys_report_fn(&self) -> impl Fn() -> String {
        let counts = self.unimplemented.clone();
        move || {
            counts
                .borrow()
                .iter()
                .map(|(nr, n)| format!("{}={n}", syscalls::name(*nr)))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// Records a wait and answers WOULD_BLOCK for the handler to return.
    pub fn block(&mut self, w: Wait) -> Errno {
        self.wait = Some(w);
        WOULD_BLOCK
    }
}

impl Task {
    /// Brings /proc's view up to date with the task.
    pub fn refresh_proc(&mut self) {
        let cwd = self.fs.cwd();
        let umask = self.fs.umask();
        let p = &mut self.fs.proc;
        if let Some(name) = crate::procfs::take_rename(self.tid) {
            p.comm = name;
        }
        p.exe = self.exe.clone();
        p.cmdline = self.argv.clone();
        if p.comm.is_empty() {
            // The loader names every process (exec, the first one): an empty name is one
            // PR_SET_NAME gave; the program's own name stands in for it.
            p.comm = crate::loader::comm_of(&self.exe);
        }
        p.pid = self.pid;
        p.ppid = self.ppid;
        p.stopped = self.state == State::Stopped;
        p.pgid = self.pgid;
        p.sid = self.sid;
        let c = &self.creds;
        p.uids = c.uids.list();
        p.gids = c.gids.list();
        p.groups = c.groups.to_vec();
        p.caps = [
            c.caps.inheritable,
            c.caps.permitted,
            c.caps.effective,
            c.caps.bounding,
            c.caps.ambient,
        ];
        p.no_new_privs = c.no_new_privs;
        p.mem_used = self.mm.resident();
        p.cwd = cwd;
        p.tid = self.tid;
        p.files = self.fds.clone();
        p.limits = self.rlimits.get();
        p.umask = umask;
        p.maps = maps_text(&self.mm.vmas());
        p.host_tid = self.asp.host_tid();
        p.hostname.clone_from(&self.hostname);
        p.environ = self.env.clone();
        // The others' /proc shows the process as its first thread sees it, and each thread
        // under task/.
        crate::procfs::publish(p);
    }
}

/// /proc/<pid>/maps: the mappings, and the host vDSO every stub keeps, in address order.
fn maps_text(vmas: &[crate::mm::Vma]) -> String {
    let perm = |prot: i32, bit: i32, c: char| if prot & bit != 0 { c } else { '-' };
    let mut lines: Vec<(u64, String)> = vmas
        .iter()
        .map(|v| {
            (
                v.start,
                format!(
                    "{:08x}-{:08x} {}{}{}p 00000000 00:00 0\n",
                    v.start,
                    v.end,
                    perm(v.prot, libc::PROT_READ, 'r'),
                    perm(v.prot, libc::PROT_WRITE, 'w'),
                    perm(v.prot, libc::PROT_EXEC, 'x')
                ),
            )
        })
        .collect();
    if let Some(v) = crate::platform::Vdso::get() {
        let line = |a: u64, b: u64, p: &str, name: &str| {
            format!("{a:08x}-{b:08x} {p}p 00000000 00:00 0                          {name}\n")
        };
        lines.push((v.start, line(v.start, v.ehdr, "r--", "[vvar]")));
        lines.push((v.ehdr, line(v.ehdr, v.end, "r-x", "[vdso]")));
        lines.sort_by_key(|l| l.0);
    }
    lines.into_iter().map(|l| l.1).collect()
}
