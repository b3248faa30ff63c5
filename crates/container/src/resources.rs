//! Resource limits on the cgroupfs v1 driver (this host's hybrid layout keeps the controllers on
//! v1): devices, memory, cpu, cpuset, pids, blkio, and clear errors for what the host lacks.

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::{Path, PathBuf};

/// Devices every container may use, whatever its rules (runc's list, with the node each is
/// for): the default devices, the terminal ones, and mknod of any node (opening it is what the
/// rules decide). A node the config's linux.devices names again loses its default rule, as in
/// runc: then only linux.resources.devices decides.
pub(crate) const ALWAYS: &[(&str, &str)] = &[
    ("c *:* m", ""),
    ("b *:* m", ""),
    ("c 1:3 rwm", "/dev/null"),
    ("c 1:5 rwm", "/dev/zero"),
    ("c 1:7 rwm", "/dev/full"),
    ("c 1:8 rwm", "/dev/random"),
    ("c 1:9 rwm", "/dev/urandom"),
    ("c 5:0 rwm", "/dev/tty"),
    ("c 5:1 rwm", "/dev/console"),
    ("c 5:2 rwm", "/dev/ptmx"),
    ("c 136:* rwm", ""),
];

/// The always-allowed rules left once the config's linux.devices (`spec_devices`) are known.
/// The config's devices themselves are not allowed by being listed: a rule in
/// linux.resources.devices must allow them (runc's behaviour; podman and containerd write one).
pub(crate) fn always_allowed(spec_devices: &[PathBuf]) -> impl Iterator<Item = &'static str> + '_ {
    ALWAYS
        .iter()
        .filter(move |(_, node)| {
            node.is_empty() || !spec_devices.iter().any(|d| d == Path::new(node))
        })
        .map(|(rule, _)| *rule)
}

fn dir(cg: &Cgroup, controller: &str) -> Option<PathBuf> {
    cg.controller_dir(controller).map(Path::to_path_buf)
}

fn need(cg: &Cgroup, controller: &str, field: &str) -> Result<PathBuf> {
    dir(cg, controller).ok_or_else(|| {
        Error::Config(format!(
            "{field}: this host has no {controller} cgroup controller"
        ))
    })
}

/// Writes `value` to `file` in `dir`; a missing file means the host does not support it.
pub(crate) fn set(dir: &Path, file: &str, value: impl ToString, field: &str) -> Result<()> {
    let path = dir.join(file);
    if !path.exists() {
        return Err(Error::Config(format!(
            "{field}: not supported by this host (no {file})"
        )));
    }
    let v = value.to_string();
    std::fs::write(&path, &v).ctx(|| format!("{field}: write {v} to {file}"))
}

/// cpuset.cpus or cpuset.mems, with what the kernel's refusal means: on v1 a cpuset must be a
/// subset of its parent's (EACCES, runc's "permission denied"), and of the host's CPUs or
/// memory nodes (ERANGE, EINVAL).
fn set_cpuset(dir: &Path, file: &str, v: &str, field: &str) -> Result<()> {
    let path = dir.join(file);
    if !path.exists() {
        return set(dir, file, v, field);
    }
    let Err(e) = std::fs::write(&path, v) else {
        return Ok(());
    };
    let what = if file == "cpuset.cpus" {
        "CPUs"
    } else {
        "memory nodes"
    };
    let read = |d: &Path| {
        std::fs::read_to_string(d.join(file))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let msg = match e.raw_os_error() {
        Some(libc::EACCES) => {
            let parent = dir.parent().map(read).unwrap_or_default();
            format!("{v:?} is not within the parent cgroup's {what} ({parent:?})")
        }
        Some(libc::EINVAL) | Some(libc::ERANGE) => {
            let host = std::fs::read_to_string(format!(
                "/sys/devices/system/{}/online",
                if file == "cpuset.cpus" { "cpu" } else { "node" }
            ))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
            format!("{v:?} is not a list of this host's {what} ({host:?})")
        }
        Some(libc::EBUSY) => {
            format!("{v:?} leaves out {what} that a child cgroup of the container uses")
        }
        _ => format!("write {v} to {file}"),
    };
    Err(Error::Config(format!("{field}: {msg} ({file}: {e})")))
}

/// One device rule as the v1 devices controller reads it ("c 1:3 rwm").
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let typ = d.typ().unwrap_or(LinuxDeviceType::A).as_str().to_string();
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "*".into())
    };
    format!(
        "{typ} {}:{} {}",
        num(d.major()),
        num(d.minor()),
        device_access(d)
    )
}

/// A rule's access as the kernel takes it: the letters r, w and m it has, once each, in that
/// order; other letters are dropped (runc's reading: "rwa" is "rw", "wwr" is "rw"). A rule
/// with no access is "rwm". `check` refuses an access with none of the three.
pub fn device_access(d: &LinuxDeviceCgroup) -> String {
    match d.access().as_deref() {
        None => "rwm".into(),
        Some(a) => "rwm".chars().filter(|c| a.contains(*c)).collect(),
    }
}

