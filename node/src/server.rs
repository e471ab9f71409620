//! Running a node: logging, zones, the data plane (UDP workers, TCP), the HTTP listeners,
//! signals (SIGHUP reloads, SIGTERM/SIGINT drain and exit), and readiness.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use nebula_store::snapshot::Catalog;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

use nebula_api::auth::{admin_token_path, load_or_create_admin_token, Auth};
use nebula_api::{ApiState, NodeView};
use nebula_raft::{Cluster, ClusterConfig, NodeInfo};
use nebula_store::db::Db;
use nebula_store::diff::diff;
use nebula_store::meta::read_tsig_key;
use nebula_store::records::{Secondary, TransferNote};
use nebula_store::state::{
    list_heads, read_head, read_history, read_token, read_version, zone_key, Command, TokenRecord,
};
use nebula_wire::tsig::Key;
use nebula_wire::{Name, Record};

use crate::answer::{EngineConfig, Identity};
use crate::config::{threads_or_cores, Config, LogFormat, LogSection, TracingSection};
use crate::cookie::CookieSecret;
use crate::http::{api_router, metrics_router, HttpState};
use crate::metrics::Metrics;
use crate::peers::Peers;
use crate::tcp::TcpLimits;
use crate::transfer::{Policy, Store};
use crate::udp::{Shared, UDP_PATH};
use crate::zones::{Reloader, EXAMPLE_ZONE};

/// How long SIGTERM waits for open TCP connections to finish their current query.
const TCP_DRAIN: Duration = Duration::from_secs(5);

/// Why the node could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot bind {what} on {addr}: {source} (is another server using it? change it in the config)")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot read or write the cookie secret {path}: {source}")]
    CookieSecret {
        path: String,
        source: std::io::Error,
    },
    #[error("signal handling: {0}")]
    Signal(std::io::Error),
    #[error("cluster: {0}")]
    Cluster(#[from] nebula_raft::ClusterError),
    #[error("API token: {0}")]
    Token(String),
}

/// Keeps the OpenTelemetry tracer provider, when trace export is configured, so the spans still
/// queued are sent before the process exits.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes the queued spans and stops the exporter. Call it outside the runtime's async
    /// context (the batch task runs on the runtime and must be free to finish the export).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.force_flush() {
                eprintln!("nebuladns: flushing trace spans: {e}");
            }
            if let Err(e) = provider.shutdown() {
                eprintln!("nebuladns: stopping trace export: {e}");
            }
        }
    }
}

/// Sets up logging as configured (text or JSON lines on stderr) and, when
/// `tracing.otlp_endpoint` is set, OpenTelemetry span export layered into the same subscriber.
/// With an endpoint it must run inside the tokio runtime (the batch processor is a task on it).
///
/// Spans are made for start-up and shutdown, zone loads and reloads and HTTP requests. There is
/// deliberately no span per DNS query: the answer path stays allocation-free, and a span with
/// OpenTelemetry attached allocates.
pub fn init_logging(log: &LogSection, tracing_config: &TracingSection) -> Telemetry {
    // openraft narrates every election and membership step at info; keep it to warnings unless
    // the filter names it.
    let level = if log.level.contains("openraft") {
        log.level.clone()
    } else {
        format!("{},openraft=warn", log.level)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt_layer = match log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
    };
    let provider =
        tracing_config
            .otlp_endpoint
            .as_deref()
            .and_then(|endpoint| match tracer_provider(endpoint, tracing_config) {
                Ok(provider) => Some(provider),
                Err(e) => {
                    eprintln!("nebuladns: trace export to {endpoint} is off: {e}");
                    None
                }
            });
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("nebula-node")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    Telemetry { provider }
}

/// An OTLP/HTTP (protobuf) exporter to `<endpoint>/v1/traces` behind a batch processor on the
/// tokio runtime, sampling new traces at `sample_ratio`.
fn tracer_provider(
    endpoint: &str,
    config: &TracingSection,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let base = endpoint.trim_end_matches('/');
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .build()?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// Runs the node until SIGTERM or SIGINT: sets up logging and trace export, serves, then flushes
/// the exported spans before returning.
pub fn run(mut config: Config) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads_or_cores(config.server.runtime_threads))
        .thread_name("nebula-io")
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let telemetry = {
        let _context = runtime.enter();
        init_logging(&config.log, &config.tracing)
    };
    let result = prepare_data_dir(&mut config).and_then(|()| {
        let span = tracing::info_span!("serve", zones = config.zones.len());
        runtime.block_on(serve(config).instrument(span))
    });
    // The `serve` span has closed; send it and everything queued before the runtime goes away.
    telemetry.shutdown();
    result
}

