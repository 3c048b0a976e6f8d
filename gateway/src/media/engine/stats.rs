//! Media thread counters, shared with the outside through relaxed atomics (written by
//! the media thread only; read whenever).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Latency buckets of 10 µs up to 10 ms, then one overflow bucket.
const BUCKETS: usize = 1001;
const BUCKET_NS: u64 = 10_000;

/// A histogram of latencies, lock-free for one writer.
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[inline]
    pub fn record(&self, ns: u64) {
        let i = ((ns / BUCKET_NS) as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The `q` quantile (0..=1) in milliseconds (upper edge of its bucket); `None`
    /// when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= want {
                return Some(((i as u64 + 1) * BUCKET_NS) as f64 / 1e6);
            }
        }
        Some((BUCKETS as u64 * BUCKET_NS) as f64 / 1e6)
    }

    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Relaxed);
        }
    }
}

/// Counters of one media thread.
#[derive(Default)]
pub struct WorkerStats {
    pub ticks: AtomicU64,
    /// Ticks the thread did not wake up for in time: the ticker reported more ticks than
    /// the thread meant to let pass, and the one before had been posted over a tick
    /// earlier (it woke up late, or the work of a tick overran the next one).
    pub late_ticks: AtomicU64,
    /// Of those, the ones right after a tick whose work took longer than a tick (the
    /// thread overran); the rest it slept through or was not run for (scheduling).
    pub late_after_overrun: AtomicU64,
    /// Ticks beyond the plan that the clock itself posted late, together with the tick
    /// the thread meant to serve (a simulated line's clock run late by the host): served
    /// as soon as they existed, not counted in `late_ticks` (`lateness.rs`).
    pub late_clock_ticks: AtomicU64,
    /// Ticks whose work took longer than a tick, their wall time and the thread's CPU
    /// time in them, ns: an overrun with little CPU time is the thread not running.
    pub overrun_ticks: AtomicU64,
    pub overrun_wall_ns: AtomicU64,
    pub overrun_cpu_ns: AtomicU64,
    pub channels: AtomicU64,
    /// Channels in the fullest of the 20 phases (ticks mod 20) when a channel last
    /// locked its phase: the work of that phase's tick.
    pub largest_phase: AtomicU64,
    pub packets_sent: AtomicU64,
    pub packets_received: AtomicU64,
    pub send_errors: AtomicU64,
    /// CPU time of the thread, ns (CLOCK_THREAD_CPUTIME_ID), updated once per tick.
    pub cpu_ns: AtomicU64,
    /// Longest tick of work, ns.
    pub max_tick_ns: AtomicU64,
    /// The thread runs `SCHED_FIFO`.
    pub fifo: AtomicBool,
    /// The thread moves its packets through io_uring (else one system call each).
    pub uring: AtomicBool,
    /// Its RTP receives are armed in the io_uring ring (else found by `epoll_wait`).
    pub uring_armed: AtomicBool,
    /// Its RTP sockets are read at their channel's tick (io_uring), not as they arrive.
    pub reads_at_tick: AtomicBool,
    /// From the tick's wake-up to the RTP packet's `sendto` (B-channel read → RTP send).
    pub tdm_to_rtp: LatencyHistogram,
    /// From the datagram's kernel arrival to its samples stored in the jitter buffer,
    /// ready for the B-channel write of their playout tick.
    pub rtp_to_jitter: LatencyHistogram,
    /// From the playout tick's wake-up to the B-channel write.
    pub jitter_to_tdm: LatencyHistogram,
}

/// A copy of [`WorkerStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineStats {
    pub ticks: u64,
    pub late_ticks: u64,
    pub late_after_overrun: u64,
    pub late_clock_ticks: u64,
    pub overrun_ticks: u64,
    pub overrun_wall_ns: u64,
    pub overrun_cpu_ns: u64,
    pub channels: u64,
    pub largest_phase: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub send_errors: u64,
    pub cpu_ns: u64,
    pub max_tick_ns: u64,
    /// The thread runs `SCHED_FIFO`.
    pub fifo: bool,
    /// The thread moves its packets through io_uring.
    pub uring: bool,
    /// Its RTP receives are armed in the io_uring ring (no `epoll_wait`).
    pub uring_armed: bool,
    /// Its RTP sockets are read at their channel's tick.
    pub reads_at_tick: bool,
    pub tdm_to_rtp_p99_ms: Option<f64>,
    pub rtp_to_jitter_p99_ms: Option<f64>,
    pub jitter_to_tdm_p99_ms: Option<f64>,
}

impl EngineStats {
    /// How the thread moves its packets, in words (its log line, the benchmarks).
    pub fn packet_io(&self) -> &'static str {
        match (self.uring, self.uring_armed, self.reads_at_tick) {
            (true, _, true) => "io_uring, sockets read at their tick",
            (true, true, _) => "io_uring, receives armed",
            (true, false, _) => "io_uring, receives by epoll readiness",
            _ => "system calls",
        }
    }
}

impl WorkerStats {
    pub fn new() -> Arc<Self> {
        Arc::new(WorkerStats::default())
    }

    pub fn snapshot(&self) -> EngineStats {
        EngineStats {
            ticks: self.ticks.load(Relaxed),
            late_ticks: self.late_ticks.load(Relaxed),
            late_after_overrun: self.late_after_overrun.load(Relaxed),
            late_clock_ticks: self.late_clock_ticks.load(Relaxed),
            overrun_ticks: self.overrun_ticks.load(Relaxed),
            overrun_wall_ns: self.overrun_wall_ns.load(Relaxed),
            overrun_cpu_ns: self.overrun_cpu_ns.load(Relaxed),
            channels: self.channels.load(Relaxed),
            largest_phase: self.largest_phase.load(Relaxed),
            packets_sent: self.packets_sent.load(Relaxed),
            packets_received: self.packets_received.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            cpu_ns: self.cpu_ns.load(Relaxed),
            max_tick_ns: self.max_tick_ns.load(Relaxed),
            fifo: self.fifo.load(Relaxed),
            uring: self.uring.load(Relaxed),
            uring_armed: self.uring_armed.load(Relaxed),
            reads_at_tick: self.reads_at_tick.load(Relaxed),
            tdm_to_rtp_p99_ms: self.tdm_to_rtp.quantile_ms(0.99),
            rtp_to_jitter_p99_ms: self.rtp_to_jitter.quantile_ms(0.99),
            jitter_to_tdm_p99_ms: self.jitter_to_tdm.quantile_ms(0.99),
        }
    }

    /// Start a measurement window: latency histograms and the tick maximum are cleared.
    pub fn reset_window(&self) {
        self.tdm_to_rtp.reset();
        self.rtp_to_jitter.reset();
        self.jitter_to_tdm.reset();
        self.max_tick_ns.store(0, Relaxed);
    }
}
