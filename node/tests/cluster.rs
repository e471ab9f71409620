//! A three-node cluster of real `nebuladns` processes on loopback: writes through any node are
//! answered by every node's DNS listener; `kill -9` of the leader during a stream of writes loses
//! no acknowledged write; a follower down for 1,000 writes catches up through a snapshot; a node
//! cut off in a minority keeps answering DNS and refuses writes with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nebula_api::client::{Body, Client};
use support::cluster::{add_txt, TestCluster, TEST_ZONE};

const BINARY: &str = env!("CARGO_BIN_EXE_nebuladns");

fn create_zone(cluster: &TestCluster, via: u64, zone: &str) {
    let reply = cluster.request(
        via,
        "PUT",
        &format!("/api/v1/zones/{zone}"),
        Some(Body::Text(TEST_ZONE.to_owned())),
        &[],
    );
    assert!(
        reply.is_success(),
        "creating {zone} via node {via}: {} {}",
        reply.status,
        reply.body
    );
}

fn others(leader: u64) -> Vec<u64> {
    (1..=3).filter(|&id| id != leader).collect()
}

#[test]
fn writes_through_any_node_are_answered_by_all_three() {
    let cluster = TestCluster::start(BINARY.as_ref(), 3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    create_zone(&cluster, others(leader)[0], "any.test.");
    for via in 1..=3 {
        let reply = cluster.request(
            via,
            "POST",
            "/api/v1/zones/any.test./records",
            Some(add_txt(&format!("n{via}"), &format!("v{via}"))),
            &[],
        );
        assert!(
            reply.is_success(),
            "write via node {via}: {} {}",
            reply.status,
            reply.body
        );
        // Read-your-write through another node: API reads are linearizable.
        let reader = via % 3 + 1;
        let zone = cluster
            .request(reader, "GET", "/api/v1/zones/any.test.", None, &[])
            .json();
        let names: Vec<String> = zone["document"]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            names.iter().any(|n| n == &format!("n{via}")),
            "node {reader} does not show n{via} after it was acknowledged: {names:?}"
        );
    }
    cluster.wait_until(
        Duration::from_secs(5),
        "every node answers every record",
        |c| {
            (1..=3).all(|id| {
                (1..=3).all(|v| c.txt(id, &format!("n{v}.any.test.")) == [format!("\"v{v}\"")])
            })
        },
    );
    let serials: Vec<Option<u32>> = (1..=3).map(|id| cluster.serial(id, "any.test.")).collect();
    assert_eq!(
        serials,
        [Some(4); 3],
        "same serial everywhere: created at 1, three changes"
    );
    let status = cluster
        .request(others(leader)[1], "GET", "/api/v1/cluster", None, &[])
        .json();
    assert_eq!(status["leader"], leader);
    let members = status["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert!(
        members
            .iter()
            .all(|m| m["role"] == "voter" && m["reachable"] == true),
        "{status}"
    );
    for id in 1..=3 {
        let verify = cluster
            .request(id, "GET", "/api/v1/audit/verify", None, &[])
            .json();
        assert_eq!(verify["ok"], true, "audit chain on node {id}: {verify}");
        assert_eq!(
            verify["entries"].as_u64(),
            Some(status_entries(&cluster, id))
        );
    }
}

