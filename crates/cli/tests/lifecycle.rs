//! The OCI lifecycle through the command line: create/start/state/kill/delete, run, list, ps,
//! and the rules about which command is allowed in which state.

mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn create_start_kill_delete_walks_the_states() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("life");
    let pidfile = b.dir().join("init.pid");
    rt.ok(&[
        "create",
        "--bundle",
        b.dir().to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.dir().to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    // The init is waiting: it is still the runtime, not yet the program.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    assert!(
        !exe.to_string_lossy().contains("busybox"),
        "the program ran before start: {exe:?}"
    );

    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.to_string_lossy().ends_with("/bin/busybox"), "{exe:?}");

    // start only from created
    let again = rt.cmd(&["start", &id]);
    assert!(!again.status.success());
    assert_eq!(
        rt.status(&id),
        "running",
        "a failed start changed the state"
    );
    // delete only when stopped
    let del = rt.cmd(&["delete", &id]);
    assert!(!del.status.success());
    assert!(stderr(&del).contains("not stopped"), "{}", stderr(&del));

    rt.ok(&["kill", &id, "KILL"]);
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0);
    // kill only when created or running
    let k = rt.cmd(&["kill", &id, "TERM"]);
    assert!(!k.status.success());
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
    // delete of a container that does not exist: an error, unless --force
    assert!(!rt.cmd(&["delete", &id]).status.success());
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn kill_of_a_created_container_ends_it() {
    let rt = Rt::new();
    let b = Bundle::new(&["true"]);
    let id = unique("created-kill");
    rt.ok(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    rt.ok(&["kill", &id, "TERM"]);
    rt.wait_status(&id, "stopped");
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
}

/// Issue 17: `kill ID 0` is kill(2)'s null signal: exit 0 while the container's init is there
/// (created, running, paused), "container not running" and exit 1 once it has exited; nothing
/// is delivered. runc, side by side on the same bundle, gives the same exit codes.
#[test]
fn kill_with_signal_0_checks_that_the_container_is_alive() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let runc = |args: &[&str]| rt.runc(args);
    let ours = unique("kill0");
    let theirs = unique("runckill0");
    let bundle = b.dir().to_str().unwrap();
    rt.ok(&["create", "--bundle", bundle, &ours]);
    assert!(runc(&["create", "--bundle", bundle, &theirs])
        .status
        .success());
    let steps: &[(&str, &[&str], i32)] = &[
        ("created", &["kill", "ID", "0"], 0),
        ("start", &["start", "ID"], 0),
        ("running", &["kill", "ID", "0"], 0),
        ("all", &["kill", "--all", "ID", "0"], 0),
        ("pause", &["pause", "ID"], 0),
        ("paused", &["kill", "ID", "0"], 0),
        ("resume", &["resume", "ID"], 0),
        ("still running", &["kill", "ID", "0"], 0),
        ("end it", &["kill", "ID", "KILL"], 0),
    ];
    for (what, args, code) in steps {
        let with = |id: &str| -> Vec<String> {
            args.iter()
                .map(|a| {
                    if *a == "ID" {
                        id.to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect()
        };
        let o = rt.cmd(&with(&ours).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(*code), "{what}: {}", stderr(&o));
        let r = runc(&with(&theirs).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.status.code(), Some(*code), "runc, {what}: {}", stderr(&r));
        if *what == "running" {
            assert_eq!(rt.status(&ours), "running", "signal 0 delivered nothing");
        }
    }
    rt.wait_status(&ours, "stopped");
    for _ in 0..500 {
        if String::from_utf8_lossy(&runc(&["state", &theirs]).stdout).contains("stopped") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = rt.cmd(&["kill", &ours, "0"]);
    let r = runc(&["kill", &theirs, "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r.status.code(), Some(1), "runc: {}", stderr(&r));
    assert_eq!(stderr(&o).trim(), "container not running");
    assert!(
        stderr(&r).contains("container not running"),
        "{}",
        stderr(&r)
    );
    assert!(runc(&["delete", &theirs]).status.success());
    rt.ok(&["delete", &ours]);
    rt.assert_clean(&ours, &b);
}

/// A JSON text with every value blanked (strings to "", numbers to 0) and every key and every
/// byte of layout kept: two runtimes' outputs compare equal when they print the same keys in
/// the same order, the same way.
fn shape(json: &str) -> String {
    let c: Vec<char> = json.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '"' {
            let start = i;
            i += 1;
            while c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            let key = c[i..].iter().find(|ch| !ch.is_whitespace()) == Some(&':');
            if key {
                out.extend(&c[start..i]);
            } else {
                out.push_str("\"\"");
            }
        } else if c[i] == '-' || c[i].is_ascii_digit() {
            while i < c.len() && (c[i].is_ascii_digit() || "-+.eE".contains(c[i])) {
                i += 1;
            }
            out.push('0');
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Issue 17: `state`, `list --format json` and `events --stats` print runc's keys in runc's
/// order, byte for byte once the values are blanked: state without a final newline,
/// annotations sorted, an empty list as `null`, the stats with runc's omitted empty fields.
#[test]
fn state_list_and_events_print_runcs_keys_in_runcs_order() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.set(
        "/annotations",
        json!({"z.last": "1", "a.first": "2", "m.middle": "3"}),
    );
    let ours = unique("keys");
    let theirs = unique("runckeys");
    let bundle = b.dir().to_str().unwrap().to_string();
    b.set("/linux/cgroupsPath", json!(format!("/{theirs}")));
    let o = rt.runc(&["run", "-d", "-b", &bundle, &theirs]);
    assert!(o.status.success(), "runc: {}", stderr(&o));
    b.set("/linux/cgroupsPath", json!(format!("/{ours}")));
    rt.ok(&["run", "-d", "-b", &bundle, &ours]);
    let runc_out = |args: &[&str]| {
        let o = rt.runc(args);
        assert!(o.status.success(), "runc {args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let state = rt.ok(&["state", &ours]);
    assert_eq!(shape(&state), shape(&runc_out(&["state", &theirs])));
    assert!(state.ends_with('}'), "no final newline, as runc: {state:?}");
    assert!(state.find("a.first") < state.find("m.middle"));
    assert!(state.find("m.middle") < state.find("z.last"));
    assert_eq!(
        shape(&rt.ok(&["list", "--format", "json"])),
        shape(&runc_out(&["list", "--format", "json"]))
    );
    // "cache" is left out when zero, and which of the two cgroups the page cache of the
    // shared busybox binary was charged to depends on who ran first: set it aside.
    let events = |s: String| shape(&s).replace("\"memory\":{\"cache\":0,", "\"memory\":{");
    let ours_stats = rt.ok(&["events", "--stats", &ours]);
    assert_eq!(
        events(ours_stats.clone()),
        events(runc_out(&["events", "--stats", &theirs]))
    );
    assert!(
        ours_stats.contains("\"cpuset\":{\"cpus\":["),
        "{ours_stats}"
    );
    assert!(rt.runc(&["delete", "-f", &theirs]).status.success());
    rt.ok(&["delete", "-f", &ours]);
    rt.assert_clean(&ours, &b);
    // No container at all: runc prints a null list.
    let empty = Rt::new();
    assert_eq!(empty.ok(&["list", "--format", "json"]), "null\n");
    assert_eq!(stdout(&empty.runc(&["list", "--format", "json"])), "null\n");
}

#[test]
fn delete_force_kills_a_running_container() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("force");
    rt.ok(&[
        "run",
        "--detach",
        "--bundle",
        b.dir().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn run_returns_the_exit_code_of_the_program() {
    let rt = Rt::new();
    for (args, code) in [
        (vec!["sh", "-c", "exit 3"], 3),
        (vec!["true"], 0),
        (vec!["sh", "-c", "kill -9 $$"], 137),
    ] {
        let mut b = Bundle::new(&args);
        // Pid 1 of a pid namespace cannot be killed from inside it; run this one without.
        let ns: Vec<Value> = b.config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] != "pid")
            .cloned()
            .collect();
        b.set("/linux/namespaces", Value::Array(ns));
        let id = unique("exit");
        let (got, _, err) = rt.run(&b, &id);
        assert_eq!(got, code, "{args:?}: {err}");
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let rt = Rt::new();
    let b = Bundle::new(&["true"]);
    let id = unique("keep");
    rt.ok(&["run", "--keep", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert_eq!(rt.status(&id), "stopped");
    rt.ok(&["delete", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn list_and_ps_show_containers_and_processes() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("list");
    rt.ok(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), &id]);
    let table = rt.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID  "), "{table}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&id) && row.contains("running") && row.contains("root"),
        "{row}"
    );
    let json: Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(json[0]["status"], "running");
    assert_eq!(rt.ok(&["list", "-q"]).trim(), id);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&rt.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids, vec![pid]);
    let ps = rt.ok(&["ps", &id]);
    assert!(ps.lines().next().unwrap().contains("PID"), "{ps}");
    assert!(ps.lines().any(|l| l.contains("sleep 1000")), "{ps}");
    rt.ok(&["delete", "-f", &id]);
    rt.assert_clean(&id, &b);
}

#[test]
fn commands_on_one_container_serialize_and_others_do_not_wait() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let ids: Vec<String> = (0..6).map(|_| unique("par")).collect();
    // Parallel creates of different containers all succeed.
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            rt.command(&["run", "-d", "--bundle", b.dir().to_str().unwrap(), id])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut h in handles {
        assert!(h.wait().unwrap().success());
    }
    // Racing kill/delete --force on one container: exactly one outcome, no torn state.
    let id = &ids[0];
    let racers: Vec<_> = (0..4)
        .map(|_| rt.command(&["delete", "--force", id]).spawn().unwrap())
        .collect();
    for mut r in racers {
        assert!(r.wait().unwrap().success());
    }
    assert!(!rt.root.0.join(id).exists());
    for id in &ids[1..] {
        assert_eq!(rt.status(id), "running");
        rt.ok(&["delete", "--force", id]);
    }
    for id in &ids {
        rt.assert_clean(id, &b);
    }
}

#[test]
fn features_and_spec() {
    let rt = Rt::new();
    let f: Value = serde_json::from_str(&rt.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h == "createRuntime"));
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "user"));
    let dir = TempDir::new("spec");
    rt.ok(&["spec", "--bundle", dir.0.to_str().unwrap()]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["root"]["path"], "rootfs");
    // Refuses to overwrite.
    let again = rt.cmd(&["spec", "--bundle", dir.0.to_str().unwrap()]);
    assert!(!again.status.success() && stderr(&again).contains("exists"));
    let rl = TempDir::new("spec-rootless");
    rt.ok(&["spec", "--rootless", "--bundle", rl.0.to_str().unwrap()]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(rl.0.join("config.json")).unwrap()).unwrap();
    assert!(spec["linux"]["uidMappings"].is_array());
}

/// Issue 17: `spec` writes runc's default config: the same JSON value as `runc spec` (no
/// cgroup namespace), but for the hostname (bulkhead's name) and ociVersion (runc says
/// "1.0.2-dev"). `--rootless`: runc's too, less the /sys/fs/cgroup mount, which bulkhead
/// leaves out of a rootless spec.
#[test]
fn spec_writes_runcs_default_config() {
    let rt = Rt::new();
    for rootless in [false, true] {
        let (ours, theirs) = (TempDir::new("spec-ours"), TempDir::new("spec-runc"));
        let flag: &[&str] = if rootless { &["--rootless"] } else { &[] };
        rt.ok(&[&["spec"][..], flag, &["--bundle", ours.0.to_str().unwrap()]].concat());
        let o = rt.runc(
            &[
                &["spec"][..],
                flag,
                &["--bundle", theirs.0.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(o.status.success(), "runc spec: {}", stderr(&o));
        let read = |d: &TempDir| -> Value {
            serde_json::from_str(&std::fs::read_to_string(d.0.join("config.json")).unwrap())
                .unwrap()
        };
        let (ours, mut theirs) = (read(&ours), read(&theirs));
        assert_eq!(ours["hostname"], "bulkhead");
        assert_eq!(theirs["hostname"], "runc");
        assert_eq!(ours["ociVersion"], "1.0.2");
        theirs["hostname"] = ours["hostname"].clone();
        theirs["ociVersion"] = ours["ociVersion"].clone();
        if rootless {
            theirs["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "cgroup");
        }
        let types: Vec<&Value> = ours["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["type"])
            .collect();
        assert!(!types.contains(&&json!("cgroup")), "{types:?}");
        // One field at a time first, for a readable failure.
        for key in ["process", "root", "mounts", "linux"] {
            assert_eq!(ours[key], theirs[key], "{key} (rootless: {rootless})");
        }
        assert_eq!(ours, theirs, "rootless: {rootless}");
    }
}

/// Issue 17: `--debug` writes the steps of create, start and exec to the log, as runc's debug
/// lines (in the log format asked for), from the runtime and from the init and exec processes;
/// runc's own log on the same commands shares the phrases "child process in init()" and
/// "process exited". Without `--debug` a successful command logs nothing.
#[test]
fn debug_logs_the_steps_of_create_start_and_exec() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let logs = TempDir::new("debuglog");
    let bundle = b.dir().to_str().unwrap();
    for (who, format) in [("bulkhead", "json"), ("runc", "json"), ("quiet", "text")] {
        let log = logs.0.join(format!("{who}.log"));
        let id = unique(who);
        let debug: &[&str] = if who == "quiet" { &[] } else { &["--debug"] };
        let run = |args: &[&str]| {
            let all = [
                debug,
                &["--log", log.to_str().unwrap(), "--log-format", format],
                args,
            ]
            .concat();
            let o = if who == "runc" {
                rt.runc(&all)
            } else {
                rt.cmd(&all)
            };
            assert!(o.status.success(), "{who} {args:?}: {}", stderr(&o));
        };
        run(&["create", "--bundle", bundle, &id]);
        run(&["start", &id]);
        run(&["exec", &id, "true"]);
        run(&["delete", "-f", &id]);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if who == "quiet" {
            assert_eq!(text, "", "without --debug");
            continue;
        }
        let msgs: Vec<String> = text
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
                assert_eq!(v["level"], "debug", "{l}");
                v["msg"].as_str().unwrap().to_string()
            })
            .collect();
        let has = |phrase: &str| msgs.iter().any(|m| m.contains(phrase));
        assert!(has("child process in init()"), "{who}: {msgs:#?}");
        assert!(has("process exited"), "{who}: {msgs:#?}");
        if who == "runc" {
            continue;
        }
        // The steps, in order (the init's and exec process's lines among the runtime's).
        let steps = [
            "config parsed",
            "cgroups made",
            "child process in init()",
            "loopback interface up",
            "root filesystem",
            "running createContainer hooks",
            "pivot_root into",
            "set-up complete, waiting for start",
            "set up (namespaces, mounts, hooks)",
            "start ",
            "start received",
            "about to exec /bin/sleep",
            "the program runs",
            "in the namespaces of init",
            "setns into the mnt namespace",
            "about to exec /bin/true",
            "process exited: pid",
            "delete ",
        ];
        let mut at = 0;
        for step in steps {
            let found = msgs[at..].iter().position(|m| m.contains(step));
            let Some(i) = found else {
                panic!("{step:?} missing or out of order in {msgs:#?}")
            };
            at += i + 1;
        }
        rt.assert_clean(&id, &b);
    }
}

#[test]
fn json_log_format_carries_the_error() {
    let rt = Rt::new();
    let log = TempDir::new("log");
    let file = log.0.join("log.json");
    let out = rt.cmd(&[
        "--log",
        file.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "nosuchcontainer",
    ]);
    assert!(!out.status.success());
    let line = std::fs::read_to_string(&file).unwrap();
    let v: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("does not exist"), "{v}");
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

/// A hook that runs `body` with /bin/sh, with PATH and `env` (hooks get no other environment).
fn sh_hook(body: &str, env: &[String]) -> serde_json::Value {
    let mut all = vec!["PATH=/usr/bin:/bin".to_string()];
    all.extend_from_slice(env);
    serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", body], "env": all})
}

/// Waits (bounded) for a file to appear.
fn wait_file(p: &std::path::Path, what: &str) {
    for _ in 0..1000 {
        if p.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{what}: {} never appeared", p.display());
}

/// Issue 12, defect 1: a `create` killed while its createRuntime hook ran left state with pid 0
/// and status `creating`; `delete --force` then sent SIGKILL to pid 0, its own process group,
/// and killed its caller. Now the caller survives and the container goes, init and cgroups too.
#[test]
fn delete_force_after_a_killed_create_spares_its_caller() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    let ran = b.dir().join("hook-ran");
    let hook_marker = unique("HOOK_MARKER");
    let hook = sh_hook(
        &format!("touch {}; exec sleep 30", ran.display()),
        &[format!("{hook_marker}=1")],
    );
    b.set("/hooks", serde_json::json!({ "createRuntime": [hook] }));
    let id = unique("killedcreate");
    let mut create = rt.command(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    create
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut create = create.spawn().unwrap();
    wait_file(&ran, "createRuntime hook");
    create.kill().unwrap();
    create.wait().unwrap();
    // In a session of its own, as a shell would run it: killing pid 0 would kill `sh` too.
    let out = std::process::Command::new("setsid")
        .args(["-w", "sh", "-c"])
        .arg(format!(
            "{BIN} --root {} delete --force {id}; echo after $?",
            rt.root.0.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "after 0",
        "delete --force killed its caller: {}",
        stderr(&out)
    );
    assert!(!rt.ok(&["list", "-q"]).contains(&id));
    // The hook (`sleep 30`) dies with the create that ran it (PR_SET_PDEATHSIG).
    let mut hooks = processes_with(&hook_marker);
    for _ in 0..100 {
        if hooks.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        hooks = processes_with(&hook_marker);
    }
    for p in &hooks {
        let _ = std::process::Command::new("kill")
            .arg(p.to_string())
            .status();
    }
    assert!(
        hooks.is_empty(),
        "the killed create's hook outlived it: {hooks:?}"
    );
    rt.assert_clean(&id, &b);
}

/// Issue 12, defect 3: a create that fails after its init was cloned (here its state directory
/// is removed under it, as a racing unlocked `delete -f` did) kills and reaps the init and
/// removes its cgroups.
#[test]
fn a_create_failing_after_the_clone_kills_its_init() {
    let rt = Rt::new();
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = unique("failclone");
    let hook = sh_hook(&format!("rm -rf {}", rt.root.0.join(&id).display()), &[]);
    b.set("/hooks", serde_json::json!({ "createRuntime": [hook] }));
    let out = rt.cmd(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    rt.assert_clean(&id, &b);
}

/// Issue 12, defect 3: `delete --force` while `create` has made the directory but no state yet
/// waits for create's lock instead of removing the directory under it; then it deletes what
/// create made. (The pause point is a debug-build test hook, see crates/runtime/src/faults.rs.)
#[test]
fn delete_force_waits_for_a_create_in_progress() {
    let rt = Rt::new();
    let b = Bundle::new(&["sleep", "1000"]);
    let id = unique("racecreate");
    let pause = b.dir().join("paused");
    let mut create = rt.command(&["create", "--bundle", b.dir().to_str().unwrap(), &id]);
    create
        .env("BULKHEAD_TEST_PAUSE", "create:locked")
        .env("BULKHEAD_TEST_PAUSE_FILE", &pause)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut create = create.spawn().unwrap();
    wait_file(&pause, "create:locked");
    assert!(!rt.root.0.join(&id).join("state.json").exists());
    let mut delete = rt.command(&["delete", "--force", &id]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        delete.try_wait().unwrap().is_none(),
        "delete --force did not wait for create's lock"
    );
    std::fs::remove_file(&pause).unwrap();
    assert!(create.wait().unwrap().success(), "create failed");
    assert!(delete.wait().unwrap().success(), "delete --force failed");
    rt.assert_clean(&id, &b);
}

/// Issue 12, defect 4: a command whose stdout has no reader ends by SIGPIPE as runc's does
/// (141 in a shell), with no panic and nothing in the log.
#[test]
fn a_closed_stdout_ends_a_command_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let rt = Rt::new();
    let log = rt.root.0.join("bulkhead.log");
    for args in [&["features"][..], &["list"], &["--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = rt.command(&[]);
        c.arg("--log").arg(&log).args(args);
        let out = c
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?} {}",
            out.status,
            stderr(&out)
        );
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
    // runc, side by side: the same end.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let runc = std::process::Command::new("runc")
        .arg("--root")
        .arg(rt.root.0.join("runc"))
        .arg("list")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(
        runc.status.signal(),
        Some(libc::SIGPIPE),
        "runc: {:?}",
        runc.status
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logged.contains("panicked"), "{logged}");
}
