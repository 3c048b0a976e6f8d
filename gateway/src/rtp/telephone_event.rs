//! RFC 4733 telephone-events (DTMF digits carried as named events).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |     event     |E|R| volume    |          duration             |
//! ```
//! (RFC 4733 §2.3). Event codes 0–9, `*`=10, `#`=11, A–D=12–15, flash=16 (§3.2).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::packet::{PayloadType, RtpError};
use super::sender::RtpSender;

/// A named telephone event (RFC 4733 §3.2, Table 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent(pub u8);

impl TelephoneEvent {
    pub const FLASH: TelephoneEvent = TelephoneEvent(16);

    /// The event for a DTMF character `0-9 * # A-D` (case-insensitive).
    pub fn from_char(c: char) -> Option<Self> {
        Some(TelephoneEvent(match c.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            l @ 'A'..='D' => l as u8 - b'A' + 12,
            _ => return None,
        }))
    }

    /// The DTMF character, for events 0–15.
    pub fn to_char(self) -> Option<char> {
        match self.0 {
            d @ 0..=9 => Some((b'0' + d) as char),
            10 => Some('*'),
            11 => Some('#'),
            l @ 12..=15 => Some((b'A' + l - 12) as char),
            _ => None,
        }
    }
}

/// Errors decoding an event payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    #[error("telephone-event payload of {0} octets, at least 4 needed (RFC 4733 §2.3)")]
    TooShort(usize),
    #[error("an event is already being sent")]
    Busy,
    #[error(transparent)]
    Rtp(#[from] RtpError),
}

/// One event report (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    pub event: TelephoneEvent,
    /// E bit: this is (one of) the final packet(s) of the event.
    pub end: bool,
    /// Power level, 0..=63, as −dBm0.
    pub volume: u8,
    /// Duration so far, timestamp units.
    pub duration: u16,
}

impl EventPayload {
    pub const LEN: usize = 4;

