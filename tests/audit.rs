//! The audit stream end to end, through `driftgate serve`: the HTTP sink through an endpoint
//! outage and a restart, and through 503s, timeouts, refused connections, SIGTERM and SIGKILL;
//! answered denials durable in an `fsync: always` file across SIGKILL; the live SSE stream with
//! 100 readers and `driftgate events`, and Secret values kept out of every sink (stdout, file,
//! HTTP, Kubernetes Events, the stream, traces).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::collector::{AuditReceiver, Collector};
use support::serving::{Running, Setup, launch};
use support::workload::{HAND_PASSWORD, SECRET, image_edit_review, update_review, yaml};

const LEASE: &[&str] = &["--lease-namespace=demo", "--lease-duration=1"];

/// A client of the server's APIs, as the kubeconfig's admin.
fn https(r: &Running) -> reqwest::blocking::Client {
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert("authorization", format!("Bearer {}", support::serving::ADMIN_TOKEN).parse().unwrap());
    reqwest::blocking::Client::builder()
        .default_headers(auth)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&r.ca).unwrap()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Sends `n` hand edits (denied in enforce mode); their review uids.
fn deny(r: &Running, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let uid = format!("{prefix}-{i:03}");
            let a = r.review(&image_edit_review(&r.api, &uid, &format!("nginx:{i}")), &[]);
            assert_eq!(a.status, 200);
            uid
        })
        .collect()
}

fn metric(r: &Running, line_start: &str) -> Option<f64> {
    let a = support::https::request(&r.tls, r.server.port, "GET", "/metrics", b"", "HTTP/1.1").unwrap();
    String::from_utf8(a.body).unwrap().lines().find(|l| l.starts_with(line_start))?.rsplit(' ').next()?.parse().ok()
}

#[test]
fn the_http_sink_loses_nothing_through_an_outage_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = AuditReceiver::start(true);
    let config = format!(
        "audit:\n  sinks:\n    - {{type: http, url: \"{}\", spoolDir: {}, batchSize: 7}}\n    - {{type: file, path: {}, fsync: always}}\n",
        receiver.url(),
        tmp.path().join("spool").display(),
        tmp.path().join("audit.jsonl").display()
    );
    let r = launch(tmp.path(), &Setup { config: &config, ..Setup::default() }, |_| {});
    let mut sent = deny(&r, "before", 20);
    let start = Instant::now();
    while receiver.refused() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "the sink never tried the endpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sink = format!("driftgate_audit_sink_backlog_events{{sink=\"http:{}\"}}", receiver.url());
    assert!(metric(&r, &sink).unwrap() >= 20.0, "the spool holds the events");

    // a restart while the endpoint is down: the spool survives it
    let r = r.restart();
    sent.extend(deny(&r, "after", 10));
    std::thread::sleep(Duration::from_millis(300));
    assert!(receiver.events().is_empty());
    receiver.set_failing(false);
    let want: BTreeSet<String> = sent.iter().cloned().collect();
    let admissions = |events: &[Value]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| e["type"] == "dev.driftgate.admission.denied")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    receiver.until("every event delivered", Duration::from_secs(30), |events| admissions(events) == want);
    // the file sink has them all too, once each, across the restart
    let text = std::fs::read_to_string(tmp.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(admissions(&lines), want);
    assert_eq!(lines.iter().filter(|e| e["type"] == "dev.driftgate.admission.denied").count(), 30);
    let dropped = format!("driftgate_audit_sink_dropped_events_total{{sink=\"http:{}\"}}", receiver.url());
    assert_eq!(metric(&r, &dropped), Some(0.0));
    let start = Instant::now();
    while metric(&r, &sink) != Some(0.0) {
        assert!(start.elapsed() < Duration::from_secs(5), "backlog drains to 0");
        std::thread::sleep(Duration::from_millis(50));
    }
    // every event carries the core fields
    let e = receiver.events().into_iter().find(|e| e["type"] == "dev.driftgate.admission.denied").unwrap();
    assert_eq!(
        e["data"]["actor"],
        json!({"username": "alice", "groups": ["developers", "system:authenticated"], "fieldManager": "kubectl-edit"})
    );
    assert_eq!(e["data"]["paths"], json!(["spec.template.spec.containers[name=web].image"]));
    assert_eq!(e["data"]["source"], "shop");
    assert_eq!(e["data"]["revision"], "main");
    assert_eq!(e["data"]["commit"].as_str().map(str::len), Some(40));
    assert_eq!(e["data"]["traceId"].as_str().map(str::len), Some(32));
    assert_eq!(e["data"]["dryRun"], false);
}

