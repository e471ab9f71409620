//! `nebulactl`, a thin client of the REST API: zones, records, cluster membership, health.
//!
//! Exit codes (also in `nebulactl --help`):
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done |
//! | 1 | refused: the API answered 4xx (bad input, not found, conflict), or a local zone file is invalid |
//! | 2 | usage error |
//! | 3 | the API cannot be reached |
//! | 4 | the cluster cannot take the request now (503: no quorum, or outcome unknown: retry with the same `--idempotency-key`) |
//! | 5 | not authenticated (401) or not allowed (403) |
//! | 6 | `zone diff`: differences found; `health`, `secondaries health`: unhealthy |
//! | 7 | the server failed (other 5xx) |
//! | 8 | `deploy --wait-for-propagation`: the deploy failed or was not verified in time |

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nebula_api::client::{Body, Client, Reply};
use nebula_store::diff::diff;
use nebula_store::export::to_master_file;
use nebula_wire::Name;
use serde_json::{json, Value};

use crate::check_zone::{format_for_path, load_validated};
use crate::ctl_transfer::{
    deploy, secondaries_command, tsig_command, KeysCommand, SecondariesCommand,
};

const AFTER_HELP: &str = "\
Exit codes:
  0  done
  1  refused: the API answered 4xx (bad input, not found, conflict), or a local zone file is invalid
  2  usage error
  3  the API cannot be reached
  4  the cluster cannot take the request now (503: no quorum, or outcome unknown:
     retry with the same --idempotency-key)
  5  not authenticated (401) or not allowed (403)
  6  zone diff: differences found; health, secondaries health: unhealthy
  7  the server failed (other 5xx)
  8  deploy --wait-for-propagation: the deploy failed, or was not verified within --timeout

The token comes from --token, NEBULA_TOKEN, --token-file, NEBULA_TOKEN_FILE, or
<data-dir>/admin.token (the admin token a node writes on first start).";

