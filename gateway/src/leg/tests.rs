//! The whole signalling path in virtual time: a SIP PBX (our `Endpoint` as a UA) ↔ the
//! gateway's SIP leg ↔ the core ↔ the ISDN leg (q931 user side) ↔ a PSTN switch (q931
//! network side). Each pair of the documented mapping is checked on the wire of both sides.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, SpanId, Timeslot};
use q931::call::{ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
use q931::ie::TypeOfNumber as QTon;
use q931::ie::{BearerCapability, CalledPartyNumber, CauseValue, Layer1Protocol, NumberingPlan};
use q931::lapd::Role;

use super::isdn::IsdnLeg;
use super::sip::{q850_of, SipLeg};
use crate::cdr::{Cdr, CdrError};
use crate::config::Config;
use crate::core::{Action, CdrSink, Core, TrunkKind};
use crate::interwork::redirect::RedirectHeaders;
use crate::media::Law;
use crate::sip::transaction::Timers;
use crate::sip::transport::{Incoming, Protocol, Target};
use crate::sip::ua::{CallHandle, Endpoint, EndpointConfig, OutgoingCall, UaEvent};
use crate::sip::{SipMessage, StatusCode};

const CONFIG: &str = r#"
[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"

[[trunk_group]]
name = "pstn"
members = [{ span = 1, channels = "1-3" }]
hunting = "ascending"

[[sip_trunk]]
name = "pbx"
listen = "192.0.2.1:5060"
peers = ["192.0.2.10:5060"]

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
from = ["pstn"]
to = ["pbx"]
"#;

const OFFER: &[u8] = b"v=0\r\no=pbx 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &[u8] = b"v=0\r\no=pbx 2 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 4002 RTP/AVP 8\r\n";

#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Cdr>>>);

impl CdrSink for Records {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        self.0.lock().unwrap().push(cdr.clone());
        Ok(())
    }
}

fn endpoint(addr: SocketAddr, user: &str) -> Endpoint {
    Endpoint::new(EndpointConfig {
        advertise: vec![(Protocol::Udp, addr)],
        contact_user: user.into(),
        user_agent: "test".into(),
        timers: Timers::default(),
    })
}

struct World {
    now: Instant,
    pbx: Endpoint,
    pbx_addr: SocketAddr,
    gw: Endpoint,
    gw_addr: SocketAddr,
    sip: SipLeg,
    core: Core,
    isdn: IsdnLeg,
    switch: Interface,
    cdrs: Records,
    pbx_events: Vec<UaEvent>,
    switch_events: Vec<Event>,
    /// First lines of the SIP messages, in order, as seen on the wire.
    sip_wire: Vec<String>,
    /// Every message the gateway sent to the PBX.
    gw_sent: Vec<SipMessage>,
    /// The core's hold actions for the media engine.
    hold_actions: Vec<Action>,
    /// The media the core moved bridges to ([`Action::MediaChanged`]).
    media_changes: Vec<crate::core::Media>,
    /// Each time the world settles, the ISDN leg's audit runs twice and must find the
    /// core, the leg and the stack in step (off in the tests that put them out of step).
    audit_checks: bool,
}

fn first_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|&c| c == b'\r').next().unwrap_or(b)).into_owned()
}

/// The switch's SETUP to `called`: en bloc (Sending complete), any B-channel, speech
/// (A-law), with `calling` if given.
fn switch_request(called: &str, calling: Option<q931::ie::CallingPartyNumber>) -> SetupRequest {
    SetupRequest {
        called: Some(CalledPartyNumber::new(
            QTon::Unknown,
            NumberingPlan::Isdn,
            called,
        )),
        calling,
        bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
        channel: ChannelPref::Any,
        sending_complete: true,
    }
}

impl World {
    fn new() -> World {
        World::with(CONFIG, RedirectHeaders::Diversion)
    }

    fn with(config: &str, redirect: RedirectHeaders) -> World {
        World::with_interfaces(config, redirect, InterfaceConfig::euro_isdn_e1)
    }

    /// As [`World::with`], with the gateway's and the switch's Q.931 interfaces made by
    /// `iface` for their roles.
    fn with_interfaces(
        config: &str,
        redirect: RedirectHeaders,
        iface: fn(Role) -> InterfaceConfig,
    ) -> World {
        let config = Config::from_str(config, "legs.toml").unwrap();
        let now = Instant::now();
        let cdrs = Records::default();
        let core = Core::new(&config, Box::new(cdrs.clone()), now);
        let pbx_addr: SocketAddr = "192.0.2.10:5060".parse().unwrap();
        let gw_addr: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let sip = SipLeg::new(
            "pbx",
            config.sip_trunks[0].numbering.clone(),
            vec![pbx_addr],
            Protocol::Udp,
            gw_addr.ip(),
            Law::ALaw,
            (10000, 10998),
        )
        .with_redirecting(redirect)
        .with_trust_identity(config.sip_trunks[0].trust_identity);
        let mut user = Interface::new(iface(Role::User));
        user.start(now);
        let isdn = IsdnLeg::new(SpanId(1), user, Layer1Protocol::G711ALaw);
        let mut w = World {
            now,
            pbx: endpoint(pbx_addr, "pbx"),
            pbx_addr,
            gw: endpoint(gw_addr, "gw"),
            gw_addr,
            sip,
            core,
            isdn,
            switch: Interface::new(iface(Role::Network)),
            cdrs,
            pbx_events: Vec::new(),
            switch_events: Vec::new(),
            sip_wire: Vec::new(),
            gw_sent: Vec::new(),
            hold_actions: Vec::new(),
            media_changes: Vec::new(),
            audit_checks: true,
        };
        w.run();
        assert!(w.switch_events.contains(&Event::LinkUp), "D-channel up");
        w.switch_events.clear();
        w
    }

