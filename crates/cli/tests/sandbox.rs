//! The sandbox class: real programs run with every system call served by the sentry, with the
//! output and exit code the container class gives; nothing reaches outside the rootfs; the
//! sentry itself is caged.

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn sandboxed(b: &mut Bundle) {
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
}

/// (exit code, stdout) of `args` in the container class and in the sandbox class.
fn both(b: &mut Bundle, args: &[&str]) -> [(i32, String); 2] {
    let [c, s] = programs::both_classes(b, args);
    [(c.0, c.1), (s.0, s.1)]
}

fn probe(dest: &Path) {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/probe.c");
    let st = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dest)
        .arg(src)
        .status()
        .expect("gcc (the CI installs it)");
    assert!(st.success(), "gcc -static probe.c");
}

/// An executable script at the root of the bundle's rootfs.
fn script(b: &Bundle, name: &str, text: &str) {
    std::fs::write(b.rootfs().join(name), text).unwrap();
    std::fs::set_permissions(
        b.rootfs().join(name),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn busybox_programs_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    script(&b, "hello.sh", "#!/bin/sh\necho \"script $0 $1\"\nexit 6\n");
    for args in [
        vec!["echo", "hello", "sandbox"],
        vec!["cat", "/etc/os-release"],
        vec!["ls", "-l", "/etc"],
        vec!["ls", "/bin/sh", "/etc"],
        vec!["wc", "/etc/passwd"],
        vec!["sha256sum", "/bin/busybox"],
        vec![
            "sh",
            "-c",
            "x=6; echo $((x*7)); cd /etc && pwd; [ -f passwd ] && echo yes; exit 3",
        ],
        vec!["/hello.sh", "arg"],
        vec![
            "dd",
            "if=/dev/urandom",
            "of=/dev/null",
            "bs=64k",
            "count=16",
        ],
        vec!["no-such-file-here"],
    ] {
        let [c, s] = both(&mut b, &args);
        assert_eq!(
            c, s,
            "{args:?}: container class (left) and sandbox (right) differ"
        );
    }
}

/// A rootfs of Debian's dynamically linked coreutils and dash, with their libraries.
fn dynamic_rootfs(root: &Path) {
    for bin in ["ls", "cat", "wc", "sha256sum", "echo", "dd", "sh", "true"] {
        let real = std::fs::canonicalize(format!("/bin/{bin}")).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy(&real, root.join("bin").join(bin)).unwrap();
        let ldd = Command::new("ldd").arg(&real).output().unwrap();
        for lib in String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let dest = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            if !dest.exists() {
                std::fs::copy(lib, &dest).unwrap();
            }
        }
    }
    for d in ["etc", "proc", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/etc/os-release", root.join("etc/os-release")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
}

#[test]
fn dynamically_linked_coreutils_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    std::fs::remove_dir_all(b.rootfs()).unwrap();
    dynamic_rootfs(&b.rootfs());
    script(&b, "script", "#!/bin/sh\necho \"dash says $((2+3))\"\n");
    for args in [
        vec!["echo", "hello"],
        vec!["cat", "/etc/os-release"],
        vec!["ls", "-l", "/etc"],
        vec!["wc", "-l", "/etc/os-release"],
        vec!["sha256sum", "/bin/ls"],
        vec!["sh", "-c", "echo $((6*7)); exit 5"],
        vec!["/script"],
        vec![
            "dd",
            "if=/dev/urandom",
            "of=/dev/null",
            "bs=64k",
            "count=16",
            "status=none",
        ],
    ] {
        let [c, s] = both(&mut b, &args);
        assert_eq!(
            c, s,
            "{args:?}: container class (left) and sandbox (right) differ"
        );
        assert!(s.0 == 0 || args[0] == "sh", "{args:?}: {s:?}");
    }
}

/// `ls -l /` lists the same entries with the same details, but for the kernel file systems the
/// two classes mount differently (/proc, /dev and /sys are the sentry's own in the sandbox).
#[test]
fn ls_l_of_the_root_matches_outside_the_kernel_file_systems() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    let [c, s] = both(&mut b, &["ls", "-l", "/"]);
    assert_eq!(c.0, 0);
    assert_eq!(s.0, 0);
    let keep = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| {
                !l.starts_with("total")
                    && !["proc", "dev", "sys"]
                        .iter()
                        .any(|k| l.ends_with(&format!(" {k}")))
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(
        keep(&c.1),
        keep(&s.1),
        "container class (left) and sandbox (right) differ"
    );
    let names = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("total"))
            .filter_map(|l| l.split_whitespace().last().map(String::from))
            .collect()
    };
    assert_eq!(names(&c.1), names(&s.1), "the same entries");
}

#[test]
fn nothing_outside_the_rootfs_is_reachable() {
    let rt = Rt::new();
    let secret_dir = TempDir::new("host-secret");
    let secret = secret_dir.0.join("secret");
    std::fs::write(&secret, "HOST-SECRET").unwrap();
    let mut b = Bundle::new(&["true"]);
    sandboxed(&mut b);
    std::fs::write(b.rootfs().join("etc/shadow"), "rootfs-shadow\n").unwrap();
    std::os::unix::fs::symlink("/", b.rootfs().join("hostroot")).unwrap();
    std::os::unix::fs::symlink(&secret, b.rootfs().join("leak")).unwrap();
    probe(&b.rootfs().join("bin/probe"));
    // One program per run: fork is step 2.
    let s = secret.display().to_string();
    let outside = format!("/tmp/../../..{s}");
    let via_proc = format!("/proc/1/root/../../..{s}");
    for (args, want) in [
        (vec!["cat", "/../../etc/shadow"], Some("rootfs-shadow\n")),
        (vec!["cat", "/hostroot/etc/shadow"], Some("rootfs-shadow\n")),
        (
            vec!["cat", "/proc/1/root/etc/shadow"],
            Some("rootfs-shadow\n"),
        ),
        (vec!["cat", "/leak"], None),
        (vec!["cat", outside.as_str()], None),
        (vec!["cat", via_proc.as_str()], None),
        (vec!["readlink", "/proc/self/root"], Some("/\n")),
        (
            vec!["probe", "efault"],
            Some("read=-1/14 write=-1/14 open=-1/14\n"),
        ),
    ] {
        b.set("/process/args", json!(args));
        let id = unique("escape");
        let (code, out, err) = rt.run(&b, &id);
        assert!(
            !out.contains("HOST-SECRET") && !err.contains("HOST-SECRET"),
            "{args:?}: the host's file leaked"
        );
        match want {
            Some(w) => assert_eq!((code, out.as_str()), (0, w), "{args:?}: {err}"),
            None => assert_eq!(code, 1, "{args:?} should fail with ENOENT: {out} {err}"),
        }
        assert!(!err.contains("outside the allowlist"), "{err}");
        rt.assert_clean(&id, &b);
    }
    b.set("/process/args", json!(["ls", "/proc/1/root/"]));
    let id = unique("escape");
    let (code, out, _) = rt.run(&b, &id);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l == "hostroot") && out.lines().any(|l| l == "leak"),
        "{out}"
    );
    rt.assert_clean(&id, &b);
}

