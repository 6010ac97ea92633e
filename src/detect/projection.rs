//! The compact form in which the detector keeps a live object between watch events.
//!
//! A watched object is held as one buffer of compact JSON, without `status`, the
//! `last-applied-configuration` annotation and the metadata the comparison never reads. A
//! 9 KB Deployment kept as a `serde_json::Value` costs about 110 KiB; as a projection it costs
//! its byte length. It is parsed again only to re-evaluate the object under a new revision.

use serde_json::{Map, Value};

use crate::model::ResourceKey;
use crate::model::ownership::{self, Marker};

/// Metadata the comparison reads; everything else in `metadata` is dropped from the projection.
const KEPT_METADATA: &[&str] =
    &["name", "namespace", "labels", "annotations", "managedFields", "ownerReferences", "finalizers"];
/// Annotations that are never compared and can be large.
const DROPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// One live object as the detector keeps it. Its managedFields field sets are kept as base64 text
/// (`"fieldsV1": "eyJmOnNwZWMiOnt9fQ=="`), which `diff::managed_fields` decodes on first use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// `metadata.resourceVersion`, for ordering and for guarded writes.
    pub resource_version: Box<str>,
    /// The GitOps ownership marker, read once on arrival.
    pub marker: Option<Marker>,
    /// Text, not bytes: parsing from a `str` skips serde_json's UTF-8 check of every string.
    body: Box<str>,
}

impl Projection {
    /// Projects a live object, consuming it so that the large parts are dropped, not copied.
    pub fn of(object: Value, key: &ResourceKey, instance_label: bool) -> Self {
        let mut body = Vec::new();
        let (resource_version, marker) = Self::write(object, key, instance_label, &mut body);
        Self::from_parts(resource_version, marker, &body)
    }

    /// Projects a live object into the end of `buffer`, for lists: the bodies of a whole list
    /// are gathered in one buffer and kept with [`Projection::from_parts`] once the list's
    /// objects are gone, so they sit side by side in memory rather than between freed objects.
    pub fn write(
        mut object: Value,
        key: &ResourceKey,
        instance_label: bool,
        buffer: &mut Vec<u8>,
    ) -> (Box<str>, Option<Marker>) {
        let marker = ownership::marker(&object, key, instance_label);
        let mut resource_version = Box::from("");
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                if let Some(Value::String(rv)) = meta.get("resourceVersion") {
                    resource_version = rv.as_str().into();
                }
                meta.retain(|k, _| KEPT_METADATA.contains(&k.as_str()));
                // a field set is a deep tree of small maps that most comparisons never read:
                // kept as one string, it costs a string to parse back instead of dozens of maps
                if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
                    for entry in entries {
                        if let Some(fields) = entry.get_mut("fieldsV1").filter(|f| f.is_object()) {
                            // base64, not JSON text: no quotes to escape, so it parses back at memchr speed
                            *fields = Value::String(crate::encoding::base64(fields.to_string().as_bytes()));
                        }
                    }
                }
                if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
                    annotations.retain(|k, _| !DROPPED_ANNOTATIONS.contains(&k.as_str()));
                }
            }
        }
        // serialising a Value cannot fail: its keys are strings and it holds no floats that JSON cannot carry
        let _ = serde_json::to_writer(&mut *buffer, &object);
        (resource_version, marker)
    }

    /// A projection from what [`Projection::write`] returned and the bytes it wrote.
    pub fn from_parts(resource_version: Box<str>, marker: Option<Marker>, body: &[u8]) -> Self {
        // serde_json writes UTF-8; checked once here rather than at every parse
        let body = std::str::from_utf8(body).unwrap_or("{}").into();
        Self { resource_version, marker, body }
    }

    /// The projected object, parsed again.
    pub fn object(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// Bytes held for the object body.
    pub fn size(&self) -> usize {
        self.body.len() + self.resource_version.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_comparison_reads_and_drops_the_rest() {
        let key = ResourceKey::new("apps", "Deployment", Some("demo"), "web");
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "demo", "uid": "u", "resourceVersion": "215", "generation": 3,
                "creationTimestamp": "2026-11-28T01:59:48Z",
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "team": "a",
                                "argocd.argoproj.io/tracking-id": "shop:apps/Deployment:demo/web"},
                "managedFields": [{"manager": "kubectl-edit", "operation": "Update"}]
            },
            "spec": {"replicas": 2},
            "status": {"replicas": 2}
        });
        let p = Projection::of(live, &key, false);
        assert_eq!(&*p.resource_version, "215");
        assert_eq!(p.marker, Some(Marker::ArgoTrackingId { app: "shop".into() }));
        assert_eq!(
            p.object(),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {
                    "name": "web", "namespace": "demo", "labels": {"app": "web"},
                    "annotations": {"team": "a", "argocd.argoproj.io/tracking-id": "shop:apps/Deployment:demo/web"},
                    "managedFields": [{"manager": "kubectl-edit", "operation": "Update"}]
                },
                "spec": {"replicas": 2}
            })
        );
    }
}