    /// Move everything in flight until quiet.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some((_, bytes)) = self.pbx.poll_transmit() {
                moved = true;
                self.sip_wire.push(format!("pbx> {}", first_line(&bytes)));
                let message = SipMessage::parse(bytes).unwrap();
                self.gw.handle_incoming(
                    self.now,
                    Incoming {
                        message,
                        source: Target {
                            protocol: Protocol::Udp,
                            addr: self.pbx_addr,
                        },
                        local: self.gw_addr,
                    },
                );
            }
            while let Some((_, bytes)) = self.gw.poll_transmit() {
                moved = true;
                self.sip_wire.push(format!("gw> {}", first_line(&bytes)));
                let message = SipMessage::parse(bytes).unwrap();
                self.gw_sent.push(message.clone());
                self.pbx.handle_incoming(
                    self.now,
                    Incoming {
                        message,
                        source: Target {
                            protocol: Protocol::Udp,
                            addr: self.gw_addr,
                        },
                        local: self.pbx_addr,
                    },
                );
            }
            while let Some(ev) = self.gw.poll_event() {
                moved = true;
                self.sip
                    .on_event(&mut self.gw, &mut self.core, self.now, ev);
            }
            while let Some(ev) = self.pbx.poll_event() {
                moved = true;
                self.pbx_events.push(ev);
            }
            while let Some(a) = self.core.poll_action() {
                moved = true;
                match a {
                    Action::Originate {
                        leg,
                        kind: TrunkKind::Sip,
                        setup,
                        referred_by,
                        replaces,
                        ..
                    } => self.sip.originate_with(
                        &mut self.gw,
                        &mut self.core,
                        self.now,
                        leg,
                        &setup,
                        crate::leg::sip::Referral {
                            referred_by: referred_by.as_deref(),
                            replaces: replaces.as_deref(),
                        },
                        None,
                    ),
                    Action::Originate {
                        leg,
                        channel,
                        setup,
                        ..
                    } => self
                        .isdn
                        .originate(&mut self.core, self.now, leg, channel, &setup),
                    Action::MediaChanged { media, .. } => self.media_changes.push(media),
                    Action::Bridge { .. }
                    | Action::Answered { .. }
                    | Action::Relay { .. }
                    | Action::Unbridge { .. }
                    | Action::Merged { .. }
                    | Action::Hairpin { .. } => {}
                    a @ Action::HoldMedia { .. } => self.hold_actions.push(a),
                    Action::Deliver { leg, msg, .. } => {
                        if self.sip.owns(leg) {
                            self.sip.deliver(&mut self.gw, self.now, leg, msg);
                        } else {
                            self.isdn.deliver(self.now, leg, msg);
                        }
                    }
                }
            }
            while let Some(f) = self.isdn.interface().poll_transmit() {
                moved = true;
                self.switch.handle_frame(self.now, &f);
            }
            while let Some(f) = self.switch.poll_transmit() {
                moved = true;
                self.isdn.handle_frame(&mut self.core, self.now, &f);
            }
            self.isdn.drain(&mut self.core, self.now);
            while let Some(ev) = self.switch.poll_event() {
                moved = true;
                self.switch_events.push(ev);
            }
            if !moved {
                if self.audit_checks {
                    for _ in 0..2 {
                        let fixes = self.isdn.audit(&mut self.core, self.now);
                        assert!(fixes.is_empty(), "audit of a settled world: {fixes:?}");
                    }
                }
                return;
            }
        }
        panic!("the world never settled");
    }

    /// Advance virtual time by `d`, firing every timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [
                self.pbx.poll_timeout(),
                self.gw.poll_timeout(),
                self.isdn.poll_timeout(),
                self.switch.poll_timeout(),
                self.core.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.pbx.handle_timeout(self.now);
                    self.gw.handle_timeout(self.now);
                    self.isdn.handle_timeout(&mut self.core, self.now);
                    self.switch.handle_timeout(self.now);
                    self.core.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
        self.run();
    }

    /// The switch calls `called` (en bloc, any B-channel, speech), from `calling` if
    /// given; its SETUP runs through the gateway. Returns the switch's handle.
    fn switch_calls(
        &mut self,
        called: &str,
        calling: Option<q931::ie::CallingPartyNumber>,
    ) -> q931::call::CallHandle {
        let call = self
            .switch
            .setup(self.now, switch_request(called, calling))
            .unwrap();
        self.run();
        call
    }

    /// The PBX's handle of the call the gateway sent it an INVITE for.
    fn pbx_incoming(&self) -> CallHandle {
        self.pbx_events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { call, .. } => Some(*call),
                _ => None,
            })
            .expect("the PBX got the INVITE")
    }

    /// The PBX answers the switch's call with 200 OK, `headers` and our answer SDP;
    /// returns the PBX's call.
    fn pbx_answers(&mut self, headers: &[(&str, String)]) -> CallHandle {
        let pbx_call = self.pbx_incoming();
        self.pbx.respond(
            self.now,
            pbx_call,
            StatusCode::OK,
            None,
            headers,
            Some(ANSWER),
        );
        self.run();
        pbx_call
    }

    fn pbx_call(&mut self, number: &str) -> CallHandle {
        let h = self.pbx_sends_invite(number, vec![("Privacy".into(), "id".into())]);
        self.run();
        h
    }

    /// The PBX's INVITE (from +4930999, with our offer and `headers`) to `number`, not yet
    /// carried anywhere ([`World::run`] does).
    fn pbx_sends_invite(&mut self, number: &str, headers: Vec<(String, String)>) -> CallHandle {
        self.pbx.invite(
            self.now,
            OutgoingCall {
                request_uri: format!("sip:{number}@192.0.2.1"),
                from: "<sip:+4930999@192.0.2.10>".into(),
                to: format!("<sip:{number}@192.0.2.1>"),
                target: Target {
                    protocol: Protocol::Udp,
                    addr: "192.0.2.1:5060".parse().unwrap(),
                },
                sdp: Some(bytes::Bytes::from_static(OFFER)),
                headers,
            },
        )
    }

    fn switch_setup(&mut self) -> (q931::call::CallHandle, Option<u8>, bool) {
        let i = self
            .switch_events
            .iter()
            .position(|e| matches!(e, Event::IncomingSetup { .. }))
            .expect("the switch got a SETUP");
        match self.switch_events.remove(i) {
            Event::IncomingSetup {
                call,
                channel,
                calling,
                ..
            } => (
                call,
                channel,
                calling.is_some_and(|c| {
                    matches!(
                        c.presentation,
                        Some((q931::ie::Presentation::Restricted, _))
                    )
                }),
            ),
            _ => unreachable!(),
        }
    }

    fn pbx_status(&self) -> Vec<u16> {
        self.pbx_events
            .iter()
            .filter_map(|e| match e {
                UaEvent::Progress { response, .. } | UaEvent::Answered { response, .. } => {
                    response.status().map(|s| s.code())
                }
                UaEvent::Rejected { status, .. } => Some(*status),
                _ => None,
            })
            .collect()
    }

    fn assert_clean(&mut self) {
        self.advance(Duration::from_secs(40));
        assert!(self.core.busy_channels().is_empty(), "no channel left busy");
        assert_eq!(self.core.call_count(), 0);
        assert_eq!(self.sip.call_count(), 0, "SIP leg forgot its calls");
        assert_eq!(self.isdn.call_count(), 0, "ISDN leg forgot its calls");
        assert!(self.core.audit(self.now).is_empty());
    }

    fn switch_released_with(&self) -> Option<u8> {
        self.switch_events.iter().find_map(|e| match e {
            Event::Disconnecting { cause, .. } => Some(cause.value.value()),
            _ => None,
        })
    }
}

#[test]
fn invite_to_setup_answered_then_bye_to_disconnect() {
    let mut w = World::new();
    let pbx_call = w.pbx_call("0301234567");
    // INVITE → SETUP on the hunted channel, calling number restricted (Privacy: id).
    let (call, channel, restricted) = w.switch_setup();
    assert_eq!(channel, Some(1));
    assert!(restricted);
    // The switch proceeds (the endpoint's own 100 Trying covers it, RFC 3261 §8.2.6.1:
    // sent only when no provisional follows within 200 ms), alerts (→ 180), offers in-band
    // tones (PROGRESS → 183 with SDP), then connects (→ 200).
    w.switch.proceeding(w.now, call).unwrap();
    w.run();
    w.switch.alerting(w.now, call, false).unwrap();
    w.run();
    w.switch
        .progress(w.now, call, q931::ie::ProgressDescription::InbandAvailable)
        .unwrap();
    w.run();
    w.advance(Duration::from_secs(3));
    w.switch.connect(w.now, call).unwrap();
    w.run();
    assert_eq!(w.pbx_status(), vec![180, 183, 200]);
    assert!(w
        .switch_events
        .iter()
        .any(|e| matches!(e, Event::Connected { .. })));
    assert_eq!(w.core.busy_channels().len(), 1);
    w.advance(Duration::from_secs(10));
    // BYE → DISCONNECT cause 16; the interfaces finish with RELEASE / RELEASE COMPLETE.
    w.pbx.hangup(w.now, pbx_call, None);
    w.run();
    assert_eq!(w.switch_released_with(), Some(16));
    assert!(w
        .switch_events
        .iter()
        .any(|e| matches!(e, Event::Released { .. })));
    assert!(w.sip_wire.iter().any(|l| l == "gw> SIP/2.0 200 OK"));
    w.assert_clean();
    let cdrs = w.cdrs.0.lock().unwrap();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].disposition, "ANSWERED");
    assert_eq!(cdrs[0].codec, "PCMA");
    assert_eq!(cdrs[0].channel, Some(1));
}

#[test]
fn isdn_causes_become_sip_statuses_with_reason() {
    for (cause, status) in [(17u8, 486u16), (1, 404), (34, 503)] {
        let mut w = World::new();
        w.pbx_call("0301234567");
        let (call, _, _) = w.switch_setup();
        w.switch.proceeding(w.now, call).unwrap();
        w.run();
        w.switch
            .disconnect(w.now, call, CauseValue::from(cause))
            .unwrap();
        w.run();
        let rejected = w.pbx_events.iter().find_map(|e| match e {
            UaEvent::Rejected {
                status, response, ..
            } => Some((*status, response.as_ref().and_then(q850_of))),
            _ => None,
        });
        assert_eq!(rejected, Some((status, Some(cause))), "cause {cause}");
        w.assert_clean();
        assert_eq!(w.cdrs.0.lock().unwrap()[0].isdn_cause, Some(cause));
    }
}

#[test]
fn cancel_before_answer_becomes_disconnect() {
    let mut w = World::new();
    let pbx_call = w.pbx_call("0301234567");
    let (call, _, _) = w.switch_setup();
    w.switch.proceeding(w.now, call).unwrap();
    w.switch.alerting(w.now, call, false).unwrap();
    w.run();
    w.pbx.hangup(w.now, pbx_call, None);
    w.run();
    assert!(w.sip_wire.iter().any(|l| l.starts_with("pbx> CANCEL")));
    assert!(w.sip_wire.iter().any(|l| l.starts_with("gw> SIP/2.0 487")));
    assert_eq!(w.switch_released_with(), Some(16));
    w.assert_clean();
    assert_eq!(w.cdrs.0.lock().unwrap()[0].disposition, "CANCELLED");
}

#[test]
fn setup_from_the_switch_reaches_the_pbx_and_disconnect_becomes_bye() {
    let mut w = World::new();
    let call = w.switch_calls("201", None);
    // SETUP → INVITE; the gateway answered CALL PROCEEDING at once.
    assert!(w
        .sip_wire
        .iter()
        .any(|l| l.starts_with("gw> INVITE sip:201@")));
    assert!(w
        .switch_events
        .iter()
        .any(|e| matches!(e, Event::Proceeding { .. })));
    let pbx_call = w.pbx_incoming();
    // 180 → ALERTING, 200 → CONNECT.
    w.pbx
        .respond(w.now, pbx_call, StatusCode::RINGING, None, &[], None);
    w.run();
    assert!(w
        .switch_events
        .iter()
        .any(|e| matches!(e, Event::Alerting { .. })));
    w.pbx
        .respond(w.now, pbx_call, StatusCode::OK, None, &[], Some(ANSWER));
    w.run();
    assert!(w
        .switch_events
        .iter()
        .any(|e| matches!(e, Event::Connected { .. })));
    // DISCONNECT cause 16 → BYE with Reason: Q.850;cause=16.
    w.switch
        .disconnect(w.now, call, CauseValue::from(16))
        .unwrap();
    w.run();
    let bye = w.pbx_events.iter().find_map(|e| match e {
        UaEvent::Bye { request, .. } => Some(q850_of(request)),
        _ => None,
    });
    assert_eq!(bye, Some(Some(16)));
    w.assert_clean();
}

