//! The loader: puts an x86-64 ELF executable (static or with a PT_INTERP dynamic loader) or a
//! `#!` script into a fresh address space, and builds the initial stack Linux gives a process:
//! argc, argv, envp, auxv, AT_RANDOM bytes and the strings.

use crate::filecache::{self, Key};
use crate::kernel::creds::Creds;
use crate::mm::{page_down, page_up, Errno, Mm};
use crate::platform::{AddressSpace, Regs};
use crate::vfs::Fs;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const ET_DYN: u16 = 3;
/// Where a position-independent executable is loaded (as Linux does without ASLR).
const PIE_BASE: u64 = 0x5555_5555_4000;
const STACK_TOP: u64 = 0x7ffe_0000_0000;
const STACK_SIZE: u64 = 8 << 20;

/// What was loaded: where to start and what /proc/self should say.
pub struct Loaded {
    pub regs: Regs,
    pub exe_path: String,
    /// The name exec gives the process (/proc/PID/comm): the file name it was asked to run,
    /// links not followed (busybox's `sh`, not `busybox`), a script's own (not its
    /// interpreter's), cut to 15 bytes.
    pub name: String,
    pub argv: Vec<String>,
    /// The credentials the program runs with (the caller's, through execve's rules for the
    /// file it runs: set-id bits, capabilities).
    pub creds: Creds,
}

struct Elf {
    entry: u64,
    etype: u16,
    phoff: u64,
    phnum: u16,
    phentsize: u16,
    phdrs: Vec<Phdr>,
}

