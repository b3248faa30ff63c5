//! Unix domain sockets in the sandbox class, served by the sentry (net/unix.rs): stream,
//! datagram and seqpacket sockets, names in the rootfs and the abstract namespace, descriptors
//! and credentials passed in messages, as tests/programs/unixsock.c checks them in both
//! classes (it must pass in the container class first), and python3's socket module and
//! asyncio over them.

mod common;
use common::*;
use serde_json::json;
use std::process::Command;

/// Runs `unixsock <area>` in both classes, with a writable /tmp.
fn area(name: &str) {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    programs::build_static(&b, "unixsock");
    programs::area_in_both_classes(&mut b, "unixsock", name, |_| true);
}

#[test]
fn unix_stream_sockets() {
    area("stream");
}

#[test]
fn unix_datagram_and_seqpacket_sockets() {
    area("dgram");
}

#[test]
fn descriptors_and_credentials_in_messages() {
    area("control");
}

/// python3 (the host's /usr bound in): socketpair, a path-bound stream server and a client
/// process, a descriptor passed with socket.send_fds, SO_PEERCRED, abstract datagrams, and an
/// asyncio unix-socket echo (asyncio's loop wakes itself through a socketpair): the container
/// class's output.
#[test]
fn python3_unix_sockets_and_asyncio() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import socket, os, asyncio, struct
a, b = socket.socketpair()
a.sendall(b"hello"); print(b.recv(100)); a.close(); print(b.recv(100), flush=True)
p = "/tmp/py.sock"
if os.path.exists(p): os.unlink(p)  # the other class's run left it
srv = socket.socket(socket.AF_UNIX); srv.bind(p); srv.listen(5)
if os.fork() == 0:
    c = socket.socket(socket.AF_UNIX); c.connect(p)
    c.sendall(b"x" * 300000); c.shutdown(socket.SHUT_WR)
    print("child got", c.recv(100), flush=True); os._exit(0)
conn, _ = srv.accept()
total = 0
while d := conn.recv(65536):
    total += len(d)
conn.sendall(b"done %d" % total); conn.close(); os.wait()
a, b = socket.socketpair(); r, w = os.pipe()
socket.send_fds(a, [b"fds"], [w])
msg, fds, _, _ = socket.recv_fds(b, 100, 4)
os.write(fds[0], b"through the passed fd"); print(msg, os.read(r, 100))
pid, uid, gid = struct.unpack("3i", a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(pid == os.getpid(), uid, gid)
d1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d1.bind("\0py-a")
d2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d2.bind("\0py-b")
d2.sendto(b"datagram", "\0py-a"); print(d1.recvfrom(100))
async def echo():
    async def handle(r, w):
        w.write((await r.read(100)).upper()); await w.drain(); w.close()
    server = await asyncio.start_unix_server(handle, "/tmp/asyncio.sock")
    r, w = await asyncio.open_unix_connection("/tmp/asyncio.sock")
    w.write(b"ping"); await w.drain(); got = await r.read(100); w.close(); server.close()
    return got
print(asyncio.run(echo()))
"#;
    let want = "b'hello'\nb''\nchild got b'done 300000'\nb'fds' b'through the passed fd'\n\
                True 0 0\n(b'datagram', b'\\x00py-b')\nb'PING'\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// TCP and UDP over loopback (127.0.0.1 and ::1) with python3, the same in both classes (the
/// container class in its own network namespace, lo up): a listener and a client process with
/// a half-close, ephemeral ports, UDP both ways, a refused connect (blocking, and non-blocking
/// through SO_ERROR), an unreachable network, EADDRINUSE, a wildcard listener, an IPv6 one
/// taking IPv4 clients, TCP_NODELAY, and an asyncio TCP echo.
#[test]
fn python3_tcp_and_udp_on_loopback() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import socket, os, asyncio, errno, select
socket.setdefaulttimeout(20)  # a hang fails the test, it does not stay
for fam, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, 0)); srv.listen(8)
    port = srv.getsockname()[1]
    print(srv.getsockname()[0], 32768 <= port <= 60999, flush=True)
    if os.fork() == 0:
        c = socket.create_connection((host, port))
        c.sendall(b"y" * 200000); c.shutdown(socket.SHUT_WR)
        print("client got", c.recv(100), flush=True); os._exit(0)
    conn, addr = srv.accept()
    same_port = conn.getsockname()[1] == port
    tot = 0
    while d := conn.recv(65536): tot += len(d)
    conn.sendall(b"got %d" % tot); conn.close(); os.wait()
    print("peer", addr[0], same_port)
    u1 = socket.socket(fam, socket.SOCK_DGRAM); u1.bind((host, 0))
    u2 = socket.socket(fam, socket.SOCK_DGRAM)
    u2.sendto(b"udp!", u1.getsockname())
    data, frm = u1.recvfrom(100); print(data, frm[0], frm[1] == u2.getsockname()[1])
    u1.sendto(b"back", frm); print(u2.recv(100))
