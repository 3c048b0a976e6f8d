//! libpri (Debian `libpri-dev`, a Q.921/Q.931 stack nobody here wrote) as a real peer for
//! our stack: a safe wrapper over the few libpri calls the tests need ([`LibPri`],
//! [`PriEvent`]) and a single-threaded harness joining libpri and one of our data links over
//! an `AF_UNIX`/`SOCK_SEQPACKET` socket pair carrying frames with their 2 FCS octets, the way
//! DAHDI presents an HDLC channel ([`harness::Harness`]; one of our call-control
//! interfaces instead of a data link: [`call_harness::CallHarness`]).
//!
//! Only the test binaries that include this module link libpri (`#[link(name = "pri")]`).
#![allow(dead_code)]

pub mod call_harness;
pub mod ffi;
pub mod harness;

use std::ffi::{c_char, c_int, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Which side libpri plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// `PRI_NETWORK`: the switch.
    Network,
    /// `PRI_CPE`: the user side.
    Cpe,
}

/// Switch variants used in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `PRI_SWITCH_EUROISDN_E1`.
    EuroIsdnE1,
    /// `PRI_SWITCH_NI2`.
    Ni2,
    /// `PRI_SWITCH_LUCENT5E` (AT&T 5ESS: SERVICE under protocol discriminator 0x03).
    Lucent5e,
}

/// libpri timers and counters settable with `pri_set_timer` (values in ms or counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriTimer {
    N200,
    K,
    T200,
    T203,
    T303,
    T305,
    T308,
    T309,
    T310,
    T313,
    T316,
    N316,
}

impl PriTimer {
    fn index(self) -> c_int {
        match self {
            PriTimer::N200 => ffi::PRI_TIMER_N200,
            PriTimer::K => ffi::PRI_TIMER_K,
            PriTimer::T200 => ffi::PRI_TIMER_T200,
            PriTimer::T203 => ffi::PRI_TIMER_T203,
            PriTimer::T303 => ffi::PRI_TIMER_T303,
            PriTimer::T305 => ffi::PRI_TIMER_T305,
            PriTimer::T308 => ffi::PRI_TIMER_T308,
            PriTimer::T309 => ffi::PRI_TIMER_T309,
            PriTimer::T310 => ffi::PRI_TIMER_T310,
            PriTimer::T313 => ffi::PRI_TIMER_T313,
            PriTimer::T316 => ffi::PRI_TIMER_T316,
            PriTimer::N316 => ffi::PRI_TIMER_N316,
        }
    }
}

/// A libpri call handle (`q931_call *`), owned by libpri; only ever handed back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallRef(NonNull<ffi::Q931Call>);

impl CallRef {
    fn from_raw(ptr: *mut ffi::Q931Call) -> Option<CallRef> {
        NonNull::new(ptr).map(CallRef)
    }
    fn raw(self) -> *mut ffi::Q931Call {
        self.0.as_ptr()
    }
}

/// An incoming SETUP (`PRI_EVENT_RING`), copied out of libpri's event storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    pub call: Option<CallRef>,
    pub channel: i32,
    pub flexible: bool,
    pub cref: i32,
    pub called_number: String,
    pub called_plan: i32,
    pub calling_number: String,
    pub calling_plan: i32,
    pub calling_pres: i32,
    pub calling_name: String,
    pub complete: bool,
    pub bearer: i32,
    pub layer1: i32,
    pub progress_mask: i32,
    pub keypad_digits: String,
}

/// HANGUP, HANGUP_REQ and HANGUP_ACK events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup {
    pub call: Option<CallRef>,
    pub channel: i32,
    pub cause: i32,
    pub cref: i32,
}

/// RINGING and ANSWER events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub call: Option<CallRef>,
    pub channel: i32,
    pub cref: i32,
    pub progress: i32,
    pub progress_mask: i32,
    /// `PRI_SUBCMD_CONNECTED_LINE` subcommands (on ANSWER: the CONNECT's Connected
    /// number, COLP).
    pub connected: Vec<ConnectedLine>,
}

