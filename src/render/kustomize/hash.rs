//! The content hash kustomize appends to generated ConfigMap and Secret names.
//!
//! It must match kustomize byte for byte, or every generated name would differ: SHA-256 of the
//! Go `json.Marshal` encoding of `{data, kind, name}` (ConfigMap, plus `binaryData`) or
//! `{data, kind, name, type}` (Secret, plus `stringData`), keys sorted, HTML characters escaped;
//! the first ten hex digits, with `0 1 3 a e` replaced by `g h k m t`. The name is always empty.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The suffix for a generated object.
pub fn suffix(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let field = |k: &str| obj.get(k).filter(|v| v.is_object()).cloned();
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    m.insert("kind", Value::String(kind.to_owned()));
    // kustomize looks the name up as one key called "metadata/name", which never exists, so the
    // name always hashes as "" (kustomize's api/hasher); matching that keeps names identical
    m.insert("name", Value::String(String::new()));
    // a missing map hashes as the empty string, as kustomize's lookup of an absent path does
    m.insert("data", field("data").unwrap_or_else(|| Value::String(String::new())));
    if kind == "Secret" {
        m.insert("type", obj.get("type").cloned().unwrap_or_else(|| Value::String(String::new())));
        if let Some(sd) = field("stringData") {
            m.insert("stringData", sd);
        }
    } else if let Some(bd) = field("binaryData") {
        m.insert("binaryData", bd);
    }
    let encoded = go_json(&m);
    let digest = Sha256::digest(encoded.as_bytes());
    let hex = crate::encoding::hex(&digest[..5]);
    hex.chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Go's `json.Marshal`: map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_json(m: &BTreeMap<&str, Value>) -> String {
    let sorted = sorted(&serde_json::to_value(m).unwrap_or(Value::Null));
    let text = serde_json::to_string(&sorted).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_kustomize_for_the_seed_overlay() {
        // `kubectl kustomize` named this ConfigMap myapp-config-c2c6g75b49 (tests/fixtures/seed-live)
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "myapp-config", "namespace": "myapp-prod"},
            "data": {"LOG_LEVEL": "info", "ENV": "production"}});
        assert_eq!(suffix(&cm), "c2c6g75b49");
    }
}
