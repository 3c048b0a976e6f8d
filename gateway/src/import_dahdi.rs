//! `gatewayd import-dahdi system.conf chan_dahdi.conf`: an Asterisk/DAHDI configuration
//! turned into ours.
//!
//! From `system.conf` (dahdi-tools): `span=`, `bchan=`, `dchan=`/`hardhdlc=`. From
//! `chan_dahdi.conf` (Asterisk): `signalling`, `switchtype`, `group` and the `channel =>`
//! lines they apply to. Contexts are dropped: routing is ours to configure. Channel numbers
//! in both files are DAHDI's global numbers (span 1 first, 31 channels per E1, 24 per T1),
//! which we turn into span + timeslot.
//!
//! ```
//! let system = "span=1,1,0,ccs,hdb3,crc4\nbchan=1-15,17-31\ndchan=16\n";
//! let chan = "[channels]\nswitchtype=euroisdn\nsignalling=pri_cpe\ngroup=1\nchannel => 1-15,17-31\n";
//! let toml = gateway::import_dahdi::import(system, chan).unwrap();
//! let config = gateway::config::Config::from_str(&toml, "imported.toml").unwrap();
//! assert_eq!(config.trunk_groups[0].name, "group1");
//! assert_eq!(config.trunk_groups[0].members[0].channels.len(), 30);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What went wrong, with the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ImportError {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
struct SysSpan {
    num: u16,
    timing: u8,
    framing: String,
    coding: String,
    crc4: bool,
    /// First global channel number of the span.
    first: u16,
    is_t1: bool,
}

impl SysSpan {
    fn channels(&self) -> u16 {
        channels_of(self.is_t1)
    }
}

#[derive(Debug, Clone, Default)]
struct ChanSettings {
    /// Value and the line it was set on.
    signalling: Option<(String, usize)>,
    switchtype: Option<(String, usize)>,
    groups: Vec<u32>,
}

/// Channel numbers a span takes in DAHDI's global numbering (T1 24, E1 31).
fn channels_of(is_t1: bool) -> u16 {
    if is_t1 {
        24
    } else {
        31
    }
}

fn err(file: &'static str, line: usize, message: impl Into<String>) -> ImportError {
    ImportError {
        file,
        line,
        message: message.into(),
    }
}

fn parse_list(file: &'static str, line: usize, s: &str) -> Result<Vec<u16>, ImportError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<u16>()
                .map_err(|_| err(file, line, format!("`{t}` is not a channel number")))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(err(file, line, format!("range `{part}` runs backwards")));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    line.split(['#', ';']).next().unwrap_or("").trim()
}

