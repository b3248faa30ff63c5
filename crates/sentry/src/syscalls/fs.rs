//! File system calls: reads and writes, opens and stats, directories, descriptors, poll.

use super::*;
use crate::kernel::wait::{Wait, WaitKind};

/// Waits until `fd` of the host has `events` (POLLIN, POLLOUT), serving the call again then.
fn wait_host(t: &mut Task, fd: i32, events: i16) -> Errno {
    t.block(Wait {
        kind: WaitKind::Retry,
        deadline: None,
        host_fds: vec![(fd, events)],
    })
}

/// Reads up to `max` bytes of `fd`; WOULD_BLOCK, with the wait recorded, when the read has to
/// wait (an empty pipe, a terminal with no input).
fn read_bytes(t: &mut Task, fd: i32, max: usize) -> Result<Vec<u8>, Errno> {
    let f = t.fds.get(fd)?;
    let mut of = f.borrow_mut();
    if of.flags & O_ACCMODE == O_WRONLY {
        return Err(EBADF);
    }
    let nonblock = of.flags & O_NONBLOCK != 0;
    if let Node::SignalFd(mask) = &of.node {
        let mask = mask.get();
        drop(of);
        if max < super::signal::SIGNALFD_INFO {
            return Err(EINVAL);
        }
        return super::signal::signalfd_read(t, mask, max / super::signal::SIGNALFD_INFO, nonblock);
    }
    let pos = of.pos;
    let watched =
        matches!(of.node, Node::Host(_) if crate::inotify::active()).then(|| of.path.clone());
    let mut data = Vec::new();
    let mut buf = |n: usize| {
        data.resize(n, 0);
        std::mem::take(&mut data)
    };
    match &mut of.node {
        Node::Pipe(end) => match end.read(max) {
            Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
            r => r,
        },
        Node::Stdio(s) => {
            let s = *s;
            let mut b = buf(max);
            match crate::stdio::read(s, &mut b).map_err(err) {
                Ok(n) => {
                    b.truncate(n);
                    Ok(b)
                }
                Err(EAGAIN) if !nonblock => Err(wait_host(t, s, POLLIN)),
                Err(e) => Err(e),
            }
        }
        Node::Host(h) => {
            let mut b = buf(max);
            let n = crate::host::read(h.as_raw_fd(), &mut b).map_err(err)?;
            b.truncate(n);
            if let Some(p) = &watched {
                crate::inotify::on_path(p, crate::inotify::IN_ACCESS);
            }
            Ok(b)
        }
        Node::Null => Ok(Vec::new()),
        Node::Zero | Node::Full => Ok(vec![0u8; max]),
        Node::Random => {
            let mut b = buf(max);
            let n = crate::host::getrandom(&mut b).map_err(err)?;
            b.truncate(n);
            Ok(b)
        }
        Node::Data(d) => {
            let n = d.len().saturating_sub(pos).min(max);
            let out = d[pos..pos + n].to_vec();
            of.pos += n;
            Ok(out)
        }
        Node::Dir(_) => Err(EISDIR),
        Node::EventFd(_) if max < 8 => Err(EINVAL),
        Node::EventFd(c) => match c.read() {
            Ok(n) => Ok(n.to_le_bytes().to_vec()),
            Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
            Err(e) => Err(e),
        },
        // Taken before the match (it needs the task, not the description).
        Node::SignalFd(_) => Err(EINVAL),
        Node::Inotify(i) => match i.read(max) {
            Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
            r => r,
        },
        Node::Socket(s, _) => match s.recv(max, false) {
            Ok(r) => Ok(r.data),
            Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
            Err(e) => Err(e),
        },
        Node::TimerFd(_) if max < 8 => Err(EINVAL),
        Node::TimerFd(timer) => match timer.read() {
            Ok(n) => Ok(n.to_le_bytes().to_vec()),
            Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
            Err(e) => Err(e),
        },
        Node::Epoll(_) => Err(EINVAL),
    }
}

pub(super) fn read(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let data = read_bytes(t, fd, (len as usize).min(IO_CHUNK))?;
    put(t, buf, &data)?;
    Ok(data.len() as i64)
}

pub(super) fn write(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let data = t.mm.read_vec(buf, (len as usize).min(IO_CHUNK))?;
    write_bytes(t, fd, &data)
}

/// Writes `data` to `fd`. A blocking write to a pipe returns when all of it is written: it
/// waits, keeping what it wrote in `Task::progress`, as often as the pipe is full. EPIPE
/// raises SIGPIPE.
fn write_bytes(t: &mut Task, fd: i32, data: &[u8]) -> R {
    let res = write_inner(t, fd, data);
    if res == Err(EPIPE) {
        crate::signals::send(t, SIGPIPE);
    }
    res
}

/// A write to a stream that may take less than all of `data` (a pipe, the host's stdio).
/// A blocking writer waits (`wait`) as often as the stream is full, keeping what it wrote
/// in `Task::progress`, and returns when all is written.
fn write_waiting(
    t: &mut Task,
    data: &[u8],
    nonblock: bool,
    mut write: impl FnMut(&[u8]) -> Result<usize, Errno>,
    wait: impl FnOnce(&mut Task) -> Errno,
) -> R {
    let done = (t.progress as usize).min(data.len());
    match write(&data[done..]) {
        Ok(n) if done + n < data.len() && !nonblock => {
            t.progress = (done + n) as u64;
            Err(wait(t))
        }
        Ok(n) => Ok((done + n) as i64),
        Err(EAGAIN) if !nonblock => Err(wait(t)),
        Err(EAGAIN) if done > 0 => Ok(done as i64),
        // The reader left after part was written: Linux answers the count, and raises
        // SIGPIPE all the same.
        Err(EPIPE) if done > 0 => {
            crate::signals::send(t, SIGPIPE);
            Ok(done as i64)
        }
        Err(e) => Err(e),
    }
}

