//! Patched call sites (systrap only; docs/sandbox.md, "systrap: patched call sites"). A call
//! that traps (for the second time) from a recognised site in a read-only executable mapping
//! gets 5 bytes of the site replaced by a `jmp rel32` to a small per-site trampoline near it,
//! which enters the platform's fast entry with the number in eax and the return address in
//! rcx, as `syscall` would leave them (a system call clobbers rcx and r11). Two forms:
//!
//! - `mov $nr, %eax; syscall` (b8 imm32 0f 05: glibc's and musl's wrappers; Go's raw calls
//!   are not of this form): the `mov` becomes the jump, and the trampoline is
//!
//!   ```text
//!   slot:  b8 imm32          mov $nr, %eax
//!          48 8d 0d rel32    lea ret(%rip), %rcx      (ret: the site's `syscall` + 2)
//!          ff 25 rel32       jmp *entry(%rip)         (entry: the page's first qword)
//!   ```
//!
//!   The `syscall` after the patched `mov` stays: a thread stopped between the two, and the
//!   sentry restarting a call (rip - 2), still make the call through the trap path. The 5
//!   bytes are replaced atomically, so other threads may run them meanwhile.
//!
//! - `syscall; cmp $imm32, %rax` (0f 05 48 3d imm32, or `%eax`: 0f 05 3d imm32), whatever
//!   set eax before it: glibc's `read` (`xor %eax, %eax`) and most of its other calls whose
//!   number is not set just before. The `syscall` and the first 3 bytes of the `cmp` become
//!   the jump, and the trampoline carries the `cmp`:
//!
//!   ```text
//!   slot:  48 8d 0d rel32    lea tail(%rip), %rcx
//!          ff 25 rel32       jmp *entry(%rip)
//!          0f 05             syscall                  (a restarted call: rip = tail - 2)
//!   tail:  48 3d imm32       cmp $imm32, %rax         (the site's own cmp)
//!          e9 rel32          jmp back                 (back: the instruction after the cmp)
//!   ```
//!
//!   A thread whose call from the site is under way returns to the site's `syscall` + 2,
//!   which is now inside the jump, so this form is patched only while the process has one
//!   thread (the one whose trap is being served, which is moved to `tail`), and a signal frame
//!   saved with that return address before the patch is moved to `tail` by rt_sigreturn
//!   (`Patches::moved_return`).
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

/// One patched site.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Where the 5 replaced bytes start.
    pub at: u64,
    /// Those bytes as linked, and the jump written over them.
    linked: [u8; 5],
    jmp: [u8; 5],
    /// A `syscall; cmp` site: where the trampoline's copy of the `cmp` is, where its calls
    /// return instead of `at` + 2 (inside the jump now).
    tail: Option<u64>,
}

/// The patch state of one address space.
#[derive(Debug, Default, Clone)]
pub struct Patches {
    pub tramps: Vec<Tramp>,
    pub sites: Vec<Site>,
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
    /// Whether a patched site's bytes lie in [start, end), even partly.
    pub fn has_site_in(&self, start: u64, end: u64) -> bool {
        self.sites.iter().any(|x| x.at < end && x.at + 5 > start)
    }

