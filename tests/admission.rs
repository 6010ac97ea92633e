//! Every captured AdmissionReview through `driftgate review`, with expectations written from the
//! design's verdict rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;

fn review_body(body: &[u8], config: &str) -> (Option<i32>, Value, String) {
    let mut child = Command::new(support::bin())
        .args(["review", "-", "--config"])
        .arg(support::fixtures().join("configs").join(config))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn review(fixture: &str, config: &str) -> Value {
    let body = serde_json::to_vec(&support::review(fixture)).unwrap();
    let (code, json, err) = review_body(&body, config);
    assert_eq!(code, Some(0), "{fixture}: {err}");
    let uid = support::review(fixture)["request"]["uid"].clone();
    assert_eq!(json["response"]["uid"], uid, "{fixture}: the uid is echoed");
    assert_eq!(json["kind"], "AdmissionReview");
    assert_eq!(json["apiVersion"], "admission.k8s.io/v1");
    json["response"].clone()
}

#[test]
fn reconciler_changes_are_allowed() {
    for f in ["001", "002", "003", "004", "019", "020"] {
        let r = review(f, "guestbook-enforce.yaml");
        assert_eq!(r["allowed"], true, "{f}: {r}");
        assert!(r.get("warnings").is_none(), "{f}");
    }
}

#[test]
fn unmanaged_objects_are_allowed() {
    for f in ["011", "012", "013", "014", "015", "016", "017", "018"] {
        let r = review(f, "guestbook-enforce.yaml");
        assert_eq!(r["allowed"], true, "{f}: {r}");
    }
}

#[test]
fn kubectl_edit_is_denied_in_enforce_and_warned_in_warn() {
    let r = review("005", "guestbook-enforce.yaml");
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    let msg = r["status"]["message"].as_str().unwrap();
    for part in [
        "Deployment.apps demo/guestbook",
        "spec.template.spec.containers[name=web].image",
        "user alice",
        "source guestbook",
        "tests/fixtures/guestbook-git",
    ] {
        assert!(msg.contains(part), "{part:?} missing from {msg}");
    }
    assert_eq!(r["auditAnnotations"]["driftgate.dev/violation"], "spec.template.spec.containers[name=web].image");

    let r = review("005", "guestbook-warn.yaml");
    assert_eq!(r["allowed"], true);
    assert!(r["warnings"][0].as_str().unwrap().contains("spec.template.spec.containers[name=web].image"));
    assert!(r.get("status").is_none());
    assert_eq!(r["auditAnnotations"]["driftgate.dev/source"], "guestbook");
}

#[test]
fn scale_is_allowed_only_when_replicas_are_ignored() {
    let r = review("006", "guestbook-enforce.yaml");
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("spec.replicas"));
    let r = review("006", "guestbook-hpa.yaml");
    assert_eq!(r["allowed"], true, "{r}");
}

#[test]
fn other_hand_edits_are_denied_naming_what_they_touched() {
    for (f, path) in [
        ("007", "data.LOG_LEVEL"),
        ("008", "data.FEATURE_X"),
        ("009", "data.EXTRA"),
        ("010", "spec.template.spec.containers[name=web].env[name=DEBUG]"),
    ] {
        let r = review(f, "guestbook-enforce.yaml");
        assert_eq!(r["allowed"], false, "{f}: {r}");
        assert_eq!(r["auditAnnotations"]["driftgate.dev/violation"], path, "{f}");
    }
    // the Secret's new value never appears
    let secret_value = support::review("009")["request"]["object"]["data"]["EXTRA"].as_str().unwrap().to_owned();
    assert!(!review("009", "guestbook-enforce.yaml").to_string().contains(&secret_value));
}

