//! The offer/answer engine (RFC 3264) for a trunk-facing G.711 gateway.
//!
//! - Offers list our laws in the span's preference (E1: PCMA then PCMU; T1: PCMU then
//!   PCMA), telephone-event (RFC 4733) and `a=ptime:20`.
//! - Answers keep every offered m-line in order (RFC 3264 §6); the first audio stream with
//!   a law we support is accepted (our preference among the offered ones), the rest get
//!   port 0. `m=image … udptl t38` is accepted only when T.38 is enabled.
//! - Directions mirror the offer (§6.1: sendonly → recvonly, recvonly → sendonly,
//!   inactive → inactive), restricted by our own wish (we may be holding).
//! - Re-offers with `a=sendonly`/`a=inactive` or the legacy `c=0.0.0.0` (RFC 3264 §8.4)
//!   are reported as hold, their reversal as resume; an offer whose `o=` version did not
//!   change is answered with our previous SDP unchanged (§8).
//! - Each new SDP we emit carries `o=` version + 1 (§8).

use std::net::{IpAddr, SocketAddr};

use sdp_types::{Attribute, Connection, Media, Origin, Session, Time};
use thiserror::Error;

use super::description::{Direction, MediaKind, MediaSection, SessionDescription, TelephoneEvents};
use crate::media::Law;
use crate::rtp::PayloadType;

/// Errors of the negotiation. The SIP layer answers an offer that fails with 488.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OfferAnswerError {
    #[error("an answer arrived but no offer of ours is pending")]
    NoOfferPending,
    #[error("the answer has {answered} m-lines, the offer had {offered} (RFC 3264 §6)")]
    MediaCountMismatch { offered: usize, answered: usize },
    #[error("no common codec: none of {offered:?} is a law we support")]
    NoCommonCodec { offered: Vec<String> },
    #[error("m-line {0} has no usable connection address")]
    NoConnectionAddress(usize),
}

/// What we can do, per trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCapabilities {
    /// Our media address (in `o=` and `c=`).
    pub address: IpAddr,
    /// Laws in preference order.
    pub laws: Vec<Law>,
    /// Dynamic payload type for telephone-event in our offers (`None`: not offered and
    /// not accepted).
    pub telephone_event_pt: Option<u8>,
    /// Events we handle (DTMF 0–15 and flash 16).
    pub telephone_events: TelephoneEvents,
    /// Packet time we want to receive, ms.
    pub ptime: u32,
    /// Port for T.38 UDPTL if T.38 is supported.
    pub t38_port: Option<u16>,
    /// `o=` username.
    pub username: String,
}

impl LocalCapabilities {
    /// Defaults for a span of `law`: that law first, the other second (so A↔µ
    /// conversion is possible), telephone-event 101 with events 0–16, ptime 20, no T.38.
    pub fn for_span_law(address: IpAddr, law: Law) -> Self {
        let other = match law {
            Law::ALaw => Law::MuLaw,
            Law::MuLaw => Law::ALaw,
        };
        LocalCapabilities {
            address,
            laws: vec![law, other],
            telephone_event_pt: Some(101),
            telephone_events: TelephoneEvents([0x1FFFF, 0, 0, 0]),
            ptime: 20,
            t38_port: None,
            username: "gateway".to_string(),
        }
    }
}

/// The negotiated audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStream {
    /// Index of the m-line.
    pub index: usize,
    /// Where to send RTP (`None` while the peer's address is 0.0.0.0 or port 0).
    pub remote: Option<SocketAddr>,
    /// Where to send RTCP (RFC 3605 `a=rtcp`, else RTP port + 1, RFC 3550 §11).
    pub remote_rtcp: Option<SocketAddr>,
    pub law: Law,
    pub payload_type: PayloadType,
    /// telephone-event payload type and the events both sides support.
    pub telephone_event: Option<(PayloadType, TelephoneEvents)>,
    /// Packet time the peer asked to receive (its `a=ptime`), else 20.
    pub send_ptime: u32,
    /// What we may do: send and/or receive.
    pub direction: Direction,
}

/// A T.38 stream accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T38Stream {
    pub index: usize,
    pub remote: Option<SocketAddr>,
}

/// The result of one offer/answer exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub audio: Option<AudioStream>,
    pub t38: Option<T38Stream>,
    /// The peer put us on hold (sendonly/inactive or c=0.0.0.0 in its SDP).
    pub remote_hold: bool,
    /// The peer's SDP had the same `o=` version as before: nothing changed (RFC 3264 §8).
    pub unchanged: bool,
}

/// Hold state transitions seen in a re-offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldChange {
    Held,
    Resumed,
}

