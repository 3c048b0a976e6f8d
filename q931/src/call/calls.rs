//! The interface's calls by handle, with their earliest timer kept between changes: the
//! owner asks for the next deadline after every turn ([`super::Interface::poll_timeout`]),
//! and most turns change no call of most interfaces, so the walk of every call's timers
//! is done only after a call may have changed.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Instant;

use super::state::Call;
use super::CallHandle;

/// Calls by handle. Reading goes through `Deref` to the map; every way to change a call
/// (`get_mut`, `values_mut`, `insert`, `remove`) forgets the cached deadline.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    map: HashMap<CallHandle, Call>,
    /// The earliest deadline of all calls, when known (`None`: walk again).
    deadline: Cell<Option<Option<Instant>>>,
}

impl Calls {
    /// The earliest deadline of any call's timers.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(d) = self.deadline.get() {
            return d;
        }
        let d = self.map.values().filter_map(Call::deadline).min();
        self.deadline.set(Some(d));
        d
    }

    pub fn get_mut(&mut self, call: &CallHandle) -> Option<&mut Call> {
        self.deadline.set(None);
        self.map.get_mut(call)
    }

    pub fn values_mut(&mut self) -> std::collections::hash_map::ValuesMut<'_, CallHandle, Call> {
        self.deadline.set(None);
        self.map.values_mut()
    }

    pub fn insert(&mut self, handle: CallHandle, call: Call) -> Option<Call> {
        self.deadline.set(None);
        self.map.insert(handle, call)
    }

    pub fn remove(&mut self, call: &CallHandle) -> Option<Call> {
        self.deadline.set(None);
        self.map.remove(call)
    }
}

impl std::ops::Deref for Calls {
    type Target = HashMap<CallHandle, Call>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}
