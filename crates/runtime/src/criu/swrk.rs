//! Talking to CRIU as runc does: `criu swrk FD` started with one end of a SOCK_SEQPACKET pair as
//! its only extra fd, one protobuf message per packet (no length prefix: the packet is the
//! frame). A request is answered by one response of its own type, before which criu may send
//! NOTIFY messages (its action-script points), each acknowledged by a NOTIFY request.

use super::proto::{Notify, Req, ReqType, Resp};
use anyhow::{anyhow, bail, Context, Result};
use bulkhead_linux::{process, socket};
use prost::Message;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Room for one message from criu: responses are small (runc reads 40 KiB at most).
const MAX_MESSAGE: usize = 64 * 1024;

/// Our end of the socket pair.
pub struct Channel {
    sock: OwnedFd,
}

/// One message from criu, with the fds that came with it (the pty master of an
/// "orphan-pts-master" notification).
pub struct Incoming {
    pub resp: Resp,
    pub fds: Vec<OwnedFd>,
}

impl Channel {
    pub fn new(sock: OwnedFd) -> Channel {
        Channel { sock }
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.as_fd()
    }

    pub fn send(&self, req: &Req) -> Result<()> {
        socket::send(&self.sock, &req.encode_to_vec()).context("send a request to criu")
    }

    /// The next message, or None when criu closed its end.
    pub fn recv(&self) -> Result<Option<Incoming>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (fds, n) = loop {
            match socket::recv_fds(&self.sock, &mut buf, 4) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.context("read criu's answer")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let resp = Resp::decode(&buf[..n]).context("criu's answer is not a criu_resp")?;
        Ok(Some(Incoming { resp, fds }))
    }
}

/// The name of a request type, as criu's proto spells it.
pub fn type_name(t: i32) -> String {
    ReqType::try_from(t)
        .map(|t| format!("{t:?}").to_uppercase())
        .unwrap_or_else(|_| format!("type {t}"))
}

/// Sends `req` and reads criu's answers: each NOTIFY goes to `on_notify` and is acknowledged
/// (with success false when the handler failed, which makes criu give up, and its error is
/// returned); the answer of `req`'s type ends the exchange and is returned, successful or not.
pub fn exchange(
    ch: &Channel,
    req: &Req,
    on_notify: &mut dyn FnMut(&Notify, Vec<OwnedFd>) -> Result<()>,
) -> Result<Resp> {
    ch.send(req)?;
    loop {
        let Some(msg) = ch.recv()? else {
            bail!(
                "criu closed the connection without answering {}",
                type_name(req.r#type)
            );
        };
        if msg.resp.r#type == ReqType::Notify as i32 {
            let notify = msg.resp.notify.clone().unwrap_or_default();
            let handled = on_notify(&notify, msg.fds);
            ch.send(&Req {
                r#type: ReqType::Notify as i32,
                notify_success: Some(handled.is_ok()),
                ..Default::default()
            })?;
            handled.with_context(|| {
                format!(
                    "criu's {:?} notification",
                    notify.script.unwrap_or_default()
                )
            })?;
            continue;
        }
        if msg.resp.r#type != req.r#type {
            bail!(
                "criu answered {} to {}",
                type_name(msg.resp.r#type),
                type_name(req.r#type)
            );
        }
        return Ok(msg.resp);
    }
}

/// The criu binary: `--criu PATH` (a name without a slash is looked up in PATH, as runc's
/// default "criu" is), or "criu" in PATH.
pub fn find(flag: Option<&str>) -> Result<PathBuf> {
    let name = flag.unwrap_or("criu");
    if name.is_empty() {
        bail!("--criu: empty path");
    }
    if name.contains('/') {
        let p = Path::new(name);
        return match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(p.to_path_buf()),
            Ok(_) => Err(anyhow!("{name} is not a file")),
            Err(e) => Err(anyhow!("{name}: {}", crate::config::io_msg(&e))),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
            return Ok(p);
        }
    }
    bail!("no {name:?} binary in PATH (install criu, or name it with --criu PATH)")
}

/// A running `criu swrk`.
pub struct Swrk {
    pub ch: Channel,
    child: Child,
    path: PathBuf,
}

/// What the criu process gets besides the socket: its stdio (a restore's process inherits
/// them, where the images name pipes) and fds kept at their numbers (inherit_fd's).
#[derive(Default)]
pub struct Spawn {
    pub stdio: Option<[Stdio; 3]>,
    pub keep: Vec<RawFd>,
}

impl Swrk {
    pub fn start(criu: &Path, spawn: Spawn) -> Result<Swrk> {
        let (ours, theirs) = socket::seqpacket_pair().context("socketpair for criu")?;
        let mut cmd = Command::new(criu);
        cmd.arg("swrk").arg(theirs.as_raw_fd().to_string());
        match spawn.stdio {
            Some([i, o, e]) => {
                cmd.stdin(i).stdout(o).stderr(e);
            }
            None => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
            }
        }
        // criu's end and the fds asked for reach this one child, and nothing else of ours.
        let mut keep = spawn.keep;
        keep.push(theirs.as_raw_fd());
        process::inherit_only(&mut cmd, keep);
        let child = cmd.spawn().map_err(|e| {
            anyhow!(
                "start {} swrk: {}",
                criu.display(),
                crate::config::io_msg(&e)
            )
        })?;
        drop(theirs);
        Ok(Swrk {
            ch: Channel::new(ours),
            child,
            path: criu.to_path_buf(),
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Closes our end and waits for criu to exit (it does once the connection is closed).
    pub fn finish(self) -> Result<std::process::ExitStatus> {
        let Swrk {
            ch,
            mut child,
            path,
        } = self;
        drop(ch);
        child
            .wait()
            .with_context(|| format!("wait for {} swrk", path.display()))
    }
}

/// One request in a criu process of its own (as runc starts one per request).
pub fn call(
    criu: &Path,
    spawn: Spawn,
    req: &Req,
    on_notify: &mut dyn FnMut(&Notify, Vec<OwnedFd>) -> Result<()>,
) -> Result<Resp> {
    let swrk = Swrk::start(criu, spawn)?;
    let resp = exchange(&swrk.ch, req, on_notify);
    let status = swrk.finish();
    let resp = resp.map_err(|e| match &status {
        Ok(s) if !s.success() => e.context(format!("criu {s}")),
        _ => e,
    })?;
    Ok(resp)
}

/// No notification expected, or none that needs an action.
pub fn ignore_notify(_: &Notify, _: Vec<OwnedFd>) -> Result<()> {
    Ok(())
}