/// Convert the two files' text into our TOML configuration text.
pub fn import(system_conf: &str, chan_dahdi_conf: &str) -> Result<String, ImportError> {
    const SYS: &str = "system.conf";
    const CHAN: &str = "chan_dahdi.conf";
    let mut spans: Vec<SysSpan> = Vec::new();
    let mut dchans: Vec<(u16, usize)> = Vec::new();
    // DAHDI numbers channels across spans from 1 in 16 bits.
    let mut next_first = 1u32;
    for (i, raw) in system_conf.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "span" => {
                let f: Vec<&str> = value.split(',').map(str::trim).collect();
                if f.len() < 5 {
                    return Err(err(
                        SYS,
                        n,
                        "span= needs <span>,<timing>,<lbo>,<framing>,<coding>[,crc4]",
                    ));
                }
                let num = f[0]
                    .parse()
                    .map_err(|_| err(SYS, n, format!("bad span number `{}`", f[0])))?;
                let timing = f[1]
                    .parse()
                    .map_err(|_| err(SYS, n, format!("bad timing source `{}`", f[1])))?;
                let framing = f[3].to_ascii_lowercase();
                let coding = f[4].to_ascii_lowercase();
                let is_t1 = match framing.as_str() {
                    "ccs" | "cas" => false,
                    "esf" | "d4" | "sf" => true,
                    other => return Err(err(SYS, n, format!("unknown framing `{other}`"))),
                };
                let crc4 = f[5..].iter().any(|x| x.eq_ignore_ascii_case("crc4"));
                let first = u16::try_from(next_first)
                    .ok()
                    .filter(|&f| u32::from(f) + u32::from(channels_of(is_t1)) - 1 <= 0xFFFF)
                    .ok_or_else(|| {
                        err(
                            SYS,
                            n,
                            "more spans than DAHDI's channel numbers (65535) can hold",
                        )
                    })?;
                let s = SysSpan {
                    num,
                    timing,
                    framing: if framing == "sf" {
                        "d4".into()
                    } else {
                        framing
                    },
                    coding,
                    crc4,
                    first,
                    is_t1,
                };
                next_first += u32::from(s.channels());
                spans.push(s);
            }
            "dchan" | "hardhdlc" => {
                for c in parse_list(SYS, n, value)? {
                    dchans.push((c, n));
                }
            }
            _ => {}
        }
    }
    if spans.is_empty() {
        return Err(err(SYS, 1, "no span= line found"));
    }
    let locate = |global: u16| -> Option<(&SysSpan, u16)> {
        spans
            .iter()
            .find(|s| {
                global >= s.first
                    && u32::from(global) < u32::from(s.first) + u32::from(s.channels())
            })
            .map(|s| (s, global - s.first + 1))
    };

    // chan_dahdi.conf: settings accumulate; each `channel =>` takes the current ones.
    let mut current = ChanSettings::default();
    let mut in_channels = false;
    let mut span_settings: BTreeMap<u16, ChanSettings> = BTreeMap::new();
    let mut groups: BTreeMap<u32, Vec<u16>> = BTreeMap::new();
    for (i, raw) in chan_dahdi_conf.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw);
        if line.starts_with('[') {
            in_channels = line.trim_matches(|c| c == '[' || c == ']') == "channels";
            continue;
        }
        if !in_channels {
            continue;
        }
        let (key, value) = if let Some((k, v)) = line.split_once("=>") {
            (k.trim(), v.trim())
        } else if let Some((k, v)) = line.split_once('=') {
            (k.trim(), v.trim())
        } else {
            continue;
        };
        match key {
            "signalling" | "signaling" => current.signalling = Some((value.to_string(), n)),
            "switchtype" => current.switchtype = Some((value.to_string(), n)),
            "group" => {
                current.groups = parse_list(CHAN, n, value)?
                    .into_iter()
                    .map(u32::from)
                    .collect()
            }
            "channel" | "channels" => {
                for c in parse_list(CHAN, n, value)? {
                    let Some((sp, _)) = locate(c) else {
                        return Err(err(
                            CHAN,
                            n,
                            format!("channel {c} is on no span of system.conf"),
                        ));
                    };
                    span_settings
                        .entry(sp.num)
                        .or_insert_with(|| current.clone());
                    for g in &current.groups {
                        groups.entry(*g).or_default().push(c);
                    }
                }
            }
            _ => {}
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported from system.conf and chan_dahdi.conf by `gatewayd import-dahdi`.\n\
         # Contexts were not imported: add [[sip_trunk]] and [[route]] sections.\n"
    );
    for s in &spans {
        let settings = span_settings.get(&s.num).cloned().unwrap_or_default();
        let signalling = match &settings.signalling {
            Some((v, _)) if v == "pri_net" => "pri_net",
            Some((v, _)) if v == "pri_cpe" => "pri_cpe",
            None => "pri_cpe",
            Some((other, line)) => {
                return Err(err(
                    CHAN,
                    *line,
                    format!(
                        "span {}: signalling `{other}` is not a PRI signalling",
                        s.num
                    ),
                ))
            }
        };
        let switchtype = match &settings.switchtype {
            None => None,
            Some((v, line)) => Some(match v.as_str() {
                "euroisdn" => "euroisdn",
                "national" | "ni2" => "ni2",
                other @ ("dms100" | "4ess" | "5ess" | "qsig") => {
                    return Err(err(
                        CHAN,
                        *line,
                        format!(
                            "switchtype `{other}` is not implemented here: euroisdn or \
                             national (ni2)"
                        ),
                    ))
                }
                other => {
                    return Err(err(
                        CHAN,
                        *line,
                        format!("switchtype `{other}` is not supported"),
                    ))
                }
            }),
        };
        let _ = writeln!(out, "[[span]]\nid = {}", s.num);
        let _ = writeln!(out, "type = \"{}\"", if s.is_t1 { "t1" } else { "e1" });
        let _ = writeln!(out, "framing = \"{}\"", s.framing);
        let _ = writeln!(out, "coding = \"{}\"", s.coding);
        if !s.is_t1 {
            let _ = writeln!(out, "crc4 = {}", s.crc4);
        }
        let _ = writeln!(out, "clock_priority = {}", s.timing);
        let _ = writeln!(out, "signalling = \"{signalling}\"");
        if let Some(sw) = switchtype {
            let _ = writeln!(out, "switchtype = \"{sw}\"");
        }
        if let Some((c, line)) = dchans
            .iter()
            .find(|(c, _)| locate(*c).is_some_and(|(sp, _)| sp.num == s.num))
        {
            let (_, ts) = locate(*c).ok_or_else(|| err(SYS, *line, "dchan outside spans"))?;
            let _ = writeln!(out, "dchannel = {ts}");
        }
        let _ = writeln!(
            out,
            "device = {{ kind = \"dahdi\", dahdi_span = {} }}\n",
            s.num
        );
    }
    for (g, chans) in &groups {
        let _ = writeln!(out, "[[trunk_group]]\nname = \"group{g}\"\nmembers = [");
        let mut by_span: BTreeMap<u16, Vec<u16>> = BTreeMap::new();
        for c in chans {
            if let Some((sp, ts)) = locate(*c) {
                by_span.entry(sp.num).or_default().push(ts);
            }
        }
        for (span, ts) in by_span {
            let _ = writeln!(
                out,
                "  {{ span = {span}, channels = \"{}\" }},",
                compress(&ts)
            );
        }
        let _ = writeln!(out, "]\n");
    }
    Ok(out)
}

