//! The replicated-write benchmark: a three-node NebulaDNS cluster against a three-node etcd 3.4
//! cluster, both on loopback with fsync on, driven by the same kind of client.
//!
//! ```text
//! raft_write [--seconds N] [--rounds R] [--writers 1,32] [--value-size BYTES] [--samples N] [--smoke] [--help]
//! ```
//!
//! 1. Starts the cluster with `deploy/local/cluster.sh up` (DNS 127.0.0.1:15301-15303, API
//!    18081-18083) in a temporary directory, using the `nebuladns` next to this program, and an
//!    etcd cluster (`/usr/bin/etcd`, clients on 127.0.0.1:22379/22479/22579) with its default
//!    durability (every commit fsynced, as ours).
//! 2. Throughput, for each writer count: every writer is a thread with one keep-alive HTTP/1.1
//!    connection to the leader, writing as fast as answers come back for N seconds. NebulaDNS:
//!    `POST /api/v1/zones/bench.test./records` replacing the TXT RRset of one of 100 names with a
//!    value of `--value-size` bytes; etcd: `POST /v3/kv/put` (its JSON gateway) of one of 100 keys
//!    with a value of the same size. Reported: acknowledged writes per second and the p50/p99 of
//!    the write's latency as the client saw it. Each system's N seconds are run as `--rounds`
//!    slices alternating with the other's (the first system alternates too), so a burst of
//!    noise on a shared machine lands on both; the per-round ratios show how much it moved.
//! 3. Visibility, one writer: for each of `--samples` writes, a poller per node sends UDP TXT
//!    queries to that node from the moment the write is sent until the node answers the new
//!    value, pausing 0.1 ms between queries (spinning pollers would take the CPU from the nodes
//!    on a small machine) and resending after 5 ms without an answer; reported per node: p50
//!    and p99 of send → visible.
//!
//! Targets (issue 4): writes/s at least etcd's; visible on all three nodes p99 ≤ 10 ms with one
//! writer. `--smoke` runs a second per measurement and 20 samples, for CI. Exit status 1 when a
//! step fails, 2 for bad arguments. `./dev bench-raft` builds and runs it.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use nebula_api::client::{Body, Client};
use nebula_wire::{Header, Message, Name, Question, RData, RType};
use serde_json::json;

const ZONE: &str = "bench.test.";
const ZONE_TEXT: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";
const KEYS: u64 = 100;
/// Between two queries of a visibility poller.
const POLL_PAUSE: Duration = Duration::from_micros(100);
const NODES: [u16; 3] = [1, 2, 3];
const ETCD_CLIENT_PORTS: [u16; 3] = [22379, 22479, 22579];
const ETCD_PEER_PORTS: [u16; 3] = [22380, 22480, 22580];

#[derive(Debug)]
struct Options {
    seconds: f64,
    rounds: usize,
    writers: Vec<usize>,
    value_size: usize,
    samples: usize,
}

const USAGE: &str = "\
usage: raft_write [--seconds N] [--rounds R] [--writers 1,32] [--value-size BYTES] [--samples N] [--smoke] [--help]

A three-node NebulaDNS cluster (deploy/local/cluster.sh) against a three-node etcd 3.4, both on
loopback with fsync on: committed writes per second for each writer count, and write -> visible
in DNS answers on every node with one writer.

  --seconds N         seconds of writes per system and writer count (default 10)
  --rounds R          slices those seconds are cut into, alternating the systems (default 5)
  --writers LIST      writer counts, comma-separated (default 1,32)
  --value-size BYTES  size of each written value, 1-200 (default 100)
  --samples N         writes timed until visible on every node (default 500)
  --smoke             a second per measurement, 2 rounds, 20 samples (CI)

Exit status: 0 done (targets met or not), 1 a step failed, 2 bad arguments.
";

