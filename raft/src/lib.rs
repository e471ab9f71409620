//! `nebula-raft`: replication of zone data through openraft (see `ARCHITECTURE.md`).
//!
//! Not built yet: this crate exists so the dependency direction `node → api → raft → store → wire`
//! is fixed from the start. The replication issue fills it in.
#![forbid(unsafe_code)]
