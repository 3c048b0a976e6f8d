//! A party's name (caller or connected name) in the Display element, Q.931 §4.5.16.
//!
//! Who may send it, by variant:
//! - ETSI EN 300 403 and Q.931 (Table 3-12 SETUP, Table 3-3 CONNECT): the Display
//!   element goes from the network to the user only. The network side sends the name;
//!   the user side sends none (a switch would not pass it on).
//! - NI-2: the name goes both ways in a Display element whose first octet (bit 8 set)
//!   says what the text is: 0xB1, "calling party name" in the ANSI T1.607 display types,
//!   as National ISDN switches and libpri use it for a party's name.
//!
//! NI-2 also delivers a name in a Facility element (Telcordia GR-1367: the `callingName`
//! operation of ISO/IEC 13868, [`crate::supplementary::name`]); an NI-2 SETUP carries
//! both forms, as libpri sends them.
//!
//! On receipt, a name operation of a Facility element is the party's name (or says it is
//! withheld); otherwise the text of a Display element is, whatever its display type, as
//! Asterisk/libpri read it.

use std::time::Instant;

use super::interface::Interface;
use super::variant::{SwitchType, Variant};
use super::{CallError, CallHandle, Event};
use crate::ie::{Display, InfoElement};
use crate::lapd::Role;
use crate::message::Message;
use crate::supplementary::name::{self, NameOperation, PartyName};

/// The ANSI T1.607 display type "calling party name" (bit 8 set).
pub const DISPLAY_TYPE_NAME: u8 = 0xB1;

/// Characters of display information at most: 34 on an ETSI user-network interface
/// (EN 300 403 §4.5.16), 82 in Q.931; NI-2 names are at most 15 characters (GR-1367 name
/// delivery) but switches take what fits a Display element, so the ETSI limit serves both.
pub const NAME_MAX: usize = 34;

impl Variant {
    /// The Display element that carries `name` in a SETUP or CONNECT that `role` sends, or
    /// `None` where this variant does not let that side send one (see the module). The
    /// text is IA5: white space becomes a space, other characters outside printable ASCII `?`; it is cut at
    /// [`NAME_MAX`] characters. An empty name sends nothing.
    pub fn name_display(&self, role: Role, name: &str) -> Option<Display> {
        let text = ia5_name(name)?;
        match (self.switch, role) {
            (SwitchType::Ni2, _) => Some(Display {
                display_type: Some(DISPLAY_TYPE_NAME),
                text,
            }),
            (SwitchType::EuroIsdn, Role::Network) => Some(Display::new(&text)),
            (SwitchType::EuroIsdn, Role::User) => None,
        }
    }
}

/// `name` as the text of a Display element: IA5, white space a space and other characters
/// outside printable ASCII `?`, trimmed, at most [`NAME_MAX`] characters; `None` when
/// nothing is left.
pub fn ia5_name(name: &str) -> Option<String> {
    let text: String = name
        .trim()
        .chars()
        .map(|c| match c {
            c if c.is_whitespace() => ' ',
            c if c.is_ascii_graphic() => c,
            _ => '?',
        })
        .take(NAME_MAX)
        .collect();
    let text = text.trim_end().to_string();
    (!text.is_empty()).then_some(text)
}

/// The party's name a received Display element carries, if it has any text.
pub fn name_of(display: &Display) -> Option<String> {
    shown(Some(&display.text))
}

