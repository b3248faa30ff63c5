//! Signals for the application, as Linux delivers them on x86-64: a signal sent to the task is
//! pending until it is unblocked; on the way back to the application after a system call the
//! lowest pending one is taken, and either its default action runs (end the task, or nothing)
//! or a frame is built on the application's stack — return address (sa_restorer), ucontext with
//! the interrupted registers and signal mask, siginfo — and the handler runs on it.
//! rt_sigreturn reads the ucontext back. The FPU/SSE state is kept by the sentry, keyed by the
//! frame, rather than written to the stack (the ucontext's fpstate pointer is NULL): handlers
//! rarely read it, and a frame the application rewrote cannot hand the sentry a forged one.
//!
//! Step 2 in progress: one task; signals a task sends itself (kill, tgkill, SIGPIPE). Delivery
//! of faults to handlers, the alternate stack and other processes' signals come with fork and
//! threads.

use crate::kernel::Task;
use crate::mm::Errno;
use crate::platform::FpRegs;
use libc::{SIGKILL, SIGSEGV, SIGSTOP};

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_SIGINFO: u64 = 0x4;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// siginfo's si_code for a signal sent by kill(2).
const SI_USER: i32 = 0;
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

/// Sends `sig` (1..=64) to the task from inside the sandbox (kill, tgkill, SIGPIPE): an ignored
/// signal is dropped at once, as Linux drops it even when blocked; so is one without a handler,
/// because the task is the sandbox's pid 1 (until fork), and Linux gives a pid namespace's init
/// only the signals it handles (SIGKILL included: `kill -9 1` from inside does nothing). A
/// handled one becomes pending.
pub fn send(t: &mut Task, sig: i32) {
    if !(1..=64).contains(&sig) {
        return;
    }
    let a = Action::of(t, sig);
    if a.handler == SIG_IGN || a.handler == SIG_DFL {
        return;
    }
    t.signals.pending |= bit(sig);
}

/// On the way back to the application: takes the lowest pending unblocked signal and runs its
/// handler; a frame that cannot be written ends the task as SIGSEGV would.
pub fn deliver(t: &mut Task) {
    let unblockable = bit(SIGKILL) | bit(SIGSTOP);
    let ready = t.signals.pending & (!t.signals.mask | unblockable);
    if ready == 0 {
        return;
    }
    let sig = ready.trailing_zeros() as i32 + 1;
    t.signals.pending &= !bit(sig);
    let a = Action::of(t, sig);
    match a.handler {
        // Reset while pending: ignored, as `send` would have (pid 1).
        SIG_IGN | SIG_DFL => {}
        _ => {
            if push_frame(t, sig, &a).is_err() {
                // No room for the frame (a bad stack pointer): Linux forces SIGSEGV.
                t.exit = Some(128 + SIGSEGV);
            }
        }
    }
}

/// Builds the handler's frame on the application's stack and points the registers at the
/// handler: rdi = signal, rsi = &siginfo, rdx = &ucontext, the return address sa_restorer
/// (glibc's and musl's call rt_sigreturn).
fn push_frame(t: &mut Task, sig: i32, a: &Action) -> Result<(), Errno> {
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
    // cs, gs, fs, ss (16 bits each), then err, trapno, oldmask, cr2, fpstate (NULL).
    ucb[m + 144..m + 146].copy_from_slice(&(r.cs as u16).to_le_bytes());
    ucb[m + 150..m + 152].copy_from_slice(&(r.ss as u16).to_le_bytes());
    ucb[m + 168..m + 176].copy_from_slice(&t.signals.mask.to_le_bytes());
    let s = UC_SIGMASK as usize;
    ucb[s..s + 8].copy_from_slice(&t.signals.mask.to_le_bytes());
    let mut infob = vec![0u8; SIGINFO_SIZE as usize];
    infob[0..4].copy_from_slice(&sig.to_le_bytes());
    infob[8..12].copy_from_slice(&SI_USER.to_le_bytes());
    // si_pid, si_uid: the sender is the task itself (pid 1 in the sandbox).
    infob[16..20].copy_from_slice(&1i32.to_le_bytes());
    infob[20..24].copy_from_slice(&t.creds.uid.to_le_bytes());
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
    let mut mask = t.signals.mask | a.mask;
    if a.flags & SA_NODEFER == 0 {
        mask |= bit(sig);
    }
    t.signals.mask = mask & !(bit(SIGKILL) | bit(SIGSTOP));
    if a.flags & SA_RESETHAND != 0 {
        t.signals.actions[sig as usize] = [0; 32];
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
        t.exit = Some(128 + SIGSEGV);
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
