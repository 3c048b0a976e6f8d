//! Transfers in the core with fake legs in virtual time: who is told what, where the
//! media goes, which channels stay busy, and the records written.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, SpanId, Timeslot};

use super::super::*;
use crate::media::Law;

const CONFIG: &str = r#"
[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"

[[trunk_group]]
name = "pstn"
members = [{ span = 1, channels = "1-4" }]
hunting = "ascending"

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:5060"
peers = ["127.0.0.1:5070"]

[[sip_trunk]]
name = "pbx2"
listen = "127.0.0.1:5062"
peers = ["127.0.0.1:5072"]

[[route]]
pattern = "_0X."
to = ["pstn"]

[[route]]
pattern = "_2XX"
from = ["pstn"]
to = ["pbx"]

[[route]]
pattern = "_3XX"
from = ["pstn"]
to = ["pbx2"]

[h323]
listen = "127.0.0.1:1720"

[[h323_peer]]
name = "ep"
address = "127.0.0.1:1721"

[[h323_peer]]
name = "ep-direct"
address = "127.0.0.1:1722"
media = "direct"

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep"]

[[route]]
pattern = "5002"
from = ["pbx"]
to = ["ep-direct"]

[[route]]
pattern = "_3XX"
from = ["ep", "ep-direct"]
to = ["pbx2"]
"#;

#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Cdr>>>);

impl CdrSink for Records {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        self.0.lock().unwrap().push(cdr.clone());
        Ok(())
    }
}

struct F {
    core: Core,
    cdrs: Records,
    now: Instant,
}

const TS1: ChannelId = ChannelId {
    span: SpanId(1),
    timeslot: Timeslot(1),
};

fn rtp(port: u16) -> Media {
    Media::Rtp {
        remote: SocketAddr::from(([192, 0, 2, 1], port)),
        law: Law::ALaw,
        telephone_event: None,
    }
}

impl F {
    fn new() -> F {
        let config = Config::from_str(CONFIG, "test.toml").unwrap();
        let cdrs = Records::default();
        let now = Instant::now();
        F {
            core: Core::new(&config, Box::new(cdrs.clone()), now),
            cdrs,
            now,
        }
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.core.poll_action()).collect()
    }

    fn records(&self) -> Vec<Cdr> {
        self.cdrs.0.lock().unwrap().clone()
    }

    /// The PSTN (channel 1:1, calling 0301234) calls 201 on the PBX, which answers with
    /// RTP at port 4000: (call, PSTN leg, PBX leg).
    fn answered_pstn_call(&mut self) -> (CallId, LegId, LegId) {
        let setup = speech("201", Some("0301234"), Some(Media::Channel(TS1)));
        let (call, pstn) = self.core.incoming(self.now, "pstn", Some(TS1), setup);
        let a = match self.actions().as_slice() {
            [Action::Originate { leg, trunk, .. }] if trunk == "pbx" => *leg,
            other => panic!("{other:?}"),
        };
        self.core
            .handle(self.now, a, Message::Alerting { inband: false });
        self.now += Duration::from_secs(1);
        self.core.handle(
            self.now,
            a,
            Message::Connect {
                media: Some(rtp(4000)),
            },
        );
        let acts = self.actions();
        assert!(
            acts.iter()
                .any(|x| matches!(x, Action::Bridge { rtp_leg, channel, .. } if *rtp_leg == a && *channel == TS1)),
            "{acts:?}"
        );
        self.now += Duration::from_secs(5);
        (call, pstn, a)
    }

    /// A REFERs the call to `target`; returns the new call's leg and what it was placed
    /// with.
    fn refer(&mut self, a: LegId, target: &str) -> (LegId, String, Setup, Option<String>) {
        self.core
            .refer(
                self.now,
                a,
                &Number::unknown(target),
                Some("<sip:201@pbx.example>".into()),
            )
            .unwrap();
        match self.actions().as_slice() {
            [Action::Originate {
                leg,
                trunk,
                setup,
                referred_by,
                ..
            }] => (*leg, trunk.clone(), setup.clone(), referred_by.clone()),
            other => panic!("expected the new call, got {other:?}"),
        }
    }

    fn clean(&mut self) {
        assert!(
            self.core.busy_channels().is_empty(),
            "a channel stayed busy"
        );
        assert!(self.core.audit(self.now).is_empty());
        assert_eq!(self.core.call_count(), 0);
    }
}

impl F {
    /// What the core tells `leg` of `call` when it is released with cause 16.
    fn released(&self, call: CallId, leg: LegId) -> Action {
        Action::Deliver {
            call,
            leg,
            msg: Delivery::Release(self.core.clearing(Reason::Q850(16))),
        }
    }

