//! The ValidatingWebhookConfiguration that sends driftgate exactly what it manages: a pure
//! function of the desired state and the config, printed by `driftgate webhook-config` and kept
//! current by `serve` (`admission.manageWebhookConfiguration`).
//!
//! Whatever the API server does not send cannot be locked by driftgate being down, so the
//! configuration is as narrow as the API allows:
//! - rules name only the declared resources (and `scale` of the scalable ones), in two entries,
//!   one per scope, each with its own failure policy;
//! - namespaced objects only in the namespaces Git uses, and never in `kube-system`,
//!   `kube-public`, `kube-node-lease` or driftgate's own namespace;
//! - match conditions narrow further to the declared objects' names, and leave the reconcilers'
//!   own requests out, so a sync never waits on driftgate;
//! - `*Review` kinds and `TokenRequest` are never sent, even if a source lists them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::config::{Admission, Reconcilers, WebhookFailurePolicy};
use crate::model::{Declared, ResourceKey};

/// Namespaces the API server never sends to driftgate, whatever the config says.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// The label every Namespace carries with its own name (Kubernetes 1.21 and later).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The entry for namespaced objects; the name of the single entry older releases shipped.
pub const NAMESPACED_ENTRY: &str = "validate.driftgate.dev";
/// The entry for cluster-scoped objects.
pub const CLUSTER_ENTRY: &str = "cluster.validate.driftgate.dev";

/// Above this many declared objects in one entry, the name condition is left out (the rules and
/// namespaces still apply): the configuration stays far below etcd's object size limit, and one
/// CEL evaluation far below the API server's cost limit.
pub const MAX_NAMED_OBJECTS: usize = 5000;

/// Built-in kinds with a `scale` subresource, as `(group, resource)`.
const SCALABLE: &[(&str, &str)] =
    &[("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("", "replicationcontrollers")];

/// A resource of the API, as rules name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    /// API group, empty for core.
    pub group: String,
    /// The plural resource name, e.g. `deployments`.
    pub resource: String,
    /// Whether it has a `scale` subresource.
    pub scale: bool,
}

/// What the generated configuration sends to driftgate, and what it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Declared namespaced resources.
    pub namespaced: BTreeSet<Resource>,
    /// Declared cluster-scoped resources.
    pub cluster: BTreeSet<Resource>,
    /// Namespaces the declared objects live in (system and excluded ones left out).
    pub namespaces: BTreeSet<String>,
    /// `group/resource/namespace/name` of each declared namespaced object.
    pub namespaced_objects: BTreeSet<String>,
    /// `group/resource/name` of each declared cluster-scoped object.
    pub cluster_objects: BTreeSet<String>,
    /// Declared objects that are never sent, and why: for the user to see.
    pub left_out: Vec<(ResourceKey, &'static str)>,
}

/// Learns what to send from the declared objects: resources (plurals from the CRDs in Git, else
/// the English plural Kubernetes gives built-in kinds), namespaces and names. Objects in
/// `exclude` ([`excluded_namespaces`]) are left out.
pub fn scope<'a>(objects: impl IntoIterator<Item = &'a Declared> + Clone, exclude: &[String]) -> Scope {
    let crds = crd_resources(objects.clone());
    let mut s = Scope::default();
    for d in objects {
        let key = &d.key;
        if never_sent(&key.group, &key.kind) {
            s.left_out.push((key.clone(), "a review or token request is never stored, so never guarded"));
            continue;
        }
        let resource = crds.get(&(key.group.clone(), key.kind.clone())).cloned().unwrap_or_else(|| Resource {
            group: key.group.clone(),
            resource: plural(&key.kind),
            scale: false,
        });
        let resource = Resource {
            scale: resource.scale || SCALABLE.contains(&(key.group.as_str(), resource.resource.as_str())),
            ..resource
        };
        match &key.namespace {
            Some(ns) if exclude.contains(ns) => {
                s.left_out.push((key.clone(), "its namespace is never sent to driftgate"));
            }
            Some(ns) => {
                s.namespaced_objects.insert(format!("{}/{}/{ns}/{}", resource.group, resource.resource, key.name));
                s.namespaces.insert(ns.clone());
                s.namespaced.insert(resource);
            }
            None if key.group.is_empty() && key.kind == "Namespace" && exclude.contains(&key.name) => {
                s.left_out.push((key.clone(), "a system or excluded namespace is never sent to driftgate"));
            }
            None => {
                s.cluster_objects.insert(format!("{}/{}/{}", resource.group, resource.resource, key.name));
                s.cluster.insert(resource);
            }
        }
    }
    s
}

