//! Credentials never leave driftgate (issue 14, finding 7). Git sources whose URLs carry a
//! planted token in their userinfo (and, for the broken ones, in the query), a source reading its
//! token from `tokenFile`, and an audit endpoint with a password in its URL: `serve`, `diff`,
//! `status`, `watch` and `render` run against them, and no output channel (stdout, stderr, the
//! audit file, the HTTP sink, `/api/v1/events`, `/api/v1/sources`, `/metrics`, a denial from
//! `/validate`, Kubernetes Events, exported spans) holds any of the secrets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::apiserver::FakeApiServer;
use support::collector::{AuditReceiver, Collector};
use support::git::{HttpServer, Https, commit, init};
use support::https::{Server, certs, client, free_port, request, request_with};
use support::serving::ADMIN_TOKEN;
use support::workload::{CONFIGMAP, DEPLOYMENT, image_edit_review, yaml};

/// In the userinfo of the Git URLs (`user:PLANTED-TOKEN-123@`).
const URL_TOKEN: &str = "PLANTED-TOKEN-123";
/// In the `tokenFile` of the source `platform`.
const FILE_TOKEN: &str = "PLANTED-FILE-TOKEN-456";
/// In the query of the broken source's URL.
const QUERY_TOKEN: &str = "PLANTED-QUERY-TOKEN-789";
/// In the audit endpoint's URL.
const SINK_PASSWORD: &str = "PLANTED-SINK-PASSWORD";

const PLATFORM_CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: platform, namespace: demo}\ndata: {a: b}\n";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", driftgate::encoding::base64(format!("{user}:{password}").as_bytes()))
}

/// Every form a planted secret could take in an output: each token is `PLANTED-...`, so the
/// prefix covers them raw and percent-encoded; the Basic credentials cover them in base64.
fn forbidden() -> Vec<String> {
    let mut all = vec!["PLANTED".to_owned(), "planted".to_owned()];
    for (user, password) in [("user", URL_TOKEN), ("x-access-token", FILE_TOKEN), ("auditor", SINK_PASSWORD)] {
        all.push(basic(user, password).trim_start_matches("Basic ").to_owned());
        all.push(driftgate::encoding::base64(password.as_bytes()));
    }
    all
}

fn assert_clean(channel: &str, text: &str) {
    assert!(!text.trim().is_empty(), "{channel} is empty: nothing was checked");
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{channel} holds {secret:?}:\n{text}");
    }
}

/// Two repositories (`gitops` with the shared workload under `apps`, `platform` with a ConfigMap
/// under `base`), each behind its own `git http-backend` that demands its credentials, behind TLS.
struct Git {
    /// Demands `user:PLANTED-TOKEN-123`, the URL's userinfo.
    gitops: (HttpServer, Https),
    /// Demands `x-access-token:PLANTED-FILE-TOKEN-456`, the tokenFile's token.
    platform: (HttpServer, Https),
    ca: PathBuf,
}

impl Git {
    fn start(tmp: &Path) -> Self {
        let root = tmp.join("git");
        let gitops = init(&root, "gitops");
        commit(&gitops, &[("apps/web.yaml", DEPLOYMENT), ("apps/config.yaml", CONFIGMAP)], "workload");
        let platform = init(&root, "platform");
        commit(&platform, &[("base/cm.yaml", PLATFORM_CM)], "platform");
        let by_url = HttpServer::start_with_auth(&root, Some(basic("user", URL_TOKEN)));
        let by_url_tls = Https::start(by_url.port);
        let by_file = HttpServer::start_with_auth(&root, Some(basic("x-access-token", FILE_TOKEN)));
        let by_file_tls = Https::start(by_file.port);
        let ca = tmp.join("git-ca.pem");
        // one CA file trusted for both terminators
        std::fs::write(&ca, format!("{}{}", by_url_tls.ca_pem, by_file_tls.ca_pem)).unwrap();
        std::fs::write(tmp.join("git-token"), format!("{FILE_TOKEN}\n")).unwrap();
        Self { gitops: (by_url, by_url_tls), platform: (by_file, by_file_tls), ca }
    }

    /// The gitops URL with the token in its userinfo.
    fn gitops_url(&self) -> String {
        format!("https://user:{URL_TOKEN}@127.0.0.1:{}/gitops", self.gitops.1.port)
    }

    /// How the gitops URL is shown.
    fn gitops_shown(&self) -> String {
        format!("https://***@127.0.0.1:{}/gitops", self.gitops.1.port)
    }

    /// The config's `sources:` entries: `shop` (token in the URL) and `platform` (tokenFile).
    fn sources(&self, tmp: &Path) -> String {
        format!(
            "  - name: shop\n    path: apps\n    namespace: demo\n    git: {{url: \"{}\", revision: main, interval: 200ms}}\n  - name: platform\n    path: base\n    namespace: demo\n    git: {{url: \"https://127.0.0.1:{}/platform\", revision: main, interval: 200ms, tokenFile: {}}}\n",
            self.gitops_url(),
            self.platform.1.port,
            tmp.join("git-token").display()
        )
    }
}

