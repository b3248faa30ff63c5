//! The frames read from the pod's packet socket that the stack cannot take, judged before
//! smoltcp sees them and counted for /proc/net/dev (errs, drop) and netlink's IFLA_STATS64
//! (`ip -s link`): a frame too short for its headers, an IP header that is not one or whose
//! lengths run past the frame, or an IPv4 header whose checksum is wrong, is an error; a
//! frame of a type the stack does not speak (neither IPv4, IPv6 nor ARP) is dropped. TCP and
//! UDP checksums are not judged here: a veth peer leaves them to offloading (pod.rs).

/// Ethernet header length and the types the stack takes.
const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
/// An ARP packet for IPv4 over Ethernet, an IPv4 header without options, an IPv6 header.
const ARP_LEN: usize = 28;
const IPV4_MIN: usize = 20;
const IPV6_HLEN: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// For the stack.
    Take,
    /// Malformed: counted in errs.
    Error,
    /// Of a type nobody here takes: counted in drop.
    Drop,
}

/// Frames received that the stack never saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub errors: u64,
    pub dropped: u64,
}

impl Counts {
    pub fn count(&mut self, v: Verdict) {
        match v {
            Verdict::Take => {}
            Verdict::Error => self.errors += 1,
            Verdict::Drop => self.dropped += 1,
        }
    }
}

/// What becomes of a frame read from the interface.
pub fn check(frame: &[u8]) -> Verdict {
    if frame.len() < ETH_HLEN {
        return Verdict::Error;
    }
    let payload = &frame[ETH_HLEN..];
    let ok = match u16::from_be_bytes([frame[12], frame[13]]) {
        ETH_P_IP => ipv4_ok(payload),
        ETH_P_IPV6 => ipv6_ok(payload),
        ETH_P_ARP => payload.len() >= ARP_LEN,
        _ => return Verdict::Drop,
    };
    if ok {
        Verdict::Take
    } else {
        Verdict::Error
    }
}

/// An IPv4 header: version 4, its length within the packet, the total length within the
/// frame (padding may follow), and a checksum that sums to all ones (the host computes it
/// always: it is never left to offloading).
fn ipv4_ok(p: &[u8]) -> bool {
    if p.len() < IPV4_MIN || p[0] >> 4 != 4 {
        return false;
    }
    let hlen = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    hlen >= IPV4_MIN && hlen <= total && total <= p.len() && sum(&p[..hlen]) == 0xffff
}

/// An IPv6 header: version 6 and the payload within the frame.
fn ipv6_ok(p: &[u8]) -> bool {
    p.len() >= IPV6_HLEN
        && p[0] >> 4 == 6
        && IPV6_HLEN + usize::from(u16::from_be_bytes([p[4], p[5]])) <= p.len()
}

/// The ones' complement sum of 16-bit words (the Internet checksum before its complement).
fn sum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame of `ethertype` around `payload`.
    fn frame(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// A minimal IPv4 header (UDP, 10.0.0.1 to 10.0.0.2) with its checksum, and `extra`
    /// payload bytes.
    fn ipv4(extra: usize) -> Vec<u8> {
        let total = (20 + extra) as u16;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let c = !sum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.resize(20 + extra, 0);
        h
    }

    #[test]
    fn good_frames_go_to_the_stack() {
        assert_eq!(check(&frame(ETH_P_IP, &ipv4(8))), Verdict::Take);
        let mut padded = ipv4(0);
        padded.resize(46, 0);
        assert_eq!(check(&frame(ETH_P_IP, &padded)), Verdict::Take);
        assert_eq!(check(&frame(ETH_P_ARP, &[0; 28])), Verdict::Take);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.resize(48, 0);
        assert_eq!(check(&frame(ETH_P_IPV6, &v6)), Verdict::Take);
    }

    #[test]
    fn malformed_frames_are_errors_and_strange_types_dropped() {
        assert_eq!(check(&[0; 13]), Verdict::Error);
        assert_eq!(check(&frame(ETH_P_IP, &ipv4(8)[..15])), Verdict::Error);
        let mut bad_sum = ipv4(8);
        bad_sum[10] ^= 0x55;
        assert_eq!(check(&frame(ETH_P_IP, &bad_sum)), Verdict::Error);
        let mut too_long = ipv4(8);
        too_long[3] = 200;
        assert_eq!(check(&frame(ETH_P_IP, &too_long)), Verdict::Error);
        let mut v5 = ipv4(0);
        v5[0] = 0x55;
        assert_eq!(check(&frame(ETH_P_IP, &v5)), Verdict::Error);
        assert_eq!(check(&frame(ETH_P_IPV6, &[0x60; 30])), Verdict::Error);
        assert_eq!(check(&frame(ETH_P_ARP, &[0; 10])), Verdict::Error);
        assert_eq!(check(&frame(0x88b5, &[0; 46])), Verdict::Drop);
        let mut c = Counts::default();
        for v in [Verdict::Error, Verdict::Drop, Verdict::Take, Verdict::Error] {
            c.count(v);
        }
        assert_eq!(
            c,
            Counts {
                errors: 2,
                dropped: 1
            }
        );
    }
}
