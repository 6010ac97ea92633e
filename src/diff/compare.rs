//! The comparison of one live object with its desired state, on declared fields.
//!
//! Git's manifest says which fields matter: every field it declares must match, list items are
//! matched by merge key, and server defaults are not drift. Fields Git does not declare are
//! drift only when someone other than a reconciler set them and no default explains them
//! (additive drift, which Argo CD's default diff cannot see).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::defaults;
use super::managed_fields::ManagedFields;
use super::merge_keys::{self, KeyField};
use super::normalise;
use super::path::FieldPath;
use super::quantity;

/// How one field differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// Both sides have the field with different values.
    Changed {
        /// The live value.
        live: Value,
        /// The value Git declares.
        desired: Value,
    },
    /// Git declares the field; the live object lacks it.
    Missing {
        /// The value Git declares.
        desired: Value,
    },
    /// The live object has a field or list item that Git does not declare, set by a non-reconciler.
    Added {
        /// The live value.
        live: Value,
    },
}

/// One difference at one path.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where.
    pub path: FieldPath,
    /// What.
    pub change: Change,
}

/// What the comparison needs to know besides the two objects.
pub struct Context<'a> {
    /// The object's kind, for the defaults table.
    pub kind: &'a str,
    /// The object's group: the defaults fallback applies to built-in groups only.
    pub group: &'a str,
    /// The live object's managedFields.
    pub managed: &'a ManagedFields<'a>,
    /// Field managers whose writes are the reconcilers'.
    pub reconcilers: &'a [String],
}

impl Context<'_> {
    fn is_reconciler(&self, manager: &str) -> bool {
        self.reconcilers.iter().any(|r| r == manager)
    }

    /// True when some entry by a non-reconciler exists, so undeclared fields can be attributed.
    fn has_foreign_writers(&self) -> bool {
        self.managed.entries.iter().any(|e| !self.is_reconciler(e.manager))
    }
}

/// Compares `live` against `desired`. Server-set metadata and bookkeeping annotations are
/// skipped in place; callers fold a Secret's `stringData` first (see [`normalise::needs_copy`]).
pub fn compare(desired: &Value, live: &Value, ctx: &Context<'_>) -> Vec<Difference> {
    let mut walker = Walker {
        ctx,
        live_root: live,
        attribute: if ctx.managed.is_empty() {
            Attribution::Defaults { enabled: defaults::is_builtin_group(ctx.group) }
        } else {
            Attribution::ManagedFields { foreign: ctx.has_foreign_writers() }
        },
        path: FieldPath::default(),
        out: Vec::new(),
    };
    walker.declared(desired, Some(live), true);
    walker.out
}

/// How undeclared fields are judged.
#[derive(Clone, Copy)]
enum Attribution {
    /// The live object has managedFields; `foreign` says whether any non-reconciler wrote.
    ManagedFields { foreign: bool },
    /// No managedFields: a field is drift when no default explains it, for built-in kinds only.
    Defaults { enabled: bool },
}

/// Walks both objects at once. `path` is a stack: pushed on the way down, popped on the way
/// up, and cloned only when a difference is recorded.
struct Walker<'a, 'c> {
    ctx: &'a Context<'c>,
    live_root: &'a Value,
    attribute: Attribution,
    path: FieldPath,
    out: Vec<Difference>,
}

/// Whether every leaf of an undeclared subtree is drift, none is, or some are.
enum Outcome {
    All,
    None,
    Some(Vec<Difference>),
}