fn write_inner(t: &mut Task, fd: i32, data: &[u8]) -> R {
    let f = t.fds.get(fd)?;
    let of = f.borrow();
    if of.flags & O_ACCMODE == O_RDONLY && !matches!(of.node, Node::Stdio(_)) {
        return Err(EBADF);
    }
    let nonblock = of.flags & O_NONBLOCK != 0;
    let n = match &of.node {
        Node::Pipe(end) => {
            return write_waiting(
                t,
                data,
                nonblock,
                |d| end.write(d),
                |t| t.block(Wait::retry()),
            )
        }
        Node::Stdio(s) => {
            let s = *s;
            let host = |d: &[u8]| crate::stdio::write(s, d).map_err(err);
            return write_waiting(t, data, nonblock, host, |t| wait_host(t, s, POLLOUT));
        }
        Node::Host(h) => {
            let n = crate::host::write(h.as_raw_fd(), data).map_err(err)?;
            crate::inotify::on_path(&of.path, crate::inotify::IN_MODIFY);
            n
        }
        Node::Null | Node::Zero | Node::Random => data.len(),
        Node::Full => return Err(ENOSPC),
        Node::Data(_) => {
            let path = of.path.clone();
            drop(of);
            return proc_write(t, &path, data);
        }
        Node::Dir(_) => return Err(EBADF),
        Node::EventFd(c) => {
            let v = data.get(..8).ok_or(EINVAL)?;
            return match c.write(u64::from_le_bytes(v.try_into().map_err(|_| EINVAL)?)) {
                Ok(()) => Ok(8),
                Err(EAGAIN) if !nonblock => Err(t.block(Wait::retry())),
                Err(e) => Err(e),
            };
        }
        Node::Epoll(_) | Node::TimerFd(_) | Node::SignalFd(_) | Node::Inotify(_) => {
            return Err(EINVAL)
        }
        Node::Socket(..) => {
            // write(2) on a socket is send(2) without flags (SIGPIPE is raised by the caller).
            drop(of);
            let none = super::socket::no_control();
            return super::socket::send_bytes(t, fd, data, none, 0);
        }
    };
    Ok(n as i64)
}

/// A write to a /proc file of the writer's own (comm, oom_score_adj); /proc is brought up to
/// date first so that "self" is the writer, and published after.
fn proc_write(t: &mut Task, path: &str, data: &[u8]) -> R {
    t.refresh_proc();
    let may_lower = t.creds.capable(crate::kernel::creds::CAP_SYS_RESOURCE);
    let n = t.fs.proc.write(path, data, may_lower)?;
    t.refresh_proc();
    Ok(n as i64)
}

/// pread/pwrite on the sentry's own character devices: they have no offset to keep, and
/// answer as their read and write do (Linux's /dev/null, /dev/zero, /dev/full).
fn positioned_device(t: &Task, fd: i32) -> Result<bool, Errno> {
    let f = t.fds.get(fd)?;
    let node = &f.borrow().node;
    Ok(matches!(
        node,
        Node::Null | Node::Zero | Node::Full | Node::Random
    ))
}

pub(super) fn pread(t: &mut Task, fd: i32, buf: u64, len: u64, off: i64) -> R {
    if off < 0 {
        return Err(EINVAL);
    }
    if positioned_device(t, fd)? {
        return read(t, fd, buf, len);
    }
    let h = host_fd(t, fd).map_err(|_| ESPIPE)?;
    let mut data = vec![0u8; (len as usize).min(IO_CHUNK)];
    let n = crate::host::pread(h, &mut data, off).map_err(err)?;
    put(t, buf, &data[..n])?;
    Ok(n as i64)
}

pub(super) fn pwrite(t: &mut Task, fd: i32, buf: u64, len: u64, off: i64) -> R {
    if off < 0 {
        return Err(EINVAL);
    }
    if positioned_device(t, fd)? {
        return write(t, fd, buf, len);
    }
    let h = host_fd(t, fd).map_err(|_| ESPIPE)?;
    let data = t.mm.read_vec(buf, (len as usize).min(IO_CHUNK))?;
    Ok(crate::host::pwrite(h, &data, off).map_err(err)? as i64)
}

/// The (base, len) pairs of an iovec array.
pub(super) fn iovecs(t: &Task, iov: u64, cnt: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if cnt > 1024 {
        return Err(EINVAL);
    }
    (0..cnt)
        .map(|i| {
            Ok((
                t.mm.read_u64(iov + i * 16)?,
                t.mm.read_u64(iov + i * 16 + 8)?,
            ))
        })
        .collect()
}

/// readv: one read of the total length, scattered over the buffers.
pub(super) fn readv(t: &mut Task, fd: i32, iov: u64, cnt: u64) -> R {
    let vecs = iovecs(t, iov, cnt)?;
    let total = vecs.iter().map(|(_, l)| *l as usize).sum::<usize>();
    let data = read_bytes(t, fd, total.min(IO_CHUNK))?;
    let mut at = 0;
    for (base, len) in vecs {
        let n = (len as usize).min(data.len() - at);
        put(t, base, &data[at..at + n])?;
        at += n;
    }
    Ok(data.len() as i64)
}

/// writev: the buffers gathered and written at once (so a pipe gets them as one write).
pub(super) fn writev(t: &mut Task, fd: i32, iov: u64, cnt: u64) -> R {
    let mut data = Vec::new();
    for (base, len) in iovecs(t, iov, cnt)? {
        let n = (len as usize).min(IO_CHUNK - data.len());
        data.extend(t.mm.read_vec(base, n)?);
        if data.len() == IO_CHUNK {
            break;
        }
    }
    write_bytes(t, fd, &data)
}

