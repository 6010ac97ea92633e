//! What the Kubernetes Events sink writes, decided without I/O: which audit events become
//! events.k8s.io/v1 Events on the object, how repeats aggregate into one Event's `series`, and
//! the rate limit on API writes. The cluster shell (`cluster::events`) performs the writes.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::CloudEvent;
use crate::model::ResourceKey;

/// The longest `note` the API accepts.
pub const NOTE_LIMIT: usize = 1024;

/// One Kubernetes Event, as driftgate writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeEvent {
    /// The Event's own name: the object's name and a unique suffix.
    pub name: String,
    /// The Event's namespace: the object's, or `default` for cluster-scoped objects.
    pub namespace: String,
    /// The object the Event is about.
    pub regarding: ResourceKey,
    /// `Normal` or `Warning`.
    pub event_type: &'static str,
    /// Machine-readable, e.g. `DriftDetected`.
    pub reason: &'static str,
    /// What driftgate did, e.g. `Deny`, `Detect`, `Revert`.
    pub action: String,
    /// For people: who changed which paths, and what came of it.
    pub note: String,
    /// The first occurrence (RFC 3339).
    pub first_time: String,
    /// The latest occurrence (RFC 3339).
    pub last_time: String,
    /// Occurrences so far.
    pub count: u32,
}

/// An API write to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// The first occurrence: create the Event.
    Create(KubeEvent),
    /// A repeat: update the Event's `series` (count and last time).
    Update(KubeEvent),
}

