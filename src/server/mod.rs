//! The webhook server: axum over rustls. Handlers only parse, call the pure decision, record
//! metrics and audit events, and answer. TLS certificates reload without a restart.

mod auth;
mod events;
pub mod limits;
pub mod metrics;
pub mod peers;
mod tls;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use metrics::Metrics;
pub use tls::{CertWatcher, ServerError, load_tls};

use crate::admission::decide::{self, Outcome, Policy, SourceView};
use crate::admission::remembered::Remembered;
use crate::admission::review::{self, Response as ReviewResponse};
use crate::audit::{self, Auditor, CloudEvent};
use crate::cluster::DetectorHandle;
use crate::config::{Config, FailurePolicy};
use crate::desired::Store;
use crate::detect::{Engine, State as DriftState, Transition};
use crate::diff::ignore::Rule;
use crate::telemetry::{self, trails::Trails};

pub use limits::BODY_LIMIT;

/// The limits `serve` uses unless told otherwise.
pub const DEFAULT_LIMITS: limits::Limits = limits::Limits {
    max_connections: 4096,
    body_budget: 256 * 1024 * 1024,
    body_timeout: std::time::Duration::from_secs(10),
};

/// Everything the handlers share.
pub struct AppState {
    config: Arc<Config>,
    store: Arc<Store>,
    loaded: AtomicBool,
    rules: HashMap<String, Vec<Rule>>,
    base_rules: Vec<Rule>,
    field_managers: Vec<String>,
    metrics: Metrics,
    auditor: Arc<Auditor>,
    trails: Mutex<Trails>,
    /// Each source's last load error, for what admission says before Git has loaded.
    source_errors: Mutex<std::collections::BTreeMap<String, String>>,
    detector: OnceLock<DetectorHandle>,
    /// The managed set as last saved (`admission.managedSnapshot`): read at start, for
    /// admission before Git loads; rewritten whenever the desired state changes it.
    remembered: Mutex<Option<Arc<Remembered>>>,
    /// The kinds the sources declare: the only `kind` label values admission metrics take.
    kinds: std::sync::RwLock<Arc<std::collections::HashSet<String>>>,
    quarantines: crate::cluster::healer::Quarantines,
    /// Who may read `/api/v1/*` (and `/metrics`): the reviewer and its cached answers.
    gate: auth::Gate,
    /// Connections, body bytes and draining (`server/limits.rs`).
    guard: Arc<limits::Guard>,
    /// How long an answer waits for its audit event to be confirmed.
    confirm_budget: Duration,
    /// How long a decision may take before the review is answered as `failurePolicy` says.
    decision_budget: Duration,
    /// Decisions running at once, on the blocking pool.
    decisions: Arc<tokio::sync::Semaphore>,
}

/// How long one decision may take: half the API server's webhook timeout, the other half being
/// the audit confirmation's (see [`confirm_budget`]) and the network's.
pub fn decision_budget(webhook_timeout_seconds: u8) -> Duration {
    Duration::from_secs(u64::from(webhook_timeout_seconds)) / 2
}

/// How long an admission answer waits for the audit sinks to confirm its event: 2 s, or half the
/// API server's webhook timeout when that is shorter, so the decision and the network keep the
/// other half. Past it the verdict is answered all the same (docs/audit.md, "Durability").
pub fn confirm_budget(webhook_timeout_seconds: u8) -> Duration {
    (Duration::from_secs(u64::from(webhook_timeout_seconds)) / 2).min(Duration::from_secs(2))
}

