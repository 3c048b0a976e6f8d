//! `bench-sip`: SIP benchmarks. Run: `cargo run --release -p gateway --bin bench-sip`.
//!
//! Parts (each returns its `key=value` figures; the last line joins them all):
//! - `parse`: a realistic ~1 KB INVITE with SDP, parsed (start line, every header split,
//!   Content-Length checked) and its common headers decoded (Via, From, To, Call-ID, CSeq,
//!   Contact, Content-Length), repeatedly for a few seconds on one core → `parse_per_s`.
//!
//! - `uas`: SIPp's `uac` scenario drives call cycles against our user agent core, then the
//!   same load against `sipp -sn uas`, in rounds of alternating order → `uas_cps`, `failed`,
//!   `vs_sipp_uas` (the median over the rounds of our CPU per call over SIPp's; see
//!   `bench_support/uas.rs`).
//!
//! Options: `--parse-secs N` (default 3), `--uas-rate CPS` (1600), `--uas-calls N` per run
//! (6000), `--uas-rounds N` (3), `--uas-only ours|sipp` (run one side of the UAS part once,
//! for profiling; no final line), `--iterations N` (only the parse part's work, exactly N
//! times, no timing and no final line: for `valgrind --tool=callgrind`, whose instruction
//! count per parse does not depend on the machine's load). `--uas-serve` is the child
//! process that runs our UAS.

use gateway::sip::header::ContactValue;
use gateway::sip::SipMessage;
use std::hint::black_box;
use std::time::{Duration, Instant};

const INVITE: &str = "INVITE sip:+4930123456@gw.example.net:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---77ba4b6c3a2f5e01;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:+4940111222@198.51.100.7:5060;transport=udp>\r\n\
To: <sip:+4930123456@gw.example.net;user=phone>\r\n\
From: \"Alice Example\" <sip:+4940111222@pbx.example.com;user=phone>;tag=3f9a1c27\r\n\
Call-ID: 8bZtRkQ2m1JdYx0wOe7V3g..@198.51.100.7\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n\
Supported: 100rel, timer, replaces, norefersub\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
P-Asserted-Identity: \"Alice Example\" <sip:+4940111222@pbx.example.com;user=phone>\r\n\
User-Agent: ExamplePBX 16.4.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 333\r\n\
\r\n\
v=0\r\n\
o=ExamplePBX 1647261911 1647261912 IN IP4 198.51.100.7\r\n\
s=ExamplePBX\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n\
a=rtcp:16385\r\n";

/// Parse and type the common headers once; returns a value so that nothing is optimised away.
fn parse_once(input: &bytes::Bytes) -> usize {
    let m = SipMessage::parse(input.clone()).expect("benchmark INVITE parses");
    let mut acc = m.header_count();
    let via = m.top_via().expect("Via");
    acc += via.branch().map_or(0, str::len);
    acc += m.from().expect("From").tag().map_or(0, str::len);
    acc += m.to().expect("To").tag().map_or(0, str::len);
    acc += m.call_id().expect("Call-ID").0.len();
    acc += m.cseq().expect("CSeq").seq as usize;
    if let ContactValue::Addresses(c) = m.contact().expect("Contact") {
        acc += c.len();
    }
    acc += m.content_length().unwrap_or(0) as usize;
    acc
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds, Linux).
/// The machine is shared, so rates are per CPU-second of this thread, not per wall second.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The parse part: returns messages parsed per CPU-second of one core.
fn bench_parse(secs: f64) -> f64 {
    let input = bytes::Bytes::from_static(INVITE.as_bytes());
    assert_eq!(
        SipMessage::parse(input.clone()).map(|m| m.body().len()),
        Ok(333),
        "benchmark INVITE must frame its SDP exactly"
    );
    println!(
        "parse: {}-octet INVITE with SDP, {} headers, common headers typed",
        INVITE.len(),
        SipMessage::parse(input.clone())
            .map(|m| m.header_count())
            .unwrap_or(0)
    );
    // Warm up.
    for _ in 0..10_000 {
        black_box(parse_once(black_box(&input)));
    }
    let deadline = Duration::from_secs_f64(secs);
    let cpu_start = thread_cpu();
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut last_report = start;
    loop {
        for _ in 0..1000 {
            black_box(parse_once(black_box(&input)));
        }
        n += 1000;
        let now = Instant::now();
        if now.duration_since(last_report) >= Duration::from_secs(1) {
            let rate = n as f64 / now.duration_since(start).as_secs_f64();
            println!("parse: {n} messages, {rate:.0}/s so far");
            last_report = now;
        }
        if now.duration_since(start) >= deadline {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu()) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => wall,
    };
    println!(
        "parse: {n} messages in {wall:.2} s wall, {cpu:.2} s CPU: {:.0}/s wall, {:.0}/s per CPU-second",
        n as f64 / wall,
        n as f64 / cpu
    );
    n as f64 / cpu
}

