//! The switch's number plan as data: what happens to a call offered to a called number.

/// What the switch does with a call the gateway offers to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// CALL PROCEEDING, ALERTING with progress indicator 8 (in-band ringback played),
    /// CONNECT `after_ms` later, then a tone of `tone_hz` on the B-channel.
    Answer { after_ms: u64, tone_hz: f64 },
    /// CALL PROCEEDING, then DISCONNECT with cause 17, user busy (Q.850).
    Busy,
    /// RELEASE COMPLETE with cause 1, unallocated number: number analysis fails at SETUP.
    Unallocated,
    /// RELEASE COMPLETE with cause 34, no circuit/channel available.
    Congestion,
    /// CALL PROCEEDING, ALERTING with in-band ringback, never answered: after `timeout_ms`
    /// DISCONNECT with cause 19, no answer from user (user alerted), unless the caller
    /// gives up first.
    NoAnswer { timeout_ms: u64 },
    /// CALL PROCEEDING, PROGRESS with progress indicator 8 (in-band information now
    /// available), then a tone of `tone_hz` (an announcement), never answered.
    EarlyMedia { tone_hz: f64 },
}

/// How a rule matches the called number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The whole number.
    Exact(String),
    /// Any number starting with these digits.
    Prefix(String),
}

impl Pattern {
    /// Whether `digits` match.
    pub fn matches(&self, digits: &str) -> bool {
        match self {
            Pattern::Exact(p) => digits == p,
            Pattern::Prefix(p) => digits.starts_with(p.as_str()),
        }
    }

    fn specificity(&self) -> (bool, usize) {
        match self {
            Pattern::Exact(p) => (true, p.len()),
            Pattern::Prefix(p) => (false, p.len()),
        }
    }
}

/// Rules from called number to [`Behaviour`]: an exact match wins, then the longest
/// matching prefix, then the default.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPlan {
    rules: Vec<(Pattern, Behaviour)>,
    default: Behaviour,
}

impl Default for NumberPlan {
    /// Every number answers after 1 s and plays 1 kHz; `"17…"` is busy, `"0…"`
    /// unallocated, `"34…"` congested, `"19…"` never answers (60 s), `"8…"` early media
    /// at 800 Hz.
    fn default() -> Self {
        NumberPlan::new(Behaviour::Answer {
            after_ms: 1000,
            tone_hz: 1000.0,
        })
        .prefix("17", Behaviour::Busy)
        .prefix("0", Behaviour::Unallocated)
        .prefix("34", Behaviour::Congestion)
        .prefix("19", Behaviour::NoAnswer { timeout_ms: 60_000 })
        .prefix("8", Behaviour::EarlyMedia { tone_hz: 800.0 })
    }
}

impl NumberPlan {
    /// A plan with no rules: every call gets `default`.
    pub fn new(default: Behaviour) -> Self {
        NumberPlan {
            rules: Vec::new(),
            default,
        }
    }

    /// Adds a rule for exactly `digits`.
    pub fn exact(mut self, digits: &str, b: Behaviour) -> Self {
        self.rules.push((Pattern::Exact(digits.to_owned()), b));
        self
    }

    /// Adds a rule for numbers starting with `digits`.
    pub fn prefix(mut self, digits: &str, b: Behaviour) -> Self {
        self.rules.push((Pattern::Prefix(digits.to_owned()), b));
        self
    }

    /// The behaviour for a called number.
    pub fn lookup(&self, digits: &str) -> Behaviour {
        self.rules
            .iter()
            .filter(|(p, _)| p.matches(digits))
            .max_by_key(|(p, _)| p.specificity())
            .map(|(_, b)| *b)
            .unwrap_or(self.default)
    }

    /// The rules, in the order added.
    pub fn rules(&self) -> &[(Pattern, Behaviour)] {
        &self.rules
    }

    pub fn default_behaviour(&self) -> Behaviour {
        self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let plan = NumberPlan::new(Behaviour::Congestion)
            .prefix("5", Behaviour::Busy)
            .prefix("555", Behaviour::Unallocated)
            .exact("5551234", Behaviour::NoAnswer { timeout_ms: 1 });
        assert_eq!(
            plan.lookup("5551234"),
            Behaviour::NoAnswer { timeout_ms: 1 }
        );
        assert_eq!(plan.lookup("5559999"), Behaviour::Unallocated);
        assert_eq!(plan.lookup("5000"), Behaviour::Busy);
        assert_eq!(plan.lookup("6000"), Behaviour::Congestion);
        assert_eq!(plan.lookup(""), Behaviour::Congestion);
    }
}
