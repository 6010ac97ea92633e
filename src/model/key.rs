//! The version-independent identity of an object.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies an object independently of its API version: `group/kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group without version; `""` for the core group.
    pub group: String,
    /// The object's kind, e.g. `Deployment`.
    pub kind: String,
    /// The namespace; `None` for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ResourceKey {
    /// Builds a key from parts.
    pub fn new(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            group: group.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// Reads the key of an object, or says which field is missing.
    pub fn of(obj: &Value) -> Result<Self, &'static str> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).ok_or("apiVersion")?;
        let kind = obj.get("kind").and_then(Value::as_str).ok_or("kind")?;
        let meta = obj.get("metadata").ok_or("metadata")?;
        let name = meta.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or("metadata.name")?;
        let namespace = meta.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty());
        Ok(Self::new(group_of(api_version), kind, namespace, name))
    }

    /// The form people read, like kubectl's: `Deployment.apps myapp-prod/myapp`, `ConfigMap demo/cfg`.
    pub fn human(&self) -> String {
        let kind = if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) };
        match &self.namespace {
            Some(ns) => format!("{kind} {ns}/{}", self.name),
            None => format!("{kind} {}", self.name),
        }
    }
}

/// The group part of an `apiVersion`: `apps/v1` gives `apps`, `v1` gives `""`.
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

impl fmt::Display for ResourceKey {
    /// Argo CD's resource key form: `group/Kind/namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.group, self.kind, self.namespace.as_deref().unwrap_or(""), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_version() {
        let a = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}});
        let b =
            json!({"apiVersion": "apps/v1beta2", "kind": "Deployment", "metadata": {"name": "x", "namespace": "n"}});
        assert_eq!(ResourceKey::of(&a), ResourceKey::of(&b));
        assert_eq!(ResourceKey::of(&a).unwrap().to_string(), "apps/Deployment/n/x");
    }

    #[test]
    fn core_group_is_empty() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let k = ResourceKey::of(&a).unwrap();
        assert_eq!(k.group, "");
        assert_eq!(k.to_string(), "/ConfigMap//x");
        assert_eq!(k.human(), "ConfigMap x");
        let d = ResourceKey::new("apps", "Deployment", Some("n"), "x");
        assert_eq!(d.human(), "Deployment.apps n/x");
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(ResourceKey::of(&json!({"kind": "X"})), Err("apiVersion"));
        assert_eq!(ResourceKey::of(&json!({"apiVersion": "v1", "kind": "X", "metadata": {}})), Err("metadata.name"));
    }
}
