//! The verdict on one admission request: a pure function of the policy, the desired state and
//! the request. No I/O, no clock; the server and `driftgate review` are thin shells around it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::Hasher as _;

use rustc_hash::{FxHashMap, FxHasher};

use serde_json::Value;

use super::remembered::Remembered;
use super::review::{Request, Response, Status};
use crate::config::Mode;
use crate::diff::compare::{self, Context, Difference};
use crate::diff::ignore::{Applicable, RESTARTED_AT, Rule};
use crate::diff::managed_fields::ManagedFields;
use crate::diff::path::{FieldPath, Seg};
use crate::diff::report::{self, Settings, SourceInfo, copy_if_needed};
use crate::model::ownership::{self, Marker};
use crate::model::scope::Scopes;
use crate::model::{Declared, ResourceKey};

/// The annotation a break-glass user sets, with the reason as its value.
pub const BREAK_GLASS_ANNOTATION: &str = "driftgate.dev/break-glass";
/// The annotation that ends a break-glass grant: an RFC 3339 time.
pub const BREAK_GLASS_UNTIL: &str = "driftgate.dev/break-glass-until";

/// Who may do what: from the config.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Usernames whose changes are always admitted.
    pub reconciler_usernames: &'a [String],
    /// Groups whose members' changes are always admitted.
    pub reconciler_groups: &'a [String],
    /// Field managers that are reconcilers (for attributing fields in objects).
    pub field_managers: &'a [String],
    /// Groups whose members may break glass.
    pub break_glass_groups: &'a [String],
    /// How far ahead a break-glass grant may end.
    pub break_glass_max: std::time::Duration,
    /// The time of the request, for break-glass expiry (the caller's clock: this stays pure).
    pub now: time::OffsetDateTime,
    /// The global mode.
    pub mode: Mode,
    /// Whether Argo CD's instance label marks ownership.
    pub instance_label: bool,
    /// Whether a change that only sets a pod template's `restartedAt` is admitted, audited.
    pub allow_rollout_restart: bool,
    /// System-wide rules, for objects managed by identity only.
    pub rules: &'a [Rule],
    /// The detector's view of live objects, when it runs: it knows an object is managed even
    /// when the request carries no marker. It answers from memory, never from the API.
    pub live: Option<&'a dyn LiveView>,
}

/// What the detector knows of live objects, as admission may ask it.
pub trait LiveView: std::fmt::Debug + Sync {
    /// The ownership marker the live object carries, if it is known and has one.
    fn marker(&self, key: &ResourceKey) -> Option<Marker>;
}

/// One source's desired objects as the decision sees them.
#[derive(Debug, Clone, Copy)]
pub struct SourceView<'a> {
    /// The source's name.
    pub name: &'a str,
    /// Its mode, when it overrides the global one.
    pub mode: Option<Mode>,
    /// Its rules (built-in, system-wide and its own).
    pub rules: &'a [Rule],
    /// Its objects.
    pub objects: &'a BTreeMap<ResourceKey, Declared>,
    /// Where they came from.
    pub info: &'a SourceInfo,
}

/// Why a request was decided as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted without remark.
    Allowed(&'static str),
    /// Admitted because a break-glass user gave a reason.
    BreakGlass(String),
    /// Admitted because it only restarts a rollout (`admission.allowRolloutRestart`), audited.
    RolloutRestart,
    /// The change departs from Git.
    Violation {
        /// The mode that applied.
        mode: Mode,
        /// The paths the change touched that Git declares (empty for a delete).
        paths: Vec<String>,
        /// The message people see.
        message: String,
    },
}

/// The verdict: the response to send, and why.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The AdmissionReview response.
    pub response: Response,
    /// Why.
    pub outcome: Outcome,
    /// The object concerned.
    pub key: Option<ResourceKey>,
    /// The source that declares it, if any.
    pub source: Option<String>,
}

