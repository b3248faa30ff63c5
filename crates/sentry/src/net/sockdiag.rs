//! NETLINK_SOCK_DIAG answered by the sentry: the SOCK_DIAG_BY_FAMILY requests `ss` lists
//! sockets by (linux/sock_diag.h, inet_diag.h, unix_diag.h). TCP and UDP sockets over IPv4 and
//! IPv6 (inet_diag_req_v2 in, inet_diag_msg out) and unix sockets (unix_diag_req in,
//! unix_diag_msg with the attributes udiag_show asks for out), dumps and exact look-ups, from
//! the same socket table /proc/net shows (procnet.rs). A filter's bytecode
//! (INET_DIAG_REQ_BYTECODE) is not run: ss applies its filter again to what it receives.
//! What Linux has no handler for here answers its errno: ENOENT for a family or protocol
//! without a diag module (raw, SCTP, DCCP, MPTCP, packet, netlink sockets), EINVAL for a short
//! request or a family past AF_MAX, EOPNOTSUPP for SOCK_DESTROY and the old TCPDIAG requests.

use super::netlink::{self, Header, NLM_F_DUMP, NLM_F_MULTI};
use super::procnet;
use super::unix::{Addr, Info, Kind, Socket};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

/// Request types (linux/sock_diag.h, linux/inet_diag.h).
const TCPDIAG_GETSOCK: u16 = 18;
const DCCPDIAG_GETSOCK: u16 = 19;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const SOCK_DESTROY: u16 = 21;
/// Families past this are EINVAL (AF_MAX).
const AF_MAX: u8 = 46;
/// sizeof(struct inet_diag_req_v2) and sizeof(struct unix_diag_req).
const INET_REQ_LEN: usize = 56;
const UNIX_REQ_LEN: usize = 24;
/// A cookie that asks for no check (INET_DIAG_NOCOOKIE).
const NO_COOKIE: u64 = u64::MAX;
/// udiag_show bits and the attributes they ask for.
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;
/// The attribute every IPv6 socket's record carries: whether it takes IPv6 only (ss prints
/// a wildcard that takes IPv4 too as `*`, one that does not as `[::]`).
const INET_DIAG_SKV6ONLY: u16 = 11;
/// Attributes every record carries (sk_shutdown), or that idiag_ext asks for (the socket's
/// memory: what `ss -m` prints), and the request's protocol attribute.
const INET_DIAG_SHUTDOWN: u16 = 8;
const INET_DIAG_SKMEMINFO: u16 = 7;
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// udiag_show's memory bit and the unix attributes of memory and sk_shutdown.
const UDIAG_SHOW_MEMINFO: u32 = 0x20;
const UNIX_DIAG_MEMINFO: u16 = 5;
const UNIX_DIAG_SHUTDOWN: u16 = 6;
/// A dump is sent in datagrams of about this size, as Linux fills one skb per read.
const BATCH: usize = 16 * 1024;

/// The answers to one datagram of requests from the socket with netlink id `portid`.
pub fn answer(request: &[u8], portid: u32) -> Vec<Vec<u8>> {
    netlink::each(request, |h, body| one(h, body, portid))
}

/// Why a request gets no records: an errno answered at once (NLMSG_ERROR), or one a dump
/// meets once started (Linux's inet_diag looks for the protocol's handler then: its dump ends
/// with NLMSG_DONE carrying the errno; a request that is not a dump gets NLMSG_ERROR).
enum Refused {
    Errno(i32),
    InDump(i32),
}

impl From<i32> for Refused {
    fn from(e: i32) -> Refused {
        Refused::Errno(e)
    }
}

