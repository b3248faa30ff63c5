//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope
//! that systemd makes for it (StartTransientUnit, with Delegate=yes, in the configured slice, the
//! limits as unit properties), with the init's pid in it from birth; `update` changes the
//! properties, `delete` stops the unit. As runc's v1 driver, the limits are also written to the
//! cgroup files and the controllers systemd does not manage (cpuset, freezer, hugetlb...) get a
//! directory of the same name made by us: systemd on a v1 or hybrid host manages only some.
//! This file decides names, paths and properties; `dbus.rs` carries them to systemd.

use super::dbus::{Systemd, Value};
use super::{hierarchies, own_path, relative_to_mount, Hierarchy};
use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxCpu, LinuxDeviceType, LinuxResources};
use std::cell::Cell;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The slice a scope goes to when cgroupsPath names none (runc's default for root).
const DEFAULT_SLICE: &str = "system.slice";
/// The unit name prefix when there is no cgroupsPath at all (runc uses "runc").
const DEFAULT_PREFIX: &str = "bulkhead";
/// systemd's UNIT_NAME_MAX, less its NUL.
const UNIT_NAME_MAX: usize = 255;
/// systemd's "infinity" for the u64 limits (USEC_INFINITY, CGROUP_LIMIT_MAX, TasksMax).
const INFINITY: u64 = u64::MAX;
/// The CFS period systemd assumes when only a quota is given (µs).
const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// The container's systemd unit, as kept in the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// "prefix-name.scope", or a slice's own name.
    pub name: String,
    /// The slice the unit goes to (Slice= for a scope, Wants= for a slice).
    pub slice: String,
    /// "libcontainer container ID" in runc; ours names bulkhead.
    pub description: String,
    /// A unified-only (v2) host: the v2 property names (MemoryMax, CPUWeight...).
    pub v2: bool,
    /// The config's `org.systemd.property.*` annotations, given at the start after ours.
    #[serde(skip)]
    pub extra: Vec<(String, Value)>,
    /// Set when systemd refused to start the unit because one of that name runs already: that
    /// unit is someone else's and is never stopped by this container's clean-up.
    #[serde(skip)]
    pub foreign: Cell<bool>,
}

/// "slice:prefix:name" split and checked, as runc reads a systemd cgroupsPath.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    slice: String,
    unit: String,
}

fn bad(path: &str, why: &str) -> Error {
    Error::Config(format!("linux.cgroupsPath: {path:?} {why}"))
}

