//! Master/slave determination (H.245 §8.2, the MSDSE of Annex C.2): terminal types first,
//! then the random status determination numbers compared modulo 2^24; retries up to N100
//! on identical numbers; T106 bounds each wait.

use std::time::{Duration, Instant};

use h323_asn1::h245 as asn;

/// The outcome for this terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Master,
    Slave,
}

impl Role {
    pub fn opposite(self) -> Self {
        match self {
            Role::Master => Role::Slave,
            Role::Slave => Role::Master,
        }
    }
}

/// H.245 §8.2 / C.2.1.2: who is master, from the local and remote terminal types and
/// numbers. `None` when the numbers give no answer (difference 0 or 0x800000 modulo
/// 2^24).
pub fn determine(
    local_type: u8,
    local_number: u32,
    remote_type: u8,
    remote_number: u32,
) -> Option<Role> {
    if local_type != remote_type {
        // The larger terminal type is master.
        return Some(if local_type > remote_type {
            Role::Master
        } else {
            Role::Slave
        });
    }
    let diff = local_number.wrapping_sub(remote_number) & 0x00FF_FFFF;
    match diff {
        0 | 0x80_0000 => None,
        d if d < 0x80_0000 => Some(Role::Master),
        _ => Some(Role::Slave),
    }
}

/// Why the procedure failed (H.245 §C.2.4 error codes in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsdFailure {
    /// T106 expired (error A).
    Timeout,
    /// N100 attempts gave identical numbers, or the peer rejected them each time (F).
    Indeterminate,
    /// The peer's Ack contradicts the decision we sent (E).
    Inconsistent,
    /// The peer released the procedure (B).
    Released,
}

/// MSDSE states (H.245 §C.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    OutgoingAwaitingResponse,
    IncomingAwaitingResponse(Role),
}

/// What the entity reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsdOutcome {
    Determined(Role),
    Failed(MsdFailure),
}

/// The master/slave determination signalling entity.
#[derive(Debug)]
pub struct MasterSlave {
    terminal_type: u8,
    number: u32,
    state: State,
    /// Attempts made in this procedure (H.245 N100 bounds them).
    attempts: u8,
    n100: u8,
    t106: Duration,
    deadline: Option<Instant>,
    result: Option<Role>,
    out: Vec<asn::MultimediaSystemControlMessage>,
    outcomes: Vec<MsdOutcome>,
}

fn msd(terminal_type: u8, number: u32) -> asn::MultimediaSystemControlMessage {
    crate::h245_tunnel::master_slave_determination(terminal_type, number)
}

fn ack(peer: Role) -> asn::MultimediaSystemControlMessage {
    crate::h245_tunnel::master_slave_determination_ack(peer == Role::Master)
}

fn reject() -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::response(
        asn::ResponseMessage::masterSlaveDeterminationReject(
            asn::MasterSlaveDeterminationReject::new(
                asn::MasterSlaveDeterminationRejectCause::identicalNumbers(()),
            ),
        ),
    )
}

fn release() -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::indication(
        asn::IndicationMessage::masterSlaveDeterminationRelease(
            asn::MasterSlaveDeterminationRelease::new(),
        ),
    )
}

