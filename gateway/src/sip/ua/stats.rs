//! What an endpoint counted since it started: the SIP figures of the daemon's metrics
//! (`gatewayd_sip_transactions_total`, `gatewayd_sip_responses_total`).

use crate::sip::Method;

/// The methods counted by name; any other is counted as `other`, so that a peer's
/// invented methods cannot grow the metrics without bound.
pub const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "UPDATE",
    "PRACK",
    "REFER",
    "NOTIFY",
    "SUBSCRIBE",
    "MESSAGE",
    "other",
];

/// A count per method of [`METHODS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodCounts([u64; METHODS.len()]);

impl MethodCounts {
    pub fn count(&mut self, method: &str) {
        let i = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1);
        self.0[i] += 1;
    }

    /// The methods counted at least once, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        METHODS
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(m, n)| (*m, n))
    }

    /// The count of `method` (a name of [`METHODS`]).
    pub fn get(&self, method: &str) -> u64 {
        METHODS
            .iter()
            .position(|m| *m == method)
            .map_or(0, |i| self.0[i])
    }
}

/// An endpoint's SIP counters, all cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipStats {
    /// Server transactions begun (RFC 3261 §17.2: a request received that is not a
    /// retransmission nor an ACK), by method.
    pub server_transactions: MethodCounts,
    /// Client transactions begun (§17.1: a request sent), by method.
    pub client_transactions: MethodCounts,
    /// Responses received, by class: index 1 for 1xx … 6 for 6xx (retransmissions
    /// included: what came off the wire).
    pub responses_received: [u64; 7],
    /// Responses sent, by class, as above (retransmissions included: what went on the
    /// wire, stateless ones too).
    pub responses_sent: [u64; 7],
}

impl SipStats {
    /// What `self` counted beyond `earlier` (an earlier copy of the same counts).
    pub fn since(&self, earlier: &SipStats) -> SipStats {
        let mut d = *self;
        d.combine(earlier, u64::saturating_sub);
        d
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &SipStats) {
        self.combine(other, |a, b| a + b);
    }

    /// Each count of these becomes `f(it, other's)`.
    fn combine(&mut self, other: &SipStats, f: impl Fn(u64, u64) -> u64) {
        let pairs = [
            (
                &mut self.server_transactions.0[..],
                &other.server_transactions.0[..],
            ),
            (
                &mut self.client_transactions.0[..],
                &other.client_transactions.0[..],
            ),
            (
                &mut self.responses_received[..],
                &other.responses_received[..],
            ),
            (&mut self.responses_sent[..], &other.responses_sent[..]),
        ];
        for (ours, theirs) in pairs {
            for (a, b) in ours.iter_mut().zip(theirs) {
                *a = f(*a, *b);
            }
        }
    }

    pub(super) fn server(&mut self, method: &Method) {
        self.server_transactions.count(method.as_str());
    }

    pub(super) fn client(&mut self, method: &str) {
        self.client_transactions.count(method);
    }

    pub(super) fn received(&mut self, status: u16) {
        if let Some(n) = self.responses_received.get_mut(usize::from(status / 100)) {
            *n += 1;
        }
    }

    /// `bytes` went on the wire: counted if it is a response (`SIP/2.0 NNN`).
    pub(super) fn sent(&mut self, bytes: &[u8]) {
        let class = bytes
            .strip_prefix(b"SIP/2.0 ")
            .and_then(|rest| rest.first())
            .filter(|c| c.is_ascii_digit())
            .map(|c| usize::from(c - b'0'));
        if let Some(n) = class.and_then(|c| self.responses_sent.get_mut(c)) {
            *n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_classes() {
        let mut s = SipStats::default();
        s.server(&Method::Invite);
        s.server(&Method::Other("FROB"));
        s.client("BYE");
        s.client("BYE");
        s.received(183);
        s.received(486);
        s.received(999);
        s.sent(b"SIP/2.0 200 OK\r\n");
        s.sent(b"INVITE sip:a@b SIP/2.0\r\n");
        s.sent(b"SIP/2.0 ");
        assert_eq!(s.server_transactions.get("INVITE"), 1);
        assert_eq!(s.server_transactions.get("other"), 1);
        assert_eq!(
            s.client_transactions.iter().collect::<Vec<_>>(),
            [("BYE", 2)]
        );
        assert_eq!(s.responses_received, [0, 1, 0, 0, 1, 0, 0]);
        assert_eq!(s.responses_sent, [0, 0, 1, 0, 0, 0, 0]);
        let earlier = s;
        s.client("BYE");
        s.sent(b"SIP/2.0 486 Busy Here\r\n");
        let d = s.since(&earlier);
        assert_eq!(d.client_transactions.get("BYE"), 1);
        assert_eq!(d.server_transactions.get("INVITE"), 0);
        assert_eq!(d.responses_sent, [0, 0, 0, 0, 1, 0, 0]);
        let mut sum = earlier;
        sum.add(&d);
        assert_eq!(sum, s);
    }
}