/// The config's rules, then the always-allowed devices, for the v2 device program (the same
/// list, in the same order, as the v1 files get).
fn device_rules(
    rules: &[LinuxDeviceCgroup],
    spec_devices: &[PathBuf],
) -> Result<Vec<crate::device_filter::Rule>> {
    use crate::device_filter::parse;
    let mut out = Vec::new();
    for r in rules {
        out.push(parse(&device_rule(r), r.allow())?);
    }
    for s in always_allowed(spec_devices) {
        out.push(parse(s, true)?);
    }
    Ok(out)
}

/// The kernel's range of cpu.shares (sched's MIN_SHARES..MAX_SHARES); v1 clamps a value outside
/// it silently and v2's weight conversion overflows, so runc refuses it, and so do we.
pub const CPU_SHARES: std::ops::RangeInclusive<u64> = 2..=262144;

/// Checks what can be checked of `r` before any cgroup is touched (create, update).
pub fn check(r: &LinuxResources) -> Result<()> {
    for (i, d) in r.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
        if d.access().is_some() && device_access(d).is_empty() {
            return Err(Error::Config(format!(
                "linux.resources.devices[{i}].access: {:?} has none of r (read), w (write) and m \
                 (mknod)",
                d.access().as_deref().unwrap_or("")
            )));
        }
    }
    if let Some(s) = r.cpu().as_ref().and_then(|c| c.shares()) {
        if s != 0 && !CPU_SHARES.contains(&s) {
            return Err(Error::Config(format!(
                "linux.resources.cpu.shares: {s} is outside the kernel's range {}..{}",
                CPU_SHARES.start(),
                CPU_SHARES.end()
            )));
        }
    }
    Ok(())
}

