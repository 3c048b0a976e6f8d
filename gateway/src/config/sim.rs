//! The simulated PSTN switch on the far end of a simulated span (`device = { kind = "sim" }`):
//! its keys in the span's device section, kept apart from the rest of the configuration.
//!
//! ```toml
//! [[span]]
//! id = 1
//! type = "e1"
//! signalling = "pri_cpe"
//! [span.device]
//! kind = "sim"
//! answer_after_ms = 1000   # ring this long, then CONNECT (0: answer at once)
//! tone_hz = 1004           # the tone the switch plays once a call is connected
//! record_ms = 10000        # how much received audio the switch keeps per call (0: none)
//! [[span.device.number]]   # the number plan: the exact number, else the longest prefix
//! prefix = "0555"
//! behaviour = "busy"       # answer | busy | unallocated | congestion | no_answer | early_media
//! ```
//!
//! Built in, below any rule of the file: `099917…` busy (cause 17), `099934…` congestion
//! (34), `099901…` unallocated (1), `099919…` no answer (19 after 60 s), `099908…` early
//! media (an announcement tone); everything else answers.

use serde::Deserialize;
use toml::Spanned;

use super::model::RawDevice as RawSimKeys;

/// One `[[span.device.number]]` rule, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNumberRule {
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub exact: Option<Spanned<String>>,
    pub behaviour: Spanned<SimBehaviourName>,
    /// `answer`: overrides `answer_after_ms`; `no_answer`: when the switch gives up.
    #[serde(default)]
    pub after_ms: Option<u64>,
    /// `answer` / `early_media`: the tone, overriding `tone_hz`.
    #[serde(default)]
    pub tone_hz: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SimBehaviourName {
    Answer,
    Busy,
    Unallocated,
    Congestion,
    NoAnswer,
    EarlyMedia,
}

/// What the simulated switch does with a call offered to a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimBehaviour {
    /// Ring (ALERTING with in-band ringback), CONNECT after `after_ms`, then play `tone_hz`.
    Answer { after_ms: u64, tone_hz: u32 },
    /// DISCONNECT with cause 17 after CALL PROCEEDING.
    Busy,
    /// RELEASE COMPLETE with cause 1.
    Unallocated,
    /// RELEASE COMPLETE with cause 34.
    Congestion,
    /// Ring, and clear with cause 19 after `after_ms`.
    NoAnswer { after_ms: u64 },
    /// PROGRESS (in-band information) and a tone of `tone_hz`, never answered.
    EarlyMedia { tone_hz: u32 },
}

/// How a number rule matches the called number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimPattern {
    Exact(String),
    Prefix(String),
}

/// The simulated switch of one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSwitch {
    /// Every number not in `rules`.
    pub default: SimBehaviour,
    /// Built-in rules first, then the file's.
    pub rules: Vec<(SimPattern, SimBehaviour)>,
    /// The tone the switch plays on calls it places, once answered.
    pub tone_hz: u32,
    /// Received audio kept per call, in ms.
    pub record_ms: u64,
}

/// Ring time of the built-in default.
pub const DEFAULT_ANSWER_AFTER_MS: u64 = 1000;
/// The switch's default tone: 1004 Hz, the test tone of ITU-T O.6 (a frequency that is no
/// sub-multiple of 8 kHz, so it exercises every sample value).
pub const DEFAULT_TONE_HZ: u32 = 1004;
pub const DEFAULT_RECORD_MS: u64 = 10_000;

impl Default for SimSwitch {
    fn default() -> Self {
        SimSwitch::with(DEFAULT_ANSWER_AFTER_MS, DEFAULT_TONE_HZ, DEFAULT_RECORD_MS)
    }
}

impl SimSwitch {
    fn with(after_ms: u64, tone_hz: u32, record_ms: u64) -> SimSwitch {
        let p = |s: &str| SimPattern::Prefix(s.into());
        SimSwitch {
            default: SimBehaviour::Answer { after_ms, tone_hz },
            rules: vec![
                (p("099917"), SimBehaviour::Busy),
                (p("099934"), SimBehaviour::Congestion),
                (p("099901"), SimBehaviour::Unallocated),
                (p("099919"), SimBehaviour::NoAnswer { after_ms: 60_000 }),
                (p("099908"), SimBehaviour::EarlyMedia { tone_hz: 800 }),
            ],
            tone_hz,
            record_ms,
        }
    }
}

/// An error at a place in the file: (byte offset or `None` for the device table, field
/// under the device table, message).
pub(crate) type SimError = (Option<usize>, String, String);

/// Tones the switch can play on a G.711 channel: 50 Hz – 3.95 kHz (below Nyquist at 8 kHz).
const TONE_RANGE: std::ops::RangeInclusive<u32> = 50..=3950;

fn tone(v: &Spanned<u32>, field: &str) -> Result<u32, SimError> {
    if TONE_RANGE.contains(v.get_ref()) {
        Ok(*v.get_ref())
    } else {
        Err((
            Some(v.span().start),
            field.into(),
            format!(
                "a tone of {} Hz cannot be carried by G.711 (50-3950)",
                v.get_ref()
            ),
        ))
    }
}

