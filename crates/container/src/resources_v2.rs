//! Resource limits on cgroup v2 (a unified-only host): the file names and value conversions
//! runc uses (cpu.weight from shares, memory.swap.max from memory+swap, io.weight from the
//! blkio weight). This host keeps its controllers on v1, so these are checked against a fake
//! v2 tree in unit tests; the v2 core files (cgroup.freeze, cgroup.kill) are used for real.

use crate::error::{Error, Result};
use crate::resources::set;
use oci_spec::runtime::LinuxResources;
use std::path::Path;

/// runc's conversion of cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// runc's conversion of a v1 blkio weight (10..1000) to a v2 io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Applies `r` to the container's v2 directory `dir`.
pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if r.devices().as_ref().is_some_and(|d| !d.is_empty())
        && !dir.join("cgroup.controllers").exists()
    {
        return Err(Error::Config(
            "linux.resources.devices: not a cgroup v2 directory".into(),
        ));
    }
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        if let Some(l) = m.limit() {
            set(dir, "memory.max", max_or(l), &format!("{f}.limit"))?;
        }
        if let Some(v) = m.reservation() {
            set(dir, "memory.low", max_or(v), &format!("{f}.reservation"))?;
        }
        if let Some(swap) = m.swap() {
            // OCI's swap is memory+swap; v2's memory.swap.max is the swap alone.
            let v = match (swap, m.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l >= 0 => {
                    if s < l {
                        return Err(Error::Config(format!(
                            "{f}.swap: {s} is below memory.limit {l} (swap counts memory+swap)"
                        )));
                    }
                    (s - l).to_string()
                }
                (s, _) => s.to_string(),
            };
            set(dir, "memory.swap.max", v, &format!("{f}.swap"))?;
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::Config(format!(
                "{f}.disableOOMKiller: not supported on cgroup v2"
            )));
        }
        if m.swappiness().is_some() {
            return Err(Error::Config(format!(
                "{f}.swappiness: not supported on cgroup v2"
            )));
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = c.shares().filter(|s| *s > 0) {
            set(
                dir,
                "cpu.weight",
                shares_to_weight(s),
                &format!("{f}.shares"),
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = c.quota().map(max_or).unwrap_or_else(|| "max".into());
            set(
                dir,
                "cpu.max",
                format!("{quota} {}", c.period().unwrap_or(100_000)),
                &format!("{f}.quota"),
            )?;
        }
        if let Some(b) = c.burst() {
            set(dir, "cpu.max.burst", b, &format!("{f}.burst"))?;
        }
        if let Some(i) = c.idle() {
            set(dir, "cpu.idle", i, &format!("{f}.idle"))?;
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            return Err(Error::Config(format!(
                "{f}.realtimeRuntime: not supported on cgroup v2"
            )));
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            set(dir, "cpuset.cpus", v, &format!("{f}.cpus"))?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            set(dir, "cpuset.mems", v, &format!("{f}.mems"))?;
        }
    }
    if let Some(p) = r.pids() {
        set(
            dir,
            "pids.max",
            if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            },
            "linux.resources.pids.limit",
        )?;
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        if let Some(w) = b.weight().filter(|w| *w > 0) {
            if dir.join("io.bfq.weight").exists() {
                set(dir, "io.bfq.weight", w, &format!("{f}.weight"))?;
            } else {
                set(
                    dir,
                    "io.weight",
                    format!("default {}", blkio_to_io_weight(w)),
                    &format!("{f}.weight"),
                )?;
            }
        }
        for (list, key) in [
            (b.throttle_read_bps_device(), "rbps"),
            (b.throttle_write_bps_device(), "wbps"),
            (b.throttle_read_iops_device(), "riops"),
            (b.throttle_write_iops_device(), "wiops"),
        ] {
            for t in list.as_deref().unwrap_or(&[]) {
                set(
                    dir,
                    "io.max",
                    format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                    &format!("{f}.throttle"),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().as_deref().unwrap_or(&[]) {
        set(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            h.limit(),
            "linux.resources.hugepageLimits",
        )?;
    }
    for (k, v) in r.unified().as_ref().into_iter().flatten() {
        if k.contains('/') || k.contains("..") {
            return Err(Error::Config(format!(
                "linux.resources.unified: invalid key {k:?}"
            )));
        }
        set(dir, k, v, &format!("linux.resources.unified[{k}]"))?;
    }
    Ok(())
}

/// cgroup.freeze: freezes or thaws the v2 cgroup and waits for cgroup.events to agree.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    set(
        dir,
        "cgroup.freeze",
        if frozen { 1 } else { 0 },
        if frozen { "pause" } else { "resume" },
    )?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    for _ in 0..1000 {
        if std::fs::read_to_string(dir.join("cgroup.events"))
            .map(|s| s.lines().any(|l| l == want))
            .unwrap_or(true)
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Child(format!("cgroup.events never said {want:?}")))
}

/// cgroup.kill: SIGKILL to every process of the cgroup at once (Linux 5.14). Returns false when
/// the kernel does not have it.
pub fn kill_all(dir: &Path) -> Result<bool> {
    if !dir.join("cgroup.kill").exists() {
        return Ok(false);
    }
    set(dir, "cgroup.kill", 1, "kill --all")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fake cgroup2 directory with the controller files of a unified-only host.
    fn fake() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "fake-cgroup2-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for f in [
            "cgroup.controllers",
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "memory.oom.group",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        d
    }

    fn read(d: &Path, f: &str) -> String {
        std::fs::read_to_string(d.join(f)).unwrap()
    }

    fn resources(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn writes_the_v2_files_and_values() {
        let d = fake();
        let r = resources(json!({
            "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1"},
            "pids": {"limit": 50},
            "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
            "unified": {"memory.oom.group": "1"}
        }));
        apply(&d, &r).unwrap();
        assert_eq!(read(&d, "memory.max"), "67108864");
        assert_eq!(
            read(&d, "memory.swap.max"),
            "67108864",
            "memory+swap minus memory"
        );
        assert_eq!(read(&d, "memory.low"), "33554432");
        assert_eq!(read(&d, "cpu.weight"), "39");
        assert_eq!(read(&d, "cpu.max"), "50000 100000");
        assert_eq!(read(&d, "cpuset.cpus"), "0-1");
        assert_eq!(read(&d, "pids.max"), "50");
        assert_eq!(read(&d, "io.weight"), "default 4950");
        assert_eq!(read(&d, "io.max"), "8:0 rbps=1048576");
        assert_eq!(read(&d, "hugetlb.2MB.max"), "2097152");
        assert_eq!(read(&d, "memory.oom.group"), "1");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn unlimited_values_and_refusals() {
        let d = fake();
        apply(&d, &resources(json!({"memory": {"limit": -1, "swap": -1}, "cpu": {"quota": -1}, "pids": {"limit": 0}}))).unwrap();
        assert_eq!(read(&d, "memory.max"), "max");
        assert_eq!(read(&d, "memory.swap.max"), "max");
        assert_eq!(read(&d, "cpu.max"), "max 100000");
        assert_eq!(read(&d, "pids.max"), "max");
        let e = apply(
            &d,
            &resources(json!({"memory": {"limit": 100, "swap": 50}})),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux.resources.memory.swap"), "{e}");
        let e = apply(&d, &resources(json!({"memory": {"swappiness": 10}})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("swappiness"), "{e}");
        let e = apply(&d, &resources(json!({"unified": {"../escape": "1"}})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid key"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
