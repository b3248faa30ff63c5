//! Application memory. Every mapping of the application is backed by a range of the sentry's
//! memory file, which the sentry maps too: copy-in and copy-out are plain memory accesses with
//! bounds and permission checks, and a bad pointer is EFAULT, never a sentry crash.

use crate::filecache::{FileCache, Key};
use crate::platform::ptrace::{PAGE, STUB_ADDR, TASK_SIZE};
use crate::platform::systrap::layout::STUB_END;
use crate::platform::AddressSpace;
use bulkhead_linux::shm::MemFile;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

pub type Errno = i32;

/// One mapping: [start, end) backed by the memory file from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: i32,
    pub offset: u64,
    /// MAP_SHARED: a fork maps the same memory-file range instead of a copy.
    pub shared: bool,
    /// A range of read-only file pages of the file cache (filecache.rs), which this mapping
    /// is one user of; `shared` is set too.
    pub cached: Option<u32>,
}

/// What a futex waits on (see `Mm::futex_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutexKey {
    /// A place in the memory file: a shared futex on shared memory.
    Memory(u64),
    /// An address in one address space (`mm` names it while it lives).
    Private { mm: usize, addr: u64 },
}

/// The memory file every address space of the sandbox is backed by, and the next unused
/// offset in it (ranges are never reused; freed ones are punched).
pub struct Memory {
    pub(crate) file: MemFile,
    next: u64,
    cache: FileCache,
}

impl Memory {
    pub fn new() -> std::io::Result<Rc<RefCell<Memory>>> {
        Ok(Rc::new(RefCell::new(Memory {
            file: MemFile::new("bulkhead-sentry-memory", MEM_FILE_SIZE)?,
            next: 0,
            cache: FileCache::default(),
        })))
    }

    pub fn fd(&self) -> i32 {
        self.file.fd()
    }

    pub(crate) fn alloc(&mut self, len: u64) -> Result<u64, Errno> {
        let off = self.next;
        if off + len > self.file.size() as u64 {
            return Err(libc::ENOMEM);
        }
        self.next += len;
        Ok(off)
    }

    /// A range for the platform's own shared memory (systrap's control blocks).
    pub fn alloc_platform(&mut self, len: u64) -> Result<u64, Errno> {
        self.alloc(len)
    }

    /// The sentry's view of a platform range, for memory a stub changes while it runs.
    pub fn region(&self, off: u64, len: u64) -> std::io::Result<bulkhead_linux::shm::Region> {
        self.file.region(off as usize, len as usize)
    }

    /// Gives a platform range's pages back.
    pub fn punch_platform(&self, off: u64, len: u64) {
        let _ = self.file.punch(off as usize, len as usize);
    }

    /// One mapping of cached range `id` less (filecache.rs).
    pub(crate) fn release(&mut self, id: u32) {
        let Memory { file, cache, .. } = self;
        cache.release(id, file);
    }

    /// The memory-file range holding `key`'s bytes, with one more user: cached, or loaded
    /// now from host fd `fd`. (entry id, offset).
    fn cached(&mut self, key: &Key, fd: i32) -> Result<(u32, u64), Errno> {
        if let Some(hit) = self.cache.take(key) {
            return Ok(hit);
        }
        let at = self.alloc(key.len)?;
        if let Err(e) = self.load(key, fd, at) {
            let _ = self.file.punch(at as usize, key.len as usize);
            return Err(e);
        }
        Ok((self.cache.insert(*key, at), at))
    }

    /// Reads `key.filesz` bytes of `fd` from `key.offset` to `at + key.lead` (fewer at the
    /// file's end: the rest stays zero).
    fn load(&mut self, key: &Key, fd: i32, at: u64) -> Result<(), Errno> {
        let n = key.filesz.min(key.len.saturating_sub(key.lead)) as usize;
        self.fill((at + key.lead) as usize, n, fd, key.offset)
            .map(|_| ())
    }

