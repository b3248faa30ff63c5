//! Patched call sites (systrap only; docs/sandbox.md, "systrap: patched call sites"). A call
//! that traps (for the second time) from a `mov $nr, %eax; syscall` (b8 imm32 0f 05: glibc's and musl's wrappers,
//! Go's raw calls are not of this form) in a read-only executable mapping gets its 5-byte
//! `mov` replaced by a `jmp rel32` to a small per-site trampoline near it:
//!
//! ```text
//! slot:  b8 imm32          mov $nr, %eax
//!        48 8d 0d rel32    lea ret(%rip), %rcx      (ret: the site's `syscall` + 2)
//!        ff 25 rel32       jmp *entry(%rip)         (entry: the page's first qword)
//! ```
//!
//! which enters the platform's fast entry with the number in eax and the return address in
//! rcx, as `syscall` would leave them (a system call clobbers rcx and r11). The `syscall`
//! after the patched `mov` stays: a thread stopped between the two, and the sentry restarting
//! a call (rip - 2), still make the call through the trap path.
//!
//! Trampolines live in pages of their own (r-x, memory-file pages of the address space),
//! within ±2 GiB of their sites; they are no mapping of the application: /proc/PID/maps does
//! not list them, mmap never places anything there and MAP_FIXED over them fails (as over
//! the stub's range), a fork copies them. The page holding a site is made private to the
//! process first (the file cache shares read-only file pages between processes), so a patch
//! is seen by this address space only; the application reading its own code sees the `jmp`.

use crate::mm::{page_down, Space};
use crate::platform::ptrace::PAGE;
use crate::platform::AddressSpace;

/// One trampoline page: where it is mapped, its memory-file offset, the bytes used.
#[derive(Debug, Clone, Copy)]
pub struct Tramp {
    pub addr: u64,
    pub offset: u64,
    used: u64,
}

/// The patch state of one address space.
#[derive(Debug, Default, Clone)]
pub struct Patches {
    pub tramps: Vec<Tramp>,
    /// The patched sites: (address of the `mov`, the call's number, the jmp written there).
    pub sites: Vec<(u64, u32, [u8; 5])>,
    /// The application set its own gs base: nothing more is patched.
    pub off: bool,
    /// The return address of the last call whose site was not patched: a loop over a site
    /// that cannot be patched (glibc's `syscall()`, `read`'s `xor %eax, %eax`) is not
    /// looked at again on every trap.
    pub rejected: u64,
    /// Sites that trapped once: a site is patched when it traps a second time, so the calls
    /// a process makes once (its start, a short-lived program's whole life) cost no private
    /// page, trampoline or split mapping (each of which a fork copies).
    pub seen: std::collections::HashSet<u64>,
}

/// How many once-seen sites are remembered (then forgotten all at once).
const MAX_SEEN: usize = 4096;
/// A trampoline's size; the page's first 16 bytes hold the fast entry's address.
const SLOT: u64 = 32;
const FIRST_SLOT: u64 = 16;
/// How far a rel32 reaches, less a margin for the slot itself.
const REACH: i64 = (1 << 31) - 2 * PAGE as i64;

impl Patches {
    /// Whether a patched site lies in [start, end).
    pub fn has_site_in(&self, start: u64, end: u64) -> bool {
        self.sites
            .iter()
            .any(|(at, _, _)| (start..end).contains(at))
    }

    /// The trampoline pages, as reserved ranges.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.tramps.iter().map(|t| (t.addr, t.addr + PAGE))
    }

    /// fork: the child gets its own copy of every trampoline page, mapped where the parent
    /// has it (its code pages, patched sites included, are copies of the parent's).
    pub fn fork(&self, parent: &Space, asp: &mut dyn AddressSpace) -> Result<Patches, i32> {
        let mut out = self.clone();
        for t in out.tramps.iter_mut() {
            let off = parent.mem.borrow_mut().alloc(PAGE)?;
            parent.copy_pages(t.offset, off, PAGE)?;
            asp.map(t.addr, PAGE, libc::PROT_READ | libc::PROT_EXEC, off)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
            t.offset = off;
        }
        Ok(out)
    }
}

/// The bytes of a patchable site for call `nr`.
fn site_bytes(nr: u32) -> [u8; 7] {
    let n = nr.to_le_bytes();
    [0xb8, n[0], n[1], n[2], n[3], 0x0f, 0x05]
}

fn rel32(from: u64, to: u64) -> Option<[u8; 4]> {
    let d = (to as i64).wrapping_sub(from as i64);
    i32::try_from(d).ok().map(i32::to_le_bytes)
}

