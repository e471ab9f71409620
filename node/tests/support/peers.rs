//! Real DNS servers as test peers: BIND 9 (`named`), Knot DNS (`knotd`) and NSD (`nsd`), each
//! started in the foreground on 127.0.0.1 with a free port, in its own temporary directory, as
//! primary or secondary of the zones it is given, and stopped when the [`Peer`] is dropped.
//!
//! We run as root in CI, so every configuration keeps the server from dropping privileges and
//! puts every path it writes (PID file, journal and timer databases, control socket, transfer
//! state) inside the peer's directory; nothing touches `/etc`, `/var` or `/run`.
//!
//! A port is picked by binding port 0 on UDP, then the same port on TCP, and releasing both; if
//! the server then fails to bind it (another process took it meanwhile) it is restarted on a new
//! port. [`Peer::start`] returns once every zone answers its SOA authoritatively.
//!
//! ```ignore
//! let zone = ZoneConfig::primary("interop.test.", "tests/data/all-types.zone").with_key(key);
//! let primary = Peer::start(PeerKind::Knot, &[zone])?;
//! let secondary =
//!     Peer::start(PeerKind::Nsd, &[ZoneConfig::secondary("interop.test.", primary.address())])?;
//! ```

use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nebula_wire::{Message, Name, RData, RType};

use super::exchange::{query, udp_exchange};
use super::process::{self, Target};
use super::tsig::TsigKey;

/// How long a peer may take to answer at all, and then to serve each zone.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the readiness probes ask.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Starts on a new port after a failed bind, at most this often.
const START_ATTEMPTS: usize = 5;

/// Which server software a peer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    Bind,
    Knot,
    Nsd,
    /// PowerDNS Authoritative with its generic SQLite backend (zones and keys set up with
    /// `pdnsutil`).
    PowerDns,
}

impl PeerKind {
    pub const ALL: [PeerKind; 3] = [PeerKind::Bind, PeerKind::Knot, PeerKind::Nsd];

    /// The daemon's executable.
    pub fn binary(self) -> &'static str {
        match self {
            PeerKind::Bind => "named",
            PeerKind::Knot => "knotd",
            PeerKind::Nsd => "nsd",
            PeerKind::PowerDns => "pdns_server",
        }
    }

    /// The Debian package that installs [`PeerKind::binary`].
    pub fn package(self) -> &'static str {
        match self {
            PeerKind::Bind => "bind9",
            PeerKind::Knot => "knot",
            PeerKind::Nsd => "nsd",
            PeerKind::PowerDns => "pdns-server",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PeerKind::Bind => "bind",
            PeerKind::Knot => "knot",
            PeerKind::Nsd => "nsd",
            PeerKind::PowerDns => "powerdns",
        }
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerKind::Bind => "BIND",
            PeerKind::Knot => "Knot DNS",
            PeerKind::Nsd => "NSD",
            PeerKind::PowerDns => "PowerDNS",
        })
    }
}

/// Where a zone's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// Loaded from this master file (copied into the peer's directory first, so a server that
    /// writes its zone file back cannot change test data).
    Primary { file: PathBuf },
    /// Transferred from these primaries (AXFR/IXFR over TCP), NOTIFY accepted from 127.0.0.1.
    Secondary { primaries: Vec<SocketAddr> },
}

/// One zone a peer serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The zone's origin, fully qualified (`interop.test.`).
    pub origin: String,
    pub source: ZoneSource,
    /// Signs and requires TSIG with this key on every transfer and NOTIFY of this zone:
    /// transfers it serves, transfers it requests and NOTIFYs it sends or accepts.
    pub key: Option<TsigKey>,
    /// Serve AXFR/IXFR of this zone to 127.0.0.1 (signed with `key` when set).
    pub allow_transfer: bool,
    /// Send NOTIFY (RFC 1996) to these addresses when the zone changes or loads.
    pub notify: Vec<SocketAddr>,
}

impl ZoneConfig {
    /// A primary zone loaded from `file`, transferable to 127.0.0.1 without a key.
    pub fn primary(origin: &str, file: impl Into<PathBuf>) -> ZoneConfig {
        ZoneConfig {
            origin: fully_qualified(origin),
            source: ZoneSource::Primary { file: file.into() },
            key: None,
            allow_transfer: true,
            notify: Vec::new(),
        }
    }

