//! Identifiers carried in H.225.0 messages: call identifier and conference identifier
//! (H.225.0 §7.6: 16-octet GUIDs), aliases and transport addresses.

use std::net::{Ipv4Addr, SocketAddrV4};

use h323_asn1::h225 as asn;
use h323_asn1::rasn::types::{
    BmpString, FixedOctetString, Ia5String, ObjectIdentifier, OctetString,
};

/// A 16-octet GloballyUniqueID (H.225.0 §7.6), used as CallIdentifier and
/// ConferenceIdentifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub fn to_asn(self) -> asn::GloballyUniqueID {
        asn::GloballyUniqueID(FixedOctetString::new(self.0))
    }

    pub fn from_asn(g: &asn::GloballyUniqueID) -> Self {
        let mut b = [0u8; 16];
        b.copy_from_slice(&g.0[..]);
        Self(b)
    }

    pub fn call_identifier(self) -> asn::CallIdentifier {
        asn::CallIdentifier::new(self.to_asn())
    }

    pub fn conference_identifier(self) -> asn::ConferenceIdentifier {
        asn::ConferenceIdentifier(self.to_asn())
    }
}

/// H.225.0 protocol identifier `{itu-t(0) recommendation(0) h(8) 2250 version(0) v}`.
pub fn protocol_identifier(version: u32) -> asn::ProtocolIdentifier {
    asn::ProtocolIdentifier(ObjectIdentifier::new_unchecked(
        vec![0, 0, 8, 2250, 0, version].into(),
    ))
}

/// The version number of a protocol identifier (its last arc), if it is H.225.0's.
pub fn protocol_version(id: &asn::ProtocolIdentifier) -> Option<u32> {
    let arcs: &[u32] = &id.0;
    match arcs {
        [0, 0, 8, 2250, 0, v] => Some(*v),
        _ => None,
    }
}

/// The alias forms a gateway uses (H.225.0 §7.6 AliasAddress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alias {
    /// `dialledDigits`: 0-9, #, * and ','.
    Dialled(String),
    /// `h323-ID`: a BMP string.
    H323Id(String),
    /// `url-ID`.
    Url(String),
    /// `email-ID`.
    Email(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alias {0:?} cannot be encoded (empty, too long or characters outside its alphabet)")]
pub struct BadAlias(pub Alias);

impl Alias {
    pub fn to_asn(&self) -> Result<asn::AliasAddress, BadAlias> {
        let bad = || BadAlias(self.clone());
        Ok(match self {
            Alias::Dialled(s) => {
                if s.is_empty()
                    || s.len() > 128
                    || !s.bytes().all(|c| c.is_ascii_digit() || b"#*,".contains(&c))
                {
                    return Err(bad());
                }
                asn::AliasAddress::dialledDigits(
                    Ia5String::try_from(s.as_str()).map_err(|_| bad())?,
                )
            }
            Alias::H323Id(s) => {
                if s.is_empty() || s.encode_utf16().count() > 256 {
                    return Err(bad());
                }
                {
                    // rasn builds a BMPString from UCS-2 big-endian octets.
                    let ucs2: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
                    asn::AliasAddress::h323_ID(
                        BmpString::try_from(ucs2.as_slice()).map_err(|_| bad())?,
                    )
                }
            }
            Alias::Url(s) | Alias::Email(s) => {
                if s.is_empty() || s.len() > 512 {
                    return Err(bad());
                }
                let ia5 = Ia5String::try_from(s.as_str()).map_err(|_| bad())?;
                if matches!(self, Alias::Url(_)) {
                    asn::AliasAddress::url_ID(ia5)
                } else {
                    asn::AliasAddress::email_ID(ia5)
                }
            }
        })
    }

    /// The forms above; other alias kinds (transportID, partyNumber, ...) give `None`.
    pub fn from_asn(a: &asn::AliasAddress) -> Option<Self> {
        Some(match a {
            asn::AliasAddress::dialledDigits(s) => Alias::Dialled(s.to_string()),
            asn::AliasAddress::h323_ID(s) => {
                Alias::H323Id(String::from_utf16_lossy(&s.clone().into_vec()))
            }
            asn::AliasAddress::url_ID(s) => Alias::Url(s.to_string()),
            asn::AliasAddress::email_ID(s) => Alias::Email(s.to_string()),
            _ => return None,
        })
    }
}

pub(crate) fn aliases_to_asn(
    aliases: &[Alias],
) -> Result<Option<Vec<asn::AliasAddress>>, BadAlias> {
    if aliases.is_empty() {
        return Ok(None);
    }
    aliases
        .iter()
        .map(Alias::to_asn)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The aliases of an alias list we can represent (see [`Alias::from_asn`]).
pub fn aliases_from_asn_pub(aliases: Option<&Vec<asn::AliasAddress>>) -> Vec<Alias> {
    aliases_from_asn(aliases)
}

pub(crate) fn aliases_from_asn(aliases: Option<&Vec<asn::AliasAddress>>) -> Vec<Alias> {
    aliases
        .map(|v| v.iter().filter_map(Alias::from_asn).collect())
        .unwrap_or_default()
}

/// An IPv4 TransportAddress (H.225.0 §7.6 `ipAddress`).
pub fn transport_address(addr: SocketAddrV4) -> asn::TransportAddress {
    asn::TransportAddress::ipAddress(asn::TransportAddressIpAddress::new(
        OctetString::from(addr.ip().octets().to_vec()),
        addr.port(),
    ))
}

/// The IPv4 socket address of a TransportAddress, if it is one.
pub fn socket_addr(t: &asn::TransportAddress) -> Option<SocketAddrV4> {
    match t {
        asn::TransportAddress::ipAddress(a) if a.ip.len() == 4 => Some(SocketAddrV4::new(
            Ipv4Addr::new(a.ip[0], a.ip[1], a.ip[2], a.ip[3]),
            a.port,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h323_id_is_ucs2() {
        let a = Alias::H323Id("gw-ä".into());
        let asn = a.to_asn().unwrap();
        let asn::AliasAddress::h323_ID(bmp) = &asn else {
            panic!()
        };
        assert_eq!(bmp.clone().into_vec(), vec![0x67, 0x77, 0x2D, 0xE4]);
        assert_eq!(Alias::from_asn(&asn), Some(a));
    }

    #[test]
    fn dialled_digits_alphabet() {
        assert!(Alias::Dialled("12#*,3".into()).to_asn().is_ok());
        assert!(Alias::Dialled("12a".into()).to_asn().is_err());
        assert!(Alias::Dialled(String::new()).to_asn().is_err());
    }

    #[test]
    fn guid_and_protocol_identifier() {
        let g = Guid([7; 16]);
        assert_eq!(Guid::from_asn(&g.to_asn()), g);
        assert_eq!(protocol_version(&protocol_identifier(4)), Some(4));
        let sa: SocketAddrV4 = "192.0.2.1:1720".parse().unwrap();
        assert_eq!(socket_addr(&transport_address(sa)), Some(sa));
    }
}
