//! Q.850 cause ↔ SIP status code (RFC 3398 §7.2.4.1 and §8.2.6.1), overridable in config.
//!
//! When a SIP response or BYE carries `Reason: Q.850;cause=N` (RFC 3326), that cause wins
//! over the table: it is what the far switch really said, relayed by another gateway.
//!
//! ```
//! use gateway::interwork::cause::CauseMap;
//! let map = CauseMap::rfc3398();
//! assert_eq!(map.status_for_cause(17), 486);
//! assert_eq!(map.cause_for_status(404, None), 1);
//! assert_eq!(map.cause_for_status(503, Some(34)), 34); // Reason header wins
//! ```

use std::collections::HashMap;

use crate::config::CauseOverrides;

/// RFC 3398 §8.2.6.1: ISUP (Q.850) cause → SIP final response.
const CAUSE_TO_STATUS: &[(u8, u16)] = &[
    (1, 404),   // unallocated number
    (2, 404),   // no route to network
    (3, 404),   // no route to destination
    (17, 486),  // user busy
    (18, 408),  // no user responding
    (19, 480),  // no answer from the user
    (20, 480),  // subscriber absent
    (21, 403),  // call rejected
    (22, 410),  // number changed (without diagnostic)
    (23, 410),  // redirection to new destination
    (26, 404),  // non-selected user clearing
    (27, 502),  // destination out of order
    (28, 484),  // address incomplete
    (29, 501),  // facility rejected
    (31, 480),  // normal, unspecified
    (34, 503),  // no circuit/channel available
    (38, 503),  // network out of order
    (41, 503),  // temporary failure
    (42, 503),  // switching equipment congestion
    (47, 503),  // resource unavailable, unspecified
    (55, 403),  // incoming calls barred within CUG
    (57, 403),  // bearer capability not authorized
    (58, 503),  // bearer capability not presently available
    (65, 488),  // bearer capability not implemented
    (70, 488),  // only restricted digital information bearer capability is available
    (79, 501),  // service or option not implemented
    (87, 403),  // user not member of CUG
    (88, 503),  // incompatible destination
    (102, 504), // recovery on timer expiry
    (111, 500), // protocol error, unspecified
    (127, 500), // interworking, unspecified
];

/// RFC 3398 §7.2.4.1: SIP final response → ISUP (Q.850) cause.
const STATUS_TO_CAUSE: &[(u16, u8)] = &[
    (400, 41),  // Bad Request → temporary failure
    (401, 21),  // Unauthorized → call rejected
    (402, 21),  // Payment Required
    (403, 21),  // Forbidden
    (404, 1),   // Not Found → unallocated number
    (405, 63),  // Method Not Allowed → service or option unavailable
    (406, 79),  // Not Acceptable → service or option not implemented
    (407, 21),  // Proxy Authentication Required
    (408, 102), // Request Timeout → recovery on timer expiry
    (410, 22),  // Gone → number changed
    (413, 127), // Request Entity Too Large → interworking
    (414, 127), // Request-URI Too Long
    (415, 79),  // Unsupported Media Type
    (416, 127), // Unsupported URI Scheme
    (420, 127), // Bad Extension
    (421, 127), // Extension Required
    (423, 127), // Interval Too Brief
    (480, 18),  // Temporarily Unavailable → no user responding
    (481, 41),  // Call/Transaction Does Not Exist
    (482, 25),  // Loop Detected → exchange routing error
    (483, 25),  // Too Many Hops
    (484, 28),  // Address Incomplete → invalid number format
    (485, 1),   // Ambiguous
    (486, 17),  // Busy Here → user busy
    (488, 65),  // Not Acceptable Here (RFC 3398 leaves it to Warning; bearer not implemented)
    (500, 41),  // Server Internal Error → temporary failure
    (501, 79),  // Not Implemented
    (502, 38),  // Bad Gateway → network out of order
    (503, 41),  // Service Unavailable → temporary failure
    (504, 102), // Server Time-out
    (505, 127), // Version Not Supported
    (513, 127), // Message Too Large
    (600, 17),  // Busy Everywhere
    (603, 21),  // Decline
    (604, 1),   // Does Not Exist Anywhere
    (606, 65),  // Not Acceptable (RFC 3398 leaves it to Warning)
];