impl Walker<'_, '_> {
    fn declared(&mut self, d: &Value, l: Option<&Value>, root: bool) {
        match d {
            Value::Object(dm) => match l {
                Some(Value::Object(lm)) => {
                    for (k, dv) in dm {
                        if root && (k == "apiVersion" || k == "kind") || normalise::is_dropped(&self.path, k) {
                            continue;
                        }
                        self.path.push_field(k);
                        self.declared(dv, lookup(lm, k), false);
                        self.path.pop();
                    }
                    for (k, lv) in lm {
                        if lookup(dm, k).is_none() && !normalise::is_dropped(&self.path, k) {
                            self.path.push_field(k);
                            self.undeclared_root(lv);
                            self.path.pop();
                        }
                    }
                }
                None | Some(Value::Null) => {
                    if !dm.is_empty() {
                        self.push(Change::Missing { desired: d.clone() });
                    }
                }
                Some(other) => self.push(Change::Changed { live: other.clone(), desired: d.clone() }),
            },
            Value::Array(da) => match l {
                Some(Value::Array(la)) => self.list(da, la),
                None | Some(Value::Null) => {
                    if !da.is_empty() {
                        self.push(Change::Missing { desired: d.clone() });
                    }
                }
                Some(other) => self.push(Change::Changed { live: other.clone(), desired: d.clone() }),
            },
            // A declared null states no value: whatever is live is judged as undeclared.
            Value::Null => {
                if let Some(lv) = l {
                    self.undeclared_root(lv);
                }
            }
            scalar => match l {
                None | Some(Value::Null) => self.push(Change::Missing { desired: d.clone() }),
                Some(lv) => {
                    if !scalar_eq(scalar, lv, &self.path) {
                        self.push(Change::Changed { live: lv.clone(), desired: d.clone() });
                    }
                }
            },
        }
    }

    fn list(&mut self, da: &[Value], la: &[Value]) {
        let key = merge_keys::merge_key_at(&self.path);
        let keyed = key.and_then(|k| {
            let dk: Option<Vec<_>> = da.iter().map(|i| merge_keys::item_key(i, k)).collect();
            let lk: Option<Vec<_>> = la.iter().map(|i| merge_keys::item_key(i, k)).collect();
            Some((k, dk?, lk?))
        });
        let Some((key, dkeys, lkeys)) = keyed else {
            self.positional(da, la);
            return;
        };
        let mut matched = vec![false; la.len()];
        for (j, (ditem, dkey)) in da.iter().zip(&dkeys).enumerate() {
            let label = merge_keys::label(key, dkey);
            if let Some(i) = lkeys.iter().position(|lk| lk == dkey) {
                matched[i] = true;
                self.path.push_item(label, Some(i), Some(j));
                self.declared(ditem, Some(&la[i]), false);
            } else {
                self.path.push_item(label, None, Some(j));
                self.push(Change::Missing { desired: ditem.clone() });
            }
            self.path.pop();
        }
        for (i, litem) in la.iter().enumerate() {
            if !matched[i] {
                self.path.push_item(merge_keys::label(key, &lkeys[i]), Some(i), None);
                self.extra_item(litem);
                self.path.pop();
            }
        }
    }

    /// Lists without merge keys are atomic: same length compares item by item, otherwise the
    /// whole list differs.
    fn positional(&mut self, da: &[Value], la: &[Value]) {
        if da.len() == la.len() {
            for (i, (ditem, litem)) in da.iter().zip(la).enumerate() {
                self.path.push_item(i.to_string(), Some(i), Some(i));
                self.declared(ditem, Some(litem), false);
                self.path.pop();
            }
        } else {
            self.push(Change::Changed { live: Value::Array(la.to_vec()), desired: Value::Array(da.to_vec()) });
        }
    }

    /// An item of a declared keyed list that Git does not declare.
    fn extra_item(&mut self, item: &Value) {
        let drift = match self.attribute {
            Attribution::ManagedFields { .. } => {
                let writers = self.ctx.managed.touching(self.live_root, &self.path);
                writers.is_empty() || writers.iter().any(|e| !self.ctx.is_reconciler(e.manager))
            }
            Attribution::Defaults { .. } => true,
        };
        // an item the server adds whole (the ServiceAccount plugin's volume, default tolerations)
        if drift && !self.explained(item) {
            self.push(Change::Added { live: item.clone() });
        }
    }