/// A source that never loads: nothing listens, and its URL has secrets in the userinfo and query.
fn broken_url(port: u16) -> String {
    format!("https://user:{URL_TOKEN}@127.0.0.1:{port}/gitops.git?private_token={QUERY_TOKEN}&ref=main")
}

fn run(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(support::bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Polls (at most `limit`) until `check` holds.
fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_cli_shows_repositories_without_their_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let git = Git::start(tmp.path());
    let cfg = tmp.path().join("driftgate.yaml");
    let port = free_port();
    let broken = broken_url(port);
    std::fs::write(
        &cfg,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n{}  - name: broken\n    path: apps\n    git: {{url: \"{broken}\", revision: main}}\n",
            git.sources(tmp.path())
        ),
    )
    .unwrap();
    let only_good = tmp.path().join("good.yaml");
    std::fs::write(
        &only_good,
        format!("apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n{}", git.sources(tmp.path())),
    )
    .unwrap();
    let live = tmp.path().join("live.yaml");
    std::fs::write(&live, format!("{DEPLOYMENT}---\n{CONFIGMAP}")).unwrap();
    let api = FakeApiServer::start();
    api.put(yaml(DEPLOYMENT));
    api.put(yaml(CONFIGMAP));
    let kubeconfig = api.kubeconfig(tmp.path());
    let cache = tmp.path().join("cache");
    let (cfg_s, good_s, live_s, kc_s, cache_s) = (
        cfg.display().to_string(),
        only_good.display().to_string(),
        live.display().to_string(),
        kubeconfig.display().to_string(),
        format!("--cache-dir={}", cache.display()),
    );
    let env: &[(&str, &Path)] = &[("SSL_CERT_FILE", &git.ca)];
    let check = |name: &str, out: &Output, code: i32, shown: &str| {
        let (stdout, stderr) = text(out);
        assert_eq!(out.status.code(), Some(code), "{name}: {stdout}\n{stderr}");
        let both = format!("{stdout}\n{stderr}");
        assert!(both.contains(shown), "{name} shows {shown:?}: {both}");
        assert_clean(name, &both);
    };

    let out = run(&["watch", "--once", "--config", &cfg_s, &cache_s], env);
    check("watch --once", &out, 2, "\"event\":\"synced\"");
    let failed =
        text(&out).0.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|e| e["source"] == "broken");
    let error = failed.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with(&format!("https://***@127.0.0.1:{port}/gitops.git?private_token=***&ref=main: fetch failed")),
        "the error names the repository, masked: {error}"
    );

    for format in ["json", "text"] {
        let out =
            run(&["diff", "--config", &good_s, "--source", "shop", "--live", &live_s, "-o", format, &cache_s], env);
        check(&format!("diff -o {format}"), &out, 0, &git.gitops_shown());
    }
    let out = run(&["diff", "--config", &cfg_s, "--live", &live_s, &cache_s], env);
    check("diff with a broken source", &out, 2, "https://***@127.0.0.1:");

    let out = run(&["status", "--config", &good_s, "--kubeconfig", &kc_s, "-o", "json", &cache_s], env);
    check("status -o json", &out, 0, &git.gitops_shown());
    let out = run(&["status", "--config", &cfg_s, "--kubeconfig", &kc_s, &cache_s], env);
    check("status with a broken source", &out, 2, "https://***@127.0.0.1:");

    let url = git.gitops_url();
    let out = run(&["render", "apps", "--repo", &url, "--revision", "main", &cache_s], env);
    check("render --repo", &out, 0, &format!("rendered apps from {} at main", git.gitops_shown()));
    let out = run(&["render", "apps", "--repo", &broken, "--revision", "main", &cache_s, "--git-timeout", "5"], env);
    check("render --repo broken", &out, 2, "private_token=***");

    // the mirrors are named by a hash of the URL, and gix keeps the URL out of their config
    let mut files = vec![cache];
    let mut mirrored = String::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            mirrored.push_str(&p.display().to_string());
            mirrored.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    assert_clean("the Git cache", &mirrored);
}

