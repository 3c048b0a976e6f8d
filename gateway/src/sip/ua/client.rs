//! What the endpoint does as a client beyond calls: registering itself to a registrar
//! (RFC 3261 §10.2) with refreshes, OPTIONS pings to peers (keep-alive and health), and
//! answering digest challenges (§22.2) for INVITE and REGISTER.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Endpoint, TxRef, UaEvent};
use crate::sip::digest::Challenge;
use crate::sip::header::{Header, ProxyAuthenticate, WwwAuthenticate};
use crate::sip::transport::Target;
use crate::sip::{HeaderName, Method, RequestBuilder, SipMessage, StatusCode};

/// Credentials the endpoint answers challenges with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Only for this realm; any realm when `None`.
    pub realm: Option<String>,
    pub username: String,
    pub password: String,
}

/// Identifies a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegHandle(pub(super) u64);

/// What to register.
#[derive(Debug, Clone)]
pub struct RegistrationSpec {
    /// Request-URI of the REGISTER (`sip:registrar.example.net`).
    pub registrar: String,
    /// Address of record, for From and To (`sip:gw@example.net`).
    pub aor: String,
    pub target: Target,
    /// Expiry asked for, seconds.
    pub expires: u32,
}

pub(super) struct Registration {
    pub spec: RegistrationSpec,
    pub call_id: String,
    pub tag: String,
    pub cseq: u32,
    /// Challenges answered in a row (one retry per challenge, §22.2).
    pub auth_tries: u8,
    /// 423 answers taken at their word in a row (reset by a 2xx).
    pub too_brief: u8,
    /// When to send the next REGISTER.
    pub refresh_at: Option<Instant>,
    /// Unregister (expires 0) in progress: no refresh after it.
    pub removing: bool,
    /// A REGISTER of this registration awaits its final response: no other may be sent
    /// before it (RFC 3261 §10.2).
    pub pending: bool,
    /// The REGISTER with expires 0 went out (a removal asked for while another was
    /// pending waits for that one's answer).
    pub removal_sent: bool,
}

/// 423 Interval Too Brief answers followed at once in a row: a registrar raising its
/// minimum at every answer is then retried like any failure, a minute later.
const MAX_TOO_BRIEF: u8 = 2;

/// When a binding of `expires` seconds is refreshed: a tenth of it before it expires, at
/// least 5 s and at most 60 s before (so a 3600 s binding is renewed after 3540 s), but
/// never before half of it has passed nor within a second: a registrar that grants a few
/// seconds (or none) would otherwise be sent one REGISTER after another without pause.
fn refresh_after(expires: u32) -> Duration {
    let margin = (expires / 10).clamp(5, 60);
    Duration::from_secs(u64::from(
        expires.saturating_sub(margin).max(expires / 2).max(1),
    ))
}

impl Endpoint {
    /// Forget the credentials given so far (a reload gives the new ones).
    pub fn clear_credentials(&mut self) {
        self.credentials.clear();
    }

    /// Answer challenges for `realm` (or any realm) with these credentials.
    pub fn add_credentials(&mut self, realm: Option<&str>, username: &str, password: &str) {
        self.credentials.push(Credential {
            realm: realm.map(str::to_string),
            username: username.to_string(),
            password: password.to_string(),
        });
    }

    /// The Authorization (or Proxy-Authorization) field answering the challenge in a 401
    /// (407) `response`, for a request `method` to `uri`.
    pub(super) fn authorization_for(
        &mut self,
        response: &SipMessage,
        method: &str,
        uri: &str,
    ) -> Option<(&'static str, String)> {
        let (name, challenge) = challenge_in(response)?;
        let cred = self
            .credentials
            .iter()
            .find(|c| c.realm.as_deref().is_none_or(|r| r == challenge.realm))?
            .clone();
        let cnonce = self.ids.tag();
        Some((
            name,
            challenge.respond(method, uri, &cred.username, &cred.password, &cnonce, 1),
        ))
    }

    /// Register `spec.aor` at the registrar and keep it registered; the outcome comes as
    /// [`UaEvent::Registered`] / [`UaEvent::RegistrationFailed`], again at each refresh.
    pub fn register(&mut self, now: Instant, spec: RegistrationSpec) -> RegHandle {
        let h = RegHandle(self.handle());
        let reg = Registration {
            call_id: format!("{}@{}", self.ids.call_id(), self.config.contact_user),
            tag: self.ids.tag(),
            cseq: 0,
            auth_tries: 0,
            too_brief: 0,
            refresh_at: None,
            removing: false,
            pending: false,
            removal_sent: false,
            spec,
        };
        self.registrations.insert(h, reg);
        self.send_register(now, h, None);
        h
    }

