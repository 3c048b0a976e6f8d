//! Message type, Q.931 §4.4 Table 4-2; the SERVICE / SERVICE ACKNOWLEDGE maintenance pair
//! under protocol discriminator 0x03 (AT&T coding) or 0x43 (national coding, mirrored).

use super::ProtocolDiscriminator;
use std::fmt;

macro_rules! message_types {
    ($($(#[$m:meta])* $v:ident = $n:expr, $name:expr;)*) => {
        /// The message type octet.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $($(#[$m])* $v,)*
            /// SERVICE (0x0F under protocol discriminator 0x03, 0x07 under 0x43).
            Service,
            /// SERVICE ACKNOWLEDGE (0x07 under protocol discriminator 0x03, 0x0F under 0x43).
            ServiceAcknowledge,
            /// A value this crate does not implement (§5.8.4), kept as received.
            Unknown(u8),
        }

        impl MessageType {
            /// Reads the message type octet under the given protocol discriminator.
            pub const fn from_octet(pd: ProtocolDiscriminator, octet: u8) -> Self {
                if pd.is_maintenance() {
                    let national = pd.0 == ProtocolDiscriminator::MAINTENANCE_NATIONAL.0;
                    return match (octet, national) {
                        (0x0F, false) | (0x07, true) => Self::Service,
                        (0x07, false) | (0x0F, true) => Self::ServiceAcknowledge,
                        (o, _) => Self::Unknown(o),
                    };
                }
                match octet {
                    $($n => Self::$v,)*
                    o => Self::Unknown(o),
                }
            }

            /// The octet on the wire under protocol discriminator `pd` (the maintenance
            /// pair is mirrored under 0x43).
            pub const fn octet_in(self, pd: ProtocolDiscriminator) -> u8 {
                match self {
                    Self::Service if pd.0 == ProtocolDiscriminator::MAINTENANCE_NATIONAL.0 => 0x07,
                    Self::ServiceAcknowledge
                        if pd.0 == ProtocolDiscriminator::MAINTENANCE_NATIONAL.0 =>
                    {
                        0x0F
                    }
                    m => m.octet(),
                }
            }

            /// The octet on the wire (the maintenance pair in the 0x03 coding).
            pub const fn octet(self) -> u8 {
                match self {
                    $(Self::$v => $n,)*
                    Self::Service => 0x0F,
                    Self::ServiceAcknowledge => 0x07,
                    Self::Unknown(o) => o,
                }
            }

            /// The name in Q.931 Table 4-2.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$v => $name,)*
                    Self::Service => "SERVICE",
                    Self::ServiceAcknowledge => "SERVICE ACKNOWLEDGE",
                    Self::Unknown(_) => "unknown",
                }
            }
        }
    };
}

message_types! {
    // Call establishment messages.
    Alerting = 0x01, "ALERTING";
    CallProceeding = 0x02, "CALL PROCEEDING";
    Progress = 0x03, "PROGRESS";
    Setup = 0x05, "SETUP";
    Connect = 0x07, "CONNECT";
    SetupAcknowledge = 0x0D, "SETUP ACKNOWLEDGE";
    ConnectAcknowledge = 0x0F, "CONNECT ACKNOWLEDGE";
    // Call information phase messages.
    UserInformation = 0x20, "USER INFORMATION";
    SuspendReject = 0x21, "SUSPEND REJECT";
    ResumeReject = 0x22, "RESUME REJECT";
    Suspend = 0x25, "SUSPEND";
    Resume = 0x26, "RESUME";
    SuspendAcknowledge = 0x2D, "SUSPEND ACKNOWLEDGE";
    ResumeAcknowledge = 0x2E, "RESUME ACKNOWLEDGE";
    // Call clearing messages.
    Disconnect = 0x45, "DISCONNECT";
    Restart = 0x46, "RESTART";
    Release = 0x4D, "RELEASE";
    RestartAcknowledge = 0x4E, "RESTART ACKNOWLEDGE";
    ReleaseComplete = 0x5A, "RELEASE COMPLETE";
    // Miscellaneous messages.
    Segment = 0x60, "SEGMENT";
    Facility = 0x62, "FACILITY";
    Notify = 0x6E, "NOTIFY";
    StatusEnquiry = 0x75, "STATUS ENQUIRY";
    CongestionControl = 0x79, "CONGESTION CONTROL";
    Information = 0x7B, "INFORMATION";
    Status = 0x7D, "STATUS";
}

impl MessageType {
    /// `true` for [`MessageType::Unknown`].
    pub const fn is_unknown(self) -> bool {
        matches!(self, Self::Unknown(_))
    }

    /// Q.931 §5.8.3.2: the messages that may use the global call reference (plus the NI-2
    /// SERVICE pair, which is sent on it too).
    pub const fn allows_global_call_ref(self) -> bool {
        matches!(
            self,
            Self::Restart
                | Self::RestartAcknowledge
                | Self::Status
                | Self::Service
                | Self::ServiceAcknowledge
        )
    }

    /// The clearing messages, which §5.8 treats specially.
    pub const fn is_clearing(self) -> bool {
        matches!(
            self,
            Self::Disconnect | Self::Release | Self::ReleaseComplete
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(o) => write!(f, "unknown message type {o:#04x}"),
            m => f.write_str(m.name()),
        }
    }
}
