//! GitOps ownership markers: how an object says which reconciler manages it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::key::ResourceKey;

/// Argo CD's annotation-based tracking.
pub const ARGO_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's legacy label-based tracking (also set by Helm charts, so opt-in).
pub const ARGO_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Flux kustomize-controller's ownership label.
pub const FLUX_KUSTOMIZE_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
/// Flux helm-controller's ownership label.
pub const FLUX_HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";

/// Which GitOps tool claims an object, and under what name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Marker {
    /// An Argo CD tracking-id that points at the object itself.
    ArgoTrackingId {
        /// The Application name.
        app: String,
    },
    /// Argo CD's `app.kubernetes.io/instance` label (only when enabled).
    ArgoInstanceLabel {
        /// The Application name.
        app: String,
    },
    /// A Flux Kustomization's label.
    FluxKustomization {
        /// The Kustomization name.
        name: String,
    },
    /// A Flux HelmRelease's label.
    FluxHelmRelease {
        /// The HelmRelease name.
        name: String,
    },
}

/// Finds the ownership marker of an object, if any.
///
/// A tracking-id that names another object (copied by hand or by a tool) does not count,
/// as in Argo CD. The instance label counts only when `instance_label` is on.
pub fn marker(obj: &Value, key: &ResourceKey, instance_label: bool) -> Option<Marker> {
    let meta = obj.get("metadata")?;
    let annotation = |k: &str| meta.get("annotations").and_then(|a| a.get(k)).and_then(Value::as_str);
    let label = |k: &str| meta.get("labels").and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(id) = annotation(ARGO_TRACKING_ID)
        && let Some(app) = tracking_id_app(id, key)
    {
        return Some(Marker::ArgoTrackingId { app: app.to_owned() });
    }
    if let Some(name) = label(FLUX_KUSTOMIZE_NAME) {
        return Some(Marker::FluxKustomization { name: name.to_owned() });
    }
    if let Some(name) = label(FLUX_HELM_NAME) {
        return Some(Marker::FluxHelmRelease { name: name.to_owned() });
    }
    if instance_label && let Some(app) = label(ARGO_INSTANCE_LABEL) {
        return Some(Marker::ArgoInstanceLabel { app: app.to_owned() });
    }
    None
}

/// Returns the app of a tracking-id (`app:group/Kind:namespace/name`) when it names `key`.
fn tracking_id_app<'a>(id: &'a str, key: &ResourceKey) -> Option<&'a str> {
    let (app, rest) = id.split_once(':')?;
    let (gk, nsn) = rest.split_once(':')?;
    let (group, kind) = gk.split_once('/')?;
    let (namespace, name) = nsn.split_once('/')?;
    let same = group == key.group
        && kind == key.kind
        && namespace == key.namespace.as_deref().unwrap_or("")
        && name == key.name;
    same.then_some(app)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ResourceKey {
        ResourceKey::new("apps", "Deployment", Some("demo"), "guestbook")
    }

    #[test]
    fn self_consistent_tracking_id() {
        let obj = json!({"metadata": {"annotations": {ARGO_TRACKING_ID: "guestbook:apps/Deployment:demo/guestbook"}}});
        assert_eq!(marker(&obj, &key(), false), Some(Marker::ArgoTrackingId { app: "guestbook".into() }));
    }

    #[test]
    fn copied_tracking_id_is_ignored() {
        let obj = json!({"metadata": {"annotations": {ARGO_TRACKING_ID: "guestbook:apps/Deployment:demo/other"}}});
        assert_eq!(marker(&obj, &key(), false), None);
    }

    #[test]
    fn core_group_tracking_id() {
        let k = ResourceKey::new("", "ConfigMap", Some("demo"), "cfg");
        let obj = json!({"metadata": {"annotations": {ARGO_TRACKING_ID: "app:/ConfigMap:demo/cfg"}}});
        assert!(marker(&obj, &k, false).is_some());
    }

    #[test]
    fn flux_labels() {
        let obj = json!({"metadata": {"labels": {FLUX_KUSTOMIZE_NAME: "apps"}}});
        assert_eq!(marker(&obj, &key(), false), Some(Marker::FluxKustomization { name: "apps".into() }));
        let obj = json!({"metadata": {"labels": {FLUX_HELM_NAME: "podinfo"}}});
        assert_eq!(marker(&obj, &key(), false), Some(Marker::FluxHelmRelease { name: "podinfo".into() }));
    }

    #[test]
    fn instance_label_is_opt_in() {
        let obj = json!({"metadata": {"labels": {ARGO_INSTANCE_LABEL: "guestbook"}}});
        assert_eq!(marker(&obj, &key(), false), None);
        assert!(marker(&obj, &key(), true).is_some());
    }
}