#[test]
fn the_sentry_is_caged() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "30"]);
    sandboxed(&mut b);
    let id = unique("cage");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    // Give the sentry a moment to confine itself after start.
    let status = || std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    for _ in 0..100 {
        if status().contains("Seccomp:\t2") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let st = status();
    let field = |k: &str| {
        st.lines()
            .find(|l| l.starts_with(k))
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(field("Seccomp:"), "2", "seccomp filter\n{st}");
    assert_eq!(field("NoNewPrivs:"), "1");
    // Only the file capabilities it acts with for the application (confine.rs's KEPT_CAPS:
    // CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID), held in its
    // own user namespace (checked below).
    for set in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(field(set), "000000000000001f", "{set}");
    }
    assert_eq!(field("CapAmb:"), "0000000000000000");
    assert_eq!(field("CapInh:"), "0000000000000000");
    let root: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/root"))
        .unwrap()
        .collect();
    assert!(root.is_empty(), "the sentry's root is not empty: {root:?}");
    for ns in ["user", "mnt", "pid_for_children", "net", "ipc", "uts"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(theirs, ours, "{ns} namespace is the host's");
    }
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn a_host_call_outside_the_allowlist_kills_the_sentry() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["echo", "never printed"]);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sentry.selftest": "forbidden-syscall"}));
    let id = unique("sigsys");
    let (code, out, _) = rt.run(&b, &id);
    assert_eq!(
        code,
        128 + libc::SIGSYS,
        "the sentry was not killed by its seccomp filter"
    );
    assert!(!out.contains("never printed"));
    rt.assert_clean(&id, &b);
    let f: Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    let n = f["annotations"]["dev.bulkhead.sandbox.hostSyscalls"]
        .as_str()
        .unwrap()
        .parse::<u32>()
        .unwrap();
    assert!(n > 20 && n < 80, "{n}");
}

#[test]
fn class_flag_and_bad_class() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let id = unique("flag");
    let out = rt.cmd(&[
        "--class",
        "sandbox",
        "run",
        "--bundle",
        b.dir().to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Only the sentry's /proc says it has one thread and no seccomp of its own.
    assert!(
        stdout(&out).contains("Pid:\t1") && stdout(&out).contains("Seccomp:\t0"),
        "{}",
        stdout(&out)
    );
    rt.assert_clean(&id, &b);
    b.set("/annotations", json!({"dev.bulkhead.class": "vm"}));
    let id = unique("badclass");
    let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("annotations[dev.bulkhead.class]"),
        "{}",
        stderr(&out)
    );
    rt.assert_clean(&id, &b);
}

/// `bulkhead run` of the bundle in an 80x24 tmux terminal; EXIT=status shows when it ends.
fn run_in_tmux(rt: &Rt, b: &Bundle, id: &str) -> Tmux {
    Tmux::start(
        &format!(
            "{BIN} --root {} run --bundle {} {id}; echo EXIT=$?; sleep 60",
            rt.root.0.display(),
            b.dir().display()
        ),
        80,
        24,
    )
}

/// An interactive shell in the sandbox through a real terminal (tmux).
#[test]
fn interactive_shell_through_a_terminal() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sh"]);
    sandboxed(&mut b);
    b.set("/process/terminal", json!(true));
    let id = unique("sbx-tty");
    let term = run_in_tmux(&rt, &b, &id);
    term.wait_for("/ #");
    term.send_line("echo sum=$((6*7)); read -r l < /etc/os-release; echo $l; exit 4");
    term.wait_for("EXIT=");
    let text = term.screen();
    assert!(
        text.contains("sum=42")
            && text.contains("NAME=\"busybox test rootfs\"")
            && text.contains("EXIT=4"),
        "{text}"
    );
    rt.assert_clean(&id, &b);
}

/// Job control through a real terminal (tmux), in both classes, with busybox's sh and with
/// Debian's bash (the host's /usr bound into the rootfs): ^C ends the foreground `sleep`
/// (status 130) and the shell goes on; ^Z stops one, `fg` continues it to its end.
#[test]
fn control_c_and_control_z_reach_the_foreground_job() {
    for bash in [false, true] {
        for sandbox in [false, true] {
            let rt = Rt::new();
            let mut b = Bundle::new(&["sh"]);
            let prompt = if bash {
                host_usr(&mut b);
                b.set(
                    "/process/args",
                    json!(["/bin/bash", "--norc", "--noprofile", "-i"]),
                );
                b.set(
                    "/process/env",
                    json!(["PATH=/usr/bin:/bin", "PS1=bash$ ", "TERM=xterm"]),
                );
                "bash$"
            } else {
                "/ #"
            };
            if sandbox {
                sandboxed(&mut b);
            }
            b.set("/process/terminal", json!(true));
            let id = unique("tty-jobs");
            let term = run_in_tmux(&rt, &b, &id);
            term.wait_for(prompt);
            term.send_line("sleep 100");
            std::thread::sleep(std::time::Duration::from_millis(500));
            term.send_key("C-c");
            term.send_line("echo after=$?");
            term.wait_for("after=130");
            term.send_line("sleep 2; echo slept");
            std::thread::sleep(std::time::Duration::from_millis(500));
            term.send_key("C-z");
            term.wait_for("Stopped");
            term.send_line("fg");
            term.wait_for("slept");
            term.send_line("exit 5");
            term.wait_for("EXIT=5");
            rt.assert_clean(&id, &b);
        }
    }
}

