//! The self-heal loop: wakes on drift, and while this replica holds the lease, puts drifted
//! objects back, one at a time, at a steady pace, with per-object backoff and flap quarantine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::discovery::ApiResource;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tracing::Instrument as _;

use super::discovery::{self, Resolved, Target};
use super::heal::execute;
use super::{Connection, DetectorHandle};
use crate::config::SelfHeal;
use crate::detect::{Drifted, State};
use crate::diff::report::Settings;
use crate::heal::plan::{Action, from_objects};
use crate::heal::quarantine::{CLEAR_ANNOTATION, Flaps, Quarantine};
use crate::heal::retry::{Failure, RateLimit, classify, next_delay};
use crate::model::{Declared, ResourceKey};

/// How often drift is looked for without a wake-up: retries fall due, leadership changes.
const SWEEP: Duration = Duration::from_secs(1);
/// How long a kind that discovery did not find is left alone (its objects are Missing for good
/// reason: no CRD), so that a sweep does not ask the API server about it every second.
const REDISCOVER: Duration = Duration::from_secs(30);

/// A kind's API resource, and whether it is namespaced.
type Served = (ApiResource, bool);

/// The quarantined objects, shared with the status API.
pub type Quarantines = Arc<std::sync::Mutex<BTreeMap<ResourceKey, Quarantine>>>;

/// Reports the loop makes: an audit event kind (`applied`, `failed`, `quarantined`), the object,
/// the event's data, and whether it was a dry run.
pub type Report = Box<dyn Fn(&str, &ResourceKey, Value, bool) + Send + Sync>;

/// The object version a persistent failure (or a reported dry run) happened on.
#[derive(Debug, PartialEq, Eq)]
struct Stuck {
    resource_version: Option<String>,
}

/// Per-object retry state.
#[derive(Debug, Default)]
struct Attempts {
    failures: u32,
    next: Option<Instant>,
    /// A persistent failure waits for the object (or Git) to change.
    stuck: Option<Stuck>,
}

/// The self-heal loop.
pub struct Healer {
    conn: Connection,
    settings: SelfHeal,
    detector: DetectorHandle,
    leader: watch::Receiver<bool>,
    wake: Arc<Notify>,
    report: Report,
    /// Discovery results per kind; a kind not found is asked about again after [`REDISCOVER`].
    resources: HashMap<(String, String), (Option<Served>, Instant)>,
    attempts: HashMap<ResourceKey, Attempts>,
    flaps: Flaps,
    rate: RateLimit,
    published: Quarantines,
}

impl Healer {
    /// A healer acting on the detector's drift while `leader` is true.
    pub fn new(
        conn: Connection,
        settings: SelfHeal,
        detector: DetectorHandle,
        leader: watch::Receiver<bool>,
        wake: Arc<Notify>,
        report: Report,
        published: Quarantines,
    ) -> Self {
        let flaps = Flaps::new(settings.flap_threshold, settings.flap_window);
        Self {
            conn,
            settings,
            detector,
            leader,
            wake,
            report,
            resources: HashMap::new(),
            attempts: HashMap::new(),
            flaps,
            rate: RateLimit::new(20.0, 50),
            published,
        }
    }

