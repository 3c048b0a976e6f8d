//! The device's 1 ms tick from `/dev/dahdi/timer`.
//!
//! `DAHDI_TIMERCONFIG` with 8 samples makes the timer trip on every DAHDI chunk (1 ms,
//! counted by the span clock, not the host's). A tripped timer shows as `POLLPRI` and as
//! `DAHDI_EVENT_TIMER_EXPIRED` from `DAHDI_GETEVENT`; `DAHDI_TIMERACK` with 1 takes one
//! trip off the count (`dahdi-base.c`, `dahdi_timer_unlocked_ioctl`). The ticker sleeps
//! in `poll(2)` and then acknowledges trips one by one to count them: no busy loop.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::abi::{self, DAHDI_CHUNKSIZE, DAHDI_EVENT_TIMER_EXPIRED};
use crate::device::{DeviceError, Ticker};

use super::sys;

/// A [`Ticker`] on `/dev/dahdi/timer`.
#[derive(Debug)]
pub struct KernelTicker {
    file: File,
}

impl KernelTicker {
    /// Arms an opened `/dev/dahdi/timer` to trip every chunk (1 ms).
    pub(crate) fn new(file: File) -> Result<Self, DeviceError> {
        sys::ioctl_set_int(
            file.as_raw_fd(),
            abi::DAHDI_TIMERCONFIG,
            DAHDI_CHUNKSIZE as i32,
        )
        .map_err(|source| DeviceError::Io {
            op: "DAHDI_TIMERCONFIG",
            source,
        })?;
        Ok(KernelTicker { file })
    }

    /// Acknowledges every trip pending now; returns how many there were.
    fn drain(&mut self) -> Result<u64, DeviceError> {
        let fd = self.file.as_raw_fd();
        let mut ticks = 0;
        loop {
            let ev =
                sys::ioctl_get_int(fd, abi::DAHDI_GETEVENT).map_err(|source| DeviceError::Io {
                    op: "DAHDI_GETEVENT (timer)",
                    source,
                })?;
            if ev != DAHDI_EVENT_TIMER_EXPIRED {
                return Ok(ticks);
            }
            sys::ioctl_set_int(fd, abi::DAHDI_TIMERACK, 1).map_err(|source| DeviceError::Io {
                op: "DAHDI_TIMERACK",
                source,
            })?;
            ticks += 1;
        }
    }
}

impl Ticker for KernelTicker {
    fn wait(&mut self, timeout: Duration) -> Result<u64, DeviceError> {
        let ticks = self.drain()?;
        if ticks > 0 {
            return Ok(ticks);
        }
        let ev = sys::poll(self.file.as_raw_fd(), libc::POLLPRI, timeout).map_err(|source| {
            DeviceError::Io {
                op: "poll (timer)",
                source,
            }
        })?;
        if ev == 0 {
            return Ok(0);
        }
        self.drain()
    }
}
