//! `events`: the container's resource usage in runc's stats shape (`--stats` once, or every
//! `--interval`), and OOM kills as `{"type":"oom"}` events, read from the v1 controllers or, on
//! a unified-only host, from the v2 files (converted as runc converts them).

use crate::state::{self, Status, Store};
use anyhow::{anyhow, Result};
use bulkhead_container::cgroups::Cgroup;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

fn dir(cg: &Cgroup, controller: &str) -> Option<PathBuf> {
    cg.controller_dir(controller)
        .map(std::path::Path::to_path_buf)
}

fn read(cg: &Cgroup, controller: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(dir(cg, controller)?.join(file)).ok()
}

fn num(cg: &Cgroup, controller: &str, file: &str) -> u64 {
    read(cg, controller, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// "key value" lines as a map.
fn kv(text: Option<String>) -> Map<String, Value> {
    text.unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), json!(v.trim().parse::<u64>().ok()?)))
        })
        .collect()
}

fn zero(n: &u64) -> bool {
    *n == 0
}

/// Stats in runc's shape (libcontainer's `types.Stats`): the same keys in the same order, and
/// the same fields left out when empty (Go's omitempty), so `bulkhead events` and `runc events`
/// can be compared line by line and read by the same tools.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Per page size; empty (as runc prints it) without a hugetlb controller.
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// runc prints `null`: it reports interfaces only for a network it set up itself.
    pub network_interfaces: Option<Vec<Value>>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Intel RDT: bulkhead has none; runc prints `{}` without it.
#[derive(Debug, Default, Serialize)]
pub struct IntelRdt {}

/// One line of `events`: runc's `{"type","id","data"}`, data left out of an OOM event.
#[derive(Debug, Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Stats>,
}

/// "0-3,5" -> [0, 1, 2, 3, 5] (cpuset lists, as runc reports them).
fn cpu_list(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
            out.extend(lo..=hi);
        }
    }
    out
}

fn u64s(text: Option<String>) -> Vec<u64> {
    text.unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn counters(text: Option<String>) -> BTreeMap<String, u64> {
    kv(text)
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_u64()?)))
        .collect()
}

/// The container's stats (v1 controllers, or the v2 files on a unified-only host).
pub fn stats(cg: &Cgroup) -> Stats {
    if let Some(d) = cg.v2_only() {
        return stats_v2(d);
    }
    let cpuacct = kv(read(cg, "cpuacct", "cpuacct.stat"));
    // cpuacct.stat counts clock ticks (USER_HZ, 100/s); runc reports nanoseconds.
    let ticks = |k: &str| cpuacct.get(k).and_then(Value::as_u64).unwrap_or(0) * 10_000_000;
    let throttle = kv(read(cg, "cpu", "cpu.stat"));
    let t = |k: &str| throttle.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mem_entry = |prefix: &str| MemoryEntry {
        limit: num(cg, "memory", &format!("{prefix}limit_in_bytes")),
        usage: num(cg, "memory", &format!("{prefix}usage_in_bytes")),
        max: num(cg, "memory", &format!("{prefix}max_usage_in_bytes")),
        failcnt: num(cg, "memory", &format!("{prefix}failcnt")),
    };
    let raw = counters(read(cg, "memory", "memory.stat"));
    let blkio = |file: &str| -> Vec<BlkioEntry> {
        read(cg, "blkio", file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (maj, min) = f.first()?.split_once(':')?;
                Some(BlkioEntry {
                    major: maj.parse().ok()?,
                    minor: min.parse().ok()?,
                    op: f.get(1)?.to_string(),
                    value: f.get(2)?.parse().ok()?,
                })
            })
            .collect()
    };
    let cpuset = |f: &str| num(cg, "cpuset", &format!("cpuset.{f}"));
    Stats {
        cpu: Cpu {
            usage: CpuUsage {
                total: num(cg, "cpuacct", "cpuacct.usage"),
                percpu: u64s(read(cg, "cpuacct", "cpuacct.usage_percpu")),
                percpu_kernel: u64s(read(cg, "cpuacct", "cpuacct.usage_percpu_sys")),
                percpu_user: u64s(read(cg, "cpuacct", "cpuacct.usage_percpu_user")),
                kernel: ticks("system"),
                user: ticks("user"),
            },
            throttling: Throttling {
                periods: t("nr_periods"),
                throttled_periods: t("nr_throttled"),
                throttled_time: t("throttled_time"),
            },
        },
        cpuset: CpuSet {
            cpus: cpu_list(&read(cg, "cpuset", "cpuset.cpus").unwrap_or_default()),
            cpu_exclusive: cpuset("cpu_exclusive"),
            mems: cpu_list(&read(cg, "cpuset", "cpuset.mems").unwrap_or_default()),
            mem_hardwall: cpuset("mem_hardwall"),
            mem_exclusive: cpuset("mem_exclusive"),
            memory_migrate: cpuset("memory_migrate"),
            memory_spread_page: cpuset("memory_spread_page"),
            memory_spread_slab: cpuset("memory_spread_slab"),
            memory_pressure: cpuset("memory_pressure"),
            sched_load_balance: cpuset("sched_load_balance"),
            sched_relax_domain_level: read(cg, "cpuset", "cpuset.sched_relax_domain_level")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        },
        memory: Memory {
            cache: raw.get("cache").copied().unwrap_or(0),
            usage: mem_entry("memory."),
            swap: mem_entry("memory.memsw."),
            kernel: mem_entry("memory.kmem."),
            kernel_tcp: mem_entry("memory.kmem.tcp."),
            raw,
        },
        // pids.max "max" is no limit: 0, left out (as runc).
        pids: Pids {
            current: num(cg, "pids", "pids.current"),
            limit: num(cg, "pids", "pids.max"),
        },
        blkio: Blkio {
            io_service_bytes_recursive: blkio("blkio.throttle.io_service_bytes_recursive"),
            io_serviced_recursive: blkio("blkio.throttle.io_serviced_recursive"),
        },
        ..Stats::default()
    }
}

