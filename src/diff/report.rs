//! Drift reports: the status of each resource, its differences with the managers that caused
//! them, what the ignore rules suppressed and why, and the patch back to Git.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use json_patch::Patch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::compare::{self, Cause, Change, Context, Difference};
use super::ignore::{Applicable, Rule};
use super::managed_fields::{Actor, ManagedFields};
use super::normalise::{is_secret, needs_copy, normalise};
use super::path::{Seg, Side};
use super::{mask, patch};
use crate::model::ownership::{self, Marker, Owner};
use crate::model::{LoadError, Manifest, Origin, ResourceKey};

/// What the comparison needs besides the objects.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Ignore rules, built-in first.
    pub rules: &'a [Rule],
    /// Field managers that are reconcilers.
    pub reconcilers: &'a [String],
    /// Whether Argo CD's instance label marks ownership.
    pub instance_label: bool,
}

/// Argo CD's sync statuses, plus Extra.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Live matches Git.
    Synced,
    /// Live differs from Git.
    OutOfSync,
    /// Git declares it; it is not live.
    Missing,
    /// Live, marked as GitOps-managed, but Git no longer declares it.
    Extra,
}

/// A difference as reported: readable path, pointer, change, and who made it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reported {
    /// Readable path, e.g. `spec.template.spec.containers[name=web].image`.
    pub path: String,
    /// JSON pointer into the live object (the desired one for missing fields).
    pub pointer: String,
    /// What differs; Secret values are masked.
    #[serde(flatten)]
    pub change: Change,
    /// Drift (a hand edit) or pending sync (Git moved; the reconciler's next apply fixes it).
    pub cause: Cause,
    /// Non-reconciler managers that own the field in live, from managedFields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Actor>,
}

/// A difference an ignore rule suppressed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppressed {
    /// Readable path.
    pub path: String,
    /// JSON pointer.
    pub pointer: String,
    /// The rule, e.g. `ignoreDifferences[0]`.
    pub rule: String,
    /// What in the rule matched, e.g. `jsonPointers /spec/replicas`.
    pub matched: String,
}

/// The result for one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceReport {
    /// Which object.
    pub key: ResourceKey,
    /// Its status.
    pub status: Status,
    /// Why it is not Synced: drift when any difference is drift, else pending sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The config source it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where Git declares it (`file:line`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The ownership marker of an Extra object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
    /// Reported differences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Reported>,
    /// Suppressed differences and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// Ignore rules that could not be evaluated on this object (a jq budget exceeded): they
    /// suppressed nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_errors: Vec<String>,
    /// RFC 6902 patch from live to desired (Secret values masked).
    #[serde(skip_serializing_if = "patch_is_empty")]
    pub patch: Patch,
    /// Live, restricted to what is compared, for the text diff (masked).
    #[serde(skip)]
    pub live_view: Option<Value>,
    /// Desired, normalised, for the text diff (masked).
    #[serde(skip)]
    pub desired_view: Option<Value>,
}

fn patch_is_empty(p: &Patch) -> bool {
    p.0.is_empty()
}

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// In sync.
    pub synced: usize,
    /// Drifted.
    pub out_of_sync: usize,
    /// Not live.
    pub missing: usize,
    /// Live but no longer in Git.
    pub extra: usize,
}

impl Summary {
    /// True when nothing drifted.
    pub fn in_sync(&self) -> bool {
        self.out_of_sync == 0 && self.missing == 0 && self.extra == 0
    }
}

/// Where a desired state came from.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// The config source's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The path rendered (inside the repository, for Git sources).
    pub path: String,
    /// The repository, for Git sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The revision asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The commit it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The result for a set of resources.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DriftReport {
    /// Where each desired state came from (with the resolved commit for Git sources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceInfo>,
    /// Counts by status.
    pub summary: Summary,
    /// Every resource, in key order.
    pub resources: Vec<ResourceReport>,
}