/// Kinds the API server never persists (reviews, token requests): sending them could only hurt.
fn never_sent(group: &str, kind: &str) -> bool {
    kind.ends_with("Review") && group.ends_with(".k8s.io") || kind == "TokenRequest"
}

/// `(group, kind)` to resource for each CustomResourceDefinition in the desired state.
fn crd_resources<'a>(objects: impl IntoIterator<Item = &'a Declared>) -> BTreeMap<(String, String), Resource> {
    let mut out = BTreeMap::new();
    for d in objects {
        if d.key.kind != "CustomResourceDefinition" || d.key.group != "apiextensions.k8s.io" {
            continue;
        }
        let crd = d.object();
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
        else {
            continue;
        };
        let scale =
            spec["versions"].as_array().is_some_and(|vs| vs.iter().any(|v| v["subresources"]["scale"].is_object()));
        out.insert(
            (group.to_owned(), kind.to_owned()),
            Resource { group: group.to_owned(), resource: plural.to_owned(), scale },
        );
    }
    out
}

/// The plural resource name of a kind, as Kubernetes forms it for built-in kinds and as CRDs
/// conventionally do (the same rules as kube's `ApiResource::from_gvk`).
pub fn plural(kind: &str) -> String {
    kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("", "v1", kind)).plural
}

/// The namespaces never sent: the system ones, driftgate's own (the Service's) and the
/// configured `admission.webhook.excludeNamespaces`.
pub fn excluded_namespaces(admission: &Admission) -> Vec<String> {
    let w = &admission.webhook;
    let mut excluded: Vec<String> = SYSTEM_NAMESPACES.iter().map(|s| (*s).to_owned()).collect();
    for ns in std::iter::once(&w.service.namespace).chain(&w.exclude_namespaces) {
        if !excluded.contains(ns) {
            excluded.push(ns.clone());
        }
    }
    excluded
}

/// The configuration for `scope`, ready to apply. `ca_bundle` (base64 PEM) is left out when
/// `None`, for cert-manager's CA injector or `driftgate certs` to fill.
pub fn configuration(
    admission: &Admission,
    reconcilers: &Reconcilers,
    scope: &Scope,
    ca_bundle: Option<&str>,
) -> Value {
    let w = &admission.webhook;
    let excluded = excluded_namespaces(admission);
    let not_excluded = json!({"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": excluded});
    let mut namespaced_selector = vec![not_excluded.clone()];
    if !scope.namespaces.is_empty() {
        namespaced_selector
            .insert(0, json!({"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": scope.namespaces}));
    }
    let mut client = json!({"service": {
        "name": w.service.name,
        "namespace": w.service.namespace,
        "path": w.service.path,
        "port": w.service.port,
    }});
    if let Some(ca) = ca_bundle {
        client["caBundle"] = json!(ca);
    }
    let entry = |name: &str,
                 scope_word: &str,
                 policy: WebhookFailurePolicy,
                 resources: &BTreeSet<Resource>,
                 selector: Vec<Value>,
                 named: Option<Value>| {
        let mut conditions = reconciler_conditions(reconcilers);
        conditions.extend(named);
        json!({
            "name": name,
            "admissionReviewVersions": ["v1"],
            // the kubernetesEvents audit sink writes for real requests, never for dry runs
            "sideEffects": "NoneOnDryRun",
            "timeoutSeconds": w.timeout_seconds,
            "matchPolicy": "Equivalent",
            "failurePolicy": policy,
            "clientConfig": client,
            "namespaceSelector": {"matchExpressions": selector},
            "rules": rules(resources, scope_word),
            "matchConditions": conditions,
        })
    };
    let namespaced = entry(
        NAMESPACED_ENTRY,
        "Namespaced",
        w.failure_policy.namespaced,
        &scope.namespaced,
        namespaced_selector,
        named_condition(&scope.namespaced_objects, NAMESPACED_KEY),
    );
    // a cluster-scoped entry's namespaceSelector applies to Namespace objects only (to their
    // labels); for other cluster-scoped objects it never skips
    let cluster = entry(
        CLUSTER_ENTRY,
        "Cluster",
        w.failure_policy.cluster,
        &scope.cluster,
        vec![not_excluded],
        named_condition(&scope.cluster_objects, CLUSTER_KEY),
    );
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": w.configuration_name, "labels": {"app.kubernetes.io/name": "driftgate"}},
        "webhooks": [namespaced, cluster],
    })
}