    /// `leg` answers with `media`: what the core does then.
    fn connect(&mut self, leg: LegId, media: Option<Media>) -> Vec<Action> {
        self.core.handle(self.now, leg, Message::Connect { media });
        self.actions()
    }
}

/// B-channel 1:1 bridged to `rtp_leg`, whose RTP is at 192.0.2.1:`port`.
fn bridge(call: CallId, rtp_leg: LegId, port: u16) -> Action {
    Action::Bridge {
        call,
        channel: TS1,
        rtp_leg,
        remote: SocketAddr::from(([192, 0, 2, 1], port)),
        law: Law::ALaw,
        telephone_event: None,
        bearer: Bearer::Speech,
        answered: true,
    }
}

/// A complete speech call to `called` from `calling`.
fn speech(called: &str, calling: Option<&str>, media: Option<Media>) -> Setup {
    Setup {
        called: Number::unknown(called),
        calling: calling.map(Number::unknown),
        bearer: Bearer::Speech,
        media,
        complete: true,
        redirecting: None,
    }
}

/// A SIP final response `status` without a Reason header.
fn sip_release(status: u16) -> Message {
    Message::Release(Reason::Sip { status, q850: None })
}

fn progress(to: LegId, st: TransferStatus) -> Action {
    Action::Deliver {
        call: CallId(1),
        leg: to,
        msg: Delivery::TransferProgress(st),
    }
}

#[test]
fn blind_transfer_moves_the_bridge_to_the_target_and_keeps_the_b_channel() {
    let mut f = F::new();
    let (call, pstn, a) = f.answered_pstn_call();
    let (b, trunk, setup, referred_by) = f.refer(a, "301");
    // Routed as the PSTN party dialling 301; it is the caller the target sees.
    assert_eq!(trunk, "pbx2");
    assert_eq!(setup.called.digits, "301");
    assert_eq!(setup.calling.as_ref().unwrap().digits, "0301234");
    assert_eq!(referred_by.as_deref(), Some("<sip:201@pbx.example>"));
    assert_eq!(f.core.busy_channels(), vec![TS1]);

    f.core.handle(f.now, b, Message::Proceeding);
    assert!(
        f.actions().is_empty(),
        "100 Trying is the SIP leg's own NOTIFY"
    );
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    assert_eq!(f.actions(), vec![progress(a, TransferStatus::Ringing)]);
    f.now += Duration::from_secs(2);
    let acts = f.connect(b, Some(rtp(5000)));
    assert_eq!(
        acts,
        vec![
            Action::Unbridge { call },
            progress(a, TransferStatus::Answered),
            f.released(call, a),
            // Connected line update: the PSTN party now talks to the target.
            Action::Deliver {
                call,
                leg: pstn,
                msg: Delivery::Transferred(Number::unknown("301")),
            },
            bridge(call, b, 5000),
        ]
    );
    assert_eq!(f.core.busy_channels(), vec![TS1]);
    let recs = f.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].call_id, "call-1");
    assert_eq!(recs[0].disposition, "TRANSFERRED");
    assert_eq!(recs[0].transfer, "blind to 301 as call-1.1");
    assert_eq!(recs[0].called, "201");
    // A's late BYE finds nothing to do.
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    assert!(f.actions().is_empty());
    // The call goes on between the PSTN and B until the PSTN hangs up.
    f.now += Duration::from_secs(3);
    f.core
        .handle(f.now, pstn, Message::Release(Reason::Q850(16)));
    let acts = f.actions();
    assert_eq!(acts[0], Action::Unbridge { call });
    assert!(acts.contains(&f.released(call, b)));
    let recs = f.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].call_id, "call-1.1");
    assert_eq!(recs[1].disposition, "ANSWERED");
    assert_eq!(recs[1].transfer, "blind from call-1");
    assert_eq!(recs[1].called, "301");
    assert_eq!(recs[1].calling, "0301234");
    assert_eq!(recs[1].out_trunk, "pbx2");
    assert_eq!(recs[1].channel, Some(1));
    f.clean();
}