    /// Reads `n` bytes of host file `fd` from `off` into the memory file at `at`, its pages
    /// populated in one call first; returns how many the file had (fewer at its end).
    fn fill(&mut self, at: usize, n: usize, fd: i32, off: u64) -> Result<usize, Errno> {
        self.file.populate(at, n);
        let dst = self.file.slice_mut(at, n).map_err(|_| libc::EFAULT)?;
        let mut got = 0;
        while got < n {
            match crate::host::pread(fd, &mut dst[got..], off as i64 + got as i64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) => return Err(e.raw_os_error().unwrap_or(libc::EIO)),
            }
        }
        Ok(got)
    }
}

/// The ranges of every address space that are the platform's: the stub's, the vDSO's.
fn reserved() -> impl Iterator<Item = (u64, u64)> {
    std::iter::once((STUB_ADDR, STUB_END))
        .chain(crate::platform::Vdso::get().map(|v| (v.start, v.end)))
}

/// Where new mappings without an address go: downwards from here, like Linux's mmap base.
const MMAP_TOP: u64 = 0x7ff0_0000_0000;
/// The lowest address a mapping may have (vm.mmap_min_addr).
const MIN_ADDR: u64 = 0x10000;
/// The memory file is sparse: this is address space for backing, not memory used.
const MEM_FILE_SIZE: usize = 64 << 30;

/// Rounds up to a page; like Linux's PAGE_ALIGN a length within a page of 2^64 wraps to 0,
/// which every caller refuses.
pub fn page_up(x: u64) -> u64 {
    x.wrapping_add(PAGE - 1) & !(PAGE - 1)
}

pub fn page_down(x: u64) -> u64 {
    x & !(PAGE - 1)
}

/// An address space's mappings (behind the `Mm` handle its threads share).
pub struct Space {
    pub(crate) mem: Rc<RefCell<Memory>>,
    pub(crate) vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    /// Bytes of the memory file in use by mappings.
    pub resident: u64,
    /// Patched call sites (patch.rs).
    pub(crate) patches: crate::patch::Patches,
}

impl Drop for Space {
    /// An address space that is gone (exit, exec) gives its private pages back.
    fn drop(&mut self) {
        let mut mem = self.mem.borrow_mut();
        for t in &self.patches.tramps {
            let _ = mem.file.punch(t.offset as usize, PAGE as usize);
        }
        for v in self.vmas.values() {
            if let Some(id) = v.cached {
                mem.release(id);
            } else if !v.shared {
                let _ = mem
                    .file
                    .punch(v.offset as usize, (v.end - v.start) as usize);
            }
        }
    }
}

impl Space {
    /// An empty address space backed by `mem`.
    pub fn new(mem: &Rc<RefCell<Memory>>) -> Space {
        Space {
            mem: mem.clone(),
            vmas: BTreeMap::new(),
            brk_start: 0,
            brk: 0,
            resident: 0,
            patches: Default::default(),
        }
    }

    pub fn mem_fd(&self) -> i32 {
        self.mem.borrow().fd()
    }

    pub fn memory(&self) -> &Rc<RefCell<Memory>> {
        &self.mem
    }

    /// fork: a copy of this address space in `asp` (a fresh stub). Private mappings get their
    /// own memory-file range with the same bytes (pages that are all zeros stay holes); shared
    /// ones are mapped from the same range, so both processes see each other's writes.
    pub fn fork(&self, asp: &mut dyn AddressSpace) -> Result<Space, Errno> {
        let mut child = Space::new(&self.mem);
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        for v in self.vmas.values() {
            let len = v.end - v.start;
            if let Some(id) = v.cached {
                self.mem.borrow_mut().cache.hold(id);
            }
            let offset = if v.shared {
                v.offset
            } else {
                let off = self.mem.borrow_mut().alloc(len)?;
                self.copy_pages(v.offset, off, len)?;
                off
            };
            asp.map(v.start, len, v.prot, offset)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
            child.vmas.insert(v.start, Vma { offset, ..*v });
            child.resident += len;
        }
        child.patches = self.patches.fork(self, asp)?;
        Ok(child)
    }

