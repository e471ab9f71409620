//! A Raft cluster of real `nebuladns` processes on loopback for tests: each node has its own
//! data directory and configuration, a fixed RPC port (peers must know it) and port 0 for the
//! rest (read back from the announcements). Nodes can be killed (`SIGKILL`), paused
//! (`SIGSTOP`, a node cut off from the others), resumed and restarted on the same data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nebula_api::client::{Body, Client, Reply};
use nebula_wire::{Message, Name, RData, RType};
use serde_json::Value;

use super::exchange::{query, udp_exchange};
use super::nebula::spawn;
use super::peers::TempDir;
use super::process::{self, Target};

/// One member.
#[derive(Debug)]
pub struct Node {
    pub id: u64,
    pub rpc: SocketAddr,
    pub dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    pub dns: SocketAddr,
    pub http: SocketAddr,
}

impl Node {
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }
}

/// The cluster; dropping it stops every node and removes the data.
#[derive(Debug)]
pub struct TestCluster {
    pub nodes: Vec<Node>,
    binary: PathBuf,
    token: String,
    /// The `peers = [...]` and extra lines every node's `[cluster]` section gets.
    cluster_section: String,
    dir: TempDir,
}

/// A loopback port that was free a moment ago (the node binds it right after). Taken below the
/// kernel's ephemeral range (32768-60999 by default), where the outgoing connections and `:0`
/// listeners of the nodes already running cannot take it meanwhile, and never twice in one run.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    let start = std::process::id() % COUNT;
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let Ok(port) = u16::try_from(FIRST + offset) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}-{}", FIRST + COUNT - 1)
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

impl TestCluster {
    /// Starts `count` voters; `extra` is appended to every node's `[cluster]` section
    /// (e.g. `snapshot_threshold = 50`). Returns once every node is ready and the bootstrap
    /// token works on all of them.
    pub fn start(binary: &Path, count: u64, extra: &str) -> TestCluster {
        let dir = TempDir::new("cluster").unwrap();
        let members: Vec<(u64, SocketAddr)> = (1..=count)
            .map(|id| (id, SocketAddr::from(([127, 0, 0, 1], free_port()))))
            .collect();
        let mut peers = String::from("peers = [\n");
        for (id, rpc) in &members {
            let _ = writeln!(
                peers,
                "  {{ id = {id}, rpc = \"{rpc}\", api = \"127.0.0.1:0\" }},"
            );
        }
        peers.push_str("]\n");
        let mut cluster = TestCluster {
            nodes: Vec::new(),
            binary: binary.to_owned(),
            token: String::new(),
            cluster_section: format!("{peers}{extra}\n"),
            dir,
        };
        for (id, rpc) in members {
            cluster.configure(id, rpc);
        }
        // Start them together: the first voters wait for a majority before electing.
        let handles: Vec<_> = cluster
            .nodes
            .iter()
            .map(|n| {
                let (binary, config, log) = (
                    cluster.binary.clone(),
                    n.config.clone(),
                    n.dir.join("server.log"),
                );
                thread::spawn(move || spawn(&binary, &config, &log))
            })
            .collect();
        for (node, handle) in cluster.nodes.iter_mut().zip(handles) {
            let spawned = handle
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("node {} did not start: {e}", node.id));
            node.dns = spawned.dns;
            node.http = spawned.http;
            node.child = Some(spawned.child);
        }
        cluster.token = fs::read_to_string(cluster.nodes[0].dir.join("data/admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        for id in 1..=count {
            cluster.wait_until(
                Duration::from_secs(15),
                &format!("node {id} accepts the token"),
                |c| {
                    c.client(id)
                        .get("/api/v1/zones?stale=true")
                        .is_ok_and(|r| r.is_success())
                },
            );
        }
        cluster
    }

    /// Writes node `id`'s configuration and adds it (not started) to the list.
    fn configure(&mut self, id: u64, rpc: SocketAddr) {
        let node_dir = self.dir.path().join(format!("node{id}"));
        fs::create_dir_all(&node_dir).unwrap();
        let config = node_dir.join("nebuladns.toml");
        let text = format!(
            "[server]\ndata_dir = {}\n\n[dns]\nlisten = [\"127.0.0.1:0\"]\nudp_workers = 1\n\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n\
             [cluster]\nnode_id = {id}\nrpc_listen = \"{rpc}\"\n{}",
            toml_path(&node_dir.join("data")),
            self.cluster_section
        );
        fs::write(&config, text).unwrap();
        self.nodes.push(Node {
            id,
            rpc,
            dir: node_dir,
            config,
            child: None,
            dns: SocketAddr::from(([0, 0, 0, 0], 0)),
            http: SocketAddr::from(([0, 0, 0, 0], 0)),
        });
    }

