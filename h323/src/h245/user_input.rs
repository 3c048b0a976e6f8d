//! UserInputIndication (H.245 §6.2.10.x): DTMF digits as an alphanumeric string or as
//! one `signal` per digit (signalType from "0123456789#*ABCD!", `!` is a hook flash).

use h323_asn1::h245 as asn;
use h323_asn1::rasn::types::{GeneralString, Ia5String};

/// A user input received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInput {
    /// `alphanumeric`: a string of characters (usually DTMF digits).
    Alphanumeric(String),
    /// `signal`: one DTMF tone with its duration in ms when given.
    Signal { digit: char, duration: Option<u16> },
}

impl UserInput {
    /// The characters as digits.
    pub fn digits(&self) -> String {
        match self {
            UserInput::Alphanumeric(s) => s.clone(),
            UserInput::Signal { digit, .. } => digit.to_string(),
        }
    }
}

/// The characters H.245 allows in `signalType`.
pub const SIGNAL_ALPHABET: &str = "0123456789#*ABCD!";

pub fn from_asn(u: &asn::UserInputIndication) -> Option<UserInput> {
    match u {
        asn::UserInputIndication::alphanumeric(s) => Some(UserInput::Alphanumeric(
            String::from_utf8_lossy(s.as_bytes()).into_owned(),
        )),
        asn::UserInputIndication::signal(s) => {
            let digit = s.signal_type.to_string().chars().next()?;
            Some(UserInput::Signal {
                digit,
                duration: s.duration,
            })
        }
        _ => None,
    }
}

/// `alphanumeric` carrying `digits` (H.245 GeneralString).
pub fn alphanumeric(digits: &str) -> Option<asn::MultimediaSystemControlMessage> {
    let s = GeneralString::from_bytes(digits.as_bytes()).ok()?;
    Some(indication(asn::UserInputIndication::alphanumeric(s)))
}

/// One `signal` for `digit` (a character of [`SIGNAL_ALPHABET`], lower-case a-d
/// accepted), with a duration in ms.
pub fn signal(digit: char, duration_ms: u16) -> Option<asn::MultimediaSystemControlMessage> {
    let d = digit.to_ascii_uppercase();
    if !SIGNAL_ALPHABET.contains(d) {
        return None;
    }
    let ia5 = Ia5String::try_from(d.to_string()).ok()?;
    Some(indication(asn::UserInputIndication::signal(Box::new(
        asn::UserInputIndicationSignal::new(
            ia5,
            Some(duration_ms.max(1)),
            None,
            None,
            None,
            None,
            None,
        ),
    ))))
}

fn indication(u: asn::UserInputIndication) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::indication(asn::IndicationMessage::userInput(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        for (msg, want) in [
            (
                alphanumeric("12#").unwrap(),
                UserInput::Alphanumeric("12#".into()),
            ),
            (
                signal('a', 100).unwrap(),
                UserInput::Signal {
                    digit: 'A',
                    duration: Some(100),
                },
            ),
        ] {
            let bytes = crate::h245_tunnel::encode(&msg).unwrap();
            let asn::MultimediaSystemControlMessage::indication(asn::IndicationMessage::userInput(
                u,
            )) = crate::h245_tunnel::decode(&bytes).unwrap()
            else {
                panic!()
            };
            assert_eq!(from_asn(&u), Some(want));
        }
        assert!(signal('x', 100).is_none());
    }
}