/// PROCEEDING and PROGRESS events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proceeding {
    pub call: Option<CallRef>,
    pub channel: i32,
    pub cref: i32,
    pub progress: i32,
    pub progress_mask: i32,
    pub cause: i32,
}

/// `PRI_SUBCMD_TRANSFER_CALL`: the user asked the switch to connect the remote parties of
/// two calls (ETSI ECT); answer with [`LibPri::transfer_rsp`] on `call_1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub call_1: Option<CallRef>,
    pub call_2: Option<CallRef>,
    pub call_1_held: bool,
    pub call_2_held: bool,
    pub invoke_id: i32,
}

/// `PRI_SUBCMD_CONNECTED_LINE`: libpri's view of who the call's party is now connected to
/// (a COLP Connected number on CONNECT, or ECT's `EctInform` / NOTIFY with a redirection
/// number after a transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedLine {
    pub number: String,
    /// Q.931 presentation and screening, libpri's `PRI_PRES_*` coding.
    pub presentation: i32,
    /// Q.931 type of number and numbering plan (octet 3 without the extension bit).
    pub plan: i32,
    pub number_valid: bool,
}

/// What libpri reports, copied into owned Rust values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriEvent {
    DchanUp,
    DchanDown,
    Restart {
        channel: i32,
    },
    ConfigErr {
        message: String,
    },
    Ring(Ring),
    Hangup(Hangup),
    HangupReq(Hangup),
    HangupAck(Hangup),
    Ringing(Answer),
    Answer(Answer),
    RestartAck {
        channel: i32,
    },
    /// FACILITY (or a supplementary service in another message): the transfer requests
    /// among its subcommands (`PRI_SUBCMD_TRANSFER_CALL`).
    Facility {
        call: Option<CallRef>,
        transfers: Vec<TransferRequest>,
        /// `PRI_SUBCMD_CONNECTED_LINE` subcommands.
        connected: Vec<ConnectedLine>,
    },
    InfoReceived {
        call: Option<CallRef>,
        channel: i32,
        digits: String,
        complete: bool,
    },
    Proceeding(Proceeding),
    Progress(Proceeding),
    SetupAck {
        call: Option<CallRef>,
        channel: i32,
        progress_mask: i32,
    },
    Notify {
        call: Option<CallRef>,
        channel: i32,
        info: i32,
    },
    KeypadDigit {
        call: Option<CallRef>,
        channel: i32,
        digits: String,
    },
    Service {
        channel: i32,
        change_status: i32,
    },
    ServiceAck {
        channel: i32,
        change_status: i32,
    },
    ConnectAck {
        call: Option<CallRef>,
        channel: i32,
    },
    /// Any other event code (hold/retrieve and supplementary services).
    Other(i32),
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The `PRI_SUBCMD_CONNECTED_LINE` subcommands of an event's subcommand list.
///
/// # Safety
/// `subs` must be null or libpri's subcommand list of the event just returned.
unsafe fn connected_lines(subs: *mut ffi::PriSubcommands) -> Vec<ConnectedLine> {
    let Some(subs) = subs.as_ref() else {
        return Vec::new();
    };
    let n = (subs.counter_subcmd.max(0) as usize).min(ffi::PRI_MAX_SUBCOMMANDS);
    subs.subcmd[..n]
        .iter()
        .filter(|sc| sc.cmd == ffi::PRI_SUBCMD_CONNECTED_LINE)
        .map(|sc| {
            let id = &*(sc.u.as_ptr() as *const ffi::PriPartyId);
            ConnectedLine {
                number: text(&id.number.str_),
                presentation: id.number.presentation,
                plan: id.number.plan,
                number_valid: id.number.valid != 0,
            }
        })
        .collect()
}

