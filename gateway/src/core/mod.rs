//! The core: calls of two legs bridged through the neutral call model.
//!
//! Sans-IO like the protocol crates: legs feed it with [`Core::incoming`] and
//! [`Core::handle`], it answers with [`Action`]s from [`Core::poll_action`]: place an outgoing
//! leg on a trunk, or deliver a neutral message to a leg. It owns routing (the config's
//! routes, failover on congestion), trunk groups (the channel table and hunters), number
//! manipulation, cause mapping (RFC 3398 with overrides, Reason header both ways), call
//! detail records and the channel audit.

pub mod model;
pub mod number;
mod refer_join;
mod transfer;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use dahdi_driver::{ChannelId, SpanId};
use tracing::{debug, info, warn};

use crate::cdr::{Cdr, CdrError, CdrWriter};
use crate::config::{Config, HoldMedia, NumberRules, OverlapSending};
use crate::id_map::HashMap;
use crate::interwork::cause::CauseMap;
use crate::route::{Match, Pattern, Router};
use crate::trunk::{BusyReason, ChannelState, ChannelTable, Direction, Hunter};

pub use model::{
    Bearer, CallId, Clearing, Delivery, LegId, Media, Message, Number, Reason, RedirectReason,
    Redirection, Setup, TransferStatus,
};
pub use transfer::{ReferRefused, ReplaceRefused};

/// Q.850 causes used by the core itself.
pub mod cause {
    pub const UNALLOCATED: u8 = 1;
    pub const NORMAL_CLEARING: u8 = 16;
    pub const NO_ANSWER: u8 = 19;
    pub const INVALID_NUMBER_FORMAT: u8 = 28;
    pub const NO_CIRCUIT: u8 = 34;
    pub const TEMPORARY_FAILURE: u8 = 41;
    pub const SWITCHING_EQUIPMENT_CONGESTION: u8 = 42;
    pub const CHANNEL_UNAVAILABLE: u8 = 44;
    pub const BEARER_NOT_AVAILABLE: u8 = 58;
    pub const INCOMPATIBLE_DESTINATION: u8 = 88;

    /// Causes after which the next trunk of the route is tried (congestion, Q.850 §2.2.7.1
    /// class 010).
    pub fn is_failover(c: u8) -> bool {
        matches!(
            c,
            NO_CIRCUIT | SWITCHING_EQUIPMENT_CONGESTION | CHANNEL_UNAVAILABLE
        )
    }
}

/// Where call detail records go: the CSV writer in the daemon, a vector in tests.
pub trait CdrSink: Send {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError>;
    /// Makes every record written so far durable (a batching sink syncs here; see
    /// `cdr.rs`). The daemon calls it before it sends anything a turn produced.
    fn flush(&mut self) -> Result<(), CdrError> {
        Ok(())
    }
}

impl CdrSink for CdrWriter {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        CdrWriter::write(self, cdr)
    }
    fn flush(&mut self) -> Result<(), CdrError> {
        CdrWriter::flush(self)
    }
}

/// The kind of trunk a leg runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkKind {
    /// A trunk group of B-channels (ISDN PRI).
    Isdn,
    /// A SIP trunk.
    Sip,
    /// An H.323 peer or the gatekeeper (`[[h323_peer]]`, `[gatekeeper]`).
    H323,
}

/// What the core asks of the leg layer.
// `Originate` carries a whole Setup (numbers and names); there is one per outgoing leg,
// handed on once, so boxing it would only add an allocation per call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Place an outgoing leg: `trunk` is a trunk group (then `channel` is the B-channel the
    /// core hunted and seized) or a SIP trunk.
    Originate {
        call: CallId,
        leg: LegId,
        trunk: String,
        kind: TrunkKind,
        channel: Option<ChannelId>,
        setup: Setup,
        /// The call is a transfer's new call (RFC 3515 §2.4.3): the `Referred-By` value of
        /// the REFER (RFC 3892 §3, carried on as received; `None` if it had none). Always
        /// `None` for an ordinary call.
        referred_by: Option<String>,
        /// The transfer's REFER named a dialog to replace (`Refer-To: <…?Replaces=…>`,
        /// RFC 3891 §7.1, an attended transfer signalled by REFER): the `Replaces` value
        /// (unescaped) that the INVITE to the target carries. Only on SIP trunks; always
        /// `None` for an ordinary call.
        replaces: Option<String>,
    },
    /// The call is answered: bridge B-channel `channel` to the RTP stream of leg `rtp_leg`
    /// (the media engine's business).
    Bridge {
        call: CallId,
        channel: ChannelId,
        rtp_leg: LegId,
        remote: std::net::SocketAddr,
        law: crate::media::Law,
        telephone_event: Option<u8>,
        /// The call's bearer: the echo canceller serves speech only.
        bearer: Bearer,
        /// Answered already; else bridged for early media, and [`Action::Answered`]
        /// follows the answer (the RTP timeout watches answered calls only).
        answered: bool,
    },
    /// A call bridged for early media was answered.
    Answered { call: CallId },
    /// The call between two IP legs is answered (or has early media): relay RTP between
    /// leg `a` (its far end at `a_media`) and leg `b` (at `b_media`) on the gateway's own
    /// ports of those legs, when both legs anchor their media (the media engine's relay).
    Relay {
        call: CallId,
        a: LegId,
        a_media: Media,
        b: LegId,
        b_media: Media,
    },
    /// A bridged leg's RTP peer moved ([`Message::Media`] after the bridge was made).
    MediaChanged {
        call: CallId,
        leg: LegId,
        media: Media,
    },
    /// The call ended: stop bridging its media.
    Unbridge { call: CallId },
    /// Call `from` was merged into call `into` ([`Core::refer_join`]: a REFER whose
    /// `Refer-To` replaces another call's dialog joined the two calls' remaining
    /// parties). Comes after `from`'s [`Action::Unbridge`] and before `into`'s new
    /// bridge, relay or hairpin: whatever of `from` the leg layer still holds (a bridge
    /// or relay being removed, its B-channel or RTP port) now counts as `into`'s, so the
    /// new media path waits for it as for the call's own.
    Merged { from: CallId, into: CallId },
    /// Join two B-channels of the gateway's own spans back to back, with no RTP between
    /// them (a transfer that leaves both remaining parties on ISDN: the media engine
    /// copies each tick's samples of `a` to `b` and of `b` to `a`, converting A-law ↔
    /// µ-law when the spans differ). Ended like a bridge by [`Action::Unbridge`] of the
    /// same call. The core emits it only when the daemon said the media engine can
    /// ([`Core::set_hairpin`]); otherwise such a transfer fails (sipfrag 503, the call
    /// stays as it was).
    Hairpin {
        call: CallId,
        a: ChannelId,
        b: ChannelId,
    },
    /// The RTP side held (`held`) or resumed the bridged call: while held nothing goes to
    /// it (we answered recvonly/inactive, RFC 3264 §8.4) and the B-channel gets `media`
    /// (silence or music on hold, the ISDN trunk group's `hold_media`) instead of its
    /// RTP; resuming restores the bridge both ways.
    HoldMedia {
        call: CallId,
        held: bool,
        media: HoldMedia,
    },
    /// Deliver a message to a leg. After a [`Delivery::Release`] the leg is gone as far as
    /// the core is concerned; the leg finishes its protocol's clearing on its own.
    Deliver {
        call: CallId,
        leg: LegId,
        msg: Delivery,
    },
}

