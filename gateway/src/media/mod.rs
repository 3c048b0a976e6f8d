//! Media processing: G.711 companding tables and sample conversions.
