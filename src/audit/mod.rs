//! The audit event stream: one CloudEvents 1.0 type for admission, drift, heal and source
//! events ([`event`]), fanned out to configured sinks ([`dispatch`]): stdout, an append-only file
//! ([`file`]), an HTTP endpoint behind an on-disk spool ([`http`], [`spool`]), Kubernetes Events
//! ([`kube_events`]), and the live stream of `GET /api/v1/events` ([`live`]). Events carry paths
//! (keys), never values, so Secret data never reaches a sink.

pub mod dispatch;
pub mod event;
pub mod file;
pub mod http;
pub mod kube_events;
pub mod live;
pub mod spool;
pub mod sse;

pub use dispatch::{Auditor, Confirmation, KubeQueue, SinkStats};
pub use event::{
    Actor, CloudEvent, Data, TraceRef, admission_event, drift_event, heal_event, now_rfc3339, rule_event, source_event,
};
pub use live::Filter;

/// An event and its JSON line (without the newline), encoded once for every sink.
#[derive(Debug)]
pub struct Encoded {
    /// The event.
    pub event: CloudEvent,
    /// Its JSON.
    pub line: Box<[u8]>,
}
