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

/// Connects with the kubeconfig at `path` (else `KUBECONFIG` or `~/.kube/config`, else the
/// in-cluster configuration), using `context` when given.
pub async fn connect(path: Option<&Path>, context: Option<&str>) -> Result<Connection, ClusterError> {
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
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))?;
    Ok(Connection { client, server })
}