#[derive(Clone, Copy)]
struct Phdr {
    ptype: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

fn parse(f: &File) -> Result<Elf, Errno> {
    let mut h = [0u8; 64];
    f.read_exact_at(&mut h, 0).map_err(|_| libc::ENOEXEC)?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 || u16_at(&h, 18) != 62 {
        return Err(libc::ENOEXEC);
    }
    let (phoff, phentsize, phnum) = (u64_at(&h, 0x20), u16_at(&h, 0x36), u16_at(&h, 0x38));
    if phentsize < 56 || phnum == 0 || phnum > 128 {
        return Err(libc::ENOEXEC);
    }
    let mut raw = vec![0u8; phentsize as usize * phnum as usize];
    f.read_exact_at(&mut raw, phoff)
        .map_err(|_| libc::ENOEXEC)?;
    let phdrs = raw
        .chunks(phentsize as usize)
        .map(|p| Phdr {
            ptype: u32_at(p, 0),
            flags: u32_at(p, 4),
            offset: u64_at(p, 8),
            vaddr: u64_at(p, 16),
            filesz: u64_at(p, 32),
            memsz: u64_at(p, 40),
        })
        .collect();
    Ok(Elf {
        entry: u64_at(&h, 0x18),
        etype: u16_at(&h, 16),
        phoff,
        phnum,
        phentsize,
        phdrs,
    })
}

fn prot_of(flags: u32) -> i32 {
    let mut p = 0;
    if flags & 4 != 0 {
        p |= libc::PROT_READ;
    }
    if flags & 2 != 0 {
        p |= libc::PROT_WRITE;
    }
    if flags & 1 != 0 {
        p |= libc::PROT_EXEC;
    }
    p
}

/// Maps the PT_LOAD segments of `elf` at `bias`; returns the end of the highest one. The
/// read-only ones (text, read-only data) are the file cache's pages, shared by every process
/// that runs the same file (filecache.rs); the writable ones are filled into fresh memory.
fn map_segments(
    mm: &mut Mm,
    asp: &mut dyn AddressSpace,
    f: &File,
    elf: &Elf,
    bias: u64,
) -> Result<u64, Errno> {
    let st = crate::host::fstat_raw(f.as_raw_fd()).map_err(|_| libc::ENOEXEC)?;
    let mut top = 0;
    for p in elf.phdrs.iter().filter(|p| p.ptype == PT_LOAD) {
        let start = page_down(bias + p.vaddr);
        let end = page_up(bias + p.vaddr + p.memsz);
        if end <= start {
            continue;
        }
        if p.offset.saturating_add(p.filesz) > st.st_size as u64 {
            return Err(libc::ENOEXEC);
        }
        let prot = prot_of(p.flags);
        if prot & libc::PROT_WRITE == 0 {
            let key = Key {
                file: filecache::file_id(&st),
                offset: p.offset,
                lead: bias + p.vaddr - start,
                filesz: p.filesz,
                len: end - start,
            };
            mm.map_file(asp, Some(start), prot, true, f.as_raw_fd(), key)?;
            top = top.max(end);
            continue;
        }
        // Fill while writable, then set the segment's own protection.
        mm.map(
            asp,
            Some(start),
            end - start,
            libc::PROT_READ | libc::PROT_WRITE,
            true,
        )?;
        let got = mm
            .read_file(bias + p.vaddr, p.filesz, f.as_raw_fd(), p.offset)
            .map_err(|_| libc::ENOEXEC)?;
        if got < p.filesz {
            return Err(libc::ENOEXEC);
        }
        if prot != libc::PROT_READ | libc::PROT_WRITE {
            mm.protect(asp, start, end - start, prot)?;
        }
        top = top.max(end);
    }
    Ok(top)
}

/// Total span of the PT_LOAD segments, to reserve room for a position-independent object.
fn span(elf: &Elf) -> u64 {
    let loads = elf.phdrs.iter().filter(|p| p.ptype == PT_LOAD);
    let lo = loads.clone().map(|p| page_down(p.vaddr)).min().unwrap_or(0);
    let hi = loads.map(|p| page_up(p.vaddr + p.memsz)).max().unwrap_or(0);
    hi - lo
}

/// Loads `path` (resolved in the sandbox's file system) with `argv` and `envp`, for a task
/// with credentials `creds`.
#[allow(clippy::too_many_arguments)]
pub fn load(
    fs: &Fs,
    mm: &mut Mm,
    asp: &mut dyn AddressSpace,
    base_regs: &Regs,
    path: &str,
    argv: Vec<String>,
    envp: &[String],
    creds: &Creds,
) -> Result<Loaded, Errno> {
    let mut loaded = load_depth(fs, mm, asp, base_regs, path, argv, envp, creds, 0)?;
    loaded.name = comm_of(path);
    Ok(loaded)
}

/// The last component of `path`, cut to 15 bytes (TASK_COMM_LEN less its NUL) on a
/// character boundary.
pub fn comm_of(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or("");
    let mut end = base.len().min(15);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    base[..end].to_string()
}

#[allow(clippy::too_many_arguments)]
fn load_depth(
    fs: &Fs,
    mm: &mut Mm,
    asp: &mut dyn AddressSpace,
    base_regs: &Regs,
    path: &str,
    argv: Vec<String>,
    envp: &[String],
    creds: &Creds,
    depth: u32,
) -> Result<Loaded, Errno> {
    let f = fs.open_exec(path)?;
    let mut head = [0u8; 256];
    let n = f.read_at(&mut head, 0).map_err(|_| libc::EIO)?;
    if head[..n].starts_with(b"#!") {
        if depth >= 4 {
            return Err(libc::ELOOP);
        }
        let line = head[2..n].split(|b| *b == b'\n').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line).trim().to_string();
        let (interp, arg) = match line.split_once(char::is_whitespace) {
            Some((i, a)) => (i.to_string(), Some(a.trim().to_string())),
            None => (line.clone(), None),
        };
        if interp.is_empty() {
            return Err(libc::ENOEXEC);
        }
        let mut new_argv = vec![interp.clone()];
        new_argv.extend(arg);
        new_argv.push(path.to_string());
        new_argv.extend(argv.into_iter().skip(1));
        return load_depth(
            fs,
            mm,
            asp,
            base_regs,
            &interp,
            new_argv,
            envp,
            creds,
            depth + 1,
        );
    }
    let elf = parse(&f)?;
    // The set-id bits are the ELF file's: a script's own are ignored, as on Linux.
    let st = crate::host::fstat_raw(f.as_raw_fd()).map_err(|_| libc::EIO)?;
    let mut creds = creds.clone();
    let secure = creds.exec(st.st_mode, (st.st_uid, st.st_gid));
    let bias = if elf.etype == ET_DYN { PIE_BASE } else { 0 };
    let top = map_segments(mm, asp, &f, &elf, bias)?;
    mm.set_brk_start(top);
    let phdr_addr = match elf.phdrs.iter().find(|p| p.ptype == PT_PHDR) {
        Some(p) => bias + p.vaddr,
        None => {
            let first = elf
                .phdrs
                .iter()
                .find(|p| {
                    p.ptype == PT_LOAD && p.offset <= elf.phoff && elf.phoff < p.offset + p.filesz
                })
                .ok_or(libc::ENOEXEC)?;
            bias + first.vaddr + (elf.phoff - first.offset)
        }
    };
    let mut entry = bias + elf.entry;
    let mut interp_base = 0;
    if let Some(ip) = elf.phdrs.iter().find(|p| p.ptype == PT_INTERP) {
        let mut name = vec![0u8; ip.filesz as usize];
        f.read_exact_at(&mut name, ip.offset)
            .map_err(|_| libc::ENOEXEC)?;
        let name =
            String::from_utf8_lossy(name.split(|b| *b == 0).next().unwrap_or(&[])).into_owned();
        let lf = fs.open_exec(&name)?;
        let le = parse(&lf)?;
        // Reserve room for the loader, then place it there.
        let base = mm.map(asp, None, span(&le), libc::PROT_NONE, false)?;
        mm.unmap(asp, base, span(&le))?;
        map_segments(mm, asp, &lf, &le, base)?;
        interp_base = base;
        entry = base + le.entry;
    }
    let stack_base = mm.map(
        asp,
        Some(STACK_TOP - STACK_SIZE),
        STACK_SIZE,
        libc::PROT_READ | libc::PROT_WRITE,
        true,
    )?;
    let _ = stack_base;
    let mut auxv = vec![
        (libc::AT_PHDR, phdr_addr),
        (libc::AT_PHENT, elf.phentsize as u64),
        (libc::AT_PHNUM, elf.phnum as u64),
        (libc::AT_PAGESZ, 4096),
        (libc::AT_BASE, interp_base),
        (libc::AT_FLAGS, 0),
        (libc::AT_ENTRY, bias + elf.entry),
        (libc::AT_UID, creds.uids.real as u64),
        (libc::AT_EUID, creds.uids.eff as u64),
        (libc::AT_GID, creds.gids.real as u64),
        (libc::AT_EGID, creds.gids.eff as u64),
        (libc::AT_SECURE, u64::from(secure)),
        (libc::AT_CLKTCK, 100),
        (libc::AT_HWCAP, host_hwcap()),
    ];
    if let Some(v) = crate::platform::Vdso::get() {
        auxv.push((libc::AT_SYSINFO_EHDR, v.ehdr));
    }
    let sp = build_stack(mm, &argv, envp, path, &auxv)?;
    let mut regs = *base_regs;
    zero_gprs(&mut regs);
    regs.rip = entry;
    regs.rsp = sp;
    regs.eflags = 0x202;
    regs.fs_base = 0;
    regs.gs_base = 0;
    regs.orig_rax = u64::MAX;
    Ok(Loaded {
        regs,
        exe_path: fs.canonical(path),
        name: String::new(),
        argv,
        creds,
    })
}

