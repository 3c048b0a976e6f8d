//! Typed views over an SDP session description (RFC 8866 §5, RFC 3264, RFC 3551).

use std::fmt;
use std::net::IpAddr;

use sdp_types::{Attribute, Connection, Media, Session};
use thiserror::Error;

/// Errors reading an SDP body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    #[error("SDP does not parse: {0}")]
    Parse(String),
    #[error("SDP body is not UTF-8 text at octet {0}")]
    NotText(usize),
}

/// Media direction (RFC 3264 §5.1, RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The attribute name (`a=sendrecv` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn from_attribute(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The answerer's view of an offered direction (RFC 3264 §6.1): sendonly ↔
    /// recvonly, sendrecv and inactive unchanged.
    pub fn reverse(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction allowing only what both allow.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an m-line (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
    /// `m=image`, e.g. T.38 fax over UDPTL (ITU-T T.38 Annex D).
    Image,
    Other(String),
}

impl MediaKind {
    fn parse(s: &str) -> Self {
        match s {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "image" => MediaKind::Image,
            o => MediaKind::Other(o.to_string()),
        }
    }
}

/// One RTP payload format of an m-line (RFC 8866 §6.6 rtpmap, §6.15 fmtp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively, RFC 4855 §3).
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
    pub fmtp: Option<String>,
}

impl Codec {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The RFC 3551 Table 4 meaning of a static payload type without `a=rtpmap`.
    pub fn static_payload(pt: u8) -> Option<Codec> {
        let (name, clock_rate) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            4 => ("G723", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(Codec {
            payload_type: pt,
            name: name.to_string(),
            clock_rate,
            channels: None,
            fmtp: None,
        })
    }
}

/// The events of a telephone-event format (RFC 4733 §2.4.1 fmtp, e.g. `0-15` or
/// `0-11,16`), as a bit set of event codes 0..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvents(pub [u64; 4]);

impl TelephoneEvents {
    /// RFC 4733 §2.4.1: without fmtp, events 0–15 are assumed.
    pub const DEFAULT: TelephoneEvents = TelephoneEvents([0xFFFF, 0, 0, 0]);

    pub fn parse(list: &str) -> Option<Self> {
        let mut set = [0u64; 4];
        for part in list.split(',') {
            let part = part.trim();
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?),
                None => {
                    let v = part.parse::<u8>().ok()?;
                    (v, v)
                }
            };
            if a > b {
                return None;
            }
            for e in a..=b {
                set[e as usize / 64] |= 1 << (e % 64);
            }
        }
        Some(TelephoneEvents(set))
    }

    pub fn contains(&self, e: u8) -> bool {
        self.0[e as usize / 64] & (1 << (e % 64)) != 0
    }

    pub fn intersect(&self, other: &TelephoneEvents) -> TelephoneEvents {
        let mut s = [0u64; 4];
        for (i, v) in s.iter_mut().enumerate() {
            *v = self.0[i] & other.0[i];
        }
        TelephoneEvents(s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

impl fmt::Display for TelephoneEvents {
    /// Ranges, e.g. `0-15` or `0-11,16`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut e = 0u16;
        while e < 256 {
            if self.contains(e as u8) {
                let start = e;
                while e + 1 < 256 && self.contains((e + 1) as u8) {
                    e += 1;
                }
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                if start == e {
                    write!(f, "{start}")?;
                } else {
                    write!(f, "{start}-{e}")?;
                }
            }
            e += 1;
        }
        Ok(())
    }
}

/// `a=rtcp` (RFC 3605): the RTCP port, and address if not the RTP one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub address: Option<IpAddr>,
}

impl RtcpAttr {
    fn parse(v: &str) -> Option<Self> {
        let mut it = v.split_ascii_whitespace();
        let port = it.next()?.parse().ok()?;
        let address = match (it.next(), it.next(), it.next()) {
            (Some(_), Some(_), Some(a)) => a.parse().ok(),
            _ => None,
        };
        Some(RtcpAttr { port, address })
    }
}

/// A typed view of one m-line and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// Position among the m-lines (RFC 3264 §6: answers keep the order).
    pub index: usize,
    pub kind: MediaKind,
    pub port: u16,
    /// Transport as written (`RTP/AVP`, `udptl`, …).
    pub proto: String,
    /// The format list as written.
    pub formats: Vec<String>,
    /// RTP payload formats in offer order (static ones filled in from RFC 3551).
    pub codecs: Vec<Codec>,
    /// Media-level `c=`, else session-level; `None` if neither parses.
    pub connection: Option<IpAddr>,
    /// Media-level direction, else session-level, else sendrecv (RFC 3264 §5.1).
    pub direction: Direction,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    pub rtcp: Option<RtcpAttr>,
    /// Other attributes, as (name, value).
    pub attributes: Vec<(String, Option<String>)>,
}

