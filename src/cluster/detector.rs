//! The detector's loop: keeps one watcher per kind the desired state holds, feeds their events
//! and every new revision to the engine, and reports what changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Connection;
use super::discovery::{self, Resolved, Target};
use super::watch::{self, LiveEvent};
use crate::config::Config;
use crate::desired::Store;
use crate::detect::{Engine, KindState, SourceSpec, Transition};
use crate::diff::ignore::Rule;

/// Events queued between the watchers and the engine; a full queue slows the watchers down.
const QUEUE: usize = 1024;
/// Events applied before the observers hear of them, so a re-list is reported once.
const BATCH: usize = 512;
/// How often kinds that discovery did not find, or failed on, are asked about again.
const RETRY_DISCOVERY: Duration = Duration::from_secs(30);

/// The engine, shared with the status API and admission.
#[derive(Clone, Debug)]
pub struct DetectorHandle {
    engine: Arc<Mutex<Engine>>,
}

impl DetectorHandle {
    /// Locks the engine for reading its status.
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        match self.engine.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl crate::admission::decide::LiveView for DetectorHandle {
    /// Never waits: while the engine is busy (a re-list, a new revision) the live view is skipped.
    fn marker(&self, key: &crate::model::ResourceKey) -> Option<crate::model::ownership::Marker> {
        let engine = self.engine.try_lock().ok()?;
        engine.live_marker(key).cloned()
    }
}

/// Called after each batch with the engine and the transitions it produced.
pub type Observer = Box<dyn FnMut(&Engine, &[Transition]) + Send>;

/// The drift detector.
pub struct Detector {
    conn: Connection,
    config: Arc<Config>,
    store: Arc<Store>,
    handle: DetectorHandle,
    rules: HashMap<String, Arc<[Rule]>>,
    clock: fn() -> String,
}

impl Detector {
    /// A detector for the config's sources, reading the desired state from `store`.
    pub fn new(conn: Connection, config: Arc<Config>, store: Arc<Store>) -> Self {
        let engine = Engine::new(config.reconcilers.all_field_managers(), config.ownership.instance_label);
        let rules = config
            .sources
            .iter()
            .map(|s| {
                // the config was validated on load, so its rules compile; a failure keeps the built-in rule
                let rules = config.rules(Some(&s.name)).unwrap_or_else(|_| vec![Rule::status()]);
                (s.name.clone(), Arc::from(rules))
            })
            .collect();
        Self {
            conn,
            config,
            store,
            handle: DetectorHandle { engine: Arc::new(Mutex::new(engine)) },
            rules,
            clock: crate::audit::now_rfc3339,
        }
    }

    /// The shared engine.
    pub fn handle(&self) -> DetectorHandle {
        self.handle.clone()
    }

    /// Runs until the task is dropped.
    pub async fn run(self, mut observe: Observer) {
        let mut revisions = self.store.subscribe();
        let (tx, mut rx) = mpsc::channel::<LiveEvent>(QUEUE);
        let mut watchers: BTreeMap<Target, JoinHandle<()>> = BTreeMap::new();
        let mut unresolved = false;
        let mut retry = tokio::time::interval(RETRY_DISCOVERY);
        retry.tick().await;
        self.reload(&mut watchers, &mut unresolved, &tx, &mut observe).await;
        loop {
            tokio::select! {
                changed = revisions.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.reload(&mut watchers, &mut unresolved, &tx, &mut observe).await;
                }
                Some(first) = rx.recv() => {
                    let now = (self.clock)();
                    let mut out = Vec::new();
                    let mut relisted = matches!(first, LiveEvent::Relisted { .. });
                    let span = tracing::info_span!(
                        "drift.evaluate",
                        trigger = "watch",
                        events = tracing::field::Empty,
                        transitions = tracing::field::Empty,
                    );
                    span.in_scope(|| {
                        let mut engine = self.handle.engine();
                        out.extend(apply(&mut engine, first, &now));
                        let mut events = 1;
                        for _ in 1..BATCH {
                            match rx.try_recv() {
                                Ok(ev) => {
                                    events += 1;
                                    relisted |= matches!(ev, LiveEvent::Relisted { .. });
                                    out.extend(apply(&mut engine, ev, &now));
                                }
                                Err(_) => break,
                            }
                        }
                        span.record("events", events);
                        span.record("transitions", out.len());
                        observe(&engine, &out);
                    });
                    if relisted {
                        // evaluating a whole list leaves its parsed objects behind as garbage
                        crate::memory::release_freed();
                    }
                }
                _ = retry.tick(), if unresolved => {
                    self.reload(&mut watchers, &mut unresolved, &tx, &mut observe).await;
                }
            }
        }
    }