    /// A secondary zone transferred from `primary`, itself transferable to 127.0.0.1.
    pub fn secondary(origin: &str, primary: SocketAddr) -> ZoneConfig {
        ZoneConfig {
            origin: fully_qualified(origin),
            source: ZoneSource::Secondary {
                primaries: vec![primary],
            },
            key: None,
            allow_transfer: true,
            notify: Vec::new(),
        }
    }

    /// Requires and uses TSIG `key` for this zone's transfers and NOTIFYs.
    pub fn with_key(mut self, key: TsigKey) -> ZoneConfig {
        self.key = Some(key);
        self
    }

    /// Also sends NOTIFY to `target`.
    pub fn with_notify(mut self, target: SocketAddr) -> ZoneConfig {
        self.notify.push(target);
        self
    }

    /// Refuses transfers of this zone to everyone.
    pub fn without_transfer(mut self) -> ZoneConfig {
        self.allow_transfer = false;
        self
    }

    /// The zone's file name inside the peer's directory.
    fn file_name(&self) -> String {
        if self.origin == "." {
            "root.zone".to_owned()
        } else {
            format!("{}zone", self.origin)
        }
    }
}

fn fully_qualified(origin: &str) -> String {
    if origin.ends_with('.') {
        origin.to_owned()
    } else {
        format!("{origin}.")
    }
}

/// Why a peer could not be started.
#[derive(Debug)]
pub enum PeerError {
    /// The server (or a tool) is not installed.
    MissingBinary {
        binary: &'static str,
        package: &'static str,
    },
    /// Preparing the directory or starting the process failed.
    Io { context: String, source: io::Error },
    /// The process exited during start-up.
    Exited {
        kind: PeerKind,
        status: ExitStatus,
        log: String,
    },
    /// The process runs but did not answer, or did not serve a zone, in time.
    NotReady {
        kind: PeerKind,
        what: String,
        log: String,
    },
    /// Every port tried was taken by the time the server bound it.
    PortsTaken { kind: PeerKind, log: String },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::MissingBinary { binary, package } => write!(
                f,
                "`{binary}` is not installed (not on PATH nor in /usr/sbin): \
                 install it with `apt-get install {package}`"
            ),
            PeerError::Io { context, source } => write!(f, "{context}: {source}"),
            PeerError::Exited { kind, status, log } => {
                write!(
                    f,
                    "{kind} exited during start-up ({status}); its log:\n{log}"
                )
            }
            PeerError::NotReady { kind, what, log } => {
                write!(
                    f,
                    "{kind} did not {what} within {READY_TIMEOUT:?}; its log:\n{log}"
                )
            }
            PeerError::PortsTaken { kind, log } => write!(
                f,
                "{kind} could not bind any of {START_ATTEMPTS} free ports; last log:\n{log}"
            ),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> PeerError {
    let context = context.into();
    move |source| PeerError::Io { context, source }
}

/// Finds an installed executable on PATH or in the sbin directories (which a non-login root
/// shell may not have on PATH); the error names the Debian package to install.
pub fn find_binary(binary: &'static str, package: &'static str) -> Result<PathBuf, PeerError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .ok_or(PeerError::MissingBinary { binary, package })
}

/// A directory under the system temporary directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/nebula-<prefix>-<pid>-<counter>-<nanos>`; never reuses an existing one.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("nebula-{prefix}-{}-{n}-{nanos}", std::process::id());
            let path = std::env::temp_dir().join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of the call.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..64 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no port free on both UDP and TCP",
    ))
}

/// A running server. Dropping it stops the server (SIGTERM to its process group, SIGKILL if it
/// has not exited within five seconds) and removes its directory.
#[derive(Debug)]
pub struct Peer {
    kind: PeerKind,
    address: SocketAddr,
    child: Child,
    zones: Vec<ZoneConfig>,
    // Removed by its own drop, which runs after `Peer::drop` has stopped the process.
    dir: TempDir,
}