/// The verdict before the desired state has loaded. With `failurePolicy: closed`, only what is
/// known to be managed is refused: an object (or the object it replaces) carrying a GitOps
/// ownership marker, one the detector saw with one, or one a source declared when driftgate last
/// knew (`remembered`, the managed snapshot). Everything else is allowed, so a slow or broken Git
/// source never freezes the cluster. `pending` names each source that has not loaded, with its
/// last error; the refusal names the one that declared the object when that is known.
pub fn decide_unloaded(
    policy: &Policy<'_>,
    closed: bool,
    pending: &[(String, Option<String>)],
    remembered: Option<&Remembered>,
    req: &Request,
) -> Response {
    let mut r = Response { uid: req.uid.clone(), allowed: true, ..Response::default() };
    let key =
        [req.object.as_ref(), req.old_object.as_ref()].into_iter().flatten().find_map(|o| ResourceKey::of(o).ok());
    let declared_by = key.as_ref().and_then(|k| remembered?.source_of(k));
    let marked = declared_by.is_some()
        || key.as_ref().is_some_and(|key| {
            [req.object.as_ref(), req.old_object.as_ref()]
                .into_iter()
                .flatten()
                .any(|o| ownership::marker(o, key, policy.instance_label).is_some())
                || policy.live.is_some_and(|l| l.marker(key).is_some())
        });
    let named: Vec<&(String, Option<String>)> = match declared_by {
        Some(source) if pending.iter().any(|(n, _)| n == source) => {
            pending.iter().filter(|(n, _)| n == source).collect()
        }
        _ => pending.iter().collect(),
    };
    let why = if named.is_empty() {
        "driftgate: the desired state has not loaded yet".to_owned()
    } else {
        let each: Vec<String> = named
            .iter()
            .map(|(name, error)| match error {
                // kubectl users see this; source errors come masked, masking again costs little
                Some(e) => format!("source {name}: {}", crate::redact::text(e)),
                None => format!("source {name}: not loaded yet"),
            })
            .collect();
        format!("driftgate: the desired state has not loaded yet ({})", each.join("; "))
    };
    if is_reconciler(policy, req) || req.sub_resource.as_deref() == Some("status") || !marked {
        if marked || !closed {
            r.warnings.push(format!("{why}; allowed unchecked"));
        }
        return r;
    }
    if closed {
        let managed = match declared_by {
            Some(source) => format!("an object source {source} declared when driftgate last knew"),
            None => "a GitOps-managed object".to_owned(),
        };
        r.allowed = false;
        r.status = Some(Status {
            code: 503,
            message: format!("{why}: {managed} cannot be checked (failurePolicy closed)"),
            reason: Some("ServiceUnavailable".into()),
        });
    } else {
        r.warnings.push(format!("{why} (failurePolicy open: allowed unchecked)"));
    }
    r
}

/// The answer to a review that could not be decided within `budget`: refused with 503 when
/// `closed` (`admission.failurePolicy: closed`), else allowed with a warning. Either way it says
/// why, so the user can retry or look at driftgate.
pub fn over_budget(uid: &str, closed: bool, budget: std::time::Duration) -> Response {
    let why = format!("driftgate: this review could not be decided within {budget:?} (an unusually large object?)");
    let mut r = Response { uid: uid.to_owned(), allowed: !closed, ..Response::default() };
    if closed {
        r.status = Some(Status {
            code: 503,
            message: format!("{why}; refused (failurePolicy closed), retry shortly"),
            reason: Some("ServiceUnavailable".into()),
        });
    } else {
        r.warnings.push(format!("{why}; allowed unchecked (failurePolicy open)"));
    }
    r
}

