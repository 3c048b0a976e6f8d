//! Bearer capability, Q.931 §4.5.5 (identifier 0x04).
//!
//! ```text
//! octet 3   ext | coding standard (2) | information transfer capability (5)
//! octet 4   ext | transfer mode (2)   | information transfer rate (5)
//! octet 4.1 ext | rate multiplier (7)               (only for rate "multirate")
//! octet 5   ext | 01 | user information layer 1 protocol (5)   [5a..5d: rate adaption]
//! octet 6   ext | 10 | user information layer 2 protocol (5)   [6a]
//! octet 7   ext | 11 | user information layer 3 protocol (5)   [7a, 7b]
//! ```

use super::{ext, CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// Information transfer capability, octet 3 bits 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InfoTransferCapability {
    /// 00000
    Speech,
    /// 01000
    UnrestrictedDigital,
    /// 01001
    RestrictedDigital,
    /// 10000
    Audio3_1kHz,
    /// 10001: unrestricted digital information with tones/announcements (7 kHz audio).
    UnrestrictedDigitalWithTones,
    /// 11000
    Video,
    /// Any other code point, kept as received.
    Other(u8),
}

impl InfoTransferCapability {
    pub const fn from_bits(b: u8) -> Self {
        match b & 0x1F {
            0x00 => Self::Speech,
            0x08 => Self::UnrestrictedDigital,
            0x09 => Self::RestrictedDigital,
            0x10 => Self::Audio3_1kHz,
            0x11 => Self::UnrestrictedDigitalWithTones,
            0x18 => Self::Video,
            o => Self::Other(o),
        }
    }
    pub const fn bits(self) -> u8 {
        match self {
            Self::Speech => 0x00,
            Self::UnrestrictedDigital => 0x08,
            Self::RestrictedDigital => 0x09,
            Self::Audio3_1kHz => 0x10,
            Self::UnrestrictedDigitalWithTones => 0x11,
            Self::Video => 0x18,
            Self::Other(o) => o & 0x1F,
        }
    }
}

/// Transfer mode, octet 4 bits 6–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferMode {
    /// 00
    Circuit,
    /// 10
    Packet,
    /// 01 or 11 (reserved), kept as received.
    Other(u8),
}

impl TransferMode {
    pub const fn from_bits(b: u8) -> Self {
        match b & 0x03 {
            0 => Self::Circuit,
            2 => Self::Packet,
            o => Self::Other(o),
        }
    }
    pub const fn bits(self) -> u8 {
        match self {
            Self::Circuit => 0,
            Self::Packet => 2,
            Self::Other(o) => o & 0x03,
        }
    }
}

/// Information transfer rate, octet 4 bits 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InfoTransferRate {
    /// 00000: packet mode.
    Packet,
    /// 10000
    Kbit64,
    /// 10001
    Kbit2x64,
    /// 10011
    Kbit384,
    /// 10101
    Kbit1536,
    /// 10111
    Kbit1920,
    /// 11000: multirate, octet 4.1 carries the multiplier.
    Multirate,
    /// Any other code point.
    Other(u8),
}

impl InfoTransferRate {
    pub const fn from_bits(b: u8) -> Self {
        match b & 0x1F {
            0x00 => Self::Packet,
            0x10 => Self::Kbit64,
            0x11 => Self::Kbit2x64,
            0x13 => Self::Kbit384,
            0x15 => Self::Kbit1536,
            0x17 => Self::Kbit1920,
            0x18 => Self::Multirate,
            o => Self::Other(o),
        }
    }
    pub const fn bits(self) -> u8 {
        match self {
            Self::Packet => 0x00,
            Self::Kbit64 => 0x10,
            Self::Kbit2x64 => 0x11,
            Self::Kbit384 => 0x13,
            Self::Kbit1536 => 0x15,
            Self::Kbit1920 => 0x17,
            Self::Multirate => 0x18,
            Self::Other(o) => o & 0x1F,
        }
    }
}

/// User information layer 1 protocol, octet 5 bits 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer1Protocol {
    /// 00001: ITU-T V.110 / I.460 / X.30 rate adaption.
    V110,
    /// 00010: G.711 µ-law (T1).
    G711MuLaw,
    /// 00011: G.711 A-law (E1).
    G711ALaw,
    /// 00100: G.721 32 kbit/s ADPCM and I.460.
    G721,
    /// 00101: H.221 and H.242.
    H221,
    /// 00110: H.223 and H.245.
    H223,
    /// 00111: non-ITU-T standardized rate adaption.
    NonItuRateAdaption,
    /// 01000: V.120.
    V120,
    /// 01001: X.31 HDLC flag stuffing.
    X31,
    Other(u8),
}

impl Layer1Protocol {
    pub const fn from_bits(b: u8) -> Self {
        match b & 0x1F {
            1 => Self::V110,
            2 => Self::G711MuLaw,
            3 => Self::G711ALaw,
            4 => Self::G721,
            5 => Self::H221,
            6 => Self::H223,
            7 => Self::NonItuRateAdaption,
            8 => Self::V120,
            9 => Self::X31,
            o => Self::Other(o),
        }
    }
    pub const fn bits(self) -> u8 {
        match self {
            Self::V110 => 1,
            Self::G711MuLaw => 2,
            Self::G711ALaw => 3,
            Self::G721 => 4,
            Self::H221 => 5,
            Self::H223 => 6,
            Self::NonItuRateAdaption => 7,
            Self::V120 => 8,
            Self::X31 => 9,
            Self::Other(o) => o & 0x1F,
        }
    }
}

