//! The H.323 leg: calls with H.323 peers over the sans-IO [`h323::call::Call`], translated
//! to and from the neutral model (DESIGN.md table): Setup ↔ Setup, Call Proceeding ↔
//! Proceeding, Alerting ↔ Alerting, Progress ↔ Progress (in-band), Connect ↔ Connect,
//! Release Complete ↔ Release with its Q.850 cause (H.225.0 Table 5 reason beside it, made
//! by the endpoint), UserInputIndication ↔ Digits.
//!
//! Numbers: the called number is the Called party number IE, else the first `dialledDigits`
//! destination alias, else an all-digit `h323-ID`; the calling number likewise from the
//! Calling party number IE and the source aliases. Calls we place carry the numbers both
//! as Q.931 IEs and as `dialledDigits` aliases (H.225.0 §7.3.1), and our own `h323-ID`.
//!
//! Media: fast start (H.323 §8.1.7) offers G.711 A-law and µ-law at 20 ms, the law of the
//! other side first. Where the other leg is SIP the offer carries the SIP side's RTP
//! address (addresses passed through, no anchoring); where it is ISDN, our own RTP port,
//! bridged to the B-channel by the media engine once answered. Without fast start, H.245
//! runs tunnelled, or on a separate connection to the peer's `h245Address`.
//!
//! Gatekeeper (H.323 §7.2, H.225.0 §7): with a `[gatekeeper]`, the leg registers through
//! [`RasClient`] (the shell moves its datagrams) and asks admission (ARQ) before every
//! call it places while registered, placing the call at the ACF's destination address (the
//! gatekeeper trunk) or the peer's; DRQ when the call ends; the gatekeeper's DRQ clears
//! the call. An ARJ clears the leg with cause 21 (call rejected), no answer with 41.
//!
//! Sans-IO like the endpoint under it: the daemon's shell feeds bytes, connection events and
//! time in, and carries out [`H323Io`] (connect, send, close) from [`H323Leg::poll_io`].

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use h323::call::{Call, CallConfig, Channel, DtmfMode, Event, PlaceCall};
use h323::fast_start::{MediaAddresses, G711};
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;
use h323::ras::client::{Admission, Failure, RasClient, RasEvent, RegistrationState};
use tracing::{debug, info, warn};

use crate::config::{MediaPath, NumberRules, H323 as H323Config};
use crate::core::number::{dialled, from_sip_user};
use crate::core::{Bearer, Clearing, Core, Delivery, LegId, Media, Message, Reason, Setup};
use crate::media::Law;
use crate::rtp::{PortHold, RtpPortPool};

/// One TCP connection of the H.323 side (call signalling or a separate H.245 channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the shell must do for the leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H323Io {
    /// Open a TCP connection to `addr`; report [`H323Leg::connected`] or
    /// [`H323Leg::closed`]. Bytes sent meanwhile wait for the connection.
    Connect { conn: ConnId, addr: SocketAddrV4 },
    /// Write TPKT-framed bytes on a connection.
    Send { conn: ConnId, bytes: Vec<u8> },
    /// Close a connection once what was sent before is written.
    Close { conn: ConnId },
    /// Send a RAS datagram to the gatekeeper.
    Ras { to: SocketAddrV4, bytes: Vec<u8> },
}

/// How calls with one H.323 trunk (a `[[h323_peer]]`) behave.
#[derive(Debug, Clone)]
struct Trunk {
    name: String,
    /// `None`: the gatekeeper trunk (the address comes with the ACF).
    address: Option<SocketAddrV4>,
    fast_start: bool,
    tunnelling: bool,
    /// RTP relayed by the gateway or passed through when the other leg is SIP.
    media: MediaPath,
    rules: NumberRules,
}

struct H323Call {
    /// The core's leg; `None` for an accepted connection before its Setup.
    leg: Option<LegId>,
    call: Call,
    trunk: usize,
    sig: ConnId,
    h245: Option<ConnId>,
    /// Our RTP port when we anchor the media (ISDN on the other side), reserved in the
    /// pool until the media are bridged (dropped with the call otherwise).
    rtp_port: Option<PortHold>,
    /// The Release came from the core: do not report it back.
    released_by_core: bool,
    /// Admitted by the gatekeeper (DRQ when it ends).
    admitted: Option<Guid>,
    /// The peer's RTP address last told to the core (Setup, Connect or [`Message::Media`]).
    reported: Option<SocketAddr>,
    /// An incoming call waiting for the gatekeeper's ACF (ARQ answerCall) before its
    /// Setup goes to the core: the call identifier and the neutral Setup.
    awaiting_admission: Option<(Guid, Setup)>,
    /// `media = "direct"` without fast start: the peer's Connect, held back from the core
    /// until H.245 (OpenLogicalChannelAck) names the peer's RTP address for the other
    /// side's answer, or until this deadline (then it goes without).
    connect_held: Option<Instant>,
}

/// How long a held Connect waits for H.245 to name the peer's RTP address.
const CONNECT_HOLD: std::time::Duration = std::time::Duration::from_secs(4);

/// A call waiting for the gatekeeper's admission before its Setup goes.
struct PendingOut {
    leg: LegId,
    trunk: usize,
    cfg: CallConfig,
    place: PlaceCall,
    rtp_port: Option<PortHold>,
}

