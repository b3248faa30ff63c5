//! Memory calls beyond what the memory manager (mm.rs) does by itself.

use super::*;

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
    // mappings are not written back yet (step 2 adds a page cache).
    let h = host_fd(t, fd)?;
    let start =
        t.mm.map(t.asp.as_mut(), hint, len, PROT_READ | PROT_WRITE, fixed)?;
    let mut data = vec![0u8; len as usize];
    let mut got = 0;
    while got < data.len() {
        match crate::host::pread(h, &mut data[got..], off as i64 + got as i64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                let _ = t.mm.unmap(t.asp.as_mut(), start, len);
                return Err(err(e));
            }
        }
    }
    t.mm.write_any(start, &data[..got])?;
    if prot != PROT_READ | PROT_WRITE {
        t.mm.protect(t.asp.as_mut(), start, page_up(len), prot)?;
    }
    Ok(start as i64)
}

pub(super) fn madvise(t: &mut Task, addr: u64, len: u64, advice: i32) -> R {
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_REMOVE => t.mm.discard(addr, len).map(|_| 0),
        _ => Ok(0),
    }
}
