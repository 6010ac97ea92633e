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
/// Flux kustomize-controller's label for the Kustomization's namespace.
pub const FLUX_KUSTOMIZE_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
/// Flux helm-controller's ownership label.
pub const FLUX_HELM_NAME: &str = "helm.toolkit.fluxcd.io/name";
/// Flux helm-controller's label for the HelmRelease's namespace.
pub const FLUX_HELM_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";

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
        /// The Kustomization's namespace, from its namespace label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    /// A Flux HelmRelease's label.
    FluxHelmRelease {
        /// The HelmRelease name.
        name: String,
        /// The HelmRelease's namespace, from its namespace label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
}

/// Who reconciles a source: the identity its objects' ownership markers carry. Exactly one
/// field is set. Extra objects, and what heal and prune touch, are limited to this identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Owner {
    /// An Argo CD Application, as its tracking-id (or, when enabled, instance label) names it;
    /// for an application outside Argo CD's namespace that is `namespace_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd_application: Option<String>,
    /// A Flux Kustomization, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux_kustomization: Option<String>,
    /// A Flux HelmRelease, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux_helm_release: Option<String>,
}

impl Owner {
    /// True when `marker` names this owner. A Flux marker without its namespace label matches
    /// on the name alone.
    pub fn owns(&self, marker: &Marker) -> bool {
        let flux = |want: &Option<String>, name: &str, namespace: &Option<String>| {
            want.as_deref()
                .and_then(|w| w.split_once('/'))
                .is_some_and(|(ns, n)| n == name && namespace.as_deref().is_none_or(|m| m == ns))
        };
        match marker {
            Marker::ArgoTrackingId { app } | Marker::ArgoInstanceLabel { app } => {
                self.argocd_application.as_deref() == Some(app.as_str())
            }
            Marker::FluxKustomization { name, namespace } => flux(&self.flux_kustomization, name, namespace),
            Marker::FluxHelmRelease { name, namespace } => flux(&self.flux_helm_release, name, namespace),
        }
    }

    /// What is wrong with this owner, if anything: exactly one identity, Flux ones as
    /// `namespace/name`. The message names the field.
    pub fn problem(&self) -> Option<String> {
        let set = [&self.argocd_application, &self.flux_kustomization, &self.flux_helm_release]
            .iter()
            .filter(|f| f.is_some())
            .count();
        if set != 1 {
            return Some("give exactly one of argocdApplication, fluxKustomization, fluxHelmRelease".into());
        }
        for (field, value) in
            [("fluxKustomization", &self.flux_kustomization), ("fluxHelmRelease", &self.flux_helm_release)]
        {
            if let Some(v) = value
                && !v.split_once('/').is_some_and(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
            {
                return Some(format!("{field}: {v:?} is not namespace/name"));
            }
        }
        None
    }
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
        let namespace = label(FLUX_KUSTOMIZE_NAMESPACE).map(str::to_owned);
        return Some(Marker::FluxKustomization { name: name.to_owned(), namespace });
    }
    if let Some(name) = label(FLUX_HELM_NAME) {
        let namespace = label(FLUX_HELM_NAMESPACE).map(str::to_owned);
        return Some(Marker::FluxHelmRelease { name: name.to_owned(), namespace });
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
        assert_eq!(
            marker(&obj, &key(), false),
            Some(Marker::FluxKustomization { name: "apps".into(), namespace: None })
        );
        let obj = json!({"metadata": {"labels": {FLUX_HELM_NAME: "podinfo", FLUX_HELM_NAMESPACE: "web"}}});
        assert_eq!(
            marker(&obj, &key(), false),
            Some(Marker::FluxHelmRelease { name: "podinfo".into(), namespace: Some("web".into()) })
        );
    }

    #[test]
    fn instance_label_is_opt_in() {
        let obj = json!({"metadata": {"labels": {ARGO_INSTANCE_LABEL: "guestbook"}}});
        assert_eq!(marker(&obj, &key(), false), None);
        assert!(marker(&obj, &key(), true).is_some());
    }

    #[test]
    fn owners_match_their_own_markers_only() {
        let argo = Owner { argocd_application: Some("guestbook".into()), ..Owner::default() };
        assert!(argo.owns(&Marker::ArgoTrackingId { app: "guestbook".into() }));
        assert!(!argo.owns(&Marker::ArgoTrackingId { app: "other".into() }));
        assert!(!argo.owns(&Marker::FluxKustomization { name: "guestbook".into(), namespace: None }));
        let flux = Owner { flux_kustomization: Some("flux-system/apps".into()), ..Owner::default() };
        assert!(flux.owns(&Marker::FluxKustomization { name: "apps".into(), namespace: Some("flux-system".into()) }));
        assert!(!flux.owns(&Marker::FluxKustomization { name: "apps".into(), namespace: Some("team-b".into()) }));
        assert!(flux.owns(&Marker::FluxKustomization { name: "apps".into(), namespace: None }));
        assert!(!flux.owns(&Marker::FluxHelmRelease { name: "apps".into(), namespace: None }));
    }

    #[test]
    fn owner_problems_name_the_field() {
        assert!(Owner::default().problem().is_some());
        let bad = Owner { flux_kustomization: Some("apps".into()), ..Owner::default() };
        assert_eq!(bad.problem().as_deref(), Some("fluxKustomization: \"apps\" is not namespace/name"));
        let two =
            Owner { argocd_application: Some("a".into()), flux_helm_release: Some("n/b".into()), ..Owner::default() };
        assert!(two.problem().is_some());
    }
}
