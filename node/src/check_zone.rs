//! `nebuladns check-zone ZONE FILE`: parse and validate a zone file the way the server would
//! load it, and report like `named-checkzone`.
//!
//! (First cut: master files, parse errors and the summary line. Validation rules and the TOML
//! and JSON formats are being added.)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use nebula_store::Zone;
use nebula_wire::Name;

use crate::config::ZoneFormat;

/// Arguments of `check-zone`.
#[derive(Debug, Clone, Args)]
pub struct CheckZoneArgs {
    /// The zone's origin, e.g. `example.com`.
    pub zone: String,
    /// The zone file.
    pub file: PathBuf,
    /// Only the exit status and errors; no summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs the command.
pub fn run(args: &CheckZoneArgs) -> ExitCode {
    let origin: Name = match args.zone.parse() {
        Ok(origin) => origin,
        Err(e) => {
            eprintln!("check-zone: {:?} is not a domain name: {e}", args.zone);
            return ExitCode::from(2);
        }
    };
    match load_validated(&args.file, &origin, ZoneFormat::Master) {
        Ok((zone, warnings)) => {
            for w in warnings {
                println!("{w}");
            }
            if !args.quiet {
                let serial = zone.soa().map_or(0, |soa| soa.serial);
                let hash = nebula_store::canonical::content_hash(&zone);
                println!(
                    "zone {origin}/IN: loaded serial {serial}, {} records, content {hash}",
                    zone.record_count()
                );
                println!("OK");
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in problems {
                println!("{p}");
            }
            ExitCode::from(1)
        }
    }
}

/// Parses and validates a zone file; Ok carries the zone and its warnings, Err every problem.
pub fn load_validated(
    path: &Path,
    origin: &Name,
    format: ZoneFormat,
) -> Result<(Zone, Vec<String>), Vec<String>> {
    let _ = format;
    match nebula_store::master::parse_file(path, origin) {
        Ok(parsed) => Ok((
            parsed.zone,
            parsed.warnings.iter().map(ToString::to_string).collect(),
        )),
        Err(errors) => Err(errors.diagnostics.iter().map(ToString::to_string).collect()),
    }
}
