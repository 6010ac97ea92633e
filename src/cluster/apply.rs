//! The writes self-heal makes: a forced server-side apply as `driftgate`, a JSON patch, and a
//! background delete.

use json_patch::Patch as JsonPatch;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{ClusterError, Connection};

/// The field manager of every heal.
pub const FIELD_MANAGER: &str = "driftgate";

use super::dynamic_api as api;

/// Server-side apply of `object` as [`FIELD_MANAGER`], forced: Git's values win every field it
/// declares. Returns the stored object.
pub async fn apply(
    conn: &Connection,
    ar: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
) -> Result<Value, ClusterError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let out = api(conn, ar, namespace)
        .patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|source| ClusterError::Api { what: format!("apply {} {name}", ar.kind), source })?;
    Ok(super::list::to_json(out, ar))
}

/// An RFC 6902 patch (its first operation tests the resourceVersion it was planned on).
pub async fn json_patch(
    conn: &Connection,
    ar: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    patch: &JsonPatch,
) -> Result<Value, ClusterError> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    let out = api(conn, ar, namespace)
        .patch(name, &params, &Patch::<()>::Json(patch.clone()))
        .await
        .map_err(|source| ClusterError::Api { what: format!("patch {} {name}", ar.kind), source })?;
    Ok(super::list::to_json(out, ar))
}

/// Deletes with background propagation, as Argo CD prunes by default.
pub async fn delete(
    conn: &Connection,
    ar: &ApiResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ClusterError> {
    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
    api(conn, ar, namespace)
        .delete(name, &params)
        .await
        .map_err(|source| ClusterError::Api { what: format!("delete {} {name}", ar.kind), source })?;
    Ok(())
}

impl ClusterError {
    /// The HTTP code of an API error, if this is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Api { source: kube::Error::Api(s), .. } => Some(s.code),
            _ => None,
        }
    }
}
