//! The core with fake legs in virtual time: each pair of the documented mapping at the
//! neutral level, causes both ways, failover, hunting, CDRs and the audit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, SpanId, Timeslot};

use super::*;
use crate::config::TypeOfNumber;

const CONFIG: &str = r#"
[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"

[[span]]
id = 2
type = "e1"
signalling = "pri_cpe"

[[trunk_group]]
name = "pstn"
members = [{ span = 1, channels = "1-2" }]
hunting = "ascending"
numbering = { national_prefix = "0", international_prefix = "00", country_code = "49" }

[[trunk_group]]
name = "backup"
members = [{ span = 2, channels = "1-2" }]
hunting = "descending"

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:5060"
peers = ["127.0.0.1:5070"]
numbering = { country_code = "49", national_prefix = "0", international_prefix = "00" }

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn", "backup"]

[[route]]
pattern = "_2XX"
from = ["pstn", "backup"]
to = ["pbx"]

[[route]]
pattern = "_30X."
from = ["pstn"]
to = ["pbx"]
"#;

#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Cdr>>>);

impl CdrSink for Records {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        self.0.lock().unwrap().push(cdr.clone());
        Ok(())
    }
}

struct Fixture {
    core: Core,
    cdrs: Records,
    now: Instant,
}

fn ch(span: u16, ts: u8) -> ChannelId {
    ChannelId {
        span: SpanId(span),
        timeslot: Timeslot(ts),
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(CONFIG)
    }

    fn with(config: &str) -> Fixture {
        let config = Config::from_str(config, "test.toml").unwrap();
        let cdrs = Records::default();
        let now = Instant::now();
        Fixture {
            core: Core::new(&config, Box::new(cdrs.clone()), now),
            cdrs,
            now,
        }
    }

    fn tick(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    /// More digits of an overlap call arrive on `leg` (INFORMATION; `complete`: with
    /// Sending complete, or T302 ran out).
    fn dial(&mut self, leg: LegId, digits: &str, complete: bool) {
        self.core.handle(
            self.now,
            leg,
            Message::Digits {
                digits: digits.into(),
                complete,
            },
        );
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.core.poll_action()).collect()
    }

    /// An INVITE from the PBX to `called` (SIP user part), as the SIP leg translates it.
    fn invite(&mut self, called: &str) -> (CallId, LegId) {
        let rules = self.core.numbering("pbx");
        let setup = Setup {
            called: number::from_sip_user(called, &rules, false),
            calling: Some(number::from_sip_user("+4930999", &rules, true)),
            bearer: Bearer::Speech,
            media: None,
            complete: true,
            redirecting: None,
        };
        self.core.incoming(self.now, "pbx", None, setup)
    }

    /// The switch's call to 201 on B-channel `channel`, as the ISDN leg translates it.
    fn switch_call_to_201(&self, channel: ChannelId) -> Setup {
        let rules = self.core.numbering("pstn");
        Setup {
            called: number::from_sip_user("201", &rules, false),
            calling: None,
            bearer: Bearer::Speech,
            media: Some(Media::Channel(channel)),
            complete: true,
            redirecting: None,
        }
    }

    /// The outgoing attempt the core placed.
    fn originated(&mut self) -> (LegId, String, Option<ChannelId>, Setup) {
        match self.actions().as_slice() {
            [Action::Originate {
                leg,
                trunk,
                channel,
                setup,
                ..
            }] => (*leg, trunk.clone(), *channel, setup.clone()),
            other => panic!("expected one Originate, got {other:?}"),
        }
    }

    fn delivered(&mut self) -> Vec<(LegId, Delivery)> {
        self.actions()
            .into_iter()
            .map(|a| match a {
                Action::Deliver { leg, msg, .. } => (leg, msg),
                other => panic!("expected a delivery, got {other:?}"),
            })
            .collect()
    }

    fn finished_clean(&mut self) {
        assert!(
            self.core.busy_channels().is_empty(),
            "a channel stayed busy"
        );
        assert!(self.core.audit(self.now).is_empty());
        assert_eq!(self.core.call_count(), 0);
    }
}

