//! The cluster shell: the only module that imports kube. It connects, discovers the kinds the
//! desired state holds, lists and watches them into the detector's engine, runs
//! server-side-apply dry runs, and makes the TokenReviews and SubjectAccessReviews of API
//! access. Every decision stays in `detect`, `diff` and `access`.

mod access;
pub mod apply;
mod client;
mod credentials;
mod detector;
mod discovery;
mod dry_run;
pub mod events;
pub mod heal;
pub mod healer;
pub mod lease;
mod list;
mod watch;
pub mod webhook_config;

pub use access::AccessReviewer;
pub use client::{Connection, connect, probe};
pub use credentials::bearer_token;
pub use detector::{Detector, DetectorHandle};
pub use discovery::{Resolved, Target, resolve, targets};
pub use dry_run::dry_run_apply;
pub use list::list_live;

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use thiserror::Error;

/// The API of a kind in one namespace, or across all (cluster-scoped kinds, cluster-wide watches).
fn dynamic_api(conn: &Connection, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(conn.client.clone(), ns, ar),
        None => Api::all_with(conn.client.clone(), ar),
    }
}

/// Why the cluster could not be reached or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No kubeconfig or in-cluster configuration could be loaded.
    #[error("cannot load the cluster configuration: {0}")]
    Config(String),
    /// The client could not be built (bad certificates, proxy).
    #[error("cannot build the Kubernetes client: {0}")]
    Client(String),
    /// The API server could not be reached, or refused us, when first asked.
    #[error("cannot reach the cluster at {server}: {message}")]
    Unreachable {
        /// The API server's URL.
        server: String,
        /// Why, with every cause (connection refused, certificate, 401).
        message: String,
    },
    /// A request failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done, e.g. `list apps/v1 Deployment in demo`.
        what: String,
        /// The API's answer.
        source: kube::Error,
    },
}
