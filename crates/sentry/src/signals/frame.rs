//! The signal frame: what delivery writes on the application's stack (or its alternate
//! stack) for a handler — return address (sa_restorer), ucontext with the interrupted
//! registers, signal mask and alternate stack, siginfo — and what rt_sigreturn reads back.

use super::{bit, Action, Info, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_SIGINFO};
use crate::kernel::{killed, Task};
use crate::mm::Errno;
use crate::platform::FpRegs;
use libc::{SIGKILL, SIGSEGV, SIGSTOP};

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

/// Builds the handler's frame on the application's stack and points the registers at the
/// handler: rdi = signal, rsi = &siginfo, rdx = &ucontext, the return address sa_restorer
/// (glibc's and musl's call rt_sigreturn).
pub(super) fn push_frame(t: &mut Task, sig: i32, a: &Action, si: Info) -> Result<(), Errno> {
    let fp = t.asp.fp_state().map_err(|_| libc::EFAULT)?;
    let r = t.regs;
    let alt = t.signals.altstack;
    let was_on = alt.on(r.rsp);
    // SA_ONSTACK moves to the top of the alternate stack unless the task is on it already.
    let switch = a.flags & SA_ONSTACK != 0 && alt.enabled() && !was_on;
    let top = if switch {
        alt.sp.wrapping_add(alt.size)
    } else {
        r.rsp.wrapping_sub(RED_ZONE)
    };
    // At the handler's first instruction (rsp + 8) is 16-byte aligned, as after a call.
    let frame = (top.wrapping_sub(8 + UC_SIZE + SIGINFO_SIZE) & !15).wrapping_sub(8);
    if (was_on || switch) && !alt.contains(frame) {
        // The frame does not fit on the alternate stack: Linux forces SIGSEGV.
        return Err(libc::EFAULT);
    }
    let uc = frame + 8;
    let info = uc + UC_SIZE;
    let mut ucb = vec![0u8; UC_SIZE as usize];
    // uc_stack: the alternate stack as the interrupted code had it.
    ucb[16..24].copy_from_slice(&alt.sp.to_le_bytes());
    ucb[24..28].copy_from_slice(&alt.flags_at(r.rsp).to_le_bytes());
    ucb[32..40].copy_from_slice(&alt.size.to_le_bytes());
    if alt.flags & SS_AUTODISARM != 0 {
        t.signals.altstack = AltStack::default();
    }
    let gregs = sigcontext_gregs(&r);
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
    let infob = siginfo(sig, &si);
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
    let gregs: [u64; 18] = std::array::from_fn(g);
    let r = &mut t.regs;
    let eflags = r.eflags;
    set_from_sigcontext(r, &gregs);
    r.eflags = (eflags & !USER_EFLAGS) | (gregs[17] & USER_EFLAGS);
    // A frame saved on a return to a call site patched since (patch.rs).
    if let Some(rip) = t.mm.moved_return(r.rip) {
        r.rip = rip;
    }
    restore_altstack(t, &ucb[16..40]);
    let s = UC_SIGMASK as usize;
    let mask = u64::from_le_bytes(ucb[s..s + 8].try_into().unwrap_or([0; 8]));
    t.signals.mask = mask & !(bit(SIGKILL) | bit(SIGSTOP));
    // The FPU state of this frame; frames above it were left by longjmp and are dropped.
    if let Some(i) = t.signals.saved.iter().rposition(|(f, _)| *f == frame) {
        let (_, fp) = t.signals.saved.swap_remove(i);
        t.signals.saved.truncate(i);
        let _ = t.asp.set_fp_state(&fp);
    }
    t.regs.rax as i64
}

/// The saved FPU states, one per frame still on the application's stack.
pub type SavedFp = Vec<(u64, FpRegs)>;

