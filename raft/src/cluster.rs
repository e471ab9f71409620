//! One node's membership in its Raft group: starting (bootstrap or join), client writes with
//! leader forwarding, linearizable reads, membership changes and status.
//!
//! A write sent to any node reaches the leader: locally through `client_write`, otherwise over
//! the `Forward` RPC; the leader stamps it (time, author, idempotency key) so every node
//! derives the same serial. Writes that cannot reach a majority fail with an error that says
//! so; a write whose fate is unknown (a timeout after it was proposed) says that too, and that
//! retrying with the same Idempotency-Key is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use nebula_store::db::{Cf, Db};
use nebula_store::snapshot::Catalog;
use nebula_store::state::{node_retired, ApplyResult, Command, Stamped};
use openraft::async_runtime::{Instant as _, WatchReceiver as _};
use openraft::{ChangeMembers, RaftMetrics, ReadPolicy, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::watch;

use crate::batcher::Batcher;
use crate::log_store::LogStore;
use crate::state_machine::{Shared, StateMachine};
use crate::transport::{
    decode, encode, Blob, Clients, Method, NetworkFactory, RaftRpc, RaftServer, Receiving,
    ReplyStream, RpcFailure, SnapshotChunk,
};
use crate::types::{LogId, Membership, NodeId, NodeInfo, Raft, TypeConfig};

/// How a node joins its group.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    /// Where node-to-node RPC listens.
    pub rpc_listen: SocketAddr,
    /// How other nodes and clients reach this one.
    pub advertise: NodeInfo,
    /// The initial voters (this node included) when bootstrapping; the lowest id initializes
    /// the cluster. Empty: a one-node cluster of this node. A node not in the list waits to
    /// be added (`nebulactl cluster add`).
    pub initial_members: BTreeMap<NodeId, NodeInfo>,
    /// The RocksDB directory.
    pub db_path: PathBuf,
    /// Build a snapshot after this many applied entries (plus a per-node share, [`staggered`]).
    pub snapshot_threshold: u64,
    /// Keep this many entries in the log behind the snapshot (for followers catching up).
    pub keep_logs: u64,
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// A proposed write not committed within this is reported as of unknown outcome.
    pub write_timeout: Duration,
    /// Deadline of forwarded and status RPCs.
    pub rpc_timeout: Duration,
}

/// Why a cluster operation failed; each maps to one HTTP status.
#[derive(Debug, Clone, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterError {
    /// No leader is reachable (this node is in a minority, or an election is running).
    #[error("{0}")]
    NoLeader(String),
    /// The write may or may not have committed.
    #[error("{0}")]
    Unknown(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

/// A request a follower forwards to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Forwarded {
    Write {
        author: String,
        idempotency_key: Option<String>,
        command: Command,
    },
    AddLearner {
        id: NodeId,
        node: NodeInfo,
    },
    Promote {
        id: NodeId,
    },
    Remove {
        id: NodeId,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum ForwardReply {
    Write(ApplyResult),
    Done(String),
}

/// One node's own view, as reported over the `NodeStatus` RPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub committed_index: Option<u64>,
    pub applied_index: Option<u64>,
    /// The last log index covered by this node's snapshot.
    pub snapshot_index: Option<u64>,
    /// Snapshots this node installed from a leader since it started.
    pub snapshots_installed: u64,
}

/// A member as the cluster status reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub id: NodeId,
    pub rpc_addr: String,
    pub api_addr: String,
    /// `voter` or `learner`.
    pub role: String,
    pub reachable: bool,
    #[serde(flatten)]
    pub status: Option<NodeStatus>,
    /// Entries this member's applied index is behind the leader's last log index.
    pub lag: Option<u64>,
    pub error: Option<String>,
}

/// The whole group as one node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub has_quorum: bool,
    pub members: Vec<MemberStatus>,
}

