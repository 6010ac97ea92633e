use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
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
    }
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
    let mut e = listed("nginx:1.26");
    assert_eq!(status(&e), State::OutOfSync);
    let t = e.set_sources(vec![source("shop", "nginx:1.26")], "t2");
    assert_eq!(t[0].event(), Some("drift.resolved"));
    assert_eq!(status(&e), State::Synced);
    let t = e.delete(&key(), "t3");
    assert_eq!((t[0].to, t[0].event()), (Some(State::Missing), Some("drift.detected")));
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
    let t = e.relist("apps", "Deployment", Some("demo"), vec![proj(other.clone(), obj)], "t1");
    assert!(t.iter().any(|t| t.key == other && t.to == Some(State::Extra) && t.event() == Some("drift.detected")));
    assert!(t.iter().any(|t| t.key == key() && t.to == Some(State::Missing)));
    let t = e.delete(&other, "t2");
    assert_eq!((t[0].to, t[0].event()), (None, Some("drift.resolved")));
}

#[test]
fn projections_are_much_smaller_than_values() {
    let e = listed("nginx:1.25");
    let (n, bytes) = e.live_size();
    assert_eq!(n, 1);
    assert!(bytes < 1000, "{bytes}");
}
