//! One libpri controller and one of our data links joined by a socket pair, driven in one
//! thread: `poll` on both descriptors, our timers from `Link::poll_timeout`, libpri's from
//! `pri_schedule_next` (real time: libpri runs on the wall clock).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use q931::lapd::{fcs, Link, LinkConfig, LinkEvent};

use super::{ffi, seqpacket_pair, LibPri, Node, PriEvent, Switch};

/// What the harness saw, in order: frames (FCS stripped) and events of both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trace {
    /// A frame libpri sent (delivered to us unless the path was cut).
    FromPri(Vec<u8>),
    /// A frame we sent (delivered to libpri unless the path was cut).
    ToPri(Vec<u8>),
    Pri(PriEvent),
    Link(LinkEvent),
}

/// Decides, frame by frame (without FCS), whether a frame is lost.
pub type FrameFilter = Box<dyn FnMut(&[u8]) -> bool>;

pub struct Harness {
    pub pri: LibPri,
    pub link: Link,
    ours: File,
    /// Everything seen so far.
    pub trace: Vec<Trace>,
    /// While set, frames are lost in both directions (a D-channel outage).
    pub cut: bool,
    /// Loses the frames from libpri (FCS stripped) for which it returns `true`.
    pub drop_from_pri: Option<FrameFilter>,
    /// Loses our frames to libpri for which it returns `true`.
    pub drop_to_pri: Option<FrameFilter>,
    node: Node,
    switch: Switch,
    pri_cursor: usize,
    link_cursor: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl Harness {
    /// libpri as `node` on one end, our data link with `cfg` on the other. libpri sends its
    /// SABME at once; our link does nothing until asked (or until that SABME arrives).
    pub fn new(cfg: LinkConfig, node: Node, switch: Switch) -> Harness {
        let (theirs, ours) = seqpacket_pair();
        let mut pri = LibPri::new(theirs, node, switch);
        if std::env::var_os("LIBPRI_DEBUG").is_some() {
            pri.set_debug(
                ffi::PRI_DEBUG_Q921_STATE
                    | ffi::PRI_DEBUG_Q921_DUMP
                    | ffi::PRI_DEBUG_Q931_DUMP
                    | ffi::PRI_DEBUG_Q931_STATE,
            );
        }
        Harness {
            pri,
            link: Link::new(cfg),
            ours: File::from(ours),
            trace: Vec::new(),
            cut: false,
            drop_from_pri: None,
            drop_to_pri: None,
            node,
            switch,
            pri_cursor: 0,
            link_cursor: 0,
            rx: vec![0; 1024],
            tx: Vec::with_capacity(300),
        }
    }

    /// Replaces libpri by a fresh controller (a restart of the peer: new process, new
    /// descriptor), keeping our link as it is. The new libpri sends SABME at once.
    pub fn restart_pri(&mut self) {
        let (theirs, ours) = seqpacket_pair();
        self.pri = LibPri::new(theirs, self.node, self.switch);
        self.ours = File::from(ours);
    }

    /// Runs until `done` holds (checked after every step) or `limit` passes.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Harness) -> bool) -> bool {
        let start = Instant::now();
        loop {
            if done(self) {
                return true;
            }
            let elapsed = start.elapsed();
            if elapsed >= limit {
                return false;
            }
            self.step(limit - elapsed);
        }
    }

