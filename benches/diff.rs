//! Diff throughput: 10,000 Deployments with server defaults, status and managedFields
//! (every tenth drifted), compared on one core.
//!
//! Run: `cargo bench --bench diff`. Objects per second = 10,000 / the reported time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "fleet_gen.rs"]
mod fleet_gen;

use divan::counter::ItemsCount;
use driftgate::diff::ignore::Rule;
use driftgate::diff::report::{Settings, diff_resource};
use driftgate::model::ResourceKey;

const N: usize = 10_000;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn diff_10k_deployments(bencher: divan::Bencher) {
    let pairs: Vec<_> = (0..N)
        .map(|i| {
            (
                ResourceKey::new("apps", "Deployment", Some("fleet"), &format!("app-{i}")),
                fleet_gen::desired(i),
                fleet_gen::live(i),
            )
        })
        .collect();
    let rules = [Rule::status()];
    let reconcilers = driftgate::config::Config::empty().reconcilers.all_field_managers();
    let settings = Settings { rules: &rules, reconcilers: &reconcilers, instance_label: false };
    bencher.counter(ItemsCount::new(N)).bench(|| {
        let mut drifted = 0;
        for (key, desired, live) in &pairs {
            if !diff_resource(key, desired, live, settings).differences.is_empty() {
                drifted += 1;
            }
        }
        assert_eq!(drifted, N / 10);
        drifted
    });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn parse_10k_live_yaml(bencher: divan::Bencher) {
    let items: Vec<_> = (0..N).map(fleet_gen::live).collect();
    let text =
        serde_saphyr::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap();
    bencher
        .counter(ItemsCount::new(N))
        .bench(|| driftgate::model::load::parse_yaml(&text, std::path::Path::new("live.yaml")).unwrap().len());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn parse_10k_live_json(bencher: divan::Bencher) {
    let items: Vec<_> = (0..N).map(fleet_gen::live).collect();
    let text = serde_json::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap();
    bencher
        .counter(ItemsCount::new(N))
        .bench(|| driftgate::model::load::parse_json(&text, std::path::Path::new("live.json")).unwrap().len());
}