/// `stats` as a JSON value (the shim's metrics read it by runc's keys).
pub fn stats_json(cg: &Cgroup) -> Value {
    serde_json::to_value(stats(cg)).unwrap_or(Value::Null)
}

/// The stats of the container in `dir`: its cgroup's; for a sandbox-class container that
/// joined its pod's sandbox, whose processes run in the pod's sentry (so its own cgroup
/// holds only its init, which stands for them), CPU, memory usage and tasks are what the
/// sentry counts for it, and the limits stay the cgroup's.
pub fn container_stats(dir: &std::path::Path, cg: &Cgroup) -> Stats {
    let mut s = stats(cg);
    if let Ok(Some(u)) = crate::sandbox_exec::joined_usage(dir) {
        s.cpu.usage = CpuUsage {
            total: u.user_ns + u.system_ns,
            user: u.user_ns,
            kernel: u.system_ns,
            ..CpuUsage::default()
        };
        s.memory.usage.usage = u.memory;
        s.memory.usage.max = s.memory.usage.max.max(u.memory);
        s.pids.current = u.tasks;
    }
    s
}

/// `container_stats` as a JSON value.
pub fn container_stats_json(dir: &std::path::Path, cg: &Cgroup) -> Value {
    serde_json::to_value(container_stats(dir, cg)).unwrap_or(Value::Null)
}

/// runc's stats from the v2 files: cpu.stat in microseconds (reported in nanoseconds),
/// memory.current/max/peak, memory.swap.*, memory.stat (its `file` is runc's cache),
/// pids.current/max, and io.stat's rbytes/wbytes/rios/wios as the blkio lists.
fn stats_v2(d: &std::path::Path) -> Stats {
    let text = |f: &str| std::fs::read_to_string(d.join(f)).ok();
    // "max" is unlimited: runc reports the largest u64.
    let n = |f: &str| -> u64 {
        text(f)
            .map(|t| {
                let t = t.trim();
                if t == "max" {
                    u64::MAX
                } else {
                    t.parse().unwrap_or(0)
                }
            })
            .unwrap_or(0)
    };
    let cpu = counters(text("cpu.stat"));
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    let raw = counters(text("memory.stat"));
    let entry = |cur: &str, max: &str, peak: &str| MemoryEntry {
        limit: n(max),
        usage: n(cur),
        max: n(peak),
        failcnt: 0,
    };
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in text("io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kvs in f {
            let Some((k, v)) = kvs.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let e = |op: &str| BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            };
            match k {
                "rbytes" => bytes.push(e("Read")),
                "wbytes" => bytes.push(e("Write")),
                "rios" => ios.push(e("Read")),
                "wios" => ios.push(e("Write")),
                _ => {}
            }
        }
    }
    // pids.max "max": no limit, 0 as runc reports it.
    let pids_limit = match text("pids.max").as_deref().map(str::trim) {
        Some("max") | None => 0,
        Some(v) => v.parse().unwrap_or(0),
    };
    Stats {
        cpu: Cpu {
            usage: CpuUsage {
                total: us("usage_usec"),
                kernel: us("system_usec"),
                user: us("user_usec"),
                ..CpuUsage::default()
            },
            throttling: Throttling {
                periods: cpu.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: us("throttled_usec"),
            },
        },
        memory: Memory {
            cache: raw.get("file").copied().unwrap_or(0),
            usage: entry("memory.current", "memory.max", "memory.peak"),
            swap: entry("memory.swap.current", "memory.swap.max", "memory.swap.peak"),
            kernel: MemoryEntry {
                usage: raw.get("kernel").copied().unwrap_or(0),
                ..MemoryEntry::default()
            },
            kernel_tcp: MemoryEntry::default(),
            raw,
        },
        pids: Pids {
            current: n("pids.current"),
            limit: pids_limit,
        },
        blkio: Blkio {
            io_service_bytes_recursive: bytes,
            io_serviced_recursive: ios,
        },
        ..Stats::default()
    }
}

