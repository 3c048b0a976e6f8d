//! HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616 with SHA-256,
//! RFC 8760): answering a challenge as UAC, and challenging a trunk peer as UAS.
//!
//! ```
//! use gateway::sip::digest::{Algorithm, Challenge, DigestServer};
//! let mut server = DigestServer::new("gw.example.net", b"secret-of-this-gateway".to_vec());
//! let challenge = server.challenge(1_000, Algorithm::Sha256, false);
//! let header = challenge.to_header_value();
//! assert!(header.starts_with("Digest realm=\"gw.example.net\""));
//! let auth = Challenge::parse_header(&header).unwrap().respond("INVITE", "sip:0301234@gw.example.net",
//!     "pbx", "pw", "c0ffee", 1);
//! assert!(server.verify(&auth, "INVITE", 1_010, |user| (user == "pbx").then(|| "pw".to_string())).is_ok());
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::sip::header::{Credentials, Header, WwwAuthenticate};

/// Digest algorithms (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    /// Parse the `algorithm` parameter; absent means MD5 (RFC 2617 §3.2.1).
    pub fn parse(s: Option<&str>) -> Option<Algorithm> {
        match s.map(str::to_ascii_uppercase).as_deref() {
            None | Some("MD5") => Some(Algorithm::Md5),
            Some("MD5-SESS") => Some(Algorithm::Md5Sess),
            Some("SHA-256") => Some(Algorithm::Sha256),
            Some("SHA-256-SESS") => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data.as_bytes()).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data.as_bytes()).to_vec(),
        };
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// The response digest (RFC 7616 §3.4.1; RFC 2617 §3.2.2 when `qop` is absent).
#[allow(clippy::too_many_arguments)]
fn response(
    alg: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop_auth: Option<(&str, &str)>,
) -> String {
    let mut ha1 = alg.hash(&format!("{username}:{realm}:{password}"));
    if alg.is_sess() {
        let cnonce = qop_auth.map_or("", |(_, c)| c);
        ha1 = alg.hash(&format!("{ha1}:{nonce}:{cnonce}"));
    }
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    match qop_auth {
        Some((nc, cnonce)) => alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => alg.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// Why a challenge or credentials are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("not a Digest challenge/credentials")]
    NotDigest,
    #[error("unsupported algorithm `{0}`")]
    Algorithm(String),
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("malformed header: {0}")]
    Malformed(String),
    #[error("unknown user or wrong realm")]
    UnknownUser,
    /// The digest is right but the nonce is invalid (expired, or not issued by this
    /// process): challenge again with `stale=true` (RFC 7616 §3.3).
    #[error("stale nonce")]
    Stale,
    #[error("nonce count replayed")]
    Replay,
    #[error("wrong response digest")]
    WrongResponse,
}

/// A Digest challenge (WWW-Authenticate / Proxy-Authenticate value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// Whether `qop` offers `auth` (we never do `auth-int`).
    pub qop_auth: bool,
    pub stale: bool,
}

impl Challenge {
    /// Read a challenge from parsed header credentials.
    pub fn from_credentials(c: &Credentials<'_>) -> Result<Challenge, AuthError> {
        if !c.is_digest() {
            return Err(AuthError::NotDigest);
        }
        let alg_param = c.param("algorithm");
        let algorithm = Algorithm::parse(alg_param.as_deref())
            .ok_or_else(|| AuthError::Algorithm(alg_param.unwrap_or_default().into_owned()))?;
        Ok(Challenge {
            realm: c
                .param("realm")
                .ok_or(AuthError::Missing("realm"))?
                .into_owned(),
            nonce: c
                .param("nonce")
                .ok_or(AuthError::Missing("nonce"))?
                .into_owned(),
            opaque: c.param("opaque").map(|o| o.into_owned()),
            algorithm,
            qop_auth: c
                .param("qop")
                .is_some_and(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth"))),
            stale: c
                .param("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Parse a WWW-Authenticate/Proxy-Authenticate header value.
    pub fn parse_header(value: &str) -> Result<Challenge, AuthError> {
        let h = WwwAuthenticate::parse(value)
            .map_err(|e| AuthError::Malformed(e.reason.to_string()))?;
        Challenge::from_credentials(&h.0)
    }

    /// The header value.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}",
            self.realm,
            self.nonce,
            self.algorithm.as_str()
        );
        if self.qop_auth {
            s.push_str(", qop=\"auth\"");
        }
        if let Some(o) = &self.opaque {
            let _ = write!(s, ", opaque=\"{o}\"");
        }
        if self.stale {
            s.push_str(", stale=true");
        }
        s
    }

    /// The Authorization/Proxy-Authorization value answering this challenge (UAC side).
    /// `cnonce` should be fresh random text; `nc` counts uses of this nonce from 1.
    pub fn respond(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let nc_text = format!("{nc:08x}");
        let qop = self.qop_auth.then_some((nc_text.as_str(), cnonce));
        let digest = response(
            self.algorithm,
            username,
            &self.realm,
            password,
            method,
            uri,
            &self.nonce,
            qop,
        );
        let mut s = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{digest}\", algorithm={}",
            self.realm,
            self.nonce,
            self.algorithm.as_str()
        );
        if self.qop_auth {
            let _ = write!(s, ", qop=auth, nc={nc_text}, cnonce=\"{cnonce}\"");
        }
        if let Some(o) = &self.opaque {
            let _ = write!(s, ", opaque=\"{o}\"");
        }
        s
    }
}

/// The UAS side: issues nonces that it can check without remembering them (a timestamp and
/// a keyed hash of it), refuses stale ones after `nonce_lifetime` seconds, and refuses
/// replayed nonce counts.
#[derive(Debug)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    /// Seconds a nonce stays valid.
    pub nonce_lifetime: u64,
    /// Highest nonce count seen per nonce (pruned as nonces go stale).
    seen: HashMap<String, u32>,
    serial: u64,
}

impl DigestServer {
    /// `secret` keys the nonces: random per process is fine (a restart only makes
    /// outstanding nonces stale).
    pub fn new(realm: &str, secret: Vec<u8>) -> Self {
        DigestServer {
            realm: realm.to_string(),
            secret,
            nonce_lifetime: 300,
            seen: HashMap::new(),
            serial: 0,
        }
    }

