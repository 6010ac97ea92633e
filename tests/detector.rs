//! The drift detector inside `serve`, against the in-process fake API server: drift in the
//! status within a second of a live edit, recovery from dropped and expired watches, kinds the
//! cluster does not serve or forbids, and re-evaluation on a new Git revision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::apiserver::FakeApiServer;
use support::https::{Server, request};
use support::serving::{Running, start, start_with};
use support::workload::{CONFIGMAP, DEPLOYMENT, SERVICE_MONITOR, edit_image, yaml};

#[test]
fn drift_shows_in_the_status_within_a_second_of_a_live_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[], |_| {});
    assert_eq!(r.source()["summary"]["synced"], 2);
    let (code, list) = r.get("/api/v1/sources");
    assert_eq!(code, 200);
    assert_eq!(list["sources"][0]["name"], "shop");
    assert!(list["sources"][0].get("resources").is_none(), "the list stays small");

    edit_image(&r.api, "nginx:1.26");
    let took = r.until("OutOfSync", Duration::from_secs(1), |r| r.resource("Deployment")["status"] == "OutOfSync");
    eprintln!("edit to status: {took:?}");
    let web = r.resource("Deployment");
    assert_eq!(web["differences"][0]["path"], "spec.template.spec.containers[name=web].image");
    assert_eq!(web["actors"][0]["manager"], "kubectl-edit");
    assert_eq!(web["actors"][0]["time"], "2026-11-28T01:09:42Z");

    // the audit stream names the actor; the gauges count it
    r.until("audit", Duration::from_secs(2), |r| !r.events("dev.driftgate.drift.detected").is_empty());
    let detected = &r.events("dev.driftgate.drift.detected")[0];
    assert_eq!(detected["data"]["actors"][0]["manager"], "kubectl-edit");
    assert_eq!(detected["data"]["status"], "OutOfSync");
    assert_eq!(detected["data"]["paths"][0], "spec.template.spec.containers[name=web].image");
    let metrics = request(&r.tls, r.server.port, "GET", "/metrics", b"", "HTTP/1.1").unwrap();
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("driftgate_resources{source=\"shop\",status=\"OutOfSync\"} 1"), "{text}");

    // put back as Git says: resolved
    let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25".into();
    r.api.write(live, "argocd-controller");
    r.until("Synced again", Duration::from_secs(1), |r| r.resource("Deployment")["status"] == "Synced");
    r.until("resolved", Duration::from_secs(2), |r| !r.events("dev.driftgate.drift.resolved").is_empty());
}

#[test]
fn a_dropped_watch_recovers_and_an_expired_one_relists() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[], |_| {});
    r.api.drop_watches();
    std::thread::sleep(Duration::from_millis(200));
    edit_image(&r.api, "nginx:1.26");
    r.until("after a dropped watch", Duration::from_secs(5), |r| r.resource("Deployment")["status"] == "OutOfSync");

    // a watch that comes back after the history it needs was compacted gets 410 Expired, and
    // the watcher lists again: the watch is kept away (403) while the change and compaction happen
    let lists = |api: &FakeApiServer| {
        api.requests()
            .iter()
            .filter(|q| q.starts_with("GET /api/v1/namespaces/demo/configmaps?") && !q.contains("watch"))
            .count()
    };
    r.api.forbid("configmaps");
    r.api.drop_watches();
    std::thread::sleep(Duration::from_millis(300));
    r.api.remove("ConfigMap", Some("demo"), "app-config");
    r.api.compact();
    let before = lists(&r.api);
    r.api.allow("configmaps");
    r.until("after 410", Duration::from_secs(10), |r| r.resource("ConfigMap")["status"] == "Missing");
    assert!(r.api.expired_watches() >= 1, "the watch came back from a compacted rv: {:#?}", r.api.requests());
    assert!(lists(&r.api) > before, "a re-list after 410: {:?}", r.api.requests());
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_reported_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[SERVICE_MONITOR], |_| {});
    let s = r.source();
    assert_eq!(s["summary"]["synced"], 2, "{s}");
    assert_eq!(s["summary"]["missing"], 1);
    assert_eq!(s["kinds"][0]["kind"], "ServiceMonitor");
    assert_eq!(s["kinds"][0]["state"], "Unserved");
    assert!(r.resource("ServiceMonitor")["reason"].as_str().unwrap().contains("does not serve"));
}

