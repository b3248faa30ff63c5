//! Credentials: a task's user and group ids (real, effective, saved, file-system), its
//! supplementary groups, its five capability sets, keep-capabilities and no_new_privs, with the
//! rules Linux applies when a task changes them (credentials(7), capabilities(7)). Each thread
//! has its own, as on Linux (glibc changes all threads' by signalling each one).
//!
//! What these credentials allow is checked here (who may change ids, groups and capabilities);
//! the sentry opens files with its own host identity, so file permissions are not checked
//! against them yet (docs/sandbox.md).

use std::rc::Rc;

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_LINUX_IMMUTABLE: u32 = 9;
pub const CAP_SYS_RESOURCE: u32 = 24;
pub const CAP_MKNOD: u32 = 27;
pub const CAP_MAC_OVERRIDE: u32 = 32;
/// The highest capability number the sandbox knows (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST: u32 = 40;
/// Every capability the sandbox knows.
pub const ALL_CAPS: u64 = (1 << (CAP_LAST + 1)) - 1;

/// The capabilities a file-system uid change moves (capabilities(7): CAP_FS_MASK).
const FS_CAPS: u64 = bit(CAP_CHOWN)
    | bit(CAP_DAC_OVERRIDE)
    | bit(CAP_DAC_READ_SEARCH)
    | bit(CAP_FOWNER)
    | bit(CAP_FSETID)
    | bit(CAP_LINUX_IMMUTABLE)
    | bit(CAP_MAC_OVERRIDE)
    | bit(CAP_MKNOD);

pub const fn bit(cap: u32) -> u64 {
    1 << cap
}

/// The five capability sets, as masks (bit n: capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
}

/// One kind of id (users or groups) of a task: real, effective, saved, file-system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    pub real: u32,
    pub eff: u32,
    pub saved: u32,
    pub fs: u32,
}

/// A uid or gid argument: -1 (u32::MAX) leaves it as it is.
const KEEP: u32 = u32::MAX;

impl Ids {
    pub fn all(id: u32) -> Ids {
        Ids {
            real: id,
            eff: id,
            saved: id,
            fs: id,
        }
    }

    /// The four, in /proc's order.
    pub fn list(&self) -> [u32; 4] {
        [self.real, self.eff, self.saved, self.fs]
    }

    fn ours(&self, id: u32) -> bool {
        [self.real, self.eff, self.saved].contains(&id)
    }

    /// setresuid/setresgid: KEEP leaves an id; without the capability (`privileged`) each new
    /// id must be one of the current real, effective or saved ones. The file-system id follows
    /// the effective one.
    fn set_res(&mut self, privileged: bool, r: u32, e: u32, s: u32) -> Result<(), i32> {
        if !privileged && [r, e, s].iter().any(|id| *id != KEEP && !self.ours(*id)) {
            return Err(libc::EPERM);
        }
        for (field, v) in [
            (&mut self.real, r),
            (&mut self.eff, e),
            (&mut self.saved, s),
        ] {
            if v != KEEP {
                *field = v;
            }
        }
        self.fs = self.eff;
        Ok(())
    }

    /// setuid/setgid: all three with the capability; otherwise the effective one, if it is
    /// the real or saved id. -1 is no id (EINVAL).
    fn set_id(&mut self, privileged: bool, id: u32) -> Result<(), i32> {
        if id == KEEP {
            return Err(libc::EINVAL);
        }
        if privileged {
            self.set_res(true, id, id, id)
        } else if id == self.real || id == self.saved {
            self.set_res(false, KEEP, id, KEEP)
        } else {
            Err(libc::EPERM)
        }
    }

    /// setreuid/setregid: without the capability the real id may become the real or
    /// effective one, the effective id any of the three; the saved id follows the new
    /// effective one when the real id is set, or the effective one is set to something else
    /// than the old real id.
    fn set_re(&mut self, privileged: bool, r: u32, e: u32) -> Result<(), i32> {
        if !privileged {
            let real_ok = r == KEEP || r == self.real || r == self.eff;
            let eff_ok = e == KEEP || self.ours(e);
            if !real_ok || !eff_ok {
                return Err(libc::EPERM);
            }
        }
        let new_e = if e == KEEP { self.eff } else { e };
        let s = if r != KEEP || (e != KEEP && e != self.real) {
            new_e
        } else {
            KEEP
        };
        self.set_res(true, r, e, s)
    }

