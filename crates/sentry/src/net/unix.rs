//! Unix domain sockets, entirely inside the sentry: stream, datagram and seqpacket sockets,
//! socketpair, names in the rootfs (a socket inode the sentry makes beneath the root, found
//! again by its device and inode) and in the abstract namespace, listen/accept/connect,
//! shutdown, messages with descriptors (SCM_RIGHTS) and credentials (SCM_CREDENTIALS).
//!
//! Each socket is one object shared by the open file descriptions that name it. A connected
//! pair holds each other weakly: the end whose last description goes tells its peer (EOF, EPIPE)
//! from Drop. What a socket receives waits in its own queue; a sender is held back by the room
//! left there (its send buffer's worth). Operations answer EAGAIN where a blocking caller must
//! wait; the system call layer (syscalls/socket.rs) turns that into a wait or the errno.

use crate::kernel::wait;
use crate::mm::Errno;
use crate::vfs::FileRef;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

/// Linux's default socket buffer sizes (net.core.wmem_default and rmem_default).
pub const DEFAULT_BUF: usize = 212_992;
/// How many datagrams may wait in a receiver's queue (net.unix.max_dgram_qlen).
const MAX_DGRAM_QLEN: usize = 512;
/// SOMAXCONN: the largest listen backlog.
const SOMAXCONN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Dgram,
    SeqPacket,
    /// An ICMP echo ("ping") socket of AF_INET or AF_INET6 (net/ping.rs): datagrams whose
    /// "port" is the echo identifier.
    Ping,
}

impl Kind {
    pub fn from_type(t: i32) -> Option<Kind> {
        match t {
            libc::SOCK_STREAM => Some(Kind::Stream),
            libc::SOCK_DGRAM => Some(Kind::Dgram),
            libc::SOCK_SEQPACKET => Some(Kind::SeqPacket),
            _ => None,
        }
    }

    pub fn to_type(self) -> i32 {
        match self {
            Kind::Stream => libc::SOCK_STREAM,
            Kind::Dgram | Kind::Ping => libc::SOCK_DGRAM,
            Kind::SeqPacket => libc::SOCK_SEQPACKET,
        }
    }

    fn connection(self) -> bool {
        matches!(self, Kind::Stream | Kind::SeqPacket)
    }
}

/// A socket's name: a path in the rootfs (as given to bind, and the socket inode's device
/// and inode, by which connect finds it) or an abstract name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Path(Vec<u8>, (u64, u64)),
    Abstract(Vec<u8>),
    /// An IP socket's address (net/inet.rs keeps those names).
    Inet(std::net::SocketAddr),
    /// A netlink socket's port id (0: the kernel, here the sentry).
    Netlink(u32),
}

/// The key a bound unix name is registered by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Inode(u64, u64),
    Abstract(Vec<u8>),
}

impl Addr {
    /// Its key among unix names; IP and netlink names are not registered here.
    fn key(&self) -> Option<Key> {
        match self {
            Addr::Path(_, (dev, ino)) => Some(Key::Inode(*dev, *ino)),
            Addr::Abstract(name) => Some(Key::Abstract(name.clone())),
            Addr::Inet(_) | Addr::Netlink(_) => None,
        }
    }
}

/// SCM_CREDENTIALS and SO_PEERCRED: pid, uid, gid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// One message in a receive queue (for a stream socket, one write's bytes).
pub struct Msg {
    pub data: Vec<u8>,
    pub fds: Vec<FileRef>,
    pub cred: Cred,
    /// The sender's name (recvfrom's address), if it had one.
    pub from: Option<Addr>,
}

/// What a receive took.
pub struct Received {
    pub data: Vec<u8>,
    /// The message's whole length (datagrams and packets: more than `data` when truncated).
    pub len: usize,
    pub fds: Vec<FileRef>,
    pub cred: Option<Cred>,
    pub from: Option<Addr>,
}

thread_local! {
    /// Bound names: the socket each names, while it lives.
    static BOUND: RefCell<BTreeMap<Key, Weak<Socket>>> = const { RefCell::new(BTreeMap::new()) };
}

/// The live socket bound to `addr`.
pub fn lookup(addr: &Addr) -> Option<Rc<Socket>> {
    let key = addr.key()?;
    BOUND.with(|b| b.borrow().get(&key).and_then(Weak::upgrade))
}

/// Whether an abstract name is taken.
pub fn abstract_taken(name: &[u8]) -> bool {
    lookup(&Addr::Abstract(name.to_vec())).is_some()
}

