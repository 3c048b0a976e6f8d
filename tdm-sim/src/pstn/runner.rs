//! The real-time runner: the switch on its own thread, paced by the device's 1 ms ticker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use q931::ie::CauseValue;
use tracing::warn;

use super::report::{CallId, CallReport, SwitchEvent};
use super::switch::Switch;
use super::SwitchError;

/// A [`Switch`] running on its own thread ([`Switch::spawn`]). Dropping the handle stops
/// the thread.
pub struct SwitchHandle {
    switch: Arc<Mutex<Switch>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Switch {
    /// Runs the switch on a thread that polls it after every tick of `ticker` (take it
    /// from the far device: `sim.far().ticker()`), with `Instant::now()` as the time. For
    /// a simulator in [`crate::ClockMode::RealTime`].
    pub fn spawn(
        self,
        mut ticker: Box<dyn dahdi_driver::Ticker>,
    ) -> Result<SwitchHandle, SwitchError> {
        let switch = Arc::new(Mutex::new(self));
        let stop = Arc::new(AtomicBool::new(false));
        let (sw, st) = (switch.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("pstn-switch".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    if let Err(e) = ticker.wait(Duration::from_millis(20)) {
                        warn!("pstn switch: ticker: {e}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    lock(&sw).poll(Instant::now());
                }
            })
            .map_err(SwitchError::Thread)?;
        Ok(SwitchHandle {
            switch,
            stop,
            thread: Some(thread),
        })
    }
}

fn lock(m: &Mutex<Switch>) -> MutexGuard<'_, Switch> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SwitchHandle {
    /// Runs `f` on the switch, between two polls.
    pub fn with<R>(&self, f: impl FnOnce(&mut Switch) -> R) -> R {
        f(&mut lock(&self.switch))
    }

    /// [`Switch::call`] now.
    pub fn call(&self, called: &str, calling: &str) -> Result<CallId, SwitchError> {
        self.with(|s| s.call(Instant::now(), called, calling))
    }

    /// [`Switch::hangup`] now.
    pub fn hangup(&self, call: CallId, cause: CauseValue) -> Result<(), SwitchError> {
        self.with(|s| s.hangup(Instant::now(), call, cause))
    }

    /// The events so far, taken out.
    pub fn events(&self) -> Vec<SwitchEvent> {
        self.with(|s| std::iter::from_fn(|| s.poll_event()).collect())
    }

    /// A copy of one call's report.
    pub fn report(&self, call: CallId) -> Option<CallReport> {
        self.with(|s| s.report(call).cloned())
    }

    /// Whether the data link of `span` is up.
    pub fn is_link_up(&self, span: dahdi_driver::SpanId) -> bool {
        self.with(|s| s.is_link_up(span))
    }

    /// Stops the thread; the switch stays readable through [`SwitchHandle::with`].
    pub fn stop(&mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SwitchHandle {
    fn drop(&mut self) {
        self.halt();
    }
}