c = socket.socket()
try: c.connect(("127.0.0.1", 1))
except OSError as e: print("refused", errno.errorcode[e.errno])
c = socket.socket(); c.setblocking(False)
print("nonblocking", errno.errorcode[c.connect_ex(("127.0.0.1", 1))])
select.select([], [c], [], 2)
print("so_error", errno.errorcode[c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)])
try: socket.socket().connect(("10.1.2.3", 80))
except OSError as e: print("unreachable", errno.errorcode[e.errno])
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen()
try: socket.socket().bind(a.getsockname())
except OSError as e: print("in use", errno.errorcode[e.errno])
w = socket.socket(); w.bind(("0.0.0.0", 0)); w.listen()
c = socket.create_connection(("127.0.0.1", w.getsockname()[1])); s, _ = w.accept()
print("wildcard", s.getsockname()[0])
d6 = socket.socket(socket.AF_INET6); d6.bind(("::", 0)); d6.listen()
c = socket.create_connection(("127.0.0.1", d6.getsockname()[1])); s, addr = d6.accept()
print("dual stack", addr[0])
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("nodelay", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
async def main():
    async def h(r, w):
        w.write((await r.read(100)).upper()); await w.drain(); w.close()
    srv = await asyncio.start_server(h, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    w.write(b"tcp ping"); await w.drain(); got = await r.read(100); w.close(); srv.close()
    return got
print(asyncio.run(main()))
"#;
    let want = "127.0.0.1 True\nclient got b'got 200000'\npeer 127.0.0.1 True\n\
                b'udp!' 127.0.0.1 True\nb'back'\n::1 True\nclient got b'got 200000'\n\
                peer ::1 True\nb'udp!' ::1 True\nb'back'\nrefused ECONNREFUSED\n\
                nonblocking EINPROGRESS\nso_error ECONNREFUSED\nunreachable ENETUNREACH\n\
                in use EADDRINUSE\nwildcard 127.0.0.1\ndual stack ::ffff:127.0.0.1\n\
                nodelay 1\nb'TCP PING'\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// Socket calls whose answers differed from Linux's until a differential run of both classes found
/// them: the addresses of a connection whose client closed before the accept, a datagram socket's
/// connect(AF_UNSPEC) and shutdown while unconnected, sends to port 0 and to the broadcast address
/// (no route: loopback only), bind's AF_UNSPEC and the order of its checks, SO_REUSEADDR set after
/// a bind, a listener's recv and shutdown, the connect after a non-blocking one, poll of a refused
/// connect and of a fresh socket, SIOCATMARK, Linux's bounds and defaults of options, IP_MTU,
/// unknown levels, a unix message's control data at another level; SHUT_RD (which tells a TCP peer
/// nothing), a close with unread data (which resets the peer), the name of a reset connection's
/// peer, and unix paths bound again after other bound paths were removed (whose inode numbers the
/// filesystem gives again).
#[test]
fn socket_calls_answer_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import socket as S, errno, ctypes, struct, select, fcntl, time, array, os
libc = ctypes.CDLL(None, use_errno=True)
def e(f):
    try:
        v = f()
        return "ok" if v is None else v
    except OSError as x:
        return errno.errorcode[x.errno]
def raw(fn, *a):
    ctypes.set_errno(0)
    return "ok" if fn(*a) == 0 else errno.errorcode[ctypes.get_errno()]
def sin(port, ip, fam=S.AF_INET):
    return ctypes.create_string_buffer(struct.pack("=H", fam) + struct.pack("!H4s8x", port, S.inet_aton(ip)), 16)
# Addresses of a connection whose client is gone before the accept.
for fam, host, dst in ((S.AF_INET, "0.0.0.0", "127.0.0.1"), (S.AF_INET6, "::", "127.0.0.1")):
    w = S.socket(fam); w.bind((host, 0)); w.listen(1)
    c = S.create_connection((dst, w.getsockname()[1])); mine = c.getsockname()[1]; c.close()
    a, peer = w.accept()
    print("accept after close", peer[0], peer[1] == mine, a.getpeername()[1] == mine)
# Datagram sockets: AF_UNSPEC dissolves a connect; shutdown unconnected; port 0; broadcast.
u = S.socket(S.AF_INET, S.SOCK_DGRAM); u.connect(("127.0.0.1", 9))
print("udp unspec", raw(libc.connect, u.fileno(), sin(0, "0.0.0.0", S.AF_UNSPEC), 16), e(u.getpeername))
print("udp shutdown unconnected", e(lambda: u.shutdown(S.SHUT_RDWR)))
v = S.socket(S.AF_INET, S.SOCK_DGRAM)
print("udp port 0", e(lambda: v.sendto(b"x", ("127.0.0.1", 0))))
print("udp broadcast", e(lambda: v.sendto(b"x", ("255.255.255.255", 9))))
# bind: AF_UNSPEC with INADDR_ANY is AF_INET; an address is checked before "bound already".
b = S.socket()
print("bind unspec", raw(libc.bind, b.fileno(), sin(0, "0.0.0.0", S.AF_UNSPEC), 16),
      raw(libc.bind, b.fileno(), sin(0, "127.0.0.1", S.AF_UNSPEC), 16),
      raw(libc.bind, b.fileno(), sin(0, "10.1.2.3"), 16), raw(libc.bind, b.fileno(), sin(0, "127.0.0.1"), 16))
r1 = S.socket(); r1.bind(("127.0.0.1", 0)); r1.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
r2 = S.socket(); r2.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
print("reuseaddr set after bind", e(lambda: r2.bind(r1.getsockname())))
print("bind broadcast, multicast", e(lambda: S.socket().bind(("255.255.255.255", 0))),
      e(lambda: S.socket(S.AF_INET, S.SOCK_DGRAM).bind(("224.0.0.1", 0))))
# A listener: recv, shutdown, then accept.
l = S.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print("listener recv", e(lambda: l.recv(1, S.MSG_DONTWAIT)))
l.setblocking(False)
print("listener shutdown", e(lambda: l.shutdown(S.SHUT_RDWR)), e(l.accept))
l = S.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
# Non-blocking connects, told by the next connect.
n = S.socket(); n.setblocking(False)
print("nonblocking connect", n.connect_ex(l.getsockname()) == errno.EINPROGRESS,
      e(lambda: n.connect(l.getsockname())), e(lambda: n.connect(l.getsockname())))
print("SIOCATMARK", struct.unpack("i", fcntl.ioctl(n, 0x8905, b"\0" * 4))[0])
fs = S.socket(); fresh = select.poll(); fresh.register(fs, select.POLLIN | select.POLLOUT)
print("fresh socket poll", hex(fresh.poll(0)[0][1]))
f = S.socket(); f.setblocking(False)
f.connect_ex(("127.0.0.1", 1)); select.select([], [f], [], 5)
p = select.poll(); p.register(f, select.POLLIN | select.POLLOUT | select.POLLRDHUP)
print("refused poll", hex(p.poll(1000)[0][1]), errno.errorcode[f.getsockopt(S.SOL_SOCKET, S.SO_ERROR)],
      e(lambda: f.connect(("127.0.0.1", 1))))
# Options: Linux's bounds and defaults.
t = S.socket(); d = S.socket(S.AF_INET, S.SOCK_DGRAM)
def so(s, lev, opt, val):
    return e(lambda: s.setsockopt(lev, opt, val)), s.getsockopt(lev, opt)
print("IP_TTL", so(t, S.IPPROTO_IP, S.IP_TTL, 0), so(t, S.IPPROTO_IP, S.IP_TTL, 256), so(t, S.IPPROTO_IP, S.IP_TTL, 9),
      so(t, S.IPPROTO_IP, S.IP_TTL, -1))
print("TCP", so(t, S.IPPROTO_TCP, S.TCP_MAXSEG, 10), so(t, S.IPPROTO_TCP, 4, 0), so(t, S.IPPROTO_TCP, 6, 200),
      so(t, S.IPPROTO_TCP, S.TCP_NODELAY, 5), t.getsockopt(S.IPPROTO_TCP, 12), t.getsockopt(S.IPPROTO_TCP, 10))
print("SOL_SOCKET", so(t, S.SOL_SOCKET, S.SO_KEEPALIVE, 7), so(t, S.SOL_SOCKET, S.SO_RCVLOWAT, 0),
      e(lambda: t.setsockopt(S.SOL_SOCKET, S.SO_SNDLOWAT, 5)), t.getsockopt(S.SOL_SOCKET, 36), t.getsockopt(S.SOL_SOCKET, 49))
t.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 1); t.setsockopt(S.SOL_SOCKET, S.SO_SNDBUF, 1)
print("least buffers", t.getsockopt(S.SOL_SOCKET, S.SO_RCVBUF) < t.getsockopt(S.SOL_SOCKET, S.SO_SNDBUF))
print("multicast TTL", d.getsockopt(S.IPPROTO_IP, S.IP_MULTICAST_TTL), so(d, S.IPPROTO_IP, S.IP_MULTICAST_TTL, 300))
print("IP_MTU", e(lambda: t.getsockopt(S.IPPROTO_IP, 14)), n.getsockopt(S.IPPROTO_IP, 14))
print("levels", e(lambda: d.getsockopt(S.IPPROTO_TCP, S.TCP_NODELAY)), e(lambda: t.getsockopt(12345, 1)),
      e(lambda: t.setsockopt(12345, 1, 1)), e(lambda: t.setsockopt(S.IPPROTO_TCP, 13, b"nope")))
# A unix message's control data at another level than SOL_SOCKET is ignored.
q1, q2 = S.socketpair()
print("unix other level", q1.sendmsg([b"x"], [(S.IPPROTO_IP, 1, b"abcd")]), q2.recv(1))
# TCP: SHUT_RD tells the peer nothing; a close with unread data resets the peer; a reset
# connection has no peer name.
def pair():
    l = S.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
    c = S.create_connection(l.getsockname()); a, _ = l.accept(); l.close()
    return c, a
c, a = pair(); c.shutdown(S.SHUT_RD)
print("after SHUT_RD", c.recv(10), e(lambda: a.send(b"late")), c.recv(10))
c, a = pair(); a.send(b"unread"); time.sleep(0.05); c.close(); time.sleep(0.05)
print("close with unread data", e(lambda: a.recv(10)), e(a.getpeername))
# Unix: paths bound and removed while their sockets stay open, whose inode numbers the
# filesystem may give again.
import tempfile
d = tempfile.mkdtemp(); kept = []
for i in range(20):
    k = S.socket(S.AF_UNIX); k.bind(f"{d}/s{i}"); os.unlink(f"{d}/s{i}"); kept.append(k)
print("unix binds after unlinks", e(lambda: [S.socket(S.AF_UNIX).bind(f"{d}/n{i}") for i in range(20)] and "ok"))
"#;
    let want = "accept after close 127.0.0.1 True True\n\
                accept after close ::ffff:127.0.0.1 True True\n\
                udp unspec ok ENOTCONN\n\
                udp shutdown unconnected ENOTCONN\n\
                udp port 0 EINVAL\n\
                udp broadcast ENETUNREACH\n\
                bind unspec ok EAFNOSUPPORT EADDRNOTAVAIL EINVAL\n\
                reuseaddr set after bind ok\n\
                bind broadcast, multicast ok ok\n\
                listener recv ENOTCONN\n\
                listener shutdown ok EINVAL\n\
                nonblocking connect True ok EISCONN\n\
                SIOCATMARK 0\n\
                fresh socket poll 0x14\n\
                refused poll 0x201d ECONNREFUSED ECONNABORTED\n\
                IP_TTL ('EINVAL', 64) ('EINVAL', 64) ('ok', 9) ('ok', 64)\n\
                TCP ('EINVAL', 536) ('EINVAL', 7200) ('EINVAL', 9) ('ok', 1) 1 0\n\
                SOL_SOCKET ('ok', 1) ('ok', 1) ENOPROTOOPT 0 -1\n\
                least buffers True\n\
                multicast TTL 1 ('EINVAL', 1)\n\
                IP_MTU ENOTCONN 65535\n\
                levels ENOTSUP ENOTSUP ENOPROTOOPT ENOENT\n\
                unix other level 1 b'x'\n\
                after SHUT_RD b'' 4 b'late'\n\
                close with unread data ECONNRESET ENOTCONN\n\
                unix binds after unlinks ok\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// sendfile without an offset (Go's io.Copy from a file to a connection, python's
/// os.sendfile with None) into a unix and a TCP socket whose reader falls behind: every byte
/// arrives once and in order, and the file's position ends at its end. The sentry once read
/// the next part of the file each time a full socket made the call wait, and sent it from
/// where the part before had stopped.
#[test]
fn sendfile_into_a_full_socket_sends_the_file_once() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import hashlib, os, socket, threading, time
data = os.urandom(3 << 20)
with open("/tmp/sendfile", "wb") as f: f.write(data)
for kind in ("unix", "tcp"):
    if kind == "unix":
        a, b = socket.socketpair()
    else:
        srv = socket.create_server(("127.0.0.1", 0))
        a = socket.create_connection(srv.getsockname()); b, _ = srv.accept()
    b.settimeout(20)  # a hang fails the test; the sender's socket stays blocking
    got = []
    def reader():
        time.sleep(0.3)  # the sender's buffer fills first
        h, n = hashlib.sha256(), 0
        while d := b.recv(65536): h.update(d); n += len(d)
        got.append((n, h.hexdigest()))
    t = threading.Thread(target=reader); t.start()
    f, sent = open("/tmp/sendfile", "rb"), 0
    while (n := os.sendfile(a.fileno(), f.fileno(), None, 1 << 20)) > 0: sent += n
    a.close(); t.join()
    print(kind, sent, got == [(len(data), hashlib.sha256(data).hexdigest())], f.tell())
os.unlink("/tmp/sendfile")
"#;
    let want = "unix 3145728 True 3145728\ntcp 3145728 True 3145728\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// SO_LINGER on with 0 seconds makes close abortive over loopback, as on Linux: the peer's
/// next recv is ECONNRESET, then EOF; getsockopt reads the setting back (the sandbox once kept
/// nothing and closed with a FIN: the peer saw EOF).
#[test]
fn so_linger_zero_resets_the_peer() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import errno, socket, struct
for fam, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
    srv = socket.socket(fam); srv.bind((host, 0)); srv.listen()
    c = socket.socket(fam); c.connect(srv.getsockname()); s, _ = srv.accept(); s.settimeout(10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    print("linger", struct.unpack("ii", c.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)))
    c.close()
    try: print("recv", s.recv(10))
    except OSError as e: print("recv", errno.errorcode[e.errno])
    print("then", s.recv(10))
"#;
    let want =
        "linger (1, 0)\nrecv ECONNRESET\nthen b''\nlinger (1, 0)\nrecv ECONNRESET\nthen b''\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// A TCP listener's options are its accepted sockets', as on Linux (SO_KEEPALIVE and its
/// timings, TCP_NODELAY, SO_LINGER); the sandbox's accepted sockets once started with none.
#[test]
fn accepted_sockets_have_the_listeners_options() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import socket, struct
S, T = socket.SOL_SOCKET, socket.IPPROTO_TCP
l = socket.socket()
l.setsockopt(S, socket.SO_KEEPALIVE, 1); l.setsockopt(T, socket.TCP_KEEPIDLE, 30)
l.setsockopt(T, socket.TCP_NODELAY, 1); l.setsockopt(S, socket.SO_LINGER, struct.pack("ii", 1, 5))
l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
print(s.getsockopt(S, socket.SO_KEEPALIVE), s.getsockopt(T, socket.TCP_KEEPIDLE),
      s.getsockopt(T, socket.TCP_NODELAY), struct.unpack("ii", s.getsockopt(S, socket.SO_LINGER, 8)))
"#;
    programs::both_print(
        &mut b,
        &["/usr/bin/python3", "-c", program],
        "1 30 1 (1, 5)\n",
    );
}

