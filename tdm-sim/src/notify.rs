//! The pollable file descriptor of a simulated channel.
//!
//! DAHDI's channel fd polls `POLLIN` when a read may succeed and `POLLPRI` when an event
//! is queued. The simulator uses a non-blocking `AF_UNIX` stream socket pair: one in-band
//! byte makes the reader's end readable, one out-of-band byte (`MSG_OOB`, Linux ≥ 5.15)
//! adds `POLLPRI`. Where out-of-band data is refused, events fall back to `POLLIN` only.
//!
//! The socket is created on the first `raw_fd()` call, so channels nobody polls cost no
//! system call at all; and the producer writes to it only when the reader armed interest
//! (it saw `WouldBlock`, or just asked for the fd), which keeps the media path cheap.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug)]
pub struct Notifier {
    reader: OwnedFd,
    writer: OwnedFd,
    in_signaled: bool,
    pri_signaled: bool,
    oob_ok: bool,
    /// The reader is waiting: signal the next readiness.
    pub armed: bool,
}

impl Notifier {
    pub fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socketpair succeeded, both descriptors are fresh and owned by us.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Notifier {
            reader,
            writer,
            in_signaled: false,
            pri_signaled: false,
            oob_ok: true,
            armed: true,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    fn send(&self, flags: libc::c_int) -> bool {
        let byte = [1u8];
        // SAFETY: sending one byte from a valid buffer on our own socket.
        let n = unsafe {
            libc::send(
                self.writer.as_raw_fd(),
                byte.as_ptr().cast(),
                1,
                flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        n == 1
    }

    /// Makes the fd poll readable (`POLLIN`).
    pub fn signal_readable(&mut self) {
        if !self.in_signaled {
            self.send(0);
            self.in_signaled = true;
        }
        self.armed = false;
    }

    /// Makes the fd poll `POLLPRI` (and readable).
    pub fn signal_event(&mut self) {
        if !self.pri_signaled {
            if self.oob_ok && !self.send(libc::MSG_OOB) {
                self.oob_ok = false;
                tracing::warn!("MSG_OOB refused on AF_UNIX: channel events poll as POLLIN only");
            }
            if !self.oob_ok {
                self.in_signaled = false;
                self.signal_readable();
            }
            self.pri_signaled = true;
            self.in_signaled = true;
        }
        self.armed = false;
    }

    /// Clears all readiness; the reader is then armed.
    pub fn clear(&mut self) {
        if self.in_signaled || self.pri_signaled {
            let mut buf = [0u8; 64];
            let fd = self.reader.as_raw_fd();
            if self.pri_signaled && self.oob_ok {
                // SAFETY: receiving into a valid local buffer from our own socket.
                unsafe {
                    libc::recv(
                        fd,
                        buf.as_mut_ptr().cast(),
                        1,
                        libc::MSG_OOB | libc::MSG_DONTWAIT,
                    )
                };
            }
            loop {
                // SAFETY: as above.
                let n = unsafe {
                    libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
                };
                if n <= 0 {
                    break;
                }
            }
            self.in_signaled = false;
            self.pri_signaled = false;
        }
        self.armed = true;
    }

    pub fn in_signaled(&self) -> bool {
        self.in_signaled
    }
}
