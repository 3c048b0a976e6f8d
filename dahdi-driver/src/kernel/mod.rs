//! The real DAHDI backend: the [`Device`] trait over `/dev/dahdi` and the kernel's
//! ioctls, as `dahdi-base.c` serves them.
//!
//! - Spans: `DAHDI_SPANSTAT` on `/dev/dahdi/ctl`; configuring one is `DAHDI_SPANCONFIG`
//!   then `DAHDI_STARTUP`, as `dahdi_cfg` does.
//! - Channels: `open("/dev/dahdi/channel", O_RDWR|O_NONBLOCK)` then `DAHDI_SPECIFY` with
//!   the global channel number. A channel whose signalling does not suit the mode asked
//!   for (or that is not configured at all, which the kernel refuses to open) is first
//!   given one with `DAHDI_CHANCONFIG` on `ctl`: `DAHDI_SIG_HDLCFCS` for a D-channel,
//!   `DAHDI_SIG_CLEAR` for a B-channel. A `CLEAR` channel asked to carry HDLC is switched
//!   with `DAHDI_HDLCFCSMODE` instead (e.g. a timeslot `system.conf` lists under `bchan=`),
//!   and a clear B-channel is put in plain clear mode (`DAHDI_HDLCRAWMODE` 0: no HDLC,
//!   no audio processing), so audio passes bit-exact.
//! - Buffers: `DAHDI_SET_BUFINFO` (transmit policy immediate) and, for clear channels,
//!   `DAHDI_SET_BLOCKSIZE`; `DAHDI_SETLAW` sets the law.
//! - I/O is non-blocking and poll-driven: `EAGAIN` is [`ChanError::WouldBlock`], `ELAST`
//!   (500) is [`ChanError::EventPending`], `DAHDI_GETEVENT` fetches the event.
//! - The ticker is `/dev/dahdi/timer` ([`KernelTicker`]).
//!
//! The device root is configurable (default `/dev/dahdi`) so that tests and the
//! `LD_PRELOAD` simulator bridge can point it elsewhere.

mod channel;
mod sys;
mod timer;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::{debug, info};

use crate::abi::{
    self, BufPolicy, DahdiBufferinfo, DahdiChanconfig, DahdiLineconfig, DahdiParams, DahdiSpaninfo,
    DahdiVersioninfo, RawLaw, SigType, DAHDI_MAX_BLOCKSIZE, DAHDI_MAX_BUF_SPACE,
    DAHDI_MAX_CHANNELS, DAHDI_MAX_SPANS,
};
use crate::device::{
    ChanError, Channel, ChannelId, ChannelMode, Device, DeviceError, SpanConfig, SpanId,
    SpanStatus, Ticker, Timeslot,
};

pub use channel::{strip_fcs, with_fcs_room, KernelChannel, FCS_LEN};
pub use timer::KernelTicker;

/// Where DAHDI's device nodes live unless told otherwise.
pub const DEFAULT_ROOT: &str = "/dev/dahdi";
/// Environment variable [`KernelDevice::from_env`] reads the device root from.
pub const ROOT_ENV: &str = "DAHDI_DEVICE_ROOT";

/// Receive/transmit buffers of an HDLC channel: room for the longest LAPD frame
/// (Q.921 §5.9.3: N201 = 260 octets of information + address, control and FCS) many
/// times over, as Asterisk's chan_dahdi uses for D-channels.
const HDLC_BUFSIZE: usize = 1024;
const HDLC_NUMBUFS: usize = 16;
/// Clear channels: enough blocks to ride out a late media thread.
const CLEAR_NUMBUFS: usize = 4;
/// Smallest block DAHDI accepts (`DAHDI_SET_BLOCKSIZE`: "cannot be less then 16").
const MIN_BLOCKSIZE: usize = 16;

/// How `open_channel` sets a channel up once it is specified.
enum Plan {
    /// HDLC with FCS; `fcs_mode_ioctl` when the channel is configured `CLEAR` and must
    /// be switched with `DAHDI_HDLCFCSMODE`.
    Hdlc { fcs_mode_ioctl: bool },
    Clear {
        blocksize: usize,
        law: crate::device::Law,
    },
}

/// The real DAHDI device.
#[derive(Debug)]
pub struct KernelDevice {
    root: PathBuf,
    ctl: File,
    /// Channel numbers by span/timeslot, learnt with `DAHDI_GET_PARAMS`.
    channels: Mutex<HashMap<ChannelId, i32>>,
    /// Timing priorities this process configured (DAHDI does not report them back).
    priorities: Mutex<HashMap<SpanId, u8>>,
}

fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> DeviceError {
    move |source| DeviceError::Io { op, source }
}

impl KernelDevice {
    /// Opens the device under `root` (its `ctl` node must exist and answer).
    pub fn open(root: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let root = root.as_ref().to_path_buf();
        let ctl = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(root.join("ctl"))
            .map_err(io_err("open ctl"))?;
        debug!(root = %root.display(), "opened DAHDI control device");
        Ok(KernelDevice {
            root,
            ctl,
            channels: Mutex::new(HashMap::new()),
            priorities: Mutex::new(HashMap::new()),
        })
    }

    /// Opens the device under `$DAHDI_DEVICE_ROOT`, or `/dev/dahdi`.
    pub fn from_env() -> Result<Self, DeviceError> {
        let root = std::env::var_os(ROOT_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        Self::open(root)
    }

    /// The directory holding `ctl`, `channel`, `timer`, `pseudo`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// DAHDI's version and its compiled-in echo cancellers (`DAHDI_GETVERSION`).
    pub fn version(&self) -> Result<(String, String), DeviceError> {
        let mut v = DahdiVersioninfo::default();
        sys::ioctl_struct(self.ctl.as_raw_fd(), abi::DAHDI_GETVERSION, &mut v)
            .map_err(io_err("DAHDI_GETVERSION"))?;
        Ok((
            abi::c_chars_to_string(&v.version),
            abi::c_chars_to_string(&v.echo_canceller),
        ))
    }

    /// Raw `DAHDI_SPANSTAT` of one span.
    pub fn span_info(&self, span: SpanId) -> Result<DahdiSpaninfo, DeviceError> {
        let mut si = DahdiSpaninfo::query(span);
        match sys::ioctl_struct(self.ctl.as_raw_fd(), abi::DAHDI_SPANSTAT, &mut si) {
            Ok(()) => Ok(si),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENXIO)) => {
                Err(DeviceError::NoSuchSpan(span))
            }
            Err(e) => Err(io_err("DAHDI_SPANSTAT")(e)),
        }
    }

    /// Raw `DAHDI_GET_PARAMS` of one channel by its global number.
    pub fn channel_params(&self, channo: i32) -> Result<Option<DahdiParams>, DeviceError> {
        let mut p = DahdiParams::query(channo);
        match sys::ioctl_struct(self.ctl.as_raw_fd(), abi::DAHDI_GET_PARAMS, &mut p) {
            Ok(()) => Ok(Some(p)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENXIO)) => Ok(None),
            Err(e) => Err(io_err("DAHDI_GET_PARAMS")(e)),
        }
    }

    /// DAHDI's global channel number of a span's timeslot. DAHDI numbers channels
    /// across all spans in registration order; the map is learnt from
    /// `DAHDI_GET_PARAMS` (`spanno`, `chanpos`) and refreshed when a channel is missing.
    pub fn channel_number(&self, channel: ChannelId) -> Result<i32, DeviceError> {
        if let Some(&n) = self.lock_channels().get(&channel) {
            return Ok(n);
        }
        self.learn_channels()?;
        self.lock_channels()
            .get(&channel)
            .copied()
            .ok_or(DeviceError::NoSuchChannel(channel))
    }

    fn lock_channels(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelId, i32>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn learn_channels(&self) -> Result<(), DeviceError> {
        let spans = self.spans()?;
        let mut expected = 0usize;
        for span in &spans {
            expected += usize::try_from(self.span_info(*span)?.totalchans).unwrap_or(0);
        }
        let mut map = HashMap::new();
        for channo in 1..=DAHDI_MAX_CHANNELS as i32 {
            if map.len() >= expected {
                break;
            }
            let Some(p) = self.channel_params(channo)? else {
                continue;
            };
            let (Ok(span), Ok(pos)) = (u16::try_from(p.spanno), u8::try_from(p.chanpos)) else {
                continue;
            };
            if span == 0 || pos == 0 {
                continue; // pseudo channels have no span
            }
            let id = ChannelId {
                span: SpanId(span),
                timeslot: Timeslot(pos),
            };
            map.insert(id, p.channel_number());
        }
        debug!(channels = map.len(), "learnt DAHDI channel numbers");
        *self.lock_channels() = map;
        Ok(())
    }

    fn chanconfig(&self, channo: i32, sig: SigType, law: RawLaw) -> Result<(), DeviceError> {
        let mut cc = DahdiChanconfig::new(channo, sig, law);
        sys::ioctl_struct(self.ctl.as_raw_fd(), abi::DAHDI_CHANCONFIG, &mut cc)
            .map_err(io_err("DAHDI_CHANCONFIG"))
    }

    fn open_node(&self, name: &str) -> Result<File, DeviceError> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(self.root.join(name))
            .map_err(|source| DeviceError::Io {
                op: "open channel node",
                source,
            })
    }
}

