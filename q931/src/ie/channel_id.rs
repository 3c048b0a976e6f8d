//! Channel identification, Q.931 §4.5.13 (identifier 0x18).
//!
//! ```text
//! octet 3   ext | int. id present | int. type | spare | pref/excl | D-chan | selection (2)
//! octet 3.1 interface identifier (extension-bit terminated), when "int. id present"
//! octet 3.2 ext | coding standard (2) | number/map | channel type / map element type (4)
//! octet 3.3 channel number(s) (ext bit 1 on the last) or a slot map (T1: 3 octets, E1: 4)
//! ```
//! Octets 3.2 and 3.3 are used on primary rate (and other non-basic) interfaces when the
//! channel is "as indicated in the following octets".

use super::{ext, CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// Octet 3 bit 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterfaceType {
    /// 0: basic interface (BRI).
    Basic,
    /// 1: other interface, e.g. primary rate (PRI).
    Primary,
}

/// Information channel selection, octet 3 bits 1–2, read with the interface type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelSelection {
    /// 00: no channel.
    NoChannel,
    /// Basic 01: B1 channel.
    B1,
    /// Basic 10: B2 channel.
    B2,
    /// Primary 01: as indicated in the following octets (3.2, 3.3).
    Indicated,
    /// Primary 10: reserved.
    Reserved,
    /// 11: any channel.
    Any,
}

impl ChannelSelection {
    const fn from_bits(bits: u8, t: InterfaceType) -> Self {
        match (bits & 0x03, t) {
            (0, _) => Self::NoChannel,
            (1, InterfaceType::Basic) => Self::B1,
            (2, InterfaceType::Basic) => Self::B2,
            (1, InterfaceType::Primary) => Self::Indicated,
            (2, InterfaceType::Primary) => Self::Reserved,
            _ => Self::Any,
        }
    }
    const fn bits(self) -> u8 {
        match self {
            Self::NoChannel => 0,
            Self::B1 | Self::Indicated => 1,
            Self::B2 | Self::Reserved => 2,
            Self::Any => 3,
        }
    }
}

/// Channel type / map element type, octet 3.2 bits 1–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// 0011: B-channel units.
    BChannel,
    /// 0110: H0-channel units.
    H0,
    /// 1000: H11-channel units.
    H11,
    /// 1001: H12-channel units.
    H12,
    Other(u8),
}

impl ChannelType {
    const fn from_bits(b: u8) -> Self {
        match b & 0x0F {
            3 => Self::BChannel,
            6 => Self::H0,
            8 => Self::H11,
            9 => Self::H12,
            o => Self::Other(o),
        }
    }
    const fn bits(self) -> u8 {
        match self {
            Self::BChannel => 3,
            Self::H0 => 6,
            Self::H11 => 8,
            Self::H12 => 9,
            Self::Other(o) => o & 0x0F,
        }
    }
}

/// Octets 3.2 and 3.3: which channels, by number or by slot map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelList {
    pub coding_standard: CodingStandard,
    pub channel_type: ChannelType,
    /// `false`: channel numbers (octet 3.2 bit 5 = 0); `true`: slot map.
    pub is_map: bool,
    /// Channel numbers (7 bits each, extension bits removed), or the slot map octets as
    /// received (T1: 3 octets, E1: 4).
    pub channels: Vec<u8>,
}

/// The two slot map sizes of octet 3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotMapKind {
    /// 4 octets; bit n (counting from bit 1 of the last octet as 0) is timeslot n.
    E1,
    /// 3 octets; bit n is channel n + 1.
    T1,
}

impl ChannelList {
    /// The channels designated, ascending: the numbers themselves, or those a slot map
    /// marks (read as a big-endian integer: 4 octets = E1, bit n = timeslot n; 3 octets =
    /// T1, bit n = channel n + 1; as libpri reads it).
    pub fn channel_numbers(&self) -> Vec<u8> {
        if !self.is_map {
            return self.channels.clone();
        }
        let map = self
            .channels
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let offset = if self.channels.len() >= 4 { 0 } else { 1 };
        let bits = (self.channels.len().min(8) * 8) as u8;
        (0..bits)
            .filter(|b| map & (1u64 << b) != 0)
            .map(|b| b + offset)
            .collect()
    }
}

/// Channel identification, Q.931 §4.5.13.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelId {
    pub interface_type: InterfaceType,
    /// Octet 3.1 as received (extension bits included), when the interface is explicitly
    /// identified (NI-2 non-facility-associated signalling uses this).
    pub interface_id: Option<Vec<u8>>,
    /// Octet 3 bit 4: `true` = exclusive (only this channel is acceptable), `false` =
    /// preferred.
    pub exclusive: bool,
    /// Octet 3 bit 3: the channel identified is the D-channel.
    pub d_channel: bool,
    pub selection: ChannelSelection,
    /// Octets 3.2 and 3.3.
    pub channels: Option<ChannelList>,
}

impl ChannelId {
    /// One B-channel of a primary rate interface (E1 timeslot 1–15/17–31 numbering, or T1
    /// channel 1–24), implicit interface.
    pub fn primary(channel: u8, exclusive: bool) -> Self {
        ChannelId {
            interface_type: InterfaceType::Primary,
            interface_id: None,
            exclusive,
            d_channel: false,
            selection: ChannelSelection::Indicated,
            channels: Some(ChannelList {
                coding_standard: CodingStandard::ItuT,
                channel_type: ChannelType::BChannel,
                is_map: false,
                channels: vec![channel & 0x7F],
            }),
        }
    }

