//! `load --axfr N`: zone-transfer throughput and server memory, NebulaDNS against Knot, to the
//! same `kdig` client (see the module documentation of `main.rs`).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{
    find_program, find_programs, group_cpu_seconds, io_error, ipv4, keep_or_remove, LoadError,
    Programs, RunningServer, Server, Settings, ORIGIN, ZONE_FILE,
};

/// One server's transfer.
#[derive(Debug, Clone)]
struct Transfer {
    server: Server,
    records: u64,
    messages: u64,
    bytes: u64,
    seconds: f64,
    /// The server's CPU time during the transfer (all processes of its group).
    cpu_seconds: f64,
    rss_before_kb: u64,
    peak_kb: u64,
}

/// Runs the transfer benchmark; false when a transfer lacked records.
pub fn run(settings: &Settings, records: u64) -> Result<bool, LoadError> {
    let programs = find_programs(settings)?;
    let kdig = find_program("kdig").ok_or_else(|| LoadError::MissingTool {
        binary: "kdig".to_owned(),
        remedy: "install it with `apt-get install knot-dnsutils`".to_owned(),
    })?;
    let dir = std::env::temp_dir().join(format!("nebula-axfr-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
    fs::write(dir.join(ZONE_FILE), zone_text(records)).map_err(io_error("writing the zone"))?;
    eprintln!(
        "load: AXFR of a {records}-record zone; servers on CPU {}, kdig on CPU {}",
        settings.server_cpus, settings.client_cpus
    );
    let mut all = Vec::new();
    for round in 0..settings.rounds {
        for (server, binary) in &programs.in_round(round) {
            all.push(transfer(*server, binary, &programs, settings, &kdig, &dir)?);
        }
    }
    // Per server, the round with the median time.
    let results: Vec<Transfer> = programs
        .servers
        .iter()
        .filter_map(|(server, _)| {
            let mut rounds: Vec<Transfer> = all
                .iter()
                .filter(|t| t.server == *server)
                .cloned()
                .collect();
            rounds.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            let middle = rounds.len() / 2;
            rounds.into_iter().nth(middle)
        })
        .collect();
    print!("{}", table(records, &results));
    let complete = all.iter().all(|t| t.records == records + 1);
    if !complete {
        eprintln!("load: a transfer did not carry all {records} records and the closing SOA");
    }
    keep_or_remove(settings, &dir)?;
    Ok(complete)
}

/// Starts `server`, has kdig transfer the zone once, and stops it.
fn transfer(
    server: Server,
    binary: &std::path::Path,
    programs: &Programs,
    settings: &Settings,
    kdig: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Transfer, LoadError> {
    let running = RunningServer::start(server, binary, programs, settings, dir)?;
    let pid = running.pid();
    let rss_before_kb = status_kb(pid, "VmRSS:");
    // Loading the zone peaked higher than serving it; reset the high-water mark (Linux
    // 4.0+, `5` in clear_refs) so VmHWM afterwards is the peak during the transfer.
    fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .map_err(io_error("resetting the server's peak RSS (run as root)"))?;
    let output = dir.join(format!("axfr-{}.txt", server.label()));
    let file = File::create(&output).map_err(io_error("creating kdig's output file"))?;
    let cpu_before = group_cpu_seconds(pid);
    let started = Instant::now();
    let status = Command::new(&programs.taskset)
        .arg("-c")
        .arg(&settings.client_cpus)
        .arg(kdig)
        .arg(format!("@{}", running.address.ip()))
        .arg("-p")
        .arg(running.address.port().to_string())
        .args([ORIGIN, "AXFR"])
        .stdout(file)
        .stderr(Stdio::null())
        .status()
        .map_err(io_error("running kdig"))?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = group_cpu_seconds(pid) - cpu_before;
    let peak_kb = status_kb(pid, "VmHWM:");
    let text = fs::read_to_string(&output).map_err(io_error("reading kdig's output"))?;
    let (bytes, messages, got) = received(&text).ok_or_else(|| LoadError::Io {
        context: format!("kdig against {server} ({status})"),
        source: std::io::Error::other(format!(
            "no `;; Received` line; the transfer failed. Server log:\n{}",
            running.log()
        )),
    })?;
    eprintln!("load: {server}: {got} records in {seconds:.2} s, {cpu_seconds:.2} s of server CPU");
    Ok(Transfer {
        server,
        records: got,
        messages,
        bytes,
        seconds,
        cpu_seconds,
        rss_before_kb,
        peak_kb,
    })
}

/// A zone of exactly `records` records: SOA, NS, the NS's address, then hosts with an A record,
/// every fourth with a TXT instead.
fn zone_text(records: u64) -> String {
    let mut z =
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
            .to_owned();
    for i in 0..records.saturating_sub(3) {
        if i % 4 == 3 {
            let _ = writeln!(z, "h{i} TXT \"transfer benchmark record {i}\"");
        } else {
            let _ = writeln!(z, "h{i} A {}", ipv4(i));
        }
    }
    z
}

/// kdig's `;; Received 394 B (1 messages, 15 records)`: bytes, messages, records.
fn received(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().rev().find(|l| l.starts_with(";; Received "))?;
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [bytes, messages, records, ..] => Some((bytes, messages, records)),
        _ => None,
    }
}

/// A `kB` field of `/proc/PID/status` (0 when unreadable).
fn status_kb(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn table(records: u64, results: &[Transfer]) -> String {
    let mut out = format!(
        "AXFR of a {records}-record zone to one kdig (output to a file)\n\
         server     records  messages       MB  seconds     MB/s   records/s  server CPU s  RSS before MB  peak MB  growth MB\n"
    );
    let mb = |bytes: f64| bytes / 1_000_000.0;
    for t in results {
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>9} {:>8.1} {:>8.2} {:>8.1} {:>11.0} {:>13.2} {:>14.1} {:>8.1} {:>10.1}",
            t.server.label(),
            t.records,
            t.messages,
            mb(t.bytes as f64),
            t.seconds,
            mb(t.bytes as f64) / t.seconds,
            t.records as f64 / t.seconds,
            t.cpu_seconds,
            t.rss_before_kb as f64 / 1024.0,
            t.peak_kb as f64 / 1024.0,
            t.peak_kb.saturating_sub(t.rss_before_kb) as f64 / 1024.0,
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap (house rules).
mod tests {
    use super::*;

    #[test]
    fn zones_have_the_asked_size_and_kdig_stats_parse() {
        let text = zone_text(1000);
        assert_eq!(
            text.lines().count() - 1,
            1000,
            "one line per record after $TTL"
        );
        assert_eq!(
            received("x\n;; Received 394 B (1 messages, 15 records)\n;; Time\n"),
            Some((394, 1, 15))
        );
        assert_eq!(received("no stats"), None);
    }
}
