//! The live stream behind `GET /api/v1/events`: a broadcast of every event to connected readers,
//! and the most recent events kept in memory so a new reader sees what just happened.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::sync::broadcast;

use super::Encoded;

/// Events kept for new readers.
pub const RECENT: usize = 1000;

/// Which events a reader wants; every set field must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Filter {
    /// The config source (`data.source`).
    pub source: Option<String>,
    /// The object's kind, e.g. `Deployment` (case-insensitive).
    pub kind: Option<String>,
    /// Event types, comma-separated: a full type (`dev.driftgate.heal.applied`) or a prefix of
    /// one, with or without `dev.driftgate.` (`drift`, `admission.denied`).
    #[serde(rename = "type")]
    pub types: Option<String>,
}

impl Filter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &super::CloudEvent) -> bool {
        if self.source.as_ref().is_some_and(|s| e.data.source.as_ref() != Some(s)) {
            return false;
        }
        if self.kind.as_ref().is_some_and(|k| !e.kind().is_some_and(|ek| ek.eq_ignore_ascii_case(k))) {
            return false;
        }
        match &self.types {
            None => true,
            Some(types) => types.split(',').map(str::trim).filter(|t| !t.is_empty()).any(|t| {
                let full = if t.starts_with("dev.driftgate.") { t.to_owned() } else { format!("dev.driftgate.{t}") };
                e.event_type == full || e.event_type.strip_prefix(full.as_str()).is_some_and(|r| r.starts_with('.'))
            }),
        }
    }
}

/// The broadcast and the recent events.
#[derive(Debug)]
pub struct Live {
    tx: broadcast::Sender<Arc<Encoded>>,
    recent: Mutex<VecDeque<Arc<Encoded>>>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Live {
    /// Hands an event to every reader and keeps it for new ones.
    pub fn publish(&self, e: &Arc<Encoded>) {
        if let Ok(mut r) = self.recent.lock() {
            if r.len() == RECENT {
                r.pop_front();
            }
            r.push_back(Arc::clone(e));
        }
        // no reader is not an error
        let _ = self.tx.send(Arc::clone(e));
    }

    /// The recent events that pass `filter`, and a receiver for the ones after them. Taken under
    /// one lock so no event falls between the two.
    pub fn subscribe(&self, filter: &Filter) -> (Vec<Arc<Encoded>>, broadcast::Receiver<Arc<Encoded>>) {
        let guard = self.recent.lock();
        let rx = self.tx.subscribe();
        let recent = match guard {
            Ok(r) => r.iter().filter(|e| filter.matches(&e.event)).cloned().collect(),
            Err(_) => Vec::new(),
        };
        (recent, rx)
    }

    /// Ends every reader's stream: the server is shutting down, and open streams would hold its
    /// graceful shutdown until the deadline.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once [`Live::close`] was called.
    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Readers connected now.
    pub fn readers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::CloudEvent;

    fn event(t: &str, source: &str, kind: &str) -> CloudEvent {
        let mut e: CloudEvent = serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "driftgate", "type": t, "time": "t",
            "datacontenttype": "application/json",
            "data": {"actor": {"username": null, "groups": [], "fieldManager": null}, "object": null, "paths": [],
                     "source": null, "revision": null, "commit": null, "traceId": null, "dryRun": false}
        }))
        .unwrap();
        e.data.source = Some(source.into());
        e.data.object = Some(crate::model::ResourceKey::new("apps", kind, Some("demo"), "web"));
        e
    }

    #[test]
    fn filters_by_source_kind_and_type_prefix() {
        let e = event("dev.driftgate.drift.detected", "shop", "Deployment");
        let f = |s: Option<&str>, k: Option<&str>, t: Option<&str>| Filter {
            source: s.map(Into::into),
            kind: k.map(Into::into),
            types: t.map(Into::into),
        };
        assert!(f(None, None, None).matches(&e));
        assert!(f(Some("shop"), Some("deployment"), Some("drift")).matches(&e));
        assert!(f(None, None, Some("heal,drift.detected")).matches(&e));
        assert!(f(None, None, Some("dev.driftgate.drift")).matches(&e));
        assert!(!f(None, None, Some("drift.det")).matches(&e), "prefixes end at a dot");
        assert!(!f(Some("other"), None, None).matches(&e));
        assert!(!f(None, Some("Service"), None).matches(&e));
    }
}