/// The H.323 side of the gateway: every H.323 peer's calls.
pub struct H323Leg {
    trunks: Vec<Trunk>,
    /// Our address in fast start and H.245 (the listen address, or loopback when that is
    /// the wildcard).
    local: Ipv4Addr,
    law: Law,
    /// Local RTP ports, shared with the SIP trunks.
    rtp_ports: RtpPortPool,
    /// Calls by their call-signalling connection.
    calls: HashMap<ConnId, H323Call>,
    /// Separate H.245 connections → their call's signalling connection.
    h245: HashMap<ConnId, ConnId>,
    by_leg: HashMap<LegId, ConnId>,
    next_conn: u64,
    next_ref: u16,
    guid_seed: u64,
    io: VecDeque<H323Io>,
    ras: Option<RasClient>,
    /// Outgoing calls waiting for ACF/ARJ, by the connection they will use.
    pending: HashMap<ConnId, PendingOut>,
}

fn law_of(codec: G711) -> Law {
    match codec {
        G711::ALaw => Law::ALaw,
        G711::MuLaw => Law::MuLaw,
    }
}

/// G.711 laws with `first` in front (H.245 §8.1.7 order of preference).
fn codecs(first: Law) -> Vec<G711> {
    match first {
        Law::ALaw => vec![G711::ALaw, G711::MuLaw],
        Law::MuLaw => vec![G711::MuLaw, G711::ALaw],
    }
}

/// A number from the Q.931 IE, else from the aliases (`dialledDigits`, then an all-digit
/// `h323-ID`).
fn number_of(ie: Option<&str>, aliases: &[Alias]) -> Option<String> {
    if let Some(n) = ie.filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    aliases
        .iter()
        .find_map(|a| match a {
            Alias::Dialled(d) if !d.is_empty() => Some(d.clone()),
            _ => None,
        })
        .or_else(|| {
            aliases.iter().find_map(|a| match a {
                Alias::H323Id(s)
                    if !s.is_empty()
                        && s.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c)) =>
                {
                    Some(s.clone())
                }
                _ => None,
            })
        })
}

/// dialledDigits carry 0-9, # , * and ',' (H.225.0 AliasAddress).
fn alias_digits(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || "#*,".contains(*c))
        .collect()
}

impl H323Leg {
    /// A leg for the configured H.323 peers; RTP ports are taken from `rtp_ports`, the pool
    /// the SIP trunks share, `law` is the spans' law (offered first when the other side is
    /// ISDN).
    pub fn new(config: &H323Config, law: Law, rtp_ports: RtpPortPool) -> H323Leg {
        let local = match config.listen.ip() {
            std::net::IpAddr::V4(ip) if !ip.is_unspecified() => ip,
            _ => Ipv4Addr::LOCALHOST,
        };
        let trunks = config
            .peers
            .iter()
            .map(|p| Trunk {
                name: p.name.clone(),
                address: Some(p.address),
                fast_start: p.fast_start,
                tunnelling: p.h245_tunnelling,
                media: p.media,
                rules: p.numbering.clone(),
            })
            .chain(config.gatekeeper.iter().map(|g| Trunk {
                name: g.name.clone(),
                address: None,
                fast_start: g.fast_start,
                tunnelling: g.h245_tunnelling,
                media: g.media,
                rules: g.numbering.clone(),
            }))
            .collect();
        let guid_seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        H323Leg {
            trunks,
            local,
            law,
            rtp_ports,
            calls: HashMap::new(),
            h245: HashMap::new(),
            by_leg: HashMap::new(),
            next_conn: 1,
            next_ref: 1,
            guid_seed,
            io: VecDeque::new(),
            ras: None,
            pending: HashMap::new(),
        }
    }

    /// Register with a gatekeeper through `client` (already started by the shell).
    pub fn set_ras(&mut self, client: RasClient) {
        self.ras = Some(client);
    }

    /// Whether we are registered with the gatekeeper.
    pub fn is_registered(&self) -> bool {
        self.ras.as_ref().is_some_and(|r| r.is_registered())
    }

    /// A RAS datagram from `from`.
    pub fn handle_ras(&mut self, core: &mut Core, now: Instant, from: SocketAddrV4, bytes: &[u8]) {
        if let Some(r) = &mut self.ras {
            r.handle_datagram(now, from, bytes);
        }
        self.drain_ras(core, now);
    }

    /// Whether `trunk` is one of our H.323 peers.
    pub fn has_trunk(&self, trunk: &str) -> bool {
        self.trunks.iter().any(|t| t.name == trunk)
    }

    /// Whether `leg` is one of our legs.
    pub fn owns(&self, leg: LegId) -> bool {
        self.by_leg.contains_key(&leg)
    }

    /// Calls in progress (connections with a call).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Whether the call of `leg` (received from a `media = "direct"` peer) passes its
    /// media through: the other side is to send straight to the peer's RTP address.
    pub fn passes_media_through(&self, leg: LegId) -> bool {
        self.by_leg
            .get(&leg)
            .and_then(|conn| self.calls.get(conn))
            .is_some_and(|c| {
                self.trunks[c.trunk].media == MediaPath::Direct && c.call.media().is_some()
            })
    }

    /// Our RTP port for a leg whose media we anchor (the other side is ISDN).
    pub fn rtp_port(&self, leg: LegId) -> Option<u16> {
        let conn = self.by_leg.get(&leg)?;
        self.calls.get(conn)?.rtp_port.as_ref().map(PortHold::port)
    }

