//! A drift's story across traces: per object, the admission that let a change in (who, and its
//! span) and the drift detection that saw it (its span). A drift span links to the admission,
//! a heal span to the drift, so one trace leads to the others. Bounded: the oldest objects go
//! first.

use std::collections::{HashMap, VecDeque};

use opentelemetry::trace::SpanContext;

use crate::audit::Actor;
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

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
