//! The UDP data plane: one OS thread per worker, each with its own `SO_REUSEPORT` socket, so the
//! kernel spreads queries across workers without a shared lock or queue.
//!
//! Each worker receives a batch of queries with one `recvmmsg`, answers them, and sends the
//! answers with one `sendmmsg` (Linux; through nix's safe wrappers): per-packet system calls were
//! 80 % of the CPU time of the one-call-per-packet loop. An io_uring path replaces
//! [`Worker::run`]'s receive and send calls without touching the answering: see ADR 0003.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use nebula_store::snapshot::Catalog;
use nix::errno::Errno;
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::answer::{EngineConfig, Outcome, Responder, Transport};
use crate::metrics::Metrics;
use crate::notify::answer_notify;
use crate::transfer::Policy;
use crate::tsig::sign_answer;

/// The name of this path in logs and the `nebula_build_info` metric.
pub const UDP_PATH: &str = "recvmmsg";

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
    /// Transfers and TSIG: who may transfer, the secondaries, the keys.
    pub policy: Arc<Policy>,
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

/// Packets received (and answers sent) per system call.
const BATCH: usize = 32;
/// The largest UDP payload; a query is never truncated on receipt, so what the decoder sees is
/// exactly what the client sent.
const MAX_DATAGRAM: usize = 65_535;

struct Worker {
    socket: UdpSocket,
    responder: Responder,
    shared: Shared,
}

impl Worker {
    /// Receives up to [`BATCH`] queries with one `recvmmsg` (blocking until at least one is
    /// there, `MSG_WAITFORONE`), answers them, and sends the answers with one `sendmmsg`.
    fn run(mut self) {
        let fd = self.socket.as_raw_fd();
        let mut packets: [Vec<u8>; BATCH] = std::array::from_fn(|_| vec![0u8; MAX_DATAGRAM]);
        let mut responses: [Vec<u8>; BATCH] = std::array::from_fn(|_| Vec::with_capacity(4096));
        let mut received: [(usize, Option<SocketAddr>); BATCH] = [(0, None); BATCH];
        let mut receive_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut destinations: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
        while !self.shared.shutdown.load(Ordering::Relaxed) {
            let count = {
                let mut slices = packets
                    .each_mut()
                    .map(|p| [IoSliceMut::new(p.as_mut_slice())]);
                match recvmmsg(
                    fd,
                    &mut receive_headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_WAITFORONE,
                    None,
                ) {
                    Ok(messages) => {
                        let mut count = 0;
                        for (slot, message) in received.iter_mut().zip(messages) {
                            *slot = (
                                message.bytes,
                                message.address.as_ref().and_then(socket_addr),
                            );
                            count += 1;
                        }
                        count
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "UDP receive failed");
                        continue;
                    }
                }
            };
            let catalog = self.shared.catalog.load();
            let now = unix_now();
            let mut ready = 0usize;
            for index in 0..count {
                let (len, peer) = received[index];
                let Some(peer) = peer else { continue };
                let started = Instant::now();
                let response = &mut responses[ready];
                if packets[index].get(2).is_some_and(|b| (b >> 3) & 0x0F == 4) {
                    // NOTIFY: for the secondary role, outside the answer engine.
                    if let Some(reply) =
                        answer_notify(&packets[index][..len], peer.ip(), &self.shared.policy)
                    {
                        *response = reply;
                        destinations[ready] = Some(SockaddrStorage::from(peer));
                        ready += 1;
                        continue;
                    }
                }
                let outcome = self.responder.answer(
                    &packets[index][..len],
                    peer.ip(),
                    Transport::Udp,
                    &catalog,
                    now,
                    response,
                );
                record(&self.shared.metrics, Transport::Udp, outcome, started);
                if let Outcome::Answered {
                    signed: Some(limit),
                    ..
                } = outcome
                {
                    sign_answer(
                        &packets[index][..len],
                        response,
                        &self.shared.policy,
                        limit,
                        peer.ip(),
                    );
                }
                if !response.is_empty() {
                    destinations[ready] = Some(SockaddrStorage::from(peer));
                    ready += 1;
                }
            }
            drop(catalog);
            self.send(
                fd,
                &mut send_headers,
                &responses[..ready],
                &destinations[..ready],
            );
        }
    }

    /// Sends `responses[i]` to `destinations[i]`, as few `sendmmsg` calls as the kernel allows.
    fn send(
        &self,
        fd: RawFd,
        headers: &mut MultiHeaders<SockaddrStorage>,
        responses: &[Vec<u8>],
        destinations: &[Option<SockaddrStorage>],
    ) {
        let no_control: [ControlMessage<'_>; 0] = [];
        let mut sent = 0usize;
        while sent < responses.len() {
            let slices: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                [IoSlice::new(
                    responses.get(sent + i).map_or(&[][..], Vec::as_slice),
                )]
            });
            let pending = responses.len() - sent;
            let result = sendmmsg(
                fd,
                headers,
                slices[..pending].iter(),
                &destinations[sent..],
                no_control,
                MsgFlags::empty(),
            );
            match result {
                Ok(results) => {
                    let done = results.count();
                    if done == 0 {
                        break;
                    }
                    sent += done;
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    // One bad destination must not lose the rest of the batch: skip it.
                    tracing::debug!(error = %e, "UDP send failed");
                    sent += 1;
                }
            }
        }
    }
}

/// A received datagram's source as a std address.
fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    storage
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
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
