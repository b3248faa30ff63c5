//! The fast platform: the application runs in stub processes whose threads trap every system
//! call with seccomp (SECCOMP_RET_TRAP) instead of stopping under ptrace. A signal handler in
//! the stub code page (stub.rs) leaves the application's registers where the sentry can read
//! them (the signal frame on a stack in memory both share), marks its block TRAPPED and waits;
//! the sentry serves the call, writes the answer into the frame and says RESUME; the handler's
//! rt_sigreturn carries the application on. Faults and the sentry's SIGURG take the same path.
//! Address-space changes are host calls the sentry asks a waiting stub thread to make (CALL).
//!
//! Nothing here trusts the shared memory: the application can write it (it is mapped in its
//! address space), so every pointer read from it is checked to lie in the block it came from,
//! and a block in a state the sentry did not expect is treated as not trapped.

mod filter;
pub mod layout;
mod spawn;
pub mod stub;

use super::ptrace::PAGE;
use super::{AddressSpace, Event, FpRegs, Regs};
use crate::mm::Memory;
use bulkhead_linux::shm::Region;
use layout::*;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use spawn::spawn;

/// What all stubs of a sandbox share with the sentry: the memory file, the eventfd a trapping
/// thread wakes a sleeping sentry with, and the global page.
pub struct Shared {
    memory: Rc<RefCell<Memory>>,
    efd: OwnedFd,
    global: Region,
    global_off: u64,
    /// rdfsbase/rdgsbase work in user space: the handler leaves the live fs/gs base in the
    /// block at every trap.
    fsgsbase: bool,
}

/// How long the sentry waits for a stub to answer a host call or to start before it gives up
/// on the stub (it was killed, or the application broke its control block).
const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

impl Shared {
    /// Made before the sentry confines itself (the eventfd cannot be made after).
    pub fn new(memory: &Rc<RefCell<Memory>>) -> io::Result<Rc<Shared>> {
        let efd = bulkhead_linux::fd::eventfd_nonblocking()?;
        let (global_off, global) = alloc(memory, PAGE)?;
        global.set(G_ONE, 1);
        if let Some(w) = global.word(G_EFD) {
            w.store(efd.as_raw_fd() as u32, Ordering::SeqCst);
        }
        global.set(G_MASK, stub_mask());
        let fsgsbase = bulkhead_linux::process::hwcap2() & 2 != 0;
        if let Some(w) = global.word(G_FSGSBASE) {
            w.store(u32::from(fsgsbase), Ordering::SeqCst);
        }
        Ok(Rc::new(Shared {
            memory: memory.clone(),
            efd,
            global,
            global_off,
            fsgsbase,
        }))
    }

    pub fn efd(&self) -> i32 {
        self.efd.as_raw_fd()
    }

    fn mem_fd(&self) -> i32 {
        self.memory.borrow().fd()
    }

    /// The sentry is about to sleep (true) or is awake (false). A thread that traps while the
    /// flag is set writes the eventfd, which the sentry's poll watches.
    pub fn set_sleeping(&self, on: bool) {
        if let Some(w) = self.global.word(G_SLEEPING) {
            w.store(u32::from(on), Ordering::SeqCst);
        }
    }