/// The number of OOM kills in the container's memory cgroup so far.
pub(crate) fn oom_kills(cg: &Cgroup) -> u64 {
    if let Some(d) = cg.v2_only() {
        return kv(std::fs::read_to_string(d.join("memory.events")).ok())
            .get("oom_kill")
            .and_then(Value::as_u64)
            .unwrap_or(0);
    }
    kv(read(cg, "memory", "memory.oom_control"))
        .get("oom_kill")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Parses "5s", "100ms", "1m" (Go durations as runc takes them).
pub fn parse_interval(s: &str) -> Result<Duration> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let v: f64 = n
        .parse()
        .map_err(|_| anyhow!("--interval: invalid duration {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" | "" => v,
        "m" => v * 60.0,
        _ => return Err(anyhow!("--interval: invalid duration {s:?}")),
    };
    if secs <= 0.0 {
        return Err(anyhow!("--interval: must be positive, got {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Prints events for container `id` until it stops (or once with `stats_once`).
pub fn events(store: &Store, id: &str, stats_once: bool, interval: Duration) -> Result<()> {
    state::validate_id(id)?;
    let dir = store.dir(id);
    let st = state::load(&dir).map_err(|_| anyhow!("container {id} does not exist"))?;
    let line = |kind: &str, data: Option<Stats>| -> Result<()> {
        let e = Event { kind, id, data };
        crate::outln!("{}", serde_json::to_string(&e)?)
    };
    if stats_once {
        return line("stats", Some(container_stats(&dir, &st.cgroup)));
    }
    let mut ooms = oom_kills(&st.cgroup);
    let tick = Duration::from_millis(50).min(interval);
    let mut since = Duration::ZERO;
    loop {
        if st.status(&dir) == Status::Stopped || !dir.exists() {
            return Ok(());
        }
        let now = oom_kills(&st.cgroup);
        if now > ooms {
            ooms = now;
            line("oom", None)?;
        }
        if since >= interval {
            since = Duration::ZERO;
            line("stats", Some(container_stats(&dir, &st.cgroup)))?;
        }
        std::thread::sleep(tick);
        since += tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_files_convert_to_runc_stats() {
        use bulkhead_container::cgroups::Hierarchy;
        let d = std::env::temp_dir().join(format!("bulkhead-v2-stats-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in [
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.peak", "8192\n"),
            ("memory.stat", "anon 1024\nfile 2048\nkernel 512\n"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n"),
            ("pids.current", "3\n"),
            ("pids.max", "50\n"),
            ("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"),
        ] {
            std::fs::write(d.join(f), v).unwrap();
        }
        let cg = Cgroup {
            dirs: vec![(
                Hierarchy {
                    mountpoint: "/sys/fs/cgroup".into(),
                    root: "/".into(),
                    controllers: vec![],
                },
                d.clone(),
            )],
            created: vec![],
            systemd: None,
        };
        let s = stats_json(&cg);
        assert_eq!(s["cpu"]["usage"]["total"], 1_500_000);
        assert_eq!(s["cpu"]["usage"]["kernel"], 500_000);
        assert_eq!(s["cpu"]["throttling"]["throttledTime"], 20_000);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["limit"], u64::MAX);
        assert_eq!(s["memory"]["usage"]["max"], 8192);
        assert_eq!(s["memory"]["cache"], 2048);
        assert_eq!(s["pids"], json!({"current": 3, "limit": 50}));
        assert_eq!(
            s["blkio"]["ioServiceBytesRecursive"][1],
            // Minor 0 is left out, as Go's omitempty leaves it out of runc's.
            json!({"major": 8, "op": "Write", "value": 200})
        );
        assert_eq!(oom_kills(&cg), 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("0s").is_err());
    }
}
