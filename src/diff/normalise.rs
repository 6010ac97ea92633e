//! Normalisation: strip what the server owns, so only what people and Git say is compared.

use serde_json::{Map, Value};

use super::path::{FieldPath, Seg};

/// Metadata fields the API server sets; never compared.
const SERVER_METADATA: &[&str] =
    &["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"];

/// Annotations written by clients and controllers as bookkeeping; never compared.
const BOOKKEEPING_ANNOTATIONS: &[&str] =
    &["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

/// Returns a copy of `obj` ready for comparison.
///
/// Drops server-set metadata and bookkeeping annotations, and folds a Secret's `stringData`
/// into base64 `data` the way the API server does. `status` stays: the built-in ignore rule
/// suppresses it, so that its suppression can be explained like any other.
pub fn normalise(obj: &Value) -> Value {
    let mut out = clone_without_managed_fields(obj);
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_METADATA {
            meta.shift_remove(*f);
        }
        let empty = if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for a in BOOKKEEPING_ANNOTATIONS {
                ann.shift_remove(*a);
            }
            ann.is_empty()
        } else {
            false
        };
        if empty {
            meta.shift_remove("annotations");
        }
    }
    if is_secret(obj) {
        fold_string_data(&mut out);
    }
    out
}

/// Clones an object but not its managedFields, often its largest and never compared part.
fn clone_without_managed_fields(obj: &Value) -> Value {
    let Value::Object(top) = obj else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(top.len());
    for (k, v) in top {
        let v = match (k.as_str(), v) {
            ("metadata", Value::Object(meta)) => Value::Object(
                meta.iter()
                    .filter(|(mk, _)| mk.as_str() != "managedFields")
                    .map(|(mk, mv)| (mk.clone(), mv.clone()))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// True when `key` under `path` is a field normalisation drops: server-set metadata and
/// bookkeeping annotations. The comparison skips these in place instead of copying the object.
pub fn is_dropped(path: &FieldPath, key: &str) -> bool {
    match path.0.as_slice() {
        [Seg::Field(m)] if &**m == "metadata" => SERVER_METADATA.contains(&key),
        [Seg::Field(m), Seg::Field(a)] if &**m == "metadata" && &**a == "annotations" => {
            BOOKKEEPING_ANNOTATIONS.contains(&key)
        }
        _ => false,
    }
}

/// True when normalising `obj` changes more than the fields [`is_dropped`] skips: a Secret's
/// `stringData` must be folded into `data`.
pub fn needs_copy(obj: &Value) -> bool {
    is_secret(obj)
}

/// True for core-group Secrets.
pub fn is_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Moves `stringData` into `data` as base64; `stringData` wins on a shared key, as on the server.
fn fold_string_data(secret: &mut Value) {
    let Some(obj) = secret.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = obj.shift_remove("stringData") else {
        return;
    };
    let data = obj.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(k, Value::String(crate::encoding::base64(text.as_bytes())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_server_metadata_and_bookkeeping() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "a", "uid": "u", "resourceVersion": "1", "generation": 2,
            "creationTimestamp": "t", "managedFields": [], "selfLink": "/x",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                            "deployment.kubernetes.io/revision": "3"}}});
        assert_eq!(normalise(&live), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}));
    }

    #[test]
    fn keeps_other_annotations() {
        let live = json!({"metadata": {"annotations": {"a": "b", "deployment.kubernetes.io/revision": "3"}}});
        assert_eq!(normalise(&live), json!({"metadata": {"annotations": {"a": "b"}}}));
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"A": "eA=="}, "stringData": {"B": "not-a-real-password", "A": "y"}});
        let n = normalise(&s);
        assert_eq!(n["data"]["B"], crate::encoding::base64(b"not-a-real-password"));
        assert_eq!(n["data"]["A"], "eQ==");
        assert!(n.get("stringData").is_none());
    }
}
