//! `tdm-simd`: a tdm-sim in real time, served as a DAHDI device to programs running with
//! `LD_PRELOAD=libdahdi_sim.so`.
//!
//! ```text
//! tdm-simd [--socket PATH] [--e1 N] [--t1 N] [--delay CHUNKS] [--started] [--far-up] [--numbufs N] [--fifo]
//! tdm-simd ctl [--socket PATH] COMMAND...
//! ```
//!
//! With N simulated spans, DAHDI spans 1..=N are the near ends and N+1..=2N the far ends
//! of the same cables. Spans start unconfigured (`NOTOPEN`) until `dahdi_cfg` (or
//! `DAHDI_SPANCONFIG` + `DAHDI_STARTUP`) brings them up, unless `--started` (every
//! span up as a PRI line) or `--far-up` (the far ends, the switch's side, up as PRI
//! lines; the near ends wait for `dahdi_cfg`).
//!
//! `--numbufs N` (default 4, as chan_dahdi's `buffers=4`) is how many blocks every
//! clear channel buffers each way, whatever `DAHDI_SET_BUFINFO` asks: each read and
//! write is a round trip to this daemon, far slower than a system call into DAHDI, so
//! a program that services many channels from one thread may need more slack here
//! than it asks of a card.
//!
//! `--fifo` runs the simulator's clock and the threads serving programs with
//! `SCHED_FIFO` where the host allows it: a program's request is then answered at
//! once even on a busy host, as DAHDI answers from the kernel.
//!
//! Control commands (`tdm-simd ctl ...`, or [`proto::Op::Control`]):
//! - `config`: spans, configured channels, tone zones, one per line;
//! - `impair SPAN los|ais|dcut on|off`, `impair SPAN slip drop|repeat`,
//!   `impair SPAN biterrors RATE SEED`, `impair SPAN nobiterrors`, `impair SPAN abort`:
//!   SPAN is a DAHDI span number, the receiving end (the sending end for `abort`);
//! - `clock`: the real-time clock's figures.

#[path = "../../proto.rs"]
mod proto;

mod conn;
mod control;
mod pacer;
mod registry;

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dahdi_driver::SpanKind;
use tdm_sim::{ClockMode, End, Sim, SimDevice};

use crate::conn::{File, Outcome};
use crate::pacer::Pacer;
use crate::registry::Registry;

/// LAPD's FCS (Q.921 §2.7, CRC-16/X.25), as DAHDI appends it to each frame read.
pub static FCS: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

/// The simulator and what DAHDI's core keeps about it.
pub struct Daemon {
    pub sim: Arc<Sim>,
    pub near: SimDevice,
    pub far: SimDevice,
    pub reg: Mutex<Registry>,
    pub pacer: Arc<Pacer>,
    /// Run the threads serving programs with `SCHED_FIFO` (`--fifo`).
    pub fifo: bool,
}

/// Puts the calling thread in `SCHED_FIFO` at `prio`, when the host allows it.
pub fn make_fifo(prio: i32) -> bool {
    tdm_sim::rt::set_fifo(prio).is_ok()
}

impl Daemon {
    pub fn device(&self, end: End) -> &SimDevice {
        match end {
            End::Near => &self.near,
            End::Far => &self.far,
        }
    }
}

struct Args {
    socket: String,
    spans: Vec<SpanKind>,
    delay: usize,
    started: bool,
    far_up: bool,
    fifo: bool,
    numbufs: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: tdm-simd [--socket PATH] [--e1 N] [--t1 N] [--delay CHUNKS] [--started] [--far-up] [--numbufs N] [--fifo]\n       tdm-simd ctl [--socket PATH] COMMAND..."
    );
    std::process::exit(2)
}

