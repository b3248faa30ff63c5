//! The terminal of a foreground `run` or `exec` without `--console-socket`: bulkhead receives
//! the pty master itself and copies between it and its own stdin/stdout, as runc does, resizing
//! the pty with the caller's terminal and forwarding signals to the process.

use anyhow::{Context, Result};
use bulkhead_linux::{poll, process as sys, pty, socket};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// A console socket of our own: a listener in a private temporary path.
pub struct OwnConsole {
    pub path: PathBuf,
    listener: UnixListener,
}

impl OwnConsole {
    pub fn new(id: &str) -> Result<OwnConsole> {
        let path =
            std::env::temp_dir().join(format!("bulkhead-console-{}-{id}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener =
            UnixListener::bind(&path).with_context(|| format!("bind {}", path.display()))?;
        Ok(OwnConsole { path, listener })
    }

    /// The master, once the container's process has sent it.
    pub fn receive(&self) -> Result<OwnedFd> {
        let (conn, _): (UnixStream, _) = self.listener.accept().context("accept the terminal")?;
        Ok(socket::recv_fd(&conn).context("receive the terminal")?.0)
    }
}

impl Drop for OwnConsole {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies between our stdio and `master` until `pid` (our child) exits; returns its status.
/// Signals must already be blocked (they arrive through a signalfd).
pub fn proxy_and_wait(pid: i32, master: OwnedFd) -> Result<i32> {
    let stdin = std::io::stdin();
    let saved = pty::make_raw(&stdin).ok();
    let res = proxy(pid, master);
    if let Some(t) = saved {
        let _ = pty::restore(&stdin, &t);
    }
    res
}

fn proxy(pid: i32, master: OwnedFd) -> Result<i32> {
    let sigfd = poll::signalfd_all().context("signalfd")?;
    let stdin = std::io::stdin();
    if let Ok((rows, cols)) = pty::get_winsize(&stdin) {
        let _ = pty::set_winsize(&master, rows, cols);
    }
    let mut m = File::from(master);
    let mut out = std::io::stdout();
    let mut buf = [0u8; 8192];
    let mut stdin_open = true;
    let mut master_open = true;
    loop {
        let fds = [
            sigfd.as_raw_fd(),
            m.as_raw_fd(),
            if stdin_open { 0 } else { -1 },
        ];
        let ready = poll::poll_readable(&fds, -1).context("poll")?;
        if ready[0] {
            match poll::read_signal(&sigfd).context("read signal")? {
                libc::SIGCHLD => {
                    while let Some((p, exit)) = sys::try_wait_any() {
                        if p == pid {
                            drain(&mut m, &mut out, master_open);
                            return Ok(exit.status());
                        }
                    }
                }
                libc::SIGWINCH => {
                    if let Ok((rows, cols)) = pty::get_winsize(&stdin) {
                        let _ = pty::set_winsize(&m, rows, cols);
                    }
                }
                sig => {
                    let _ = sys::kill(pid, sig);
                }
            }
        }
        if ready[1] && master_open {
            match m.read(&mut buf) {
                Ok(n) if n > 0 => {
                    out.write_all(&buf[..n]).context("write to stdout")?;
                    out.flush().context("write to stdout")?;
                }
                // EIO: every slave fd is closed; wait for the process to be reaped.
                _ => master_open = false,
            }
        }
        if stdin_open && ready[2] {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(n) if n > 0 => m.write_all(&buf[..n]).context("write to the terminal")?,
                _ => stdin_open = false,
            }
        }
        if !master_open && !stdin_open {
            // Nothing left to copy: only the exit is awaited.
            let sig = poll::read_signal(&sigfd).context("read signal")?;
            if sig != libc::SIGCHLD {
                let _ = sys::kill(pid, sig);
            }
            while let Some((p, exit)) = sys::try_wait_any() {
                if p == pid {
                    return Ok(exit.status());
                }
            }
        }
    }
}

/// Copies what is still buffered in the master after the process ended.
fn drain(m: &mut File, out: &mut std::io::Stdout, open: bool) {
    if !open {
        return;
    }
    let mut buf = [0u8; 8192];
    while let Ok(ready) = poll::poll_readable(&[m.as_raw_fd()], 0) {
        if !ready[0] {
            break;
        }
        match m.read(&mut buf) {
            Ok(n) if n > 0 => {
                let _ = out.write_all(&buf[..n]);
            }
            _ => break,
        }
    }
    let _ = out.flush();
}