impl PriEvent {
    /// Copies the event libpri points to.
    ///
    /// # Safety
    /// `raw` must be null or the pointer libpri just returned from `pri_check_event` /
    /// `pri_schedule_run` (valid until the next libpri call).
    unsafe fn from_raw(raw: *mut ffi::PriEventRaw) -> Option<PriEvent> {
        let raw = NonNull::new(raw)?;
        let e = raw.as_ref().e;
        let p = raw.as_ptr();
        let hangup = |p: *mut ffi::PriEventRaw| {
            let h = &*(p as *const ffi::PriEventHangup);
            Hangup {
                call: CallRef::from_raw(h.call),
                channel: h.channel,
                cause: h.cause,
                cref: h.cref,
            }
        };
        let answer = |p: *mut ffi::PriEventRaw| {
            let a = &*(p as *const ffi::PriEventAnswer);
            Answer {
                call: CallRef::from_raw(a.call),
                channel: a.channel,
                cref: a.cref,
                progress: a.progress,
                progress_mask: a.progressmask,
                connected: connected_lines(a.subcmds),
            }
        };
        let proceeding = |p: *mut ffi::PriEventRaw| {
            let a = &*(p as *const ffi::PriEventProceeding);
            Proceeding {
                call: CallRef::from_raw(a.call),
                channel: a.channel,
                cref: a.cref,
                progress: a.progress,
                progress_mask: a.progressmask,
                cause: a.cause,
            }
        };
        Some(match e {
            ffi::PRI_EVENT_DCHAN_UP => PriEvent::DchanUp,
            ffi::PRI_EVENT_DCHAN_DOWN => PriEvent::DchanDown,
            ffi::PRI_EVENT_RESTART => PriEvent::Restart {
                channel: (*(p as *const ffi::PriEventRestart)).channel,
            },
            ffi::PRI_EVENT_CONFIG_ERR => PriEvent::ConfigErr {
                message: text(&(*(p as *const ffi::PriEventError)).err),
            },
            ffi::PRI_EVENT_RING => {
                let r = &*(p as *const ffi::PriEventRing);
                PriEvent::Ring(Ring {
                    call: CallRef::from_raw(r.call),
                    channel: r.channel,
                    flexible: r.flexible != 0,
                    cref: r.cref,
                    called_number: text(&r.callednum),
                    called_plan: r.calledplan,
                    calling_number: text(&r.callingnum),
                    calling_plan: r.callingplan,
                    calling_pres: r.callingpres,
                    calling_name: text(&r.callingname),
                    complete: r.complete != 0,
                    bearer: r.ctype,
                    layer1: r.layer1,
                    progress_mask: r.progressmask,
                    keypad_digits: text(&r.keypad_digits),
                })
            }
            ffi::PRI_EVENT_HANGUP => PriEvent::Hangup(hangup(p)),
            ffi::PRI_EVENT_HANGUP_REQ => PriEvent::HangupReq(hangup(p)),
            ffi::PRI_EVENT_HANGUP_ACK => PriEvent::HangupAck(hangup(p)),
            ffi::PRI_EVENT_RINGING => PriEvent::Ringing(answer(p)),
            ffi::PRI_EVENT_ANSWER => PriEvent::Answer(answer(p)),
            ffi::PRI_EVENT_RESTART_ACK => PriEvent::RestartAck {
                channel: (*(p as *const ffi::PriEventRestart)).channel,
            },
            ffi::PRI_EVENT_FACILITY => {
                let f = &*(p as *const ffi::PriEventFacility);
                let mut transfers = Vec::new();
                if let Some(subs) = f.subcmds.as_ref() {
                    let n = (subs.counter_subcmd.max(0) as usize).min(ffi::PRI_MAX_SUBCOMMANDS);
                    for sc in &subs.subcmd[..n] {
                        if sc.cmd == ffi::PRI_SUBCMD_TRANSFER_CALL {
                            let t = &*(sc.u.as_ptr() as *const ffi::PriSubcmdTransfer);
                            transfers.push(TransferRequest {
                                call_1: CallRef::from_raw(t.call_1),
                                call_2: CallRef::from_raw(t.call_2),
                                call_1_held: t.is_call_1_held != 0,
                                call_2_held: t.is_call_2_held != 0,
                                invoke_id: t.invoke_id,
                            });
                        }
                    }
                }
                let connected = connected_lines(f.subcmds);
                PriEvent::Facility {
                    call: CallRef::from_raw(f.call),
                    transfers,
                    connected,
                }
            }
            ffi::PRI_EVENT_INFO_RECEIVED => {
                // libpri fills the ring view for INFORMATION (q931.c).
                let r = &*(p as *const ffi::PriEventRing);
                PriEvent::InfoReceived {
                    call: CallRef::from_raw(r.call),
                    channel: r.channel,
                    digits: text(&r.callednum),
                    complete: r.complete != 0,
                }
            }
            ffi::PRI_EVENT_PROCEEDING => PriEvent::Proceeding(proceeding(p)),
            ffi::PRI_EVENT_PROGRESS => PriEvent::Progress(proceeding(p)),
            ffi::PRI_EVENT_SETUP_ACK => {
                let s = &*(p as *const ffi::PriEventSetupAck);
                PriEvent::SetupAck {
                    call: CallRef::from_raw(s.call),
                    channel: s.channel,
                    progress_mask: s.progressmask,
                }
            }
            ffi::PRI_EVENT_NOTIFY => {
                let n = &*(p as *const ffi::PriEventNotify);
                PriEvent::Notify {
                    call: CallRef::from_raw(n.call),
                    channel: n.channel,
                    info: n.info,
                }
            }
            ffi::PRI_EVENT_KEYPAD_DIGIT => {
                let k = &*(p as *const ffi::PriEventKeypadDigit);
                PriEvent::KeypadDigit {
                    call: CallRef::from_raw(k.call),
                    channel: k.channel,
                    digits: text(&k.digits),
                }
            }
            ffi::PRI_EVENT_SERVICE | ffi::PRI_EVENT_SERVICE_ACK => {
                let s = &*(p as *const ffi::PriEventService);
                if e == ffi::PRI_EVENT_SERVICE {
                    PriEvent::Service {
                        channel: s.channel,
                        change_status: s.changestatus,
                    }
                } else {
                    PriEvent::ServiceAck {
                        channel: s.channel,
                        change_status: s.changestatus,
                    }
                }
            }
            ffi::PRI_EVENT_CONNECT_ACK => {
                let c = &*(p as *const ffi::PriEventConnectAck);
                PriEvent::ConnectAck {
                    call: CallRef::from_raw(c.call),
                    channel: c.channel,
                }
            }
            other => PriEvent::Other(other),
        })
    }
}

