//! Where the systrap platform's pieces sit in every stub's address space, and the layout of
//! the memory the sentry shares with each stub thread. The stub code (stub.rs) and the
//! sentry's side (mod.rs) both read these constants, so they cannot disagree.
//!
//! ```text
//! STUB_ADDR            code page (r-x): ptrace's `syscall; int3`, then the systrap stub
//! GLOBAL_ADDR          one page (r--) shared by every stub: is the sentry asleep, the eventfd
//!                      that wakes it, the stub's signal mask
//! BLOCKS_ADDR + i*BLOCK  one block (rw-) per host thread of the stub: a control page the
//!                      sentry and the thread hand a trap back and forth in, then the thread's
//!                      signal stack, on which the kernel writes the application's registers
//!                      (the sentry reads and changes them there)
//! STUB_END             the end of the range the memory manager keeps from the application
//! ```

use crate::platform::ptrace::{PAGE, STUB_ADDR};

pub const GLOBAL_ADDR: u64 = STUB_ADDR + PAGE;
pub const BLOCKS_ADDR: u64 = STUB_ADDR + 0x1_0000;
/// One host thread's block; a power of two, so the thread finds its block from its stack
/// pointer (rsp & !(BLOCK-1)) without any other state.
pub const BLOCK: u64 = 0x8000;
/// The most host threads one stub process has (application threads, and vfork children that
/// share the address space).
pub const MAX_THREADS: u64 = 1024;
pub const STUB_END: u64 = BLOCKS_ADDR + MAX_THREADS * BLOCK;

// The control page (the first page of a block). Words the two sides hand over are u32 (futex
// words); the rest are u64.
/// What the thread is doing (one of the ST_ values); the futex word both sides wait on.
pub const C_STATE: usize = 0;
/// 1 while the thread sleeps in FUTEX_WAIT on C_STATE (so the sentry knows to wake it).
pub const C_WAITING: usize = 4;
/// The signal that brought the thread into its handler.
pub const C_SIGNO: usize = 8;
/// F_ flags: what the thread applies before it returns to the application.
pub const C_FLAGS: usize = 12;
/// The ucontext and siginfo the kernel wrote on the signal stack (stub addresses).
pub const C_CTX: usize = 16;
pub const C_INFO: usize = 24;
/// The stack pointer at the handler's entry: rt_sigreturn starts 8 bytes above it.
pub const C_RSP: usize = 32;
/// fs and gs base: read at each trap where the CPU lets user space (FSGSBASE), and the
/// values to set with F_SET_FS / F_SET_GS.
pub const C_FS: usize = 40;
pub const C_GS: usize = 48;
/// A fast call's rax: the number when it starts, the answer when it returns. In the state's
/// cache line, so that the common answer (rax changed, nothing else) moves that line only.
pub const C_FRAX: usize = 56;
/// A host call for the thread to make: number, six arguments, result.
pub const C_NR: usize = 176;
pub const C_ARGS: usize = 64;
pub const C_RET: usize = 112;
/// The stack_t the thread gives sigaltstack.
pub const C_SS: usize = 128;
/// 1 when the thread took (and swallowed) the sentry's SIGURG in the fast path: the kick
/// was meant for another thread of the stub, or is moot; the sentry sends another (and
/// clears this word).
pub const C_KICK: usize = 156;
/// 1 while the thread runs with SIGURG blocked after swallowing a kick (so that the next
/// kick goes to another thread); the fast return unblocks it, as does any return from the
/// handler.
pub const C_MASKED: usize = 160;
/// The block's own address (the thread's GS base points at its block: the fast entry finds
/// its block through `gs:[C_SELF]`).
pub const C_SELF: usize = 168;
/// A fast call's registers, in struct sigcontext's order (r8 .. r15, rdi, rsi, rbp, rbx, rdx,
/// rax, rcx, rsp, rip, eflags): the fast entry saves them here, the sentry reads and changes
/// them here, the fast return restores them from here. On a cache line of their own.
pub const C_FREGS: usize = 256;
/// Index in C_FREGS (and in a sigcontext's general registers) of rax, rsp, rip.
pub const G_RAX: usize = 13;
pub const G_RSP: usize = 15;
pub const G_RIP: usize = 16;
/// The fast path's own stack: the top of the control page (a few words are used; the signal
/// stack above it is not, so a signal taken there lands on the signal stack's top).
pub const FAST_STACK: u64 = PAGE;
/// The signal stack: the rest of the block.
pub const STACK_OFF: u64 = PAGE;

/// States of C_STATE.
pub const ST_RUNNING: u32 = 0;
/// In the handler: the application's registers are on the signal stack, for the sentry.
pub const ST_TRAPPED: u32 = 1;
/// Sentry -> thread: return to the application (rt_sigreturn).
pub const ST_RESUME: u32 = 2;
/// Sentry -> thread: make the host call in C_NR/C_ARGS.
pub const ST_CALL: u32 = 3;
/// Thread -> sentry: the call is made, its result is in C_RET.
pub const ST_DONE: u32 = 4;
/// Thread -> sentry: a call from a patched site, through the fast entry (no signal): its
/// registers are in C_FREGS.
pub const ST_FASTCALL: u32 = 5;
/// Sentry -> thread: return from a fast call with the registers in C_FREGS.
pub const ST_FAST_RESUME: u32 = 6;
/// Sentry -> thread: the call blocks; sleep on the futex now rather than spin for an answer
/// that will not come soon.
pub const ST_PARK: u32 = 7;

pub const F_SET_FS: u32 = 1;
pub const F_SET_GS: u32 = 2;

// The global page.
/// 1 while the sentry sleeps in poll: a trapping thread writes the eventfd.
pub const G_SLEEPING: usize = 0;
pub const G_EFD: usize = 4;
/// The 8-byte 1 written to the eventfd.
pub const G_ONE: usize = 8;
/// The stub's signal mask: everything blocked but the traps and SIGURG.
pub const G_MASK: usize = 16;
/// 1 when rdfsbase/rdgsbase work in user space.
pub const G_FSGSBASE: usize = 24;

/// How many times a waiting thread polls its state (`pause` between) before it sleeps on the
/// futex. See docs/sandbox.md for how it was chosen.
pub const STUB_SPIN: u32 = 100000;
/// Every this many polls (a power of two, about 8 µs) the waiting thread yields its CPU.
pub const STUB_YIELD_EVERY: u32 = 16384;

/// arch_prctl codes (asm/prctl.h).
pub const ARCH_SET_GS: u64 = 0x1001;
pub const ARCH_SET_FS: u64 = 0x1002;
