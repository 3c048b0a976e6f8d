//! One open file under `/dev/dahdi`: its requests served with DAHDI's semantics
//! (`dahdi-base.c`: `dahdi_ctl_ioctl`, `dahdi_chan_ioctl`, `dahdi_common_ioctl`,
//! `dahdi_chan_read`, `dahdi_chan_write`, the timer ioctls).

use std::mem::size_of;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dahdi_driver::abi::{
    self, string_to_c_chars, DahdiAttachEchocan, DahdiBufferinfo, DahdiChanconfig, DahdiLineconfig,
    DahdiParams, DahdiSpaninfo, DahdiToneDefHeader, DahdiVersioninfo, SigType,
    DAHDI_GET_PARAMS_RETURN_MASTER, DAHDI_LAW_ALAW, DAHDI_LAW_DEFAULT, DAHDI_LAW_MULAW,
    DAHDI_MAX_BLOCKSIZE, DAHDI_MAX_BUF_SPACE, DAHDI_MAX_NUM_BUFS, DAHDI_TONE_ZONE_MAX, ELAST,
};
use dahdi_driver::kernel::FCS_LEN;
use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, DeviceError, Law, Ticker, Timeslot,
};

use crate::pacer::{Paced, Pseudo, Timer};
use crate::registry::{Registry, ECHOCANS};
use crate::Daemon;

/// `DAHDI_LAW_*` as a law.
fn law_of(raw: i32) -> Law {
    if raw == DAHDI_LAW_MULAW {
        Law::MuLaw
    } else {
        Law::ALaw
    }
}

/// Errors are errno values, as the kernel returns them.
type Errno = i32;

/// What happened to a request: a value (and payload), and possibly a new readiness
/// descriptor for the program.
pub struct Outcome {
    pub result: i64,
    pub payload: Vec<u8>,
    pub fds: Vec<RawFd>,
}

impl Outcome {
    fn ok(result: i64) -> Self {
        Outcome {
            result,
            payload: Vec::new(),
            fds: Vec::new(),
        }
    }
    fn err(errno: Errno) -> Self {
        Outcome {
            result: -i64::from(errno),
            payload: Vec::new(),
            fds: Vec::new(),
        }
    }
}

fn struct_bytes<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: `T` is a plain `#[repr(C)]` ABI struct; its bytes are what the kernel copies.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn from_bytes<T: Copy + Default>(b: &[u8]) -> Result<T, Errno> {
    if b.len() < size_of::<T>() {
        return Err(libc::EFAULT);
    }
    let mut v = T::default();
    // SAFETY: copying `size_of::<T>()` bytes into a plain `#[repr(C)]` struct, for which
    // every bit pattern is valid (integers and char arrays only).
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), (&mut v as *mut T).cast::<u8>(), size_of::<T>())
    };
    Ok(v)
}

fn int_arg(b: &[u8]) -> Result<i32, Errno> {
    Ok(i32::from_le_bytes(
        b.get(..4)
            .ok_or(libc::EFAULT)?
            .try_into()
            .map_err(|_| libc::EFAULT)?,
    ))
}

fn dev_errno(e: &DeviceError) -> Errno {
    match e {
        DeviceError::NoSuchSpan(_) | DeviceError::NoSuchChannel(_) => libc::ENXIO,
        DeviceError::Busy(_) => libc::EBUSY,
        DeviceError::InvalidConfig(_) => libc::EINVAL,
        DeviceError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
    }
}