/// Runs `args` in both classes: the container class exits 0, and the sandbox gives its exit
/// status and output, but for the lines that contain one of `skip` (which may differ between
/// runs). Returns the sandbox's output.
fn same_output_but(b: &mut Bundle, args: &[&str], skip: &[&str]) -> String {
    let [c, s] = both(b, args);
    let kept = |o: &str| {
        o.lines()
            .filter(|l| !skip.iter().any(|k| l.contains(k)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(c.0, 0, "{}", c.1);
    assert_eq!(
        (s.0, kept(&s.1)),
        (c.0, kept(&c.1)),
        "container class (right)"
    );
    s.1
}

/// Runs python3 `program` in both classes: the container class prints `want` and exits 0, and
/// the sandbox does the same.
fn python3_gives(b: &mut Bundle, program: &str, want: &str) {
    let [c, s] = both(b, &["/usr/bin/python3", "-c", program]);
    assert_eq!(c, (0, want.to_string()), "container class");
    assert_eq!(c, s, "container class (left) and sandbox (right) differ");
}

/// Issue 13's silent failure: clock_nanosleep with TIMER_ABSTIME took the deadline as relative
/// (python's time.sleep(0.05) slept for the host's uptime). Now each deadline is reached and
/// returned from, a past one returns at once, and a CPU-time clock is refused, as in the
/// container class.
#[test]
fn absolute_sleeps_end_at_their_deadline() {
    let mut b = Bundle::new(&["true"]);
    probe(&b.rootfs().join("bin/probe"));
    let [container, sandbox] = both(&mut b, &["probe", "abstime"]);
    let want = (
        0,
        "mono=0 reached=1 real=0 reached=1 past=0 thread=22\n".to_string(),
    );
    assert_eq!(container, want);
    assert_eq!(sandbox, want);
}

/// Issue 13's other silent failure: a signal sent to a program with a handler was dropped
/// (`trap "echo got" USR1; kill -USR1 $$` printed nothing). Now the handler runs on a frame as
/// Linux builds it and returns through rt_sigreturn with the registers, FPU state and mask of
/// the interrupted code; and the sandbox's pid 1 ignores signals it has no handler for, as the
/// container class's pid 1 does. Same output in both classes.
#[test]
fn signal_handlers_run_and_return() {
    let mut b = Bundle::new(&["true"]);
    probe(&b.rootfs().join("bin/probe"));
    let [container, sandbox] = both(&mut b, &["probe", "signals"]);
    let want = (
        0,
        "sig=10 code=0 pid=1 blocked_in=1 blocked_after=0 xmm0=3.5 rax=0\n\
         after reset: handler ran=0\n"
            .to_string(),
    );
    assert_eq!(container, want);
    assert_eq!(sandbox, want);
    let script = "trap 'echo got' USR1; kill -USR1 $$; echo after; trap '' USR2; kill -USR2 $$; \
                  kill -TERM $$; kill -KILL $$; echo still here";
    let [container, sandbox] = both(&mut b, &["sh", "-c", script]);
    let want = (0, "got\nafter\nstill here\n".to_string());
    assert_eq!(container, want);
    assert_eq!(sandbox, want);
}

/// The issue's everyday cases that start processes: pipelines, command substitution, jobs,
/// traps, kill, exec, and tools that fork (find | wc, tar | wc, xargs). Same output and code.
#[test]
fn shell_scripts_with_many_processes_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    for s in [
        "uname; echo done",
        "echo a | tr a b",
        "echo $(echo inner) $(uname)",
        "sleep 1 & wait; echo waited $?",
        "find /etc /bin | wc -l",
        "tar czf - /etc 2>/dev/null | wc -c",
        "echo 1 2 3 | xargs -n1 echo",
        "yes | head -3",
        "sleep 10 & kill $!; wait $!; echo $?",
        "trap 'echo got' USR1; kill -USR1 $$; echo after",
        "kill -TERM 1; kill -KILL 1; echo pid 1 lives",
        "(exit 7); echo $?",
        "ls /nonexist 2>&1 | wc -l; exec echo execd",
        // pid 1 execs while a child runs: the child lives on (its stub is not pid 1's).
        "(sleep 1; echo child-alive) & exec sh -c 'sleep 2; echo pid1-done'",
        "sh -c 'exit 3' | cat; echo ${PIPESTATUS:-x} done",
    ] {
        let [c, s2] = both(&mut b, &["sh", "-c", s]);
        assert_eq!(
            c, s2,
            "{s}: container class (left) and sandbox (right) differ"
        );
    }
}

/// Hard links (link, linkat; the sandbox answered ENOSYS): a second name for a file, a
/// symlink linked itself or (ln -L) its target, EEXIST, EPERM for a directory, ENOENT, and
/// Linux's protected_hardlinks for a user who does not own the file. readlink of a directory
/// is EINVAL (it was ENOENT). Coreutils' ln, stat and realpath; same output and code.
#[test]
fn hard_links_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin", "LANG=C"]));
    b.set("/root/readonly", json!(false));
    std::fs::set_permissions(
        b.rootfs().join("tmp"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    let root = "cd /tmp; rm -rf h; mkdir h; cd h; echo x > f; ln f g; stat -c %h f; \
                echo y >> g; cat f; ln f g; echo $?; ln -s f s; ln -P s hs; stat -c %F hs; \
                ln -L s hl; stat -c %F:%h hl; ln /tmp/h d; echo $?; ln nothing z; echo $?; \
                mkdir sub; ln f sub/f; ls sub; rm f; cat g; stat -c %h g; \
                ln -s sub ls; realpath ls/..; readlink /tmp; echo $?; chmod 644 g";
    let [c, s] = both(&mut b, &["sh", "-c", &format!("({root}) 2>&1")]);
    assert!(c.1.starts_with("2\nx\ny\n"), "{}", c.1);
    assert_eq!(
        c, s,
        "as root: container class (left) and sandbox (right) differ"
    );
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let user = "cd /tmp; ln /tmp/h/g mine; echo $?; echo z > own; ln own own2; stat -c %h own; \
                rm -f own own2 mine";
    let [c, s] = both(&mut b, &["sh", "-c", &format!("({user}) 2>&1")]);
    assert!(c.1.contains("Operation not permitted"), "{}", c.1);
    assert_eq!(
        c, s,
        "as a user: container class (left) and sandbox (right) differ"
    );
}

/// /proc/PID/exe names the program with its links resolved (busybox's /bin/sh is
/// /bin/busybox), and exec of /proc/self/exe runs it again: busybox's sh runs an applet that
/// has no link of its own so (the sandbox answered "not found"). Same output and code.
#[test]
fn proc_self_exe_is_the_program_with_its_links_resolved() {
    let mut b = Bundle::new(&["true"]);
    std::fs::remove_file(b.rootfs().join("bin/wc")).unwrap();
    let s = "readlink /proc/self/exe; readlink /proc/$$/exe; echo abc | wc -c; \
             ls -l /proc/self/exe | grep -o busybox; exec /proc/self/exe echo hi";
    let [c, s2] = both(&mut b, &["sh", "-c", &format!("({s}) 2>&1")]);
    assert!(c.1.contains("/bin/busybox\n/bin/busybox\n4\n"), "{}", c.1);
    assert_eq!(c, s2, "container class (left) and sandbox (right) differ");
}

/// Lookups of the same paths before and after the names change: the sentry keeps the
/// directories of recent lookups open (dcache.rs), so a stat or read of /d/sub/f after /d/sub
/// was renamed, removed, made again or replaced by a symlink must still name what Linux
/// names; symlink leaves are followed beneath the root; `..` after a symlinked directory is
/// its target's parent (the sandbox once folded it lexically and read another file), and the
/// working directory is the physical one. Same output and code.
#[test]
fn path_lookups_after_renames_and_symlinks_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    std::fs::write(b.rootfs().join("etc/hostname"), "rootfs-hostname\n").unwrap();
    let s = "cd /tmp; rm -rf d e x l f; mkdir -p d/sub; echo a > d/sub/f; cat d/sub/f; stat -c %s:%F d/sub/f; \
             mv d/sub d/old; cat d/sub/f; stat -c %s d/sub/f; cat d/old/f; \
             mkdir d/sub; echo bb > d/sub/f; cat d/sub/f; stat -c %s d/sub/f; \
             ln -s /tmp/d/old d/link; cat d/link/f; stat -c %s d/link/f; \
             ln -s old/f d/leaf; cat d/leaf; stat -c %F d/leaf; stat -L -c %s:%F d/leaf; \
             ln -s ../../../../../etc/hostname d/up; cat d/up; stat -L -c %s d/up; \
             rm -r d/sub; cat d/sub/f; stat -c %s d/sub/f; \
             mv d e; ln -s /tmp/e d; cat d/old/f; stat -c %s d/link/f; \
             chmod 0 e/old/f; cat e/old/f >/dev/null && echo read; \
             cat d/old/f/x; stat -c %s d/old/f/; \
             rm -rf x l f; mkdir -p x/y; echo phys > x/f; echo lex > f; ln -s /tmp/x/y l; \
             cat l/../f; ls l/..; cd l; cat ../f; readlink /proc/self/cwd; cd /tmp; echo end";
    let [c, s2] = both(&mut b, &["sh", "-c", &format!("({s}) 2>&1")]);
    assert!(c.1.contains("rootfs-hostname"), "{}", c.1);
    assert_eq!(c, s2, "container class (left) and sandbox (right) differ");
}

/// Without process.terminal the container has no controlling terminal: opening /dev/tty
/// answers ENXIO in both classes (the sandbox once opened its stdin there, so a prompt written
/// to /dev/tty went to whatever stdin was), while /dev/tty still exists.
#[test]
fn dev_tty_without_a_terminal_is_enxio() {
    let mut b = Bundle::new(&["true"]);
    let script = "test -c /dev/tty && echo exists; echo prompt > /dev/tty; echo status $?";
    let [c, s] = programs::both_print(&mut b, &["/bin/sh", "-c", script], "exists\nstatus 1\n");
    assert_eq!(c, s, "container class (left) and sandbox (right) differ");
    assert!(c.contains("/dev/tty: No such device or address"), "{c}");
}

/// /dev/stdin, /dev/stdout and /dev/stderr are links to /proc/self/fd/{0,1,2}: they open the
/// opener's own fd, whatever it is now (the pipe of a `$(...)`, a redirection to a file), not
/// the stdio the container was started with. The sandbox once opened the sentry's own stdio
/// there, so what a script wrote to /dev/stdout inside `$(...)` left the substitution and
/// went to the container's stdout, and `cat /dev/stdin` in a pipeline read the container's
/// stdin instead of the pipe.
#[test]
fn dev_stdout_and_stdin_are_the_openers_own_fds() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    let script = "out=$(echo to-stdout > /dev/stdout); echo \"stdout [$out]\"; \
                  out=$( (echo to-stderr > /dev/stderr) 2>&1 ); echo \"stderr [$out]\"; \
                  echo to-stdin | cat /dev/stdin; echo to-fd0 | cat /dev/fd/0; \
                  exec 3>&1 1>/tmp/devout; echo into-file > /dev/stdout; exec 1>&3 3>&-; \
                  echo \"file [$(cat /tmp/devout)]\"; rm /tmp/devout";
    let want = "stdout [to-stdout]\nstderr [to-stderr]\nto-stdin\nto-fd0\nfile [into-file]\n";
    let stderrs = programs::both_print(&mut b, &["sh", "-c", script], want);
    assert_eq!(stderrs, ["", ""], "container class, sandbox");
}

/// A rootfs symlink into /dev or /proc (an image's `access.log -> /dev/stdout`, Debian's
/// `/etc/mtab -> ../proc/self/mounts`) opens what it names, as in the container class: the
/// host, resolving it beneath the rootfs, finds nothing there, so the sentry once answered
/// ENOENT and what a server logged that way was lost; stat through such a link answered ENOENT
/// too (`test -e /etc/mtab` failed).
#[test]
fn rootfs_links_to_dev_stdout_and_proc_open_their_target() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    std::os::unix::fs::symlink("../proc/self/mounts", b.rootfs().join("etc/mtab")).unwrap();
    // Through `| cat`: a reopened regular-file stdout would have its own offset on Linux.
    let script = "(head -1 /etc/mtab > /dev/null && echo mtab ok; \
                  test -e /etc/mtab && test -f /etc/mtab && echo mtab exists; \
                  ln -s /dev/stdout /tmp/log; ln -s ../proc/self/fd/2 /tmp/elog; \
                  echo appended >> /tmp/log; out=$(echo captured > /tmp/log); \
                  echo \"[$out]\"; echo to-elog >> /tmp/elog; rm /tmp/log /tmp/elog) | cat";
    let want = "mtab ok\nmtab exists\nappended\n[captured]\n";
    let stderrs = programs::both_print(&mut b, &["sh", "-c", script], want);
    assert_eq!(
        stderrs,
        ["to-elog\n", "to-elog\n"],
        "container class, sandbox"
    );
}

