//! The per-packet media path allocates nothing: building, parsing, statistics, the
//! jitter buffer and A↔µ conversion run 20,000 packets in steady state under a counting
//! allocator. Run with `--release -- --nocapture` to see the rates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gateway::media::{transcode_frame, Law};
use gateway::rtp::{
    JitterBuffer, JitterBufferConfig, PayloadType, RandomStart, ReceiverStats, RtpPacket,
    RtpSender, SeqNo, Ssrc,
};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only the test's own thread is counted: the harness's main thread allocates when a
    // slow (loaded) machine makes it report, which says nothing about the media path.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn media_path_does_not_allocate_per_packet() {
    let t0 = Instant::now();
    let mut tx = RtpSender::new(
        PayloadType::PCMA,
        RandomStart {
            ssrc: Ssrc(1),
            sequence: SeqNo(0),
            timestamp: 0,
        },
    );
    let mut back = RtpSender::new(
        PayloadType::PCMA,
        RandomStart {
            ssrc: Ssrc(2),
            sequence: SeqNo(0),
            timestamp: 0,
        },
    );
    // A T1 span (µ-law) bridged to a peer that negotiated PCMA.
    let mut jb = JitterBuffer::new(t0, JitterBufferConfig::new(Law::ALaw));
    let mut stats = ReceiverStats::new(t0, Ssrc(1), SeqNo(0), 8000);
    let mut pkt_in = [0u8; 200];
    let mut pkt_out = [0u8; 200];
    let mut far = [0xD5u8; 160];
    let mut to_tdm = [0u8; 160];
    let mut from_tdm = [0xFFu8; 160];
    let mut step = |i: u64| {
        let now = t0 + Duration::from_millis(20 * i);
        // Far end → us: parse, account, buffer; one frame out to the B-channel.
        let n = tx.write_audio(now, &far, 160, &mut pkt_in).unwrap();
        let p = RtpPacket::parse(&pkt_in[..n]).unwrap();
        stats.handle_packet(now, p.sequence, p.timestamp, true);
        jb.push(now, &p);
        jb.pop(now, &mut to_tdm);
        transcode_frame(Law::ALaw, Law::MuLaw, &mut to_tdm);
        // B-channel → far end.
        transcode_frame(Law::MuLaw, Law::ALaw, &mut from_tdm);
        let n = back.write_audio(now, &from_tdm, 160, &mut pkt_out).unwrap();
        assert!(RtpPacket::parse(&pkt_out[..n]).is_ok());
        far[0] = far[0].wrapping_add(1);
        from_tdm[1] = from_tdm[1].wrapping_add(3);
    };
    // Warm up (first-packet setup may allocate), then count.
    for i in 0..100 {
        step(i);
    }
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    let start = Instant::now();
    let packets = 20_000;
    for i in 100..100 + packets {
        step(i);
    }
    let elapsed = start.elapsed();
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations in {packets} packets");
    println!(
        "media path: {:.0} packet pairs/s (per pair: 2 builds, 2 parses, stats, 2 frame conversions, jitter push+pop)",
        packets as f64 / elapsed.as_secs_f64()
    );
}
