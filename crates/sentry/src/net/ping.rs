//! ICMP echo ("ping") sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and
//! socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), what iputils' ping uses without CAP_NET_RAW.
//! As on Linux, the application sends an echo request (ICMP header and payload, no IP
//! header), the sandbox puts the socket's identifier (its "port": bound, or an ephemeral one)
//! and the checksum in, and the socket receives the echo replies with that identifier. An echo
//! to an address of the sandbox (loopback, the pod interface's) is answered here at once; one
//! beyond goes out through the pod's stack (net/pod.rs). The rules of the messages live here;
//! syscalls/socket.rs routes them.

use crate::mm::Errno;
use std::net::{IpAddr, Ipv6Addr};

/// net.ipv4.ping_group_range in the sandbox: every group, as podman and docker set it in
/// their containers (Linux's own default, "1 0", lets no group create ping sockets).
pub const GROUP_RANGE: (u32, u32) = (0, 2_147_483_647);

/// /proc/sys/net/ipv4/ping_group_range's text (Linux separates the two with a tab).
pub fn group_range_text() -> String {
    format!("{}\t{}\n", GROUP_RANGE.0, GROUP_RANGE.1)
}

/// Whether a task may create a ping socket: its effective gid or one of its supplementary
/// groups is in the range (Linux checks exactly these, capabilities do not matter).
pub fn may_create(egid: u32, groups: &[u32]) -> bool {
    let ok = |g: &u32| (GROUP_RANGE.0..=GROUP_RANGE.1).contains(g);
    ok(&egid) || groups.iter().any(ok)
}

/// The size of an ICMP echo header: type, code, checksum, identifier, sequence.
pub const HEADER: usize = 8;
/// The largest message a ping socket sends (Linux: 0xffff).
const MAX: usize = 0xffff;
/// The TTL (hop limit) an answer is reported with: Linux's default, which the sandbox's own
/// answers carry (smoltcp does not tell the TTL of what came over the interface).
pub const TTL: i32 = 64;

/// The echo request and reply types of a family.
fn echo_types(v6: bool) -> (u8, u8) {
    if v6 {
        (128, 129)
    } else {
        (8, 0)
    }
}

/// What a ping socket may send: an echo request with code 0 and a whole header (EINVAL
/// otherwise), at most 64 KiB (EMSGSIZE), in Linux's order of checks.
pub fn check_request(v6: bool, data: &[u8]) -> Result<(), Errno> {
    if data.len() > MAX {
        return Err(libc::EMSGSIZE);
    }
    if data.len() < HEADER || data[0] != echo_types(v6).0 || data[1] != 0 {
        return Err(libc::EINVAL);
    }
    Ok(())
}

/// Whether a received ICMP message is an echo reply of the family (what a ping socket takes).
pub fn is_reply(v6: bool, data: &[u8]) -> bool {
    data.len() >= HEADER && data[0] == echo_types(v6).1 && data[1] == 0
}

/// The request as it goes out: the socket's identifier in place of the caller's, and the
/// checksum (for ICMPv6 over the pseudo-header of `src` and `dst`).
pub fn request(data: &[u8], ident: u16, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut m = data.to_vec();
    m[4..6].copy_from_slice(&ident.to_be_bytes());
    seal(&mut m, src, dst);
    m
}

/// The echo reply the sandbox gives to `req` (sent from `src` to `dst`): the same identifier,
/// sequence and payload, from `dst` back to `src`.
pub fn reply(req: &[u8], src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut m = req.to_vec();
    m[0] = echo_types(dst.is_ipv6()).1;
    seal(&mut m, dst, src);
    m
}

/// Writes the checksum of the message `m` going from `src` to `dst`.
fn seal(m: &mut [u8], src: IpAddr, dst: IpAddr) {
    m[2..4].fill(0);
    let pseudo = match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_header(s, d, m.len()),
        _ => Vec::new(),
    };
    let sum = checksum(&[&pseudo, m]);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
}

/// ICMPv6's checksum covers the addresses, the length and the next header (58) too.
fn pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 58]);
    p
}

/// The Internet checksum (RFC 1071) of the concatenated parts (each of even length but the
/// last).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn requests_are_checked_as_linux_checks_them() {
        let echo = [8, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(check_request(false, &echo), Ok(()));
        assert_eq!(check_request(false, &echo[..7]), Err(libc::EINVAL));
        assert_eq!(
            check_request(false, &[0, 0, 0, 0, 0, 0, 0, 0]),
            Err(libc::EINVAL)
        );
        assert_eq!(
            check_request(false, &[8, 1, 0, 0, 0, 0, 0, 0]),
            Err(libc::EINVAL)
        );
        assert_eq!(check_request(true, &echo), Err(libc::EINVAL));
        assert_eq!(check_request(true, &[128, 0, 0, 0, 0, 0, 0, 0]), Ok(()));
        assert_eq!(check_request(false, &vec![8; MAX + 1]), Err(libc::EMSGSIZE));
    }

    #[test]
    fn a_reply_keeps_sequence_and_payload_and_sums_to_zero() {
        let (a, b) = (ip("127.0.0.1"), ip("127.0.0.2"));
        let req = request(&[8, 0, 0xaa, 0xbb, 0xff, 0xff, 0, 7, 1, 2, 3], 0x1234, a, b);
        assert_eq!(&req[4..6], &[0x12, 0x34]);
        assert_eq!(checksum(&[&req]), 0);
        let rep = reply(&req, a, b);
        assert_eq!((rep[0], &rep[4..]), (0, &req[4..]));
        assert!(is_reply(false, &rep) && !is_reply(true, &rep));
        assert_eq!(checksum(&[&rep]), 0);
    }

    #[test]
    fn icmpv6_sums_cover_the_pseudo_header() {
        let lo = ip("::1");
        let req = request(&[128, 0, 0, 0, 0, 0, 0, 1, 9], 5, lo, lo);
        let rep = reply(&req, lo, lo);
        let pseudo = pseudo_header(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, rep.len());
        assert_eq!(rep[0], 129);
        assert_eq!(checksum(&[&pseudo, &rep]), 0);
    }

    #[test]
    fn every_group_may_ping() {
        assert!(may_create(0, &[]) && may_create(65534, &[]));
        assert!(!may_create(u32::MAX, &[]) && may_create(u32::MAX, &[10]));
        assert_eq!(group_range_text(), "0\t2147483647\n");
    }
}
