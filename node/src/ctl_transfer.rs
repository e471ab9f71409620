//! `nebulactl keys tsig ...` and `nebulactl secondaries ...`: TSIG keys and the secondaries of
//! our zones, through the API.

use std::process::ExitCode;

use clap::Subcommand;
use nebula_api::client::{Body, Client};
use serde_json::{json, Value};

use crate::ctl::{
    call, print_json, print_table, print_write, text, write_headers, write_query, Cli, Failure,
    Output, WriteOptions,
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