/// `--iterations N`: the parse part's work exactly `n` times (after the same framing check),
/// nothing else; prints the count and a checksum so that nothing is optimised away.
fn parse_iterations(n: u64) {
    let input = bytes::Bytes::from_static(INVITE.as_bytes());
    assert_eq!(
        SipMessage::parse(input.clone()).map(|m| m.body().len()),
        Ok(333),
        "benchmark INVITE must frame its SDP exactly"
    );
    let mut acc = 0usize;
    for _ in 0..n {
        acc = acc.wrapping_add(black_box(parse_once(black_box(&input))));
    }
    println!("parse: {n} iterations, checksum {acc}");
}

#[path = "bench_support/uas.rs"]
mod uas;

fn main() {
    let mut parse_secs = 3.0;
    let mut uas_rate: u64 = 1600;
    let mut uas_calls: u64 = 6_000;
    let mut uas_rounds: usize = 3;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--uas-serve" => {
                uas::serve();
                return;
            }
            "--parse-secs" => {
                parse_secs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--parse-secs takes a number")
            }
            "--uas-rate" => {
                uas_rate = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--uas-rate takes calls per second")
            }
            "--uas-calls" => {
                uas_calls = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--uas-calls takes a number")
            }
            "--uas-rounds" => {
                uas_rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--uas-rounds takes a number above 0")
            }
            "--uas-only" => only = args.next().filter(|v| v == "ours" || v == "sipp"),
            "--iterations" => {
                let n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--iterations takes a number");
                parse_iterations(n);
                return;
            }
            other => {
                eprintln!(
                    "unknown argument {other}; options: --parse-secs N --uas-rate CPS --uas-calls N --uas-rounds N --uas-only ours|sipp --iterations N"
                );
                std::process::exit(2);
            }
        }
    }
    if let Some(side) = only {
        let r = if side == "ours" {
            uas::ours(uas_rate, uas_calls)
        } else {
            uas::sipp_uas(uas_rate, uas_calls)
        };
        eprintln!("uas: {side} {:.1} µs CPU/call", r.per_call() * 1e6);
        return;
    }
    let mut figures: Vec<String> = Vec::new();
    let rate = bench_parse(parse_secs);
    figures.push(format!("parse_per_s={rate:.0}"));
    eprintln!(
        "uas: {uas_rounds} rounds of SIPp uac at {uas_rate} calls/s, {uas_calls} calls, against our UAS and against SIPp's own (sipp -sn uas), in alternating order"
    );
    let mut ratios: Vec<f64> = Vec::new();
    let (mut calls, mut failed, mut wall) = (0u64, 0u64, Duration::ZERO);
    let mut sipp_failed_rounds = 0;
    for round in 0..uas_rounds {
        // Alternate which side goes first, so that a drift of the machine's load over the
        // run weighs on both alike.
        let (ours, theirs) = if round % 2 == 0 {
            let o = uas::ours(uas_rate, uas_calls);
            (o, uas::sipp_uas(uas_rate, uas_calls))
        } else {
            let t = uas::sipp_uas(uas_rate, uas_calls);
            (uas::ours(uas_rate, uas_calls), t)
        };
        calls += ours.calls;
        failed += ours.failed;
        wall += ours.wall;
        let ratio = ours.per_call() / theirs.per_call().max(1e-9);
        if theirs.failed > 0 {
            // A starved SIPp UAS retransmits and times out: its CPU per call is inflated
            // and this round's ratio says nothing.
            sipp_failed_rounds += 1;
            eprintln!(
                "uas: round {}: WARNING: SIPp's own UAS failed {} calls under this load; the round is left out of vs_sipp_uas",
                round + 1,
                theirs.failed
            );
            continue;
        }
        eprintln!(
            "uas: round {}: ours {:.1} µs CPU/call, sipp uas {:.1} µs CPU/call, ratio {ratio:.2}",
            round + 1,
            ours.per_call() * 1e6,
            theirs.per_call() * 1e6
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let median = match ratios.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    };
    if sipp_failed_rounds > 0 {
        eprintln!(
            "uas: WARNING: {sipp_failed_rounds} of {uas_rounds} rounds left out (SIPp's UAS failed calls); vs_sipp_uas is the median of the other {}",
            ratios.len()
        );
    }
    let cps = calls as f64 / wall.as_secs_f64().max(1e-9);
    figures.push(format!("uas_cps={cps:.0}"));
    figures.push(format!("failed={failed}"));
    figures.push(format!("vs_sipp_uas={median:.2}"));
    println!("bench sip {}", figures.join(" "));
}