/// `[1,2,3,5]` → `"1-3,5"`.
fn compress(v: &[u16]) -> String {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Signalling, SwitchType};

    const SYSTEM: &str = "\
# two E1 spans and a T1
span=1,1,0,ccs,hdb3,crc4
span=2,2,0,ccs,hdb3
span=3,0,0,esf,b8zs
bchan=1-15,17-31
dchan=16
bchan=32-46,48-62
hardhdlc=47
bchan=63-85
dchan=86
echocanceller=mg2,1-15,17-31
loadzone=nl
defaultzone=nl
";

    const CHAN: &str = "\
[trunkgroups]
[channels]
context=from-pstn
switchtype=euroisdn
signalling=pri_cpe
group=1
channel => 1-15,17-31
signalling=pri_net
group=2
channel => 32-46,48-62
switchtype=national
signalling=pri_cpe
group=1,3
channel => 63-85
";

    #[test]
    fn imports_spans_groups_and_signalling() {
        let toml = import(SYSTEM, CHAN).unwrap();
        let c = Config::from_str(&toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        assert_eq!(c.spans.len(), 3);
        assert_eq!(c.spans[0].signalling, Signalling::PriCpe);
        assert_eq!(c.spans[1].signalling, Signalling::PriNet);
        assert!(!c.spans[1].crc4);
        assert_eq!(c.spans[2].switchtype, SwitchType::Ni2);
        assert_eq!(c.spans[2].dchannel.0, 24);
        assert_eq!(c.spans[1].dchannel.0, 16);
        let g1 = c.trunk_groups.iter().find(|g| g.name == "group1").unwrap();
        assert_eq!(g1.members.len(), 2, "spans 1 and 3");
        assert_eq!(g1.members[0].channels.len(), 30);
        assert_eq!(g1.members[1].channels.len(), 23);
        let g3 = c.trunk_groups.iter().find(|g| g.name == "group3").unwrap();
        assert_eq!(g3.members[0].span.0, 3);
    }

    /// DAHDI numbers channels across spans in 16 bits: the span that would go past
    /// 65535 is named, not wrapped onto the channels of the first.
    #[test]
    fn more_spans_than_channel_numbers_is_an_error_at_that_span() {
        let system: String = (1..=2200)
            .map(|i| format!("span={i},0,0,ccs,hdb3,crc4\n"))
            .collect();
        let e = import(&system, "").unwrap_err();
        // Span k takes 31k − 30 ..= 31k: span 2114 ends on 65534, span 2115 would go past.
        assert_eq!((e.file, e.line), ("system.conf", 2115), "{e}");
        // A span that ends on channel 65535 itself fits: 9 E1 spans (1 ..= 279), then
        // 2719 T1 spans (280 ..= 65535); one more is refused.
        let exact: String = (1..=2728)
            .map(|i| match i {
                1..=9 => format!("span={i},0,0,ccs,hdb3\n"),
                _ => format!("span={i},0,0,esf,b8zs\n"),
            })
            .collect();
        import(&exact, "").unwrap();
        let e = import(&format!("{exact}span=2729,0,0,esf,b8zs\n"), "").unwrap_err();
        assert_eq!((e.file, e.line), ("system.conf", 2729), "{e}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = import("span=1,1,0,xyz,hdb3\n", "").unwrap_err();
        assert_eq!((e.file, e.line), ("system.conf", 1));
        let e = import(
            "span=1,1,0,ccs,hdb3\n",
            "[channels]\ngroup=1\nchannel => 40\n",
        )
        .unwrap_err();
        assert_eq!((e.file, e.line), ("chan_dahdi.conf", 3));
        let e = import(
            "span=1,1,0,ccs,hdb3\n",
            "[channels]\nsignalling=fxs_ks\ngroup=1\nchannel => 1\n",
        )
        .unwrap_err();
        assert_eq!((e.file, e.line), ("chan_dahdi.conf", 2), "{e}");
        // A switch type whose Q.931 variant is not implemented is named where it stands,
        // not turned into a configuration that fails later.
        let e = import(
            "span=1,1,0,esf,b8zs\nbchan=1-23\nhardhdlc=24\n",
            "[channels]\nsignalling=pri_cpe\nswitchtype=dms100\ngroup=1\nchannel => 1-23\n",
        )
        .unwrap_err();
        assert_eq!((e.file, e.line), ("chan_dahdi.conf", 3), "{e}");
        assert!(e.to_string().contains("not implemented"), "{e}");
    }

    #[test]
    fn compress_ranges() {
        assert_eq!(compress(&[5, 1, 2, 3, 7, 8]), "1-3,5,7-8");
    }
}