impl Peer {
    /// Starts `kind` serving `zones` and waits until each zone answers its SOA with AA set
    /// (for a secondary: until its first transfer is done).
    pub fn start(kind: PeerKind, zones: &[ZoneConfig]) -> Result<Peer, PeerError> {
        let peer = Peer::spawn(kind, zones)?;
        for zone in zones {
            peer.wait_for_zone(&zone.origin, READY_TIMEOUT)?;
        }
        Ok(peer)
    }

    /// Starts `kind` serving `zones` and waits only until it answers queries at all; a
    /// secondary may still be waiting for its primary (see [`Peer::wait_for_zone`]).
    pub fn spawn(kind: PeerKind, zones: &[ZoneConfig]) -> Result<Peer, PeerError> {
        let binary = find_binary(kind.binary(), kind.package())?;
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = TempDir::new(&format!("peer-{}", kind.label()))
                .map_err(io_error("creating the peer directory"))?;
            let port = free_port().map_err(io_error("finding a free port"))?;
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let args = write_config(kind, dir.path(), address, zones)?;
            let log_path = dir.path().join("server.log");
            let log = File::create(&log_path).map_err(io_error("creating the server log"))?;
            let log_copy = log
                .try_clone()
                .map_err(io_error("duplicating the log handle"))?;
            let child = Command::new(&binary)
                .args(&args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log_copy)
                .stderr(log)
                // Its own process group, so stopping it also stops the workers NSD forks.
                .process_group(0)
                .spawn()
                .map_err(io_error(format!("starting {}", binary.display())))?;
            let mut peer = Peer {
                kind,
                address,
                child,
                zones: zones.to_vec(),
                dir,
            };
            match peer.wait_until_answering() {
                Ok(()) => return Ok(peer),
                Err(StartFailure::AddressInUse) => last_log = peer.log(),
                Err(StartFailure::Fatal(e)) => return Err(e),
            }
        }
        Err(PeerError::PortsTaken {
            kind,
            log: last_log,
        })
    }

    /// Asks the server to reload its zone files (SIGHUP; BIND, Knot and NSD all reload on it).
    pub fn reload(&self) -> Result<(), String> {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("kill -HUP: {e}"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -HUP {}: {status}", self.child.id()))
    }

    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The address the server listens on, UDP and TCP.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The peer's private directory (configuration, zone files, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn zones(&self) -> &[ZoneConfig] {
        &self.zones
    }

    /// Everything the server has logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The zone's SOA serial if the server answers it authoritatively now.
    pub fn soa_serial(&self, origin: &str) -> Option<u32> {
        let name = Name::from_text(&fully_qualified(origin), None).ok()?;
        let id = probe_id();
        let bytes = query(id, &name, RType::SOA, None).encode().ok()?;
        let reply = udp_exchange(self.address, &bytes, Duration::from_millis(500)).ok()?;
        let message = Message::decode(&reply).ok()?;
        if message.header.rcode != 0 || !message.header.aa {
            return None;
        }
        message
            .answers
            .iter()
            .find_map(|record| match &record.rdata {
                RData::Soa(soa) if record.name == name => Some(soa.serial),
                _ => None,
            })
    }

    /// Waits until the zone answers its SOA authoritatively; returns the serial.
    pub fn wait_for_zone(&self, origin: &str, timeout: Duration) -> Result<u32, PeerError> {
        self.wait_for_serial(origin, timeout, |_| true)
    }

    /// Waits until the zone's SOA serial satisfies `accept` (e.g. a secondary catching up).
    pub fn wait_for_serial(
        &self,
        origin: &str,
        timeout: Duration,
        accept: impl Fn(u32) -> bool,
    ) -> Result<u32, PeerError> {
        let deadline = Instant::now() + timeout;
        let mut retried = 0;
        loop {
            if let Some(serial) = self.soa_serial(origin).filter(|s| accept(*s)) {
                return Ok(serial);
            }
            retried = self.retry_locked_transfer(origin, retried);
            if Instant::now() > deadline {
                return Err(PeerError::NotReady {
                    kind: self.kind,
                    what: format!("serve zone {origin} with an acceptable SOA serial"),
                    log: self.log(),
                });
            }
            thread::sleep(PROBE_INTERVAL);
        }
    }

    /// PowerDNS's SQLite backend sometimes fails an incoming transfer with "database is locked"
    /// (one of its own threads holds the write lock) and retries only at the zone's next
    /// refresh, an hour away for most test zones. For each such failure of `origin` past the
    /// `retried` already handled, this asks for the transfer again (`pdns_control retrieve`,
    /// what an operator would do) and returns the new count. Other failures are left alone, so
    /// a transfer we serve wrongly still fails the test. Other kinds of server: a no-op.
    fn retry_locked_transfer(&self, origin: &str, retried: usize) -> usize {
        if self.kind != PeerKind::PowerDns {
            return retried;
        }
        let zone = format!("zone: '{}'", origin.trim_end_matches('.'));
        let failures = self
            .log()
            .lines()
            .filter(|l| {
                l.contains(&zone)
                    && l.contains("unable to xfr zone")
                    && l.contains("database is locked")
            })
            .count();
        if failures > retried {
            // A failed request shows in the log, and the next poll's deadline still applies.
            let _ = Command::new("pdns_control")
                .arg(format!("--config-dir={}", self.dir().display()))
                .args(["retrieve", origin])
                .output();
        }
        failures.max(retried)
    }

    /// Polls with a short UDP query until any reply comes back, watching for an early exit or a
    /// failed bind in the log.
    fn wait_until_answering(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let probe_name = self
            .zones
            .first()
            .and_then(|z| Name::from_text(&z.origin, None).ok())
            .unwrap_or_else(Name::root);
        loop {
            let log = self.log();
            if bind_failed(&log) {
                return Err(StartFailure::AddressInUse);
            }
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(StartFailure::Fatal(PeerError::Exited {
                        kind: self.kind,
                        status,
                        log,
                    }));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(StartFailure::Fatal(
                        io_error("checking the server process")(e),
                    ))
                }
            }
            let id = probe_id();
            let reply = query(id, &probe_name, RType::SOA, None)
                .encode()
                .ok()
                .and_then(|bytes| {
                    udp_exchange(self.address, &bytes, Duration::from_millis(200)).ok()
                });
            // The reply must come from our server: a squatter on the port would not log a failed bind.
            if reply.is_some() && !bind_failed(&self.log()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartFailure::Fatal(PeerError::NotReady {
                    kind: self.kind,
                    what: "answer a query".to_owned(),
                    log: self.log(),
                }));
            }
            thread::sleep(PROBE_INTERVAL);
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        process::stop(&mut self.child, Target::Group);
    }
}

