//! `libdahdi_sim.so`: the simulator as `/dev/dahdi` for unmodified programs.
//!
//! Loaded with `LD_PRELOAD`, it interposes the libc calls a DAHDI program makes on
//! `/dev/dahdi/{ctl,channel,pseudo,timer}` (`open`, `open64`, `openat`, `read`, `write`,
//! `ioctl`, `close`) and the sysfs attributes dahdi-tools read under
//! `/sys/bus/dahdi_spans/devices/span-N/` (`fopen`, `open`), and serves them from a
//! running `tdm-simd` over its Unix socket (`$DAHDI_SIM_SOCKET`, default
//! `/tmp/tdm-simd.sock`); see the `proto` module for the protocol. Every other call goes to the
//! next definition of the symbol (libc) untouched, found with `dlsym(RTLD_NEXT)`.
//!
//! The descriptor the program holds for a channel, a pseudo channel or a timer is the
//! simulator's readiness socket for it, so `poll`, `ppoll`, `select` and `epoll` work on
//! it in the kernel, unchanged: `POLLIN` when a read can succeed, `POLLPRI` when an event
//! is queued, as DAHDI reports them. `ctl` and a channel not yet specified hold an
//! `eventfd` that never polls ready, as their DAHDI counterparts.
//!
//! A blocking `read`/`write` (a descriptor opened without `O_NONBLOCK`, or cleared with
//! `FIONBIO`) waits in the daemon, on the simulator's clock.

#[path = "proto.rs"]
mod proto;

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use proto::{Node, Op};

const DEV_PREFIX: &[u8] = b"/dev/dahdi/";
const SYSFS_PREFIX: &[u8] = b"/sys/bus/dahdi_spans/";

/// Resolves the next definition of a libc symbol once and caches it.
macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static CACHE: AtomicUsize = AtomicUsize::new(0);
        let mut p = CACHE.load(Ordering::Relaxed);
        if p == 0 {
            // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds libc's symbol.
            p = unsafe { libc::dlsym(libc::RTLD_NEXT, concat!($name, "\0").as_ptr().cast()) }
                as usize;
            CACHE.store(p, Ordering::Relaxed);
        }
        if p == 0 {
            None
        } else {
            // SAFETY: the symbol has the C signature `$ty` (the libc prototype).
            Some(unsafe { std::mem::transmute::<usize, $ty>(p) })
        }
    }};
}

type OpenFn = unsafe extern "C" fn(*const c_char, c_int, libc::mode_t) -> c_int;
type OpenatFn = unsafe extern "C" fn(c_int, *const c_char, c_int, libc::mode_t) -> c_int;
type Open2Fn = unsafe extern "C" fn(*const c_char, c_int) -> c_int;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, libc::size_t) -> libc::ssize_t;
type ReadChkFn =
    unsafe extern "C" fn(c_int, *mut c_void, libc::size_t, libc::size_t) -> libc::ssize_t;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, libc::size_t) -> libc::ssize_t;
type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int;
type FopenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE;

/// One descriptor the program opened under `/dev/dahdi`.
struct Handle {
    /// The connection to the daemon (its end closes the file).
    conn: RawFd,
    nonblock: AtomicBool,
    cloexec: bool,
    /// A timer's state, shared with the daemon: its ioctls need no round trip.
    timer: Option<&'static proto::TimerPage>,
    /// Serialises requests on the connection; holds the message buffer.
    io: Mutex<Vec<u8>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        real_close(self.conn);
        if let Some(page) = self.timer {
            // SAFETY: unmapping the page `open` mapped for this handle; nothing else
            // refers to it (it is reached only through the handle, which is going).
            unsafe {
                libc::munmap(
                    (page as *const proto::TimerPage).cast_mut().cast(),
                    proto::TimerPage::SIZE,
                )
            };
        }
    }
}

static TABLE: RwLock<Vec<Option<Arc<Handle>>>> = RwLock::new(Vec::new());
/// Whether any descriptor was ever ours: keeps the pass-through path to one load.
static ANY: AtomicBool = AtomicBool::new(false);

