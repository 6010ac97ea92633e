//! The bearer token a kubeconfig user sends, for commands that read a running `serve`. kube's
//! own auth layer works it out (a `token`, a `tokenFile`, an `exec` credential plugin, a GCP
//! auth provider): it is wrapped around a service that only keeps the `Authorization` header
//! of the one request it is given, which never leaves the process.

use std::future::{Ready, ready};
use std::path::Path;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use kube::client::{Body, ConfigExt as _};
use tower_layer::Layer as _;
use tower_service::Service;

use super::ClusterError;
use crate::access::Token;

/// The token of the kubeconfig at `path` (else `KUBECONFIG` or `~/.kube/config`, else the
/// in-cluster service account), for `context` when given. `None` when that user has no bearer
/// token: a client certificate, basic auth, or no credentials.
pub async fn bearer_token(path: Option<&Path>, context: Option<&str>) -> Result<Option<Token>, ClusterError> {
    let config = super::client::load(path, context).await?;
    let failed = |e: &dyn std::fmt::Display| ClusterError::Config(format!("the kubeconfig user's credentials: {e}"));
    // read here because kube keeps the file's trailing newline, which no header may hold;
    // kubectl trims it too
    if let Some(file) = &config.auth_info.token_file {
        let text = std::fs::read_to_string(file).map_err(|e| failed(&format!("tokenFile {file}: {e}")))?;
        return Ok(Token::new(&text));
    }
    let Some(layer) = config.auth_layer().map_err(|e| failed(&e))? else { return Ok(None) };
    let mut service = layer.layer(Capture);
    std::future::poll_fn(|cx| Service::<http::Request<Body>>::poll_ready(&mut service, cx))
        .await
        .map_err(|e| failed(&e))?;
    let captured = service.call(http::Request::new(Body::empty())).await.map_err(|e| failed(&e))?;
    let header = captured.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    Ok(header
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| Token::new(token)))
}

/// The error type of kube's token refresh layer, which the capture must share.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The innermost service: answers with the headers it was sent.
#[derive(Clone, Copy)]
struct Capture;

impl<B> Service<http::Request<B>> for Capture {
    type Response = http::Response<()>;
    type Error = BoxError;
    type Future = Ready<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut response = http::Response::new(());
        *response.headers_mut() = request.headers().clone();
        ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(dir: &Path, user: &str) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n{user}"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn token_of(user: &str) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), user);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(bearer_token(Some(&path), None)).unwrap().map(|t| t.expose().to_owned())
    }

    #[test]
    fn a_kubeconfig_token_a_token_file_and_an_exec_plugin() {
        assert_eq!(token_of("    token: abc\n").as_deref(), Some("abc"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        assert_eq!(token_of(&format!("    tokenFile: {}\n", file.display())).as_deref(), Some("from-file"));
        let exec = r#"    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: sh
      args: ["-c", "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec\"}}'"]
      interactiveMode: Never
"#;
        assert_eq!(token_of(exec).as_deref(), Some("from-exec"));
        assert_eq!(token_of("    username: u\n    password: p\n"), None, "basic auth is no bearer token");
    }
}
