//! A whole LAPD frame as the HDLC layer hands it over: address, control and information
//! field, without flags and without the FCS (DAHDI and the tdm-sim D-channel check and strip
//! it; see [`super::fcs`] for transports that do not).

use super::address::Address;
use super::control::{Control, Unnumbered};

/// Why a byte string is not a LAPD frame this implementation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer octets than the frame format needs (Q.921 §2.9: invalid frame).
    #[error("frame of {len} octets is too short")]
    TooShort {
        /// Octets available.
        len: usize,
    },
    /// Octets 2-3: the EA bits are not 0 then 1 (Q.921 §3.3.1, §2.9: invalid frame).
    #[error("address octets {octets:02x?}: EA bits must be 0 then 1 (Q.921 §3.3.1)")]
    AddressExtension {
        /// The two address octets received.
        octets: [u8; 2],
    },
    /// Octet 4: a control field coding Q.921 does not define (§5.8.5, MDL-ERROR L).
    #[error("octet 4: undefined control field coding {octet:#04x} (Q.921 §5.8.5)")]
    UndefinedControl {
        /// The first control octet.
        octet: u8,
    },
    /// A SABME, DM, DISC or UA frame carrying an information field (MDL-ERROR M).
    #[error("{function:?} frame carries {len} information octets, not permitted (Q.921 §5.8.5)")]
    InfoNotPermitted {
        /// The frame type.
        function: Unnumbered,
        /// Length of the information field.
        len: usize,
    },
    /// A supervisory frame longer than its 4 octets (MDL-ERROR N).
    #[error("supervisory frame of {len} octets, must be 4 (Q.921 §5.8.5)")]
    WrongLength {
        /// Length of the frame.
        len: usize,
    },
}

/// A LAPD frame borrowing its information field from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Address field (Q.921 §3.3).
    pub address: Address,
    /// Control field (Q.921 §3.4).
    pub control: Control,
    /// Information field (I, UI, XID and FRMR frames), possibly empty.
    pub info: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Decodes one frame (no flags, no FCS). Never panics, whatever the bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let address = Address::decode(bytes)?;
        let rest = &bytes[Address::LEN..];
        let (control, control_len) = Control::decode(rest).map_err(|e| match e {
            FrameError::TooShort { len } => FrameError::TooShort {
                len: Address::LEN + len,
            },
            other => other,
        })?;
        let info = &rest[control_len..];
        match control {
            Control::Supervisory { .. } if !info.is_empty() => {
                return Err(FrameError::WrongLength { len: bytes.len() });
            }
            Control::Unnumbered { function, .. } if !function.allows_info() && !info.is_empty() => {
                return Err(FrameError::InfoNotPermitted {
                    function,
                    len: info.len(),
                });
            }
            _ => {}
        }
        Ok(Frame {
            address,
            control,
            info,
        })
    }

    /// Appends the encoded frame (address, control, information) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.address.octets());
        self.control.encode(out);
        out.extend_from_slice(self.info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lapd::address::{Role, Sapi, Tei};
    use crate::lapd::control::{SeqNo, Supervisory};

    fn addr(cr: bool) -> Address {
        Address {
            sapi: Sapi::CALL_CONTROL,
            cr,
            tei: Tei::PRI,
        }
    }

    #[test]
    fn known_frames_as_seen_on_a_pri_d_channel() {
        // SABME P=1 from the user side (C/R=0): 00 01 7F.
        let f = Frame::decode(&[0x00, 0x01, 0x7F]).unwrap();
        assert_eq!(f.address, addr(false));
        assert!(Role::Network.is_command(f.address.cr));
        assert_eq!(
            f.control,
            Control::Unnumbered {
                function: Unnumbered::Sabme,
                poll_final: true
            }
        );
        // UA F=1 as the network's response (C/R=0): 00 01 73.
        let f = Frame::decode(&[0x00, 0x01, 0x73]).unwrap();
        assert!(!Role::User.is_command(f.address.cr));
        // An I frame from the network: 02 01 N(S)=0 N(R)=0 P=0 and a Q.931 header.
        let bytes = [0x02, 0x01, 0x00, 0x00, 0x08, 0x02, 0x00, 0x01, 0x05];
        let f = Frame::decode(&bytes).unwrap();
        assert_eq!(
            f.control,
            Control::Information {
                ns: SeqNo::ZERO,
                nr: SeqNo::ZERO,
                poll: false
            }
        );
        assert_eq!(f.info, &bytes[4..]);
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, bytes);
        // RR command P=1 N(R)=5 from the network: 02 01 01 0B.
        let f = Frame::decode(&[0x02, 0x01, 0x01, 0x0B]).unwrap();
        assert_eq!(
            f.control,
            Control::Supervisory {
                function: Supervisory::ReceiveReady,
                nr: SeqNo::new(5),
                poll_final: true
            }
        );
    }

    #[test]
    fn length_rules() {
        assert_eq!(
            Frame::decode(&[0x00, 0x01, 0x01, 0x00, 0xAA]),
            Err(FrameError::WrongLength { len: 5 })
        );
        assert_eq!(
            Frame::decode(&[0x00, 0x01, 0x73, 0xAA]),
            Err(FrameError::InfoNotPermitted {
                function: Unnumbered::Ua,
                len: 1
            })
        );
        assert_eq!(
            Frame::decode(&[0x00, 0x01, 0x00]),
            Err(FrameError::TooShort { len: 3 })
        );
        assert_eq!(
            Frame::decode(&[0x00, 0x01]),
            Err(FrameError::TooShort { len: 2 })
        );
        // UI with information is fine.
        let f = Frame::decode(&[0x02, 0x01, 0x03, 0x08, 0x01]).unwrap();
        assert_eq!(f.info, &[0x08, 0x01]);
    }

    #[test]
    fn every_short_byte_string_decodes_or_errors() {
        // Exhaustive over all 3-octet strings and a sample of 4-octet ones: never a panic,
        // and whatever decodes re-encodes to the same bytes.
        let mut out = Vec::new();
        for a in 0..=255u8 {
            for c in 0..=255u8 {
                for tail in [&[][..], &[0x00][..], &[0xFF][..], &[0x12, 0x34][..]] {
                    let mut bytes = vec![a, 0x01, c];
                    bytes.extend_from_slice(tail);
                    if let Ok(f) = Frame::decode(&bytes) {
                        out.clear();
                        f.encode(&mut out);
                        assert_eq!(out, bytes);
                    }
                }
            }
        }
    }
}
