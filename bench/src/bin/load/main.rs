//! The side-by-side UDP load benchmark: NebulaDNS, Knot DNS and NSD serving the same zone to the
//! same `dnsperf` query stream, each pinned to the same CPU.
//!
//! ```text
//! load [--seconds N] [--rate R] [--rounds N] [--smoke] [--servers nebuladns,knot,nsd]
//!      [--nebuladns PATH] [--server-cpus LIST] [--client-cpus LIST] [--edns] [--keep]
//!      [--write-inputs DIR]
//! ```
//!
//! It writes one zone (`bench.test.`: about 3,600 names with A, AAAA, MX, TXT and CNAME records,
//! a wildcard and a delegation with glue) and one `dnsperf` query file (10,000 lines: mostly
//! existing A/AAAA, some NXDOMAIN, NODATA, CNAME, MX, TXT, wildcard and referral queries) into a
//! temporary directory; the same two files are checked in under `bench/load/`. Then, for each
//! server in turn, on 127.0.0.1 and a free port:
//!
//! 1. start it under `taskset` on the server CPUs (default CPU 0) with one UDP worker
//!    (nebuladns `udp_workers = 1`, Knot `udp-workers: 1`, NSD `server-count: 1`) and wait until
//!    it answers the zone's SOA authoritatively;
//! 2. a check pass: `dnsperf -n 1 -v` sends every query of the file once; each response code is
//!    compared with the one the generator expects (a server that answers REFUSED must not look
//!    fast);
//! 3. a maximum-throughput run: `dnsperf -c 1 -T 1 -q 500 -l N`;
//! 4. a fixed-rate run: `dnsperf -Q R -l N -v`, whose per-query lines give latency percentiles
//!    (dnsperf 2.10 has no histogram option; its summary gives the average and standard
//!    deviation).
//!
//! `dnsperf` runs under `taskset` on the client CPUs (default CPU 1). On a two-core machine one
//! server worker on one core against one dnsperf thread on the other is the fairest split: no
//! server competes with the load generator for a core, and all three get the same single
//! worker. During each run the server's CPU time (utime + stime of every process in its process
//! group, from `/proc/PID/stat`, so NSD's forked server child counts) is read before and after;
//! CPU seconds over dnsperf's run time is the cores the server used, and completed queries over
//! CPU seconds is the throughput per server core, the figure that stays comparable when dnsperf
//! itself is the bottleneck. The kernel's drop counter of the server's socket (`/proc/net/udp`)
//! tells queries the server dropped from queries dnsperf lost.
//!
//! `--rounds N` measures every server N times in rotating order and reports per-column medians,
//! which steadies the figures on a machine shared with other work. It prints one table on
//! stdout (progress goes to stderr). Exit status 1 when a server gave an
//! unexpected response code in the check pass, 2 for bad arguments.
//! `cargo run --release -p nebula-bench --bin load -- --seconds 10`.
//!
//! `--axfr N` measures zone transfers instead (issue 5): each server (default nebuladns and
//! Knot) loads a zone of N records (A and TXT), and one `kdig AXFR` on the client CPUs transfers
//! it, its output going to a file; reported per server: records, messages and bytes as kdig
//! counted them, MB/s and records/s over kdig's run time, and the server's resident memory
//! before the transfer (`VmRSS`) and at its peak during the transfer (`VmHWM`, reset first
//! through `/proc/PID/clear_refs`), whose difference is what the transfer itself held. Exit
//! status 1 when a transfer lacks records.
#![forbid(unsafe_code)]

mod axfr;

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nebula_wire::{Class, Header, Message, Name, Question, RType};

/// The benchmark zone's origin.
const ORIGIN: &str = "bench.test.";
/// File names, in the temporary directory and under `bench/load/`.
const ZONE_FILE: &str = "bench.test.zone";
const QUERY_FILE: &str = "queries.txt";

/// Hosts `host0`..`host2999`; every other one has an AAAA, every sixth an MX, every tenth a TXT.
const HOSTS: u64 = 3000;
/// `www0`..`www499`: CNAMEs to a host.
const WWW_ALIASES: u64 = 500;
/// `alias0`..`alias99`: CNAMEs to a `www` name, so a two-link chain inside the zone.
const CHAINED_ALIASES: u64 = 100;
/// Lines of the query file.
const QUERY_LINES: usize = 10_000;

const DEFAULT_SECONDS: u64 = 10;
const SMOKE_SECONDS: u64 = 2;
const DEFAULT_RATE: u64 = 20_000;
/// Outstanding queries of the maximum-throughput run (`dnsperf -q`).
const MAX_OUTSTANDING: &str = "500";
/// How long a server may take to load the zone and answer its SOA.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Fresh ports tried when a server reports its port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// A tool this benchmark runs, with the Debian package that installs it.
#[derive(Debug, Clone, Copy)]
struct Tool {
    binary: &'static str,
    package: &'static str,
}

const TASKSET: Tool = Tool {
    binary: "taskset",
    package: "util-linux",
};
const DNSPERF: Tool = Tool {
    binary: "dnsperf",
    package: "dnsperf",
};

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    NebulaDns,
    Knot,
    Nsd,
}

impl Server {
    const ALL: [Server; 3] = [Server::NebulaDns, Server::Knot, Server::Nsd];

    fn from_label(label: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.label() == label)
    }

    fn label(self) -> &'static str {
        match self {
            Server::NebulaDns => "nebuladns",
            Server::Knot => "knot",
            Server::Nsd => "nsd",
        }
    }

    /// The peer daemons; nebuladns is found separately (it is built, not installed).
    fn tool(self) -> Option<Tool> {
        match self {
            Server::NebulaDns => None,
            Server::Knot => Some(Tool {
                binary: "knotd",
                package: "knot",
            }),
            Server::Nsd => Some(Tool {
                binary: "nsd",
                package: "nsd",
            }),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::NebulaDns => "NebulaDNS",
            Server::Knot => "Knot DNS",
            Server::Nsd => "NSD",
        })
    }
}

