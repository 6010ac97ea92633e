use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::diff::compare::Cause;
use crate::diff::ignore::Rule;
use crate::diff::report::SourceInfo;
use crate::model::{Manifest, Origin, ResourceKey};

fn key() -> ResourceKey {
    ResourceKey::new("apps", "Deployment", Some("demo"), "web")
}

fn desired(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
           "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
}

fn live(image: &str, rv: &str, manager: &str) -> Value {
    let mut v = desired(image);
    v["metadata"]["resourceVersion"] = json!(rv);
    v["metadata"]["managedFields"] = json!([{
        "manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": "2026-11-28T01:09:42Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}}}}}
    }]);
    v["status"] = json!({"replicas": 2});
    v
}

fn source(name: &str, image: &str) -> SourceSpec {
    let m = Manifest {
        key: key(),
        object: desired(image),
        origin: Origin { file: PathBuf::from("web.yaml"), line: Some(1) },
    };
    SourceSpec {
        name: name.into(),
        info: SourceInfo { name: Some(name.into()), revision: Some(image.into()), ..SourceInfo::default() },
        rules: Arc::from(vec![Rule::status()]),
        objects: Arc::new(BTreeMap::from([(key(), crate::model::Declared::of(&m))])),
        error: None,
        owner: Some(crate::model::ownership::Owner { argocd_application: Some("shop".into()), ..Default::default() }),
    }
}

/// Adds (or replaces) one desired object of a source.
fn declare(spec: &mut SourceSpec, key: ResourceKey, object: Value) {
    let m = Manifest { key: key.clone(), object, origin: Origin { file: PathBuf::from("x.yaml"), line: Some(1) } };
    let mut objects = (*spec.objects).clone();
    objects.insert(key, crate::model::Declared::of(&m));
    spec.objects = Arc::new(objects);
}

fn proj(k: ResourceKey, v: Value) -> (ResourceKey, Projection) {
    let p = Projection::of(v, &k, false);
    (k, p)
}

fn engine() -> Engine {
    let mut e = Engine::new(vec!["argocd-controller".into()], false);
    assert!(e.set_sources(vec![source("shop", "nginx:1.25")], "t0").iter().all(|t| t.event().is_none()));
    e
}

/// An engine whose Deployment kind was listed with the web object at `image`, as Argo CD applied it.
fn listed(image: &str) -> Engine {
    let mut e = engine();
    e.relist("apps", "Deployment", Some("demo"), vec![proj(key(), live(image, "10", "argocd-controller"))], "t1");
    e
}

fn status(e: &Engine) -> State {
    e.source("shop").and_then(|s| s.resources).map_or(State::Unknown, |r| r[0].status)
}

#[test]
fn unknown_until_the_kind_is_listed_then_synced_without_news() {
    let mut e = engine();
    assert_eq!(status(&e), State::Unknown);
    let t = e.relist(
        "apps",
        "Deployment",
        Some("demo"),
        vec![proj(key(), live("nginx:1.25", "10", "argocd-controller"))],
        "t1",
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].event(), None);
    assert_eq!(status(&e), State::Synced);
}

#[test]
fn an_edit_is_detected_with_its_actor_and_resolved_when_reverted() {
    let mut e = listed("nginx:1.25");
    let t = e.apply(&key(), live("nginx:1.26", "11", "kubectl-edit"), "t2");
    assert_eq!(t[0].event(), Some("drift.detected"));
    assert_eq!(t[0].actors[0].manager, "kubectl-edit");
    let s = e.source("shop").unwrap();
    assert_eq!(s.summary.out_of_sync, 1);
    assert_eq!(s.last_change.as_deref(), Some("t2"));
    let r = &s.resources.unwrap()[0];
    assert_eq!(r.resource_version.as_deref(), Some("11"));
    assert_eq!(r.differences[0].path, "spec.template.spec.containers[name=web].image");
    let t = e.apply(&key(), live("nginx:1.25", "12", "argocd-controller"), "t3");
    assert_eq!(t[0].event(), Some("drift.resolved"));
}