    /// setfsuid/setfsgid: the previous file-system id; the change happens only to one of the
    /// ids or with the capability (and never tells an error).
    fn set_fs(&mut self, privileged: bool, id: u32) -> u32 {
        let old = self.fs;
        if id != KEEP && (privileged || self.ours(id) || id == self.fs) {
            self.fs = id;
        }
        old
    }
}

#[derive(Debug, Clone, Default)]
pub struct Creds {
    pub uids: Ids,
    pub gids: Ids,
    pub groups: Rc<[u32]>,
    pub caps: CapSets,
    /// PR_SET_KEEPCAPS: permitted survives the change of every uid away from 0.
    pub keepcaps: bool,
    pub no_new_privs: bool,
}

impl CapSets {
    /// From masks in the order the runtime gives them: effective, permitted, inheritable,
    /// bounding, ambient.
    pub fn from_masks(m: [u64; 5]) -> CapSets {
        CapSets {
            effective: m[0],
            permitted: m[1],
            inheritable: m[2],
            bounding: m[3],
            ambient: m[4],
        }
    }
}

impl Creds {
    /// The credentials of a process the runtime starts: all ids `uid`/`gid`, the config's
    /// groups and capability sets (its ambient set only as far as Linux lets the container
    /// class raise it: permitted and inheritable), and its no_new_privs.
    pub fn new(uid: u32, gid: u32, groups: &[u32], mut caps: CapSets, nnp: bool) -> Creds {
        caps.ambient &= caps.permitted & caps.inheritable;
        Creds {
            uids: Ids::all(uid),
            gids: Ids::all(gid),
            groups: groups.into(),
            caps,
            keepcaps: false,
            no_new_privs: nnp,
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.caps.effective & bit(cap) != 0
    }

    /// Whether the task is in group `gid` (its file-system gid or a supplementary group).
    pub fn in_group(&self, gid: u32) -> bool {
        self.gids.fs == gid || self.groups.contains(&gid)
    }

    /// Changes the uids with `change` and applies what a uid change does to capabilities.
    fn change_uids(
        &mut self,
        change: impl FnOnce(&mut Ids, bool) -> Result<(), i32>,
    ) -> Result<(), i32> {
        let before = self.uids;
        let privileged = self.capable(CAP_SETUID);
        change(&mut self.uids, privileged)?;
        self.uid_changed(before);
        Ok(())
    }

    pub fn set_uids(&mut self, r: u32, e: u32, s: u32) -> Result<(), i32> {
        self.change_uids(|ids, p| ids.set_res(p, r, e, s))
    }

    pub fn setuid(&mut self, id: u32) -> Result<(), i32> {
        self.change_uids(|ids, p| ids.set_id(p, id))
    }

    pub fn setreuid(&mut self, r: u32, e: u32) -> Result<(), i32> {
        self.change_uids(|ids, p| ids.set_re(p, r, e))
    }

    pub fn setfsuid(&mut self, id: u32) -> u32 {
        let before = self.uids;
        let old = self.uids.set_fs(self.capable(CAP_SETUID), id);
        self.fs_caps_follow(before.fs);
        old
    }

    pub fn set_gids(&mut self, r: u32, e: u32, s: u32) -> Result<(), i32> {
        let p = self.capable(CAP_SETGID);
        self.gids.set_res(p, r, e, s)
    }

    pub fn setgid(&mut self, id: u32) -> Result<(), i32> {
        let p = self.capable(CAP_SETGID);
        self.gids.set_id(p, id)
    }

    pub fn setregid(&mut self, r: u32, e: u32) -> Result<(), i32> {
        let p = self.capable(CAP_SETGID);
        self.gids.set_re(p, r, e)
    }

    pub fn setfsgid(&mut self, id: u32) -> u32 {
        let p = self.capable(CAP_SETGID);
        self.gids.set_fs(p, id)
    }

    /// capabilities(7), "Effect of user ID changes on capabilities".
    fn uid_changed(&mut self, before: Ids) {
        let was_root = before.ours(0);
        let now_root = self.uids.ours(0);
        if was_root && !now_root {
            if !self.keepcaps {
                self.caps.permitted = 0;
            }
            self.caps.effective = 0;
            self.caps.ambient = 0;
        }
        if before.eff == 0 && self.uids.eff != 0 {
            self.caps.effective = 0;
        }
        if before.eff != 0 && self.uids.eff == 0 {
            self.caps.effective = self.caps.permitted;
        }
        self.fs_caps_follow(before.fs);
    }

    /// A file-system uid change from 0 drops the file-system capabilities from effective; one
    /// to 0 raises those of them that are permitted.
    fn fs_caps_follow(&mut self, old_fsuid: u32) {
        if old_fsuid == 0 && self.uids.fs != 0 {
            self.caps.effective &= !FS_CAPS;
        }
        if old_fsuid != 0 && self.uids.fs == 0 {
            self.caps.effective |= self.caps.permitted & FS_CAPS;
        }
    }

    /// capset: the new sets must stay within what the task may have (capget(2)): effective
    /// within the new permitted, permitted within the old, inheritable within the old
    /// inheritable and permitted (or the bounding set with CAP_SETPCAP).
    pub fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), i32> {
        let c = self.caps;
        let inh_limit = if self.capable(CAP_SETPCAP) {
            c.inheritable | c.bounding
        } else {
            c.inheritable | c.permitted
        };
        if permitted & !c.permitted != 0
            || effective & !permitted != 0
            || inheritable & !inh_limit != 0
            || inheritable & !(c.inheritable | c.bounding) != 0
        {
            return Err(libc::EPERM);
        }
        self.caps.effective = effective;
        self.caps.permitted = permitted;
        self.caps.inheritable = inheritable;
        // Ambient capabilities must stay permitted and inheritable.
        self.caps.ambient &= permitted & inheritable;
        Ok(())
    }

