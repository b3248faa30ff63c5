//! Unix domain sockets in the sandbox class, served by the sentry (net/unix.rs): stream,
//! datagram and seqpacket sockets, names in the rootfs and the abstract namespace, descriptors
//! and credentials passed in messages, as tests/programs/unixsock.c checks them in both
//! classes (it must pass in the container class first), and python3's socket module and
//! asyncio over them.

mod common;
use common::*;
use serde_json::json;

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
    for d in ["/usr", "/bin", "/lib", "/lib64"] {
        std::fs::create_dir_all(b.rootfs().join(&d[1..])).unwrap();
        b.push(
            "/mounts",
            json!({"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]}),
        );
    }
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
    let [c, s] = programs::both_classes(&mut b, &["/usr/bin/python3", "-c", program]);
    let want = "b'hello'\nb''\nchild got b'done 300000'\nb'fds' b'through the passed fd'\n\
                True 0 0\n(b'datagram', b'\\x00py-b')\nb'PING'\n";
    assert_eq!((c.0, c.1.as_str()), (0, want), "container class: {}", c.2);
    assert_eq!((s.0, s.1.as_str()), (0, want), "sandbox: {}", s.2);
}
