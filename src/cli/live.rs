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
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        cluster::connect(self.kubeconfig.as_deref(), self.context.as_deref()).await.context("cannot reach the cluster")
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

/// Field manager of server-side dry runs.
pub const DRY_RUN_MANAGER: &str = "driftgate";

/// What reading the cluster found besides the objects.
#[derive(Debug, Default)]
pub struct Findings {
    /// Kinds the cluster does not serve.
    pub unserved: Vec<Target>,
    /// Kinds that could not be read, with why.
    pub failed: Vec<(Target, String)>,
}

/// Lists every kind the desired sets hold, handing each live object to `each`. With
/// `DiffMode::Ssa`, the desired objects are first replaced by their server-side prediction.
pub async fn read(
    conn: &Connection,
    desired: &mut [&mut BTreeMap<ResourceKey, Manifest>],
    mode: DiffMode,
    each: &mut (dyn FnMut(Value) -> anyhow::Result<()> + Send),
) -> anyhow::Result<Findings> {
    let targets = cluster::targets(
        desired
            .iter()
            .flat_map(|set| set.values())
            .map(|m| (&m.key, m.object.get("apiVersion").and_then(Value::as_str).unwrap_or("v1"))),
    );
    let mut findings = Findings::default();
    for (target, resolved) in cluster::resolve(conn, &targets).await {
        let (ar, namespaced) = match resolved {
            Resolved::Served(ar, namespaced) => (ar, namespaced),
            Resolved::Unserved => {
                findings.unserved.push(target);
                continue;
            }
            Resolved::Failed(message) => {
                findings.failed.push((target, message));
                continue;
            }
        };
        if mode == DiffMode::Ssa {
            for set in desired.iter_mut() {
                for (key, m) in set.iter_mut().filter(|(k, _)| k.group == target.group && k.kind == target.kind) {
                    let ns = if namespaced { key.namespace.as_deref() } else { None };
                    let predicted =
                        cluster::dry_run_apply(conn, &ar, ns, &key.name, &m.object, DRY_RUN_MANAGER).await?;
                    m.object = ssa::predicted_desired(&m.object, &predicted);
                }
            }
        }
        let mut failure = None;
        let result = cluster::list_live(conn, &target, &ar, &mut |v| {
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
            findings.failed.push((target, e.to_string()));
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
