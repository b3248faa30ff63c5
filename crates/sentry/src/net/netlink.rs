//! Route netlink (NETLINK_ROUTE) answered by the sentry: what `ip link`, `ip addr` and
//! `ip route` ask to list the sandbox's interfaces, which today are loopback alone (lo, index
//! 1: 127.0.0.1/8 and ::1/128). Requests to change anything are refused (EPERM): the
//! sandbox's network is the sentry's to configure. A request's answers go into the asking
//! socket's own queue, a dump's as one datagram of messages and one with NLMSG_DONE.

/// Message types and flags (linux/netlink.h, linux/rtnetlink.h).
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NLM_F_REQUEST: u16 = 1;
pub(super) const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
pub(super) const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_GETROUTE: u16 = 26;
const RTM_GETNEIGH: u16 = 30;
const RTM_GETRULE: u16 = 34;
const RTM_GETNETCONF: u16 = 82;

/// Loopback's index, flags and type (ARPHRD_LOOPBACK).
const LO_INDEX: i32 = 1;
const LO_FLAGS: u32 = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as u32 | 0x10000;
const ARPHRD_LOOPBACK: u16 = 772;

/// Attributes of links (IFLA_*) and addresses (IFA_*).
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_GROUP: u16 = 27;
const IFLA_STATS64: u16 = 23;
/// struct rtnl_link_stats64's fields, as many as this kernel sends.
const STATS64_FIELDS: usize = 25;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u8 = 0x80;
const RT_SCOPE_HOST: u8 = 254;
const RT_SCOPE_LINK: u8 = 253;
const ARPHRD_ETHER: u16 = 1;
const IF_OPER_UP: u8 = 6;
const RTM_NEWROUTE: u16 = 24;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_KERNEL: u8 = 2;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

use super::pod::Shown;
use std::net::IpAddr;

/// The answers to one datagram of requests from the socket with netlink id `portid`: the
/// datagrams to queue for it.
pub fn answer(request: &[u8], portid: u32) -> Vec<Vec<u8>> {
    each(request, |h, body| one(h, body, portid))
}

/// The answers `f` gives to each message of a datagram (its header and body). As Linux, a
/// message whose length is shorter than a header or runs past the datagram ends it quietly.
pub(super) fn each(
    request: &[u8],
    mut f: impl FnMut(&Header, &[u8]) -> Vec<Vec<u8>>,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= request.len() {
        let h = Header::parse(&request[at..]);
        let len = h.len as usize;
        if len < 16 || at + len > request.len() {
            break;
        }
        out.extend(f(&h, &request[at + 16..at + len]));
        at += (len + 3) & !3;
    }
    out
}

pub(super) struct Header {
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    raw: [u8; 16],
}

impl Header {
    /// The header at the start of `b` (at least 16 bytes).
    pub(super) fn parse(b: &[u8]) -> Header {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&b[..16]);
        Header {
            len: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            kind: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            raw,
        }
    }
}

