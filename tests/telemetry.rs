//! Traces, received by in-process OTLP collectors that decode the protobuf: an incoming W3C
//! `traceparent` is honoured, and a drift's story is one chain of links, from the heal to the
//! drift detection to the admission that let the change in (warn mode). Both transports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::collector::{Collector, env};
use support::https::{Server, free_port, request_with};
use support::serving::{Setup, launch};
use support::workload::{edit_image, image_edit_review};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[test]
fn one_trace_leads_from_the_heal_to_the_drift_to_the_admission() {
    let tmp = tempfile::tempdir().unwrap();
    let collector = Collector::http();
    let mut owned = collector.http_env();
    owned.push(("OTEL_SERVICE_NAME", "driftgate-test".into()));
    let env = env(&owned);
    let config = "admission: {mode: warn}\nselfHeal: {enabled: true}\n";
    let args = &["--lease-namespace=demo", "--lease-duration=1"];
    let r = launch(tmp.path(), &Setup { config, args, env: &env, ..Setup::default() }, |_| {});
    r.server.wait_for("acquired the self-heal lease");

    // alice's edit is admitted with a warning, under the caller's trace
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let a = r.review(&image_edit_review(&r.api, "warned-edit", "nginx:1.26"), &[("traceparent", &traceparent)]);
    assert_eq!(a.status, 200);
    edit_image(&r.api, "nginx:1.26");
    r.until("healed", Duration::from_secs(5), |r| !r.events("dev.driftgate.heal.applied").is_empty());

    let limit = Duration::from_secs(10);
    let admission = collector.wait_for("admission", limit, |s| s.name == "admission.review" && s.trace_id == TRACE);
    assert_eq!(admission.parent_span_id, PARENT, "the incoming traceparent is the parent");
    assert_eq!(admission.attr("verdict"), Some("warned"));
    assert_eq!(admission.attr("user"), Some("alice"));
    let drift = collector.wait_for("drift", limit, |s| s.name == "drift" && s.attr("event") == Some("drift.detected"));
    assert_eq!(drift.links, [(TRACE.to_owned(), admission.span_id.clone())], "drift links to the admission");
    let heal = collector.wait_for("heal", limit, |s| s.name == "heal");
    assert_eq!(heal.links, [(drift.trace_id.clone(), drift.span_id.clone())], "heal links to the drift");
    assert_eq!(heal.attr("action"), Some("revert"));
    // the other spans of the story
    for name in ["git.fetch", "render", "source.refresh", "drift.evaluate"] {
        collector.wait_for(name, limit, |s| s.name == name);
    }
    // and the audit events carry the same trace ids
    let warned = &r.events("dev.driftgate.admission.warned")[0];
    assert_eq!(warned["traceparent"], format!("00-{TRACE}-{}-01", admission.span_id));
    let detected = &r.events("dev.driftgate.drift.detected")[0];
    assert_eq!(detected["data"]["traceId"], drift.trace_id.as_str());
    let healed = &r.events("dev.driftgate.heal.applied")[0];
    assert_eq!(healed["data"]["traceId"], heal.trace_id.as_str());
    assert_eq!(healed["data"]["actor"]["username"], "alice", "the heal names whose change it reverted");
    // and the metrics count the verdict by operation and kind, and the heal by result
    let metrics = support::https::request(&r.tls, r.server.port, "GET", "/metrics", b"", "HTTP/1.1").unwrap();
    let metrics = String::from_utf8(metrics.body).unwrap();
    for line in [
        "driftgate_admission_requests_total{verdict=\"warned\",operation=\"UPDATE\",kind=\"Deployment\"} 1",
        "driftgate_heals_total{result=\"applied\"} 1",
        "driftgate_resources{source=\"shop\",status=\"Synced\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing: {metrics}");
    }
}

#[test]
fn spans_export_over_grpc_from_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let collector = Collector::grpc();
    let config = format!("telemetry: {{otlpEndpoint: \"{}\", otlpProtocol: grpc}}\n", collector.endpoint());
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let r = launch(tmp.path(), &Setup { config: &config, env: &env, ..Setup::default() }, |_| {});
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    r.review(&image_edit_review(&r.api, "denied-edit", "nginx:9"), &[("traceparent", &traceparent)]);
    let span = collector.wait_for("admission over gRPC", Duration::from_secs(10), |s| s.name == "admission.review");
    assert_eq!((span.trace_id.as_str(), span.parent_span_id.as_str()), (TRACE, PARENT));
    assert_eq!(span.attr("verdict"), Some("denied"));
}

