//! TPKT framing (RFC 1006 §6): each H.225.0 call-signalling or H.245 message on TCP is
//! preceded by a 4-octet header `03 00 LL LL`, where `LLLL` is the packet length
//! *including* the header.

use thiserror::Error;

/// TPKT version (RFC 1006 §6: "vrsn 8 bits, This field is always 3").
pub const VERSION: u8 = 3;
/// Header length in octets.
pub const HEADER_LEN: usize = 4;
/// The largest payload one TPKT can carry (length field is 16 bits and counts the header).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - HEADER_LEN;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TpktError {
    #[error("TPKT octet 0: version {0}, expected 3")]
    BadVersion(u8),
    #[error("TPKT octets 2-3: length {0} is shorter than the 4-octet header")]
    BadLength(u16),
    #[error("TPKT payload of {0} octets exceeds {MAX_PAYLOAD}")]
    TooLong(usize),
}

/// Appends one TPKT packet carrying `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), TpktError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(TpktError::TooLong(payload.len()));
    }
    let len = (payload.len() + HEADER_LEN) as u16;
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&[VERSION, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Reassembles TPKT packets from a TCP byte stream, whatever the segmentation.
///
/// Sans-IO: [`handle_bytes`](Self::handle_bytes) with what the socket returned, then
/// [`poll_packet`](Self::poll_packet) until `None`. After an error the stream is out of
/// sync and the connection should be closed (RFC 1006 has no resynchronisation).
#[derive(Debug, Default)]
pub struct TpktDecoder {
    buf: Vec<u8>,
    start: usize,
    failed: Option<TpktError>,
}

impl TpktDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes received from the stream.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete payload (without its header), `Ok(None)` when more bytes
    /// are needed, or the framing error that broke the stream.
    pub fn poll_packet(&mut self) -> Result<Option<Vec<u8>>, TpktError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let avail = &self.buf[self.start..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        if avail[0] != VERSION {
            return Err(self.fail(TpktError::BadVersion(avail[0])));
        }
        let len = u16::from_be_bytes([avail[2], avail[3]]);
        if (len as usize) < HEADER_LEN {
            return Err(self.fail(TpktError::BadLength(len)));
        }
        if avail.len() < len as usize {
            return Ok(None);
        }
        let payload = avail[HEADER_LEN..len as usize].to_vec();
        self.start += len as usize;
        Ok(Some(payload))
    }

    /// Octets received but not yet returned as a packet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    fn fail(&mut self, e: TpktError) -> TpktError {
        tracing::debug!(error = %e, "TPKT stream broken");
        self.failed = Some(e.clone());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_every_split() {
        let mut stream = Vec::new();
        let payloads: Vec<Vec<u8>> = vec![vec![8, 2, 0, 1, 5], vec![], (0..=255u8).collect()];
        for p in &payloads {
            encode(p, &mut stream).unwrap();
        }
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let mut d = TpktDecoder::new();
                let mut got = Vec::new();
                for chunk in [&stream[..a], &stream[a..b], &stream[b..]] {
                    d.handle_bytes(chunk);
                    while let Some(p) = d.poll_packet().unwrap() {
                        got.push(p);
                    }
                }
                assert_eq!(got, payloads, "split at {a},{b}");
                assert_eq!(d.pending(), 0);
            }
        }
    }

    #[test]
    fn header_is_rfc1006() {
        let mut out = Vec::new();
        encode(&[0xAA; 5], &mut out).unwrap();
        assert_eq!(&out[..4], &[3, 0, 0, 9]);
    }

    #[test]
    fn rejects_bad_version_and_length() {
        let mut d = TpktDecoder::new();
        d.handle_bytes(&[2, 0, 0, 4]);
        assert_eq!(d.poll_packet(), Err(TpktError::BadVersion(2)));
        let mut d = TpktDecoder::new();
        d.handle_bytes(&[3, 0, 0, 3]);
        assert_eq!(d.poll_packet(), Err(TpktError::BadLength(3)));
        // stays failed
        d.handle_bytes(&[3, 0, 0, 4]);
        assert!(d.poll_packet().is_err());
    }

    #[test]
    fn too_long_payload_is_refused() {
        let mut out = Vec::new();
        assert!(encode(&vec![0; MAX_PAYLOAD + 1], &mut out).is_err());
        assert!(out.is_empty());
    }
}