impl DriftReport {
    /// Adds a resource, keeping the counts.
    pub fn push(&mut self, r: ResourceReport) {
        match r.status {
            Status::Synced => self.summary.synced += 1,
            Status::OutOfSync => self.summary.out_of_sync += 1,
            Status::Missing => self.summary.missing += 1,
            Status::Extra => self.summary.extra += 1,
        }
        self.resources.push(r);
    }
}

/// Compares one live object with its desired state.
pub fn diff_resource(key: &ResourceKey, desired: &Value, live: &Value, settings: Settings<'_>) -> ResourceReport {
    diff_resource_since(key, desired, live, settings, None)
}

/// Compares one live object with its desired state, knowing what Git declared when the object
/// was last in sync (`baseline`): differences where Git moved since are pending sync. Without
/// one, a reconciler's `last-applied-configuration` serves.
pub fn diff_resource_since(
    key: &ResourceKey,
    desired: &Value,
    live: &Value,
    settings: Settings<'_>,
    baseline: Option<&Value>,
) -> ResourceReport {
    let managed = ManagedFields::of(live);
    // copying is the largest cost of a comparison, so objects are copied only when needed
    let d = copy_if_needed(desired);
    let l = copy_if_needed(live);
    let (d, l) = (d.as_ref(), l.as_ref());
    let (mut kept, suppressed, rule_errors) = partition(key, d, l, &managed, settings, baseline, true);
    let status = if kept.is_empty() { Status::Synced } else { Status::OutOfSync };
    let cause = overall_cause(kept.iter().map(|d| d.cause));
    let (mut live_view, mut desired_view) = (None, None);
    if !kept.is_empty() {
        let mut dv = normalise(d);
        let mut lv = project(&dv, &kept);
        if is_secret(desired) {
            mask::object_pair(&mut lv, &mut dv);
        }
        live_view = Some(lv);
        desired_view = Some(dv);
    }
    if is_secret(desired) {
        mask::differences(&mut kept);
    }
    let patch = patch::live_to_desired(&kept);
    let differences = kept
        .into_iter()
        .map(|diff| {
            let actors = if matches!(diff.change, Change::Missing { .. }) {
                Vec::new()
            } else {
                managed
                    .touching(l, &diff.path)
                    .into_iter()
                    .filter(|e| !settings.reconcilers.iter().any(|r| r == e.manager))
                    .map(super::managed_fields::Entry::actor)
                    .collect()
            };
            Reported {
                path: diff.path.to_string(),
                pointer: pointer(&diff),
                change: diff.change,
                cause: diff.cause,
                actors,
            }
        })
        .collect();
    ResourceReport {
        key: key.clone(),
        status,
        cause,
        source: None,
        origin: None,
        marker: None,
        differences,
        suppressed,
        rule_errors,
        patch,
        live_view,
        desired_view,
    }
}

/// Drift when any cause is drift, pending sync when all are, nothing for none.
pub fn overall_cause(causes: impl IntoIterator<Item = Cause>) -> Option<Cause> {
    let mut out = None;
    for c in causes {
        if c == Cause::Drift {
            return Some(c);
        }
        out = Some(c);
    }
    out
}

