//! Golden files for master-file parsing: each `golden/NAME.zone` is parsed for `example.com.`
//! and validated, and the result must equal `golden/NAME.expected` byte for byte: the zone's
//! records in canonical order (one per line, as `dig` prints them) and then every diagnostic
//! with its record text and hint, or only the diagnostics when the zone has errors.
//!
//! After a deliberate change, regenerate with `UPDATE_GOLDEN=1 cargo test -p nebula-store
//! --test golden` and review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nebula_store::error::Diagnostic;
use nebula_store::{master, validate};
use nebula_wire::Name;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn describe(diagnostic: &Diagnostic, out: &mut String) {
    // Locations are printed relative to the golden directory so the files do not depend on
    // where the repository is checked out.
    let line = diagnostic
        .to_string()
        .replace(&format!("{}/", golden_dir().display()), "");
    writeln!(out, "; {line}").unwrap();
    if let Some(record) = &diagnostic.record {
        writeln!(out, ";     record: {record}").unwrap();
    }
    writeln!(out, ";     hint: {}", diagnostic.problem.hint()).unwrap();
}

fn render(path: &Path) -> String {
    let origin: Name = "example.com.".parse().unwrap();
    let mut out = String::new();
    match master::parse_file(path, &origin) {
        Ok(parsed) => {
            for record in parsed.zone.records() {
                writeln!(out, "{record}").unwrap();
            }
            for diagnostic in validate::check(&parsed) {
                describe(&diagnostic, &mut out);
            }
        }
        Err(errors) => {
            writeln!(out, "; not loaded: {} errors", errors.error_count()).unwrap();
            for diagnostic in &errors.diagnostics {
                describe(diagnostic, &mut out);
            }
        }
    }
    out
}

#[test]
fn golden_files_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "zone"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "golden inputs missing: {inputs:?}");
    let mut mismatches = Vec::new();
    for input in &inputs {
        let actual = render(input);
        let expected_path = input.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1)",
                expected_path.display()
            )
        });
        if actual != expected {
            mismatches.push(format!(
                "--- {}\n{expected}+++ actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatches:\n{}",
        mismatches.join("\n")
    );
}