    /// Copies memory-file pages [from, from+len) to [to, to+len): only the parts that hold
    /// data (an untouched stack or heap is a hole, read by nobody), and of those the pages
    /// that are not all zeros.
    pub(crate) fn copy_pages(&self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        let extents = self
            .mem
            .borrow()
            .file
            .data_extents(from as usize, len as usize)
            .map_err(|_| libc::EFAULT)?;
        for (at, n) in extents {
            let skip = at as u64 - from;
            self.copy_data(at as u64, to + skip, n as u64)?;
        }
        Ok(())
    }

    /// Copies [from, from+len) to [to, to+len) a page at a time, leaving pages of zeros out.
    fn copy_data(&self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        let mut mem = self.mem.borrow_mut();
        mem.file.populate(to as usize, len as usize);
        let mut page = [0u8; PAGE as usize];
        for i in (0..len).step_by(PAGE as usize) {
            let src = mem
                .file
                .slice((from + i) as usize, PAGE as usize)
                .map_err(|_| libc::EFAULT)?;
            if src.iter().all(|b| *b == 0) {
                continue;
            }
            page.copy_from_slice(src);
            mem.file
                .slice_mut((to + i) as usize, PAGE as usize)
                .map_err(|_| libc::EFAULT)?
                .copy_from_slice(&page);
        }
        Ok(())
    }

    pub fn vmas(&self) -> Vec<Vma> {
        self.vmas.values().copied().collect()
    }

    /// Finds a free range of `len` bytes, top-down from MMAP_TOP, around the mappings and the
    /// platform's stub range.
    fn find_free(&self, len: u64) -> Option<u64> {
        let mut top = MMAP_TOP;
        let mut taken: Vec<(u64, u64)> = self.vmas.values().map(|v| (v.start, v.end)).collect();
        for r in reserved().chain(self.patches.ranges()) {
            let at = taken.partition_point(|&(s, _)| s < r.0);
            taken.insert(at, r);
        }
        for &(start, end) in taken.iter().rev() {
            if start >= top {
                continue;
            }
            if end <= top && top - end >= len {
                return Some(top - len);
            }
            top = top.min(start);
        }
        (top >= MIN_ADDR + len).then(|| top - len)
    }

    /// Whether [addr, addr+len) meets the stub's range or the host's vDSO, which every stub
    /// has at the same place, or a trampoline page of this address space (patch.rs): the
    /// application cannot map over them.
    fn overlaps_stub(&self, addr: u64, len: u64) -> bool {
        reserved()
            .chain(self.patches.ranges())
            .any(|(s, e)| addr < e && s < addr.saturating_add(len))
    }

    /// Every range an application mapping cannot take, sorted: its mappings, the platform's
    /// ranges and the trampoline pages.
    pub(crate) fn taken(&self) -> Vec<(u64, u64)> {
        let mut taken: Vec<(u64, u64)> = self.vmas.values().map(|v| (v.start, v.end)).collect();
        taken.extend(reserved().chain(self.patches.ranges()));
        taken.sort_unstable();
        taken
    }

    /// Maps `len` bytes of fresh, zeroed memory at `addr` (replacing what is there when `fixed`),
    /// or anywhere free when `addr` is None. Returns the address.
    pub fn map(
        &mut self,
        asp: &mut dyn AddressSpace,
        addr: Option<u64>,
        len: u64,
        prot: i32,
        fixed: bool,
    ) -> Result<u64, Errno> {
        let len = page_up(len);
        let start = self.place(asp, addr, len, fixed)?;
        let offset = self.mem.borrow_mut().alloc(len)?;
        self.insert(asp, start, len, prot, offset, None)
    }

    /// Maps `key`'s read-only file bytes (from host fd `fd`) as map does fresh memory: the
    /// pages of the file cache, loaded now if no one loaded them before.
    #[allow(clippy::too_many_arguments)]
    pub fn map_file(
        &mut self,
        asp: &mut dyn AddressSpace,
        addr: Option<u64>,
        prot: i32,
        fixed: bool,
        fd: i32,
        key: Key,
    ) -> Result<u64, Errno> {
        let start = self.place(asp, addr, key.len, fixed)?;
        let (id, offset) = self.mem.borrow_mut().cached(&key, fd)?;
        let res = self.insert(asp, start, key.len, prot, offset, Some(id));
        if res.is_err() {
            self.mem.borrow_mut().release(id);
        }
        res
    }