#[test]
fn sip_to_isdn_call_maps_each_message_and_writes_cdr() {
    let mut f = Fixture::new();
    // INVITE → Setup, numbers converted to the PSTN group's national form.
    let (_call, a) = f.invite("0301234567");
    let (b, trunk, channel, setup) = f.originated();
    assert_eq!(trunk, "pstn");
    assert_eq!(channel, Some(ch(1, 1)));
    // The PBX's 0-prefixed number goes out as TON national without the prefix.
    assert_eq!(
        (setup.called.ton, setup.called.digits.as_str()),
        (TypeOfNumber::National, "301234567")
    );
    assert!(
        setup.calling.as_ref().unwrap().restricted,
        "Privacy: id → restricted"
    );
    assert_eq!(f.core.busy_channels(), vec![ch(1, 1)]);
    // CALL PROCEEDING → 100, ALERTING → 180, PROGRESS → 183, CONNECT → 200.
    for (msg, want) in [
        (Message::Proceeding, Delivery::Proceeding),
        (
            Message::Alerting { inband: false },
            Delivery::Alerting { inband: false },
        ),
        (
            Message::Progress {
                inband: true,
                media: Some(Media::Channel(ch(1, 1))),
            },
            Delivery::Progress {
                inband: true,
                media: Some(Media::Channel(ch(1, 1))),
            },
        ),
        (
            Message::Connect { media: None },
            Delivery::Connect { media: None },
        ),
    ] {
        f.core.handle(f.now, b, msg);
        assert_eq!(f.delivered(), vec![(a, want)]);
    }
    f.tick(30);
    // BYE → DISCONNECT with normal clearing.
    f.core.handle(
        f.now,
        a,
        Message::Release(Reason::Sip {
            status: 0,
            q850: None,
        }),
    );
    assert_eq!(
        f.delivered(),
        vec![(
            b,
            Delivery::Release(Clearing {
                cause: 16,
                status: 480
            })
        )]
    );
    f.finished_clean();
    let cdrs = f.cdrs.0.lock().unwrap();
    assert_eq!(cdrs.len(), 1);
    let r = &cdrs[0];
    assert_eq!(r.disposition, "ANSWERED");
    assert_eq!((r.span, r.channel), (Some(1), Some(1)));
    assert_eq!(r.release_side, "sip");
    assert_eq!(r.out_trunk, "pstn");
    let billsec = r.end.unwrap().duration_since(r.answer.unwrap()).unwrap();
    assert_eq!(billsec, Duration::from_secs(30));
}

#[test]
fn isdn_to_sip_call_and_disconnect_clears_with_cause() {
    let mut f = Fixture::new();
    let setup = Setup {
        called: Number {
            digits: "201".into(),
            ton: TypeOfNumber::Subscriber,
            plan: None,
            restricted: false,
            name: None,
        },
        calling: Some(Number {
            digits: "301234567".into(),
            ton: TypeOfNumber::National,
            plan: None,
            restricted: false,
            name: None,
        }),
        bearer: Bearer::Speech,
        media: Some(Media::Channel(ch(1, 2))),
        complete: true,
        redirecting: None,
    };
    let (_call, a) = f.core.incoming(f.now, "pstn", Some(ch(1, 2)), setup);
    let (b, trunk, channel, setup) = f.originated();
    assert_eq!((trunk.as_str(), channel), ("pbx", None));
    // National calling number → E.164 for SIP.
    let rules = f.core.numbering("pbx");
    assert_eq!(
        number::to_sip_user(setup.calling.as_ref().unwrap(), &rules),
        "+49301234567"
    );
    assert_eq!(f.core.busy_channels(), vec![ch(1, 2)]);
    // 180 → ALERTING, 200 → CONNECT.
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    f.core.handle(f.now, b, Message::Connect { media: None });
    assert_eq!(
        f.delivered(),
        vec![
            (a, Delivery::Alerting { inband: false }),
            (a, Delivery::Connect { media: None })
        ]
    );
    // DISCONNECT (cause 16) → BYE with Reason: Q.850;cause=16.
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    let d = f.delivered();
    assert_eq!(d.len(), 1);
    assert!(matches!(d[0], (l, Delivery::Release(Clearing { cause: 16, .. })) if l == b));
    f.finished_clean();
}

