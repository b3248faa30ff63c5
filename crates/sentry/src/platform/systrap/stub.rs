//! The systrap stub's code: a few hundred bytes of position-independent machine code copied
//! into the stub code page (after ptrace's `syscall; int3`). It is the only code in a stub
//! process besides the application's, and the only code the stub's seccomp filter lets make
//! host calls.
//!
//! - `handler`: every signal a stub thread takes (SIGSYS from the filter for each system call
//!   the application makes, its faults, the sentry's SIGURG) runs it on the thread's signal
//!   stack, where the kernel has saved the application's registers. It publishes where they
//!   are, marks the block TRAPPED, wakes the sentry if it sleeps, and waits: spinning first,
//!   then on a futex. The sentry answers RESUME (return to the application through
//!   rt_sigreturn, with whatever registers the sentry left in the frame) or CALL (make a host
//!   call for it: map, unmap, clone a thread; then wait again).
//! - `thread_start`: a new host thread (from a CALL clone, or a new stub process) sets up its
//!   signal stack and mask, then traps (int3) so that it, too, waits in the handler.
//! - `process_start`: a new stub process empties its address space around the stub's own
//!   pages, then goes on as `thread_start`.

use super::layout::*;
use crate::platform::ptrace::STUB_ADDR;

std::arch::global_asm!(
    ".pushsection .text.bulkhead_systrap_stub,\"ax\",@progbits",
    ".p2align 4",
    ".globl bulkhead_systrap_start",
    "bulkhead_systrap_start:",
    // --- handler(signo: rdi, info: rsi, ucontext: rdx), on the block's signal stack.
    ".globl bulkhead_systrap_handler",
    "bulkhead_systrap_handler:",
    "mov r12, rsp",
    "and r12, {mask}",
    // A signal that interrupted the fast path's own code (uc_mcontext.rip at 168): in the
    // entry or the wait, the sentry's SIGURG is ignored (the thread is about to hand the
    // sentry a call, or has; the sentry delivers signals when it answers); in the tail, which
    // restores the application's registers, the frame is given all of them, so the signal
    // is taken as if the tail had finished.
    "mov rax, qword ptr [rdx + 168]",
    "lea r11, [rip + bulkhead_systrap_fast_entry]",
    "cmp rax, r11",
    "jb 22f",
    "lea r11, [rip + bulkhead_systrap_fast_tail]",
    "cmp rax, r11",
    "jb 21f",
    "lea r11, [rip + bulkhead_systrap_fast_end]",
    "cmp rax, r11",
    "jae 22f",
    "xor ecx, ecx",
    "20:",
    "mov rax, qword ptr [r12 + rcx*8 + {c_fregs}]",
    "mov qword ptr [rdx + rcx*8 + 40], rax",
    "inc ecx",
    "cmp ecx, 18",
    "jne 20b",
    "mov rax, qword ptr [r12 + {c_frax}]",
    "mov qword ptr [rdx + 144], rax", // rax: the answer, kept apart
    "jmp 22f",
    // Swallowed: the thread goes on with SIGURG blocked (so the sentry's next kick goes to
    // another thread) and says so; the sentry, woken if it sleeps, kicks again.
    "21:",
    "cmp edi, {sigurg}",
    "jne 22f",
    "or qword ptr [rdx + {uc_sigmask}], {urg_bit}",
    "mov dword ptr [r12 + {c_masked}], 1",
    "mov dword ptr [r12 + {c_kick}], 1",
    "movabs r13, {global}",
    "mfence",
    "cmp dword ptr [r13 + {g_sleeping}], 0",
    "je 23f",
    "mov eax, {sys_write}",
    "mov edi, dword ptr [r13 + {g_efd}]",
    "lea rsi, [r13 + {g_one}]",
    "mov edx, 8",
    "syscall",
    "23:",
    "add rsp, 8",
    "mov eax, {sys_rt_sigreturn}",
    "syscall",
    // Any other return from the handler restores the stub's own mask (SIGURG unblocked).
    "22:",
    "movabs r13, {global}",
    "mov rax, qword ptr [r13 + {g_mask}]",
    "mov qword ptr [rdx + {uc_sigmask}], rax",
    "mov dword ptr [r12 + {c_masked}], 0",
    "mov dword ptr [r12 + {c_signo}], edi",
    "mov qword ptr [r12 + {c_info}], rsi",
    "mov qword ptr [r12 + {c_ctx}], rdx",
    "mov qword ptr [r12 + {c_rsp}], rsp",
    "movabs r13, {global}",
    "cmp dword ptr [r13 + {g_fsgsbase}], 0",
    "je 2f",
    "rdfsbase rax",
    "mov qword ptr [r12 + {c_fs}], rax",
    "rdgsbase rax",
    "mov qword ptr [r12 + {c_gs}], rax",
    "2:",
    "mov dword ptr [r12 + {c_state}], {st_trapped}",
    "mfence",
    "cmp dword ptr [r13 + {g_sleeping}], 0",
    "je 3f",
    // write(efd, &one, 8): the sentry sleeps in poll.
    "mov eax, {sys_write}",
    "mov edi, dword ptr [r13 + {g_efd}]",
    "lea rsi, [r13 + {g_one}]",
    "mov edx, 8",
    "syscall",
    // Wait for a command: spin, then sleep on the futex.
    "3:",
    ".Lbst_wait:",
    "lea r14, [rip + .Lbst_wait]",
    "mov r15d, {spin}",
    "4:",
    "mov eax, dword ptr [r12 + {c_state}]",
    "cmp eax, {st_resume}",
    "je 7f",
    "cmp eax, {st_call}",
    "je 6f",
    "cmp eax, {st_park}",
    "je 10f",
    "dec r15d",
    "jz 10f",
    "test r15d, {yield_mask}",
    "jnz 4b",
    // Now and then: let whoever waits for this CPU run (on a busy machine, the sentry that
    // is to answer may be the one waiting).
    "mov eax, {sys_sched_yield}",
    "syscall",
    "jmp 4b",
    // PARK (the call blocks) or the spin is over: sleep on the futex.
    "10:",
    "mov dword ptr [r12 + {c_waiting}], 1",
    "mfence",
    "mov edx, dword ptr [r12 + {c_state}]",
    "cmp edx, {st_resume}",
    "je 5f",
    "cmp edx, {st_call}",
    "je 5f",
    "mov eax, {sys_futex}",
    "lea rdi, [r12 + {c_state}]",
    "xor esi, esi", // FUTEX_WAIT (shared: the word is in a shared mapping)
    "xor r10d, r10d",
    "syscall",
    "5:",
    "mov dword ptr [r12 + {c_waiting}], 0",
    "jmp 3b",
    // CALL: the host call the sentry asked for.
    "6:",
    ".Lbst_call:",
    "mov rax, qword ptr [r12 + {c_nr}]",
    "mov rdi, qword ptr [r12 + {c_args}]",
    "mov rsi, qword ptr [r12 + {c_args} + 8]",
    "mov rdx, qword ptr [r12 + {c_args} + 16]",
    "mov r10, qword ptr [r12 + {c_args} + 24]",
    "mov r8, qword ptr [r12 + {c_args} + 32]",
    "mov r9, qword ptr [r12 + {c_args} + 40]",
    "syscall",
    // A thread this clone made runs on its own block's stack: it starts there.
    "mov rcx, rsp",
    "and rcx, {mask}",
    "cmp rcx, r12",
    "jne bulkhead_systrap_thread_start",
    "mov qword ptr [r12 + {c_ret}], rax",
    "mov dword ptr [r12 + {c_state}], {st_done}",
    "mov eax, {sys_futex}",
    "lea rdi, [r12 + {c_state}]",
    "mov esi, 1", // FUTEX_WAKE
    "mov edx, 1",
    "syscall",
    // Back to the wait this CALL came from (the handler's or the fast path's).
    "jmp r14",
    // RESUME: fs/gs base if the sentry changed them, then back to the application.
    "7:",
    "test dword ptr [r12 + {c_flags}], {f_set_fs}",
    "jz 8f",
    "mov eax, {sys_arch_prctl}",
    "mov edi, {arch_set_fs}",
    "mov rsi, qword ptr [r12 + {c_fs}]",
    "syscall",
    "8:",
    "test dword ptr [r12 + {c_flags}], {f_set_gs}",
    "jz 9f",
    "mov eax, {sys_arch_prctl}",
    "mov edi, {arch_set_gs}",
    "mov rsi, qword ptr [r12 + {c_gs}]",
    "syscall",
    "9:",
    "mov dword ptr [r12 + {c_flags}], 0",
    "mov dword ptr [r12 + {c_state}], {st_running}",
    "mov rsp, qword ptr [r12 + {c_rsp}]",
    "add rsp, 8",
    "mov eax, {sys_rt_sigreturn}",
    "syscall",
    "ud2",
    // --- thread_start: rsp is near the top of the thread's own block.
    ".globl bulkhead_systrap_thread_start",
    "bulkhead_systrap_thread_start:",
    "mov r12, rsp",
    "and r12, {mask}",
    "lea rax, [r12 + {stack_off}]",
    "mov qword ptr [r12 + {c_ss}], rax",
    "mov qword ptr [r12 + {c_ss} + 8], 0",
    "mov qword ptr [r12 + {c_ss} + 16], {stack_size}",
    "mov eax, {sys_sigaltstack}",
    "lea rdi, [r12 + {c_ss}]",
    "xor esi, esi",
    "syscall",
    // GS base: the thread's block, which the fast entry finds as gs:[C_SELF].
    "mov qword ptr [r12 + {c_self}], r12",
    "mov eax, {sys_arch_prctl}",
    "mov edi, {arch_set_gs}",
    "mov rsi, r12",
    "syscall",
    "movabs r13, {global}",
    "mov eax, {sys_rt_sigprocmask}",
    "mov edi, 2", // SIG_SETMASK
    "lea rsi, [r13 + {g_mask}]",
    "xor edx, edx",
    "mov r10d, 8",
    "syscall",
    "int3",
    "ud2",
    // --- process_start: rsp is near the top of block 0; r12/r13 and r14/r15 are the two
    // ranges above the stub range to unmap (around the host's vDSO, which stays).
    ".globl bulkhead_systrap_process_start",
    "bulkhead_systrap_process_start:",
    "mov eax, {sys_munmap}",
    "xor edi, edi",
    "movabs rsi, {stub_addr}",
    "syscall",
    "mov eax, {sys_munmap}",
    "mov rdi, r12",
    "mov rsi, r13",
    "syscall",
    "mov eax, {sys_munmap}",
    "mov rdi, r14",
    "mov rsi, r15",
    "syscall",
    "jmp bulkhead_systrap_thread_start",
    // --- the sa_restorer every handler is registered with (never reached: the handler
    // returns through its own rt_sigreturn).
    ".globl bulkhead_systrap_restorer",
    "bulkhead_systrap_restorer:",
    "mov eax, {sys_rt_sigreturn}",
    "syscall",
    "ud2",
    // --- fast_entry: a patched call site's trampoline jumps here with eax = the call's
    // number and rcx = its return address (r11 is free: a system call clobbers rcx and r11).
    // No signal: the registers go into the block (found through GS) and the sentry is handed
    // the call as a FASTCALL. Nothing is written below the application's rsp: the fast path
    // runs on its own small stack at the top of the control page.
    ".globl bulkhead_systrap_fast_entry",
    "bulkhead_systrap_fast_entry:",
    "mov r11, rsp",
    "mov rsp, qword ptr gs:[{c_self}]",
    "lea rsp, [rsp + {fast_stack}]",
    "push r11",
    "pushfq",
    "pop r11",
    // Each register is stored only where it changed since the last call: a line the sentry
    // read stays shared, and an unchanged one costs no transfer to the sentry and back.
    "mov qword ptr gs:[{c_frax}], rax",
    "cmp qword ptr gs:[{c_fregs} + 136], r11",
    "je 40f",
    "mov qword ptr gs:[{c_fregs} + 136], r11",
    "40:",
    "cmp qword ptr gs:[{c_fregs} + 24], r11",
    "je 41f",
    "mov qword ptr gs:[{c_fregs} + 24], r11",
    "41:",
    "mov r11, qword ptr [rsp]",
    "cmp qword ptr gs:[{c_fregs} + 120], r11",
    "je 42f",
    "mov qword ptr gs:[{c_fregs} + 120], r11",
    "42:",
    "cmp qword ptr gs:[{c_fregs} + 112], rcx",
    "je 43f",
    "mov qword ptr gs:[{c_fregs} + 112], rcx",
    "43:",
    "cmp qword ptr gs:[{c_fregs} + 128], rcx",
    "je 44f",
    "mov qword ptr gs:[{c_fregs} + 128], rcx",
    "44:",
    "cmp qword ptr gs:[{c_fregs} + 104], rax",
    "je 45f",
    "mov qword ptr gs:[{c_fregs} + 104], rax",
    "45:",
    "cmp qword ptr gs:[{c_fregs} + 0], r8",
    "je 46f",
    "mov qword ptr gs:[{c_fregs} + 0], r8",
    "46:",
    "cmp qword ptr gs:[{c_fregs} + 8], r9",
    "je 47f",
    "mov qword ptr gs:[{c_fregs} + 8], r9",
    "47:",
    "cmp qword ptr gs:[{c_fregs} + 16], r10",
    "je 48f",
    "mov qword ptr gs:[{c_fregs} + 16], r10",
    "48:",
    "cmp qword ptr gs:[{c_fregs} + 32], r12",
    "je 49f",
    "mov qword ptr gs:[{c_fregs} + 32], r12",
    "49:",
    "cmp qword ptr gs:[{c_fregs} + 40], r13",
    "je 50f",
    "mov qword ptr gs:[{c_fregs} + 40], r13",
    "50:",
    "cmp qword ptr gs:[{c_fregs} + 48], r14",
    "je 51f",
    "mov qword ptr gs:[{c_fregs} + 48], r14",
    "51:",
    "cmp qword ptr gs:[{c_fregs} + 56], r15",
    "je 52f",
    "mov qword ptr gs:[{c_fregs} + 56], r15",
    "52:",
    "cmp qword ptr gs:[{c_fregs} + 64], rdi",
    "je 53f",
    "mov qword ptr gs:[{c_fregs} + 64], rdi",
    "53:",
    "cmp qword ptr gs:[{c_fregs} + 72], rsi",
    "je 54f",
    "mov qword ptr gs:[{c_fregs} + 72], rsi",
    "54:",
    "cmp qword ptr gs:[{c_fregs} + 80], rbp",
    "je 55f",
    "mov qword ptr gs:[{c_fregs} + 80], rbp",
    "55:",
    "cmp qword ptr gs:[{c_fregs} + 88], rbx",
    "je 56f",
    "mov qword ptr gs:[{c_fregs} + 88], rbx",
    "56:",
    "cmp qword ptr gs:[{c_fregs} + 96], rdx",
    "je 57f",
    "mov qword ptr gs:[{c_fregs} + 96], rdx",
    "57:",
    "mov r12, qword ptr gs:[{c_self}]",
    "movabs r13, {global}",
    "cmp dword ptr [r13 + {g_fsgsbase}], 0",
    "je 30f",
    "rdfsbase rax",
    "mov qword ptr [r12 + {c_fs}], rax",
    "30:",
    "mov dword ptr [r12 + {c_state}], {st_fastcall}",
    "mfence",
    "cmp dword ptr [r13 + {g_sleeping}], 0",
    "je 31f",
    "mov eax, {sys_write}",
    "mov edi, dword ptr [r13 + {g_efd}]",
    "lea rsi, [r13 + {g_one}]",
    "mov edx, 8",
    "syscall",
    "31:",
    ".Lbst_fast_wait:",
    "lea r14, [rip + .Lbst_fast_wait]",
    "mov r15d, {spin}",
    "32:",
    "mov eax, dword ptr [r12 + {c_state}]",
    "cmp eax, {st_fast_resume}",
    "je 34f",
    "cmp eax, {st_call}",
    "je .Lbst_call",
    "cmp eax, {st_park}",
    "je 37f",
    "dec r15d",
    "jz 37f",
    "test r15d, {yield_mask}",
    "jnz 32b",
    "mov eax, {sys_sched_yield}",
    "syscall",
    "jmp 32b",
    "37:",
    "mov dword ptr [r12 + {c_waiting}], 1",
    "mfence",
    "mov edx, dword ptr [r12 + {c_state}]",
    "cmp edx, {st_fast_resume}",
    "je 33f",
    "cmp edx, {st_call}",
    "je 33f",
    "mov eax, {sys_futex}",
    "lea rdi, [r12 + {c_state}]",
    "xor esi, esi",
    "xor r10d, r10d",
    "syscall",
    "33:",
    "mov dword ptr [r12 + {c_waiting}], 0",
    "jmp 31b",
    // FAST_RESUME: the fs base if the sentry changed it (a gs base change never comes this
    // way: the sentry moves the thread to the trap path first), then the tail.
    "34:",
    "cmp dword ptr [r12 + {c_masked}], 0",
    "je 36f",
    "mov eax, {sys_rt_sigprocmask}",
    "mov edi, 2", // SIG_SETMASK
    "lea rsi, [r13 + {g_mask}]",
    "xor edx, edx",
    "mov r10d, 8",
    "syscall",
    "mov dword ptr [r12 + {c_masked}], 0",
    "36:",
    "mov eax, dword ptr [r12 + {c_flags}]",
    "test eax, eax",
    "jz bulkhead_systrap_fast_tail",
    "test eax, {f_set_fs}",
    "jz 35f",
    "mov eax, {sys_arch_prctl}",
    "mov edi, {arch_set_fs}",
    "mov rsi, qword ptr [r12 + {c_fs}]",
    "syscall",
    "35:",
    "mov dword ptr [r12 + {c_flags}], 0",
    // The tail: every register from C_FREGS, then on to the saved rip. A signal taken in
    // here is delivered as if the tail were done (see the handler).
    ".globl bulkhead_systrap_fast_tail",
    "bulkhead_systrap_fast_tail:",
    "push qword ptr gs:[{c_fregs} + 136]",
    "popfq",
    "mov r8, qword ptr gs:[{c_fregs}]",
    "mov r9, qword ptr gs:[{c_fregs} + 8]",
    "mov r10, qword ptr gs:[{c_fregs} + 16]",
    "mov r11, qword ptr gs:[{c_fregs} + 24]",
    "mov r12, qword ptr gs:[{c_fregs} + 32]",
    "mov r13, qword ptr gs:[{c_fregs} + 40]",
    "mov r14, qword ptr gs:[{c_fregs} + 48]",
    "mov r15, qword ptr gs:[{c_fregs} + 56]",
    "mov rdi, qword ptr gs:[{c_fregs} + 64]",
    "mov rsi, qword ptr gs:[{c_fregs} + 72]",
    "mov rbp, qword ptr gs:[{c_fregs} + 80]",
    "mov rbx, qword ptr gs:[{c_fregs} + 88]",
    "mov rdx, qword ptr gs:[{c_fregs} + 96]",
    "mov rax, qword ptr gs:[{c_frax}]",
    "mov rcx, qword ptr gs:[{c_fregs} + 112]",
    "mov rsp, qword ptr gs:[{c_fregs} + 120]",
    "jmp qword ptr gs:[{c_fregs} + 128]",
    ".globl bulkhead_systrap_fast_end",
    "bulkhead_systrap_fast_end:",
    // --- sync: where the sentry sends a thread stopped in a fast call when it needs the
    // thread's whole state (FPU, a gs base of the application's): the tail restores the
    // registers and jumps here, and the trap leaves everything in a signal frame.
    ".globl bulkhead_systrap_sync",
    "bulkhead_systrap_sync:",
    "int3",
    "ud2",
    ".globl bulkhead_systrap_end",
    "bulkhead_systrap_end:",
    ".popsection",
    mask = const -(BLOCK as i64),
    global = const GLOBAL_ADDR,
    stub_addr = const STUB_ADDR,
    stack_off = const STACK_OFF,
    stack_size = const BLOCK - STACK_OFF,
    spin = const STUB_SPIN,
    yield_mask = const STUB_YIELD_EVERY - 1,
    sys_sched_yield = const libc::SYS_sched_yield,
    c_state = const C_STATE,
    c_waiting = const C_WAITING,
    c_signo = const C_SIGNO,
    c_flags = const C_FLAGS,
    c_ctx = const C_CTX,
    c_info = const C_INFO,
    c_rsp = const C_RSP,
    c_fs = const C_FS,
    c_gs = const C_GS,
    c_nr = const C_NR,
    c_args = const C_ARGS,
    c_ret = const C_RET,
    c_ss = const C_SS,
    c_self = const C_SELF,
    c_kick = const C_KICK,
    c_masked = const C_MASKED,
    uc_sigmask = const 296,
    urg_bit = const 1u64 << (libc::SIGURG - 1),
    c_fregs = const C_FREGS,
    c_frax = const C_FRAX,
    fast_stack = const FAST_STACK,
    sigurg = const libc::SIGURG,
    st_fastcall = const ST_FASTCALL,
    st_fast_resume = const ST_FAST_RESUME,
    g_sleeping = const G_SLEEPING,
    g_efd = const G_EFD,
    g_one = const G_ONE,
    g_mask = const G_MASK,
    g_fsgsbase = const G_FSGSBASE,
    st_running = const ST_RUNNING,
    st_trapped = const ST_TRAPPED,
    st_resume = const ST_RESUME,
    st_call = const ST_CALL,
    st_park = const ST_PARK,
    st_done = const ST_DONE,
    f_set_fs = const F_SET_FS,
    f_set_gs = const F_SET_GS,
    sys_write = const libc::SYS_write,
    sys_futex = const libc::SYS_futex,
    sys_arch_prctl = const libc::SYS_arch_prctl,
    sys_rt_sigreturn = const libc::SYS_rt_sigreturn,
    sys_sigaltstack = const libc::SYS_sigaltstack,
    sys_rt_sigprocmask = const libc::SYS_rt_sigprocmask,
    sys_munmap = const libc::SYS_munmap,
    arch_set_fs = const ARCH_SET_FS,
    arch_set_gs = const ARCH_SET_GS,
);

