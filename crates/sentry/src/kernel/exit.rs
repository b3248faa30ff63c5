//! The end of a task: its files and memory go, its children go to a reaper, its parent is told
//! (SIGCHLD, and wait4 finds the zombie); pid 1's end ends the sandbox. And wait4/waitid.

use super::task::Task;
use super::{wait, Cpu, Kernel, Zombie};
use crate::mm::Errno;
use crate::signals;

/// What a wait4/waitid call asks for.
#[derive(Debug, Clone, Copy)]
pub struct WaitQuery {
    /// >0 that pid; 0 the caller's process group; -1 any child; < -1 process group -pid.
    pub pid: i32,
    pub exited: bool,
    pub stopped: bool,
    pub continued: bool,
    /// WNOWAIT: report, leave it waitable.
    pub keep: bool,
}

/// What wait found: (pid, wait status, uid).
/// (pid, wait status, uid, CPU time) of a child wait4/waitid reports.
pub type Found = (i32, i32, u32, super::Cpu);

impl Kernel {
    /// The signals sent to the process that an exiting thread held go to another thread.
    fn pass_on_process_signals(&mut self, t: &mut Task) {
        let held = t.signals.group & t.signals.pending;
        for (sig, info) in t.signals.take_all(held) {
            self.signal_process(t.pid, sig, info);
        }
    }

    /// Ends `t`, whose `exit` holds its wait status: the thread, and the process with it when
    /// it was the last.
    pub(super) fn exit_task(&mut self, mut t: Task) {
        let status = t.exit.unwrap_or(0);
        // The process's CPU time, read while its stub still exists.
        let own = t.stub_cpu();
        let cpu = own + t.cpu.get().children;
        self.release_thread(&mut t);
        if self.tasks.values().any(|x| x.pid == t.pid) {
            // Other threads go on and take the signals sent to the process that this one
            // held; the thread's own host thread is parked.
            self.pass_on_process_signals(&mut t);
            t.asp.exit_thread();
            return;
        }
        super::entry::spent(&t.fs.root(), own);
        self.drop_address_space(&mut t);
        crate::procfs::withdraw(t.pid);
        self.timers.drop_process(t.pid, false);
        crate::locks::release(crate::locks::Owner::Process(t.pid), None);
        // Its files close now: pipe ends it held report EOF or EPIPE to the others.
        t.fds = Default::default();
        t.fs.proc.files = Default::default();
        wait::poke();
        if t.pid == 1 {
            self.init_status = Some(status);
            return;
        }
        self.release_vfork(t.vfork_parent, t.pid);
        self.reparent_children(t.pid, t.ppid);
        if t.ppid == 0 && self.entry_exited(t.pid, status) {
            // Started by `bulkhead exec`: its status went to the runtime; no zombie.
            return;
        }
        for c in self.tasks.values_mut() {
            if c.ppid == t.pid && c.pdeathsig != 0 {
                signals::send(c, c.pdeathsig);
            }
        }
        let parent_ignores = self
            .tasks
            .get(&t.ppid)
            .is_some_and(|p| signals::ignores_children(p, t.exit_signal));
        if !parent_ignores {
            self.zombies.insert(
                t.pid,
                Zombie {
                    pid: t.pid,
                    ppid: t.ppid,
                    pgid: t.pgid,
                    uid: t.creds.uids.real,
                    status,
                    cpu,
                },
            );
        }
        if let Some(p) = self.tasks.get_mut(&t.ppid) {
            if t.exit_signal > 0 {
                let info = signals::Info::child(t.pid, t.creds.uids.real, status);
                signals::send_info(p, t.exit_signal, info);
            }
        }
    }

    /// What a thread's end does for the others: set_tid_address's word cleared and woken
    /// (pthread_join waits on it) and the robust futexes it held marked as their owner died.
    pub(super) fn release_thread(&mut self, t: &mut Task) {
        if t.tid != t.pid {
            crate::procfs::withdraw_thread(t.tid);
        }
        super::futex::exit_robust_list(self, t);
        let shared = self.tasks.values().any(|x| x.mm.same(&t.mm));
        if t.clear_tid == 0 || !shared || t.mm.write(t.clear_tid, &0u32.to_le_bytes()).is_err() {
            return;
        }
        if let Ok(key) = t.mm.futex_key(t.clear_tid, false) {
            self.futex_wake(key, 1, u32::MAX);
        }
    }

    /// A task is done with its address space (exit, execve): the stub goes with it unless
    /// another task still runs in it (a thread, a vfork child sharing it).
    pub(super) fn drop_address_space(&mut self, t: &mut Task) {
        let shared = self
            .tasks
            .values()
            .any(|x| x.tid != t.tid && x.mm.same(&t.mm));
        if shared {
            t.asp.exit_thread();
        } else {
            t.asp.kill();
        }
    }

    /// The children of `pid` go to the nearest subreaper above it, or to pid 1.
    fn reparent_children(&mut self, pid: i32, ppid: i32) {
        // `pid` has left the table: the search starts at its parent.
        let mut reaper = ppid;
        // The flag is the process's: any of its threads may have set it.
        while reaper > 1 && !self.tasks.values().any(|t| t.pid == reaper && t.subreaper) {
            reaper = self.tasks.get(&reaper).map(|t| t.ppid).unwrap_or(1);
        }
        let reaper = reaper.max(1);
        for c in self.tasks.values_mut().filter(|c| c.ppid == pid) {
            c.ppid = reaper;
        }
        let mut orphaned_zombie = false;
        for z in self.zombies.values_mut().filter(|z| z.ppid == pid) {
            z.ppid = reaper;
            orphaned_zombie = true;
        }
        if orphaned_zombie {
            if let Some(r) = self.tasks.get_mut(&reaper) {
                signals::send(r, libc::SIGCHLD);
            }
        }
    }

    /// wait4/waitid for `me`: a child that matches and has something to report, Ok(None) when
    /// matching children exist but none has, ECHILD when none matches at all.
    pub fn wait_child(&mut self, me: &Task, q: WaitQuery) -> Result<Option<Found>, Errno> {
        let matches = |pid: i32, pgid: i32| match q.pid {
            p if p > 0 => pid == p,
            0 => pgid == me.pgid,
            -1 => true,
            p => pgid == -p,
        };
        let mut any = false;
        if q.exited {
            let found = self
                .zombies
                .values()
                .find(|z| z.ppid == me.pid && matches(z.pid, z.pgid))
                .map(|z| (z.pid, z.status, z.uid, z.cpu));
            if let Some((pid, status, uid, cpu)) = found {
                if !q.keep {
                    self.zombies.remove(&pid);
                    let mut account = me.cpu.get();
                    account.children = account.children + cpu;
                    me.cpu.set(account);
                }
                return Ok(Some((pid, status, uid, cpu)));
            }
        }
        any |= self
            .zombies
            .values()
            .any(|z| z.ppid == me.pid && matches(z.pid, z.pgid));
        for c in self.tasks.values_mut() {
            if c.ppid != me.pid || !matches(c.pid, c.pgid) {
                continue;
            }
            any = true;
            let Some(r) = c.report else { continue };
            let stop = r & 0xff == 0x7f;
            if (stop && q.stopped) || (!stop && q.continued) {
                if !q.keep {
                    c.report = None;
                }
                return Ok(Some((c.pid, r, c.creds.uids.real, Cpu::default())));
            }
        }
        if any {
            Ok(None)
        } else {
            Err(libc::ECHILD)
        }
    }
}