/// sendfile without an offset: a read and a write through a scratch buffer. Into a pipe or
/// the host's stdio it sends no more than surely fits, and waits for room before it reads
/// anything, so a call served again after a wait has consumed nothing of the input.
pub(super) fn sendfile(t: &mut Task, out_fd: i32, in_fd: i32, offp: u64, count: u64) -> R {
    let mut count = count.min(65536);
    let (room, host) = match &t.fds.get(out_fd)?.borrow().node {
        Node::Pipe(end) if end.writes => (end.room(), None),
        Node::Stdio(s) => (Some(crate::stdio::room(*s)), Some(*s)),
        _ => (Some(count as usize), None),
    };
    match room {
        Some(0) => {
            let nonblock = t.fds.get(out_fd)?.borrow().flags & O_NONBLOCK != 0;
            return Err(match host {
                _ if nonblock => EAGAIN,
                Some(s) => wait_host(t, s, POLLOUT),
                None => t.block(Wait::retry()),
            });
        }
        Some(n) => count = count.min(n as u64),
        None => {} // no reader: the write below fails with EPIPE
    }
    if offp != 0 {
        let off = t.mm.read_u64(offp)? as i64;
        if off < 0 {
            return Err(EINVAL);
        }
        let h = host_fd(t, in_fd).map_err(|_| ESPIPE)?;
        let wrote = send_from(t, out_fd, h, off, count as usize)?;
        put(t, offp, &(off + wrote).to_le_bytes())?;
        return Ok(wrote);
    }
    // From a file of the rootfs at its position, which moves only once the write is done: a
    // call served again after a wait for a full socket reads what it read before.
    if let Some(h) = readable_file(t, in_fd)? {
        let pos = crate::host::lseek(h, 0, SEEK_CUR).map_err(err)?;
        let wrote = send_from(t, out_fd, h, pos, count as usize)?;
        crate::host::lseek(h, pos + wrote, SEEK_SET).map_err(err)?;
        return Ok(wrote);
    }
    let data = read_bytes(t, in_fd, count as usize)?;
    if data.is_empty() {
        return Ok(0);
    }
    write_bytes(t, out_fd, &data)
}

/// The host fd of `fd` when it is a file of the rootfs open for reading.
fn readable_file(t: &Task, fd: i32) -> Result<Option<i32>, Errno> {
    let f = t.fds.get(fd)?;
    let of = f.borrow();
    match &of.node {
        Node::Host(_) if of.flags & O_ACCMODE == O_WRONLY => Err(EBADF),
        Node::Host(h) => Ok(Some(h.as_raw_fd())),
        _ => Ok(None),
    }
}

/// Writes up to `count` bytes of host file `h` from `off` (its position untouched) to
/// `out_fd`. A write that waits serves the call again from the same offset, its progress
/// kept by the write.
fn send_from(t: &mut Task, out_fd: i32, h: i32, off: i64, count: usize) -> R {
    let mut data = vec![0u8; count];
    let n = crate::host::pread(h, &mut data, off).map_err(err)?;
    if n == 0 {
        return Ok(0);
    }
    write_bytes(t, out_fd, &data[..n])
}

pub(super) fn openat(t: &mut Task, dirfd: i32, addr: u64, flags: i32, mode: u32) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    match open_abs(t, &abs, flags, mode) {
        // A rootfs symlink into the sentry's own /dev or /proc (`access.log -> /dev/stdout`)
        // leads nowhere on the host, beneath the root: it is followed here.
        Err(ENOENT) if flags & O_NOFOLLOW == 0 => match t.fs.link_to_own(&abs) {
            Some(target) => open_abs(t, &target, flags, mode),
            None => Err(ENOENT),
        },
        r => r,
    }
}

/// openat of an absolute path.
fn open_abs(t: &mut Task, abs: &str, flags: i32, mode: u32) -> R {
    let abs = abs.to_string();
    fresh(t, &abs);
    let abs = t.fs.follow_proc_link(&abs);
    if let Some(fd) = open_read(t, &abs, flags)? {
        return Ok(fd);
    }
    if let Some(key) = t.fs.fifo_key(&abs, flags & O_NOFOLLOW == 0) {
        return open_fifo(t, key, flags, &abs);
    }
    if abs == "/dev/tty" {
        if let Some(f) = session_terminal(t.sid, flags) {
            return t.fds.install(f, flags & O_CLOEXEC != 0, 0).map(i64::from);
        }
        // No controlling terminal: neither an `exec -t` session nor the console's.
        if !(t.sid == CONSOLE_SID && CONSOLE.get()) {
            return Err(ENXIO);
        }
    }
    if let Some(f) = proc_fd_without_path(t, &abs) {
        // A pipe's /proc/self/fd/N (or a host stdio fd's): Linux opens the pipe again; the
        // same description is the nearest the sentry's pipes have.
        return t.fds.install(f, flags & O_CLOEXEC != 0, 0).map(i64::from);
    }
    crate::perm::open(&t.fs, &t.creds, &abs, flags)?;
    let new = flags & O_CREAT != 0 && t.fs.stat(&abs, false).is_err();
    let node = t.fs.open(&abs, flags, mode & !t.fs.umask())?;
    if new {
        crate::perm::own_new(&t.fs, &t.creds, &abs);
    }
    if matches!(node, Node::Host(_)) {
        if let Some(target) = crate::inotify::target(&abs) {
            if new {
                crate::inotify::tell(&target, 0, crate::inotify::IN_CREATE, 0);
            }
            let open = crate::inotify::IN_OPEN;
            crate::inotify::tell(&target, open, open, 0);
        }
    }
    // O_TMPFILE carries O_DIRECTORY's bit: it names the directory, and opens a file in it.
    let tmpfile = flags & O_TMPFILE == O_TMPFILE;
    if flags & O_DIRECTORY != 0
        && !tmpfile
        && !matches!(vfs::stat_of(&node).st_mode & S_IFMT, S_IFDIR)
    {
        return Err(ENOTDIR);
    }
    let listing =
        matches!(node, Node::Dir(_)) && (abs.ends_with("/fd") || abs.ends_with("/fdinfo"));
    let file = wrap(node, flags, &abs);
    let fd = t.fds.install(file.clone(), flags & O_CLOEXEC != 0, 0)?;
    if listing && abs.starts_with("/proc/") {
        // A process's fd directory lists the fd it is read through, as on Linux (ls of
        // /proc/self/fd shows its own): listed again now that the fd is in the table.
        if let Ok(again) = t.fs.open(&abs, flags, 0) {
            file.borrow_mut().node = again;
        }
    }
    Ok(i64::from(fd))
}