/// A fork loop in a container with a pids limit: fork fails with EAGAIN inside the sandbox as
/// it does in the container class (each sandboxed process is a host stub in the container's
/// cgroup), the shell says so and exits 2, and nothing is left behind.
#[test]
fn a_pids_limit_holds_a_fork_loop_in_both_classes() {
    let mut b = Bundle::new(&["true"]);
    b.set("/linux/resources", json!({"pids": {"limit": 12}}));
    let script = "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo all started";
    let [c, s] = both(&mut b, &["sh", "-c", script]);
    assert_eq!(c.0, 2, "container class: {c:?}");
    assert_eq!(c, s, "container class (left) and sandbox (right) differ");
}

/// Bad arguments that fuzzing found crashing the sentry (huge and wrapping lengths to mmap,
/// munmap, mremap, mprotect, madvise and brk, bad flags, sigaction on SIGKILL, pread on /dev
/// files, /proc/self/exe and /proc/self/root/..) get Linux's answers, as tests/programs/
/// badcalls.c checks them in both classes. The one planned difference: `int $0x80` (the
/// 32-bit ABI) gets ENOSYS in the sandbox, which serves the 64-bit ABI only.
#[test]
fn bad_arguments_get_linux_errors_not_a_sentry_crash() {
    let mut b = Bundle::new(&["true"]);
    programs::build_static(&b, "badcalls");
    let out = programs::area_in_both_classes(&mut b, "badcalls", "badcalls", |l| {
        !l.starts_with("int80_answer=")
    });
    assert!(
        out.lines().any(|l| l == "int80_answer=ENOSYS"),
        "int $0x80 in the sandbox:\n{out}"
    );
}