#[test]
fn causes_map_both_ways_before_answer() {
    // ISDN cause → SIP status: busy 17 → 486, unallocated 1 → 404, congestion 34 → 503
    // (34 also fails over, so both groups refuse).
    for (cause, status) in [(17u8, 486u16), (1, 404), (34, 503)] {
        let mut f = Fixture::new();
        let (_, a) = f.invite("0301234567");
        let (b, _, _, _) = f.originated();
        f.core
            .handle(f.now, b, Message::Release(Reason::Q850(cause)));
        if cause == 34 {
            let (b2, trunk, _, _) = f.originated();
            assert_eq!(trunk, "backup", "failover to the next trunk group");
            f.core
                .handle(f.now, b2, Message::Release(Reason::Q850(cause)));
        }
        assert_eq!(
            f.delivered(),
            vec![(a, Delivery::Release(Clearing { cause, status }))]
        );
        f.finished_clean();
    }
    // SIP status → ISDN cause: 486 → 17, 404 → 1, 503 → 34 with a Reason header, else 41.
    for (status, q850, cause) in [
        (486u16, None, 17u8),
        (404, None, 1),
        (503, Some(34), 34),
        (503, None, 41),
    ] {
        let mut f = Fixture::new();
        let setup = Setup {
            called: Number::unknown("201"),
            calling: None,
            bearer: Bearer::Speech,
            media: None,
            complete: true,
            redirecting: None,
        };
        let (_, a) = f.core.incoming(f.now, "pstn", Some(ch(1, 1)), setup);
        let (b, _, _, _) = f.originated();
        f.core
            .handle(f.now, b, Message::Release(Reason::Sip { status, q850 }));
        assert_eq!(
            f.delivered(),
            vec![(a, Delivery::Release(Clearing { cause, status }))]
        );
        f.finished_clean();
        let cdrs = f.cdrs.0.lock().unwrap();
        assert_eq!(cdrs[0].isdn_cause, Some(cause));
        assert_eq!(cdrs[0].sip_status, Some(status));
    }
}

#[test]
fn cancel_before_answer_releases_the_isdn_leg() {
    let mut f = Fixture::new();
    let (_, a) = f.invite("0301234567");
    let (b, _, _, _) = f.originated();
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    f.delivered();
    // CANCEL → DISCONNECT (cause 16, RFC 3398 §8.2 uses normal clearing; Reason wins).
    f.core.handle(
        f.now,
        a,
        Message::Release(Reason::Sip {
            status: 0,
            q850: None,
        }),
    );
    let d = f.delivered();
    assert!(
        matches!(d.as_slice(), [(l, Delivery::Release(Clearing { cause: 16, .. }))] if *l == b)
    );
    f.finished_clean();
    assert_eq!(f.cdrs.0.lock().unwrap()[0].disposition, "CANCELLED");
}

#[test]
fn failover_on_42_and_44_and_not_on_17() {
    // 44 retries another channel of the same group first.
    let mut f = Fixture::new();
    f.invite("0301234567");
    let (b, _, c1, _) = f.originated();
    assert_eq!(c1, Some(ch(1, 1)));
    f.core.handle(f.now, b, Message::Release(Reason::Q850(44)));
    let (b, trunk, c2, _) = f.originated();
    assert_eq!((trunk.as_str(), c2), ("pstn", Some(ch(1, 2))));
    // 42 moves on to the backup group (descending hunting: channel 2 first).
    f.core.handle(f.now, b, Message::Release(Reason::Q850(42)));
    let (b, trunk, c3, _) = f.originated();
    assert_eq!((trunk.as_str(), c3), ("backup", Some(ch(2, 2))));
    assert_eq!(f.core.busy_channels(), vec![ch(2, 2)]);
    f.core.handle(f.now, b, Message::Connect { media: None });
    f.delivered();
    f.core.hangup(f.now, f.core.calls()[0].id, 16);
    assert_eq!(f.delivered().len(), 2, "both legs released by the operator");
    f.finished_clean();

    // 17 is final.
    let mut f = Fixture::new();
    let (_, a) = f.invite("0301234567");
    let (b, _, _, _) = f.originated();
    f.core.handle(f.now, b, Message::Release(Reason::Q850(17)));
    assert_eq!(f.delivered()[0].0, a);
    f.finished_clean();
}

