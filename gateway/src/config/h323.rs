//! H.323 in the configuration: `[h323]` (where we listen for H.225.0 call signalling),
//! `[[h323_peer]]` (H.323 endpoints and gateways called directly, by address) and
//! `[gatekeeper]` (RAS: discovery or a fixed address, our aliases and E.164 prefixes,
//! time to live). An H.323 peer is a trunk like a SIP trunk: routes name it in `from`/`to`.
//!
//! ```toml
//! [h323]
//! listen = "0.0.0.0:1720"        # H.225.0 §7.4: TCP 1720
//!
//! [[h323_peer]]
//! name = "h323-pbx"
//! address = "192.0.2.20:1720"
//! fast_start = true               # H.323 §8.1.7
//! h245_tunnelling = true          # H.323 §8.2.1
//! media = "relay"                 # or "direct" (SIP ↔ H.323 RTP, see MediaPath)
//!
//! [gatekeeper]
//! address = "192.0.2.30:1719"    # or: discovery = true (GRQ to 224.0.1.41:1718)
//! aliases = ["gatewayd"]
//! prefixes = ["49301"]
//! ttl = 300
//! ```

use std::collections::HashSet;
use std::net::{SocketAddr, SocketAddrV4};

use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::model::NumberRules;

/// `[h323]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawH323 {
    /// Where we accept H.225.0 call-signalling connections.
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
}

/// `[[h323_peer]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawH323Peer {
    pub name: Spanned<String>,
    /// The peer's call-signalling address (`host:port`, IPv4; port 1720 when omitted).
    pub address: Spanned<String>,
    #[serde(default)]
    pub fast_start: Option<bool>,
    #[serde(default)]
    pub h245_tunnelling: Option<bool>,
    /// `relay` or `direct`: how RTP flows when the other leg is SIP.
    #[serde(default)]
    pub media: Option<Spanned<String>>,
    #[serde(default)]
    pub numbering: NumberRules,
}

/// `[gatekeeper]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGatekeeper {
    /// The trunk name routes use to send calls through the gatekeeper (default
    /// `gatekeeper`).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// The gatekeeper's RAS address; without it, `discovery = true` is needed.
    #[serde(default)]
    pub address: Option<Spanned<String>>,
    /// Find the gatekeeper by multicast GRQ (H.225.0 §7.7: 224.0.1.41:1718).
    #[serde(default)]
    pub discovery: Option<Spanned<bool>>,
    /// Our aliases (h323-ID), registered in the RRQ.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// E.164 prefixes we serve (GatewayInfo supportedPrefixes).
    #[serde(default)]
    pub prefixes: Vec<Spanned<String>>,
    /// Time to live of the registration, seconds.
    #[serde(default)]
    pub ttl: Option<Spanned<u32>>,
    /// Where our RAS socket is bound (default `0.0.0.0:0`, any free port).
    #[serde(default)]
    pub ras_listen: Option<Spanned<String>>,
    #[serde(default)]
    pub fast_start: Option<bool>,
    #[serde(default)]
    pub h245_tunnelling: Option<bool>,
    #[serde(default)]
    pub media: Option<Spanned<String>>,
    #[serde(default)]
    pub numbering: NumberRules,
}

/// How the RTP of a call between an H.323 peer and a SIP trunk flows (`media = …`). Calls
/// with the E1/T1 side are always anchored: the gateway's RTP port is bridged to the
/// B-channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaPath {
    /// Anchored on the gateway: each side sends to the gateway's own RTP port on its leg
    /// and the media engine relays between the two (`media::engine::relay`), converting
    /// A↔µ-law and carrying DTMF (RFC 4733 ↔ H.245 UserInputIndication). Works whatever
    /// the order of the answers and behind NAT (symmetric RTP on both legs).
    #[default]
    Relay,
    /// Addresses passed through: the fast start offer / OpenLogicalChannel carries the SIP
    /// side's RTP address, the SIP side's SDP the H.323 peer's; the gateway carries no RTP.
    Direct,
}

