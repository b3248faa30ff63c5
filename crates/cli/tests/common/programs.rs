//! The C test programs of tests/programs/: built static into a bundle's rootfs and run in the
//! container class (where they must pass: they are checked against the real kernel) and then
//! in the sandbox class, which must give the same exit code and output.

use super::*;
use serde_json::json;

/// Builds tests/programs/`name`.c static (with pthreads) as /bin/`name` in the bundle's rootfs.
pub fn build_static(b: &Bundle, name: &str) {
    let src = format!("{}/tests/programs/{name}.c", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-pthread", "-o"])
        .arg(b.rootfs().join("bin").join(name))
        .arg(&src)
        .output()
        .expect("gcc (the CI installs it)");
    assert!(
        out.status.success(),
        "gcc -static {src}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds tests/programs/`name`.go static (CGO off) as /bin/`name` in the bundle's rootfs,
/// with Debian's Go toolchain (golang-go, which the CI installs); its build cache is kept in
/// the system's temporary directory so a second build is quick.
pub fn build_go(b: &Bundle, name: &str) {
    let src = format!("{}/tests/programs/{name}.go", env!("CARGO_MANIFEST_DIR"));
    let cache = std::env::temp_dir().join("bulkhead-test-gocache");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(b.rootfs().join("bin").join(name))
        .arg(&src)
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", &cache)
        .env("HOME", std::env::temp_dir())
        .env("GOFLAGS", "-buildvcs=false")
        .output()
        .expect("go (golang-go: the CI installs it)");
    assert!(
        out.status.success(),
        "go build {src}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (exit code, stdout, stderr) of `args` in the container class and in the sandbox class;
/// each run leaves nothing behind and the sandbox makes no host call outside its allowlist.
pub fn both_classes(b: &mut Bundle, args: &[&str]) -> [(i32, String, String); 2] {
    let rt = Rt::new();
    b.set("/process/args", json!(args));
    let mut out = Vec::new();
    for (class, annotations) in [
        ("cls", json!({})),
        ("sbx", json!({"dev.bulkhead.class": "sandbox"})),
    ] {
        b.set("/annotations", annotations);
        let id = unique(&format!("prog-{class}"));
        out.push(rt.run(b, &id));
        rt.assert_clean(&id, b);
    }
    let sandbox = out.pop().expect("two runs");
    let container = out.pop().expect("two runs");
    assert!(
        !sandbox.2.contains("outside the allowlist"),
        "{args:?}: {}",
        sandbox.2
    );
    [container, sandbox]
}

/// Runs `args` in both classes: each exits 0 and prints `want`. Returns their stderrs.
pub fn both_print(b: &mut Bundle, args: &[&str], want: &str) -> [String; 2] {
    let [c, s] = both_classes(b, args);
    assert_eq!((c.0, c.1.as_str()), (0, want), "container class: {}", c.2);
    assert_eq!((s.0, s.1.as_str()), (0, want), "sandbox: {}", s.2);
    [c.2, s.2]
}

/// The FAIL lines of an output.
pub fn failures(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("FAIL")).collect()
}

/// Runs `/bin/<prog> <area>` in both classes: the container class passes every check and
/// prints `<area>: ok` last, and the sandbox gives the same exit code and output, compared
/// after `keep` (which may drop lines that are expected to differ). Returns the sandbox's output.
pub fn area_in_both_classes(
    b: &mut Bundle,
    prog: &str,
    area: &str,
    keep: fn(&str) -> bool,
) -> String {
    let path = format!("/bin/{prog}");
    let [(c_code, c_out, c_err), (s_code, s_out, s_err)] = both_classes(b, &[&path, area]);
    assert!(
        c_code == 0 && failures(&c_out).is_empty(),
        "{prog} {area} fails in the container class (exit {c_code}): the test itself is \
         wrong\n{c_out}\nstderr: {c_err}"
    );
    assert!(
        c_out.ends_with(&format!("{area}: ok\n")),
        "{prog} {area} did not finish in the container class:\n{c_out}"
    );
    let filter = |o: &str| o.lines().filter(|l| keep(l)).collect::<Vec<_>>().join("\n");
    assert!(
        s_code == c_code && filter(&s_out) == filter(&c_out),
        "{prog} {area}: the sandbox (exit {s_code}) differs from the container class (exit \
         {c_code})\nsandbox failures:\n{}\nsandbox stdout:\n{s_out}\nsandbox stderr:\n{s_err}",
        failures(&s_out).join("\n")
    );
    s_out
}
