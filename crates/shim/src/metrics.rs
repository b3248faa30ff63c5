//! Stats in containerd's cgroup v1 metrics message (`io.containerd.cgroups.v1.Metrics`), the
//! shape `ctr task metrics` and the kubelet's CRI stats read. The numbers are the runtime's own
//! (`bulkhead events --stats`), so both views agree.

use containerd_shim::protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryStat, Metrics, PidsStat, Throttle,
};
use serde_json::Value;

pub const TYPE_URL: &str = "io.containerd.cgroups.v1.Metrics";

fn n(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn entry(v: &Value, which: &str) -> MemoryEntry {
    MemoryEntry {
        limit: n(v, &["memory", which, "limit"]),
        usage: n(v, &["memory", which, "usage"]),
        max: n(v, &["memory", which, "max"]),
        failcnt: n(v, &["memory", which, "failcnt"]),
        ..Default::default()
    }
}

/// Converts runc-shaped stats (see `bulkhead_runtime::events::stats`).
pub fn from_stats(v: &Value) -> Metrics {
    let raw = |k: &str| n(v, &["memory", "raw", k]);
    let per_cpu = v
        .pointer("/cpu/usage/percpu")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    Metrics {
        pids: Some(PidsStat {
            current: n(v, &["pids", "current"]),
            limit: n(v, &["pids", "limit"]),
            ..Default::default()
        })
        .into(),
        cpu: Some(CPUStat {
            usage: Some(CPUUsage {
                total: n(v, &["cpu", "usage", "total"]),
                kernel: n(v, &["cpu", "usage", "kernel"]),
                user: n(v, &["cpu", "usage", "user"]),
                per_cpu,
                ..Default::default()
            })
            .into(),
            throttling: Some(Throttle {
                periods: n(v, &["cpu", "throttling", "periods"]),
                throttled_periods: n(v, &["cpu", "throttling", "throttledPeriods"]),
                throttled_time: n(v, &["cpu", "throttling", "throttledTime"]),
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        memory: Some(MemoryStat {
            cache: raw("cache"),
            rss: raw("rss"),
            rss_huge: raw("rss_huge"),
            mapped_file: raw("mapped_file"),
            dirty: raw("dirty"),
            writeback: raw("writeback"),
            pg_fault: raw("pgfault"),
            pg_maj_fault: raw("pgmajfault"),
            inactive_anon: raw("inactive_anon"),
            active_anon: raw("active_anon"),
            inactive_file: raw("inactive_file"),
            active_file: raw("active_file"),
            unevictable: raw("unevictable"),
            hierarchical_memory_limit: raw("hierarchical_memory_limit"),
            total_cache: raw("total_cache"),
            total_rss: raw("total_rss"),
            total_inactive_file: raw("total_inactive_file"),
            usage: Some(entry(v, "usage")).into(),
            swap: Some(entry(v, "swap")).into(),
            kernel: Some(entry(v, "kernel")).into(),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runc_stats_map_to_containerd_metrics() {
        let v = json!({
            "cpu": {"usage": {"total": 5, "percpu": [2, 3], "kernel": 1, "user": 4},
                    "throttling": {"periods": 7, "throttledPeriods": 2, "throttledTime": 9}},
            "memory": {"usage": {"usage": 100, "max": 150, "failcnt": 0, "limit": 1000},
                       "swap": {"usage": 0, "max": 0, "failcnt": 0, "limit": 0},
                       "kernel": {"usage": 0, "max": 0, "failcnt": 0, "limit": 0},
                       "raw": {"rss": 60, "cache": 40}},
            "pids": {"current": 3, "limit": 50}
        });
        let m = from_stats(&v);
        assert_eq!(m.pids.current, 3);
        assert_eq!(m.pids.limit, 50);
        assert_eq!(m.cpu.usage.per_cpu, vec![2, 3]);
        assert_eq!(m.cpu.throttling.throttled_periods, 2);
        assert_eq!(m.memory.usage.limit, 1000);
        assert_eq!((m.memory.rss, m.memory.cache), (60, 40));
    }
}