/// An RFC 3339 time `hours` from now.
fn hours_from_now(hours: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(hours))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn break_glass_and_dry_run() {
    let mut body = support::review("005");
    body["request"]["userInfo"]["groups"] = serde_json::json!(["developers", "sre"]);
    let annotations = &mut body["request"]["object"]["metadata"]["annotations"];
    annotations["driftgate.dev/break-glass"] = "INC-1234: hotfix".into();
    annotations["driftgate.dev/break-glass-until"] = hours_from_now(2).into();
    let (_, json, _) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
    let r = &json["response"];
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r["warnings"][0].as_str().unwrap().contains("INC-1234: hotfix"));
    assert_eq!(r["auditAnnotations"]["driftgate.dev/break-glass"], "INC-1234: hotfix");

    // a user outside the break-glass groups cannot use the annotation
    body["request"]["userInfo"]["groups"] = serde_json::json!(["developers"]);
    let (_, json, _) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(json["response"]["allowed"], false);

    // dry-run requests get the same verdict
    let mut dry = support::review("005");
    dry["request"]["dryRun"] = true.into();
    let (_, json, _) = review_body(&serde_json::to_vec(&dry).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(json["response"]["allowed"], false);
}

#[test]
fn deleting_or_creating_a_managed_object_by_hand() {
    let mut del = support::review("016");
    del["request"]["name"] = "guestbook-config".into();
    del["request"]["oldObject"]["metadata"]["name"] = "guestbook-config".into();
    let (_, json, _) = review_body(&serde_json::to_vec(&del).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(json["response"]["allowed"], false);
    assert!(json["response"]["status"]["message"].as_str().unwrap().contains("deleted it"));

    // creating the Git-declared Deployment as Git declares it is fine; with another image it is not
    let mut create = support::review("001");
    create["request"]["userInfo"] = serde_json::json!({"username": "alice", "groups": ["developers"]});
    let (_, json, _) = review_body(&serde_json::to_vec(&create).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(json["response"]["allowed"], true, "{json}");
    create["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:evil".into();
    let (_, json, _) = review_body(&serde_json::to_vec(&create).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(json["response"]["allowed"], false);
}

#[test]
fn malformed_requests_are_clear_errors() {
    for (body, want) in [
        (&b"{\"kind\": \"AdmissionReview\", "[..], "malformed AdmissionReview"),
        (&b"{\"kind\": \"Pod\"}"[..], "expected kind AdmissionReview"),
        (
            &b"{\"kind\": \"AdmissionReview\", \"apiVersion\": \"admission.k8s.io/v1\", \"request\": {}}"[..],
            "no request uid",
        ),
    ] {
        let (code, _, err) = review_body(body, "guestbook-enforce.yaml");
        assert_eq!(code, Some(2));
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn v1beta1_reviews_are_answered_in_kind() {
    let mut body = support::review("005");
    body["apiVersion"] = "admission.k8s.io/v1beta1".into();
    let (code, json, _) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(code, Some(0));
    assert_eq!(json["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(json["response"]["allowed"], false);
}

/// A captured review, changed by `edit`, through `driftgate review` with the guestbook config.
fn review_edited(fixture: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = support::review(fixture);
    edit(&mut body);
    let (code, json, err) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
    assert_eq!(code, Some(0), "{fixture}: {err}");
    json["response"].clone()
}

/// Issue 13: `kubectl scale --replicas=0` arrives as a Scale with `spec: {}` (Kubernetes omits a
/// zero `replicas`); it is a change to 0, denied like any other count.
#[test]
fn scale_to_zero_is_a_change_to_zero() {
    let r = review_edited("006", |b| b["request"]["object"]["spec"] = serde_json::json!({}));
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["auditAnnotations"]["driftgate.dev/violation"], "spec.replicas", "{r}");
}

/// Issue 13: a request's managedFields are what its client chose; a user who passes
/// `--field-manager=argocd-controller` is still a user, and undeclared additions are denied.
#[test]
fn a_field_manager_named_like_the_reconciler_is_not_the_reconciler() {
    let r = review_edited("005", |b| {
        let obj = &mut b["request"]["object"];
        obj["spec"]["template"]["spec"]["hostNetwork"] = serde_json::json!(true);
        for m in obj["metadata"]["managedFields"].as_array_mut().unwrap() {
            m["manager"] = serde_json::json!("argocd-controller");
        }
        b["request"]["options"]["fieldManager"] = serde_json::json!("argocd-controller");
    });
    assert_eq!(r["allowed"], false, "{r}");
    let violation = r["auditAnnotations"]["driftgate.dev/violation"].as_str().unwrap();
    assert!(violation.contains("spec.template.spec.hostNetwork"), "{violation}");
}

/// Issue 13: malformed requests for a managed object fail closed, naming what is wrong.
#[test]
fn malformed_requests_for_managed_objects_are_refused() {
    let r = review_edited("005", |b| b["request"]["operation"] = serde_json::json!("PATCH"));
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("unknown operation \"PATCH\""), "{r}");
    let r = review_edited("005", |b| b["request"]["oldObject"] = Value::Null);
    assert_eq!(r["allowed"], false, "{r}");
    assert!(r["status"]["message"].as_str().unwrap().contains("UPDATE without both oldObject and object"), "{r}");
    // an unmanaged object's odd request is not driftgate's business
    let r = review_edited("012", |b| b["request"]["operation"] = serde_json::json!("PATCH"));
    assert_eq!(r["allowed"], true, "{r}");
}

/// Issue 13: without `reconcilers.usernames`, Argo CD's application controller, Flux's
/// controllers and driftgate's own ServiceAccount are the reconcilers: Argo CD's writes are
/// admitted out of the box, a person's are still judged.
#[test]
fn the_usual_reconcilers_are_known_without_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("no-reconcilers.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: guestbook\n    path: {}\n    namespace: demo\nadmission: {{mode: enforce}}\n",
            support::fixtures().join("guestbook-git").display()
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    for (fixture, allowed) in [("019", true), ("020", true), ("005", false)] {
        let body = serde_json::to_vec(&support::review(fixture)).unwrap();
        let (code, json, err) = review_body(&body, &config);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(json["response"]["allowed"], allowed, "{fixture}: {json}");
    }
}

/// Issue 13: a break-glass grant always ends. Without an end, with one past or too far ahead,
/// it is refused and the denial says why; a member who has not asked is told how.
#[test]
fn break_glass_grants_expire_and_denials_say_how_to_break_glass() {
    let with = |until: Option<String>| {
        let mut body = support::review("005");
        body["request"]["userInfo"]["groups"] = serde_json::json!(["developers", "sre"]);
        let annotations = &mut body["request"]["object"]["metadata"]["annotations"];
        annotations["driftgate.dev/break-glass"] = "INC-1234: hotfix".into();
        if let Some(u) = until {
            annotations["driftgate.dev/break-glass-until"] = u.into();
        }
        let (_, json, _) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
        json["response"].clone()
    };
    for (until, why) in [
        (None, "driftgate.dev/break-glass-until must say when the grant ends"),
        (Some(hours_from_now(-1)), "the grant expired at"),
        (Some(hours_from_now(48)), "more than 24h ahead"),
        (Some("tomorrow".to_owned()), "is not an RFC 3339 time"),
    ] {
        let r = with(until);
        assert_eq!(r["allowed"], false, "{r}");
        assert!(r["status"]["message"].as_str().unwrap().contains(why), "{why}: {r}");
    }
    // a member of a break-glass group who has not asked is told how
    let mut body = support::review("005");
    body["request"]["userInfo"]["groups"] = serde_json::json!(["developers", "sre"]);
    let (_, json, _) = review_body(&serde_json::to_vec(&body).unwrap(), "guestbook-enforce.yaml");
    let message = json["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("You may break glass") && message.contains("driftgate.dev/break-glass-until"),
        "{message}"
    );
    // anyone else is not
    let (_, json, _) = review_body(&serde_json::to_vec(&support::review("005")).unwrap(), "guestbook-enforce.yaml");
    assert!(!json["response"]["status"]["message"].as_str().unwrap().contains("break glass"), "{json}");
}

/// Issue 13: `kubectl rollout restart` (and Argo CD's restart action) only sets
/// `kubectl.kubernetes.io/restartedAt` on the pod template: admitted, audited; with any other
/// change it is judged as usual.
#[test]
fn a_rollout_restart_is_admitted_and_audited() {
    let restart = |b: &mut Value, with_edit: bool| {
        let old = b["request"]["oldObject"].clone();
        let mut new = old.clone();
        new["spec"]["template"]["metadata"]["annotations"] =
            serde_json::json!({"kubectl.kubernetes.io/restartedAt": "2026-12-02T10:00:00Z"});
        if with_edit {
            new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26-alice".into();
        }
        b["request"]["object"] = new;
    };
    let r = review_edited("005", |b| restart(b, false));
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(r["auditAnnotations"]["driftgate.dev/rollout-restart"], "true", "{r}");
    let r = review_edited("005", |b| restart(b, true));
    assert_eq!(r["allowed"], false, "{r}");
    let violation = r["auditAnnotations"]["driftgate.dev/violation"].as_str().unwrap();
    assert!(!violation.contains("restartedAt"), "the restart itself is never the violation: {violation}");
}

/// Issue 13: the API server omits empty values (`false`, `0`, `""`, `[]`) from the objects it
/// sends. Git's explicit zeros compare equal to their absence, so a change back to Git is
/// admitted; and a declared `true` the user turns off (sent as absent) is a change, denied.
#[test]
fn omitted_zeros_are_what_the_api_means() {
    let tmp = tempfile::tempdir().unwrap();
    let git = tmp.path().join("git");
    std::fs::create_dir_all(&git).unwrap();
    for f in ["guestbook-cm.yaml", "guestbook-secret.yaml"] {
        std::fs::copy(support::fixtures().join("guestbook-git").join(f), git.join(f)).unwrap();
    }
    let deploy = std::fs::read_to_string(support::fixtures().join("guestbook-git/guestbook-deploy.yaml")).unwrap();
    let zeros = |host_network: bool| {
        deploy
            .replace("  replicas: 2\n", "  replicas: 2\n  paused: false\n  minReadySeconds: 0\n")
            .replace(
                "    spec:\n      containers:\n",
                &format!("    spec:\n      hostNetwork: {host_network}\n      hostPID: false\n      containers:\n"),
            )
            .replace(
                "          image: nginx:1.25\n",
                "          image: nginx:1.25\n          args: []\n          env: []\n          workingDir: \"\"\n          stdin: false\n",
            )
    };
    let config = tmp.path().join("zeros.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: guestbook\n    path: {}\n    namespace: demo\nadmission: {{mode: enforce}}\n",
            git.display()
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    // alice's edit undone: from her image back to Git's, zeros absent as the API sends them
    let mut back = support::review("005");
    let (old, new) = (back["request"]["oldObject"].clone(), back["request"]["object"].clone());
    back["request"]["object"] = old;
    back["request"]["oldObject"] = new;
    std::fs::write(git.join("guestbook-deploy.yaml"), zeros(false)).unwrap();
    let (_, json, err) = review_body(&serde_json::to_vec(&back).unwrap(), &config);
    assert_eq!(json["response"]["allowed"], true, "back to Git, zeros omitted: {json} {err}");

    // Git says hostNetwork: true; the user turns it off, which the API sends as absent
    std::fs::write(git.join("guestbook-deploy.yaml"), zeros(true)).unwrap();
    let mut off = support::review("005");
    off["request"]["object"] = off["request"]["oldObject"].clone();
    off["request"]["oldObject"]["spec"]["template"]["spec"]["hostNetwork"] = serde_json::json!(true);
    let (_, json, err) = review_body(&serde_json::to_vec(&off).unwrap(), &config);
    assert_eq!(json["response"]["allowed"], false, "{json} {err}");
    let violation = json["response"]["auditAnnotations"]["driftgate.dev/violation"].as_str().unwrap();
    assert!(violation.contains("spec.template.spec.hostNetwork"), "{violation}");
}