#[test]
fn a_change_let_in_by_one_replica_is_attributed_by_the_replica_that_heals_it() {
    let tmp = tempfile::tempdir().unwrap();
    let collector = Collector::http();
    let owned = collector.http_env();
    let env = env(&owned);
    // the first replica holds the Lease and heals; it follows the second's audit stream
    let second_port = free_port();
    let peer = format!("--peer=https://localhost:{second_port}");
    let peer_ca = format!("--peer-ca={}", tmp.path().join("ca.crt").display());
    // the first replica reads the second's stream with a service account token, allowed by
    // deploy/rbac.yaml's driftgate-api-reader (get on events.driftgate.dev), nothing more
    let sa_token = tmp.path().join("sa-token");
    std::fs::write(&sa_token, "driftgate-sa-token\n").unwrap();
    let peer_token = format!("--peer-token-file={}", sa_token.display());
    let config = "admission: {mode: warn}\nselfHeal: {enabled: true}\n";
    let args = [
        "--lease-namespace=demo",
        "--lease-duration=1",
        "--identity=first",
        peer.as_str(),
        peer_ca.as_str(),
        peer_token.as_str(),
    ];
    let r = launch(tmp.path(), &Setup { config, args: &args, env: &env, ..Setup::default() }, |api| {
        let sa = "system:serviceaccount:driftgate-system:driftgate";
        api.add_token("driftgate-sa-token", sa, &["system:serviceaccounts", "system:serviceaccounts:driftgate-system"]);
        api.grant(support::apiserver::Subject::User(sa.into()), "driftgate.dev", "events", "get", &[]);
    });
    r.server.wait_for("acquired the self-heal lease");
    let second_dir = tmp.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    for f in ["tls.crt", "tls.key"] {
        std::fs::copy(tmp.path().join(f), second_dir.join(f)).unwrap();
    }
    let second = Server::start_on(
        second_port,
        &[
            &format!("--config={}", tmp.path().join("driftgate.yaml").display()),
            &format!("--kubeconfig={}", tmp.path().join("kubeconfig").display()),
            &format!("--cache-dir={}", tmp.path().join("cache2").display()),
            "--lease-namespace=demo",
            "--lease-duration=1",
            "--identity=second",
        ],
        &second_dir,
        &env,
    );
    second.wait_for("desired state loaded");
    let readers = || {
        let a = support::https::request(&r.tls, second_port, "GET", "/metrics", b"", "HTTP/1.1").unwrap();
        String::from_utf8(a.body).unwrap().lines().any(|l| l == "driftgate_audit_stream_readers 1")
    };
    let start = std::time::Instant::now();
    while !readers() {
        assert!(start.elapsed() < Duration::from_secs(10), "the first replica never followed the second");
        std::thread::sleep(Duration::from_millis(50));
    }

    // alice's edit goes through the second replica's webhook; the first one heals it
    let body = serde_json::to_vec(&image_edit_review(&r.api, "via-second", "nginx:1.26")).unwrap();
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let a = request_with(&r.tls, second_port, "POST", "/validate", &body, &[("traceparent", &traceparent)]).unwrap();
    assert_eq!(a.status, 200);
    std::thread::sleep(Duration::from_millis(300));
    edit_image(&r.api, "nginx:1.26");
    r.until("healed", Duration::from_secs(5), |r| !r.events("dev.driftgate.heal.applied").is_empty());
    let healed = &r.events("dev.driftgate.heal.applied")[0];
    assert_eq!(healed["data"]["actor"]["username"], "alice", "{healed}");
    let detected = &r.events("dev.driftgate.drift.detected")[0];
    assert_eq!(detected["data"]["actor"]["username"], "alice");
    let limit = Duration::from_secs(10);
    let admission = collector.wait_for("admission", limit, |s| s.name == "admission.review" && s.trace_id == TRACE);
    // both replicas detect the drift; the heal links to the healer's own detection, which links
    // to the admission the other replica decided
    let heal = collector.wait_for("heal", limit, |s| s.name == "heal");
    let (_, drift_span) = heal.links.first().cloned().expect("the heal links to its drift");
    let drift = collector.wait_for("the heal's drift", limit, |s| s.name == "drift" && s.span_id == drift_span);
    assert_eq!(drift.links, [(TRACE.to_owned(), admission.span_id.clone())], "and the drift to the admission");
}
