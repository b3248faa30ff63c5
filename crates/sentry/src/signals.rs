//! Signals for the application, as Linux delivers them on x86-64. A signal sent to a task is
//! pending until it is unblocked; on the way back to the application (after a system call, or
//! when the kernel stops a running task for it) the lowest pending one is taken, and either its
//! default action runs (terminate, core, stop, continue, ignore) or a frame is built on the
//! application's stack — return address (sa_restorer), ucontext with the interrupted registers
//! and signal mask, siginfo — and the handler runs on it. rt_sigreturn reads the ucontext back.
//! The FPU/SSE state is kept by the sentry, keyed by the frame, rather than written to the
//! stack (the ucontext's fpstate pointer is NULL): handlers rarely read it, and a frame the
//! application rewrote cannot hand the sentry a forged one.
//!
//! The sandbox's pid 1 gets only the signals it handles, as a pid namespace's init does on
//! Linux (SIGKILL from inside included); faults are forced on it like on anyone. A blocked call
//! a signal interrupts fails with EINTR or restarts under SA_RESTART (kernel/mod.rs).

use crate::kernel::{killed, wait, State, Task};
use crate::mm::Errno;
use crate::platform::FpRegs;
use libc::{SIGCHLD, SIGCONT, SIGKILL, SIGSEGV, SIGSTOP};

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_NOCLDSTOP: u64 = 0x1;
const SA_NOCLDWAIT: u64 = 0x2;
const SA_SIGINFO: u64 = 0x4;
const SA_RESTART: u64 = 0x1000_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// siginfo's si_code for a signal sent by kill(2).
pub const SI_USER: i32 = 0;
/// si_code of a signal the kernel sends (SIGPIPE, SIGCHLD's CLD_* are set by the sender).
pub const SI_KERNEL: i32 = 0x80;
/// The kernel's `struct ucontext` on x86-64: flags, link, stack (24), sigcontext (256), mask.
const UC_SIZE: u64 = 8 + 8 + 24 + 256 + 8;
const UC_MCONTEXT: u64 = 8 + 8 + 24;
const UC_SIGMASK: u64 = UC_MCONTEXT + 256;
const SIGINFO_SIZE: u64 = 128;
/// Below the interrupted stack pointer: the System V ABI's red zone, which a leaf function may
/// be using.
const RED_ZONE: u64 = 128;
/// The eflags bits rt_sigreturn lets the application set (Linux's FIX_EFLAGS: CF PF AF ZF SF
/// TF DF OF NT RF AC).
const USER_EFLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 | 0x1_0000 | 0x4_0000;

/// One signal's disposition: the kernel's `struct sigaction` (handler, flags, restorer, mask).
struct Action {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

impl Action {
    fn of(t: &Task, sig: i32) -> Action {
        let raw = t
            .signals
            .actions
            .borrow()
            .get(sig as usize)
            .copied()
            .unwrap_or([0; 32]);
        let word =
            |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Action {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3),
        }
    }
}

fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// Who sent a signal, for the handler's siginfo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Info {
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    /// si_addr of a fault.
    pub addr: u64,
    /// si_status of SIGCHLD: the exit code, or the signal that ended, stopped or continued
    /// the child.
    pub status: i32,
}

impl Info {
    /// SIGCHLD's siginfo for a child `pid` (of user `uid`) whose wait status is `wstatus`.
    pub fn child(pid: i32, uid: u32, wstatus: i32) -> Info {
        let (code, status) = if wstatus == 0xffff {
            (libc::CLD_CONTINUED, SIGCONT)
        } else if wstatus & 0xff == 0x7f {
            (libc::CLD_STOPPED, (wstatus >> 8) & 0xff)
        } else if wstatus & 0x7f == 0 {
            (libc::CLD_EXITED, (wstatus >> 8) & 0xff)
        } else {
            (libc::CLD_KILLED, wstatus & 0x7f)
        };
        Info {
            code,
            pid,
            uid,
            addr: 0,
            status,
        }
    }
}

/// What a signal does when its disposition is SIG_DFL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultAction {
    Terminate,
    Ignore,
    Stop,
    Continue,
}

