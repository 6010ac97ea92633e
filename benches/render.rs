//! Render throughput in process: the production overlay in examples/, and a generated overlay
//! of 1,000 resources with patches and generators (see examples/gen_overlay.rs).
//!
//! Run: `cargo bench --bench render`. Side-by-side figures against `kubectl kustomize` come from
//! `benches/render-vs-kustomize.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 50)]
fn production_overlay() -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops/apps/overlays/production");
    driftgate::render::render(&dir, None).unwrap().len()
}

#[divan::bench(sample_count = 10)]
fn generated_overlay_1000(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "--example", "gen_overlay", "--"])
        .arg(dir.path())
        .arg("1000")
        .status()
        .unwrap();
    assert!(status.success());
    let overlay = dir.path().join("overlay");
    bencher.bench(|| driftgate::render::render(&overlay, None).unwrap().len());
}
