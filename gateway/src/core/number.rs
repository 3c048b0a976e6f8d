//! Number manipulation per trunk (config `NumberRules`): strip/prefix, type of number
//! (Q.931 §4.5.8/§4.5.10) ↔ `+`/national/subscriber forms, numbering plan, presentation.

use crate::config::{NumberRules, NumberingPlan, Presentation, TypeOfNumber};

use super::model::Number;

/// The number as a string of dialled digits on a trunk with `rules`: international numbers
/// get the international prefix (or `+` when none is configured), national ones the
/// national prefix. Routes match this form.
pub fn dialled(n: &Number, rules: &NumberRules) -> String {
    if !is_e164(n) {
        // Another plan's numbers (a PBX network's private numbers) have no E.164
        // prefixes: their digits are what is dialled.
        return n.digits.clone();
    }
    match n.ton {
        TypeOfNumber::International if rules.international_prefix.is_empty() => {
            format!("+{}", n.digits)
        }
        TypeOfNumber::International => format!("{}{}", rules.international_prefix, n.digits),
        TypeOfNumber::National => format!("{}{}", rules.national_prefix, n.digits),
        TypeOfNumber::Unknown | TypeOfNumber::Subscriber => n.digits.clone(),
    }
}

/// Read a dialled string back into a typed number, by the trunk's prefixes: `+` and the
/// international prefix make it international, the national prefix national.
pub fn classify(dialled: &str, rules: &NumberRules, restricted: bool) -> Number {
    let (ton, digits) = if let Some(rest) = dialled.strip_prefix('+') {
        (TypeOfNumber::International, rest)
    } else if let Some(rest) = nonempty_strip(dialled, &rules.international_prefix) {
        (TypeOfNumber::International, rest)
    } else if let Some(rest) = nonempty_strip(dialled, &rules.national_prefix) {
        (TypeOfNumber::National, rest)
    } else {
        (TypeOfNumber::Unknown, dialled)
    };
    Number {
        digits: digits.to_string(),
        ton,
        plan: None,
        restricted,
        name: None,
    }
}

fn nonempty_strip<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        None
    } else {
        s.strip_prefix(prefix)
    }
}

/// Whether the number's type of number means E.164's (international, national,
/// subscriber): its plan is E.164, or the one that goes with its type.
fn is_e164(n: &Number) -> bool {
    matches!(n.plan, None | Some(NumberingPlan::Isdn))
}

/// Convert a number to the type of number `want`, where the trunk's country code and
/// prefixes allow it; unchanged otherwise, and always for a number of another plan than
/// E.164 (a private number's type of number names a level of the private network, Q.931
/// §4.5.8 note, not an E.164 form).
pub fn convert(n: &Number, want: TypeOfNumber, rules: &NumberRules) -> Number {
    if !is_e164(n) {
        return n.clone();
    }
    let cc = rules.country_code.as_str();
    let mut out = n.clone();
    match (n.ton, want) {
        (a, b) if a == b => {}
        (TypeOfNumber::National, TypeOfNumber::International) if !cc.is_empty() => {
            out.digits = format!("{cc}{}", n.digits);
            out.ton = want;
        }
        (TypeOfNumber::International, TypeOfNumber::National)
            if !cc.is_empty() && n.digits.starts_with(cc) =>
        {
            out.digits = n.digits[cc.len()..].to_string();
            out.ton = want;
        }
        (_, TypeOfNumber::Unknown) => {
            out.digits = dialled(n, rules);
            out.ton = want;
        }
        (TypeOfNumber::Unknown, _) => {
            // Classified by its prefixes; the rest of the party (name, plan) stays.
            let c = Number {
                plan: n.plan,
                name: n.name.clone(),
                ..classify(&n.digits, rules, n.restricted)
            };
            if c.ton != TypeOfNumber::Unknown {
                return convert(&c, want, rules);
            }
        }
        _ => {}
    }
    out
}

/// The called number leaving through a trunk: its strip/prefix, then its type of number
/// and numbering plan.
pub fn outgoing_called(dialled_after_route: &str, rules: &NumberRules) -> Number {
    let stripped = dialled_after_route.get(rules.called_strip..).unwrap_or("");
    let s = format!("{}{}", rules.called_prefix, stripped);
    let n = classify(&s, rules, false);
    let mut out = match rules.called_ton {
        Some(t) => convert(&n, t, rules),
        None => n,
    };
    if let Some(p) = rules.called_npi {
        out.plan = Some(p);
    }
    out
}