/// The options, or None when `--help` asked for the usage.
fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options {
        seconds: 10.0,
        rounds: 5,
        writers: vec![1, 32],
        value_size: 100,
        samples: 500,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--rounds" => {
                options.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|&r| r > 0)
                    .ok_or("--rounds: give a whole number of at least 1")?
            }
            "--writers" => {
                options.writers = value("--writers")?
                    .split(',')
                    .map(|w| w.parse().map_err(|e| format!("--writers: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--value-size" => {
                options.value_size = value("--value-size")?
                    .parse()
                    .map_err(|e| format!("--value-size: {e}"))?
            }
            "--samples" => {
                options.samples = value("--samples")?
                    .parse()
                    .map_err(|e| format!("--samples: {e}"))?
            }
            "--smoke" => {
                options.seconds = 1.0;
                options.rounds = 2;
                options.samples = 20;
            }
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    if options.value_size == 0 || options.value_size > 200 {
        return Err("--value-size must be 1 to 200 (one TXT string)".to_owned());
    }
    Ok(Some(options))
}

fn progress(message: &str) {
    eprintln!("raft_write: {message}");
}

/// The directory holding this program (and, after `cargo build --release`, `nebuladns`).
fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "no parent directory".to_owned())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The local cluster, stopped (and its data deleted) on drop.
struct NebulaCluster {
    dir: PathBuf,
    bin_dir: PathBuf,
}

impl NebulaCluster {
    fn script(&self, action: &[&str]) -> Result<(), String> {
        let status = Command::new(repo_root().join("deploy/local/cluster.sh"))
            .args(action)
            .env("NEBULA_CLUSTER_DIR", &self.dir)
            .env("NEBULA_BIN_DIR", &self.bin_dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cluster.sh: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "cluster.sh {action:?} failed ({status}); logs under {}",
                self.dir.display()
            ))
        }
    }
}

impl Drop for NebulaCluster {
    fn drop(&mut self) {
        let _ = self.script(&["down", "--purge"]);
    }
}

