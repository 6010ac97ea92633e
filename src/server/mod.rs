//! The webhook server: axum over rustls. Handlers only parse, call the pure decision, record
//! metrics and audit events, and answer. TLS certificates reload without a restart.

mod tls;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use tls::{CertWatcher, ServerError, load_tls};

use crate::admission::decide::{self, Outcome, Policy, SourceView};
use crate::admission::review::{self, Response as ReviewResponse, Status};
use crate::audit::{self, Sink};
use crate::cluster::DetectorHandle;
use crate::config::{Config, FailurePolicy, Mode};
use crate::desired::Store;
use crate::detect::{Engine, State as DriftState, Transition};
use crate::diff::ignore::Rule;

/// Largest AdmissionReview accepted; the API server sends at most 3 MiB objects.
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    /// allowed, denied, warned, audited, breakglass, not_ready, bad_request.
    pub verdict: String,
}

/// Labels of the resource gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabel {
    /// The config source.
    pub source: String,
    /// Synced, OutOfSync, Missing, Extra or Unknown.
    pub status: String,
}

/// The Prometheus metrics of the webhook and the detector.
pub struct Metrics {
    registry: Registry,
    requests: Family<VerdictLabel, Counter>,
    latency: Histogram,
    resources: Family<ResourceLabel, Gauge>,
    live_objects: Gauge,
    live_bytes: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("driftgate");
        let requests = Family::<VerdictLabel, Counter>::default();
        registry.register("admission_requests", "Admission reviews answered, by verdict", requests.clone());
        let latency = Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0]);
        registry.register("admission_duration_seconds", "Time to decide one admission review", latency.clone());
        let resources = Family::<ResourceLabel, Gauge>::default();
        registry.register("resources", "Git-managed resources by drift status, per source", resources.clone());
        let live_objects = Gauge::default();
        registry.register("live_objects", "Live objects the detector holds", live_objects.clone());
        let live_bytes = Gauge::default();
        registry.register("live_projection_bytes", "Bytes of the detector's live projections", live_bytes.clone());
        Self { registry, requests, latency, resources, live_objects, live_bytes }
    }

    fn count(&self, verdict: &str) {
        self.requests.get_or_create(&VerdictLabel { verdict: verdict.to_owned() }).inc();
    }
}

/// Everything the handlers share.
pub struct AppState {
    config: Arc<Config>,
    store: Arc<Store>,
    loaded: AtomicBool,
    rules: HashMap<String, Vec<Rule>>,
    base_rules: Vec<Rule>,
    field_managers: Vec<String>,
    metrics: Metrics,
    sinks: Vec<Sink>,
    detector: OnceLock<DetectorHandle>,
    quarantines: crate::cluster::healer::Quarantines,
}

impl AppState {
    /// State for `config`, reading the desired state from `store`.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        sinks: Vec<Sink>,
    ) -> Result<Self, crate::diff::ignore::RuleError> {
        let mut rules = HashMap::new();
        for s in &config.sources {
            rules.insert(s.name.clone(), config.rules(Some(&s.name))?);
        }
        let base_rules = config.rules(None)?;
        let field_managers = config.reconcilers.all_field_managers();
        Ok(Self {
            config,
            store,
            loaded: AtomicBool::new(false),
            rules,
            base_rules,
            field_managers,
            metrics: Metrics::new(),
            sinks,
            detector: OnceLock::new(),
            quarantines: crate::cluster::healer::Quarantines::default(),
        })
    }

    /// The quarantines self-heal publishes.
    pub fn quarantines(&self) -> crate::cluster::healer::Quarantines {
        Arc::clone(&self.quarantines)
    }

    fn with_quarantines(
        &self,
        mut s: crate::detect::SourceStatus,
        declared: impl Fn(&crate::model::ResourceKey) -> bool,
    ) -> crate::detect::SourceStatus {
        if let Ok(q) = self.quarantines.lock() {
            s.quarantined = q
                .iter()
                .filter(|(k, _)| declared(k))
                .map(|(k, q)| crate::detect::Quarantined { key: k.clone(), quarantine: q.clone() })
                .collect();
        }
        s
    }

    /// Records a self-heal report: an audit event and a log line.
    pub fn record_heal(&self, kind: &str, key: &crate::model::ResourceKey, data: serde_json::Value, dry_run: bool) {
        eprintln!("driftgate: heal {kind}{} {}", if dry_run { " (dry run)" } else { "" }, key.human());
        let event = audit::heal_event(kind, key, data, dry_run, &audit::now_rfc3339());
        self.audit(&event);
    }

    /// The desired-state store the webhook reads.
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// Attaches the drift detector: its status is served, and admission consults its live view.
    pub fn set_detector(&self, handle: DetectorHandle) {
        let _ = self.detector.set(handle);
    }

    /// What the detector reports after each batch: gauges, and audit events for drift found
    /// and resolved.
    pub fn observe_drift(&self, engine: &Engine, transitions: &[Transition]) {
        let time = audit::now_rfc3339();
        for t in transitions {
            let info = engine.source_info(&t.source);
            if let Some(event) = audit::drift_event(t, info, &time) {
                self.audit(&event);
            }
        }
        for (source, counts) in engine.counts() {
            for status in
                [DriftState::Synced, DriftState::OutOfSync, DriftState::Missing, DriftState::Extra, DriftState::Unknown]
            {
                let label = ResourceLabel { source: source.to_owned(), status: format!("{status:?}") };
                self.metrics.resources.get_or_create(&label).set(i64::try_from(counts.get(status)).unwrap_or(i64::MAX));
            }
        }
        let (objects, bytes) = engine.live_size();
        self.metrics.live_objects.set(i64::try_from(objects).unwrap_or(i64::MAX));
        self.metrics.live_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Marks the desired state as loaded: from now on reviews are decided, not defaulted.
    pub fn set_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    fn audit(&self, event: &audit::CloudEvent) {
        for sink in &self.sinks {
            if let Err(e) = sink.write(event) {
                eprintln!("driftgate: audit sink failed: {e}");
            }
        }
    }
}

