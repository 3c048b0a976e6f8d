//! Whose late tick: the media thread's, or the line clock's.
//!
//! The thread sleeps until the tick it means to serve and expects to find just that tick
//! posted when it wakes. Finding more (a tick beyond the plan) means the work of a tick
//! was not begun within its period, and the B-channel block of that tick waited in the
//! device buffer. Two things cause it:
//! - the thread woke up late, or overran the tick before (the thread is late);
//! - the clock posted the planned tick late, together with the next one (the clock is
//!   late: a simulated line whose clock thread the host ran late). The thread saw the
//!   block as soon as it existed.
//!
//! A tick beyond the plan is the thread's when the tick before it, the one the thread
//! should have served by then, had been posted over one tick period before the thread
//! came to serve it. A clock that does not say when it posted its ticks (the DAHDI
//! timer) leaves every such tick to the thread, as before.

use std::time::Duration;

use dahdi_driver::Ticker;

/// The ticks beyond the thread's plan at one wake-up, by whose they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Lateness {
    /// The thread was late for these.
    pub own: u64,
    /// The clock posted these late, together with the tick the thread meant to serve.
    pub clock: u64,
}

impl Lateness {
    /// `elapsed` ticks came where the thread meant to let `planned` pass (`None`: nothing
    /// was due, so none is late); `posted_ago(back)` says how long ago the tick `back`
    /// before the newest one was posted, if the clock knows (see [`Ticker::posted_ago`]).
    pub fn of(
        elapsed: u64,
        planned: Option<u64>,
        period: Duration,
        posted_ago: impl Fn(u64) -> Option<Duration>,
    ) -> Lateness {
        let Some(planned) = planned else {
            return Lateness::default();
        };
        let beyond = elapsed.saturating_sub(planned.max(1));
        // Beyond-plan tick `k` (1..=beyond, the newest is `elapsed`) is late if the tick
        // before it, `back = elapsed - (planned + k - 1)` ticks before the newest, waited
        // more than a period for the thread.
        let own = (1..=beyond)
            .filter(|&k| {
                let back = beyond - k + 1;
                posted_ago(back).is_none_or(|ago| ago > period)
            })
            .count() as u64;
        Lateness {
            own,
            clock: beyond - own,
        }
    }

    /// As [`Lateness::of`], asking `ticker` after its last `wait`.
    pub fn at(ticker: &dyn Ticker, elapsed: u64, planned: Option<u64>, period: Duration) -> Self {
        Lateness::of(elapsed, planned, period, |back| ticker.posted_ago(back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1000.0)
    }

    #[test]
    fn on_time_is_never_late() {
        let l = Lateness::of(1, Some(1), MS, |_| Some(ms(0.05)));
        assert_eq!(l, Lateness::default());
        // The thread meant to sleep through 3 ticks and came on the third.
        assert_eq!(Lateness::of(3, Some(3), MS, |_| None), Lateness::default());
        // Nothing was due: any number of ticks may pass.
        assert_eq!(Lateness::of(40, None, MS, |_| None), Lateness::default());
    }

    #[test]
    fn a_late_wake_up_is_the_threads() {
        // Ticks posted 1 ms apart; the thread came 0.2 ms after the second.
        let ago = |back: u64| Some(ms(0.2 + back as f64));
        assert_eq!(
            Lateness::of(2, Some(1), MS, ago),
            Lateness { own: 1, clock: 0 }
        );
        // Four ticks late after a stall.
        assert_eq!(
            Lateness::of(5, Some(1), MS, ago),
            Lateness { own: 4, clock: 0 }
        );
    }

    #[test]
    fn ticks_the_clock_posted_together_are_the_clocks() {
        // The clock woke 2.5 ms late and posted three ticks within 10 µs; the thread
        // served them 50 µs later.
        let ago = |back: u64| Some(ms(0.05 + 0.005 * back as f64));
        assert_eq!(
            Lateness::of(3, Some(1), MS, ago),
            Lateness { own: 0, clock: 2 }
        );
    }

    #[test]
    fn a_late_clock_and_a_late_thread_are_told_apart() {
        // Planned tick posted 1.6 ms ago (the thread slept through it), the next two
        // posted late together by the clock 0.1 ms ago.
        let ago = |back: u64| match back {
            0 | 1 => Some(ms(0.1)),
            2 => Some(ms(1.6)),
            _ => None,
        };
        assert_eq!(
            Lateness::of(3, Some(1), MS, ago),
            Lateness { own: 1, clock: 1 }
        );
    }

    #[test]
    fn a_clock_that_keeps_no_times_leaves_every_late_tick_to_the_thread() {
        assert_eq!(
            Lateness::of(4, Some(2), MS, |_| None),
            Lateness { own: 2, clock: 0 }
        );
    }
}
