//! Prometheus metrics (`prometheus-client`), served as text over HTTP by the daemon.
//!
//! Gauges are refreshed from the core's state at each scrape; counters follow the core's
//! totals (they only grow). The signalling task hands over what only it sees: each SIP
//! endpoint's counts ([`Metrics::sip_add`]) and each RTP stream's final figures
//! ([`Metrics::rtp_stream_ended`]).

use std::collections::BTreeMap;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::core::Core;
use crate::media::engine::relay::RelayStats;
use crate::media::engine::ChannelStats;
use crate::sip::ua::SipStats;
use crate::trunk::security::ScreenStats;
use crate::trunk::ChannelState;

/// Bounds of the RTP jitter histogram, seconds: from what a LAN shows to what a jitter
/// buffer cannot hide.
const JITTER_BUCKETS: [f64; 8] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

type Labels = Vec<(String, String)>;

/// What a span looks like to the metrics (from the device and the D-channel task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanStatus {
    pub span: u16,
    pub alarm: bool,
    pub dchannel_up: bool,
    /// Frame slips since the span started, as the device counts them (G.822); `None`
    /// for a device that does not (DAHDI reports no slip count).
    pub slips: Option<u64>,
    /// The span's clock priority (`clock_priority`: 0 never the clock source, 1 the best)
    /// where gatewayd sets it (simulated spans); `None` for a DAHDI span, whose priority
    /// is `dahdi_cfg`'s and not reported back.
    pub clock_priority: Option<u8>,
    /// The device takes its timing from this span now.
    pub sync_source: bool,
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    channels: Family<Labels, Gauge>,
    span_channels: Family<Labels, Gauge>,
    calls_attempted: Counter,
    calls_answered: Counter,
    calls_failed: Family<Labels, Counter>,
    calls_active: Gauge,
    span_alarm: Family<Labels, Gauge>,
    span_slips: Family<Labels, Gauge>,
    span_sync_source: Family<Labels, Gauge>,
    dchannel_up: Family<Labels, Gauge>,
    sip_responses: Family<Labels, Counter>,
    sip_transactions: Family<Labels, Counter>,
    /// Each SIP trunk's counts so far (the sum over the endpoints it had: a reload that
    /// replaces a trunk's endpoint starts its counts again from zero).
    sip: BTreeMap<String, SipStats>,
    sip_guard: Family<Labels, Counter>,
    rtp_streams: Counter,
    rtp_sent: Counter,
    rtp_received: Counter,
    rtp_lost: Counter,
    rtp_jitter: Histogram,
    echo_disabled: Counter,
    audit_fixes: Family<Labels, Counter>,
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
            "Frame slips counted on the span (G.822 controlled slips), for spans whose \
             device counts them (the simulator; DAHDI's span statistics have none)",
            span_slips.clone(),
        );
        let span_sync_source = Family::<Labels, Gauge>::default();
        registry.register(
            "span_sync_source",
            "1 while the device takes its timing from the span (DAHDI's sync source)",
            span_sync_source.clone(),
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
            "SIP responses per trunk, received (in) and sent (out), by class; what went \
             over the wire, retransmissions included (the guard's stateless refusals are \
             counted in sip_guard_rejected_total instead)",
            sip_responses.clone(),
        );
        let span_channels = Family::<Labels, Gauge>::default();
        registry.register(
            "span_channels",
            "B-channels per span by state (idle, busy, out_of_service)",
            span_channels.clone(),
        );
        let sip_transactions = Family::<Labels, Counter>::default();
        registry.register(
            "sip_transactions",
            "SIP transactions begun per trunk, by side (server: requests received, \
             client: requests sent; RFC 3261 §17) and method",
            sip_transactions.clone(),
        );
        let rtp_streams = Counter::default();
        registry.register(
            "rtp_streams",
            "RTP streams that ended: one per B-channel bridge, one per leg of a call \
             relayed between IP legs (the rtp_* figures are added when a stream ends)",
            rtp_streams.clone(),
        );
        let rtp_sent = Counter::default();
        registry.register("rtp_packets_sent", "RTP packets sent", rtp_sent.clone());
        let rtp_received = Counter::default();
        registry.register(
            "rtp_packets_received",
            "RTP packets received (audio and RFC 4733 events; on relayed calls, audio)",
            rtp_received.clone(),
        );
        let rtp_lost = Counter::default();
        registry.register(
            "rtp_packets_lost",
            "RTP packets lost, RFC 3550 cumulative loss of each stream",
            rtp_lost.clone(),
        );
        let rtp_jitter = Histogram::new(JITTER_BUCKETS);
        registry.register(
            "rtp_jitter_seconds",
            "RFC 3550 interarrival jitter of each RTP stream at its end",
            rtp_jitter.clone(),
        );
        let echo_disabled = Counter::default();
        registry.register(
            "echo_canceller_disabled",
            "Times a modem's or fax's 2100 Hz answer tone turned a B-channel's echo \
             canceller off (G.165 §4), added when the bridge ends",
            echo_disabled.clone(),
        );
        let audit_fixes = Family::<Labels, Counter>::default();
        registry.register(
            "audit_fixes",
            "What the 60 s audits put right, by kind: freed (a channel busy without a call), \
             restarted (a B-channel whose Q.931 call no gateway call owned, RESTART), \
             cleared (a call whose ISDN side was gone, ended with cause 41)",
            audit_fixes.clone(),
        );
        let sip_guard = Family::<Labels, Counter>::default();
        registry.register(
            "sip_guard_rejected",
            "SIP requests a trunk's guard turned away, by trunk and action (forbidden: 403 \
             from outside the allow-list; dropped: silently; rate_limited: 503 over the \
             rate limit or to a removed trunk; challenged: 401 to a request without valid \
             credentials; auth_failed: 403 to credentials that did not check)",
            sip_guard.clone(),
        );
        Metrics {
            registry,
            span_channels,
            sip_transactions,
            sip: BTreeMap::new(),
            rtp_streams,
            echo_disabled,
            audit_fixes,
            rtp_sent,
            rtp_received,
            rtp_lost,
            rtp_jitter,
            sip_guard,
            seen_guard: BTreeMap::new(),
            channels,
            calls_attempted,
            calls_answered,
            calls_failed,
            calls_active,
            span_alarm,
            span_slips,
            span_sync_source,
            dchannel_up,
            sip_responses,
            seen_failed: BTreeMap::new(),
            seen_attempted: 0,
            seen_answered: 0,
        }
    }

    /// SIP trunk `trunk`'s endpoint counted `delta` more since it last said.
    pub fn sip_add(&mut self, trunk: &str, delta: &SipStats) {
        match self.sip.get_mut(trunk) {
            Some(s) => s.add(delta),
            None => {
                self.sip.insert(trunk.to_string(), *delta);
            }
        }
    }

    /// An RTP stream of a B-channel bridge ended with these figures.
    pub fn rtp_stream_ended(&self, stats: &ChannelStats) {
        self.rtp_streams.inc();
        self.echo_disabled.inc_by(stats.echo_disabled);
        self.rtp_sent.inc_by(stats.packets_sent);
        self.rtp_received.inc_by(stats.packets_received);
        self.rtp_lost.inc_by(u64::try_from(stats.lost).unwrap_or(0));
        if stats.packets_received > 0 {
            self.rtp_jitter.observe(stats.jitter_ms / 1000.0);
        }
    }

    /// A relayed call (RTP between two IP legs) ended with these figures: each leg's
    /// RTP stream counts as one, as a B-channel bridge's does.
    pub fn rtp_relay_ended(&self, stats: &RelayStats) {
        for leg in 0..2 {
            self.rtp_streams.inc();
            self.rtp_sent.inc_by(stats.sent[leg]);
            self.rtp_received.inc_by(stats.received[leg]);
            if stats.received[leg] == 0 {
                continue;
            }
            self.rtp_lost
                .inc_by(u64::try_from(stats.lost[leg]).unwrap_or(0));
            self.rtp_jitter.observe(stats.jitter_us[leg] as f64 / 1e6);
        }
    }

    /// An audit put `n` things of `kind` right (`freed`, `restarted`, `cleared`).
    pub fn audit_fixed(&self, kind: &str, n: usize) {
        if n > 0 {
            self.audit_fixes
                .get_or_create(&vec![("kind".into(), kind.into())])
                .inc_by(n as u64);
        }
    }

    /// The guard of `trunk` has turned away `stats` so far (its totals; the counters
    /// follow them).
    pub fn guard(&mut self, trunk: &str, stats: ScreenStats) {
        for (action, n) in [
            ("forbidden", stats.forbidden),
            ("dropped", stats.dropped),
            ("rate_limited", stats.rate_limited),
            ("challenged", stats.challenged),
            ("auth_failed", stats.auth_failed),
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
        // The gauges are set again from what exists now: a trunk group or span a reload
        // removed leaves the metrics instead of keeping its last values.
        self.channels.clear();
        self.span_channels.clear();
        self.span_alarm.clear();
        self.span_slips.clear();
        self.span_sync_source.clear();
        self.dchannel_up.clear();
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
        let mut by_span: BTreeMap<u16, [i64; 3]> = BTreeMap::new();
        for (ch, state) in core.channel_states() {
            let n = by_span.entry(ch.span.0).or_default();
            match state {
                ChannelState::Idle => n[0] += 1,
                ChannelState::Busy { .. } => n[1] += 1,
                ChannelState::OutOfService(_) => n[2] += 1,
            }
        }
        for (span, n) in by_span {
            for (state, v) in ["idle", "busy", "out_of_service"].into_iter().zip(n) {
                self.span_channels
                    .get_or_create(&vec![
                        ("span".into(), span.to_string()),
                        ("state".into(), state.into()),
                    ])
                    .set(v);
            }
        }
        // The SIP counters are made again from the totals: they only grow.
        self.sip_transactions.clear();
        self.sip_responses.clear();
        for (trunk, s) in &self.sip {
            for (side, counts) in [
                ("server", &s.server_transactions),
                ("client", &s.client_transactions),
            ] {
                for (method, n) in counts.iter() {
                    self.sip_transactions
                        .get_or_create(&vec![
                            ("trunk".into(), trunk.clone()),
                            ("side".into(), side.into()),
                            ("method".into(), method.into()),
                        ])
                        .inc_by(n);
                }
            }
            for (direction, classes) in [("in", &s.responses_received), ("out", &s.responses_sent)]
            {
                for (class, n) in classes.iter().enumerate().filter(|(_, n)| **n > 0) {
                    self.sip_responses
                        .get_or_create(&vec![
                            ("trunk".into(), trunk.clone()),
                            ("class".into(), format!("{class}xx")),
                            ("direction".into(), direction.into()),
                        ])
                        .inc_by(*n);
                }
            }
        }
        self.calls_active.set(core.call_count() as i64);
        for sp in spans {
            let l = vec![("span".into(), sp.span.to_string())];
            self.span_alarm.get_or_create(&l).set(i64::from(sp.alarm));
            self.dchannel_up
                .get_or_create(&l)
                .set(i64::from(sp.dchannel_up));
            if let Some(n) = sp.slips {
                self.span_slips
                    .get_or_create(&l)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            self.span_sync_source
                .get_or_create(&l)
                .set(i64::from(sp.sync_source));
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

    /// Span 1: up, the timing source, 3 slips.
    fn span1() -> SpanStatus {
        SpanStatus {
            span: 1,
            alarm: false,
            dchannel_up: true,
            slips: Some(3),
            clock_priority: Some(1),
            sync_source: true,
        }
    }

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
        m.update(&core, &[span1()]);
        let mut sip = crate::sip::ua::SipStats::default();
        sip.responses_sent[4] = 1;
        sip.server_transactions.count("INVITE");
        m.sip_add("pbx", &sip);
        m.sip_add("pbx", &sip);
        m.rtp_stream_ended(&ChannelStats {
            packets_sent: 50,
            packets_received: 48,
            lost: 2,
            jitter_ms: 3.0,
            echo_disabled: 1,
            ..Default::default()
        });
        m.audit_fixed("restarted", 2);
        m.audit_fixed("cleared", 0);
        m.update(&core, &[span1()]);
        let stats = |forbidden, rate_limited| ScreenStats {
            forbidden,
            rate_limited,
            ..ScreenStats::default()
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
        assert!(text.contains("gatewayd_span_slips{span=\"1\"} 3"), "{text}");
        assert!(
            text.contains("gatewayd_echo_canceller_disabled_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_audit_fixes_total{kind=\"restarted\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_span_sync_source{span=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "gatewayd_sip_responses_total{trunk=\"pbx\",class=\"4xx\",direction=\"out\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "gatewayd_sip_transactions_total{trunk=\"pbx\",side=\"server\",method=\"INVITE\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("gatewayd_span_channels{span=\"1\",state=\"idle\"} 30"),
            "{text}"
        );
        for line in [
            "gatewayd_rtp_streams_total 1",
            "gatewayd_rtp_packets_sent_total 50",
            "gatewayd_rtp_packets_received_total 48",
            "gatewayd_rtp_packets_lost_total 2",
            "gatewayd_rtp_jitter_seconds_bucket{le=\"0.002\"} 0",
            "gatewayd_rtp_jitter_seconds_bucket{le=\"0.005\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // A scrape later: the counters made again from the totals are the same.
        m.update(&core, &[]);
        assert!(m.render().contains(
            "gatewayd_sip_transactions_total{trunk=\"pbx\",side=\"server\",method=\"INVITE\"} 2"
        ));
    }
}