#[test]
fn a_busy_target_fails_the_transfer_and_the_call_goes_on() {
    let mut f = F::new();
    let (call, pstn, a) = f.answered_pstn_call();
    let (b, ..) = f.refer(a, "301");
    f.core.handle(f.now, b, sip_release(486));
    let acts = f.actions();
    assert_eq!(
        acts,
        vec![progress(
            a,
            TransferStatus::Failed(Clearing {
                cause: 17,
                status: 486
            })
        )]
    );
    let recs = f.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].call_id, "call-1.1");
    assert_eq!(recs[0].disposition, "BUSY");
    assert_eq!(recs[0].transfer, "blind attempt from call-1");
    // Still bridged to A, which hangs up later: an ordinary end.
    assert_eq!(f.core.busy_channels(), vec![TS1]);
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    let acts = f.actions();
    assert_eq!(
        acts,
        vec![Action::Unbridge { call }, f.released(call, pstn)]
    );
    let recs = f.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[1].call_id, "call-1");
    assert_eq!(recs[1].disposition, "ANSWERED");
    f.clean();
}

#[test]
fn refer_is_refused_without_an_answered_call_or_while_one_is_pending() {
    let mut f = F::new();
    assert_eq!(
        f.core
            .refer(f.now, LegId(99), &Number::unknown("301"), None),
        Err(ReferRefused::NoCall)
    );
    let setup = speech("201", None, None);
    let (_, _) = f.core.incoming(f.now, "pstn", Some(TS1), setup);
    let a = match f.actions().as_slice() {
        [Action::Originate { leg, .. }] => *leg,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        f.core.refer(f.now, a, &Number::unknown("301"), None),
        Err(ReferRefused::NotAnswered)
    );
    f.core.handle(
        f.now,
        a,
        Message::Connect {
            media: Some(rtp(4000)),
        },
    );
    f.actions();
    f.core
        .refer(f.now, a, &Number::unknown("301"), None)
        .unwrap();
    f.actions();
    assert_eq!(
        f.core.refer(f.now, a, &Number::unknown("302"), None),
        Err(ReferRefused::Pending)
    );
}

#[test]
fn a_number_without_route_fails_at_once_as_404() {
    let mut f = F::new();
    let (_, _, a) = f.answered_pstn_call();
    f.core
        .refer(f.now, a, &Number::unknown("999"), None)
        .unwrap();
    assert_eq!(
        f.actions(),
        vec![progress(
            a,
            TransferStatus::Failed(Clearing {
                cause: 1,
                status: 404
            })
        )]
    );
}

#[test]
fn isdn_to_isdn_fails_with_503_without_hairpin_and_hairpins_with_it() {
    let mut f = F::new();
    let (call, _, a) = f.answered_pstn_call();
    f.core
        .refer(f.now, a, &Number::unknown("0309999"), None)
        .unwrap();
    assert_eq!(
        f.actions(),
        vec![progress(
            a,
            TransferStatus::Failed(Clearing {
                cause: 63,
                status: 503
            })
        )]
    );
    assert_eq!(f.core.busy_channels(), vec![TS1]);
    // With a media engine that joins B-channels, the same transfer hairpins.
    f.core.set_hairpin(true);
    let (b, trunk, _, _) = f.refer(a, "0309999");
    assert_eq!(trunk, "pstn");
    let ts2 = ChannelId {
        span: SpanId(1),
        timeslot: Timeslot(2),
    };
    assert_eq!(f.core.busy_channels(), vec![TS1, ts2]);
    let acts = f.connect(b, None);
    assert!(acts.contains(&Action::Hairpin {
        call,
        a: TS1,
        b: ts2
    }));
    f.core.hangup(f.now, call, 16);
    assert!(f.actions().contains(&Action::Unbridge { call }));
    f.clean();
}

#[test]
fn transferor_leaving_early_then_a_failure_releases_the_remaining_party() {
    let mut f = F::new();
    let (call, pstn, a) = f.answered_pstn_call();
    let (b, ..) = f.refer(a, "301");
    // A hangs up right after the 202 (RFC 5589 §6): the transfer goes on.
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    assert_eq!(f.actions(), vec![Action::Unbridge { call }]);
    assert_eq!(f.core.call_count(), 1);
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    assert!(f.actions().is_empty(), "nobody to NOTIFY");
    f.core.handle(f.now, b, sip_release(486));
    let acts = f.actions();
    assert_eq!(
        acts,
        vec![Action::Deliver {
            call,
            leg: pstn,
            msg: Delivery::Release(Clearing {
                cause: 17,
                status: 486
            }),
        }]
    );
    assert_eq!(f.records().len(), 2);
    f.clean();
}

#[test]
fn transferor_leaving_early_then_an_answer_bridges_the_target() {
    let mut f = F::new();
    let (call, _, a) = f.answered_pstn_call();
    let (b, ..) = f.refer(a, "301");
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    f.actions();
    let acts = f.connect(b, Some(rtp(5000)));
    assert!(
        matches!(
            acts.as_slice(),
            [Action::Deliver { msg: Delivery::Transferred(_), .. }, Action::Bridge { rtp_leg, .. }]
                if *rtp_leg == b
        ),
        "{acts:?}"
    );
    f.core.hangup(f.now, call, 16);
    f.actions();
    assert_eq!(f.records().len(), 2);
    f.clean();
}