/// A rootfs of one static program and nothing else (no /proc, /dev or /sys to mount on, as
/// a scratch image or a `podman import` gives): the sandbox runs it, leaving the rootfs as it
/// was, and prints what the container class prints.
#[test]
fn a_rootfs_of_one_static_binary_runs() {
    let mut b = Bundle::new(&["/busybox", "echo", "scratch"]);
    let root = b.rootfs();
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    std::fs::copy("/bin/busybox", root.join("busybox")).unwrap();
    sandboxed(&mut b);
    let rt = Rt::new();
    let id = unique("scratch");
    let (code, out, err) = rt.run(&b, &id);
    rt.assert_clean(&id, &b);
    assert_eq!((code, out.as_str()), (0, "scratch\n"), "sandbox: {err}");
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("busybox")],
        "the rootfs changed"
    );
    let [c, s] = both(&mut b, &["/busybox", "echo", "scratch"]);
    assert_eq!(c, s, "container class (left) and sandbox (right) differ");
}

/// With no HOME in the config, HOME is the user's home from the rootfs's /etc/passwd in the
/// sandbox as in the container class.
#[test]
fn home_comes_from_passwd() {
    let mut b = Bundle::new(&["true"]);
    std::fs::create_dir_all(b.rootfs().join("etc")).unwrap();
    std::fs::write(
        b.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .unwrap();
    let [c, s] = both(&mut b, &["sh", "-c", "echo $HOME"]);
    assert_eq!(c, (0, "/root\n".to_string()), "container class");
    assert_eq!(c, s, "container class (left) and sandbox (right) differ");
}

/// Debian's python3 (the host's /usr bound read-only into the rootfs): time.sleep(0.05) takes
/// at least 50 ms and under a second, four threads count under a lock, subprocess.run, a
/// signal handler through os.kill, and a pipe between two processes — as in the container
/// class.
#[test]
fn python3_behaves_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import os, signal, subprocess, threading, time
t = time.monotonic(); time.sleep(0.05); d = time.monotonic() - t
print("slept", 0.05 <= d < 1)
n = [0]; lock = threading.Lock()
def count():
    for _ in range(2000):
        with lock: n[0] += 1
threads = [threading.Thread(target=count) for _ in range(4)]
for x in threads: x.start()
for x in threads: x.join()
print("counted", n[0])
print(subprocess.run(["echo", "from a child"], capture_output=True, text=True).stdout.strip())
signal.signal(signal.SIGUSR1, lambda *a: print("handler ran"))
os.kill(os.getpid(), signal.SIGUSR1)
r, w = os.pipe()
if os.fork() == 0:
    os.write(w, b"through a pipe"); os._exit(3)
os.close(w); print(os.read(r, 100).decode()); print("child", os.waitstatus_to_exitcode(os.wait()[1]))
"#;
    let want = "slept True\ncounted 8000\nfrom a child\nhandler ran\nthrough a pipe\nchild 3\n";
    python3_gives(&mut b, program, want);
}

/// Python's multiprocessing (a Pool, a Value under its lock from four processes, a Queue):
/// its locks are POSIX semaphores, files of /dev/shm mapped MAP_SHARED and shared with the
/// forked workers. The sandbox had no /dev/shm (the spec's tmpfs was dropped with /dev), and a
/// shared file mapping was copied at fork, so the workers' locks were their own. Also
/// shm_open's files themselves, listed and hard-linked as glibc's sem_open does.
#[test]
fn python3_multiprocessing_and_dev_shm_behave_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import multiprocessing as m, os
with m.Pool(2) as p: print("pool", sum(p.map(abs, [-1, -2, 3])))
v = m.Value("i", 0)
def work():
    for _ in range(300):
        with v.get_lock(): v.value += 1
