//! The sentry's kernel: a task (registers, memory, files, credentials, signal state) and the
//! loop that runs it on the platform, serving each system call it makes.
//!
//! Step 1 runs one task; step 2 has begun with signals (signals.rs). The structures are laid
//! out for the rest of step 2 (fork, threads): the
//! fd table and the file system view are values that can be shared or copied, the address
//! space is a trait object the platform owns.

use crate::mm::Mm;
use crate::platform::{AddressSpace, Event, Regs};
use crate::syscalls;
use crate::vfs::{FdTable, Fs};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
}

/// The application's signal state: dispositions, mask, what is pending, and the FPU state of
/// each handler frame on its stack (see signals.rs).
#[derive(Clone)]
pub struct Signals {
    /// The raw kernel `struct sigaction` (32 bytes) of each signal.
    pub actions: Vec<[u8; 32]>,
    pub mask: u64,
    /// Bit `sig - 1` for each signal sent and not yet delivered.
    pub pending: u64,
    pub saved: crate::signals::SavedFp,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            actions: vec![[0u8; 32]; 65],
            mask: 0,
            pending: 0,
            saved: Vec::new(),
        }
    }
}

pub struct Task {
    pub regs: Regs,
    pub mm: Mm,
    pub asp: Box<dyn AddressSpace>,
    pub fs: Fs,
    pub fds: FdTable,
    pub creds: Creds,
    pub signals: Signals,
    pub umask: u32,
    pub hostname: String,
    pub exe: String,
    pub argv: Vec<String>,
    /// set_tid_address: cleared (and woken) at exit in step 2.
    pub clear_tid: u64,
    /// Set when the task has called exit/exit_group.
    pub exit: Option<i32>,
    /// System calls answered with ENOSYS, by number, with their counts.
    pub unimplemented: BTreeMap<u64, u64>,
    /// Resource limits the application set or read (prlimit64), by resource.
    pub rlimits: BTreeMap<u32, (u64, u64)>,
}

impl Task {
    /// Runs the task until it exits; returns its exit status (128 + signal when killed).
    pub fn run(&mut self) -> i32 {
        loop {
            match self.asp.switch(&mut self.regs) {
                Ok(Event::Syscall) => {
                    let nr = self.regs.orig_rax;
                    let ret = syscalls::dispatch(self, nr);
                    if self.exit.is_none() {
                        self.regs.rax = ret as u64;
                        self.regs.orig_rax = u64::MAX;
                        // On the way back: a pending signal runs its handler (or ends us).
                        crate::signals::deliver(self);
                    }
                    if let Some(code) = self.exit {
                        self.asp.kill();
                        return code;
                    }
                }
                Ok(Event::Fault(sig)) => {
                    // Signal delivery to handlers is step 2: a fault ends the task as the
                    // default action would.
                    self.asp.kill();
                    return 128 + sig;
                }
                Ok(Event::Gone(code)) => return code,
                Err(_) => {
                    self.asp.kill();
                    return 128 + libc::SIGKILL;
                }
            }
        }
    }

    /// The unimplemented system calls as "name(nr)=count" items, for the log.
    pub fn enosys_report(&self) -> String {
        self.unimplemented
            .iter()
            .map(|(nr, n)| format!("{}={n}", syscalls::name(*nr)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Task {
    /// Brings /proc's view up to date with the task.
    pub fn refresh_proc(&mut self) {
        let p = &mut self.fs.proc;
        p.exe = self.exe.clone();
        p.cmdline = self.argv.clone();
        if p.comm.is_empty() {
            // The name exec gives; PR_SET_NAME may change it afterwards.
            p.comm = self
                .exe
                .rsplit('/')
                .next()
                .unwrap_or("")
                .chars()
                .take(15)
                .collect();
        }
        p.uid = self.creds.uid;
        p.gid = self.creds.gid;
        p.mem_used = self.mm.resident;
        p.cwd = self.fs.cwd.clone();
        p.fds = self
            .fds
            .fds()
            .into_iter()
            .filter_map(|fd| self.fds.get(fd).ok().map(|f| (fd, f.borrow().path.clone())))
            .collect();
        p.maps = self
            .mm
            .vmas()
            .map(|v| {
                let perm = |bit: i32, c: char| if v.prot & bit != 0 { c } else { '-' };
                format!(
                    "{:08x}-{:08x} {}{}{}p 00000000 00:00 0\n",
                    v.start,
                    v.end,
                    perm(libc::PROT_READ, 'r'),
                    perm(libc::PROT_WRITE, 'w'),
                    perm(libc::PROT_EXEC, 'x')
                )
            })
            .collect();
    }
}
