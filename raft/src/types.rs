//! openraft's type configuration for NebulaDNS: log entries carry [`Stamped`] zone commands
//! (one, or a batch), applying one yields an [`ApplyResult`] per command, and a node is known
//! by its RPC and API addresses.

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

/// What one log entry carries: one stamped command, or several the leader proposed together
/// (group commit, see `batcher`), applied in order. Untagged: an entry written before batches
/// existed (a bare command) reads as [`Proposal::One`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Proposal {
    One(Box<Stamped>),
    Batch(Vec<Stamped>),
}

impl Proposal {
    pub fn into_commands(self) -> Vec<Stamped> {
        match self {
            Proposal::One(one) => vec![*one],
            Proposal::Batch(many) => many,
        }
    }
}

openraft::declare_raft_types!(
    /// The Raft type configuration: an entry's answer is one result per command it carries.
    pub TypeConfig:
        D = Proposal,
        R = Vec<ApplyResult>,
        Node = NodeInfo,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeInfo>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeInfo>;
