//! Support for the end-to-end tests in `tests/tests/` and for the `pri-switch` program
//! (`src/bin/pri-switch.rs`, libpri as the PSTN switch): G.711 and tone generation and
//! detection shared by both ends.

pub mod audio;
