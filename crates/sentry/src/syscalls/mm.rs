//! Memory calls beyond what the memory manager (mm.rs) does by itself.

use super::*;
use crate::platform::ptrace::TASK_SIZE;

pub(super) fn mmap(
    t: &mut Task,
    addr: u64,
    len: u64,
    prot: i32,
    flags: i32,
    fd: i32,
    off: u64,
) -> R {
    if len == 0 || !off.is_multiple_of(4096) {
        return Err(EINVAL);
    }
    // Linux: a length that rounds past the user address space (or wraps) is ENOMEM.
    if page_up(len) == 0 || page_up(len) > TASK_SIZE {
        return Err(ENOMEM);
    }
    if off
        .checked_add(page_up(len))
        .is_none_or(|e| e > i64::MAX as u64)
    {
        return Err(EOVERFLOW);
    }
    // The mapping type (the low 4 bits) must be private, shared or shared-validate; the
    // last refuses flags it does not know.
    match flags & MAP_TYPE {
        MAP_PRIVATE | MAP_SHARED => {}
        MAP_SHARED_VALIDATE if flags & !KNOWN_MAP_FLAGS != 0 => return Err(EOPNOTSUPP),
        MAP_SHARED_VALIDATE => {}
        _ => return Err(EINVAL),
    }
    if flags & MAP_FIXED_NOREPLACE != 0 && flags & MAP_FIXED == 0 {
        if !addr.is_multiple_of(4096) {
            return Err(EINVAL);
        }
        if !t.mm.is_free(addr, page_up(len)) {
            return Err(EEXIST);
        }
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let hint = (addr != 0).then_some(addr);
    if flags & MAP_ANONYMOUS != 0 {
        let start = t.mm.map(t.asp.as_mut(), hint, len, prot, fixed)?;
        if flags & MAP_SHARED != 0 {
            t.mm.set_shared(start);
        }
        return Ok(start as i64);
    }
    // A file mapping: the file's bytes are copied into fresh memory. Shared writable file
    // mappings are not written back yet (step 2 adds a page cache), but are shared with the
    // mapper's fork children.
    let h = host_fd(t, fd)?;
    // Read-only: the file cache's pages (filecache.rs), as ld.so maps libraries' text.
    let st = crate::host::fstat_raw(h).map_err(err)?;
    if prot & PROT_WRITE == 0 && st.st_mode & S_IFMT == S_IFREG {
        let key = crate::filecache::Key {
            file: crate::filecache::file_id(&st),
            offset: off,
            lead: 0,
            filesz: page_up(len),
            len: page_up(len),
        };
        let start = t.mm.map_file(t.asp.as_mut(), hint, prot, fixed, h, key)?;
        return Ok(start as i64);
    }
    let start =
        t.mm.map(t.asp.as_mut(), hint, len, PROT_READ | PROT_WRITE, fixed)?;
    // The file's bytes go straight into the mapping (the rest of its last page stays zero).
    if let Err(e) = t.mm.read_file(start, len, h, off) {
        let _ = t.mm.unmap(t.asp.as_mut(), start, len);
        return Err(e);
    }
    if flags & MAP_SHARED != 0 {
        // Shared with the children a fork makes, as a MAP_SHARED|MAP_ANONYMOUS mapping: what
        // a process shares with its children through a file (a POSIX semaphore in /dev/shm,
        // Python's multiprocessing locks) is one memory. Another process that maps the file
        // by itself gets its own copy (no page cache yet).
        t.mm.set_shared(start);
    }
    if prot != PROT_READ | PROT_WRITE {
        t.mm.protect(t.asp.as_mut(), start, page_up(len), prot)?;
    }
    Ok(start as i64)
}

/// Every flag mmap knows (MAP_SHARED_VALIDATE refuses the others).
const KNOWN_MAP_FLAGS: i32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_SYNC
    | MAP_FIXED_NOREPLACE
    | (0x3f << 26); // the huge page size bits

/// madvise: advice that frees pages makes them read as zeros again; the rest are hints the
/// sentry may ignore. Unknown advice is EINVAL, as Linux answers it.
pub(super) fn madvise(t: &mut Task, addr: u64, len: u64, advice: i32) -> R {
    if !addr.is_multiple_of(4096) {
        return Err(EINVAL);
    }
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => t.mm.discard(addr, len).map(|_| 0),
        // NORMAL..DONTNEED, and FREE up to COLLAPSE (25).
        0..=4 | 8..=25 => Ok(0),
        _ => Err(EINVAL),
    }
}

/// mprotect, with Linux's order of checks: an unaligned start, then a length of 0 (nothing to
/// do), then a range that wraps (ENOMEM), then unknown protection bits.
pub(super) fn mprotect(t: &mut Task, addr: u64, len: u64, prot: i32) -> R {
    if !addr.is_multiple_of(4096) {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let end = addr
        .checked_add(page_up(len))
        .filter(|e| *e > addr && page_up(len) != 0);
    if end.is_none() {
        return Err(ENOMEM);
    }
    // 0x8: PROT_SEM.
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | 0x8) != 0 {
        return Err(EINVAL);
    }
    t.mm.protect(t.asp.as_mut(), addr, len, prot).map(|_| 0)
}

/// mremap: grow, shrink or move; MREMAP_FIXED moves to `new_addr` (and needs MAYMOVE).
pub(super) fn mremap(
    t: &mut Task,
    old: u64,
    old_len: u64,
    new_len: u64,
    flags: i32,
    new_addr: u64,
) -> R {
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || !old.is_multiple_of(4096)
        || page_up(new_len) == 0
    {
        return Err(EINVAL);
    }
    let may_move = flags & MREMAP_MAYMOVE != 0;
    if flags & MREMAP_DONTUNMAP != 0 {
        return Err(EINVAL); // not served: keeps the old range mapped
    }
    if flags & MREMAP_FIXED == 0 {
        return t
            .mm
            .remap(t.asp.as_mut(), old, old_len, new_len, may_move)
            .map(|x| x as i64);
    }
    if !may_move || !new_addr.is_multiple_of(4096) {
        return Err(EINVAL);
    }
    let (old_len, new_len) = (page_up(old_len), page_up(new_len));
    // The ranges may not overlap.
    if new_addr < old.saturating_add(old_len) && old < new_addr.saturating_add(new_len) {
        return Err(EINVAL);
    }
    t.mm.move_to(t.asp.as_mut(), old, old_len, new_len, new_addr)
        .map(|x| x as i64)
}
