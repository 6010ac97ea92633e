//! Shared helpers for the translations of the peers' diff test suites (`peers_argo.rs`,
//! `peers_flux.rs`): objects written as small inline YAML, rules written as the
//! `ignoreDifferences` YAML a user would write, and managedFields built the way the API server
//! records an apply.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use driftgate::config::Config;
use driftgate::diff::compare::Change;
use driftgate::diff::ignore::{IgnoreRuleSpec, Rule};
use driftgate::diff::report::{self, ResourceReport, Settings, Status};
use driftgate::model::{ResourceKey, load};
use serde_json::{Map, Value, json};

/// One YAML (or JSON) document as a value, through the loader driftgate reads manifests with.
/// The text may be indented as a whole (it is dedented first), so it can sit inside a test.
pub fn yaml(text: &str) -> Value {
    let mut docs = load::parse_yaml_values(&dedent(text)).unwrap();
    assert_eq!(docs.len(), 1, "one document expected");
    docs.remove(0)
}

/// Removes the indentation every non-blank line shares.
pub fn dedent(text: &str) -> String {
    let indent =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    text.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n")
}

/// Compiles an `ignoreDifferences` list written as YAML (Argo CD's or Flux's form), after the
/// built-in `/status` rule, as the config loader does.
pub fn rules(text: &str) -> Vec<Rule> {
    let mut out = vec![Rule::status()];
    if text.trim().is_empty() {
        return out;
    }
    let specs: Vec<IgnoreRuleSpec> = serde_saphyr::from_str(&dedent(text)).unwrap();
    for (i, s) in specs.iter().enumerate() {
        out.push(Rule::compile(s, format!("ignoreDifferences[{i}]")).unwrap());
    }
    out
}

/// Compiles one rule, returning the error text when it does not compile.
pub fn compile_one(text: &str) -> Result<Rule, String> {
    let spec: IgnoreRuleSpec = serde_saphyr::from_str(&dedent(text)).map_err(|e| e.to_string())?;
    Rule::compile(&spec, "ignoreDifferences[0]".into()).map_err(|e| e.to_string())
}

/// The reconcilers of an empty config: argocd-controller, argocd-application-controller,
/// kustomize-controller, helm-controller, driftgate.
pub fn reconcilers() -> Vec<String> {
    Config::empty().reconcilers.all_field_managers()
}

/// Compares `live` with `desired` as the detector does: the desired object is keyed by the
/// loader, which fills in the namespace of a namespaced object that has none (as a source's
/// `namespace`, or Argo CD's destination namespace, would: here the live object's).
pub fn diff_values(desired: &Value, live: &Value, rules: &[Rule]) -> ResourceReport {
    let ns = live.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
    let origin = load::Origin { file: PathBuf::from("git.yaml"), line: Some(1) };
    let mut manifests = load::into_manifests(vec![(desired.clone(), origin)], ns.as_deref()).unwrap();
    let m = manifests.remove(0);
    let rec = reconcilers();
    report::diff_resource(&m.key, &m.object, live, Settings { rules, reconcilers: &rec, instance_label: false })
}

/// [`diff_values`] on YAML text, with rules as YAML text (empty for none).
pub fn diff(desired: &str, live: &str, rule_yaml: &str) -> ResourceReport {
    diff_values(&yaml(desired), &yaml(live), &rules(rule_yaml))
}

/// The readable paths of the reported differences, sorted.
pub fn paths(r: &ResourceReport) -> Vec<String> {
    let mut p: Vec<String> = r.differences.iter().map(|d| d.path.clone()).collect();
    p.sort();
    p
}

/// The readable paths of the suppressed differences, sorted.
pub fn suppressed(r: &ResourceReport) -> Vec<String> {
    let mut p: Vec<String> = r.suppressed.iter().map(|d| d.path.clone()).collect();
    p.sort();
    p
}

/// The kind of each reported difference, by path.
pub fn change_kinds(r: &ResourceReport) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = r
        .differences
        .iter()
        .map(|d| {
            let k = match d.change {
                Change::Changed { .. } => "changed",
                Change::Missing { .. } => "missing",
                Change::Added { .. } => "added",
            };
            (d.path.clone(), k)
        })
        .collect();
    out.sort();
    out
}

