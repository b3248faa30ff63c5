//! The process attributes of the current runtime spec beyond identity: personality, I/O
//! priority, scheduler, and the LSM labels (AppArmor profile, SELinux label).

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process,
};

/// personality(2): LINUX or LINUX32 (which 32-bit programs' `uname -m` shows as i686).
pub fn personality(p: &LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::Config(
            "linux.personality.flags: no flags are supported".into(),
        ));
    }
    let persona: u64 = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    bulkhead_linux::process::set_personality(persona)
        .ctx(|| "linux.personality: personality(2)".into())
}

/// ioprio_set(2) for the process.
pub fn io_priority(p: &Process) -> Result<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        return Err(Error::Config(format!(
            "process.ioPriority.priority: {} is not 0..7",
            io.priority()
        )));
    }
    bulkhead_linux::process::set_io_priority(class, io.priority() as u32)
        .ctx(|| "process.ioPriority: ioprio_set(2)".into())
}

/// sched_setattr(2) for the process.
pub fn scheduler(p: &Process) -> Result<()> {
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::Config(
                "process.scheduler.policy: SCHED_ISO is not in Linux".into(),
            ))
        }
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().as_deref().unwrap_or(&[]) {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::Config(format!(
                    "process.scheduler.flags: {other:?} is not supported"
                )))
            }
        };
    }
    let attr = bulkhead_linux::process::SchedAttr {
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    bulkhead_linux::process::set_scheduler(&attr)
        .ctx(|| "process.scheduler: sched_setattr(2)".into())
}

/// AppArmor: the profile takes effect at exec. Without AppArmor on the host a profile is an
/// error, as in runc's validation.
pub fn apparmor(p: &Process) -> Result<()> {
    let Some(profile) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if !apparmor_enabled() {
        return Err(Error::Config(format!(
            "process.apparmorProfile: {profile:?} given, but AppArmor is not enabled on this host"
        )));
    }
    let attr = if std::path::Path::new("/proc/self/attr/apparmor/exec").exists() {
        "/proc/self/attr/apparmor/exec"
    } else {
        "/proc/self/attr/exec"
    };
    std::fs::write(attr, format!("exec {profile}"))
        .ctx(|| format!("process.apparmorProfile: set {profile:?}"))
}

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

/// Whether SELinux is on (its filesystem is mounted). Ask before pivot_root: the container's
/// root does not have it.
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// SELinux: writes `label` to one of the calling thread's attributes, as runc does: `exec`
/// (the label the next execve takes) or `keycreate` (the label of keyrings it creates). On a
/// host without SELinux a label is ignored, as runc ignores it.
pub fn selinux_label(attr: &str, label: Option<&str>, enabled: bool) -> Result<()> {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if !enabled {
        return Ok(());
    }
    std::fs::write(format!("/proc/thread-self/attr/{attr}"), label)
        .ctx(|| format!("process.selinuxLabel: set the {attr} label {label:?}"))
}

/// mount(2) data carrying the SELinux mount label (linux.mountLabel) as a context= option.
pub fn with_mount_label(data: &str, label: Option<&str>) -> String {
    match label.filter(|l| !l.is_empty()) {
        None => data.to_string(),
        Some(l) if data.is_empty() => format!("context=\"{l}\""),
        Some(l) => format!("{data},context=\"{l}\""),
    }
}

#[cfg(test)]
mod selinux_tests {
    use super::*;

    #[test]
    fn mount_label_is_appended_as_a_context_option() {
        assert_eq!(with_mount_label("mode=755", None), "mode=755");
        assert_eq!(
            with_mount_label("", Some("system_u:object_r:container_file_t:s0")),
            "context=\"system_u:object_r:container_file_t:s0\""
        );
        assert_eq!(
            with_mount_label("mode=755,size=65536k", Some("l:o:t:s0")),
            "mode=755,size=65536k,context=\"l:o:t:s0\""
        );
        assert_eq!(with_mount_label("mode=755", Some("")), "mode=755");
    }

    #[test]
    fn a_label_without_selinux_is_ignored() {
        assert!(selinux_label("exec", Some("u:r:t:s0"), false).is_ok());
        assert!(selinux_label("exec", None, true).is_ok());
    }
}
