//! Git sources against real repositories, served on 127.0.0.1 by `git daemon` and by
//! `git http-backend`. Every server is bounded in time and stops when its test ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use driftgate::git::{self, GitError, Remote};
use driftgate::render;
use support::git::{Daemon, HttpServer, Silent, commit, git, init};

const TIMEOUT: Duration = Duration::from_secs(20);

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n")
}

fn kustomization() -> (&'static str, &'static str) {
    (
        "app/kustomization.yaml",
        "namespace: prod\nresources:\n- cm.yaml\nconfigMapGenerator:\n- name: gen\n  literals:\n  - A=1\n",
    )
}

/// Renders `path` of `url` at `revision`; returns the commit and the values of ConfigMap `cfg`.
fn render_at(url: &str, revision: &str, cache: &Path, path: &str) -> Result<(String, Vec<String>), GitError> {
    let checkout = git::checkout(&Remote { url: url.to_owned(), token: None }, revision, cache, TIMEOUT)?;
    checkout.require(Path::new(path))?;
    let manifests = render::render_in(&checkout, Path::new(path), None).unwrap();
    let values = manifests
        .iter()
        .filter(|m| m.key.name == "cfg")
        .map(|m| m.object["data"]["value"].as_str().unwrap().to_owned())
        .collect();
    Ok((checkout.commit(), values))
}

fn two_revision_repo(root: &Path) -> (std::path::PathBuf, String, String) {
    let repo = init(root, "gitops");
    let (k, kt) = kustomization();
    let first = commit(&repo, &[(k, kt), ("app/cm.yaml", &cm("cfg", "one"))], "first");
    git(&repo, &["tag", "v1"]);
    let second = commit(&repo, &[("app/cm.yaml", &cm("cfg", "two"))], "second");
    (repo, first, second)
}

#[test]
fn local_repository_two_revisions_render_two_results() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (repo, first, second) = two_revision_repo(tmp.path());
    let url = repo.to_string_lossy().into_owned();
    assert_eq!(render_at(&url, "v1", &cache, "app").unwrap(), (first.clone(), vec!["one".to_owned()]));
    assert_eq!(render_at(&url, "main", &cache, "app").unwrap(), (second.clone(), vec!["two".to_owned()]));
    assert_eq!(render_at(&url, &first[..10], &cache, "app").unwrap().1, ["one"]);
    let file_url = format!("file://{url}");
    assert_eq!(render_at(&file_url, "HEAD", &cache, "app").unwrap().0, second);
    assert!(!cache.exists(), "local repositories are read in place, not mirrored");
}

#[test]
fn git_daemon_two_revisions_and_a_force_push() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (repo, first, second) = two_revision_repo(tmp.path());
    let daemon = Daemon::start(tmp.path());
    let url = daemon.url("gitops");
    assert_eq!(render_at(&url, "v1", &cache, "app").unwrap(), (first.clone(), vec!["one".to_owned()]));
    assert_eq!(render_at(&url, "main", &cache, "app").unwrap(), (second.clone(), vec!["two".to_owned()]));
    assert_eq!(render_at(&url, "HEAD", &cache, "app").unwrap().0, second);

    // rewrite history: main now points at a commit that is not a descendant of `second`
    git(&repo, &["reset", "-q", "--hard", &first]);
    let rewritten = commit(&repo, &[("app/cm.yaml", &cm("cfg", "three"))], "rewritten");
    let (commit_now, values) = render_at(&url, "main", &cache, "app").unwrap();
    assert_eq!(commit_now, rewritten, "the force-pushed branch is followed");
    assert_eq!(values, ["three"]);
}

#[test]
fn http_backend_serves_the_same_revisions() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (_repo, first, second) = two_revision_repo(tmp.path());
    let server = HttpServer::start(tmp.path());
    let url = server.url("gitops");
    assert_eq!(render_at(&url, "v1", &cache, "app").unwrap(), (first, vec!["one".to_owned()]));
    assert_eq!(render_at(&url, "main", &cache, "app").unwrap(), (second, vec!["two".to_owned()]));
}

