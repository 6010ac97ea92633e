//! Real live objects from a kube-apiserver, compared with the Git manifests they came from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use driftgate::config::Config;
use driftgate::diff::compare::Change;
use driftgate::diff::ignore::{IgnoreRuleSpec, Rule};
use driftgate::diff::report::{self, DriftReport, ResourceReport, Settings, Status};
use driftgate::model::{ResourceKey, load};
use driftgate::render;
use serde_json::Value;

fn desired() -> BTreeMap<ResourceKey, driftgate::model::Manifest> {
    render::render_set(&support::fixtures().join("guestbook-git"), None).unwrap()
}

fn reconcilers() -> Vec<String> {
    Config::empty().reconcilers.all_field_managers()
}

fn diff_live_deployment(live: &Value, rules: &[Rule]) -> ResourceReport {
    let key = ResourceKey::new("apps", "Deployment", Some("demo"), "guestbook");
    let d = desired();
    let want = &d[&key].object;
    let rec = reconcilers();
    report::diff_resource(&key, want, live, Settings { rules, reconcilers: &rec, instance_label: false })
}

fn object_of(review: &str) -> Value {
    support::review(review)["request"]["object"].clone()
}

fn paths(r: &ResourceReport) -> Vec<&str> {
    r.differences.iter().map(|d| d.path.as_str()).collect()
}

#[test]
fn review_001_argocd_create_is_synced() {
    let r = diff_live_deployment(&object_of("001"), &[Rule::status()]);
    assert_eq!(r.status, Status::Synced, "{:#?}", r.differences);
}

#[test]
fn review_005_kubectl_edit_drifts_on_the_image() {
    let r = diff_live_deployment(&object_of("005"), &[Rule::status()]);
    assert_eq!(r.status, Status::OutOfSync);
    assert_eq!(paths(&r), ["spec.template.spec.containers[name=web].image"]);
    let d = &r.differences[0];
    assert_eq!(d.change, Change::Changed { live: "nginx:1.26-alice".into(), desired: "nginx:1.25".into() });
    assert_eq!(d.actors[0].manager, "kubectl-edit");
    assert_eq!(d.pointer, "/spec/template/spec/containers/0/image");
}

#[test]
fn review_010_strategic_patch_adds_an_env_var() {
    let r = diff_live_deployment(&object_of("010"), &[Rule::status()]);
    assert_eq!(r.status, Status::OutOfSync);
    let env = r
        .differences
        .iter()
        .find(|d| d.path == "spec.template.spec.containers[name=web].env[name=DEBUG]")
        .expect("the added env var is drift");
    assert!(matches!(&env.change, Change::Added { live } if live["name"] == "DEBUG"));
    assert_eq!(env.actors[0].manager, "kubectl-patch");
    // the earlier scale and edit are still there, each with its culprit
    let by_path: BTreeMap<&str, &str> =
        r.differences.iter().map(|d| (d.path.as_str(), d.actors[0].manager.as_str())).collect();
    assert_eq!(by_path["spec.replicas"], "kubectl");
    assert_eq!(by_path["spec.template.spec.containers[name=web].image"], "kubectl-edit");
}

#[test]
fn review_006_scale_subresource_changes_replicas() {
    // the Deployment as the reconciler created it, with the replicas the Scale request set
    let scale = support::review("006")["request"].clone();
    assert_eq!(scale["subResource"], "scale");
    let mut live = object_of("001");
    live["spec"]["replicas"] = scale["object"]["spec"]["replicas"].clone();
    let r = diff_live_deployment(&live, &[Rule::status()]);
    assert_eq!(paths(&r), ["spec.replicas"]);
    assert_eq!(r.differences[0].change, Change::Changed { live: 5.into(), desired: 2.into() });

    // an HPA-style rule on /spec/replicas suppresses it, and says so
    let spec: IgnoreRuleSpec =
        serde_saphyr::from_str("group: apps\nkind: Deployment\njsonPointers: [/spec/replicas]").unwrap();
    let rules = [Rule::status(), Rule::compile(&spec, "ignoreDifferences[0]".into()).unwrap()];
    let r = diff_live_deployment(&live, &rules);
    assert_eq!(r.status, Status::Synced);
    assert_eq!(r.suppressed[0].path, "spec.replicas");
    assert_eq!(r.suppressed[0].rule, "ignoreDifferences[0]");
}

