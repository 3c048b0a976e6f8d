//! Transfers through the core: blind transfer (RFC 3515 REFER, the gateway as the
//! transferee's agent places the new call) and attended transfer (RFC 3891 Replaces: a new
//! incoming leg takes the place of one of a call's legs).
//!
//! A call keeps its [`CallId`] across a transfer; only one of its legs changes. The party
//! that stays (the *remaining* party, usually the PSTN caller on its B-channel) never sees a
//! new call: its leg, its channel and its protocol state are untouched, and the media
//! bridge is moved from the old leg's RTP stream to the new leg's.
//!
//! Blind transfer, as the core sees it:
//!
//! 1. [`Core::refer`]: the referrer's leg asks that the other party be connected to a
//!    number. The number is routed as if the remaining party dialled it (routes from its
//!    trunk; if none matches, routes from the referrer's trunk), and a new outgoing leg is
//!    placed ([`Action::Originate`] with `referred_by`).
//! 2. The new leg's Alerting / Progress are reported to the referrer as
//!    [`Delivery::TransferProgress`] (the SIP leg sends NOTIFY `message/sipfrag`); its
//!    failure (after failover over the route's trunks on congestion) is reported as
//!    [`TransferStatus::Failed`] and the call goes on as before.
//! 3. On the new leg's Connect the transfer is done: the record of the call so far is
//!    written (disposition `TRANSFERRED`), the referrer gets
//!    [`TransferStatus::Answered`] then a release (cause 16), the bridge moves to the new
//!    leg (or, both parties being on ISDN, [`Action::Hairpin`]), and the call goes on as
//!    its next part (CDR `call-N.1`).
//!
//! If the referrer hangs up while the new call is being placed (RFC 5589 §6 allows it
//! once the REFER is accepted), the transfer goes on; if it then fails, the remaining
//! party is released with the failure's cause.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use dahdi_driver::ChannelId;
use tracing::{debug, info, warn};

use super::{
    bridge_once, cause, model::TransferStatus, number, side_name, Action, Call, CallId, Clearing,
    Core, Delivery, Leg, LegId, Media, Message, Number, Setup, Target, TrunkKind,
};
use crate::cdr::Cdr;
use crate::route::Match;

/// Q.850 causes of transfers the gateway cannot carry.
pub(super) const SERVICE_UNAVAILABLE: u8 = 63;
pub(super) const BEARER_NOT_IMPLEMENTED: u8 = 65;
/// Q.850 cause 81: a `Replaces` naming no dialog of ours (RFC 3891 §3: 481).
pub(super) const INVALID_CALL_REFERENCE: u8 = 81;
/// Q.850 cause 26: the ringing leg a pickup replaced.
const NON_SELECTED_USER: u8 = 26;

/// Why [`Core::refer`] refused a transfer (the SIP leg answers the REFER with an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferRefused {
    /// The leg belongs to no call (RFC 3515 §2.4.2: 481 / 403).
    #[error("no call to transfer")]
    NoCall,
    /// The call is not answered yet: there is nobody to transfer (403).
    #[error("call not answered")]
    NotAnswered,
    /// A transfer of this call is already in progress (491 Request Pending).
    #[error("a transfer is already in progress")]
    Pending,
    /// The `Refer-To`'s `Replaces` names the referrer's own call, which cannot be joined
    /// with itself (403; [`Core::refer_join`]).
    #[error("the call cannot be joined with itself")]
    SameCall,
}

/// Why [`Core::replace`] refused to replace a leg (RFC 3891 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceRefused {
    /// No call has that leg (481).
    #[error("no such dialog")]
    NoCall,
    /// The call is not answered and the leg is the one that called us: an early dialog
    /// we did not initiate (481). (An early dialog we initiated, the outgoing leg still
    /// ringing, is replaced: RFC 3891 §3.)
    #[error("the dialog is early")]
    Early,
    /// The two parties left could not be joined (the remaining party's RTP passes
    /// through the gateway unanchored, `media = "direct"`: 488).
    #[error("no media path between the parties")]
    NoMediaPath,
}