    /// execve of a file with `mode`, owned by `owner` (uid, gid), as Linux's bprm_fill_uid and
    /// cap_bprm_creds_from_file without file capabilities (the sandbox has none): the
    /// set-user-ID bit makes the owner the effective user, set-group-ID (with group execute)
    /// the group, unless no_new_privs; a set-id exec clears the ambient set. Then a root task
    /// (real or effective uid 0) gets its bounding and inheritable sets, others their ambient
    /// set; the effective set is all of permitted for an effective root, else the ambient set.
    /// The saved ids become the effective ones. Answers whether the exec is "secure"
    /// (AT_SECURE: glibc then ignores LD_PRELOAD and the like).
    pub fn exec(&mut self, mode: u32, owner: (u32, u32)) -> bool {
        if !self.no_new_privs {
            if mode & libc::S_ISUID != 0 {
                self.uids.eff = owner.0;
            }
            if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
                self.gids.eff = owner.1;
            }
        }
        let setid = self.uids.eff != self.uids.real || self.gids.eff != self.gids.real;
        if setid {
            self.caps.ambient = 0;
        }
        let c = &mut self.caps;
        let old = c.permitted;
        let base = if self.uids.real == 0 || self.uids.eff == 0 {
            c.bounding | c.inheritable
        } else {
            0
        };
        c.permitted = base;
        if self.no_new_privs && c.permitted & !old != 0 {
            // Under no_new_privs an exec gives no more than the task had.
            c.permitted &= old;
        }
        c.permitted |= c.ambient;
        c.effective = if self.uids.eff == 0 {
            c.permitted
        } else {
            c.ambient
        };
        for ids in [&mut self.uids, &mut self.gids] {
            ids.saved = ids.eff;
            ids.fs = ids.eff;
        }
        self.keepcaps = false;
        setid || (self.uids.real != 0 && self.caps.permitted & !self.caps.ambient != 0)
    }
}
