//! The detector's state machine: live projections in, per-source status and transitions out.
//!
//! Pure: the shell feeds it watch events, list results, kind states and new revisions, and
//! passes the time in. Each input re-evaluates only the objects it can change; a new revision
//! re-evaluates every object of the source.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::projection::Projection;
use crate::diff::compare::Cause;
use crate::diff::ignore::Rule;
use crate::diff::managed_fields::Actor;
use crate::diff::report::{self, Reported, Settings, SourceInfo};
use crate::model::ownership::{Marker, Owner};
use crate::model::{Declared, ResourceKey};

/// A resource's status in one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Live matches Git.
    Synced,
    /// Live differs from Git.
    OutOfSync,
    /// Git declares it; it is not live (or the cluster does not serve its kind).
    Missing,
    /// Live, marked as the source's, but Git no longer declares it.
    Extra,
    /// Not known yet, or its kind cannot be watched (e.g. 403).
    Unknown,
}

impl State {
    /// Whether this state is drift that people should hear about.
    pub fn is_drift(self) -> bool {
        matches!(self, Self::OutOfSync | Self::Missing | Self::Extra)
    }
}

/// How the watch of one kind stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "message")]
pub enum KindState {
    /// Listed, and being watched.
    Watching,
    /// The cluster does not serve this kind (no CRD, or an API version it lacks).
    Unserved,
    /// Listing or watching fails, e.g. 403; only this kind's resources are Unknown.
    Failed(String),
}

/// One source as the detector compares it.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The config source's name.
    pub name: String,
    /// Repository, path, revision, commit.
    pub info: SourceInfo,
    /// The source's ignore rules, built-in first.
    pub rules: Arc<[Rule]>,
    /// The desired objects.
    pub objects: Arc<BTreeMap<ResourceKey, Declared>>,
    /// The last fetch or render error, if the objects are stale.
    pub error: Option<String>,
    /// The GitOps identity that reconciles it, if one does: Extra objects must carry its
    /// marker, and pending sync is left to it.
    pub owner: Option<Owner>,
}

/// One resource's status, as the status API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// Which object.
    pub key: ResourceKey,
    /// Its status.
    pub status: State,
    /// Why it is OutOfSync, Missing or Extra: drift (a hand change) or pending sync (Git moved
    /// and the reconciler has not applied yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The desired set the resource was last Synced with: what the reconciler applied, so that
    /// a field Git changed since is pending sync. An `Arc` of the whole revision, shared.
    #[serde(skip)]
    pub baseline: Option<Arc<BTreeMap<ResourceKey, Declared>>>,
    /// When it entered this status (RFC 3339).
    pub since: String,
    /// Why it is Unknown or Missing, when the kind explains it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The live resourceVersion compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// The ownership marker of an Extra object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
    /// The differences, Secret values masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Reported>,
    /// Who drifted it: the non-reconciler managers of the drifted fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Actor>,
    /// Ignore rules that could not be evaluated on it (a jq budget exceeded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_errors: Vec<String>,
}

/// A change of status, for the audit stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The source.
    pub source: String,
    /// The object.
    pub key: ResourceKey,
    /// The status before (`None`: not tracked).
    pub from: Option<State>,
    /// The status after (`None`: no longer tracked).
    pub to: Option<State>,
    /// The cause before.
    pub from_cause: Option<Cause>,
    /// The cause after: drift or pending sync.
    pub cause: Option<Cause>,
    /// The drifted paths.
    pub paths: Vec<String>,
    /// Who drifted it.
    pub actors: Vec<Actor>,
    /// Whether the status, cause or paths changed (else only the rule errors did).
    pub news: bool,
    /// Ignore rules that newly failed on the object (a jq budget exceeded), for a
    /// `rule.failed` event.
    pub rule_errors: Vec<String>,
}