    /// Where a mapping of `len` bytes (page-aligned) goes: at `addr` (replacing what is
    /// there, which is unmapped now, when `fixed`), near it when free, or anywhere free.
    fn place(
        &mut self,
        asp: &mut dyn AddressSpace,
        addr: Option<u64>,
        len: u64,
        fixed: bool,
    ) -> Result<u64, Errno> {
        if len == 0 || len > TASK_SIZE {
            return Err(libc::EINVAL);
        }
        let start = match addr {
            Some(a) if fixed => {
                if !a.is_multiple_of(PAGE) {
                    return Err(libc::EINVAL);
                }
                a
            }
            Some(a) if a >= MIN_ADDR && self.is_free(page_down(a), len) => page_down(a),
            _ => self.find_free(len).ok_or(libc::ENOMEM)?,
        };
        if start < MIN_ADDR
            || start.checked_add(len).is_none_or(|e| e > TASK_SIZE)
            || self.overlaps_stub(start, len)
        {
            return Err(libc::ENOMEM);
        }
        if fixed {
            self.unmap(asp, start, len)?;
        }
        Ok(start)
    }

    /// Maps memory-file range `offset` at `start` and records it (`cached`: the file cache's
    /// entry it uses).
    fn insert(
        &mut self,
        asp: &mut dyn AddressSpace,
        start: u64,
        len: u64,
        prot: i32,
        offset: u64,
        cached: Option<u32>,
    ) -> Result<u64, Errno> {
        asp.map(start, len, prot, offset)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
        self.vmas.insert(
            start,
            Vma {
                start,
                end: start + len,
                prot,
                offset,
                shared: cached.is_some(),
                cached,
            },
        );
        self.resident += len;
        Ok(start)
    }

    /// MAP_SHARED|MAP_ANONYMOUS: the mapping at `start` is shared with the children a fork
    /// makes from here on.
    pub fn set_shared(&mut self, start: u64) {
        if let Some(v) = self.vmas.get_mut(&start) {
            v.shared = true;
        }
    }

    fn is_free(&self, start: u64, len: u64) -> bool {
        !self.overlaps_stub(start, len)
            && !self
                .vmas
                .values()
                .any(|v| v.start < start + len && start < v.end)
    }

    /// Splits the mapping that contains `addr` (strictly inside it) in two.
    fn split(&mut self, addr: u64) {
        let Some((_, v)) = self.vmas.range(..addr).next_back().map(|(k, v)| (*k, *v)) else {
            return;
        };
        if v.start < addr && addr < v.end {
            if let Some(id) = v.cached {
                self.mem.borrow_mut().cache.hold(id);
            }
            self.vmas.insert(v.start, Vma { end: addr, ..v });
            self.vmas.insert(
                addr,
                Vma {
                    start: addr,
                    offset: v.offset + (addr - v.start),
                    ..v
                },
            );
        }
    }

    /// The mappings entirely inside [start, end), after splitting at both ends.
    pub(crate) fn covered(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split(start);
        self.split(end);
        self.vmas.range(start..end).map(|(_, v)| *v).collect()
    }