    /// Remove the binding (REGISTER with expires 0), at once or, while a REGISTER of
    /// it awaits its answer, right after that answer (RFC 3261 §10.2: one at a time).
    pub fn unregister(&mut self, now: Instant, h: RegHandle) {
        let Some(r) = self.registrations.get_mut(&h) else {
            return;
        };
        r.removing = true;
        r.refresh_at = None;
        if !r.pending {
            self.send_register(now, h, None);
        }
    }

    pub(super) fn send_register(
        &mut self,
        now: Instant,
        h: RegHandle,
        auth: Option<(&'static str, String)>,
    ) {
        let Some(protocol) = self.registrations.get(&h).map(|r| r.spec.target.protocol) else {
            return;
        };
        let via = self.via(protocol);
        let contact = self.contact(protocol);
        let Some(r) = self.registrations.get_mut(&h) else {
            return;
        };
        r.cseq += 1;
        r.pending = true;
        r.removal_sent |= r.removing;
        let expires = if r.removing { 0 } else { r.spec.expires };
        let mut b = RequestBuilder::new(Method::Register, &r.spec.registrar)
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header("From", format!("<{}>;tag={}", r.spec.aor, r.tag))
            .header("To", format!("<{}>", r.spec.aor))
            .header("Call-ID", &r.call_id)
            .header("CSeq", format!("{} REGISTER", r.cseq))
            .header("Contact", format!("<{contact}>;expires={expires}"))
            .header("Expires", expires.to_string())
            .header("User-Agent", &self.config.user_agent);
        if let Some((name, value)) = auth {
            b.push_header(name, value);
        }
        let target = r.spec.target;
        let bytes = b.build();
        self.start_other(now, bytes, target, Some(Owner::Register(h)));
    }

    /// Send OPTIONS to `target` (keep-alive and health check of a peer, RFC 3261 §11);
    /// the answer comes as [`UaEvent::PingResult`].
    pub fn ping(&mut self, now: Instant, target: Target, request_uri: &str) {
        let via = self.via(target.protocol);
        let tag = self.ids.tag();
        let call_id = self.ids.call_id();
        let bytes = RequestBuilder::new(Method::Options, request_uri)
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header(
                "From",
                format!(
                    "<sip:{}@{}>;tag={tag}",
                    self.config.contact_user,
                    target.addr.ip()
                ),
            )
            .header("To", format!("<{request_uri}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", "1 OPTIONS")
            .header("Accept", "application/sdp")
            .header("User-Agent", &self.config.user_agent)
            .build();
        self.start_other(now, bytes, target, Some(Owner::Ping(target)));
    }

    /// A final outcome of a REGISTER or OPTIONS we sent.
    pub(super) fn on_owned_result(
        &mut self,
        now: Instant,
        owner: Owner,
        status: u16,
        response: Option<SipMessage>,
    ) {
        match owner {
            Owner::Ping(target) => self
                .events
                .push_back(UaEvent::PingResult { target, status }),
            Owner::Register(h) => {
                let Some(r) = self.registrations.get_mut(&h) else {
                    return;
                };
                r.pending = false;
                if r.removing && !r.removal_sent {
                    // The answer to the REGISTER before the removal: now the removal.
                    r.auth_tries = 0;
                    self.send_register(now, h, None);
                    return;
                }
                if (status == 401 || status == 407)
                    && self.registrations.get(&h).is_some_and(|r| {
                        response
                            .as_ref()
                            .is_some_and(|resp| answers_challenge(r.auth_tries, resp))
                    })
                {
                    let uri = self.registrations[&h].spec.registrar.clone();
                    if let Some(auth) = response
                        .as_ref()
                        .and_then(|r| self.authorization_for(r, "REGISTER", &uri))
                    {
                        if let Some(r) = self.registrations.get_mut(&h) {
                            r.auth_tries += 1;
                        }
                        self.send_register(now, h, Some(auth));
                        return;
                    }
                }
                let Some(r) = self.registrations.get_mut(&h) else {
                    return;
                };
                r.auth_tries = 0;
                if (200..300).contains(&status) {
                    r.too_brief = 0;
                    if r.removing {
                        self.registrations.remove(&h);
                        self.events.push_back(UaEvent::Registered {
                            handle: h,
                            expires: 0,
                        });
                        return;
                    }
                    // The registrar may shorten the expiry (§10.2.4): read it back.
                    let granted = response
                        .as_ref()
                        .and_then(|m| {
                            m.get::<crate::sip::header::Expires>()
                                .ok()
                                .flatten()
                                .map(|e| e.0)
                        })
                        .unwrap_or(r.spec.expires)
                        .max(1);
                    let at = now + refresh_after(granted);
                    r.refresh_at = Some(at);
                    self.schedule(TxRef::Register(h), Some(at));
                    self.events.push_back(UaEvent::Registered {
                        handle: h,
                        expires: granted,
                    });
                } else if let Some(min) = (status == StatusCode::INTERVAL_TOO_BRIEF.code()
                    && !r.removing
                    && r.too_brief < MAX_TOO_BRIEF)
                    .then(|| {
                        response
                            .as_ref()?
                            .get::<crate::sip::header::MinExpires>()
                            .ok()?
                    })
                    .flatten()
                    .map(|m| m.0)
                    .filter(|&m| m > r.spec.expires)
                {
                    // 423 Interval Too Brief: ask again at once for the registrar's
                    // minimum (RFC 3261 §10.2.8); a Min-Expires no longer than what we asked
                    // is no way forward, and waits like any other failure.
                    tracing::info!(
                        registrar = %r.spec.registrar,
                        asked = r.spec.expires,
                        min,
                        "registration interval too brief; asking for the registrar's minimum"
                    );
                    r.spec.expires = min;
                    r.too_brief += 1;
                    self.send_register(now, h, None);
                } else {
                    // Try again in a minute (a registrar restart must not lose us for good).
                    let at = now + Duration::from_secs(60);
                    r.refresh_at = Some(at);
                    self.schedule(TxRef::Register(h), Some(at));
                    self.events
                        .push_back(UaEvent::RegistrationFailed { handle: h, status });
                }
            }
        }
    }

    /// A registration's refresh timer fired.
    pub(super) fn refresh_registration(&mut self, now: Instant, h: RegHandle) {
        if self
            .registrations
            .get(&h)
            .is_some_and(|r| r.refresh_at.is_some_and(|t| t <= now))
        {
            if let Some(r) = self.registrations.get_mut(&h) {
                r.refresh_at = None;
            }
            self.send_register(now, h, None);
        }
    }

    fn start_other(&mut self, now: Instant, bytes: Bytes, target: Target, owner: Option<Owner>) {
        if let (Some(owner), Ok(msg)) = (owner, SipMessage::parse(bytes.clone())) {
            if let Ok(key) = crate::sip::transaction::ClientKey::of(&msg) {
                self.owners.insert(key, owner);
            }
        }
        self.start_client(now, bytes, target, None);
    }
}

/// Who waits for a non-call client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Register(RegHandle),
    Ping(Target),
}

/// The Digest challenge of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate), and the
/// field that answers it.
fn challenge_in(response: &SipMessage) -> Option<(&'static str, Challenge)> {
    let (name, value) = match response.status()?.code() {
        401 => (
            "Authorization",
            WwwAuthenticate::parse(
                std::str::from_utf8(response.header_value(&HeaderName::WwwAuthenticate)?).ok()?,
            )
            .ok()?
            .0,
        ),
        407 => (
            "Proxy-Authorization",
            ProxyAuthenticate::parse(
                std::str::from_utf8(response.header_value(&HeaderName::ProxyAuthenticate)?).ok()?,
            )
            .ok()?
            .0,
        ),
        _ => return None,
    };
    Some((name, Challenge::from_credentials(&value).ok()?))
}

/// Whether a request whose challenges were answered `tries` times in a row answers the one
/// in `response` too: the first always (RFC 3261 §22.2), a second only when it says our
/// answer was right but its nonce not valid (`stale=true`, RFC 7616 §3.3: a nonce that
/// expired, or one the server no longer knows after a restart). Never more: a server that
/// keeps challenging is refusing.
pub(super) fn answers_challenge(tries: u8, response: &SipMessage) -> bool {
    tries == 0 || (tries == 1 && challenge_in(response).is_some_and(|(_, c)| c.stale))
}