/// Reads one SSE stream until `want` events arrived or 30 s passed; the ids and types seen.
fn read_stream(resp: reqwest::blocking::Response, want: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let (mut id, mut kind) = (String::new(), String::new());
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in BufReader::new(resp).lines() {
        let Ok(line) = line else { break };
        if let Some(v) = line.strip_prefix("id: ") {
            v.clone_into(&mut id);
        } else if let Some(v) = line.strip_prefix("event: ") {
            v.clone_into(&mut kind);
        } else if line.starts_with("data: ") {
            seen.push((std::mem::take(&mut id), std::mem::take(&mut kind)));
            if seen.len() >= want || Instant::now() > deadline {
                break;
            }
        }
    }
    seen
}

#[test]
fn the_live_stream_serves_100_readers_and_driftgate_events_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let r = launch(tmp.path(), &Setup::default(), |_| {});
    let client = https(&r);
    let url = format!("{}/api/v1/events", r.url());
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let resp = client.get(format!("{url}?type=admission")).send().unwrap();
            assert_eq!(resp.status(), 200);
            std::thread::spawn(move || read_stream(resp, 20))
        })
        .collect();
    let start = Instant::now();
    while metric(&r, "driftgate_audit_stream_readers").unwrap_or(0.0) < 100.0 {
        assert!(start.elapsed() < Duration::from_secs(10), "readers never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = deny(&r, "sse", 20);
    for reader in readers {
        let seen = reader.join().unwrap();
        let ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, sent, "every reader gets every event, in order");
        assert!(seen.iter().all(|(_, t)| t == "dev.driftgate.admission.denied"));
    }
    // filters: a reader of heal events and of ConfigMaps gets none of these (only the recent ones replayed)
    for query in ["type=heal&follow=false", "kind=ConfigMap&follow=false", "source=other&follow=false"] {
        let resp = client.get(format!("{url}?{query}")).send().unwrap();
        assert!(read_stream(resp, 1).is_empty(), "{query}");
    }
    let resp = client.get(format!("{url}?kind=deployment&type=admission.denied&follow=false")).send().unwrap();
    assert_eq!(read_stream(resp, 100).len(), 20);

    // `driftgate events` prints the recent ones and exits
    let out = Command::new(support::bin())
        .args(["events", "--server", &r.url(), "--ca"])
        .arg(&r.ca)
        .arg("--kubeconfig")
        .arg(r.kubeconfig())
        .args(["--type", "admission", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), sent);
    // and with --follow it keeps printing new events as they happen
    let mut follow = Command::new(support::bin())
        .args(["events", "--follow", "--source", "shop", "-o", "json", "--server", &r.url(), "--ca"])
        .arg(&r.ca)
        .arg("--kubeconfig")
        .arg(r.kubeconfig())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains("\"id\":\"followed-000\""))
    });
    std::thread::sleep(Duration::from_millis(500));
    deny(&r, "followed", 1);
    let start = Instant::now();
    while !reader.is_finished() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let printed = reader.is_finished();
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(printed && reader.join().unwrap(), "--follow printed the new event");

    // on SIGTERM, open streams end so the server's graceful shutdown does not wait on them
    let resp = client.get(&url).send().unwrap();
    let reader = std::thread::spawn(move || read_stream(resp, usize::MAX).len());
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    assert_eq!(r.server.terminate(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(5), "shutdown took {:?}", start.elapsed());
    assert!(reader.join().unwrap() >= 21, "the recent events, then the end of the stream");
}