#[derive(Debug, Clone)]
struct Target {
    trunk: String,
    /// Called number as dialled after the route's strip/prefix.
    called: String,
}

#[derive(Debug)]
struct Leg {
    id: LegId,
    trunk: String,
    kind: TrunkKind,
    channel: Option<ChannelId>,
}

#[derive(Debug)]
struct Call {
    id: CallId,
    a: Leg,
    b: Option<Leg>,
    setup: Setup,
    /// Dialled called number as received (overlap digits appended).
    dialled: String,
    routed: bool,
    targets: VecDeque<Target>,
    /// Channels refused with cause 44 during this call's hunting.
    excluded: Vec<ChannelId>,
    /// Cause of the last failed attempt (reported if no trunk is left).
    last_failure: Option<Clearing>,
    answered: Option<SystemTime>,
    /// When the call is cleared with cause 19 if still unanswered (`no_answer_timeout`,
    /// from its first outgoing attempt).
    no_answer_at: Option<Instant>,
    /// The called side alerted or gave in-band information (Q.931 §5.1.6/§5.1.7): the
    /// caller has heard this route, so a later failure ends the call instead of trying the
    /// next trunk group.
    alerted: bool,
    started: SystemTime,
    out_trunk: String,
    /// Kind of the last outgoing attempt's trunk.
    out_kind: Option<TrunkKind>,
    media: Option<Media>,
    bridged: bool,
    /// The RTP side holds the call (RFC 3264 §8.4).
    held: bool,
    /// The calling identity was verified by the incoming leg (trusted P-Asserted-Identity,
    /// RFC 3325; ISDN screening network provided / verified and passed, Q.931 §4.5.10).
    calling_verified: bool,
    /// Overlap sending on the outgoing leg.
    overlap: Option<OverlapOut>,
    /// A blind transfer in progress (RFC 3515): the new call to the target.
    transfer: Option<transfer::Transfer>,
    /// The CDR `call_id` of the current part of the call: the call's id, then
    /// `call-N.1`, `call-N.2`… after transfers (each transfer attempt takes the next).
    record: String,
    next_record: u32,
    /// The CDR `transfer` column of the current part (`blind from call-N by …`).
    transfer_note: String,
}

/// A trunk group's live state.
#[derive(Debug)]
struct Group {
    hunter: Hunter,
    direction: Direction,
    numbering: NumberRules,
    overlap: OverlapSending,
    hold_media: HoldMedia,
}

/// Overlap sending in progress on a call's outgoing ISDN leg (Q.931 §5.1.3): the SETUP
/// went without Sending complete; digits that arrive later (RFC 3578 INVITEs, INFO) go out
/// in INFORMATION until the number matches the group's digit map, the inter-digit timer
/// runs out, or the network says it has enough (CALL PROCEEDING, ALERTING, CONNECT).
#[derive(Debug)]
struct OverlapOut {
    /// The called number sent so far.
    sent: String,
    map: Vec<Pattern>,
    timeout: Duration,
    /// When the number is declared complete without a further digit; `None` once it is.
    deadline: Option<Instant>,
}

/// Whether `number` is complete by `map` (a full match of one of its patterns).
fn complete_by(map: &[Pattern], number: &str) -> bool {
    map.iter().any(|p| p.check(number) == Match::Full)
}

/// Counters for metrics and `ctl`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub attempted: u64,
    pub answered: u64,
    /// Failed (not answered) calls by the Q.850 cause they ended with.
    pub failed_by_cause: BTreeMap<u8, u64>,
    pub cdr_errors: u64,
}

/// A call as shown by `ctl show calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    pub id: CallId,
    pub calling: String,
    pub called: String,
    pub in_trunk: String,
    pub out_trunk: String,
    pub channels: Vec<ChannelId>,
    pub answered: bool,
}

/// A trunk group as shown by `ctl show trunk-groups` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    pub name: String,
    pub idle: usize,
    pub busy: usize,
    pub out_of_service: usize,
}

/// The call core. Single-threaded: the daemon runs it in one task and feeds it from the legs.
pub struct Core {
    router: Router,
    causes: CauseMap,
    channels: ChannelTable,
    groups: BTreeMap<String, Group>,
    sip_trunks: HashMap<String, NumberRules>,
    /// H.323 peers and the gatekeeper, by trunk name.
    h323_trunks: HashMap<String, NumberRules>,
    /// H.323 trunks whose RTP passes through (`media = "direct"`): the gateway holds no
    /// port of theirs, so a transfer cannot move their media to another leg.
    direct_media: std::collections::HashSet<String>,
    calls: BTreeMap<CallId, Call>,
    legs: HashMap<LegId, CallId>,
    next_call: u64,
    next_leg: u64,
    actions: VecDeque<Action>,
    cdr: Box<dyn CdrSink>,
    epoch: (Instant, SystemTime),
    stats: Stats,
    /// Inter-digit deadlines of calls in overlap sending.
    overlap_deadlines: std::collections::BTreeSet<(Instant, CallId)>,
    /// `[general] no_answer_timeout`, and the deadlines of unanswered calls.
    no_answer: Option<Duration>,
    answer_deadlines: std::collections::BTreeSet<(Instant, CallId)>,
    /// The media engine can join two B-channels ([`Action::Hairpin`]).
    hairpin: bool,
    /// B-channels held for calls that have arrived on them but are not the core's yet
    /// (an NI-2 SETUP waiting for its caller's name): the call id they will have, since
    /// when.
    reserved: HashMap<CallId, (ChannelId, Instant)>,
}

/// How long a reservation may wait for its call before the audit frees the channel (a
/// SETUP waits for its name one second at most).
pub const RESERVATION_LIMIT: Duration = Duration::from_secs(30);

impl Core {
    /// Number calls from `last + 1` on (the CDR file's last call number, so that ids stay
    /// unique in it across restarts).
    pub fn continue_after(&mut self, last: u64) {
        self.next_call = self.next_call.max(last.saturating_add(1));
    }

    /// A core for `config`, writing CDRs to `cdr`. `now` pins the wall clock used in CDRs
    /// to the `Instant`s the core is fed (so tests in virtual time get consistent records).
    pub fn new(config: &Config, cdr: Box<dyn CdrSink>, now: Instant) -> Core {
        let mut core = Core {
            router: Router::default(),
            causes: CauseMap::rfc3398(),
            channels: ChannelTable::new(),
            groups: BTreeMap::new(),
            sip_trunks: HashMap::default(),
            h323_trunks: HashMap::default(),
            direct_media: Default::default(),
            calls: BTreeMap::new(),
            legs: HashMap::default(),
            next_call: 1,
            next_leg: 1,
            actions: VecDeque::new(),
            cdr,
            epoch: (now, SystemTime::now()),
            stats: Stats::default(),
            overlap_deadlines: std::collections::BTreeSet::new(),
            no_answer: None,
            answer_deadlines: std::collections::BTreeSet::new(),
            hairpin: false,
            reserved: HashMap::default(),
        };
        core.reload(config);
        core
    }