/// A received name, trimmed, if there is one that may be shown and is not blank.
fn shown(name: Option<&str>) -> Option<String> {
    name.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The name of the party `operation` names in a message's elements: a Facility name
/// operation if there is one (`None` when it withholds the name), else the Display text.
pub fn name_in(ies: &[InfoElement], operation: NameOperation) -> Option<String> {
    let from_facility = ies
        .iter()
        .filter_map(|ie| match ie {
            InfoElement::Facility(f) => Some(name::names_in(f)),
            _ => None,
        })
        .flatten()
        .find(|(op, _)| *op == operation);
    if let Some((_, n)) = from_facility {
        return shown(n.presentable());
    }
    ies.iter().find_map(|ie| match ie {
        InfoElement::Display(d) => name_of(d),
        _ => None,
    })
}

impl Interface {
    /// A FACILITY naming a party of `call` (NI-2 name delivery after a SETUP that said
    /// `InformationFollowing`, GR-1367): [`Event::CallingName`], or
    /// [`Event::ConnectedName`] for a name it gives.
    pub(super) fn name_message(&mut self, call: CallHandle, msg: &Message) {
        for ie in &msg.ies {
            let InfoElement::Facility(f) = ie else {
                continue;
            };
            for (op, n) in name::names_in(f) {
                match (op, shown(n.presentable())) {
                    (NameOperation::Calling, name) => {
                        self.events.push_back(Event::CallingName { call, name })
                    }
                    (NameOperation::Connected, Some(name)) => {
                        self.events.push_back(Event::ConnectedName { call, name })
                    }
                    _ => {}
                }
            }
        }
    }

    /// Send the name of a party of `call` in a FACILITY, as an NI-2 network does after a
    /// SETUP with `InformationFollowing` (GR-1367).
    pub fn send_name(
        &mut self,
        now: Instant,
        call: CallHandle,
        operation: NameOperation,
        name: &PartyName,
    ) -> Result<(), CallError> {
        let cr = self.call_mut(call)?.call_ref();
        let id = self.next_invoke_id();
        let msg = Message::facility(cr, name::ni2_facility(operation, name, id));
        self.send_keep(now, &msg)?;
        Ok(())
    }

    /// The elements that carry a party's `name` in a SETUP (`NameOperation::Calling`) or
    /// CONNECT (`Connected`) this side sends: the Display where the variant lets this side
    /// send one ([`Variant::name_display`]), and on NI-2 a SETUP's `callingName` Facility
    /// too (GR-1367).
    pub fn name_ies(&mut self, operation: NameOperation, name: &str) -> Vec<InfoElement> {
        let Some(display) = self.name_display(name) else {
            return Vec::new();
        };
        let mut ies = Vec::with_capacity(2);
        if self.config().variant.switch == SwitchType::Ni2 && operation == NameOperation::Calling {
            let id = self.next_invoke_id();
            let named = PartyName::Allowed(display.text.clone());
            ies.push(name::ni2_facility(operation, &named, id).into());
        }
        ies.push(display.into());
        ies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etsi_sends_a_name_from_the_network_only() {
        let v = Variant::euro_isdn_e1();
        assert_eq!(
            v.name_display(Role::Network, "Alice Smith"),
            Some(Display::new("Alice Smith"))
        );
        assert_eq!(v.name_display(Role::User, "Alice Smith"), None);
    }

    #[test]
    fn ni2_sends_a_name_both_ways_with_its_display_type() {
        let v = Variant::ni2_t1();
        for role in [Role::User, Role::Network] {
            let d = v.name_display(role, "Bob").unwrap();
            assert_eq!((d.display_type, d.text.as_str()), (Some(0xB1), "Bob"));
        }
    }

    #[test]
    fn names_are_made_ia5_and_cut_to_fit() {
        let v = Variant::euro_isdn_e1();
        let d = v.name_display(Role::Network, " José\tMüller ").unwrap();
        assert_eq!(d.text, "Jos? M?ller");
        let long = "x".repeat(60);
        assert_eq!(
            v.name_display(Role::Network, &long).unwrap().text.len(),
            NAME_MAX
        );
        assert_eq!(v.name_display(Role::Network, "  "), None);
    }

    #[test]
    fn a_facility_name_comes_before_the_display_and_may_withhold_it() {
        use crate::supplementary::rose::InvokeId;
        let fac = |n: PartyName| -> InfoElement {
            name::ni2_facility(NameOperation::Calling, &n, InvokeId(1)).into()
        };
        let display: InfoElement = Display::new("Shown").into();
        assert_eq!(
            name_in(
                &[
                    fac(PartyName::Allowed("From facility".into())),
                    display.clone()
                ],
                NameOperation::Calling
            ),
            Some("From facility".into())
        );
        assert_eq!(
            name_in(
                &[
                    fac(PartyName::Restricted(Some("Hidden".into()))),
                    display.clone()
                ],
                NameOperation::Calling
            ),
            None
        );
        // Another party's name operation is not the caller's.
        assert_eq!(
            name_in(
                &[fac(PartyName::Allowed("x".into())), display.clone()],
                NameOperation::Connected
            ),
            Some("Shown".into())
        );
        assert_eq!(name_in(&[], NameOperation::Calling), None);
    }

    #[test]
    fn a_received_display_is_the_name_whatever_its_type() {
        let d = Display {
            display_type: Some(0xB1),
            text: "Carol ".into(),
        };
        assert_eq!(name_of(&d), Some("Carol".into()));
        assert_eq!(name_of(&Display::new(" ")), None);
    }
}