#[test]
fn deletion_is_missing_and_a_new_revision_re_evaluates() {
    // Argo CD applied nginx:1.26 and owns it: Git says otherwise, so it is the reconciler's to fix
    let mut e = listed("nginx:1.26");
    assert_eq!(status(&e), State::OutOfSync);
    let t = e.set_sources(vec![source("shop", "nginx:1.26")], "t2");
    assert_eq!(t[0].event(), Some("sync.completed"));
    assert_eq!(status(&e), State::Synced);
    let t = e.delete(&key(), "t3");
    assert_eq!((t[0].to, t[0].event()), (Some(State::Missing), Some("drift.detected")));
}

fn cause(e: &Engine) -> Option<Cause> {
    e.source("shop").and_then(|s| s.resources).and_then(|r| r[0].cause)
}

/// Finding 1 of issue 12: between a push and the reconciler's sync, nothing is drift and nobody
/// is blamed, even a person who once edited the field before the reconciler re-applied it.
#[test]
fn a_new_git_commit_is_pending_sync_not_drift() {
    let mut e = listed("nginx:1.25");
    // alice edits, Argo CD re-applies: her edit is gone from managedFields
    e.apply(&key(), live("nginx:1.24", "11", "kubectl-edit"), "t2");
    e.apply(&key(), live("nginx:1.25", "12", "argocd-controller"), "t3");
    let t = e.set_sources(vec![source("shop", "nginx:1.26")], "t4");
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].to, t[0].cause, t[0].event()),
        (Some(State::OutOfSync), Some(Cause::PendingSync), Some("sync.pending"))
    );
    assert!(t[0].actors.is_empty(), "nobody is blamed for a Git change: {:?}", t[0].actors);
    // the reconciler applies it
    let t = e.apply(&key(), live("nginx:1.26", "13", "argocd-controller"), "t5");
    assert_eq!(t[0].event(), Some("sync.completed"));
    // a person's edit after that is drift again, and names them
    let t = e.apply(&key(), live("nginx:1.27", "14", "kubectl-edit"), "t6");
    assert_eq!((t[0].cause, t[0].event()), (Some(Cause::Drift), Some("drift.detected")));
    assert_eq!(t[0].actors[0].manager, "kubectl-edit");
}

/// A field Git adds is absent live and owned by nobody, like one removed by hand: the revision
/// it was synced with tells them apart.
#[test]
fn a_field_git_adds_is_pending_one_removed_by_hand_is_drift() {
    let mut e = listed("nginx:1.25");
    let mut with_min = source("shop", "nginx:1.25");
    let mut d = desired("nginx:1.25");
    d["spec"]["minReadySeconds"] = json!(5);
    let m =
        Manifest { key: key(), object: d.clone(), origin: Origin { file: PathBuf::from("web.yaml"), line: Some(1) } };
    with_min.objects = Arc::new(BTreeMap::from([(key(), crate::model::Declared::of(&m))]));
    e.set_sources(vec![with_min.clone()], "t2");
    assert_eq!((status(&e), cause(&e)), (State::OutOfSync, Some(Cause::PendingSync)));
    // applied, then removed by hand
    let mut applied = live("nginx:1.25", "11", "argocd-controller");
    applied["spec"]["minReadySeconds"] = json!(5);
    e.apply(&key(), applied, "t3");
    assert_eq!(status(&e), State::Synced);
    let t = e.apply(&key(), live("nginx:1.25", "12", "argocd-controller"), "t4");
    assert_eq!((t[0].cause, t[0].event()), (Some(Cause::Drift), Some("drift.detected")));
}

