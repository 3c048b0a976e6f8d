//! The media of calls between two IP legs (SIP ↔ H.323) and DTMF across the legs, for
//! the signalling task:
//! - [`IpMedia::relay`]: the core's `Action::Relay` — the two legs' anchor ports bound
//!   and handed to the media engine's RTP relay (`media::engine::relay`), started on the
//!   first relayed call; nothing when a leg passes its media through (`media =
//!   "direct"`: the leg has no port of its own).
//! - DTMF: a digit for a relayed SIP leg that negotiated telephone-event goes into its
//!   RTP as RFC 4733 events ([`IpMedia::relay_digits`]); a digit for a bridged ISDN leg is
//!   played in-band on its B-channel (Q.23 tones, [`IpMedia::play_inband`]), one after the
//!   other; a telephone-event from a relayed leg that the other leg cannot take as events
//!   (H.323: UserInputIndication) and an in-band digit heard on a B-channel bridged to an
//!   H.323 leg are turned into `Message::Digits` for the core ([`IpMedia::poll_digits`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::core::{CallId, LegId, Media};
use crate::id_map::HashMap;
use crate::media::engine::relay::{
    Codec, RelayConfig, RelayEvent, RelayKey, RelaySide, RelayStats, RtpRelay, Side,
};
use crate::media::engine::{ChannelKey, MediaEngine, MediaEvent};
use crate::rtp::PayloadType;

/// How long a digit received by signalling (H.245 UserInputIndication, SIP INFO) plays
/// as events or tones: 100 ms, the usual keypad duration (Q.24 minimum 40 ms).
pub const DIGIT_DURATION: Duration = Duration::from_millis(100);
/// Tone plus pause per in-band digit (Q.24 §3.3: ≥ 40 ms pause).
const INBAND_PERIOD: Duration = Duration::from_millis(180);
/// In-band digits waiting to be played on one B-channel at most (some 11 s of them):
/// more is a peer sending digits faster than they can be keyed, and is dropped rather
/// than queued for hours.
const MAX_QUEUED_TONES: usize = 64;

/// A relayed call.
struct Relayed {
    key: RelayKey,
    a: LegId,
    b: LegId,
    /// Which legs negotiated telephone-event (A, B).
    events: [bool; 2],
}

/// What a digit detected in the media means for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardDigit {
    pub call: CallId,
    /// The leg whose party pressed the key.
    pub leg: LegId,
    pub digit: char,
}

/// What [`IpMedia::poll_relay`] found.
#[derive(Debug, Default)]
pub struct RelayOutcome {
    /// Digits for the other leg's signalling.
    pub digits: Vec<HeardDigit>,
    /// Calls whose RTP timed out (to clear).
    pub timeouts: Vec<CallId>,
    /// Calls whose removed relay let go of its ports.
    pub freed: Vec<CallId>,
    /// The figures of the relays removed (for the metrics).
    pub ended: Vec<RelayStats>,
}

/// Relayed calls, B-channel bridges' RTP legs, in-band digits waiting to play.
#[derive(Default)]
pub struct IpMedia {
    relay: Option<RtpRelay>,
    relays: HashMap<CallId, Relayed>,
    /// Relays being removed (`unrelay`) whose sockets the relay thread still holds, with
    /// their call: a new relay or bridge of that call (a transfer kept one of its legs)
    /// binds the same port only once [`RelayEvent::Removed`] says it is free.
    removing: HashMap<RelayKey, CallId>,
    /// Media-engine channels → their call and the RTP leg bridged to the B-channel.
    bridged: HashMap<ChannelKey, (CallId, LegId)>,
    /// In-band digits to play: when, on which engine channel.
    tones: VecDeque<(Instant, ChannelKey, char)>,
}

