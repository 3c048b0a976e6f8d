//! bench-memory: memory per active call in the media engine.
//!
//! Opens 1,000 B-channels on simulated E1 spans and 1,000 loopback RTP sockets first
//! (the device's and the kernel's memory), then measures what bridging them costs the
//! process: every channel is added to one media worker (engine state, jitter buffer,
//! RTP sender/receiver state, spandsp DTMF detector and generator and, with the echo
//! canceller on as for E1 voice, its filter), a few seconds of media run through each,
//! and the growth of the heap is divided by the number of calls. The heap is counted
//! twice: a counting global allocator sees Rust's allocations, and glibc's `mallinfo2`
//! sees everything allocated through malloc, which includes spandsp's C state.
//!
//! Last line: `bench memory bytes_per_call=N` (the larger of the two counts).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
use gateway::media::engine::{ChannelConfig, ChannelKey, Control, MediaWorker};
use gateway::media::{Law, FRAME_SAMPLES};
use gateway::rtp::{PayloadType, RtpSender};
use tdm_sim::Sim;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn malloc_in_use() -> isize {
    // SAFETY: plain glibc call.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as isize
}

const CALLS: usize = 1000;

fn main() -> anyhow::Result<()> {
    let spans = CALLS.div_ceil(30);
    let sim = Sim::builder().e1(spans).build();
    let near = sim.near();
    let mut opened = Vec::with_capacity(CALLS);
    'spans: for span in 1..=spans as u16 {
        for ts in (1..=31u8).filter(|&t| t != 16) {
            if opened.len() == CALLS {
                break 'spans;
            }
            let tdm = near.open_channel(
                ChannelId {
                    span: SpanId(span),
                    timeslot: Timeslot(ts),
                },
                ChannelMode::Clear {
                    blocksize: FRAME_SAMPLES,
                    law: dahdi_driver::Law::ALaw,
                },
            )?;
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            opened.push((tdm, socket));
        }
    }
    let peer = UdpSocket::bind("127.0.0.1:0")?;
    let peer_addr = peer.local_addr()?;
    let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    let mut worker = MediaWorker::new(ctl_rx, ev_tx)?;
    let mut targets = Vec::with_capacity(CALLS);
    let mut senders: Vec<RtpSender> = (0..CALLS)
        .map(|_| RtpSender::new_random(PayloadType::PCMA))
        .collect();

    let rust0 = LIVE.load(Relaxed);
    let c0 = malloc_in_use();
    for (i, (tdm, socket)) in opened.into_iter().enumerate() {
        targets.push(socket.local_addr()?);
        let cfg = ChannelConfig::voice(
            tdm,
            Law::ALaw,
            socket,
            peer_addr,
            Law::ALaw,
            PayloadType::PCMA,
            PayloadType::new(101),
        );
        ctl_tx
            .send(Control::Add(ChannelKey(i as u32 + 1), Box::new(cfg)))
            .map_err(|_| anyhow::anyhow!("media worker gone"))?;
    }
    // Two seconds of media in virtual time: every channel locks its phase, sends and
    // receives 100 packets, its jitter buffer fills.
    let t0 = Instant::now();
    let payload = [0xD5u8; FRAME_SAMPLES];
    let mut buf = [0u8; 200];
    let mut drain = [0u8; 512];
    peer.set_nonblocking(true)?;
    for ms in 1..=2000u64 {
        if ms % 20 == 0 {
            for (s, to) in senders.iter_mut().zip(&targets) {
                let n = s.write_audio(t0, &payload, FRAME_SAMPLES as u32, &mut buf)?;
                peer.send_to(&buf[..n], to)?;
            }
        }
        sim.advance(1)?;
        worker.run_tick(t0 + Duration::from_millis(ms), 1);
        while peer.recv_from(&mut drain).is_ok() {}
    }
    let rust = LIVE.load(Relaxed) - rust0;
    let c = malloc_in_use() - c0;
    let stats = worker.stats().snapshot();
    println!(
        "{} calls bridged, {} packets sent, {} received in 2 s of virtual time; {} events",
        worker.channel_count(),
        stats.packets_sent,
        stats.packets_received,
        ev_rx.try_iter().count()
    );
    println!(
        "Rust heap (counting allocator): {} bytes = {} per call",
        rust,
        rust / CALLS as isize
    );
    println!(
        "malloc heap (mallinfo2, includes spandsp's C state): {} bytes = {} per call",
        c,
        c / CALLS as isize
    );
    let per_call = (rust.max(c) / CALLS as isize).max(0);
    println!("bench memory bytes_per_call={per_call}");
    Ok(())
}
