//! The body shared by the `sdp` cargo-fuzz target and the stable randomized test: feed
//! any bytes through the parser, the typed views and both sides of offer/answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Direction, LocalCapabilities, OfferAnswer, SessionDescription};
use crate::media::Law;

/// Exercise everything on `data`. Panics only on a broken invariant: an SDP that we
/// generate must parse again.
pub fn exercise(data: &[u8]) {
    let Ok(sdp) = SessionDescription::parse(data) else {
        return;
    };
    for m in sdp.media() {
        let _ = m.telephone_event();
        let _ = m.is_t38();
        let _ = m.is_null_connection();
    }
    let _ = sdp.to_bytes();
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    for (addr, law, t38) in [(v4, Law::ALaw, None), (v6, Law::MuLaw, Some(40002))] {
        let mut caps = LocalCapabilities::for_span_law(addr, law);
        caps.t38_port = t38;
        // As answerer.
        let mut oa = OfferAnswer::new(caps.clone(), 40000);
        if let Ok((answer, _, _)) = oa.handle_offer(&sdp) {
            let bytes = answer.to_bytes();
            let back = SessionDescription::parse(&bytes)
                .unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{bytes:?}"));
            assert_eq!(back.media().len(), sdp.media().len(), "m-line count");
            // A repeated offer is answered the same way.
            let _ = oa.handle_offer(&sdp);
        }
        // As offerer receiving this as the answer.
        let mut oa = OfferAnswer::new(caps, 40000);
        let offer = oa.create_offer(Direction::SendRecv);
        assert!(SessionDescription::parse(&offer.to_bytes()).is_ok());
        let _ = oa.handle_answer(&sdp);
    }
}
