//! /proc/net's socket tables (tcp, tcp6, udp, udp6, unix) in Linux's format, from the sentry's
//! own sockets: what `ss` and `netstat` read (ss when netlink's sock_diag is not there).

use super::unix::{self, Addr, Kind, Socket};
use std::net::{IpAddr, SocketAddr};

/// The files of /proc/net.
pub const FILES: [&str; 11] = [
    "dev",
    "if_inet6",
    "route",
    "snmp",
    "sockstat",
    "sockstat6",
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "unix",
];

/// The /proc/net directory.
pub fn dir() -> Result<crate::vfs::Node, crate::mm::Errno> {
    Ok(crate::vfs::Node::Dir(
        FILES
            .iter()
            .map(|n| (n.to_string(), crate::procfs::DT_REG))
            .collect(),
    ))
}

/// The text of /proc/net/`name`.
pub fn file(name: &str) -> Option<String> {
    let socks = listed();
    Some(match name {
        "tcp" => inet_table(&socks, Kind::Stream, false),
        "tcp6" => inet_table(&socks, Kind::Stream, true),
        "udp" => inet_table(&socks, Kind::Dgram, false),
        "udp6" => inet_table(&socks, Kind::Dgram, true),
        "unix" => unix_table(&socks),
        "dev" => dev_table(),
        "route" => route_table(),
        "if_inet6" => if_inet6_table(),
        "sockstat" => super::sockstat::sockstat(&socks),
        "sockstat6" => super::sockstat::sockstat6(&socks),
        "snmp" => super::sockstat::snmp(&socks),
        _ => return None,
    })
}

/// /proc/net/dev: loopback (its traffic is joined sockets, not packets: zero) and the pod's
/// interface, with the frames the sentry's stack read and wrote, and the frames read that
/// it could not take (errs: malformed, drop: of a type it does not speak; frame.rs).
fn dev_table() -> String {
    let mut s = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets \
         errs drop fifo colls carrier compressed\n",
    );
    let line = |name: &str, rx: (u64, u64), tx: (u64, u64), bad: super::frame::Counts| {
        format!(
            "{name:>6}:{:>8} {:>7} {:>4} {:>4}    0     0          0         0 {:>8} {:>7}    0    0    0     0       0          0\n",
            rx.0, rx.1, bad.errors, bad.dropped, tx.0, tx.1
        )
    };
    s.push_str(&line("lo", (0, 0), (0, 0), Default::default()));
    if let Some(p) = super::pod::shown() {
        s.push_str(&line(
            &p.link.name,
            (p.bytes.0, p.frames.0),
            (p.bytes.1, p.frames.1),
            p.bad,
        ));
    }
    s
}

/// /proc/net/route: the pod interface's IPv4 routes (hex in the kernel's byte order), each
/// line padded to 127 characters as Linux pads them.
fn route_table() -> String {
    let mut s = format!(
        "{:<127}\n",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    );
    let Some(p) = super::pod::shown() else {
        return s;
    };
    let hex = |a: std::net::Ipv4Addr| format!("{:08X}", u32::from_le_bytes(a.octets()));
    let mut row = |dst, gw, flags: u16, mask| {
        let line = format!(
            "{}\t{}\t{}\t{:04X}\t0\t0\t0\t{}\t0\t0\t0",
            p.link.name,
            hex(dst),
            hex(gw),
            flags,
            hex(mask)
        );
        s.push_str(&format!("{line:<127}\n"));
    };
    let any = std::net::Ipv4Addr::UNSPECIFIED;
    for g in &p.link.gateways {
        if let IpAddr::V4(g) = g {
            row(any, *g, 0x0003, any);
        }
    }
    for (a, len) in &p.link.addrs {
        if let IpAddr::V4(a) = a {
            let mask = super::inet::v4_mask(*len);
            row((u32::from(*a) & mask).into(), any, 0x0001, mask.into());
        }
    }
    s
}

/// /proc/net/if_inet6: each interface's IPv6 addresses.
fn if_inet6_table() -> String {
    let mut s = String::from("00000000000000000000000000000001 01 80 10 80       lo\n");
    if let Some(p) = super::pod::shown() {
        for (a, len) in &p.link.addrs {
            if let IpAddr::V6(v6) = a {
                let scope = if v6.is_unicast_link_local() { 0x20 } else { 0 };
                let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
                s.push_str(&format!(
                    "{hex} {:02x} {len:02x} {scope:02x} 80 {:>8}\n",
                    p.link.index, p.link.name
                ));
            }
        }
    }
    s
}

/// TCP states as /proc/net/tcp and sock_diag number them.
pub(super) const ESTABLISHED: u8 = 0x01;
pub(super) const CLOSE: u8 = 0x07;
pub(super) const FIN_WAIT2: u8 = 0x05;
pub(super) const CLOSE_WAIT: u8 = 0x08;
pub(super) const LISTEN: u8 = 0x0a;

/// The sandbox's sockets as the application knows them: not the stack's own ends of
/// connections over the pod's interface (pod.rs's wire sockets), which would list each such
/// connection a second time with its addresses swapped.
pub(super) fn listed() -> Vec<std::rc::Rc<Socket>> {
    unix::all()
        .into_iter()
        .filter(|s| !super::pod::is_wire(s))
        .collect()
}

