//! The admission decision on the worst shapes a review can carry: one list, map or set of items
//! grown to 3,000 and to 30,000 entries (a 3 MiB review holds about 30,000 ports). Work must grow
//! linearly: the 30,000 case should take about ten times the 3,000 one.
//!
//! Run: `cargo bench --bench admission`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;

use driftgate::admission::decide::{Policy, SourceView, decide};
use driftgate::admission::review;
use driftgate::config::Mode;
use driftgate::diff::ignore::Rule;
use driftgate::diff::report::SourceInfo;
use driftgate::model::load::{Manifest, Origin};
use driftgate::model::{Declared, ResourceKey};
use serde_json::{Value, json};

// the binary's allocator, so that the figures are the binary's
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [3_000, 30_000];

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                       "ports": [{"containerPort": 80}]}]}}}})
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "demo"},
           "data": {"LOG_LEVEL": "info"}})
}

/// The review of alice's update from `desired` to `desired` grown by `grow`.
fn review_of(desired: &Value, grow: impl Fn(&mut Value)) -> review::Request {
    let mut new = desired.clone();
    grow(&mut new);
    let (group, version) = match desired["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), desired["apiVersion"].as_str().unwrap().to_owned()),
    };
    let kind = desired["kind"].as_str().unwrap();
    let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "name": desired["metadata"]["name"], "namespace": "demo", "operation": "UPDATE",
        "userInfo": {"username": "alice", "groups": ["dev"]}, "object": new, "oldObject": desired}});
    review::parse(&serde_json::to_vec(&body).unwrap()).unwrap().request
}

fn run(bencher: divan::Bencher, desired: &Value, grow: impl Fn(&mut Value)) {
    let key = ResourceKey::of(desired).unwrap();
    let manifest =
        Manifest { key: key.clone(), object: desired.clone(), origin: Origin { file: "x.yaml".into(), line: None } };
    let objects: BTreeMap<ResourceKey, Declared> = BTreeMap::from([(key, Declared::of(&manifest))]);
    let rules = vec![Rule::status()];
    let info = SourceInfo::default();
    let sources = [SourceView { name: "shop", mode: None, rules: &rules, objects: &objects, info: &info }];
    let policy = Policy {
        reconciler_usernames: &[],
        reconciler_groups: &[],
        field_managers: &[],
        break_glass_groups: &[],
        break_glass_max: std::time::Duration::from_secs(3600),
        now: time::OffsetDateTime::UNIX_EPOCH,
        mode: Mode::Enforce,
        instance_label: false,
        allow_rollout_restart: true,
        rules: &rules,
        live: None,
    };
    let req = review_of(desired, grow);
    bencher.bench(|| {
        let v = decide(&policy, &sources, &req);
        assert!(!v.response.allowed);
        v
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn keyed_list_ports(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        d["spec"]["template"]["spec"]["containers"][0]["ports"] =
            (0..n).map(|i| json!({"containerPort": 10_000 + i, "protocol": "TCP"})).collect();
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn keyed_list_same_key(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        d["spec"]["template"]["spec"]["containers"][0]["ports"] =
            (0..n).map(|_| json!({"containerPort": 80, "protocol": "TCP"})).collect();
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn keyed_list_env(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        d["spec"]["template"]["spec"]["containers"][0]["env"] =
            (0..n).map(|i| json!({"name": format!("VAR_{i}"), "value": "x"})).collect();
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn containers(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        d["spec"]["template"]["spec"]["containers"] =
            (0..n).map(|i| json!({"name": format!("c{i}"), "image": "busybox"})).collect();
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn positional_list_args(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        d["spec"]["template"]["spec"]["containers"][0]["args"] = (0..n).map(|i| json!(format!("--flag-{i}"))).collect();
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn map_data_keys(bencher: divan::Bencher, n: usize) {
    run(bencher, &config_map(), |d| {
        for i in 0..n {
            d["data"][format!("KEY_{i}")] = json!("v");
        }
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn map_labels(bencher: divan::Bencher, n: usize) {
    run(bencher, &deployment(), |d| {
        for i in 0..n {
            d["metadata"]["labels"][format!("team.example.com/l{i}")] = json!("v");
        }
    });
}
