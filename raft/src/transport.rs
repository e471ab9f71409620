//! Node-to-node RPC over gRPC (tonic/prost): openraft's AppendEntries (one bidirectional stream
//! per follower, `StreamAppend`) and Vote, snapshots
//! streamed in chunks of `snapshot_max_chunk_size` ([`SnapshotChunk`]), plus leader
//! forwarding of client writes, read-index requests and status. Every call has a deadline.
//!
//! Messages are one prost `Blob` carrying JSON of openraft's serde types, so the transport
//! cannot disagree with the library about a field (see build.rs); a snapshot chunk carries
//! its bytes raw after a JSON header.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use openraft::base::{BoxFuture, BoxStream};

use openraft::error::{
    Fatal, NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult, VoteRequest,
    VoteResponse,
};
use openraft::OptionalSend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};

use crate::types::{NodeId, NodeInfo, Snapshot, SnapshotData, SnapshotMeta, TypeConfig, Vote};

/// A snapshot chunk's size when openraft does not set one.
const DEFAULT_CHUNK: usize = 3 << 20;

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

/// The answers of a replication stream, as the service sends them.
pub(crate) type ReplyStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Blob, tonic::Status>> + Send>>;
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
        let reply = self.call_raw(addr, method, blob, timeout).await?;
        serde_json::from_slice(&reply).map_err(|e| failed(format!("undecodable reply: {e}")))
    }

    /// Calls `method` with a request already encoded; the reply's bytes.
    async fn call_raw(
        &self,
        addr: &str,
        method: Method,
        blob: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RpcFailure> {
        let mut client = self.client(addr)?;
        let mut request = tonic::Request::new(Blob { data: blob });
        request.set_timeout(timeout);
        let call = async {
            match method {
                Method::Vote => client.vote(request).await,
                Method::InstallSnapshot => client.install_snapshot(request).await,
                Method::Forward => client.forward(request).await,
                Method::ReadIndex => client.read_index(request).await,
                Method::NodeStatus => client.node_status(request).await,
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Err(_) => Err(RpcFailure::Timeout {
                addr: addr.to_owned(),
                timeout,
            }),
            Ok(Err(status)) => Err(failure(addr, &status, timeout)),
            Ok(Ok(response)) => Ok(response.into_inner().data),
        }
    }

    /// Opens the replication stream to the node at `addr`: `outbound` goes one way, the
    /// returned stream of answers comes back. Opening has a deadline; the caller bounds each
    /// answer.
    async fn open_stream(
        &self,
        addr: &str,
        outbound: impl futures_util::Stream<Item = Blob> + Send + 'static,
        timeout: Duration,
    ) -> Result<tonic::Streaming<Blob>, RpcFailure> {
        let mut client = self.client(addr)?;
        match tokio::time::timeout(timeout, client.stream_append(outbound)).await {
            Err(_) => Err(RpcFailure::Timeout {
                addr: addr.to_owned(),
                timeout,
            }),
            Ok(Err(status)) => Err(failure(addr, &status, timeout)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

/// What a gRPC error status means for the caller.
fn failure(addr: &str, status: &tonic::Status, timeout: Duration) -> RpcFailure {
    match status.code() {
        tonic::Code::Unavailable => RpcFailure::Unreachable {
            addr: addr.to_owned(),
            message: status.message().to_owned(),
        },
        tonic::Code::DeadlineExceeded => RpcFailure::Timeout {
            addr: addr.to_owned(),
            timeout,
        },
        code => RpcFailure::Failed {
            addr: addr.to_owned(),
            message: format!("{code:?}: {}", status.message()),
        },
    }
}

/// The service's methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Vote,
    InstallSnapshot,
    Forward,
    ReadIndex,
    NodeStatus,
}

/// Makes connections for openraft's replication tasks.
#[derive(Debug, Clone)]
pub struct NetworkFactory {
    pub clients: Clients,
    /// This node (named in timeouts).
    pub source: NodeId,
}

/// One peer, as openraft sees it.
#[derive(Debug, Clone)]
pub struct Connection {
    clients: Clients,
    source: NodeId,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> Connection {
        Connection {
            clients: self.clients.clone(),
            source: self.source,
            target,
            addr: node.rpc_addr.clone(),
        }
    }
}

/// What a snapshot chunk says besides its bytes (`Blob`: a u32 big-endian header length, the
/// header as JSON, then the chunk's bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapshotChunk {
    pub vote: Vote,
    pub meta: SnapshotMeta,
    /// Where the chunk's bytes start in the snapshot.
    pub offset: u64,
    /// Whether this is the last chunk.
    pub done: bool,
}

impl SnapshotChunk {
    fn encode(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let header = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let len = u32::try_from(header.len()).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(4 + header.len() + bytes.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(bytes);
        Ok(out)
    }

    /// The header and the chunk's bytes.
    pub(crate) fn decode(blob: &Blob) -> Result<(SnapshotChunk, &[u8]), tonic::Status> {
        let bad = |what: &str| tonic::Status::invalid_argument(format!("snapshot chunk: {what}"));
        let (len, rest) = blob
            .data
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        let len = usize::try_from(u32::from_be_bytes(*len))
            .ok()
            .filter(|&len| len <= rest.len())
            .ok_or_else(|| bad("truncated header"))?;
        let (header, bytes) = rest.split_at(len);
        let header = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        Ok((header, bytes))
    }
}

/// A snapshot being received, chunk by chunk.
#[derive(Debug)]
pub(crate) struct Receiving {
    pub chunk: SnapshotChunk,
    pub data: Vec<u8>,
}

impl Receiving {
    /// Adds a chunk; the whole snapshot once the last one is in. A chunk that does not
    /// continue the snapshot being received (a new transfer starts at offset 0) is refused,
    /// and the leader starts over.
    pub(crate) fn add(
        receiving: &mut Option<Receiving>,
        chunk: SnapshotChunk,
        bytes: &[u8],
    ) -> Result<Option<(Vote, Snapshot)>, String> {
        if chunk.offset == 0 {
            *receiving = None;
        }
        let current = receiving.get_or_insert_with(|| Receiving {
            chunk: chunk.clone(),
            data: Vec::new(),
        });
        if current.chunk.meta != chunk.meta || current.data.len() as u64 != chunk.offset {
            let expected = current.data.len();
            *receiving = None;
            return Err(format!(
                "snapshot chunk at offset {} does not continue the snapshot being received (expected offset {expected} of {:?}); the leader resends it from the start",
                chunk.offset, chunk.meta.last_log_id
            ));
        }
        current.data.extend_from_slice(bytes);
        if !chunk.done {
            return Ok(None);
        }
        Ok(receiving.take().map(|done| {
            (
                chunk.vote,
                Snapshot {
                    meta: chunk.meta,
                    snapshot: SnapshotData::new(done.data),
                },
            )
        }))
    }
}

impl Connection {
    /// Sends an encoded request; openraft's answer, or the RPC's failure as openraft sees it.
    async fn rpc<Resp: DeserializeOwned>(
        &self,
        (action, method): (RPCTypes, Method),
        blob: Vec<u8>,
        timeout: Duration,
    ) -> Result<Resp, RPCError<TypeConfig>> {
        let bytes = self
            .clients
            .call_raw(&self.addr, method, blob, timeout)
            .await
            .map_err(|failure| self.rpc_error(action, failure))?;
        self.reply(&bytes)
    }

    /// openraft's answer in a reply; a peer that has stopped (openraft's only error here is
    /// fatal) counts as unreachable.
    fn reply<Resp: DeserializeOwned>(&self, bytes: &[u8]) -> Result<Resp, RPCError<TypeConfig>> {
        match serde_json::from_slice::<Result<Resp, Fatal<TypeConfig>>>(bytes) {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::Unreachable(Unreachable::new(&remote))),
            Err(e) => Err(RPCError::Network(NetworkError::new(&RpcFailure::Failed {
                addr: self.addr.clone(),
                message: format!("undecodable reply: {e}"),
            }))),
        }
    }

    /// A failed call as openraft sees it.
    fn rpc_error(&self, action: RPCTypes, failure: RpcFailure) -> RPCError<TypeConfig> {
        match failure {
            RpcFailure::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&failure)),
            RpcFailure::Timeout { timeout, .. } => RPCError::Timeout(Timeout {
                action,
                id: self.source,
                target: self.target,
                timeout,
            }),
            RpcFailure::Failed { .. } => RPCError::Network(NetworkError::new(&failure)),
        }
    }

    async fn send_snapshot(
        &self,
        vote: Vote,
        snapshot: Snapshot,
        option: &RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let data = snapshot.snapshot.into_inner();
        let size = option.snapshot_chunk_size().unwrap_or(DEFAULT_CHUNK);
        for (offset, end) in chunks(data.len(), size) {
            let chunk = SnapshotChunk {
                vote,
                meta: snapshot.meta.clone(),
                offset: offset as u64,
                done: end == data.len(),
            };
            let blob = chunk
                .encode(data.get(offset..end).unwrap_or_default())
                .map_err(|e| NetworkError::new(&std::io::Error::other(e)))?;
            let reply: Result<Option<SnapshotResponse<TypeConfig>>, _> = self
                .rpc(
                    (RPCTypes::InstallSnapshot, Method::InstallSnapshot),
                    blob,
                    option.soft_ttl(),
                )
                .await;
            match reply {
                Ok(Some(response)) => return Ok(response),
                Ok(None) => {}
                Err(RPCError::Timeout(t)) => return Err(t.into()),
                Err(RPCError::Unreachable(u)) => return Err(u.into()),
                Err(RPCError::Network(n)) => return Err(n.into()),
                // `rpc` turns a peer's error into Unreachable; no remote error exists here.
                Err(RPCError::RemoteError(r)) => match r.source {},
            }
        }
        Err(NetworkError::new(&std::io::Error::other(
            "the peer did not answer the last snapshot chunk",
        ))
        .into())
    }
}

/// The byte ranges `offset..end` of the chunks of a snapshot of `len` bytes: at least one
/// (an empty snapshot is one empty chunk), the last one ending at `len`.
fn chunks(len: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    let size = size.max(1);
    (0..len.div_ceil(size).max(1)).map(move |i| (i * size, ((i + 1) * size).min(len)))
}

fn json<T: Serialize>(request: &T) -> Result<Vec<u8>, RPCError<TypeConfig>> {
    serde_json::to_vec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

/// When the unanswered requests of a replication stream were sent, oldest first, and a signal
/// for each new one: every answer must come within the deadline of its request.
#[derive(Debug, Default)]
struct Unanswered {
    sent: Mutex<VecDeque<Instant>>,
    new_request: tokio::sync::Notify,
}

impl Unanswered {
    fn oldest(&self) -> Option<Instant> {
        self.sent.lock().ok()?.front().copied()
    }

    fn push(&self) {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push_back(Instant::now());
        }
        self.new_request.notify_one();
    }

    fn pop(&self) {
        if let Ok(mut sent) = self.sent.lock() {
            sent.pop_front();
        }
    }
}

type StreamResult = Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>;

/// How long a replication request without entries waits for one with entries to replace it.
pub(crate) const COMMIT_HOLD: Duration = Duration::from_millis(1);

/// The next request of a replication stream to send, and whether more may follow.
///
/// A request without entries carries only the commit index (openraft makes one when the commit
/// index moves and no new entry is there to carry it). It waits up to [`COMMIT_HOLD`] for the
/// next request: one with entries carries the same commit index or a later one, from the same
/// previous entry, so it is sent instead. With one writer that is the next write's entries,
/// about half a millisecond later: the followers learn of each commit with the next write
/// instead of by a round trip of its own, and apply it while their log is being synced,
/// instead of taking the two cores from the leader and the client as the next write starts
/// (bench/README). A follower sees a lone write's commit this much later, ~2 ms in practice
/// (tokio's timer rounds up to whole milliseconds).
///
/// openraft counts a reply by the log id it matches, not one reply per request, so the
/// request left out is acknowledged by its replacement's reply (its send time is not used
/// for the leader's lease: only the replacement's, which was sent later).
async fn next_to_send<S>(input: &mut S) -> Option<(AppendEntriesRequest<TypeConfig>, bool)>
where
    S: futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>> + Unpin,
{
    let mut request = input.next().await?;
    if !request.entries.is_empty() {
        return Some((request, true));
    }
    let deadline = tokio::time::Instant::now() + COMMIT_HOLD;
    loop {
        // `next` is cancellation-safe: a request being made when the hold ends comes next time.
        tokio::select! {
            next = input.next() => match next {
                Some(next) => {
                    let carries_entries = !next.entries.is_empty();
                    request = next;
                    if carries_entries {
                        return Some((request, true));
                    }
                }
                None => return Some((request, false)),
            },
            () = tokio::time::sleep_until(deadline) => return Some((request, true)),
        }
    }
}

impl Connection {
    /// Replication over one bidirectional stream: requests go out as openraft produces them
    /// (several may be in flight), results come back in order. Each result must arrive within
    /// `timeout` of its request; an idle stream waits for the next request.
    async fn open_replication(
        &self,
        input: impl futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + Send
            + Unpin
            + 'static,
        timeout: Duration,
    ) -> Result<BoxStream<'static, StreamResult>, RPCError<TypeConfig>> {
        let unanswered = Arc::new(Unanswered::default());
        let sending = unanswered.clone();
        // A request that cannot be encoded ends the stream; openraft resends from the last
        // acknowledged entry.
        let outbound = futures_util::stream::unfold(Some(input), move |input| {
            let sending = sending.clone();
            async move {
                let mut input = input?;
                let (request, more) = next_to_send(&mut input).await?;
                let data = serde_json::to_vec(&request)
                    .inspect_err(
                        |e| tracing::error!(error = %e, "encoding an AppendEntries request"),
                    )
                    .ok()?;
                sending.push();
                Some((Blob { data }, more.then_some(input)))
            }
        });
        let inbound = self
            .clients
            .open_stream(&self.addr, outbound, timeout)
            .await
            .map_err(|failure| self.rpc_error(RPCTypes::AppendEntries, failure))?;
        let peer = self.clone();
        let replies = futures_util::stream::unfold(
            Some((inbound, unanswered, peer)),
            move |state| async move {
                let (mut inbound, unanswered, peer) = state?;
                let answer = loop {
                    let deadline = unanswered.oldest().map(|sent| sent + timeout);
                    tokio::select! {
                        message = inbound.message() => break message,
                        () = async {
                            match deadline {
                                Some(at) => tokio::time::sleep_until(at.into()).await,
                                None => std::future::pending().await,
                            }
                        } => {
                            let failure = RpcFailure::Timeout { addr: peer.addr.clone(), timeout };
                            return Some((Err(peer.rpc_error(RPCTypes::AppendEntries, failure)), None));
                        }
                        () = unanswered.new_request.notified() => {}
                    }
                };
                match answer {
                    Ok(Some(blob)) => {
                        unanswered.pop();
                        let result = peer.reply::<StreamAppendResult<TypeConfig>>(&blob.data);
                        let next = result.is_ok().then_some((inbound, unanswered, peer));
                        Some((result, next))
                    }
                    Ok(None) => None,
                    Err(status) => {
                        let failure = failure(&peer.addr, &status, timeout);
                        Some((Err(peer.rpc_error(RPCTypes::AppendEntries, failure)), None))
                    }
                }
            },
        );
        Ok(Box::pin(replies))
    }
}