    /// Sleeps (at most `ms`) until a trapping thread writes the eventfd, unless `ready` holds
    /// once the sentry has said it sleeps.
    fn sleep_until(&self, ready: impl Fn() -> bool, ms: i32) {
        self.set_sleeping(true);
        if !ready() {
            let mut fds = [libc::pollfd {
                fd: self.efd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let _ = crate::host::poll(&mut fds, ms);
        }
        self.set_sleeping(false);
        self.drain();
    }

    /// Empties the eventfd after a wake-up.
    pub fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = crate::host::read(self.efd(), &mut buf);
    }
}

/// A range of the memory file for the platform, and the sentry's view of it.
fn alloc(memory: &Rc<RefCell<Memory>>, len: u64) -> io::Result<(u64, Region)> {
    let mut m = memory.borrow_mut();
    let off = m
        .alloc_platform(len)
        .map_err(io::Error::from_raw_os_error)?;
    let region = m.region(off, len)?;
    Ok((off, region))
}

/// The signal mask stub threads run the application with: everything blocked but the
/// signals that make a thread trap (the filter's SIGSYS, faults, the sentry's SIGURG).
fn stub_mask() -> u64 {
    let mut mask = u64::MAX;
    for s in TRAPPED_SIGNALS {
        mask &= !(1u64 << (s - 1));
    }
    mask
}

/// The signals whose handler is the stub's.
pub const TRAPPED_SIGNALS: [i32; 7] = [
    libc::SIGSYS,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGURG,
];

/// One stub process: its pid (in the sentry's pid namespace), its threads' blocks, the blocks
/// whose thread is parked for reuse. Dropped with the last thread handle: the process is
/// killed and reaped, its blocks given back.
struct StubProcess {
    shared: Rc<Shared>,
    pid: i32,
    alive: Cell<bool>,
    /// Memory-file offset of each block, by index.
    blocks: RefCell<Vec<u64>>,
    idle: RefCell<Vec<usize>>,
}

impl StubProcess {
    fn kill(&self) {
        if self.alive.replace(false) {
            let _ = bulkhead_linux::process::kill(self.pid, libc::SIGKILL);
            // Not traced: only the process is reported, once all its threads are gone.
            let _ = bulkhead_linux::process::waitpid_status(self.pid, libc::__WALL);
        }
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        self.kill();
        let m = self.shared.memory.borrow();
        for off in self.blocks.borrow().iter() {
            m.punch_platform(*off, BLOCK);
        }
    }
}

/// One application thread: a host thread of a stub process and its block.
pub struct SystrapThread {
    process: Rc<StubProcess>,
    index: usize,
    ctl: Region,
    /// The fs and gs base the host thread has, where known (None: set it at the next resume).
    fs_base: Option<u64>,
    gs_base: Option<u64>,
    /// Segment selectors, as the kernel gave them at the first trap.
    base: Regs,
    /// The general registers as the frame holds them (read at the last trap or written at
    /// the last resume): a resume writes only those that changed, so the cache lines of the
    /// frame that the sentry did not change stay with the stub's CPU.
    in_frame: [u64; 18],
    /// The thread is stopped in a fast call (from a patched site): its registers are in the
    /// block's C_FREGS rather than in a signal frame, and its FPU state is still in the CPU.
    fast: bool,
    alive: bool,
}

fn block_addr(index: usize) -> u64 {
    BLOCKS_ADDR + index as u64 * BLOCK
}

impl SystrapThread {
    fn state(&self) -> &AtomicU32 {
        // C_STATE is aligned and inside every block: `word` cannot fail for it.
        static NONE: AtomicU32 = AtomicU32::new(u32::MAX);
        self.ctl.word(C_STATE).unwrap_or(&NONE)
    }

    fn word(&self, off: usize) -> u32 {
        self.ctl.word(off).map_or(0, |w| w.load(Ordering::Acquire))
    }

    /// Hands the thread a command (RESUME or CALL) and wakes it if it sleeps.
    fn command(&self, st: u32) {
        self.state().store(st, Ordering::SeqCst);
        if self.word(C_WAITING) != 0 {
            crate::host::futex_wake_shared(self.state(), 1);
        }
    }

    /// Waits until the block's state is `want`: spinning at first, then asleep until the
    /// thread wakes the sentry (a trap writes the eventfd while the sentry says it sleeps; a
    /// finished CALL wakes the state's futex).
    fn wait_state(&self, want: u32) -> io::Result<()> {
        let start = Instant::now();
        let mut n = 0u32;
        loop {
            let st = self.state().load(Ordering::Acquire);
            if st == want {
                return Ok(());
            }
            n += 1;
            if n < 2000 {
                std::hint::spin_loop();
            } else if start.elapsed() > ANSWER_DEADLINE || !self.process.alive.get() {
                return Err(io::Error::other(format!(
                    "stub {} did not answer (state {st})",
                    self.process.pid
                )));
            } else if want == ST_DONE {
                crate::host::futex_wait_shared(self.state(), st, Duration::from_millis(10));
            } else {
                let state = self.state();
                self.process
                    .shared
                    .sleep_until(|| state.load(Ordering::Acquire) == want, 10);
            }
        }
    }