    pub fn unmap(&mut self, asp: &mut dyn AddressSpace, addr: u64, len: u64) -> Result<(), Errno> {
        // Linux: an unaligned start, a start above the user address space, a length that
        // reaches past it (or wraps) and a length of 0 are EINVAL.
        if !addr.is_multiple_of(PAGE) || addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(libc::EINVAL);
        }
        let len = page_up(len);
        if len == 0 {
            return Err(libc::EINVAL);
        }
        let end = (addr + len).min(TASK_SIZE);
        for v in self.covered(addr, end) {
            asp.unmap(v.start, v.end - v.start)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
            // A shared range may still be mapped by another process: it stays.
            if let Some(id) = v.cached {
                self.mem.borrow_mut().release(id);
            } else if !v.shared {
                let _ = self
                    .mem
                    .borrow()
                    .file
                    .punch(v.offset as usize, (v.end - v.start) as usize);
            }
            self.vmas.remove(&v.start);
            self.resident -= v.end - v.start;
        }
        Ok(())
    }

    pub fn protect(
        &mut self,
        asp: &mut dyn AddressSpace,
        addr: u64,
        len: u64,
        prot: i32,
    ) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        let end = addr.saturating_add(page_up(len));
        // Every page of the range must be mapped.
        let mut at = addr;
        for v in self.vmas.values() {
            if v.end <= at || v.start >= end {
                continue;
            }
            if v.start > at {
                return Err(libc::ENOMEM);
            }
            at = v.end;
        }
        if at < end {
            return Err(libc::ENOMEM);
        }
        for v in self.covered(addr, end) {
            let v = match v.cached {
                Some(_) if prot & libc::PROT_WRITE != 0 => self.unshare(v)?,
                _ => v,
            };
            asp.protect(v.start, v.end - v.start, prot, v.offset)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
            self.vmas.insert(v.start, Vma { prot, ..v });
        }
        Ok(())
    }

    /// A cached mapping about to be writable gets private pages with the same bytes (the
    /// cache's are the file's, for every process).
    fn unshare(&mut self, v: Vma) -> Result<Vma, Errno> {
        let len = v.end - v.start;
        let offset = self.mem.borrow_mut().alloc(len)?;
        self.copy_pages(v.offset, offset, len)?;
        if let Some(id) = v.cached {
            self.mem.borrow_mut().release(id);
        }
        Ok(Vma {
            offset,
            shared: false,
            cached: None,
            ..v
        })
    }

    /// Moves the program break; returns the new break (the old one when refused), as Linux does.
    pub fn set_brk(&mut self, asp: &mut dyn AddressSpace, want: u64) -> u64 {
        // Below the start, or past the user address space (brk(-1) must not wrap to 0).
        if want < self.brk_start || want > TASK_SIZE {
            return self.brk;
        }
        let (old_top, new_top) = (page_up(self.brk), page_up(want));
        if new_top > old_top {
            if !self.is_free(old_top, new_top - old_top) {
                return self.brk;
            }
            if self
                .map(
                    asp,
                    Some(old_top),
                    new_top - old_top,
                    libc::PROT_READ | libc::PROT_WRITE,
                    true,
                )
                .is_err()
            {
                return self.brk;
            }
        } else if new_top < old_top {
            let _ = self.unmap(asp, new_top, old_top - new_top);
        }
        self.brk = want;
        self.brk
    }

    /// The memory-file ranges behind [addr, addr+len), checking `need` (PROT_READ/WRITE).
    fn ranges(&self, addr: u64, len: u64, need: i32) -> Result<Vec<(usize, usize)>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        let end = addr.checked_add(len).ok_or(libc::EFAULT)?;
        while at < end {
            let v = self.vma_at(at).ok_or(libc::EFAULT)?;
            if v.prot & need != need {
                return Err(libc::EFAULT);
            }
            let n = (v.end.min(end) - at) as usize;
            out.push(((v.offset + (at - v.start)) as usize, n));
            at += n as u64;
        }
        Ok(out)
    }

    pub(crate) fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// Runs `f` on the aligned word at `addr`, which must be mapped writable.
    fn with_word<T>(&self, addr: u64, f: impl FnOnce(&AtomicU32) -> T) -> Result<T, Errno> {
        if !addr.is_multiple_of(4) {
            return Err(libc::EINVAL);
        }
        let r = self.ranges(addr, 4, libc::PROT_READ | libc::PROT_WRITE)?;
        let off = r.first().map(|(off, _)| *off).ok_or(libc::EFAULT)?;
        let mem = self.mem.borrow();
        Ok(f(mem.file.word(off).map_err(|_| libc::EFAULT)?))
    }

    /// Copies application memory out (the kernel's copy_from_user).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.read_checked(addr, buf, libc::PROT_READ)
    }

    /// Copies out of mappings that grant `need` (0: whatever their protection).
    fn read_checked(&self, addr: u64, buf: &mut [u8], need: i32) -> Result<(), Errno> {
        let mut done = 0;
        let mem = self.mem.borrow();
        for (off, n) in self.ranges(addr, buf.len() as u64, need)? {
            buf[done..done + n].copy_from_slice(mem.file.slice(off, n).map_err(|_| libc::EFAULT)?);
            done += n;
        }
        Ok(())
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Copies into application memory (copy_to_user): it must be mapped writable.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.write_checked(addr, data, libc::PROT_WRITE)
    }

    /// Reads `len` bytes of host file `fd` from `off` straight into application memory at
    /// `addr` (whatever its protection: the loader and file mappings fill read-only pages), with
    /// no copy through a buffer; returns how many bytes the file had (short at its end).
    pub fn read_file(&mut self, addr: u64, len: u64, fd: i32, off: u64) -> Result<u64, Errno> {
        let ranges = self.ranges(addr, len, 0)?;
        let mut mem = self.mem.borrow_mut();
        let mut done = 0u64;
        for (at, n) in ranges {
            let got = mem.fill(at, n, fd, off + done)?;
            done += got as u64;
            if got < n {
                break; // the file's end
            }
        }
        Ok(done)
    }

    /// Writes regardless of PROT_WRITE: for the loader filling read-only segments.
    pub fn write_any(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.write_checked(addr, data, 0)
    }

    fn write_checked(&mut self, addr: u64, data: &[u8], need: i32) -> Result<(), Errno> {
        let mut done = 0;
        let ranges = self.ranges(addr, data.len() as u64, need)?;
        let mut mem = self.mem.borrow_mut();
        for (off, n) in ranges {
            mem.file
                .slice_mut(off, n)
                .map_err(|_| libc::EFAULT)?
                .copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// A NUL-terminated string of at most `max` bytes.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max {
            let chunk = (PAGE - at % PAGE).min((max - out.len()) as u64) as usize;
            let bytes = self.read_vec(at, chunk)?;
            if let Some(i) = bytes.iter().position(|b| *b == 0) {
                out.extend_from_slice(&bytes[..i]);
                return Ok(out);
            }
            out.extend_from_slice(&bytes);
            at += chunk as u64;
        }
        Err(libc::ENAMETOOLONG)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// mremap: a new mapping of `new_len`, with the old contents, and the old one unmapped.
    pub fn remap(
        &mut self,
        asp: &mut dyn AddressSpace,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
    ) -> Result<u64, Errno> {
        let (old_len, new_len) = (page_up(old_len), page_up(new_len));
        let v = *self.vma_at(old).ok_or(libc::EFAULT)?;
        if new_len <= old_len {
            if new_len < old_len {
                self.unmap(asp, old + new_len, old_len - new_len)?;
            }
            return Ok(old);
        }
        if self.is_free(old + old_len, new_len - old_len) && v.end == old + old_len {
            self.map(asp, Some(old + old_len), new_len - old_len, v.prot, true)?;
            return Ok(old);
        }
        if !may_move {
            return Err(libc::ENOMEM);
        }
        let data = self.read_raw(old, old_len)?;
        let new = self.map(asp, None, new_len, v.prot, false)?;
        self.write_any(new, &data)?;
        self.unmap(asp, old, old_len)?;
        Ok(new)
    }

    /// mremap with MREMAP_FIXED: the contents of [old, old+old_len) (cut or grown to
    /// `new_len`) at `to`, replacing what was there; the old range unmapped.
    pub fn move_to(
        &mut self,
        asp: &mut dyn AddressSpace,
        old: u64,
        old_len: u64,
        new_len: u64,
        to: u64,
    ) -> Result<u64, Errno> {
        let v = *self.vma_at(old).ok_or(libc::EFAULT)?;
        let data = self.read_raw(old, old_len.min(new_len))?;
        let new = self.map(asp, Some(to), new_len, v.prot, true)?;
        self.write_any(new, &data)?;
        self.unmap(asp, old, old_len)?;
        Ok(new)
    }

    pub(crate) fn read_raw(&self, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
        let mut out = vec![0u8; len as usize];
        self.read_checked(addr, &mut out, 0)?;
        Ok(out)
    }

    /// MADV_DONTNEED: the pages read as zeros again (those of a read-only file mapping as
    /// the file's, which the file cache's already are).
    pub fn discard(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        let len = page_up(len);
        self.ranges(addr, len, 0)?;
        let end = addr + len;
        let mem = self.mem.borrow();
        for v in self.vmas.range(..end).filter(|(_, v)| v.end > addr) {
            let v = v.1;
            // A page made private for a patched call site holds the file's code (and the
            // patch), as the cache's pages do.
            if v.cached.is_some() || self.patches.has_site_in(v.start, v.end) {
                continue;
            }
            let (from, to) = (v.start.max(addr), v.end.min(end));
            let off = v.offset + (from - v.start);
            mem.file
                .punch(off as usize, (to - from) as usize)
                .map_err(|_| libc::EINVAL)?;
        }
        Ok(())
    }
}

