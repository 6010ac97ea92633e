//! Carrying out a heal plan against the API: at most one guarded patch and one apply.

use kube::discovery::ApiResource;

use super::{ClusterError, Connection, apply};
use crate::heal::plan::Action;
use crate::model::ResourceKey;

/// What carrying out a plan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done {
    /// API calls made.
    pub calls: u32,
}

/// Carries out `action` on `key`. A failure names the call that failed; with the patch first and
/// guarded, a failed patch leaves the object as it was.
pub async fn execute(
    conn: &Connection,
    ar: &ApiResource,
    namespaced: bool,
    key: &ResourceKey,
    action: &Action,
) -> Result<Done, ClusterError> {
    let ns = if namespaced { key.namespace.as_deref() } else { None };
    let mut done = Done::default();
    match action {
        Action::Revert { apply: object, prune, .. } => {
            if let Some(patch) = prune {
                done.calls += 1;
                apply::json_patch(conn, ar, ns, &key.name, patch).await?;
            }
            done.calls += 1;
            apply::apply(conn, ar, ns, &key.name, object).await?;
        }
        Action::Create { apply: object } => {
            done.calls += 1;
            apply::apply(conn, ar, ns, &key.name, object).await?;
        }
        Action::Prune => {
            done.calls += 1;
            apply::delete(conn, ar, ns, &key.name).await?;
        }
        Action::Nothing => {}
    }
    Ok(done)
}
