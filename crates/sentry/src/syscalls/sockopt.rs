//! Socket options: setsockopt and getsockopt. The ones with an effect in the sandbox are the
//! socket's own (SO_PASSCRED, the buffer sizes, SO_ERROR, SO_PEERCRED, SO_LINGER's abortive
//! close, keep-alive over the pod's interface, and the binding rules: SO_REUSEADDR,
//! SO_REUSEPORT, IPV6_V6ONLY); the others a program sets (TCP_NODELAY,
//! keep-alive timings, IP_TOS...) are kept and read back as Linux stores them (within its
//! bounds, flags as 0 or 1: `checked`), with Linux's defaults before, since connections
//! inside the sandbox have no packets for them to shape.

use super::*;
use crate::net::unix::{Cred, Kind};

/// An int option's value (at least 4 bytes given).
fn int_opt(t: &Task, val: u64, len: u32) -> Result<i32, Errno> {
    if len < 4 {
        return Err(EINVAL);
    }
    Ok(t.mm.read_u32(val)? as i32)
}

/// The options of each level that are kept and read back, with Linux's default values.
fn kept(family: i32, kind: Kind, level: i32, opt: i32) -> Option<i32> {
    let ip = family != AF_UNIX;
    let tcp = ip && kind == Kind::Stream;
    Some(match (level, opt) {
        (SOL_SOCKET, SO_REUSEADDR | SO_REUSEPORT | SO_KEEPALIVE | SO_BROADCAST | SO_DEBUG) => 0,
        (SOL_SOCKET, SO_DONTROUTE | SO_OOBINLINE | SO_PRIORITY | SO_PASSSEC | SO_TIMESTAMP) => 0,
        (SOL_SOCKET, SO_TIMESTAMPNS) => 0,
        (SOL_SOCKET, SO_RCVLOWAT | SO_SNDLOWAT) => 1,
        (SOL_SOCKET, SO_MARK | SO_BUSY_POLL | SO_ZEROCOPY) if ip => 0,
        (SOL_SOCKET, SO_INCOMING_CPU | SO_PEEK_OFF) if ip => -1,
        (IPPROTO_TCP, TCP_NODELAY | TCP_CORK | TCP_DEFER_ACCEPT | TCP_WINDOW_CLAMP) if tcp => 0,
        (IPPROTO_TCP, TCP_QUICKACK) if tcp => 1,
        (IPPROTO_TCP, TCP_FASTOPEN | TCP_USER_TIMEOUT | TCP_NOTSENT_LOWAT) if tcp => 0,
        (IPPROTO_TCP, TCP_KEEPIDLE) if tcp => 7200,
        (IPPROTO_TCP, TCP_KEEPINTVL) if tcp => 75,
        (IPPROTO_TCP, TCP_KEEPCNT) if tcp => 9,
        (IPPROTO_TCP, TCP_SYNCNT) if tcp => 6,
        (IPPROTO_TCP, TCP_LINGER2) if tcp => 60,
        (IPPROTO_TCP, TCP_MAXSEG) if tcp => 536,
        (IPPROTO_IP, IP_TOS | IP_RECVERR | IP_PKTINFO | IP_RECVTOS | IP_FREEBIND) if ip => 0,
        (IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT | IP_TRANSPARENT) if ip => 0,
        // What ping asks for: the TTL and IP options of what it receives.
        (IPPROTO_IP, IP_RECVTTL | IP_RETOPTS) if ip => 0,
        (IPPROTO_IP, IP_TTL) if ip => 64,
        (IPPROTO_IP, IP_MULTICAST_TTL | IP_MULTICAST_LOOP) if ip => 1,
        (IPPROTO_IP, IP_HDRINCL) if ip => 0,
        (IPPROTO_IP, IP_MTU_DISCOVER) if ip => 1,
        (IPPROTO_IPV6, IPV6_V6ONLY | IPV6_RECVPKTINFO | IPV6_RECVERR | IPV6_TCLASS)
            if family == AF_INET6 =>
        {
            0
        }
        (IPPROTO_IPV6, IPV6_UNICAST_HOPS) if family == AF_INET6 => 64,
        (IPPROTO_IPV6, IPV6_MULTICAST_HOPS) if family == AF_INET6 => 1,
        (IPPROTO_IPV6, IPV6_RECVHOPLIMIT) if family == AF_INET6 => 0,
        // Netlink's own options (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, memberships...).
        (SOL_NETLINK, 1..=12) if family == AF_NETLINK => 0,
        _ => return None,
    })
}

