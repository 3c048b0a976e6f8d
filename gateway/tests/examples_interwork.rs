//! The interworking example (`examples/e1-overlap-tls-pbx.toml`) passes the checks of
//! `gatewayd check-config` and says what it configures.

use std::path::Path;
use std::time::Duration;

use gateway::config::{Config, RedirectHeaders, RejectAction, SipTransport};

#[test]
fn overlap_tls_and_redirecting_example() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/e1-overlap-tls-pbx.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let g = &c.trunk_groups[0];
    assert!(g.overlap.enabled);
    assert_eq!(g.overlap.digit_map.len(), 4);
    assert_eq!(g.overlap.digit_timeout, Duration::from_secs(4));
    let t = &c.sip_trunks[0];
    assert_eq!(t.transport, SipTransport::Tls);
    assert!(t.tls.is_some());
    assert!(!t.sips);
    assert_eq!(t.reject, RejectAction::Forbidden);
    assert_eq!(t.rate_limit, 20);
    assert_eq!(t.redirecting, RedirectHeaders::Both);
}
