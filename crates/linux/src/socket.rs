//! Unix sockets: the parent/child sync channel and fd passing (SCM_RIGHTS).

use crate::cvt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A connected pair of SOCK_SEQPACKET sockets (message boundaries kept), both close-on-exec.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two fds socketpair writes; both are fresh and owned here.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one message.
pub fn send(sock: &impl AsRawFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: pointer and length describe `msg`.
    cvt(unsafe {
        libc::send(
            sock.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            libc::MSG_NOSIGNAL,
        )
    })?;
    Ok(())
}

/// Receives one message (at most 64 KiB); an empty result means the peer closed.
pub fn recv(sock: &impl AsRawFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: pointer and length describe `buf`.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        buf.truncate(n as usize);
        return Ok(buf);
    }
}

/// Sends `fd` over a unix socket with `data` as the message body, as runc does for the console
/// (the body is the terminal's name).
pub fn send_fd(sock: &impl AsRawFd, data: &[u8], fd: RawFd) -> io::Result<()> {
    send_fds(sock, data, &[fd]).map(|_| ())
}

/// Sends `fds` (SCM_RIGHTS) with `data` as the message body; returns how much of the body
/// went (a stream socket may take part of it; the rest is the caller's to write).
pub fn send_fds(sock: &impl AsRawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(bytes) } as usize;
    let mut cbuf = vec![0u8; space];
    let body: &[u8] = if data.is_empty() { b"\0" } else { data };
    let mut iov = libc::iovec {
        iov_base: body.as_ptr() as *mut _,
        iov_len: body.len(),
    };
    // SAFETY: msghdr is plain data; every pointer in it refers to `iov` and `cbuf`, which live
    // for the call, and the control buffer has CMSG_SPACE room for the fds.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(bytes) as usize;
        let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
        for (i, fd) in fds.iter().enumerate() {
            std::ptr::write_unaligned(data.add(i), *fd);
        }
        let n = cvt(libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL))?;
        Ok(n as usize)
    }
}

/// Receives one fd sent with `send_fd`; returns it with the message body.
pub fn recv_fd(sock: &impl AsRawFd) -> io::Result<(OwnedFd, Vec<u8>)> {
    let mut body = vec![0u8; 4096];
    let (mut fds, n) = recv_fds(sock, &mut body, 1)?;
    body.truncate(n);
    match fds.pop() {
        Some(fd) => Ok((fd, body)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no fd in message",
        )),
    }
}

/// Receives into `body` with up to `max_fds` fds (SCM_RIGHTS, close-on-exec): (the fds, the
/// bytes received; 0 when the peer closed).
pub fn recv_fds(
    sock: &impl AsRawFd,
    body: &mut [u8],
    max_fds: usize,
) -> io::Result<(Vec<OwnedFd>, usize)> {
    let bytes = (max_fds * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(bytes) } as usize;
    let mut cbuf = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: body.as_mut_ptr().cast(),
        iov_len: body.len(),
    };
    // SAFETY: as in send_fds; the kernel writes at most the lengths given. Received fds are
    // fresh and owned by nobody else; a message with more fds than room has them dropped by
    // the kernel (MSG_CTRUNC), never written past the buffer.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let n = cvt(libc::recvmsg(
            sock.as_raw_fd(),
            &mut msg,
            libc::MSG_CMSG_CLOEXEC,
        ))?;
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let len = (*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((fds, n as usize))
    }
}

/// Accepts one connection on a listening socket without waiting (EAGAIN when none waits); the
/// new socket is non-blocking and close-on-exec.
pub fn accept_nonblocking(listener: &impl AsRawFd) -> io::Result<OwnedFd> {
    // SAFETY: no address is asked for (null pointers); the fd returned is fresh and ours.
    let fd = cvt(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: accept4 returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Brings the loopback interface of the caller's network namespace up (IFF_UP), as a new
/// network namespace needs before anything can talk to 127.0.0.1: SIOCGIFFLAGS and
/// SIOCSIFFLAGS on a datagram socket. Needs CAP_NET_ADMIN over the namespace.
pub fn set_loopback_up() -> io::Result<()> {
    // SAFETY: a fresh socket, owned at once.
    let sock = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))?)
    };
    // SAFETY: ifreq is plain data; all zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming the interface; the kernel fills ifru_flags.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS has just set the flags member of the union.
    unsafe {
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: as above; the kernel only reads `req`.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })?;
    Ok(())
}
