//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, Event, Law, SpanId, Timeslot,
};

pub fn chan(span: u16, ts: u8) -> ChannelId {
    ChannelId {
        span: SpanId(span),
        timeslot: Timeslot(ts),
    }
}

pub fn clear(law: Law) -> ChannelMode {
    ChannelMode::Clear {
        blocksize: 160,
        law,
    }
}

pub fn open(dev: &dyn Device, span: u16, ts: u8, mode: ChannelMode) -> Box<dyn Channel> {
    dev.open_channel(chan(span, ts), mode)
        .expect("open channel")
}

/// Reads everything readable; panics on an event.
pub fn read_all(ch: &mut dyn Channel, out: &mut Vec<u8>) {
    let mut buf = [0u8; 2048];
    loop {
        match ch.read(&mut buf) {
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(ChanError::WouldBlock) => return,
            Err(e) => panic!("read on {}: {e}", ch.id()),
        }
    }
}

/// Reads frames until WouldBlock; events are returned separately.
pub fn read_frames(ch: &mut dyn Channel) -> (Vec<Vec<u8>>, Vec<Event>) {
    let mut frames = Vec::new();
    let mut events = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match ch.read(&mut buf) {
            Ok(n) => frames.push(buf[..n].to_vec()),
            Err(ChanError::WouldBlock) => return (frames, events),
            Err(ChanError::EventPending) => {
                events.push(ch.get_event().expect("get_event").expect("an event"));
            }
            Err(e) => panic!("read on {}: {e}", ch.id()),
        }
    }
}

/// All events queued on a channel.
pub fn events(ch: &mut dyn Channel) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(e) = ch.get_event().expect("get_event") {
        v.push(e);
    }
    v
}

/// poll(2) the channel's fd without waiting; returns revents.
pub fn poll_now(ch: &dyn Channel) -> i16 {
    let mut pfd = libc::pollfd {
        fd: ch.raw_fd(),
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0);
    pfd.revents
}
