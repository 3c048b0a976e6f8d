//! Benchmark: H.225.0 Setup with fast start (four OpenLogicalChannel proposals: G.711
//! A-law and µ-law, transmit and receive), aliases, addresses and a tunnelled H.245
//! message, decoded and re-encoded (Q.931 framing + aligned PER) on one core.
//!
//! `cargo run --release -p h323 --bin bench-h323 [seconds]` (default 5 s);
//! last line: `bench h323 setup_codec_per_s=N ...`.
//!
//! `bench-h323 --iterations N` runs exactly N decode + encode iterations and no
//! breakdown, for instruction counts that do not depend on the machine's load:
//! `valgrind --tool=callgrind bench-h323 --iterations N` for two values of N, the
//! difference of the totals divided by the difference of N is the Ir of one Setup
//! decode + encode.

use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use h323::fast_start::{self, MediaAddresses, G711};
use h323::h225::{setup_per, Alias, CallSignal, Endpoint, Guid, SetupParams};
use h323::h245_tunnel;
use h323::q931::ie::InfoElement;
use h323::q931::{Dialect, Message};
use h323_asn1::h225 as asn;
use h323_asn1::rasn;

fn setup_bytes() -> Vec<u8> {
    let media = MediaAddresses {
        rtp: "192.0.2.10:5000".parse().unwrap(),
        rtcp: "192.0.2.10:5001".parse().unwrap(),
    };
    let proposals = fast_start::proposals(&[G711::ALaw, G711::MuLaw], 20, media);
    let params = SetupParams {
        call_ref: 0x2A2A,
        call_id: Guid([0x5E; 16]),
        conference_id: Guid([0xC0; 16]),
        endpoint: Endpoint::default(),
        source_aliases: vec![
            Alias::H323Id("gateway-a".into()),
            Alias::Dialled("493012345".into()),
        ],
        destination_aliases: vec![Alias::Dialled("4940987654321".into())],
        source_signal_address: Some("192.0.2.10:40000".parse::<SocketAddrV4>().unwrap()),
        dest_signal_address: Some("192.0.2.20:1720".parse::<SocketAddrV4>().unwrap()),
        fast_start: fast_start::encode_all(&proposals).expect("proposals encode"),
        h245_address: None,
        h245_tunneling: true,
        h245_control: vec![
            h245_tunnel::encode(&h245_tunnel::master_slave_determination(60, 0x123456))
                .expect("MSD encodes"),
        ],
        called_number: Some("4940987654321".into()),
        calling_number: Some("493012345".into()),
        display: Some("Gateway A".into()),
        bearer_a_law: true,
    };
    CallSignal::setup(&params)
        .and_then(|s| s.to_bytes())
        .expect("setup encodes")
}

/// CPU time this thread has used, in seconds: the scheduler's own account in
/// nanoseconds (`/proc/thread-self/schedstat`, first field), else utime + stime from
/// `/proc/thread-self/stat` (clock ticks of 1/100 s, the Linux USER_HZ). So the figure
/// means "per second of one core" even when the machine is shared.
fn thread_cpu_seconds() -> Option<f64> {
    if let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Some(ns as f64 / 1e9);
    }
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at state (3rd).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU nanoseconds per call of `f`, over about 0.3 s.
fn cpu_ns_each(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let cpu0 = thread_cpu_seconds();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(300) {
        for _ in 0..200 {
            f();
        }
        n += 200;
    }
    let cpu = match (cpu0, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => start.elapsed().as_secs_f64(),
    };
    cpu * 1e9 / n as f64
}

/// Where the time goes, in CPU ns each.
struct Breakdown {
    /// The aligned-PER decode and encode of the H323-UserInformation alone, through
    /// the path `CallSignal` takes for a Setup (`h225::setup_per`).
    decode: f64,
    encode: f64,
    /// The same through rasn's generic codec, for comparison (the path of every
    /// other message).
    rasn_decode: f64,
    rasn_encode: f64,
    /// The Q.931 framing around it alone (crate `q931`, H.225.0 dialect, the User-user
    /// IE included as octets).
    framing: f64,
}