/// The kernel's 128-byte siginfo for `sig` sent with `si`, laid out by the kind of signal.
pub fn siginfo(sig: i32, si: &Info) -> [u8; SIGINFO_SIZE as usize] {
    let mut b = [0u8; SIGINFO_SIZE as usize];
    b[0..4].copy_from_slice(&sig.to_le_bytes());
    b[8..12].copy_from_slice(&si.code.to_le_bytes());
    let fault = si.code > 0
        && si.code != super::SI_KERNEL
        && matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
        );
    if fault || si.addr != 0 {
        b[16..24].copy_from_slice(&si.addr.to_le_bytes());
        return b;
    }
    // kill, sigqueue, timers (timer id, overrun) and SIGCHLD share pid/uid-sized words.
    b[16..20].copy_from_slice(&si.pid.to_le_bytes());
    b[20..24].copy_from_slice(&si.uid.to_le_bytes());
    if sig == libc::SIGCHLD && si.code > 0 {
        b[24..28].copy_from_slice(&si.status.to_le_bytes());
    } else {
        b[24..32].copy_from_slice(&si.value.to_le_bytes());
    }
    b
}

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
/// The smallest alternate stack sigaltstack accepts (MINSIGSTKSZ).
pub const MIN_ALT_STACK: u64 = 2048;

/// A thread's alternate signal stack (sigaltstack); size 0 when there is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    /// SS_AUTODISARM, if asked for.
    pub flags: i32,
}

impl AltStack {
    pub fn enabled(&self) -> bool {
        self.size != 0
    }

    /// Whether `rsp` is on the alternate stack (never, with SS_AUTODISARM, as on Linux).
    pub fn on(&self, rsp: u64) -> bool {
        self.flags & SS_AUTODISARM == 0 && self.contains(rsp)
    }

    /// Whether a stack pointer `rsp` lies within the stack (it grows down from sp + size).
    fn contains(&self, rsp: u64) -> bool {
        rsp > self.sp && rsp.wrapping_sub(self.sp) <= self.size
    }

    /// ss_flags as sigaltstack reports it to code running at `rsp`.
    pub fn flags_at(&self, rsp: u64) -> i32 {
        let state = if !self.enabled() {
            SS_DISABLE
        } else if self.on(rsp) {
            SS_ONSTACK
        } else {
            0
        };
        state | self.flags
    }

    /// The stack_t bytes (ss_sp, ss_flags, ss_size) read from the application: the stack it
    /// asks for, or Linux's errno for a bad one.
    pub fn parse(b: &[u8]) -> Result<AltStack, Errno> {
        let word = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let flags = i32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
        let (sp, size) = (word(0), word(16));
        match flags & !SS_AUTODISARM {
            SS_DISABLE => Ok(AltStack::default()),
            0 | SS_ONSTACK if size < MIN_ALT_STACK => Err(libc::ENOMEM),
            0 | SS_ONSTACK => Ok(AltStack {
                sp,
                size,
                flags: flags & SS_AUTODISARM,
            }),
            _ => Err(libc::EINVAL),
        }
    }

    /// The stack_t bytes of this stack as seen from `rsp`.
    pub fn bytes(&self, rsp: u64) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&self.sp.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags_at(rsp).to_le_bytes());
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b
    }
}

/// rt_sigreturn puts back the alternate stack saved in the frame (SS_AUTODISARM turned it off
/// for the handler); a bad one, or a change while on the stack, is ignored as on Linux.
fn restore_altstack(t: &mut Task, b: &[u8]) {
    if t.signals.altstack.on(t.regs.rsp) {
        return;
    }
    if let Ok(alt) = AltStack::parse(b) {
        t.signals.altstack = alt;
    }
}

/// The general registers in struct sigcontext's order (r8 ... rip, eflags): the layout of the
/// frames the sentry builds and of those the kernel builds for a systrap stub.
pub fn sigcontext_gregs(r: &crate::platform::Regs) -> [u64; 18] {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ]
}

/// Sets the general registers from struct sigcontext's order (`sigcontext_gregs`).
pub fn set_from_sigcontext(r: &mut crate::platform::Regs, g: &[u64; 18]) {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.eflags,
    ] = *g;
}