impl MasterSlave {
    pub fn new(terminal_type: u8, n100: u8, t106: Duration) -> Self {
        Self {
            terminal_type,
            number: 0,
            state: State::Idle,
            attempts: 0,
            n100: n100.max(1),
            t106,
            deadline: None,
            result: None,
            out: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// The role once determined.
    pub fn role(&self) -> Option<Role> {
        self.result
    }

    /// The procedure is under way (waiting for the peer).
    pub fn is_busy(&self) -> bool {
        self.state != State::Idle
    }

    /// Starts a determination with a fresh random number (H.245 §8.2.1).
    pub fn start(&mut self, now: Instant, random: u32) {
        self.attempts = 1;
        self.send_request(now, random);
    }

    fn send_request(&mut self, now: Instant, random: u32) {
        self.number = random & 0x00FF_FFFF;
        self.out.push(msd(self.terminal_type, self.number));
        self.state = State::OutgoingAwaitingResponse;
        self.deadline = Some(now + self.t106);
    }

    fn fail(&mut self, why: MsdFailure) {
        tracing::debug!(?why, "H.245 master/slave determination failed");
        self.state = State::Idle;
        self.deadline = None;
        self.outcomes.push(MsdOutcome::Failed(why));
    }

    fn determined(&mut self, role: Role) {
        self.state = State::Idle;
        self.deadline = None;
        self.result = Some(role);
        self.outcomes.push(MsdOutcome::Determined(role));
    }

    /// A MasterSlaveDetermination from the peer; `random` is used if we must retry.
    pub fn handle_request(&mut self, now: Instant, m: &asn::MasterSlaveDetermination, random: u32) {
        if self.state != State::OutgoingAwaitingResponse {
            // Idle (or a new procedure from the peer): we have no number of our own yet.
            self.number = random & 0x00FF_FFFF;
        }
        match determine(
            self.terminal_type,
            self.number,
            m.terminal_type,
            m.status_determination_number,
        ) {
            Some(role) => {
                self.out.push(ack(role.opposite()));
                self.state = State::IncomingAwaitingResponse(role);
                self.deadline = Some(now + self.t106);
            }
            None if self.state == State::OutgoingAwaitingResponse => {
                // C.2.2: identical numbers while we wait: try again with a new number.
                if self.attempts < self.n100 {
                    self.attempts += 1;
                    self.send_request(now, random.wrapping_mul(2_654_435_761).rotate_left(7));
                } else {
                    self.fail(MsdFailure::Indeterminate);
                }
            }
            None => self.out.push(reject()),
        }
    }

    /// A MasterSlaveDeterminationAck: its decision is our role.
    pub fn handle_ack(&mut self, m: &asn::MasterSlaveDeterminationAck) {
        let role = match m.decision {
            asn::MasterSlaveDeterminationAckDecision::master(()) => Role::Master,
            asn::MasterSlaveDeterminationAckDecision::slave(()) => Role::Slave,
        };
        match self.state {
            State::OutgoingAwaitingResponse => {
                // The peer decided first: confirm with the mirror decision.
                self.out.push(ack(role.opposite()));
                self.determined(role);
            }
            State::IncomingAwaitingResponse(ours) if ours == role => self.determined(role),
            State::IncomingAwaitingResponse(_) => self.fail(MsdFailure::Inconsistent),
            State::Idle => tracing::debug!("MasterSlaveDeterminationAck out of procedure"),
        }
    }

    /// A MasterSlaveDeterminationReject (identical numbers at the peer).
    pub fn handle_reject(&mut self, now: Instant, random: u32) {
        match self.state {
            State::OutgoingAwaitingResponse if self.attempts < self.n100 => {
                self.attempts += 1;
                self.send_request(now, random);
            }
            State::OutgoingAwaitingResponse | State::IncomingAwaitingResponse(_) => {
                self.fail(MsdFailure::Indeterminate)
            }
            State::Idle => {}
        }
    }

    /// MasterSlaveDeterminationRelease from the peer.
    pub fn handle_release(&mut self) {
        if self.state != State::Idle {
            self.fail(MsdFailure::Released);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// T106 (H.245 §C.2.5): on expiry send MasterSlaveDeterminationRelease and fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.out.push(release());
            self.fail(MsdFailure::Timeout);
        }
    }

    pub fn poll_message(&mut self) -> Option<asn::MultimediaSystemControlMessage> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    pub fn poll_outcome(&mut self) -> Option<MsdOutcome> {
        (!self.outcomes.is_empty()).then(|| self.outcomes.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_of_8_2() {
        // Terminal type decides first.
        assert_eq!(determine(60, 0, 50, 0xFFFFFF), Some(Role::Master));
        assert_eq!(determine(50, 0xFFFFFF, 60, 0), Some(Role::Slave));
        // Equal types: (local - remote) mod 2^24 below 0x800000 → master.
        assert_eq!(determine(60, 10, 60, 5), Some(Role::Master));
        assert_eq!(determine(60, 5, 60, 10), Some(Role::Slave));
        // Wrap-around: 0x000001 is "larger" than 0xFFFFFF.
        assert_eq!(determine(60, 1, 60, 0xFFFFFF), Some(Role::Master));
        assert_eq!(determine(60, 7, 60, 7), None);
        assert_eq!(determine(60, 0x800007, 60, 7), None);
    }

    fn msd_of(m: asn::MultimediaSystemControlMessage) -> asn::MasterSlaveDetermination {
        match m {
            asn::MultimediaSystemControlMessage::request(
                asn::RequestMessage::masterSlaveDetermination(d),
            ) => d,
            other => panic!("not an MSD: {other:?}"),
        }
    }

    fn ack_of(m: asn::MultimediaSystemControlMessage) -> asn::MasterSlaveDeterminationAck {
        match m {
            asn::MultimediaSystemControlMessage::response(
                asn::ResponseMessage::masterSlaveDeterminationAck(a),
            ) => a,
            other => panic!("not an MSD Ack: {other:?}"),
        }
    }

    #[test]
    fn crossing_requests_agree() {
        let now = Instant::now();
        let t = Duration::from_secs(5);
        let mut a = MasterSlave::new(60, 3, t);
        let mut b = MasterSlave::new(60, 3, t);
        a.start(now, 100);
        b.start(now, 50);
        let ma = msd_of(a.poll_message().unwrap());
        let mb = msd_of(b.poll_message().unwrap());
        a.handle_request(now, &mb, 1);
        b.handle_request(now, &ma, 1);
        let aa = ack_of(a.poll_message().unwrap());
        let ab = ack_of(b.poll_message().unwrap());
        a.handle_ack(&ab);
        b.handle_ack(&aa);
        assert_eq!(a.poll_outcome(), Some(MsdOutcome::Determined(Role::Master)));
        assert_eq!(b.poll_outcome(), Some(MsdOutcome::Determined(Role::Slave)));
        assert!(a.poll_message().is_none() && b.poll_message().is_none());
    }

    #[test]
    fn identical_numbers_retry_then_give_up() {
        let now = Instant::now();
        let mut a = MasterSlave::new(60, 2, Duration::from_secs(5));
        a.start(now, 7);
        let _ = a.poll_message();
        // The peer rejects (it saw identical numbers): a second attempt goes out.
        a.handle_reject(now, 9);
        assert_eq!(
            msd_of(a.poll_message().unwrap()).status_determination_number,
            9
        );
        // N100 = 2 reached: the next reject fails the procedure.
        a.handle_reject(now, 11);
        assert_eq!(
            a.poll_outcome(),
            Some(MsdOutcome::Failed(MsdFailure::Indeterminate))
        );
        // An idle entity answers identical numbers with a Reject.
        let mut b = MasterSlave::new(60, 2, Duration::from_secs(5));
        b.handle_request(now, &asn::MasterSlaveDetermination::new(60, 5), 5);
        assert!(matches!(
            b.poll_message(),
            Some(asn::MultimediaSystemControlMessage::response(
                asn::ResponseMessage::masterSlaveDeterminationReject(_)
            ))
        ));
    }

    #[test]
    fn t106_expiry_releases() {
        let now = Instant::now();
        let mut a = MasterSlave::new(60, 3, Duration::from_secs(5));
        a.start(now, 1);
        let _ = a.poll_message();
        assert_eq!(a.poll_timeout(), Some(now + Duration::from_secs(5)));
        a.handle_timeout(now + Duration::from_secs(4));
        assert!(a.poll_outcome().is_none());
        a.handle_timeout(now + Duration::from_secs(5));
        assert!(matches!(
            a.poll_message(),
            Some(asn::MultimediaSystemControlMessage::indication(
                asn::IndicationMessage::masterSlaveDeterminationRelease(_)
            ))
        ));
        assert_eq!(
            a.poll_outcome(),
            Some(MsdOutcome::Failed(MsdFailure::Timeout))
        );
        assert_eq!(a.poll_timeout(), None);
    }
}
