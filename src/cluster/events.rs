//! The Kubernetes Events audit sink's shell: takes audit events from the queue, lets the pure
//! aggregator (`audit::kube_events`) decide what to write, and writes events.k8s.io/v1 Events on
//! the objects involved, so `kubectl describe` shows them. The object's uid (which `kubectl
//! describe` matches on) is read once per object.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Discovery, Scope};
use serde_json::{Value, json};

use super::{Connection, dynamic_api};
use crate::audit::KubeQueue;
use crate::audit::kube_events::{Aggregator, KubeEvent, Write};
use crate::model::ResourceKey;

/// `reportingController` of every Event driftgate writes.
pub const CONTROLLER: &str = "driftgate.dev/driftgate";

/// The object an Event is about, as the Event names it.
#[derive(Debug, Clone)]
struct Regarding {
    api_version: String,
    uid: Option<String>,
}

/// Runs the sink until its queue closes.
pub async fn run(conn: Connection, mut queue: KubeQueue, reporter: String) {
    let c = &queue.config;
    let mut aggregator = Aggregator::new(c.aggregate_window, c.qps, c.burst, Instant::now());
    let events_api =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("events.k8s.io", "v1", "Event"), "events");
    let mut writer = Writer { conn, events_api, reporter, kinds: HashMap::new(), objects: HashMap::new() };
    let mut sequence = 0u64;
    let mut suppressed = 0;
    loop {
        let wait = aggregator.next_due(Instant::now()).map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(Instant::now()).max(Duration::from_millis(10))
        });
        tokio::select! {
            e = queue.rx.recv() => {
                let Some(first) = e else { return };
                let mut next = Some(first);
                while let Some(e) = next {
                    queue.stats.queued.fetch_sub(1, Ordering::Relaxed);
                    sequence += 1;
                    // client-go's naming: the object's name and a unique hex suffix
                    let suffix = format!("{:x}{sequence:x}", std::process::id());
                    aggregator.observe(&e.event, &suffix, Instant::now());
                    next = queue.rx.try_recv().ok();
                }
                queue.stats.skipped.fetch_add(aggregator.suppressed - suppressed, Ordering::Relaxed);
                suppressed = aggregator.suppressed;
            }
            () = tokio::time::sleep(wait) => {}
        }
        for w in aggregator.due(Instant::now()) {
            match writer.write(&w).await {
                Ok(()) => {
                    queue.stats.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("driftgate: Kubernetes Event {}: {e}", event_of(&w).name);
                    if e.retryable {
                        aggregator.retry(&w);
                    }
                }
            }
        }
    }
}

fn event_of(w: &Write) -> &KubeEvent {
    match w {
        Write::Create(e) | Write::Update(e) => e,
    }
}

#[derive(Debug)]
struct WriteError {
    message: String,
    retryable: bool,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn api_error(what: &str, e: &kube::Error) -> WriteError {
    let retryable = match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        _ => true,
    };
    WriteError { message: format!("{what}: {e}"), retryable }
}

/// A kind's resource and whether it is namespaced (`None`: not served), and when it was asked.
type Discovered = (Option<(ApiResource, bool)>, Instant);

struct Writer {
    conn: Connection,
    events_api: ApiResource,
    reporter: String,
    kinds: HashMap<(String, String), Discovered>,
    objects: HashMap<ResourceKey, Regarding>,
}