enum StartFailure {
    AddressInUse,
    Fatal(PeerError),
}

/// The three servers' messages for a socket they could not bind.
fn bind_failed(log: &str) -> bool {
    let log = log.to_ascii_lowercase();
    log.contains("address in use") || log.contains("address already in use")
}

/// Message IDs for probes: distinct enough that a late reply to an earlier probe is skipped.
fn probe_id() -> u16 {
    static NEXT: AtomicU64 = AtomicU64::new(0x4e00);
    (NEXT.fetch_add(1, Ordering::Relaxed) & 0xFFFF) as u16
}

/// Copies primary zone files into `dir`, writes the server's configuration and returns the
/// command-line arguments that run it in the foreground with that configuration.
fn write_config(
    kind: PeerKind,
    dir: &Path,
    address: SocketAddr,
    zones: &[ZoneConfig],
) -> Result<Vec<String>, PeerError> {
    for zone in zones {
        if let ZoneSource::Primary { file } = &zone.source {
            let target = dir.join(zone.file_name());
            fs::copy(file, &target)
                .map_err(io_error(format!("copying zone file {}", file.display())))?;
        }
    }
    let dir_text = dir.display().to_string();
    let (file_name, text, args) = match kind {
        PeerKind::Bind => {
            let conf = dir.join("named.conf").display().to_string();
            // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread. No -u, so no
            // privilege drop.
            let args = vec![
                "-g".into(),
                "-4".into(),
                "-n".into(),
                "1".into(),
                "-c".into(),
                conf,
            ];
            ("named.conf", bind_config(&dir_text, address, zones), args)
        }
        PeerKind::Knot => {
            fs::create_dir(dir.join("db"))
                .map_err(io_error("creating the Knot database directory"))?;
            let conf = dir.join("knot.conf").display().to_string();
            (
                "knot.conf",
                knot_config(&dir_text, address, zones),
                vec!["-c".into(), conf],
            )
        }
        PeerKind::Nsd => {
            let conf = dir.join("nsd.conf").display().to_string();
            (
                "nsd.conf",
                nsd_config(&dir_text, address, zones),
                vec!["-d".into(), "-c".into(), conf],
            )
        }
        PeerKind::PowerDns => {
            fs::write(dir.join("pdns.conf"), powerdns_config(&dir_text, address))
                .map_err(io_error("writing pdns.conf"))?;
            powerdns_setup(dir, zones)?;
            (
                "pdns.conf",
                powerdns_config(&dir_text, address),
                vec![format!("--config-dir={dir_text}")],
            )
        }
    };
    fs::write(dir.join(file_name), text).map_err(io_error("writing the server configuration"))?;
    Ok(args)
}

