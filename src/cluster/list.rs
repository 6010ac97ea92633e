//! One-shot listing, for `diff --live cluster` and `status` without a server.

use kube::api::{DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::{ClusterError, Connection, Target};

/// Page size of lists: large enough for few round trips, small enough to keep memory flat.
const PAGE: u32 = 250;

/// Lists every object of a served target, page by page, handing each to `each` as JSON with
/// its `apiVersion` and `kind` (list items come without them).
pub async fn list_live(
    conn: &Connection,
    target: &Target,
    ar: &ApiResource,
    each: &mut dyn FnMut(Value) -> Result<(), ClusterError>,
) -> Result<(), ClusterError> {
    let api = super::dynamic_api(conn, ar, target.namespace.as_deref());
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| ClusterError::Api { what: format!("list {}", target.describe()), source })?;
        for obj in page.items {
            each(to_json(obj, ar))?;
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// A dynamic object as plain JSON, typed from its resource.
pub(super) fn to_json(obj: DynamicObject, ar: &ApiResource) -> Value {
    let mut value = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        map.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    value
}
