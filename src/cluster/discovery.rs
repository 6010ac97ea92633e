//! Which kinds to watch, and where: resolved from the desired state through API discovery.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};

use super::Connection;
use crate::model::ResourceKey;

/// One kind to list and watch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// API group, empty for core.
    pub group: String,
    /// The version Git uses.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// The one namespace every declared object of the kind lives in; `None` watches all.
    pub namespace: Option<String>,
}

impl Target {
    /// `apps/v1 Deployment in demo`, for messages.
    pub fn describe(&self) -> String {
        let gv = if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) };
        match &self.namespace {
            Some(ns) => format!("{gv} {} in {ns}", self.kind),
            None => format!("{gv} {}", self.kind),
        }
    }
}

/// The kinds the desired objects (keys and `apiVersion`s) hold, each scoped to a namespace where all its objects share one.
pub fn targets<'a>(objects: impl IntoIterator<Item = (&'a ResourceKey, &'a str)>) -> Vec<Target> {
    // (group, kind) -> (the version Git uses, the namespaces its objects live in)
    type Seen = BTreeMap<(String, String), (String, BTreeSet<Option<String>>)>;
    let mut by_kind = Seen::new();
    for (key, api_version) in objects {
        let version = api_version.rsplit('/').next().unwrap_or(api_version).to_owned();
        let entry = by_kind.entry((key.group.clone(), key.kind.clone())).or_insert_with(|| (version, BTreeSet::new()));
        entry.1.insert(key.namespace.clone());
    }
    by_kind
        .into_iter()
        .map(|((group, kind), (version, namespaces))| {
            let namespace = match namespaces.iter().collect::<Vec<_>>().as_slice() {
                [Some(ns)] => Some(ns.clone()),
                _ => None,
            };
            Target { group, version, kind, namespace }
        })
        .collect()
}

/// What discovery said of a target.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// Served: its resource, and whether it is namespaced.
    Served(ApiResource, bool),
    /// The cluster does not serve the group, version or kind.
    Unserved,
    /// Discovery failed for another reason.
    Failed(String),
}

/// Asks the API server for the resource of each target.
pub async fn resolve(conn: &Connection, targets: &[Target]) -> Vec<(Target, Resolved)> {
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let gvk = GroupVersionKind::gvk(&t.group, &t.version, &t.kind);
        let resolved = match discovery::pinned_kind(&conn.client, &gvk).await {
            Ok((ar, caps)) => Resolved::Served(ar, caps.scope == Scope::Namespaced),
            Err(kube::Error::Api(e)) if e.code == 404 => Resolved::Unserved,
            Err(kube::Error::Discovery(_)) => Resolved::Unserved,
            Err(e) => Resolved::Failed(format!("discovery of {}: {e}", t.describe())),
        };
        let mut t = t.clone();
        if let Resolved::Served(_, false) = resolved {
            t.namespace = None;
        }
        out.push((t, resolved));
    }
    out
}
