//! The UDP data plane: one OS thread per worker, each with its own `SO_REUSEPORT` socket, so the
//! kernel spreads queries across workers without a shared lock or queue.
//!
//! This is the portable path (one `recv_from`/`send_to` per packet on a blocking socket). The
//! loop is shaped so a batched (`recvmmsg`) or io_uring path replaces [`Worker::run`]'s receive
//! and send calls without touching the answering: see ADR 0003.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use nebula_store::snapshot::Catalog;
use socket2::{Domain, Protocol, Socket, Type};

use crate::answer::{EngineConfig, Outcome, Responder, Transport};
use crate::metrics::Metrics;

/// The name of this path in logs and the `nebula_build_info` metric.
pub const UDP_PATH: &str = "recvfrom";

/// How often a blocked worker wakes to check for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);
/// Kernel socket buffers sized for bursts (the kernel caps them at net.core.[rw]mem_max).
const SOCKET_BUFFER: usize = 4 << 20;

/// What every worker shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub catalog: Arc<ArcSwap<Catalog>>,
    pub metrics: Arc<Metrics>,
    pub engine: EngineConfig,
    pub shutdown: Arc<AtomicBool>,
}

/// Binds `workers` sockets to `addr` (port 0 picks one port for all of them).
pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
    let first = bind_reuseport(addr)?;
    let bound = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..workers.max(1) {
        sockets.push(bind_reuseport(bound)?);
    }
    Ok(sockets)
}

/// Starts one worker thread per bound socket.
pub fn spawn(sockets: Vec<UdpSocket>, shared: &Shared) -> io::Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::with_capacity(sockets.len());
    for (index, socket) in sockets.into_iter().enumerate() {
        let worker = Worker {
            socket,
            responder: Responder::new(shared.engine.clone()),
            shared: shared.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("udp-{index}"))
            .spawn(move || worker.run())?;
        threads.push(handle);
    }
    Ok(threads)
}

fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Best effort: a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(SHUTDOWN_POLL))?;
    Ok(socket)
}

struct Worker {
    socket: UdpSocket,
    responder: Responder,
    shared: Shared,
}

impl Worker {
    fn run(mut self) {
        let mut packet = vec![0u8; 65_535];
        let mut response = Vec::with_capacity(4096);
        while !self.shared.shutdown.load(Ordering::Relaxed) {
            let (len, peer) = match self.socket.recv_from(&mut packet) {
                Ok(received) => received,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    continue;
                }
            };
            let started = Instant::now();
            let catalog = self.shared.catalog.load();
            let outcome = self.responder.answer(
                &packet[..len],
                peer.ip(),
                Transport::Udp,
                &catalog,
                unix_now(),
                &mut response,
            );
            record(&self.shared.metrics, Transport::Udp, outcome, started);
            if !response.is_empty() {
                if let Err(e) = self.socket.send_to(&response, peer) {
                    tracing::debug!(error = %e, "UDP send failed");
                }
            }
        }
    }
}

/// Seconds since the epoch, truncated to 32 bits as cookies use them (RFC 9018 §4.3).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// Counts an outcome in the metrics.
pub fn record(metrics: &Metrics, transport: Transport, outcome: Outcome, started: Instant) {
    match outcome {
        Outcome::Answered { rcode, qtype, .. } => {
            metrics.count_query(transport, qtype, rcode, started.elapsed())
        }
        Outcome::FormErr { reason } => {
            metrics.count_formerr(reason);
            metrics.count_query(
                transport,
                nebula_wire::RType(0),
                nebula_wire::Rcode::FORMERR,
                started.elapsed(),
            );
        }
        Outcome::Dropped(reason) => metrics.count_dropped(reason),
    }
}
