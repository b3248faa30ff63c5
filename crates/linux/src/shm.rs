//! A memory file (memfd) mapped into this process: the sentry's backing store for application
//! memory. Reads and writes are bounds-checked here, so a bad offset is an error, never a stray
//! access.

use crate::cvt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;

pub struct MemFile {
    fd: OwnedFd,
    base: *mut u8,
    size: usize,
}

// SAFETY: the mapping is owned by this value; access goes through &self/&mut self methods that
// check bounds. The sentry is single-threaded, but nothing here depends on it.
unsafe impl Send for MemFile {}

impl MemFile {
    /// Creates a sparse memory file of `size` bytes (nothing is committed until touched) and maps
    /// it shared into this process.
    pub fn new(name: &str, size: usize) -> io::Result<MemFile> {
        let fd = OwnedFd::from(crate::fd::memfd(name)?);
        // SAFETY: integer arguments only.
        cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) })?;
        // SAFETY: a fresh shared mapping of the whole file; unmapped in Drop and never exposed
        // as a Rust reference beyond the checked slices below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(MemFile {
            fd,
            base: base.cast(),
            size,
        })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    pub fn size(&self) -> usize {
        self.size
    }

    fn check(&self, off: usize, len: usize) -> io::Result<()> {
        match off.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
        }
    }

    /// The bytes at [off, off+len) of the file.
    pub fn slice(&self, off: usize, len: usize) -> io::Result<&[u8]> {
        self.check(off, len)?;
        // SAFETY: bounds checked above; the mapping lives as long as self.
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(off), len) })
    }

    /// The bytes at [off, off+len), writable.
    pub fn slice_mut(&mut self, off: usize, len: usize) -> io::Result<&mut [u8]> {
        self.check(off, len)?;
        // SAFETY: bounds checked; &mut self guarantees no other slice of ours is alive.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.base.add(off), len) })
    }

    /// The aligned 32-bit word at `off`, for atomic operations on memory that other processes
    /// (the application's threads) change at the same time: futex words.
    pub fn word(&self, off: usize) -> io::Result<&AtomicU32> {
        self.check(off, 4)?;
        if !off.is_multiple_of(4) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: bounds and alignment checked; the mapping lives as long as self, and
        // AtomicU32 is the type for a word that others write concurrently.
        Ok(unsafe { AtomicU32::from_ptr(self.base.add(off).cast()) })
    }

    /// Replaces the 5 bytes at `off` (which must hold `old`) with `new` while other threads
    /// may be executing them: with one aligned 8-byte atomic store when the 5 bytes lie in
    /// one aligned qword, with cmpxchg16b when they lie in one aligned 16 bytes; otherwise
    /// only when `alone` (no other thread runs them), with a plain copy. Returns whether the
    /// bytes were replaced (false: they were not `old`, or no way fits).
    pub fn replace_code(&self, off: usize, old: [u8; 5], new: [u8; 5], alone: bool) -> bool {
        let q16 = off & !15;
        if self.check(q16, 16).is_err() || self.check(off, 5).is_err() {
            return false;
        }
        let at = off - q16;
        if at % 8 <= 3 {
            let q8 = off & !7;
            let i = off - q8;
            // SAFETY: in bounds (checked above: [q16, q16+16) holds [q8, q8+8)) and 8-byte
            // aligned; the bytes are shared with other processes, which only execute them, so
            // they are accessed atomically here.
            let word = unsafe { std::sync::atomic::AtomicU64::from_ptr(self.base.add(q8).cast()) };
            let cur = word.load(std::sync::atomic::Ordering::SeqCst).to_le_bytes();
            if cur[i..i + 5] != old {
                return false;
            }
            let mut b = cur;
            b[i..i + 5].copy_from_slice(&new);
            return word
                .compare_exchange(
                    u64::from_le_bytes(cur),
                    u64::from_le_bytes(b),
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_ok();
        }
        if at <= 11 {
            // SAFETY: in bounds and 16-byte aligned (q16), as cmpxchg16b needs.
            return unsafe { cmpxchg16b_bytes(self.base.add(q16), at, old, new) };
        }
        if !alone {
            return false;
        }
        // SAFETY: in bounds; no other thread executes these bytes (`alone`).
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.base.add(off), 5) };
        if bytes[..] != old {
            return false;
        }
        bytes.copy_from_slice(&new);
        true
    }

    /// A view of [off, off+len) that outlives no borrow of `self`: for memory the sentry shares
    /// with a stub process (the systrap platform's control blocks), read and written while the
    /// stub runs. The caller keeps this MemFile alive as long as the view is used (the
    /// platform holds the sentry's memory with every view it makes).
    pub fn region(&self, off: usize, len: usize) -> io::Result<Region> {
        self.check(off, len)?;
        if !off.is_multiple_of(8) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: bounds checked: the pointer stays inside our mapping.
        Ok(Region {
            base: unsafe { self.base.add(off) },
            len,
        })
    }

    /// The parts of [off, off+len) that hold data, as (offset, length): the file's holes
    /// (pages never written, or punched) are left out, found with SEEK_DATA and SEEK_HOLE.
    pub fn data_extents(&self, off: usize, len: usize) -> io::Result<Vec<(usize, usize)>> {
        self.check(off, len)?;
        let end = off + len;
        let mut out = Vec::new();
        let mut at = off;
        while at < end {
            // SAFETY: integer arguments only.
            let data = unsafe { libc::lseek(self.fd.as_raw_fd(), at as i64, libc::SEEK_DATA) };
            if data < 0 {
                let e = io::Error::last_os_error();
                // ENXIO: no data from `at` to the end of the file.
                return if e.raw_os_error() == Some(libc::ENXIO) {
                    Ok(out)
                } else {
                    Err(e)
                };
            }
            let data = data as usize;
            if data >= end {
                break;
            }
            // SAFETY: integer arguments only.
            let hole = unsafe { libc::lseek(self.fd.as_raw_fd(), data as i64, libc::SEEK_HOLE) };
            let hole = if hole < 0 {
                end
            } else {
                (hole as usize).min(end)
            };
            out.push((data, hole - data));
            at = hole;
        }
        Ok(out)
    }

    /// Allocates the pages of [off, off+len) at once (MADV_POPULATE_WRITE), before they are
    /// filled: one call instead of a page fault per page. Best effort (older kernels: no-op).
    pub fn populate(&self, off: usize, len: usize) {
        const MADV_POPULATE_WRITE: i32 = 23;
        if self.check(off, len).is_ok() && len > 0 {
            let start = off & !4095;
            // SAFETY: the range is inside our own mapping; the call only faults pages in.
            unsafe {
                libc::madvise(
                    self.base.add(start).cast(),
                    off + len - start,
                    MADV_POPULATE_WRITE,
                )
            };
        }
    }

    /// Gives the pages of [off, off+len) back to the host; they read as zeros afterwards.
    pub fn punch(&self, off: usize, len: usize) -> io::Result<()> {
        self.check(off, len)?;
        // SAFETY: integer arguments only.
        cvt(unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                off as libc::off_t,
                len as libc::off_t,
            )
        })?;
        Ok(())
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        // SAFETY: base/size describe the mapping made in new().
        unsafe { libc::munmap(self.base.cast(), self.size) };
    }
}