/// Creates the data directory.
fn prepare_data_dir(config: &mut Config) -> Result<(), ServerError> {
    let data_dir = config.server.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|source| ServerError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })
}

/// Starts this node's Raft group member; the advertised API address defaults to the bound one.
async fn start_cluster(
    config: &Config,
    http_addr: SocketAddr,
    catalog: Arc<ArcSwap<Catalog>>,
) -> Result<Arc<Cluster>, ServerError> {
    let section = &config.cluster;
    let advertise = NodeInfo {
        rpc_addr: section
            .advertise_rpc
            .clone()
            .unwrap_or_else(|| section.rpc_listen.to_string()),
        api_addr: section
            .advertise_api
            .clone()
            .unwrap_or_else(|| http_addr.to_string()),
    };
    let initial_members = section
        .peers
        .iter()
        .map(|p| {
            let node = NodeInfo {
                rpc_addr: p.rpc.clone(),
                api_addr: p.api.clone(),
            };
            (p.id, node)
        })
        .collect();
    let cluster_config = ClusterConfig {
        node_id: section.node_id,
        rpc_listen: section.rpc_listen,
        advertise,
        initial_members,
        db_path: config.server.data_dir.join("db"),
        snapshot_threshold: section.snapshot_threshold,
        keep_logs: section.keep_logs,
        heartbeat_ms: section.heartbeat_ms,
        election_min_ms: section.election_timeout_min_ms,
        election_max_ms: section.election_timeout_max_ms,
        write_timeout: Duration::from_millis(section.write_timeout_ms),
        rpc_timeout: Duration::from_millis(section.rpc_timeout_ms),
    };
    Ok(Cluster::start(cluster_config, catalog).await?)
}

/// Whether this node bootstraps a new cluster (the lowest initial member, or alone).
fn bootstraps(config: &Config) -> bool {
    let lowest = config.cluster.peers.iter().map(|p| p.id).min();
    lowest.is_none_or(|id| id == config.cluster.node_id)
}