#[test]
fn replaces_swaps_the_leg_and_keeps_the_pstn_party_untouched() {
    let mut f = F::new();
    let (call, pstn, a) = f.answered_pstn_call();
    let setup = speech("201", Some("205"), Some(rtp(6000)));
    let c = f.core.replace(f.now, a, "pbx", setup).unwrap();
    let acts = f.actions();
    assert_eq!(
        acts,
        vec![
            Action::Unbridge { call },
            f.released(call, a),
            Action::Deliver {
                call,
                leg: c,
                msg: Delivery::ConnectedLine(Number::unknown("0301234")),
            },
            Action::Deliver {
                call,
                leg: c,
                msg: Delivery::Connect {
                    media: Some(Media::Channel(TS1))
                },
            },
            // Connected line update: the PSTN party now talks to 205.
            Action::Deliver {
                call,
                leg: pstn,
                msg: Delivery::Transferred(Number::unknown("205")),
            },
            bridge(call, c, 6000),
        ]
    );
    assert_eq!(f.core.busy_channels(), vec![TS1]);
    let recs = f.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].disposition, "TRANSFERRED");
    assert_eq!(recs[0].transfer, "attended as call-1.1");
    // The replaced leg is gone; the new one clears the call.
    assert_eq!(f.core.call_of(a), None);
    f.core.handle(f.now, c, Message::Release(Reason::Q850(16)));
    let acts = f.actions();
    assert!(acts.contains(&f.released(call, pstn)));
    let recs = f.records();
    assert_eq!(recs[1].call_id, "call-1.1");
    assert_eq!(recs[1].transfer, "attended from call-1");
    assert_eq!(recs[1].called, "205");
    f.clean();
}

#[test]
fn replaces_of_an_unknown_leg_or_an_early_dialog_we_did_not_initiate_is_refused() {
    let mut f = F::new();
    let setup = speech("0301234", None, Some(rtp(6000)));
    assert_eq!(
        f.core.replace(f.now, LegId(42), "pbx", setup.clone()),
        Err(ReplaceRefused::NoCall)
    );
    // The PBX calls the PSTN: its leg (an early dialog the PBX initiated) is not ours
    // to replace (RFC 3891 §3: 481).
    let (call, pbx) = f.core.incoming(f.now, "pbx", None, setup.clone());
    f.actions();
    assert_eq!(
        f.core.replace(f.now, pbx, "pbx", setup),
        Err(ReplaceRefused::Early)
    );
    f.core.hangup(f.now, call, 16);
    f.actions();
    f.clean();
}

/// RFC 3891 §3: Replaces naming the early dialog of an INVITE the gateway sent (the PSTN
/// calls 201, which rings): the new leg answers in its place. The ringing leg is
/// cancelled (cause 26), the PSTN caller is connected, the B-channel bridged to the new
/// leg; one record, answered, `early dialog replaced`.
#[test]
fn replaces_of_an_early_dialog_we_initiated_answers_the_call_and_cancels_the_old_leg() {
    let mut f = F::new();
    let setup = speech("201", Some("0301234"), Some(Media::Channel(TS1)));
    let (call, pstn) = f.core.incoming(f.now, "pstn", Some(TS1), setup);
    let ringing = match f.actions().as_slice() {
        [Action::Originate { leg, .. }] => *leg,
        other => panic!("{other:?}"),
    };
    f.core
        .handle(f.now, ringing, Message::Alerting { inband: false });
    f.actions();
    let picker = speech("201", Some("205"), Some(rtp(6000)));
    let c = f.core.replace(f.now, ringing, "pbx", picker).unwrap();
    assert_eq!(
        f.actions(),
        vec![
            Action::Deliver {
                call,
                leg: ringing,
                msg: Delivery::Release(f.core.clearing(Reason::Q850(26))),
            },
            Action::Deliver {
                call,
                leg: c,
                msg: Delivery::ConnectedLine(Number::unknown("0301234")),
            },
            Action::Deliver {
                call,
                leg: c,
                msg: Delivery::Connect {
                    media: Some(Media::Channel(TS1))
                },
            },
            Action::Deliver {
                call,
                leg: pstn,
                msg: Delivery::Connect {
                    media: Some(rtp(6000))
                },
            },
            bridge(call, c, 6000),
        ]
    );
    // The cancelled leg's late 487 finds nothing.
    f.core.handle(f.now, ringing, sip_release(487));
    assert!(f.actions().is_empty());
    f.now += Duration::from_secs(2);
    f.core.handle(f.now, c, Message::Release(Reason::Q850(16)));
    assert!(f.actions().contains(&f.released(call, pstn)));
    let recs = f.records();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].disposition, "ANSWERED");
    assert_eq!(recs[0].transfer, "early dialog replaced");
    assert_eq!(recs[0].out_trunk, "pbx");
    f.clean();
}

