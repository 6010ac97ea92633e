//! The audit stream end to end, through `driftgate serve`: the HTTP sink through an endpoint
//! outage and a restart, the live SSE stream with 100 readers and `driftgate events`, and Secret
//! values kept out of every sink (stdout, file, HTTP, Kubernetes Events, the stream, traces).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
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