fn default_action(sig: i32) -> DefaultAction {
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => DefaultAction::Ignore,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        libc::SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

const STOP_SIGNALS: u64 = (1 << (SIGSTOP - 1))
    | (1 << (libc::SIGTSTP - 1))
    | (1 << (libc::SIGTTIN - 1))
    | (1 << (libc::SIGTTOU - 1));

/// Sends `sig` (1..=64) to `t` from inside the sandbox with the sender's identity. SIGKILL
/// ends the task at once; SIGCONT continues a stopped one; a signal that would be ignored is
/// dropped (as Linux drops it unless blocked); the rest become pending.
pub fn send_info(t: &mut Task, sig: i32, info: Info) {
    if !(1..=64).contains(&sig) {
        return;
    }
    let a = Action::of(t, sig);
    let init = t.pid == 1;
    if sig == SIGKILL {
        if !init {
            t.exit = Some(killed(SIGKILL));
            t.group_exit = true;
        }
        return;
    }
    if sig == SIGCONT {
        t.signals.pending &= !STOP_SIGNALS;
        if t.state == State::Stopped {
            t.state = State::Ready;
            t.report = Some(0xffff);
            t.to_parent = Some(SIGCHLD);
            wait::poke();
        }
    }
    if bit(sig) & STOP_SIGNALS != 0 {
        t.signals.pending &= !bit(SIGCONT);
    }
    // Dropped at once when it would be ignored and is not blocked: SIG_IGN, a default of
    // ignore or continue, or any default at pid 1.
    let ignored = match a.handler {
        SIG_IGN => true,
        SIG_DFL => {
            init || matches!(
                default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            )
        }
        _ => false,
    };
    if ignored && t.signals.mask & bit(sig) == 0 {
        return;
    }
    t.signals.pending |= bit(sig);
    t.signals.info[sig as usize] = info;
}

/// Sends `sig` to the process `t` is a thread of (kill, SIGCHLD): pending at the process, so
/// another thread that unblocks it may take it (`Kernel::adopt_process_signals`).
pub fn send_to_process(t: &mut Task, sig: i32, info: Info) {
    send_info(t, sig, info);
    if (1..=64).contains(&sig) {
        t.signals.group |= t.signals.pending & bit(sig);
    }
}

/// A signal the kernel itself sends (SIGPIPE, SIGCHLD, a parent's death signal).
pub fn send(t: &mut Task, sig: i32) {
    send_info(
        t,
        sig,
        Info {
            code: SI_KERNEL,
            ..Info::default()
        },
    );
}

/// The lowest pending, unblocked signal, with what it does.
fn next_ready(t: &Task) -> Option<(i32, Action)> {
    let unblockable = bit(SIGKILL) | bit(SIGSTOP);
    let ready = t.signals.pending & (!t.signals.mask | unblockable);
    (ready != 0).then(|| {
        let sig = ready.trailing_zeros() as i32 + 1;
        (sig, Action::of(t, sig))
    })
}

/// Whether delivering `sig` with `a` would do anything (run a handler, end or stop the task).
fn acts(t: &Task, sig: i32, a: &Action) -> bool {
    match a.handler {
        SIG_IGN => false,
        SIG_DFL => {
            t.pid != 1
                && matches!(
                    default_action(sig),
                    DefaultAction::Terminate | DefaultAction::Stop
                )
        }
        _ => true,
    }
}

/// Whether a pending signal ends `t`'s wait (or, when it runs, makes it stop for delivery).
pub fn interrupts(t: &Task) -> bool {
    let unblockable = bit(SIGKILL) | bit(SIGSTOP);
    let mut ready = t.signals.pending & (!t.signals.mask | unblockable);
    while ready != 0 {
        let sig = ready.trailing_zeros() as i32 + 1;
        if acts(t, sig, &Action::of(t, sig)) {
            return true;
        }
        ready &= !bit(sig);
    }
    false
}

/// Whether the call a signal interrupts starts again afterwards: its handler has SA_RESTART,
/// or it has none and only stops the task.
pub fn restarts(t: &Task) -> bool {
    let unblockable = bit(SIGKILL) | bit(SIGSTOP);
    let mut ready = t.signals.pending & (!t.signals.mask | unblockable);
    while ready != 0 {
        let sig = ready.trailing_zeros() as i32 + 1;
        let a = Action::of(t, sig);
        if acts(t, sig, &a) {
            return match a.handler {
                SIG_DFL => default_action(sig) == DefaultAction::Stop,
                _ => a.flags & SA_RESTART != 0,
            };
        }
        ready &= !bit(sig);
    }
    false
}

/// On the way back to the application: takes pending unblocked signals until one acts — its
/// handler runs, or its default action ends or stops the task.
pub fn deliver(t: &mut Task) {
    while let Some((sig, a)) = next_ready(t) {
        t.signals.pending &= !bit(sig);
        t.signals.group &= !bit(sig);
        if !acts(t, sig, &a) {
            continue;
        }
        if a.handler == SIG_DFL {
            if default_action(sig) == DefaultAction::Stop {
                t.state = State::Stopped;
                t.report = Some(0x7f | (sig << 8));
                t.to_parent = Some(SIGCHLD);
                wait::poke();
            } else {
                t.exit = Some(killed(sig));
                t.group_exit = true;
            }
            return;
        }
        let info = t.signals.info[sig as usize];
        if push_frame(t, sig, &a, info).is_err() {
            // No room for the frame (a bad stack pointer): Linux forces SIGSEGV.
            t.exit = Some(killed(SIGSEGV));
            t.group_exit = true;
        }
        return;
    }
    t.saved_mask = None;
}

/// A fault of the application's own instructions (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP):
/// its handler runs with si_code and si_addr, unless it has none or blocks the signal; then
/// the task dies of it (Linux forces a fault even on pid 1).
pub fn fault(t: &mut Task, sig: i32) {
    let (code, addr) = t.asp.fault_info();
    let a = Action::of(t, sig);
    let handled = !matches!(a.handler, SIG_DFL | SIG_IGN) && t.signals.mask & bit(sig) == 0;
    if !handled {
        t.exit = Some(killed(sig));
        t.group_exit = true;
        return;
    }
    let info = Info {
        code,
        addr,
        ..Info::default()
    };
    if push_frame(t, sig, &a, info).is_err() {
        t.exit = Some(killed(SIGSEGV));
        t.group_exit = true;
    }
}

/// Whether a parent with this SIGCHLD disposition has its children reaped for it.
pub fn ignores_children(p: &Task, exit_signal: i32) -> bool {
    let a = Action::of(p, SIGCHLD);
    exit_signal == SIGCHLD && (a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0)
}

/// SA_NOCLDSTOP: no SIGCHLD when a child stops or continues.
pub fn no_child_stop(p: &Task) -> bool {
    Action::of(p, SIGCHLD).flags & SA_NOCLDSTOP != 0
}

/// execve: handled signals go back to their default; ignored ones stay ignored.
pub fn reset_on_exec(t: &mut Task) {
    for sig in 1..=64 {
        let a = Action::of(t, sig);
        if a.handler != SIG_IGN {
            t.signals.actions.borrow_mut()[sig as usize] = [0; 32];
        }
    }
    t.signals.saved.clear();
    t.saved_mask = None;
}

/// Builds the handler's frame on the application's stack and points the registers at the
/// handler: rdi = signal, rsi = &siginfo, rdx = &ucontext, the return address sa_restorer
/// (glibc's and musl's call rt_sigreturn).
fn push_frame(t: &mut Task, sig: i32, a: &Action, si: Info) -> Result<(), Errno> {
    let fp = t.asp.fp_state().map_err(|_| libc::EFAULT)?;
    let r = t.regs;
    // At the handler's first instruction (rsp + 8) is 16-byte aligned, as after a call.
    let frame = ((r.rsp - RED_ZONE - 8 - UC_SIZE - SIGINFO_SIZE) & !15) - 8;
    let uc = frame + 8;
    let info = uc + UC_SIZE;
    let mut ucb = vec![0u8; UC_SIZE as usize];
    // uc_stack: no alternate stack (SS_DISABLE).
    ucb[24..28].copy_from_slice(&2i32.to_le_bytes());
    let gregs = [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ];
    let m = UC_MCONTEXT as usize;
    for (i, v) in gregs.iter().enumerate() {
        ucb[m + i * 8..m + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    // cs, gs, fs, ss (16 bits each) at 144, then err 152, trapno 160, oldmask 168, cr2 176,
    // fpstate (NULL) 184.
    ucb[m + 144..m + 146].copy_from_slice(&(r.cs as u16).to_le_bytes());
    ucb[m + 150..m + 152].copy_from_slice(&(r.ss as u16).to_le_bytes());
    // The mask to go back to: sigsuspend's caller's, not the one it waited with.
    let old_mask = t.saved_mask.take().unwrap_or(t.signals.mask);
    ucb[m + 168..m + 176].copy_from_slice(&old_mask.to_le_bytes());
    ucb[m + 176..m + 184].copy_from_slice(&si.addr.to_le_bytes()); // cr2
    let s = UC_SIGMASK as usize;
    ucb[s..s + 8].copy_from_slice(&old_mask.to_le_bytes());
    let mut infob = vec![0u8; SIGINFO_SIZE as usize];
    infob[0..4].copy_from_slice(&sig.to_le_bytes());
    infob[8..12].copy_from_slice(&si.code.to_le_bytes());
    if si.addr != 0
        || matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
        )
    {
        infob[16..24].copy_from_slice(&si.addr.to_le_bytes());
    } else {
        infob[16..20].copy_from_slice(&si.pid.to_le_bytes());
        infob[20..24].copy_from_slice(&si.uid.to_le_bytes());
        if sig == libc::SIGCHLD {
            infob[24..28].copy_from_slice(&si.status.to_le_bytes());
        }
    }
    t.mm.write(frame, &a.restorer.to_le_bytes())?;
    t.mm.write(uc, &ucb)?;
    t.mm.write(info, &infob)?;
    t.signals.saved.push((frame, fp));
    let regs = &mut t.regs;
    regs.rip = a.handler;
    regs.rsp = frame;
    regs.rdi = sig as u64;
    regs.rsi = if a.flags & SA_SIGINFO != 0 { info } else { 0 };
    regs.rdx = if a.flags & SA_SIGINFO != 0 { uc } else { 0 };
    regs.rax = 0;
    // The handler starts with the direction and trap flags clear.
    regs.eflags &= !(0x400 | 0x100);
    let mut mask = old_mask | a.mask;
    if a.flags & SA_NODEFER == 0 {
        mask |= bit(sig);
    }
    t.signals.mask = mask & !(bit(SIGKILL) | bit(SIGSTOP));
    if a.flags & SA_RESETHAND != 0 {
        t.signals.actions.borrow_mut()[sig as usize] = [0; 32];
    }
    Ok(())
}

/// rt_sigreturn: the handler returned through sa_restorer, whose `syscall` left rsp just above
/// the return address the frame began with. Restores the registers and mask from the ucontext
/// (the handler may have changed them, as on Linux) and the FPU state the sentry kept; returns
/// the restored rax, which the dispatcher puts back.
pub fn sigreturn(t: &mut Task) -> i64 {
    let frame = t.regs.rsp.wrapping_sub(8);
    let mut ucb = vec![0u8; UC_SIZE as usize];
    if t.mm.read(frame + 8, &mut ucb).is_err() {
        t.exit = Some(killed(SIGSEGV));
        t.group_exit = true;
        return 0;
    }
    let m = UC_MCONTEXT as usize;
    let g =
        |i: usize| u64::from_le_bytes(ucb[m + i * 8..m + i * 8 + 8].try_into().unwrap_or([0; 8]));
    let r = &mut t.regs;
    r.r8 = g(0);
    r.r9 = g(1);
    r.r10 = g(2);
    r.r11 = g(3);
    r.r12 = g(4);
    r.r13 = g(5);
    r.r14 = g(6);
    r.r15 = g(7);
    r.rdi = g(8);
    r.rsi = g(9);
    r.rbp = g(10);
    r.rbx = g(11);
    r.rdx = g(12);
    r.rax = g(13);
    r.rcx = g(14);
    r.rsp = g(15);
    r.rip = g(16);
    r.eflags = (r.eflags & !USER_EFLAGS) | (g(17) & USER_EFLAGS);
    let s = UC_SIGMASK as usize;
    let mask = u64::from_le_bytes(ucb[s..s + 8].try_into().unwrap_or([0; 8]));
    t.signals.mask = mask & !(bit(SIGKILL) | bit(SIGSTOP));
    // The FPU state of this frame; frames above it were left by longjmp and are dropped.
    if let Some(i) = t.signals.saved.iter().rposition(|(f, _)| *f == frame) {
        let (_, fp) = t.signals.saved[i];
        t.signals.saved.truncate(i);
        let _ = t.asp.set_fp_state(&fp);
    }
    t.regs.rax as i64
}

/// The saved FPU states, one per frame still on the application's stack.
pub type SavedFp = Vec<(u64, FpRegs)>;