#[derive(Default)]
struct Inner {
    name: Option<Addr>,
    /// The connected peer (a datagram socket's default destination).
    peer: Option<Weak<Socket>>,
    /// A connection-oriented socket was connected (its peer may be gone since).
    connected: bool,
    /// Listening: the backlog and the connections not yet accepted.
    listening: Option<(usize, VecDeque<Rc<Socket>>)>,
    rx: VecDeque<Msg>,
    rx_bytes: usize,
    /// Shut down for reading and writing by this end; `eof`: the peer will send no more.
    shut_rd: bool,
    shut_wr: bool,
    eof: bool,
    /// The peer's end went away (ECONNRESET for a datagram sender that was connected).
    peer_gone: bool,
    /// The application read the end of the stream (TCP's FIN is consumed then).
    eof_read: bool,
    passcred: bool,
    sndbuf: usize,
    rcvbuf: usize,
    /// SO_PEERCRED: the peer's credentials when the connection was made.
    peercred: Option<Cred>,
    /// The listener's credentials (what a connecting client's SO_PEERCRED shows).
    own: Cred,
    /// SO_ERROR: an error the socket has to report (a refused non-blocking connect).
    error: i32,
    /// A UDP socket's connected address (there may be no socket there yet); a TCP
    /// connection's other end, kept from when it was made.
    peer_addr: Option<Addr>,
    /// Options kept for getsockopt and the binding rules: (level, name) -> value.
    opts: BTreeMap<(i32, i32), i32>,
    /// SO_RCVTIMEO and SO_SNDTIMEO: how long a blocking receive or send waits.
    timeouts: [Option<std::time::Duration>; 2],
    /// SO_LINGER: on, with this many seconds. On with 0, a TCP socket's close is abortive:
    /// the peer is reset (RST) rather than told the end (FIN).
    linger: Option<u32>,
    /// The peer closed that way (the pod's stack then sends the RST), or the connection was
    /// reset or timed out from outside: it is no connection any more (getpeername).
    peer_aborted: bool,
    /// A non-blocking connect answered EINPROGRESS and no connect has told its end yet.
    in_progress: bool,
    /// A TCP connect through the pod's interface is under way (SYN sent).
    connecting: bool,
    /// Moved on every change: [0] for the reading side, [1] for the writing side.
    generation: [u64; 2],
}

pub struct Socket {
    pub kind: Kind,
    /// AF_UNIX, AF_INET or AF_INET6: what names look like, and the rules that differ
    /// (a datagram to nobody is refused between unix sockets, dropped between IP ones).
    pub family: i32,
    /// The inode number of its file (0 until a descriptor names it: a connection not yet
    /// accepted), for /proc/net.
    ino: std::cell::Cell<u64>,
    inner: RefCell<Inner>,
}

thread_local! {
    /// Every socket of the sandbox, for /proc/net.
    static ALL: RefCell<Vec<Weak<Socket>>> = const { RefCell::new(Vec::new()) };
}

/// The sandbox's sockets that still exist.
pub fn all() -> Vec<Rc<Socket>> {
    ALL.with(|a| {
        let mut a = a.borrow_mut();
        a.retain(|w| w.strong_count() > 0);
        a.iter().filter_map(Weak::upgrade).collect()
    })
}

/// What /proc/net shows of a socket.
pub struct Info {
    pub name: Option<Addr>,
    pub peer: Option<Addr>,
    pub listening: bool,
    /// Connections waiting to be accepted (a listener), bytes waiting to be read (others).
    pub queued: usize,
    pub connected: bool,
    /// The peer closed its end (CLOSE_WAIT).
    pub peer_gone: bool,
    /// The peer will send no more (its FIN, for TCP), and whether a read saw that end.
    pub eof: bool,
    pub eof_read: bool,
    pub uid: u32,
    pub ino: u64,
    /// The listen backlog (sock_diag's Send-Q of a listener).
    pub backlog: usize,
    /// The connected peer's inode number, while the peer exists.
    pub peer_ino: Option<u64>,
    /// Linux's sk_shutdown: 1 no more to receive (shut down for reading, or the peer ended
    /// its writing side), 2 no more to send.
    pub shutdown: u8,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        // SO_LINGER 0, or data left unread: TCP's close resets the peer (as Linux's).
        let abort = self.family != libc::AF_UNIX
            && self.kind == Kind::Stream
            && (inner.linger == Some(0) || !inner.rx.is_empty());
        if let Some(peer) = inner.peer.take().and_then(|p| p.upgrade()) {
            if self.kind.connection() {
                let mut p = peer.inner.borrow_mut();
                p.eof = true;
                p.peer_gone = true;
                if abort {
                    p.error = libc::ECONNRESET;
                    p.peer_aborted = true;
                }
                p.generation[0] += 1;
                p.generation[1] += 1;
            }
        }
        wait::poke();
    }
}

