//! Session timers in the endpoint (RFC 4028): negotiated in the INVITE and its 2xx,
//! refreshed with UPDATE by whichever side is the refresher, and a call whose refreshes stop
//! is cleared with BYE, so a vanished peer never holds a B-channel for ever.

use std::time::Instant;

use super::{CallHandle, Endpoint, TxRef, UaEvent};
use crate::sip::dialog::{negotiate_uas, SessionTimer, TimerAction};
use crate::sip::header::{Refresher, SessionExpires, Supported};
use crate::sip::{Method, SipMessage};

/// The smallest interval we accept (RFC 4028 §4 recommends 90 s as the floor).
pub const MIN_SE: u32 = 90;
/// The interval we ask for and grant when the peer has no preference.
pub const DEFAULT_SE: u32 = 1800;

/// A call's session timer.
#[derive(Debug, Clone)]
pub(super) struct SessionState {
    pub timer: SessionTimer,
    pub interval: u32,
    pub we_refresh: bool,
    /// Who the refresher is, as written in Session-Expires.
    pub refresher: Refresher,
    /// A refresh UPDATE of ours is in flight.
    pub refreshing: bool,
}

impl Endpoint {
    /// What an INVITE of ours says about session timers.
    pub(super) fn session_request_headers() -> [(&'static str, String); 2] {
        [
            ("Session-Expires", DEFAULT_SE.to_string()),
            ("Min-SE", MIN_SE.to_string()),
        ]
    }

    /// The UAS decision on an incoming INVITE: `Err(min)` means 422 with `Min-SE: min`.
    pub(super) fn uas_session(req: &SipMessage) -> Result<Option<(u32, Refresher)>, u32> {
        let offered = req
            .get::<SessionExpires<'_>>()
            .ok()
            .flatten()
            .map(|s| (s.seconds, s.refresher));
        let supports = req
            .get_all::<Supported<'_>>()
            .unwrap_or_default()
            .iter()
            .any(|t| t.0.eq_ignore_ascii_case("timer"));
        negotiate_uas(offered, supports, MIN_SE, DEFAULT_SE)
    }

    /// Start (or restart) a call's session timer.
    pub(super) fn start_session(
        &mut self,
        now: Instant,
        call: CallHandle,
        interval: u32,
        refresher: Refresher,
        we_refresh: bool,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let timer = SessionTimer::new(now, interval, we_refresh);
        let at = timer.poll_timeout();
        c.session = Some(SessionState {
            timer,
            interval,
            we_refresh,
            refresher,
            refreshing: false,
        });
        self.schedule(TxRef::Session(call), Some(at));
    }

    /// A refresh went through (theirs received, or ours answered with 2xx).
    pub(super) fn session_refreshed(&mut self, now: Instant, call: CallHandle) {
        let Some(s) = self.calls.get(&call).and_then(|c| c.session.clone()) else {
            return;
        };
        self.start_session(now, call, s.interval, s.refresher, s.we_refresh);
    }

    /// The session timer of `call` fired.
    pub(super) fn on_session_timeout(&mut self, now: Instant, call: CallHandle) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(s) = c.session.as_mut() else { return };
        let action = s.timer.handle_timeout(now);
        let next = s.timer.poll_timeout();
        let (interval, refresher) = (s.interval, s.refresher);
        match action {
            Some(TimerAction::SendRefresh) => {
                s.refreshing = true;
                self.schedule(TxRef::Session(call), Some(next));
                let who = match refresher {
                    Refresher::Uac => "uac",
                    Refresher::Uas => "uas",
                };
                self.request_in_dialog(
                    now,
                    call,
                    Method::Update,
                    &[
                        ("Session-Expires", format!("{interval};refresher={who}")),
                        ("Supported", "timer".into()),
                    ],
                    None,
                );
            }
            Some(TimerAction::Expired) => {
                // RFC 4028 §10: the session is over; say so and send BYE.
                c.session = None;
                self.events.push_back(UaEvent::SessionExpired { call });
                self.hangup(
                    now,
                    call,
                    Some("SIP;cause=408;text=\"Session timer expired\""),
                );
            }
            None => self.schedule(TxRef::Session(call), Some(next)),
        }
    }
}

/// The refresher named in a 2xx we received, and whether it is us (we are the UAC).
pub(super) fn uac_session_from_2xx(resp: &SipMessage) -> Option<(u32, Refresher, bool)> {
    let se = resp.get::<SessionExpires<'_>>().ok().flatten()?;
    let refresher = se.refresher.unwrap_or(Refresher::Uac);
    Some((
        se.seconds.max(MIN_SE),
        refresher,
        refresher == Refresher::Uac,
    ))
}