impl Transition {
    /// `drift.detected` and `drift.resolved` for hand changes; `sync.pending` and
    /// `sync.completed` for Git changes the reconciler has yet to apply; nothing for moves that
    /// are not news.
    pub fn event(&self) -> Option<&'static str> {
        if !self.news {
            return None;
        }
        let alarm =
            |s: Option<State>, c: Option<Cause>| s.is_some_and(State::is_drift) && c != Some(Cause::PendingSync);
        let pending =
            |s: Option<State>, c: Option<Cause>| s.is_some_and(State::is_drift) && c == Some(Cause::PendingSync);
        let (was_alarm, is_alarm) = (alarm(self.from, self.from_cause), alarm(self.to, self.cause));
        let (was_pending, is_pending) = (pending(self.from, self.from_cause), pending(self.to, self.cause));
        if is_alarm {
            Some("drift.detected")
        } else if was_alarm && self.to != Some(State::Unknown) {
            Some("drift.resolved")
        } else if is_pending {
            Some("sync.pending")
        } else if was_pending && matches!(self.to, Some(State::Synced) | None) {
            Some("sync.completed")
        } else {
            None
        }
    }
}

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Synced resources.
    pub synced: usize,
    /// Out-of-sync resources.
    pub out_of_sync: usize,
    /// Missing resources.
    pub missing: usize,
    /// Extra resources.
    pub extra: usize,
    /// Resources of unknown status.
    pub unknown: usize,
    /// OutOfSync, Missing or Extra resources with drift (a hand change).
    #[serde(default)]
    pub drift: usize,
    /// OutOfSync, Missing or Extra resources whose differences are all pending sync.
    #[serde(default)]
    pub pending_sync: usize,
}

impl Counts {
    fn add(&mut self, s: State, cause: Option<Cause>) {
        if s.is_drift() {
            match cause {
                Some(Cause::PendingSync) => self.pending_sync += 1,
                _ => self.drift += 1,
            }
        }
        match s {
            State::Synced => self.synced += 1,
            State::OutOfSync => self.out_of_sync += 1,
            State::Missing => self.missing += 1,
            State::Extra => self.extra += 1,
            State::Unknown => self.unknown += 1,
        }
    }

    /// The count for one status.
    pub fn get(&self, s: State) -> usize {
        match s {
            State::Synced => self.synced,
            State::OutOfSync => self.out_of_sync,
            State::Missing => self.missing,
            State::Extra => self.extra,
            State::Unknown => self.unknown,
        }
    }
}

/// A kind's watch state, as the status API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindReport {
    /// API group (empty for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// How its watch stands.
    #[serde(flatten)]
    pub state: KindState,
}

/// One source's status, as `GET /api/v1/sources/{name}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// The source's name.
    pub name: String,
    /// Repository, path, revision and commit.
    pub info: SourceInfo,
    /// The last fetch or render error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts by status.
    pub summary: Counts,
    /// The latest status change of any of its resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
    /// Kinds that are not watched normally (unserved, forbidden).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<KindReport>,
    /// Every resource; left out of the list of sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<ResourceState>>,
    /// Objects self-heal stopped healing because another writer keeps changing them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<Quarantined>,
}

/// A quarantined object, as the status API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quarantined {
    /// The object.
    pub key: ResourceKey,
    /// Why.
    #[serde(flatten)]
    pub quarantine: crate::heal::quarantine::Quarantine,
}

/// A drifted resource, as self-heal picks it up.
#[derive(Debug, Clone)]
pub struct Drifted {
    /// The source that declares (or owns) it.
    pub source: String,
    /// The object.
    pub key: ResourceKey,
    /// OutOfSync, Missing or Extra.
    pub status: State,
    /// Drift or pending sync.
    pub cause: Option<Cause>,
    /// The source's owner: the GitOps reconciler in charge, if any. Only its objects are pruned,
    /// and pending sync is its job.
    pub owner: Option<Owner>,
    /// Git's object (none for Extra), compact: parsed only if the healer gets to it.
    pub desired: Option<Declared>,
    /// The API version to reach it at: Git's, or for an Extra object the live one.
    pub api_version: Option<String>,
    /// The source's rules.
    pub rules: Arc<[Rule]>,
    /// The live resourceVersion it was judged on.
    pub resource_version: Option<String>,
    /// The differences, Secret values masked: the before and after of the heal.
    pub differences: Vec<Reported>,
}

impl Drifted {
    /// Whether self-heal should act: on drift always; on pending sync only where no GitOps
    /// reconciler is in charge (driftgate is then the reconciler). Never on an object without a
    /// name or kind.
    pub fn wants_heal(&self) -> bool {
        let theirs = self.owner.is_some() && self.cause == Some(Cause::PendingSync);
        !(self.key.name.is_empty() || self.key.kind.is_empty() || theirs)
    }
}

