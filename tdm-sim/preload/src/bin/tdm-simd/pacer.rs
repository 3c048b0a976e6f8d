//! Pseudo channels (`/dev/dahdi/pseudo`) and timers (`/dev/dahdi/timer`), clocked by the
//! simulator's 8 kHz, and the readiness sockets that make them pollable.
//!
//! Both are computed from the clock, not pushed sample by sample: a pseudo channel's
//! receive side is at `now × 8` samples, of which the reader consumed `pos`; a timer
//! tripped `⌊(now − start) / period⌋` times, of which the reader acknowledged `acked`
//! (`dahdi-base.c`, `dahdi_timer_unlocked_ioctl`). The pacer thread only raises
//! `POLLIN`/`POLLPRI` on the readiness socket when that changes, once per chunk.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use dahdi_driver::abi::{DAHDI_CHUNKSIZE, DAHDI_DEFAULT_BLOCKSIZE, DAHDI_DEFAULT_NUM_BUFS};
use dahdi_driver::Device;
use tdm_sim::{Sim, SimDevice};

use crate::proto::TimerPage;

/// A socket pair whose reader end is the program's descriptor: one in-band byte makes it
/// `POLLIN`, one out-of-band byte `POLLPRI`.
pub struct Notifier {
    reader: OwnedFd,
    writer: OwnedFd,
    pin: bool,
    ppri: bool,
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
        // SAFETY: socketpair succeeded; both descriptors are fresh and ours.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Notifier {
            reader,
            writer,
            pin: false,
            ppri: false,
        })
    }

    /// The descriptor to hand to the program.
    pub fn reader_fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    pub fn set_readable(&mut self, on: bool) {
        if on == self.pin {
            return;
        }
        let mut b = [1u8];
        // SAFETY: one byte to/from a valid buffer on our own sockets.
        unsafe {
            if on {
                libc::send(
                    self.writer.as_raw_fd(),
                    b.as_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT,
                );
            } else {
                libc::recv(
                    self.reader.as_raw_fd(),
                    b.as_mut_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT,
                );
            }
        }
        self.pin = on;
    }

    /// Sends an out-of-band byte whatever the state (the program clears it).
    pub fn send_event(&mut self) {
        let b = [1u8];
        // SAFETY: one out-of-band byte from a valid buffer on our own socket.
        unsafe {
            libc::send(
                self.writer.as_raw_fd(),
                b.as_ptr().cast(),
                1,
                libc::MSG_DONTWAIT | libc::MSG_OOB,
            )
        };
    }

    pub fn set_event(&mut self, on: bool) {
        if on == self.ppri {
            return;
        }
        let mut b = [1u8];
        // SAFETY: one out-of-band byte to/from a valid buffer on our own sockets.
        unsafe {
            if on {
                libc::send(
                    self.writer.as_raw_fd(),
                    b.as_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_OOB,
                );
            } else {
                libc::recv(
                    self.reader.as_raw_fd(),
                    b.as_mut_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_OOB,
                );
            }
        }
        self.ppri = on;
    }
}

/// A pseudo channel: no span, clocked by the master clock; it receives silence (it is in
/// no conference) and what it is sent is consumed at the line rate.
pub struct Pseudo {
    pub blocksize: usize,
    pub numbufs: usize,
    /// `DAHDI_LAW_MULAW` (DAHDI's default for pseudo channels) or `DAHDI_LAW_ALAW`.
    pub law: i32,
    /// Samples consumed by reads, on the simulator's sample clock.
    pos: u64,
    pub notifier: Notifier,
}

impl Pseudo {
    pub fn new(now_chunks: u64) -> io::Result<Self> {
        Ok(Pseudo {
            blocksize: DAHDI_DEFAULT_BLOCKSIZE,
            numbufs: DAHDI_DEFAULT_NUM_BUFS,
            law: dahdi_driver::abi::DAHDI_LAW_MULAW,
            pos: now_chunks * DAHDI_CHUNKSIZE as u64,
            notifier: Notifier::new()?,
        })
    }

    /// Full receive blocks waiting; when every buffer is full the oldest audio is lost,
    /// as when a reader falls behind on DAHDI.
    fn full_blocks(&mut self, now_chunks: u64) -> u64 {
        let now = now_chunks * DAHDI_CHUNKSIZE as u64;
        let cap = (self.numbufs * self.blocksize) as u64;
        // `now` may be older than `pos`: the pacer reads the clock once per pass, and a
        // flush or a read on the connection's thread may have set `pos` from a newer one.
        let behind = now.saturating_sub(self.pos);
        if behind > cap {
            self.pos = now - cap;
        }
        now.saturating_sub(self.pos) / self.blocksize as u64
    }

    /// One `read()`: a block of silence in the channel's law, or `None` (would block).
    pub fn read(&mut self, now_chunks: u64, max: usize) -> Option<Vec<u8>> {
        if self.full_blocks(now_chunks) == 0 {
            self.notifier.set_readable(false);
            return None;
        }
        self.pos += self.blocksize as u64;
        let more = self.full_blocks(now_chunks) > 0;
        self.notifier.set_readable(more);
        let idle = if self.law == dahdi_driver::abi::DAHDI_LAW_ALAW {
            0xD5
        } else {
            0xFF
        };
        Some(vec![idle; self.blocksize.min(max)])
    }

    /// New buffer geometry: DAHDI reallocates and so empties the buffers.
    pub fn set_buffers(&mut self, now_chunks: u64, blocksize: usize, numbufs: usize) {
        self.blocksize = blocksize;
        self.numbufs = numbufs;
        self.flush(now_chunks);
    }

    pub fn flush(&mut self, now_chunks: u64) {
        self.pos = now_chunks * DAHDI_CHUNKSIZE as u64;
        self.notifier.set_readable(false);
    }

