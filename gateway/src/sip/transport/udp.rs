//! UDP: one datagram, one message (§18.3); the body is the rest of the datagram.
//!
//! Datagrams are taken off the socket in batches (`recvmmsg`) and sent in batches
//! (`sendmmsg`): when several messages wait, one system call moves them all. The owner of
//! the endpoint reads the socket in its own loop ([`UdpReceiver`]), or a task does it for
//! owners that want every event on one channel ([`receive_loop`]).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{stamp_via, Incoming, Malformed, Protocol, Target, TransportEvent};
use crate::sip::SipMessage;

/// Datagrams taken or sent per system call at most.
pub const BATCH: usize = 16;
/// Room for one datagram: the largest UDP payload fits (RFC 768 length field).
const SLOT: usize = 65_535;

/// Receive buffer asked for on a SIP UDP socket. The kernel's default (`rmem_default`,
/// 208 KiB) holds only a few hundred datagrams; when the signalling task stalls for a
/// tenth of a second at a thousand calls per second, arrivals overflow it and the kernel
/// drops them. A lost INVITE is retransmitted by its client, but a lost ACK and BYE of the
/// same call leave it up until the 2xx retransmissions give up (64*T1, RFC 3261
/// §13.3.1.4), and meanwhile a UAC that does not check CSeq (SIPp) takes a retransmitted
/// 2xx to INVITE for the BYE's answer. 4 MiB holds a few thousand datagrams.
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// Ask for [`RECEIVE_BUFFER`] on `sock`: with `SO_RCVBUFFORCE` where we may (root or
/// `CAP_NET_ADMIN`; above `net.core.rmem_max`), `SO_RCVBUF` otherwise (the kernel caps it at
/// `rmem_max`). Returns what the socket has now, as `SO_RCVBUF` reports it (the kernel
/// doubles the figure asked for, for its own bookkeeping), and whether the full size was
/// granted.
pub fn enlarge_receive_buffer(sock: &impl AsRawFd) -> io::Result<(usize, bool)> {
    let fd = sock.as_raw_fd();
    let want = RECEIVE_BUFFER as libc::c_int;
    let set = |opt: libc::c_int| {
        // SAFETY: fd is an open socket; the option value is a c_int that outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&want as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    if set(libc::SO_RCVBUFFORCE).is_err() {
        set(libc::SO_RCVBUF)?;
    }
    let got = receive_buffer(sock)?;
    Ok((got, got >= 2 * RECEIVE_BUFFER))
}

/// The socket's receive buffer as `SO_RCVBUF` reports it.
pub fn receive_buffer(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut got: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the descriptor is an open socket; got and len are valid for writes of their
    // sizes.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got.max(0) as usize)
}

/// Takes datagrams off a UDP socket for the loop that owns the endpoint.
pub struct UdpReceiver {
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    /// `BATCH` slots of `SLOT` octets, written by the kernel.
    slab: Box<[u8]>,
    /// Length and source of each datagram of the last batch.
    got: [(usize, SocketAddr); BATCH],
}

impl std::fmt::Debug for UdpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpReceiver")
            .field("local", &self.local)
            .finish()
    }
}

impl UdpReceiver {
    pub(super) fn new(sock: Arc<UdpSocket>, local: SocketAddr) -> Self {
        UdpReceiver {
            sock,
            local,
            slab: vec![0u8; BATCH * SLOT].into_boxed_slice(),
            got: [(0, SocketAddr::from(([0, 0, 0, 0], 0))); BATCH],
        }
    }

    /// Wait until datagrams are queued, then take every one queued (in batches of
    /// [`BATCH`]) and append them to `out` as transport events.
    pub async fn recv(&mut self, out: &mut Vec<TransportEvent>) {
        std::future::poll_fn(|cx| self.poll_recv(cx, out)).await
    }

    /// [`UdpReceiver::recv`] as a poll: ready once datagrams were appended to `out`;
    /// pending (woken when the socket becomes readable) while nothing is queued.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, out: &mut Vec<TransportEvent>) -> Poll<()> {
        loop {
            match self.sock.poll_recv_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    warn!(error = %e, "udp readiness");
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Pending,
            }
            let fd = self.sock.as_raw_fd();
            let (mut n, mut kept) = (0, 0);
            let slab = &mut self.slab;
            let got = &mut self.got;
            let r = self.sock.try_io(Interest::READABLE, || {
                (n, kept) = recv_batch(fd, slab, got)?;
                if n < BATCH {
                    // The queue was empty when the call returned: readiness may be cleared
                    // now, since any later datagram raises a new edge (epoll is edge
                    // triggered under tokio). That spares the call that would only say
                    // EAGAIN.
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(())
            });
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // ICMP port unreachable shows up here on Linux; it is not fatal.
                Err(e) => debug!(error = %e, "udp receive"),
            }
            for i in 0..kept {
                let (len, from) = self.got[i];
                let data = &self.slab[i * SLOT..i * SLOT + len];
                if let Some(ev) = to_event(data, from, self.local) {
                    out.push(ev);
                }
            }
            // A full batch means more may be queued: take it now. Otherwise return what
            // came (at least one datagram, unless they were all keep-alives).
            if n < BATCH && !out.is_empty() {
                return Poll::Ready(());
            }
        }
    }
}

