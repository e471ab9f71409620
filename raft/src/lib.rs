//! `nebula-raft`: the Raft replication of NebulaDNS zone data.
//!
//! openraft (pinned exactly, ADR 0008) with its log ([`log_store`]) and state machine
//! ([`state_machine`]) on the node's one RocksDB instance, node-to-node gRPC over tonic/prost
//! ([`transport`]), and the node's view of its group ([`cluster`]): bootstrap and join,
//! writes forwarded to the leader and batched there ([`batcher`]: group commit), read-index
//! reads, membership changes and status.
//! openraft's types stay inside this crate; callers use [`Cluster`].
#![forbid(unsafe_code)]

mod batcher;
pub mod cluster;
pub mod log_store;
mod segments;
pub mod state_machine;
pub mod transport;
pub mod types;

pub use cluster::{Cluster, ClusterConfig, ClusterError, ClusterStatus, MemberStatus, NodeStatus};
pub use types::{NodeId, NodeInfo};
