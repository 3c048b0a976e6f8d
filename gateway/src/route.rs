//! Routing of called numbers to trunks.
//!
//! Patterns follow Asterisk's extension syntax, which the users already write: a pattern
//! starting with `_` is a pattern, anything else matches literally.
//! `X` = any digit, `Z` = 1-9, `N` = 2-9, `[1-5,7]` = a set, `.` = one or more of anything
//! (at the end), `!` = zero or more of anything (at the end).
//!
//! ```
//! use gateway::route::Pattern;
//! let p: Pattern = "_0[1-9]X.".parse().unwrap();
//! assert!(p.matches("0301234567"));
//! assert!(!p.matches("0012345"));
//! ```

use std::fmt;
use std::str::FromStr;

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    /// One character from the set (digits, `*`, `#`, `+`).
    Set(Vec<u8>),
    /// One or more characters (`.`).
    OneOrMore,
    /// Zero or more characters (`!`).
    ZeroOrMore,
}

/// A called-number pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    elems: Vec<Elem>,
}

/// What a number is, seen against a pattern: for overlap receiving the core keeps collecting
/// digits while the answer is `Partial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The number matches.
    Full,
    /// The number is a prefix of some matching number: more digits may make it match.
    Partial,
    /// No continuation of the number can match.
    None,
}

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `number` matches the whole pattern.
    pub fn matches(&self, number: &str) -> bool {
        self.check(number) == Match::Full
    }

    /// How specific the pattern is: literal characters count more than wildcards; used to
    /// pick the best of several matching routes of equal priority.
    pub fn specificity(&self) -> usize {
        self.elems
            .iter()
            .map(|e| match e {
                Elem::Set(s) if s.len() == 1 => 100,
                Elem::Set(s) => 100 - s.len().min(99),
                Elem::OneOrMore | Elem::ZeroOrMore => 0,
            })
            .sum()
    }

    /// Whether some number longer than `number` (with it as prefix) matches: a prefix of
    /// a match, or a match that ends in `.` or `!` and so takes more digits.
    pub fn takes_more(&self, number: &str) -> bool {
        match self.check(number) {
            Match::Partial => true,
            Match::Full => matches!(self.elems.last(), Some(Elem::OneOrMore | Elem::ZeroOrMore)),
            Match::None => false,
        }
    }

    /// Match `number`, telling apart a full match, a prefix of a match, and no match.
    pub fn check(&self, number: &str) -> Match {
        let n = number.as_bytes();
        for (i, e) in self.elems.iter().enumerate() {
            match e {
                Elem::OneOrMore => {
                    return if n.len() > i {
                        Match::Full
                    } else {
                        Match::Partial
                    };
                }
                Elem::ZeroOrMore => return Match::Full,
                Elem::Set(set) => match n.get(i) {
                    None => return Match::Partial,
                    Some(c) if set.contains(c) => {}
                    Some(_) => return Match::None,
                },
            }
        }
        if n.len() == self.elems.len() {
            Match::Full
        } else {
            Match::None
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a pattern does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("empty pattern")]
    Empty,
    #[error("unclosed `[` at position {0}")]
    UnclosedSet(usize),
    #[error("`{0}` at position {1} is not allowed in a pattern")]
    BadChar(char, usize),
    #[error("`{0}` must be the last character of a pattern")]
    WildcardNotLast(char),
}

const DIALABLE: &[u8] = b"0123456789*#+";

fn dialable(c: u8, pos: usize) -> Result<u8, PatternError> {
    // Digits, `*`, `#`, `+`, and the DTMF letters A-D.
    if DIALABLE.contains(&c) || (b'A'..=b'D').contains(&c) {
        Ok(c)
    } else {
        Err(PatternError::BadChar(c as char, pos))
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, PatternError> {
        if s.is_empty() || s == "_" {
            return Err(PatternError::Empty);
        }
        let mut elems = Vec::new();
        if let Some(p) = s.strip_prefix('_') {
            let b = p.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let pos = i + 1;
                let e = match b[i].to_ascii_uppercase() {
                    b'X' => Elem::Set(b"0123456789".to_vec()),
                    b'Z' => Elem::Set(b"123456789".to_vec()),
                    b'N' => Elem::Set(b"23456789".to_vec()),
                    b'.' | b'!' => {
                        if i + 1 != b.len() {
                            return Err(PatternError::WildcardNotLast(b[i] as char));
                        }
                        if b[i] == b'.' {
                            Elem::OneOrMore
                        } else {
                            Elem::ZeroOrMore
                        }
                    }
                    b'[' => {
                        let close = b[i..]
                            .iter()
                            .position(|&c| c == b']')
                            .ok_or(PatternError::UnclosedSet(pos))?
                            + i;
                        let inner = &b[i + 1..close];
                        let mut set = Vec::new();
                        let mut j = 0;
                        while j < inner.len() {
                            if inner[j] == b',' {
                                j += 1;
                                continue;
                            }
                            let from = dialable(inner[j], pos + 1 + j)?;
                            if inner.get(j + 1) == Some(&b'-') && j + 2 < inner.len() {
                                let to = dialable(inner[j + 2], pos + 3 + j)?;
                                set.extend(from.min(to)..=from.max(to));
                                j += 3;
                            } else {
                                set.push(from);
                                j += 1;
                            }
                        }
                        i = close;
                        Elem::Set(set)
                    }
                    c => Elem::Set(vec![dialable(c, pos)?]),
                };
                elems.push(e);
                i += 1;
            }
        } else {
            for (i, c) in s.bytes().enumerate() {
                elems.push(Elem::Set(vec![dialable(c, i)?]));
            }
        }
        Ok(Pattern {
            text: s.to_string(),
            elems,
        })
    }
}