extern "C" {
    static bulkhead_systrap_start: u8;
    static bulkhead_systrap_handler: u8;
    static bulkhead_systrap_thread_start: u8;
    static bulkhead_systrap_process_start: u8;
    static bulkhead_systrap_restorer: u8;
    static bulkhead_systrap_end: u8;
    static bulkhead_systrap_fast_entry: u8;
    static bulkhead_systrap_sync: u8;
}

/// Where the systrap code starts in the stub page (after ptrace's three bytes).
pub const CODE_OFF: u64 = 0x100;

/// The stub code's bytes, as linked into the sentry.
pub fn code() -> &'static [u8] {
    let (start, end) = (
        std::ptr::addr_of!(bulkhead_systrap_start),
        std::ptr::addr_of!(bulkhead_systrap_end),
    );
    let len = end as usize - start as usize;
    // SAFETY: both symbols delimit one run of bytes in the sentry's text (the section above),
    // mapped read-only for the life of the process.
    unsafe { std::slice::from_raw_parts(start, len) }
}

/// The address in every stub of the code at `sym`.
fn at(sym: *const u8) -> u64 {
    let start = std::ptr::addr_of!(bulkhead_systrap_start);
    STUB_ADDR + CODE_OFF + (sym as u64 - start as u64)
}

pub fn handler_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_handler))
}

pub fn process_start_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_process_start))
}

pub fn restorer_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_restorer))
}

/// Where a patched call site's trampoline jumps (stub.rs's fast_entry).
pub fn fast_entry_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_fast_entry))
}

/// The int3 a thread stopped in a fast call is sent to when the sentry needs its whole state.
pub fn sync_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_sync))
}

#[allow(dead_code)]
pub fn thread_start_addr() -> u64 {
    at(std::ptr::addr_of!(bulkhead_systrap_thread_start))
}