/// Decides one request.
pub fn decide(policy: &Policy<'_>, sources: &[SourceView<'_>], req: &Request) -> Verdict {
    let mut verdict = Verdict {
        response: Response { uid: req.uid.clone(), allowed: true, ..Response::default() },
        outcome: Outcome::Allowed(""),
        key: None,
        source: None,
    };
    let allow = |mut v: Verdict, why: &'static str| {
        v.outcome = Outcome::Allowed(why);
        v
    };
    if is_reconciler(policy, req) {
        return allow(verdict, "reconciler");
    }
    if req.sub_resource.as_deref() == Some("status") {
        return allow(verdict, "status subresource");
    }
    let scale = req.sub_resource.as_deref() == Some("scale");
    let Some((key, managed)) = target(sources, req, scale) else { return allow(verdict, "not a Kubernetes object") };
    verdict.key = Some(key.clone());
    let subject = if req.operation == "DELETE" { req.old_object.as_ref() } else { req.object.as_ref() };
    // the marker may be on the request's object, on the object it replaces (an edit that strips
    // the marker), or, when the detector runs, on the live object it last saw
    let marker = managed
        .is_none()
        .then(|| {
            [subject, req.old_object.as_ref()]
                .into_iter()
                .flatten()
                .find_map(|o| ownership::marker(o, &key, policy.instance_label))
                .or_else(|| policy.live.and_then(|l| l.marker(&key)))
        })
        .flatten();
    if managed.is_none() && marker.is_none() {
        return allow(verdict, "unmanaged");
    }
    verdict.source = managed.map(|(s, _)| s.name.to_owned());
    let glass = break_glass(policy, req, subject);
    if let Glass::Granted { reason, until } = &glass {
        verdict.response.warnings.push(format!(
            "driftgate: break-glass by {} on {} until {until}: {reason}",
            req.user_info.username,
            key.human()
        ));
        verdict.response.audit_annotations.insert(BREAK_GLASS_ANNOTATION.into(), reason.clone());
        verdict.response.audit_annotations.insert(BREAK_GLASS_UNTIL.into(), until.clone());
        verdict.outcome = Outcome::BreakGlass(reason.clone());
        return verdict;
    }
    // a request the API server would never send for this object is refused, not waved through
    if let Some(problem) = malformed(req, scale) {
        let message = format!(
            "driftgate: {} is managed by Git; this request is malformed ({problem}), so it is refused",
            key.human()
        );
        verdict.response.allowed = false;
        verdict.response.status =
            Some(Status { code: 403, message: message.clone(), reason: Some("Forbidden".into()) });
        verdict.outcome = Outcome::Violation { mode: Mode::Enforce, paths: Vec::new(), message };
        return verdict;
    }
    if policy.allow_rollout_restart && !scale && req.operation == "UPDATE" && only_restarts(policy, &key, req) {
        verdict.response.audit_annotations.insert("driftgate.dev/rollout-restart".into(), "true".into());
        verdict.outcome = Outcome::RolloutRestart;
        return verdict;
    }
    let departing = match (req.operation.as_str(), managed) {
        ("DELETE", _) => Some(Departing::default()),
        ("CREATE", Some((src, want))) => {
            let drift = drift_differences(policy, src, &key, &want.object(), req.object.as_ref());
            Departing::of(drift.iter().map(|d| &d.path))
        }
        ("CREATE", None) => Some(Departing { paths: vec!["(the whole object)".to_owned()], total: 1 }),
        ("UPDATE", m) if scale => scale_paths(policy, m, &key, req),
        ("UPDATE", m) => update_paths(policy, m, &key, req),
        _ => None,
    };
    let Some(departing) = departing else { return allow(verdict, "no change departs from Git") };
    let mode = managed.and_then(|(s, _)| s.mode).unwrap_or(policy.mode);
    let mut message = message(req, &key, managed.map(|(s, _)| s), marker.as_ref(), &departing);
    match glass {
        Glass::Refused(why) => {
            let _ = write!(message, " Break-glass refused: {why}.");
        }
        Glass::Available => {
            let _ = write!(
                message,
                " You may break glass: set the annotations {BREAK_GLASS_ANNOTATION}: \"<reason>\" and {BREAK_GLASS_UNTIL}: \"<RFC 3339 time, at most {}h ahead>\" in the same change.",
                policy.break_glass_max.as_secs() / 3600
            );
        }
        Glass::Granted { .. } | Glass::NotMember => {}
    }
    match mode {
        Mode::Enforce => {
            verdict.response.allowed = false;
            verdict.response.status =
                Some(Status { code: 403, message: message.clone(), reason: Some("Forbidden".into()) });
            annotate(&mut verdict.response, &departing, verdict.source.as_deref());
        }
        Mode::Warn => {
            verdict.response.warnings.push(message.clone());
            annotate(&mut verdict.response, &departing, verdict.source.as_deref());
        }
        Mode::Audit => {}
    }
    // the audit event keeps the first paths; the message says how many there were
    verdict.outcome = Outcome::Violation { mode, paths: departing.paths, message };
    verdict
}

/// True when an update changes a pod template's `kubectl.kubernetes.io/restartedAt` and nothing
/// else: the new object with the old annotation put back has no change left.
fn only_restarts(policy: &Policy<'_>, key: &ResourceKey, req: &Request) -> bool {
    let (Some(old), Some(new)) = (req.old_object.as_ref(), req.object.as_ref()) else { return false };
    let pointer = format!("/spec/template/metadata/annotations/{}", RESTARTED_AT.replace('/', "~1"));
    let (before, after) = (old.pointer(&pointer), new.pointer(&pointer));
    if after.is_none() || before == after {
        return false;
    }
    let mut put_back = new.clone();
    let annotations = put_back.pointer_mut("/spec/template/metadata/annotations").and_then(Value::as_object_mut);
    if let Some(map) = annotations {
        match before {
            Some(v) => {
                map.insert(RESTARTED_AT.into(), v.clone());
            }
            None => {
                map.shift_remove(RESTARTED_AT);
            }
        }
    }
    changes(policy, key, old, &put_back).is_empty()
}

/// What is wrong with a request for a managed object, if anything: an operation admission does
/// not know, or an UPDATE without both objects. (CONNECT never reaches a rule driftgate writes.)
fn malformed(req: &Request, scale: bool) -> Option<String> {
    match req.operation.as_str() {
        "CREATE" if req.object.is_none() => Some("CREATE without an object".into()),
        "UPDATE" if req.old_object.is_none() || req.object.is_none() => {
            Some(format!("UPDATE{} without both oldObject and object", if scale { " of scale" } else { "" }))
        }
        "DELETE" | "CREATE" | "UPDATE" => None,
        other => Some(format!("unknown operation {other:?}")),
    }
}

/// Paths named in a message, a warning or an audit annotation; the rest are counted. A review
/// may change tens of thousands of paths, and `kubectl` prints the whole message.
pub const MAX_SHOWN_PATHS: usize = 10;
/// Paths kept in a violation's audit event.
pub const MAX_RECORDED_PATHS: usize = 1000;