#[test]
fn sip_busy_becomes_cause_17_on_the_switch() {
    let mut w = World::new();
    w.switch_calls("202", None);
    let pbx_call = w.pbx_incoming();
    w.pbx
        .respond(w.now, pbx_call, StatusCode::BUSY_HERE, None, &[], None);
    w.run();
    assert_eq!(w.switch_released_with(), Some(17));
    w.assert_clean();
}

/// The INVITE the PBX received.
fn pbx_invite(w: &World) -> SipMessage {
    w.pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::IncomingCall { invite, .. } => Some(invite.clone()),
            _ => None,
        })
        .expect("the PBX got the INVITE")
}

/// The 200 OK that answered the PBX's INVITE.
fn pbx_answered(w: &World) -> SipMessage {
    w.pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Answered { response, .. } => Some(response.clone()),
            _ => None,
        })
        .expect("200 OK")
}

fn header(m: &SipMessage, name: &str) -> Vec<String> {
    m.headers()
        .filter(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
        .filter_map(|h| h.value_str().map(str::to_string))
        .collect()
}

fn redirected_setup(w: &mut World, reason: q931::ie::RedirectionReason, restricted: bool) {
    use q931::ie::{Presentation, RedirectingNumber, Screening};
    w.switch
        .setup_with(
            w.now,
            switch_request("201", None),
            vec![RedirectingNumber::new(
                QTon::National,
                NumberingPlan::Isdn,
                "301111",
                (
                    if restricted {
                        Presentation::Restricted
                    } else {
                        Presentation::Allowed
                    },
                    Screening::NetworkProvided,
                ),
                reason,
            )
            .into()],
        )
        .unwrap();
    w.run();
}

#[test]
fn redirecting_number_becomes_diversion() {
    let mut w = World::new();
    redirected_setup(&mut w, q931::ie::RedirectionReason::ForwardingBusy, false);
    let invite = pbx_invite(&w);
    assert_eq!(
        header(&invite, "Diversion"),
        vec!["<sip:301111@192.0.2.1>;reason=user-busy;counter=1;privacy=off".to_string()]
    );
    assert!(header(&invite, "History-Info").is_empty());
}

#[test]
fn redirecting_number_becomes_history_info_and_diversion_when_both() {
    let mut w = World::with(CONFIG, RedirectHeaders::Both);
    redirected_setup(&mut w, q931::ie::RedirectionReason::ForwardingNoReply, true);
    let invite = pbx_invite(&w);
    assert_eq!(
        header(&invite, "Diversion"),
        vec!["<sip:301111@192.0.2.1>;reason=no-answer;counter=1;privacy=full".to_string()]
    );
    assert_eq!(
        header(&invite, "History-Info"),
        vec![
            "<sip:301111@192.0.2.1?Privacy=history&Reason=SIP%3Bcause%3D408>;index=1,\
             <sip:201@192.0.2.1;cause=408>;index=1.1;mp=1"
                .to_string()
        ]
    );
}

/// A PBX INVITE carrying `headers`; returns the Redirecting number of the switch's SETUP.
fn pbx_redirected_call(
    mode: RedirectHeaders,
    headers: Vec<(String, String)>,
) -> Option<q931::ie::RedirectingNumber> {
    let mut w = World::with(CONFIG, mode);
    w.pbx.invite(
        w.now,
        OutgoingCall {
            request_uri: "sip:0302222@192.0.2.1".into(),
            from: "<sip:+4930999@192.0.2.10>".into(),
            to: "<sip:0302222@192.0.2.1>".into(),
            target: Target {
                protocol: Protocol::Udp,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
            sdp: Some(bytes::Bytes::from_static(OFFER)),
            headers,
        },
    );
    w.run();
    w.switch_events.iter().find_map(|e| match e {
        Event::IncomingSetup { redirecting, .. } => redirecting.clone(),
        _ => None,
    })
}

#[test]
fn diversion_becomes_redirecting_number_with_reason() {
    use q931::ie::{Presentation, RedirectionReason};
    let r = pbx_redirected_call(
        RedirectHeaders::Diversion,
        vec![(
            "Diversion".into(),
            "<sip:0301111@192.0.2.10>;reason=unconditional;counter=1;privacy=full".into(),
        )],
    )
    .expect("SETUP with a Redirecting number");
    assert_eq!(r.digits, "0301111");
    assert_eq!(r.reason, Some(RedirectionReason::ForwardingUnconditional));
    assert!(matches!(
        r.presentation,
        Some((Presentation::Restricted, _))
    ));
}

#[test]
fn history_info_becomes_redirecting_number_with_reason() {
    use q931::ie::RedirectionReason;
    let r = pbx_redirected_call(
        RedirectHeaders::HistoryInfo,
        vec![(
            "History-Info".into(),
            "<sip:0301111@192.0.2.10?Reason=SIP%3Bcause%3D486>;index=1,\
             <sip:0302222@192.0.2.1;cause=486>;index=1.1;mp=1"
                .into(),
        )],
    )
    .expect("SETUP with a Redirecting number");
    assert_eq!(r.digits, "0301111");
    assert_eq!(r.reason, Some(RedirectionReason::ForwardingBusy));
    // No redirection: no Redirecting number.
    assert_eq!(pbx_redirected_call(RedirectHeaders::Both, Vec::new()), None);
}

/// CONFIG with overlap sending on the trunk group: numbers of 10 digits (0 + 9) are
/// complete, 5 s between digits at most.
fn overlap_config() -> String {
    CONFIG.replace(
        "hunting = \"ascending\"",
        "hunting = \"ascending\"\noverlap_sending = true\ndigit_map = [\"_0[1-9]XXXXXXXX\"]\ndigit_timeout = 5",
    )
}

/// An INVITE from the PBX written by hand: RFC 3578 dialling repeats the Call-ID and From
/// tag with a higher CSeq and more digits.
fn raw_invite(w: &mut World, call_id: &str, cseq: u32, number: &str) {
    let text = format!(
        "INVITE sip:{number}@192.0.2.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
         From: <sip:+4930999@192.0.2.10>;tag=ov1\r\nTo: <sip:{number}@192.0.2.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nMax-Forwards: 70\r\n\
         Contact: <sip:pbx@192.0.2.10>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n",
        OFFER.len()
    );
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(OFFER);
    let message = SipMessage::parse(bytes::Bytes::from(bytes)).unwrap();
    w.gw.handle_incoming(
        w.now,
        Incoming {
            message,
            source: Target {
                protocol: Protocol::Udp,
                addr: w.pbx_addr,
            },
            local: w.gw_addr,
        },
    );
    w.run();
}

/// Statuses the gateway answered to the INVITE with CSeq `cseq`.
fn statuses_for(w: &World, cseq: u32) -> Vec<u16> {
    w.gw_sent
        .iter()
        .filter(|m| m.cseq().is_ok_and(|c| c.seq == cseq))
        .filter_map(|m| m.status().map(|s| s.code()))
        .filter(|s| *s > 100)
        .collect()
}

fn more_info(w: &mut World) -> Vec<(String, bool)> {
    let v = w
        .switch_events
        .iter()
        .filter_map(|e| match e {
            Event::MoreInfo {
                digits,
                sending_complete,
                ..
            } => Some((digits.clone(), *sending_complete)),
            _ => None,
        })
        .collect();
    w.switch_events
        .retain(|e| !matches!(e, Event::MoreInfo { .. }));
    v
}

#[test]
fn rfc3578_invites_become_setup_without_sending_complete_then_information() {
    let mut w = World::with(&overlap_config(), RedirectHeaders::Diversion);
    raw_invite(&mut w, "ov-1", 1, "0301");
    // Q.931 §5.1.3: SETUP without Sending complete, the digits so far.
    let (call, called, complete) = w
        .switch_events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup {
                call,
                called,
                sending_complete,
                ..
            } => Some((*call, called.clone().unwrap().digits, *sending_complete)),
            _ => None,
        })
        .expect("SETUP");
    assert_eq!((called.as_str(), complete), ("0301", false));
    // The switch asks for more (SETUP ACKNOWLEDGE → 183 on the pending INVITE).
    w.switch.setup_acknowledge(w.now, call).unwrap();
    w.run();
    assert_eq!(statuses_for(&w, 1), vec![183]);
    // RFC 3578 §2.1: the next INVITE supersedes the first, which gets 484; its extra digits
    // go in INFORMATION.
    w.advance(Duration::from_secs(1));
    raw_invite(&mut w, "ov-1", 2, "030123");
    assert_eq!(statuses_for(&w, 1), vec![183, 484]);
    assert_eq!(more_info(&mut w), vec![("23".to_string(), false)]);
    // The digit map knows 10 digits to be complete: Sending complete.
    w.advance(Duration::from_secs(1));
    raw_invite(&mut w, "ov-1", 3, "0301234567");
    assert_eq!(statuses_for(&w, 2), vec![484]);
    assert_eq!(more_info(&mut w), vec![("4567".to_string(), true)]);
    // The call goes on with the last INVITE: ALERTING → 180, then busy → 486.
    w.switch.proceeding(w.now, call).unwrap();
    w.switch.alerting(w.now, call, false).unwrap();
    w.run();
    w.switch
        .disconnect(w.now, call, CauseValue::from(17))
        .unwrap();
    w.run();
    assert_eq!(statuses_for(&w, 3), vec![180, 486]);
    // No timer left behind: the inter-digit timer ended with the digit map.
    assert_eq!(w.core.poll_timeout(), None);
    w.assert_clean();
    let cdrs = w.cdrs.0.lock().unwrap();
    assert_eq!(cdrs.len(), 1, "one call for the three INVITEs");
    assert_eq!(cdrs[0].called, "0301234567");
    assert_eq!(cdrs[0].disposition, "BUSY");
}

