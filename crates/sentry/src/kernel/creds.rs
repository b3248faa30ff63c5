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
pub const CAP_LINUX_IMMUTABLE: u32 = 9;
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

#[derive(Debug, Clone, Default)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Rc<[u32]>,
    pub caps: CapSets,
    /// PR_SET_KEEPCAPS: permitted survives the change of every uid away from 0.
    pub keepcaps: bool,
    pub no_new_privs: bool,
}

/// A uid or gid argument: -1 (u32::MAX) leaves it as it is.
const KEEP: u32 = u32::MAX;

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
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups: groups.into(),
            caps,
            keepcaps: false,
            no_new_privs: nnp,
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.caps.effective & bit(cap) != 0
    }

    /// setresuid (setuid, setreuid and seteuid are built on it by the callers): KEEP leaves
    /// an id. Without CAP_SETUID each new id must be one of the current real, effective or
    /// saved uids. Then the capability rules of a uid change apply.
    pub fn set_uids(&mut self, r: u32, e: u32, s: u32) -> Result<(), i32> {
        if !self.capable(CAP_SETUID) {
            let ours = [self.uid, self.euid, self.suid];
            if [r, e, s].iter().any(|id| *id != KEEP && !ours.contains(id)) {
                return Err(libc::EPERM);
            }
        }
        let before = self.clone();
        if r != KEEP {
            self.uid = r;
        }
        if e != KEEP {
            self.euid = e;
        }
        if s != KEEP {
            self.suid = s;
        }
        self.fsuid = self.euid;
        self.uid_changed(&before);
        Ok(())
    }

    /// setuid: with CAP_SETUID all three uids; otherwise the effective one, if it is the real
    /// or saved uid.
    pub fn setuid(&mut self, id: u32) -> Result<(), i32> {
        if id == KEEP {
            return Err(libc::EINVAL);
        }
        if self.capable(CAP_SETUID) {
            self.set_uids(id, id, id)
        } else if id == self.uid || id == self.suid {
            self.set_uids(KEEP, id, KEEP)
        } else {
            Err(libc::EPERM)
        }
    }

    /// setreuid: the saved uid follows the effective one when the real uid is set, or the
    /// effective one is set to something else than the old real uid.
    pub fn setreuid(&mut self, r: u32, e: u32) -> Result<(), i32> {
        if !self.capable(CAP_SETUID) {
            let real_ok = r == KEEP || r == self.uid || r == self.euid;
            let eff_ok = e == KEEP || [self.uid, self.euid, self.suid].contains(&e);
            if !real_ok || !eff_ok {
                return Err(libc::EPERM);
            }
        }
        let new_e = if e == KEEP { self.euid } else { e };
        let s = if r != KEEP || (e != KEEP && e != self.uid) {
            new_e
        } else {
            KEEP
        };
        // The checks are done: set as a privileged caller would.
        self.force_uids(r, e, s)
    }

    fn force_uids(&mut self, r: u32, e: u32, s: u32) -> Result<(), i32> {
        let before = self.clone();
        if r != KEEP {
            self.uid = r;
        }
        if e != KEEP {
            self.euid = e;
        }
        if s != KEEP {
            self.suid = s;
        }
        self.fsuid = self.euid;
        self.uid_changed(&before);
        Ok(())
    }

    /// setfsuid: returns the previous fsuid; the change happens only for one of the uids or
    /// with CAP_SETUID (and never tells an error).
    pub fn setfsuid(&mut self, id: u32) -> u32 {
        let old = self.fsuid;
        let allowed =
            [self.uid, self.euid, self.suid, self.fsuid].contains(&id) || self.capable(CAP_SETUID);
        if id != KEEP && allowed {
            self.fsuid = id;
            self.fs_caps_follow(old);
        }
        old
    }

    /// capabilities(7), "Effect of user ID changes on capabilities".
    fn uid_changed(&mut self, before: &Creds) {
        let was_root = [before.uid, before.euid, before.suid].contains(&0);
        let now_root = [self.uid, self.euid, self.suid].contains(&0);
        if was_root && !now_root {
            if !self.keepcaps {
                self.caps.permitted = 0;
            }
            self.caps.effective = 0;
            self.caps.ambient = 0;
        }
        if before.euid == 0 && self.euid != 0 {
            self.caps.effective = 0;
        }
        if before.euid != 0 && self.euid == 0 {
            self.caps.effective = self.caps.permitted;
        }
        self.fs_caps_follow(before.fsuid);
    }

    /// A file-system uid change from 0 drops the file-system capabilities from effective; one
    /// to 0 raises those of them that are permitted.
    fn fs_caps_follow(&mut self, old_fsuid: u32) {
        if old_fsuid == 0 && self.fsuid != 0 {
            self.caps.effective &= !FS_CAPS;
        }
        if old_fsuid != 0 && self.fsuid == 0 {
            self.caps.effective |= self.caps.permitted & FS_CAPS;
        }
    }

    /// setresgid and its callers: as the uids, with CAP_SETGID, and no capability effects.
    pub fn set_gids(&mut self, r: u32, e: u32, s: u32) -> Result<(), i32> {
        if !self.capable(CAP_SETGID) {
            let ours = [self.gid, self.egid, self.sgid];
            if [r, e, s].iter().any(|id| *id != KEEP && !ours.contains(id)) {
                return Err(libc::EPERM);
            }
        }
        if r != KEEP {
            self.gid = r;
        }
        if e != KEEP {
            self.egid = e;
        }
        if s != KEEP {
            self.sgid = s;
        }
        self.fsgid = self.egid;
        Ok(())
    }

    pub fn setgid(&mut self, id: u32) -> Result<(), i32> {
        if id == KEEP {
            return Err(libc::EINVAL);
        }
        if self.capable(CAP_SETGID) {
            self.set_gids(id, id, id)
        } else if id == self.gid || id == self.sgid {
            self.set_gids(KEEP, id, KEEP)
        } else {
            Err(libc::EPERM)
        }
    }

    pub fn setregid(&mut self, r: u32, e: u32) -> Result<(), i32> {
        if !self.capable(CAP_SETGID) {
            let real_ok = r == KEEP || r == self.gid || r == self.egid;
            let eff_ok = e == KEEP || [self.gid, self.egid, self.sgid].contains(&e);
            if !real_ok || !eff_ok {
                return Err(libc::EPERM);
            }
        }
        let new_e = if e == KEEP { self.egid } else { e };
        let s = if r != KEEP || (e != KEEP && e != self.gid) {
            new_e
        } else {
            KEEP
        };
        if r != KEEP {
            self.gid = r;
        }
        self.egid = new_e;
        if s != KEEP {
            self.sgid = s;
        }
        self.fsgid = self.egid;
        Ok(())
    }

    pub fn setfsgid(&mut self, id: u32) -> u32 {
        let old = self.fsgid;
        let allowed =
            [self.gid, self.egid, self.sgid, self.fsgid].contains(&id) || self.capable(CAP_SETGID);
        if id != KEEP && allowed {
            self.fsgid = id;
        }
        old
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

    /// execve without set-user-ID bits or file capabilities (the sandbox applies neither), as
    /// Linux's cap_bprm_creds_from_file: a root task (real or effective uid 0) gets its bounding
    /// and inheritable sets, others their ambient set; the effective set is all of permitted
    /// for an effective root, else the ambient set. The saved ids become the effective ones.
    pub fn exec(&mut self) {
        let c = &mut self.caps;
        let old = c.permitted;
        let base = if self.uid == 0 || self.euid == 0 {
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
        c.effective = if self.euid == 0 {
            c.permitted
        } else {
            c.ambient
        };
        self.suid = self.euid;
        self.fsuid = self.euid;
        self.sgid = self.egid;
        self.fsgid = self.egid;
        self.keepcaps = false;
    }
}
