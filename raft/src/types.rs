//! openraft's type configuration for NebulaDNS: log entries carry [`Stamped`] zone commands,
//! applying one yields an [`ApplyResult`], and a node is known by its RPC and API addresses.

use std::fmt;
use std::io::Cursor;

use nebula_store::state::{ApplyResult, Stamped};
use serde::{Deserialize, Serialize};

pub type NodeId = u64;

/// Where a member can be reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node-to-node gRPC (`host:port`).
    pub rpc_addr: String,
    /// The HTTP API (`host:port`), for clients and status pages.
    pub api_addr: String,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rpc {} api {}", self.rpc_addr, self.api_addr)
    }
}

openraft::declare_raft_types!(
    /// The Raft type configuration.
    pub TypeConfig:
        D = Stamped,
        R = ApplyResult,
        Node = NodeInfo,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeInfo>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeInfo>;
