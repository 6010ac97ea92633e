//! Access to the HTTP APIs, the Kubernetes way, through `driftgate serve` and the fake API
//! server's TokenReviews and SubjectAccessReviews: no token is 401, a user without the
//! permission 403 naming both, a reader 200; answers are cached; `/metrics` can be put behind
//! the same check; `server.auth: none` opens everything and no cluster means 503; and
//! `driftgate status --server` and `driftgate events` send the kubeconfig user's token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::apiserver::{FakeApiServer, Subject};
use support::https::{Server, certs, client, request_with};
use support::serving::{ADMIN_TOKEN, Running, Setup, launch};

const TOKEN_REVIEWS: &str = "POST /apis/authentication.k8s.io/v1/tokenreviews";
const ACCESS_REVIEWS: &str = "POST /apis/authorization.k8s.io/v1/subjectaccessreviews";

/// alice may do nothing; bob may read the source `shop` only; reader reads sources and events;
/// carol's group `sre` reads events.
fn people(api: &FakeApiServer) {
    api.add_token("alice-token", "alice", &["dev"]);
    api.add_token("bob-token", "bob", &[]);
    api.add_token("reader-token", "reader", &[]);
    api.add_token("carol-token", "carol", &["sre"]);
    api.add_token("dave-token", "dave", &[]);
    api.grant(Subject::User("bob".into()), "driftgate.dev", "sources", "get", &["shop"]);
    for resource in ["sources", "events"] {
        api.grant(Subject::User("reader".into()), "driftgate.dev", resource, "get", &[]);
    }
    api.grant(Subject::Group("sre".into()), "driftgate.dev", "events", "get", &[]);
    api.grant(Subject::User("dave".into()), "driftgate.dev", "sources", "get", &[]);
}

fn status(r: &Running, token: Option<&str>, path: &str) -> u16 {
    r.get_as(token, path).0
}

