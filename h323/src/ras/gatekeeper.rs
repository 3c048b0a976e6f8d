//! A minimal gatekeeper (RAS only), sans-IO, to test endpoints against: it answers GRQ
//! (GCF), RRQ full and keep-alive (RCF with an endpoint identifier it assigns and a
//! timeToLive; RRJ `fullRegistrationRequired` for a keep-alive it cannot match), ARQ
//! (ACF with a call signalling address from its alias table, from the registered
//! endpoints' aliases or E.164 prefixes; ARJ otherwise), DRQ (DCF) and URQ (UCF). It
//! expires registrations whose TTL ran out, can be [restarted](Gatekeeper::restart)
//! (forgets every registration and call) or [silenced](Gatekeeper::set_silent) (answers
//! nothing), and sends its own URQ, DRQ, IRQ and BRQ to a registered endpoint.
//!
//! No bandwidth management, no gatekeeper-routed calls, no security, no alternate
//! gatekeepers: it is a test double, not a product.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use h323_asn1::h225 as asn;
use tracing::debug;

use super::client::{choice_name, Transmit};
use super::confirm::{self, Registration};
use super::{bmp_string, decode, encode, message_name, sequence_number, RasError};
use crate::h225::ids::{aliases_from_asn, socket_addr};
use crate::h225::{Alias, Guid};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperConfig {
    pub gatekeeper_id: String,
    /// Our RAS address, announced in GCF.
    pub ras_address: SocketAddrV4,
    /// The longest registration we grant, in seconds (`None`: registrations never expire
    /// and RCF carries no timeToLive).
    pub time_to_live: Option<u32>,
    /// Static routes: an alias and the call signalling address ARQ gets for it.
    pub routes: Vec<(Alias, SocketAddrV4)>,
    /// How to reject a keep-alive RRQ from an endpoint we do not know (after a restart):
    /// `fullRegistrationRequired` (default) or `discoveryRequired`.
    pub forgotten_reason: asn::RegistrationRejectReason,
}

impl GatekeeperConfig {
    pub fn new(gatekeeper_id: &str, ras_address: SocketAddrV4) -> Self {
        Self {
            gatekeeper_id: gatekeeper_id.into(),
            ras_address,
            time_to_live: Some(60),
            routes: Vec::new(),
            forgotten_reason: asn::RegistrationRejectReason::fullRegistrationRequired(()),
        }
    }
}

/// An endpoint registered with us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub endpoint_id: String,
    pub ras_address: SocketAddrV4,
    pub call_signal_addresses: Vec<SocketAddrV4>,
    pub aliases: Vec<Alias>,
    /// E.164 prefixes of a gateway (GatewayInfo voice supportedPrefixes).
    pub prefixes: Vec<String>,
    pub expires: Option<Instant>,
    pub keep_alives: u32,
}

impl Registered {
    /// The RCF for this registration as it now stands (H.225.0 §7.9.2): the answer to a
    /// full RRQ and to a lightweight one (§7.9.1 keepAlive) alike.
    fn confirm(
        &self,
        seq: u16,
        gatekeeper_id: &str,
        time_to_live: Option<u32>,
    ) -> Result<asn::RasMessage, RasError> {
        confirm::registration_confirm(
            seq,
            &Registration {
                call_signal_addresses: &self.call_signal_addresses,
                aliases: &self.aliases,
                gatekeeper_id,
                endpoint_id: &self.endpoint_id,
                time_to_live,
            },
        )
    }
}

/// A call we admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedCall {
    pub endpoint_id: String,
    pub call_id: Option<Guid>,
    pub conference_id: Guid,
    pub call_ref: u16,
    pub bandwidth: u32,
    pub answer_call: bool,
}

/// What happened, for tests to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatekeeperEvent {
    /// Every RAS message received (name and sequence number).
    Received {
        from: SocketAddrV4,
        message: &'static str,
        seq: u16,
    },
    Registered {
        endpoint_id: String,
    },
    KeepAlive {
        endpoint_id: String,
    },
    /// A keep-alive from an endpoint we do not know was rejected.
    Forgotten {
        endpoint_id: String,
    },
    Expired {
        endpoint_id: String,
    },
    Unregistered {
        endpoint_id: String,
    },
    Admitted {
        endpoint_id: String,
        call_id: Option<Guid>,
        destination: SocketAddrV4,
    },
    AdmissionRejected {
        endpoint_id: String,
        reason: String,
    },
    Disengaged {
        endpoint_id: String,
        call_id: Option<Guid>,
    },
    Restarted,
}