/// The value a kept option takes when set to `v`, as Linux checks and stores it: flags read
/// back as 0 or 1, counts and times within Linux's bounds (EINVAL outside), -1 for the
/// default where Linux takes it; options that are read-only or need a capability the
/// sandbox's processes are not given fail as on Linux.
fn checked(level: i32, opt: i32, v: i32) -> Result<i32, Errno> {
    let within = |lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(EINVAL)
        }
    };
    match (level, opt) {
        (SOL_SOCKET, SO_REUSEADDR | SO_REUSEPORT | SO_KEEPALIVE | SO_BROADCAST | SO_DEBUG)
        | (SOL_SOCKET, SO_DONTROUTE | SO_OOBINLINE | SO_TIMESTAMP | SO_TIMESTAMPNS)
        | (SOL_SOCKET, SO_ZEROCOPY)
        | (IPPROTO_TCP, TCP_NODELAY | TCP_CORK | TCP_QUICKACK)
        | (IPPROTO_IP, IP_RECVERR | IP_PKTINFO | IP_RECVTOS | IP_FREEBIND | IP_RECVTTL)
        | (IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT | IP_RETOPTS | IP_MULTICAST_LOOP)
        | (IPPROTO_IPV6, IPV6_V6ONLY | IPV6_RECVPKTINFO | IPV6_RECVERR | IPV6_RECVHOPLIMIT) => {
            Ok(i32::from(v != 0))
        }
        // 0 means 1; a negative low-water mark, "never" (INT_MAX).
        (SOL_SOCKET, SO_RCVLOWAT) if v == 0 => Ok(1),
        (SOL_SOCKET, SO_RCVLOWAT) if v < 0 => Ok(i32::MAX),
        // Linux keeps SO_SNDLOWAT at 1 and refuses to change it.
        (SOL_SOCKET, SO_SNDLOWAT) => Err(ENOPROTOOPT),
        // Priorities above 6, a mark and busy polling need CAP_NET_ADMIN.
        (SOL_SOCKET, SO_PRIORITY) => within(0, 6).map_err(|_| EPERM),
        (SOL_SOCKET, SO_MARK | SO_BUSY_POLL) => Err(EPERM),
        (SOL_SOCKET, SO_PEEK_OFF) => Err(EOPNOTSUPP),
        (IPPROTO_TCP, TCP_MAXSEG) if v != 0 => within(88, 32767),
        (IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL) => within(1, 32767),
        (IPPROTO_TCP, TCP_KEEPCNT | TCP_SYNCNT) => within(1, 127),
        (IPPROTO_TCP, TCP_USER_TIMEOUT) => within(0, i32::MAX),
        (IPPROTO_IP, IP_TTL) if v == -1 => Ok(64),
        (IPPROTO_IP, IP_TTL) => within(1, 255),
        (IPPROTO_IP, IP_MULTICAST_TTL) if v == -1 => Ok(1),
        (IPPROTO_IP, IP_MULTICAST_TTL) => within(0, 255),
        (IPPROTO_IP, IP_HDRINCL) => Err(ENOPROTOOPT),
        (IPPROTO_IPV6, IPV6_UNICAST_HOPS) if v == -1 => Ok(64),
        (IPPROTO_IPV6, IPV6_MULTICAST_HOPS) if v == -1 => Ok(1),
        (IPPROTO_IPV6, IPV6_UNICAST_HOPS | IPV6_MULTICAST_HOPS) => within(0, 255),
        _ => Ok(v),
    }
}

/// A level the socket has no options at: EOPNOTSUPP for a unix socket's, ENOPROTOOPT for
/// an IP socket's (as Linux's protocols answer).
fn no_level(family: i32) -> Errno {
    if family == AF_UNIX {
        EOPNOTSUPP
    } else {
        ENOPROTOOPT
    }
}

