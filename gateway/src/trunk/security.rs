//! Trunk security in front of a SIP trunk's endpoint: the allow-list and the per-source rate
//! limit of [`crate::sip::guard`] applied to every message the trunk's transport receives,
//! before the transaction layer sees it.
//!
//! - A source outside the trunk's `allow` list gets 403 Forbidden (RFC 3261 §21.4.4), or
//!   nothing at all with `reject = "silent"`; ACKs from it are dropped. Responses pass
//!   from anywhere: they only ever match our own client transactions (a registrar or a
//!   redirect target may well sit outside the allow-list), the rest is dropped by the
//!   transaction layer.
//! - A source that opens dialogs faster than `rate_limit` per second gets 503 Service
//!   Unavailable with `Retry-After` (RFC 3261 §21.5.4, §20.33), answered statelessly so
//!   that a flood costs no transaction state.
//! - Calls in progress are never hurt: requests inside a dialog (To tag), ACK and CANCEL
//!   do not count against the rate, nor do INVITEs that repeat the Call-ID of an INVITE
//!   accepted in the last 32 s (retransmissions, RFC 3578 overlap INVITEs).
//! - With `auth.challenge_inbound`, a request that opens a dialog (OPTIONS aside: peers
//!   ping with it) must carry Digest credentials of the trunk's `auth` user (RFC 3261
//!   §22.2, RFC 7616): without them it gets 401 with a fresh challenge; with a right
//!   answer over a nonce that went stale or that an earlier process issued (a restart),
//!   401 with `stale=true`; with a wrong answer, 403. Answered statelessly, as above: the
//!   nonces carry their own check (`DigestServer`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::SipTrunk;
use crate::sip::digest::{Algorithm, AuthError, DigestServer};
use crate::sip::guard::{Guard, TrunkAccess, Verdict};
use crate::sip::transport::{response_target, Incoming, Target};
use crate::sip::{HeaderName, ResponseBuilder, SipMessage, StatusCode};

/// How long an accepted INVITE's Call-ID is remembered: Timer B, 64·T1 (RFC 3261 §17.1.1.2).
const REMEMBER_INVITE: Duration = Duration::from_secs(32);

/// What to do with a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Hand it to the endpoint.
    Pass,
    /// Send this response instead (403 or 503), and forget the request.
    Reply(Target, Bytes),
    /// Forget it.
    Drop,
}

/// Counters of what the guard turned away, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScreenStats {
    pub forbidden: u64,
    pub dropped: u64,
    pub rate_limited: u64,
    /// 401 sent: a dialog-opening request without valid credentials (a stale nonce too).
    pub challenged: u64,
    /// 403 sent: credentials that did not check (wrong user or password).
    pub auth_failed: u64,
}

/// The Digest check of requests from the peer (`auth.challenge_inbound`).
#[derive(Debug)]
struct InboundAuth {
    server: DigestServer,
    realm: String,
    username: String,
    password: String,
}

fn inbound_auth(trunk: &SipTrunk) -> Option<InboundAuth> {
    let a = trunk.auth.as_ref().filter(|a| a.challenge_inbound)?;
    let realm = a.realm.clone().unwrap_or_else(|| "gatewayd".to_string());
    // A per-process key: the nonces of an earlier process no longer check, and their
    // requests, when the digest is right, get a stale challenge (the peer answers it
    // at once).
    let secret = getrandom::u64().unwrap_or(0).to_le_bytes().to_vec();
    Some(InboundAuth {
        server: DigestServer::new(&realm, secret),
        realm,
        username: a.username.clone(),
        password: a.password.clone(),
    })
}

/// The guard of one SIP trunk.
#[derive(Debug)]
pub struct TrunkGuard {
    guard: Guard,
    server: String,
    /// Call-IDs of INVITEs accepted lately (their retransmissions are not new dialogs).
    invites: HashMap<String, Instant>,
    last_prune: Option<Instant>,
    stats: ScreenStats,
    /// The trunk was removed from the configuration: its calls in progress finish, new
    /// dialogs get 503.
    closing: bool,
    auth: Option<InboundAuth>,
}

fn access(trunk: &SipTrunk) -> TrunkAccess {
    TrunkAccess {
        name: trunk.name.clone(),
        allow: trunk.allow.clone(),
        reject: trunk.reject,
        // 0 in the file: no limit.
        rate_per_s: if trunk.rate_limit == 0 {
            u32::MAX
        } else {
            trunk.rate_limit
        },
    }
}

impl TrunkGuard {
    /// The guard for `trunk`; `server` goes into the Server header of our refusals.
    pub fn new(trunk: &SipTrunk, server: &str) -> TrunkGuard {
        TrunkGuard {
            guard: Guard::new(vec![access(trunk)]),
            server: server.to_string(),
            invites: HashMap::new(),
            last_prune: None,
            stats: ScreenStats::default(),
            closing: false,
            auth: inbound_auth(trunk),
        }
    }

