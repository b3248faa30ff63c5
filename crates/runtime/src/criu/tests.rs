//! The CRIU requests and the RPC, without a working criu: the fields each request gets from the
//! flags and the config; the wire form checked against criu's own rpc.proto by protoc (when
//! installed); the exchange with a fake criu peer over a socket pair (NOTIFY acknowledged,
//! answers of the wrong type refused); and a fake `criu` program started as `criu swrk FD`
//! (the fds it inherits, VERSION and CHECK, the error taken from its log).

use super::proto::*;
use super::request::*;
use super::swrk::{self, Channel};
use crate::checkpoint::{cg_roots, checkpoint_flags, inherited_pipes, CheckpointOpts, CommonOpts};
use oci_spec::runtime::Spec;
use prost::Message;
use std::io::Write;
use std::path::Path;

const RPC_PROTO: &str = "/usr/include/criu/rpc.proto";

fn spec() -> Spec {
    serde_json::from_str(
        r#"{
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sleep", "1"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]},
            {"destination": "/etc/hosts", "source": "hosts", "options": ["bind"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
        ],
        "linux": {
            "maskedPaths": ["/proc/kcore", "/proc/acpi"],
            "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}]
        }
    }"#,
    )
    .unwrap()
}

fn views() -> Vec<CgroupView> {
    vec![
        CgroupView {
            name: "cpu,cpuacct".into(),
            host_dir: "/sys/fs/cgroup/cpu,cpuacct/c1".into(),
        },
        CgroupView {
            name: "systemd".into(),
            host_dir: "/sys/fs/cgroup/systemd/c1".into(),
        },
    ]
}

fn flags() -> CheckpointFlags {
    CheckpointFlags {
        common: CommonFlags {
            tcp_established: true,
            ext_unix_sk: false,
            shell_job: true,
            file_locks: true,
            manage_cgroups_mode: Some(CgMode::Full),
            empty_ns: libc::CLONE_NEWNET as u32,
            auto_dedup: true,
            lazy_pages: false,
        },
        leave_running: true,
        pre_dump: false,
        parent_path: Some("../pre".into()),
        page_server: Some(("10.0.0.1".into(), 27)),
        status_fd: None,
    }
}

fn ext(pairs: &[(&str, &str)]) -> Vec<ExtMountMap> {
    pairs
        .iter()
        .map(|(k, v)| ExtMountMap {
            key: k.to_string(),
            val: v.to_string(),
        })
        .collect()
}

fn dump() -> Req {
    let s = spec();
    dump_request(
        &flags(),
        &DumpTarget {
            pid: 4242,
            images_dir_fd: 7,
            work_dir_fd: Some(8),
            rootfs: Path::new("/b/rootfs"),
            bundle: Path::new("/b"),
            spec: &s,
            freeze_cgroup: Some("/sys/fs/cgroup/freezer/c1".into()),
            cgroups: views(),
            masked_files: vec!["/proc/kcore".into()],
            netns_inode: Some(4026532000),
        },
    )
}