#[test]
fn missing_path_and_revision_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (repo, _, second) = two_revision_repo(tmp.path());
    let url = repo.to_string_lossy().into_owned();
    let err = render_at(&url, "main", &cache, "nope").unwrap_err().to_string();
    assert_eq!(err, format!("{url}: path \"nope\" does not exist at main (commit {second})"));
    let err = render_at(&url, "no-such-branch", &cache, "app").unwrap_err().to_string();
    assert!(err.starts_with(&format!("{url}: revision \"no-such-branch\" not found")), "{err}");
    let daemon = Daemon::start(tmp.path());
    let err = render_at(&daemon.url("no-such-repo"), "main", &cache, "app").unwrap_err().to_string();
    assert!(err.contains("no-such-repo: fetch failed"), "{err}");
}

#[test]
fn unreachable_servers_fail_within_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // nothing listens: refused at once
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = Instant::now();
    let r = git::checkout(
        &Remote { url: format!("git://127.0.0.1:{closed}/x"), token: None },
        "main",
        &cache,
        Duration::from_secs(5),
    );
    assert!(matches!(r, Err(GitError::Fetch { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // accepts and never answers: the timeout ends it
    let silent = Silent::start();
    let start = Instant::now();
    let limit = Duration::from_secs(2);
    for url in [format!("git://127.0.0.1:{}/x", silent.port), format!("http://127.0.0.1:{}/x", silent.port)] {
        let r = git::checkout(&Remote { url, token: None }, "main", &cache, limit);
        assert!(matches!(r, Err(GitError::Timeout { .. })), "{r:?}");
    }
    assert!(start.elapsed() < Duration::from_secs(8), "took {:?}", start.elapsed());
}

#[test]
fn cli_diff_reads_a_config_git_source_and_reports_the_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (_repo, _, second) = two_revision_repo(tmp.path());
    let cfg = tmp.path().join("driftgate.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n- name: app\n  path: app\n  git: {url: gitops, revision: main}\n",
    )
    .unwrap();
    let live = tmp.path().join("live.yaml");
    std::fs::write(&live, cm("cfg", "two").replace("name: cfg", "name: cfg\n  namespace: prod")).unwrap();
    let out = std::process::Command::new(support::bin())
        .args(["diff", "--config"])
        .arg(&cfg)
        .arg("--live")
        .arg(&live)
        .args(["-o", "json", "--cache-dir"])
        .arg(tmp.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sources"][0]["commit"], second.as_str());
    assert_eq!(report["summary"]["synced"], 1, "{report:#}");
    assert_eq!(report["summary"]["missing"], 1, "the generated ConfigMap is not live");
}

/// Waits (at most 15 s) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn polling_swaps_new_commits_and_keeps_the_last_good_state() {
    use driftgate::config::Config;
    use driftgate::desired::{self, Event, GitOptions, Store};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, second) = two_revision_repo(tmp.path());
    let daemon = Daemon::start(tmp.path());
    let text = format!(
        "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n- name: app\n  path: app\n  git: {{url: \"{}\", revision: main, interval: 200ms}}\n",
        daemon.url("gitops")
    );
    let config = Arc::new(Config::parse(&text, Path::new("driftgate.yaml")).unwrap());
    let options = GitOptions { cache_dir: tmp.path().join("cache"), timeout: TIMEOUT };
    let store = Arc::new(Store::new());
    let first = desired::refresh(&config, "app", &store, &options);
    assert!(
        matches!(&first, Some(Event::Synced { source, commit: Some(c), objects: 2, timings })
            if source == "app" && *c == second && timings.fetch.is_some()),
        "{first:?}"
    );
    assert_eq!(desired::refresh(&config, "app", &store, &options), None, "same commit: no change");

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let stop = Arc::new(AtomicBool::new(false));
    let poller = desired::spawn_poller(Arc::clone(&config), Arc::clone(&store), options, Arc::clone(&stop), move |e| {
        sink.lock().unwrap().push(e);
    })
    .unwrap();
    let value = |store: &Store| {
        let state = store.get();
        let src = &state.sources["app"];
        let cfg = src.objects.values().find(|m| m.key.name == "cfg").unwrap();
        (
            src.info.commit.clone().unwrap(),
            cfg.object()["data"]["value"].as_str().unwrap().to_owned(),
            src.error.clone(),
        )
    };

    // a new commit is swapped in
    let third = commit(&repo, &[("app/cm.yaml", &cm("cfg", "three"))], "third");
    eventually("the new commit", || value(&store).0 == third);
    assert_eq!(value(&store).1, "three");

    // a broken render keeps the last good objects and reports the error
    commit(&repo, &[("app/kustomization.yaml", "resources: [missing.yaml]\n")], "broken");
    eventually("the failure", || value(&store).2.is_some());
    let (commit_kept, kept, error) = value(&store);
    assert_eq!((commit_kept.as_str(), kept.as_str()), (third.as_str(), "three"));
    assert!(error.unwrap().contains("missing.yaml does not exist"));

    // and recovers on the next good commit
    let (k, kt) = kustomization();
    let fixed = commit(&repo, &[(k, kt), ("app/cm.yaml", &cm("cfg", "four"))], "fixed");
    eventually("the recovery", || value(&store).0 == fixed && value(&store).2.is_none());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.join().unwrap();
    let events = events.lock().unwrap();
    assert!(matches!(events.first(), Some(Event::Synced { .. })), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Failed { kept_commit: Some(c), .. } if *c == third)),
        "{events:?}"
    );
}