#[test]
fn a_call_ended_during_a_transfer_releases_the_new_call_and_records_it_cancelled() {
    let mut f = F::new();
    let (call, _, a) = f.answered_pstn_call();
    let (b, ..) = f.refer(a, "301");
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    f.actions();
    assert!(f.core.hangup(f.now, call, 16));
    let acts = f.actions();
    assert!(
        acts.iter().any(
            |x| matches!(x, Action::Deliver { leg, msg: Delivery::Release(_), .. } if *leg == b)
        ),
        "{acts:?}"
    );
    let recs = f.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0].call_id, "call-1.1");
    assert_eq!(recs[0].disposition, "CANCELLED");
    assert_eq!(recs[1].call_id, "call-1");
    // The new leg's late answer finds nothing.
    f.core.handle(f.now, b, Message::Connect { media: None });
    assert!(f.actions().is_empty());
    f.clean();
}

impl F {
    /// The PBX (leg A, RTP at port 4000) calls 5001, routed to H.323 peer `ep` (or 5002,
    /// `ep-direct`), which answers with RTP at port 7000: (call, A, H.323 leg).
    fn answered_h323_call(&mut self, called: &str) -> (CallId, LegId, LegId) {
        let setup = speech(called, Some("201"), Some(rtp(4000)));
        let (call, a) = self.core.incoming(self.now, "pbx", None, setup);
        let h = match self.actions().as_slice() {
            [Action::Originate { leg, kind, .. }] if *kind == TrunkKind::H323 => *leg,
            other => panic!("{other:?}"),
        };
        self.now += Duration::from_secs(1);
        self.core.handle(
            self.now,
            h,
            Message::Connect {
                media: Some(rtp(7000)),
            },
        );
        let acts = self.actions();
        assert!(
            acts.iter()
                .any(|x| matches!(x, Action::Relay { a: ra, b: rb, .. } if *ra == a && *rb == h)),
            "{acts:?}"
        );
        self.now += Duration::from_secs(5);
        (call, a, h)
    }
}

/// SIP A ↔ H.323: A REFERs to 301 (SIP, routed from the H.323 trunk): on the target's
/// answer the relay moves from A to the target; the H.323 leg is never told anything.
#[test]
fn blind_transfer_of_an_h323_call_to_sip_moves_the_relay() {
    let mut f = F::new();
    let (call, a, h) = f.answered_h323_call("5001");
    let (b, trunk, setup, _) = f.refer(a, "301");
    assert_eq!(trunk, "pbx2");
    assert_eq!(setup.media, Some(rtp(7000)), "the H.323 party's media");
    let acts = f.connect(b, Some(rtp(5000)));
    assert_eq!(
        acts,
        vec![
            Action::Unbridge { call },
            progress(a, TransferStatus::Answered),
            f.released(call, a),
            Action::Relay {
                call,
                a: h,
                a_media: rtp(7000),
                b,
                b_media: rtp(5000),
            },
        ]
    );
    let recs = f.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].disposition, "TRANSFERRED");
    assert_eq!(recs[0].transfer, "blind to 301 as call-1.1");
    f.core.handle(f.now, h, Message::Release(Reason::Q850(16)));
    assert!(f.actions().contains(&f.released(call, b)));
    let recs = f.records();
    assert_eq!(recs[1].call_id, "call-1.1");
    assert_eq!(recs[1].in_trunk, "ep");
    assert_eq!(recs[1].out_trunk, "pbx2");
    f.clean();
}

/// SIP A ↔ H.323, A REFERs to a PSTN number: the new call seizes a B-channel and on its
/// answer the B-channel is bridged to the H.323 leg's RTP.
#[test]
fn blind_transfer_of_an_h323_call_to_the_pstn_bridges_the_h323_leg() {
    let mut f = F::new();
    let (call, a, h) = f.answered_h323_call("5001");
    let (b, trunk, ..) = f.refer(a, "0309999");
    assert_eq!(trunk, "pstn");
    assert_eq!(f.core.busy_channels(), vec![TS1]);
    let acts = f.connect(b, None);
    assert_eq!(acts[0], Action::Unbridge { call });
    assert_eq!(acts.last(), Some(&bridge(call, h, 7000)), "{acts:?}");
    f.core.hangup(f.now, call, 16);
    f.actions();
    assert_eq!(f.records().len(), 2);
    f.clean();
}

