//! The simulator as a DAHDI device for unmodified programs.
