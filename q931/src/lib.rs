//! ISDN PRI signalling as sans-IO state machines: Q.931 messages and information elements,
//! call control (user and network side), and Q.921 LAPD on the D-channel.
pub mod lapd;
