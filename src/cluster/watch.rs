//! One watcher per kind: kube-runtime's watcher (list, then watch from the list's
//! resourceVersion with bookmarks, re-list on 410 Gone, back off on errors) feeding the
//! detector with projections, never with whole objects held in a store.

use futures::StreamExt as _;
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Connection, Target};
use std::ops::Range;

use crate::detect::Projection;
use crate::model::ResourceKey;
use crate::model::ownership::Marker;

/// Objects per list page: the page is the most the watcher holds as whole objects at once.
const PAGE: u32 = 100;

/// One listed object while its list is gathered: key, resourceVersion, marker, and where its
/// projected body lies in the list's buffer.
type Listed = (ResourceKey, Box<str>, Option<Marker>, Range<usize>);

/// What a watcher tells the detector.
#[derive(Debug)]
pub(super) enum LiveEvent {
    /// A complete list of the target (first list, or re-list after 410 or a lost watch).
    Relisted { target: Target, objects: Vec<(ResourceKey, Projection)> },
    /// An object was added or changed.
    Applied(ResourceKey, Value),
    /// An object was deleted.
    Deleted(ResourceKey),
    /// Listing or watching failed; the watcher backs off and tries again.
    Failed { target: Target, message: String },
}

/// Starts watching `target`. The task ends when the receiver is dropped or it is aborted.
pub(super) fn spawn(
    conn: &Connection,
    target: Target,
    ar: ApiResource,
    instance_label: bool,
    tx: mpsc::Sender<LiveEvent>,
) -> JoinHandle<()> {
    let api = super::dynamic_api(conn, &ar, target.namespace.as_deref());
    tokio::spawn(async move {
        let config = watcher::Config::default().page_size(PAGE);
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        // an initial list is gathered as one buffer of projected bodies (see Projection::write)
        let mut bodies: Vec<u8> = Vec::new();
        let mut listed: Vec<Listed> = Vec::new();
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(Event::Init) => {
                    bodies.clear();
                    listed.clear();
                    continue;
                }
                Ok(Event::InitApply(obj)) => {
                    let (key, value) = keyed(obj, &ar);
                    let start = bodies.len();
                    let (rv, marker) = Projection::write(value, &key, instance_label, &mut bodies);
                    listed.push((key, rv, marker, start..bodies.len()));
                    continue;
                }
                Ok(Event::InitDone) => {
                    let objects = std::mem::take(&mut listed)
                        .into_iter()
                        .map(|(key, rv, marker, range)| (key, Projection::from_parts(rv, marker, &bodies[range])))
                        .collect();
                    bodies = Vec::new();
                    crate::memory::release_freed();
                    LiveEvent::Relisted { target: target.clone(), objects }
                }
                Ok(Event::Apply(obj)) => {
                    let (key, value) = keyed(obj, &ar);
                    LiveEvent::Applied(key, value)
                }
                Ok(Event::Delete(obj)) => LiveEvent::Deleted(keyed(obj, &ar).0),
                Err(e) => LiveEvent::Failed { target: target.clone(), message: failure(&e) },
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    })
}

fn keyed(obj: DynamicObject, ar: &ApiResource) -> (ResourceKey, Value) {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let namespace = obj.metadata.namespace.clone();
    let key = ResourceKey::new(&ar.group, &ar.kind, namespace.as_deref(), &name);
    (key, super::list::to_json(obj, ar))
}

/// A short reason: the API's code and message when it gave one.
fn failure(e: &watcher::Error) -> String {
    let api = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => Some((s.code, s.reason.clone(), s.message.clone())),
        _ => None,
    };
    match api {
        Some((code, reason, message)) => format!("{code} {reason}: {message}"),
        None => e.to_string(),
    }
}
