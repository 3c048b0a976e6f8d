//! The frame check sequence of LAPD (Q.921 §2.7): CRC-16 of ISO/IEC 13239 (CRC-16/X.25),
//! sent low octet first.
//!
//! DAHDI's HDLC channels and the tdm-sim D-channel check and strip it on receive, and hand
//! frames up followed by their 2 FCS octets (fill them with placeholders on transmit). These
//! helpers serve transports and test peers that carry the FCS octets.

use crc::{Crc, CRC_16_IBM_SDLC};

const X25: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// Number of FCS octets at the end of a frame.
pub const FCS_LEN: usize = 2;

/// The FCS of `frame` (address, control, information).
pub fn compute(frame: &[u8]) -> u16 {
    X25.checksum(frame)
}

/// Appends the FCS of the frame already in `buf` (low octet first, Q.921 §2.7).
pub fn append(buf: &mut Vec<u8>) {
    let fcs = compute(buf);
    buf.extend_from_slice(&fcs.to_le_bytes());
}

/// The frame without its trailing FCS if the FCS is right, `None` otherwise (too short or a
/// mismatch: Q.921 §2.9 says such a frame is discarded).
pub fn check(with_fcs: &[u8]) -> Option<&[u8]> {
    let split = with_fcs.len().checked_sub(FCS_LEN)?;
    let (frame, fcs) = with_fcs.split_at(split);
    (u16::from_le_bytes([fcs[0], fcs[1]]) == compute(frame)).then_some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_16_x25_check_value() {
        // The catalogue check value of CRC-16/X.25 over "123456789".
        assert_eq!(compute(b"123456789"), 0x906E);
    }

    #[test]
    fn append_then_check() {
        let mut buf = vec![0x00, 0x01, 0x7F];
        append(&mut buf);
        assert_eq!(buf.len(), 5);
        assert_eq!(check(&buf), Some(&[0x00, 0x01, 0x7F][..]));
        buf[0] ^= 0x04;
        assert_eq!(check(&buf), None);
        assert_eq!(check(&[0x00]), None);
    }
}
