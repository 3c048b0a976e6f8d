//! The LAPD control field (ITU-T Q.921 §3.4 and §3.6, Tables 4 and 5), modulo 128.

use super::frame::FrameError;

/// A sequence number N(S), N(R), V(S), V(A) or V(R), modulo 128 (Q.921 §3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNo(u8);

impl SeqNo {
    /// The modulus of LAPD sequence numbering.
    pub const MODULUS: u8 = 128;
    /// Sequence number 0.
    pub const ZERO: SeqNo = SeqNo(0);

    /// A sequence number from any integer, reduced modulo 128.
    pub const fn new(value: u8) -> SeqNo {
        SeqNo(value & 0x7F)
    }

    /// The value, 0..=127.
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The next sequence number (modulo 128).
    pub const fn next(self) -> SeqNo {
        SeqNo((self.0 + 1) & 0x7F)
    }

    /// The previous sequence number (modulo 128).
    pub const fn prev(self) -> SeqNo {
        SeqNo(self.0.wrapping_sub(1) & 0x7F)
    }

    /// `self + n` modulo 128.
    pub const fn add(self, n: u8) -> SeqNo {
        SeqNo(self.0.wrapping_add(n) & 0x7F)
    }

    /// How far `self` is ahead of `base`, modulo 128: `(self - base) mod 128`.
    pub const fn since(self, base: SeqNo) -> u8 {
        self.0.wrapping_sub(base.0) & 0x7F
    }
}

/// Supervisory functions (Q.921 §3.6.6 to §3.6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Supervisory {
    /// Receive ready.
    ReceiveReady,
    /// Receive not ready.
    ReceiveNotReady,
    /// Reject.
    Reject,
}

/// Unnumbered functions of LAPD (Q.921 §3.6.9 to §3.6.15, Table 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unnumbered {
    /// Set asynchronous balanced mode extended (command).
    Sabme,
    /// Disconnected mode (response).
    Dm,
    /// Unnumbered information (command).
    Ui,
    /// Disconnect (command).
    Disc,
    /// Unnumbered acknowledgement (response).
    Ua,
    /// Frame reject (response).
    Frmr,
    /// Exchange identification (command or response).
    Xid,
}

impl Unnumbered {
    /// The control octet with the P/F bit clear (Q.921 Table 5).
    pub const fn octet(self) -> u8 {
        match self {
            Unnumbered::Sabme => 0x6F,
            Unnumbered::Dm => 0x0F,
            Unnumbered::Ui => 0x03,
            Unnumbered::Disc => 0x43,
            Unnumbered::Ua => 0x63,
            Unnumbered::Frmr => 0x87,
            Unnumbered::Xid => 0xAF,
        }
    }

    fn from_octet(octet: u8) -> Option<Unnumbered> {
        Some(match octet & !PF_BIT_U {
            0x6F => Unnumbered::Sabme,
            0x0F => Unnumbered::Dm,
            0x03 => Unnumbered::Ui,
            0x43 => Unnumbered::Disc,
            0x63 => Unnumbered::Ua,
            0x87 => Unnumbered::Frmr,
            0xAF => Unnumbered::Xid,
            _ => return None,
        })
    }

    /// Whether this frame type may carry an information field (Q.921 §3.6.10, §3.6.15:
    /// UI, XID and FRMR do; SABME, DM, DISC and UA do not).
    pub const fn allows_info(self) -> bool {
        matches!(self, Unnumbered::Ui | Unnumbered::Frmr | Unnumbered::Xid)
    }
}

/// P/F bit of the one-octet unnumbered control field (bit 5).
const PF_BIT_U: u8 = 0x10;

/// A decoded control field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// Information transfer format (Q.921 §3.4.2): two octets.
    Information {
        /// Send sequence number N(S).
        ns: SeqNo,
        /// Receive sequence number N(R).
        nr: SeqNo,
        /// The P bit (I frames are always commands).
        poll: bool,
    },
    /// Supervisory format (Q.921 §3.4.3): two octets.
    Supervisory {
        /// RR, RNR or REJ.
        function: Supervisory,
        /// Receive sequence number N(R).
        nr: SeqNo,
        /// P bit of a command, F bit of a response.
        poll_final: bool,
    },
    /// Unnumbered format (Q.921 §3.4.4): one octet.
    Unnumbered {
        /// The unnumbered function.
        function: Unnumbered,
        /// P bit of a command, F bit of a response.
        poll_final: bool,
    },
}

