//! The pod's interface, served by the sentry's own TCP/IP stack (smoltcp). The runtime takes
//! the interface over before the sentry confines itself (runtime/src/podnet.rs): it reads the
//! interface's MAC, MTU, addresses and default routes, removes the addresses from the host's
//! stack (so the host kernel stops answering ARP, TCP and UDP for them), and opens a packet
//! socket bound to the interface. The sentry then owns the interface's frames: smoltcp answers
//! ARP/NDP and runs TCP and UDP, and the host sees only Ethernet frames.
//!
//! The application's sockets stay the objects of unix.rs (queues, EOF, readiness, errno).
//! A TCP connection over the interface is a pair: the application's socket is joined to a
//! "wire" socket that the stack owns, and `pump` moves bytes between the wire socket and the
//! smoltcp connection in both directions, turns FIN into EOF and RST into ECONNRESET. A
//! listener of the application that covers the interface's address gets a small pool of
//! smoltcp listening sockets on its port (smoltcp has no backlog); a connection that becomes
//! established is handed to the listener as if its wire socket had connected. UDP sockets get
//! a smoltcp socket on their port once they send to or are bound on the interface. Ping
//! sockets (net/ping.rs) get a smoltcp ICMP socket on their identifier once they send beyond
//! the sandbox; smoltcp answers echo requests to the interface's addresses itself.

use super::inet;
use super::neigh::RESOLVE_TIME;
use super::unix::{Addr, Cred, Kind, Msg, Socket};
use bulkhead_linux::netlink::Interface as Described;
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// What the runtime hands the sentry: the interface as it was, and its frames.
#[derive(Debug)]
pub struct Link {
    /// A non-blocking packet socket bound to the interface (ETH_P_ALL, outgoing ignored).
    pub fd: OwnedFd,
    /// The interface as the host described it: name, index, MAC, MTU, addresses, gateways.
    pub iface: Described,
    /// The namespace's fd with the exclusive flock that says this sandbox serves the
    /// interface: held as long as the sentry runs.
    pub lock: Option<OwnedFd>,
}

/// Each TCP connection's buffers in the stack (the application's socket has its own).
const TCP_BUF: usize = 256 * 1024;
/// Listening smoltcp sockets kept ready per listening port.
const LISTEN_POOL: usize = 8;
/// Half-open connections (SYN received, handshake not finished) kept per listening port: the
/// SYN queue. Beyond it the surplus is dropped, so a flood of SYNs that are never completed
/// (spoofed sources) cannot hold the port's ready sockets or grow the sentry.
const HALF_OPEN: usize = 64;
/// A half-open connection whose peer sends nothing more is dropped after this (Linux gives up
/// after its SYN-ACK retries, about a minute).
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// A connect that gets no answer fails with ETIMEDOUT after this (Linux: about 2 minutes of
/// SYN retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(75);
/// A connection the application has closed is given this long to finish (Linux: the
/// FIN-WAIT-2 timeout), and is reset after this long without progress while its peer takes
/// none of its data or FIN (Linux gives up on such an orphan after its probes).
const LINGER: Duration = Duration::from_secs(60);
/// Connections the application has closed that may still finish their close (see
/// `bound_closing`).
const MAX_CLOSING: usize = 1024;
/// While the loop is busy, the interface is read at least this often.
const BUSY_CHECK: Duration = Duration::from_millis(1);
/// The most bytes moved into one queued message of the application's socket.
const CHUNK: usize = 64 * 1024;
/// Echo replies a ping socket's smoltcp socket holds between two pumps (a ping sends one a
/// second; a flood beyond this is dropped, as a full socket buffer drops it on Linux).
const ICMP_PACKETS: usize = 16;
const ICMP_BYTES: usize = 64 * 1024;
/// Largest frame read (a GSO frame from a veth peer can be larger than the MTU).
const FRAME_MAX: usize = 65536 + 14;

/// The device: frames in and out through the packet socket.
struct Tap {
    out: Out,
    mtu: usize,
    /// Where a frame is read: smoltcp parses it in place.
    rx: Vec<u8>,
    /// Frames and bytes read (/proc/net/dev).
    frames_in: u64,
    bytes_in: u64,
    /// Frames read that the stack cannot take (frame.rs).
    bad: super::frame::Counts,
    /// A read found no frame since the pump began: the rest of the pump reads no more (each
    /// of its rounds would ask again, a host call each); the next pump looks again.
    drained: bool,
    /// What the frames said about neighbours and connections (neigh.rs).
    neigh: super::neigh::Neighbours,
}

/// The writing side, borrowed by transmit tokens while the read buffer is lent to a receive
/// token.
struct Out {
    fd: OwnedFd,
    /// Frames and bytes written (/proc/net/dev).
    frames: std::cell::Cell<u64>,
    bytes: std::cell::Cell<u64>,
}

struct Rx<'a>(&'a [u8]);
struct Tx<'a>(&'a Out);

impl smoltcp::phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl smoltcp::phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        // A full send buffer drops the frame: TCP sends it again.
        if crate::host::write(self.0.fd.as_raw_fd(), &frame).is_ok() {
            self.0.frames.set(self.0.frames.get() + 1);
            self.0.bytes.set(self.0.bytes.get() + len as u64);
        }
        r
    }
}

/// Bad frames skipped in one receive at most: a flood of them ends the pump's round rather
/// than holding the loop.
const BAD_PER_RECEIVE: usize = 64;

