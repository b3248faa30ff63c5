#![allow(non_upper_case_globals)] // the kernel's own names (SYS_read, ...)
//! The x86-64 system call table: one handler per call, the handlers in one file per subsystem
//! (fs, mm, process, signal, time, futex, sys). A call without a handler returns ENOSYS and is
//! counted. A handler that has to wait records it in the task and returns WOULD_BLOCK
//! (kernel/wait.rs).

mod attr;
mod creds;
mod epoll;
mod fs;
mod futex;
mod mm;
mod names;
mod poll;
mod process;
mod signal;
mod sockaddr;
mod socket;
mod sockopt;
mod sys;
mod time;
mod timer;
mod xattr;

use crate::kernel::{Kernel, Task};
use crate::mm::{page_up, Errno};
use crate::vfs::{self, wrap, Node};
use libc::*;
use std::os::fd::AsRawFd;

type R = Result<i64, Errno>;

/// Whether call `nr` may change what a path names or a permission on the way to it: perm.rs
/// and dcache.rs forget the directories they looked up before such a call runs.
fn may_change_names(nr: i64) -> bool {
    matches!(
        nr,
        SYS_rename
            | SYS_renameat
            | SYS_renameat2
            | SYS_unlink
            | SYS_unlinkat
            | SYS_rmdir
            | SYS_symlink
            | SYS_symlinkat
            | SYS_link
            | SYS_linkat
            | SYS_chmod
            | SYS_fchmod
            | SYS_fchmodat
            | SYS_fchmodat2
            | SYS_chown
            | SYS_lchown
            | SYS_fchown
            | SYS_fchownat
            | SYS_setxattr
            | SYS_lsetxattr
            | SYS_fsetxattr
            | SYS_removexattr
            | SYS_lremovexattr
            | SYS_fremovexattr
            | SYS_mount
            | SYS_umount2
            | SYS_chroot
            | SYS_pivot_root
    )
}

