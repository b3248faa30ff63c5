//! Platforms: where an application's address space lives and how its system calls reach the
//! sentry. The sentry's kernel talks to this interface only: systrap (seccomp RET_TRAP with a
//! shared-memory hand-off, the default) and ptrace (PTRACE_SYSEMU, the debug platform).

pub mod ptrace;
pub mod systrap;

use std::cell::RefCell;
use std::rc::Rc;

pub use bulkhead_linux::ptrace::{FpRegs, Regs};

/// Why the application stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It made a system call; the registers hold the number and arguments.
    Syscall,
    /// Its own instructions faulted (SIGSEGV, SIGILL, ...).
    Fault(i32),
    /// The kernel stopped it (to deliver a signal) while it ran.
    Interrupted,
    /// It is gone.
    Gone(i32),
}

/// One application address space and the thread that runs in it. The kernel starts the
/// threads of many address spaces running at once (`resume`) and learns of their next event
/// from one wait for all of them (`host_tid` names whose event it is, `stopped` reads it), so
/// the application's processes run in parallel on the host's CPUs and a blocked one costs
/// nothing.
pub trait AddressSpace {
    /// Maps [addr, addr+len) to the memory file at `offset`, with `prot`.
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> std::io::Result<()>;
    fn unmap(&mut self, addr: u64, len: u64) -> std::io::Result<()>;
    /// Changes the protection of [addr, addr+len), which maps the memory file at `offset`.
    fn protect(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> std::io::Result<()>;
    /// Starts the application running with `regs`.
    fn resume(&mut self, regs: &Regs) -> std::io::Result<()>;
    /// The host thread whose wait statuses are this address space's events.
    fn host_tid(&self) -> i32;
    /// Reads a wait status of `host_tid`: the event, with `regs` holding the application's
    /// state, or None when the stop was not the application's (it is running again).
    fn stopped(&mut self, status: i32, regs: &mut Regs) -> std::io::Result<Option<Event>>;
    /// (si_code, si_addr) of the fault that stopped it.
    fn fault_info(&mut self) -> (i32, u64);
    /// The thread's FPU and vector state (XSAVE), kept by the sentry across a signal handler.
    fn fp_state(&mut self) -> std::io::Result<FpRegs>;
    fn set_fp_state(&mut self, f: &FpRegs) -> std::io::Result<()>;
    /// Ends it: the whole address space and every thread in it.
    fn kill(&mut self);
    /// Another thread in this address space (for CLONE_VM|CLONE_THREAD), stopped, ready to be
    /// given registers and resumed.
    fn new_thread(&mut self) -> std::io::Result<Box<dyn AddressSpace>>;
    /// This thread is done; the address space goes on for the others (the host thread may be
    /// kept for the next `new_thread`).
    fn exit_thread(&mut self);
    /// Whether the thread has stopped with an event that no wait status reports (systrap's
    /// traps, found in shared memory); `trap` reads it.
    fn trapped(&self) -> bool {
        false
    }
    fn trap(&mut self, _regs: &mut Regs) -> std::io::Result<Option<Event>> {
        Ok(None)
    }
    /// The call the thread stopped in blocks: a platform whose threads spin for their answer
    /// (systrap) lets this one sleep now. The next `resume` wakes it.
    fn park(&mut self) {}
    /// Whether a SIGURG sent to `host_tid` may be taken by any thread of the address space
    /// (systrap signals the stub process: its threads' own ids are not the sentry's to name).
    fn kicks_process(&self) -> bool {
        false
    }
    /// Whether a call of another ABI (int 0x80) reaches the kernel as no call at all, so the
    /// code before the call need not be read to tell (systrap: the filter reports the ABI).
    fn tells_abi(&self) -> bool {
        false
    }
    /// The registers a fresh thread has (the host's segment selectors), for the loader.
    fn base_regs(&self) -> Regs;
    /// Where a patched call site's trampoline enters the platform without a trap (systrap's
    /// fast entry), for the site of the call the thread stopped in; None: it is not patched
    /// (ptrace, or the call came through a patched site already).
    fn fast_entry(&self) -> Option<u64> {
        None
    }
    /// Stops the running thread (SIGURG) so that a signal can be delivered to it.
    fn kick(&self) {
        let _ = bulkhead_linux::process::kill(self.host_tid(), libc::SIGURG);
    }
    /// Whether a thread of this address space took a kick (SIGURG) meant for the stub while
    /// in the fast path and swallowed it (systrap); clears the news. The kick is sent again.
    fn swallowed_kick(&self) -> bool {
        false
    }
}

/// The host's vDSO and its data pages, kept mapped in every stub (both platforms) and given
/// to the application as AT_SYSINFO_EHDR: clock_gettime, gettimeofday, time and getcpu run in
/// the application's own thread with no trap (the sentry's clocks are the host's). A clock the
/// vDSO cannot read falls back to a `syscall` instruction in the vDSO's code, which traps to
/// the sentry like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vdso {
    /// [start, end): the data pages ([vvar], [vvar_vclock]) and the code ([vdso]).
    pub start: u64,
    pub end: u64,
    /// The vDSO's ELF header.
    pub ehdr: u64,
}

