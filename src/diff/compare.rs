//! The comparison of one live object with its desired state, on declared fields.
//!
//! Git's manifest says which fields matter: every field it declares must match, list items are
//! matched by merge key, and server defaults are not drift. Fields Git does not declare are
//! drift only when someone other than a reconciler set them and no default explains them
//! (additive drift, which Argo CD's default diff cannot see).

use std::borrow::Cow;
use std::hash::Hasher as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::defaults;
use super::managed_fields::ManagedFields;
use super::merge_keys::{self, KeyField};
use super::normalise;
use super::path::{FieldPath, Seg, Side};
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

/// Why live departs from Git at a field: someone edited the cluster, or Git moved and the
/// reconciler has not applied it yet. See `docs/semantics.md`, "Two facts, not one".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// The field was last written by someone who is not a reconciler (or no evidence says
    /// otherwise): a hand edit, with a culprit.
    Drift,
    /// The field is the reconciler's (it owns it, or Git changed it since the object was last in
    /// sync): its next apply fixes it.
    PendingSync,
}

impl Cause {
    /// The word people read: `drift` or `pending sync`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Drift => "drift",
            Self::PendingSync => "pending sync",
        }
    }
}

/// One difference at one path.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where.
    pub path: FieldPath,
    /// What.
    pub change: Change,
    /// Drift or pending sync.
    pub cause: Cause,
}

impl Difference {
    /// A hand-edit difference (the cause when nothing says otherwise).
    pub fn drift(path: FieldPath, change: Change) -> Self {
        Self { path, change, cause: Cause::Drift }
    }
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
    /// Git's object as the reconciler last applied it, when known (the detector's memory of the
    /// last Synced judgement, or a reconciler's `last-applied-configuration`): a field Git changed
    /// since is pending sync, not drift.
    pub baseline: Option<&'a Value>,
    /// Whether differences carry the values that differ. Without them (a caller that needs
    /// only paths, such as admission's "what did this update change") no value is copied.
    /// Values are kept whatever this says when managedFields or a baseline judge a difference's
    /// cause, which compares them.
    pub values: bool,
}

impl Context<'_> {
    fn is_reconciler(&self, manager: &str) -> bool {
        self.reconcilers.iter().any(|r| r == manager)
    }
}

