//! `nebuladns check-zone ZONE FILE`: parse and validate a zone file the way the server loads it,
//! and report like `named-checkzone ZONE FILE`.
//!
//! Output goes to standard output, as BIND's does, so it can be piped to `grep`. Every problem
//! is one line that starts with where it is, then indented lines with the record as written and
//! a hint:
//!
//! ```text
//! db.example:7:12: error: www.example.com./A: bad RDATA: A: expected IPv4 address, found "1.2.3"
//!     record: www IN A 1.2.3
//!     hint: fix the RDATA for this type, or write it in the generic form `\# <length> <hex>` (RFC 3597 §5)
//! zone example.com/IN: not loaded due to errors (1 error, 0 warnings)
//! ```
//!
//! Problems without a place in the file (a missing SOA) start with `zone example.com/IN:` as
//! BIND's post-load checks do. A good zone prints its warnings, if any, and one summary line
//! with the serial, the record count and the content hash that identifies the zone version
//! (`nebula_store::canonical::content_hash` in the format a zone created now takes), and exits
//! 0; a bad one exits 1. `--quiet` prints
//! nothing, like `named-checkzone -q`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use nebula_store::error::{Diagnostic, Location, Problem, ZoneErrors};
use nebula_store::{format, master, validate, Zone};
use nebula_wire::Name;

use crate::config::ZoneFormat;

/// Arguments of `check-zone`.
#[derive(Debug, Clone, Args)]
pub struct CheckZoneArgs {
    /// The zone's origin, e.g. `example.com`.
    pub zone: String,
    /// The zone file.
    pub file: PathBuf,
    /// The file's format; by default from its extension (`.toml`, `.json`), master otherwise.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Print nothing; only the exit status tells.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// RFC 1035 master file.
    Master,
    /// The TOML zone format of `nebula_store::format`.
    Toml,
    /// The JSON zone format of the API.
    Json,
}

impl From<FormatArg> for ZoneFormat {
    fn from(format: FormatArg) -> ZoneFormat {
        match format {
            FormatArg::Master => ZoneFormat::Master,
            FormatArg::Toml => ZoneFormat::Toml,
            FormatArg::Json => ZoneFormat::Json,
        }
    }
}

/// The format a file's extension suggests: `.toml`, `.json`, master otherwise.
pub fn format_for_path(path: &Path) -> ZoneFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("toml") => ZoneFormat::Toml,
        Some(e) if e.eq_ignore_ascii_case("json") => ZoneFormat::Json,
        _ => ZoneFormat::Master,
    }
}

/// The outcome of checking one zone file.
#[derive(Debug, Clone)]
pub struct Report {
    pub origin: Name,
    /// Every problem found, in order: parse problems, then validation findings.
    pub diagnostics: Vec<Diagnostic>,
    /// The zone, when it has no errors.
    pub zone: Option<Zone>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.zone.is_some()
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// `zone example.com/IN`, as BIND names a zone in its messages.
    fn zone_label(&self) -> String {
        let class = self
            .zone
            .as_ref()
            .map_or_else(|| "IN".to_owned(), |z| z.class.to_string());
        format!("zone {}/{class}", origin_text(&self.origin))
    }

    /// The whole output: each problem with its record and hint, then the summary line.
    pub fn render(&self) -> String {
        let label = self.zone_label();
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            out.push_str(&render_diagnostic(&label, diagnostic));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The last line: what loaded, or that nothing did.
    pub fn summary(&self) -> String {
        let label = self.zone_label();
        match &self.zone {
            Some(zone) => {
                let serial = zone.soa().map_or(0, |soa| soa.serial);
                let hash = nebula_store::canonical::content_hash(
                    nebula_store::canonical::HashFormat::CURRENT,
                    zone,
                );
                format!(
                    "{label}: loaded serial {serial}, {} records, content hash {hash}",
                    zone.record_count()
                )
            }
            None => format!(
                "{label}: not loaded due to errors ({}, {})",
                plural(self.error_count(), "error"),
                plural(self.warning_count(), "warning")
            ),
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The zone name as BIND prints it: without the trailing dot (except the root).
fn origin_text(origin: &Name) -> String {
    let text = origin.to_string();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => text,
    }
}

/// One problem: its line, then the record as written and the hint, indented.
pub fn render_diagnostic(zone_label: &str, diagnostic: &Diagnostic) -> String {
    let mut out = match diagnostic.location {
        Some(_) => diagnostic.to_string(),
        None => format!("{zone_label}: {diagnostic}"),
    };
    out.push('\n');
    if let Some(record) = &diagnostic.record {
        out.push_str("    record: ");
        out.push_str(record);
        out.push('\n');
    }
    out.push_str("    hint: ");
    out.push_str(diagnostic.problem.hint());
    out.push('\n');
    out
}

/// Parses and validates the zone file at `path` for `origin`.
pub fn check(path: &Path, origin: &Name, format: ZoneFormat) -> Report {
    let parsed = match format {
        ZoneFormat::Master => master::parse_file(path, origin),
        ZoneFormat::Toml | ZoneFormat::Json => parse_document(path, origin, format),
    };
    match parsed {
        Err(errors) => Report {
            origin: origin.clone(),
            diagnostics: errors.diagnostics,
            zone: None,
        },
        Ok(parsed) => {
            let diagnostics = validate::check(&parsed);
            let zone = (!validate::has_errors(&diagnostics)).then_some(parsed.zone);
            Report {
                origin: origin.clone(),
                diagnostics,
                zone,
            }
        }
    }
}

/// Reads a TOML or JSON zone and checks it is for `origin`.
fn parse_document(
    path: &Path,
    origin: &Name,
    format: ZoneFormat,
) -> Result<master::Parsed, ZoneErrors> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ZoneErrors::one(
            Diagnostic::error(Problem::Read {
                path: display.clone(),
                reason: e.to_string(),
            })
            .at(Some(Location::File {
                file: display.as_str().into(),
            })),
        )
    })?;
    let parsed = match format {
        ZoneFormat::Json => format::parse_json(&text, &display)?,
        _ => format::parse_toml(&text, &display)?,
    };
    if parsed.zone.origin != *origin {
        let problem = Problem::WrongZone {
            expected: origin.clone(),
            found: parsed.zone.origin.clone(),
        };
        return Err(ZoneErrors::one(Diagnostic::error(problem).at(Some(
            Location::File {
                file: display.as_str().into(),
            },
        ))));
    }
    Ok(parsed)
}

