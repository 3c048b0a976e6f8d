//! Joining two of the gateway's own B-channels ([`Action::Hairpin`]: a transfer left both
//! remaining parties on the PSTN, a "trombone").
//!
//! When both channels are on one span whose trunk group says `transfer = "ect"` or
//! `"2bct"`, the switch is asked on the D-channel to connect the two parties itself
//! (ETSI Explicit Call Transfer, NI-2 Two B-channel Transfer: `q931::call::Interface::
//! transfer`); it then clears both calls from the gateway, which ends the call through
//! the ordinary release path (CDR, channels freed). If the switch refuses, or the
//! group says `hairpin`, or the channels are on different spans, the media engine joins
//! the two B-channels itself ([`crate::media::engine::hairpin`]), no RTP involved, until
//! the call ends ([`Action::Unbridge`]).
//!
//! [`Action::Hairpin`]: crate::core::Action::Hairpin
//! [`Action::Unbridge`]: crate::core::Action::Unbridge

use std::collections::HashMap;
use std::time::Instant;

use dahdi_driver::{ChannelId, ChannelMode};
use q931::call::TransferMethod;
use tracing::{info, warn};

use super::Signalling;
use crate::config::TransferMode;
use crate::core::{CallId, Core};
use crate::media::engine::{ChannelKey, HairpinConfig};

/// The joins in progress.
#[derive(Default)]
pub(super) struct Joins {
    /// Calls whose two B-channels the media engine joins.
    hairpins: HashMap<CallId, ChannelKey>,
    /// Calls whose transfer the switch was asked for, with their channels (for the
    /// fallback to a hairpin).
    asked: HashMap<CallId, (ChannelId, ChannelId)>,
    /// Hairpins waiting for a channel still held by the call's previous bridge.
    waiting: HashMap<CallId, (ChannelId, ChannelId)>,
}

impl Signalling {
    /// [`crate::core::Action::Hairpin`]: the switch's transfer where configured,
    /// otherwise (or when it refuses) a hairpin in the media engine.
    pub(super) fn join_isdn(
        &mut self,
        core: &mut Core,
        now: Instant,
        call: CallId,
        a: ChannelId,
        b: ChannelId,
    ) {
        let method = self
            .dchans
            .iter()
            .find(|d| d.leg.span() == a.span)
            .filter(|_| a.span == b.span)
            .and_then(|d| match d.transfer {
                TransferMode::Ect => Some(TransferMethod::EtsiEct),
                TransferMode::TwoBct => Some(TransferMethod::Ni2TwoBct),
                TransferMode::Hairpin => None,
            });
        if let Some(method) = method {
            if let Some(d) = self.dchans.iter_mut().find(|d| d.leg.span() == a.span) {
                match d.leg.transfer(now, a, b, method) {
                    Ok(()) => {
                        info!(%call, %a, %b, ?method, "transfer asked of the switch");
                        core.note_join(
                            call,
                            match method {
                                TransferMethod::EtsiEct => "ect",
                                TransferMethod::Ni2TwoBct => "2bct",
                            },
                        );
                        self.joins.asked.insert(call, (a, b));
                        return;
                    }
                    Err(e) => warn!(%call, error = %e, "switch transfer not invoked; hairpin"),
                }
            }
        }
        self.hairpin(core, now, call, a, b);
    }

    /// Joins the two B-channels in the media engine (after the call's previous RTP
    /// bridge gave its B-channel back).
    fn hairpin(&mut self, core: &mut Core, now: Instant, call: CallId, a: ChannelId, b: ChannelId) {
        if self.unbridging.values().any(|c| *c == call) {
            self.joins.waiting.insert(call, (a, b));
            return;
        }
        let open = |s: &Self, ch: ChannelId| {
            let d = s.dchans.iter().find(|d| d.leg.span() == ch.span)?;
            let dev = ChannelId {
                span: d.dev_span,
                timeslot: ch.timeslot,
            };
            let mode = ChannelMode::Clear {
                blocksize: 160,
                law: d.law,
            };
            match d.device.open_channel(dev, mode) {
                Ok(c) => Some((c, d.law)),
                Err(e) => {
                    warn!(%call, channel = %ch, error = %e, "B-channel not opened for the hairpin");
                    None
                }
            }
        };
        let (Some((ca, la)), Some((cb, lb))) = (open(self, a), open(self, b)) else {
            core.hangup(now, call, TEMPORARY_FAILURE);
            return;
        };
        let Some(media) = &mut self.media else {
            core.hangup(now, call, TEMPORARY_FAILURE);
            return;
        };
        match media.add_hairpin(HairpinConfig {
            a: ca,
            a_law: la,
            b: cb,
            b_law: lb,
        }) {
            Ok(key) => {
                info!(%call, %a, %b, "B-channels hairpinned in the gateway (no RTP)");
                core.note_join(call, "hairpin");
                self.joins.hairpins.insert(call, key);
            }
            Err(e) => {
                warn!(%call, error = %e, "media engine refused the hairpin");
                core.hangup(now, call, TEMPORARY_FAILURE);
            }
        }
    }

    /// [`crate::core::Action::Unbridge`] of a call: its hairpin ends, a pending join is
    /// forgotten.
    pub(super) fn join_ended(&mut self, call: CallId) {
        self.joins.waiting.remove(&call);
        self.joins.asked.remove(&call);
        if let (Some(m), Some(key)) = (&mut self.media, self.joins.hairpins.remove(&call)) {
            if let Err(e) = m.remove_channel(key) {
                warn!(%call, error = %e, "hairpin already gone");
            }
        }
    }

    /// The call's previous bridge gave its B-channel back: a hairpin waiting for it is
    /// made now.
    pub(super) fn join_channel_freed(&mut self, core: &mut Core, now: Instant, call: CallId) {
        if let Some((a, b)) = self.joins.waiting.remove(&call) {
            self.hairpin(core, now, call, a, b);
        }
    }

    /// What the switches answered to our transfers: done (the switch clears the calls,
    /// the core ends the call on their release) or refused (hairpin instead).
    pub(super) fn transfer_outcomes(&mut self, core: &mut Core, now: Instant) {
        let mut outcomes = Vec::new();
        for d in &mut self.dchans {
            while let Some(o) = d.leg.poll_transfer() {
                outcomes.push(o);
            }
        }
        for o in outcomes {
            let Some((&call, &(a, b))) = self
                .joins
                .asked
                .iter()
                .find(|(_, (a, b))| (*a, *b) == o.channels || (*b, *a) == o.channels)
            else {
                continue;
            };
            self.joins.asked.remove(&call);
            match o.result {
                Ok(()) => info!(%call, %a, %b, "switch joined the parties; it clears our calls"),
                Err(reason) => {
                    warn!(%call, ?reason, "switch refused the transfer: hairpin in the gateway");
                    self.hairpin(core, now, call, a, b);
                }
            }
        }
    }
}

/// Q.850 cause 41 for a join that cannot be made.
const TEMPORARY_FAILURE: u8 = crate::core::cause::TEMPORARY_FAILURE;