/// poll's write events as Linux gives them: POLLOUT, POLLWRNORM and POLLWRBAND for UDP and
/// unix sockets, no POLLWRBAND for TCP (the sandbox once left POLLWRBAND out everywhere).
#[test]
fn poll_gives_linuxs_write_events() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import select, socket
def out(s):
    p = select.poll(); p.register(s, select.POLLOUT | select.POLLWRNORM | select.POLLWRBAND)
    return [e for _, e in p.poll(1000)]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.0.0.1", 9))
a, a2 = socket.socketpair()
d, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
l = socket.create_server(("127.0.0.1", 0)); t = socket.create_connection(l.getsockname())
print("udp", out(u), "unix stream", out(a), "unix dgram", out(d), "tcp", out(t))
"#;
    let want = "udp [772] unix stream [772] unix dgram [772] tcp [260]\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// A connected UDP socket in both classes: write(2) and read(2) on it, and a datagram to a
/// loopback port nobody holds is answered with ECONNREFUSED once (at the next recv, send or
/// SO_ERROR, with POLLERR meanwhile), as the host's port-unreachable answer reports it on
/// Linux; an unconnected sender is told nothing. bash's /dev/udp (connect + write) too.
#[test]
fn connected_udp_sockets_hear_that_a_port_is_closed() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import socket, os, errno, select
def err(f):
    try: return f()
    except OSError as e: return errno.errorcode[e.errno]
