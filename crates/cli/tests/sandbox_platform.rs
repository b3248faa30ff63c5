//! The sandbox's platforms (docs/sandbox.md): systrap, the default, and ptrace, chosen by the
//! dev.bulkhead.sandbox.platform annotation, `--sandbox-platform` or, for the test suite,
//! $BULKHEAD_SANDBOX_PLATFORM. The whole sandbox suite runs on both (scripts/test); here: the
//! choice itself, a bad choice, and systrap's confinement of its stub code.

mod common;
use common::*;
use serde_json::json;

/// The host's view of the sentry's children (its stubs, and its pid-namespace keeper): their
/// TracerPid and Seccomp_filters lines.
fn stub_status(sentry: i64) -> Vec<(String, String)> {
    let children = std::fs::read_to_string(format!("/proc/{sentry}/task/{sentry}/children"))
        .unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| std::fs::read_to_string(format!("/proc/{c}/status")).ok())
        .map(|st| {
            let field = |k: &str| {
                st.lines()
                    .find(|l| l.starts_with(k))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("")
                    .to_string()
            };
            (field("TracerPid:"), field("Seccomp_filters:"))
        })
        .collect()
}

/// Starts `sleep 30` on `platform` (annotation, or the flag when `flag`) and returns what the
/// host sees of its stubs: (TracerPid, number of seccomp filters) of each.
fn stubs_on(platform: &str, flag: bool) -> Vec<(String, String)> {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "30"]);
    let id = unique(&format!("plat-{platform}"));
    let bundle = b.dir().to_str().unwrap().to_string();
    if flag {
        b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
        rt.ok(&[
            "--sandbox-platform",
            platform,
            "run",
            "-d",
            "--bundle",
            &bundle,
            &id,
        ]);
    } else {
        b.set(
            "/annotations",
            json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sandbox.platform": platform}),
        );
        rt.ok(&["run", "-d", "--bundle", &bundle, &id]);
    }
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = stub_status(pid)
            .into_iter()
            .filter(|(_, filters)| filters != "0")
            .collect();
        // The keeper has the sentry's filter only; a stub has one (ptrace) or two (systrap).
        if seen.iter().any(|(t, f)| t != "0" || f == "2") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
    seen
}

#[test]
fn the_platform_is_chosen_by_annotation_or_flag() {
    // systrap: the stub is not traced and stacks its own filter on the sentry's.
    let s = stubs_on("systrap", false);
    assert!(s.iter().any(|(t, f)| t == "0" && f == "2"), "{s:?}");
    // ptrace: the stub is traced by the sentry.
    let p = stubs_on("ptrace", true);
    assert!(p.iter().any(|(t, _)| t != "0"), "{p:?}");
    let rt = Rt::new();
    let f: serde_json::Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(
        f["annotations"]["dev.bulkhead.sandbox.platforms"],
        "systrap,ptrace"
    );
    assert_eq!(f["annotations"]["dev.bulkhead.sandbox.platform"], "systrap");
}

#[test]
fn an_unknown_platform_is_one_clear_error_and_leaves_nothing() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["true"]);
    b.set(
        "/annotations",
        json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sandbox.platform": "kvm"}),
    );
    let id = unique("badplat");
    let out = rt.cmd(&["run", "--bundle", b.dir().to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("annotations[dev.bulkhead.sandbox.platform]")
            && err.contains("unknown sandbox platform \"kvm\"")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    rt.assert_clean(&id, &b);
    b.set("/annotations", json!({"dev.bulkhead.class": "sandbox"}));
    let out = rt.cmd(&[
        "--sandbox-platform",
        "gvisor",
        "run",
        "--bundle",
        b.dir().to_str().unwrap(),
        &id,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--sandbox-platform: unknown sandbox platform"),
        "{err}"
    );
    rt.assert_clean(&id, &b);
}

/// An application that jumps onto the stub's own `syscall` instruction with socket, openat
/// or kill in rax is killed by the stub's filter (SIGSYS) before the host runs the call.
#[test]
fn jumping_into_the_stub_code_is_stopped() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["/bin/stubjump"]);
    programs::build_static(&b, "stubjump");
    b.set(
        "/annotations",
        json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sandbox.platform": "systrap"}),
    );
    let id = unique("stubjump");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out,
        "stub syscall found\nsocket: killed by signal 31\nopenat: killed by signal 31\n\
         kill: killed by signal 31\n",
        "{err}"
    );
    rt.assert_clean(&id, &b);
}

/// systrap patches glibc's `mov $nr, %eax; syscall` call sites into jumps to its fast entry
/// (docs/sandbox.md, "systrap: patched call sites"): tests/programs/patched.c makes calls
/// through them (results, a signal ending a blocking call, signals between calls, fork,
/// threads, a gs base of its own) and reads its own code: getpid's first byte is the patch's
/// `jmp` (e9) on systrap after the first call, and the linked `mov` (b8) on ptrace and in the
/// container class; glibc's read (`syscall; cmp`) has its `syscall` (0f) replaced by the
/// jump, while a signal frame holds the old return address (SIGALRM's handler reads through
/// the same site) and before a restarted read; and sites of each form whose patched bytes
/// straddle two pages. Both platforms run it, whatever $BULKHEAD_SANDBOX_PLATFORM says.
#[test]
fn patched_call_sites_answer_as_the_trap_path() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["/bin/patched"]);
    programs::build_static(&b, "patched");
    let runs = [
        ("container", json!({}), "b8", "0f"),
        (
            "systrap",
            json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sandbox.platform": "systrap"}),
            "e9",
            "e9",
        ),
        (
            "ptrace",
            json!({"dev.bulkhead.class": "sandbox", "dev.bulkhead.sandbox.platform": "ptrace"}),
            "b8",
            "0f",
        ),
    ];
    for (name, annotations, byte, read_byte) in runs {
        b.set("/annotations", annotations);
        let id = unique(&format!("patched-{name}"));
        let (code, out, err) = rt.run(&b, &id);
        assert_eq!(code, 0, "{name}: {out}\n{err}");
        assert_eq!(
            out,
            format!(
                "code: before=b8 after={byte}\nasm site: {byte}\n\
                 read site: before=0f after={read_byte}\nread restart: ok\n\
                 straddling: mov={byte} cmp={read_byte}\n\
                 pipe: ok\neintr: alarms=3\n\
                 signals during calls: ok\nfork: ok\nthreads: ok\nkick: ok\ngs: code=b8 straddling=b8/0f\n"
            ),
            "{name}: {err}"
        );
        rt.assert_clean(&id, &b);
    }
}
