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
    /// Writes whose consecutive record changes to one zone by one author make one version
    /// (ADR 0016). The form proposed now, even for one write; first, as the one entries take. A
    /// build from before it cannot read it and stops at the entry instead of applying it
    /// otherwise.
    Coalesced { writes: Vec<Stamped> },
    /// One write: entries logged before batches.
    One(Box<Stamped>),
    /// Several writes, a version each: entries logged before [`Proposal::Coalesced`].
    Batch(Vec<Stamped>),
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.writes() {
            1 => write!(f, "1 command"),
            many => write!(f, "{many} commands"),
        }
    }
}

impl Proposal {
    /// How many writes the entry carries.
    pub fn writes(&self) -> usize {
        match self {
            Proposal::One(_) => 1,
            Proposal::Batch(many) | Proposal::Coalesced { writes: many } => many.len(),
        }
    }

    /// The commands, and whether record changes among them may share a version.
    pub fn into_commands(self) -> (Vec<Stamped>, bool) {
        match self {
            Proposal::One(one) => (vec![*one], false),
            Proposal::Batch(many) => (many, false),
            Proposal::Coalesced { writes } => (writes, true),
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

pub type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachine>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type Membership = openraft::Membership<NodeId, NodeInfo>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;
/// A snapshot as it is built, stored and streamed: the bytes of the state machine's dump.
pub type SnapshotData = Cursor<Vec<u8>>;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
pub(crate) mod tests {
    use super::*;
    use openraft::vote::RaftLeaderId as _;

    pub(crate) fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(
            openraft::impls::leader_id_adv::LeaderId::new(term, 1),
            index,
        )
    }

    /// A bare command, an array and `{"writes": ...}` each read as their own variant; the leader's
    /// form writes back as it reads.
    #[test]
    fn each_payload_form_reads_as_its_own_variant() {
        let command = r#"{"time_ms":1,"author":"a","command":{"op":"delete_zone","zone":"t."}}"#;
        let read = |text: &str| {
            serde_json::from_str::<Proposal>(text)
                .unwrap()
                .into_commands()
        };
        let (one, coalesce) = read(command);
        assert_eq!((one.len(), coalesce), (1, false));
        let (batch, coalesce) = read(&format!("[{command},{command}]"));
        assert_eq!((batch.len(), coalesce), (2, false));
        let (writes, coalesce) = read(&format!(r#"{{"writes":[{command}]}}"#));
        assert_eq!((writes.len(), coalesce), (1, true));
        let written = serde_json::to_string(&Proposal::Coalesced { writes }).unwrap();
        assert_eq!(written, format!(r#"{{"writes":[{command}]}}"#));
    }

    /// Rows exactly as openraft 0.9.25 wrote them (taken from a data directory it made): a
    /// node upgraded in place reads its log, vote, commit index and membership unchanged.
    #[test]
    fn what_openraft_0_9_stored_still_reads() {
        let vote: Vote =
            serde_json::from_str(r#"{"leader_id":{"term":1,"node_id":1},"committed":true}"#)
                .unwrap();
        assert_eq!(vote.leader_id.term, 1);
        assert!(vote.committed);
        let committed: Option<LogId> =
            serde_json::from_str(r#"{"leader_id":{"term":1,"node_id":1},"index":1}"#).unwrap();
        assert_eq!(committed, Some(log_id(1, 1)));
        let blank: Entry = serde_json::from_str(
            r#"{"log_id":{"leader_id":{"term":1,"node_id":1},"index":1},"payload":"Blank"}"#,
        )
        .unwrap();
        assert_eq!(blank.log_id, log_id(1, 1));
        let nodes = r#""nodes":{"1":{"rpc_addr":"127.0.0.1:17001","api_addr":"127.0.0.1:18081"},"2":{"rpc_addr":"127.0.0.1:17002","api_addr":"127.0.0.1:18082"}}"#;
        let membership: Entry = serde_json::from_str(&format!(
            r#"{{"log_id":{{"leader_id":{{"term":0,"node_id":0}},"index":0}},"payload":{{"Membership":{{"configs":[[1,2]],{nodes}}}}}}}"#
        ))
        .unwrap();
        let openraft::EntryPayload::Membership(m) = membership.payload else {
            panic!("not a membership entry")
        };
        assert_eq!(m.voter_ids().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(m.get_node(&2).unwrap().api_addr, "127.0.0.1:18082");
        let stored: StoredMembership = serde_json::from_str(&format!(
            r#"{{"log_id":{{"leader_id":{{"term":0,"node_id":0}},"index":0}},"membership":{{"configs":[[1,2]],{nodes}}}}}"#
        ))
        .unwrap();
        assert_eq!(stored.voter_ids().count(), 2);
    }
}
