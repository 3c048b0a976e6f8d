//! The configuration's shape: what the TOML file holds (`Raw*`, straight from serde) and what
//! the daemon uses once it is checked (`Config` and friends).

use std::net::SocketAddr;

use dahdi_driver::{Framing, Law, LineCoding, SpanId, SpanKind, Timeslot};
use serde::Deserialize;
use toml::Spanned;

pub use crate::interwork::redirect::RedirectHeaders;
use crate::route::Pattern;
use crate::trunk::{Direction, Hunting};

// ---------------------------------------------------------------------------------------
// As written in the file.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub span: Vec<RawSpan>,
    #[serde(default)]
    pub trunk_group: Vec<RawTrunkGroup>,
    #[serde(default)]
    pub sip_trunk: Vec<RawSipTrunk>,
    #[serde(default)]
    pub route: Vec<RawRoute>,
    #[serde(default)]
    pub cause_map: Option<CauseOverrides>,
    #[serde(default)]
    pub h323: Option<super::h323::RawH323>,
    #[serde(default)]
    pub h323_peer: Vec<super::h323::RawH323Peer>,
    #[serde(default)]
    pub gatekeeper: Option<super::h323::RawGatekeeper>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpan {
    pub id: Spanned<u16>,
    #[serde(rename = "type")]
    pub kind: SpanKindName,
    #[serde(default)]
    pub framing: Option<Spanned<FramingName>>,
    #[serde(default)]
    pub coding: Option<Spanned<CodingName>>,
    #[serde(default)]
    pub crc4: Option<Spanned<bool>>,
    #[serde(default)]
    pub clock_priority: Option<u8>,
    pub signalling: Signalling,
    #[serde(default)]
    pub switchtype: Option<Spanned<SwitchType>>,
    #[serde(default)]
    pub dchannel: Option<Spanned<u8>>,
    #[serde(default)]
    pub device: Option<RawDevice>,
    #[serde(default)]
    pub law: Option<LawName>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDevice {
    pub kind: DeviceKind,
    /// DAHDI span number (real cards); defaults to the span's `id`.
    #[serde(default)]
    pub dahdi_span: Option<u16>,
    /// Directory of the DAHDI device nodes; `/dev/dahdi` by default.
    #[serde(default)]
    pub path: Option<String>,
    // `kind = "sim"` only: the simulated switch's keys, checked in `config/sim.rs`.
    #[serde(default)]
    pub answer_after_ms: Option<u64>,
    #[serde(default)]
    pub tone_hz: Option<Spanned<u32>>,
    #[serde(default)]
    pub record_ms: Option<u64>,
    #[serde(default)]
    pub number: Vec<super::sim::RawNumberRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunkGroup {
    pub name: Spanned<String>,
    pub members: Vec<RawMember>,
    #[serde(default)]
    pub hunting: Option<Hunting>,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub numbering: NumberRules,
    /// Overlap sending (Q.931 §5.1.3): calls whose number is not known to be complete go
    /// out as SETUP without Sending complete, further digits in INFORMATION.
    #[serde(default)]
    pub overlap_sending: Option<bool>,
    /// Complete numbers on this group (route patterns): a match ends overlap sending.
    #[serde(default)]
    pub digit_map: Vec<Spanned<String>>,
    /// Seconds without a further digit before the number is declared complete.
    #[serde(default)]
    pub digit_timeout: Option<Spanned<u32>>,
    /// What the PSTN party hears while the other party holds the call: `silence` or `moh`.
    #[serde(default)]
    pub hold_media: Option<HoldMedia>,
    /// How two calls of this group are joined when a transfer leaves both parties on the
    /// same span: `ect`, `2bct` or `hairpin`.
    #[serde(default)]
    pub transfer: Option<Spanned<TransferMode>>,
}

/// How the gateway joins two of its ISDN calls on one span (a transfer whose remaining
/// parties are both on the PSTN: a "trombone").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TransferMode {
    /// ETSI Explicit Call Transfer (EN 300 369-1) on the D-channel: the switch connects
    /// the parties and releases both calls from the gateway. EuroISDN, user side.
    #[serde(rename = "ect")]
    Ect,
    /// NI-2 Two B-channel Transfer (GR-2865-CORE): the same for NI-2 / 4ESS / 5ESS, user
    /// side.
    #[serde(rename = "2bct")]
    TwoBct,
    /// The gateway connects the two B-channels itself (no RTP); the calls stay up
    /// through it. Also what `ect`/`2bct` fall back to when the switch refuses.
    #[default]
    #[serde(rename = "hairpin")]
    Hairpin,
}

/// What a trunk group's party hears while the other party holds the call (RFC 3264 §8.4
/// hold from SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldMedia {
    /// Idle pattern on the B-channel.
    #[default]
    Silence,
    /// Music on hold: a generated comfort melody on the B-channel.
    Moh,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMember {
    pub span: Spanned<u16>,
    /// Channel list in `system.conf` style: `"1-15,17-31"`; all bearers when absent.
    #[serde(default)]
    pub channels: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSipTrunk {
    pub name: Spanned<String>,
    #[serde(default)]
    pub transport: Option<SipTransport>,
    /// Where we listen for this trunk, e.g. `"0.0.0.0:5060"`.
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// Where we send calls: `host:port` entries, tried in order.
    #[serde(default)]
    pub peers: Vec<Spanned<String>>,
    /// Who may send us requests: addresses or CIDR blocks. Empty: the peers only.
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub reject: Option<RejectAction>,
    #[serde(default)]
    pub auth: Option<SipAuth>,
    #[serde(default)]
    pub register: Option<Spanned<SipRegister>>,
    /// New requests per second accepted from one source address before 503 + Retry-After.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    #[serde(default)]
    pub numbering: NumberRules,
    /// How redirected calls are signalled: `diversion` (RFC 5806), `history_info`
    /// (RFC 7044), `both` or `none`.
    #[serde(default)]
    pub redirecting: Option<RedirectHeaders>,
    /// PEM certificate chain of our TLS side (transport = "tls"); peers are trusted when
    /// their certificate chain ends in one of its certificates.
    #[serde(default)]
    pub tls_certificate: Option<Spanned<String>>,
    /// PEM private key of that certificate.
    #[serde(default)]
    pub tls_key: Option<Spanned<String>>,
    /// Write `sips:` URIs (RFC 3261 §26.2.2) towards this trunk instead of
    /// `sip:…;transport=tls`; TLS only.
    #[serde(default)]
    pub sips: Option<Spanned<bool>>,
    /// The trunk's peers are in our trust domain (RFC 3325 §2.3): their
    /// P-Asserted-Identity is believed and ours (with `Privacy: id`) is sent to them.
    #[serde(default)]
    pub trust_identity: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    /// Called-number pattern, Asterisk style (`_0XXXX.`, `_[2-9]NXXXXXX`, `112`).
    pub pattern: Spanned<String>,
    /// Lower is tried first when several routes match (then the longest pattern).
    #[serde(default)]
    pub priority: Option<u32>,
    /// Only calls arriving on these trunks (trunk groups or SIP trunks); any when absent.
    #[serde(default)]
    pub from: Vec<Spanned<String>>,
    /// Trunks to try in order; the next is tried when one is congested (cause 34/42/44).
    pub to: Vec<Spanned<String>>,
    /// Digits removed from the front of the called number.
    #[serde(default)]
    pub strip: Option<usize>,
    /// Digits put in front after stripping.
    #[serde(default)]
    pub prefix: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Names as written in the file.

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SpanKindName {
    E1,
    T1,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FramingName {
    Ccs,
    Cas,
    Esf,
    D4,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CodingName {
    Hdb3,
    Ami,
    B8zs,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LawName {
    Alaw,
    Ulaw,
}

// ---------------------------------------------------------------------------------------
// The checked configuration.

/// The whole, checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub general: General,
    pub spans: Vec<Span>,
    pub trunk_groups: Vec<TrunkGroup>,
    pub sip_trunks: Vec<SipTrunk>,
    pub routes: Vec<Route>,
    pub cause_map: CauseOverrides,
    /// H.323 peers and gatekeeper (`config::h323`); `None` when no H.323 section is given.
    pub h323: Option<super::h323::H323>,
    /// The music on hold of `general.moh_file`, read and checked with the configuration.
    pub moh: Option<crate::media::moh_file::MohFile>,
}

/// Daemon-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// CSV file the call detail records are appended to.
    pub cdr_file: String,
    /// Unix socket of `gatewayd ctl`.
    pub control_socket: String,
    /// `host:port` of the Prometheus metrics endpoint; none when empty.
    pub metrics_listen: String,
    /// Number of media threads moving B-channel audio to and from RTP.
    pub media_threads: usize,
    /// First and last UDP port used for RTP.
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    /// Seconds without RTP on an answered call before it is cleared (cause 41). 0: never.
    pub rtp_timeout: u32,
    /// Digit-collection timeout for overlap receiving from ISDN, seconds (Q.931 T302 = 15).
    pub overlap_timeout: u32,
    /// Seconds a call may go unanswered from its first outgoing attempt before the gateway
    /// clears it with cause 19 (no answer; SIP 480), as a Dial timeout would; 0: never
    /// (the far ends' own timers decide).
    pub no_answer_timeout: u32,
    /// Music on hold from a file (8 kHz mono: `.wav` 16-bit PCM or G.711, raw `.alaw` /
    /// `.ulaw`) for trunk groups with `hold_media = "moh"`; empty: a generated melody.
    pub moh_file: String,
}

impl General {
    /// `rtp_timeout`: silence on an answered call's RTP before it is cleared; `None`: 0.
    pub fn rtp_timeout(&self) -> Option<std::time::Duration> {
        seconds_or_never(self.rtp_timeout)
    }

    /// `no_answer_timeout`: how long a call may stay unanswered; `None`: 0.
    pub fn no_answer_timeout(&self) -> Option<std::time::Duration> {
        seconds_or_never(self.no_answer_timeout)
    }
}

/// A timeout of the file in seconds, where 0 means never.
fn seconds_or_never(secs: u32) -> Option<std::time::Duration> {
    (secs > 0).then(|| std::time::Duration::from_secs(u64::from(secs)))
}

impl Default for General {
    fn default() -> Self {
        General {
            cdr_file: "/var/log/gatewayd/cdr.csv".into(),
            control_socket: "/run/gatewayd/ctl.sock".into(),
            metrics_listen: String::new(),
            media_threads: 1,
            rtp_port_min: 10000,
            rtp_port_max: 20000,
            rtp_timeout: 30,
            overlap_timeout: 15,
            no_answer_timeout: 0,
            moh_file: String::new(),
        }
    }
}

/// One E1/T1 span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub id: SpanId,
    pub kind: SpanKind,
    pub framing: Framing,
    pub coding: LineCoding,
    pub crc4: bool,
    /// 0: never the clock source; 1 best.
    pub clock_priority: u8,
    pub signalling: Signalling,
    pub switchtype: SwitchType,
    pub dchannel: Timeslot,
    pub law: Law,
    pub device: Device,
}

impl Span {
    /// The bearer timeslots: every channel but the D-channel.
    pub fn bearers(&self) -> impl Iterator<Item = Timeslot> + '_ {
        (1..=self.kind.channels())
            .map(Timeslot)
            .filter(move |t| *t != self.dchannel)
    }
}

/// Which side of the PRI we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signalling {
    /// User side (CPE): the PSTN switch is the network.
    PriCpe,
    /// Network side: we play the switch (a PBX is the user).
    PriNet,
}

/// The switch variant of the Q.931 dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchType {
    /// ETSI EN 300 403 (EuroISDN), the E1 norm.
    Euroisdn,
    /// National ISDN 2 (ANSI T1.607 + Telcordia), the North American T1 norm.
    Ni2,
    /// Nortel DMS-100.
    Dms100,
    /// AT&T 4ESS.
    #[serde(rename = "4ess")]
    Att4ess,
    /// Lucent 5ESS.
    #[serde(rename = "5ess")]
    Lucent5ess,
    /// QSIG (ECMA-143) between PBXs.
    Qsig,
}