fn zero_gprs(r: &mut Regs) {
    for reg in [
        &mut r.rax, &mut r.rbx, &mut r.rcx, &mut r.rdx, &mut r.rsi, &mut r.rdi, &mut r.rbp,
        &mut r.r8, &mut r.r9, &mut r.r10, &mut r.r11, &mut r.r12, &mut r.r13, &mut r.r14,
        &mut r.r15,
    ] {
        *reg = 0;
    }
}

fn host_hwcap() -> u64 {
    bulkhead_linux::process::hwcap()
}

/// Lays out strings, AT_RANDOM, auxv, envp, argv and argc from STACK_TOP down; returns the
/// initial stack pointer (16-byte aligned at argc, as the ABI requires).
fn build_stack(
    mm: &mut Mm,
    argv: &[String],
    envp: &[String],
    execfn: &str,
    auxv: &[(u64, u64)],
) -> Result<u64, Errno> {
    let mut sp = STACK_TOP;
    let mut push_bytes = |mm: &mut Mm, data: &[u8]| -> Result<u64, Errno> {
        sp -= data.len() as u64;
        mm.write(sp, data)?;
        Ok(sp)
    };
    let cstr = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    let execfn_addr = push_bytes(mm, &cstr(execfn))?;
    let mut env_addrs = Vec::new();
    for e in envp.iter().rev() {
        env_addrs.push(push_bytes(mm, &cstr(e))?);
    }
    env_addrs.reverse();
    let mut arg_addrs = Vec::new();
    for a in argv.iter().rev() {
        arg_addrs.push(push_bytes(mm, &cstr(a))?);
    }
    arg_addrs.reverse();
    let platform = push_bytes(mm, b"x86_64\0")?;
    let mut random = [0u8; 16];
    let _ = crate::host::getrandom(&mut random);
    let random_addr = push_bytes(mm, &random)?;
    let mut words: Vec<u64> = Vec::new();
    words.push(argv.len() as u64);
    words.extend(&arg_addrs);
    words.push(0);
    words.extend(&env_addrs);
    words.push(0);
    for (k, v) in auxv {
        words.push(*k);
        words.push(*v);
    }
    for (k, v) in [
        (libc::AT_RANDOM, random_addr),
        (libc::AT_PLATFORM, platform),
        (libc::AT_EXECFN, execfn_addr),
        (libc::AT_NULL, 0),
    ] {
        words.push(k);
        words.push(v);
    }
    let mut start = (sp - words.len() as u64 * 8) & !15;
    let sp_final = start;
    for w in words {
        mm.write(start, &w.to_le_bytes())?;
        start += 8;
    }
    Ok(sp_final)
}