#[test]
fn the_apis_answer_only_readers_with_the_permission() {
    let tmp = tempfile::tempdir().unwrap();
    let r = launch(tmp.path(), &Setup::default(), people);
    let events = "/api/v1/events?follow=false";

    // no token, a bad one, or another scheme: 401 with the challenge
    for path in ["/api/v1/sources", "/api/v1/sources/shop", events] {
        let a = r.request_as(None, path);
        assert_eq!(a.status, 401, "{path}");
        assert_eq!(a.header("www-authenticate"), Some("Bearer"), "{path}: {}", a.head);
        let body: Value = serde_json::from_slice(&a.body).unwrap();
        assert!(body["error"].as_str().unwrap().contains("bearer token"), "{body}");
    }
    let a = r.request_as(Some("not-a-known-token"), "/api/v1/sources");
    assert_eq!((a.status, a.header("www-authenticate")), (401, Some("Bearer")));
    assert!(!String::from_utf8_lossy(&a.body).contains("not-a-known-token"), "never echoed");
    let basic = request_with(&r.tls, r.server.port, "GET", "/api/v1/sources", b"", &[("Authorization", "Basic YTpi")]);
    assert_eq!(basic.unwrap().status, 401);

    // authenticated without the permission: 403 naming the user and what is missing
    let (code, body) = r.get_as(Some("alice-token"), "/api/v1/sources/shop");
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["user"], "alice");
    assert_eq!(
        body["permission"],
        json!({"group": "driftgate.dev", "resource": "sources", "verb": "get", "name": "shop"})
    );
    assert_eq!(
        body["error"],
        "sources.driftgate.dev \"shop\" is forbidden: User \"alice\" cannot get resource \"sources\" in API group \"driftgate.dev\""
    );
    assert!(!body.to_string().contains("alice-token"));
    let (code, body) = r.get_as(Some("alice-token"), events);
    assert_eq!((code, &body["permission"]["resource"]), (403, &json!("events")), "{body}");

    // bob may read `shop` by name, not the list; carol's group reads events, not sources
    assert_eq!(status(&r, Some("bob-token"), "/api/v1/sources/shop"), 200);
    assert_eq!(status(&r, Some("bob-token"), "/api/v1/sources"), 403);
    assert_eq!(status(&r, Some("carol-token"), events), 200);
    assert_eq!(status(&r, Some("carol-token"), "/api/v1/sources"), 403);
    // a reader gets both; the stream's answer is the event stream
    let (code, list) = r.get_as(Some("reader-token"), "/api/v1/sources");
    assert_eq!((code, &list["sources"][0]["name"]), (200, &json!("shop")));
    let a = r.request_as(Some("reader-token"), events);
    assert_eq!((a.status, a.header("content-type")), (200, Some("text/event-stream")));
    // other paths under /api are checked too (as URLs), so nothing there is open by mistake
    assert_eq!(status(&r, None, "/api/v2/sources"), 401);
    assert_eq!(status(&r, Some("reader-token"), "/api/v2/sources"), 403);
    assert_eq!(status(&r, Some(ADMIN_TOKEN), "/api/v2/sources"), 404);
    // the probes and the metrics stay open
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(status(&r, None, path), 200, "{path}");
    }

    // answers are cached by the token's hash: one TokenReview and one SubjectAccessReview
    // for three reads, and a second path costs only its SubjectAccessReview
    let (tr, sar) = (r.api.count(TOKEN_REVIEWS), r.api.count(ACCESS_REVIEWS));
    for _ in 0..3 {
        assert_eq!(status(&r, Some("dave-token"), "/api/v1/sources"), 200);
    }
    assert_eq!((r.api.count(TOKEN_REVIEWS), r.api.count(ACCESS_REVIEWS)), (tr + 1, sar + 1));
    assert_eq!(status(&r, Some("dave-token"), "/api/v1/sources/shop"), 200);
    assert_eq!((r.api.count(TOKEN_REVIEWS), r.api.count(ACCESS_REVIEWS)), (tr + 1, sar + 2));
    // a revoked token still reads within the allowed TTL (10 s): the price of the cache
    r.api.revoke_token("dave-token");
    assert_eq!(status(&r, Some("dave-token"), "/api/v1/sources"), 200);
    // a refusal is remembered for less (2 s): a new grant works soon
    r.api.grant(Subject::User("alice".into()), "driftgate.dev", "sources", "get", &[]);
    assert_eq!(status(&r, Some("alice-token"), "/api/v1/sources/shop"), 403, "the refusal is still cached");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(status(&r, Some("alice-token"), "/api/v1/sources/shop"), 200);

    // when the reviews fail (driftgate without system:auth-delegator), 503 without details;
    // the log says why
    r.api.forbid("tokenreviews");
    let (code, body) = r.get_as(Some("carol-token-unseen"), "/api/v1/sources");
    assert_eq!(code, 503, "{body}");
    assert!(!body["error"].as_str().unwrap().contains("forbidden"), "{body}");
    r.server.wait_for("API access cannot be checked: create TokenReview");
}

#[test]
fn metrics_can_need_the_same_check() {
    let tmp = tempfile::tempdir().unwrap();
    let setup = Setup { config: "server: {metricsAuth: true}\n", ..Setup::default() };
    let r = launch(tmp.path(), &setup, |api| {
        people(api);
        api.add_token("prometheus-token", "system:serviceaccount:monitoring:prometheus", &[]);
        let prometheus = Subject::User("system:serviceaccount:monitoring:prometheus".into());
        api.grant(prometheus, "driftgate.dev", "metrics", "get", &[]);
    });
    let a = r.request_as(None, "/metrics");
    assert_eq!((a.status, a.header("www-authenticate")), (401, Some("Bearer")));
    let (code, body) = r.get_as(Some("reader-token"), "/metrics");
    assert_eq!(
        (code, &body["permission"]),
        (403, &json!({"group": "driftgate.dev", "resource": "metrics", "verb": "get"}))
    );
    let a = r.request_as(Some("prometheus-token"), "/metrics");
    assert_eq!(a.status, 200);
    assert!(String::from_utf8_lossy(&a.body).contains("# TYPE driftgate_"));
    assert_eq!(status(&r, None, "/healthz"), 200);
}

