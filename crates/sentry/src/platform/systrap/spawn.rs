//! A new stub process: forked from the sentry, it maps the global page and its first block,
//! points the trapped signals at the stub's handler, installs the stub filter and jumps into
//! the stub code, which unmaps everything else (the sentry's copy) and traps into its handler
//! to wait for the sentry.

use super::layout::*;
use super::{alloc, filter, stub, Shared, StubProcess, SystrapThread, TRAPPED_SIGNALS};
use crate::platform::ptrace::PAGE;
use bulkhead_linux::process::{self as sys, Forked};
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

/// A fresh stub process with one host thread, waiting in its handler.
pub fn spawn(shared: &Rc<Shared>) -> io::Result<SystrapThread> {
    let (off, ctl) = alloc(&shared.memory, BLOCK)?;
    let prog = filter::program(shared.efd());
    let plan = Plan {
        mem_fd: shared.mem_fd(),
        efd: shared.efd(),
        global_off: shared.global_off,
        block_off: off,
        handler: stub::handler_addr(),
        restorer: stub::restorer_addr(),
        entry: stub::process_start_addr(),
        unmap: crate::platform::Vdso::unmap_above(STUB_END),
    };
    let pid = match sys::clone_fork(0, None) {
        Ok(Forked::Child) => plan.run(&prog),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            shared.memory.borrow().punch_platform(off, BLOCK);
            return Err(e);
        }
    };
    let process = Rc::new(StubProcess {
        shared: shared.clone(),
        pid,
        alive: Cell::new(true),
        blocks: RefCell::new(vec![off]),
        idle: RefCell::new(Vec::new()),
    });
    let mut t = SystrapThread {
        process,
        index: 0,
        ctl,
        fs_base: None,
        gs_base: None,
        base: bulkhead_linux::ptrace::zero_regs(),
        in_frame: [0; 18],
        fast: false,
        alive: true,
    };
    t.born()?;
    Ok(t)
}

/// What the child needs, computed before the fork.
struct Plan {
    mem_fd: i32,
    efd: i32,
    global_off: u64,
    block_off: u64,
    handler: u64,
    restorer: u64,
    entry: u64,
    /// What process_start unmaps above the stub range.
    unmap: [(u64, u64); 2],
}

impl Plan {
    /// In the child: never returns (a failed step exits with its own code, which the sentry
    /// sees as the stub's end).
    fn run(&self, prog: &[bulkhead_linux::seccomp::Insn]) -> ! {
        let _ = sys::set_parent_death_signal(libc::SIGKILL);
        // Its own session: the terminal's signals go to the sentry.
        let _ = sys::setsid();
        if sys::block_all_signals().is_err() {
            sys::exit_now(120);
        }
        // glibc's rseq area is about to be unmapped.
        if sys::rseq_unregister().is_err() {
            sys::exit_now(121);
        }
        if sys::close_all_but_two(self.mem_fd, self.efd).is_err() {
            sys::exit_now(122);
        }
        let ro = libc::PROT_READ;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        if map_fixed(GLOBAL_ADDR, PAGE, ro, self.mem_fd, self.global_off).is_err()
            || map_fixed(BLOCKS_ADDR, BLOCK, rw, self.mem_fd, self.block_off).is_err()
        {
            sys::exit_now(123);
        }
        for sig in TRAPPED_SIGNALS {
            if set_handler(sig, self.handler, self.restorer).is_err() {
                sys::exit_now(124);
            }
        }
        let _ = sys::set_no_new_privs();
        if bulkhead_linux::seccomp::set_filter(prog, 0).is_err() {
            sys::exit_now(125);
        }
        // From here on, a system call from this (the sentry's) code would trap.
        jump(BLOCKS_ADDR + BLOCK - 64, self.entry, self.unmap)
    }
}

fn map_fixed(addr: u64, len: u64, prot: i32, fd: i32, off: u64) -> io::Result<()> {
    // SAFETY: MAP_FIXED at the stub's own reserved addresses, which nothing of this (forked,
    // single-threaded) process uses; the memory is never accessed through Rust references.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len as usize,
            prot,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            off as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kernel's struct sigaction (x86-64).
#[repr(C)]
struct KernelSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

/// Makes the stub code's handler the handler of `sig`: on the thread's signal stack, with
/// everything blocked while it runs.
fn set_handler(sig: i32, handler: u64, restorer: u64) -> io::Result<()> {
    const SA_RESTORER: u64 = 0x0400_0000;
    let sa = KernelSigaction {
        handler,
        flags: (libc::SA_SIGINFO | libc::SA_ONSTACK) as u64 | SA_RESTORER,
        restorer,
        mask: u64::MAX,
    };
    // SAFETY: `sa` is a valid kernel sigaction for the call; the handler address is in the
    // stub code page, mapped at the same address in this process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &sa as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Switches to `stack` and jumps to `entry` in the stub code, with the two ranges it unmaps
/// in r12/r13 and r14/r15; never returns.
fn jump(stack: u64, entry: u64, unmap: [(u64, u64); 2]) -> ! {
    // SAFETY: `entry` is the stub's process_start, which needs only a stack pointer inside
    // block 0 (mapped above) and the ranges, and never returns into this code.
    unsafe {
        std::arch::asm!(
            "mov rsp, {stack}",
            "jmp {entry}",
            stack = in(reg) stack,
            entry = in(reg) entry,
            in("r12") unmap[0].0,
            in("r13") unmap[0].1,
            in("r14") unmap[1].0,
            in("r15") unmap[1].1,
            options(noreturn)
        )
    }
}