/// H.323 as the daemon uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323 {
    /// Where we accept H.225.0 call signalling (default `0.0.0.0:1720`).
    pub listen: SocketAddr,
    pub peers: Vec<H323Peer>,
    pub gatekeeper: Option<Gatekeeper>,
}

/// An H.323 endpoint or gateway called directly at its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323Peer {
    pub name: String,
    pub address: SocketAddrV4,
    /// Offer fast start on calls we place; accept it on calls we receive (H.323 §8.1.7).
    pub fast_start: bool,
    /// Offer/accept H.245 tunnelling (H.323 §8.2.1).
    pub h245_tunnelling: bool,
    /// RTP relayed by the gateway or passed through, when the other leg is SIP.
    pub media: MediaPath,
    pub numbering: NumberRules,
}

/// Where the gatekeeper is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatekeeperLocation {
    /// A configured RAS address: no GRQ (H.225.0 §7.2.1 allows registering directly).
    Address(SocketAddrV4),
    /// Multicast GRQ (H.225.0 §7.2.1).
    Discovery,
}

/// A gatekeeper we register with and ask for admission (ARQ) before every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gatekeeper {
    /// The trunk name for calls routed through the gatekeeper.
    pub name: String,
    pub location: GatekeeperLocation,
    pub aliases: Vec<String>,
    pub prefixes: Vec<String>,
    pub ttl: u32,
    pub ras_listen: SocketAddrV4,
    pub fast_start: bool,
    pub h245_tunnelling: bool,
    pub media: MediaPath,
    pub numbering: NumberRules,
}

/// `media = "relay" | "direct"`.
fn media_path(m: Option<&Spanned<String>>) -> Result<MediaPath, (usize, String)> {
    match m.map(|m| (m.get_ref().as_str(), m.span().start)) {
        None | Some(("relay", _)) => Ok(MediaPath::Relay),
        Some(("direct", _)) => Ok(MediaPath::Direct),
        Some((other, at)) => Err((
            at,
            format!("`{other}` is not a media path: \"relay\" or \"direct\""),
        )),
    }
}

fn v4(text: &str, default_port: u16) -> Option<SocketAddrV4> {
    text.parse::<SocketAddrV4>().ok().or_else(|| {
        text.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|ip| SocketAddrV4::new(ip, default_port))
    })
}

