//! Who the container's process is: uid, gids, capabilities (all five sets), rlimits and
//! no_new_privs. The order matters: capabilities must survive the switch away from uid 0, so
//! KEEPCAPS is set before the switch and the final sets are applied after it.

use crate::error::{Context, Error, Result};
use bulkhead_linux::process as sys;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimit, PosixRlimitType, User};
use std::str::FromStr;

/// The capability sets to apply, already converted and checked.
#[derive(Debug, Default, Clone)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<Capabilities>, field: &str) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap = Cap::from_str(&name).map_err(|_| {
            Error::Config(format!(
                "process.capabilities.{field}: unknown capability {name}"
            ))
        })?;
        // A capability the running kernel does not know cannot be granted; runc skips it too.
        if caps::all().contains(&cap) && cap.index() <= last_cap() {
            out.insert(cap);
        }
    }
    Ok(out)
}

/// The highest capability the running kernel knows: read once (it is asked for every
/// capability of every set, five host calls a read, on the start path of every container).
fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

impl CapSets {
    pub fn from_config(c: Option<&LinuxCapabilities>) -> Result<CapSets> {
        let Some(c) = c else {
            return Ok(CapSets::default());
        };
        Ok(CapSets {
            bounding: convert(c.bounding(), "bounding")?,
            effective: convert(c.effective(), "effective")?,
            permitted: convert(c.permitted(), "permitted")?,
            inheritable: convert(c.inheritable(), "inheritable")?,
            ambient: convert(c.ambient(), "ambient")?,
        })
    }
}

impl CapSets {
    /// Effective, permitted, inheritable, bounding and ambient as bit masks (bit n:
    /// capability n), for the sandbox class, whose sentry keeps them for the application.
    pub fn masks(&self) -> [u64; 5] {
        let bits = |s: &CapsHashSet| s.iter().fold(0u64, |m, c| m | 1 << c.index());
        [
            bits(&self.effective),
            bits(&self.permitted),
            bits(&self.inheritable),
            bits(&self.bounding),
            bits(&self.ambient),
        ]
    }
}

/// Maps an OCI rlimit type to the RLIMIT_* number.
pub fn rlimit_resource(t: PosixRlimitType) -> Result<i32> {
    use PosixRlimitType as R;
    Ok((match t {
        R::RlimitCpu => libc::RLIMIT_CPU,
        R::RlimitFsize => libc::RLIMIT_FSIZE,
        R::RlimitData => libc::RLIMIT_DATA,
        R::RlimitStack => libc::RLIMIT_STACK,
        R::RlimitCore => libc::RLIMIT_CORE,
        R::RlimitRss => libc::RLIMIT_RSS,
        R::RlimitNproc => libc::RLIMIT_NPROC,
        R::RlimitNofile => libc::RLIMIT_NOFILE,
        R::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        R::RlimitAs => libc::RLIMIT_AS,
        R::RlimitLocks => libc::RLIMIT_LOCKS,
        R::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        R::RlimitNice => libc::RLIMIT_NICE,
        R::RlimitRtprio => libc::RLIMIT_RTPRIO,
        R::RlimitRttime => libc::RLIMIT_RTTIME,
        #[allow(unreachable_patterns)]
        _ => {
            return Err(Error::Config(format!(
                "process.rlimits: unsupported type {t}"
            )))
        }
    }) as i32)
}

/// Applies the rlimits. Done while still privileged: raising a hard limit needs CAP_SYS_RESOURCE.
pub fn apply_rlimits(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let res = rlimit_resource(l.typ())?;
        sys::setrlimit(res, l.soft(), l.hard()).ctx(|| {
            format!(
                "process.rlimits: set {} to soft {} hard {}",
                l.typ(),
                l.soft(),
                l.hard()
            )
        })?;
    }
    Ok(())
}

/// Switches to the config's user and applies the capability sets, in the order that keeps the
/// capabilities the config asks for. `setgroups_allowed` is false in a user namespace whose
/// setgroups file says "deny".
pub fn switch_user(user: &User, caps_sets: &CapSets, setgroups_allowed: bool) -> Result<()> {
    sys::set_keep_caps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    for cap in caps::all() {
        if cap.index() <= last_cap() && !caps_sets.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| {
                Error::Config(format!("process.capabilities.bounding: drop {cap}: {e}"))
            })?;
        }
    }
    if setgroups_allowed {
        let gids = user.additional_gids().clone().unwrap_or_default();
        sys::setgroups(&gids).ctx(|| format!("process.user.additionalGids: setgroups {gids:?}"))?;
    }
    sys::setresgid(user.gid()).ctx(|| format!("process.user.gid: setresgid {}", user.gid()))?;
    sys::setresuid(user.uid()).ctx(|| format!("process.user.uid: setresuid {}", user.uid()))?;
    let set = |which: CapSet, v: &CapsHashSet, field: &str| {
        caps::set(None, which, v)
            .map_err(|e| Error::Config(format!("process.capabilities.{field}: {e}")))
    };
    // Inheritable while we still hold every capability, then effective (which must stay within
    // permitted), then permitted itself.
    set(CapSet::Inheritable, &caps_sets.inheritable, "inheritable")?;
    set(CapSet::Effective, &caps_sets.effective, "effective")?;
    set(CapSet::Permitted, &caps_sets.permitted, "permitted")?;
    // Ambient capabilities must be permitted and inheritable; one that is not cannot be raised
    // and is skipped, as runc does (its default spec lists ambient capabilities without
    // inheritable ones).
    caps::clear(None, CapSet::Ambient)
        .map_err(|e| Error::Config(format!("process.capabilities.ambient: {e}")))?;
    for cap in caps_sets
        .ambient
        .iter()
        .filter(|c| caps_sets.inheritable.contains(c) && caps_sets.permitted.contains(c))
    {
        caps::raise(None, CapSet::Ambient, *cap).map_err(|e| {
            Error::Config(format!("process.capabilities.ambient: raise {cap}: {e}"))
        })?;
    }
    sys::set_keep_caps(false).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())
}
