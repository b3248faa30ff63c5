//! New processes and new images: clone (fork, vfork, clone3) gives a child a copy of the
//! caller's address space in a stub of its own; execve replaces a task's address space with a
//! fresh stub and a freshly loaded program.

use super::task::{State, Task};
use super::wait::{Wait, WaitKind};
use super::Kernel;
use crate::loader;
use crate::mm::{Errno, Mm};
use crate::platform::ptrace::PtraceStub;
use crate::platform::AddressSpace;

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

/// The clone flags a new process may carry; the rest need threads (CLONE_VM without
/// CLONE_VFORK, CLONE_THREAD, CLONE_SIGHAND...), which come next, or namespaces.
const PROCESS_FLAGS: u64 = (libc::CLONE_VFORK
    | libc::CLONE_VM
    | libc::CLONE_PARENT
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_SYSVSEM) as u64;

fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EAGAIN)
}

impl Kernel {
    /// A fresh stub, its address space empty.
    fn new_stub(&self) -> Result<Box<dyn AddressSpace>, Errno> {
        let fd = self.memory.borrow().fd();
        Ok(Box::new(PtraceStub::spawn(fd).map_err(io_errno)?))
    }

    /// clone/fork/vfork/clone3: a new process with a copy of `t` (its memory copied; open file
    /// descriptions, cwd, signal dispositions and mask inherited). A vfork parent waits until
    /// the child execs or exits. CLONE_VM is honoured only with CLONE_VFORK, by a copy: the
    /// child of a vfork only runs until it execs, and the parent does not run meanwhile.
    pub fn clone_task(&mut self, t: &mut Task, a: CloneArgs) -> Result<i64, Errno> {
        if a.flags & !PROCESS_FLAGS != 0
            || (a.flags & libc::CLONE_VM as u64 != 0 && a.flags & libc::CLONE_VFORK as u64 == 0)
        {
            return Err(libc::ENOSYS);
        }
        let mut asp = self.new_stub()?;
        let fp = t.asp.fp_state().map_err(io_errno)?;
        asp.set_fp_state(&fp).map_err(io_errno)?;
        let mm: Mm = t.mm.fork(asp.as_mut())?;
        let pid = self.alloc_pid();
        let mut regs = t.regs;
        regs.rax = 0;
        regs.orig_rax = u64::MAX;
        if a.stack != 0 {
            regs.rsp = a.stack;
        }
        if a.flags & libc::CLONE_SETTLS as u64 != 0 {
            regs.fs_base = a.tls;
        }
        let mut fs = t.fs.clone();
        fs.proc.pid = pid;
        let mut signals = t.signals.clone();
        signals.pending = 0;
        let mut child = Task {
            pid,
            ppid: if a.flags & libc::CLONE_PARENT as u64 != 0 {
                t.ppid
            } else {
                t.pid
            },
            pgid: t.pgid,
            sid: t.sid,
            exit_signal: a.exit_signal,
            regs,
            mm,
            asp,
            fs,
            fds: t.fds.clone(),
            creds: t.creds,
            signals,
            umask: t.umask,
            hostname: t.hostname.clone(),
            exe: t.exe.clone(),
            argv: t.argv.clone(),
            clear_tid: 0,
            exit: None,
            unimplemented: t.unimplemented.clone(),
            rlimits: t.rlimits.clone(),
            state: State::Ready,
            wait: None,
            deadline: None,
            progress: 0,
            vfork_parent: None,
            report: None,
            subreaper: false,
            pdeathsig: 0,
            saved_mask: None,
            to_parent: None,
            kicked: false,
        };
        let tid = (pid as u32).to_le_bytes();
        if a.flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
            t.mm.write(a.parent_tid, &tid)?;
            child.mm.write(a.parent_tid, &tid)?;
        }
        if a.flags & libc::CLONE_CHILD_SETTID as u64 != 0 {
            child.mm.write(a.child_tid, &tid)?;
        }
        if a.flags & libc::CLONE_CHILD_CLEARTID as u64 != 0 {
            child.clear_tid = a.child_tid;
        }
        child.refresh_proc();
        if a.flags & libc::CLONE_VFORK as u64 != 0 {
            child.vfork_parent = Some(t.pid);
            self.insert(child);
            return Err(t.block(Wait {
                kind: WaitKind::Vfork(pid),
                deadline: None,
                host_fds: Vec::new(),
            }));
        }
        self.insert(child);
        Ok(pid as i64)
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
        let loaded = loader::load(&t.fs, &mut mm, asp.as_mut(), &self.base, path, argv, envp)?;
        let mut old = std::mem::replace(&mut t.asp, asp);
        self.by_host.remove(&old.host_tid());
        old.kill();
        t.mm = mm;
        t.regs = loaded.regs;
        t.exe = loaded.exe_path;
        t.argv = loaded.argv;
        t.fs.proc.comm.clear();
        t.fds.close_on_exec();
        crate::signals::reset_on_exec(t);
        t.clear_tid = 0;
        t.refresh_proc();
        let parent = t.vfork_parent.take();
        self.release_vfork(parent, t.pid);
        Ok(0)
    }
}