/// Why the benchmark could not run.
#[derive(Debug)]
enum LoadError {
    /// A program is not installed (or nebuladns not built).
    MissingTool {
        binary: String,
        remedy: String,
    },
    Io {
        context: String,
        source: io::Error,
    },
    /// The server exited before it answered.
    ServerExited {
        server: Server,
        log: String,
    },
    /// The server runs but did not answer its SOA in time.
    ServerNotReady {
        server: Server,
        log: String,
    },
    /// dnsperf failed or printed no summary.
    Dnsperf {
        server: Server,
        output: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::MissingTool { binary, remedy } => {
                write!(f, "`{binary}` is not available: {remedy}")
            }
            LoadError::Io { context, source } => write!(f, "{context}: {source}"),
            LoadError::ServerExited { server, log } => {
                write!(f, "{server} exited during start-up; its log:\n{log}")
            }
            LoadError::ServerNotReady { server, log } => write!(
                f,
                "{server} did not answer the SOA of {ORIGIN} within {READY_TIMEOUT:?}; its log:\n{log}"
            ),
            LoadError::Dnsperf { server, output } => {
                write!(f, "dnsperf against {server} failed:\n{output}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> LoadError {
    let context = context.into();
    move |source| LoadError::Io { context, source }
}

/// Command-line settings.
#[derive(Debug)]
struct Settings {
    seconds: u64,
    rate: u64,
    /// Every server is measured this many times, in rotating order; the table shows medians.
    rounds: usize,
    servers: Vec<Server>,
    nebuladns: Option<PathBuf>,
    server_cpus: String,
    client_cpus: String,
    edns: bool,
    keep: bool,
    write_inputs: Option<PathBuf>,
    /// `--axfr N`: measure zone transfers of an N-record zone instead of UDP load.
    axfr: Option<u64>,
}

const USAGE: &str = "usage: load [--seconds N] [--rate R] [--rounds N] [--smoke] [--servers nebuladns,knot,nsd] \
[--nebuladns PATH] [--server-cpus LIST] [--client-cpus LIST] [--edns] [--keep] [--write-inputs DIR] [--axfr RECORDS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match parse_args(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("load: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &settings.write_inputs {
        return match write_inputs(dir) {
            Ok(()) => {
                eprintln!(
                    "load: wrote {ZONE_FILE} and {QUERY_FILE} to {}",
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("load: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let outcome = match settings.axfr {
        Some(records) => axfr::run(&settings, records),
        None => run(&settings),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("load: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Settings, String> {
    let two_cpus = thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let mut settings = Settings {
        seconds: DEFAULT_SECONDS,
        rate: DEFAULT_RATE,
        rounds: 1,
        servers: Server::ALL.to_vec(),
        nebuladns: None,
        server_cpus: "0".to_owned(),
        // One CPU: server and client share it (the numbers then mean little).
        client_cpus: if two_cpus { "1" } else { "0" }.to_owned(),
        edns: false,
        keep: false,
        write_inputs: None,
        axfr: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--seconds" => settings.seconds = positive(&value("--seconds")?, "--seconds")?,
            "--rate" => settings.rate = positive(&value("--rate")?, "--rate")?,
            "--rounds" => {
                settings.rounds = usize::try_from(positive(&value("--rounds")?, "--rounds")?)
                    .map_err(|_| "--rounds is too large".to_owned())?
            }
            "--smoke" => settings.seconds = SMOKE_SECONDS,
            "--servers" => {
                settings.servers = value("--servers")?
                    .split(',')
                    .map(|label| {
                        Server::from_label(label.trim())
                            .ok_or_else(|| format!("unknown server {label:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--nebuladns" => settings.nebuladns = Some(value("--nebuladns")?.into()),
            "--server-cpus" => settings.server_cpus = value("--server-cpus")?,
            "--client-cpus" => settings.client_cpus = value("--client-cpus")?,
            "--edns" => settings.edns = true,
            "--keep" => settings.keep = true,
            "--write-inputs" => settings.write_inputs = Some(value("--write-inputs")?.into()),
            "--axfr" => settings.axfr = Some(positive(&value("--axfr")?, "--axfr")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if settings.axfr.is_some() && settings.servers == Server::ALL {
        // NSD serves transfers from a forked process, so its memory cannot be compared this way.
        settings.servers = vec![Server::NebulaDns, Server::Knot];
    }
    Ok(settings)
}

fn positive(text: &str, flag: &str) -> Result<u64, String> {
    match text.replace('_', "").parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{flag} needs a positive whole number, not {text:?}"
        )),
    }
}

/// Every program found before anything starts, so a missing one fails at once.
#[derive(Debug)]
struct Programs {
    taskset: PathBuf,
    dnsperf: PathBuf,
    servers: Vec<(Server, PathBuf)>,
}

impl Programs {
    /// The servers in the order of round `round`: each round starts with the next server, so
    /// slow drift on a shared machine does not always fall on the same one.
    fn in_round(&self, round: usize) -> Vec<(Server, PathBuf)> {
        let mut order = self.servers.clone();
        let shift = round % order.len().max(1);
        order.rotate_left(shift);
        order
    }
}

fn find_programs(settings: &Settings) -> Result<Programs, LoadError> {
    let installed = |tool: Tool| {
        find_program(tool.binary).ok_or_else(|| LoadError::MissingTool {
            binary: tool.binary.to_owned(),
            remedy: format!("install it with `apt-get install {}`", tool.package),
        })
    };
    let taskset = installed(TASKSET)?;
    let dnsperf = installed(DNSPERF)?;
    let mut servers = Vec::new();
    for &server in &settings.servers {
        let path = match server.tool() {
            Some(tool) => installed(tool)?,
            None => nebuladns_path(settings)?,
        };
        servers.push((server, path));
    }
    Ok(Programs {
        taskset,
        dnsperf,
        servers,
    })
}

/// `--nebuladns PATH`, else the `nebuladns` next to this binary (both are in `target/release`
/// after `cargo build --release -p nebula-node`).
fn nebuladns_path(settings: &Settings) -> Result<PathBuf, LoadError> {
    let candidate = match &settings.nebuladns {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(io_error("finding this program's directory"))?
            .with_file_name("nebuladns"),
    };
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(LoadError::MissingTool {
            binary: candidate.display().to_string(),
            remedy: "build it with `cargo build --release -p nebula-node` or pass \
                     `--nebuladns PATH`"
                .to_owned(),
        })
    }
}

/// The first match on PATH or in the sbin directories, where Debian puts the daemons and a
/// non-login root shell may not look.
fn find_program(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

/// `--write-inputs DIR`: writes the zone and query file (how `bench/load/` is regenerated).
fn write_inputs(dir: &Path) -> Result<(), LoadError> {
    fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
    fs::write(dir.join(ZONE_FILE), zone_text()).map_err(io_error("writing the zone"))?;
    fs::write(dir.join(QUERY_FILE), query_file_text(&queries()))
        .map_err(io_error("writing the query file"))
}

/// The result of one server in one round, or the median of its rounds.
#[derive(Debug)]
struct Row {
    server: Server,
    /// Queries of the check pass answered with an unexpected response code.
    wrong: usize,
    /// Queries of the check pass without an answer (so not checked).
    check_lost: u64,
    mismatches: Vec<String>,
    max: Figures,
    fixed: Figures,
}

impl Row {
    /// Field by field, the median of the timed figures; the worst of the check passes.
    fn median(rounds: &[&Row]) -> Option<Row> {
        let first = rounds.first()?;
        Some(Row {
            server: first.server,
            wrong: rounds.iter().map(|r| r.wrong).max().unwrap_or(0),
            check_lost: rounds.iter().map(|r| r.check_lost).max().unwrap_or(0),
            mismatches: Vec::new(),
            max: Figures::median(rounds.iter().map(|r| r.max)),
            fixed: Figures::median(rounds.iter().map(|r| r.fixed)),
        })
    }
}

/// What the table shows of one timed run; latencies in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Figures {
    qps: f64,
    cores: f64,
    /// Completed queries per second of server CPU time; 0 when no CPU time was measured.
    per_core: f64,
    lost: f64,
    /// Datagrams the kernel dropped at the server's socket (full receive buffer), from the
    /// `drops` column of `/proc/net/udp`: tells server-side loss from client-side loss.
    server_drops: f64,
    average_us: f64,
    stddev_us: f64,
    p50_us: f64,
    p99_us: f64,
    p999_us: f64,
}

impl Figures {
    fn median(all: impl Iterator<Item = Figures> + Clone) -> Figures {
        let of = |field: fn(&Figures) -> f64| median(all.clone().map(|f| field(&f)).collect());
        Figures {
            qps: of(|f| f.qps),
            cores: of(|f| f.cores),
            per_core: of(|f| f.per_core),
            lost: of(|f| f.lost),
            server_drops: of(|f| f.server_drops),
            average_us: of(|f| f.average_us),
            stddev_us: of(|f| f.stddev_us),
            p50_us: of(|f| f.p50_us),
            p99_us: of(|f| f.p99_us),
            p999_us: of(|f| f.p999_us),
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn run(settings: &Settings) -> Result<bool, LoadError> {
    let programs = find_programs(settings)?;
    let dir = std::env::temp_dir().join(format!("nebula-load-{}", std::process::id()));
    write_inputs(&dir)?;
    let query_list = queries();
    let expected: HashMap<(String, &str), &str> = query_list
        .iter()
        .map(|q| ((q.name.clone(), q.qtype), q.expect.rcode()))
        .collect();
    eprintln!(
        "load: zone and {} queries in {}; servers on CPU {}, dnsperf on CPU {}; {} s per run, \
         fixed rate {} qps",
        query_list.len(),
        dir.display(),
        settings.server_cpus,
        settings.client_cpus,
        settings.seconds,
        settings.rate
    );
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        eprintln!("load: load average before: {}", load.trim());
    }

    let mut rounds: Vec<Row> = Vec::new();
    for round in 0..settings.rounds {
        for (server, binary) in &programs.in_round(round) {
            if settings.rounds > 1 {
                eprintln!("load: round {} of {}", round + 1, settings.rounds);
            }
            rounds.push(measure_server(
                *server, binary, &programs, settings, &dir, &expected,
            )?);
        }
    }
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        eprintln!("load: load average after: {}", load.trim());
    }
    let rows: Vec<Row> = programs
        .servers
        .iter()
        .filter_map(|(server, _)| {
            let of_server: Vec<&Row> = rounds.iter().filter(|r| r.server == *server).collect();
            Row::median(&of_server)
        })
        .collect();
    print!("{}", table(settings, &rows));
    let mut all_good = true;
    for row in &rounds {
        for mismatch in row.mismatches.iter().take(10) {
            eprintln!("load: {}: {mismatch}", row.server);
            all_good = false;
        }
    }
    keep_or_remove(settings, &dir)?;
    Ok(all_good)
}

/// Keeps the temporary directory (`--keep`, and says where) or removes it.
fn keep_or_remove(settings: &Settings, dir: &Path) -> Result<(), LoadError> {
    if settings.keep {
        eprintln!("load: kept {}", dir.display());
        Ok(())
    } else {
        fs::remove_dir_all(dir).map_err(io_error("removing the temporary directory"))
    }
}

/// Starts one server, runs the check pass and both timed runs against it, and stops it.
fn measure_server(
    server: Server,
    binary: &Path,
    programs: &Programs,
    settings: &Settings,
    dir: &Path,
    expected: &HashMap<(String, &str), &str>,
) -> Result<Row, LoadError> {
    let running = RunningServer::start(server, binary, programs, settings, dir)?;
    eprintln!(
        "load: {server} (pid {}) answers on {}",
        running.pid(),
        running.address
    );
    let bench = Bench {
        programs,
        settings,
        dir,
        server: &running,
    };
    let check = bench.check_pass(expected)?;
    eprintln!(
        "load: {server}: check pass: {} answered, {} lost, {} with an unexpected response code",
        check.answered,
        check.lost,
        check.mismatches.len()
    );
    let max = bench
        .measure(&["-c", "1", "-T", "1", "-q", MAX_OUTSTANDING], false)?
        .figures();
    eprintln!(
        "load: {server}: {:.0} qps at most, {:.2} server cores",
        max.qps, max.cores
    );
    let rate = settings.rate.to_string();
    let fixed = bench.measure(&["-Q", &rate], true)?.figures();
    eprintln!(
        "load: {server}: {:.0} qps at the fixed rate, average {:.0} µs, p99 {:.0} µs",
        fixed.qps, fixed.average_us, fixed.p99_us
    );
    Ok(Row {
        server,
        wrong: check.mismatches.len(),
        check_lost: check.lost,
        mismatches: check.mismatches,
        max,
        fixed,
    })
}

/// A server process started under `taskset`, in its own process group; dropping it stops the
/// whole group.
#[derive(Debug)]
struct RunningServer {
    server: Server,
    child: Child,
    address: SocketAddr,
    log_path: PathBuf,
}

impl RunningServer {
    fn start(
        server: Server,
        binary: &Path,
        programs: &Programs,
        settings: &Settings,
        dir: &Path,
    ) -> Result<RunningServer, LoadError> {
        let mut last = None;
        for attempt in 0..START_ATTEMPTS {
            let server_dir = dir.join(format!("{}-{attempt}", server.label()));
            fs::create_dir_all(&server_dir).map_err(io_error("creating the server directory"))?;
            let port = free_port().map_err(io_error("finding a free port"))?;
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let args = write_server_config(server, &server_dir, &dir.join(ZONE_FILE), address)?;
            let log_path = server_dir.join("server.log");
            let log = File::create(&log_path).map_err(io_error("creating the server log"))?;
            let log_copy = log.try_clone().map_err(io_error("duplicating the log"))?;
            // taskset execs the server, so the child's PID is the server's.
            let child = Command::new(&programs.taskset)
                .arg("-c")
                .arg(&settings.server_cpus)
                .arg(binary)
                .args(&args)
                .current_dir(&server_dir)
                .stdin(Stdio::null())
                .stdout(log_copy)
                .stderr(log)
                .process_group(0)
                .spawn()
                .map_err(io_error(format!("starting {}", binary.display())))?;
            let mut running = RunningServer {
                server,
                child,
                address,
                log_path,
            };
            match running.wait_until_ready() {
                Ok(()) => return Ok(running),
                Err(error) => {
                    let taken = running.log().to_ascii_lowercase().contains("address")
                        && running.log().to_ascii_lowercase().contains("in use");
                    if !taken {
                        return Err(error);
                    }
                    last = Some(error);
                }
            }
        }
        Err(last.unwrap_or(LoadError::ServerNotReady {
            server,
            log: String::new(),
        }))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Polls with an SOA query until an authoritative NOERROR answer comes back.
    fn wait_until_ready(&mut self) -> Result<(), LoadError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let origin = Name::from_text(ORIGIN, None).map_err(|e| LoadError::Io {
            context: format!("the origin {ORIGIN}"),
            source: io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
        })?;
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.set_read_timeout(Some(PROBE_INTERVAL)).map(|()| s))
            .map_err(io_error("binding the probe socket"))?;
        let mut id: u16 = 0x4c00;
        loop {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return Err(LoadError::ServerExited {
                    server: self.server,
                    log: self.log(),
                });
            }
            id = id.wrapping_add(1);
            if soa_answered(&socket, self.address, &origin, id) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LoadError::ServerNotReady {
                    server: self.server,
                    log: self.log(),
                });
            }
            thread::sleep(PROBE_INTERVAL);
        }
    }

    /// Sends `signal` to the server's process group (the `kill` program does it without unsafe
    /// code); NSD forks its workers into the same group.
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal_group("-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SOA query: true when the reply has our ID, QR and AA set, and RCODE NOERROR.
fn soa_answered(socket: &UdpSocket, server: SocketAddr, origin: &Name, id: u16) -> bool {
    let query = Message {
        header: Header {
            id,
            ..Header::default()
        },
        questions: vec![Question {
            name: origin.clone(),
            qtype: RType::SOA,
            qclass: Class::IN,
        }],
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
    };
    let Ok(bytes) = query.encode() else {
        return false;
    };
    if socket.send_to(&bytes, server).is_err() {
        return false;
    }
    // Late answers to earlier probes (a server busy loading a large zone) are read and skipped
    // until the socket's read timeout, so the probe never falls one answer behind for good.
    let mut buffer = [0u8; 4096];
    while let Ok((len, _)) = socket.recv_from(&mut buffer) {
        let answered = Message::decode(&buffer[..len]).is_ok_and(|reply| {
            reply.header.id == id && reply.header.qr && reply.header.aa && reply.header.rcode == 0
        });
        if answered {
            return true;
        }
    }
    false
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of the call (every server also
/// listens on TCP).
fn free_port() -> io::Result<u16> {
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

/// Writes the server's configuration into `dir` and returns its command-line arguments. Every
/// server gets one UDP worker, logs to stderr, keeps every file it writes in `dir`, and (running
/// as root) does not drop privileges or chroot.
fn write_server_config(
    server: Server,
    dir: &Path,
    zone: &Path,
    address: SocketAddr,
) -> Result<Vec<String>, LoadError> {
    let d = dir.display();
    let zone = zone.display();
    let (ip, port) = (address.ip(), address.port());
    let (file, text, args) = match server {
        Server::NebulaDns => (
            "nebuladns.toml",
            format!(
                r#"[server]
data_dir = "{d}/data"
[dns]
listen = ["{address}"]
udp_workers = 1
[http]
listen = "127.0.0.1:0"
[metrics]
listen = "127.0.0.1:0"
[log]
level = "warn"
[[zone]]
name = "{ORIGIN}"
file = "{zone}"
"#
            ),
            vec!["--config".to_owned(), format!("{d}/nebuladns.toml")],
        ),
        Server::Knot => {
            fs::create_dir_all(dir.join("db")).map_err(io_error("creating Knot's database"))?;
            (
                "knot.conf",
                // zonefile-sync -1: never write the zone back.
                format!(
                    r#"server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: notice

database:
    storage: "{d}/db"

control:
    listen: "{d}/knot.sock"

acl:
  - id: local-transfer
    address: 127.0.0.0/8
    action: transfer

zone:
  - domain: "{ORIGIN}"
    file: "{zone}"
    zonefile-sync: -1
    zonefile-load: whole
    acl: local-transfer
"#
                ),
                vec!["-c".to_owned(), format!("{d}/knot.conf")],
            )
        }
        Server::Nsd => (
            "nsd.conf",
            // Debian builds NSD with response rate limiting on (200 qps per source): off, or
            // it would drop most of the benchmark's queries.
            format!(
                r#"server:
    ip-address: {ip}@{port}
    port: {port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0

remote-control:
    control-enable: no

zone:
    name: "{ORIGIN}"
    zonefile: "{zone}"
    provide-xfr: 127.0.0.0/8 NOKEY
"#
            ),
            vec!["-d".to_owned(), "-c".to_owned(), format!("{d}/nsd.conf")],
        ),
    };
    fs::write(dir.join(file), text).map_err(io_error("writing the server configuration"))?;
    Ok(args)
}

/// What one dnsperf run against one server needs.
#[derive(Debug)]
struct Bench<'a> {
    programs: &'a Programs,
    settings: &'a Settings,
    dir: &'a Path,
    server: &'a RunningServer,
}

/// The check pass: every query once, each response code compared with the expected one.
#[derive(Debug)]
struct CheckPass {
    answered: usize,
    lost: u64,
    mismatches: Vec<String>,
}

/// One measured run.
#[derive(Debug)]
struct RunResult {
    summary: Summary,
    /// Server CPU seconds (all processes of its group) during the run.
    cpu_seconds: f64,
    /// Wall seconds around the dnsperf process, used when its summary has no run time.
    wall_seconds: f64,
    /// Datagrams dropped at the server's socket during the run.
    server_drops: u64,
    /// Sorted per-query latencies in seconds, from `-v` (fixed-rate run only).
    latencies: Vec<f64>,
}

impl RunResult {
    /// Server CPU seconds over the seconds dnsperf was sending. The server is idle while dnsperf
    /// waits out its timeout for the last replies, so its CPU time all falls inside that span.
    fn cores(&self) -> f64 {
        let seconds = if self.summary.run_time > 0.0 {
            self.summary.run_time
        } else {
            self.wall_seconds
        };
        if seconds > 0.0 {
            self.cpu_seconds / seconds
        } else {
            0.0
        }
    }

    /// Completed queries per second of server CPU time.
    fn per_core(&self) -> Option<f64> {
        (self.cpu_seconds > 0.0).then(|| self.summary.completed as f64 / self.cpu_seconds)
    }

    fn figures(&self) -> Figures {
        let micros = |seconds: Option<f64>| seconds.map_or(0.0, |s| s * 1e6);
        Figures {
            qps: self.summary.qps,
            cores: self.cores(),
            per_core: self.per_core().unwrap_or(0.0),
            lost: self.summary.lost as f64,
            server_drops: self.server_drops as f64,
            average_us: self.summary.average_latency * 1e6,
            stddev_us: self.summary.latency_stddev * 1e6,
            p50_us: micros(self.percentile(0.50)),
            p99_us: micros(self.percentile(0.99)),
            p999_us: micros(self.percentile(0.999)),
        }
    }

    /// Nearest-rank percentile (`fraction` in 0..=1) of the per-query latencies.
    fn percentile(&self, fraction: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank = (fraction * self.latencies.len() as f64).ceil() as usize;
        self.latencies
            .get(rank.clamp(1, self.latencies.len()) - 1)
            .copied()
    }
}

impl Bench<'_> {
    /// dnsperf pinned to the client CPUs against this server, with `extra` arguments; returns
    /// its standard output (per-query lines with `-v`, then the summary).
    fn dnsperf(&self, extra: &[&str], output: &Path) -> Result<String, LoadError> {
        let server = self.server;
        let out = File::create(output).map_err(io_error("creating the dnsperf output"))?;
        let mut command = Command::new(&self.programs.taskset);
        command
            .arg("-c")
            .arg(&self.settings.client_cpus)
            .arg(&self.programs.dnsperf)
            .args(["-s", "127.0.0.1", "-p"])
            .arg(server.address.port().to_string())
            .arg("-d")
            .arg(self.dir.join(QUERY_FILE))
            .args(extra);
        if self.settings.edns {
            command.arg("-e");
        }
        let status = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::piped())
            .output()
            .map_err(io_error("running dnsperf"))?;
        let text = fs::read_to_string(output).map_err(io_error("reading dnsperf's output"))?;
        if !status.status.success() || !text.contains("Queries per second:") {
            let mut output = String::from_utf8_lossy(&status.stderr).into_owned();
            output.push_str(text.get(text.len().saturating_sub(4000)..).unwrap_or(""));
            return Err(LoadError::Dnsperf {
                server: server.server,
                output,
            });
        }
        Ok(text)
    }

    fn check_pass(&self, expected: &HashMap<(String, &str), &str>) -> Result<CheckPass, LoadError> {
        let text = self.dnsperf(&["-n", "1", "-v"], &self.dir.join("check.txt"))?;
        let summary = Summary::parse(&text);
        let mut answered = 0;
        let mut mismatches = Vec::new();
        for line in text.lines() {
            let Some(verbose) = VerboseLine::parse(line) else {
                continue;
            };
            answered += 1;
            let want = expected
                .get(&(verbose.name.to_owned(), verbose.qtype))
                .copied();
            if want != Some(verbose.rcode) {
                mismatches.push(format!(
                    "{} {}: {} (expected {})",
                    verbose.name,
                    verbose.qtype,
                    verbose.rcode,
                    want.unwrap_or("a query from the file")
                ));
            }
        }
        Ok(CheckPass {
            answered,
            lost: summary.lost,
            mismatches,
        })
    }

    /// One timed run of `settings.seconds`, with the server's CPU time read around it.
    fn measure(&self, extra: &[&str], verbose: bool) -> Result<RunResult, LoadError> {
        let seconds = self.settings.seconds.to_string();
        // `-t 1`: a reply later than a second on loopback is lost anyway, and dnsperf waits this
        // long for the last replies after a timed run.
        let mut args = vec!["-l", seconds.as_str(), "-t", "1"];
        args.extend_from_slice(extra);
        if verbose {
            args.push("-v");
        }
        let pgid = self.server.pid();
        let port = self.server.address.port();
        let drops_before = socket_drops(port);
        let cpu_before = group_cpu_seconds(pgid);
        let started = Instant::now();
        let name = if verbose { "fixed.txt" } else { "max.txt" };
        let text = self.dnsperf(&args, &self.dir.join(name))?;
        let wall_seconds = started.elapsed().as_secs_f64();
        let cpu_seconds = group_cpu_seconds(pgid) - cpu_before;
        let server_drops = socket_drops(port).saturating_sub(drops_before);
        let mut latencies: Vec<f64> = if verbose {
            text.lines()
                .filter_map(VerboseLine::parse)
                .map(|line| line.latency)
                .collect()
        } else {
            Vec::new()
        };
        latencies.sort_by(f64::total_cmp);
        Ok(RunResult {
            summary: Summary::parse(&text),
            cpu_seconds,
            wall_seconds,
            server_drops,
            latencies,
        })
    }
}

/// One `-v` line of dnsperf 2.x: `> NOERROR host1.bench.test A 0.000182`.
#[derive(Debug, PartialEq)]
struct VerboseLine<'a> {
    rcode: &'a str,
    name: &'a str,
    qtype: &'a str,
    latency: f64,
}

impl<'a> VerboseLine<'a> {
    fn parse(line: &'a str) -> Option<VerboseLine<'a>> {
        let mut fields = line.strip_prefix("> ")?.split_ascii_whitespace();
        let line = VerboseLine {
            rcode: fields.next()?,
            name: fields.next()?,
            qtype: fields.next()?,
            latency: fields.next()?.parse().ok()?,
        };
        fields.next().is_none().then_some(line)
    }
}

/// The figures of dnsperf's closing statistics.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    completed: u64,
    lost: u64,
    qps: f64,
    /// Seconds from the first query sent to the end of sending: after a timed run dnsperf
    /// still waits up to its timeout for late replies, which is not load.
    run_time: f64,
    /// Seconds.
    average_latency: f64,
    latency_stddev: f64,
}

impl Summary {
    fn parse(text: &str) -> Summary {
        let mut summary = Summary::default();
        for line in text.lines() {
            let line = line.trim();
            let field = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|rest| rest.split_ascii_whitespace().next())
            };
            if let Some(v) = field("Queries completed:").and_then(|v| v.parse().ok()) {
                summary.completed = v;
            } else if let Some(v) = field("Queries lost:").and_then(|v| v.parse().ok()) {
                summary.lost = v;
            } else if let Some(v) = field("Queries per second:").and_then(|v| v.parse().ok()) {
                summary.qps = v;
            } else if let Some(v) = field("Run time (s):").and_then(|v| v.parse().ok()) {
                summary.run_time = v;
            } else if let Some(v) = field("Average Latency (s):").and_then(|v| v.parse().ok()) {
                summary.average_latency = v;
            } else if let Some(v) = field("Latency StdDev (s):").and_then(|v| v.parse().ok()) {
                summary.latency_stddev = v;
            }
        }
        summary
    }
}

/// Ticks per second of the CPU times in `/proc/PID/stat` (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// The fields of `/proc/PID/stat` after the command name (which may contain spaces and
/// parentheses, so it is skipped up to its last `)`): index 0 is field 3 (state), 2 is field 5
/// (pgrp), 11 and 12 are fields 14 and 15 (utime, stime), see proc(5).
fn stat_fields(text: &str) -> Option<Vec<&str>> {
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_ascii_whitespace().collect())
}

/// CPU seconds (user + system, all threads) used so far by every process in process group
/// `pgid`: the server and, for NSD, the children it forked.
fn group_cpu_seconds(pgid: u32) -> f64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks: u64 = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        ticks += group_ticks(&text, pgid).unwrap_or(0);
    }
    ticks as f64 / clock_ticks()
}

/// utime + stime of one `/proc/PID/stat` text when the process is in group `pgid`.
fn group_ticks(stat: &str, pgid: u32) -> Option<u64> {
    let fields = stat_fields(stat)?;
    if fields.get(2)?.parse::<u32>().ok()? != pgid {
        return None;
    }
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Drops counted on the UDP sockets bound to 127.0.0.1:`port` (all of them, for servers with
/// one `SO_REUSEPORT` socket per worker), from `/proc/net/udp`.
fn socket_drops(port: u16) -> u64 {
    fs::read_to_string("/proc/net/udp")
        .map(|text| udp_table_drops(&text, port))
        .unwrap_or(0)
}

fn udp_table_drops(table: &str, port: u16) -> u64 {
    // local_address is the IPv4 address in host byte order, then the port, both in hex.
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            (fields.get(1) == Some(&local.as_str()))
                .then(|| fields.last()?.parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

fn table(settings: &Settings, rows: &[Row]) -> String {
    let mut out = String::new();
    let rounds = if settings.rounds > 1 {
        format!(", median of {} rounds", settings.rounds)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "UDP, {} s per run{rounds}; each server with one worker on CPU {}, dnsperf on CPU {}",
        settings.seconds, settings.server_cpus, settings.client_cpus
    );
    let _ = writeln!(
        out,
        "{:<10} | {:<41} | {:<67} | {:<7}",
        "",
        "maximum throughput (dnsperf -q 500)",
        format!("fixed rate (dnsperf -Q {}), latencies in µs", settings.rate),
        "check",
    );
    let _ = writeln!(
        out,
        "{:<10} | {:>8} {:>6} {:>9} {:>6} {:>8} | {:>8} {:>6} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>7}",
        "server",
        "qps",
        "cores",
        "qps/core",
        "lost",
        "srvdrop",
        "qps",
        "cores",
        "qps/core",
        "avg",
        "stddev",
        "p50",
        "p99",
        "p99.9",
        "lost",
        "wrong",
    );
    for row in rows {
        let (max, fixed) = (&row.max, &row.fixed);
        let _ = writeln!(
            out,
            "{:<10} | {:>8.0} {:>6.2} {:>9.0} {:>6.0} {:>8.0} | {:>8.0} {:>6.2} {:>9.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} | {:>7}",
            row.server.label(),
            max.qps,
            max.cores,
            max.per_core,
            max.lost,
            max.server_drops,
            fixed.qps,
            fixed.cores,
            fixed.per_core,
            fixed.average_us,
            fixed.stddev_us,
            fixed.p50_us,
            fixed.p99_us,
            fixed.p999_us,
            fixed.lost,
            if row.check_lost > 0 {
                format!("{}/{}?", row.wrong, row.check_lost)
            } else {
                row.wrong.to_string()
            },
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The inputs: one zone and one query file, both deterministic.
// ---------------------------------------------------------------------------------------------

fn ipv4(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF)
}

/// The zone as a master file (RFC 1035 §5): apex SOA, NS, MX, TXT, A and AAAA; the name
/// servers; a wildcard (RFC 4592) with A and TXT; a delegation (`sub`) with in-bailiwick glue;
/// [`HOSTS`] hosts with A, every second one an AAAA, every sixth two MX, every tenth a TXT;
/// [`WWW_ALIASES`] CNAMEs to hosts and [`CHAINED_ALIASES`] CNAMEs to those CNAMEs.
fn zone_text() -> String {
    let mut z = String::new();
    let _ = write!(
        z,
        r#"; {ORIGIN} for the side-by-side load benchmark; generated by bench/src/bin/load/main.rs
; (`load --write-inputs bench/load`), do not edit by hand.
$ORIGIN {ORIGIN}
$TTL 3600
@	IN	SOA	ns1 hostmaster 2024010101 7200 3600 1209600 300
	IN	NS	ns1
	IN	NS	ns2
	IN	MX	10 host1
	IN	TXT	"v=spf1 mx -all"
	IN	A	192.0.2.80
	IN	AAAA	2001:db8::80
ns1	IN	A	192.0.2.1
ns2	IN	A	192.0.2.2
	IN	AAAA	2001:db8::2
; Wildcard (RFC 4592): every name below wild.{ORIGIN} without records of its own.
*.wild	300	IN	A	192.0.2.99
	300	IN	TXT	"wildcard"
; Delegation (RFC 1034 §4.2.1) with glue.
sub	86400	IN	NS	ns1.sub
	86400	IN	NS	ns2.sub
ns1.sub	86400	IN	A	192.0.2.53
ns2.sub	86400	IN	AAAA	2001:db8:53::2
"#
    );
    for i in 0..HOSTS {
        let _ = writeln!(z, "host{i}\t300\tIN\tA\t{}", ipv4(i));
        if i % 2 == 0 {
            let _ = writeln!(z, "\t300\tIN\tAAAA\t2001:db8:1::{i:x}");
        }
        if i % 6 == 0 {
            let _ = writeln!(z, "\tIN\tMX\t10 host{}\n\tIN\tMX\t20 host{}", i + 1, i + 2);
        }
        if i % 10 == 0 {
            let _ = writeln!(z, "\tIN\tTXT\t\"site-verification={i:016x}\"");
        }
    }
    for k in 0..WWW_ALIASES {
        let _ = writeln!(z, "www{k}\tIN\tCNAME\thost{}", k * 6);
    }
    for k in 0..CHAINED_ALIASES {
        let _ = writeln!(z, "alias{k}\tIN\tCNAME\twww{k}");
    }
    z
}

/// What the check pass expects a query to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// NOERROR, with an answer, a referral or no data.
    NoError,
    NxDomain,
}

impl Expect {
    fn rcode(self) -> &'static str {
        match self {
            Expect::NoError => "NOERROR",
            Expect::NxDomain => "NXDOMAIN",
        }
    }
}

/// One line of the query file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryLine {
    /// Without the trailing dot, as dnsperf prints it back.
    name: String,
    qtype: &'static str,
    expect: Expect,
}

/// A small deterministic generator (xorshift64*), so the query file is the same on every run
/// and matches the checked-in copy.
#[derive(Debug)]
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// [`QUERY_LINES`] queries. Per thousand: 440 A and 180 AAAA of existing hosts, 30 AAAA of
/// hosts without one (NODATA), 100 NXDOMAIN, 80 A through one CNAME and 10 through two, 50 MX,
/// 20 TXT, 30 wildcard A, 20 below the delegation (referrals), 40 at the apex (A, NS).
fn queries() -> Vec<QueryLine> {
    let origin = ORIGIN.trim_end_matches('.');
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut lines = Vec::with_capacity(QUERY_LINES);
    for _ in 0..QUERY_LINES {
        let pick = random.below(1000);
        let n = random.next();
        let host = n % HOSTS;
        let (name, qtype, expect) = match pick {
            0..440 => (format!("host{host}"), "A", Expect::NoError),
            440..620 => (format!("host{}", host & !1), "AAAA", Expect::NoError),
            620..650 => (format!("host{}", host | 1), "AAAA", Expect::NoError),
            650..700 => (format!("nx{}", n % 100_000), "A", Expect::NxDomain),
            700..750 => (format!("host{}", HOSTS + n % 10_000), "A", Expect::NxDomain),
            750..830 => (format!("www{}", n % WWW_ALIASES), "A", Expect::NoError),
            830..840 => (
                format!("alias{}", n % CHAINED_ALIASES),
                "A",
                Expect::NoError,
            ),
            840..890 => (format!("host{}", host / 6 * 6), "MX", Expect::NoError),
            890..910 => (format!("host{}", host / 10 * 10), "TXT", Expect::NoError),
            910..940 => (format!("x{}.wild", n % 100_000), "A", Expect::NoError),
            940..960 => (format!("h{}.sub", n % 1000), "A", Expect::NoError),
            960..980 => ("@".to_owned(), "A", Expect::NoError),
            _ => ("@".to_owned(), "NS", Expect::NoError),
        };
        let name = if name == "@" {
            origin.to_owned()
        } else {
            format!("{name}.{origin}")
        };
        lines.push(QueryLine {
            name,
            qtype,
            expect,
        });
    }
    lines
}

/// dnsperf's input format: `name type` per line.
fn query_file_text(lines: &[QueryLine]) -> String {
    let mut text = String::with_capacity(lines.len() * 24);
    for line in lines {
        let _ = writeln!(text, "{} {}", line.name, line.qtype);
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn checked_in(file: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("load")
            .join(file);
        fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn checked_in_inputs_are_what_the_generator_writes() {
        assert!(
            checked_in(ZONE_FILE) == zone_text(),
            "bench/load/{ZONE_FILE} is stale: run `load --write-inputs bench/load`"
        );
        assert!(
            checked_in(QUERY_FILE) == query_file_text(&queries()),
            "bench/load/{QUERY_FILE} is stale: run `load --write-inputs bench/load`"
        );
    }

    #[test]
    fn zone_parses_with_every_record() {
        let origin = Name::from_text(ORIGIN, None).unwrap();
        let parsed = nebula_store::master::parse_str(&zone_text(), &origin, ZONE_FILE).unwrap();
        // Apex 7, name servers 3, wildcard 2, delegation 4; per host: A, AAAA on every second,
        // two MX on every sixth, TXT on every tenth; then the CNAMEs.
        let hosts = HOSTS + HOSTS / 2 + 2 * HOSTS / 6 + HOSTS / 10;
        let expected = 7 + 3 + 2 + 4 + hosts + WWW_ALIASES + CHAINED_ALIASES;
        assert_eq!(parsed.zone.record_count() as u64, expected);
        assert!(expected > 5000, "a realistic size, not a toy");
    }

    /// Owners of the generated zone, absolute, without the trailing dot.
    fn owners() -> HashSet<String> {
        let origin = ORIGIN.trim_end_matches('.');
        zone_text()
            .lines()
            .filter(|line| !line.starts_with([';', '$', '\t']))
            .filter_map(|line| line.split('\t').next())
            .map(|owner| match owner {
                "@" => origin.to_owned(),
                relative => format!("{relative}.{origin}"),
            })
            .collect()
    }

    #[test]
    fn every_query_expects_what_the_zone_holds() {
        let owners = owners();
        let wildcard_parent = format!("wild.{}", ORIGIN.trim_end_matches('.'));
        let delegation = format!("sub.{}", ORIGIN.trim_end_matches('.'));
        for line in queries() {
            let parent = line.name.split_once('.').map(|(_, parent)| parent);
            let exists = owners.contains(&line.name)
                || parent == Some(&wildcard_parent)
                || parent == Some(&delegation);
            let expected = if exists {
                Expect::NoError
            } else {
                Expect::NxDomain
            };
            assert_eq!(line.expect, expected, "{line:?}");
        }
    }

    #[test]
    fn query_mix_is_mostly_existing_addresses() {
        let lines = queries();
        assert_eq!(lines.len(), QUERY_LINES);
        let share = |keep: &dyn Fn(&QueryLine) -> bool| {
            lines.iter().filter(|l| keep(l)).count() as f64 / lines.len() as f64
        };
        let addresses = share(&|l| matches!(l.qtype, "A" | "AAAA") && l.name.starts_with("host"));
        let nxdomain = share(&|l| l.expect == Expect::NxDomain);
        let cname = share(&|l| l.name.starts_with("www") || l.name.starts_with("alias"));
        let mx = share(&|l| l.qtype == "MX");
        assert!((0.65..0.75).contains(&addresses), "{addresses}");
        assert!((0.08..0.12).contains(&nxdomain), "{nxdomain}");
        assert!((0.07..0.11).contains(&cname), "{cname}");
        assert!((0.04..0.06).contains(&mx), "{mx}");
    }

    #[test]
    fn dnsperf_output_is_read() {
        // Captured from dnsperf 2.10.0 against Knot DNS.
        let output = "\
[Status] Stopping after 2 runs through file
> NOERROR ns.t.test A 0.000182
> NXDOMAIN x.t.test A 0.000094
[Status] Testing complete (end of file)

Statistics:

  Queries sent:         4
  Queries completed:    4 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 2 (50.00%), NXDOMAIN 2 (50.00%)
  Average packet size:  request 26, response 55
  Run time (s):         0.003967
  Queries per second:   1008.318629

  Average Latency (s):  0.000108 (min 0.000045, max 0.000182)
  Latency StdDev (s):   0.000057
";
        assert_eq!(
            Summary::parse(output),
            Summary {
                completed: 4,
                lost: 0,
                qps: 1008.318629,
                run_time: 0.003967,
                average_latency: 0.000108,
                latency_stddev: 0.000057,
            }
        );
        let verbose: Vec<_> = output.lines().filter_map(VerboseLine::parse).collect();
        assert_eq!(
            verbose,
            [
                VerboseLine {
                    rcode: "NOERROR",
                    name: "ns.t.test",
                    qtype: "A",
                    latency: 0.000182
                },
                VerboseLine {
                    rcode: "NXDOMAIN",
                    name: "x.t.test",
                    qtype: "A",
                    latency: 0.000094
                }
            ]
        );
    }

    #[test]
    fn proc_stat_is_read_past_odd_command_names() {
        // Field 5 (pgrp) = 77, utime = 250, stime = 50.
        let stat = "1234 (nsd: (xfrd) x) S 1 77 77 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(group_ticks(stat, 77), Some(300));
        assert_eq!(group_ticks(stat, 78), None);
        assert_eq!(group_ticks("garbage", 77), None);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let run = RunResult {
            summary: Summary::default(),
            cpu_seconds: 2.0,
            wall_seconds: 4.0,
            server_drops: 0,
            latencies: (1..=1000).map(f64::from).collect(),
        };
        assert_eq!(run.percentile(0.5), Some(500.0));
        assert_eq!(run.percentile(0.99), Some(990.0));
        assert_eq!(run.percentile(0.999), Some(999.0));
        assert_eq!(run.percentile(0.0), Some(1.0));
        assert_eq!(run.cores(), 0.5);
    }

    #[test]
    fn server_socket_drops_are_read_from_the_udp_table() {
        // Two SO_REUSEPORT sockets on 127.0.0.1:53443 (0xD0C3), one elsewhere; drops last.
        let table = "\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 0100007F:D0C3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9001 2 0000000000000000 17
  102: 0100007F:D0C3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9002 2 0000000000000000 3
  103: 0100007F:D0C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9003 2 0000000000000000 99
";
        assert_eq!(udp_table_drops(table, 53443), 20);
        assert_eq!(udp_table_drops(table, 53444), 99);
        assert_eq!(udp_table_drops(table, 53), 0);
    }

    #[test]
    fn medians_are_taken_field_by_field() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
        let figures = |qps, p99_us| Figures {
            qps,
            p99_us,
            ..Figures::default()
        };
        let rounds = [
            figures(10.0, 900.0),
            figures(30.0, 100.0),
            figures(20.0, 500.0),
        ];
        assert_eq!(
            Figures::median(rounds.iter().copied()),
            figures(20.0, 500.0)
        );
    }

    #[test]
    fn arguments_are_checked() {
        let args =
            |list: &[&str]| parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let smoke = args(&["--smoke", "--rate", "5000", "--servers", "nsd,knot"]).unwrap();
        assert_eq!(smoke.seconds, SMOKE_SECONDS);
        assert_eq!(smoke.rate, 5000);
        assert_eq!(smoke.servers, [Server::Nsd, Server::Knot]);
        assert!(args(&["--seconds", "0"]).is_err());
        assert!(args(&["--servers", "bind"]).is_err());
        assert!(args(&["--rate"]).is_err());
    }
}