/// A range of a MemFile's mapping shared with another process, which changes it at any time:
/// every access is bounds-checked, words that the two sides hand over are atomics, the rest is
/// read and written with volatile copies (plain data whose validity the reader checks).
/// Invariant: the MemFile it was made from is alive while it is used (see `MemFile::region`).
pub struct Region {
    base: *mut u8,
    len: usize,
}

impl Region {
    fn check(&self, off: usize, len: usize) -> bool {
        off.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// The aligned 32-bit word at `off`; None outside the region or unaligned.
    pub fn word(&self, off: usize) -> Option<&AtomicU32> {
        if !self.check(off, 4) || !off.is_multiple_of(4) {
            return None;
        }
        // SAFETY: in bounds and aligned; the mapping outlives the region (type invariant);
        // AtomicU32 is the type for a word another process writes concurrently.
        Some(unsafe { AtomicU32::from_ptr(self.base.add(off).cast()) })
    }

    /// The u64 at `off` (0 outside the region).
    pub fn get(&self, off: usize) -> u64 {
        if !self.check(off, 8) {
            return 0;
        }
        // SAFETY: in bounds; read_unaligned+volatile: the other side may be writing it, any
        // bit pattern is a valid u64.
        u64::from_ne_bytes(unsafe { std::ptr::read_volatile(self.base.add(off).cast::<[u8; 8]>()) })
    }

    /// Stores `v` at `off` (nothing outside the region).
    pub fn set(&self, off: usize, v: u64) {
        if self.check(off, 8) {
            // SAFETY: in bounds; a byte-array store has no alignment requirement.
            unsafe {
                std::ptr::write_volatile(self.base.add(off).cast::<[u8; 8]>(), v.to_ne_bytes())
            }
        }
    }

    /// Copies [off, off+out.len()) out; false outside the region.
    pub fn read(&self, off: usize, out: &mut [u8]) -> bool {
        if !self.check(off, out.len()) {
            return false;
        }
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked for the whole range above).
            *b = unsafe { std::ptr::read_volatile(self.base.add(off + i)) };
        }
        true
    }

    /// Copies `data` in at `off`; false outside the region.
    pub fn write(&self, off: usize, data: &[u8]) -> bool {
        if !self.check(off, data.len()) {
            return false;
        }
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked for the whole range above).
            unsafe { std::ptr::write_volatile(self.base.add(off + i), *b) };
        }
        true
    }
}

/// Replaces bytes [at, at+5) of the 16 aligned bytes at `p` (which must hold `old` there) with
/// `new` in one atomic 16-byte compare-and-exchange.
///
/// # Safety
/// `p` is 16-byte aligned and valid for reads and writes of 16 bytes; others access those
/// bytes only atomically or by executing them.
unsafe fn cmpxchg16b_bytes(p: *mut u8, at: usize, old: [u8; 5], new: [u8; 5]) -> bool {
    let cur: [u8; 16] = std::ptr::read_volatile(p.cast::<[u8; 16]>());
    if cur[at..at + 5] != old {
        return false;
    }
    let mut want = cur;
    want[at..at + 5].copy_from_slice(&new);
    let (lo, hi) = (
        u64::from_le_bytes(cur[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(cur[8..].try_into().unwrap_or_default()),
    );
    let (nlo, nhi) = (
        u64::from_le_bytes(want[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(want[8..].try_into().unwrap_or_default()),
    );
    let ok: u8;
    std::arch::asm!(
        "xchg rbx, {nlo}",
        "lock cmpxchg16b xmmword ptr [{p}]",
        "sete {ok}",
        "mov rbx, {nlo}",
        p = in(reg) p,
        nlo = inout(reg) nlo => _,
        ok = out(reg_byte) ok,
        inout("rax") lo => _,
        inout("rdx") hi => _,
        in("rcx") nhi,
        options(nostack),
    );
    ok != 0
}
