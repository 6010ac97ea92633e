//! The Prometheus metrics (prometheus-client), all prefixed `driftgate_`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::audit::Auditor;
use crate::desired::{Event as SourceEvent, Timings};

/// Labels of the admission counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    /// allowed, denied, warned, audited, breakglass, not_ready, bad_request.
    pub verdict: String,
    /// CREATE, UPDATE, DELETE, CONNECT (empty for unparsable reviews).
    pub operation: String,
    /// The object's kind (empty for unparsable reviews).
    pub kind: String,
}

/// Labels of the out-of-sync gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabel {
    /// The config source.
    pub source: String,
    /// `drift` or `pending_sync`.
    pub cause: String,
}

/// Labels of the resource gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabel {
    /// The config source.
    pub source: String,
    /// Synced, OutOfSync, Missing, Extra or Unknown.
    pub status: String,
}

/// A label naming one thing.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// The config source.
    pub source: String,
}

/// Labels of source failures.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The config source.
    pub source: String,
    /// `fetch` or `render`.
    pub stage: String,
}

/// Labels of heal outcomes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// applied, failed, quarantined, planned (dry run).
    pub result: String,
}

/// Labels of audit sink metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    /// `stdout`, `file:PATH`, `http:URL` (credentials masked), `kubernetesEvents`.
    pub sink: String,
}

/// The CloudEvents type, as a label value.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeValue {
    /// e.g. `dev.driftgate.drift.detected`.
    pub event_type: String,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0].into_iter()
}

/// Every metric driftgate serves.
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Registry,
    admission: Family<AdmissionLabels, Counter>,
    /// Time to decide one admission review.
    pub latency: Histogram,
    /// Git-managed resources by drift status, per source.
    pub resources: Family<ResourceLabel, Gauge>,
    /// Resources that are not in sync, by cause (`drift` or `pending_sync`), per source.
    pub out_of_sync: Family<CauseLabel, Gauge>,
    /// Live objects the detector holds.
    pub live_objects: Gauge,
    /// Bytes of the detector's live projections.
    pub live_bytes: Gauge,
    heals: Family<ResultLabel, Counter>,
    fetch: Family<SourceLabel, Histogram>,
    render: Family<SourceLabel, Histogram>,
    failures: Family<FailureLabels, Counter>,
    audit_events: Family<TypeValue, Counter>,
    backlog: Family<SinkLabel, Gauge>,
    dropped: Family<SinkLabel, Counter>,
    rejected: Family<SinkLabel, Counter>,
    skipped: Family<SinkLabel, Counter>,
    unconfirmed: Family<SinkLabel, Counter>,
    sse_readers: Gauge,
    connections: Gauge,
    body_bytes: Gauge,
    refused: Family<ReasonLabel, Counter>,
}

/// Why the server turned a client away.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

