//! `update`'s input: a resources JSON (file or stdin) and runc's per-field flags on top.

use crate::args::UpdateArgs;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::io::Read;

/// "64m" -> 67108864, as runc's units parse memory sizes; "-1" stays -1.
pub fn bytes(flag: &str, v: &str) -> Result<i64> {
    let s = v.trim().to_ascii_lowercase();
    if s == "-1" {
        return Ok(-1);
    }
    let (num, mult) = match s.trim_end_matches('b').chars().last() {
        Some('k') => (&s[..s.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&s[..s.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&s[..s.trim_end_matches('b').len() - 1], 1 << 30),
        Some('t') => (&s[..s.trim_end_matches('b').len() - 1], 1 << 40),
        _ => (s.trim_end_matches('b'), 1),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("--{flag}: invalid size {v:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| anyhow!("--{flag}: {v:?} is too large"))
}

pub fn resources(u: &UpdateArgs) -> Result<LinuxResources> {
    // Intel RDT: bulkhead has no resctrl support; refuse the flags as runc does on a host
    // without RDT, before anything is read or changed.
    if u.l3_cache_schema.is_some() {
        bail!("--l3-cache-schema: Intel RDT/CAT is not supported by bulkhead");
    }
    if u.mem_bw_schema.is_some() {
        bail!("--mem-bw-schema: Intel RDT/MBA is not supported by bulkhead");
    }
    let mut v: Value = match u.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read resources from stdin")?;
            serde_json::from_str(&s).map_err(|e| anyhow!("--resources -: {e}"))?
        }
        Some(path) => {
            let s =
                std::fs::read_to_string(path).map_err(|e| anyhow!("--resources {path}: {e}"))?;
            serde_json::from_str(&s).map_err(|e| anyhow!("--resources {path}: {e}"))?
        }
        None => json!({}),
    };
    let obj = v
        .as_object_mut()
        .ok_or_else(|| anyhow!("--resources: not a JSON object"))?;
    let mut section = |name: &str, key: &str, val: Value| {
        let e = obj.entry(name).or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = e.as_object_mut() {
            m.insert(key.into(), val);
        }
    };
    if let Some(m) = &u.memory {
        section("memory", "limit", json!(bytes("memory", m)?));
    }
    if let Some(m) = &u.memory_swap {
        section("memory", "swap", json!(bytes("memory-swap", m)?));
    }
    if let Some(m) = &u.memory_reservation {
        section(
            "memory",
            "reservation",
            json!(bytes("memory-reservation", m)?),
        );
    }
    // runc's parsing: periods and shares are unsigned (-1 is an error); quota and realtime
    // runtime are signed, -1 meaning unlimited; so is the pids limit.
    let unsigned = |flag: &str, v: &Option<String>| -> Result<Option<Value>> {
        v.as_deref()
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map(|n| json!(n))
                    .map_err(|_| anyhow!("--{flag}: invalid value {s:?} (a number, 0 or more)"))
            })
            .transpose()
    };
    let signed = |flag: &str, v: &Option<String>| -> Result<Option<Value>> {
        v.as_deref()
            .map(|s| {
                s.trim().parse::<i64>().map(|n| json!(n)).map_err(|_| {
                    anyhow!("--{flag}: invalid value {s:?} (a number, -1 for unlimited)")
                })
            })
            .transpose()
    };
    for (key, val) in [
        ("shares", unsigned("cpu-share", &u.cpu_share)?),
        ("period", unsigned("cpu-period", &u.cpu_period)?),
        ("quota", signed("cpu-quota", &u.cpu_quota)?),
        (
            "realtimePeriod",
            unsigned("cpu-rt-period", &u.cpu_rt_period)?,
        ),
        (
            "realtimeRuntime",
            signed("cpu-rt-runtime", &u.cpu_rt_runtime)?,
        ),
        ("cpus", u.cpuset_cpus.clone().map(|x| json!(x))),
        ("mems", u.cpuset_mems.clone().map(|x| json!(x))),
    ] {
        if let Some(val) = val {
            section("cpu", key, val);
        }
    }
    if let Some(p) = signed("pids-limit", &u.pids_limit)? {
        section("pids", "limit", p);
    }
    if let Some(w) = &u.blkio_weight {
        let n: i64 = w
            .trim()
            .parse()
            .map_err(|_| anyhow!("--blkio-weight: invalid value {w:?} (10..1000)"))?;
        if !(10..=1000).contains(&n) {
            bail!("--blkio-weight: {n} is not within 10..1000");
        }
        section("blockIO", "weight", json!(n));
    }
    serde_json::from_value(v).map_err(|e| anyhow!("--resources: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("m", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("m", "1G").unwrap(), 1 << 30);
        assert_eq!(bytes("m", "4096").unwrap(), 4096);
        assert_eq!(bytes("m", "-1").unwrap(), -1);
        assert!(bytes("m", "lots").is_err());
    }
}