impl RaftNetworkV2<TypeConfig> for Connection {
    type SnapshotData = SnapshotData;

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, StreamResult>, RPCError<TypeConfig>>>
    where
        S: futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + OptionalSend
            + Unpin
            + 'static,
    {
        Box::pin(async move { self.open_replication(input, option.soft_ttl()).await })
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // One request on its own replication stream (openraft streams; this is the trait's
        // single-request form).
        let input = futures_util::stream::iter([rpc]);
        let mut replies = self.open_replication(input, option.soft_ttl()).await?;
        match replies.next().await {
            Some(result) => result.map(AppendEntriesResponse::from),
            None => Err(RPCError::Network(NetworkError::new(&RpcFailure::Failed {
                addr: self.addr.clone(),
                message: "the replication stream closed without an answer".to_owned(),
            }))),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.rpc(
            (RPCTypes::Vote, Method::Vote),
            json(&rpc)?,
            option.soft_ttl(),
        )
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        tokio::select! {
            closed = cancel => Err(closed.into()),
            sent = self.send_snapshot(vote, snapshot, &option) => sent,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use crate::types::tests::log_id;

    fn header(index: u64, offset: usize, done: bool) -> SnapshotChunk {
        SnapshotChunk {
            vote: Vote::new(2, 1),
            meta: SnapshotMeta {
                last_log_id: Some(log_id(2, index)),
                last_membership: Default::default(),
            },
            offset: offset as u64,
            done,
        }
    }

    /// Sends `data` in chunks of `size` through the wire format into a receiver.
    fn send(receiving: &mut Option<Receiving>, index: u64, data: &[u8], size: usize) -> Vec<u8> {
        let mut whole = None;
        for (offset, end) in chunks(data.len(), size) {
            assert!(whole.is_none(), "a chunk after the last one");
            let chunk = header(index, offset, end == data.len());
            let blob = Blob {
                data: chunk.encode(&data[offset..end]).unwrap(),
            };
            let (chunk, bytes) = SnapshotChunk::decode(&blob).unwrap();
            whole = Receiving::add(receiving, chunk, bytes).unwrap();
        }
        let (_, snapshot) = whole.expect("the last chunk completes the snapshot");
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(2, index)));
        snapshot.snapshot.into_inner()
    }

    #[test]
    fn snapshots_arrive_whole_in_chunks_and_a_broken_sequence_is_refused() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut receiving = None;
        for size in [1 << 20, 10_000, 9_999, 4_096, 1] {
            assert_eq!(
                send(&mut receiving, 7, &data, size),
                data,
                "chunks of {size}"
            );
        }
        assert_eq!(send(&mut receiving, 7, &[], 4_096), Vec::<u8>::new());
        assert_eq!(chunks(10, 4).collect::<Vec<_>>(), [(0, 4), (4, 8), (8, 10)]);

        // A chunk that skips ahead, or belongs to another snapshot, is refused and the
        // transfer has to start over at offset 0.
        Receiving::add(&mut receiving, header(7, 0, false), &data[..100]).unwrap();
        let gap = Receiving::add(&mut receiving, header(7, 200, false), &data[200..300]);
        assert!(gap.unwrap_err().contains("expected offset 100"));
        assert!(receiving.is_none());
        Receiving::add(&mut receiving, header(7, 0, false), &data[..100]).unwrap();
        let other = Receiving::add(&mut receiving, header(8, 100, true), &data[100..]);
        assert!(other.is_err(), "a chunk of another snapshot");
        // A new transfer (offset 0) replaces a half-received one.
        Receiving::add(&mut receiving, header(7, 0, false), &data[..100]).unwrap();
        assert_eq!(send(&mut receiving, 8, &data, 3_000), data);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod stream_tests {
    use super::*;
    use crate::transport::generated::raft_server::Raft as Rpc;
    use crate::types::tests::log_id;
    use crate::types::LogId;

    type Reply = Result<tonic::Response<Blob>, tonic::Status>;

    /// A peer that accepts replication streams and answers only the first `answers` requests
    /// (with "flushed up to the request's last entry"), then goes silent: a hung or partitioned
    /// follower as the leader sees it.
    struct Stalling {
        answers: usize,
    }

    #[tonic::async_trait]
    impl Rpc for Stalling {
        type StreamAppendStream = ReplyStream;

        async fn stream_append(
            &self,
            request: tonic::Request<tonic::Streaming<Blob>>,
        ) -> Result<tonic::Response<ReplyStream>, tonic::Status> {
            let answers = self.answers;
            let replies = request
                .into_inner()
                .take(answers)
                .map(|blob| {
                    let request: AppendEntriesRequest<TypeConfig> = decode(&blob?)?;
                    let flushed: Result<StreamAppendResult<TypeConfig>, Fatal<TypeConfig>> =
                        Ok(Ok(request.entries.last().map(|e| e.log_id)));
                    encode(&flushed)
                })
                .chain(futures_util::stream::pending());
            Ok(tonic::Response::new(Box::pin(replies)))
        }
        async fn vote(&self, _: tonic::Request<Blob>) -> Reply {
            Err(tonic::Status::unimplemented("test peer"))
        }
        async fn install_snapshot(&self, _: tonic::Request<Blob>) -> Reply {
            Err(tonic::Status::unimplemented("test peer"))
        }
        async fn forward(&self, _: tonic::Request<Blob>) -> Reply {
            Err(tonic::Status::unimplemented("test peer"))
        }
        async fn read_index(&self, _: tonic::Request<Blob>) -> Reply {
            Err(tonic::Status::unimplemented("test peer"))
        }
        async fn node_status(&self, _: tonic::Request<Blob>) -> Reply {
            Err(tonic::Status::unimplemented("test peer"))
        }
    }

    fn append(index: u64) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(log_id(1, index - 1)),
            leader_commit: None,
            entries: vec![crate::types::Entry {
                log_id: log_id(1, index),
                payload: openraft::EntryPayload::Blank,
            }],
        }
    }

