//! Master-file parsing speed and memory, ours against BIND's and Knot's, on one generated zone.
//!
//! ```text
//! zone_parse [--records N] [--nebuladns PATH] [--keep]
//! ```
//!
//! Generates a master file of about N records (default 1,000,000) with a realistic mix (A,
//! AAAA, CNAME, MX, TXT, SRV, NS delegations with glue; relative owners, inherited owners,
//! default and explicit TTLs) in a temporary directory, then loads it with each tool as its own
//! process under `/usr/bin/time -v`, the same way for every tool:
//!
//! - `nebula-store`: this binary re-run as `--parse-only`, which calls
//!   `nebula_store::master::parse_file` and nothing else;
//! - `nebuladns check-zone`, when the `nebuladns` binary is found (next to this one, or
//!   `--nebuladns PATH`);
//! - `named-checkzone` (BIND) and `kzonecheck` (Knot), when installed.
//!
//! It prints one table: tool, records, wall seconds, records per second, peak resident MiB
//! ("Maximum resident set size" of GNU time). Build it in release for real figures:
//! `cargo run --release -p nebula-bench --bin zone_parse`. Exit status 1 if a tool that ran
//! refused the file or our parser counted other records than were generated.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use nebula_wire::Name;

const ORIGIN: &str = "bench.example.";
const DEFAULT_RECORDS: u64 = 1_000_000;
const GNU_TIME: &str = "/usr/bin/time";

/// Command-line settings.
#[derive(Debug)]
struct Settings {
    records: u64,
    nebuladns: Option<PathBuf>,
    keep: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--parse-only") {
        return parse_only(&args[1..]);
    }
    let settings = match parse_args(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("zone_parse: {message}\nusage: zone_parse [--records N] [--nebuladns PATH] [--keep]");
            return ExitCode::from(2);
        }
    };
    match run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("zone_parse: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Settings, String> {
    let mut settings = Settings {
        records: DEFAULT_RECORDS,
        nebuladns: None,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--records" => {
                let value = args.next().ok_or("--records needs a number")?;
                settings.records = value
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("bad --records {value:?}"))?;
                if settings.records < 100 {
                    return Err("--records must be at least 100".to_owned());
                }
            }
            "--nebuladns" => {
                settings.nebuladns = Some(args.next().ok_or("--nebuladns needs a path")?.into())
            }
            "--keep" => settings.keep = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(settings)
}

