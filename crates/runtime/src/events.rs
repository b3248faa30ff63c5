//! `events`: the container's resource usage in runc's stats shape (`--stats` once, or every
//! `--interval`), and OOM kills as `{"type":"oom"}` events, read from the v1 controllers or, on
//! a unified-only host, from the v2 files (converted as runc converts them).

use crate::state::{self, Status, Store};
use anyhow::{anyhow, Result};
use bulkhead_container::cgroups::Cgroup;
use serde_json::{json, Map, Value};
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

/// Stats with runc's field names (libcontainer's types), so tools that read `runc events`
/// read these.
pub fn stats(cg: &Cgroup) -> Value {
    if let Some(d) = cg.v2_only() {
        return stats_v2(d);
    }
    let percpu: Vec<u64> = read(cg, "cpuacct", "cpuacct.usage_percpu")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let cpuacct = kv(read(cg, "cpuacct", "cpuacct.stat"));
    // cpuacct.stat counts clock ticks (USER_HZ, 100/s); runc reports nanoseconds.
    let ticks = |k: &str| cpuacct.get(k).and_then(Value::as_u64).unwrap_or(0) * 10_000_000;
    let throttle = kv(read(cg, "cpu", "cpu.stat"));
    let mem_entry = |prefix: &str| {
        json!({
            "usage": num(cg, "memory", &format!("{prefix}usage_in_bytes")),
            "max": num(cg, "memory", &format!("{prefix}max_usage_in_bytes")),
            "failcnt": num(cg, "memory", &format!("{prefix}failcnt")),
            "limit": num(cg, "memory", &format!("{prefix}limit_in_bytes")),
        })
    };
    let pids_limit = read(cg, "pids", "pids.max")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let blkio = |file: &str| -> Vec<Value> {
        read(cg, "blkio", file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (maj, min) = f.first()?.split_once(':')?;
                Some(json!({"major": maj.parse::<u64>().ok()?, "minor": min.parse::<u64>().ok()?, "op": f.get(1)?, "value": f.get(2)?.parse::<u64>().ok()?}))
            })
            .collect()
    };
    json!({
        "cpu": {
            "usage": {"total": num(cg, "cpuacct", "cpuacct.usage"), "percpu": percpu, "kernel": ticks("system"), "user": ticks("user")},
            "throttling": {"periods": throttle.get("nr_periods"), "throttledPeriods": throttle.get("nr_throttled"), "throttledTime": throttle.get("throttled_time")}
        },
        "memory": {
            "cache": kv(read(cg, "memory", "memory.stat")).get("cache"),
            "usage": mem_entry("memory."),
            "swap": mem_entry("memory.memsw."),
            "kernel": mem_entry("memory.kmem."),
            "raw": kv(read(cg, "memory", "memory.stat")),
        },
        "pids": {"current": num(cg, "pids", "pids.current"), "limit": pids_limit},
        "blkio": {
            "ioServiceBytesRecursive": blkio("blkio.throttle.io_service_bytes_recursive"),
            "ioServicedRecursive": blkio("blkio.throttle.io_serviced_recursive"),
        },
        "hugetlb": {},
    })
}

/// runc's stats from the v2 files: cpu.stat in microseconds (reported in nanoseconds),
/// memory.current/max/peak, memory.swap.*, memory.stat (its `file` is runc's cache),
/// pids.current/max, and io.stat's rbytes/wbytes/rios/wios as the blkio lists.
fn stats_v2(d: &std::path::Path) -> Value {
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
    let cpu = kv(text("cpu.stat"));
    let us = |k: &str| cpu.get(k).and_then(Value::as_u64).unwrap_or(0) * 1000;
    let raw = kv(text("memory.stat"));
    let entry = |cur: &str, max: &str, peak: &str| json!({"usage": n(cur), "max": n(peak), "failcnt": 0, "limit": n(max)});
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in text("io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kvs in f {
            let Some((k, v)) = kvs.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let e = |op: &str| json!({"major": maj, "minor": min, "op": op, "value": v});
            match k {
                "rbytes" => bytes.push(e("Read")),
                "wbytes" => bytes.push(e("Write")),
                "rios" => ios.push(e("Read")),
                "wios" => ios.push(e("Write")),
                _ => {}
            }
        }
    }
    json!({
        "cpu": {
            "usage": {"total": us("usage_usec"), "percpu": [], "kernel": us("system_usec"), "user": us("user_usec")},
            "throttling": {"periods": cpu.get("nr_periods"), "throttledPeriods": cpu.get("nr_throttled"), "throttledTime": us("throttled_usec")}
        },
        "memory": {
            "cache": raw.get("file"),
            "usage": entry("memory.current", "memory.max", "memory.peak"),
            "swap": entry("memory.swap.current", "memory.swap.max", "memory.swap.peak"),
            "kernel": {"usage": raw.get("kernel"), "max": 0, "failcnt": 0, "limit": 0},
            "raw": raw,
        },
        "pids": {"current": n("pids.current"), "limit": n("pids.max")},
        "blkio": {"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios},
        "hugetlb": {},
    })
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
    let line = |v: Value| crate::outln!("{v}");
    if stats_once {
        return line(json!({"type": "stats", "id": id, "data": stats(&st.cgroup)}));
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
            line(json!({"type": "oom", "id": id}))?;
        }
        if since >= interval {
            since = Duration::ZERO;
            line(json!({"type": "stats", "id": id, "data": stats(&st.cgroup)}))?;
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
        };
        let s = stats(&cg);
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
            json!({"major": 8, "minor": 0, "op": "Write", "value": 200})
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
