//! Sockets: socket, socketpair, bind, listen, accept, connect, the send and receive families,
//! shutdown, names and options. Unix domain sockets are the sentry's own (net/unix.rs); the
//! other families answer EAFNOSUPPORT until the sentry's network stack serves them.

use super::sockaddr::{self, Name, Unnamed};
use super::*;
use crate::kernel::creds::CAP_SETUID;
use crate::kernel::creds::{CAP_NET_BIND_SERVICE, CAP_SETGID};
use crate::kernel::wait::Wait;
use crate::net::inet;
use crate::net::unix::{self, Addr, Cred, Kind, Msg, Socket};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::rc::Rc;

const MSG_PEEK: i32 = libc::MSG_PEEK;
const MSG_DONTWAIT: i32 = libc::MSG_DONTWAIT;
const MSG_WAITALL: i32 = libc::MSG_WAITALL;
const MSG_TRUNC: i32 = libc::MSG_TRUNC;
const MSG_CTRUNC: i32 = libc::MSG_CTRUNC;
const MSG_NOSIGNAL: i32 = libc::MSG_NOSIGNAL;
const MSG_OOB: i32 = libc::MSG_OOB;
const MSG_CMSG_CLOEXEC: i32 = libc::MSG_CMSG_CLOEXEC;
/// The most descriptors one SCM_RIGHTS message carries (Linux's SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;
const CAP_SYS_ADMIN: u32 = 21;

/// A new socket's open file description, with an inode number of its own (fstat,
/// /proc/PID/fd's "socket:[N]").
fn socket_file(s: Rc<Socket>, flags: i32) -> crate::vfs::FileRef {
    thread_local! {
        static NEXT_INO: std::cell::Cell<u64> = const { std::cell::Cell::new(20000) };
    }
    let ino = NEXT_INO.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    s.set_ino(ino);
    crate::vfs::wrap(
        Node::Socket(s, ino),
        O_RDWR | flags,
        &format!("socket:[{ino}]"),
    )
}

/// A socket and whether the description it was reached by is non-blocking.
type Sock = (Rc<Socket>, bool);

/// The socket `fd` names, and whether its description is non-blocking.
pub(super) fn sock(t: &Task, fd: i32) -> Result<Sock, Errno> {
    let f = t.fds.get(fd)?;
    let of = f.borrow();
    match &of.node {
        Node::Socket(s, _) => Ok((s.clone(), of.flags & O_NONBLOCK != 0)),
        _ => Err(ENOTSOCK),
    }
}

/// close. The last descriptor of a TCP socket connected through the pod's interface with
/// SO_LINGER on for some seconds waits, as Linux's close does, until what it had sent and its
/// FIN are acknowledged or that time has passed; it answers 0 either way (and EINTR if a
/// signal without SA_RESTART cuts the wait short, the descriptor closed all the same).
pub(super) fn close(t: &mut Task, fd: i32) -> R {
    if let Some((closed, s)) = t.lingering.take() {
        // Served again while waiting (the descriptor is gone, unless the number was taken
        // again since: then this is another close).
        if closed == fd && t.fds.get(fd).is_err() {
            return linger(t, fd, s);
        }
    }
    let f = t.fds.get(fd)?;
    let lingers = match &f.borrow().node {
        // Only the last reference to the open socket: this table's entry and `f`.
        Node::Socket(s, _) if Rc::strong_count(&f) == 2 => {
            let secs = s.linger().unwrap_or(0);
            (secs > 0 && crate::net::pod::carries(s)).then(|| (s.clone(), secs))
        }
        _ => None,
    };
    drop(f);
    t.fds.close(fd)?;
    let Some((s, secs)) = lingers else {
        return Ok(0);
    };
    // What is queued goes out, then the FIN; the socket is kept until they are acknowledged.
    let _ = s.shutdown(SHUT_WR);
    t.deadline = Some(crate::kernel::wait::deadline_after(
        std::time::Duration::from_secs(u64::from(secs)),
    ));
    linger(t, fd, s)
}

/// A lingering close's wait: done when the pod's stack has its FIN acknowledged (or the
/// connection is gone), or at the deadline; the socket is released then.
fn linger(t: &mut Task, fd: i32, s: Rc<Socket>) -> R {
    let Some(at) = t.deadline else {
        return Ok(0);
    };
    if !crate::net::pod::lingering(&s) || std::time::Instant::now() >= at {
        return Ok(0);
    }
    t.lingering = Some((fd, s));
    Err(t.block(Wait {
        kind: crate::kernel::wait::WaitKind::Retry,
        deadline: Some((at, 0)),
        host_fds: Vec::new(),
    }))
}

/// A blocking socket call waits: until the socket changes, or, with SO_SNDTIMEO (`send`) or
/// SO_RCVTIMEO set, at most that long, the call then answering EAGAIN (or, for a stream
/// send or a MSG_WAITALL receive, what it did before it had to wait).
fn block(t: &mut Task, s: &Socket, send: bool) -> Errno {
    let Some(timeout) = s.timeout(send) else {
        return t.block(Wait::retry());
    };
    let at = *t
        .deadline
        .get_or_insert(crate::kernel::wait::deadline_after(timeout));
    let ret = if t.progress > 0 {
        t.progress as i64
    } else {
        -i64::from(EAGAIN)
    };
    t.block(Wait {
        kind: crate::kernel::wait::WaitKind::Retry,
        deadline: Some((at, ret)),
        host_fds: Vec::new(),
    })
}

/// The type argument's SOCK_NONBLOCK and SOCK_CLOEXEC as open flags, and the type itself.
fn type_flags(ty: i32) -> Result<(i32, i32), Errno> {
    let flags = ty & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    let base = ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
    let open = (if flags & SOCK_NONBLOCK != 0 {
        O_NONBLOCK
    } else {
        0
    }) | (if flags & SOCK_CLOEXEC != 0 {
        O_CLOEXEC
    } else {
        0
    });
    Ok((base, open))
}

