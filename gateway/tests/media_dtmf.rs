//! DTMF across the engine: RFC 4733 events from SIP become tones on the B-channel, and
//! in-band digits on the B-channel become RFC 4733 events toward SIP.

use std::time::Duration;

use crate::media_support::{Harness, Options, EVENT_PT, KEY};
use gateway::media::dsp::{DtmfDetector, DtmfTransition};
use gateway::media::engine::{Control, DigitSource, MediaEvent};
use gateway::media::{tone_present, Law, ToneGenerator, FRAME_SAMPLES};
use gateway::rtp::{
    EventPayload, PayloadType, RtpPacket, RtpSender, TelephoneEvent, TelephoneEventSender,
};

/// Q.23: digit 5 is 770 Hz + 1336 Hz.
const LOW_5: f64 = 770.0;
const HIGH_5: f64 = 1336.0;

#[test]
fn rfc4733_digit_in_is_played_as_a_dtmf_tone_on_the_b_channel() {
    let mut h = Harness::new(Options::e1());
    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut events = TelephoneEventSender::new(PayloadType::new(EVENT_PT).unwrap());
    let silence = [Law::ALaw.silence(); FRAME_SAMPLES];
    let mut heard = Vec::new();
    let mut buf = [0u8; 200];
    for _ in 0..1200 {
        let now = h.now();
        if h.ms == 400 {
            events.start(now, TelephoneEvent(5), 10, &rtp).unwrap();
        }
        if h.ms == 520 {
            events.stop(now);
        }
        while let Some(n) = events.poll_transmit(now, &mut rtp, &mut buf).unwrap() {
            h.peer_send(&buf[..n]);
        }
        if h.ms % 20 == 0 {
            if events.is_active() {
                rtp.pause(FRAME_SAMPLES as u32);
            } else {
                let n = rtp
                    .write_audio(now, &silence, FRAME_SAMPLES as u32, &mut buf)
                    .unwrap();
                h.peer_send(&buf[..n]);
            }
        }
        h.step();
        heard.extend(h.far_read());
    }
    // spandsp's detector (Q.24 checks) hears exactly one 5 at the far end …
    let mut det = DtmfDetector::new().unwrap();
    let mut linear = [0i16; FRAME_SAMPLES];
    let mut digits = Vec::new();
    let mut tone_blocks = 0;
    for block in heard.chunks_exact(FRAME_SAMPLES) {
        Law::ALaw.decode_block(block, &mut linear);
        if let Some(DtmfTransition::Start(d)) = det.process(&linear) {
            digits.push(d);
        }
        // … and an independent Goertzel sees both frequencies of the pair.
        if tone_present(block, Law::ALaw, LOW_5).tone_dbm0 > -20.0
            && tone_present(block, Law::ALaw, HIGH_5).tone_dbm0 > -20.0
        {
            tone_blocks += 1;
        }
    }
    assert_eq!(digits, vec![5]);
    // 120 ms of key press → about six 20 ms blocks of tone.
    assert!((5..=8).contains(&tone_blocks), "{tone_blocks} blocks");
    let evs = h.drain_events();
    assert!(evs.iter().any(|e| matches!(e,
        MediaEvent::Digit { key, digit: '5', source: DigitSource::Rfc4733 } if *key == KEY)));
    assert!(evs.iter().any(|e| matches!(
        e,
        MediaEvent::DigitEnd {
            digit: '5',
            source: DigitSource::Rfc4733,
            ..
        }
    )));
}

/// Two-tone DTMF made with plain sine generators (not spandsp's generator).
struct DualTone(ToneGenerator, ToneGenerator);

impl DualTone {
    fn new(low: f64, high: f64) -> Self {
        DualTone(
            ToneGenerator::new(low, -8.0),
            ToneGenerator::new(high, -6.0),
        )
    }

    fn fill(&mut self, out: &mut [u8; FRAME_SAMPLES]) {
        let mut a = [0i16; FRAME_SAMPLES];
        let mut b = [0i16; FRAME_SAMPLES];
        self.0.fill_linear(&mut a);
        self.1.fill_linear(&mut b);
        for i in 0..FRAME_SAMPLES {
            out[i] = Law::ALaw.encode(a[i].saturating_add(b[i]));
        }
    }
}

#[test]
fn inband_digit_from_the_b_channel_goes_out_as_rfc4733_events() {
    let mut h = Harness::new(Options {
        echo_cancel: true,
        ..Options::e1()
    });
    let mut tone = DualTone::new(LOW_5, HIGH_5);
    let mut speech = ToneGenerator::new(400.0, -20.0);
    for _ in 0..1000 {
        if h.ms % 20 == 0 {
            let mut block = [0u8; FRAME_SAMPLES];
            // 200 ms of digit 5 from 300 ms, a quiet 400 Hz before and after.
            if (300..500).contains(&h.ms) {
                tone.fill(&mut block);
            } else {
                speech.fill(Law::ALaw, &mut block);
            }
            h.far.write(&block).unwrap();
        }
        h.step();
    }
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut updates = 0;
    let mut audio_during_digit = 0;
    let mut in_digit = false;
    for p in h.peer_packets() {
        let p = RtpPacket::parse(&p).unwrap();
        if p.payload_type.get() == EVENT_PT {
            let ev = EventPayload::decode(p.payload).unwrap();
            assert_eq!(ev.event, TelephoneEvent(5));
            if p.marker {
                starts.push(p.timestamp);
                in_digit = true;
            } else if ev.end {
                ends.push((p.timestamp, ev.duration));
                in_digit = false;
            } else {
                updates += 1;
            }
        } else if in_digit {
            audio_during_digit += 1;
        }
    }
    assert_eq!(starts.len(), 1, "one start (marker) packet");
    assert!(updates >= 1);
    // RFC 4733 §2.5.1.4: the end is sent three times, same timestamp as the start.
    assert_eq!(ends.len(), 3);
    assert!(ends.iter().all(|e| e.0 == starts[0]));
    // Detected from the second or third block of the tone to its end: 140–200 ms.
    let dur_ms = ends[0].1 as u64 / 8;
    assert!((120..=220).contains(&dur_ms), "{dur_ms} ms");
    assert_eq!(audio_during_digit, 0, "the digit's audio is suppressed");
    let evs = h.drain_events();
    assert!(evs.iter().any(|e| matches!(
        e,
        MediaEvent::Digit {
            digit: '5',
            source: DigitSource::Tdm,
            ..
        }
    )));
}

#[test]
fn sip_info_digit_is_played_for_its_duration() {
    let mut h = Harness::new(Options::e1());
    for _ in 0..100 {
        h.step();
    }
    h.far_read();
    h.control
        .send(Control::PlayDigit(KEY, '#', Duration::from_millis(100)))
        .unwrap();
    let mut heard = Vec::new();
    for _ in 0..400 {
        h.step();
        heard.extend(h.far_read());
    }
    let mut det = DtmfDetector::new().unwrap();
    let mut linear = [0i16; FRAME_SAMPLES];
    let mut digits = Vec::new();
    for block in heard.chunks_exact(FRAME_SAMPLES) {
        Law::ALaw.decode_block(block, &mut linear);
        if let Some(DtmfTransition::Start(d)) = det.process(&linear) {
            digits.push(d);
        }
    }
    assert_eq!(digits, vec![11], "'#' is event 11");
}
