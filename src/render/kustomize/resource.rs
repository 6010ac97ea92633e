//! A resource as the renderer carries it: the object, and what kustomize remembers about it.

use serde_json::{Map, Value};

use crate::model::Origin;
use crate::model::key::group_of;

/// One object being rendered.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub object: Value,
    /// Its name when first loaded or generated: name references in other objects use it.
    pub original_name: String,
    /// Its namespace when first loaded.
    pub original_namespace: Option<String>,
    /// A generated ConfigMap or Secret whose name gets the content hash at the end.
    pub needs_hash: bool,
    /// Where it came from: the manifest's file and line, or the generating kustomization.
    pub origin: Origin,
}

impl Resource {
    /// Wraps an object loaded from `origin`.
    pub fn new(object: Value, origin: Origin) -> Self {
        let original_name = name_of(&object).to_owned();
        let original_namespace = namespace_of(&object).map(str::to_owned);
        Self { object, original_name, original_namespace, needs_hash: false, origin }
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        self.object.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// The API group (`""` for core).
    pub fn group(&self) -> &str {
        group_of(self.api_version())
    }

    /// The API version without group.
    pub fn version(&self) -> &str {
        let v = self.api_version();
        v.rsplit_once('/').map_or(v, |(_, v)| v)
    }

    /// `apiVersion` as written.
    pub fn api_version(&self) -> &str {
        self.object.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }

    /// The current name.
    pub fn name(&self) -> &str {
        name_of(&self.object)
    }

    /// The current namespace.
    pub fn namespace(&self) -> Option<&str> {
        namespace_of(&self.object)
    }

    /// Renames the object.
    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut().insert("name".into(), Value::String(name.to_owned()));
    }

    /// Moves the object to a namespace.
    pub fn set_namespace(&mut self, ns: &str) {
        self.metadata_mut().insert("namespace".into(), Value::String(ns.to_owned()));
    }

    /// The labels, or an empty map.
    pub fn labels(&self) -> Map<String, Value> {
        self.object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The annotations, or an empty map.
    pub fn annotations(&self) -> Map<String, Value> {
        self.object
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// `metadata`, created if absent.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        metadata_mut(&mut self.object)
    }

    /// The identity kustomize uses to detect clashes: group, kind, namespace, name.
    pub fn id(&self) -> (String, String, String, String) {
        (
            self.group().to_owned(),
            self.kind().to_owned(),
            self.namespace().unwrap_or("").to_owned(),
            self.name().to_owned(),
        )
    }

    /// `Kind/name` (with namespace when set), for messages.
    pub fn describe(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind(), self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

// direct lookups: `Value::pointer` unescapes every token, and names are read very often
fn name_of(obj: &Value) -> &str {
    obj.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("")
}

fn namespace_of(obj: &Value) -> Option<&str> {
    obj.get("metadata").and_then(|m| m.get("namespace")).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `metadata` of an object, created if absent or not a map.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else { unreachable!("made a map above") };
    child_map(map, "metadata")
}

/// A map child, created if absent or not a map.
pub fn child_map<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made a map above"),
    }
}

/// Sorts map keys at every level, as `kubectl kustomize` prints them.
pub fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            for (_, child) in m.iter_mut() {
                sort_keys(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}
