//! `nebula-api`: the REST and gRPC control plane (see `ARCHITECTURE.md`).
//!
//! Not built yet: this crate fixes its place in the dependency order; the API issue fills it in.
#![forbid(unsafe_code)]