#[test]
fn a_403_on_one_kind_degrades_only_that_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[], |api| api.forbid("configmaps"));
    let s = r.source();
    assert_eq!((s["summary"]["synced"].as_u64(), s["summary"]["unknown"].as_u64()), (Some(1), Some(1)), "{s}");
    let cm = r.resource("ConfigMap");
    assert_eq!(cm["status"], "Unknown", "{cm}");
    assert!(cm["reason"].as_str().unwrap().contains("403"), "{cm}");
    assert_eq!(s["kinds"][0]["state"], "Failed");
    // the other kind is watched as usual
    edit_image(&r.api, "nginx:1.26");
    r.until("Deployment still watched", Duration::from_secs(1), |r| r.resource("Deployment")["status"] == "OutOfSync");
    // and the forbidden one recovers once allowed (the watcher backs off, then lists again)
    r.api.allow("configmaps");
    r.until("ConfigMap recovers", Duration::from_secs(15), |r| r.resource("ConfigMap")["status"] == "Synced");
}

/// Also findings 1 and 9 of issue 12: a start-up raises no alarm, and between a push and the
/// reconciler's sync nothing is drift and nobody is blamed, not even a person who edited the
/// field once before the reconciler re-applied it.
#[test]
fn a_new_git_revision_re_evaluates_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[], |_| {});
    assert!(r.events("dev.driftgate.drift.detected").is_empty(), "start-up raised an alarm");
    // alice edits the image; Argo CD puts it back
    edit_image(&r.api, "nginx:1.24");
    r.until("drift", Duration::from_secs(2), |r| !r.events("dev.driftgate.drift.detected").is_empty());
    edit_image(&r.api, "nginx:1.25");
    let mut back = r.api.get("Deployment", Some("demo"), "web").unwrap();
    back["metadata"].as_object_mut().unwrap().remove("managedFields");
    r.api.write(back, "argocd-controller");
    r.until("resolved", Duration::from_secs(2), |r| !r.events("dev.driftgate.drift.resolved").is_empty());
    let alarms = r.events("dev.driftgate.drift.detected").len();

    let first = r.source()["info"]["commit"].clone();
    let next = DEPLOYMENT.replace("nginx:1.25", "nginx:1.27");
    let config = CONFIGMAP.replace("production", "staging");
    support::git::commit(&r.repo, &[("apps/web.yaml", &next), ("apps/config.yaml", &config)], "bump");
    r.until("new revision", Duration::from_secs(5), |r| {
        let s = r.source();
        s["info"]["commit"] != first && s["summary"]["outOfSync"] == 2
    });
    let s = r.source();
    assert_eq!((s["summary"]["pendingSync"].as_u64(), s["summary"]["drift"].as_u64()), (Some(2), Some(0)), "{s}");
    assert_eq!(r.resource("Deployment")["cause"], "pendingSync");
    r.until("sync.pending", Duration::from_secs(2), |r| r.events("dev.driftgate.sync.pending").len() == 2);
    assert_eq!(r.events("dev.driftgate.drift.detected").len(), alarms, "a Git change is not drift");
    for e in r.events("dev.driftgate.sync.pending") {
        assert!(
            e["data"]["actor"]["username"].is_null() && e["data"]["actor"]["fieldManager"].is_null(),
            "nobody is blamed: {e}"
        );
    }
    // Git wins: applying the new revision's objects brings the source back to Synced
    r.api.put(yaml(&next));
    r.api.put(yaml(&config));
    r.until("synced at the new revision", Duration::from_secs(2), |r| r.source()["summary"]["synced"] == 2);
    r.until("sync.completed", Duration::from_secs(2), |r| r.events("dev.driftgate.sync.completed").len() == 2);
}