    /// Runs for `duration` regardless.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(duration, |_| false);
    }

    /// One round: send what we have, wait for a frame or a deadline (at most `max_wait`),
    /// feed each side, run due timers.
    pub fn step(&mut self, max_wait: Duration) {
        self.flush_link();
        let (pri_readable, ours_readable) =
            self.pri
                .wait_with(self.ours.as_raw_fd(), self.link.poll_timeout(), max_wait);
        let trace = &mut self.trace;
        if pri_readable {
            self.pri.read_all(|e| trace.push(Trace::Pri(e)));
        }
        if ours_readable {
            self.link_read_all();
        }
        let trace = &mut self.trace;
        self.pri.run_due_timers(|e| trace.push(Trace::Pri(e)));
        let now = Instant::now();
        if self.link.poll_timeout().is_some_and(|t| t <= now) {
            self.link.handle_timeout(now);
        }
        self.flush_link();
    }

    /// Reads every frame libpri wrote; strips the 2 FCS octets (libpri writes placeholders,
    /// as DAHDI expects) and hands the frame to our link unless the path is cut.
    fn link_read_all(&mut self) {
        loop {
            match self.ours.read(&mut self.rx) {
                Ok(0) => break,
                Ok(n) if n > fcs::FCS_LEN => {
                    let frame = self.rx[..n - fcs::FCS_LEN].to_vec();
                    let dropped = self.drop_from_pri.as_mut().is_some_and(|d| d(&frame));
                    if !self.cut && !dropped {
                        self.link.handle_frame(Instant::now(), &frame);
                    }
                    self.trace.push(Trace::FromPri(frame));
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read from libpri: {e}"),
            }
        }
        self.drain_link_events();
    }

    /// Writes our pending frames, each with its FCS appended as on the line.
    fn flush_link(&mut self) {
        while self.link.poll_transmit_into(&mut self.tx) {
            let frame = self.tx.clone();
            let dropped = self.drop_to_pri.as_mut().is_some_and(|d| d(&frame));
            if !self.cut && !dropped {
                fcs::append(&mut self.tx);
                match self.ours.write(&self.tx) {
                    Ok(_) => {}
                    // A full socket buffer loses the frame, like a line would.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("write to libpri: {e}"),
                }
            }
            self.trace.push(Trace::ToPri(frame));
        }
        self.drain_link_events();
    }

    fn drain_link_events(&mut self) {
        while let Some(e) = self.link.poll_event() {
            self.trace.push(Trace::Link(e));
        }
    }

    // ---- queries over the trace ----------------------------------------------------------

    /// libpri events not returned by an earlier call (for driving calls step by step).
    pub fn new_pri_events(&mut self) -> Vec<PriEvent> {
        let events: Vec<PriEvent> = self.trace[self.pri_cursor..]
            .iter()
            .filter_map(|t| match t {
                Trace::Pri(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        self.pri_cursor = self.trace.len();
        events
    }

    /// The next libpri event after the cursor (shared with [`Harness::new_pri_events`]).
    pub fn next_pri_event(&mut self) -> Option<PriEvent> {
        while self.pri_cursor < self.trace.len() {
            self.pri_cursor += 1;
            if let Trace::Pri(e) = &self.trace[self.pri_cursor - 1] {
                return Some(e.clone());
            }
        }
        None
    }

    /// The next event of our link after the cursor (shared with
    /// [`Harness::new_link_events`]).
    pub fn next_link_event(&mut self) -> Option<LinkEvent> {
        while self.link_cursor < self.trace.len() {
            self.link_cursor += 1;
            if let Trace::Link(e) = &self.trace[self.link_cursor - 1] {
                return Some(e.clone());
            }
        }
        None
    }

    /// Our link's events not returned by an earlier call.
    pub fn new_link_events(&mut self) -> Vec<LinkEvent> {
        let events: Vec<LinkEvent> = self.trace[self.link_cursor..]
            .iter()
            .filter_map(|t| match t {
                Trace::Link(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        self.link_cursor = self.trace.len();
        events
    }

    pub fn pri_events(&self) -> impl Iterator<Item = &PriEvent> {
        self.trace.iter().filter_map(|t| match t {
            Trace::Pri(e) => Some(e),
            _ => None,
        })
    }

    pub fn link_events(&self) -> impl Iterator<Item = &LinkEvent> {
        self.trace.iter().filter_map(|t| match t {
            Trace::Link(e) => Some(e),
            _ => None,
        })
    }

    pub fn count_pri(&self, event: &PriEvent) -> usize {
        self.pri_events().filter(|e| *e == event).count()
    }

    pub fn count_link(&self, event: &LinkEvent) -> usize {
        self.link_events().filter(|e| *e == event).count()
    }

    pub fn frames_from_pri(&self) -> impl Iterator<Item = &[u8]> {
        self.trace.iter().filter_map(|t| match t {
            Trace::FromPri(f) => Some(f.as_slice()),
            _ => None,
        })
    }

    pub fn frames_to_pri(&self) -> impl Iterator<Item = &[u8]> {
        self.trace.iter().filter_map(|t| match t {
            Trace::ToPri(f) => Some(f.as_slice()),
            _ => None,
        })
    }
}