/// Check the H.323 sections; peer and gatekeeper names join `names` (trunk names are
/// shared by trunk groups, SIP trunks and H.323 peers).
pub(crate) fn validate(
    raw_h323: Option<&RawH323>,
    raw_peers: &[RawH323Peer],
    raw_gk: Option<&RawGatekeeper>,
    names: &mut HashSet<String>,
    text: &str,
    file: &str,
) -> Result<Option<H323>, ConfigError> {
    let bad =
        |at: usize, field: String, msg: String| ConfigError::invalid(file, text, at, field, msg);
    let listen = match raw_h323.and_then(|h| h.listen.as_ref()) {
        None => "0.0.0.0:1720".parse().expect("literal address"),
        Some(l) => match l.get_ref().parse() {
            Ok(a) => a,
            Err(_) => {
                return Err(bad(
                    l.span().start,
                    "h323.listen".into(),
                    format!("`{}` is not an address:port", l.get_ref()),
                ))
            }
        },
    };
    let mut peers = Vec::new();
    for (i, p) in raw_peers.iter().enumerate() {
        let f = |k: &str| format!("h323_peer[{i}].{k}");
        let name =
            trunk_name(&p.name, names).map_err(|m| bad(p.name.span().start, f("name"), m))?;
        // H.225.0 §7.4: the call-signalling channel's well-known port is 1720.
        let Some(address) = v4(p.address.get_ref(), 1720) else {
            return Err(bad(
                p.address.span().start,
                f("address"),
                format!("`{}` is not an IPv4 address[:port]", p.address.get_ref()),
            ));
        };
        let media = media_path(p.media.as_ref()).map_err(|(at, m)| bad(at, f("media"), m))?;
        peers.push(H323Peer {
            name,
            address,
            fast_start: p.fast_start.unwrap_or(true),
            h245_tunnelling: p.h245_tunnelling.unwrap_or(true),
            media,
            numbering: p.numbering.clone(),
        });
    }
    let gatekeeper = match raw_gk {
        None => None,
        Some(g) => {
            let f = |k: &str| format!("gatekeeper.{k}");
            let name = match &g.name {
                Some(n) => trunk_name(n, names).map_err(|m| bad(n.span().start, f("name"), m))?,
                None => {
                    let n = Spanned::new(0..0, "gatekeeper".to_string());
                    trunk_name(&n, names)
                        .map_err(|m| bad(crate_offset(text, "[gatekeeper]"), f("name"), m))?
                }
            };
            let discovery = g.discovery.as_ref().map(|d| (*d.get_ref(), d.span().start));
            let location = match (&g.address, discovery) {
                (Some(_), Some((true, at))) => {
                    return Err(bad(
                        at,
                        f("discovery"),
                        "give either address or discovery = true, not both".into(),
                    ));
                }
                (Some(a), _) => match v4(a.get_ref(), 1719) {
                    // H.225.0 §7.7: RAS unicast port 1719.
                    Some(addr) => GatekeeperLocation::Address(addr),
                    None => {
                        return Err(bad(
                            a.span().start,
                            f("address"),
                            format!("`{}` is not an IPv4 address[:port]", a.get_ref()),
                        ))
                    }
                },
                (None, Some((true, _))) => GatekeeperLocation::Discovery,
                (None, _) => {
                    return Err(bad(
                        crate_offset(text, "[gatekeeper]"),
                        f("address"),
                        "a gatekeeper needs address = \"host:port\" or discovery = true".into(),
                    ))
                }
            };
            for (j, p) in g.prefixes.iter().enumerate() {
                let ok = !p.get_ref().is_empty()
                    && p.get_ref()
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '#' || c == '*');
                if !ok {
                    return Err(bad(
                        p.span().start,
                        format!("gatekeeper.prefixes[{j}]"),
                        format!("`{}` is not an E.164 prefix (digits, # and *)", p.get_ref()),
                    ));
                }
            }
            let ttl = match &g.ttl {
                Some(t) if *t.get_ref() < 10 => {
                    return Err(bad(
                        t.span().start,
                        f("ttl"),
                        "ttl is at least 10 seconds".into(),
                    ))
                }
                Some(t) => *t.get_ref(),
                None => 300,
            };
            let ras_listen = match &g.ras_listen {
                None => SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
                Some(l) => match l.get_ref().parse() {
                    Ok(a) => a,
                    Err(_) => {
                        return Err(bad(
                            l.span().start,
                            f("ras_listen"),
                            format!("`{}` is not an IPv4 address:port", l.get_ref()),
                        ))
                    }
                },
            };
            let media = media_path(g.media.as_ref()).map_err(|(at, m)| bad(at, f("media"), m))?;
            Some(Gatekeeper {
                media,
                name,
                location,
                aliases: g.aliases.clone(),
                prefixes: g.prefixes.iter().map(|p| p.get_ref().clone()).collect(),
                ttl,
                ras_listen,
                fast_start: g.fast_start.unwrap_or(true),
                h245_tunnelling: g.h245_tunnelling.unwrap_or(true),
                numbering: g.numbering.clone(),
            })
        }
    };
    if raw_h323.is_none() && peers.is_empty() && gatekeeper.is_none() {
        return Ok(None);
    }
    Ok(Some(H323 {
        listen,
        peers,
        gatekeeper,
    }))
}

fn crate_offset(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or(0)
}

