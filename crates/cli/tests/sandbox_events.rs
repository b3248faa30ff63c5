//! Waiting for events in the sandbox class: epoll, eventfd, timerfd, signalfd, inotify and
//! ppoll's signal mask, as tests/programs/events.c checks them. Each area runs first in the
//! container class, where the C program must pass (it is checked against the real kernel),
//! then in the sandbox, which must give the same exit code and the same output.

mod common;
use common::*;

/// Runs `events <area>` in both classes (events.c built static as /bin/events).
fn area(name: &str) {
    let mut b = Bundle::new(&["true"]);
    programs::build_static(&b, "events");
    programs::area_in_both_classes(&mut b, "events", name, |_| true);
}

#[test]
fn epoll() {
    area("epoll");
}

#[test]
fn eventfd() {
    area("eventfd");
}

#[test]
fn timerfd() {
    area("timerfd");
}

#[test]
fn ppoll_signal_mask() {
    area("ppoll");
}

#[test]
fn signalfd() {
    area("signalfd");
}

/// inotify on a directory and a file of /tmp (a writable rootfs).
#[test]
fn inotify() {
    let mut b = Bundle::new(&["true"]);
    b.set("/root/readonly", serde_json::json!(false));
    programs::build_static(&b, "events");
    programs::area_in_both_classes(&mut b, "events", "inotify", |_| true);
}
