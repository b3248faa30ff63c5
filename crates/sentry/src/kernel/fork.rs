//! New processes and new images: clone (fork, vfork, clone3) gives a child a copy of the
//! caller's address space in a stub of its own; execve replaces a task's address space with a
//! fresh stub and a freshly loaded program.

use super::task::{State, Task};
use super::wait::{Wait, WaitKind};
use super::Kernel;
use crate::loader;
use crate::mm::{Errno, Mm};
use crate::platform::AddressSpace;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// What a clone call asks for (clone's registers or clone3's struct clone_args).
#[derive(Debug, Clone, Copy, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub exit_signal: i32,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

/// The clone flags served: a new process (fork, vfork, posix_spawn's CLONE_VM|CLONE_VFORK)
/// or a new thread (CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, as glibc, musl
/// and Go make them). Namespaces, CLONE_PIDFD, CLONE_PTRACE and the rest are refused.
const SERVED_FLAGS: u64 = (libc::CLONE_VFORK
    | libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_PARENT
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_SYSVSEM
    | libc::CLONE_DETACHED) as u64;

fn has(flags: u64, f: i32) -> bool {
    flags & f as u64 != 0
}

fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EAGAIN)
}

impl Kernel {
    /// A fresh stub, its address space empty.
    pub(super) fn new_stub(&self) -> Result<Box<dyn AddressSpace>, Errno> {
        self.platform.spawn().map_err(io_errno)
    }

    /// clone/fork/vfork/clone3. A new process gets a copy of the caller's memory in a stub of
    /// its own, or with CLONE_VM a host thread in the caller's stub (the memory shared, as
    /// posix_spawn's vfork child needs); a new thread (CLONE_THREAD) shares the address space,
    /// descriptors and dispositions. Open file descriptions, cwd, credentials and the signal
    /// mask are inherited. A vfork parent waits until the child execs or exits.
    pub fn clone_task(&mut self, t: &mut Task, a: CloneArgs) -> Result<i64, Errno> {
        let f = a.flags;
        if f & !SERVED_FLAGS != 0 {
            return Err(libc::EINVAL);
        }
        // Linux's own rules: threads share handlers, handlers need the memory.
        if (has(f, libc::CLONE_THREAD) && !has(f, libc::CLONE_SIGHAND))
            || (has(f, libc::CLONE_SIGHAND) && !has(f, libc::CLONE_VM))
        {
            return Err(libc::EINVAL);
        }
        let thread = has(f, libc::CLONE_THREAD);
        if thread && !(has(f, libc::CLONE_FILES) && has(f, libc::CLONE_FS)) {
            return Err(libc::ENOSYS); // a thread with its own fd table or cwd: not served
        }
        let share_vm = has(f, libc::CLONE_VM);
        let mut asp = if share_vm {
            t.asp.new_thread().map_err(io_errno)?
        } else {
            self.new_stub()?
        };
        let fp = t.asp.fp_state().map_err(io_errno)?;
        asp.set_fp_state(&fp).map_err(io_errno)?;
        let mm = if share_vm {
            t.mm.clone()
        } else {
            t.mm.fork(asp.as_mut())?
        };
        let tid = self.alloc_pid();
        let mut regs = t.regs;
        regs.rax = 0;
        regs.orig_rax = u64::MAX;
        if a.stack != 0 {
            regs.rsp = a.stack;
        }
        if has(f, libc::CLONE_SETTLS) {
            regs.fs_base = a.tls;
        }
        let mut fs = t.fs.clone();
        if !has(f, libc::CLONE_FS) {
            fs.unshare();
        }
        let mut signals = t.signals.clone();
        signals.discard(u64::MAX);
        signals.saved.clear();
        if has(f, libc::CLONE_VM) && !has(f, libc::CLONE_VFORK) {
            // A thread (or a CLONE_VM child) starts without the parent's alternate stack.
            signals.altstack = Default::default();
        }
        if !has(f, libc::CLONE_SIGHAND) {
            // Dispositions are copied, not shared, by fork.
            signals.actions = Rc::new(RefCell::new(t.signals.actions.borrow().clone()));
        }
        let pid = if thread { t.pid } else { tid };
        fs.proc.pid = pid;
        if !thread {
            fs.proc.start_ticks = crate::procfs::ticks_now();
        }
        let mut child = Task {
            tid,
            pid,
            ppid: if thread || has(f, libc::CLONE_PARENT) {
                t.ppid
            } else {
                t.pid
            },
            pgid: t.pgid,
            sid: t.sid,
            exit_signal: if thread { 0 } else { a.exit_signal },
            regs,
            mm,
            asp,
            fs,
            fds: if has(f, libc::CLONE_FILES) {
                t.fds.clone()
            } else {
                t.fds.duplicate()
            },
            creds: t.creds.clone(),
            signals,
            hostname: t.hostname.clone(),
            exe: t.exe.clone(),
            argv: t.argv.clone(),
            env: t.env.clone(),
            clear_tid: 0,
            exit: None,
            unimplemented: t.unimplemented.clone(),
            rlimits: if thread {
                t.rlimits.clone()
            } else {
                Rc::new(Cell::new(t.rlimits.get()))
            },
            state: State::Ready,
            wait: None,
            deadline: None,
            progress: 0,
            lingering: None,
            vfork_parent: None,
            report: None,
            subreaper: false,
            // A thread of a container's init is the init too; a child is not.
            container_init: thread && t.container_init,
            pdeathsig: 0,
            nice: t.nice,
            saved_mask: None,
            to_parent: None,
            kicked: false,
            group_exit: false,
            robust_list: 0,
            cpu: if thread {
                t.cpu.clone()
            } else {
                Default::default()
            },
            execed: false,
            fifo_open: None,
            select_sets: None,
        };
        if !has(f, libc::CLONE_FILES) {
            child.fds.set_owner(pid);
        }
        if let Err(e) = self.set_tids(t, &mut child, a) {
            self.drop_address_space(&mut child);
            return Err(e);
        }
        child.refresh_proc();
        if has(f, libc::CLONE_VFORK) {
            child.vfork_parent = Some(t.tid);
            self.insert(child);
            return Err(t.block(Wait {
                kind: WaitKind::Vfork(tid),
                deadline: None,
                host_fds: Vec::new(),
            }));
        }
        self.insert(child);
        Ok(tid as i64)
    }