/// Runs the command.
pub fn run(args: &CheckZoneArgs) -> ExitCode {
    let origin: Name = match args.zone.parse() {
        Ok(origin) => origin,
        Err(e) => {
            if !args.quiet {
                println!("check-zone: {:?} is not a domain name: {e}", args.zone);
            }
            return ExitCode::from(1);
        }
    };
    let format = args
        .format
        .map_or_else(|| format_for_path(&args.file), ZoneFormat::from);
    let report = check(&args.file, &origin, format);
    if !args.quiet {
        print!("{}", report.render());
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Parses and validates a zone file for the server: Ok carries the zone and its warnings, Err
/// every problem, each rendered on one line.
pub fn load_validated(
    path: &Path,
    origin: &Name,
    format: ZoneFormat,
) -> Result<(Zone, Vec<String>), Vec<String>> {
    let report = check(path, origin, format);
    let lines = report.diagnostics.iter().map(ToString::to_string).collect();
    match report.zone {
        Some(zone) => Ok((zone, lines)),
        None => Err(lines),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nebula-check-zone-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn good_zone_prints_one_summary_line() {
        let path = temp_file(
            "good.zone",
            "$TTL 300\n@ SOA ns1 hostmaster 42 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n",
        );
        let origin: Name = "example.com".parse().unwrap();
        let report = check(&path, &origin, ZoneFormat::Master);
        let output = report.render();
        assert!(report.is_ok());
        assert_eq!(output.lines().count(), 1, "{output}");
        assert!(
            output.starts_with("zone example.com/IN: loaded serial 42, 3 records, content hash "),
            "{output}"
        );
    }

    #[test]
    fn bad_zone_prints_every_problem() {
        let path = temp_file("bad.zone", "$TTL 300\n@ NS ns1\nns1 A 1.2.3\n");
        let origin: Name = "example.com".parse().unwrap();
        let report = check(&path, &origin, ZoneFormat::Master);
        let output = report.render();
        assert!(!report.is_ok());
        let file = path.display().to_string();
        assert!(
            output.starts_with(&format!("{file}:3:7: error: ns1.example.com./A: bad RDATA")),
            "{output}"
        );
        assert!(
            output.contains("    record: ns1 A 1.2.3\n    hint: "),
            "{output}"
        );
        assert!(
            output
                .ends_with("zone example.com/IN: not loaded due to errors (1 error, 0 warnings)\n"),
            "{output}"
        );
    }

    #[test]
    fn validation_errors_without_location_name_the_zone() {
        let path = temp_file("nosoa.zone", "$TTL 300\n@ NS ns1\nns1 A 192.0.2.1\n");
        let origin: Name = "example.com".parse().unwrap();
        let output = check(&path, &origin, ZoneFormat::Master).render();
        assert!(
            output.starts_with("zone example.com/IN: error: example.com.: the zone has no SOA record at its apex\n"),
            "{output}"
        );
    }

    #[test]
    fn document_for_another_zone_is_refused() {
        let path = temp_file("z.json", r#"{"name":"example.org.","records":[]}"#);
        let origin: Name = "example.com".parse().unwrap();
        let report = check(&path, &origin, format_for_path(&path));
        assert_eq!(report.diagnostics[0].problem.code(), "wrong_zone");
    }
}
