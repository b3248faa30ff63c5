//! IP sockets inside the sandbox: the names (addresses and ports) of TCP and UDP sockets and
//! the rules for binding them. The sandbox's only interface today is loopback (127.0.0.0/8 and
//! ::1): a connection between two of its sockets joins them directly, as unix sockets are
//! joined (unix.rs: the same queues, EOF, EPIPE and readiness), and a datagram goes straight
//! into the receiving socket's queue; no packet is made. Destinations elsewhere are
//! unreachable until the pod's interface is served (ENETUNREACH).

use super::unix::{Kind, Socket};
use libc::{SO_REUSEADDR, SO_REUSEPORT};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::{Rc, Weak};

/// Linux's default ephemeral port range (net.ipv4.ip_local_port_range).
const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;
/// Ports below this need CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start).
pub const PRIVILEGED_BELOW: u16 = 1024;

/// What a binding holds beyond its address: the options that decide conflicts.
#[derive(Debug, Clone, Copy, Default)]
pub struct BindOpts {
    pub reuseaddr: bool,
    pub reuseport: bool,
    /// IPV6_V6ONLY: a :: binding that does not take IPv4.
    pub v6only: bool,
}

struct Binding {
    kind: Kind,
    addr: SocketAddr,
    opts: BindOpts,
    sock: Weak<Socket>,
}

thread_local! {
    static BINDINGS: RefCell<Vec<Binding>> = const { RefCell::new(Vec::new()) };
}

/// An IPv4-mapped IPv6 address as the IPv4 one; others as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of the sandbox: the wildcard, loopback or the pod interface's.
pub fn is_local(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_unspecified() || ip.is_loopback() || super::pod::has_addr(ip)
}

/// The IPv4 netmask of a prefix length (0 for /0).
pub fn v4_mask(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

/// The network of `ip` with prefix length `len` (its host bits cleared).
pub fn network(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & v4_mask(len)).into()),
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// The live bindings of sockets of `kind`: their addresses and sockets.
pub fn bound(kind: Kind) -> Vec<(SocketAddr, Rc<Socket>)> {
    live(|all| {
        all.iter()
            .filter(|b| b.kind == kind)
            .filter_map(|b| Some((b.addr, b.sock.upgrade()?)))
            .collect()
    })
}

/// Whether a binding to `bound` (with `v6only`) receives what is sent to `dest`.
fn covers(bound: IpAddr, v6only: bool, dest: IpAddr) -> bool {
    let (b, d) = (canonical(bound), canonical(dest));
    match b {
        IpAddr::V4(v4) if v4.is_unspecified() => d.is_ipv4(),
        IpAddr::V6(v6) if v6.is_unspecified() => d.is_ipv6() || !v6only,
        _ => b == d,
    }
}

/// Whether two bindings' addresses overlap.
fn overlap(a: IpAddr, a_v6only: bool, b: IpAddr, b_v6only: bool) -> bool {
    covers(a, a_v6only, b) || covers(b, b_v6only, a)
}

/// Runs `f` on the bindings of sockets that still exist.
fn live<T>(f: impl FnOnce(&mut Vec<Binding>) -> T) -> T {
    BINDINGS.with(|b| {
        let mut b = b.borrow_mut();
        b.retain(|x| x.sock.strong_count() > 0);
        f(&mut b)
    })
}

type R = Result<SocketAddr, crate::mm::Errno>;