/// Reads cgroupsPath for the systemd driver. None or "" is ":bulkhead:ID".
fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Parsed> {
    let path = cgroups_path.unwrap_or("");
    let (slice, prefix, name) = if path.is_empty() {
        ("", DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = path.split(':').collect();
        match parts.as_slice() {
            [s, p, n] => (*s, *p, *n),
            _ => {
                return Err(bad(
                    path,
                    "is not of the form \"slice:prefix:name\" (the systemd cgroup driver's)",
                ))
            }
        }
    };
    if name.is_empty() {
        return Err(bad(path, "has an empty name"));
    }
    let slice = if slice.is_empty() {
        DEFAULT_SLICE
    } else {
        slice
    };
    expand_slice(slice).map_err(|why| bad(path, &why))?;
    // A name ending in .slice makes a slice (the prefix is ignored), anything else a scope.
    let unit = if name.ends_with(".slice") {
        expand_slice(name).map_err(|why| bad(path, &why))?;
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    check_unit_name(&unit).map_err(|why| bad(path, &why))?;
    Ok(Parsed {
        slice: slice.to_string(),
        unit,
    })
}

/// The characters systemd accepts in a unit name (unit_name_is_valid), '@' aside: a template
/// instance makes no sense for a container.
fn check_unit_name(unit: &str) -> std::result::Result<(), String> {
    if unit.len() > UNIT_NAME_MAX {
        return Err(format!(
            "makes a unit name longer than {UNIT_NAME_MAX} bytes"
        ));
    }
    match unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\')))
    {
        Some(c) => Err(format!(
            "gives the unit name {unit:?}, and {c:?} is not allowed in systemd unit names"
        )),
        None => Ok(()),
    }
}

/// A slice name as the cgroup path systemd gives it: "a-b-c.slice" is a.slice/a-b.slice/
/// a-b-c.slice; "-.slice" is the root. Errors say why the name is not a slice's.
pub fn expand_slice(slice: &str) -> std::result::Result<PathBuf, String> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(format!(
            "names the slice {slice:?}, which does not end in .slice"
        ));
    };
    if stem == "-" {
        return Ok(PathBuf::new());
    }
    check_unit_name(slice)?;
    if stem.is_empty() || stem.contains('/') {
        return Err(format!(
            "names the slice {slice:?}, which is not a slice name"
        ));
    }
    let mut path = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(format!(
                "names the slice {slice:?}: a '-' at its start or end, or two together, make an empty level"
            ));
        }
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// Plans the container's unit and its directory in each hierarchy, before anything exists.
/// systemd roots its tree at its own cgroup (pid 1's, less init.scope: the container's cgroup
/// when systemd runs in one), so the paths come from /proc/1/cgroup, taken relative to each
/// hierarchy's mount as seen here.
pub fn plan(
    cgroups_path: Option<&str>,
    id: &str,
    annotations: Option<&HashMap<String, String>>,
) -> Result<(Unit, Vec<(Hierarchy, PathBuf)>)> {
    let parsed = parse(cgroups_path, id)?;
    let extra = super::properties::from_annotations(annotations)?;
    // A scope sits in its slice; a slice's place comes from its own name (systemd ignores
    // the Wants= parent for that).
    let unit_dir = if parsed.unit.ends_with(".slice") {
        expand_slice(&parsed.unit)
    } else {
        expand_slice(&parsed.slice).map(|s| s.join(&parsed.unit))
    }
    .map_err(Error::Config)?;
    let init = fs::read_to_string("/proc/1/cgroup").ctx(|| "read /proc/1/cgroup".into())?;
    let hs = hierarchies().ctx(|| "read /proc/self/mountinfo".into())?;
    let v2 = matches!(hs.as_slice(), [h] if h.is_v2());
    let dirs = hs
        .into_iter()
        .map(|h| {
            let root = systemd_root(&own_path(&init, &h.key()));
            let cgroup = root.join(&unit_dir);
            let dir = h.mountpoint.join(relative_to_mount(&cgroup, &h.root));
            (h, dir)
        })
        .collect();
    let unit = Unit {
        description: format!("bulkhead container {id}"),
        name: parsed.unit,
        slice: parsed.slice,
        v2,
        extra,
        foreign: Cell::new(false),
    };
    Ok((unit, dirs))
}

/// systemd (226 and later) sits in init.scope below the root of its tree.
fn systemd_root(pid1: &Path) -> PathBuf {
    match pid1.file_name() {
        Some(n) if n == "init.scope" => pid1.parent().unwrap_or(pid1).to_path_buf(),
        _ => pid1.to_path_buf(),
    }
}

impl Unit {
    /// How many slice directories sit between systemd's root and the unit's directory.
    pub fn parent_levels(&self) -> usize {
        let path = if self.is_slice() {
            expand_slice(&self.name)
        } else {
            expand_slice(&self.slice).map(|p| p.join(&self.name))
        };
        path.map(|p| p.components().count().saturating_sub(1))
            .unwrap_or(0)
    }

    /// A slice unit (cgroupsPath's name ends in .slice) rather than a scope.
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The properties the unit is started with: where it goes and what it is, then the limits.
    fn start_properties(
        &self,
        pid: i32,
        r: Option<&LinuxResources>,
        spec_devices: &[PathBuf],
        version: u32,
    ) -> Vec<(&'static str, Value)> {
        let mut props = vec![("Description", Value::Str(self.description.clone()))];
        if self.is_slice() {
            // A slice's parent is the slice it wants; only scopes have Slice= and Delegate=,
            // and only scopes take processes (PIDs): the init joins a slice's directories
            // itself, as with cgroupfs.
            props.push(("Wants", Value::Strs(vec![self.slice.clone()])));
        } else {
            props.push(("Slice", Value::Str(self.slice.clone())));
            props.push(("Delegate", Value::Bool(true)));
            props.push(("PIDs", Value::U32s(vec![pid as u32])));
        }
        // Accounting on, so that the controllers are there for the limits set later.
        props.push(("MemoryAccounting", Value::Bool(true)));
        props.push(("CPUAccounting", Value::Bool(true)));
        props.push((
            if self.v2 {
                "IOAccounting"
            } else {
                "BlockIOAccounting"
            },
            Value::Bool(true),
        ));
        props.push(("TasksAccounting", Value::Bool(true)));
        // A container's scope must not be ordered after (or stopped with) other units.
        props.push(("DefaultDependencies", Value::Bool(false)));
        if let Some(r) = r {
            props.extend(resource_properties(r, spec_devices, self.v2, version));
        }
        props
    }