/// The read-only open of a plain rootfs file (vfs `open_read`), with the checks the general
/// path makes: search permission on the way, read permission on the file, O_DIRECTORY, and
/// inotify's IN_OPEN. `None`: the general path opens it.
fn open_read(t: &mut Task, abs: &str, flags: i32) -> Result<Option<i64>, Errno> {
    if flags & O_ACCMODE != O_RDONLY || t.fs.is_own(abs) {
        return Ok(None);
    }
    crate::perm::search(&t.fs, &t.creds, abs)?;
    let Some((f, st)) = t.fs.open_read(abs, flags)? else {
        return Ok(None);
    };
    if !crate::perm::may(&t.creds, &st, crate::perm::R) {
        return Err(EACCES);
    }
    if flags & O_DIRECTORY != 0 && st.st_mode & S_IFMT != S_IFDIR {
        return Err(ENOTDIR);
    }
    if let Some(target) = crate::inotify::target(abs) {
        let open = crate::inotify::IN_OPEN;
        crate::inotify::tell(&target, open, open, 0);
    }
    let file = wrap(Node::Host(f), flags, abs);
    t.fds
        .install(file, flags & O_CLOEXEC != 0, 0)
        .map(|fd| Some(i64::from(fd)))
}

/// open of a FIFO: the sentry's pipe for it (fifo.rs), waiting for the other side as Linux's
/// open does.
fn open_fifo(t: &mut Task, key: (u64, u64), flags: i32, abs: &str) -> R {
    if flags & (O_CREAT | O_EXCL) == (O_CREAT | O_EXCL) {
        return Err(EEXIST);
    }
    if flags & O_DIRECTORY != 0 {
        return Err(ENOTDIR);
    }
    match crate::fifo::open(key, flags, &mut t.fifo_open)? {
        Some(end) => t
            .fds
            .install(wrap(Node::Pipe(end), flags, abs), flags & O_CLOEXEC != 0, 0)
            .map(i64::from),
        None => Err(t.block(Wait::retry())),
    }
}

/// mknod and mknodat: FIFOs (the sentry serves them) and regular files; device nodes and
/// sockets are EPERM (the sandbox's /dev is the sentry's own).
pub(super) fn mknod(t: &mut Task, dirfd: i32, addr: u64, mode: u32) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    crate::perm::create(&t.fs, &t.creds, &abs)?;
    let perm = mode & 0o7777 & !t.fs.umask();
    match mode & S_IFMT {
        S_IFIFO => t.fs.mkfifo(&abs, S_IFIFO | perm)?,
        // A socket inode no socket is bound to (connect answers ECONNREFUSED), as Linux
        // makes one for anybody.
        S_IFSOCK => t.fs.mknod_socket(&abs, S_IFSOCK | perm)?,
        0 | S_IFREG => drop(t.fs.open_host(&abs, O_CREAT | O_EXCL | O_WRONLY, perm)?),
        S_IFCHR | S_IFBLK => return Err(EPERM),
        _ => return Err(EINVAL),
    }
    crate::perm::own_new(&t.fs, &t.creds, &abs);
    created(&abs);
    Ok(0)
}

/// An entry was made: IN_CREATE for its directory's watchers.
pub(super) fn created(abs: &str) {
    if let Some(target) = crate::inotify::target(abs) {
        crate::inotify::tell(&target, 0, crate::inotify::IN_CREATE, 0);
    }
}

/// The open file behind /proc/self/fd/N when it has no path to open again (a pipe).
fn proc_fd_without_path(t: &Task, abs: &str) -> Option<vfs::FileRef> {
    let n: i32 = abs
        .strip_prefix("/proc/")
        .and_then(|r| r.split_once("/fd/"))
        .filter(|(who, _)| t.fs.is_me(who))
        .and_then(|(_, n)| n.parse().ok())?;
    t.fds.get(n).ok()
}

/// The caller's fd that `abs` names through /proc/<me>/fd/N, /dev/fd/N or /dev/std{in,out,err}.
fn own_fd(t: &Task, abs: &str) -> Option<vfs::FileRef> {
    let n = match abs.strip_prefix("/dev/")? {
        "stdin" => 0,
        "stdout" => 1,
        "stderr" => 2,
        fd => fd.strip_prefix("fd/")?.parse().ok()?,
    };
    t.fds.get(n).ok()
}

pub(super) fn stat_bytes(st: &stat) -> Vec<u8> {
    // SAFETY-free copy: libc::stat is the kernel's x86-64 struct stat, plain integers.
    let p = st as *const stat as *const u8;
    (0..std::mem::size_of::<stat>())
        .map(|i| unsafe_byte(p, i))
        .collect()
}

pub(super) fn unsafe_byte(p: *const u8, i: usize) -> u8 {
    // SAFETY: only called with `p` pointing to a live stat and i < size_of::<stat>().
    unsafe { *p.add(i) }
}

pub(super) fn stat(t: &mut Task, dirfd: i32, addr: u64, buf: u64, flags: i32) -> R {
    let p = t.mm.read_cstr(addr, PATH_MAX as usize)?;
    if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fstat(t, dirfd, buf);
    }
    let p = String::from_utf8(p).map_err(|_| EINVAL)?;
    if p.is_empty() {
        return Err(ENOENT);
    }
    let abs = at(t, dirfd, &p)?;
    crate::perm::search(&t.fs, &t.creds, &abs)?;
    fresh(t, &abs);
    // A trailing slash asks for the directory a link points to.
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0 || p.ends_with('/');
    let st = stat_following_own(t, &abs, follow)?;
    put(t, buf, &stat_bytes(&st)).map(|_| 0)
}

/// stat of `abs`; a rootfs link into the sentry's own /dev, /proc or /sys (which the host
/// finds nothing behind) is followed here, as openat follows it (vfs `link_to_own`), and so
/// is a link to one of the caller's own fds (/proc/self/fd/N, /dev/fd/N, /dev/stdin...): to
/// what that fd is, as on Linux (ttyname(3) of an exec's terminal compares the two).
fn stat_following_own(t: &Task, abs: &str, follow: bool) -> Result<libc::stat, Errno> {
    let own = || own_fd(t, abs).or_else(|| proc_fd_without_path(t, abs));
    if let Some(f) = own().filter(|_| follow) {
        return Ok(vfs::stat_of(&f.borrow().node));
    }
    match t.fs.stat(abs, follow) {
        Err(ENOENT) if follow => match t.fs.link_to_own(abs) {
            Some(target) => t.fs.stat(&target, true),
            None => Err(ENOENT),
        },
        r => r,
    }
}

