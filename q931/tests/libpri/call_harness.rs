//! One libpri controller and one of our call-control interfaces ([`Interface`]) joined by
//! a socket pair, driven in one thread: `poll` on both descriptors, our timers from
//! `Interface::poll_timeout`, libpri's from `pri_schedule_next` (real time: libpri runs on
//! the wall clock). The call-level counterpart of [`super::harness::Harness`], shared by
//! the call and transfer tests.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use q931::call::{CallHandle, Event, Interface, InterfaceConfig};
use q931::lapd::{fcs, Role};

use super::{ffi, seqpacket_pair, LibPri, Node, PriEvent, Switch};

/// How long [`CallHarness::expect`] and [`CallHarness::pri_expect`] wait for an event.
const EXPECT_WITHIN: Duration = Duration::from_secs(6);

/// libpri and one of our interfaces on the two ends of a socket pair.
pub struct CallHarness {
    pub pri: LibPri,
    pub ours: Interface,
    sock: File,
    /// Every event libpri reported, in order; [`CallHarness::pri_expect`] looks after
    /// its cursor.
    pub pri_events: Vec<PriEvent>,
    /// Every event our interface reported, in order ([`CallHarness::expect`]).
    pub events: Vec<Event>,
    pri_cursor: usize,
    cursor: usize,
    /// While set, frames are lost both ways (a D-channel outage).
    pub cut: bool,
    /// Q.931 messages libpri sent (the information fields of its I frames).
    pub from_pri: Vec<Vec<u8>>,
    /// Q.931 messages we sent.
    pub to_pri: Vec<Vec<u8>>,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

/// The Q.931 message in a LAPD frame (FCS stripped), if it is an I frame (Q.921 §3.4.2:
/// bit 1 of the control field's first octet is 0; 2 address and 2 control octets).
fn i_frame_info(frame: &[u8]) -> Option<&[u8]> {
    (frame.len() > 4 && frame[2] & 0x01 == 0).then(|| &frame[4..])
}

impl CallHarness {
    /// libpri on the other side of `cfg.role`, our interface started, both links up.
    pub fn new(cfg: InterfaceConfig, switch: Switch) -> CallHarness {
        CallHarness::configured(cfg, switch, |_| {})
    }

    /// As [`CallHarness::new`], with libpri set up by `configure` before it starts.
    pub fn configured(
        cfg: InterfaceConfig,
        switch: Switch,
        configure: impl FnOnce(&mut LibPri),
    ) -> CallHarness {
        let mut h = CallHarness::unstarted_configured(cfg, switch, configure);
        h.ours.start(Instant::now());
        h.pri_expect(|e| matches!(e, PriEvent::DchanUp).then_some(()));
        h.expect(|e| matches!(e, Event::LinkUp).then_some(()));
        h
    }

    /// libpri running (its SABME sent at once, waiting in our socket), ours not started.
    pub fn unstarted(cfg: InterfaceConfig, switch: Switch) -> CallHarness {
        CallHarness::unstarted_configured(cfg, switch, |_| {})
    }

    /// As [`CallHarness::unstarted`], with libpri set up by `configure`. Its
    /// `hangup_fix` is on (`pri_hangup_fix_enable`) before that.
    pub fn unstarted_configured(
        cfg: InterfaceConfig,
        switch: Switch,
        configure: impl FnOnce(&mut LibPri),
    ) -> CallHarness {
        let node = match cfg.role {
            Role::User => Node::Network,
            Role::Network => Node::Cpe,
        };
        let (theirs, ours) = seqpacket_pair();
        let mut pri = LibPri::new(theirs, node, switch);
        pri.hangup_fix_enable(true);
        if std::env::var_os("LIBPRI_DEBUG").is_some() {
            pri.set_debug(
                ffi::PRI_DEBUG_Q931_DUMP | ffi::PRI_DEBUG_Q931_STATE | ffi::PRI_DEBUG_APDU,
            );
        }
        configure(&mut pri);
        CallHarness {
            pri,
            ours: Interface::new(cfg),
            sock: File::from(ours),
            pri_events: Vec::new(),
            events: Vec::new(),
            pri_cursor: 0,
            cursor: 0,
            cut: false,
            from_pri: Vec::new(),
            to_pri: Vec::new(),
            rx: vec![0; 1024],
            tx: Vec::with_capacity(300),
        }
    }

