//! Capture files of LAPD frames for Wireshark/tshark: classic pcap with link type
//! `LINKTYPE_LINUX_LAPD` (177), whose 16-octet pseudo-header tells the direction and whether
//! the capturing side is the network, so that the C/R bit (Q.921 §3.3.2) is read correctly.
//! Frames are written without FCS.

use std::io::{self, Write};
use std::time::Duration;

use super::address::Role;

/// `LINKTYPE_LINUX_LAPD` of the tcpdump link-type registry.
pub const LINKTYPE_LINUX_LAPD: u32 = 177;

/// `ARPHRD_LAPD` (the pseudo-header's hardware type).
const ARPHRD_LAPD: u16 = 8445;
/// `ETH_P_LAPD`.
const ETH_P_LAPD: u16 = 0x0030;
/// `PACKET_HOST` and `PACKET_OUTGOING`.
const PACKET_HOST: u16 = 0;
const PACKET_OUTGOING: u16 = 4;

/// Writes LAPD frames seen by one side of a link into a pcap stream.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    capturing_side: Role,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the pcap global header. `capturing_side` is the role of the entity whose sent
    /// and received frames are recorded.
    pub fn new(mut out: W, capturing_side: Role) -> io::Result<PcapWriter<W>> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone, sigfigs: 0.
        header[16..20].copy_from_slice(&65_535u32.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_LINUX_LAPD.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            capturing_side,
        })
    }

    /// Records one frame (no FCS), sent by the capturing side if `outgoing`, received
    /// otherwise, at `timestamp` (since the Unix epoch).
    pub fn write_frame(
        &mut self,
        timestamp: Duration,
        outgoing: bool,
        frame: &[u8],
    ) -> io::Result<()> {
        let len = u32::try_from(frame.len() + 16).unwrap_or(u32::MAX);
        let mut record = [0u8; 16 + 16];
        record[0..4].copy_from_slice(&(timestamp.as_secs() as u32).to_le_bytes());
        record[4..8].copy_from_slice(&timestamp.subsec_micros().to_le_bytes());
        record[8..12].copy_from_slice(&len.to_le_bytes());
        record[12..16].copy_from_slice(&len.to_le_bytes());
        // The pseudo-header, big-endian: packet type, hardware type, address length, address
        // (its first octet is 1 when the capturing side is the network), protocol.
        let packet_type = if outgoing {
            PACKET_OUTGOING
        } else {
            PACKET_HOST
        };
        record[16..18].copy_from_slice(&packet_type.to_be_bytes());
        record[18..20].copy_from_slice(&ARPHRD_LAPD.to_be_bytes());
        record[20..22].copy_from_slice(&1u16.to_be_bytes());
        record[22] = u8::from(self.capturing_side == Role::Network);
        record[30..32].copy_from_slice(&ETH_P_LAPD.to_be_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(frame)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), Role::Network).unwrap();
        w.write_frame(Duration::new(10, 5_000), true, &[0x02, 0x01, 0x7F])
            .unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 16 + 3);
        assert_eq!(&bytes[20..24], &177u32.to_le_bytes());
        assert_eq!(&bytes[24..28], &10u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &5u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &19u32.to_le_bytes());
        assert_eq!(&bytes[40..42], &[0x00, 0x04]);
        assert_eq!(&bytes[42..44], &[0x20, 0xFD]);
        assert_eq!(bytes[46], 1);
        assert_eq!(&bytes[54..56], &[0x00, 0x30]);
        assert_eq!(&bytes[56..], &[0x02, 0x01, 0x7F]);
    }
}
