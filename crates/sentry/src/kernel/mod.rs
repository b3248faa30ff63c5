//! The sentry's kernel: the sandbox's tasks and the loop that runs them. Every task's stub is
//! resumed on the host and runs in parallel with the others; the loop waits for the next event
//! of any of them (one waitpid for all stubs, or a poll on the SIGCHLD signalfd, the deadlines
//! and the host fds blocked tasks watch), serves it, and resumes the task unless its call has
//! to wait (wait.rs). A blocked task's stub stays stopped: it uses no CPU and holds up no one.
//!
//! Layout, after Linux and gVisor: task.rs (a task), wait.rs (blocking), exit.rs (exit, wait4,
//! reparenting, pid 1's end), fork.rs (clone and execve), futex.rs (futex waits and wakes).

pub mod creds;
pub mod entry;
mod exit;
pub mod fork;
pub mod futex;
pub mod limits;
pub mod task;
pub mod timers;
pub mod wait;

pub use exit::WaitQuery;
pub use task::{container_status, exited, killed, Cpu, Creds, Signals, State, Task};

use crate::mm::Memory;
use crate::platform::{Event, Platform, Regs};
use crate::signals;
use crate::syscalls;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Instant;
use wait::{Wait, WaitKind, WOULD_BLOCK};

/// A hasher for pid keys, looked up on every event: a multiply, not SipHash (pids are not
/// chosen by anyone who could aim at collisions in a table this small).
#[derive(Default)]
pub struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i32(&mut self, i: i32) {
        self.0 = (i as u32 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Whether `settle` has work for `t`: a wait a signal ends or a change may end, a running
/// task to stop for a signal, a notice for its parent or its end not yet handled.
fn needs_settling(t: &Task, changed: bool) -> bool {
    if t.to_parent.is_some() || t.exit.is_some() {
        return true;
    }
    match t.state {
        State::Blocked => {
            signals::interrupts(t)
                || (changed
                    && t.wait
                        .as_ref()
                        .is_some_and(|w| w.retried() || matches!(w.kind, WaitKind::SigWait { .. })))
        }
        State::Running => !t.kicked && signals::interrupts(t),
        _ => false,
    }
}

/// Linux's default pid_max: pids wrap below it.
pub const PID_MAX: i32 = 4_194_304;

/// A process that has exited and not been reaped.
#[derive(Debug, Clone)]
pub struct Zombie {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub uid: u32,
    pub status: i32,
    /// Its CPU time and its reaped children's, for the parent's wait4 and times.
    pub cpu: task::Cpu,
}

pub struct Kernel {
    /// Boxed: a Task is large, and the loop takes tasks out of the table and puts them back
    /// for every event (a move of the box, not of the task and its node's neighbours).
    pub tasks: BTreeMap<i32, Box<Task>>,
    pub zombies: BTreeMap<i32, Zombie>,
    /// Host thread of each running stub -> pid.
    by_host: HashMap<i32, i32, std::hash::BuildHasherDefault<PidHasher>>,
    next_pid: i32,
    /// The registers a fresh stub starts with (its segment selectors), for the loader.
    pub base: Regs,
    pub memory: Rc<RefCell<Memory>>,
    /// Where the stubs come from, and how their traps reach the loop.
    pub platform: Rc<Platform>,
    /// SIGCHLD, as a readable fd: a stub stopped or ended.
    sigchld: OwnedFd,
    /// The sandbox's pid 1 ended with this wait status.
    init_status: Option<i32>,
    seen_epoch: u64,
    /// alarm, setitimer and timer_create's timers.
    pub timers: timers::Timers,
    /// SIGCHLD may be taken by another thread of the process (the sentry embedded in a
    /// test's process): idle then looks for stub events every SHARED_SIGCHLD_NAP_MS too.
    pub shared_sigchld: bool,
    /// Where `bulkhead exec` asks for processes (entry.rs).
    pub entry: Option<entry::Entry>,
    /// When the loop last looked at the entry while busy.
    entry_checked: Instant,
    /// When the loop last asked for wait statuses.
    reaped_at: Instant,
}

/// How often a busy loop looks for exec requests.
const ENTRY_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// How long the loop spins for a systrap trap before it sleeps (docs/sandbox.md).
const SENTRY_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// How often a loop kept busy by systrap traps looks for stubs that ended.
const REAP_CHECK: std::time::Duration = std::time::Duration::from_millis(1);

/// How long idle waits at most when the signalfd may miss a SIGCHLD.
const SHARED_SIGCHLD_NAP_MS: i32 = 10;

impl Kernel {
    pub fn new(
        memory: Rc<RefCell<Memory>>,
        base: Regs,
        sigchld: OwnedFd,
        platform: Rc<Platform>,
    ) -> Kernel {
        Kernel {
            tasks: BTreeMap::new(),
            zombies: BTreeMap::new(),
            by_host: HashMap::default(),
            next_pid: 1,
            base,
            memory,
            platform,
            sigchld,
            init_status: None,
            seen_epoch: wait::epoch(),
            shared_sigchld: false,
            timers: Default::default(),
            entry: None,
            entry_checked: Instant::now(),
            reaped_at: Instant::now(),
        }
    }

    /// The next free pid (1 for the first task).
    pub fn alloc_pid(&mut self) -> i32 {
        loop {
            let pid = self.next_pid;
            self.next_pid = if pid + 1 >= PID_MAX { 300 } else { pid + 1 };
            if !self.tasks.contains_key(&pid) && !self.zombies.contains_key(&pid) {
                return pid;
            }
        }
    }

    pub fn insert(&mut self, t: Task) {
        self.by_host.insert(t.asp.host_tid(), t.tid);
        self.tasks.insert(t.tid, Box::new(t));
    }

    /// The tids of the other threads of `t`'s process.
    pub fn siblings(&self, t: &Task) -> Vec<i32> {
        self.tasks
            .values()
            .filter(|x| x.pid == t.pid && x.tid != t.tid)
            .map(|x| x.tid)
            .collect()
    }

    /// Ends the other threads of `t`'s process (exit_group, a fatal signal, execve); the
    /// process itself ends, or goes on, with `t`.
    pub fn end_siblings(&mut self, t: &Task) {
        for tid in self.siblings(t) {
            if let Some(mut s) = self.tasks.remove(&tid) {
                self.by_host.remove(&s.asp.host_tid());
                self.release_thread(&mut s);
                s.asp.exit_thread();
            }
        }
    }

    /// Runs until the sandbox's pid 1 ends; returns the container's exit status.
    pub fn run(&mut self) -> i32 {
        loop {
            self.resume_ready();
            if let Some(status) = self.init_status {
                self.kill_all();
                // What closed connections left queued still goes out (a client that wrote
                // and exited), as Linux's kernel would send it after the processes are gone.
                crate::net::pod::drain(crate::net::pod::DRAIN_MAX);
                return container_status(status);
            }
            // A trap the spin finds is served at once, not after the rest of the round.
            let mut busy = self.serve_traps() || (self.spin_for_traps() && self.serve_traps());
            // On systrap a stub's end is the only wait status: while traps keep the loop busy,
            // it looks for one every REAP_CHECK rather than with a host call per trap.
            if !busy || !self.platform.traps() || self.reaped_at.elapsed() >= REAP_CHECK {
                self.reaped_at = Instant::now();
                match bulkhead_linux::process::wait_any_status(libc::__WALL | libc::WNOHANG) {
                    Ok(Some((host, status))) => {
                        self.host_event(host, status);
                        busy = true;
                    }
                    Ok(None) => {}
                    Err(_) => {
                        // The stubs cannot be waited for: nothing can run any more.
                        self.kill_all();
                        return 128 + libc::SIGKILL;
                    }
                }
            }
            if !busy {
                self.idle();
            }
            self.fire_timers();
            crate::timerfd::fire_due();
            self.look_at_entry();
            crate::net::pod::pump_if_due();
            self.rekick_swallowed();
            self.settle();
        }
    }

    /// Resumes every task that is ready; one that cannot be resumed is gone.
    fn resume_ready(&mut self) {
        let ready: Vec<i32> = self
            .tasks
            .values()
            .filter(|t| t.state == State::Ready)
            .map(|t| t.tid)
            .collect();
        for pid in ready {
            let Some(mut t) = self.tasks.remove(&pid) else {
                continue;
            };
            match t.asp.resume(&t.regs) {
                Ok(()) => t.state = State::Running,
                Err(_) => t.exit = Some(killed(libc::SIGKILL)),
            }
            self.put_back(t);
        }
    }

    /// One wait status of a stub's host thread. A stub's end is the end of every task that
    /// runs in it (systrap's threads share one host pid).
    fn host_event(&mut self, host: i32, status: i32) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let gone: Vec<i32> = self
                .tasks
                .values()
                .filter(|t| t.asp.host_tid() == host)
                .map(|t| t.tid)
                .collect();
            for tid in gone {
                if let Some(mut t) = self.tasks.remove(&tid) {
                    let mut regs = t.regs;
                    let ev = t.asp.stopped(status, &mut regs);
                    self.on_stop(t, ev, regs);
                }
            }
            return;
        }
        let Some(pid) = self.by_host.get(&host).copied() else {
            return; // a stub already replaced or ended
        };
        let Some(mut t) = self.tasks.remove(&pid) else {
            return;
        };
        let mut regs = t.regs;
        let ev = t.asp.stopped(status, &mut regs);
        self.on_stop(t, ev, regs);
    }

    /// Serves the tasks whose stub thread trapped (systrap); whether there were any.
    fn serve_traps(&mut self) -> bool {
        if !self.platform.traps() {
            return false;
        }
        let trapped: Vec<i32> = self
            .tasks
            .values()
            .filter(|t| t.state == State::Running && t.asp.trapped())
            .map(|t| t.tid)
            .collect();
        for tid in &trapped {
            if let Some(mut t) = self.tasks.remove(tid) {
                let mut regs = t.regs;
                let ev = t.asp.trap(&mut regs);
                self.on_stop(t, ev, regs);
            }
        }
        if trapped.is_empty() {
            return false;
        }
        // The thread spins for its answer: give it now rather than after the loop's round.
        self.resume_ready();
        true
    }

    /// Before the loop sleeps: a task running on systrap is likely to trap within
    /// microseconds (its next system call), and waking from poll costs far more than that.
    /// Spins up to SENTRY_SPIN for a trap; whether one came.
    fn spin_for_traps(&mut self) -> bool {
        if !self.platform.traps() || !self.tasks.values().any(|t| t.state == State::Running) {
            return false;
        }
        let start = Instant::now();
        while start.elapsed() < SENTRY_SPIN {
            if self.any_trapped() {
                return true;
            }
        }
        false
    }

    /// Whether a running task's stub thread waits in its handler with a trap (systrap).
    fn any_trapped(&self) -> bool {
        self.tasks
            .values()
            .any(|t| t.state == State::Running && t.asp.trapped())
    }

    /// What the platform said about a stopped task.
    fn on_stop(&mut self, mut t: Box<Task>, ev: std::io::Result<Option<Event>>, regs: Regs) {
        match ev {
            Ok(None) => {}
            Ok(Some(ev)) => {
                t.regs = regs;
                if ev == Event::Interrupted && !t.kicked && t.asp.kicks_process() {
                    // A SIGURG meant for another thread of the stub landed here: kick again.
                    self.rekick_siblings(&t);
                }
                t.kicked = false;
                t.state = State::Ready;
                match ev {
                    Event::Syscall => {
                        t.progress = 0;
                        t.deadline = None;
                        self.patch_site(&mut t);
                        self.serve(&mut t);
                    }
                    Event::Fault(sig) => signals::fault(&mut t, sig),
                    Event::Interrupted => signals::deliver(&mut t),
                    Event::Gone(code) => {
                        t.exit = Some(if code >= 128 {
                            killed(code - 128)
                        } else {
                            exited(code)
                        })
                    }
                }
            }
            Err(_) => t.exit = Some(killed(libc::SIGKILL)),
        }
        self.put_back(t);
    }

    /// A call that came through the trap path from a site of a form patch.rs recognises gets
    /// it patched, where the platform has a fast entry; the thread then returns where the
    /// patch says (a `syscall; cmp` site's return address is inside the jump written there).
    fn patch_site(&self, t: &mut Task) {
        let Some(entry) = t.asp.fast_entry() else {
            return;
        };
        let tasks = &self.tasks;
        let mm = t.mm.clone();
        let alone = || !tasks.values().any(|x| x.mm.same(&mm));
        if let Some(rip) =
            t.mm.patch(t.asp.as_mut(), t.regs.rip, t.regs.orig_rax, entry, &alone)
        {
            t.regs.rip = rip;
        }
    }

    /// A kick another thread of the stub swallowed in systrap's fast path (it was not
    /// stopped by it) is sent again to the tasks still waiting for one.
    fn rekick_swallowed(&mut self) {
        for t in self.tasks.values_mut() {
            if t.state == State::Running && t.kicked && t.asp.swallowed_kick() {
                t.asp.kick();
            }
        }
    }

    /// The running threads of `t`'s stub that wait for a kick get another.
    fn rekick_siblings(&mut self, t: &Task) {
        let host = t.asp.host_tid();
        for s in self.tasks.values_mut() {
            if s.state == State::Running && s.kicked && s.asp.host_tid() == host {
                s.kicked = false;
            }
        }
    }

    /// Serves the system call `t` stopped in (again, for a Retry wait).
    fn serve(&mut self, t: &mut Task) {
        let nr = t.regs.orig_rax;
        t.wait = None;
        let mask = t.signals.mask;
        let ret = syscalls::dispatch(self, t, nr);
        if mask & !t.signals.mask != 0 {
            self.adopt_process_signals(t);
        }
        if t.exit.is_some() {
            return;
        }
        if ret == -(WOULD_BLOCK as i64) && t.wait.is_some() {
            t.state = State::Blocked;
            t.asp.park();
            return;
        }
        t.wait = None;
        self.finish(t, ret);
    }

    /// Completes the call `t` is in with `ret`, and delivers a pending signal on the way back.
    fn finish(&mut self, t: &mut Task, ret: i64) {
        t.fifo_open = None;
        t.select_sets = None;
        t.regs.rax = ret as u64;
        t.regs.orig_rax = u64::MAX;
        t.deadline = None;
        t.progress = 0;
        t.state = State::Ready;
        signals::deliver(t);
    }

    /// Puts a task back in the table, or ends it if it exited.
    fn put_back(&mut self, mut t: Box<Task>) {
        if let Some(sig) = t.to_parent.take() {
            let info = signals::Info::child(t.pid, t.creds.uids.real, t.report.unwrap_or(0xffff));
            if let Some(p) = self.tasks.get_mut(&t.ppid) {
                if !signals::no_child_stop(p) {
                    signals::send_to_process(p, sig, info);
                }
            }
        }
        if t.exit.is_some() {
            self.by_host.remove(&t.asp.host_tid());
            if t.group_exit {
                self.end_siblings(&t);
            }
            self.exit_task(*t);
        } else {
            self.by_host.insert(t.asp.host_tid(), t.tid);
            self.tasks.insert(t.tid, t);
        }
    }

    /// Nothing to serve: sleeps until a stub stops, a deadline passes or a watched host fd is
    /// ready, then ends the waits that are over.
    fn idle(&mut self) {
        let now = Instant::now();
        let mut timeout: i32 = -1;
        let mut earliest: Option<Instant> = None;
        let mut fds = vec![libc::pollfd {
            fd: self.sigchld.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        for t in self.tasks.values() {
            let Some(w) = t.wait.as_ref().filter(|_| t.state == State::Blocked) else {
                continue;
            };
            if let Some((at, _)) = w.deadline {
                earliest = Some(earliest.map_or(at, |e: Instant| e.min(at)));
            }
            for (fd, ev) in &w.host_fds {
                fds.push(libc::pollfd {
                    fd: *fd,
                    events: *ev,
                    revents: 0,
                });
            }
        }
        for at in [
            self.timers.next_expiry(),
            crate::timerfd::next_expiry(),
            crate::net::pod::next_deadline(),
            crate::dcache::expire(),
        ]
        .into_iter()
        .flatten()
        {
            earliest = Some(earliest.map_or(at, |e: Instant| e.min(at)));
        }
        if let Some(at) = earliest {
            let ms = at
                .saturating_duration_since(now)
                .as_millis()
                .min(i32::MAX as u128 - 1);
            // Round up so the deadline has passed when poll returns.
            timeout = ms as i32 + i32::from(at > now);
        }
        if self.shared_sigchld && !(0..SHARED_SIGCHLD_NAP_MS).contains(&timeout) {
            timeout = SHARED_SIGCHLD_NAP_MS;
        }
        let entry = self.entry_fds();
        fds.extend(entry.iter().map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }));
        let frames = crate::net::pod::fd();
        if let Some(fd) = frames {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let wake = self.platform.wake_fd();
        if let Some(fd) = wake {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            // Said before the last look: a thread that traps after it writes the eventfd.
            self.platform.sleeping(true);
            // A kick swallowed before the sentry said it sleeps wrote no eventfd.
            self.rekick_swallowed();
            if self.any_trapped() {
                timeout = 0;
            }
        }
        let _ = crate::host::poll(&mut fds, timeout);
        if wake.is_some() {
            self.platform.sleeping(false);
        }
        let host_signals = crate::host::read_signals(self.sigchld.as_raw_fd());
        self.pass_on_host_signals(&host_signals);
        let ready: Vec<i32> = fds[1..]
            .iter()
            .filter(|p| p.revents != 0)
            .map(|p| p.fd)
            .collect();
        if frames.is_some_and(|f| ready.contains(&f)) {
            crate::net::pod::readable();
        }
        self.end_waits(&ready);
        if ready.iter().any(|fd| entry.contains(fd)) {
            self.serve_entry(&ready);
            self.entry_checked = Instant::now();
        }
    }

    /// A sandbox busy enough never to idle still takes exec requests: the entry is looked at
    /// every ENTRY_CHECK while the loop is busy.
    fn look_at_entry(&mut self) {
        if self.entry.is_none() || self.entry_checked.elapsed() < ENTRY_CHECK {
            return;
        }
        self.entry_checked = Instant::now();
        let mut fds: Vec<libc::pollfd> = self
            .entry_fds()
            .into_iter()
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if crate::host::poll(&mut fds, 0).is_ok_and(|n| n > 0) {
            let ready: Vec<i32> = fds
                .iter()
                .filter(|p| p.revents != 0)
                .map(|p| p.fd)
                .collect();
            self.serve_entry(&ready);
        }
    }

    /// Ends the waits whose deadline passed or whose host fd is ready.
    fn end_waits(&mut self, ready_fds: &[i32]) {
        let now = Instant::now();
        let pids: Vec<i32> = self.tasks.keys().copied().collect();
        for pid in pids {
            let Some(t) = self.tasks.get(&pid) else {
                continue;
            };
            let Some(w) = t.wait.clone().filter(|_| t.state == State::Blocked) else {
                continue;
            };
            let Some(mut t) = self.tasks.remove(&pid) else {
                continue;
            };
            if w.host_fds.iter().any(|(fd, _)| ready_fds.contains(fd)) {
                self.serve(&mut t);
            } else if let Some((at, ret)) = w.deadline.filter(|(at, _)| *at <= now) {
                let _ = at;
                t.wait = None;
                self.finish(&mut t, ret);
            }
            self.put_back(t);
        }
    }

    /// After each event: serves Retry waits again if anything changed, interrupts waits that
    /// a signal ends, and starts stopped tasks that were continued.
    fn settle(&mut self) {
        loop {
            let now = wait::epoch();
            let changed = now != self.seen_epoch;
            self.seen_epoch = now;
            // Only the tasks with something to do are taken out of the table (most events
            // leave every other task as it was).
            let pids: Vec<i32> = self
                .tasks
                .values()
                .filter(|t| needs_settling(t, changed))
                .map(|t| t.tid)
                .collect();
            for pid in pids {
                let Some(mut t) = self.tasks.remove(&pid) else {
                    continue;
                };
                let kind = t.wait.as_ref().map(|w| w.kind.clone());
                if t.state == State::Blocked
                    && changed
                    && matches!(kind, Some(WaitKind::SigWait { .. }))
                {
                    // rt_sigtimedwait takes a signal of its set before it could interrupt.
                    self.serve(&mut t);
                }
                if t.state == State::Blocked {
                    if signals::interrupts(&t) {
                        self.interrupt(&mut t);
                    } else if changed && t.wait.as_ref().is_some_and(Wait::retried) {
                        self.serve(&mut t);
                    }
                } else if t.state == State::Running && !t.kicked && signals::interrupts(&t) {
                    // It runs on the host: make it stop so the signal is delivered.
                    t.kicked = true;
                    t.asp.kick();
                }
                self.put_back(t);
            }
            if wait::epoch() == self.seen_epoch {
                return;
            }
        }
    }

    /// A signal ends `t`'s wait: the call fails with EINTR, or starts again after the handler
    /// when it is restartable and the handler has SA_RESTART, or returns what it has done.
    fn interrupt(&mut self, t: &mut Task) {
        let w = t.wait.take().unwrap_or_else(Wait::retry);
        if t.progress > 0 {
            let n = t.progress as i64;
            self.finish(t, n);
            return;
        }
        if w.always_restarts() || signals::restarts(t, w.restartable()) {
            t.regs.rax = t.regs.orig_rax;
            t.regs.rip -= 2;
            t.regs.orig_rax = u64::MAX;
            t.deadline = None;
            t.state = State::Ready;
            signals::deliver(t);
            return;
        }
        if let (WaitKind::Sleep { rem }, Some((at, _))) = (&w.kind, w.deadline) {
            if *rem != 0 {
                let left = at.saturating_duration_since(Instant::now());
                let ts = crate::syscalls::timespec_of(left);
                if t.mm.write(*rem, &ts).is_err() {
                    self.finish(t, -(libc::EFAULT as i64));
                    return;
                }
            }
        }
        self.finish(t, -(libc::EINTR as i64));
    }

    /// Wakes a vfork parent waiting for `child`.
    pub fn release_vfork(&mut self, parent: Option<i32>, child: i32) {
        let Some(ppid) = parent else { return };
        let Some(mut p) = self.tasks.remove(&ppid) else {
            return;
        };
        if p.wait.as_ref().map(|w| &w.kind) == Some(&WaitKind::Vfork(child)) {
            p.wait = None;
            self.finish(&mut p, child as i64);
        }
        self.put_back(p);
    }

    /// Ends every task (pid 1 is gone, or the sandbox is).
    fn kill_all(&mut self) {
        for (_, mut t) in std::mem::take(&mut self.tasks) {
            t.asp.kill();
        }
    }

    /// A thread by tid, with `me` (taken out of the table while it is served) as itself.
    pub fn task_mut<'a>(&'a mut self, me: &'a mut Task, tid: i32) -> Option<&'a mut Task> {
        if tid == me.tid {
            Some(me)
        } else {
            self.tasks.get_mut(&tid).map(|t| &mut **t)
        }
    }

    /// The CPU time of `t`'s process, or with `children` its reaped children's.
    pub fn process_cpu(&self, t: &Task, children: bool) -> Cpu {
        if children {
            t.cpu.get().children
        } else {
            t.stub_cpu()
        }
    }

    /// Signals sent to the sentry from outside go into the sandbox: the terminal's (si_code
    /// SI_KERNEL: ^C, ^\, ^Z, a window size change, a hang-up) to its foreground process
    /// group, as the host's terminal would send them; the others (the runtime's `kill`) to
    /// the sandbox's pid 1, with si_pid 0 as a sender outside its pid namespace shows.
    fn pass_on_host_signals(&mut self, received: &[(i32, i32)]) {
        for &(sig, code) in received {
            if sig == libc::SIGCHLD && code != signals::SI_USER {
                continue;
            }
            let tty = code == signals::SI_KERNEL
                && matches!(
                    sig,
                    libc::SIGINT | libc::SIGQUIT | libc::SIGTSTP | libc::SIGWINCH | libc::SIGHUP
                );
            let info = signals::Info {
                code,
                ..Default::default()
            };
            if tty {
                // The container's terminal is the sentry's own stdin.
                let group = syscalls::foreground_of(syscalls::tty_key(0));
                self.signal_group(group, sig, info);
            } else {
                self.signal_process(1, sig, info);
            }
        }
    }

    /// Sends `sig` to every process of process group `pgrp`.
    pub(super) fn signal_group(&mut self, pgrp: i32, sig: i32, info: signals::Info) {
        let pids: std::collections::BTreeSet<i32> = self
            .tasks
            .values()
            .filter(|t| t.pgid == pgrp)
            .map(|t| t.pid)
            .collect();
        for pid in pids {
            self.signal_process(pid, sig, info);
        }
    }

    /// Sends `sig` to process `pid`, to the thread `receiver` picks among those in the table
    /// (the loop's own signals: from the host, and those an exiting thread passes on).
    fn signal_process(&mut self, pid: i32, sig: i32, info: signals::Info) {
        let to = receiver(self.tasks.values().map(|t| &**t), pid, sig);
        if let Some(x) = to.and_then(|tid| self.tasks.get_mut(&tid)) {
            signals::send_to_process(x, sig, info);
        }
    }

    /// `t` unblocked signals: it takes those sent to its process that the thread holding
    /// them still blocks.
    pub fn adopt_process_signals(&mut self, t: &mut Task) {
        let pid = t.pid;
        for x in self.tasks.values_mut().filter(|x| x.pid == pid) {
            let moving = x.signals.group & x.signals.pending & x.signals.mask & !t.signals.mask;
            for (sig, info) in x.signals.take_all(moving) {
                signals::send_to_process(t, sig, info);
            }
        }
    }

    /// The thread a signal for process `pid` goes to: one that does not block it, the first
    /// thread preferred, as Linux's complete_signal picks.
    pub fn thread_for<'a>(
        &'a mut self,
        me: &'a mut Task,
        pid: i32,
        sig: i32,
    ) -> Option<&'a mut Task> {
        let tid = receiver(
            self.tasks
                .values()
                .map(|t| &**t)
                .chain(std::iter::once(&*me)),
            pid,
            sig,
        )?;
        self.task_mut(me, tid)
    }
}

/// Of `threads`, the thread of process `pid` a signal for the process goes to: one that does
/// not block it, the lowest tid preferred, as Linux's complete_signal picks.
pub fn receiver<'a>(threads: impl Iterator<Item = &'a Task>, pid: i32, sig: i32) -> Option<i32> {
    let bit = 1u64 << (sig.clamp(1, 64) - 1);
    threads
        .filter(|x| x.pid == pid)
        .map(|x| (x.signals.mask & bit != 0, x.tid))
        .min()
        .map(|(_, tid)| tid)
}

/// A handler's answer when it has recorded a wait.
pub fn would_block() -> crate::mm::Errno {
    WOULD_BLOCK
}
