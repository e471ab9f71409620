//! `nebula-store`: zone data for NebulaDNS.
//!
//! One model ([`Zone`]) fed by three formats (RFC 1035 master files, a readable TOML format, and
//! JSON for the API), validation that names the file, line and fix, the canonical form and content
//! hash that identify a zone version, diffs between versions (the future IXFR journal) and export
//! back to a master file, compiled lookup snapshots, the RocksDB layout ([`db`]) and the replicated
//! zone state machine ([`state`]): versions, history, audit log, tokens.
#![forbid(unsafe_code)]

pub mod canonical;
#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "db")]
pub mod deploys;
pub mod diff;
pub mod error;
pub mod export;
#[cfg(test)]
mod fixtures;
pub mod format;
pub mod master;
#[cfg(feature = "db")]
pub mod meta;
pub mod records;
pub mod serial;
pub mod sha256;
pub mod snapshot;
#[cfg(feature = "db")]
pub mod state;
pub mod validate;
#[cfg(feature = "db")]
pub mod versions;
pub mod zone;

pub use zone::{Insert, Rrset, Zone};
