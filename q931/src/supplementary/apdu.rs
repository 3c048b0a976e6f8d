//! The contents of a Facility information element as supplementary services use them
//! (Q.932 §4.4 and §8.2, Table 4-3 / Figure 4-3): the protocol profile octet, then the
//! APDUs — here ROSE components, possibly after the networking extensions of Q.932
//! §8.2.3 / ECMA-165 (network facility extension, network protocol profile,
//! interpretation).
//!
//! ```text
//! octet 3   ext | spare (2) | protocol profile (5)   10001 ROSE, 11111 networking extensions
//! octet 3a  (only when ext = 0: DMS-100 puts its service identifier here, 0xBE for RLT)
//! octet 4.. [AA] NFE, [82]/[92] NPP, [8B] interpretation (networking extensions only),
//!           then ROSE components [A1]..[A4]
//! ```

use super::ber::{BerError, Class, Reader, Tag};
use super::rose::Component;
use crate::ie::Facility;

/// Q.932 Table 4-3, octet 3 bits 5–1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolProfile {
    /// 10001: remote operations protocol (ROSE).
    Rose,
    /// 11111: networking extensions (Q.SIG, NI-2 with a facility extension header).
    NetworkingExtensions,
    /// Any other value (CMIP 10010, ACSE 10011, …): kept.
    Other(u8),
}

impl ProtocolProfile {
    pub fn bits(self) -> u8 {
        match self {
            ProtocolProfile::Rose => 0x11,
            ProtocolProfile::NetworkingExtensions => 0x1F,
            ProtocolProfile::Other(b) => b & 0x1F,
        }
    }

    pub fn from_bits(b: u8) -> ProtocolProfile {
        match b & 0x1F {
            0x11 => ProtocolProfile::Rose,
            0x1F => ProtocolProfile::NetworkingExtensions,
            o => ProtocolProfile::Other(o),
        }
    }
}

/// Why Facility contents cannot be read as ROSE APDUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("facility: octet 3 (protocol profile) missing")]
    Empty,
    #[error("facility: octet 3a missing")]
    MissingOctet3a,
    #[error("facility: protocol profile {0:#04x} does not carry ROSE")]
    NotRose(u8),
    #[error("facility APDU: {0}")]
    Ber(#[from] BerError),
}

/// The decoded contents of a Facility element: the ROSE components it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityApdus {
    pub profile: ProtocolProfile,
    /// Octet 3a, present when octet 3 has its extension bit clear.
    pub octet_3a: Option<u8>,
    /// The networking extension elements before the components, BER as received.
    pub extensions: Vec<Vec<u8>>,
    pub components: Vec<Component>,
}

impl FacilityApdus {
    /// Plain ROSE (profile 10001, no extension), as ETSI EN 300 196-1 and NI-2 without
    /// a facility header use it.
    pub fn rose(components: Vec<Component>) -> FacilityApdus {
        FacilityApdus {
            profile: ProtocolProfile::Rose,
            octet_3a: None,
            extensions: Vec::new(),
            components,
        }
    }

    /// Reads the contents of a Facility element.
    pub fn decode(contents: &[u8]) -> Result<FacilityApdus, ApduError> {
        let (&o3, rest) = contents.split_first().ok_or(ApduError::Empty)?;
        let profile = ProtocolProfile::from_bits(o3);
        let (octet_3a, rest) = if o3 & 0x80 == 0 {
            let (&a, rest) = rest.split_first().ok_or(ApduError::MissingOctet3a)?;
            (Some(a), rest)
        } else {
            (None, rest)
        };
        if !matches!(
            profile,
            ProtocolProfile::Rose | ProtocolProfile::NetworkingExtensions
        ) {
            return Err(ApduError::NotRose(profile.bits()));
        }
        let mut r = Reader::new(rest);
        let mut extensions = Vec::new();
        let mut components = Vec::new();
        while !r.is_empty() {
            match r.peek_tag() {
                // ROSE components: [1]..[4] constructed.
                Some(Tag {
                    class: Class::Context,
                    constructed: true,
                    number: 1..=4,
                }) => components.push(Component::decode(&mut r)?),
                // §8.2.3 networking extensions: NFE [10], NPP [18], interpretation [11].
                _ if profile == ProtocolProfile::NetworkingExtensions && components.is_empty() => {
                    extensions.push(r.read()?.raw.to_vec())
                }
                _ => {
                    // Not a component where one must be: report it as such.
                    components.push(Component::decode(&mut r)?);
                }
            }
        }
        Ok(FacilityApdus {
            profile,
            octet_3a,
            extensions,
            components,
        })
    }