#[test]
fn status_reads_a_running_server_and_computes_once_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start(tmp.path(), &[], |_| {});
    edit_image(&r.api, "nginx:1.26");
    r.until("OutOfSync", Duration::from_secs(1), |r| r.resource("Deployment")["status"] == "OutOfSync");
    let ca = tmp.path().join("ca.crt");
    // the kubeconfig's token goes along: the status API wants a reader of sources
    let out = std::process::Command::new(support::bin())
        .args(["status", "-o", "wide", "--server", &format!("https://localhost:{}", r.server.port), "--ca"])
        .arg(&ca)
        .arg("--kubeconfig")
        .arg(r.kubeconfig())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SOURCE") && lines[0].contains("OUT-OF-SYNC"), "{text}");
    assert!(lines[1].starts_with("shop") && lines[1].contains("main@"), "{text}");
    let drifted = lines.iter().find(|l| l.contains("Deployment.apps demo/web")).unwrap_or_else(|| panic!("{text}"));
    assert!(drifted.contains("OutOfSync") && drifted.contains("kubectl-edit, 2026-11-28T01:09:42Z"), "{text}");
    assert!(drifted.contains("spec.template.spec.containers[name=web].image"), "{text}");

    // without a server: the same table, computed from the config and the cluster
    let config = tmp.path().join("driftgate.yaml");
    let kubeconfig = tmp.path().join("kubeconfig");
    let out = std::process::Command::new(support::bin())
        .args(["status", "-o", "wide", "--config"])
        .arg(&config)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(tmp.path().join("cache2"))
        .output()
        .unwrap();
    let once = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let drifted = once.lines().find(|l| l.contains("Deployment.apps demo/web")).unwrap_or_else(|| panic!("{once}"));
    assert!(drifted.contains("OutOfSync") && drifted.contains("kubectl-edit"), "{once}");
}

// ---- self-heal inside `serve` ----

const HEAL: &str =
    "selfHeal:\n  enabled: true\n  retry: {limit: 3, backoff: {duration: 200ms, factor: 2, maxDuration: 1s}}\n";
const LEASE: &[&str] = &["--lease-namespace=demo", "--lease-duration=1"];

fn image(r: &Running) -> String {
    let d = r.api.get("Deployment", Some("demo"), "web").unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_owned()
}

fn patches(r: &Running) -> usize {
    r.api.requests().iter().filter(|q| q.starts_with("PATCH /apis/apps/v1/namespaces/demo/deployments/web")).count()
}

#[test]
fn a_kubectl_edit_is_reverted_within_two_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start_with(tmp.path(), &[], HEAL, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26".into();
    live["spec"]["template"]["spec"]["containers"][0]["env"] = serde_json::json!([{"name": "DEBUG", "value": "1"}]);
    r.api.write(live, "kubectl-edit");
    let start = Instant::now();
    while image(&r) != "nginx:1.25" {
        assert!(start.elapsed() < Duration::from_secs(2), "not reverted within 2 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("edit to revert: {:?}", start.elapsed());
    let c = r.api.get("Deployment", Some("demo"), "web").unwrap()["spec"]["template"]["spec"]["containers"][0].clone();
    assert!(c.get("env").is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)), "the added env var is removed: {c}");
    r.until("heal.applied", Duration::from_secs(2), |r| !r.events("dev.driftgate.heal.applied").is_empty());
    let applied = &r.events("dev.driftgate.heal.applied")[0];
    assert_eq!(applied["data"]["actors"][0]["manager"], "kubectl-edit");
    assert_eq!(applied["data"]["calls"], 2, "one guarded patch, one apply");
    r.until("Synced", Duration::from_secs(2), |r| r.resource("Deployment")["status"] == "Synced");
}

