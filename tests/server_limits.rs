//! Issue 14: the server under attack and at shutdown. Idle and stalled clients, bodies near the
//! API server's own limit, client-chosen metric labels, the worst review shapes, and SIGTERM
//! under keep-alive load. Loopback only; every load is bounded in count and time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::https::{KeepAlive, Server, certs, client, request};

use support::https::{serve_guestbook as started, tls_stream as tls_to};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn metric(cfg: &Arc<rustls::ClientConfig>, port: u16, name: &str) -> String {
    let text = String::from_utf8(request(cfg, port, "GET", "/metrics", b"", "HTTP/1.1").unwrap().body).unwrap();
    text.lines().filter(|l| l.starts_with(name)).collect::<Vec<_>>().join("\n")
}

/// Raises this process's soft limit of open files to its hard limit (no privilege needed), so
/// that the test and the server it starts can hold 2,300 connections on a machine whose default
/// soft limit is 1,024. The server inherits it.
fn raise_open_files_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard =
        limits.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(4)).unwrap();
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), &format!("--nofile={hard}:{hard}")])
        .status()
        .unwrap();
    assert!(status.success(), "prlimit could not raise the open files limit to {hard}");
}

/// 2,000 idle TLS connections and 300 uploads stalled half-way leave every legitimate review
/// answered, with the server's memory bounded; the stalled uploads are cut off with 408.
#[test]
fn idle_and_stalled_clients_leave_reviews_answered() {
    raise_open_files_limit();
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &["--request-timeout=60", "--body-timeout=4"]);
    let before = rss_kib(server.pid());
    let idle: Vec<_> = (0..2000).map(|_| tls_to(&cfg, server.port)).collect();
    let mut stalled: Vec<_> = (0..300)
        .map(|_| {
            let mut t = tls_to(&cfg, server.port);
            t.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2900000\r\n\r\n{\"apiVersion\":").unwrap();
            t.flush().unwrap();
            t
        })
        .collect();
    let body = serde_json::to_vec(&support::review("005")).unwrap();
    let mut answered = 0;
    for _ in 0..50 {
        let a = request(&cfg, server.port, "POST", "/validate", &body, "HTTP/1.1").unwrap();
        let json: Value = serde_json::from_slice(&a.body).unwrap();
        if a.status == 200 && json["response"]["allowed"] == false {
            answered += 1;
        }
    }
    assert_eq!(answered, 50, "every legitimate review is answered while 2,300 clients hold connections");
    let rss = rss_kib(server.pid());
    assert!(rss < 200 * 1024, "RSS {rss} KiB (was {before} KiB before the clients came)");
    let open = metric(&cfg, server.port, "driftgate_server_connections");
    assert!(open.contains("driftgate_server_connections 23"), "{open}");

    // the stalled uploads run out of time: 408, with a JSON error, and the connection closed
    std::thread::sleep(Duration::from_secs(4));
    let mut timed_out = 0;
    for t in &mut stalled {
        let mut raw = Vec::new();
        let _ = std::io::Read::read_to_end(t, &mut raw);
        let text = String::from_utf8_lossy(&raw);
        if text.starts_with("HTTP/1.1 408") && text.contains("\"error\"") {
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, 300);
    drop(idle);
    eprintln!("RSS {before} KiB before, {rss} KiB with 2,000 idle connections and 300 stalled uploads");
}

/// Idle keep-alive connections are closed after `--request-timeout`, like connections that
/// never send a request, and connections over `--max-connections` are closed at once.
#[test]
fn idle_connections_are_reclaimed_and_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &["--request-timeout=1", "--max-connections=20"]);
    let mut kept = KeepAlive::connect(&cfg, server.port).unwrap();
    assert_eq!(kept.send("GET", "/healthz", b"").unwrap().0, 200);
    let start = Instant::now();
    assert!(kept.closed_within(Duration::from_secs(5)), "an idle keep-alive connection is closed");
    assert!(start.elapsed() < Duration::from_secs(3), "after about --request-timeout: {:?}", start.elapsed());

    let held: Vec<_> = (0..20).map(|_| KeepAlive::connect(&cfg, server.port).unwrap()).collect();
    assert!(KeepAlive::connect(&cfg, server.port).is_err(), "the 21st connection is closed at once");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let refused = metric(&cfg, server.port, "driftgate_server_refused_total{reason=\"connections\"}");
    assert!(refused.ends_with(" 1"), "{refused}");
}

