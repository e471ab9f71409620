//! `nebula-wire`: the DNS message codec of NebulaDNS.
//!
//! Bytes in, values out: names ([`Name`]), the header, questions and records ([`Message`]),
//! RDATA for every type the server handles ([`RData`]: the RFC 1035 types, DNSSEC (DS, DNSKEY,
//! RRSIG, NSEC, NSEC3), SVCB/HTTPS, CAA, NAPTR, SSHFP, TLSA, OPT with its options, TSIG; RFC 3597
//! opaque data for the rest), EDNS as a typed view ([`Message::edns`]), and the presentation
//! (text) format both ways, printed exactly as BIND prints it. The crate is pure: no I/O, no
//! clocks, no logging.
//!
//! Decoding is strict by default and bounded on any input; every refusal is a [`DecodeError`]
//! whose [`DecodeError::kind`] a server counts. [`QueryView`] decodes a query without allocating.
#![forbid(unsafe_code)]
// Tests may unwrap and panic; the library itself may not (workspace lints, checked without cfg(test)).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod codec;
pub mod error;
pub mod header;
pub mod message;
pub mod name;
pub mod query;
pub mod rdata;
pub mod text;
pub mod tsig;
pub mod types;

pub use error::{DecodeError, DecodeErrorKind, TextError};
pub use header::{Counts, Header};
pub use message::{DecodeOptions, Message, Question, Record};
pub use name::{Name, NameBuf};
pub use query::{EdnsView, QueryView};
pub use rdata::{Edns, EdnsOption, RData};
pub use types::{Class, Opcode, RType, Rcode};
