//! The pod's network for the sandbox class: the runtime, still host root and in the host's
//! namespaces, takes the pod's Ethernet interface over for the sentry before the sentry
//! confines itself. In a thread that joins the config's network namespace, it reads the
//! interface (MAC, MTU, addresses, default routes), opens a packet socket on it, and takes the
//! addresses away from the host's stack (IPv4 addresses deleted, IPv6 disabled on the
//! interface), so that only the sentry's stack answers for them. The sentry gets the packet
//! socket and the description (sentry/src/net/pod.rs).

use anyhow::{anyhow, Context, Result};
use bulkhead_sentry::net::pod::Link;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A packet socket's buffers: room for a burst from the host.
const FRAME_BUFFER: i32 = 4 << 20;

/// The network namespace the config names by path (a pod's, podman's), if any.
pub fn pod_netns(spec: &Spec) -> Option<PathBuf> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)?
        .path()
        .clone()
}

/// Annotations that name the pod's own (pause) container from an application container of a
/// CRI pod (containerd's, CRI-O's).
const POD_SANDBOX_ID: [&str; 2] = [
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri-o.SandboxID",
];

/// The network namespace a sandbox-class container serves. containerd names a pod's namespace
/// for its application containers by the pause container's `/proc/PID/ns/net`; when the pause
/// container is a sandbox too, that is its sentry's own empty namespace, so the pod's is
/// taken from the pause container's config, which this runtime keeps in its state (`root`).
pub fn pod_netns_for(spec: &Spec, root: &Path) -> Option<PathBuf> {
    let given = pod_netns(spec)?;
    let from_pause = pause_id(spec)
        .and_then(|id| crate::state::load(&root.join(id)).ok())
        .and_then(|st| pod_netns(&st.config));
    Some(from_pause.unwrap_or(given))
}

/// The id of the pod's pause container an application container of a CRI pod names.
fn pause_id(spec: &Spec) -> Option<&String> {
    spec.annotations()
        .as_ref()
        .and_then(|a| POD_SANDBOX_ID.iter().find_map(|k| a.get(*k)))
        .filter(|id| crate::state::validate_id(id).is_ok())
}

/// The state directory of the pod's sandbox that an application container of a CRI pod
/// joins: its pause container's, when that is a sandbox of this runtime's (`root`) serving
/// the pod. The pod's containers then share one sentry, and so its network (loopback
/// included), as gVisor's do.
pub fn pod_sandbox(spec: &Spec, root: &Path) -> Option<PathBuf> {
    if is_pause(spec) {
        return None;
    }
    let dir = root.join(pause_id(spec)?);
    let own = dir.join(crate::sandbox_exec::ENTRY_SOCKET);
    (own.exists() && !own.is_symlink()).then_some(dir)
}

/// Annotations by which containerd and CRI-O mark a pod's own (pause) container: it holds the
/// pod's namespaces and runs no application, so it leaves the interface to the pod's
/// application container.
const POD_CONTAINER_TYPE: [&str; 2] = [
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri-o.ContainerType",
];

/// Whether the config is a pod's pause container (containerd's and CRI-O's annotations).
pub fn is_pause(spec: &Spec) -> bool {
    spec.annotations().as_ref().is_some_and(|a| {
        POD_CONTAINER_TYPE
            .iter()
            .any(|k| a.get(*k).map(String::as_str) == Some("sandbox"))
    })
}

/// Takes over the first Ethernet interface with an address in the namespace at `path`. None
/// when it has none (`--network none`: loopback only), or when another sandbox serves it:
/// the sentry holds an exclusive flock on the namespace (nsfs: one inode per namespace,
/// whatever path names it) for as long as it runs, so two sandboxes of a pod never answer
/// for the same address (the second has loopback only, and the log says so).
pub fn attach(path: &Path) -> Result<Option<Link>> {
    let ns = bulkhead_linux::ns::open_ns(path)
        .with_context(|| format!("linux.namespaces[network].path {}", path.display()))?;
    // Never the runtime's own (the host's) namespace: taking its interface would take the
    // host's addresses away. Such a sandbox has loopback only.
    if same_file(&ns, Path::new("/proc/self/ns/net")) {
        crate::log::warn(&format!(
            "sandbox network: {} is the host's network namespace; the sandbox has loopback only",
            path.display()
        ));
        return Ok(None);
    }
    let mine = bulkhead_linux::fd::try_lock_exclusive(&ns)
        .with_context(|| format!("sandbox network: lock {}", path.display()))?;
    if !mine {
        crate::log::warn(&format!(
            "sandbox network: another sandbox serves the interface of {}; this one has \
             loopback only",
            path.display()
        ));
        return Ok(None);
    }
    // setns(CLONE_NEWNET) moves only the calling thread: a thread of its own keeps the
    // runtime's other work in the host's namespace.
    let link = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<Option<Link>> {
                bulkhead_linux::ns::setns(&ns, libc::CLONE_NEWNET)
                    .with_context(|| format!("join the network namespace {}", path.display()))?;
                take_over()
            })
            .join()
            .map_err(|_| anyhow!("sandbox network: the attaching thread failed"))?
    })?;
    Ok(link.map(|mut l| {
        l.lock = Some(ns);
        l
    }))
}