/// The routes of the configuration, ready to answer "where does this call go".
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<crate::config::Route>,
}

/// One route chosen for a call: the trunks to try in order and the called number to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub route: &'a crate::config::Route,
    pub called: String,
}

impl Router {
    /// Order routes once: priority, then specificity (most specific first), then file order.
    pub fn new(routes: &[crate::config::Route]) -> Self {
        let mut routes = routes.to_vec();
        // sort_by_key is stable: equal keys keep their file order.
        routes.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.pattern.specificity())));
        Router { routes }
    }

    /// Routes whose pattern fits `called` for a call that arrived on trunk `from`, best
    /// first; the core tries them (and their trunks) in order on congestion.
    pub fn lookup<'a>(&'a self, from: &str, called: &str) -> Vec<Decision<'a>> {
        self.routes_from(from)
            .filter(|r| r.pattern.matches(called))
            .map(|r| Decision {
                route: r,
                called: format!("{}{}", r.prefix, called.get(r.strip..).unwrap_or("")),
            })
            .collect()
    }

    /// For overlap receiving: whether some route from `from` would take a number longer
    /// than `called` (see [`Pattern::takes_more`]): then more digits may still come for it.
    pub fn takes_more(&self, from: &str, called: &str) -> bool {
        self.routes_from(from).any(|r| r.pattern.takes_more(called))
    }

    /// The routes that take calls arriving on trunk `from` (all trunks when a route names
    /// none), best first.
    fn routes_from<'r, 'f>(
        &'r self,
        from: &'f str,
    ) -> impl Iterator<Item = &'r crate::config::Route> + use<'r, 'f> {
        self.routes
            .iter()
            .filter(move |r| r.from.is_empty() || r.from.iter().any(|f| f == from))
    }

    /// For overlap receiving: whether `called` (so far) matches some route, could still
    /// match one with more digits, or can never match.
    pub fn check(&self, from: &str, called: &str) -> Match {
        let mut best = Match::None;
        for r in self.routes_from(from) {
            match r.pattern.check(called) {
                Match::Full => return Match::Full,
                Match::Partial => best = Match::Partial,
                Match::None => {}
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        s.parse().unwrap()
    }

    #[test]
    fn literal_and_classes() {
        assert!(p("112").matches("112"));
        assert!(!p("112").matches("1120"));
        assert!(p("_NXXNXXXXXX").matches("2125551212"));
        assert!(!p("_NXXNXXXXXX").matches("1125551212"));
        assert!(p("_Z").matches("9"));
        assert!(!p("_Z").matches("0"));
        assert!(p("_[1-3,7]X").matches("75"));
        assert!(!p("_[1-3,7]X").matches("45"));
        assert!(p("_+X.").matches("+4930123"));
    }

    #[test]
    fn wildcards_and_partial() {
        assert_eq!(p("_0X.").check("0"), Match::Partial);
        assert_eq!(p("_0X.").check("01"), Match::Partial, "`.` needs one more");
        assert_eq!(p("_0X.").check("012"), Match::Full);
        assert_eq!(p("_0X.").check("1"), Match::None);
        assert_eq!(p("_0!").check("0"), Match::Full);
        assert_eq!(p("_NXX").check("21"), Match::Partial);
        assert_eq!(p("_NXX").check("2123"), Match::None);
    }

    #[test]
    fn specificity_orders_literals_first() {
        assert!(p("_0301X.").specificity() > p("_0X.").specificity());
        assert!(p("_0[1-2]").specificity() > p("_0X").specificity());
    }

    fn route(pattern: &str, priority: u32, from: &[&str], to: &str) -> crate::config::Route {
        crate::config::Route {
            pattern: p(pattern),
            priority,
            from: from.iter().map(|s| s.to_string()).collect(),
            to: vec![to.to_string()],
            strip: 1,
            prefix: "+49".into(),
        }
    }

    #[test]
    fn router_orders_by_priority_then_specificity() {
        let r = Router::new(&[
            route("_0X.", 10, &[], "wide"),
            route("_030X.", 10, &[], "berlin"),
            route("_0X.", 5, &["pbx"], "preferred"),
        ]);
        let names: Vec<_> = r
            .lookup("pbx", "0301234")
            .iter()
            .map(|d| d.route.to[0].as_str())
            .collect();
        assert_eq!(names, ["preferred", "berlin", "wide"]);
        let other: Vec<_> = r
            .lookup("other", "0301234")
            .iter()
            .map(|d| d.route.to[0].as_str())
            .collect();
        assert_eq!(other, ["berlin", "wide"], "`from` restricts a route");
        assert_eq!(r.lookup("pbx", "0301234")[0].called, "+49301234");
        assert_eq!(r.check("x", "03"), Match::Partial);
        assert_eq!(r.check("x", "9"), Match::None);
    }

    #[test]
    fn bad_patterns() {
        assert_eq!("".parse::<Pattern>(), Err(PatternError::Empty));
        assert_eq!(
            "_0.1".parse::<Pattern>(),
            Err(PatternError::WildcardNotLast('.'))
        );
        assert_eq!(
            "_0[12".parse::<Pattern>(),
            Err(PatternError::UnclosedSet(2))
        );
        assert!(matches!(
            "12a".parse::<Pattern>(),
            Err(PatternError::BadChar('a', 2))
        ));
    }

    #[test]
    fn takes_more_tells_a_number_that_may_grow() {
        assert!(p("_0X.").takes_more("03"));
        assert!(p("_0X.").takes_more("0"));
        assert!(!p("_2XX").takes_more("201"));
        assert!(p("_2XXX").takes_more("201"));
        assert!(!p("_2XX").takes_more("301"));
        assert!(p("_9!").takes_more("9"));
    }
}