/// Check the sim keys and build the switch's configuration.
pub(crate) fn sim_switch(raw: &RawSimKeys) -> Result<SimSwitch, SimError> {
    let tone_hz = match &raw.tone_hz {
        Some(t) => tone(t, "tone_hz")?,
        None => DEFAULT_TONE_HZ,
    };
    let after = raw.answer_after_ms.unwrap_or(DEFAULT_ANSWER_AFTER_MS);
    let mut sw = SimSwitch::with(after, tone_hz, raw.record_ms.unwrap_or(DEFAULT_RECORD_MS));
    for (i, r) in raw.number.iter().enumerate() {
        let field = |k: &str| format!("number[{i}].{k}");
        let pattern = match (&r.prefix, &r.exact) {
            (Some(p), None) => SimPattern::Prefix(digits(p, &field("prefix"))?),
            (None, Some(e)) => SimPattern::Exact(digits(e, &field("exact"))?),
            _ => {
                return Err((
                    Some(r.behaviour.span().start),
                    field("prefix"),
                    "a number rule has exactly one of `prefix` and `exact`".into(),
                ))
            }
        };
        let rule_tone = match &r.tone_hz {
            Some(t) => Some(tone(t, &field("tone_hz"))?),
            None => None,
        };
        let b = match r.behaviour.get_ref() {
            SimBehaviourName::Answer => SimBehaviour::Answer {
                after_ms: r.after_ms.unwrap_or(after),
                tone_hz: rule_tone.unwrap_or(tone_hz),
            },
            SimBehaviourName::Busy => SimBehaviour::Busy,
            SimBehaviourName::Unallocated => SimBehaviour::Unallocated,
            SimBehaviourName::Congestion => SimBehaviour::Congestion,
            SimBehaviourName::NoAnswer => SimBehaviour::NoAnswer {
                after_ms: r.after_ms.unwrap_or(60_000),
            },
            SimBehaviourName::EarlyMedia => SimBehaviour::EarlyMedia {
                tone_hz: rule_tone.unwrap_or(tone_hz),
            },
        };
        sw.rules.push((pattern, b));
    }
    Ok(sw)
}

fn digits(v: &Spanned<String>, field: &str) -> Result<String, SimError> {
    let s = v.get_ref();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
    {
        Ok(s.clone())
    } else {
        Err((
            Some(v.span().start),
            field.into(),
            format!("`{s}` is not a number (digits, * and #)"),
        ))
    }
}

/// Whether `raw` sets any sim key (they are refused on a DAHDI device).
pub(crate) fn any_set(raw: &RawSimKeys) -> bool {
    raw.answer_after_ms.is_some()
        || raw.tone_hz.is_some()
        || raw.record_ms.is_some()
        || !raw.number.is_empty()
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Device};

    use super::*;

    fn span_with(device: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_str(
            &format!(
                "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n{device}\n\
                 [[trunk_group]]\nname = \"pstn\"\nmembers = [{{ span = 1 }}]\n"
            ),
            "t.toml",
        )
    }

    #[test]
    fn defaults_and_keys_of_the_sim_device() {
        let c = span_with("device = { kind = \"sim\" }").unwrap();
        assert_eq!(c.spans[0].device, Device::Simulator(SimSwitch::default()));
        let c = span_with(
            "[span.device]\nkind = \"sim\"\nanswer_after_ms = 0\ntone_hz = 1500\nrecord_ms = 0\n\
             [[span.device.number]]\nexact = \"5551234\"\nbehaviour = \"no_answer\"\nafter_ms = 5\n\
             [[span.device.number]]\nprefix = \"0\"\nbehaviour = \"early_media\"\n",
        )
        .unwrap();
        let Device::Simulator(sw) = &c.spans[0].device else {
            panic!("{:?}", c.spans[0].device)
        };
        assert_eq!(
            sw.default,
            SimBehaviour::Answer {
                after_ms: 0,
                tone_hz: 1500
            }
        );
        assert_eq!(sw.record_ms, 0);
        assert_eq!(
            sw.rules[sw.rules.len() - 2..],
            [
                (
                    SimPattern::Exact("5551234".into()),
                    SimBehaviour::NoAnswer { after_ms: 5 }
                ),
                (
                    SimPattern::Prefix("0".into()),
                    SimBehaviour::EarlyMedia { tone_hz: 1500 }
                )
            ]
        );
    }

    #[test]
    fn bad_sim_keys_are_reported_at_their_place() {
        let e = span_with("[span.device]\nkind = \"sim\"\ntone_hz = 5000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.toml:7:") && e.contains("device.tone_hz"),
            "{e}"
        );
        let e = span_with(
            "[span.device]\nkind = \"sim\"\n[[span.device.number]]\nprefix = \"12a\"\nbehaviour = \"busy\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("number[0].prefix"), "{e}");
        let e = span_with("[span.device]\nkind = \"dahdi\"\nanswer_after_ms = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sim"), "{e}");
    }
}