pub(super) fn setsockopt(t: &mut Task, fd: i32, level: i32, opt: i32, val: u64, len: u32) -> R {
    let (s, _) = super::socket::sock(t, fd)?;
    if level == SOL_SOCKET {
        match opt {
            SO_PASSCRED => {
                s.set_passcred(int_opt(t, val, len)? != 0);
                return Ok(0);
            }
            SO_SNDBUF | SO_SNDBUFFORCE | SO_RCVBUF | SO_RCVBUFFORCE => {
                let send = matches!(opt, SO_SNDBUF | SO_SNDBUFFORCE);
                // Linux takes the value as unsigned: a negative one is a huge one.
                s.set_buf(send, int_opt(t, val, len)? as u32 as usize);
                return Ok(0);
            }
            SO_LINGER if len >= 8 => {
                let on = t.mm.read_u32(val)? != 0;
                let secs = t.mm.read_u32(val + 4)?.min(i32::MAX as u32);
                s.set_linger(on.then_some(secs));
                return Ok(0);
            }
            SO_RCVTIMEO | SO_SNDTIMEO if len >= 16 => {
                let sec = t.mm.read_u64(val)? as i64;
                let usec = t.mm.read_u64(val + 8)? as i64;
                if !(0..1_000_000).contains(&usec) {
                    return Err(EDOM);
                }
                // A negative or zero time is "wait without end", as on Linux.
                let d = (sec > 0 || usec > 0).then(|| {
                    std::time::Duration::from_secs(sec.max(0) as u64)
                        + std::time::Duration::from_micros(usec as u64)
                });
                s.set_timeout(opt == SO_SNDTIMEO, d);
                return Ok(0);
            }
            SO_LINGER | SO_RCVTIMEO | SO_SNDTIMEO => return Err(EINVAL),
            _ => {}
        }
    }
    if level == IPPROTO_TCP && opt == TCP_CONGESTION && s.family != AF_UNIX {
        // The algorithms a kernel always has; another name is ENOENT, as for a module
        // Linux does not have.
        let name = t.mm.read_vec(val, len.min(16) as usize)?;
        return match name.split(|b| *b == 0).next().unwrap_or_default() {
            b"cubic" | b"reno" => Ok(0),
            _ => Err(ENOENT),
        };
    }
    match kept(s.family, s.kind, level, opt) {
        Some(_) => {
            let v = checked(level, opt, int_opt(t, val, len)?)?;
            s.set_opt(level, opt, v);
            let keep_alive = matches!(
                (level, opt),
                (SOL_SOCKET, SO_KEEPALIVE)
                    | (IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT)
            );
            if keep_alive && s.family != AF_UNIX && s.kind == Kind::Stream {
                crate::net::pod::options_changed(&s);
            }
            Ok(0)
        }
        None if matches!(level, SOL_SOCKET | IPPROTO_TCP | IPPROTO_IP | IPPROTO_IPV6) => {
            Err(if level == SOL_SOCKET {
                ENOPROTOOPT
            } else {
                no_level(s.family)
            })
        }
        None => Err(no_level(s.family)),
    }
}

pub(super) fn getsockopt(t: &mut Task, fd: i32, level: i32, opt: i32, val: u64, len_at: u64) -> R {
    let (s, _) = super::socket::sock(t, fd)?;
    let room = t.mm.read_u32(len_at)? as i32;
    if room < 0 {
        return Err(EINVAL);
    }
    let int = |v: i32| v.to_le_bytes().to_vec();
    let ip = s.family != AF_UNIX;
    let value = match (level, opt) {
        (SOL_SOCKET, SO_TYPE) => int(s.kind.to_type()),
        (SOL_SOCKET, SO_DOMAIN) => int(s.family),
        (SOL_SOCKET, SO_PROTOCOL) => int(match (ip, s.kind) {
            (false, _) => 0,
            (true, Kind::Stream) => IPPROTO_TCP,
            (true, Kind::Ping) if s.family == AF_INET6 => IPPROTO_ICMPV6,
            (true, Kind::Ping) => IPPROTO_ICMP,
            (true, _) => IPPROTO_UDP,
        }),
        (SOL_SOCKET, SO_ERROR) => int(s.take_error()),
        (SOL_SOCKET, SO_PASSCRED) => int(i32::from(s.passcred())),
        (SOL_SOCKET, SO_SNDBUF) => int(s.buf(true) as i32),
        (SOL_SOCKET, SO_RCVBUF) => int(s.buf(false) as i32),
        (SOL_SOCKET, SO_ACCEPTCONN) => int(i32::from(s.is_listening())),
        (SOL_SOCKET, SO_LINGER) => {
            let l = s.linger();
            let mut v = i32::from(l.is_some()).to_le_bytes().to_vec();
            v.extend_from_slice(&l.unwrap_or(0).to_le_bytes());
            v
        }
        (SOL_SOCKET, SO_RCVTIMEO | SO_SNDTIMEO) => {
            let d = s.timeout(opt == SO_SNDTIMEO).unwrap_or_default();
            let mut v = d.as_secs().to_le_bytes().to_vec();
            v.extend_from_slice(&u64::from(d.subsec_micros()).to_le_bytes());
            v
        }
        (SOL_SOCKET, SO_PEERCRED) => {
            // Only unix sockets know their peer's credentials.
            let none = Cred {
                pid: 0,
                uid: u32::MAX,
                gid: u32::MAX,
            };
            let c = if ip {
                none
            } else {
                s.peercred().unwrap_or(none)
            };
            let mut v = (c.pid as u32).to_le_bytes().to_vec();
            v.extend_from_slice(&c.uid.to_le_bytes());
            v.extend_from_slice(&c.gid.to_le_bytes());
            v
        }
        (IPPROTO_TCP, TCP_CONGESTION) if ip && s.kind == Kind::Stream => b"cubic\0".to_vec(),
        (IPPROTO_IP, IP_OPTIONS) if ip => Vec::new(),
        // A connection's MSS is its path's (less the IP and TCP headers and timestamps).
        (IPPROTO_TCP, TCP_MAXSEG) if ip && s.kind == Kind::Stream && s.connected() => {
            match peer_of(&s) {
                Some(crate::net::unix::Addr::Inet(a)) => int(path_mtu(a.ip()) as i32 - 52),
                _ => int(s.opt(level, opt).unwrap_or(536)),
            }
        }
        (IPPROTO_IP, IP_MTU) if ip => match peer_of(&s) {
            Some(crate::net::unix::Addr::Inet(a)) => int(path_mtu(a.ip()) as i32),
            _ => return Err(ENOTCONN),
        },
        (IPPROTO_TCP, TCP_INFO) if ip && s.kind == Kind::Stream => tcp_info(&s),
        _ => match kept(s.family, s.kind, level, opt) {
            Some(default) => int(s.opt(level, opt).unwrap_or(default)),
            None if level == SOL_SOCKET => return Err(ENOPROTOOPT),
            // An IP socket's own levels know no such option; any other level is not its.
            None if ip && !own_level(s.family, s.kind, level) => return Err(EOPNOTSUPP),
            None => return Err(no_level(s.family)),
        },
    };
    let n = value.len().min(room as usize);
    put(t, val, &value[..n])?;
    put(t, len_at, &(n as u32).to_le_bytes())?;
    Ok(0)
}