/// Which device carries the span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// The embedded software TDM simulator, with the PSTN switch on its far end.
    Simulator(super::sim::SimSwitch),
    /// A DAHDI card: span number and device directory.
    Dahdi { span: u16, path: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeviceKind {
    Sim,
    Dahdi,
}

/// A trunk group: channels hunted together for calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkGroup {
    pub name: String,
    pub members: Vec<Member>,
    pub hunting: Hunting,
    pub direction: Direction,
    pub numbering: NumberRules,
    pub overlap: OverlapSending,
    /// What this group's party hears while held.
    pub hold_media: HoldMedia,
    /// How two calls on one span of this group are joined.
    pub transfer: TransferMode,
}

/// Overlap sending towards a trunk group (Q.931 §5.1.3; RFC 3578 on the SIP side).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverlapSending {
    /// Off: every call goes en bloc with Sending complete (§5.1.1).
    pub enabled: bool,
    /// Complete numbers (as sent on this group): a full match ends the dialling.
    pub digit_map: Vec<Pattern>,
    /// Inter-digit timeout: this long without a digit ends the dialling.
    pub digit_timeout: std::time::Duration,
}

/// The channels one span contributes to a trunk group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub span: SpanId,
    pub channels: Vec<Timeslot>,
}

/// A SIP trunk: the IP-PBX or carrier side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTrunk {
    pub name: String,
    pub transport: SipTransport,
    pub listen: SocketAddr,
    pub peers: Vec<SocketAddr>,
    pub allow: Vec<Cidr>,
    pub reject: RejectAction,
    pub auth: Option<SipAuth>,
    pub register: Option<SipRegister>,
    /// New dialogs per second from one source before 503; 0: no limit.
    pub rate_limit: u32,
    pub numbering: NumberRules,
    /// Headers that carry redirection (Diversion / History-Info) on this trunk.
    pub redirecting: RedirectHeaders,
    /// Certificate and key files when the transport is TLS.
    pub tls: Option<TlsFiles>,
    /// `sips:` URIs towards the trunk (TLS only).
    pub sips: bool,
    /// Peers in our trust domain for identity (RFC 3325 §2.3).
    pub trust_identity: bool,
}