#[test]
fn secret_values_reach_no_sink() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = AuditReceiver::start(false);
    let collector = Collector::http();
    let config = format!(
        "admission: {{mode: warn}}\nselfHeal:\n  enabled: true\naudit:\n  sinks:\n    - type: stdout\n    - {{type: file, path: {}}}\n    - {{type: http, url: \"{}\", spoolDir: {}}}\n    - {{type: kubernetesEvents, qps: 50, burst: 100}}\n",
        tmp.path().join("audit.jsonl").display(),
        receiver.url(),
        tmp.path().join("spool").display(),
    );
    let owned = collector.http_env();
    let env = support::collector::env(&owned);
    let r = launch(tmp.path(), &Setup { extra: &[SECRET], config: &config, args: LEASE, env: &env }, |api| {
        api.put(yaml(SECRET));
    });
    r.server.wait_for("acquired the self-heal lease");
    // alice edits the password: warned at admission, then drift, then healed
    let old = r.api.get("Secret", Some("demo"), "db").unwrap();
    let mut new = old.clone();
    new["data"]["password"] = json!(HAND_PASSWORD.1);
    let a = r.review(&update_review("secret-edit", &old, &new, "alice", "kubectl-edit"), &[]);
    let answer: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(answer["response"]["allowed"], true, "warn mode admits: {answer}");
    r.api.write(new, "kubectl-edit");
    r.until("healed", Duration::from_secs(5), |r| !r.events("dev.driftgate.heal.applied").is_empty());
    receiver.until("heal delivered", Duration::from_secs(10), |events| {
        events.iter().any(|e| e["type"] == "dev.driftgate.heal.applied")
    });
    let start = Instant::now();
    let kube_events = loop {
        let list: Vec<Value> = r.api.list("Event", Some("demo"));
        if list.iter().any(|e| e["reason"] == "Healed") || start.elapsed() > Duration::from_secs(10) {
            break list;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let sse = {
        let resp = https(&r).get(format!("{}/api/v1/events?follow=false", r.url())).send().unwrap();
        resp.text().unwrap()
    };
    collector.wait_for("heal span", Duration::from_secs(10), |s| s.name == "heal");

    // what every sink holds names the path and the people, never a value
    let warned = &r.events("dev.driftgate.admission.warned")[0];
    assert_eq!(warned["data"]["paths"], json!(["data.password"]));
    let detected = &r.events("dev.driftgate.drift.detected")[0];
    assert_eq!(detected["data"]["actor"]["username"], "alice", "the drift names who let it in: {detected}");
    let healed = &r.events("dev.driftgate.heal.applied")[0];
    assert_eq!(healed["data"]["actor"]["username"], "alice");
    let regarding = |reason: &str| kube_events.iter().find(|e| e["reason"] == reason).map(|e| e["regarding"].clone());
    let uid = r.api.get("Secret", Some("demo"), "db").unwrap()["metadata"]["uid"].clone();
    for reason in ["UnauthorizedChange", "DriftDetected", "Healed"] {
        let reg = regarding(reason).unwrap_or_else(|| panic!("no {reason} Event: {kube_events:?}"));
        assert_eq!((reg["kind"].as_str(), reg["name"].as_str(), &reg["uid"]), (Some("Secret"), Some("db"), &uid));
    }
    let spans = format!("{:?}", collector.spans());
    let stdout = r.server.events.lock().unwrap().join("\n");
    let stderr = r.server.log.lock().unwrap().join("\n");
    let file = std::fs::read_to_string(tmp.path().join("audit.jsonl")).unwrap();
    let kube = serde_json::to_string(&kube_events).unwrap();
    for (sink, text) in [
        ("stdout", &stdout),
        ("file", &file),
        ("http", &receiver.raw()),
        ("kubernetesEvents", &kube),
        ("the live stream", &sse),
        ("traces", &spans),
        ("logs", &stderr),
    ] {
        assert!(!text.is_empty(), "{sink} is empty");
        for secret in [HAND_PASSWORD.0, HAND_PASSWORD.1, "git-password", "Z2l0LXBhc3N3b3Jk"] {
            assert!(!text.contains(secret), "{sink} holds the Secret value {secret:?}");
        }
    }
}

#[test]
fn source_loads_are_measured_and_a_failed_render_is_an_event() {
    let tmp = tempfile::tempdir().unwrap();
    let r = launch(tmp.path(), &Setup::default(), |_| {});
    let synced = &r.events("dev.driftgate.source.synced")[0];
    assert_eq!((synced["data"]["action"].as_str(), synced["data"]["source"].as_str()), (Some("synced"), Some("shop")));
    assert_eq!(synced["data"]["commit"].as_str().map(str::len), Some(40));
    // a broken manifest reaches Git: the last good state stays, and the failure is reported
    support::git::commit(&r.repo, &[("apps/broken.yaml", "kind: [unclosed\n")], "broken");
    r.until("source.failed", Duration::from_secs(10), |r| !r.events("dev.driftgate.source.failed").is_empty());
    let failed = &r.events("dev.driftgate.source.failed")[0];
    assert_eq!(failed["data"]["stage"], "render");
    assert!(failed["data"]["error"].as_str().unwrap().contains("broken.yaml"), "{failed}");
    assert_eq!(metric(&r, "driftgate_source_failures_total{source=\"shop\",stage=\"render\"}"), Some(1.0));
    assert!(metric(&r, "driftgate_git_fetch_duration_seconds_count{source=\"shop\"}").unwrap() >= 2.0);
    assert!(metric(&r, "driftgate_render_duration_seconds_count{source=\"shop\"}").unwrap() >= 1.0);
    assert_eq!(metric(&r, "driftgate_audit_events_total{event_type=\"dev.driftgate.source.failed\"}"), Some(1.0));
}

/// Review bodies of `n` hand edits of the web Deployment (each denied in enforce mode), by uid.
fn edits(r: &Running, prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let uid = format!("{prefix}-{i:04}");
            let review = image_edit_review(&r.api, &uid, &format!("nginx:{i}"));
            (uid, serde_json::to_vec(&review).unwrap())
        })
        .collect()
}