fn one(h: &Header, body: &[u8], portid: u32) -> Vec<Vec<u8>> {
    if h.flags & netlink::NLM_F_REQUEST == 0 {
        return Vec::new();
    }
    let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP;
    let records = match h.kind {
        SOCK_DIAG_BY_FAMILY => by_family(body, dump),
        // Destroying sockets (ss -K) and inet_diag's old interface for TCP are not served;
        // its DCCP request is EINVAL, as from a kernel without DCCP.
        SOCK_DESTROY | TCPDIAG_GETSOCK => Err(Refused::Errno(libc::EOPNOTSUPP)),
        DCCPDIAG_GETSOCK => Err(Refused::Errno(libc::EINVAL)),
        _ => Err(Refused::Errno(libc::EINVAL)),
    };
    match records {
        Err(Refused::InDump(e)) if dump => vec![done(h.seq, portid, -e)],
        Err(Refused::Errno(e) | Refused::InDump(e)) => vec![netlink::error(h, portid, -e)],
        Ok(r) if dump => batches(&r, h.seq, portid),
        Ok(r) => match r.first() {
            Some(body) => vec![netlink::message(
                SOCK_DIAG_BY_FAMILY,
                0,
                h.seq,
                portid,
                body,
                &[],
            )],
            None => vec![netlink::error(h, portid, -libc::ENOENT)],
        },
    }
}

/// NLMSG_DONE ending a dump; `errno` (negative) is a dump that failed once started.
fn done(seq: u32, portid: u32, errno: i32) -> Vec<u8> {
    netlink::message(
        netlink::NLMSG_DONE,
        NLM_F_MULTI,
        seq,
        portid,
        &errno.to_ne_bytes(),
        &[],
    )
}

/// A dump's records as datagrams of messages, then NLMSG_DONE.
fn batches(records: &[Vec<u8>], seq: u32, portid: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut batch = Vec::new();
    for r in records {
        let m = netlink::message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, seq, portid, r, &[]);
        if !batch.is_empty() && batch.len() + m.len() > BATCH {
            out.push(std::mem::take(&mut batch));
        }
        batch.extend_from_slice(&m);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out.push(done(seq, portid, 0));
    out
}

