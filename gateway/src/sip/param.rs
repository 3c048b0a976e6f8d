//! Parameters: `;name[=value]` lists of URIs and header values (RFC 3261 §19.1.1, §25.1),
//! and the comma-separated `auth-param`s of credentials and challenges (§25.1).
//!
//! A [`Params`] keeps the validated text of the whole list and walks it on each lookup, so
//! decoding a header never allocates for its parameters.

use super::scan::{unquote, Cursor, SResult};
use std::borrow::Cow;

/// One parameter. Names compare case-insensitively; a quoted value keeps its quotes in `value`
/// (use [`Param::unquoted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written, if any.
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// The value with quotes and quoted-pair escapes removed.
    pub fn unquoted(&self) -> Option<Cow<'a, str>> {
        let v = self.value?;
        if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
            Some(unquote(&v[1..v.len() - 1]))
        } else {
            Some(Cow::Borrowed(v))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    /// `*( SEMI generic-param )` with SWS around the separators; `raw` starts at the first SEMI.
    #[default]
    Header,
    /// URI parameters: `name[=value]` joined by bare `;`; `raw` starts after the first `;`.
    Uri,
    /// `auth-param *( COMMA auth-param )`; `raw` starts at the first name.
    Auth,
}

/// A validated parameter list in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
    kind: Kind,
}

/// Iterator over a [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    cursor: Cursor<'a>,
    kind: Kind,
    first: bool,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let c = &mut self.cursor;
        match self.kind {
            Kind::Header => {
                if !c.eat_sep(b';') {
                    return None;
                }
                let name = c.token().ok()?;
                let value = if c.eat_sep(b'=') {
                    Some(c.gen_value().ok()?)
                } else {
                    None
                };
                Some(Param { name, value })
            }
            Kind::Auth => {
                if !self.first && !c.eat_sep(b',') {
                    return None;
                }
                self.first = false;
                c.skip_ws();
                let name = c.token().ok()?;
                if !c.eat_sep(b'=') {
                    return None;
                }
                Some(Param {
                    name,
                    value: Some(c.gen_value().ok()?),
                })
            }
            Kind::Uri => {
                if c.at_end() {
                    return None;
                }
                if !self.first && !c.eat(b';') {
                    return None;
                }
                self.first = false;
                let p = c.take_while(|b| b != b';');
                Some(match p.split_once('=') {
                    Some((name, value)) => Param {
                        name,
                        value: Some(value),
                    },
                    None => Param {
                        name: p,
                        value: None,
                    },
                })
            }
        }
    }
}

impl<'a> Params<'a> {
    pub(crate) fn uri(raw: &'a str) -> Params<'a> {
        Params {
            raw,
            kind: Kind::Uri,
        }
    }

    /// The list as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The parameters in wire order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            cursor: Cursor::new(self.raw),
            kind: self.kind,
            first: true,
        }
    }

    /// First parameter called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether a parameter called `name` is present (with or without value).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The raw value of `name`, when present with a value.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|p| p.value)
    }

    /// The unquoted value of `name`.
    pub fn unquoted(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name).and_then(|p| p.unquoted())
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// No parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

impl<'a> IntoIterator for &Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Header parameters: `*( SEMI generic-param )` with `generic-param = token [ EQUAL gen-value ]`.
/// Stops before a COMMA or the end; an empty parameter (`;;`) is an error (RFC 4475 §3.1.2.1).
pub(crate) fn parse_header_params<'a>(c: &mut Cursor<'a>) -> SResult<Params<'a>> {
    parse_header_params_noting(c, "").map(|(params, _)| params)
}

/// [`parse_header_params`], also handing back the first parameter called `wanted`
/// (case-insensitive), i.e. what `Params::get(wanted)` on the result would find, so that a
/// header checking one parameter does not walk the list a second time. An empty `wanted`
/// notes nothing.
pub(crate) fn parse_header_params_noting<'a>(
    c: &mut Cursor<'a>,
    wanted: &str,
) -> SResult<(Params<'a>, Option<Param<'a>>)> {
    let start = c.pos();
    let mut end = start;
    let mut noted = None;
    while c.eat_sep(b';') {
        let name = c.token()?;
        let value = if c.eat_sep(b'=') {
            Some(c.gen_value()?)
        } else {
            None
        };
        if noted.is_none() && !wanted.is_empty() && name.eq_ignore_ascii_case(wanted) {
            noted = Some(Param { name, value });
        }
        end = c.pos();
    }
    // Leave any white space after the last parameter to the caller.
    c.set_pos(end);
    Ok((
        Params {
            raw: c.slice(start, end),
            kind: Kind::Header,
        },
        noted,
    ))
}

/// `auth-param *( COMMA auth-param )` with `auth-param = token EQUAL ( token / quoted-string )`.
pub(crate) fn parse_auth_params<'a>(c: &mut Cursor<'a>) -> SResult<Params<'a>> {
    let start = c.pos();
    loop {
        c.token()?;
        if !c.eat_sep(b'=') {
            return c.err("'=' expected in auth-param");
        }
        c.gen_value()?;
        if !c.eat_sep(b',') {
            break;
        }
    }
    Ok(Params {
        raw: c.slice(start, c.pos()),
        kind: Kind::Auth,
    })
}