/// An INVITE with Replaces naming A's dialog of a SIP ↔ H.323 call: the new SIP leg is
/// answered with the H.323 party's media and relayed to it; the H.323 leg stays.
#[test]
fn replaces_in_an_h323_call_relays_the_new_leg() {
    let mut f = F::new();
    let (call, a, h) = f.answered_h323_call("5001");
    let setup = speech("5001", Some("205"), Some(rtp(6000)));
    let c = f.core.replace(f.now, a, "pbx", setup).unwrap();
    let acts = f.actions();
    assert_eq!(acts[0], Action::Unbridge { call });
    assert!(acts.contains(&Action::Deliver {
        call,
        leg: c,
        msg: Delivery::Connect {
            media: Some(rtp(7000))
        },
    }));
    assert_eq!(
        acts.last(),
        Some(&Action::Relay {
            call,
            a: h,
            a_media: rtp(7000),
            b: c,
            b_media: rtp(6000),
        }),
        "{acts:?}"
    );
    assert!(!acts
        .iter()
        .any(|x| matches!(x, Action::Deliver { leg, .. } if *leg == h)));
    f.core.hangup(f.now, call, 16);
    f.actions();
    let recs = f.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].transfer, "attended as call-1.1");
    f.clean();
}

/// An H.323 peer with `media = "direct"` has no port on the gateway: its media cannot be
/// moved, so the transfer fails (NOTIFY 488) and Replaces is refused (488).
#[test]
fn transfers_of_a_direct_media_h323_call_are_refused() {
    let mut f = F::new();
    let (call, a, _) = f.answered_h323_call("5002");
    f.core
        .refer(f.now, a, &Number::unknown("301"), None)
        .unwrap();
    assert_eq!(
        f.actions(),
        vec![progress(
            a,
            TransferStatus::Failed(Clearing {
                cause: 65,
                status: 488
            })
        )]
    );
    let setup = speech("5002", None, Some(rtp(6000)));
    assert_eq!(
        f.core.replace(f.now, a, "pbx", setup),
        Err(ReplaceRefused::NoMediaPath)
    );
    f.core.hangup(f.now, call, 16);
    f.actions();
    f.clean();
}

/// A REFER naming a dialog to replace: the new call carries the `Replaces`; a target
/// routed to ISDN has no dialog it could name (NOTIFY 481, the call goes on).
#[test]
fn refer_with_replaces_carries_it_to_a_sip_target_only() {
    let mut f = F::new();
    f.core.set_hairpin(true);
    let (call, _, a) = f.answered_pstn_call();
    let r = "c2@pbx;to-tag=t1;from-tag=f1".to_string();
    f.core
        .refer_replacing(f.now, a, &Number::unknown("0309999"), None, Some(r.clone()))
        .unwrap();
    assert_eq!(
        f.actions(),
        vec![progress(
            a,
            TransferStatus::Failed(Clearing {
                cause: 81,
                status: 481
            })
        )]
    );
    f.core
        .refer_replacing(f.now, a, &Number::unknown("301"), None, Some(r.clone()))
        .unwrap();
    match f.actions().as_slice() {
        [Action::Originate {
            trunk, replaces, ..
        }] => {
            assert_eq!(trunk, "pbx2");
            assert_eq!(replaces.as_deref(), Some(r.as_str()));
        }
        other => panic!("{other:?}"),
    }
    f.core.hangup(f.now, call, 16);
    f.actions();
    f.clean();
}

/// Replaces from another SIP trunk (the daemon checked the dialog trunk's allow-list):
/// the new leg belongs to that trunk, the record says so.
#[test]
fn replaces_from_another_sip_trunk_moves_the_call_to_it() {
    let mut f = F::new();
    let (call, pstn, a) = f.answered_pstn_call();
    let setup = speech("201", Some("305"), Some(rtp(6000)));
    let c = f.core.replace(f.now, a, "pbx2", setup).unwrap();
    let acts = f.actions();
    assert!(acts.contains(&f.released(call, a)));
    assert!(matches!(acts.last(), Some(Action::Bridge { rtp_leg, .. }) if *rtp_leg == c));
    f.core
        .handle(f.now, pstn, Message::Release(Reason::Q850(16)));
    f.actions();
    let recs = f.records();
    assert_eq!(recs[0].out_trunk, "pbx");
    assert_eq!(recs[1].out_trunk, "pbx2");
    assert_eq!(recs[1].called, "305");
    f.clean();
}

