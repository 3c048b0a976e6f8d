//! Two data link entities, user side and network side, joined back to back in virtual time
//! (the quinn-proto style test pair): frames shuttle between them, the clock jumps to the
//! next deadline.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::lapd::{Control, Frame, Link, LinkConfig, LinkEvent, Role, Supervisory, Unnumbered};

/// What happens to frames travelling in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Delivered at once.
    Pass,
    /// Lost.
    Cut,
    /// Kept in order until [`Pair::release_held`].
    Hold,
}

/// Which end of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    Network,
}

pub type Filter = Box<dyn FnMut(&Frame<'_>) -> bool>;

pub struct Pair {
    pub now: Instant,
    pub user: Link,
    pub network: Link,
    pub user_events: Vec<LinkEvent>,
    pub network_events: Vec<LinkEvent>,
    /// Every frame put on the wire, with its sender, whether delivered or not.
    pub wire: Vec<(Side, Vec<u8>)>,
    pub to_network: Path,
    pub to_user: Path,
    /// Drops the frames user → network for which it returns `true` (when `Pass`).
    pub drop_to_network: Option<Filter>,
    /// Drops the frames network → user for which it returns `true` (when `Pass`).
    pub drop_to_user: Option<Filter>,
    held_to_network: VecDeque<Vec<u8>>,
    held_to_user: VecDeque<Vec<u8>>,
}

impl Pair {
    pub fn new(user: LinkConfig, network: LinkConfig) -> Pair {
        assert_eq!(user.role, Role::User);
        assert_eq!(network.role, Role::Network);
        Pair {
            now: Instant::now(),
            user: Link::new(user),
            network: Link::new(network),
            user_events: Vec::new(),
            network_events: Vec::new(),
            wire: Vec::new(),
            to_network: Path::Pass,
            to_user: Path::Pass,
            drop_to_network: None,
            drop_to_user: None,
            held_to_network: VecDeque::new(),
            held_to_user: VecDeque::new(),
        }
    }

    pub fn pri() -> Pair {
        Pair::new(LinkConfig::pri(Role::User), LinkConfig::pri(Role::Network))
    }

    /// A PRI pair with the multiple-frame operation established by the user side, the
    /// establishment events and frames cleared.
    pub fn established() -> Pair {
        let mut pair = Pair::pri();
        pair.user.establish(pair.now);
        pair.deliver();
        assert_eq!(pair.user_events, [LinkEvent::EstablishConfirm]);
        assert_eq!(pair.network_events, [LinkEvent::EstablishIndication]);
        pair.clear();
        pair
    }

    pub fn clear(&mut self) {
        self.user_events.clear();
        self.network_events.clear();
        self.wire.clear();
    }

    /// Shuttles frames until both ends are quiet.
    pub fn deliver(&mut self) {
        loop {
            let mut moved = false;
            while let Some(frame) = self.user.poll_transmit() {
                moved = true;
                self.wire.push((Side::User, frame.clone()));
                let dropped = match (self.to_network, Frame::decode(&frame)) {
                    (Path::Pass, Ok(f)) => self.drop_to_network.as_mut().is_some_and(|d| d(&f)),
                    _ => false,
                };
                match self.to_network {
                    Path::Pass if !dropped => self.network.handle_frame(self.now, &frame),
                    Path::Hold => self.held_to_network.push_back(frame),
                    _ => {}
                }
            }
            while let Some(frame) = self.network.poll_transmit() {
                moved = true;
                self.wire.push((Side::Network, frame.clone()));
                let dropped = match (self.to_user, Frame::decode(&frame)) {
                    (Path::Pass, Ok(f)) => self.drop_to_user.as_mut().is_some_and(|d| d(&f)),
                    _ => false,
                };
                match self.to_user {
                    Path::Pass if !dropped => self.user.handle_frame(self.now, &frame),
                    Path::Hold => self.held_to_user.push_back(frame),
                    _ => {}
                }
            }
            while let Some(e) = self.user.poll_event() {
                self.user_events.push(e);
            }
            while let Some(e) = self.network.poll_event() {
                self.network_events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    /// Delivers the held frames (in order) and shuttles until quiet.
    pub fn release_held(&mut self) {
        while let Some(frame) = self.held_to_network.pop_front() {
            self.network.handle_frame(self.now, &frame);
        }
        while let Some(frame) = self.held_to_user.pop_front() {
            self.user.handle_frame(self.now, &frame);
        }
        self.deliver();
    }

    pub fn held_to_network(&self) -> usize {
        self.held_to_network.len()
    }

    /// Jumps to the next deadline of either end, runs it and shuttles. `false` if none.
    pub fn advance(&mut self) -> bool {
        let next = [self.user.poll_timeout(), self.network.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return false;
        };
        self.now = self.now.max(next);
        self.user.handle_timeout(self.now);
        self.network.handle_timeout(self.now);
        self.deliver();
        true
    }

    /// Runs deadlines for `duration` of virtual time, ending exactly at its end.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            let next = [self.user.poll_timeout(), self.network.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.advance();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Information fields received by one side, in order.
    pub fn data(events: &[LinkEvent]) -> Vec<Vec<u8>> {
        events
            .iter()
            .filter_map(|e| match e {
                LinkEvent::Data(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    /// The control fields put on the wire by `side`.
    pub fn sent_by(&self, side: Side) -> Vec<Control> {
        self.wire
            .iter()
            .filter(|(s, _)| *s == side)
            .filter_map(|(_, f)| Frame::decode(f).ok().map(|f| f.control))
            .collect()
    }
}

pub fn is_i(c: &Control) -> bool {
    matches!(c, Control::Information { .. })
}

pub fn is_u(c: &Control, function: Unnumbered) -> bool {
    matches!(c, Control::Unnumbered { function: f, .. } if *f == function)
}

pub fn is_s(c: &Control, function: Supervisory, pf: bool) -> bool {
    matches!(c, Control::Supervisory { function: f, poll_final, .. } if *f == function && *poll_final == pf)
}

/// `n` distinct payloads shaped like small Q.931 messages.
pub fn payloads(n: usize, tag: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| vec![0x08, 0x02, tag, i as u8, 0x05, (i >> 8) as u8])
        .collect()
}
