//! An open DAHDI channel (`/dev/dahdi/channel` after `DAHDI_SPECIFY`).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::abi::{self, FlushFlags, RawLaw};
use crate::device::{ChanError, Channel, ChannelId, Event, Law};

use super::sys;

/// Bytes of FCS DAHDI appends to each HDLC frame it hands to `read()` and expects (as
/// reserved octets it overwrites) at the end of each frame given to `write()`
/// (`dahdi-base.c`: `calc_fcs` on write; the receive path copies the FCS octets too).
/// Q.921 §2.7: the FCS is 16 bits.
pub const FCS_LEN: usize = 2;

/// What one `read()` of an HDLC channel returned, once the trailing FCS is taken off.
pub fn strip_fcs(raw: &[u8]) -> Result<&[u8], ChanError> {
    if raw.len() < FCS_LEN {
        return Err(ChanError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "HDLC read of {} bytes is shorter than its {FCS_LEN}-byte FCS",
                raw.len()
            ),
        )));
    }
    Ok(&raw[..raw.len() - FCS_LEN])
}

/// Builds the buffer one `write()` of an HDLC channel takes: the frame followed by two
/// reserved octets where DAHDI puts the computed FCS.
pub fn with_fcs_room(frame: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(frame);
    out.extend_from_slice(&[0; FCS_LEN]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Clear channel moving blocks of `blocksize` bytes.
    Clear { blocksize: usize },
    /// HDLC with FCS; `bufsize` bounds one frame including its FCS.
    Hdlc { bufsize: usize },
}

/// A channel of the real DAHDI device.
///
/// A clear channel's `read` returns one block (`dahdi_chan_read` hands out one buffer per
/// call and drops what does not fit): pass a buffer of at least the block size.
#[derive(Debug)]
pub struct KernelChannel {
    id: ChannelId,
    channo: i32,
    file: File,
    kind: Kind,
    /// Reused for HDLC reads (frame + FCS) and writes (frame + room for the FCS).
    scratch: Vec<u8>,
}

impl KernelChannel {
    pub(crate) fn new(id: ChannelId, channo: i32, file: File, kind: Kind) -> Self {
        let scratch = match kind {
            Kind::Hdlc { bufsize } => Vec::with_capacity(bufsize),
            Kind::Clear { .. } => Vec::new(),
        };
        KernelChannel {
            id,
            channo,
            file,
            kind,
            scratch,
        }
    }

    /// DAHDI's global channel number of this channel.
    pub fn channel_number(&self) -> i32 {
        self.channo
    }

    /// The largest frame (without FCS) `write` accepts on an HDLC channel, or the block
    /// size of a clear channel.
    pub fn max_unit(&self) -> usize {
        match self.kind {
            Kind::Clear { blocksize } => blocksize,
            Kind::Hdlc { bufsize } => bufsize - FCS_LEN,
        }
    }
}

impl Channel for KernelChannel {
    fn id(&self) -> ChannelId {
        self.id
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChanError> {
        let fd = self.file.as_raw_fd();
        match self.kind {
            // dahdi_chan_read: one block per read, at most `buf.len()` of it.
            Kind::Clear { .. } => sys::read(fd, buf).map_err(sys::chan_error),
            Kind::Hdlc { bufsize } => {
                self.scratch.resize(bufsize, 0);
                let n = sys::read(fd, &mut self.scratch).map_err(sys::chan_error)?;
                let frame = strip_fcs(&self.scratch[..n])?;
                if frame.len() > buf.len() {
                    // The frame is consumed; report it rather than hand out a prefix.
                    return Err(ChanError::TooLarge(frame.len()));
                }
                buf[..frame.len()].copy_from_slice(frame);
                Ok(frame.len())
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError> {
        let fd = self.file.as_raw_fd();
        match self.kind {
            // dahdi_chan_write takes at most one block per call.
            Kind::Clear { .. } => sys::write(fd, buf).map_err(sys::chan_error),
            Kind::Hdlc { bufsize } => {
                // DAHDI truncates a write to the buffer size silently: refuse instead.
                if buf.len() + FCS_LEN > bufsize {
                    return Err(ChanError::TooLarge(buf.len()));
                }
                let mut out = std::mem::take(&mut self.scratch);
                with_fcs_room(buf, &mut out);
                let res = sys::write(fd, &out);
                self.scratch = out;
                let n = res.map_err(sys::chan_error)?;
                if n != buf.len() + FCS_LEN {
                    return Err(ChanError::Io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short HDLC write: {n} of {} bytes", buf.len() + FCS_LEN),
                    )));
                }
                Ok(buf.len())
            }
        }
    }

    fn get_event(&mut self) -> Result<Option<Event>, ChanError> {
        let raw = sys::ioctl_get_int(self.file.as_raw_fd(), abi::DAHDI_GETEVENT)
            .map_err(ChanError::Io)?;
        Ok(abi::event_from_raw(raw))
    }

    fn set_law(&mut self, law: Law) -> Result<(), ChanError> {
        if let Kind::Hdlc { .. } = self.kind {
            return Err(ChanError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the companding law applies to clear channels only",
            )));
        }
        sys::ioctl_set_int(
            self.file.as_raw_fd(),
            abi::DAHDI_SETLAW,
            RawLaw::from(law).raw(),
        )
        .map_err(ChanError::Io)
    }

    fn flush(&mut self) -> Result<(), ChanError> {
        sys::ioctl_set_int(
            self.file.as_raw_fd(),
            abi::DAHDI_FLUSH,
            FlushFlags::BOTH.bits() as i32,
        )
        .map_err(ChanError::Io)
    }

    fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_is_stripped() {
        assert_eq!(strip_fcs(&[1, 2, 3, 0xAA, 0xBB]).unwrap(), &[1, 2, 3]);
        assert_eq!(strip_fcs(&[0xAA, 0xBB]).unwrap(), &[] as &[u8]);
        assert!(matches!(strip_fcs(&[0xAA]), Err(ChanError::Io(_))));
        assert!(matches!(strip_fcs(&[]), Err(ChanError::Io(_))));
    }

    #[test]
    fn fcs_room_is_appended() {
        let mut out = vec![9, 9, 9, 9, 9, 9];
        with_fcs_room(&[0x7E, 0x7D, 0xFF], &mut out);
        assert_eq!(out, [0x7E, 0x7D, 0xFF, 0, 0]);
    }

    /// A socket pair stands in for the DAHDI fd: what the channel writes, and how it
    /// parses what it reads, are checked byte for byte.
    fn pair(kind: Kind) -> (KernelChannel, std::os::unix::net::UnixDatagram) {
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let fd: std::os::fd::OwnedFd = a.into();
        let id = ChannelId {
            span: crate::SpanId(1),
            timeslot: crate::Timeslot(16),
        };
        (KernelChannel::new(id, 16, File::from(fd), kind), b)
    }

    #[test]
    fn hdlc_channel_frames_on_the_fd() {
        let (mut ch, peer) = pair(Kind::Hdlc { bufsize: 64 });
        // Write: frame + 2 reserved FCS octets go to the fd, the frame length comes back.
        assert_eq!(ch.write(&[0x02, 0x01, 0x7F]).unwrap(), 3);
        let mut got = [0u8; 64];
        let n = peer.recv(&mut got).unwrap();
        assert_eq!(&got[..n], &[0x02, 0x01, 0x7F, 0, 0]);
        // Too large for the buffer: refused, nothing written.
        assert!(matches!(ch.write(&[0u8; 63]), Err(ChanError::TooLarge(63))));
        // Read: the 2 FCS octets are stripped.
        peer.send(&[0x00, 0x01, 0x7F, 0x12, 0x34]).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(ch.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], &[0x00, 0x01, 0x7F]);
        // Nothing more: WouldBlock.
        assert!(matches!(ch.read(&mut buf), Err(ChanError::WouldBlock)));
        // A frame larger than the caller's buffer is reported, not truncated.
        peer.send(&[1, 2, 3, 4, 5, 6, 0, 0]).unwrap();
        let mut small = [0u8; 4];
        assert!(matches!(ch.read(&mut small), Err(ChanError::TooLarge(6))));
        assert_eq!(ch.max_unit(), 62);
    }

    #[test]
    fn clear_channel_passes_blocks_unchanged() {
        let (mut ch, peer) = pair(Kind::Clear { blocksize: 160 });
        let block: Vec<u8> = (0..160u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(ch.write(&block).unwrap(), 160);
        let mut got = [0u8; 200];
        let n = peer.recv(&mut got).unwrap();
        assert_eq!(&got[..n], &block[..]);
        peer.send(&block).unwrap();
        let mut buf = [0u8; 160];
        assert_eq!(ch.read(&mut buf).unwrap(), 160);
        assert_eq!(buf.to_vec(), block);
        // GETEVENT on a socket is not a DAHDI fd: an I/O error, not a fake "no event".
        assert!(matches!(ch.get_event(), Err(ChanError::Io(_))));
    }
}