/// A running Raft node.
pub struct Cluster {
    id: NodeId,
    raft: Raft,
    shared: Arc<Shared>,
    clients: Clients,
    config: ClusterConfig,
    shutdown: watch::Sender<bool>,
    batcher: Batcher,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The entries between this node's snapshots: `threshold` plus 0-3 eighths of it by node id.
/// Nodes apply the same log, so with one threshold they would all dump their state at the same
/// index, at once, taking every core of a shared machine and delaying the writes in flight;
/// with their own periods they drift apart.
fn staggered(threshold: u64, node: NodeId) -> u64 {
    threshold.saturating_add(threshold.saturating_mul(node % 4) / 8)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Internal(e.to_string())
}

impl Cluster {
    /// Opens the database, starts Raft and the RPC listener, and bootstraps a new cluster
    /// when this node is the lowest id of `initial_members` and nothing is stored yet.
    pub async fn start(
        mut config: ClusterConfig,
        catalog: Arc<ArcSwap<Catalog>>,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let listener = tokio::net::TcpListener::bind(config.rpc_listen)
            .await
            .map_err(|e| {
                ClusterError::Invalid(format!(
                    "cannot listen for node-to-node RPC on {}: {e}; set [cluster] rpc_listen",
                    config.rpc_listen
                ))
            })?;
        if config.advertise.rpc_addr.ends_with(":0") {
            if let Ok(bound) = listener.local_addr() {
                config.advertise.rpc_addr = bound.to_string();
            }
        }
        let db = Arc::new(Db::open(&config.db_path).map_err(internal)?);
        let log_store = LogStore::new(db.clone(), &config.db_path.with_file_name("raft-log"))
            .map_err(internal)?;
        let state_machine = StateMachine::open(
            db.clone(),
            catalog,
            config.db_path.with_extension("snapshot"),
            log_store.unsaved_commit(),
        )
        .map_err(internal)?;
        let shared = state_machine.shared();
        let raft_config = openraft::Config {
            cluster_name: "nebuladns".to_owned(),
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_min_ms,
            election_timeout_max: config.election_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(staggered(
                config.snapshot_threshold,
                config.node_id,
            )),
            max_in_snapshot_log_to_keep: config.keep_logs,
            install_snapshot_timeout: 2_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Invalid(format!("[cluster] timing: {e}")))?;
        let clients = Clients::default();
        let network = NetworkFactory {
            clients: clients.clone(),
            source: config.node_id,
        };
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(internal)?;
        let (shutdown, mut shutdown_rx) = watch::channel(false);
        let cluster = Arc::new(Cluster {
            id: config.node_id,
            raft: raft.clone(),
            shared,
            clients,
            config: config.clone(),
            shutdown,
            batcher: Batcher::spawn(raft.clone(), config.write_timeout),
        });
        let service = RaftServer::new(RpcService {
            cluster: cluster.clone(),
            receiving: std::sync::Mutex::new(None),
        })
        .max_decoding_message_size(256 << 20);
        tokio::spawn(async move {
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let stopped = async move {
                let _ = shutdown_rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stopped)
                .await
            {
                tracing::error!(error = %e, "node-to-node RPC server stopped");
            }
        });
        let mut members = config.initial_members.clone();
        if members.is_empty() {
            members.insert(config.node_id, config.advertise.clone());
        }
        let initialized = raft.is_initialized().await.map_err(internal)?;
        if !initialized && members.keys().next() == Some(&config.node_id) {
            tracing::info!(members = members.len(), "bootstrapping a new cluster");
            if let Err(e) = raft.initialize(members).await {
                tracing::warn!(error = %e, "cluster initialization skipped");
            }
        } else if !initialized {
            tracing::info!("waiting to be added to a cluster (nebulactl cluster add)");
        }
        Ok(cluster)
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.shared.db
    }