/// Binds `s` to `addr` (port 0: an ephemeral one): EADDRNOTAVAIL for an address that is not
/// the sandbox's, EADDRINUSE for a port another socket has on an overlapping address (unless
/// both allow reuse: SO_REUSEADDR when the other does not listen, or SO_REUSEPORT). Returns
/// the address bound.
pub fn bind(s: &Rc<Socket>, addr: SocketAddr, opts: BindOpts) -> R {
    if !bindable(addr.ip()) {
        return Err(libc::EADDRNOTAVAIL);
    }
    live(|all| {
        let conflict = |port: u16| {
            all.iter().any(|b| {
                let Some(other) = b.sock.upgrade() else {
                    return false;
                };
                b.kind == s.kind
                    && b.addr.port() == port
                    && overlap(b.addr.ip(), b.opts.v6only, addr.ip(), opts.v6only)
                    && !(reuses(&other, SO_REUSEADDR) && opts.reuseaddr && !other.is_listening())
                    && !(reuses(&other, SO_REUSEPORT) && opts.reuseport)
            })
        };
        let port = if addr.port() != 0 {
            if conflict(addr.port()) {
                return Err(libc::EADDRINUSE);
            }
            addr.port()
        } else {
            let start = {
                let mut b = [0u8; 2];
                let _ = crate::host::getrandom(&mut b);
                u16::from_le_bytes(b)
            };
            let span = EPHEMERAL.end() - EPHEMERAL.start() + 1;
            (0..span)
                .map(|i| EPHEMERAL.start() + (start.wrapping_add(i) % span))
                .find(|p| !conflict(*p))
                .ok_or(libc::EADDRINUSE)?
        };
        let bound = SocketAddr::new(addr.ip(), port);
        all.push(Binding {
            kind: s.kind,
            addr: bound,
            opts,
            sock: Rc::downgrade(s),
        });
        Ok(bound)
    })
}

/// Whether a bound socket has SO_REUSEADDR or SO_REUSEPORT on now (Linux looks at the
/// bound socket's flags as they are when another binds, not as they were when it bound).
fn reuses(s: &Socket, opt: i32) -> bool {
    s.opt(libc::SOL_SOCKET, opt).unwrap_or(0) != 0
}

/// Whether a socket may bind to `ip`: an address of the sandbox, or (as Linux lets it) an
/// IPv4 multicast or broadcast address.
pub fn bindable(ip: IpAddr) -> bool {
    is_local(ip) || is_broadcast(ip) || matches!(canonical(ip), IpAddr::V4(v4) if v4.is_multicast())
}

/// The limited broadcast address, or the pod interface's subnet broadcast.
pub fn is_broadcast(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_broadcast() || super::pod::is_subnet_broadcast(v4),
        IpAddr::V6(_) => false,
    }
}

/// The socket of `kind` that receives what is sent to `dest`: an exact address before a
/// wildcard; for a stream, only a listening one.
pub fn find(kind: Kind, dest: SocketAddr) -> Option<Rc<Socket>> {
    BINDINGS.with(|b| {
        let b = b.borrow();
        let candidates = b.iter().filter(|x| {
            x.kind == kind
                && x.addr.port() == dest.port()
                && covers(x.addr.ip(), x.opts.v6only, dest.ip())
        });
        let mut best: Option<(bool, Rc<Socket>)> = None;
        for x in candidates {
            let Some(s) = x.sock.upgrade() else { continue };
            if kind == Kind::Stream && !s.is_listening() {
                continue;
            }
            let exact = canonical(x.addr.ip()) == canonical(dest.ip());
            if best.as_ref().is_none_or(|(e, _)| exact && !e) {
                best = Some((exact, s));
            }
        }
        best.map(|(_, s)| s)
    })
}

/// The loopback address of a family (what an unbound socket's source is).
pub fn loopback(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
}

/// A destination of the wildcard means this host: loopback.
pub fn destination(dest: SocketAddr) -> SocketAddr {
    if dest.ip().is_unspecified() {
        SocketAddr::new(loopback(dest.is_ipv6()), dest.port())
    } else {
        dest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_their_families() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let lo4 = loopback(false);
        let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
        assert!(covers(any4, false, lo4));
        assert!(!covers(any4, false, loopback(true)));
        assert!(covers(any6, false, lo4));
        assert!(!covers(any6, true, lo4));
        assert!(covers(lo4, false, mapped));
        assert!(is_local(mapped) && !is_local("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn masks_and_networks_of_prefixes() {
        assert_eq!(v4_mask(24), 0xffff_ff00);
        assert_eq!((v4_mask(0), v4_mask(32)), (0, u32::MAX));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(network(ip("10.88.0.5"), 16), ip("10.88.0.0"));
        assert_eq!(network(ip("fe80::1:2"), 64), ip("fe80::"));
        assert_eq!(network(ip("10.1.2.3"), 0), ip("0.0.0.0"));
    }
}