/// The kind a socket() asks for: AF_UNIX's three types, TCP, UDP and ICMP echo ("ping",
/// net/ping.rs) over AF_INET and AF_INET6; other families EAFNOSUPPORT. Raw sockets are not
/// served: EPERM even with CAP_NET_RAW (iputils' ping uses ping sockets).
fn kind_of(t: &Task, domain: i32, base: i32, proto: i32) -> Result<Kind, Errno> {
    if domain == AF_NETLINK {
        // Route netlink (net/netlink.rs): what `ip` lists interfaces and addresses by; sock
        // diag (net/sockdiag.rs): what `ss` lists sockets by.
        return match (base, proto) {
            (SOCK_RAW | SOCK_DGRAM, NETLINK_ROUTE | NETLINK_SOCK_DIAG) => Ok(Kind::Dgram),
            (SOCK_RAW | SOCK_DGRAM, _) => Err(EPROTONOSUPPORT),
            _ => Err(ESOCKTNOSUPPORT),
        };
    }
    if domain == AF_INET || domain == AF_INET6 {
        return match (base, proto) {
            (SOCK_STREAM, 0 | IPPROTO_TCP) => Ok(Kind::Stream),
            (SOCK_DGRAM, 0 | IPPROTO_UDP) => Ok(Kind::Dgram),
            (SOCK_DGRAM, IPPROTO_ICMP) if domain == AF_INET => ping_kind(t),
            (SOCK_DGRAM, IPPROTO_ICMPV6) if domain == AF_INET6 => ping_kind(t),
            // Without CAP_NET_RAW as Linux; with it too, since the sentry makes no raw packets.
            (SOCK_RAW, _) => Err(EPERM),
            (SOCK_STREAM | SOCK_DGRAM, _) => Err(EPROTONOSUPPORT),
            (SOCK_SEQPACKET | SOCK_RDM, _) => Err(ESOCKTNOSUPPORT),
            _ => Err(EINVAL),
        };
    }
    // Packet sockets, as raw IP ones: EPERM without CAP_NET_RAW, as Linux; with it too.
    if domain == AF_PACKET {
        return Err(EPERM);
    }
    if domain != AF_UNIX {
        return Err(EAFNOSUPPORT);
    }
    let kind = match Kind::from_type(base) {
        Some(k) => k,
        // Linux takes SOCK_RAW as SOCK_DGRAM for unix sockets.
        None if base == SOCK_RAW => Kind::Dgram,
        None if base == SOCK_RDM => return Err(ESOCKTNOSUPPORT),
        None => return Err(EINVAL),
    };
    if proto != 0 && proto != AF_UNIX {
        return Err(EPROTONOSUPPORT);
    }
    Ok(kind)
}

/// A ping socket, when the caller's effective or a supplementary group is in
/// net.ipv4.ping_group_range (EACCES otherwise, whatever its capabilities).
fn ping_kind(t: &Task) -> Result<Kind, Errno> {
    if crate::net::ping::may_create(t.creds.gids.eff, &t.creds.groups) {
        Ok(Kind::Ping)
    } else {
        Err(EACCES)
    }
}

/// The caller's credentials as a message carries them (real ids) and as a connection's peer
/// sees them (effective ids).
fn msg_cred(t: &Task) -> Cred {
    Cred {
        pid: t.pid,
        uid: t.creds.uids.real,
        gid: t.creds.gids.real,
    }
}

fn peer_cred(t: &Task) -> Cred {
    Cred {
        pid: t.pid,
        uid: t.creds.uids.eff,
        gid: t.creds.gids.eff,
    }
}

pub(super) fn socket(t: &mut Task, domain: i32, ty: i32, proto: i32) -> R {
    let (base, open) = type_flags(ty)?;
    let kind = kind_of(t, domain, base, proto)?;
    let s = Socket::of_family(domain, kind, peer_cred(t));
    if domain == AF_NETLINK {
        // Which netlink answers its requests.
        s.set_opt(SOL_SOCKET, SO_PROTOCOL, proto);
    }
    let f = socket_file(s, open & O_NONBLOCK);
    t.fds.install(f, open & O_CLOEXEC != 0, 0).map(i64::from)
}

pub(super) fn socketpair(t: &mut Task, domain: i32, ty: i32, proto: i32, sv: u64) -> R {
    let (base, open) = type_flags(ty)?;
    let kind = kind_of(t, domain, base, proto)?;
    if domain != AF_UNIX {
        return Err(EOPNOTSUPP);
    }
    let (a, b) = Socket::pair(kind, peer_cred(t));
    let files = [
        socket_file(a, open & O_NONBLOCK),
        socket_file(b, open & O_NONBLOCK),
    ];
    fs::install_pair(t, files, open & O_CLOEXEC != 0, sv)
}

/// The socket a name names, for connect and sendto: ECONNREFUSED when none listens there.
fn find(t: &mut Task, name: Name) -> Result<Rc<Socket>, Errno> {
    let addr = match name {
        Name::Unnamed | Name::Inet(_) | Name::Netlink(_) => return Err(EINVAL),
        Name::Abstract(n) => Addr::Abstract(n),
        Name::Path(p) => {
            let text = String::from_utf8(p.clone()).map_err(|_| ENOENT)?;
            let abs = at(t, AT_FDCWD, &text)?;
            crate::perm::search(&t.fs, &t.creds, &abs)?;
            let st = t.fs.stat(&abs, true)?;
            if st.st_mode & S_IFMT != S_IFSOCK {
                return Err(ECONNREFUSED);
            }
            if !crate::perm::may(&t.creds, &st, crate::perm::W) {
                return Err(EACCES);
            }
            Addr::Path(p, (st.st_dev, st.st_ino))
        }
    };
    unix::lookup(&addr).ok_or(ECONNREFUSED)
}

pub(super) fn bind(t: &mut Task, fd: i32, addr: u64, len: u32) -> R {
    let (s, _) = sock(t, fd)?;
    let name = match sockaddr::read(t, s.family, addr, len) {
        // Linux's old compatibility rule: an IPv4 socket takes AF_UNSPEC with INADDR_ANY
        // as AF_INET.
        Err(EAFNOSUPPORT) if s.family == AF_INET && sockaddr::is_unspec(t, addr, len)? => {
            match sockaddr::read_inet_as(t, AF_INET, addr, len)? {
                a if a.ip().is_unspecified() => Name::Inet(a),
                _ => return Err(EAFNOSUPPORT),
            }
        }
        r => r?,
    };
    let addr = match name {
        // As Linux: an address the socket cannot have is named before "bound already".
        Name::Inet(a) if !inet::bindable(a.ip()) => return Err(EADDRNOTAVAIL),
        _ if s.is_bound() && !matches!(name, Name::Path(_)) => return Err(EINVAL),
        Name::Netlink(pid) => {
            s.set_name(Addr::Netlink(if pid == 0 { t.pid as u32 } else { pid }));
            return Ok(0);
        }
        Name::Inet(a) => {
            // A ping socket's "port" is its echo identifier: any may be taken.
            if a.port() != 0
                && s.kind != Kind::Ping
                && a.port() < inet::PRIVILEGED_BELOW
                && !t.creds.capable(CAP_NET_BIND_SERVICE)
            {
                return Err(EACCES);
            }
            let bound = inet::bind(&s, a, bind_opts(&s))?;
            s.set_name(Addr::Inet(bound));
            if s.kind == Kind::Dgram {
                crate::net::pod::udp_bound(&s, bound);
            }
            return Ok(0);
        }
        Name::Unnamed => Addr::Abstract(autobind_name()),
        Name::Abstract(n) => Addr::Abstract(n),
        // As Linux: the name is made first (EADDRINUSE when it exists), and taken back when
        // the socket turns out to be bound already.
        Name::Path(p) => {
            let text = String::from_utf8(p.clone()).map_err(|_| EINVAL)?;
            let abs = at(t, AT_FDCWD, &text)?;
            crate::perm::create(&t.fs, &t.creds, &abs)?;
            let mode = S_IFSOCK | (0o777 & !t.fs.umask());
            t.fs.mknod_socket(&abs, mode).map_err(|e| match e {
                EEXIST => EADDRINUSE,
                e => e,
            })?;
            if s.is_bound() {
                let _ = t.fs.unlink(&abs, 0);
                return Err(EINVAL);
            }
            crate::perm::own_new(&t.fs, &t.creds, &abs);
            fs::created(&abs);
            let st = t.fs.stat(&abs, false)?;
            Addr::Path(p, (st.st_dev, st.st_ino))
        }
    };
    s.bind(addr)?;
    Ok(0)
}

