//! The parent <-> child channel during set-up: one SOCK_SEQPACKET pair, short text messages.
//! The child's end is close-on-exec, so a successful exec shows up as end-of-file.

use crate::error::{Context, Error, Result};
use bulkhead_linux::socket;
use std::os::fd::OwnedFd;

/// Parent to child: carry on to the next step.
pub const GO: &str = "go";
/// Child to parent: namespaces and mounts are ready; run the createRuntime hooks now.
pub const HOOKS: &str = "hooks";
/// Child to parent: set-up is done; the process waits for `start` (or is about to exec).
pub const READY: &str = "ready";
/// Child to parent, with an fd: the seccomp notify fd, for the runtime to pass to the listener.
pub const SECCOMP: &str = "seccomp";
const ERROR_PREFIX: &str = "error:";
/// The longest error text the init sends (the runtime receives 64 KiB packets).
const MAX_ERROR: usize = 4096;

pub struct Channel(pub OwnedFd);

/// What the peer said.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    Word(String),
    Failed(String),
    Closed,
}

impl Channel {
    pub fn send(&self, word: &str) -> Result<()> {
        socket::send(&self.0, word.as_bytes()).ctx(|| "sync: send".into())
    }

    /// Sends `word` with an fd attached (SCM_RIGHTS).
    pub fn send_fd(&self, word: &str, fd: &impl std::os::fd::AsRawFd) -> Result<()> {
        socket::send_fd(&self.0, word.as_bytes(), fd.as_raw_fd()).ctx(|| "sync: send fd".into())
    }

    /// Receives the seccomp notify fd that follows a SECCOMP word... the word and the fd travel
    /// together, so this is only called when the peer said it would send one.
    pub fn recv_fd(&self) -> Result<OwnedFd> {
        socket::recv_fd(&self.0)
            .map(|(fd, _)| fd)
            .ctx(|| "sync: receive fd".into())
    }

    pub fn send_error(&self, msg: &str) {
        // Best effort: if the parent is gone there is nobody to tell. A message too long for
        // one packet (it quotes a huge config value) is cut, never dropped.
        let mut end = msg.len().min(MAX_ERROR);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < msg.len() { "..." } else { "" };
        let _ = socket::send(
            &self.0,
            format!("{ERROR_PREFIX}{}{cut}", &msg[..end]).as_bytes(),
        );
    }

    pub fn recv(&self) -> Result<Msg> {
        let bytes = socket::recv(&self.0).ctx(|| "sync: receive".into())?;
        if bytes.is_empty() {
            return Ok(Msg::Closed);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(match text.strip_prefix(ERROR_PREFIX) {
            Some(e) => Msg::Failed(e.to_string()),
            None => Msg::Word(text),
        })
    }

    /// Waits for "go:<pid>", the first message of the init: its pid as the runtime sees it.
    pub fn expect_pid(&self) -> Result<i32> {
        match self.recv()? {
            Msg::Word(w) => w
                .strip_prefix(GO)
                .and_then(|r| r.strip_prefix(':'))
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::Child(format!("sync: expected a pid, got {w:?}"))),
            Msg::Failed(e) => Err(Error::Child(e)),
            Msg::Closed => Err(Error::Child(
                "sync: peer closed while waiting for a pid".into(),
            )),
        }
    }

    /// Waits for `word`; anything else is an error.
    pub fn expect(&self, word: &str) -> Result<()> {
        match self.recv()? {
            Msg::Word(w) if w == word => Ok(()),
            Msg::Word(w) => Err(Error::Child(format!("sync: expected {word:?}, got {w:?}"))),
            Msg::Failed(e) => Err(Error::Child(e)),
            Msg::Closed => Err(Error::Child(format!(
                "sync: peer closed while waiting for {word:?}"
            ))),
        }
    }
}
