//! The control socket (`gatewayd ctl …`): one text command per connection over a Unix
//! socket, one text answer back.
//!
//! Commands: `show spans`, `show channels`, `show calls`, `show trunk-groups`,
//! `channel <span>:<timeslot> out|in`, `span <span> out|in`, `hangup <call>`, `reload`,
//! `simcall <span> <number> [hold_ms]` (the simulated switch of a simulated span places a
//! call and clears it `hold_ms` after the answer), `show sim-calls` (what the simulated
//! switches saw and heard), `audit` (compare the core, the ISDN legs and the Q.931 stacks
//! now, as the periodic audit does, and say what is out of step and what was put right).

pub mod socket;

use std::fmt::Write as _;
use std::time::Instant;

use dahdi_driver::{ChannelId, SpanId, Timeslot};

use crate::core::{CallId, Core};
use crate::metrics::SpanStatus;
use crate::trunk::ChannelState;

/// A parsed control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ShowSpans,
    ShowChannels,
    ShowCalls,
    ShowTrunkGroups,
    /// Take a channel out of service (`out: true`) or bring it back.
    Channel {
        channel: ChannelId,
        out: bool,
    },
    /// Take every bearer of a span out of service, or bring them back.
    Span {
        span: SpanId,
        out: bool,
    },
    /// Hang up a call with normal clearing.
    Hangup(CallId),
    /// Re-read the configuration file.
    Reload,
    /// Have the simulated switch of a simulated span call `number` (tests and demos),
    /// clearing `hold` after the answer (default 1 s).
    SimCall {
        span: SpanId,
        number: String,
        hold: Option<std::time::Duration>,
    },
    /// The calls the simulated switches saw, with the tones they heard.
    ShowSimCalls,
    /// Run the audit of every span now (it runs every minute anyway).
    Audit,
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn in_out(s: Option<&str>) -> Result<bool, ParseError> {
    match s {
        Some("out") => Ok(true),
        Some("in") => Ok(false),
        _ => Err(ParseError("expected `out` or `in`".into())),
    }
}

impl Command {
    /// Parse one command line.
    pub fn parse(line: &str) -> Result<Command, ParseError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["show", "spans"] => Ok(Command::ShowSpans),
            ["show", "channels"] => Ok(Command::ShowChannels),
            ["show", "calls"] => Ok(Command::ShowCalls),
            ["show", "trunk-groups"] => Ok(Command::ShowTrunkGroups),
            ["channel", ch, rest @ ..] => {
                let (s, t) = ch
                    .split_once(':')
                    .ok_or_else(|| ParseError("channel is <span>:<timeslot>".into()))?;
                let span = s
                    .parse()
                    .map_err(|_| ParseError(format!("bad span `{s}`")))?;
                let ts = t
                    .parse()
                    .map_err(|_| ParseError(format!("bad timeslot `{t}`")))?;
                Ok(Command::Channel {
                    channel: ChannelId {
                        span: SpanId(span),
                        timeslot: Timeslot(ts),
                    },
                    out: in_out(rest.first().copied())?,
                })
            }
            ["span", s, rest @ ..] => Ok(Command::Span {
                span: SpanId(
                    s.parse()
                        .map_err(|_| ParseError(format!("bad span `{s}`")))?,
                ),
                out: in_out(rest.first().copied())?,
            }),
            ["hangup", c] => {
                let n = c.strip_prefix("call-").unwrap_or(c);
                Ok(Command::Hangup(CallId(
                    n.parse()
                        .map_err(|_| ParseError(format!("bad call id `{c}`")))?,
                )))
            }
            ["reload"] => Ok(Command::Reload),
            ["audit"] => Ok(Command::Audit),
            ["show", "sim-calls"] => Ok(Command::ShowSimCalls),
            ["simcall", s, number, rest @ ..] if rest.len() <= 1 => Ok(Command::SimCall {
                span: SpanId(
                    s.parse()
                        .map_err(|_| ParseError(format!("bad span `{s}`")))?,
                ),
                number: number.to_string(),
                hold: match rest.first() {
                    None => None,
                    Some(ms) => Some(std::time::Duration::from_millis(
                        ms.parse()
                            .map_err(|_| ParseError(format!("bad hold time `{ms}` (ms)")))?,
                    )),
                },
            }),
            _ => Err(ParseError(format!(
                "unknown command `{line}`; try: show spans|channels|calls|trunk-groups, \
                 channel S:T out|in, span S out|in, hangup CALL, reload, audit, \
                 simcall SPAN NUMBER [HOLD_MS], show sim-calls"
            ))),
        }
    }
}