    fn pace(&mut self, now_chunks: u64) {
        let ready = self.full_blocks(now_chunks) > 0;
        self.notifier.set_readable(ready);
    }
}

/// A DAHDI timer: its state lives in a page shared with the program
/// ([`TimerPage`]); the pacer writes the clock into it and raises `POLLPRI` when a trip
/// is pending. The program takes `POLLPRI` down itself when it acknowledged every trip.
pub struct Timer {
    page: &'static TimerPage,
    page_fd: OwnedFd,
    pub notifier: Notifier,
}

impl Timer {
    pub fn new(now_chunks: u64) -> io::Result<Self> {
        // SAFETY: memfd_create with a NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"dahdi-sim-timer".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        let page_fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own memfd.
        if unsafe { libc::ftruncate(fd, TimerPage::SIZE as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let page = crate::proto::map_timer_page(fd)?;
        page.now.store(now_chunks, Ordering::Release);
        Ok(Timer {
            page,
            page_fd,
            notifier: Notifier::new()?,
        })
    }

    pub fn page(&self) -> &'static TimerPage {
        self.page
    }

    pub fn page_fd(&self) -> RawFd {
        self.page_fd.as_raw_fd()
    }

    fn pace(&mut self, now_chunks: u64) {
        self.page.now.store(now_chunks, Ordering::Release);
        if self.page.tripped() > 0 && !self.page.pri.swap(true, Ordering::AcqRel) {
            self.notifier.send_event();
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: unmapping the page mapped in `new`; nothing refers to it any more
        // (the pacer only holds weak references and the file is gone).
        unsafe {
            libc::munmap(
                (self.page as *const TimerPage).cast_mut().cast(),
                TimerPage::SIZE,
            )
        };
    }
}

/// Something the pacer keeps ready.
pub enum Paced {
    Pseudo(Weak<Mutex<Pseudo>>),
    Timer(Weak<Mutex<Timer>>),
}

/// Runs once per chunk while any pseudo channel or timer is open.
pub struct Pacer {
    items: Mutex<Vec<Paced>>,
    wake: std::sync::Condvar,
}

impl Pacer {
    pub fn new() -> Arc<Self> {
        Arc::new(Pacer {
            items: Mutex::new(Vec::new()),
            wake: std::sync::Condvar::new(),
        })
    }

    pub fn add(&self, p: Paced) {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).push(p);
        self.wake.notify_all();
    }

    /// The pacer thread's loop.
    pub fn run(self: Arc<Self>, sim: Arc<Sim>, dev: SimDevice) {
        let mut ticker = match dev.ticker() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "no simulator ticker: pseudo channels and timers will not poll ready");
                return;
            }
        };
        loop {
            {
                let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
                while items.is_empty() {
                    items = self.wake.wait(items).unwrap_or_else(|e| e.into_inner());
                }
                let now = sim.now_chunks();
                items.retain(|p| match p {
                    Paced::Pseudo(w) => w.upgrade().is_some_and(|p| {
                        p.lock().unwrap_or_else(|e| e.into_inner()).pace(now);
                        true
                    }),
                    Paced::Timer(w) => w.upgrade().is_some_and(|t| {
                        t.lock().unwrap_or_else(|e| e.into_inner()).pace(now);
                        true
                    }),
                });
            }
            if let Err(e) = ticker.wait(Duration::from_millis(50)) {
                tracing::error!(error = %e, "simulator ticker failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(fd: RawFd) -> i16 {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) };
        p.revents
    }

    #[test]
    fn pseudo_gives_a_block_per_blocksize_samples() {
        let mut p = Pseudo::new(0).unwrap();
        p.set_buffers(0, 160, 2);
        assert!(p.read(19, 8192).is_none());
        assert_eq!(pending(p.notifier.reader_fd()), 0);
        p.pace(20);
        assert_eq!(pending(p.notifier.reader_fd()), libc::POLLIN);
        assert_eq!(p.read(20, 8192).map(|b| b.len()), Some(160));
        assert_eq!(pending(p.notifier.reader_fd()), 0);
        // A reader far behind gets at most numbufs blocks.
        assert!(p
            .read(1000, 100)
            .is_some_and(|b| b.len() == 100 && b[0] == 0xFF));
        assert!(p.read(1000, 8192).is_some());
        assert!(p.read(1000, 8192).is_none());
    }

    /// The pacer's clock reading may be older than a flush done since on the
    /// connection's thread: nothing is ready then, and nothing wraps.
    #[test]
    fn a_pace_with_a_clock_older_than_the_last_flush_finds_nothing_ready() {
        let mut p = Pseudo::new(0).unwrap();
        p.set_buffers(0, 160, 2);
        p.flush(100);
        p.pace(99);
        assert_eq!(pending(p.notifier.reader_fd()), 0);
        assert!(p.read(99, 8192).is_none());
        p.pace(120);
        assert_eq!(pending(p.notifier.reader_fd()), libc::POLLIN);
    }

    #[test]
    fn timer_trips_and_acks() {
        let mut t = Timer::new(10).unwrap();
        let page = t.page();
        page.configure(8);
        assert_eq!(page.tripped(), 0);
        t.pace(13);
        assert_eq!(page.tripped(), 3);
        assert_eq!(
            pending(t.notifier.reader_fd()) & libc::POLLPRI,
            libc::POLLPRI
        );
        page.ack(1);
        assert_eq!(page.tripped(), 2);
        page.ack(0);
        assert_eq!(page.tripped(), 0);
        page.configure(20);
        t.pace(15);
        assert_eq!(page.tripped(), 0);
        t.pace(16);
        assert_eq!(page.tripped(), 1);
    }
}