    /// Whether the trunk's allow-list takes `source` (RFC 3891 §6: a Replaces naming one
    /// of this trunk's dialogs that arrived on another trunk is honoured only then).
    pub fn allows(&self, source: std::net::IpAddr) -> bool {
        self.guard.allows(source)
    }

    /// New rules after a reload; the rate state of each source is kept.
    pub fn reload(&mut self, trunk: &SipTrunk) {
        self.guard.reload(vec![access(trunk)]);
        self.closing = false;
        // The same realm keeps its nonce key: a challenge answered across the reload
        // still checks.
        self.auth = match (self.auth.take(), inbound_auth(trunk)) {
            (Some(old), Some(new)) if old.realm == new.realm => Some(InboundAuth {
                username: new.username,
                password: new.password,
                ..old
            }),
            (_, new) => new,
        };
    }

    /// The trunk is gone from the configuration: requests inside dialogs (the calls in
    /// progress) still pass, anything new gets 503 Service Unavailable.
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether [`TrunkGuard::close`] was called (and no reload brought the trunk back).
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// What was turned away so far.
    pub fn stats(&self) -> ScreenStats {
        self.stats
    }

    /// Decide on one received message.
    pub fn screen(&mut self, now: Instant, incoming: &Incoming) -> Screen {
        let msg = &incoming.message;
        let ip = incoming.source.addr.ip();
        if !msg.is_request() {
            return Screen::Pass;
        }
        let method = msg.method().map(|m| m.as_str().to_string());
        let method = method.as_deref().unwrap_or("");
        let has_to_tag = msg.to().ok().is_some_and(|t| t.tag().is_some());
        let call_id = msg.call_id().map(|c| c.0.to_string()).unwrap_or_default();
        self.prune(now);
        let repeat = method == "INVITE" && self.invites.contains_key(&call_id);
        let starts_dialog = !has_to_tag && !matches!(method, "ACK" | "CANCEL") && !repeat;
        if self.closing && starts_dialog {
            self.stats.rate_limited += 1;
            return self.reply(msg, incoming.source, StatusCode::SERVICE_UNAVAILABLE, None);
        }
        match self.guard.check(now, ip, starts_dialog) {
            Verdict::Accept { .. } => {
                if starts_dialog && method != "OPTIONS" {
                    if let Some(refusal) = self.authenticate(msg, incoming.source, method) {
                        return refusal;
                    }
                }
                if method == "INVITE" && !has_to_tag {
                    self.invites.insert(call_id, now);
                }
                Screen::Pass
            }
            // §17.1.1.3: an ACK is never answered.
            _ if method == "ACK" => self.dropped(),
            Verdict::Drop => self.dropped(),
            Verdict::Forbidden => {
                self.stats.forbidden += 1;
                tracing::info!(source = %incoming.source.addr, method, "SIP request from a source not allowed: 403");
                self.reply(msg, incoming.source, StatusCode::FORBIDDEN, None)
            }
            Verdict::RateLimited { retry_after, .. } => {
                self.stats.rate_limited += 1;
                tracing::debug!(source = %incoming.source.addr, method, "SIP rate limit: 503");
                self.reply(
                    msg,
                    incoming.source,
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(("Retry-After", retry_after.to_string())),
                )
            }
        }
    }

    /// With `challenge_inbound`: `None` when `msg` carries credentials that check, else
    /// the 401 (challenge) or 403 (wrong credentials) to send.
    fn authenticate(&mut self, msg: &SipMessage, source: Target, method: &str) -> Option<Screen> {
        let auth = self.auth.as_mut()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stale = match msg
            .header_value(&HeaderName::Authorization)
            .map(String::from_utf8_lossy)
        {
            None => false,
            Some(value) => {
                let (user, password) = (&auth.username, &auth.password);
                match auth.server.verify(&value, method, now, |u| {
                    (u == user.as_str()).then(|| password.clone())
                }) {
                    Ok(_) => return None,
                    Err(AuthError::Stale) => true,
                    Err(e) => {
                        self.stats.auth_failed += 1;
                        tracing::info!(source = %source.addr, method, error = %e, "SIP credentials refused: 403");
                        return Some(self.reply(msg, source, StatusCode::FORBIDDEN, None));
                    }
                }
            }
        };
        let challenge = auth.server.challenge(now, Algorithm::Md5, stale);
        self.stats.challenged += 1;
        Some(self.reply(
            msg,
            source,
            StatusCode::UNAUTHORIZED,
            Some(("WWW-Authenticate", challenge.to_header_value())),
        ))
    }

    fn dropped(&mut self) -> Screen {
        self.stats.dropped += 1;
        Screen::Drop
    }