#[test]
fn info_digits_before_answer_then_the_digit_timer_sends_sending_complete() {
    let mut w = World::with(&overlap_config(), RedirectHeaders::Diversion);
    let pbx_call = w.pbx_call("03012");
    let (call, _, _) = w.switch_setup();
    w.switch.setup_acknowledge(w.now, call).unwrap();
    w.run();
    assert_eq!(w.pbx_status(), vec![183], "early dialog for the INFO");
    // Digits by INFO (application/dtmf-relay) in the early dialog.
    // (Written by hand: our endpoint sends in-dialog requests only in confirmed dialogs.)
    let invite = w.pbx.invite_of(pbx_call).unwrap().clone();
    let early = w
        .pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Progress { response, .. } => Some(response.clone()),
            _ => None,
        })
        .unwrap();
    let to_tag = early.to().unwrap().tag().unwrap().to_string();
    let from_tag = invite.from().unwrap().tag().unwrap().to_string();
    let call_id = invite.call_id().unwrap().0.to_string();
    for (i, d) in ["3", "4"].into_iter().enumerate() {
        let body = format!("Signal={d}\r\nDuration=160\r\n");
        let text = format!(
            "INFO sip:gw@192.0.2.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinfo{i}\r\n\
             From: <sip:+4930999@192.0.2.10>;tag={from_tag}\r\n\
             To: <sip:03012@192.0.2.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\n\
             CSeq: {} INFO\r\nMax-Forwards: 70\r\n\
             Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
            10 + i,
            body.len()
        );
        let message = SipMessage::parse(bytes::Bytes::from(text)).unwrap();
        w.gw.handle_incoming(
            w.now,
            Incoming {
                message,
                source: Target {
                    protocol: Protocol::Udp,
                    addr: w.pbx_addr,
                },
                local: w.gw_addr,
            },
        );
        w.run();
        w.advance(Duration::from_secs(2));
    }
    assert_eq!(
        more_info(&mut w),
        vec![("3".to_string(), false), ("4".to_string(), false)]
    );
    // 5 s without a digit: the number is complete (INFORMATION with Sending complete).
    w.advance(Duration::from_secs(4));
    assert_eq!(more_info(&mut w), vec![(String::new(), true)]);
    assert_eq!(w.core.poll_timeout(), None);
    w.switch.connect(w.now, call).unwrap();
    w.run();
    assert_eq!(w.pbx_status(), vec![183, 200]);
    // (The PBX's own BYE would carry a CSeq below the INFOs written by hand: the switch
    // clears instead.)
    w.switch
        .disconnect(w.now, call, CauseValue::from(16))
        .unwrap();
    w.run();
    assert!(w
        .pbx_events
        .iter()
        .any(|e| matches!(e, UaEvent::Bye { .. })));
    w.assert_clean();
    assert_eq!(w.cdrs.0.lock().unwrap()[0].called, "0301234");
}

#[test]
fn a_complete_number_goes_en_bloc_even_on_an_overlap_group() {
    let mut w = World::with(&overlap_config(), RedirectHeaders::Diversion);
    w.pbx_call("0301234567");
    let complete = w.switch_events.iter().find_map(|e| match e {
        Event::IncomingSetup {
            sending_complete, ..
        } => Some(*sending_complete),
        _ => None,
    });
    assert_eq!(complete, Some(true));
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn call_proceeding_ends_overlap_sending() {
    let mut w = World::with(&overlap_config(), RedirectHeaders::Diversion);
    w.pbx_call("0301");
    let (call, _, _) = w.switch_setup();
    assert!(w.core.poll_timeout().is_some(), "digit timer running");
    // The network decides the number is complete (§5.1.5): no timer, no INFORMATION.
    w.switch.proceeding(w.now, call).unwrap();
    w.run();
    assert_eq!(w.core.poll_timeout(), None);
    w.advance(Duration::from_secs(10));
    assert!(more_info(&mut w).is_empty());
}

// ---- Hold and resume (RFC 3264 §8.4 ↔ Q.931 NOTIFY, §4.5.22) ----

fn sdp_with(version: u32, direction: &str) -> Vec<u8> {
    format!(
        "v=0\r\no=pbx 1 {version} IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
         t=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
    .into_bytes()
}

/// A PBX → switch call, answered; returns the PBX's call and the switch's.
fn answered_pbx_call(w: &mut World) -> (CallHandle, q931::call::CallHandle) {
    let pbx_call = w.pbx_call("0301234567");
    let (call, _, _) = w.switch_setup();
    w.switch.connect(w.now, call).unwrap();
    w.run();
    assert_eq!(w.pbx_status(), vec![200]);
    (pbx_call, call)
}

/// The PBX sends a re-INVITE with `sdp`; the status and SDP body of the gateway's answer.
fn pbx_reinvite(w: &mut World, pbx_call: CallHandle, sdp: &[u8]) -> (u16, String) {
    pbx_request(w, pbx_call, crate::sip::Method::Invite, Some(sdp))
}

/// The PBX sends an in-dialog `method` (re-INVITE or UPDATE) with `sdp` as its body, or
/// none; the status and body of the gateway's answer.
fn pbx_request(
    w: &mut World,
    pbx_call: CallHandle,
    method: crate::sip::Method,
    sdp: Option<&[u8]>,
) -> (u16, String) {
    w.pbx_events.clear();
    let name = method.as_str().to_string();
    let body = sdp.map(|b| ("application/sdp", b));
    assert!(w.pbx.request_in_dialog(w.now, pbx_call, method, &[], body));
    w.run();
    w.pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::RequestResult {
                method,
                status,
                response,
                ..
            } if *method == name => Some((
                *status,
                response
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(r.body()).into_owned())
                    .unwrap_or_default(),
            )),
            _ => None,
        })
        .expect("the request was answered")
}

fn notifications(w: &mut World) -> Vec<q931::ie::NotificationDescription> {
    let n = w
        .switch_events
        .iter()
        .filter_map(|e| match e {
            Event::Notified { description, .. } => Some(*description),
            _ => None,
        })
        .collect();
    w.switch_events.clear();
    n
}

#[test]
fn reinvite_sendonly_holds_with_notify_and_sendrecv_resumes() {
    use q931::ie::NotificationDescription as N;
    let mut w = World::with(
        &CONFIG.replace(
            "hunting = \"ascending\"",
            "hunting = \"ascending\"\nhold_media = \"moh\"",
        ),
        RedirectHeaders::Diversion,
    );
    let (pbx_call, call) = answered_pbx_call(&mut w);
    w.switch_events.clear();
    // RFC 3264 §8.4: sendonly is answered recvonly; the switch gets NOTIFY remote hold and
    // the bridge plays music on hold (the group's hold_media) towards the PSTN.
    let (status, answer) = pbx_reinvite(&mut w, pbx_call, &sdp_with(2, "sendonly"));
    assert_eq!(status, 200);
    assert!(answer.contains("a=recvonly"), "{answer}");
    assert_eq!(notifications(&mut w), vec![N::REMOTE_HOLD]);
    assert!(matches!(
        w.hold_actions.as_slice(),
        [Action::HoldMedia {
            held: true,
            media: crate::config::HoldMedia::Moh,
            ..
        }]
    ));
    // The same hold again (inactive now): answered inactive, no second NOTIFY.
    let (status, answer) = pbx_reinvite(&mut w, pbx_call, &sdp_with(3, "inactive"));
    assert_eq!(status, 200);
    assert!(answer.contains("a=inactive"), "{answer}");
    assert!(notifications(&mut w).is_empty());
    // sendrecv again: NOTIFY remote retrieval, the bridge restored.
    let (status, answer) = pbx_reinvite(&mut w, pbx_call, &sdp_with(4, "sendrecv"));
    assert_eq!(status, 200);
    assert!(answer.contains("a=sendrecv"), "{answer}");
    assert_eq!(notifications(&mut w), vec![N::REMOTE_RETRIEVAL]);
    assert!(matches!(
        w.hold_actions.last(),
        Some(Action::HoldMedia { held: false, .. })
    ));
    assert_eq!(w.hold_actions.len(), 2);
    // Every 2xx was ACKed (no ACK timeout ended the call): still up 40 s later.
    w.advance(Duration::from_secs(40));
    assert_eq!(w.core.call_count(), 1);
    assert!(!w
        .pbx_events
        .iter()
        .any(|e| matches!(e, UaEvent::Bye { .. })));
    w.switch
        .disconnect(w.now, call, CauseValue::from(16))
        .unwrap();
    w.run();
    w.assert_clean();
}