    /// Starts the unit with `pid` in it and waits until systemd has done so.
    pub fn start(
        &self,
        pid: i32,
        r: Option<&LinuxResources>,
        spec_devices: &[PathBuf],
    ) -> Result<()> {
        let sd = Systemd::connect()?;
        let mut props: Vec<(&str, Value)> =
            self.start_properties(pid, r, spec_devices, sd.version());
        props.extend(self.extra.iter().map(|(n, v)| (n.as_str(), v.clone())));
        let started = match sd.start_transient_unit(&self.name, &props) {
            Err(e) if Systemd::is_unit_exists(&e) => {
                // A failed unit of the name lingers until reset: clear it and try once more.
                sd.reset_failed_unit(&self.name);
                sd.start_transient_unit(&self.name, &props)
            }
            r => r,
        };
        match started {
            Ok(()) => Ok(()),
            Err(e) => {
                // From here on the unit of that name, if any, is not one this call started:
                // a failed create's clean-up must not stop it.
                self.foreign.set(true);
                if Systemd::is_unit_exists(&e) {
                    return self.join_running(&sd, r, spec_devices);
                }
                Err(self.error("start", e))
            }
        }
    }

    /// The unit runs already (another container with the same cgroupsPath): as runc 1.1.5,
    /// the container joins it (the lifecycle has warned that its cgroup is not empty) and its
    /// limits become the unit's properties.
    fn join_running(
        &self,
        sd: &Systemd,
        r: Option<&LinuxResources>,
        spec_devices: &[PathBuf],
    ) -> Result<()> {
        let props = match r {
            Some(r) => resource_properties(r, spec_devices, self.v2, sd.version()),
            None => Vec::new(),
        };
        if props.is_empty() {
            return Ok(());
        }
        sd.set_unit_properties(&self.name, &props)
            .map_err(|e| self.error("set properties of", e))
    }

    /// New limits on a running unit (`update`): kept by systemd until the unit stops.
    pub fn set(&self, r: &LinuxResources, spec_devices: &[PathBuf]) -> Result<()> {
        let sd = Systemd::connect()?;
        let props = resource_properties(r, spec_devices, self.v2, sd.version());
        if props.is_empty() {
            return Ok(());
        }
        sd.set_unit_properties(&self.name, &props)
            .map_err(|e| self.error("set properties of", e))
    }

    /// Stops the unit (systemd removes its cgroups) and waits for it; a unit that is gone
    /// already is fine, one that is not ours is left alone.
    pub fn stop(&self) -> Result<()> {
        if self.foreign.get() {
            return Ok(());
        }
        let sd = Systemd::connect()?;
        sd.stop_unit(&self.name)
            .map_err(|e| self.error("stop", e))?;
        // A scope whose processes were killed may end up "failed": leave no trace of it.
        sd.reset_failed_unit(&self.name);
        Ok(())
    }

    fn error(&self, what: &str, e: zbus::Error) -> Error {
        Error::Config(format!(
            "systemd cgroup driver: {what} unit {}: {}",
            self.name,
            Systemd::describe(&e)
        ))
    }
}

/// The limits of `r` as unit properties, as runc's systemd driver sets them: the v1 names on
/// a v1 or hybrid host (MemoryLimit, CPUShares, BlockIOWeight), the v2 ones on a unified host
/// (MemoryMax, CPUWeight, IOWeight, AllowedCPUs from systemd 244).
pub fn resource_properties(
    r: &LinuxResources,
    spec_devices: &[PathBuf],
    v2: bool,
    version: u32,
) -> Vec<(&'static str, Value)> {
    let mut props = Vec::new();
    if let Some(limit) = r.memory().and_then(|m| m.limit()).filter(|l| *l != 0) {
        let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
        props.push((name, Value::U64(limit_value(limit))));
    }
    if let Some(c) = r.cpu() {
        props.extend(cpu_properties(c, v2, version));
    }
    // 0 is "not set" for runc; -1 is unlimited.
    if let Some(limit) = r.pids().map(|p| p.limit()).filter(|l| *l > 0 || *l == -1) {
        props.push(("TasksMax", Value::U64(limit_value(limit))));
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        props.push(if v2 {
            let weight = crate::resources_v2::blkio_to_io_weight(w);
            ("IOWeight", Value::U64(weight))
        } else {
            ("BlockIOWeight", Value::U64(u64::from(w)))
        });
    }
    if let Some(rules) = r.devices().as_deref().filter(|d| !d.is_empty()) {
        props.extend(device_properties(rules, spec_devices));
    }
    props
}

