//! The ptrace platform. Each address space is a stub process forked from the sentry that has
//! unmapped everything but one code page; the application runs in it under PTRACE_SYSEMU, so
//! each of its system calls stops the stub and is never run by the host kernel. Memory changes
//! are made by having the stub execute a host call from its code page (`syscall; int3`).

use super::{AddressSpace, Event, FpRegs, Regs};
use bulkhead_linux::process::{self as sys, Forked};
use bulkhead_linux::ptrace::{self as pt, Stop};
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

/// Where the stub's code page lives, in every stub and in the sentry. Applications never get
/// this page: the memory manager keeps it reserved.
pub const STUB_ADDR: u64 = 0x6fff_ffff_0000;
pub const PAGE: u64 = 4096;
/// The top of the user address space on x86-64 with 4-level page tables.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;
/// `syscall; int3`
const STUB_CODE: [u8; 3] = [0x0f, 0x05, 0xcc];

/// The flags of the host clone a stub makes for another application thread.
pub const THREAD_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM) as u64;

/// One stub process: its leader's pid, the host threads made in it, those free for reuse.
/// Dropped with the last thread handle: the process is killed and every thread reaped.
struct StubProcess {
    pid: i32,
    alive: Cell<bool>,
    /// Threads other than the leader, reaped before it (a traced leader's exit is reported
    /// only after its threads').
    threads: RefCell<Vec<i32>>,
    /// Host threads whose application thread exited, parked in a system-call stop.
    idle: RefCell<Vec<i32>>,
}

impl StubProcess {
    fn kill(&self) {
        if self.alive.replace(false) {
            let _ = sys::kill(self.pid, libc::SIGKILL);
            let mut left = self.threads.borrow().clone();
            left.push(self.pid);
            reap_all(left);
        }
    }
}