impl IpMedia {
    /// Relay the call's RTP between leg `a` (our port `ports.0`, far end in `a_media`)
    /// and leg `b`.
    pub fn relay(
        &mut self,
        call: CallId,
        (a, a_media): (LegId, Media),
        (b, b_media): (LegId, Media),
        ports: (u16, u16),
        pool: &crate::rtp::RtpPortPool,
    ) {
        let side = |m: Media, port: u16| -> Option<RelaySide> {
            let Media::Rtp {
                remote,
                law,
                telephone_event,
            } = m
            else {
                return None;
            };
            // The socket an ended call handed back on this port, if any.
            let socket = match pool.bind(port) {
                Ok(s) => s,
                Err(e) => {
                    warn!(%call, port, error = %e, "RTP port not bound; call not relayed");
                    return None;
                }
            };
            Some(RelaySide {
                socket,
                remote,
                law,
                payload_type: PayloadType::g711(law),
                event_payload_type: telephone_event.and_then(PayloadType::new),
            })
        };
        let (Some(sa), Some(sb)) = (side(a_media, ports.0), side(b_media, ports.1)) else {
            return;
        };
        let events = [
            sa.event_payload_type.is_some(),
            sb.event_payload_type.is_some(),
        ];
        let (ra, rb) = (sa.remote, sb.remote);
        if self.relay.is_none() {
            match RtpRelay::start() {
                Ok(r) => self.relay = Some(r),
                Err(e) => {
                    warn!(error = %e, "RTP relay not started; call without media");
                    return;
                }
            }
        }
        let Some(relay) = &mut self.relay else {
            return;
        };
        match relay.add(RelayConfig::new(sa, sb)) {
            Ok(key) => {
                info!(%call, a = %ra, b = %rb, ports = ?ports, "media relayed");
                self.relays.insert(call, Relayed { key, a, b, events });
            }
            Err(e) => warn!(%call, error = %e, "RTP relay refused the call"),
        }
    }

    /// A relayed leg's far end moved or renegotiated its codec (a re-INVITE or UPDATE,
    /// a re-opened H.245 channel): the relay sends to `remote` from now on, in `law`,
    /// with telephone-events as negotiated. False when the call is not relayed.
    pub fn set_media(
        &mut self,
        call: CallId,
        leg: LegId,
        remote: SocketAddr,
        codec: Codec,
    ) -> bool {
        let (Some(r), Some(relay)) = (self.relays.get_mut(&call), &self.relay) else {
            return false;
        };
        let side = if leg == r.a { Side::A } else { Side::B };
        r.events[side.index()] = codec.event_payload_type.is_some();
        if let Err(e) = relay
            .set_remote(r.key, side, remote)
            .and_then(|()| relay.set_codec(r.key, side, codec))
        {
            debug!(error = %e, "relay gone");
        }
        true
    }

    /// The call ended.
    pub fn unrelay(&mut self, call: CallId) {
        if let (Some(r), Some(relay)) = (self.relays.remove(&call), &self.relay) {
            match relay.remove(r.key) {
                Ok(()) => {
                    self.removing.insert(r.key, call);
                }
                Err(e) => debug!(error = %e, "relay gone"),
            }
        }
        let keys: Vec<ChannelKey> = self
            .bridged
            .iter()
            .filter(|(_, (c, _))| *c == call)
            .map(|(k, _)| *k)
            .collect();
        self.tones.retain(|(_, k, _)| !keys.contains(k));
        self.bridged.retain(|_, (c, _)| *c != call);
    }

    /// Whether a relay of `call` is still being removed (its ports not yet free).
    pub fn unrelaying(&self, call: CallId) -> bool {
        self.removing.values().any(|c| *c == call)
    }

    /// Call `from` was merged into `into` (`Action::Merged`): its relays still being
    /// removed now hold `into`'s ports.
    pub fn merged(&mut self, from: CallId, into: CallId) {
        for c in self.removing.values_mut().filter(|c| **c == from) {
            *c = into;
        }
    }

    /// Remember which RTP leg an engine channel bridges (for the digits it hears).
    pub fn bridged(&mut self, key: ChannelKey, call: CallId, rtp_leg: LegId) {
        self.bridged.insert(key, (call, rtp_leg));
    }

