//! The first five minutes, as README shows them. Every `$ ` line of README's code blocks is run
//! and must print the lines shown under it (in order; digits and the demo's temporary directory
//! masked), with these substitutions: the binaries this test run built (`--bin-dir`) instead of
//! a build, a temporary prefix and /etc for `scripts/install`, the local busybox image for
//! docker.io's, a private containerd configured with README's own tables for `ctr`. Then the
//! scripts' other promises: exit codes, the tour's figures, a config never overwritten, and one
//! line naming the step and the package or command when something is missing.

mod common;
use common::clients::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const README: &str = include_str!("../../../README.md");
/// The containerd config that Debian's package ships (containerd 1.6.20~ds1-1+deb12u3).
const DEBIAN_CONTAINERD_CONFIG: &str = r#"version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
"#;
const NS: &str = "bulkhead-test";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of the binaries this test run uses (bulkhead and the shim).
fn bins() -> PathBuf {
    let dir = Path::new(BIN).parent().unwrap().to_path_buf();
    assert!(
        dir.join("containerd-shim-bulkhead-v2").exists(),
        "no shim beside {BIN}: cargo build -p bulkhead-shim"
    );
    dir
}

/// `bash -c script` in the repository, stderr into stdout (in the order written).
fn bash(script: &str, env: &[(&str, &str)]) -> Output {
    capture({
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!("exec 2>&1\n{script}"))
            .current_dir(repo())
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        c
    })
}

/// A `$ ` line of README and the lines shown under it.
struct Session {
    command: String,
    shown: Vec<String>,
}

fn sessions() -> Vec<Session> {
    let mut all: Vec<Session> = Vec::new();
    let mut open = false;
    for line in README.lines() {
        if let Some(code) = line.strip_prefix("    ") {
            if let Some(cmd) = code.strip_prefix("$ ") {
                all.push(Session {
                    command: cmd.to_string(),
                    shown: Vec::new(),
                });
                open = true;
            } else if open {
                all.last_mut().unwrap().shown.push(code.to_string());
            }
        } else if line.trim().is_empty() {
            if open {
                all.last_mut().unwrap().shown.push(String::new());
            }
        } else {
            open = false;
        }
    }
    for s in &mut all {
        while s.shown.last().is_some_and(|l| l.is_empty()) {
            s.shown.pop();
        }
    }
    all
}

/// Digits become `N`, the demo's bundle directory `/tmp/bulkhead-demo.*`; trailing blanks go,
/// and a column's padding (two blanks or more) is two blanks whatever the width of the numbers
/// before it (a start-up of 1000 ms or more on a loaded machine shifts the next column).
fn mask(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in mask_numbers(line).split("  ").enumerate() {
        if i > 0 && !part.is_empty() {
            out.push_str("  ");
        }
        out.push_str(part.trim_start());
    }
    out
}

