//! Switch variants as data: what differs between ETSI EN 300 403 (EuroISDN, E1) and
//! Telcordia NI-2 (T1) for basic call, read by the procedures instead of forking them.
//! Another variant (DMS-100, 4ESS/5ESS, QSIG) is one more [`SwitchType`] and constructor.

use crate::ie::SlotMapKind;
use crate::message::ProtocolDiscriminator;

/// The switch type the D-channel talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwitchType {
    /// ETSI EN 300 403 (EuroISDN, DSS1).
    EuroIsdn,
    /// Telcordia National ISDN-2 (ANSI T1.607 based).
    Ni2,
}

/// The primary rate span the D-channel controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// E1 (G.704): B-channels in timeslots 1–15 and 17–31, channel number = timeslot
    /// (Q.931 §4.5.13 note, ETSI EN 300 403 §4.5.13).
    E1,
    /// T1 (G.704 / ANSI T1.403) with the D-channel on channel 24: B-channels 1–23.
    T1,
}

impl Span {
    /// The B-channel numbers, ascending.
    pub fn b_channels(self) -> Vec<u8> {
        match self {
            Span::E1 => (1..=31).filter(|&c| c != 16).collect(),
            Span::T1 => (1..=23).collect(),
        }
    }

    /// The slot map form for this span (§4.5.13 octet 3.3).
    pub const fn slot_map(self) -> SlotMapKind {
        match self {
            Span::E1 => SlotMapKind::E1,
            Span::T1 => SlotMapKind::T1,
        }
    }
}

/// Everything the procedures read from the switch variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub switch: SwitchType,
    pub span: Span,
    /// An en-bloc SETUP carries the sending complete element (ETSI EN 300 403 §5.1.1 asks
    /// for it; NI-2 SETUPs do without).
    pub sending_complete_in_setup: bool,
    /// NI-2 maintenance messages (SERVICE / SERVICE ACKNOWLEDGE, protocol discriminator 3)
    /// are understood.
    pub service_messages: bool,
    /// The protocol discriminator of SERVICE / SERVICE ACKNOWLEDGE: 0x43 (national
    /// maintenance, SERVICE = 0x07, as libpri sends for NI-2) or 0x03 (AT&T 4ESS/5ESS
    /// maintenance, SERVICE = 0x0F). Both are understood on receipt. NI-2 uses 0x43 after
    /// libpri, the proven NI-2 peer at hand.
    pub service_discriminator: ProtocolDiscriminator,
}

impl Variant {
    /// ETSI EuroISDN on an E1.
    pub fn euro_isdn_e1() -> Variant {
        Variant {
            switch: SwitchType::EuroIsdn,
            span: Span::E1,
            sending_complete_in_setup: true,
            service_messages: false,
            service_discriminator: ProtocolDiscriminator::MAINTENANCE_NATIONAL,
        }
    }

    /// NI-2 on a T1.
    pub fn ni2_t1() -> Variant {
        Variant {
            switch: SwitchType::Ni2,
            span: Span::T1,
            sending_complete_in_setup: false,
            service_messages: true,
            service_discriminator: ProtocolDiscriminator::MAINTENANCE_NATIONAL,
        }
    }
}
