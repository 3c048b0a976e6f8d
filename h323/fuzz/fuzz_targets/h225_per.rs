//! The raw PER decoders: H323-UserInformation, RasMessage and H.245
//! MultimediaSystemControlMessage; what decodes must re-encode. Must never panic.
#![no_main]

use h323_asn1::{h225, h245, rasn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(uu) = rasn::aper::decode::<h225::H323UserInformation>(data) {
        let _ = rasn::aper::encode(&uu);
    }
    if let Ok(ras) = rasn::aper::decode::<h225::RasMessage>(data) {
        let _ = rasn::aper::encode(&ras);
    }
    if let Ok(m) = rasn::aper::decode::<h245::MultimediaSystemControlMessage>(data) {
        let _ = rasn::aper::encode(&m);
    }
});