#[test]
fn no_failover_once_the_called_side_alerted() {
    // The caller heard ringing (or an announcement) from this route: a congestion cause
    // after it ends the call; the backup group is not tried.
    for msg in [
        Message::Alerting { inband: false },
        Message::Progress {
            media: None,
            inband: true,
        },
    ] {
        let mut f = Fixture::new();
        let (_, a) = f.invite("0301234567");
        let (b, trunk, _, _) = f.originated();
        assert_eq!(trunk, "pstn");
        f.core.handle(f.now, b, msg);
        f.delivered();
        f.core.handle(f.now, b, Message::Release(Reason::Q850(34)));
        let delivered = f.delivered();
        assert_eq!(delivered.len(), 1, "{delivered:?}");
        assert_eq!(delivered[0].0, a);
        assert!(
            matches!(&delivered[0].1, Delivery::Release(c) if c.cause == 34),
            "{delivered:?}"
        );
        f.finished_clean();
    }
}

#[test]
fn all_channels_busy_gives_congestion_503() {
    let mut f = Fixture::new();
    let mut legs = Vec::new();
    for _ in 0..4 {
        f.invite("0301234567");
        legs.push(f.originated());
    }
    assert_eq!(f.core.busy_channels().len(), 4);
    let (_, a) = f.invite("0301234567");
    assert_eq!(
        f.delivered(),
        vec![(
            a,
            Delivery::Release(Clearing {
                cause: 34,
                status: 503
            })
        )]
    );
    for (b, ..) in legs {
        f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
        f.delivered();
    }
    f.finished_clean();
    assert_eq!(f.cdrs.0.lock().unwrap().len(), 5);
}

#[test]
fn unrouted_number_is_unallocated_404() {
    let mut f = Fixture::new();
    let (_, a) = f.invite("999");
    assert_eq!(
        f.delivered(),
        vec![(
            a,
            Delivery::Release(Clearing {
                cause: 1,
                status: 404
            })
        )]
    );
    f.finished_clean();
}

/// A speech call from the switch to `called`, with or without Sending complete.
fn from_switch(called: &str, complete: bool) -> Setup {
    Setup {
        called: Number::unknown(called),
        calling: None,
        bearer: Bearer::Speech,
        media: None,
        complete,
        redirecting: None,
    }
}

/// Q.931 §5.2.4: a number a `.` route could take longer is collected until Sending
/// complete (or T302, which the ISDN leg reports the same way), not routed at its first
/// match with the rest of the digits lost.
#[test]
fn overlap_receiving_waits_while_a_route_takes_more_digits() {
    let mut f = Fixture::new();
    let setup = from_switch("3", false);
    let (_, a) = f.core.incoming(f.now, "pstn", Some(ch(1, 1)), setup);
    for d in ["0", "1", "2"] {
        f.dial(a, d, false);
        assert!(f.actions().is_empty(), "`_30X.` takes more after {d}");
    }
    f.dial(a, "3", true);
    let (_, trunk, _, setup) = f.originated();
    assert_eq!(
        (trunk.as_str(), setup.called.digits.as_str()),
        ("pbx", "30123")
    );
}

#[test]
fn overlap_receiving_routes_when_the_number_matches() {
    let mut f = Fixture::new();
    let (_, a) = f
        .core
        .incoming(f.now, "pstn", Some(ch(1, 1)), from_switch("2", false));
    assert!(f.actions().is_empty(), "still collecting");
    f.dial(a, "0", false);
    assert!(f.actions().is_empty());
    f.dial(a, "1", false);
    let (b, trunk, _, setup) = f.originated();
    assert_eq!(
        (trunk.as_str(), setup.called.digits.as_str()),
        ("pbx", "201")
    );
    f.core.handle(
        f.now,
        b,
        Message::Release(Reason::Sip {
            status: 486,
            q850: None,
        }),
    );
    f.delivered();
    f.finished_clean();
}

#[test]
fn maintenance_and_alarm_skip_channels_and_audit_frees_orphans() {
    let mut f = Fixture::new();
    assert!(f.core.set_maintenance(ch(1, 1), true));
    f.core.set_span_alarm(SpanId(2), true);
    f.invite("0301234567");
    let (b, trunk, c, _) = f.originated();
    assert_eq!((trunk.as_str(), c), ("pstn", Some(ch(1, 2))));
    f.core.handle(f.now, b, Message::Release(Reason::Q850(34)));
    // Backup is in alarm and channel 1 in maintenance: congestion.
    let d = f.delivered();
    assert!(matches!(
        d.as_slice(),
        [(_, Delivery::Release(Clearing { cause: 34, .. }))]
    ));
    f.finished_clean();
    let groups = f.core.groups();
    assert_eq!(groups.iter().map(|g| g.out_of_service).sum::<usize>(), 3);
}