/// A TLS trunk's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    Udp,
    Tcp,
    Tls,
}

/// What a request from a source outside the allow-list gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectAction {
    /// 403 Forbidden.
    Forbidden,
    /// Nothing at all (scanners learn nothing).
    Silent,
}

/// Digest credentials (RFC 7616): challenge the peer with them (as UAS) and answer its
/// challenges (as UAC).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipAuth {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub realm: Option<String>,
    /// Challenge calls that the peer sends us.
    #[serde(default)]
    pub challenge_inbound: bool,
}

/// Registration of the gateway itself to a registrar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipRegister {
    pub registrar: String,
    pub aor: String,
    #[serde(default = "default_register_expires")]
    pub expires: u32,
}

fn default_register_expires() -> u32 {
    3600
}

/// An IPv4 or IPv6 address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    /// Whether `ip` lies inside the block.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix_len })
    }
}

/// A route: called numbers matching `pattern` go to the first trunk of `to` that has room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub pattern: Pattern,
    pub priority: u32,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub strip: usize,
    pub prefix: String,
}

/// Number manipulation on a trunk (applied to calls leaving through it), and how its
/// numbers are read (calls arriving on it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NumberRules {
    /// Digits removed from the front of the called number.
    pub called_strip: usize,
    /// Digits put in front of the called number after stripping.
    pub called_prefix: String,
    /// Type of number sent in Called party number (Q.931 §4.5.8).
    pub called_ton: Option<TypeOfNumber>,
    /// Type of number sent in Calling party number (Q.931 §4.5.10).
    pub calling_ton: Option<TypeOfNumber>,
    /// Numbering plan sent in Called party number (Q.931 §4.5.8); without it, E.164
    /// (`isdn`) for a known type of number and `unknown` for an unknown one.
    pub called_npi: Option<NumberingPlan>,
    /// Numbering plan sent in Calling party number (Q.931 §4.5.10), as `called_npi`.
    pub calling_npi: Option<NumberingPlan>,
    /// Force presentation of the calling number.
    pub calling_presentation: Option<Presentation>,
    /// Prefix dialled for national numbers in this country (e.g. "0"); maps TON national.
    pub national_prefix: String,
    /// Prefix dialled for international numbers (e.g. "00"); maps TON international and `+`.
    pub international_prefix: String,
    /// Country code, to turn national numbers into E.164 for SIP (`+<cc>…`).
    pub country_code: String,
}

/// Q.931 type of number, as used in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeOfNumber {
    Unknown,
    International,
    National,
    Subscriber,
}

/// Q.931 numbering plan identification (§4.5.8 octet 3), as used in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberingPlan {
    Unknown,
    /// ISDN/telephony numbering plan (E.164).
    #[serde(alias = "e164")]
    Isdn,
    /// Data numbering plan (X.121).
    Data,
    /// Telex numbering plan (F.69).
    Telex,
    /// National standard numbering plan.
    National,
    /// Private numbering plan (a PBX network's own numbers).
    Private,
}

/// Calling line presentation, as used in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presentation {
    Allowed,
    Restricted,
}

/// Overrides of the cause ↔ status tables (RFC 3398), by number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CauseOverrides {
    /// Q.850 cause → SIP status, e.g. `{ "47" = 503 }`.
    pub cause_to_status: std::collections::BTreeMap<String, u16>,
    /// SIP status → Q.850 cause, e.g. `{ "480" = 19 }`.
    pub status_to_cause: std::collections::BTreeMap<String, u8>,
}