    /// A new thread's first trap (its int3): take its fs/gs base and selectors.
    fn born(&mut self) -> io::Result<()> {
        self.wait_state(ST_TRAPPED)?;
        let mut r = bulkhead_linux::ptrace::zero_regs();
        self.read_regs(&mut r)?;
        self.base = r;
        Ok(())
    }

    /// Has the host call `nr` made by the (waiting) thread; its raw result.
    fn call(&mut self, nr: i64, args: [u64; 6]) -> io::Result<i64> {
        if !self.alive {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        self.ctl.set(C_NR, nr as u64);
        for (i, a) in args.iter().enumerate() {
            self.ctl.set(C_ARGS + 8 * i, *a);
        }
        self.command(ST_CALL);
        if let Err(e) = self.wait_state(ST_DONE) {
            self.alive = false;
            self.process.kill();
            return Err(e);
        }
        Ok(self.ctl.get(C_RET) as i64)
    }

    fn check(res: i64) -> io::Result<()> {
        if res < 0 {
            Err(io::Error::from_raw_os_error(-res as i32))
        } else {
            Ok(())
        }
    }

    /// The block offset of stub address `addr` holding `len` bytes, if it lies in this block.
    fn in_block(&self, addr: u64, len: u64) -> Option<usize> {
        let base = block_addr(self.index);
        let off = addr.checked_sub(base)?;
        (off.checked_add(len)? <= BLOCK).then_some(off as usize)
    }

    /// Where the kernel saved the application's general registers (struct sigcontext).
    fn sigcontext(&self) -> io::Result<usize> {
        const UC_MCONTEXT: u64 = 40;
        self.in_block(self.ctl.get(C_CTX).wrapping_add(UC_MCONTEXT), SC_SIZE)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))
    }

    /// The registers of the thread's last trap (and its live fs/gs base where the handler
    /// could read them).
    fn read_regs(&mut self, r: &mut Regs) -> io::Result<()> {
        if self.process.shared.fsgsbase {
            self.fs_base = Some(self.ctl.get(C_FS));
            if !self.fast {
                self.gs_base = Some(self.ctl.get(C_GS));
            }
        }
        let sc = self.gregs()?;
        for i in 0..self.in_frame.len() {
            self.in_frame[i] = self.ctl.get(self.greg_off(sc, i));
        }
        crate::signals::set_from_sigcontext(r, &self.in_frame);
        if self.fast {
            (r.cs, r.gs, r.fs, r.ss) = (self.base.cs, self.base.gs, self.base.fs, self.base.ss);
        } else {
            let segs = self.ctl.get(sc + 8 * 18);
            r.cs = segs & 0xffff;
            r.gs = (segs >> 16) & 0xffff;
            r.fs = (segs >> 32) & 0xffff;
            r.ss = (segs >> 48) & 0xffff;
        }
        r.orig_rax = u64::MAX;
        r.fs_base = self.fs_base.unwrap_or(0);
        // The thread's own block is the gs base the application knows as 0 (stub.rs sets it
        // at the thread's start for the fast entry).
        r.gs_base = self
            .gs_base
            .filter(|g| *g != block_addr(self.index))
            .unwrap_or(0);
        Ok(())
    }

    /// The gs base the host thread gets for the application's `gs`: its block for 0.
    fn host_gs(&self, gs: u64) -> u64 {
        if gs == 0 {
            block_addr(self.index)
        } else {
            gs
        }
    }

    /// Where general register `i` (sigcontext order) is, with the registers at `sc`: a fast
    /// call's rax is kept apart, in the state's cache line (C_FRAX).
    fn greg_off(&self, sc: usize, i: usize) -> usize {
        if self.fast && i == G_RAX {
            C_FRAX
        } else {
            sc + 8 * i
        }
    }

