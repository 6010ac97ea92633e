//! The kustomize renderer against `kubectl kustomize`, on a corpus of trees.
//!
//! Each folder under tests/kustomize/cases holds a tree, `build-path` (the folder to render),
//! and either `expected.yaml` (what `kubectl kustomize` printed; regenerate with
//! tests/kustomize/regen.sh) or `expected-error.txt` (a part of driftgate's refusal).
//! Objects are compared as data, in order; kustomize's quoting style is not part of the contract.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use driftgate::model::load;
use driftgate::render;
use serde_json::Value;

fn cases() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/cases");
    let mut out: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    out.sort();
    out
}

fn render_case(case: &Path) -> Result<Vec<Value>, String> {
    let build = std::fs::read_to_string(case.join("build-path")).unwrap();
    let manifests = render::render(&case.join(build.trim()), None).map_err(|e| e.to_string())?;
    Ok(manifests.into_iter().map(|m| m.object).collect())
}

#[test]
fn corpus_is_broad() {
    let all = cases();
    let goldens = all.iter().filter(|c| c.join("expected.yaml").is_file()).count();
    assert!(goldens >= 25, "only {goldens} golden cases");
    assert!(all.len() - goldens >= 5, "too few error cases");
}

#[test]
fn renders_like_kubectl_kustomize() {
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let golden = case.join("expected.yaml");
        let expected_error = case.join("expected-error.txt");
        match (golden.is_file(), render_case(&case)) {
            (true, Ok(got)) => {
                let want = load::parse_yaml_values(&std::fs::read_to_string(&golden).unwrap()).unwrap();
                if got != want {
                    let got_yaml: Vec<String> = got.iter().map(|v| serde_saphyr::to_string(v).unwrap()).collect();
                    failures.push(format!("{name}: objects differ\n--- got\n{}", got_yaml.join("---\n")));
                }
            }
            (true, Err(e)) => failures.push(format!("{name}: failed: {e}")),
            (false, Ok(_)) => failures.push(format!("{name}: rendered, but should fail")),
            (false, Err(e)) => {
                let want = std::fs::read_to_string(&expected_error).unwrap();
                if !e.contains(want.trim()) {
                    failures.push(format!("{name}: error {e:?} does not contain {:?}", want.trim()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn rendering_is_deterministic() {
    for case in cases().into_iter().filter(|c| c.join("expected.yaml").is_file()) {
        assert_eq!(render_case(&case), render_case(&case), "{}", case.display());
    }
}