/// The levels an IP socket's getsockopt answers at (Linux's protocol, then IP's or IPv6's).
fn own_level(family: i32, kind: Kind, level: i32) -> bool {
    match level {
        IPPROTO_IP => true,
        IPPROTO_IPV6 => family == AF_INET6,
        IPPROTO_TCP => kind == Kind::Stream,
        _ => false,
    }
}

/// An IP socket's connected peer (a datagram socket's connect, a stream's connection).
fn peer_of(s: &crate::net::unix::Socket) -> Option<crate::net::unix::Addr> {
    if s.kind == Kind::Stream && !s.connected() {
        return None;
    }
    s.peer_name().ok().flatten()
}

/// The MTU of the path to `peer` (IP_MTU): loopback's or the pod interface's, at most
/// 65535 (Linux's IP_MAX_MTU: loopback's 65536 reads as that).
fn path_mtu(peer: std::net::IpAddr) -> u32 {
    let mtu = if crate::net::inet::canonical(peer).is_loopback() || crate::net::pod::has_addr(peer)
    {
        65536
    } else {
        crate::net::pod::shown().map_or(65536, |p| p.link.mtu)
    };
    mtu.min(65535)
}

/// struct tcp_info's basics (TCP_INFO; 232 bytes, the caller's length cuts it): the state,
/// the segment sizes of the path (loopback's or the pod interface's MTU), Linux's initial
/// timers and window; counters the sentry does not keep are 0. Enough for programs that read
/// the state or the MSS (iperf3, nginx's $tcpinfo_* variables).
fn tcp_info(s: &crate::net::unix::Socket) -> Vec<u8> {
    use crate::net::unix::Addr;
    let mut v = vec![0u8; 232];
    let state: u8 = if s.is_listening() {
        10 // TCP_LISTEN
    } else if s.connected() {
        1 // TCP_ESTABLISHED
    } else {
        7 // TCP_CLOSE
    };
    let lo = match s.name() {
        Some(Addr::Inet(a)) => crate::net::inet::canonical(a.ip()).is_loopback(),
        _ => true,
    };
    let mtu = if lo {
        65536
    } else {
        crate::net::pod::shown().map_or(1500, |p| p.link.mtu)
    };
    let mss = mtu.saturating_sub(52);
    let mut put = |at: usize, x: u32| v[at..at + 4].copy_from_slice(&x.to_le_bytes());
    put(8, 204_000); // rto, µs
    put(12, 40_000); // ato
    put(16, mss); // snd_mss
    put(20, mss); // rcv_mss
    put(60, mtu); // pmtu
    put(64, mss); // rcv_ssthresh
    put(76, 0x7fff_ffff); // snd_ssthresh
    put(80, 10); // snd_cwnd
    put(84, mss); // advmss
    put(88, 3); // reordering
    put(96, mss * 10); // rcv_space
    v[0] = state;
    v[5] = 0x07; // options: timestamps, SACK, window scaling
    v[6] = 0x77; // snd_wscale 7, rcv_wscale 7
    v
}
