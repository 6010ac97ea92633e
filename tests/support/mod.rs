//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The folder of committed fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture as JSON.
pub fn json(rel: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The AdmissionReview whose file name starts with `prefix` (e.g. `005`).
pub fn review(prefix: &str) -> Value {
    let dir = fixtures().join("admission-reviews");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && Path::new(n).extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    json(&format!("admission-reviews/{}", names.first().expect("no such review")))
}

pub mod apiserver;
pub mod collector;
pub mod git;
pub mod https;
pub mod serving;
pub mod webhook_match;
pub mod workload;

/// The path of the `driftgate` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_driftgate"))
}