/// One rule per API group, all versions (`matchPolicy: Equivalent` also catches other versions).
fn rules(resources: &BTreeSet<Resource>, scope_word: &str) -> Vec<Value> {
    let mut by_group: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in resources {
        let list = by_group.entry(r.group.as_str()).or_default();
        list.push(r.resource.clone());
        if r.scale {
            list.push(format!("{}/scale", r.resource));
        }
    }
    by_group
        .into_iter()
        .map(|(group, resources)| {
            json!({
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "apiGroups": [group],
                "apiVersions": ["*"],
                "resources": resources,
                "scope": scope_word,
            })
        })
        .collect()
}

/// The CEL key of a namespaced request: `group/resource/namespace/name`. Every part is guarded
/// with `has()`, because the API server omits empty fields and a missing key is an evaluation
/// error, which the failure policy would turn into a refusal.
pub const NAMESPACED_KEY: &str = "has(request.name) && has(request.namespace) && (request.resource.group + \"/\" + request.resource.resource + \"/\" + request.namespace + \"/\" + request.name)";
/// The CEL key of a cluster-scoped request: `group/resource/name`. The namespace is left out:
/// the API server sets it to a Namespace's own name on update and delete, not on create.
pub const CLUSTER_KEY: &str =
    "has(request.name) && (request.resource.group + \"/\" + request.resource.resource + \"/\" + request.name)";
/// The condition that leaves a reconciler username out, before its list.
pub const NOT_RECONCILER_USER: &str = "!(has(request.userInfo.username) && request.userInfo.username in ";
/// The condition that leaves a reconciler group's members out, before its list.
pub const NOT_RECONCILER_GROUP: &str = "!(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ";

/// `key in [...]`, or nothing when there are too many names to list.
fn named_condition(objects: &BTreeSet<String>, key: &str) -> Option<Value> {
    if objects.is_empty() || objects.len() > MAX_NAMED_OBJECTS {
        return None;
    }
    Some(json!({"name": "declared-in-git", "expression": format!("{key} in {}", cel_list(objects))}))
}

/// Reconcilers' requests are always admitted, so the API server need not ask: a sync then never
/// depends on driftgate being up.
fn reconciler_conditions(reconcilers: &Reconcilers) -> Vec<Value> {
    let mut out = Vec::new();
    if !reconcilers.usernames.is_empty() {
        out.push(json!({
            "name": "not-a-reconciler",
            "expression": format!("{NOT_RECONCILER_USER}{})", cel_list(&reconcilers.usernames)),
        }));
    }
    if !reconcilers.groups.is_empty() {
        out.push(json!({
            "name": "not-in-a-reconciler-group",
            "expression": format!("{NOT_RECONCILER_GROUP}{}))", cel_list(&reconcilers.groups)),
        }));
    }
    out
}

/// A CEL list of string literals. JSON's string syntax is a subset of CEL's double-quoted one.
fn cel_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<&String> = items.into_iter().collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

/// The parts of a live configuration that `serve` must not overwrite: each entry's
/// `clientConfig.caBundle`, which cert-manager's CA injector or `driftgate certs` put there.
pub fn keep_ca_bundles(desired: &mut Value, live: &Value) {
    let live_bundle = |name: &str| {
        let entries = live["webhooks"].as_array()?;
        let own = entries.iter().find(|e| e["name"] == name).and_then(|e| e["clientConfig"]["caBundle"].as_str());
        own.or_else(|| entries.iter().find_map(|e| e["clientConfig"]["caBundle"].as_str())).map(str::to_owned)
    };
    if let Some(entries) = desired["webhooks"].as_array_mut() {
        for e in entries {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            if e["clientConfig"].get("caBundle").is_none()
                && let Some(ca) = live_bundle(&name)
            {
                e["clientConfig"]["caBundle"] = json!(ca);
            }
        }
    }
}