def events(s):
    p = select.poll(); p.register(s, select.POLLIN | select.POLLOUT)
    return p.poll(1000)[0][1]
for fam, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
    srv = socket.socket(fam, socket.SOCK_DGRAM); srv.bind((host, 0))
    c = socket.socket(fam, socket.SOCK_DGRAM); c.connect(srv.getsockname())
    print("write", os.write(c.fileno(), b"hello"), srv.recvfrom(10)[0])
    srv.sendto(b"back", c.getsockname()); print("read", os.read(c.fileno(), 10))
    dead = srv.getsockname(); srv.close()
    c = socket.socket(fam, socket.SOCK_DGRAM); c.connect(dead)
    print("send", err(lambda: c.send(b"x")), "events", events(c))
    print("recv", err(lambda: c.recv(10)), "events", events(c))
    print("send", err(lambda: c.send(b"x")), err(lambda: c.send(b"x")), err(lambda: c.send(b"x")))
    print("so_error", errno.errorcode.get(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)),
          c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    u = socket.socket(fam, socket.SOCK_DGRAM)
    print("unconnected", u.sendto(b"x", dead), u.sendto(b"x", dead), "events", events(u))
"#;
    let want = "write 5 b'hello'\nread b'back'\nsend 1 events 12\nrecv ECONNREFUSED events 4\n\
                send 1 ECONNREFUSED 1\nso_error ECONNREFUSED 0\nunconnected 1 1 events 4\n";
    let want = format!("{want}{want}");
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], &want);
    let bash =
        "exec 3<>/dev/udp/127.0.0.1/9; echo hi >&3 && echo sent; echo again >&3 || echo refused";
    programs::both_print(&mut b, &["/usr/bin/bash", "-c", bash], "sent\nrefused\n");
}