/// POSTs `reviews` from `threads` keep-alive clients until all are sent or the server is gone;
/// the uids the client got a denial for. With `kill_after`, the server gets SIGKILL once that
/// many were answered, while the others are in flight.
fn stream(r: &Running, reviews: &[(String, Vec<u8>)], threads: usize, kill_after: Option<usize>) -> BTreeSet<String> {
    let url = format!("{}/validate", r.url());
    let next = AtomicUsize::new(0);
    let answered = AtomicUsize::new(0);
    let denied = Mutex::new(BTreeSet::new());
    let clients: Vec<_> = (0..threads).map(|_| https(r)).collect();
    std::thread::scope(|s| {
        for client in &clients {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((uid, body)) = reviews.get(i) else { break };
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .and_then(reqwest::blocking::Response::bytes);
                    let Ok(answer) = sent else { break }; // the server is gone
                    let answer: Value = serde_json::from_slice(&answer).unwrap();
                    if answer["response"]["allowed"] == false {
                        denied.lock().unwrap().insert(uid.clone());
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        if let Some(k) = kill_after {
            let start = Instant::now();
            while answered.load(Ordering::SeqCst) < k && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = Command::new("kill").args(["-KILL", &r.server.pid().to_string()]).status();
        }
    });
    denied.into_inner().unwrap()
}

/// The ids of the admission denials in a JSON-lines audit file; every line must parse.
fn denials_in(path: &std::path::Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .map(|(n, l)| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("line {}: {e}: {l:?}", n + 1)))
        .filter(|e| e["type"] == "dev.driftgate.admission.denied")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_answered_denial_is_in_the_fsynced_file_after_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("audit.jsonl");
    let config = format!("audit:\n  sinks:\n    - {{type: file, path: {}, fsync: always}}\n", file.display());
    let mut r = launch(tmp.path(), &Setup { config: &config, ..Setup::default() }, |_| {});
    r.server.wait_for("desired state loaded");
    // the race is between the answer and the write: several rounds, each killed mid-stream
    for round in 0..3 {
        let reviews = edits(&r, &format!("round{round}"), 200);
        let answered = stream(&r, &reviews, 4, Some(100));
        assert!(answered.len() >= 100, "round {round}: only {} answered before the kill", answered.len());
        // the restart comes after the exit, and appends: the file holds what the killed one wrote
        r = r.restart_after_kill();
        let written = denials_in(&file);
        let missing: Vec<_> = answered.difference(&written).collect();
        assert!(missing.is_empty(), "round {round}: {} answered denials missing: {missing:?}", missing.len());
    }
}

/// What the flaky endpoint does with a POST.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Phase {
    /// 503 at once.
    Unavailable,
    /// 503 after 1.5 s: the sink's timeout (500 ms) ends the POST first.
    Slow,
    /// Nothing listens: connections are refused.
    Down,
    /// 202, taking the events.
    Up,
}

