//! The config's `linux.seccomp`, with the OCI semantics, built with libseccomp: default action
//! and errno, architectures, flags, and per-rule actions with argument conditions.

use crate::error::{Error, Result};
use bulkhead_linux::seccomp as sys;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::str::FromStr;

fn action(a: A, errno: Option<u32>) -> Result<ScmpAction> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno),
        A::ScmpActTrace => ScmpAction::Trace(errno as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActNotify => ScmpAction::Notify,
    })
}

fn compare(op: Op, value: u64, value_two: Option<u64>) -> (ScmpCompareOp, u64) {
    match op {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, value),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // OCI: value is the mask, valueTwo the datum the masked argument must equal.
        Op::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    }
}

/// A filter built from the config: the libseccomp context, the seccomp(2) flags to load it
/// with, and the system calls skipped because they are newer than this libseccomp.
pub struct Built {
    pub filter: ScmpFilterContext,
    pub flags: libc::c_ulong,
    pub skipped: Vec<String>,
    /// Per architecture of the profile, the newest system call it names: calls newer than
    /// that get ENOSYS (see `enosys_stub`).
    pub newest: Vec<(ScmpArch, u32)>,
}

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What runc 1.1 puts in front of libseccomp's program: a call newer than every call the
/// profile names (for an architecture the profile lists) is one the profile's author could not
/// know, and gets ENOSYS rather than the default action, so that a C library falls back to an
/// older call (clone3 to clone) as it would on an older kernel. Left out when the default
/// action allows (ALLOW, LOG) or is ENOSYS already.
fn enosys_stub(newest: &[(ScmpArch, u32)]) -> Vec<sys::Insn> {
    let insn = |code: u32, jt: u8, jf: u8, k: u32| sys::Insn {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let ld = |offset: u32| insn(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, offset);
    // Each check is a block that falls through to the next one when it does not apply; the
    // blocks are followed by a jump over the ENOSYS return, into libseccomp's program.
    let mut blocks: Vec<Vec<sys::Insn>> = Vec::new();
    for (arch, last) in newest {
        let (audit, x32) = match arch {
            ScmpArch::X8664 => (AUDIT_ARCH_X86_64, Some(false)),
            ScmpArch::X32 => (AUDIT_ARCH_X86_64, Some(true)),
            ScmpArch::X86 => (AUDIT_ARCH_I386, None),
            _ => continue,
        };
        // Filled in below: jumps to the end of the block and to the ENOSYS return.
        let mut b = vec![
            ld(4),
            insn(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 0, audit),
        ];
        b.push(ld(0));
        if let Some(x32) = x32 {
            // x86-64 and x32 share the audit arch; x32's numbers carry X32_SYSCALL_BIT.
            let (jt, jf) = if x32 { (0, 0xff) } else { (0xff, 0) };
            b.push(insn(
                libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K,
                jt,
                jf,
                X32_SYSCALL_BIT,
            ));
        }
        b.push(insn(
            libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K,
            0xfe,
            0,
            *last,
        ));
        blocks.push(b);
    }
    if blocks.is_empty() {
        return Vec::new();
    }
    let total: usize = blocks.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total + 2);
    for b in blocks {
        let end = out.len() + b.len();
        for (i, mut x) in b.into_iter().enumerate() {
            let at = out.len();
            let to_end = (end - at - 1) as u8;
            let to_enosys = (total + 1 - at - 1) as u8;
            if i == 1 {
                x.jf = to_end; // another architecture
            }
            for j in [&mut x.jt, &mut x.jf] {
                match *j {
                    0xff => *j = to_end,
                    0xfe => *j = to_enosys,
                    _ => {}
                }
            }
            out.push(x);
        }
    }
    out.push(insn(libc::BPF_JMP | libc::BPF_JA, 0, 0, 1));
    out.push(insn(
        libc::BPF_RET | libc::BPF_K,
        0,
        0,
        libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    ));
    out
}

/// System calls added to Linux since 5.0. A name libseccomp does not know is a typo unless it is
/// one of these (a profile written for a newer kernel and libseccomp): those are skipped, as runc
/// skips every unknown name; any other unknown name is an error.
const RECENT_SYSCALLS: &[&str] = &[
    "cachestat",
    "clone3",
    "close_range",
    "epoll_pwait2",
    "faccessat2",
    "fchmodat2",
    "file_getattr",
    "file_setattr",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "getxattrat",
    "io_pgetevents",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "listmount",
    "listxattrat",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "map_shadow_stack",
    "memfd_secret",
    "mount_setattr",
    "move_mount",
    "mseal",
    "open_tree",
    "open_tree_attr",
    "openat2",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "process_madvise",
    "process_mrelease",
    "quotactl_fd",
    "removexattrat",
    "rseq",
    "set_mempolicy_home_node",
    "setxattrat",
    "statmount",
    "uretprobe",
];

