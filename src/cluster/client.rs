//! Connecting: a kubeconfig (flag, `KUBECONFIG`, `--context`) or the in-cluster service account.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::ClusterError;

/// A client and where it points.
#[derive(Clone)]
pub struct Connection {
    /// The kube client.
    pub client: Client,
    /// The API server's URL, for messages.
    pub server: String,
}

/// How long the first request may take before the cluster counts as unreachable.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Asks the API server for its version: a one-shot command must fail, naming the server, when
/// the cluster is unreachable or refuses us, rather than report every object Missing or Unknown.
pub async fn probe(conn: &Connection) -> Result<(), ClusterError> {
    let unreachable = |message: String| ClusterError::Unreachable { server: conn.server.clone(), message };
    match tokio::time::timeout(PROBE_TIMEOUT, conn.client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(chain(&e))),
        Err(_) => Err(unreachable(format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))),
    }
}

/// An error and its causes, each said once (kube's own message often hides the cause).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// Connects with the kubeconfig at `path` (else `KUBECONFIG` or `~/.kube/config`, else the
/// in-cluster configuration), using `context` when given.
pub async fn connect(path: Option<&Path>, context: Option<&str>) -> Result<Connection, ClusterError> {
    let config = load(path, context).await?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))?;
    Ok(Connection { client, server })
}

/// The client configuration `connect` uses: the kubeconfig at `path` (else `KUBECONFIG` or
/// `~/.kube/config`, else in-cluster), at `context` when given.
pub(super) async fn load(path: Option<&Path>, context: Option<&str>) -> Result<Config, ClusterError> {
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
    let config = match path {
        Some(p) => {
            let kubeconfig =
                Kubeconfig::read_from(p).map_err(|e| ClusterError::Config(format!("{}: {e}", p.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?
        }
        None if context.is_some() => {
            Config::from_kubeconfig(&options).await.map_err(|e| ClusterError::Config(e.to_string()))?
        }
        None => Config::infer().await.map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    Ok(config)
}
