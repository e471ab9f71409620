//! `nebula-node`: the process.
#![forbid(unsafe_code)]
