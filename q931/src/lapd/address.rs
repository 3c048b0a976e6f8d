//! The LAPD address field (ITU-T Q.921 §3.3).
//!
//! Two octets: SAPI, C/R and EA0 in the first, TEI and EA1 in the second (§3.3.1, Figure 5).

use super::frame::FrameError;

/// Service access point identifier, 6 bits (Q.921 §3.3.3, Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sapi(u8);

impl Sapi {
    /// Call control procedures (Q.931): SAPI 0.
    pub const CALL_CONTROL: Sapi = Sapi(0);
    /// Packet mode communication using Q.931 call control procedures: SAPI 1.
    pub const PACKET_MODE: Sapi = Sapi(1);
    /// Packet communication conforming to X.25 level 3 procedures: SAPI 16.
    pub const X25: Sapi = Sapi(16);
    /// Layer 2 management procedures (TEI management): SAPI 63.
    pub const MANAGEMENT: Sapi = Sapi(63);

    /// A SAPI from its 6-bit value; `None` above 63.
    pub const fn new(value: u8) -> Option<Sapi> {
        if value <= 63 {
            Some(Sapi(value))
        } else {
            None
        }
    }

    /// The 6-bit value.
    pub const fn value(self) -> u8 {
        self.0
    }
}

/// Terminal endpoint identifier, 7 bits (Q.921 §3.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tei(u8);

impl Tei {
    /// The TEI a PRI point-to-point data link uses (no TEI management on PRI).
    pub const PRI: Tei = Tei(0);
    /// The group TEI for broadcast data link connections (§3.3.4.2).
    pub const GROUP: Tei = Tei(127);

    /// A TEI from its 7-bit value; `None` above 127.
    pub const fn new(value: u8) -> Option<Tei> {
        if value <= 127 {
            Some(Tei(value))
        } else {
            None
        }
    }

    /// The 7-bit value.
    pub const fn value(self) -> u8 {
        self.0
    }
}

/// Which side of the user-network interface a data link entity is on. It decides the meaning
/// of the C/R bit (Q.921 §3.3.2, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The user side (TE, the PBX or gateway facing the public network: libpri's `PRI_CPE`).
    User,
    /// The network side (NT, the switch: libpri's `PRI_NETWORK`).
    Network,
}

impl Role {
    /// The C/R bit this side puts on a command (`true`) or a response (`false`) it sends.
    ///
    /// Q.921 §3.3.2, Table 1: commands go network→user with C/R=1 and user→network with
    /// C/R=0; responses the other way round.
    pub const fn cr_bit(self, command: bool) -> bool {
        match self {
            Role::Network => command,
            Role::User => !command,
        }
    }

    /// Whether a frame received by this side with C/R bit `cr` is a command.
    pub const fn is_command(self, cr: bool) -> bool {
        // The sender is the other side: a user receives commands with C/R=1 from the network,
        // the network receives commands with C/R=0 from the user.
        match self {
            Role::User => cr,
            Role::Network => !cr,
        }
    }

    /// The other side.
    pub const fn peer(self) -> Role {
        match self {
            Role::User => Role::Network,
            Role::Network => Role::User,
        }
    }
}

/// The address field of a LAPD frame (Q.921 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// Service access point identifier.
    pub sapi: Sapi,
    /// The C/R bit as carried (its meaning depends on the sender's [`Role`]).
    pub cr: bool,
    /// Terminal endpoint identifier.
    pub tei: Tei,
}

impl Address {
    /// Length of the address field in octets.
    pub const LEN: usize = 2;

    /// Decodes the two address octets at the start of `bytes`.
    ///
    /// Q.921 §3.3.1: EA0 (bit 1 of octet 2) must be 0, EA1 (bit 1 of octet 3) must be 1;
    /// a frame with any other extension pattern is invalid (§2.9) and is discarded.
    pub fn decode(bytes: &[u8]) -> Result<Address, FrameError> {
        let (&first, &second) = match bytes {
            [a, b, ..] => (a, b),
            _ => return Err(FrameError::TooShort { len: bytes.len() }),
        };
        if first & 0x01 != 0 || second & 0x01 != 1 {
            return Err(FrameError::AddressExtension {
                octets: [first, second],
            });
        }
        Ok(Address {
            sapi: Sapi(first >> 2),
            cr: first & 0x02 != 0,
            tei: Tei(second >> 1),
        })
    }

    /// The two address octets.
    pub const fn octets(self) -> [u8; 2] {
        [
            (self.sapi.0 << 2) | if self.cr { 0x02 } else { 0x00 },
            (self.tei.0 << 1) | 0x01,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pri_call_control_address_octets() {
        // SAPI 0, TEI 0: a network command carries C/R=1 → 0x02 0x01 (Q.921 §3.3.2).
        let network_command = Address {
            sapi: Sapi::CALL_CONTROL,
            cr: Role::Network.cr_bit(true),
            tei: Tei::PRI,
        };
        assert_eq!(network_command.octets(), [0x02, 0x01]);
        let user_command = Address {
            cr: Role::User.cr_bit(true),
            ..network_command
        };
        assert_eq!(user_command.octets(), [0x00, 0x01]);
        assert!(Role::User.is_command(network_command.cr));
        assert!(Role::Network.is_command(user_command.cr));
        assert!(!Role::Network.is_command(Role::User.cr_bit(false)));
    }

    #[test]
    fn group_tei_and_management_sapi() {
        let a = Address::decode(&[0xFC, 0xFF]).unwrap();
        assert_eq!(a.sapi, Sapi::MANAGEMENT);
        assert_eq!(a.tei, Tei::GROUP);
        assert!(!a.cr);
        assert_eq!(a.octets(), [0xFC, 0xFF]);
    }

    #[test]
    fn wrong_extension_bits_are_rejected() {
        assert!(matches!(
            Address::decode(&[0x01, 0x01]),
            Err(FrameError::AddressExtension { .. })
        ));
        assert!(matches!(
            Address::decode(&[0x00, 0x00]),
            Err(FrameError::AddressExtension { .. })
        ));
        assert!(matches!(
            Address::decode(&[0x00]),
            Err(FrameError::TooShort { len: 1 })
        ));
    }
}