fn chan_errno(e: &ChanError) -> Errno {
    match e {
        ChanError::WouldBlock => libc::EAGAIN,
        ChanError::EventPending => ELAST,
        ChanError::TooLarge(_) => libc::EINVAL,
        ChanError::Io(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
    }
}

/// An open span channel.
struct SpanChan {
    channo: i32,
    dahdi_span: i32,
    ch: Box<dyn Channel>,
    hdlc: bool,
    /// Clear channels: the block size; HDLC: the buffer size (largest frame + FCS).
    blocksize: usize,
    numbufs: usize,
    txpolicy: i32,
    rxpolicy: i32,
    law: i32,
}

enum Node {
    Ctl,
    /// `/dev/dahdi/channel` before `DAHDI_SPECIFY`.
    Unspecified,
    Chan(Box<SpanChan>),
    Pseudo(Arc<Mutex<Pseudo>>),
    Timer(Arc<Mutex<Timer>>),
}

/// One connection's file.
pub struct File {
    d: Arc<Daemon>,
    node: Node,
    ticker: Option<Box<dyn Ticker>>,
    conn: RawFd,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Largest HDLC frame read at once from the simulator.
const HDLC_READ_MAX: usize = 4096;

impl File {
    /// Opens a node; the outcome carries the readiness descriptor for pseudo and timer.
    pub fn open(
        d: Arc<Daemon>,
        node: crate::proto::Node,
        conn: RawFd,
    ) -> Result<(File, Outcome), Errno> {
        use crate::proto::Node as N;
        let now = d.sim.now_chunks();
        let (node, fds) = match node {
            N::Ctl => (Node::Ctl, vec![]),
            N::Channel => (Node::Unspecified, vec![]),
            N::Pseudo => {
                let p = Arc::new(Mutex::new(Pseudo::new(now).map_err(|_| libc::ENOMEM)?));
                let fd = lock(&p).notifier.reader_fd();
                d.pacer.add(Paced::Pseudo(Arc::downgrade(&p)));
                (Node::Pseudo(p), vec![fd])
            }
            N::Timer => {
                let t = Arc::new(Mutex::new(Timer::new(now).map_err(|_| libc::ENOMEM)?));
                let fds = {
                    let g = lock(&t);
                    vec![g.notifier.reader_fd(), g.page_fd()]
                };
                d.pacer.add(Paced::Timer(Arc::downgrade(&t)));
                (Node::Timer(t), fds)
            }
        };
        let mut o = Outcome::ok(0);
        o.fds = fds;
        Ok((
            File {
                d,
                node,
                ticker: None,
                conn,
            },
            o,
        ))
    }

    fn reg(&self) -> MutexGuard<'_, Registry> {
        lock(&self.d.reg)
    }

    /// Waits one chunk for a blocking read or write; `false` when the program went away.
    fn wait_tick(&mut self) -> bool {
        if self.ticker.is_none() {
            match self.d.near.ticker() {
                Ok(t) => self.ticker = Some(t),
                Err(_) => return false,
            }
        }
        if let Some(t) = &mut self.ticker {
            if t.wait(Duration::from_millis(20)).is_err() {
                return false;
            }
        }
        let mut p = libc::pollfd {
            fd: self.conn,
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) };
        p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) == 0
    }

    pub fn read(&mut self, len: usize, blocking: bool) -> Outcome {
        if len == 0 {
            return Outcome::err(libc::EINVAL);
        }
        loop {
            let r = match &mut self.node {
                Node::Chan(c) => {
                    if c.hdlc {
                        let mut buf = vec![0u8; HDLC_READ_MAX];
                        c.ch.read(&mut buf).map(|n| {
                            buf.truncate(n);
                            // The 2 FCS octets follow the frame, as DAHDI hands them
                            // over (Q.921 §2.7: CRC-16 sent low octet first).
                            let fcs = crate::FCS.checksum(&buf);
                            buf.extend_from_slice(&fcs.to_le_bytes());
                            buf.truncate(len);
                            buf
                        })
                    } else {
                        let mut buf = vec![0u8; len.min(c.blocksize)];
                        c.ch.read(&mut buf).map(|n| {
                            buf.truncate(n);
                            buf
                        })
                    }
                }
                Node::Pseudo(p) => {
                    let now = self.d.sim.now_chunks();
                    lock(p).read(now, len).ok_or(ChanError::WouldBlock)
                }
                _ => return Outcome::err(libc::EINVAL),
            };
            match r {
                Ok(data) => {
                    let mut o = Outcome::ok(data.len() as i64);
                    o.payload = data;
                    return o;
                }
                Err(ChanError::WouldBlock) if blocking => {
                    if !self.wait_tick() {
                        return Outcome::err(libc::EINTR);
                    }
                }
                Err(e) => return Outcome::err(chan_errno(&e)),
            }
        }
    }

    pub fn write(&mut self, data: &[u8], blocking: bool) -> Outcome {
        if data.is_empty() {
            return Outcome::err(libc::EINVAL);
        }
        loop {
            let r = match &mut self.node {
                Node::Chan(c) => {
                    let amnt = data.len().min(c.blocksize);
                    if c.hdlc {
                        // The last 2 octets are room for the FCS the sender computes.
                        if amnt <= FCS_LEN {
                            return Outcome::err(libc::EINVAL);
                        }
                        c.ch.write(&data[..amnt - FCS_LEN]).map(|_| amnt)
                    } else {
                        c.ch.write(&data[..amnt])
                    }
                }
                Node::Pseudo(p) => {
                    // No conference: what is sent is consumed and goes nowhere.
                    Ok(data.len().min(lock(p).blocksize))
                }
                _ => return Outcome::err(libc::EINVAL),
            };
            match r {
                Ok(n) => return Outcome::ok(n as i64),
                Err(ChanError::WouldBlock) if blocking => {
                    if !self.wait_tick() {
                        return Outcome::err(libc::EINTR);
                    }
                }
                Err(e) => return Outcome::err(chan_errno(&e)),
            }
        }
    }

    pub fn ioctl(&mut self, req: u32, arg: &[u8]) -> Outcome {
        match self.ioctl_inner(req, arg) {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(
                    request = format_args!("0x{req:08X}"),
                    name = abi::name_of(req).unwrap_or("?"),
                    errno = e,
                    "ioctl failed"
                );
                Outcome::err(e)
            }
        }
    }

    fn ioctl_inner(&mut self, req: u32, arg: &[u8]) -> Result<Outcome, Errno> {
        // Requests any DAHDI file answers (`dahdi_common_ioctl`).
        if req == abi::DAHDI_GET_PARAMS.0 {
            let p: DahdiParams = from_bytes(arg)?;
            return self.get_params(p).map(payload);
        }
        if req == abi::DAHDI_SPANSTAT.0 {
            let si: DahdiSpaninfo = from_bytes(arg)?;
            let spanno = { si.spanno };
            return self.spanstat(spanno).map(payload);
        }
        match &self.node {
            Node::Ctl => self.ctl_ioctl(req, arg),
            Node::Unspecified => {
                if req == abi::DAHDI_SPECIFY.0 {
                    self.specify(int_arg(arg)?)
                } else {
                    Err(libc::EINVAL)
                }
            }
            Node::Chan(_) => self.chan_ioctl(req, arg),
            Node::Pseudo(_) => self.pseudo_ioctl(req, arg),
            Node::Timer(_) => self.timer_ioctl(req, arg),
        }
    }

    fn get_params(&self, p: DahdiParams) -> Result<DahdiParams, Errno> {
        let return_master = p.channo & DAHDI_GET_PARAMS_RETURN_MASTER != 0;
        let channo = match &self.node {
            Node::Chan(c) => c.channo,
            _ => p.channo & !DAHDI_GET_PARAMS_RETURN_MASTER,
        };
        let reg = self.reg();
        let c = reg.chan(channo).ok_or(libc::EINVAL)?.clone();
        let s = reg.span(c.span).ok_or(libc::EINVAL)?.clone();
        drop(reg);
        let alarms = self
            .d
            .device(s.end)
            .span_status(s.sim_span)
            .map(|st| st.alarms.bits())
            .unwrap_or(0);
        let mut p = DahdiParams {
            // A channel is its own master unless slaved.
            channo: if return_master {
                channo | (channo << 16)
            } else {
                channo
            },
            spanno: c.span,
            chanpos: i32::from(c.pos),
            sigtype: c.sig.raw(),
            sigcap: (SigType::CLEAR.0 | SigType::HDLCFCS.0 | SigType::HARDHDLC.0) as i32,
            rxbits: -1,
            txbits: -1,
            rxhooksig: -1,
            txhooksig: -1,
            curlaw: c.law,
            chan_alarms: alarms,
            ..Default::default()
        };
        string_to_c_chars(&format!("{}/{}", s.name(), c.pos), &mut p.name);
        Ok(p)
    }

    fn spanstat(&self, spanno: i32) -> Result<DahdiSpaninfo, Errno> {
        let d = if spanno == 0 {
            match &self.node {
                Node::Chan(c) => c.dahdi_span,
                _ => return Err(libc::EINVAL),
            }
        } else {
            spanno
        };
        let reg = self.reg();
        let s = reg.span(d).ok_or(libc::EINVAL)?.clone();
        let numchans = reg.configured_channels(d);
        let totalspans = reg.spans.len() as i32;
        let dev = self.d.device(s.end);
        let st = dev.span_status(s.sim_span).map_err(|e| dev_errno(&e))?;
        let syncsrc = dev
            .sync_source()
            .and_then(|sp| reg.dahdi_span(s.end, sp))
            .unwrap_or(0);
        drop(reg);
        let mut si = DahdiSpaninfo {
            spanno: d,
            alarms: st.alarms.bits() as i32,
            bpvcount: st.bpv_count as i32,
            crc4count: st.crc4_count as i32,
            fascount: st.fas_count as i32,
            syncsrc,
            numchans,
            totalchans: i32::from(s.kind.channels()),
            totalspans,
            lbo: s.lbo,
            lineconfig: s.lineconfig,
            linecompat: s.linecompat(),
            ..Default::default()
        };
        string_to_c_chars(&s.name(), &mut si.name);
        string_to_c_chars(&s.description(), &mut si.desc);
        string_to_c_chars(
            if s.lbo == 0 {
                "0 db (CSU)/0-133 feet (DSX-1)"
            } else {
                "line build-out set"
            },
            &mut si.lboname,
        );
        string_to_c_chars(&format!("tdm-sim cable {}", s.sim_span.0), &mut si.location);
        string_to_c_chars("tdm-sim", &mut si.manufacturer);
        string_to_c_chars(
            &format!("tdm-sim {:?} ({} end)", s.kind, s.end.name()),
            &mut si.devicetype,
        );
        string_to_c_chars(&format!("{:?}", s.kind), &mut si.spantype);
        Ok(si)
    }

    fn ctl_ioctl(&mut self, req: u32, arg: &[u8]) -> Result<Outcome, Errno> {
        let d = self.d.clone();
        if req == abi::DAHDI_SPANCONFIG.0 {
            let lc: DahdiLineconfig = from_bytes(arg)?;
            let mut reg = self.reg();
            let s = reg.span_mut(lc.span).ok_or(libc::EINVAL)?;
            if !(0..=7).contains(&lc.lbo) || !(0..=255).contains(&lc.sync) {
                return Err(libc::EINVAL);
            }
            s.lineconfig = lc.lineconfig;
            s.lbo = lc.lbo;
            s.sync = lc.sync;
            // A running span takes the new line configuration at once, as a card does.
            if s.running {
                let cfg = s.sim_config().ok_or(libc::EINVAL)?;
                let (end, sp) = (s.end, s.sim_span);
                drop(reg);
                d.device(end)
                    .configure_span(sp, &cfg)
                    .map_err(|e| dev_errno(&e))?;
            }
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_STARTUP.0 {
            let n = int_arg(arg)?;
            let mut reg = self.reg();
            let s = reg.span_mut(n).ok_or(libc::EINVAL)?;
            let cfg = s.sim_config().ok_or(libc::EINVAL)?;
            s.running = true;
            let (end, sp) = (s.end, s.sim_span);
            drop(reg);
            d.device(end)
                .configure_span(sp, &cfg)
                .map_err(|e| dev_errno(&e))?;
            tracing::info!(span = n, ?cfg, "span started");
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_SHUTDOWN.0 {
            let n = int_arg(arg)?;
            let mut reg = self.reg();
            let s = reg.span_mut(n).ok_or(libc::EINVAL)?;
            s.running = false;
            let (end, sp) = (s.end, s.sim_span);
            drop(reg);
            d.device(end).shutdown_span(sp).map_err(|e| dev_errno(&e))?;
            tracing::info!(span = n, "span shut down");
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_CHANCONFIG.0 {
            let cc: DahdiChanconfig = from_bytes(arg)?;
            let sig = SigType::from_raw(cc.sigtype);
            // A digital span's channels can be clear or HDLC with FCS (hardware HDLC
            // is the same on the simulated line); nothing analog, no raw HDLC.
            let supported = [
                SigType::NONE,
                SigType::CLEAR,
                SigType::HDLCFCS,
                SigType::HARDHDLC,
            ];
            if !supported.contains(&sig) {
                return Err(libc::EINVAL);
            }
            let mut reg = self.reg();
            let span = reg.chan(cc.chan).ok_or(libc::ENXIO)?.span;
            let deflaw = match cc.deflaw {
                DAHDI_LAW_DEFAULT => reg.span(span).ok_or(libc::ENXIO)?.default_law(),
                DAHDI_LAW_MULAW | DAHDI_LAW_ALAW => cc.deflaw,
                _ => return Err(libc::EINVAL),
            };
            let c = reg.chan_mut(cc.chan).ok_or(libc::ENXIO)?;
            c.sig = sig;
            c.law = deflaw;
            if sig == SigType::NONE {
                c.echocan.clear();
            }
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_ATTACH_ECHOCAN.0 {
            let ae: DahdiAttachEchocan = from_bytes(arg)?;
            let name = abi::c_chars_to_string(&ae.echocan).to_ascii_uppercase();
            if !name.is_empty() && !ECHOCANS.contains(&name.as_str()) {
                return Err(libc::EINVAL);
            }
            let mut reg = self.reg();
            let c = reg.chan_mut(ae.chan).ok_or(libc::EINVAL)?;
            c.echocan = name;
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_LOADZONE.0 {
            let th: DahdiToneDefHeader = from_bytes(arg)?;
            if !(0..DAHDI_TONE_ZONE_MAX).contains(&th.zone) || th.count < 0 {
                return Err(libc::EINVAL);
            }
            let name = abi::c_chars_to_string(&th.name);
            self.reg().zones.insert(th.zone, name);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_DEFAULTZONE.0 {
            let z = int_arg(arg)?;
            let mut reg = self.reg();
            if !reg.zones.contains_key(&z) {
                return Err(libc::EINVAL);
            }
            reg.default_zone = Some(z);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_FREEZONE.0 {
            let z = int_arg(arg)?;
            if !(0..DAHDI_TONE_ZONE_MAX).contains(&z) {
                return Err(libc::EINVAL);
            }
            // Freeing a zone never loaded is fine (libtonezone frees before loading).
            let mut reg = self.reg();
            reg.zones.remove(&z);
            if reg.default_zone == Some(z) {
                reg.default_zone = None;
            }
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_GETVERSION.0 {
            let mut v = DahdiVersioninfo::default();
            string_to_c_chars(
                concat!("tdm-sim ", env!("CARGO_PKG_VERSION")),
                &mut v.version,
            );
            string_to_c_chars(&ECHOCANS.join(" "), &mut v.echo_canceller);
            return Ok(payload(v));
        }
        Err(libc::ENOTTY)
    }

    fn specify(&mut self, channo: i32) -> Result<Outcome, Errno> {
        let mut reg = self.reg();
        let c = reg.chan(channo).ok_or(libc::ENXIO)?.clone();
        if c.sig == SigType::NONE {
            return Err(libc::ENXIO);
        }
        if c.open {
            return Err(libc::EBUSY);
        }
        let s = reg.span(c.span).ok_or(libc::ENXIO)?.clone();
        let hdlc = c.sig.is_hdlc_fcs() || c.sig == SigType::HARDHDLC;
        let mode = if hdlc {
            ChannelMode::HdlcFcs
        } else {
            ChannelMode::Clear {
                blocksize: abi::DAHDI_DEFAULT_BLOCKSIZE,
                law: law_of(c.law),
            }
        };
        let id = ChannelId {
            span: s.sim_span,
            timeslot: Timeslot(c.pos),
        };
        let ch = self
            .d
            .device(s.end)
            .open_channel(id, mode)
            .map_err(|e| dev_errno(&e))?;
        if let Some(e) = reg.chan_mut(channo) {
            e.open = true;
        }
        drop(reg);
        let fd = ch.raw_fd();
        self.node = Node::Chan(Box::new(SpanChan {
            channo,
            dahdi_span: c.span,
            ch,
            hdlc,
            blocksize: abi::DAHDI_DEFAULT_BLOCKSIZE,
            numbufs: abi::DAHDI_DEFAULT_NUM_BUFS,
            txpolicy: abi::DAHDI_POLICY_IMMEDIATE,
            rxpolicy: abi::DAHDI_POLICY_IMMEDIATE,
            law: c.law,
        }));
        let mut o = Outcome::ok(0);
        o.fds.extend((fd >= 0).then_some(fd));
        Ok(o)
    }

    /// Reopens the simulator channel in another mode (DAHDI reallocates the buffers,
    /// which empties them); the program gets the new readiness descriptor.
    fn reopen(&mut self, hdlc: bool, blocksize: usize) -> Result<Outcome, Errno> {
        let Node::Chan(c) = &mut self.node else {
            return Err(libc::EINVAL);
        };
        let (end, sim_span, pos) = {
            let reg = lock(&self.d.reg);
            let e = reg.chan(c.channo).ok_or(libc::ENXIO)?;
            let s = reg.span(e.span).ok_or(libc::ENXIO)?;
            (s.end, s.sim_span, e.pos)
        };
        let id = ChannelId {
            span: sim_span,
            timeslot: Timeslot(pos),
        };
        let mode = if hdlc {
            ChannelMode::HdlcFcs
        } else {
            ChannelMode::Clear {
                blocksize,
                law: law_of(c.law),
            }
        };
        let dev = self.d.device(end);
        // Close first: the timeslot is free again for the new mode.
        let old = std::mem::replace(&mut c.ch, Box::new(Closed(id)));
        drop(old);
        match dev.open_channel(id, mode) {
            Ok(ch) => {
                let fd = ch.raw_fd();
                c.ch = ch;
                c.hdlc = hdlc;
                c.blocksize = blocksize;
                let mut o = Outcome::ok(0);
                o.fds.extend((fd >= 0).then_some(fd));
                Ok(o)
            }
            Err(e) => Err(dev_errno(&e)),
        }
    }

    fn chan_ioctl(&mut self, req: u32, arg: &[u8]) -> Result<Outcome, Errno> {
        let Node::Chan(c) = &mut self.node else {
            return Err(libc::EINVAL);
        };
        if req == abi::DAHDI_GETEVENT.0 {
            let ev = c.ch.get_event().map_err(|e| chan_errno(&e))?;
            return Ok(payload(ev.map(|e| e.code() as i32).unwrap_or(0)));
        }
        if req == abi::DAHDI_CHANNO.0 {
            return Ok(payload(c.channo));
        }
        if req == abi::DAHDI_GET_BLOCKSIZE.0 {
            return Ok(payload(c.blocksize as i32));
        }
        if req == abi::DAHDI_SET_BLOCKSIZE.0 {
            let bs = usize::try_from(int_arg(arg)?).map_err(|_| libc::EINVAL)?;
            if !(16..=DAHDI_MAX_BLOCKSIZE).contains(&bs) {
                return Err(libc::EINVAL);
            }
            if c.hdlc {
                c.blocksize = bs;
                return Ok(Outcome::ok(0));
            }
            return self.reopen(false, bs);
        }
        if req == abi::DAHDI_SET_BUFINFO.0 {
            let bi: DahdiBufferinfo = from_bytes(arg)?;
            let numbufs = usize::try_from(bi.numbufs).map_err(|_| libc::EINVAL)?;
            let bufsize = usize::try_from(bi.bufsize).map_err(|_| libc::EINVAL)?;
            if !(2..=DAHDI_MAX_NUM_BUFS).contains(&numbufs)
                || !(16..=DAHDI_MAX_BLOCKSIZE).contains(&bufsize)
                || numbufs * bufsize > DAHDI_MAX_BUF_SPACE
                // Only DAHDI_POLICY_IMMEDIATE is simulated (the simulator's buffers
                // start playing and recording at once).
                || abi::BufPolicy::from_raw(bi.txbufpolicy) != Some(abi::BufPolicy::Immediate)
                || abi::BufPolicy::from_raw(bi.rxbufpolicy) != Some(abi::BufPolicy::Immediate)
            {
                return Err(libc::EINVAL);
            }
            c.numbufs = numbufs;
            c.txpolicy = bi.txbufpolicy;
            c.rxpolicy = bi.rxbufpolicy;
            if c.hdlc {
                c.blocksize = bufsize;
                return Ok(Outcome::ok(0));
            }
            return self.reopen(false, bufsize);
        }
        if req == abi::DAHDI_GET_BUFINFO.0 {
            let bi = DahdiBufferinfo {
                txbufpolicy: c.txpolicy,
                rxbufpolicy: c.rxpolicy,
                numbufs: c.numbufs as i32,
                bufsize: c.blocksize as i32,
                // The simulator does not expose its buffer fill.
                readbufs: -1,
                writebufs: -1,
            };
            return Ok(payload(bi));
        }
        if req == abi::DAHDI_HDLCFCSMODE.0 || req == abi::DAHDI_HDLCRAWMODE.0 {
            let on = int_arg(arg)? != 0;
            let sig = lock(&self.d.reg)
                .chan(c.channo)
                .map(|e| e.sig)
                .ok_or(libc::ENXIO)?;
            // Only a clear channel switches modes (dahdi_chan_ioctl); raw HDLC without
            // an FCS check is not simulated.
            if sig != SigType::CLEAR || (req == abi::DAHDI_HDLCRAWMODE.0 && on) {
                return Err(libc::EINVAL);
            }
            if on == c.hdlc {
                return Ok(Outcome::ok(0));
            }
            let bs = if on {
                abi::DAHDI_DEFAULT_BLOCKSIZE
            } else {
                c.blocksize
            };
            return self.reopen(on, bs);
        }
        if req == abi::DAHDI_SETLAW.0 {
            let raw = int_arg(arg)?;
            let span = c.dahdi_span;
            let law = match raw {
                DAHDI_LAW_DEFAULT => self
                    .reg()
                    .span(span)
                    .map(|s| s.default_law())
                    .ok_or(libc::ENXIO)?,
                DAHDI_LAW_MULAW | DAHDI_LAW_ALAW => raw,
                _ => return Err(libc::EINVAL),
            };
            let Node::Chan(c) = &mut self.node else {
                return Err(libc::EINVAL);
            };
            if !c.hdlc {
                c.ch.set_law(law_of(law)).map_err(|e| chan_errno(&e))?;
            }
            c.law = law;
            let channo = c.channo;
            if let Some(e) = self.reg().chan_mut(channo) {
                e.law = law;
            }
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_FLUSH.0 {
            int_arg(arg)?;
            c.ch.flush().map_err(|e| chan_errno(&e))?;
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_HDLC_RATE.0 {
            // 64 kbit/s is the simulated D-channel; 56k HDLC is not simulated.
            return match int_arg(arg)? {
                64 => Ok(Outcome::ok(0)),
                _ => Err(libc::EINVAL),
            };
        }
        if req == abi::DAHDI_SPECIFY.0 {
            return Err(libc::EINVAL);
        }
        Err(libc::ENOTTY)
    }

    fn pseudo_ioctl(&mut self, req: u32, arg: &[u8]) -> Result<Outcome, Errno> {
        let Node::Pseudo(p) = &self.node else {
            return Err(libc::EINVAL);
        };
        let now = self.d.sim.now_chunks();
        let mut p = lock(p);
        if req == abi::DAHDI_GETEVENT.0 {
            return Ok(payload(0i32));
        }
        if req == abi::DAHDI_GET_BLOCKSIZE.0 {
            return Ok(payload(p.blocksize as i32));
        }
        if req == abi::DAHDI_SET_BLOCKSIZE.0 {
            let bs = usize::try_from(int_arg(arg)?).map_err(|_| libc::EINVAL)?;
            if !(16..=DAHDI_MAX_BLOCKSIZE).contains(&bs) {
                return Err(libc::EINVAL);
            }
            let n = p.numbufs;
            p.set_buffers(now, bs, n);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_SET_BUFINFO.0 {
            let bi: DahdiBufferinfo = from_bytes(arg)?;
            let numbufs = usize::try_from(bi.numbufs).map_err(|_| libc::EINVAL)?;
            let bufsize = usize::try_from(bi.bufsize).map_err(|_| libc::EINVAL)?;
            if !(2..=DAHDI_MAX_NUM_BUFS).contains(&numbufs)
                || !(16..=DAHDI_MAX_BLOCKSIZE).contains(&bufsize)
                || numbufs * bufsize > DAHDI_MAX_BUF_SPACE
                || abi::BufPolicy::from_raw(bi.txbufpolicy) != Some(abi::BufPolicy::Immediate)
                || abi::BufPolicy::from_raw(bi.rxbufpolicy) != Some(abi::BufPolicy::Immediate)
            {
                return Err(libc::EINVAL);
            }
            p.set_buffers(now, bufsize, numbufs);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_SETLAW.0 {
            let raw = int_arg(arg)?;
            p.law = match raw {
                DAHDI_LAW_DEFAULT | DAHDI_LAW_MULAW => DAHDI_LAW_MULAW,
                DAHDI_LAW_ALAW => DAHDI_LAW_ALAW,
                _ => return Err(libc::EINVAL),
            };
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_FLUSH.0 {
            p.flush(now);
            return Ok(Outcome::ok(0));
        }
        Err(libc::ENOTTY)
    }

    fn timer_ioctl(&mut self, req: u32, arg: &[u8]) -> Result<Outcome, Errno> {
        let Node::Timer(t) = &self.node else {
            return Err(libc::EINVAL);
        };
        // The library serves these from the shared page; a request that comes here
        // anyway gets the same answer.
        let t = lock(t);
        let page = t.page();
        if req == abi::DAHDI_TIMERCONFIG.0 {
            page.configure(int_arg(arg)?);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_TIMERACK.0 {
            page.ack(int_arg(arg)?);
            return Ok(Outcome::ok(0));
        }
        if req == abi::DAHDI_GETEVENT.0 {
            let ev = if page.tripped() > 0 {
                abi::DAHDI_EVENT_TIMER_EXPIRED
            } else {
                abi::DAHDI_EVENT_NONE
            };
            return Ok(payload(ev));
        }
        Err(libc::ENOTTY)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if let Node::Chan(c) = &self.node {
            if let Some(e) = lock(&self.d.reg).chan_mut(c.channo) {
                e.open = false;
            }
        }
    }
}

fn payload<T: Copy>(v: T) -> Outcome {
    let mut o = Outcome::ok(0);
    o.payload = struct_bytes(&v);
    o
}

/// Stands in for a channel between closing it and reopening it in another mode.
struct Closed(ChannelId);

impl Channel for Closed {
    fn id(&self) -> ChannelId {
        self.0
    }
    fn read(&mut self, _: &mut [u8]) -> Result<usize, ChanError> {
        Err(ChanError::Io(std::io::Error::from_raw_os_error(
            libc::ENODEV,
        )))
    }
    fn write(&mut self, _: &[u8]) -> Result<usize, ChanError> {
        Err(ChanError::Io(std::io::Error::from_raw_os_error(
            libc::ENODEV,
        )))
    }
    fn get_event(&mut self) -> Result<Option<dahdi_driver::Event>, ChanError> {
        Ok(None)
    }
    fn set_law(&mut self, _: Law) -> Result<(), ChanError> {
        Err(ChanError::Io(std::io::Error::from_raw_os_error(
            libc::ENODEV,
        )))
    }
    fn flush(&mut self) -> Result<(), ChanError> {
        Ok(())
    }
    fn raw_fd(&self) -> RawFd {
        -1
    }
}
