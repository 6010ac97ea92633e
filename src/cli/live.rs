//! Reading the live side from a cluster for one-shot commands (`diff --live cluster`, `status`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::cluster::{self, Connection, Resolved, Target};
use crate::detect::ssa;
use crate::model::{Manifest, ResourceKey};

/// How to reach the cluster.
#[derive(Debug, Args, Clone)]
pub struct ClusterArgs {
    /// Kubeconfig file; default: `KUBECONFIG`, then `~/.kube/config`, then the in-cluster account.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
}

impl ClusterArgs {
    /// Connects.
    /// Connects, and checks that the API server answers: an unreachable or refusing cluster is
    /// an error naming the server (exit 2), never a report.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        let conn = cluster::connect(self.kubeconfig.as_deref(), self.context.as_deref())
            .await
            .context("cannot reach the cluster")?;
        cluster::probe(&conn).await?;
        Ok(conn)
    }
}

/// How desired and live are compared.
#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum DiffMode {
    /// Git's declared fields against live, with the defaults table and managedFields.
    #[default]
    Declared,
    /// Git's declared fields, as a server-side-apply dry run predicts them, against live.
    Ssa,
}

/// What reading the cluster found besides the objects.
#[derive(Debug, Default)]
pub struct Findings {
    /// Kinds the cluster does not serve.
    pub unserved: Vec<Target>,
    /// Kinds that could not be read, with why.
    pub failed: Vec<(Target, String)>,
}

/// Resolves the kinds the desired sets hold through discovery.
pub async fn discover(conn: &Connection, desired: &[&mut BTreeMap<ResourceKey, Manifest>]) -> Vec<(Target, Resolved)> {
    let targets = cluster::targets(
        desired
            .iter()
            .flat_map(|set| set.values())
            .map(|m| (&m.key, m.object.get("apiVersion").and_then(Value::as_str).unwrap_or("v1"))),
    );
    cluster::resolve(conn, &targets).await
}

/// Replaces each desired object of a served kind with Git's declared fields as a server-side
/// apply dry run predicts them (`--diff-mode ssa`).
pub async fn predict(
    conn: &Connection,
    kinds: &[(Target, Resolved)],
    desired: &mut [&mut BTreeMap<ResourceKey, Manifest>],
) -> anyhow::Result<()> {
    for (target, resolved) in kinds {
        let Resolved::Served(ar, namespaced) = resolved else { continue };
        for set in desired.iter_mut() {
            for (key, m) in set.iter_mut().filter(|(k, _)| k.group == target.group && k.kind == target.kind) {
                let ns = if *namespaced { key.namespace.as_deref() } else { None };
                let predicted =
                    cluster::dry_run_apply(conn, ar, ns, &key.name, &m.object, cluster::apply::FIELD_MANAGER).await?;
                m.object = ssa::predicted_desired(&m.object, &predicted);
            }
        }
    }
    Ok(())
}

/// Lists every served kind, handing each live object to `each` as it arrives, so that a large
/// cluster is compared as a stream, never held whole.
pub async fn read(
    conn: &Connection,
    kinds: &[(Target, Resolved)],
    each: &mut dyn FnMut(Value) -> anyhow::Result<()>,
) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    for (target, resolved) in kinds {
        let ar = match resolved {
            Resolved::Served(ar, _) => ar,
            Resolved::Unserved => {
                findings.unserved.push(target.clone());
                continue;
            }
            Resolved::Failed(message) => {
                findings.failed.push((target.clone(), message.clone()));
                continue;
            }
        };
        let mut failure = None;
        let result = cluster::list_live(conn, target, ar, &mut |v| {
            if failure.is_none()
                && let Err(e) = each(v)
            {
                failure = Some(e);
            }
            Ok(())
        })
        .await;
        if let Some(e) = failure {
            return Err(e);
        }
        if let Err(e) = result {
            findings.failed.push((target.clone(), e.to_string()));
        }
    }
    Ok(findings)
}

/// Tells stderr about kinds that were not read.
pub fn warn(findings: &Findings) {
    for t in &findings.unserved {
        eprintln!("driftgate: the cluster does not serve {}; its objects are Missing", t.describe());
    }
    for (_, message) in &findings.failed {
        eprintln!("driftgate: {message}");
    }
}