/// A B-channel reserved for a call on its way (an NI-2 SETUP awaiting its name) is
/// not hunted, not freed by the audits while the call may still come, goes to the call
/// when it comes, and is freed when the call will not come or never comes.
#[test]
fn a_reserved_channel_is_held_for_its_call_and_let_go_when_it_will_not_come() {
    let mut f = Fixture::new();
    let r = f.core.reserve(f.now, ch(1, 1)).expect("an idle channel");
    assert_eq!(f.core.reserve(f.now, ch(1, 1)), None, "already held");
    assert_eq!(f.core.reserve(f.now, ch(9, 1)), None, "not ours");
    f.invite("0301234567");
    let (b, _, c, _) = f.originated();
    assert_eq!(
        c,
        Some(ch(1, 2)),
        "ascending hunting passes the reserved channel"
    );
    assert!(
        f.core.audit(f.now).is_empty(),
        "a reservation is no stuck channel"
    );
    assert!(
        f.core.busy_calls().iter().all(|(c, _)| *c != ch(1, 1)),
        "nor a call the ISDN audit would look for"
    );
    // The call comes: it has the reservation's id and channel.
    let setup = f.switch_call_to_201(ch(1, 1));
    let (call, a) = f
        .core
        .incoming_reserved(f.now, r, "pstn", Some(ch(1, 1)), setup);
    assert_eq!(call, r);
    assert_eq!(f.core.busy_channels(), vec![ch(1, 1), ch(1, 2)]);
    f.core.handle(f.now, a, Message::Release(Reason::Q850(16)));
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    f.actions();
    f.finished_clean();
    // A call that will not come gives its channel back at once.
    let r = f.core.reserve(f.now, ch(1, 2)).unwrap();
    f.core.unreserve(f.now, r);
    assert!(f.core.busy_channels().is_empty());
    // One that never comes (its leg went away) is let go by the audit after a while,
    // not before.
    f.core.reserve(f.now, ch(1, 2)).unwrap();
    f.tick(RESERVATION_LIMIT.as_secs() - 1);
    assert!(f.core.audit(f.now).is_empty());
    assert_eq!(f.core.busy_channels(), vec![ch(1, 2)]);
    f.tick(1);
    assert_eq!(f.core.audit(f.now), vec![ch(1, 2)]);
    f.finished_clean();
}

#[test]
fn answer_bridges_the_channel_to_rtp_and_the_end_unbridges() {
    answer_bridges_with(Bearer::Speech);
}

/// A fax or modem call (3.1 kHz audio) and a data call are bridged with their bearer, so
/// that the media is set up without the echo canceller (`signalling::bridge`).
#[test]
fn the_bridge_carries_the_calls_bearer() {
    answer_bridges_with(Bearer::Audio3k1);
    answer_bridges_with(Bearer::Unrestricted);
}

fn answer_bridges_with(bearer: Bearer) {
    let mut f = Fixture::new();
    let remote: std::net::SocketAddr = "192.0.2.10:4000".parse().unwrap();
    let rules = f.core.numbering("pbx");
    let setup = Setup {
        called: number::from_sip_user("0301234567", &rules, false),
        calling: None,
        bearer,
        media: Some(Media::Rtp {
            remote,
            law: crate::media::Law::ALaw,
            telephone_event: Some(101),
        }),
        complete: true,
        redirecting: None,
    };
    let (call, a) = f.core.incoming(f.now, "pbx", None, setup);
    let (b, _, channel, _) = f.originated();
    f.core.handle(f.now, b, Message::Connect { media: None });
    let actions = f.actions();
    assert!(actions.contains(&Action::Bridge {
        call,
        channel: channel.unwrap(),
        rtp_leg: a,
        remote,
        law: crate::media::Law::ALaw,
        telephone_event: Some(101),
        bearer,
        answered: true,
    }));
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    let actions = f.actions();
    assert_eq!(actions[0], Action::Unbridge { call });
    f.finished_clean();
}