/// One dialog's SDP negotiation state.
#[derive(Debug, Clone)]
pub struct OfferAnswer {
    caps: LocalCapabilities,
    local_port: u16,
    session_id: u64,
    version: u64,
    emitted: bool,
    local_direction: Direction,
    pending_offer: Option<SessionDescription>,
    /// Our last offer that got an answer: a later answer to it (a 200 OK after an
    /// early-media 183, possibly from another fork) replaces the first one.
    answered_offer: Option<SessionDescription>,
    last_local: Option<SessionDescription>,
    last_remote_origin: Option<(String, u64)>,
    negotiated: Option<Negotiated>,
}

impl OfferAnswer {
    /// `local_port` is our RTP port (RTCP on the next one).
    pub fn new(caps: LocalCapabilities, local_port: u16) -> Self {
        let start = crate::rtp::RandomStart::new();
        // RFC 8866 §5.2: a numeric session id; NTP-like values are customary.
        let session_id = start.ssrc.0 as u64;
        OfferAnswer {
            caps,
            local_port,
            session_id,
            version: session_id,
            emitted: false,
            local_direction: Direction::SendRecv,
            pending_offer: None,
            answered_offer: None,
            last_local: None,
            last_remote_origin: None,
            negotiated: None,
        }
    }

    pub fn capabilities(&self) -> &LocalCapabilities {
        &self.caps
    }

    /// The result of the last completed exchange.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Whether an offer of ours waits for its answer.
    pub fn has_pending_offer(&self) -> bool {
        self.pending_offer.is_some()
    }

    /// The direction of our last offer (sendrecv until one was made).
    pub fn local_direction(&self) -> Direction {
        self.local_direction
    }

    /// Our last SDP (offer or answer).
    pub fn local_description(&self) -> Option<&SessionDescription> {
        self.last_local.as_ref()
    }

    pub fn set_local_port(&mut self, port: u16) {
        self.local_port = port;
    }

    fn next_version(&mut self) -> u64 {
        if self.emitted {
            self.version += 1;
        }
        self.emitted = true;
        self.version
    }

    fn session(&mut self, medias: Vec<Media>) -> Session {
        let version = self.next_version();
        let mut origin = Origin::with_ip_addr(self.session_id, version, self.caps.address);
        origin.set_username(&self.caps.username);
        Session {
            origin,
            session_name: "-".to_string(),
            session_description: None,
            uri: None,
            emails: vec![],
            phones: vec![],
            connection: Some(Connection::from_ip_addr(self.caps.address)),
            bandwidths: vec![],
            times: vec![Time::new(0, 0)],
            time_zones: vec![],
            key: None,
            attributes: vec![],
            medias,
        }
    }

    fn media(kind: &str, port: u16, proto: &str, fmt: String, attributes: Vec<Attribute>) -> Media {
        Media {
            media: kind.to_string(),
            port,
            num_ports: None,
            proto: proto.to_string(),
            fmt,
            media_title: None,
            connections: vec![],
            bandwidths: vec![],
            key: None,
            attributes,
        }
    }

    /// Build an offer (initial, or a re-offer: `direction` sendonly/inactive puts the
    /// peer on hold, sendrecv resumes).
    pub fn create_offer(&mut self, direction: Direction) -> SessionDescription {
        self.local_direction = direction;
        let mut fmt = Vec::new();
        let mut attrs = Vec::new();
        for law in &self.caps.laws {
            fmt.push(law.rtp_payload_type().to_string());
            attrs.push(Attribute::with_value(
                "rtpmap",
                format!("{} {}/8000", law.rtp_payload_type(), law.encoding_name()),
            ));
        }
        if let Some(pt) = self.caps.telephone_event_pt {
            fmt.push(pt.to_string());
            attrs.push(Attribute::with_value(
                "rtpmap",
                format!("{pt} telephone-event/8000"),
            ));
            attrs.push(Attribute::with_value(
                "fmtp",
                format!("{pt} {}", self.caps.telephone_events),
            ));
        }
        attrs.push(Attribute::with_value("ptime", self.caps.ptime.to_string()));
        attrs.push(Attribute::new(direction.as_str()));
        let audio = Self::media("audio", self.local_port, "RTP/AVP", fmt.join(" "), attrs);
        let sdp = SessionDescription::from_session(self.session(vec![audio]));
        self.pending_offer = Some(sdp.clone());
        self.last_local = Some(sdp.clone());
        sdp
    }