/// The differences that remain after the ignore rules, and those the rules suppressed; without
/// their values unless `values` (or a rule needs them).
fn partition(
    key: &ResourceKey,
    d: &Value,
    l: &Value,
    managed: &ManagedFields<'_>,
    settings: Settings<'_>,
    baseline: Option<&Value>,
    values: bool,
) -> (Vec<Difference>, Vec<Suppressed>, Vec<String>) {
    let mut ctx =
        Context { kind: &key.kind, group: &key.group, managed, reconcilers: settings.reconcilers, baseline, values };
    let mut all = compare::compare(d, l, &ctx);
    // what is absent has no owner: only what the reconciler last applied can tell a field Git
    // added (pending sync) from one removed by hand (drift)
    let applied;
    if baseline.is_none() && all.iter().any(|x| x.cause == Cause::Drift && matches!(x.change, Change::Missing { .. })) {
        applied = last_applied_by_reconciler(l, managed, settings.reconcilers);
        if applied.is_some() {
            ctx.baseline = applied.as_ref();
            all = compare::compare(d, l, &ctx);
        }
    }
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    let mut failures = Vec::new();
    if !all.is_empty() {
        let applicable = Applicable::new(settings.rules, key, d, l);
        // found without their values (the caller wants only where): a rule that names part of a
        // difference splits it by its value, so then they are found again with values
        if !values && all.iter().any(|x| applicable.addresses_below(x)) {
            ctx.values = true;
            all = compare::compare(d, l, &ctx);
        }
        failures = applicable.failures().to_vec();
        let mut queue = all;
        while let Some(diff) = queue.pop() {
            if let Some(s) = applicable.suppression(&diff, l, managed) {
                suppressed.push(Suppressed {
                    path: diff.path.to_string(),
                    pointer: pointer(&diff),
                    rule: s.rule,
                    matched: s.matched,
                });
            } else if applicable.addresses_below(&diff)
                && let Some(parts) = compare::split(&diff)
            {
                // a rule names part of this difference: judge its parts one by one
                queue.extend(parts.into_iter().rev());
            } else {
                kept.push(diff);
            }
        }
        kept.reverse();
        suppressed.reverse();
    }
    (kept, suppressed, failures)
}

/// The `last-applied-configuration` a reconciler wrote (client-side apply, Argo CD's default):
/// Git as that reconciler last applied it.
fn last_applied_by_reconciler(live: &Value, managed: &ManagedFields<'_>, reconcilers: &[String]) -> Option<Value> {
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    let path = super::path::FieldPath::default().field("metadata").field("annotations").field(LAST_APPLIED);
    let writers = managed.touching(live, &path);
    if writers.is_empty() || !writers.iter().all(|e| reconcilers.iter().any(|r| r == e.manager)) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Only the differences where `live` departs from `desired` after the ignore rules: what admission
/// needs, without the views, masks and patch a report carries.
pub fn drift_differences(key: &ResourceKey, desired: &Value, live: &Value, settings: Settings<'_>) -> Vec<Difference> {
    let managed = ManagedFields::of(live);
    let d = copy_if_needed(desired);
    let l = copy_if_needed(live);
    partition(key, d.as_ref(), l.as_ref(), &managed, settings, None, false).0
}

/// The distinct actors of the drift among a set of differences, in first-seen order: who
/// drifted an object.
pub fn distinct_actors(differences: &[Reported]) -> Vec<Actor> {
    let mut out: Vec<Actor> = Vec::new();
    // pending sync is the reconciler's: only drift names people
    for a in differences.iter().filter(|d| d.cause == Cause::Drift).flat_map(|d| &d.actors) {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// A Secret is copied to fold `stringData`; anything else is compared in place.
pub fn copy_if_needed(v: &Value) -> Cow<'_, Value> {
    if needs_copy(v) { Cow::Owned(normalise(v)) } else { Cow::Borrowed(v) }
}

fn pointer(d: &Difference) -> String {
    d.path.pointer(Side::Live).or_else(|| d.path.pointer(Side::Desired)).unwrap_or_default()
}

/// One source's desired set and the rules that apply to it.
#[derive(Debug, Clone, Copy)]
pub struct SourceSet<'a> {
    /// The config source's name (none for `--desired`).
    pub name: Option<&'a str>,
    /// Its ignore rules, built-in first.
    pub rules: &'a [Rule],
    /// Its desired objects.
    pub desired: &'a BTreeMap<ResourceKey, Manifest>,
    /// The GitOps identity that reconciles it: live objects with its marker that Git does not
    /// declare are Extra. Without one, nothing undeclared is reported.
    pub owner: Option<&'a Owner>,
}

/// Compares a stream of live objects with one or more desired sets.
///
/// Live objects are compared as they arrive and dropped; only the reports are kept, so a dump
/// of ten thousand objects is never held whole. [`Comparison::finish`] adds the Missing ones.
pub struct Comparison<'a> {
    sources: Vec<SourceSet<'a>>,
    reconcilers: &'a [String],
    instance_label: bool,
    found: HashMap<(usize, ResourceKey), ResourceReport>,
    extras: BTreeMap<ResourceKey, ResourceReport>,
    seen: HashMap<ResourceKey, Origin>,
}