/// Compares `live` against `desired`. Server-set metadata and bookkeeping annotations are
/// skipped in place; callers fold a Secret's `stringData` first (see [`normalise::needs_copy`]).
pub fn compare(desired: &Value, live: &Value, ctx: &Context<'_>) -> Vec<Difference> {
    let mut walker = Walker {
        ctx,
        values: ctx.values || ctx.baseline.is_some() || !ctx.managed.is_empty(),
        defaults: defaults::Lookup::new(ctx.group, ctx.kind),
        hashes: Vec::with_capacity(16),
        root_hash: defaults::ShapeHash::default(),
        live_root: live,
        desired_root: desired,
        attribute: if ctx.managed.is_empty() {
            Attribution::Defaults { enabled: defaults::is_builtin_group(ctx.group) }
        } else {
            Attribution::ManagedFields
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
    /// The live object has managedFields: a field's owner says who set it.
    ManagedFields,
    /// No managedFields: a field is drift when no default explains it, for built-in kinds only.
    Defaults { enabled: bool },
}

/// Walks both objects at once. `path` is a stack: pushed on the way down, popped on the way
/// up, and cloned only when a difference is recorded.
struct Walker<'a, 'c> {
    ctx: &'a Context<'c>,
    values: bool,
    defaults: defaults::Lookup<'a>,
    /// The hash of each prefix of `path`'s shape, kept as `path` is pushed and popped.
    hashes: Vec<defaults::ShapeHash>,
    root_hash: defaults::ShapeHash,
    live_root: &'a Value,
    desired_root: &'a Value,
    attribute: Attribution,
    path: FieldPath,
    out: Vec<Difference>,
}

/// Whether every leaf of an undeclared subtree differs for one cause, none does, or some do.
enum Outcome {
    All(Cause),
    None,
    Some(Vec<Difference>),
}

impl Walker<'_, '_> {
    /// Descends into a map key: the path and its shape's hash.
    fn enter_field(&mut self, key: &str) {
        let hash = self.shape_hash().with(key);
        self.hashes.push(hash);
        self.path.push_field(key);
    }

    /// Descends into a list item.
    fn enter_item(&mut self, label: String, live: Option<usize>, desired: Option<usize>) {
        let hash = self.shape_hash().with("[]");
        self.hashes.push(hash);
        self.path.push_item(label, live, desired);
    }

    fn leave(&mut self) {
        self.hashes.pop();
        self.path.pop();
    }

    /// The hash of the path's shape, for the defaults table.
    fn shape_hash(&self) -> &defaults::ShapeHash {
        // the root's is the first, and is never popped
        self.hashes.last().unwrap_or(&self.root_hash)
    }

    /// A value for a difference: a copy, or null when the caller asked for paths only.
    fn kept(&self, v: &Value) -> Value {
        if self.values { v.clone() } else { Value::Null }
    }

    fn kept_list(&self, items: &[Value]) -> Value {
        if self.values { Value::Array(items.to_vec()) } else { Value::Null }
    }

    fn declared(&mut self, d: &Value, l: Option<&Value>, root: bool) {
        // Git declares a zero value (`restartPolicy: ""`, `finalizers: []`) and the server put
        // its default there: the same as not declaring it
        if let Some(lv) = l
            && (is_zero(d) || defaults::is_empty(d))
            && !defaults::is_empty(lv)
            && lv != d
            && self.explained(lv)
        {
            return;
        }
        // a field of a feature gate the cluster has off: the server drops it
        if l.is_none() && self.path.with_shape(|s| defaults::dropped_by_feature_gate(self.ctx.group, s)) {
            return;
        }
        match d {
            Value::Object(dm) => match l {
                Some(Value::Object(lm)) => {
                    for (k, dv) in dm {
                        if root && (k == "apiVersion" || k == "kind")
                            || normalise::is_dropped(&self.path, k)
                            || is_key_part(&self.path, k)
                        {
                            continue;
                        }
                        self.enter_field(k);
                        self.declared(dv, lookup(lm, k), false);
                        self.leave();
                    }
                    for (k, lv) in lm {
                        if lookup(dm, k).is_none()
                            && !normalise::is_dropped(&self.path, k)
                            && !is_key_part(&self.path, k)
                        {
                            self.enter_field(k);
                            self.undeclared_root(lv);
                            self.leave();
                        }
                    }
                }
                None | Some(Value::Null) => {
                    if !dm.is_empty() {
                        self.push(Change::Missing { desired: self.kept(d) });
                    }
                }
                Some(other) => self.push(Change::Changed { live: self.kept(other), desired: self.kept(d) }),
            },
            Value::Array(da) => match l {
                Some(Value::Array(la)) => self.list(da, la),
                None | Some(Value::Null) => {
                    if !da.is_empty() {
                        self.push(Change::Missing { desired: self.kept(d) });
                    }
                }
                Some(other) => self.push(Change::Changed { live: self.kept(other), desired: self.kept(d) }),
            },
            // A declared null states no value: whatever is live is judged as undeclared; the
            // server stores a null Secret value or string field as its zero value.
            Value::Null => {
                if let Some(lv) = l
                    && !is_zero(lv)
                {
                    self.undeclared_root(lv);
                }
            }
            scalar => match l {
                // the server drops omitempty zero values (`minReadySeconds: 0`, `readOnly: false`,
                // `subPath: ""`): absent and zero are the same value
                // a null value is the zero value (Argo CD reads a null Secret value as "")
                Some(Value::Null) if is_zero(scalar) => {}
                None if is_zero(scalar) && !in_string_map(&self.path) => {}
                None | Some(Value::Null) => self.push(Change::Missing { desired: self.kept(d) }),
                Some(lv) => {
                    if !scalar_eq(scalar, lv, &self.path) {
                        self.push(Change::Changed { live: self.kept(lv), desired: self.kept(d) });
                    }
                }
            },
        }
    }

    fn list<'v>(&mut self, da: &'v [Value], la: &'v [Value]) {
        let key = merge_keys::merge_key_at(&self.path);
        // sized up front: collecting into an Option grows the list from nothing
        let keys = |items: &'v [Value], k: &[merge_keys::KeyField]| {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(merge_keys::item_key(i, k)?);
            }
            Some(out)
        };
        let keyed = key.and_then(|k| Some((k, keys(da, k)?, keys(la, k)?)));
        let Some((key, dkeys, lkeys)) = keyed else {
            self.positional(da, la);
            return;
        };
        let mut matched = vec![false; la.len()];
        // a long list is matched through a hash of its keys, so the work stays linear in its
        // length (a review may carry 30,000 ports); a short one by scanning, which is faster
        let index = (lkeys.len() > SCAN_LIMIT).then(|| {
            let mut index = rustc_hash::FxHashMap::with_capacity_and_hasher(lkeys.len(), rustc_hash::FxBuildHasher);
            for (i, k) in lkeys.iter().enumerate() {
                index.entry(key_hash(k)).or_insert(i);
            }
            index
        });
        let find = |dkey: &merge_keys::ItemKey<'_>| {
            let first = || lkeys.iter().position(|lk| lk == dkey);
            match &index {
                // the item with that hash, or (two keys with one hash) the first with that key
                Some(index) => match index.get(&key_hash(dkey)) {
                    Some(&i) if &lkeys[i] == dkey => Some(i),
                    Some(_) => first(),
                    None => None,
                },
                None => first(),
            }
        };
        for (j, (ditem, dkey)) in da.iter().zip(&dkeys).enumerate() {
            let label = merge_keys::label(key, dkey);
            if let Some(i) = find(dkey) {
                matched[i] = true;
                self.enter_item(label, Some(i), Some(j));
                self.declared(ditem, Some(&la[i]), false);
            } else {
                self.enter_item(label, None, Some(j));
                self.push(Change::Missing { desired: self.kept(ditem) });
            }
            self.leave();
        }
        for (i, litem) in la.iter().enumerate() {
            if !matched[i] {
                self.enter_item(merge_keys::label(key, &lkeys[i]), Some(i), None);
                self.extra_item(litem);
                self.leave();
            }
        }
    }

    /// Lists without merge keys are atomic: same length compares item by item, otherwise the
    /// whole list differs.
    fn positional(&mut self, da: &[Value], la: &[Value]) {
        if da.len() == la.len() {
            for (i, (ditem, litem)) in da.iter().zip(la).enumerate() {
                self.enter_item(i.to_string(), Some(i), Some(i));
                self.declared(ditem, Some(litem), false);
                self.leave();
            }
        } else {
            self.push(Change::Changed { live: self.kept_list(la), desired: self.kept_list(da) });
        }
    }

    /// An item of a declared keyed list that Git does not declare: drift when a non-reconciler
    /// wrote it, pending sync when only a reconciler did (Git removed it; the next apply will),
    /// nothing when no manager claims it (the server's own).
    fn extra_item(&mut self, item: &Value) {
        let cause = match self.attribute {
            Attribution::ManagedFields => {
                let writers = self.ctx.managed.touching(self.live_root, &self.path);
                if writers.iter().any(|e| !self.ctx.is_reconciler(e.manager)) {
                    Some(Cause::Drift)
                } else if writers.is_empty() {
                    None
                } else {
                    Some(Cause::PendingSync)
                }
            }
            Attribution::Defaults { .. } => Some(Cause::Drift),
        };
        // an item the server adds whole (the ServiceAccount plugin's volume, default tolerations)
        if let Some(cause) = cause
            && !self.explained(item)
        {
            self.push_as(Change::Added { live: self.kept(item) }, cause);
        }
    }

    /// True when the defaults table explains every leaf of `v`, whoever wrote it.
    fn explained(&self, v: &Value) -> bool {
        if defaults::is_empty(v) {
            return true;
        }
        // the walk below asks only the path's shape: it is kept as a stack of borrowed keys and
        // a running hash, with no path step built per field of an item the server may have added
        let mut shape = Vec::with_capacity(self.path.0.len() + 8);
        shape.extend(self.path.0.iter().map(|s| match s {
            Seg::Field(k) => &**k,
            Seg::Item { .. } => "[]",
        }));
        let hash = self.shape_hash().clone();
        self.explained_at(&mut shape, &hash, v)
    }

    fn explained_at<'s>(&'s self, shape: &mut Vec<&'s str>, hash: &defaults::ShapeHash, v: &'s Value) -> bool {
        if defaults::is_empty(v) || self.runtime_class_scheduling(shape) {
            return true;
        }
        // a leaf's one question covers the subtree rows too (a row for any value explains it)
        if !matches!(v, Value::Object(_) | Value::Array(_)) {
            return self.defaults.explains_hashed(hash, shape, v);
        }
        if self.defaults.explains_subtree_hashed(hash, shape) {
            return true;
        }
        let child = |shape: &mut Vec<&'s str>, step: &'s str, cv: &'s Value| {
            shape.push(step);
            let ok = self.explained_at(shape, &hash.with(step), cv);
            shape.pop();
            ok
        };
        match v {
            Value::Object(m) => m.iter().all(|(k, cv)| child(shape, k, cv)),
            Value::Array(a) => a.iter().all(|cv| child(shape, "[]", cv)),
            _ => false,
        }
    }

    /// A field Git does not declare. Maps and keyed lists are reported key by key and item by
    /// item, the finest paths an ignore rule names; deeper, a subtree whose every leaf differs
    /// for one cause is reported whole.
    fn undeclared_root(&mut self, lv: &Value) {
        if let Attribution::Defaults { enabled: false } = self.attribute {
            return;
        }
        // maps and keyed lists are reported entry by entry; anything else as `undeclared` judges it
        let entries = match lv {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty() && merge_keys::merge_key_at(&self.path).is_some(),
            _ => false,
        };
        let outcome = if !entries {
            self.undeclared(lv)
        } else if self.explained_subtree() {
            Outcome::None
        } else {
            self.children(lv, true).unwrap_or(Outcome::None)
        };
        match outcome {
            Outcome::All(cause) => self.push_as(Change::Added { live: self.kept(lv) }, cause),
            Outcome::Some(diffs) => self.out.extend(diffs),
            Outcome::None => {}
        }
    }

    fn explained_subtree(&self) -> bool {
        self.path.with_shape(|s| {
            self.defaults.explains_subtree_hashed(self.shape_hash(), s) || self.runtime_class_scheduling(s)
        })
    }

    /// The RuntimeClass admission plugin copies its class's `scheduling` (a nodeSelector and
    /// tolerations) into a Pod that names one: values from another object, which no table can
    /// hold, so on such a Pod those entries are the server's.
    fn runtime_class_scheduling(&self, shape: &[&str]) -> bool {
        self.ctx.kind == "Pod"
            && self.ctx.group.is_empty()
            && matches!(shape, ["spec", "nodeSelector" | "tolerations", _])
            && self
                .live_root
                .pointer("/spec/runtimeClassName")
                .is_some_and(|v| v.as_str().is_some_and(|n| !n.is_empty()))
    }

    fn undeclared(&mut self, lv: &Value) -> Outcome {
        // what no manager owns is the server's (defaults, allocations): `leaf_cause` finds no
        // owner for it, so no field set is read for it unless no default explains it
        if defaults::is_empty(lv) || self.explained_subtree() {
            return Outcome::None;
        }
        match lv {
            Value::Object(_) | Value::Array(_) => self.children(lv, false).unwrap_or(Outcome::None),
            _ => self.leaf_cause(lv).map_or(Outcome::None, Outcome::All),
        }
    }

    /// Judges each child of an undeclared map or list; the subtree is `All` when every child is
    /// wholly added for the same cause, unless `each` asks for the children one by one.
    fn children<'v>(&mut self, lv: &'v Value, each: bool) -> Option<Outcome> {
        let mut common: Option<Option<Cause>> = None;
        let mut all = true;
        let mut any = false;
        // children wholly added: their step, value and cause. Differences are made of them only
        // when the subtree is not reported whole, which is the common case
        let mut whole: Vec<(Seg, &'v Value, Cause)> = Vec::new();
        let mut parts = Vec::new();
        let mut child = |w: &mut Self, cv: &'v Value| match w.undeclared(cv) {
            Outcome::All(cause) => {
                any = true;
                match common {
                    None => common = Some(Some(cause)),
                    Some(Some(c)) if c != cause => common = Some(None),
                    _ => {}
                }
                if let Some(step) = w.path.0.last() {
                    whole.push((step.clone(), cv, cause));
                }
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
                    self.enter_field(k);
                    child(self, v);
                    self.leave();
                }
            }
            Value::Array(a) => {
                let key: Option<&[KeyField]> = merge_keys::merge_key_at(&self.path);
                for (i, v) in a.iter().enumerate() {
                    let label = key
                        .and_then(|k| merge_keys::item_key(v, k).map(|vals| merge_keys::label(k, &vals)))
                        .unwrap_or_else(|| i.to_string());
                    self.enter_item(label, Some(i), None);
                    child(self, v);
                    self.leave();
                }
            }
            _ => return None,
        }
        Some(match (all && any && !each, common) {
            (true, Some(Some(cause))) => Outcome::All(cause),
            _ if any => {
                let mut out: Vec<Difference> = whole
                    .into_iter()
                    .map(|(step, cv, cause)| {
                        let mut path = self.path.clone();
                        path.0.push(step);
                        Difference { path, change: Change::Added { live: self.kept(cv) }, cause }
                    })
                    .collect();
                out.extend(parts);
                Outcome::Some(out)
            }
            _ => Outcome::None,
        })
    }

    /// Why an undeclared leaf differs, if it does: a value no default explains, written by a
    /// non-reconciler (drift) or only by a reconciler (pending sync: Git dropped it and the
    /// reconciler's next apply removes it).
    fn leaf_cause(&self, lv: &Value) -> Option<Cause> {
        if self.path.with_shape(|s| self.defaults.explains_hashed(self.shape_hash(), s, lv)) {
            return None;
        }
        match self.attribute {
            Attribution::ManagedFields => {
                let mut owned = false;
                for e in self.ctx.managed.owners(self.live_root, &self.path) {
                    if !self.ctx.is_reconciler(e.manager) {
                        return Some(Cause::Drift);
                    }
                    owned = true;
                }
                owned.then_some(Cause::PendingSync)
            }
            Attribution::Defaults { enabled } => enabled.then_some(Cause::Drift),
        }
    }

    /// Records a difference at a declared field, classified by who owns the field now.
    fn push(&mut self, change: Change) {
        let cause = self.declared_cause(&change);
        self.push_as(change, cause);
    }

    fn push_as(&mut self, change: Change, cause: Cause) {
        self.out.push(Difference { path: self.path.clone(), change, cause });
    }

    /// A declared field that differs. Pending sync when a reconciler owns it (a reconciler owns a
    /// field only while it holds the value that reconciler applied: anyone else's write takes it
    /// away), when nobody owns it (a default or a mutation the next apply replaces), or when Git
    /// moved here while live still holds what was last in sync. Drift when only non-reconcilers
    /// own it, or when a declared field is absent and Git did not change it. Without managedFields
    /// nothing tells, and it is drift.
    fn declared_cause(&self, change: &Change) -> Cause {
        if !matches!(self.attribute, Attribution::ManagedFields) {
            return Cause::Drift;
        }
        let moved = self.git_moved();
        let live = match change {
            Change::Changed { live, .. } => live,
            // nobody owns what is absent: a Git addition if Git moved, else removed by hand
            Change::Missing { .. } => return if moved.is_some() { Cause::PendingSync } else { Cause::Drift },
            Change::Added { .. } => return Cause::Drift,
        };
        if moved.is_some_and(|m| m.before == Some(live)) {
            return Cause::PendingSync;
        }
        let mut foreign = false;
        for e in self.ctx.managed.owners(self.live_root, &self.path) {
            if self.ctx.is_reconciler(e.manager) {
                return Cause::PendingSync;
            }
            foreign = true;
        }
        if foreign { Cause::Drift } else { Cause::PendingSync }
    }

    /// When Git's value here differs from the baseline's (what the reconciler last applied):
    /// the baseline's value.
    fn git_moved(&self) -> Option<Moved<'_>> {
        let base = self.ctx.baseline?;
        let tokens = self.path.tokens(Side::Desired)?;
        let here = resolve(self.desired_root, &tokens);
        let before = resolve(base, &tokens);
        (here != before).then_some(Moved { before })
    }
}