/// The seccomp(2) flags for the config's `flags` and rules.
fn kernel_flags(s: &LinuxSeccomp) -> Result<libc::c_ulong> {
    let notify = uses_notify(s);
    let mut flags = 0;
    for flag in s.flags().as_deref().unwrap_or(&[]) {
        flags |= match flag {
            F::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            F::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            F::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv if !notify => {
                return Err(Error::Config(format!(
                    "linux.seccomp.flags: {flag} needs a rule with SCMP_ACT_NOTIFY"
                )))
            }
            F::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        };
    }
    if notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // The kernel takes TSYNC with a listener only if a failed sync reports ESRCH (a
        // thread id would be indistinguishable from the listener fd).
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    Ok(flags)
}

pub fn build(s: &LinuxSeccomp) -> Result<Built> {
    if s.default_action() == A::ScmpActNotify {
        return Err(Error::Config(
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default".into(),
        ));
    }
    if uses_notify(s) && s.listener_path().is_none() {
        return Err(Error::Config(
            "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY".into(),
        ));
    }
    for (i, rule) in s.syscalls().as_deref().unwrap_or(&[]).iter().enumerate() {
        if rule.action() == A::ScmpActNotify && rule.names().iter().any(|n| n == "write") {
            // As runc refuses it: the runtime's own writes between the filter and exec (the
            // set-up channel, the terminal) would wait on the listener.
            return Err(Error::Config(format!(
                "linux.seccomp.syscalls[{i}]: SCMP_ACT_NOTIFY cannot be used for the write syscall"
            )));
        }
    }
    let e = |what: String| {
        move |err: libseccomp::error::SeccompError| Error::Config(format!("{what}: {err}"))
    };
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut f = ScmpFilterContext::new(default).map_err(e("linux.seccomp".into()))?;
    // no_new_privs is the config's business (process.noNewPrivileges), not libseccomp's.
    f.set_ctl_nnp(false).map_err(e("linux.seccomp".into()))?;
    for a in s.architectures().as_deref().unwrap_or(&[]) {
        let name = format!("{a}");
        let arch =
            ScmpArch::from_str(&name).map_err(e(format!("linux.seccomp.architectures: {name}")))?;
        f.add_arch(arch)
            .map_err(e(format!("linux.seccomp.architectures: {name}")))?;
    }
    let flags = kernel_flags(s)?;
    let mut skipped = Vec::new();
    let permissive = matches!(s.default_action(), A::ScmpActAllow | A::ScmpActLog)
        || (s.default_action() == A::ScmpActErrno
            && s.default_errno_ret() == Some(libc::ENOSYS as u32));
    let mut newest: Vec<(ScmpArch, u32)> = Vec::new();
    for a in s.architectures().as_deref().unwrap_or(&[]) {
        let Ok(arch) = ScmpArch::from_str(&format!("{a}")) else {
            continue;
        };
        if permissive || newest.iter().any(|(x, _)| *x == arch) {
            continue;
        }
        let last = s
            .syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .flat_map(|r| r.names())
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(|sc| i32::from(sc) as u32)
            .max();
        if let Some(last) = last {
            newest.push((arch, last));
        }
    }
    for (i, rule) in s.syscalls().as_deref().unwrap_or(&[]).iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue; // libseccomp refuses a rule that repeats the default
        }
        let args = rule.args().as_deref().unwrap_or(&[]);
        for (j, a) in args.iter().enumerate() {
            if a.index() > 5 {
                return Err(Error::Config(format!(
                    "{field}.args[{j}].index: {} is not 0..5",
                    a.index()
                )));
            }
        }
        let conds: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let (op, datum) = compare(a.op(), a.value(), a.value_two());
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        // Several conditions on one argument cannot share a rule: each gets its own (an OR).
        let mut idx: Vec<usize> = args.iter().map(|a| a.index()).collect();
        idx.sort_unstable();
        let repeated = idx.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                if !RECENT_SYSCALLS.contains(&name.as_str()) {
                    return Err(Error::Config(format!(
                        "{field}.names: unknown system call {name:?}"
                    )));
                }
                skipped.push(name.clone());
                continue;
            };
            let res = if conds.is_empty() {
                f.add_rule(act, sc)
            } else if repeated {
                conds
                    .iter()
                    .try_for_each(|c| {
                        f.add_rule_conditional(act, sc, std::slice::from_ref(c))
                            .map(|_| ())
                    })
                    .map(|_| &mut f)
            } else {
                f.add_rule_conditional(act, sc, &conds)
            };
            res.map_err(e(format!("{field}: {name}")))?;
        }
    }
    Ok(Built {
        filter: f,
        flags,
        skipped,
        newest,
    })
}

/// Whether a rule hands calls to a user-space listener.
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|r| r.action() == A::ScmpActNotify)
}