    /// Stops Raft and the RPC listener.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        if let Err(e) = self.shared.db.sync_wal() {
            tracing::warn!(error = %e, "database flush at shutdown");
        }
    }

    /// The membership this node knows (the last one in its log).
    fn known_membership(&self) -> Membership {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .clone()
    }

    fn leader_node(&self) -> Option<(NodeId, NodeInfo)> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let leader = metrics.current_leader?;
        let node = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .clone();
        Some((leader, node))
    }

    fn voter_count(&self) -> usize {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .membership()
            .voter_ids()
            .count()
    }

    /// Whether this node can currently reach a majority through a leader it knows.
    pub fn has_quorum(&self) -> bool {
        let metrics = self.raft.metrics().borrow_watched().clone();
        match metrics.current_leader {
            None => false,
            Some(leader) if leader == self.id => {
                self.voter_count() <= 1
                    || quorum_ack_ms(&metrics).is_some_and(|ms| ms <= self.quorum_lease_ms())
            }
            Some(_) => true,
        }
    }

    fn quorum_lease_ms(&self) -> u64 {
        self.config.election_max_ms * 2
    }

    /// Waits up to `timeout` until some leader is known; whether one is.
    pub async fn leader_within(&self, timeout: Duration) -> bool {
        let _ = self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await;
        self.leader_node().is_some()
    }

    async fn wait_for_leader(&self) -> Result<(NodeId, NodeInfo), ClusterError> {
        if let Some(found) = self.leader_node() {
            return Ok(found);
        }
        let wait = Duration::from_millis(self.config.election_max_ms * 2);
        let _ = self
            .raft
            .wait(Some(wait))
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await;
        self.leader_node().ok_or_else(|| self.no_leader())
    }

    fn no_leader(&self) -> ClusterError {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let voters = metrics.membership_config.membership().voter_ids().count();
        ClusterError::NoLeader(format!(
            "no leader: node {} cannot reach a majority of the {voters} voters (state {:?}, term {}); writes are refused, DNS keeps serving the last committed data",
            self.id, metrics.state, metrics.current_term
        ))
    }

    /// Proposes a command through the leader and returns its result once applied.
    pub async fn write(
        &self,
        author: &str,
        idempotency_key: Option<String>,
        command: Command,
    ) -> Result<ApplyResult, ClusterError> {
        let request = Forwarded::Write {
            author: author.to_owned(),
            idempotency_key,
            command,
        };
        match self.run_on_leader(request).await? {
            ForwardReply::Write(result) => Ok(result),
            ForwardReply::Done(message) => Err(ClusterError::Internal(format!(
                "unexpected reply {message}"
            ))),
        }
    }

    /// What a command would do, against linearizably read state, without proposing it.
    pub async fn preview(
        &self,
        author: &str,
        idempotency_key: Option<String>,
        command: Command,
    ) -> Result<ApplyResult, ClusterError> {
        self.read_barrier().await?;
        let stamped = Stamped::now(author.to_owned(), idempotency_key, command);
        let store = self
            .shared
            .store
            .read()
            .map_err(|_| ClusterError::Internal("state lock poisoned".to_owned()))?;
        store.preview(&stamped).map_err(internal)
    }

    /// Waits until this node has applied everything committed when the call began
    /// (Raft read index, §6.4), so a read that follows is linearizable.
    pub async fn read_barrier(&self) -> Result<(), ClusterError> {
        let (leader, node) = self.wait_for_leader().await?;
        let read_index = if leader == self.id {
            self.local_read_index().await?
        } else {
            let reply: Result<Option<LogId>, ClusterError> = self
                .clients
                .call(
                    &node.rpc_addr,
                    Method::ReadIndex,
                    &(),
                    self.config.rpc_timeout,
                )
                .await
                .map_err(|e| self.unreachable_leader(leader, &e))?;
            reply?
        };
        let Some(index) = read_index.map(|id| id.index) else {
            return Ok(());
        };
        self.raft
            .wait(Some(self.config.write_timeout))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map(|_| ())
            .map_err(|e| {
                ClusterError::NoLeader(format!(
                    "this node has not caught up to the leader's commit index {index}: {e}"
                ))
            })
    }

    async fn local_read_index(&self) -> Result<Option<LogId>, ClusterError> {
        let read = self.raft.get_read_log_id(ReadPolicy::ReadIndex);
        match tokio::time::timeout(self.config.write_timeout, read).await {
            Err(_) => Err(self.no_leader()),
            Ok(Err(e)) => Err(ClusterError::NoLeader(format!(
                "not the leader any more: {e}"
            ))),
            Ok(Ok((read, _applied))) => Ok(Some(*read.log_id())),
        }
    }

    fn unreachable_leader(&self, leader: NodeId, failure: &RpcFailure) -> ClusterError {
        ClusterError::NoLeader(format!(
            "the leader (node {leader}) did not answer: {failure}; writes are refused until a leader is reachable"
        ))
    }

    async fn run_on_leader(&self, request: Forwarded) -> Result<ForwardReply, ClusterError> {
        let (leader, node) = self.wait_for_leader().await?;
        if leader == self.id {
            return self.execute(request).await;
        }
        let reply: Result<ForwardReply, ClusterError> = self
            .clients
            .call(&node.rpc_addr, Method::Forward, &request, self.config.write_timeout + self.config.rpc_timeout)
            .await
            .map_err(|e| match e {
                RpcFailure::Timeout { .. } if matches!(request, Forwarded::Write { .. }) => ClusterError::Unknown(format!(
                    "the leader (node {leader}) did not answer in time: {e}; the write may still commit; retry with the same Idempotency-Key"
                )),
                other => self.unreachable_leader(leader, &other),
            })?;
        reply
    }

    /// Runs a request on this node, which believes it is the leader.
    async fn execute(&self, request: Forwarded) -> Result<ForwardReply, ClusterError> {
        match request {
            Forwarded::Write {
                author,
                idempotency_key,
                command,
            } => {
                if self.voter_count() > 1 {
                    let lease = quorum_ack_ms(&self.raft.metrics().borrow_watched());
                    if lease.is_some_and(|ms| ms > self.quorum_lease_ms()) {
                        return Err(ClusterError::NoLeader(format!(
                            "node {} leads but has not heard from a majority for {} ms; writes are refused, DNS keeps serving the last committed data",
                            self.id,
                            lease.unwrap_or_default()
                        )));
                    }
                }
                let stamped = Stamped::now(author, idempotency_key, command);
                self.batcher.write(stamped).await.map(ForwardReply::Write)
            }
            Forwarded::AddLearner { id, node } => {
                let membership = self.known_membership();
                if membership.get_node(&id).is_some() {
                    return Err(ClusterError::Refused(format!(
                        "node {id} is already a member"
                    )));
                }
                if node_retired(&self.shared.db, id).map_err(internal)? {
                    return Err(ClusterError::Refused(format!(
                        "node id {id} was removed from this cluster and is never reused; give the new node a fresh id"
                    )));
                }
                let add = self.raft.add_learner(id, node, true);
                match tokio::time::timeout(Duration::from_secs(60), add).await {
                    Err(_) => Err(ClusterError::Unknown(format!(
                        "node {id} was added as a learner but has not caught up within 60 s"
                    ))),
                    Ok(Err(e)) => Err(ClusterError::Refused(e.to_string())),
                    Ok(Ok(_)) => Ok(ForwardReply::Done(format!("node {id} added as a learner"))),
                }
            }
            Forwarded::Promote { id } => {
                let membership = self.known_membership();
                if membership.get_node(&id).is_none() {
                    return Err(ClusterError::NotFound(format!(
                        "node {id} is not a member; add it first (nebulactl cluster add)"
                    )));
                }
                if membership.voter_ids().any(|v| v == id) {
                    return Err(ClusterError::Refused(format!(
                        "node {id} is already a voter"
                    )));
                }
                self.change(
                    ChangeMembers::AddVoterIds(BTreeSet::from([id])),
                    format!("node {id} promoted to voter"),
                )
                .await
            }
            Forwarded::Remove { id } => {
                let membership = self.known_membership();
                if membership.get_node(&id).is_none() {
                    return Err(ClusterError::NotFound(format!("node {id} is not a member")));
                }
                let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
                let change = if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err(ClusterError::Refused(format!(
                            "node {id} is the last voter; a cluster needs one"
                        )));
                    }
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                self.change(change, format!("node {id} removed; its id is retired"))
                    .await
            }
        }
    }

    async fn change(
        &self,
        change: ChangeMembers<NodeId, NodeInfo>,
        done: String,
    ) -> Result<ForwardReply, ClusterError> {
        match tokio::time::timeout(
            self.config.write_timeout * 2,
            self.raft.change_membership(change, false),
        )
        .await
        {
            Err(_) => Err(ClusterError::Unknown(
                "membership change not committed in time".to_owned(),
            )),
            Ok(Err(e)) => Err(ClusterError::Refused(e.to_string())),
            Ok(Ok(_)) => Ok(ForwardReply::Done(done)),
        }
    }

    pub async fn add_learner(&self, id: NodeId, node: NodeInfo) -> Result<String, ClusterError> {
        self.membership(Forwarded::AddLearner { id, node }).await
    }

    pub async fn promote(&self, id: NodeId) -> Result<String, ClusterError> {
        self.membership(Forwarded::Promote { id }).await
    }

    pub async fn remove(&self, id: NodeId) -> Result<String, ClusterError> {
        self.membership(Forwarded::Remove { id }).await
    }

    async fn membership(&self, request: Forwarded) -> Result<String, ClusterError> {
        match self.run_on_leader(request).await? {
            ForwardReply::Done(message) => Ok(message),
            ForwardReply::Write(_) => {
                Err(ClusterError::Internal("unexpected write reply".to_owned()))
            }
        }
    }

    /// Whether this node is the leader now (as far as it knows).
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.id)
    }

    /// This node's own status.
    pub fn node_status(&self) -> NodeStatus {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let committed = self
            .shared
            .db
            .get_json::<Option<LogId>>(Cf::RaftMeta, b"committed")
            .ok()
            .flatten()
            .flatten();
        NodeStatus {
            id: self.id,
            state: state_name(metrics.state).to_owned(),
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index: metrics.last_log_index,
            committed_index: committed.map(|id| id.index),
            applied_index: metrics.last_applied.map(|id| id.index),
            snapshot_index: metrics.snapshot.map(|id| id.index),
            snapshots_installed: self
                .shared
                .snapshots_installed
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Every member's status, asked of each member directly (unreachable ones say so).
    pub async fn status(&self) -> ClusterStatus {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let membership = metrics.membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut members = Vec::new();
        for (id, node) in membership.nodes() {
            let (status, error) = if *id == self.id {
                (Some(self.node_status()), None)
            } else {
                match self
                    .clients
                    .call::<_, NodeStatus>(
                        &node.rpc_addr,
                        Method::NodeStatus,
                        &(),
                        self.config.rpc_timeout,
                    )
                    .await
                {
                    Ok(status) => (Some(status), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            };
            members.push(MemberStatus {
                id: *id,
                rpc_addr: node.rpc_addr.clone(),
                api_addr: node.api_addr.clone(),
                role: if voters.contains(id) {
                    "voter"
                } else {
                    "learner"
                }
                .to_owned(),
                reachable: status.is_some(),
                status,
                lag: None,
                error,
            });
        }
        // Lag: how far each member's applied index is behind the leader's last log index, as
        // the leader itself reported it above.
        let leader_last = members
            .iter()
            .find(|m| Some(m.id) == metrics.current_leader)
            .and_then(|m| m.status.as_ref())
            .and_then(|s| s.last_log_index);
        if let Some(last) = leader_last {
            for member in &mut members {
                member.lag = member
                    .status
                    .as_ref()
                    .map(|s| last.saturating_sub(s.applied_index.unwrap_or(0)));
            }
        }
        ClusterStatus {
            node_id: self.id,
            leader: metrics.current_leader,
            term: metrics.current_term,
            has_quorum: self.has_quorum(),
            members,
        }
    }
}

/// How long ago a majority last acknowledged this leader, in milliseconds.
fn quorum_ack_ms(metrics: &RaftMetrics<TypeConfig>) -> Option<u64> {
    let acked = metrics.last_quorum_acked.as_ref()?;
    u64::try_from(acked.elapsed().as_millis()).ok()
}

fn state_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

/// The RPC server side.
struct RpcService {
    cluster: Arc<Cluster>,
    /// The snapshot whose chunks are arriving.
    receiving: std::sync::Mutex<Option<Receiving>>,
}

impl std::fmt::Debug for RpcService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcService")
            .field("node", &self.cluster.id)
            .finish()
    }
}

type RpcResult = Result<tonic::Response<Blob>, tonic::Status>;

/// openraft's only error from a vote: this node has stopped.
fn fatal(e: openraft::error::RaftError<TypeConfig>) -> openraft::error::Fatal<TypeConfig> {
    match e {
        openraft::error::RaftError::Fatal(fatal) => fatal,
        openraft::error::RaftError::APIError(never) => match never {},
    }
}

#[tonic::async_trait]
impl RaftRpc for RpcService {
    async fn vote(&self, request: tonic::Request<Blob>) -> RpcResult {
        let rpc = decode(request.get_ref())?;
        let reply = self.cluster.raft.vote(rpc).await;
        encode(&reply.map_err(fatal)).map(tonic::Response::new)
    }

    async fn install_snapshot(&self, request: tonic::Request<Blob>) -> RpcResult {
        let (chunk, bytes) = SnapshotChunk::decode(request.get_ref())?;
        let complete = {
            let mut receiving = self
                .receiving
                .lock()
                .map_err(|_| tonic::Status::internal("snapshot receive lock poisoned"))?;
            Receiving::add(&mut receiving, chunk, bytes)
                .map_err(tonic::Status::failed_precondition)?
        };
        let reply = match complete {
            None => Ok(None),
            Some((vote, snapshot)) => self
                .cluster
                .raft
                .install_full_snapshot(vote, snapshot)
                .await
                .map(Some),
        };
        encode(&reply).map(tonic::Response::new)
    }

    type StreamAppendStream = ReplyStream;

    /// A leader's replication stream: requests in, openraft's results out, in order. The
    /// stream ends when the leader closes it or sends something undecodable.
    async fn stream_append(
        &self,
        request: tonic::Request<tonic::Streaming<Blob>>,
    ) -> Result<tonic::Response<ReplyStream>, tonic::Status> {
        let requests = futures_util::stream::unfold(request.into_inner(), |mut incoming| async {
            let blob = incoming.message().await.ok()??;
            match decode(&blob) {
                Ok(request) => Some((request, incoming)),
                Err(status) => {
                    tracing::warn!(error = %status.message(), "replication stream closed");
                    None
                }
            }
        });
        let replies =
            futures_util::StreamExt::map(self.cluster.raft.stream_append(requests), |result| {
                encode(&result)
            });
        Ok(tonic::Response::new(Box::pin(replies)))
    }

    async fn forward(&self, request: tonic::Request<Blob>) -> RpcResult {
        let forwarded: Forwarded = decode(request.get_ref())?;
        let reply = match self.cluster.leader_node() {
            Some((leader, _)) if leader == self.cluster.id => self.cluster.execute(forwarded).await,
            _ => Err(ClusterError::NoLeader(format!(
                "node {} is no longer the leader; retry",
                self.cluster.id
            ))),
        };
        encode(&reply).map(tonic::Response::new)
    }

    async fn read_index(&self, _request: tonic::Request<Blob>) -> RpcResult {
        let reply = self.cluster.local_read_index().await;
        encode(&reply).map(tonic::Response::new)
    }

    async fn node_status(&self, _request: tonic::Request<Blob>) -> RpcResult {
        encode(&self.cluster.node_status()).map(tonic::Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::staggered;

    #[test]
    fn nodes_snapshot_at_their_own_period() {
        let periods: Vec<u64> = (1..=4).map(|node| staggered(5000, node)).collect();
        assert_eq!(periods, [5625, 6250, 6875, 5000]);
        assert_eq!(staggered(1, 3), 1, "never below the threshold");
        assert_eq!(staggered(u64::MAX, 2), u64::MAX);
    }
}
