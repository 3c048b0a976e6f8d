//! Session timers (RFC 4028): keep-alive of a call by periodic refreshes, so that a call
//! whose far end vanished is cleared instead of holding a B-channel forever.

use std::time::{Duration, Instant};

use crate::sip::header::Refresher;

/// What the timer asks of the dialog owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    /// We are the refresher and half the interval has passed: send a re-INVITE or UPDATE
    /// (RFC 4028 §7.4, §9).
    SendRefresh,
    /// The peer was the refresher and did not refresh in time: send BYE (RFC 4028 §10).
    Expired,
}

/// The session timer of one dialog.
#[derive(Debug, Clone)]
pub struct SessionTimer {
    interval: Duration,
    we_refresh: bool,
    deadline: Instant,
}

impl SessionTimer {
    /// Start (or restart after a refresh) with the negotiated interval; `we_refresh` when
    /// the refresher is our side.
    pub fn new(now: Instant, interval_secs: u32, we_refresh: bool) -> Self {
        let interval = Duration::from_secs(u64::from(interval_secs));
        SessionTimer {
            interval,
            we_refresh,
            deadline: Self::deadline(now, interval, we_refresh),
        }
    }

    fn deadline(now: Instant, interval: Duration, we_refresh: bool) -> Instant {
        if we_refresh {
            // §7.4: "the refresh SHOULD be sent ... half the session interval".
            now + interval / 2
        } else {
            // §10: BYE at interval minus the lesser of 32 s and a third of the interval.
            now + interval - (interval / 3).min(Duration::from_secs(32))
        }
    }

    /// A refresh succeeded (a 2xx to a session refresh request, either way).
    pub fn handle_refresh(&mut self, now: Instant, interval_secs: u32, we_refresh: bool) {
        *self = SessionTimer::new(now, interval_secs, we_refresh);
    }

    pub fn poll_timeout(&self) -> Instant {
        self.deadline
    }

    /// Let time pass; an action when the deadline has come. After `SendRefresh` the timer
    /// waits for [`SessionTimer::handle_refresh`] and, failing that, expires at the full
    /// interval.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TimerAction> {
        if now < self.deadline {
            return None;
        }
        if self.we_refresh {
            self.we_refresh = false;
            self.deadline += self.interval / 2;
            Some(TimerAction::SendRefresh)
        } else {
            self.deadline = now + self.interval;
            Some(TimerAction::Expired)
        }
    }
}

/// The UAS's decision on an INVITE's Session-Expires (RFC 4028 §9). `offered` is the
/// request's Session-Expires (seconds, refresher), `uac_supports` whether it listed
/// `timer` in Supported, `min_se` our minimum. `Err(min)` means: answer 422 with
/// `Min-SE: min`. `Ok(None)`: no session timer.
pub fn negotiate_uas(
    offered: Option<(u32, Option<Refresher>)>,
    uac_supports: bool,
    min_se: u32,
    default_interval: u32,
) -> Result<Option<(u32, Refresher)>, u32> {
    match offered {
        Some((secs, _)) if secs < min_se => Err(min_se),
        Some((secs, r)) => {
            // §9: if the UAC did not choose, the UAS picks; we let the UAC refresh when it
            // can, as it is the side that wanted the timer.
            let refresher = if uac_supports {
                r.unwrap_or(Refresher::Uac)
            } else {
                // A UAC without `timer` support cannot refresh: we must.
                Refresher::Uas
            };
            Ok(Some((secs, refresher)))
        }
        None if uac_supports => Ok(Some((default_interval.max(min_se), Refresher::Uac))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresher_refreshes_at_half_interval() {
        let t0 = Instant::now();
        let mut t = SessionTimer::new(t0, 1800, true);
        assert_eq!(t.poll_timeout(), t0 + Duration::from_secs(900));
        assert_eq!(t.handle_timeout(t0 + Duration::from_secs(899)), None);
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(900)),
            Some(TimerAction::SendRefresh)
        );
        // The refresh never succeeded: expire at the full interval.
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(1800)),
            Some(TimerAction::Expired)
        );
    }

    #[test]
    fn non_refresher_expires_before_the_interval() {
        let t0 = Instant::now();
        let mut t = SessionTimer::new(t0, 90, false);
        // 90 - min(32, 30) = 60 s.
        assert_eq!(t.poll_timeout(), t0 + Duration::from_secs(60));
        t.handle_refresh(t0 + Duration::from_secs(50), 90, false);
        assert_eq!(t.handle_timeout(t0 + Duration::from_secs(60)), None);
        assert_eq!(
            t.handle_timeout(t0 + Duration::from_secs(110)),
            Some(TimerAction::Expired)
        );
        let long = SessionTimer::new(t0, 1800, false);
        assert_eq!(
            long.poll_timeout(),
            t0 + Duration::from_secs(1768),
            "32 s before the end"
        );
    }

    #[test]
    fn uas_negotiation() {
        assert_eq!(
            negotiate_uas(Some((60, None)), true, 90, 1800),
            Err(90),
            "422"
        );
        assert_eq!(
            negotiate_uas(Some((1800, Some(Refresher::Uas))), true, 90, 1800),
            Ok(Some((1800, Refresher::Uas)))
        );
        assert_eq!(
            negotiate_uas(Some((1800, Some(Refresher::Uac))), false, 90, 1800),
            Ok(Some((1800, Refresher::Uas))),
            "a UAC without timer support cannot refresh"
        );
        assert_eq!(negotiate_uas(None, false, 90, 1800), Ok(None));
        assert_eq!(
            negotiate_uas(None, true, 90, 1800),
            Ok(Some((1800, Refresher::Uac)))
        );
    }
}