/// One "user information layer N protocol" octet group (octet 5, 6 or 7 and their
/// extension octets a, b, ...), kept with the extension octets as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerInfo {
    /// The protocol code (bits 1–5 of octet 5/6/7).
    pub protocol: u8,
    /// Extension octets (5a–5d, 6a, 7a–7b) exactly as received, extension bits included.
    pub extension: Vec<u8>,
}

impl LayerInfo {
    pub fn new(protocol: u8) -> Self {
        LayerInfo {
            protocol: protocol & 0x1F,
            extension: Vec::new(),
        }
    }
}

/// Bearer capability, Q.931 §4.5.5.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BearerCapability {
    pub coding_standard: CodingStandard,
    pub capability: InfoTransferCapability,
    pub transfer_mode: TransferMode,
    pub rate: InfoTransferRate,
    /// Octet 4.1, present for [`InfoTransferRate::Multirate`].
    pub rate_multiplier: Option<u8>,
    /// Octet 5 group.
    pub layer1: Option<LayerInfo>,
    /// Octet 6 group.
    pub layer2: Option<LayerInfo>,
    /// Octet 7 group.
    pub layer3: Option<LayerInfo>,
}

impl BearerCapability {
    /// Circuit-mode 64 kbit/s speech with the given G.711 law: the usual telephony bearer.
    pub fn speech(law: Layer1Protocol) -> Self {
        Self::circuit_64k(InfoTransferCapability::Speech, Some(law))
    }

    /// Circuit-mode 64 kbit/s 3.1 kHz audio with the given G.711 law.
    pub fn audio_3_1khz(law: Layer1Protocol) -> Self {
        Self::circuit_64k(InfoTransferCapability::Audio3_1kHz, Some(law))
    }

    /// Circuit-mode 64 kbit/s unrestricted digital information (no layer 1 octet).
    pub fn unrestricted_digital() -> Self {
        Self::circuit_64k(InfoTransferCapability::UnrestrictedDigital, None)
    }

    /// Circuit mode, 64 kbit/s, ITU-T coding, with an optional layer 1 protocol.
    pub fn circuit_64k(capability: InfoTransferCapability, layer1: Option<Layer1Protocol>) -> Self {
        BearerCapability {
            coding_standard: CodingStandard::ItuT,
            capability,
            transfer_mode: TransferMode::Circuit,
            rate: InfoTransferRate::Kbit64,
            rate_multiplier: None,
            layer1: layer1.map(|l| LayerInfo::new(l.bits())),
            layer2: None,
            layer3: None,
        }
    }

    /// The layer 1 protocol of octet 5, if present.
    pub fn layer1_protocol(&self) -> Option<Layer1Protocol> {
        self.layer1
            .as_ref()
            .map(|l| Layer1Protocol::from_bits(l.protocol))
    }
}

impl IeCodec for BearerCapability {
    const ID: IeId = IeId::BEARER_CAPABILITY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "information transfer capability")?;
        if o3 & 0x80 == 0 {
            // No extension octet 3a is defined for the bearer capability.
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        let o4 = o.next("4", "information transfer rate")?;
        if o4 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "4",
                field: "extension bit",
                value: o4,
            });
        }
        let rate = InfoTransferRate::from_bits(o4);
        let rate_multiplier = if rate == InfoTransferRate::Multirate {
            let m = o.next("4.1", "rate multiplier")?;
            if m & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "4.1",
                    field: "extension bit",
                    value: m,
                });
            }
            Some(m & 0x7F)
        } else {
            None
        };
        let mut bc = BearerCapability {
            coding_standard: CodingStandard::from_bits(o3 >> 5),
            capability: InfoTransferCapability::from_bits(o3),
            transfer_mode: TransferMode::from_bits(o4 >> 5),
            rate,
            rate_multiplier,
            layer1: None,
            layer2: None,
            layer3: None,
        };
        // Octets 5, 6, 7: each group starts with a layer identifier in bits 6-7, in
        // ascending order, each optional.
        let mut last_layer = 0u8;
        while let Some(b) = o.peek() {
            let (octet, name): (&'static str, &'static str) = match (b >> 5) & 0x03 {
                1 => ("5", "layer 1 identifier"),
                2 => ("6", "layer 2 identifier"),
                3 => ("7", "layer 3 identifier"),
                _ => ("5", "layer identifier"),
            };
            let layer = (b >> 5) & 0x03;
            if layer == 0 || layer <= last_layer {
                return Err(IeError::InvalidValue {
                    octet,
                    field: name,
                    value: b,
                });
            }
            last_layer = layer;
            let group = o.ext_group(octet)?;
            let info = LayerInfo {
                protocol: group[0] & 0x1F,
                extension: group[1..].to_vec(),
            };
            match layer {
                1 => bc.layer1 = Some(info),
                2 => bc.layer2 = Some(info),
                _ => bc.layer3 = Some(info),
            }
        }
        Ok(bc)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x80 | self.coding_standard.bits() << 5 | self.capability.bits());
        out.push(0x80 | self.transfer_mode.bits() << 5 | self.rate.bits());
        if let Some(m) = self.rate_multiplier {
            out.push(0x80 | (m & 0x7F));
        }
        for (id, layer) in [(1u8, &self.layer1), (2, &self.layer2), (3, &self.layer3)] {
            if let Some(l) = layer {
                out.push(ext(id << 5 | (l.protocol & 0x1F), l.extension.is_empty()));
                out.extend_from_slice(&l.extension);
            }
        }
    }
}