/// A new cluster without file zones starts with the example zone, proposed through Raft like
/// any change (once: the idempotency key makes a repeated attempt a no-op). Retries until a
/// leader takes it.
async fn seed_example_zone(cluster: Arc<Cluster>) {
    loop {
        match list_heads(cluster.db()) {
            Ok(heads) if heads.is_empty() => {}
            _ => return,
        }
        let command = Command::PutZone {
            zone: "example.com.".to_owned(),
            body: EXAMPLE_ZONE.to_owned(),
            policy: None,
            create_only: true,
        };
        match cluster
            .write("bootstrap", Some("seed-example.com".to_owned()), command)
            .await
        {
            Ok(Ok(result)) => {
                tracing::info!(serial = ?result.serial, "example zone example.com. created");
                return;
            }
            Ok(Err(rejection)) => {
                tracing::warn!(reason = %rejection.message, "example zone not created");
                return;
            }
            Err(e) => tracing::info!(error = %e, "example zone waits for a leader"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Registers this node's admin token with the cluster (its hash, replicated), retrying until a
/// leader takes it; a node that has not joined yet keeps trying in the background.
async fn register_admin_token(cluster: Arc<Cluster>, token: TokenRecord) {
    let key = format!("admin-token-{}", token.id);
    loop {
        if matches!(read_token(cluster.db(), &token.id), Ok(Some(_))) {
            return;
        }
        let command = Command::PutToken {
            token: token.clone(),
        };
        match cluster.write("bootstrap", Some(key.clone()), command).await {
            Ok(_) => return,
            Err(e) => tracing::debug!(error = %e, "admin token not registered yet"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn serve(config: Config) -> Result<(), ServerError> {
    // Handlers first: a signal that arrives while the node starts (its listeners are already
    // answering) is queued for the loop below instead of killing the process undrained.
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(ServerError::Signal)?;
    let metrics = Arc::new(Metrics::new(UDP_PATH));
    let catalog = Arc::new(ArcSwap::from_pointee(Catalog::default()));
    let reloader = Arc::new(Reloader::new(
        config.zones.clone(),
        Arc::clone(&catalog),
        Arc::clone(&metrics),
    ));
    let initial = {
        let reloader = Arc::clone(&reloader);
        tokio::task::spawn_blocking(move || reloader.reload())
            .await
            .unwrap_or_else(|_| crate::zones::ReloadReport {
                applied: false,
                zones: Vec::new(),
            })
    };
    for zone in &initial.zones {
        if zone.loaded {
            tracing::info!(zone = %zone.zone, serial = ?zone.serial, records = ?zone.records, "zone loaded");
        }
    }
    let engine = EngineConfig {
        identity: identity(&config),
        cookie_secret: cookie_secret(&config.server.data_dir)?,
        edns_payload: config.dns.edns_payload,
        transfer_allow: config.transfer.allow.clone().into(),
    };
    let peers = Arc::new(Peers::new(config.secondaries.clone()));
    let transfers = Arc::new(Policy {
        allow: config.transfer.allow.clone(),
        rules: config.transfer.rules.clone(),
        peers: Arc::clone(&peers),
        store: OnceLock::new(),
        notes: OnceLock::new(),
        kicks: OnceLock::new(),
    });
    let shutdown = Arc::new(AtomicBool::new(false));
    let shared = Shared {
        catalog: Arc::clone(&catalog),
        metrics: Arc::clone(&metrics),
        engine,
        shutdown: Arc::clone(&shutdown),
        policy: Arc::clone(&transfers),
    };
    let workers = threads_or_cores(config.dns.udp_workers);
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(config.dns.tcp_idle_timeout_ms),
        max_connections: config.dns.tcp_max_connections,
        max_per_client: config.dns.tcp_max_connections_per_client,
    };
    let mut udp_threads = Vec::new();
    let mut tcp_tasks = Vec::new();
    let mut announcements = Vec::new();
    for &addr in &config.dns.listen {
        let (sockets, listener) = bind_dns(addr, workers).await?;
        let udp_addr = sockets
            .first()
            .and_then(|s| s.local_addr().ok())
            .unwrap_or(addr);
        let tcp_addr = listener.local_addr().unwrap_or(udp_addr);
        let threads = crate::udp::spawn(sockets, &shared).map_err(|source| ServerError::Bind {
            what: "DNS over UDP",
            addr,
            source,
        })?;
        udp_threads.extend(threads);
        announcements.push(format!(
            "dns udp {udp_addr} ({workers} workers, {UDP_PATH})"
        ));
        announcements.push(format!("dns tcp {tcp_addr}"));
        tcp_tasks.push(tokio::spawn(crate::tcp::serve(
            listener,
            shared.clone(),
            limits,
            stop_rx.clone(),
            TCP_DRAIN,
        )));
    }
    let ready = Arc::new(AtomicBool::new(false));
    let http = bind_http(config.http.listen, "HTTP API").await?;
    let http_addr = http.local_addr().unwrap_or(config.http.listen);
    announcements.push(format!("http {http_addr}"));
    let cluster = start_cluster(&config, http_addr, Arc::clone(&catalog)).await?;
    let _ = transfers.store.set(Arc::new(StoreView {
        db: Arc::clone(cluster.db()),
    }));
    let peers_task =
        tokio::spawn(Arc::clone(&peers).refresh(Arc::clone(cluster.db()), stop_rx.clone()));
    let _ = transfers.notes.set(note_sink(Arc::clone(&cluster)));
    let (kick_tx, kick_rx) = tokio::sync::mpsc::channel::<String>(64);
    let _ = transfers.kicks.set(Box::new(move |zone| {
        let _ = kick_tx.try_send(zone);
    }));
    let refresher_task = tokio::spawn(crate::upstream::run(
        crate::upstream::Refresher {
            cluster: Arc::clone(&cluster),
            policy: Arc::clone(&transfers),
            catalog: Arc::clone(&catalog),
        },
        kick_rx,
        stop_rx.clone(),
    ));
    let verifier_task = tokio::spawn(crate::propagation::run(
        crate::propagation::Verifier {
            cluster: Arc::clone(&cluster),
            policy: Arc::clone(&transfers),
            catalog: Arc::clone(&catalog),
            metrics: Arc::clone(&metrics),
            poll: Duration::from_millis(config.propagation.poll_ms),
        },
        stop_rx.clone(),
    ));
    let (admin_token, created) = load_or_create_admin_token(&config.server.data_dir)
        .map_err(|e| ServerError::Token(e.message))?;
    let token_path = admin_token_path(&config.server.data_dir);
    let token_note = created.then(|| {
        format!(
            "nebuladns: admin API token written to {} (mode 0600); nebulactl reads it from there",
            token_path.display()
        )
    });
    if config.cluster.peers.is_empty() && !cluster.leader_within(Duration::from_secs(5)).await {
        tracing::warn!("this one-node cluster has no leader yet; writes wait for it");
    }
    tokio::spawn(register_admin_token(
        Arc::clone(&cluster),
        admin_token.clone(),
    ));
    if config.zones.is_empty() && bootstraps(&config) {
        let seeding = tokio::spawn(seed_example_zone(Arc::clone(&cluster)));
        // A lone node elects itself at once: serve the example zone before saying ready.
        if config.cluster.peers.is_empty() {
            let _ = tokio::time::timeout(Duration::from_secs(10), seeding).await;
        }
    }
    let (resend_tx, resend_rx) = tokio::sync::mpsc::channel(64);
    let api_state = ApiState {
        cluster: Arc::clone(&cluster),
        auth: Arc::new(Auth::new(Some(admin_token))),
        node: Arc::new(NodeHandle {
            peers: Arc::clone(&peers),
            resend: resend_tx,
        }),
    };
    let state = HttpState {
        metrics: Arc::clone(&metrics),
        ready: Arc::clone(&ready),
        reloader: Arc::clone(&reloader),
        cluster: Arc::clone(&cluster),
    };
    let metrics_listener = bind_http(config.metrics.listen, "metrics").await?;
    announcements.push(format!(
        "metrics {}",
        metrics_listener
            .local_addr()
            .unwrap_or(config.metrics.listen)
    ));
    let router =
        api_router(state.clone()).merge(nebula_api::router(api_state, config.http.max_body_bytes));
    let http_task = tokio::spawn(serve_http(http, router, stop_rx.clone()));
    let notify_task = tokio::spawn(crate::notify::run(
        Arc::clone(&catalog),
        Arc::clone(&transfers),
        resend_rx,
        stop_rx.clone(),
    ));
    let metrics_task = tokio::spawn(serve_http(
        metrics_listener,
        metrics_router(state),
        stop_rx.clone(),
    ));
    // Listeners are bound; /readyz adds "and at least one zone is served" when asked (zones
    // can arrive later through Raft).
    ready.store(true, Ordering::Release);
    metrics.set_ready(reloader.served_zone_count() > 0);
    if let Some(note) = token_note {
        println!("{note}");
    }
    announce(&announcements, &config.server.data_dir);

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let reloader = Arc::clone(&reloader);
                if let Ok(report) = tokio::task::spawn_blocking(move || reloader.reload()).await {
                    tracing::info!(applied = report.applied, "reload on SIGHUP");
                }
            }
        }
    }
    async {
        tracing::info!("shutting down: no new connections, draining TCP");
        ready.store(false, Ordering::Release);
        metrics.set_ready(false);
        let _ = stop_tx.send(true);
        for task in tcp_tasks {
            let _ = task.await;
        }
        shutdown.store(true, Ordering::Relaxed);
        let _ = http_task.await;
        let _ = notify_task.await;
        let _ = peers_task.await;
        let _ = verifier_task.await;
        let _ = refresher_task.await;
        let _ = metrics_task.await;
        cluster.shutdown().await;
        for thread in udp_threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
    .instrument(tracing::info_span!("shutdown"))
    .await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the UDP sockets and the TCP listener of one DNS address on the same port. With port 0
/// the kernel picks the UDP port, which may be taken for TCP: then both are tried again.
async fn bind_dns(
    addr: SocketAddr,
    workers: usize,
) -> Result<(Vec<std::net::UdpSocket>, TcpListener), ServerError> {
    const ATTEMPTS_WITH_PORT_ZERO: usize = 16;
    let attempts = if addr.port() == 0 {
        ATTEMPTS_WITH_PORT_ZERO
    } else {
        1
    };
    let mut last_error = None;
    for _ in 0..attempts {
        let sockets = crate::udp::bind(addr, workers).map_err(|source| ServerError::Bind {
            what: "DNS over UDP",
            addr,
            source,
        })?;
        let port = sockets
            .first()
            .and_then(|s| s.local_addr().ok())
            .map_or(addr.port(), |a| a.port());
        let tcp_addr = SocketAddr::new(addr.ip(), port);
        match TcpListener::bind(tcp_addr).await {
            Ok(listener) => return Ok((sockets, listener)),
            Err(source) => {
                last_error = Some(ServerError::Bind {
                    what: "DNS over TCP",
                    addr: tcp_addr,
                    source,
                })
            }
        }
    }
    Err(last_error.unwrap_or(ServerError::Bind {
        what: "DNS over TCP",
        addr,
        source: std::io::Error::other("no attempt made"),
    }))
}

async fn bind_http(addr: SocketAddr, what: &'static str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { what, addr, source })
}

async fn serve_http(listener: TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

/// Prints where everything listens, one line each on stdout (tests read the ports back).
fn announce(lines: &[String], data_dir: &Path) {
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "nebuladns: listening {line}");
    }
    let _ = writeln!(out, "nebuladns: data dir {}", data_dir.display());
    let _ = writeln!(out, "nebuladns: ready");
    let _ = out.flush();
}

fn identity(config: &Config) -> Identity {
    let version = config.chaos.version_enabled.then(|| {
        config
            .chaos
            .version
            .clone()
            .unwrap_or_else(|| format!("NebulaDNS {}", env!("CARGO_PKG_VERSION")))
    });
    let hostname = config.chaos.hostname_enabled.then(|| {
        config.chaos.hostname.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "nebuladns".to_owned())
        })
    });
    Identity { version, hostname }
}

/// The server-cookie secret, created once per data directory (mode 0600) so cookies survive restarts.
fn cookie_secret(data_dir: &Path) -> Result<CookieSecret, ServerError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("cookie.secret");
    let err = |source| ServerError::CookieSecret {
        path: path.display().to_string(),
        source,
    };
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = <[u8; 16]>::try_from(bytes.as_slice()) {
            return Ok(CookieSecret::new(key));
        }
    }
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| err(std::io::Error::other(e.to_string())))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    file.write_all(&key).map_err(err)?;
    Ok(CookieSecret::new(key))
}