pub(super) fn fstat(t: &mut Task, fd: i32, buf: u64) -> R {
    let f = t.fds.get(fd)?;
    let st = vfs::stat_of(&f.borrow().node);
    put(t, buf, &stat_bytes(&st)).map(|_| 0)
}

pub(super) fn statx(t: &mut Task, dirfd: i32, addr: u64, flags: i32, buf: u64) -> R {
    let p = String::from_utf8(t.mm.read_cstr(addr, PATH_MAX as usize)?).map_err(|_| EINVAL)?;
    let st = if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        vfs::stat_of(&t.fds.get(dirfd)?.borrow().node)
    } else if p.is_empty() {
        return Err(ENOENT);
    } else {
        let abs = at(t, dirfd, &p)?;
        crate::perm::search(&t.fs, &t.creds, &abs)?;
        fresh(t, &abs);
        stat_following_own(
            t,
            &abs,
            flags & AT_SYMLINK_NOFOLLOW == 0 || p.ends_with('/'),
        )?
    };
    let mut b = vec![0u8; 256];
    let mut w = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    w(0, &0x7ffu32.to_le_bytes()); // stx_mask: the basic stats
    w(4, &(st.st_blksize as u32).to_le_bytes());
    w(16, &(st.st_nlink as u32).to_le_bytes());
    w(20, &st.st_uid.to_le_bytes());
    w(24, &st.st_gid.to_le_bytes());
    w(28, &(st.st_mode as u16).to_le_bytes());
    w(32, &st.st_ino.to_le_bytes());
    w(40, &(st.st_size as u64).to_le_bytes());
    w(48, &(st.st_blocks as u64).to_le_bytes());
    for (off, sec, nsec) in [
        (64, st.st_atime, st.st_atime_nsec),
        (96, st.st_ctime, st.st_ctime_nsec),
        (112, st.st_mtime, st.st_mtime_nsec),
    ] {
        w(off, &sec.to_le_bytes());
        w(off + 8, &(nsec as u32).to_le_bytes());
    }
    w(128, &major(st.st_rdev).to_le_bytes());
    w(132, &minor(st.st_rdev).to_le_bytes());
    w(136, &major(st.st_dev).to_le_bytes());
    w(140, &minor(st.st_dev).to_le_bytes());
    put(t, buf, &b).map(|_| 0)
}

pub(super) fn lseek(t: &mut Task, fd: i32, off: i64, whence: i32) -> R {
    let f = t.fds.get(fd)?;
    let mut of = f.borrow_mut();
    let len = match &of.node {
        Node::Host(h) => return crate::host::lseek(h.as_raw_fd(), off, whence).map_err(err),
        Node::Stdio(_) | Node::Pipe(_) => return Err(ESPIPE),
        Node::Data(d) => d.len() as i64,
        Node::Dir(_) if off == 0 && whence == SEEK_SET => {
            of.pos = 0;
            return Ok(0);
        }
        _ => return Ok(0),
    };
    let new = match whence {
        SEEK_SET => off,
        SEEK_CUR => of.pos as i64 + off,
        SEEK_END => len + off,
        _ => return Err(EINVAL),
    };
    if new < 0 {
        return Err(EINVAL);
    }
    of.pos = new as usize;
    Ok(new)
}

pub(super) fn getdents64(t: &mut Task, fd: i32, buf: u64, len: u64) -> R {
    let f = t.fds.get(fd)?;
    let cap = (len as usize).min(IO_CHUNK);
    let data = {
        let mut of = f.borrow_mut();
        let pos = of.pos;
        match &of.node {
            Node::Host(h) => {
                let mut d = vec![0u8; cap];
                let n = crate::host::getdents64(h.as_raw_fd(), &mut d).map_err(err)?;
                d.truncate(n);
                d
            }
            Node::Dir(entries) => {
                // Every directory lists `.` and `..` first, the sentry's own too (ls -a).
                let dots = [(".".to_string(), DT_DIR), ("..".to_string(), DT_DIR)];
                let all: Vec<(String, u8)> =
                    dots.into_iter().chain(entries.iter().cloned()).collect();
                let (d, next) = vfs::dirents(&all, pos, cap);
                if d.is_empty() && next < all.len() {
                    return Err(EINVAL);
                }
                of.pos = next;
                d
            }
            _ => return Err(ENOTDIR),
        }
    };
    put(t, buf, &data)?;
    Ok(data.len() as i64)
}

/// access, faccessat, faccessat2: existence (F_OK) or R/W/X_OK by the real ids, or with
/// AT_EACCESS the effective ones (perm.rs).
pub(super) fn access(t: &mut Task, dirfd: i32, addr: u64, mode: i32, flags: i32) -> R {
    if mode & !(R_OK | W_OK | X_OK) != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(EINVAL);
    }
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    fresh(t, &abs);
    let effective = flags & AT_EACCESS != 0;
    crate::perm::access(&t.fs, &t.creds, &abs, mode as u32, effective).map(|_| 0)
}

pub(super) fn readlink(t: &mut Task, dirfd: i32, addr: u64, buf: u64, len: u64) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    crate::perm::search(&t.fs, &t.creds, &abs)?;
    fresh(t, &abs);
    let mut target = t.fs.readlink(&abs)?;
    target.truncate(len as usize);
    put(t, buf, &target)?;
    Ok(target.len() as i64)
}

/// The socket ioctl asking whether the next byte is urgent data.
const SIOCATMARK: u64 = 0x8905;