/// The answers to one request.
fn one(h: &Header, body: &[u8], portid: u32) -> Vec<Vec<u8>> {
    if h.flags & NLM_F_REQUEST == 0 {
        return Vec::new();
    }
    let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP;
    let pod = super::pod::shown();
    let family = body.first().copied().unwrap_or(0) as i32;
    let msgs: Vec<Vec<u8>> = match h.kind {
        RTM_GETLINK if dump => {
            let mut v = vec![link(h.seq, portid, NLM_F_MULTI)];
            v.extend(
                pod.as_ref()
                    .map(|p| pod_link(p, h.seq, portid, NLM_F_MULTI)),
            );
            v
        }
        RTM_GETLINK => {
            let index = body
                .get(4..8)
                .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            if index == LO_INDEX || index == 0 && named(body) == Some(b"lo") {
                return vec![link(h.seq, portid, 0)];
            }
            if let Some(p) = pod.as_ref().filter(|p| {
                index == p.link.index || index == 0 && named(body) == Some(p.link.name.as_bytes())
            }) {
                return vec![pod_link(p, h.seq, portid, 0)];
            }
            return vec![error(h, portid, -libc::ENODEV)];
        }
        RTM_GETADDR if dump => {
            let mut v = Vec::new();
            if family == libc::AF_UNSPEC || family == libc::AF_INET {
                v.push(addr4(h.seq, portid));
            }
            if family == libc::AF_UNSPEC || family == libc::AF_INET6 {
                v.push(addr6(h.seq, portid));
            }
            for p in pod.iter() {
                for (ip, len) in &p.link.addrs {
                    if family == libc::AF_UNSPEC || family == family_of(ip) {
                        v.push(pod_addr(p, *ip, *len, h.seq, portid));
                    }
                }
            }
            v
        }
        // The main table: the pod interface's routes (loopback's are the local table's,
        // which `ip route` does not show either).
        RTM_GETROUTE if dump => pod
            .iter()
            .flat_map(|p| pod_routes(p, family, h.seq, portid))
            .collect(),
        RTM_GETNEIGH | RTM_GETRULE | RTM_GETNETCONF if dump => Vec::new(),
        k if k % 4 == 2 && dump => Vec::new(),
        // NEW, DEL and SET requests: the sandbox's network is not the application's to change.
        k if k >= RTM_NEWLINK && k % 4 != 2 => return vec![error(h, portid, -libc::EPERM)],
        _ => return vec![error(h, portid, -libc::EOPNOTSUPP)],
    };
    if !dump {
        return msgs;
    }
    let mut batch: Vec<u8> = msgs.concat();
    if batch.is_empty() {
        batch = done(h.seq, portid);
        return vec![batch];
    }
    let mut answers = vec![std::mem::take(&mut batch)];
    answers.push(done(h.seq, portid));
    if h.flags & NLM_F_ACK != 0 {
        answers.push(error(h, portid, 0));
    }
    answers
}

/// The name a GETLINK request gives by IFLA_IFNAME.
fn named(body: &[u8]) -> Option<&[u8]> {
    let mut at = 16;
    while at + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[at], body[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([body[at + 2], body[at + 3]]);
        if len < 4 || at + len > body.len() {
            return None;
        }
        if kind == IFLA_IFNAME {
            let name = &body[at + 4..at + len];
            return name.split(|c| *c == 0).next();
        }
        at += (len + 3) & !3;
    }
    None
}