/// Serves system call `nr` of `t`; returns the value for rax (negative errno on failure).
pub fn dispatch(k: &mut Kernel, t: &mut Task, nr: u64) -> i64 {
    if nr == crate::platform::OTHER_ABI || (!t.asp.tells_abi() && by_int80(t)) {
        return -i64::from(ENOSYS);
    }
    if may_change_names(nr as i64) {
        crate::perm::forget();
        crate::dcache::forget();
    }
    use xattr::Which::{Fd, Path};
    let a = [
        t.regs.rdi, t.regs.rsi, t.regs.rdx, t.regs.r10, t.regs.r8, t.regs.r9,
    ];
    let res = match nr as i64 {
        // files
        SYS_read => fs::read(t, a[0] as i32, a[1], a[2]),
        SYS_write => fs::write(t, a[0] as i32, a[1], a[2]),
        SYS_pread64 => fs::pread(t, a[0] as i32, a[1], a[2], a[3] as i64),
        SYS_pwrite64 => fs::pwrite(t, a[0] as i32, a[1], a[2], a[3] as i64),
        SYS_readv => fs::readv(t, a[0] as i32, a[1], a[2]),
        SYS_writev => fs::writev(t, a[0] as i32, a[1], a[2]),
        SYS_open => fs::openat(t, AT_FDCWD, a[0], a[1] as i32, a[2] as u32),
        SYS_openat => fs::openat(t, a[0] as i32, a[1], a[2] as i32, a[3] as u32),
        SYS_creat => fs::openat(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1] as u32),
        SYS_close => socket::close(t, a[0] as i32),
        SYS_stat => fs::stat(t, AT_FDCWD, a[0], a[1], 0),
        SYS_lstat => fs::stat(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        SYS_fstat => fs::fstat(t, a[0] as i32, a[1]),
        SYS_newfstatat => fs::stat(t, a[0] as i32, a[1], a[2], a[3] as i32),
        SYS_statx => fs::statx(t, a[0] as i32, a[1], a[2] as i32, a[4]),
        SYS_lseek => fs::lseek(t, a[0] as i32, a[1] as i64, a[2] as i32),
        SYS_getdents64 => fs::getdents64(t, a[0] as i32, a[1], a[2]),
        SYS_access => fs::access(t, AT_FDCWD, a[0], a[1] as i32, 0),
        SYS_faccessat => fs::access(t, a[0] as i32, a[1], a[2] as i32, 0),
        SYS_faccessat2 => fs::access(t, a[0] as i32, a[1], a[2] as i32, a[3] as i32),
        SYS_readlink => fs::readlink(t, AT_FDCWD, a[0], a[1], a[2]),
        SYS_readlinkat => fs::readlink(t, a[0] as i32, a[1], a[2], a[3]),
        SYS_ioctl => fs::ioctl(t, a[0] as i32, a[1], a[2]),
        SYS_fcntl => fs::fcntl(t, a[0] as i32, a[1] as i32, a[2]),
        SYS_dup => fs::dup(t, a[0] as i32, None, false),
        SYS_dup2 => fs::dup(t, a[0] as i32, Some(a[1] as i32), false),
        SYS_dup3 => fs::dup3(t, a[0] as i32, a[1] as i32, a[2] as i32),
        SYS_pipe => fs::pipe(t, a[0], 0),
        SYS_pipe2 => fs::pipe(t, a[0], a[1] as i32),
        SYS_close_range => fs::close_range(t, a[0] as u32, a[1] as u32, a[2] as u32),
        SYS_sendfile => fs::sendfile(t, a[0] as i32, a[1] as i32, a[2], a[3]),
        SYS_poll => poll::poll(t, a[0], a[1], a[2] as i32 as i64),
        SYS_ppoll => poll::ppoll(t, a),
        SYS_select => poll::select(t, a, false),
        SYS_pselect6 => poll::select(t, a, true),
        SYS_epoll_create => epoll::create_sized(t, a[0] as i32),
        SYS_epoll_create1 => epoll::create(t, a[0] as i32),
        SYS_epoll_ctl => epoll::ctl(t, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        SYS_epoll_wait => epoll::epoll_wait(t, a),
        SYS_epoll_pwait => epoll::epoll_pwait(t, a, false),
        SYS_epoll_pwait2 => epoll::epoll_pwait(t, a, true),
        SYS_eventfd => epoll::eventfd(t, a[0] as u32, 0),
        SYS_eventfd2 => epoll::eventfd(t, a[0] as u32, a[1] as i32),
        SYS_memfd_create => fs::memfd_create(t, a[0], a[1] as u32),
        SYS_inotify_init => fs::inotify_init(t, 0),
        SYS_inotify_init1 => fs::inotify_init(t, a[0] as i32),
        SYS_inotify_add_watch => fs::inotify_add_watch(t, a[0] as i32, a[1], a[2] as u32),
        SYS_inotify_rm_watch => fs::inotify_rm_watch(t, a[0] as i32, a[1] as i32),
        SYS_signalfd => signal::signalfd(t, a[0] as i32, a[1], a[2], 0),
        SYS_signalfd4 => signal::signalfd(t, a[0] as i32, a[1], a[2], a[3] as i32),
        SYS_timerfd_create => timer::timerfd_create(t, a[0] as i32, a[1] as i32),
        SYS_timerfd_settime => timer::timerfd_settime(t, a[0] as i32, a[1] as i32, a[2], a[3]),
        SYS_timerfd_gettime => timer::timerfd_gettime(t, a[0] as i32, a[1]),
        SYS_mkdir => path_op(t, AT_FDCWD, a[0], |t, p| mkdir(t, p, a[1] as u32)),
        SYS_mkdirat => path_op(t, a[0] as i32, a[1], |t, p| mkdir(t, p, a[2] as u32)),
        SYS_rmdir => path_op(t, AT_FDCWD, a[0], |t, p| unlink(t, p, AT_REMOVEDIR)),
        SYS_unlink => path_op(t, AT_FDCWD, a[0], |t, p| unlink(t, p, 0)),
        SYS_unlinkat => path_op(t, a[0] as i32, a[1], |t, p| {
            unlink(t, p, a[2] as i32 & AT_REMOVEDIR)
        }),
        SYS_rename => fs::rename(t, AT_FDCWD, a[0], AT_FDCWD, a[1]),
        SYS_renameat | SYS_renameat2 => fs::rename(t, a[0] as i32, a[1], a[2] as i32, a[3]),
        SYS_link => fs::link(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        SYS_linkat => fs::link(t, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as i32),
        SYS_symlink => fs::symlink(t, a[0], AT_FDCWD, a[1]),
        SYS_symlinkat => fs::symlink(t, a[0], a[1] as i32, a[2]),
        SYS_chdir => path_op(t, AT_FDCWD, a[0], |t, p| {
            crate::perm::access(&t.fs, &t.creds, p, crate::perm::X, true)?;
            t.fs.chdir(p)
        }),
        SYS_fchdir => fs::fchdir(t, a[0] as i32),
        SYS_getcwd => fs::getcwd(t, a[0], a[1]),
        SYS_umask => Ok(i64::from(t.fs.set_umask(a[0] as u32 & 0o777))),
        SYS_fsync | SYS_fdatasync => host_fd(t, a[0] as i32)
            .and_then(|f| crate::host::fsync(f).map_err(err))
            .map(|_| 0),
        SYS_truncate => path_op(t, AT_FDCWD, a[0], |t, p| fs::truncate(t, p, a[1] as i64)),
        SYS_getpriority => process::getpriority(k, t, a[0] as i32, a[1] as i32),
        SYS_setpriority => process::setpriority(k, t, a[0] as i32, a[1] as i32, a[2] as i32),
        SYS_ftruncate => host_fd(t, a[0] as i32)
            .and_then(|f| crate::host::ftruncate(f, a[1] as i64).map_err(err))
            .map(|_| 0),
        SYS_fchmod => attr::fchmod(t, a[0] as i32, a[1] as u32),
        SYS_chmod => attr::chmod(t, AT_FDCWD, a[0], a[1] as u32, 0),
        SYS_fchmodat => attr::chmod(t, a[0] as i32, a[1], a[2] as u32, 0),
        SYS_fchmodat2 => attr::chmod(t, a[0] as i32, a[1], a[2] as u32, a[3] as i32),
        SYS_chown => attr::chown(t, AT_FDCWD, a[0], (a[1] as u32, a[2] as u32), 0),
        SYS_lchown => attr::chown(
            t,
            AT_FDCWD,
            a[0],
            (a[1] as u32, a[2] as u32),
            AT_SYMLINK_NOFOLLOW,
        ),
        SYS_fchownat => attr::chown(
            t,
            a[0] as i32,
            a[1],
            (a[2] as u32, a[3] as u32),
            a[4] as i32,
        ),
        SYS_fchown => attr::fchown(t, a[0] as i32, a[1] as u32, a[2] as u32),
        SYS_utimensat => attr::utimensat(t, a[0] as i32, a[1], a[2], a[3] as i32),
        SYS_utimes => attr::utimes(t, AT_FDCWD, a[0], a[1]),
        SYS_futimesat => attr::utimes(t, a[0] as i32, a[1], a[2]),
        SYS_utime => attr::utime(t, a[0], a[1]),
        SYS_statfs => attr::statfs(t, a[0], a[1]),
        SYS_flock => attr::flock(t, a[0] as i32, a[1] as i32),
        SYS_mknod => fs::mknod(t, AT_FDCWD, a[0], a[1] as u32),
        SYS_mknodat => fs::mknod(t, a[0] as i32, a[1], a[2] as u32),
        SYS_fstatfs => attr::fstatfs(t, a[0] as i32, a[1]),
        SYS_fadvise64 => t.fds.get(a[0] as i32).map(|_| 0),
        // sockets
        SYS_socket => socket::socket(t, a[0] as i32, a[1] as i32, a[2] as i32),
        SYS_socketpair => socket::socketpair(t, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        SYS_bind => socket::bind(t, a[0] as i32, a[1], a[2] as u32),
        SYS_listen => socket::listen(t, a[0] as i32, a[1] as i32),
        SYS_connect => socket::connect(t, a[0] as i32, a[1], a[2] as u32),
        SYS_accept => socket::accept(t, a[0] as i32, a[1], a[2], 0),
        SYS_accept4 => socket::accept(t, a[0] as i32, a[1], a[2], a[3] as i32),
        SYS_getsockname => socket::getsockname(t, a[0] as i32, a[1], a[2]),
        SYS_getpeername => socket::getpeername(t, a[0] as i32, a[1], a[2]),
        SYS_shutdown => socket::shutdown(t, a[0] as i32, a[1] as i32),
        SYS_sendto => socket::sendto(t, a),
        SYS_recvfrom => socket::recvfrom(t, a),
        SYS_sendmsg => socket::sendmsg(t, a[0] as i32, a[1], a[2] as i32),
        SYS_recvmsg => socket::recvmsg(t, a[0] as i32, a[1], a[2] as i32),
        SYS_sendmmsg => socket::sendmmsg(t, a[0] as i32, a[1], a[2] as u32, a[3] as i32),
        SYS_recvmmsg => socket::recvmmsg(t, a[0] as i32, a[1], a[2] as u32, a[3] as i32),
        SYS_setsockopt => {
            sockopt::setsockopt(t, a[0] as i32, a[1] as i32, a[2] as i32, a[3], a[4] as u32)
        }
        SYS_getsockopt => sockopt::getsockopt(t, a[0] as i32, a[1] as i32, a[2] as i32, a[3], a[4]),
        // extended attributes
        SYS_getxattr => xattr::get(t, Path(a[0], true), a[1], a[2], a[3]),
        SYS_lgetxattr => xattr::get(t, Path(a[0], false), a[1], a[2], a[3]),
        SYS_fgetxattr => xattr::get(t, Fd(a[0] as i32), a[1], a[2], a[3]),
        SYS_setxattr => xattr::set(t, Path(a[0], true), [a[1], a[2], a[3], a[4]]),
        SYS_lsetxattr => xattr::set(t, Path(a[0], false), [a[1], a[2], a[3], a[4]]),
        SYS_fsetxattr => xattr::set(t, Fd(a[0] as i32), [a[1], a[2], a[3], a[4]]),
        SYS_listxattr => xattr::list(t, Path(a[0], true), a[1], a[2]),
        SYS_llistxattr => xattr::list(t, Path(a[0], false), a[1], a[2]),
        SYS_flistxattr => xattr::list(t, Fd(a[0] as i32), a[1], a[2]),
        SYS_removexattr => xattr::remove(t, Path(a[0], true), a[1]),
        SYS_lremovexattr => xattr::remove(t, Path(a[0], false), a[1]),
        SYS_fremovexattr => xattr::remove(t, Fd(a[0] as i32), a[1]),
        // memory
        SYS_brk => Ok(t.mm.set_brk(t.asp.as_mut(), a[0]) as i64),
        SYS_mmap => mm::mmap(t, a[0], a[1], a[2] as i32, a[3] as i32, a[4] as i32, a[5]),
        SYS_munmap => t.mm.unmap(t.asp.as_mut(), a[0], a[1]).map(|_| 0),
        SYS_mprotect => mm::mprotect(t, a[0], a[1], a[2] as i32),
        SYS_mremap => mm::mremap(t, a[0], a[1], a[2], a[3] as i32, a[4]),
        SYS_msync => sys::msync(t, a[0], a[1], a[2] as i32),
        SYS_capget => creds::capget(k, t, a[0], a[1]),
        SYS_madvise => mm::madvise(t, a[0], a[1], a[2] as i32),
        // processes
        SYS_fork => process::fork(k, t, SIGCHLD as u64),
        SYS_vfork => process::fork(k, t, (CLONE_VM | CLONE_VFORK | SIGCHLD) as u64),
        SYS_clone => process::clone(k, t, a),
        SYS_clone3 => process::clone3(k, t, a[0], a[1]),
        SYS_execve => process::execve(k, t, AT_FDCWD, a[0], a[1], a[2], 0),
        SYS_execveat => process::execve(k, t, a[0] as i32, a[1], a[2], a[3], a[4] as i32),
        SYS_exit => {
            t.exit = Some(crate::kernel::exited(a[0] as i32));
            Ok(0)
        }
        SYS_exit_group => {
            t.exit = Some(crate::kernel::exited(a[0] as i32));
            t.group_exit = true;
            Ok(0)
        }
        SYS_wait4 => process::wait4(k, t, a[0] as i32, a[1], a[2] as i32, a[3]),
        SYS_waitid => process::waitid(k, t, a[0] as u32, a[1] as i32, a[2], a[3] as i32),
        SYS_getpid => Ok(t.pid as i64),
        SYS_gettid => Ok(t.tid as i64),
        SYS_getppid => Ok(t.ppid as i64),
        SYS_getpgrp => Ok(t.pgid as i64),
        SYS_getpgid => process::getpgid(k, t, a[0] as i32),
        SYS_getsid => process::getsid(k, t, a[0] as i32),
        SYS_setpgid => process::setpgid(k, t, a[0] as i32, a[1] as i32),
        SYS_setsid => process::setsid(k, t),
        SYS_set_tid_address => {
            t.clear_tid = a[0];
            Ok(t.tid as i64)
        }
        SYS_set_robust_list => {
            // struct robust_list_head is 24 bytes on x86-64.
            if a[1] != 24 {
                Err(EINVAL)
            } else {
                t.robust_list = a[0];
                Ok(0)
            }
        }
        SYS_get_robust_list => sys::get_robust_list(k, t, a[0] as i32, a[1], a[2]),
        SYS_getcpu => sys::getcpu(t, a[0], a[1]),
        SYS_sched_setaffinity => sys::sched_setaffinity(k, t, a[0] as i32, a[1], a[2]),
        // identity and the system
        SYS_getuid => Ok(i64::from(t.creds.uids.real)),
        SYS_geteuid => Ok(i64::from(t.creds.uids.eff)),
        SYS_getgid => Ok(i64::from(t.creds.gids.real)),
        SYS_getegid => Ok(i64::from(t.creds.gids.eff)),
        SYS_getresuid => creds::getresuid(t, [a[0], a[1], a[2]]),
        SYS_getresgid => creds::getresgid(t, [a[0], a[1], a[2]]),
        SYS_setuid => creds::setuid(t, a[0] as u32),
        SYS_setgid => creds::setgid(t, a[0] as u32),
        SYS_setreuid => creds::setreuid(t, a[0] as u32, a[1] as u32),
        SYS_setregid => creds::setregid(t, a[0] as u32, a[1] as u32),
        SYS_setresuid => creds::setresuid(t, [a[0] as u32, a[1] as u32, a[2] as u32]),
        SYS_setresgid => creds::setresgid(t, [a[0] as u32, a[1] as u32, a[2] as u32]),
        SYS_setfsuid => creds::setfsuid(t, a[0] as u32),
        SYS_setfsgid => creds::setfsgid(t, a[0] as u32),
        SYS_getgroups => creds::getgroups(t, a[0] as i32, a[1]),
        SYS_setgroups => creds::setgroups(t, a[0], a[1]),
        SYS_capset => creds::capset(t, a[0], a[1]),
        SYS_uname => sys::uname(t, a[0]),
        SYS_sethostname => sys::sethostname(t, a[0], a[1]),
        SYS_arch_prctl => sys::arch_prctl(t, a[0] as i32, a[1]),
        SYS_prlimit64 => sys::prlimit(k, t, a[0] as i32, a[1] as u32, a[2], a[3]),
        SYS_getrlimit => sys::prlimit(k, t, 0, a[0] as u32, 0, a[1]),
        SYS_setrlimit => sys::prlimit(k, t, 0, a[0] as u32, a[1], 0),
        SYS_sched_getaffinity => sys::sched_getaffinity(k, t, a[0] as i32, a[1], a[2]),
        SYS_sched_yield => Ok(0),
        SYS_prctl => creds::prctl(t, a).unwrap_or_else(|| sys::prctl(t, a[0] as i32, a[1])),
        SYS_sysinfo => sys::sysinfo(k, t, a[0]),
        // signals (delivered on the way back from a call: signals.rs)
        SYS_rt_sigaction => signal::sigaction(t, a[0] as usize, a[1], a[2]),
        SYS_rt_sigprocmask => signal::sigprocmask(t, a[0] as i32, a[1], a[2]),
        SYS_rt_sigreturn => Ok(crate::signals::sigreturn(t)),
        SYS_rt_sigsuspend => signal::sigsuspend(t, a[0], a[1]),
        SYS_rt_sigpending => signal::sigpending(k, t, a[0], a[1]),
        SYS_pause => signal::pause(t),
        SYS_sigaltstack => signal::sigaltstack(t, a[0], a[1]),
        SYS_rt_sigtimedwait => signal::sigtimedwait(k, t, a),
        SYS_rt_sigqueueinfo => signal::sigqueueinfo(k, t, a[0] as i32, a[1] as i32, a[2]),
        SYS_rt_tgsigqueueinfo => signal::tgsigqueueinfo(k, t, a),
        // timers
        SYS_alarm => timer::alarm(k, t, a[0] as u32),
        SYS_getitimer => timer::getitimer(k, t, a[0] as i32, a[1]),
        SYS_setitimer => timer::setitimer(k, t, a[0] as i32, a[1], a[2]),
        SYS_timer_create => timer::timer_create(k, t, a[0] as i32, a[1], a[2]),
        SYS_timer_settime => timer::timer_settime(k, t, a[0] as i32, a[1] as i32, a[2], a[3]),
        SYS_timer_gettime => timer::timer_gettime(k, t, a[0] as i32, a[1]),
        SYS_timer_getoverrun => timer::timer_getoverrun(k, t, a[0] as i32),
        SYS_timer_delete => timer::timer_delete(k, t, a[0] as i32),
        SYS_kill => signal::kill(k, t, a[0] as i32, a[1] as i32),
        SYS_tkill => signal::tkill(k, t, None, a[0] as i32, a[1] as i32),
        SYS_tgkill => signal::tkill(k, t, Some(a[0] as i32), a[1] as i32, a[2] as i32),
        // time and randomness
        SYS_clock_gettime => time::clock_gettime(k, t, a[0] as i32, a[1]),
        SYS_clock_getres => time::clock_getres(t, a[0] as i32, a[1]),
        SYS_times => time::times(k, t, a[0]),
        SYS_getrusage => time::getrusage(k, t, a[0] as i32, a[1]),
        SYS_gettimeofday => time::gettimeofday(t, a[0]),
        SYS_time => time::time(t, a[0]),
        // nanosleep is a relative clock_nanosleep on CLOCK_MONOTONIC, as in Linux.
        SYS_nanosleep => time::clock_nanosleep(t, CLOCK_MONOTONIC, 0, a[0], a[1]),
        SYS_clock_nanosleep => time::clock_nanosleep(t, a[0] as i32, a[1] as i32, a[2], a[3]),
        SYS_getrandom => sys::getrandom(t, a[0], a[1], a[2] as u32),
        SYS_futex => futex::futex(k, t, a),
        _ => {
            *t.unimplemented.borrow_mut().entry(nr).or_insert(0) += 1;
            Err(ENOSYS)
        }
    };
    let ret = match res {
        Ok(v) => v,
        Err(e) => -(e as i64),
    };
    if trace_on() {
        eprintln!(
            "sentry: [{}] {nr}({:#x}, {:#x}, {:#x}, {:#x}) = {ret}",
            t.tid, a[0], a[1], a[2], a[3]
        );
    }
    ret
}

/// BULKHEAD_SENTRY_TRACE=1 in the runtime's environment prints every call the sentry serves
/// (thread, number, first arguments, result) to the container's stderr: strace for the
/// sandbox, where the host's strace cannot follow the application.
fn trace_on() -> bool {
    thread_local!(static ON: bool = std::env::var_os("BULKHEAD_SENTRY_TRACE").is_some());
    ON.with(|on| *on)
}

/// A duration as a struct timespec's bytes (a sleep's time left).
pub fn timespec_of(d: std::time::Duration) -> Vec<u8> {
    time::timespec_bytes(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

/// A call made with `int $0x80` (the 32-bit ABI, whose numbers and arguments differ): the
/// sandbox serves the 64-bit ABI only and answers ENOSYS, as a kernel without
/// CONFIG_IA32_EMULATION does, rather than serve the 64-bit call of the same number.
fn by_int80(t: &Task) -> bool {
    t.mm.peek(t.regs.rip.wrapping_sub(2), 2)
        .is_ok_and(|insn| insn == [0xcd, 0x80])
}

pub(super) fn err(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(EIO)
}

pub(super) fn put(t: &mut Task, addr: u64, data: &[u8]) -> Result<(), Errno> {
    t.mm.write(addr, data)
}

pub(super) fn path(t: &Task, addr: u64) -> Result<String, Errno> {
    let bytes = t.mm.read_cstr(addr, PATH_MAX as usize)?;
    if bytes.is_empty() {
        return Err(ENOENT);
    }
    String::from_utf8(bytes).map_err(|_| EINVAL)
}

/// The absolute path of `p` relative to `dirfd`.
pub(super) fn at(t: &Task, dirfd: i32, p: &str) -> Result<String, Errno> {
    let abs = if p.starts_with('/') || dirfd == AT_FDCWD {
        t.fs.abs(None, p)
    } else {
        let f = t.fds.get(dirfd)?;
        let base = f.borrow().path.clone();
        t.fs.abs(Some(&base), p)
    };
    // The absolute path drops a trailing slash, which says the name is a directory: an
    // existing file so named is ENOTDIR, as Linux's walk says (a new name, mkdir's, is not).
    if p.ends_with('/') && abs != "/" {
        if let Ok(st) = t.fs.stat(&abs, true) {
            if st.st_mode & S_IFMT != S_IFDIR {
                return Err(ENOTDIR);
            }
        }
    }
    Ok(abs)
}

/// /proc is generated from the task: bring it up to date before it is looked at.
pub(super) fn fresh(t: &mut Task, abs: &str) {
    if abs == "/proc" || abs.starts_with("/proc/") {
        t.refresh_proc();
    }
}

fn mkdir(t: &mut Task, abs: &str, mode: u32) -> Result<(), Errno> {
    crate::perm::create(&t.fs, &t.creds, abs)?;
    t.fs.mkdir(abs, mode & !t.fs.umask())?;
    crate::perm::own_new(&t.fs, &t.creds, abs);
    fs::created(abs);
    Ok(())
}

fn unlink(t: &mut Task, abs: &str, flags: i32) -> Result<(), Errno> {
    crate::perm::delete(&t.fs, &t.creds, abs)?;
    let target = crate::inotify::target(abs);
    t.fs.unlink(abs, flags)?;
    if let Some(target) = target {
        use crate::inotify::{IN_DELETE, IN_DELETE_SELF};
        crate::inotify::tell(&target, IN_DELETE_SELF, IN_DELETE, 0);
    }
    Ok(())
}

pub(super) fn path_op(
    t: &mut Task,
    dirfd: i32,
    addr: u64,
    op: impl FnOnce(&mut Task, &str) -> Result<(), Errno>,
) -> R {
    let p = path(t, addr)?;
    let abs = at(t, dirfd, &p)?;
    op(t, &abs).map(|_| 0)
}

pub(super) fn host_fd(t: &Task, fd: i32) -> Result<i32, Errno> {
    let f = t.fds.get(fd)?;
    let b = f.borrow();
    match &b.node {
        Node::Host(h) => Ok(h.as_raw_fd()),
        Node::Stdio(s) => Ok(*s),
        _ => Err(EINVAL),
    }
}

const IO_CHUNK: usize = 1 << 20;

/// The calls the sentry serves with a difference from Linux, and what it is. docs/sandbox.md's
/// table of every call (written by scripts/syscall-table) marks them partial.
pub const PARTIAL: &[(&str, &str)] = &[
    (
        "mmap",
        "MAP_SHARED file mappings are private copies, not written back",
    ),
    (
        "msync",
        "checks its arguments; nothing to write back (file mappings are copies)",
    ),
    ("clone", "no CLONE_NEWxx namespaces"),
    ("clone3", "as clone"),
    (
        "execve",
        "no file capabilities (security.capability is not read)",
    ),
    (
        "fcntl",
        "no leases, notifications or seals; F_SETOWN kept, no SIGIO; record locks on rootfs files only",
    ),
    ("ioctl", "the terminal requests on stdio and FIONREAD"),
    (
        "inotify_add_watch",
        "changes made inside the sandbox only; IN_ACCESS for read(2) only",
    ),
    (
        "timerfd_settime",
        "TFD_TIMER_CANCEL_ON_SET is accepted and never cancels (the sandbox cannot set the clock)",
    ),
    (
        "prctl",
        "names, subreaper, parent-death signal, dumpable, no_new_privs, keepcaps, the bounding and ambient sets",
    ),
    (
        "sched_setaffinity",
        "accepted, not applied: the host schedules the threads",
    ),
    ("sched_getaffinity", "every CPU of the sandbox"),
    ("getcpu", "CPU 0, node 0"),
    (
        "getitimer",
        "ITIMER_VIRTUAL and ITIMER_PROF are checked every 5 ms of wall time",
    ),
    (
        "setitimer",
        "ITIMER_VIRTUAL and ITIMER_PROF expire within 5 ms of wall time of their CPU time",
    ),
    (
        "timer_create",
        "a thread's CPU clock counts its process's CPU time; CPU-time timers checked every 5 ms",
    ),
    (
        "clock_gettime",
        "a thread's CPU clock reads its process's; other processes' EINVAL",
    ),
    (
        "getrusage",
        "CPU time and maxrss only; RUSAGE_THREAD reads the process's time",
    ),
    (
        "times",
        "CPU time of the current program image (not before its execve)",
    ),
    ("wait4", "rusage: CPU time only"),
    (
        "capset",
        "no file capabilities or securebits; only the file capabilities have an effect yet",
    ),
    (
        "getxattr",
        "ACLs and security.* are read-only; trusted.* is never visible",
    ),
    ("lgetxattr", "as getxattr"),
    ("fgetxattr", "as getxattr"),
    ("setxattr", "as getxattr"),
    ("lsetxattr", "as getxattr"),
    ("fsetxattr", "as getxattr"),
    ("removexattr", "as getxattr"),
    ("lremovexattr", "as getxattr"),
    ("fremovexattr", "as getxattr"),
    ("fadvise64", "accepted, no effect"),
    (
        "flock",
        "on the sentry's own files (pipes, /dev) it always succeeds",
    ),
    (
        "open",
        "/proc/self/fd/N of a pipe or a host stdio fd shares the open description",
    ),
    ("openat", "as open"),
];

pub use fs::{attach_terminal, detach_terminal, foreground_of, set_console, tty_key};

/// A system call's name, for the ENOSYS report: "name(nr)".
pub fn name(nr: u64) -> String {
    match names::NAMES.get(nr as usize).filter(|n| !n.is_empty()) {
        Some(n) => format!("{n}({nr})"),
        None => format!("syscall({nr})"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_call_has_its_name() {
        assert_eq!(super::name(39), "getpid(39)");
        assert_eq!(super::name(334), "rseq(334)");
        assert_eq!(super::name(452), "fchmodat2(452)");
        assert_eq!(super::name(100_000), "syscall(100000)");
    }

    #[test]
    fn partial_calls_are_real_names() {
        for (n, why) in super::PARTIAL {
            assert!(super::names::NAMES.contains(n), "{n}");
            assert!(!why.is_empty(), "{n}");
        }
    }
}
