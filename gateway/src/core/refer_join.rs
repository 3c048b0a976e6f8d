//! Joining two of the gateway's own calls: the attended transfer most common at a PSTN
//! gateway. Phone A has call 1 with party B through us, holds it, places call 2 to party
//! C through us, then sends REFER in call 1's dialog with
//! `Refer-To: <sip:C@gw?Replaces=<call 2's dialog>>` (RFC 3515, RFC 3891 §7.1, RFC 5589
//! §7). The dialog to replace is A's leg of call 2, held by the gateway itself: rather
//! than place a call to itself, the gateway acts as transferee and transfer target at
//! once and joins B and C directly.
//!
//! Call 2's remaining leg (C) moves into call 1 in A's place; call 2 ends; A's two legs
//! are released (NOTIFY `200` on call 1's subscription first). The parties B and C never
//! see a new call: their legs, B-channels and protocol state are untouched, and the media
//! are joined as for any transfer ([`Action::Hairpin`] for two B-channels, a bridge or
//! the RTP relay otherwise). The daemon learns with [`Action::Merged`] that what call 2
//! still holds in the media engine now belongs to call 1.

use std::time::Instant;

use tracing::info;

use super::transfer::{
    is_ip, take_other, BEARER_NOT_IMPLEMENTED, INVALID_CALL_REFERENCE, SERVICE_UNAVAILABLE,
};
use super::{
    cause, model::TransferStatus, side_name, Action, CallId, Clearing, Core, Delivery, LegId,
    ReferRefused, Setup, TrunkKind,
};
use crate::trunk::BusyReason;

/// SIP 491 Request Pending: the other call has a transfer of its own in progress.
const PENDING: Clearing = Clearing {
    cause: cause::TEMPORARY_FAILURE,
    status: 491,
};

impl Core {
    /// Attended transfer by REFER between two calls of the gateway (RFC 3891 §7.1,
    /// RFC 5589 §7): `referrer` (a leg of an answered call, its REFER accepted on `Ok`)
    /// asks that its other party be connected to the other party of `replaced`'s call
    /// (the leg whose dialog the `Refer-To`'s `Replaces` names; the SIP leg checked that
    /// it is a dialog of the same party). On `Ok` the outcome comes as
    /// [`Delivery::TransferProgress`] to `referrer` at once: `Answered` then a release of
    /// both of the referrer's legs (cause 16) when the calls were joined, or `Failed`
    /// with 481 (the named call is gone or not answered: an early dialog the gateway did
    /// not initiate, RFC 3891 §3), 491 (it has a transfer of its own in progress), 488
    /// (an H.323 party with `media = "direct"`) or 503 (two B-channels and no media
    /// engine to join them), the calls going on as before.
    ///
    /// Records: both calls' parts so far end `TRANSFERRED` (`transfer`: `attended join
    /// with call-M as call-N.k`); the joined call goes on as `call-N.k`, calling the
    /// remaining party of the referrer's call, called the other, `transfer` `attended
    /// join of call-N and call-M`.
    pub fn refer_join(
        &mut self,
        now: Instant,
        referrer: LegId,
        replaced: LegId,
    ) -> Result<(), ReferRefused> {
        let (id, _, remaining, _) = self.referable(referrer)?;
        let remaining = (remaining.kind, remaining.trunk.clone());
        let other = self.legs.get(&replaced).copied();
        if other == Some(id) {
            return Err(ReferRefused::SameCall);
        }
        if let Some(c) = self.join_refused(other, replaced, &remaining) {
            info!(call = %id, %referrer, status = c.status, "attended transfer: join refused");
            self.actions.push_back(Action::Deliver {
                call: id,
                leg: referrer,
                msg: Delivery::TransferProgress(TransferStatus::Failed(c)),
            });
            return Ok(());
        }
        if let Some(other) = other {
            self.merge(now, id, referrer, other, replaced);
        }
        Ok(())
    }

    /// Why call `other` (holding leg `replaced`) cannot be joined with a remaining party
    /// of kind and trunk `remaining`, if it cannot.
    fn join_refused(
        &self,
        other: Option<CallId>,
        replaced: LegId,
        remaining: &(TrunkKind, String),
    ) -> Option<Clearing> {
        let gone = Clearing {
            cause: INVALID_CALL_REFERENCE,
            status: 481,
        };
        let Some(call) = other.and_then(|o| self.calls.get(&o)) else {
            return Some(gone);
        };
        if call.answered.is_none() {
            // RFC 3891 §3: an early dialog (A's call 2 still ringing at C) is not
            // replaced by the transferor's side.
            return Some(gone);
        }
        if call.transfer.is_some() {
            return Some(PENDING);
        }
        let (party, _) = call.other_of(replaced)?;
        if !is_ip(remaining.0) && !is_ip(party.kind) && !self.hairpin {
            return Some(Clearing {
                cause: SERVICE_UNAVAILABLE,
                status: 503,
            });
        }
        // A party whose RTP passes through (`media = "direct"`) has no port of its own
        // on the gateway to bridge or relay.
        if self.direct_media.contains(&remaining.1) || self.direct_media.contains(&party.trunk) {
            return Some(Clearing {
                cause: BEARER_NOT_IMPLEMENTED,
                status: 488,
            });
        }
        None
    }