/// The paths where a request departs from Git: the first [`MAX_RECORDED_PATHS`] written out,
/// and how many there are. Only those are formatted: a review may depart at 30,000 paths.
#[derive(Debug, Default)]
struct Departing {
    paths: Vec<String>,
    total: usize,
}

impl Departing {
    /// `None` when there are no paths.
    fn of<'p>(paths: impl Iterator<Item = &'p FieldPath>) -> Option<Self> {
        let mut d = Self::default();
        for p in paths {
            if d.paths.len() < MAX_RECORDED_PATHS {
                d.paths.push(p.to_string());
            }
            d.total += 1;
        }
        (d.total > 0).then_some(d)
    }
}

/// The first [`MAX_SHOWN_PATHS`] paths, then how many more.
fn shown(departing: &Departing) -> String {
    let mut text = departing.paths.iter().take(MAX_SHOWN_PATHS).map(String::as_str).collect::<Vec<_>>().join(", ");
    if departing.total > MAX_SHOWN_PATHS {
        let _ = write!(text, " and {} more paths", departing.total - MAX_SHOWN_PATHS);
    }
    text
}

fn annotate(r: &mut Response, departing: &Departing, source: Option<&str>) {
    let what = if departing.total == 0 { "delete".to_owned() } else { shown(departing) };
    r.audit_annotations.insert("driftgate.dev/violation".into(), what);
    if let Some(s) = source {
        r.audit_annotations.insert("driftgate.dev/source".into(), s.to_owned());
    }
}

fn is_reconciler(policy: &Policy<'_>, req: &Request) -> bool {
    let u = &req.user_info;
    policy.reconciler_usernames.contains(&u.username) || u.groups.iter().any(|g| policy.reconciler_groups.contains(g))
}

/// What break-glass allows this request.
enum Glass {
    /// The user is not in a break-glass group.
    NotMember,
    /// A member who has not asked for it.
    Available,
    /// A member asked, with a reason and an end in the allowed window.
    Granted { reason: String, until: String },
    /// A member asked, but the grant is not valid: why.
    Refused(String),
}

fn break_glass(policy: &Policy<'_>, req: &Request, subject: Option<&Value>) -> Glass {
    if !req.user_info.groups.iter().any(|g| policy.break_glass_groups.contains(g)) {
        return Glass::NotMember;
    }
    let annotation = |k: &str| {
        subject?.get("metadata")?.get("annotations")?.get(k)?.as_str().map(str::trim).filter(|s| !s.is_empty())
    };
    let Some(reason) = annotation(BREAK_GLASS_ANNOTATION) else { return Glass::Available };
    let max = time::Duration::try_from(policy.break_glass_max).unwrap_or(time::Duration::DAY);
    let Some(text) = annotation(BREAK_GLASS_UNTIL) else {
        return Glass::Refused(format!(
            "{BREAK_GLASS_UNTIL} must say when the grant ends (RFC 3339, at most {}h ahead)",
            max.whole_hours()
        ));
    };
    let Ok(until) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) else {
        return Glass::Refused(format!("{BREAK_GLASS_UNTIL}: {text:?} is not an RFC 3339 time"));
    };
    if until <= policy.now {
        return Glass::Refused(format!("the grant expired at {text}"));
    }
    if until > policy.now + max {
        return Glass::Refused(format!("{BREAK_GLASS_UNTIL} is more than {}h ahead", max.whole_hours()));
    }
    Glass::Granted { reason: reason.to_owned(), until: text.to_owned() }
}

type Managed<'s, 'a> = Option<(&'s SourceView<'a>, &'a Declared)>;

/// The object the request is about, and the source that declares it.
fn target<'s, 'a>(sources: &'s [SourceView<'a>], req: &Request, scale: bool) -> Option<(ResourceKey, Managed<'s, 'a>)> {
    if scale {
        // the Scale object stands for its parent: find it by resource, namespace and name
        let name = req.name.as_deref()?;
        for s in sources {
            for (k, m) in s.objects {
                if k.group == req.resource.group
                    && k.name == name
                    && k.namespace.as_deref() == req.namespace.as_deref()
                    && super::registration::plural(&k.kind) == req.resource.resource
                {
                    return Some((k.clone(), Some((s, m))));
                }
            }
        }
        return None;
    }
    let obj = req.object.as_ref().or(req.old_object.as_ref())?;
    let mut key = ResourceKey::of(obj).ok()?;
    if key.namespace.is_none() && !Scopes::default().is_cluster_scoped(&key.group, &key.kind) {
        key.namespace = req.namespace.clone().filter(|n| !n.is_empty());
    }
    let managed = sources.iter().find_map(|s| s.objects.get(&key).map(|m| (s, m)));
    Some((key, managed))
}

