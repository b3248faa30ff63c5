//! ptrace, for the sentry's debug platform: stop a stub at every system call (PTRACE_SYSEMU, so
//! the host kernel never runs the application's calls), read and write its registers, and make
//! it run a host call on the sentry's behalf.

use crate::cvt;
use std::io;

pub type Regs = libc::user_regs_struct;

fn ptrace(req: libc::c_uint, pid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: every request used here passes integers or a pointer to a Regs, an FpRegs area
    // or an iovec over a buffer that the caller owns for the duration of the call
    // (GETREGS/SETREGS, GETFPREGS/SETFPREGS, GETREGSET/SETREGSET of NT_X86_XSTATE, whose
    // iovec length bounds what the kernel writes).
    cvt(unsafe { libc::ptrace(req, pid, addr, data) })
}

/// In the child: ask to be traced by the parent.
pub fn trace_me() -> io::Result<()> {
    ptrace(libc::PTRACE_TRACEME, 0, 0, 0).map(|_| ())
}

/// Tracer options: mark syscall stops (TRACESYSGOOD), kill the tracee if the tracer dies, and
/// trace the threads it clones (the sentry makes a stub's threads that way).
pub fn set_options(pid: i32) -> io::Result<()> {
    let opts = libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACECLONE;
    ptrace(libc::PTRACE_SETOPTIONS, pid, 0, opts as usize).map(|_| ())
}

pub fn get_regs(pid: i32) -> io::Result<Regs> {
    // SAFETY: Regs is plain data that GETREGS fills completely.
    let mut r: Regs = unsafe { std::mem::zeroed() };
    ptrace(libc::PTRACE_GETREGS, pid, 0, &mut r as *mut Regs as usize)?;
    Ok(r)
}

pub fn set_regs(pid: i32, r: &Regs) -> io::Result<()> {
    ptrace(libc::PTRACE_SETREGS, pid, 0, r as *const Regs as usize).map(|_| ())
}

/// Resume until the next system call entry, which the kernel reports and does not execute.
pub fn sysemu(pid: i32, sig: i32) -> io::Result<()> {
    ptrace(libc::PTRACE_SYSEMU, pid, 0, sig as usize).map(|_| ())
}

/// Resume normally (the stub's own `syscall` instruction then really runs).
pub fn cont(pid: i32, sig: i32) -> io::Result<()> {
    ptrace(libc::PTRACE_CONT, pid, 0, sig as usize).map(|_| ())
}

/// How a traced process stopped or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A system call entry (SIGTRAP | 0x80).
    Syscall,
    /// Stopped by a signal.
    Signal(i32),
    /// A PTRACE_EVENT_* stop (the event number).
    Event(i32),
    Exited(i32),
    Killed(i32),
}

/// Waits for `pid` (a traced child) to stop or end.
pub fn wait(pid: i32) -> io::Result<Stop> {
    loop {
        // __WALL: clone children too.
        let status = crate::process::waitpid_status(pid, libc::__WALL)?;
        if let Some(stop) = decode(status) {
            return Ok(stop);
        }
    }
}

/// What a wait status of a traced child says (None for a status that is neither).
pub fn decode(status: i32) -> Option<Stop> {
    {
        if libc::WIFEXITED(status) {
            return Some(Stop::Exited(libc::WEXITSTATUS(status)));
        }
        if libc::WIFSIGNALED(status) {
            return Some(Stop::Killed(libc::WTERMSIG(status)));
        }
        if libc::WIFSTOPPED(status) {
            let sig = libc::WSTOPSIG(status);
            if status >> 16 != 0 {
                return Some(Stop::Event(status >> 16));
            }
            return Some(if sig == libc::SIGTRAP | 0x80 {
                Stop::Syscall
            } else {
                Stop::Signal(sig)
            });
        }
    }
    None
}

/// All-zero registers.
/// The message of the event stop `pid` is in (for PTRACE_EVENT_CLONE, the new thread's id as
/// the tracer's pid namespace numbers it).
pub fn event_msg(pid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    ptrace(
        libc::PTRACE_GETEVENTMSG,
        pid,
        0,
        &mut msg as *mut libc::c_ulong as usize,
    )?;
    Ok(msg)
}

pub fn zero_regs() -> Regs {
    // SAFETY: user_regs_struct is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// (si_signo, si_code, si_addr) of the signal that stopped the tracee.
pub fn siginfo(pid: i32) -> io::Result<(i32, i32, u64)> {
    // SAFETY: siginfo_t is plain data filled by PTRACE_GETSIGINFO.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace(
        libc::PTRACE_GETSIGINFO,
        pid,
        0,
        &mut si as *mut libc::siginfo_t as usize,
    )?;
    // SAFETY: si_addr is valid to read for any siginfo (it is a union member of plain data).
    Ok((si.si_signo, si.si_code, unsafe { si.si_addr() } as u64))
}

/// The FPU and vector state of a traced thread: the XSAVE area as PTRACE_GETREGSET's
/// NT_X86_XSTATE gives it (x87, SSE, AVX's upper halves, AVX-512...), or on a CPU without XSAVE
/// the FXSAVE area (x87, MXCSR, XMM0-15).
#[derive(Clone)]
pub enum FpRegs {
    Xstate(Vec<u8>),
    Fxsave(Box<libc::user_fpregs_struct>),
}

const NT_X86_XSTATE: usize = 0x202;
/// Larger than any XSAVE area (AMX's tile data makes it about 11 KiB).
const XSTATE_MAX: usize = 16 << 10;

pub fn get_fpregs(pid: i32) -> io::Result<FpRegs> {
    let mut buf = vec![0u8; XSTATE_MAX];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let r = ptrace(
        libc::PTRACE_GETREGSET,
        pid,
        NT_X86_XSTATE,
        &mut iov as *mut libc::iovec as usize,
    );
    if r.is_ok() {
        buf.truncate(iov.iov_len);
        return Ok(FpRegs::Xstate(buf));
    }
    // SAFETY: user_fpregs_struct is plain data that GETFPREGS fills completely.
    let mut f: Box<libc::user_fpregs_struct> = Box::new(unsafe { std::mem::zeroed() });
    ptrace(
        libc::PTRACE_GETFPREGS,
        pid,
        0,
        &mut *f as *mut libc::user_fpregs_struct as usize,
    )?;
    Ok(FpRegs::Fxsave(f))
}

pub fn set_fpregs(pid: i32, f: &FpRegs) -> io::Result<()> {
    match f {
        FpRegs::Xstate(buf) => {
            let mut iov = libc::iovec {
                iov_base: buf.as_ptr() as *mut libc::c_void,
                iov_len: buf.len(),
            };
            ptrace(
                libc::PTRACE_SETREGSET,
                pid,
                NT_X86_XSTATE,
                &mut iov as *mut libc::iovec as usize,
            )
            .map(|_| ())
        }
        FpRegs::Fxsave(f) => ptrace(
            libc::PTRACE_SETFPREGS,
            pid,
            0,
            &**f as *const libc::user_fpregs_struct as usize,
        )
        .map(|_| ()),
    }
}