/// The gatekeeper double. Feed it with [`handle_datagram`](Self::handle_datagram) and
/// [`handle_timeout`](Self::handle_timeout); send what [`poll_transmit`](Self::poll_transmit)
/// gives.
#[derive(Debug)]
pub struct Gatekeeper {
    config: GatekeeperConfig,
    registrations: Vec<Registered>,
    calls: Vec<AdmittedCall>,
    next_endpoint: u32,
    next_seq: u16,
    silent: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<GatekeeperEvent>,
}

impl Gatekeeper {
    pub fn new(config: GatekeeperConfig) -> Self {
        Self {
            config,
            registrations: Vec::new(),
            calls: Vec::new(),
            next_endpoint: 1,
            next_seq: 1,
            silent: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &GatekeeperConfig {
        &self.config
    }

    pub fn registrations(&self) -> &[Registered] {
        &self.registrations
    }

    pub fn registration(&self, endpoint_id: &str) -> Option<&Registered> {
        self.registrations
            .iter()
            .find(|r| r.endpoint_id == endpoint_id)
    }

    pub fn calls(&self) -> &[AdmittedCall] {
        &self.calls
    }

    /// Forget every registration and call, as a gatekeeper that restarted. Endpoint
    /// identifiers assigned after this differ from the ones before.
    pub fn restart(&mut self) {
        self.registrations.clear();
        self.calls.clear();
        self.transmits.clear();
        self.events.push_back(GatekeeperEvent::Restarted);
    }

    /// A silent gatekeeper drops everything it receives (it is down).
    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<GatekeeperEvent> {
        self.events.pop_front()
    }

    /// The next registration expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.registrations.iter().filter_map(|r| r.expires).min()
    }

    /// Expire registrations whose TTL ran out.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.registrations)
            .into_iter()
            .partition(|r| r.expires.is_some_and(|t| t <= now));
        self.registrations = kept;
        for r in gone {
            debug!(endpoint_id = %r.endpoint_id, "registration expired");
            self.calls.retain(|c| c.endpoint_id != r.endpoint_id);
            self.events.push_back(GatekeeperEvent::Expired {
                endpoint_id: r.endpoint_id,
            });
        }
    }

    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddrV4, bytes: &[u8]) {
        self.handle_timeout(now);
        if self.silent {
            return;
        }
        let Ok(msg) = decode(bytes) else {
            debug!(%from, "gatekeeper: undecodable RAS datagram dropped");
            return;
        };
        let message = message_name(&msg);
        let seq = sequence_number(&msg).unwrap_or(0);
        self.events
            .push_back(GatekeeperEvent::Received { from, message, seq });
        let answer = match &msg {
            asn::RasMessage::gatekeeperRequest(grq) => self.on_grq(seq, grq),
            asn::RasMessage::registrationRequest(rrq) => self.on_rrq(now, from, seq, rrq),
            asn::RasMessage::unregistrationRequest(urq) => Ok(self.on_urq(seq, urq)),
            asn::RasMessage::admissionRequest(arq) => Ok(self.on_arq(seq, arq)),
            asn::RasMessage::disengageRequest(drq) => Ok(self.on_drq(seq, drq)),
            // Answers to our own requests are only logged (the Received event).
            _ => return,
        };
        match answer.and_then(|m| encode(&m)) {
            Ok(payload) => self.transmits.push_back(Transmit {
                destination: from,
                payload,
            }),
            Err(e) => debug!(error = %e, "gatekeeper answer not encoded"),
        }
    }

    fn on_grq(
        &mut self,
        seq: u16,
        grq: &asn::GatekeeperRequest,
    ) -> Result<asn::RasMessage, RasError> {
        let wanted = grq.gatekeeper_identifier.as_ref().map(|g| bmp_string(&g.0));
        if wanted.is_some_and(|w| w != self.config.gatekeeper_id) {
            return confirm::gatekeeper_reject(
                seq,
                Some(&self.config.gatekeeper_id),
                asn::GatekeeperRejectReason::terminalExcluded(()),
            );
        }
        confirm::gatekeeper_confirm(seq, &self.config.gatekeeper_id, self.config.ras_address)
    }

    fn granted_ttl(&self, asked: Option<u32>) -> Option<u32> {
        match (self.config.time_to_live, asked) {
            (Some(ours), Some(theirs)) => Some(ours.min(theirs).max(1)),
            (Some(ours), None) => Some(ours),
            (None, _) => None,
        }
    }

    fn on_rrq(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        seq: u16,
        rrq: &asn::RegistrationRequest,
    ) -> Result<asn::RasMessage, RasError> {
        let gk_id = self.config.gatekeeper_id.clone();
        if let Some(g) = &rrq.gatekeeper_identifier {
            if bmp_string(&g.0) != gk_id {
                return confirm::registration_reject(
                    seq,
                    Some(&gk_id),
                    asn::RegistrationRejectReason::undefinedReason(()),
                );
            }
        }
        let ttl = self.granted_ttl(rrq.time_to_live.as_ref().map(|t| t.0));
        let expires = ttl.map(|t| now + Duration::from_secs(u64::from(t)));
        if rrq.keep_alive == Some(true) {
            // H.225.0 §7.9.1: a lightweight RRQ refreshes the registration it names.
            let ep = rrq
                .endpoint_identifier
                .as_ref()
                .map(|e| bmp_string(&e.0))
                .unwrap_or_default();
            let Some(r) = self.registrations.iter_mut().find(|r| r.endpoint_id == ep) else {
                self.events
                    .push_back(GatekeeperEvent::Forgotten { endpoint_id: ep });
                return confirm::registration_reject(
                    seq,
                    Some(&gk_id),
                    self.config.forgotten_reason.clone(),
                );
            };
            r.expires = expires;
            r.keep_alives += 1;
            self.events.push_back(GatekeeperEvent::KeepAlive {
                endpoint_id: r.endpoint_id.clone(),
            });
            return r.confirm(seq, &gk_id, ttl);
        }
        let ras_address = rrq.ras_address.iter().find_map(socket_addr).unwrap_or(from);
        let call_signal_addresses: Vec<SocketAddrV4> = rrq
            .call_signal_address
            .iter()
            .filter_map(socket_addr)
            .collect();
        let aliases = aliases_from_asn(rrq.terminal_alias.as_ref());
        let prefixes = gateway_prefixes(&rrq.terminal_type);
        // A full RRQ from an endpoint we know (same RAS address) keeps its identifier.
        let endpoint_id = match self
            .registrations
            .iter()
            .position(|r| r.ras_address == ras_address)
        {
            Some(i) => self.registrations.remove(i).endpoint_id,
            None => {
                let id = format!("EP-{:04}", self.next_endpoint);
                self.next_endpoint += 1;
                id
            }
        };
        let r = Registered {
            endpoint_id: endpoint_id.clone(),
            ras_address,
            call_signal_addresses,
            aliases,
            prefixes,
            expires,
            keep_alives: 0,
        };
        let answer = r.confirm(seq, &gk_id, ttl);
        self.registrations.push(r);
        self.events
            .push_back(GatekeeperEvent::Registered { endpoint_id });
        answer
    }

    fn on_urq(&mut self, seq: u16, urq: &asn::UnregistrationRequest) -> asn::RasMessage {
        let ep = urq.endpoint_identifier.as_ref().map(|e| bmp_string(&e.0));
        let csa: Vec<SocketAddrV4> = urq
            .call_signal_address
            .iter()
            .filter_map(socket_addr)
            .collect();
        let found = self.registrations.iter().position(|r| match &ep {
            Some(ep) => r.endpoint_id == *ep,
            None => r.call_signal_addresses.iter().any(|a| csa.contains(a)),
        });
        match found {
            Some(i) => {
                let r = self.registrations.remove(i);
                self.calls.retain(|c| c.endpoint_id != r.endpoint_id);
                self.events.push_back(GatekeeperEvent::Unregistered {
                    endpoint_id: r.endpoint_id,
                });
                confirm::unregistration_confirm(seq)
            }
            None => confirm::unregistration_reject(
                seq,
                asn::UnregRejectReason::notCurrentlyRegistered(()),
            ),
        }
    }

    /// Where a call to `aliases` goes: the static routes, then registered endpoints'
    /// aliases, then the longest registered gateway prefix of a dialled number.
    fn route(&self, aliases: &[Alias]) -> Option<SocketAddrV4> {
        for a in aliases {
            if let Some((_, addr)) = self.config.routes.iter().find(|(r, _)| r == a) {
                return Some(*addr);
            }
        }
        for a in aliases {
            if let Some(r) = self.registrations.iter().find(|r| r.aliases.contains(a)) {
                return r.call_signal_addresses.first().copied();
            }
        }
        let mut best: Option<(usize, SocketAddrV4)> = None;
        for a in aliases {
            let Alias::Dialled(digits) = a else { continue };
            for r in &self.registrations {
                for p in &r.prefixes {
                    if digits.starts_with(p.as_str()) && best.is_none_or(|(n, _)| p.len() > n) {
                        if let Some(addr) = r.call_signal_addresses.first() {
                            best = Some((p.len(), *addr));
                        }
                    }
                }
            }
        }
        best.map(|(_, a)| a)
    }

    fn on_arq(&mut self, seq: u16, arq: &asn::AdmissionRequest) -> asn::RasMessage {
        let ep = bmp_string(&arq.endpoint_identifier.0);
        let reject = |this: &mut Self, reason: asn::AdmissionRejectReason| {
            this.events.push_back(GatekeeperEvent::AdmissionRejected {
                endpoint_id: ep.clone(),
                reason: choice_name(&reason),
            });
            confirm::admission_reject(seq, reason)
        };
        let Some(caller) = self.registration(&ep).cloned() else {
            return reject(self, asn::AdmissionRejectReason::callerNotRegistered(()));
        };
        let destination = if arq.answer_call {
            // The callee asks: the call comes to its own signalling address.
            caller.call_signal_addresses.first().copied()
        } else {
            let aliases = aliases_from_asn(arq.destination_info.as_ref());
            self.route(&aliases)
                .or_else(|| arq.dest_call_signal_address.as_ref().and_then(socket_addr))
        };
        let Some(destination) = destination else {
            return reject(
                self,
                asn::AdmissionRejectReason::calledPartyNotRegistered(()),
            );
        };
        let call_id = arq
            .call_identifier
            .as_ref()
            .map(|c| Guid::from_asn(&c.guid));
        self.calls.push(AdmittedCall {
            endpoint_id: ep.clone(),
            call_id,
            conference_id: Guid::from_asn(&arq.conference_id.0),
            call_ref: arq.call_reference_value.0,
            bandwidth: arq.band_width.0,
            answer_call: arq.answer_call,
        });
        self.events.push_back(GatekeeperEvent::Admitted {
            endpoint_id: ep,
            call_id,
            destination,
        });
        confirm::admission_confirm(seq, arq.band_width.0, false, destination)
    }

    fn on_drq(&mut self, seq: u16, drq: &asn::DisengageRequest) -> asn::RasMessage {
        let ep = bmp_string(&drq.endpoint_identifier.0);
        if self.registration(&ep).is_none() {
            return confirm::disengage_reject(seq, asn::DisengageRejectReason::notRegistered(()));
        }
        let call_id = drq
            .call_identifier
            .as_ref()
            .map(|c| Guid::from_asn(&c.guid));
        let conf = Guid::from_asn(&drq.conference_id.0);
        let cr = drq.call_reference_value.0;
        self.calls.retain(|c| {
            !(c.endpoint_id == ep
                && match (call_id, c.call_id) {
                    (Some(a), Some(b)) => a == b,
                    _ => c.conference_id == conf && c.call_ref == cr,
                })
        });
        self.events.push_back(GatekeeperEvent::Disengaged {
            endpoint_id: ep,
            call_id,
        });
        confirm::disengage_confirm(seq)
    }

    // ---- the gatekeeper's own requests --------------------------------------------

    fn take_seq(&mut self) -> u16 {
        let s = self.next_seq;
        self.next_seq = if s == u16::MAX { 1 } else { s + 1 };
        s
    }

    fn send_to(
        &mut self,
        endpoint_id: &str,
        msg: Result<asn::RasMessage, RasError>,
    ) -> Result<u16, RasError> {
        let Some(r) = self.registration(endpoint_id) else {
            return Err(RasError::BadIdentifier(endpoint_id.into()));
        };
        let destination = r.ras_address;
        let msg = msg?;
        let seq = sequence_number(&msg).unwrap_or(0);
        self.transmits.push_back(Transmit {
            destination,
            payload: encode(&msg)?,
        });
        Ok(seq)
    }

    /// The conference identifier and call reference value the call was admitted with: a
    /// BRQ or DRQ names the call by these as well as by its call identifier (H.225.0
    /// §7.12.1). A call we do not know: its call identifier as the conference, CRV 0.
    fn admitted_as(&self, call_id: Guid) -> (Guid, u16) {
        self.calls
            .iter()
            .find(|c| c.call_id == Some(call_id))
            .map(|c| (c.conference_id, c.call_ref))
            .unwrap_or((call_id, 0))
    }

    /// Unregister an endpoint (URQ, reason `maintenance`) and forget it. Returns the URQ's
    /// sequence number; the endpoint's UCF shows up as a `Received` event.
    pub fn unregister(&mut self, endpoint_id: &str) -> Result<u16, RasError> {
        let seq = self.take_seq();
        let (csa, gk) = match self.registration(endpoint_id) {
            Some(r) => (
                r.call_signal_addresses.clone(),
                self.config.gatekeeper_id.clone(),
            ),
            None => return Err(RasError::BadIdentifier(endpoint_id.into())),
        };
        let msg = confirm::gatekeeper_unregistration_request(
            seq,
            &csa,
            endpoint_id,
            &gk,
            asn::UnregRequestReason::maintenance(()),
        );
        let sent = self.send_to(endpoint_id, msg);
        self.registrations.retain(|r| r.endpoint_id != endpoint_id);
        self.calls.retain(|c| c.endpoint_id != endpoint_id);
        sent
    }

    /// Ask an endpoint about its calls (IRQ; `call_ref` 0: all of them).
    pub fn info_request(&mut self, endpoint_id: &str, call_ref: u16) -> Result<u16, RasError> {
        let seq = self.take_seq();
        let msg = confirm::info_request(seq, call_ref, None, None);
        self.send_to(endpoint_id, Ok(msg))
    }

    /// Change a call's bandwidth (BRQ).
    pub fn bandwidth_request(
        &mut self,
        endpoint_id: &str,
        call_id: Guid,
        bandwidth: u32,
    ) -> Result<u16, RasError> {
        let seq = self.take_seq();
        let (conf, cr) = self.admitted_as(call_id);
        let msg =
            confirm::gatekeeper_bandwidth_request(seq, endpoint_id, cr, call_id, conf, bandwidth);
        self.send_to(endpoint_id, msg)
    }

    /// End a call from the gatekeeper's side (DRQ `forcedDrop`).
    pub fn disengage(&mut self, endpoint_id: &str, call_id: Guid) -> Result<u16, RasError> {
        let seq = self.take_seq();
        let (conf, cr) = self.admitted_as(call_id);
        let msg = confirm::gatekeeper_disengage_request(seq, endpoint_id, cr, call_id, conf);
        let sent = self.send_to(endpoint_id, msg);
        self.calls.retain(|c| c.call_id != Some(call_id));
        sent
    }
}

/// The dialled-digit prefixes of a gateway's EndpointType (GatewayInfo.protocol voice
/// supportedPrefixes).
fn gateway_prefixes(t: &asn::EndpointType) -> Vec<String> {
    let Some(protocols) = t.gateway.as_ref().and_then(|g| g.protocol.as_ref()) else {
        return Vec::new();
    };
    protocols
        .iter()
        .filter_map(|p| match p {
            asn::SupportedProtocols::voice(v) => v.supported_prefixes.as_ref(),
            _ => None,
        })
        .flatten()
        .filter_map(|p| match &p.prefix {
            asn::AliasAddress::dialledDigits(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}