/// The parts of a difference, one level down: a map's keys, a list's items (an atomic list
/// compared item by item). `None` when it has no parts (a scalar). Used when an ignore rule
/// names a path inside a difference, so that only that part is suppressed.
pub fn split(diff: &Difference) -> Option<Vec<Difference>> {
    let part = |seg: Seg, change: Change| {
        let mut path = diff.path.clone();
        path.0.push(seg);
        Difference { path, change, cause: diff.cause }
    };
    let item = |i: usize, live: Option<usize>, desired: Option<usize>| Seg::Item {
        label: i.to_string().into(),
        live,
        desired,
    };
    match &diff.change {
        Change::Added { live: Value::Object(m) } if !m.is_empty() => Some(
            m.iter().map(|(k, v)| part(Seg::Field(k.as_str().into()), Change::Added { live: v.clone() })).collect(),
        ),
        Change::Added { live: Value::Array(a) } if !a.is_empty() => Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| part(item(i, Some(i), None), Change::Added { live: v.clone() }))
                .collect(),
        ),
        Change::Missing { desired: Value::Object(m) } if !m.is_empty() => Some(
            m.iter()
                .map(|(k, v)| part(Seg::Field(k.as_str().into()), Change::Missing { desired: v.clone() }))
                .collect(),
        ),
        Change::Missing { desired: Value::Array(a) } if !a.is_empty() => Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| part(item(i, None, Some(i)), Change::Missing { desired: v.clone() }))
                .collect(),
        ),
        Change::Changed { live: Value::Array(la), desired: Value::Array(da) } => {
            let mut parts = Vec::new();
            for i in 0..la.len().max(da.len()) {
                match (la.get(i), da.get(i)) {
                    (Some(l), Some(d)) if l != d => parts
                        .push(part(item(i, Some(i), Some(i)), Change::Changed { live: l.clone(), desired: d.clone() })),
                    (Some(l), None) => parts.push(part(item(i, Some(i), None), Change::Added { live: l.clone() })),
                    (None, Some(d)) => {
                        parts.push(part(item(i, None, Some(i)), Change::Missing { desired: d.clone() }));
                    }
                    _ => {}
                }
            }
            Some(parts)
        }
        Change::Changed { live: Value::Object(lm), desired: Value::Object(dm) } => {
            let mut parts = Vec::new();
            for (k, d) in dm {
                match lm.get(k) {
                    Some(l) if l != d => {
                        parts.push(part(
                            Seg::Field(k.as_str().into()),
                            Change::Changed { live: l.clone(), desired: d.clone() },
                        ));
                    }
                    None => parts.push(part(Seg::Field(k.as_str().into()), Change::Missing { desired: d.clone() })),
                    _ => {}
                }
            }
            for (k, l) in lm {
                if !dm.contains_key(k) {
                    parts.push(part(Seg::Field(k.as_str().into()), Change::Added { live: l.clone() }));
                }
            }
            Some(parts)
        }
        _ => None,
    }
}