/// An abstract name of five hex digits no socket has (Linux's autobind).
fn autobind_name() -> Vec<u8> {
    let mut b = [0u8; 4];
    let _ = crate::host::getrandom(&mut b);
    let mut n = u32::from_le_bytes(b) & 0xfffff;
    loop {
        let name = format!("{n:05x}").into_bytes();
        if !unix::abstract_taken(&name) {
            return name;
        }
        n = (n + 1) & 0xfffff;
    }
}

/// The binding rules an IP socket's options ask for.
fn bind_opts(s: &Socket) -> inet::BindOpts {
    inet::BindOpts {
        reuseaddr: s.opt(SOL_SOCKET, SO_REUSEADDR).unwrap_or(0) != 0,
        reuseport: s.opt(SOL_SOCKET, SO_REUSEPORT).unwrap_or(0) != 0,
        v6only: s.opt(IPPROTO_IPV6, IPV6_V6ONLY).unwrap_or(0) != 0,
    }
}

/// An unbound IP socket takes an ephemeral port on `ip` (connect, listen, a first sendto):
/// its name.
fn autobind_inet(s: &Rc<Socket>, ip: std::net::IpAddr) -> Result<SocketAddr, Errno> {
    if let Some(Addr::Inet(a)) = s.name() {
        return Ok(a);
    }
    let bound = inet::bind(s, SocketAddr::new(ip, 0), bind_opts(s))?;
    s.set_name(Addr::Inet(bound));
    Ok(bound)
}

pub(super) fn listen(t: &mut Task, fd: i32, backlog: i32) -> R {
    let (s, _) = sock(t, fd)?;
    if s.family != AF_UNIX && s.kind == Kind::Stream {
        autobind_inet(&s, sockaddr::zero(s.family))?;
    }
    s.listen(backlog)?;
    // The pod's stack opens its listening sockets on the port at its next pump.
    crate::net::pod::changed();
    Ok(0)
}

pub(super) fn connect(t: &mut Task, fd: i32, addr: u64, len: u32) -> R {
    let (s, nonblock) = sock(t, fd)?;
    // AF_UNSPEC dissolves a datagram socket's association (its peer), as on Linux.
    if sockaddr::is_unspec(t, addr, len)? && matches!(s.kind, Kind::Dgram | Kind::Ping) {
        s.dissolve();
        return Ok(0);
    }
    let name =
        sockaddr::read(t, s.family, addr, len).map_err(|e| if len < 2 { EINVAL } else { e })?;
    if let Name::Inet(dest) = name {
        return connect_inet(t, &s, dest, nonblock);
    }
    if let Name::Netlink(_) = name {
        // Only the kernel (the sentry) answers netlink here.
        return Ok(0);
    }
    let target = find(t, name)?;
    match s.connect(&target, peer_cred(t)) {
        Err(EAGAIN) if !nonblock => Err(block(t, &s, true)),
        r => r.map(|_| 0),
    }
}

/// connect of an IP socket: to a listener of the sandbox (loopback; anything else is
/// unreachable), or a UDP socket's default destination. A non-blocking TCP connect answers
/// EINPROGRESS, as Linux's does, and is connected (or refused: SO_ERROR) at once.
fn connect_inet(t: &mut Task, s: &Rc<Socket>, dest: SocketAddr, nonblock: bool) -> R {
    let dest = inet::destination(dest);
    if !inet::is_local(dest.ip()) {
        return connect_pod(t, s, dest, nonblock);
    }
    let source_ip = if s.family == AF_INET6 && dest.is_ipv4() {
        std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    } else {
        dest.ip()
    };
    if matches!(s.kind, Kind::Dgram | Kind::Ping) {
        autobind_inet(s, source_ip)?;
        s.set_peer_addr(Some(Addr::Inet(dest)));
        return Ok(0);
    }
    // The connect after a non-blocking one tells how it ended, as Linux's: 0 once
    // connected, else the error not yet taken (ECONNABORTED when SO_ERROR took it), and the
    // socket may connect anew after that.
    if s.take_in_progress() {
        if s.connected() {
            return Ok(0);
        }
        return Err(match s.take_error() {
            0 => ECONNABORTED,
            e => e,
        });
    }
    // A TCP listener is "connected" to nothing but may not connect (EISCONN, as Linux).
    if s.connected() || s.is_listening() {
        return Err(EISCONN);
    }
    let Some(listener) = inet::find(Kind::Stream, dest) else {
        if nonblock {
            s.set_error(ECONNREFUSED);
            s.set_in_progress();
            return Err(EINPROGRESS);
        }
        return Err(ECONNREFUSED);
    };
    autobind_inet(s, source_ip)?;
    match s.connect_as(&listener, peer_cred(t), Some(Addr::Inet(dest))) {
        Err(EAGAIN) if !nonblock => Err(block(t, s, true)),
        Ok(()) if nonblock => {
            s.set_in_progress();
            Err(EINPROGRESS)
        }
        r => r.map(|_| 0),
    }
}

/// connect to an address beyond the sandbox, through the pod's interface (net/pod.rs): a
/// UDP socket takes the destination; a TCP connect starts the handshake and waits for it (or
/// answers EINPROGRESS, then EALREADY while it is under way); a connect served again after
/// its wait reports how it ended.
fn connect_pod(t: &mut Task, s: &Rc<Socket>, dest: SocketAddr, nonblock: bool) -> R {
    use crate::net::pod::{self, Progress};
    let src = pod::source_for(dest.ip()).ok_or(ENETUNREACH)?;
    if matches!(s.kind, Kind::Dgram | Kind::Ping) {
        let bound = autobind_inet(s, src)?;
        if s.kind == Kind::Dgram {
            pod::udp_bound(s, bound);
        }
        s.set_peer_addr(Some(Addr::Inet(dest)));
        return Ok(0);
    }
    match pod::progress(s) {
        Some(Progress::Pending) if nonblock => return Err(EALREADY),
        Some(Progress::Pending) => return Err(block(t, s, true)),
        Some(Progress::Done(Ok(()))) => return Ok(0),
        Some(Progress::Done(Err(e))) => {
            s.take_error();
            return Err(e);
        }
        None => {}
    }
    if s.connected() || s.is_listening() {
        return Err(EISCONN);
    }
    let local = autobind_inet(s, src)?;
    let local_ip = if local.ip().is_unspecified() {
        src
    } else {
        inet::canonical(local.ip())
    };
    pod::connect(s, SocketAddr::new(local_ip, local.port()), dest)?;
    if nonblock {
        return Err(EINPROGRESS);
    }
    Err(block(t, s, true))
}

