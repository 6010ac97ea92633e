//! Secret values never leave driftgate: reports show a Secret's keys, not its values.

use serde_json::Value;

use super::compare::{Change, Difference};
use super::path::Seg;

/// What a masked value reads as when both sides agree.
pub const MASK: &str = "<secret>";
/// What the live side of a changed secret value reads as.
pub const MASK_LIVE: &str = "<secret: live value>";
/// What the desired side of a changed secret value reads as.
pub const MASK_DESIRED: &str = "<secret: desired value>";

/// True when `path` lies under a Secret's `data` or `stringData`.
fn is_secret_value(path: &[Seg]) -> bool {
    matches!(path.first(), Some(Seg::Field(f)) if &**f == "data" || &**f == "stringData")
}

/// Masks every value below a Secret's data map, keeping its keys.
fn mask_all(v: &Value, mask: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, _)| (k.clone(), Value::String(mask.into()))).collect()),
        _ => Value::String(mask.into()),
    }
}

/// Masks the values of differences inside a Secret's data.
pub fn differences(diffs: &mut [Difference]) {
    for d in diffs {
        if !is_secret_value(&d.path.0) {
            continue;
        }
        let whole_map = d.path.0.len() == 1;
        d.change = match &d.change {
            Change::Changed { live, desired } if whole_map => Change::Changed {
                live: mask_pairwise(live, desired, true),
                desired: mask_pairwise(desired, live, false),
            },
            Change::Changed { .. } => Change::Changed { live: MASK_LIVE.into(), desired: MASK_DESIRED.into() },
            Change::Missing { desired } => Change::Missing { desired: mask_all(desired, MASK_DESIRED) },
            Change::Added { live } => Change::Added { live: mask_all(live, MASK_LIVE) },
        };
    }
}

/// Masks the data maps of a Secret's live and desired copies, so that a key whose values agree
/// reads the same on both sides and a key whose values differ reads differently.
pub fn object_pair(live: &mut Value, desired: &mut Value) {
    for field in ["data", "stringData"] {
        let l = live.get(field).cloned().unwrap_or(Value::Null);
        let d = desired.get(field).cloned().unwrap_or(Value::Null);
        if let Some(slot) = live.get_mut(field) {
            *slot = mask_pairwise(&l, &d, true);
        }
        if let Some(slot) = desired.get_mut(field) {
            *slot = mask_pairwise(&d, &l, false);
        }
    }
}

fn mask_pairwise(this: &Value, other: &Value, is_live: bool) -> Value {
    let changed = if is_live { MASK_LIVE } else { MASK_DESIRED };
    match this {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let same = other.get(k) == Some(v);
                    (k.clone(), Value::String(if same { MASK } else { changed }.into()))
                })
                .collect(),
        ),
        Value::Null => Value::Null,
        _ => Value::String(changed.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::path::FieldPath;
    use serde_json::json;

    #[test]
    fn values_masked_keys_kept() {
        let mut live = json!({"data": {"A": "c2VjcmV0", "B": "eA=="}});
        let mut desired = json!({"data": {"A": "c2VjcmV0", "B": "eQ=="}});
        object_pair(&mut live, &mut desired);
        assert_eq!(live, json!({"data": {"A": MASK, "B": MASK_LIVE}}));
        assert_eq!(desired, json!({"data": {"A": MASK, "B": MASK_DESIRED}}));
    }

    #[test]
    fn differences_masked() {
        let mut d = vec![
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: FieldPath::default().field("data").field("EXTRA"),
                change: Change::Added { live: json!("c2VjcmV0") },
            },
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: FieldPath::default().field("data").field("A"),
                change: Change::Changed { live: json!("x"), desired: json!("y") },
            },
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: FieldPath::default().field("type"),
                change: Change::Changed { live: json!("Opaque"), desired: json!("tls") },
            },
        ];
        differences(&mut d);
        let text = format!("{d:?}");
        assert!(!text.contains("c2VjcmV0") && !text.contains("\"x\""), "{text}");
        assert!(text.contains("Opaque"));
    }
}