/// The records a SOCK_DIAG_BY_FAMILY request asks for (each a message body), or its errno.
fn by_family(body: &[u8], dump: bool) -> Result<Vec<Vec<u8>>, Refused> {
    let (&family, &protocol) = match body {
        [f, p, ..] => (f, p),
        _ => return Err(Refused::Errno(libc::EINVAL)),
    };
    if family >= AF_MAX {
        return Err(Refused::Errno(libc::EINVAL));
    }
    match i32::from(family) {
        libc::AF_INET | libc::AF_INET6 => {
            let req = InetReq::parse(body)?;
            let kind = match req.protocol.unwrap_or(i32::from(protocol)) {
                libc::IPPROTO_TCP => Kind::Stream,
                libc::IPPROTO_UDP => Kind::Dgram,
                // udp_diag serves UDP-Lite too: the sandbox has none of those.
                libc::IPPROTO_UDPLITE => return Ok(Vec::new()),
                _ => return Err(Refused::InDump(libc::ENOENT)),
            };
            Ok(inet_records(&req, kind, dump))
        }
        libc::AF_UNIX => {
            let req = UnixReq::parse(body)?;
            if !dump && req.ino == 0 {
                return Err(Refused::Errno(libc::EINVAL));
            }
            Ok(unix_records(&req, dump)?)
        }
        _ => Err(Refused::Errno(libc::ENOENT)),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What an inet_diag_req_v2 asks: family, states, and the socket id's ports, addresses and
/// cookie (a dump matches nonzero ports only; an exact request all of them).
struct InetReq {
    family: i32,
    /// INET_DIAG_REQ_PROTOCOL: a protocol past 255 (MPTCP's), which sdiag_protocol cannot hold.
    protocol: Option<i32>,
    /// idiag_ext: the extensions asked for (bit n-1 for attribute n).
    ext: u8,
    states: u32,
    /// id: the socket asked for (an exact request) or the ports a dump is limited to.
    id: SockId,
}

impl InetReq {
    fn parse(b: &[u8]) -> Result<InetReq, i32> {
        if b.len() < INET_REQ_LEN {
            return Err(libc::EINVAL);
        }
        Ok(InetReq {
            family: i32::from(b[0]),
            protocol: req_protocol(&b[INET_REQ_LEN..]),
            ext: b[2],
            states: u32_at(b, 4),
            id: SockId::parse(&b[8..INET_REQ_LEN]),
        })
    }
}

/// The INET_DIAG_REQ_PROTOCOL attribute among a request's attributes (the bytecode, which is
/// not run, may come before it).
fn req_protocol(mut attrs: &[u8]) -> Option<i32> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == INET_DIAG_REQ_PROTOCOL && len >= 8 {
            return Some(u32_at(attrs, 4) as i32);
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    None
}

/// An inet_diag_msg for each TCP or UDP socket of the request's family that it matches.
fn inet_records(req: &InetReq, kind: Kind, dump: bool) -> Vec<Vec<u8>> {
    let tcp = kind == Kind::Stream;
    let v6 = req.family == libc::AF_INET6;
    let mut out = Vec::new();
    for s in procnet::listed() {
        if s.kind != kind || s.family != req.family {
            continue;
        }
        let i = s.info();
        let Some(Addr::Inet(local)) = i.name else {
            continue;
        };
        let remote = match &i.peer {
            Some(Addr::Inet(a)) => *a,
            _ => SocketAddr::new(procnet::unspecified(v6), 0),
        };
        let state = procnet::inet_state(&i, tcp);
        let id = SockId {
            sport: local.port(),
            dport: remote.port(),
            src: addr_bytes(local.ip(), v6),
            dst: addr_bytes(remote.ip(), v6),
            cookie: i.ino,
        };
        if req.states & (1 << state) == 0 || !id.matches(&req.id, dump) {
            continue;
        }
        let mut m = inet_msg(req.family as u8, state, &id, &i, tcp);
        netlink::attr(&mut m, INET_DIAG_SHUTDOWN, &[i.shutdown]);
        if req.ext & (1 << (INET_DIAG_SKMEMINFO - 1)) != 0 {
            netlink::attr(&mut m, INET_DIAG_SKMEMINFO, &skmem(&s, &i));
        }
        if v6 {
            netlink::attr(
                &mut m,
                INET_DIAG_SKV6ONLY,
                &[u8::from(v6only(&s, local.ip()))],
            );
        }
        out.push(m);
        if !dump {
            break;
        }
    }
    out
}

/// Whether an IPv6 socket takes IPv6 only: IPV6_V6ONLY set, or (as Linux marks it at bind)
/// bound to an IPv6 address that is neither the wildcard nor v4-mapped.
fn v6only(s: &Socket, local: IpAddr) -> bool {
    let specific =
        matches!(local, IpAddr::V6(a) if !a.is_unspecified() && a.to_ipv4_mapped().is_none());
    specific || s.opt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY).unwrap_or(0) != 0
}

/// struct inet_diag_sockid of a socket.
#[derive(Debug, PartialEq, Eq)]
struct SockId {
    sport: u16,
    dport: u16,
    src: [u8; 16],
    dst: [u8; 16],
    cookie: u64,
}

impl SockId {
    /// Whether a request names this socket: a dump by its nonzero ports, an exact request by
    /// ports, addresses and (unless INET_DIAG_NOCOOKIE) cookie.
    fn matches(&self, req: &SockId, dump: bool) -> bool {
        if dump {
            return (req.sport == 0 || req.sport == self.sport)
                && (req.dport == 0 || req.dport == self.dport);
        }
        req.sport == self.sport
            && req.dport == self.dport
            && req.src == self.src
            && req.dst == self.dst
            && (req.cookie == NO_COOKIE || req.cookie == self.cookie)
    }

    /// inet_diag_sockid as `bytes` lays it out (48 bytes; the bound device is not kept).
    fn parse(b: &[u8]) -> SockId {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&b[4..20]);
        dst.copy_from_slice(&b[20..36]);
        SockId {
            sport: u16::from_be_bytes([b[0], b[1]]),
            dport: u16::from_be_bytes([b[2], b[3]]),
            src,
            dst,
            cookie: u64::from(u32_at(b, 40)) | u64::from(u32_at(b, 44)) << 32,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(48);
        b.extend_from_slice(&self.sport.to_be_bytes());
        b.extend_from_slice(&self.dport.to_be_bytes());
        b.extend_from_slice(&self.src);
        b.extend_from_slice(&self.dst);
        b.extend_from_slice(&0u32.to_ne_bytes()); // idiag_if: no bound device
        b.extend_from_slice(&(self.cookie as u32).to_ne_bytes());
        b.extend_from_slice(&((self.cookie >> 32) as u32).to_ne_bytes());
        b
    }
}

/// An address as inet_diag carries it: 4 bytes (then zeros) for IPv4, 16 for IPv6 (an IPv4
/// address of an IPv6 socket v4-mapped).
fn addr_bytes(ip: IpAddr, v6: bool) -> [u8; 16] {
    let mut b = [0u8; 16];
    match (ip, v6) {
        (IpAddr::V4(a), false) => b[..4].copy_from_slice(&a.octets()),
        (IpAddr::V4(a), true) => b = a.to_ipv6_mapped().octets(),
        (IpAddr::V6(a), true) => b = a.octets(),
        (IpAddr::V6(a), false) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                b[..4].copy_from_slice(&v4.octets());
            }
        }
    }
    b
}

