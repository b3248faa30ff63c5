/* Unix domain sockets, for the sandbox class against the container class (check.h's
 * conventions: `name=value` lines, a FAIL line for a value that is not Linux's).
 *
 *   unixsock stream     socketpair and path sockets: send/recv, EOF, EPIPE and SIGPIPE,
 *                       MSG_NOSIGNAL, shutdown, MSG_PEEK, MSG_WAITALL, FIONREAD, a large
 *                       transfer between processes, listen/accept/connect and their errors,
 *                       names (paths, abstract, autobind), poll readiness, accept4 flags
 *   unixsock dgram      datagrams: sendto/recvfrom with names, truncation (MSG_TRUNC),
 *                       connected sockets, ECONNREFUSED, seqpacket record boundaries
 *   unixsock bad        bad arguments to every socket call: the same errno as the kernel
 *   unixsock control    SCM_RIGHTS (a pipe passed and used, MSG_CTRUNC), SCM_CREDENTIALS with
 *                       SO_PASSCRED, SO_PEERCRED, options and their errors
 *
 * Needs a writable /tmp. Exits 1 if anything failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path + 1, name);
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static const char *revents(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
    char *b = scratch();
    if (poll(&p, 1, 0) < 0) {
        snprintf(b, 48, "error");
        return b;
    }
    snprintf(b, 48, "%s%s%s%s", p.revents & POLLIN ? "IN" : "", p.revents & POLLOUT ? "OUT" : "",
             p.revents & POLLHUP ? "HUP" : "", p.revents & POLLRDHUP ? "RDHUP" : "");
    return b;
}

static volatile sig_atomic_t sigpipes;
static void on_pipe(int s) {
    (void)s;
    sigpipes++;
}

static void stream_pair(void) {
    int sv[2];
    char buf[64];
    SHOW_RET("pair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, 0);
    show("pair_ready_empty", revents(sv[1]), "OUT");
    SHOW_RET("pair_send", send(sv[0], "hello", 5, 0), 5, 0);
    SHOW_RET("pair_send2", write(sv[0], "world", 5), 5, 0);
    int n = 0;
    ioctl(sv[1], FIONREAD, &n);
    show_int("pair_fionread", n, 10);
    show("pair_ready_data", revents(sv[1]), "INOUT");
    SHOW_RET("pair_peek", recv(sv[1], buf, 3, MSG_PEEK), 3, 0);
    SHOW_RET("pair_recv_joined", recv(sv[1], buf, sizeof buf, 0), 10, 0);
    SHOW_RET("pair_nothing", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), -1, EAGAIN);
    /* SO_RCVTIMEO: a blocking receive gives up after the time with EAGAIN. */
    struct timeval tv = {0, 100000}, got_tv;
    socklen_t tvl = sizeof got_tv;
    SHOW_RET("rcvtimeo_set", setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0, 0);
    getsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &got_tv, &tvl);
    show_int("rcvtimeo_read_back", got_tv.tv_usec, 100000);
    SHOW_RET("rcvtimeo_expires", recv(sv[1], buf, sizeof buf, 0), -1, EAGAIN);
    struct timeval bad = {0, 2000000};
    SHOW_RET("rcvtimeo_bad_usec", setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad),
             -1, EDOM);
    struct timeval none = {0, 0};
    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    SHOW_RET("pair_shut_wr", shutdown(sv[0], SHUT_WR), 0, 0);
    SHOW_RET("pair_eof_after_shut", recv(sv[1], buf, sizeof buf, 0), 0, 0);
    show("pair_ready_after_shut", revents(sv[1]), "INOUTRDHUP");
    SHOW_RET("pair_send_after_shut", send(sv[0], "x", 1, MSG_NOSIGNAL), -1, EPIPE);
    SHOW_RET("pair_reverse_still", send(sv[1], "back", 4, 0), 4, 0);
    SHOW_RET("pair_reverse_recv", recv(sv[0], buf, sizeof buf, 0), 4, 0);
    SHOW_RET("pair_shut_bad", shutdown(sv[0], 7), -1, EINVAL);
    close(sv[1]);
    show("pair_ready_peer_gone", revents(sv[0]), "INOUTHUPRDHUP");
    set_handler(SIGPIPE, on_pipe, 0);
    sigpipes = 0;
    SHOW_RET("pair_send_peer_gone", send(sv[0], "x", 1, 0), -1, EPIPE);
    show_int("pair_sigpipe", sigpipes, 1);
    SHOW_RET("pair_send_nosignal", send(sv[0], "x", 1, MSG_NOSIGNAL), -1, EPIPE);
    show_int("pair_no_second_sigpipe", sigpipes, 1);
    signal(SIGPIPE, SIG_DFL);
    close(sv[0]);
    struct stat st;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fstat(sv[0], &st);
    show("pair_fstat_sock", S_ISSOCK(st.st_mode) ? "sock" : "other", "sock");
    int p[2];
    pipe(p);
    SHOW_RET("notsock_send", send(p[1], "x", 1, 0), -1, ENOTSOCK);
    SHOW_RET("notsock_shutdown", shutdown(p[0], SHUT_RD), -1, ENOTSOCK);
    close(p[0]);
    close(p[1]);
    /* MSG_WAITALL gathers two writes made apart. */
    pid_t c = xfork();
    if (c == 0) {
        write(sv[1], "abc", 3);
        usleep(50000);
        write(sv[1], "defg", 4);
        _exit(0);
    }
    SHOW_RET("waitall", recv(sv[0], buf, 7, MSG_WAITALL), 7, 0);
    show("waitall_reap", reap_ms(c, 2000, "waitall"), "exited 0");
    close(sv[0]);
    close(sv[1]);
}

