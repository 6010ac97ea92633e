//! Server-side diff: what a server-side-apply dry run says the object would become, read back
//! through the shape of the Git manifest.
//!
//! Defaults and mutating webhooks can change a declared field on its way in (an image pinned to
//! a digest, a quantity rewritten, a label injected). Comparing Git's value with live then
//! reports drift that no one made. The dry run shows what Git's manifest becomes once the API
//! server has applied it; taking that value for every field Git declares gives a desired object
//! that compares like-for-like with live, as Argo CD's ServerSideDiff and Flux do.

use serde_json::{Map, Value};

use crate::diff::merge_keys;

/// The desired object with every declared value replaced by the one the dry run predicts.
/// Fields the prediction lacks keep Git's value; list items are matched by their merge key.
pub fn predicted_desired(desired: &Value, predicted: &Value) -> Value {
    let mut shape = Vec::new();
    project(desired, predicted, &mut shape)
}

/// `shape` holds the map keys down to here, with `[]` for list items, as the merge-key table reads it.
fn project<'a>(desired: &'a Value, predicted: &Value, shape: &mut Vec<&'a str>) -> Value {
    match (desired, predicted) {
        (Value::Object(d), Value::Object(p)) => {
            let mut out = Map::with_capacity(d.len());
            for (k, dv) in d {
                shape.push(k);
                let v = match p.get(k) {
                    Some(pv) => project(dv, pv, shape),
                    None => dv.clone(),
                };
                shape.pop();
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        (Value::Array(d), Value::Array(p)) => {
            let keys = merge_keys::merge_key(shape);
            shape.push("[]");
            let out = d
                .iter()
                .enumerate()
                .map(|(i, dv)| {
                    let matched = match keys {
                        Some(keys) => {
                            let id = merge_keys::item_key(dv, keys);
                            p.iter().find(|pv| id.is_some() && merge_keys::item_key(pv, keys) == id)
                        }
                        None if d.len() == p.len() => p.get(i),
                        None => None,
                    };
                    match matched {
                        Some(pv) => project(dv, pv, shape),
                        None => dv.clone(),
                    }
                })
                .collect();
            shape.pop();
            out
        }
        (_, p) if !p.is_object() && !p.is_array() && !desired.is_object() && !desired.is_array() => p.clone(),
        _ => desired.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_fields_take_the_predicted_values() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.25", "resources": {"limits": {"cpu": "1000m"}}}
        ]}}}});
        let predicted = json!({"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"}, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "proxy:1"},
            {"name": "web", "image": "registry.local/nginx@sha256:abc", "imagePullPolicy": "IfNotPresent",
             "resources": {"limits": {"cpu": "1"}}}
        ]}}}});
        let got = predicted_desired(&desired, &predicted);
        assert_eq!(
            got,
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "registry.local/nginx@sha256:abc", "resources": {"limits": {"cpu": "1"}}}
            ]}}}})
        );
    }

    #[test]
    fn what_the_prediction_lacks_keeps_gits_value() {
        let desired = json!({"data": {"a": "1", "b": "2"}});
        let predicted = json!({"data": {"a": "x"}});
        assert_eq!(predicted_desired(&desired, &predicted), json!({"data": {"a": "x", "b": "2"}}));
    }
}
