//! The DAHDI userspace ABI, byte for byte as Debian's `/usr/include/dahdi/user.h`
//! (package `dahdi-source`) defines it: ioctl request numbers ([`ioctl`]), the
//! `#[repr(C)]` argument structs ([`structs`]), the constants ([`consts`]) and the
//! conversions to and from the typed values of [`crate::device`] ([`convert`]).
//!
//! `tests/abi_header.rs` compiles a C program against the real header and checks every
//! number, size and offset defined here.

pub mod consts;
pub mod convert;
pub mod ioctl;
pub mod structs;

pub use consts::*;
pub use convert::*;
pub use ioctl::*;
pub use structs::*;