/// See the module's comment. `ret` is the address after the `syscall` the thread trapped
/// at; `alone`: no other thread runs this address space (a site that no atomic store can
/// patch is patched only then).
pub fn patch(
    s: &mut Space,
    asp: &mut dyn AddressSpace,
    ret: u64,
    nr: u64,
    entry: u64,
    alone: &dyn Fn() -> bool,
) -> bool {
    if ret == s.patches.rejected {
        return false;
    }
    // The first trap at a site only notes it.
    if s.patches.seen.insert(ret) {
        if s.patches.seen.len() > MAX_SEEN {
            s.patches.seen.clear();
        }
        return false;
    }
    s.patches.seen.remove(&ret);
    let done = try_patch(s, asp, ret, nr, entry, alone).unwrap_or(false);
    if !done {
        s.patches.rejected = ret;
    }
    done
}

fn try_patch(
    s: &mut Space,
    asp: &mut dyn AddressSpace,
    ret: u64,
    nr: u64,
    entry: u64,
    alone: &dyn Fn() -> bool,
) -> Option<bool> {
    if s.patches.off {
        return Some(false);
    }
    let nr = u32::try_from(nr).ok()?;
    let site = ret.checked_sub(7)?;
    let page = page_down(site);
    // The 5 bytes rewritten lie in one page (an atomic store never crosses one anyway).
    if page_down(site + 4) != page {
        return Some(false);
    }
    let v = *s.vma_at(site)?;
    let exec = v.prot & libc::PROT_EXEC != 0;
    let writable = v.prot & libc::PROT_WRITE != 0;
    // Only code that cannot change under us: not writable (nor W+X: a JIT's), and not a
    // MAP_SHARED mapping other processes write.
    if !exec || writable || (v.shared && v.cached.is_none()) {
        return Some(false);
    }
    let want = site_bytes(nr);
    if s.read_raw(site, 7).ok()? != want {
        return Some(false);
    }

    // No trampoline for a site that cannot be written (shm.rs's replace_code: one aligned
    // qword or 16 bytes, or a lone thread).
    let at = (site % 16) as usize;
    if at > 11 && !alone() {
        return Some(false);
    }
    let slot = slot_near(s, asp, site, entry)?;
    let jmp_rel = rel32(site + 5, slot)?;
    let jmp = [0xe9, jmp_rel[0], jmp_rel[1], jmp_rel[2], jmp_rel[3]];
    // The trampoline first, then the jump to it.
    let code = slot_code(slot, nr, ret, page_of(slot))?;
    let (tramp_off, _) = tramp_of(s, slot)?;
    {
        let mut mem = s.mem.borrow_mut();
        let dst = mem
            .file
            .slice_mut((tramp_off + (slot - page_of(slot))) as usize, code.len())
            .ok()?;
        dst.copy_from_slice(&code);
    }
    let off = private_page(s, asp, page)? + (site - page);
    let old: [u8; 5] = want[..5].try_into().ok()?;
    let done = s
        .mem
        .borrow()
        .file
        .replace_code(off as usize, old, jmp, alone());
    if done {
        s.patches.sites.push((site, nr, jmp));
    }
    Some(done)
}

fn page_of(addr: u64) -> u64 {
    page_down(addr)
}

/// The trampoline page holding `slot`: (memory-file offset, index).
fn tramp_of(s: &Space, slot: u64) -> Option<(u64, usize)> {
    let at = page_of(slot);
    let i = s.patches.tramps.iter().position(|t| t.addr == at)?;
    Some((s.patches.tramps[i].offset, i))
}

/// A trampoline's code (SLOT bytes, int3 after the jump).
fn slot_code(slot: u64, nr: u32, ret: u64, page: u64) -> Option<[u8; SLOT as usize]> {
    let mut c = [0xccu8; SLOT as usize];
    c[0] = 0xb8;
    c[1..5].copy_from_slice(&nr.to_le_bytes());
    c[5..8].copy_from_slice(&[0x48, 0x8d, 0x0d]);
    c[8..12].copy_from_slice(&rel32(slot + 12, ret)?);
    c[12..14].copy_from_slice(&[0xff, 0x25]);
    c[14..18].copy_from_slice(&rel32(slot + 18, page)?);
    Some(c)
}

/// A free slot within a rel32's reach of `site`: in a trampoline page that has room, or in a
/// new page mapped in the nearest free hole.
fn slot_near(s: &mut Space, asp: &mut dyn AddressSpace, site: u64, entry: u64) -> Option<u64> {
    let near = |a: u64| (a as i64 - site as i64).abs() < REACH;
    if let Some(t) = s
        .patches
        .tramps
        .iter_mut()
        .find(|t| t.used + SLOT <= PAGE && near(t.addr))
    {
        let slot = t.addr + t.used;
        t.used += SLOT;
        return Some(slot);
    }
    let addr = hole_near(s, site)?;
    if !near(addr) {
        return None;
    }
    let offset = s.mem.borrow_mut().alloc(PAGE).ok()?;
    {
        let mut mem = s.mem.borrow_mut();
        let head = mem.file.slice_mut(offset as usize, 8).ok()?;
        head.copy_from_slice(&entry.to_le_bytes());
    }
    if asp
        .map(addr, PAGE, libc::PROT_READ | libc::PROT_EXEC, offset)
        .is_err()
    {
        let _ = s.mem.borrow().file.punch(offset as usize, PAGE as usize);
        return None;
    }
    s.patches.tramps.push(Tramp {
        addr,
        offset,
        used: FIRST_SLOT + SLOT,
    });
    Some(addr + FIRST_SLOT)
}