/// Where a UDP datagram goes: `to`, or the connected address (the wildcard meaning this
/// host); EINVAL for a name that is not an IP one, EDESTADDRREQ with neither.
fn udp_destination(s: &Socket, to: Option<&Name>) -> Result<SocketAddr, Errno> {
    let dest = match (to, s.peer_addr()) {
        // As Linux: a datagram cannot be sent to port 0.
        (Some(Name::Inet(d)), _) if d.port() == 0 && s.kind == Kind::Dgram => return Err(EINVAL),
        (Some(Name::Inet(d)), _) => *d,
        (Some(_), _) => return Err(EINVAL),
        (None, Some(Addr::Inet(d))) => d,
        (None, _) => return Err(EDESTADDRREQ),
    };
    // A broadcast that has a route (the pod's interface) needs SO_BROADCAST first (EACCES,
    // as Linux's route check answers); without a route it is ENETUNREACH, as any.
    if inet::is_broadcast(dest.ip())
        && crate::net::pod::source_for(dest.ip()).is_some()
        && s.opt(SOL_SOCKET, SO_BROADCAST).unwrap_or(0) == 0
    {
        return Err(EACCES);
    }
    Ok(inet::destination(dest))
}

/// A datagram to an address beyond the sandbox goes out through the pod's interface: the
/// count sent, or None when it is not such a datagram (udp_target then routes it).
fn udp_over_pod(s: &Rc<Socket>, to: Option<&Name>, data: &[u8]) -> Result<Option<i64>, Errno> {
    // A bad or missing destination is udp_target's to answer.
    let Ok(dest) = udp_destination(s, to) else {
        return Ok(None);
    };
    if inet::is_local(dest.ip()) || crate::net::pod::source_for(dest.ip()).is_none() {
        return Ok(None);
    }
    if data.len() > UDP_MAX {
        return Err(EMSGSIZE);
    }
    let bound = autobind_inet(s, sockaddr::zero(s.family))?;
    match crate::net::pod::send_to(s, bound, dest, data) {
        // A full queue loses the datagram, as a full device queue would.
        Err(EAGAIN) => Ok(Some(data.len() as i64)),
        r => r.map(|n| Some(n as i64)),
    }
}

pub(super) fn accept(t: &mut Task, fd: i32, addr: u64, len: u64, flags: i32) -> R {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let (s, nonblock) = sock(t, fd)?;
    let new = match s.accept() {
        Err(EAGAIN) if !nonblock => return Err(block(t, &s, false)),
        r => r?,
    };
    let peer = new.peer_name().ok().flatten();
    let (_, open) = type_flags(flags)?;
    let n = t.fds.install(
        socket_file(new, open & O_NONBLOCK),
        open & O_CLOEXEC != 0,
        0,
    )?;
    if let Err(e) = sockaddr::write(t, s.family, peer.as_ref(), addr, len, Unnamed::Family) {
        let _ = t.fds.close(n);
        return Err(e);
    }
    Ok(n as i64)
}

pub(super) fn getsockname(t: &mut Task, fd: i32, addr: u64, len: u64) -> R {
    let (s, _) = sock(t, fd)?;
    needs_name_buffer(t, addr, len)?;
    sockaddr::write(t, s.family, s.name().as_ref(), addr, len, Unnamed::Family).map(|_| 0)
}

/// getsockname and getpeername must have somewhere to write (EFAULT, as Linux's copy out).
fn needs_name_buffer(t: &Task, addr: u64, len: u64) -> Result<(), Errno> {
    t.mm.read_u32(len)?;
    if addr == 0 {
        return Err(EFAULT);
    }
    Ok(())
}

pub(super) fn getpeername(t: &mut Task, fd: i32, addr: u64, len: u64) -> R {
    let (s, _) = sock(t, fd)?;
    // A reset connection is closed (Linux's TCP_CLOSE): no peer to name.
    if !matches!(s.kind, Kind::Dgram | Kind::Ping) && (!s.connected() || s.peer_aborted()) {
        return Err(ENOTCONN);
    }
    let peer = match s.peer_name()? {
        // As Linux: an IP peer with port 0 (a ping socket's, say) is no peer to name.
        Some(Addr::Inet(a)) if a.port() == 0 => return Err(ENOTCONN),
        peer => peer,
    };
    needs_name_buffer(t, addr, len)?;
    sockaddr::write(t, s.family, peer.as_ref(), addr, len, Unnamed::Family).map(|_| 0)
}

pub(super) fn shutdown(t: &mut Task, fd: i32, how: i32) -> R {
    let (s, _) = sock(t, fd)?;
    s.shutdown(how).map(|_| 0)
}

/// What a send carries besides its bytes: descriptors and credentials (SCM_RIGHTS,
/// SCM_CREDENTIALS).
pub(super) struct Control {
    fds: Vec<crate::vfs::FileRef>,
    cred: Option<Cred>,
}

/// Parses a send's control messages.
fn read_control(t: &Task, addr: u64, len: usize) -> Result<Control, Errno> {
    let mut c = Control {
        fds: Vec::new(),
        cred: None,
    };
    if addr == 0 || len == 0 {
        return Ok(c);
    }
    if len > 1 << 16 {
        return Err(ENOBUFS);
    }
    let b = t.mm.read_vec(addr, len)?;
    let mut at = 0;
    while at + 16 <= b.len() {
        let clen = u64::from_le_bytes(b[at..at + 8].try_into().map_err(|_| EINVAL)?) as usize;
        let level = i32::from_le_bytes(b[at + 8..at + 12].try_into().map_err(|_| EINVAL)?);
        let kind = i32::from_le_bytes(b[at + 12..at + 16].try_into().map_err(|_| EINVAL)?);
        if clen < 16 || at + clen > b.len() {
            return Err(EINVAL);
        }
        let data = &b[at + 16..at + clen];
        match (level, kind) {
            (SOL_SOCKET, SCM_RIGHTS) => {
                let n = data.len() / 4;
                if n == 0 || c.fds.len() + n > SCM_MAX_FD {
                    return Err(EINVAL);
                }
                for i in 0..n {
                    let fd = i32::from_le_bytes([
                        data[i * 4],
                        data[i * 4 + 1],
                        data[i * 4 + 2],
                        data[i * 4 + 3],
                    ]);
                    c.fds.push(t.fds.get(fd)?);
                }
            }
            (SOL_SOCKET, SCM_CREDENTIALS) if data.len() >= 12 => {
                let v =
                    |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                let cred = Cred {
                    pid: v(0) as i32,
                    uid: v(4),
                    gid: v(8),
                };
                check_cred(t, cred)?;
                c.cred = Some(cred);
            }
            // Linux's unix sockets look at SOL_SOCKET messages only.
            (SOL_SOCKET, _) => return Err(EINVAL),
            _ => {}
        }
        at += (clen + 7) & !7;
    }
    Ok(c)
}