/// The event for one datagram; `None` for keep-alives.
fn to_event(data: &[u8], from: SocketAddr, local: SocketAddr) -> Option<TransportEvent> {
    // RFC 5626 §4.4.1 / common practice: bare CRLF keep-alives on UDP are ignored.
    if data
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
    {
        return None;
    }
    let source = Target {
        protocol: Protocol::Udp,
        addr: from,
    };
    let bytes = Bytes::copy_from_slice(data);
    Some(match SipMessage::parse(bytes.clone()) {
        Ok(m) => {
            let message = if m.is_request() {
                stamp_via(m, from)
            } else {
                m
            };
            TransportEvent::Message(Incoming {
                message,
                source,
                local,
            })
        }
        Err(error) => TransportEvent::Malformed(Malformed {
            bytes,
            error,
            source,
        }),
    })
}

/// Receive datagrams and hand them to the core over a channel, until the core goes away.
pub(super) async fn receive_loop(mut rx: UdpReceiver, events: mpsc::Sender<TransportEvent>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        rx.recv(&mut batch).await;
        for ev in batch.drain(..) {
            if events.send(ev).await.is_err() {
                warn!("SIP core gone; UDP receiver stops");
                return;
            }
        }
    }
}

/// Send datagrams in order, `BATCH` per system call; a datagram the kernel refuses is
/// logged and skipped.
pub(super) async fn send_batch(sock: &UdpSocket, msgs: &[(Target, Bytes)]) {
    let fd = sock.as_raw_fd();
    let mut i = 0;
    while i < msgs.len() {
        let chunk = &msgs[i..msgs.len().min(i + BATCH)];
        match sock.try_io(Interest::WRITABLE, || send_chunk(fd, chunk)) {
            Ok(n) => i += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = sock.writable().await {
                    warn!(error = %e, "udp writability");
                    return;
                }
            }
            Err(e) => {
                // sendmmsg reports the error of the first datagram it could not send.
                debug!(error = %e, target = %chunk[0].0.addr, "udp send");
                i += 1;
            }
        }
    }
}

/// `recvmmsg(2)` without waiting: returns how many datagrams the kernel gave and how many
/// of them were kept (the first ones of `slab`, their lengths and sources in `got`).
fn recv_batch(
    fd: RawFd,
    slab: &mut [u8],
    got: &mut [(usize, SocketAddr); BATCH],
) -> io::Result<(usize, usize)> {
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    debug_assert!(slab.len() >= BATCH * SLOT);
    let base = slab.as_mut_ptr();
    for i in 0..BATCH {
        iovs[i] = libc::iovec {
            // SAFETY: slot `i` lies inside `slab` (checked above).
            iov_base: unsafe { base.add(i * SLOT) }.cast(),
            iov_len: SLOT,
        };
        hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
        hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at live buffers of the sizes given, owned by this frame
    // or by `slab`, for the duration of the call.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = r as usize;
    let mut kept = 0;
    for i in 0..n {
        let len = hdrs[i].msg_len as usize;
        let Some(from) = socket_addr(&names[i]) else {
            continue;
        };
        if hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            debug!(%from, "truncated datagram dropped");
            continue;
        }
        if kept != i {
            // Keep the slots dense: move this datagram down into the first free one.
            slab.copy_within(i * SLOT..i * SLOT + len, kept * SLOT);
        }
        got[kept] = (len, from);
        kept += 1;
    }
    Ok((n, kept))
}

/// `sendmmsg(2)` of one chunk (at most `BATCH`) without waiting: how many were sent.
fn send_chunk(fd: RawFd, chunk: &[(Target, Bytes)]) -> io::Result<usize> {
    // SAFETY: all-zero is a valid value of these plain C structs.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let n = chunk.len().min(BATCH);
    for (i, (target, bytes)) in chunk.iter().take(n).enumerate() {
        let namelen = write_sockaddr(&target.addr, &mut names[i]);
        iovs[i] = libc::iovec {
            // The kernel only reads through this pointer (sendmmsg).
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        hdrs[i].msg_hdr.msg_namelen = namelen;
        hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at live buffers of the sizes given for the duration of
    // the call.
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((r as usize).clamp(1, n))
}

fn socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn write_sockaddr(addr: &SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}