    /// True when the defaults table explains every leaf of `v`, whoever wrote it.
    fn explained(&mut self, v: &Value) -> bool {
        if defaults::is_empty(v) || defaults::explains_subtree(self.ctx.group, self.ctx.kind, &self.path.shape()) {
            return true;
        }
        match v {
            Value::Object(m) => m.iter().all(|(k, cv)| {
                self.path.push_field(k);
                let ok = self.explained(cv);
                self.path.pop();
                ok
            }),
            Value::Array(a) => a.iter().enumerate().all(|(i, cv)| {
                self.path.push_item(i.to_string(), Some(i), None);
                let ok = self.explained(cv);
                self.path.pop();
                ok
            }),
            _ => defaults::explains(self.ctx.group, self.ctx.kind, &self.path.shape(), v),
        }
    }

    fn undeclared_root(&mut self, lv: &Value) {
        let skip = match self.attribute {
            Attribution::ManagedFields { foreign } => !foreign,
            Attribution::Defaults { enabled } => !enabled,
        };
        if skip {
            return;
        }
        match self.undeclared(lv) {
            Outcome::All => self.push(Change::Added { live: lv.clone() }),
            Outcome::Some(diffs) => self.out.extend(diffs),
            Outcome::None => {}
        }
    }

    fn undeclared(&mut self, lv: &Value) -> Outcome {
        if defaults::is_empty(lv) || defaults::explains_subtree(self.ctx.group, self.ctx.kind, &self.path.shape()) {
            return Outcome::None;
        }
        let mut all = true;
        let mut any = false;
        let mut whole = Vec::new();
        let mut parts = Vec::new();
        let mut child = |w: &mut Self, cv: &Value| match w.undeclared(cv) {
            Outcome::All => {
                any = true;
                whole.push(Difference { path: w.path.clone(), change: Change::Added { live: cv.clone() } });
            }
            Outcome::None => all = false,
            Outcome::Some(d) => {
                all = false;
                any = true;
                parts.extend(d);
            }
        };
        match lv {
            Value::Object(m) => {
                for (k, v) in m {
                    if normalise::is_dropped(&self.path, k) {
                        continue;
                    }
                    self.path.push_field(k);
                    child(self, v);
                    self.path.pop();
                }
            }
            Value::Array(a) => {
                let key: Option<&[KeyField]> = merge_keys::merge_key_at(&self.path);
                for (i, v) in a.iter().enumerate() {
                    let label = key
                        .and_then(|k| merge_keys::item_key(v, k).map(|vals| merge_keys::label(k, &vals)))
                        .unwrap_or_else(|| i.to_string());
                    self.path.push_item(label, Some(i), None);
                    child(self, v);
                    self.path.pop();
                }
            }
            _ => {
                return if self.leaf_is_drift(lv) { Outcome::All } else { Outcome::None };
            }
        }
        if all && any {
            Outcome::All
        } else if any {
            whole.extend(parts);
            Outcome::Some(whole)
        } else {
            Outcome::None
        }
    }

    fn leaf_is_drift(&self, lv: &Value) -> bool {
        if defaults::explains(self.ctx.group, self.ctx.kind, &self.path.shape(), lv) {
            return false;
        }
        match self.attribute {
            Attribution::ManagedFields { .. } => {
                self.ctx.managed.owners(self.live_root, &self.path).any(|e| !self.ctx.is_reconciler(e.manager))
            }
            Attribution::Defaults { enabled } => enabled,
        }
    }

    fn push(&mut self, change: Change) {
        self.out.push(Difference { path: self.path.clone(), change });
    }
}

/// Looks a key up; small maps (nearly all of a manifest's) are scanned, which beats hashing.
fn lookup<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= 16 { map.iter().find_map(|(k, v)| (k == key).then_some(v)) } else { map.get(key) }
}