/* 1 MiB through a stream socket between processes (the sender waits for room). */
static void stream_transfer(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t c = xfork();
    if (c == 0) {
        close(sv[0]);
        static char big[1 << 20];
        memset(big, 'z', sizeof big);
        _exit(send(sv[1], big, sizeof big, 0) == sizeof big ? 0 : 1);
    }
    close(sv[1]);
    long total = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(sv[0], buf, sizeof buf)) > 0)
        total += n;
    show_int("transfer_total", total, 1 << 20);
    show("transfer_reap", reap_ms(c, 5000, "transfer"), "exited 0");
    close(sv[0]);
}

#define SOCKPATH "/tmp/unixsock-test.sock"

static void stream_server(void) {
    struct sockaddr_un a, got;
    socklen_t len = path_addr(&a, SOCKPATH), glen;
    char buf[64];
    unlink(SOCKPATH);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("connect_missing", connect(s, (struct sockaddr *)&a, len), -1, ENOENT);
    SHOW_RET("listen_unbound", listen(s, 5), -1, EINVAL);
    SHOW_RET("accept_not_listening", accept(s, NULL, NULL), -1, EINVAL);
    int d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    SHOW_RET("accept_datagram", accept(d, NULL, NULL), -1, EOPNOTSUPP);
    close(d);
    d = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    SHOW_RET("accept_udp", accept(d, NULL, NULL), -1, EOPNOTSUPP);
    close(d);
    SHOW_RET("bind_path", bind(s, (struct sockaddr *)&a, len), 0, 0);
    /* The name exists already: that is found first. */
    SHOW_RET("bind_again", bind(s, (struct sockaddr *)&a, len), -1, EADDRINUSE);
    struct sockaddr_un other;
    socklen_t olen = path_addr(&other, SOCKPATH "2");
    unlink(SOCKPATH "2");
    SHOW_RET("bind_bound_elsewhere", bind(s, (struct sockaddr *)&other, olen), -1, EINVAL);
    SHOW_RET("bind_bound_left_no_name", access(SOCKPATH "2", F_OK), -1, ENOENT);
    struct stat st;
    stat(SOCKPATH, &st);
    show("bind_made_socket_inode", S_ISSOCK(st.st_mode) ? "sock" : "other", "sock");
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("bind_in_use", bind(s2, (struct sockaddr *)&a, len), -1, EADDRINUSE);
    int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("connect_not_listening", connect(c0, (struct sockaddr *)&a, len), -1, ECONNREFUSED);
    close(c0);
    SHOW_RET("listen", listen(s, 5), 0, 0);
    glen = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &glen);
    show("getsockname_path", got.sun_path, SOCKPATH);
    show_int("getsockname_len", glen, len);
    fcntl(s, F_SETFL, O_NONBLOCK);
    SHOW_RET("accept_none_nonblock", accept(s, NULL, NULL), -1, EAGAIN);
    show("listener_ready_idle", revents(s), "");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("connect", connect(c, (struct sockaddr *)&a, len), 0, 0);
    SHOW_RET("connect_again", connect(c, (struct sockaddr *)&a, len), -1, EISCONN);
    show("listener_ready_pending", revents(s), "IN");
    glen = sizeof got;
    int x = accept4(s, (struct sockaddr *)&got, &glen, SOCK_CLOEXEC | SOCK_NONBLOCK);
    show("accept4", x >= 0 ? "ok" : errname(errno), "ok");
    show_int("accept_peer_unnamed_len", glen, sizeof(sa_family_t));
    show_int("accept4_cloexec", fcntl(x, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    show_int("accept4_nonblock", !!(fcntl(x, F_GETFL) & O_NONBLOCK), 1);
    glen = sizeof got;
    getsockname(x, (struct sockaddr *)&got, &glen);
    show("accepted_name", got.sun_path, SOCKPATH);
    glen = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &glen);
    show("client_peername", got.sun_path, SOCKPATH);
    SHOW_RET("accept_bad_flags", accept4(s, NULL, NULL, 0x1), -1, EINVAL);
    SHOW_RET("client_send", send(c, "ping", 4, 0), 4, 0);
    SHOW_RET("server_recv", recv(x, buf, sizeof buf, 0), 4, 0);
    int un = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("send_unconnected", send(un, "x", 1, MSG_NOSIGNAL), -1, ENOTCONN);
    SHOW_RET("getpeername_unconnected", getpeername(un, (struct sockaddr *)&got, &glen), -1,
             ENOTCONN);
    SHOW_RET("listen_dgram", listen(socket(AF_UNIX, SOCK_DGRAM, 0), 1), -1, EOPNOTSUPP);
    close(un);
    close(x);
    close(c);
    close(s);
    close(s2);
    /* The name stays in the file system, and nobody listens on it now. */
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("connect_closed_listener", connect(c, (struct sockaddr *)&a, len), -1,
             ECONNREFUSED);
    close(c);
    unlink(SOCKPATH);
    /* Abstract names and autobind. */
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    len = abstract_addr(&a, "unixsock-abstract");
    SHOW_RET("bind_abstract", bind(s, (struct sockaddr *)&a, len), 0, 0);
    listen(s, 1);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("connect_abstract", connect(c, (struct sockaddr *)&a, len), 0, 0);
    s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW_RET("bind_abstract_in_use", bind(s2, (struct sockaddr *)&a, len), -1, EADDRINUSE);
    int auto_s = socket(AF_UNIX, SOCK_STREAM, 0);
    sa_family_t fam = AF_UNIX;
    SHOW_RET("autobind", bind(auto_s, (struct sockaddr *)&fam, sizeof fam), 0, 0);
    glen = sizeof got;
    getsockname(auto_s, (struct sockaddr *)&got, &glen);
    show_int("autobind_len", glen, sizeof(sa_family_t) + 6);
    SHOW_RET("bind_short_len", bind(s2, (struct sockaddr *)&a, 1), -1, EINVAL);
    a.sun_family = AF_INET;
    SHOW_RET("bind_wrong_family", bind(s2, (struct sockaddr *)&a, len), -1, EINVAL);
    close(auto_s);
    close(s2);
    close(c);
    close(s);
}

