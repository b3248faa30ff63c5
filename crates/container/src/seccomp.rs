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
    let prog = export(&built.filter)?;
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