    /// Starts a node that is not an initial member: it waits until it is added.
    pub fn start_joiner(&mut self, id: u64) {
        self.configure(id, SocketAddr::from(([127, 0, 0, 1], free_port())));
        self.restart(id);
    }

    pub fn node(&self, id: u64) -> &Node {
        self.nodes.iter().find(|n| n.id == id).unwrap()
    }

    fn node_mut(&mut self, id: u64) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap()
    }

    pub fn log(&self, id: u64) -> String {
        fs::read_to_string(self.node(id).dir.join("server.log")).unwrap_or_default()
    }

    /// An API client of node `id` with the bootstrap admin token.
    pub fn client(&self, id: u64) -> Client {
        Client::new(
            &format!("http://{}", self.node(id).http),
            Some(self.token.clone()),
            Duration::from_secs(10),
        )
    }

    /// Polls `condition` until it holds; panics with `what` after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        mut condition: impl FnMut(&TestCluster) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !condition(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting until {what}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The leader as node `asking` sees it.
    pub fn leader_seen_by(&self, asking: u64) -> Option<u64> {
        let reply = self.client(asking).get("/api/v1/cluster").ok()?;
        reply.json().get("leader")?.as_u64()
    }

    /// Waits until every running node agrees on one leader, and returns it.
    pub fn wait_for_leader(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let seen: Vec<Option<u64>> = self
                .nodes
                .iter()
                .filter(|n| n.is_up())
                .map(|n| self.leader_seen_by(n.id))
                .collect();
            if let Some(Some(leader)) = seen.first() {
                if seen.iter().all(|s| *s == Some(*leader)) {
                    return *leader;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {timeout:?}: {seen:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.node_mut(id).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait.
    pub fn stop(&mut self, id: u64) {
        if let Some(mut child) = self.node_mut(id).child.take() {
            process::stop(&mut child, Target::Process);
        }
    }

    /// SIGSTOP or SIGCONT: a paused node neither answers nor sends.
    pub fn pause(&self, id: u64, paused: bool) {
        let child = self.node(id).child.as_ref().unwrap();
        process::signal(child, Target::Process, if paused { "STOP" } else { "CONT" }).unwrap();
    }

    /// Starts a stopped or killed node again on its data.
    pub fn restart(&mut self, id: u64) {
        let (binary, config, log) = {
            let node = self.node(id);
            (
                self.binary.clone(),
                node.config.clone(),
                node.dir.join("server.log"),
            )
        };
        let spawned = spawn(&binary, &config, &log)
            .unwrap_or_else(|e| panic!("node {id} did not restart: {e}"));
        let node = self.node_mut(id);
        node.dns = spawned.dns;
        node.http = spawned.http;
        node.child = Some(spawned.child);
    }

    /// Sends a request to node `id`.
    pub fn request(
        &self,
        id: u64,
        method: &str,
        path: &str,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.client(id)
            .request(method, path, body, headers)
            .unwrap()
    }

    /// The values of `name`'s TXT RRset as node `id` answers over UDP (empty: no such data).
    pub fn txt(&self, id: u64, name: &str) -> Vec<String> {
        let qname: Name = name.parse().unwrap();
        let bytes = query(7, &qname, RType::TXT, None).encode().unwrap();
        let Ok(reply) = udp_exchange(self.node(id).dns, &bytes, Duration::from_millis(500)) else {
            return Vec::new();
        };
        let message = Message::decode(&reply).unwrap();
        message
            .answers
            .iter()
            .filter_map(|r| match &r.rdata {
                RData::Txt(_) => Some(r.rdata.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The SOA serial node `id` serves for `zone`.
    pub fn serial(&self, id: u64, zone: &str) -> Option<u32> {
        let qname: Name = zone.parse().unwrap();
        let bytes = query(8, &qname, RType::SOA, None).encode().ok()?;
        let reply = udp_exchange(self.node(id).dns, &bytes, Duration::from_millis(500)).ok()?;
        let message = Message::decode(&reply).ok()?;
        message.answers.iter().find_map(|r| match &r.rdata {
            RData::Soa(soa) => Some(soa.serial),
            _ => None,
        })
    }

    /// A node's own status fields (from `/readyz`).
    pub fn readyz(&self, id: u64) -> Value {
        self.client(id)
            .get("/readyz")
            .map(|r| r.json())
            .unwrap_or(Value::Null)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.nodes.iter().map(|n| n.id).collect();
        for id in ids {
            if let Some(child) = &self.node(id).child {
                let _ = process::signal(child, Target::Process, "CONT");
            }
            self.stop(id);
        }
    }
}

/// A zone for cluster tests.
pub const TEST_ZONE: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";

/// JSON for adding one TXT record.
pub fn add_txt(name: &str, value: &str) -> Body {
    Body::Json(
        serde_json::json!({"changes": [{"action": "add", "name": name, "type": "TXT", "ttl": 60, "data": format!("\"{value}\"")}]}),
    )
}