#[test]
fn an_hpa_replicas_change_is_never_healed() {
    let tmp = tempfile::tempdir().unwrap();
    let rule = format!(
        "{HEAL}ignoreDifferences:\n  - group: apps\n    kind: Deployment\n    jsonPointers: [/spec/replicas]\n"
    );
    let r = start_with(tmp.path(), &[], &rule, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    for n in [3, 5, 4, 6, 7] {
        let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
        live["spec"]["replicas"] = n.into();
        r.api.write(live, "kube-controller-manager");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(r.api.get("Deployment", Some("demo"), "web").unwrap()["spec"]["replicas"], 7);
    assert_eq!(patches(&r), 0, "no heal touched the object");
    assert!(r.events("dev.driftgate.heal.applied").is_empty());
}

#[test]
fn a_deleted_object_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start_with(tmp.path(), &[], HEAL, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    r.api.remove("ConfigMap", Some("demo"), "app-config");
    let start = Instant::now();
    while r.api.get("ConfigMap", Some("demo"), "app-config").is_none() {
        assert!(start.elapsed() < Duration::from_secs(2), "not recreated within 2 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_conflict_is_retried_with_backoff_and_a_webhook_denial_is_reported_without_spinning() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start_with(tmp.path(), &[], HEAL, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    r.api.fail_writes("driftgate", Some(1), 409, "the object has been modified");
    edit_image(&r.api, "nginx:1.26");
    let start = Instant::now();
    while image(&r) != "nginx:1.25" {
        assert!(start.elapsed() < Duration::from_secs(3), "the conflict was not retried");
        std::thread::sleep(Duration::from_millis(10));
    }
    let failed = &r.events("dev.driftgate.heal.failed")[0];
    assert_eq!(failed["data"]["persistent"], false);
    assert!(failed["data"]["retryInSeconds"].as_f64().unwrap() > 0.0);

    // an admission webhook that denies driftgate: reported once per object version, never a hot loop
    r.api.fail_writes("driftgate", None, 403, "admission webhook \"policy.example.com\" denied the request: frozen");
    edit_image(&r.api, "nginx:1.27");
    r.until("denial reported", Duration::from_secs(3), |r| {
        r.events("dev.driftgate.heal.failed").iter().any(|e| e["data"]["persistent"] == true)
    });
    let before = patches(&r);
    std::thread::sleep(Duration::from_secs(2));
    assert!(patches(&r) <= before + 1, "no retries of a persistent failure: {} -> {}", before, patches(&r));
    assert_eq!(image(&r), "nginx:1.27");
}

/// A rogue controller puts its image back every time driftgate reverts it, until quarantine.
fn fight_until_quarantined(r: &Running) {
    let start = Instant::now();
    let mut fights = 0;
    let before = r.events("dev.driftgate.heal.quarantined").len();
    while r.events("dev.driftgate.heal.quarantined").len() == before {
        assert!(start.elapsed() < Duration::from_secs(10), "never quarantined after {fights} fights");
        if image(r) == "nginx:1.25" {
            let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
            live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:rogue".into();
            r.api.write(live, "rogue-controller");
            fights += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_new_git_revision_lifts_quarantines() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start_with(tmp.path(), &[], HEAL, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    fight_until_quarantined(&r);
    if image(&r) == "nginx:1.25" {
        let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
        live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:rogue".into();
        r.api.write(live, "rogue-controller");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(image(&r), "nginx:rogue", "quarantined");
    support::git::commit(&r.repo, &[("apps/notes.txt", "the fight is settled\n")], "settle");
    let start = Instant::now();
    while image(&r) != "nginx:1.25" {
        assert!(start.elapsed() < Duration::from_secs(5), "not healed after a new revision");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_flapping_object_is_quarantined_after_three_reverts() {
    let tmp = tempfile::tempdir().unwrap();
    let r = start_with(tmp.path(), &[], HEAL, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    fight_until_quarantined(&r);
    let q = &r.events("dev.driftgate.heal.quarantined")[0];
    assert_eq!(q["data"]["competitor"], "rogue-controller");
    let rule = q["data"]["suggestedRule"].as_str().unwrap();
    assert!(rule.contains("jsonPointers: [/spec/template/spec/containers/0/image]"), "{rule}");
    // quarantined: the rogue value now stays
    if image(&r) == "nginx:1.25" {
        let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
        live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:rogue".into();
        r.api.write(live, "rogue-controller");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(image(&r), "nginx:rogue");
    // the status shows it, and `driftgate status -o wide` says who and how to resume
    let s = r.source();
    assert_eq!(s["quarantined"][0]["competitor"], "rogue-controller", "{s}");
    let out = std::process::Command::new(support::bin())
        .args(["status", "-o", "wide", "--server", &format!("https://localhost:{}", r.server.port), "--ca"])
        .arg(tmp.path().join("ca.crt"))
        .arg("--kubeconfig")
        .arg(r.kubeconfig())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("1 quarantined"), "{text}");
    let quarantined = text.lines().find(|l| l.contains("Quarantined")).unwrap_or_else(|| panic!("{text}"));
    assert!(
        quarantined.contains("rogue-controller") && quarantined.contains("driftgate.dev/clear-quarantine"),
        "{quarantined}"
    );

    // a person settles the fight and clears the quarantine with the annotation: healed again,
    // and the annotation goes with the rest of the additive drift
    let mut live = r.api.get("Deployment", Some("demo"), "web").unwrap();
    live["metadata"]["annotations"] = serde_json::json!({"driftgate.dev/clear-quarantine": "settled"});
    r.api.write(live, "kubectl-annotate");
    let start = Instant::now();
    while image(&r) != "nginx:1.25" {
        assert!(start.elapsed() < Duration::from_secs(3), "the cleared object was not healed");
        std::thread::sleep(Duration::from_millis(10));
    }
    r.until("annotation removed", Duration::from_secs(2), |r| {
        r.api.get("Deployment", Some("demo"), "web").unwrap()["metadata"]["annotations"]
            .get("driftgate.dev/clear-quarantine")
            .is_none()
    });
    r.until("quarantine lifted", Duration::from_secs(2), |r| r.source().get("quarantined").is_none());
}

/// Two `serve` replicas against one API server and one Lease; the first holds the Lease.
fn two_replicas(tmp: &Path) -> (Running, Server) {
    let r = start_with(tmp, &[], HEAL, &["--lease-namespace=demo", "--lease-duration=1", "--identity=first"], |_| {});
    r.server.wait_for("acquired the self-heal lease");
    let second_dir = tmp.join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    for f in ["tls.crt", "tls.key"] {
        std::fs::copy(tmp.join(f), second_dir.join(f)).unwrap();
    }
    let second = Server::start(
        &[
            &format!("--config={}", tmp.join("driftgate.yaml").display()),
            &format!("--kubeconfig={}", tmp.join("kubeconfig").display()),
            &format!("--cache-dir={}", tmp.join("cache2").display()),
            "--lease-namespace=demo",
            "--lease-duration=1",
            "--identity=second",
        ],
        &second_dir,
    );
    second.wait_for("drift detector watching");
    (r, second)
}

#[test]
fn with_two_healers_and_one_lease_only_one_acts() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, second) = two_replicas(tmp.path());
    std::thread::sleep(Duration::from_millis(1500));
    let lease = r.api.get("Lease", Some("demo"), "driftgate-self-heal").unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "first");
    edit_image(&r.api, "nginx:1.26");
    let start = Instant::now();
    while image(&r) != "nginx:1.25" {
        assert!(start.elapsed() < Duration::from_secs(2), "not reverted");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let heals =
        |s: &Server| s.events.lock().unwrap().iter().filter(|l| l.contains("dev.driftgate.heal.applied")).count();
    assert_eq!(heals(&r.server), 1, "the leader healed");
    assert_eq!(heals(&second), 0, "the follower did not");
    assert!(!second.log.lock().unwrap().iter().any(|l| l.contains("acquired the self-heal lease")));
}

#[test]
fn a_dry_run_reports_the_plan_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dry = "selfHeal: {enabled: true, dryRun: true}\n";
    let r = start_with(tmp.path(), &[], dry, LEASE, |_| {});
    r.server.wait_for("acquired the self-heal lease");
    edit_image(&r.api, "nginx:1.26");
    r.until("planned", Duration::from_secs(2), |r| !r.events("dev.driftgate.heal.applied.dryrun").is_empty());
    let planned = &r.events("dev.driftgate.heal.applied.dryrun")[0];
    assert_eq!(planned["data"]["action"], "revert");
    assert_eq!(planned["data"]["dryRun"], true);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(image(&r), "nginx:1.26", "nothing written");
    assert_eq!(patches(&r), 0);
    assert_eq!(r.events("dev.driftgate.heal.applied.dryrun").len(), 1, "reported once per object version");
}

#[test]
fn when_the_leader_dies_the_other_replica_takes_over_within_the_lease_duration() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, second) = two_replicas(tmp.path());
    let Running { server: first, api, .. } = r;
    // the leader dies without releasing the lease
    let _ = std::process::Command::new("kill").args(["-KILL", &first.pid().to_string()]).status();
    drop(first);
    let start = Instant::now();
    second.wait_for("acquired the self-heal lease");
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "take-over took {took:?}");
    let mut live = api.get("Deployment", Some("demo"), "web").unwrap();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26".into();
    api.write(live, "kubectl-edit");
    let start = Instant::now();
    loop {
        let d = api.get("Deployment", Some("demo"), "web").unwrap();
        if d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(2), "the new leader did not heal");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(api.get("Lease", Some("demo"), "driftgate-self-heal").unwrap()["spec"]["holderIdentity"], "second");
}
