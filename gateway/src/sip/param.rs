//! Parameters: `;name[=value]` lists of URIs and header values (RFC 3261 §19.1.1, §25.1).

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

/// A parameter list in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a>(pub Vec<Param<'a>>);

impl<'a> Params<'a> {
    /// First parameter called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Param<'a>> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
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

    /// Iterate in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &Param<'a>> {
        self.0.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Header parameters: `*( SEMI generic-param )` with `generic-param = token [ EQUAL gen-value ]`.
/// Stops before a COMMA or the end; an empty parameter (`;;`) is an error (RFC 4475 §3.1.2.1).
pub(crate) fn parse_header_params<'a>(c: &mut Cursor<'a>) -> SResult<Params<'a>> {
    let mut params = Vec::new();
    while c.eat_sep(b';') {
        let name = c.token()?;
        let value = if c.eat_sep(b'=') {
            Some(c.gen_value()?)
        } else {
            None
        };
        params.push(Param { name, value });
    }
    Ok(Params(params))
}
