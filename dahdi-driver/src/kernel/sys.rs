//! Thin, checked wrappers over the system calls the kernel backend makes: `ioctl` with
//! DAHDI's argument conventions, `read`/`write` retried on `EINTR`, and `poll`.
//!
//! Everything goes through libc's symbols (`open64`, `ioctl`, `read`, `write`, `poll`),
//! so an `LD_PRELOAD` library can serve them in place of the kernel.

use std::io;
use std::mem::size_of;
use std::os::fd::RawFd;
use std::time::Duration;

use libc::c_int;

use crate::abi::{Request, ELAST};
use crate::device::ChanError;

/// `ioctl(fd, request, arg)` where `arg` points at a `T` of the request's size.
pub(crate) fn ioctl_struct<T>(fd: RawFd, request: Request, arg: &mut T) -> io::Result<()> {
    debug_assert_eq!(
        request.size(),
        size_of::<T>(),
        "argument type does not match request 0x{:08X}",
        request.0
    );
    loop {
        // SAFETY: `arg` is a valid, exclusive pointer to a `T` whose size matches the
        // size encoded in `request`, which is all the kernel reads or writes.
        let rc = unsafe { libc::ioctl(fd, request.0 as libc::Ioctl, arg as *mut T) };
        if rc >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// An `_IOW(.., int)` request: DAHDI reads the `int` through the pointer (`get_user`).
pub(crate) fn ioctl_set_int(fd: RawFd, request: Request, value: i32) -> io::Result<()> {
    let mut v: c_int = value;
    ioctl_struct(fd, request, &mut v)
}

/// An `_IOR(.., int)` request: DAHDI writes the `int` through the pointer (`put_user`).
pub(crate) fn ioctl_get_int(fd: RawFd, request: Request) -> io::Result<i32> {
    let mut v: c_int = 0;
    ioctl_struct(fd, request, &mut v)?;
    Ok(v)
}

pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Waits until `fd` reports any of `events` or `timeout` passes; returns the reported
/// events (0 on timeout). An interrupted wait counts as a timeout: callers loop.
pub(crate) fn poll(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<i16> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // Round up so that a sub-millisecond timeout still waits instead of spinning.
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as c_int;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(err);
    }
    Ok(if rc == 0 { 0 } else { pfd.revents })
}

/// Channel I/O errors as DAHDI reports them: `EAGAIN` means nothing to read or no room
/// to write on a non-blocking channel, `ELAST` (500) that an event is queued and must
/// be fetched with `DAHDI_GETEVENT` first (`dahdi-base.c`, `dahdi_chan_read`).
pub(crate) fn chan_error(err: io::Error) -> ChanError {
    match err.raw_os_error() {
        Some(libc::EAGAIN) => ChanError::WouldBlock,
        Some(ELAST) => ChanError::EventPending,
        _ => ChanError::Io(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        assert!(matches!(
            chan_error(io::Error::from_raw_os_error(libc::EAGAIN)),
            ChanError::WouldBlock
        ));
        assert!(matches!(
            chan_error(io::Error::from_raw_os_error(500)),
            ChanError::EventPending
        ));
        match chan_error(io::Error::from_raw_os_error(libc::ENODEV)) {
            ChanError::Io(e) => assert_eq!(e.raw_os_error(), Some(libc::ENODEV)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ioctl_on_a_plain_file_is_enotty() {
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        let err = ioctl_get_int(f.as_raw_fd(), crate::abi::DAHDI_GETEVENT).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn poll_times_out_without_spinning() {
        let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        let start = std::time::Instant::now();
        let ev = poll(r.as_raw_fd(), libc::POLLIN, Duration::from_micros(300)).unwrap();
        assert_eq!(ev, 0);
        assert!(start.elapsed() >= Duration::from_micros(300));
    }
}
