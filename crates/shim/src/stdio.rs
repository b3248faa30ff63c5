//! A process's stdio as containerd hands it over: FIFO paths (empty for none) and a terminal
//! flag. Without a terminal the process writes straight into the stdout/stderr FIFOs (no copy
//! in the shim; containerd's reader sees end-of-file when the process and its children are
//! gone); stdin is copied from its FIFO into a pipe, so CloseIO can end it. With a terminal
//! the shim copies between the pty master and the FIFOs.

use anyhow::{Context, Result};
use bulkhead_linux::{fd, pty};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub struct Io {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What a process gets at 0, 1 and 2 (non-terminal).
pub type Fds = [Option<OwnedFd>; 3];

/// Read ends of the stdout/stderr FIFOs that the shim holds while the process lives, and never
/// reads. containerd is the real reader; while it is away (restarting, say) a FIFO without any
/// reader would fail each write with EPIPE and end the process with SIGPIPE. With one held, the
/// output waits in the pipe for containerd to reopen it. A read end does not keep containerd's
/// reader from seeing end-of-file, which only writers do.
#[derive(Default)]
pub struct Kept {
    _held: Vec<File>,
}

/// The copy of a FIFO into the process's stdin; closing it ends the process's input.
pub struct Stdin {
    writer: Arc<Mutex<Option<File>>>,
    path: PathBuf,
}

impl Stdin {
    pub fn close(&self) {
        drop(lock(&self.writer).take());
        // A copier still waiting for containerd to open the FIFO is let go by a writer that
        // comes and leaves.
        let _ = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&self.path);
    }
}

/// The terminal of a process, kept for ResizePty.
pub struct Console {
    master: File,
}

impl Console {
    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        pty::set_winsize(&self.master, height as u16, width as u16).context("resize the terminal")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the ends of a process without a terminal.
pub fn open(io: &Io) -> Result<(Fds, Option<Stdin>, Kept)> {
    let mut kept = Kept::default();
    let out = writer(&io.stdout, "stdout", &mut kept)?.map(OwnedFd::from);
    let err = writer(&io.stderr, "stderr", &mut kept)?.map(OwnedFd::from);
    if io.stdin.is_empty() {
        return Ok(([None, out, err], None, kept));
    }
    let (r, w) = fd::pipe().context("stdin pipe")?;
    let stdin = copy_in(&io.stdin, File::from(w))?;
    Ok(([Some(r), out, err], Some(stdin), kept))
}

/// Connects a terminal's master to the FIFOs.
pub fn attach(io: &Io, master: OwnedFd) -> Result<(Console, Option<Stdin>, Kept)> {
    let mut kept = Kept::default();
    let master = File::from(master);
    let stdin = if io.stdin.is_empty() {
        None
    } else {
        Some(copy_in(
            &io.stdin,
            master.try_clone().context("dup the terminal")?,
        )?)
    };
    if let Some(mut out) = writer(&io.stdout, "stdout", &mut kept)? {
        let mut from = master.try_clone().context("dup the terminal")?;
        std::thread::Builder::new()
            .name("tty-out".into())
            .spawn(move || {
                // Ends with EIO once the process side of the terminal is closed.
                let _ = copy(&mut from, |b| out.write_all(b));
            })
            .context("start the terminal copier")?;
    }
    Ok((Console { master }, stdin, kept))
}

/// Opens a FIFO for writing without waiting for a reader: a non-blocking read-only open never
/// waits, and with it held a write-only open finds a reader. The read end goes to `kept`.
fn writer(path: &str, what: &str, kept: &mut Kept) -> Result<Option<File>> {
    if path.is_empty() {
        return Ok(None);
    }
    let reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("{what} fifo {path}"))?;
    let w = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("{what} fifo {path}"))?;
    kept._held.push(reader);
    Ok(Some(w))
}

/// Copies the stdin FIFO into `to` on a thread, until end-of-file or `Stdin::close`.
fn copy_in(path: &str, to: File) -> Result<Stdin> {
    let writer = Arc::new(Mutex::new(Some(to)));
    let w = writer.clone();
    let p = PathBuf::from(path);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            // Blocks until containerd opens its end.
            if let Ok(mut from) = open_reader(&p) {
                let _ = copy(&mut from, |b| match lock(&w).as_mut() {
                    Some(t) => t.write_all(b),
                    None => Err(std::io::ErrorKind::BrokenPipe.into()),
                });
            }
            drop(lock(&w).take());
        })
        .context("start the stdin copier")?;
    Ok(Stdin {
        writer,
        path: PathBuf::from(path),
    })
}

fn open_reader(p: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(p)
}

fn copy(from: &mut File, mut put: impl FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut buf = [0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => put(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(p: &Path) {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid C string for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn fifo_writer_gives_end_of_file_when_dropped() {
        let dir = std::env::temp_dir().join(format!("bulkhead-shim-stdio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("out");
        mkfifo(&p);
        let mut reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .unwrap();
        let io = Io {
            stdout: p.to_str().unwrap().into(),
            ..Default::default()
        };
        let ([_, out, _], stdin, _kept) = open(&io).unwrap();
        assert!(stdin.is_none());
        File::from(out.unwrap()).write_all(b"hi").unwrap();
        let mut got = String::new();
        reader.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_fifo_is_named() {
        let io = Io {
            stdout: "/nonexistent/bulkhead/out".into(),
            ..Default::default()
        };
        let e = open(&io).err().unwrap();
        assert!(format!("{e:#}").starts_with("stdout fifo /nonexistent/bulkhead/out"));
    }
}