/// Scalar equality: numbers by value, quantities by amount where the path holds quantities.
fn scalar_eq(d: &Value, l: &Value, path: &FieldPath) -> bool {
    if d == l {
        return true;
    }
    if let (Value::Number(a), Value::Number(b)) = (d, l)
        && a.as_f64() == b.as_f64()
    {
        return true;
    }
    quantity::is_quantity_path(&path.shape()) && quantity::equal(d, l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(desired: &Value, live: &Value) -> Vec<(String, Change)> {
        let managed = ManagedFields::of(live);
        let live = super::super::normalise::normalise(live);
        let ctx = Context {
            kind: "Deployment",
            group: "apps",
            managed: &managed,
            reconcilers: &["argocd-controller".to_owned()],
        };
        compare(desired, &live, &ctx).into_iter().map(|d| (d.path.to_string(), d.change)).collect()
    }

    fn deploy(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": 2, "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "a"}}, "spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80}],
                 "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"}}}]}}}})
    }

    #[test]
    fn identical_is_clean() {
        assert!(run(&deploy("nginx:1"), &deploy("nginx:1")).is_empty());
    }

    #[test]
    fn server_defaults_are_not_drift() {
        let mut live = deploy("nginx:1");
        live["spec"]["progressDeadlineSeconds"] = json!(600);
        live["spec"]["template"]["spec"]["dnsPolicy"] = json!("ClusterFirst");
        let c = &mut live["spec"]["template"]["spec"]["containers"][0];
        c["imagePullPolicy"] = json!("IfNotPresent");
        c["ports"][0]["protocol"] = json!("TCP");
        c["resources"]["limits"]["cpu"] = json!("1");
        c["resources"]["limits"]["memory"] = json!("1024Mi");
        live["status"] = json!({"replicas": 2});
        assert!(run(&deploy("nginx:1"), &live).is_empty());
    }

    #[test]
    fn changed_value() {
        let d = run(&deploy("nginx:1"), &deploy("nginx:2"));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].image");
    }

    #[test]
    fn added_env_without_managed_fields_is_drift() {
        let mut live = deploy("nginx:1");
        live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "DEBUG", "value": "1"}]);
        let d = run(&deploy("nginx:1"), &live);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].env");
        assert!(matches!(d[0].1, Change::Added { .. }));
    }

    #[test]
    fn added_item_to_declared_list() {
        let mut desired = deploy("nginx:1");
        desired["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
        let d = run(&desired, &live);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].env[name=B]");
    }

    #[test]
    fn missing_item_and_reordered_items() {
        let mut desired = deploy("nginx:1");
        desired["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "B", "value": "2"}]);
        let d = run(&desired, &live);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].env[name=A]");
        assert!(matches!(d[0].1, Change::Missing { .. }));
        live["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]);
        assert!(run(&desired, &live).is_empty());
    }

    #[test]
    fn positional_lists_are_atomic() {
        let mut desired = deploy("nginx:1");
        desired["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b"]);
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b", "c"]);
        let d = run(&desired, &live);
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].args");
    }

    #[test]
    fn managed_fields_attribute_undeclared_fields() {
        let mut live = deploy("nginx:1");
        live["metadata"]["labels"] = json!({"owner": "alice", "team": "x"});
        live["spec"]["template"]["spec"]["dnsPolicy"] = json!("Default");
        live["metadata"]["managedFields"] = json!([
            {"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
            {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:owner": {}}}}}
        ]);
        let d = run(&deploy("nginx:1"), &live);
        // the label alice set is drift; the reconciler's label and the unowned dnsPolicy are not
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].0, "metadata.labels.owner");
    }

    #[test]
    fn creator_owned_defaults_are_not_drift() {
        let mut live = deploy("nginx:1");
        live["spec"]["revisionHistoryLimit"] = json!(10);
        live["spec"]["template"]["spec"]["schedulerName"] = json!("default-scheduler");
        live["metadata"]["managedFields"] = json!([
            {"manager": "kubectl-create", "operation": "Update", "fieldsV1": {"f:spec": {"f:revisionHistoryLimit": {}, "f:template": {"f:spec": {"f:schedulerName": {}}}}}}
        ]);
        assert!(run(&deploy("nginx:1"), &live).is_empty());
        live["spec"]["revisionHistoryLimit"] = json!(3);
        assert_eq!(run(&deploy("nginx:1"), &live).len(), 1);
    }
}