    /// Where the general registers of the current stop are: the fast area (a fast call) or
    /// the signal frame's sigcontext.
    fn gregs(&self) -> io::Result<usize> {
        if self.fast {
            Ok(C_FREGS)
        } else {
            self.sigcontext()
        }
    }

    /// Moves a thread stopped in a fast call onto the trap path, for what only a signal frame
    /// holds (the FPU state) or only the trap path can change (the gs base): the tail
    /// restores the call's registers and jumps to the stub's int3, whose trap leaves the
    /// whole state in a frame; the frame then gets the registers the sentry holds (the rip
    /// of the call's return, not the int3's).
    fn sync(&mut self) -> io::Result<()> {
        if !self.fast || !self.alive {
            return Ok(());
        }
        let regs = self.in_frame;
        self.ctl.set(C_FREGS + 8 * G_RIP, stub::sync_addr());
        self.fast = false;
        self.command(ST_FAST_RESUME);
        if let Err(e) = self.wait_state(ST_TRAPPED) {
            self.alive = false;
            self.process.kill();
            return Err(e);
        }
        if self.process.shared.fsgsbase {
            self.fs_base = Some(self.ctl.get(C_FS));
            self.gs_base = Some(self.ctl.get(C_GS));
        }
        let sc = self.sigcontext()?;
        for (i, v) in regs.iter().enumerate() {
            self.ctl.set(sc + 8 * i, *v);
        }
        self.in_frame = regs;
        Ok(())
    }