/// An outgoing SETUP for [`LibPri::call`].
#[derive(Debug, Clone)]
pub struct CallParams<'a> {
    /// B-channel (libpri's channel encoding: the channel number for a single span).
    pub channel: i32,
    pub exclusive: bool,
    pub called: &'a str,
    /// `PRI_UNKNOWN`, `PRI_NATIONAL_ISDN`, ... (type of number and plan, libpri coding).
    pub called_plan: i32,
    pub calling: &'a str,
    pub calling_plan: i32,
    /// The caller's name (libpri sends it in a Display, and on NI-2 in a Facility too).
    pub calling_name: &'a str,
    /// Sending complete (en-bloc) rather than overlap.
    pub complete: bool,
    /// `PRI_TRANS_CAP_*`.
    pub bearer: i32,
    /// `PRI_LAYER_1_*`.
    pub layer1: i32,
}

impl Default for CallParams<'_> {
    fn default() -> Self {
        CallParams {
            channel: 1,
            exclusive: true,
            called: "",
            called_plan: ffi::PRI_UNKNOWN,
            calling: "",
            calling_plan: ffi::PRI_UNKNOWN,
            calling_name: "",
            complete: true,
            bearer: ffi::PRI_TRANS_CAP_SPEECH,
            layer1: ffi::PRI_LAYER_1_ALAW,
        }
    }
}

