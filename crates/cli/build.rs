//! Facts about the build for `bulkhead --version`: the commit (from git, when the source is a
//! checkout) and the compiler's version, in place of runc's `commit:` and `go:` lines.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    // A commit given by the packager wins; otherwise ask git, if this is a checkout.
    let commit = std::env::var("BULKHEAD_COMMIT").ok().or_else(|| {
        output(
            "git",
            &[
                "describe",
                "--always",
                "--dirty",
                "--abbrev=12",
                "--match=v*",
            ],
        )
    });
    println!(
        "cargo:rustc-env=BULKHEAD_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]);
    // "rustc 1.80.0 (051478957 2024-07-21)" -> "1.80.0".
    let short = version
        .as_deref()
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("unknown");
    println!("cargo:rustc-env=BULKHEAD_RUSTC={short}");
    println!("cargo:rerun-if-env-changed=BULKHEAD_COMMIT");
    // Rebuild the version text when HEAD moves (a commit, a checkout) or the index changes.
    if let Some(dir) = output("git", &["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
}
