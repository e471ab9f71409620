//! Node-to-node RPC over gRPC (tonic/prost): openraft's AppendEntries, Vote and
//! InstallSnapshot (snapshots travel in chunks of `snapshot_max_chunk_size`), plus leader
//! forwarding of client writes, read-index requests and status. Every call has a deadline.
//!
//! Messages are one prost `Blob` carrying JSON of openraft's serde types, so the transport
//! cannot disagree with the library about a field (see build.rs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::types::{NodeId, NodeInfo, TypeConfig};

/// The one message type of the service: JSON bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Blob {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[allow(
    missing_debug_implementations,
    unused_qualifications,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub(crate) mod generated {
    include!(concat!(env!("OUT_DIR"), "/nebula.raft.v1.Raft.rs"));
}

pub(crate) use generated::raft_client::RaftClient;
pub(crate) use generated::raft_server::{Raft as RaftRpc, RaftServer};

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Blob, tonic::Status> {
    serde_json::to_vec(value)
        .map(|data| Blob { data })
        .map_err(|e| tonic::Status::internal(format!("encoding a reply: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(blob: &Blob) -> Result<T, tonic::Status> {
    serde_json::from_slice(&blob.data)
        .map_err(|e| tonic::Status::invalid_argument(format!("undecodable request: {e}")))
}

/// gRPC channels by address, created lazily and reused (tonic reconnects on its own).
#[derive(Debug, Clone, Default)]
pub struct Clients {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcFailure {
    #[error("{addr}: cannot connect: {message}")]
    Unreachable { addr: String, message: String },
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("{addr}: {message}")]
    Failed { addr: String, message: String },
}

impl Clients {
    fn client(&self, addr: &str) -> Result<RaftClient<Channel>, RpcFailure> {
        let mut channels = self.channels.lock().map_err(|_| RpcFailure::Failed {
            addr: addr.to_owned(),
            message: "client table lock poisoned".to_owned(),
        })?;
        if let Some(channel) = channels.get(addr) {
            return Ok(RaftClient::new(channel.clone()));
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}")).map_err(|e| {
            RpcFailure::Unreachable {
                addr: addr.to_owned(),
                message: e.to_string(),
            }
        })?;
        let channel = endpoint
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(RaftClient::new(channel))
    }

    /// Calls `method` on the node at `addr` with a deadline.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        method: Method,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RpcFailure> {
        let failed = |message: String| RpcFailure::Failed {
            addr: addr.to_owned(),
            message,
        };
        let blob = serde_json::to_vec(request).map_err(|e| failed(e.to_string()))?;
        let mut client = self.client(addr)?;
        let mut request = tonic::Request::new(Blob { data: blob });
        request.set_timeout(timeout);
        let call = async {
            match method {
                Method::AppendEntries => client.append_entries(request).await,
                Method::Vote => client.vote(request).await,
                Method::InstallSnapshot => client.install_snapshot(request).await,
                Method::Forward => client.forward(request).await,
                Method::ReadIndex => client.read_index(request).await,
                Method::NodeStatus => client.node_status(request).await,
            }
        };
        let response = match tokio::time::timeout(timeout, call).await {
            Err(_) => {
                return Err(RpcFailure::Timeout {
                    addr: addr.to_owned(),
                    timeout,
                })
            }
            Ok(Err(status)) if status.code() == tonic::Code::Unavailable => {
                return Err(RpcFailure::Unreachable {
                    addr: addr.to_owned(),
                    message: status.message().to_owned(),
                })
            }
            Ok(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => {
                return Err(RpcFailure::Timeout {
                    addr: addr.to_owned(),
                    timeout,
                })
            }
            Ok(Err(status)) => {
                return Err(failed(format!("{:?}: {}", status.code(), status.message())))
            }
            Ok(Ok(response)) => response.into_inner(),
        };
        serde_json::from_slice(&response.data)
            .map_err(|e| failed(format!("undecodable reply: {e}")))
    }
}

/// The service's methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    AppendEntries,
    Vote,
    InstallSnapshot,
    Forward,
    ReadIndex,
    NodeStatus,
}

/// Makes connections for openraft's replication tasks.
#[derive(Debug, Clone, Default)]
pub struct NetworkFactory {
    pub clients: Clients,
}

/// One peer, as openraft sees it.
#[derive(Debug)]
pub struct Connection {
    clients: Clients,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> Connection {
        Connection {
            clients: self.clients.clone(),
            target,
            addr: node.rpc_addr.clone(),
        }
    }
}

impl Connection {
    async fn rpc<Req, Resp, E>(
        &self,
        method: Method,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, NodeInfo, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let reply: Result<Result<Resp, E>, RpcFailure> = self
            .clients
            .call(&self.addr, method, request, option.hard_ttl())
            .await;
        match reply {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new(self.target, remote))),
            Err(failure @ RpcFailure::Unreachable { .. }) => {
                Err(RPCError::Unreachable(Unreachable::new(&failure)))
            }
            Err(failure) => Err(RPCError::Network(NetworkError::new(&failure))),
        }
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        self.rpc(Method::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc(Method::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        self.rpc(Method::Vote, &rpc, &option).await
    }
}
