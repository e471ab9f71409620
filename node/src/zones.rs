//! Loading the configured zones into a [`Catalog`] and reloading them: every zone is parsed and
//! validated before anything is swapped; a zone that fails keeps its running version (or, at
//! start-up, is not served) and the failure is reported with file, line and fix.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use nebula_store::snapshot::{Catalog, ZoneSnapshot};
use nebula_store::Zone;
use nebula_wire::Name;
use serde::Serialize;

use crate::config::{Config, ZoneEntry, ZoneFormat};
use crate::metrics::Metrics;

/// The zone served when the configuration declares none, so a fresh node answers at once.
pub const EXAMPLE_ZONE: &str = include_str!("example.com.zone");

/// One zone's outcome in a load or reload.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ZoneReport {
    pub zone: String,
    pub file: PathBuf,
    pub loaded: bool,
    pub serial: Option<u32>,
    pub records: Option<usize>,
    /// Errors (and warnings), each naming file:line and the fix.
    pub problems: Vec<String>,
}

/// The outcome of a load or reload.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// True when every zone validated and the new catalog is being served.
    pub applied: bool,
    pub zones: Vec<ZoneReport>,
}

/// Owns the zone list and swaps the catalog the data plane reads.
#[derive(Debug)]
pub struct Reloader {
    zones: Vec<ZoneEntry>,
    catalog: Arc<ArcSwap<Catalog>>,
    metrics: Arc<Metrics>,
    /// Reloads run one at a time (SIGHUP and the API may race).
    lock: Mutex<()>,
}

impl Reloader {
    pub fn new(
        zones: Vec<ZoneEntry>,
        catalog: Arc<ArcSwap<Catalog>>,
        metrics: Arc<Metrics>,
    ) -> Reloader {
        Reloader {
            zones,
            catalog,
            metrics,
            lock: Mutex::new(()),
        }
    }

    pub fn served_zone_count(&self) -> usize {
        self.catalog.load().len()
    }

    /// Loads every zone; good ones replace their running versions, bad ones keep theirs.
    /// Traced as a `reload` span (exported when OpenTelemetry export is configured).
    #[tracing::instrument(
        name = "reload",
        skip_all,
        fields(zones = self.zones.len(), applied = tracing::field::Empty)
    )]
    pub fn reload(&self) -> ReloadReport {
        let _guard = self.lock.lock();
        let mut snapshots = Vec::new();
        let mut reports = Vec::with_capacity(self.zones.len());
        for entry in &self.zones {
            let (report, snapshot) = load_entry(entry);
            snapshots.extend(snapshot.map(Arc::new));
            reports.push(report);
        }
        // Raft applies swap the same catalog; rcu retries instead of losing either change.
        self.catalog.rcu(|current| {
            let mut next = Catalog::clone(current);
            for snapshot in &snapshots {
                next = next.with_zone(Arc::clone(snapshot));
            }
            next
        });
        let catalog = self.catalog.load();
        let applied = reports.iter().all(|r| r.loaded);
        tracing::Span::current().record("applied", applied);
        if !applied {
            self.metrics.count_reload_failure();
            for r in reports.iter().filter(|r| !r.loaded) {
                tracing::error!(zone = %r.zone, file = %r.file.display(), problems = ?r.problems, "zone not loaded; the running version (if any) stays");
            }
        }
        self.metrics.set_zones_served(catalog.len());
        ReloadReport {
            applied,
            zones: reports,
        }
    }
}

/// Parses, validates and compiles one configured zone, traced as a `zone_load` span.
#[tracing::instrument(
    name = "zone_load",
    skip_all,
    fields(
        zone = %entry.name,
        loaded = tracing::field::Empty,
        serial = tracing::field::Empty,
        records = tracing::field::Empty
    )
)]
fn load_entry(entry: &ZoneEntry) -> (ZoneReport, Option<ZoneSnapshot>) {
    let mut report = ZoneReport {
        zone: entry.name.clone(),
        file: entry.file.clone(),
        loaded: false,
        serial: None,
        records: None,
        problems: Vec::new(),
    };
    let origin: Name = match entry.name.parse() {
        Ok(name) => name,
        Err(e) => {
            report
                .problems
                .push(format!("zone name {:?}: {e}", entry.name));
            return (report, None);
        }
    };
    match read_zone(&entry.file, &origin, Config::zone_format(entry)) {
        Ok((zone, warnings)) => {
            report.problems = warnings;
            let snapshot = ZoneSnapshot::compile(&zone);
            report.loaded = true;
            report.serial = Some(snapshot.serial());
            report.records = Some(zone.record_count());
            let span = tracing::Span::current();
            span.record("loaded", true);
            span.record("serial", snapshot.serial());
            span.record("records", zone.record_count());
            (report, Some(snapshot))
        }
        Err(problems) => {
            tracing::Span::current().record("loaded", false);
            report.problems = problems;
            (report, None)
        }
    }
}

/// Reads and validates a zone file; on success returns the zone and its warnings.
pub fn read_zone(
    path: &Path,
    origin: &Name,
    format: ZoneFormat,
) -> Result<(Zone, Vec<String>), Vec<String>> {
    crate::check_zone::load_validated(path, origin, format)
}