#[test]
fn legacy_hold_c_zero_and_silence_by_default() {
    use q931::ie::NotificationDescription as N;
    let mut w = World::new();
    let (pbx_call, _) = answered_pbx_call(&mut w);
    w.switch_events.clear();
    // RFC 3264 §8.4 (RFC 2543 style): c=0.0.0.0 holds too.
    let held = String::from_utf8(sdp_with(2, "sendrecv"))
        .unwrap()
        .replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
    let (status, _) = pbx_reinvite(&mut w, pbx_call, held.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(notifications(&mut w), vec![N::REMOTE_HOLD]);
    assert!(matches!(
        w.hold_actions.as_slice(),
        [Action::HoldMedia {
            held: true,
            media: crate::config::HoldMedia::Silence,
            ..
        }]
    ));
    // An offer we cannot take (no common codec) is refused with 488; the call goes on.
    let bad = String::from_utf8(sdp_with(3, "sendrecv"))
        .unwrap()
        .replace("RTP/AVP 8 101", "RTP/AVP 18");
    let (status, _) = pbx_reinvite(&mut w, pbx_call, bad.as_bytes());
    assert_eq!(status, 488);
    assert_eq!(w.core.call_count(), 1);
}

#[test]
fn reinvite_moving_the_media_moves_the_bridge_and_the_same_offer_again_does_not() {
    use crate::core::Media;
    let mut w = World::new();
    let (pbx_call, _) = answered_pbx_call(&mut w);
    w.media_changes.clear();
    // RFC 3264 §8.3.1/§8.3.2: another address and port, and PCMU instead of PCMA (a PBX
    // handing the call to a phone that only has µ-law).
    let moved = String::from_utf8(sdp_with(2, "sendrecv"))
        .unwrap()
        .replace("c=IN IP4 192.0.2.10", "c=IN IP4 192.0.2.77")
        .replace("m=audio 4000 RTP/AVP 8 101", "m=audio 4100 RTP/AVP 0 101");
    let (status, answer) = pbx_reinvite(&mut w, pbx_call, moved.as_bytes());
    assert_eq!(status, 200);
    assert!(answer.contains("RTP/AVP 0 101"), "{answer}");
    assert_eq!(
        w.media_changes,
        vec![Media::Rtp {
            remote: "192.0.2.77:4100".parse().unwrap(),
            law: Law::MuLaw,
            telephone_event: Some(101),
        }]
    );
    // The same description again (same o= version, §8): nothing moves.
    let (status, _) = pbx_reinvite(&mut w, pbx_call, moved.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(w.media_changes.len(), 1);
    // A new version that changes only the direction is a hold, not a move.
    let (status, _) = pbx_reinvite(
        &mut w,
        pbx_call,
        moved
            .replace("o=pbx 1 2", "o=pbx 1 3")
            .replace("a=sendrecv", "a=sendonly")
            .as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(w.media_changes.len(), 1);
    assert_eq!(w.hold_actions.len(), 1);
}

#[test]
fn reinvite_without_sdp_gets_our_offer_and_update_without_sdp_no_sdp() {
    let mut w = World::new();
    let (pbx_call, _) = answered_pbx_call(&mut w);
    // RFC 3261 §14.2: the 200 carries an offer, with every codec we have (the PBX may
    // choose another), in a new version of our description (RFC 3264 §8).
    let (status, offer) = pbx_request(&mut w, pbx_call, crate::sip::Method::Invite, None);
    assert_eq!(status, 200);
    let m = offer
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap_or_else(|| panic!("no offer in the 200: {offer}"));
    assert!(m.contains(" 8") && m.contains(" 0"), "{m}");
    assert!(offer.contains("a=sendrecv"), "{offer}");
    let first = w
        .gw_sent
        .iter()
        .find(|m| m.status().is_some_and(|s| s.code() == 200) && !m.body().is_empty())
        .map(|m| String::from_utf8_lossy(m.body()).into_owned())
        .unwrap();
    let version = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .and_then(|l| l.split(' ').nth(2))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert!(version(&offer) > version(&first), "{first}\n{offer}");
    // RFC 3311 §5.2, RFC 4028: an UPDATE without an offer is answered without SDP.
    let (status, body) = pbx_request(&mut w, pbx_call, crate::sip::Method::Update, None);
    assert_eq!(status, 200);
    assert!(body.is_empty(), "{body}");
    assert!(w.media_changes.is_empty());
}

#[test]
fn notify_remote_hold_from_the_switch_becomes_reinvite_sendonly() {
    use q931::ie::NotificationDescription as N;
    let mut w = World::new();
    let call = w.switch_calls("201", None);
    let pbx_call = w.pbx_answers(&[]);
    let reinvites = |w: &mut World| -> Vec<String> {
        let r: Vec<String> = w
            .pbx_events
            .iter()
            .filter_map(|e| match e {
                UaEvent::Request {
                    request,
                    reinvite: true,
                    ..
                } => Some(String::from_utf8_lossy(request.body()).into_owned()),
                _ => None,
            })
            .collect();
        w.pbx_events.clear();
        r
    };
    w.pbx_events.clear();
    w.switch.notify(w.now, call, N::REMOTE_HOLD).unwrap();
    w.run();
    let r = reinvites(&mut w);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("a=sendonly"), "{}", r[0]);
    let held = String::from_utf8(ANSWER.to_vec())
        .unwrap()
        .replace("o=pbx 2 2", "o=pbx 2 3")
        + "a=recvonly\r\n";
    w.pbx.respond(
        w.now,
        pbx_call,
        StatusCode::OK,
        None,
        &[],
        Some(held.as_bytes()),
    );
    w.run();
    // The switch's own hold leaves the bridge as it is (its music goes to SIP).
    assert!(w.hold_actions.is_empty());
    w.switch.notify(w.now, call, N::REMOTE_RETRIEVAL).unwrap();
    w.run();
    let r = reinvites(&mut w);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("a=sendrecv"), "{}", r[0]);
    // The PBX answers the resume from another port (RFC 3264 §8.3.1): the bridge moves.
    let back = String::from_utf8(ANSWER.to_vec())
        .unwrap()
        .replace("o=pbx 2 2", "o=pbx 2 4")
        .replace("m=audio 4002", "m=audio 4010");
    w.media_changes.clear();
    w.pbx.respond(
        w.now,
        pbx_call,
        StatusCode::OK,
        None,
        &[],
        Some(back.as_bytes()),
    );
    w.run();
    assert_eq!(
        w.media_changes,
        vec![crate::core::Media::Rtp {
            remote: "192.0.2.10:4010".parse().unwrap(),
            law: Law::ALaw,
            telephone_event: None,
        }]
    );
    w.advance(Duration::from_secs(40));
    assert_eq!(
        w.core.call_count(),
        1,
        "re-INVITE 2xx ACKed, the call goes on"
    );
}

// ---- Identity (RFC 3325 / RFC 3323 ↔ Q.931 §4.5.10, COLP Q.951 §3) ----

fn trusted() -> String {
    CONFIG.replace(
        "peers = [\"192.0.2.10:5060\"]",
        "peers = [\"192.0.2.10:5060\"]\ntrust_identity = true",
    )
}

/// The PBX calls with a P-Asserted-Identity; the calling number and screening in SETUP.
fn pai_call(w: &mut World) -> (String, q931::ie::Screening) {
    w.pbx.invite(
        w.now,
        OutgoingCall {
            request_uri: "sip:0301234567@192.0.2.1".into(),
            from: "<sip:4930999@192.0.2.10>".into(),
            to: "<sip:0301234567@192.0.2.1>".into(),
            target: Target {
                protocol: Protocol::Udp,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
            sdp: Some(bytes::Bytes::from_static(OFFER)),
            headers: vec![(
                "P-Asserted-Identity".into(),
                "<sip:4930111@192.0.2.10>".into(),
            )],
        },
    );
    w.run();
    w.switch_events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup {
                calling: Some(c), ..
            } => Some((c.digits.clone(), c.presentation.unwrap().1)),
            _ => None,
        })
        .expect("SETUP with a calling number")
}

#[test]
fn pai_is_believed_from_trusted_peers_only() {
    use q931::ie::Screening;
    let mut w = World::new();
    assert_eq!(
        pai_call(&mut w),
        ("4930999".to_string(), Screening::UserProvidedNotScreened)
    );
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    assert_eq!(
        pai_call(&mut w),
        ("4930111".to_string(), Screening::UserProvidedVerifiedPassed)
    );
}

fn restricted_setup_from_switch(w: &mut World) -> SipMessage {
    let mut calling =
        q931::ie::CallingPartyNumber::new(QTon::National, NumberingPlan::Isdn, "301234");
    calling.presentation = Some((
        q931::ie::Presentation::Restricted,
        q931::ie::Screening::NetworkProvided,
    ));
    w.switch_calls("201", Some(calling));
    pbx_invite(w)
}

#[test]
fn restricted_identity_is_asserted_to_trusted_peers_and_stripped_otherwise() {
    // RFC 3325 §9.3: to the trust domain, P-Asserted-Identity with Privacy: id.
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let inv = restricted_setup_from_switch(&mut w);
    assert_eq!(header(&inv, "Privacy"), vec!["id"]);
    let pai = header(&inv, "P-Asserted-Identity");
    assert!(pai.len() == 1 && pai[0].contains("301234"), "{pai:?}");
    assert!(header(&inv, "From")[0].contains("anonymous"));
    // RFC 3325 §5 / RFC 3323: outside it, no P-Asserted-Identity and an anonymous From.
    let mut w = World::new();
    let inv = restricted_setup_from_switch(&mut w);
    assert!(header(&inv, "P-Asserted-Identity").is_empty());
    assert!(header(&inv, "From")[0].contains("anonymous"));
    assert!(!String::from_utf8_lossy(inv.as_bytes()).contains("301234"));
}