/// A blind transfer in progress.
#[derive(Debug)]
pub(super) struct Transfer {
    /// The leg that asked for the transfer (the transferor).
    pub(super) referrer: LegId,
    /// The transferor hung up before the new call was answered.
    pub(super) referrer_gone: bool,
    /// The target as dialled (the Refer-To number after the referrer trunk's numbering).
    target: String,
    /// The new call's leg while an attempt is placed.
    pub(super) leg: Option<Leg>,
    /// The trunk of the last attempt (for the record).
    out_trunk: String,
    targets: VecDeque<Target>,
    excluded: Vec<ChannelId>,
    last_failure: Option<Clearing>,
    /// The new call's Setup: the remaining party calling the target.
    setup: Setup,
    referred_by: Option<String>,
    /// The dialog the new call replaces at the target (`Refer-To: <…?Replaces=…>`).
    replaces: Option<String>,
    /// The new leg's media (its SDP answer).
    media: Option<Media>,
    /// Who answered the new call, if its leg said (COLP / P-Asserted-Identity); the
    /// remaining party is told it or the target ([`Delivery::Transferred`]).
    connected: Option<Number>,
    started: SystemTime,
    /// The CDR `call_id` of the new call.
    record: String,
}

impl Call {
    /// The leg that is not `leg` (the remaining party when `leg` is the transferor), and
    /// whether it is `a`.
    pub(super) fn other_of(&self, leg: LegId) -> Option<(&Leg, bool)> {
        let b = self.b.as_ref()?;
        if self.a.id == leg {
            Some((b, false))
        } else if b.id == leg {
            Some((&self.a, true))
        } else {
            None
        }
    }

    /// The media of one of the call's legs: `a`'s offer or `b`'s answer.
    pub(super) fn media_of(&self, is_a: bool) -> Option<Media> {
        if is_a {
            self.setup.media
        } else {
            self.media
        }
    }

    /// The number of one of the call's parties: `a`'s calling number, or the number `b`
    /// was called with.
    pub(super) fn number_of(&self, is_a: bool) -> Option<Number> {
        if is_a {
            self.setup.calling.clone()
        } else {
            Some(Number::unknown(&self.dialled))
        }
    }
}

/// Takes the leg that is not the remaining party out of the call (`rem_is_a`: the
/// remaining party is `a`), leaving the remaining party as `a` and no `b`.
pub(super) fn take_other(call: &mut Call, rem_is_a: bool) -> Option<Leg> {
    let b = call.b.take()?;
    Some(if rem_is_a {
        b
    } else {
        std::mem::replace(&mut call.a, b)
    })
}

pub(super) fn is_ip(k: TrunkKind) -> bool {
    k != TrunkKind::Isdn
}

/// CDR disposition of a transfer's new call that was not answered.
fn failed_disposition(c: u8) -> &'static str {
    match c {
        17 => "BUSY",
        18 | 19 => "NO ANSWER",
        _ => "FAILED",
    }
}

impl Core {
    /// Whether the media engine joins two B-channels ([`Action::Hairpin`]). Off by
    /// default: a blind transfer that would leave both parties on ISDN fails (sipfrag 503).
    pub fn set_hairpin(&mut self, on: bool) {
        self.hairpin = on;
    }

    /// How the daemon joined the call's two B-channels after an [`Action::Hairpin`]
    /// (`ect`, `2bct`: the switch took the call back; `hairpin`: the gateway carries it),
    /// appended to the record's `transfer` column.
    pub fn note_join(&mut self, call: CallId, how: &str) {
        if let Some(c) = self.calls.get_mut(&call) {
            if !c.transfer_note.is_empty() {
                c.transfer_note.push_str("; ");
            }
            c.transfer_note.push_str(how);
        }
    }

    /// Blind transfer (RFC 3515 §2.4.2): the party behind `referrer` asks that the other
    /// party of its answered call be connected to `target` (Refer-To, already read with the
    /// referrer trunk's numbering); `referred_by` is the REFER's `Referred-By` value, carried
    /// on to the new call (RFC 3892 §3). On `Ok` the REFER is accepted (202) and the outcome
    /// comes as [`Delivery::TransferProgress`] to `referrer`.
    pub fn refer(
        &mut self,
        now: Instant,
        referrer: LegId,
        target: &Number,
        referred_by: Option<String>,
    ) -> Result<(), ReferRefused> {
        self.refer_replacing(now, referrer, target, referred_by, None)
    }