    /// Process the answer to our pending offer.
    pub fn handle_answer(
        &mut self,
        answer: &SessionDescription,
    ) -> Result<(Negotiated, Option<HoldChange>), OfferAnswerError> {
        let offer = self
            .pending_offer
            .take()
            .or_else(|| self.answered_offer.take())
            .ok_or(OfferAnswerError::NoOfferPending)?;
        self.answered_offer = Some(offer.clone());
        let offered = offer.media();
        let answered = answer.media();
        if offered.len() != answered.len() {
            return Err(OfferAnswerError::MediaCountMismatch {
                offered: offered.len(),
                answered: answered.len(),
            });
        }
        let mut audio = None;
        for (o, a) in offered.iter().zip(&answered) {
            if o.kind != MediaKind::Audio || a.is_rejected() || audio.is_some() {
                continue;
            }
            // The answerer's order is its preference among what we offered.
            let Some((law, codec)) = a.codecs.iter().find_map(|c| {
                self.caps
                    .laws
                    .iter()
                    .find(|l| c.is(l.encoding_name()) && c.clock_rate == 8000)
                    .map(|l| (*l, c))
            }) else {
                continue;
            };
            let te = self.accept_telephone_event(a, o.telephone_event().map(|t| t.0));
            audio = Some(self.audio_stream(
                a,
                law,
                codec.payload_type,
                te,
                self.local_direction.intersect(a.direction.reverse()),
            ));
        }
        let Some(audio) = audio else {
            return Err(OfferAnswerError::NoCommonCodec {
                offered: answered.iter().flat_map(|m| m.formats.clone()).collect(),
            });
        };
        // An answer does not start or end a hold by the peer (RFC 3264 §8.4 puts that
        // in offers); only the legacy null address is taken as it comes.
        let was = self.negotiated.as_ref().is_some_and(|n| n.remote_hold);
        let remote_hold = was || answered[audio.index].is_null_connection();
        let neg = Negotiated {
            audio: Some(audio),
            t38: None,
            remote_hold,
            unchanged: false,
        };
        self.last_remote_origin = Some(origin_key(answer));
        Ok(self.complete(neg))
    }

    /// Answer an offer (initial or re-offer). On error, answer the request with 488.
    pub fn handle_offer(
        &mut self,
        offer: &SessionDescription,
    ) -> Result<(SessionDescription, Negotiated, Option<HoldChange>), OfferAnswerError> {
        // RFC 3264 §8: same o= version as before means no change.
        let key = origin_key(offer);
        if self.last_remote_origin.as_ref() == Some(&key) {
            if let (Some(local), Some(neg)) = (&self.last_local, &self.negotiated) {
                let mut neg = neg.clone();
                neg.unchanged = true;
                return Ok((local.clone(), neg, None));
            }
        }
        self.pending_offer = None;
        self.answered_offer = None;
        let sections = offer.media();
        let mut medias = Vec::with_capacity(sections.len());
        let mut audio = None;
        let mut t38 = None;
        for m in &sections {
            let accepted = if m.is_rejected() {
                None
            } else if m.connection.is_some_and(|ip| ip.is_multicast()) {
                // RFC 3264 §5.1 multicast streams: a trunk gateway takes part in none.
                None
            } else if m.kind == MediaKind::Audio && m.is_plain_rtp() && audio.is_none() {
                self.answer_audio(m).map(|(media, stream)| {
                    audio = Some(stream);
                    media
                })
            } else if m.is_t38() && t38.is_none() {
                self.caps.t38_port.map(|port| {
                    t38 = Some(T38Stream {
                        index: m.index,
                        remote: remote_addr(m),
                    });
                    Self::answer_t38(m, port)
                })
            } else {
                None
            };
            medias.push(accepted.unwrap_or_else(|| Self::rejected(offer, m.index)));
        }
        if audio.is_none() && t38.is_none() {
            return Err(OfferAnswerError::NoCommonCodec {
                offered: sections.iter().flat_map(|m| m.formats.clone()).collect(),
            });
        }
        let remote_hold = match &audio {
            Some(a) => Self::is_hold(&sections[a.index]),
            None => false,
        };
        let answer = SessionDescription::from_session(self.session(medias));
        self.last_local = Some(answer.clone());
        self.last_remote_origin = Some(key);
        let (neg, change) = self.complete(Negotiated {
            audio,
            t38,
            remote_hold,
            unchanged: false,
        });
        Ok((answer, neg, change))
    }

    fn complete(&mut self, neg: Negotiated) -> (Negotiated, Option<HoldChange>) {
        let was = self
            .negotiated
            .as_ref()
            .map(|n| n.remote_hold)
            .unwrap_or(false);
        let change = match (was, neg.remote_hold) {
            (false, true) => Some(HoldChange::Held),
            (true, false) => Some(HoldChange::Resumed),
            _ => None,
        };
        if let Some(c) = change {
            tracing::debug!(?c, "SDP: hold state changed");
        }
        self.negotiated = Some(neg.clone());
        (neg, change)
    }

