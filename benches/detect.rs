//! The detector's engine on 10,000 Deployments (every tenth drifted): a full re-evaluation, as
//! a new revision or a restart causes, and one watch event.
//!
//! Run: `cargo bench --bench detect`. The full re-evaluation is single-threaded, so its time is
//! its CPU time. It runs on mimalloc, as the binary does.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "fleet_gen.rs"]
mod fleet_gen;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use divan::counter::ItemsCount;
use driftgate::detect::{Engine, Projection, SourceSpec};
use driftgate::diff::ignore::Rule;
use driftgate::diff::report::SourceInfo;
use driftgate::model::{Declared, Manifest, Origin, ResourceKey};

const N: usize = 10_000;

// the binary's allocator, so that the figures are the binary's
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn key(i: usize) -> ResourceKey {
    ResourceKey::new("apps", "Deployment", Some("fleet"), &format!("app-{i}"))
}

fn spec() -> SourceSpec {
    let objects: BTreeMap<ResourceKey, Declared> = (0..N)
        .map(|i| {
            let m = Manifest {
                key: key(i),
                object: fleet_gen::desired(i),
                origin: Origin { file: PathBuf::from("fleet.yaml"), line: None },
            };
            (key(i), Declared::of(&m))
        })
        .collect();
    SourceSpec {
        name: "fleet".into(),
        info: SourceInfo::default(),
        rules: Arc::from(vec![Rule::status()]),
        objects: Arc::new(objects),
        error: None,
        owner: None,
    }
}

fn engine() -> Engine {
    let mut e = Engine::new(vec!["argocd-controller".into()], false);
    e.set_sources(vec![spec()], "t0");
    let objects = (0..N).map(|i| (key(i), Projection::of(fleet_gen::live(i), &key(i), false))).collect();
    e.relist("apps", "Deployment", Some("fleet"), objects, "t1");
    e
}

/// Every object compared again: new rules (a restart, a config change), or a revision that
/// changes every object (a commonLabels edit).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn full_reevaluation_10k(bencher: divan::Bencher) {
    let mut e = engine();
    let s = spec();
    bencher.counter(ItemsCount::new(N)).bench_local(|| {
        // fresh rules defeat the unchanged-object shortcut
        let fresh = SourceSpec { rules: Arc::from(vec![Rule::status()]), ..s.clone() };
        e.set_sources(vec![fresh], "t2")
    });
}

/// A revision that changes one object of 10,000: only that one is compared.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn new_revision_one_changed_10k(bencher: divan::Bencher) {
    let mut e = engine();
    let a = spec();
    let mut b = a.clone();
    let mut objects = (*b.objects).clone();
    let mut changed = fleet_gen::desired(7);
    changed["spec"]["replicas"] = 5.into();
    let m = Manifest { key: key(7), object: changed, origin: Origin { file: PathBuf::from("fleet.yaml"), line: None } };
    objects.insert(key(7), Declared::of(&m));
    b.objects = Arc::new(objects);
    let mut flip = false;
    bencher.bench_local(|| {
        flip = !flip;
        e.set_sources(vec![if flip { b.clone() } else { a.clone() }], "t2")
    });
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn one_watch_event(bencher: divan::Bencher) {
    let mut e = engine();
    let mut edited = fleet_gen::live(1);
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/app:edited".into();
    let k = key(1);
    let mut flip = false;
    bencher.bench_local(|| {
        flip = !flip;
        let obj = if flip { edited.clone() } else { fleet_gen::live(1) };
        e.apply(&k, obj, "t3")
    });
}