    /// The call `referrer` is in, if it may be transferred now (answered, no transfer of
    /// its own in progress): its id, the call, the remaining party's leg and whether that
    /// leg is the call's `a`.
    pub(super) fn referable(
        &self,
        referrer: LegId,
    ) -> Result<(CallId, &Call, &Leg, bool), ReferRefused> {
        let id = *self.legs.get(&referrer).ok_or(ReferRefused::NoCall)?;
        let call = self.calls.get(&id).ok_or(ReferRefused::NoCall)?;
        if call.answered.is_none() {
            return Err(ReferRefused::NotAnswered);
        }
        if call.transfer.is_some() {
            return Err(ReferRefused::Pending);
        }
        let (remaining, rem_is_a) = call.other_of(referrer).ok_or(ReferRefused::NotAnswered)?;
        Ok((id, call, remaining, rem_is_a))
    }

    /// As [`Core::refer`], for a REFER whose `Refer-To` names a dialog to replace (RFC
    /// 3891 §7.1, `?Replaces=` in the URI: an attended transfer signalled by REFER). The
    /// new call is placed with that `Replaces` value ([`Action::Originate`]'s `replaces`),
    /// so the target swaps its dialog with the transferor for this one; a route to a
    /// trunk that is not SIP cannot carry it and fails (NOTIFY 488).
    pub fn refer_replacing(
        &mut self,
        now: Instant,
        referrer: LegId,
        target: &Number,
        referred_by: Option<String>,
        replaces: Option<String>,
    ) -> Result<(), ReferRefused> {
        let (id, call, remaining, rem_is_a) = self.referable(referrer)?;
        let remaining_trunk = remaining.trunk.clone();
        let referrer_trunk = if rem_is_a {
            call.b.as_ref().map(|l| l.trunk.clone()).unwrap_or_default()
        } else {
            call.a.trunk.clone()
        };
        let setup = Setup {
            called: target.clone(),
            calling: call.number_of(rem_is_a),
            bearer: call.setup.bearer,
            media: call.media_of(rem_is_a),
            complete: true,
            redirecting: None,
        };
        let dialled = number::dialled(target, &self.numbering(&referrer_trunk));
        let mut targets = self.targets_from(&remaining_trunk, &dialled);
        if targets.is_empty() {
            targets = self.targets_from(&referrer_trunk, &dialled);
        }
        let wall = self.wall(now);
        let Some(call) = self.calls.get_mut(&id) else {
            return Err(ReferRefused::NoCall);
        };
        let record = format!("{}.{}", id, call.next_record);
        call.next_record += 1;
        info!(call = %id, %referrer, target = %dialled, %record, "blind transfer");
        let none = targets.is_empty();
        call.transfer = Some(Transfer {
            referrer,
            referrer_gone: false,
            target: dialled,
            leg: None,
            out_trunk: String::new(),
            targets,
            excluded: Vec::new(),
            last_failure: None,
            setup,
            referred_by,
            replaces,
            media: None,
            connected: None,
            started: wall,
            record,
        });
        if none {
            let c = self.clearing_q850(cause::UNALLOCATED);
            self.transfer_failed(now, id, c);
        } else {
            self.transfer_attempt(now, id);
        }
        Ok(())
    }

    /// The trunks a number routes to from trunk `from`, if a route matches it fully.
    fn targets_from(&self, from: &str, dialled: &str) -> VecDeque<Target> {
        if self.router.check(from, dialled) != Match::Full {
            return VecDeque::new();
        }
        self.route_targets(from, dialled)
    }