/// The detector's state.
#[derive(Debug, Default)]
pub struct Engine {
    sources: Vec<SourceSpec>,
    reconcilers: Vec<String>,
    instance_label: bool,
    live: HashMap<ResourceKey, Projection>,
    kinds: BTreeMap<(String, String), KindState>,
    /// The scopes whose first list is complete: (group, kind, namespace; `None` for all). A kind
    /// may be watched in several namespaces, and each is judged only once its own list is in.
    listed: HashSet<(String, String, Option<String>)>,
    states: Vec<BTreeMap<ResourceKey, ResourceState>>,
    /// Per source, the (group, kind) pairs it declares, for the kinds its status reports.
    declared_kinds: Vec<HashSet<(String, String)>>,
    /// Per source, the keys a revision added while this engine watched and that have not been
    /// seen live since: Missing is then pending sync (the reconciler has yet to create them).
    new_in_git: Vec<HashSet<ResourceKey>>,
}

/// What one evaluation concluded.
struct Judgement {
    status: State,
    cause: Option<Cause>,
    rule_errors: Vec<String>,
    reason: Option<String>,
    resource_version: Option<String>,
    marker: Option<Marker>,
    differences: Vec<Reported>,
}

impl Engine {
    /// An engine with no sources yet.
    pub fn new(reconcilers: Vec<String>, instance_label: bool) -> Self {
        Self { reconcilers, instance_label, ..Self::default() }
    }

    /// Whether the Argo CD instance label counts as a marker.
    pub fn instance_label(&self) -> bool {
        self.instance_label
    }

    /// The sources' desired states changed (a new revision, or a source added): everything is
    /// evaluated again.
    pub fn set_sources(&mut self, sources: Vec<SourceSpec>, now: &str) -> Vec<Transition> {
        let mut old: HashMap<String, BTreeMap<ResourceKey, ResourceState>> =
            self.sources.iter().map(|s| s.name.clone()).zip(std::mem::take(&mut self.states)).collect();
        let mut carried: HashMap<String, HashSet<ResourceKey>> =
            self.sources.iter().map(|s| s.name.clone()).zip(std::mem::take(&mut self.new_in_git)).collect();
        self.declared_kinds =
            sources.iter().map(|s| s.objects.keys().map(|k| (k.group.clone(), k.kind.clone())).collect()).collect();
        let previous: HashMap<String, SourceSpec> =
            std::mem::replace(&mut self.sources, sources).into_iter().map(|s| (s.name.clone(), s)).collect();
        self.states = self.sources.iter().map(|s| old.remove(&s.name).unwrap_or_default()).collect();
        self.new_in_git = self
            .sources
            .iter()
            .map(|s| {
                let mut fresh = carried.remove(&s.name).unwrap_or_default();
                fresh.retain(|k| s.objects.contains_key(k));
                fresh
            })
            .collect();
        let mut out = Vec::new();
        // sources that went away resolve what they tracked
        for (name, states) in old {
            for (key, st) in states {
                out.push(Transition {
                    source: name.clone(),
                    key,
                    from: Some(st.status),
                    from_cause: st.cause,
                    to: None,
                    ..none()
                });
            }
        }
        for i in 0..self.sources.len() {
            let before = previous.get(&self.sources[i].name);
            // the declared objects, walked in place; then what is tracked or marked but not declared
            let declared = Arc::clone(&self.sources[i].objects);
            for (key, want) in declared.iter() {
                if !self.unchanged(i, key, before) {
                    // added by this revision (only changed keys are looked up)
                    if before.is_some_and(|b| !b.objects.contains_key(key)) {
                        self.new_in_git[i].insert(key.clone());
                    }
                    let projection = self.live.get(key);
                    let live = projection.map(Projection::object);
                    let j = self.judge_with(i, key, Some(want), projection, live.as_ref());
                    self.record(i, key, j, now, &mut out);
                }
            }
            let others: BTreeSet<ResourceKey> = self.states[i]
                .keys()
                .chain(self.live.iter().filter(|(_, p)| p.marker.is_some()).map(|(k, _)| k))
                .filter(|k| !declared.contains_key(*k))
                .cloned()
                .collect();
            for key in &others {
                self.reevaluate(i, key, now, &mut out);
            }
        }
        out
    }

