//! `driftgate serve` against the fake API server, with a Git source `shop` holding the shared
//! workload: the harness of the detector, self-heal, audit and telemetry tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::apiserver::FakeApiServer;
use super::https::{Answer, Server, certs, client};
use super::workload::{CONFIGMAP, DEPLOYMENT, yaml};

/// The token of the fake's kubeconfig user, `kubernetes-admin` in `system:masters`.
pub const ADMIN_TOKEN: &str = "fake-admin-token";

/// Fields drop in order: the server stops before the API it watches.
pub struct Running {
    pub server: Server,
    pub api: FakeApiServer,
    pub tls: Arc<rustls::ClientConfig>,
    pub repo: PathBuf,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Running {
    /// Stops `serve` with SIGTERM (it drains and flushes), then starts it again as before.
    pub fn restart(self) -> Self {
        let Self { server, api, tls, repo, ca, args, dir, env } = self;
        assert_eq!(server.terminate(), Some(0), "serve exits cleanly on SIGTERM");
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = Server::start_env(&a, &dir, &e);
        server.wait_for("drift detector watching");
        Self { server, api, tls, repo, ca, args, dir, env }
    }

    /// The kubeconfig `serve` was given: the fake's, whose user is the admin.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Waits for `serve` to exit after a SIGKILL sent elsewhere (nothing drained, nothing
    /// flushed), then starts it again as before and waits until it decides reviews.
    pub fn restart_after_kill(self) -> Self {
        let Self { server, api, tls, repo, ca, args, dir, env } = self;
        let _ = Command::new("kill").args(["-KILL", &server.pid().to_string()]).status();
        let _ = server.wait_exit();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = Server::start_env(&a, &dir, &e);
        server.wait_for("desired state loaded");
        Self { server, api, tls, repo, ca, args, dir, env }
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.server.port)
    }

    /// GETs `path` over TLS as the kubeconfig's admin; the status and the JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(Some(ADMIN_TOKEN), path)
    }

    /// GETs `path` over TLS with `token` (or none); the status and the JSON body.
    pub fn get_as(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let a = self.request_as(token, path);
        (a.status, serde_json::from_slice(&a.body).unwrap_or(Value::Null))
    }

    /// GETs `path` over TLS with `token` (or none); the whole answer.
    pub fn request_as(&self, token: Option<&str>, path: &str) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        super::https::request_with(&self.tls, self.server.port, "GET", path, b"", &headers).unwrap()
    }

    /// POSTs an AdmissionReview to `/validate`, with extra headers.
    pub fn review(&self, review: &Value, headers: &[(&str, &str)]) -> Answer {
        let body = serde_json::to_vec(review).unwrap();
        super::https::request_with(&self.tls, self.server.port, "POST", "/validate", &body, headers).unwrap()
    }

    /// The source `shop` in the status API.
    pub fn source(&self) -> Value {
        self.get("/api/v1/sources/shop").1
    }

    /// The status of the source's resource of `kind`.
    pub fn resource(&self, kind: &str) -> Value {
        let s = self.source();
        s["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["key"]["kind"] == kind)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Polls until `check` holds; the time it took.
    pub fn until(&self, what: &str, limit: Duration, check: impl Fn(&Self) -> bool) -> Duration {
        let start = Instant::now();
        while !check(self) {
            assert!(start.elapsed() < limit, "{what}: not within {limit:?}: {}", self.source());
            std::thread::sleep(Duration::from_millis(10));
        }
        start.elapsed()
    }

    /// The audit events of type `kind` that `serve` wrote to stdout.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.server
            .events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

/// How to start.
#[derive(Default)]
pub struct Setup<'a> {
    /// More manifests for the Git source, besides the Deployment and the ConfigMap.
    pub extra: &'a [&'a str],
    /// YAML appended to the config file.
    pub config: &'a str,
    /// More `serve` flags.
    pub args: &'a [&'a str],
    /// Environment variables of `serve`.
    pub env: &'a [(&'a str, &'a str)],
}

/// A Git source `shop` (polled every 200 ms) holding the workload plus `extra`, the fake
/// holding the workload as Git says, and `serve` watching it.
pub fn start(tmp: &Path, extra: &[&str], before: impl FnOnce(&FakeApiServer)) -> Running {
    start_with(tmp, extra, "", &[], before)
}

/// `start`, with more config (YAML appended to the config file) and more `serve` flags.
pub fn start_with(
    tmp: &Path,
    extra: &[&str],
    config_extra: &str,
    args_extra: &[&str],
    before: impl FnOnce(&FakeApiServer),
) -> Running {
    launch(tmp, &Setup { extra, config: config_extra, args: args_extra, env: &[] }, before)
}

/// `start` with everything configurable.
pub fn launch(tmp: &Path, setup: &Setup<'_>, before: impl FnOnce(&FakeApiServer)) -> Running {
    let repo = super::git::init(tmp, "gitops");
    let mut files = vec![("apps/web.yaml", DEPLOYMENT), ("apps/config.yaml", CONFIGMAP)];
    let names: Vec<String> = (0..setup.extra.len()).map(|i| format!("apps/extra-{i}.yaml")).collect();
    for (n, e) in names.iter().zip(setup.extra) {
        files.push((n, e));
    }
    super::git::commit(&repo, &files, "workload");
    let config = tmp.join("driftgate.yaml");
    // the default stdout sink is listed unless the extra config brings its own audit section
    let audit = if setup.config.contains("audit:") { "" } else { "audit:\n  sinks:\n    - type: stdout\n" };
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: shop\n    path: apps\n    namespace: demo\n    git: {{url: {}, revision: main, interval: 200ms}}\n{audit}{}",
            repo.display(),
            setup.config
        ),
    )
    .unwrap();
    let api = FakeApiServer::start();
    api.set_time("2026-11-28T01:09:42Z");
    api.put(yaml(DEPLOYMENT));
    api.put(yaml(CONFIGMAP));
    before(&api);
    let kubeconfig = api.kubeconfig(tmp);
    let ca = certs(tmp);
    let cache = tmp.join("cache");
    let (config_arg, kube_arg, cache_arg) = (
        format!("--config={}", config.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--cache-dir={}", cache.display()),
    );
    let mut args = vec![config_arg.as_str(), kube_arg.as_str(), cache_arg.as_str()];
    args.extend_from_slice(setup.args);
    let server = Server::start_env(&args, tmp, setup.env);
    server.wait_for("drift detector watching");
    let running = Running {
        server,
        api,
        tls: client(&[&ca]),
        repo,
        ca,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        dir: tmp.to_owned(),
        env: setup.env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    };
    running.until("first list", Duration::from_secs(10), |r| {
        let s = r.source();
        s["resources"].as_array().is_some_and(|all| {
            !all.is_empty() && all.iter().all(|x| x["reason"] != "waiting for the first list of its kind")
        })
    });
    running
}
