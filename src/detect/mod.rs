//! The drift detector's pure core: compact projections of live objects, and the engine that
//! turns watch events and new revisions into per-source status and drift transitions.
//!
//! No I/O here: `cluster` feeds it, `server` shows it, `audit` records its transitions.

pub mod engine;
pub mod projection;
pub mod ssa;

pub use engine::{
    Counts, Drifted, Engine, KindState, Quarantined, ResourceState, SourceSpec, SourceStatus, State, Transition,
};
pub use projection::Projection;

#[cfg(test)]
mod tests;
