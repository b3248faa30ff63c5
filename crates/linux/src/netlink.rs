//! Route netlink as a client of the host's kernel, and the packet socket that lets the sandbox
//! serve a pod's interface itself: what the runtime needs to read an interface's addresses and
//! routes, take the addresses away from the host's stack, and open the interface's raw frames.

use crate::cvt;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_IFALIAS: u16 = 20;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const ARPHRD_ETHER: u16 = 1;
/// PACKET_IGNORE_OUTGOING (linux/if_packet.h): our own frames are not read back.
const PACKET_IGNORE_OUTGOING: i32 = 23;

/// An Ethernet interface of the caller's network namespace, as the kernel describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub index: i32,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    /// Its addresses with their prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
    /// The gateways of its default routes (main table).
    pub gateways: Vec<IpAddr>,
    /// Its alias (IFLA_IFALIAS), empty when none.
    pub alias: String,
}

/// A route netlink socket of the caller's network namespace.
pub struct Route {
    fd: OwnedFd,
    seq: u32,
}

impl Route {
    pub fn open() -> io::Result<Route> {
        // SAFETY: a fresh socket, owned at once.
        let fd = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            ))?)
        };
        Ok(Route { fd, seq: 0 })
    }

    /// Sends one request (header built here) and collects the answers until NLMSG_DONE (a
    /// dump) or the acknowledgement; an error answer becomes the io::Error.
    fn request(&mut self, typ: u16, flags: u16, body: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
        self.seq += 1;
        let len = 16 + body.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&typ.to_ne_bytes());
        m.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        crate::socket::send(&self.fd, &m)?;
        let mut out = Vec::new();
        loop {
            let buf = recv_all(&self.fd)?;
            let mut at = 0;
            while at + 16 <= buf.len() {
                let mlen = u32_at(&buf, at) as usize;
                let mtyp = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if mlen < 16 || at + mlen > buf.len() {
                    return Err(io::Error::from_raw_os_error(libc::EBADMSG));
                }
                let payload = &buf[at + 16..at + mlen];
                match mtyp {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let err = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if err != 0 {
                            return Err(io::Error::from_raw_os_error(-err));
                        }
                        return Ok(out);
                    }
                    t => out.push((t, payload.to_vec())),
                }
                at += (mlen + 3) & !3;
            }
        }
    }

    /// The Ethernet interfaces (not loopback, tunnels or others) with their addresses and
    /// default routes.
    pub fn ethernet_interfaces(&mut self) -> io::Result<Vec<Interface>> {
        let mut out = Vec::new();
        for (t, p) in self.request(RTM_GETLINK, NLM_F_DUMP, &[0u8; 16])? {
            if t != RTM_NEWLINK || p.len() < 16 {
                continue;
            }
            let typ = u16::from_ne_bytes([p[2], p[3]]);
            let index = u32_at(&p, 4) as i32;
            if typ != ARPHRD_ETHER {
                continue;
            }
            let mut i = Interface {
                index,
                ..Default::default()
            };
            for (a, v) in attrs(&p[16..]) {
                match a {
                    IFLA_IFNAME => {
                        i.name = String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v))
                            .into_owned()
                    }
                    IFLA_MTU if v.len() >= 4 => i.mtu = u32_at(v, 0),
                    IFLA_ADDRESS if v.len() == 6 => i.mac.copy_from_slice(v),
                    IFLA_IFALIAS => {
                        i.alias = String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v))
                            .into_owned()
                    }
                    _ => {}
                }
            }
            out.push(i);
        }
        for (t, p) in self.request(RTM_GETADDR, NLM_F_DUMP, &[0u8; 8])? {
            if t != RTM_NEWADDR || p.len() < 8 {
                continue;
            }
            let (family, prefix, index) = (p[0], p[1], u32_at(&p, 4) as i32);
            let Some(i) = out.iter_mut().find(|i| i.index == index) else {
                continue;
            };
            let mut addr = None;
            for (a, v) in attrs(&p[8..]) {
                // IFA_LOCAL is the address itself on point-to-point links; IFA_ADDRESS
                // otherwise.
                if a == IFA_LOCAL || (a == IFA_ADDRESS && addr.is_none()) {
                    addr = ip(family, v);
                }
            }
            if let Some(a) = addr {
                i.addrs.push((a, prefix));
            }
        }
        for (t, p) in self.request(RTM_GETROUTE, NLM_F_DUMP, &[0u8; 12])? {
            if t != RTM_NEWROUTE || p.len() < 12 || p[4] != RT_TABLE_MAIN || p[1] != 0 {
                continue;
            }
            let family = p[0];
            let (mut gw, mut oif, mut dst) = (None, None, false);
            for (a, v) in attrs(&p[12..]) {
                match a {
                    RTA_GATEWAY => gw = ip(family, v),
                    RTA_OIF if v.len() >= 4 => oif = Some(u32_at(v, 0) as i32),
                    RTA_DST => dst = true,
                    _ => {}
                }
            }
            if let (Some(gw), Some(oif), false) = (gw, oif, dst) {
                if let Some(i) = out.iter_mut().find(|i| i.index == oif) {
                    i.gateways.push(gw);
                }
            }
        }
        Ok(out)
    }

    /// Removes an address from an interface (the routes through it go with it).
    pub fn delete_addr(&mut self, index: i32, addr: IpAddr, prefix: u8) -> io::Result<()> {
        let (family, bytes) = match addr {
            IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
            IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
        };
        let mut body = vec![family, prefix, 0, 0];
        body.extend_from_slice(&(index as u32).to_ne_bytes());
        let alen = (4 + bytes.len()) as u16;
        body.extend_from_slice(&alen.to_ne_bytes());
        body.extend_from_slice(&IFA_LOCAL.to_ne_bytes());
        body.extend_from_slice(&bytes);
        self.request(RTM_DELADDR, NLM_F_ACK, &body).map(|_| ())
    }
}