fn mask_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line.trim_end();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/tmp/bulkhead-demo.") {
            out.push_str("/tmp/bulkhead-demo.*");
            rest = after.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
            continue;
        }
        let c = rest.chars().next().unwrap();
        if c.is_ascii_digit() {
            out.push('N');
            rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Every shown line (but `...`) appears in `printed`, in order.
fn assert_shown(cmd: &str, shown: &[String], printed: &str) {
    let printed: Vec<String> = printed.lines().map(mask).collect();
    let mut at = 0;
    for want in shown.iter().filter(|l| l.trim() != "...") {
        let want = mask(want);
        match printed[at..].iter().position(|l| *l == want) {
            Some(i) => at += i + 1,
            None => panic!(
                "README shows for `{cmd}` the line\n{want}\nwhich it did not print (after line {at}); it printed:\n{}",
                printed.join("\n")
            ),
        }
    }
}

/// What the README sessions share: the install's prefix and /etc, and a private containerd
/// once a `ctr` line needs one.
struct Machine {
    tmp: TempDir,
    containerd: Option<Containerd>,
}

impl Machine {
    fn prefix(&self) -> String {
        self.tmp.0.join("usr-local").display().to_string()
    }
    fn etc(&self) -> String {
        self.tmp.0.join("etc").display().to_string()
    }
    /// For podman: the installed drop-in, and what this host needs (no CAP_SYS_RESOURCE for
    /// podman's default rlimits, hybrid cgroups).
    fn podman_conf(&self) -> PathBuf {
        let dropin = Path::new(&self.etc()).join("containers/containers.conf.d/50-bulkhead.conf");
        let mut conf = std::fs::read_to_string(&dropin)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/install --podman)", dropin.display()));
        conf.push_str(
            "[containers]\ndefault_ulimits = [\"nofile=1024:20000\", \"nproc=1024:1024\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\n",
        );
        let path = self.tmp.0.join("podman.conf");
        std::fs::write(&path, conf).unwrap();
        path
    }
    fn containerd(&mut self) -> &Containerd {
        if self.containerd.is_none() {
            // README's Kubernetes tables, with its /etc here.
            let tables = README
                .split("\n\n")
                .find(|block| block.contains("runtimes.bulkhead-sandbox.options]"))
                .expect("README's containerd tables")
                .lines()
                .map(|l| l.strip_prefix("    ").unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
                .replace("/etc/", &format!("{}/", self.etc()));
            let bin = Path::new(&self.prefix()).join("bin");
            let c = Containerd::start_with_bins(&format!("{tables}\n"), &bin);
            let plugins = stdout(&c.ctr(&["plugins", "ls"]));
            assert!(
                plugins
                    .lines()
                    .any(|l| l.contains(" cri ") && l.trim_end().ends_with("ok")),
                "containerd's CRI plugin does not load README's tables:\n{plugins}\n{}",
                c.log()
            );
            self.containerd = Some(c);
        }
        self.containerd.as_ref().unwrap()
    }
}

/// Runs one README line here; returns what it printed, in README's terms.
fn run_session(m: &mut Machine, cmd: &str) -> Option<String> {
    let cmd = cmd.strip_prefix("sudo ").unwrap_or(cmd);
    let bins = bins().display().to_string();
    let word = cmd.split_whitespace().next().unwrap_or("");
    match word {
        // What runs this test.
        "scripts/test" => None,
        "scripts/demo" => {
            let o = bash(
                &cmd.replacen("scripts/demo", &format!("scripts/demo --bin-dir {bins}"), 1),
                &[],
            );
            Some(stdout(&o).replace(
                &format!("demo: build: none: the binaries in {bins}"),
                "demo: build: cargo build -p bulkhead -p bulkhead-shim",
            ))
        }
        "scripts/install" => {
            let (prefix, etc) = (m.prefix(), m.etc());
            std::fs::create_dir_all(format!("{etc}/containerd")).unwrap();
            std::fs::write(
                format!("{etc}/containerd/config.toml"),
                DEBIAN_CONTAINERD_CONFIG,
            )
            .unwrap();
            let path = format!("{prefix}/bin:{}", std::env::var("PATH").unwrap());
            let o = bash(
                &cmd.replacen(
                    "scripts/install",
                    &format!("scripts/install --prefix {prefix} --etc {etc} --bin-dir {bins}"),
                    1,
                ),
                &[("PATH", &path)],
            );
            let out = stdout(&o);
            assert!(o.status.success(), "{cmd}:\n{out}");
            let none = format!("install: build: none: the binaries in {bins}\n");
            assert!(out.contains(&none), "{out}");
            // The build's lines README shows are the release build's.
            let readme = [
                "install: packages: present: libseccomp-dev pkg-config gcc libc6-dev ca-certificates",
                "install: rust: rustc 0.0.0",
                "install: build: cargo build --release -p bulkhead -p bulkhead-shim (the first release build takes minutes)",
            ];
            Some(
                out.replace(&none, &(readme.join("\n") + "\n"))
                    .replace(&etc, "/etc")
                    .replace(&prefix, "/usr/local"),
            )
        }
        "podman" => {
            podman_image();
            let conf = m.podman_conf();
            let o = bash(
                &cmd.replace("/usr/local/", &format!("{}/", m.prefix()))
                    .replace("docker.io/library/busybox", IMAGE),
                &[("CONTAINERS_CONF", conf.to_str().unwrap())],
            );
            Some(stdout(&o))
        }
        "ctr" if cmd.starts_with("ctr image pull ") => {
            m.containerd().import_image(NS);
            Some(String::new())
        }
        "ctr" => {
            let etc = m.etc();
            let sock = m.containerd().sock().display().to_string();
            let o = bash(
                &cmd.replacen(
                    "ctr ",
                    &format!("ctr --address {sock} --namespace {NS} "),
                    1,
                )
                .replace("docker.io/library/busybox:latest", IMAGE)
                .replace("/etc/", &format!("{etc}/")),
                &[],
            );
            Some(stdout(&o))
        }
        _ => panic!("README runs `{cmd}`, which this test does not know how to run"),
    }
}

/// Every `$ ` line of README, in order, prints what README shows under it.
#[test]
fn readme_commands_print_what_readme_shows() {
    require_root();
    let all = sessions();
    for must in [
        "scripts/demo",
        "scripts/install",
        "podman",
        "ctr run",
        "scripts/test",
    ] {
        assert!(
            all.iter().any(|s| s.command.contains(must)),
            "README shows no `{must}` line"
        );
    }
    let mut m = Machine {
        tmp: TempDir::new("readme"),
        containerd: None,
    };
    for s in &all {
        if let Some(printed) = run_session(&mut m, &s.command) {
            assert_shown(&s.command, &s.shown, &printed);
        }
    }
}

fn demo(args: &[&str]) -> Output {
    let bins = bins();
    run(Command::new(repo().join("scripts/demo"))
        .arg("--bin-dir")
        .arg(&bins)
        .args(args)
        .stdin(Stdio::null()))
}

/// The steps' lines, on stderr: one a step, each naming it.
fn steps(o: &Output) -> Vec<String> {
    stderr(o).lines().map(str::to_string).collect()
}

#[test]
fn demo_runs_a_command_in_either_class_with_its_exit_code() {
    require_root();
    let o = demo(&["sh", "-c", "echo hi; exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    let s = steps(&o);
    let names: Vec<&str> = s
        .iter()
        .map(|l| l.split(':').nth(1).unwrap_or("").trim())
        .collect();
    assert_eq!(
        names,
        ["packages", "rust", "build", "bundle", "run"],
        "{s:?}"
    );
    assert!(s.iter().all(|l| l.starts_with("demo: ")), "{s:?}");
    assert_eq!(s[4], "demo: run: container class: sh -c 'echo hi; exit 3'");

    let o = demo(&["--sandbox", "sh", "-c", "uname -v; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        concat!(
            "#1 SMP PREEMPT_DYNAMIC bulkhead sentry ",
            env!("CARGO_PKG_VERSION"),
            "\n"
        )
    );
    assert!(
        stderr(&o).contains("demo: run: sandbox class: sh -c 'uname -v; exit 4'\n"),
        "{}",
        stderr(&o)
    );

    let o = demo(&["--sandbox"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("usage: scripts/demo"),
        "{}",
        stderr(&o)
    );
}

/// The tour: the same output in both classes, the kernel that answers in each, the host calls
/// the sandbox may make (as `bulkhead features` says), and the time each took.
#[test]
fn the_tour_shows_both_classes_side_by_side() {
    require_root();
    let o = demo(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // A row: its label (15 columns), the container's value (35), the sandbox's.
    let row = |label: &str| -> (String, String) {
        let l = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label}:\n{out}"));
        (l[16..51].trim().to_string(), l[51..].trim().to_string())
    };
    let (c, s) = row("same output");
    assert_eq!(c, "hello from bulkhead, pid 1");
    assert_eq!(s, c);
    let (c, s) = row("uname -v");
    assert_eq!(
        (c.as_str(), s.as_str()),
        (
            "the host's kernel",
            concat!(
                "#1 SMP PREEMPT_DYNAMIC bulkhead sentry ",
                env!("CARGO_PKG_VERSION")
            )
        )
    );
    let (c, s) = row("/proc entries");
    let count = |v: &str| v.split(',').next().unwrap().parse::<u32>().unwrap();
    assert!(
        count(&c) > count(&s) && s.ends_with("the sentry's"),
        "{c} / {s}"
    );
    let features: serde_json::Value =
        serde_json::from_slice(&run(Command::new(BIN).arg("features")).stdout).unwrap();
    let calls = features["annotations"]["dev.bulkhead.sandbox.hostSyscalls"]
        .as_str()
        .unwrap();
    let (c, s) = row("host syscalls");
    assert_eq!(c, "all of the host's (no seccomp)");
    assert_eq!(
        s,
        format!("{calls}, the sentry's allowlist (bulkhead features)")
    );
    let (c, s) = row("start to exit");
    for v in [&c, &s] {
        let ms: u64 = v.strip_suffix(" ms").unwrap().parse().unwrap();
        assert!(ms > 0 && ms < 60_000, "{v}");
    }
}

fn install(prefix: &Path, etc: &Path, what: &[&str]) -> Output {
    run(Command::new(repo().join("scripts/install"))
        .arg("--prefix")
        .arg(prefix)
        .arg("--etc")
        .arg(etc)
        .arg("--bin-dir")
        .arg(bins())
        .args(what)
        .stdin(Stdio::null()))
}

/// containerd's merged view of a config file.
fn dump(config: &Path) -> String {
    let o = run(Command::new(which("containerd"))
        .arg("--config")
        .arg(config)
        .args(["config", "dump"]));
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Installs into a temporary prefix; merges into Debian's containerd config keeping every old
/// setting; a second run changes nothing; configs it did not write are never overwritten.
#[test]
fn install_adds_to_configs_and_overwrites_none() {
    require_root();
    let tmp = TempDir::new("install");
    let (prefix, etc) = (tmp.0.join("prefix"), tmp.0.join("etc"));
    let conf = etc.join("containerd/config.toml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, DEBIAN_CONTAINERD_CONFIG).unwrap();

    let o = install(&prefix, &etc, &["--podman", "--containerd"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for b in ["bulkhead", "containerd-shim-bulkhead-v2"] {
        let v = run(Command::new(prefix.join("bin").join(b)).arg("--version"));
        assert!(v.status.success(), "{b} --version: {}", stderr(&v));
    }
    let podman =
        std::fs::read_to_string(etc.join("containers/containers.conf.d/50-bulkhead.conf")).unwrap();
    assert!(
        podman.contains(&format!(
            "[engine.runtimes]\nbulkhead = [\"{}/bin/bulkhead\"]",
            prefix.display()
        )),
        "{podman}"
    );
    assert_eq!(
        std::fs::read_to_string(conf.with_extension("toml.before-bulkhead")).unwrap(),
        DEBIAN_CONTAINERD_CONFIG
    );
    let merged = std::fs::read_to_string(&conf).unwrap();
    assert!(merged.starts_with(DEBIAN_CONTAINERD_CONFIG), "{merged}");
    let d = dump(&conf);
    let cri = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes";
    for want in [
        "bin_dir = \"/usr/lib/cni\"".to_string(),
        "default_runtime_name = \"runc\"".to_string(),
        format!("{cri}.runc]"),
        format!("{cri}.bulkhead]"),
        format!("{cri}.bulkhead-sandbox.options]"),
        format!(
            "ConfigPath = \"{}\"",
            etc.join("bulkhead/sandbox.toml").display()
        ),
    ] {
        assert!(d.contains(&want), "containerd's view lacks {want}:\n{d}");
    }
    assert_eq!(
        std::fs::read_to_string(etc.join("bulkhead/sandbox.toml"))
            .unwrap()
            .lines()
            .last(),
        Some("class = \"sandbox\"")
    );
    assert!(
        stderr(&o).contains("nothing was restarted"),
        "{}",
        stderr(&o)
    );

    // Again: nothing changes, nothing to restart.
    let o = install(&prefix, &etc, &["--podman", "--containerd"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), merged);
    let err = stderr(&o);
    assert!(err.contains("50-bulkhead.conf is up to date"), "{err}");
    assert!(err.contains("already names bulkhead: left alone"), "{err}");
    assert!(!err.contains("restart containerd"), "{err}");

    // Configs it did not write: someone's own drop-in, a containerd 2 config, one containerd
    // cannot read, and one where the new tables would clash. Each is left byte for byte, and
    // the lines to add are printed.
    let cases = [
        ("version = 3\n", "it is not config version 2"),
        ("version = 2\n[plugins\n", "containerd cannot read it"),
        (
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  runtimes = {}\n",
            "containerd cannot read it with the runtimes added",
        ),
    ];
    for (config, why) in cases {
        let etc = tmp.0.join(unique("etc"));
        let conf = etc.join("containerd/config.toml");
        std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
        std::fs::write(&conf, config).unwrap();
        let dropin = etc.join("containers/containers.conf.d/50-bulkhead.conf");
        std::fs::create_dir_all(dropin.parent().unwrap()).unwrap();
        std::fs::write(
            &dropin,
            "[engine.runtimes]\nbulkhead = [\"/opt/bulkhead\"]\n",
        )
        .unwrap();
        let o = install(&prefix, &etc, &["--podman", "--containerd"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), config);
        assert!(
            err.contains(&format!("left {} alone: {why}", conf.display())),
            "{err}"
        );
        assert!(
            err.contains(&format!("    {cri}.bulkhead-sandbox]")),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&dropin).unwrap(),
            "[engine.runtimes]\nbulkhead = [\"/opt/bulkhead\"]\n"
        );
        assert!(
            err.contains(&format!("left {} alone", dropin.display())),
            "{err}"
        );
        assert!(!conf.with_extension("toml.before-bulkhead").exists());
    }

    let o = install(&prefix, &etc, &["--frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("install: unknown argument: --frobnicate\n"),
        "{}",
        stderr(&o)
    );
}

/// What is missing is named, with the step, in one line, and nothing goes on.
#[test]
fn a_missing_tool_or_package_is_one_line_naming_it() {
    require_root();
    // No cargo: not on PATH, not in ~/.cargo/bin.
    let home = TempDir::new("home");
    let o = run(Command::new(repo().join("scripts/deps"))
        .arg("demo")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home.0));
    assert_eq!(o.status.code(), Some(1));
    let need = std::fs::read_to_string(repo().join("scripts/packages"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("rust")
                .map(|r| r.split_whitespace().next().unwrap().to_string())
        })
        .unwrap();
    let last = stderr(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("deps: rust: ") && last.contains(&format!("Rust {need} or newer")),
        "{}",
        stderr(&o)
    );

    // A package that is not installed, on a machine without apt-get: scripts/deps with its own
    // list, and a PATH of the few tools it uses.
    let dir = TempDir::new("deps");
    std::fs::copy(repo().join("scripts/deps"), dir.0.join("deps")).unwrap();
    std::fs::write(
        dir.0.join("packages"),
        "apt  busybox-static     t\napt  no-such-package-x  t\n",
    )
    .unwrap();
    let tools = dir.0.join("bin");
    std::fs::create_dir(&tools).unwrap();
    for t in [
        "bash",
        "awk",
        "grep",
        "dpkg-query",
        "id",
        "dirname",
        "mktemp",
        "cat",
        "tail",
        "rm",
    ] {
        std::os::unix::fs::symlink(which(t), tools.join(t)).unwrap();
    }
    let o = run(Command::new(tools.join("bash"))
        .arg(dir.0.join("deps"))
        .arg("t")
        .env("PATH", &tools));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "deps: packages: missing no-such-package-x, and there is no apt-get here (Debian or Ubuntu): install them with this system's package manager\n"
    );

    let o = run(Command::new(repo().join("scripts/deps")).arg("nope"));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "deps: no such tag in scripts/packages: nope\n");
}