/// The cause ↔ status tables in force.
#[derive(Debug, Clone)]
pub struct CauseMap {
    to_status: HashMap<u8, u16>,
    to_cause: HashMap<u16, u8>,
}

impl CauseMap {
    /// RFC 3398's tables as they stand.
    pub fn rfc3398() -> Self {
        CauseMap {
            to_status: CAUSE_TO_STATUS.iter().copied().collect(),
            to_cause: STATUS_TO_CAUSE.iter().copied().collect(),
        }
    }

    /// RFC 3398 with the configuration's overrides applied (the config checker has already
    /// made sure every key and value is in range).
    pub fn with_overrides(o: &CauseOverrides) -> Self {
        let mut m = Self::rfc3398();
        for (k, v) in &o.cause_to_status {
            if let Ok(c) = k.parse() {
                m.to_status.insert(c, *v);
            }
        }
        for (k, v) in &o.status_to_cause {
            if let Ok(s) = k.parse() {
                m.to_cause.insert(s, *v);
            }
        }
        m
    }

    /// The SIP status for a call the ISDN/H.323 side refused with `cause`.
    /// Causes the table does not list map by their Q.850 class (Q.850 §2.2.7.1).
    pub fn status_for_cause(&self, cause: u8) -> u16 {
        if let Some(s) = self.to_status.get(&cause) {
            return *s;
        }
        match cause {
            0..=31 => 480,   // normal event
            32..=47 => 503,  // resource unavailable
            48..=63 => 403,  // service or option not available
            64..=79 => 501,  // service or option not implemented
            80..=95 => 500,  // invalid message
            96..=111 => 500, // protocol error
            _ => 500,        // interworking
        }
    }

    /// The Q.850 cause for a SIP final response `status`; `reason_q850` is the cause of a
    /// `Reason: Q.850;cause=N` header if the response had one (RFC 3326), and wins.
    pub fn cause_for_status(&self, status: u16, reason_q850: Option<u8>) -> u8 {
        if let Some(c) = reason_q850.filter(|c| (1..=127).contains(c)) {
            return c;
        }
        if let Some(c) = self.to_cause.get(&status) {
            return *c;
        }
        // RFC 3398 §7.2.4.1: unlisted codes map as their class's x00 does.
        match status {
            400..=499 => self.to_cause.get(&400).copied().unwrap_or(41),
            500..=599 => self.to_cause.get(&500).copied().unwrap_or(41),
            600..=699 => 31,
            _ => 127,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_pairs() {
        let m = CauseMap::rfc3398();
        assert_eq!(m.status_for_cause(17), 486);
        assert_eq!(m.status_for_cause(1), 404);
        assert_eq!(m.status_for_cause(34), 503);
        assert_eq!(m.status_for_cause(47), 503);
        assert_eq!(m.cause_for_status(486, None), 17);
        assert_eq!(m.cause_for_status(404, None), 1);
        assert_eq!(m.cause_for_status(408, None), 102);
    }

    #[test]
    fn unlisted_values_fall_back_by_class() {
        let m = CauseMap::rfc3398();
        assert_eq!(m.status_for_cause(44), 503);
        assert_eq!(m.status_for_cause(100), 500);
        assert_eq!(m.cause_for_status(489, None), 41);
        assert_eq!(m.cause_for_status(580, None), 41);
        assert_eq!(m.cause_for_status(699, None), 31);
    }

    #[test]
    fn overrides_and_reason_header() {
        let mut o = CauseOverrides::default();
        o.cause_to_status.insert("47".into(), 500);
        o.status_to_cause.insert("480".into(), 20);
        let m = CauseMap::with_overrides(&o);
        assert_eq!(m.status_for_cause(47), 500);
        assert_eq!(m.cause_for_status(480, None), 20);
        assert_eq!(m.cause_for_status(480, Some(19)), 19);
        assert_eq!(
            m.cause_for_status(480, Some(0)),
            20,
            "cause 0 is not a cause"
        );
    }
}