    #[tokio::test]
    async fn a_request_without_entries_waits_briefly_for_one_with_entries_to_replace_it() {
        let commit_only = |index: u64| AppendEntriesRequest {
            entries: Vec::new(),
            prev_log_id: Some(log_id(1, index)),
            leader_commit: Some(log_id(1, index)),
            ..append(index)
        };
        type Shape = (Option<LogId>, Option<LogId>, Vec<LogId>);
        let shape = |r: &AppendEntriesRequest<TypeConfig>| -> Shape {
            let entries = r.entries.iter().map(|e| e.log_id).collect();
            (r.prev_log_id, r.leader_commit, entries)
        };
        let pending = futures_util::stream::pending;
        let first = |requests: Vec<AppendEntriesRequest<TypeConfig>>, open: bool| async move {
            let started = Instant::now();
            let mut input = futures_util::stream::iter(requests);
            let sent = if open {
                next_to_send(&mut input.chain(pending())).await
            } else {
                next_to_send(&mut input).await
            };
            let (request, more) = sent.unwrap();
            (shape(&request), more, started.elapsed())
        };

        // Entries come within the hold: they go instead, and at once.
        let (request, more, took) = first(vec![commit_only(5), append(6)], true).await;
        assert_eq!((request, more), (shape(&append(6)), true));
        assert!(took < COMMIT_HOLD, "{took:?}");
        // Nothing else comes: the request goes when the hold ends.
        let (request, more, took) = first(vec![commit_only(5)], true).await;
        assert_eq!((request, more), (shape(&commit_only(5)), true));
        assert!(took >= COMMIT_HOLD, "{took:?}");
        // A later commit index replaces an earlier one.
        let (request, _, _) = first(vec![commit_only(5), commit_only(6)], true).await;
        assert_eq!(request, shape(&commit_only(6)));
        // The stream ends (a single request, a heartbeat): it goes at once, and is the last.
        let (request, more, took) = first(vec![commit_only(5)], false).await;
        assert_eq!((request, more), (shape(&commit_only(5)), false));
        assert!(took < COMMIT_HOLD, "{took:?}");
        // Entries never wait.
        let (request, _, took) = first(vec![append(7)], true).await;
        assert_eq!(request, shape(&append(7)));
        assert!(took < COMMIT_HOLD, "{took:?}");
    }

