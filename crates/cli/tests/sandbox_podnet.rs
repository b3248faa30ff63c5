//! The sandbox's network through a pod's interface (net/pod.rs, runtime podnet.rs): the
//! sentry takes the Ethernet interface of the network namespace the config names and serves
//! it with its own TCP/IP stack. Each test makes its own namespaces: a "pod" one with eth0
//! (10.213.N.2/24, default route through .1) and a "server" one at the veth's other end
//! (10.213.N.1/24); traffic goes only between them and to the host's loopback (podman's
//! published port), in bounded loops.

mod common;
use common::clients::*;
use common::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};

/// A pod namespace and a server namespace joined by a veth pair; removed on drop.
struct Pair {
    pod: String,
    srv: String,
    net: u8,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", stderr(&out));
}

impl Pair {
    fn new(net: u8) -> Pair {
        let tag = format!("{}-{net}", std::process::id());
        let p = Pair {
            pod: format!("bhpod-{tag}"),
            srv: format!("bhsrv-{tag}"),
            net,
        };
        let veth = format!("bhv{net}x{}", std::process::id() % 10000);
        ip(&["netns", "add", &p.pod]);
        ip(&["netns", "add", &p.srv]);
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &p.pod,
        ]);
        ip(&["link", "set", &veth, "netns", &p.srv]);
        let (me, peer) = (format!("10.213.{net}.1/24"), format!("10.213.{net}.2/24"));
        ip(&["-n", &p.srv, "addr", "add", &me, "dev", &veth]);
        ip(&["-n", &p.srv, "link", "set", &veth, "up"]);
        ip(&["-n", &p.srv, "link", "set", "lo", "up"]);
        ip(&["-n", &p.pod, "addr", "add", &peer, "dev", "eth0"]);
        ip(&["-n", &p.pod, "link", "set", "eth0", "up"]);
        ip(&["-n", &p.pod, "link", "set", "lo", "up"]);
        let gw = format!("10.213.{net}.1");
        ip(&["-n", &p.pod, "route", "add", "default", "via", &gw]);
        p
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.pod)
    }

    /// A command run in the server namespace.
    fn in_srv(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.srv]).args(args);
        c
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.pod, &self.srv] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A bundle of the busybox rootfs with the host's /usr (python3, iproute2) in the pod's
/// network namespace.
/// The annotations containerd's CRI gives a pod's container: its class, whether it is the
/// pause container ("sandbox") or an application's ("container"), and its pod's id.
fn cri_annotations(b: &mut Bundle, class: &str, kind: &str, pod: &str) {
    b.set(
        "/annotations",
        json!({
            "dev.bulkhead.class": class,
            "io.kubernetes.cri.container-type": kind,
            "io.kubernetes.cri.sandbox-id": pod,
        }),
    );
}

fn pod_bundle(pair: &Pair, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    let nss = b.config["linux"]["namespaces"].as_array().unwrap().clone();
    let nss: Vec<_> = nss
        .into_iter()
        .map(|mut n| {
            if n["type"] == "network" {
                n["path"] = json!(pair.path());
            }
            n
        })
        .collect();
    b.set("/linux/namespaces", json!(nss));
    b
}

/// Inside: a UDP exchange and an HTTP fetch with the server namespace, then one connection
/// served to it. Outside (server namespace): the UDP echo and HTTP answer, then a client that
/// connects to the pod until it is served.
const INSIDE: &str = r#"
import socket, sys, time
net = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b"ping", (net + ".1", 9999))
d, a = u.recvfrom(100)
print("udp", d.decode(), a[0], u.getsockname()[0] == "0.0.0.0")
t = socket.create_connection((net + ".1", 8000), timeout=10)
info = t.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
print("tcp_info state", info[0], "snd_mss", int.from_bytes(info[16:20], "little"))
print("maxseg", t.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG), "mtu", t.getsockopt(socket.IPPROTO_IP, 14))
t.sendall(b"GET / HTTP/1.0\r\n\r\n")
r = b""
while x := t.recv(1000):
    r += x
print("tcp", r.decode().split("\r\n\r\n")[1], t.getsockname()[0], t.getpeername())
t.close()
l = socket.socket()
l.bind(("0.0.0.0", 8080))
l.listen(5)
c, peer = l.accept()
req = c.recv(100)
c.sendall(b"served " + req + b" to " + peer[0].encode())
c.shutdown(socket.SHUT_WR)
print("served", req.decode(), peer[0], c.getsockname()[0], c.recv(10))
c, _ = l.accept()
n = 0
while x := c.recv(1 << 20):
    n += len(x)
    if n < (8 << 20):
        time.sleep(0.02)  # a slow reader at first: the window fills and reopens
print("bulk", n)
"#;

const OUTSIDE: &str = r#"
import socket, sys, time
net = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((net + ".1", 9999))
u.settimeout(30)
h = socket.socket()
h.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
h.bind((net + ".1", 8000))
h.listen(5)
h.settimeout(30)
print("ready", flush=True)
d, a = u.recvfrom(100)
u.sendto(d.upper(), a)
c, _ = h.accept()
c.recv(1000)
c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 200000 + b"end")
c.close()
for _ in range(200):
    try:
        s = socket.create_connection((net + ".2", 8080), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"hello")
got = b""
while x := s.recv(1000):
    got += x
s.close()
print(got.decode())
b = socket.create_connection((net + ".2", 8080), timeout=30)
b.sendall(b"y" * (64 << 20))
b.close()
"#;

