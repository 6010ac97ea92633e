//! Server-side-apply dry runs: what the API server would make of Git's manifest.

use kube::api::{Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{ClusterError, Connection};

/// Applies `object` as `field_manager`, forced, with `dryRun=All`, and returns the object the
/// server would store. Nothing is persisted.
pub async fn dry_run_apply(
    conn: &Connection,
    ar: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    field_manager: &str,
) -> Result<Value, ClusterError> {
    let api = super::dynamic_api(conn, ar, namespace);
    let params = PatchParams::apply(field_manager).force().dry_run();
    let out = api
        .patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|source| ClusterError::Api { what: format!("server-side dry run of {} {name}", ar.kind), source })?;
    Ok(super::list::to_json(out, ar))
}