    /// Runs until the task is dropped.
    pub async fn run(mut self, mut revisions: watch::Receiver<u64>) {
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.next_due()) => {}
                changed = revisions.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // a new revision may settle a fight: quarantines and stuck objects get a new chance
                    self.flaps.clear_all();
                    self.attempts.clear();
                    self.publish();
                }
            }
            if !*self.leader.borrow() {
                continue;
            }
            let mut drifted = self.detector.engine().drifted();
            // Argo CD's PruneLast: deletions after every other heal
            drifted.sort_by_key(|d| d.status == State::Extra);
            for d in drifted.into_iter().filter(Drifted::wants_heal) {
                if !*self.leader.borrow() {
                    break;
                }
                self.consider(d).await;
            }
            self.publish();
        }
    }

    fn publish(&self) {
        let now: BTreeMap<ResourceKey, Quarantine> = self.flaps.all().map(|(k, q)| (k.clone(), q.clone())).collect();
        if let Ok(mut shared) = self.published.lock()
            && *shared != now
        {
            *shared = now;
        }
    }

    /// How long until a retry or a rate-limited heal falls due, at most [`SWEEP`].
    fn next_due(&self) -> Duration {
        let now = Instant::now();
        self.attempts
            .values()
            .filter_map(|a| a.next)
            .map(|t| t.saturating_duration_since(now))
            .min()
            .map_or(SWEEP, |d| d.min(SWEEP))
    }

    async fn consider(&mut self, d: Drifted) {
        let now = Instant::now();
        let attempts = self.attempts.entry(d.key.clone()).or_default();
        if attempts.next.is_some_and(|t| t > now) {
            return;
        }
        if attempts.stuck.as_ref().is_some_and(|s| s.resource_version == d.resource_version) {
            return;
        }
        if self.flaps.get(&d.key).is_some() {
            // quarantined until Git changes or someone sets the clear annotation on the object
            if self.detector.engine().live_annotation(&d.key, CLEAR_ANNOTATION).is_none() {
                return;
            }
            self.flaps.clear(&d.key);
        }
        let Some((ar, namespaced)) = self.resource(&d.key, d.api_version.as_deref()).await else { return };
        let (reconcilers, instance_label) = {
            let engine = self.detector.engine();
            (engine.reconcilers().to_vec(), engine.instance_label())
        };
        let who = Identities { reconcilers: &reconcilers, instance_label };
        // the whole object is read only now, when it must be healed
        let action = match plan_one(&self.conn, &ar, namespaced, &d, who, self.settings.prune).await {
            Ok(planned) => planned,
            Err(e) => {
                self.failed(&d, None, &e.to_string(), classify(api_code(&e)));
                return;
            }
        };
        if action == Action::Nothing {
            return;
        }
        // only real writes spend the rate limit
        if let Err(wait) = self.rate.take(Instant::now()) {
            self.attempts.entry(d.key.clone()).or_default().next = Some(Instant::now() + wait);
            return;
        }
        let span = tracing::info_span!(
            "heal",
            object = %d.key.human(),
            source = %d.source,
            action = action_name(&action),
            dry_run = self.settings.dry_run,
            error = tracing::field::Empty,
        );
        self.heal(&d, &ar, namespaced, &action).instrument(span).await;
    }

    /// Performs a planned action and reports it, inside the heal span (the report links it to
    /// the drift that caused it).
    async fn heal(&mut self, d: &Drifted, ar: &ApiResource, namespaced: bool, action: &Action) {
        let summary = summarise(d, action);
        if self.settings.dry_run {
            (self.report)("applied", &d.key, summary, true);
            // a dry run reports each plan once per object version
            self.attempts.entry(d.key.clone()).or_default().stuck =
                Some(Stuck { resource_version: d.resource_version.clone() });
            return;
        }
        match execute(&self.conn, ar, namespaced, &d.key, action).await {
            Ok(done) => {
                let mut data = summary;
                data["calls"] = json!(done.calls);
                (self.report)("applied", &d.key, data, false);
                self.attempts.remove(&d.key);
                if let Action::Revert { pointers, actors, .. } = action
                    && let Some(q) = self.flaps.record(&d.key, pointers, actors, Instant::now())
                {
                    let data = serde_json::to_value(&q).unwrap_or(Value::Null);
                    (self.report)("quarantined", &d.key, data, false);
                }
            }
            Err(e) => {
                tracing::Span::current().record("error", tracing::field::display(&e));
                // a failed resourceVersion test (422 on the guarded patch) means the object moved: plan again
                let class = match e.code() {
                    Some(422) if e.to_string().starts_with("patch ") => Failure::Transient,
                    Some(code) => classify(code),
                    None => Failure::Transient,
                };
                self.failed(d, Some(action), &e.to_string(), class);
            }
        }
    }

    fn failed(&mut self, d: &Drifted, action: Option<&Action>, message: &str, class: Failure) {
        let attempts = self.attempts.entry(d.key.clone()).or_default();
        attempts.failures += 1;
        let retry = match class {
            Failure::Persistent => {
                attempts.stuck = Some(Stuck { resource_version: d.resource_version.clone() });
                None
            }
            Failure::Transient => next_delay(&self.settings.retry, attempts.failures),
        };
        attempts.next = retry.map(|delay| Instant::now() + delay);
        if retry.is_none() && class == Failure::Transient {
            attempts.stuck = Some(Stuck { resource_version: d.resource_version.clone() });
        }
        let mut data = action.map_or_else(|| json!({"source": d.source}), |a| summarise(d, a));
        data["error"] = json!(message);
        data["persistent"] = json!(class == Failure::Persistent);
        data["failures"] = json!(attempts.failures);
        data["retryInSeconds"] = json!(retry.map(|r| r.as_secs_f64()));
        (self.report)("failed", &d.key, data, false);
    }

    /// The API resource of a kind, discovered once (a kind not served, once per [`REDISCOVER`]).
    async fn resource(&mut self, key: &ResourceKey, api_version: Option<&str>) -> Option<(ApiResource, bool)> {
        let gk = (key.group.clone(), key.kind.clone());
        if let Some((r, at)) = self.resources.get(&gk)
            && (r.is_some() || at.elapsed() < REDISCOVER)
        {
            return r.clone();
        }
        let r = resource_of(&self.conn, key, api_version).await;
        self.resources.insert(gk, (r.clone(), Instant::now()));
        r
    }
}