    #[tokio::test]
    async fn a_replication_stream_owes_each_answer_within_the_deadline_and_idles_freely() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(RaftServer::new(Stalling { answers: 1 }))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let connection = Connection {
            clients: Clients::default(),
            source: 1,
            target: 2,
            addr,
        };
        let (requests, input) = tokio::sync::mpsc::unbounded_channel();
        let input = futures_util::stream::unfold(input, |mut input| async {
            input.recv().await.map(|request| (request, input))
        });
        let timeout = Duration::from_millis(200);
        let mut replies = connection
            .open_replication(Box::pin(input), timeout)
            .await
            .unwrap();

        requests.send(append(1)).unwrap();
        let first = replies.next().await.unwrap();
        assert!(
            matches!(first, Ok(Ok(Some(id))) if id == log_id(1, 1)),
            "{first:?}"
        );

        // Nothing is owed: an idle stream does not time out.
        let idle = tokio::time::timeout(3 * timeout, replies.next()).await;
        assert!(idle.is_err(), "an idle stream ended: {idle:?}");

        // The peer goes silent on the next request: the stream fails once its deadline passes.
        let sent = Instant::now();
        requests.send(append(2)).unwrap();
        let stalled = tokio::time::timeout(10 * timeout, replies.next())
            .await
            .expect("the stalled request was not timed out");
        assert!(
            matches!(stalled, Some(Err(RPCError::Timeout(_)))),
            "{stalled:?}"
        );
        assert!(
            sent.elapsed() >= timeout,
            "timed out early: {:?}",
            sent.elapsed()
        );
        assert!(
            replies.next().await.is_none(),
            "the stream ends after a timeout"
        );
    }
}