/// An object Git adds is Missing until the reconciler creates it: pending sync. One that was
/// live and is gone is drift.
#[test]
fn a_new_object_in_git_is_pending_a_deleted_one_is_drift() {
    let mut e = engine();
    e.relist("apps", "Deployment", Some("demo"), Vec::new(), "t1");
    let mut two = source("shop", "nginx:1.25");
    let other = ResourceKey::new("apps", "Deployment", Some("demo"), "api");
    let mut d = desired("nginx:1.25");
    d["metadata"]["name"] = json!("api");
    let m =
        Manifest { key: other.clone(), object: d, origin: Origin { file: PathBuf::from("api.yaml"), line: Some(1) } };
    let mut objects = (*two.objects).clone();
    objects.insert(other.clone(), crate::model::Declared::of(&m));
    two.objects = Arc::new(objects);
    let t = e.set_sources(vec![two], "t2");
    let api = t.iter().find(|t| t.key == other).unwrap();
    assert_eq!(
        (api.to, api.cause, api.event()),
        (Some(State::Missing), Some(Cause::PendingSync), Some("sync.pending"))
    );
    // the web object was missing before the revision: no history, so it stays drift
    let web = e.source("shop").and_then(|s| s.resources).unwrap().into_iter().find(|r| r.key == key()).unwrap();
    assert_eq!(web.cause, Some(Cause::Drift));
}

/// Finding 3 of issue 12: another application's objects are never this source's Extra.
#[test]
fn another_applications_objects_are_never_extra() {
    let mut e = engine();
    let other = ResourceKey::new("apps", "Deployment", Some("demo"), "guestbook");
    let mut obj = live("nginx:1", "5", "argocd-controller");
    obj["metadata"]["name"] = json!("guestbook");
    obj["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/tracking-id": "guestbook:apps/Deployment:demo/guestbook"});
    let t = e.relist("apps", "Deployment", Some("demo"), vec![proj(other.clone(), obj)], "t1");
    assert!(t.iter().all(|t| t.key != other), "{t:?}");
    assert!(e.drifted().iter().all(|d| d.key != other));
    // a source without an owner reports no Extra at all
    let mut e = Engine::new(vec!["argocd-controller".into()], false);
    e.set_sources(vec![SourceSpec { owner: None, ..source("shop", "nginx:1.25") }], "t0");
    let mut obj = live("nginx:1", "5", "argocd-controller");
    obj["metadata"]["name"] = json!("old");
    obj["metadata"]["annotations"] = json!({"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:demo/old"});
    let old = ResourceKey::new("apps", "Deployment", Some("demo"), "old");
    let t = e.relist("apps", "Deployment", Some("demo"), vec![proj(old.clone(), obj)], "t1");
    assert!(t.iter().all(|t| t.key != old), "{t:?}");
}

#[test]
fn a_failing_kind_degrades_only_its_resources_and_unserved_kinds_are_missing() {
    let mut e = engine();
    e.set_kind("apps", "Deployment", KindState::Failed("403 Forbidden".into()), "t1");
    let s = e.source("shop").unwrap();
    assert_eq!(s.summary.unknown, 1);
    assert_eq!(s.kinds[0].state, KindState::Failed("403 Forbidden".into()));
    e.set_kind("apps", "Deployment", KindState::Unserved, "t2");
    assert_eq!(status(&e), State::Missing);
}

#[test]
fn marked_objects_git_no_longer_declares_are_extra() {
    let mut e = engine();
    let other = ResourceKey::new("apps", "Deployment", Some("demo"), "old");
    let mut obj = live("nginx:1", "5", "argocd-controller");
    obj["metadata"]["name"] = json!("old");
    obj["metadata"]["annotations"] = json!({"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:demo/old"});
    let t = e.relist("apps", "Deployment", Some("demo"), vec![proj(other.clone(), obj.clone())], "t1");
    // only Argo CD ever wrote it: Git dropped it and the next sync prunes it
    assert!(t.iter().any(|t| t.key == other && t.to == Some(State::Extra) && t.event() == Some("sync.pending")));
    assert!(t.iter().any(|t| t.key == key() && t.to == Some(State::Missing)));
    let t = e.delete(&other, "t2");
    assert_eq!((t[0].to, t[0].event()), (None, Some("sync.completed")));
    // created (or edited) by a person: drift
    obj["metadata"]["managedFields"][0]["manager"] = json!("kubectl-create");
    let t = e.relist("apps", "Deployment", Some("demo"), vec![proj(other.clone(), obj)], "t3");
    assert!(t.iter().any(|t| t.key == other && t.to == Some(State::Extra) && t.event() == Some("drift.detected")));
}

