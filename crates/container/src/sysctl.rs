//! `linux.sysctl`: only the kernel parameters that belong to a namespace the container has its
//! own of may be set (anything else would change the host), and each is written beneath the
//! container's /proc/sys, never through a path the key could steer elsewhere.

use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use bulkhead_linux::{fd, resolve};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// IPC namespace parameters outside fs.mqueue.* (the kernel's ipc_sysctls table).
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The key's path under /proc/sys. `net.ipv4.ip_forward` and `net/ipv4/ip_forward` are the
/// same key (as for sysctl(8), a key with a `/` keeps its dots: `net/ipv4/conf/eth0.100/...`).
fn components(key: &str) -> Result<Vec<&str>> {
    let bad = |why: &str| Error::Config(format!("linux.sysctl: key {key:?} {why}"));
    if key.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let parts: Vec<&str> = if key.contains('/') {
        key.split('/').collect()
    } else {
        key.split('.').collect()
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(bad("is not a sysctl name (an empty, '.' or '..' part)"));
    }
    Ok(parts)
}

/// The namespace a key belongs to, if any.
fn namespace_of(parts: &[&str]) -> Option<T> {
    let dotted = parts.join(".");
    match parts {
        ["net", ..] => Some(T::Network),
        ["fs", "mqueue", ..] => Some(T::Ipc),
        ["kernel", "hostname" | "domainname"] => Some(T::Uts),
        _ if IPC_KEYS.contains(&dotted.as_str()) => Some(T::Ipc),
        _ => None,
    }
}

/// Checks one key against the container's namespaces; returns its path under /proc/sys.
pub fn check(key: &str, value: &str, ns: &Plan) -> Result<PathBuf> {
    let parts = components(key)?;
    let Some(t) = namespace_of(&parts) else {
        return Err(Error::Config(format!(
            "linux.sysctl: {key:?} is not in a separate kernel namespace (only net.*, fs.mqueue.*, \
             kernel.msg*/sem/shm* and kernel.hostname/domainname can be set)"
        )));
    };
    if !ns.has(t) {
        return Err(Error::Config(format!(
            "linux.sysctl: {key:?} needs the container's own {} namespace, and it has none",
            crate::namespaces::proc_name(t)
        )));
    }
    if value.contains('\0') {
        return Err(Error::Config(format!(
            "linux.sysctl: the value of {key:?} contains a NUL byte"
        )));
    }
    Ok(parts.iter().collect())
}

/// Checks every key; the error names the first bad one (in sorted order, so it is stable).
pub fn check_all(sysctl: &HashMap<String, String>, ns: &Plan) -> Result<()> {
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        check(key, &sysctl[key], ns)?;
    }
    Ok(())
}

/// Writes the parameters, in the container (after pivot_root): each file is opened beneath
/// /proc/sys with RESOLVE_IN_ROOT, so no key reaches outside it.
pub fn write_all(sysctl: &HashMap<String, String>, ns: &Plan) -> Result<()> {
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    let base =
        fd::open_dir(Path::new("/proc/sys")).ctx(|| "linux.sysctl: open /proc/sys".into())?;
    for key in keys {
        let rel = check(key, &sysctl[key], ns)?;
        let f = resolve::open_in_root(&base, &rel, libc::O_WRONLY, 0)
            .ctx(|| format!("linux.sysctl: open /proc/sys/{}", rel.display()))?;
        std::fs::File::from(f)
            .write_all(sysctl[key].as_bytes())
            .ctx(|| format!("linux.sysctl: set {key}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespaces::plan;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(types: &[T]) -> Plan {
        let list: Vec<_> = types
            .iter()
            .map(|t| LinuxNamespaceBuilder::default().typ(*t).build().unwrap())
            .collect();
        plan(&list).unwrap()
    }

    #[test]
    fn namespaced_keys_need_their_namespace() {
        let all = ns(&[T::Network, T::Ipc, T::Uts, T::Mount]);
        for k in [
            "net.ipv4.ip_forward",
            "net/ipv4/conf/eth0.100/rp_filter",
            "kernel.shmmax",
            "kernel.msgmnb",
            "fs.mqueue.msg_max",
            "kernel.domainname",
            "kernel.hostname",
        ] {
            assert!(check(k, "1", &all).is_ok(), "{k}");
        }
        assert_eq!(
            check("net/ipv4/conf/eth0.100/rp_filter", "1", &all).unwrap(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
        let none = ns(&[T::Mount]);
        let e = check("net.ipv4.ip_forward", "1", &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("net namespace") && e.contains("net.ipv4.ip_forward"),
            "{e}"
        );
        assert!(check("kernel.sem", "1", &none).is_err());
        assert!(check("kernel.domainname", "x", &none).is_err());
    }

    #[test]
    fn host_wide_and_escaping_keys_are_refused() {
        let all = ns(&[T::Network, T::Ipc, T::Uts, T::Mount, T::Pid]);
        for k in [
            "vm.swappiness",
            "kernel.pid_max",
            "kernel.shm_next_id_nope",
            "/proc/sys/vm/swappiness",
            "net/../vm/swappiness",
            "net..ipv4",
            "net.ipv4.",
            "",
            "net.ipv4\0x",
        ] {
            let e = check(k, "1", &all).unwrap_err().to_string();
            assert!(e.starts_with("linux.sysctl: "), "{k}: {e}");
        }
        assert!(check("net.ipv4.ip_forward", "1\0", &all).is_err());
    }
}