/// NebulaDNS command-line client.
#[derive(Debug, Parser)]
#[command(name = "nebulactl", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// The API of any node (writes are forwarded to the leader).
    #[arg(
        long,
        global = true,
        env = "NEBULA_API",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api: String,
    /// Bearer token.
    #[arg(long, global = true, env = "NEBULA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token.
    #[arg(long, global = true, env = "NEBULA_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// A node's data directory, to read its admin.token.
    #[arg(long, global = true, default_value = "./nebuladns-data")]
    pub data_dir: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Give up after this long: a request, or `deploy --wait-for-propagation` (30, 30s, 2m,
    /// 500ms).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Zones: list, show, apply, diff, history, rollback, export, delete.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Record changes in one zone.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Cluster membership and status.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Is the node up, ready and part of a cluster with a leader? Exit 0 or 6.
    Health,
    /// The hash-chained audit log.
    Audit {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Check the hash chain instead of listing.
        #[arg(long)]
        verify: bool,
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// TSIG keys (`keys tsig list|create|rotate|delete`).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Secondary servers of our zones: declare, remove, health.
    #[command(subcommand)]
    Secondaries(SecondariesCommand),
    /// Open a deploy of a zone's current version; with --wait-for-propagation, wait until every
    /// required secondary serves it (exit 0) or it fails (exit 8, the reason per secondary).
    Deploy {
        #[arg(long)]
        zone: String,
        /// Wait for the verdict (at most --timeout, which is also the deploy's SLA).
        #[arg(long)]
        wait_for_propagation: bool,
    },
}

/// Options every write takes.
#[derive(Debug, Clone, Args)]
pub struct WriteOptions {
    /// Validate and show what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Makes a retry safe: the same key returns the first attempt's result.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// Every zone with its version and serial.
    List,
    /// A zone's current version and records.
    Show { zone: String },
    /// Create or replace a zone from a file (master, .toml or .json), checked locally first.
    Apply {
        file: PathBuf,
        /// The zone name (default: from the file, e.g. example.com.zone → example.com.).
        #[arg(long)]
        zone: Option<String>,
        /// Fail if the zone exists.
        #[arg(long)]
        create: bool,
        /// Serial policy for a new zone: increment, unixtime or dateserial.
        #[arg(long)]
        serial_policy: Option<String>,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// What applying FILE would change (exit 6 when it differs).
    Diff {
        file: PathBuf,
        #[arg(long)]
        zone: Option<String>,
    },
    /// Versions of a zone.
    History {
        zone: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Make an old version current again (as a new version with a higher serial).
    Rollback {
        zone: String,
        #[arg(long = "to")]
        to: u64,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Print a zone (or one version) as a master file.
    Export {
        zone: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Delete a zone (its history stays).
    Delete {
        zone: String,
        #[command(flatten)]
        write: WriteOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Add records to an RRset: `record add example.com. www A 192.0.2.1 --ttl 300`.
    Add {
        zone: String,
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        /// RDATA, one argument per record.
        #[arg(required = true)]
        data: Vec<String>,
        #[arg(long)]
        ttl: Option<u32>,
        #[command(flatten)]
        write: WriteOptions,
    },
    /// Delete records, or the whole RRset when no data is given.
    Delete {
        zone: String,
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        data: Vec<String>,
        #[command(flatten)]
        write: WriteOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, roles, leader, term, indexes and lag.
    Status,
    /// Add a node as a learner (it replicates but does not vote).
    Add {
        id: u64,
        /// Its node-to-node RPC address, host:port.
        #[arg(long)]
        rpc_addr: String,
        /// Its API address, host:port.
        #[arg(long)]
        api_addr: String,
    },
    /// Make a learner a voter.
    Promote { id: u64 },
    /// Remove a node; its id is never reused.
    Remove { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token (printed once).
    Create {
        #[arg(long)]
        role: String,
        /// Limit to these zones (repeatable).
        #[arg(long = "zone")]
        zones: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Revoke {
        id: String,
    },
}

/// `30`, `30s`, `2m`, `500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 60s, 2m or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{text:?}: the unit must be ms, s or m")),
    }
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> ExitCode {
    let token = match token(cli) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("nebulactl: {message}");
            return ExitCode::from(5);
        }
    };
    // `host:port` is fine too.
    let api = if cli.api.contains("://") {
        cli.api.clone()
    } else {
        format!("http://{}", cli.api)
    };
    let client = Client::new(&api, token, cli.timeout.min(Duration::from_secs(30)));
    match execute(cli, &client) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("nebulactl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

pub(crate) fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn token(cli: &Cli) -> Result<Option<String>, String> {
    if let Some(token) = &cli.token {
        return Ok(Some(token.trim().to_owned()));
    }
    let (path, explicit) = match &cli.token_file {
        Some(path) => (path.clone(), true),
        None => (nebula_api::auth::admin_token_path(&cli.data_dir), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if explicit => Err(format!("cannot read token file {}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// Sends a request and maps the answer's status to an exit code.
pub(crate) fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<Body>,
    headers: &[(&str, &str)],
) -> Result<Reply, Failure> {
    let reply = client.request(method, path, body, headers).map_err(|e| {
        fail(
            3,
            format!("cannot reach the API: {e} (is a node running? set --api or NEBULA_API)"),
        )
    })?;
    if reply.is_success() {
        return Ok(reply);
    }
    let code = match reply.status {
        401 | 403 => 5,
        503 => 4,
        500..=599 => 7,
        _ => 1,
    };
    Err(fail(
        code,
        format!("{} (HTTP {})", reply.message(), reply.status),
    ))
}

pub(crate) fn write_headers(write: &WriteOptions) -> Vec<(&str, &str)> {
    write
        .idempotency_key
        .as_deref()
        .map(|key| vec![("Idempotency-Key", key)])
        .unwrap_or_default()
}

pub(crate) fn write_query(path: String, write: &WriteOptions) -> String {
    if write.dry_run {
        format!("{path}?dry_run=true")
    } else {
        path
    }
}

fn zone_path(zone: &str) -> String {
    format!("/api/v1/zones/{}", absolute(zone))
}

fn absolute(zone: &str) -> String {
    if zone.ends_with('.') {
        zone.to_owned()
    } else {
        format!("{zone}.")
    }
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub(crate) fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Prints rows as aligned columns.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.len());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Prints JSON objects as a table, one column per (header, key).
pub(crate) fn print_table<'a>(
    items: impl IntoIterator<Item = &'a Value>,
    columns: &[(&str, &str)],
) {
    let rows: Vec<Vec<String>> = items
        .into_iter()
        .map(|item| columns.iter().map(|(_, key)| text(item, key)).collect())
        .collect();
    let headers: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    table(&headers, &rows);
}

/// Prints a write's result.
pub(crate) fn print_write(cli: &Cli, reply: &Reply) {
    let value = reply.json();
    if cli.output == Output::Json {
        print_json(&value);
        return;
    }
    let outcome = text(&value, "outcome");
    match value.get("zone").and_then(Value::as_str) {
        Some(zone) => println!(
            "{outcome}: zone {zone} version {} serial {} ({})",
            text(&value, "version"),
            text(&value, "serial"),
            text(&value, "summary")
        ),
        None => println!("{outcome}: {}", text(&value, "summary")),
    }
}

/// Reads, checks and normalizes a local zone file; returns the zone name and the zone.
fn local_zone(file: &Path, zone: Option<&str>) -> Result<(String, nebula_store::Zone), Failure> {
    let name = match zone {
        Some(zone) => absolute(zone),
        None => {
            let stem = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let stem = [".zone", ".db", ".toml", ".json"]
                .iter()
                .find_map(|ext| stem.strip_suffix(ext))
                .unwrap_or(stem);
            if stem.is_empty() {
                return Err(fail(
                    2,
                    format!(
                        "cannot tell the zone name from {}; pass --zone",
                        file.display()
                    ),
                ));
            }
            absolute(stem)
        }
    };
    let origin: Name = name
        .parse()
        .map_err(|e| fail(2, format!("zone name {name:?}: {e}")))?;
    match load_validated(file, &origin, format_for_path(file)) {
        Ok((zone, warnings)) => {
            for warning in warnings {
                eprintln!("{warning}");
            }
            Ok((name, zone))
        }
        Err(problems) => Err(fail(
            1,
            format!(
                "{} is not a valid zone {name}:\n{}",
                file.display(),
                problems.join("\n")
            ),
        )),
    }
}

fn execute(cli: &Cli, client: &Client) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Zone(command) => zone(cli, client, command),
        Command::Record(command) => record(cli, client, command),
        Command::Cluster(command) => cluster(cli, client, command),
        Command::Health => health(cli, client),
        Command::Audit {
            from,
            limit,
            verify,
        } => {
            let path = if *verify {
                "/api/v1/audit/verify".to_owned()
            } else {
                format!("/api/v1/audit?from={from}&limit={limit}")
            };
            let value = call(client, "GET", &path, None, &[])?.json();
            if cli.output == Output::Json || *verify {
                print_json(&value);
                if *verify && value.get("ok") != Some(&Value::Bool(true)) {
                    return Ok(ExitCode::from(6));
                }
                return Ok(ExitCode::SUCCESS);
            }
            print_table(
                value.as_array().into_iter().flatten(),
                &[
                    ("SEQ", "seq"),
                    ("TIME_MS", "time_ms"),
                    ("AUTHOR", "author"),
                    ("ACTION", "action"),
                    ("ZONE", "zone"),
                    ("OUTCOME", "outcome"),
                    ("DETAIL", "detail"),
                ],
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => token_command(cli, client, command),
        Command::Keys(KeysCommand::Tsig(command)) => tsig_command(cli, client, command),
        Command::Secondaries(command) => secondaries_command(cli, client, command),
        Command::Deploy {
            zone,
            wait_for_propagation,
        } => deploy(cli, client, zone, *wait_for_propagation),
    }
}

fn zone(cli: &Cli, client: &Client, command: &ZoneCommand) -> Result<ExitCode, Failure> {
    match command {
        ZoneCommand::List => {
            let value = call(client, "GET", "/api/v1/zones", None, &[])?.json();
            if cli.output == Output::Json {
                print_json(&value);
            } else {
                print_table(
                    value.as_array().into_iter().flatten(),
                    &[
                        ("ZONE", "name"),
                        ("VERSION", "version"),
                        ("SERIAL", "serial"),
                        ("RECORDS", "records"),
                        ("POLICY", "policy"),
                    ],
                );
            }
        }
        ZoneCommand::Show { zone } => {
            let value = call(client, "GET", &zone_path(zone), None, &[])?.json();
            if cli.output == Output::Json {
                print_json(&value);
            } else {
                println!(
                    "zone {} version {} serial {} hash {} ({} records)",
                    text(&value, "name"),
                    text(&value, "version"),
                    text(&value, "serial"),
                    text(&value, "hash"),
                    text(&value, "records")
                );
                let records = value
                    .pointer("/document/records")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                print_table(
                    records.iter(),
                    &[
                        ("NAME", "name"),
                        ("TTL", "ttl"),
                        ("TYPE", "type"),
                        ("DATA", "data"),
                    ],
                );
            }
        }
        ZoneCommand::Apply {
            file,
            zone,
            create,
            serial_policy,
            write,
        } => {
            let (name, local) = local_zone(file, zone.as_deref())?;
            let master = to_master_file(&local);
            let headers = write_headers(write);
            let reply = if *create || serial_policy.is_some() {
                let mut body = json!({"name": name, "master": master});
                if let Some(policy) = serial_policy {
                    body["serial_policy"] = json!(policy);
                }
                let method = if *create { "POST" } else { "PUT" };
                let path = if *create {
                    "/api/v1/zones".to_owned()
                } else {
                    zone_path(&name)
                };
                call(
                    client,
                    method,
                    &write_query(path, write),
                    Some(Body::Json(body)),
                    &headers,
                )?
            } else {
                call(
                    client,
                    "PUT",
                    &write_query(zone_path(&name), write),
                    Some(Body::Text(master)),
                    &headers,
                )?
            };
            print_write(cli, &reply);
        }
        ZoneCommand::Diff { file, zone } => {
            let (name, local) = local_zone(file, zone.as_deref())?;
            let current = client
                .request("GET", &format!("{}/export", zone_path(&name)), None, &[])
                .map_err(|e| fail(3, format!("cannot reach the API: {e}")))?;
            let origin: Name = name
                .parse()
                .map_err(|e| fail(2, format!("zone name: {e}")))?;
            let served = match current.status {
                404 => nebula_store::Zone::new(origin.clone(), nebula_wire::Class::IN),
                _ => {
                    let reply = if current.is_success() {
                        current
                    } else {
                        call(
                            client,
                            "GET",
                            &format!("{}/export", zone_path(&name)),
                            None,
                            &[],
                        )?
                    };
                    nebula_store::master::parse_str(&reply.body, &origin, "served")
                        .map_err(|e| fail(7, format!("the served zone does not parse: {e}")))?
                        .zone
                }
            };
            // The serial is the cluster's to choose; compare content only.
            let served = nebula_store::state::with_serial(served, 0);
            let local = nebula_store::state::with_serial(local, 0);
            let changes = diff(&served, &local);
            let (removed, added) = changes.to_ixfr();
            if cli.output == Output::Json {
                print_json(&json!({
                    "zone": name,
                    "summary": changes.summary(),
                    "removed": removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "added": added.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }));
            } else {
                for record in &removed {
                    println!("- {record}");
                }
                for record in &added {
                    println!("+ {record}");
                }
                println!("{}", changes.summary());
            }
            if !changes.is_empty() {
                return Ok(ExitCode::from(6));
            }
        }
        ZoneCommand::History { zone, limit } => {
            let value = call(
                client,
                "GET",
                &format!("{}/history?limit={limit}", zone_path(zone)),
                None,
                &[],
            )?
            .json();
            if cli.output == Output::Json {
                print_json(&value);
            } else {
                let rows: Vec<Vec<String>> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        let mut row: Vec<String> =
                            ["version", "serial", "action", "author", "time_ms"]
                                .iter()
                                .map(|k| text(h, k))
                                .collect();
                        row.push(text(h, "hash").chars().take(12).collect());
                        row.push(text(h, "summary"));
                        row
                    })
                    .collect();
                table(
                    &[
                        "VERSION", "SERIAL", "ACTION", "AUTHOR", "TIME_MS", "HASH", "SUMMARY",
                    ],
                    &rows,
                );
            }
        }
        ZoneCommand::Rollback { zone, to, write } => {
            let reply = call(
                client,
                "POST",
                &write_query(format!("{}/rollback", zone_path(zone)), write),
                Some(Body::Json(json!({"to_version": to}))),
                &write_headers(write),
            )?;
            print_write(cli, &reply);
        }
        ZoneCommand::Export { zone, version } => {
            let path = match version {
                Some(v) => format!("{}/versions/{v}", zone_path(zone)),
                None => format!("{}/export", zone_path(zone)),
            };
            print!("{}", call(client, "GET", &path, None, &[])?.body);
        }
        ZoneCommand::Delete { zone, write } => {
            let reply = call(
                client,
                "DELETE",
                &write_query(zone_path(zone), write),
                None,
                &write_headers(write),
            )?;
            print_write(cli, &reply);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn record(cli: &Cli, client: &Client, command: &RecordCommand) -> Result<ExitCode, Failure> {
    let (zone, change, write) = match command {
        RecordCommand::Add {
            zone,
            name,
            rtype,
            data,
            ttl,
            write,
        } => {
            let mut change = json!({"action": "add", "name": name, "type": rtype, "data": data});
            if let Some(ttl) = ttl {
                change["ttl"] = json!(ttl);
            }
            (zone, change, write)
        }
        RecordCommand::Delete {
            zone,
            name,
            rtype,
            data,
            write,
        } => {
            let mut change = json!({"action": "delete", "name": name, "type": rtype});
            if !data.is_empty() {
                change["data"] = json!(data);
            }
            (zone, change, write)
        }
    };
    let reply = call(
        client,
        "POST",
        &write_query(format!("{}/records", zone_path(zone)), write),
        Some(Body::Json(json!({"changes": [change]}))),
        &write_headers(write),
    )?;
    print_write(cli, &reply);
    Ok(ExitCode::SUCCESS)
}

fn cluster(cli: &Cli, client: &Client, command: &ClusterCommand) -> Result<ExitCode, Failure> {
    let reply = match command {
        ClusterCommand::Status => {
            let value = call(client, "GET", "/api/v1/cluster", None, &[])?.json();
            if cli.output == Output::Json {
                print_json(&value);
            } else {
                println!(
                    "leader {} term {} quorum {} (asked node {})",
                    text(&value, "leader"),
                    text(&value, "term"),
                    text(&value, "has_quorum"),
                    text(&value, "node_id")
                );
                print_table(
                    value
                        .get("members")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                    &[
                        ("ID", "id"),
                        ("ROLE", "role"),
                        ("STATE", "state"),
                        ("REACHABLE", "reachable"),
                        ("TERM", "term"),
                        ("LAST_LOG", "last_log_index"),
                        ("COMMITTED", "committed_index"),
                        ("APPLIED", "applied_index"),
                        ("LAG", "lag"),
                        ("API", "api_addr"),
                        ("RPC", "rpc_addr"),
                    ],
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        ClusterCommand::Add {
            id,
            rpc_addr,
            api_addr,
        } => call(
            client,
            "POST",
            "/api/v1/cluster/nodes",
            Some(Body::Json(
                json!({"id": id, "rpc_addr": rpc_addr, "api_addr": api_addr}),
            )),
            &[],
        )?,
        ClusterCommand::Promote { id } => call(
            client,
            "POST",
            &format!("/api/v1/cluster/nodes/{id}/promote"),
            None,
            &[],
        )?,
        ClusterCommand::Remove { id } => call(
            client,
            "DELETE",
            &format!("/api/v1/cluster/nodes/{id}"),
            None,
            &[],
        )?,
    };
    if cli.output == Output::Json {
        print_json(&reply.json());
    } else {
        println!("{}", reply.message());
    }
    Ok(ExitCode::SUCCESS)
}

fn health(cli: &Cli, client: &Client) -> Result<ExitCode, Failure> {
    let ready = client
        .request("GET", "/readyz", None, &[])
        .map_err(|e| fail(3, format!("cannot reach the API: {e}")))?;
    let cluster = client.request("GET", "/api/v1/cluster", None, &[]).ok();
    let cluster_value = cluster.as_ref().filter(|r| r.is_success()).map(Reply::json);
    let quorum = cluster_value
        .as_ref()
        .and_then(|v| v.get("has_quorum"))
        .and_then(Value::as_bool);
    let healthy = ready.is_success() && quorum.unwrap_or(false);
    if cli.output == Output::Json {
        print_json(&json!({"healthy": healthy, "readyz": ready.json(), "cluster": cluster_value}));
    } else {
        println!("ready: {} ({})", ready.is_success(), ready.body.trim());
        match quorum {
            Some(q) => println!("cluster quorum: {q}"),
            None => println!(
                "cluster: unknown ({})",
                cluster.map_or_else(|| "no answer".to_owned(), |r| r.message())
            ),
        }
        println!("{}", if healthy { "healthy" } else { "UNHEALTHY" });
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(6)
    })
}

fn token_command(cli: &Cli, client: &Client, command: &TokenCommand) -> Result<ExitCode, Failure> {
    let reply = match command {
        TokenCommand::Create {
            role,
            zones,
            description,
        } => call(
            client,
            "POST",
            "/api/v1/tokens",
            Some(Body::Json(
                json!({"role": role, "zones": zones, "description": description}),
            )),
            &[],
        )?,
        TokenCommand::List => call(client, "GET", "/api/v1/tokens", None, &[])?,
        TokenCommand::Revoke { id } => {
            call(client, "DELETE", &format!("/api/v1/tokens/{id}"), None, &[])?
        }
    };
    let value = reply.json();
    match (cli.output, command) {
        (Output::Table, TokenCommand::Create { .. }) => {
            println!("{}", text(&value, "token"));
            eprintln!("token {} created; it is shown only now", text(&value, "id"));
        }
        (Output::Table, TokenCommand::List) => {
            print_table(
                value.as_array().into_iter().flatten(),
                &[
                    ("ID", "id"),
                    ("ROLE", "role"),
                    ("ZONES", "zones"),
                    ("DESCRIPTION", "description"),
                ],
            );
        }
        (Output::Table, TokenCommand::Revoke { .. }) => print_write(cli, &reply),
        (Output::Json, _) => print_json(&value),
    }
    Ok(ExitCode::SUCCESS)
}
