//! `-v`/`--version` and the help of every command, side by side with runc's (issue 17): the
//! same lines of version facts, the same commands, the same flags.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::process::Command;

fn out(cmd: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(cmd).args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// The flags a help text lists: every `-x`/`--name` before the description of an option line.
/// runc: "   --bundle value, -b value  path to ..."; clap: "  -b, --bundle <BUNDLE>  Path ...".
fn flags(help: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        let names = t.split("  ").next().unwrap_or("");
        for word in names.split([' ', ',']) {
            if word.starts_with('-') && word.len() > 1 {
                set.insert(word.to_string());
            }
        }
    }
    set
}

/// The commands of a top-level help, with their aliases ("help, h" in runc's).
fn commands(help: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut inside = false;
    for line in help.lines() {
        if line == "COMMANDS:" || line == "Commands:" {
            inside = true;
            continue;
        }
        if inside && line.trim().is_empty() {
            break;
        }
        if inside {
            let names = line.trim_start().split("  ").next().unwrap_or("");
            set.extend(
                names
                    .split(", ")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            );
            // clap prints an alias as "[alias: h]" at the end of the line.
            if let Some(a) = line.split("[alias: ").nth(1) {
                set.insert(a.trim_end_matches(']').to_string());
            }
        }
    }
    set
}

#[test]
fn version_prints_runcs_lines() {
    let (code, runc, _) = out("runc", &["--version"]);
    assert_eq!(code, 0);
    for flag in ["-v", "--version", "-version"] {
        let (code, ours, err) = out(BIN, &[flag]);
        assert_eq!(code, 0, "{flag}: {err}");
        let lines: Vec<&str> = ours.lines().collect();
        let runc_lines: Vec<&str> = runc.lines().collect();
        assert_eq!(lines.len(), runc_lines.len(), "{ours}\nrunc:\n{runc}");
        // Line by line the same key, with rustc where runc names go.
        for (o, r) in lines.iter().zip(&runc_lines) {
            let key = |l: &str| match l.split_once(':') {
                Some((k, _)) => k.replace("go", "rustc"),
                // "runc version 1.1.5": the program's name and the version differ.
                None => l.split(' ').nth(1).unwrap_or("").to_string(),
            };
            assert_eq!(key(o), key(r), "ours {o:?}, runc {r:?}");
        }
        assert!(lines[0].starts_with("bulkhead version 0."), "{}", lines[0]);
        assert!(!lines[1].trim_start_matches("commit:").trim().is_empty());
        let spec = lines[2].trim_start_matches("spec: ");
        assert_eq!(spec.split('.').count(), 3, "{spec}");
        assert!(spec.starts_with("1."), "{spec}");
        let rustc = lines[3].trim_start_matches("rustc: ");
        assert!(
            rustc.split('.').all(|n| n.parse::<u32>().is_ok()),
            "{rustc}"
        );
        // Both link Debian's libseccomp: the same version.
        assert_eq!(lines[4], runc_lines[4]);
    }
}