/// The child mode: parse one file with the library, print the record count.
fn parse_only(args: &[String]) -> ExitCode {
    let [file, origin] = args else {
        eprintln!("usage: zone_parse --parse-only FILE ORIGIN");
        return ExitCode::from(2);
    };
    let origin = match Name::from_text(origin, None) {
        Ok(origin) => origin,
        Err(error) => {
            eprintln!("bad origin {origin}: {error}");
            return ExitCode::from(2);
        }
    };
    match nebula_store::master::parse_file(Path::new(file), &origin) {
        Ok(parsed) => {
            println!("{} records", parsed.zone.record_count());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

/// One row of the result table.
#[derive(Debug)]
struct Measurement {
    tool: String,
    seconds: f64,
    peak_kib: Option<u64>,
    stdout: String,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    Loaded,
    Refused(String),
    NotInstalled,
}

fn run(settings: &Settings) -> io::Result<bool> {
    let dir = std::env::temp_dir().join(format!("nebula-zone-parse-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let zone_file = dir.join("bench.example.zone");
    let started = Instant::now();
    let records = generate(&zone_file, settings.records)?;
    let size = fs::metadata(&zone_file)?.len();
    eprintln!(
        "generated {records} records ({:.1} MiB) in {:.1} s: {}",
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        zone_file.display()
    );
    if !Path::new(GNU_TIME).exists() {
        eprintln!(
            "{GNU_TIME} is missing (Debian package `time`): peak memory will not be measured"
        );
    }

    let file = zone_file.to_string_lossy().into_owned();
    let origin_without_dot = ORIGIN.trim_end_matches('.');
    let this = std::env::current_exe()?;
    let mut tools: Vec<(String, PathBuf, Vec<String>)> = vec![(
        "nebula-store (library)".to_owned(),
        this.clone(),
        vec!["--parse-only".into(), file.clone(), ORIGIN.into()],
    )];
    let nebuladns = settings
        .nebuladns
        .clone()
        .unwrap_or_else(|| this.with_file_name("nebuladns"));
    if nebuladns.exists() {
        tools.push((
            "nebuladns check-zone".to_owned(),
            nebuladns,
            vec!["check-zone".into(), ORIGIN.into(), file.clone()],
        ));
    } else {
        eprintln!(
            "{} not built: `cargo build --release -p nebula-node` to include it",
            nebuladns.display()
        );
    }
    // `-i local`: integrity checks on the zone's own data only. The default (`full`) also looks
    // up names below zone cuts through the system resolver, which measures resolver timeouts
    // (minutes on a machine without network), not parsing.
    tools.push((
        "named-checkzone".to_owned(),
        "named-checkzone".into(),
        vec![
            "-i".into(),
            "local".into(),
            origin_without_dot.into(),
            file.clone(),
        ],
    ));
    tools.push((
        "kzonecheck".to_owned(),
        "kzonecheck".into(),
        vec!["-o".into(), ORIGIN.into(), file.clone()],
    ));

    let mut all_good = true;
    let mut rows = Vec::new();
    for (tool, program, args) in tools {
        let measurement = measure(&tool, &program, &args, &dir)?;
        if let Outcome::Refused(reason) = &measurement.outcome {
            eprintln!("{tool} refused the file:\n{reason}");
            all_good = false;
        }
        if let Outcome::Loaded = measurement.outcome {
            // Our tools print their count; a parser that dropped records must not look fast.
            let expected = format!("{records} records");
            let ours = tool.starts_with("nebula");
            if ours && !measurement.stdout.contains(&expected) {
                eprintln!(
                    "{tool} did not report {expected}: {}",
                    measurement.stdout.trim()
                );
                all_good = false;
            }
        }
        rows.push(measurement);
    }
    print!("{}", table(records, &rows));
    if settings.keep {
        eprintln!("kept {}", dir.display());
    } else {
        fs::remove_dir_all(&dir)?;
    }
    Ok(all_good)
}

/// Runs one tool under GNU time (when present) and reads its wall time and peak RSS.
fn measure(tool: &str, program: &Path, args: &[String], dir: &Path) -> io::Result<Measurement> {
    let not_installed = || Measurement {
        tool: tool.to_owned(),
        seconds: 0.0,
        peak_kib: None,
        stdout: String::new(),
        outcome: Outcome::NotInstalled,
    };
    let Some(program) = find_program(program) else {
        return Ok(not_installed());
    };
    let stats = dir.join("time.txt");
    let use_time = Path::new(GNU_TIME).exists();
    let mut command = if use_time {
        let mut command = Command::new(GNU_TIME);
        command.arg("-v").arg("-o").arg(&stats).arg(&program);
        command
    } else {
        Command::new(&program)
    };
    command.args(args).stdin(Stdio::null());
    let started = Instant::now();
    let output = command.output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stats_text = if use_time {
        fs::read_to_string(&stats).unwrap_or_default()
    } else {
        String::new()
    };
    let peak_kib = stats_text
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
        })
        .and_then(|value| value.trim().parse().ok());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let outcome = if output.status.success() {
        Outcome::Loaded
    } else {
        let mut reason = String::from_utf8_lossy(&output.stderr).into_owned();
        reason.push_str(&stdout);
        reason.truncate(2000);
        Outcome::Refused(reason)
    };
    Ok(Measurement {
        tool: tool.to_owned(),
        seconds,
        peak_kib,
        stdout,
        outcome,
    })
}

/// The program's path: as given when it has a directory, else the first match on PATH (plus
/// the sbin directories, where Debian puts some DNS tools).
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn table(records: u64, rows: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>10} {:>9} {:>12} {:>9}",
        "tool", "records", "seconds", "records/s", "peak MiB"
    );
    for row in rows {
        let _ = match &row.outcome {
            Outcome::NotInstalled => {
                writeln!(out, "{:<24} {:>10} (not installed)", row.tool, records)
            }
            Outcome::Refused(_) => {
                writeln!(out, "{:<24} {:>10} (refused the file)", row.tool, records)
            }
            Outcome::Loaded => {
                let rate = if row.seconds > 0.0 {
                    records as f64 / row.seconds
                } else {
                    0.0
                };
                let peak = row.peak_kib.map_or("n/a".to_owned(), |kib| {
                    format!("{:.1}", kib as f64 / 1024.0)
                });
                writeln!(
                    out,
                    "{:<24} {:>10} {:>9.2} {:>12.0} {:>9}",
                    row.tool, records, row.seconds, rate, peak
                )
            }
        };
    }
    out
}

/// Writes the zone and returns the exact number of records in it.
///
/// A cycle of 21 records repeats with fresh names: 7 A (three hosts also get an AAAA on a line
/// that inherits the owner), 2 CNAME, 2 MX, 2 TXT, 1 SRV and a delegation (2 NS, 2 glue).
/// Every CNAME, MX, SRV and NS target exists, so BIND's and Knot's integrity checks pass.
fn generate(path: &Path, wanted: u64) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(
        out,
        "; {wanted} records generated by nebula-bench zone_parse"
    )?;
    writeln!(out, "$ORIGIN {ORIGIN}\n$TTL 3600")?;
    writeln!(
        out,
        "@\tIN\tSOA\tns1 hostmaster ( 2024010101 7200 3600 1209600 300 )"
    )?;
    writeln!(
        out,
        "\tIN\tNS\tns1\n\tIN\tNS\tns2\nns1\tIN\tA\t192.0.2.1\nns2\tIN\tA\t192.0.2.2"
    )?;
    let mut written: u64 = 5;
    let mut host: u64 = 0;
    let mut cycle: u64 = 0;
    while written < wanted {
        let left = wanted - written;
        if left < 21 {
            // The tail: plain A records, so the count comes out exact.
            for _ in 0..left {
                writeln!(out, "tail{host}\t300\tIN\tA\t{}", ipv4(host))?;
                host += 1;
            }
            written += left;
            break;
        }
        let first = host;
        for slot in 0..7 {
            writeln!(out, "host{host}\t300\tIN\tA\t{}", ipv4(host))?;
            if slot % 2 == 0 && slot < 6 {
                // Owner inherited from the line above (RFC 1035 §5.1 blank owner).
                writeln!(out, "\t\tIN\tAAAA\t{}", ipv6(0, host))?;
            }
            host += 1;
        }
        writeln!(out, "www{cycle}\tIN\tCNAME\thost{first}")?;
        writeln!(
            out,
            "ftp{cycle}\t600\tIN\tCNAME\thost{}.{ORIGIN}",
            first + 1
        )?;
        writeln!(out, "mail{cycle}\tIN\tMX\t10 host{}", first + 2)?;
        writeln!(out, "\tIN\tMX\t20 host{}", first + 3)?;
        writeln!(
            out,
            "host{first}\tIN\tTXT\t\"v=spf1 ip4:{} -all\"",
            ipv4(first)
        )?;
        writeln!(
            out,
            "txt{cycle}\t300\tIN\tTXT\t\"site-verification={cycle:016x}\" \"second string\""
        )?;
        writeln!(
            out,
            "_sip._tcp.host{first}\tIN\tSRV\t10 60 5060 host{first}"
        )?;
        writeln!(
            out,
            "sub{cycle}\t86400\tIN\tNS\tns1.sub{cycle}\n\t86400\tIN\tNS\tns2.sub{cycle}"
        )?;
        writeln!(out, "ns1.sub{cycle}\t86400\tIN\tA\t{}", ipv4(first + 4))?;
        writeln!(out, "ns2.sub{cycle}\t86400\tIN\tAAAA\t{}", ipv6(1, cycle))?;
        written += 21;
        cycle += 1;
    }
    out.flush()?;
    Ok(written)
}

