//! The config's `linux.seccomp`, with the OCI semantics, built with libseccomp: default action
//! and errno, architectures, flags, and per-rule actions with argument conditions.

use crate::error::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};
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

/// A filter built from the config, and the syscall names this libseccomp does not know (they
/// are skipped, as runc does: profiles list calls of newer kernels).
pub struct Built {
    pub filter: ScmpFilterContext,
    pub unknown: Vec<String>,
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
    for flag in s.flags().as_deref().unwrap_or(&[]) {
        match flag {
            F::SeccompFilterFlagTsync => f.set_ctl_tsync(true),
            F::SeccompFilterFlagLog => f.set_ctl_log(true),
            F::SeccompFilterFlagSpecAllow => f.set_ctl_ssb(true),
            F::SeccompFilterFlagWaitKillableRecv => f.set_ctl_waitkill(true),
        }
        .map_err(e(format!("linux.seccomp.flags: {flag}")))?;
    }
    let mut unknown = Vec::new();
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
                unknown.push(name.clone());
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
    Ok(Built { filter: f, unknown })
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
pub fn load(s: &LinuxSeccomp) -> Result<Option<std::os::fd::OwnedFd>> {
    let built = build(s)?;
    built
        .filter
        .load()
        .map_err(|err| Error::Config(format!("linux.seccomp: load the filter: {err}")))?;
    if !uses_notify(s) {
        return Ok(None);
    }
    let fd = built
        .filter
        .get_notify_fd()
        .map_err(|err| Error::Config(format!("linux.seccomp: notify fd: {err}")))?;
    Ok(Some(owned(fd)))
}

fn owned(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: libseccomp hands over a fresh notify fd that the filter context does not close
    // (it lives until we close it), so it is ours to own.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}
