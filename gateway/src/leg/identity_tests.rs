//! Connected line after a transfer (issue 9): ETSI ECT `EctInform` (EN 300 369-1) on the
//! ISDN side ↔ a mid-dialog UPDATE / re-INVITE with P-Asserted-Identity (RFC 3325 §9.1,
//! RFC 4916 §1) on the SIP side, through the World of `tests.rs`.

use q931::ie::{CauseValue, NumberingPlan};
use q931::supplementary::address::{PresentedNumberUnscreened, RosePartyNumber};
use q931::supplementary::ect::EctStatus;

use super::*;

/// The in-dialog requests the PBX received (method, P-Asserted-Identity, Privacy), each
/// answered 200.
fn pbx_requests(w: &mut World) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for e in std::mem::take(&mut w.pbx_events) {
        match e {
            UaEvent::Request {
                handle, request, ..
            } => {
                out.push((
                    request.method().map(|m| m.to_string()).unwrap_or_default(),
                    header(&request, "P-Asserted-Identity"),
                    header(&request, "Privacy"),
                ));
                w.pbx
                    .respond_request(w.now, handle, StatusCode::OK, &[], None);
            }
            other => w.pbx_events.push(other),
        }
    }
    w.run();
    out
}

fn switch_informs(w: &mut World, call: q931::call::CallHandle, digits: &str, restricted: bool) {
    let n = RosePartyNumber {
        plan: NumberingPlan::Isdn,
        ton: QTon::National,
        digits: digits.to_string(),
    };
    let p = if restricted {
        PresentedNumberUnscreened::RestrictedNumber(n)
    } else {
        PresentedNumberUnscreened::Allowed(n)
    };
    w.switch
        .ect_inform(w.now, call, EctStatus::Active, Some(p))
        .unwrap();
    w.run();
}

/// The PBX REFERs its answered call with the switch to 205: the gateway's call to 205,
/// the events so far cleared.
fn blind_transfer_to_205(w: &mut World) -> CallHandle {
    let (pbx_call, _) = answered_pbx_call(w);
    w.pbx_events.clear();
    pbx_refers(
        w,
        pbx_call,
        &[("Refer-To", "<sip:205@192.0.2.1>".to_string())],
    );
    let (new_call, _) = target_invite(w);
    w.switch_events.clear();
    new_call
}

#[test]
fn ect_inform_from_the_switch_becomes_update_with_pai_to_a_trusted_peer() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let (_, switch_call) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    switch_informs(&mut w, switch_call, "301999", false);
    let reqs = pbx_requests(&mut w);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].0, "UPDATE", "the PBX allows UPDATE: {reqs:?}");
    assert!(
        reqs[0].1.len() == 1 && reqs[0].1[0].contains("301999"),
        "{reqs:?}"
    );
    assert!(reqs[0].2.is_empty(), "{reqs:?}");
    // Restricted: Privacy: id with it (RFC 3325 §9.3).
    switch_informs(&mut w, switch_call, "301998", true);
    let reqs = pbx_requests(&mut w);
    assert!(
        reqs.len() == 1 && reqs[0].1[0].contains("301998"),
        "{reqs:?}"
    );
    assert_eq!(reqs[0].2, vec!["id".to_string()]);
    assert_eq!(w.core.call_count(), 1, "the call goes on");
    w.switch
        .disconnect(w.now, switch_call, CauseValue::from(16))
        .unwrap();
    w.run();
    w.assert_clean();
}

#[test]
fn no_connected_line_update_to_an_untrusted_peer() {
    let mut w = World::new();
    let (_, switch_call) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    switch_informs(&mut w, switch_call, "301999", false);
    assert_eq!(pbx_requests(&mut w), vec![]);
    assert_eq!(w.core.call_count(), 1);
}

#[test]
fn blind_transfer_tells_the_switch_party_its_new_partner_with_ect_inform() {
    let mut w = World::new();
    let new_call = blind_transfer_to_205(&mut w);
    w.pbx
        .respond(w.now, new_call, StatusCode::OK, None, &[], Some(ANSWER));
    w.run();
    let informed: Vec<_> = w
        .switch_events
        .iter()
        .filter_map(|e| match e {
            Event::TransferInformed {
                status,
                redirection,
                ..
            } => Some((*status, redirection.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(informed.len(), 1, "{:?}", w.switch_events);
    assert_eq!(informed[0].0, EctStatus::Active);
    match &informed[0].1 {
        Some(PresentedNumberUnscreened::Allowed(n)) => assert_eq!(n.digits, "205"),
        other => panic!("redirection {other:?}"),
    }
}

#[test]
fn blind_transfer_tells_the_switch_party_who_answered_per_the_targets_pai() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let new_call = blind_transfer_to_205(&mut w);
    // The target's phone forwards to 4930777, who answers: its identity, not 205, is the
    // switch party's new partner (a trusted peer's P-Asserted-Identity, RFC 3325 §9.1).
    w.pbx.respond(
        w.now,
        new_call,
        StatusCode::OK,
        None,
        &[(
            "P-Asserted-Identity",
            "<sip:4930777@192.0.2.10>".to_string(),
        )],
        Some(ANSWER),
    );
    w.run();
    let numbers: Vec<String> = w
        .switch_events
        .iter()
        .filter_map(|e| match e {
            Event::TransferInformed {
                redirection: Some(PresentedNumberUnscreened::Allowed(n)),
                ..
            } => Some(n.digits.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        numbers,
        vec!["4930777".to_string()],
        "{:?}",
        w.switch_events
    );
}

#[test]
fn notify_call_transferred_active_with_a_redirection_number_becomes_update_with_pai() {
    use q931::ie::{NotificationDescription, Presentation, RedirectionNumber, Screening};
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let (_, switch_call) = answered_pbx_call(&mut w);
    w.pbx_events.clear();
    // The NOTIFY form of ECT (EN 300 369-1; libpri sends it on basic-rate NT PTMP).
    let r = RedirectionNumber::new(QTon::National, NumberingPlan::Isdn, "301555")
        .with_presentation(Presentation::Allowed, Screening::NetworkProvided);
    w.switch
        .notify_with(
            w.now,
            switch_call,
            NotificationDescription::TRANSFER_ACTIVE,
            vec![r.into()],
        )
        .unwrap();
    w.run();
    let reqs = pbx_requests(&mut w);
    assert!(
        reqs.len() == 1 && reqs[0].0 == "UPDATE" && reqs[0].1[0].contains("301555"),
        "{reqs:?}"
    );
    // Without a number there is nothing to tell.
    w.switch
        .notify(w.now, switch_call, NotificationDescription::TRANSFER_ACTIVE)
        .unwrap();
    w.run();
    assert_eq!(pbx_requests(&mut w), vec![]);
}