    fn reevaluate(&mut self, i: usize, key: &ResourceKey, now: &str, out: &mut Vec<Transition>) {
        let live = self.live.get(key).map(Projection::object);
        let j = self.judge(i, key, live.as_ref());
        self.record(i, key, j, now, out);
    }

    /// Whether a new revision leaves this resource's judgement as it was: the same rules, the
    /// same declared bytes, and the live object judged last time. Most revisions change a few
    /// objects; only those are compared again.
    fn unchanged(&self, i: usize, key: &ResourceKey, before: Option<&SourceSpec>) -> bool {
        let Some(before) = before else { return false };
        let now = &self.sources[i];
        if !Arc::ptr_eq(&before.rules, &now.rules) {
            return false;
        }
        let (Some(a), Some(b)) = (before.objects.get(key), now.objects.get(key)) else { return false };
        let Some(state) = self.states[i].get(key) else { return false };
        a.bytes() == b.bytes() && state.resource_version.as_deref() == self.live.get(key).map(|p| &*p.resource_version)
    }

    /// A live object was added or changed.
    pub fn apply(&mut self, key: &ResourceKey, object: Value, now: &str) -> Vec<Transition> {
        let projection = Projection::of(object, key, self.instance_label);
        // the projection is what is compared, so the status always matches what is kept
        let live = projection.object();
        self.live.insert(key.clone(), projection);
        self.seen_live(key);
        self.evaluate(key, Some(&live), now)
    }

    /// Once an object Git added has been live, its absence is someone's deletion, not a sync
    /// still to come.
    fn seen_live(&mut self, key: &ResourceKey) {
        for fresh in &mut self.new_in_git {
            fresh.remove(key);
        }
    }

    /// A live object was deleted.
    pub fn delete(&mut self, key: &ResourceKey, now: &str) -> Vec<Transition> {
        self.live.remove(key);
        self.evaluate(key, None, now)
    }

    /// A kind was listed afresh (the first list, or a re-list after a 410): `objects` is the
    /// whole of it within `namespace` (all namespaces for `None`), projected as they arrived so
    /// that a large list is never held whole.
    pub fn relist(
        &mut self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        objects: Vec<(ResourceKey, Projection)>,
        now: &str,
    ) -> Vec<Transition> {
        let listed: HashSet<ResourceKey> = objects.iter().map(|(k, _)| k.clone()).collect();
        let in_scope = |k: &ResourceKey| {
            k.group == group && k.kind == kind && (namespace.is_none() || k.namespace.as_deref() == namespace)
        };
        let gone: Vec<ResourceKey> =
            self.live.keys().filter(|k| in_scope(k) && !listed.contains(*k)).cloned().collect();
        // the cache is brought up to date first, so that no object is judged Missing on the way
        for key in &gone {
            self.live.remove(key);
        }
        for (key, projection) in objects {
            self.seen_live(&key);
            self.live.insert(key, projection);
        }
        self.kinds.insert((group.to_owned(), kind.to_owned()), KindState::Watching);
        self.listed.insert((group.to_owned(), kind.to_owned(), namespace.map(str::to_owned)));
        let mut keys: BTreeSet<ResourceKey> = listed.into_iter().chain(gone).collect();
        for s in &self.sources {
            keys.extend(s.objects.keys().filter(|k| in_scope(k)).cloned());
        }
        let mut out = Vec::new();
        for key in keys {
            let live = self.live.get(&key).map(Projection::object);
            out.extend(self.evaluate(&key, live.as_ref(), now));
        }
        out
    }

    /// A kind is no longer watched (Git stopped declaring it there): its live objects are dropped.
    pub fn forget(&mut self, group: &str, kind: &str, namespace: Option<&str>) {
        self.listed.remove(&(group.to_owned(), kind.to_owned(), namespace.map(str::to_owned)));
        self.live.retain(|k, _| {
            !(k.group == group && k.kind == kind && (namespace.is_none() || k.namespace.as_deref() == namespace))
        });
    }

