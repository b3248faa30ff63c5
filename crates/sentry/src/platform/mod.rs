//! Platforms: where an application's address space lives and how its system calls reach the
//! sentry. The sentry's kernel talks to this interface only, so the debug platform (ptrace)
//! can be replaced by a faster one (seccomp RET_TRAP with a shared-memory hand-off) later.

pub mod ptrace;

pub use bulkhead_linux::ptrace::{FpRegs, Regs};

/// Why the application stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It made a system call; the registers hold the number and arguments.
    Syscall,
    /// It got a signal from the hardware or the host (SIGSEGV, SIGILL, ...).
    Fault(i32),
    /// It is gone.
    Gone(i32),
}

/// One application address space and the thread that runs in it.
pub trait AddressSpace {
    /// Maps [addr, addr+len) to the memory file at `offset`, with `prot`.
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> std::io::Result<()>;
    fn unmap(&mut self, addr: u64, len: u64) -> std::io::Result<()>;
    /// Changes the protection of [addr, addr+len), which maps the memory file at `offset`.
    fn protect(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> std::io::Result<()>;
    /// Runs the application with `regs` until its next event; `regs` then holds its state.
    fn switch(&mut self, regs: &mut Regs) -> std::io::Result<Event>;
    /// The thread's FPU/SSE state, kept by the sentry across a signal handler.
    fn fp_state(&mut self) -> std::io::Result<FpRegs>;
    fn set_fp_state(&mut self, f: &FpRegs) -> std::io::Result<()>;
    /// Ends it.
    fn kill(&mut self);
}