fn lookup(fd: c_int) -> Option<Arc<Handle>> {
    if !ANY.load(Ordering::Relaxed) || fd < 0 {
        return None;
    }
    let t = TABLE.read().unwrap_or_else(|e| e.into_inner());
    t.get(fd as usize).and_then(|h| h.clone())
}

fn insert(fd: c_int, h: Handle) {
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    let i = fd as usize;
    if t.len() <= i {
        t.resize(i + 1, None);
    }
    t[i] = Some(Arc::new(h));
    ANY.store(true, Ordering::Relaxed);
}

fn remove(fd: c_int) -> Option<Arc<Handle>> {
    if !ANY.load(Ordering::Relaxed) || fd < 0 {
        return None;
    }
    let mut t = TABLE.write().unwrap_or_else(|e| e.into_inner());
    t.get_mut(fd as usize).and_then(|h| h.take())
}

fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

fn real_close(fd: RawFd) -> c_int {
    match real!("close", CloseFn) {
        // SAFETY: libc's close.
        Some(f) => unsafe { f(fd) },
        None => {
            // SAFETY: the raw system call, should dlsym ever fail.
            unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
        }
    }
}

fn socket_path() -> String {
    std::env::var(proto::SOCKET_ENV).unwrap_or_else(|_| proto::DEFAULT_SOCKET.to_owned())
}

/// What a path names, for us.
enum Target {
    Dev(Node),
    Sysfs(String),
    Other,
}

/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn classify(path: *const c_char) -> Target {
    if path.is_null() {
        return Target::Other;
    }
    // SAFETY: the caller passes a C string.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if let Some(rest) = bytes.strip_prefix(DEV_PREFIX) {
        return match std::str::from_utf8(rest).ok().and_then(Node::from_name) {
            Some(n) => Target::Dev(n),
            None => Target::Other,
        };
    }
    if bytes.starts_with(SYSFS_PREFIX) {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Target::Sysfs(s.to_owned());
        }
    }
    Target::Other
}

/// One request/reply on a connection; a descriptor in the reply replaces `app_fd`.
fn transact(h: &Handle, app_fd: c_int, buf: &mut Vec<u8>) -> Result<(), c_int> {
    proto::send_msg(h.conn, buf, &[]).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let fds = proto::recv_msg(h.conn, buf).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let mut fds = fds.into_iter();
    if let Some(new) = fds.next() {
        adopt(new, app_fd, h.cloexec);
    }
    fds.for_each(|f| {
        real_close(f);
    });
    if buf.is_empty() {
        // The daemon went away: the device is gone.
        return Err(libc::ENODEV);
    }
    Ok(())
}

