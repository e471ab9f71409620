//! DNS over TCP (RFC 7766, RFC 1035 §4.2.2): two-octet length framing, several queries per
//! connection (pipelining; answers go back in order), an idle timeout, and limits on open
//! connections in total and per client address so one client cannot exhaust the listener.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::answer::{Outcome, Responder, Transport};
use crate::notify::answer_notify;
use crate::transfer;
use crate::tsig::sign_answer;
use crate::udp::{record, unix_now, Shared};

/// TCP limits from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerClient {
    fn try_acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            table: Arc::clone(self),
            ip,
        })
    }
}

/// Releases the client's slot when the connection ends.
struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock() {
            if let Some(count) = open.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// Accepts connections until `stop` turns true, then stops accepting and waits up to `drain`
/// for open connections to finish the query they are on.
pub async fn serve(
    listener: TcpListener,
    shared: Shared,
    limits: TcpLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&total).try_acquire_owned() else {
                    tracing::debug!(%peer, "TCP connection refused: total limit reached");
                    continue;
                };
                let Some(slot) = per_client.try_acquire(peer.ip(), limits.max_per_client) else {
                    tracing::debug!(%peer, "TCP connection refused: per-client limit reached");
                    continue;
                };
                let shared = shared.clone();
                let stop = stop.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    let _slot = slot;
                    if let Err(e) = connection(stream, peer, shared, limits.idle_timeout, stop).await {
                        tracing::debug!(%peer, error = %e, "TCP connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let deadline = tokio::time::sleep(drain);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                connections.abort_all();
                break;
            }
            next = connections.join_next() => if next.is_none() { break },
        }
    }
}

/// Serves one connection: read a length, read the query, answer, repeat.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Shared,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut responder = Responder::new(shared.engine.clone());
    let mut query = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4098);
    loop {
        let mut len = [0u8; 2];
        tokio::select! {
            // Draining: finish between queries, never in the middle of one.
            _ = stop.changed() => return Ok(()),
            read = tokio::time::timeout(idle, stream.read_exact(&mut len)) => match read {
                Err(_) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(_)) => {}
            }
        }
        let len = usize::from(u16::from_be_bytes(len));
        query.resize(len, 0);
        match tokio::time::timeout(idle, stream.read_exact(&mut query)).await {
            Err(_) => return Ok(()),
            Ok(result) => result?,
        };
        if let Some(request) = transfer::recognise(&query) {
            transfer::serve(&mut stream, request, peer.ip(), &shared, idle).await?;
            continue;
        }
        if query.get(2).is_some_and(|b| (b >> 3) & 0x0F == 4) {
            if let Some(reply) = answer_notify(&query, peer.ip(), &shared.policy) {
                response = reply;
                write_response(&mut stream, &response, &mut framed).await?;
                continue;
            }
        }
        let started = Instant::now();
        let outcome = {
            let catalog = shared.catalog.load();
            responder.answer(
                &query,
                peer.ip(),
                Transport::Tcp,
                &catalog,
                unix_now(),
                &mut response,
            )
        };
        record(&shared.metrics, Transport::Tcp, outcome, started);
        if let Outcome::Answered {
            signed: Some(limit),
            ..
        } = outcome
        {
            sign_answer(&query, &mut response, &shared.policy, limit, peer.ip());
        }
        if response.is_empty() {
            continue;
        }
        write_response(&mut stream, &response, &mut framed).await?;
    }
}

/// One write per response: length prefix and message in the same segment.
async fn write_response(
    stream: &mut TcpStream,
    response: &[u8],
    framed: &mut Vec<u8>,
) -> io::Result<()> {
    let Ok(framed_len) = u16::try_from(response.len()) else {
        return Ok(());
    };
    framed.clear();
    framed.extend_from_slice(&framed_len.to_be_bytes());
    framed.extend_from_slice(response);
    stream.write_all(framed).await
}