    /// `digits` for `leg` of a relayed call: as RFC 4733 events in its RTP when it
    /// negotiated them. False when they must go another way (SIP INFO).
    pub fn relay_digits(&self, call: CallId, leg: LegId, digits: &str) -> bool {
        let (Some(r), Some(relay)) = (self.relays.get(&call), &self.relay) else {
            return false;
        };
        let side = if leg == r.a { Side::A } else { Side::B };
        let has_events = match side {
            Side::A => r.events[0],
            Side::B => r.events[1],
        };
        if !has_events {
            return false;
        }
        for d in digits.chars() {
            if let Err(e) = relay.send_digit(r.key, side, d, DIGIT_DURATION) {
                debug!(error = %e, "relay gone");
                return false;
            }
        }
        debug!(%call, %leg, digits, "digits as RFC 4733 events");
        true
    }

    /// `digits` for the ISDN leg of bridged call `call`: played in-band on its
    /// B-channel (engine channel `key`), one after the other.
    pub fn play_inband(&mut self, now: Instant, key: ChannelKey, digits: &str) {
        let mut at = self
            .tones
            .iter()
            .filter(|(_, k, _)| *k == key)
            .map(|(t, _, _)| *t + INBAND_PERIOD)
            .max()
            .unwrap_or(now)
            .max(now);
        let queued = self.tones.iter().filter(|(_, k, _)| *k == key).count();
        let room = MAX_QUEUED_TONES.saturating_sub(queued);
        if digits.chars().count() > room {
            debug!(
                ?key,
                queued, digits, "in-band digits beyond the queue dropped"
            );
        }
        for d in digits.chars().take(room) {
            self.tones.push_back((at, key, d));
            at += INBAND_PERIOD;
        }
    }

    /// The engine channel of call `call`'s B-channel bridge, if it is bridged.
    pub fn channel_of(&self, call: CallId) -> Option<ChannelKey> {
        self.bridged
            .iter()
            .find(|(_, (c, _))| *c == call)
            .map(|(k, _)| *k)
    }

    /// Play the in-band digits that are due; the next time one is.
    pub fn run_tones(&mut self, now: Instant, engine: Option<&MediaEngine>) -> Option<Instant> {
        let mut i = 0;
        while i < self.tones.len() {
            let (at, key, d) = self.tones[i];
            if at <= now {
                self.tones.remove(i);
                if let Some(m) = engine {
                    if let Err(e) = m.play_digit(key, d, DIGIT_DURATION) {
                        debug!(error = %e, "media channel gone");
                    }
                }
            } else {
                i += 1;
            }
        }
        self.tones.iter().map(|(t, _, _)| *t).min()
    }

    /// A media-engine event: a digit heard on a B-channel bridged to an IP leg that takes
    /// digits from signalling (`h323_leg` says whether the RTP leg is H.323) becomes a
    /// digit of the ISDN party (`isdn_leg_of` finds that leg).
    pub fn engine_digit(
        &self,
        ev: &MediaEvent,
        h323_leg: impl Fn(LegId) -> bool,
        isdn_leg_of: impl Fn(LegId) -> Option<LegId>,
    ) -> Option<HeardDigit> {
        let MediaEvent::Digit {
            key,
            digit,
            source: crate::media::engine::DigitSource::Tdm,
        } = ev
        else {
            return None;
        };
        let (call, rtp_leg) = *self.bridged.get(key)?;
        if !h323_leg(rtp_leg) {
            // SIP: the engine sends RFC 4733 events (or keeps the tones in the audio).
            return None;
        }
        Some(HeardDigit {
            call,
            leg: isdn_leg_of(rtp_leg)?,
            digit: *digit,
        })
    }

