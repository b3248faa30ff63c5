//! /proc/net/sockstat, sockstat6 and snmp: what `ss -s` and `netstat -s` read, counted from
//! the sandbox's own sockets. What the sentry does not keep (orphans, TIME_WAIT, memory,
//! fragments, raw sockets, the per-packet counters) stays 0; the counts it knows are the
//! sockets in use per protocol and the TCP connections established.

use super::procnet::{inet_state, CLOSE, CLOSE_WAIT, ESTABLISHED};
use super::unix::{Kind, Socket};
use std::rc::Rc;

/// How many sockets of `family` and `kind` are in use as Linux counts them: a TCP socket
/// once it listens or has a connection (hashed), a UDP socket once it is bound.
fn in_use(socks: &[Rc<Socket>], family: i32, kind: Kind) -> usize {
    socks
        .iter()
        .filter(|s| s.family == family && s.kind == kind)
        .filter(|s| {
            let i = s.info();
            i.name.is_some() && (kind == Kind::Dgram || inet_state(&i, true) != CLOSE)
        })
        .count()
}

/// /proc/net/sockstat.
pub fn sockstat(socks: &[Rc<Socket>]) -> String {
    let tcp_alloc = socks
        .iter()
        .filter(|s| s.family != libc::AF_UNIX && s.family != libc::AF_NETLINK)
        .filter(|s| s.kind == Kind::Stream)
        .count();
    format!(
        "sockets: used {}\nTCP: inuse {} orphan 0 tw 0 alloc {tcp_alloc} mem 0\n\
         UDP: inuse {} mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
        socks.len(),
        in_use(socks, libc::AF_INET, Kind::Stream),
        in_use(socks, libc::AF_INET, Kind::Dgram),
    )
}

/// /proc/net/sockstat6.
pub fn sockstat6(socks: &[Rc<Socket>]) -> String {
    format!(
        "TCP6: inuse {}\nUDP6: inuse {}\nUDPLITE6: inuse 0\nRAW6: inuse 0\n\
         FRAG6: inuse 0 memory 0\n",
        in_use(socks, libc::AF_INET6, Kind::Stream),
        in_use(socks, libc::AF_INET6, Kind::Dgram),
    )
}

/// /proc/net/snmp in this kernel's columns: the constants Linux reports (not forwarding,
/// TTL 64, the RTO bounds) and TCP's established connections; other counters 0.
pub fn snmp(socks: &[Rc<Socket>]) -> String {
    let estab = socks
        .iter()
        .filter(|s| s.family == libc::AF_INET || s.family == libc::AF_INET6)
        .filter(|s| s.kind == Kind::Stream)
        .filter(|s| matches!(inet_state(&s.info(), true), ESTABLISHED | CLOSE_WAIT))
        .count();
    let mut out = String::new();
    let mut table = |name: &str, cols: &str, values: &[i64]| {
        let n = cols.split(' ').count();
        let vals: Vec<String> = (0..n)
            .map(|i| values.get(i).copied().unwrap_or(0).to_string())
            .collect();
        out.push_str(&format!("{name}: {cols}\n{name}: {}\n", vals.join(" ")));
    };
    table(
        "Ip",
        "Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams \
         InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes \
         ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits",
        &[2, 64],
    );
    table(
        "Icmp",
        "InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs \
         InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks \
         InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost \
         OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos \
         OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps",
        &[],
    );
    table(
        "Tcp",
        "RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails \
         EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors",
        &[1, 200, 120000, -1, 0, 0, 0, 0, estab as i64],
    );
    let udp = "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors \
               InCsumErrors IgnoredMulti MemErrors";
    table("Udp", udp, &[]);
    table("UdpLite", udp, &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::unix::{Addr, Cred};

    #[test]
    fn counts_sockets_in_use_per_protocol() {
        let l = Socket::of_family(libc::AF_INET, Kind::Stream, Cred::default());
        l.set_name(Addr::Inet("127.0.0.1:80".parse().unwrap()));
        l.listen(1).unwrap();
        let unbound = Socket::of_family(libc::AF_INET, Kind::Stream, Cred::default());
        let u6 = Socket::of_family(libc::AF_INET6, Kind::Dgram, Cred::default());
        u6.set_name(Addr::Inet("[::1]:53".parse().unwrap()));
        let socks = vec![l, unbound, u6];
        let s = sockstat(&socks);
        assert!(
            s.starts_with("sockets: used 3\nTCP: inuse 1 orphan 0 tw 0 alloc 2 "),
            "{s}"
        );
        assert!(s.contains("UDP: inuse 0 "), "{s}");
        assert!(sockstat6(&socks).starts_with("TCP6: inuse 0\nUDP6: inuse 1\n"));
        let snmp = snmp(&socks);
        assert!(
            snmp.contains("\nTcp: 1 200 120000 -1 0 0 0 0 0 0 0 0 0 0 0\n"),
            "{snmp}"
        );
        for pair in snmp.lines().collect::<Vec<_>>().chunks(2) {
            assert_eq!(
                pair[0].split(' ').count(),
                pair[1].split(' ').count(),
                "{pair:?}"
            );
        }
    }
}
