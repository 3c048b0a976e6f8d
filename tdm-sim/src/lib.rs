//! A software E1/T1 TDM simulator implementing the `dahdi-driver` device trait.