#[test]
fn review_019_self_heal_result_is_synced_on_declared_fields() {
    // argocd's forced apply reverted the image; alice's env var stays: additive drift
    let r = diff_live_deployment(&object_of("019"), &[Rule::status()]);
    assert!(!paths(&r).contains(&"spec.template.spec.containers[name=web].image"), "{:?}", paths(&r));
}

#[test]
fn reviews_of_configmap_and_secret() {
    let d = desired();
    let rec = reconcilers();
    let rules = [Rule::status()];
    let s = Settings { rules: &rules, reconcilers: &rec, instance_label: false };
    let cm_key = ResourceKey::new("", "ConfigMap", Some("demo"), "guestbook-config");
    let r = report::diff_resource(&cm_key, &d[&cm_key].object, &object_of("002"), s);
    assert_eq!(r.status, Status::Synced, "{:#?}", r.differences);
    let r = report::diff_resource(&cm_key, &d[&cm_key].object, &object_of("007"), s);
    assert_eq!(paths(&r), ["data.LOG_LEVEL"]);
    let secret_key = ResourceKey::new("", "Secret", Some("demo"), "guestbook-secret");
    let r = report::diff_resource(&secret_key, &d[&secret_key].object, &object_of("003"), s);
    assert_eq!(r.status, Status::Synced, "{:#?}", r.differences);
    let r = report::diff_resource(&secret_key, &d[&secret_key].object, &object_of("009"), s);
    assert_eq!(paths(&r), ["data.EXTRA"]);
    let json = serde_json::to_string(&r).unwrap();
    let extra = object_of("009")["data"]["EXTRA"].as_str().unwrap().to_owned();
    assert!(!json.contains(&extra), "secret value leaked: {json}");
}

fn seed(live_file: &str) -> DriftReport {
    let dir = support::fixtures().join("seed-live");
    let desired = render::render_set(&dir.join("rendered-production.yaml"), None).unwrap();
    let docs = load::load_path(&dir.join(live_file)).unwrap();
    let live = load::into_manifests(docs, None).unwrap();
    let rec = reconcilers();
    let rules = [Rule::status()];
    let settings = Settings { rules: &rules, reconcilers: &rec, instance_label: false };
    report::diff_sets(&desired, live, settings).unwrap()
}

#[test]
fn seed_synced_snapshots_are_synced() {
    for f in ["live-synced.yaml", "live-synced-with-managed-fields.yaml"] {
        let r = seed(f);
        assert!(r.summary.in_sync(), "{f}: {:#?}", r.resources);
        assert_eq!(r.summary.synced, 3);
    }
}

#[test]
fn seed_drifted_snapshot_shows_all_four_edits_and_their_culprits() {
    let r = seed("live-drifted-with-managed-fields.yaml");
    let mut found: Vec<(String, String)> = r
        .resources
        .iter()
        .flat_map(|res| {
            res.differences
                .iter()
                .map(|d| (d.path.clone(), d.actors.first().map(|a| a.manager.clone()).unwrap_or_default()))
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("metadata.labels.owner".to_owned(), "kubectl-label".to_owned()),
            ("spec.replicas".to_owned(), "kubectl".to_owned()),
            ("spec.template.spec.containers[name=myapp].env[name=DEBUG]".to_owned(), "kubectl-patch".to_owned()),
            ("spec.template.spec.containers[name=myapp].image".to_owned(), "kubectl-set".to_owned()),
        ]
    );
    assert_eq!(r.summary.synced, 1, "the ConfigMap is untouched");
}

#[test]
fn seed_drifted_without_managed_fields_still_finds_additive_drift() {
    let r = seed("live-drifted.yaml");
    let all: Vec<String> = r.resources.iter().flat_map(|res| res.differences.iter().map(|d| d.path.clone())).collect();
    assert!(all.contains(&"metadata.labels.owner".to_owned()), "{all:?}");
    assert!(all.contains(&"spec.template.spec.containers[name=myapp].env[name=DEBUG]".to_owned()), "{all:?}");
    assert_eq!(all.len(), 4, "{all:?}");
}