/// Where `obj` departs from Git under the source's rules.
fn drift_differences(
    policy: &Policy<'_>,
    src: &SourceView<'_>,
    key: &ResourceKey,
    desired: &Value,
    obj: Option<&Value>,
) -> Vec<Difference> {
    let Some(obj) = obj else { return Vec::new() };
    let settings =
        Settings { rules: src.rules, reconcilers: policy.field_managers, instance_label: policy.instance_label };
    // the request's managedFields are what its client chose (`--field-manager=argocd-controller`):
    // they never say who is asking, so the object is judged without them, as a person's change
    let obj = without_managed_fields(obj);
    report::drift_differences(key, desired, &obj, settings)
}

/// A scale request: the new replica count against Git's, under the parent's rules.
fn scale_paths(policy: &Policy<'_>, managed: Managed<'_, '_>, key: &ResourceKey, req: &Request) -> Option<Departing> {
    // a Scale of 0 arrives as `spec: {}`: Kubernetes omits a zero `replicas`
    let replicas =
        |o: Option<&Value>| o.map(|o| o.pointer("/spec/replicas").cloned().unwrap_or_else(|| Value::from(0)));
    let (old, new) = (replicas(req.old_object.as_ref()), replicas(req.object.as_ref()));
    if old == new {
        return None;
    }
    let Some((src, want)) = managed else { return Some(Departing { paths: vec!["spec.replicas".into()], total: 1 }) };
    let desired = want.object();
    let mut after = desired.clone();
    if let (Some(slot), Some(n)) = (after.pointer_mut("/spec/replicas"), new.clone()) {
        *slot = n;
    } else if let (Some(spec), Some(n)) = (after.get_mut("spec").and_then(Value::as_object_mut), new) {
        spec.insert("replicas".into(), n);
    }
    let drift = drift_differences(policy, src, key, &desired, Some(&after));
    Departing::of(drift.iter().map(|d| &d.path))
}

/// An update: what changed, and which of the changes leave the object departing from Git.
fn update_paths(policy: &Policy<'_>, managed: Managed<'_, '_>, key: &ResourceKey, req: &Request) -> Option<Departing> {
    let (Some(old), Some(new)) = (req.old_object.as_ref(), req.object.as_ref()) else { return None };
    let changed = changes(policy, key, old, new);
    if changed.is_empty() {
        return None;
    }
    match managed {
        Some((src, want)) => {
            let drift = drift_differences(policy, src, key, &want.object(), Some(new));
            let changed = Changed::new(&changed);
            Departing::of(drift.iter().map(|d| &d.path).filter(|d| changed.overlaps(d)))
        }
        // managed by identity only: every change that no rule ignores is a reconciler's to make
        None => Departing::of(changed.iter()),
    }
}

/// The object without `metadata.managedFields`.
fn without_managed_fields(obj: &Value) -> std::borrow::Cow<'_, Value> {
    if obj.pointer("/metadata/managedFields").is_none() {
        return std::borrow::Cow::Borrowed(obj);
    }
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    std::borrow::Cow::Owned(copy)
}

/// The paths an update changed, after normalisation, minus status and the system-wide rules.
fn changes(policy: &Policy<'_>, key: &ResourceKey, old: &Value, new: &Value) -> Vec<FieldPath> {
    // compared in place (server metadata is skipped by the comparison); only Secrets are copied
    let (old, new) = (copy_if_needed(old), copy_if_needed(new));
    let (old, new) = (old.as_ref(), new.as_ref());
    let none = ManagedFields::default();
    let ctx = Context {
        kind: &key.kind,
        group: &key.group,
        managed: &none,
        reconcilers: policy.field_managers,
        baseline: None,
        // only the paths are wanted, and a review may change 30,000 of them
        values: false,
    };
    let diffs = compare::compare(old, new, &ctx);
    if diffs.is_empty() {
        return Vec::new();
    }
    let rules = Applicable::new(policy.rules, key, old, new);
    diffs
        .into_iter()
        .filter(|d| rules.suppression(d, new, &none).is_none())
        .map(|d| d.path)
        .filter(|p| !matches!(p.0.first(), Some(Seg::Field(f)) if &**f == "status"))
        .collect()
}

/// The paths a request changed, indexed so that asking whether a path overlaps one of them
/// costs its depth in hash lookups, not a scan: a review may change 30,000 paths. Paths compare
/// by their readable steps (keys and item labels), not by list index: a changed item and a
/// drifted one are the same item when their merge keys are.
struct Changed<'a> {
    paths: &'a [FieldPath],
    /// The hash of each changed path, and one path with it.
    whole: FxHashMap<u64, usize>,
    /// The hash of each proper prefix of a changed path, and one path that has it.
    above: FxHashMap<u64, usize>,
}