/// Debian's nginx (the host's /usr bound in, its /etc/nginx copied into the rootfs) with
/// podman's default capabilities: `nginx -t`, then a master and its worker serving a file to
/// curl over 127.0.0.1 and ::1 (sendfile from the file to the socket), a 404, and a graceful
/// quit, the same in both classes.
#[test]
fn nginx_serves_a_file_to_curl() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    let root = b.rootfs();
    for d in [
        "var/www/html",
        "var/log/nginx",
        "var/lib/nginx",
        "run",
        "etc/nginx",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let copied = Command::new("cp")
        .args(["-a", "/etc/nginx/."])
        .arg(root.join("etc/nginx"))
        .status()
        .expect("cp");
    assert!(
        copied.success(),
        "copy /etc/nginx (nginx-light: the CI installs it)"
    );
    std::fs::write(root.join("var/www/html/index.html"), "served by nginx\n").unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nwww-data:x:33:\n").unwrap();
    b.set("/process/capabilities", podman_caps());
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let script = "nginx -t 2>&1 | tail -1; nginx -g 'daemon on;' || exit 9; \
                  for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf -m 5 http://127.0.0.1/ && break; sleep 0.3; done; \
                  curl -s -m 5 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1/nothing; \
                  curl -s -m 5 'http://[::1]/'; nginx -s quit 2>/dev/null; \
                  while [ -e /run/nginx.pid ]; do sleep 0.1; done; echo quit";
    let want = "nginx: configuration file /etc/nginx/nginx.conf test is successful\n\
                served by nginx\n404\nserved by nginx\nquit\n";
    programs::both_print(&mut b, &["/bin/sh", "-c", script], want);
}

/// A static Go program serving HTTP to itself over 127.0.0.1 (tests/programs/gohttp.go):
/// Go's netpoller and HTTP stack give the same answers in both classes.
#[test]
fn go_program_serves_http_to_itself() {
    let mut b = Bundle::new(&["true"]);
    programs::build_go(&b, "gohttp");
    let want = "0 200 hello one from GET\n1 200 hello two from GET\n\
                2 200 hello three from GET\nmissing: 404\nrefused: true\n";
    programs::both_print(&mut b, &["/bin/gohttp"], want);
}

/// The sandbox's own sockets in /proc/net (tcp, tcp6, udp, unix): `netstat -tln` prints what
/// it prints in the container class, and `ss` (which reads /proc/net when netlink is not
/// there) lists the same listeners and UDP sockets by state and address.
#[test]
fn ss_and_netstat_list_the_sandboxs_sockets() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let program = r#"
import socket, subprocess
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen()
s6 = socket.socket(socket.AF_INET6); s6.bind(("::", 8081)); s6.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 5353))
def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout
print(run("netstat", "-tln"), end="")
for cmd in (("ss", "-tlnH"), ("ss", "-ulnH")):
    print(" ".join(cmd), [(f[0], f[3]) for f in (l.split() for l in run(*cmd).splitlines())])
"#;
    let want = "Active Internet connections (only servers)\n\
        Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n\
        tcp        0      0 127.0.0.1:8080          0.0.0.0:*               LISTEN     \n\
        tcp6       0      0 :::8081                 :::*                    LISTEN     \n\
        ss -tlnH [('LISTEN', '127.0.0.1:8080'), ('LISTEN', '*:8081')]\n\
        ss -ulnH [('UNCONN', '127.0.0.1:5353')]\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// Route netlink answered by the sentry: `ip addr`, `ip link`, `ip route` and a lookup of a
/// missing interface print what they print in the container class's own network namespace
/// (loopback alone); a change is refused.
#[test]
fn ip_lists_the_sandboxs_loopback() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let script = "ip addr; ip link; ip route; ip -6 route; ip -4 addr show lo; \
                  ip link show eth9; echo eth9=$?";
    let want = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\neth9=1\n";
    let [container_err, sandbox_err] =
        programs::both_print(&mut b, &["/bin/sh", "-c", script], want);
    assert_eq!(container_err, sandbox_err, "stderr");
    // The sandbox's network is not the application's to change.
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "ip link set lo down"]),
    );
    let rt = Rt::new();
    let id = unique("ip-set");
    let (code, _, err) = rt.run(&b, &id);
    rt.assert_clean(&id, &b);
    assert!(
        code != 0 && err.contains("Operation not permitted"),
        "{code} {err}"
    );
}

/// Debian's redis-server and redis-cli over 127.0.0.1: ping, set, get, incr and a shutdown,
/// the same in both classes.
#[test]
fn redis_server_answers_redis_cli() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let script = "redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no \
                  --daemonize yes --logfile /tmp/redis.log --dir /tmp || exit 9; \
                  for i in $(seq 100); do redis-cli -p 6399 ping 2>/dev/null | grep -q PONG && break; \
                  sleep 0.1; done; \
                  redis-cli -p 6399 ping; redis-cli -p 6399 set greeting hello; \
                  redis-cli -p 6399 get greeting; redis-cli -p 6399 incr n; redis-cli -p 6399 incr n; \
                  redis-cli -p 6399 shutdown nosave; echo done";
    let want = "PONG\nOK\nhello\n1\n2\ndone\n";
    programs::both_print(&mut b, &["/bin/sh", "-c", script], want);
}

/// Bad arguments to every socket call (bad pointers, lengths, descriptors, control messages,
/// families): the sandbox answers the errno the kernel answers, and goes on.
#[test]
fn bad_arguments_to_socket_calls() {
    area("bad");
}

/// A bundle with the host's /usr and Debian's ping copied to /ping without its file
/// capability (cap_net_raw), with podman's capabilities (CAP_NET_RAW is not among them), so it
/// takes the ping-socket path; net.ipv4.ping_group_range set as podman sets it (the container class's
/// new network namespace would deny every group; the sandbox's range is that one always).
fn ping_bundle() -> Bundle {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    b.set(
        "/linux/sysctl",
        json!({"net.ipv4.ping_group_range": "0 2147483647"}),
    );
    b.set("/process/capabilities", podman_caps());
    let ping = clients::which("ping");
    std::fs::copy(&ping, b.rootfs().join("ping"))
        .expect("copy ping (iputils-ping: CI installs it)");
    b
}