impl Writer {
    async fn write(&mut self, w: &Write) -> Result<(), WriteError> {
        let ev = event_of(w);
        let regarding = self.regarding(&ev.regarding).await;
        let api: Api<DynamicObject> = Api::namespaced_with(self.conn.client.clone(), &ev.namespace, &self.events_api);
        let update = || json!({"series": {"count": ev.count, "lastObservedTime": micro_time(&ev.last_time)}});
        match w {
            Write::Create(_) => {
                let obj: DynamicObject = serde_json::from_value(body(ev, &regarding, &self.reporter))
                    .map_err(|e| WriteError { message: e.to_string(), retryable: false })?;
                match api.create(&PostParams::default(), &obj).await {
                    Ok(_) => Ok(()),
                    // a restart reuses no names, but a retried create may find its own Event
                    Err(kube::Error::Api(s)) if s.code == 409 => api
                        .patch(&ev.name, &PatchParams::default(), &Patch::Merge(update()))
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error("update", &e)),
                    Err(e) => Err(api_error("create", &e)),
                }
            }
            Write::Update(_) => api
                .patch(&ev.name, &PatchParams::default(), &Patch::Merge(update()))
                .await
                .map(|_| ())
                .map_err(|e| api_error("update", &e)),
        }
    }

    /// The object's apiVersion (the group's preferred version) and uid, read once.
    async fn regarding(&mut self, key: &ResourceKey) -> Regarding {
        if let Some(r) = self.objects.get(key) {
            return r.clone();
        }
        let Some((ar, namespaced)) = self.resource(key).await else {
            return Regarding { api_version: String::new(), uid: None };
        };
        let ns = if namespaced { key.namespace.as_deref() } else { None };
        let uid = match dynamic_api(&self.conn, &ar, ns).get_opt(&key.name).await {
            Ok(Some(o)) => o.metadata.uid,
            _ => None,
        };
        let r = Regarding { api_version: ar.api_version.clone(), uid };
        if r.uid.is_some() {
            self.objects.insert(key.clone(), r.clone());
        }
        r
    }

    async fn resource(&mut self, key: &ResourceKey) -> Option<(ApiResource, bool)> {
        let gk = (key.group.clone(), key.kind.clone());
        let fresh = self.kinds.get(&gk).is_some_and(|(r, at)| r.is_some() || at.elapsed() < Duration::from_secs(60));
        if !fresh {
            let found = Discovery::new(self.conn.client.clone())
                .filter(&[key.group.as_str()])
                .run()
                .await
                .ok()
                .and_then(|d| d.groups().find(|g| g.name() == key.group).and_then(|g| g.recommended_kind(&key.kind)))
                .map(|(ar, caps)| (ar, caps.scope == Scope::Namespaced));
            self.kinds.insert(gk.clone(), (found, Instant::now()));
        }
        self.kinds.get(&gk).and_then(|(r, _)| r.clone())
    }
}

fn body(ev: &KubeEvent, regarding: &Regarding, reporter: &str) -> Value {
    let mut r = json!({"kind": ev.regarding.kind, "name": ev.regarding.name});
    if !regarding.api_version.is_empty() {
        r["apiVersion"] = json!(regarding.api_version);
    }
    if let Some(ns) = &ev.regarding.namespace {
        r["namespace"] = json!(ns);
    }
    if let Some(uid) = &regarding.uid {
        r["uid"] = json!(uid);
    }
    let mut body = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": ev.name, "namespace": ev.namespace},
        "eventTime": micro_time(&ev.first_time),
        "reportingController": CONTROLLER,
        "reportingInstance": reporter,
        "action": ev.action,
        "reason": ev.reason,
        "note": ev.note,
        "type": ev.event_type,
        "regarding": r,
    });
    if ev.count > 1 {
        body["series"] = json!({"count": ev.count, "lastObservedTime": micro_time(&ev.last_time)});
    }
    body
}

/// An event's RFC 3339 time as the API's MicroTime (six fractional digits).
fn micro_time(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(rfc3339, &Rfc3339).map_or_else(|_| rfc3339.to_owned(), super::lease::micro)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_has_six_digits() {
        assert_eq!(micro_time("2026-11-29T01:59:48.123456789Z"), "2026-11-29T01:59:48.123456Z");
        assert_eq!(micro_time("2026-11-29T01:59:48Z"), "2026-11-29T01:59:48.000000Z");
    }
}