#[test]
fn cli_watch_once_prints_events() {
    let tmp = tempfile::tempdir().unwrap();
    let (_repo, _, second) = two_revision_repo(tmp.path());
    let cfg = tmp.path().join("driftgate.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n- name: app\n  path: app\n  git: {url: gitops, revision: main}\n- name: broken\n  path: nope\n  git: {url: gitops, revision: main}\n",
    )
    .unwrap();
    let out =
        std::process::Command::new(support::bin()).args(["watch", "--once", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["event"], "synced");
    assert_eq!(lines[0]["commit"], second.as_str());
    assert_eq!(lines[1]["event"], "failed");
    assert!(lines[1]["error"].as_str().unwrap().contains("path \"nope\" does not exist"), "{}", lines[1]);
}

#[test]
fn http_token_is_sent_as_basic_auth_and_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let (_repo, _, second) = two_revision_repo(tmp.path());
    let token = "not-a-real-token";
    let expected = format!("Basic {}", driftgate::encoding::base64(format!("x-access-token:{token}").as_bytes()));
    let server = HttpServer::start_with_auth(tmp.path(), Some(expected));
    let url = server.url("gitops");
    let with = git::checkout(&Remote { url: url.clone(), token: Some(token.into()) }, "main", &cache, TIMEOUT).unwrap();
    assert_eq!(with.commit(), second);
    let remote = Remote { url, token: Some(token.into()) };
    assert!(!format!("{remote:?}").contains(token), "tokens are redacted from Debug output");
    let other_cache = tmp.path().join("cache2");
    let without =
        git::checkout(&Remote { url: remote.url.clone(), token: None }, "main", &other_cache, Duration::from_secs(10));
    let err = without.unwrap_err().to_string();
    assert!(!err.contains(token), "{err}");
}

#[test]
fn https_with_rustls_and_a_private_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (_repo, _, second) = two_revision_repo(tmp.path());
    let http = HttpServer::start(tmp.path());
    let https = support::git::Https::start(http.port);
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &https.ca_pem).unwrap();
    let out = std::process::Command::new(support::bin())
        .args([
            "render",
            "app",
            "--repo",
            &https.url("gitops"),
            "--revision",
            "main",
            "--git-timeout",
            "20",
            "--cache-dir",
        ])
        .arg(tmp.path().join("cache"))
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("(commit {second})")), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("value: two"));
}