ps = [m.Process(target=work) for _ in range(4)]
for p in ps: p.start()
for p in ps: p.join()
q = m.Queue(); q.put("queued"); print("counted", v.value, q.get())
open("/dev/shm/mine", "w").write("x"); os.link("/dev/shm/mine", "/dev/shm/also")
print(sorted(f for f in os.listdir("/dev/shm") if not f.startswith("sem.")), "shm" in os.listdir("/dev"))
"#;
    let want = "pool 6\ncounted 1200 queued\n['also', 'mine'] True\n";
    python3_gives(&mut b, program, want);
}

/// Calls the sandbox answered ENOSYS or wrongly, found by running the same commands in both
/// classes: truncate(2) by path, getpriority/setpriority (coreutils' nice gave up, so `nice
/// cmd` did not run cmd), O_TMPFILE (ENOTDIR), a stopped process's state in /proc (S, not
/// T), and listings of the sentry's own directories (no `.` and `..`; /proc/self/fd without
/// the fd it is read through). Same output and code.
#[test]
fn calls_found_by_running_both_classes_behave_the_same() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin", "LANG=C"]));
    b.set("/root/readonly", json!(false));
    let s = "cd /tmp; printf abcdef > tr; truncate -s 3 tr; cat tr; echo; truncate -s 1 /tmp; \
             echo $?; rm tr; nice -n 5 nice; nice -n -5 nice; echo $?; \
             python3 -c 'import os; os.setpriority(os.PRIO_PROCESS, 0, 3); os.nice(2); \
             print(os.getpriority(os.PRIO_PROCESS, 0)); fd = os.open(\"/tmp\", os.O_TMPFILE | os.O_RDWR); \
             os.write(fd, b\"tt\"); st = os.fstat(fd); print(st.st_size, st.st_nlink)'; \
             sleep 5 & kill -STOP $!; until grep -q '^State:.T' /proc/$!/status; do :; done; \
             cut -d' ' -f3 /proc/$!/stat; kill -CONT $!; sleep 0.2; grep State /proc/$!/status; \
             { kill $!; wait $!; } 2>/dev/null; echo $?; \
             ls -a /dev | head -2; ls -la /proc/self/fd | wc -l; ls /proc/self/fd";
    let [c, s2] = both(&mut b, &["sh", "-c", &format!("({s}) 2>&1")]);
    assert!(c.1.starts_with("abc\n"), "{}", c.1);
    assert_eq!(c, s2, "container class (left) and sandbox (right) differ");
}

/// memfd_create (ENOSYS before): an anonymous file to write, read back, truncate, stat, map
/// and name in /proc/self/fd, as in the container class.
#[test]
fn memfd_create_behaves_as_in_the_container_class() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import mmap, os
fd = os.memfd_create("buf")
os.write(fd, b"abcdef"); os.lseek(fd, 0, 0); print(os.read(fd, 3))
os.ftruncate(fd, 2); st = os.fstat(fd); print(st.st_size, st.st_nlink)
print(os.readlink("/proc/self/fd/%d" % fd), mmap.mmap(fd, 2)[:2])
print(os.memfd_create("c", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING) > fd)
"#;
    let want = "b'abc'\n2 0\n/memfd:buf (deleted) b'ab'\nTrue\n";
    python3_gives(&mut b, program, want);
}

/// An idle sandbox costs no CPU: while its only process sleeps, the sentry waits in poll and
/// does not wake (a loop that polled every few milliseconds would switch in hundreds of
/// times over the second this watches).
#[test]
fn an_idle_sandbox_does_not_wake_the_sentry() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "30"]);
    sandboxed(&mut b);
    let id = unique("idle");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let switches = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Past its start-up (the program is asleep by then), then one second of idling.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = switches();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let woke = switches() - before;
    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
    assert!(woke < 20, "the idle sentry woke {woke} times in a second");
}

/// /proc lists every process of the sandbox: busybox `ps` shows the same processes, parents,
/// groups, owners, names and command lines as in the container class (ps's own line aside,
/// whose pid depends on how many `cat`s the wait took); `top -b -n1` and `free` run; another
/// process's environ, the cgroup file and the online CPUs in /sys read as there.
#[test]
fn ps_lists_every_process() {
    let mut b = Bundle::new(&["true"]);
    // The container class shows `0::/` with a cgroup namespace of its own, which the default
    // spec (as runc's) does not ask for; the sandbox's /proc always shows its root.
    b.push("/linux/namespaces", json!({"type": "cgroup"}));
    let cmd = "sleep 100 & a=$!; sleep 50 & b=$!; \
               for p in $a $b; do until [ \"$(cat /proc/$p/comm 2>/dev/null)\" = sleep ]; do :; done; done; \
               ps -o pid,ppid,pgid,user,comm,args; \
               top -b -n1 >/dev/null && free >/dev/null && echo top-and-free-ran; \
               grep -c PATH= /proc/$a/environ; grep -c '^0::/$' /proc/self/cgroup; \
               cat /sys/devices/system/cpu/online; kill $a $b";
    let out = same_output_but(&mut b, &["sh", "-c", cmd], &["{ps}"]);
    assert!(
        out.contains(" sleep 100\n") && out.contains("top-and-free-ran"),
        "{out}"
    );
}

/// python3's `selectors` (epoll) event loop over a pipe that a child writes with pauses: the
/// same output as in the container class. (asyncio needs socketpair: the network issue.)
#[test]
fn python3_selectors_event_loop() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import os, selectors, time
r, w = os.pipe()
if os.fork() == 0:
    for i in range(3):
        time.sleep(0.02); os.write(w, b"msg%d;" % i)
    os._exit(0)
os.close(w)
sel = selectors.DefaultSelector()
sel.register(r, selectors.EVENT_READ)
got = b""
while True:
    for key, ev in sel.select(timeout=5):
        data = os.read(key.fd, 100)
        if not data:
            break
        got += data
    else:
        continue
    break