impl Socket {
    pub fn new(kind: Kind, own: Cred) -> Rc<Socket> {
        Socket::of_family(libc::AF_UNIX, kind, own)
    }

    pub fn of_family(family: i32, kind: Kind, own: Cred) -> Rc<Socket> {
        let s = Rc::new(Socket {
            kind,
            family,
            ino: std::cell::Cell::new(0),
            inner: RefCell::new(Inner {
                sndbuf: DEFAULT_BUF,
                rcvbuf: DEFAULT_BUF,
                own,
                ..Default::default()
            }),
        });
        ALL.with(|a| a.borrow_mut().push(Rc::downgrade(&s)));
        s
    }

    pub fn set_ino(&self, ino: u64) {
        self.ino.set(ino);
    }

    /// What /proc/net shows of it.
    pub fn info(&self) -> Info {
        let i = self.inner.borrow();
        let peer_sock = i.peer.as_ref().and_then(Weak::upgrade);
        let peer = i
            .peer_addr
            .clone()
            .or_else(|| peer_sock.as_ref().and_then(|p| p.name()));
        Info {
            name: i.name.clone(),
            peer,
            listening: i.listening.is_some(),
            queued: match &i.listening {
                Some((_, pending)) => pending.len(),
                None => i.rx_bytes,
            },
            connected: i.connected,
            peer_gone: i.peer_gone,
            eof: i.eof,
            eof_read: i.eof_read,
            uid: i.own.uid,
            ino: self.ino.get(),
            backlog: i.listening.as_ref().map_or(0, |(b, _)| *b),
            peer_ino: peer_sock.map(|p| p.ino.get()),
            shutdown: u8::from(i.shut_rd || i.eof) | u8::from(i.shut_wr) << 1,
        }
    }

    /// socketpair: two connected sockets, each with the creator's credentials as peer's.
    pub fn pair(kind: Kind, cred: Cred) -> (Rc<Socket>, Rc<Socket>) {
        let (a, b) = (Socket::new(kind, cred), Socket::new(kind, cred));
        Socket::join(&a, &b, cred, cred);
        (a, b)
    }

    /// Makes `a` and `b` each other's peer; `a` sees `b_cred` as its peer's credentials.
    fn join(a: &Rc<Socket>, b: &Rc<Socket>, a_peer: Cred, b_peer: Cred) {
        for (x, y, cred) in [(a, b, a_peer), (b, a, b_peer)] {
            let mut i = x.inner.borrow_mut();
            i.peer = Some(Rc::downgrade(y));
            i.connected = true;
            i.peercred = Some(cred);
            i.generation[1] += 1;
        }
        wait::poke();
    }

    /// Joins an application's socket with the stack's wire socket of a connection over the
    /// pod's interface (net/pod.rs), once the connection is established.
    pub fn join_wire(app: &Rc<Socket>, wire: &Rc<Socket>, wire_cred: Cred) {
        let own = app.inner.borrow().own;
        Socket::join(app, wire, wire_cred, own);
    }

    /// The connected peer's end went away (the application closed its socket).
    pub fn peer_closed(&self) -> bool {
        self.inner.borrow().peer_gone
    }

    /// The peer's close was abortive (SO_LINGER on with 0 seconds).
    pub fn peer_aborted(&self) -> bool {
        self.inner.borrow().peer_aborted
    }

    /// SO_LINGER: on, with its seconds.
    pub fn linger(&self) -> Option<u32> {
        self.inner.borrow().linger
    }

    pub fn set_linger(&self, l: Option<u32>) {
        self.inner.borrow_mut().linger = l;
    }

    /// The connection was reset: the peer sees `e` (ECONNRESET) and then EOF.
    pub fn reset_peer(&self, e: i32) {
        if let Some(p) = self.peer() {
            {
                let mut i = p.inner.borrow_mut();
                i.eof = true;
                i.peer_aborted = true;
            }
            p.set_error(e);
        }
    }

    /// Bytes a datagram may still take in this socket's queue.
    pub fn room(&self) -> usize {
        let i = self.inner.borrow();
        i.rcvbuf.saturating_sub(i.rx_bytes)
    }

    pub fn name(&self) -> Option<Addr> {
        self.inner.borrow().name.clone()
    }