impl Tap {
    /// Reads frames until one the stack can take (its length), counting the others.
    fn next_frame(&mut self) -> Option<usize> {
        for _ in 0..BAD_PER_RECEIVE {
            if self.drained {
                return None;
            }
            let Ok(n) = crate::host::read(self.out.fd.as_raw_fd(), &mut self.rx) else {
                self.drained = true;
                return None;
            };
            if n == 0 {
                return None;
            }
            self.frames_in += 1;
            self.bytes_in += n as u64;
            match super::frame::check(&self.rx[..n]) {
                super::frame::Verdict::Take => {
                    self.neigh.read(&self.rx[..n]);
                    return Some(n);
                }
                v => self.bad.count(v),
            }
        }
        None
    }
}

impl Device for Tap {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = self.next_frame()?;
        Some((Rx(&self.rx[..n]), Tx(&self.out)))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Tx<'_>> {
        Some(Tx(&self.out))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + 14;
        // Frames from a local peer (a veth) carry checksums the host kernel left to
        // offloading: they are not checked on the way in, always computed on the way out.
        let mut sums = ChecksumCapabilities::default();
        sums.ipv4 = Checksum::Tx;
        sums.tcp = Checksum::Tx;
        sums.udp = Checksum::Tx;
        sums.icmpv4 = Checksum::Tx;
        sums.icmpv6 = Checksum::Tx;
        caps.checksum = sums;
        caps
    }
}

/// One TCP connection over the interface.
struct Bridge {
    handle: SocketHandle,
    /// The stack's end of the application's connection.
    wire: Rc<Socket>,
    /// The application's socket while its connect is in progress.
    connecting: Option<(Weak<Socket>, Instant)>,
    /// We sent FIN (the application ended its writing side or closed).
    fin_sent: bool,
    /// The application was told the peer's FIN (EOF) or reset.
    ended: bool,
    /// The wire socket's generations at the last pump: a change means work.
    seen: [u64; 2],
    /// Once the application's socket is closed: since when the connection has made no
    /// progress (the wire socket's generations and the stack's send queue unchanged). After
    /// LINGER without progress it is reset (a peer that never reads would otherwise hold the
    /// data and the FIN behind it forever).
    orphaned: Option<(Instant, [u64; 2], usize)>,
    /// The application's keep-alive is applied (`keep_alive`): an end without FIN or reset is
    /// the stack giving up on a silent peer (ETIMEDOUT).
    keep: bool,
    /// The connection's (local, remote) addresses (smoltcp forgets them when a reset comes).
    ends: (SocketAddr, SocketAddr),
    /// The stack's state at the last pump: a change wakes a lingering close.
    state: tcp::State,
}

/// A UDP port the application uses over the interface.
#[derive(Clone)]
struct UdpPort {
    /// The smoltcp socket on the port.
    handle: SocketHandle,
    /// The application's socket it serves.
    app: Weak<Socket>,
    /// The smoltcp ICMP socket that hears the errors the port's datagrams caused.
    errors: Option<SocketHandle>,
}

/// The result of an application's connect over the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Pending,
    Done(Result<(), i32>),
}

struct Pod {
    iface: Interface,
    dev: Tap,
    sockets: SocketSet<'static>,
    base: Instant,
    /// The interface as it was taken over (what the application is shown).
    link: Described,
    bridges: Vec<Bridge>,
    /// Listening ports: the smoltcp sockets waiting for a connection.
    pools: BTreeMap<u16, Vec<SocketHandle>>,
    /// UDP ports of the application's on the interface.
    udp: BTreeMap<u16, UdpPort>,
    /// Ping sockets by (IPv6, identifier): the smoltcp ICMP socket and the application's.
    icmp: BTreeMap<(bool, u16), (SocketHandle, Weak<Socket>)>,
    /// Connects in progress or done but not yet reported to a waiting connect.
    connects: Vec<(Weak<Socket>, Progress)>,
    _lock: Option<OwnedFd>,
    readable: bool,
    dirty: bool,
    checked: Instant,
    /// When the stack's timers next need a pump (smoltcp's poll_at after the last pump).
    next_at: Option<smoltcp::time::Instant>,
}

thread_local! {
    static POD: RefCell<Option<Pod>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Pod) -> R) -> Option<R> {
    POD.with(|p| p.borrow_mut().as_mut().map(f))
}

/// Takes over the interface the runtime attached: the sandbox's stack answers for its
/// addresses from now on.
pub fn install(link: Link) {
    let mut dev = Tap {
        out: Out {
            fd: link.fd,
            frames: std::cell::Cell::new(0),
            bytes: std::cell::Cell::new(0),
        },
        mtu: link.iface.mtu.clamp(576, 65535) as usize,
        rx: vec![0u8; FRAME_MAX],
        frames_in: 0,
        bytes_in: 0,
        bad: super::frame::Counts::default(),
        drained: false,
        neigh: Default::default(),
    };
    let base = Instant::now();
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(link.iface.mac)));
    let mut seed = [0u8; 8];
    let _ = crate::host::getrandom(&mut seed);
    config.random_seed = u64::from_le_bytes(seed);
    let mut iface = Interface::new(config, &mut dev, smoltcp::time::Instant::from_micros(0));
    iface.update_ip_addrs(|a| {
        for (ip, prefix) in &link.iface.addrs {
            let _ = a.push(IpCidr::new(IpAddress::from(*ip), *prefix));
        }
    });
    for gw in &link.iface.gateways {
        let _ = match gw {
            IpAddr::V4(v4) => iface.routes_mut().add_default_ipv4_route(*v4).map(|_| ()),
            IpAddr::V6(v6) => iface.routes_mut().add_default_ipv6_route(*v6).map(|_| ()),
        };
    }
    let pod = Pod {
        iface,
        dev,
        sockets: SocketSet::new(Vec::new()),
        base,
        link: link.iface,
        bridges: Vec::new(),
        pools: BTreeMap::new(),
        udp: BTreeMap::new(),
        icmp: BTreeMap::new(),
        connects: Vec::new(),
        _lock: link.lock,
        readable: true,
        dirty: true,
        checked: base,
        next_at: None,
    };
    POD.with(|p| *p.borrow_mut() = Some(pod));
}