impl Route {
    /// Sets an interface's alias (what `ip link` shows as "alias").
    pub fn set_alias(&mut self, index: i32, alias: &str) -> io::Result<()> {
        let mut body = vec![0u8; 16];
        body[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let alen = (4 + alias.len() + 1) as u16;
        body.extend_from_slice(&alen.to_ne_bytes());
        body.extend_from_slice(&IFLA_IFALIAS.to_ne_bytes());
        body.extend_from_slice(alias.as_bytes());
        body.push(0);
        body.resize((body.len() + 3) & !3, 0);
        self.request(RTM_SETLINK, NLM_F_ACK, &body).map(|_| ())
    }
}

/// Receives one netlink datagram whole (MSG_TRUNC tells its size first).
fn recv_all(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 32768];
    loop {
        // SAFETY: buf is valid for its length; the kernel writes at most that much.
        let n = cvt(unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_PEEK | libc::MSG_TRUNC,
            )
        })? as usize;
        if n > buf.len() {
            buf.resize(n, 0);
            continue;
        }
        // SAFETY: as above.
        let n = cvt(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?
            as usize;
        buf.truncate(n);
        return Ok(buf);
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
}

/// The (type, value) attributes of a message's tail.
fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let typ = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((typ, &b[4..len]));
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

fn ip(family: u8, v: &[u8]) -> Option<IpAddr> {
    match (i32::from(family), v.len()) {
        (libc::AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(v).ok()?)),
        (libc::AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(v).ok()?)),
        _ => None,
    }
}

/// A non-blocking packet socket bound to interface `index`, reading every frame that reaches it
/// (ETH_P_ALL) but not the ones it sends; its receive buffer raised to `rcvbuf` (root's
/// SO_RCVBUFFORCE, so a burst from the host is not dropped at the default size).
pub fn packet_socket(index: i32, rcvbuf: i32) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: a fresh socket, owned at once.
    let fd = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(proto),
        ))?)
    };
    // SAFETY: sockaddr_ll is plain data; all zero is valid and the fields are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = index;
    // SAFETY: sll is a valid sockaddr_ll of the size given.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    })?;
    setsockopt_int(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
    // Best effort: a smaller buffer only drops more under bursts.
    let _ = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rcvbuf);
    let _ = setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, rcvbuf);
    Ok(fd)
}

fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: the option value is an int that lives across the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_walked_with_padding() {
        // IFLA_MTU (8 bytes) then IFLA_IFNAME "eth0\0" (9 bytes, padded to 12).
        let mut b = vec![8, 0, 4, 0, 0xdc, 5, 0, 0];
        b.extend_from_slice(&[9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0]);
        let a = attrs(&b);
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].0, u32_at(a[0].1, 0)), (IFLA_MTU, 1500));
        assert_eq!(a[1].1, b"eth0\0");
        assert_eq!(
            ip(libc::AF_INET as u8, &[10, 0, 0, 1]),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(ip(libc::AF_INET as u8, &[10, 0, 1]), None);
    }
}