/// Git changed a field since the object was last in sync.
struct Moved<'v> {
    /// The value Git declared then, if any.
    before: Option<&'v Value>,
}

/// The value at `tokens` under `root`, if there is one.
fn resolve<'v>(root: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(root, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// True for the zero values the API server leaves out of an object: `0`, `false`, `""`.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// True for an entry of a map of strings (labels, annotations, a ConfigMap's or Secret's data,
/// selectors): the server keeps its empty values, so `""` there is a value, not an omission.
fn in_string_map(path: &FieldPath) -> bool {
    const STRING_MAPS: &[&str] = &[
        "labels",
        "annotations",
        "data",
        "stringData",
        "binaryData",
        "matchLabels",
        "nodeSelector",
        "selector",
        "parameters",
        "hard",
        "limits",
        "requests",
    ];
    let n = path.0.len();
    n >= 2 && matches!(&path.0[n - 2], Seg::Field(m) if STRING_MAPS.contains(&&**m))
}

/// `metadata.namespace` is part of the key (and dropped by the server on cluster-scoped
/// objects), so it is never compared as a field.
fn is_key_part(path: &FieldPath, key: &str) -> bool {
    key == "namespace" && matches!(path.0.as_slice(), [Seg::Field(m)] if &**m == "metadata")
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
    path.with_shape(quantity::is_quantity_path) && quantity::equal(d, l)
}