    /// Decode the first 4 octets (a payload may carry several blocks with redundancy;
    /// the first is the current one, RFC 4733 §2.4.1 uses RFC 2198 for that).
    pub fn decode(b: &[u8]) -> Result<Self, EventError> {
        if b.len() < 4 {
            return Err(EventError::TooShort(b.len()));
        }
        Ok(EventPayload {
            event: TelephoneEvent(b[0]),
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn encode(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event.0,
            if self.end { 0x80 } else { 0 } | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: TelephoneEvent,
    volume: u8,
    timestamp: u32,
    started: Instant,
    next_send: Instant,
    first: bool,
    /// Some((final duration, end packets still to send)).
    ending: Option<(u16, u8)>,
}

/// Sends one event at a time: a first packet with the marker bit, updates every
/// `interval` with the growing duration and the same timestamp (RFC 4733 §2.5.1.2–3),
/// and three end packets with the E bit (§2.5.1.4), back to back.
#[derive(Debug, Clone)]
pub struct TelephoneEventSender {
    payload_type: PayloadType,
    interval: Duration,
    sending: Option<Sending>,
}

impl TelephoneEventSender {
    /// `payload_type` is the dynamic PT negotiated for telephone-event/8000.
    pub fn new(payload_type: PayloadType) -> Self {
        TelephoneEventSender {
            payload_type,
            interval: Duration::from_millis(50),
            sending: None,
        }
    }

    /// Time between updates (default 50 ms, RFC 4733 §2.5.1.2).
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval.max(Duration::from_millis(10));
    }

    pub fn is_active(&self) -> bool {
        self.sending.is_some()
    }

    /// Begin `event` at `volume` (−dBm0). Its timestamp is the audio sender's next one.
    /// While active, the caller sends no audio and calls `rtp.pause(samples)` instead.
    pub fn start(
        &mut self,
        now: Instant,
        event: TelephoneEvent,
        volume: u8,
        rtp: &RtpSender,
    ) -> Result<(), EventError> {
        if self.sending.is_some() {
            return Err(EventError::Busy);
        }
        self.sending = Some(Sending {
            event,
            volume: volume.min(63),
            timestamp: rtp.next_timestamp(),
            started: now,
            next_send: now,
            first: true,
            ending: None,
        });
        Ok(())
    }

    /// The key was released: send the end packets with the final duration.
    pub fn stop(&mut self, now: Instant) {
        if let Some(s) = &mut self.sending {
            if s.ending.is_none() {
                s.ending = Some((duration_units(now, s.started), 3));
                s.next_send = now;
            }
        }
    }

    /// When `poll_transmit` wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sending.map(|s| s.next_send)
    }

    /// Write the next due event packet, if any, into `out`; returns its length.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        rtp: &mut RtpSender,
        out: &mut [u8],
    ) -> Result<Option<usize>, EventError> {
        let Some(mut s) = self.sending else {
            return Ok(None);
        };
        if now < s.next_send {
            return Ok(None);
        }
        let (end, duration) = match s.ending {
            Some((d, _)) => (true, d),
            None => (false, duration_units(now, s.started).max(1)),
        };
        // RFC 4733 §2.5.1.3: an event longer than the 16-bit duration (8.19 s) goes on
        // in a new segment starting where the last one ended, without the marker.
        let segment_full = !end && duration == u16::MAX;
        let payload = EventPayload {
            event: s.event,
            end,
            volume: s.volume,
            duration,
        }
        .encode();
        let n = rtp.write_other(self.payload_type, s.first, s.timestamp, &payload, out)?;
        s.first = false;
        match &mut s.ending {
            Some((_, left)) => {
                *left -= 1;
                if *left == 0 {
                    self.sending = None;
                    return Ok(Some(n));
                }
            }
            None if segment_full => {
                s.timestamp = s.timestamp.wrapping_add(u16::MAX as u32);
                s.started += Duration::from_micros(u16::MAX as u64 * 125);
                s.next_send = now + self.interval;
            }
            None => s.next_send = now + self.interval,
        }
        self.sending = Some(s);
        Ok(Some(n))
    }
}

fn duration_units(now: Instant, since: Instant) -> u16 {
    let ns = now.saturating_duration_since(since).as_nanos();
    (ns * 8 / 1_000_000).min(u16::MAX as u128) as u16
}

/// A digit seen on the receive side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitEvent {
    Start {
        event: TelephoneEvent,
    },
    End {
        event: TelephoneEvent,
        /// Duration in timestamp units (ms × 8).
        duration: u16,
    },
}

#[derive(Debug, Clone, Copy)]
struct Receiving {
    event: TelephoneEvent,
    timestamp: u32,
    duration: u16,
    ended: bool,
    last_packet: Instant,
}

/// Turns received event packets into one `Start` and one `End` per event, whatever the
/// repetitions (RFC 4733 §2.5.2): updates and the repeated end packets are absorbed; a
/// lost start is inferred from the first update; a lost end from the next event or from
/// a timeout.
#[derive(Debug, Clone)]
pub struct TelephoneEventReceiver {
    current: Option<Receiving>,
    timeout: Duration,
    events: VecDeque<DigitEvent>,
}

impl Default for TelephoneEventReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl TelephoneEventReceiver {
    pub fn new() -> Self {
        TelephoneEventReceiver {
            current: None,
            timeout: Duration::from_millis(500),
            events: VecDeque::with_capacity(4),
        }
    }

