//! The raw PER decoders: H323-UserInformation, RasMessage and H.245
//! MultimediaSystemControlMessage; what decodes must re-encode. Must never panic,
//! but for a disagreement of the hand-written Setup codec (`h323::h225::setup_per`)
//! with rasn: it may answer only with rasn's value and rasn's octets.
#![no_main]

use h323::h225::setup_per;
use h323_asn1::{h225, h245, rasn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let uu = rasn::aper::decode::<h225::H323UserInformation>(data);
    if let Some(fast) = setup_per::decode(data) {
        let slow = uu.as_ref().expect("setup_per decoded what rasn rejects");
        assert_eq!(&fast, slow, "setup_per and rasn decode differently");
    }
    if let Ok(uu) = uu {
        let slow = rasn::aper::encode(&uu);
        let mut fast = Vec::new();
        if setup_per::encode(&uu, &mut fast).is_some() {
            let slow = slow.expect("setup_per encoded what rasn rejects");
            assert_eq!(fast, slow, "setup_per and rasn encode differently");
        }
    }
    if let Ok(ras) = rasn::aper::decode::<h225::RasMessage>(data) {
        let _ = rasn::aper::encode(&ras);
    }
    if let Ok(m) = rasn::aper::decode::<h245::MultimediaSystemControlMessage>(data) {
        let _ = rasn::aper::encode(&m);
    }
});
