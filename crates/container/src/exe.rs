//! Finding the container's executable, and refusing to execute the runtime itself.
//!
//! CVE-2019-5736: a container whose program is (or whose script interpreter or ELF interpreter
//! is) `/proc/self/exe` makes the runtime's init execute the *runtime binary* inside the
//! container, where the container can then open it for writing. bulkhead's init is a fork of the
//! runtime, not a re-exec of a copied binary, so instead of copying the binary on every start we
//! check the whole chain the kernel will follow (program, `#!` interpreters, PT_INTERP) and refuse
//! if any link of it is the runtime's own file. Until exec the init is also non-dumpable, so no
//! process of the container can open its /proc/<pid>/exe.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The default search path when the process env has no PATH (the same as runc's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `prog` the way execvp does, against PATH from `env`. Errors use runc's wording,
/// which podman and containerd match to return 127/126.
pub fn resolve(prog: &str, env: &[String]) -> Result<PathBuf> {
    if prog.is_empty() {
        return Err(Error::Config("process.args: must not be empty".into()));
    }
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err(Error::Child(format!("exec: {prog:?}: is a directory"))),
            Ok(m) if m.is_file() => Ok(p),
            // A FIFO, socket or device: execve answers EACCES (and opening a FIFO to look
            // inside would block until a writer came).
            Ok(_) => Err(Error::Child(format!("exec: {prog:?}: permission denied"))),
            Err(e) => Err(Error::Child(format!(
                "exec: {prog:?}: stat {prog}: {}",
                os_msg(&e)
            ))),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(prog);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(Error::Child(format!(
        "exec: {prog:?}: executable file not found in $PATH"
    )))
}

/// An io::Error's message without Rust's " (os error N)" suffix, the way Go prints it.
fn os_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// The identity (device, inode) of the running runtime binary.
pub fn runtime_identity() -> std::io::Result<(u64, u64)> {
    let m = std::fs::metadata("/proc/self/exe")?;
    Ok((m.dev(), m.ino()))
}

/// Refuses `path` if it, or any interpreter it names, is the runtime binary `me`.
pub fn check_not_runtime(path: &Path, me: (u64, u64)) -> Result<()> {
    check_chain(path, me, 0)
}

fn check_chain(path: &Path, me: (u64, u64), depth: u32) -> Result<()> {
    // The kernel stops at 4 levels of interpreters; one more than that is refused by it anyway.
    if depth > 5 {
        return Ok(());
    }
    let refuse = || {
        Err(Error::Child(format!(
            "exec: {}: refusing to execute the container runtime binary inside the container (CVE-2019-5736)",
            path.display()
        )))
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()), // exec will report it
    };
    if (meta.dev(), meta.ino()) == me {
        return refuse();
    }
    // Only a regular file can be executed, or name an interpreter; opening anything else (a
    // FIFO) could block.
    if !meta.is_file() {
        return Ok(());
    }
    // Unreadable (exec-only) files cannot name an interpreter we could inspect; the kernel reads
    // them with its own credentials, and their first link was already checked above.
    let Ok(mut f) = File::open(path) else {
        return Ok(());
    };
    let mut head = [0u8; 256];
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    if let Some(interp) = shebang_interpreter(head) {
        return check_chain(Path::new(&interp), me, depth + 1);
    }
    if let Some(interp) = elf_interpreter(&mut f) {
        return check_chain(Path::new(&interp), me, depth + 1);
    }
    Ok(())
}

/// The interpreter of a `#!` line.
fn shebang_interpreter(head: &[u8]) -> Option<String> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    line.split_whitespace().next().map(String::from)
}

/// PT_INTERP of a 64-bit little-endian ELF file.
fn elf_interpreter(f: &mut File) -> Option<String> {
    let mut ehdr = [0u8; 64];
    f.seek(SeekFrom::Start(0)).ok()?;
    f.read_exact(&mut ehdr).ok()?;
    if &ehdr[..4] != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let (phoff, phentsize, phnum) = (
        u64_at(&ehdr, 0x20),
        u16_at(&ehdr, 0x36),
        u16_at(&ehdr, 0x38),
    );
    if phentsize < 56 || phnum > 256 {
        return None;
    }
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        f.seek(SeekFrom::Start(phoff + i * phentsize)).ok()?;
        f.read_exact(&mut ph).ok()?;
        if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == 3 {
            let (off, size) = (u64_at(&ph, 8), u64_at(&ph, 32));
            if size == 0 || size > 4096 {
                return None;
            }
            let mut buf = vec![0u8; size as usize];
            f.seek(SeekFrom::Start(off)).ok()?;
            f.read_exact(&mut buf).ok()?;
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(
            shebang_interpreter(b"#!/bin/sh -e\necho"),
            Some("/bin/sh".into())
        );
        assert_eq!(
            shebang_interpreter(b"#! /proc/self/exe\n"),
            Some("/proc/self/exe".into())
        );
        assert_eq!(shebang_interpreter(b"\x7fELF"), None);
    }

    #[test]
    fn finds_the_dynamic_loader_of_a_real_binary() {
        // /bin/ls on Debian is dynamically linked.
        let mut f = File::open("/bin/ls").unwrap();
        let interp = elf_interpreter(&mut f).unwrap();
        assert!(interp.contains("ld-linux"), "{interp}");
    }

    #[test]
    fn refuses_the_runtime_itself_through_proc_self_exe() {
        let me = runtime_identity().unwrap();
        let err = check_not_runtime(Path::new("/proc/self/exe"), me)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CVE-2019-5736"), "{err}");
        assert!(check_not_runtime(Path::new("/bin/ls"), me).is_ok());
    }

    #[test]
    fn lookup_errors_use_runc_wording() {
        let env = vec!["PATH=/nonexistent".to_string()];
        let e = resolve("nosuchprog", &env).unwrap_err().to_string();
        assert_eq!(
            e,
            "exec: \"nosuchprog\": executable file not found in $PATH"
        );
        let e = resolve("/no/such", &env).unwrap_err().to_string();
        assert_eq!(
            e,
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
    }
}