/// A review near the API server's own limits is decided (objects of about 2.9 MiB, new and old),
/// and a body over the limit gets 413 with a JSON error.
#[test]
fn reviews_as_large_as_the_api_server_sends_are_decided() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &[]);
    let mut review = support::review("007");
    // 1.8 MB of text that JSON escaping grows to 3 MB, in the new object and the old one
    let big: String = "x\"\n".repeat(600_000);
    review["request"]["object"]["data"]["BIG"] = json!(big);
    review["request"]["oldObject"]["data"]["BIG"] = json!(big);
    let body = serde_json::to_vec(&review).unwrap();
    assert!(body.len() > 5 * 1024 * 1024, "{}", body.len());
    let a = request(&cfg, server.port, "POST", "/validate", &body, "HTTP/1.1").unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let json: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(json["response"]["allowed"], false, "a hand edit of a managed ConfigMap");

    // refused from its Content-Length, before the body is read
    let mut t = tls_to(&cfg, server.port);
    t.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9437184\r\n\r\n").unwrap();
    t.flush().unwrap();
    let mut raw = Vec::new();
    let _ = std::io::Read::read_to_end(&mut t, &mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"error\"") && text.contains("8388608 bytes"), "{text}");
}

/// `operation` and `kind` come from the request: label values are bounded to the operations
/// the API defines and the kinds the sources declare.
#[test]
fn metric_labels_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &[]);
    for i in 0..100 {
        let mut review = support::review("012");
        review["request"]["kind"]["kind"] = json!(format!("Invented{i}{}", "K".repeat(1000)));
        review["request"]["operation"] = json!(format!("OP{i}"));
        let a = request(&cfg, server.port, "POST", "/validate", &serde_json::to_vec(&review).unwrap(), "HTTP/1.1");
        assert_eq!(a.unwrap().status, 200);
    }
    let body = serde_json::to_vec(&support::review("005")).unwrap();
    assert_eq!(request(&cfg, server.port, "POST", "/validate", &body, "HTTP/1.1").unwrap().status, 200);
    let lines = metric(&cfg, server.port, "driftgate_admission_requests_total");
    assert!(!lines.contains("Invented"), "{lines}");
    assert!(!lines.contains("OP1"), "{lines}");
    assert!(lines.contains("kind=\"other\""), "{lines}");
    assert!(lines.contains("kind=\"Deployment\""), "a declared kind keeps its name: {lines}");
    assert!(lines.lines().count() <= 4, "{lines}");
}

/// The 30,000-port review (the shape that took 19 s) is decided quickly, and its denial names
/// the first paths and counts the rest instead of listing 30,000.
#[test]
fn the_worst_review_shape_is_decided_quickly_with_a_short_message() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &[]);
    let mut review = support::review("005");
    review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["ports"] =
        (0..30_000).map(|i| json!({"containerPort": 10_000 + i, "protocol": "TCP"})).collect();
    let body = serde_json::to_vec(&review).unwrap();
    let start = Instant::now();
    let a = request(&cfg, server.port, "POST", "/validate", &body, "HTTP/1.1").unwrap();
    let took = start.elapsed();
    let json: Value = serde_json::from_slice(&a.body).unwrap();
    let message = json["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("and 29992 more paths"), "{message}");
    assert!(message.len() < 2048, "{} bytes", message.len());
    // an unoptimised test build; the release figure is in docs/performance.md (benches/admission.rs)
    assert!(took < Duration::from_secs(3), "{took:?}");
    let violation = json["response"]["auditAnnotations"]["driftgate.dev/violation"].as_str().unwrap();
    assert!(violation.len() < 2048, "{violation}");
}