#[test]
fn projections_are_much_smaller_than_values() {
    let e = listed("nginx:1.25");
    let (n, bytes) = e.live_size();
    assert_eq!(n, 1);
    assert!(bytes < 1000, "{bytes}");
}

/// Finding 9 of issue 12: a kind watched in two namespaces is judged in each only once that
/// namespace's first list is complete; nothing is Missing on the way.
#[test]
fn no_resource_is_judged_before_its_own_first_list() {
    let other = ResourceKey::new("apps", "Deployment", Some("shop-b"), "web");
    let mut spec = source("shop", "nginx:1.25");
    let mut web_b = desired("nginx:1.25");
    web_b["metadata"]["namespace"] = json!("shop-b");
    declare(&mut spec, other.clone(), web_b);
    let mut e = Engine::new(vec!["argocd-controller".into()], false);
    e.set_sources(vec![spec.clone()], "t0");
    let t = e.relist(
        "apps",
        "Deployment",
        Some("demo"),
        vec![proj(key(), live("nginx:1.25", "10", "argocd-controller"))],
        "t1",
    );
    assert!(t.iter().all(|t| t.event().is_none()), "{t:?}");
    // a new revision re-evaluates everything: shop-b's list is not in yet, so it stays Unknown
    let t = e.set_sources(vec![spec], "t2");
    assert!(t.iter().all(|t| t.to != Some(State::Missing)), "{t:?}");
    let b = e.source("shop").and_then(|s| s.resources).unwrap().into_iter().find(|r| r.key == other).unwrap();
    assert_eq!(b.status, State::Unknown);
}

/// Finding 8 of issue 12: a jq rule over its budget is reported on the resource (status API) and
/// in a transition that becomes a `rule.failed` event; the rest of the diff goes on.
#[test]
fn a_rule_over_its_jq_budget_is_reported_once() {
    let spec: crate::diff::ignore::IgnoreRuleSpec =
        serde_saphyr::from_str("group: apps\nkind: Deployment\njqPathExpressions: ['.spec | recurse(.)']").unwrap();
    let budget =
        crate::diff::jq::Budget { timeout: std::time::Duration::from_millis(200), max_steps: 10_000, max_paths: 100 };
    let rule = Rule::compile(&spec, "ignoreDifferences[0]".into()).unwrap().with_jq_budget(budget);
    let shop = SourceSpec { rules: Arc::from(vec![Rule::status(), rule]), ..source("shop", "nginx:1.25") };
    let mut e = Engine::new(vec!["argocd-controller".into()], false);
    e.set_sources(vec![shop], "t0");
    let t =
        e.relist("apps", "Deployment", Some("demo"), vec![proj(key(), live("nginx:1.26", "10", "kubectl-edit"))], "t1");
    assert_eq!(t[0].event(), Some("drift.detected"), "the diff goes on");
    assert_eq!(t[0].rule_errors.len(), 1, "{t:?}");
    let event = crate::audit::rule_event(&t[0], None, "t1").unwrap();
    assert_eq!(event.event_type, "dev.driftgate.rule.failed");
    let r = &e.source("shop").unwrap().resources.unwrap()[0];
    assert!(r.rule_errors[0].starts_with("ignoreDifferences[0]: jqPathExpressions"), "{:?}", r.rule_errors);
    // the same failure on the next event is not news again
    let t = e.apply(&key(), live("nginx:1.26", "11", "kubectl-edit"), "t2");
    assert!(t.iter().all(|t| t.rule_errors.is_empty() && t.event().is_none()), "{t:?}");
}