impl F {
    /// Phone A on the PBX (RTP at `port`) calls `called` on the PSTN; the switch answers
    /// (`answer`) or only rings: (call, A's leg, the PSTN leg, its B-channel).
    fn sip_to_pstn(
        &mut self,
        called: &str,
        port: u16,
        answer: bool,
    ) -> (CallId, LegId, LegId, ChannelId) {
        let setup = speech(called, Some("201"), Some(rtp(port)));
        let (call, a) = self.core.incoming(self.now, "pbx", None, setup);
        let (p, ch) = match self.actions().as_slice() {
            [Action::Originate {
                leg,
                channel: Some(ch),
                ..
            }] => (*leg, *ch),
            other => panic!("{other:?}"),
        };
        self.core
            .handle(self.now, p, Message::Alerting { inband: false });
        if answer {
            self.now += Duration::from_secs(1);
            self.core.handle(
                self.now,
                p,
                Message::Connect {
                    media: Some(Media::Channel(ch)),
                },
            );
        }
        let acts = self.actions();
        assert_eq!(
            acts.iter()
                .any(|x| matches!(x, Action::Bridge { channel, .. } if *channel == ch)),
            answer,
            "{acts:?}"
        );
        self.now += Duration::from_secs(5);
        (call, a, p, ch)
    }
}

/// RFC 5589 §7 at a PSTN gateway: A holds its call with B, calls C, then REFERs B to C
/// naming its own dialog of call 2 (`Refer-To: <sip:C?Replaces=…>`): the gateway joins B
/// and C itself. A hears NOTIFY 200 and is released on both calls; B's hold ends; the
/// two B-channels are hairpinned in call 1 (after call 2 was merged into it); records.
#[test]
fn refer_join_hairpins_two_pstn_calls_and_releases_the_transferor() {
    let mut f = F::new();
    f.core.set_hairpin(true);
    let (call1, a1, b, ch1) = f.sip_to_pstn("0301111", 4000, true);
    f.core.handle(f.now, a1, Message::Hold);
    assert!(matches!(
        f.actions().as_slice(),
        [
            Action::HoldMedia { held: true, .. },
            Action::Deliver {
                msg: Delivery::Hold,
                ..
            }
        ]
    ));
    let (call2, a2, c, ch2) = f.sip_to_pstn("0302222", 4002, true);
    assert_ne!(ch1, ch2);
    f.core.refer_join(f.now, a1, a2).unwrap();
    let normal = f.core.clearing(Reason::Q850(16));
    assert_eq!(
        f.actions(),
        vec![
            Action::Unbridge { call: call1 },
            Action::Unbridge { call: call2 },
            Action::Merged {
                from: call2,
                into: call1
            },
            progress(a1, TransferStatus::Answered),
            Action::Deliver {
                call: call1,
                leg: a1,
                msg: Delivery::Release(normal),
            },
            Action::Deliver {
                call: call2,
                leg: a2,
                msg: Delivery::Release(normal),
            },
            Action::Deliver {
                call: call1,
                leg: b,
                msg: Delivery::Resume,
            },
            // Connected line: C now talks to B, B to C.
            Action::Deliver {
                call: call1,
                leg: c,
                msg: Delivery::Transferred(Number::unknown("0301111")),
            },
            Action::Deliver {
                call: call1,
                leg: b,
                msg: Delivery::Transferred(Number::unknown("0302222")),
            },
            Action::Hairpin {
                call: call1,
                a: ch1,
                b: ch2
            },
        ]
    );
    assert_eq!(f.core.call_count(), 1);
    assert_eq!(f.core.busy_channels(), vec![ch1, ch2]);
    assert_eq!(f.core.call_of(c), Some(call1), "C's leg moved into call 1");
    assert_eq!(f.core.other_leg(b), Some(c));
    let recs = f.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(
        (recs[0].call_id.as_str(), recs[0].disposition.as_str()),
        ("call-1", "TRANSFERRED")
    );
    assert_eq!(recs[0].transfer, "attended join with call-2 as call-1.1");
    assert_eq!(recs[0].called, "0301111");
    assert_eq!(
        (recs[1].call_id.as_str(), recs[1].disposition.as_str()),
        ("call-2", "TRANSFERRED")
    );
    assert_eq!(recs[1].transfer, "attended join with call-1 as call-1.1");
    assert_eq!(recs[1].channel, Some(ch2.timeslot.0));
    // A's late BYEs find nothing to do.
    f.core.handle(f.now, a1, Message::Release(Reason::Q850(16)));
    f.core.handle(f.now, a2, Message::Release(Reason::Q850(16)));
    assert!(f.actions().is_empty());
    // The daemon's join note, then C hangs up: B is released, the joined part written.
    f.core.note_join(call1, "hairpin");
    f.now += Duration::from_secs(4);
    f.core.handle(f.now, c, Message::Release(Reason::Q850(16)));
    let acts = f.actions();
    assert_eq!(acts[0], Action::Unbridge { call: call1 });
    assert!(acts.contains(&Action::Deliver {
        call: call1,
        leg: b,
        msg: Delivery::Release(normal),
    }));
    let recs = f.records();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2].call_id, "call-1.1");
    assert_eq!(recs[2].disposition, "ANSWERED");
    assert_eq!(
        recs[2].transfer,
        "attended join of call-1 and call-2; hairpin"
    );
    assert_eq!(recs[2].calling, "0301111");
    assert_eq!(recs[2].called, "0302222");
    assert_eq!(recs[2].out_trunk, "pstn");
    f.clean();
}