static VDSO: std::sync::OnceLock<Vdso> = std::sync::OnceLock::new();

impl Vdso {
    /// (start, ehdr, end) from the text of /proc/self/maps: the [vdso] line and the data
    /// pages right below it.
    pub fn find_in_maps(maps: &str) -> Option<(u64, u64, u64)> {
        let lines: Vec<(u64, u64, &str)> = maps
            .lines()
            .filter_map(|l| {
                let range = l.split_whitespace().next()?;
                let name = l.split_whitespace().nth(5).unwrap_or("");
                let (a, b) = range.split_once('-')?;
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                    name,
                ))
            })
            .collect();
        let i = lines.iter().position(|l| l.2 == "[vdso]")?;
        let (ehdr, end, _) = lines[i];
        let mut start = ehdr;
        for l in lines[..i].iter().rev() {
            if l.1 != start || !l.2.starts_with("[vvar") {
                break;
            }
            start = l.0;
        }
        Some((start, ehdr, end))
    }

    /// Keeps the vDSO for the sandbox when it is where the auxiliary vector says (this process
    /// was not re-executed since the maps were read) and lies above the stub range.
    pub fn keep(start: u64, ehdr: u64, end: u64) {
        // SAFETY: getauxval takes an integer and has no preconditions.
        let here = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) };
        let above = start >= systrap::layout::STUB_END && end <= ptrace::TASK_SIZE && start < end;
        if here == ehdr && above && start <= ehdr && ehdr < end {
            let _ = VDSO.set(Vdso { start, end, ehdr });
        }
    }

    pub fn get() -> Option<Vdso> {
        VDSO.get().copied()
    }

    /// The ranges above the stub range a fresh stub unmaps: all of it but the vDSO.
    pub fn unmap_above(from: u64) -> [(u64, u64); 2] {
        match Vdso::get() {
            Some(v) => [(from, v.start - from), (v.end, ptrace::TASK_SIZE - v.end)],
            None => [(from, ptrace::TASK_SIZE - from), (ptrace::TASK_SIZE, 0)],
        }
    }
}

/// The call number a platform that tells ABIs apart reports for a call of another ABI.
pub const OTHER_ABI: u64 = u64::MAX - 1;

/// Which platform runs a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Systrap,
    Ptrace,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "systrap" => Some(Kind::Systrap),
            "ptrace" => Some(Kind::Ptrace),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Systrap => "systrap",
            Kind::Ptrace => "ptrace",
        }
    }
}

/// The platform of one sandbox: makes its stubs, and tells the kernel's loop how to sleep.
pub enum Platform {
    Ptrace { mem_fd: i32 },
    Systrap(Rc<systrap::Shared>),
}

impl Platform {
    /// Set up before the sentry confines itself.
    pub fn new(kind: Kind, memory: &Rc<RefCell<crate::mm::Memory>>) -> std::io::Result<Platform> {
        ptrace::install_stub_page()?;
        Ok(match kind {
            Kind::Ptrace => Platform::Ptrace {
                mem_fd: memory.borrow().fd(),
            },
            Kind::Systrap => Platform::Systrap(systrap::Shared::new(memory)?),
        })
    }

    /// A fresh stub: an empty address space with one thread, ready for `resume`.
    pub fn spawn(&self) -> std::io::Result<Box<dyn AddressSpace>> {
        Ok(match self {
            Platform::Ptrace { mem_fd } => Box::new(ptrace::PtraceStub::spawn(*mem_fd)?),
            Platform::Systrap(shared) => Box::new(systrap::spawn(shared)?),
        })
    }

    /// An fd that becomes readable when a stub needs the sleeping sentry (systrap's eventfd).
    pub fn wake_fd(&self) -> Option<i32> {
        match self {
            Platform::Ptrace { .. } => None,
            Platform::Systrap(s) => Some(s.efd()),
        }
    }

    /// The loop is going to sleep (true) or woke (false).
    pub fn sleeping(&self, on: bool) {
        if let Platform::Systrap(s) = self {
            s.set_sleeping(on);
            if !on {
                s.drain();
            }
        }
    }

    /// Whether events come through shared memory (worth spinning for before sleeping).
    pub fn traps(&self) -> bool {
        matches!(self, Platform::Systrap(_))
    }
}
