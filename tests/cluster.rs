//! The cluster side against the in-process fake API server: the fake reproduces the captured
//! exchanges, and `diff --live cluster` reads the cluster as it reads files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::apiserver::FakeApiServer;
use support::workload::{CONFIGMAP, DEPLOYMENT, SERVICE_MONITOR, edit_image, yaml};

/// A desired folder with a Deployment and a ConfigMap, and the fake holding both as Git says.
fn setup(tmp: &Path, extra: &[&str]) -> (FakeApiServer, PathBuf) {
    let desired = tmp.join("desired");
    std::fs::create_dir_all(&desired).unwrap();
    std::fs::write(desired.join("web.yaml"), DEPLOYMENT).unwrap();
    std::fs::write(desired.join("config.yaml"), CONFIGMAP).unwrap();
    for (i, e) in extra.iter().enumerate() {
        std::fs::write(desired.join(format!("extra-{i}.yaml")), e).unwrap();
    }
    let api = FakeApiServer::start();
    api.set_time("2026-11-28T01:09:42Z");
    api.put(yaml(DEPLOYMENT));
    api.put(yaml(CONFIGMAP));
    (api, desired)
}

fn diff(api: &FakeApiServer, tmp: &Path, desired: &Path, extra: &[&str]) -> (i32, Value, String) {
    let kubeconfig = api.kubeconfig(tmp);
    let out = Command::new(support::bin())
        .args(["diff", "--desired"])
        .arg(desired)
        .args(["--live", "cluster", "-o", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(extra)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn diff_live_cluster_in_sync_then_drift_with_its_actor() {
    let tmp = tempfile::tempdir().unwrap();
    let (api, desired) = setup(tmp.path(), &[]);
    let (code, report, stderr) = diff(&api, tmp.path(), &desired, &[]);
    assert_eq!(code, 0, "{stderr}\n{report}");
    assert_eq!(report["summary"]["synced"], 2);

    edit_image(&api, "nginx:1.26");
    let (code, report, _) = diff(&api, tmp.path(), &desired, &[]);
    assert_eq!(code, 1);
    let web = report["resources"].as_array().unwrap().iter().find(|r| r["key"]["kind"] == "Deployment").unwrap();
    assert_eq!(web["status"], "OutOfSync");
    let d = &web["differences"][0];
    assert_eq!(d["path"], "spec.template.spec.containers[name=web].image");
    assert_eq!(d["actors"][0]["manager"], "kubectl-edit");
    assert_eq!(d["actors"][0]["time"], "2026-11-28T01:09:42Z");
    // one list per kind, scoped to the namespace, with pages
    let lists: Vec<String> =
        api.requests().into_iter().filter(|r| r.starts_with("GET") && r.contains("limit=")).collect();
    assert!(lists.iter().any(|r| r.starts_with("GET /apis/apps/v1/namespaces/demo/deployments?")), "{lists:?}");
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_reported_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let (api, desired) = setup(tmp.path(), &[SERVICE_MONITOR]);
    let (code, report, stderr) = diff(&api, tmp.path(), &desired, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("does not serve monitoring.coreos.com/v1 ServiceMonitor"), "{stderr}");
    assert_eq!(report["summary"]["synced"], 2);
    assert_eq!(report["summary"]["missing"], 1);
}

#[test]
fn a_forbidden_kind_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (api, desired) = setup(tmp.path(), &[]);
    api.forbid("configmaps");
    let (code, report, stderr) = diff(&api, tmp.path(), &desired, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("403") && stderr.contains("configmaps"), "{stderr}");
    // what could be read is still reported
    assert_eq!(report["summary"]["synced"], 1);
}

#[test]
fn ssa_mode_sees_through_a_mutating_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let (api, desired) = setup(tmp.path(), &[]);
    // a policy webhook pins images to digests on every write, dry runs included
    api.set_mutator(|obj| {
        if let Some(containers) = obj.pointer_mut("/spec/template/spec/containers").and_then(Value::as_array_mut) {
            for c in containers {
                if let Some(image) = c["image"].as_str().filter(|i| !i.contains('@')) {
                    c["image"] = json!(format!("{image}@sha256:0f0f"));
                }
            }
        }
    });
    api.put(yaml(DEPLOYMENT));
    let (code, report, _) = diff(&api, tmp.path(), &desired, &[]);
    assert_eq!(code, 1, "the declared comparison sees the webhook's rewrite as drift");
    assert_eq!(report["summary"]["outOfSync"], 1);
    let (code, report, stderr) = diff(&api, tmp.path(), &desired, &["--diff-mode", "ssa"]);
    assert_eq!(code, 0, "{stderr}\n{report}");
    assert!(api.requests().iter().any(|r| r.starts_with("PATCH") && r.contains("dryRun=All")));
    // a real edit is still drift under ssa
    edit_image(&api, "nginx:1.26@sha256:beef");
    let (code, _, _) = diff(&api, tmp.path(), &desired, &["--diff-mode", "ssa"]);
    assert_eq!(code, 1);
}

/// The fake answers as the captured kube-apiserver did.
#[test]
fn the_fake_reproduces_the_captured_exchanges() {
    let api = FakeApiServer::start();
    let get = |path: &str| http(&api, "GET", path, None, "");
    let fixture = |name: &str| std::fs::read(support::fixtures().join("apiserver").join(name)).unwrap();
    assert_eq!(get("/api/v1").1, fixture("02-get-api-v1.json"));
    assert_eq!(get("/apis/apps/v1").1, fixture("04-get-apis-apps-v1.json"));
    let (code, body) = get("/apis/apps/v1/namespaces/demo/deployments/does-not-exist");
    assert_eq!((code, body), (404, fixture("15-get-deployment-missing.json")));
    let (code, body) = get("/api/v1/namespaces/demo/configmaps/does-not-exist");
    assert_eq!((code, body), (404, fixture("14-get-configmap-missing.json")));

    let create: Value = serde_json::from_slice(&fixture("11-create-deployment.req.json")).unwrap();
    let (code, body) =
        http(&api, "POST", "/apis/apps/v1/namespaces/demo/deployments", Some(&create), "application/json");
    assert_eq!(code, 201);
    let created: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["managedFields"][0]["manager"], "driftgate");
    let (code, _) = http(&api, "POST", "/apis/apps/v1/namespaces/demo/deployments", Some(&create), "application/json");
    assert_eq!(code, 409);

    // PUT with a stale resourceVersion: the captured 409 body, byte for byte
    let mut stale = created.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let (code, body) =
        http(&api, "PUT", "/apis/apps/v1/namespaces/demo/deployments/web", Some(&stale), "application/json");
    assert_eq!((code, body), (409, fixture("63-put-deployment-stale-rv.json")));

    // list items carry no kind or apiVersion
    let (_, body) = get("/apis/apps/v1/namespaces/demo/deployments");
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["kind"], "DeploymentList");
    assert!(list["items"][0].get("kind").is_none());

    // a JSON patch whose test fails is 422, and the object is unchanged
    let ops = json!([{"op": "test", "path": "/spec/replicas", "value": 99}]);
    let (code, _) =
        http(&api, "PATCH", "/apis/apps/v1/namespaces/demo/deployments/web", Some(&ops), "application/json-patch+json");
    assert_eq!(code, 422);

    // server-side apply without a field manager is 422; a second manager conflicts unless forced
    let apply = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec: {replicas: 5}\n";
    let (code, _) =
        http_raw(&api, "PATCH", "/apis/apps/v1/namespaces/demo/deployments/web", apply, "application/apply-patch+yaml");
    assert_eq!(code, 422);
    let path = "/apis/apps/v1/namespaces/demo/deployments/web?fieldManager=hotfix-tool";
    let (code, body) = http_raw(&api, "PATCH", path, apply, "application/apply-patch+yaml");
    assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));
    let (code, _) = http_raw(&api, "PATCH", &format!("{path}&force=true"), apply, "application/apply-patch+yaml");
    assert_eq!(code, 200);

    // a watch from an rv older than the window is 200 with one ERROR 410 event
    api.compact();
    let (code, body) = get("/apis/apps/v1/namespaces/demo/deployments?watch=1&resourceVersion=1&timeoutSeconds=1");
    assert_eq!(code, 200);
    let event: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let captured: Value = serde_json::from_slice(&fixture("40-watch-deployments-too-old-rv.ndjson")).unwrap();
    assert_eq!(event["type"], captured["type"]);
    assert_eq!(event["object"]["code"], captured["object"]["code"]);
    assert_eq!(event["object"]["reason"], captured["object"]["reason"]);

    api.forbid("secrets");
    let (code, body) = get("/api/v1/namespaces/kube-system/secrets");
    let status: Value = serde_json::from_slice(&body).unwrap();
    let captured: Value = serde_json::from_slice(&fixture("70-alice-list-secrets-kube-system-forbidden.json")).unwrap();
    assert_eq!(code, 403);
    assert_eq!((&status["reason"], &status["details"]), (&captured["reason"], &captured["details"]));
}