#[test]
fn learners_are_added_promoted_and_removed_and_ids_are_never_reused() {
    let mut cluster = TestCluster::start(BINARY.as_ref(), 3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    create_zone(&cluster, leader, "grow.test.");
    cluster.start_joiner(4);
    let via = others(leader)[0];
    let node4 = serde_json::json!({"id": 4, "rpc_addr": cluster.node(4).rpc.to_string(), "api_addr": cluster.node(4).http.to_string()});
    let added = cluster.request(
        via,
        "POST",
        "/api/v1/cluster/nodes",
        Some(Body::Json(node4.clone())),
        &[],
    );
    assert!(added.is_success(), "{} {}", added.status, added.body);
    let role = |c: &TestCluster, id: u64| {
        let status = c.request(via, "GET", "/api/v1/cluster", None, &[]).json();
        status["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["role"].as_str().unwrap().to_owned())
    };
    // Cluster status is this node's view: it follows the leader within a heartbeat or two.
    cluster.wait_until(Duration::from_secs(5), "node 4 is a learner", |c| {
        role(c, 4).as_deref() == Some("learner")
    });
    cluster.wait_until(
        Duration::from_secs(10),
        "the learner serves the zone",
        |c| c.serial(4, "grow.test.") == Some(1),
    );
    let promoted = cluster.request(via, "POST", "/api/v1/cluster/nodes/4/promote", None, &[]);
    assert!(promoted.is_success(), "{}", promoted.body);
    cluster.wait_until(Duration::from_secs(5), "node 4 is a voter", |c| {
        role(c, 4).as_deref() == Some("voter")
    });
    let reply = cluster.request(
        4,
        "POST",
        "/api/v1/zones/grow.test./records",
        Some(add_txt("via4", "yes")),
        &[],
    );
    assert!(
        reply.is_success(),
        "a write through the new voter: {}",
        reply.body
    );
    cluster.wait_until(Duration::from_secs(5), "the write is everywhere", |c| {
        (1..=4).all(|id| c.txt(id, "via4.grow.test.") == ["\"yes\""])
    });

    let removed = cluster.request(via, "DELETE", "/api/v1/cluster/nodes/4", None, &[]);
    assert!(removed.is_success(), "{}", removed.body);
    cluster.wait_until(Duration::from_secs(5), "node 4 is gone", |c| {
        role(c, 4).is_none()
    });
    let again = cluster.request(
        via,
        "POST",
        "/api/v1/cluster/nodes",
        Some(Body::Json(node4)),
        &[],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.message().contains("never reused"),
        "{}",
        again.message()
    );
    let member =
        serde_json::json!({"id": via, "rpc_addr": "127.0.0.1:1", "api_addr": "127.0.0.1:1"});
    let duplicate = cluster.request(
        via,
        "POST",
        "/api/v1/cluster/nodes",
        Some(Body::Json(member)),
        &[],
    );
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
}

fn status_entries(cluster: &TestCluster, id: u64) -> u64 {
    cluster
        .request(id, "GET", "/api/v1/audit", None, &[])
        .json()
        .as_array()
        .unwrap()
        .len() as u64
}

/// Writes `w<i>` one after another through the nodes in turn until `stop`; each write retries
/// (same Idempotency-Key, next node) until acknowledged. Returns the acknowledged indexes.
fn stream_writes(
    clients: Vec<Client>,
    zone: &'static str,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<Vec<u32>> {
    thread::spawn(move || {
        let mut acked = Vec::new();
        let mut next = 0usize;
        for i in 0u32.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let key = format!("stream-{i}");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let client = &clients[next % clients.len()];
                let reply = client.request(
                    "POST",
                    &format!("/api/v1/zones/{zone}/records"),
                    Some(add_txt(&format!("w{i}"), &format!("value {i}"))),
                    &[("Idempotency-Key", &key)],
                );
                match reply {
                    Ok(r) if r.is_success() => {
                        acked.push(i);
                        break;
                    }
                    _ => {
                        next += 1;
                        assert!(
                            Instant::now() < deadline,
                            "write {i} not acknowledged within 20 s"
                        );
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        acked
    })
}

#[test]
fn killing_the_leader_loses_no_acknowledged_write() {
    let mut cluster = TestCluster::start(BINARY.as_ref(), 3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    create_zone(&cluster, leader, "kill.test.");
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (1..=3).map(|id| cluster.client(id)).collect();
    let writer = stream_writes(clients, "kill.test.", stop.clone());
    thread::sleep(Duration::from_millis(800));
    cluster.kill(leader);
    let killed_at = Instant::now();
    let survivors = others(leader);
    let new_leader = loop {
        let seen: Vec<Option<u64>> = survivors
            .iter()
            .map(|&id| cluster.leader_seen_by(id))
            .collect();
        if let Some(Some(l)) = seen.first() {
            if *l != leader && seen.iter().all(|s| *s == Some(*l)) {
                break *l;
            }
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(5),
            "no new leader within 5 s of kill -9 (seen {seen:?})"
        );
        thread::sleep(Duration::from_millis(10));
    };
    println!("new leader {new_leader} after {:?}", killed_at.elapsed());
    thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(
        acked.len() > 20,
        "too few writes to mean anything: {}",
        acked.len()
    );
    cluster.restart(leader);
    let check = |c: &TestCluster, id: u64| {
        acked
            .iter()
            .all(|i| c.txt(id, &format!("w{i}.kill.test.")) == [format!("\"value {i}\"")])
    };
    cluster.wait_until(
        Duration::from_secs(20),
        "every acknowledged write is on every node, the old leader included",
        |c| (1..=3).all(|id| check(c, id)),
    );
    let serials: Vec<Option<u32>> = (1..=3).map(|id| cluster.serial(id, "kill.test.")).collect();
    assert!(
        serials.iter().all(|s| *s == serials[0]),
        "serials differ: {serials:?}"
    );
}

#[test]
fn a_follower_down_for_1000_writes_catches_up_through_a_snapshot() {
    let mut cluster = TestCluster::start(
        BINARY.as_ref(),
        3,
        "snapshot_threshold = 100\nkeep_logs = 0\n",
    );
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    create_zone(&cluster, leader, "snap.test.");
    let follower = others(leader)[0];
    cluster.stop(follower);
    // 1,000 writes from 8 writers; each replaces one of 100 RRsets, so the zone stays small.
    let failures = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..8u32)
        .map(|w| {
            let client = cluster.client(leader);
            let failures = failures.clone();
            thread::spawn(move || {
                for i in (w..1000).step_by(8) {
                    let body = Body::Json(serde_json::json!({"changes": [{"action": "replace", "name": format!("k{}", i % 100), "type": "TXT", "ttl": 60, "data": format!("\"{i}\"")}]}));
                    let reply = client.request("POST", "/api/v1/zones/snap.test./records", Some(body), &[]);
                    if !reply.as_ref().is_ok_and(|r| r.is_success()) {
                        failures.lock().unwrap().push(format!("{i}: {reply:?}"));
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );
    cluster.restart(follower);
    let export = |c: &TestCluster, id: u64| {
        c.request(
            id,
            "GET",
            "/api/v1/zones/snap.test./export?stale=true",
            None,
            &[],
        )
        .body
    };
    cluster.wait_until(
        Duration::from_secs(30),
        "the follower serves what the leader serves",
        |c| {
            let theirs = export(c, leader);
            c.serial(follower, "snap.test.") == c.serial(leader, "snap.test.")
                && export(c, follower) == theirs
        },
    );
    let status = cluster
        .request(follower, "GET", "/api/v1/cluster", None, &[])
        .json();
    let me = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == follower)
        .unwrap()
        .clone();
    assert!(
        me["snapshots_installed"].as_u64().unwrap() >= 1,
        "the follower caught up without a snapshot: {me}"
    );
    for k in [0u32, 57, 99] {
        let name = format!("k{k}.snap.test.");
        assert_eq!(
            cluster.txt(follower, &name),
            cluster.txt(leader, &name),
            "{name}"
        );
        assert_eq!(cluster.txt(follower, &name).len(), 1, "{name}");
    }
}

#[test]
fn a_node_cut_off_in_a_minority_serves_dns_and_refuses_writes() {
    let cluster = TestCluster::start(BINARY.as_ref(), 3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(10));
    create_zone(&cluster, leader, "minority.test.");
    let reply = cluster.request(
        leader,
        "POST",
        "/api/v1/zones/minority.test./records",
        Some(add_txt("before", "cut")),
        &[],
    );
    assert!(reply.is_success());
    cluster.wait_until(Duration::from_secs(5), "the record is everywhere", |c| {
        (1..=3).all(|id| !c.txt(id, "before.minority.test.").is_empty())
    });
    // The leader loses both followers: it is a minority of one.
    for id in others(leader) {
        cluster.pause(id, true);
    }
    thread::sleep(Duration::from_millis(3000));
    let started = Instant::now();
    let refused = cluster.request(
        leader,
        "POST",
        "/api/v1/zones/minority.test./records",
        Some(add_txt("during", "cut")),
        &[("Idempotency-Key", "minority-1")],
    );
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"], "no_quorum", "{}", refused.body);
    assert!(
        refused.message().contains("majority"),
        "{}",
        refused.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "refusal took {:?}",
        started.elapsed()
    );
    assert_eq!(
        cluster.txt(leader, "before.minority.test."),
        ["\"cut\""],
        "DNS keeps answering from the last snapshot"
    );
    assert_eq!(cluster.readyz(leader)["raft"]["has_quorum"], false);
    for id in others(leader) {
        cluster.pause(id, false);
    }
    cluster.wait_for_leader(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = cluster.request(
            leader,
            "POST",
            "/api/v1/zones/minority.test./records",
            Some(add_txt("after", "healed")),
            &[("Idempotency-Key", "minority-2")],
        );
        if reply.is_success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes still refused after healing: {}",
            reply.body
        );
        thread::sleep(Duration::from_millis(100));
    }
    cluster.wait_until(
        Duration::from_secs(5),
        "the healed write is everywhere",
        |c| (1..=3).all(|id| c.txt(id, "after.minority.test.") == ["\"healed\""]),
    );
}