/// The same exchanges in both classes through the same kind of pod: UDP out and back, a
/// 200 kB HTTP answer fetched (fragments, windows; the connection's MSS and path MTU), a connection accepted from the other
/// namespace with half-close, 64 MiB sent into the pod to a reader that is slow at first (the
/// window fills and reopens; the host's stack sends segments of up to 64 KiB through the
/// veth), and the same addresses seen on both ends.
#[test]
fn both_classes_talk_through_the_pods_interface() {
    let x200k = "x".repeat(200000);
    let outs: Vec<_> = in_both_classes(41, "talk", INSIDE, OUTSIDE, |_| {})
        .into_iter()
        .map(|(out, rest)| (out.replace(&x200k, "x*200000"), rest))
        .collect();
    assert_eq!(
        outs[0], outs[1],
        "container class (left) and sandbox (right) differ"
    );
    let (inside, outside) = &outs[1];
    assert_eq!(
        inside,
        "udp PING 10.213.41.1 True\ntcp_info state 1 snd_mss 1448\nmaxseg 1448 mtu 1500\n\
         tcp x*200000end 10.213.41.2 ('10.213.41.1', 8000)\n\
         served hello 10.213.41.1 10.213.41.2 b''\nbulk 67108864\n"
    );
    assert_eq!(outside, "served hello to 10.213.41.1\n");
}

/// Inside: Debian's ping (through a ping socket) to the server namespace, then a UDP "go" to
/// the server and a wait for its "done": the server pings the pod's address only while the
/// sandbox serves it (before, the pod namespace's own kernel would answer).
const PING_INSIDE: &str = r#"
import socket, subprocess, sys
net = sys.argv[1]
p = subprocess.run(["/ping", "-c", "2", "-W", "2", net + ".1"], capture_output=True, text=True)
print("exit", p.returncode, [l for l in p.stdout.splitlines() if "received" in l][0].split(", time")[0])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(30)
u.sendto(b"go", (net + ".1", 9998))
print(u.recvfrom(100)[0].decode())
"#;

/// Outside (server namespace): waits for the sandbox's "go", pings the pod's address (the
/// sandbox's stack answers echo requests itself), answers "done".
const PING_OUTSIDE: &str = r#"
import socket, subprocess, sys
net = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((net + ".1", 9998))
u.settimeout(30)
print("ready", flush=True)
d, a = u.recvfrom(100)
p = subprocess.run(["ping", "-c", "2", "-W", "2", net + ".2"], capture_output=True, text=True)
print("exit", p.returncode, [l for l in p.stdout.splitlines() if "received" in l][0].split(", time")[0])
u.sendto(b"done", a)
"#;

/// ICMP echo through the pod's interface in both classes: Debian's ping in the container
/// (no CAP_NET_RAW: a ping socket) reaches the server namespace, and the server's ping
/// reaches the pod's address, answered by the sandbox's own stack; two echoes each, bounded.
#[test]
fn ping_through_the_pods_interface() {
    let outs = in_both_classes(45, "ping", PING_INSIDE, PING_OUTSIDE, |b| {
        b.set("/process/capabilities", podman_caps());
        b.set(
            "/linux/sysctl",
            json!({"net.ipv4.ping_group_range": "0 2147483647"}),
        );
        // Without its file capability (cap_net_raw): the ping-socket path.
        std::fs::copy(which("ping"), b.rootfs().join("ping")).unwrap();
    });
    assert_eq!(
        outs[0], outs[1],
        "container class (left) and sandbox (right) differ"
    );
    let two = "exit 0 2 packets transmitted, 2 received, 0% packet loss";
    assert_eq!(outs[1].0, format!("{two}\ndone\n"));
    assert_eq!(outs[1].1, format!("{two}\n"));
}

/// `ip addr`, `ip route`, busybox's ip (SIOCGIF* ioctls) and /proc/net show the interface
/// the sandbox serves, as the container class's namespace shows it; the host's stack no
/// longer holds its IPv4 address, and the interface's alias records what was taken so a
/// restarted sandbox in the same pod takes it again.
#[test]
fn the_sandbox_shows_and_keeps_the_pods_interface() {
    let rt = Rt::new();
    let script = "ip -4 addr show eth0 | grep inet; ip route; /bin/ip -4 addr show eth0 | \
                  grep inet; tail -n +2 /proc/net/route; python3 -c 'import socket; \
                  print(socket.if_nameindex())'";
    let mut outs = Vec::new();
    for (class, annotations) in [
        ("cls", json!({})),
        ("sbx", json!({"dev.bulkhead.class": "sandbox"})),
    ] {
        let pair = Pair::new(42);
        let mut b = pod_bundle(&pair, &["/bin/sh", "-c", script]);
        b.set("/annotations", annotations.clone());
        let id = unique(&format!("podnet-ip-{class}"));
        let (code, out, err) = rt.run(&b, &id);
        rt.assert_clean(&id, &b);
        assert_eq!(code, 0, "{class}: {err}");
        outs.push(out);
        if class == "sbx" {
            let held = Command::new("ip")
                .args(["-n", &pair.pod, "-4", "addr", "show", "eth0"])
                .output()
                .unwrap();
            assert!(
                !stdout(&held).contains("10.213.42.2"),
                "the host still answers for the sandbox's address: {}",
                stdout(&held)
            );
            let link = Command::new("ip")
                .args(["-n", &pair.pod, "link", "show", "eth0"])
                .output()
                .unwrap();
            assert!(
                stdout(&link).contains("alias bulkhead: 10.213.42.2/24 ")
                    && stdout(&link).contains(" via 10.213.42.1"),
                "{}",
                stdout(&link)
            );
            // While a sandbox serves the interface, another one in the same namespace has
            // loopback only (two stacks must not answer for one address).
            let holder = unique("podnet-holder");
            b.set("/process/args", json!(["sleep", "1000"]));
            rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &holder]);
            b.set(
                "/process/args",
                json!(["/bin/sh", "-c", "ip -4 -o addr | cut -d' ' -f2"]),
            );
            let second = unique("podnet-second");
            let (code, only_lo, err) = rt.run(&b, &second);
            rt.assert_clean(&second, &b);
            assert_eq!((code, only_lo.as_str()), (0, "lo\n"), "{err}");
            rt.ok(&["delete", "-f", &holder]);
            rt.assert_clean(&holder, &b);
            // Once it is gone, the next sandbox in the namespace takes the interface again.
            b.set("/process/args", json!(["/bin/sh", "-c", script]));
            let id = unique("podnet-again");
            let (code, again, err) = rt.run(&b, &id);
            rt.assert_clean(&id, &b);
            assert_eq!((code, &again), (0, &outs[1]), "{err}");
        }
    }
    // The container class's kernel marks its prefix route "proto kernel", the sentry too.
    assert_eq!(
        outs[0], outs[1],
        "container class (left) and sandbox (right) differ"
    );
    assert!(outs[1].contains("inet 10.213.42.2/24 scope global eth0"));
}