static void dgram(void) {
    struct sockaddr_un a, b, from;
    socklen_t la = abstract_addr(&a, "unixsock-dgram-a"), lb = abstract_addr(&b, "unixsock-dgram-b");
    socklen_t fl;
    char buf[64];
    int da = socket(AF_UNIX, SOCK_DGRAM, 0), db = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(da, (struct sockaddr *)&a, la);
    bind(db, (struct sockaddr *)&b, lb);
    SHOW_RET("dgram_sendto", sendto(db, "datagram", 8, 0, (struct sockaddr *)&a, la), 8, 0);
    SHOW_RET("dgram_sendto2", sendto(db, "second", 6, 0, (struct sockaddr *)&a, la), 6, 0);
    fl = sizeof from;
    SHOW_RET("dgram_recvfrom_trunc", recvfrom(da, buf, 4, 0, (struct sockaddr *)&from, &fl), 4, 0);
    show("dgram_from", from.sun_path + 1, "unixsock-dgram-b");
    show_int("dgram_from_len", fl, lb);
    SHOW_RET("dgram_msg_trunc_len", recv(da, buf, 2, MSG_TRUNC), 6, 0);
    int anon = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(anon, "anon", 4, 0, (struct sockaddr *)&a, la);
    fl = sizeof from;
    SHOW_RET("dgram_recv_anon", recvfrom(da, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl),
             4, 0);
    show_int("dgram_anon_from_len", fl, 0);
    struct sockaddr_un nobody;
    socklen_t ln = abstract_addr(&nobody, "unixsock-nobody");
    SHOW_RET("dgram_to_nobody", sendto(anon, "x", 1, 0, (struct sockaddr *)&nobody, ln), -1,
             ECONNREFUSED);
    SHOW_RET("dgram_send_unconnected", send(anon, "x", 1, 0), -1, ENOTCONN);
    SHOW_RET("dgram_connect", connect(da, (struct sockaddr *)&b, lb), 0, 0);
    SHOW_RET("dgram_send_connected", send(da, "to-b", 4, 0), 4, 0);
    SHOW_RET("dgram_recv_connected", recv(db, buf, sizeof buf, 0), 4, 0);
    SHOW_RET("dgram_third_party", sendto(anon, "x", 1, 0, (struct sockaddr *)&a, la), -1, EPERM);
    SHOW_RET("dgram_empty", recv(db, buf, sizeof buf, MSG_DONTWAIT), -1, EAGAIN);
    SHOW_RET("dgram_zero_len", sendto(db, "", 0, 0, (struct sockaddr *)&a, la), 0, 0);
    SHOW_RET("dgram_recv_zero", recv(da, buf, sizeof buf, 0), 0, 0);
    close(anon);
    close(da);
    close(db);
    int sp[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
    send(sp[0], "one", 3, 0);
    send(sp[0], "three", 5, 0);
    SHOW_RET("seqpacket_first", recv(sp[1], buf, sizeof buf, 0), 3, 0);
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    SHOW_RET("seqpacket_trunc", recvmsg(sp[1], &m, 0), 2, 0);
    show_int("seqpacket_trunc_flag", !!(m.msg_flags & MSG_TRUNC), 1);
    close(sp[0]);
    SHOW_RET("seqpacket_eof", recv(sp[1], buf, sizeof buf, 0), 0, 0);
    close(sp[1]);
    SHOW_RET("socket_bad_type", socket(AF_UNIX, 77, 0), -1, EINVAL);
    /* Linux takes SOCK_RAW as SOCK_DGRAM for unix sockets. */
    int raw = socket(AF_UNIX, SOCK_RAW, 0);
    int rt = -1;
    socklen_t rl = sizeof rt;
    getsockopt(raw, SOL_SOCKET, SO_TYPE, &rt, &rl);
    show_int("socket_raw_is_dgram", rt, SOCK_DGRAM);
    close(raw);
    SHOW_RET("socket_rdm", socket(AF_UNIX, SOCK_RDM, 0), -1, ESOCKTNOSUPPORT);
    SHOW_RET("socket_bad_proto", socket(AF_UNIX, SOCK_STREAM, 9), -1, EPROTONOSUPPORT);
}

static void control(void) {
    int sv[2], p[2];
    char buf[64];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    /* Pass the pipe's write end; the receiver writes through it. */
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 2) + CMSG_SPACE(sizeof(struct ucred))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {"F", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                       .msg_controllen = CMSG_SPACE(sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    SHOW_RET("rights_send", sendmsg(sv[0], &m, 0), 1, 0);
    memset(&u, 0, sizeof u);
    struct iovec riov = {buf, sizeof buf};
    struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = u.b,
                       .msg_controllen = sizeof u.b};
    SHOW_RET("rights_recv", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC), 1, 0);
    c = CMSG_FIRSTHDR(&r);
    int got = -1;
    if (c && c->cmsg_type == SCM_RIGHTS)
        memcpy(&got, CMSG_DATA(c), sizeof got);
    show("rights_got_fd", got >= 0 ? "yes" : "no", "yes");
    show_int("rights_cloexec", fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    SHOW_RET("rights_write_through", write(got, "via", 3), 3, 0);
    SHOW_RET("rights_read_back", read(p[0], buf, sizeof buf), 3, 0);
    close(got);
    /* No room for the descriptor: MSG_CTRUNC, and it is not installed. */
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    memset(u.b, 0, sizeof u.b);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    sendmsg(sv[0], &m, 0);
    r.msg_control = NULL;
    r.msg_controllen = 0;
    SHOW_RET("rights_no_room", recvmsg(sv[1], &r, 0), 1, 0);
    show_int("rights_ctrunc", !!(r.msg_flags & MSG_CTRUNC), 1);
    /* A bad descriptor in SCM_RIGHTS. */
    m.msg_control = u.b;
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int bad = 999;
    memcpy(CMSG_DATA(c), &bad, sizeof bad);
    SHOW_RET("rights_bad_fd", sendmsg(sv[0], &m, 0), -1, EBADF);
    /* SO_PASSCRED: each message comes with the sender's pid and ids. */
    int on = 1;
    SHOW_RET("passcred", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0, 0);
    send(sv[0], "C", 1, 0);
    memset(u.b, 0, sizeof u.b);
    r.msg_control = u.b;
    r.msg_controllen = sizeof u.b;
    SHOW_RET("creds_recv", recvmsg(sv[1], &r, 0), 1, 0);
    c = CMSG_FIRSTHDR(&r);
    struct ucred uc = {0, 1, 1};
    if (c && c->cmsg_type == SCM_CREDENTIALS)
        memcpy(&uc, CMSG_DATA(c), sizeof uc);
    show_int("creds_pid_is_sender", uc.pid == getpid(), 1);
    show_int("creds_uid", uc.uid, getuid());
    /* Claiming another pid without the capability to. */
    m.msg_controllen = CMSG_SPACE(sizeof(struct ucred));
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred fake = {getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(c), &fake, sizeof fake);
    SHOW_RET("creds_own_explicit", sendmsg(sv[0], &m, 0), 1, 0);
    recv(sv[1], buf, sizeof buf, 0);
    struct ucred pc;
    socklen_t pl = sizeof pc;
    SHOW_RET("peercred", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &pl), 0, 0);
    show_int("peercred_pid", pc.pid == getpid(), 1);
    show_int("peercred_len", pl, sizeof pc);
    int v;
    socklen_t vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl);
    show_int("so_type", v, SOCK_STREAM);
    vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &vl);
    show_int("so_error", v, 0);
    vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    show_int("so_acceptconn", v, 0);
    SHOW_RET("sockopt_unknown", getsockopt(sv[0], SOL_SOCKET, 9999, &v, &vl), -1, ENOPROTOOPT);
    SHOW_RET("sockopt_short", setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, 2), -1, EINVAL);
    int size = 65536;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl);
    show_int("sndbuf_doubled", v, 2 * size);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* A call's result, printed without a wanted value: the sandbox must print what the
 * container class (the real kernel) printed. */