impl MediaSection {
    /// Port 0: the stream is rejected or disabled (RFC 3264 §5.1, §6).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// RTP audio/video (`RTP/AVP` or `RTP/AVPF`; the secure profiles need keys we do not
    /// have).
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }

    /// `m=image <port> udptl t38`.
    pub fn is_t38(&self) -> bool {
        self.kind == MediaKind::Image
            && self.proto.eq_ignore_ascii_case("udptl")
            && self.formats.iter().any(|f| f.eq_ignore_ascii_case("t38"))
    }

    /// The first codec with this encoding name at 8 kHz.
    pub fn codec(&self, name: &str) -> Option<&Codec> {
        self.codecs
            .iter()
            .find(|c| c.is(name) && c.clock_rate == 8000)
    }

    /// The telephone-event format, with its events (RFC 4733 §2.4.1).
    pub fn telephone_event(&self) -> Option<(u8, TelephoneEvents)> {
        let c = self.codec("telephone-event")?;
        let events = match &c.fmtp {
            Some(f) => TelephoneEvents::parse(f)?,
            None => TelephoneEvents::DEFAULT,
        };
        Some((c.payload_type, events))
    }

    /// Legacy hold (RFC 2543, RFC 3264 §8.4 note): connection address 0.0.0.0.
    pub fn is_null_connection(&self) -> bool {
        matches!(self.connection, Some(IpAddr::V4(a)) if a.is_unspecified())
    }

    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// A parsed SDP body, kept whole (unknown lines and attributes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    inner: Session,
}

fn parse_connection(c: &Connection) -> Option<IpAddr> {
    // "addr/ttl/count" forms are multicast; the address is before the first '/'.
    let a = c.connection_address.split('/').next()?;
    a.parse().ok()
}

fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .rev()
        .find_map(|a| Direction::from_attribute(&a.attribute))
}

impl SessionDescription {
    /// Parse an SDP body. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, SdpError> {
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(SdpError::NotText(e.valid_up_to()));
        }
        Session::parse(bytes)
            .map(|inner| SessionDescription { inner })
            .map_err(|e| SdpError::Parse(e.to_string()))
    }

    pub fn from_session(inner: Session) -> Self {
        SessionDescription { inner }
    }

    /// The underlying `sdp-types` session.
    pub fn session(&self) -> &Session {
        &self.inner
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.inner
    }

    /// Serialise with CRLF line ends (RFC 8866 §5).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(512);
        // Writing into a Vec cannot fail.
        let _ = self.inner.write(&mut v);
        v
    }

    /// `o=` session id and version (RFC 8866 §5.2).
    pub fn origin(&self) -> (&str, u64) {
        (&self.inner.origin.sess_id, self.inner.origin.sess_version)
    }

    /// Session-level `c=` address.
    pub fn connection(&self) -> Option<IpAddr> {
        self.inner.connection.as_ref().and_then(parse_connection)
    }

    /// Session-level direction attribute, if any.
    pub fn session_direction(&self) -> Option<Direction> {
        direction_of(&self.inner.attributes)
    }

    /// Typed views of every m-line, in order.
    pub fn media(&self) -> Vec<MediaSection> {
        self.inner
            .medias
            .iter()
            .enumerate()
            .map(|(i, m)| self.section(i, m))
            .collect()
    }

    fn section(&self, index: usize, m: &Media) -> MediaSection {
        let formats: Vec<String> = m.fmt.split_ascii_whitespace().map(str::to_string).collect();
        let mut codecs = Vec::new();
        let rtp = m.proto.to_ascii_uppercase().contains("RTP");
        if rtp {
            for f in &formats {
                let Ok(pt) = f.parse::<u8>() else { continue };
                if pt > 127 {
                    continue;
                }
                let rtpmap = m.attributes.iter().find_map(|a| {
                    if !a.attribute.eq_ignore_ascii_case("rtpmap") {
                        return None;
                    }
                    let v = a.value.as_deref()?;
                    let (p, rest) = v.split_once(char::is_whitespace)?;
                    if p.parse::<u8>().ok()? != pt {
                        return None;
                    }
                    let mut parts = rest.trim().split('/');
                    let name = parts.next()?.to_string();
                    let clock_rate = parts.next()?.trim().parse().ok()?;
                    let channels = parts.next().and_then(|c| c.trim().parse().ok());
                    Some((name, clock_rate, channels))
                });
                let fmtp = m.attributes.iter().find_map(|a| {
                    if !a.attribute.eq_ignore_ascii_case("fmtp") {
                        return None;
                    }
                    let v = a.value.as_deref()?;
                    let (p, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
                    (p.parse::<u8>().ok()? == pt).then(|| rest.trim().to_string())
                });
                let codec = match rtpmap {
                    Some((name, clock_rate, channels)) => Some(Codec {
                        payload_type: pt,
                        name,
                        clock_rate,
                        channels,
                        fmtp: None,
                    }),
                    None => Codec::static_payload(pt),
                };
                if let Some(mut c) = codec {
                    c.fmtp = fmtp;
                    codecs.push(c);
                }
            }
        }
        let connection = m
            .connections
            .first()
            .and_then(parse_connection)
            .or_else(|| self.connection());
        let direction = direction_of(&m.attributes)
            .or_else(|| self.session_direction())
            .unwrap_or(Direction::SendRecv);
        let num = |name: &str| {
            m.attributes
                .iter()
                .find(|a| a.attribute.eq_ignore_ascii_case(name))
                .and_then(|a| a.value.as_deref())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| *v >= 0.0 && *v < 1e6)
                .map(|v| v as u32)
        };
        let rtcp = m
            .attributes
            .iter()
            .find(|a| a.attribute.eq_ignore_ascii_case("rtcp"))
            .and_then(|a| a.value.as_deref())
            .and_then(RtcpAttr::parse);
        MediaSection {
            index,
            kind: MediaKind::parse(&m.media),
            port: m.port,
            proto: m.proto.clone(),
            formats,
            codecs,
            connection,
            direction,
            ptime: num("ptime"),
            maxptime: num("maxptime"),
            rtcp,
            attributes: m
                .attributes
                .iter()
                .map(|a| (a.attribute.clone(), a.value.clone()))
                .collect(),
        }
    }
}
