//! Fuzz the SIP parser: datagram parse, RFC 3261 checks, every typed header, rebuild, and
//! the stream decoder fed in two pieces.
#![no_main]

use gateway::sip::builder::rebuild;
use gateway::sip::header::{
    Accept, Allow, Authorization, Date, Diversion, Event, Expires, HistoryInfo, MinSe,
    PAssertedIdentity, PPreferredIdentity, Privacy, RAck, RSeq, Reason, RecordRoute, ReferTo,
    ReferredBy, Replaces, Require, RetryAfter, Route, SessionExpires, SubscriptionState, Supported,
    WwwAuthenticate,
};
use gateway::sip::validate::{check_request, validate, UasPolicy};
use gateway::sip::{SipMessage, StreamDecoder, StreamEvent};
use libfuzzer_sys::fuzz_target;

fn exercise(m: &SipMessage) {
    let _ = validate(m);
    let _ = check_request(m, &UasPolicy::default());
    let _ = m.request_uri();
    let _ = m.via();
    let _ = m.contact();
    let _ = m.get_all::<Route>();
    let _ = m.get_all::<RecordRoute>();
    let _ = m.get_all::<Require>();
    let _ = m.get_all::<Supported>();
    let _ = m.get_all::<Allow>();
    let _ = m.get_all::<Accept>();
    let _ = m.get_all::<PAssertedIdentity>();
    let _ = m.get_all::<PPreferredIdentity>();
    let _ = m.get_all::<Diversion>();
    let _ = m.get_all::<HistoryInfo>();
    let _ = m.get_all::<Reason>();
    let _ = m.get::<Authorization>();
    let _ = m.get::<WwwAuthenticate>();
    let _ = m.get::<Replaces>();
    let _ = m.get::<RAck>();
    let _ = m.get::<RSeq>();
    let _ = m.get::<RetryAfter>();
    let _ = m.get::<ReferTo>();
    let _ = m.get::<ReferredBy>();
    let _ = m.get::<Privacy>();
    let _ = m.get::<Event>();
    let _ = m.get::<SubscriptionState>();
    let _ = m.get::<SessionExpires>();
    let _ = m.get::<MinSe>();
    let _ = m.get::<Expires>();
    let _ = m.get::<Date>();
    if let Ok(v) = m.via() {
        for via in v {
            let _ = via.received();
            let _ = via.rport();
        }
    }
    // A parsed message re-serialises to an equal message.
    let again = SipMessage::parse(rebuild(m)).expect("rebuilt message parses");
    assert!(again == *m, "round trip changed the message");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = SipMessage::parse(data.to_vec()) {
        exercise(&m);
    }
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut d = StreamDecoder::new();
    d.handle_data(&data[..cut]);
    while let Some(Ok(ev)) = d.poll_event() {
        if let StreamEvent::Message(m) = ev {
            exercise(&m);
        }
    }
    d.handle_data(&data[cut..]);
    while let Some(Ok(ev)) = d.poll_event() {
        if let StreamEvent::Message(m) = ev {
            exercise(&m);
        }
    }
});