    /// RFC 3264 §8.4: hold is sendonly or inactive; RFC 2543 used c=0.0.0.0.
    fn is_hold(m: &MediaSection) -> bool {
        matches!(m.direction, Direction::SendOnly | Direction::Inactive) || m.is_null_connection()
    }

    fn accept_telephone_event(
        &self,
        m: &MediaSection,
        offered_pt: Option<u8>,
    ) -> Option<(PayloadType, TelephoneEvents)> {
        self.caps.telephone_event_pt?;
        let (pt, events) = m.telephone_event()?;
        if let Some(o) = offered_pt {
            if o != pt {
                tracing::debug!(offered = o, answered = pt, "telephone-event PT differs");
            }
        }
        let common = events.intersect(&self.caps.telephone_events);
        (!common.is_empty()).then_some((PayloadType::new(pt)?, common))
    }

    fn audio_stream(
        &self,
        m: &MediaSection,
        law: Law,
        pt: u8,
        te: Option<(PayloadType, TelephoneEvents)>,
        direction: Direction,
    ) -> AudioStream {
        let remote = remote_addr(m);
        let remote_rtcp = match (m.rtcp, remote) {
            (Some(r), Some(rem)) => Some(SocketAddr::new(r.address.unwrap_or(rem.ip()), r.port)),
            (None, Some(rem)) => Some(SocketAddr::new(rem.ip(), rem.port().wrapping_add(1))),
            _ => None,
        };
        // What the peer wants to receive (RFC 8866 §6.4 ptime), never above its maxptime
        // (§6.5); 20 ms otherwise.
        let mut send_ptime = match m.ptime {
            Some(p @ 10..=60) if p % 10 == 0 => p,
            _ => 20,
        };
        if let Some(max) = m.maxptime.filter(|m| *m >= 10) {
            send_ptime = send_ptime.min(max - max % 10);
        }
        AudioStream {
            index: m.index,
            remote,
            remote_rtcp,
            law,
            payload_type: PayloadType::new(pt).unwrap_or(PayloadType::PCMA),
            telephone_event: te,
            send_ptime,
            direction,
        }
    }

    fn answer_audio(&self, m: &MediaSection) -> Option<(Media, AudioStream)> {
        // Our preference among theirs.
        let (law, codec) = self
            .caps
            .laws
            .iter()
            .find_map(|l| m.codec(l.encoding_name()).map(|c| (*l, c)))?;
        let te = self.accept_telephone_event(m, None);
        let direction = m.direction.reverse().intersect(self.local_direction);
        let stream = self.audio_stream(m, law, codec.payload_type, te, direction);
        let mut fmt = vec![codec.payload_type.to_string()];
        let mut attrs = vec![Attribute::with_value(
            "rtpmap",
            format!("{} {}/8000", codec.payload_type, codec.name),
        )];
        if let Some((pt, events)) = te {
            fmt.push(pt.get().to_string());
            attrs.push(Attribute::with_value(
                "rtpmap",
                format!("{} telephone-event/8000", pt.get()),
            ));
            attrs.push(Attribute::with_value(
                "fmtp",
                format!("{} {events}", pt.get()),
            ));
        }
        attrs.push(Attribute::with_value("ptime", self.caps.ptime.to_string()));
        attrs.push(Attribute::new(direction.as_str()));
        let media = Self::media("audio", self.local_port, &m.proto, fmt.join(" "), attrs);
        Some((media, stream))
    }

    fn answer_t38(m: &MediaSection, port: u16) -> Media {
        // Echo the T.38 parameters we can honour as offered (ITU-T T.38 Annex D.2.3).
        let attrs = m
            .attributes
            .iter()
            .filter(|(n, _)| n.starts_with("T38") || n.starts_with("t38"))
            .map(|(n, v)| match v {
                Some(v) => Attribute::with_value(n, v),
                None => Attribute::new(n),
            })
            .collect();
        Self::media("image", port, &m.proto, m.formats.join(" "), attrs)
    }

    /// RFC 3264 §6: a rejected stream keeps media type, transport and formats, port 0.
    fn rejected(offer: &SessionDescription, index: usize) -> Media {
        let o = &offer.session().medias[index];
        Self::media(&o.media, 0, &o.proto, o.fmt.clone(), vec![])
    }
}

fn remote_addr(m: &MediaSection) -> Option<SocketAddr> {
    match m.connection {
        Some(ip) if !ip.is_unspecified() && m.port != 0 => Some(SocketAddr::new(ip, m.port)),
        _ => None,
    }
}

fn origin_key(sdp: &SessionDescription) -> (String, u64) {
    let (id, v) = sdp.origin();
    (id.to_string(), v)
}
