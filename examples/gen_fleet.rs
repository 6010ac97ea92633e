//! Writes a fleet of N Deployments for the end-to-end benchmark: `DIR/desired/fleet.yaml` (as
//! Git holds them) and `DIR/live.json` and `DIR/live.yaml` (as `kubectl get -o json|yaml
//! --show-managed-fields` prints them). See `benches/diff-fleet.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../benches/fleet_gen.rs"]
mod fleet_gen;

use std::io::Write as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: gen_fleet DIR [N]"));
    let n: usize = args.next().map_or(10_000, |s| s.parse().expect("N must be a number"));
    std::fs::create_dir_all(dir.join("desired")).unwrap();
    let mut desired = std::io::BufWriter::new(std::fs::File::create(dir.join("desired/fleet.yaml")).unwrap());
    for i in 0..n {
        if i > 0 {
            desired.write_all(b"---\n").unwrap();
        }
        desired.write_all(serde_saphyr::to_string(&fleet_gen::desired(i)).unwrap().as_bytes()).unwrap();
    }
    desired.flush().unwrap();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": (0..n).map(fleet_gen::live).collect::<Vec<_>>()});
    std::fs::write(dir.join("live.json"), serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    std::fs::write(dir.join("live.yaml"), serde_saphyr::to_string(&list).unwrap()).unwrap();
}