/// The handle a task holds on its address space: threads (CLONE_VM) share one; each call
/// borrows the space for its own duration only.
#[derive(Clone)]
pub struct Mm(Rc<RefCell<Space>>);

impl Mm {
    pub fn new(mem: &Rc<RefCell<Memory>>) -> Mm {
        Mm(Rc::new(RefCell::new(Space::new(mem))))
    }

    /// fork: a private copy mapped into `asp`.
    pub fn fork(&self, asp: &mut dyn AddressSpace) -> Result<Mm, Errno> {
        Ok(Mm(Rc::new(RefCell::new(self.0.borrow().fork(asp)?))))
    }

    /// Whether `other` is the same address space.
    pub fn same(&self, other: &Mm) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    pub fn vmas(&self) -> Vec<Vma> {
        self.0.borrow().vmas()
    }

    pub fn resident(&self) -> u64 {
        self.0.borrow().resident
    }

    pub fn set_brk_start(&self, at: u64) {
        let mut s = self.0.borrow_mut();
        s.brk_start = at;
        s.brk = at;
    }

    pub fn map(
        &self,
        asp: &mut dyn AddressSpace,
        addr: Option<u64>,
        len: u64,
        prot: i32,
        fixed: bool,
    ) -> Result<u64, Errno> {
        self.0.borrow_mut().map(asp, addr, len, prot, fixed)
    }

