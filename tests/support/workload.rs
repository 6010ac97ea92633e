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