#[test]
fn serve_writes_no_credentials_to_any_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let git = Git::start(tmp.path());
    let receiver = AuditReceiver::start(false);
    let sink_url = receiver.url().replacen("http://", &format!("http://auditor:{SINK_PASSWORD}@"), 1);
    let dead_sink = format!("http://auditor:{SINK_PASSWORD}@127.0.0.1:{}/events", free_port());
    let audit_file = tmp.path().join("audit.jsonl");
    let config = tmp.path().join("driftgate.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n{}admission: {{mode: enforce}}\naudit:\n  sinks:\n    - type: stdout\n    - {{type: file, path: {}}}\n    - {{type: http, url: \"{sink_url}\", spoolDir: {}}}\n    - {{type: http, url: \"{dead_sink}\", spoolDir: {}}}\n    - {{type: kubernetesEvents, qps: 50, burst: 100}}\n",
            git.sources(tmp.path()),
            audit_file.display(),
            tmp.path().join("spool").display(),
            tmp.path().join("dead-spool").display(),
        ),
    )
    .unwrap();
    let api = FakeApiServer::start();
    api.set_time("2026-11-28T01:09:42Z");
    api.put(yaml(DEPLOYMENT));
    api.put(yaml(CONFIGMAP));
    let kubeconfig = api.kubeconfig(tmp.path());
    let ca = certs(tmp.path());
    let cache = tmp.path().join("cache");
    let collector = Collector::http();
    let mut env: Vec<(&str, String)> = collector.http_env();
    env.push(("SSL_CERT_FILE", git.ca.display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        format!("--config={}", config.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--cache-dir={}", cache.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_env(&args, tmp.path(), &env);
    server.wait_for("desired state loaded");
    let tls = client(&[&ca]);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let get = |path: &str| {
        let a = request_with(&tls, server.port, "GET", path, b"", &[("Authorization", auth.as_str())]).unwrap();
        assert_eq!(a.status, 200, "GET {path}");
        String::from_utf8(a.body).unwrap()
    };
    let sources = get("/api/v1/sources");
    assert!(sources.contains(&git.gitops_shown()), "the repository is shown, masked: {sources}");

    // alice edits the image: denied, and the message names the repository without the token
    let body = serde_json::to_vec(&image_edit_review(&api, "alice-edit", "nginx:hand")).unwrap();
    let denial = request_with(&tls, server.port, "POST", "/validate", &body, &[]).unwrap();
    let denial = String::from_utf8(denial.body).unwrap();
    let answer: Value = serde_json::from_str(&denial).unwrap();
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("(path apps in {} at main, commit ", git.gitops_shown())), "{message}");
    until("the ChangeDenied Event", Duration::from_secs(10), || {
        api.list("Event", Some("demo")).iter().any(|e| e["reason"] == "ChangeDenied")
    });

    // Git goes away: fetch errors quote the URL as gix and reqwest saw it, token included
    let shown = git.gitops_shown();
    drop(git);
    let failed = |server: &Server| {
        server.events.lock().unwrap().iter().filter(|l| l.contains("dev.driftgate.source.failed")).count()
    };
    until("both sources failed", Duration::from_secs(20), || failed(&server) >= 2);
    let sources = get("/api/v1/sources");
    let status: Value = serde_json::from_str(&sources).unwrap();
    let error = status.to_string();
    assert!(error.contains(&format!("{shown}: fetch failed")), "the error names the repository, masked: {sources}");
    receiver.until("source.failed delivered", Duration::from_secs(10), |events| {
        events.iter().filter(|e| e["type"] == "dev.driftgate.source.failed").count() >= 2
    });
    until("the dead sink's delivery failure is logged", Duration::from_secs(10), || {
        server.log.lock().unwrap().iter().any(|l| l.contains("audit delivery failed"))
    });
    collector.wait_for("a git.fetch span", Duration::from_secs(10), |s| s.name == "git.fetch");
    let fetch_span =
        collector.spans().into_iter().find(|s| s.name == "git.fetch" && s.attr("repo") == Some(shown.as_str()));
    assert!(fetch_span.is_some(), "the span names the repository, masked");

    let events = get("/api/v1/events?follow=false");
    let metrics =
        String::from_utf8(request(&tls, server.port, "GET", "/metrics", b"", "HTTP/1.1").unwrap().body).unwrap();
    assert!(metrics.contains("sink=\"http:http://***@127.0.0.1:"), "sink labels are masked");
    let status_as = |format: &str| {
        let server_url = format!("https://localhost:{}", server.port);
        let ca = ca.display().to_string();
        run(&["status", "--server", &server_url, "--ca", &ca, "--token", ADMIN_TOKEN, "-o", format], &[])
    };
    let cli_status = status_as("wide");
    let cli_json = status_as("json");
    let kube = serde_json::to_string(&api.list("Event", Some("demo"))).unwrap();
    let stdout = server.events.lock().unwrap().join("\n");
    let stderr = server.log.lock().unwrap().join("\n");
    assert!(stderr.contains(&format!("{shown}: fetch failed")), "the log names the repository, masked");
    let file = std::fs::read_to_string(&audit_file).unwrap();
    let spans = format!("{:?}", collector.spans());
    let (status_wide, status_json) = (text(&cli_status), text(&cli_json));
    assert!(status_json.0.contains(&shown), "{status_json:?}");
    for (channel, text) in [
        ("stdout (audit)", &stdout),
        ("stderr (log)", &stderr),
        ("the audit file", &file),
        ("the http sink", &receiver.raw()),
        ("/api/v1/events", &events),
        ("/api/v1/sources", &sources),
        ("/metrics", &metrics),
        ("the denial", &denial),
        ("Kubernetes Events", &kube),
        ("spans", &spans),
        ("status -o wide", &format!("{}{}", status_wide.0, status_wide.1)),
        ("status -o json", &format!("{}{}", status_json.0, status_json.1)),
    ] {
        assert_clean(channel, text);
    }
    drop(server);
}
