//! The HTTPS client of commands that read a running `serve` (`status --server`, `events`), and
//! the bearer token they send: `--token`, `--token-file`, else the kubeconfig user's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::live::ClusterArgs;
use crate::access::Token;

/// Who the command is to the server: by default the kubeconfig user (its token, tokenFile or
/// exec plugin); these flags override it.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// The bearer token to send to the server instead of the kubeconfig user's.
    #[arg(long, env = "DRIFTGATE_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    pub token: Option<String>,
    /// A file holding the bearer token to send instead of the kubeconfig user's.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// An HTTPS client that sends the command's token.
pub(super) struct ServerClient {
    client: reqwest::blocking::Client,
    token: Option<Token>,
}

impl ServerClient {
    /// A client trusting `ca` (besides the system roots), or anything when `insecure`;
    /// `timeout` bounds a whole request (`None` leaves streams open).
    pub(super) fn new(
        ca: Option<&Path>,
        insecure: bool,
        timeout: Option<Duration>,
        credentials: &CredentialArgs,
        cluster: &ClusterArgs,
    ) -> anyhow::Result<Self> {
        Ok(Self { client: https_client(ca, insecure, timeout)?, token: bearer(credentials, cluster)? })
    }

    /// A GET of `url`, with the token.
    pub(super) fn get(&self, url: &str) -> reqwest::blocking::RequestBuilder {
        let request = self.client.get(url);
        match &self.token {
            Some(t) => request.bearer_auth(t.expose()),
            None => request,
        }
    }

    /// What to add to an error answer: how to get in.
    pub(super) fn hint(&self, code: reqwest::StatusCode) -> &'static str {
        match code.as_u16() {
            401 if self.token.is_none() => {
                " (no token was sent: the kubeconfig user has none, e.g. a client certificate; give --token or --token-file, e.g. from `kubectl create token`)"
            }
            401 => " (the token was not accepted: expired, or for another cluster)",
            403 => " (a cluster admin can bind the ClusterRole driftgate-api-reader: docs/deploy.md)",
            _ => "",
        }
    }
}

/// The token to send: `--token`, `--token-file`, else the kubeconfig user's. Without any
/// kubeconfig none is sent (a server with `server.auth: none` needs none); a kubeconfig named
/// by `--kubeconfig`, `KUBECONFIG` or `--context` must load.
fn bearer(credentials: &CredentialArgs, cluster: &ClusterArgs) -> anyhow::Result<Option<Token>> {
    if let Some(t) = &credentials.token {
        return Token::new(t).map(Some).context("--token: empty, or holds whitespace");
    }
    if let Some(path) = &credentials.token_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("--token-file {}", path.display()))?;
        return Token::new(&text)
            .map(Some)
            .with_context(|| format!("--token-file {}: holds no token (empty, or inner whitespace)", path.display()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let found =
        runtime.block_on(crate::cluster::bearer_token(cluster.kubeconfig.as_deref(), cluster.context.as_deref()));
    match found {
        Ok(token) => Ok(token),
        Err(e) if cluster.kubeconfig.is_some() || cluster.context.is_some() => {
            Err(e).context("the token to send to the server")
        }
        Err(_) => Ok(None),
    }
}

/// A client trusting `ca` (besides the system roots), or trusting anything when `insecure`.
/// `timeout` bounds a whole request; `None` leaves streams open.
fn https_client(
    ca: Option<&Path>,
    insecure: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(Duration::from_secs(10));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("--ca {}", ca.display()))?;
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("--ca {}: not a PEM certificate", ca.display()))?,
        );
    }
    if insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    Ok(builder.build()?)
}