print(type(sel).__name__, got.decode(), os.wait()[1])
"#;
    python3_gives(&mut b, program, "EpollSelector msg0;msg1;msg2; 0\n");
}

/// Debian's procps `ps` (the host's /usr bound in) over the sandbox's /proc: the same header
/// (its column widths come from /proc/sys/kernel/pid_max) and the same processes as in the
/// container class.
#[test]
fn procps_ps_lists_the_sandbox() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let cmd = "sleep 100 & until [ \"$(cat /proc/$!/comm)\" = sleep ]; do :; done; \
               ps -ef | head -1; ps -e -o pid,ppid,pgid,uid,comm,args; kill $!";
    let out = same_output_but(&mut b, &["/bin/sh", "-c", cmd], &["ps -e", " cat "]);
    assert!(out.contains("sleep 100"), "{out}");
}

/// A process's own /proc files as Linux gives them: its directory's entries, limits (the
/// config's RLIMIT_NOFILE), task/ and thread-self, fdinfo of an open file (position and
/// flags), comm and oom_score_adj written and read back by another process, smaps_rollup's
/// fields, filesystems. ulimit raises and lowers as the container class allows. Only the
/// mount id in fdinfo and uname's version (the sentry names itself) differ.
#[test]
fn per_process_proc_files() {
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048}]),
    );
    let cmd = "ls /proc/self/task | wc -l; readlink /proc/thread-self | sed 's/[0-9][0-9]*/N/g'; \
               grep -e Limit -e 'open files' /proc/self/limits; \
               exec 5</etc/passwd; read x <&5; echo $x; cat /proc/$$/fdinfo/5; ls /proc/$$/fdinfo; \
               echo renamed > /proc/self/comm; cat /proc/$$/comm; \
               echo 100 > /proc/self/oom_score_adj; cat /proc/$$/oom_score_adj; \
               cut -d: -f1 /proc/self/smaps_rollup | tail -n +2 | tr '\\n' ' '; echo; \
               grep -c proc /proc/filesystems; \
               ulimit -n; ulimit -Hn; ulimit -n 4096 || echo refused; ulimit -n 2048; ulimit -n; \
               sh -c 'ulimit -n'; uname -v";
    let out = same_output_but(&mut b, &["sh", "-c", cmd], &["mnt_id:", "#1 SMP"]);
    for want in [
        "N/task/N\n",
        "Max open files            512                  2048                 files     \n",
        "flags:\t0100000\n",
        "renamed\n\n100\n",
        "\nrefused\n2048\n2048\n",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    assert!(
        out.contains("#1 SMP PREEMPT_DYNAMIC bulkhead sentry"),
        "{out}"
    );
}

/// A process's threads under /proc/PID/task/: each has its own stat and comm, which another
/// thread may rename; status and stat count them; procps `ps -L` lists them.
#[test]
fn threads_under_proc_task() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let program = r#"
import threading, os, time, subprocess
ev = threading.Event()
ts = [threading.Thread(target=ev.wait) for _ in range(3)]
for t in ts: t.start()
time.sleep(0.2)
tids = sorted(int(x) for x in os.listdir('/proc/self/task'))
status = open('/proc/self/status').read().split('Threads:')[1].split()[0]
stat = open('/proc/self/stat').read().split()[19]
own = all(open(f'/proc/self/task/{t}/stat').read().split()[0] == str(t) for t in tids)
ps = subprocess.run(['ps', '-L', '-o', 'lwp=', '-p', str(os.getpid())], capture_output=True, text=True).stdout.split()
open(f'/proc/self/task/{ts[0].native_id}/comm', 'w').write('worker0')
name = open(f'/proc/{os.getpid()}/task/{ts[0].native_id}/comm').read().strip()
ev.set()
for t in ts: t.join()
print(len(tids), status, stat, tids[0] == os.getpid(), own, sorted(map(int, ps)) == tids, name)
"#;
    python3_gives(&mut b, program, "4 4 4 True True True worker0\n");
}

/// procps over the sandbox's /proc: `top -b -n1` (its summary and the process list), `free`,
/// `uptime`, `pgrep`/`pkill` and `ps -eLf` give what they give in the container class, but
/// for the clock, the host's CPU and free memory.
#[test]
fn procps_tools_show_the_sandbox() {
    let mut b = Bundle::new(&["true"]);
    host_usr(&mut b);
    b.set("/process/env", json!(["PATH=/usr/bin:/bin"]));
    let cmd = "sleep 100 & until [ \"$(cat /proc/$!/comm)\" = sleep ]; do :; done; \
               ps -eLf | head -1; ps -eLf | wc -l; \
               top -b -n1 | head -7 | cut -c1-30; \
               top -b -n1 | tail -n +8 | sed 's/^ *//' | tr -s ' ' | cut -d' ' -f12 | sort; \
               free | cut -c1-12; uptime | sed 's/[0-9:.,]\\+/N/g'; \
               pgrep sleep; pgrep -l sleep; pkill sleep; wait; echo $?";
    let out = same_output_but(
        &mut b,
        &["/bin/sh", "-c", cmd],
        &["top - ", "%Cpu", "MiB Mem"],
    );
    assert!(
        out.contains("\nsleep\n") && out.contains("2 sleep\n"),
        "{out}"
    );
}

/// `bulkhead ARGS` with a stdin pipe the test holds (and writes nothing to), `stdout`, and
/// stderr read by a thread, line by line, into the receiver.
fn spawn_piped(
    rt: &Rt,
    args: &[&str],
    stdout: std::process::Stdio,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = rt
        .command(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = std::io::BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The next stderr line, waiting at most a minute; a run that never gives it is killed.
fn next_line(
    rt: &Rt,
    id: &str,
    child: &mut std::process::Child,
    rx: &std::sync::mpsc::Receiver<String>,
    what: &str,
) -> String {
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            abandon(rt, id, child);
            panic!("{id}: no {what} on stderr within a minute: the container is stuck");
        }
    }
}

/// Ends a run that is stuck: bulkhead and its container.
fn abandon(rt: &Rt, id: &str, child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
    rt.cmd(&["delete", "--force", id]);
}

