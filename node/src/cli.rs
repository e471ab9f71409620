//! Command-line options of `nebuladns` when it runs as a server (no subcommand), and the
//! config-related actions: `--print-default-config`, `--check-config`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Config, LogFormat};

/// Options for running the server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Configuration file (TOML). Without one, a single node on loopback with the example zone.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the default configuration, with every key explained, and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Check the configuration and every configured zone, print the verdict, and exit (0 = good).
    #[arg(long)]
    pub check_config: bool,
    /// Data directory (overrides `server.data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format (overrides `log.format`).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Json,
    Text,
}

/// Runs `nebuladns` without a subcommand.
pub fn run_server(args: &ServerArgs) -> ExitCode {
    if args.print_default_config {
        print!("{}", Config::default_toml());
        return ExitCode::SUCCESS;
    }
    let mut config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("nebuladns: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(dir) = &args.data_dir {
        config.server.data_dir = dir.clone();
    }
    if let Some(format) = args.log_format {
        config.log.format = match format {
            LogFormatArg::Json => LogFormat::Json,
            LogFormatArg::Text => LogFormat::Text,
        };
    }
    if args.check_config {
        return check_config(&config);
    }
    // Logging (and trace export) is set up by `run`, inside the runtime the exporter needs.
    match crate::server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "nebuladns stopped");
            eprintln!("nebuladns: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--check-config`: the config parsed already; now every zone must load.
fn check_config(config: &Config) -> ExitCode {
    let mut ok = true;
    for entry in &config.zones {
        let origin = match entry.name.parse() {
            Ok(origin) => origin,
            Err(e) => {
                println!("zone {}: bad name: {e}", entry.name);
                ok = false;
                continue;
            }
        };
        match crate::zones::read_zone(&entry.file, &origin, Config::zone_format(entry)) {
            Ok((zone, warnings)) => {
                for w in warnings {
                    println!("{w}");
                }
                println!("zone {}: OK ({} records)", entry.name, zone.record_count());
            }
            Err(problems) => {
                ok = false;
                for p in problems {
                    println!("{p}");
                }
                println!("zone {}: NOT LOADABLE", entry.name);
            }
        }
    }
    if ok {
        println!("configuration OK ({} zones)", config.zones.len());
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