    pub fn is_free(&self, start: u64, len: u64) -> bool {
        start.checked_add(len).is_some_and(|e| e <= TASK_SIZE)
            && self.0.borrow().is_free(start, len)
    }

    /// Whether every page of [start, start + len) is mapped.
    pub fn is_mapped(&self, start: u64, len: u64) -> bool {
        self.0.borrow().ranges(start, len, 0).is_ok()
    }

    pub fn move_to(
        &self,
        asp: &mut dyn AddressSpace,
        old: u64,
        old_len: u64,
        new_len: u64,
        to: u64,
    ) -> Result<u64, Errno> {
        self.0.borrow_mut().move_to(asp, old, old_len, new_len, to)
    }

    pub fn set_shared(&self, start: u64) {
        self.0.borrow_mut().set_shared(start)
    }

    pub fn unmap(&self, asp: &mut dyn AddressSpace, addr: u64, len: u64) -> Result<(), Errno> {
        self.0.borrow_mut().unmap(asp, addr, len)
    }

    pub fn protect(
        &self,
        asp: &mut dyn AddressSpace,
        addr: u64,
        len: u64,
        prot: i32,
    ) -> Result<(), Errno> {
        self.0.borrow_mut().protect(asp, addr, len, prot)
    }

    pub fn set_brk(&self, asp: &mut dyn AddressSpace, want: u64) -> u64 {
        self.0.borrow_mut().set_brk(asp, want)
    }