impl Metrics {
    /// All metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("driftgate");
        let admission = Family::<AdmissionLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission reviews answered, by verdict, operation and kind",
            admission.clone(),
        );
        let latency = Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0]);
        registry.register("admission_duration_seconds", "Time to decide one admission review", latency.clone());
        let resources = Family::<ResourceLabel, Gauge>::default();
        registry.register("resources", "Git-managed resources by drift status, per source", resources.clone());
        let out_of_sync = Family::<CauseLabel, Gauge>::default();
        registry.register(
            "resources_not_synced",
            "Resources that differ from Git, by cause: drift (a hand change) or pending_sync (Git moved)",
            out_of_sync.clone(),
        );
        let live_objects = Gauge::default();
        registry.register("live_objects", "Live objects the detector holds", live_objects.clone());
        let live_bytes = Gauge::default();
        registry.register("live_projection_bytes", "Bytes of the detector's live projections", live_bytes.clone());
        let heals = Family::<ResultLabel, Counter>::default();
        registry.register("heals", "Self-heal outcomes, by result", heals.clone());
        let fetch = Family::<SourceLabel, Histogram>::new_with_constructor(|| Histogram::new(seconds_buckets()));
        registry.register(
            "git_fetch_duration_seconds",
            "Time to fetch a Git source and resolve its revision",
            fetch.clone(),
        );
        let render = Family::<SourceLabel, Histogram>::new_with_constructor(|| Histogram::new(seconds_buckets()));
        registry.register("render_duration_seconds", "Time to render a source's manifests", render.clone());
        let failures = Family::<FailureLabels, Counter>::default();
        registry.register("source_failures", "Failed source loads, by stage (fetch or render)", failures.clone());
        let audit_events = Family::<TypeValue, Counter>::default();
        registry.register("audit_events", "Audit events emitted, by type", audit_events.clone());
        let backlog = Family::<SinkLabel, Gauge>::default();
        registry.register(
            "audit_sink_backlog_events",
            "Audit events a sink holds but has not written or delivered",
            backlog.clone(),
        );
        let dropped = Family::<SinkLabel, Counter>::default();
        registry.register(
            "audit_sink_dropped_events",
            "Audit events a sink lost (spool full, sink gone); should stay 0",
            dropped.clone(),
        );
        let rejected = Family::<SinkLabel, Counter>::default();
        registry.register(
            "audit_sink_rejected_events",
            "Audit events the HTTP endpoint refused, kept in rejected.jsonl",
            rejected.clone(),
        );
        let skipped = Family::<SinkLabel, Counter>::default();
        registry.register(
            "audit_sink_skipped_events",
            "Audit events the Kubernetes Events sink left out by design (rate limit, aggregation)",
            skipped.clone(),
        );
        let unconfirmed = Family::<SinkLabel, Counter>::default();
        registry.register(
            "audit_unconfirmed_answers",
            "Admission answers sent before a sink confirmed their audit event within the budget",
            unconfirmed.clone(),
        );
        let sse_readers = Gauge::default();
        registry.register("audit_stream_readers", "Readers connected to GET /api/v1/events", sse_readers.clone());
        let connections = Gauge::default();
        registry.register(
            "server_connections",
            "Connections open now (at most --max-connections)",
            connections.clone(),
        );
        let body_bytes = Gauge::default();
        registry.register(
            "server_body_bytes_in_flight",
            "Bytes of request bodies being received or decided now (at most --body-budget)",
            body_bytes.clone(),
        );
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "server_refused",
            "Clients turned away: connections over --max-connections, bodies too large, too slow or over the budget",
            refused.clone(),
        );
        Self {
            registry,
            admission,
            latency,
            resources,
            out_of_sync,
            live_objects,
            live_bytes,
            heals,
            fetch,
            render,
            failures,
            audit_events,
            backlog,
            dropped,
            rejected,
            skipped,
            unconfirmed,
            sse_readers,
            connections,
            body_bytes,
            refused,
        }
    }

    /// Reads the server's limits into their metrics.
    pub fn sample_limits(&self, guard: &super::limits::Guard) {
        self.connections.set(i64::try_from(guard.open_connections()).unwrap_or(i64::MAX));
        self.body_bytes.set(i64::try_from(guard.body_bytes_in_flight()).unwrap_or(i64::MAX));
        for (reason, value) in [("connections", &guard.refused_connections), ("bodies", &guard.refused_bodies)] {
            let c = self.refused.get_or_create(&ReasonLabel { reason });
            c.inc_by(value.load(Ordering::Relaxed).saturating_sub(c.get()));
        }
    }

    /// Counts one admission review.
    ///
    /// `operation` and `kind` come from the request, so they are bounded here: an operation the
    /// API defines, else `other`; a kind the sources declare (`declared`), else `other`. A client
    /// choosing label values could otherwise grow `/metrics` without end.
    pub fn count_admission(&self, verdict: &str, operation: &str, kind: &str, declared: &dyn Fn(&str) -> bool) {
        self.admission
            .get_or_create(&AdmissionLabels {
                verdict: verdict.to_owned(),
                operation: bounded_operation(operation).to_owned(),
                kind: if kind.is_empty() || declared(kind) { kind.to_owned() } else { OTHER.to_owned() },
            })
            .inc();
    }

    /// Counts one self-heal outcome.
    pub fn count_heal(&self, result: &str) {
        self.heals.get_or_create(&ResultLabel { result: result.to_owned() }).inc();
    }

    /// Counts one audit event.
    pub fn count_event(&self, event_type: &str) {
        self.audit_events.get_or_create(&TypeValue { event_type: event_type.to_owned() }).inc();
    }

    /// Counts an admission answered before `sink` confirmed its audit event; how many so far.
    pub fn count_unconfirmed(&self, sink: &str) -> u64 {
        self.unconfirmed.get_or_create(&SinkLabel { sink: sink.to_owned() }).inc() + 1
    }

    /// Records a source load: its durations, and its failure.
    pub fn observe_source(&self, e: &SourceEvent) {
        let (source, timings, stage): (&str, &Timings, Option<&str>) = match e {
            SourceEvent::Synced { source, timings, .. } => (source, timings, None),
            SourceEvent::Failed { source, timings, stage, .. } => (source, timings, Some(stage)),
        };
        let label = SourceLabel { source: source.to_owned() };
        if let Some(f) = timings.fetch {
            self.fetch.get_or_create(&label).observe(f.as_secs_f64());
        }
        if stage != Some("fetch") && timings.render > Duration::ZERO {
            self.render.get_or_create(&label).observe(timings.render.as_secs_f64());
        }
        if let Some(stage) = stage {
            self.failures.get_or_create(&FailureLabels { source: source.to_owned(), stage: stage.to_owned() }).inc();
        }
    }

    /// Copies the audit sinks' counters in, just before an encode.
    pub fn sample_audit(&self, auditor: &Auditor) {
        for (name, stats) in auditor.stats() {
            let label = SinkLabel { sink: name.to_owned() };
            self.backlog.get_or_create(&label).set(i64::try_from(stats.backlog()).unwrap_or(i64::MAX));
            for (counter, value) in
                [(&self.dropped, &stats.dropped), (&self.rejected, &stats.rejected), (&self.skipped, &stats.skipped)]
            {
                let c = counter.get_or_create(&label);
                let now = value.load(Ordering::Relaxed);
                c.inc_by(now.saturating_sub(c.get()));
            }
        }
        self.sse_readers.set(i64::try_from(auditor.live().readers()).unwrap_or(i64::MAX));
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
/// The label value of anything outside a bounded set.
pub const OTHER: &str = "other";

/// An admission operation as a label value: one the API defines, else [`OTHER`].
pub fn bounded_operation(operation: &str) -> &'static str {
    match operation {
        "CREATE" => "CREATE",
        "UPDATE" => "UPDATE",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "" => "",
        _ => OTHER,
    }
}
