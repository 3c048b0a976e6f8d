//! Maps keyed by our own ids (calls, legs, B-channels, media channels) on the per-call
//! path.

/// A `HashMap` hashed with foldhash instead of SipHash. No peer chooses these keys, so
/// SipHash's resistance to chosen keys buys nothing here and costs on every lookup. Maps
/// whose keys come from the network keep a keyed hasher (the SIP endpoint's tables, the
/// trunk guard's per-source maps).
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