impl Control {
    /// Decodes the control field at the start of `bytes` and returns it with its length.
    ///
    /// Errors: [`FrameError::UndefinedControl`] for codings Q.921 does not define (§5.8.5 a),
    /// [`FrameError::TooShort`] when a two-octet format is cut after its first octet.
    pub fn decode(bytes: &[u8]) -> Result<(Control, usize), FrameError> {
        let Some(&first) = bytes.first() else {
            return Err(FrameError::TooShort { len: 0 });
        };
        if first & 0x01 == 0 {
            // Q.921 §3.4.2, Table 4: I format, N(S) in bits 8-2 of octet 4.
            let &second = bytes.get(1).ok_or(FrameError::TooShort { len: 1 })?;
            return Ok((
                Control::Information {
                    ns: SeqNo(first >> 1),
                    nr: SeqNo(second >> 1),
                    poll: second & 0x01 != 0,
                },
                2,
            ));
        }
        if first & 0x03 == 0x01 {
            // Q.921 §3.4.3, Table 4: S format, bits 8-5 of octet 4 are reserved as 0000.
            let function = match first {
                0x01 => Supervisory::ReceiveReady,
                0x05 => Supervisory::ReceiveNotReady,
                0x09 => Supervisory::Reject,
                _ => return Err(FrameError::UndefinedControl { octet: first }),
            };
            let &second = bytes.get(1).ok_or(FrameError::TooShort { len: 1 })?;
            return Ok((
                Control::Supervisory {
                    function,
                    nr: SeqNo(second >> 1),
                    poll_final: second & 0x01 != 0,
                },
                2,
            ));
        }
        // Q.921 §3.4.4: U format, P/F in bit 5.
        let function =
            Unnumbered::from_octet(first).ok_or(FrameError::UndefinedControl { octet: first })?;
        Ok((
            Control::Unnumbered {
                function,
                poll_final: first & PF_BIT_U != 0,
            },
            1,
        ))
    }

    /// Appends the control field octets to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Control::Information { ns, nr, poll } => {
                out.push(ns.0 << 1);
                out.push((nr.0 << 1) | u8::from(poll));
            }
            Control::Supervisory {
                function,
                nr,
                poll_final,
            } => {
                out.push(match function {
                    Supervisory::ReceiveReady => 0x01,
                    Supervisory::ReceiveNotReady => 0x05,
                    Supervisory::Reject => 0x09,
                });
                out.push((nr.0 << 1) | u8::from(poll_final));
            }
            Control::Unnumbered {
                function,
                poll_final,
            } => out.push(function.octet() | if poll_final { PF_BIT_U } else { 0 }),
        }
    }

    /// The P or F bit, whatever the format.
    pub const fn poll_final(&self) -> bool {
        match *self {
            Control::Information { poll, .. } => poll,
            Control::Supervisory { poll_final, .. } | Control::Unnumbered { poll_final, .. } => {
                poll_final
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap_at_128() {
        assert_eq!(SeqNo::new(127).next(), SeqNo::ZERO);
        assert_eq!(SeqNo::ZERO.prev(), SeqNo::new(127));
        assert_eq!(SeqNo::new(3).since(SeqNo::new(125)), 6);
        assert_eq!(SeqNo::new(125).add(7), SeqNo::new(4));
    }

    #[test]
    fn unnumbered_octets_follow_table_5() {
        // Q.921 Table 5, with P/F=1: SABME 0x7F, DM 0x1F, DISC 0x53, UA 0x73.
        for (function, with_pf) in [
            (Unnumbered::Sabme, 0x7F),
            (Unnumbered::Dm, 0x1F),
            (Unnumbered::Ui, 0x13),
            (Unnumbered::Disc, 0x53),
            (Unnumbered::Ua, 0x73),
            (Unnumbered::Frmr, 0x97),
            (Unnumbered::Xid, 0xBF),
        ] {
            let c = Control::Unnumbered {
                function,
                poll_final: true,
            };
            let mut out = Vec::new();
            c.encode(&mut out);
            assert_eq!(out, [with_pf]);
            assert_eq!(Control::decode(&out).unwrap(), (c, 1));
        }
    }

    #[test]
    fn supervisory_and_information_round_trip() {
        let rr = Control::Supervisory {
            function: Supervisory::ReceiveReady,
            nr: SeqNo::new(127),
            poll_final: true,
        };
        let mut out = Vec::new();
        rr.encode(&mut out);
        assert_eq!(out, [0x01, 0xFF]);
        assert_eq!(Control::decode(&out).unwrap(), (rr, 2));

        let i = Control::Information {
            ns: SeqNo::new(5),
            nr: SeqNo::new(9),
            poll: false,
        };
        out.clear();
        i.encode(&mut out);
        assert_eq!(out, [0x0A, 0x12]);
        assert_eq!(Control::decode(&out).unwrap(), (i, 2));
    }

    #[test]
    fn undefined_codings_are_errors() {
        // SABM (modulo 8, 0x2F) is not a LAPD command; S format with bits 8-5 set; S code 11.
        for octet in [0x2F, 0x11, 0x0D] {
            assert_eq!(
                Control::decode(&[octet, 0x00]),
                Err(FrameError::UndefinedControl { octet })
            );
        }
        assert_eq!(
            Control::decode(&[0x00]),
            Err(FrameError::TooShort { len: 1 })
        );
    }
}