fn trunk_name(name: &Spanned<String>, names: &mut HashSet<String>) -> Result<String, String> {
    let n = name.get_ref();
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err("names are letters, digits, `-`, `_` and `.`".into());
    }
    if !names.insert(n.clone()) {
        return Err(format!("the name `{n}` is already used by another trunk"));
    }
    Ok(n.clone())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(text: &str) -> (Option<usize>, Option<String>, String) {
        let e = Config::from_str(text, "gw.toml").expect_err("must be rejected");
        (e.line(), e.field().map(str::to_string), e.to_string())
    }

    #[test]
    fn peers_gatekeeper_and_routes() {
        let c = Config::from_str(
            "[h323]\nlisten = \"127.0.0.1:11720\"\n\n\
             [[h323_peer]]\nname = \"ep\"\naddress = \"192.0.2.20\"\nfast_start = false\n\n\
             [[h323_peer]]\nname = \"ep2\"\naddress = \"192.0.2.21\"\nmedia = \"direct\"\n\n\
             [gatekeeper]\naddress = \"192.0.2.30\"\naliases = [\"gw\"]\nprefixes = [\"4930\"]\n\n\
             [[route]]\npattern = \"_5XXX\"\nfrom = [\"gatekeeper\"]\nto = [\"ep\"]\n",
            "gw.toml",
        )
        .unwrap();
        let h = c.h323.unwrap();
        assert_eq!(h.listen, "127.0.0.1:11720".parse().unwrap());
        assert_eq!(h.peers[0].address, "192.0.2.20:1720".parse().unwrap());
        assert!(!h.peers[0].fast_start);
        assert!(h.peers[0].h245_tunnelling);
        assert_eq!(
            h.peers[0].media,
            super::MediaPath::Relay,
            "relay by default"
        );
        assert_eq!(h.peers[1].media, super::MediaPath::Direct);
        let gk = h.gatekeeper.unwrap();
        assert_eq!(gk.name, "gatekeeper");
        assert_eq!(
            gk.location,
            super::GatekeeperLocation::Address("192.0.2.30:1719".parse().unwrap())
        );
        assert_eq!(gk.prefixes, vec!["4930".to_string()]);
        assert_eq!(gk.ttl, 300);
        assert_eq!(c.routes[0].to, vec!["ep".to_string()]);
    }

    #[test]
    fn no_h323_sections_no_h323() {
        let c = Config::from_str("", "gw.toml").unwrap();
        assert!(c.h323.is_none());
    }

    #[test]
    fn errors_name_line_and_field() {
        let (line, field, _) = err("[[h323_peer]]\nname = \"ep\"\naddress = \"somewhere\"\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(3), Some("h323_peer[0].address"))
        );

        let (line, field, _) = err("[[h323_peer]]\nname = \"ep\"\naddress = \"192.0.2.1\"\n\
             [[h323_peer]]\nname = \"ep\"\naddress = \"192.0.2.2\"\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(5), Some("h323_peer[1].name"))
        );

        let (line, field, _) = err("[gatekeeper]\naliases = [\"gw\"]\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(1), Some("gatekeeper.address"))
        );

        let (line, field, _) = err("[gatekeeper]\ndiscovery = true\nprefixes = [\"49x\"]\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(3), Some("gatekeeper.prefixes[0]"))
        );

        let (line, field, _) = err("[gatekeeper]\ndiscovery = true\nttl = 2\n");
        assert_eq!((line, field.as_deref()), (Some(3), Some("gatekeeper.ttl")));

        let (line, field, msg) =
            err("[[h323_peer]]\nname = \"ep\"\naddress = \"192.0.2.1\"\nmedia = \"bypass\"\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(4), Some("h323_peer[0].media"))
        );
        assert!(msg.contains("relay"), "{msg}");

        let (line, field, _) = err("[gatekeeper]\ndiscovery = true\n\nmedia = \"\"\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(4), Some("gatekeeper.media"))
        );

        let (line, field, _) = err("[h323]\nlisten = \"nowhere\"\n");
        assert_eq!((line, field.as_deref()), (Some(2), Some("h323.listen")));

        let (line, field, _) =
            err("[[h323_peer]]\nname = \"ep\"\naddress = \"192.0.2.1\"\nfast = 1\n");
        assert_eq!(line, Some(4));
        assert!(field.is_some_and(|f| f.contains("fast")));

        let (line, field, _) = err("[[route]]\npattern = \"5\"\nto = [\"nobody\"]\n");
        assert_eq!((line, field.as_deref()), (Some(3), Some("route[0].to")));
    }
}