/// Why a libpri request failed (its functions return -1 without detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriRefused(pub &'static str);

fn check(rc: c_int, what: &'static str) -> Result<(), PriRefused> {
    if rc == 0 {
        Ok(())
    } else {
        Err(PriRefused(what))
    }
}

static MESSAGES: Once = Once::new();

/// libpri's message and error output: on stderr when `LIBPRI_DEBUG` is set, dropped
/// otherwise.
unsafe extern "C" fn on_message(_pri: *mut ffi::Pri, text: *mut c_char) {
    if !text.is_null() && std::env::var_os("LIBPRI_DEBUG").is_some() {
        eprint!("libpri: {}", CStr::from_ptr(text).to_string_lossy());
    }
}

/// One libpri D-channel controller (`struct pri`) on a file descriptor it reads and writes
/// itself. libpri 1.6 has no destructor: dropping closes the descriptor and leaves libpri's
/// few kilobytes allocated.
pub struct LibPri {
    pri: NonNull<ffi::Pri>,
    fd: OwnedFd,
}

impl LibPri {
    /// `pri_new(fd, node, switch)`. libpri starts its data link at once (it sends SABME).
    pub fn new(fd: OwnedFd, node: Node, switch: Switch) -> LibPri {
        MESSAGES.call_once(|| unsafe {
            ffi::pri_set_message(Some(on_message));
            ffi::pri_set_error(Some(on_message));
        });
        let node = match node {
            Node::Network => ffi::PRI_NETWORK,
            Node::Cpe => ffi::PRI_CPE,
        };
        let switch = match switch {
            Switch::EuroIsdnE1 => ffi::PRI_SWITCH_EUROISDN_E1,
            Switch::Ni2 => ffi::PRI_SWITCH_NI2,
            Switch::Lucent5e => ffi::PRI_SWITCH_LUCENT5E,
        };
        // SAFETY: fd is an open, non-blocking socket that outlives the controller (owned
        // by the returned value).
        let pri = unsafe { ffi::pri_new(fd.as_raw_fd(), node, switch) };
        let pri = NonNull::new(pri).expect("pri_new failed");
        LibPri { pri, fd }
    }

    /// The library version string.
    pub fn version() -> String {
        // SAFETY: pri_get_version returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(ffi::pri_get_version()) }
            .to_string_lossy()
            .into_owned()
    }

    fn p(&self) -> *mut ffi::Pri {
        self.pri.as_ptr()
    }

    /// The descriptor libpri reads: readable when our side sent it a frame.
    pub fn fd(&self) -> c_int {
        self.fd.as_raw_fd()
    }

    pub fn set_debug(&mut self, flags: i32) {
        unsafe { ffi::pri_set_debug(self.p(), flags) }
    }

    pub fn set_timer(&mut self, timer: PriTimer, value: i32) {
        let rc = unsafe { ffi::pri_set_timer(self.p(), timer.index(), value) };
        assert_eq!(rc, 0, "pri_set_timer({timer:?})");
    }

    pub fn timer(&self, timer: PriTimer) -> i32 {
        unsafe { ffi::pri_get_timer(self.p(), timer.index()) }
    }

    /// `pri_facility_enable`: send supplementary services in Facility elements (NI-2:
    /// the caller's name as a `callingName` invoke).
    pub fn facility_enable(&mut self) {
        unsafe { ffi::pri_facility_enable(self.p()) }
    }

    /// `pri_display_options_send(PRI_DISPLAY_OPTION_BLOCK)`: no Display element goes.
    pub fn display_send_block(&mut self) {
        unsafe { ffi::pri_display_options_send(self.p(), 1) }
    }

