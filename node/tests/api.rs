//! The REST API and `nebulactl` against a real one-node cluster: authentication and roles,
//! precise 400s that change nothing, dry runs, idempotency, history, diffs, rollback, the
//! audit chain, OpenAPI, and nebulactl's commands and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nebula_api::client::{Body, Client};
use serde_json::{json, Value};
use support::cluster::{add_txt, TestCluster, TEST_ZONE};
use support::nebula::nebulactl;

const BINARY: &str = env!("CARGO_BIN_EXE_nebuladns");
const CTL: &str = env!("CARGO_BIN_EXE_nebulactl");

fn history_len(cluster: &TestCluster, zone: &str) -> usize {
    let reply = cluster.request(
        1,
        "GET",
        &format!("/api/v1/zones/{zone}/history"),
        None,
        &[],
    );
    reply.json().as_array().map_or(0, Vec::len)
}

#[test]
fn authentication_roles_and_bad_input() {
    let cluster = TestCluster::start(BINARY.as_ref(), 1, "");
    let http = cluster.node(1).http;
    let anonymous = Client::new(&format!("http://{http}"), None, Duration::from_secs(5));
    let reply = anonymous
        .request(
            "PUT",
            "/api/v1/zones/a.test.",
            Some(Body::Text(TEST_ZONE.to_owned())),
            &[],
        )
        .unwrap();
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.message().contains("Authorization"),
        "{}",
        reply.message()
    );
    let forged = Client::new(
        &format!("http://{http}"),
        Some("nbl_00000000_nope".to_owned()),
        Duration::from_secs(5),
    );
    assert_eq!(forged.get("/api/v1/zones").unwrap().status, 401);

    let created = cluster.request(
        1,
        "PUT",
        "/api/v1/zones/a.test.",
        Some(Body::Text(TEST_ZONE.to_owned())),
        &[],
    );
    assert_eq!(created.status, 201, "{}", created.body);

    // A viewer reads but may not write; a zone-scoped editor writes only its zone.
    let viewer = cluster
        .request(
            1,
            "POST",
            "/api/v1/tokens",
            Some(Body::Json(json!({"role": "viewer"}))),
            &[],
        )
        .json();
    let viewer = Client::new(
        &format!("http://{http}"),
        viewer["token"].as_str().map(str::to_owned),
        Duration::from_secs(5),
    );
    assert_eq!(viewer.get("/api/v1/zones/a.test.").unwrap().status, 200);
    let reply = viewer
        .request(
            "POST",
            "/api/v1/zones/a.test./records",
            Some(add_txt("x", "y")),
            &[],
        )
        .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.body);
    let editor = cluster
        .request(
            1,
            "POST",
            "/api/v1/tokens",
            Some(Body::Json(json!({"role": "editor", "zones": ["b.test"]}))),
            &[],
        )
        .json();
    let editor = Client::new(
        &format!("http://{http}"),
        editor["token"].as_str().map(str::to_owned),
        Duration::from_secs(5),
    );
    assert_eq!(
        editor
            .request(
                "PUT",
                "/api/v1/zones/b.test.",
                Some(Body::Text(TEST_ZONE.to_owned())),
                &[]
            )
            .unwrap()
            .status,
        201
    );
    assert_eq!(
        editor
            .request(
                "POST",
                "/api/v1/zones/a.test./records",
                Some(add_txt("x", "y")),
                &[]
            )
            .unwrap()
            .status,
        403
    );
    let listed = editor.get("/api/v1/zones").unwrap().json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "a scoped token lists only its zones: {listed}"
    );

    // Bad bodies: 400 naming the problem, nothing stored.
    let before = history_len(&cluster, "a.test.");
    let cases: Vec<(Body, &str)> = vec![
        (
            Body::Json(json!({"changes": [{"action": "add", "name": "x", "type": "TXT"}]})),
            "needs `data`",
        ),
        (
            Body::Json(
                json!({"changes": [{"action": "sprinkle", "name": "x", "type": "A", "data": "1.2.3.4"}]}),
            ),
            "unknown variant `sprinkle`",
        ),
        (
            Body::Json(
                json!({"changes": [{"action": "add", "name": "x", "type": "A", "ttl": 60, "data": "1.2.3.999"}]}),
            ),
            "change 1",
        ),
        (
            Body::Json(
                json!({"changes": [{"action": "add", "name": "@", "type": "CNAME", "ttl": 60, "data": "elsewhere.test."}]}),
            ),
            "CNAME",
        ),
        (Body::Json(json!({"changes": []})), "empty"),
        (
            Body::Json(json!({"chnages": []})),
            "unknown field `chnages`",
        ),
    ];
    for (body, expected) in cases {
        let reply = cluster.request(1, "POST", "/api/v1/zones/a.test./records", Some(body), &[]);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(
            reply.message().contains(expected),
            "expected {expected:?} in {}",
            reply.message()
        );
    }
    let reply = cluster
        .client(1)
        .request(
            "POST",
            "/api/v1/zones/a.test./records",
            None,
            &[("Content-Type", "application/json")],
        )
        .unwrap();
    assert_eq!(reply.status, 400);
    let reply = cluster.request(
        1,
        "PUT",
        "/api/v1/zones/a.test.",
        Some(Body::Text(format!(
            "{TEST_ZONE}www CNAME a\nwww A 192.0.2.1\n"
        ))),
        &[],
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.message().contains("www"), "{}", reply.message());
    assert_eq!(
        history_len(&cluster, "a.test."),
        before,
        "bad input changed the zone"
    );

    // Oversized bodies are refused before parsing.
    let huge = format!("{TEST_ZONE}{}", "; padding\n".repeat(8 << 20));
    let reply =
        cluster
            .client(1)
            .request("PUT", "/api/v1/zones/a.test.", Some(Body::Text(huge)), &[]);
    assert!(
        reply.map_or(true, |r| r.status == 413),
        "an oversized body was not refused"
    );
}

