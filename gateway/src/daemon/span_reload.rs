//! What a reload may do to the `[[span]]` set, checked before anything is applied.
//!
//! A running span's physical and signalling settings (type, framing, line coding, CRC-4,
//! D-channel, law, clock priority, signalling side, switch variant, device) are set when its
//! device and its Q.921/Q.931 stack are opened: they change only at a restart. A reload that
//! changes one of them is refused as a whole, naming the file, the line and the field, and
//! nothing of it is applied. A span removed by a reload while calls use it is refused the
//! same way (take the span out of service with `gatewayd ctl span N out`, wait for its calls
//! to end, then reload).

use std::collections::BTreeMap;

use dahdi_driver::SpanId;
use serde::Deserialize;

use crate::config::{ConfigError, Device, Span};

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file does not load (syntax, types, semantics).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A running span's settings changed.
    #[error(
        "{file}:{line}: field `{field}`: span {span}: `{key}` changed ({old} -> {new}): \
         spans change only at restart"
    )]
    SpanChanged {
        file: String,
        line: usize,
        /// Dotted path, e.g. `span[0].signalling`.
        field: String,
        span: u16,
        key: &'static str,
        old: String,
        new: String,
    },
    /// A span that carries calls is no longer configured.
    #[error(
        "{file}: span {span} removed while {calls} call(s) use it: take it out of service \
         (`gatewayd ctl span {span} out`), wait for its calls to end, then reload"
    )]
    SpanBusy {
        file: String,
        span: u16,
        calls: usize,
    },
}

/// The spans' positions in the new file: each `[[span]]` table's values with their byte
/// ranges, to name a line.
#[derive(Deserialize)]
struct Positions {
    #[serde(default)]
    span: Vec<BTreeMap<String, toml::Spanned<toml::Value>>>,
}

/// One setting of a span that only a restart changes: its file key and its value as shown.
fn settings(s: &Span) -> [(&'static str, String); 10] {
    let device = match &s.device {
        Device::Simulator(sw) => format!("sim {sw:?}"),
        Device::Dahdi { span, path } => format!("dahdi span {span} at {path}"),
    };
    [
        ("type", format!("{:?}", s.kind)),
        ("framing", format!("{:?}", s.framing)),
        ("coding", format!("{:?}", s.coding)),
        ("crc4", s.crc4.to_string()),
        ("dchannel", s.dchannel.0.to_string()),
        ("law", format!("{:?}", s.law)),
        ("clock_priority", s.clock_priority.to_string()),
        ("signalling", format!("{:?}", s.signalling)),
        ("switchtype", format!("{:?}", s.switchtype)),
        ("device", device),
    ]
}

/// Check the reloaded spans `new` against the `running` ones. `text` is the new file's
/// text, `file` its name; `calls_on(span)` counts the calls that use a span's channels.
pub fn check(
    running: &[Span],
    new: &[Span],
    text: &str,
    file: &str,
    calls_on: impl Fn(SpanId) -> usize,
) -> Result<(), ReloadError> {
    let positions: Vec<BTreeMap<String, toml::Spanned<toml::Value>>> =
        toml::from_str::<Positions>(text)
            .map(|p| p.span)
            .unwrap_or_default();
    for (i, n) in new.iter().enumerate() {
        let Some(old) = running.iter().find(|o| o.id == n.id) else {
            continue;
        };
        for ((key, was), (_, now)) in settings(old).into_iter().zip(settings(n)) {
            if was == now {
                continue;
            }
            // The changed key's line if it is written, else the line of the span's `id`.
            let table = positions.get(i);
            let offset = table
                .and_then(|t| t.get(key).or_else(|| t.get("id")))
                .map_or(0, |v| v.span().start);
            let line = text.as_bytes()[..offset.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(ReloadError::SpanChanged {
                file: file.to_string(),
                line,
                field: format!("span[{i}].{key}"),
                span: n.id.0,
                key,
                old: was,
                new: now,
            });
        }
    }
    for old in running {
        if new.iter().any(|n| n.id == old.id) {
            continue;
        }
        let calls = calls_on(old.id);
        if calls > 0 {
            return Err(ReloadError::SpanBusy {
                file: file.to_string(),
                span: old.id.0,
                calls,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const TWO: &str = "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n\n\
                       [[span]]\nid = 2\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n";

    fn spans(text: &str) -> Vec<Span> {
        Config::from_str(text, "t.toml").unwrap().spans
    }

    #[test]
    fn unchanged_and_added_spans_pass() {
        let one = spans("[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n");
        check(&one, &spans(TWO), TWO, "t.toml", |_| 0).unwrap();
        check(&spans(TWO), &spans(TWO), TWO, "t.toml", |_| 0).unwrap();
    }

    #[test]
    fn a_changed_signalling_names_file_line_and_field() {
        let text = TWO
            .replacen("pri_cpe", "pri_net", 2)
            .replacen("pri_net", "pri_cpe", 1);
        let e = check(&spans(TWO), &spans(&text), &text, "t.toml", |_| 0).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("t.toml:9: field `span[1].signalling`: span 2"),
            "{msg}"
        );
        assert!(msg.contains("spans change only at restart"), "{msg}");
    }

    #[test]
    fn a_written_setting_points_at_its_line_a_defaulted_one_at_the_id() {
        let text = TWO.replace("id = 2\ntype = \"e1\"", "id = 2\ntype = \"t1\"");
        let e = check(&spans(TWO), &spans(&text), &text, "t.toml", |_| 0).unwrap_err();
        assert!(
            e.to_string().starts_with("t.toml:8: field `span[1].type`"),
            "{e}"
        );
        // Span 1 ran with `crc4 = false`; the new file leaves it to its default (true).
        let before = TWO.replacen("pri_cpe\"\n", "pri_cpe\"\ncrc4 = false\n", 1);
        let e = check(&spans(&before), &spans(TWO), TWO, "t.toml", |_| 0).unwrap_err();
        assert!(
            e.to_string().starts_with("t.toml:2: field `span[0].crc4`"),
            "{e}"
        );
    }

    #[test]
    fn a_removed_span_is_refused_only_while_it_carries_calls() {
        let one = "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n";
        let calls = |s: SpanId| usize::from(s.0 == 2);
        let e = check(&spans(TWO), &spans(one), one, "t.toml", calls).unwrap_err();
        assert!(
            e.to_string().contains("span 2 removed while 1 call(s)"),
            "{e}"
        );
        check(&spans(TWO), &spans(one), one, "t.toml", |_| 0).unwrap();
    }
}