impl<'a> Changed<'a> {
    fn new(paths: &'a [FieldPath]) -> Self {
        let mut whole = FxHashMap::default();
        let mut above = FxHashMap::default();
        for (i, p) in paths.iter().enumerate() {
            let hashes = prefix_hashes(p);
            if let Some((last, proper)) = hashes.split_last() {
                whole.entry(*last).or_insert(i);
                for h in proper {
                    above.entry(*h).or_insert(i);
                }
            }
            // the empty path (the whole object) hashes as nothing: it sits above every path
            above.entry(ROOT).or_insert(i);
            if p.0.is_empty() {
                whole.entry(ROOT).or_insert(i);
            }
        }
        Self { paths, whole, above }
    }

    /// True when `path` is a changed path, lies under one, or has one under it.
    fn overlaps(&self, path: &FieldPath) -> bool {
        let mut state = FxHasher::default();
        let mut hash = ROOT;
        for n in 0..=path.0.len() {
            if n > 0 {
                hash_step(&mut state, &path.0[n - 1]);
                hash = state.finish();
            }
            // a changed path at or above `path`
            if let Some(&i) = self.whole.get(&hash) {
                if same_steps(&self.paths[i].0, &path.0[..n]) {
                    return true;
                }
                return self.scan(path);
            }
        }
        // a changed path below `path`
        match self.above.get(&hash) {
            Some(&i)
                if self.paths[i].0.len() > path.0.len() && same_steps(&self.paths[i].0[..path.0.len()], &path.0) =>
            {
                true
            }
            // two different paths with one hash: ask every path (a 64-bit collision, never in practice)
            Some(_) => self.scan(path),
            None => false,
        }
    }

    /// The same question asked of every changed path: exact whatever the hashes do.
    fn scan(&self, path: &FieldPath) -> bool {
        self.paths.iter().any(|c| {
            let n = c.0.len().min(path.0.len());
            same_steps(&c.0[..n], &path.0[..n])
        })
    }
}

/// The hash of the empty path.
const ROOT: u64 = 0;

/// The hash of each prefix of `path`, the shortest first (the empty one left out).
fn prefix_hashes(path: &FieldPath) -> Vec<u64> {
    let mut state = FxHasher::default();
    path.0
        .iter()
        .map(|s| {
            hash_step(&mut state, s);
            state.finish()
        })
        .collect()
}

/// Feeds one step into a path's hash: its kind and its readable text.
fn hash_step(state: &mut FxHasher, seg: &Seg) {
    match seg {
        Seg::Field(k) => {
            state.write_u8(0);
            state.write(k.as_bytes());
            state.write_u8(0xff);
        }
        Seg::Item { label, .. } => {
            state.write_u8(1);
            state.write(label.as_bytes());
            state.write_u8(0xff);
        }
    }
}

/// True when two runs of steps name the same keys and items.
fn same_steps(a: &[Seg], b: &[Seg]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Seg::Field(x), Seg::Field(y)) | (Seg::Item { label: x, .. }, Seg::Item { label: y, .. }) => x == y,
            _ => false,
        })
}