fn family_of(ip: &IpAddr) -> i32 {
    if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

fn octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// RTM_NEWLINK for the pod's Ethernet interface (served by the sentry's stack).
fn pod_link(p: &Shown, seq: u32, portid: u32, flags: u16) -> Vec<u8> {
    let ifflags = (libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_RUNNING | libc::IFF_MULTICAST)
        as u32
        | 0x10000;
    let mut fixed = vec![libc::AF_UNSPEC as u8, 0];
    fixed.extend_from_slice(&ARPHRD_ETHER.to_ne_bytes());
    fixed.extend_from_slice(&p.link.index.to_ne_bytes());
    fixed.extend_from_slice(&ifflags.to_ne_bytes());
    fixed.extend_from_slice(&0u32.to_ne_bytes());
    let mut a = Vec::new();
    attr(&mut a, IFLA_IFNAME, format!("{}\0", p.link.name).as_bytes());
    attr(&mut a, IFLA_TXQLEN, &1000u32.to_ne_bytes());
    attr(&mut a, IFLA_OPERSTATE, &[IF_OPER_UP]);
    attr(&mut a, IFLA_LINKMODE, &[0]);
    attr(&mut a, IFLA_MTU, &p.link.mtu.to_ne_bytes());
    attr(&mut a, IFLA_GROUP, &0u32.to_ne_bytes());
    attr(&mut a, IFLA_ADDRESS, &p.link.mac);
    attr(&mut a, IFLA_BROADCAST, &[0xff; 6]);
    attr(&mut a, IFLA_QDISC, b"noqueue\0");
    attr(&mut a, IFLA_STATS64, &stats64(p));
    message(RTM_NEWLINK, flags, seq, portid, &fixed, &a)
}

/// IFLA_STATS64 of the pod's interface: the frames and bytes the stack read and wrote, and
/// the frames read that it could not take (rx_errors, rx_dropped; frame.rs).
fn stats64(p: &Shown) -> Vec<u8> {
    let mut v = [0u64; STATS64_FIELDS];
    v[..8].copy_from_slice(&[
        p.frames.0,
        p.frames.1,
        p.bytes.0,
        p.bytes.1,
        p.bad.errors,
        0,
        p.bad.dropped,
        0,
    ]);
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// RTM_NEWADDR for one of the pod interface's addresses.
fn pod_addr(p: &Shown, ip: IpAddr, len: u8, seq: u32, portid: u32) -> Vec<u8> {
    let link_local = matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local());
    let scope = if link_local { RT_SCOPE_LINK } else { 0 };
    let mut fixed = vec![family_of(&ip) as u8, len, IFA_F_PERMANENT, scope];
    fixed.extend_from_slice(&p.link.index.to_ne_bytes());
    let mut a = Vec::new();
    attr(&mut a, IFA_ADDRESS, &octets(&ip));
    if let IpAddr::V4(v4) = ip {
        attr(&mut a, IFA_LOCAL, &v4.octets());
        attr(&mut a, IFA_LABEL, format!("{}\0", p.link.name).as_bytes());
    }
    attr(&mut a, IFA_FLAGS, &u32::from(IFA_F_PERMANENT).to_ne_bytes());
    attr(&mut a, IFA_CACHEINFO, &cacheinfo());
    message(RTM_NEWADDR, NLM_F_MULTI, seq, portid, &fixed, &a)
}

/// The main table's routes through the pod interface: the default route through each
/// gateway, and each address's prefix on the link.
fn pod_routes(p: &Shown, family: i32, seq: u32, portid: u32) -> Vec<Vec<u8>> {
    let wanted = |ip: &IpAddr| family == libc::AF_UNSPEC || family == family_of(ip);
    let mut out = Vec::new();
    let route = |dst: Option<(IpAddr, u8)>, gw: Option<IpAddr>, src: Option<IpAddr>, f: i32| {
        let (proto, scope) = if gw.is_some() {
            (RTPROT_BOOT, 0)
        } else {
            (RTPROT_KERNEL, RT_SCOPE_LINK)
        };
        let len = dst.map_or(0, |(_, l)| l);
        let fixed = [
            f as u8,
            len,
            0,
            0,
            RT_TABLE_MAIN,
            proto,
            scope,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        let mut a = Vec::new();
        attr(&mut a, RTA_TABLE, &u32::from(RT_TABLE_MAIN).to_ne_bytes());
        if let Some((d, _)) = dst {
            attr(&mut a, RTA_DST, &octets(&d));
        }
        if let Some(s) = src {
            attr(&mut a, RTA_PREFSRC, &octets(&s));
        }
        if let Some(g) = gw {
            attr(&mut a, RTA_GATEWAY, &octets(&g));
        }
        attr(&mut a, RTA_OIF, &p.link.index.to_ne_bytes());
        message(RTM_NEWROUTE, NLM_F_MULTI, seq, portid, &fixed, &a)
    };
    for g in p.link.gateways.iter().filter(|g| wanted(g)) {
        out.push(route(None, Some(*g), None, family_of(g)));
    }
    for (ip, len) in p.link.addrs.iter().filter(|(a, _)| wanted(a)) {
        let net = super::inet::network(*ip, *len);
        let src = ip.is_ipv4().then_some(*ip);
        out.push(route(Some((net, *len)), None, src, family_of(ip)));
    }
    out
}

/// A message: header, fixed part and attributes.
pub(super) fn message(
    kind: u16,
    flags: u16,
    seq: u32,
    portid: u32,
    fixed: &[u8],
    attrs: &[u8],
) -> Vec<u8> {
    let len = 16 + fixed.len() + attrs.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&portid.to_ne_bytes());
    m.extend_from_slice(fixed);
    m.extend_from_slice(attrs);
    m
}

/// One attribute, padded to 4 bytes.
pub(super) fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// RTM_NEWLINK for lo.
fn link(seq: u32, portid: u32, flags: u16) -> Vec<u8> {
    let mut fixed = Vec::new();
    fixed.push(libc::AF_UNSPEC as u8);
    fixed.push(0);
    fixed.extend_from_slice(&ARPHRD_LOOPBACK.to_ne_bytes());
    fixed.extend_from_slice(&LO_INDEX.to_ne_bytes());
    fixed.extend_from_slice(&LO_FLAGS.to_ne_bytes());
    fixed.extend_from_slice(&0u32.to_ne_bytes());
    let mut a = Vec::new();
    attr(&mut a, IFLA_IFNAME, b"lo\0");
    attr(&mut a, IFLA_TXQLEN, &1000u32.to_ne_bytes());
    attr(&mut a, IFLA_OPERSTATE, &[0]);
    attr(&mut a, IFLA_LINKMODE, &[0]);
    attr(&mut a, IFLA_MTU, &65536u32.to_ne_bytes());
    attr(&mut a, IFLA_GROUP, &0u32.to_ne_bytes());
    attr(&mut a, IFLA_ADDRESS, &[0; 6]);
    attr(&mut a, IFLA_BROADCAST, &[0; 6]);
    attr(&mut a, IFLA_QDISC, b"noqueue\0");
    // Loopback's traffic joins sockets directly: no frames to count.
    attr(&mut a, IFLA_STATS64, &[0; STATS64_FIELDS * 8]);
    message(RTM_NEWLINK, flags, seq, portid, &fixed, &a)
}

/// struct ifaddrmsg for lo: family, prefix length, IFA_F_PERMANENT, host scope.
fn ifaddrmsg(family: i32, prefix: u8) -> Vec<u8> {
    let mut f = vec![family as u8, prefix, IFA_F_PERMANENT, RT_SCOPE_HOST];
    f.extend_from_slice(&LO_INDEX.to_ne_bytes());
    f
}

/// IFA_CACHEINFO of a permanent address: lifetimes "forever".
fn cacheinfo() -> Vec<u8> {
    [u32::MAX, u32::MAX, 0, 0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect()
}

fn addr4(seq: u32, portid: u32) -> Vec<u8> {
    let mut a = Vec::new();
    attr(&mut a, IFA_ADDRESS, &[127, 0, 0, 1]);
    attr(&mut a, IFA_LOCAL, &[127, 0, 0, 1]);
    attr(&mut a, IFA_LABEL, b"lo\0");
    attr(&mut a, IFA_FLAGS, &u32::from(IFA_F_PERMANENT).to_ne_bytes());
    attr(&mut a, IFA_CACHEINFO, &cacheinfo());
    message(
        RTM_NEWADDR,
        NLM_F_MULTI,
        seq,
        portid,
        &ifaddrmsg(libc::AF_INET, 8),
        &a,
    )
}

fn addr6(seq: u32, portid: u32) -> Vec<u8> {
    let mut a = Vec::new();
    attr(&mut a, IFA_ADDRESS, &std::net::Ipv6Addr::LOCALHOST.octets());
    attr(&mut a, IFA_CACHEINFO, &cacheinfo());
    attr(&mut a, IFA_FLAGS, &u32::from(IFA_F_PERMANENT).to_ne_bytes());
    message(
        RTM_NEWADDR,
        NLM_F_MULTI,
        seq,
        portid,
        &ifaddrmsg(libc::AF_INET6, 128),
        &a,
    )
}

fn done(seq: u32, portid: u32) -> Vec<u8> {
    message(
        NLMSG_DONE,
        NLM_F_MULTI,
        seq,
        portid,
        &0i32.to_ne_bytes(),
        &[],
    )
}

/// NLMSG_ERROR with `errno` (negative; 0 is an acknowledgement) and the request's header.
pub(super) fn error(h: &Header, portid: u32, errno: i32) -> Vec<u8> {
    let mut fixed = errno.to_ne_bytes().to_vec();
    fixed.extend_from_slice(&h.raw);
    message(NLMSG_ERROR, 0, h.seq, portid, &fixed, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u16, flags: u16, family: u8) -> Vec<u8> {
        message(kind, flags, 7, 0, &[family, 0, 0, 0, 0, 0, 0, 0], &[])
    }

    #[test]
    fn a_dump_of_addresses_ends_with_done() {
        let a = answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 0), 42);
        assert_eq!(a.len(), 2);
        let first = Header::parse(&a[0]);
        assert_eq!((first.kind, first.seq), (RTM_NEWADDR, 7));
        assert_eq!(Header::parse(&a[1]).kind, NLMSG_DONE);
        let v4 = answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2), 42);
        assert_eq!(v4[0].len(), addr4(7, 42).len());
    }

    #[test]
    fn changes_are_refused() {
        let a = answer(&request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, 2), 1);
        let e = i32::from_ne_bytes([a[0][16], a[0][17], a[0][18], a[0][19]]);
        assert_eq!((Header::parse(&a[0]).kind, e), (NLMSG_ERROR, -libc::EPERM));
    }
}