    pub fn remap(
        &self,
        asp: &mut dyn AddressSpace,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
    ) -> Result<u64, Errno> {
        self.0
            .borrow_mut()
            .remap(asp, old, old_len, new_len, may_move)
    }

    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.0.borrow().read(addr, buf)
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        self.0.borrow().read_vec(addr, len)
    }

    /// Reads whatever the protection (the sentry looking at code, which may be execute-only).
    pub fn peek(&self, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
        self.0.borrow().read_raw(addr, len)
    }

    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        self.0.borrow().read_cstr(addr, max)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        self.0.borrow().read_u64(addr)
    }

    pub fn read_u32(&self, addr: u64) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.0.borrow().read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.0.borrow_mut().write(addr, data)
    }

    pub fn write_any(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.0.borrow_mut().write_any(addr, data)
    }

    pub fn map_file(
        &self,
        asp: &mut dyn AddressSpace,
        addr: Option<u64>,
        prot: i32,
        fixed: bool,
        fd: i32,
        key: Key,
    ) -> Result<u64, Errno> {
        self.0
            .borrow_mut()
            .map_file(asp, addr, prot, fixed, fd, key)
    }

    pub fn read_file(&self, addr: u64, len: u64, fd: i32, off: u64) -> Result<u64, Errno> {
        self.0.borrow_mut().read_file(addr, len, fd, off)
    }

    pub fn discard(&self, addr: u64, len: u64) -> Result<(), Errno> {
        self.0.borrow_mut().discard(addr, len)
    }

    /// Patches the call site `t` trapped from when it is of a form patch.rs recognises;
    /// `entry` is the platform's fast entry, `alone` says no other thread runs this address
    /// space. Where the thread returns to once the site is patched; None: not patched.
    pub fn patch(
        &self,
        asp: &mut dyn AddressSpace,
        ret: u64,
        nr: u64,
        entry: u64,
        alone: &dyn Fn() -> bool,
    ) -> Option<u64> {
        crate::patch::patch(&mut self.0.borrow_mut(), asp, ret, nr, entry, alone)
    }

    /// The application took its gs base for itself (arch_prctl ARCH_SET_GS): the fast
    /// entry cannot find its block any more, so every patched site is restored and no other
    /// is patched.
    pub fn stop_patching(&self) {
        crate::patch::stop(&mut self.0.borrow_mut());
    }

    /// Where a thread returning to `rip` goes instead, `rip` being a patched site's old
    /// return address (patch.rs: a signal frame saved before the site was patched).
    pub fn moved_return(&self, rip: u64) -> Option<u64> {
        self.0.borrow().patches.moved_return(rip)
    }

    /// How many call sites are patched now.
    pub fn patched_sites(&self) -> usize {
        self.0.borrow().patches.sites.len()
    }

    /// A futex's key. A shared futex on a MAP_SHARED mapping is where its word lives in the
    /// memory file, the same for every process that maps it; a private futex, or any futex on
    /// private memory, is the word's address in this address space (as Linux keys them, so a
    /// private wake never reaches another process's waiter). The word must be mapped
    /// readable and 4-byte aligned.
    pub fn futex_key(&self, addr: u64, private: bool) -> Result<FutexKey, Errno> {
        if !addr.is_multiple_of(4) {
            return Err(libc::EINVAL);
        }
        let s = self.0.borrow();
        s.ranges(addr, 4, libc::PROT_READ)?;
        let shared = s.vma_at(addr).is_some_and(|v| v.shared);
        if shared && !private {
            let r = s.ranges(addr, 4, libc::PROT_READ)?;
            return r
                .first()
                .map(|(off, _)| FutexKey::Memory(*off as u64))
                .ok_or(libc::EFAULT);
        }
        Ok(FutexKey::Private {
            mm: Rc::as_ptr(&self.0) as usize,
            addr,
        })
    }

    /// Compares the futex word at `addr` with `old` and, if equal, stores `new`, atomically
    /// against the application's threads; returns the value found. The word must be writable.
    pub fn cmpxchg_u32(&self, addr: u64, old: u32, new: u32) -> Result<u32, Errno> {
        self.0.borrow().with_word(addr, |w| {
            match w.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(v) | Err(v) => v,
            }
        })
    }

    /// Applies `f` to the futex word at `addr` atomically; returns the old value.
    pub fn update_u32(&self, addr: u64, f: impl Fn(u32) -> u32) -> Result<u32, Errno> {
        self.0.borrow().with_word(addr, |w| {
            match w.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(f(v))) {
                Ok(v) | Err(v) => v,
            }
        })
    }
}