fn message(
    req: &Request,
    key: &ResourceKey,
    src: Option<&SourceView<'_>>,
    marker: Option<&Marker>,
    paths: &Departing,
) -> String {
    let user = &req.user_info.username;
    let what = match req.operation.as_str() {
        "DELETE" => "deleted it".to_owned(),
        "CREATE" => format!("created it with {}", shown(paths)),
        _ => format!("changed {}", shown(paths)),
    };
    let owner = match (src, marker) {
        (Some(s), _) => {
            let mut at = format!("source {} (path {}", s.name, s.info.path);
            // kubectl users see this: the repository helps them find where to change Git, its
            // credentials must not reach them (SourceInfo comes masked; masking is idempotent)
            if let Some(repo) = &s.info.repo {
                let _ = write!(at, " in {}", crate::redact::url(repo));
            }
            if let Some(rev) = &s.info.revision {
                let _ = write!(at, " at {rev}");
            }
            if let Some(c) = &s.info.commit {
                let _ = write!(at, ", commit {}", c.chars().take(12).collect::<String>());
            }
            at.push(')');
            at
        }
        (None, Some(m)) => format!("{m:?}"),
        (None, None) => "a GitOps reconciler".to_owned(),
    };
    format!(
        "driftgate: {} is managed by Git, {owner}; user {user} {what}. Make the change in Git and let the reconciler apply it.",
        key.human()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An enforcing policy with these reconciler usernames and rules, and nothing else.
    fn test_policy<'a>(reconcilers: &'a [String], rules: &'a [Rule]) -> Policy<'a> {
        Policy {
            reconciler_usernames: reconcilers,
            reconciler_groups: &[],
            field_managers: &[],
            break_glass_groups: &[],
            break_glass_max: std::time::Duration::from_secs(86_400),
            now: time::OffsetDateTime::UNIX_EPOCH,
            mode: Mode::Enforce,
            instance_label: false,
            allow_rollout_restart: true,
            rules,
            live: None,
        }
    }

    /// The detector saw the object with Argo CD's tracking-id.
    #[derive(Debug)]
    struct Tracked;

    impl LiveView for Tracked {
        fn marker(&self, _key: &ResourceKey) -> Option<Marker> {
            Some(Marker::ArgoTrackingId { app: "shop".into() })
        }
    }

    #[test]
    fn the_live_view_knows_an_object_is_managed_when_the_request_does_not() {
        let object = |image: &str| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "old", "namespace": "demo"},
                "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
        };
        let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "old", "namespace": "demo", "operation": "UPDATE",
            "userInfo": {"username": "alice", "groups": ["developers"]},
            "object": object("nginx:2"), "oldObject": object("nginx:1")}});
        let parsed = super::super::review::parse(review.to_string().as_bytes()).unwrap();
        let rules = vec![Rule::status()];
        let mut policy = test_policy(&[], &rules);
        let unmarked = decide(&policy, &[], &parsed.request);
        assert!(unmarked.response.allowed, "no marker anywhere: unmanaged");
        policy.live = Some(&Tracked);
        let seen = decide(&policy, &[], &parsed.request);
        assert!(!seen.response.allowed, "the live object is Argo CD's: {:?}", seen.outcome);
    }

    /// Issue 14, finding 7: kubectl users see the repository, never its credentials.
    #[test]
    fn messages_name_the_repository_without_its_credentials() {
        let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "resource": {"group": "", "version": "v1", "resource": "configmaps"},
            "name": "c", "namespace": "demo", "operation": "DELETE",
            "userInfo": {"username": "alice", "groups": []}}});
        let req = super::super::review::parse(review.to_string().as_bytes()).unwrap().request;
        let key = ResourceKey::new("", "ConfigMap", Some("demo"), "c");
        let info = SourceInfo {
            name: Some("shop".into()),
            path: "apps".into(),
            repo: Some("https://user:PLANTED@git.example.com/org/repo.git?private_token=PLANTED".into()),
            revision: Some("main".into()),
            commit: Some("0123456789abcdef".into()),
        };
        let objects = BTreeMap::new();
        let view = SourceView { name: "shop", mode: None, rules: &[], objects: &objects, info: &info };
        let text = message(&req, &key, Some(&view), None, &Departing::default());
        assert!(!text.contains("PLANTED"), "{text}");
        assert!(
            text.contains(
                "(path apps in https://***@git.example.com/org/repo.git?private_token=*** at main, commit 0123456789ab)"
            ),
            "{text}"
        );
        let rules = vec![Rule::status()];
        let policy = test_policy(&[], &rules);
        let marked = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "demo",
                "annotations": {"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:demo/c"}}});
        let mut req = req;
        req.old_object = Some(marked);
        let error = "https://user:PLANTED@h/r: fetch failed: error sending request for url (https://user:PLANTED@h/r/info/refs)";
        let pending = vec![("shop".to_owned(), Some(error.to_owned()))];
        let refused = decide_unloaded(&policy, true, &pending, None, &req);
        let text = refused.status.unwrap().message;
        assert!(!text.contains("PLANTED") && text.contains("source shop: https://***@h/r: fetch failed"), "{text}");
    }

    /// A rule that names part of an added subtree splits it: the decision finds differences
    /// without their values first, and must find them again with values for the split.
    #[test]
    fn a_rule_inside_an_added_subtree_splits_it() {
        use crate::diff::ignore::IgnoreRuleSpec;
        use crate::model::load::{Manifest, Origin};
        let desired = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}});
        let key = ResourceKey::of(&desired).unwrap();
        let manifest = Manifest {
            key: key.clone(),
            object: desired.clone(),
            origin: Origin { file: "d.yaml".into(), line: None },
        };
        let objects = BTreeMap::from([(key, Declared::of(&manifest))]);
        let spec = IgnoreRuleSpec {
            group: Some("apps".into()),
            kind: Some("Deployment".into()),
            json_pointers: vec!["/spec/template/spec/containers/0/securityContext/capabilities/add".into()],
            ..IgnoreRuleSpec::default()
        };
        let rules = vec![Rule::status(), Rule::compile(&spec, "ignoreDifferences[0]".into()).unwrap()];
        let info = SourceInfo::default();
        let sources = [SourceView { name: "shop", mode: None, rules: &rules, objects: &objects, info: &info }];
        let policy = test_policy(&[], &[]);
        let update = |capabilities: serde_json::Value| {
            let mut new = desired.clone();
            new["spec"]["template"]["spec"]["containers"][0]["securityContext"] =
                serde_json::json!({"capabilities": capabilities});
            let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "u1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "name": "web", "namespace": "demo", "operation": "UPDATE",
                "userInfo": {"username": "alice", "groups": []}, "object": new, "oldObject": desired}});
            decide(&policy, &sources, &super::super::review::parse(review.to_string().as_bytes()).unwrap().request)
        };
        let ignored = update(serde_json::json!({"add": ["NET_ADMIN"]}));
        assert!(ignored.response.allowed, "{:?}", ignored.outcome);
        let refused = update(serde_json::json!({"add": ["NET_ADMIN"], "drop": ["ALL"]}));
        let Outcome::Violation { paths, .. } = refused.outcome else { panic!("{:?}", refused.outcome) };
        assert_eq!(paths, ["spec.template.spec.containers[name=web].securityContext.capabilities.drop"]);
    }

    /// A path from readable steps: `[label]` is a list item, anything else a key.
    fn path(steps: &[&str]) -> FieldPath {
        FieldPath(
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    Some(label) => Seg::Item { label: label.into(), live: Some(i), desired: None },
                    None => Seg::Field((*s).into()),
                })
                .collect(),
        )
    }

    /// True when one path is the other or lies under it: the definition the index must keep.
    fn pairwise(a: &FieldPath, b: &FieldPath) -> bool {
        let n = a.0.len().min(b.0.len());
        same_steps(&a.0[..n], &b.0[..n])
    }

    /// The index answers as the pairwise definition does, for every pair of a set of paths,
    /// and so does the scan it falls back on when two paths share a hash.
    #[test]
    fn indexed_overlap_is_pairwise_overlap() {
        let all = [
            path(&[]),
            path(&["spec"]),
            path(&["spec", "replicas"]),
            path(&["spec", "replicasX"]),
            path(&["spec", "template", "spec", "containers", "[name=web]"]),
            path(&["spec", "template", "spec", "containers", "[name=web]", "env", "[name=A]"]),
            path(&["spec", "template", "spec", "containers", "[name=web2]"]),
            path(&["spec", "template", "spec", "containers", "[name=a.b]", "image"]),
            // a key and an item with one text are different steps
            path(&["spec", "template", "spec", "containers", "name=web"]),
            path(&["metadata", "labels", "app"]),
            path(&["data", "x"]),
        ];
        for take in 0..all.len() {
            for step in 1..4 {
                let changed: Vec<FieldPath> = all.iter().skip(take).step_by(step).cloned().collect();
                let index = Changed::new(&changed);
                for d in &all {
                    let want = changed.iter().any(|c| pairwise(c, d));
                    assert_eq!(index.overlaps(d), want, "{d} against {changed:?}");
                    assert_eq!(index.scan(d), want, "{d} against {changed:?}");
                }
            }
        }
    }

    /// Issue 13: before Git has loaded, only what is known to be managed is refused, and the
    /// refusal names each source that has not loaded and its last error.
    #[test]
    fn before_git_loads_only_marked_objects_are_refused() {
        let request = |annotations: serde_json::Value, user: &str| {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "demo", "annotations": annotations}});
            let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "name": "c", "namespace": "demo", "operation": "CREATE",
                "userInfo": {"username": user, "groups": []}, "object": obj}});
            super::super::review::parse(review.to_string().as_bytes()).unwrap().request
        };
        let reconcilers = vec!["argo".to_owned()];
        let rules = vec![Rule::status()];
        let policy = test_policy(&reconcilers, &rules);
        let pending = vec![("shop".to_owned(), Some("fetch: connection refused".to_owned()))];
        let marked = serde_json::json!({"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:demo/c"});
        let r = decide_unloaded(&policy, true, &pending, None, &request(marked.clone(), "alice"));
        assert!(!r.allowed);
        let message = r.status.unwrap().message;
        assert!(message.contains("source shop: fetch: connection refused"), "{message}");
        let r = decide_unloaded(&policy, true, &pending, None, &request(serde_json::json!({}), "alice"));
        assert!(r.allowed, "an unmarked object is never held up");
        assert!(r.warnings.is_empty(), "and not warned about: it is nobody's");
        assert!(
            decide_unloaded(&policy, true, &pending, None, &request(marked.clone(), "argo")).allowed,
            "the reconciler"
        );
        assert!(
            decide_unloaded(&policy, false, &pending, None, &request(marked, "alice")).allowed,
            "failurePolicy open"
        );
        // the managed snapshot: unmarked, but declared by `shop` when driftgate last knew
        let key = ResourceKey::new("", "ConfigMap", Some("demo"), "c");
        let remembered = Remembered::of([("shop", [&key])]);
        let pending =
            vec![("platform".to_owned(), None), ("shop".to_owned(), Some("fetch: connection refused".to_owned()))];
        let r = decide_unloaded(&policy, true, &pending, Some(&remembered), &request(serde_json::json!({}), "alice"));
        assert!(!r.allowed, "remembered as managed");
        let message = r.status.unwrap().message;
        assert!(message.contains("(source shop: fetch: connection refused)"), "only its source: {message}");
        assert!(message.contains("source shop declared when driftgate last knew"), "{message}");
    }
}
