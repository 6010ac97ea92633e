//! The command line as a user runs it: exit codes, outputs and error messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(support::bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DRIFTGATE_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const EXAMPLE: &[&str] = &["diff", "--config", "examples/driftgate.yaml", "--live", "examples/live/production.yaml"];

#[test]
fn example_drift_text() {
    let o = run(EXAMPLE);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    insta::assert_snapshot!("example_drift_text", stdout(&o));
}

#[test]
fn example_drift_json() {
    let mut args = EXAMPLE.to_vec();
    args.extend(["-o", "json"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    insta::assert_snapshot!("example_drift_json", stdout(&o));
}

#[test]
fn colour_only_when_asked() {
    let o = run(EXAMPLE);
    assert!(!stdout(&o).contains('\x1b'));
    let mut args = EXAMPLE.to_vec();
    args.extend(["--color", "always"]);
    assert!(stdout(&run(&args)).contains("\x1b[31m-"));
}

#[test]
fn in_sync_exits_zero() {
    let o = run(&[
        "diff",
        "--desired",
        "tests/fixtures/seed-live/rendered-production.yaml",
        "--live",
        "tests/fixtures/seed-live/live-synced-with-managed-fields.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Summary: 3 synced, 0 out of sync, 0 missing, 0 extra\n");
}

#[test]
fn desired_with_namespace_and_live_folder() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n");
    let live = tempfile::tempdir().unwrap();
    write(
        live.path(),
        "a.json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"ns1","uid":"x"},"data":{"k":"v"}}"#,
    );
    let desired = tmp.path().to_string_lossy().into_owned();
    let live_dir = live.path().to_string_lossy().into_owned();
    let o = run(&["diff", "--desired", &desired, "-n", "ns1", "--live", &live_dir]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = run(&["diff", "--desired", &desired, "-n", "ns2", "--live", &live_dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("ConfigMap ns2/a Missing"), "{}", stdout(&o));
}

#[test]
fn extra_objects_with_markers_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let desired = write(tmp.path(), "d.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n");
    let live = write(
        tmp.path(),
        "l.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: n}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: old, namespace: n, labels: {kustomize.toolkit.fluxcd.io/name: apps}}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: unmanaged, namespace: n}}\n",
    );
    // Extra only for the owner the source names: without one, nothing undeclared is ours
    let o = run(&["diff", "--desired", &desired, "--live", &live]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&["diff", "--desired", &desired, "--live", &live, "--owner", "flux-kustomization:flux-system/apps"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("ConfigMap n/old Extra"), "{out}");
    assert!(!out.contains("unmanaged"), "{out}");
    // another Kustomization's objects are never reported
    let o = run(&["diff", "--desired", &desired, "--live", &live, "--owner", "flux-kustomization:flux-system/infra"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&["diff", "--desired", &desired, "--live", &live, "--owner", "flux:apps"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown owner kind"), "{}", stderr(&o));
}

#[test]
fn render_prints_plain_manifests() {
    let o = run(&["render", "tests/fixtures/guestbook-git"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("\n---\n").count(), 2, "{out}");
    let o = run(&["render", "tests/fixtures/guestbook-git", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "List");
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
}

#[test]
fn render_kustomize_overlay() {
    let o = run(&["render", "examples/gitops/apps/overlays/production"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("name: myapp-config-c2c6g75b49"), "{}", stdout(&o));
    let o = run(&["render", "tests/kustomize/cases/e01-helm-charts"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`helmCharts` is not supported"), "{}", stderr(&o));
}

#[test]
fn invalid_yaml_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write(tmp.path(), "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n");
    let o = run(&["diff", "--desired", &bad, "--live", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with(&format!("error: {bad}: invalid YAML: line 4")), "{err}");
}

#[test]
fn non_object_document_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write(tmp.path(), "list.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n- 1\n- 2\n");
    let o = run(&["diff", "--desired", &bad, "--live", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), format!("error: {bad}:5: expected a Kubernetes object (a mapping), found a list\n"));
}

#[test]
fn unknown_config_key_names_key_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(
        tmp.path(),
        "c.yaml",
        "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nselfHeal:\n  enabled: true\n  dryrun: true\n",
    );
    let o = run(&[
        "diff",
        "--config",
        &cfg,
        "--desired",
        "tests/fixtures/guestbook-git",
        "--live",
        "tests/fixtures/guestbook-git",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with(&format!("error: {cfg}: line 5 column 3: unknown field `dryrun`")), "{err}");
}

#[test]
fn missing_file_is_named() {
    let o = run(&["diff", "--desired", "no/such/dir", "--live", "tests/fixtures/guestbook-git"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "error: no/such/dir: no such file or directory\n");
    let o = run(&["diff", "--config", "no/such.yaml", "--live", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: no/such.yaml: "), "{}", stderr(&o));
}

#[test]
fn duplicate_key_names_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n";
    write(tmp.path(), "a.yaml", doc);
    write(tmp.path(), "b.yaml", &format!("# padding\n---\n{doc}"));
    let dir = tmp.path().to_string_lossy().into_owned();
    let o = run(&["diff", "--desired", &dir, "--live", &dir]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("error: /ConfigMap/n/a is defined twice: at {dir}/a.yaml:1 and at {dir}/b.yaml:3\n")
    );
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(run(&["diff"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["--help"]).status.code(), Some(0));
}

#[test]
fn live_from_stdin() {
    use std::io::Write as _;
    let live = std::fs::read(support::fixtures().join("seed-live/live-drifted-with-managed-fields.yaml")).unwrap();
    let mut child = Command::new(support::bin())
        .args(["diff", "--desired", "tests/fixtures/seed-live/rendered-production.yaml", "--live", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&live).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).ends_with("Summary: 1 synced, 2 out of sync, 0 missing, 0 extra\n"));
}

#[test]
fn duplicate_live_objects_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n";
    let live = write(tmp.path(), "live.yaml", &format!("{doc}---\n{doc}"));
    let o = run(&["diff", "--desired", "tests/fixtures/guestbook-git", "--live", &live]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/ConfigMap/n/a is defined twice"), "{}", stderr(&o));
}

#[test]
fn shipped_configs_are_valid() {
    for path in ["deploy/config.yaml", "examples/driftgate.yaml"] {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        driftgate::config::Config::load(&p).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// Finding 7 of issue 12: Flux's `paths: [""]` is accepted, and a bad path is an error that names
/// the field the user wrote, said once.
#[test]
fn flux_paths_take_the_root_and_errors_name_the_field_once() {
    let tmp = tempfile::tempdir().unwrap();
    let desired = write(
        tmp.path(),
        "d.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {k: v}\n",
    );
    let live = write(
        tmp.path(),
        "l.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {k: changed}\n",
    );
    let config = |paths: &str| {
        write(
            tmp.path(),
            "c.yaml",
            &format!(
                "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nignoreDifferences:\n- paths: [{paths}]\n  target: {{kind: ConfigMap}}\n"
            ),
        )
    };
    let c = config("''");
    let o = run(&["diff", "--desired", &desired, "--live", &live, "--config", &c]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let c = config("data/k");
    let o = run(&["diff", "--desired", &desired, "--live", &live, "--config", &c]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("ignoreDifferences[0]: paths: \"data/k\" is not a JSON pointer"), "{err}");
    assert!(!err.contains("jsonPointers"), "{err}");
    assert_eq!(err.matches("is not a JSON pointer").count(), 1, "said once: {err}");
}