    /// Place the transfer's new call on its next target; report failure when none is left.
    fn transfer_attempt(&mut self, now: Instant, id: CallId) {
        loop {
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            let Some(t) = call.transfer.as_mut() else {
                return;
            };
            let Some(target) = t.targets.pop_front() else {
                let c = t
                    .last_failure
                    .unwrap_or_else(|| self.clearing_q850(cause::NO_CIRCUIT));
                return self.transfer_failed(now, id, c);
            };
            let excluded = t.excluded.clone();
            let referrer = t.referrer;
            let replacing = t.replaces.is_some();
            let (remaining_kind, remaining_trunk) = match call.other_of(referrer) {
                Some((l, _)) => (l.kind, l.trunk.clone()),
                None => return,
            };
            let Some(kind) = self.trunk_kind(&target.trunk) else {
                warn!(call = %id, trunk = %target.trunk, "route names an unknown trunk");
                continue;
            };
            // The media path the transfer would need.
            let refuse = if replacing && kind != TrunkKind::Sip {
                // Only an INVITE carries `Replaces` (RFC 3891 §3). The dialog it names
                // is none of ours (`Core::refer_join` takes those) and a target that is
                // not SIP has no dialogs: as the target's agent the gateway finds no
                // match (RFC 3891 §3: 481).
                Some(Clearing {
                    cause: INVALID_CALL_REFERENCE,
                    status: 481,
                })
            } else if !is_ip(remaining_kind) && !is_ip(kind) && !self.hairpin {
                // Two B-channels: only the media engine's hairpin joins them.
                Some(Clearing {
                    cause: SERVICE_UNAVAILABLE,
                    status: 503,
                })
            } else if self.direct_media.contains(&remaining_trunk)
                || (is_ip(remaining_kind) && self.direct_media.contains(&target.trunk))
            {
                // RTP to RTP is relayed between the legs' own ports (`Action::Relay`);
                // an H.323 leg whose RTP passes through (`media = "direct"`) has none,
                // so its media cannot be moved to another leg.
                Some(Clearing {
                    cause: BEARER_NOT_IMPLEMENTED,
                    status: 488,
                })
            } else {
                None
            };
            if let Some(c) = refuse {
                debug!(call = %id, trunk = %target.trunk, "transfer target without a media path");
                if let Some(t) = self.calls.get_mut(&id).and_then(|c| c.transfer.as_mut()) {
                    t.last_failure = Some(c);
                }
                continue;
            }
            let rules = self.numbering(&target.trunk);
            let mut channel = None;
            if kind == TrunkKind::Isdn {
                match self.seize_outgoing(id, &target.trunk, &excluded) {
                    Ok(ch) => channel = Some(ch),
                    Err(None) => continue,
                    Err(Some(c)) => {
                        if let Some(t) = self.calls.get_mut(&id).and_then(|c| c.transfer.as_mut()) {
                            t.last_failure = Some(c);
                        }
                        continue;
                    }
                }
            }
            let leg = self.new_leg_id();
            let Some(t) = self.calls.get_mut(&id).and_then(|c| c.transfer.as_mut()) else {
                return;
            };
            let mut setup = t.setup.clone();
            setup.called = number::outgoing_called(&target.called, &rules);
            setup.calling = setup
                .calling
                .as_ref()
                .map(|n| number::outgoing_calling(n, &rules));
            t.leg = Some(Leg {
                id: leg,
                trunk: target.trunk.clone(),
                kind,
                channel,
            });
            t.out_trunk = target.trunk.clone();
            let referred_by = t.referred_by.clone();
            let replaces = t.replaces.clone();
            self.legs.insert(leg, id);
            info!(call = %id, %leg, trunk = %target.trunk, ?channel, "transfer: new call");
            self.actions.push_back(Action::Originate {
                call: id,
                leg,
                trunk: target.trunk,
                kind,
                channel,
                setup,
                referred_by,
                replaces,
            });
            return;
        }
    }