#[test]
fn dry_run_idempotency_history_diff_rollback_audit() {
    let cluster = TestCluster::start(BINARY.as_ref(), 1, "");
    assert!(cluster
        .request(
            1,
            "PUT",
            "/api/v1/zones/h.test.",
            Some(Body::Text(TEST_ZONE.to_owned())),
            &[]
        )
        .is_success());

    let dry = cluster
        .request(
            1,
            "POST",
            "/api/v1/zones/h.test./records?dry_run=true",
            Some(add_txt("www", "one")),
            &[],
        )
        .json();
    assert_eq!(dry["outcome"], "dry_run");
    assert_eq!(dry["version"], 2);
    assert_eq!(
        history_len(&cluster, "h.test."),
        1,
        "a dry run wrote a version"
    );

    let key = [("Idempotency-Key", "change-1")];
    let first = cluster
        .request(
            1,
            "POST",
            "/api/v1/zones/h.test./records",
            Some(add_txt("www", "one")),
            &key,
        )
        .json();
    let again = cluster
        .request(
            1,
            "POST",
            "/api/v1/zones/h.test./records",
            Some(add_txt("www", "one")),
            &key,
        )
        .json();
    assert_eq!(first["outcome"], "applied");
    assert_eq!(again["outcome"], "replayed");
    assert_eq!(again["version"], first["version"]);
    let reused = cluster.request(
        1,
        "POST",
        "/api/v1/zones/h.test./records",
        Some(add_txt("www", "two")),
        &key,
    );
    assert_eq!(reused.status, 409, "{}", reused.body);

    let unchanged = cluster
        .request(
            1,
            "PUT",
            "/api/v1/zones/h.test.",
            Some(Body::Text(
                cluster
                    .request(1, "GET", "/api/v1/zones/h.test./export", None, &[])
                    .body,
            )),
            &[],
        )
        .json();
    assert_eq!(unchanged["outcome"], "unchanged", "{unchanged}");

    let history = cluster
        .request(1, "GET", "/api/v1/zones/h.test./history", None, &[])
        .json();
    let versions: Vec<(u64, u64)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["version"].as_u64().unwrap(),
                h["serial"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, [(1, 1), (2, 2)]);
    assert_eq!(history[1]["parent"], 1);
    assert!(history[1]["author"].as_str().unwrap().starts_with("token:"));

    let diff = cluster
        .request(
            1,
            "GET",
            "/api/v1/zones/h.test./diff?from=1&to=2",
            None,
            &[],
        )
        .json();
    assert_eq!(
        diff["added"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r.as_str().unwrap().contains("TXT"))
            .count(),
        1,
        "{diff}"
    );

    let rolled = cluster
        .request(
            1,
            "POST",
            "/api/v1/zones/h.test./rollback",
            Some(Body::Json(json!({"to_version": 1}))),
            &[],
        )
        .json();
    assert_eq!(
        (rolled["version"].as_u64(), rolled["serial"].as_u64()),
        (Some(3), Some(3)),
        "{rolled}"
    );
    let v1 = cluster
        .request(1, "GET", "/api/v1/zones/h.test./history", None, &[])
        .json()[0]["hash"]
        .clone();
    assert_eq!(rolled["hash"], v1, "rollback restores version 1's content");
    cluster.wait_until(Duration::from_secs(2), "the rollback is served", |c| {
        c.serial(1, "h.test.") == Some(3) && c.txt(1, "www.h.test.").is_empty()
    });

    let audit = cluster.request(1, "GET", "/api/v1/audit", None, &[]).json();
    let entries = audit.as_array().unwrap();
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    assert!(
        entries
            .iter()
            .any(|e| e["outcome"] == "rejected" && e["idempotency_key"] == "change-1"),
        "the refused reuse of a key is audited"
    );
    assert_eq!(
        cluster
            .request(1, "GET", "/api/v1/audit/verify", None, &[])
            .json()["ok"],
        true
    );

    let openapi = cluster
        .request(1, "GET", "/api/openapi.json", None, &[])
        .json();
    for path in [
        "/api/v1/zones",
        "/api/v1/zones/{zone}/records",
        "/api/v1/cluster",
        "/api/v1/zones/{zone}/rollback",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let docs = cluster.request(1, "GET", "/api/docs/", None, &[]);
    assert!(
        docs.is_success() && docs.body.contains("swagger"),
        "Swagger UI: {}",
        docs.status
    );
}

fn ctl(cluster: &TestCluster, args: &[&str]) -> (i32, String, String) {
    let node = cluster.node(1);
    nebulactl(CTL.as_ref(), node.http, &node.dir.join("data"), args)
}

#[test]
fn nebulactl_commands_and_exit_codes() {
    let cluster = TestCluster::start(BINARY.as_ref(), 1, "");
    let dir = cluster.node(1).dir.clone();
    let file = dir.join("ctl.test.zone");
    std::fs::write(&file, TEST_ZONE).unwrap();
    let file = file.to_str().unwrap();

    let (code, out, err) = ctl(&cluster, &["zone", "apply", file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("applied: zone ctl.test. version 1"), "{out}");
    let (code, out, _) = ctl(&cluster, &["zone", "list", "-o", "json"]);
    assert_eq!(code, 0);
    let zones: Value = serde_json::from_str(&out).unwrap();
    assert!(zones
        .as_array()
        .unwrap()
        .iter()
        .any(|z| z["name"] == "ctl.test."));

    assert_eq!(
        ctl(&cluster, &["zone", "diff", file]).0,
        0,
        "no differences"
    );
    std::fs::write(Path::new(file), format!("{TEST_ZONE}www A 192.0.2.80\n")).unwrap();
    let (code, out, _) = ctl(&cluster, &["zone", "diff", file]);
    assert_eq!(code, 6, "differences found: {out}");
    assert!(out.contains("+ www.ctl.test."), "{out}");
    assert_eq!(ctl(&cluster, &["zone", "apply", file, "--dry-run"]).0, 0);
    assert_eq!(
        ctl(&cluster, &["zone", "diff", file]).0,
        6,
        "a dry run changed nothing"
    );
    assert_eq!(ctl(&cluster, &["zone", "apply", file]).0, 0);

    let (code, out, err) = ctl(
        &cluster,
        &[
            "record",
            "add",
            "ctl.test",
            "mail",
            "MX",
            "10 mx.ctl.test.",
            "--ttl",
            "600",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = ctl(&cluster, &["zone", "history", "ctl.test."]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4, "header and three versions: {out}");
    assert_eq!(
        ctl(&cluster, &["zone", "rollback", "ctl.test.", "--to", "1"]).0,
        0
    );
    let (code, out, _) = ctl(&cluster, &["zone", "export", "ctl.test."]);
    assert_eq!(code, 0);
    assert!(!out.contains("mail") && out.contains("SOA"), "{out}");
    let (code, out, _) = ctl(&cluster, &["cluster", "status"]);
    assert_eq!(code, 0);
    assert!(out.contains("leader 1"), "{out}");
    let (code, out, err) = ctl(&cluster, &["health"]);
    assert_eq!(code, 0, "{out}{err}");

    // Exit codes: refused (1), unreachable (3), unauthenticated (5).
    let (code, _, err) = ctl(&cluster, &["zone", "show", "missing.test."]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = ctl(&cluster, &["record", "delete", "ctl.test.", "nothing", "A"]);
    assert_eq!(code, 1, "{err}");
    let out = Command::new(CTL)
        .args([
            "--api",
            "http://127.0.0.1:1",
            "--token",
            "x",
            "zone",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = Command::new(CTL)
        .args([
            "--api",
            &format!("http://{}", cluster.node(1).http),
            "--data-dir",
            "/nonexistent",
            "zone",
            "list",
        ])
        .env_remove("NEBULA_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn tsig_keys_and_secondaries_by_api_and_nebulactl() {
    let cluster = TestCluster::start(BINARY.as_ref(), 1, "");
    // Create: the secret is shown once, as a statement peers can paste.
    let (code, out, err) = ctl(
        &cluster,
        &[
            "keys",
            "tsig",
            "create",
            "Xfr.Example.",
            "--algorithm",
            "hmac-sha512",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("key \"xfr.example.\" { algorithm hmac-sha512; secret \""),
        "{out}"
    );
    let (code, out, _) = ctl(&cluster, &["keys", "tsig", "list", "-o", "json"]);
    assert_eq!(code, 0);
    let keys: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys[0]["name"], "xfr.example.");
    assert_eq!(keys[0]["algorithm"], "hmac-sha512");
    assert!(keys[0].get("secret").is_none(), "never listed: {out}");
    // Twice: a conflict naming the fix; unknown algorithm, short or non-base64 secret: 400.
    let (code, _, err) = ctl(&cluster, &["keys", "tsig", "create", "xfr.example."]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rotate it"), "{err}");
    for (body, wanted) in [
        (json!({"name": "k.", "algorithm": "hmac-md5"}), "not one of"),
        (json!({"name": "k.", "secret": "c2hvcnQ="}), "at least 16"),
        (json!({"name": "k.", "secret": "!!"}), "not base64"),
        (json!({"name": "k..", "secret": "c2hvcnQ="}), "k.."),
        (json!({"name": "k.", "sekret": "x"}), "unknown field"),
    ] {
        let reply = cluster.request(
            1,
            "POST",
            "/api/v1/tsig-keys",
            Some(Body::Json(body.clone())),
            &[],
        );
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(
            reply.message().contains(wanted),
            "{body}: {}",
            reply.message()
        );
    }
    // Rotate: a new secret, shown once.
    let before = cluster
        .request(1, "GET", "/api/v1/tsig-keys", None, &[])
        .json();
    let (code, rotated, err) = ctl(&cluster, &["keys", "tsig", "rotate", "xfr.example."]);
    assert_eq!(code, 0, "{err}");
    assert!(rotated.contains("secret"), "{rotated}");
    let after = cluster
        .request(1, "GET", "/api/v1/tsig-keys", None, &[])
        .json();
    assert_eq!(before[0]["created_ms"], after[0]["created_ms"]);
    assert!(after[0]["rotated_ms"].as_u64().is_some(), "{after}");

    // A secondary needs an existing key; its key cannot be deleted while it is declared.
    let (code, _, err) = ctl(
        &cluster,
        &[
            "secondaries",
            "add",
            "ns9",
            "--address",
            "192.0.2.9",
            "--key",
            "nope.",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no TSIG key nope."), "{err}");
    let (code, out, err) = ctl(
        &cluster,
        &[
            "secondaries",
            "add",
            "ns9",
            "--address",
            "192.0.2.9",
            "--key",
            "xfr.example.",
            "--zone",
            "example.com",
            "--mode",
            "best-effort",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("secondary ns9 at 192.0.2.9:53"), "{out}");
    let (code, _, err) = ctl(&cluster, &["keys", "tsig", "delete", "xfr.example."]);
    assert_eq!(code, 1);
    assert!(err.contains("used by secondaries ns9"), "{err}");
    let bad = cluster.request(
        1,
        "POST",
        "/api/v1/secondaries",
        Some(Body::Json(json!({"name": "ns 9", "address": "192.0.2.9"}))),
        &[],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(ctl(&cluster, &["secondaries", "remove", "ns9"]).0, 0);
    assert_eq!(
        ctl(&cluster, &["secondaries", "remove", "ns9"]).0,
        1,
        "gone"
    );
    let (code, out, err) = ctl(&cluster, &["keys", "tsig", "delete", "xfr.example."]);
    assert_eq!(code, 0, "{out}{err}");
    // Every change is audited, never with a secret.
    let audit = cluster.request(1, "GET", "/api/v1/audit", None, &[]);
    assert!(audit.body.contains("create_tsig_key") && audit.body.contains("rotate_tsig_key"));
    let secret = rotated.split('"').nth(3).unwrap();
    assert!(!audit.body.contains(secret), "{}", audit.body);
}
