//! Shared support of the node integration tests: real DNS servers (BIND, Knot DNS, NSD) started on
//! loopback as primaries or secondaries ([`peers`]), our own `nebuladns` started the same way
//! ([`nebula`]), stopping them ([`process`]), blocking DNS exchanges over UDP and TCP ([`exchange`]) and TSIG signing and
//! verification with HMAC-SHA256 ([`tsig`]).
//!
//! Each test binary includes it with `mod support;` and uses only part of it, so unused items are
//! expected here.
#![allow(dead_code)]

pub mod cluster;
pub mod exchange;
pub mod nebula;
pub mod peers;
pub mod process;
pub mod tsig;