/// One of the parties on IP: the PSTN party B is bridged to the H.323 party's RTP.
#[test]
fn refer_join_of_a_pstn_call_and_an_h323_call_bridges_them() {
    let mut f = F::new();
    let (call1, a1, b, ch1) = f.sip_to_pstn("0301111", 4000, true);
    let (call2, a2, h) = f.answered_h323_call("5001");
    f.core.refer_join(f.now, a1, a2).unwrap();
    let acts = f.actions();
    assert!(acts.contains(&Action::Merged {
        from: call2,
        into: call1
    }));
    assert_eq!(
        acts.last(),
        Some(&Action::Bridge {
            call: call1,
            channel: ch1,
            rtp_leg: h,
            remote: SocketAddr::from(([192, 0, 2, 1], 7000)),
            law: Law::ALaw,
            telephone_event: None,
            bearer: Bearer::Speech,
            answered: true,
        })
    );
    assert!(
        acts.contains(&Action::Unbridge { call: call2 }),
        "the relay"
    );
    // The PSTN party is told its new partner; the H.323 leg has no way to be told.
    let told: Vec<LegId> = acts
        .iter()
        .filter_map(|x| match x {
            Action::Deliver {
                leg,
                msg: Delivery::Transferred(n),
                ..
            } if n.digits == "5001" => Some(*leg),
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![b]);
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    assert!(f.actions().contains(&f.released(call1, h)));
    assert_eq!(
        f.records()[2].transfer,
        "attended join of call-1 and call-2"
    );
    f.clean();
}

/// What is refused: before the REFER is accepted (its own call; no or an unanswered
/// call of the referrer: 403/481) and after (NOTIFY: the named call gone or still
/// ringing 481, two B-channels without a media engine 503); the calls go on untouched.
#[test]
fn refer_join_refusals_leave_both_calls_as_they_were() {
    let mut f = F::new();
    let (call1, a1, b, ch1) = f.sip_to_pstn("0301111", 4000, true);
    let (call2, a2, c, ch2) = f.sip_to_pstn("0302222", 4002, false);
    assert_eq!(
        f.core.refer_join(f.now, LegId(99), a2),
        Err(ReferRefused::NoCall)
    );
    assert_eq!(f.core.refer_join(f.now, a1, b), Err(ReferRefused::SameCall));
    assert_eq!(
        f.core.refer_join(f.now, a2, a1),
        Err(ReferRefused::NotAnswered)
    );
    let failed = |cause, status| progress(a1, TransferStatus::Failed(Clearing { cause, status }));
    // Call 2 still ringing: an early dialog (RFC 3891 §3).
    f.core.refer_join(f.now, a1, a2).unwrap();
    assert_eq!(f.actions(), vec![failed(81, 481)]);
    f.core.refer_join(f.now, a1, LegId(99)).unwrap();
    assert_eq!(f.actions(), vec![failed(81, 481)]);
    // Answered, but two B-channels and no media engine to join them.
    f.core.handle(
        f.now,
        c,
        Message::Connect {
            media: Some(Media::Channel(ch2)),
        },
    );
    f.actions();
    f.core.refer_join(f.now, a1, a2).unwrap();
    assert_eq!(f.actions(), vec![failed(63, 503)]);
    assert_eq!(f.core.call_count(), 2);
    assert_eq!(f.core.busy_channels(), vec![ch1, ch2]);
    assert!(f.records().is_empty());
    f.core.hangup(f.now, call1, 16);
    f.core.hangup(f.now, call2, 16);
    f.actions();
    f.clean();
}