    /// Relay events: digits the other leg takes from signalling, RTP timeouts (the
    /// calls to clear), and the calls whose removed relay freed its ports.
    pub fn poll_relay(&mut self) -> RelayOutcome {
        let mut out = RelayOutcome::default();
        let Some(relay) = &self.relay else {
            return out;
        };
        while let Ok(ev) = relay.events().try_recv() {
            let find = |key: RelayKey| self.relays.iter().find(|(_, r)| r.key == key);
            match ev {
                RelayEvent::Digit {
                    key,
                    from,
                    digit,
                    forwarded: false,
                } => {
                    if let Some((call, r)) = find(key) {
                        let leg = if from == Side::A { r.a } else { r.b };
                        out.digits.push(HeardDigit {
                            call: *call,
                            leg,
                            digit,
                        });
                    }
                }
                RelayEvent::RtpTimeout { key, side } => {
                    if let Some((call, _)) = find(key) {
                        warn!(%call, ?side, "RTP timeout (relay)");
                        out.timeouts.push(*call);
                    }
                }
                RelayEvent::Removed { key, stats } => {
                    debug!(?key, ?stats, "relay removed");
                    out.ended.push(stats);
                    if let Some(call) = self.removing.remove(&key) {
                        out.freed.push(call);
                    }
                }
                RelayEvent::AddFailed { key, reason } => {
                    warn!(?key, reason, "relay failed");
                    // Its sockets are closed already: nothing will report their removal.
                    self.relays.retain(|_, r| r.key != key);
                    if let Some(call) = self.removing.remove(&key) {
                        out.freed.push(call);
                    }
                }
                other => debug!(?other, "relay"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inband_digits_play_one_after_the_other_and_go_with_the_call() {
        let mut m = IpMedia::default();
        let t0 = Instant::now();
        let (key, call) = (ChannelKey(7), CallId(3));
        m.bridged(key, call, LegId(5));
        assert_eq!(m.channel_of(call), Some(key));
        m.play_inband(t0, key, "12");
        m.play_inband(t0, key, "3");
        let plan: Vec<(Duration, char)> = m.tones.iter().map(|(t, _, d)| (*t - t0, *d)).collect();
        assert_eq!(
            plan,
            vec![
                (Duration::ZERO, '1'),
                (INBAND_PERIOD, '2'),
                (2 * INBAND_PERIOD, '3')
            ]
        );
        assert_eq!(m.run_tones(t0, None), Some(t0 + INBAND_PERIOD));
        assert_eq!(m.tones.len(), 2, "the first digit played");
        m.unrelay(call);
        assert!(m.tones.is_empty(), "the call's digits are dropped with it");
        assert_eq!(m.channel_of(call), None);
    }

    /// Digits sent faster than they can be keyed are not queued without end.
    #[test]
    fn inband_digits_queue_no_more_than_a_few_seconds() {
        let mut m = IpMedia::default();
        let t0 = Instant::now();
        let (key, other) = (ChannelKey(7), ChannelKey(8));
        m.play_inband(t0, key, &"5".repeat(1000));
        m.play_inband(t0, key, "9");
        m.play_inband(t0, other, "1");
        assert_eq!(
            m.tones.iter().filter(|(_, k, _)| *k == key).count(),
            MAX_QUEUED_TONES
        );
        assert!(
            m.tones.iter().all(|(_, _, d)| *d != '9'),
            "the queue was full"
        );
        assert_eq!(m.tones.iter().filter(|(_, k, _)| *k == other).count(), 1);
        // Once some have played, there is room again.
        m.run_tones(t0 + 2 * INBAND_PERIOD, None);
        m.play_inband(t0, key, "9");
        assert_eq!(m.tones.back().map(|(_, _, d)| *d), Some('9'));
    }

    #[test]
    fn tdm_digits_count_only_for_h323_legs() {
        let mut m = IpMedia::default();
        let key = ChannelKey(1);
        m.bridged(key, CallId(1), LegId(2));
        let ev = MediaEvent::Digit {
            key,
            digit: '9',
            source: crate::media::engine::DigitSource::Tdm,
        };
        assert_eq!(
            m.engine_digit(&ev, |_| true, |_| Some(LegId(1))),
            Some(HeardDigit {
                call: CallId(1),
                leg: LegId(1),
                digit: '9'
            })
        );
        assert_eq!(m.engine_digit(&ev, |_| false, |_| Some(LegId(1))), None);
        let rtp = MediaEvent::Digit {
            key,
            digit: '9',
            source: crate::media::engine::DigitSource::Rfc4733,
        };
        assert_eq!(m.engine_digit(&rtp, |_| true, |_| Some(LegId(1))), None);
    }
}