/// Applies `r` to the container's cgroup. `spec_devices` are the paths of the config's
/// linux.devices (see `always_allowed`).
pub fn apply(cg: &Cgroup, r: &LinuxResources, spec_devices: &[PathBuf]) -> Result<()> {
    // A unified-only host: everything goes through the v2 files.
    if let Some(only) = cg.v2_only() {
        crate::resources_v2::apply(only, r)?;
        if let Some(rules) = r.devices().as_deref().filter(|d| !d.is_empty()) {
            let rules = device_rules(rules, spec_devices)?;
            crate::device_filter::apply(only, &rules)?;
        }
        return Ok(());
    }
    if let Some(rules) = r.devices().as_deref().filter(|d| !d.is_empty()) {
        let d = need(cg, "devices", "linux.resources.devices")?;
        for rule in rules {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            set(&d, file, device_rule(rule), "linux.resources.devices")?;
        }
        for rule in always_allowed(spec_devices) {
            set(&d, "devices.allow", rule, "linux.resources.devices")?;
        }
    }
    if let Some(m) = r.memory() {
        let field = "linux.resources.memory";
        let d = need(cg, "memory", field)?;
        let limit = m.limit().map(|v| v.to_string());
        // An unlimited memory with no swap given lifts the swap limit too (as runc does): a
        // memsw limit left below would refuse the unlimited memory.limit_in_bytes.
        let swap = match (m.limit(), m.swap()) {
            (Some(-1), None) if d.join("memory.memsw.limit_in_bytes").exists() => Some(-1),
            (_, s) => s,
        }
        .map(|v| v.to_string());
        // memsw must stay >= limit: raise memsw first when growing, lower limit first when
        // shrinking; try one order and then the other.
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(l) = &limit {
            pairs.push(("memory.limit_in_bytes", l.clone()));
        }
        if let Some(s) = &swap {
            pairs.push(("memory.memsw.limit_in_bytes", s.clone()));
        }
        if pairs
            .iter()
            .map(|(f, v)| set(&d, f, v, field))
            .any(|r| r.is_err())
        {
            for (f, v) in pairs.iter().rev() {
                set(&d, f, v, field)?;
            }
            for (f, v) in &pairs {
                set(&d, f, v, field)?;
            }
        }
        if let Some(v) = m.reservation() {
            set(
                &d,
                "memory.soft_limit_in_bytes",
                v,
                &format!("{field}.reservation"),
            )?;
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::Config(format!(
                    "{field}.swappiness: {v} is above 100"
                )));
            }
            set(&d, "memory.swappiness", v, &format!("{field}.swappiness"))?;
        }
        if m.disable_oom_killer() == Some(true) {
            set(
                &d,
                "memory.oom_control",
                1,
                &format!("{field}.disableOOMKiller"),
            )?;
        }
    }
    if let Some(c) = r.cpu() {
        let field = "linux.resources.cpu";
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some()
        {
            let d = need(cg, "cpu", field)?;
            if let Some(v) = c.shares() {
                set(&d, "cpu.shares", v, &format!("{field}.shares"))?;
            }
            if let Some(v) = c.period() {
                set(&d, "cpu.cfs_period_us", v, &format!("{field}.period"))?;
            }
            if let Some(v) = c.quota() {
                set(&d, "cpu.cfs_quota_us", v, &format!("{field}.quota"))?;
            }
            if let Some(v) = c.burst() {
                set(&d, "cpu.cfs_burst_us", v, &format!("{field}.burst"))?;
            }
            if let Some(v) = c.realtime_period() {
                set(
                    &d,
                    "cpu.rt_period_us",
                    v,
                    &format!("{field}.realtimePeriod"),
                )?;
            }
            if let Some(v) = c.realtime_runtime() {
                set(
                    &d,
                    "cpu.rt_runtime_us",
                    v,
                    &format!("{field}.realtimeRuntime"),
                )?;
            }
            if let Some(v) = c.idle() {
                set(&d, "cpu.idle", v, &format!("{field}.idle"))?;
            }
        }
        if c.cpus().is_some() || c.mems().is_some() {
            let d = need(cg, "cpuset", field)?;
            if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
                set_cpuset(&d, "cpuset.cpus", v, &format!("{field}.cpus"))?;
            }
            if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
                set_cpuset(&d, "cpuset.mems", v, &format!("{field}.mems"))?;
            }
        }
    }
    if let Some(p) = r.pids() {
        let d = need(cg, "pids", "linux.resources.pids")?;
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        set(&d, "pids.max", v, "linux.resources.pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        let field = "linux.resources.blockIO";
        let d = need(cg, "blkio", field)?;
        let weight_file = if d.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        if let Some(w) = b.weight() {
            set(&d, weight_file, w, &format!("{field}.weight"))?;
        }
        if let Some(w) = b.leaf_weight() {
            set(&d, "blkio.leaf_weight", w, &format!("{field}.leafWeight"))?;
        }
        for wd in b.weight_device().as_deref().unwrap_or(&[]) {
            if let Some(w) = wd.weight() {
                set(
                    &d,
                    &format!("{weight_file}_device"),
                    format!("{}:{} {w}", wd.major(), wd.minor()),
                    &format!("{field}.weightDevice"),
                )?;
            }
        }
        for (list, file, name) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "throttleWriteIOPSDevice",
            ),
        ] {
            for t in list.as_deref().unwrap_or(&[]) {
                set(
                    &d,
                    file,
                    format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                    &format!("{field}.{name}"),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        let d = need(cg, "hugetlb", "linux.resources.hugepageLimits")?;
        set(
            &d,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            h.limit(),
            "linux.resources.hugepageLimits",
        )?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            let d = need(cg, "net_cls", "linux.resources.network.classID")?;
            set(&d, "net_cls.classid", id, "linux.resources.network.classID")?;
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            let d = need(cg, "net_prio", "linux.resources.network.priorities")?;
            for p in n.priorities().as_deref().unwrap_or(&[]) {
                set(
                    &d,
                    "net_prio.ifpriomap",
                    format!("{} {}", p.name(), p.priority()),
                    "linux.resources.network.priorities",
                )?;
            }
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(Error::Config(
            "linux.resources.rdma: this host has no rdma cgroup controller".into(),
        ));
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        let d = cg
            .dirs
            .iter()
            .find(|(h, _)| h.is_v2())
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                Error::Config(
                    "linux.resources.unified: this host has no cgroup v2 hierarchy".into(),
                )
            })?;
        for (k, v) in u {
            if k.contains('/') || k.contains("..") {
                return Err(Error::Config(format!(
                    "linux.resources.unified: invalid key {k:?}"
                )));
            }
            set(&d, k, v, &format!("linux.resources.unified[{k}]"))?;
        }
    }
    Ok(())
}

/// The container's v2 directory (the unified hierarchy of a hybrid host, or the only one).
pub fn v2_dir(cg: &Cgroup) -> Option<PathBuf> {
    cg.v2_dir().map(Path::to_path_buf)
}

/// Freezes (pause) or thaws (resume) every process of the container, waiting until the freezer
/// says it is done: the v1 freezer where the host has it, else v2's cgroup.freeze.
pub fn freeze(cg: &Cgroup, frozen: bool) -> Result<()> {
    let Some(d) = dir(cg, "freezer") else {
        let v2 =
            v2_dir(cg).ok_or_else(|| Error::Config("pause: this host has no freezer".into()))?;
        return crate::resources_v2::freeze(&v2, frozen);
    };
    let want = if frozen { "FROZEN" } else { "THAWED" };
    for _ in 0..1000 {
        set(
            &d,
            "freezer.state",
            want,
            if frozen { "pause" } else { "resume" },
        )?;
        if std::fs::read_to_string(d.join("freezer.state"))
            .map(|s| s.trim() == want)
            .unwrap_or(false)
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Child(format!("the freezer did not reach {want}")))
}

/// Whether the container's processes are frozen.
pub fn is_frozen(cg: &Cgroup) -> bool {
    match dir(cg, "freezer") {
        Some(d) => {
            std::fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
        }
        None => v2_dir(cg)
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.freeze")).ok())
            .is_some_and(|s| s.trim() == "1"),
    }
}