pub(super) fn ioctl(t: &mut Task, fd: i32, req: u64, arg: u64) -> R {
    let f = t.fds.get(fd)?;
    // The generic requests every file takes: non-blocking mode and close-on-exec.
    match req {
        FIONBIO | FIOASYNC => {
            let flag = if req == FIONBIO { O_NONBLOCK } else { O_ASYNC };
            let on = t.mm.read_u32(arg)? != 0;
            let mut of = f.borrow_mut();
            of.flags = if on {
                of.flags | flag
            } else {
                of.flags & !flag
            };
            return Ok(0);
        }
        FIOCLEX | FIONCLEX => return t.fds.set_cloexec(fd, req == FIOCLEX).map(|_| 0),
        _ => {}
    }
    let host = match &f.borrow().node {
        Node::Stdio(s) => *s,
        Node::Pipe(end) if req == FIONREAD => {
            let n = end.queued() as i32;
            return put(t, arg, &n.to_le_bytes()).map(|_| 0);
        }
        Node::Inotify(i) if req == FIONREAD => {
            let n = i.queued_bytes() as i32;
            return put(t, arg, &n.to_le_bytes()).map(|_| 0);
        }
        Node::Socket(s, _) if req == FIONREAD || req == TIOCOUTQ => {
            let n = if req == FIONREAD {
                s.queued() as i32
            } else {
                0
            };
            return put(t, arg, &n.to_le_bytes()).map(|_| 0);
        }
        // SIOCATMARK: never at an urgent mark (no MSG_OOB data in the sandbox).
        Node::Socket(s, _) if req == SIOCATMARK && s.family != AF_UNIX => {
            return put(t, arg, &0i32.to_le_bytes()).map(|_| 0);
        }
        Node::Socket(..) if (0x8900..0x8a00).contains(&req) => {
            return super::socket::if_ioctl(t, req, arg)
        }
        _ => return Err(ENOTTY),
    };
    // Job control: each terminal's foreground process group is the sentry's to keep (the
    // host's terminal sees only the sentry, or an exec's proxy, and is not the sentry's
    // controlling terminal in an exec's case), on what is a terminal (TCGETS answers).
    if matches!(req, TIOCSPGRP | TIOCGPGRP) {
        crate::host::ioctl_buf(host, TCGETS, &mut [0u8; 60]).map_err(|_| ENOTTY)?;
        if req == TIOCGPGRP {
            let fg = foreground_of(tty_key(host));
            return put(t, arg, &fg.to_le_bytes()).map(|_| 0);
        }
        let pgrp = t.mm.read_vec(arg, 4)?;
        let pgrp = i32::from_le_bytes([pgrp[0], pgrp[1], pgrp[2], pgrp[3]]);
        set_foreground(tty_key(host), pgrp);
        return Ok(0);
    }
    if matches!(req, TIOCSCTTY | TIOCNOTTY) {
        return Ok(0);
    }
    // Terminal requests, passed through to the sentry's own terminal (the container's).
    let size = match req {
        TCGETS => 60,
        TCSETS | TCSETSW | TCSETSF => 60,
        TIOCGWINSZ | TIOCSWINSZ => 8,
        _ => return Err(ENOTTY),
    };
    let mut buf = t.mm.read_vec(arg, size)?;
    crate::host::ioctl_buf(host, req, &mut buf).map_err(err)?;
    if matches!(req, TCGETS | TIOCGWINSZ) {
        put(t, arg, &buf)?;
    }
    Ok(0)
}