/// The reason, type and action of an audit event's Kubernetes Event, or `None` for events that
/// get none: source events (no object) and dry-run admission requests (a dry run must have no
/// side effects).
pub fn classify(e: &CloudEvent) -> Option<(&'static str, &'static str, String)> {
    let short = e.event_type.strip_prefix("dev.driftgate.")?;
    let action = e.data.action.clone();
    let (reason, warning, act) = match short {
        "admission.denied" => ("ChangeDenied", true, "Deny".to_owned()),
        "admission.warned" => ("UnauthorizedChange", true, "Warn".to_owned()),
        "admission.audited" => ("UnauthorizedChange", true, "Audit".to_owned()),
        "admission.breakglass" => ("BreakGlass", true, "Allow".to_owned()),
        "drift.detected" => ("DriftDetected", true, "Detect".to_owned()),
        "drift.resolved" => ("DriftResolved", false, "Detect".to_owned()),
        // Git moved and the reconciler has not applied yet: news, not an alarm
        "sync.pending" => ("SyncPending", false, "Detect".to_owned()),
        "heal.applied" => ("Healed", false, capitalised(action.as_deref().unwrap_or("revert"))),
        "heal.applied.dryrun" => ("HealPlanned", false, capitalised(action.as_deref().unwrap_or("revert"))),
        "heal.failed" => ("HealFailed", true, capitalised(action.as_deref().unwrap_or("revert"))),
        "heal.quarantined" => ("Quarantined", true, "Quarantine".to_owned()),
        _ => return None,
    };
    e.data.object.as_ref()?;
    Some((reason, if warning { "Warning" } else { "Normal" }, act))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The note: who, which paths, what came of it; at most [`NOTE_LIMIT`] bytes.
pub fn note(e: &CloudEvent, reason: &str) -> String {
    let who = match (&e.data.actor.username, &e.data.actor.field_manager) {
        (Some(u), Some(m)) => Some(format!("{u} ({m})")),
        (Some(u), None) => Some(u.clone()),
        (None, Some(m)) => Some(m.clone()),
        (None, None) => None,
    };
    let paths = e.data.paths.join(", ");
    let status = e.data.details.get("status").and_then(serde_json::Value::as_str);
    // say what happened; a person is named only when managedFields or the admission trail did
    let mut text = match (reason, who, status) {
        ("SyncPending", _, Some("Missing")) => {
            format!("{reason}: Git declares it; waiting for the reconciler to create it")
        }
        ("SyncPending", _, Some("Extra")) => {
            format!("{reason}: Git no longer declares it; waiting for the reconciler to prune it")
        }
        ("SyncPending", _, _) => format!("{reason}: Git changed {paths}; waiting for the reconciler to apply it"),
        ("DriftResolved", _, _) => format!("{reason}: matches Git again"),
        (_, None, Some("Missing")) => format!("{reason}: Git declares it but it is not in the cluster (deleted?)"),
        (_, None, Some("Extra")) => {
            format!("{reason}: it carries this source's ownership marker but Git does not declare it")
        }
        (_, None, _) if !paths.is_empty() => {
            format!("{reason}: {paths} differ from Git; no field manager recorded who")
        }
        (_, None, _) => reason.to_owned(),
        (_, Some(who), _) if !paths.is_empty() => format!("{reason}: {who} changed {paths}"),
        (_, Some(who), _) => format!("{reason}: {who}"),
    };
    if let Some(s) = &e.data.source {
        text.push_str("; source ");
        text.push_str(s);
        if let Some(c) = &e.data.commit {
            text.push_str(" at ");
            text.push_str(c.get(..12).unwrap_or(c));
        }
    }
    if text.len() > NOTE_LIMIT {
        let mut cut = NOTE_LIMIT - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

#[derive(Debug)]
struct Entry {
    event: KubeEvent,
    created: bool,
    dirty: bool,
    first_seen: Instant,
}

/// Aggregation and rate limiting: repeats of one (object, reason, note) within the window
/// become one Event with a count; writes beyond `qps`/`burst` wait, and what waits keeps
/// aggregating, so a storm becomes a few updates, not a flood.
#[derive(Debug)]
pub struct Aggregator {
    window: Duration,
    entries: HashMap<(ResourceKey, &'static str, String), Entry>,
    order: VecDeque<(ResourceKey, &'static str, String)>,
    capacity: usize,
    tokens: f64,
    qps: f64,
    burst: f64,
    refilled: Instant,
    /// Events folded away because more distinct events waited than `capacity`.
    pub suppressed: u64,
}

impl Aggregator {
    /// An aggregator over `window`, writing at most `qps` per second after a `burst`.
    pub fn new(window: Duration, qps: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            window,
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: 4096,
            tokens: burst,
            qps: qps.max(0.001),
            burst,
            refilled: now,
            suppressed: 0,
        }
    }

    /// Takes one audit event in; `suffix` makes a new Event's name unique (the caller passes the
    /// time in hex, as client-go does).
    pub fn observe(&mut self, e: &CloudEvent, suffix: &str, now: Instant) {
        let Some((reason, event_type, action)) = classify(e) else { return };
        let Some(object) = e.data.object.clone() else { return };
        let note = note(e, reason);
        let key = (object.clone(), reason, note.clone());
        if let Some(entry) = self.entries.get_mut(&key)
            && now.duration_since(entry.first_seen) < self.window
        {
            entry.event.count = entry.event.count.saturating_add(1);
            entry.event.last_time.clone_from(&e.time);
            entry.dirty = true;
            return;
        }
        if self.entries.len() >= self.capacity && !self.evict() {
            self.suppressed += 1;
            return;
        }
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let event = KubeEvent {
            name: format!("{}.{suffix}", object.name),
            namespace,
            regarding: object,
            event_type,
            reason,
            action,
            note,
            first_time: e.time.clone(),
            last_time: e.time.clone(),
            count: 1,
        };
        if self.entries.insert(key.clone(), Entry { event, created: false, dirty: true, first_seen: now }).is_none() {
            self.order.push_back(key);
        }
    }

    /// Drops the oldest entry that has nothing waiting; `false` when every entry waits.
    fn evict(&mut self) -> bool {
        let Some(i) = self.order.iter().position(|k| self.entries.get(k).is_none_or(|e| !e.dirty)) else {
            return false;
        };
        if let Some(k) = self.order.remove(i) {
            self.entries.remove(&k);
        }
        true
    }

    /// The writes the rate limit allows now, oldest first.
    pub fn due(&mut self, now: Instant) -> Vec<Write> {
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * self.qps).min(self.burst);
        self.refilled = now;
        let mut out = Vec::new();
        let window = self.window;
        self.order
            .retain(|k| self.entries.get(k).is_some_and(|e| e.dirty || now.duration_since(e.first_seen) < window));
        let entries = &mut self.entries;
        entries.retain(|_, e| e.dirty || now.duration_since(e.first_seen) < window);
        for k in &self.order {
            if self.tokens < 1.0 {
                break;
            }
            if let Some(e) = entries.get_mut(k)
                && e.dirty
            {
                self.tokens -= 1.0;
                e.dirty = false;
                out.push(if e.created { Write::Update(e.event.clone()) } else { Write::Create(e.event.clone()) });
                e.created = true;
            }
        }
        out
    }

    /// When a waiting write can next go out, if any waits.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if !self.entries.values().any(|e| e.dirty) {
            return None;
        }
        let short = (1.0 - self.tokens).max(0.0) / self.qps;
        Some(now + Duration::from_secs_f64(short))
    }

    /// Undo a create that failed so the next `due` retries it.
    pub fn retry(&mut self, w: &Write) {
        let ev = match w {
            Write::Create(e) | Write::Update(e) => e,
        };
        if let Some(entry) = self.entries.values_mut().find(|x| x.event.name == ev.name) {
            entry.dirty = true;
            entry.created = matches!(w, Write::Update(_));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(name: &str, paths: &[&str]) -> CloudEvent {
        let mut e: CloudEvent = serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "driftgate", "type": "dev.driftgate.drift.detected",
            "time": "2026-11-29T00:00:00Z", "datacontenttype": "application/json",
            "data": {"actor": {"username": "alice", "groups": [], "fieldManager": "kubectl-edit"}, "object": null,
                     "paths": paths, "action": "detected", "source": "shop", "revision": "main", "commit": "0123456789abcdef",
                     "traceId": null, "dryRun": false}
        }))
        .unwrap();
        e.data.object = Some(ResourceKey::new("apps", "Deployment", Some("demo"), name));
        e
    }

    #[test]
    fn repeats_aggregate_into_one_event_with_a_count() {
        let t0 = Instant::now();
        let mut a = Aggregator::new(Duration::from_secs(600), 1.0, 2, t0);
        a.observe(&drift("web", &["spec.replicas"]), "a", t0);
        let w = a.due(t0);
        let Write::Create(ev) = &w[0] else { panic!("{w:?}") };
        assert_eq!((ev.reason, ev.event_type, ev.action.as_str()), ("DriftDetected", "Warning", "Detect"));
        assert_eq!(ev.note, "DriftDetected: alice (kubectl-edit) changed spec.replicas; source shop at 0123456789ab");
        for _ in 0..50 {
            a.observe(&drift("web", &["spec.replicas"]), "b", t0);
        }
        let w = a.due(t0);
        assert_eq!(w.len(), 1);
        let Write::Update(ev) = &w[0] else { panic!("{w:?}") };
        assert_eq!((ev.count, ev.name.as_str()), (51, "web.a"));
    }

    #[test]
    fn writes_wait_for_the_rate_limit_and_keep_counting() {
        let t0 = Instant::now();
        let mut a = Aggregator::new(Duration::from_secs(600), 1.0, 2, t0);
        for name in ["a", "b", "c", "d"] {
            a.observe(&drift(name, &["spec"]), "x", t0);
        }
        assert_eq!(a.due(t0).len(), 2, "the burst");
        assert!(a.due(t0).is_empty());
        assert!(a.next_due(t0).is_some());
        a.observe(&drift("c", &["spec"]), "y", t0);
        let w = a.due(t0 + Duration::from_secs(1));
        assert_eq!(w.len(), 1);
        let Write::Create(ev) = &w[0] else { panic!() };
        assert_eq!((ev.regarding.name.as_str(), ev.count), ("c", 2));
    }

    #[test]
    fn dry_run_admissions_and_source_events_write_no_event() {
        let mut e = drift("web", &[]);
        e.event_type = "dev.driftgate.admission.denied.dryrun".into();
        assert!(classify(&e).is_none());
        e.event_type = "dev.driftgate.source.synced".into();
        assert!(classify(&e).is_none());
    }

    /// Findings 1 and 9 of issue 12: a Git change is a Normal SyncPending, and no note says
    /// `unknown`: without an actor it says what happened.
    #[test]
    fn pending_sync_is_normal_and_notes_say_what_happened() {
        let mut e = drift("web", &["spec.replicas"]);
        e.event_type = "dev.driftgate.sync.pending".into();
        e.data.actor = crate::audit::Actor::default();
        assert_eq!(classify(&e).map(|c| (c.0, c.1)), Some(("SyncPending", "Normal")));
        assert!(note(&e, "SyncPending").contains("waiting for the reconciler"), "{}", note(&e, "SyncPending"));
        let mut missing = drift("web", &[]);
        missing.data.actor = crate::audit::Actor::default();
        missing.data.details.insert("status".into(), serde_json::json!("Missing"));
        let text = note(&missing, "DriftDetected");
        assert!(text.starts_with("DriftDetected: Git declares it but it is not in the cluster"), "{text}");
        let mut changed = drift("web", &["spec.replicas"]);
        changed.data.actor = crate::audit::Actor::default();
        let text = note(&changed, "DriftDetected");
        assert!(!text.contains("unknown") && text.contains("spec.replicas"), "{text}");
    }
}