/// Puts a readiness socket the daemon sent in place of the program's descriptor.
fn adopt(new: RawFd, app_fd: c_int, cloexec: bool) {
    // SAFETY: dup2 between two descriptors of this process; `new` is ours to close.
    unsafe {
        libc::dup2(new, app_fd);
        if cloexec {
            libc::fcntl(app_fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    real_close(new);
}

fn open_dev(node: Node, flags: c_int) -> c_int {
    let conn = match proto::connect(&socket_path()) {
        Ok(c) => c,
        Err(_) => {
            // No simulator running: as if DAHDI were not loaded.
            set_errno(libc::ENOENT);
            return -1;
        }
    };
    let mut buf = vec![Op::Open as u8, node as u8];
    buf.extend_from_slice(&flags.to_le_bytes());
    let fds = proto::send_msg(conn, &buf, &[]).and_then(|()| proto::recv_msg(conn, &mut buf));
    let fds = match fds {
        Ok(fds) => fds,
        Err(e) => {
            real_close(conn);
            set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            return -1;
        }
    };
    match proto::parse_reply(&buf) {
        Some((r, _)) if r >= 0 => {}
        other => {
            for &f in &fds {
                real_close(f);
            }
            real_close(conn);
            let e = other.map(|(r, _)| (-r) as c_int).unwrap_or(libc::EIO);
            set_errno(e);
            return -1;
        }
    }
    let cloexec = flags & libc::O_CLOEXEC != 0;
    // A timer's reply carries its shared page after its readiness socket.
    let timer = fds.get(1).and_then(|&f| {
        let page = proto::map_timer_page(f).ok();
        real_close(f);
        page
    });
    let app_fd = match fds.first().copied() {
        Some(f) => {
            if !cloexec {
                // SAFETY: clearing close-on-exec on a descriptor we own.
                unsafe { libc::fcntl(f, libc::F_SETFD, 0) };
            }
            f
        }
        None => {
            // SAFETY: a fresh eventfd; never readable, as ctl never is.
            let f = unsafe { libc::eventfd(0, if cloexec { libc::EFD_CLOEXEC } else { 0 }) };
            if f < 0 {
                real_close(conn);
                return -1;
            }
            f
        }
    };
    insert(
        app_fd,
        Handle {
            conn,
            nonblock: AtomicBool::new(flags & libc::O_NONBLOCK != 0),
            cloexec,
            timer,
            io: Mutex::new(Vec::with_capacity(proto::MAX_MSG)),
        },
    );
    app_fd
}

/// The text of a sysfs attribute from the daemon, in an anonymous file.
fn open_sysfs(path: &str) -> Option<c_int> {
    let conn = proto::connect(&socket_path()).ok()?;
    let mut buf = vec![Op::Sysfs as u8];
    buf.extend_from_slice(path.as_bytes());
    let ok = proto::send_msg(conn, &buf, &[]).and_then(|()| proto::recv_msg(conn, &mut buf));
    real_close(conn);
    for f in ok.ok()? {
        real_close(f);
    }
    let (r, text) = proto::parse_reply(&buf)?;
    if r < 0 {
        return None;
    }
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"dahdi-sim-sysfs".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let write = real!("write", WriteFn)?;
    // SAFETY: writing our buffer to our memfd, then rewinding it.
    unsafe {
        write(fd, text.as_ptr().cast(), text.len());
        libc::lseek(fd, 0, libc::SEEK_SET);
    }
    Some(fd)
}

/// Opens `path` if it is ours; `None` passes the call on.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn maybe_open(path: *const c_char, flags: c_int) -> Option<c_int> {
    // SAFETY: forwarded from the caller.
    match unsafe { classify(path) } {
        Target::Dev(node) => Some(open_dev(node, flags)),
        Target::Sysfs(p) => Some(open_sysfs(&p).unwrap_or_else(|| {
            set_errno(libc::ENOENT);
            -1
        })),
        Target::Other => None,
    }
}

/// # Safety
/// libc's `open`; the mode argument is read as the third integer argument (how the
/// variadic is passed on the supported ABIs) and used only with `O_CREAT`/`O_TMPFILE`.
#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("open", OpenFn) {
        // SAFETY: libc's open with the caller's arguments.
        Some(f) => unsafe { f(path, flags, mode) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// As [`open`].
#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("open64", OpenFn) {
        // SAFETY: libc's open64 with the caller's arguments.
        Some(f) => unsafe { f(path, flags, mode) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// libc's `__open_2` (fortified `open` without a mode).
#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("__open_2", Open2Fn) {
        // SAFETY: libc's __open_2 with the caller's arguments.
        Some(f) => unsafe { f(path, flags) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// libc's `__open64_2`.
#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("__open64_2", Open2Fn) {
        // SAFETY: libc's __open64_2 with the caller's arguments.
        Some(f) => unsafe { f(path, flags) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// libc's `openat`; absolute paths under `/dev/dahdi` are ours whatever `dirfd` is.
#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("openat", OpenatFn) {
        // SAFETY: libc's openat with the caller's arguments.
        Some(f) => unsafe { f(dirfd, path, flags, mode) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// As [`openat`].
#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    // SAFETY: forwarded from the caller.
    if let Some(r) = unsafe { maybe_open(path, flags) } {
        return r;
    }
    match real!("openat64", OpenatFn) {
        // SAFETY: libc's openat64 with the caller's arguments.
        Some(f) => unsafe { f(dirfd, path, flags, mode) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// libc's `fopen`: the sysfs attributes are served from the daemon (glibc's own `fopen`
/// opens files internally, past any `open` interposer).
#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    let next = real!("fopen", FopenFn);
    // SAFETY: forwarded from the caller.
    unsafe { fopen_common(path, mode, next) }
}

/// # Safety
/// As [`fopen`].
#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    let next = real!("fopen64", FopenFn);
    // SAFETY: forwarded from the caller.
    unsafe { fopen_common(path, mode, next) }
}

/// # Safety
/// `path` and `mode` are C strings.
unsafe fn fopen_common(
    path: *const c_char,
    mode: *const c_char,
    next: Option<FopenFn>,
) -> *mut libc::FILE {
    // SAFETY: forwarded from the caller.
    if let Target::Sysfs(p) = unsafe { classify(path) } {
        return match open_sysfs(&p) {
            // SAFETY: wrapping our memfd in a stream.
            Some(fd) => unsafe { libc::fdopen(fd, c"r".as_ptr()) },
            None => {
                set_errno(libc::ENOENT);
                std::ptr::null_mut()
            }
        };
    }
    match next {
        // SAFETY: libc's fopen with the caller's arguments.
        Some(f) => unsafe { f(path, mode) },
        None => {
            set_errno(libc::ENOSYS);
            std::ptr::null_mut()
        }
    }
}

/// # Safety
/// libc's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if let Some(h) = remove(fd) {
        // Wait until the daemon released the file; dropping the handle then closes
        // the connection.
        let mut buf = h.io.lock().unwrap_or_else(|e| e.into_inner());
        buf.clear();
        buf.push(Op::Close as u8);
        if proto::send_msg(h.conn, &buf, &[]).is_ok() {
            if let Ok(fds) = proto::recv_msg(h.conn, &mut buf) {
                fds.into_iter().for_each(|f| {
                    real_close(f);
                });
            }
        }
    }
    real_close(fd)
}

fn chan_read(h: &Handle, fd: c_int, out: &mut [u8]) -> Result<usize, c_int> {
    let mut buf = h.io.lock().unwrap_or_else(|e| e.into_inner());
    buf.clear();
    buf.push(Op::Read as u8);
    buf.extend_from_slice(&(out.len().min(u32::MAX as usize) as u32).to_le_bytes());
    buf.push(u8::from(!h.nonblock.load(Ordering::Relaxed)));
    transact(h, fd, &mut buf)?;
    let (r, data) = proto::parse_reply(&buf).ok_or(libc::EIO)?;
    if r < 0 {
        return Err((-r) as c_int);
    }
    let n = data.len().min(out.len());
    out[..n].copy_from_slice(&data[..n]);
    Ok(n)
}

fn chan_write(h: &Handle, fd: c_int, data: &[u8]) -> Result<usize, c_int> {
    let mut buf = h.io.lock().unwrap_or_else(|e| e.into_inner());
    buf.clear();
    buf.push(Op::Write as u8);
    buf.push(u8::from(!h.nonblock.load(Ordering::Relaxed)));
    buf.extend_from_slice(&data[..data.len().min(proto::MAX_MSG - 16)]);
    transact(h, fd, &mut buf)?;
    let (r, _) = proto::parse_reply(&buf).ok_or(libc::EIO)?;
    if r < 0 {
        return Err((-r) as c_int);
    }
    Ok(r as usize)
}

/// # Safety
/// libc's `read`.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: libc::size_t) -> libc::ssize_t {
    if let Some(h) = lookup(fd) {
        if buf.is_null() && count > 0 {
            set_errno(libc::EFAULT);
            return -1;
        }
        let out: &mut [u8] = if count == 0 {
            &mut []
        } else {
            // SAFETY: the caller gives `count` writable bytes at `buf`.
            unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), count) }
        };
        return match chan_read(&h, fd, out) {
            Ok(n) => n as libc::ssize_t,
            Err(e) => {
                set_errno(e);
                -1
            }
        };
    }
    match real!("read", ReadFn) {
        // SAFETY: libc's read with the caller's arguments.
        Some(f) => unsafe { f(fd, buf, count) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// glibc's `__read_chk` (fortified `read`).
#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    count: libc::size_t,
    buflen: libc::size_t,
) -> libc::ssize_t {
    if lookup(fd).is_some() {
        // SAFETY: as `read`, bounded by the buffer's real length.
        return unsafe { read(fd, buf, count.min(buflen)) };
    }
    match real!("__read_chk", ReadChkFn) {
        // SAFETY: libc's __read_chk with the caller's arguments.
        Some(f) => unsafe { f(fd, buf, count, buflen) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// # Safety
/// libc's `write`.
#[no_mangle]
pub unsafe extern "C" fn write(
    fd: c_int,
    buf: *const c_void,
    count: libc::size_t,
) -> libc::ssize_t {
    if let Some(h) = lookup(fd) {
        if buf.is_null() && count > 0 {
            set_errno(libc::EFAULT);
            return -1;
        }
        let data: &[u8] = if count == 0 {
            &[]
        } else {
            // SAFETY: the caller gives `count` readable bytes at `buf`.
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), count) }
        };
        return match chan_write(&h, fd, data) {
            Ok(n) => n as libc::ssize_t,
            Err(e) => {
                set_errno(e);
                -1
            }
        };
    }
    match real!("write", WriteFn) {
        // SAFETY: libc's write with the caller's arguments.
        Some(f) => unsafe { f(fd, buf, count) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// `_IOC` fields of a Linux request number (asm-generic layout).
fn ioc_size(req: u32) -> usize {
    ((req >> 16) & 0x3FFF) as usize
}
fn ioc_writes_arg(req: u32) -> bool {
    // _IOC_WRITE: userspace writes, the kernel reads the argument.
    (req >> 30) & 1 != 0
}
fn ioc_reads_arg(req: u32) -> bool {
    (req >> 30) & 2 != 0
}

/// # Safety
/// `arg` points at the request's argument of its encoded size.
unsafe fn dahdi_ioctl(h: &Handle, fd: c_int, req: u32, arg: *mut c_void) -> Result<c_int, c_int> {
    if (req >> 8) & 0xFF != u32::from(dahdi_driver::abi::DAHDI_CODE) {
        if req == libc::FIONBIO as u32 {
            if arg.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: FIONBIO's argument is an int.
            let on = unsafe { *arg.cast::<c_int>() } != 0;
            h.nonblock.store(on, Ordering::Relaxed);
            return Ok(0);
        }
        return Err(libc::ENOTTY);
    }
    let size = ioc_size(req);
    if size > 0 && arg.is_null() {
        return Err(libc::EFAULT);
    }
    if let Some(t) = h.timer {
        // SAFETY: forwarded from the caller.
        if let Some(r) = unsafe { timer_ioctl(t, fd, req, arg) } {
            return r;
        }
    }
    let mut buf = h.io.lock().unwrap_or_else(|e| e.into_inner());
    buf.clear();
    buf.push(Op::Ioctl as u8);
    buf.extend_from_slice(&req.to_le_bytes());
    if ioc_writes_arg(req) && size > 0 {
        // SAFETY: the argument has `size` readable bytes (the request's contract).
        buf.extend_from_slice(unsafe { std::slice::from_raw_parts(arg.cast::<u8>(), size) });
    }
    transact(h, fd, &mut buf)?;
    let (r, data) = proto::parse_reply(&buf).ok_or(libc::EIO)?;
    if r < 0 {
        return Err((-r) as c_int);
    }
    if ioc_reads_arg(req) && size > 0 {
        let n = data.len().min(size);
        // SAFETY: the argument has `size` writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), arg.cast::<u8>(), n) };
    }
    Ok(r as c_int)
}

/// A timer's own requests, served from its shared page.
///
/// # Safety
/// `arg` points at the request's int argument.
unsafe fn timer_ioctl(
    t: &proto::TimerPage,
    fd: c_int,
    req: u32,
    arg: *mut c_void,
) -> Option<Result<c_int, c_int>> {
    use dahdi_driver::abi;
    let clear_pri = || {
        if t.tripped() == 0 && t.pri.swap(false, Ordering::AcqRel) {
            let mut b = [0u8];
            // SAFETY: taking the out-of-band byte (POLLPRI) off our own socket.
            unsafe {
                libc::recv(
                    fd,
                    b.as_mut_ptr().cast(),
                    1,
                    libc::MSG_OOB | libc::MSG_DONTWAIT,
                )
            };
        }
    };
    // SAFETY: these requests take an int.
    let int = || unsafe { *arg.cast::<c_int>() };
    if req == abi::DAHDI_TIMERCONFIG.0 {
        t.configure(int());
        clear_pri();
        return Some(Ok(0));
    }
    if req == abi::DAHDI_TIMERACK.0 {
        t.ack(int());
        clear_pri();
        return Some(Ok(0));
    }
    if req == abi::DAHDI_GETEVENT.0 {
        let ev = if t.tripped() > 0 {
            abi::DAHDI_EVENT_TIMER_EXPIRED
        } else {
            abi::DAHDI_EVENT_NONE
        };
        // SAFETY: GETEVENT writes an int.
        unsafe { *arg.cast::<c_int>() = ev };
        return Some(Ok(0));
    }
    None
}

/// # Safety
/// libc's `ioctl`; the argument is read as the third integer argument (how the variadic
/// is passed on the supported ABIs).
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    if let Some(h) = lookup(fd) {
        // SAFETY: forwarded from the caller.
        return match unsafe { dahdi_ioctl(&h, fd, request as u32, arg) } {
            Ok(r) => r,
            Err(e) => {
                set_errno(e);
                -1
            }
        };
    }
    match real!("ioctl", IoctlFn) {
        // SAFETY: libc's ioctl with the caller's arguments.
        Some(f) => unsafe { f(fd, request, arg) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi_driver::abi;

    #[test]
    fn request_fields_match_the_abi() {
        // FIELD-NOTES: DAHDI_SPANSTAT = 0xC13ADA0A (314 bytes, both ways).
        let r = abi::DAHDI_SPANSTAT.0;
        assert_eq!(ioc_size(r), 314);
        assert!(ioc_writes_arg(r) && ioc_reads_arg(r));
        // DAHDI_SPECIFY = 0x4004DA26: the kernel reads an int.
        let r = abi::DAHDI_SPECIFY.0;
        assert_eq!(
            (ioc_size(r), ioc_writes_arg(r), ioc_reads_arg(r)),
            (4, true, false)
        );
        // DAHDI_GETEVENT: the kernel writes an int.
        let r = abi::DAHDI_GETEVENT.0;
        assert_eq!(
            (ioc_size(r), ioc_writes_arg(r), ioc_reads_arg(r)),
            (4, false, true)
        );
        // LOADZONE carries its header; the tone table after it stays in the program.
        assert_eq!(
            ioc_size(abi::DAHDI_LOADZONE.0),
            std::mem::size_of::<abi::DahdiToneDefHeader>()
        );
    }

    #[test]
    fn paths_are_classified() {
        let dev = |p: &CStr| match unsafe { classify(p.as_ptr()) } {
            Target::Dev(n) => Some(n),
            _ => None,
        };
        assert_eq!(dev(c"/dev/dahdi/ctl"), Some(Node::Ctl));
        assert_eq!(dev(c"/dev/dahdi/channel"), Some(Node::Channel));
        assert_eq!(dev(c"/dev/dahdi/pseudo"), Some(Node::Pseudo));
        assert_eq!(dev(c"/dev/dahdi/timer"), Some(Node::Timer));
        assert_eq!(dev(c"/dev/dahdi/transcode"), None);
        assert_eq!(dev(c"/dev/null"), None);
        assert!(matches!(
            unsafe { classify(c"/sys/bus/dahdi_spans/devices/span-1/basechan".as_ptr()) },
            Target::Sysfs(p) if p.ends_with("span-1/basechan")
        ));
        assert!(matches!(
            unsafe { classify(std::ptr::null()) },
            Target::Other
        ));
    }

    #[test]
    fn other_descriptors_pass_through() {
        // This test binary itself carries the interposers: ordinary files still work.
        let mut f = std::fs::File::open("/proc/self/stat").unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert!(!s.is_empty());
        assert!(lookup(std::os::fd::AsRawFd::as_raw_fd(&f)).is_none());
    }
}