/// Whether the live configuration already says what `desired` says (metadata aside).
pub fn up_to_date(desired: &Value, live: &Value) -> bool {
    desired["webhooks"] == live["webhooks"]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Manifest;
    use crate::model::load::Origin;

    fn declared(objects: &[Value]) -> Vec<Declared> {
        objects
            .iter()
            .map(|o| {
                let key = ResourceKey::of(o).unwrap();
                Declared::of(&Manifest { key, object: o.clone(), origin: Origin { file: "t.yaml".into(), line: None } })
            })
            .collect()
    }

    fn obj(api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Value {
        let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            o["metadata"]["namespace"] = json!(ns);
        }
        o
    }

    #[test]
    fn scope_lists_declared_resources_namespaces_and_names() {
        let d = declared(&[
            obj("apps/v1", "Deployment", Some("shop"), "web"),
            obj("v1", "ConfigMap", Some("shop"), "cfg"),
            obj("networking.k8s.io/v1", "Ingress", Some("front"), "web"),
            obj("v1", "Namespace", None, "shop"),
            obj("rbac.authorization.k8s.io/v1", "ClusterRole", None, "reader"),
            obj("v1", "ConfigMap", Some("kube-system"), "coredns"),
            obj("v1", "ConfigMap", Some("driftgate-system"), "cfg"),
            obj("authorization.k8s.io/v1", "SubjectAccessReview", None, "x"),
        ]);
        let s = scope(&d, &excluded_namespaces(&Admission::default()));
        let names: Vec<_> = s.namespaced.iter().map(|r| (r.group.as_str(), r.resource.as_str(), r.scale)).collect();
        assert_eq!(
            names,
            [("", "configmaps", false), ("apps", "deployments", true), ("networking.k8s.io", "ingresses", false)]
        );
        assert_eq!(s.namespaces.iter().collect::<Vec<_>>(), ["front", "shop"]);
        assert!(s.namespaced_objects.contains("apps/deployments/shop/web"));
        assert!(s.cluster_objects.contains("/namespaces/shop"));
        assert!(s.cluster_objects.contains("rbac.authorization.k8s.io/clusterroles/reader"));
        assert_eq!(s.left_out.len(), 3, "{:?}", s.left_out);
    }

    #[test]
    fn crds_in_git_name_their_plural_and_scale() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "rollouts.argoproj.io"},
            "spec": {"group": "argoproj.io", "scope": "Namespaced",
                     "names": {"kind": "Rollout", "plural": "rollouts"},
                     "versions": [{"name": "v1alpha1", "subresources": {"scale": {"specReplicasPath": ".spec.replicas"}}}]}});
        let d = declared(&[crd, obj("argoproj.io/v1alpha1", "Rollout", Some("shop"), "web")]);
        let s = scope(&d, &[]);
        assert!(s.namespaced.contains(&Resource {
            group: "argoproj.io".into(),
            resource: "rollouts".into(),
            scale: true
        }));
        assert!(s.cluster.iter().any(|r| r.resource == "customresourcedefinitions"));
    }

    #[test]
    fn plurals_follow_kubernetes() {
        for (kind, p) in [
            ("Deployment", "deployments"),
            ("StatefulSet", "statefulsets"),
            ("NetworkPolicy", "networkpolicies"),
            ("Ingress", "ingresses"),
            ("Gateway", "gateways"),
            ("Endpoints", "endpoints"),
            ("ConfigMap", "configmaps"),
        ] {
            assert_eq!(plural(kind), p);
        }
    }

    #[test]
    fn configuration_excludes_system_namespaces_and_reconcilers() {
        let d = declared(&[obj("apps/v1", "Deployment", Some("shop"), "web"), obj("v1", "Namespace", None, "shop")]);
        let admission = Admission::default();
        let c = configuration(
            &admission,
            &Reconcilers::default(),
            &scope(&d, &excluded_namespaces(&admission)),
            Some("Q0E="),
        );
        let hooks = c["webhooks"].as_array().unwrap();
        assert_eq!(hooks.len(), 2);
        let ns = &hooks[0];
        assert_eq!(ns["failurePolicy"], "Fail");
        assert_eq!(ns["clientConfig"]["caBundle"], "Q0E=");
        assert_eq!(ns["rules"][0]["resources"], json!(["deployments", "deployments/scale"]));
        let exprs = &ns["namespaceSelector"]["matchExpressions"];
        assert_eq!(exprs[0], json!({"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": ["shop"]}));
        assert_eq!(exprs[1]["values"], json!(["kube-system", "kube-public", "kube-node-lease", "driftgate-system"]));
        let conditions = ns["matchConditions"].as_array().unwrap();
        assert!(conditions[0]["expression"].as_str().unwrap().contains("argocd-application-controller"));
        assert_eq!(
            conditions[1]["expression"].as_str().unwrap(),
            format!("{NAMESPACED_KEY} in [\"apps/deployments/shop/web\"]")
        );
        assert_eq!(hooks[1]["rules"][0]["resources"], json!(["namespaces"]));
    }

    #[test]
    fn ca_bundles_already_live_are_kept() {
        let admission = Admission::default();
        let mut desired = configuration(&admission, &Reconcilers::default(), &Scope::default(), None);
        let live = json!({"webhooks": [{"name": NAMESPACED_ENTRY, "clientConfig": {"caBundle": "TElWRQ=="}}]});
        assert!(!up_to_date(&desired, &live));
        keep_ca_bundles(&mut desired, &live);
        assert_eq!(desired["webhooks"][0]["clientConfig"]["caBundle"], "TElWRQ==");
        assert_eq!(desired["webhooks"][1]["clientConfig"]["caBundle"], "TElWRQ==", "a new entry takes the CA in use");
    }
}
