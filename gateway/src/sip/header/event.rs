//! Event and Subscription-State (RFC 6665 §8.2.1, §8.2.3), Replaces (RFC 3891 §6.1).

use super::Header;
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_header_params, Params};
use crate::sip::scan::{is_word, Cursor, SResult};

/// Event: `event-type *( SEMI event-param )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The package (`refer`, `dialog`, `message-summary`, `presence.winfo` ...).
    pub package: &'a str,
    /// Parameters (`id` ...).
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// `;id=`.
    pub fn id(&self) -> Option<&'a str> {
        self.params.value("id")
    }
}

impl<'a> Header<'a> for Event<'a> {
    const NAME: HeaderName = HeaderName::Event;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let package = c.token()?;
        let params = parse_header_params(&mut c)?;
        c.expect_end()?;
        Ok(Event { package, params })
    }
}

/// Subscription-State: `substate-value *( SEMI subexp-params )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension.
    pub state: &'a str,
    /// Parameters (`expires`, `reason`, `retry-after`).
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// `;expires=` seconds.
    pub fn expires(&self) -> Option<u32> {
        self.params
            .value("expires")
            .and_then(crate::sip::scan::parse_delta_seconds)
    }

    /// `;reason=`.
    pub fn reason(&self) -> Option<&'a str> {
        self.params.value("reason")
    }
}

impl<'a> Header<'a> for SubscriptionState<'a> {
    const NAME: HeaderName = HeaderName::SubscriptionState;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let state = c.token()?;
        let params = parse_header_params(&mut c)?;
        c.expect_end()?;
        Ok(SubscriptionState { state, params })
    }
}

/// Replaces: `callid *(SEMI replaces-param)` with `to-tag`, `from-tag`, `early-only`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces<'a> {
    /// The Call-ID of the dialog to replace.
    pub call_id: &'a str,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> Replaces<'a> {
    /// `;to-tag=`.
    pub fn to_tag(&self) -> Option<&'a str> {
        self.params.value("to-tag")
    }

    /// `;from-tag=`.
    pub fn from_tag(&self) -> Option<&'a str> {
        self.params.value("from-tag")
    }

    /// `;early-only`.
    pub fn early_only(&self) -> bool {
        self.params.has("early-only")
    }
}

impl<'a> Header<'a> for Replaces<'a> {
    const NAME: HeaderName = HeaderName::Replaces;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let start = c.pos();
        if c.take_while(|b| is_word(b) && b != b';').is_empty() {
            return c.err("callid expected");
        }
        if c.eat(b'@') && c.take_while(|b| is_word(b) && b != b';').is_empty() {
            return c.err("word expected after '@'");
        }
        let call_id = c.slice(start, c.pos());
        let params = parse_header_params(&mut c)?;
        c.expect_end()?;
        Ok(Replaces { call_id, params })
    }
}
