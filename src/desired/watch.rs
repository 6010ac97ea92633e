//! Polling Git sources at their `git.interval`: a new commit is rendered and swapped in; a failed
//! fetch or render keeps the last good state and reports the error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{GitOptions, SourceState, Store, Timings, render_source_timed};
use crate::config::Config;
use crate::model::load;

/// What happened to a source on a refresh.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The source rendered at a new revision (or for the first time) and was swapped in.
    Synced {
        /// The source.
        source: String,
        /// The resolved commit, for Git sources.
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// How many objects it declares.
        objects: usize,
        /// How long the fetch and the render took.
        #[serde(skip)]
        timings: Timings,
    },
    /// Fetching or rendering failed; the last good state stays.
    Failed {
        /// The source.
        source: String,
        /// Why.
        error: String,
        /// The commit still in use, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        kept_commit: Option<String>,
        /// `fetch` or `render`.
        stage: &'static str,
        /// How long the steps that ran took.
        #[serde(skip)]
        timings: Timings,
    },
}

/// Renders one source and swaps it into the store when its commit changed (or it was failing).
/// Returns the event, or `None` when nothing changed.
pub fn refresh(config: &Config, name: &str, store: &Store, options: &GitOptions) -> Option<Event> {
    let src = config.source(name)?;
    let current = store.get();
    let previous = current.sources.get(name);
    let mut timings = Timings::default();
    match render_source_timed(src, None, options, &mut timings)
        .and_then(|(m, info)| Ok((load::index(m).map_err(crate::render::RenderError::from)?, info)))
    {
        Ok((objects, info)) => {
            let unchanged =
                previous.is_some_and(|p| p.error.is_none() && p.info.commit.is_some() && p.info.commit == info.commit);
            if unchanged {
                return None;
            }
            let event =
                Event::Synced { source: name.to_owned(), commit: info.commit.clone(), objects: objects.len(), timings };
            store.put(
                name,
                SourceState { info, objects: Arc::new(crate::model::declared::declare(objects)), error: None },
            );
            crate::memory::release_freed();
            Some(event)
        }
        Err(e) => {
            // Git errors come masked; a render error may quote a URL from the repository itself
            // (a kustomize remote resource), so every failure is masked once more here
            let (error, stage) = (crate::redact::text(&e.to_string()), e.stage());
            let kept_commit = previous.and_then(|p| p.info.commit.clone());
            let repeated = previous.is_some_and(|p| p.error.as_deref() == Some(error.as_str()));
            store.fail(name, error.clone());
            (!repeated).then(|| Event::Failed { source: name.to_owned(), error, kept_commit, stage, timings })
        }
    }
}

/// Polls every Git source with an interval on a background thread until `stop` is set,
/// calling `on_event` for each change. Sources are first loaded by the caller (see [`refresh`]).
pub fn spawn_poller(
    config: Arc<Config>,
    store: Arc<Store>,
    options: GitOptions,
    stop: Arc<AtomicBool>,
    on_event: impl Fn(Event) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("source-poller".into()).spawn(move || {
        let intervals: Vec<(String, Duration)> = config
            .sources
            .iter()
            .filter_map(|s| {
                s.git.as_ref().and_then(|g| g.interval).map(|i| (s.name.clone(), i.max(Duration::from_millis(100))))
            })
            .collect();
        let mut due: HashMap<String, Instant> =
            intervals.iter().map(|(n, i)| (n.clone(), Instant::now() + *i)).collect();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            for (name, interval) in &intervals {
                if due.get(name).is_some_and(|d| *d <= now) {
                    // the event is reported inside the refresh span, so it carries its trace
                    tracing::info_span!("source.refresh", source = %name).in_scope(|| {
                        if let Some(event) = refresh(&config, name, &store, &options) {
                            on_event(event);
                        }
                    });
                    due.insert(name.clone(), Instant::now() + *interval);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}
