//! Name references: after prefixes, suffixes and hash suffixes changed names, every field that
//! referred to an object by its old name is pointed at its new one.

use serde_json::Value;

use super::fieldspec;
use super::resource::Resource;

/// Where pod specs sit, per kind.
const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("PodTemplate", "template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// For a referenced kind, the fields of a pod spec that name it.
fn pod_spec_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "ConfigMap" => &[
            "volumes[]/configMap/name",
            "volumes[]/projected/sources[]/configMap/name",
            "containers[]/env[]/valueFrom/configMapKeyRef/name",
            "initContainers[]/env[]/valueFrom/configMapKeyRef/name",
            "ephemeralContainers[]/env[]/valueFrom/configMapKeyRef/name",
            "containers[]/envFrom[]/configMapRef/name",
            "initContainers[]/envFrom[]/configMapRef/name",
            "ephemeralContainers[]/envFrom[]/configMapRef/name",
        ],
        "Secret" => &[
            "volumes[]/secret/secretName",
            "volumes[]/projected/sources[]/secret/name",
            "volumes[]/csi/nodePublishSecretRef/name",
            "containers[]/env[]/valueFrom/secretKeyRef/name",
            "initContainers[]/env[]/valueFrom/secretKeyRef/name",
            "ephemeralContainers[]/env[]/valueFrom/secretKeyRef/name",
            "containers[]/envFrom[]/secretRef/name",
            "initContainers[]/envFrom[]/secretRef/name",
            "ephemeralContainers[]/envFrom[]/secretRef/name",
            "imagePullSecrets[]/name",
        ],
        "ServiceAccount" => &["serviceAccountName", "serviceAccount"],
        "PersistentVolumeClaim" => &["volumes[]/persistentVolumeClaim/claimName"],
        "PriorityClass" => &["priorityClassName"],
        _ => &[],
    }
}

/// Other referrers: (referenced kind, referrer kind, path, condition on the referring node).
const OTHER: &[(&str, &str, &str)] = &[
    ("Secret", "Ingress", "spec/tls[]/secretName"),
    ("Secret", "ServiceAccount", "imagePullSecrets[]/name"),
    ("Secret", "ServiceAccount", "secrets[]/name"),
    ("Service", "Ingress", "spec/rules[]/http/paths[]/backend/service/name"),
    ("Service", "Ingress", "spec/rules[]/http/paths[]/backend/serviceName"),
    ("Service", "Ingress", "spec/defaultBackend/service/name"),
    ("Service", "Ingress", "spec/backend/serviceName"),
    ("Service", "StatefulSet", "spec/serviceName"),
    ("Service", "APIService", "spec/service/name"),
    ("Service", "ValidatingWebhookConfiguration", "webhooks[]/clientConfig/service/name"),
    ("Service", "MutatingWebhookConfiguration", "webhooks[]/clientConfig/service/name"),
    ("PersistentVolume", "PersistentVolumeClaim", "spec/volumeName"),
    ("StorageClass", "PersistentVolumeClaim", "spec/storageClassName"),
    ("StorageClass", "PersistentVolume", "spec/storageClassName"),
    ("StorageClass", "StatefulSet", "spec/volumeClaimTemplates[]/spec/storageClassName"),
    ("IngressClass", "Ingress", "spec/ingressClassName"),
];

/// Kinds an HPA's `scaleTargetRef` can name.
const SCALABLE: &[&str] = &["Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"];

/// A renamed object: what it was called, what it is called now, and where it lives.
struct Renamed {
    kind: String,
    original: String,
    current: String,
    namespace: Option<String>,
}

/// Rewrites every reference to a renamed object.
pub fn fix(resources: &mut [Resource]) {
    let renamed: Vec<Renamed> = resources
        .iter()
        .filter(|r| r.name() != r.original_name)
        .map(|r| Renamed {
            kind: r.kind().to_owned(),
            original: r.original_name.clone(),
            current: r.name().to_owned(),
            namespace: r.namespace().map(str::to_owned),
        })
        .collect();
    if renamed.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let ns = r.namespace().map(str::to_owned);
        let kind = r.kind().to_owned();
        let rename = |referenced: &str, node: &mut Value| {
            let Some(old) = node.as_str() else { return };
            if let Some(new) = lookup(&renamed, referenced, old, ns.as_deref()) {
                *node = Value::String(new);
            }
        };
        if let Some((_, prefix)) = POD_SPECS.iter().find(|(k, _)| *k == kind) {
            for referenced in ["ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "PriorityClass"] {
                for field in pod_spec_fields(referenced) {
                    let path = format!("{prefix}/{field}");
                    fieldspec::visit(&mut r.object, &path, false, &mut |n| rename(referenced, n));
                }
            }
        }
        for (referenced, referrer, path) in OTHER {
            if *referrer == kind {
                fieldspec::visit(&mut r.object, path, false, &mut |n| rename(referenced, n));
            }
        }
        match kind.as_str() {
            "RoleBinding" | "ClusterRoleBinding" => {
                fieldspec::visit(&mut r.object, "roleRef", false, &mut |role| {
                    let Some(k) = role.get("kind").and_then(Value::as_str).map(str::to_owned) else {
                        return;
                    };
                    if let Some(name) = role.get_mut("name") {
                        rename(&k, name);
                    }
                });
                fieldspec::visit(&mut r.object, "subjects[]", false, &mut |s| {
                    if s.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                        return;
                    }
                    let sns = s.get("namespace").and_then(Value::as_str).map(str::to_owned);
                    let Some(old) = s.get("name").and_then(Value::as_str) else {
                        return;
                    };
                    if let Some(new) = lookup(&renamed, "ServiceAccount", old, sns.as_deref())
                        && let Some(m) = s.as_object_mut()
                    {
                        m.insert("name".into(), Value::String(new));
                    }
                });
            }
            "HorizontalPodAutoscaler" => {
                fieldspec::visit(&mut r.object, "spec/scaleTargetRef", false, &mut |t| {
                    let Some(k) = t.get("kind").and_then(Value::as_str).map(str::to_owned) else {
                        return;
                    };
                    if SCALABLE.contains(&k.as_str())
                        && let Some(name) = t.get_mut("name")
                    {
                        rename(&k, name);
                    }
                });
            }
            _ => {}
        }
    }
}

/// The new name of the `kind` once called `old`, seen from `namespace`: a candidate in the same
/// namespace wins; a single candidate elsewhere (or cluster-scoped) is used; several are ambiguous.
fn lookup(renamed: &[Renamed], kind: &str, old: &str, namespace: Option<&str>) -> Option<String> {
    let candidates: Vec<&Renamed> = renamed.iter().filter(|r| r.kind == kind && r.original == old).collect();
    let same_ns: Vec<&Renamed> = candidates.iter().copied().filter(|r| r.namespace.as_deref() == namespace).collect();
    match (same_ns.as_slice(), candidates.as_slice()) {
        ([one], _) | ([], [one]) => Some(one.current.clone()),
        _ => None,
    }
}
