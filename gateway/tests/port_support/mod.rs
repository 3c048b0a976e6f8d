//! Loopback ports for the daemons and peers the tests start, handed out from a band the
//! kernel never numbers sockets from.
//!
//! A test picks a port, writes it into a configuration or a command line, and the program
//! binds it a moment later. Picking by binding port 0 and letting the socket go returns a
//! port from the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by
//! default), the very range the kernel also draws from for every other unbound socket of
//! the machine — another test's client, a SIPp, a baresip — so on a loaded machine one of
//! those could take the port between the pick and the bind. Ports from 20000 to 32767 are
//! below that range and above the daemon's default RTP range (10000–20000, which daemons
//! started with default settings bind on their own), so only a pick made here can land on
//! one.
//!
//! Test binaries run one after another; within one, tests run in threads that share the
//! counter, so no two picks of a process repeat until it has gone round the band. Each
//! process starts at an offset drawn from its pid, so a binary does not begin on the ports
//! its predecessor's last peers may still hold while they exit. A candidate still in use
//! (both UDP and TCP are tried) is skipped.

#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// First port of the band (just above the daemon's default RTP range).
const LOW: u32 = 20_000;
/// Ports in the band: up to 32767, the port below the kernel's default ephemeral range.
const SPAN: u32 = 32_768 - LOW;

static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);

/// `n` consecutive ports of the band, none of them bound when picked; the first is returned.
pub fn free_port_block(n: u16) -> u16 {
    let n = u32::from(n.max(1));
    assert!(n < SPAN, "a block of {n} ports does not fit the test band");
    for _ in 0..SPAN {
        let first = take(n);
        if first + n > SPAN {
            // The block would run past the band's end: the counter wraps and tries again.
            continue;
        }
        if (first..first + n).all(|p| unbound((LOW + p) as u16)) {
            return (LOW + first) as u16;
        }
    }
    panic!(
        "no {n} free consecutive loopback ports in {LOW}..{}",
        LOW + SPAN
    );
}

/// `[general]` keys giving a test daemon RTP ports of its own: a free block of `ports`
/// from the band. Test daemons run side by side; on the default range two of them may
/// pick the same port, and the second then has no media ("RTP port not bound").
pub fn rtp_port_keys(ports: u16) -> String {
    let rtp = free_port_block(ports);
    format!(
        "rtp_port_min = {rtp}\nrtp_port_max = {}",
        rtp + ports.max(1) - 1
    )
}

/// A UDP port nothing is bound to (nor a TCP listener), for a program to bind next.
pub fn free_udp_port() -> u16 {
    free_port_block(1)
}

/// A TCP port nothing listens on (nor a UDP socket is bound to), for a program to bind next.
pub fn free_tcp_port() -> u16 {
    free_port_block(1)
}

/// The next `n` offsets of the band, starting the counter at a pid-drawn offset.
fn take(n: u32) -> u32 {
    let start = (std::process::id().wrapping_mul(2_654_435_761) >> 8) % SPAN;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    NEXT.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |at| {
        Some(if at + n >= SPAN { 0 } else { at + n })
    })
    .unwrap_or_else(|at| at)
}

fn unbound(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}