/// A reader of the container's stdout that falls behind stops only the process that writes,
/// as in the container class, whether stdout is a pipe (the sentry's own non-blocking copy
/// of it) or a socket (which cannot be opened again: served by polling): the sentry once
/// wrote the container's stdout with blocking host writes, so a full pipe stopped every
/// process of the sandbox, the sentry's loop included, until someone read.
#[test]
fn a_full_stdout_stops_only_its_writer() {
    use std::io::Read;
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    let script = "head -c 1000000 /dev/zero & sleep 0.2; echo going on >&2; wait; echo done >&2";
    b.set("/process/args", json!(["sh", "-c", script]));
    for (class, socket) in [
        ("container", false),
        ("sandbox", false),
        ("container", true),
        ("sandbox", true),
    ] {
        b.set("/annotations", json!({"dev.bulkhead.class": class}));
        let id = unique(&format!("fullout-{class}"));
        let run = ["run", "--bundle", b.dir().to_str().unwrap(), &id];
        let (ours, stdout) = if socket {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            (
                Some(ours),
                std::process::Stdio::from(std::os::fd::OwnedFd::from(theirs)),
            )
        } else {
            (None, std::process::Stdio::piped())
        };
        let (mut child, rx) = spawn_piped(&rt, &run, stdout);
        // stdout is not read until the shell has gone on past its writer.
        let line = next_line(&rt, &id, &mut child, &rx, "`going on`");
        assert_eq!(line, "going on", "{class}");
        let mut out = Vec::new();
        match ours {
            Some(mut sock) => sock.read_to_end(&mut out),
            None => child.stdout.as_mut().unwrap().read_to_end(&mut out),
        }
        .unwrap();
        assert_eq!(out.len(), 1_000_000, "{class}: what head wrote");
        assert!(out.iter().all(|&c| c == 0), "{class}");
        assert_eq!(next_line(&rt, &id, &mut child, &rx, "`done`"), "done");
        assert!(child.wait().unwrap().success(), "{class}");
        rt.assert_clean(&id, &b);
    }
}

/// The same with a terminal (process.terminal, the console `run` carries in the foreground):
/// a console nobody reads stops only the process that writes to it. The sentry once wrote the
/// console with blocking host writes, so a full terminal stopped the sandbox.
#[test]
fn a_full_console_stops_only_its_writer() {
    use std::io::Read;
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", json!(false));
    b.set("/process/terminal", json!(true));
    let script = "head -c 1000000 /dev/zero & sleep 0.3; touch /tmp/alive; wait";
    b.set("/process/args", json!(["sh", "-c", script]));
    for class in ["container", "sandbox"] {
        b.set("/annotations", json!({"dev.bulkhead.class": class}));
        let _ = std::fs::remove_file(b.rootfs().join("tmp/alive"));
        let id = unique(&format!("fullcon-{class}"));
        let run = ["run", "--bundle", b.dir().to_str().unwrap(), &id];
        let (mut child, _err) = spawn_piped(&rt, &run, std::process::Stdio::piped());
        // The console's output is not read until the shell has gone on past its writer.
        let alive = (0..1200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            b.rootfs().join("tmp/alive").exists()
        });
        if !alive {
            abandon(&rt, &id, &mut child);
        }
        assert!(
            alive,
            "{class}: the container stopped while its console was full"
        );
        let mut out = Vec::new();
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(child.wait().unwrap().success(), "{class}");
        assert!(out.len() >= 1_000_000, "{class}: {} bytes", out.len());
        rt.assert_clean(&id, &b);
    }
}

/// An application's O_NONBLOCK on its stdout and stdin holds, as in the container class: a
/// write to a full pipe and a read of an empty one answer EAGAIN at once. The sandbox once
/// ignored it and made the host call wait, stopping the whole sandbox with it. The container's
/// first process and an exec'd one alike (an exec's stdio is the sentry's own copy too).
#[test]
fn nonblocking_stdio_answers_eagain_when_full_or_empty() {
    let rt = Rt::new();
    let program = "import os, sys\n\
        os.set_blocking(1, False)\n\
        n = 0\n\
        try:\n    while True: n += os.write(1, b'x' * 1000)\n\
        except BlockingIOError: print('stdout: EAGAIN after', n, file=sys.stderr)\n\
        os.set_blocking(0, False)\n\
        try: os.read(0, 1)\n\
        except BlockingIOError: print('stdin: EAGAIN', file=sys.stderr)\n";
    let mut seen = Vec::new();
    for (class, how) in [
        ("container", "run"),
        ("sandbox", "run"),
        ("container", "exec"),
        ("sandbox", "exec"),
    ] {
        let mut b = Bundle::new(&["sleep", "1000"]);
        host_usr(&mut b);
        b.set("/annotations", json!({"dev.bulkhead.class": class}));
        let id = unique(&format!("nbstdio-{class}"));
        let bundle = b.dir().to_str().unwrap().to_string();
        let args = if how == "exec" {
            rt.ok(&["run", "-d", "--bundle", &bundle, &id]);
            vec!["exec", &id, "python3", "-c", program]
        } else {
            b.set("/process/args", json!(["python3", "-c", program]));
            vec!["run", "--bundle", &bundle, &id]
        };
        // stdin stays open and empty, stdout is not read while python runs.
        let (mut child, rx) = spawn_piped(&rt, &args, std::process::Stdio::piped());
        let out = next_line(&rt, &id, &mut child, &rx, "stdout's EAGAIN");
        let inp = next_line(&rt, &id, &mut child, &rx, "stdin's EAGAIN");
        let mut written = Vec::new();
        std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut written).unwrap();
        assert!(child.wait().unwrap().success(), "{class} {how}");
        if how == "exec" {
            rt.ok(&["delete", "--force", &id]);
        }
        rt.assert_clean(&id, &b);
        let want = format!("stdout: EAGAIN after {}", written.len());
        assert_eq!(out, want, "{class} {how}");
        seen.push((out, inp));
    }
    assert_eq!(
        seen[0], seen[1],
        "run: container class (left) and sandbox (right)"
    );
    assert_eq!(
        seen[2], seen[3],
        "exec: container class (left) and sandbox (right)"
    );
    assert_eq!(seen[1].1, "stdin: EAGAIN");
}