    /// Next thing for the shell to do.
    pub fn poll_io(&mut self) -> Option<H323Io> {
        self.io.pop_front()
    }

    /// The earliest timer of any call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .flat_map(|c| [c.call.poll_timeout(), c.connect_held])
            .flatten()
            .chain(self.ras.as_ref().and_then(|r| r.poll_timeout()))
            .min()
    }

    fn new_conn(&mut self) -> ConnId {
        let c = ConnId(self.next_conn);
        self.next_conn += 1;
        c
    }

    fn new_port(&mut self) -> PortHold {
        self.rtp_ports.take()
    }

    fn new_guid(&mut self) -> Guid {
        // A unique 128-bit value per call (H.225.0 §7.6 GloballyUniqueID): the seed (time
        // at start) mixed with a counter by splitmix64.
        let mut g = [0u8; 16];
        for half in g.chunks_mut(8) {
            self.guid_seed = self.guid_seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.guid_seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            half.copy_from_slice(&z.to_be_bytes());
        }
        Guid(g)
    }

    fn config(&self, trunk: &Trunk, media: MediaAddresses, first: Law) -> CallConfig {
        let mut cfg = CallConfig::new(media);
        cfg.codecs = codecs(first);
        cfg.fast_start = trunk.fast_start;
        cfg.h245_tunneling = trunk.tunnelling;
        // Digits go as H.245 UserInputIndication (H.323 §10.5: every endpoint takes them);
        // RFC 2833 towards the peer would need the RTP we may not carry (direct media).
        cfg.dtmf = DtmfMode::UserInput;
        cfg
    }

    fn anchor(&mut self) -> (MediaAddresses, PortHold) {
        let hold = self.new_port();
        let port = hold.port();
        (
            MediaAddresses {
                rtp: SocketAddrV4::new(self.local, port),
                rtcp: SocketAddrV4::new(self.local, port.wrapping_add(1)),
            },
            hold,
        )
    }

    /// The shell accepted a call-signalling connection from `peer`. Returns the id the
    /// shell uses for it; `None`: no H.323 peer has that address (close it).
    pub fn accepted(&mut self, peer: SocketAddr) -> Option<ConnId> {
        let ip = match peer {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(a) => a.ip().to_ipv4_mapped()?,
        };
        // A configured peer by its address; anyone else only through the gatekeeper.
        let by_address = self
            .trunks
            .iter()
            .position(|t| t.address.is_some_and(|a| *a.ip() == ip));
        let Some(trunk) =
            by_address.or_else(|| self.trunks.iter().position(|t| t.address.is_none()))
        else {
            warn!(%peer, "H.323 connection from an address no h323_peer has: closed");
            return None;
        };
        let conn = self.new_conn();
        // The caller's media is ours to anchor until we know the other side: our RTP port
        // goes into the fast start answer (bridged to a B-channel when the call is
        // answered from ISDN).
        let (media, port) = self.anchor();
        let mut cfg = self.config(&self.trunks[trunk].clone(), media, self.law);
        // `media = "direct"`: the fast start answer waits for the other side's address
        // (`deliver`), or goes with Connect naming our port when there is none.
        cfg.defer_fast_start_answer = self.trunks[trunk].media == MediaPath::Direct;
        self.calls.insert(
            conn,
            H323Call {
                leg: None,
                call: Call::incoming(cfg),
                trunk,
                sig: conn,
                h245: None,
                rtp_port: Some(port),
                released_by_core: false,
                admitted: None,
                reported: None,
                awaiting_admission: None,
                connect_held: None,
            },
        );
        debug!(%peer, trunk = %self.trunks[trunk].name, ?conn, "H.323 connection accepted");
        Some(conn)
    }

    /// A connection we asked for is open.
    pub fn connected(&mut self, core: &mut Core, now: Instant, conn: ConnId) {
        if let Some(sig) = self.h245.get(&conn).copied() {
            if let Some(c) = self.calls.get_mut(&sig) {
                c.call.h245_connected(now);
            }
            self.drain_call(core, now, sig);
        }
    }

    /// Bytes arrived on a connection.
    pub fn handle_bytes(&mut self, core: &mut Core, now: Instant, conn: ConnId, bytes: &[u8]) {
        if let Some(c) = self.calls.get_mut(&conn) {
            c.call.handle_signalling_bytes(now, bytes);
            self.drain_call(core, now, conn);
        } else if let Some(sig) = self.h245.get(&conn).copied() {
            if let Some(c) = self.calls.get_mut(&sig) {
                c.call.handle_h245_bytes(now, bytes);
            }
            self.drain_call(core, now, sig);
        }
    }

    /// A connection closed (or could not be opened).
    pub fn closed(&mut self, core: &mut Core, now: Instant, conn: ConnId) {
        if let Some(c) = self.calls.get_mut(&conn) {
            c.call.signalling_closed(now);
            self.drain_call(core, now, conn);
        } else if let Some(sig) = self.h245.remove(&conn) {
            if let Some(c) = self.calls.get_mut(&sig) {
                c.h245 = None;
                c.call.h245_closed(now);
            }
            self.drain_call(core, now, sig);
        }
    }

    /// Run the calls' timers due at `now`.
    pub fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        if let Some(r) = &mut self.ras {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
        self.drain_ras(core, now);
        let due: Vec<ConnId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.call.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for conn in due {
            if let Some(c) = self.calls.get_mut(&conn) {
                c.call.handle_timeout(now);
            }
            self.drain_call(core, now, conn);
        }
        // Held Connects whose H.245 did not name the peer's media in time go without.
        let late: Vec<(ConnId, Option<LegId>)> = self
            .calls
            .iter_mut()
            .filter(|(_, c)| c.connect_held.is_some_and(|t| t <= now))
            .map(|(k, c)| {
                c.connect_held = None;
                (*k, c.leg)
            })
            .collect();
        for (conn, leg) in late {
            warn!(
                ?conn,
                "no H.245 media address in time: Connect passed on without it"
            );
            self.tell(core, now, leg, Message::Connect { media: None });
        }
    }

    /// Place an outgoing call for the core on H.323 trunk `trunk`.
    pub fn originate(
        &mut self,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        trunk: &str,
        setup: &Setup,
    ) {
        let Some(t) = self.trunks.iter().position(|x| x.name == trunk) else {
            warn!(trunk, "no such H.323 peer");
            core.handle(now, leg, Message::Release(Reason::Q850(27)));
            return;
        };
        let tr = self.trunks[t].clone();
        // Media: with `media = "direct"` a SIP side's RTP address is passed through into the
        // fast start offer / OpenLogicalChannel (the peer sends straight to it); otherwise
        // we anchor on our own RTP port (relayed to the SIP side, or bridged to a
        // B-channel).
        let (media, rtp_port, first) = match setup.media {
            Some(Media::Rtp {
                remote: SocketAddr::V4(a),
                law,
                ..
            }) if tr.media == MediaPath::Direct => (
                MediaAddresses {
                    rtp: a,
                    rtcp: SocketAddrV4::new(*a.ip(), a.port().wrapping_add(1)),
                },
                None,
                law,
            ),
            Some(Media::Rtp { law, .. }) => {
                let (m, p) = self.anchor();
                (m, Some(p), law)
            }
            _ => {
                let (m, p) = self.anchor();
                (m, Some(p), self.law)
            }
        };
        let cfg = self.config(&tr, media, first);
        let called = alias_digits(&dialled(&setup.called, &tr.rules));
        let calling = setup
            .calling
            .as_ref()
            .filter(|n| !n.restricted)
            .map(|n| alias_digits(&dialled(n, &tr.rules)))
            .filter(|d| !d.is_empty());
        let mut source_aliases = vec![Alias::H323Id("gatewayd".into())];
        if let Some(c) = &calling {
            source_aliases.insert(0, Alias::Dialled(c.clone()));
        }
        let call_ref = self.next_ref;
        // Q.931 §4.3: 15-bit call reference values, 0 is the global one.
        self.next_ref = if self.next_ref >= 0x7FFF {
            1
        } else {
            self.next_ref + 1
        };
        let call_id = self.new_guid();
        let conference_id = self.new_guid();
        let place = PlaceCall {
            call_ref,
            call_id,
            conference_id,
            source_aliases,
            destination_aliases: if called.is_empty() {
                Vec::new()
            } else {
                vec![Alias::Dialled(called.clone())]
            },
            calling_number: calling,
            called_number: (!called.is_empty()).then_some(called),
            // H.225.0 §7.3.1: the Setup's Display is the caller's name.
            // IA5 and at most 34 characters, as for ISDN: a longer Display would not encode.
            display: setup
                .calling
                .as_ref()
                .filter(|n| !n.restricted)
                .and_then(|n| n.name.as_deref())
                .and_then(q931::call::ia5_name),
            source_signal_address: None,
            dest_signal_address: tr.address,
        };
        let conn = self.new_conn();
        self.by_leg.insert(leg, conn);
        let pending = PendingOut {
            leg,
            trunk: t,
            cfg,
            place,
            rtp_port,
        };
        if self.is_registered() {
            // H.323 §8.1: a registered endpoint asks admission before every call.
            let admission = Admission {
                call_ref,
                call_id,
                conference_id,
                destination: pending.place.destination_aliases.clone(),
                dest_call_signal_address: tr.address,
                source: Vec::new(),
                bandwidth: 1280,
                answer_call: false,
            };
            if let Some(r) = &mut self.ras {
                match r.admit(now, admission) {
                    Ok(()) => {
                        info!(%leg, trunk, "H.323 ARQ");
                        self.pending.insert(conn, pending);
                        self.drain_ras(core, now);
                        return;
                    }
                    Err(e) => warn!(%leg, error = %e, "ARQ not sent"),
                }
            }
        }
        match tr.address {
            Some(addr) => self.place(core, now, conn, pending, addr, None),
            None => {
                // The gatekeeper trunk without a registration: nowhere to send the Setup.
                warn!(%leg, trunk, "not registered with the gatekeeper");
                self.by_leg.remove(&leg);
                core.handle(now, leg, Message::Release(Reason::Q850(41)));
            }
        }
    }

    /// Send the Setup of an outgoing call to `addr`.
    fn place(
        &mut self,
        core: &mut Core,
        now: Instant,
        conn: ConnId,
        p: PendingOut,
        addr: SocketAddrV4,
        admitted: Option<Guid>,
    ) {
        let mut place = p.place;
        place.dest_signal_address = Some(addr);
        let call = Call::place(now, p.cfg, place);
        self.io.push_back(H323Io::Connect { conn, addr });
        info!(leg = %p.leg, trunk = %self.trunks[p.trunk].name, peer = %addr, "H.323 Setup");
        self.calls.insert(
            conn,
            H323Call {
                leg: Some(p.leg),
                call,
                trunk: p.trunk,
                sig: conn,
                h245: None,
                rtp_port: p.rtp_port,
                released_by_core: false,
                admitted,
                reported: None,
                awaiting_admission: None,
                connect_held: None,
            },
        );
        self.drain_call(core, now, conn);
    }

    /// RAS datagrams to the shell, RAS events to the calls.
    fn drain_ras(&mut self, core: &mut Core, now: Instant) {
        loop {
            let Some(r) = &mut self.ras else {
                return;
            };
            while let Some(t) = r.poll_transmit() {
                self.io.push_back(H323Io::Ras {
                    to: t.destination,
                    bytes: t.payload,
                });
            }
            let Some(ev) = r.poll_event() else {
                return;
            };
            match ev {
                RasEvent::AdmissionConfirmed {
                    call_id,
                    dest_call_signal_address,
                    ..
                } => {
                    if self.admit_incoming(core, now, call_id, None) {
                        continue;
                    }
                    let Some(conn) = self.pending_by_call(call_id) else {
                        continue;
                    };
                    let Some(p) = self.pending.remove(&conn) else {
                        continue;
                    };
                    match dest_call_signal_address.or(self.trunks[p.trunk].address) {
                        Some(addr) => {
                            info!(leg = %p.leg, %addr, "H.323 ACF");
                            self.place(core, now, conn, p, addr, Some(call_id));
                        }
                        None => {
                            warn!(leg = %p.leg, "ACF without a call signalling address");
                            self.by_leg.remove(&p.leg);
                            if let Some(r) = &mut self.ras {
                                let _ = r.disengage(now, call_id);
                            }
                            core.handle(now, p.leg, Message::Release(Reason::Q850(41)));
                        }
                    }
                }
                RasEvent::AdmissionFailed { call_id, reason } => {
                    if self.admit_incoming(core, now, call_id, Some(&reason)) {
                        continue;
                    }
                    let Some(conn) = self.pending_by_call(call_id) else {
                        continue;
                    };
                    let Some(p) = self.pending.remove(&conn) else {
                        continue;
                    };
                    info!(leg = %p.leg, ?reason, "H.323 admission failed");
                    self.by_leg.remove(&p.leg);
                    let cause = match reason {
                        Failure::NoResponse => 41,
                        _ => 21,
                    };
                    core.handle(now, p.leg, Message::Release(Reason::Q850(cause)));
                }
                RasEvent::DisengageRequested { call_id } => {
                    // H.225.0 §7.10: the gatekeeper ends the call.
                    let conn = self
                        .calls
                        .iter()
                        .find(|(_, c)| c.admitted == Some(call_id))
                        .map(|(k, _)| *k);
                    if let Some(conn) = conn {
                        if let Some(c) = self.calls.get_mut(&conn) {
                            c.admitted = None;
                            c.call.release(now, CauseValue::NormalCallClearing);
                        }
                        self.drain_call(core, now, conn);
                    }
                }
                other => info!(event = ?other, "RAS"),
            }
        }
    }

    /// The gatekeeper answered the ARQ answerCall of an incoming call: on ACF its Setup
    /// goes to the core; on ARJ (`failure`) the call is cleared with cause 21 (call
    /// rejected), 41 when the gatekeeper did not answer, and the core records it
    /// ([`Core::refused`]: a CDR, never routed). False: no such incoming call.
    fn admit_incoming(
        &mut self,
        core: &mut Core,
        now: Instant,
        call_id: Guid,
        failure: Option<&Failure>,
    ) -> bool {
        let Some((&conn, c)) = self.calls.iter_mut().find(|(_, c)| {
            c.awaiting_admission
                .as_ref()
                .is_some_and(|a| a.0 == call_id)
        }) else {
            return false;
        };
        let Some((_, setup)) = c.awaiting_admission.take() else {
            return false;
        };
        match failure {
            None => {
                c.admitted = Some(call_id);
                let name = self.trunks[c.trunk].name.clone();
                info!(trunk = %name, "H.323 ACF (answerCall)");
                let (_, leg) = core.incoming(now, &name, None, setup);
                c.leg = Some(leg);
                self.by_leg.insert(leg, conn);
            }
            Some(reason) => {
                info!(?reason, "H.323 incoming call not admitted");
                let cause = match reason {
                    Failure::NoResponse => CauseValue::TemporaryFailure,
                    _ => CauseValue::CallRejected,
                };
                c.call.release(now, cause);
                // Never routed, but a call all the same: its CDR says who refused it.
                let name = self.trunks[c.trunk].name.clone();
                core.refused(now, &name, setup, cause.value(), "h323");
            }
        }
        self.drain_call(core, now, conn);
        true
    }

    /// Hand the RAS client's datagrams to the shell (events stay for `drain_ras`).
    fn flush_ras(&mut self) {
        if let Some(r) = &mut self.ras {
            while let Some(t) = r.poll_transmit() {
                self.io.push_back(H323Io::Ras {
                    to: t.destination,
                    bytes: t.payload,
                });
            }
        }
    }

    /// Leave the gatekeeper (URQ, H.225.0 §7.6) when the daemon stops.
    pub fn unregister(&mut self, core: &mut Core, now: Instant) {
        if let Some(r) = &mut self.ras {
            if let Err(e) = r.unregister(now) {
                warn!(error = %e, "URQ not sent");
            }
        }
        self.drain_ras(core, now);
    }

    /// A URQ is waiting for its UCF (or its retransmissions).
    pub fn is_unregistering(&self) -> bool {
        self.ras
            .as_ref()
            .is_some_and(|r| r.state() == RegistrationState::Unregistering)
    }

    fn pending_by_call(&self, call_id: Guid) -> Option<ConnId> {
        self.pending
            .iter()
            .find(|(_, p)| p.place.call_id == call_id)
            .map(|(k, _)| *k)
    }

    /// A message from the core for one of our legs.
    pub fn deliver(&mut self, core: &mut Core, now: Instant, leg: LegId, msg: Delivery) {
        let Some(&conn) = self.by_leg.get(&leg) else {
            return;
        };
        if let Some(p) = self.pending.get(&conn) {
            // Cleared while waiting for admission: forget the ARQ.
            if let Delivery::Release(_) = msg {
                let call_id = p.place.call_id;
                self.pending.remove(&conn);
                self.by_leg.remove(&leg);
                if let Some(r) = &mut self.ras {
                    let _ = r.disengage(now, call_id);
                }
                self.drain_ras(core, now);
            }
            return;
        }
        let Some(c) = self.calls.get_mut(&conn) else {
            return;
        };
        // `media = "direct"`: the other side's RTP address (the SIP UA's, from its SDP)
        // goes into our fast start answer; we then carry no media for this call.
        if let Delivery::Progress {
            media:
                Some(Media::Rtp {
                    remote: SocketAddr::V4(a),
                    law,
                    ..
                }),
            ..
        }
        | Delivery::Connect {
            media:
                Some(Media::Rtp {
                    remote: SocketAddr::V4(a),
                    law,
                    ..
                }),
        } = &msg
        {
            if self.trunks[c.trunk].media == MediaPath::Direct {
                let addrs = MediaAddresses {
                    rtp: *a,
                    rtcp: SocketAddrV4::new(*a.ip(), a.port().wrapping_add(1)),
                };
                let prefer = match law {
                    Law::ALaw => G711::ALaw,
                    Law::MuLaw => G711::MuLaw,
                };
                if c.call.set_media(addrs, Some(prefer)) {
                    debug!(%leg, remote = %a, "fast start answer names the other side's RTP");
                    c.rtp_port = None;
                }
            }
        }
        match msg {
            Delivery::Proceeding => c.call.proceeding(now),
            // Alerting ↔ Alerting, with progress indicator 8 when the other side has
            // in-band information (SIP 183/180 with SDP, ISDN PI 1/8); Progress ↔ Progress.
            Delivery::Alerting { inband: true } => c.call.alerting_inband(now),
            Delivery::Alerting { inband: false } => c.call.alerting(now),
            Delivery::Progress { .. } => c.call.progress(now),
            Delivery::Connect { .. } => c.call.answer(now),
            Delivery::Release(Clearing { cause, .. }) => {
                c.released_by_core = true;
                c.call.release(now, CauseValue::from(cause));
            }
            Delivery::Digits(d) => {
                let route = c.call.send_digits(now, &d);
                debug!(%leg, digits = %d, ?route, "digits to H.323");
            }
            other => debug!(?other, %leg, "not sent on H.323"),
        }
        self.drain_call(core, now, conn);
    }

    /// Move a call's output to the shell and its events to the core.
    fn drain_call(&mut self, core: &mut Core, now: Instant, conn: ConnId) {
        let mut released = false;
        loop {
            let Some(c) = self.calls.get_mut(&conn) else {
                return;
            };
            while let Some(t) = c.call.poll_transmit() {
                let to = match t.channel {
                    Channel::Signalling => Some(c.sig),
                    Channel::H245 => c.h245,
                };
                match to {
                    Some(conn) => self.io.push_back(H323Io::Send {
                        conn,
                        bytes: t.bytes,
                    }),
                    None => debug!("H.245 bytes without a connection dropped"),
                }
            }
            let Some(ev) = c.call.poll_event() else {
                break;
            };
            let leg = c.leg;
            let media = c.call.media();
            let trunk = c.trunk;
            let call_ref = c.call.call_ref();
            match ev {
                Event::Setup(s) => {
                    let rules = self.trunks[trunk].rules.clone();
                    let called = number_of(s.called_number.as_deref(), &s.destination_aliases)
                        .unwrap_or_default();
                    let calling = number_of(s.calling_number.as_deref(), &s.source_aliases);
                    let setup = Setup {
                        called: from_sip_user(&called, &rules, false),
                        // Q.931 §4.5.10: a restricted caller's number and name are
                        // withheld on the other side; its Display is its name.
                        calling: calling.map(|n| crate::core::Number {
                            name: s.display.clone().filter(|d| !d.trim().is_empty()),
                            ..from_sip_user(&n, &rules, s.calling_restricted)
                        }),
                        bearer: Bearer::Speech,
                        media: media.map(|m| Media::Rtp {
                            remote: SocketAddr::V4(m.remote_rtp),
                            law: law_of(m.codec),
                            telephone_event: m.telephone_event,
                        }),
                        complete: true,
                        redirecting: None,
                    };
                    let name = self.trunks[trunk].name.clone();
                    info!(trunk = %name, %called, "H.323 Setup received");
                    let reported = media.map(|m| SocketAddr::V4(m.remote_rtp));
                    if self.is_registered() {
                        // H.323 §8.1.5, H.225.0 §7.8: a registered endpoint asks the
                        // gatekeeper before it accepts a call (ARQ with answerCall TRUE);
                        // the Setup reaches the core on ACF.
                        let admission = Admission {
                            call_ref,
                            call_id: s.call_id,
                            conference_id: s.conference_id,
                            destination: s.destination_aliases.clone(),
                            dest_call_signal_address: None,
                            source: s.source_aliases.clone(),
                            bandwidth: 1280,
                            answer_call: true,
                        };
                        if let Some(r) = &mut self.ras {
                            match r.admit(now, admission) {
                                Ok(()) => {
                                    info!(trunk = %name, %called, "H.323 ARQ answerCall");
                                    if let Some(c) = self.calls.get_mut(&conn) {
                                        c.awaiting_admission = Some((s.call_id, setup));
                                    }
                                    self.flush_ras();
                                    continue;
                                }
                                Err(e) => warn!(error = %e, "ARQ answerCall not sent"),
                            }
                        }
                    }
                    let (_, leg) = core.incoming(now, &name, None, setup);
                    self.by_leg.insert(leg, conn);
                    if let Some(c) = self.calls.get_mut(&conn) {
                        c.leg = Some(leg);
                        c.reported = reported;
                    }
                }
                Event::Proceeding => self.tell(core, now, leg, Message::Proceeding),
                // Alerting with progress indicator 1/8 and media open (fast start answer in
                // it, or H.245): early media, like Progress (SIP 183 with SDP). Not from a
                // `media = "direct"` peer: the SIP answer names the peer's address only
                // with Progress or Connect (plain Alerting, 180, as before).
                Event::Alerting => {
                    let inband = media.is_some()
                        && self.trunks[trunk].media != MediaPath::Direct
                        && self.calls.get(&conn).is_some_and(|c| c.call.peer_inband());
                    self.tell(core, now, leg, Message::Alerting { inband })
                }
                Event::Progress => self.tell(
                    core,
                    now,
                    leg,
                    Message::Progress {
                        inband: true,
                        media: media.map(neutral),
                    },
                ),
                Event::Connected { media: m } => {
                    let m = m.or(media);
                    // `media = "direct"` and no fast start: the other side's answer must
                    // name the peer's RTP address, which H.245 gives only after Connect.
                    let hold = m.is_none()
                        && self.calls.get(&conn).is_some_and(|c| {
                            self.trunks[c.trunk].media == MediaPath::Direct && c.rtp_port.is_none()
                        });
                    if hold {
                        if let Some(c) = self.calls.get_mut(&conn) {
                            debug!(?leg, "Connect held for the H.245 media address");
                            c.connect_held = Some(now + CONNECT_HOLD);
                        }
                        continue;
                    }
                    if let (Some(c), Some(m)) = (self.calls.get_mut(&conn), m) {
                        c.reported = Some(SocketAddr::V4(m.remote_rtp));
                    }
                    self.tell(
                        core,
                        now,
                        leg,
                        Message::Connect {
                            media: m.map(neutral),
                        },
                    )
                }
                Event::Media(m) => {
                    // Our channel to the peer is open (fast start answer, or H.245
                    // OpenLogicalChannelAck, possibly after Connect or re-opened): the
                    // core's bridge follows a new address.
                    let addr = SocketAddr::V4(m.remote_rtp);
                    let known = self.calls.get(&conn).and_then(|c| c.reported);
                    debug!(?leg, remote = %m.remote_rtp, "H.323 media");
                    let held = self
                        .calls
                        .get_mut(&conn)
                        .and_then(|c| c.connect_held.take())
                        .is_some();
                    if held {
                        // The held Connect goes now, naming the peer's address.
                        if let Some(c) = self.calls.get_mut(&conn) {
                            c.reported = Some(addr);
                        }
                        self.tell(
                            core,
                            now,
                            leg,
                            Message::Connect {
                                media: Some(neutral(m)),
                            },
                        );
                        continue;
                    }
                    if known != Some(addr) && leg.is_some() {
                        if let Some(c) = self.calls.get_mut(&conn) {
                            c.reported = Some(addr);
                        }
                        self.tell(core, now, leg, Message::Media(neutral(m)));
                    }
                }
                Event::IncomingMedia { codec, .. } => debug!(?leg, ?codec, "H.323 media in"),
                Event::Digits(d) => self.tell(
                    core,
                    now,
                    leg,
                    Message::Digits {
                        digits: d,
                        complete: false,
                    },
                ),
                Event::H245Connect(addr) => {
                    let h = self.new_conn();
                    self.h245.insert(h, conn);
                    if let Some(c) = self.calls.get_mut(&conn) {
                        c.h245 = Some(h);
                    }
                    self.io.push_back(H323Io::Connect { conn: h, addr });
                }
                Event::Released {
                    cause,
                    reason,
                    by_peer,
                } => {
                    info!(?leg, %cause, ?reason, by_peer, "H.323 call released");
                    let by_core = self.calls.get(&conn).is_some_and(|c| c.released_by_core);
                    if !by_core {
                        self.tell(
                            core,
                            now,
                            leg,
                            Message::Release(Reason::Q850(cause.value())),
                        );
                    }
                    released = true;
                }
            }
        }
        if released {
            if let Some(c) = self.calls.remove(&conn) {
                if let Some(leg) = c.leg {
                    self.by_leg.remove(&leg);
                }
                // H.225.0 §7.10: DRQ when the call is over (or forget the ARQ of a call
                // that ended while waiting for admission).
                let id = c.admitted.or(c.awaiting_admission.map(|(id, _)| id));
                if let (Some(id), Some(r)) = (id, &mut self.ras) {
                    if let Err(e) = r.disengage(now, id) {
                        debug!(error = %e, "DRQ not sent");
                    }
                }
                if let Some(h) = c.h245 {
                    self.h245.remove(&h);
                    self.io.push_back(H323Io::Close { conn: h });
                }
                self.io.push_back(H323Io::Close { conn: c.sig });
            }
            self.drain_ras(core, now);
        }
    }

    fn tell(&mut self, core: &mut Core, now: Instant, leg: Option<LegId>, msg: Message) {
        match leg {
            Some(leg) => core.handle(now, leg, msg),
            None => debug!(?msg, "H.323 event before the call reached the core"),
        }
    }
}

