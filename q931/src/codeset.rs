//! Codesets and the shift procedures, Q.931 §4.5.2 (locking shift) and §4.5.3 (non-locking
//! shift).
//!
//! Codeset 0 holds the Q.931 elements; codeset 4 is ISO/IEC, 5 national, 6 local network,
//! 7 user specific. Shift elements are kept in the element list where they appeared, so a
//! message re-encodes byte for byte.

use std::fmt;

/// One of the eight codesets (3 bits), Q.931 §4.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Codeset(u8);

impl Codeset {
    /// The Q.931 (ITU-T) information elements.
    pub const Q931: Codeset = Codeset(0);
    /// ISO/IEC standard elements.
    pub const ISO_IEC: Codeset = Codeset(4);
    /// National elements (e.g. ETSI codeset 5, ANSI T1.607).
    pub const NATIONAL: Codeset = Codeset(5);
    /// Elements specific to the local serving network.
    pub const LOCAL_NETWORK: Codeset = Codeset(6);
    /// User-specific elements.
    pub const USER_SPECIFIC: Codeset = Codeset(7);

    /// The codeset numbered `n`; the low 3 bits are used.
    pub const fn new(n: u8) -> Self {
        Codeset(n & 0x07)
    }

    /// The codeset number, 0..=7.
    pub const fn value(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Codeset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "codeset {}", self.0)
    }
}

/// A shift element (single octet `1001 L ccc`), Q.931 §4.5.2/§4.5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shift {
    /// `true` for a locking shift (bit 4 = 0), `false` for a non-locking shift (bit 4 = 1).
    pub locking: bool,
    /// The new codeset.
    pub codeset: Codeset,
}

impl Shift {
    /// Identifier bits 8–5 of a shift element.
    pub const TAG: u8 = 0x90;

    /// A locking shift to `codeset` (§4.5.2).
    pub const fn locking(codeset: Codeset) -> Self {
        Shift {
            locking: true,
            codeset,
        }
    }

    /// A non-locking shift to `codeset` (§4.5.3): applies to the next element only.
    pub const fn non_locking(codeset: Codeset) -> Self {
        Shift {
            locking: false,
            codeset,
        }
    }

    /// Reads a shift octet; `None` if `octet` is not a shift element.
    pub const fn from_octet(octet: u8) -> Option<Self> {
        if octet & 0xF0 != Self::TAG {
            return None;
        }
        Some(Shift {
            locking: octet & 0x08 == 0,
            codeset: Codeset::new(octet),
        })
    }

    /// The octet on the wire.
    pub const fn to_octet(self) -> u8 {
        Self::TAG | if self.locking { 0 } else { 0x08 } | self.codeset.value()
    }
}

/// Tracks the active codeset while walking a message's elements (§4.5.2, §4.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodesetTracker {
    locked: Codeset,
    next_only: Option<Codeset>,
}

impl Default for CodesetTracker {
    fn default() -> Self {
        CodesetTracker {
            locked: Codeset::Q931,
            next_only: None,
        }
    }
}

/// How a shift element fits the rules of §4.5.2/§4.5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftOutcome {
    /// The shift is valid and now in effect.
    Applied,
    /// §4.5.2: a locking shift may only go to a higher codeset than the active one. The
    /// shift is not applied.
    LockingToLowerOrSame,
    /// §4.5.3: a non-locking shift directly followed by another shift; the first one is
    /// dropped and the second applies.
    NonLockingThenShift,
}

impl CodesetTracker {
    /// The codeset the next element belongs to.
    pub fn current(&self) -> Codeset {
        self.next_only.unwrap_or(self.locked)
    }

    /// The locked codeset (what applies after any pending non-locking shift).
    pub fn locked(&self) -> Codeset {
        self.locked
    }

    /// Applies a shift element.
    pub fn shift(&mut self, shift: Shift) -> ShiftOutcome {
        let dropped_pending = self.next_only.take().is_some();
        if shift.locking {
            if shift.codeset <= self.locked {
                return ShiftOutcome::LockingToLowerOrSame;
            }
            self.locked = shift.codeset;
        } else {
            self.next_only = Some(shift.codeset);
        }
        if dropped_pending {
            ShiftOutcome::NonLockingThenShift
        } else {
            ShiftOutcome::Applied
        }
    }

    /// Call after each non-shift element: a non-locking shift lasts for one element only.
    pub fn element_done(&mut self) {
        self.next_only = None;
    }
}
