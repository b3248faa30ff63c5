//! What the frames from the pod's interface say about reaching others. For a connect that
//! gets no answer: Linux fails it at once when an ICMP "unreachable" about its SYN comes back
//! (a router without a route, a firewall's reject), and after about three seconds when the
//! next hop never answers ARP or NDP (a pod that is gone), both with EHOSTUNREACH or the
//! like, where smoltcp would send SYNs until the connect timed out (75 s, ETIMEDOUT). And
//! for a connection that ends without a FIN: whether the peer reset it (ECONNRESET) or the
//! stack gave up on a silent peer (keep-alive: ETIMEDOUT).
//!
//! smoltcp fills its neighbour cache from ARP packets and from NDP solicitations and
//! advertisements, each entry living a minute; the frames are read here on their way to it,
//! so `Neighbours` knows when smoltcp last learnt each neighbour, without asking it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long Linux tries to resolve a neighbour before it gives up (3 probes, a second apart).
pub const RESOLVE_TIME: Duration = Duration::from_secs(3);
/// How long smoltcp keeps a neighbour it learnt (its ENTRY_LIFETIME).
const ENTRY_LIFETIME: Duration = Duration::from_secs(60);
/// Neighbours remembered at most; past it, those smoltcp has forgotten are forgotten too.
const MAX_NEIGHBOURS: usize = 4096;
/// ICMP errors about connections kept at most until the next pump takes them.
const MAX_ERRORS: usize = 64;

const ETH_HLEN: usize = 14;

/// What one frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// This neighbour made itself known (ARP, NDP): smoltcp has its link address now.
    Heard(IpAddr),
    /// An ICMP error about the TCP segment from `local` to `remote`: Linux's errno for it.
    TcpError {
        local: SocketAddr,
        remote: SocketAddr,
        errno: i32,
    },
    /// A TCP reset from `remote` to `local`.
    TcpReset {
        local: SocketAddr,
        remote: SocketAddr,
    },
}

/// What the frames have said so far.
#[derive(Default)]
pub struct Neighbours {
    heard: HashMap<IpAddr, Instant>,
    errors: Vec<(SocketAddr, SocketAddr, i32)>,
    /// The connections a reset came for in this pump: (local, remote).
    resets: Vec<(SocketAddr, SocketAddr)>,
}

impl Neighbours {
    /// Takes in what `frame` says, if anything.
    pub fn read(&mut self, frame: &[u8]) {
        match note(frame) {
            Some(Note::Heard(ip)) => {
                let now = Instant::now();
                if self.heard.len() >= MAX_NEIGHBOURS {
                    self.heard
                        .retain(|_, at| now.duration_since(*at) < ENTRY_LIFETIME);
                }
                if self.heard.len() < MAX_NEIGHBOURS {
                    self.heard.insert(ip, now);
                }
            }
            Some(Note::TcpError {
                local,
                remote,
                errno,
            }) if self.errors.len() < MAX_ERRORS => self.errors.push((local, remote, errno)),
            Some(Note::TcpReset { local, remote }) if self.resets.len() < MAX_ERRORS => {
                self.resets.push((local, remote))
            }
            _ => {}
        }
    }

    /// Why the connect from `local` to `remote`, under way since `since`, has failed, if it
    /// has: an ICMP error about it, or a next hop (`hop`) that smoltcp did not know when the
    /// connect began and that has not answered in RESOLVE_TIME.
    pub fn connect_error(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        since: Instant,
        hop: Option<IpAddr>,
    ) -> Option<i32> {
        if let Some(i) = self
            .errors
            .iter()
            .position(|(l, r, _)| *l == local && *r == remote)
        {
            return Some(self.errors.swap_remove(i).2);
        }
        if since.elapsed() < RESOLVE_TIME {
            return None;
        }
        let known = |at: &Instant| since.checked_sub(ENTRY_LIFETIME).is_none_or(|t| *at > t);
        match self.heard.get(&hop?) {
            Some(at) if known(at) => None,
            _ => Some(libc::EHOSTUNREACH),
        }
    }

    /// Whether the peer reset the connection from `local` to `remote` in this pump (rather
    /// than the stack giving up on a silent peer).
    pub fn was_reset(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.resets.contains(&(local, remote))
    }

    /// This pump's resets to local port `port`: (local, remote).
    pub fn resets_to(&self, port: u16) -> impl Iterator<Item = (SocketAddr, SocketAddr)> + '_ {
        self.resets
            .iter()
            .copied()
            .filter(move |(l, _)| l.port() == port)
    }

    /// Forgets the ICMP errors no connect has taken (they were about connections that are
    /// established or gone: Linux ignores them there too), and this pump's resets.
    pub fn end_pump(&mut self) {
        self.errors.clear();
        self.resets.clear();
    }
}

