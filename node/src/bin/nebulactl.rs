//! `nebulactl`: the NebulaDNS command-line client, a thin client of the REST API.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use nebula_node::ctl::{run, Cli};

fn main() -> ExitCode {
    run(&Cli::parse())
}