    /// One round: send what we have, wait for a frame or a deadline (at most
    /// `max_wait`), feed each side, run due timers.
    pub fn step(&mut self, max_wait: Duration) {
        self.flush();
        let (pri_readable, ours_readable) =
            self.pri
                .wait_with(self.sock.as_raw_fd(), self.ours.poll_timeout(), max_wait);
        let events = &mut self.pri_events;
        if pri_readable {
            self.pri.read_all(|e| events.push(e));
        }
        if ours_readable {
            self.read_all();
        }
        let events = &mut self.pri_events;
        self.pri.run_due_timers(|e| events.push(e));
        let now = Instant::now();
        if self.ours.poll_timeout().is_some_and(|t| t <= now) {
            self.ours.handle_timeout(now);
        }
        self.flush();
    }

    /// Our interface takes every frame waiting for it (lost while `cut`).
    fn read_all(&mut self) {
        loop {
            match self.sock.read(&mut self.rx) {
                Ok(n) if n > fcs::FCS_LEN => {
                    if self.cut {
                        continue;
                    }
                    let frame = &self.rx[..n - fcs::FCS_LEN];
                    if let Some(m) = i_frame_info(frame) {
                        self.from_pri.push(m.to_vec());
                    }
                    self.ours.handle_frame(Instant::now(), frame);
                }
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Loses the frames waiting in our socket, as a line not yet open would; returns
    /// how many.
    pub fn lose_waiting_frames(&mut self) -> usize {
        let mut lost = 0;
        while let Ok(n) = self.sock.read(&mut self.rx) {
            if n == 0 {
                break;
            }
            lost += 1;
        }
        lost
    }

    /// Our frames to libpri (lost while `cut`), and our events into `events`.
    pub fn flush(&mut self) {
        while self.ours.poll_transmit_into(&mut self.tx) {
            if self.cut {
                continue;
            }
            if let Some(m) = i_frame_info(&self.tx) {
                self.to_pri.push(m.to_vec());
            }
            fcs::append(&mut self.tx);
            match self.sock.write(&self.tx) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        while let Some(e) = self.ours.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs until libpri reports an event `pick` accepts (after the cursor, which then
    /// moves past it).
    pub fn pri_expect<T>(&mut self, mut pick: impl FnMut(&PriEvent) -> Option<T>) -> T {
        self.pri_expect_within(EXPECT_WITHIN, &mut pick)
            .unwrap_or_else(|| {
                panic!(
                    "libpri event not seen: {:#?}\nours: {:#?}",
                    self.pri_events, self.events
                )
            })
    }

    /// As [`CallHarness::pri_expect`], `None` when nothing `pick` accepts came within
    /// `limit`.
    pub fn pri_expect_within<T>(
        &mut self,
        limit: Duration,
        pick: &mut impl FnMut(&PriEvent) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            while self.pri_cursor < self.pri_events.len() {
                self.pri_cursor += 1;
                if let Some(t) = pick(&self.pri_events[self.pri_cursor - 1]) {
                    return Some(t);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.step(Duration::from_millis(20));
        }
    }

    /// Runs until our interface reports an event `pick` accepts (after the cursor,
    /// which then moves past it).
    pub fn expect<T>(&mut self, pick: impl FnMut(&Event) -> Option<T>) -> T {
        self.expect_within(EXPECT_WITHIN, pick).unwrap_or_else(|| {
            panic!(
                "event not seen: {:#?}\nlibpri: {:#?}",
                self.events, self.pri_events
            )
        })
    }

    /// As [`CallHarness::expect`], `None` when nothing `pick` accepts came within
    /// `limit`.
    pub fn expect_within<T>(
        &mut self,
        limit: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            while self.cursor < self.events.len() {
                self.cursor += 1;
                if let Some(t) = pick(&self.events[self.cursor - 1]) {
                    return Some(t);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.step(Duration::from_millis(20));
        }
    }

    /// Runs for `d` regardless.
    pub fn run_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.step(end.saturating_duration_since(Instant::now()));
        }
    }

    /// Runs until each of `calls` is released (every event after both cursors is
    /// looked at), completing libpri's side of each clearing: libpri 1.6 reports our
    /// RELEASE as HANGUP and sends its RELEASE COMPLETE only on `pri_hangup`.
    pub fn released(&mut self, calls: &[CallHandle]) {
        let deadline = Instant::now() + EXPECT_WITHIN;
        let mut left: Vec<CallHandle> = calls.to_vec();
        while !left.is_empty() {
            while self.pri_cursor < self.pri_events.len() {
                if let PriEvent::Hangup(hg) = &self.pri_events[self.pri_cursor] {
                    if let Some(c) = hg.call {
                        let _ = self.pri.hangup(c, hg.cause);
                    }
                }
                self.pri_cursor += 1;
            }
            while self.cursor < self.events.len() {
                if let Event::Released { call, .. } = &self.events[self.cursor] {
                    left.retain(|c| c != call);
                }
                self.cursor += 1;
            }
            assert!(Instant::now() < deadline, "not released: {left:?}");
            self.step(Duration::from_millis(20));
        }
    }
}