/// Lists up to this long are matched by scanning.
const SCAN_LIMIT: usize = 16;

/// A hash of a merge key: equal keys hash alike (a key holds scalars, and equal scalars have
/// one representation each), without writing the key out.
fn key_hash(key: &[Cow<'_, Value>]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for v in key {
        hash_value(&mut h, v);
    }
    h.finish()
}

fn hash_value(h: &mut rustc_hash::FxHasher, v: &Value) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            h.write_u8(u8::from(*b));
        }
        Value::Number(n) => {
            // serde_json's equality: a u64, an i64 and an f64 are different numbers
            if let Some(u) = n.as_u64() {
                h.write_u8(2);
                h.write_u64(u);
            } else if let Some(i) = n.as_i64() {
                h.write_u8(3);
                h.write_i64(i);
            } else {
                h.write_u8(4);
                // 0.0 == -0.0
                h.write_u64(n.as_f64().filter(|f| *f != 0.0).map_or(0, f64::to_bits));
            }
        }
        Value::String(s) => {
            h.write_u8(5);
            h.write(s.as_bytes());
            h.write_u8(0xff);
        }
        Value::Array(a) => {
            h.write_u8(6);
            h.write_usize(a.len());
            for x in a {
                hash_value(h, x);
            }
        }
        Value::Object(m) => {
            // maps are equal whatever their order: their entries' hashes are summed
            h.write_u8(7);
            let mut sum = 0u64;
            for (k, x) in m {
                let mut e = rustc_hash::FxHasher::default();
                e.write(k.as_bytes());
                e.write_u8(0xff);
                hash_value(&mut e, x);
                sum = sum.wrapping_add(e.finish());
            }
            h.write_u64(sum);
        }
    }
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
            baseline: None,
            values: true,
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
        // reported item by item, the finest path an ignore rule can name
        assert_eq!(d[0].0, "spec.template.spec.containers[name=web].env[name=DEBUG]");
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
        let d = run_causes(&deploy("nginx:1"), &live, None);
        // the label alice set is drift; the reconciler's label, which Git no longer declares, is
        // pending sync (its next apply removes it); the unowned dnsPolicy is the server's
        assert_eq!(
            d,
            [
                ("metadata.labels.owner".to_owned(), Cause::Drift),
                ("metadata.labels.team".to_owned(), Cause::PendingSync)
            ]
        );
    }

    fn run_causes(desired: &Value, live: &Value, baseline: Option<&Value>) -> Vec<(String, Cause)> {
        let managed = ManagedFields::of(live);
        let ctx = Context {
            kind: "Deployment",
            group: "apps",
            managed: &managed,
            reconcilers: &["argocd-controller".to_owned()],
            baseline,
            values: true,
        };
        compare(desired, live, &ctx).into_iter().map(|d| (d.path.to_string(), d.cause)).collect()
    }

    fn owned(live: &mut Value, entries: Value) {
        live["metadata"]["managedFields"] = entries;
    }

    #[test]
    fn a_value_the_reconciler_owns_is_pending_sync_one_a_person_owns_is_drift() {
        // Git moved to nginx:2; Argo CD applied nginx:1 and still owns the image
        let image =
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}}}}});
        let mut live = deploy("nginx:1");
        owned(&mut live, json!([{"manager": "argocd-controller", "operation": "Apply", "fieldsV1": image}]));
        assert_eq!(
            run_causes(&deploy("nginx:2"), &live, None),
            [("spec.template.spec.containers[name=web].image".to_owned(), Cause::PendingSync)]
        );
        // alice set nginx:1 with kubectl edit: her value, whatever Git says
        owned(&mut live, json!([{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": image}]));
        assert_eq!(
            run_causes(&deploy("nginx:2"), &live, None),
            [("spec.template.spec.containers[name=web].image".to_owned(), Cause::Drift)]
        );
    }

    /// Finding 1 of issue 12: alice set the value Argo CD then applied too (they share the
    /// field); a later Git change is the reconciler's to apply, not alice's drift.
    #[test]
    fn a_field_a_reconciler_shares_is_pending_sync() {
        let image =
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}}}}});
        let mut live = deploy("nginx:1");
        owned(
            &mut live,
            json!([{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": image},
                   {"manager": "argocd-controller", "operation": "Apply", "fieldsV1": image}]),
        );
        assert_eq!(
            run_causes(&deploy("nginx:2"), &live, None),
            [("spec.template.spec.containers[name=web].image".to_owned(), Cause::PendingSync)]
        );
        // alice's value where Git moved, while live still holds what was in sync: pending sync
        owned(&mut live, json!([{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": image}]));
        assert_eq!(
            run_causes(&deploy("nginx:2"), &live, Some(&deploy("nginx:1"))),
            [("spec.template.spec.containers[name=web].image".to_owned(), Cause::PendingSync)]
        );
        // ... but a value of alice's own is drift
        let mut edited = deploy("nginx:3");
        owned(&mut edited, json!([{"manager": "kubectl-edit", "operation": "Update", "fieldsV1": image}]));
        assert_eq!(
            run_causes(&deploy("nginx:2"), &edited, Some(&deploy("nginx:1"))),
            [("spec.template.spec.containers[name=web].image".to_owned(), Cause::Drift)]
        );
    }

    #[test]
    fn a_missing_field_is_pending_sync_only_where_git_moved() {
        let mut desired = deploy("nginx:1");
        desired["spec"]["minReadySeconds"] = json!(5);
        let mut live = deploy("nginx:1");
        owned(
            &mut live,
            json!([{"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        );
        // nobody owns an absent field: without history, it was removed by hand
        assert_eq!(run_causes(&desired, &live, None), [("spec.minReadySeconds".to_owned(), Cause::Drift)]);
        // Git added it since the object was last in sync
        let before = deploy("nginx:1");
        assert_eq!(
            run_causes(&desired, &live, Some(&before)),
            [("spec.minReadySeconds".to_owned(), Cause::PendingSync)]
        );
        // Git declared it then too: someone removed it
        assert_eq!(
            run_causes(&desired, &live, Some(&desired.clone())),
            [("spec.minReadySeconds".to_owned(), Cause::Drift)]
        );
    }

    #[test]
    fn items_the_reconciler_applied_and_git_removed_are_pending_sync() {
        let mut live = deploy("nginx:1");
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "old-sidecar", "image": "busybox"}));
        owned(
            &mut live,
            json!([{"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:name": {}}, "k:{\"name\":\"old-sidecar\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}}]),
        );
        assert_eq!(
            run_causes(&deploy("nginx:1"), &live, None),
            [("spec.template.spec.containers[name=old-sidecar]".to_owned(), Cause::PendingSync)]
        );
    }

    #[test]
    fn zero_values_the_server_drops_equal_absence() {
        let mut desired = deploy("nginx:1");
        desired["spec"]["minReadySeconds"] = json!(0);
        desired["spec"]["template"]["spec"]["hostNetwork"] = json!(false);
        desired["spec"]["template"]["spec"]["containers"][0]["workingDir"] = json!("");
        desired["metadata"]["namespace"] = json!("ignored-on-cluster-scoped");
        assert!(run(&desired, &deploy("nginx:1")).is_empty());
        // a declared null and the server's empty string are the same
        let mut desired = deploy("nginx:1");
        desired["spec"]["template"]["spec"]["containers"][0]["workingDir"] = Value::Null;
        let mut live = deploy("nginx:1");
        live["spec"]["template"]["spec"]["containers"][0]["workingDir"] = json!("");
        assert!(run(&desired, &live).is_empty());
        // a zero Git declares is still compared when live has another value
        let mut desired = deploy("nginx:1");
        desired["spec"]["minReadySeconds"] = json!(0);
        let mut live = deploy("nginx:1");
        live["spec"]["minReadySeconds"] = json!(5);
        assert_eq!(run(&desired, &live).len(), 1);
    }

    #[test]
    fn undeclared_maps_are_reported_key_by_key() {
        let mut live = deploy("nginx:1");
        live["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "now", "team": "x"});
        let d = run(&deploy("nginx:1"), &live);
        let paths: Vec<&str> = d.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.template.metadata.annotations.\"kubectl.kubernetes.io/restartedAt\"",
                "spec.template.metadata.annotations.team"
            ]
        );
    }

    #[test]
    fn split_goes_one_level_down() {
        let d = Difference::drift(
            FieldPath::default().field("spec").field("args"),
            Change::Changed { live: json!(["a", "x", "c"]), desired: json!(["a", "b"]) },
        );
        let parts: Vec<String> = split(&d).unwrap().iter().map(|p| p.path.to_string()).collect();
        assert_eq!(parts, ["spec.args[1]", "spec.args[2]"]);
        let leaf = Difference::drift(FieldPath::default().field("a"), Change::Added { live: json!(1) });
        assert!(split(&leaf).is_none());
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

    /// A long keyed list is matched through hashes; it must match exactly as a short one is
    /// scanned: by key value, first item with a key wins, defaults filled in.
    #[test]
    fn long_lists_match_as_short_ones_do() {
        let ports = |n: usize, extra: &[Value]| -> Value {
            let mut p: Vec<Value> = (0..n).map(|i| json!({"containerPort": 9000 + i})).collect();
            p.extend(extra.iter().cloned());
            Value::Array(p)
        };
        for n in [2, SCAN_LIMIT + 5] {
            let mut want = deploy("nginx:1");
            want["spec"]["template"]["spec"]["containers"][0]["ports"] =
                ports(n, &[json!({"containerPort": 80, "name": "http"})]);
            let mut live = want.clone();
            // the same key with the default written out, and a second item with that key
            live["spec"]["template"]["spec"]["containers"][0]["ports"] = ports(
                n,
                &[
                    json!({"containerPort": 80, "protocol": "TCP", "name": "http"}),
                    json!({"containerPort": 80, "name": "again"}),
                ],
            );
            let found: Vec<String> = run(&want, &live).into_iter().map(|(p, _)| p).collect();
            assert_eq!(found, ["spec.template.spec.containers[name=web].ports[containerPort=80]"], "n = {n}");
        }
    }

    /// Equal key values hash alike, whatever their spelling in the object.
    #[test]
    fn equal_keys_hash_alike() {
        let hash = |v: Value| key_hash(&[Cow::Owned(v)]);
        assert_eq!(hash(json!(0.0)), hash(json!(-0.0)));
        assert_eq!(hash(json!({"a": 1, "b": 2})), hash(json!({"b": 2, "a": 1})));
        assert_ne!(hash(json!(1)), hash(json!("1")));
        assert_ne!(hash(json!(["ab", "c"])), hash(json!(["a", "bc"])));
    }
}