    /// A kind's watch state changed; its declared resources are evaluated again.
    pub fn set_kind(&mut self, group: &str, kind: &str, state: KindState, now: &str) -> Vec<Transition> {
        let gk = (group.to_owned(), kind.to_owned());
        if self.kinds.get(&gk) == Some(&state) {
            return Vec::new();
        }
        self.kinds.insert(gk, state);
        let mut keys: BTreeSet<ResourceKey> = BTreeSet::new();
        for s in &self.sources {
            keys.extend(s.objects.keys().filter(|k| k.group == group && k.kind == kind).cloned());
        }
        let mut out = Vec::new();
        for key in keys {
            let live = self.live.get(&key).map(Projection::object);
            out.extend(self.evaluate(&key, live.as_ref(), now));
        }
        out
    }

    /// Evaluates one key in every source that declares or owns it.
    fn evaluate(&mut self, key: &ResourceKey, live: Option<&Value>, now: &str) -> Vec<Transition> {
        let mut out = Vec::new();
        for i in 0..self.sources.len() {
            let j = self.judge(i, key, live);
            self.record(i, key, j, now, &mut out);
        }
        out
    }

    fn judge(&self, i: usize, key: &ResourceKey, live: Option<&Value>) -> Option<Judgement> {
        self.judge_with(i, key, self.sources[i].objects.get(key), self.live.get(key), live)
    }

    /// `judge` with the lookups already made: a full re-evaluation walks the declared objects
    /// and has each at hand.
    fn judge_with(
        &self,
        i: usize,
        key: &ResourceKey,
        want: Option<&Declared>,
        projection: Option<&Projection>,
        live: Option<&Value>,
    ) -> Option<Judgement> {
        let src = &self.sources[i];
        let Some(want) = want else {
            let marker = projection.and_then(|p| p.marker.clone())?;
            // only this source's own reconciler's objects: another application's are not ours
            if !src.owner.as_ref().is_some_and(|o| o.owns(&marker)) {
                return None;
            }
            return Some(Judgement {
                status: State::Extra,
                cause: live.map(|l| report::extra_cause(l, &self.reconcilers)),
                rule_errors: Vec::new(),
                reason: None,
                resource_version: projection.map(|p| p.resource_version.to_string()),
                marker: Some(marker),
                differences: Vec::new(),
            });
        };
        // looked up only for a Missing judgement: hashing a key on every one is measurable
        let missing_cause = || if self.new_in_git[i].contains(key) { Cause::PendingSync } else { Cause::Drift };
        let blank = |status, reason: Option<String>| Judgement {
            status,
            cause: (status == State::Missing).then(missing_cause),
            rule_errors: Vec::new(),
            reason,
            resource_version: None,
            marker: None,
            differences: Vec::new(),
        };
        match self.kind_state(&key.group, &key.kind) {
            None => return Some(blank(State::Unknown, Some("waiting for the first list of its kind".into()))),
            Some(KindState::Unserved) => {
                return Some(blank(State::Missing, Some(format!("the cluster does not serve {}", kind_name(key)))));
            }
            Some(KindState::Failed(msg)) => return Some(blank(State::Unknown, Some(msg.clone()))),
            Some(KindState::Watching) if !self.is_listed(key) => {
                return Some(blank(State::Unknown, Some("waiting for the first list of its namespace".into())));
            }
            Some(KindState::Watching) => {}
        }
        let Some(live) = live else { return Some(blank(State::Missing, None)) };
        let settings =
            Settings { rules: &src.rules, reconcilers: &self.reconcilers, instance_label: self.instance_label };
        let desired = want.object();
        let mut r = report::diff_resource_since(key, &desired, live, settings, None);
        // what Git said when the object was last in sync matters only where it differs now
        if !r.differences.is_empty()
            && let Some(baseline) = self.baseline(i, key, want)
        {
            r = report::diff_resource_since(key, &desired, live, settings, Some(&baseline));
        }
        let status = if r.differences.is_empty() { State::Synced } else { State::OutOfSync };
        Some(Judgement {
            status,
            cause: r.cause,
            rule_errors: r.rule_errors,
            reason: None,
            resource_version: projection.map(|p| p.resource_version.to_string()),
            marker: None,
            differences: r.differences,
        })
    }