/// What `ip addr` and /proc/net/dev show of the interface.
pub struct Shown {
    pub link: Described,
    pub frames: (u64, u64),
    pub bytes: (u64, u64),
    /// Frames received that the stack never took.
    pub bad: super::frame::Counts,
}

pub fn shown() -> Option<Shown> {
    with(|p| Shown {
        link: p.link.clone(),
        frames: (p.dev.frames_in, p.dev.out.frames.get()),
        bytes: (p.dev.bytes_in, p.dev.out.bytes.get()),
        bad: p.dev.bad,
    })
}

/// Whether `s` is the stack's own end of a connection over the interface (a wire socket),
/// which the application's socket tables leave out. Wire sockets alone carry WIRE_CRED:
/// no task has uid -1.
pub fn is_wire(s: &Socket) -> bool {
    s.info().uid == WIRE_CRED.uid
}

/// Whether `ip` is one of the interface's addresses.
pub fn has_addr(ip: IpAddr) -> bool {
    let ip = inet::canonical(ip);
    with(|p| p.link.addrs.iter().any(|(a, _)| *a == ip)).unwrap_or(false)
}

/// Whether `ip` is the broadcast address of one of the interface's IPv4 networks.
pub fn is_subnet_broadcast(ip: std::net::Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    with(|p| {
        p.link.addrs.iter().any(|(a, prefix)| match a {
            IpAddr::V4(a) if *prefix < 31 => u32::from(*a) | (u32::MAX >> *prefix) == ip,
            _ => false,
        })
    })
    .unwrap_or(false)
}

/// The neighbour a packet to `dest` goes to: `dest` itself on one of the interface's
/// networks, else the gateway of its family.
fn next_hop(link: &Described, dest: IpAddr) -> Option<IpAddr> {
    let same_family = |a: &IpAddr| a.is_ipv4() == dest.is_ipv4();
    let on_link = link.addrs.iter().any(|(a, len)| {
        same_family(a) && IpCidr::new((*a).into(), *len).contains_addr(&dest.into())
    });
    if on_link {
        return Some(dest);
    }
    link.gateways.iter().copied().find(same_family)
}

/// The interface's address to send to `dest` from, when the stack can reach it.
pub fn source_for(dest: IpAddr) -> Option<IpAddr> {
    let dest = inet::canonical(dest);
    with(|p| {
        let same_family = |a: &IpAddr| a.is_ipv4() == dest.is_ipv4();
        let reachable = next_hop(&p.link, dest).is_some();
        let global = |a: &IpAddr| match a {
            IpAddr::V6(v6) => !v6.is_unicast_link_local(),
            IpAddr::V4(_) => true,
        };
        if !reachable {
            return None;
        }
        p.link
            .addrs
            .iter()
            .map(|(a, _)| *a)
            .find(|a| same_family(a) && global(a))
            .or_else(|| p.link.addrs.iter().map(|(a, _)| *a).find(same_family))
    })
    .flatten()
}

/// The packet socket, for the loop's poll.
pub fn fd() -> Option<RawFd> {
    with(|p| p.dev.out.fd.as_raw_fd())
}

/// The loop's poll saw frames waiting.
pub fn readable() {
    with(|p| p.readable = true);
}

/// When the stack next needs the loop (a retransmission, a delayed ACK, a timeout).
pub fn next_deadline() -> Option<Instant> {
    with(|p| {
        let base = p.base;
        p.next_at
            .map(|at| base + Duration::from_micros(at.total_micros().max(0) as u64))
    })
    .flatten()
}

/// Runs the stack when it has work: frames waiting, a deadline passed, a connection's wire
/// socket changed (the application wrote, read or closed), a socket call asked for it
/// (`changed`), or, while the loop is busy, every BUSY_CHECK. A system call that touched no
/// connection costs no pump.
pub fn pump_if_due() {
    let due = with(|p| {
        let now = p.now();
        let wires = p.bridges.iter().any(|b| b.wire.generation() != b.seen);
        let late = p.checked.elapsed() >= BUSY_CHECK;
        // The stack's timers change only in a pump (or when a socket call asks for one).
        let deadline = p.next_at.is_some_and(|at| at <= now);
        p.readable || p.dirty || wires || late || deadline
    })
    .unwrap_or(false);
    if due {
        with(Pod::pump);
    }
}

/// How long the sandbox's end waits at most for its connections to deliver what their
/// closed sockets left to send.
pub const DRAIN_MAX: Duration = Duration::from_secs(10);

/// The sandbox's processes are gone: Linux's kernel would go on sending what their closed
/// connections left queued, and their FINs, long after; the sentry does so for up to `max`
/// while some connection still has data or a FIN unacknowledged, then returns (it is about
/// to end, and its stack with it).
pub fn drain(max: Duration) {
    let end = Instant::now() + max;
    loop {
        let undelivered = with(|p| {
            p.pump();
            p.undelivered()
        })
        .unwrap_or(false);
        let now = Instant::now();
        let Some(fd) = fd().filter(|_| undelivered && now < end) else {
            return;
        };
        let until = next_deadline().map_or(end, |d| d.min(end));
        let ms = until
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 100) as i32;
        let mut fds = [libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        if crate::host::poll(&mut fds, ms).is_ok_and(|n| n > 0) {
            readable();
        }
    }
}