#define PROBE(name, call)                                                                  \
    do {                                                                                   \
        errno = 0;                                                                         \
        long r_ = (long)(call);                                                            \
        printf("%s=%s\n", name, ret_str(r_, errno));                                       \
    } while (0)

/* Bad arguments to every socket call: Linux's errno, never a sentry failure. */
static int t_bad(void) {
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, "/tmp/unixsock-bad.sock"), l = sizeof a;
    int s = socket(AF_UNIX, SOCK_STREAM, 0), v = 0, sv[2];
    void *bad = (void *)8;
    char buf[64];
    PROBE("bind_null", bind(s, NULL, 20));
    PROBE("bind_bad_pointer", bind(s, bad, 20));
    PROBE("bind_huge_len", bind(s, (struct sockaddr *)&a, 4096));
    PROBE("connect_null_zero", connect(s, NULL, 0));
    PROBE("connect_bad_pointer", connect(s, bad, len));
    PROBE("accept_bad_pointers", accept(s, bad, bad));
    PROBE("getsockname_null", getsockname(s, NULL, NULL));
    PROBE("getsockname_bad_len", getsockname(s, (struct sockaddr *)&a, bad));
    PROBE("getpeername_bad", getpeername(s, bad, &l));
    PROBE("send_bad_buffer", send(s, bad, 10, MSG_NOSIGNAL));
    PROBE("sendmsg_null", sendmsg(s, NULL, MSG_NOSIGNAL));
    PROBE("recvmsg_bad", recvmsg(s, bad, MSG_DONTWAIT));
    PROBE("recv_bad_buffer", recv(s, bad, 10, MSG_DONTWAIT));
    PROBE("setsockopt_null", setsockopt(s, SOL_SOCKET, SO_RCVBUF, NULL, 4));
    PROBE("getsockopt_null_len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, NULL));
    PROBE("getsockopt_bad_value", getsockopt(s, SOL_SOCKET, SO_TYPE, bad, &l));
    PROBE("setsockopt_bad_level", setsockopt(s, 9999, 1, &v, sizeof v));
    PROBE("socketpair_null", socketpair(AF_UNIX, SOCK_STREAM, 0, NULL));
    PROBE("socketpair_bad", socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)bad));
    PROBE("shutdown_bad_fd", shutdown(-1, SHUT_RDWR));
    PROBE("shutdown_closed_fd", shutdown(999, SHUT_RDWR));
    PROBE("socket_bad_family", socket(-1, SOCK_STREAM, 0));
    PROBE("socket_bad_type", socket(AF_UNIX, -1, 0));
    PROBE("sendmmsg_null", syscall(SYS_sendmmsg, s, NULL, 5, MSG_NOSIGNAL));
    PROBE("recvmmsg_null", syscall(SYS_recvmmsg, s, NULL, 5, MSG_DONTWAIT, NULL));
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0) {
        struct iovec iov = {buf, 1};
        char cb[64];
        memset(cb, 0, sizeof cb);
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
                           .msg_controllen = sizeof cb};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = 4096;
        PROBE("cmsg_len_past_buffer", sendmsg(sv[0], &m, 0));
        c->cmsg_len = 8;
        PROBE("cmsg_len_short", sendmsg(sv[0], &m, 0));
        c->cmsg_len = CMSG_LEN(4);
        c->cmsg_type = 77;
        PROBE("cmsg_unknown_type", sendmsg(sv[0], &m, 0));
        m.msg_control = bad;
        PROBE("cmsg_bad_pointer", sendmsg(sv[0], &m, 0));
        m.msg_control = NULL;
        m.msg_iov = bad;
        PROBE("iov_bad_pointer", sendmsg(sv[0], &m, 0));
        m.msg_iov = &iov;
        m.msg_iovlen = 2000;
        PROBE("iovlen_too_many", sendmsg(sv[0], &m, 0));
        close(sv[0]);
        close(sv[1]);
    }
    int in = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    PROBE("inet_bind_short", bind(in, (struct sockaddr *)&sin, 8));
    sin.sin_family = AF_INET6;
    PROBE("inet_bind_wrong_family", bind(in, (struct sockaddr *)&sin, sizeof sin));
    PROBE("inet_connect_short", connect(in, (struct sockaddr *)&sin, 4));
    fcntl(in, F_SETFL, O_NONBLOCK);
    PROBE("inet_listen_then_accept_bad", (listen(in, 1), accept(in, bad, bad)));
    close(in);
    int nl = socket(AF_NETLINK, SOCK_RAW, 0);
    uint32_t junk[4] = {8, 0x12345678, 0, 0};
    PROBE("netlink_short_message", send(nl, junk, sizeof junk, 0));
    PROBE("netlink_nothing_back", recv(nl, buf, sizeof buf, MSG_DONTWAIT));
    close(nl);
    close(s);
    return 0;
}

static int t_stream(void) {
    stream_pair();
    stream_transfer();
    stream_server();
    return 0;
}

static int t_dgram(void) {
    dgram();
    return 0;
}

static int t_control(void) {
    control();
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: unixsock stream|dgram|control|bad\n");
        return 2;
    }
    static const struct area areas[] = {
        {"stream", t_stream},
        {"dgram", t_dgram},
        {"control", t_control},
        {"bad", t_bad},
    };
    return run_area("unixsock", argv[1], areas, sizeof areas / sizeof *areas, NULL);
}