#[test]
fn connected_number_becomes_pai_in_the_200_ok() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    w.pbx_call("0301234567");
    let (call, _, _) = w.switch_setup();
    let connected =
        q931::ie::ConnectedNumber::new(QTon::National, NumberingPlan::Isdn, "301234567")
            .with_presentation(
                q931::ie::Presentation::Allowed,
                q931::ie::Screening::NetworkProvided,
            );
    w.switch
        .connect_with(w.now, call, vec![connected.into()])
        .unwrap();
    w.run();
    let ok = pbx_answered(&w);
    let pai = header(&ok, "P-Asserted-Identity");
    assert!(pai.len() == 1 && pai[0].contains("301234567"), "{pai:?}");
}

#[test]
fn pai_of_the_200_ok_becomes_connected_number() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    w.switch_calls("201", None);
    w.pbx_answers(&[
        ("P-Asserted-Identity", "<sip:205@192.0.2.10>".to_string()),
        ("Privacy", "id".to_string()),
    ]);
    let n = w
        .switch_events
        .iter()
        .find_map(|e| match e {
            Event::ConnectedNumber { number, .. } => Some(number.clone()),
            _ => None,
        })
        .expect("CONNECT with a Connected number");
    assert_eq!(n.digits, "205");
    assert!(matches!(
        n.presentation,
        Some((q931::ie::Presentation::Restricted, _))
    ));
}

/// An INFO with `application/dtmf-relay` in the early dialog of the PBX's call, written by
/// hand (our endpoint sends in-dialog requests only in confirmed dialogs).
fn raw_info(w: &mut World, pbx_call: CallHandle, signal: &str, cseq: u32) {
    let invite = w.pbx.invite_of(pbx_call).unwrap().clone();
    let early = w
        .pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Progress { response, .. } => Some(response.clone()),
            _ => None,
        })
        .unwrap();
    let to_tag = early.to().unwrap().tag().unwrap().to_string();
    let from_tag = invite.from().unwrap().tag().unwrap().to_string();
    let call_id = invite.call_id().unwrap().0.to_string();
    let body = format!("Signal={signal}\r\nDuration=160\r\n");
    let text = format!(
        "INFO sip:gw@192.0.2.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinfo{cseq}\r\n\
         From: <sip:+4930999@192.0.2.10>;tag={from_tag}\r\n\
         To: <sip:x@192.0.2.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq} INFO\r\nMax-Forwards: 70\r\n\
         Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let message = SipMessage::parse(bytes::Bytes::from(text)).unwrap();
    w.gw.handle_incoming(
        w.now,
        Incoming {
            message,
            source: Target {
                protocol: Protocol::Udp,
                addr: w.pbx_addr,
            },
            local: w.gw_addr,
        },
    );
    w.run();
}

#[test]
fn hash_ends_overlap_dialling() {
    let mut w = World::with(&overlap_config(), RedirectHeaders::Diversion);
    let pbx_call = w.pbx_call("0301");
    let (call, _, _) = w.switch_setup();
    w.switch.setup_acknowledge(w.now, call).unwrap();
    w.run();
    raw_info(&mut w, pbx_call, "5", 10);
    // `#` ends the dialling: INFORMATION with Sending complete and no digit.
    raw_info(&mut w, pbx_call, "#", 11);
    assert_eq!(
        more_info(&mut w),
        vec![("5".to_string(), false), (String::new(), true)]
    );
    assert_eq!(w.core.poll_timeout(), None);
}

/// The PBX answers the NOTIFYs it got and returns their sipfrag bodies, in order.
fn refer_notifies(w: &mut World) -> Vec<String> {
    let mut frags = Vec::new();
    let events: Vec<UaEvent> = std::mem::take(&mut w.pbx_events);
    for e in events {
        match e {
            UaEvent::Request {
                handle, request, ..
            } if request.method() == Some(crate::sip::Method::Notify) => {
                assert_eq!(header(&request, "Event"), vec!["refer".to_string()]);
                frags.push(String::from_utf8_lossy(request.body()).trim().to_string());
                w.pbx
                    .respond_request(w.now, handle, StatusCode::OK, &[], None);
            }
            other => w.pbx_events.push(other),
        }
    }
    w.run();
    frags
}

/// The PBX sends a REFER with `headers` in the dialog of `pbx_call`.
fn pbx_refers(w: &mut World, pbx_call: CallHandle, headers: &[(&str, String)]) {
    w.pbx
        .request_in_dialog(w.now, pbx_call, crate::sip::Method::Refer, headers, None);
    w.run();
}

/// The gateway's INVITE to a transfer target: its call at the PBX and the request.
fn target_invite(w: &World) -> (CallHandle, SipMessage) {
    w.pbx_events
        .iter()
        .find_map(|e| match e {
            UaEvent::IncomingCall { call, invite, .. } => Some((*call, invite.clone())),
            _ => None,
        })
        .expect("the gateway called the target")
}

fn refer_status(w: &mut World) -> Option<u16> {
    w.pbx_events.iter().find_map(|e| match e {
        UaEvent::RequestResult { method, status, .. } if method == "REFER" => Some(*status),
        _ => None,
    })
}

#[test]
fn refer_transfers_the_switch_party_to_another_pbx_user_with_notify_progress() {
    let mut w = World::new();
    let (pbx_call, switch_call) = answered_pbx_call(&mut w);
    // RFC 3515 §2.4.1: no Refer-To, 400.
    w.pbx_events.clear();
    pbx_refers(&mut w, pbx_call, &[]);
    assert_eq!(refer_status(&mut w), Some(400));
    w.pbx_events.clear();
    pbx_refers(
        &mut w,
        pbx_call,
        &[
            ("Refer-To", "<sip:205@192.0.2.1>".to_string()),
            ("Referred-By", "<sip:+4930999@192.0.2.10>".to_string()),
        ],
    );
    assert_eq!(refer_status(&mut w), Some(202));
    // The new call: the switch party (routes from "pstn": 2XX → pbx) calls 205, with the
    // REFER's Referred-By.
    let (new_call, invite) = target_invite(&w);
    assert_eq!(
        header(&invite, "Referred-By"),
        vec!["<sip:+4930999@192.0.2.10>".to_string()]
    );
    assert_eq!(refer_notifies(&mut w), ["SIP/2.0 100 Trying"]);
    w.pbx
        .respond(w.now, new_call, StatusCode::RINGING, None, &[], None);
    w.run();
    assert_eq!(refer_notifies(&mut w), ["SIP/2.0 180 Ringing"]);
    w.pbx
        .respond(w.now, new_call, StatusCode::OK, None, &[], Some(ANSWER));
    w.run();
    assert_eq!(refer_notifies(&mut w), ["SIP/2.0 200 OK"]);
    // The transferor is released; the switch's call never was.
    assert!(
        w.pbx_events
            .iter()
            .any(|e| matches!(e, UaEvent::Bye { call, .. } if *call == pbx_call)),
        "the transferor got BYE"
    );
    assert_eq!(w.switch_released_with(), None);
    assert_eq!(w.core.call_count(), 1);
    assert_eq!(w.core.busy_channels().len(), 1);
    // The switch party hangs up: the target gets BYE.
    w.switch
        .disconnect(w.now, switch_call, CauseValue::from(16))
        .unwrap();
    w.run();
    assert!(w
        .pbx_events
        .iter()
        .any(|e| matches!(e, UaEvent::Bye { call, .. } if *call == new_call)));
    let records = w.cdrs.0.lock().unwrap().clone();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].disposition, "TRANSFERRED");
    assert_eq!(
        records[1].transfer,
        format!("blind from {}", records[0].call_id)
    );
    w.assert_clean();
}

#[test]
fn refer_to_the_pstn_fails_with_503_without_a_hairpin_and_the_call_goes_on() {
    let mut w = World::new();
    let (pbx_call, _) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    pbx_refers(
        &mut w,
        pbx_call,
        &[("Refer-To", "<sip:0309999@192.0.2.1>".to_string())],
    );
    assert_eq!(refer_status(&mut w), Some(202));
    assert_eq!(
        refer_notifies(&mut w),
        ["SIP/2.0 100 Trying", "SIP/2.0 503 Service Unavailable"]
    );
    assert_eq!(w.switch_released_with(), None);
    assert_eq!(w.core.call_count(), 1);
    w.pbx.hangup(w.now, pbx_call, None);
    w.run();
    assert_eq!(w.switch_released_with(), Some(16));
    w.assert_clean();
}