/// The application did something the stack must see at its next pump (a listen, a bind).
pub fn changed() {
    with(|p| p.dirty = true);
}

impl Pod {
    fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.base.elapsed().as_micros() as i64)
    }

    /// Whether a connection still has data or a FIN the peer has not acknowledged (one being
    /// opened is not waited for).
    fn undelivered(&self) -> bool {
        self.bridges
            .iter()
            .any(|b| unacknowledged(self.sockets.get::<tcp::Socket>(b.handle)))
    }

    fn pump(&mut self) {
        self.readable = false;
        self.dirty = false;
        self.checked = Instant::now();
        self.dev.drained = false;
        for _ in 0..16 {
            let now = self.now();
            let polled = self.iface.poll(now, &mut self.dev, &mut self.sockets);
            let moved =
                self.tend_listeners() | self.tend_tcp() | self.tend_udp() | self.tend_icmp();
            if polled == PollResult::None && !moved {
                break;
            }
        }
        self.dev.neigh.end_pump();
        for b in &mut self.bridges {
            b.seen = b.wire.generation();
        }
        let now = self.now();
        let stack = self.iface.poll_at(now, &self.sockets);
        // An orphan's LINGER and a connect's wait for its next hop are the sentry's own
        // timers: an idle loop must wake for them too.
        let clock = Instant::now();
        let resolved = |b: &Bridge| b.connecting.as_ref().map(|(_, at)| *at + RESOLVE_TIME);
        let linger = self
            .bridges
            .iter()
            .filter_map(|b| b.orphaned.map(|(at, _, _)| at + LINGER))
            .chain(self.bridges.iter().filter_map(resolved))
            .filter(|at| *at > clock)
            .min()
            .map(|at| {
                let micros = at.saturating_duration_since(self.base).as_micros();
                smoltcp::time::Instant::from_micros(micros as i64)
            });
        self.next_at = match (stack, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Keeps a pool of listening sockets on every port the application listens on over the
    /// interface, and hands established connections to the listener.
    fn tend_listeners(&mut self) -> bool {
        let mut moved = false;
        let listeners: Vec<(u16, Rc<Socket>)> = inet::bound(Kind::Stream)
            .into_iter()
            .filter(|(a, s)| s.is_listening() && self.serves(a.ip()))
            .map(|(a, s)| (a.port(), s))
            .collect();
        let ports: Vec<u16> = self.pools.keys().copied().collect();
        for port in ports {
            if !listeners.iter().any(|(p, _)| *p == port) {
                for h in self.pools.remove(&port).unwrap_or_default() {
                    self.sockets.get_mut::<tcp::Socket>(h).abort();
                    self.sockets.remove(h);
                }
                moved = true;
            }
        }
        for (port, listener) in listeners {
            let mut pool = self.pools.remove(&port).unwrap_or_default();
            let mut keep = Vec::with_capacity(pool.len());
            let mut handed: Vec<(SocketAddr, SocketAddr)> = Vec::new();
            for h in pool.drain(..) {
                let s = self.sockets.get_mut::<tcp::Socket>(h);
                match s.state() {
                    tcp::State::Listen | tcp::State::SynReceived => keep.push(h),
                    tcp::State::Established | tcp::State::CloseWait => {
                        moved = true;
                        // The half-open timeout is the handshake's alone.
                        s.set_timeout(None);
                        let Some(ends) = endpoints(s) else {
                            s.abort();
                            continue;
                        };
                        match wire_to(&listener, ends.0, ends.1) {
                            Ok(wire) => {
                                let mut b = Bridge {
                                    handle: h,
                                    wire,
                                    connecting: None,
                                    fin_sent: false,
                                    ended: false,
                                    seen: [0; 2],
                                    orphaned: None,
                                    keep: false,
                                    ends,
                                    state: tcp::State::Established,
                                };
                                // The accepted socket has the listener's options.
                                keep_alive(s, &mut b);
                                self.bridges.push(b);
                            }
                            // A full backlog: the connection is reset, as Linux's overflow
                            // with tcp_abort_on_overflow would.
                            Err(_) => s.abort(),
                        }
                    }
                    // Established and reset within one pump, before it could be handed over
                    // (smoltcp forgets the ends of a reset connection; the reset frame that
                    // came in this pump names them): Linux's accept hands such a connection
                    // over all the same, reset.
                    tcp::State::Closed => {
                        let bridges = &self.bridges;
                        let claimed = |e: &(SocketAddr, SocketAddr)| {
                            handed.contains(e) || bridges.iter().any(|b| b.ends == *e)
                        };
                        let reset = self.dev.neigh.resets_to(port).find(|e| !claimed(e));
                        if let Some((local, remote)) = reset {
                            handed.push((local, remote));
                            hand_over_reset(&listener, local, remote);
                            moved = true;
                        }
                        self.sockets.remove(h);
                    }
                    _ => {
                        self.sockets.remove(h);
                    }
                }
            }
            // The SYN queue's bound: past HALF_OPEN half-open connections the oldest in the
            // pool's order are dropped silently, as a full SYN queue drops on Linux.
            let state =
                |sockets: &SocketSet, h: SocketHandle| sockets.get::<tcp::Socket>(h).state();
            let half: Vec<SocketHandle> = keep
                .iter()
                .copied()
                .filter(|h| state(&self.sockets, *h) == tcp::State::SynReceived)
                .collect();
            if half.len() > HALF_OPEN {
                for h in &half[..half.len() - HALF_OPEN] {
                    self.sockets.remove(*h);
                    keep.retain(|k| k != h);
                }
                moved = true;
            }
            // LISTEN_POOL sockets stay ready whatever the half-open ones hold.
            let ready = keep
                .iter()
                .filter(|h| state(&self.sockets, **h) == tcp::State::Listen)
                .count();
            for _ in ready..LISTEN_POOL {
                let mut s = new_tcp();
                s.set_timeout(Some(smol(HALF_OPEN_TIMEOUT)));
                if s.listen(port).is_err() {
                    break;
                }
                keep.push(self.sockets.add(s));
            }
            self.pools.insert(port, keep);
        }
        moved
    }

    /// Moves bytes between each connection and its wire socket, and ends what has ended.
    fn tend_tcp(&mut self) -> bool {
        let mut moved = false;
        let mut gone = Vec::new();
        let clock = Instant::now();
        for (i, b) in self.bridges.iter_mut().enumerate() {
            let s = self.sockets.get_mut::<tcp::Socket>(b.handle);
            if s.state() != b.state {
                b.state = s.state();
                crate::kernel::wait::poke();
            }
            if let Some((app, since)) = b.connecting.clone() {
                let Some(app) = app.upgrade() else {
                    s.abort();
                    b.connecting = None;
                    continue;
                };
                let failed = match s.state() {
                    tcp::State::SynSent => {
                        let (local, remote) = b.ends;
                        let hop = next_hop(&self.link, remote.ip());
                        let neigh = &mut self.dev.neigh;
                        let Some(e) = neigh.connect_error(local, remote, since, hop) else {
                            continue;
                        };
                        s.close();
                        Some(e)
                    }
                    tcp::State::SynReceived => continue,
                    tcp::State::Closed | tcp::State::TimeWait => {
                        Some(if since.elapsed() >= CONNECT_TIMEOUT {
                            libc::ETIMEDOUT
                        } else {
                            libc::ECONNREFUSED
                        })
                    }
                    _ => None,
                };
                match failed {
                    Some(e) => {
                        report(&mut self.connects, &app, Progress::Done(Err(e)));
                        app.set_error(e);
                        b.connecting = None;
                        b.ended = true;
                        gone.push(i);
                        moved = true;
                        continue;
                    }
                    None => {
                        s.set_timeout(None);
                        Socket::join_wire(&app, &b.wire, WIRE_CRED);
                        keep_alive(s, b);
                        report(&mut self.connects, &app, Progress::Done(Ok(())));
                        b.connecting = None;
                        moved = true;
                    }
                }
            }
            // The application closed with SO_LINGER 0: reset, as Linux's abortive close. The
            // bridge goes at the next round, once the stack has sent the RST.
            if b.wire.peer_aborted() && s.is_active() {
                s.abort();
                b.ended = true;
                moved = true;
                continue;
            }
            // Ended without FIN: reset by the peer, or (keep-alive) given up on.
            let timed_out = b.keep
                && s.state() == tcp::State::Closed
                && !self.dev.neigh.was_reset(b.ends.0, b.ends.1);
            moved |= carry(
                s,
                b,
                if timed_out {
                    libc::ETIMEDOUT
                } else {
                    libc::ECONNRESET
                },
            );
            if b.wire.peer_closed() && s.is_active() {
                let now = (b.wire.generation(), s.send_queue());
                let since = match b.orphaned {
                    Some((at, g, q)) if (g, q) == now => at,
                    _ => {
                        b.orphaned = Some((clock, now.0, now.1));
                        clock
                    }
                };
                if clock.duration_since(since) >= LINGER {
                    // Gone at the next round, once the stack has sent the RST.
                    s.abort();
                    moved = true;
                    continue;
                }
            }
            if matches!(s.state(), tcp::State::Closed) || (b.fin_sent && b.ended && !s.is_active())
            {
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            let b = self.bridges.swap_remove(i);
            self.sockets.remove(b.handle);
        }
        self.bound_closing();
        moved
    }

    /// A program that opens and closes connections faster than their peers finish them must
    /// not grow the sentry without bound: past MAX_CLOSING closed connections still finishing
    /// (the application's socket gone, its data or FIN not yet taken by the peer), the rest
    /// are reset.
    fn bound_closing(&mut self) {
        let closing: Vec<SocketHandle> = self
            .bridges
            .iter()
            .filter(|b| b.wire.peer_closed())
            .map(|b| b.handle)
            .collect();
        for h in closing.iter().skip(MAX_CLOSING) {
            self.sockets.get_mut::<tcp::Socket>(*h).abort();
        }
    }

    /// Brings UDP datagrams from the interface to the application's sockets.
    fn tend_udp(&mut self) -> bool {
        let mut moved = false;
        let ports: Vec<u16> = self.udp.keys().copied().collect();
        for port in ports {
            let Some(entry) = self.udp.get(&port).cloned() else {
                continue;
            };
            let Some(app) = entry.app.upgrade().filter(|a| a.is_bound()) else {
                self.sockets.remove(entry.handle);
                if let Some(e) = entry.errors {
                    self.sockets.remove(e);
                }
                self.udp.remove(&port);
                continue;
            };
            let s = self.sockets.get_mut::<udp::Socket>(entry.handle);
            while let Ok((data, meta)) = s.recv() {
                moved = true;
                let from = Addr::Inet(endpoint(meta.endpoint));
                if !app.accepts_from(Some(&from)) || app.room() < data.len() {
                    continue;
                }
                app.deliver(Msg {
                    data: data.to_vec(),
                    fds: Vec::new(),
                    cred: WIRE_CRED,
                    from: Some(from),
                });
            }
            if let Some(e) = entry.errors {
                // Linux's udp_err: a port unreachable for the peer of a connected socket is
                // its error (ECONNREFUSED); other errors, and errors of an unconnected
                // socket, are not reported without IP_RECVERR.
                let peer = match app.peer_addr() {
                    Some(Addr::Inet(a)) => Some(SocketAddr::new(inet::canonical(a.ip()), a.port())),
                    _ => None,
                };
                let icmp = self.sockets.get_mut::<icmp::Socket>(e);
                while let Ok((msg, _)) = icmp.recv() {
                    moved = true;
                    if peer.is_some() && refused(msg) == peer {
                        app.set_error(libc::ECONNREFUSED);
                    }
                }
            }
        }
        moved
    }

    /// Brings echo replies from the interface to the ping sockets they answer (smoltcp's
    /// socket on an identifier also takes echo requests with it: those are not the
    /// application's).
    fn tend_icmp(&mut self) -> bool {
        let mut moved = false;
        let keys: Vec<(bool, u16)> = self.icmp.keys().copied().collect();
        for key in keys {
            let Some((h, app)) = self.icmp.get(&key).cloned() else {
                continue;
            };
            let Some(app) = app.upgrade() else {
                self.sockets.remove(h);
                self.icmp.remove(&key);
                continue;
            };
            let s = self.sockets.get_mut::<icmp::Socket>(h);
            while let Ok((data, from)) = s.recv() {
                moved = true;
                let from = IpAddr::from(from);
                let ours = from.is_ipv6() == key.0 && super::ping::is_reply(key.0, data);
                if !ours || app.room() < data.len() {
                    continue;
                }
                app.deliver(Msg {
                    data: data.to_vec(),
                    fds: Vec::new(),
                    cred: WIRE_CRED,
                    from: Some(Addr::Inet(SocketAddr::new(from, 0))),
                });
            }
        }
        moved
    }

    /// Whether a binding to `ip` takes what arrives on the interface.
    fn serves(&self, ip: IpAddr) -> bool {
        let ip = inet::canonical(ip);
        ip.is_unspecified() || self.link.addrs.iter().any(|(a, _)| *a == ip)
    }
}

/// Moves what each side has for the other; returns whether anything moved.
/// The connection's (local, remote) addresses, while smoltcp has them (not after a reset).
fn endpoints(s: &tcp::Socket) -> Option<(SocketAddr, SocketAddr)> {
    Some((
        endpoint(s.local_endpoint()?),
        endpoint(s.remote_endpoint()?),
    ))
}

/// Whether the application's socket `app` is connected through the interface.
pub fn carries(app: &Rc<Socket>) -> bool {
    with(|p| p.bridges.iter().any(|b| b.serves(app))).unwrap_or(false)
}

/// Whether a close of `app` lingers still: its connection has data or a FIN the peer has not
/// acknowledged.
pub fn lingering(app: &Rc<Socket>) -> bool {
    with(|p| {
        p.bridges
            .iter()
            .filter(|b| b.serves(app))
            .any(|b| unacknowledged(p.sockets.get::<tcp::Socket>(b.handle)))
    })
    .unwrap_or(false)
}

/// Whether an open connection still has data or a FIN its peer has not acknowledged (one
/// being opened has nothing to deliver yet).
fn unacknowledged(s: &tcp::Socket) -> bool {
    s.send_queue() > 0
        || matches!(
            s.state(),
            tcp::State::Established
                | tcp::State::CloseWait
                | tcp::State::FinWait1
                | tcp::State::Closing
                | tcp::State::LastAck
        )
}

impl Bridge {
    /// Whether this connection is the application's socket `app`'s.
    fn serves(&self, app: &Rc<Socket>) -> bool {
        self.wire.peer().is_some_and(|a| Rc::ptr_eq(&a, app))
    }
}

/// Queues for `listener` a connection from `remote` to `local` that was reset before it
/// was accepted: accept gets it, its first receive ECONNRESET, then EOF, and it has no peer
/// name (getpeername ENOTCONN), as on Linux.
fn hand_over_reset(listener: &Rc<Socket>, local: SocketAddr, remote: SocketAddr) {
    if let Ok(wire) = wire_to(listener, local, remote) {
        wire.reset_peer(libc::ECONNRESET);
    }
}

/// The stack's end (named `remote`) of a connection queued for `listener` (its accepted
/// socket named `local`).
fn wire_to(
    listener: &Rc<Socket>,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<Rc<Socket>, i32> {
    let wire = Socket::of_family(listener.family, Kind::Stream, WIRE_CRED);
    wire.set_name(Addr::Inet(remote));
    wire.connect_as(listener, WIRE_CRED, Some(Addr::Inet(local)))?;
    Ok(wire)
}

/// Applies the application's keep-alive (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
/// TCP_KEEPCNT) to its connection: smoltcp probes every TCP_KEEPINTVL of silence and gives up
/// after Linux's whole wait, TCP_KEEPIDLE + TCP_KEEPINTVL * TCP_KEEPCNT, without a word from
/// the peer (its probes start sooner than Linux's, after one interval of silence).
fn keep_alive(s: &mut tcp::Socket, b: &mut Bridge) {
    let Some(app) = b.wire.peer() else {
        return;
    };
    let opt = |name: i32, default: i32| {
        let v = app.opt(libc::IPPROTO_TCP, name).unwrap_or(default);
        Duration::from_secs(v.max(1) as u64)
    };
    let on = app.opt(libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap_or(0) != 0;
    if on {
        let idle = opt(libc::TCP_KEEPIDLE, 7200);
        let interval = opt(libc::TCP_KEEPINTVL, 75);
        let count = app
            .opt(libc::IPPROTO_TCP, libc::TCP_KEEPCNT)
            .unwrap_or(9)
            .max(1) as u32;
        s.set_keep_alive(Some(smol(interval)));
        s.set_timeout(Some(smol(idle + interval * count)));
        b.keep = true;
    } else if b.keep {
        s.set_keep_alive(None);
        s.set_timeout(None);
        b.keep = false;
    }
}

/// The application changed a keep-alive option of its socket `app`: applied now if it is
/// connected over the interface.
pub fn options_changed(app: &Rc<Socket>) {
    with(|p| {
        for b in &mut p.bridges {
            if b.serves(app) && b.connecting.is_none() && !b.wire.peer_closed() {
                keep_alive(p.sockets.get_mut::<tcp::Socket>(b.handle), b);
                p.dirty = true;
            }
        }
    });
}

fn carry(s: &mut tcp::Socket, b: &mut Bridge, reset: i32) -> bool {
    let mut moved = false;
    // From the interface to the application.
    while s.can_recv() {
        let r = s.recv(|buf| {
            // At most one chunk per message: the allocation stays in malloc's free lists.
            let buf = &buf[..buf.len().min(CHUNK)];
            let n = b
                .wire
                .send(
                    Msg {
                        data: buf.to_vec(),
                        fds: Vec::new(),
                        cred: WIRE_CRED,
                        from: None,
                    },
                    None,
                )
                .unwrap_or_else(|e| if e == libc::EAGAIN { 0 } else { buf.len() });
            (n, n)
        });
        match r {
            Ok(n) if n > 0 => moved = true,
            _ => break,
        }
    }
    // From the application to the interface.
    while s.may_send() && !b.fin_sent {
        let room = s.send_capacity() - s.send_queue();
        if room == 0 {
            break;
        }
        match b.wire.recv(room, false) {
            Ok(r) if !r.data.is_empty() => {
                let _ = s.send_slice(&r.data);
                moved = true;
            }
            Ok(_) => {
                // The application ended its writing side or closed: FIN.
                s.close();
                b.fin_sent = true;
                if !b.wire.connected() || b.wire.peer_closed() {
                    s.set_timeout(Some(smol(LINGER)));
                }
                moved = true;
            }
            Err(_) => break,
        }
    }
    // The peer's FIN (after the data before it) or reset.
    if !b.ended && !s.may_recv() && s.recv_queue() == 0 {
        match s.state() {
            tcp::State::CloseWait
            | tcp::State::LastAck
            | tcp::State::Closing
            | tcp::State::TimeWait => {
                let _ = b.wire.shutdown(libc::SHUT_WR);
                b.ended = true;
                moved = true;
            }
            tcp::State::Closed => {
                if !b.fin_sent {
                    b.wire.reset_peer(reset);
                }
                b.ended = true;
                moved = true;
            }
            _ => {}
        }
    }
    moved
}

/// SO_PEERCRED of a TCP connection: nobody (Linux gives pid 0 and -1 ids).
const WIRE_CRED: Cred = Cred {
    pid: 0,
    uid: u32::MAX,
    gid: u32::MAX,
};

fn new_tcp() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
        tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
    );
    s.set_nagle_enabled(false);
    s
}

/// The destination of the UDP datagram that an ICMP or ICMPv6 "port unreachable" message
/// (as smoltcp hands it: the message, without the IP header) answers; None for any other
/// message.
fn refused(msg: &[u8]) -> Option<SocketAddr> {
    if !matches!(msg, [3, 3, ..] | [1, 4, ..]) {
        return None;
    }
    let inner = super::neigh::ip(msg.get(8..)?)?;
    let udp = inner.payload;
    let port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    Some(SocketAddr::new(inner.dst, port))
}

fn smol(d: Duration) -> smoltcp::time::Duration {
    smoltcp::time::Duration::from_micros(d.as_micros() as u64)
}

fn endpoint(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(e.addr.into(), e.port)
}

fn report(connects: &mut Vec<(Weak<Socket>, Progress)>, app: &Rc<Socket>, p: Progress) {
    if p != Progress::Pending {
        app.set_connecting(false);
    }
    connects.retain(|(w, _)| w.strong_count() > 0);
    for (w, q) in connects.iter_mut() {
        if std::ptr::eq(w.as_ptr(), Rc::as_ptr(app)) {
            *q = p;
        }
    }
}

/// Starts a TCP connection from `local` (an address of the interface, a bound port) to
/// `remote` for the application's socket `app`.
pub fn connect(app: &Rc<Socket>, local: SocketAddr, remote: SocketAddr) -> Result<(), i32> {
    with(|p| {
        let mut s = new_tcp();
        s.set_timeout(Some(smol(CONNECT_TIMEOUT)));
        let remote_ep = IpEndpoint::new(inet::canonical(remote.ip()).into(), remote.port());
        let local_ep = IpEndpoint::new(inet::canonical(local.ip()).into(), local.port());
        s.connect(p.iface.context(), remote_ep, local_ep)
            .map_err(|_| libc::EINVAL)?;
        let handle = p.sockets.add(s);
        let wire = Socket::of_family(app.family, Kind::Stream, WIRE_CRED);
        wire.set_name(Addr::Inet(remote));
        p.bridges.push(Bridge {
            handle,
            wire,
            connecting: Some((Rc::downgrade(app), Instant::now())),
            fin_sent: false,
            ended: false,
            seen: [0; 2],
            orphaned: None,
            keep: false,
            ends: (endpoint(local_ep), endpoint(remote_ep)),
            state: tcp::State::SynSent,
        });
        p.connects.push((Rc::downgrade(app), Progress::Pending));
        app.set_connecting(true);
        p.dirty = true;
        Ok(())
    })
    .unwrap_or(Err(libc::ENETUNREACH))
}

/// Where an application's connect over the interface stands; a finished one is reported once.
pub fn progress(app: &Rc<Socket>) -> Option<Progress> {
    with(|p| {
        let at = p
            .connects
            .iter()
            .position(|(w, _)| std::ptr::eq(w.as_ptr(), Rc::as_ptr(app)))?;
        let state = p.connects[at].1;
        if state != Progress::Pending {
            p.connects.remove(at);
        }
        Some(state)
    })
    .flatten()
}

/// Sends a datagram from the application's UDP socket (bound to `local`) to `dest`.
pub fn send_to(
    app: &Rc<Socket>,
    local: SocketAddr,
    dest: SocketAddr,
    data: &[u8],
) -> Result<usize, i32> {
    with(|p| {
        let h = p.udp_socket(app, local.port())?;
        let s = p.sockets.get_mut::<udp::Socket>(h);
        let to = IpEndpoint::new(inet::canonical(dest.ip()).into(), dest.port());
        match s.send_slice(data, to) {
            Ok(()) => {}
            Err(udp::SendError::BufferFull) => return Err(libc::EAGAIN),
            Err(udp::SendError::Unaddressable) => return Err(libc::ENETUNREACH),
        }
        p.dirty = true;
        Ok(data.len())
    })
    .unwrap_or(Err(libc::ENETUNREACH))
}

/// A UDP socket bound on the interface (or the wildcard) receives from it.
pub fn udp_bound(app: &Rc<Socket>, local: SocketAddr) {
    with(|p| {
        if p.serves(local.ip()) {
            let _ = p.udp_socket(app, local.port());
        }
    });
}

impl Pod {
    fn udp_socket(&mut self, app: &Rc<Socket>, port: u16) -> Result<SocketHandle, i32> {
        let mut errors = None;
        if let Some(old) = self.udp.get(&port) {
            if std::ptr::eq(old.app.as_ptr(), Rc::as_ptr(app)) {
                return Ok(old.handle);
            }
            if old.app.strong_count() > 0 {
                // SO_REUSEPORT siblings: the first bound socket receives.
                return Ok(old.handle);
            }
            // The port's errors are the port's, whichever socket holds it now.
            errors = old.errors;
            self.sockets.remove(old.handle);
        }
        let mut s = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0u8; 256 * 1024]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0u8; 256 * 1024]),
        );
        s.bind(port).map_err(|_| libc::EINVAL)?;
        let handle = self.sockets.add(s);
        if errors.is_none() {
            let mut e = icmp::Socket::new(
                icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0u8; 2048]),
                icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 1], vec![0u8; 64]),
            );
            let listen = smoltcp::wire::IpListenEndpoint::from(port);
            if e.bind(icmp::Endpoint::Udp(listen)).is_ok() {
                errors = Some(self.sockets.add(e));
            }
        }
        self.udp.insert(
            port,
            UdpPort {
                handle,
                app: Rc::downgrade(app),
                errors,
            },
        );
        Ok(handle)
    }
}