    /// A message from the transfer's new leg.
    pub(super) fn transfer_event(&mut self, now: Instant, id: CallId, msg: Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(t) = call.transfer.as_mut() else {
            return;
        };
        let status = match msg {
            Message::Alerting { .. } => TransferStatus::Ringing,
            Message::Progress { media, .. } => {
                t.media = media.or(t.media);
                TransferStatus::Progress
            }
            Message::Connect { media } => {
                t.media = media.or(t.media);
                return self.transfer_done(now, id);
            }
            Message::ConnectedLine(n) => {
                t.connected = Some(n);
                return;
            }
            Message::Release(r) => {
                let c = self.clearing(r);
                let Some(t) = self
                    .calls
                    .get_mut(&id)
                    .and_then(|call| call.transfer.as_mut())
                else {
                    return;
                };
                let Some(leg) = t.leg.take() else {
                    return;
                };
                self.legs.remove(&leg.id);
                if let Some(ch) = leg.channel {
                    if c.cause == cause::CHANNEL_UNAVAILABLE {
                        t.excluded.push(ch);
                    }
                    self.channels.release(ch, id.0, now);
                }
                if cause::is_failover(c.cause) && !t.targets.is_empty() {
                    info!(call = %id, cause = c.cause, "transfer attempt failed, trying on");
                    t.last_failure = Some(c);
                    return self.transfer_attempt(now, id);
                }
                return self.transfer_failed(now, id, c);
            }
            other => {
                debug!(call = %id, ?other, "transfer's new call: not passed on before answer");
                return;
            }
        };
        if t.referrer_gone {
            return;
        }
        let referrer = t.referrer;
        self.actions.push_back(Action::Deliver {
            call: id,
            leg: referrer,
            msg: Delivery::TransferProgress(status),
        });
    }

    /// The record of a transfer's new call that ends unanswered.
    fn attempt_cdr(&self, call: &Call, t: &Transfer, now: Instant, c: Clearing, disp: &str) -> Cdr {
        let remaining = call.other_of(t.referrer).map(|(l, _)| l);
        let channel = t
            .leg
            .as_ref()
            .and_then(|l| l.channel)
            .or(remaining.and_then(|l| l.channel));
        let sip = remaining.is_some_and(|l| l.kind == TrunkKind::Sip)
            || self.trunk_kind(&t.out_trunk) == Some(TrunkKind::Sip);
        Cdr {
            call_id: t.record.clone(),
            setup: Some(t.started),
            answer: None,
            end: Some(self.wall(now)),
            calling: t
                .setup
                .calling
                .as_ref()
                .map(|n| n.digits.clone())
                .unwrap_or_default(),
            called: t.target.clone(),
            in_trunk: remaining.map(|l| l.trunk.clone()).unwrap_or_default(),
            out_trunk: t.out_trunk.clone(),
            span: channel.map(|c| c.span.0),
            channel: channel.map(|c| c.timeslot.0),
            isdn_cause: Some(c.cause),
            sip_status: sip.then_some(c.status),
            release_side: "gateway".to_string(),
            codec: String::new(),
            disposition: disp.to_string(),
            transfer: format!("blind attempt from {}", call.record),
        }
    }

    pub(super) fn write_cdr(&mut self, cdr: &Cdr) {
        if let Err(e) = self.cdr.write(cdr) {
            self.stats.cdr_errors += 1;
            warn!(record = %cdr.call_id, error = %e, "CDR not written");
        }
    }

