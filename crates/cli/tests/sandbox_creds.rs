//! Credentials in the sandbox class: user and group ids, supplementary groups, the five
//! capability sets and their rules (capset, the bounding and ambient sets, the effect of uid
//! changes, keepcaps, no_new_privs), what execve does to them and the file permissions they
//! give, as tests/programs/creds.c checks them. Each area runs first in the container class,
//! where the C program must pass (it is checked against the real kernel), then in the sandbox,
//! which must give the same exit code and the same output.

mod common;
use common::*;
use serde_json::json;

/// Runs `creds <area>` in both classes as root with podman's default capabilities, additional
/// gids 10 and 20, and no_new_privs off (what creds.c expects).
fn area(name: &str) {
    let mut b = Bundle::new(&["true"]);
    programs::build_static(&b, "creds");
    b.set("/process/capabilities", podman_caps());
    b.set(
        "/process/user",
        json!({"uid": 0, "gid": 0, "additionalGids": [10, 20]}),
    );
    b.set("/process/noNewPrivileges", json!(false));
    b.set("/root/readonly", json!(false));
    programs::area_in_both_classes(&mut b, "creds", name, |_| true);
}

#[test]
fn user_and_group_ids() {
    area("ids");
}

#[test]
fn supplementary_groups() {
    area("groups");
}

#[test]
fn capabilities() {
    area("caps");
}

/// File permissions by the application's credentials, which the sentry checks itself: a root
/// application's CAP_DAC_OVERRIDE reads another user's 0600 file (the sentry holds it in its
/// own user namespace), a uid 1000 one is refused root's files.
#[test]
fn file_permissions() {
    area("perms");
}

#[test]
fn credentials_across_exec() {
    area("exec");
}

/// Extended attributes (user.* on the rootfs's file system, which the sentry reaches through
/// the host's *xattrat calls on the file's directory fd) with Linux's rules and errors.
#[test]
fn extended_attributes() {
    area("xattr");
}
