//! The plan for one drifted object: a JSON patch that removes additive drift, guarded by the
//! live resourceVersion so that a concurrent change is never overwritten, then a server-side
//! apply of Git's object without the paths the ignore rules cover. The patch goes first because
//! its pointers are into the object as it was compared; the apply would move them.

use json_patch::{Patch, PatchOperation, RemoveOperation, TestOperation};
use serde::Serialize;
use serde_json::Value;

use crate::detect::State;
use crate::diff::compare::Change;
use crate::diff::ignore::Applicable;
use crate::diff::managed_fields::{Actor, ManagedFields};
use crate::diff::patch::{compare_tokens, ptr};
use crate::diff::path::tokens_of;
use crate::diff::report::{self, Reported, Settings};
use crate::model::ResourceKey;
use crate::model::ownership::{self, Owner};

/// What self-heal does to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Remove what non-reconcilers added under declared structures, then apply Git's object
    /// (server-side apply, field manager `driftgate`, forced).
    Revert {
        /// The object to apply: Git's, without ignored paths.
        apply: Value,
        /// Removals of additive drift, first testing the resourceVersion the plan was made on.
        #[serde(skip_serializing_if = "Option::is_none")]
        prune: Option<Patch>,
        /// The drifted paths, readable.
        paths: Vec<String>,
        /// The same as JSON pointers into the live object.
        pointers: Vec<String>,
        /// Whose changes are reverted.
        actors: Vec<Actor>,
    },
    /// Recreate an object deleted by hand.
    Create {
        /// The object to apply.
        apply: Value,
    },
    /// Delete an object Git no longer declares (only with `prune: true`), last, in the
    /// background, as Argo CD's PruneLast with background propagation.
    Prune,
    /// Nothing to heal.
    Nothing,
}

/// What the plan is made from: the detector's view of one object in one source.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The object's status.
    pub status: State,
    /// Git's object (absent for Extra).
    pub desired: Option<&'a Value>,
    /// The reported differences (ignored ones already suppressed).
    pub differences: &'a [Reported],
    /// The live resourceVersion the differences were computed on.
    pub resource_version: Option<&'a str>,
    /// Paths the ignore rules cover, as tokens (`Applicable::ignored_paths`).
    pub ignored: &'a [Vec<String>],
    /// Whether Extra objects are deleted.
    pub prune: bool,
}

/// Plans the heal of one object.
pub fn plan(input: Input<'_>) -> Action {
    match (input.status, input.desired) {
        (State::OutOfSync, Some(desired)) => {
            let actors = report::distinct_actors(input.differences);
            Action::Revert {
                apply: strip(desired, input.ignored),
                prune: prune_patch(input.differences, input.resource_version),
                paths: input.differences.iter().map(|d| d.path.clone()).collect(),
                pointers: input.differences.iter().map(|d| d.pointer.clone()).collect(),
                actors,
            }
        }
        (State::Missing, Some(desired)) => Action::Create { apply: strip(desired, input.ignored) },
        (State::Extra, _) if input.prune => Action::Prune,
        _ => Action::Nothing,
    }
}

/// Plans from the objects themselves: compares them (as `diff` does) and plans from the result.
/// `live` is `None` when the object does not exist.
pub fn from_objects(
    key: &ResourceKey,
    desired: Option<&Value>,
    live: Option<&Value>,
    settings: Settings<'_>,
    prune: bool,
    owner: Option<&Owner>,
) -> Action {
    if key.name.is_empty() || key.kind.is_empty() {
        return Action::Nothing;
    }
    match (desired, live) {
        (Some(d), Some(l)) => {
            let report = report::diff_resource(key, d, l, settings);
            if report.differences.is_empty() {
                return Action::Nothing;
            }
            let applicable = Applicable::new(settings.rules, key, d, l);
            let mut ignored = applicable.ignored_paths();
            // fields a managedFieldsManagers rule leaves to another manager are not applied either
            let managers = applicable.ignored_managers();
            if !managers.is_empty() {
                let managed = ManagedFields::of(l);
                for e in managed.entries.iter().filter(|e| managers.contains(&e.manager)) {
                    ignored.extend(e.paths_in(d));
                }
            }
            let rv = l.pointer("/metadata/resourceVersion").and_then(Value::as_str);
            plan(Input {
                status: State::OutOfSync,
                desired: Some(d),
                differences: &report.differences,
                resource_version: rv,
                ignored: &ignored,
                prune,
            })
        }
        (Some(d), None) => {
            let ignored = Applicable::new(settings.rules, key, d, &Value::Null).ignored_paths();
            plan(Input {
                status: State::Missing,
                desired: Some(d),
                differences: &[],
                resource_version: None,
                ignored: &ignored,
                prune,
            })
        }
        // only the source's own reconciler's objects are ever pruned
        (None, Some(l))
            if ownership::marker(l, key, settings.instance_label)
                .is_some_and(|m| owner.is_some_and(|o| o.owns(&m))) =>
        {
            plan(Input {
                status: State::Extra,
                desired: None,
                differences: &[],
                resource_version: None,
                ignored: &[],
                prune,
            })
        }
        _ => Action::Nothing,
    }
}