    /// The other end's name: the address a datagram socket connected to or a TCP
    /// connection's other end (kept), else the connected peer's name; ENOTCONN with neither.
    pub fn peer_name(&self) -> Result<Option<Addr>, Errno> {
        if let Some(a) = self.peer_addr() {
            return Ok(Some(a));
        }
        let peer = self.peer().ok_or(libc::ENOTCONN)?;
        Ok(peer.name())
    }

    /// The connected peer, while it lives (a wire socket's: the application's socket).
    pub fn peer(&self) -> Option<Rc<Socket>> {
        self.inner.borrow().peer.as_ref().and_then(Weak::upgrade)
    }

    /// bind to `addr` (a path's socket inode was made by the caller): EINVAL when bound
    /// already, EADDRINUSE when another socket has the name.
    pub fn bind(self: &Rc<Self>, addr: Addr) -> Result<(), Errno> {
        let key = addr.key().ok_or(libc::EINVAL)?;
        if self.inner.borrow().name.is_some() {
            return Err(libc::EINVAL);
        }
        // A path's inode was just made for this bind: a socket still keyed by its (device,
        // inode) was bound to a file since removed whose inode number the filesystem gave
        // again; that socket keeps its name but no path leads to it any more, as on Linux.
        if !matches!(addr, Addr::Path(..)) && lookup(&addr).is_some() {
            return Err(libc::EADDRINUSE);
        }
        BOUND.with(|b| {
            let mut b = b.borrow_mut();
            b.retain(|_, w| w.strong_count() > 0);
            b.insert(key, Rc::downgrade(self));
        });
        self.inner.borrow_mut().name = Some(addr);
        Ok(())
    }

    /// Names an IP socket (net/inet.rs keeps the port registry).
    pub fn set_name(&self, addr: Addr) {
        self.inner.borrow_mut().name = Some(addr);
    }

    /// A UDP socket's connected address; a TCP connection's other end.
    pub fn peer_addr(&self) -> Option<Addr> {
        self.inner.borrow().peer_addr.clone()
    }

    pub fn set_peer_addr(&self, a: Option<Addr>) {
        let mut i = self.inner.borrow_mut();
        i.peer_addr = a;
        i.generation[1] += 1;
    }

    /// connect(AF_UNSPEC) of a datagram socket: no peer any more (its name stays).
    pub fn dissolve(&self) {
        let mut i = self.inner.borrow_mut();
        i.peer_addr = None;
        i.peer = None;
        i.generation[1] += 1;
    }

    /// Whether a datagram from `from` reaches this socket (a connected UDP socket takes only
    /// its peer's).
    pub fn accepts_from(&self, from: Option<&Addr>) -> bool {
        match &self.inner.borrow().peer_addr {
            Some(p) => Some(p) == from,
            None => true,
        }
    }

    /// SO_SNDTIMEO (`send`) or SO_RCVTIMEO; None waits without end.
    pub fn timeout(&self, send: bool) -> Option<std::time::Duration> {
        self.inner.borrow().timeouts[usize::from(send)]
    }

    pub fn set_timeout(&self, send: bool, d: Option<std::time::Duration>) {
        self.inner.borrow_mut().timeouts[usize::from(send)] = d;
    }

    /// An option's value (what setsockopt stored), if any.
    pub fn opt(&self, level: i32, name: i32) -> Option<i32> {
        self.inner.borrow().opts.get(&(level, name)).copied()
    }

    pub fn set_opt(&self, level: i32, name: i32, v: i32) {
        self.inner.borrow_mut().opts.insert((level, name), v);
    }

    /// Queues `msg` for this socket itself (a netlink socket's answers from the sentry).
    pub fn deliver(&self, msg: Msg) {
        let mut i = self.inner.borrow_mut();
        i.rx_bytes += msg.data.len();
        i.rx.push_back(msg);
        i.generation[0] += 1;
        wait::poke();
    }

    /// A UDP socket (IPv4 or IPv6 datagram).
    pub fn is_udp(&self) -> bool {
        self.kind == Kind::Dgram && matches!(self.family, libc::AF_INET | libc::AF_INET6)
    }

    /// Whether a TCP connect through the pod's interface is under way.
    pub fn set_connecting(&self, on: bool) {
        let mut i = self.inner.borrow_mut();
        i.connecting = on;
        i.generation[1] += 1;
    }

    /// A non-blocking connect answered EINPROGRESS (see `take_in_progress`).
    pub fn set_in_progress(&self) {
        self.inner.borrow_mut().in_progress = true;
    }

    /// Whether a non-blocking connect is still to be told its end by a connect.
    pub fn take_in_progress(&self) -> bool {
        std::mem::take(&mut self.inner.borrow_mut().in_progress)
    }

