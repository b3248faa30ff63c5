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