/// A free page near `site`: the top page of the nearest hole below it (below a program's or
/// library's image, where nothing of the program grows: its heap grows up from the end of
/// its data, so a page above could stop brk), else the bottom page of the nearest hole above.
fn hole_near(s: &Space, site: u64) -> Option<u64> {
    const MIN: u64 = 0x10000;
    let top = crate::platform::ptrace::TASK_SIZE;
    let taken = s.taken();
    let (mut below, mut above): (Option<u64>, Option<u64>) = (None, None);
    let mut prev_end = MIN;
    for &(start, end) in taken.iter().chain(std::iter::once(&(top, top))) {
        if start >= prev_end + PAGE {
            // The hole [prev_end, start).
            if start <= site {
                below = Some(start - PAGE);
            } else if above.is_none() && prev_end > site {
                above = Some(prev_end);
            }
        }
        prev_end = prev_end.max(end);
    }
    below.or(above)
}

/// The memory-file offset of `page`, made private to this address space first when it is
/// the file cache's (shared by every process that maps the file).
fn private_page(s: &mut Space, asp: &mut dyn AddressSpace, page: u64) -> Option<u64> {
    let v = *s.vma_at(page)?;
    if v.cached.is_none() {
        return Some(v.offset + (page - v.start));
    }
    let parts = s.covered(page, page + PAGE);
    let v = *parts.first()?;
    let offset = s.mem.borrow_mut().alloc(PAGE).ok()?;
    if s.copy_pages(v.offset, offset, PAGE).is_err()
        || asp.map(v.start, PAGE, v.prot, offset).is_err()
    {
        // The mapping stays the cache's (a failed map leaves the old one in place).
        let _ = s.mem.borrow().file.punch(offset as usize, PAGE as usize);
        return None;
    }
    if let Some(id) = v.cached {
        s.mem.borrow_mut().release(id);
    }
    s.vmas.insert(
        v.start,
        crate::mm::Vma {
            offset,
            shared: false,
            cached: None,
            ..v
        },
    );
    Some(offset)
}

/// Restores every patched site (the bytes are put back only where they are still our jump)
/// and patches nothing more.
pub fn stop(s: &mut Space) {
    s.patches.off = true;
    for (site, nr, jmp) in std::mem::take(&mut s.patches.sites) {
        let Some(v) = s.vma_at(site).copied() else {
            continue;
        };
        if v.cached.is_some() || v.shared || site + 5 > v.end {
            continue;
        }
        let off = v.offset + (site - v.start);
        let orig: [u8; 5] = match site_bytes(nr)[..5].try_into() {
            Ok(b) => b,
            Err(_) => continue,
        };
        // Atomically where the patch was atomic; a site only a lone thread could have had
        // patched is restored with a plain copy.
        let mem = s.mem.borrow();
        let _ = mem.file.replace_code(off as usize, jmp, orig, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trampoline_sets_the_number_and_return_and_jumps_through_its_page() {
        let page = 0x7f00_0000_0000u64;
        let slot = page + FIRST_SLOT + SLOT;
        let ret = 0x7f00_1234_5677u64;
        let c = slot_code(slot, 39, ret, page).expect("in reach");
        assert_eq!(&c[..5], &[0xb8, 39, 0, 0, 0]);
        // lea ret(%rip), %rcx: rip is the end of the lea.
        assert_eq!(&c[5..8], &[0x48, 0x8d, 0x0d]);
        let d = i32::from_le_bytes(c[8..12].try_into().unwrap());
        assert_eq!((slot + 12).wrapping_add(d as i64 as u64), ret);
        // jmp *page(%rip): the page's first qword holds the fast entry.
        assert_eq!(&c[12..14], &[0xff, 0x25]);
        let d = i32::from_le_bytes(c[14..18].try_into().unwrap());
        assert_eq!((slot + 18).wrapping_add(d as i64 as u64), page);
        assert!(c[18..].iter().all(|b| *b == 0xcc));
        // Out of a rel32's reach: no trampoline.
        assert!(slot_code(slot, 39, ret + (4 << 30), page).is_none());
    }

    #[test]
    fn only_mov_nr_eax_syscall_is_a_site() {
        assert_eq!(site_bytes(39), [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(site_bytes(435), [0xb8, 0xb3, 0x01, 0, 0, 0x0f, 0x05]);
        assert_eq!(rel32(0x1000, 0x1000 + (1 << 31)), None);
        assert_eq!(rel32(0x1005, 0x1000), Some((-5i32).to_le_bytes()));
    }
}