/// Asserts a status, printing the differences when it is not the expected one.
#[track_caller]
pub fn assert_status(r: &ResourceReport, want: Status) {
    assert_eq!(r.status, want, "differences: {:#?}\nsuppressed: {:#?}", r.differences, r.suppressed);
}

/// The key a rule is tested against.
pub fn key(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> ResourceKey {
    ResourceKey::new(group, kind, namespace, name)
}

/// Lists whose items the API server keys, as the API types declare them (`patchMergeKey` /
/// `listMapKeys`), for building field sets the way the server does. Deliberately a table of its
/// own, not driftgate's, so that a fixture does not inherit a bug it is meant to find.
fn list_keys(parent: &[String], field: &str) -> Option<&'static [&'static str]> {
    let under_item = parent.last().is_some_and(|p| p == "[]");
    Some(match field {
        "containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets" | "webhooks" => &["name"],
        "volumeMounts" => &["mountPath"],
        "ports" if under_item => &["containerPort", "protocol"],
        "ports" => &["port", "protocol"],
        "conditions" => &["type"],
        _ => return None,
    })
}

/// A managedFields entry for `manager` owning every leaf of `applied` (as an apply of that
/// object records it): maps are `f:` steps, keyed list items `k:{...}` steps with `.`, other
/// lists are atomic. A keyed item without its `protocol` gets the server's `TCP`.
pub fn entry(manager: &str, operation: &str, applied: &Value) -> Value {
    let mut fields = Map::new();
    if let Value::Object(m) = applied {
        for (k, v) in m {
            if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                continue;
            }
            if k == "metadata" {
                let mut meta = Map::new();
                for f in ["labels", "annotations"] {
                    if let Some(Value::Object(inner)) = v.get(f) {
                        let mut set = Map::new();
                        for ik in inner.keys() {
                            set.insert(format!("f:{ik}"), json!({}));
                        }
                        meta.insert(format!("f:{f}"), Value::Object(set));
                    }
                }
                if !meta.is_empty() {
                    fields.insert("f:metadata".into(), Value::Object(meta));
                }
                continue;
            }
            fields.insert(format!("f:{k}"), field_set(&[], k, v));
        }
    }
    json!({"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1",
           "time": "2024-01-01T00:00:00Z", "fieldsV1": Value::Object(fields)})
}

fn field_set(parent: &[String], field: &str, v: &Value) -> Value {
    let mut here = parent.to_vec();
    here.push(field.to_owned());
    match v {
        Value::Object(m) => {
            let mut set = Map::new();
            for (k, child) in m {
                set.insert(format!("f:{k}"), field_set(&here, k, child));
            }
            Value::Object(set)
        }
        Value::Array(items) => {
            let Some(keys) = list_keys(parent, field) else {
                return json!({});
            };
            let mut set = Map::new();
            let mut item_path = here.clone();
            item_path.push("[]".into());
            for item in items {
                let mut key = Map::new();
                for k in keys {
                    match item.get(*k) {
                        Some(kv) => {
                            key.insert((*k).to_owned(), kv.clone());
                        }
                        None if *k == "protocol" => {
                            key.insert("protocol".into(), json!("TCP"));
                        }
                        None => {}
                    }
                }
                let mut inner = Map::new();
                inner.insert(".".into(), json!({}));
                if let Value::Object(im) = item {
                    for (ik, iv) in im {
                        inner.insert(format!("f:{ik}"), field_set(&item_path, ik, iv));
                    }
                }
                set.insert(format!("k:{}", Value::Object(key)), Value::Object(inner));
            }
            Value::Object(set)
        }
        _ => json!({}),
    }
}

/// `live` with `metadata.managedFields` set to `entries`.
pub fn with_managed_fields(mut live: Value, entries: Vec<Value>) -> Value {
    live["metadata"]["managedFields"] = Value::Array(entries);
    live
}

/// Runs `f` on another thread and gives up after `secs` seconds: a comparison that never
/// returns is a failure, not a hung test run.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs)).ok()
}
