//! Which kinds are cluster-scoped, so that a default namespace is never put on them.

use std::collections::HashSet;

use serde_json::Value;

use super::key::group_of;

/// Built-in and widely installed cluster-scoped kinds, as `(group, kind)`.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policy", "PodSecurityPolicy"),
    ("cert-manager.io", "ClusterIssuer"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

/// Knows which kinds are cluster-scoped: the built-in table plus any CRDs seen in a set.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    /// `(group, kind)` pairs declared cluster-scoped by CustomResourceDefinitions.
    crd_cluster: HashSet<(String, String)>,
    /// `(group, kind)` pairs declared namespaced by CustomResourceDefinitions.
    crd_namespaced: HashSet<(String, String)>,
}

impl Scopes {
    /// Learns the scope of every CustomResourceDefinition among `objects`.
    pub fn learn<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut scopes = Self::default();
        for obj in objects {
            let is_crd = obj.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
                && obj.get("apiVersion").and_then(Value::as_str).is_some_and(|v| group_of(v) == "apiextensions.k8s.io");
            if !is_crd {
                continue;
            }
            let spec = obj.get("spec");
            let group = spec.and_then(|s| s.get("group")).and_then(Value::as_str);
            let kind = spec.and_then(|s| s.pointer("/names/kind")).and_then(Value::as_str);
            let scope = spec.and_then(|s| s.get("scope")).and_then(Value::as_str);
            if let (Some(g), Some(k)) = (group, kind) {
                let entry = (g.to_owned(), k.to_owned());
                if scope == Some("Cluster") {
                    scopes.crd_cluster.insert(entry);
                } else {
                    scopes.crd_namespaced.insert(entry);
                }
            }
        }
        scopes
    }

    /// True when objects of this kind live outside namespaces.
    pub fn is_cluster_scoped(&self, group: &str, kind: &str) -> bool {
        let key = (group.to_owned(), kind.to_owned());
        if self.crd_cluster.contains(&key) {
            return true;
        }
        if self.crd_namespaced.contains(&key) {
            return false;
        }
        CLUSTER_SCOPED.iter().any(|(g, k)| *g == group && *k == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_table() {
        let s = Scopes::default();
        assert!(s.is_cluster_scoped("", "Namespace"));
        assert!(s.is_cluster_scoped("rbac.authorization.k8s.io", "ClusterRole"));
        assert!(!s.is_cluster_scoped("apps", "Deployment"));
        assert!(!s.is_cluster_scoped("", "ConfigMap"));
    }

    #[test]
    fn crds_teach_scope() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}}});
        let s = Scopes::learn([&crd]);
        assert!(s.is_cluster_scoped("example.com", "Widget"));
        assert!(!s.is_cluster_scoped("example.com", "Gadget"));
    }
}