#[test]
fn help_lists_runcs_commands_and_global_flags() {
    let (_, runc, _) = out("runc", &["--help"]);
    assert!(commands(&runc).len() >= 18, "{:?}", commands(&runc));
    assert!(flags(&runc).contains("--root") && flags(&runc).contains("-v"));
    for args in [&["--help"][..], &["-h"], &["help"], &["h"], &[]] {
        let (code, ours, err) = out(BIN, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(commands(&ours), commands(&runc), "{args:?}:\n{ours}");
        let extra: Vec<String> = flags(&ours).difference(&flags(&runc)).cloned().collect();
        let missing: Vec<String> = flags(&runc).difference(&flags(&ours)).cloned().collect();
        assert!(missing.is_empty(), "{args:?}: runc's {missing:?} missing");
        assert_eq!(
            extra,
            ["--class", "--sandbox-platform"],
            "{args:?}: only the class and sandbox-platform flags are ours alone"
        );
    }
}

#[test]
fn every_command_has_runcs_flags_and_help() {
    let (_, top, _) = out(BIN, &["--help"]);
    let globals = flags(&top);
    let (_, runc_top, _) = out("runc", &["--help"]);
    for cmd in commands(&runc_top) {
        if cmd == "help" || cmd == "h" {
            continue;
        }
        let (code, runc, _) = out("runc", &[&cmd, "--help"]);
        assert_eq!(code, 0, "runc {cmd} --help");
        let (code, ours, err) = out(BIN, &[&cmd, "--help"]);
        assert_eq!(code, 0, "{cmd} --help: {err}");
        // The same text however it is asked for.
        for args in [
            vec![cmd.as_str(), "-h"],
            vec!["help", &cmd],
            vec!["h", &cmd],
        ] {
            let (code, again, err) = out(BIN, &args);
            assert_eq!(code, 0, "{args:?}: {err}");
            assert_eq!(again, ours, "{args:?}");
        }
        let ours = flags(&ours);
        let runc = flags(&runc);
        if cmd == "create" {
            assert!(
                runc.contains("-b") && runc.contains("--pid-file"),
                "{runc:?}"
            );
        }
        let missing: Vec<&String> = runc.difference(&ours).collect();
        assert!(missing.is_empty(), "{cmd}: runc's {missing:?} missing");
        // Beyond runc's own, a command's help lists only the global flags.
        let extra: Vec<&String> = ours
            .difference(&runc)
            .filter(|f| !globals.contains(*f))
            .collect();
        assert!(extra.is_empty(), "{cmd}: {extra:?} not in runc's help");
    }
}

#[test]
fn help_of_an_unknown_command_is_runcs_exit_3() {
    let (code, o, err) = out(BIN, &["help", "nosuch"]);
    let (runc_code, _, _) = out("runc", &["help", "nosuch"]);
    assert_eq!(code, runc_code);
    assert_eq!(code, 3);
    assert!(o.is_empty());
    assert_eq!(err, "No help topic for 'nosuch'\n");
}

/// checkpoint and restore are listed as runc lists them, with runc's flags (their behaviour is
/// in checkpoint.rs).
#[test]
fn checkpoint_and_restore_have_runcs_flags() {
    for (cmd, flags) in [
        (
            "checkpoint",
            &[
                "--image-path",
                "--work-path",
                "--parent-path",
                "--leave-running",
                "--tcp-established",
                "--ext-unix-sk",
                "--shell-job",
                "--lazy-pages",
                "--status-fd",
                "--page-server",
                "--file-locks",
                "--pre-dump",
                "--manage-cgroups-mode",
                "--empty-ns",
                "--auto-dedup",
            ][..],
        ),
        (
            "restore",
            &[
                "--console-socket",
                "--image-path",
                "--work-path",
                "--tcp-established",
                "--ext-unix-sk",
                "--shell-job",
                "--file-locks",
                "--manage-cgroups-mode",
                "--bundle",
                "--detach",
                "--pid-file",
                "--no-subreaper",
                "--no-pivot",
                "--empty-ns",
                "--auto-dedup",
                "--lazy-pages",
                "--lsm-profile",
                "--lsm-mount-context",
            ],
        ),
    ] {
        let (code, o, _) = out(BIN, &[cmd, "--help"]);
        assert_eq!(code, 0);
        let (_, runc_help, _) = out("runc", &[cmd, "--help"]);
        for f in flags {
            assert!(o.contains(f), "{cmd} --help lacks {f}: {o}");
            assert!(runc_help.contains(f), "runc's {cmd} --help lacks {f}");
        }
        assert!(!o.contains("not supported"), "{o}");
    }
    let (_, top, _) = out(BIN, &["--help"]);
    assert!(top.contains("checkpoint") && top.contains("restore") && top.contains("--criu"));
}

/// Intel RDT's update flags exist, and are refused on a host (and a runtime) without it.
#[test]
fn update_refuses_intel_rdt_schemas() {
    let rt = Rt::new();
    for flag in ["--l3-cache-schema", "--mem-bw-schema"] {
        let o = rt.cmd(&["update", flag, "L3:0=f", "nosuch"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
    }
}
