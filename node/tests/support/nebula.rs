//! Our own server as a test process: [`Nebula::start`] writes a configuration with every listener
//! on 127.0.0.1 port 0, starts the `nebuladns` binary, reads the bound DNS, HTTP and metrics
//! addresses back from the lines it prints before `nebuladns: ready`, and stops it (SIGTERM, then
//! SIGKILL) when dropped — the same life cycle as a real peer in [`super::peers`].
//!
//! ```ignore
//! let zones = [ZoneConfig::primary("example.test.", "tests/data/conformance/example.test.zone")];
//! let server = Nebula::start(env!("CARGO_BIN_EXE_nebuladns"), &zones)?;
//! udp_exchange(server.dns(), &query_bytes, EXCHANGE_TIMEOUT)?;
//! let text = server.metrics_text()?;
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::peers::{TempDir, ZoneConfig, ZoneSource, READY_TIMEOUT};
use super::process::{self, Target};

/// A running `nebuladns`. Dropping it sends SIGTERM, waits up to five seconds, then kills it.
#[derive(Debug)]
pub struct Nebula {
    child: Child,
    dns: SocketAddr,
    http: SocketAddr,
    metrics: SocketAddr,
    // Removed by its own drop, after `Nebula::drop` has stopped the process.
    dir: TempDir,
}

impl Nebula {
    /// Starts `binary` serving the primary zones of `zones` (secondaries are not supported yet)
    /// and returns once it has printed `nebuladns: ready`.
    ///
    /// With port 0 the server binds UDP first and then TCP on the same port number, which another
    /// process may hold already; such a start fails with "address in use" and is retried (as
    /// [`super::peers::Peer`] does) up to five times.
    pub fn start(binary: impl AsRef<Path>, zones: &[ZoneConfig]) -> io::Result<Nebula> {
        Nebula::start_with(binary, zones, "")
    }

    /// [`Nebula::start`] with `extra` appended to the configuration (whole TOML sections).
    pub fn start_with(
        binary: impl AsRef<Path>,
        zones: &[ZoneConfig],
        extra: &str,
    ) -> io::Result<Nebula> {
        let mut last = None;
        for _ in 0..5 {
            match Nebula::start_once(binary.as_ref(), zones, extra) {
                Ok(server) => return Ok(server),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("nebuladns did not start")))
    }

    fn start_once(binary: &Path, zones: &[ZoneConfig], extra: &str) -> io::Result<Nebula> {
        let dir = TempDir::new("nebuladns")?;
        let config = config_text(dir.path(), zones)? + extra;
        let config_path = dir.path().join("nebuladns.toml");
        fs::write(&config_path, config)?;
        Nebula::launch(binary, dir, &config_path)
    }

    /// Starts `binary --config CONFIG` for a configuration the caller wrote (inside `dir`, which
    /// the server owns from now on and which holds its log) and returns once it is ready. The
    /// configuration must put the DNS, HTTP and metrics listeners on loopback.
    pub fn launch(binary: &Path, dir: TempDir, config_path: &Path) -> io::Result<Nebula> {
        let spawned = spawn(binary, config_path, &dir.path().join("server.log"))?;
        Ok(Nebula {
            child: spawned.child,
            dns: spawned.dns,
            http: spawned.http,
            metrics: spawned.metrics,
            dir,
        })
    }

    /// The DNS address, UDP and TCP (one port for both).
    pub fn dns(&self) -> SocketAddr {
        self.dns
    }

    pub fn http(&self) -> SocketAddr {
        self.http
    }