/// The etcd members, killed (and their data deleted) on drop.
struct Etcd {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn start_etcd(dir: &Path) -> Result<Etcd, String> {
    let cluster: Vec<String> = (0..3)
        .map(|i| format!("e{i}=http://127.0.0.1:{}", ETCD_PEER_PORTS[i]))
        .collect();
    let mut etcd = Etcd {
        children: Vec::new(),
        dir: dir.to_owned(),
    };
    for i in 0..3 {
        let data = dir.join(format!("e{i}"));
        fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.join(format!("e{i}.log"))).map_err(|e| e.to_string())?;
        let client = format!("http://127.0.0.1:{}", ETCD_CLIENT_PORTS[i]);
        let peer = format!("http://127.0.0.1:{}", ETCD_PEER_PORTS[i]);
        let child = Command::new("etcd")
            .args(["--name", &format!("e{i}")])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args([
                "--initial-cluster",
                &cluster.join(","),
                "--initial-cluster-state",
                "new",
            ])
            .args([
                "--initial-cluster-token",
                "nebula-bench",
                "--log-level",
                "warn",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start etcd (apt-get install etcd-server): {e}"))?;
        etcd.children.push(child);
    }
    Ok(etcd)
}

fn etcd_client(port: u16) -> Client {
    Client::new(
        &format!("http://127.0.0.1:{port}"),
        None,
        Duration::from_secs(10),
    )
}

/// The client port of etcd's leader, once there is one.
fn etcd_leader() -> Result<u16, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for port in ETCD_CLIENT_PORTS {
            let status = etcd_client(port).request(
                "POST",
                "/v3/maintenance/status",
                Some(Body::Json(json!({}))),
                &[],
            );
            if let Ok(reply) = status {
                let value = reply.json();
                let leader = value["leader"].as_str().unwrap_or_default().to_owned();
                if !leader.is_empty()
                    && value["header"]["member_id"].as_str() == Some(leader.as_str())
                {
                    return Ok(port);
                }
            }
        }
        if Instant::now() > deadline {
            return Err("etcd elected no leader within 30 s".to_owned());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The API address of NebulaDNS's leader.
fn nebula_leader(token: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let client = Client::new(
            "http://127.0.0.1:18081",
            Some(token.to_owned()),
            Duration::from_secs(5),
        );
        if let Ok(reply) = client.get("/api/v1/cluster") {
            let status = reply.json();
            if let Some(leader) = status["leader"].as_u64() {
                let members = status["members"].as_array().cloned().unwrap_or_default();
                if let Some(member) = members.iter().find(|m| m["id"] == leader) {
                    return Ok(format!(
                        "http://{}",
                        member["api_addr"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
        if Instant::now() > deadline {
            return Err("the NebulaDNS cluster has no leader".to_owned());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    Nebula,
    Etcd,
}

fn value_of(size: usize, n: u64) -> String {
    let stamp = format!("{n:012}");
    let mut value = "x".repeat(size.saturating_sub(stamp.len()));
    value.push_str(&stamp);
    value.truncate(size);
    value
}

/// One write of `n`: returns an error message if it was not acknowledged.
fn write_one(system: System, client: &Client, n: u64, value: &str) -> Result<(), String> {
    let key = n % KEYS;
    let reply = match system {
        System::Nebula => client.request(
            "POST",
            &format!("/api/v1/zones/{ZONE}/records"),
            Some(Body::Json(json!({"changes": [{"action": "replace", "name": format!("k{key}"), "type": "TXT", "ttl": 60, "data": format!("\"{value}\"")}]}))),
            &[],
        ),
        System::Etcd => {
            let b64 = |s: &str| data_encoding::BASE64.encode(s.as_bytes());
            client.request("POST", "/v3/kv/put", Some(Body::Json(json!({"key": b64(&format!("k{key}")), "value": b64(value)}))), &[])
        }
    };
    match reply {
        Ok(r) if r.is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}: {}", r.status, r.message())),
        Err(e) => Err(e.to_string()),
    }
}

struct Throughput {
    writes: u64,
    seconds: f64,
    latencies: Vec<Duration>,
}

fn throughput(
    system: System,
    base: &str,
    token: Option<&str>,
    writers: usize,
    seconds: f64,
    value_size: usize,
) -> Result<Throughput, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(writers + 1));
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let client = Client::new(base, token.map(str::to_owned), Duration::from_secs(10));
            let (stop, counter, barrier) = (stop.clone(), counter.clone(), barrier.clone());
            thread::spawn(move || -> Result<Vec<Duration>, String> {
                let mut latencies = Vec::new();
                barrier.wait();
                let mut n = w as u64;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    write_one(system, &client, n, &value_of(value_size, n))?;
                    latencies.push(started.elapsed());
                    counter.fetch_add(1, Ordering::Relaxed);
                    n += writers as u64;
                }
                Ok(latencies)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let writes = counter.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(
            handle
                .join()
                .map_err(|_| "a writer panicked".to_owned())??,
        );
    }
    Ok(Throughput {
        writes,
        seconds: elapsed,
        latencies,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Asks `server` for `name` TXT until the answer contains `value`; the time it took since `start`.
fn poll_until_visible(
    socket: &UdpSocket,
    server: SocketAddr,
    query: &[u8],
    value: &str,
    start: Instant,
    give_up: Duration,
) -> Option<Duration> {
    let mut buffer = [0u8; 1500];
    let wanted = format!("\"{value}\"");
    while start.elapsed() < give_up {
        if socket.send_to(query, server).is_err() {
            continue;
        }
        if let Ok((len, _)) = socket.recv_from(&mut buffer) {
            if let Ok(message) = Message::decode(&buffer[..len]) {
                let seen = message
                    .answers
                    .iter()
                    .any(|r| matches!(&r.rdata, RData::Txt(_)) && r.rdata.to_string() == wanted);
                if seen {
                    return Some(start.elapsed());
                }
            }
        }
        // Paced, not spinning: three pollers spinning on a two-core machine would take the CPU
        // from the nodes they measure. The pause bounds the resolution (about 0.1-0.2 ms).
        thread::sleep(POLL_PAUSE);
    }
    None
}

fn txt_query(name: &str) -> Result<Vec<u8>, String> {
    let qname: Name = name.parse().map_err(|e| format!("{name}: {e}"))?;
    let message = Message {
        header: Header {
            id: 0x4e42,
            ..Header::default()
        },
        questions: vec![Question {
            name: qname,
            qtype: RType::TXT,
            qclass: nebula_wire::Class::IN,
        }],
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
    };
    message
        .encode()
        .map_err(|e| format!("encoding a query: {e}"))
}

/// Send → visible latencies per node (sorted); and when each write was sent (ms since the
/// epoch) with its slowest node's latency, slowest first.
type Visibility = (Vec<Vec<Duration>>, Vec<(u64, Duration)>);

/// Measures [`Visibility`] with one writer.
fn visibility(
    base: &str,
    token: &str,
    samples: usize,
    value_size: usize,
) -> Result<Visibility, String> {
    let client = Client::new(base, Some(token.to_owned()), Duration::from_secs(10));
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::new(); NODES.len()];
    let mut slowest = Vec::with_capacity(samples);
    for i in 0..samples as u64 {
        let n = 1_000_000 + i;
        let value = value_of(value_size, n);
        let query = Arc::new(txt_query(&format!("k{}.{ZONE}", n % KEYS))?);
        let start = Instant::now();
        let sent_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let pollers: Vec<_> = NODES
            .iter()
            .map(|&node| {
                let (query, value) = (query.clone(), value.clone());
                thread::spawn(move || -> Option<Duration> {
                    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
                    socket
                        .set_read_timeout(Some(Duration::from_millis(5)))
                        .ok()?;
                    let server = SocketAddr::from(([127, 0, 0, 1], 15300 + node));
                    poll_until_visible(
                        &socket,
                        server,
                        &query,
                        &value,
                        start,
                        Duration::from_secs(5),
                    )
                })
            })
            .collect();
        write_one(System::Nebula, &client, n, &value)?;
        let mut worst = Duration::ZERO;
        for (slot, poller) in per_node.iter_mut().zip(pollers) {
            let seen = poller.join().map_err(|_| "a poller panicked".to_owned())?;
            let seen = seen.ok_or_else(|| format!("write {n} not visible on a node within 5 s"))?;
            worst = worst.max(seen);
            slot.push(seen);
        }
        slowest.push((sent_ms, worst));
    }
    for list in &mut per_node {
        list.sort();
    }
    slowest.sort_by_key(|&(_, took)| std::cmp::Reverse(took));
    Ok((per_node, slowest))
}

/// A time of day, UTC, as the nodes' logs print it (`HH:MM:SS.mmm`).
fn time_of_day(epoch_ms: u64) -> String {
    let day_ms = epoch_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn run(options: &Options) -> Result<String, String> {
    let work = std::env::temp_dir().join(format!("nebula-raft-bench-{}", std::process::id()));
    fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    progress("starting the NebulaDNS cluster (deploy/local/cluster.sh up)");
    let cluster = NebulaCluster {
        dir: work.join("nebula"),
        bin_dir: bin_dir()?,
    };
    cluster.script(&["up"])?;
    let token = fs::read_to_string(cluster.dir.join("node1/data/admin.token"))
        .map_err(|e| format!("admin token: {e}"))?;
    let token = token.trim().to_owned();
    let leader = nebula_leader(&token)?;
    let admin = Client::new(&leader, Some(token.clone()), Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = admin.request(
            "PUT",
            &format!("/api/v1/zones/{ZONE}"),
            Some(Body::Text(ZONE_TEXT.to_owned())),
            &[],
        );
        match reply {
            Ok(r) if r.is_success() => break,
            other if Instant::now() > deadline => {
                return Err(format!("cannot create {ZONE}: {other:?}"))
            }
            _ => thread::sleep(Duration::from_millis(200)),
        }
    }
    progress("starting etcd (3 members)");
    let etcd = start_etcd(&work.join("etcd"))?;
    let etcd_base = format!("http://127.0.0.1:{}", etcd_leader()?);

    let mut table = String::new();
    let _ = writeln!(
        table,
        "Committed writes, 3 nodes on loopback, fsync on, {} B values, {:.0} s per system in {} alternating rounds:",
        options.value_size, options.seconds, options.rounds
    );
    let _ = writeln!(
        table,
        "{:<10} {:>8} {:>10} {:>10} {:>10}",
        "system", "writers", "writes/s", "p50 ms", "p99 ms"
    );
    let mut ratios = Vec::new();
    let mut spreads = Vec::new();
    let systems = [
        (
            System::Nebula,
            "nebuladns",
            leader.as_str(),
            Some(token.as_str()),
        ),
        (System::Etcd, "etcd", etcd_base.as_str(), None),
    ];
    let slice = options.seconds / options.rounds as f64;
    for &writers in &options.writers {
        progress(&format!(
            "{writers} writer(s): {} rounds of {slice:.1} s each, alternating nebuladns and etcd",
            options.rounds
        ));
        let mut totals: Vec<Throughput> = systems
            .iter()
            .map(|_| Throughput {
                writes: 0,
                seconds: 0.0,
                latencies: Vec::new(),
            })
            .collect();
        let mut round_ratios = Vec::new();
        for round in 0..options.rounds {
            let mut rates = [0.0f64; 2];
            for offset in 0..systems.len() {
                let slot = (round + offset) % systems.len();
                let (system, _, base, token) = systems[slot];
                let result = throughput(system, base, token, writers, slice, options.value_size)?;
                rates[slot] = result.writes as f64 / result.seconds;
                let total = &mut totals[slot];
                total.writes += result.writes;
                total.seconds += result.seconds;
                total.latencies.extend(result.latencies);
            }
            round_ratios.push(rates[0] / rates[1].max(f64::MIN_POSITIVE));
        }
        let mut rates = [0.0f64; 2];
        for (slot, ((_, name, _, _), total)) in systems.iter().zip(&mut totals).enumerate() {
            total.latencies.sort();
            rates[slot] = total.writes as f64 / total.seconds;
            let _ = writeln!(
                table,
                "{:<10} {:>8} {:>10.0} {:>10} {:>10}",
                name,
                writers,
                rates[slot],
                ms(percentile(&total.latencies, 50.0)),
                ms(percentile(&total.latencies, 99.0))
            );
        }
        ratios.push((writers, rates[0] / rates[1].max(f64::MIN_POSITIVE)));
        round_ratios.sort_by(f64::total_cmp);
        spreads.push((writers, round_ratios));
    }
    let _ = writeln!(table, "\nnebuladns / etcd writes/s per round (sorted):");
    for (writers, round_ratios) in &spreads {
        let list: Vec<String> = round_ratios.iter().map(|r| format!("{r:.2}")).collect();
        let _ = writeln!(table, "{writers:>3} writer(s): {}", list.join(" "));
    }
    progress(&format!(
        "visibility: {} writes, one writer, polling all three DNS listeners",
        options.samples
    ));
    let (per_node, slowest) = visibility(&leader, &token, options.samples, options.value_size)?;
    let _ = writeln!(
        table,
        "\nWrite → visible in DNS answers, one writer, {} writes:",
        options.samples
    );
    let _ = writeln!(
        table,
        "{:<12} {:>10} {:>10} {:>10}",
        "node", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst_p99 = Duration::ZERO;
    for (node, list) in NODES.iter().zip(&per_node) {
        let p99 = percentile(list, 99.0);
        worst_p99 = worst_p99.max(p99);
        let _ = writeln!(
            table,
            "{:<12} {:>10} {:>10} {:>10}",
            format!("node{node}"),
            ms(percentile(list, 50.0)),
            ms(p99),
            ms(list.last().copied().unwrap_or_default())
        );
    }
    let worst: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(at, took)| format!("{} ms at {} UTC", ms(*took), time_of_day(*at)))
        .collect();
    let _ = writeln!(table, "slowest writes (all nodes): {}", worst.join(", "));
    let _ = writeln!(table);
    for (writers, ratio) in ratios {
        let _ = writeln!(
            table,
            "target writes/s ≥ etcd with {writers} writer(s): {:.2}× → {}",
            ratio,
            if ratio >= 1.0 { "met" } else { "NOT met" }
        );
    }
    let _ = writeln!(
        table,
        "target visible on all nodes p99 ≤ 10 ms: {} ms → {}",
        ms(worst_p99),
        if worst_p99 <= Duration::from_millis(10) {
            "met"
        } else {
            "NOT met"
        }
    );
    table.push_str(&node_notes(&cluster.dir));
    drop(etcd);
    drop(cluster);
    let _ = fs::remove_dir_all(&work);
    Ok(table)
}

/// The warnings the nodes logged during the run (a slow log fsync, a lost leader) and the
/// snapshots they saved, so that a latency outlier can be matched to a node's complaint or to
/// a burst of disk writes; the logs go with the cluster.
fn node_notes(dir: &Path) -> String {
    let mut out = String::new();
    for node in NODES {
        let log = fs::read_to_string(dir.join(format!("node{node}/log"))).unwrap_or_default();
        let noted: Vec<&str> = log
            .lines()
            .filter(|line| {
                line.contains("WARN") || line.contains("ERROR") || line.contains("snapshot saved")
            })
            .collect();
        if noted.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\nnode{node} logged {} warning(s) and snapshot(s) (the first 8):",
            noted.len()
        );
        for line in noted.iter().take(8) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("raft_write: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raft_write: {e}");
            ExitCode::from(1)
        }
    }
}