impl<'a> Comparison<'a> {
    /// Starts a comparison against these sources.
    pub fn new(sources: Vec<SourceSet<'a>>, reconcilers: &'a [String], instance_label: bool) -> Self {
        Self {
            sources,
            reconcilers,
            instance_label,
            found: HashMap::new(),
            extras: BTreeMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Compares one live object. A key seen twice in the live input is an error naming both places.
    pub fn observe(&mut self, live: Manifest) -> Result<(), LoadError> {
        if let Some(first) = self.seen.get(&live.key) {
            return Err(LoadError::Duplicate { key: live.key, first: first.clone(), second: live.origin });
        }
        let mut declared = false;
        for (i, src) in self.sources.iter().enumerate() {
            if let Some(want) = src.desired.get(&live.key) {
                declared = true;
                let settings =
                    Settings { rules: src.rules, reconcilers: self.reconcilers, instance_label: self.instance_label };
                let r = diff_resource(&live.key, &want.object, &live.object, settings);
                self.found.insert((i, live.key.clone()), r);
            }
        }
        if !declared
            && let Some(marker) = ownership::marker(&live.object, &live.key, self.instance_label)
            && let Some(src) = self.sources.iter().find(|s| s.owner.is_some_and(|o| o.owns(&marker)))
        {
            let mut r = extra(&live, marker, self.reconcilers);
            r.source = src.name.map(str::to_owned);
            self.extras.insert(live.key.clone(), r);
        }
        self.seen.insert(live.key, live.origin);
        Ok(())
    }

    /// The report: each source's objects in key order (Missing where no live object came),
    /// then the Extra ones.
    pub fn finish(mut self) -> DriftReport {
        let mut report = DriftReport::default();
        for (i, src) in self.sources.iter().enumerate() {
            for (key, want) in src.desired {
                let mut r = self.found.remove(&(i, key.clone())).unwrap_or_else(|| missing(key, &want.object));
                r.origin = Some(want.origin.to_string());
                r.source = src.name.map(str::to_owned);
                report.push(r);
            }
        }
        for (_, r) in self.extras {
            report.push(r);
        }
        report
    }
}

/// Compares a desired set with a live set held in memory.
pub fn diff_sets(
    desired: &BTreeMap<ResourceKey, Manifest>,
    live: impl IntoIterator<Item = Manifest>,
    settings: Settings<'_>,
) -> Result<DriftReport, LoadError> {
    let sources = vec![SourceSet { name: None, rules: settings.rules, desired, owner: None }];
    let mut cmp = Comparison::new(sources, settings.reconcilers, settings.instance_label);
    for m in live {
        cmp.observe(m)?;
    }
    Ok(cmp.finish())
}

/// Why an object Git no longer declares is still live: pending sync (prune) when only
/// reconcilers ever wrote it, drift when anyone else did (or nothing says who did).
pub fn extra_cause(live: &Value, reconcilers: &[String]) -> Cause {
    let managed = ManagedFields::of(live);
    if !managed.is_empty() && managed.entries.iter().all(|e| reconcilers.iter().any(|r| r == e.manager)) {
        Cause::PendingSync
    } else {
        Cause::Drift
    }
}

fn extra(live: &Manifest, marker: Marker, reconcilers: &[String]) -> ResourceReport {
    let mut view = normalise(&live.object);
    if is_secret(&live.object) {
        mask::object_pair(&mut view, &mut Value::Null);
    }
    ResourceReport {
        key: live.key.clone(),
        status: Status::Extra,
        cause: Some(extra_cause(&live.object, reconcilers)),
        source: None,
        origin: Some(live.origin.to_string()),
        marker: Some(marker),
        differences: Vec::new(),
        suppressed: Vec::new(),
        rule_errors: Vec::new(),
        patch: Patch(Vec::new()),
        live_view: Some(view),
        desired_view: None,
    }
}

fn missing(key: &ResourceKey, desired: &Value) -> ResourceReport {
    let mut view = normalise(desired);
    if is_secret(desired) {
        mask::object_pair(&mut Value::Null, &mut view);
    }
    ResourceReport {
        key: key.clone(),
        status: Status::Missing,
        // nothing live to read: without history a missing object counts as removed
        cause: Some(Cause::Drift),
        source: None,
        origin: None,
        marker: None,
        differences: Vec::new(),
        suppressed: Vec::new(),
        rule_errors: Vec::new(),
        patch: Patch(Vec::new()),
        live_view: None,
        desired_view: Some(view),
    }
}

/// Live as people should see it: desired, with the reported differences put back.
fn project(desired: &Value, diffs: &[Difference]) -> Value {
    let mut view = desired.clone();
    let mut removals = Vec::new();
    for d in diffs {
        match &d.change {
            Change::Changed { live, .. } => {
                if let Some(slot) = d.path.pointer(Side::Desired).and_then(|p| view.pointer_mut(&p)) {
                    *slot = live.clone();
                }
            }
            Change::Added { live } => insert(&mut view, &d.path.0, live.clone()),
            Change::Missing { .. } => {
                if let Some(t) = d.path.tokens(Side::Desired) {
                    removals.push(t);
                }
            }
        }
    }
    removals.sort_by(|a, b| b.cmp(a));
    for t in removals {
        remove(&mut view, &t);
    }
    view
}

/// Puts an added live value into the view, creating undeclared maps on the way.
fn insert(view: &mut Value, path: &[Seg], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = view;
    for (i, seg) in parents.iter().enumerate() {
        // an undeclared list is made a list, so that an added item goes into it
        let list_next = matches!(path.get(i + 1), Some(Seg::Item { .. }));
        cur = match seg {
            Seg::Field(k) => {
                let Some(map) = cur.as_object_mut() else {
                    return;
                };
                map.entry(k.to_string())
                    .or_insert_with(|| if list_next { Value::Array(Vec::new()) } else { Value::Object(Map::new()) })
            }
            Seg::Item { desired: Some(i), .. } => match cur.get_mut(*i) {
                Some(next) => next,
                None => return,
            },
            Seg::Item { desired: None, .. } => return,
        };
    }
    match (last, cur) {
        (Seg::Field(k), Value::Object(map)) => {
            map.insert(k.to_string(), value);
        }
        (Seg::Item { .. }, Value::Array(items)) => items.push(value),
        _ => {}
    }
}

fn remove(view: &mut Value, tokens: &[String]) {
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let parent_ptr = crate::diff::path::pointer_of(parents);
    match view.pointer_mut(&parent_ptr) {
        Some(Value::Object(m)) => {
            m.shift_remove(last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(rules: &[Rule]) -> Settings<'_> {
        static RECONCILERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        let r = RECONCILERS.get_or_init(|| vec!["argocd-controller".to_owned()]);
        Settings { rules, reconcilers: r, instance_label: false }
    }

    fn key() -> ResourceKey {
        ResourceKey::new("apps", "Deployment", Some("demo"), "web")
    }

    #[test]
    fn projection_shows_live_values() {
        let desired =
            json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "a"}]}}}});
        let mut live = desired.clone();
        live["spec"]["replicas"] = json!(5);
        live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "X", "value": "1"}]);
        let rules = [Rule::status()];
        let r = diff_resource(&key(), &desired, &live, settings(&rules));
        assert_eq!(r.status, Status::OutOfSync);
        let lv = r.live_view.unwrap();
        assert_eq!(lv["spec"]["replicas"], 5);
        assert_eq!(lv["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"], "X");
    }

    #[test]
    fn status_is_suppressed_and_explained() {
        let desired = json!({"spec": {"a": 1}, "status": {"ready": true}});
        let live = json!({"spec": {"a": 1}, "status": {"ready": false}});
        let rules = [Rule::status()];
        let r = diff_resource(&key(), &desired, &live, settings(&rules));
        assert_eq!(r.status, Status::Synced);
        assert_eq!(r.suppressed[0].rule, "built-in");
    }

    #[test]
    fn secret_values_never_reported() {
        let desired =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"P": "hunter2"}});
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"P": "b3RoZXI=", "EXTRA": "c2VjcmV0"}});
        let rules = [Rule::status()];
        let r = diff_resource(&ResourceKey::new("", "Secret", None, "s"), &desired, &live, settings(&rules));
        let text = format!("{}{:?}{:?}", serde_json::to_string(&r).unwrap(), r.live_view, r.desired_view);
        for secret in ["hunter2", "aHVudGVyMg==", "b3RoZXI=", "c2VjcmV0"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("EXTRA"));
    }

    /// Finding 8 of issue 12: a jq rule over its budget is reported, selects nothing, and the
    /// rest of the comparison goes on.
    #[test]
    fn a_jq_rule_over_its_budget_is_reported_and_the_diff_goes_on() {
        let spec: crate::diff::ignore::IgnoreRuleSpec =
            serde_saphyr::from_str("group: apps\nkind: Deployment\njqPathExpressions: ['.spec | recurse(.)']").unwrap();
        let budget = crate::diff::jq::Budget {
            timeout: std::time::Duration::from_millis(100),
            max_steps: 10_000,
            max_paths: 100,
        };
        let rules =
            [Rule::status(), Rule::compile(&spec, "ignoreDifferences[0]".into()).unwrap().with_jq_budget(budget)];
        let desired = json!({"spec": {"replicas": 2}});
        let live = json!({"spec": {"replicas": 3}});
        let r = diff_resource(&key(), &desired, &live, settings(&rules));
        assert_eq!(r.status, Status::OutOfSync);
        assert_eq!(r.differences[0].path, "spec.replicas");
        assert_eq!(r.rule_errors.len(), 1, "{:?}", r.rule_errors);
        assert!(r.rule_errors[0].starts_with("ignoreDifferences[0]: jqPathExpressions"), "{:?}", r.rule_errors);
    }

    /// Finding 6 of issue 12: rules that name part of what used to be one difference suppress
    /// that part only, and patches remove only what differs.
    #[test]
    fn rules_that_name_a_part_suppress_only_that_part() {
        let rule = |yaml: &str| {
            let spec: crate::diff::ignore::IgnoreRuleSpec = serde_saphyr::from_str(yaml).unwrap();
            Rule::compile(&spec, "r".into()).unwrap()
        };
        let desired = json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "args": ["a", "b"]}],
                     "tolerations": [{"key": "x", "operator": "Exists"}]}}}});
        let mut live = desired.clone();
        live["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "2026-12-01T00:00:00Z"});
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b", "--debug"]);
        live["spec"]["template"]["spec"]["tolerations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "control-plane", "operator": "Exists"}));
        let rules = [
            Rule::status(),
            rule(
                "group: apps\nkind: Deployment\njsonPointers: [/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt]",
            ),
            rule(
                "group: apps\nkind: Deployment\njqPathExpressions: ['.spec.template.spec.tolerations[] | select(.key == \"control-plane\")']",
            ),
            rule("group: apps\nkind: Deployment\njsonPointers: [/spec/template/spec/containers/0/args/2]"),
        ];
        let r = diff_resource(&key(), &desired, &live, settings(&rules));
        assert_eq!(r.status, Status::Synced, "{:?}", r.differences);
        assert_eq!(r.suppressed.len(), 3, "{:?}", r.suppressed);
        // without the rules: the annotation is removed by key, never the server's whole map
        let r = diff_resource(&key(), &desired, &live, settings(&rules[..1]));
        let ops = serde_json::to_value(&r.patch).unwrap();
        assert!(
            ops.as_array().unwrap().iter().any(|o| o["op"] == "remove"
                && o["path"] == "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"),
            "{ops}"
        );
        assert!(!ops.to_string().contains("\"/spec/template/metadata/annotations\""), "{ops}");
    }
}