    /// The Facility element's contents.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ext = if self.octet_3a.is_some() { 0 } else { 0x80 };
        out.push(ext | self.profile.bits());
        if let Some(a) = self.octet_3a {
            out.push(a);
        }
        for e in &self.extensions {
            out.extend_from_slice(e);
        }
        for c in &self.components {
            c.encode(out);
        }
    }

    /// As a Facility information element.
    pub fn to_facility(&self) -> Facility {
        let mut contents = Vec::with_capacity(32);
        self.encode(&mut contents);
        Facility { contents }
    }

    /// The APDUs of a Facility element.
    pub fn from_facility(f: &Facility) -> Result<FacilityApdus, ApduError> {
        Self::decode(&f.contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supplementary::rose::{Code, InvokeId};

    #[test]
    fn plain_rose_round_trip() {
        let bytes = [0x91, 0xA1, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x06];
        let f = FacilityApdus::decode(&bytes).unwrap();
        assert_eq!(f.profile, ProtocolProfile::Rose);
        assert_eq!(
            f.components,
            [Component::Invoke {
                invoke_id: InvokeId(1),
                linked_id: None,
                operation: Code::Local(6),
                argument: None
            }]
        );
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn octet_3a_and_extensions_are_kept() {
        // DMS-100: profile without the extension bit, service id 0xBE.
        let bytes = [0x11, 0xBE, 0xA2, 0x03, 0x02, 0x01, 0x01];
        let f = FacilityApdus::decode(&bytes).unwrap();
        assert_eq!(f.octet_3a, Some(0xBE));
        let mut out = Vec::new();
        f.encode(&mut out);
        assert_eq!(out, bytes);
        // Networking extensions: NFE and interpretation before the component.
        let bytes = [
            0x9F, 0xAA, 0x06, 0x80, 0x01, 0x00, 0x82, 0x01, 0x00, 0x8B, 0x01, 0x00, 0xA2, 0x03,
            0x02, 0x01, 0x01,
        ];
        let f = FacilityApdus::decode(&bytes).unwrap();
        assert_eq!(f.extensions.len(), 2);
        assert_eq!(f.components.len(), 1);
        out.clear();
        f.encode(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn never_panics_on_prefixes_and_flips() {
        let good = [
            0x91, 0xA1, 0x0E, 0x02, 0x01, 0x05, 0x06, 0x06, 0x04, 0x00, 0x82, 0x71, 0x01, 0x01,
            0x02, 0x01, 0x07,
        ];
        for n in 0..=good.len() {
            let _ = FacilityApdus::decode(&good[..n]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good;
                b[i] ^= 1 << bit;
                if let Ok(f) = FacilityApdus::decode(&b) {
                    let mut out = Vec::new();
                    f.encode(&mut out);
                    assert_eq!(FacilityApdus::decode(&out).unwrap(), f);
                }
            }
        }
    }

    /// Random octet strings (most with a valid profile octet and a component tag, so
    /// that the decoder goes deep): no panic; what decodes re-encodes to a fixed point.
    #[test]
    fn never_panics_on_random_octets() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut buf = Vec::with_capacity(64);
        for i in 0..100_000 {
            buf.clear();
            let len = (next() % 40) as usize;
            for _ in 0..len {
                buf.push(next() as u8);
            }
            if i % 2 == 0 && buf.len() > 2 {
                buf[0] = 0x91;
                buf[1] = 0xA1 + (next() % 4) as u8;
            }
            if let Ok(f) = FacilityApdus::decode(&buf) {
                let mut out = Vec::new();
                f.encode(&mut out);
                assert_eq!(FacilityApdus::decode(&out).as_ref(), Ok(&f), "{buf:02x?}");
            }
        }
    }
}