/// Run a command that only needs the core (and the spans' status); `Reload` and `Audit`
/// are the daemon's and answer `None` here.
pub fn execute(
    cmd: &Command,
    core: &mut Core,
    spans: &[SpanStatus],
    now: Instant,
) -> Option<String> {
    let mut out = String::new();
    match cmd {
        Command::ShowSpans => {
            let _ = writeln!(out, "span  alarm  dchannel  clock    slips");
            for s in spans {
                // The clock: `source` for the span the device times from, else its
                // priority as a candidate (`prio N`), `-` for a span that never is, and
                // `other` for a DAHDI span timed from elsewhere (its priority is
                // dahdi_cfg's, not reported back).
                let clock = match (s.sync_source, s.clock_priority) {
                    (true, _) => "source".to_string(),
                    (false, Some(0)) => "-".to_string(),
                    (false, Some(p)) => format!("prio {p}"),
                    (false, None) => "other".to_string(),
                };
                let _ = writeln!(
                    out,
                    "{:<5} {:<6} {:<9} {:<8} {}",
                    s.span,
                    if s.alarm { "ALARM" } else { "ok" },
                    if s.dchannel_up { "up" } else { "down" },
                    clock,
                    s.slips.map_or("-".to_string(), |n| n.to_string())
                );
            }
        }
        Command::ShowChannels => {
            for (ch, st) in core.channel_states() {
                let state = match st {
                    ChannelState::Idle => "idle".to_string(),
                    ChannelState::Busy { call, reason } => {
                        format!("busy call-{call} {reason:?}").to_lowercase()
                    }
                    ChannelState::OutOfService(o) => format!(
                        "out-of-service{}{}{}",
                        if o.maintenance { " maintenance" } else { "" },
                        if o.alarm { " alarm" } else { "" },
                        if o.far_end { " far-end" } else { "" }
                    ),
                };
                let _ = writeln!(out, "{}:{} {state}", ch.span.0, ch.timeslot.0);
            }
        }
        Command::ShowCalls => {
            for c in core.calls() {
                let chans: Vec<String> = c
                    .channels
                    .iter()
                    .map(|ch| format!("{}:{}", ch.span.0, ch.timeslot.0))
                    .collect();
                let _ = writeln!(
                    out,
                    "{} {} -> {} {} -> {} [{}] {}",
                    c.id,
                    c.calling,
                    c.called,
                    c.in_trunk,
                    c.out_trunk,
                    chans.join(","),
                    if c.answered { "answered" } else { "setup" }
                );
            }
        }
        Command::ShowTrunkGroups => {
            let _ = writeln!(out, "group  idle  busy  out-of-service");
            for g in core.groups() {
                let _ = writeln!(out, "{} {} {} {}", g.name, g.idle, g.busy, g.out_of_service);
            }
        }
        Command::Channel { channel, out: o } => {
            if core.set_maintenance(*channel, *o) {
                let _ = writeln!(out, "ok");
            } else {
                let _ = writeln!(out, "error: no channel {channel}");
            }
        }
        Command::Span { span, out: o } => {
            let chans: Vec<ChannelId> = core
                .channel_states()
                .into_iter()
                .map(|(c, _)| c)
                .filter(|c| c.span == *span)
                .collect();
            if chans.is_empty() {
                let _ = writeln!(out, "error: no {span}");
            } else {
                for c in chans {
                    core.set_maintenance(c, *o);
                }
                let _ = writeln!(out, "ok");
            }
        }
        Command::Hangup(id) => {
            if core.hangup(now, *id, crate::core::cause::NORMAL_CLEARING) {
                let _ = writeln!(out, "ok");
            } else {
                let _ = writeln!(out, "error: no {id}");
            }
        }
        Command::Reload | Command::Audit | Command::SimCall { .. } | Command::ShowSimCalls => {
            return None
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(Command::parse("show calls"), Ok(Command::ShowCalls));
        assert_eq!(
            Command::parse("channel 1:5 out"),
            Ok(Command::Channel {
                channel: ChannelId {
                    span: SpanId(1),
                    timeslot: Timeslot(5)
                },
                out: true
            })
        );
        assert_eq!(
            Command::parse("hangup call-7"),
            Ok(Command::Hangup(CallId(7)))
        );
        assert_eq!(
            Command::parse("simcall 1 201 2500"),
            Ok(Command::SimCall {
                span: SpanId(1),
                number: "201".into(),
                hold: Some(std::time::Duration::from_millis(2500))
            })
        );
        assert!(matches!(
            Command::parse("simcall 1 201"),
            Ok(Command::SimCall { hold: None, .. })
        ));
        assert!(Command::parse("simcall 1 201 soon").is_err());
        assert_eq!(Command::parse("show sim-calls"), Ok(Command::ShowSimCalls));
        assert_eq!(Command::parse("audit"), Ok(Command::Audit));
        assert!(Command::parse("channel 1 out").is_err());
        assert!(Command::parse("frobnicate").is_err());
    }
}