/// The API resource of an object's kind, at the version Git uses (the live one for an Extra
/// object), and whether it is namespaced.
pub async fn resource_of(
    conn: &Connection,
    key: &ResourceKey,
    api_version: Option<&str>,
) -> Option<(ApiResource, bool)> {
    let api_version = api_version?;
    let target = Target {
        group: key.group.clone(),
        version: api_version.rsplit('/').next().unwrap_or(api_version).to_owned(),
        kind: key.kind.clone(),
        namespace: None,
    };
    match discovery::resolve(conn, &[target]).await.pop()?.1 {
        Resolved::Served(ar, namespaced) => Some((ar, namespaced)),
        Resolved::Unserved | Resolved::Failed(_) => None,
    }
}

/// Who counts as a reconciler and which markers count, for planning.
#[derive(Debug, Clone, Copy)]
pub struct Identities<'a> {
    /// Reconciler field managers.
    pub reconcilers: &'a [String],
    /// Whether Argo CD's instance label marks ownership.
    pub instance_label: bool,
}

/// Reads a drifted object whole and plans its heal.
pub async fn plan_one(
    conn: &Connection,
    ar: &ApiResource,
    namespaced: bool,
    d: &Drifted,
    who: Identities<'_>,
    prune: bool,
) -> Result<Action, kube::Error> {
    let ns = if namespaced { d.key.namespace.as_deref() } else { None };
    let api = super::dynamic_api(conn, ar, ns);
    let live = api.get_opt(&d.key.name).await?.map(|o| super::list::to_json(o, ar));
    let desired = d.desired.as_ref().map(Declared::object);
    let settings = Settings { rules: &d.rules, reconcilers: who.reconcilers, instance_label: who.instance_label };
    Ok(from_objects(&d.key, desired.as_ref(), live.as_ref(), settings, prune, d.owner.as_ref()))
}

fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        _ => 503,
    }
}

/// The event data of a plan: action, source, paths and actors; never values.
fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Revert { .. } => "revert",
        Action::Create { .. } => "create",
        Action::Prune => "prune",
        Action::Nothing => "none",
    }
}

fn summarise(d: &Drifted, action: &Action) -> Value {
    let mut data = json!({"source": d.source, "status": d.status, "resourceVersion": d.resource_version,
                          "differences": d.differences});
    match action {
        Action::Revert { paths, actors, prune, .. } => {
            data["action"] = json!("revert");
            data["paths"] = json!(paths);
            data["actors"] = json!(actors);
            data["removals"] = json!(prune.as_ref().map_or(0, |p| p.0.len().saturating_sub(1)));
        }
        Action::Create { .. } | Action::Prune | Action::Nothing => data["action"] = json!(action_name(action)),
    }
    data
}