    /// Git's object as of the revision this resource was last Synced with, when Git has changed
    /// it since; `None` when it has not (or it was never seen in sync).
    fn baseline(&self, i: usize, key: &ResourceKey, want: &Declared) -> Option<Value> {
        let set = self.states[i].get(key)?.baseline.as_ref()?;
        if Arc::ptr_eq(set, &self.sources[i].objects) {
            return None;
        }
        let before = set.get(key)?;
        (before.bytes() != want.bytes()).then(|| before.object())
    }

    /// Whether the first list that covers this key (its namespace, or the whole cluster) is in.
    fn is_listed(&self, key: &ResourceKey) -> bool {
        self.listed.iter().any(|(g, k, ns)| {
            g == &key.group && k == &key.kind && (ns.is_none() || ns.as_deref() == key.namespace.as_deref())
        })
    }

    /// A kind's watch state, found without building a key: there are only a handful of kinds.
    fn kind_state(&self, group: &str, kind: &str) -> Option<&KindState> {
        self.kinds.iter().find(|((g, k), _)| g == group && k == kind).map(|(_, s)| s)
    }

    fn record(&mut self, i: usize, key: &ResourceKey, j: Option<Judgement>, now: &str, out: &mut Vec<Transition>) {
        let states = &mut self.states[i];
        let Some(j) = j else {
            if let Some(old) = states.remove(key) {
                let source = self.sources[i].name.clone();
                out.push(Transition {
                    source,
                    key: key.clone(),
                    from: Some(old.status),
                    from_cause: old.cause,
                    to: None,
                    ..none()
                });
            }
            return;
        };
        let actors = report::distinct_actors(&j.differences);
        let existing = states.get_mut(key);
        let (before, before_cause, same_paths, same_errors) = match &existing {
            Some(s) => (
                Some(s.status),
                s.cause,
                s.differences.iter().map(|d| &d.path).eq(j.differences.iter().map(|d| &d.path)),
                s.rule_errors == j.rule_errors,
            ),
            None => (None, None, false, j.rule_errors.is_empty()),
        };
        let news = before != Some(j.status) || before_cause != j.cause || !same_paths;
        if news || !same_errors {
            out.push(Transition {
                source: self.sources[i].name.clone(),
                key: key.clone(),
                from: before,
                to: Some(j.status),
                from_cause: before_cause,
                cause: j.cause,
                paths: j.differences.iter().map(|d| d.path.clone()).collect(),
                actors: actors.clone(),
                news,
                rule_errors: if same_errors { Vec::new() } else { j.rule_errors.clone() },
            });
        }
        // in sync with this revision: it is what the reconciler applied, until Git moves again
        let synced_with = (j.status == State::Synced).then(|| Arc::clone(&self.sources[i].objects));
        // an unchanged status is updated in place: no key copies for the common case
        if let Some(st) = existing {
            if let Some(set) = &synced_with {
                st.baseline = Some(Arc::clone(set));
            }
            if st.status == j.status {
                st.cause = j.cause;
                st.reason = j.reason;
                st.resource_version = j.resource_version;
                st.marker = j.marker;
                st.differences = j.differences;
                st.actors = actors;
                st.rule_errors = j.rule_errors;
                return;
            }
        }
        let baseline = synced_with.or_else(|| states.get(key).and_then(|s| s.baseline.clone()));
        states.insert(
            key.clone(),
            ResourceState {
                key: key.clone(),
                status: j.status,
                cause: j.cause,
                baseline,
                since: now.to_owned(),
                reason: j.reason,
                resource_version: j.resource_version,
                marker: j.marker,
                differences: j.differences,
                actors,
                rule_errors: j.rule_errors,
            },
        );
    }

    /// Every source's status; `resources` adds each resource's.
    pub fn status(&self, resources: bool) -> Vec<SourceStatus> {
        (0..self.sources.len()).map(|i| self.source_status(i, resources)).collect()
    }

    /// One source's status, with its resources.
    pub fn source(&self, name: &str) -> Option<SourceStatus> {
        self.sources.iter().position(|s| s.name == name).map(|i| self.source_status(i, true))
    }