    /// The transfer's new call failed with `c`: its record is written and the referrer is
    /// told; the call goes on as before (or, the referrer having left, ends with `c`).
    fn transfer_failed(&mut self, now: Instant, id: CallId, c: Clearing) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(t) = call.transfer.take() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let cdr = self.attempt_cdr(call, &t, now, c, failed_disposition(c.cause));
        self.write_cdr(&cdr);
        info!(call = %id, cause = c.cause, status = c.status, "transfer failed");
        if t.referrer_gone {
            // Nobody to go back to: the remaining party's call ends here.
            self.end(now, id, c, "gateway", Some(t.referrer));
        } else {
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: t.referrer,
                msg: Delivery::TransferProgress(TransferStatus::Failed(c)),
            });
        }
    }

    /// The referrer hung up while its transfer's new call is being placed: the transfer
    /// goes on without it (its leg is gone, the remaining party hears nothing meanwhile).
    pub(super) fn referrer_gone(&mut self, now: Instant, id: CallId, msg: Message) {
        let _ = (now, msg);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(t) = call.transfer.as_mut() else {
            return;
        };
        info!(call = %id, referrer = %t.referrer, "transferor left; the transfer goes on");
        t.referrer_gone = true;
        self.legs.remove(&t.referrer);
        if call.bridged {
            call.bridged = false;
            self.actions.push_back(Action::Unbridge { call: id });
        }
    }

    /// The call ends while its transfer's new call is being placed: that leg is released
    /// and its record written (`CANCELLED`). `call` is already out of the table.
    pub(super) fn abandon_transfer(
        &mut self,
        now: Instant,
        call: &Call,
        t: &Transfer,
        c: Clearing,
    ) {
        if let Some(l) = &t.leg {
            self.actions.push_back(Action::Deliver {
                call: call.id,
                leg: l.id,
                msg: Delivery::Release(c),
            });
        }
        let cdr = self.attempt_cdr(call, t, now, c, "CANCELLED");
        self.write_cdr(&cdr);
        if let Some(l) = &t.leg {
            if let Some(ch) = l.channel {
                self.channels.release(ch, call.id.0, now);
            }
            self.legs.remove(&l.id);
        }
    }

    /// The transfer's new call answered: the part of the call with the referrer ends
    /// (record `TRANSFERRED`), the referrer is told and released, and the call goes on
    /// between the remaining party and the new leg.
    fn transfer_done(&mut self, now: Instant, id: CallId) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        let Some(t) = call.transfer.take() else {
            self.calls.insert(id, call);
            return;
        };
        let (Some(new), Some((_, rem_is_a))) = (t.leg, call.other_of(t.referrer)) else {
            self.calls.insert(id, call);
            return;
        };
        let normal = self.clearing_q850(cause::NORMAL_CLEARING);
        let referrer_kind = if rem_is_a {
            call.b.as_ref().map_or(TrunkKind::Sip, |l| l.kind)
        } else {
            call.a.kind
        };
        let mut cdr = self.cdr_of(&call, now, normal, &side_name(referrer_kind));
        cdr.disposition = "TRANSFERRED".to_string();
        cdr.transfer = format!("blind to {} as {}", t.target, t.record);
        self.write_cdr(&cdr);
        if call.bridged {
            self.actions.push_back(Action::Unbridge { call: id });
        }
        let remaining_media = call.media_of(rem_is_a);
        let Some(referrer) = take_other(&mut call, rem_is_a) else {
            return;
        };
        if !t.referrer_gone {
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: referrer.id,
                msg: Delivery::TransferProgress(TransferStatus::Answered),
            });
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: referrer.id,
                msg: Delivery::Release(normal),
            });
        }
        if let Some(ch) = referrer.channel {
            self.channels.release(ch, id.0, now);
        }
        self.legs.remove(&referrer.id);
        if call.held {
            // The transferor's hold ends with it (Q.931 NOTIFY remote retrieval).
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: call.a.id,
                msg: Delivery::Resume,
            });
        }
        info!(call = %id, leg = %new.id, record = %t.record, "transfer done");
        call.out_trunk = new.trunk.clone();
        call.out_kind = Some(new.kind);
        call.b = Some(new);
        call.setup = Setup {
            media: remaining_media,
            ..t.setup
        };
        call.media = t.media;
        call.dialled = t.target;
        call.started = t.started;
        call.answered = Some(self.wall(now));
        call.transfer_note = format!("blind from {}", call.record);
        call.record = t.record;
        call.held = false;
        call.bridged = false;
        // Connected line update for the remaining party (its new partner).
        let partner = t
            .connected
            .unwrap_or_else(|| Number::unknown(&call.dialled));
        self.tell_transferred(&call, partner);
        self.join(&mut call);
        self.calls.insert(id, call);
    }

    /// The remaining party (`a`) of a call whose other party a transfer replaced is now
    /// connected to `partner` ([`Delivery::Transferred`]); only ISDN and SIP legs have a
    /// way to say so (the H.323 leg has none yet).
    pub(super) fn tell_transferred(&mut self, call: &Call, partner: Number) {
        if matches!(call.a.kind, TrunkKind::Isdn | TrunkKind::Sip) {
            self.actions.push_back(Action::Deliver {
                call: call.id,
                leg: call.a.id,
                msg: Delivery::Transferred(partner),
            });
        }
    }

    /// Join the media of a call whose legs just changed: a bridge to the RTP side, or a
    /// hairpin of two B-channels.
    pub(super) fn join(&mut self, call: &mut Call) {
        let chans = (call.a.channel, call.b.as_ref().and_then(|b| b.channel));
        match chans {
            (Some(a), Some(b)) => {
                info!(call = %call.id, %a, %b, "B-channels hairpinned");
                call.bridged = true;
                self.actions.push_back(Action::Hairpin {
                    call: call.id,
                    a,
                    b,
                });
            }
            _ => bridge_once(call, &mut self.actions),
        }
    }

    /// Attended transfer (RFC 3891 §3): a new incoming call on `trunk` (its INVITE named
    /// `old`'s dialog in `Replaces`) takes the place of leg `old`. The part of the call with
    /// `old` ends (record `TRANSFERRED`), `old` is released (cause 16), the new leg is
    /// answered ([`Delivery::ConnectedLine`]: the remaining party's number, then
    /// [`Delivery::Connect`]) and bridged to the remaining party, whose leg and
    /// channel are untouched. Returns the new leg.
    pub fn replace(
        &mut self,
        now: Instant,
        old: LegId,
        trunk: &str,
        setup: Setup,
    ) -> Result<LegId, ReplaceRefused> {
        let id = *self.legs.get(&old).ok_or(ReplaceRefused::NoCall)?;
        let kind = self.trunk_kind(trunk).unwrap_or(TrunkKind::Sip);
        {
            let call = self.calls.get(&id).ok_or(ReplaceRefused::NoCall)?;
            if call.answered.is_none() {
                let ours = call.b.as_ref().is_some_and(|b| b.id == old);
                if !ours || call.transfer.is_some() {
                    return Err(ReplaceRefused::Early);
                }
                if self.direct_media.contains(&call.a.trunk) && is_ip(kind) {
                    return Err(ReplaceRefused::NoMediaPath);
                }
                return Ok(self.replace_early(now, id, trunk, kind, setup));
            }
            let (remaining, _) = call.other_of(old).ok_or(ReplaceRefused::Early)?;
            // Two IP legs are joined by the RTP relay, which needs a port of the
            // remaining leg's own (not `media = "direct"`).
            if self.direct_media.contains(&remaining.trunk)
                || (is_ip(remaining.kind) && self.direct_media.contains(trunk))
            {
                return Err(ReplaceRefused::NoMediaPath);
            }
        }
        let Some(mut call) = self.calls.remove(&id) else {
            return Err(ReplaceRefused::NoCall);
        };
        let normal = self.clearing_q850(cause::NORMAL_CLEARING);
        if let Some(t) = call.transfer.take() {
            // A blind transfer of the same call gives way.
            self.abandon_transfer(now, &call, &t, normal);
            if !t.referrer_gone && t.referrer != old {
                let c = self.clearing_q850(cause::NORMAL_CLEARING);
                self.actions.push_back(Action::Deliver {
                    call: id,
                    leg: t.referrer,
                    msg: Delivery::TransferProgress(TransferStatus::Failed(Clearing {
                        status: 487,
                        ..c
                    })),
                });
            }
        }
        let Some((_, rem_is_a)) = call.other_of(old) else {
            self.calls.insert(id, call);
            return Err(ReplaceRefused::Early);
        };
        let record = format!("{}.{}", id, call.next_record);
        call.next_record += 1;
        let old_kind = if rem_is_a {
            call.b.as_ref().map_or(TrunkKind::Sip, |l| l.kind)
        } else {
            call.a.kind
        };
        let mut cdr = self.cdr_of(&call, now, normal, &side_name(old_kind));
        cdr.disposition = "TRANSFERRED".to_string();
        cdr.transfer = format!("attended as {record}");
        self.write_cdr(&cdr);
        if call.bridged {
            self.actions.push_back(Action::Unbridge { call: id });
        }
        let remaining_media = call.media_of(rem_is_a);
        let remaining_number = call.number_of(rem_is_a);
        let leg = self.new_leg_id();
        let new = Leg {
            id: leg,
            trunk: trunk.to_string(),
            kind,
            channel: None,
        };
        let Some(gone) = take_other(&mut call, rem_is_a) else {
            return Err(ReplaceRefused::Early);
        };
        self.actions.push_back(Action::Deliver {
            call: id,
            leg: gone.id,
            msg: Delivery::Release(normal),
        });
        if let Some(ch) = gone.channel {
            self.channels.release(ch, id.0, now);
        }
        self.legs.remove(&gone.id);
        self.legs.insert(leg, id);
        if call.held {
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: call.a.id,
                msg: Delivery::Resume,
            });
        }
        info!(call = %id, %old, %leg, %record, "attended transfer: leg replaced");
        call.dialled = setup
            .calling
            .as_ref()
            .map(|n| n.digits.clone())
            .unwrap_or_else(|| setup.called.digits.clone());
        call.media = setup.media;
        let newcomer = setup.calling.clone();
        if let Some(n) = remaining_number.clone() {
            // Who the new party is connected to (RFC 3325 P-Asserted-Identity of our 200 OK
            // on a trusted trunk, as for COLP).
            self.actions.push_back(Action::Deliver {
                call: id,
                leg,
                msg: Delivery::ConnectedLine(n),
            });
        }
        call.setup = Setup {
            called: setup.called,
            calling: remaining_number,
            bearer: call.setup.bearer,
            media: remaining_media,
            complete: true,
            redirecting: None,
        };
        call.out_trunk = trunk.to_string();
        call.out_kind = Some(kind);
        call.b = Some(new);
        call.started = self.wall(now);
        call.answered = call.started.into();
        call.transfer_note = format!("attended from {}", call.record);
        call.record = record;
        call.held = false;
        call.bridged = false;
        self.actions.push_back(Action::Deliver {
            call: id,
            leg,
            msg: Delivery::Connect {
                media: remaining_media,
            },
        });
        if let Some(n) = newcomer {
            // Connected line update for the remaining party (its new partner).
            self.tell_transferred(&call, n);
        }
        self.join(&mut call);
        self.calls.insert(id, call);
        Ok(leg)
    }
}

