//! Management error indications (Q.921 §5.8 and Appendix II, Table II-1).

/// An MDL-ERROR indication reported to layer management, by its Table II-1 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MdlError {
    /// A: supervisory response with F=1 received unsolicited (states 7).
    UnsolicitedSupervisoryF1,
    /// B: DM response with F=1 received unsolicited (states 7, 8).
    UnsolicitedDmF1,
    /// C: UA response with F=1 received unsolicited (states 4, 7, 8).
    UnsolicitedUaF1,
    /// D: UA response with F=0 received unsolicited (states 4, 5, 6, 7, 8).
    UnsolicitedUaF0,
    /// E: DM response with F=0 received (states 7, 8): the peer asks for establishment.
    UnsolicitedDmF0,
    /// F: SABME received in states 7 or 8: the peer re-established the link.
    PeerInitiatedReestablishment,
    /// G: SABME sent N200 times without answer (state 5).
    SabmeRetransmissionsExhausted,
    /// H: DISC sent N200 times without answer (state 6).
    DiscRetransmissionsExhausted,
    /// I: status enquiry (RR/RNR with P=1) sent N200 times without answer (state 8).
    StatusEnquiryExhausted,
    /// J: N(R) outside V(A)..=V(S) (states 7, 8).
    SequenceError,
    /// K: FRMR response received (states 7, 8).
    FrmrReceived,
    /// L: frame with an undefined control field received.
    UndefinedControlField,
    /// M: frame carrying an information field where none is permitted.
    InfoNotPermitted,
    /// N: frame of the wrong size.
    WrongSize,
    /// O: I frame with an information field longer than N201.
    N201Exceeded,
}

impl MdlError {
    /// The code letter of Q.921 Appendix II, Table II-1.
    pub const fn code(self) -> char {
        match self {
            MdlError::UnsolicitedSupervisoryF1 => 'A',
            MdlError::UnsolicitedDmF1 => 'B',
            MdlError::UnsolicitedUaF1 => 'C',
            MdlError::UnsolicitedUaF0 => 'D',
            MdlError::UnsolicitedDmF0 => 'E',
            MdlError::PeerInitiatedReestablishment => 'F',
            MdlError::SabmeRetransmissionsExhausted => 'G',
            MdlError::DiscRetransmissionsExhausted => 'H',
            MdlError::StatusEnquiryExhausted => 'I',
            MdlError::SequenceError => 'J',
            MdlError::FrmrReceived => 'K',
            MdlError::UndefinedControlField => 'L',
            MdlError::InfoNotPermitted => 'M',
            MdlError::WrongSize => 'N',
            MdlError::N201Exceeded => 'O',
        }
    }
}

impl core::fmt::Display for MdlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MDL-ERROR ({}) {:?}", self.code(), self)
    }
}