    pub fn metrics(&self) -> SocketAddr {
        self.metrics
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server logged on stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// True while the process runs (a crash makes this false).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, ...) to the server process.
    pub fn signal(&self, name: &str) -> io::Result<()> {
        process::signal(&self.child, Target::Process, name)
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None` if still running.
    pub fn wait_for_exit(
        &mut self,
        timeout: Duration,
    ) -> io::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The body of `GET /metrics` on the metrics listener (Prometheus text format).
    pub fn metrics_text(&self) -> io::Result<String> {
        http_get(self.metrics, "/metrics")
    }

    /// The value of one series of the metrics text, e.g.
    /// `nebula_dns_formerr_total{reason="pointer_loop"}`; `None` if the series is absent.
    pub fn metric(&self, series: &str) -> io::Result<Option<f64>> {
        Ok(metric_value(&self.metrics_text()?, series))
    }
}

impl Drop for Nebula {
    fn drop(&mut self) {
        process::stop(&mut self.child, Target::Process);
    }
}

/// A started `nebuladns` process and the addresses it announced.
#[derive(Debug)]
pub struct Spawned {
    pub child: Child,
    pub dns: SocketAddr,
    pub http: SocketAddr,
    pub metrics: SocketAddr,
}

/// Starts `binary --config CONFIG` with stderr appended to `log_path`, and waits until it prints
/// `nebuladns: ready`, reading back the DNS, HTTP and metrics addresses it announced. A process
/// that exits first is an error carrying its log (kind `AddrInUse` when a port was taken).
pub fn spawn(binary: &Path, config_path: &Path, log_path: &Path) -> io::Result<Spawned> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout pipe"))?;
    // Read the announcements on a thread so a silent server cannot block the test past the deadline.
    let (lines_tx, lines_rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let read_log = || fs::read_to_string(log_path).unwrap_or_default();
    let deadline = Instant::now() + READY_TIMEOUT;
    let (mut dns, mut http, mut metrics) = (None, None, None);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines_rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stdout closed: the process ended. Wait for it so its log is complete.
                let status = child.wait()?;
                let log = read_log();
                let kind = if log.contains("Address already in use") {
                    io::ErrorKind::AddrInUse
                } else {
                    io::ErrorKind::Other
                };
                return Err(io::Error::new(
                    kind,
                    format!("nebuladns exited during start-up ({status}); its log:\n{log}"),
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                process::stop(&mut child, Target::Process);
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "nebuladns did not print `nebuladns: ready` within {READY_TIMEOUT:?}; \
                         its log:\n{}",
                        read_log()
                    ),
                ));
            }
        };
        if line == "nebuladns: ready" {
            break;
        }
        let Some(rest) = line.strip_prefix("nebuladns: listening ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (kind, address) = match (words.next(), words.next(), words.next()) {
            (Some("dns"), Some("udp"), Some(a)) => ("dns", a),
            (Some("http"), Some(a), _) => ("http", a),
            (Some("metrics"), Some(a), _) => ("metrics", a),
            _ => continue,
        };
        let address: SocketAddr = address
            .parse()
            .map_err(|e| io::Error::other(format!("bad address in `{line}`: {e}")))?;
        match kind {
            "dns" => dns = dns.or(Some(address)),
            "http" => http = Some(address),
            _ => metrics = Some(address),
        }
    }
    match (dns, http, metrics) {
        (Some(dns), Some(http), Some(metrics)) => Ok(Spawned {
            child,
            dns,
            http,
            metrics,
        }),
        _ => {
            process::stop(&mut child, Target::Process);
            Err(io::Error::other(format!(
                "nebuladns was ready without announcing DNS, HTTP and metrics addresses; log:\n{}",
                read_log()
            )))
        }
    }
}

/// The TOML configuration: data in `dir`, every listener on loopback port 0, one UDP worker.
fn config_text(dir: &Path, zones: &[ZoneConfig]) -> io::Result<String> {
    let mut text = String::new();
    let data = dir.join("data");
    let _ = writeln!(
        text,
        "[server]\ndata_dir = {}\n\n[dns]\nlisten = [\"127.0.0.1:0\"]\nudp_workers = 1\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        toml_string(&data)
    );
    for zone in zones {
        let ZoneSource::Primary { file } = &zone.source else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("zone {}: nebuladns serves primary zones only", zone.origin),
            ));
        };
        let file: PathBuf = if file.is_absolute() {
            file.clone()
        } else {
            std::env::current_dir()?.join(file)
        };
        let _ = writeln!(
            text,
            "[[zone]]\nname = {}\nfile = {}\n",
            toml_string(Path::new(&zone.origin)),
            toml_string(&file)
        );
    }
    Ok(text)
}

/// A TOML basic string (quotes and backslashes escaped).
fn toml_string(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A minimal HTTP/1.1 GET over a fresh connection (`Connection: close`); returns the body of a
/// 200 response.
pub fn http_get(server: SocketAddr, path: &str) -> io::Result<String> {
    let (status, body) = http_request(server, "GET", path)?;
    if status != 200 {
        return Err(io::Error::other(format!(
            "GET {path}: status {status}: {body}"
        )));
    }
    Ok(body)
}

/// A minimal HTTP/1.1 request with an empty body over a fresh connection; returns the status
/// code and the (de-chunked) body whatever the status.
pub fn http_request(server: SocketAddr, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("HTTP response without a header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad HTTP status line: {head}")))?;
    // The body may be chunked; decode chunks so the caller always sees plain text.
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok((status, dechunk(body)));
    }
    Ok((status, body.to_owned()))
}

/// Decodes a chunked HTTP/1.1 body (RFC 9112 §7.1); stops at the last chunk or bad framing.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16);
        let Ok(size) = size else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of `series` (name with labels, exactly as exposed) in Prometheus text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Runs `nebulactl` (the binary at `ctl`) against the API at `api` with the admin token of
/// `data_dir`; returns its exit code, stdout and stderr.
pub fn nebulactl(
    ctl: &Path,
    api: SocketAddr,
    data_dir: &Path,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(ctl)
        .arg("--api")
        .arg(format!("http://{api}"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("NEBULA_TOKEN")
        .env_remove("NEBULA_API")
        .output()
        .expect("nebulactl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