    /// A stateless response (RFC 3261 §8.2.6), sent where §18.2.2 says.
    fn reply(
        &self,
        req: &SipMessage,
        source: Target,
        status: StatusCode,
        extra: Option<(&str, String)>,
    ) -> Screen {
        let tag = format!("g{:x}", getrandom::u64().unwrap_or(0));
        let mut b = ResponseBuilder::from_request(req, status, None, Some(&tag));
        if let Some((name, value)) = extra {
            b.push_header(name, value);
        }
        b.push_header("Server", &self.server);
        let target = if source.protocol.is_reliable() {
            source
        } else {
            response_target(req, source.protocol).unwrap_or(source)
        };
        Screen::Reply(target, b.build())
    }

    fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_prune = Some(now);
        self.invites
            .retain(|_, t| now.saturating_duration_since(*t) < REMEMBER_INVITE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sip::transport::Protocol;

    fn trunk(extra: &str) -> SipTrunk {
        let text = format!(
            "[[sip_trunk]]\nname = \"pbx\"\nlisten = \"127.0.0.1:5060\"\n\
             peers = [\"192.0.2.10:5060\"]\n{extra}"
        );
        Config::from_str(&text, "t.toml").unwrap().sip_trunks[0].clone()
    }

    fn incoming(from: &str, method: &str, call_id: &str, to_tag: bool) -> Incoming {
        let tag = if to_tag { ";tag=t1" } else { "" };
        let text = format!(
            "{method} sip:0301234@192.0.2.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from}:5060;branch=z9hG4bK{call_id}{method}\r\n\
             From: <sip:a@{from}>;tag=f1\r\nTo: <sip:0301234@192.0.2.1>{tag}\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Incoming {
            message: SipMessage::parse(Bytes::from(text)).unwrap(),
            source: Target {
                protocol: Protocol::Udp,
                addr: format!("{from}:5060").parse().unwrap(),
            },
            local: "192.0.2.1:5060".parse().unwrap(),
        }
    }

    fn status(s: &Screen) -> Option<u16> {
        match s {
            Screen::Reply(_, b) => SipMessage::parse(b.clone())
                .ok()
                .and_then(|m| m.status())
                .map(|s| s.code()),
            _ => None,
        }
    }

    #[test]
    fn source_not_allowed_gets_403_or_silence() {
        let now = Instant::now();
        let mut g = TrunkGuard::new(&trunk(""), "gatewayd");
        assert_eq!(
            g.screen(now, &incoming("192.0.2.10", "INVITE", "a", false)),
            Screen::Pass
        );
        let s = g.screen(now, &incoming("192.0.2.11", "INVITE", "b", false));
        assert_eq!(status(&s), Some(403));
        let Screen::Reply(target, _) = s else {
            unreachable!()
        };
        assert_eq!(target.addr, "192.0.2.11:5060".parse().unwrap());
        // The ACK for our 403 is not answered.
        assert_eq!(
            g.screen(now, &incoming("192.0.2.11", "ACK", "b", true)),
            Screen::Drop
        );
        let mut g = TrunkGuard::new(&trunk("reject = \"silent\"\n"), "gatewayd");
        assert_eq!(
            g.screen(now, &incoming("192.0.2.11", "OPTIONS", "c", false)),
            Screen::Drop
        );
        assert_eq!(g.stats().dropped, 1);
    }

    /// The INVITE of `incoming`, answering `challenge` (a 401's WWW-Authenticate).
    fn answering(challenge: &str, password: &str, call_id: &str) -> Incoming {
        let c = crate::sip::digest::Challenge::parse_header(challenge).unwrap();
        let authorization = c.respond(
            "INVITE",
            "sip:0301234@192.0.2.1",
            "gateway",
            password,
            "c0ffee",
            1,
        );
        let mut i = incoming("192.0.2.10", "INVITE", call_id, false);
        let text = String::from_utf8_lossy(i.message.as_bytes()).replacen(
            "Max-Forwards",
            &format!("Authorization: {authorization}\r\nMax-Forwards"),
            1,
        );
        i.message = SipMessage::parse(Bytes::from(text)).unwrap();
        i
    }

    fn www_authenticate(s: &Screen) -> String {
        let Screen::Reply(_, b) = s else {
            panic!("no reply: {s:?}")
        };
        let m = SipMessage::parse(b.clone()).unwrap();
        String::from_utf8_lossy(m.header_value(&HeaderName::WwwAuthenticate).unwrap()).into_owned()
    }

    #[test]
    fn inbound_challenge_and_a_nonce_from_before_a_restart() {
        let now = Instant::now();
        let t = trunk(
            "auth = { username = \"gateway\", password = \"pw\", challenge_inbound = true }\n",
        );
        let mut before = TrunkGuard::new(&t, "gatewayd");
        let s = before.screen(now, &incoming("192.0.2.10", "INVITE", "a", false));
        assert_eq!(status(&s), Some(401));
        let old = www_authenticate(&s);
        assert!(!old.contains("stale"), "{old}");
        assert_eq!(
            before.screen(now, &answering(&old, "pw", "a")),
            Screen::Pass
        );
        // A new process (another nonce key): the right answer to the old challenge is
        // challenged again as stale, not refused.
        let mut after = TrunkGuard::new(&t, "gatewayd");
        let s = after.screen(now, &answering(&old, "pw", "b"));
        assert_eq!(status(&s), Some(401));
        let fresh = www_authenticate(&s);
        assert!(fresh.contains("stale=true"), "{fresh}");
        assert_eq!(
            after.screen(now, &answering(&fresh, "pw", "b")),
            Screen::Pass
        );
        // A wrong password is refused, over an old nonce or a fresh one.
        assert_eq!(
            status(&after.screen(now, &answering(&old, "no", "c"))),
            Some(403)
        );
        assert_eq!(
            status(&after.screen(now, &answering(&fresh, "no", "d"))),
            Some(403)
        );
        assert_eq!(after.stats().auth_failed, 2);
    }

    #[test]
    fn cidr_allow_list() {
        let now = Instant::now();
        let mut g = TrunkGuard::new(&trunk("allow = [\"198.51.100.0/24\"]\n"), "gw");
        assert_eq!(
            g.screen(now, &incoming("198.51.100.77", "INVITE", "a", false)),
            Screen::Pass
        );
        assert_eq!(
            status(&g.screen(now, &incoming("192.0.2.10", "INVITE", "b", false))),
            Some(403),
            "an explicit allow-list replaces the peers"
        );
    }

    #[test]
    fn flood_gets_503_with_retry_after_and_calls_in_progress_go_on() {
        let t0 = Instant::now();
        let mut g = TrunkGuard::new(&trunk("rate_limit = 3\n"), "gw");
        let src = "192.0.2.10";
        let passed = (0..10)
            .filter(|i| {
                g.screen(t0, &incoming(src, "INVITE", &format!("f{i}"), false)) == Screen::Pass
            })
            .count();
        assert_eq!(passed, 3);
        let s = g.screen(t0, &incoming(src, "INVITE", "f99", false));
        assert_eq!(status(&s), Some(503));
        let Screen::Reply(_, bytes) = s else {
            unreachable!()
        };
        let m = SipMessage::parse(bytes).unwrap();
        let retry = m
            .headers()
            .find(|h| h.name.eq_ignore_ascii_case(b"Retry-After"))
            .and_then(|h| h.value_str());
        assert_eq!(retry, Some("1"));
        // In-dialog requests, CANCEL and a retransmitted INVITE of an accepted call pass.
        for (method, id, tag) in [
            ("BYE", "f0", true),
            ("CANCEL", "f1", false),
            ("INVITE", "f2", false),
            ("INVITE", "f0", true),
        ] {
            assert_eq!(
                g.screen(t0, &incoming(src, method, id, tag)),
                Screen::Pass,
                "{method} {id}"
            );
        }
        assert_eq!(g.stats().rate_limited, 8);
        // A second later the source may call again.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            g.screen(t1, &incoming(src, "INVITE", "g", false)),
            Screen::Pass
        );
    }

