//! `nebuladns`: the NebulaDNS server. Without a subcommand it runs a node; `check-zone` checks a
//! zone file like `named-checkzone`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nebula_node::cli::{run_server, ServerArgs};

/// mimalloc, not glibc's malloc, for the process's Rust heap (ADR 0011).
#[global_allocator]
static HEAP: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// NebulaDNS authoritative DNS server.
///
/// With no subcommand, runs a node: by default a single node on loopback (DNS on
/// 127.0.0.1:5353 UDP and TCP, HTTP on 127.0.0.1:8080, metrics on 127.0.0.1:9090) serving an
/// example zone from ./nebuladns-data. Try `dig @127.0.0.1 -p 5353 www.example.com A`.
#[derive(Debug, Parser)]
#[command(name = "nebuladns", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a zone file like `named-checkzone ZONE FILE`: exit 0 and one summary line for a
    /// good zone, 1 and every problem with its line for a bad one.
    CheckZone(nebula_node::check_zone::CheckZoneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::CheckZone(args)) => nebula_node::check_zone::run(&args),
        None => run_server(&cli.server),
    }
}