/// struct inet_diag_msg. A listener's queues are its accept queue and backlog, as Linux
/// gives them; another socket's the bytes waiting to be read and none in flight.
fn inet_msg(family: u8, state: u8, id: &SockId, i: &Info, tcp: bool) -> Vec<u8> {
    let rq = procnet::rx_queue(i, tcp);
    let wq = if i.listening { i.backlog } else { 0 };
    let mut m = vec![family, state, 0, 0];
    m.extend_from_slice(&id.bytes());
    for v in [0, rq as u32, wq as u32, i.uid, i.ino as u32] {
        m.extend_from_slice(&v.to_ne_bytes());
    }
    m
}

/// SK_MEMINFO_VARS: bytes queued to read, the receive buffer, the send buffer; what Linux
/// counts besides (memory in flight, forward allocations, drops) is not kept: 0.
fn skmem(s: &Socket, i: &Info) -> Vec<u8> {
    let rmem = if i.listening { 0 } else { i.queued };
    [rmem, s.buf(false), 0, s.buf(true), 0, 0, 0, 0, 0]
        .iter()
        .flat_map(|v| (*v as u32).to_ne_bytes())
        .collect()
}

/// What a unix_diag_req asks: states, the inode of an exact request, the attributes to show
/// and the cookie.
struct UnixReq {
    states: u32,
    ino: u32,
    show: u32,
    cookie: u64,
}

impl UnixReq {
    fn parse(b: &[u8]) -> Result<UnixReq, i32> {
        if b.len() < UNIX_REQ_LEN {
            return Err(libc::EINVAL);
        }
        Ok(UnixReq {
            states: u32_at(b, 4),
            ino: u32_at(b, 8),
            show: u32_at(b, 12),
            cookie: u64::from(u32_at(b, 16)) | u64::from(u32_at(b, 20)) << 32,
        })
    }
}

/// A unix_diag_msg for each unix socket in the request's states (a dump), or for the one
/// with its inode (ENOENT when none has it, ESTALE for a cookie that is not that socket's).
fn unix_records(req: &UnixReq, dump: bool) -> Result<Vec<Vec<u8>>, i32> {
    let socks: Vec<Rc<Socket>> = procnet::listed()
        .into_iter()
        .filter(|s| s.family == libc::AF_UNIX)
        .collect();
    if !dump {
        let s = socks
            .iter()
            .find(|s| s.info().ino == u64::from(req.ino))
            .ok_or(libc::ENOENT)?;
        let i = s.info();
        if req.cookie != NO_COOKIE && req.cookie != i.ino {
            return Err(libc::ESTALE);
        }
        return Ok(vec![unix_msg(s, &i, req.show)]);
    }
    Ok(socks
        .iter()
        .filter_map(|s| {
            let i = s.info();
            (req.states & (1 << unix_state(s, &i)) != 0).then(|| unix_msg(s, &i, req.show))
        })
        .collect())
}

/// TCP_LISTEN, TCP_ESTABLISHED (connected: a stream's connection, a datagram socket's
/// peer) or TCP_CLOSE, as Linux keeps a unix socket's state.
fn unix_state(s: &Socket, i: &Info) -> u8 {
    if i.listening {
        procnet::LISTEN
    } else if i.connected || (s.kind == Kind::Dgram && i.peer_ino.is_some()) {
        procnet::ESTABLISHED
    } else {
        procnet::CLOSE
    }
}