impl AppState {
    /// State for `config`, reading the desired state from `store`.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        auditor: Arc<Auditor>,
    ) -> Result<Self, crate::diff::ignore::RuleError> {
        let mut rules = HashMap::new();
        for s in &config.sources {
            rules.insert(s.name.clone(), config.rules(Some(&s.name))?);
        }
        let base_rules = config.rules(None)?;
        let field_managers = config.reconcilers.all_field_managers();
        let confirm_budget = confirm_budget(config.admission.webhook.timeout_seconds);
        let config_timeout = config.admission.webhook.timeout_seconds;
        Ok(Self {
            config,
            store,
            loaded: AtomicBool::new(false),
            rules,
            base_rules,
            field_managers,
            metrics: Metrics::new(),
            auditor,
            trails: Mutex::new(Trails::default()),
            source_errors: Mutex::default(),
            detector: OnceLock::new(),
            remembered: Mutex::default(),
            kinds: std::sync::RwLock::default(),
            quarantines: crate::cluster::healer::Quarantines::default(),
            gate: auth::Gate::default(),
            guard: limits::Guard::new(DEFAULT_LIMITS),
            confirm_budget,
            decision_budget: decision_budget(config_timeout),
            decisions: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get) * 2,
            )),
        })
    }

    /// The same state with these limits on connections and bodies.
    #[must_use]
    pub fn with_limits(mut self, limits: limits::Limits) -> Self {
        self.guard = limits::Guard::new(limits);
        self
    }

    /// The limits' shared state: for the acceptor, and to start draining.
    pub fn guard(&self) -> Arc<limits::Guard> {
        Arc::clone(&self.guard)
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

    /// The audit sinks and live stream.
    pub fn auditor(&self) -> Arc<Auditor> {
        Arc::clone(&self.auditor)
    }

    /// Records a self-heal report: a log line, a metric, and an audit event in the current (heal)
    /// span, which is linked to the drift detection that caused it.
    pub fn record_heal(&self, kind: &str, key: &crate::model::ResourceKey, data: serde_json::Value, dry_run: bool) {
        eprintln!("driftgate: heal {kind}{} {}", if dry_run { " (dry run)" } else { "" }, key.human());
        self.metrics.count_heal(if dry_run { "planned" } else { kind });
        let span = tracing::Span::current();
        let trail = self.trails.lock().ok().and_then(|t| t.get(key).cloned()).unwrap_or_default();
        if let Some(drift) = &trail.drift {
            telemetry::link(&span, drift);
        }
        let source = data.get("source").and_then(|s| s.as_str()).map(str::to_owned);
        let info = source.and_then(|s| self.detector.get().and_then(|d| d.engine().source_info(&s).cloned()));
        // the admitted person is named only when the heal undoes what their field manager wrote
        let managers: Vec<&str> = data
            .get("actors")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.get("manager").and_then(serde_json::Value::as_str)).collect())
            .unwrap_or_default();
        let actor = trail.admitted.map(|(a, _)| a).filter(|a| match &a.field_manager {
            Some(m) => managers.contains(&m.as_str()),
            None => !managers.is_empty(),
        });
        let event = audit::heal_event(kind, key, data, info.as_ref(), actor, dry_run, &audit::now_rfc3339())
            .in_trace(telemetry::trace_ref(&span).as_ref());
        self.emit(event);
    }

    /// Takes in an admission another replica decided: a hand change it let in is remembered, so
    /// this replica's drift and heal events name who made it and link to that admission's span.
    pub fn import_admission(&self, event: &CloudEvent) {
        if let (Some((key, actor, cx)), Ok(mut trails)) =
            (telemetry::trails::admitted_by_peer(event), self.trails.lock())
        {
            trails.admitted(&key, actor, cx);
        }
    }

    /// Records a source load: its metrics, and a `source.synced` or `source.failed` event in the
    /// current (refresh) span.
    pub fn observe_source(&self, e: &crate::desired::Event) {
        self.metrics.observe_source(e);
        let snapshot = self.store.get();
        let kinds = snapshot.sources.values().flat_map(|s| s.objects.keys().map(|k| k.kind.clone())).collect();
        if let Ok(mut slot) = self.kinds.write() {
            *slot = Arc::new(kinds);
        }
        let name = match e {
            crate::desired::Event::Synced { source, .. } | crate::desired::Event::Failed { source, .. } => source,
        };
        if let Ok(mut errors) = self.source_errors.lock() {
            match e {
                crate::desired::Event::Failed { error, .. } => errors.insert(name.clone(), error.clone()),
                crate::desired::Event::Synced { .. } => errors.remove(name),
            };
        }
        let info = snapshot.sources.get(name).map(|s| &s.info);
        let event = audit::source_event(e, info, &audit::now_rfc3339())
            .in_trace(telemetry::trace_ref(&tracing::Span::current()).as_ref());
        self.emit(event);
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
    /// and resolved, each in a span linked to the admission that let the change in.
    pub fn observe_drift(&self, engine: &Engine, transitions: &[Transition]) {
        let time = audit::now_rfc3339();
        for t in transitions {
            if let Some(event) = audit::rule_event(t, engine.source_info(&t.source), &time) {
                for e in &t.rule_errors {
                    eprintln!("driftgate: {} in source {}: {e}", t.key.human(), t.source);
                }
                self.emit(event);
            }
            let Some(kind) = t.event() else { continue };
            let span = tracing::info_span!(
                "drift",
                event = kind,
                object = %t.key.human(),
                source = %t.source,
                status = ?t.to,
                paths = t.paths.len(),
            );
            let mut trail = self.trails.lock().ok().and_then(|x| x.get(&t.key).cloned()).unwrap_or_default();
            // an admitted change names a person only for drift that its field manager still owns:
            // a field the reconciler re-applied since, or a Git change, is not theirs
            let consistent = kind == "drift.detected"
                && trail.admitted.as_ref().is_some_and(|(a, _)| match &a.field_manager {
                    Some(m) => t.actors.iter().any(|x| &x.manager == m),
                    None => !t.actors.is_empty(),
                });
            if !consistent {
                trail.admitted = None;
            }
            if let Some((_, admitted)) = &trail.admitted {
                telemetry::link(&span, admitted);
            }
            let info = engine.source_info(&t.source);
            if let Some(event) =
                audit::drift_event(t, info, trail.admitted.map(|(a, _)| a), engine.live_version(&t.key), &time)
            {
                let cx = telemetry::span_context(&span);
                let event = event.in_trace(cx.as_ref().map(telemetry::trace_ref_of).as_ref());
                if kind == "drift.detected"
                    && let (Some(cx), Ok(mut trails)) = (cx, self.trails.lock())
                {
                    trails.drifted(&t.key, cx);
                }
                self.emit(event);
            }
        }
        for (source, counts) in engine.counts() {
            for status in
                [DriftState::Synced, DriftState::OutOfSync, DriftState::Missing, DriftState::Extra, DriftState::Unknown]
            {
                let label = metrics::ResourceLabel { source: source.to_owned(), status: format!("{status:?}") };
                self.metrics.resources.get_or_create(&label).set(i64::try_from(counts.get(status)).unwrap_or(i64::MAX));
            }
            for (cause, n) in [("drift", counts.drift), ("pending_sync", counts.pending_sync)] {
                let label = metrics::CauseLabel { source: source.to_owned(), cause: cause.to_owned() };
                self.metrics.out_of_sync.get_or_create(&label).set(i64::try_from(n).unwrap_or(i64::MAX));
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

    /// Whether every source has loaded once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Reads the managed snapshot, if the config names one; a file that cannot be read is
    /// reported and ignored (admission then knows only markers until Git loads).
    pub fn recall(&self) {
        let Some(path) = &self.config.admission.managed_snapshot else { return };
        match Remembered::load(path) {
            Ok(Some(r)) => {
                eprintln!("driftgate: {} managed objects remembered from {}", r.len(), path.display());
                if let Ok(mut slot) = self.remembered.lock() {
                    *slot = Some(Arc::new(r));
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("driftgate: {e}; until Git loads, only ownership markers say what is managed"),
        }
    }

    /// Saves the managed set of the loaded desired state when it differs from the one saved.
    /// Only a complete desired state is saved: a partial one would forget a source's objects.
    pub fn remember(&self) {
        let Some(path) = &self.config.admission.managed_snapshot else { return };
        if !self.is_loaded() {
            return;
        }
        let snapshot = self.store.get();
        let now = Remembered::of(snapshot.sources.iter().map(|(name, s)| (name.as_str(), s.objects.keys())));
        let Ok(mut slot) = self.remembered.lock() else { return };
        if slot.as_deref() == Some(&now) {
            return;
        }
        match now.save(path) {
            Ok(()) => *slot = Some(Arc::new(now)),
            Err(e) => eprintln!("driftgate: {e}"),
        }
    }

    fn emit(&self, event: CloudEvent) {
        self.metrics.count_event(&event.event_type);
        self.auditor.emit(event);
    }

    fn emit_confirmed(&self, event: CloudEvent) -> audit::Confirmation {
        self.metrics.count_event(&event.event_type);
        self.auditor.emit_confirmed(event)
    }
}

/// The routes: `POST /validate`, `GET /healthz`, `GET /readyz`, `GET /metrics`, the status
/// API `GET /api/v1/sources[/{name}]`, and the audit stream `GET /api/v1/events`. The APIs
/// (and, with `server.metricsAuth`, the metrics) pass the access guard (`server/auth.rs`).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sources/{name}", get(source))
        .route("/api/v1/events", get(events::stream))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), auth::guard))
        .layer(axum::middleware::from_fn_with_state(state.guard(), limits::bodies))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.guard.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    } else if state.loaded.load(Ordering::Acquire) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "desired state not loaded yet").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state.metrics.sample_audit(&state.auditor);
    state.metrics.sample_limits(&state.guard);
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