/// A TCP or UDP socket's state: listening, connected (a UDP socket with a default
/// destination too) or none. A TCP connection's state follows its FINs as far as the sentry
/// knows them: the peer's received (CLOSE_WAIT), ours sent (FIN_WAIT2: a joined loopback peer
/// acknowledges at once), both (CLOSE: Linux's socket is done, only its TIME_WAIT remains).
pub(super) fn inet_state(i: &unix::Info, tcp: bool) -> u8 {
    if i.listening {
        return LISTEN;
    }
    if !tcp {
        return if i.peer.is_some() { ESTABLISHED } else { CLOSE };
    }
    if !i.connected {
        return CLOSE;
    }
    let fin_in = i.eof || i.peer_gone;
    let fin_out = i.shutdown & 2 != 0;
    match (fin_in, fin_out) {
        (false, false) => ESTABLISHED,
        (true, false) => CLOSE_WAIT,
        (false, true) => FIN_WAIT2,
        (true, true) => CLOSE,
    }
}

/// What Linux shows as a socket's receive queue: a listener's connections waiting, others'
/// bytes to read, and for TCP one more once the peer's FIN is in until a read reaches it (the
/// FIN takes a sequence number of its own).
pub(super) fn rx_queue(i: &unix::Info, tcp: bool) -> usize {
    let fin = tcp && !i.listening && i.connected && (i.eof || i.peer_gone) && !i.eof_read;
    i.queued + usize::from(fin)
}

fn inet_table(socks: &[std::rc::Rc<Socket>], kind: Kind, v6: bool) -> String {
    let tcp = kind == Kind::Stream;
    let mut out = if v6 {
        "  sl  local_address                         remote_address                        st \
         tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            .to_string()
    } else if tcp {
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
         timeout inode\n"
            .to_string()
    } else {
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
         timeout inode ref pointer drops\n"
            .to_string()
    };
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let rows = socks
        .iter()
        .filter(|s| s.kind == kind && s.family == family);
    for (n, s) in rows.enumerate() {
        let i = s.info();
        let local = match &i.name {
            Some(Addr::Inet(a)) => *a,
            // Not bound yet: Linux lists it only once it has a port.
            _ => continue,
        };
        let remote = match &i.peer {
            Some(Addr::Inet(a)) => *a,
            _ => SocketAddr::new(unspecified(v6), 0),
        };
        let st = inet_state(&i, tcp);
        // A listener's rx_queue is its accept queue; the others' the bytes to read. Nothing
        // is ever in flight unacknowledged (tx_queue).
        let (tx, rx) = (0, rx_queue(&i, tcp));
        out.push_str(&format!(
            "{n:4}: {}:{:04X} {}:{:04X} {st:02X} {tx:08X}:{rx:08X} 00:00000000 00000000 {:5} \
             {:8} {} 1 0000000000000000 100 0 0 10 0\n",
            hex_ip(local.ip(), v6),
            local.port(),
            hex_ip(remote.ip(), v6),
            remote.port(),
            i.uid,
            0,
            i.ino,
        ));
    }
    out
}

pub(super) fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    }
}

/// An address as /proc/net prints it: the bytes in network order read as native 32-bit
/// words, each in hex (IPv4 addresses of an IPv6 socket v4-mapped).
fn hex_ip(ip: IpAddr, v6: bool) -> String {
    let bytes: Vec<u8> = match (ip, v6) {
        (IpAddr::V4(a), false) => a.octets().to_vec(),
        (IpAddr::V4(a), true) => a.to_ipv6_mapped().octets().to_vec(),
        (IpAddr::V6(a), true) => a.octets().to_vec(),
        (IpAddr::V6(a), false) => a
            .to_ipv4_mapped()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
            .octets()
            .to_vec(),
    };
    bytes
        .chunks(4)
        .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        .collect()
}

fn unix_table(socks: &[std::rc::Rc<Socket>]) -> String {
    let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
    for s in socks.iter().filter(|s| s.family == libc::AF_UNIX) {
        let i = s.info();
        // SS_UNCONNECTED 1, SS_CONNECTED 3; __SO_ACCEPTCON for a listener.
        let (flags, st) = match () {
            _ if i.listening => (0x10000, 1),
            _ if i.connected => (0, 3),
            _ => (0, 1),
        };
        let path = match &i.name {
            Some(Addr::Path(p, _)) => format!(" {}", String::from_utf8_lossy(p)),
            Some(Addr::Abstract(n)) => format!(" @{}", String::from_utf8_lossy(n)),
            _ => String::new(),
        };
        out.push_str(&format!(
            "0000000000000000: 00000002 00000000 {flags:08X} {:04X} {st:02X} {:5}{path}\n",
            s.kind.to_type(),
            i.ino
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_closed_connection_is_fin_wait2_and_close_wait() {
        let (a, b) = Socket::pair(Kind::Stream, unix::Cred::default());
        assert_eq!(inet_state(&a.info(), true), ESTABLISHED);
        a.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(inet_state(&a.info(), true), FIN_WAIT2);
        let ib = b.info();
        assert_eq!(
            (inet_state(&ib, true), rx_queue(&ib, true)),
            (CLOSE_WAIT, 1)
        );
        assert!(b.recv(10, false).unwrap().data.is_empty());
        assert_eq!(rx_queue(&b.info(), true), 0, "the FIN was read");
        b.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(inet_state(&b.info(), true), CLOSE);
        let l = Socket::new(Kind::Stream, unix::Cred::default());
        assert_eq!(inet_state(&l.info(), true), CLOSE);
    }

    #[test]
    fn addresses_in_procs_byte_order() {
        assert_eq!(hex_ip("127.0.0.1".parse().unwrap(), false), "0100007F");
        assert_eq!(
            hex_ip("::1".parse().unwrap(), true),
            "00000000000000000000000001000000"
        );
    }
}
