//! Configuration errors: always the file, the line and the field.

use std::fmt;

/// Where in the file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Location {
    /// The location of byte offset `offset` in `text`.
    pub fn at(file: &str, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Location {
            file: file.to_string(),
            line,
            column,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A syntax or type error, or a semantic one, pinned to a place in the file.
    #[error("{location}: field `{field}`: {message}")]
    Invalid {
        location: Location,
        /// Dotted path of the field, e.g. `trunk_group[1].members[0].channels`.
        field: String,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        file: &str,
        text: &str,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            location: Location::at(file, text, offset),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().to_string();
        // The toml crate names the offending key in its message for unknown/missing fields;
        // for a bad value the key is the one written just before the reported place.
        let field = key_before(text, offset).unwrap_or_else(|| "(document)".to_string());
        ConfigError::invalid(file, text, offset, field, message)
    }

    /// The line of the error, when it has one (tests and `check-config` use it).
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { location, .. } => Some(location.line),
            ConfigError::Read { .. } => None,
        }
    }

    /// The field of the error, when it has one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            ConfigError::Read { .. } => None,
        }
    }
}

/// The dotted path (`trunk_group.members.channels`) of the key whose value surrounds `offset`,
/// found by reading the TOML text back to the last `key =` and table header.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_end = text[offset..].find('\n').map_or(text.len(), |p| offset + p);
    let mut key = None;
    let mut table = None;
    // Walk up from the error's line to the enclosing table header.
    for line in text[..line_end].lines().rev() {
        let t = line.trim();
        if t.starts_with('[') {
            table = Some(t.trim_matches(|c| c == '[' || c == ']').trim().to_string());
            break;
        }
        if key.is_none() {
            key = assignment_key(line);
        }
    }
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, k) => k,
        (t, None) => t,
    }
}

fn assignment_key(line: &str) -> Option<String> {
    let t = line.trim_start();
    if t.starts_with('#') || t.starts_with('[') {
        return None;
    }
    let eq = t.find('=')?;
    let k = t[..eq].trim().trim_matches('"');
    if k.is_empty() || k.contains(char::is_whitespace) {
        return None;
    }
    Some(k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        let l = Location::at("f.toml", text, 8);
        assert_eq!((l.line, l.column), (2, 3));
        assert_eq!(l.to_string(), "f.toml:2:3");
    }

    #[test]
    fn key_before_names_table_and_key() {
        let text = "[[span]]\nid = 1\ntype = \"x1\"\n";
        let off = text.find("\"x1\"").unwrap();
        assert_eq!(key_before(text, off).as_deref(), Some("span.type"));
    }
}