fn neutral(m: h323::call::Media) -> Media {
    Media::Rtp {
        remote: SocketAddr::V4(m.remote_rtp),
        law: law_of(m.codec),
        telephone_event: m.telephone_event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_ie_then_aliases() {
        assert_eq!(
            number_of(Some("123"), &[Alias::Dialled("456".into())]),
            Some("123".into())
        );
        assert_eq!(
            number_of(
                None,
                &[Alias::H323Id("bob".into()), Alias::Dialled("456".into())]
            ),
            Some("456".into())
        );
        assert_eq!(
            number_of(None, &[Alias::H323Id("+4930".into())]),
            Some("+4930".into())
        );
        assert_eq!(number_of(None, &[Alias::H323Id("bob".into())]), None);
        assert_eq!(alias_digits("+49 30-1*#"), "49301*#");
    }

    /// `media = "direct"` without fast start: a peer answering before H.245 named its
    /// RTP address has its Connect held from the core, and passed on without media once
    /// the hold runs out.
    #[test]
    fn held_connect_goes_without_media_after_the_hold() {
        use crate::cdr::{Cdr, CdrError};
        use crate::core::{Action, CdrSink};

        struct NoCdr;
        impl CdrSink for NoCdr {
            fn write(&mut self, _: &Cdr) -> Result<(), CdrError> {
                Ok(())
            }
        }
        let config = crate::config::Config::from_str(
            r#"
[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:5060"
peers = ["127.0.0.1:5070"]

[h323]
listen = "127.0.0.1:1720"

[[h323_peer]]
name = "ep"
address = "127.0.0.1:11720"
fast_start = false
media = "direct"

[[route]]
pattern = "5005"
from = ["pbx"]
to = ["ep"]
"#,
            "test.toml",
        )
        .unwrap();
        let t0 = Instant::now();
        let mut core = Core::new(&config, Box::new(NoCdr), t0);
        let mut leg = H323Leg::new(
            config.h323.as_ref().unwrap(),
            Law::ALaw,
            RtpPortPool::new((12000, 12100)),
        );
        let rules = core.numbering("pbx");
        let ua: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        core.incoming(
            t0,
            "pbx",
            None,
            Setup {
                called: from_sip_user("5005", &rules, false),
                calling: None,
                bearer: Bearer::Speech,
                media: Some(Media::Rtp {
                    remote: ua,
                    law: Law::ALaw,
                    telephone_event: None,
                }),
                complete: true,
                redirecting: None,
            },
        );
        let Some(Action::Originate { leg: b, setup, .. }) = core.poll_action() else {
            panic!("no Originate")
        };
        leg.originate(&mut core, t0, b, "ep", &setup);
        // The peer: no fast start, Call Proceeding and Connect at once.
        let mut peer_cfg = CallConfig::new(MediaAddresses {
            rtp: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40000),
            rtcp: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40001),
        });
        peer_cfg.fast_start = false;
        let mut peer = Call::incoming(peer_cfg);
        let mut conn = None;
        while let Some(io) = leg.poll_io() {
            if let H323Io::Send { conn: c, bytes } = io {
                conn = Some(c);
                peer.handle_signalling_bytes(t0, &bytes);
            }
        }
        let conn = conn.expect("the Setup was sent");
        assert!(matches!(peer.poll_event(), Some(Event::Setup(_))));
        peer.proceeding(t0);
        peer.answer(t0);
        while let Some(t) = peer.poll_transmit() {
            if t.channel == Channel::Signalling {
                leg.handle_bytes(&mut core, t0, conn, &t.bytes);
            }
        }
        let connects = |core: &mut Core| {
            std::iter::from_fn(|| core.poll_action())
                .filter(|a| {
                    matches!(
                        a,
                        Action::Deliver {
                            msg: Delivery::Connect { .. },
                            ..
                        }
                    )
                })
                .count()
        };
        assert_eq!(connects(&mut core), 0, "Connect held for H.245");
        let hold_end = t0 + CONNECT_HOLD;
        assert!(leg.poll_timeout().is_some_and(|t| t <= hold_end));
        leg.handle_timeout(&mut core, hold_end);
        assert_eq!(connects(&mut core), 1, "Connect passed on after the hold");
    }

    #[test]
    fn codec_order_follows_the_other_side() {
        assert_eq!(codecs(Law::MuLaw), vec![G711::MuLaw, G711::ALaw]);
        assert_eq!(codecs(Law::ALaw), vec![G711::ALaw, G711::MuLaw]);
    }
}