/// podman publishes a port of a sandbox-class container (`-p HOST:80`, netavark's DNAT into
/// the pod's namespace): curl on the host gets busybox httpd's page from the sandbox, as it
/// does from runc's container.
#[test]
fn podman_publishes_a_port_of_the_sandbox() {
    require_root();
    podman_image();
    let mut pages = Vec::new();
    for (name, rt, port) in [
        ("runc", which("runc"), "18781"),
        ("bulkhead", BIN.to_string(), "18782"),
    ] {
        let cname = unique(&format!("podnet-{name}"));
        let mut args = vec![
            "--runtime",
            &rt,
            "--cgroup-manager",
            "cgroupfs",
            "run",
            "-d",
            "--name",
            &cname,
            "--ulimit",
            "nofile=1024:20000",
            "--ulimit",
            "nproc=1024:1024",
        ];
        if name == "bulkhead" {
            args.extend(["--annotation", "dev.bulkhead.class=sandbox"]);
        }
        let publish = format!("{port}:80");
        args.extend(["-p", &publish, IMAGE, "sh", "-c"]);
        args.push("echo page from the pod > /tmp/i.html; exec httpd -f -p 80 -h /tmp");
        let o = run(Command::new("podman").args(&args).stdin(Stdio::null()));
        assert!(o.status.success(), "{name}: podman run: {}", stderr(&o));
        let url = format!("http://127.0.0.1:{port}/i.html");
        let page = curl_until(&url);
        let _ = run(Command::new("podman").args(["rm", "-f", "-t", "0", &cname]));
        pages.push(page);
    }
    assert_eq!(pages[0], "page from the pod\n", "runc's container");
    assert_eq!(pages[1], pages[0], "the sandbox's page");
}