async fn validate(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let start = Instant::now();
    let span = tracing::info_span!(
        "admission.review",
        otel.kind = "server",
        operation = tracing::field::Empty,
        kind = tracing::field::Empty,
        object = tracing::field::Empty,
        user = tracing::field::Empty,
        verdict = tracing::field::Empty,
    );
    telemetry::adopt_parent(&span, &headers);
    let parsed = match span.in_scope(|| review::parse(&body)) {
        Ok(p) => p,
        Err(e) => {
            state.metrics.count_admission("bad_request", "", "", &|_| false);
            span.record("verdict", "bad_request");
            return json_error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    drop(body);
    let (uid, api_version) = (parsed.request.uid.clone(), parsed.api_version.clone());
    // the decision runs on the blocking pool, a few at a time, within a budget below the API
    // server's timeout: a huge review can neither stall the async workers (health checks, other
    // reviews) nor outlive the API server's wait without an answer it chose
    let budget = state.decision_budget;
    // counted from the request's arrival: parsing is part of what the API server waits for
    let deadline = tokio::time::Instant::from_std(start) + budget;
    let decided = tokio::time::timeout_at(deadline, async {
        let _slot = Arc::clone(&state.decisions).acquire_owned().await.ok()?;
        let (st, sp) = (Arc::clone(&state), span.clone());
        tokio::task::spawn_blocking(move || sp.in_scope(|| decide_request(&st, &parsed, &sp))).await.ok()
    })
    .await;
    let (answer, confirmation) = if let Ok(Some(done)) = decided {
        done
    } else {
        span.record("verdict", "over_budget");
        state.metrics.count_admission("over_budget", "", "", &|_| false);
        let closed = state.config.admission.failure_policy == FailurePolicy::Closed;
        let response = decide::over_budget(&uid, closed, budget);
        eprintln!("driftgate: review {uid} was not decided within {budget:?}; answered as failurePolicy says");
        (axum::Json(review::respond(&api_version, &response)).into_response(), None)
    };
    // a verdict with an audit event leaves once the sinks hold the event (docs/audit.md,
    // "Durability"); past the budget it leaves all the same, counted and logged
    if let Some((uid, confirmation)) = confirmation {
        for sink in confirmation.wait(state.confirm_budget).await {
            if state.metrics.count_unconfirmed(&sink).is_power_of_two() {
                eprintln!(
                    "driftgate: answered review {uid} before audit sink {sink} confirmed its event within {:?}; the sink still holds it",
                    state.confirm_budget
                );
            }
        }
    }
    state.metrics.latency.observe(start.elapsed().as_secs_f64());
    answer
}

/// A parsed review decided: the answer, and the confirmation its audit event awaits.
fn decide_request(
    state: &AppState,
    parsed: &review::Review,
    span: &tracing::Span,
) -> (Response, Option<(String, crate::audit::Confirmation)>) {
    let req = &parsed.request;
    span.record("operation", req.operation.as_str());
    span.record("kind", req.kind.kind.as_str());
    span.record("user", req.user_info.username.as_str());
    let (response, label, confirmation) = if state.loaded.load(Ordering::Acquire) {
        decide_now(state, req, span)
    } else {
        let (response, label) = not_ready(state, req);
        (response, label, None)
    };
    span.record("verdict", label);
    let kinds = state.kinds.read().map(|k| Arc::clone(&k)).unwrap_or_default();
    state.metrics.count_admission(label, &req.operation, &req.kind.kind, &|k| kinds.contains(k));
    let answer = axum::Json(review::respond(&parsed.api_version, &response)).into_response();
    (answer, confirmation.map(|c| (req.uid.clone(), c)))
}

fn not_ready(state: &AppState, req: &review::Request) -> (ReviewResponse, &'static str) {
    let snapshot = state.store.get();
    let errors = state.source_errors.lock().map(|e| e.clone()).unwrap_or_default();
    let pending: Vec<(String, Option<String>)> = state
        .config
        .sources
        .iter()
        .filter(|s| snapshot.sources.get(&s.name).is_none_or(|loaded| loaded.error.is_some()))
        .map(|s| {
            let stored = snapshot.sources.get(&s.name).and_then(|loaded| loaded.error.clone());
            (s.name.clone(), errors.get(&s.name).cloned().or(stored))
        })
        .collect();
    let closed = state.config.admission.failure_policy == FailurePolicy::Closed;
    let remembered = state.remembered.lock().ok().and_then(|r| r.clone());
    (decide::decide_unloaded(&policy(state), closed, &pending, remembered.as_deref(), req), "not_ready")
}

/// The admission policy from the config.
fn policy(state: &AppState) -> Policy<'_> {
    Policy {
        reconciler_usernames: &state.config.reconcilers.usernames,
        reconciler_groups: &state.config.reconcilers.groups,
        field_managers: &state.field_managers,
        break_glass_groups: &state.config.admission.break_glass.groups,
        break_glass_max: state.config.admission.break_glass.max_duration,
        now: time::OffsetDateTime::now_utc(),
        mode: state.config.admission.mode,
        instance_label: state.config.ownership.instance_label,
        allow_rollout_restart: state.config.admission.allow_rollout_restart,
        rules: &state.base_rules,
        live: state.detector.get().map(|d| d as &dyn decide::LiveView),
    }
}

/// Decides a review; the verdict, its label, and the confirmation of its audit event if it has one.
fn decide_now(
    state: &AppState,
    req: &review::Request,
    span: &tracing::Span,
) -> (ReviewResponse, &'static str, Option<audit::Confirmation>) {
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
    let verdict = decide::decide(&policy(state), &views, req);
    if let Some(key) = &verdict.key {
        span.record("object", tracing::field::display(key.human()));
    }
    let label = audit::event::verdict_word(&verdict.outcome).unwrap_or("allowed");
    let mut confirmation = None;
    if !matches!(verdict.outcome, Outcome::Allowed(_)) {
        let info = verdict.source.as_ref().and_then(|s| snapshot.sources.get(s)).map(|s| &s.info);
        let trace = telemetry::span_context(span);
        if let Some(event) = audit::admission_event(req, &verdict, info, &audit::now_rfc3339()) {
            // a change that got in (warn, audit, break-glass) may show up as drift: remember who
            // made it, so the drift and its heal can name them and link back to this span
            if verdict.response.allowed
                && !req.dry_run.unwrap_or(false)
                && let (Some(key), Some(cx), Ok(mut trails)) = (&verdict.key, trace.clone(), state.trails.lock())
            {
                trails.admitted(key, event.data.actor.clone(), cx);
            }
            confirmation =
                Some(state.emit_confirmed(event.in_trace(trace.as_ref().map(telemetry::trace_ref_of).as_ref())));
        }
    }
    (verdict.response, label, confirmation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_budget_is_2s_or_half_the_webhook_timeout() {
        assert_eq!(confirm_budget(5), Duration::from_secs(2));
        assert_eq!(confirm_budget(30), Duration::from_secs(2));
        assert_eq!(confirm_budget(3), Duration::from_millis(1500));
        assert_eq!(confirm_budget(1), Duration::from_millis(500));
    }
}