/// SIGTERM under keep-alive load: readiness fails first, every response then says
/// `Connection: close`, and no request a client sent before it saw readiness fail goes
/// unanswered. The process exits by itself.
#[test]
fn sigterm_under_keep_alive_load_loses_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, cfg) = started(tmp.path(), &["--drain-delay=2"]);
    let body = Arc::new(serde_json::to_vec(&support::review("005")).unwrap());
    let removed = Arc::new(AtomicBool::new(false));
    let (sent, failed, closes) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (cfg, body, removed) = (Arc::clone(&cfg), Arc::clone(&body), Arc::clone(&removed));
            let (sent, failed, closes, port) =
                (Arc::clone(&sent), Arc::clone(&failed), Arc::clone(&closes), server.port);
            std::thread::spawn(move || {
                let mut conn = KeepAlive::connect(&cfg, port).unwrap();
                // like an endpoint list: once this replica is not ready, send it nothing new
                while !removed.load(Ordering::Acquire) {
                    if conn.closing {
                        closes.fetch_add(1, Ordering::Relaxed);
                        match KeepAlive::connect(&cfg, port) {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    if !matches!(conn.send("POST", "/validate", &body), Ok((200, _))) {
                        failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let at = sent.load(Ordering::Relaxed);
    std::process::Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    // the endpoints controller: readiness polled until it fails
    let deadline = Instant::now() + Duration::from_secs(10);
    while request(&cfg, server.port, "GET", "/readyz", b"", "HTTP/1.1").is_ok_and(|a| a.status == 200) {
        assert!(Instant::now() < deadline, "readiness never failed");
        std::thread::sleep(Duration::from_millis(20));
    }
    removed.store(true, Ordering::Release);
    // during the drain delay a request is still answered, and asks its client to close
    let mut late = KeepAlive::connect(&cfg, server.port).unwrap();
    assert_eq!(late.send("POST", "/validate", &body).unwrap().0, 200);
    assert!(late.closing, "a draining response says Connection: close");
    for w in workers {
        w.join().unwrap();
    }
    assert!(sent.load(Ordering::Relaxed) > at, "load ran through the shutdown");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "of {} requests", sent.load(Ordering::Relaxed));
    eprintln!(
        "{} requests, {} reconnections after Connection: close",
        sent.load(Ordering::Relaxed),
        closes.load(Ordering::Relaxed)
    );
    assert_eq!(server.wait_exit(), Some(0));
}

/// A source that never loads does not keep the process alive after SIGTERM.
#[test]
fn sigterm_exits_even_while_a_source_never_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = certs(tmp.path());
    let silent = support::git::Silent::start();
    let config = tmp.path().join("never.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n- name: app\n  path: app\n  git: {{url: \"git://127.0.0.1:{}/never\", revision: main}}\n",
            silent.port
        ),
    )
    .unwrap();
    let server = Server::start(&[&format!("--config={}", config.display()), "--git-timeout=600"], tmp.path());
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    assert_eq!(server.terminate(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
}

/// A review that cannot be decided within half the webhook timeout is answered as
/// `failurePolicy` says, in time, and health checks are answered meanwhile.
#[test]
fn a_decision_over_its_budget_is_answered_in_time() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = certs(tmp.path());
    let config = tmp.path().join("tight.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: guestbook\n    path: {}\n    namespace: demo\nadmission:\n  mode: enforce\n  webhook: {{timeoutSeconds: 1}}\n",
            support::fixtures().join("guestbook-git").display()
        ),
    )
    .unwrap();
    let server = Server::start(&[&format!("--config={}", config.display())], tmp.path());
    server.wait_for("desired state loaded");
    let cfg = client(&[&ca]);
    let mut review = support::review("005");
    let containers = &mut review["request"]["object"]["spec"]["template"]["spec"]["containers"];
    containers[0]["ports"] = (0..100_000).map(|i| json!({"containerPort": 10_000 + i, "protocol": "TCP"})).collect();
    let body = serde_json::to_vec(&review).unwrap();
    let port = server.port;
    let health = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let status = request(&cfg, port, "GET", "/healthz", b"", "HTTP/1.1").unwrap().status;
        (status, start.elapsed())
    });
    let cfg = client(&[&ca]);
    let start = Instant::now();
    let a = request(&cfg, port, "POST", "/validate", &body, "HTTP/1.1").unwrap();
    let took = start.elapsed();
    let json: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(json["response"]["allowed"], false, "failurePolicy closed: {json}");
    assert_eq!(json["response"]["status"]["code"], 503);
    let message = json["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("could not be decided within 500ms"), "{message}");
    // the budget runs from the request's arrival; sending 4.5 MB through this unoptimised
    // build's TLS adds the rest
    assert!(took < Duration::from_secs(2), "answered about when the budget ran out: {took:?}");
    let (status, health_took) = health.join().unwrap();
    assert_eq!(status, 200);
    assert!(health_took < Duration::from_millis(300), "health checks are not held up: {health_took:?}");
}