/// Shares (as CPUShares, or CPUWeight by runc's formula on v2), the quota, and on v2 the
/// cpuset masks (systemd has AllowedCPUs from 244; v1's cpuset is the runtime's own).
fn cpu_properties(c: &LinuxCpu, v2: bool, version: u32) -> Vec<(&'static str, Value)> {
    let mut props = Vec::new();
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        props.push(if v2 {
            let weight = crate::resources_v2::shares_to_weight(shares);
            ("CPUWeight", Value::U64(weight))
        } else {
            ("CPUShares", Value::U64(shares))
        });
    }
    props.extend(cpu_quota(
        c.quota().unwrap_or(0),
        c.period().unwrap_or(0),
        version,
    ));
    if v2 && version >= 244 {
        let masks = [("AllowedCPUs", c.cpus()), ("AllowedMemoryNodes", c.mems())];
        for (name, list) in masks {
            if let Some(mask) = list.as_deref().and_then(|s| cpu_mask(s).ok()) {
                props.push((name, Value::Bytes(mask)));
            }
        }
    }
    props
}

/// -1 (unlimited) is systemd's infinity.
fn limit_value(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(INFINITY)
}

/// CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec, which systemd has from 242): the quota per
/// second of time. systemd keeps it in whole percent, so it is rounded up to 10 ms, never below
/// what the config asked for.
fn cpu_quota(quota: i64, period: u64, version: u32) -> Vec<(&'static str, Value)> {
    let mut props = Vec::new();
    if period != 0 && version >= 242 {
        props.push(("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return props;
    }
    let per_sec = match u64::try_from(quota) {
        Ok(q) if q > 0 => {
            let period = if period == 0 {
                DEFAULT_CPU_PERIOD
            } else {
                period
            };
            let exact = q.saturating_mul(1_000_000) / period;
            exact.div_ceil(10_000).saturating_mul(10_000)
        }
        _ => INFINITY,
    };
    props.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    props
}

/// "0-3,6" as systemd's CPU (or NUMA node) bitmask: byte i, bit j is number 8i+j.
fn cpu_mask(list: &str) -> std::result::Result<Vec<u8>, String> {
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let num = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("{part:?}"));
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi || hi >= 8192 {
            return Err(format!("{part:?}"));
        }
        for n in lo..=hi {
            if mask.len() <= n / 8 {
                mask.resize(n / 8 + 1, 0);
            }
            mask[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(mask)
}

/// The device rules as DevicePolicy and DeviceAllow. systemd only has allow lists: the rules
/// are played in order on a list that a "deny all" empties; what is left is allowed, the rest
/// denied (DevicePolicy=strict). A rule list that ends allowing everything leaves systemd's
/// default (auto); its specific denials then stand in the cgroup files alone.
fn device_properties(
    rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    spec_devices: &[PathBuf],
) -> Vec<(&'static str, Value)> {
    let mut allow_all = true;
    let mut list: Vec<(String, String)> = Vec::new();
    for rule in rules {
        let everything = rule.major().is_none()
            && rule.minor().is_none()
            && matches!(rule.typ(), None | Some(LinuxDeviceType::A));
        if everything {
            allow_all = rule.allow();
            list.clear();
            continue;
        }
        let Some(entry) = device_entry(rule) else {
            continue;
        };
        list.retain(|(node, _)| *node != entry.0);
        if rule.allow() {
            list.push(entry);
        }
    }
    if allow_all {
        return Vec::new();
    }
    for rule in crate::resources::always_allowed(spec_devices) {
        if let Some(entry) = parse_rule(rule).and_then(|(t, ma, mi, a)| entry(t, ma, mi, a)) {
            if !list.iter().any(|(n, _)| *n == entry.0) {
                list.push(entry);
            }
        }
    }
    vec![
        ("DevicePolicy", Value::Str("strict".into())),
        ("DeviceAllow", Value::Devices(list)),
    ]
}

/// One rule as a DeviceAllow entry (see `entry`).
fn device_entry(rule: &oci_spec::runtime::LinuxDeviceCgroup) -> Option<(String, String)> {
    let typ = match rule.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        _ => return None,
    };
    entry(
        typ,
        rule.major(),
        rule.minor(),
        &crate::resources::device_access(rule),
    )
}

/// A devices-controller rule ("c 136:* rwm") as its type, numbers (None: any) and access.
fn parse_rule(rule: &str) -> Option<(char, Option<i64>, Option<i64>, &str)> {
    let mut words = rule.split_whitespace();
    let typ = words.next()?.chars().next()?;
    let (major, minor) = words.next()?.split_once(':')?;
    Some((typ, major.parse().ok(), minor.parse().ok(), words.next()?))
}

/// A DeviceAllow entry: "/dev/char/M:m" (systemd reads the numbers from such a name without
/// the node existing), "char-*" for a whole class, "char-NAME" (a driver in /proc/devices) for
/// all minors of a major. None for what systemd cannot name.
fn entry(
    typ: char,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Option<(String, String)> {
    let class = match typ {
        'c' | 'u' => "char",
        'b' => "block",
        _ => return None,
    };
    let access: String = access
        .chars()
        .filter(|c| matches!(c, 'r' | 'w' | 'm'))
        .collect();
    let node = match (major.filter(|m| *m >= 0), minor.filter(|m| *m >= 0)) {
        (None, _) => format!("{class}-*"),
        (Some(major), None) => format!("{class}-{}", driver_name(class, major)?),
        (Some(major), Some(minor)) => format!("/dev/{class}/{major}:{minor}"),
    };
    Some((node, access))
}

/// The name /proc/devices gives a major number of a class ("pts" for char 136).
fn driver_name(class: &str, major: i64) -> Option<String> {
    let text = fs::read_to_string("/proc/devices").ok()?;
    let header = if class == "char" {
        "Character devices:"
    } else {
        "Block devices:"
    };
    text.split("\n\n")
        .find(|section| section.trim_start().starts_with(header))?
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().split_once(' '))
        .find(|(n, _)| n.parse::<i64>().ok() == Some(major))
        .map(|(_, name)| name.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
        LinuxResourcesBuilder,
    };

    #[test]
    fn unit_names_as_runc_makes_them() {
        let p = parse(Some("system.slice:docker:abc"), "x").unwrap();
        assert_eq!(p.unit, "docker-abc.scope");
        assert_eq!(p.slice, "system.slice");
        let p = parse(Some(":crio:abc"), "x").unwrap();
        assert_eq!(
            (p.slice.as_str(), p.unit.as_str()),
            ("system.slice", "crio-abc.scope")
        );
        let p = parse(None, "c1").unwrap();
        assert_eq!(p.unit, "bulkhead-c1.scope");
        let p = parse(Some("machine.slice:x:machine-test.slice"), "c1").unwrap();
        assert_eq!(p.unit, "machine-test.slice");
        let p = parse(Some("kubepods-besteffort.slice::pod1"), "c1").unwrap();
        assert_eq!(p.unit, "pod1.scope");
    }

    #[test]
    fn malformed_paths_name_the_field() {
        for path in [
            "a:b",
            "a:b:c:d",
            "/sys/fs/cgroup",
            "bad/slice.slice:p:n",
            "system.slice:p:",
            "x.slic:p:n",
            "a--b.slice:p:n",
            "-a.slice:p:n",
            "system.slice:p:n$x",
            "system.slice:p:a b",
        ] {
            let e = parse(Some(path), "id").unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{path}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn slices_expand_to_their_parents() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("system.slice")
        );
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::new());
        assert!(expand_slice("a-.slice").is_err());
        assert!(expand_slice("a").is_err());
    }

    #[test]
    fn parent_levels_count_the_slices_above() {
        let unit = |name: &str, slice: &str| Unit {
            name: name.into(),
            slice: slice.into(),
            ..Default::default()
        };
        assert_eq!(unit("p-x.scope", "system.slice").parent_levels(), 1);
        assert_eq!(unit("p-x.scope", "a-b.slice").parent_levels(), 2);
        assert_eq!(unit("p-x.scope", "-.slice").parent_levels(), 0);
        assert_eq!(unit("a-b.slice", "system.slice").parent_levels(), 1);
    }

    #[test]
    fn systemd_root_drops_init_scope() {
        assert_eq!(systemd_root(Path::new("/init.scope")), PathBuf::from("/"));
        assert_eq!(
            systemd_root(Path::new("/libpod_parent/x/init.scope")),
            PathBuf::from("/libpod_parent/x")
        );
        assert_eq!(systemd_root(Path::new("/a/b")), PathBuf::from("/a/b"));
    }

    fn names(props: &[(&'static str, Value)]) -> Vec<&'static str> {
        props.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn limits_become_properties() {
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(100i64).build().unwrap())
            .build()
            .unwrap();
        let v1 = resource_properties(&r, &[], false, 252);
        assert_eq!(
            v1,
            vec![
                ("MemoryLimit", Value::U64(64 << 20)),
                ("CPUShares", Value::U64(512)),
                ("CPUQuotaPeriodUSec", Value::U64(100_000)),
                ("CPUQuotaPerSecUSec", Value::U64(500_000)),
                ("TasksMax", Value::U64(100)),
            ]
        );
        let v2 = resource_properties(&r, &[], true, 241);
        assert_eq!(
            names(&v2),
            vec!["MemoryMax", "CPUWeight", "CPUQuotaPerSecUSec", "TasksMax"]
        );
    }

    #[test]
    fn v2_hosts_get_cpuset_masks_from_systemd_244() {
        let r = LinuxResourcesBuilder::default()
            .cpu(
                LinuxCpuBuilder::default()
                    .cpus("0-1")
                    .mems("0")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let props = resource_properties(&r, &[], true, 244);
        assert_eq!(
            props,
            vec![
                ("AllowedCPUs", Value::Bytes(vec![0b11])),
                ("AllowedMemoryNodes", Value::Bytes(vec![0b1])),
            ]
        );
        assert!(resource_properties(&r, &[], true, 243).is_empty());
        assert!(resource_properties(&r, &[], false, 252).is_empty());
    }

    #[test]
    fn scopes_take_the_init_and_slices_want_their_parent() {
        let scope = Unit {
            name: "p-x.scope".into(),
            slice: "system.slice".into(),
            ..Default::default()
        };
        let props = scope.start_properties(42, None, &[], 252);
        assert!(props.contains(&("PIDs", Value::U32s(vec![42]))));
        assert!(props.contains(&("Delegate", Value::Bool(true))));
        assert!(props.contains(&("Slice", Value::Str("system.slice".into()))));
        assert!(props.contains(&("DefaultDependencies", Value::Bool(false))));
        assert!(props.contains(&("BlockIOAccounting", Value::Bool(true))));
        let slice = Unit {
            name: "a-b.slice".into(),
            slice: "system.slice".into(),
            ..Default::default()
        };
        let names = names(&slice.start_properties(42, None, &[], 252));
        assert!(names.contains(&"Wants"), "{names:?}");
        assert!(
            !names.contains(&"PIDs") && !names.contains(&"Delegate"),
            "{names:?}"
        );
    }

    #[test]
    fn cpu_quota_rounds_up_to_whole_percent() {
        assert_eq!(
            cpu_quota(12_345, 100_000, 252)[1],
            ("CPUQuotaPerSecUSec", Value::U64(130_000))
        );
        assert_eq!(
            cpu_quota(-1, 0, 252),
            vec![("CPUQuotaPerSecUSec", Value::U64(INFINITY))]
        );
        assert!(cpu_quota(0, 0, 252).is_empty());
    }

    #[test]
    fn cpu_lists_become_masks() {
        assert_eq!(cpu_mask("0-3,9").unwrap(), vec![0x0f, 0x02]);
        assert_eq!(cpu_mask("").unwrap(), Vec::<u8>::new());
        assert!(cpu_mask("3-1").is_err());
    }

    #[test]
    fn device_rules_become_an_allow_list() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let null = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .access("rwm")
            .build()
            .unwrap();
        let props = device_properties(&[deny_all, null], &[]);
        assert_eq!(props[0], ("DevicePolicy", Value::Str("strict".into())));
        let Value::Devices(list) = &props[1].1 else {
            panic!("{props:?}")
        };
        assert_eq!(list[0], ("/dev/char/1:3".to_string(), "rwm".to_string()));
        let allow_all = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()
            .unwrap();
        assert!(device_properties(&[allow_all], &[]).is_empty());
    }
}