/// A sandbox whose config names the host's own network namespace by path never takes the
/// host's interface (that would take the host's addresses away): it has loopback only, and
/// the host keeps its addresses.
#[test]
fn the_hosts_namespace_is_never_taken() {
    let rt = Rt::new();
    let before = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .unwrap();
    let mut b = Bundle::new(&["/bin/sh", "-c", "ip -4 -o addr | cut -d' ' -f2"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/sbin:/usr/bin:/bin"]));
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let nss = b.config["linux"]["namespaces"].as_array().unwrap().clone();
    let nss: Vec<_> = nss
        .into_iter()
        .map(|mut n| {
            if n["type"] == "network" {
                // This test's own: the host's (pid 1's may not be ours to open).
                n["path"] = json!(format!("/proc/{}/ns/net", std::process::id()));
            }
            n
        })
        .collect();
    b.set("/linux/namespaces", json!(nss));
    let id = unique("podnet-host");
    let (code, out, err) = rt.run(&b, &id);
    rt.assert_clean(&id, &b);
    assert_eq!((code, out.as_str()), (0, "lo\n"), "{err}");
    assert!(err.contains("the host's network namespace"), "{err}");
    // Every address the host had is still there (bridges that tests beside this one make and
    // remove, podman's and the CNI test's, are not the host's own).
    let after = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .unwrap();
    let after = stdout(&after);
    let own = |l: &&str| {
        !["podman", "cni", "bhv", "bhcni"]
            .iter()
            .any(|b| l.contains(b))
    };
    for line in stdout(&before).lines().filter(own) {
        assert!(after.contains(line), "the host lost {line}\nnow:\n{after}");
    }
}

/// Runs `b` (in `pair`'s pod) while `outside` runs with python3 in the server namespace with
/// `args`; `outside` prints "ready" once it listens. Returns the run's exit code, stdout and
/// stderr, and what `outside` printed after "ready".
fn with_outside(
    rt: &Rt,
    pair: &Pair,
    b: &Bundle,
    id: &str,
    outside: &str,
    args: &[&str],
) -> (i32, String, String, String) {
    use std::io::BufRead;
    let mut cmd = vec!["python3", "-c", outside];
    cmd.extend_from_slice(args);
    let mut server = pair
        .in_srv(&cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut ready = String::new();
    lines.read_line(&mut ready).unwrap();
    assert_eq!(ready, "ready\n");
    let (code, out, err) = rt.run(b, id);
    rt.assert_clean(id, b);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    let srv = server.wait_with_output().unwrap();
    assert!(srv.status.success(), "{id} outside: {}", stderr(&srv));
    (code, out, err, rest)
}

/// Runs python3 `inside` in the pod of a fresh pair `n`, first in the container class, then in
/// the sandbox, each while python3 `outside` runs in the server namespace; both scripts get
/// the pair's network prefix ("10.213.N") as their argument, and `setup` adjusts each bundle.
/// Asserts that each run exits 0; returns, per class, its stdout and what `outside` printed
/// after "ready".
fn in_both_classes(
    n: u8,
    name: &str,
    inside: &str,
    outside: &str,
    setup: impl Fn(&mut Bundle),
) -> Vec<(String, String)> {
    let rt = Rt::new();
    let mut outs = Vec::new();
    for (class, annotations) in [
        ("cls", json!({})),
        ("sbx", json!({"dev.bulkhead.class": "sandbox"})),
    ] {
        let pair = Pair::new(n);
        let net = format!("10.213.{}", pair.net);
        let mut b = pod_bundle(&pair, &["/usr/bin/python3", "-c", inside, &net]);
        b.set("/annotations", annotations);
        setup(&mut b);
        let id = unique(&format!("podnet-{name}-{class}"));
        let (code, out, err, rest) = with_outside(&rt, &pair, &b, &id, outside, &[&net]);
        assert_eq!(code, 0, "{class}: {out} {err}");
        outs.push((out, rest));
    }
    outs
}

/// A connection from the server namespace to a listener in the pod appears once in `ss -tanH`
/// and /proc/net/tcp, as in the container class (the stack's own end of it is not a socket of
/// the application's).
#[test]
fn ss_lists_a_connection_through_the_pods_interface() {
    let inside = r#"
import socket, subprocess, re
l = socket.socket(); l.bind(("0.0.0.0", 8090)); l.listen(5)
c, peer = l.accept()
print("got", c.recv(5))
eph = ":%d" % peer[1]
r = subprocess.run(["ss", "-tanH"], capture_output=True, text=True)
print("stderr", repr(r.stderr))
for line in sorted(" ".join(line.split()).replace(eph, ":EPH") for line in r.stdout.splitlines()):
    print(line)
print("proc/net/tcp rows", len(open("/proc/net/tcp").read().splitlines()) - 1)
c.sendall(b"bye"); c.close()
"#;
    let outside = r#"
import socket, sys, time
print("ready", flush=True)
for _ in range(200):
    try:
        s = socket.create_connection((sys.argv[1] + ".2", 8090), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"hello"); s.settimeout(30)
print(s.recv(100))
"#;
    let outs = in_both_classes(43, "ss", inside, outside, |_| {});
    let want = (
        "got b'hello'\nstderr ''\nESTAB 0 0 10.213.43.2:8090 10.213.43.1:EPH\n\
         LISTEN 0 5 0.0.0.0:8090 0.0.0.0:*\nproc/net/tcp rows 2\n"
            .to_string(),
        "b'bye'\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// A connection from the server namespace that is reset (SO_LINGER 0) before the application
/// accepts it is still accepted, as Linux's accept hands it over: its peer address is known,
/// getpeername is ENOTCONN, the first receive ECONNRESET and the next EOF. (Here the sandbox's
/// stack usually hands the connection over before the reset comes; when it sees the handshake
/// and the reset in one pump, the reset frame names the connection: tend_listeners.)
#[test]
fn a_connection_reset_before_accept_is_still_accepted() {
    let inside = r#"
import socket, sys, errno
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8101)); u.settimeout(30)
l = socket.socket(); l.bind(("0.0.0.0", 8100)); l.listen(8); l.settimeout(10)
u.recvfrom(10)
def e(f):
    try:
        return f()
    except OSError as x:
        return errno.errorcode[x.errno]
for i in range(2):
    a, peer = l.accept()
    print(i, peer[0], e(lambda: a.getpeername()[0]), e(lambda: a.recv(10)), e(lambda: a.recv(10)))
"#;
    let outside = r#"
import socket, struct, sys, time
pod = sys.argv[1] + ".2"
print("ready", flush=True)
def connect():
    for _ in range(200):
        try:
            return socket.create_connection((pod, 8100), timeout=2)
        except OSError:
            time.sleep(0.1)
c = connect(); c.sendall(b"one"); c.close()
c = connect(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
time.sleep(0.2)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"done", (pod, 8101))
"#;
    let outs = in_both_classes(55, "resetaccept", inside, outside, |_| {});
    let want = (
        "0 10.213.55.1 10.213.55.1 b'one' b''\n1 10.213.55.1 ENOTCONN ECONNRESET b''\n".to_string(),
        String::new(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// SO_LINGER on for some seconds makes close wait until what was sent is acknowledged, as on
/// Linux: the server namespace's reader has a small receive buffer and starts reading only
/// after a second, so a close that returned at once would say "closed" (over UDP) before it
/// read much; a lingering close says it after nearly all of the 2 MB was read.
#[test]
fn a_lingering_close_waits_for_its_data_to_be_acknowledged() {
    let inside = r#"
import socket, struct, sys, time
net = sys.argv[1]
for _ in range(200):
    try:
        c = socket.create_connection((net + ".1", 8200), timeout=10)
        break
    except OSError:
        time.sleep(0.1)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 30))
c.sendall(b"x" * 2000000)
c.close()
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"closed", (net + ".1", 8201))
print("closed")
"#;
    let outside = r#"
import socket, sys, threading, time
net = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((net + ".1", 8201)); u.settimeout(60)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
l.bind((net + ".1", 8200)); l.listen(1)
print("ready", flush=True)
a, _ = l.accept()
got = 0
def read():
    global got
    time.sleep(1)
    while d := a.recv(4096):
        got += len(d)
t = threading.Thread(target=read); t.start()
u.recvfrom(10)
print("read before closed", got > 1900000, flush=True)
t.join()
print("read", got)
"#;
    let outs = in_both_classes(56, "lingerwait", inside, outside, |_| {});
    let want = (
        "closed\n".to_string(),
        "read before closed True\nread 2000000\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// A program in the pod that writes to a slow reader and exits at once still delivers all it
/// wrote, as Linux's kernel sends what a closed socket left queued after the process is gone:
/// the sandbox's end waits (up to pod::DRAIN_MAX) for its connections to deliver, then ends.
#[test]
fn data_written_before_the_sandbox_exits_is_delivered() {
    let inside = r#"
import socket, sys, time
net = sys.argv[1]
for _ in range(200):
    try:
        c = socket.create_connection((net + ".1", 8300), timeout=10)
        break
    except OSError:
        time.sleep(0.1)
c.sendall(b"x" * 2000000)
print("sent")
"#;
    let outside = r#"
import socket, sys, time
net = sys.argv[1]
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
l.bind((net + ".1", 8300)); l.listen(1)
print("ready", flush=True)
a, _ = l.accept(); a.settimeout(20)
time.sleep(1)
got = 0
try:
    while d := a.recv(4096):
        got += len(d)
    print("read", got, "then EOF")
except OSError as e:
    print("read", got, "then", type(e).__name__)
"#;
    let outs = in_both_classes(57, "drain", inside, outside, |_| {});
    let want = ("sent\n".to_string(), "read 2000000 then EOF\n".to_string());
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// A connected UDP socket whose datagram reaches a closed port in the server namespace hears
/// of it: the host there answers "port unreachable", and the socket reports ECONNREFUSED once
/// (POLLERR, then the next recv), as in the container class; an unconnected sender is told
/// nothing (Linux reports it only with IP_RECVERR).
#[test]
fn a_closed_port_outside_refuses_a_connected_udp_socket() {
    let inside = r#"
import socket, sys, errno, select
net = sys.argv[1]
def err(f):
    try: return f()
    except OSError as e: return errno.errorcode[e.errno]
def events(s, ms):
    p = select.poll(); p.register(s, select.POLLIN)
    return [e for _, e in p.poll(ms)]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect((net + ".1", 9997))
print("send", u.send(b"x"), "events", events(u, 10000))
print("recv", err(lambda: u.recv(10)), "events", events(u, 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("unconnected", v.sendto(b"x", (net + ".1", 9997)), "events", events(v, 1000))
v.sendto(b"done", (net + ".1", 9998))
"#;
    let outside = r#"
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((sys.argv[1] + ".1", 9998)); u.settimeout(60)
print("ready", flush=True)
print(u.recvfrom(10)[0].decode())
"#;
    let outs = in_both_classes(48, "udperr", inside, outside, |_| {});
    let want = (
        "send 1 events [8]\nrecv ECONNREFUSED events []\nunconnected 1 events []\n".to_string(),
        "done\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// The containers of a CRI pod share its network, as in the container class: a sandbox-class
/// application container joins its pause container's sandbox (one sentry per pod, as gVisor
/// runs a pod), so a sidecar reaches the application over 127.0.0.1 and the pod's address, and
/// the server namespace reaches it too; each container keeps its own root (an exec into one
/// sees its files), `ps` lists its own processes (its first and an exec'd one), `kill --all`
/// signals them alone (its first, the container's init, ignores an unhandled TERM as pid 1
/// does), and it is killed and deleted on its own while the pod goes on. The sandbox once gave the second container loopback only.
#[test]
fn a_pods_containers_share_its_network() {
    let rt = Rt::new();
    let server = r#"
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 8080)); l.listen(8)
while True:
    c, _ = l.accept(); c.sendall(b"hello from " + open("/whoami", "rb").read().strip()); c.close()
"#;
    let client = r#"
import socket, sys, time
def fetch(host):
    for _ in range(200):
        try: return socket.create_connection((host, 8080), timeout=2).recv(100).decode()
        except OSError: time.sleep(0.1)
    return "nothing"
print("localhost:", fetch("127.0.0.1"))
print("pod address:", fetch(sys.argv[1] + ".2"))
print("own root:", open("/whoami").read().strip())
"#;
    let outside = r#"
import socket, sys
print(socket.create_connection((sys.argv[1] + ".2", 8080), timeout=10).recv(100).decode())
"#;
    let mut seen = Vec::new();
    for class in ["container", "sandbox"] {
        let pair = Pair::new(50);
        let net = format!("10.213.{}", pair.net);
        let pod = unique(&format!("pod-{class}"));
        let cri = |b: &mut Bundle, kind: &str, who: &str| {
            cri_annotations(b, class, kind, &pod);
            std::fs::write(b.rootfs().join("whoami"), who).unwrap();
        };
        let mut pause = pod_bundle(&pair, &["sleep", "1000"]);
        cri(&mut pause, "sandbox", "pause");
        let mut app = pod_bundle(&pair, &["python3", "-c", server]);
        cri(&mut app, "container", "app");
        let mut sidecar = pod_bundle(&pair, &["python3", "-c", client, &net]);
        cri(&mut sidecar, "container", "sidecar");
        let app_id = unique(&format!("app-{class}"));
        let run_d = |b: &Bundle, id: &str| {
            rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), id]);
        };
        run_d(&pause, &pod);
        run_d(&app, &app_id);
        let side = unique(&format!("sidecar-{class}"));
        let (code, out, err) = rt.run(&sidecar, &side);
        rt.assert_clean(&side, &sidecar);
        assert_eq!(code, 0, "{class}: {err}");
        let from_outside = pair
            .in_srv(&["python3", "-c", outside, &net])
            .output()
            .unwrap();
        let exec = rt.ok(&["exec", &app_id, "cat", "/whoami"]);
        rt.exec_detached(&app, &app_id, &["sleep", "100"]);
        let pids = || -> usize {
            let ps: Value =
                serde_json::from_str(&rt.ok(&["ps", "--format", "json", &app_id])).unwrap();
            ps.as_array().map_or(0, Vec::len)
        };
        let before = pids();
        // TERM to the container's processes alone: the exec'd sleep ends; its first process,
        // the container's init without a handler, ignores it; the pod's others go on.
        rt.ok(&["kill", "--all", &app_id, "TERM"]);
        let mut after = pids();
        for _ in 0..100 {
            if after < before {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            after = pids();
        }
        let app_left = rt.status(&app_id);
        rt.ok(&["kill", &app_id, "KILL"]);
        rt.wait_status(&app_id, "stopped");
        rt.ok(&["delete", &app_id]);
        rt.assert_clean(&app_id, &app);
        let pod_left = rt.status(&pod);
        rt.ok(&["delete", "-f", &pod]);
        rt.assert_clean(&pod, &pause);
        let ps = (before, after, app_left);
        seen.push((out, stdout(&from_outside), exec, ps, pod_left));
    }
    let want = (
        "localhost: hello from app\npod address: hello from app\nown root: sidecar\n".to_string(),
        "hello from app\n".to_string(),
        "app".to_string(),
        (2, 1, "running".to_string()),
        "running".to_string(),
    );
    assert_eq!(seen[0], want, "container class");
    assert_eq!(seen[1], want, "sandbox");
}

/// SO_LINGER 0 over the pod's interface, both ways: the sandbox's abortive close sends a
/// reset to the server namespace's peer, and a reset from there reaches the sandbox's socket as
/// ECONNRESET, as in the container class.
#[test]
fn an_abortive_close_resets_the_peer_through_the_pods_interface() {
    let inside = r#"
import errno, socket, struct, sys, time
net = sys.argv[1]
for _ in range(200):
    try: c = socket.create_connection((net + ".1", 8091), timeout=2); break
    except OSError: time.sleep(0.1)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.recv(5); c.close()
l = socket.socket(); l.bind(("0.0.0.0", 8092)); l.listen()
s, _ = l.accept(); s.settimeout(20); s.sendall(b"go")
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # a reset is still ECONNRESET
try: print("inside recv", s.recv(10))
except OSError as e: print("inside recv", errno.errorcode[e.errno])
"#;
    let outside = r#"
import errno, socket, struct, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1] + ".1", 8091)); l.listen()
print("ready", flush=True)
s, _ = l.accept(); s.settimeout(20); s.sendall(b"hello")
try: print("outside recv", s.recv(10))
except OSError as e: print("outside recv", errno.errorcode[e.errno])
for _ in range(200):
    try: c = socket.create_connection((sys.argv[1] + ".2", 8092), timeout=2); break
    except OSError: time.sleep(0.1)
c.settimeout(20); c.recv(2)  # accepted inside: the reset is not a race with accept
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
"#;
    let outs = in_both_classes(52, "linger", inside, outside, |_| {});
    let want = (
        "inside recv ECONNRESET\n".to_string(),
        "outside recv ECONNRESET\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// Keep-alive finds a peer that went silent, as in the container class: a connection with
/// SO_KEEPALIVE and 1-second timings through the pod's interface fails with ETIMEDOUT within
/// seconds once the server namespace's end of the veth goes down (the sandbox once kept the
/// options and never probed: the read waited for ever).
#[test]
fn keep_alive_times_out_a_silent_peer() {
    let inside = r#"
import errno, socket, sys, time
net = sys.argv[1]
for _ in range(200):
    try: c = socket.create_connection((net + ".1", 8093), timeout=2); break
    except OSError: time.sleep(0.1)
c.settimeout(None)
c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
for o in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL): c.setsockopt(socket.IPPROTO_TCP, o, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
c.sendall(b"go"); print("got", c.recv(5))
t = time.monotonic()
try: print("recv", c.recv(5))
except OSError as e: print("recv", errno.errorcode[e.errno])
print("quickly" if time.monotonic() - t < 20 else "slowly")
"#;
    let outside = r#"
import socket, subprocess, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1] + ".1", 8093)); l.listen()
print("ready", flush=True)
s, _ = l.accept(); s.settimeout(20); s.recv(2); s.sendall(b"hello")
link = [w for w in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.split()
        if w.startswith("bhv")][0].split("@")[0]
subprocess.run(["ip", "link", "set", link, "down"], check=True)
print("down")
"#;
    let outs = in_both_classes(53, "keepalive", inside, outside, |_| {});
    let want = (
        "got b'hello'\nrecv ETIMEDOUT\nquickly\n".to_string(),
        "down\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// A pod's container's stats (`events --stats`, the shim's metrics, what the kubelet and
/// `kubectl top` read) are its own in both classes. A sandbox-class container that joined its
/// pod's sandbox runs its processes in the pod's sentry, not in its own cgroup: the sentry
/// counts their CPU (of processes that ended too, as a cgroup does), memory and threads.
#[test]
fn a_pod_containers_stats_are_its_own() {
    let rt = Rt::new();
    // A child burns CPU and ends; then the shell holds 20 MB, says so, and waits.
    let script = r#"sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'
x=$(head -c 20000000 /dev/zero | tr '\0' a); touch /held; sleep 1000"#;
    let mut seen = Vec::new();
    for class in ["container", "sandbox"] {
        let pair = Pair::new(54);
        let pod = unique(&format!("statpod-{class}"));
        let cri = |b: &mut Bundle, kind: &str| cri_annotations(b, class, kind, &pod);
        let mut pause = pod_bundle(&pair, &["sleep", "1000"]);
        cri(&mut pause, "sandbox");
        let mut app = pod_bundle(&pair, &["sh", "-c", script]);
        cri(&mut app, "container");
        app.set("/root/readonly", json!(false));
        let id = unique(&format!("statapp-{class}"));
        for (b, id) in [(&pause, &pod), (&app, &id)] {
            rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), id]);
        }
        let stats = || -> Value {
            let out = rt.ok(&["events", "--stats", &id]);
            serde_json::from_str::<Value>(out.trim()).unwrap()["data"].clone()
        };
        let mut s = Value::Null;
        for _ in 0..600 {
            // Ready once the shell said so and its sleep runs.
            if app.rootfs().join("held").exists() {
                s = stats();
                if s["pids"]["current"] == 2 {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let held = s["memory"]["usage"]["usage"].as_u64().unwrap_or(0) >= 16 << 20;
        let cpu = s["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
        seen.push((held, s["pids"]["current"].clone(), cpu >= 100_000_000));
        rt.ok(&["kill", &id, "KILL"]);
        rt.wait_status(&id, "stopped");
        rt.ok(&["delete", &id]);
        rt.assert_clean(&id, &app);
        rt.ok(&["delete", "-f", &pod]);
        rt.assert_clean(&pod, &pause);
        eprintln!("{class}: {s}");
    }
    let want = (true, json!(2), true);
    assert_eq!(
        seen,
        [want.clone(), want],
        "(16 MB held, 2 tasks, 0.1 s of CPU)"
    );
}

/// A pod's container cannot join a pod whose sandbox has ended (its pause container stopped):
/// create fails in one line that says so, and leaves nothing behind.
#[test]
fn joining_an_ended_pods_sandbox_fails_cleanly() {
    let rt = Rt::new();
    let pair = Pair::new(51);
    let pod = unique("pod-ended");
    let annotate = |b: &mut Bundle, kind: &str| cri_annotations(b, "sandbox", kind, &pod);
    let mut pause = pod_bundle(&pair, &["sleep", "1000"]);
    annotate(&mut pause, "sandbox");
    rt.ok(&["run", "-d", "--bundle", pause.dir().to_str().unwrap(), &pod]);
    rt.ok(&["kill", &pod, "KILL"]);
    rt.wait_status(&pod, "stopped");
    let mut app = pod_bundle(&pair, &["true"]);
    annotate(&mut app, "container");
    create_fails_in(&rt, &app, &["join the pod's sandbox"]);
    rt.ok(&["delete", &pod]);
    rt.assert_clean(&pod, &pause);
}

/// A connect that nobody can answer fails as on Linux, not after the 75-second connect
/// timeout: to an address on the pod's network that nobody has (ARP is never answered) with
/// EHOSTUNREACH after about three seconds, and to an address the gateway has no route to with
/// the EHOSTUNREACH of the gateway's ICMP "host unreachable", at once. The server namespace is
/// the gateway: it forwards, and routes 10.214.0.0/16 nowhere.
#[test]
fn connects_to_unreachable_hosts_fail_with_ehostunreach() {
    let inside = r#"
import socket, errno, sys, time
net = sys.argv[1]
for dest in (net + ".99", "10.214.0.9"):
    s = socket.socket(); s.settimeout(40)
    t = time.monotonic()
    try: s.connect((dest, 80)); what = "connected"
    except OSError as e: what = errno.errorcode.get(e.errno, repr(e))
    took = time.monotonic() - t
    print(dest.replace(net, "NET"), what, "quickly" if took < 15 else "after %.0fs" % took)
"#;
    let outside = r#"
import subprocess
with open("/proc/sys/net/ipv4/ip_forward", "w") as f: f.write("1")
subprocess.run(["ip", "route", "add", "unreachable", "10.214.0.0/16"], check=True)
print("ready", flush=True)
"#;
    let outs = in_both_classes(49, "unreach", inside, outside, |_| {});
    let want = (
        "NET.99 EHOSTUNREACH quickly\n10.214.0.9 EHOSTUNREACH quickly\n".to_string(),
        String::new(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// Frames written into the pod's interface from the other end of the veth that the sandbox's
/// stack cannot take are counted: five of a type it does not speak in /proc/net/dev's drop
/// column, five IPv4 packets with a wrong header checksum in errs, and the same in
/// `ip -s link` (IFLA_STATS64); a datagram sent after them still arrives.
#[test]
fn malformed_frames_are_counted_in_proc_net_dev() {
    let inside = r#"
import socket, subprocess, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 9999))
u.settimeout(0.5)
for _ in range(40):
    u.sendto(b"ready", (sys.argv[1] + ".1", 9999))
    try:
        print(u.recvfrom(100)[0]); break
    except socket.timeout:
        pass
for line in open("/proc/net/dev"):
    if line.strip().startswith("eth0:"):
        f = line.split(":")[1].split()
        print("proc errs", f[2], "drop", f[3])
out = subprocess.run(["ip", "-s", "link", "show", "eth0"], capture_output=True, text=True).stdout
rx = out.splitlines()[out.splitlines().index(next(l for l in out.splitlines() if "RX:" in l)) + 1].split()
print("ip errors", rx[2], "dropped", rx[3])
"#;
    let outside = r#"
import socket, sys
net = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((net + ".1", 9999)); u.settimeout(30)
print("ready", flush=True)
_, sandbox = u.recvfrom(100)
veth = next(n for _, n in socket.if_nameindex() if n != "lo")
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); p.bind((veth, 0))
head = b"\xff" * 6 + p.getsockname()[4]
for _ in range(5):
    p.send(head + b"\x88\xb5" + bytes(46))
ip = bytes([0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0x12, 0x34, 10, 213, 44, 1, 10, 213, 44, 2])
for _ in range(5):
    p.send(head + b"\x08\x00" + ip + bytes(8 + 18))
u.sendto(b"done", sandbox)
print("sent")
"#;
    let rt = Rt::new();
    let pair = Pair::new(44);
    let net = format!("10.213.{}", pair.net);
    let mut b = pod_bundle(&pair, &["/usr/bin/python3", "-c", inside, &net]);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let id = unique("podnet-frames");
    let (code, out, err, rest) = with_outside(&rt, &pair, &b, &id, outside, &[&net]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rest, "sent\n");
    assert_eq!(
        out, "b'done'\nproc errs 5 drop 5\nip errors 5 dropped 5\n",
        "{err}"
    );
}

/// A flood from outside through the pod's interface: SYNs from spoofed addresses of the
/// server's network that nobody completes (half-open connections: 150 before and 150 after),
/// and between them 2000 connects to a listener with a backlog of 4 that does not accept
/// meanwhile. Afterwards the listener holds
/// at most backlog + 1 connections, as on Linux, and still serves a normal connection, the
/// same in both classes: the sandbox's SYN queue is bounded (pod.rs's `tend_listeners`:
/// HALF_OPEN per port, dropped after HALF_OPEN_TIMEOUT) and its ready listening sockets are
/// never all taken by half-open ones.
#[test]
fn a_flood_of_connections_from_outside_is_bounded() {
    let inside = r#"
import socket
l = socket.socket(); l.bind(("0.0.0.0", 8100)); l.listen(4)
c, _ = l.accept()
c.settimeout(120)
print("flood", c.recv(10))
l.setblocking(False)
n = 0
while n < 3000:
    try:
        l.accept()[0].close(); n += 1
    except BlockingIOError:
        break
print("queued at most backlog+1:", n <= 5)
c.sendall(b"counted")
l.setblocking(True); l.settimeout(60)
for _ in range(100):
    d, _ = l.accept(); d.settimeout(10)
    try:
        got = d.recv(10)
    except OSError:
        got = b""
    if got:
        d.sendall(b"served " + got); d.close(); break
    d.close()
print("served", got)
"#;
    let outside = r#"
import socket, sys, time, struct, random
net = sys.argv[1]; dst = net + ".2"; port = 8100
print("ready", flush=True)
for _ in range(300):
    try:
        c = socket.create_connection((dst, port), timeout=2); break
    except OSError:
        time.sleep(0.1)
c.settimeout(120)
mac = next(l.split()[3] for l in open("/proc/net/arp") if l.split()[0] == dst)
mac = bytes.fromhex(mac.replace(":", ""))
veth = next(n for _, n in socket.if_nameindex() if n != "lo")
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); p.bind((veth, 0))
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
d = socket.inet_aton(dst)
def syns(base):
    for i in range(150):
        src = socket.inet_aton("%s.%d" % (net, 100 + i % 100))
        tcp = struct.pack("!HHIIBBHHH", base + i, port, random.getrandbits(32), 0, 5 << 4, 2, 64240, 0, 0)
        pseudo = src + d + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i, 0, 64, 6, 0, src, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        p.send(mac + bytes([2, 0, 0, 0xbb, 0, i % 100]) + b"\x08\x00" + ip + tcp)
    time.sleep(1)
syns(20000)
for _ in range(5):
    socks = []
    for _ in range(400):
        s = socket.socket(); s.setblocking(False)
        try:
            s.connect((dst, port))
        except OSError:
            pass
        socks.append(s)
    time.sleep(0.5)
    for s in socks:
        s.close()
syns(30000)
c.sendall(b"done")
print(c.recv(100).decode())
got = b""
for _ in range(100):
    try:
        s = socket.create_connection((dst, port), timeout=2)
        s.sendall(b"hello"); s.settimeout(30)
        got = s.recv(100)
        if got:
            break
    except OSError:
        time.sleep(0.2)
print(got.decode())
"#;
    let outs = in_both_classes(46, "flood", inside, outside, |_| {});
    let want = (
        "flood b'done'\nqueued at most backlog+1: True\nserved b'hello'\n".to_string(),
        "counted\nserved hello\n".to_string(),
    );
    assert_eq!(outs[0], want, "container class");
    assert_eq!(outs[1], want, "sandbox");
}

/// A connection the application closed while its peer reads nothing (the window stays shut,
/// the data and the FIN wait in the sentry) is reset once it has made no progress for 60 s
/// (pod.rs's LINGER; `tend_tcp`), so such orphans are reclaimed: the peer that reads after
/// 70 s gets what it was sent before and then ECONNRESET, and the server still serves a new
/// connection. Sandbox only (Linux gives up on such an orphan after its probes, at a time of
/// its own).
#[test]
fn a_closed_connection_whose_peer_never_reads_is_reclaimed() {
    let inside = r#"
import socket, time
l = socket.socket(); l.bind(("0.0.0.0", 8110)); l.listen(1)
c, _ = l.accept()
c.setblocking(False)
n = 0
t0 = time.time()
while n < (16 << 20) and time.time() - t0 < 5:
    try:
        n += c.send(b"z" * 65536)
    except BlockingIOError:
        time.sleep(0.05)
c.close()
print("closed with data queued", n > 0)
l.settimeout(150)
c, _ = l.accept(); c.sendall(b"alive"); c.close()
"#;
    let outside = r#"
import socket, sys, time
net = sys.argv[1]
print("ready", flush=True)
for _ in range(300):
    try:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(2); s.connect((net + ".2", 8110)); break
    except OSError:
        s.close(); time.sleep(0.1)
time.sleep(75)
s.settimeout(30)
got = 0
try:
    while x := s.recv(1 << 16):
        got += len(x)
    print("eof")
except ConnectionResetError:
    print("reset")
a = socket.create_connection((net + ".2", 8110), timeout=30); a.settimeout(30)
print(a.recv(10).decode())
"#;
    let rt = Rt::new();
    let pair = Pair::new(47);
    let net = format!("10.213.{}", pair.net);
    let mut b = pod_bundle(&pair, &["/usr/bin/python3", "-c", inside]);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let id = unique("podnet-orphan");
    let (code, out, err, rest) = with_outside(&rt, &pair, &b, &id, outside, &[&net]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "closed with data queued True\n", "{err}");
    assert_eq!(rest, "reset\nalive\n", "{err}");
}
