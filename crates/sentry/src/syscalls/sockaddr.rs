//! Socket addresses as the application passes and gets them: sockaddr_un, sockaddr_in and
//! sockaddr_in6, read with Linux's checks and written (truncated to the room given, the full
//! length told) in the socket's own family (an IPv6 socket shows IPv4 peers v4-mapped).

use super::*;
use crate::net::unix::Addr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// sizeof(struct sockaddr_un), sockaddr_in, and the shortest sockaddr_in6 Linux takes.
const SUN_LEN: usize = 110;
const SIN_LEN: usize = 16;
const SIN6_LEN: usize = 28;
const SIN6_MIN: usize = 24;
/// sizeof(struct sockaddr_nl).
const NL_LEN: usize = 12;

/// A name argument.
pub(super) enum Name {
    /// A unix socket's family alone: bind's autobind.
    Unnamed,
    Path(Vec<u8>),
    Abstract(Vec<u8>),
    Inet(SocketAddr),
    /// A netlink address's port id.
    Netlink(u32),
}

/// Reads a name for a socket of `family`.
pub(super) fn read(t: &Task, family: i32, addr: u64, len: u32) -> Result<Name, Errno> {
    let len = len as usize;
    if family == AF_NETLINK {
        if len < NL_LEN {
            return Err(EINVAL);
        }
        let b = t.mm.read_vec(addr, NL_LEN)?;
        if u16::from_le_bytes([b[0], b[1]]) != AF_NETLINK as u16 {
            return Err(EINVAL);
        }
        return Ok(Name::Netlink(u32::from_le_bytes([b[4], b[5], b[6], b[7]])));
    }
    if family != AF_UNIX {
        return read_inet(t, family, addr, len).map(Name::Inet);
    }
    if !(2..=SUN_LEN).contains(&len) {
        return Err(EINVAL);
    }
    let b = t.mm.read_vec(addr, len)?;
    if u16::from_le_bytes([b[0], b[1]]) != AF_UNIX as u16 {
        return Err(EINVAL);
    }
    let path = &b[2..];
    Ok(match path.first() {
        None => Name::Unnamed,
        Some(0) => Name::Abstract(path[1..].to_vec()),
        Some(_) => {
            let end = path.iter().position(|c| *c == 0).unwrap_or(path.len());
            Name::Path(path[..end].to_vec())
        }
    })
}

/// Whether the name at `addr` is of family AF_UNSPEC (at least its family given).
pub(super) fn is_unspec(t: &Task, addr: u64, len: u32) -> Result<bool, Errno> {
    if len < 2 {
        return Ok(false);
    }
    let b = t.mm.read_vec(addr, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]) == AF_UNSPEC as u16)
}

/// A sockaddr_in or sockaddr_in6 read whatever its family field says (bind's AF_UNSPEC).
pub(super) fn read_inet_as(
    t: &Task,
    family: i32,
    addr: u64,
    len: u32,
) -> Result<SocketAddr, Errno> {
    Ok(inet_from(family, &inet_raw(t, family, addr, len as usize)?))
}

/// The bytes of a sockaddr_in or sockaddr_in6 (EINVAL when shorter).
fn inet_raw(t: &Task, family: i32, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let min = if family == AF_INET { SIN_LEN } else { SIN6_MIN };
    if len < min {
        return Err(EINVAL);
    }
    t.mm.read_vec(addr, min)
}

/// A sockaddr_in (AF_INET sockets) or sockaddr_in6 (AF_INET6, an IPv4 destination given
/// v4-mapped): EINVAL when short, EAFNOSUPPORT for another family.
fn read_inet(t: &Task, family: i32, addr: u64, len: usize) -> Result<SocketAddr, Errno> {
    let b = inet_raw(t, family, addr, len)?;
    if u16::from_le_bytes([b[0], b[1]]) != family as u16 {
        return Err(EAFNOSUPPORT);
    }
    Ok(inet_from(family, &b))
}

/// The address in a sockaddr_in's or sockaddr_in6's bytes.
fn inet_from(family: i32, b: &[u8]) -> SocketAddr {
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip = if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7]))
    } else {
        let mut o = [0u8; 16];
        o.copy_from_slice(&b[8..24]);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    SocketAddr::new(ip, port)
}

/// How an unnamed socket's name is written.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Unnamed {
    /// The family alone (a unix socket's getsockname, getpeername, accept) or the wildcard
    /// address and port 0 (an IP socket's).
    Family,
    /// No address, length 0 (a received message's unnamed sender).
    Nothing,
}

/// Writes `name` for a socket of `family` to `addr` (at most `*len_addr` bytes) and its full
/// length to `len_addr`.
pub(super) fn write(
    t: &mut Task,
    family: i32,
    name: Option<&Addr>,
    addr: u64,
    len_addr: u64,
    unnamed: Unnamed,
) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let room = t.mm.read_u32(len_addr)? as i32;
    if room < 0 {
        return Err(EINVAL);
    }
    let b = match name {
        None if unnamed == Unnamed::Nothing => return put(t, len_addr, &0u32.to_le_bytes()),
        Some(Addr::Netlink(pid)) => netlink_bytes(*pid),
        None if family == AF_NETLINK => netlink_bytes(0),
        None if family != AF_UNIX => inet_bytes(family, SocketAddr::new(zero(family), 0)),
        Some(Addr::Inet(a)) => inet_bytes(family, *a),
        other => {
            let mut b = (AF_UNIX as u16).to_le_bytes().to_vec();
            match other {
                Some(Addr::Path(p, _)) => {
                    b.extend_from_slice(p);
                    b.push(0);
                }
                Some(Addr::Abstract(n)) => {
                    b.push(0);
                    b.extend_from_slice(n);
                }
                _ => {}
            }
            b
        }
    };
    let n = b.len().min(room as usize);
    put(t, addr, &b[..n])?;
    put(t, len_addr, &(b.len() as u32).to_le_bytes())
}

/// The wildcard address of a family.
pub(super) fn zero(family: i32) -> IpAddr {
    if family == AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// An address in a socket's family: sockaddr_in, or sockaddr_in6 (IPv4 v4-mapped).
fn inet_bytes(family: i32, a: SocketAddr) -> Vec<u8> {
    let mut b = (family as u16).to_le_bytes().to_vec();
    b.extend_from_slice(&a.port().to_be_bytes());
    match (family, a.ip()) {
        (AF_INET, IpAddr::V4(v4)) => {
            b.extend_from_slice(&v4.octets());
            b.resize(SIN_LEN, 0);
        }
        (AF_INET, IpAddr::V6(v6)) => {
            b.extend_from_slice(
                &v6.to_ipv4_mapped()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED)
                    .octets(),
            );
            b.resize(SIN_LEN, 0);
        }
        (_, ip) => {
            b.extend_from_slice(&[0; 4]);
            let v6 = match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            b.extend_from_slice(&v6.octets());
            b.resize(SIN6_LEN, 0);
        }
    }
    b
}

/// A sockaddr_nl: the family, the port id, no multicast groups.
fn netlink_bytes(pid: u32) -> Vec<u8> {
    let mut b = (AF_NETLINK as u16).to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}
