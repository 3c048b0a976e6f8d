//! From what the file says to a configuration the daemon can trust: defaults filled in,
//! references resolved, and every inconsistency reported at its place in the file.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;

use dahdi_driver::{Framing, Law, LineCoding, SpanId, SpanKind, Timeslot};
use toml::Spanned;

use super::error::ConfigError;
use super::model::*;
use crate::route::Pattern;

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        at: usize,
        field: String,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::invalid(
            self.file, self.text, at, field, message,
        ))
    }
}

/// The shortest registration `register.expires` may ask for, seconds.
const MIN_REGISTER_EXPIRES: u32 = 60;

pub(crate) fn validate(raw: RawConfig, text: &str, file: &str) -> Result<Config, ConfigError> {
    let cx = Ctx { text, file };
    let spans = raw
        .span
        .iter()
        .enumerate()
        .map(|(i, s)| span(&cx, i, s))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, s) in raw.span.iter().enumerate() {
        if raw.span[..i]
            .iter()
            .any(|o| o.id.get_ref() == s.id.get_ref())
        {
            return cx.err(
                s.id.span().start,
                format!("span[{i}].id"),
                "duplicate span id",
            );
        }
    }

    let mut names: HashSet<String> = HashSet::new();
    let mut trunk_groups = Vec::new();
    for (i, g) in raw.trunk_group.iter().enumerate() {
        let name = unique_name(&cx, &mut names, &g.name, format!("trunk_group[{i}].name"))?;
        let mut members = Vec::new();
        let mut seen = BTreeSet::new();
        for (m_i, m) in g.members.iter().enumerate() {
            let field = format!("trunk_group[{i}].members[{m_i}]");
            let Some(sp) = spans.iter().find(|s| s.id.0 == *m.span.get_ref()) else {
                return cx.err(
                    m.span.span().start,
                    format!("{field}.span"),
                    format!("span {} is not defined", m.span.get_ref()),
                );
            };
            let channels = match &m.channels {
                None => sp.bearers().collect(),
                Some(list) => {
                    let chs = parse_channel_list(list.get_ref())
                        .or_else(|e| cx.err(list.span().start, format!("{field}.channels"), e))?;
                    for c in &chs {
                        if c.0 == 0 || c.0 > sp.kind.channels() {
                            return cx.err(
                                list.span().start,
                                format!("{field}.channels"),
                                format!(
                                    "channel {} is outside span {} (1-{})",
                                    c.0,
                                    sp.id.0,
                                    sp.kind.channels()
                                ),
                            );
                        }
                        if *c == sp.dchannel {
                            return cx.err(
                                list.span().start,
                                format!("{field}.channels"),
                                format!("channel {} is span {}'s D-channel", c.0, sp.id.0),
                            );
                        }
                    }
                    chs
                }
            };
            for c in &channels {
                if !seen.insert((sp.id, *c)) {
                    return cx.err(
                        m.span.span().start,
                        format!("{field}.channels"),
                        format!("channel {}/{} is listed twice in this group", sp.id.0, c.0),
                    );
                }
            }
            members.push(Member {
                span: sp.id,
                channels,
            });
        }
        if members.is_empty() {
            return cx.err(
                g.name.span().start,
                format!("trunk_group[{i}].members"),
                "a trunk group needs at least one member",
            );
        }
        let digit_map = g
            .digit_map
            .iter()
            .map(|p| {
                p.get_ref()
                    .parse::<Pattern>()
                    .or_else(|e: crate::route::PatternError| {
                        cx.err(
                            p.span().start,
                            format!("trunk_group[{i}].digit_map"),
                            e.to_string(),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let digit_timeout = match &g.digit_timeout {
            None => 5,
            Some(t) if (1..=60).contains(t.get_ref()) => *t.get_ref(),
            Some(t) => {
                return cx.err(
                    t.span().start,
                    format!("trunk_group[{i}].digit_timeout"),
                    "seconds between digits, 1-60",
                )
            }
        };
        let transfer = match &g.transfer {
            None => TransferMode::Hairpin,
            Some(t) => {
                let mode = *t.get_ref();
                // The D-channel service needs the switch's support: ECT is ETSI's, 2BCT
                // the North American switches'; and we must be the user side.
                let fits = |s: &Span| {
                    s.signalling == Signalling::PriCpe
                        && match mode {
                            TransferMode::Ect => s.switchtype == SwitchType::Euroisdn,
                            TransferMode::TwoBct => matches!(
                                s.switchtype,
                                SwitchType::Ni2 | SwitchType::Att4ess | SwitchType::Lucent5ess
                            ),
                            TransferMode::Hairpin => true,
                        }
                };
                if let Some(m) = members
                    .iter()
                    .find(|m| !spans.iter().any(|s| s.id == m.span && fits(s)))
                {
                    let needs = match mode {
                        TransferMode::Ect => "a euroisdn span on the user side (pri_cpe)",
                        _ => "an ni2 span on the user side (pri_cpe)",
                    };
                    return cx.err(
                        t.span().start,
                        format!("trunk_group[{i}].transfer"),
                        format!(
                            "span {} cannot do this transfer: it needs {needs}",
                            m.span.0
                        ),
                    );
                }
                mode
            }
        };
        trunk_groups.push(TrunkGroup {
            name,
            members,
            transfer,
            hunting: g.hunting.unwrap_or_default(),
            direction: g.direction.unwrap_or_default(),
            numbering: g.numbering.clone(),
            overlap: OverlapSending {
                enabled: g.overlap_sending.unwrap_or(false),
                digit_map,
                digit_timeout: std::time::Duration::from_secs(u64::from(digit_timeout)),
            },
            hold_media: g.hold_media.unwrap_or_default(),
        });
    }

    let mut sip_trunks = Vec::new();
    for (i, t) in raw.sip_trunk.iter().enumerate() {
        let f = |k: &str| format!("sip_trunk[{i}].{k}");
        let name = unique_name(&cx, &mut names, &t.name, f("name"))?;
        let transport = t.transport.unwrap_or(SipTransport::Udp);
        let listen = match &t.listen {
            // RFC 3261 §19.1.2: 5061 for TLS.
            None if transport == SipTransport::Tls => {
                "0.0.0.0:5061".parse().expect("literal address")
            }
            None => "0.0.0.0:5060".parse().expect("literal address"),
            Some(l) => socket_addr(&cx, l, f("listen"))?,
        };
        let tls = match (transport, &t.tls_certificate, &t.tls_key) {
            (SipTransport::Tls, Some(c), Some(k)) => Some(TlsFiles {
                certificate: c.get_ref().into(),
                key: k.get_ref().into(),
            }),
            (SipTransport::Tls, None, _) => {
                return cx.err(
                    t.name.span().start,
                    f("tls_certificate"),
                    "transport = \"tls\" needs tls_certificate and tls_key (PEM files)",
                )
            }
            (SipTransport::Tls, _, None) => {
                return cx.err(
                    t.name.span().start,
                    f("tls_key"),
                    "transport = \"tls\" needs tls_key (PEM file)",
                )
            }
            (_, Some(c), _) | (_, None, Some(c)) => {
                return cx.err(
                    c.span().start,
                    f(if t.tls_certificate.is_some() {
                        "tls_certificate"
                    } else {
                        "tls_key"
                    }),
                    "TLS files need transport = \"tls\"",
                )
            }
            _ => None,
        };
        let sips = match &t.sips {
            Some(v) if *v.get_ref() && transport != SipTransport::Tls => {
                return cx.err(
                    v.span().start,
                    f("sips"),
                    "sips: URIs need transport = \"tls\"",
                )
            }
            Some(v) => *v.get_ref(),
            None => false,
        };
        let peers = t
            .peers
            .iter()
            .map(|p| socket_addr(&cx, p, f("peers")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut allow = t
            .allow
            .iter()
            .map(|a| {
                a.get_ref()
                    .parse::<Cidr>()
                    .or_else(|e| cx.err(a.span().start, f("allow"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if allow.is_empty() {
            // Default: exactly the configured peers may talk to us.
            allow = peers
                .iter()
                .map(|p| Cidr {
                    addr: p.ip(),
                    prefix_len: if p.is_ipv4() { 32 } else { 128 },
                })
                .collect();
        }
        if let Some(r) = &t.register {
            // The registrar is reached at the address its URI names: gatewayd resolves no
            // host names (RFC 3263 DNS is not done).
            let reg = r.get_ref();
            if crate::sip::ua::resolve(&reg.registrar, crate::sip::transport::Protocol::Udp)
                .is_none()
            {
                return cx.err(
                    r.span().start,
                    f("register.registrar"),
                    format!(
                        "`{}`: a SIP URI with an IP address (and port), e.g. \
                         `sip:192.0.2.10:5060`; host names are not resolved",
                        reg.registrar
                    ),
                );
            }
            // 0 would make every REGISTER a removal (RFC 3261 §10.2.2); under a minute, one
            // REGISTER after another (registrars answer such with 423, §10.2.8).
            if reg.expires < MIN_REGISTER_EXPIRES {
                return cx.err(
                    r.span().start,
                    f("register.expires"),
                    format!(
                        "{} s: a binding is asked for {MIN_REGISTER_EXPIRES} s at least (3600 when not given)",
                        reg.expires
                    ),
                );
            }
        }
        sip_trunks.push(SipTrunk {
            name,
            transport,
            listen,
            peers,
            allow,
            reject: t.reject.unwrap_or(RejectAction::Forbidden),
            auth: t.auth.clone(),
            register: t.register.as_ref().map(|r| r.get_ref().clone()),
            rate_limit: t.rate_limit.unwrap_or(50),
            numbering: t.numbering.clone(),
            redirecting: t.redirecting.unwrap_or_default(),
            tls,
            sips,
            trust_identity: t.trust_identity.unwrap_or(false),
        });
    }

    let h323 = super::h323::validate(
        raw.h323.as_ref(),
        &raw.h323_peer,
        raw.gatekeeper.as_ref(),
        &mut names,
        text,
        file,
    )?;

    let mut routes = Vec::new();
    for (i, r) in raw.route.iter().enumerate() {
        let pattern: Pattern =
            r.pattern
                .get_ref()
                .parse()
                .or_else(|e: crate::route::PatternError| {
                    cx.err(
                        r.pattern.span().start,
                        format!("route[{i}].pattern"),
                        e.to_string(),
                    )
                })?;
        for (k, list) in [("to", &r.to), ("from", &r.from)] {
            for n in list {
                if !names.contains(n.get_ref()) {
                    return cx.err(
                        n.span().start,
                        format!("route[{i}].{k}"),
                        format!("no trunk group or SIP trunk is named `{}`", n.get_ref()),
                    );
                }
            }
        }
        if r.to.is_empty() {
            return cx.err(
                r.pattern.span().start,
                format!("route[{i}].to"),
                "a route needs at least one trunk to go to",
            );
        }
        routes.push(Route {
            pattern,
            priority: r.priority.unwrap_or(100),
            from: r.from.iter().map(|s| s.get_ref().clone()).collect(),
            to: r.to.iter().map(|s| s.get_ref().clone()).collect(),
            strip: r.strip.unwrap_or(0),
            prefix: r.prefix.clone().unwrap_or_default(),
        });
    }

    let cause_map = raw.cause_map.unwrap_or_default();
    for (k, v) in &cause_map.cause_to_status {
        let ok = k.parse::<u8>().is_ok_and(|c| (1..=127).contains(&c)) && (400..700).contains(v);
        if !ok {
            return cx.err(
                find(text, "cause_to_status"),
                format!("cause_map.cause_to_status.{k}"),
                "needs a Q.850 cause 1-127 mapped to a SIP status 400-699",
            );
        }
    }
    for (k, v) in &cause_map.status_to_cause {
        let ok = k.parse::<u16>().is_ok_and(|s| (400..700).contains(&s)) && (1..=127).contains(v);
        if !ok {
            return cx.err(
                find(text, "status_to_cause"),
                format!("cause_map.status_to_cause.{k}"),
                "needs a SIP status 400-699 mapped to a Q.850 cause 1-127",
            );
        }
    }

    // RTP takes an even port and the odd one above it (RFC 3550 §11) from this range:
    // an empty or reversed range would hand every call the same port.
    let (lo, hi) = (raw.general.rtp_port_min, raw.general.rtp_port_max);
    if lo == 0 || hi <= lo {
        // The key the file has (a missing one took its default).
        let field = if lo != 0 && text.contains("rtp_port_max") {
            "rtp_port_max"
        } else {
            "rtp_port_min"
        };
        return cx.err(
            find(text, field),
            format!("general.{field}"),
            format!("RTP ports {lo}..{hi}: rtp_port_min must be above 0 and below rtp_port_max"),
        );
    }

    // The music on hold file is read now, so that `gatewayd check` and a reload report
    // a bad one with the line of the key. A relative path is taken from the
    // configuration file's folder.
    let moh = if raw.general.moh_file.is_empty() {
        None
    } else {
        let path = std::path::Path::new(file).parent().map_or_else(
            || std::path::PathBuf::from(&raw.general.moh_file),
            |dir| dir.join(&raw.general.moh_file),
        );
        match crate::media::moh_file::MohFile::load(&path.to_string_lossy()) {
            Ok(m) => Some(m),
            Err(e) => {
                return cx.err(
                    find(text, "moh_file"),
                    "general.moh_file".to_string(),
                    e.to_string(),
                )
            }
        }
    };

    Ok(Config {
        moh,
        general: raw.general,
        spans,
        trunk_groups,
        sip_trunks,
        routes,
        cause_map,
        h323,
    })
}

fn find(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or(0)
}

fn unique_name(
    cx: &Ctx<'_>,
    names: &mut HashSet<String>,
    name: &Spanned<String>,
    field: String,
) -> Result<String, ConfigError> {
    let n = name.get_ref();
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return cx.err(
            name.span().start,
            field,
            "names are letters, digits, `-`, `_` and `.`",
        );
    }
    if !names.insert(n.clone()) {
        return cx.err(
            name.span().start,
            field,
            format!("the name `{n}` is already used by another trunk"),
        );
    }
    Ok(n.clone())
}

fn socket_addr(
    cx: &Ctx<'_>,
    v: &Spanned<String>,
    field: String,
) -> Result<SocketAddr, ConfigError> {
    v.get_ref().parse().or_else(|_| {
        cx.err(
            v.span().start,
            field,
            format!("`{}` is not an address:port", v.get_ref()),
        )
    })
}

fn span(cx: &Ctx<'_>, i: usize, s: &RawSpan) -> Result<Span, ConfigError> {
    let f = |k: &str| format!("span[{i}].{k}");
    let id = *s.id.get_ref();
    if id == 0 {
        return cx.err(s.id.span().start, f("id"), "span numbers start at 1");
    }
    let kind = match s.kind {
        SpanKindName::E1 => SpanKind::E1,
        SpanKindName::T1 => SpanKind::T1,
    };
    let framing = match (kind, s.framing.as_ref().map(|v| (*v.get_ref(), v.span()))) {
        (SpanKind::E1, None) => Framing::Ccs,
        (SpanKind::T1, None) => Framing::Esf,
        (SpanKind::E1, Some((FramingName::Ccs, _))) => Framing::Ccs,
        (SpanKind::E1, Some((FramingName::Cas, _))) => Framing::Cas,
        (SpanKind::T1, Some((FramingName::Esf, _))) => Framing::Esf,
        (SpanKind::T1, Some((FramingName::D4, _))) => Framing::D4,
        (_, Some((_, at))) => {
            return cx.err(
                at.start,
                f("framing"),
                "E1 framing is ccs or cas; T1 framing is esf or d4",
            )
        }
    };
    let coding = match (kind, s.coding.as_ref().map(|v| (*v.get_ref(), v.span()))) {
        (SpanKind::E1, None) => LineCoding::Hdb3,
        (SpanKind::T1, None) => LineCoding::B8zs,
        (SpanKind::E1, Some((CodingName::Hdb3, _))) => LineCoding::Hdb3,
        (SpanKind::T1, Some((CodingName::B8zs, _))) => LineCoding::B8zs,
        (_, Some((CodingName::Ami, _))) => LineCoding::Ami,
        (_, Some((_, at))) => {
            return cx.err(
                at.start,
                f("coding"),
                "E1 line coding is hdb3 or ami; T1 line coding is b8zs or ami",
            )
        }
    };
    let crc4 = match (kind, &s.crc4) {
        (SpanKind::E1, None) => true,
        (SpanKind::E1, Some(v)) => *v.get_ref(),
        (SpanKind::T1, Some(v)) if *v.get_ref() => {
            return cx.err(v.span().start, f("crc4"), "CRC-4 exists on E1 only")
        }
        (SpanKind::T1, _) => false,
    };
    let dchannel = match &s.dchannel {
        None => kind.dchannel(),
        Some(d) => {
            let n = *d.get_ref();
            if n == 0 || n > kind.channels() {
                return cx.err(
                    d.span().start,
                    f("dchannel"),
                    format!("must be a channel 1-{} of the span", kind.channels()),
                );
            }
            Timeslot(n)
        }
    };
    let switchtype = match &s.switchtype {
        None => match kind {
            SpanKind::E1 => SwitchType::Euroisdn,
            SpanKind::T1 => SwitchType::Ni2,
        },
        Some(v) => match *v.get_ref() {
            t @ (SwitchType::Euroisdn | SwitchType::Ni2) => t,
            _ => {
                // The Q.931 stack has the EuroISDN and NI-2 variants; the others'
                // differences (DMS-100's and 4ESS's codesets and messages, QSIG's
                // supplementary services) are not implemented, and running such a span
                // as NI-2 would fail in ways a switch reports only call by call.
                return cx.err(
                    v.span().start,
                    f("switchtype"),
                    "not implemented: euroisdn or ni2 (DMS-100, 4ESS, 5ESS and QSIG are not done)",
                );
            }
        },
    };
    let law = match s.law {
        None => kind.default_law(),
        Some(LawName::Alaw) => Law::ALaw,
        Some(LawName::Ulaw) => Law::MuLaw,
    };
    let device = match &s.device {
        None => Device::Simulator(Default::default()),
        Some(d) => match d.kind {
            DeviceKind::Sim => {
                Device::Simulator(super::sim::sim_switch(d).or_else(|(at, field, msg)| {
                    cx.err(
                        at.unwrap_or(s.id.span().start),
                        f(&format!("device.{field}")),
                        msg,
                    )
                })?)
            }
            DeviceKind::Dahdi if super::sim::any_set(d) => {
                return cx.err(
                    s.id.span().start,
                    f("device"),
                    "answer_after_ms, tone_hz, record_ms and number are for kind = \"sim\"",
                )
            }
            DeviceKind::Dahdi => Device::Dahdi {
                span: d.dahdi_span.unwrap_or(id),
                path: d.path.clone().unwrap_or_else(|| "/dev/dahdi".into()),
            },
        },
    };
    Ok(Span {
        id: SpanId(id),
        kind,
        framing,
        coding,
        crc4,
        clock_priority: s.clock_priority.unwrap_or(1),
        signalling: s.signalling,
        switchtype,
        dchannel,
        law,
        device,
    })
}

/// Parse a channel list in `system.conf` style: `1-15,17-31`, `1,3,5`, `24`.
pub fn parse_channel_list(s: &str) -> Result<Vec<Timeslot>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let num = |t: &str| {
            t.trim()
                .parse::<u8>()
                .map_err(|_| format!("`{t}` in `{s}` is not a channel number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("range `{part}` runs backwards"));
                }
                out.extend((a..=b).map(Timeslot));
            }
            None => out.push(Timeslot(num(part)?)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        Config::from_str(text, "gw.toml").expect_err("must be rejected")
    }

    const BASE: &str = "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n";

    #[test]
    fn defaults_of_an_e1_span() {
        let c = Config::from_str(BASE, "gw.toml").unwrap();
        let s = &c.spans[0];
        assert_eq!(
            (s.framing, s.coding, s.crc4, s.dchannel, s.law),
            (
                Framing::Ccs,
                LineCoding::Hdb3,
                true,
                Timeslot(16),
                Law::ALaw
            )
        );
        assert_eq!(s.bearers().count(), 30);
        assert_eq!(s.switchtype, SwitchType::Euroisdn);
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let e = err(&format!("{BASE}colour = \"red\"\n"));
        assert_eq!(e.line(), Some(5), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
        assert!(e.to_string().starts_with("gw.toml:5:"), "{e}");
    }

    #[test]
    fn bad_value_names_line_and_field() {
        let e = err("[[span]]\nid = 1\ntype = \"e3\"\nsignalling = \"pri_cpe\"\n");
        assert_eq!(e.line(), Some(3), "{e}");
        assert_eq!(e.field(), Some("span.type"), "{e}");
    }

    #[test]
    fn t1_with_crc4_is_refused() {
        let e = err("[[span]]\nid = 1\ntype = \"t1\"\nsignalling = \"pri_net\"\ncrc4 = true\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(5), Some("span[0].crc4")),
            "{e}"
        );
    }

    #[test]
    fn a_registrar_by_host_name_is_refused_where_it_stands() {
        let trunk = |registrar: &str| {
            format!(
                "[[sip_trunk]]\nname = \"itsp\"\nlisten = \"127.0.0.1:5060\"\n\
                 peers = [\"192.0.2.10:5060\"]\n\
                 register = {{ registrar = \"{registrar}\", aor = \"sip:gw@itsp.example\" }}\n"
            )
        };
        let e = err(&trunk("sip:registrar.itsp.example"));
        assert_eq!(
            (e.line(), e.field()),
            (Some(5), Some("sip_trunk[0].register.registrar")),
            "{e}"
        );
        Config::from_str(&trunk("sip:192.0.2.10:5060"), "t.toml").unwrap();
    }

    #[test]
    fn a_registration_of_less_than_a_minute_is_refused() {
        let trunk = |expires: u32| {
            format!(
                "[[sip_trunk]]\nname = \"itsp\"\nlisten = \"127.0.0.1:5060\"\n\
                 peers = [\"192.0.2.10:5060\"]\n\
                 register = {{ registrar = \"sip:192.0.2.10\", aor = \"sip:gw@itsp\", expires = {expires} }}\n"
            )
        };
        for bad in [0, 5, 59] {
            let e = err(&trunk(bad));
            assert_eq!(
                (e.line(), e.field()),
                (Some(5), Some("sip_trunk[0].register.expires")),
                "{e}"
            );
        }
        Config::from_str(&trunk(60), "t.toml").unwrap();
    }

    #[test]
    fn a_switch_type_without_its_variant_is_refused() {
        for t in ["dms100", "4ess", "5ess", "qsig"] {
            let e = err(&format!(
                "[[span]]\nid = 1\ntype = \"t1\"\nsignalling = \"pri_cpe\"\nswitchtype = \"{t}\"\n"
            ));
            assert_eq!(
                (e.line(), e.field()),
                (Some(5), Some("span[0].switchtype")),
                "{e}"
            );
            assert!(e.to_string().contains("not implemented"), "{e}");
        }
        // Both implemented variants on either line.
        for (kind, t) in [("e1", "ni2"), ("t1", "euroisdn")] {
            Config::from_str(
                &format!(
                    "[[span]]\nid = 1\ntype = \"{kind}\"\nsignalling = \"pri_cpe\"\nswitchtype = \"{t}\"\n"
                ),
                "t.toml",
            )
            .unwrap();
        }
    }

    #[test]
    fn trunk_group_errors_point_at_the_member() {
        let e = err(&format!(
            "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 2 }}]\n"
        ));
        assert_eq!(e.line(), Some(7), "{e}");
        assert_eq!(e.field(), Some("trunk_group[0].members[0].span"));
        let e = err(&format!(
            "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1, channels = \"1-16\" }}]\n"
        ));
        assert!(e.to_string().contains("D-channel"), "{e}");
    }

    #[test]
    fn routes_must_name_known_trunks() {
        let e = err(&format!(
            "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n\
             [[route]]\npattern = \"_0X.\"\nto = [\"pstm\"]\n"
        ));
        assert_eq!(e.line(), Some(10), "{e}");
        assert!(e.to_string().contains("pstm"));
    }

    #[test]
    fn channel_lists() {
        assert_eq!(parse_channel_list("1-3,5").unwrap().len(), 4);
        assert!(parse_channel_list("3-1").is_err());
        assert!(parse_channel_list("x").is_err());
    }

    #[test]
    fn overlap_sending_keys() {
        let g = format!(
            "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n\
             overlap_sending = true\ndigit_map = [\"_0[1-9]XXXXXXX\", \"112\"]\n"
        );
        let c = Config::from_str(&g, "gw.toml").unwrap();
        let o = &c.trunk_groups[0].overlap;
        assert!(o.enabled);
        assert_eq!(o.digit_map.len(), 2);
        assert_eq!(o.digit_timeout, std::time::Duration::from_secs(5));
        let e = err(&format!("{g}digit_timeout = 0\n"));
        assert_eq!(
            (e.line(), e.field()),
            (Some(10), Some("trunk_group[0].digit_timeout")),
            "{e}"
        );
        let e = err(&g.replace("112", "_[9-"));
        assert_eq!(e.field(), Some("trunk_group[0].digit_map"), "{e}");
        assert_eq!(e.line(), Some(9), "{e}");
    }

    #[test]
    fn tls_trunk_keys() {
        let c = Config::from_str(
            "[[sip_trunk]]\nname = \"carrier\"\ntransport = \"tls\"\n\
             tls_certificate = \"/etc/gw/cert.pem\"\ntls_key = \"/etc/gw/key.pem\"\nsips = true\n",
            "gw.toml",
        )
        .unwrap();
        let t = &c.sip_trunks[0];
        assert_eq!(t.listen.port(), 5061);
        assert!(t.sips);
        assert_eq!(
            t.tls.as_ref().unwrap().key,
            std::path::PathBuf::from("/etc/gw/key.pem")
        );
        let e = err("[[sip_trunk]]\nname = \"carrier\"\ntransport = \"tls\"\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(2), Some("sip_trunk[0].tls_certificate")),
            "{e}"
        );
        let e = err("[[sip_trunk]]\nname = \"pbx\"\nsips = true\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(3), Some("sip_trunk[0].sips")),
            "{e}"
        );
    }

    #[test]
    fn guard_and_redirecting_keys_name_their_line() {
        let c = Config::from_str(
            "[[sip_trunk]]\nname = \"pbx\"\nreject = \"silent\"\nrate_limit = 0\n\
             redirecting = \"history_info\"\n",
            "gw.toml",
        )
        .unwrap();
        let t = &c.sip_trunks[0];
        assert_eq!(
            (t.reject, t.rate_limit, t.redirecting),
            (RejectAction::Silent, 0, RedirectHeaders::HistoryInfo)
        );
        let e = err("[[sip_trunk]]\nname = \"pbx\"\nredirecting = \"diverted\"\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(3), Some("sip_trunk.redirecting")),
            "{e}"
        );
        let e = err("[[sip_trunk]]\nname = \"pbx\"\nreject = \"drop\"\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(3), Some("sip_trunk.reject")),
            "{e}"
        );
    }

    #[test]
    fn transfer_key() {
        let g = |v: &str| {
            format!(
                "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n\
                 transfer = \"{v}\"\n"
            )
        };
        let c = Config::from_str(&g("ect"), "gw.toml").unwrap();
        assert_eq!(c.trunk_groups[0].transfer, TransferMode::Ect);
        let c = Config::from_str(&g("hairpin"), "gw.toml").unwrap();
        assert_eq!(c.trunk_groups[0].transfer, TransferMode::Hairpin);
        let c = Config::from_str(
            &format!("{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n"),
            "gw.toml",
        )
        .unwrap();
        assert_eq!(c.trunk_groups[0].transfer, TransferMode::Hairpin);
        // 2BCT is not EuroISDN's: refused on this E1, at the key.
        let e = err(&g("2bct"));
        assert_eq!(
            (e.line(), e.field()),
            (Some(8), Some("trunk_group[0].transfer")),
            "{e}"
        );
        assert!(e.to_string().contains("ni2"), "{e}");
        let e = err(&g("rlt"));
        assert_eq!(
            (e.line(), e.field()),
            (Some(8), Some("trunk_group.transfer")),
            "{e}"
        );
        let t1 = "[[span]]\nid = 2\ntype = \"t1\"\nsignalling = \"pri_cpe\"\n\
                  [[trunk_group]]\nname = \"na\"\nmembers = [{ span = 2 }]\ntransfer = \"2bct\"\n";
        let c = Config::from_str(t1, "gw.toml").unwrap();
        assert_eq!(c.trunk_groups[0].transfer, TransferMode::TwoBct);
        let e = err(&t1.replace("2bct", "ect"));
        assert_eq!(e.field(), Some("trunk_group[0].transfer"), "{e}");
    }

    #[test]
    fn an_empty_or_reversed_rtp_port_range_is_refused() {
        for (range, line, field) in [
            (
                "rtp_port_min = 20000\nrtp_port_max = 10000",
                3,
                "general.rtp_port_max",
            ),
            (
                "rtp_port_min = 10000\nrtp_port_max = 10000",
                3,
                "general.rtp_port_max",
            ),
            (
                "rtp_port_min = 0\nrtp_port_max = 10000",
                2,
                "general.rtp_port_min",
            ),
        ] {
            let e = err(&format!("[general]\n{range}\n{BASE}"));
            assert_eq!((e.line(), e.field()), (Some(line), Some(field)), "{e}");
        }
        // Only the minimum given, above the default maximum: the minimum is named.
        let e = err(&format!("[general]\nrtp_port_min = 30000\n{BASE}"));
        assert_eq!(
            (e.line(), e.field()),
            (Some(2), Some("general.rtp_port_min")),
            "{e}"
        );
        let ok = format!("[general]\nrtp_port_min = 16000\nrtp_port_max = 16001\n{BASE}");
        Config::from_str(&ok, "gw.toml").unwrap();
    }

    #[test]
    fn moh_file_is_read_with_the_configuration_and_errors_name_file_line_and_field() {
        let dir = std::env::temp_dir().join(format!("gw-moh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("music.alaw"), [0xD5u8; 800]).unwrap();
        let cfg = dir.join("gw.toml");
        let text = format!("[general]\nmoh_file = \"music.alaw\"\n{BASE}");
        let c = Config::from_str(&text, &cfg.to_string_lossy()).unwrap();
        assert_eq!(c.moh.as_ref().map(|m| m.samples.len()), Some(800));
        // A bad file: the configuration's line and field, the sound file and its fault.
        std::fs::write(dir.join("bad.wav"), b"RIFF\0\0\0\0WAVEjunk").unwrap();
        let e = Config::from_str(
            &text.replace("music.alaw", "bad.wav"),
            &cfg.to_string_lossy(),
        )
        .unwrap_err();
        assert_eq!(
            (e.line(), e.field()),
            (Some(2), Some("general.moh_file")),
            "{e}"
        );
        assert!(e.to_string().contains("bad.wav: octet"), "{e}");
        let e = err(&format!(
            "[general]\nmoh_file = \"/nonexistent.ulaw\"\n{BASE}"
        ));
        assert!(
            e.to_string().contains("/nonexistent.ulaw: cannot read"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hold_and_identity_keys() {
        let g = format!(
            "{BASE}[[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n\
             hold_media = \"moh\"\n[[sip_trunk]]\nname = \"pbx\"\ntrust_identity = true\n"
        );
        let c = Config::from_str(&g, "gw.toml").unwrap();
        assert_eq!(c.trunk_groups[0].hold_media, HoldMedia::Moh);
        assert!(c.sip_trunks[0].trust_identity);
        let c = Config::from_str("[[sip_trunk]]\nname = \"pbx\"\n", "gw.toml").unwrap();
        assert!(!c.sip_trunks[0].trust_identity);
        let e = err(&g.replace("\"moh\"", "\"jazz\""));
        assert_eq!(
            (e.line(), e.field()),
            (Some(8), Some("trunk_group.hold_media")),
            "{e}"
        );
        let e = err("[[sip_trunk]]\nname = \"pbx\"\ntrust_identity = \"yes\"\n");
        assert_eq!(
            (e.line(), e.field()),
            (Some(3), Some("sip_trunk.trust_identity")),
            "{e}"
        );
    }

    #[test]
    fn sip_trunk_allow_defaults_to_peers() {
        let c = Config::from_str(
            "[[sip_trunk]]\nname = \"pbx\"\npeers = [\"192.0.2.10:5060\"]\n",
            "gw.toml",
        )
        .unwrap();
        let t = &c.sip_trunks[0];
        assert!(t.allow[0].contains("192.0.2.10".parse().unwrap()));
        assert!(!t.allow[0].contains("192.0.2.11".parse().unwrap()));
        let e = err("[[sip_trunk]]\nname = \"pbx\"\nallow = [\"10.0.0.0/33\"]\n");
        assert_eq!(e.field(), Some("sip_trunk[0].allow"));
    }
}