/// Builds and loads the filter into the calling process; returns the notify fd when a rule
/// uses SCMP_ACT_NOTIFY (the runtime passes it to the listener).
pub fn load(s: &LinuxSeccomp) -> Result<Option<OwnedFd>> {
    let built = build(s)?;
    let mut prog = enosys_stub(&built.newest);
    prog.extend(export(&built.filter)?);
    sys::set_filter(&prog, built.flags).map_err(|err| {
        let waitkill = built.flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0;
        if waitkill && err.raw_os_error() == Some(libc::EINVAL) {
            Error::Config(format!(
                "linux.seccomp.flags: this kernel refuses SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19 or newer needed): {err}"
            ))
        } else {
            Error::Config(format!("linux.seccomp: load the filter: {err}"))
        }
    })
}

/// The compiled program, as libseccomp would load it.
fn export(f: &ScmpFilterContext) -> Result<Vec<sys::Insn>> {
    let io =
        |err: std::io::Error| Error::Config(format!("linux.seccomp: export the filter: {err}"));
    // A memory file, not a pipe: a program larger than a pipe's buffer would block the export.
    let mut file = bulkhead_linux::fd::memfd("seccomp").map_err(io)?;
    f.export_bpf(&file)
        .map_err(|err| Error::Config(format!("linux.seccomp: export the filter: {err}")))?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    sys::decode(&bytes).map_err(io)
}

/// The filter flags this kernel takes (the features document's supportedFlags).
pub fn supported_flags() -> Vec<&'static str> {
    [
        ("SECCOMP_FILTER_FLAG_TSYNC", libc::SECCOMP_FILTER_FLAG_TSYNC),
        (
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        ),
        ("SECCOMP_FILTER_FLAG_LOG", libc::SECCOMP_FILTER_FLAG_LOG),
        (
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ),
    ]
    .into_iter()
    .filter(|(_, bits)| sys::flags_known(*bits))
    .map(|(name, _)| name)
    .collect()
}

/// The version of the libseccomp linked in ("2.5.4"), as `bulkhead --version` prints it.
pub fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the stub (a tiny cBPF interpreter for the instructions it uses) on (arch, nr):
    /// Some(errno) when it returns, None when it falls through to libseccomp's program.
    fn run_stub(prog: &[sys::Insn], arch: u32, nr: u32) -> Option<u32> {
        let (mut pc, mut acc) = (0usize, 0u32);
        while pc < prog.len() {
            let x = prog[pc];
            let code = u32::from(x.code);
            pc += 1;
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                acc = if x.k == 0 { nr } else { arch };
            } else if code == libc::BPF_RET | libc::BPF_K {
                return Some(x.k & 0xffff);
            } else if code == libc::BPF_JMP | libc::BPF_JA {
                pc += x.k as usize;
            } else {
                let taken = match code & 0xf0 {
                    c if c == libc::BPF_JEQ => acc == x.k,
                    c if c == libc::BPF_JGT => acc > x.k,
                    c if c == libc::BPF_JSET => acc & x.k != 0,
                    c => panic!("unexpected jump {c:#x}"),
                };
                pc += usize::from(if taken { x.jt } else { x.jf });
            }
        }
        None
    }

    #[test]
    fn calls_newer_than_the_profile_get_enosys() {
        let x32_read = i32::from(ScmpSyscall::from_name_by_arch("read", ScmpArch::X32).unwrap());
        assert_eq!(x32_read as u32, X32_SYSCALL_BIT, "libseccomp's x32 numbers");
        let stub = enosys_stub(&[
            (ScmpArch::X8664, 334),
            (ScmpArch::X32, X32_SYSCALL_BIT | 300),
            (ScmpArch::X86, 200),
        ]);
        let enosys = Some(libc::ENOSYS as u32);
        assert_eq!(run_stub(&stub, AUDIT_ARCH_X86_64, 334), None);
        assert_eq!(run_stub(&stub, AUDIT_ARCH_X86_64, 335), enosys);
        assert_eq!(
            run_stub(&stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 300),
            None
        );
        assert_eq!(
            run_stub(&stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 301),
            enosys
        );
        assert_eq!(run_stub(&stub, AUDIT_ARCH_I386, 200), None);
        assert_eq!(run_stub(&stub, AUDIT_ARCH_I386, 201), enosys);
        assert_eq!(
            run_stub(&stub, 0xC000_00B7, 999),
            None,
            "another architecture"
        );
        // Only x86 listed: native calls are left to libseccomp's program (as runc's stub).
        let stub = enosys_stub(&[(ScmpArch::X86, 200)]);
        assert_eq!(run_stub(&stub, AUDIT_ARCH_X86_64, 999), None);
        assert_eq!(run_stub(&stub, AUDIT_ARCH_I386, 999), enosys);
        assert!(enosys_stub(&[]).is_empty());
    }
}