fn breakdown(bytes: &[u8]) -> Breakdown {
    let sig = CallSignal::decode(bytes).expect("decodes");
    let uu = user_user_data(bytes);
    let value = sig.uu().expect("decoded").clone();
    let mut per = Vec::with_capacity(uu.len() + 64);
    let decode = cpu_ns_each(|| {
        black_box(setup_per::decode(black_box(&uu)).expect("decodes"));
    });
    let encode = cpu_ns_each(|| {
        per.clear();
        setup_per::encode(black_box(&value), &mut per).expect("encodes");
        black_box(&per);
    });
    let rasn_decode = cpu_ns_each(|| {
        let v: asn::H323UserInformation = rasn::aper::decode(black_box(&uu)).expect("decodes");
        black_box(v);
    });
    let rasn_encode = cpu_ns_each(|| {
        black_box(rasn::aper::encode(black_box(&value)).expect("encodes"));
    });
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let framing = cpu_ns_each(|| {
        let m = Message::decode_with(black_box(bytes), Dialect::H225).expect("decodes");
        out.clear();
        m.encode_with(&mut out, Dialect::H225).expect("encodes");
        black_box(&out);
    });
    Breakdown {
        decode,
        encode,
        rasn_decode,
        rasn_encode,
        framing,
    }
}

/// The contents of the User-user IE (after its protocol discriminator).
fn user_user_data(bytes: &[u8]) -> Vec<u8> {
    let m = Message::decode_with(bytes, Dialect::H225).expect("decodes");
    m.ies
        .iter()
        .find_map(|ie| match ie {
            InfoElement::UserUser(u) => Some(u.data.to_vec()),
            _ => None,
        })
        .expect("User-user IE")
}

/// How long the decode + encode loop runs.
#[derive(Clone, Copy)]
enum Run {
    /// About this many seconds (wall), then the breakdown.
    Seconds(f64),
    /// Exactly this many iterations, no breakdown.
    Iterations(u64),
}

fn run_from_args() -> Run {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, n] if flag == "--iterations" => {
            Run::Iterations(n.parse().expect("--iterations takes a count"))
        }
        [seconds] => Run::Seconds(seconds.parse().expect("seconds")),
        _ => Run::Seconds(5.0),
    }
}

fn main() {
    let run = run_from_args();
    let bytes = setup_bytes();
    println!(
        "H.225.0 Setup: {} octets of Q.931 (4 fast-start proposals, 3 aliases, 2 addresses, 1 tunnelled H.245)",
        bytes.len()
    );
    // Sanity: what we measure is a full, faithful round trip.
    let check = CallSignal::decode(&bytes).expect("decodes");
    assert_eq!(check.fast_start().len(), 4);
    assert_eq!(check.to_bytes().expect("encodes"), bytes);

    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut round_trip = |count: u64| {
        for _ in 0..count {
            let sig = CallSignal::decode(black_box(&bytes)).expect("decodes");
            out.clear();
            sig.encode(&mut out).expect("encodes");
            black_box(&out);
        }
    };
    let (deadline, batch) = match run {
        Run::Seconds(s) => (Duration::from_secs_f64(s), 1000),
        Run::Iterations(n) => (Duration::ZERO, n),
    };
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut next_report = Duration::from_secs(1);
    loop {
        round_trip(batch);
        n += batch;
        let el = start.elapsed();
        if el >= next_report {
            println!(
                "  {:>5.1} s: {:.0} setups/s",
                el.as_secs_f64(),
                n as f64 / el.as_secs_f64()
            );
            next_report += Duration::from_secs(1);
        }
        if el >= deadline {
            break;
        }
    }
    let el = start.elapsed().as_secs_f64();
    // Per second of CPU on one core, the loop's alone (read before the breakdown below
    // runs); falls back to wall time without /proc.
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => el,
    };
    let wall_per_s = n as f64 / el;
    let per_s = n as f64 / cpu;
    println!(
        "{n} setups decoded + encoded in {el:.2} s wall, {cpu:.2} s CPU ({:.0}% of a core)",
        100.0 * cpu / el
    );
    if let Run::Seconds(_) = run {
        let b = breakdown(&bytes);
        println!(
            "of which (CPU ns each, measured apart): PER decode {:.0}, PER encode {:.0}, Q.931 framing decode + encode {:.0}; rasn's generic codec: decode {:.0}, encode {:.0}",
            b.decode, b.encode, b.framing, b.rasn_decode, b.rasn_encode
        );
    }
    println!(
        "bench h323 setup_codec_per_s={:.0} wall_per_s={:.0} setup_octets={} ns_per_setup={:.0}",
        per_s,
        wall_per_s,
        bytes.len(),
        1e9 / per_s
    );
}