/// Debian's ping (iputils, through ping sockets: no CAP_NET_RAW) to 127.0.0.1 and ::1, two
/// echoes each, bounded: the same lines in both classes but the times. busybox's ping uses
/// raw sockets only: without CAP_NET_RAW it fails the same way in both.
#[test]
fn ping_over_loopback() {
    let mut b = ping_bundle();
    let script = "for a in 127.0.0.1 ::1; do out=$(/ping -c 2 -W 2 $a); echo \"exit $?\"; \
                  echo \"$out\" | sed -e 's/ time=.*//' -e 's/, time .*//' | grep -v '^rtt'; done; \
                  out=$(busybox ping -c 1 -W 1 127.0.0.1 2>&1); echo \"busybox exit $?\"; \
                  echo \"$out\" | grep -v '^PING'";
    let want = "exit 0\nPING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n\
                64 bytes from 127.0.0.1: icmp_seq=1 ttl=64\n\
                64 bytes from 127.0.0.1: icmp_seq=2 ttl=64\n\n\
                --- 127.0.0.1 ping statistics ---\n\
                2 packets transmitted, 2 received, 0% packet loss\n\
                exit 0\nPING ::1(::1) 56 data bytes\n\
                64 bytes from ::1: icmp_seq=1 ttl=64\n64 bytes from ::1: icmp_seq=2 ttl=64\n\n\
                --- ::1 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss\n\
                busybox exit 1\nping: permission denied (are you root?)\n";
    programs::both_print(&mut b, &["/bin/sh", "-c", script], want);
}

/// Ping sockets from python3, the same in both classes: the identifier is the bound port (or
/// an ephemeral one), the reply keeps sequence and payload and sums to zero, comes from the
/// address pinged with port 0, with the TTL and a timestamp when asked; connect, IPv6,
/// readiness, EAGAIN without waiting or after SO_RCVTIMEO; and the errors: a raw socket EPERM,
/// a type other than echo or a short message EINVAL, a gid outside ping_group_range EACCES.
#[test]
fn python3_ping_sockets() {
    let mut b = ping_bundle();
    let program = r#"
import socket, struct, errno, os, select, time
def err(f):
    try:
        f(); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
def csum(d):
    d += b"\0" * (len(d) % 2)
    s = sum(struct.unpack("!%dH" % (len(d) // 2), d))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return s ^ 0xffff
def echo(seq, payload, t=8):
    return struct.pack("!BBHHH", t, 0, 0, 0xbeef, seq) + payload
def show(d):
    t, code, _, ident, seq = struct.unpack("!BBHHH", d[:8])
    return t, code, ident, seq, d[8:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
print("type", s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE), "proto",
      s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL))
s.bind(("0.0.0.0", 4242)); print("name", s.getsockname())
s.sendto(echo(7, b"bulkhead ping"), ("127.0.0.1", 0))
print("readable", select.select([s], [], [], 5)[0] == [s])
d, a = s.recvfrom(1000)
print("reply", show(d), a, csum(d))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
u.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
u.setsockopt(socket.SOL_SOCKET, 29, 1)  # SO_TIMESTAMP
u.sendto(echo(1, b"x" * 100), ("127.0.0.2", 0))
d, anc, flags, a = u.recvmsg(1000, 1000)
port = u.getsockname()[1]
print("ephemeral", port != 0, show(d)[2] == port, a, len(d), flags)
stamp = struct.unpack("qq", anc[0][2])
print("control", [(l, t, len(x)) for l, t, x in anc], abs(stamp[0] - time.time()) < 5,
      struct.unpack("i", anc[1][2]))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
c.connect(("127.0.0.1", 0)); os.write(c.fileno(), echo(2, b"connected"))
print("connected", show(c.recv(100))[3:], err(c.getpeername), c.getsockname()[0])
print("dontwait", err(lambda: c.recv(100, socket.MSG_DONTWAIT)))
c.setblocking(False); print("nonblocking", err(lambda: c.recv(100))); c.setblocking(True)
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 200000))
t0 = time.monotonic(); e = err(lambda: c.recv(100))
print("rcvtimeo", e, time.monotonic() - t0 >= 0.15)
print("echo reply sent", err(lambda: s.sendto(echo(1, b"", 0), ("127.0.0.1", 0))))
print("bad code", err(lambda: s.sendto(b"\x08\x01" + b"\0" * 6, ("127.0.0.1", 0))))
print("short", err(lambda: s.sendto(b"\x08\0\0\0", ("127.0.0.1", 0))))
print("no destination", err(lambda: u.send(echo(1, b""))))
print("unreachable", err(lambda: u.sendto(echo(1, b""), ("10.1.2.3", 0))))
print("raw", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)))
print("icmpv6 on inet", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 58)))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
s6.sendto(echo(9, b"six", 128), ("::1", 0))
d, a = s6.recvfrom(100)
print("v6", show(d)[:2], show(d)[3:], a[:2], "v4 type", err(lambda: s6.sendto(echo(1, b""), ("::1", 0))))
print(repr(open("/proc/sys/net/ipv4/ping_group_range").read()))
print("isatty", os.isatty(1), flush=True)
if os.fork() == 0:
    os.setgroups([]); os.setgid(2147483648)
    print("outside the range", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 1)), flush=True)
    os._exit(0)