    /// Several B-channels of a primary rate interface as a slot map (octet 3.2 bit 5 = 1).
    /// E1 channels are timeslots 1–31, T1 channels 1–24; others are left out.
    pub fn primary_slot_map(channels: &[u8], kind: SlotMapKind, exclusive: bool) -> Self {
        let (octets, offset, max) = match kind {
            SlotMapKind::E1 => (4usize, 0u8, 31u8),
            SlotMapKind::T1 => (3, 1, 24),
        };
        let mut map = 0u32;
        for &c in channels {
            if c >= offset.max(1) && c <= max {
                map |= 1 << (c - offset);
            }
        }
        let bytes = map.to_be_bytes();
        ChannelId {
            channels: Some(ChannelList {
                coding_standard: CodingStandard::ItuT,
                channel_type: ChannelType::BChannel,
                is_map: true,
                channels: bytes[4 - octets..].to_vec(),
            }),
            ..Self::primary(0, exclusive)
        }
    }

    /// "Any channel" on a primary rate interface.
    pub fn primary_any() -> Self {
        ChannelId {
            interface_type: InterfaceType::Primary,
            interface_id: None,
            exclusive: false,
            d_channel: false,
            selection: ChannelSelection::Any,
            channels: None,
        }
    }

    /// No channel (e.g. a RESTART of the whole interface, or call waiting).
    pub fn primary_none() -> Self {
        ChannelId {
            selection: ChannelSelection::NoChannel,
            ..Self::primary_any()
        }
    }

    /// A B-channel of a basic rate interface (1 or 2; anything else means "any").
    pub fn basic(b: u8, exclusive: bool) -> Self {
        ChannelId {
            interface_type: InterfaceType::Basic,
            interface_id: None,
            exclusive,
            d_channel: false,
            selection: match b {
                1 => ChannelSelection::B1,
                2 => ChannelSelection::B2,
                _ => ChannelSelection::Any,
            },
            channels: None,
        }
    }

    /// Sets an explicit one-octet interface identifier (octet 3.1), e.g. for NI-2 NFAS.
    pub fn with_interface_id(mut self, id: u8) -> Self {
        self.interface_id = Some(vec![0x80 | (id & 0x7F)]);
        self
    }

    /// The single channel number, if exactly one number is given (B1/B2 on basic rate count
    /// as 1 and 2).
    pub fn channel_number(&self) -> Option<u8> {
        match self.selection {
            ChannelSelection::B1 => Some(1),
            ChannelSelection::B2 => Some(2),
            ChannelSelection::Indicated => match &self.channels {
                Some(l) if !l.is_map && l.channels.len() == 1 => l.channels.first().copied(),
                _ => None,
            },
            _ => None,
        }
    }
}

impl IeCodec for ChannelId {
    const ID: IeId = IeId::CHANNEL_ID;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "channel selection")?;
        if o3 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        let interface_type = if o3 & 0x20 != 0 {
            InterfaceType::Primary
        } else {
            InterfaceType::Basic
        };
        let interface_id = if o3 & 0x40 != 0 {
            Some(o.ext_group("3.1")?.to_vec())
        } else {
            None
        };
        let selection = ChannelSelection::from_bits(o3, interface_type);
        let channels = if interface_type == InterfaceType::Primary && !o.is_empty() {
            let o32 = o.next("3.2", "channel type")?;
            if o32 & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "3.2",
                    field: "extension bit",
                    value: o32,
                });
            }
            let is_map = o32 & 0x10 != 0;
            let channels = if is_map {
                let map = o.rest();
                if map.is_empty() {
                    return Err(IeError::Missing {
                        octet: "3.3",
                        field: "slot map",
                    });
                }
                map.to_vec()
            } else {
                let group = o.ext_group("3.3")?;
                let v: Vec<u8> = group.iter().map(|b| b & 0x7F).collect();
                o.finish("3.3")?;
                v
            };
            Some(ChannelList {
                coding_standard: CodingStandard::from_bits(o32 >> 5),
                channel_type: ChannelType::from_bits(o32),
                is_map,
                channels,
            })
        } else {
            o.finish(if interface_id.is_some() { "3.1" } else { "3" })?;
            None
        };
        if selection == ChannelSelection::Indicated && channels.is_none() && o3 & 0x04 == 0 {
            return Err(IeError::Missing {
                octet: "3.2",
                field: "channel type",
            });
        }
        Ok(ChannelId {
            interface_type,
            interface_id,
            exclusive: o3 & 0x08 != 0,
            d_channel: o3 & 0x04 != 0,
            selection,
            channels,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut o3 = 0x80 | self.selection.bits();
        if self.interface_id.is_some() {
            o3 |= 0x40;
        }
        if self.interface_type == InterfaceType::Primary {
            o3 |= 0x20;
        }
        if self.exclusive {
            o3 |= 0x08;
        }
        if self.d_channel {
            o3 |= 0x04;
        }
        out.push(o3);
        if let Some(id) = &self.interface_id {
            out.extend_from_slice(id);
        }
        if let Some(l) = &self.channels {
            out.push(
                0x80 | l.coding_standard.bits() << 5
                    | if l.is_map { 0x10 } else { 0 }
                    | l.channel_type.bits(),
            );
            if l.is_map {
                out.extend_from_slice(&l.channels);
            } else {
                let n = l.channels.len();
                for (i, c) in l.channels.iter().enumerate() {
                    out.push(ext(*c, i + 1 == n));
                }
            }
        }
    }
}