/// The calling number leaving through a trunk: its type of number, numbering plan and
/// presentation.
pub fn outgoing_calling(n: &Number, rules: &NumberRules) -> Number {
    let mut out = match rules.calling_ton {
        Some(t) => convert(n, t, rules),
        None => n.clone(),
    };
    match rules.calling_presentation {
        Some(Presentation::Restricted) => out.restricted = true,
        Some(Presentation::Allowed) => out.restricted = false,
        None => {}
    }
    if let Some(p) = rules.calling_npi {
        out.plan = Some(p);
    }
    out
}

/// The user part of a SIP URI for a number (E.164 with `+` when international, or when
/// national and the trunk knows its country code; another plan's number as its digits).
pub fn to_sip_user(n: &Number, rules: &NumberRules) -> String {
    let n = convert(n, TypeOfNumber::International, rules);
    match n.ton {
        TypeOfNumber::International => format!("+{}", n.digits),
        _ => dialled(&n, rules),
    }
}

/// A number from the user part of a SIP URI (visual separators of RFC 3966 dropped).
pub fn from_sip_user(user: &str, rules: &NumberRules, restricted: bool) -> Number {
    let clean: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    classify(&clean, rules, restricted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> NumberRules {
        NumberRules {
            national_prefix: "0".into(),
            international_prefix: "00".into(),
            country_code: "49".into(),
            ..Default::default()
        }
    }

    /// A private number's type of number is not an E.164 form: no prefix, country code
    /// or `+` is put on it, and no trunk rule converts it; its plan goes with it.
    #[test]
    fn a_private_number_keeps_its_digits_and_plan() {
        let r = NumberRules {
            calling_ton: Some(TypeOfNumber::International),
            ..de()
        };
        let private = Number {
            digits: "0815".into(),
            ton: TypeOfNumber::National,
            plan: Some(NumberingPlan::Private),
            restricted: false,
            name: None,
        };
        assert_eq!(to_sip_user(&private, &r), "0815");
        assert_eq!(dialled(&private, &r), "0815");
        assert_eq!(outgoing_calling(&private, &r), private);
        // The same digits as an E.164 national number get the country code.
        let public = Number {
            plan: None,
            ..private.clone()
        };
        assert_eq!(to_sip_user(&public, &r), "+490815");
        let out = outgoing_calling(&public, &r);
        assert_eq!(
            (out.ton, out.digits.as_str()),
            (TypeOfNumber::International, "490815")
        );
    }

    #[test]
    fn a_converted_number_keeps_its_name() {
        // Unknown type, classified by its national prefix, then made international.
        let n = Number {
            name: Some("Alice".into()),
            ..Number::unknown("0301234567")
        };
        let c = convert(&n, TypeOfNumber::International, &de());
        assert_eq!(
            (c.digits.as_str(), c.ton, c.name.as_deref()),
            ("49301234567", TypeOfNumber::International, Some("Alice"))
        );
    }

    #[test]
    fn sip_plus_form_and_isdn_ton_round_trip() {
        let r = de();
        let n = from_sip_user("+49301234567", &r, false);
        assert_eq!(n.ton, TypeOfNumber::International);
        assert_eq!(n.digits, "49301234567");
        let nat = convert(&n, TypeOfNumber::National, &r);
        assert_eq!(
            (nat.ton, nat.digits.as_str()),
            (TypeOfNumber::National, "301234567")
        );
        assert_eq!(to_sip_user(&nat, &r), "+49301234567");
        assert_eq!(dialled(&nat, &r), "0301234567");
        let unk = convert(&nat, TypeOfNumber::Unknown, &r);
        assert_eq!(unk.digits, "0301234567");
    }

    #[test]
    fn strip_prefix_and_ton_on_the_way_out() {
        let r = NumberRules {
            called_strip: 1,
            called_prefix: "0".into(),
            called_ton: Some(TypeOfNumber::National),
            ..de()
        };
        // "9" access code stripped, "0" national prefix added, then read as national.
        let n = outgoing_called("9301234567", &r);
        assert_eq!(
            (n.ton, n.digits.as_str()),
            (TypeOfNumber::National, "301234567")
        );
    }

    #[test]
    fn presentation_forced_by_the_trunk() {
        let r = NumberRules {
            calling_presentation: Some(Presentation::Restricted),
            ..de()
        };
        let n = outgoing_calling(&Number::unknown("1234"), &r);
        assert!(n.restricted);
    }
}