    /// Apply a (new) configuration. Calls in progress keep their legs and channels; channels
    /// that are no longer configured are freed when their calls end.
    pub fn reload(&mut self, config: &Config) {
        self.router = Router::new(&config.routes);
        self.causes = CauseMap::with_overrides(&config.cause_map);
        self.no_answer = config.general.no_answer_timeout();
        let first_load = self.channels.channels().is_empty();
        for span in &config.spans {
            let known = span.bearers().any(|ts| {
                self.channels.contains(ChannelId {
                    span: span.id,
                    timeslot: ts,
                })
            });
            for ts in span.bearers() {
                self.channels.add(ChannelId {
                    span: span.id,
                    timeslot: ts,
                });
            }
            if !first_load && !known {
                // A span added by a reload: its channels stay out of service (alarm) until
                // its D-channel, opened by the daemon, reports its data link up, so
                // hunting never picks them before.
                info!(span = %span.id, "span added by reload: out of service until its data link is up");
                self.channels.set_span_alarm(span.id, true);
            }
        }
        let mut groups = BTreeMap::new();
        for g in &config.trunk_groups {
            let chans: Vec<ChannelId> = g
                .members
                .iter()
                .flat_map(|m| {
                    m.channels.iter().map(|t| ChannelId {
                        span: m.span,
                        timeslot: *t,
                    })
                })
                .collect();
            let hunter = match self.groups.remove(&g.name) {
                Some(old) if old.hunter.channels() == chans.as_slice() => {
                    let mut h = old.hunter;
                    h.set_policy(g.hunting);
                    h
                }
                _ => Hunter::new(chans, g.hunting),
            };
            groups.insert(
                g.name.clone(),
                Group {
                    hunter,
                    direction: g.direction,
                    numbering: g.numbering.clone(),
                    overlap: g.overlap.clone(),
                    hold_media: g.hold_media,
                },
            );
        }
        self.groups = groups;
        self.sip_trunks = config
            .sip_trunks
            .iter()
            .map(|t| (t.name.clone(), t.numbering.clone()))
            .collect();
        self.direct_media = config
            .h323
            .iter()
            .flat_map(|h| {
                h.peers
                    .iter()
                    .map(|p| (p.name.clone(), p.media))
                    .chain(h.gatekeeper.iter().map(|g| (g.name.clone(), g.media)))
            })
            .filter(|(_, m)| *m == crate::config::MediaPath::Direct)
            .map(|(n, _)| n)
            .collect();
        self.h323_trunks = config
            .h323
            .iter()
            .flat_map(|h| {
                h.peers
                    .iter()
                    .map(|p| (p.name.clone(), p.numbering.clone()))
                    .chain(
                        h.gatekeeper
                            .iter()
                            .map(|g| (g.name.clone(), g.numbering.clone())),
                    )
            })
            .collect();
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }

    /// The kind of a trunk by name, if configured.
    pub fn trunk_kind(&self, trunk: &str) -> Option<TrunkKind> {
        if self.groups.contains_key(trunk) {
            Some(TrunkKind::Isdn)
        } else if self.sip_trunks.contains_key(trunk) {
            Some(TrunkKind::Sip)
        } else if self.h323_trunks.contains_key(trunk) {
            Some(TrunkKind::H323)
        } else {
            None
        }
    }

    /// The trunk group an incoming ISDN call on `channel` belongs to (the first group that
    /// lists the channel and accepts incoming calls).
    pub fn group_of(&self, channel: ChannelId) -> Option<&str> {
        self.groups
            .iter()
            .find(|(_, g)| g.direction.allows_incoming() && g.hunter.channels().contains(&channel))
            .map(|(n, _)| n.as_str())
    }

    /// Number rules of a trunk (group or SIP).
    pub fn numbering(&self, trunk: &str) -> NumberRules {
        self.groups
            .get(trunk)
            .map(|g| g.numbering.clone())
            .or_else(|| self.sip_trunks.get(trunk).cloned())
            .or_else(|| self.h323_trunks.get(trunk).cloned())
            .unwrap_or_default()
    }

    /// The cause map in force (legs use it for responses outside calls).
    pub fn causes(&self) -> &CauseMap {
        &self.causes
    }

