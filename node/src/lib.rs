//! `nebula-node`: the NebulaDNS process — configuration, the answer engine, the data plane
//! listeners, the HTTP endpoints and metrics — behind the binaries `nebuladns` and `nebulactl`.
#![forbid(unsafe_code)]

pub mod answer;
pub mod check_zone;
#[cfg(feature = "cluster")]
pub mod cli;
pub mod config;
pub mod cookie;
#[cfg(feature = "cluster")]
pub mod ctl;
#[cfg(feature = "cluster")]
mod ctl_transfer;
#[cfg(feature = "cluster")]
pub mod dns_client;
#[cfg(feature = "cluster")]
pub mod http;
pub mod metrics;
pub mod notify;
pub mod peers;
#[cfg(feature = "cluster")]
pub mod propagation;
#[cfg(feature = "cluster")]
pub mod server;
pub mod tcp;
pub mod transfer;
pub mod tsig;
pub mod udp;
#[cfg(feature = "cluster")]
pub mod upstream;
pub mod zones;