/// RFC 4488 §4: `Refer-Sub: false` — 202 with `Refer-Sub: false`, the transfer goes on,
/// and no NOTIFY at all (neither 100 nor the outcome).
#[test]
fn refer_sub_false_gets_202_with_refer_sub_false_and_no_notify() {
    let mut w = World::new();
    let (pbx_call, switch_call) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    pbx_refers(
        &mut w,
        pbx_call,
        &[
            ("Refer-To", "<sip:205@192.0.2.1>".to_string()),
            ("Refer-Sub", "false".to_string()),
        ],
    );
    let accepted = w.pbx_events.iter().find_map(|e| match e {
        UaEvent::RequestResult {
            method,
            status,
            response: Some(r),
            ..
        } if method == "REFER" => Some((*status, header(r, "Refer-Sub"))),
        _ => None,
    });
    assert_eq!(accepted, Some((202, vec!["false".to_string()])));
    let (new_call, _) = target_invite(&w);
    assert!(refer_notifies(&mut w).is_empty());
    w.pbx
        .respond(w.now, new_call, StatusCode::RINGING, None, &[], None);
    w.run();
    w.pbx
        .respond(w.now, new_call, StatusCode::OK, None, &[], Some(ANSWER));
    w.run();
    assert!(
        refer_notifies(&mut w).is_empty(),
        "no NOTIFY of the outcome"
    );
    assert!(
        w.pbx_events
            .iter()
            .any(|e| matches!(e, UaEvent::Bye { call, .. } if *call == pbx_call)),
        "the transferor got BYE"
    );
    assert_eq!(w.core.call_count(), 1);
    w.switch
        .disconnect(w.now, switch_call, CauseValue::from(16))
        .unwrap();
    w.run();
    w.assert_clean();
}

/// RFC 3891 §7.1: a REFER whose Refer-To carries `?Replaces=` (an attended transfer
/// signalled by REFER): the INVITE to the target carries that `Replaces`, unescaped; a
/// Refer-To with a malformed one gets 400.
#[test]
fn refer_to_with_replaces_puts_replaces_in_the_invite_to_the_target() {
    let mut w = World::new();
    let (pbx_call, switch_call) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    pbx_refers(
        &mut w,
        pbx_call,
        &[(
            "Refer-To",
            "<sip:205@192.0.2.1?Replaces=nope%3Bto-tag%3Dx>".to_string(),
        )],
    );
    assert_eq!(refer_status(&mut w), Some(400), "no from-tag");
    w.pbx_events.clear();
    pbx_refers(
        &mut w,
        pbx_call,
        &[(
            "Refer-To",
            "<sip:205@192.0.2.1?Replaces=c2%40pbx.example%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>"
                .to_string(),
        )],
    );
    assert_eq!(refer_status(&mut w), Some(202));
    let (new_call, invite) = target_invite(&w);
    assert_eq!(
        header(&invite, "Replaces"),
        vec!["c2@pbx.example;to-tag=t1;from-tag=f1".to_string()]
    );
    assert_eq!(refer_notifies(&mut w), ["SIP/2.0 100 Trying"]);
    w.pbx
        .respond(w.now, new_call, StatusCode::OK, None, &[], Some(ANSWER));
    w.run();
    assert_eq!(refer_notifies(&mut w), ["SIP/2.0 200 OK"]);
    w.switch
        .disconnect(w.now, switch_call, CauseValue::from(16))
        .unwrap();
    w.run();
    w.assert_clean();
}

