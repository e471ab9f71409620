//! The zone corpus: `corpus/good/*.zone` must load and `corpus/bad/*.zone` must not, each with
//! exactly the problems its header names:
//!
//! ```text
//! ; what the file tests
//! ; expect: ok | code [code...]     error codes (`Problem::code`), any order
//! ; warnings: code [code...]        warning codes, for good files (none when absent)
//! ```
//!
//! Every file is for the zone `example.com.`; `$INCLUDE`s are relative to the file's directory.
//! `node/tests/check_zone_vs_bind.rs` runs the same files through `named-checkzone`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nebula_store::error::Diagnostic;
use nebula_store::{master, validate};
use nebula_wire::Name;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "zone"))
        .collect();
    files.sort();
    files
}

/// The codes after `; key:` in the file's header.
fn header(path: &Path, key: &str) -> BTreeSet<String> {
    let text = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&text);
    let prefix = format!("; {key}:");
    text.lines()
        .take_while(|line| line.starts_with(';'))
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|codes| codes.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Parses and validates; returns (error codes, warning codes, everything printed).
fn check(path: &Path) -> (BTreeSet<String>, BTreeSet<String>, String) {
    let origin: Name = "example.com.".parse().unwrap();
    let diagnostics: Vec<Diagnostic> = match master::parse_file(path, &origin) {
        Ok(parsed) => validate::check(&parsed),
        Err(errors) => errors.diagnostics,
    };
    let codes = |error: bool| {
        diagnostics
            .iter()
            .filter(|d| d.is_error() == error)
            .map(|d| d.problem.code().to_owned())
            .collect()
    };
    let printed = diagnostics.iter().map(|d| format!("  {d}\n")).collect();
    (codes(true), codes(false), printed)
}

#[test]
fn good_zones_load_with_the_declared_warnings() {
    let files = corpus("good");
    assert!(files.len() >= 25, "only {} good zones", files.len());
    let mut failures = Vec::new();
    for path in &files {
        assert_eq!(
            header(path, "expect"),
            BTreeSet::from(["ok".to_owned()]),
            "{}",
            path.display()
        );
        let (errors, warnings, printed) = check(path);
        if !errors.is_empty() || warnings != header(path, "warnings") {
            failures.push(format!("{}:\n{printed}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join(""));
}

#[test]
fn bad_zones_fail_with_the_declared_errors() {
    let files = corpus("bad");
    assert!(files.len() >= 40, "only {} bad zones", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let expected = header(path, "expect");
        assert!(
            !expected.is_empty() && !expected.contains("ok"),
            "{}: no expectation",
            path.display()
        );
        let (errors, _, printed) = check(path);
        if errors != expected {
            failures.push(format!(
                "{}: expected {expected:?}, got {errors:?}\n{printed}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join(""));
}

/// Every rule of `validate` and every refusal of the parser is exercised by some bad file.
#[test]
fn bad_corpus_covers_every_error_code() {
    let covered: BTreeSet<String> = corpus("bad")
        .iter()
        .flat_map(|path| header(path, "expect"))
        .collect();
    for code in [
        "no_soa",
        "multiple_soa",
        "soa_not_at_apex",
        "no_apex_ns",
        "cname_and_other_data",
        "multiple_singleton",
        "below_dname",
        "out_of_zone",
        "ttl_too_large",
        "target_is_cname",
        "target_has_no_address",
        "missing_glue",
        "unknown_type",
        "bad_rdata",
        "bad_name",
        "bad_ttl",
        "no_ttl",
        "no_owner",
        "class_mismatch",
        "repeated",
        "missing_type",
        "unterminated_quote",
        "unclosed_parenthesis",
        "unexpected_close_parenthesis",
        "unknown_directive",
        "directive_arguments",
        "include_refused",
        "read",
    ] {
        assert!(covered.contains(code), "no bad corpus file expects {code}");
    }
}