    /// Where a thread returning to `rip` goes instead: a `syscall; cmp` site's return
    /// address lies inside its jump, and is its trampoline's copy of the `cmp` now (a
    /// signal frame saved before the site was patched).
    pub fn moved_return(&self, rip: u64) -> Option<u64> {
        self.sites
            .iter()
            .find_map(|x| x.tail.filter(|_| x.at + 2 == rip))
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

/// The bytes of a patchable `mov $nr, %eax; syscall` site for call `nr`.
fn site_bytes(nr: u32) -> [u8; 7] {
    let n = nr.to_le_bytes();
    [0xb8, n[0], n[1], n[2], n[3], 0x0f, 0x05]
}

/// The `cmp $imm32, %rax` (48 3d imm32) or `cmp $imm32, %eax` (3d imm32) that `after` (the
/// 6 bytes after a `syscall`) starts with: its length.
fn cmp_len(after: &[u8]) -> Option<usize> {
    match after {
        [0x48, 0x3d, ..] if after.len() >= 6 => Some(6),
        [0x3d, ..] if after.len() >= 5 => Some(5),
        _ => None,
    }
}

fn rel32(from: u64, to: u64) -> Option<[u8; 4]> {
    let d = (to as i64).wrapping_sub(from as i64);
    i32::try_from(d).ok().map(i32::to_le_bytes)
}

/// A site found at a call's return address: where the jump goes, the bytes it replaces, and
/// its form.
struct Found {
    at: u64,
    linked: [u8; 5],
    form: Form,
}

/// The `mov` form's number, or the `syscall; cmp` form's cmp.
enum Form {
    Mov(u32),
    Cmp(Vec<u8>),
}

/// See the module's comment. `ret` is the address after the `syscall` the thread trapped
/// at; `alone`: no other thread runs this address space (a site that no atomic store can
/// patch, and a `syscall; cmp` site, are patched only then). Where the thread returns to
/// once the site is patched (`ret`, or the trampoline's `cmp` for that form); None: the site
/// is not patched (now).
pub fn patch(
    s: &mut Space,
    asp: &mut dyn AddressSpace,
    ret: u64,
    nr: u64,
    entry: u64,
    alone: &dyn Fn() -> bool,
) -> Option<u64> {
    if ret == s.patches.rejected {
        return None;
    }
    // The first trap at a site only notes it.
    if s.patches.seen.insert(ret) {
        if s.patches.seen.len() > MAX_SEEN {
            s.patches.seen.clear();
        }
        return None;
    }
    s.patches.seen.remove(&ret);
    let done = try_patch(s, asp, ret, nr, entry, alone);
    if done.is_none() {
        s.patches.rejected = ret;
    }
    done
}

/// The site `ret` returns from, if it is of a form patched here and may be patched now.
fn find(s: &Space, ret: u64, nr: u64, alone: &dyn Fn() -> bool) -> Option<Found> {
    if s.patches.off {
        return None;
    }
    // Only code that cannot change under us, from the first byte looked at to the last: not
    // writable (nor W+X: a JIT's), and not a MAP_SHARED mapping other processes write.
    let code = |from: u64, len: u64| {
        [from, from + len - 1].iter().all(|a| {
            s.vma_at(*a).is_some_and(|v| {
                v.prot & libc::PROT_EXEC != 0
                    && v.prot & libc::PROT_WRITE == 0
                    && !(v.shared && v.cached.is_none())
            })
        })
    };
    let nr = u32::try_from(nr).ok()?;
    let mov = ret.checked_sub(7)?;
    if code(mov, 7) && s.read_raw(mov, 7).ok()? == site_bytes(nr) {
        // No trampoline for a site that cannot be written (shm.rs's replace_code: one
        // aligned qword or 16 bytes, or a lone thread).
        if mov % 16 > 11 && !alone() {
            return None;
        }
        let linked = site_bytes(nr)[..5].try_into().ok()?;
        return Some(Found {
            at: mov,
            linked,
            form: Form::Mov(nr),
        });
    }
    let at = ret.checked_sub(2)?;
    // The longest cmp first, then the shorter one where the code ends sooner.
    let after = [6, 5]
        .into_iter()
        .filter(|n| code(at, 2 + n))
        .find_map(|n| s.read_raw(ret, n).ok())?;
    let len = cmp_len(&after)?;
    if !alone() {
        return None;
    }
    let mut linked = [0x0f, 0x05, 0, 0, 0];
    linked[2..].copy_from_slice(&after[..3]);
    Some(Found {
        at,
        linked,
        form: Form::Cmp(after[..len].to_vec()),
    })
}

fn try_patch(
    s: &mut Space,
    asp: &mut dyn AddressSpace,
    ret: u64,
    nr: u64,
    entry: u64,
    alone: &dyn Fn() -> bool,
) -> Option<u64> {
    let f = find(s, ret, nr, alone)?;
    // No store is atomic across two pages: a site that straddles one is a lone thread's.
    if page_down(f.at + 4) != page_down(f.at) && !alone() {
        return None;
    }
    let slot = slot_near(s, asp, f.at, entry)?;
    let jmp_rel = rel32(f.at + 5, slot)?;
    let jmp = [0xe9, jmp_rel[0], jmp_rel[1], jmp_rel[2], jmp_rel[3]];
    // The trampoline first, then the jump to it.
    let (code, resume) = match &f.form {
        Form::Mov(nr) => (slot_code(slot, *nr, ret, page_of(slot))?, ret),
        Form::Cmp(cmp) => {
            let back = ret + cmp.len() as u64;
            let code = cmp_slot_code(slot, cmp, back, page_of(slot))?;
            (code, slot + CMP_TAIL)
        }
    };
    let (tramp_off, _) = tramp_of(s, slot)?;
    {
        let mut mem = s.mem.borrow_mut();
        let dst = mem
            .file
            .slice_mut((tramp_off + (slot - page_of(slot))) as usize, code.len())
            .ok()?;
        dst.copy_from_slice(&code);
    }
    let done = replace(s, Some(asp), f.at, f.linked, jmp, alone)?;
    if !done {
        return None;
    }
    let tail = matches!(f.form, Form::Cmp(_)).then_some(resume);
    s.patches.sites.push(Site {
        at: f.at,
        linked: f.linked,
        jmp,
        tail,
    });
    Some(resume)
}

/// Replaces the 5 code bytes at `at` (which must hold `old`) with `new`, in this address
/// space's own copy of their page (made private first when `asp` is given): atomically within
/// one page (shm.rs's replace_code), with two plain copies where they straddle two pages,
/// which only a lone thread may see (no other thread executes them meanwhile). Whether they
/// were replaced; None: a page could not be made private.
fn replace(
    s: &mut Space,
    mut asp: Option<&mut dyn AddressSpace>,
    at: u64,
    old: [u8; 5],
    new: [u8; 5],
    alone: &dyn Fn() -> bool,
) -> Option<bool> {
    let (first, last) = (page_down(at), page_down(at + 4));
    let mut offset = |page: u64| match asp.as_deref_mut() {
        Some(asp) => private_page(s, asp, page),
        None => s.vma_at(page).map(|v| v.offset + (page - v.start)),
    };
    let off = offset(first)? + (at - first);
    if first == last {
        let mem = s.mem.borrow();
        return Some(mem.file.replace_code(off as usize, old, new, alone()));
    }
    let off2 = offset(last)?;
    if !alone() {
        return Some(false);
    }
    let n = (last - at) as usize;
    let mut mem = s.mem.borrow_mut();
    let parts = [(off as usize, 0..n), (off2 as usize, n..5)];
    for (o, r) in parts.clone() {
        if mem.file.slice(o, r.len()).ok()? != &old[r] {
            return Some(false);
        }
    }
    for (o, r) in parts {
        mem.file
            .slice_mut(o, r.len())
            .ok()?
            .copy_from_slice(&new[r]);
    }
    Some(true)
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

/// Where a `syscall; cmp` trampoline's `cmp` starts (after its `lea`, `jmp` and `syscall`).
const CMP_TAIL: u64 = 15;

/// A `syscall; cmp` site's trampoline (SLOT bytes, int3 after the last jump): rcx = its own
/// `cmp`, into the fast entry; a `syscall` just before that `cmp` for a restarted call; the
/// site's `cmp`, and a jump `back` to the instruction after the site's.
fn cmp_slot_code(slot: u64, cmp: &[u8], back: u64, page: u64) -> Option<[u8; SLOT as usize]> {
    let mut c = [0xccu8; SLOT as usize];
    let tail = CMP_TAIL as usize;
    c[0..3].copy_from_slice(&[0x48, 0x8d, 0x0d]);
    c[3..7].copy_from_slice(&rel32(slot + 7, slot + CMP_TAIL)?);
    c[7..9].copy_from_slice(&[0xff, 0x25]);
    c[9..13].copy_from_slice(&rel32(slot + 13, page)?);
    c[13..15].copy_from_slice(&[0x0f, 0x05]);
    let j = tail + cmp.len();
    c.get_mut(tail..j)?.copy_from_slice(cmp);
    c[j] = 0xe9;
    c.get_mut(j + 1..j + 5)?
        .copy_from_slice(&rel32(slot + j as u64 + 5, back)?);
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
/// and patches nothing more. The trampolines stay: a thread or a signal frame may still
/// return into a `syscall; cmp` site's trampoline, which goes back to the site's code.
pub fn stop(s: &mut Space) {
    s.patches.off = true;
    for x in std::mem::take(&mut s.patches.sites) {
        // Its pages are still this space's own (not the file cache's, not shared: munmap or
        // a new mapping there would have replaced them).
        let own = |a: u64| s.vma_at(a).is_some_and(|v| v.cached.is_none() && !v.shared);
        if !own(x.at) || !own(x.at + 4) {
            continue;
        }
        // Atomically where the patch was atomic; a site only a lone thread could have had
        // patched is restored with plain copies.
        let _ = replace(s, None, x.at, x.jmp, x.linked, &|| true);
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
    fn a_syscall_cmp_trampoline_returns_to_its_cmp_which_jumps_back() {
        let page = 0x7f00_0000_0000u64;
        let slot = page + FIRST_SLOT;
        let back = 0x7f00_1234_5680u64;
        let cmp = [0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff];
        let c = cmp_slot_code(slot, &cmp, back, page).expect("in reach");
        let at = |i: usize| i32::from_le_bytes(c[i..i + 4].try_into().unwrap()) as i64 as u64;
        // lea tail(%rip), %rcx: the fast entry returns to the copy of the cmp.
        assert_eq!(&c[..3], &[0x48, 0x8d, 0x0d]);
        assert_eq!((slot + 7).wrapping_add(at(3)), slot + CMP_TAIL);
        // jmp *page(%rip), then the `syscall` a restarted call (rip - 2) makes.
        assert_eq!(&c[7..9], &[0xff, 0x25]);
        assert_eq!((slot + 13).wrapping_add(at(9)), page);
        assert_eq!(&c[13..15], &[0x0f, 0x05]);
        assert_eq!(&c[15..21], &cmp);
        // jmp rel32 back to the instruction after the site's cmp.
        assert_eq!(c[21], 0xe9);
        assert_eq!((slot + 26).wrapping_add(at(22)), back);
        assert!(c[26..].iter().all(|b| *b == 0xcc));
        // The 32-bit cmp is a byte shorter.
        let c = cmp_slot_code(slot, &cmp[1..], back, page).expect("in reach");
        assert_eq!(c[20], 0xe9);
        assert!(cmp_slot_code(slot, &cmp, back + (4 << 30), page).is_none());
    }

    #[test]
    fn only_a_cmp_of_rax_or_eax_after_a_syscall_is_a_site() {
        assert_eq!(cmp_len(&[0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff]), Some(6));
        assert_eq!(cmp_len(&[0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff]), Some(6));
        assert_eq!(cmp_len(&[0x3d, 0x00, 0xf0, 0xff, 0xff, 0x90]), Some(5));
        // Cut short by the end of the mapping, or another instruction (ret, test).
        assert_eq!(cmp_len(&[0x48, 0x3d, 0x00, 0xf0]), None);
        assert_eq!(cmp_len(&[0xc3, 0x90, 0x90, 0x90, 0x90, 0x90]), None);
        assert_eq!(cmp_len(&[0x48, 0x85, 0xc0, 0x90, 0x90, 0x90]), None);
    }

    #[test]
    fn only_mov_nr_eax_syscall_is_a_site() {
        assert_eq!(site_bytes(39), [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05]);
        assert_eq!(site_bytes(435), [0xb8, 0xb3, 0x01, 0, 0, 0x0f, 0x05]);
        assert_eq!(rel32(0x1000, 0x1000 + (1 << 31)), None);
        assert_eq!(rel32(0x1005, 0x1000), Some((-5i32).to_le_bytes()));
    }
}