/// SCM_CREDENTIALS may name only the sender's own pid and ids, unless it has the capability
/// to claim others (CAP_SYS_ADMIN for the pid, CAP_SETUID, CAP_SETGID).
fn check_cred(t: &Task, c: Cred) -> Result<(), Errno> {
    let ids = &t.creds;
    let pid_ok = c.pid == t.pid || ids.capable(CAP_SYS_ADMIN);
    let uid_ok =
        [ids.uids.real, ids.uids.eff, ids.uids.saved].contains(&c.uid) || ids.capable(CAP_SETUID);
    let gid_ok =
        [ids.gids.real, ids.gids.eff, ids.gids.saved].contains(&c.gid) || ids.capable(CAP_SETGID);
    if pid_ok && uid_ok && gid_ok {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// No descriptors or credentials (write(2), send(2)).
pub(super) fn no_control() -> Control {
    Control {
        fds: Vec::new(),
        cred: None,
    }
}

/// One send: `data` with `control` to `to` (or the peer). EPIPE raises SIGPIPE unless
/// MSG_NOSIGNAL.
fn send_one(
    t: &mut Task,
    sk: &Sock,
    data: &[u8],
    control: Control,
    to: Option<Name>,
    flags: i32,
) -> R {
    if flags & MSG_OOB != 0 {
        return Err(EOPNOTSUPP);
    }
    let s = &sk.0;
    if s.family == AF_NETLINK {
        return netlink_request(t, s, data);
    }
    let (to, from) = match to {
        _ if s.family != AF_UNIX && s.kind == Kind::Stream => (None, None), // TCP: ignored
        _ if s.kind == Kind::Ping => return ping_send(s, to.as_ref(), data),
        _ if s.family != AF_UNIX => match udp_route(s, to, data)? {
            ControlFlow::Continue(target) => target,
            ControlFlow::Break(sent) => return Ok(sent),
        },
        Some(n) => (Some(find(t, n)?), None),
        None => (None, None),
    };
    match send_to(t, sk, data, control, to, from, flags) {
        Err(EPIPE) if flags & MSG_NOSIGNAL == 0 => {
            crate::signals::send(t, SIGPIPE);
            Err(EPIPE)
        }
        r => r,
    }
}

/// A datagram's receiver and the sender's address as it sees it.
type Routed = (Option<Rc<Socket>>, Option<Addr>);

/// Where a UDP datagram goes: its receiver in the sandbox, or Break with the count sent when
/// nothing more is to be done (sent through the pod's interface, or lost: nobody receives
/// there).
fn udp_route(
    s: &Rc<Socket>,
    to: Option<Name>,
    data: &[u8],
) -> Result<ControlFlow<i64, Routed>, Errno> {
    // The port-unreachable answer to an earlier datagram (below) fails this send.
    match s.take_error() {
        0 => {}
        e => return Err(e),
    }
    if let Some(n) = udp_over_pod(s, to.as_ref(), data)? {
        return Ok(ControlFlow::Break(n));
    }
    let to_peer = to.is_none();
    match udp_target(s, to, data.len())? {
        Some(target) => Ok(ControlFlow::Continue(target)),
        None => {
            // Nobody receives there: the datagram is lost, and the host's port-unreachable
            // answer reaches a socket connected there as ECONNREFUSED at its next call
            // (Linux's udp_err).
            if to_peer {
                s.set_error(libc::ECONNREFUSED);
            }
            Ok(ControlFlow::Break(data.len() as i64))
        }
    }
}

/// A datagram of netlink requests: the sentry's answers go into the socket's own queue (the
/// socket takes the caller's pid as its port id if it has none yet).
fn netlink_request(t: &Task, s: &Rc<Socket>, data: &[u8]) -> R {
    let portid = match s.name() {
        Some(Addr::Netlink(p)) => p,
        _ => {
            s.set_name(Addr::Netlink(t.pid as u32));
            t.pid as u32
        }
    };
    let answers = if s.opt(SOL_SOCKET, SO_PROTOCOL) == Some(NETLINK_SOCK_DIAG) {
        crate::net::sockdiag::answer(data, portid)
    } else {
        crate::net::netlink::answer(data, portid)
    };
    for answer in answers {
        s.deliver(Msg {
            data: answer,
            fds: Vec::new(),
            cred: msg_cred(t),
            from: Some(Addr::Netlink(0)),
        });
    }
    Ok(data.len() as i64)
}

/// A ping socket's echo request (net/ping.rs): checked as Linux checks it, its identifier
/// the socket's port (an ephemeral one taken first), answered at once when it goes to an
/// address of the sandbox, sent through the pod's interface otherwise. A request lost to a
/// full queue counts as sent, as on the wire.
fn ping_send(s: &Rc<Socket>, to: Option<&Name>, data: &[u8]) -> R {
    use crate::net::ping;
    ping::check_request(s.family == AF_INET6, data)?;
    let dest = udp_destination(s, to)?;
    let dest_ip = inet::canonical(dest.ip());
    if dest_ip.is_ipv6() != (s.family == AF_INET6) {
        // An IPv6 ping socket does not reach IPv4 (v4-mapped) addresses.
        return Err(EINVAL);
    }
    let local = inet::is_local(dest_ip);
    let src = if local {
        dest_ip
    } else {
        crate::net::pod::source_for(dest_ip).ok_or(ENETUNREACH)?
    };
    let ident = autobind_inet(s, sockaddr::zero(s.family))?.port();
    let req = ping::request(data, ident, src, dest_ip);
    if !local {
        return match crate::net::pod::ping(s, ident, dest_ip, &req) {
            Ok(()) | Err(EAGAIN) => Ok(data.len() as i64),
            Err(e) => Err(e),
        };
    }
    let answer = ping::reply(&req, src, dest_ip);
    if s.room() >= answer.len() {
        s.deliver(Msg {
            data: answer,
            fds: Vec::new(),
            cred: Cred::default(),
            from: Some(Addr::Inet(SocketAddr::new(dest_ip, 0))),
        });
    }
    Ok(data.len() as i64)
}

/// The largest UDP payload (65535 less the IP and UDP headers).
const UDP_MAX: usize = 65507;

/// Where a UDP datagram goes, and the sender's address as the receiver sees it: the socket
/// bound to the destination (`to`, or the connected one), None when nobody takes it there.
/// An unbound sender takes an ephemeral port first.
fn udp_target(s: &Rc<Socket>, to: Option<Name>, len: usize) -> Result<Option<Routed>, Errno> {
    let dest = udp_destination(s, to.as_ref())?;
    if !inet::is_local(dest.ip()) {
        return Err(ENETUNREACH);
    }
    if len > UDP_MAX {
        return Err(EMSGSIZE);
    }
    let bound = autobind_inet(s, sockaddr::zero(s.family))?;
    // A wildcard-bound sender's datagram comes from the loopback address it went to.
    let from = if bound.ip().is_unspecified() {
        SocketAddr::new(inet::canonical(dest.ip()), bound.port())
    } else {
        bound
    };
    let from = Addr::Inet(from);
    let target = inet::find(Kind::Dgram, dest).filter(|r| r.accepts_from(Some(&from)));
    Ok(target.map(|r| (Some(r), Some(from))))
}

/// write(2) on a socket: a send without flags or address (the caller raises SIGPIPE).
pub(super) fn send_bytes(t: &mut Task, fd: i32, data: &[u8], control: Control, flags: i32) -> R {
    let sk = sock(t, fd)?;
    if sk.0.family == AF_NETLINK {
        // busybox's ip writes its requests.
        return netlink_request(t, &sk.0, data);
    }
    if sk.0.kind == Kind::Ping {
        return ping_send(&sk.0, None, data);
    }
    if sk.0.is_udp() {
        // A connected UDP socket's write is its send: routed to the peer's address (the
        // caller raises SIGPIPE).
        return send_one(t, &sk, data, control, None, flags | MSG_NOSIGNAL);
    }
    send_to(t, &sk, data, control, None, None, flags)
}

/// A send to `to` (or the peer). A blocking stream send returns when all of it went
/// (waiting for room, its progress kept in the task).
#[allow(clippy::too_many_arguments)]
fn send_to(
    t: &mut Task,
    (s, nonblock): &Sock,
    data: &[u8],
    control: Control,
    to: Option<Rc<Socket>>,
    from: Option<Addr>,
    flags: i32,
) -> R {
    let nonblock = *nonblock || flags & MSG_DONTWAIT != 0;
    let done = (t.progress as usize).min(data.len());
    let msg = Msg {
        data: data[done..].to_vec(),
        // Descriptors go with the first part only.
        fds: if done == 0 { control.fds } else { Vec::new() },
        cred: control.cred.unwrap_or_else(|| msg_cred(t)),
        from: from.or_else(|| s.name()),
    };
    match s.send(msg, to) {
        Ok(n) if s.kind == Kind::Stream && done + n < data.len() && !nonblock => {
            t.progress = (done + n) as u64;
            Err(block(t, s, true))
        }
        Ok(n) => Ok((done + n) as i64),
        Err(EAGAIN) if !nonblock => Err(block(t, s, true)),
        Err(EAGAIN) if done > 0 => Ok(done as i64),
        // TCP has no ENOTCONN for a send: an unconnected socket's is EPIPE.
        Err(ENOTCONN) if s.family != AF_UNIX && s.kind == Kind::Stream => Err(EPIPE),
        Err(e) => Err(e),
    }
}

pub(super) fn sendto(t: &mut Task, a: [u64; 6]) -> R {
    let (fd, buf, len, flags, addr, alen) = (a[0] as i32, a[1], a[2], a[3] as i32, a[4], a[5]);
    let sk = sock(t, fd)?;
    precheck(t, &sk.0, flags)?;
    let data = t.mm.read_vec(buf, (len as usize).min(IO_CHUNK))?;
    let to = if addr != 0 {
        Some(sockaddr::read(t, sk.0.family, addr, alen as u32)?)
    } else {
        None
    };
    send_one(t, &sk, &data, no_control(), to, flags)
}

/// A msghdr's fields: name, namelen, iov, iovlen, control, controllen.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn read_msghdr(t: &Task, msg: u64) -> Result<MsgHdr, Errno> {
    Ok(MsgHdr {
        name: t.mm.read_u64(msg)?,
        namelen: t.mm.read_u32(msg + 8)?,
        iov: t.mm.read_u64(msg + 16)?,
        iovlen: t.mm.read_u64(msg + 24)?,
        control: t.mm.read_u64(msg + 32)?,
        controllen: t.mm.read_u64(msg + 40)?,
    })
}

/// What a send of an unconnected connection-oriented socket answers before its buffers are
/// looked at (ENOTCONN for unix sockets, EPIPE and SIGPIPE for TCP), as Linux checks first.
fn precheck(t: &mut Task, s: &Socket, flags: i32) -> Result<(), Errno> {
    if matches!(s.kind, Kind::Dgram | Kind::Ping)
        || s.connected()
        || s.is_listening() && s.family == AF_UNIX
    {
        return Ok(());
    }
    if s.family == AF_UNIX {
        return Err(ENOTCONN);
    }
    if flags & MSG_NOSIGNAL == 0 {
        crate::signals::send(t, SIGPIPE);
    }
    Err(EPIPE)
}

/// UIO_MAXIOV: more buffers than this is EMSGSIZE for sendmsg and recvmsg.
const MAX_IOV: u64 = 1024;

pub(super) fn sendmsg(t: &mut Task, fd: i32, msg: u64, flags: i32) -> R {
    let sk = sock(t, fd)?;
    let h = read_msghdr(t, msg)?;
    if h.iovlen > MAX_IOV {
        return Err(EMSGSIZE);
    }
    let mut data = Vec::new();
    for (base, len) in fs::iovecs(t, h.iov, h.iovlen)? {
        let n = (len as usize).min(IO_CHUNK - data.len());
        data.extend(t.mm.read_vec(base, n)?);
    }
    let control = read_control(t, h.control, h.controllen as usize)?;
    let to = if h.name != 0 && h.namelen != 0 {
        Some(sockaddr::read(t, sk.0.family, h.name, h.namelen)?)
    } else {
        None
    };
    send_one(t, &sk, &data, control, to, flags)
}

/// sendmmsg: the messages one by one, each one's count in its msg_len; the number sent (a
/// failure after the first ends the batch with what was sent).
pub(super) fn sendmmsg(t: &mut Task, fd: i32, vec: u64, n: u32, flags: i32) -> R {
    each_mmsg(t, vec, n, |t, at, _| sendmsg(t, fd, at, flags))
}

/// The sendmmsg/recvmmsg loop over an array of struct mmsghdr (64 bytes, msg_len at 56):
/// `one(task, address, index)` for each, its count stored in msg_len. The first failure is
/// the call's; a later one (a wait included) ends the batch with the count so far. A
/// message's progress (a partly sent stream) does not carry into the next.
fn each_mmsg(t: &mut Task, vec: u64, n: u32, mut one: impl FnMut(&mut Task, u64, u64) -> R) -> R {
    let mut done = 0;
    for i in 0..u64::from(n.min(1024)) {
        let at = vec + i * 64;
        match one(t, at, i) {
            Ok(len) => {
                put(t, at + 56, &(len as u32).to_le_bytes())?;
                done += 1;
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => {
                t.wait = None;
                break;
            }
        }
        t.progress = 0;
    }
    Ok(done)
}

/// What one receive gives back to the caller (its bytes went to the sink): the message's
/// length, the flags to report, the control data and the sender's name.
struct Got {
    /// The receiving socket's family (how the sender's name is written).
    family: i32,
    len: usize,
    flags: i32,
    control: Vec<u8>,
    from: Option<Addr>,
}

/// Where received bytes go: the task, the offset in the caller's buffers, the bytes.
type Sink<'a> = dyn FnMut(&mut Task, usize, &[u8]) -> Result<(), Errno> + 'a;

/// One receive of up to `max` bytes, with room for `control_room` bytes of control data.
/// MSG_WAITALL on a stream waits for all of it (or EOF), keeping what it took in the task's
/// progress, which `sink` writes to the caller's buffer as it goes.
fn recv_one(
    t: &mut Task,
    fd: i32,
    max: usize,
    flags: i32,
    control_room: usize,
    sink: &mut Sink,
) -> Result<Got, Errno> {
    if flags & MSG_OOB != 0 {
        return Err(EOPNOTSUPP);
    }
    let (s, nonblock) = sock(t, fd)?;
    if flags & libc::MSG_ERRQUEUE != 0 && s.family != AF_UNIX {
        // No ICMP errors are queued for the sandbox's sockets: the queue is empty.
        return Err(EAGAIN);
    }
    let nonblock = nonblock || flags & MSG_DONTWAIT != 0;
    let done = t.progress as usize;
    let r = match s.recv(max - done, flags & MSG_PEEK != 0) {
        Err(EAGAIN) if done > 0 && nonblock => {
            return Ok(Got {
                family: s.family,
                len: done,
                flags: 0,
                control: Vec::new(),
                from: None,
            })
        }
        Err(EAGAIN) if !nonblock => return Err(block(t, &s, false)),
        r => r?,
    };
    sink(t, done, &r.data)?;
    let total = done + r.data.len();
    let waitall = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0 && s.kind == Kind::Stream;
    if waitall && total < max && !r.data.is_empty() && r.fds.is_empty() && !nonblock {
        t.progress = total as u64;
        return Err(block(t, &s, false));
    }
    let mut out_flags = 0;
    if r.len > r.data.len() {
        out_flags |= MSG_TRUNC;
    }
    let mut control = Vec::new();
    if let Some(c) = r.cred {
        let mut data = (c.pid as u32).to_le_bytes().to_vec();
        data.extend_from_slice(&c.uid.to_le_bytes());
        data.extend_from_slice(&c.gid.to_le_bytes());
        if !push_cmsg(
            &mut control,
            control_room,
            SOL_SOCKET,
            SCM_CREDENTIALS,
            &data,
        ) {
            out_flags |= MSG_CTRUNC;
        }
    }
    if !r.fds.is_empty() {
        let room = control_room.saturating_sub(control.len());
        // As many descriptors as fit; the rest are dropped (closed), as on Linux.
        let fit = (room.saturating_sub(16) / 4).min(r.fds.len());
        if fit < r.fds.len() {
            out_flags |= MSG_CTRUNC;
        }
        let mut nums = Vec::new();
        for f in r.fds.into_iter().take(fit) {
            match t.fds.install(f, flags & MSG_CMSG_CLOEXEC != 0, 0) {
                Ok(n) => nums.extend_from_slice(&n.to_le_bytes()),
                Err(_) => {
                    out_flags |= MSG_CTRUNC;
                    break;
                }
            }
        }
        if !nums.is_empty() {
            push_cmsg(&mut control, control_room, SOL_SOCKET, SCM_RIGHTS, &nums);
        }
    }
    if s.kind == Kind::Ping && !ping_control(&s, &mut control, control_room) {
        out_flags |= MSG_CTRUNC;
    }
    Ok(Got {
        family: s.family,
        len: done + r.len,
        flags: out_flags,
        control,
        from: r.from,
    })
}

/// What a ping socket's receive carries when asked (SO_TIMESTAMP or SO_TIMESTAMPNS, then
/// IP_RECVTTL or IPV6_RECVHOPLIMIT, Linux's order): the time is the read's (the sentry
/// delivers and reads in one loop), the TTL Linux's default. False when one did not fit.
fn ping_control(s: &Socket, out: &mut Vec<u8>, room: usize) -> bool {
    let on = |level, name| s.opt(level, name).unwrap_or(0) != 0;
    let mut fit = true;
    let (sec, nsec) = crate::host::clock_gettime(CLOCK_REALTIME).unwrap_or((0, 0));
    if on(SOL_SOCKET, SO_TIMESTAMP) {
        let mut tv = sec.to_le_bytes().to_vec();
        tv.extend_from_slice(&(nsec / 1000).to_le_bytes());
        fit &= push_cmsg(out, room, SOL_SOCKET, SO_TIMESTAMP, &tv);
    } else if on(SOL_SOCKET, SO_TIMESTAMPNS) {
        let mut ts = sec.to_le_bytes().to_vec();
        ts.extend_from_slice(&nsec.to_le_bytes());
        fit &= push_cmsg(out, room, SOL_SOCKET, SO_TIMESTAMPNS, &ts);
    }
    let ttl = crate::net::ping::TTL.to_le_bytes();
    if s.family == AF_INET && on(IPPROTO_IP, IP_RECVTTL) {
        fit &= push_cmsg(out, room, IPPROTO_IP, IP_TTL, &ttl);
    }
    if s.family == AF_INET6 && on(IPPROTO_IPV6, IPV6_RECVHOPLIMIT) {
        fit &= push_cmsg(out, room, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl);
    }
    fit
}

/// Appends one control message if it fits in `room`; false when it does not.
fn push_cmsg(out: &mut Vec<u8>, room: usize, level: i32, kind: i32, data: &[u8]) -> bool {
    let len = 16 + data.len();
    if out.len() + len > room {
        return false;
    }
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&level.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(data);
    let padded = (out.len() + 7) & !7;
    if padded <= room {
        out.resize(padded, 0);
    }
    true
}

pub(super) fn recvfrom(t: &mut Task, a: [u64; 6]) -> R {
    let (fd, buf, len, flags, addr, alen) = (a[0] as i32, a[1], a[2], a[3] as i32, a[4], a[5]);
    let max = (len as usize).min(IO_CHUNK);
    let mut sink = |t: &mut Task, at: usize, d: &[u8]| put(t, buf + at as u64, d);
    let got = recv_one(t, fd, max, flags, 0, &mut sink)?;
    sockaddr::write(
        t,
        got.family,
        got.from.as_ref(),
        addr,
        alen,
        Unnamed::Nothing,
    )?;
    Ok(if flags & MSG_TRUNC != 0 {
        got.len
    } else {
        got.len.min(max)
    } as i64)
}

pub(super) fn recvmsg(t: &mut Task, fd: i32, msg: u64, flags: i32) -> R {
    let h = read_msghdr(t, msg)?;
    if h.iovlen > MAX_IOV {
        return Err(EMSGSIZE);
    }
    let vecs = fs::iovecs(t, h.iov, h.iovlen)?;
    let max = vecs
        .iter()
        .map(|(_, l)| *l as usize)
        .sum::<usize>()
        .min(IO_CHUNK);
    let mut sink = |t: &mut Task, at: usize, d: &[u8]| scatter(t, &vecs, at, d);
    let got = recv_one(t, fd, max, flags, h.controllen as usize, &mut sink)?;
    if h.name != 0 {
        // msg_namelen is in and out: the room, then the name's length.
        let room = h.namelen;
        put(t, msg + 8, &room.to_le_bytes())?;
        sockaddr::write(
            t,
            got.family,
            got.from.as_ref(),
            h.name,
            msg + 8,
            Unnamed::Nothing,
        )?;
    } else {
        put(t, msg + 8, &0u32.to_le_bytes())?;
    }
    if h.control != 0 {
        put(t, h.control, &got.control)?;
    }
    put(t, msg + 40, &(got.control.len() as u64).to_le_bytes())?;
    put(t, msg + 48, &got.flags.to_le_bytes())?;
    Ok(if flags & MSG_TRUNC != 0 {
        got.len
    } else {
        got.len.min(max)
    } as i64)
}

/// Writes `data` at offset `at` of the buffers `vecs`.
fn scatter(t: &mut Task, vecs: &[(u64, u64)], mut at: usize, mut data: &[u8]) -> Result<(), Errno> {
    for (base, len) in vecs {
        let len = *len as usize;
        if at >= len {
            at -= len;
            continue;
        }
        let n = (len - at).min(data.len());
        put(t, base + at as u64, &data[..n])?;
        data = &data[n..];
        at = 0;
        if data.is_empty() {
            break;
        }
    }
    Ok(())
}

/// recvmmsg: up to `n` messages, each one's count in its msg_len; the first waits (unless
/// non-blocking), the rest are taken while there are some. The timeout is not applied.
pub(super) fn recvmmsg(t: &mut Task, fd: i32, vec: u64, n: u32, flags: i32) -> R {
    let flags = flags & !libc::MSG_WAITFORONE;
    each_mmsg(t, vec, n, |t, at, i| {
        let f = if i == 0 { flags } else { flags | MSG_DONTWAIT };
        recvmsg(t, fd, at, f)
    })
}

/// An interface as the SIOCGIF* requests describe it: index, name, flags, MTU, hardware
/// type and address, first IPv4 address and prefix.
struct IfDesc {
    index: i32,
    name: String,
    flags: u16,
    mtu: u32,
    hwtype: u16,
    mac: [u8; 6],
    v4: Option<(std::net::Ipv4Addr, u8)>,
}

/// The sandbox's interfaces: loopback, and the pod's when it has one.
fn interfaces() -> Vec<IfDesc> {
    let mut v = vec![IfDesc {
        index: 1,
        name: "lo".into(),
        flags: (IFF_UP | IFF_LOOPBACK | IFF_RUNNING) as u16,
        mtu: 65536,
        hwtype: 772,
        mac: [0; 6],
        v4: Some((std::net::Ipv4Addr::LOCALHOST, 8)),
    }];
    if let Some(p) = crate::net::pod::shown() {
        v.push(IfDesc {
            index: p.link.index,
            flags: (IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST) as u16,
            mtu: p.link.mtu,
            hwtype: 1,
            mac: p.link.mac,
            v4: p.link.addrs.iter().find_map(|(a, l)| match a {
                std::net::IpAddr::V4(v4) => Some((*v4, *l)),
                _ => None,
            }),
            name: p.link.name,
        });
    }
    v
}

/// A struct sockaddr_in of `a` (16 bytes).
fn sockaddr_in(a: std::net::Ipv4Addr) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    s[4..8].copy_from_slice(&a.octets());
    s
}

/// The interface requests on a socket (SIOCGIF*), as libc's if_nametoindex, getifaddrs'
/// fallbacks, busybox's ip and ifconfig ask them: answered from the sandbox's own
/// interfaces; the setting requests are EPERM (the sandbox's network is the sentry's).
pub(super) fn if_ioctl(t: &mut Task, req: u64, arg: u64) -> R {
    const SIOCGIFCONF: u64 = 0x8912;
    const SIOCGIFNAME: u64 = 0x8910;
    let ifs = interfaces();
    if req == SIOCGIFCONF {
        let len = t.mm.read_u32(arg)? as usize;
        let buf = t.mm.read_u64(arg + 8)?;
        let with_v4: Vec<&IfDesc> = ifs.iter().filter(|i| i.v4.is_some()).collect();
        if buf == 0 {
            let n = (with_v4.len() * 40) as u32;
            return put(t, arg, &n.to_ne_bytes()).map(|_| 0);
        }
        let mut out = Vec::new();
        for i in with_v4.iter().take(len / 40) {
            let mut r = [0u8; 40];
            r[..i.name.len().min(15)].copy_from_slice(&i.name.as_bytes()[..i.name.len().min(15)]);
            if let Some((a, _)) = i.v4 {
                r[16..32].copy_from_slice(&sockaddr_in(a));
            }
            out.extend_from_slice(&r);
        }
        put(t, buf, &out)?;
        return put(t, arg, &(out.len() as u32).to_ne_bytes()).map(|_| 0);
    }
    let mut r = t.mm.read_vec(arg, 40)?;
    let i = if req == SIOCGIFNAME {
        let index = i32::from_ne_bytes([r[16], r[17], r[18], r[19]]);
        ifs.iter().find(|i| i.index == index)
    } else {
        let name = r[..16].split(|c| *c == 0).next().unwrap_or(&[]);
        ifs.iter().find(|i| i.name.as_bytes() == name)
    };
    let Some(i) = i else {
        return Err(ENODEV);
    };
    let u = &mut r[16..40];
    u.fill(0);
    match req {
        SIOCGIFNAME => {
            r[..16].fill(0);
            r[..i.name.len().min(15)].copy_from_slice(&i.name.as_bytes()[..i.name.len().min(15)]);
            r[16..20].copy_from_slice(&i.index.to_ne_bytes());
        }
        0x8933 /* SIOCGIFINDEX */ => u[..4].copy_from_slice(&i.index.to_ne_bytes()),
        0x8913 /* SIOCGIFFLAGS */ => u[..2].copy_from_slice(&i.flags.to_ne_bytes()),
        0x8921 /* SIOCGIFMTU */ => u[..4].copy_from_slice(&i.mtu.to_ne_bytes()),
        0x8927 /* SIOCGIFHWADDR */ => {
            u[..2].copy_from_slice(&i.hwtype.to_ne_bytes());
            u[2..8].copy_from_slice(&i.mac);
        }
        0x8915 | 0x891b | 0x8919 /* SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR */ => {
            let (a, len) = i.v4.ok_or(EADDRNOTAVAIL)?;
            let mask = inet::v4_mask(len);
            let v = match req {
                0x8915 => a,
                0x891b => mask.into(),
                _ => (u32::from(a) | !mask).into(),
            };
            u[..16].copy_from_slice(&sockaddr_in(v));
        }
        0x8942 /* SIOCGIFTXQLEN */ => u[..4].copy_from_slice(&1000u32.to_ne_bytes()),
        // SIOCSIF*: changing the sandbox's interfaces.
        r if (0x8900..0x8a00).contains(&r) && r != 0x8910 => return Err(EPERM),
        _ => return Err(ENOTTY),
    }
    put(t, arg, &r).map(|_| 0)
}