os.wait()
"#;
    let want = "type 2 proto 1\nname ('0.0.0.0', 4242)\nreadable True\n\
                reply (0, 0, 4242, 7, b'bulkhead ping') ('127.0.0.1', 0) 0\n\
                ephemeral True True ('127.0.0.2', 0) 108 0\n\
                control [(1, 29, 16), (0, 2, 4)] True (64,)\n\
                connected (2, b'connected') ENOTCONN 127.0.0.1\n\
                dontwait EAGAIN\nnonblocking EAGAIN\nrcvtimeo EAGAIN True\n\
                echo reply sent EINVAL\nbad code EINVAL\nshort EINVAL\n\
                no destination EDESTADDRREQ\nunreachable ENETUNREACH\nraw EPERM\n\
                icmpv6 on inet EPROTONOSUPPORT\n\
                v6 (129, 0) (9, b'six') ('::1', 0) v4 type EINVAL\n'0\\t2147483647\\n'\nisatty False\n\
                outside the range EACCES\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// `ss` asks NETLINK_SOCK_DIAG (net/sockdiag.rs) for the sandbox's sockets and prints what it
/// prints in the container class: TCP listeners on 127.0.0.1 and ::1 (one IPV6_V6ONLY
/// wildcard: `[::]`, one not: `*`), a loopback connection, one half-closed (FIN-WAIT-2 and
/// CLOSE-WAIT, whose Recv-Q counts the FIN until it is read) and one not yet accepted (the
/// listener's Recv-Q 1 and Send-Q its backlog), UDP sockets, unix listeners by path and in the
/// abstract namespace, a socketpair with bytes to read, every inet table (MPTCP, SCTP, raw and
/// DCCP have no handler: nothing listed, and the old DCCP request's error as in the container
/// class), filter expressions (the bytecode is not run: ss applies them itself), and `ss -s`'s table of sockets in use per protocol. Ephemeral ports and
/// inode numbers are normalised; nothing goes to stderr.
#[test]
fn ss_lists_the_sandboxs_sockets_through_sock_diag() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let program = r#"
import socket, subprocess, os, re, time
A6, V6ONLY = socket.AF_INET6, socket.IPV6_V6ONLY
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen(16)
s6 = socket.socket(A6); s6.bind(("::1", 8081)); s6.listen(3)
w6 = socket.socket(A6); w6.setsockopt(socket.IPPROTO_IPV6, V6ONLY, 1)
w6.bind(("::", 8082)); w6.listen(5)
d6 = socket.socket(A6); d6.bind(("::", 8083)); d6.listen(6)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 5353))
u6 = socket.socket(A6, socket.SOCK_DGRAM); u6.bind(("::1", 5354))
uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); uc.connect(("127.0.0.1", 5353))
x = socket.socket(socket.AF_UNIX); x.bind("\0bulkhead-ss"); x.listen(4)
if os.path.exists("/tmp/ss.sock"): os.unlink("/tmp/ss.sock")
xp = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); xp.bind("/tmp/ss.sock"); xp.listen(2)
c = socket.create_connection(("127.0.0.1", 8080)); a, _ = s.accept()
c.sendall(b"12345")
half = socket.create_connection(("127.0.0.1", 8080)); h, _ = s.accept()
unread = socket.create_connection(("127.0.0.1", 8080)); h2, _ = s.accept()
half.shutdown(socket.SHUT_WR); unread.shutdown(socket.SHUT_WR)  # FIN-WAIT-2, CLOSE-WAIT
h.recv(10); time.sleep(0.1)  # the FIN read: out of Recv-Q
waiting = socket.create_connection(("127.0.0.1", 8080))
p1, p2 = socket.socketpair(); p1.send(b"abc")
ephemeral = {str(p.getsockname()[1]) for p in (c, half, unread, waiting, uc)}
def norm(line):
    f = line.split()
    f = ["EPH" if re.sub(r".*:", "", x) in ephemeral and ":" in x else x for x in f]
    f = [re.sub(r":\d+$", ":EPH", x) if x.endswith(tuple(":" + e for e in ephemeral)) else x for x in f]
    if f and f[0].startswith("u_"):
        f[5] = "INO"  # the socket's inode, and its peer's
        f[7] = "PEER" if f[7] != "0" else "0"
        if f[1] == "ESTAB":
            f[3] = "SENDQ"  # Linux's is the memory its unread messages take (a limit)
    return " ".join(f)
for cmd in (["ss", "-tlnH"], ["ss", "-tanH"], ["ss", "-ulnH"], ["ss", "-uanH"], ["ss", "-xlH"],
            ["ss", "-xH"], ["ss", "-lnH", "-A", "inet"],
            ["ss", "-tnH", "dport", "=", ":8080"], ["ss", "-xlH", "src", "/tmp/*"]):
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(" ".join(cmd), "stderr:", repr(r.stderr))
    for l in sorted(norm(l) for l in r.stdout.splitlines()):
        print("  ", l)
r = subprocess.run(["ss", "-s"], capture_output=True, text=True)
print("ss -s stderr:", repr(r.stderr), re.findall(r"estab \d+", r.stdout))
for l in r.stdout.splitlines():
    # Total counts sockets Linux frees later (ss's own netlink ones): not compared.
    if l.startswith(("Transport", "RAW", "UDP", "TCP\t", "INET", "FRAG")):
        print("  ", " ".join(l.split()))
"#;
    let [c, s] = programs::both_classes(&mut b, &["/usr/bin/python3", "-c", program]);
    assert_eq!(c.0, 0, "container class: {}", c.2);
    assert!(
        c.1.contains("LISTEN 1 16 127.0.0.1:8080 0.0.0.0:*"),
        "{}",
        c.1
    );
    assert!(
        c.1.contains("[::]:8082") && c.1.contains("*:8083"),
        "{}",
        c.1
    );
    for state in [
        "CLOSE-WAIT 1 0",
        "CLOSE-WAIT 0 0",
        "FIN-WAIT-2 0 0",
        "dport = :8080 stderr: ''\n   ESTAB 0 0 EPH 127.0.0.1:8080\n",
        "src /tmp/* stderr: ''\n   u_seq LISTEN 0 2 /tmp/ss.sock INO * 0\nss",
    ] {
        assert!(c.1.contains(state), "{state}: {}", c.1);
    }
    assert_eq!(
        (s.0, s.1.as_str()),
        (0, c.1.as_str()),
        "sandbox (left) and container class (right) differ; sandbox stderr: {}",
        s.2
    );
}

