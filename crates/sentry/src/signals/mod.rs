//! Signals for the application, as Linux delivers them on x86-64. A signal sent to a task is
//! pending until it is unblocked; on the way back to the application (after a system call, or
//! when the kernel stops a running task for it) the lowest pending one is taken, and either its
//! default action runs (terminate, core, stop, continue, ignore) or a frame is built on the
//! application's stack — return address (sa_restorer), ucontext with the interrupted registers
//! and signal mask, siginfo — and the handler runs on it. rt_sigreturn reads the ucontext back.
//! The FPU and vector state (XSAVE) is kept by the sentry, keyed by the frame, rather than written to the
//! stack (the ucontext's fpstate pointer is NULL): handlers rarely read it, and a frame the
//! application rewrote cannot hand the sentry a forged one.
//!
//! The sandbox's pid 1 gets only the signals it handles, as a pid namespace's init does on
//! Linux (SIGKILL from inside included); faults are forced on it like on anyone. A blocked call
//! a signal interrupts fails with EINTR or restarts under SA_RESTART (kernel/mod.rs).

use crate::kernel::{killed, wait, State, Task};
mod frame;
mod queue;

use frame::push_frame;
pub use frame::{set_from_sigcontext, sigcontext_gregs, siginfo, sigreturn, AltStack, SavedFp};
use libc::{SIGCHLD, SIGCONT, SIGKILL, SIGSEGV, SIGSTOP};
pub use queue::SIGRTMIN;

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_NOCLDSTOP: u64 = 0x1;
const SA_NOCLDWAIT: u64 = 0x2;
const SA_SIGINFO: u64 = 0x4;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTART: u64 = 0x1000_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// siginfo's si_code for a signal sent by kill(2).
pub const SI_USER: i32 = 0;
/// si_code of a POSIX timer's signal; its Info carries the timer id in `pid` and the overrun
/// count in `uid` (they share siginfo's first two words, as in Linux's union).
pub const SI_TIMER: i32 = -2;
/// si_code of sigqueue.
pub const SI_QUEUE: i32 = -1;
/// si_code of a signal the kernel sends (SIGPIPE, SIGCHLD's CLD_* are set by the sender).
pub const SI_KERNEL: i32 = 0x80;

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
    /// si_value of sigqueue and timer signals.
    pub value: u64,
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
            status,
            ..Info::default()
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
/// dropped (as Linux drops it unless blocked); the rest become pending. False when a
/// real-time signal could not be queued (the queue is full).
pub fn send_info(t: &mut Task, sig: i32, info: Info) -> bool {
    if !(1..=64).contains(&sig) {
        return true;
    }
    let a = Action::of(t, sig);
    let init = t.pid == 1 || t.container_init;
    if sig == SIGKILL {
        if !init {
            t.exit = Some(killed(SIGKILL));
            t.group_exit = true;
        }
        return true;
    }
    if sig == SIGCONT {
        t.signals.discard(STOP_SIGNALS);
        if t.state == State::Stopped {
            t.state = State::Ready;
            t.refresh_proc();
            t.report = Some(0xffff);
            t.to_parent = Some(SIGCHLD);
            wait::poke();
        }
    }
    if bit(sig) & STOP_SIGNALS != 0 {
        t.signals.discard(bit(SIGCONT));
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
        return true;
    }
    let queued = t.signals.enqueue(sig, info);
    // A sigtimedwait waiting for it serves its call again.
    wait::poke();
    queued || sig < queue::SIGRTMIN
}

/// Sends `sig` to the process `t` is a thread of (kill, SIGCHLD): pending at the process, so
/// another thread that unblocks it may take it (`Kernel::adopt_process_signals`).
pub fn send_to_process(t: &mut Task, sig: i32, info: Info) -> bool {
    let queued = send_info(t, sig, info);
    if (1..=64).contains(&sig) {
        t.signals.group |= t.signals.pending & bit(sig);
    }
    queued
}

/// A signal the kernel itself sends (SIGPIPE, SIGCHLD, a parent's death signal).
pub fn send(t: &mut Task, sig: i32) {
    let _ = send_info(
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

/// Whether the call a signal interrupts starts again afterwards: its handler has SA_RESTART
/// (and the call is one SA_RESTART restarts: `by_sa_restart`), or it has none and only stops
/// the task.
pub fn restarts(t: &Task, by_sa_restart: bool) -> bool {
    let unblockable = bit(SIGKILL) | bit(SIGSTOP);
    let mut ready = t.signals.pending & (!t.signals.mask | unblockable);
    while ready != 0 {
        let sig = ready.trailing_zeros() as i32 + 1;
        let a = Action::of(t, sig);
        if acts(t, sig, &a) {
            return match a.handler {
                SIG_DFL => default_action(sig) == DefaultAction::Stop,
                _ => by_sa_restart && a.flags & SA_RESTART != 0,
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
        let info = t.signals.dequeue(sig).unwrap_or_default();
        if !acts(t, sig, &a) {
            continue;
        }
        if a.handler == SIG_DFL {
            if default_action(sig) == DefaultAction::Stop {
                t.state = State::Stopped;
                t.refresh_proc();
                t.report = Some(0x7f | (sig << 8));
                t.to_parent = Some(SIGCHLD);
                wait::poke();
            } else {
                t.exit = Some(killed(sig));
                t.group_exit = true;
            }
            return;
        }
        if push_frame(t, sig, &a, info).is_err() {
            // No room for the frame (a bad stack pointer): Linux forces SIGSEGV.
            t.exit = Some(killed(SIGSEGV));
            t.group_exit = true;
        }
        return;
    }
    // No handler ran: the mask a call waited with (pselect6's) gives way to the one before.
    if let Some(mask) = t.saved_mask.take() {
        t.signals.mask = mask;
    }
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
    t.signals.altstack = AltStack::default();
    for sig in 1..=64 {
        let a = Action::of(t, sig);
        if a.handler != SIG_IGN {
            t.signals.actions.borrow_mut()[sig as usize] = [0; 32];
        }
    }
    t.signals.saved.clear();
    t.saved_mask = None;
}