fn default_socket() -> String {
    std::env::var(proto::SOCKET_ENV).unwrap_or_else(|_| proto::DEFAULT_SOCKET.to_owned())
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Args {
    let mut a = Args {
        socket: default_socket(),
        spans: Vec::new(),
        delay: 1,
        started: false,
        far_up: false,
        fifo: false,
        numbufs: 4,
    };
    while let Some(arg) = it.next() {
        let num = |it: &mut dyn Iterator<Item = String>| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--socket" => a.socket = it.next().unwrap_or_else(|| usage()),
            "--e1" => {
                let n = num(&mut it);
                a.spans.extend(std::iter::repeat_n(SpanKind::E1, n));
            }
            "--t1" => {
                let n = num(&mut it);
                a.spans.extend(std::iter::repeat_n(SpanKind::T1, n));
            }
            "--delay" => a.delay = num(&mut it).max(1),
            "--started" => a.started = true,
            "--far-up" => a.far_up = true,
            "--numbufs" => a.numbufs = num(&mut it).clamp(2, 32),
            "--fifo" => a.fifo = true,
            _ => usage(),
        }
    }
    if a.spans.is_empty() {
        a.spans.push(SpanKind::E1);
    }
    a
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("ctl") {
        args.next();
        let mut socket = default_socket();
        let mut words = Vec::new();
        while let Some(a) = args.next() {
            if a == "--socket" {
                socket = args.next().unwrap_or_else(|| usage());
            } else {
                words.push(a);
            }
        }
        match proto::control(&socket, &words.join(" ")) {
            Ok(Ok(text)) => print!("{text}"),
            Ok(Err(text)) => {
                eprint!("{text}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("cannot reach tdm-simd at {socket}: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let a = parse_args(args);
    if let Err(e) = run(a) {
        eprintln!("tdm-simd: {e}");
        std::process::exit(1);
    }
}

fn run(a: Args) -> std::io::Result<()> {
    let mut b = Sim::builder()
        .numbufs(a.numbufs)
        .delay_chunks(a.delay)
        .autostart(a.started)
        .clock(ClockMode::RealTime);
    if a.fifo {
        tdm_sim::rt::enter_locked_memory("tdm-simd");
    } else {
        // The simulator's default is a SCHED_FIFO clock; here that is opt-in.
        b = b.fifo_priority(None);
    }
    for k in &a.spans {
        b = match k {
            SpanKind::E1 => b.e1(1),
            SpanKind::T1 => b.t1(1),
        };
    }
    let sim = Arc::new(b.build());
    let mut reg = Registry::new(&a.spans);
    if a.started {
        reg.preconfigure_pri();
    } else if a.far_up {
        for (end, span, cfg) in reg.far_up() {
            let dev = match end {
                End::Near => sim.near(),
                End::Far => sim.far(),
            };
            dahdi_driver::Device::configure_span(&dev, span, &cfg)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    let daemon = Arc::new(Daemon {
        near: sim.near(),
        far: sim.far(),
        sim: sim.clone(),
        reg: Mutex::new(reg),
        pacer: Pacer::new(),
        fifo: a.fifo,
    });
    {
        let pacer = daemon.pacer.clone();
        let (s, dev) = (sim.clone(), sim.near());
        let fifo = a.fifo;
        std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || {
                if fifo {
                    make_fifo(9);
                }
                pacer.run(s, dev)
            })?;
    }
    let listener = listen(&a.socket)?;
    tracing::info!(socket = %a.socket, spans = a.spans.len() * 2, "tdm-simd serving DAHDI");
    loop {
        // SAFETY: accepting on our listening socket.
        let c = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if c < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            tracing::warn!(error = %e, "accept failed");
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        // SAFETY: accept4 returned a fresh descriptor we now own.
        let conn = unsafe { OwnedFd::from_raw_fd(c) };
        let d = daemon.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("dahdi-file".into())
            .spawn(move || serve(d, conn))
        {
            tracing::warn!(error = %e, "cannot spawn a connection thread");
        }
    }
}

fn listen(path: &str) -> std::io::Result<RawFd> {
    let _ = std::fs::remove_file(path);
    // SAFETY: plain socket creation.
    let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: an all-zero sockaddr_un is valid; the path is copied in below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= addr.sun_path.len() {
        return Err(std::io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, &b) in addr.sun_path.iter_mut().zip(path.as_bytes()) {
        *d = b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
    // SAFETY: binding and listening on our socket with a valid address.
    unsafe {
        if libc::bind(
            s,
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        ) != 0
            || libc::listen(s, 128) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(s)
}

fn send(conn: RawFd, o: &Outcome, out: &mut Vec<u8>) -> bool {
    proto::reply(o.result, &o.payload, out);
    proto::send_msg(conn, out, &o.fds).is_ok()
}

/// One request into `buf`; descriptors sent along with it are closed (no request
/// takes one).
fn recv_closing_fds(c: std::os::fd::RawFd, buf: &mut Vec<u8>) -> std::io::Result<()> {
    for fd in proto::recv_msg(c, buf)? {
        // SAFETY: a descriptor we were sent and do not use.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Serves one connection: an open file, or one sysfs/control request.
fn serve(d: Arc<Daemon>, conn: OwnedFd) {
    use std::os::fd::AsRawFd;
    if d.fifo && !make_fifo(8) {
        tracing::debug!("SCHED_FIFO not allowed for a connection thread");
    }
    let c = conn.as_raw_fd();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    // No first request takes a descriptor: any sent along is closed, not kept.
    if recv_closing_fds(c, &mut buf).is_err() || buf.is_empty() {
        return;
    }
    let op = proto::Op::from_u8(buf[0]);
    let mut file = match op {
        Some(proto::Op::Control) => {
            let cmd = String::from_utf8_lossy(&buf[1..]).into_owned();
            let (r, text) = match control::command(&d, &cmd) {
                Ok(t) => (0, t),
                Err(t) => (-i64::from(libc::EINVAL), t),
            };
            proto::reply(r, text.as_bytes(), &mut out);
            let _ = proto::send_msg(c, &out, &[]);
            return;
        }
        Some(proto::Op::Sysfs) => {
            let path = String::from_utf8_lossy(&buf[1..]).into_owned();
            match control::sysfs(&d, &path) {
                Some(t) => proto::reply(0, t.as_bytes(), &mut out),
                None => proto::reply(-i64::from(libc::ENOENT), &[], &mut out),
            }
            let _ = proto::send_msg(c, &out, &[]);
            return;
        }
        Some(proto::Op::Open) => {
            let Some(node) = buf.get(1).copied().and_then(proto::Node::from_u8) else {
                proto::reply(-i64::from(libc::ENOENT), &[], &mut out);
                let _ = proto::send_msg(c, &out, &[]);
                return;
            };
            match File::open(d, node, c) {
                Ok((f, o)) => {
                    if !send(c, &o, &mut out) {
                        return;
                    }
                    f
                }
                Err(e) => {
                    proto::reply(-i64::from(e), &[], &mut out);
                    let _ = proto::send_msg(c, &out, &[]);
                    return;
                }
            }
        }
        _ => return,
    };
    loop {
        if recv_closing_fds(c, &mut buf).is_err() {
            return;
        }
        if buf.is_empty() {
            return; // the program closed the file
        }
        let o = match proto::Op::from_u8(buf[0]) {
            Some(proto::Op::Read) if buf.len() >= 6 => {
                let len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                file.read(len.min(proto::MAX_MSG - 16), buf[5] != 0)
            }
            Some(proto::Op::Write) if buf.len() >= 2 => {
                let blocking = buf[1] != 0;
                file.write(&buf[2..], blocking)
            }
            Some(proto::Op::Close) => {
                drop(file);
                proto::reply(0, &[], &mut out);
                let _ = proto::send_msg(c, &out, &[]);
                return;
            }
            Some(proto::Op::Ioctl) if buf.len() >= 5 => {
                let req = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
                file.ioctl(req, &buf[5..])
            }
            _ => Outcome {
                result: -i64::from(libc::EINVAL),
                payload: Vec::new(),
                fds: Vec::new(),
            },
        };
        if !send(c, &o, &mut out) {
            return;
        }
    }
}
