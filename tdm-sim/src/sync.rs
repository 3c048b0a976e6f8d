//! Locking and waking that never leave the real-time clock thread waiting behind a
//! preempted ordinary thread.
//!
//! - [`PiMutex`]: a pthread mutex with priority inheritance (`PTHREAD_PRIO_INHERIT`). When
//!   the clock thread runs `SCHED_FIFO` and finds a span locked by a consumer thread, the
//!   consumer is boosted until it unlocks, instead of the clock waiting for the consumer's
//!   next time slice. Uncontended, it costs one atomic operation like any futex mutex.
//! - [`TickSignal`]: the tick counter with futex wake-ups, so the clock thread publishes a
//!   tick with no lock at all and makes a system call only when a ticker is waiting. It
//!   keeps when each of the last [`POSTED_KEPT`] ticks was posted, so that a consumer can
//!   tell a tick it was late for from ticks the clock itself posted late, together.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

pub(crate) struct PiMutex<T> {
    raw: Box<UnsafeCell<libc::pthread_mutex_t>>,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard holding the mutex.
unsafe impl<T: Send> Send for PiMutex<T> {}
// SAFETY: as above; the mutex serialises all access.
unsafe impl<T: Send> Sync for PiMutex<T> {}

impl<T> PiMutex<T> {
    pub fn new(value: T) -> Self {
        // SAFETY: PTHREAD_MUTEX_INITIALIZER-equivalent storage, initialised below before use.
        let raw = Box::new(UnsafeCell::new(unsafe {
            std::mem::zeroed::<libc::pthread_mutex_t>()
        }));
        // SAFETY: attr is initialised by pthread_mutexattr_init before use and destroyed
        // after; the mutex lives in a Box, so it never moves after initialisation.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setprotocol(&mut attr, libc::PTHREAD_PRIO_INHERIT);
            libc::pthread_mutex_init(raw.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
        PiMutex {
            raw,
            data: UnsafeCell::new(value),
        }
    }

    /// The guard, or `None` at once when another thread holds the lock.
    pub fn try_lock(&self) -> Option<PiGuard<'_, T>> {
        // SAFETY: the mutex was initialised in `new` and is not destroyed while borrowed.
        let rc = unsafe { libc::pthread_mutex_trylock(self.raw.get()) };
        (rc == 0).then_some(PiGuard { m: self })
    }

    pub fn lock(&self) -> PiGuard<'_, T> {
        // SAFETY: the mutex was initialised in `new` and is not destroyed while borrowed.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        debug_assert_eq!(rc, 0);
        PiGuard { m: self }
    }
}

impl<T> Drop for PiMutex<T> {
    fn drop(&mut self) {
        // SAFETY: no guard can exist (we have &mut self); the mutex is unlocked.
        unsafe { libc::pthread_mutex_destroy(self.raw.get()) };
    }
}

pub(crate) struct PiGuard<'a, T> {
    m: &'a PiMutex<T>,
}

impl<T> Deref for PiGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for PiGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, exclusively.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for PiGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this thread locked the mutex in `lock`.
        unsafe { libc::pthread_mutex_unlock(self.m.raw.get()) };
    }
}

/// How many of the latest ticks' post times a [`TickSignal`] keeps: a consumer asks about
/// the ticks it has not served yet, one period of 20 at most when it runs late.
pub(crate) const POSTED_KEPT: u64 = 64;

/// The chunk counter and its waiters.
pub(crate) struct TickSignal {
    ticks: AtomicU64,
    seq: AtomicU32,
    waiters: AtomicU32,
    /// `posted[t % POSTED_KEPT]`: when tick `t` was posted (CLOCK_MONOTONIC, ns).
    posted: [AtomicU64; POSTED_KEPT as usize],
}

/// CLOCK_MONOTONIC in ns: the clock `Instant` reads, as a number the clock thread and the
/// consumers can exchange through an atomic.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl TickSignal {
    pub fn new() -> Self {
        TickSignal {
            ticks: AtomicU64::new(0),
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            posted: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    pub fn now(&self) -> u64 {
        self.ticks.load(Ordering::Acquire)
    }

    /// One more chunk: wakes the waiting tickers, if any.
    pub fn tick(&self) {
        // The time goes in before the counter moves on (release), so a reader that sees
        // the new count (acquire) sees the time of the tick too.
        let next = self.now() + 1;
        self.posted[(next % POSTED_KEPT) as usize].store(now_ns(), Ordering::Relaxed);
        self.ticks.fetch_add(1, Ordering::AcqRel);
        self.seq.fetch_add(1, Ordering::AcqRel);
        if self.waiters.load(Ordering::Acquire) > 0 {
            // SAFETY: FUTEX_WAKE on an aligned u32 we own.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.seq.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    i32::MAX,
                );
            }
        }
    }

    /// When tick `t` (the counter's value right after it) was posted, CLOCK_MONOTONIC ns:
    /// `None` for a tick not posted yet, or too old to be kept.
    pub fn posted_ns(&self, t: u64) -> Option<u64> {
        let now = self.now();
        if t == 0 || t > now || now - t >= POSTED_KEPT {
            return None;
        }
        let at = self.posted[(t % POSTED_KEPT) as usize].load(Ordering::Relaxed);
        // The clock may have posted past the slot while it was read: then it is
        // another tick's time.
        (self.now() - t < POSTED_KEPT).then_some(at)
    }

    /// Waits until the counter passes `last` or `timeout` elapses; returns the counter.
    pub fn wait_past(&self, last: u64, timeout: Duration) -> u64 {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            let now = self.now();
            if now > last {
                return now;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return now;
            }
            let ts = libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            };
            self.waiters.fetch_add(1, Ordering::AcqRel);
            // SAFETY: FUTEX_WAIT on an aligned u32 we own, with a valid relative timeout;
            // it returns at once if the value moved on since we read it.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.seq.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    seq,
                    &ts as *const libc::timespec,
                );
            }
            self.waiters.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn pi_mutex_excludes() {
        let m = Arc::new(PiMutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 40_000);
    }

    #[test]
    fn pi_mutex_try_lock_fails_while_held_elsewhere() {
        let m = Arc::new(PiMutex::new(0u64));
        let g = m.lock();
        let m2 = m.clone();
        assert!(std::thread::spawn(move || m2.try_lock().is_none())
            .join()
            .unwrap());
        drop(g);
        *m.try_lock().expect("free again") += 1;
        assert_eq!(*m.lock(), 1);
    }

    #[test]
    fn tick_signal_wakes_and_times_out() {
        let s = Arc::new(TickSignal::new());
        assert_eq!(s.wait_past(0, Duration::from_millis(5)), 0);
        let s2 = s.clone();
        let h = std::thread::spawn(move || s2.wait_past(0, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        s.tick();
        assert_eq!(h.join().unwrap(), 1);
    }
}