/// Git's object without the ignored paths: applying it never takes a field an ignore rule leaves
/// to someone else (an HPA's replicas, a webhook's injected sidecar).
pub fn strip(desired: &Value, ignored: &[Vec<String>]) -> Value {
    let mut out = desired.clone();
    for tokens in ignored {
        remove(&mut out, tokens);
    }
    out
}

fn remove(v: &mut Value, tokens: &[String]) {
    let Some((last, parents)) = tokens.split_last() else { return };
    let mut cur = v;
    for t in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(t) {
                Some(next) => next,
                None => return,
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    match cur {
        Value::Object(m) => {
            m.shift_remove(last);
        }
        Value::Array(a) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Removals of every Added difference, deepest and highest index first so that earlier
/// removals do not shift later ones, behind a `test` of the resourceVersion.
fn prune_patch(differences: &[Reported], resource_version: Option<&str>) -> Option<Patch> {
    let mut removals: Vec<Vec<String>> = differences
        .iter()
        .filter(|d| matches!(d.change, Change::Added { .. }))
        .map(|d| tokens_of(&d.pointer))
        .collect();
    if removals.is_empty() {
        return None;
    }
    removals.sort_by(|a, b| compare_tokens(b, a));
    let mut ops = Vec::with_capacity(removals.len() + 1);
    if let Some(rv) = resource_version {
        ops.push(PatchOperation::Test(TestOperation {
            path: ptr(&["metadata".to_owned(), "resourceVersion".to_owned()]),
            value: Value::String(rv.to_owned()),
        }));
    }
    ops.extend(removals.iter().map(|t| PatchOperation::Remove(RemoveOperation { path: ptr(t) })));
    Some(Patch(ops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reported(path: &str, pointer: &str, change: Change) -> Reported {
        Reported {
            path: path.into(),
            pointer: pointer.into(),
            change,
            cause: crate::diff::compare::Cause::Drift,
            actors: Vec::new(),
        }
    }

    fn desired() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}})
    }

    #[test]
    fn an_hpa_owned_replicas_is_never_applied() {
        let ignored = vec![tokens_of("/spec/replicas")];
        let diffs = [reported(
            "spec.template.spec.containers[name=web].image",
            "/spec/template/spec/containers/0/image",
            Change::Changed { live: json!("nginx:1.26"), desired: json!("nginx:1.25") },
        )];
        let Action::Revert { apply, prune, .. } = plan(Input {
            status: State::OutOfSync,
            desired: Some(&desired()),
            differences: &diffs,
            resource_version: Some("42"),
            ignored: &ignored,
            prune: false,
        }) else {
            panic!("expected a revert")
        };
        assert!(apply["spec"].get("replicas").is_none(), "{apply}");
        assert_eq!(apply["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25");
        assert!(prune.is_none(), "nothing was added");
    }

    #[test]
    fn additive_drift_is_removed_behind_a_resource_version_test() {
        let diffs = [
            reported("a", "/spec/template/spec/containers/0/env/1", Change::Added { live: json!({"name": "B"}) }),
            reported("b", "/spec/template/spec/containers/0/env/3", Change::Added { live: json!({"name": "D"}) }),
            reported("c", "/metadata/labels/hotfix", Change::Added { live: json!("yes") }),
        ];
        let Action::Revert { prune: Some(patch), .. } = plan(Input {
            status: State::OutOfSync,
            desired: Some(&desired()),
            differences: &diffs,
            resource_version: Some("42"),
            ignored: &[],
            prune: false,
        }) else {
            panic!("expected a revert with a patch")
        };
        let ops = serde_json::to_value(&patch).unwrap();
        assert_eq!(
            ops,
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "remove", "path": "/spec/template/spec/containers/0/env/3"},
                {"op": "remove", "path": "/spec/template/spec/containers/0/env/1"},
                {"op": "remove", "path": "/metadata/labels/hotfix"}
            ])
        );
        // applied to a live object, the removals leave the declared items alone
        let mut live = json!({"metadata": {"resourceVersion": "42", "labels": {"hotfix": "yes"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
                {"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}]}]}}}});
        json_patch::patch(&mut live, &patch).unwrap();
        assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["env"], json!([{"name": "A"}, {"name": "C"}]));
        // and a concurrent change (a new resourceVersion) makes the patch fail instead of clobbering it
        let mut moved = json!({"metadata": {"resourceVersion": "43", "labels": {"hotfix": "yes"}}});
        assert!(json_patch::patch(&mut moved, &patch).is_err());
    }

    #[test]
    fn missing_objects_come_back_and_extra_ones_go_only_with_prune() {
        static DESIRED: Value = Value::Null;
        let input = |status, prune| Input {
            status,
            desired: Some(&DESIRED),
            differences: &[],
            resource_version: None,
            ignored: &[],
            prune,
        };
        assert!(matches!(plan(input(State::Missing, false)), Action::Create { .. }));
        assert_eq!(plan(input(State::Extra, false)), Action::Nothing);
        assert_eq!(plan(input(State::Extra, true)), Action::Prune);
        assert_eq!(plan(input(State::Synced, true)), Action::Nothing);
        assert_eq!(plan(input(State::Unknown, true)), Action::Nothing);
    }
}
