//! `nebuladns check-zone` against `named-checkzone` (BIND 9) on the zone corpus in
//! `store/tests/corpus/{good,bad}`: both must accept or both must refuse every file, except the
//! deliberate differences listed in [`DELIBERATE_DIFFERENCES`], each with its reason (and each
//! of those must still differ, so the list stays true).
//!
//! Needs `named-checkzone` (`apt-get install bind9-utils`; CI installs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Files where NebulaDNS refuses what BIND 9.18 loads, and why.
const DELIBERATE_DIFFERENCES: &[(&str, &str)] = &[
    (
        "bad/below-dname.zone",
        "RFC 6672 §2.3: records MUST NOT exist below a DNAME; BIND loads them and never serves them",
    ),
    (
        "bad/out-of-zone.zone",
        "BIND drops out-of-zone data with a warning; NebulaDNS never drops data silently",
    ),
    (
        "bad/ttl-too-large.zone",
        "RFC 2181 §8: BIND serves a TTL above 2^31 - 1 as 0 with a warning; NebulaDNS refuses it",
    ),
    (
        "bad/missing-glue.zone",
        "RFC 1034 §4.2.1: a delegation to a name server below it without glue cannot be followed; BIND only warns",
    ),
    (
        "bad/include-dotdot.zone",
        "$INCLUDE is confined to the zone file's directory; BIND reads any path its process can",
    ),
    (
        "bad/include-symlink.zone",
        "$INCLUDE through a symbolic link leading out of the zone file's directory is refused",
    ),
];

const ZONE: &str = "example.com";

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/corpus");
    let mut files = Vec::new();
    for kind in ["good", "bad"] {
        for entry in std::fs::read_dir(root.join(kind)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "zone") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `good/name.zone` for messages and the difference list.
fn short_name(path: &Path) -> String {
    let kind = path
        .parent()
        .and_then(Path::file_name)
        .unwrap()
        .to_string_lossy();
    format!("{kind}/{}", path.file_name().unwrap().to_string_lossy())
}

fn bind_accepts(path: &Path) -> bool {
    // BIND takes $INCLUDE paths relative to its working directory: run it in the zone's.
    // `-i local`: integrity checks on the zone's own names only; the default (`full`) also
    // resolves names outside the zone through the system resolver, which makes the verdict
    // depend on the network.
    let output = Command::new("named-checkzone")
        .args(["-q", "-i", "local"])
        .arg(ZONE)
        .arg(path.file_name().unwrap())
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run named-checkzone ({e}): install it with `apt-get install bind9-utils`"
            )
        });
    output.status.success()
}

fn ours(path: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_nebuladns"))
        .args(["check-zone", ZONE])
        .arg(path)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn verdicts_agree_with_named_checkzone() {
    let files = corpus_files();
    assert!(files.len() >= 65, "corpus too small: {} files", files.len());
    let mut disagreements = Vec::new();
    let mut differences_seen = Vec::new();
    for path in &files {
        let name = short_name(path);
        let bind = bind_accepts(path);
        let (accepted, output) = ours(path);
        let expected_by_kind = name.starts_with("good/");
        if accepted != expected_by_kind {
            disagreements.push(format!(
                "{name}: corpus says {expected_by_kind}, we say {accepted}\n{output}"
            ));
        }
        let deliberate = DELIBERATE_DIFFERENCES
            .iter()
            .find(|(file, _)| *file == name);
        match (accepted == bind, deliberate) {
            (true, None) => {}
            (false, Some(_)) => differences_seen.push(name),
            (true, Some((_, reason))) => {
                disagreements.push(format!(
                    "{name}: listed as a deliberate difference ({reason}) but BIND agrees"
                ));
            }
            (false, None) => disagreements.push(format!(
                "{name}: named-checkzone {} it, nebuladns check-zone {} it\n{output}",
                if bind { "accepts" } else { "refuses" },
                if accepted { "accepts" } else { "refuses" },
            )),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    for (file, _) in DELIBERATE_DIFFERENCES {
        assert!(
            differences_seen.iter().any(|seen| seen == file),
            "{file} is not in the corpus"
        );
    }
}

#[test]
fn output_is_greppable_like_named_checkzone() {
    for path in corpus_files() {
        let name = short_name(&path);
        let (accepted, output) = ours(&path);
        let last = output.lines().last().unwrap_or_default();
        if accepted {
            assert!(
                last.starts_with("zone example.com/IN: loaded serial "),
                "{name}: {output}"
            );
            assert!(last.contains(" records, content hash "), "{name}: {output}");
        } else {
            assert!(
                last.starts_with("zone example.com/IN: not loaded due to errors ("),
                "{name}: {output}"
            );
            // Every error line starts with the file (and line) or the zone.
            let file = path.display().to_string();
            for line in output.lines().filter(|l| l.contains(": error: ")) {
                assert!(
                    line.starts_with(&file)
                        || line.starts_with("zone example.com/IN: ")
                        || line.contains("include/"),
                    "{name}: {line}"
                );
            }
        }
    }
}

#[test]
fn quiet_prints_nothing() {
    let files = corpus_files();
    let bad = files
        .iter()
        .find(|p| short_name(p) == "bad/no-soa.zone")
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nebuladns"))
        .args(["check-zone", "--quiet", ZONE])
        .arg(bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}