/// Whether the open file `f` is the file at `path` (same device and inode).
fn same_file(f: &std::os::fd::OwnedFd, path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let own = format!("/proc/self/fd/{}", f.as_raw_fd());
    match (std::fs::metadata(own), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The alias a taken interface carries: its addresses and gateways, so that the next
/// sandbox in the same namespace (a restarted container of a pod) can take it over again.
const ALIAS: &str = "bulkhead:";

/// In the pod's namespace: the interface's description and frames, its addresses taken.
fn take_over() -> Result<Option<Link>> {
    use bulkhead_linux::netlink;
    let mut route = netlink::Route::open().context("sandbox network: route netlink")?;
    let links = route
        .ethernet_interfaces()
        .context("sandbox network: list the interfaces")?;
    let Some(mut i) = links
        .into_iter()
        .find(|i| !i.addrs.is_empty() || i.alias.starts_with(ALIAS))
    else {
        return Ok(None);
    };
    if i.addrs.is_empty() {
        (i.addrs, i.gateways) = parse_alias(&i.alias);
    } else {
        route
            .set_alias(i.index, &alias(&i.addrs, &i.gateways))
            .with_context(|| format!("sandbox network: mark {} as taken", i.name))?;
    }
    let fd = netlink::packet_socket(i.index, FRAME_BUFFER)
        .with_context(|| format!("sandbox network: packet socket on {}", i.name))?;
    let held = route.ethernet_interfaces().unwrap_or_default();
    let held = held.iter().find(|h| h.index == i.index);
    for (addr, prefix) in held.map_or(&[][..], |h| &h.addrs[..]) {
        if addr.is_ipv4() {
            route
                .delete_addr(i.index, *addr, *prefix)
                .with_context(|| format!("sandbox network: take {addr} from {}", i.name))?;
        }
    }
    if i.addrs.iter().any(|(a, _)| a.is_ipv6()) {
        // Disabling IPv6 removes its addresses (and stops the host answering neighbour
        // solicitations for them); the packet socket still sees the frames.
        let knob = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", i.name);
        std::fs::write(&knob, "1").with_context(|| format!("sandbox network: {knob}"))?;
    }
    Ok(Some(Link {
        fd,
        iface: i,
        lock: None,
    }))
}

type Taken = (Vec<(IpAddr, u8)>, Vec<IpAddr>);

fn alias(addrs: &[(IpAddr, u8)], gateways: &[IpAddr]) -> String {
    let mut s = ALIAS.to_string();
    for (a, p) in addrs {
        s.push_str(&format!(" {a}/{p}"));
    }
    for g in gateways {
        s.push_str(&format!(" via {g}"));
    }
    s
}

fn parse_alias(s: &str) -> Taken {
    let mut out: Taken = (Vec::new(), Vec::new());
    let mut words = s.trim_start_matches(ALIAS).split_whitespace();
    while let Some(w) = words.next() {
        if w == "via" {
            if let Some(g) = words.next().and_then(|g| g.parse().ok()) {
                out.1.push(g);
            }
        } else if let Some((a, p)) = w.split_once('/') {
            if let (Ok(a), Ok(p)) = (a.parse(), p.parse()) {
                out.0.push((a, p));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_gives_back_what_was_taken() {
        let addrs = vec![
            ("10.88.0.5".parse().unwrap(), 16),
            ("fe80::1".parse().unwrap(), 64),
        ];
        let gws = vec!["10.88.0.1".parse().unwrap()];
        let a = alias(&addrs, &gws);
        assert_eq!(a, "bulkhead: 10.88.0.5/16 fe80::1/64 via 10.88.0.1");
        assert_eq!(parse_alias(&a), (addrs, gws));
        assert_eq!(
            parse_alias("bulkhead: junk/x via nowhere"),
            (vec![], vec![])
        );
    }
}