    /// Takes the current desired state: re-evaluates everything and starts or stops watchers.
    async fn reload(
        &self,
        watchers: &mut BTreeMap<Target, JoinHandle<()>>,
        unresolved: &mut bool,
        tx: &mpsc::Sender<LiveEvent>,
        observe: &mut Observer,
    ) {
        let desired = self.store.get();
        let specs: Vec<SourceSpec> = self
            .config
            .sources
            .iter()
            .filter_map(|s| {
                let state = desired.sources.get(&s.name)?;
                Some(SourceSpec {
                    name: s.name.clone(),
                    info: state.info.clone(),
                    rules: self.rules.get(&s.name).cloned().unwrap_or_else(|| Arc::from(vec![Rule::status()])),
                    objects: Arc::clone(&state.objects),
                    error: state.error.clone(),
                    owner: s.owner.clone(),
                })
            })
            .collect();
        let wanted =
            discovery::targets(specs.iter().flat_map(|s| s.objects.values()).map(|d| (&d.key, &*d.api_version)));
        // watchers for kinds Git no longer holds stop; new kinds are discovered and watched
        let mut stopped = Vec::new();
        watchers.retain(|t, task| {
            let keep = wanted.iter().any(|w| same_watch(w, t));
            if !keep {
                task.abort();
                stopped.push(t.clone());
            }
            keep
        });
        if !stopped.is_empty() {
            let mut engine = self.handle.engine();
            for t in &stopped {
                engine.forget(&t.group, &t.kind, t.namespace.as_deref());
            }
        }
        // kinds no longer watched are forgotten first, so their objects are not judged Extra
        tracing::info_span!("drift.evaluate", trigger = "revision", sources = specs.len()).in_scope(|| {
            let now = (self.clock)();
            let mut engine = self.handle.engine();
            let out = engine.set_sources(specs, &now);
            observe(&engine, &out);
        });
        crate::memory::release_freed();
        let new: Vec<Target> = wanted.into_iter().filter(|w| !watchers.keys().any(|t| same_watch(w, t))).collect();
        *unresolved = false;
        for (target, resolved) in discovery::resolve(&self.conn, &new).await {
            let now = (self.clock)();
            let state = match resolved {
                Resolved::Served(ar, _) => {
                    let instance_label = self.config.ownership.instance_label;
                    let task = watch::spawn(&self.conn, target.clone(), ar, instance_label, tx.clone());
                    watchers.insert(target, task);
                    continue;
                }
                Resolved::Unserved => {
                    // a CRD may be installed later: unserved kinds are asked about again
                    *unresolved = true;
                    KindState::Unserved
                }
                Resolved::Failed(message) => {
                    *unresolved = true;
                    KindState::Failed(message)
                }
            };
            let mut engine = self.handle.engine();
            let out = engine.set_kind(&target.group, &target.kind, state, &now);
            observe(&engine, &out);
        }
    }
}

/// Two targets share a watch when they name the same kind, version and scope; discovery may
/// widen a namespaced target to the whole cluster for a cluster-scoped kind.
fn same_watch(wanted: &Target, running: &Target) -> bool {
    wanted.group == running.group
        && wanted.kind == running.kind
        && wanted.version == running.version
        && (wanted.namespace == running.namespace || running.namespace.is_none())
}

fn apply(engine: &mut Engine, event: LiveEvent, now: &str) -> Vec<Transition> {
    match event {
        LiveEvent::Relisted { target, objects } => {
            engine.relist(&target.group, &target.kind, target.namespace.as_deref(), objects, now)
        }
        LiveEvent::Applied(key, value) => engine.apply(&key, value, now),
        LiveEvent::Deleted(key) => engine.delete(&key, now),
        LiveEvent::Failed { target, message } => {
            engine.set_kind(&target.group, &target.kind, KindState::Failed(message), now)
        }
    }
}