    /// Feed an event packet's RTP timestamp and payload.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), EventError> {
        let p = EventPayload::decode(payload)?;
        if let Some(c) = &mut self.current {
            let diff = timestamp.wrapping_sub(c.timestamp) as i32;
            if diff == 0 && p.event == c.event {
                c.last_packet = now;
                c.duration = c.duration.max(p.duration);
                if p.end && !c.ended {
                    c.ended = true;
                    self.events.push_back(DigitEvent::End {
                        event: c.event,
                        duration: c.duration,
                    });
                }
                return Ok(());
            }
            if diff < 0 {
                // A stray packet of an older event (reordered retransmission).
                return Ok(());
            }
            if !c.ended
                && p.event == c.event
                && c.duration == u16::MAX
                && diff as u32 == u16::MAX as u32
            {
                // RFC 4733 §2.5.1.3: the next segment of a long event, not a new digit.
                c.timestamp = timestamp;
                c.duration = p.duration;
                c.last_packet = now;
                if p.end {
                    c.ended = true;
                    self.events.push_back(DigitEvent::End {
                        event: c.event,
                        duration: c.duration,
                    });
                }
                return Ok(());
            }
            if !c.ended {
                self.events.push_back(DigitEvent::End {
                    event: c.event,
                    duration: c.duration,
                });
            }
        }
        self.events.push_back(DigitEvent::Start { event: p.event });
        if p.end {
            self.events.push_back(DigitEvent::End {
                event: p.event,
                duration: p.duration,
            });
        }
        self.current = Some(Receiving {
            event: p.event,
            timestamp,
            duration: p.duration,
            ended: p.end,
            last_packet: now,
        });
        Ok(())
    }

    /// End an event whose end packets never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = &mut self.current {
            if !c.ended && now >= c.last_packet + self.timeout {
                c.ended = true;
                self.events.push_back(DigitEvent::End {
                    event: c.event,
                    duration: c.duration,
                });
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current
            .filter(|c| !c.ended)
            .map(|c| c.last_packet + self.timeout)
    }

    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_chars() {
        let p = EventPayload {
            event: TelephoneEvent(11),
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(p.encode(), [0x0B, 0x8A, 0x06, 0x40]);
        assert_eq!(EventPayload::decode(&p.encode()).unwrap(), p);
        assert_eq!(TelephoneEvent::from_char('#'), Some(TelephoneEvent(11)));
        assert_eq!(TelephoneEvent(13).to_char(), Some('B'));
        assert_eq!(TelephoneEvent::from_char('x'), None);
        assert_eq!(EventPayload::decode(&[1, 2]), Err(EventError::TooShort(2)));
    }

    #[test]
    fn a_ten_second_event_is_sent_in_two_segments_and_received_as_one_digit() {
        use crate::rtp::packet::{RtpPacket, SeqNo, Ssrc};
        use crate::rtp::sender::RandomStart;
        let t0 = Instant::now();
        let mut rtp = RtpSender::new(
            PayloadType::PCMA,
            RandomStart {
                ssrc: Ssrc(1),
                sequence: SeqNo(0),
                timestamp: 1000,
            },
        );
        let mut tx = TelephoneEventSender::new(PayloadType::new(101).unwrap());
        let mut rx = TelephoneEventReceiver::new();
        tx.start(t0, TelephoneEvent(0), 10, &rtp).unwrap();
        let mut buf = [0u8; 64];
        let mut stamps = vec![];
        let mut markers = 0;
        for ms in (0..=10_000u64).step_by(10) {
            let now = t0 + Duration::from_millis(ms);
            if ms == 10_000 {
                tx.stop(now);
            }
            while let Some(n) = tx.poll_transmit(now, &mut rtp, &mut buf).unwrap() {
                let p = RtpPacket::parse(&buf[..n]).unwrap();
                markers += p.marker as u32;
                if stamps.last() != Some(&p.timestamp) {
                    stamps.push(p.timestamp);
                }
                rx.handle_packet(now, p.timestamp, p.payload).unwrap();
            }
        }
        assert_eq!(stamps, [1000, 1000 + 65535]);
        assert_eq!(markers, 1);
        let events: Vec<_> = std::iter::from_fn(|| rx.poll_event()).collect();
        assert_eq!(
            events,
            [
                DigitEvent::Start {
                    event: TelephoneEvent(0)
                },
                DigitEvent::End {
                    event: TelephoneEvent(0),
                    duration: (80_000 - 65_535) as u16
                }
            ]
        );
    }
}
