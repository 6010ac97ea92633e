//! The desired state: every configured source rendered at a known revision.
//!
//! The state is an immutable snapshot behind an `Arc`, swapped whole when a source changes, so
//! readers (the webhook, the detector) always see one consistent picture. A source whose fetch
//! or render fails keeps its last good objects and carries the error until it recovers.

mod load;
mod watch;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use load::{DesiredError, GitOptions, Timings, render_path, render_source, render_source_timed};
pub use watch::{Event, refresh, spawn_poller};

use crate::diff::report::SourceInfo;
use crate::model::{Declared, ResourceKey};

/// One source's objects and where they came from.
#[derive(Debug, Clone)]
pub struct SourceState {
    /// Repository, revision and resolved commit (for Git sources), and path.
    pub info: SourceInfo,
    /// The objects, by key.
    pub objects: Arc<BTreeMap<ResourceKey, Declared>>,
    /// The last error, if the latest fetch or render failed (the objects are then the last good ones).
    pub error: Option<String>,
}

/// Every source's state.
#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    /// By source name.
    pub sources: BTreeMap<String, SourceState>,
}

/// The current desired state, swapped atomically.
#[derive(Debug)]
pub struct Store {
    current: RwLock<Arc<DesiredState>>,
    /// Bumped on every change, so the detector wakes for a new revision instead of polling.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self { current: RwLock::default(), changes: tokio::sync::watch::Sender::new(0) }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver that sees a new value after every change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The current snapshot; cheap, and never torn.
    pub fn get(&self) -> Arc<DesiredState> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces one source's state in a new snapshot.
    pub fn put(&self, name: &str, state: SourceState) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = DesiredState::clone(&guard);
        next.sources.insert(name.to_owned(), state);
        *guard = Arc::new(next);
        drop(guard);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Records an error on a source, keeping its objects.
    pub fn fail(&self, name: &str, error: String) {
        let current = self.get();
        let state = match current.sources.get(name) {
            Some(s) => SourceState { error: Some(error), ..s.clone() },
            None => SourceState {
                info: SourceInfo { name: Some(name.to_owned()), ..SourceInfo::default() },
                objects: Arc::new(BTreeMap::new()),
                error: Some(error),
            },
        };
        self.put(name, state);
    }
}