/// Reaps the killed host threads of one stub, in whatever order they end. Not one blocking
/// wait per thread: the stub is pid 1 of its own pid namespace, and the thread of it that
/// ends last waits for the others to be reaped first, so a fixed order can deadlock. The
/// leader is reported last of all. Polls each thread and naps 1 ms when none has ended.
fn reap_all(mut left: Vec<i32>) {
    while !left.is_empty() {
        let before = left.len();
        left.retain(
            |&tid| match bulkhead_linux::process::try_waitpid_status(tid, libc::__WALL) {
                Ok(Some(status)) => !(libc::WIFEXITED(status) || libc::WIFSIGNALED(status)),
                Ok(None) => true,
                Err(_) => false, // ECHILD: reaped already
            },
        );
        if left.len() == before {
            let _ = crate::host::poll(&mut [], 1);
        }
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One application thread: a host thread of a stub process, traced by the sentry.
pub struct PtraceStub {
    pid: i32,
    process: Rc<StubProcess>,
    mem_fd: i32,
    /// Registers the stub had when it stopped: segment registers are taken from them.
    base: Regs,
    alive: bool,
}

/// Maps the stub code page into the sentry (once): every stub inherits it by fork. Done before
/// the sentry confines itself, which forbids executable mappings.
pub fn install_stub_page() -> io::Result<()> {
    static DONE: std::sync::OnceLock<Result<(), i32>> = std::sync::OnceLock::new();
    let done = *DONE.get_or_init(|| {
        // ptrace's two instructions at the start, the systrap stub after them.
        let sys = super::systrap::stub::code();
        let at = super::systrap::stub::CODE_OFF as usize;
        let mut page = vec![0u8; at + sys.len()];
        page[..STUB_CODE.len()].copy_from_slice(&STUB_CODE);
        page[at..].copy_from_slice(sys);
        bulkhead_linux::mem_code_page(STUB_ADDR, &page)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    });
    done.map_err(io::Error::from_raw_os_error)
}

impl PtraceStub {
    /// Forks a stub and empties its address space. `mem_fd` is the memory file's fd, which the
    /// stub inherits under the same number.
    pub fn spawn(mem_fd: i32) -> io::Result<PtraceStub> {
        install_stub_page()?;
        match sys::clone_fork(0, None)? {
            Forked::Child => {
                // In the stub: be traced, die with the sentry, stop; the tracer takes over from
                // here and never lets this code run again.
                let _ = sys::set_parent_death_signal(libc::SIGKILL);
                // Its own session: the terminal's signals (SIGWINCH, SIGINT) go to the sentry.
                let _ = sys::setsid();
                if sys::rseq_unregister().is_err() {
                    sys::exit_now(126);
                }
                // Nothing of the sentry's but the memory file: a stub holding a copy of a pipe
                // or a socket the sentry has (an exec'd process's stdout) would keep it open
                // as long as the stub lives.
                if sys::close_all_but(mem_fd).is_err() {
                    sys::exit_now(125);
                }
                let _ = pt::trace_me();
                let _ = sys::kill(std::process::id() as i32, libc::SIGSTOP);
                sys::exit_now(127)
            }
            Forked::Parent(pid) => {
                let mut stub = PtraceStub {
                    pid,
                    process: Rc::new(StubProcess {
                        pid,
                        alive: Cell::new(true),
                        threads: RefCell::new(Vec::new()),
                        idle: RefCell::new(Vec::new()),
                    }),
                    mem_fd,
                    base: unsafe_zero_regs(),
                    alive: true,
                };
                match pt::wait(pid)? {
                    Stop::Signal(libc::SIGSTOP) => {}
                    other => return Err(io::Error::other(format!("stub did not stop: {other:?}"))),
                }
                pt::set_options(pid)?;
                stub.base = pt::get_regs(pid)?;
                // Empty the address space around the stub page (and the host's vDSO).
                let end = super::systrap::layout::STUB_END;
                stub.inject(libc::SYS_munmap, [0, STUB_ADDR, 0, 0, 0, 0])?;
                stub.inject(
                    libc::SYS_munmap,
                    [STUB_ADDR + PAGE, end - STUB_ADDR - PAGE, 0, 0, 0, 0],
                )?;
                for (at, len) in super::Vdso::unmap_above(end) {
                    if len > 0 {
                        stub.inject(libc::SYS_munmap, [at, len, 0, 0, 0, 0])?;
                    }
                }
                Ok(stub)
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Runs host call `nr` in the stub; returns its raw result (negative errno on failure).
    pub fn inject(&mut self, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        self.inject_seen(nr, args).map(|(r, _)| r)
    }

    /// inject, also answering the id of the thread the call made (from its clone event stop:
    /// the call's own result numbers it in the stub's pid namespace, not the sentry's).
    fn inject_seen(&mut self, nr: i64, args: [u64; 6]) -> io::Result<(i64, Option<i32>)> {
        let mut born = None;
        let mut r = self.base;
        r.rax = nr as u64;
        r.orig_rax = u64::MAX;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.rip = STUB_ADDR;
        pt::set_regs(self.pid, &r)?;
        pt::cont(self.pid, 0)?;
        let mut stop = pt::wait(self.pid)?;
        // A signal from outside (not the int3) is not the stub's business: drop it, go on; so
        // is the event stop of a clone it makes.
        loop {
            match stop {
                Stop::Signal(sig) if sig != libc::SIGTRAP && !is_fault(sig) => {}
                Stop::Event(libc::PTRACE_EVENT_CLONE) => {
                    born = Some(pt::event_msg(self.pid)? as i32);
                }
                Stop::Event(_) => {}
                _ => break,
            }
            pt::cont(self.pid, 0)?;
            stop = pt::wait(self.pid)?;
        }
        match stop {
            Stop::Signal(libc::SIGTRAP) => Ok((pt::get_regs(self.pid)?.rax as i64, born)),
            other => {
                self.alive = false;
                Err(io::Error::other(format!(
                    "stub failed a host call: {other:?}"
                )))
            }
        }
    }

    fn check(res: i64) -> io::Result<()> {
        if res < 0 {
            Err(io::Error::from_raw_os_error(-res as i32))
        } else {
            Ok(())
        }
    }
}

/// Signals the application's own instructions raise (a fault the sentry must handle).
fn is_fault(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP | libc::SIGSYS
    )
}

/// All-zero registers (plain data).
fn unsafe_zero_regs() -> Regs {
    bulkhead_linux::ptrace::zero_regs()
}

impl AddressSpace for PtraceStub {
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> io::Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let r = self.inject(
            libc::SYS_mmap,
            [addr, len, prot as u64, flags, self.mem_fd as u64, offset],
        )?;
        Self::check(r)
    }

    fn unmap(&mut self, addr: u64, len: u64) -> io::Result<()> {
        let r = self.inject(libc::SYS_munmap, [addr, len, 0, 0, 0, 0])?;
        Self::check(r)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> io::Result<()> {
        // Mapping the same file range again with the new protection, rather than mprotect:
        // the sentry's seccomp filter (which stubs inherit) allows executable mappings only of
        // the memory file, and no executable mprotect at all.
        self.map(addr, len, prot, offset)
    }

    fn resume(&mut self, regs: &Regs) -> io::Result<()> {
        let mut r = *regs;
        // Segment selectors are the host's; only fs_base/gs_base are the application's.
        r.cs = self.base.cs;
        r.ss = self.base.ss;
        r.ds = self.base.ds;
        r.es = self.base.es;
        r.fs = self.base.fs;
        r.gs = self.base.gs;
        pt::set_regs(self.pid, &r)?;
        pt::sysemu(self.pid, 0)
    }

    fn host_tid(&self) -> i32 {
        self.pid
    }

    fn stopped(&mut self, status: i32, regs: &mut Regs) -> io::Result<Option<Event>> {
        let Some(stop) = pt::decode(status) else {
            return Ok(None);
        };
        let event = match stop {
            Stop::Exited(c) => {
                self.alive = false;
                return Ok(Some(Event::Gone(c)));
            }
            Stop::Killed(s) => {
                self.alive = false;
                return Ok(Some(Event::Gone(128 + s)));
            }
            Stop::Syscall => Event::Syscall,
            Stop::Signal(s) if is_fault(s) => Event::Fault(s),
            // Any other host signal (the kernel's SIGURG that stops a running task) is not the
            // application's: it is dropped when the task is resumed.
            Stop::Signal(_) | Stop::Event(_) => Event::Interrupted,
        };
        *regs = pt::get_regs(self.pid)?;
        Ok(Some(event))
    }

    fn fault_info(&mut self) -> (i32, u64) {
        pt::siginfo(self.pid)
            .map(|(_, code, addr)| (code, addr))
            .unwrap_or((0, 0))
    }

    fn fp_state(&mut self) -> io::Result<FpRegs> {
        pt::get_fpregs(self.pid)
    }

    fn set_fp_state(&mut self, f: &FpRegs) -> io::Result<()> {
        pt::set_fpregs(self.pid, f)
    }

    fn kill(&mut self) {
        self.alive = false;
        self.process.kill();
    }

    fn kick(&self) {
        // To this thread: kill() with a thread's id signals its whole group, and a stop of
        // another thread would leave this one running.
        let _ = bulkhead_linux::process::tgkill(self.process.pid, self.pid, libc::SIGURG);
    }

    fn new_thread(&mut self) -> io::Result<Box<dyn AddressSpace>> {
        let reused = self.process.idle.borrow_mut().pop();
        let tid = match reused {
            Some(tid) => tid,
            None => {
                let (r, born) = self.inject_seen(libc::SYS_clone, [THREAD_FLAGS, 0, 0, 0, 0, 0])?;
                if r < 0 {
                    return Err(io::Error::from_raw_os_error(-r as i32));
                }
                let tid = born.ok_or_else(|| io::Error::other("stub clone made no event"))?;
                self.process.threads.borrow_mut().push(tid);
                // Traced from birth (PTRACE_O_TRACECLONE), it starts with a SIGSTOP stop.
                match pt::wait(tid)? {
                    Stop::Signal(libc::SIGSTOP) => {}
                    other => {
                        return Err(io::Error::other(format!(
                            "stub thread did not stop: {other:?}"
                        )))
                    }
                }
                tid
            }
        };
        Ok(Box::new(PtraceStub {
            pid: tid,
            process: self.process.clone(),
            mem_fd: self.mem_fd,
            base: self.base,
            alive: true,
        }))
    }

    fn base_regs(&self) -> Regs {
        self.base
    }

    fn exit_thread(&mut self) {
        // Parked where it is (stopped by the sentry), for the next thread of this process.
        if self.alive && self.process.alive.get() {
            self.process.idle.borrow_mut().push(self.pid);
        }
        self.alive = false;
    }
}