impl Core {
    /// RFC 3891 §3: the INVITE with `Replaces` names an early dialog the gateway
    /// initiated (call `id`'s outgoing leg, still ringing): the new leg answers the call
    /// in its place (a call pickup). The ringing leg is cancelled (cause 26, non-selected
    /// user clearing), the new leg is answered with the caller's media and the caller is
    /// connected; the call keeps its record (`transfer`: `early dialog replaced`).
    fn replace_early(
        &mut self,
        now: Instant,
        id: CallId,
        trunk: &str,
        kind: TrunkKind,
        setup: Setup,
    ) -> LegId {
        let leg = self.new_leg_id();
        let cancel = self.clearing_q850(NON_SELECTED_USER);
        let wall = self.wall(now);
        let Some(call) = self.calls.get_mut(&id) else {
            return leg;
        };
        if call.bridged {
            // Early media of the ringing leg.
            call.bridged = false;
            self.actions.push_back(Action::Unbridge { call: id });
        }
        if let Some(gone) = call.b.take() {
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: gone.id,
                msg: Delivery::Release(cancel),
            });
            if let Some(ch) = gone.channel {
                self.channels.release(ch, id.0, now);
            }
            self.legs.remove(&gone.id);
            info!(call = %id, old = %gone.id, %leg, "early dialog replaced");
        }
        if let Some(d) = call.overlap.as_mut().and_then(|o| o.deadline.take()) {
            self.overlap_deadlines.remove(&(d, id));
        }
        call.targets.clear();
        self.legs.insert(leg, id);
        call.b = Some(Leg {
            id: leg,
            trunk: trunk.to_string(),
            kind,
            channel: None,
        });
        call.out_trunk = trunk.to_string();
        call.out_kind = Some(kind);
        call.media = setup.media;
        call.answered = Some(wall);
        call.transfer_note = "early dialog replaced".to_string();
        self.stats.answered += 1;
        if let Some(n) = call.setup.calling.clone() {
            self.actions.push_back(Action::Deliver {
                call: id,
                leg,
                msg: Delivery::ConnectedLine(n),
            });
        }
        self.actions.push_back(Action::Deliver {
            call: id,
            leg,
            msg: Delivery::Connect {
                media: call.setup.media,
            },
        });
        let caller = call.a.id;
        self.actions.push_back(Action::Deliver {
            call: id,
            leg: caller,
            msg: Delivery::Connect { media: setup.media },
        });
        bridge_once(call, &mut self.actions);
        leg
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