    fn new_leg_id(&mut self) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        id
    }

    /// A leg received a new call on `trunk` (`channel`: the B-channel an ISDN call arrived
    /// on). Returns the call and the id of the incoming leg; what happens next comes out of
    /// [`Core::poll_action`].
    pub fn incoming(
        &mut self,
        now: Instant,
        trunk: &str,
        channel: Option<ChannelId>,
        setup: Setup,
    ) -> (CallId, LegId) {
        let id = CallId(self.next_call);
        self.next_call += 1;
        self.incoming_as(now, id, trunk, channel, setup)
    }

    /// Hold B-channel `ch` for a call that has arrived on it and comes to the core later
    /// ([`Core::incoming_reserved`]), so that no outgoing call hunts it meanwhile. As for
    /// a call, the network's call takes the channel from an outgoing call of ours still
    /// being set up on it (glare). `None`: the channel is not ours to hold (busy, or not
    /// configured); the call then meets that when it comes.
    pub fn reserve(&mut self, now: Instant, ch: ChannelId) -> Option<CallId> {
        let id = CallId(self.next_call);
        if !self.channels.contains(ch) {
            return None;
        }
        if !(self.channels.seize(ch, id.0, BusyReason::Incoming) || self.yield_in_glare(ch, id)) {
            return None;
        }
        self.next_call += 1;
        self.reserved.insert(id, (ch, now));
        debug!(call = %id, channel = %ch, "channel reserved for a call on its way");
        Some(id)
    }

    /// The call a channel was reserved for ([`Core::reserve`]) has come: as
    /// [`Core::incoming`], the call taking the reservation's id and, if the reservation
    /// still holds it, its channel (else the channel is seized as for any call).
    pub fn incoming_reserved(
        &mut self,
        now: Instant,
        reservation: CallId,
        trunk: &str,
        channel: Option<ChannelId>,
        setup: Setup,
    ) -> (CallId, LegId) {
        self.reserved.remove(&reservation);
        self.incoming_as(now, reservation, trunk, channel, setup)
    }

    /// The call a channel was reserved for will not come (cleared while it waited).
    pub fn unreserve(&mut self, now: Instant, reservation: CallId) {
        if let Some((ch, _)) = self.reserved.remove(&reservation) {
            self.channels.release(ch, reservation.0, now);
        }
    }

    fn incoming_as(
        &mut self,
        now: Instant,
        id: CallId,
        trunk: &str,
        channel: Option<ChannelId>,
        setup: Setup,
    ) -> (CallId, LegId) {
        let leg = self.new_leg_id();
        let kind = self.trunk_kind(trunk).unwrap_or(TrunkKind::Sip);
        self.stats.attempted += 1;
        let rules = self.numbering(trunk);
        let dialled = number::dialled(&setup.called, &rules);
        debug!(call = %id, %leg, trunk, called = %dialled, "incoming call");
        let mut seized = None;
        let mut refuse = None;
        if let Some(ch) = channel {
            let reserved = matches!(
                self.channels.state(ch),
                Some(ChannelState::Busy { call, .. }) if call == id.0
            );
            if reserved
                || self.channels.seize(ch, id.0, BusyReason::Incoming)
                || (kind == TrunkKind::Isdn && self.yield_in_glare(ch, id))
            {
                seized = Some(ch);
            } else {
                refuse = Some(cause::CHANNEL_UNAVAILABLE);
            }
        }
        if kind == TrunkKind::Isdn {
            if let Some(g) = self.groups.get(trunk) {
                if !g.direction.allows_incoming() {
                    refuse = Some(cause::NO_CIRCUIT);
                }
            }
        }
        let a = Leg {
            id: leg,
            trunk: trunk.to_string(),
            kind,
            channel: seized,
        };
        let call = self.new_call(now, id, a, setup, dialled);
        self.calls.insert(id, call);
        self.legs.insert(leg, id);
        match refuse {
            Some(c) => self.fail(now, id, self.clearing_q850(c), "gateway"),
            None => self.try_route(now, id),
        }
        (id, leg)
    }

    /// A call record with its incoming leg `a`, not yet routed.
    fn new_call(&self, now: Instant, id: CallId, a: Leg, setup: Setup, dialled: String) -> Call {
        Call {
            id,
            a,
            b: None,
            setup,
            dialled,
            routed: false,
            targets: VecDeque::new(),
            excluded: Vec::new(),
            last_failure: None,
            answered: None,
            alerted: false,
            started: self.wall(now),
            out_trunk: String::new(),
            out_kind: None,
            media: None,
            bridged: false,
            held: false,
            calling_verified: false,
            overlap: None,
            no_answer_at: None,
            transfer: None,
            record: id.to_string(),
            next_record: 1,
            transfer_note: String::new(),
        }
    }

    /// A call refused on its way in before the core saw it (an H.323 call the gatekeeper
    /// did not admit, H.225.0 §7.8): counted and recorded (its CDR, `release_side`
    /// `side`) like any call that failed with `q850`; nothing is delivered to the leg,
    /// which refuses the call itself.
    pub fn refused(
        &mut self,
        now: Instant,
        trunk: &str,
        setup: Setup,
        q850: u8,
        side: &str,
    ) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        let leg = self.new_leg_id();
        let kind = self.trunk_kind(trunk).unwrap_or(TrunkKind::H323);
        self.stats.attempted += 1;
        let dialled = number::dialled(&setup.called, &self.numbering(trunk));
        info!(call = %id, %leg, trunk, called = %dialled, cause = q850, "call refused before routing");
        let a = Leg {
            id: leg,
            trunk: trunk.to_string(),
            kind,
            channel: None,
        };
        let call = self.new_call(now, id, a, setup, dialled);
        self.calls.insert(id, call);
        self.legs.insert(leg, id);
        let c = self.clearing_q850(q850);
        self.end(now, id, c, side, Some(leg));
        id
    }

    fn clearing_q850(&self, c: u8) -> Clearing {
        Clearing {
            cause: c,
            status: self.causes.status_for_cause(c),
        }
    }

    /// Map a leg's reason to both forms (RFC 3398, RFC 3326 Reason preferred).
    pub fn clearing(&self, r: Reason) -> Clearing {
        match r {
            Reason::Q850(c) => self.clearing_q850(c),
            Reason::Sip { status, q850 } => {
                let cause = if status == 0 {
                    q850.unwrap_or(cause::NORMAL_CLEARING)
                } else {
                    self.causes.cause_for_status(status, q850)
                };
                Clearing {
                    cause,
                    status: if status == 0 {
                        self.causes.status_for_cause(cause)
                    } else {
                        status
                    },
                }
            }
        }
    }

    /// Glare (Q.931 §5.1.2, §5.2.3.1): the network's SETUP names channel `ch`, which an
    /// outgoing call of ours seized for a SETUP the network has not answered yet. The
    /// network's choice wins (our Q.931 stack, on the user side, has already given it
    /// the channel): the channel goes to the incoming call `to`. Our call keeps the
    /// channel's name on its leg, so that the cause 44 the network clears it with sends
    /// it to another channel of the same group (`b_released`); its release of `ch` is
    /// ignored, the channel being another call's by then.
    fn yield_in_glare(&mut self, ch: ChannelId, to: CallId) -> bool {
        let Some(ChannelState::Busy {
            call: ours,
            reason: BusyReason::Outgoing,
        }) = self.channels.state(ch)
        else {
            return false;
        };
        let pending = self.calls.get(&CallId(ours)).is_some_and(|c| {
            c.answered.is_none()
                && c.b
                    .as_ref()
                    .is_some_and(|b| b.kind == TrunkKind::Isdn && b.channel == Some(ch))
        });
        if !pending {
            return false;
        }
        info!(call = %to, ours, channel = %ch, "glare: the network's call takes the channel");
        self.channels
            .hand_over(ch, ours, to.0, BusyReason::Incoming)
    }

    fn try_route(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let from = call.a.trunk.clone();
        let overlap_in = !call.setup.complete && call.a.kind == TrunkKind::Isdn;
        match self.router.check(&from, &call.dialled) {
            // Q.931 §5.2.4 overlap receiving: while a route could still take a longer
            // number (`_0X.`, or `_2XX` beside `_2XXX`), the digits are collected until
            // Sending complete or T302, as Asterisk's overlap dialling does; the SIP side
            // rarely takes the rest of a number (RFC 3578). A call from SIP in overlap
            // goes out at the first match and sends the rest on (overlap sending).
            Match::Full if overlap_in && self.router.takes_more(&from, &call.dialled) => {
                debug!(call = %id, dialled = %call.dialled, "collecting digits: a route takes more");
                return;
            }
            Match::Full => {}
            Match::Partial if !call.setup.complete => {
                debug!(call = %id, dialled = %call.dialled, "collecting digits");
                return;
            }
            Match::Partial => {
                let c = self.clearing_q850(cause::INVALID_NUMBER_FORMAT);
                return self.fail(now, id, c, "gateway");
            }
            Match::None => {
                let c = self.clearing_q850(cause::UNALLOCATED);
                return self.fail(now, id, c, "gateway");
            }
        }
        let targets = self.route_targets(&from, &call.dialled);
        if let Some(call) = self.calls.get_mut(&id) {
            call.targets = targets;
            call.routed = true;
        }
        self.next_attempt(now, id);
    }

    /// Seize for call `id` an idle B-channel of ISDN trunk group `trunk`, chosen by the
    /// group's hunting policy among those not in `excluded` (tried already). `Err(None)`:
    /// no such group, or it takes no outgoing calls (the route is passed over);
    /// `Err(Some(c))`: no channel is idle, cause 34 (Q.850 no circuit/channel available),
    /// kept as the call's failure should no later route succeed.
    fn seize_outgoing(
        &mut self,
        id: CallId,
        trunk: &str,
        excluded: &[ChannelId],
    ) -> Result<ChannelId, Option<Clearing>> {
        let group = self.groups.get_mut(trunk).ok_or(None)?;
        if !group.direction.allows_outgoing() {
            return Err(None);
        }
        let Some(ch) = group.hunter.hunt(&self.channels, excluded) else {
            debug!(call = %id, group = %trunk, "no idle channel");
            return Err(Some(self.clearing_q850(cause::NO_CIRCUIT)));
        };
        self.channels.seize(ch, id.0, BusyReason::Outgoing);
        Ok(ch)
    }

    /// Place the call on the next target that has room; fail the call when none is left.
    fn next_attempt(&mut self, now: Instant, id: CallId) {
        loop {
            let (next, last_failure, excluded) = match self.calls.get_mut(&id) {
                Some(call) => (
                    call.targets.pop_front(),
                    call.last_failure,
                    call.excluded.clone(),
                ),
                None => return,
            };
            let Some(target) = next else {
                let c = last_failure.unwrap_or_else(|| self.clearing_q850(cause::NO_CIRCUIT));
                return self.fail(now, id, c, "gateway");
            };
            let Some(kind) = self.trunk_kind(&target.trunk) else {
                warn!(call = %id, trunk = %target.trunk, "route names an unknown trunk");
                continue;
            };
            let rules = self.numbering(&target.trunk);
            let overlap_cfg = self
                .groups
                .get(&target.trunk)
                .filter(|g| g.overlap.enabled)
                .map(|g| g.overlap.clone());
            let mut channel = None;
            if kind == TrunkKind::Isdn {
                match self.seize_outgoing(id, &target.trunk, &excluded) {
                    Ok(ch) => channel = Some(ch),
                    Err(None) => continue,
                    Err(Some(c)) => {
                        if let Some(call) = self.calls.get_mut(&id) {
                            call.last_failure = Some(c);
                        }
                        continue;
                    }
                }
            }
            let leg = self.new_leg_id();
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            let mut setup = call.setup.clone();
            setup.called = number::outgoing_called(&target.called, &rules);
            setup.calling = setup
                .calling
                .as_ref()
                .map(|n| number::outgoing_calling(n, &rules));
            // Q.931 §5.1.1 en bloc (Sending complete) unless the group does overlap sending
            // and the digit map does not know the number to be complete (§5.1.3).
            let overlap = overlap_cfg
                .filter(|o| !complete_by(&o.digit_map, &setup.called.digits))
                .map(|o| OverlapOut {
                    sent: setup.called.digits.clone(),
                    map: o.digit_map,
                    timeout: o.digit_timeout,
                    deadline: Some(now + o.digit_timeout),
                });
            setup.complete = overlap.is_none();
            if let Some(old) = call.overlap.take().and_then(|o| o.deadline) {
                self.overlap_deadlines.remove(&(old, id));
            }
            if let Some(d) = overlap.as_ref().and_then(|o| o.deadline) {
                self.overlap_deadlines.insert((d, id));
            }
            call.overlap = overlap;
            call.b = Some(Leg {
                id: leg,
                trunk: target.trunk.clone(),
                kind,
                channel,
            });
            call.out_trunk = target.trunk.clone();
            call.out_kind = Some(kind);
            if let (None, Some(t)) = (call.no_answer_at, self.no_answer) {
                call.no_answer_at = Some(now + t);
                self.answer_deadlines.insert((now + t, id));
            }
            self.legs.insert(leg, id);
            debug!(call = %id, %leg, trunk = %target.trunk, ?channel, "outgoing attempt");
            self.actions.push_back(Action::Originate {
                call: id,
                leg,
                trunk: target.trunk,
                kind,
                channel,
                setup,
                referred_by: None,
                replaces: None,
            });
            return;
        }
    }

    /// A leg reports a neutral event.
    pub fn handle(&mut self, now: Instant, leg: LegId, msg: Message) {
        let Some(&id) = self.legs.get(&leg) else {
            debug!(%leg, ?msg, "message for a leg that is gone");
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call
            .transfer
            .as_ref()
            .is_some_and(|t| t.leg.as_ref().is_some_and(|l| l.id == leg))
        {
            return self.transfer_event(now, id, msg);
        }
        if matches!(msg, Message::Release(_))
            && call.transfer.as_ref().is_some_and(|t| t.referrer == leg)
        {
            return self.referrer_gone(now, id, msg);
        }
        let from_a = call.a.id == leg;
        let a_kind = call.a.kind;
        let other = if from_a {
            call.b.as_ref().map(|l| l.id)
        } else {
            Some(call.a.id)
        };
        match msg {
            Message::Release(r) => {
                let c = self.clearing(r);
                if from_a {
                    let side = side_name(a_kind);
                    self.end(now, id, c, &side, Some(leg));
                } else {
                    self.b_released(now, id, c);
                }
            }
            Message::Digits { digits, complete } if from_a && !call.routed => {
                call.dialled.push_str(&digits);
                call.setup.called.digits.push_str(&digits);
                call.setup.complete |= complete;
                self.try_route(now, id);
            }
            Message::Digits { digits, complete }
                if from_a && call.overlap.as_ref().is_some_and(|o| o.deadline.is_some()) =>
            {
                // Q.931 §5.1.3: more digits of an incomplete number go out in INFORMATION.
                let Some(o) = call.overlap.as_mut() else {
                    return;
                };
                if let Some(d) = o.deadline.take() {
                    self.overlap_deadlines.remove(&(d, id));
                }
                // `#` ends the dialling (the usual end-of-dialling key); it is not a digit
                // of the number.
                let (digits, hash) = match digits.strip_suffix('#') {
                    Some(d) => (d.to_string(), true),
                    None => (digits, false),
                };
                o.sent.push_str(&digits);
                let done = complete || hash || complete_by(&o.map, &o.sent);
                if !done {
                    let d = now + o.timeout;
                    o.deadline = Some(d);
                    self.overlap_deadlines.insert((d, id));
                }
                call.dialled.push_str(&digits);
                // A failover attempt dials the whole number.
                for t in call.targets.iter_mut() {
                    t.called.push_str(&digits);
                }
                debug!(call = %id, %digits, complete = done, "overlap sending");
                if let Some(b) = other {
                    self.actions.push_back(Action::Deliver {
                        call: id,
                        leg: b,
                        msg: Delivery::Overlap {
                            digits,
                            complete: done,
                        },
                    });
                }
            }
            Message::Setup(_) => {
                warn!(call = %id, %leg, "second Setup on a leg ignored");
            }
            Message::Media(m) => {
                if from_a {
                    call.setup.media = Some(m);
                } else {
                    call.media = Some(m);
                }
                if call.bridged {
                    self.actions.push_back(Action::MediaChanged {
                        call: id,
                        leg,
                        media: m,
                    });
                } else if call.answered.is_some() {
                    // Answered before the media were known (H.245 after Connect).
                    bridge_once(call, &mut self.actions);
                }
            }
            msg => {
                if !from_a
                    && matches!(
                        msg,
                        Message::Proceeding | Message::Alerting { .. } | Message::Connect { .. }
                    )
                {
                    // §5.1.3 / §5.1.5: the network has the digits it needs.
                    if let Some(d) = call.overlap.as_mut().and_then(|o| o.deadline.take()) {
                        self.overlap_deadlines.remove(&(d, id));
                    }
                }
                if !from_a {
                    match &msg {
                        Message::Connect { media } if call.answered.is_none() => {
                            if let Some(d) = call.no_answer_at.take() {
                                self.answer_deadlines.remove(&(d, id));
                            }
                            call.answered =
                                Some(self.epoch.1 + now.saturating_duration_since(self.epoch.0));
                            call.media = media.or(call.media);
                            self.stats.answered += 1;
                            debug!(call = %id, "answered");
                            // A call bridged for early media keeps that bridge (symmetric
                            // RTP follows a 200 whose address differs from the 183's).
                            if call.bridged {
                                self.actions.push_back(Action::Answered { call: id });
                            }
                            bridge_once(call, &mut self.actions);
                        }
                        Message::Progress { media, inband } => {
                            call.media = media.or(call.media);
                            if *inband && call.answered.is_none() {
                                call.alerted = true;
                                bridge_once(call, &mut self.actions);
                            }
                        }
                        Message::Alerting { inband } => {
                            call.alerted = true;
                            if *inband && call.answered.is_none() {
                                bridge_once(call, &mut self.actions)
                            }
                        }
                        _ => {}
                    }
                }
                if let Message::Hold | Message::Resume = msg {
                    let held = matches!(msg, Message::Hold);
                    let holder = if from_a {
                        &call.a
                    } else {
                        call.b.as_ref().unwrap_or(&call.a)
                    };
                    // Only the RTP side's hold changes what the bridge does; the PSTN
                    // side's own hold (NOTIFY) leaves the switch's audio flowing to SIP.
                    if call.bridged && holder.kind == TrunkKind::Sip && call.held != held {
                        let media = [Some(&call.a), call.b.as_ref()]
                            .into_iter()
                            .flatten()
                            .find_map(|l| self.groups.get(&l.trunk))
                            .map_or(HoldMedia::Silence, |g| g.hold_media);
                        info!(call = %id, held, ?media, "hold");
                        self.actions.push_back(Action::HoldMedia {
                            call: id,
                            held,
                            media,
                        });
                    }
                    call.held = held;
                }
                if let Some(to) = other {
                    let d = match msg {
                        Message::Proceeding => Delivery::Proceeding,
                        Message::Alerting { inband } => Delivery::Alerting { inband },
                        Message::Progress { inband, media } => Delivery::Progress { inband, media },
                        Message::Connect { media } => Delivery::Connect { media },
                        Message::Digits { digits, .. } => Delivery::Digits(digits),
                        Message::Info(s) => Delivery::Info(s),
                        Message::Hold => Delivery::Hold,
                        Message::Resume => Delivery::Resume,
                        Message::ConnectedLine(n) => Delivery::ConnectedLine(n),
                        Message::Transferred(n) => Delivery::Transferred(n),
                        Message::Setup(_) | Message::Release(_) | Message::Media(_) => return,
                    };
                    self.actions.push_back(Action::Deliver {
                        call: id,
                        leg: to,
                        msg: d,
                    });
                }
            }
        }
    }

    /// The outgoing leg ended: fail over on congestion before answer, else end the call.
    fn b_released(&mut self, now: Instant, id: CallId, c: Clearing) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(b) = call.b.take() else {
            return;
        };
        self.legs.remove(&b.id);
        if call.answered.is_none() && !call.alerted && cause::is_failover(c.cause) {
            info!(call = %id, trunk = %b.trunk, cause = c.cause, "attempt failed, trying on");
            if let Some(ch) = b.channel {
                if c.cause == cause::CHANNEL_UNAVAILABLE {
                    // Q.931 §5.2.3.1: the far end refused the channel; try another of the
                    // same group first.
                    call.excluded.push(ch);
                    let again = Target {
                        trunk: b.trunk.clone(),
                        called: call
                            .targets
                            .front()
                            .filter(|t| t.trunk == b.trunk)
                            .map(|t| t.called.clone())
                            .unwrap_or_default(),
                    };
                    if again.called.is_empty() {
                        // Recover the number the attempt used from the route again.
                        let from = call.a.trunk.clone();
                        if let Some(d) = self
                            .router
                            .lookup(&from, &call.dialled)
                            .into_iter()
                            .find(|d| d.route.to.contains(&b.trunk))
                        {
                            call.targets.push_front(Target {
                                trunk: b.trunk.clone(),
                                called: d.called,
                            });
                        }
                    } else {
                        call.targets.push_front(again);
                    }
                }
                self.channels.release(ch, id.0, now);
            }
            call.last_failure = Some(c);
            return self.next_attempt(now, id);
        }
        let side = side_name(b.kind);
        let leg = b.id;
        call.b = Some(b);
        self.end(now, id, c, &side, Some(leg));
    }

    /// The call cannot be placed: refuse the incoming leg.
    fn fail(&mut self, now: Instant, id: CallId, c: Clearing, side: &str) {
        self.end(now, id, c, side, None);
    }

    /// End a call: release every leg but the one that cleared (`cleared_by`), write the
    /// CDR, then free the channels and forget the legs.
    fn end(
        &mut self,
        now: Instant,
        id: CallId,
        c: Clearing,
        side: &str,
        cleared_by: Option<LegId>,
    ) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        if let Some(d) = call.overlap.as_ref().and_then(|o| o.deadline) {
            self.overlap_deadlines.remove(&(d, id));
        }
        if let Some(d) = call.no_answer_at {
            self.answer_deadlines.remove(&(d, id));
        }
        if call.bridged {
            self.actions.push_back(Action::Unbridge { call: id });
        }
        if let Some(t) = &call.transfer {
            self.abandon_transfer(now, &call, t, c);
        }
        let gone = call
            .transfer
            .as_ref()
            .filter(|t| t.referrer_gone)
            .map(|t| t.referrer);
        for leg in std::iter::once(&call.a).chain(call.b.as_ref()) {
            if Some(leg.id) != cleared_by && Some(leg.id) != gone {
                self.actions.push_back(Action::Deliver {
                    call: id,
                    leg: leg.id,
                    msg: Delivery::Release(c),
                });
            }
        }
        let cdr = self.cdr_of(&call, now, c, side);
        if call.answered.is_none() {
            *self.stats.failed_by_cause.entry(c.cause).or_default() += 1;
        }
        // The record first, then the resources (cdr.rs: never lost).
        if let Err(e) = self.cdr.write(&cdr) {
            self.stats.cdr_errors += 1;
            warn!(call = %id, error = %e, "CDR not written");
        }
        for leg in std::iter::once(&call.a).chain(call.b.as_ref()) {
            if let Some(ch) = leg.channel {
                self.channels.release(ch, id.0, now);
            }
            self.legs.remove(&leg.id);
        }
        // The call's one `info` line, its outcome (the steps before it are `debug`). The
        // CDR's status, not the clearing's: an answered call ended with 200 + BYE.
        info!(
            call = %id,
            called = %cdr.called,
            in_trunk = %cdr.in_trunk,
            out_trunk = %cdr.out_trunk,
            cause = c.cause,
            status = ?cdr.sip_status,
            side,
            disposition = %cdr.disposition,
            "call ended"
        );
    }

    fn cdr_of(&self, call: &Call, now: Instant, c: Clearing, side: &str) -> Cdr {
        let isdn = [Some(&call.a), call.b.as_ref()]
            .into_iter()
            .flatten()
            .find(|l| l.channel.is_some());
        let has_sip = call.a.kind == TrunkKind::Sip || call.out_kind == Some(TrunkKind::Sip);
        let disposition = match (call.answered, c.cause) {
            (Some(_), _) => "ANSWERED",
            (None, 17) => "BUSY",
            (None, 18 | 19) => "NO ANSWER",
            (None, 16 | 31) if side == "sip" || side == "isdn" || side == "h323" => "CANCELLED",
            _ => "FAILED",
        };
        // The codec of the RTP side: the SIP leg's offer (incoming) or answer (outgoing).
        let codec = [call.media, call.setup.media]
            .into_iter()
            .flatten()
            .find_map(|m| match m {
                Media::Rtp { law, .. } => Some(match law {
                    crate::media::Law::ALaw => "PCMA",
                    crate::media::Law::MuLaw => "PCMU",
                }),
                Media::Channel(_) => None,
            })
            .unwrap_or("");
        Cdr {
            call_id: call.record.clone(),
            setup: Some(call.started),
            answer: call.answered,
            end: Some(self.wall(now)),
            calling: call
                .setup
                .calling
                .as_ref()
                .map(|n| n.digits.clone())
                .unwrap_or_default(),
            called: call.dialled.clone(),
            in_trunk: call.a.trunk.clone(),
            out_trunk: call.out_trunk.clone(),
            span: isdn.and_then(|l| l.channel).map(|c| c.span.0),
            channel: isdn.and_then(|l| l.channel).map(|c| c.timeslot.0),
            isdn_cause: Some(c.cause),
            sip_status: has_sip.then_some(if call.answered.is_some() {
                200
            } else if disposition == "CANCELLED" {
                // A call given up before answer ends on SIP with CANCEL, which the INVITE
                // transaction answers 487 whichever side cancelled (RFC 3261 §9.2).
                487
            } else {
                c.status
            }),
            release_side: side.to_string(),
            codec: codec.to_string(),
            disposition: disposition.to_string(),
            transfer: call.transfer_note.clone(),
        }
    }

    /// Operator hang-up (`gatewayd ctl hangup`): both legs get `cause`.
    pub fn hangup(&mut self, now: Instant, id: CallId, q850: u8) -> bool {
        if !self.calls.contains_key(&id) {
            return false;
        }
        let c = self.clearing_q850(q850);
        self.end(now, id, c, "gateway", None);
        true
    }

    /// The next deadline of the core's own timers (the inter-digit timer of overlap
    /// sending, `no_answer_timeout`); call [`Core::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let overlap = self.overlap_deadlines.first().map(|(t, _)| *t);
        let answer = self.answer_deadlines.first().map(|(t, _)| *t);
        overlap.into_iter().chain(answer).min()
    }

    /// Run the timers due at `now`: a call still unanswered `no_answer_timeout` after its
    /// first attempt is cleared with cause 19; an overlap-sending call without a digit for
    /// the group's `digit_timeout` has its number declared complete (INFORMATION with
    /// Sending complete, Q.931 §5.1.3).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.answer_deadlines.first() {
            if t > now {
                break;
            }
            self.answer_deadlines.remove(&(t, id));
            if self.calls.get(&id).is_some_and(|c| c.answered.is_none()) {
                info!(call = %id, "no answer within no_answer_timeout");
                let c = self.clearing_q850(cause::NO_ANSWER);
                self.end(now, id, c, "gateway", None);
            }
        }
        while let Some(&(t, id)) = self.overlap_deadlines.first() {
            if t > now {
                break;
            }
            self.overlap_deadlines.remove(&(t, id));
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if let Some(o) = call.overlap.as_mut() {
                o.deadline = None;
            }
            debug!(call = %id, "overlap sending: digit timer expired, number complete");
            if let Some(b) = call.b.as_ref() {
                self.actions.push_back(Action::Deliver {
                    call: id,
                    leg: b.id,
                    msg: Delivery::Overlap {
                        digits: String::new(),
                        complete: true,
                    },
                });
            }
        }
    }

    /// Next thing for the leg layer to do.
    /// Makes the CDRs written so far durable ([`CdrSink::flush`]); call it before sending
    /// what the core's actions produced.
    pub fn flush_cdrs(&mut self) {
        if let Err(e) = self.cdr.flush() {
            self.stats.cdr_errors += 1;
            warn!(error = %e, "CDRs not synced");
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Channels busy for calls that no longer exist: freed and returned (each one is a bug
    /// somewhere; the audit keeps the trunk usable and logs it).
    pub fn audit(&mut self, now: Instant) -> Vec<ChannelId> {
        // A reservation whose call never came (its leg went away) is let go.
        self.reserved.retain(|id, (ch, since)| {
            let keep = now.saturating_duration_since(*since) < RESERVATION_LIMIT;
            if !keep {
                warn!(channel = %ch, call = %id, "audit: channel reserved for a call that never came");
            }
            keep
        });
        let stuck: Vec<(ChannelId, u64)> = self
            .channels
            .busy()
            .filter(|(_, call)| {
                let id = CallId(*call);
                !self.calls.contains_key(&id) && !self.reserved.contains_key(&id)
            })
            .collect();
        for (ch, call) in &stuck {
            warn!(channel = %ch, call, "audit: channel busy without a call, freed");
            self.channels.release(*ch, *call, now);
        }
        stuck.into_iter().map(|(c, _)| c).collect()
    }

    /// Busy channels with the call holding each (the ISDN legs' audit).
    pub fn busy_calls(&self) -> Vec<(ChannelId, CallId)> {
        self.channels
            .busy()
            .map(|(c, call)| (c, CallId(call)))
            .filter(|(_, call)| !self.reserved.contains_key(call))
            .collect()
    }

    /// Busy channels (for tests and `ctl`).
    pub fn busy_channels(&self) -> Vec<ChannelId> {
        let mut v: Vec<_> = self.channels.busy().map(|(c, _)| c).collect();
        v.sort();
        v
    }

    /// Take a channel out of service for maintenance, or bring it back.
    pub fn set_maintenance(&mut self, ch: ChannelId, out: bool) -> bool {
        if !self.channels.contains(ch) {
            return false;
        }
        self.channels
            .set_out_of_service(ch, |o| o.maintenance = out);
        true
    }

    /// The far end took channel `ch` out of service (NI-2 SERVICE, a RESTART of ours
    /// unanswered) or put it back.
    pub fn set_far_end_out(&mut self, ch: ChannelId, out: bool) {
        self.channels.set_out_of_service(ch, |o| o.far_end = out);
    }

    /// A span went into alarm (or its D-channel down), or came back.
    pub fn set_span_alarm(&mut self, span: SpanId, alarm: bool) {
        self.channels.set_span_alarm(span, alarm);
    }

    /// State of a channel.
    pub fn channel_state(&self, ch: ChannelId) -> Option<ChannelState> {
        self.channels.state(ch)
    }

    /// All channels with their states.
    pub fn channel_states(&self) -> Vec<(ChannelId, ChannelState)> {
        self.channels
            .channels()
            .into_iter()
            .filter_map(|c| self.channels.state(c).map(|s| (c, s)))
            .collect()
    }

    /// Calls in progress.
    pub fn calls(&self) -> Vec<CallView> {
        self.calls
            .values()
            .map(|c| CallView {
                id: c.id,
                calling: c
                    .setup
                    .calling
                    .as_ref()
                    .map(|n| n.digits.clone())
                    .unwrap_or_default(),
                called: c.dialled.clone(),
                in_trunk: c.a.trunk.clone(),
                out_trunk: c.out_trunk.clone(),
                channels: [Some(&c.a), c.b.as_ref()]
                    .into_iter()
                    .flatten()
                    .chain(c.transfer.as_ref().and_then(|t| t.leg.as_ref()))
                    .filter_map(|l| l.channel)
                    .collect(),
                answered: c.answered.is_some(),
            })
            .collect()
    }

    /// Trunk groups with their channel counts.
    pub fn groups(&self) -> Vec<GroupView> {
        self.groups
            .iter()
            .map(|(name, g)| {
                let mut v = GroupView {
                    name: name.clone(),
                    idle: 0,
                    busy: 0,
                    out_of_service: 0,
                };
                for ch in g.hunter.channels() {
                    match self.channels.state(*ch) {
                        Some(ChannelState::Idle) => v.idle += 1,
                        Some(ChannelState::Busy { .. }) => v.busy += 1,
                        _ => v.out_of_service += 1,
                    }
                }
                v
            })
            .collect()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of calls in progress.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The call a leg belongs to.
    /// The incoming leg `leg` vouches for its calling identity (or not): see
    /// [`Core::identity_verified`].
    pub fn set_identity_verified(&mut self, leg: LegId, verified: bool) {
        if let Some(c) = self.legs.get(&leg).and_then(|id| self.calls.get_mut(id)) {
            c.calling_verified = verified;
        }
    }

    /// Whether the calling identity of `leg`'s call was verified where it came in (for
    /// the outgoing leg's screening indicator or P-Asserted-Identity).
    pub fn identity_verified(&self, leg: LegId) -> bool {
        self.legs
            .get(&leg)
            .and_then(|id| self.calls.get(id))
            .is_some_and(|c| c.calling_verified)
    }

    /// Every trunk the routes matching `dialled` from trunk `from` lead to, in priority
    /// order, each with the called number as that route rewrites it.
    fn route_targets(&self, from: &str, dialled: &str) -> VecDeque<Target> {
        self.router
            .lookup(from, dialled)
            .into_iter()
            .flat_map(|d| {
                d.route.to.iter().map(move |t| Target {
                    trunk: t.clone(),
                    called: d.called.clone(),
                })
            })
            .collect()
    }

    pub fn call_of(&self, leg: LegId) -> Option<CallId> {
        self.legs.get(&leg).copied()
    }

    /// The other leg of `leg`'s call, once there is one.
    pub fn other_leg(&self, leg: LegId) -> Option<LegId> {
        let call = self.calls.get(self.legs.get(&leg)?)?;
        if call.a.id == leg {
            call.b.as_ref().map(|b| b.id)
        } else {
            Some(call.a.id)
        }
    }
}

/// Bridges the call's B-channel to its RTP stream unless it already is: at Connect, or
/// before it for early media (Q.931 §5.1.6 progress indicator 8 / RFC 3960: in-band tones
/// or announcements before answer). Without an RTP address yet (no SDP on either side)
/// nothing happens and the bridge waits for the answer.
fn bridge_once(call: &mut Call, actions: &mut VecDeque<Action>) {
    if call.bridged {
        return;
    }
    if let Some(a) = bridge_of(call) {
        debug!(call = %call.id, answered = call.answered.is_some(), "media bridged");
        call.bridged = true;
        actions.push_back(a);
    }
}

/// The media bridge of a call (answered, or with early media): its B-channel and the RTP
/// side's stream.
fn bridge_of(call: &Call) -> Option<Action> {
    let b = call.b.as_ref()?;
    let Some(channel) = call.a.channel.or(b.channel) else {
        // Two IP legs (SIP ↔ H.323): RTP relayed between them.
        return match (call.a.kind, b.kind, call.setup.media?, call.media?) {
            (TrunkKind::Isdn, _, _, _) | (_, TrunkKind::Isdn, _, _) => None,
            (_, _, a_media @ Media::Rtp { .. }, b_media @ Media::Rtp { .. }) => {
                Some(Action::Relay {
                    call: call.id,
                    a: call.a.id,
                    a_media,
                    b: b.id,
                    b_media,
                })
            }
            _ => None,
        };
    };
    // The IP side (SIP or H.323) carries the RTP stream.
    let (rtp_leg, media) = if call.a.kind != TrunkKind::Isdn {
        (call.a.id, call.setup.media)
    } else {
        (b.id, call.media)
    };
    match media? {
        Media::Rtp {
            remote,
            law,
            telephone_event,
        } => Some(Action::Bridge {
            call: call.id,
            channel,
            rtp_leg,
            remote,
            law,
            telephone_event,
            bearer: call.setup.bearer,
            answered: call.answered.is_some(),
        }),
        Media::Channel(_) => None,
    }
}

fn side_name(kind: TrunkKind) -> String {
    match kind {
        TrunkKind::Isdn => "isdn".into(),
        TrunkKind::Sip => "sip".into(),
        TrunkKind::H323 => "h323".into(),
    }
}

/// How often the daemon audits: [`Core::audit`] and each ISDN leg's.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(60);