    /// `<issued>.<serial>.<keyed hash of both>`: checkable without state, and unique per
    /// challenge (clients restart `nc` at 1 for each nonce, so nonces must not repeat).
    fn nonce_for(&self, issued: u64, serial: u64) -> String {
        let mut keyed = String::with_capacity(64);
        let _ = write!(keyed, "{issued:x}.{serial:x}:");
        keyed.push_str(&String::from_utf8_lossy(&self.secret));
        format!(
            "{issued:x}.{serial:x}.{}",
            &Algorithm::Sha256.hash(&keyed)[..32]
        )
    }

    /// A fresh challenge at time `now` (seconds, any epoch).
    pub fn challenge(&mut self, now: u64, algorithm: Algorithm, stale: bool) -> Challenge {
        let cutoff = now.saturating_sub(self.nonce_lifetime);
        self.seen.retain(|n, _| {
            n.split('.')
                .next()
                .and_then(|t| u64::from_str_radix(t, 16).ok())
                .is_some_and(|t| t >= cutoff)
        });
        self.serial += 1;
        Challenge {
            realm: self.realm.clone(),
            nonce: self.nonce_for(now, self.serial),
            opaque: None,
            algorithm,
            qop_auth: true,
            stale,
        }
    }

    /// Check an Authorization value for a request with `method` at time `now`;
    /// `password_of` gives the password of a user (None: unknown).
    pub fn verify(
        &mut self,
        authorization: &str,
        method: &str,
        now: u64,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String, AuthError> {
        let h = crate::sip::header::Authorization::parse(authorization)
            .map_err(|e| AuthError::Malformed(e.reason.to_string()))?;
        let c = &h.0;
        if !c.is_digest() {
            return Err(AuthError::NotDigest);
        }
        let p = |n: &'static str| {
            c.param(n)
                .map(|v| v.into_owned())
                .ok_or(AuthError::Missing(n))
        };
        let username = p("username")?;
        let realm = p("realm")?;
        let nonce = p("nonce")?;
        let uri = p("uri")?;
        let given = p("response")?;
        let alg_param = c.param("algorithm");
        let alg = Algorithm::parse(alg_param.as_deref())
            .ok_or_else(|| AuthError::Algorithm(alg_param.unwrap_or_default().into_owned()))?;
        if realm != self.realm {
            return Err(AuthError::UnknownUser);
        }
        // When the nonce was issued, if it is one of ours (keyed by our secret): one we
        // did not issue (another process's, before a restart) is, like an expired one,
        // an invalid nonce under credentials that may be right.
        let mut parts = nonce.splitn(3, '.');
        let issued = match (parts.next(), parts.next()) {
            (Some(t), Some(n)) => u64::from_str_radix(t, 16)
                .ok()
                .zip(u64::from_str_radix(n, 16).ok())
                .filter(|&(t, n)| self.nonce_for(t, n) == nonce)
                .map(|(t, _)| t),
            _ => None,
        };
        let password = password_of(&username).ok_or(AuthError::UnknownUser)?;
        let qop = c.param("qop");
        let (nc, cnonce) = match qop.as_deref() {
            Some(q) if q.eq_ignore_ascii_case("auth") => (Some(p("nc")?), Some(p("cnonce")?)),
            Some(other) => return Err(AuthError::Malformed(format!("qop={other}"))),
            None => (None, None),
        };
        let expected = response(
            alg,
            &username,
            &realm,
            &password,
            method,
            &uri,
            &nonce,
            nc.as_deref().zip(cnonce.as_deref()),
        );
        // Compare without an early exit, so timing says nothing about the digest.
        let same = expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.to_ascii_lowercase().bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(AuthError::WrongResponse);
        }
        // RFC 7616 §3.3: a right digest over an invalid nonce (not ours, or expired) is
        // challenged again with `stale=true`, so the client retries without asking its
        // user; only a wrong digest is refused.
        match issued {
            Some(issued) if now <= issued + self.nonce_lifetime => {}
            _ => return Err(AuthError::Stale),
        }
        if let Some(nc) = nc {
            let n = u32::from_str_radix(&nc, 16).map_err(|_| AuthError::Malformed("nc".into()))?;
            let last = self.seen.entry(nonce).or_insert(0);
            if n <= *last {
                return Err(AuthError::Replay);
            }
            *last = n;
        }
        Ok(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5: the example exchange.
    #[test]
    fn rfc2617_example_response() {
        let r = response(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    /// RFC 7616 §3.9.1: the same request with MD5 and with SHA-256.
    #[test]
    fn rfc7616_examples() {
        let args = |alg| {
            response(
                alg,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
            )
        };
        assert_eq!(args(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
        assert_eq!(
            args(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn challenge_parse_and_respond() {
        let c = Challenge::parse_header(
            "Digest realm=\"asterisk\", nonce=\"abc\", qop=\"auth,auth-int\", opaque=\"o1\", algorithm=MD5",
        )
        .unwrap();
        assert!(c.qop_auth);
        let a = c.respond("INVITE", "sip:100@pbx", "gw", "pw", "cn", 1);
        assert!(
            a.contains("nc=00000001") && a.contains("opaque=\"o1\"") && a.contains("qop=auth"),
            "{a}"
        );
        assert_eq!(
            Challenge::parse_header("Basic realm=\"x\""),
            Err(AuthError::NotDigest)
        );
    }

    #[test]
    fn server_rejects_wrong_password_stale_forged_and_replayed() {
        let mut s = DigestServer::new("gw", b"k".to_vec());
        let ch = s.challenge(100, Algorithm::Md5, false);
        let pw = |u: &str| (u == "pbx").then(|| "pw".to_string());
        let good = ch.respond("INVITE", "sip:1@gw", "pbx", "pw", "c", 1);
        assert_eq!(s.verify(&good, "INVITE", 101, pw), Ok("pbx".into()));
        assert_eq!(s.verify(&good, "INVITE", 102, pw), Err(AuthError::Replay));
        let next = ch.respond("INVITE", "sip:1@gw", "pbx", "pw", "c", 2);
        assert!(s.verify(&next, "INVITE", 102, pw).is_ok());
        let wrong = ch.respond("INVITE", "sip:1@gw", "pbx", "nope", "c", 3);
        assert_eq!(
            s.verify(&wrong, "INVITE", 102, pw),
            Err(AuthError::WrongResponse)
        );
        let late = ch.respond("INVITE", "sip:1@gw", "pbx", "pw", "c", 4);
        assert_eq!(s.verify(&late, "INVITE", 1000, pw), Err(AuthError::Stale));
        let mut forged = ch.clone();
        forged.nonce = "64.1.00000000000000000000000000000000".into();
        let f = forged.respond("INVITE", "sip:1@gw", "pbx", "pw", "c", 1);
        assert_eq!(s.verify(&f, "INVITE", 101, pw), Err(AuthError::Stale));
        let f = forged.respond("INVITE", "sip:1@gw", "pbx", "nope", "c", 1);
        assert_eq!(
            s.verify(&f, "INVITE", 101, pw),
            Err(AuthError::WrongResponse)
        );
        // Another process's nonce (a restart: another secret), answered rightly.
        let mut before = DigestServer::new("gw", b"old".to_vec());
        let old = before.challenge(100, Algorithm::Md5, false);
        let o = old.respond("INVITE", "sip:1@gw", "pbx", "pw", "c", 1);
        assert_eq!(s.verify(&o, "INVITE", 101, pw), Err(AuthError::Stale));
        let other_method = ch.respond("BYE", "sip:1@gw", "pbx", "pw", "c", 9);
        assert_eq!(
            s.verify(&other_method, "INVITE", 101, pw),
            Err(AuthError::WrongResponse)
        );
    }
}
