//! RFC 6902 patches from live to desired, built from the differences.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};

use super::compare::{Change, Difference};
use super::path::{Seg, Side};

/// The JSON patch that turns live into desired on every given difference.
///
/// Replacements and additions come first; removals follow, deepest and highest index first, so
/// that earlier operations never shift the indices later ones use.
pub fn live_to_desired(diffs: &[Difference]) -> Patch {
    let mut ops = Vec::new();
    let mut removals: Vec<Vec<String>> = Vec::new();
    for d in diffs {
        match &d.change {
            Change::Changed { desired, .. } => {
                if let Some(t) = d.path.tokens(Side::Live) {
                    ops.push(PatchOperation::Replace(ReplaceOperation { path: ptr(&t), value: desired.clone() }));
                }
            }
            Change::Missing { desired } => {
                if let Some(t) = add_tokens(d) {
                    ops.push(PatchOperation::Add(AddOperation { path: ptr(&t), value: desired.clone() }));
                }
            }
            Change::Added { .. } => {
                if let Some(t) = d.path.tokens(Side::Live) {
                    removals.push(t);
                }
            }
        }
    }
    removals.sort_by(|a, b| compare_tokens(b, a));
    ops.extend(removals.iter().map(|t| PatchOperation::Remove(RemoveOperation { path: ptr(t) })));
    Patch(ops)
}

/// Where an addition goes in live: a missing list item is appended with `-`.
fn add_tokens(d: &Difference) -> Option<Vec<String>> {
    let (last, parents) = d.path.0.split_last()?;
    let mut tokens = crate::diff::path::FieldPath(parents.to_vec()).tokens(Side::Live)?;
    match last {
        Seg::Field(k) => tokens.push(k.to_string()),
        Seg::Item { live: Some(i), .. } => tokens.push(i.to_string()),
        Seg::Item { live: None, .. } => tokens.push("-".into()),
    }
    Some(tokens)
}

/// A JSON pointer from its tokens.
pub fn ptr(tokens: &[String]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().map(String::as_str))
}

/// Orders token lists with numeric tokens compared as numbers.
pub fn compare_tokens(a: &[String], b: &[String]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = match (x.parse::<usize>(), y.parse::<usize>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::path::FieldPath;
    use serde_json::json;

    #[test]
    fn removals_go_last_highest_index_first() {
        let env = FieldPath::default().field("env");
        let diffs = vec![
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: env.item("name=A".into(), Some(1), None),
                change: Change::Added { live: json!({}) },
            },
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: env.item("name=B".into(), Some(3), None),
                change: Change::Added { live: json!({}) },
            },
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: FieldPath::default().field("image"),
                change: Change::Changed { live: json!("a"), desired: json!("b") },
            },
            Difference {
                cause: crate::diff::compare::Cause::Drift,
                path: env.item("name=C".into(), None, Some(0)),
                change: Change::Missing { desired: json!({"name": "C"}) },
            },
        ];
        let p = serde_json::to_value(live_to_desired(&diffs)).unwrap();
        assert_eq!(
            p,
            json!([
                {"op": "replace", "path": "/image", "value": "b"},
                {"op": "add", "path": "/env/-", "value": {"name": "C"}},
                {"op": "remove", "path": "/env/3"},
                {"op": "remove", "path": "/env/1"},
            ])
        );
    }
}
