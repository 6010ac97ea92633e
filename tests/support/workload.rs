//! The workload the cluster tests share: a Deployment and a ConfigMap in `demo`, as Git
//! declares them, and the edits people make to them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use super::apiserver::FakeApiServer;

pub const DEPLOYMENT: &str = r"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
";

pub const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: demo}\ndata: {mode: production}\n";

pub const SERVICE_MONITOR: &str = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: web, namespace: demo}\nspec: {endpoints: [{port: http}]}\n";

pub fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

/// Changes the web container's image as `kubectl edit` would.
pub fn edit_image(api: &FakeApiServer, image: &str) {
    let mut live = api.get("Deployment", Some("demo"), "web").unwrap();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    api.write(live, "kubectl-edit");
}

/// A Secret as Git declares it: `password` is `git-password`.
pub const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: demo}\ntype: Opaque\ndata: {password: Z2l0LXBhc3N3b3Jk}\n";

/// The value someone sets by hand, and its base64.
pub const HAND_PASSWORD: (&str, &str) = ("hand-edited-password", "aGFuZC1lZGl0ZWQtcGFzc3dvcmQ=");

/// The AdmissionReview (v1) the API server sends for an UPDATE of `old` to `new` by `user`
/// through `manager`, in the shape of the captured ones in tests/fixtures/admission-reviews.
pub fn update_review(uid: &str, old: &Value, new: &Value, user: &str, manager: &str) -> Value {
    let api_version = new["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = new["kind"].as_str().unwrap();
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())});
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": new["metadata"]["name"], "namespace": new["metadata"]["namespace"],
            "operation": "UPDATE",
            "userInfo": {"username": user, "uid": format!("uid-{user}"), "groups": ["developers", "system:authenticated"]},
            "object": new, "oldObject": old, "dryRun": false,
            "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": manager}
        }
    })
}

/// The review of alice's `kubectl edit` of the web image to `image`, against the live object.
pub fn image_edit_review(api: &FakeApiServer, uid: &str, image: &str) -> Value {
    let old = api.get("Deployment", Some("demo"), "web").unwrap();
    let mut new = old.clone();
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    update_review(uid, &old, &new, "alice", "kubectl-edit")
}