fn ipv4(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF)
}

/// A distinct address in `2001:db8:<net>::/64` for every `n` below 2^32 (each group of an IPv6
/// address holds 16 bits).
fn ipv6(net: u16, n: u64) -> String {
    format!(
        "2001:db8:{net:x}::{:x}:{:x}",
        (n >> 16) & 0xFFFF,
        n & 0xFFFF
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    #[test]
    fn generated_zone_parses_with_the_exact_record_count() {
        let dir =
            std::env::temp_dir().join(format!("nebula-zone-parse-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bench.example.zone");
        let origin = Name::from_text(ORIGIN, None).unwrap();
        for wanted in [100, 1_000, 1_234] {
            assert_eq!(generate(&path, wanted).unwrap(), wanted);
            let parsed = nebula_store::master::parse_file(&path, &origin).unwrap();
            assert_eq!(parsed.zone.record_count() as u64, wanted);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn addresses_stay_valid_past_16_bits() {
        for n in [0, 0xFFFF, 0x1_0000, 0xFFFF_FFFF] {
            assert!(
                ipv6(1, n).parse::<std::net::Ipv6Addr>().is_ok(),
                "{}",
                ipv6(1, n)
            );
        }
        assert_ne!(ipv6(0, 0x1_0000), ipv6(0, 0));
    }
}