    #[test]
    fn a_closing_trunk_refuses_new_dialogs_but_serves_calls_in_progress() {
        let now = Instant::now();
        let mut g = TrunkGuard::new(&trunk(""), "gw");
        assert_eq!(
            g.screen(now, &incoming("192.0.2.10", "INVITE", "a", false)),
            Screen::Pass
        );
        g.close();
        assert_eq!(
            status(&g.screen(now, &incoming("192.0.2.10", "INVITE", "b", false))),
            Some(503)
        );
        assert_eq!(
            g.screen(now, &incoming("192.0.2.10", "BYE", "a", true)),
            Screen::Pass
        );
        g.reload(&trunk(""));
        assert_eq!(
            g.screen(now, &incoming("192.0.2.10", "INVITE", "c", false)),
            Screen::Pass
        );
    }

    #[test]
    fn zero_rate_limit_means_none_and_responses_pass() {
        let now = Instant::now();
        let mut g = TrunkGuard::new(&trunk("rate_limit = 0\n"), "gw");
        for i in 0..500 {
            assert_eq!(
                g.screen(
                    now,
                    &incoming("192.0.2.10", "INVITE", &format!("x{i}"), false)
                ),
                Screen::Pass
            );
        }
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n\
                    From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r\r\n\
                    CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let mut resp = incoming("203.0.113.5", "INVITE", "r", false);
        resp.message = SipMessage::parse(Bytes::from_static(text.as_bytes())).unwrap();
        assert_eq!(g.screen(now, &resp), Screen::Pass);
    }
}
