//! Real kube-apiserver v1.28.7 answers (`tests/fixtures/defaults`, see its README): for every
//! manifest, what the server added, dropped and changed. Compared with the manifest it came
//! from, each answer must be Synced: the server's own values are not drift.
//!
//! - the dry-run answers (`output.json`) have no managedFields, so only the defaults table can
//!   tell the server's values from a person's;
//! - `managed/` holds real objects with managedFields, created with six operation sequences.
//!
//! A failing difference is sorted by cause: at a path the server *dropped or changed* (a
//! declared zero value, `null` against `""`, the namespace of a cluster-scoped object: the
//! comparison's business), or anywhere else (a server-*added* value that no default explains:
//! the defaults table's business).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use driftgate::config::Config;
use driftgate::diff::compare::Change;
use driftgate::diff::ignore::Rule;
use driftgate::diff::report::{self, ResourceReport, Settings};
use driftgate::model::ResourceKey;
use driftgate::model::load::parse_yaml_values;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/defaults")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn key_of(group: &str, live: &Value) -> ResourceKey {
    let kind = live["kind"].as_str().unwrap();
    let name = live["metadata"]["name"].as_str().unwrap();
    ResourceKey::new(group, kind, live["metadata"]["namespace"].as_str(), name)
}

fn diff(key: &ResourceKey, desired: &Value, live: &Value) -> ResourceReport {
    let rules = [Rule::status()];
    let reconcilers = Config::empty().reconcilers.all_field_managers();
    report::diff_resource(
        key,
        desired,
        live,
        Settings { rules: &rules, reconcilers: &reconcilers, instance_label: false },
    )
}

/// One comparison and the pointers the server dropped or changed in it.
struct Case {
    name: String,
    report: ResourceReport,
    dropped_or_changed: Vec<String>,
}

/// Every dry-run case: desired = `input.yaml`, live = `output.json`.
fn dry_run_cases() -> Vec<Case> {
    let mut dirs = Vec::new();
    for group in sorted(&root()) {
        if !group.is_dir() || group.ends_with("managed") {
            continue;
        }
        for version in sorted(&group) {
            for kind in sorted(&version) {
                dirs.extend(sorted(&kind).into_iter().filter(|c| c.join("output.json").exists()));
            }
        }
    }
    assert!(dirs.len() >= 100, "the corpus has 118 cases, found {}", dirs.len());
    dirs.iter()
        .map(|dir| {
            let rel = dir.strip_prefix(root()).unwrap().display().to_string();
            let group = rel.split('/').next().unwrap();
            let group = if group == "core" { "" } else { group };
            let desired =
                parse_yaml_values(&std::fs::read_to_string(dir.join("input.yaml")).unwrap()).unwrap().remove(0);
            let mut live = read_json(&dir.join("output.json"));
            // the raw-POST cases (cluster-scoped-with-namespace) came back with managedFields
            if let Some(m) = live["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            let mut dropped_or_changed = Vec::new();
            for file in ["dropped.json", "changed.json"] {
                if let Value::Array(items) = read_json(&dir.join(file)) {
                    dropped_or_changed.extend(items.iter().filter_map(|i| i["path"].as_str().map(str::to_owned)));
                }
            }
            let key = key_of(group, &live);
            Case { name: rel, report: diff(&key, &desired, &live), dropped_or_changed }
        })
        .collect()
}

/// Every `managed/` object and operation: desired = the manifest applied (with the namespace and
/// name the operation used), live = the resulting object with its managedFields.
fn managed_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for file in sorted(&root().join("managed")) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if file.extension().is_none_or(|e| e != "json") || name.starts_with("summary") {
            continue;
        }
        let doc = read_json(&file);
        let group = name.split('.').collect::<Vec<_>>();
        // <group>.<version>.<Kind>.<name>.json, the group itself dotted: find the version
        let at = group
            .iter()
            .position(|s| s.starts_with('v') && s[1..].chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap();
        let api_group = group[..at].join(".");
        let api_group = if api_group == "core" { String::new() } else { api_group };
        for (op, run) in doc["operations"].as_object().unwrap() {
            let live = &run["result"];
            if live.is_null() {
                continue;
            }
            let mut desired = doc["input"].clone();
            desired["metadata"]["name"] = live["metadata"]["name"].clone();
            if let Some(ns) = live["metadata"].get("namespace") {
                desired["metadata"]["namespace"] = ns.clone();
            }
            // a CRD's name is <plural>.<group>, so the group carries the operation too
            if let Some(g) = live["spec"].get("group").filter(|_| live["kind"] == "CustomResourceDefinition") {
                desired["spec"]["group"] = g.clone();
            }
            // the capture names a ClusterRoleBinding's subject namespace after the operation too
            if live["kind"] == "ClusterRoleBinding"
                && let (Some(want), Some(got)) = (desired["subjects"].as_array_mut(), live["subjects"].as_array())
            {
                for (w, g) in want.iter_mut().zip(got) {
                    if w.get("namespace").is_some() {
                        w["namespace"] = g["namespace"].clone();
                    }
                }
            }
            let key = key_of(&api_group, live);
            out.push(Case {
                name: format!("managed/{name} {op}"),
                report: diff(&key, &desired, live),
                dropped_or_changed: Vec::new(),
            });
        }
    }
    assert!(out.len() >= 100, "19 objects x 6 operations, found {}", out.len());
    out
}

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// True when a difference sits at (or above, or below) a pointer the server dropped or changed.
fn zero_value_cause(pointer: &str, dropped_or_changed: &[String]) -> bool {
    dropped_or_changed
        .iter()
        .any(|p| p == pointer || p.starts_with(&format!("{pointer}/")) || pointer.starts_with(&format!("{p}/")))
}