/// `pdns.conf`: foreground, no guardian, the generic SQLite backend (it keeps IXFR-in and
/// per-zone TSIG metadata, which the BIND backend does not), secondary zones checked every
/// second, NOTIFY and AXFR allowed from loopback.
fn powerdns_config(dir: &str, address: SocketAddr) -> String {
    format!(
        "launch=gsqlite3\ngsqlite3-database={dir}/pdns.sqlite3\nlocal-address={ip}\n\
         local-port={port}\nsocket-dir={dir}\ndaemon=no\nguardian=no\ndisable-syslog=yes\n\
         loglevel=6\nsecondary=yes\nprimary=yes\nxfr-cycle-interval=1\n\
         allow-notify-from=127.0.0.0/8\nallow-axfr-ips=127.0.0.0/8\n",
        ip = address.ip(),
        port = address.port(),
    )
}

/// The schema PowerDNS's SQLite backend needs (pdns-backend-sqlite3).
const POWERDNS_SCHEMA: &str = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql";

/// Creates PowerDNS's database and its zones and keys with `sqlite3` and `pdnsutil`.
fn powerdns_setup(dir: &Path, zones: &[ZoneConfig]) -> Result<(), PeerError> {
    let run =
        |program: &'static str, package: &'static str, args: &[String]| -> Result<(), PeerError> {
            let binary = find_binary(program, package)?;
            let out = Command::new(&binary)
                .args(args)
                .current_dir(dir)
                .output()
                .map_err(io_error(format!("running {program}")))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(PeerError::Io {
                    context: format!("{program} {}", args.join(" ")),
                    source: io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
                })
            }
        };
    let db = dir.join("pdns.sqlite3").display().to_string();
    run(
        "sqlite3",
        "sqlite3",
        &[db, format!(".read {POWERDNS_SCHEMA}")],
    )?;
    let util = |args: &[&str]| {
        let mut all = vec![format!("--config-dir={}", dir.display())];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        run("pdnsutil", "pdns-server", &all)
    };
    for key in distinct_keys(zones) {
        util(&[
            "import-tsig-key",
            &key.name,
            "hmac-sha256",
            &key.secret_base64(),
        ])?;
    }
    for zone in zones {
        match &zone.source {
            ZoneSource::Primary { .. } => {
                let file = dir.join(zone.file_name()).display().to_string();
                util(&["load-zone", &zone.origin, &file])?;
                if let Some(key) = &zone.key {
                    util(&["set-meta", &zone.origin, "TSIG-ALLOW-AXFR", &key.name])?;
                }
            }
            ZoneSource::Secondary { primaries } => {
                let mut args = vec!["create-secondary-zone".to_owned(), zone.origin.clone()];
                args.extend(primaries.iter().map(|p| format!("{}:{}", p.ip(), p.port())));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                util(&args)?;
                // PowerDNS asks for IXFR only where the zone's metadata says so.
                util(&["set-meta", &zone.origin, "IXFR", "1"])?;
                if let Some(key) = &zone.key {
                    util(&["set-meta", &zone.origin, "AXFR-MASTER-TSIG", &key.name])?;
                    util(&["set-meta", &zone.origin, "TSIG-ALLOW-AXFR", &key.name])?;
                }
            }
        }
    }
    Ok(())
}