/// RFC 5589 §7: a REFER whose `Refer-To` replaces another dialog of this trunk (the
/// transferor's second call through us) goes to `Core::refer_join`, not to routing: its
/// own dialog is 403, `early-only` on the confirmed dialog NOTIFY 486, another party's
/// dialog 403, and two PSTN parties without a hairpin NOTIFY 503 (the core's refusal);
/// all calls go on.
#[test]
fn refer_replacing_our_own_dialog_is_a_join_with_its_refusals() {
    let mut w = World::new();
    let (call1, _) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    let (call2, _) = answered_pbx_call(&mut w);
    // The same number from another party (another From) on the same trunk.
    w.pbx_events.clear();
    let call3 = w.pbx.invite(
        w.now,
        OutgoingCall {
            request_uri: "sip:0301234567@192.0.2.1".into(),
            from: "<sip:+4930777@192.0.2.10>".into(),
            to: "<sip:0301234567@192.0.2.1>".into(),
            target: Target {
                protocol: Protocol::Udp,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
            sdp: Some(bytes::Bytes::from_static(OFFER)),
            headers: vec![],
        },
    );
    w.run();
    let (sw3, _, _) = w.switch_setup();
    w.switch.connect(w.now, sw3).unwrap();
    w.run();
    let replaces = |w: &World, h: CallHandle, extra: &str| {
        let id = w.pbx.dialog(h).unwrap().id().clone();
        format!(
            "<sip:0301234567@192.0.2.1?Replaces={}%3Bto-tag%3D{}%3Bfrom-tag%3D{}{extra}>",
            id.call_id.replace('@', "%40"),
            id.remote_tag,
            id.local_tag
        )
    };
    let refer = |w: &mut World, refer_to: String| {
        w.pbx_events.clear();
        pbx_refers(w, call1, &[("Refer-To", refer_to)]);
        refer_status(w)
    };
    let own = replaces(&w, call1, "");
    assert_eq!(refer(&mut w, own), Some(403), "its own dialog");
    let other = replaces(&w, call3, "");
    assert_eq!(refer(&mut w, other), Some(403), "another party's dialog");
    let early_only = replaces(&w, call2, "%3Bearly-only");
    assert_eq!(refer(&mut w, early_only), Some(202));
    assert_eq!(
        refer_notifies(&mut w),
        ["SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"]
    );
    let join = replaces(&w, call2, "");
    assert_eq!(refer(&mut w, join), Some(202));
    assert_eq!(
        refer_notifies(&mut w),
        ["SIP/2.0 100 Trying", "SIP/2.0 503 Service Unavailable"]
    );
    // Nothing was placed and nothing released.
    assert_eq!(w.switch_released_with(), None);
    assert!(!w
        .pbx_events
        .iter()
        .any(|e| matches!(e, UaEvent::IncomingCall { .. })));
    assert_eq!(w.core.call_count(), 3);
    for c in [call1, call2, call3] {
        w.pbx.hangup(w.now, c, None);
    }
    w.run();
    w.assert_clean();
}

#[path = "identity_tests.rs"]
mod identity;

#[path = "name_tests.rs"]
mod names;

/// NI-2 on the E1 of the test configuration (SERVICE messages are NI-2's).
fn ni2(role: Role) -> InterfaceConfig {
    let mut c = InterfaceConfig::ni2_t1(role);
    c.variant.span = q931::call::Span::E1;
    c
}

/// NI-2 SERVICE from the switch takes a B-channel out of service (hunting skips it, `ctl`
/// says `far-end`) and puts it back; a SERVICE for the whole interface takes every
/// channel of the span.
#[test]
fn ni2_service_from_the_switch_takes_channels_out_and_back() {
    use crate::trunk::ChannelState;
    use q931::ie::ServiceStatus;
    let mut w = World::with_interfaces(CONFIG, RedirectHeaders::Diversion, ni2);
    let ch = |ts| dahdi_driver::ChannelId {
        span: SpanId(1),
        timeslot: dahdi_driver::Timeslot(ts),
    };
    let far_end_out = |w: &World, ts| matches!(w.core.channel_state(ch(ts)), Some(ChannelState::OutOfService(o)) if o.far_end);
    w.switch
        .service(w.now, &[1], ServiceStatus::OutOfService)
        .unwrap();
    w.run();
    assert!(far_end_out(&w, 1), "{:?}", w.core.channel_state(ch(1)));
    assert_eq!(w.core.channel_state(ch(2)), Some(ChannelState::Idle));
    // A call from the PBX hunts past it (group `pstn` is ascending over 1-3).
    w.pbx_call("0301234567");
    let (_, channel, _) = w.switch_setup();
    assert_eq!(
        channel,
        Some(2),
        "channel 1 is out of service at the far end"
    );
    w.switch
        .service(w.now, &[1], ServiceStatus::InService)
        .unwrap();
    w.run();
    assert!(!far_end_out(&w, 1), "{:?}", w.core.channel_state(ch(1)));
    // The whole interface: every idle channel of the span out, then back.
    w.switch
        .service(w.now, &[], ServiceStatus::OutOfService)
        .unwrap();
    w.run();
    assert!(
        far_end_out(&w, 1) && far_end_out(&w, 3),
        "{:?}",
        w.core.channel_states()
    );
    w.switch
        .service(w.now, &[], ServiceStatus::InService)
        .unwrap();
    w.run();
    assert!(
        !far_end_out(&w, 1) && !far_end_out(&w, 3),
        "{:?}",
        w.core.channel_states()
    );
}

/// Glare (Q.931 §5.1.2, §5.2.3.1): our SETUP for channel 1 crosses the switch's SETUP
/// for the same channel. The network's choice wins: its call takes channel 1 and reaches
/// the PBX; ours gets cause 44 from the switch and the core places it again on channel 2.
#[test]
fn glare_gives_the_channel_to_the_switch_and_our_call_moves_to_another() {
    let mut w = World::new();
    // Both SETUPs leave before either side has seen the other's.
    w.pbx_sends_invite("0301234567", vec![]);
    let mut glare = switch_request("201", None);
    glare.channel = ChannelPref::Exclusive(1);
    let theirs = w.switch.setup(w.now, glare).unwrap();
    w.run();
    // The switch's call reached the PBX on channel 1.
    let _ = w.pbx_incoming();
    let ch = |ts| dahdi_driver::ChannelId {
        span: SpanId(1),
        timeslot: dahdi_driver::Timeslot(ts),
    };
    assert!(
        matches!(
            w.core.channel_state(ch(1)),
            Some(crate::trunk::ChannelState::Busy { .. })
        ),
        "{:?}",
        w.core.channel_state(ch(1))
    );
    // Ours went out again on channel 2.
    let (_, channel, _) = w.switch_setup();
    assert_eq!(channel, Some(2), "{:?}", w.switch_events);
    assert!(
        !w.switch_events
            .iter()
            .any(|e| matches!(e, Event::Released { call, .. } if *call == theirs)),
        "the switch's call goes on: {:?}",
        w.switch_events
    );
}

/// NI-2 sends PRI calls en bloc without Sending complete: such a SETUP is complete (CALL
/// PROCEEDING, not SETUP ACKNOWLEDGE) and routed at once, even on a route that would
/// take more digits (`_3X.`); with EuroISDN the same SETUP would be overlap receiving.
#[test]
fn an_ni2_setup_without_sending_complete_is_en_bloc() {
    let config =
        format!("{CONFIG}\n[[route]]\npattern = \"_3X.\"\nfrom = [\"pstn\"]\nto = [\"pbx\"]\n");
    let mut w = World::with_interfaces(&config, RedirectHeaders::Diversion, ni2);
    let mut req = switch_request("301", None);
    req.sending_complete = false;
    w.switch.setup(w.now, req).unwrap();
    w.run();
    let _ = w.pbx_incoming();
    assert!(
        w.switch_events
            .iter()
            .any(|e| matches!(e, Event::Proceeding { .. })),
        "{:?}",
        w.switch_events
    );
    assert!(
        !w.switch_events
            .iter()
            .any(|e| matches!(e, Event::SetupAcknowledged { .. })),
        "{:?}",
        w.switch_events
    );
}

/// What each leg logs while it handles an event of a call is in a `call` span naming the
/// core's call and the leg: the answer the switch gives (ISDN leg) and the BYE the PBX
/// sends (SIP leg) are logged under the same call id, with each leg's own.
#[test]
fn both_legs_log_under_the_calls_id() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let call = || {
        let mut w = World::new();
        let (pbx_call, _) = answered_pbx_call(&mut w);
        w.pbx.hangup(w.now, pbx_call, None);
        w.run();
    };
    tracing::subscriber::with_default(subscriber, || {
        // A callsite first met by another test's thread while this subscriber was being
        // registered may keep the "never" it got with no subscriber (tracing caches a
        // callsite's interest). Once the call has met every callsite it meets, none is
        // still being registered: asked again, each now says what this subscriber wants.
        call();
        tracing::callsite::rebuild_interest_cache();
        buf.0.lock().unwrap().clear();
        call();
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let line = |what: &str| {
        text.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` in:\n{text}"))
            .to_string()
    };
    // The ISDN leg's CONNECT reaches the core inside the ISDN leg's span.
    let answered = line("answered call=call-1");
    assert!(
        answered.contains("call{call=call-1 leg=") && answered.contains("span=span 1}"),
        "{answered}"
    );
    // The PBX's BYE ends the call inside the SIP leg's span, same call.
    let ended = line("call ended call=call-1");
    assert!(
        ended.contains("call{call=call-1 leg=") && ended.contains("trunk=pbx}"),
        "{ended}"
    );
}

/// The gateway's handle of the switch's call `call` (the same call reference, allocated
/// by the other side).
fn gateway_handle(call: q931::call::CallHandle) -> q931::call::CallHandle {
    q931::call::CallHandle {
        call_ref: call.call_ref,
        ours: !call.ours,
    }
}

/// The Reason of the BYE the gateway sent.
fn bye_reason(w: &World) -> Option<String> {
    w.gw_sent
        .iter()
        .find(|m| m.method() == Some(crate::sip::Method::Bye))
        .and_then(|m| header(m, "Reason").first().cloned())
}

#[test]
fn audit_of_calls_in_step_finds_nothing() {
    let mut w = World::new();
    let (pbx_call, _) = answered_pbx_call(&mut w);
    for _ in 0..3 {
        assert!(w.isdn.audit(&mut w.core, w.now).is_empty());
        w.run();
    }
    assert_eq!(w.core.busy_channels().len(), 1, "the call goes on");
    w.pbx.hangup(w.now, pbx_call, None);
    w.run();
    w.assert_clean();
}

/// The leg lost its record of an answered call: the stack still holds the call on its
/// B-channel, the core still holds the channel. Seen twice, the channel is restarted
/// (the switch releases its call too) and the core's call ended with cause 41.
#[test]
fn audit_restarts_a_channel_the_stack_holds_for_nobody_and_ends_the_orphaned_call() {
    let mut w = World::new();
    let (_, call) = answered_pbx_call(&mut w);
    w.audit_checks = false;
    w.isdn.forget(gateway_handle(call));
    assert!(
        w.isdn.audit(&mut w.core, w.now).is_empty(),
        "once may be a call between two steps"
    );
    w.run();
    let fixes = w.isdn.audit(&mut w.core, w.now);
    let ch1 = ChannelId {
        span: SpanId(1),
        timeslot: Timeslot(1),
    };
    assert_eq!(fixes.restarted, vec![ch1]);
    assert_eq!(fixes.cleared.len(), 1);
    // Until the switch acknowledges the RESTART the channel is not hunted.
    assert!(
        matches!(
            w.core.channel_state(ch1),
            Some(crate::trunk::ChannelState::OutOfService(_))
        ),
        "{:?}",
        w.core.channel_state(ch1)
    );
    w.switch_events.clear();
    w.run();
    assert!(
        w.switch_events
            .iter()
            .any(|e| matches!(e, Event::RestartIndication { channels } if channels == &vec![1u8])),
        "{:?}",
        w.switch_events
    );
    assert_eq!(bye_reason(&w).as_deref(), Some("Q.850;cause=41"));
    w.assert_clean();
    let cdrs = w.cdrs.0.lock().unwrap();
    assert_eq!(cdrs.len(), 1, "the call has its CDR");
    // The restart is acknowledged: the channel is idle at both ends, hunted again.
    drop(cdrs);
    assert!(w.isdn.audit(&mut w.core, w.now).is_empty());
    w.pbx_call("0301234567");
    let (_, channel, _) = w.switch_setup();
    assert_eq!(channel, Some(1));
}

/// The leg keeps a call the stack does not have (and the stack a call the leg does not
/// know): the call is ended in the core, the stack's call restarted.
#[test]
fn audit_ends_a_call_the_stack_no_longer_has() {
    let mut w = World::new();
    let (_, call) = answered_pbx_call(&mut w);
    w.audit_checks = false;
    let lost = q931::call::CallHandle {
        call_ref: 0x7ff0,
        ours: true,
    };
    w.isdn.rekey(gateway_handle(call), lost);
    assert!(w.isdn.audit(&mut w.core, w.now).is_empty());
    let fixes = w.isdn.audit(&mut w.core, w.now);
    assert_eq!(fixes.cleared.len(), 1, "{fixes:?}");
    assert_eq!(fixes.restarted.len(), 1, "{fixes:?}");
    w.run();
    assert_eq!(bye_reason(&w).as_deref(), Some("Q.850;cause=41"));
    w.assert_clean();
}

/// `called_npi` / `calling_npi` of the trunk group set the numbering plan of the SETUP's
/// numbers (Q.931 §4.5.8, §4.5.10); without them the plan follows the type of number.
#[test]
fn the_trunk_groups_numbering_plans_go_in_the_setup() {
    let plans = |w: &mut World| {
        let e = w
            .switch_events
            .iter()
            .find(|e| matches!(e, Event::IncomingSetup { .. }))
            .cloned()
            .expect("a SETUP");
        let Event::IncomingSetup {
            called, calling, ..
        } = e
        else {
            unreachable!()
        };
        (
            called.map(|c| c.numbering_plan),
            calling.map(|c| c.numbering_plan),
        )
    };
    let mut w = World::new();
    w.pbx_call("0301234567");
    assert_eq!(
        plans(&mut w),
        (Some(NumberingPlan::Unknown), Some(NumberingPlan::Isdn)),
        "the plan of the type: unknown for the dialled number, E.164 for +4930999"
    );
    let config = CONFIG.replace(
        "hunting = \"ascending\"",
        "hunting = \"ascending\"\n\
         numbering = { called_npi = \"private\", calling_npi = \"private\" }",
    );
    let mut w = World::with(&config, RedirectHeaders::Diversion);
    w.pbx_call("0301234567");
    assert_eq!(
        plans(&mut w),
        (Some(NumberingPlan::Private), Some(NumberingPlan::Private))
    );
    let config = CONFIG.replace(
        "hunting = \"ascending\"",
        "hunting = \"ascending\"\nnumbering = { national_prefix = \"0\", called_ton = \"national\" }",
    );
    let mut w = World::with(&config, RedirectHeaders::Diversion);
    w.pbx_call("0301234567");
    assert_eq!(
        plans(&mut w).0,
        Some(NumberingPlan::Isdn),
        "E.164 for a known type"
    );
}