    /// Moves call `other`'s remaining party into call `id` in place of `referrer`; the
    /// referrer's legs (`referrer`, `replaced`) are released.
    fn merge(&mut self, now: Instant, id: CallId, referrer: LegId, other: CallId, replaced: LegId) {
        let (Some(mut call), Some(mut gone)) = (self.calls.remove(&id), self.calls.remove(&other))
        else {
            return;
        };
        let (Some((_, b_is_a)), Some((_, c_is_a))) =
            (call.other_of(referrer), gone.other_of(replaced))
        else {
            self.calls.insert(id, call);
            self.calls.insert(other, gone);
            return;
        };
        let record = format!("{}.{}", id, call.next_record);
        call.next_record += 1;
        let normal = self.clearing_q850(cause::NORMAL_CLEARING);
        // The two parts with the transferor end here.
        for (c, with) in [(&call, &gone.record), (&gone, &call.record)] {
            let a_kind = if c.a.id == referrer || c.a.id == replaced {
                c.a.kind
            } else {
                c.b.as_ref().map_or(TrunkKind::Sip, |l| l.kind)
            };
            let mut cdr = self.cdr_of(c, now, normal, &side_name(a_kind));
            cdr.disposition = "TRANSFERRED".to_string();
            cdr.transfer = format!("attended join with {with} as {record}");
            self.write_cdr(&cdr);
        }
        for c in [&call, &gone] {
            if c.bridged {
                self.actions.push_back(Action::Unbridge { call: c.id });
            }
        }
        self.actions.push_back(Action::Merged {
            from: other,
            into: id,
        });
        // B: the remaining party of the referrer's call; C: the other call's.
        let b_media = call.media_of(b_is_a);
        let b_number = call.number_of(b_is_a);
        let c_media = gone.media_of(c_is_a);
        let c_number = gone.number_of(c_is_a);
        let (Some(a1), Some(a2)) = (take_other(&mut call, b_is_a), take_other(&mut gone, c_is_a))
        else {
            return;
        };
        self.actions.push_back(Action::Deliver {
            call: id,
            leg: a1.id,
            msg: Delivery::TransferProgress(TransferStatus::Answered),
        });
        for (c, l) in [(id, &a1), (other, &a2)] {
            self.actions.push_back(Action::Deliver {
                call: c,
                leg: l.id,
                msg: Delivery::Release(normal),
            });
            if let Some(ch) = l.channel {
                self.channels.release(ch, c.0, now);
            }
            self.legs.remove(&l.id);
        }
        // The transferor's holds end with it (Q.931 NOTIFY remote retrieval, re-INVITE).
        for (c, held, party) in [(id, call.held, call.a.id), (other, gone.held, gone.a.id)] {
            if held {
                self.actions.push_back(Action::Deliver {
                    call: c,
                    leg: party,
                    msg: Delivery::Resume,
                });
            }
        }
        let party = gone.a;
        if let Some(ch) = party.channel {
            // C's B-channel now belongs to the joined call (it stays busy throughout).
            self.channels.release(ch, other.0, now);
            self.channels.seize(ch, id.0, BusyReason::Outgoing);
        }
        self.legs.insert(party.id, id);
        if let Some(d) = gone.overlap.as_ref().and_then(|o| o.deadline) {
            self.overlap_deadlines.remove(&(d, other));
        }
        info!(call = %id, %other, b = %call.a.id, c = %party.id, %record, "attended transfer: calls joined");
        let called = c_number.unwrap_or_else(|| super::Number::unknown(""));
        call.dialled = called.digits.clone();
        call.out_trunk = party.trunk.clone();
        call.out_kind = Some(party.kind);
        call.setup = Setup {
            called,
            calling: b_number,
            bearer: call.setup.bearer,
            media: b_media,
            complete: true,
            redirecting: None,
        };
        call.media = c_media;
        // Connected line updates: B now talks to C, C to B (ETSI EN 300 369-1
        // `EctInform` toward ISDN, P-Asserted-Identity toward trusted SIP).
        if matches!(party.kind, TrunkKind::Isdn | TrunkKind::Sip) {
            if let Some(n) = call.setup.calling.clone() {
                self.actions.push_back(Action::Deliver {
                    call: id,
                    leg: party.id,
                    msg: Delivery::Transferred(n),
                });
            }
        }
        self.tell_transferred(&call, call.setup.called.clone());
        call.b = Some(party);
        call.started = self.wall(now);
        call.answered = Some(call.started);
        call.transfer_note = format!("attended join of {} and {}", call.record, gone.record);
        call.record = record;
        call.held = false;
        call.bridged = false;
        call.targets.clear();
        self.join(&mut call);
        self.calls.insert(id, call);
    }
}