/// Each distinct key once, in first-use order.
fn distinct_keys(zones: &[ZoneConfig]) -> Vec<&TsigKey> {
    let mut keys: Vec<&TsigKey> = Vec::new();
    for key in zones.iter().filter_map(|z| z.key.as_ref()) {
        if !keys.iter().any(|k| k.name.eq_ignore_ascii_case(&key.name)) {
            keys.push(key);
        }
    }
    keys
}

/// `named.conf` for BIND 9.18: every path in `dir`, no rndc control channel (it would contend
/// for port 953), no recursion, permissive name checks so test data may use any owner names.
fn bind_config(dir: &str, address: SocketAddr, zones: &[ZoneConfig]) -> String {
    let mut c = String::new();
    let _ = write!(
        c,
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    check-names primary ignore;
    check-names secondary ignore;
    check-names response ignore;
    notify-source {ip};
    transfer-source {ip};
}};
controls {{ }};
"#,
        port = address.port(),
        ip = address.ip(),
    );
    for key in distinct_keys(zones) {
        let _ = writeln!(
            c,
            "key \"{}\" {{ algorithm hmac-sha256; secret \"{}\"; }};",
            key.name,
            key.secret_base64()
        );
    }
    for zone in zones {
        let key_clause = zone
            .key
            .as_ref()
            .map(|k| format!(" key \"{}\"", k.name))
            .unwrap_or_default();
        let _ = writeln!(c, "zone \"{}\" {{", zone.origin);
        let _ = writeln!(c, "    file \"{dir}/{}\";", zone.file_name());
        match &zone.source {
            ZoneSource::Primary { .. } => {
                // A reloaded file becomes a difference IXFR can send (BIND's journal).
                let _ = writeln!(c, "    type primary;\n    ixfr-from-differences yes;");
            }
            ZoneSource::Secondary { primaries } => {
                let _ = writeln!(c, "    type secondary;");
                let list: String = primaries
                    .iter()
                    .map(|p| format!("{} port {}{key_clause}; ", p.ip(), p.port()))
                    .collect();
                let _ = writeln!(c, "    primaries {{ {list}}};");
                let _ = writeln!(c, "    allow-notify {{ 127.0.0.1; }};");
            }
        }
        let transfer = match (&zone.key, zone.allow_transfer) {
            (_, false) => "none;".to_owned(),
            (Some(key), true) => format!("key \"{}\";", key.name),
            (None, true) => "127.0.0.1;".to_owned(),
        };
        let _ = writeln!(c, "    allow-transfer {{ {transfer} }};");
        if zone.notify.is_empty() {
            let _ = writeln!(c, "    notify no;");
        } else {
            let list: String = zone
                .notify
                .iter()
                .map(|t| format!("{} port {}{key_clause}; ", t.ip(), t.port()))
                .collect();
            let _ = writeln!(c, "    notify explicit;\n    also-notify {{ {list}}};");
        }
        let _ = writeln!(c, "}};");
    }
    c
}