#[test]
fn the_dump_request_has_the_flags_and_the_configs_mounts() {
    let req = dump();
    assert_eq!(req.r#type, ReqType::Dump as i32);
    let o = req.opts.unwrap();
    assert_eq!(o.images_dir_fd, 7);
    assert_eq!(o.work_dir_fd, Some(8));
    assert_eq!(o.pid, Some(4242));
    assert_eq!(o.root.as_deref(), Some("/b/rootfs"));
    assert_eq!(o.log_file.as_deref(), Some("dump.log"));
    assert_eq!(o.log_level, Some(4));
    assert_eq!(o.leave_running, Some(true));
    assert_eq!(o.tcp_established, Some(true));
    assert_eq!(o.ext_unix_sk, Some(false));
    assert_eq!(o.shell_job, Some(true));
    assert_eq!(o.file_locks, Some(true));
    assert_eq!(o.auto_dedup, Some(true));
    assert_eq!(o.lazy_pages, Some(false));
    assert_eq!(o.empty_ns, Some(libc::CLONE_NEWNET as u32));
    assert_eq!(o.manage_cgroups, Some(true));
    assert_eq!(o.manage_cgroups_mode, Some(CgMode::Full as i32));
    assert_eq!(o.notify_scripts, Some(true));
    assert_eq!(o.orphan_pts_master, Some(true));
    assert_eq!(o.parent_img.as_deref(), Some("../pre"));
    assert_eq!(o.track_mem, Some(true));
    assert_eq!(
        o.freeze_cgroup.as_deref(),
        Some("/sys/fs/cgroup/freezer/c1")
    );
    assert_eq!(o.config_file.as_deref(), Some(DEFAULT_CONFIG_FILE));
    let ps = o.ps.unwrap();
    assert_eq!(
        (ps.address.as_deref(), ps.port),
        (Some("10.0.0.1"), Some(27))
    );
    assert_eq!(o.status_fd, None);
    // Binds (by type or by option) and each cgroup view as themselves; the masked file as
    // /dev/null; proc and tmpfs are criu's to dump.
    assert_eq!(
        o.ext_mnt,
        ext(&[
            ("/data", "/data"),
            ("/etc/hosts", "/etc/hosts"),
            ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
            ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd"),
            ("/proc/kcore", "/dev/null"),
        ])
    );
    assert_eq!(o.external, vec!["net[4026532000]:extRootNetNS".to_string()]);
    assert!(o.inherit_fd.is_empty() && o.cg_root.is_empty());
    assert_eq!(o.rst_sibling, None);
}

#[test]
fn pre_dump_leaves_running_and_tracks_memory() {
    let s = spec();
    let mut f = CheckpointFlags {
        pre_dump: true,
        ..Default::default()
    };
    let t = DumpTarget {
        pid: 1,
        images_dir_fd: 3,
        work_dir_fd: None,
        rootfs: Path::new("/r"),
        bundle: Path::new("/"),
        spec: &s,
        freeze_cgroup: None,
        cgroups: vec![],
        masked_files: vec![],
        netns_inode: None,
    };
    let req = dump_request(&f, &t);
    assert_eq!(req.r#type, ReqType::PreDump as i32);
    let o = req.opts.unwrap();
    assert_eq!((o.leave_running, o.track_mem), (Some(true), Some(true)));
    assert_eq!(o.work_dir_fd, None);
    assert!(o.external.is_empty() && o.ps.is_none());
    f.pre_dump = false;
    let o = dump_request(&f, &t).opts.unwrap();
    assert_eq!((o.leave_running, o.track_mem), (Some(false), None));
    assert_eq!(o.manage_cgroups_mode, None);
}

#[test]
fn the_criu_config_file_comes_from_the_annotation() {
    let mut s = spec();
    let t = |s: &Spec| {
        dump_request(
            &CheckpointFlags::default(),
            &DumpTarget {
                pid: 1,
                images_dir_fd: 3,
                work_dir_fd: None,
                rootfs: Path::new("/r"),
                bundle: Path::new("/"),
                spec: s,
                freeze_cgroup: None,
                cgroups: vec![],
                masked_files: vec![],
                netns_inode: None,
            },
        )
        .opts
        .unwrap()
        .config_file
    };
    s.set_annotations(Some(
        [(CONFIG_ANNOTATION.to_string(), "/etc/my.conf".to_string())].into(),
    ));
    assert_eq!(t(&s).as_deref(), Some("/etc/my.conf"));
    s.set_annotations(Some(
        [(CONFIG_ANNOTATION.to_string(), String::new())].into(),
    ));
    assert_eq!(t(&s), None);
}

#[test]
fn the_restore_request_finds_each_external_mount_and_fd() {
    let s = spec();
    let req = restore_request(
        &RestoreFlags {
            common: CommonFlags {
                ext_unix_sk: true,
                lazy_pages: true,
                empty_ns: libc::CLONE_NEWNET as u32,
                manage_cgroups_mode: Some(CgMode::Strict),
                ..Default::default()
            },
            lsm_profile: Some("apparmor:p".into()),
            lsm_mount_context: None,
        },
        &RestoreTarget {
            images_dir_fd: 9,
            work_dir_fd: None,
            root: Path::new("/run/bulkhead/c1/criu-root"),
            bundle: Path::new("/b"),
            spec: &s,
            cgroups: views(),
            masked_files: vec!["/proc/kcore".into(), "/proc/acpi".into()],
            netns_fd: Some(11),
            inherit: vec![("pipe:[123]".into(), 1)],
            cg_roots: vec![(Some("cpu,cpuacct".into()), "/c1".into())],
        },
    );
    assert_eq!(req.r#type, ReqType::Restore as i32);
    let o = req.opts.unwrap();
    assert_eq!(o.images_dir_fd, 9);
    assert_eq!(o.root.as_deref(), Some("/run/bulkhead/c1/criu-root"));
    assert_eq!(o.log_file.as_deref(), Some("restore.log"));
    assert_eq!(o.rst_sibling, Some(true));
    assert_eq!(o.evasive_devices, Some(true));
    assert_eq!(o.ext_unix_sk, Some(true));
    assert_eq!(o.lazy_pages, Some(true));
    assert_eq!(o.manage_cgroups, Some(true));
    assert_eq!(o.manage_cgroups_mode, Some(CgMode::Strict as i32));
    assert_eq!(o.notify_scripts, Some(true));
    assert_eq!(o.orphan_pts_master, Some(true));
    assert_eq!(o.lsm_profile.as_deref(), Some("apparmor:p"));
    assert_eq!(o.pid, None);
    assert_eq!(o.leave_running, None);
    // A bind from its source (relative ones in the bundle), each cgroup view from the
    // container's new cgroup, the masked files from /dev/null, once.
    assert_eq!(
        o.ext_mnt,
        ext(&[
            ("/data", "/srv/data"),
            ("/etc/hosts", "/b/hosts"),
            (
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/cpu,cpuacct/c1"
            ),
            ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/c1"),
            ("/dev/null", "/dev/null"),
        ])
    );
    assert_eq!(
        o.inherit_fd,
        vec![
            InheritFd {
                key: "extRootNetNS".into(),
                fd: 11
            },
            InheritFd {
                key: "pipe:[123]".into(),
                fd: 1
            },
        ]
    );
    assert_eq!(
        o.cg_root,
        vec![CgroupRoot {
            ctrl: Some("cpu,cpuacct".into()),
            path: "/c1".into()
        }]
    );
}

#[test]
fn a_v2_only_cgroup_mount_is_one_external_mount() {
    let s = spec();
    let v = vec![CgroupView {
        name: String::new(),
        host_dir: "/sys/fs/cgroup/c1".into(),
    }];
    assert_eq!(
        external_mounts(&s, Path::new("/b"), &v, &[], false)[2],
        ext(&[("/sys/fs/cgroup", "/sys/fs/cgroup")])[0]
    );
    assert_eq!(
        external_mounts(&s, Path::new("/b"), &v, &[], true)[2],
        ext(&[("/sys/fs/cgroup", "/sys/fs/cgroup/c1")])[0]
    );
}

#[test]
fn flags_are_checked_as_runcs() {
    assert_eq!(parse_cg_mode("soft").unwrap(), CgMode::Soft);
    assert_eq!(parse_cg_mode("strict").unwrap(), CgMode::Strict);
    for bad in ["ignore", "", "SOFT"] {
        let e = parse_cg_mode(bad).unwrap_err().to_string();
        assert!(e.starts_with("--manage-cgroups-mode: "), "{e}");
    }
    let net = libc::CLONE_NEWNET as u32;
    assert_eq!(parse_empty_ns(&[]).unwrap(), net);
    assert_eq!(parse_empty_ns(&["network".into()]).unwrap(), net);
    assert!(parse_empty_ns(&["ipc".into()])
        .unwrap_err()
        .to_string()
        .contains("\"ipc\""));
    assert_eq!(
        parse_page_server("10.1.2.3:8080").unwrap(),
        ("10.1.2.3".into(), 8080)
    );
    assert_eq!(parse_page_server("[::1]:27").unwrap(), ("::1".into(), 27));
    for bad in ["nocolon", ":27", "host:", "::1:27", "host:99999", "host:x"] {
        assert!(
            parse_page_server(bad)
                .unwrap_err()
                .to_string()
                .starts_with("--page-server: "),
            "{bad}"
        );
    }
    assert_eq!(parse_status_fd("-1").unwrap(), None);
    assert_eq!(parse_status_fd("4").unwrap(), Some(4));
    assert!(parse_status_fd("-2").is_err() && parse_status_fd("x").is_err());
}

#[test]
fn conflicting_checkpoint_flags_are_refused() {
    let o = |f: &dyn Fn(&mut CheckpointOpts)| {
        let mut o = CheckpointOpts::default();
        f(&mut o);
        checkpoint_flags(&o).map_err(|e| e.to_string())
    };
    assert!(o(&|o| {
        o.pre_dump = true;
        o.common.lazy_pages = true
    })
    .unwrap_err()
    .starts_with("--lazy-pages: "));
    assert!(o(&|o| o.status_fd = Some("2".into()))
        .unwrap_err()
        .starts_with("--status-fd: only with --lazy-pages"));
    // fd 2 is open here; a high one is not.
    let ok = o(&|o| {
        o.status_fd = Some("2".into());
        o.common.lazy_pages = true
    })
    .unwrap();
    assert_eq!((ok.status_fd, ok.common.lazy_pages), (Some(2), true));
    assert!(o(&|o| {
        o.status_fd = Some("1000".into());
        o.common.lazy_pages = true
    })
    .unwrap_err()
    .contains("not an open file descriptor"));
    assert!(o(&|o| o.parent_path = Some("/abs".into()))
        .unwrap_err()
        .starts_with("--parent-path: "));
    assert!(o(&|o| o.common.manage_cgroups_mode = Some("x".into())).is_err());
    let all = o(&|o| {
        o.common = CommonOpts {
            tcp_established: true,
            empty_ns: vec!["network".into()],
            ..Default::default()
        };
        o.page_server = Some("h:1".into());
        o.status_fd = Some("-1".into());
    })
    .unwrap();
    assert_eq!(all.page_server, Some(("h".into(), 1)));
    assert_eq!(all.status_fd, None);
    assert!(all.common.tcp_established);
}

#[test]
fn restore_helpers() {
    assert_eq!(
        inherited_pipes(&[
            "/dev/null".into(),
            "pipe:[77]".into(),
            "pipe:[78]".into(),
            "pipe:[79]".into()
        ]),
        vec![("pipe:[77]".into(), 1), ("pipe:[78]".into(), 2)]
    );
    let hybrid = "12:pids:/c1\n11:cpu,cpuacct:/c1\n1:name=systemd:/c1\n0::/c1\n";
    assert_eq!(
        cg_roots(hybrid),
        vec![
            (Some("pids".into()), "/c1".into()),
            (Some("cpu,cpuacct".into()), "/c1".into()),
            (Some("name=systemd".into()), "/c1".into()),
        ]
    );
    assert_eq!(cg_roots("0::/a/b\n"), vec![(None, "/a/b".into())]);
}

#[test]
fn criu_log_errors_make_one_line() {
    let log = "(00.000035) Version: 3.17.1 (gitid 0)\n\
        (00.023380) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
        (00.023382) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n\
        (00.023383) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n\
        (00.023383) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n";
    assert_eq!(
        super::log_errors(log).unwrap(),
        "vdso: Unexpected rt vDSO area bounds; vdso: Failed to fill self vdso symtable; \
         kerndat_vdso_fill_symtable failed when initializing kerndat"
    );
    assert_eq!(super::log_errors("(0.1) all fine\n"), None);
}

/// The wire form by hand, from rpc.proto's numbers: a change of a field's number or type in
/// proto.rs breaks this.
#[test]
fn the_wire_form_is_rpc_protos() {
    let req = Req {
        r#type: ReqType::Dump as i32,
        opts: Some(Opts {
            images_dir_fd: 5,
            pid: Some(300),
            leave_running: Some(true),
            log_file: Some("d".into()),
            external: vec!["x".into()],
            manage_cgroups_mode: Some(CgMode::Soft as i32),
            ..Default::default()
        }),
        ..Default::default()
    };
    let want: &[u8] = &[
        0x08, 0x01, // type = DUMP
        0x12, 17, // opts, 17 bytes
        0x08, 0x05, // images_dir_fd = 5
        0x10, 0xac, 0x02, // pid = 300
        0x18, 0x01, // leave_running
        0x52, 0x01, b'd', // log_file (10)
        0x90, 0x02, 0x03, // manage_cgroups_mode (34) = SOFT
        0xaa, 0x02, 0x01, b'x', // external (37)
    ];
    assert_eq!(req.encode_to_vec(), want);
    // criu_resp: type VERSION, success, version { 3, 17, sublevel 1 }, and a field this file
    // does not declare (status, 11... declared; use 99) that must be skipped.
    let resp: &[u8] = &[
        0x08, 0x0a, 0x10, 0x01, 0x52, 0x06, 0x08, 0x03, 0x10, 0x11, 0x20, 0x01, 0x98, 0x06, 0x07,
    ];
    let r = Resp::decode(resp).unwrap();
    assert_eq!(r.r#type, ReqType::Version as i32);
    assert!(r.success);
    assert_eq!(super::version_number(&r.version.unwrap()), 31701);
}

/// protoc, with criu's installed rpc.proto, reads our requests with the fields we meant: the
/// numbers and types of proto.rs are criu's. Skipped where protoc or the proto is missing.
#[test]
fn protoc_reads_our_requests_with_criu_rpc_proto() {
    let Some(text) = protoc("criu_req", &dump().encode_to_vec()) else {
        eprintln!("protoc or {RPC_PROTO} missing: skipped");
        return;
    };
    for want in [
        "type: DUMP",
        "images_dir_fd: 7",
        "pid: 4242",
        "leave_running: true",
        "tcp_established: true",
        "shell_job: true",
        "file_locks: true",
        "log_level: 4",
        "log_file: \"dump.log\"",
        "address: \"10.0.0.1\"",
        "port: 27",
        "notify_scripts: true",
        "root: \"/b/rootfs\"",
        "parent_img: \"../pre\"",
        "track_mem: true",
        "auto_dedup: true",
        "work_dir_fd: 8",
        "key: \"/proc/kcore\"",
        "val: \"/dev/null\"",
        "manage_cgroups: true",
        "manage_cgroups_mode: FULL",
        "external: \"net[4026532000]:extRootNetNS\"",
        "empty_ns: 1073741824",
        "freeze_cgroup: \"/sys/fs/cgroup/freezer/c1\"",
        "orphan_pts_master: true",
        "config_file: \"/etc/criu/runc.conf\"",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let s = spec();
    let restore = restore_request(
        &RestoreFlags {
            lsm_mount_context: Some("ctx".into()),
            ..Default::default()
        },
        &RestoreTarget {
            images_dir_fd: 9,
            work_dir_fd: None,
            root: Path::new("/r"),
            bundle: Path::new("/b"),
            spec: &s,
            cgroups: vec![],
            masked_files: vec![],
            netns_fd: Some(11),
            inherit: vec![],
            cg_roots: vec![(None, "/c1".into())],
        },
    );
    let text = protoc("criu_req", &restore.encode_to_vec()).unwrap();
    for want in [
        "type: RESTORE",
        "rst_sibling: true",
        "evasive_devices: true",
        "inherit_fd {\n    key: \"extRootNetNS\"\n    fd: 11",
        "cg_root {\n    path: \"/c1\"",
        "lsm_mount_context: \"ctx\"",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    // And the other way: a criu_resp protoc encodes from text decodes as meant.
    let bytes = protoc_encode(
        "criu_resp",
        "type: NOTIFY success: true notify { script: \"post-restore\" pid: 99 } cr_errmsg: \"m\"",
    )
    .unwrap();
    let r = Resp::decode(bytes.as_slice()).unwrap();
    assert_eq!(r.r#type, ReqType::Notify as i32);
    let n = r.notify.unwrap();
    assert_eq!(
        (n.script.as_deref(), n.pid),
        (Some("post-restore"), Some(99))
    );
    assert_eq!(r.cr_errmsg.as_deref(), Some("m"));
}

fn protoc_run(arg: &str, input: &[u8]) -> Option<Vec<u8>> {
    if !Path::new(RPC_PROTO).exists() {
        return None;
    }
    let mut child = std::process::Command::new("protoc")
        .arg(arg)
        .arg("--proto_path=/usr/include/criu")
        .arg(RPC_PROTO)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "protoc {arg} failed");
    Some(out.stdout)
}

fn protoc(msg: &str, bytes: &[u8]) -> Option<String> {
    protoc_run(&format!("--decode={msg}"), bytes).map(|b| String::from_utf8(b).unwrap())
}

fn protoc_encode(msg: &str, text: &str) -> Option<Vec<u8>> {
    protoc_run(&format!("--encode={msg}"), text.as_bytes())
}

/// A fake criu on the other end of a socket pair: two notifications (the first acknowledged
/// with success, the handler's failure on the second reported to criu as such), then the
/// answer. Each packet is one whole message.
#[test]
fn the_exchange_acknowledges_notifications_and_ends_with_the_answer() {
    let (ours, theirs) = bulkhead_linux::socket::seqpacket_pair().unwrap();
    let peer = std::thread::spawn(move || {
        let ch = Channel::new(theirs);
        let recv_req = |ch: &Channel| {
            let b = bulkhead_linux::socket::recv(&ch_fd(ch)).unwrap();
            Req::decode(b.as_slice()).unwrap()
        };
        let req = recv_req(&ch);
        assert_eq!(req.r#type, ReqType::Restore as i32);
        assert_eq!(req.opts.as_ref().unwrap().images_dir_fd, 3);
        let notify = |script: &str| Resp {
            r#type: ReqType::Notify as i32,
            success: true,
            notify: Some(Notify {
                script: Some(script.into()),
                pid: Some(77),
            }),
            ..Default::default()
        };
        send_resp(&ch, &notify("setup-namespaces"));
        let ack = recv_req(&ch);
        assert_eq!(ack.r#type, ReqType::Notify as i32);
        assert_eq!(ack.notify_success, Some(true));
        send_resp(&ch, &notify("post-restore"));
        let ack = recv_req(&ch);
        assert_eq!(ack.notify_success, Some(true));
        send_resp(
            &ch,
            &Resp {
                r#type: ReqType::Restore as i32,
                success: true,
                restore: Some(RestoreResp { pid: 77 }),
                ..Default::default()
            },
        );
        // A second exchange: the handler fails; criu hears it and gets no further.
        let _ = recv_req(&ch);
        send_resp(&ch, &notify("network-lock"));
        let ack = recv_req(&ch);
        assert_eq!(ack.notify_success, Some(false));
        // A third: an answer of the wrong type.
        let _ = recv_req(&ch);
        send_resp(
            &ch,
            &Resp {
                r#type: ReqType::Dump as i32,
                success: true,
                ..Default::default()
            },
        );
        // Then criu goes away.
    });
    let ch = Channel::new(ours);
    let req = Req {
        r#type: ReqType::Restore as i32,
        opts: Some(Opts {
            images_dir_fd: 3,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let resp = swrk::exchange(&ch, &req, &mut |n, fds| {
        assert!(fds.is_empty());
        seen.push((n.script.clone().unwrap(), n.pid));
        Ok(())
    })
    .unwrap();
    assert!(resp.success);
    assert_eq!(resp.restore.unwrap().pid, 77);
    assert_eq!(
        seen,
        vec![
            ("setup-namespaces".to_string(), Some(77)),
            ("post-restore".to_string(), Some(77))
        ]
    );
    let e = swrk::exchange(&ch, &req, &mut |_, _| anyhow::bail!("no lock")).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "criu's \"network-lock\" notification: no lock"
    );
    let e = swrk::exchange(&ch, &req, &mut swrk::ignore_notify).unwrap_err();
    assert_eq!(e.to_string(), "criu answered DUMP to RESTORE");
    peer.join().unwrap();
    // criu is gone: the request cannot be sent, or it can and the answer never comes. A
    // process that another test forks at that moment holds a copy of criu's end until its
    // exec closes it, so the send may succeed and the read then finds the connection reset
    // (the copy closed with our request unread).
    let e = swrk::exchange(&ch, &req, &mut swrk::ignore_notify).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("criu closed the connection without answering RESTORE")
            || e.contains("send a request to criu")
            || e.contains("read criu's answer: Connection reset by peer"),
        "{e}"
    );
}

fn ch_fd(ch: &Channel) -> std::os::fd::BorrowedFd<'_> {
    ch.fd()
}

fn send_resp(ch: &Channel, r: &Resp) {
    bulkhead_linux::socket::send(&ch_fd(ch), &r.encode_to_vec()).unwrap();
}

/// A fake `criu` program (python3): answers VERSION, and CHECK by writing an error to the
/// check.log of the images directory it is given (through /proc/PEER/fd/N, as criu reaches
/// it), then failing; it records the fds it was started with in `fds` next to itself.
const FAKE_CRIU: &str = r#"#!/usr/bin/python3
import os, socket, sys
assert sys.argv[1] == "swrk"
fd = int(sys.argv[2])
fds = " ".join(sorted(os.listdir("/proc/self/fd"), key=int))
with open(os.path.join(os.path.dirname(sys.argv[0]), "fds"), "a") as f:
    f.write(fds + " fd=%d\n" % fd)
s = socket.socket(fileno=fd)
req = s.recv(65536)
def varint(b, i):
    n = shift = 0
    while True:
        c = b[i]; i += 1
        n |= (c & 0x7f) << shift; shift += 7
        if c < 0x80: return n, i
if req[:2] == b"\x08\x0a":
    s.send(bytes([0x08, 0x0a, 0x10, 0x01, 0x52, 0x06, 0x08, 0x03, 0x10, 0x11, 0x20, 0x01]))
elif req[:2] == b"\x08\x03":
    assert req[2] == 0x12
    _, i = varint(req, 3)
    assert req[i] == 0x08
    images, _ = varint(req, i + 1)
    peer = os.getppid()
    with open("/proc/%d/fd/%d/check.log" % (peer, images), "w") as f:
        f.write("(00.000100) Error (criu/fake.c:1): fake: no such feature\n")
    s.send(bytes([0x08, 0x03, 0x10, 0x00]))
"#;

#[test]
fn a_fake_criu_swrk_gets_only_its_socket_and_its_check_error_is_reported() {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("no /usr/bin/python3: skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("bulkhead-fake-criu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let criu = dir.join("criu");
    std::fs::write(&criu, FAKE_CRIU).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&criu, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The fake records its fds next to itself.
    let fds_file = dir.join("fds");
    // An fd of ours without close-on-exec (as a caller may hand one) must not reach criu.
    let held = std::fs::File::open("/dev/null").unwrap();
    bulkhead_linux::fd::set_cloexec(std::os::fd::AsRawFd::as_raw_fd(&held), false).unwrap();
    let e = super::usable(Some(criu.to_str().unwrap()), &Features::default())
        .err()
        .expect("the fake criu's CHECK fails");
    assert_eq!(format!("{e:#}"), "criu check failed: fake: no such feature");
    let fds = std::fs::read_to_string(&fds_file).unwrap();
    let lines: Vec<&str> = fds.lines().collect();
    assert_eq!(lines.len(), 2, "{fds}");
    for l in lines {
        // 0, 1, 2, the socket, and the one listdir itself opened.
        let (list, sock) = l.split_once(" fd=").unwrap();
        let list: Vec<&str> = list.split(' ').collect();
        assert_eq!(list.len(), 5, "criu inherited more than its socket: {l}");
        assert!(
            list.starts_with(&["0", "1", "2"]) && list.contains(&sock),
            "{l}"
        );
    }
    // No criu at all, by path and by name.
    let e = super::usable(Some("/nonexistent/criu"), &Features::default())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("/nonexistent/criu"));
    let e = super::usable(Some("no-such-criu-here"), &Features::default())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("no \"no-such-criu-here\" binary in PATH"));
    let _ = std::fs::remove_dir_all(&dir);
}