/// struct unix_diag_msg and the attributes `show` asks for.
fn unix_msg(s: &Socket, i: &Info, show: u32) -> Vec<u8> {
    let mut m = vec![
        libc::AF_UNIX as u8,
        s.kind.to_type() as u8,
        unix_state(s, i),
        0,
    ];
    m.extend_from_slice(&(i.ino as u32).to_ne_bytes());
    m.extend_from_slice(&(i.ino as u32).to_ne_bytes());
    m.extend_from_slice(&((i.ino >> 32) as u32).to_ne_bytes());
    if show & UDIAG_SHOW_NAME != 0 {
        // sun_path as bound: a path with its NUL, an abstract name after its leading NUL.
        let name = match &i.name {
            Some(Addr::Path(p, _)) => Some([p.as_slice(), &[0]].concat()),
            Some(Addr::Abstract(n)) => Some([&[0], n.as_slice()].concat()),
            _ => None,
        };
        if let Some(n) = name {
            netlink::attr(&mut m, UNIX_DIAG_NAME, &n);
        }
    }
    if show & UDIAG_SHOW_PEER != 0 {
        if let Some(p) = i.peer_ino {
            netlink::attr(&mut m, UNIX_DIAG_PEER, &(p as u32).to_ne_bytes());
        }
    }
    if show & UDIAG_SHOW_RQLEN != 0 {
        // A listener: its accept queue and backlog; a datagram socket: its next message;
        // others: the bytes to read. Nothing is counted as unread by the peer (Send-Q).
        let (rq, wq) = match () {
            _ if i.listening => (i.queued, i.backlog),
            _ if s.kind == Kind::Dgram => (s.queued(), 0),
            _ => (i.queued, 0),
        };
        let mut v = (rq as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(&(wq as u32).to_ne_bytes());
        netlink::attr(&mut m, UNIX_DIAG_RQLEN, &v);
    }
    if show & UDIAG_SHOW_MEMINFO != 0 {
        netlink::attr(&mut m, UNIX_DIAG_MEMINFO, &skmem(s, i));
    }
    netlink::attr(&mut m, UNIX_DIAG_SHUTDOWN, &[i.shutdown]);
    if show & UDIAG_SHOW_UID != 0 {
        netlink::attr(&mut m, UNIX_DIAG_UID, &i.uid.to_ne_bytes());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        netlink::message(kind, flags, 9, 0, body, &[])
    }

    fn errno(answer: &[u8]) -> i32 {
        let h = Header::parse(answer);
        assert_eq!(h.kind, netlink::NLMSG_ERROR);
        -(u32_at(answer, 16) as i32)
    }

    const DUMP: u16 = netlink::NLM_F_REQUEST | NLM_F_DUMP;

    fn inet_req(family: u8, proto: u8, states: u32) -> Vec<u8> {
        let mut b = vec![family, proto, 0, 0];
        b.extend_from_slice(&states.to_ne_bytes());
        b.resize(INET_REQ_LEN, 0);
        b
    }

    #[test]
    fn a_sock_id_reads_back_as_it_is_written() {
        let id = SockId {
            sport: 80,
            dport: 40000,
            src: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            cookie: 0x1234_5678_9abc_def0,
        };
        assert_eq!(id.bytes().len(), INET_REQ_LEN - 8);
        assert_eq!(SockId::parse(&id.bytes()), id);
    }

    #[test]
    fn short_and_unknown_requests_answer_linuxs_errno() {
        let short = request(SOCK_DIAG_BY_FAMILY, DUMP, &[libc::AF_INET as u8]);
        assert_eq!(errno(&answer(&short, 1)[0]), libc::EINVAL);
        let half = request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(2, 6, !0)[..20]);
        assert_eq!(errno(&answer(&half, 1)[0]), libc::EINVAL);
        let short_unix = request(SOCK_DIAG_BY_FAMILY, DUMP, &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(errno(&answer(&short_unix, 1)[0]), libc::EINVAL);
        let past_max = request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(AF_MAX, 0, !0));
        assert_eq!(errno(&answer(&past_max, 1)[0]), libc::EINVAL);
        let packet = request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(17, 0, !0));
        assert_eq!(errno(&answer(&packet, 1)[0]), libc::ENOENT);
        // A protocol without a handler: the dump ends at once with ENOENT in NLMSG_DONE; an
        // exact request is an error.
        let sctp = answer(
            &request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(2, 132, !0)),
            1,
        );
        assert_eq!(sctp.len(), 1);
        assert_eq!(Header::parse(&sctp[0]).kind, netlink::NLMSG_DONE);
        assert_eq!(u32_at(&sctp[0], 16) as i32, -libc::ENOENT);
        let sctp_get = request(
            SOCK_DIAG_BY_FAMILY,
            netlink::NLM_F_REQUEST,
            &inet_req(2, 132, 0),
        );
        assert_eq!(errno(&answer(&sctp_get, 1)[0]), libc::ENOENT);
        // MPTCP's protocol (262) in INET_DIAG_REQ_PROTOCOL: no handler.
        let mut mptcp = inet_req(2, 6, !0);
        netlink::attr(&mut mptcp, INET_DIAG_REQ_PROTOCOL, &262u32.to_ne_bytes());
        let mptcp = request(SOCK_DIAG_BY_FAMILY, DUMP, &mptcp);
        assert_eq!(u32_at(&answer(&mptcp, 1)[0], 16) as i32, -libc::ENOENT);
        let dccp_old = request(DCCPDIAG_GETSOCK, DUMP, &inet_req(2, 0, !0));
        assert_eq!(errno(&answer(&dccp_old, 1)[0]), libc::EINVAL);
        let destroy = request(SOCK_DESTROY, netlink::NLM_F_REQUEST, &inet_req(2, 6, 0));
        assert_eq!(errno(&answer(&destroy, 1)[0]), libc::EOPNOTSUPP);
        let other = request(99, DUMP, &inet_req(2, 6, 0));
        assert_eq!(errno(&answer(&other, 1)[0]), libc::EINVAL);
        // A header whose length runs past the datagram is dropped, as Linux drops it.
        let mut cut = request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(2, 6, !0));
        cut.truncate(30);
        assert!(answer(&cut, 1).is_empty());
        // Not a request: no answer.
        assert!(answer(&request(SOCK_DIAG_BY_FAMILY, 0, &inet_req(2, 6, !0)), 1).is_empty());
    }

    #[test]
    fn exact_requests_for_missing_sockets_are_enoent() {
        let get = request(
            SOCK_DIAG_BY_FAMILY,
            netlink::NLM_F_REQUEST,
            &inet_req(2, 6, !0),
        );
        assert_eq!(errno(&answer(&get, 1)[0]), libc::ENOENT);
        let mut unix = vec![1u8, 0, 0, 0];
        unix.extend_from_slice(&u32::MAX.to_ne_bytes());
        unix.extend_from_slice(&0u32.to_ne_bytes()); // ino 0
        unix.resize(UNIX_REQ_LEN, 0);
        let get0 = request(SOCK_DIAG_BY_FAMILY, netlink::NLM_F_REQUEST, &unix);
        assert_eq!(errno(&answer(&get0, 1)[0]), libc::EINVAL);
        unix[8..12].copy_from_slice(&12345u32.to_ne_bytes());
        let get = request(SOCK_DIAG_BY_FAMILY, netlink::NLM_F_REQUEST, &unix);
        assert_eq!(errno(&answer(&get, 1)[0]), libc::ENOENT);
    }

    #[test]
    fn a_dump_lists_matching_sockets_then_done() {
        let cred = crate::net::unix::Cred::default();
        let s = Socket::of_family(libc::AF_INET, Kind::Stream, cred);
        s.set_ino(777);
        s.set_name(Addr::Inet("127.0.0.1:8080".parse().unwrap()));
        s.listen(5).unwrap();
        let listen_only = request(SOCK_DIAG_BY_FAMILY, DUMP, &inet_req(2, 6, 1 << 10));
        let a = answer(&listen_only, 3);
        assert_eq!(a.len(), 2);
        let m = &a[0];
        let h = Header::parse(m);
        assert_eq!(
            (h.kind, h.flags, h.seq),
            (SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 9)
        );
        let body = &m[16..];
        assert_eq!((body[0], body[1]), (libc::AF_INET as u8, procnet::LISTEN));
        assert_eq!(u16::from_be_bytes([body[4], body[5]]), 8080);
        assert_eq!(&body[8..12], &[127, 0, 0, 1]);
        // rqueue 0 waiting, wqueue the backlog, uid, inode.
        assert_eq!(
            [
                u32_at(body, 56),
                u32_at(body, 60),
                u32_at(body, 64),
                u32_at(body, 68)
            ],
            [0, 5, 0, 777]
        );
        assert_eq!(Header::parse(&a[1]).kind, netlink::NLMSG_DONE);
        // Not in the states asked for, not of the family, or another port: not listed.
        for req in [
            inet_req(2, 6, 1 << 1),
            inet_req(10, 6, !0),
            inet_req(2, 17, !0),
        ] {
            let a = answer(&request(SOCK_DIAG_BY_FAMILY, DUMP, &req), 3);
            assert_eq!(a.len(), 1, "only done");
        }
        let mut other_port = inet_req(2, 6, !0);
        other_port[8..10].copy_from_slice(&8081u16.to_be_bytes());
        assert_eq!(
            answer(&request(SOCK_DIAG_BY_FAMILY, DUMP, &other_port), 3).len(),
            1
        );
    }

    #[test]
    fn unix_sockets_show_name_peer_and_queues() {
        let cred = crate::net::unix::Cred::default();
        let (a, b) = Socket::pair(Kind::Stream, cred);
        a.set_ino(901);
        b.set_ino(902);
        let l = Socket::new(Kind::SeqPacket, cred);
        l.set_ino(903);
        l.bind(Addr::Abstract(b"diag-test".to_vec())).unwrap();
        l.listen(7).unwrap();
        let mut req = vec![libc::AF_UNIX as u8, 0, 0, 0];
        req.extend_from_slice(&u32::MAX.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(
            &(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN).to_ne_bytes(),
        );
        req.resize(UNIX_REQ_LEN, 0);
        let all = answer(&request(SOCK_DIAG_BY_FAMILY, DUMP, &req), 1).concat();
        let msgs = split(&all);
        let find = |ino: u32| {
            msgs.iter()
                .find(|m| m.len() >= 32 && u32_at(m, 20) == ino)
                .unwrap_or_else(|| panic!("socket {ino} listed"))
        };
        let ma = find(901);
        assert_eq!(
            (ma[17], ma[18]),
            (libc::SOCK_STREAM as u8, procnet::ESTABLISHED)
        );
        assert_eq!(
            attr_of(ma, UNIX_DIAG_PEER),
            Some(902u32.to_ne_bytes().to_vec())
        );
        let ml = find(903);
        assert_eq!(ml[18], procnet::LISTEN);
        assert_eq!(attr_of(ml, UNIX_DIAG_NAME), Some(b"\0diag-test".to_vec()));
        let rq = attr_of(ml, UNIX_DIAG_RQLEN).unwrap();
        assert_eq!((u32_at(&rq, 0), u32_at(&rq, 4)), (0, 7));
        assert_eq!(attr_of(ml, UNIX_DIAG_PEER), None);
    }

    #[test]
    fn a_long_dump_goes_in_several_datagrams() {
        let records: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_ne_bytes().repeat(18)).collect();
        let out = batches(&records, 4, 2);
        assert!(out.len() > 3, "{} datagrams", out.len());
        assert!(out.iter().all(|d| d.len() <= BATCH));
        let last = out.last().map(|d| Header::parse(d).kind);
        assert_eq!(last, Some(netlink::NLMSG_DONE));
        let msgs: usize = out[..out.len() - 1].iter().map(|d| split(d).len()).sum();
        assert_eq!(msgs, 1000);
    }

    /// The messages of a dump's datagrams.
    fn split(all: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 16 <= all.len() {
            let len = u32_at(all, at) as usize;
            out.push(all[at..at + len].to_vec());
            at += (len + 3) & !3;
        }
        out
    }

    /// An attribute's data in a unix_diag message.
    fn attr_of(m: &[u8], kind: u16) -> Option<Vec<u8>> {
        let mut at = 32;
        while at + 4 <= m.len() {
            let len = u16::from_ne_bytes([m[at], m[at + 1]]) as usize;
            let k = u16::from_ne_bytes([m[at + 2], m[at + 3]]);
            if k == kind {
                return Some(m[at + 4..at + len].to_vec());
            }
            at += (len + 3) & !3;
        }
        None
    }
}
