//! `nebulactl keys tsig ...` and `nebulactl secondaries ...`: TSIG keys and the secondaries of
//! our zones, through the API.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;
use nebula_api::client::{Body, Client};
use serde_json::{json, Value};

use crate::ctl::{
    call, fail, print_json, print_table, print_write, table, text, write_headers, write_query, Cli,
    Failure, Output, WriteOptions,
};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// TSIG keys (RFC 8945) for zone transfers and NOTIFY.
    #[command(subcommand)]
    Tsig(TsigCommand),
}

#[derive(Debug, Subcommand)]
pub enum TsigCommand {
    /// Every key's name, algorithm and times (never the secret).
    List,
    /// Create a key; its secret is printed once, with a BIND `key` statement for the peers.
    Create {
        /// The key's name, e.g. transfer.example.com. (the peers must use the same name).
        name: String,
        /// hmac-sha256, hmac-sha384 or hmac-sha512.
        #[arg(long, default_value = "hmac-sha256")]
        algorithm: String,
        /// Import this base64 secret instead of generating one.
        #[arg(long)]
        secret: Option<String>,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Give a key a new secret (printed once). Peers using the old one fail with BADSIG until
    /// they are given the new one.
    Rotate {
        name: String,
        #[arg(long)]
        secret: Option<String>,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Delete a key (refused while a secondary uses it).
    Delete {
        name: String,
        #[command(flatten)]
        write: WriteOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecondariesCommand {
    /// Declare (or redeclare) a secondary: it gets NOTIFY, may transfer its zones, and a
    /// required one gates deploys.
    Add {
        /// A name for logs, the API and metrics, e.g. bind-ams1.
        name: String,
        /// Its DNS address: 192.0.2.53 (port 53) or 192.0.2.53:5300.
        #[arg(long)]
        address: String,
        /// The zones it takes (repeatable; none: every zone).
        #[arg(long = "zone")]
        zones: Vec<String>,
        /// The TSIG key its transfers and our NOTIFYs are signed with.
        #[arg(long)]
        key: Option<String>,
        /// required or best-effort.
        #[arg(long, default_value = "required")]
        mode: String,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Every secondary: its software, the serial it serves per zone, its last errors. Exit 6
    /// when a required secondary is behind or failing.
    Health,
    /// Remove a secondary declared by API.
    Remove {
        name: String,
        #[command(flatten)]
        write: WriteOptions,
    },
}

fn key_path(name: &str) -> String {
    format!("/api/v1/tsig-keys/{name}")
}

pub(crate) fn tsig_command(
    cli: &Cli,
    client: &Client,
    command: &TsigCommand,
) -> Result<ExitCode, Failure> {
    let reply = match command {
        TsigCommand::List => call(client, "GET", "/api/v1/tsig-keys", None, &[])?,
        TsigCommand::Create {
            name,
            algorithm,
            secret,
            write,
        } => call(
            client,
            "POST",
            &write_query("/api/v1/tsig-keys".to_owned(), write),
            Some(Body::Json(
                json!({"name": name, "algorithm": algorithm, "secret": secret}),
            )),
            &write_headers(write),
        )?,
        TsigCommand::Rotate {
            name,
            secret,
            write,
        } => call(
            client,
            "POST",
            &write_query(format!("{}/rotate", key_path(name)), write),
            Some(Body::Json(json!({ "secret": secret }))),
            &write_headers(write),
        )?,
        TsigCommand::Delete { name, write } => call(
            client,
            "DELETE",
            &write_query(key_path(name), write),
            None,
            &write_headers(write),
        )?,
    };
    let value = reply.json();
    match (cli.output, command) {
        (Output::Json, _) => print_json(&value),
        (Output::Table, TsigCommand::List) => print_table(
            value.as_array().into_iter().flatten(),
            &[
                ("NAME", "name"),
                ("ALGORITHM", "algorithm"),
                ("CREATED_MS", "created_ms"),
                ("ROTATED_MS", "rotated_ms"),
            ],
        ),
        (Output::Table, TsigCommand::Create { .. } | TsigCommand::Rotate { .. }) => {
            print_secret(&value);
        }
        (Output::Table, TsigCommand::Delete { .. }) => print_write(cli, &reply),
    }
    Ok(ExitCode::SUCCESS)
}

/// The secret, once, as a BIND/Knot-ready statement.
fn print_secret(value: &Value) {
    let name = text(value, "name");
    let algorithm = text(value, "algorithm");
    let secret = text(value, "secret");
    println!("key \"{name}\" {{ algorithm {algorithm}; secret \"{secret}\"; }};");
    eprintln!(
        "TSIG key {name} ({algorithm}): {}; the secret is shown only now. Knot: `key: - id: {name} algorithm: {algorithm} secret: {secret}`",
        text(&value["result"], "summary")
    );
}

pub(crate) fn secondaries_command(
    cli: &Cli,
    client: &Client,
    command: &SecondariesCommand,
) -> Result<ExitCode, Failure> {
    let reply = match command {
        SecondariesCommand::Add {
            name,
            address,
            zones,
            key,
            mode,
            write,
        } => call(
            client,
            "POST",
            &write_query("/api/v1/secondaries".to_owned(), write),
            Some(Body::Json(json!({
                "name": name, "address": address, "zones": zones, "key": key, "mode": mode,
            }))),
            &write_headers(write),
        )?,
        SecondariesCommand::Health => return health(cli, client),
        SecondariesCommand::Remove { name, write } => call(
            client,
            "DELETE",
            &write_query(format!("/api/v1/secondaries/{name}"), write),
            None,
            &write_headers(write),
        )?,
    };
    print_write(cli, &reply);
    Ok(ExitCode::SUCCESS)
}

/// `secondaries health`.
fn health(cli: &Cli, client: &Client) -> Result<ExitCode, Failure> {
    let value = call(client, "GET", "/api/v1/secondaries", None, &[])?.json();
    let mut healthy = true;
    let mut rows = Vec::new();
    for item in value.as_array().into_iter().flatten() {
        let required = item["mode"] != "best-effort";
        let status = &item["status"];
        let fingerprint = &status["fingerprint"];
        let failure = &item["transfers"]["last_failure"];
        let last_failure = if failure.is_object() {
            format!(
                "{} {} ({})",
                text(failure, "kind"),
                text(failure, "result"),
                text(failure, "reason")
            )
        } else {
            "-".to_owned()
        };
        let zones = status["zones"].as_object().cloned().unwrap_or_default();
        if zones.is_empty() {
            rows.push(vec![
                text(item, "name"),
                text(item, "mode"),
                text(fingerprint, "software"),
                text(fingerprint, "version"),
                "-".to_owned(),
                "-".to_owned(),
                "not checked yet".to_owned(),
                last_failure.clone(),
            ]);
        }
        for (zone, observed) in zones {
            let error = text(&observed, "error");
            let behind = observed["behind_since_ms"].as_u64().unwrap_or(0) > 0;
            if required && (behind || error != "-") {
                healthy = false;
            }
            rows.push(vec![
                text(item, "name"),
                text(item, "mode"),
                text(fingerprint, "software"),
                text(fingerprint, "version"),
                zone,
                text(&observed, "serial"),
                if behind {
                    format!("behind; {error}")
                } else {
                    error
                },
                last_failure.clone(),
            ]);
        }
    }
    match cli.output {
        Output::Json => print_json(&value),
        Output::Table => table(
            &[
                "NAME",
                "MODE",
                "SOFTWARE",
                "VERSION",
                "ZONE",
                "SERIAL",
                "STATE",
                "LAST FAILED TRANSFER",
            ],
            &rows,
        ),
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(6)
    })
}

/// `deploy --zone Z [--wait-for-propagation]`.
pub(crate) fn deploy(
    cli: &Cli,
    client: &Client,
    zone: &str,
    wait: bool,
) -> Result<ExitCode, Failure> {
    let sla = cli.timeout.as_secs().max(1);
    let created = call(
        client,
        "POST",
        "/api/v1/deploy",
        Some(Body::Json(json!({"zone": zone, "sla_seconds": sla}))),
        &[],
    )?
    .json();
    let id = text(&created, "id");
    if !wait {
        match cli.output {
            Output::Json => print_json(&created),
            Output::Table => println!(
                "deploy {id}: {} (serial {})",
                text(&created, "state"),
                text(&created, "serial")
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The deploy's SLA is the timeout; the verdict comes from the leader's next check after it.
    let deadline = Instant::now() + cli.timeout + Duration::from_secs(5);
    let path = format!("/api/v1/deploys/{id}");
    let mut last = created;
    let mut shown = String::new();
    loop {
        let state = text(&last, "state");
        if cli.output == Output::Table && state != shown {
            eprintln!("deploy {id} (serial {}): {state}", text(&last, "serial"));
            shown = state.clone();
        }
        if state == "verified" || state == "failed" || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        last = call(client, "GET", &path, None, &[])?.json();
    }
    let state = text(&last, "state");
    if cli.output == Output::Json {
        print_json(&last);
    }
    if state == "verified" {
        if cli.output == Output::Table {
            println!(
                "deploy {id}: verified; every required secondary serves serial {}",
                text(&last, "serial")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let reasons: Vec<String> = last["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["ok"] != true)
        .map(|p| {
            let mode = if p["required"] == true {
                "required"
            } else {
                "best-effort"
            };
            format!("  {} ({mode}): {}", text(p, "name"), text(p, "reason"))
        })
        .collect();
    let verdict = if state == "failed" {
        "failed".to_owned()
    } else {
        format!(
            "not verified within {}s (still {state})",
            cli.timeout.as_secs()
        )
    };
    Err(fail(
        8,
        format!("deploy {id}: {verdict}\n{}", reasons.join("\n")),
    ))
}
