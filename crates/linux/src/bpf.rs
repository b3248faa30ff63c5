//! eBPF for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it
//! to a cgroup directory. (cgroup v2 has no devices.allow/deny files; the kernel asks the
//! attached programs about every device open and mknod in the cgroup.)

use crate::cvt;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One eBPF instruction, in the kernel's layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low nibble, src register in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The first fields of `union bpf_attr` for BPF_PROG_LOAD; the rest stays zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    _rest: [u64; 10],
}

/// The fields of `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: u32,
}

/// Loads a cgroup device program; the verifier's complaint, if any, is in the error (one line:
/// the last thing it said). The first load asks for no log: with a log the kernel fails a
/// program that verifies (ENOSPC) as soon as the log outgrows its buffer, which a config's
/// usual twenty-odd rules do. Only a refused program is loaded again, for the log.
pub fn load_device_program(insns: &[Insn]) -> io::Result<OwnedFd> {
    let e = match prog_load(insns, None) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut log = vec![0u8; 1 << 20];
    match prog_load(insns, Some(&mut log)) {
        Ok(fd) => Ok(fd),
        Err(_) => {
            let text = String::from_utf8_lossy(&log);
            let last = text
                .trim_end_matches('\0')
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            Err(io::Error::new(e.kind(), format!("{e}: {last}")))
        }
    }
}

/// One BPF_PROG_LOAD of a cgroup device program, with the verifier's log in `log` if given.
fn prog_load(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let license = CString::new("Apache-2.0").map_err(|_| io::ErrorKind::InvalidInput)?;
    let (log_level, log_size, log_buf) = match log {
        Some(l) => (1, l.len() as u32, l.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        ..Default::default()
    };
    // SAFETY: `attr` is a bpf_attr prefix of the size passed, zero beyond the fields set; the
    // instruction array, license string and log buffer (if any) it points to outlive the
    // call, and the log's size is its real length.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches a loaded device program to the cgroup directory `cgroup` (opened O_DIRECTORY).
/// Programs attached higher up keep applying: a device is allowed only if all allow it.
pub fn attach_device_program(prog: &OwnedFd, cgroup: &impl AsRawFd) -> io::Result<()> {
    let attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // SAFETY: `attr` is a bpf_attr prefix of the size passed; it holds only integers.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttach,
            std::mem::size_of::<ProgAttach>(),
        )
    })?;
    Ok(())
}
