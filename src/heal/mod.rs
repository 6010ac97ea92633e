//! Self-heal's pure core: what to change to put an object back (`plan`), when to try again
//! (`retry`), and when to stop fighting another writer (`quarantine`). The shell that applies
//! the plans (server-side apply, guarded patches, the Lease) lives in `cluster`.

pub mod plan;
pub mod quarantine;
pub mod retry;