#[derive(Default)]
struct Flaky {
    phase: AtomicU8,
    stop: AtomicBool,
    /// POSTs seen in each phase.
    posts: [AtomicUsize; 4],
    ids: Mutex<BTreeSet<String>>,
}

impl Flaky {
    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Unavailable,
            1 => Phase::Slow,
            2 => Phase::Down,
            _ => Phase::Up,
        }
    }
}

/// An audit endpoint on 127.0.0.1 that fails in each [`Phase`] on demand, on one port throughout:
/// while Down its listener is closed, and it binds the port again when it comes back.
struct FlakyEndpoint {
    port: u16,
    flaky: Arc<Flaky>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FlakyEndpoint {
    fn start(phase: Phase) -> Self {
        use axum::extract::State;
        use axum::http::StatusCode;

        async fn take(State(f): State<Arc<Flaky>>, body: axum::body::Bytes) -> StatusCode {
            let phase = f.phase();
            f.posts[phase as usize].fetch_add(1, Ordering::SeqCst);
            match phase {
                Phase::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                Phase::Slow => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    StatusCode::SERVICE_UNAVAILABLE
                }
                // a request on a connection opened before the listener closed is still served
                Phase::Down | Phase::Up => {
                    let batch: Vec<Value> = serde_json::from_slice(&body).unwrap();
                    let mut ids = f.ids.lock().unwrap();
                    ids.extend(batch.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
                    StatusCode::ACCEPTED
                }
            }
        }

        let port = support::https::free_port();
        let flaky = Arc::new(Flaky::default());
        flaky.phase.store(phase as u8, Ordering::SeqCst);
        let f = Arc::clone(&flaky);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                while !f.stop.load(Ordering::SeqCst) {
                    let listener = match f.phase() {
                        Phase::Down => None,
                        _ => tokio::net::TcpListener::bind(("127.0.0.1", port)).await.ok(),
                    };
                    let Some(listener) = listener else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let app =
                        axum::Router::new().route("/events", axum::routing::post(take)).with_state(Arc::clone(&f));
                    let g = Arc::clone(&f);
                    let down = async move {
                        while g.phase() != Phase::Down && !g.stop.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    axum::serve(listener, app).with_graceful_shutdown(down).await.unwrap();
                }
            });
        });
        Self { port, flaky, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/events", self.port)
    }

    fn set(&self, phase: Phase) {
        self.flaky.phase.store(phase as u8, Ordering::SeqCst);
    }

    fn posts(&self, phase: Phase) -> usize {
        self.flaky.posts[phase as usize].load(Ordering::SeqCst)
    }

    /// Waits (at most 20 s) until the sink has POSTed in `phase`.
    fn tried_in(&self, phase: Phase) {
        let start = Instant::now();
        while self.posts(phase) == 0 {
            assert!(start.elapsed() < Duration::from_secs(20), "the sink never POSTed while {phase:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ids(&self) -> BTreeSet<String> {
        self.flaky.ids.lock().unwrap().clone()
    }
}

impl Drop for FlakyEndpoint {
    fn drop(&mut self) {
        self.flaky.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn the_http_sink_delivers_every_event_through_503s_timeouts_refusals_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = FlakyEndpoint::start(Phase::Unavailable);
    let config = format!(
        "audit:\n  sinks:\n    - {{type: http, url: \"{}\", spoolDir: {}, batchSize: 50, timeout: 500ms}}\n",
        endpoint.url(),
        tmp.path().join("spool").display()
    );
    let mut r = launch(tmp.path(), &Setup { config: &config, ..Setup::default() }, |_| {});
    r.server.wait_for("desired state loaded");
    let mut sent = BTreeSet::new();
    sent.extend(stream(&r, &edits(&r, "unavailable", 800), 4, None));
    endpoint.tried_in(Phase::Unavailable);
    endpoint.set(Phase::Slow);
    sent.extend(stream(&r, &edits(&r, "slow", 400), 4, None));
    endpoint.tried_in(Phase::Slow);
    endpoint.set(Phase::Down);
    sent.extend(stream(&r, &edits(&r, "down", 600), 4, None));
    // SIGTERM while the endpoint is down, then SIGKILL in the middle of a stream
    r = r.restart();
    r.server.wait_for("desired state loaded");
    sent.extend(stream(&r, &edits(&r, "killed", 800), 4, Some(400)));
    r = r.restart_after_kill();
    sent.extend(stream(&r, &edits(&r, "after", 400), 4, None));
    assert!(sent.len() >= 2600, "{} denials answered", sent.len());
    endpoint.set(Phase::Up);
    let start = Instant::now();
    loop {
        let missing = sent.difference(&endpoint.ids()).count();
        if missing == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{missing} of {} answered denials never arrived",
            sent.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = endpoint.url();
    assert_eq!(metric(&r, &format!("driftgate_audit_sink_dropped_events_total{{sink=\"http:{url}\"}}")), Some(0.0));
    let backlog = format!("driftgate_audit_sink_backlog_events{{sink=\"http:{url}\"}}");
    let start = Instant::now();
    while metric(&r, &backlog) != Some(0.0) {
        assert!(start.elapsed() < Duration::from_secs(10), "backlog drains to 0: {:?}", metric(&r, &backlog));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "a measurement: cargo test --release --test audit denial_throughput -- --ignored --nocapture"]
fn denial_throughput() {
    let n: usize = std::env::var("DRIFTGATE_BENCH_REVIEWS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    for fsync in ["always", "batch"] {
        let tmp = tempfile::tempdir().unwrap();
        let config = format!(
            "audit:\n  sinks:\n    - {{type: file, path: {}, fsync: {fsync}}}\n",
            tmp.path().join("audit.jsonl").display()
        );
        let r = launch(tmp.path(), &Setup { config: &config, ..Setup::default() }, |_| {});
        r.server.wait_for("desired state loaded");
        stream(&r, &edits(&r, "warm", 200), 4, None);
        for threads in [1, 4, 16, 64] {
            let reviews = edits(&r, &format!("k{threads}"), n);
            let start = Instant::now();
            let denied = stream(&r, &reviews, threads, None);
            let took = start.elapsed();
            assert_eq!(denied.len(), n);
            #[allow(clippy::cast_precision_loss)]
            let rate = n as f64 / took.as_secs_f64();
            eprintln!("fsync: {fsync:6} {threads:3} clients: {n} denials in {took:.2?}: {rate:.0} reviews/s");
        }
    }
}
