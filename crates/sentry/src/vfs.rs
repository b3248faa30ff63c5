//! The sandbox's file system. Files of the rootfs are reached only through the directory fd
//! opened before the sentry confined itself, every lookup resolved beneath it with openat2
//! (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `..` and absolute symlinks stop at the sandbox's
//! root. /dev's character devices and /proc are the sentry's own.

use crate::mm::Errno;
use crate::procfs::{self, Proc};
use bulkhead_linux::resolve;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

/// What an open file is.
pub enum Node {
    /// A file or directory of the rootfs, open on the host.
    Host(File),
    /// One of the sentry's own standard streams (the container's stdio).
    Stdio(RawFd),
    Null,
    Zero,
    Full,
    Random,
    /// Generated content (procfs), read from `pos`.
    Data(Vec<u8>),
    /// A generated directory: (name, d_type).
    Dir(Vec<(String, u8)>),
    /// One end of a pipe.
    Pipe(crate::pipe::End),
    /// An eventfd's counter.
    EventFd(crate::eventfd::Counter),
    /// An epoll instance's interest list.
    Epoll(crate::epoll::Interest),
    /// A timerfd's timer.
    TimerFd(Rc<crate::timerfd::TimerFd>),
    /// A signalfd: the signals it takes from its reader's pending ones.
    SignalFd(std::cell::Cell<u64>),
    /// An inotify instance.
    Inotify(Rc<crate::inotify::Inotify>),
    /// A socket (unix domain), and its inode number.
    Socket(Rc<crate::net::unix::Socket>, u64),
}

pub struct OpenFile {
    pub node: Node,
    /// The open flags (O_ACCMODE, O_APPEND, O_NONBLOCK...).
    pub flags: i32,
    /// The absolute path it was opened by, for /proc/self/fd and getcwd.
    pub path: String,
    /// Position for generated nodes (host files use the host offset).
    pub pos: usize,
    /// flock was taken on it: its end (the last close) may let a waiting flock go on.
    pub flocked: bool,
    /// F_SETOWN's process (kept; the sandbox sends no SIGIO).
    pub owner: i32,
    /// The host fd a `Stdio` node reads and writes, when the description owns it (a process
    /// `bulkhead exec` started gets the runtime's stdio): closed with the description.
    pub hold: Option<Rc<OwnedFd>>,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if matches!(self.node, Node::Host(_)) && crate::inotify::active() {
            let wrote = self.flags & libc::O_ACCMODE != libc::O_RDONLY;
            let mask = if wrote {
                crate::inotify::IN_CLOSE_WRITE
            } else {
                crate::inotify::IN_CLOSE_NOWRITE
            };
            crate::inotify::on_path(&self.path, mask);
        }
        if self.flocked {
            crate::kernel::wait::poke();
        }
        if crate::locks::any() {
            crate::locks::release(crate::locks::Owner::Description(self.id()), None);
        }
    }
}

impl OpenFile {
    /// The description's identity for its record locks (its address, stable while it lives).
    pub fn id(&self) -> usize {
        self as *const OpenFile as usize
    }
}

/// (device, inode) of the host file an open file is, for its record locks.
pub fn file_id(f: &FileRef) -> Option<(u64, u64)> {
    match &f.borrow().node {
        Node::Host(h) => crate::host::fstat_raw(h.as_raw_fd())
            .ok()
            .map(|st| (st.st_dev, st.st_ino)),
        _ => None,
    }
}

pub type FileRef = Rc<RefCell<OpenFile>>;

/// A table's descriptor limit until RLIMIT_NOFILE sets it (Linux's default soft limit).
const FD_LIMIT: u64 = 1024;

/// A process's file descriptors: a handle that threads (CLONE_FILES) share; fork makes a
/// `duplicate`, whose entries are the same open file descriptions (offset and flags shared, as
/// on Linux).
#[derive(Default, Clone)]
pub struct FdTable {
    map: Rc<RefCell<BTreeMap<i32, (FileRef, bool)>>>,
    /// The process whose table it is: closing a descriptor drops that process's POSIX
    /// record locks on the file (locks.rs).
    owner: Rc<std::cell::Cell<i32>>,
    /// Descriptors are 0..limit: the process's soft RLIMIT_NOFILE (0 until set: FD_LIMIT).
    limit: Rc<std::cell::Cell<u64>>,
}