impl Device for KernelDevice {
    fn spans(&self) -> Result<Vec<SpanId>, DeviceError> {
        // Span numbers need not be contiguous: scan, as dahdi_scan does, until every
        // span the kernel counts (`totalspans`) has been seen.
        let mut spans = Vec::new();
        let mut total = None;
        for n in 1..=DAHDI_MAX_SPANS as u16 {
            match self.span_info(SpanId(n)) {
                Ok(si) => {
                    total.get_or_insert(si.totalspans);
                    spans.push(SpanId(n));
                }
                Err(DeviceError::NoSuchSpan(_)) => {}
                Err(e) => return Err(e),
            }
            if total.is_some_and(|t| spans.len() as i32 >= t) {
                break;
            }
        }
        Ok(spans)
    }

    fn span_status(&self, span: SpanId) -> Result<SpanStatus, DeviceError> {
        let si = self.span_info(span)?;
        let priority = self
            .priorities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&span)
            .copied()
            .unwrap_or(0);
        si.to_status(priority)
            .map_err(|e| DeviceError::InvalidConfig(format!("{span}: {e}")))
    }

    fn configure_span(&self, span: SpanId, config: &SpanConfig) -> Result<(), DeviceError> {
        let si = self.span_info(span)?;
        let kind = abi::span_kind(&abi::c_chars_to_string(&si.spantype), si.totalchans)
            .map_err(|e| DeviceError::InvalidConfig(e.to_string()))?;
        if kind != config.kind {
            return Err(DeviceError::InvalidConfig(format!(
                "{span} is {kind:?}, configuration is for {:?}",
                config.kind
            )));
        }
        let mut lc = DahdiLineconfig::new(span, config)
            .map_err(|e| DeviceError::InvalidConfig(e.to_string()))?;
        let fd = self.ctl.as_raw_fd();
        sys::ioctl_struct(fd, abi::DAHDI_SPANCONFIG, &mut lc)
            .map_err(io_err("DAHDI_SPANCONFIG"))?;
        sys::ioctl_set_int(fd, abi::DAHDI_STARTUP, i32::from(span.0))
            .map_err(io_err("DAHDI_STARTUP"))?;
        self.priorities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(span, config.timing_priority);
        info!(%span, lineconfig = format_args!("0x{:X}", lc.lineconfig), "span configured and started");
        Ok(())
    }

    fn shutdown_span(&self, span: SpanId) -> Result<(), DeviceError> {
        self.span_info(span)?;
        sys::ioctl_set_int(self.ctl.as_raw_fd(), abi::DAHDI_SHUTDOWN, i32::from(span.0))
            .map_err(io_err("DAHDI_SHUTDOWN"))
    }

    fn open_channel(
        &self,
        channel: ChannelId,
        mode: ChannelMode,
    ) -> Result<Box<dyn Channel>, DeviceError> {
        let channo = self.channel_number(channel)?;
        let params = self
            .channel_params(channo)?
            .ok_or(DeviceError::NoSuchChannel(channel))?;
        let sig = params.sig();

        // Give the channel a signalling that suits the mode, before opening: DAHDI
        // refuses to open a channel with none (dahdi_specchan_open: `!chan->sig`).
        let plan = match mode {
            ChannelMode::HdlcFcs => {
                if !sig.is_hdlc_fcs() && sig != SigType::CLEAR {
                    info!(%channel, from = format_args!("0x{:X}", sig.0), "configuring channel as HDLC/FCS");
                    self.chanconfig(channo, SigType::HDLCFCS, RawLaw::Default)?;
                }
                Plan::Hdlc {
                    fcs_mode_ioctl: sig == SigType::CLEAR,
                }
            }
            ChannelMode::Clear { blocksize, law } => {
                if !(MIN_BLOCKSIZE..=DAHDI_MAX_BLOCKSIZE).contains(&blocksize)
                    || blocksize * CLEAR_NUMBUFS > DAHDI_MAX_BUF_SPACE
                {
                    return Err(DeviceError::InvalidConfig(format!(
                        "block size {blocksize} outside {MIN_BLOCKSIZE}..={}",
                        DAHDI_MAX_BUF_SPACE / CLEAR_NUMBUFS
                    )));
                }
                if sig != SigType::CLEAR {
                    info!(%channel, from = format_args!("0x{:X}", sig.0), "configuring channel as clear");
                    self.chanconfig(channo, SigType::CLEAR, law.into())?;
                }
                Plan::Clear { blocksize, law }
            }
        };

        let file = self.open_node("channel")?;
        let fd = file.as_raw_fd();
        match sys::ioctl_set_int(fd, abi::DAHDI_SPECIFY, channo) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(DeviceError::Busy(channel))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(DeviceError::NoSuchChannel(channel))
            }
            Err(e) => return Err(io_err("DAHDI_SPECIFY")(e)),
        }

        let kind = match plan {
            Plan::Hdlc { fcs_mode_ioctl } => {
                if fcs_mode_ioctl {
                    sys::ioctl_set_int(fd, abi::DAHDI_HDLCFCSMODE, 1)
                        .map_err(io_err("DAHDI_HDLCFCSMODE"))?;
                }
                let mut bi = DahdiBufferinfo::new(BufPolicy::Immediate, HDLC_NUMBUFS, HDLC_BUFSIZE);
                sys::ioctl_struct(fd, abi::DAHDI_SET_BUFINFO, &mut bi)
                    .map_err(io_err("DAHDI_SET_BUFINFO"))?;
                channel::Kind::Hdlc {
                    bufsize: HDLC_BUFSIZE,
                }
            }
            Plan::Clear { blocksize, law } => {
                // Plain clear mode: no HDLC, no FCS, no audio processing (gains, echo
                // cancellation, conferencing), so bytes pass untouched.
                sys::ioctl_set_int(fd, abi::DAHDI_HDLCRAWMODE, 0)
                    .map_err(io_err("DAHDI_HDLCRAWMODE"))?;
                sys::ioctl_set_int(fd, abi::DAHDI_SETLAW, RawLaw::from(law).raw())
                    .map_err(io_err("DAHDI_SETLAW"))?;
                let mut bi = DahdiBufferinfo::new(BufPolicy::Immediate, CLEAR_NUMBUFS, blocksize);
                sys::ioctl_struct(fd, abi::DAHDI_SET_BUFINFO, &mut bi)
                    .map_err(io_err("DAHDI_SET_BUFINFO"))?;
                sys::ioctl_set_int(fd, abi::DAHDI_SET_BLOCKSIZE, blocksize as i32)
                    .map_err(io_err("DAHDI_SET_BLOCKSIZE"))?;
                channel::Kind::Clear { blocksize }
            }
        };
        debug!(%channel, channo, ?mode, "channel open");
        Ok(Box::new(KernelChannel::new(channel, channo, file, kind)))
    }

    fn ticker(&self) -> Result<Box<dyn Ticker>, DeviceError> {
        let file = self.open_node("timer")?;
        Ok(Box::new(KernelTicker::new(file)?))
    }
}

/// Maps a channel I/O error the way [`ChanError`] documents, for callers that make
/// their own system calls on a [`Channel::raw_fd`].
pub fn map_channel_errno(err: io::Error) -> ChanError {
    sys::chan_error(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_root_is_an_open_error() {
        let err = KernelDevice::open("/nonexistent/dahdi").unwrap_err();
        match err {
            DeviceError::Io { op, source } => {
                assert_eq!(op, "open ctl");
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_non_dahdi_ctl_fails_its_ioctls_instead_of_inventing_spans() {
        // A root whose `ctl` is an ordinary character device (not DAHDI): every ioctl
        // fails with ENOTTY, which must surface as an error.
        let dir = std::env::temp_dir().join(format!("dahdi-root-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctl = dir.join("ctl");
        let _ = std::fs::remove_file(&ctl);
        std::os::unix::fs::symlink("/dev/null", &ctl).unwrap();
        let dev = KernelDevice::open(&dir).unwrap();
        match dev.spans() {
            Err(DeviceError::Io { op, source }) => {
                assert_eq!(op, "DAHDI_SPANSTAT");
                assert_eq!(source.raw_os_error(), Some(libc::ENOTTY));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(dev.version().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