#[test]
fn auth_none_serves_anyone_and_without_a_cluster_the_apis_answer_503() {
    let tmp = tempfile::tempdir().unwrap();
    let r = launch(tmp.path(), &Setup { config: "server: {auth: none}\n", ..Setup::default() }, |_| {});
    r.server.wait_for("server.auth is none");
    assert_eq!(status(&r, None, "/api/v1/sources"), 200);
    assert_eq!(status(&r, None, "/api/v1/events?follow=false"), 200);
    assert_eq!(r.api.count(TOKEN_REVIEWS), 0);
    drop(r);

    // no cluster: nothing can check a token, so the APIs refuse rather than open
    let dir = tmp.path().join("alone");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = certs(&dir);
    let config = format!("--config={}", support::fixtures().join("configs/guestbook-enforce.yaml").display());
    let server = Server::start(&[&config], &dir);
    server.wait_for("without one, /api/v1 answers 503");
    let tls = client(&[&ca]);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let a = request_with(&tls, server.port, "GET", "/api/v1/sources", b"", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(a.status, 503);
    let body: Value = serde_json::from_slice(&a.body).unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("cannot authenticate API readers"), "{body}");
    assert_eq!(request_with(&tls, server.port, "GET", "/api/v1/sources", b"", &[]).unwrap().status, 401);
    assert_eq!(request_with(&tls, server.port, "GET", "/healthz", b"", &[]).unwrap().status, 200);
}

/// A kubeconfig for the fake whose user is `user` (YAML lines under `user:`).
fn kubeconfig(dir: &Path, name: &str, api: &FakeApiServer, user: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\ncurrent-context: fake\nusers:\n- name: u\n  user:\n{user}",
        api.url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn driftgate(r: &Running, args: &[&str], kubeconfig: &Path) -> (bool, String, String) {
    let out = Command::new(support::bin())
        .args(args)
        .args(["--server", &r.url(), "--ca"])
        .arg(&r.ca)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("DRIFTGATE_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_and_events_send_the_kubeconfig_users_token() {
    let tmp = tempfile::tempdir().unwrap();
    let r = launch(tmp.path(), &Setup::default(), people);
    let dir = tmp.path();

    // a token in the kubeconfig
    let reader = kubeconfig(dir, "reader.kubeconfig", &r.api, "    token: reader-token\n");
    let (ok, out, err) = driftgate(&r, &["status"], &reader);
    assert!(ok, "{err}");
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("shop")), "{out}");
    let (ok, _, err) = driftgate(&r, &["events", "--type", "source"], &reader);
    assert!(ok, "{err}");

    // an exec credential plugin, through kube's own auth machinery
    let exec = r#"    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: sh
      args: ["-c", "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"carol-token\"}}'"]
      interactiveMode: Never
"#;
    let plugin = kubeconfig(dir, "exec.kubeconfig", &r.api, exec);
    let (ok, _, err) = driftgate(&r, &["events", "-o", "json"], &plugin);
    assert!(ok, "carol's group reads events: {err}");
    let (ok, _, err) = driftgate(&r, &["status"], &plugin);
    assert!(
        !ok && err.contains("403") && err.contains("User \"carol\"") && err.contains("driftgate-api-reader"),
        "{err}"
    );

    // a user without a token (a client certificate, say): 401, and how to get in
    let nobody = kubeconfig(dir, "nobody.kubeconfig", &r.api, "    {}\n");
    let (ok, _, err) = driftgate(&r, &["status"], &nobody);
    assert!(!ok && err.contains("401") && err.contains("--token"), "{err}");

    // --token-file and --token override the kubeconfig
    let file = dir.join("bob.token");
    std::fs::write(&file, "bob-token\n").unwrap();
    let (ok, _, err) = driftgate(&r, &["status", "--source", "shop", "--token-file", file.to_str().unwrap()], &nobody);
    assert!(!ok && err.contains("User \"bob\"") && err.contains("\"sources\""), "bob may not list: {err}");
    let (ok, _, err) = driftgate(&r, &["status", "--token", "reader-token"], &nobody);
    assert!(ok, "{err}");
    let (ok, _, err) = driftgate(&r, &["events", "--token", "alice-token"], &reader);
    assert!(!ok && err.contains("403") && err.contains("User \"alice\""), "{err}");
}