thread_local! {
    /// Each terminal's foreground process group (TIOCSPGRP), by the host terminal's device
    /// number: the container's own (pid 1's group until set) and those of `exec -t`
    /// sessions (the exec'd process's group until set). The terminal's signals go there.
    static FOREGROUND: std::cell::RefCell<std::collections::BTreeMap<u64, i32>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Which terminal a host fd is: its device number (0 for what is not a terminal: a file, a
/// pipe, or a character device that is no tty, such as /dev/null).
pub fn tty_key(host: i32) -> u64 {
    let Ok(st) = crate::host::fstat_raw(host) else {
        return 0;
    };
    // A character device that answers TCGETS (struct termios, 60 bytes): any other answers
    // ENOTTY.
    let mut termios = [0u8; 64];
    if st.st_mode & S_IFMT == S_IFCHR
        && crate::host::ioctl_buf(host, libc::TCGETS, &mut termios).is_ok()
    {
        st.st_rdev
    } else {
        0
    }
}

/// The foreground process group of terminal `key`; pid 1's group until one is set.
pub fn foreground_of(key: u64) -> i32 {
    FOREGROUND.with(|f| f.borrow().get(&key).copied().unwrap_or(1))
}

fn set_foreground(key: u64, pgrp: i32) {
    FOREGROUND.with(|f| f.borrow_mut().insert(key, pgrp));
}

/// A terminal's host fd and its holder.
type Held = (i32, std::rc::Rc<std::os::fd::OwnedFd>);

/// The session whose controlling terminal the container's console is: the program's (pid 1,
/// the leader of the session it starts, as runc's init does with setsid).
const CONSOLE_SID: i32 = 1;

thread_local! {
    /// process.terminal: the container has a console (the sentry's stdin).
    static CONSOLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the container has a console (process.terminal), set once at start.
pub fn set_console(on: bool) {
    CONSOLE.set(on);
}

thread_local! {
    /// The controlling terminals of `exec -t` sessions, by session id: the host fd of the
    /// pty's slave, and its holder (what /dev/tty opens for the session's processes).
    static TERMINALS: std::cell::RefCell<std::collections::BTreeMap<i32, Held>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Process `sid`, started by `exec` with terminal `key` (host fd `raw`, kept by `hold`) as
/// stdin, leads a session on it: its group is the terminal's foreground group, and /dev/tty
/// is that terminal for the session.
pub fn attach_terminal(sid: i32, key: u64, raw: i32, hold: std::rc::Rc<std::os::fd::OwnedFd>) {
    set_foreground(key, sid);
    TERMINALS.with(|t| t.borrow_mut().insert(sid, (raw, hold)));
}

/// The session of an `exec -t` ended.
pub fn detach_terminal(sid: i32, key: u64) {
    FOREGROUND.with(|f| f.borrow_mut().remove(&key));
    TERMINALS.with(|t| t.borrow_mut().remove(&sid));
}

/// /dev/tty for a process of session `sid`: its exec'd terminal, if it has one (else the
/// container's, which vfs opens).
fn session_terminal(sid: i32, flags: i32) -> Option<crate::vfs::FileRef> {
    TERMINALS.with(|t| {
        t.borrow().get(&sid).map(|(raw, hold)| {
            let f = wrap(Node::Stdio(*raw), flags, "/dev/tty");
            f.borrow_mut().hold = Some(hold.clone());
            f
        })
    })
}

pub(super) fn fcntl(t: &mut Task, fd: i32, cmd: i32, arg: u64) -> R {
    match cmd {
        F_DUPFD => dup_min(t, fd, arg as i32, false),
        F_DUPFD_CLOEXEC => dup_min(t, fd, arg as i32, true),
        F_GETFD => t
            .fds
            .cloexec(fd)
            .map(|c| if c { FD_CLOEXEC as i64 } else { 0 }),
        F_SETFD => t
            .fds
            .set_cloexec(fd, arg as i32 & FD_CLOEXEC != 0)
            .map(|_| 0),
        F_GETFL => Ok(t.fds.get(fd)?.borrow().flags as i64),
        F_GETPIPE_SZ | F_SETPIPE_SZ => {
            let f = t.fds.get(fd)?;
            let of = f.borrow();
            let Node::Pipe(end) = &of.node else {
                return Err(EBADF);
            };
            if cmd == F_GETPIPE_SZ {
                Ok(end.pipe.borrow().capacity as i64)
            } else {
                end.set_capacity(arg as usize).map(|n| n as i64)
            }
        }
        F_SETFL => {
            let f = t.fds.get(fd)?;
            let mut of = f.borrow_mut();
            of.flags = (of.flags & !(O_APPEND | O_NONBLOCK | O_ASYNC))
                | (arg as i32 & (O_APPEND | O_NONBLOCK | O_ASYNC));
            Ok(0)
        }
        // The owner SIGIO would go to: kept (the sandbox sends no SIGIO).
        F_SETOWN => {
            t.fds.get(fd)?.borrow_mut().owner = arg as i32;
            Ok(0)
        }
        F_GETOWN => Ok(t.fds.get(fd)?.borrow().owner as i64),
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            super::attr::record_lock(t, fd, cmd, arg)
        }
        _ => Err(EINVAL),
    }
}

pub(super) fn dup_min(t: &mut Task, fd: i32, min: i32, cloexec: bool) -> R {
    let f = t.fds.get(fd)?;
    if !t.fds.allows(min) {
        return Err(EINVAL); // F_DUPFD's floor must be a descriptor number the limit allows
    }
    t.fds.install(f, cloexec, min).map(i64::from)
}

pub(super) fn dup(t: &mut Task, fd: i32, to: Option<i32>, cloexec: bool) -> R {
    let f = t.fds.get(fd)?;
    match to {
        None => t.fds.install(f, false, 0).map(i64::from),
        Some(to) if to == fd => Ok(to as i64),
        Some(to) if !t.fds.allows(to) => Err(EBADF),
        Some(to) => {
            t.fds.install_at(to, f, cloexec);
            Ok(to as i64)
        }
    }
}

pub(super) fn rename(t: &mut Task, od: i32, op: u64, nd: i32, np: u64) -> R {
    let (o, n) = (path(t, op)?, path(t, np)?);
    let (o, n) = (at(t, od, &o)?, at(t, nd, &n)?);
    crate::perm::delete(&t.fs, &t.creds, &o)?;
    let from = crate::inotify::target(&o);
    if t.fs.stat(&n, false).is_ok() {
        crate::perm::delete(&t.fs, &t.creds, &n)?;
    } else {
        crate::perm::create(&t.fs, &t.creds, &n)?;
    }
    t.fs.rename(&o, &n)?;
    if let (Some(from), Some(to)) = (from, crate::inotify::target(&n)) {
        use crate::inotify::{IN_MOVED_FROM, IN_MOVED_TO, IN_MOVE_SELF};
        let cookie = crate::inotify::cookie();
        crate::inotify::tell(&from, IN_MOVE_SELF, IN_MOVED_FROM, cookie);
        crate::inotify::tell(&to, 0, IN_MOVED_TO, cookie);
    }
    Ok(0)
}

pub(super) fn symlink(t: &mut Task, target: u64, dirfd: i32, addr: u64) -> R {
    let target = path(t, target)?;
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    crate::perm::create(&t.fs, &t.creds, &abs)?;
    t.fs.symlink(&target, &abs)?;
    crate::perm::own_new(&t.fs, &t.creds, &abs);
    created(&abs);
    Ok(0)
}

/// memfd_create(2): an anonymous host memory file (the sentry's own, close-on-exec on the
/// host), named `/memfd:NAME (deleted)` as Linux names it. Read, write, seek, truncate,
/// fstat and mmap work; seals do not (F_ADD_SEALS is refused), so MFD_ALLOW_SEALING is
/// accepted and has no effect, and a MAP_SHARED mapping is a copy shared only with fork
/// children (see mmap).
pub(super) fn memfd_create(t: &mut Task, name: u64, flags: u32) -> R {
    const KNOWN: u32 = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    if flags & !KNOWN != 0 {
        // MFD_HUGETLB, MFD_EXEC/NOEXEC_SEAL: not served.
        return Err(EINVAL);
    }
    let name = t.mm.read_cstr(name, 250)?;
    if name.len() > 249 {
        return Err(EINVAL);
    }
    let f = bulkhead_linux::fd::memfd("bulkhead-app").map_err(err)?;
    let path = format!("/memfd:{} (deleted)", String::from_utf8_lossy(&name));
    let file = wrap(Node::Host(f), O_RDWR, &path);
    t.fds
        .install(file, flags & MFD_CLOEXEC != 0, 0)
        .map(i64::from)
}

/// truncate(2): the file must be one the caller may write; a directory is EISDIR, anything
/// but a regular file EINVAL.
pub(super) fn truncate(t: &mut Task, abs: &str, len: i64) -> Result<(), Errno> {
    crate::perm::access(&t.fs, &t.creds, abs, crate::perm::W, true)?;
    let st = t.fs.stat(abs, true)?;
    match st.st_mode & S_IFMT {
        S_IFDIR => return Err(EISDIR),
        S_IFREG => {}
        _ => return Err(EINVAL),
    }
    if len < 0 {
        return Err(EINVAL);
    }
    let f = t.fs.open_host(abs, O_WRONLY | O_NONBLOCK, 0)?;
    crate::host::ftruncate(f.as_raw_fd(), len).map_err(err)
}

/// link and linkat: a new name for an existing file, in a directory the caller may write
/// and search. Without AT_SYMLINK_FOLLOW a symlink is linked itself (Linux's link(2));
/// AT_EMPTY_PATH links the file an fd names, by its path. Linux's protected_hardlinks
/// holds: a caller that does not own the file (and lacks CAP_FOWNER) may link only a
/// regular file it may read and write that is not set-id.
pub(super) fn link(t: &mut Task, od: i32, old: u64, nd: i32, new: u64, flags: i32) -> R {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let p = path(t, old)?;
    let from = if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        t.fds.get(od)?.borrow().path.clone()
    } else if p.is_empty() {
        return Err(ENOENT);
    } else {
        at(t, od, &p)?
    };
    let from = if flags & AT_SYMLINK_FOLLOW != 0 {
        t.fs.canonical(&t.fs.follow_proc_link(&from))
    } else {
        from
    };
    let to = at(t, nd, &path(t, new)?)?;
    crate::perm::search(&t.fs, &t.creds, &from)?;
    let st = t.fs.stat(&from, false)?;
    if st.st_mode & S_IFMT == S_IFDIR {
        return Err(EPERM);
    }
    if !crate::perm::may_link(&t.creds, &st) {
        return Err(EPERM);
    }
    crate::perm::create(&t.fs, &t.creds, &to)?;
    t.fs.link(&from, &to)?;
    created(&to);
    Ok(0)
}

pub(super) fn fchdir(t: &mut Task, fd: i32) -> R {
    let p = t.fds.get(fd)?.borrow().path.clone();
    crate::perm::access(&t.fs, &t.creds, &p, crate::perm::X, true)?;
    t.fs.chdir(&p).map(|_| 0)
}

pub(super) fn getcwd(t: &mut Task, buf: u64, size: u64) -> R {
    let mut cwd = t.fs.cwd().into_bytes();
    cwd.push(0);
    if cwd.len() as u64 > size {
        return Err(ERANGE);
    }
    put(t, buf, &cwd)?;
    Ok(cwd.len() as i64)
}

/// pipe/pipe2: a pipe in the sentry (pipe.rs); O_CLOEXEC, O_NONBLOCK and O_DIRECT (packet
/// mode) taken.
pub(super) fn pipe(t: &mut Task, fds: u64, flags: i32) -> R {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(EINVAL);
    }
    let (r, w) = crate::pipe::new();
    if flags & O_DIRECT != 0 {
        r.pipe.borrow_mut().packets = Some(Default::default());
    }
    let name = format!("pipe:[{}]", r.pipe.borrow().ino);
    let status = flags & O_NONBLOCK;
    let cloexec = flags & O_CLOEXEC != 0;
    let reader = wrap(Node::Pipe(r), O_RDONLY | status, &name);
    let writer = wrap(Node::Pipe(w), O_WRONLY | status, &name);
    install_pair(t, [reader, writer], cloexec, fds)
}

/// pipe2 and socketpair: installs both files and writes their two descriptor numbers to
/// `addr`; on any failure neither stays installed.
pub(super) fn install_pair(t: &mut Task, files: [vfs::FileRef; 2], cloexec: bool, addr: u64) -> R {
    let [a, b] = files;
    let fa = t.fds.install(a, cloexec, 0)?;
    let fb = match t.fds.install(b, cloexec, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.fds.close(fa);
            return Err(e);
        }
    };
    let mut out = fa.to_le_bytes().to_vec();
    out.extend_from_slice(&fb.to_le_bytes());
    if let Err(e) = put(t, addr, &out) {
        let _ = t.fds.close(fa);
        let _ = t.fds.close(fb);
        return Err(e);
    }
    Ok(0)
}

