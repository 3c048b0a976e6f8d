//! How much SDP work one call costs: parse an offer, answer it, write the answer, parse
//! it back. Run with `--release -- --nocapture` for the rate (the gateway's budget is
//! 250 µs of CPU per call for everything).

use std::time::Instant;

use gateway::media::Law;
use gateway::sdp::{LocalCapabilities, OfferAnswer, SessionDescription};

const OFFER: &[u8] = include_bytes!("sdp_corpus/asterisk18.sdp");

#[test]
fn offer_answer_cycle_rate() {
    let caps = LocalCapabilities::for_span_law("192.0.2.10".parse().unwrap(), Law::ALaw);
    let n = 2_000;
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let offer = SessionDescription::parse(OFFER).unwrap();
        let mut oa = OfferAnswer::new(caps.clone(), 40000 + (i % 1000) as u16 * 2);
        let (answer, neg, _) = oa.handle_offer(&offer).unwrap();
        assert_eq!(neg.audio.unwrap().law, Law::ALaw);
        let out = answer.to_bytes();
        bytes += out.len();
        assert!(SessionDescription::parse(&out).is_ok());
    }
    let per = start.elapsed() / n;
    println!(
        "SDP: {:.1} µs per parse + answer + write + re-parse ({} bytes out per answer)",
        per.as_secs_f64() * 1e6,
        bytes / n as usize
    );
}