#[test]
fn a_span_added_by_reload_stays_out_of_service_and_is_not_hunted() {
    let mut f = Fixture::new();
    let with_span_3 = CONFIG.replace(
        "[[trunk_group]]\nname = \"backup\"\nmembers = [{ span = 2, channels = \"1-2\" }]",
        "[[span]]\nid = 3\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n\n\
         [[trunk_group]]\nname = \"backup\"\nmembers = [{ span = 3, channels = \"1-2\" }, { span = 2, channels = \"1-2\" }]",
    );
    let config = Config::from_str(&with_span_3, "test.toml").unwrap();
    assert_eq!(config.spans.len(), 3);
    f.core.reload(&config);
    assert!(matches!(
        f.core.channel_state(ch(3, 1)),
        Some(ChannelState::OutOfService(o)) if o.alarm
    ));
    assert_eq!(f.core.channel_state(ch(2, 1)), Some(ChannelState::Idle));
    // Five calls: two fill "pstn" (span 1), the route fails over to "backup" whose span-2
    // channels take two more; the fifth finds no channel rather than the new span's.
    for _ in 0..5 {
        f.invite("0301234");
    }
    let seized: Vec<_> = f
        .actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Originate { channel, .. } => channel,
            _ => None,
        })
        .collect();
    assert_eq!(seized.len(), 4, "{seized:?}");
    assert!(seized.iter().all(|c| c.span != SpanId(3)), "{seized:?}");
    // Its D-channel coming up (after a restart) brings it back.
    f.core.set_span_alarm(SpanId(3), false);
    assert_eq!(f.core.channel_state(ch(3, 1)), Some(ChannelState::Idle));
}

#[test]
fn inband_progress_before_answer_bridges_early_and_answer_does_not_bridge_twice() {
    let mut f = Fixture::new();
    let remote: std::net::SocketAddr = "192.0.2.10:4000".parse().unwrap();
    let rules = f.core.numbering("pbx");
    let setup = Setup {
        called: number::from_sip_user("0301234567", &rules, false),
        calling: None,
        bearer: Bearer::Speech,
        media: Some(Media::Rtp {
            remote,
            law: crate::media::Law::ALaw,
            telephone_event: None,
        }),
        complete: true,
        redirecting: None,
    };
    let (call, a) = f.core.incoming(f.now, "pbx", None, setup);
    let (b, _, channel, _) = f.originated();
    // Alerting without in-band tones: nothing to hear yet, no bridge.
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    assert!(!f
        .actions()
        .iter()
        .any(|a| matches!(a, Action::Bridge { .. })));
    // PROGRESS with progress indicator 8: the announcement must reach the caller.
    f.core.handle(
        f.now,
        b,
        Message::Progress {
            inband: true,
            media: None,
        },
    );
    let bridge = Action::Bridge {
        call,
        channel: channel.unwrap(),
        rtp_leg: a,
        remote,
        law: crate::media::Law::ALaw,
        telephone_event: None,
        bearer: Bearer::Speech,
        answered: false,
    };
    assert!(f.actions().contains(&bridge));
    f.core.handle(f.now, b, Message::Connect { media: None });
    // No second bridge; the answer arms what watches answered calls (the RTP timeout).
    let actions = f.actions();
    assert!(!actions.iter().any(|a| matches!(a, Action::Bridge { .. })));
    assert!(actions.contains(&Action::Answered { call }), "{actions:?}");
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    assert_eq!(f.actions()[0], Action::Unbridge { call });
    f.finished_clean();
}