fn http(api: &FakeApiServer, method: &str, path: &str, body: Option<&Value>, ctype: &str) -> (u16, Vec<u8>) {
    let text = body.map(|b| serde_json::to_string(b).unwrap()).unwrap_or_default();
    http_raw(api, method, path, &text, ctype)
}

fn http_raw(api: &FakeApiServer, method: &str, path: &str, body: &str, ctype: &str) -> (u16, Vec<u8>) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(api.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: driftgate/0.1.0\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !ctype.is_empty() {
        req = req + "Content-Type: " + ctype + "\r\n";
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..text]).into_owned();
    let code: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[text + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (code, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + size]);
        b = &b[end + 2 + size + 2..];
    }
}

/// Finding 10 of issue 12: an unreachable cluster is an error naming the server, exit 2, and no
/// report is printed, for `diff --live cluster`, `status --config` and `heal --once --dry-run`.
#[test]
fn an_unreachable_cluster_is_an_error_naming_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    // a port nothing listens on: bound, then closed
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = format!("http://127.0.0.1:{port}");
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"),
    )
    .unwrap();
    let desired = tmp.path().join("desired");
    std::fs::create_dir_all(&desired).unwrap();
    std::fs::write(desired.join("config.yaml"), CONFIGMAP).unwrap();
    let config = tmp.path().join("driftgate.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n- name: s\n  path: {}\n",
            desired.display()
        ),
    )
    .unwrap();
    let kc = kubeconfig.to_string_lossy().into_owned();
    let d = desired.to_string_lossy().into_owned();
    let c = config.to_string_lossy().into_owned();
    for args in [
        vec!["diff", "--desired", &d, "--live", "cluster", "--kubeconfig", &kc],
        vec!["status", "--config", &c, "--kubeconfig", &kc],
        vec!["heal", "--once", "--dry-run", "--config", &c, "--kubeconfig", &kc],
    ] {
        let out = Command::new(support::bin()).args(&args).env_remove("KUBECONFIG").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a report: {}", String::from_utf8_lossy(&out.stdout));
        assert!(stderr.contains(&format!("cannot reach the cluster at {server}")), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{args:?}: said once: {stderr}");
    }
}

/// Finding 10 of issue 12: live JSON followed by anything else is an error naming the file and
/// position, not a silently shortened input.
#[test]
fn live_json_with_trailing_garbage_is_an_error_naming_the_position() {
    let tmp = tempfile::tempdir().unwrap();
    let desired = tmp.path().join("desired");
    std::fs::create_dir_all(&desired).unwrap();
    std::fs::write(desired.join("config.yaml"), CONFIGMAP).unwrap();
    let live = tmp.path().join("live.json");
    std::fs::write(&live, format!("{}\n{{\"kind\": ", serde_json::to_string(&yaml(CONFIGMAP)).unwrap())).unwrap();
    let out = Command::new(support::bin())
        .args(["diff", "--desired"])
        .arg(&desired)
        .arg("--live")
        .arg(&live)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("live.json:2: invalid JSON: trailing characters at line 2 column 1"), "{stderr}");
}
