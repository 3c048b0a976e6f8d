//! RFC 4733 telephone-events: payload layout, the sender's packet train and the
//! receiver's digit start/end without duplicates.

use std::time::{Duration, Instant};

use gateway::rtp::{
    DigitEvent, EventPayload, PayloadType, RandomStart, RtpPacket, RtpSender, SeqNo, Ssrc,
    TelephoneEvent, TelephoneEventReceiver, TelephoneEventSender,
};

/// [MS-RTPDT] §4 shows the payload of digit 1, end bit set, volume 20, duration 1760
/// (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rtpdt/
/// fd124e16-699b-4cfd-9267-50939d571ccd).
#[test]
fn payload_from_ms_rtpdt_example() {
    let bytes = [0x01, 0x94, 0x06, 0xE0];
    let p = EventPayload::decode(&bytes).unwrap();
    assert_eq!(p.event, TelephoneEvent(1));
    assert!(p.end);
    assert_eq!(p.volume, 20);
    assert_eq!(p.duration, 1760);
    assert_eq!(p.encode(), bytes);
}

fn sender() -> RtpSender {
    RtpSender::new(
        PayloadType::PCMA,
        RandomStart {
            ssrc: Ssrc(0xCAFE),
            sequence: SeqNo(1000),
            timestamp: 50_000,
        },
    )
}

struct Sent {
    at_ms: u64,
    marker: bool,
    seq: u16,
    ts: u32,
    payload: EventPayload,
    bytes: Vec<u8>,
}

/// Press `c` at `start_ms` for `hold_ms`, polling every 10 ms.
fn press(
    ev: &mut TelephoneEventSender,
    rtp: &mut RtpSender,
    t0: Instant,
    c: char,
    start_ms: u64,
    hold_ms: u64,
) -> Vec<Sent> {
    let mut out = vec![];
    let mut buf = [0u8; 64];
    ev.start(
        t0 + Duration::from_millis(start_ms),
        TelephoneEvent::from_char(c).unwrap(),
        10,
        rtp,
    )
    .unwrap();
    let mut ms = start_ms;
    while ev.is_active() {
        let now = t0 + Duration::from_millis(ms);
        if ms == start_ms + hold_ms {
            ev.stop(now);
        }
        while let Some(n) = ev.poll_transmit(now, rtp, &mut buf).unwrap() {
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            out.push(Sent {
                at_ms: ms,
                marker: p.marker,
                seq: p.sequence.0,
                ts: p.timestamp,
                payload: EventPayload::decode(p.payload).unwrap(),
                bytes: buf[..n].to_vec(),
            });
        }
        // Audio would be sent here in 20 ms steps; during the event it is paused.
        if ms % 20 == 0 {
            rtp.pause(160);
        }
        ms += 10;
        assert!(ms < start_ms + hold_ms + 1000, "sender never finished");
    }
    out
}

#[test]
fn sender_emits_start_updates_and_three_end_packets() {
    let t0 = Instant::now();
    let mut rtp = sender();
    let mut ev = TelephoneEventSender::new(PayloadType::new(101).unwrap());
    let sent = press(&mut ev, &mut rtp, t0, '5', 0, 200);
    // t=0 start, updates at 50/100/150 ms, then 3 end packets at 200 ms.
    assert_eq!(
        sent.iter().map(|s| s.at_ms).collect::<Vec<_>>(),
        [0, 50, 100, 150, 200, 200, 200]
    );
    assert!(sent[0].marker);
    assert!(sent[1..].iter().all(|s| !s.marker));
    assert!(sent
        .iter()
        .all(|s| s.ts == 50_000 && s.payload.event == TelephoneEvent(5)));
    let durations: Vec<u16> = sent.iter().map(|s| s.payload.duration).collect();
    assert_eq!(durations, [1, 400, 800, 1200, 1600, 1600, 1600]);
    assert_eq!(sent.iter().filter(|s| s.payload.end).count(), 3);
    let seqs: Vec<u16> = sent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (1000..1007).collect::<Vec<_>>());
    // A second event uses the (paused) audio timestamp that moved on.
    let next = press(&mut ev, &mut rtp, t0, '#', 300, 100);
    assert!(next[0].marker);
    assert!(next[0].ts > 50_000 + 1600);
    assert_eq!(next[0].payload.event, TelephoneEvent(11));
}

#[test]
fn receiver_reports_each_digit_once_despite_repeats_and_loss() {
    let t0 = Instant::now();
    let mut rtp = sender();
    let mut ev = TelephoneEventSender::new(PayloadType::new(101).unwrap());
    let mut train = vec![];
    for (i, c) in "19#A".chars().enumerate() {
        train.push(press(&mut ev, &mut rtp, t0, c, i as u64 * 500, 150));
    }
    let mut rx = TelephoneEventReceiver::new();
    let feed = |rx: &mut TelephoneEventReceiver, s: &Sent| {
        let p = RtpPacket::parse(&s.bytes).unwrap();
        rx.handle_packet(t0 + Duration::from_millis(s.at_ms), p.timestamp, p.payload)
            .unwrap();
    };
    // '1': everything twice (network duplication).
    for s in &train[0] {
        feed(&mut rx, s);
        feed(&mut rx, s);
    }
    // '9': the first (marker) packet lost.
    for s in &train[1][1..] {
        feed(&mut rx, s);
    }
    // '#': all end packets lost: the next digit ends it.
    for s in train[2].iter().filter(|s| !s.payload.end) {
        feed(&mut rx, s);
    }
    // 'A': end packets lost too, ended by the timeout.
    for s in train[3].iter().filter(|s| !s.payload.end) {
        feed(&mut rx, s);
    }
    let deadline = rx.poll_timeout().unwrap();
    rx.handle_timeout(deadline - Duration::from_millis(1));
    rx.handle_timeout(deadline);
    let events: Vec<DigitEvent> = std::iter::from_fn(|| rx.poll_event()).collect();
    let ev = |c| TelephoneEvent::from_char(c).unwrap();
    assert_eq!(
        events,
        [
            DigitEvent::Start { event: ev('1') },
            DigitEvent::End {
                event: ev('1'),
                duration: 1200
            },
            DigitEvent::Start { event: ev('9') },
            DigitEvent::End {
                event: ev('9'),
                duration: 1200
            },
            DigitEvent::Start { event: ev('#') },
            DigitEvent::End {
                event: ev('#'),
                duration: 800
            },
            DigitEvent::Start { event: ev('A') },
            DigitEvent::End {
                event: ev('A'),
                duration: 800
            },
        ]
    );
    assert_eq!(rx.poll_timeout(), None);
    // A stray retransmission of an old event changes nothing.
    feed(&mut rx, &train[0][4]);
    assert_eq!(rx.poll_event(), None);
}

#[test]
fn busy_and_short_payloads_are_errors() {
    let t0 = Instant::now();
    let rtp = sender();
    let mut ev = TelephoneEventSender::new(PayloadType::new(101).unwrap());
    ev.start(t0, TelephoneEvent(1), 10, &rtp).unwrap();
    assert!(ev.start(t0, TelephoneEvent(2), 10, &rtp).is_err());
    let mut rx = TelephoneEventReceiver::new();
    assert!(rx.handle_packet(t0, 0, &[1, 2, 3]).is_err());
    assert_eq!(rx.poll_event(), None);
}