    /// SO_ERROR: the pending error, cleared by reading it.
    pub fn take_error(&self) -> i32 {
        std::mem::take(&mut self.inner.borrow_mut().error)
    }

    /// A non-blocking connect was refused: the socket reports it (POLLERR, SO_ERROR).
    pub fn set_error(&self, e: i32) {
        let mut i = self.inner.borrow_mut();
        i.error = e;
        i.generation[0] += 1;
        i.generation[1] += 1;
        wait::poke();
    }

    pub fn is_bound(&self) -> bool {
        self.inner.borrow().name.is_some()
    }

    /// listen: EOPNOTSUPP for datagrams, EINVAL unbound or connected.
    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        if !self.kind.connection() {
            return Err(libc::EOPNOTSUPP);
        }
        let mut i = self.inner.borrow_mut();
        if i.name.is_none() || i.connected {
            return Err(libc::EINVAL);
        }
        let max = (backlog.max(0) as usize).min(SOMAXCONN);
        match &mut i.listening {
            Some((b, _)) => *b = max,
            None => i.listening = Some((max, VecDeque::new())),
        }
        Ok(())
    }

    pub fn is_listening(&self) -> bool {
        self.inner.borrow().listening.is_some()
    }

    /// connect to the socket `to`, as a client with credentials `cred`. A connection-oriented
    /// socket gets a new peer in `to`'s backlog (EAGAIN while the backlog is full); a datagram
    /// socket takes `to` as its destination.
    pub fn connect(self: &Rc<Self>, to: &Rc<Socket>, cred: Cred) -> Result<(), Errno> {
        self.connect_as(to, cred, None)
    }

    /// connect, the accepted end named `local` (an IP listener's wildcard address becomes the
    /// address the client connected to) rather than by the listener's name.
    pub fn connect_as(
        self: &Rc<Self>,
        to: &Rc<Socket>,
        cred: Cred,
        local: Option<Addr>,
    ) -> Result<(), Errno> {
        if to.kind != self.kind {
            return Err(libc::EPROTOTYPE);
        }
        if !self.kind.connection() {
            let mut i = self.inner.borrow_mut();
            i.peer = Some(Rc::downgrade(to));
            i.peer_gone = false;
            i.generation[1] += 1;
            return Ok(());
        }
        {
            let i = self.inner.borrow();
            if i.listening.is_some() {
                return Err(libc::EINVAL);
            }
            if i.connected {
                return Err(libc::EISCONN);
            }
        }
        let server_cred = to.inner.borrow().own;
        let mut t = to.inner.borrow_mut();
        let name = t.name.clone();
        let (opts, linger, timeouts, bufs) =
            (t.opts.clone(), t.linger, t.timeouts, (t.sndbuf, t.rcvbuf));
        let Some((backlog, pending)) = t.listening.as_mut() else {
            return Err(libc::ECONNREFUSED);
        };
        // Linux lets one more than the backlog wait.
        if pending.len() > *backlog {
            return Err(libc::EAGAIN);
        }
        let accepted = Socket::of_family(to.family, self.kind, server_cred);
        let accepted_name = local.or(name);
        accepted.inner.borrow_mut().name = accepted_name.clone();
        let ip = to.family != libc::AF_UNIX;
        if ip {
            // As Linux's clone of a TCP listener: its options, linger, buffers and timeouts.
            let mut a = accepted.inner.borrow_mut();
            a.opts = opts;
            a.linger = linger;
            a.timeouts = timeouts;
            (a.sndbuf, a.rcvbuf) = bufs;
            // Each end names the other after it is gone too (a client that closed before
            // its connection was accepted), as a TCP connection keeps its addresses.
            a.peer_addr = self.name();
        }
        pending.push_back(accepted.clone());
        t.generation[0] += 1;
        drop(t);
        Socket::join(self, &accepted, server_cred, cred);
        if ip {
            self.inner.borrow_mut().peer_addr = accepted_name;
        }
        Ok(())
    }

    /// accept: the oldest waiting connection; EAGAIN when none, EINVAL when not listening.
    pub fn accept(&self) -> Result<Rc<Socket>, Errno> {
        // A socket without connections (UDP, ping, unix datagram, netlink) cannot take one.
        if matches!(self.kind, Kind::Dgram | Kind::Ping) {
            return Err(libc::EOPNOTSUPP);
        }
        let mut i = self.inner.borrow_mut();
        let (_, pending) = i.listening.as_mut().ok_or(libc::EINVAL)?;
        let s = pending.pop_front().ok_or(libc::EAGAIN)?;
        wait::poke();
        Ok(s)
    }

    /// shutdown: SHUT_RD, SHUT_WR or both; the peer of a connection sees EOF after SHUT_WR.
    pub fn shutdown(&self, how: i32) -> Result<(), Errno> {
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(libc::EINVAL),
        };
        // An unconnected IP datagram socket is shut down all the same (a thread blocked in
        // its recv wakes) but answers ENOTCONN, as Linux's does.
        let unconnected_ip_dgram = self.family != libc::AF_UNIX
            && !self.kind.connection()
            && self.inner.borrow().peer_addr.is_none();
        let peer = {
            let mut i = self.inner.borrow_mut();
            // A TCP listener shut for reading stops listening (its waiting connections are
            // dropped) and may listen or connect again, as Linux's; SHUT_WR alone does
            // nothing to it. A unix listener keeps listening.
            if i.listening.is_some() {
                if self.family != libc::AF_UNIX {
                    if rd {
                        i.listening = None;
                    }
                } else {
                    (i.shut_rd, i.shut_wr) = (i.shut_rd | rd, i.shut_wr | wr);
                }
                i.generation[0] += 1;
                drop(i);
                wait::poke();
                return Ok(());
            }
            if self.kind.connection() && !i.connected {
                return Err(libc::ENOTCONN);
            }
            i.shut_rd |= rd;
            i.shut_wr |= wr;
            i.generation[0] += 1;
            i.generation[1] += 1;
            i.peer.as_ref().and_then(Weak::upgrade)
        };
        if let Some(p) = peer.filter(|_| self.kind.connection()) {
            let mut p = p.inner.borrow_mut();
            if wr {
                p.eof = true;
            }
            p.generation[0] += 1;
            p.generation[1] += 1;
        }
        wait::poke();
        if unconnected_ip_dgram {
            return Err(libc::ENOTCONN);
        }
        Ok(())
    }

    /// Sends `msg` (to `to`, or the connected peer). A stream takes what fits of it (EAGAIN
    /// when nothing does); a packet or datagram goes whole or not at all (EMSGSIZE when it
    /// could never fit). EPIPE for a connection whose writing side or peer is gone.
    pub fn send(&self, mut msg: Msg, to: Option<Rc<Socket>>) -> Result<usize, Errno> {
        if self.inner.borrow().shut_wr {
            return Err(libc::EPIPE);
        }
        let target = match (self.kind.connection(), to) {
            (true, Some(_)) => return Err(libc::EISCONN),
            (true, None) => {
                let i = self.inner.borrow();
                if !i.connected {
                    return Err(libc::ENOTCONN);
                }
                drop(i);
                self.peer().ok_or(libc::EPIPE)?
            }
            (false, Some(t)) => t,
            (false, None) => match self.peer() {
                Some(p) => p,
                None if self.inner.borrow().peer.is_some() => return Err(libc::ECONNREFUSED),
                None => return Err(libc::ENOTCONN),
            },
        };
        let sndbuf = self.inner.borrow().sndbuf;
        if !self.kind.connection() {
            // A datagram socket connected to another takes datagrams only from that one: a
            // unix sender is refused, an IP one's datagram is dropped (UDP).
            let theirs = target.inner.borrow().peer.clone();
            if let Some(p) = theirs.and_then(|w| w.upgrade()) {
                if !std::ptr::eq(Rc::as_ptr(&p), self) {
                    return if self.family == libc::AF_UNIX {
                        Err(libc::EPERM)
                    } else {
                        Ok(msg.data.len())
                    };
                }
            }
        }
        let mut t = target.inner.borrow_mut();
        // A unix peer's SHUT_RD shuts this side's sending (Linux's unix_shutdown); a TCP
        // peer's tells nothing, and what is sent still arrives.
        if self.kind.connection() && t.shut_rd && self.family == libc::AF_UNIX {
            return Err(libc::EPIPE);
        }
        let len = msg.data.len();
        if self.kind != Kind::Stream && len > sndbuf.max(t.rcvbuf) {
            return Err(libc::EMSGSIZE);
        }
        let room = sndbuf.saturating_sub(t.rx_bytes);
        let n = match self.kind {
            Kind::Stream if room == 0 && len > 0 => return Err(libc::EAGAIN),
            Kind::Stream => room.min(len),
            Kind::Dgram if t.rx.len() >= MAX_DGRAM_QLEN || (room < len && !t.rx.is_empty()) => {
                // UDP drops what the receiver has no room for, as Linux does: its sender never
                // waits for a reader. A unix sender waits (EAGAIN).
                return if self.is_udp() {
                    Ok(len)
                } else {
                    Err(libc::EAGAIN)
                };
            }
            Kind::SeqPacket if room < len && !t.rx.is_empty() => return Err(libc::EAGAIN),
            _ => len,
        };
        msg.data.truncate(n);
        if self.kind == Kind::Stream && n == 0 && msg.fds.is_empty() {
            return Ok(0);
        }
        t.rx_bytes += n;
        t.rx.push_back(msg);
        t.generation[0] += 1;
        wait::poke();
        Ok(n)
    }

    /// Receives up to `max` bytes (`peek`: leaving them queued). A stream gathers from
    /// successive writes, but not past descriptors (a write that carried some ends a read, and
    /// one that carries some starts only an empty one); a packet or datagram is one message,
    /// its rest discarded. Ok with no data at EOF; EAGAIN when it would wait.
    pub fn recv(&self, max: usize, peek: bool) -> Result<Received, Errno> {
        let mut i = self.inner.borrow_mut();
        if i.listening.is_some() {
            // As Linux: EINVAL from a unix listener, ENOTCONN from a TCP one.
            return Err(if self.family == libc::AF_UNIX {
                libc::EINVAL
            } else {
                libc::ENOTCONN
            });
        }
        let passcred = i.passcred;
        let reported = if self.is_udp() {
            // An ICMP error (a connected UDP socket's datagram refused) comes before any
            // datagram queued.
            i.error != 0
        } else {
            i.rx.is_empty() && i.error != 0 && self.kind.connection() && i.connected
        };
        if reported {
            // A reset connection reports its error once, then EOF (Linux's sk_err).
            let e = std::mem::take(&mut i.error);
            i.generation[0] += 1;
            return Err(e);
        }
        if i.rx.is_empty() {
            let ended = i.eof || i.shut_rd || (self.kind.connection() && i.peer_gone);
            if ended && !peek {
                i.eof_read = true;
            }
            return if ended {
                Ok(Received {
                    data: Vec::new(),
                    len: 0,
                    fds: Vec::new(),
                    cred: None,
                    from: None,
                })
            } else if self.kind.connection() && !i.connected {
                // Linux: a unix stream socket's receive before a connection is EINVAL.
                Err(
                    if self.family == libc::AF_UNIX && self.kind == Kind::Stream {
                        libc::EINVAL
                    } else {
                        libc::ENOTCONN
                    },
                )
            } else {
                Err(libc::EAGAIN)
            };
        }
        if self.kind != Kind::Stream {
            let m = if peek {
                let m = &i.rx[0];
                Msg {
                    data: m.data.clone(),
                    fds: Vec::new(),
                    cred: m.cred,
                    from: m.from.clone(),
                }
            } else {
                let m = i.rx.pop_front().ok_or(libc::EAGAIN)?;
                i.rx_bytes -= m.data.len();
                m
            };
            let len = m.data.len();
            let mut data = m.data;
            data.truncate(max);
            i.generation[1] += 1;
            drop(i);
            self.room_made(peek);
            return Ok(Received {
                data,
                len,
                fds: m.fds,
                cred: passcred.then_some(m.cred),
                from: m.from,
            });
        }
        let mut out = Received {
            data: Vec::new(),
            len: 0,
            fds: Vec::new(),
            cred: None,
            from: None,
        };
        let mut at = 0;
        while out.data.len() < max && at < i.rx.len() {
            if !out.data.is_empty() && (!i.rx[at].fds.is_empty() || !out.fds.is_empty()) {
                break;
            }
            if passcred && out.cred.is_some_and(|c| c != i.rx[at].cred) {
                break;
            }
            let want = max - out.data.len();
            let m = &mut i.rx[at];
            out.cred = Some(m.cred);
            let n = want.min(m.data.len());
            out.data.extend_from_slice(&m.data[..n]);
            if peek {
                at += 1;
                continue;
            }
            out.fds.append(&mut m.fds);
            m.data.drain(..n);
            if m.data.is_empty() {
                i.rx.pop_front();
            }
            i.rx_bytes -= n;
            if !out.fds.is_empty() {
                break;
            }
        }
        out.len = out.data.len();
        if !passcred {
            out.cred = None;
        }
        if !peek {
            i.generation[1] += 1;
        }
        drop(i);
        self.room_made(peek);
        Ok(out)
    }

    /// Room appeared in this socket's queue: its senders may go on.
    fn room_made(&self, peek: bool) {
        if peek {
            return;
        }
        if let Some(p) = self.peer() {
            p.inner.borrow_mut().generation[1] += 1;
        }
        wait::poke();
    }

    /// poll's events.
    pub fn ready(&self) -> u32 {
        let i = self.inner.borrow();
        let mut ev = 0u32;
        if let Some((_, pending)) = &i.listening {
            if !pending.is_empty() {
                ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
            }
            return ev;
        }
        if !i.rx.is_empty() {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32;
        }
        let udp = self.is_udp();
        // Room to write: Linux adds POLLWRBAND for every socket but TCP's.
        let out = if self.family != libc::AF_UNIX && self.kind == Kind::Stream {
            (libc::POLLOUT | libc::POLLWRNORM) as u32
        } else {
            (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) as u32
        };
        if i.error != 0 && udp {
            // A refused datagram: an error to report, the socket still writable.
            return ev | libc::POLLERR as u32 | out;
        }
        if i.error != 0 {
            // A refused connect: error and hang-up, both sides shut (so readable too), and the
            // write side "ready" to report it.
            let shut = (libc::POLLIN | libc::POLLRDNORM) as u32 | RDHUP;
            return ev | (libc::POLLERR | libc::POLLHUP) as u32 | shut | out;
        }
        if i.eof || i.shut_rd || (self.kind.connection() && i.peer_gone) {
            ev |= (libc::POLLIN | libc::POLLRDNORM) as u32 | RDHUP;
        }
        let hangup = (i.shut_rd && i.shut_wr) || (self.kind.connection() && i.peer_gone);
        if hangup {
            ev |= libc::POLLHUP as u32;
        }
        let writable = match i.peer.as_ref().and_then(Weak::upgrade) {
            // A UDP sender never waits for its receiver (what does not fit is dropped).
            Some(_) if udp => true,
            Some(p) => {
                let p = p.inner.borrow();
                i.sndbuf.saturating_sub(p.rx_bytes) >= i.sndbuf / 4
                    && (self.kind.connection() || p.rx.len() < MAX_DGRAM_QLEN)
            }
            // An unconnected datagram socket, or a connection whose peer is gone (the write
            // then fails at once): writable.
            None => !self.kind.connection() || i.peer_gone,
        };
        // As Linux: room to write is reported whatever the shutdown state (a write then
        // answers EPIPE at once).
        if writable && (i.connected || !self.kind.connection()) {
            ev |= out;
        }
        // A TCP socket that is not connected, connecting or listening is closed to Linux's
        // poll: hung up, and "writable" (a send then fails at once).
        let tcp = self.family != libc::AF_UNIX && self.kind == Kind::Stream;
        if tcp && !i.connected && !i.connecting {
            ev |= libc::POLLHUP as u32 | out;
        }
        ev
    }

    pub fn generation(&self) -> [u64; 2] {
        self.inner.borrow().generation
    }

    /// Bytes waiting to be read (FIONREAD: a datagram socket's next message).
    pub fn queued(&self) -> usize {
        let i = self.inner.borrow();
        match self.kind {
            Kind::Stream => i.rx_bytes,
            _ => i.rx.front().map_or(0, |m| m.data.len()),
        }
    }

    pub fn peercred(&self) -> Option<Cred> {
        self.inner.borrow().peercred
    }

    /// Socket options kept per socket: SO_PASSCRED, SO_SNDBUF, SO_RCVBUF.
    pub fn set_passcred(&self, on: bool) {
        self.inner.borrow_mut().passcred = on;
    }

    pub fn passcred(&self) -> bool {
        self.inner.borrow().passcred
    }

    /// SO_SNDBUF / SO_RCVBUF: Linux doubles the value asked for (its bookkeeping), within
    /// its limits; returns nothing, getsockopt reads the doubled value.
    pub fn set_buf(&self, send: bool, want: usize) {
        // Linux doubles the value (for its bookkeeping), up to twice the maximum and at least
        // SOCK_MIN_SNDBUF or SOCK_MIN_RCVBUF.
        let least = if send { 4608 } else { 2304 };
        let v = (want.min(DEFAULT_BUF) * 2).max(least);
        let mut i = self.inner.borrow_mut();
        if send {
            i.sndbuf = v;
        } else {
            i.rcvbuf = v;
        }
        i.generation[1] += 1;
        wait::poke();
    }

    pub fn buf(&self, send: bool) -> usize {
        let i = self.inner.borrow();
        if send {
            i.sndbuf
        } else {
            i.rcvbuf
        }
    }

    /// Whether a connection-oriented socket is connected (SO_ACCEPTCONN's opposite, and
    /// getpeername's condition).
    pub fn connected(&self) -> bool {
        self.inner.borrow().connected
    }
}

/// EPOLLRDHUP (POLLRDHUP).
pub const RDHUP: u32 = 0x2000;