    fn write_regs(&mut self, r: &Regs) -> io::Result<()> {
        if self.fast && self.gs_base != Some(self.host_gs(r.gs_base)) {
            self.sync()?;
        }
        let sc = self.gregs()?;
        let vals = crate::signals::sigcontext_gregs(r);
        for (i, v) in vals.iter().enumerate() {
            if self.in_frame[i] != *v {
                self.ctl.set(self.greg_off(sc, i), *v);
                self.in_frame[i] = *v;
            }
        }
        let mut flags = 0;
        if self.fs_base != Some(r.fs_base) {
            self.ctl.set(C_FS, r.fs_base);
            self.fs_base = Some(r.fs_base);
            flags |= F_SET_FS;
        }
        let gs = self.host_gs(r.gs_base);
        if self.gs_base != Some(gs) {
            self.ctl.set(C_GS, gs);
            self.gs_base = Some(gs);
            flags |= F_SET_GS;
        }
        // The handler clears the flags after it applies them: storing a 0 would only pull the
        // state's cache line away from the thread that spins on it.
        if flags != 0 {
            if let Some(w) = self.ctl.word(C_FLAGS) {
                w.store(flags, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Where the kernel saved the FPU state (the XSAVE area the sigcontext points at), and
    /// its size.
    fn fp_area(&self) -> io::Result<(usize, usize)> {
        const FPSTATE: usize = 8 * 23;
        const FP_XSTATE_MAGIC1: u64 = 0x4650_5853;
        let sc = self.sigcontext()?;
        let ptr = self.ctl.get(sc + FPSTATE);
        let fx = self
            .in_block(ptr, 512)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
        // struct _fpx_sw_bytes in the FXSAVE area's software-reserved bytes.
        let sw = self.ctl.get(fx + 464);
        let size = if sw & 0xffff_ffff == FP_XSTATE_MAGIC1 {
            (self.ctl.get(fx + 464 + 16) & 0xffff_ffff) as usize
        } else {
            512
        };
        match self.in_block(ptr, size as u64) {
            Some(at) => Ok((at, size)),
            None => Ok((fx, 512)),
        }
    }

    /// Whether the thread waits with a trap or a fast call for the sentry.
    fn is_trapped(&self) -> bool {
        matches!(
            self.state().load(Ordering::Acquire),
            ST_TRAPPED | ST_FASTCALL
        )
    }
}

/// struct sigcontext's size (x86-64).
const SC_SIZE: u64 = 256;

impl AddressSpace for SystrapThread {
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> io::Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let fd = self.process.shared.mem_fd() as u64;
        let r = self.call(libc::SYS_mmap, [addr, len, prot as u64, flags, fd, offset])?;
        Self::check(r)
    }

    fn unmap(&mut self, addr: u64, len: u64) -> io::Result<()> {
        let r = self.call(libc::SYS_munmap, [addr, len, 0, 0, 0, 0])?;
        Self::check(r)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> io::Result<()> {
        // As on ptrace: mapped again with the new protection (no executable mprotect).
        self.map(addr, len, prot, offset)
    }

    fn resume(&mut self, regs: &Regs) -> io::Result<()> {
        if !self.alive {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        self.write_regs(regs)?;
        let fast = std::mem::replace(&mut self.fast, false);
        self.command(if fast { ST_FAST_RESUME } else { ST_RESUME });
        Ok(())
    }

    fn host_tid(&self) -> i32 {
        self.process.pid
    }

    fn stopped(&mut self, status: i32, _regs: &mut Regs) -> io::Result<Option<Event>> {
        // Untraced: the only wait statuses are the whole stub's end.
        if libc::WIFEXITED(status) {
            self.alive = false;
            return Ok(Some(Event::Gone(libc::WEXITSTATUS(status))));
        }
        if libc::WIFSIGNALED(status) {
            self.alive = false;
            return Ok(Some(Event::Gone(128 + libc::WTERMSIG(status))));
        }
        Ok(None)
    }

    fn trapped(&self) -> bool {
        self.alive && self.is_trapped()
    }

    fn trap(&mut self, regs: &mut Regs) -> io::Result<Option<Event>> {
        let st = self.state().load(Ordering::Acquire);
        if st == ST_FASTCALL {
            // A call from a patched site: always the x86-64 ABI; rax held the number.
            self.fast = true;
            self.read_regs(regs)?;
            regs.orig_rax = self.in_frame[G_RAX];
            regs.rax = (-libc::ENOSYS) as i64 as u64;
            return Ok(Some(Event::Syscall));
        }
        if st != ST_TRAPPED {
            return Ok(None);
        }
        self.fast = false;
        self.read_regs(regs)?;
        let sig = self.word(C_SIGNO) as i32;
        let info = self.ctl.get(C_INFO);
        let event = match sig {
            libc::SIGSYS => {
                // siginfo: si_code at 8, si_syscall at 24, si_arch at 28.
                let code = self.siginfo_word(info, 8);
                if code != 1 {
                    Event::Interrupted // not the filter's (SYS_SECCOMP)
                } else {
                    let nr = self.siginfo_word(info, 24) as i32;
                    let arch = self.siginfo_word(info, 28);
                    regs.orig_rax = if arch == 0xc000_003e {
                        nr as i64 as u64
                    } else {
                        super::OTHER_ABI
                    };
                    Event::Syscall
                }
            }
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP => {
                Event::Fault(sig)
            }
            _ => Event::Interrupted,
        };
        Ok(Some(event))
    }

    fn park(&mut self) {
        // Only a thread that waits with its call: the state is the sentry's to change then.
        let _ =
            self.state()
                .compare_exchange(ST_TRAPPED, ST_PARK, Ordering::SeqCst, Ordering::Acquire);
        let _ = self.state().compare_exchange(
            ST_FASTCALL,
            ST_PARK,
            Ordering::SeqCst,
            Ordering::Acquire,
        );
    }

    fn kicks_process(&self) -> bool {
        true
    }

    fn tells_abi(&self) -> bool {
        true
    }

    fn base_regs(&self) -> Regs {
        self.base
    }

    fn fast_entry(&self) -> Option<u64> {
        // A fast call came from a site that is patched already.
        (!self.fast).then(stub::fast_entry_addr)
    }

    fn swallowed_kick(&self) -> bool {
        let m = self.process.shared.memory.borrow();
        let mut any = false;
        for off in self.process.blocks.borrow().iter() {
            if let Ok(w) = m.file.word((off + C_KICK as u64) as usize) {
                any |= w.swap(0, Ordering::AcqRel) != 0;
            }
        }
        any
    }

    fn fault_info(&mut self) -> (i32, u64) {
        let info = self.ctl.get(C_INFO);
        let code = self.siginfo_word(info, 8) as i32;
        let addr = self
            .in_block(info.wrapping_add(16), 8)
            .map_or(0, |o| self.ctl.get(o));
        (code, addr)
    }

    fn fp_state(&mut self) -> io::Result<FpRegs> {
        self.sync()?;
        let (at, size) = self.fp_area()?;
        let mut buf = vec![0u8; size];
        self.ctl.read(at, &mut buf);
        Ok(FpRegs::Xstate(buf))
    }

    fn set_fp_state(&mut self, f: &FpRegs) -> io::Result<()> {
        self.sync()?;
        let (at, size) = self.fp_area()?;
        match f {
            FpRegs::Xstate(buf) => {
                // The software-reserved bytes (464..512) describe this frame: kept.
                let n = buf.len().min(size);
                self.ctl.write(at, &buf[..n.min(464)]);
                if n > 512 {
                    self.ctl.write(at + 512, &buf[512..n]);
                }
            }
            FpRegs::Fxsave(fx) => {
                let bytes = fxsave_bytes(fx);
                self.ctl.write(at, &bytes[..464]);
            }
        }
        Ok(())
    }

    fn kill(&mut self) {
        self.alive = false;
        self.process.kill();
    }

    fn new_thread(&mut self) -> io::Result<Box<dyn AddressSpace>> {
        let reused = self.process.idle.borrow_mut().pop();
        let index = match reused {
            Some(i) => i,
            None => self.clone_host_thread()?,
        };
        let off = self.process.blocks.borrow()[index];
        let ctl = self.process.shared.memory.borrow().region(off, BLOCK)?;
        let mut t = SystrapThread {
            process: self.process.clone(),
            index,
            ctl,
            fs_base: None,
            gs_base: None,
            base: self.base,
            in_frame: [0; 18],
            fast: false,
            alive: true,
        };
        if reused.is_none() {
            t.born()?;
        } else {
            // The parked thread's frame is its last trap's: know what it holds.
            let mut scratch = self.base;
            t.read_regs(&mut scratch)?;
        }
        Ok(Box::new(t))
    }

    fn exit_thread(&mut self) {
        // Parked in its handler, for the next thread of this process (a thread that ended in
        // a fast call is moved to its handler first).
        if self.fast && self.sync().is_err() {
            return;
        }
        if self.alive && self.process.alive.get() {
            self.process.idle.borrow_mut().push(self.index);
        }
        self.alive = false;
    }
}

impl SystrapThread {
    fn siginfo_word(&self, info: u64, off: u64) -> u32 {
        let mut b = [0u8; 4];
        match self.in_block(info.wrapping_add(off), 4) {
            Some(o) if self.ctl.read(o, &mut b) => u32::from_ne_bytes(b),
            _ => 0,
        }
    }

    /// A new host thread in this stub (made by this waiting thread with a CALL clone), with a
    /// block of its own; returns the block's index.
    fn clone_host_thread(&mut self) -> io::Result<usize> {
        let index = self.process.blocks.borrow().len();
        if index as u64 >= MAX_THREADS {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        let (off, _) = alloc(&self.process.shared.memory, BLOCK)?;
        self.process.blocks.borrow_mut().push(off);
        let addr = block_addr(index);
        let fd = self.process.shared.mem_fd() as u64;
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        Self::check(self.call(libc::SYS_mmap, [addr, BLOCK, prot, flags, fd, off])?)?;
        let stack = addr + BLOCK - 64;
        let r = self.call(
            libc::SYS_clone,
            [super::ptrace::THREAD_FLAGS, stack, 0, 0, 0, 0],
        )?;
        Self::check(r)?;
        Ok(index)
    }
}

/// The FXSAVE area's bytes.
fn fxsave_bytes(fx: &libc::user_fpregs_struct) -> [u8; 512] {
    const _: () = assert!(std::mem::size_of::<libc::user_fpregs_struct>() == 512);
    // SAFETY: user_fpregs_struct is 512 bytes of plain integers (checked above); any byte
    // pattern read from it is a valid [u8; 512].
    unsafe { std::mem::transmute_copy(fx) }
}