    fn source_status(&self, i: usize, resources: bool) -> SourceStatus {
        let src = &self.sources[i];
        let mut summary = Counts::default();
        let mut last_change: Option<&str> = None;
        for st in self.states[i].values() {
            summary.add(st.status, st.cause);
            if last_change.is_none_or(|t| st.since.as_str() > t) {
                last_change = Some(&st.since);
            }
        }
        let declared = &self.declared_kinds[i];
        let kinds = self
            .kinds
            .iter()
            .filter(|(gk, state)| declared.contains(*gk) && **state != KindState::Watching)
            .map(|((group, kind), state)| KindReport { group: group.clone(), kind: kind.clone(), state: state.clone() })
            .collect();
        SourceStatus {
            name: src.name.clone(),
            info: src.info.clone(),
            error: src.error.clone(),
            summary,
            last_change: last_change.map(str::to_owned),
            kinds,
            resources: resources.then(|| self.states[i].values().cloned().collect()),
            quarantined: Vec::new(),
        }
    }

    /// Every drifted resource (OutOfSync, Missing, Extra) with what healing it needs: Git's
    /// object, the source's rules, and the live resourceVersion it was judged on.
    pub fn drifted(&self) -> Vec<Drifted> {
        let mut out = Vec::new();
        for (src, states) in self.sources.iter().zip(&self.states) {
            for st in states.values().filter(|st| st.status.is_drift()) {
                out.push(Drifted {
                    source: src.name.clone(),
                    key: st.key.clone(),
                    status: st.status,
                    cause: st.cause,
                    owner: src.owner.clone(),
                    api_version: src.objects.get(&st.key).map(|d| d.api_version.to_string()).or_else(|| {
                        let live = self.live.get(&st.key)?.object();
                        live.get("apiVersion").and_then(Value::as_str).map(str::to_owned)
                    }),
                    desired: src.objects.get(&st.key).cloned(),
                    rules: Arc::clone(&src.rules),
                    resource_version: st.resource_version.clone(),
                    differences: st.differences.clone(),
                });
            }
        }
        out
    }

    /// The reconciler field managers.
    pub fn reconcilers(&self) -> &[String] {
        &self.reconcilers
    }

    /// Counts by status for each source, for the gauges.
    pub fn counts(&self) -> Vec<(&str, Counts)> {
        self.sources
            .iter()
            .zip(&self.states)
            .map(|(s, states)| {
                let mut c = Counts::default();
                for st in states.values() {
                    c.add(st.status, st.cause);
                }
                (s.name.as_str(), c)
            })
            .collect()
    }

    /// The number of live objects held, and the bytes their projections take.
    pub fn live_size(&self) -> (usize, usize) {
        (self.live.len(), self.live.values().map(Projection::size).sum())
    }

    /// Whether a source declares an object.
    pub fn declares(&self, source: &str, key: &ResourceKey) -> bool {
        self.sources.iter().any(|s| s.name == source && s.objects.contains_key(key))
    }

    /// Where a source's objects came from.
    pub fn source_info(&self, name: &str) -> Option<&SourceInfo> {
        self.sources.iter().find(|s| s.name == name).map(|s| &s.info)
    }

    /// An annotation of a live object, as last seen.
    pub fn live_annotation(&self, key: &ResourceKey, name: &str) -> Option<String> {
        let object = self.live.get(key)?.object();
        object.pointer("/metadata/annotations")?.get(name)?.as_str().map(str::to_owned)
    }

    /// The `resourceVersion` of a live object, as last seen.
    pub fn live_version(&self, key: &ResourceKey) -> Option<&str> {
        self.live.get(key).map(|p| &*p.resource_version)
    }

    /// The ownership marker of a live object, if it is held and has one.
    pub fn live_marker(&self, key: &ResourceKey) -> Option<&Marker> {
        self.live.get(key).and_then(|p| p.marker.as_ref())
    }
}

fn none() -> Transition {
    Transition {
        source: String::new(),
        key: ResourceKey::new("", "", None, ""),
        from: None,
        to: None,
        from_cause: None,
        cause: None,
        paths: Vec::new(),
        actors: Vec::new(),
        news: true,
        rule_errors: Vec::new(),
    }
}

fn kind_name(key: &ResourceKey) -> String {
    if key.group.is_empty() { key.kind.clone() } else { format!("{}.{}", key.kind, key.group) }
}
