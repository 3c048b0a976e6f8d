//! A minimal libpcap file writer for tests, plus LAPD frame builders.
//!
//! Link type 203 (`LINKTYPE_LAPD`): raw Q.921 frames starting with the address field, no
//! pseudo-header and no FCS. tshark decodes it as LAPD and hands SAPI 0 to Q.931.
//! Include it from a test with `#[path = "common/pcap.rs"] mod pcap;`.
#![allow(dead_code)]

use std::path::Path;

/// `LINKTYPE_LAPD`: Q.921 frames from the address field on, without FCS.
pub const LINKTYPE_LAPD: u32 = 203;

/// Builds a classic (microsecond) pcap file in memory.
pub struct PcapWriter {
    buf: Vec<u8>,
    packets: u32,
}

impl PcapWriter {
    /// A file with the given link type.
    pub fn new(linktype: u32) -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes()); // magic, microsecond stamps
        buf.extend_from_slice(&2u16.to_le_bytes()); // version major
        buf.extend_from_slice(&4u16.to_le_bytes()); // version minor
        buf.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        buf.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        buf.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
        buf.extend_from_slice(&linktype.to_le_bytes());
        PcapWriter { buf, packets: 0 }
    }

    /// Appends one packet stamped `micros` microseconds after the epoch.
    pub fn packet(&mut self, micros: u64, data: &[u8]) {
        let len = data.len() as u32;
        self.buf
            .extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(data);
        self.packets += 1;
    }

    /// Number of packets written.
    pub fn len(&self) -> u32 {
        self.packets
    }

    /// The file contents.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Writes the file.
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.buf)
    }
}

/// A Q.921 I-frame (Q.921 §3.2, modulo 128): address (SAPI, C/R, TEI), control N(S), N(R),
/// P, then the layer 3 payload.
pub fn lapd_i_frame(
    sapi: u8,
    command: bool,
    tei: u8,
    ns: u8,
    nr: u8,
    poll: bool,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 4);
    f.push((sapi & 0x3F) << 2 | if command { 0x02 } else { 0 });
    f.push((tei & 0x7F) << 1 | 0x01);
    f.push((ns & 0x7F) << 1);
    f.push((nr & 0x7F) << 1 | u8::from(poll));
    f.extend_from_slice(payload);
    f
}

/// A unique path in the temporary directory for a test artefact.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("{name}-{}-{nanos}.pcap", std::process::id()))
}