/// dup3: as dup2, but the same fd is EINVAL and O_CLOEXEC is the only flag.
pub(super) fn dup3(t: &mut Task, fd: i32, to: i32, flags: i32) -> R {
    if fd == to || flags & !O_CLOEXEC != 0 {
        return Err(EINVAL);
    }
    dup(t, fd, Some(to), flags & O_CLOEXEC != 0)
}

/// close_range(first, last, flags): CLOSE_RANGE_CLOEXEC marks instead of closing.
pub(super) fn close_range(t: &mut Task, first: u32, last: u32, flags: u32) -> R {
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(EINVAL);
    }
    for fd in t.fds.fds() {
        if (first..=last).contains(&(fd as u32)) {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                t.fds.set_cloexec(fd, true)?;
            } else {
                t.fds.close(fd)?;
            }
        }
    }
    Ok(0)
}

/// inotify_init and inotify_init1 (flags IN_NONBLOCK, IN_CLOEXEC).
pub(super) fn inotify_init(t: &mut Task, flags: i32) -> R {
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let node = Node::Inotify(crate::inotify::Inotify::new());
    let f = wrap(node, O_RDONLY | (flags & O_NONBLOCK), "anon_inode:inotify");
    t.fds.install(f, flags & O_CLOEXEC != 0, 0).map(i64::from)
}

/// The inotify instance behind `fd`: EBADF when not open, EINVAL when not one.
fn inotify_of(t: &Task, fd: i32) -> Result<std::rc::Rc<crate::inotify::Inotify>, Errno> {
    match &t.fds.get(fd)?.borrow().node {
        Node::Inotify(i) => Ok(i.clone()),
        _ => Err(EINVAL),
    }
}

/// inotify_add_watch: the file must exist and be readable by the task.
pub(super) fn inotify_add_watch(t: &mut Task, fd: i32, addr: u64, mask: u32) -> R {
    use crate::inotify::{IN_ALL_EVENTS, VALID};
    let i = inotify_of(t, fd)?;
    if mask & !VALID != 0 || mask & IN_ALL_EVENTS == 0 {
        return Err(EINVAL);
    }
    if mask & 0x3000_0000 == 0x3000_0000 {
        // IN_MASK_ADD with IN_MASK_CREATE.
        return Err(EINVAL);
    }
    let p = path(t, addr)?;
    let abs = at(t, AT_FDCWD, &p)?;
    crate::perm::access(&t.fs, &t.creds, &abs, crate::perm::R, true)?;
    i.add(&abs, mask).map(i64::from)
}

pub(super) fn inotify_rm_watch(t: &mut Task, fd: i32, wd: i32) -> R {
    if inotify_of(t, fd)?.remove(wd) {
        Ok(0)
    } else {
        Err(EINVAL)
    }
}