/// Bad and unserved NETLINK_SOCK_DIAG requests answer the errno the container class's kernel
/// answers (short requests, families past AF_MAX and unknown types EINVAL; families and
/// protocols without a handler, and exact look-ups of sockets that do not exist, ENOENT; an IP
/// protocol without a handler ends its dump with ENOENT in NLMSG_DONE, as inet_diag does), a
/// message whose length runs past its datagram is dropped unanswered, and the sandbox goes on.
#[test]
fn bad_sock_diag_requests_answer_linuxs_errno() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let program = r#"
import socket, struct, errno
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
n.settimeout(2)
def ask(name, kind, flags, body, length=None):
    n.send(struct.pack("=IHHII", length or 16 + len(body), kind, flags, 5, 0) + body)
    out = []
    while True:
        try:
            d = n.recv(65536)
        except socket.timeout:
            out.append("no answer"); break
        length, t = struct.unpack_from("=IH", d)
        if t == 2:
            e = -struct.unpack_from("=i", d, 16)[0]
            out.append(errno.errorcode.get(e, "ok")); break
        if t == 3:
            e = -struct.unpack_from("=i", d, 16)[0]
            out.append("done" + (" " + errno.errorcode[e] if e else "")); break
        out.append("record")
        if not flags & 0x300:
            break
    print(name, out)
DUMP = 0x301
def inet(fam, proto, states=0xfff, port=0):
    return struct.pack("=BBBxI", fam, proto, 0, states) + struct.pack(">HH", port, port) + bytes(44)
def unix(states, ino, show=0):
    return struct.pack("=BBxxIII", 1, 0, states, ino, show) + bytes(8)
ask("short", 20, DUMP, b"\x02")
ask("past AF_MAX", 20, DUMP, inet(200, 6))
ask("short inet", 20, DUMP, inet(2, 6)[:20])
ask("short unix", 20, DUMP, unix(0xfff, 0)[:10])
ask("unknown type", 99, DUMP, inet(2, 6))
ask("vsock", 20, DUMP, bytes([40]) + bytes(23))
ask("inet protocol 200", 20, DUMP, inet(2, 200))
ask("inet protocol 200 exact", 20, 1, inet(2, 200))
ask("tcp no states", 20, DUMP, inet(2, 6, 0))
ask("udp6 all", 20, DUMP, inet(10, 17))
ask("tcp exact missing", 20, 1, inet(2, 6, port=9))
ask("unix exact ino 0", 20, 1, unix(0xfff, 0))
ask("unix exact missing", 20, 1, unix(0xfff, 999999))
ask("length past datagram", 20, DUMP, inet(2, 6), length=200)
ask("tcp again", 20, DUMP, inet(2, 6))
"#;
    let want = "short ['EINVAL']\npast AF_MAX ['EINVAL']\nshort inet ['EINVAL']\n\
                short unix ['EINVAL']\nunknown type ['EINVAL']\nvsock ['ENOENT']\n\
                inet protocol 200 ['done ENOENT']\n\
                inet protocol 200 exact ['ENOENT']\ntcp no states ['done']\nudp6 all ['done']\n\
                tcp exact missing ['ENOENT']\nunix exact ino 0 ['EINVAL']\n\
                unix exact missing ['ENOENT']\nlength past datagram ['no answer']\n\
                tcp again ['done']\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}

/// A flood from inside (RLIMIT_NOFILE 256): sockets opened until EMFILE, 200 non-blocking
/// loopback connects to a listener with a backlog of 4 that never accepts meanwhile (then at
/// most backlog + 1 are waiting), and 3000 datagrams to a UDP socket nobody reads (Linux drops
/// what the receiver has no room for; the sender never blocks), then an echo over loopback:
/// the same in both classes, and the sentry answers afterwards.
#[test]
fn a_flood_of_sockets_from_inside_is_bounded() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "hard": 256, "soft": 256}]),
    );
    let program = r#"
import socket, errno, select
socks = []
try:
    while len(socks) < 10000:
        socks.append(socket.socket())
except OSError as e:
    print("sockets until", errno.errorcode[e.errno], len(socks) < 256)
for s in socks:
    s.close()
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
errs = {}
cs = []
for _ in range(200):
    c = socket.socket(); c.setblocking(False)
    e = errno.errorcode.get(c.connect_ex(l.getsockname()), "0")
    errs[e] = errs.get(e, 0) + 1
    cs.append(c)
# Linux answers EINPROGRESS to a connect its full backlog drops the SYN of (sent again later),
# the sandbox EAGAIN as for a unix socket (docs/sandbox.md, Differences).
print("connects in progress or EAGAIN:", set(errs) <= {"EINPROGRESS", "EAGAIN"})
l.setblocking(False)
n = 0
while n < 1000:
    try:
        l.accept()[0].close(); n += 1
    except BlockingIOError:
        break
print("waiting at most backlog+1:", 0 < n <= 5)
for c in cs:
    c.close()
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.setblocking(False)
errs = {}
for _ in range(3000):
    try:
        u.sendto(b"x" * 1000, r.getsockname())
    except OSError as e:
        errs[errno.errorcode[e.errno]] = errs.get(errno.errorcode[e.errno], 0) + 1
print("udp send errors", errs)
u.connect(r.getsockname())
print("connected udp writable:", bool(select.select([], [u], [], 5)[1]))
r.setblocking(False)
got = 0
while got < 3000:
    try:
        r.recv(2000); got += 1
    except BlockingIOError:
        break
print("udp queued some, not all:", 0 < got < 3000)
u.sendto(b"after", r.getsockname()); print(r.recv(100))
a, z = socket.socketpair(); a.sendall(b"alive"); print(z.recv(10))
"#;
    let want = "sockets until EMFILE True\nconnects in progress or EAGAIN: True\n\
                waiting at most backlog+1: True\nudp send errors {}\nconnected udp writable: True\n\
                udp queued some, not all: True\nb'after'\nb'alive'\n";
    programs::both_print(&mut b, &["/usr/bin/python3", "-c", program], want);
}
