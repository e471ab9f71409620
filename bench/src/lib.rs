//! Benchmark support for NebulaDNS.
#![forbid(unsafe_code)]