impl FdTable {
    /// fork without CLONE_FILES: a table of its own with the same open files.
    pub fn duplicate(&self) -> FdTable {
        FdTable {
            map: Rc::new(RefCell::new(self.map.borrow().clone())),
            owner: Rc::new(std::cell::Cell::new(self.owner.get())),
            limit: Rc::new(std::cell::Cell::new(self.limit.get())),
        }
    }

    /// The descriptor limit (RLIMIT_NOFILE's soft value): numbers from it on are refused.
    pub fn limit(&self) -> u64 {
        match self.limit.get() {
            0 => FD_LIMIT,
            n => n,
        }
    }

    pub fn set_limit(&self, n: u64) {
        self.limit.set(n.max(1));
    }

    /// Whether `fd` is a number the limit allows.
    pub fn allows(&self, fd: i32) -> bool {
        fd >= 0 && (fd as u64) < self.limit()
    }

    pub fn set_owner(&self, pid: i32) {
        self.owner.set(pid);
    }

    /// A descriptor of `f` was closed: the owner's POSIX locks on its file go (Linux drops
    /// them at the close of any descriptor of the file).
    fn closed(&self, f: &FileRef) {
        if !crate::locks::any() {
            return;
        }
        if let Some(file) = file_id(f) {
            crate::locks::release(crate::locks::Owner::Process(self.owner.get()), Some(file));
        }
    }

    pub fn get(&self, fd: i32) -> Result<FileRef, Errno> {
        self.map
            .borrow()
            .get(&fd)
            .map(|(f, _)| f.clone())
            .ok_or(libc::EBADF)
    }

    /// Installs at the lowest free number >= `min`.
    pub fn install(&self, f: FileRef, cloexec: bool, min: i32) -> Result<i32, Errno> {
        let mut map = self.map.borrow_mut();
        let mut n = min.max(0);
        while map.contains_key(&n) {
            n += 1;
        }
        if !self.allows(n) {
            return Err(libc::EMFILE);
        }
        map.insert(n, (f, cloexec));
        Ok(n)
    }

    pub fn install_at(&self, fd: i32, f: FileRef, cloexec: bool) {
        // The file it replaces is dropped after the table is released (its Drop may poke).
        let old = self.map.borrow_mut().insert(fd, (f, cloexec));
        if let Some((old, _)) = old {
            self.closed(&old);
        }
    }

    pub fn close(&self, fd: i32) -> Result<(), Errno> {
        let old = self.map.borrow_mut().remove(&fd);
        let (f, _) = old.ok_or(libc::EBADF)?;
        self.closed(&f);
        Ok(())
    }

    pub fn set_cloexec(&self, fd: i32, on: bool) -> Result<(), Errno> {
        self.map
            .borrow_mut()
            .get_mut(&fd)
            .map(|e| e.1 = on)
            .ok_or(libc::EBADF)
    }

    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.map.borrow().get(&fd).map(|e| e.1).ok_or(libc::EBADF)
    }

    pub fn fds(&self) -> Vec<i32> {
        self.map.borrow().keys().copied().collect()
    }

    /// execve: the close-on-exec descriptors go.
    pub fn close_on_exec(&self) {
        let gone: Vec<_> = {
            let mut map = self.map.borrow_mut();
            let fds: Vec<i32> = map.iter().filter(|(_, e)| e.1).map(|(k, _)| *k).collect();
            fds.iter().filter_map(|fd| map.remove(fd)).collect()
        };
        for (f, _) in &gone {
            self.closed(f);
        }
        drop(gone);
    }
}

pub fn wrap(node: Node, flags: i32, path: &str) -> FileRef {
    Rc::new(RefCell::new(OpenFile {
        node,
        flags,
        path: path.to_string(),
        pos: 0,
        flocked: false,
        owner: 0,
        hold: None,
    }))
}

