//! H.323 as sans-IO state machines: H.225.0 call signalling over TPKT, RAS, fast start, H.245.