/// `""`, `0`, `false`, `{}`, `[]` or null: a declared zero value the server may drop.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// (case, [differences caused by dropped/changed values], [other differences]) for each failing case.
fn failures(cases: &[Case]) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for c in cases {
        if c.report.differences.is_empty() {
            continue;
        }
        let (mut zero, mut other) = (Vec::new(), Vec::new());
        for d in &c.report.differences {
            let line = format!("{} {}", d.pointer, serde_json::to_string(&d.change).unwrap());
            let zero_desired = match &d.change {
                Change::Missing { desired } | Change::Changed { desired, .. } => is_zero(desired),
                Change::Added { .. } => false,
            };
            if zero_desired || zero_value_cause(&d.pointer, &c.dropped_or_changed) {
                zero.push(line);
            } else {
                other.push(line);
            }
        }
        out.push((c.name.clone(), zero, other));
    }
    out
}

fn print(failures: &[(String, Vec<String>, Vec<String>)]) {
    for (name, zero, other) in failures {
        let kind = if other.is_empty() { "dropped/changed" } else { "added" };
        println!("FAIL [{kind}] {name}: {}", zero.iter().chain(other).cloned().collect::<Vec<_>>().join("; "));
    }
}

/// Cases whose server-set values no defaults table can explain, and why. Each is a documented
/// gap (docs/semantics.md), kept here so that a new one fails the test.
const KNOWN_GAPS: &[(&str, &str)] = &[];

/// Every case is Synced against its own input: what the server added, dropped and changed, with
/// and without managedFields, including declared zero values and `null` against `""`.
#[test]
fn every_case_is_synced() {
    let mut cases = dry_run_cases();
    cases.extend(managed_cases());
    let failures = failures(&cases);
    print(&failures);
    let unexplained: Vec<&String> =
        failures.iter().map(|(n, _, _)| n).filter(|n| !KNOWN_GAPS.iter().any(|(g, _)| g == n)).collect();
    assert!(unexplained.is_empty(), "{} of {} cases are not Synced: {unexplained:#?}", unexplained.len(), cases.len());
    // a gap that closes must leave the list
    for (gap, why) in KNOWN_GAPS {
        assert!(failures.iter().any(|(n, _, _)| n == gap), "{gap} is Synced now ({why}): remove it from KNOWN_GAPS");
    }
}