/// The routes: `POST /validate`, `GET /healthz`, `GET /readyz`, `GET /metrics`, and the status
/// API `GET /api/v1/sources[/{name}]`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sources/{name}", get(source))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.loaded.load(Ordering::Acquire) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "desired state not loaded yet").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

const DETECTOR_OFF: &str =
    "the drift detector is off: serve was given no cluster configuration (--kubeconfig, KUBECONFIG or in-cluster)";

async fn sources(State(state): State<Arc<AppState>>) -> Response {
    let Some(detector) = state.detector.get() else { return json_error(StatusCode::SERVICE_UNAVAILABLE, DETECTOR_OFF) };
    let (list, (objects, bytes)) = {
        let engine = detector.engine();
        let list: Vec<_> = engine
            .status(false)
            .into_iter()
            .map(|s| {
                let name = s.name.clone();
                state.with_quarantines(s, |k| engine.declares(&name, k))
            })
            .collect();
        (list, engine.live_size())
    };
    axum::Json(serde_json::json!({"sources": list, "live": {"objects": objects, "projectionBytes": bytes}}))
        .into_response()
}

async fn source(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(detector) = state.detector.get() else { return json_error(StatusCode::SERVICE_UNAVAILABLE, DETECTOR_OFF) };
    let found = {
        let engine = detector.engine();
        engine.source(&name).map(|s| state.with_quarantines(s, |k| engine.declares(&name, k)))
    };
    match found {
        Some(s) => axum::Json(s).into_response(),
        None => json_error(StatusCode::NOT_FOUND, &format!("no source named {name:?}")),
    }
}

fn json_error(code: StatusCode, message: &str) -> Response {
    (code, axum::Json(serde_json::json!({"error": message}))).into_response()
}

async fn validate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let start = Instant::now();
    let parsed = match review::parse(&body) {
        Ok(p) => p,
        Err(e) => {
            state.metrics.count("bad_request");
            return json_error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let (response, label) = if state.loaded.load(Ordering::Acquire) {
        decide_now(&state, &parsed.request)
    } else {
        not_ready(&state, &parsed.request.uid)
    };
    state.metrics.count(label);
    state.metrics.latency.observe(start.elapsed().as_secs_f64());
    axum::Json(review::respond(&parsed.api_version, &response)).into_response()
}

fn not_ready(state: &AppState, uid: &str) -> (ReviewResponse, &'static str) {
    let why = "driftgate: the desired state has not loaded yet";
    let mut r = ReviewResponse { uid: uid.to_owned(), allowed: true, ..ReviewResponse::default() };
    match state.config.admission.failure_policy {
        FailurePolicy::Closed => {
            r.allowed = false;
            r.status = Some(Status {
                code: 503,
                message: format!("{why} (failurePolicy closed)"),
                reason: Some("ServiceUnavailable".into()),
            });
        }
        FailurePolicy::Open => r.warnings.push(format!("{why} (failurePolicy open: allowed unchecked)")),
    }
    (r, "not_ready")
}

fn decide_now(state: &AppState, req: &review::Request) -> (ReviewResponse, &'static str) {
    let snapshot = state.store.get();
    let views: Vec<SourceView<'_>> = state
        .config
        .sources
        .iter()
        .filter_map(|s| {
            let loaded = snapshot.sources.get(&s.name)?;
            Some(SourceView {
                name: &s.name,
                mode: s.mode,
                rules: state.rules.get(&s.name)?,
                objects: &loaded.objects,
                info: &loaded.info,
            })
        })
        .collect();
    let policy = Policy {
        reconciler_usernames: &state.config.reconcilers.usernames,
        reconciler_groups: &state.config.reconcilers.groups,
        field_managers: &state.field_managers,
        break_glass_groups: &state.config.admission.break_glass.groups,
        mode: state.config.admission.mode,
        instance_label: state.config.ownership.instance_label,
        rules: &state.base_rules,
        live: state.detector.get().map(|d| d as &dyn decide::LiveView),
    };
    let verdict = decide::decide(&policy, &views, req);
    if let Some(event) = audit::admission_event(req, &verdict, &audit::now_rfc3339()) {
        state.audit(&event);
    }
    let label = match &verdict.outcome {
        Outcome::Allowed(_) => "allowed",
        Outcome::BreakGlass(_) => "breakglass",
        Outcome::Violation { mode: Mode::Enforce, .. } => "denied",
        Outcome::Violation { mode: Mode::Warn, .. } => "warned",
        Outcome::Violation { mode: Mode::Audit, .. } => "audited",
    };
    (verdict.response, label)
}
