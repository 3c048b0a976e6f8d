//! Prometheus metrics (`prometheus-client`), served as text over HTTP by the daemon.
//!
//! Gauges are refreshed from the core's state at each scrape; counters follow the core's
//! totals (they only grow).

use std::collections::BTreeMap;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::core::Core;
use crate::trunk::security::ScreenStats;

type Labels = Vec<(String, String)>;

/// What a span looks like to the metrics (from the device and the D-channel task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanStatus {
    pub span: u16,
    pub alarm: bool,
    pub dchannel_up: bool,
    pub slips: u64,
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    channels: Family<Labels, Gauge>,
    calls_attempted: Counter,
    calls_answered: Counter,
    calls_failed: Family<Labels, Counter>,
    calls_active: Gauge,
    span_alarm: Family<Labels, Gauge>,
    span_slips: Family<Labels, Gauge>,
    dchannel_up: Family<Labels, Gauge>,
    sip_responses: Family<Labels, Counter>,
    sip_guard: Family<Labels, Counter>,
    seen_guard: BTreeMap<(String, &'static str), u64>,
    seen_failed: BTreeMap<u8, u64>,
    seen_attempted: u64,
    seen_answered: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gatewayd");
        let channels = Family::<Labels, Gauge>::default();
        registry.register(
            "channels",
            "B-channels per trunk group by state (idle, busy, out_of_service)",
            channels.clone(),
        );
        let calls_attempted = Counter::default();
        registry.register(
            "calls_attempted",
            "Calls offered to the core",
            calls_attempted.clone(),
        );
        let calls_answered = Counter::default();
        registry.register("calls_answered", "Calls answered", calls_answered.clone());
        let calls_failed = Family::<Labels, Counter>::default();
        registry.register(
            "calls_failed",
            "Calls that ended unanswered, by Q.850 cause",
            calls_failed.clone(),
        );
        let calls_active = Gauge::default();
        registry.register("calls_active", "Calls in progress", calls_active.clone());
        let span_alarm = Family::<Labels, Gauge>::default();
        registry.register(
            "span_alarm",
            "1 while the span is in alarm",
            span_alarm.clone(),
        );
        let span_slips = Family::<Labels, Gauge>::default();
        registry.register(
            "span_slips",
            "Frame slips counted on the span",
            span_slips.clone(),
        );
        let dchannel_up = Family::<Labels, Gauge>::default();
        registry.register(
            "dchannel_up",
            "1 while the span's D-channel data link is established",
            dchannel_up.clone(),
        );
        let sip_responses = Family::<Labels, Counter>::default();
        registry.register(
            "sip_responses",
            "SIP final responses sent and received, by class",
            sip_responses.clone(),
        );
        let sip_guard = Family::<Labels, Counter>::default();
        registry.register(
            "sip_guard_rejected",
            "SIP requests a trunk's guard turned away, by trunk and action (forbidden: 403 \
             from outside the allow-list; dropped: silently; rate_limited: 503 over the \
             rate limit or to a removed trunk)",
            sip_guard.clone(),
        );
        Metrics {
            registry,
            sip_guard,
            seen_guard: BTreeMap::new(),
            channels,
            calls_attempted,
            calls_answered,
            calls_failed,
            calls_active,
            span_alarm,
            span_slips,
            dchannel_up,
            sip_responses,
            seen_failed: BTreeMap::new(),
            seen_attempted: 0,
            seen_answered: 0,
        }
    }

    /// Count a SIP final response (`direction`: `in` or `out`).
    pub fn sip_response(&self, status: u16, direction: &str) {
        let class = format!("{}xx", status / 100);
        self.sip_responses
            .get_or_create(&vec![
                ("class".into(), class),
                ("direction".into(), direction.into()),
            ])
            .inc();
    }

    /// The guard of `trunk` has turned away `stats` so far (its totals; the counters
    /// follow them).
    pub fn guard(&mut self, trunk: &str, stats: ScreenStats) {
        for (action, n) in [
            ("forbidden", stats.forbidden),
            ("dropped", stats.dropped),
            ("rate_limited", stats.rate_limited),
        ] {
            let seen = self
                .seen_guard
                .entry((trunk.to_string(), action))
                .or_default();
            if n > *seen {
                self.sip_guard
                    .get_or_create(&vec![
                        ("trunk".into(), trunk.to_string()),
                        ("action".into(), action.into()),
                    ])
                    .inc_by(n - *seen);
                *seen = n;
            }
        }
    }

    /// Refresh from the core and the spans.
    pub fn update(&mut self, core: &Core, spans: &[SpanStatus]) {
        for g in core.groups() {
            for (state, n) in [
                ("idle", g.idle),
                ("busy", g.busy),
                ("out_of_service", g.out_of_service),
            ] {
                self.channels
                    .get_or_create(&vec![
                        ("trunk_group".into(), g.name.clone()),
                        ("state".into(), state.into()),
                    ])
                    .set(n as i64);
            }
        }
        let s = core.stats();
        self.calls_attempted
            .inc_by(s.attempted.saturating_sub(self.seen_attempted));
        self.seen_attempted = s.attempted;
        self.calls_answered
            .inc_by(s.answered.saturating_sub(self.seen_answered));
        self.seen_answered = s.answered;
        for (cause, n) in &s.failed_by_cause {
            let seen = self.seen_failed.entry(*cause).or_default();
            self.calls_failed
                .get_or_create(&vec![("cause".into(), cause.to_string())])
                .inc_by(n.saturating_sub(*seen));
            *seen = *n;
        }
        self.calls_active.set(core.call_count() as i64);
        for sp in spans {
            let l = vec![("span".into(), sp.span.to_string())];
            self.span_alarm.get_or_create(&l).set(i64::from(sp.alarm));
            self.dchannel_up
                .get_or_create(&l)
                .set(i64::from(sp.dchannel_up));
            self.span_slips
                .get_or_create(&l)
                .set(i64::try_from(sp.slips).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_channel_gauges_and_call_counters() {
        let config = crate::config::Config::from_str(
            "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n\
             [[trunk_group]]\nname = \"pstn\"\nmembers = [{ span = 1 }]\n",
            "m.toml",
        )
        .unwrap();
        struct Null;
        impl crate::core::CdrSink for Null {
            fn write(&mut self, _: &crate::cdr::Cdr) -> Result<(), crate::cdr::CdrError> {
                Ok(())
            }
        }
        let core = Core::new(&config, Box::new(Null), std::time::Instant::now());
        let mut m = Metrics::new();
        m.update(
            &core,
            &[SpanStatus {
                span: 1,
                alarm: false,
                dchannel_up: true,
                slips: 0,
            }],
        );
        m.sip_response(486, "out");
        let stats = |forbidden, rate_limited| ScreenStats {
            forbidden,
            dropped: 0,
            rate_limited,
        };
        m.guard("pbx", stats(2, 0));
        m.guard("pbx", stats(3, 5));
        m.guard("pbx", stats(3, 5));
        let text = m.render();
        assert!(
            text.contains(
                "gatewayd_sip_guard_rejected_total{trunk=\"pbx\",action=\"forbidden\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "gatewayd_sip_guard_rejected_total{trunk=\"pbx\",action=\"rate_limited\"} 5"
            ),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_channels{trunk_group=\"pstn\",state=\"idle\"} 30"),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_dchannel_up{span=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_sip_responses_total{class=\"4xx\",direction=\"out\"} 1"),
            "{text}"
        );
    }
}