/// `knot.conf` for Knot DNS 3.2: runs as the invoking user (root) since `user` is not set,
/// databases and control socket in `dir`, zone files never written back (`zonefile-sync: -1`).
fn knot_config(dir: &str, address: SocketAddr, zones: &[ZoneConfig]) -> String {
    let mut c = String::new();
    let _ = write!(
        c,
        r#"server:
    rundir: "{dir}"
    pidfile: "{dir}/knot.pid"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "{dir}/db"

control:
    listen: "{dir}/knot.sock"

"#,
        ip = address.ip(),
        port = address.port(),
    );
    let keys = distinct_keys(zones);
    if !keys.is_empty() {
        let _ = writeln!(c, "key:");
        for key in keys {
            let _ = writeln!(
                c,
                "  - id: {}\n    algorithm: hmac-sha256\n    secret: {}",
                key.name,
                key.secret_base64()
            );
        }
        let _ = writeln!(c);
    }
    let mut remotes = String::new();
    let mut acls = String::new();
    let mut zone_text = String::new();
    for (i, zone) in zones.iter().enumerate() {
        let key_line = zone
            .key
            .as_ref()
            .map(|k| format!("\n    key: {}", k.name))
            .unwrap_or_default();
        let _ = write!(
            zone_text,
            "  - domain: \"{}\"\n    file: \"{dir}/{}\"\n",
            zone.origin,
            zone.file_name()
        );
        let mut acl_ids = Vec::new();
        if zone.allow_transfer {
            let id = format!("zone{i}_transfer");
            let _ = writeln!(
                acls,
                "  - id: {id}\n    address: 127.0.0.1{key_line}\n    action: transfer"
            );
            acl_ids.push(id);
        }
        if let ZoneSource::Secondary { primaries } = &zone.source {
            let id = format!("zone{i}_notify");
            let _ = writeln!(
                acls,
                "  - id: {id}\n    address: 127.0.0.1{key_line}\n    action: notify"
            );
            acl_ids.push(id);
            let mut ids = Vec::new();
            for (j, primary) in primaries.iter().enumerate() {
                let id = format!("zone{i}_primary{j}");
                let _ = writeln!(
                    remotes,
                    "  - id: {id}\n    address: {}@{}{key_line}",
                    primary.ip(),
                    primary.port()
                );
                ids.push(id);
            }
            let _ = writeln!(zone_text, "    master: [{}]", ids.join(", "));
        }
        if !zone.notify.is_empty() {
            let mut ids = Vec::new();
            for (j, target) in zone.notify.iter().enumerate() {
                let id = format!("zone{i}_notify{j}");
                let _ = writeln!(
                    remotes,
                    "  - id: {id}\n    address: {}@{}{key_line}",
                    target.ip(),
                    target.port()
                );
                ids.push(id);
            }
            let _ = writeln!(zone_text, "    notify: [{}]", ids.join(", "));
        }
        if !acl_ids.is_empty() {
            let _ = writeln!(zone_text, "    acl: [{}]", acl_ids.join(", "));
        }
        let _ = writeln!(zone_text, "    zonefile-sync: -1\n    zonefile-load: whole");
    }
    if !remotes.is_empty() {
        let _ = writeln!(c, "remote:\n{remotes}");
    }
    if !acls.is_empty() {
        let _ = writeln!(c, "acl:\n{acls}");
    }
    if !zone_text.is_empty() {
        let _ = writeln!(c, "zone:\n{zone_text}");
    }
    c
}

/// `nsd.conf` for NSD 4: no chroot, no user switch, no database file, every state file in `dir`,
/// no remote control, and no response rate limiting (Debian builds NSD with RRL on at 200 qps,
/// which drops or truncates answers to a test asking faster than that).
fn nsd_config(dir: &str, address: SocketAddr, zones: &[ZoneConfig]) -> String {
    let mut c = String::new();
    let _ = write!(
        c,
        r#"server:
    ip-address: {ip}@{port}
    port: {port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    database: ""
    zonelistfile: "{dir}/zone.list"
    xfrdfile: "{dir}/xfrd.state"
    xfrdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    verbosity: 2
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0

remote-control:
    control-enable: no

"#,
        ip = address.ip(),
        port = address.port(),
    );
    for key in distinct_keys(zones) {
        let _ = writeln!(
            c,
            "key:\n    name: \"{}\"\n    algorithm: hmac-sha256\n    secret: \"{}\"\n",
            key.name,
            key.secret_base64()
        );
    }
    for zone in zones {
        let key_name = zone.key.as_ref().map_or("NOKEY", |k| k.name.as_str());
        let _ = writeln!(
            c,
            "zone:\n    name: \"{}\"\n    zonefile: \"{dir}/{}\"",
            zone.origin,
            zone.file_name()
        );
        if zone.allow_transfer {
            let _ = writeln!(c, "    provide-xfr: 127.0.0.1 {key_name}");
        }
        if let ZoneSource::Secondary { primaries } = &zone.source {
            for primary in primaries {
                let _ = writeln!(
                    c,
                    "    request-xfr: {}@{} {key_name}",
                    primary.ip(),
                    primary.port()
                );
            }
            let _ = writeln!(c, "    allow-notify: 127.0.0.1 {key_name}");
        }
        for target in &zone.notify {
            let _ = writeln!(
                c,
                "    notify: {}@{} {key_name}",
                target.ip(),
                target.port()
            );
        }
        let _ = writeln!(c);
    }
    c
}
