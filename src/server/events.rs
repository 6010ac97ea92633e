//! `GET /api/v1/events`: the audit stream as server-sent events. A reader first gets the recent
//! events that pass its filters (`source`, `kind`, `type`), then, unless `follow=false`, every new
//! one as it happens. A reader too slow for the stream gets a `lagged` event saying how many it
//! missed, and the stream goes on. Streams end when the server shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::audit::{Encoded, Filter};

/// The query of `GET /api/v1/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Only this source's events.
    pub source: Option<String>,
    /// Only events about this kind of object.
    pub kind: Option<String>,
    /// Only these types (comma-separated prefixes, see [`Filter`]).
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// Keep the stream open for new events (the default); `false` ends after the recent ones.
    pub follow: Option<bool>,
}

fn frame(e: &Encoded) -> Event {
    // the line is JSON without newlines, so it is one `data:` field
    Event::default().id(e.event.id.clone()).event(e.event.event_type.clone()).data(String::from_utf8_lossy(&e.line))
}

/// The handler.
pub async fn stream(State(state): State<Arc<AppState>>, Query(q): Query<EventsQuery>) -> Response {
    let filter = Filter { source: q.source, kind: q.kind, types: q.types };
    let (recent, rx) = state.auditor.live().subscribe(&filter);
    let head = futures::stream::iter(recent.iter().map(|e| Ok::<_, Infallible>(frame(e))).collect::<Vec<_>>());
    if q.follow == Some(false) {
        return Sse::new(head).into_response();
    }
    let closed = state.auditor.live().closed();
    let tail = futures::stream::unfold((rx, filter, closed), |(mut rx, filter, mut closed)| async move {
        loop {
            if *closed.borrow() {
                return None;
            }
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = closed.changed() => return None,
            };
            match received {
                Ok(e) if filter.matches(&e.event) => return Some((Ok(frame(&e)), (rx, filter, closed))),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    let lagged = Event::default().event("lagged").data(format!("{{\"skipped\":{n}}}"));
                    return Some((Ok(lagged), (rx, filter, closed)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> = Box::pin(head.chain(tail));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