/// What a frame from the interface says about neighbours and connections; None for nearly
/// every frame (a look at its headers).
pub fn note(frame: &[u8]) -> Option<Note> {
    let payload = frame.get(ETH_HLEN..)?;
    match u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]) {
        0x0806 => arp(payload),
        0x0800 | 0x86dd => {
            let p = ip(payload)?;
            match p.proto {
                1 if p.src.is_ipv4() => icmp(&p),
                58 if p.src.is_ipv6() => icmp(&p),
                6 => reset(&p),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An IP packet's addresses, protocol and payload (IPv6 extension headers are not followed).
pub struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub payload: &'a [u8],
}

/// The IPv4 or IPv6 packet (by its version) that `packet` starts with.
pub fn ip(packet: &[u8]) -> Option<Ip<'_>> {
    let first = *packet.first()?;
    if first >> 4 == 6 {
        let src: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
        let dst: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
        let (proto, payload) = (*packet.get(6)?, packet.get(40..)?);
        return Some(Ip {
            src: src.into(),
            dst: dst.into(),
            proto,
            payload,
        });
    }
    let src: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
    let (proto, payload) = (
        *packet.get(9)?,
        packet.get(usize::from(first & 0x0f) * 4..)?,
    );
    Some(Ip {
        src: src.into(),
        dst: dst.into(),
        proto,
        payload,
    })
}

/// A TCP segment's (source, destination) ports.
fn ports(tcp: &[u8]) -> Option<(u16, u16)> {
    let port = |i: usize| Some(u16::from_be_bytes([*tcp.get(i)?, *tcp.get(i + 1)?]));
    Some((port(0)?, port(2)?))
}

/// A TCP segment with RST set: from the peer to us.
fn reset(p: &Ip) -> Option<Note> {
    if p.payload.get(13)? & 0x04 == 0 {
        return None;
    }
    let (from, to) = ports(p.payload)?;
    Some(Note::TcpReset {
        local: SocketAddr::new(p.dst, to),
        remote: SocketAddr::new(p.src, from),
    })
}

/// An ARP request or reply: its sender.
fn arp(p: &[u8]) -> Option<Note> {
    let spa: [u8; 4] = p.get(14..18)?.try_into().ok()?;
    let ip = IpAddr::from(spa);
    (!ip.is_unspecified()).then_some(Note::Heard(ip))
}

/// An ICMP or ICMPv6 "destination unreachable" or "time exceeded" about a TCP segment of
/// ours (Linux's errno for its code), or an NDP solicitation or advertisement (its sender).
fn icmp(p: &Ip) -> Option<Note> {
    let errno = match (p.proto, *p.payload.first()?, *p.payload.get(1)?) {
        (58, 135 | 136, _) => return (!p.src.is_unspecified()).then_some(Note::Heard(p.src)),
        // Fragmentation needed is path MTU discovery, not an error.
        (1, 3, 4) => return None,
        (1, 3, 0 | 6 | 9 | 11) | (58, 1, 0) => libc::ENETUNREACH,
        (1, 3, 2) => libc::ENOPROTOOPT,
        (1, 3, 3) | (58, 1, 4) => libc::ECONNREFUSED,
        (1, 3, 5) => libc::EOPNOTSUPP,
        (1, 3, 7) => libc::EHOSTDOWN,
        (1, 3, 8) => libc::ENONET,
        (58, 1, 1 | 5 | 6) => libc::EACCES,
        (1, 3 | 11, _) | (58, 1 | 3, _) => libc::EHOSTUNREACH,
        _ => return None,
    };
    let inner = ip(p.payload.get(8..)?)?;
    if inner.proto != 6 {
        return None;
    }
    let (from, to) = ports(inner.payload)?;
    Some(Note::TcpError {
        local: SocketAddr::new(inner.src, from),
        remote: SocketAddr::new(inner.dst, to),
        errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&kind.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An IPv4 header (no options) of `proto` from `src` to `dst`.
    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h
    }

    #[test]
    fn an_arp_packet_names_its_sender() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2, 1, 2, 3, 4, 5, 6];
        arp.extend_from_slice(&[10, 0, 0, 7]);
        arp.extend_from_slice(&[0; 10]);
        let want = Note::Heard(IpAddr::from([10, 0, 0, 7]));
        assert_eq!(note(&eth(0x0806, &arp)), Some(want));
        assert_eq!(note(&eth(0x0806, &arp[..10])), None, "short");
    }

    #[test]
    fn host_unreachable_about_our_syn_is_ehostunreach() {
        // The router at 10.0.0.1 answers our SYN from 10.0.0.2:40000 to 10.9.9.9:80.
        let mut p = ipv4(1, [10, 0, 0, 1], [10, 0, 0, 2]);
        p.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]);
        p.extend(ipv4(6, [10, 0, 0, 2], [10, 9, 9, 9]));
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&80u16.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        let want = Note::TcpError {
            local: "10.0.0.2:40000".parse().unwrap(),
            remote: "10.9.9.9:80".parse().unwrap(),
            errno: libc::EHOSTUNREACH,
        };
        assert_eq!(note(&eth(0x0800, &p)), Some(want));
        // Fragmentation needed is no error; a UDP segment is not ours to judge here.
        let mut frag = p.clone();
        frag[21] = 4;
        assert_eq!(note(&eth(0x0800, &frag)), None);
        let mut udp = p.clone();
        udp[28 + 9] = 17;
        assert_eq!(note(&eth(0x0800, &udp)), None);
        assert_eq!(note(&eth(0x0800, &p[..30])), None, "cut short");
    }

    #[test]
    fn an_unanswered_next_hop_fails_the_connect_after_three_seconds() {
        let mut n = Neighbours::default();
        let (l, r): (SocketAddr, SocketAddr) = (
            "10.0.0.2:40000".parse().unwrap(),
            "10.0.0.9:80".parse().unwrap(),
        );
        let hop = Some(r.ip());
        let now = Instant::now();
        assert_eq!(n.connect_error(l, r, now, hop), None, "too soon");
        let long_ago = now - Duration::from_secs(4);
        assert_eq!(
            n.connect_error(l, r, long_ago, hop),
            Some(libc::EHOSTUNREACH)
        );
        n.heard.insert(r.ip(), now);
        assert_eq!(n.connect_error(l, r, long_ago, hop), None, "it answered");
        n.errors.push((l, r, libc::ECONNREFUSED));
        assert_eq!(n.connect_error(l, r, now, hop), Some(libc::ECONNREFUSED));
        assert_eq!(n.connect_error(l, r, now, hop), None, "told once");
    }
}