    /// CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID.
    fn set_tids(&self, t: &Task, child: &mut Task, a: CloneArgs) -> Result<(), Errno> {
        let tid = (child.tid as u32).to_le_bytes();
        if has(a.flags, libc::CLONE_PARENT_SETTID) {
            t.mm.write(a.parent_tid, &tid)?;
            if !child.mm.same(&t.mm) {
                child.mm.write(a.parent_tid, &tid)?;
            }
        }
        if has(a.flags, libc::CLONE_CHILD_SETTID) {
            child.mm.write(a.child_tid, &tid)?;
        }
        if has(a.flags, libc::CLONE_CHILD_CLEARTID) {
            child.clear_tid = a.child_tid;
        }
        Ok(())
    }

    /// execve: `path` (absolute in the sandbox) loaded into a fresh stub; on success the old
    /// address space is gone, close-on-exec fds are closed, handled signals are reset to their
    /// default and a vfork parent is released. On failure nothing changed.
    pub fn exec(
        &mut self,
        t: &mut Task,
        path: &str,
        argv: Vec<String>,
        envp: &[String],
    ) -> Result<i64, Errno> {
        let mut asp = self.new_stub()?;
        let mut mm = Mm::new(&self.memory);
        let loaded = loader::load(
            &t.fs,
            &mut mm,
            asp.as_mut(),
            &self.base,
            path,
            argv,
            envp,
            &t.creds,
        )?;
        // The point of no return: the other threads go, the caller becomes the process's
        // first thread, and the old address space goes unless a vfork parent shares it.
        self.end_siblings(t);
        if t.tid != t.pid {
            crate::procfs::withdraw_thread(t.tid);
            t.tid = t.pid;
        }
        self.by_host.remove(&t.asp.host_tid());
        super::entry::spent(&t.fs.root(), t.stub_cpu());
        self.drop_address_space(t);
        t.asp = asp;
        t.mm = mm;
        t.regs = loaded.regs;
        t.exe = loaded.exe_path;
        t.argv = loaded.argv;
        t.env = envp.into();
        t.fs.proc.comm = loaded.name;
        t.fds.close_on_exec();
        t.creds = loaded.creds;
        crate::signals::reset_on_exec(t);
        // POSIX timers go; alarm and setitimer's timers stay, as on Linux.
        self.timers.drop_process(t.pid, true);
        t.clear_tid = 0;
        t.execed = true;
        t.refresh_proc();
        let parent = t.vfork_parent.take();
        self.release_vfork(parent, t.pid);
        Ok(0)
    }
}
