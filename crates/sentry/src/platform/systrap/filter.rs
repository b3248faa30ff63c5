//! The stub's seccomp filter (classic BPF, built here: libseccomp cannot test the instruction
//! pointer). A system call from anywhere but the stub code page traps (SIGSYS, served by the
//! sentry); from the stub code page, only the host calls the platform needs pass, with their
//! arguments checked, and anything else kills the stub process. So application code that
//! jumps onto one of the stub's `syscall` instructions can do no more than the stub does for
//! the sentry: map the memory file, wait and wake on futexes, start a thread of the stub, set
//! its own fs/gs base, write the sentry's eventfd.
//!
//! The sentry's own filter (confine.rs) still applies underneath: a call must pass both.

use super::layout::{ARCH_SET_FS, ARCH_SET_GS};
use crate::platform::ptrace::{PAGE, STUB_ADDR};
use bulkhead_linux::seccomp::Insn;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

// struct seccomp_data offsets.
const NR: u32 = 0;
const ARCH: u32 = 4;
const IP_LO: u32 = 8;
const IP_HI: u32 = 12;
const ARG0_LO: u32 = 16;
const ARG0_HI: u32 = 20;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

fn ld(off: u32) -> Insn {
    Insn {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: off,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> Insn {
    Insn {
        code: JEQ_K,
        jt,
        jf,
        k,
    }
}

fn jge(k: u32, jt: u8, jf: u8) -> Insn {
    Insn {
        code: JGE_K,
        jt,
        jf,
        k,
    }
}

fn ret(k: u32) -> Insn {
    Insn {
        code: RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A host call the stub may make, and the value its first argument must have (None: any).
struct Allowed {
    nr: i64,
    arg0: Option<u64>,
}

fn allowed(efd: i32) -> Vec<Allowed> {
    let any = |nr| Allowed { nr, arg0: None };
    let with = |nr, v: u64| Allowed { nr, arg0: Some(v) };
    vec![
        any(libc::SYS_rt_sigreturn),
        any(libc::SYS_futex),
        any(libc::SYS_sched_yield),
        // mmap is checked by the sentry's filter too: the memory file, shared and fixed.
        any(libc::SYS_mmap),
        any(libc::SYS_munmap),
        any(libc::SYS_sigaltstack),
        any(libc::SYS_rt_sigprocmask),
        with(libc::SYS_write, efd as u64),
        with(libc::SYS_clone, crate::platform::ptrace::THREAD_FLAGS),
        with(libc::SYS_arch_prctl, ARCH_SET_FS),
        with(libc::SYS_arch_prctl, ARCH_SET_GS),
    ]
}

/// The filter a stub process installs; `efd` is the sentry's eventfd (the only fd it may
/// write).
pub fn program(efd: i32) -> Vec<Insn> {
    let lo = STUB_ADDR as u32;
    let hi = (STUB_ADDR >> 32) as u32;
    let end_lo = (STUB_ADDR + PAGE) as u32;
    let mut p = vec![
        // Another ABI (int 0x80, x32 numbers pass as x86-64 with bit 30): the sentry answers.
        ld(ARCH),
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        ret(RET_TRAP),
        // Outside the stub code page: the application's call, for the sentry.
        ld(IP_HI),
        jeq(hi, 1, 0),
        ret(RET_TRAP),
        ld(IP_LO),
        jge(lo, 1, 0),
        ret(RET_TRAP),
        jge(end_lo, 0, 1),
        ret(RET_TRAP),
        ld(NR),
    ];
    // Each allowed call: [jeq nr] ALLOW; or with an argument test
    //   jeq nr (else skip the block) ; ld arg0 lo ; jeq (else ->reload) ; ld arg0 hi ;
    //   jeq (else ->reload) ; ALLOW ; reload: ld nr
    // so the accumulator holds the number again for the next test.
    for a in allowed(efd) {
        match a.arg0 {
            None => {
                p.push(jeq(a.nr as u32, 0, 1));
                p.push(ret(RET_ALLOW));
            }
            Some(v) => {
                p.push(jeq(a.nr as u32, 0, 6));
                p.push(ld(ARG0_LO));
                p.push(jeq(v as u32, 0, 3));
                p.push(ld(ARG0_HI));
                p.push(jeq((v >> 32) as u32, 0, 1));
                p.push(ret(RET_ALLOW));
                p.push(ld(NR));
            }
        }
    }
    p.push(ret(RET_KILL_PROCESS));
    p
}