#[test]
fn media_known_after_connect_bridges_then_and_moves_the_bridge_later() {
    // An IP leg whose RTP peer is learnt after Connect (H.323 without fast start: the
    // H.245 OpenLogicalChannelAck), then moves (a re-opened channel).
    let mut f = Fixture::new();
    let setup = f.switch_call_to_201(ch(1, 1));
    let (call, _a) = f.core.incoming(f.now, "pstn", Some(ch(1, 1)), setup);
    let (b, _, _, _) = f.originated();
    f.core.handle(f.now, b, Message::Connect { media: None });
    assert!(
        !f.actions()
            .iter()
            .any(|a| matches!(a, Action::Bridge { .. })),
        "no RTP address yet: no bridge"
    );
    let media = |port| Media::Rtp {
        remote: std::net::SocketAddr::from(([192, 0, 2, 10], port)),
        law: crate::media::Law::ALaw,
        telephone_event: None,
    };
    f.core.handle(f.now, b, Message::Media(media(4000)));
    let actions = f.actions();
    assert_eq!(
        actions,
        vec![Action::Bridge {
            call,
            channel: ch(1, 1),
            rtp_leg: b,
            remote: "192.0.2.10:4000".parse().unwrap(),
            law: crate::media::Law::ALaw,
            telephone_event: None,
            bearer: Bearer::Speech,
            answered: true,
        }],
        "bridged once the media are known, nothing delivered to the other leg"
    );
    f.core.handle(f.now, b, Message::Media(media(4002)));
    assert_eq!(
        f.actions(),
        vec![Action::MediaChanged {
            call,
            leg: b,
            media: media(4002)
        }]
    );
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    assert_eq!(f.actions()[0], Action::Unbridge { call });
    f.finished_clean();
}

/// `direction = "in"`: the group takes calls from the PSTN only, so a call routed to it
/// fails over to the next group; `"out"`: a SETUP arriving on it is refused (cause 34).
#[test]
fn trunk_group_direction_in_and_out() {
    let config = CONFIG
        .replace(
            "name = \"pstn\"\nmembers",
            "name = \"pstn\"\ndirection = \"in\"\nmembers",
        )
        .replace(
            "name = \"backup\"\nmembers",
            "name = \"backup\"\ndirection = \"out\"\nmembers",
        );
    let mut f = Fixture::with(&config);
    // To the PSTN: `pstn` is in-only, so the call goes out on `backup`.
    f.invite("0301234567");
    let (b, trunk, _, _) = f.originated();
    assert_eq!(trunk, "backup");
    f.core.handle(f.now, b, Message::Release(Reason::Q850(16)));
    f.delivered();
    // From the PSTN on `backup` (out-only): refused with cause 34, no route tried.
    let setup = from_switch("201", true);
    let (_, a) = f
        .core
        .incoming(f.now, "backup", Some(ch(2, 1)), setup.clone());
    assert_eq!(
        f.delivered(),
        vec![(
            a,
            Delivery::Release(Clearing {
                cause: 34,
                status: 503
            })
        )]
    );
    // On `pstn` (in-only) it is taken and routed to the PBX.
    f.core.incoming(f.now, "pstn", Some(ch(1, 1)), setup);
    let (_, trunk, _, _) = f.originated();
    assert_eq!(trunk, "pbx");
}

/// `[general] no_answer_timeout`: a call still ringing when it runs out is cleared by the
/// gateway with cause 19 (no answer), which the SIP side gets as 480 (RFC 3398); an
/// answered call is not touched.
#[test]
fn no_answer_timeout_clears_a_ringing_call_with_cause_19() {
    let config = CONFIG.replace(
        "[[span]]\nid = 1",
        "[general]\nno_answer_timeout = 30\n\n[[span]]\nid = 1",
    );
    let mut f = Fixture::with(&config);
    let (_, a) = f.invite("0301234567");
    let (b, _, _, _) = f.originated();
    f.core.handle(f.now, b, Message::Alerting { inband: false });
    f.delivered();
    let due = f.core.poll_timeout().expect("the no-answer deadline");
    f.tick(29);
    f.core.handle_timeout(f.now);
    assert!(f.actions().is_empty(), "still ringing at 29 s");
    f.now = due;
    f.core.handle_timeout(f.now);
    let mut d = f.delivered();
    d.sort_by_key(|(leg, _)| *leg == b);
    let gone = Delivery::Release(Clearing {
        cause: 19,
        status: 480,
    });
    assert_eq!(d, vec![(a, gone.clone()), (b, gone)]);
    assert_eq!(f.core.poll_timeout(), None);
    f.finished_clean();
    // Answered in time: the deadline goes with the answer.
    let (_, _) = f.invite("0301234567");
    let (b, _, _, _) = f.originated();
    f.core.handle(f.now, b, Message::Connect { media: None });
    f.actions();
    assert_eq!(f.core.poll_timeout(), None);
}