/// Joins `path` to `base` and folds `.` and `..` lexically (for naming; the host lookup itself
/// is done by openat2 beneath the root).
pub fn normalize(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    for c in full.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A process's view of the file system: the root (shared by the whole sandbox), its working
/// directory and what its /proc says. Copied at fork.
#[derive(Clone)]
pub struct Fs {
    root: Rc<OwnedFd>,
    /// The working directory and umask: one for the threads that share them (CLONE_FS).
    state: Rc<RefCell<FsState>>,
    pub proc: Proc,
}

struct FsState {
    cwd: String,
    umask: u32,
}

fn errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn cstring(s: &str) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

impl Fs {
    pub fn new(root: OwnedFd, proc: Proc) -> Fs {
        Fs::with_root(Rc::new(root), proc)
    }

    /// A file system view beneath a root another view has too (a pod's container's).
    pub fn with_root(root: Rc<OwnedFd>, proc: Proc) -> Fs {
        Fs {
            root,
            state: Rc::new(RefCell::new(FsState {
                cwd: "/".into(),
                umask: 0o022,
            })),
            proc,
        }
    }

    /// The rootfs fd every path is resolved beneath.
    pub fn root(&self) -> Rc<OwnedFd> {
        self.root.clone()
    }

    /// Which root this is (processes that chroot have another): a key for caches by path.
    pub fn root_id(&self) -> usize {
        Rc::as_ptr(&self.root) as usize
    }

    /// The working directory.
    pub fn cwd(&self) -> String {
        self.state.borrow().cwd.clone()
    }

    pub fn umask(&self) -> u32 {
        self.state.borrow().umask
    }

    /// Sets the umask; returns the old one.
    pub fn set_umask(&self, mask: u32) -> u32 {
        std::mem::replace(&mut self.state.borrow_mut().umask, mask)
    }

    /// fork or clone without CLONE_FS: a working directory and umask of its own from now on.
    pub fn unshare(&mut self) {
        let s = self.state.borrow();
        let own = FsState {
            cwd: s.cwd.clone(),
            umask: s.umask,
        };
        drop(s);
        self.state = Rc::new(RefCell::new(own));
    }

    /// The absolute path of `path` as seen from `dir` (an fd's path, or the cwd). `.` folds;
    /// `..` is the parent of the directory the path led to, its symlinks followed (a name
    /// that does not exist folds lexically); the magic links /proc/<self>/root and
    /// /proc/<self>/cwd and the link /dev/fd are followed where a path goes on through them:
    /// their `..` is the parent of what they point to, as on Linux (so /proc/self/root/.. is
    /// the root).
    pub fn abs(&self, dir: Option<&str>, path: &str) -> String {
        let full = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", dir.map_or_else(|| self.cwd(), String::from))
        };
        let comps: Vec<&str> = full
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let mut parts: Vec<String> = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            if *c == ".." {
                // `..` is the parent of where the path has led, symlinks followed, as the
                // kernel's walk goes: /tmp/link/.. is the link target's parent.
                if !parts.is_empty() {
                    let here = format!("/{}", parts.join("/"));
                    let there = self.canonical(&here);
                    if there != here {
                        parts = there
                            .split('/')
                            .filter(|p| !p.is_empty())
                            .map(String::from)
                            .collect();
                    }
                }
                parts.pop();
                continue;
            }
            parts.push(c.to_string());
            if i + 1 < comps.len() {
                if let Some(target) = self.through_link(&parts) {
                    parts = target;
                }
            }
        }
        format!("/{}", parts.join("/"))
    }

    /// Where a path that goes on through the link `parts` continues from, for the links
    /// that lead to directories.
    fn through_link(&self, parts: &[String]) -> Option<Vec<String>> {
        let split = |p: &str| -> Vec<String> {
            p.split('/')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        };
        match parts {
            [d, f] if d == "dev" && f == "fd" => Some(split("/proc/self/fd")),
            [p, who, l] if p == "proc" && self.is_me(who) => match l.as_str() {
                "root" => Some(Vec::new()),
                "cwd" => Some(split(&self.cwd())),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether `who` (a /proc directory name) names this process.
    pub fn is_me(&self, who: &str) -> bool {
        self.proc.is_me(who)
    }

    /// The path a /proc link of this process (exe, cwd, root, fd/N) or /dev/std{in,out,err}
    /// points to, when it names a file (not a pipe's `pipe:[N]`, not a host stdio fd the sentry
    /// was given); other paths are returned as they are, and /proc/<me>/fd/N is then opened
    /// through the descriptor table.
    pub fn follow_proc_link(&self, abs: &str) -> String {
        let mut cur = abs.to_string();
        for _ in 0..8 {
            let parts: Vec<&str> = cur.split('/').filter(|c| !c.is_empty()).collect();
            let is_link = match parts.as_slice() {
                ["proc", who, "exe" | "cwd" | "root"] => self.is_me(who),
                ["proc", who, "fd", _] => self.is_me(who),
                // Links to /proc/self/fd/N, as on Linux: the opener's own fd 0, 1 or 2 (a pipe
                // of a `$(...)`, a redirection, a `bulkhead exec`'s stdio), never the sentry's.
                ["dev", "stdin" | "stdout" | "stderr"] => true,
                _ => false,
            };
            if !is_link {
                break;
            }
            match self.proc.readlink(&cur) {
                // A host stdio fd's description is named /dev/fd/N, which would open the
                // sentry's own fd N: the fd's description is opened instead (openat).
                Ok(t) if t.starts_with(b"/dev/fd/") => break,
                Ok(t) if t.starts_with(b"/") => cur = String::from_utf8_lossy(&t).into_owned(),
                _ => break,
            }
        }
        cur
    }

    /// Opens a host file beneath the root with `flags` (O_CLOEXEC is always added).
    pub fn open_host(&self, abs: &str, flags: i32, mode: u32) -> Result<File, Errno> {
        let fd = resolve::open_in_root(&self.root, std::path::Path::new(abs), flags, mode)
            .map_err(errno)?;
        Ok(File::from(fd))
    }

    /// Opens an executable for the loader: a regular file with an execute bit.
    pub fn open_exec(&self, path: &str) -> Result<File, Errno> {
        let abs = self.abs(None, path);
        let f = self.open_host(&abs, libc::O_RDONLY, 0)?;
        let st = crate::host::fstat_raw(f.as_raw_fd()).map_err(errno)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(libc::EACCES);
        }
        if st.st_mode & 0o111 == 0 {
            return Err(libc::EACCES);
        }
        Ok(f)
    }

    /// Whether `abs` names something the sentry makes itself (/dev, /proc, /sys, the root's
    /// /proc link) rather than a file of the rootfs.
    pub fn is_own(&self, abs: &str) -> bool {
        ["/dev", "/proc", "/sys"].iter().any(|d| {
            abs.strip_prefix(d)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'))
        }) && !in_dev_shm(abs)
            || self.is_root_link(abs)
    }

    /// A read-only open of a rootfs file in one lookup and one fstat, for the common case (a
    /// program reading its files): the general path stats the name before it opens it (is it
    /// a FIFO the sentry serves? may the application read it?), three host calls more. The host
    /// open adds O_NONBLOCK so that a FIFO cannot block it; only a regular file or a directory
    /// is kept (O_NONBLOCK means nothing to their reads); `None` for anything else and for the
    /// sentry's own names, which the caller opens the general way.
    pub fn open_read(&self, abs: &str, flags: i32) -> Result<Option<(File, libc::stat)>, Errno> {
        let plain = flags & libc::O_ACCMODE == libc::O_RDONLY
            && flags & (libc::O_CREAT | libc::O_TRUNC | libc::O_PATH | libc::O_TMPFILE) == 0;
        if !plain || self.is_own(abs) {
            return Ok(None);
        }
        let host_flags = flags & !(libc::O_CLOEXEC | libc::O_NOCTTY) | libc::O_NONBLOCK;
        let f = match self.open_beneath_dir(abs, host_flags) {
            Some(r) => r?,
            None => self.open_host(abs, host_flags, 0)?,
        };
        let st = crate::host::fstat_raw(f.as_raw_fd()).map_err(errno)?;
        Ok(matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR).then_some((f, st)))
    }

    /// open(2): the sentry's own devices and /proc, or a host file beneath the root.
    pub fn open(&self, abs: &str, flags: i32, mode: u32) -> Result<Node, Errno> {
        if self.is_root_link(abs) {
            return self.open("/", flags, mode);
        }
        if abs == "/dev/fd" {
            return self.open("/proc/self/fd", flags, mode);
        }
        if abs == "/dev" {
            let mut entries: Vec<(String, u8)> =
                ["null", "zero", "full", "random", "urandom", "tty"]
                    .iter()
                    .map(|n| (n.to_string(), 2u8))
                    .collect();
            entries.extend(
                ["stdin", "stdout", "stderr", "fd"]
                    .iter()
                    .map(|n| (n.to_string(), procfs::DT_LNK)),
            );
            if self.stat("/dev/shm", true).is_ok() {
                entries.push(("shm".to_string(), libc::DT_DIR));
            }
            return Ok(Node::Dir(entries));
        }
        if let Some(dev) = abs.strip_prefix("/dev/") {
            let node = match dev {
                "null" => Some(Node::Null),
                "zero" => Some(Node::Zero),
                "full" => Some(Node::Full),
                "random" | "urandom" => Some(Node::Random),
                "tty" | "stdin" | "fd/0" | "console" | "pts/0" => Some(stdio(0)),
                "stdout" | "fd/1" => Some(stdio(1)),
                "stderr" | "fd/2" => Some(stdio(2)),
                _ => None,
            };
            if let Some(n) = node {
                return Ok(n);
            }
        }
        if abs == "/proc" || abs.starts_with("/proc/") {
            return self.proc.open(abs);
        }
        if abs == "/sys" || abs.starts_with("/sys/") {
            return procfs::sys(abs);
        }
        if abs == "/dev/pts" || abs.starts_with("/dev/pts/") || abs == "/dev/ptmx" {
            // The container's terminal instance is not the application's to open.
            return Err(libc::ENOENT);
        }
        let host_flags = flags & !(libc::O_CLOEXEC | libc::O_NOCTTY);
        Ok(Node::Host(self.open_host(abs, host_flags, mode)?))
    }

    /// The (device, inode) of the FIFO `abs` names, if it names one; ENOENT and the like are
    /// left to open itself.
    pub fn fifo_key(&self, abs: &str, follow: bool) -> Option<(u64, u64)> {
        if abs == "/proc" || abs.starts_with("/proc/") || abs.starts_with("/dev/") {
            return None;
        }
        let st = self.stat(abs, follow).ok()?;
        (st.st_mode & libc::S_IFMT == libc::S_IFIFO).then_some((st.st_dev, st.st_ino))
    }

    /// The inode of a unix socket bound to path `abs` (`mode` holds S_IFSOCK and the
    /// permissions), made beneath the root; EEXIST when the name exists.
    pub fn mknod_socket(&self, abs: &str, mode: u32) -> Result<(), Errno> {
        let (d, n) = self.parent(abs)?;
        crate::host::mknodat(d.as_raw_fd(), &n, mode).map_err(errno)
    }

    /// mknod of a FIFO (`mode` holds S_IFIFO and the permissions) beneath the root.
    pub fn mkfifo(&self, abs: &str, mode: u32) -> Result<(), Errno> {
        let (d, n) = self.parent(abs)?;
        crate::host::mknodat(d.as_raw_fd(), &n, mode).map_err(errno)
    }

    /// An O_PATH fd of the host file `abs` names, for chmod, chown, utimes and statfs; the
    /// sentry's own /proc and /dev files cannot be changed (EPERM).
    pub fn path_fd(&self, abs: &str, follow: bool) -> Result<File, Errno> {
        if self.synthetic_stat(abs).is_some() || abs == "/proc" {
            return Err(libc::EPERM);
        }
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        self.open_host(abs, libc::O_PATH | nofollow, 0)
    }

    /// stat of a path: (generated for /dev and /proc, else fstat of an O_PATH fd).
    pub fn stat(&self, abs: &str, follow: bool) -> Result<libc::stat, Errno> {
        self.stat_depth(abs, follow, 0)
    }

    /// /proc/self/root itself (a link to "/"; paths below it are folded by `abs`).
    fn is_root_link(&self, abs: &str) -> bool {
        abs.strip_prefix("/proc/")
            .and_then(|r| r.strip_suffix("/root"))
            .is_some_and(|who| self.is_me(who))
    }

    fn stat_depth(&self, abs: &str, follow: bool, depth: u32) -> Result<libc::stat, Errno> {
        if follow && self.is_root_link(abs) {
            return self.stat_depth("/", true, depth);
        }
        if let Some(st) = self.synthetic_stat(abs) {
            if follow && st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                if depth > 8 {
                    return Err(libc::ELOOP);
                }
                let target = String::from_utf8_lossy(&self.proc.readlink(abs)?).into_owned();
                let dir = abs.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
                return self.stat_depth(&normalize(dir, &target), true, depth + 1);
            }
            return Ok(st);
        }
        match self.stat_beneath_dir(abs) {
            // A symlink to follow: the general path resolves it beneath the root.
            Some(Ok(st)) if follow && st.st_mode & libc::S_IFMT == libc::S_IFLNK => {}
            Some(r) => return r,
            None => {}
        }
        let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
        let f = self.open_host(abs, flags, 0)?;
        crate::host::fstat_raw(f.as_raw_fd()).map_err(errno)
    }

    /// lstat of `abs` in one host call beneath its directory's kept fd (dcache.rs); None
    /// when the path has no plain leaf or its directory cannot be opened.
    fn stat_beneath_dir(&self, abs: &str) -> Option<Result<libc::stat, Errno>> {
        let (dir, leaf) = crate::dcache::split(abs)?;
        let leaf = CString::new(leaf).ok()?;
        crate::dcache::with_dir(&self.root, dir, |fd| {
            crate::host::fstatat(fd.as_raw_fd(), &leaf, libc::AT_SYMLINK_NOFOLLOW).map_err(errno)
        })
    }

    /// open of `abs` with `flags` beneath its directory's kept fd (dcache.rs), the leaf not
    /// followed if it is a symlink; None when the general path is to open it: no plain leaf,
    /// a directory that cannot be opened, or a symlink leaf (ELOOP).
    fn open_beneath_dir(&self, abs: &str, flags: i32) -> Option<Result<File, Errno>> {
        let (dir, leaf) = crate::dcache::split(abs)?;
        let r = crate::dcache::with_dir(&self.root, dir, |fd| {
            resolve::open_in_root(&fd, std::path::Path::new(leaf), flags | libc::O_NOFOLLOW, 0)
        })?;
        match r {
            Ok(fd) => Some(Ok(File::from(fd))),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => None,
            Err(e) => Some(Err(errno(e))),
        }
    }

    /// Where a rootfs symlink at `abs` leads when it ends in the sentry's own /dev, /proc or
    /// /sys (an image's `access.log -> /dev/stdout`, Debian's `/etc/mtab ->
    /// ../proc/self/mounts`), following rootfs links on the way; None for anything else. The
    /// host resolves such a link beneath the root, where nothing of those trees is: openat and
    /// the stat calls ask only after the host said ENOENT, so the common path costs nothing
    /// more. (`Fs::stat` itself does not follow them: open's own stat of the path would then
    /// take `/dev/stdout`'s pipe for a FIFO of the rootfs.)
    pub fn link_to_own(&self, abs: &str) -> Option<String> {
        let mut cur = abs.to_string();
        for _ in 0..40 {
            if self.is_own(&cur) {
                return None;
            }
            let target = self.readlink(&cur).ok()?;
            let target = String::from_utf8_lossy(&target).into_owned();
            let dir = cur.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
            cur = self.abs(Some(if dir.is_empty() { "/" } else { dir }), &target);
            if self.is_own(&cur) {
                return Some(cur);
            }
        }
        None
    }

    /// `abs` with every symlink on the way resolved beneath the root, as the kernel names a
    /// file it found (/proc/PID/exe: busybox's `/bin/sh` is `/bin/busybox`); `abs` itself
    /// when the walk fails (a name that does not exist, a loop).
    pub fn canonical(&self, abs: &str) -> String {
        let mut path: Vec<String> = Vec::new();
        let mut rest: Vec<String> = abs.split('/').rev().map(String::from).collect();
        let mut links = 0;
        while let Some(c) = rest.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    path.pop();
                    continue;
                }
                _ => {}
            }
            let here = format!(
                "/{}",
                [path.join("/"), c.clone()]
                    .join("/")
                    .trim_start_matches('/')
            );
            let Ok(st) = self.stat(&here, false) else {
                return abs.to_string();
            };
            if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
                path.push(c);
                continue;
            }
            links += 1;
            let Some(target) = self.readlink(&here).ok().filter(|_| links <= 40) else {
                return abs.to_string();
            };
            let target = String::from_utf8_lossy(&target).into_owned();
            if target.starts_with('/') {
                path.clear();
            }
            rest.extend(target.split('/').rev().map(String::from));
        }
        format!("/{}", path.join("/"))
    }

    fn synthetic_stat(&self, abs: &str) -> Option<libc::stat> {
        if abs.starts_with("/proc/")
            || abs == "/dev/stdin"
            || abs == "/dev/stdout"
            || abs == "/dev/stderr"
            || abs == "/dev/fd"
        {
            if let Ok(target) = self.proc.readlink(abs) {
                let mut st = stat_of(&Node::Data(Vec::new()));
                st.st_mode = libc::S_IFLNK | 0o777;
                st.st_size = target.len() as i64;
                return Some(st);
            }
        }
        let node = if abs.starts_with("/dev/") && !in_dev_shm(abs) {
            self.open(abs, libc::O_RDONLY, 0).ok()?
        } else if abs == "/proc" || abs.starts_with("/proc/") {
            let mut st = stat_of(&self.proc.open(abs).ok()?);
            if Proc::writable(abs) {
                st.st_mode |= 0o200;
            }
            return Some(st);
        } else if abs == "/sys" || abs.starts_with("/sys/") {
            procfs::sys(abs).ok()?
        } else {
            return None;
        };
        Some(stat_of(&node))
    }

    pub fn readlink(&self, abs: &str) -> Result<Vec<u8>, Errno> {
        if abs.starts_with("/proc/") || abs.starts_with("/dev/std") || abs == "/dev/fd" {
            return self.proc.readlink(abs);
        }
        let f = self.open_host(abs, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        // The name exists: anything but a symlink is EINVAL, as readlink(2) says (readlinkat
        // of an empty name says ENOENT for a directory).
        crate::host::readlink_fd(f.as_raw_fd()).map_err(|e| match errno(e) {
            libc::ENOENT => libc::EINVAL,
            e => e,
        })
    }

    /// Where the extended attributes of `abs` are reached on the host: its directory's O_PATH
    /// fd and its last component (the root: itself and "."), after the sentry followed a last
    /// symlink (`follow`) beneath the root itself; with the file's stat. The sentry's own
    /// /proc, /sys and /dev files have none (EOPNOTSUPP).
    pub fn xattr_place(
        &self,
        abs: &str,
        follow: bool,
    ) -> Result<(File, CString, libc::stat), Errno> {
        let mut path = abs.to_string();
        for _ in 0..40 {
            if self.synthetic_stat(&path).is_some() || path == "/proc" || path == "/sys" {
                return Err(libc::EOPNOTSUPP);
            }
            let st = self.stat(&path, false)?;
            if follow && st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                let target = String::from_utf8_lossy(&self.readlink(&path)?).into_owned();
                let dir = match path.rsplit_once('/') {
                    Some(("", _)) | None => "/",
                    Some((d, _)) => d,
                };
                path = normalize(dir, &target);
                continue;
            }
            if path == "/" {
                let root = self.open_host("/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
                return Ok((root, cstring(".")?, st));
            }
            let (d, n) = self.parent(&path)?;
            return Ok((d, n, st));
        }
        Err(libc::ELOOP)
    }

    /// The directory fd and last component of `abs`, for *at calls on the host.
    fn parent(&self, abs: &str) -> Result<(File, CString), Errno> {
        let (dir, name) = abs.rsplit_once('/').ok_or(libc::EINVAL)?;
        if name.is_empty() || name == "." || name == ".." {
            return Err(libc::EINVAL);
        }
        if abs.starts_with("/proc/")
            || abs.starts_with("/sys/")
            || abs.starts_with("/dev/") && !in_dev_shm(abs) && self.synthetic_stat(abs).is_some()
        {
            return Err(libc::EPERM);
        }
        let d = self.open_host(
            if dir.is_empty() { "/" } else { dir },
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?;
        Ok((d, cstring(name)?))
    }

    pub fn mkdir(&self, abs: &str, mode: u32) -> Result<(), Errno> {
        if abs == "/" {
            // The root has no parent to make it in; it exists (mkdir -p starts with it).
            return Err(libc::EEXIST);
        }
        let (d, n) = self.parent(abs)?;
        crate::host::mkdirat(d.as_raw_fd(), &n, mode).map_err(errno)
    }

    pub fn unlink(&self, abs: &str, flags: i32) -> Result<(), Errno> {
        let (d, n) = self.parent(abs)?;
        crate::host::unlinkat(d.as_raw_fd(), &n, flags).map_err(errno)
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<(), Errno> {
        let (od, on) = self.parent(from)?;
        let (nd, nn) = self.parent(to)?;
        crate::host::renameat(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn).map_err(errno)
    }

    /// A hard link `to` of the file `from` names (a symlink `from` is linked itself; the
    /// caller resolves it first for AT_SYMLINK_FOLLOW).
    pub fn link(&self, from: &str, to: &str) -> Result<(), Errno> {
        let (od, on) = self.parent(from)?;
        let (nd, nn) = self.parent(to)?;
        crate::host::linkat(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn).map_err(errno)
    }

    pub fn symlink(&self, target: &str, abs: &str) -> Result<(), Errno> {
        let (d, n) = self.parent(abs)?;
        crate::host::symlinkat(&cstring(target)?, d.as_raw_fd(), &n).map_err(errno)
    }

    /// Changes the working directory; it must be a directory.
    pub fn chdir(&mut self, abs: &str) -> Result<(), Errno> {
        let st = self.stat(abs, true)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(libc::ENOTDIR);
        }
        // The directory itself, symlinks resolved: getcwd names it so, as Linux's does.
        self.state.borrow_mut().cwd = self.canonical(abs);
        Ok(())
    }
}

/// Whether `abs` is /dev/shm or beneath it: the container's own tmpfs there (the runtime
/// mounts it in the rootfs), passed through to the host as any rootfs file is.
pub fn in_dev_shm(abs: &str) -> bool {
    abs.strip_prefix("/dev/shm")
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// A stat for a generated node.
pub fn stat_of(node: &Node) -> libc::stat {
    // SAFETY-free: libc::stat is plain integers; start from all zeros.
    let mut st: libc::stat = zero_stat();
    st.st_nlink = 1;
    st.st_blksize = 4096;
    match node {
        Node::Null | Node::Zero | Node::Full | Node::Random => {
            st.st_mode = libc::S_IFCHR | 0o666;
            let (maj, min) = match node {
                Node::Null => (1, 3),
                Node::Zero => (1, 5),
                Node::Full => (1, 7),
                _ => (1, 9),
            };
            st.st_rdev = libc::makedev(maj, min);
        }
        Node::Stdio(fd) => return crate::host::fstat_raw(*fd).unwrap_or(st),
        Node::Host(f) => return crate::host::fstat_raw(f.as_raw_fd()).unwrap_or(st),
        Node::Data(d) => {
            st.st_mode = libc::S_IFREG | 0o444;
            st.st_size = d.len() as i64;
        }
        Node::Dir(_) => {
            st.st_mode = libc::S_IFDIR | 0o555;
            st.st_nlink = 2;
        }
        Node::Pipe(end) => {
            st.st_mode = libc::S_IFIFO | 0o600;
            st.st_ino = end.pipe.borrow().ino;
            st.st_dev = 0xd;
            return st;
        }
        Node::Socket(_, ino) => {
            st.st_mode = libc::S_IFSOCK | 0o777;
            st.st_ino = *ino;
            st.st_dev = 0x8;
            return st;
        }
        // Linux's anonymous inode: no file type, mode 0600, one inode for all of them.
        Node::EventFd(_)
        | Node::Epoll(_)
        | Node::TimerFd(_)
        | Node::SignalFd(_)
        | Node::Inotify(_) => {
            st.st_mode = 0o600;
            st.st_ino = 1;
            st.st_dev = 0xe;
            st.st_blksize = 4096;
            return st;
        }
    }
    st.st_dev = 0x42;
    st
}

fn zero_stat() -> libc::stat {
    // SAFETY: libc::stat is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// linux_dirent64 records for a generated directory, from entry `pos`; returns bytes and the
/// new position.
pub fn dirents(entries: &[(String, u8)], pos: usize, cap: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = pos;
    while i < entries.len() {
        let (name, typ) = &entries[i];
        let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
        if out.len() + reclen > cap {
            break;
        }
        let start = out.len();
        out.extend_from_slice(&(i as u64 + 1).to_le_bytes()); // d_ino
        out.extend_from_slice(&(i as i64 + 1).to_le_bytes()); // d_off
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(*typ);
        out.extend_from_slice(name.as_bytes());
        out.resize(start + reclen, 0);
        i += 1;
    }
    (out, i)
}

/// The container's stdin (0), stdout (1) or stderr (2).
fn stdio(n: usize) -> Node {
    Node::Stdio(crate::stdio::container(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_stays_at_root() {
        assert_eq!(normalize("/", "../../etc/shadow"), "/etc/shadow");
        assert_eq!(normalize("/a/b", "../c/./d"), "/a/c/d");
        assert_eq!(normalize("/x", "/"), "/");
    }

    #[test]
    fn dirent_records_are_aligned() {
        let (b, next) = dirents(&[("a".into(), 4), ("long-name".into(), 8)], 0, 4096);
        assert_eq!(next, 2);
        assert_eq!(b.len() % 8, 0);
        assert_eq!(u16::from_le_bytes([b[16], b[17]]), 24);
    }
}