/// How many versions back IXFR looks for the client's serial; older clients get the whole zone.
const IXFR_HISTORY: u64 = 1000;

/// What the API asks of this node.
#[derive(Debug)]
struct NodeHandle {
    peers: Arc<Peers>,
    resend: tokio::sync::mpsc::Sender<Vec<u8>>,
}

impl NodeView for NodeHandle {
    fn secondaries(&self) -> Vec<Secondary> {
        self.peers.load().list.clone()
    }

    fn notify(&self, zone: &str) -> Vec<String> {
        let Ok(name) = Name::from_text(zone, Some(&Name::root())) else {
            return Vec::new();
        };
        let key = name.to_lowercase().as_wire().to_vec();
        let peers = self.peers.load();
        let names = peers.taking(&key).map(|s| s.name.clone()).collect();
        let _ = self.resend.try_send(key);
        names
    }
}

/// Reports transfers to declared secondaries through Raft, from a queue so a transfer never
/// waits for a commit; when the queue is full, notes are dropped (and the metrics still count).
fn note_sink(cluster: Arc<Cluster>) -> crate::transfer::NoteSink {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<TransferNote>(256);
    tokio::spawn(async move {
        // A secondary retrying with a bad key fails every few seconds: one note per kind of
        // failure per ten seconds is enough.
        let mut last: Option<(TransferNote, u64)> = None;
        while let Some(mut note) = rx.recv().await {
            let same = last.as_ref().is_some_and(|(seen, at)| {
                seen.peer == note.peer
                    && seen.zone == note.zone
                    && seen.result == note.result
                    && seen.kind == note.kind
                    && note.result != "ok"
                    && note.time_ms < at + 10_000
            });
            if same {
                continue;
            }
            last = Some((note.clone(), note.time_ms));
            note.node = cluster.id();
            let command = Command::RecordTransfer { note };
            if let Err(e) = cluster.write("transfer", None, command).await {
                tracing::debug!(error = %e, "transfer note not recorded");
            }
        }
    });
    Box::new(move |note| {
        let _ = tx.try_send(note);
    })
}

/// The replicated store as transfers need it: version history for IXFR, TSIG keys.
struct StoreView {
    db: Arc<Db>,
}

impl Store for StoreView {
    fn tsig_key(&self, name: &Name) -> Option<Key> {
        let record = read_tsig_key(&self.db, &name.to_string()).ok()??;
        match record.key() {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(key = %name, error = %e, "unusable TSIG key");
                None
            }
        }
    }

    fn difference(&self, zone: &Name, from: u32) -> Option<(Vec<Record>, Vec<Record>)> {
        let key = zone_key(zone);
        let head = read_head(&self.db, &key).ok()??;
        let oldest = head.version.saturating_sub(IXFR_HISTORY);
        let base = read_history(&self.db, &key, oldest, IXFR_HISTORY as usize + 1)
            .ok()?
            .into_iter()
            .rev()
            .find(|entry| entry.serial == from && !entry.hash.is_empty())?;
        let (_, old) = read_version(&self.db, &key, base.version).ok()??;
        let (_, new) = read_version(&self.db, &key, head.version).ok()??;
        Some(diff(&old, &new).to_ixfr())
    }
}