/// Sends a ping socket's echo request (identifier in place, checksum filled) to `dest`: the
/// replies with the identifier come back to `app`. EAGAIN when the socket's queue is full.
pub fn ping(app: &Rc<Socket>, ident: u16, dest: IpAddr, msg: &[u8]) -> Result<(), i32> {
    with(|p| {
        let h = p.icmp_socket(app, dest.is_ipv6(), ident)?;
        let s = p.sockets.get_mut::<icmp::Socket>(h);
        match s.send_slice(msg, dest.into()) {
            Ok(()) => {}
            Err(icmp::SendError::BufferFull) => return Err(libc::EAGAIN),
            Err(icmp::SendError::Unaddressable) => return Err(libc::ENETUNREACH),
        }
        p.dirty = true;
        Ok(())
    })
    .unwrap_or(Err(libc::ENETUNREACH))
}

impl Pod {
    /// The smoltcp ICMP socket of a ping socket's identifier, made at its first send.
    fn icmp_socket(&mut self, app: &Rc<Socket>, v6: bool, ident: u16) -> Result<SocketHandle, i32> {
        if let Some((h, owner)) = self.icmp.get(&(v6, ident)) {
            if owner.strong_count() > 0 {
                // The first socket on an identifier receives (SO_REUSEADDR siblings share it).
                return Ok(*h);
            }
            self.sockets.remove(*h);
        }
        let buf = || {
            icmp::PacketBuffer::new(
                vec![icmp::PacketMetadata::EMPTY; ICMP_PACKETS],
                vec![0u8; ICMP_BYTES],
            )
        };
        let mut s = icmp::Socket::new(buf(), buf());
        s.bind(icmp::Endpoint::Ident(ident))
            .map_err(|_| libc::EINVAL)?;
        let h = self.sockets.add(s);
        self.icmp.insert((v6, ident), (h, Rc::downgrade(app)));
        Ok(h)
    }
}