    /// `pri_display_options_send(0)`: the switch type's default again.
    pub fn display_send_default(&mut self) {
        unsafe { ffi::pri_display_options_send(self.p(), 0) }
    }

    /// `pri_transfer_enable`: accept ECT requests (`EctLinkIdRequest` is answered, and
    /// `ExplicitEctExecute` becomes a [`TransferRequest`]).
    pub fn transfer_enable(&mut self, enable: bool) {
        unsafe { ffi::pri_transfer_enable(self.p(), c_int::from(enable)) }
    }

    /// `pri_transfer_rsp`: the result of a [`TransferRequest`]. Success queues the Return
    /// Result for the DISCONNECT of `call` (send it with [`LibPri::hangup`]); failure sends
    /// a Return Error (notAvailable) in a FACILITY at once.
    pub fn transfer_rsp(
        &mut self,
        call: CallRef,
        invoke_id: i32,
        ok: bool,
    ) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_transfer_rsp(self.p(), call.raw(), invoke_id, c_int::from(ok)) },
            "pri_transfer_rsp",
        )
    }

    /// `pri_connected_line_update`: the party of `call` is now connected to `number`
    /// (`plan`: type of number and numbering plan, `presentation`: `PRI_PRES_*`). On an
    /// active EuroISDN PRI call libpri sends ECT's `EctInform` in a FACILITY.
    pub fn connected_line_update(
        &mut self,
        call: CallRef,
        number: &str,
        plan: i32,
        presentation: i32,
    ) -> Result<(), PriRefused> {
        // SAFETY: plain data; zero is libpri's "not valid" for every part.
        let mut id: ffi::PriPartyId = unsafe { std::mem::zeroed() };
        id.number.valid = 1;
        id.number.plan = plan;
        id.number.presentation = presentation;
        let n = number.len().min(id.number.str_.len() - 1);
        id.number.str_[..n].copy_from_slice(&number.as_bytes()[..n]);
        check(
            unsafe { ffi::pri_connected_line_update(self.p(), call.raw(), &id) },
            "pri_connected_line_update",
        )
    }

    /// `pri_channel_bridge`: as the user side, ask the switch to transfer the two calls
    /// (ETSI ECT, NI-2 2BCT, DMS-100 RLT by switch type).
    pub fn channel_bridge(&mut self, a: CallRef, b: CallRef) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_channel_bridge(a.raw(), b.raw()) },
            "pri_channel_bridge",
        )
    }

    pub fn hangup_fix_enable(&mut self, enable: bool) {
        unsafe { ffi::pri_hangup_fix_enable(self.p(), c_int::from(enable)) }
    }

    pub fn set_overlapdial(&mut self, enable: bool) {
        unsafe { ffi::pri_set_overlapdial(self.p(), c_int::from(enable)) }
    }

    /// `pri_set_service_message_support`: real SERVICE handling (libpri otherwise echoes
    /// a SERVICE back as its acknowledgement without telling the application).
    pub fn set_service_message_support(&mut self, enable: bool) {
        let rc = unsafe { ffi::pri_set_service_message_support(self.p(), c_int::from(enable)) };
        assert_eq!(rc, 0, "pri_set_service_message_support");
    }

    /// `pri_maintenance_service(span 0, channel, status)`: SERVICE for one B-channel.
    pub fn maintenance_service(&mut self, channel: i32, status: i32) -> Result<(), PriRefused> {
        match unsafe { ffi::pri_maintenance_service(self.p(), 0, channel, status) } {
            0 => Ok(()),
            _ => Err(PriRefused("pri_maintenance_service")),
        }
    }

    pub fn set_inband_disconnect(&mut self, enable: bool) {
        unsafe { ffi::pri_set_inbanddisconnect(self.p(), u32::from(enable)) }
    }

    /// `pri_check_event`: reads one frame from the descriptor and runs it.
    pub fn check_event(&mut self) -> Option<PriEvent> {
        // SAFETY: the returned pointer is read before any other libpri call.
        unsafe { PriEvent::from_raw(ffi::pri_check_event(self.p())) }
    }

    /// Time until libpri's next timer, from `pri_schedule_next` (an absolute wall-clock
    /// `timeval`); zero if overdue.
    pub fn schedule_next(&self) -> Option<Duration> {
        // SAFETY: null or a pointer into the controller, read at once.
        let tv = unsafe { ffi::pri_schedule_next(self.p()).as_ref().copied() }?;
        let due = Duration::new(
            u64::try_from(tv.tv_sec).unwrap_or(0),
            u32::try_from(tv.tv_usec).unwrap_or(0).saturating_mul(1000),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Some(due.saturating_sub(now))
    }

    /// `pri_schedule_run`: runs due timers, returning at most one event per call.
    pub fn schedule_run(&mut self) -> Option<PriEvent> {
        // SAFETY: as in check_event.
        unsafe { PriEvent::from_raw(ffi::pri_schedule_run(self.p())) }
    }

    /// Runs every timer of libpri's that is due (at most one event per
    /// `pri_schedule_run`, so as long as one is due); `out` takes each event.
    pub fn run_due_timers(&mut self, mut out: impl FnMut(PriEvent)) {
        for _ in 0..64 {
            if self.schedule_next() != Some(Duration::ZERO) {
                break;
            }
            if let Some(e) = self.schedule_run() {
                out(e);
            }
        }
    }

    /// Lets libpri read every frame waiting on its descriptor (one per
    /// `pri_check_event`); `out` takes each event.
    pub fn read_all(&mut self, mut out: impl FnMut(PriEvent)) {
        loop {
            let mut fd = [ffi::PollFd {
                fd: self.fd(),
                events: ffi::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            if unsafe { ffi::poll(fd.as_mut_ptr(), 1, 0) } <= 0 {
                break;
            }
            if let Some(e) = self.check_event() {
                out(e);
            }
        }
    }

    /// Waits until libpri's descriptor or `ours` is readable, at most `max_wait` and no
    /// later than `ours_due` (our side's next timer) or libpri's next timer; returns
    /// which of the two is readable (libpri's, ours).
    pub fn wait_with(
        &self,
        ours: c_int,
        ours_due: Option<Instant>,
        max_wait: Duration,
    ) -> (bool, bool) {
        let mut wait = max_wait;
        if let Some(t) = ours_due {
            wait = wait.min(t.saturating_duration_since(Instant::now()));
        }
        if let Some(d) = self.schedule_next() {
            wait = wait.min(d);
        }
        let mut fds = [
            ffi::PollFd {
                fd: self.fd(),
                events: ffi::POLLIN,
                revents: 0,
            },
            ffi::PollFd {
                fd: ours,
                events: ffi::POLLIN,
                revents: 0,
            },
        ];
        // Round up so that a deadline 0.3 ms away does not spin.
        let ms = wait.as_micros().div_ceil(1000).min(1000) as i32;
        // SAFETY: fds is a valid array of two pollfd.
        if unsafe { ffi::poll(fds.as_mut_ptr(), 2, ms) } <= 0 {
            return (false, false);
        }
        (fds[0].revents != 0, fds[1].revents != 0)
    }

    pub fn new_call(&mut self) -> Option<CallRef> {
        CallRef::from_raw(unsafe { ffi::pri_new_call(self.p()) })
    }

    pub fn destroy_call(&mut self, call: CallRef) {
        unsafe { ffi::pri_destroycall(self.p(), call.raw()) }
    }

    /// Sends SETUP for `call` (from [`LibPri::new_call`]).
    pub fn call(&mut self, call: CallRef, params: &CallParams<'_>) -> Result<(), PriRefused> {
        let called = CString::new(params.called).map_err(|_| PriRefused("called number"))?;
        let calling = CString::new(params.calling).map_err(|_| PriRefused("calling number"))?;
        let name = CString::new(params.calling_name).map_err(|_| PriRefused("calling name"))?;
        // SAFETY: the strings outlive pri_setup, which copies them; sr is freed after.
        unsafe {
            let sr = ffi::pri_sr_new();
            if sr.is_null() {
                return Err(PriRefused("pri_sr_new"));
            }
            ffi::pri_sr_set_channel(sr, params.channel, c_int::from(params.exclusive), 0);
            ffi::pri_sr_set_bearer(sr, params.bearer, params.layer1);
            ffi::pri_sr_set_called(
                sr,
                called.as_ptr() as *mut c_char,
                params.called_plan,
                c_int::from(params.complete),
            );
            ffi::pri_sr_set_caller(
                sr,
                calling.as_ptr() as *mut c_char,
                name.as_ptr() as *mut c_char,
                params.calling_plan,
                ffi::PRES_ALLOWED_USER_NUMBER_NOT_SCREENED,
            );
            let rc = ffi::pri_setup(self.p(), call.raw(), sr);
            ffi::pri_sr_free(sr);
            check(rc, "pri_setup")
        }
    }

    /// CALL PROCEEDING.
    pub fn proceeding(
        &mut self,
        call: CallRef,
        channel: i32,
        inband: bool,
    ) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_proceeding(self.p(), call.raw(), channel, c_int::from(inband)) },
            "pri_proceeding",
        )
    }

    /// ALERTING (`pri_acknowledge`), with a progress indicator for in-band tones if `inband`.
    pub fn alerting(
        &mut self,
        call: CallRef,
        channel: i32,
        inband: bool,
    ) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_acknowledge(self.p(), call.raw(), channel, c_int::from(inband)) },
            "pri_acknowledge",
        )
    }

    /// PROGRESS.
    pub fn progress(
        &mut self,
        call: CallRef,
        channel: i32,
        inband: bool,
    ) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_progress(self.p(), call.raw(), channel, c_int::from(inband)) },
            "pri_progress",
        )
    }

    /// SETUP ACKNOWLEDGE (`pri_need_more_info`), for overlap receiving.
    pub fn setup_ack(&mut self, call: CallRef, channel: i32) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_need_more_info(self.p(), call.raw(), channel, 0) },
            "pri_need_more_info",
        )
    }

    /// INFORMATION with one more digit (overlap sending).
    pub fn information(&mut self, call: CallRef, digit: u8) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_information(self.p(), call.raw(), digit as c_char) },
            "pri_information",
        )
    }

    /// CONNECT.
    pub fn answer(&mut self, call: CallRef, channel: i32) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_answer(self.p(), call.raw(), channel, 0) },
            "pri_answer",
        )
    }

    /// DISCONNECT / RELEASE / RELEASE COMPLETE as the call state requires, with `cause`.
    pub fn hangup(&mut self, call: CallRef, cause: i32) -> Result<(), PriRefused> {
        check(
            unsafe { ffi::pri_hangup(self.p(), call.raw(), cause) },
            "pri_hangup",
        )
    }

    /// RESTART of one channel.
    pub fn reset(&mut self, channel: i32) -> Result<(), PriRefused> {
        check(unsafe { ffi::pri_reset(self.p(), channel) }, "pri_reset")
    }
}

/// A connected `AF_UNIX`/`SOCK_SEQPACKET` pair, both ends non-blocking: one frame per
/// read, as on a DAHDI HDLC channel.
pub fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut sv = [0 as c_int; 2];
    // SAFETY: sv has room for the two descriptors.
    let rc = unsafe {
        ffi::socketpair(
            ffi::AF_UNIX,
            ffi::SOCK_SEQPACKET | ffi::SOCK_NONBLOCK | ffi::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) }
}
