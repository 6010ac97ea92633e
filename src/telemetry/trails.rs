//! A drift's story across traces: per object, the admission that let a change in (who, and its
//! span) and the drift detection that saw it (its span). A drift span links to the admission,
//! a heal span to the drift, so one trace leads to the others. Bounded: the oldest objects go
//! first. Admissions decided by other replicas arrive through their audit streams
//! ([`admitted_by_peer`]).

use std::collections::{HashMap, VecDeque};

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::audit::{Actor, CloudEvent};
use crate::model::ResourceKey;

/// What is remembered of one object.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    /// The last admitted change by someone not a reconciler (warn, audit or break-glass).
    pub admitted: Option<(Actor, SpanContext)>,
    /// The last drift detection.
    pub drift: Option<SpanContext>,
}

/// The trails of the most recent objects.
#[derive(Debug)]
pub struct Trails {
    entries: HashMap<ResourceKey, Trail>,
    order: VecDeque<ResourceKey>,
    capacity: usize,
}

impl Default for Trails {
    fn default() -> Self {
        Self::with_capacity(10_000)
    }
}

impl Trails {
    /// Trails of at most `capacity` objects.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { entries: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    fn entry(&mut self, key: &ResourceKey) -> &mut Trail {
        if !self.entries.contains_key(key) {
            while self.entries.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key.clone());
        }
        self.entries.entry(key.clone()).or_default()
    }

    /// Remembers an admitted change.
    pub fn admitted(&mut self, key: &ResourceKey, actor: Actor, span: SpanContext) {
        self.entry(key).admitted = Some((actor, span));
    }

    /// Remembers a drift detection.
    pub fn drifted(&mut self, key: &ResourceKey, span: SpanContext) {
        self.entry(key).drift = Some(span);
    }

    /// The object's trail.
    pub fn get(&self, key: &ResourceKey) -> Option<&Trail> {
        self.entries.get(key)
    }
}

/// What a peer's audit event says of an admitted hand change: the object, who, and the
/// admission span (from the event's `traceparent`). `None` for anything else: denials, dry runs,
/// events without an object or a valid trace context.
pub fn admitted_by_peer(e: &CloudEvent) -> Option<(ResourceKey, Actor, SpanContext)> {
    let d = &e.data;
    let admitted = matches!(d.verdict.as_deref(), Some("warned" | "audited" | "breakglass"))
        && d.details.get("allowed").and_then(serde_json::Value::as_bool) == Some(true)
        && !d.dry_run;
    if !admitted {
        return None;
    }
    let mut parts = e.traceparent.as_deref()?.split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    let cx = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        flags,
        true,
        TraceState::default(),
    );
    if !cx.is_valid() {
        return None;
    }
    Some((d.object.clone()?, d.actor.clone(), cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([n; 16]),
            SpanId::from_bytes([n; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    #[test]
    fn keeps_the_newest_objects() {
        let mut t = Trails::with_capacity(2);
        let key = |n: &str| ResourceKey::new("", "ConfigMap", Some("demo"), n);
        t.admitted(&key("a"), Actor::default(), ctx(1));
        t.drifted(&key("a"), ctx(2));
        t.drifted(&key("b"), ctx(3));
        t.drifted(&key("c"), ctx(4));
        assert!(t.get(&key("a")).is_none());
        assert_eq!(t.get(&key("c")).and_then(|x| x.drift.clone()), Some(ctx(4)));
        assert!(t.get(&key("b")).is_some());
    }
}

#[cfg(test)]
mod peer_tests {
    use super::*;

    fn event(verdict: &str, allowed: bool, traceparent: Option<&str>) -> CloudEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": "u1", "source": "driftgate", "type": format!("dev.driftgate.admission.{verdict}"),
            "time": "t", "datacontenttype": "application/json", "traceparent": traceparent,
            "data": {"actor": {"username": "alice", "groups": ["dev"], "fieldManager": "kubectl-edit"},
                     "object": {"group": "apps", "kind": "Deployment", "namespace": "demo", "name": "web"},
                     "paths": [], "verdict": verdict, "source": "shop", "revision": null, "commit": null,
                     "traceId": null, "dryRun": false, "allowed": allowed}
        }))
        .unwrap()
    }

    #[test]
    fn a_peers_warned_admission_becomes_a_trail() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (key, actor, cx) = admitted_by_peer(&event("warned", true, Some(tp))).unwrap();
        assert_eq!((key.name.as_str(), actor.username.as_deref()), ("web", Some("alice")));
        assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(cx.span_id().to_string(), "00f067aa0ba902b7");
        assert!(cx.is_remote() && cx.is_sampled());
        assert!(admitted_by_peer(&event("denied", false, Some(tp))).is_none(), "a denial let nothing in");
        assert!(admitted_by_peer(&event("warned", true, None)).is_none());
        assert!(admitted_by_peer(&event("warned", true, Some("00-zz-00f067aa0ba902b7-01"))).is_none());
        assert!(
            admitted_by_peer(&event("warned", true, Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01")))
                .is_none()
        );
    }
}
