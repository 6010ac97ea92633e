//! Issue 13: only what driftgate manages goes through it. `driftgate webhook-config` as a user
//! runs it, played against the API server's side of the webhook (tests/support/webhook_match.rs)
//! as if driftgate were dead: whatever is matched would fail; nothing else may be matched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::webhook_match::{Call, called};

const ALICE: &str = "alice";
const ARGO: &str = "system:serviceaccount:argocd:argocd-application-controller";
const KUBELET: &str = "system:node:worker-1";

fn webhook_config(config: &Path) -> Value {
    let out =
        Command::new(support::bin()).args(["webhook-config", "-o", "json", "--config"]).arg(config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A source with namespaced and cluster-scoped objects, a CRD and its custom resource, and objects
/// in namespaces that are never sent.
fn platform(tmp: &Path) -> std::path::PathBuf {
    let src = tmp.join("platform");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("all.yaml"),
        r"apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: shop-reader}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: rollouts.argoproj.io}
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: Rollout, plural: rollouts}
  versions: [{name: v1alpha1, served: true, storage: true, subresources: {scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns-extra, namespace: kube-system}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: web-leader, namespace: kube-node-lease}
",
    )
    .unwrap();
    let config = tmp.join("driftgate.yaml");
    std::fs::write(
        &config,
        "apiVersion: driftgate.dev/v1alpha1\nkind: Config\nsources:\n  - name: platform\n    path: platform\nreconcilers:\n  groups: [system:serviceaccounts:flux-system]\n",
    )
    .unwrap();
    config
}

const DEPLOYMENTS: (&str, &str, &str) = ("apps", "v1", "deployments");
const CONFIGMAPS: (&str, &str, &str) = ("", "v1", "configmaps");

#[test]
fn a_dead_webhook_holds_up_only_declared_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let vwc = webhook_config(&platform(tmp.path()));
    let ns_entry = vec!["validate.driftgate.dev".to_owned()];
    let cluster_entry = vec!["cluster.validate.driftgate.dev".to_owned()];

    // what Git declares is sent, for every operation and the scale subresource
    for op in ["CREATE", "UPDATE", "DELETE"] {
        assert_eq!(called(&vwc, &Call::namespaced(op, DEPLOYMENTS, "shop", "web", ALICE)), ns_entry, "{op}");
    }
    assert_eq!(called(&vwc, &Call::namespaced("UPDATE", DEPLOYMENTS, "shop", "web", ALICE).sub("scale")), ns_entry);
    assert_eq!(called(&vwc, &Call::namespaced("UPDATE", CONFIGMAPS, "shop", "settings", ALICE)), ns_entry);
    let rollouts = ("argoproj.io", "v1alpha1", "rollouts");
    assert_eq!(called(&vwc, &Call::namespaced("UPDATE", rollouts, "shop", "canary", ALICE).sub("scale")), ns_entry);
    let namespaces = ("", "v1", "namespaces");
    assert_eq!(called(&vwc, &Call::cluster("DELETE", namespaces, "shop", ALICE)), cluster_entry);
    let clusterroles = ("rbac.authorization.k8s.io", "v1", "clusterroles");
    assert_eq!(called(&vwc, &Call::cluster("UPDATE", clusterroles, "shop-reader", ALICE)), cluster_entry);

    // the reconcilers never wait on driftgate: by username, and by group
    assert!(called(&vwc, &Call::namespaced("UPDATE", DEPLOYMENTS, "shop", "web", ARGO)).is_empty());
    let mut flux = Call::namespaced(
        "UPDATE",
        DEPLOYMENTS,
        "shop",
        "web",
        "system:serviceaccount:flux-system:kustomize-controller",
    );
    flux.groups = &["system:serviceaccounts", "system:serviceaccounts:flux-system"];
    assert!(called(&vwc, &flux).is_empty());

    // everything else, as the issue found it frozen, is never sent
    let nothing: Vec<(&str, Call)> = vec![
        ("kubectl create ns", Call::cluster("CREATE", namespaces, "team-x", ALICE)),
        ("the kube-system Namespace", Call::cluster("UPDATE", namespaces, "kube-system", ALICE)),
        (
            "a kubelet's node Lease",
            Call::namespaced("UPDATE", ("coordination.k8s.io", "v1", "leases"), "kube-node-lease", "worker-1", KUBELET),
        ),
        (
            "a leader-election Lease beside a declared object",
            Call::namespaced("UPDATE", ("coordination.k8s.io", "v1", "leases"), "shop", "web", ALICE),
        ),
        ("an Event", Call::namespaced("CREATE", ("events.k8s.io", "v1", "events"), "shop", "web.1", ALICE)),
        ("a core Event", Call::namespaced("CREATE", ("", "v1", "events"), "shop", "web.2", ALICE)),
        (
            "kubectl auth can-i",
            Call::cluster("CREATE", ("authorization.k8s.io", "v1", "subjectaccessreviews"), "", ALICE),
        ),
        (
            "a TokenRequest",
            Call::namespaced("CREATE", ("", "v1", "serviceaccounts"), "shop", "default", ALICE).sub("token"),
        ),
        ("kubectl create clusterrole", Call::cluster("CREATE", clusterroles, "someone-else", ALICE)),
        ("a new ConfigMap in a declared namespace", Call::namespaced("CREATE", CONFIGMAPS, "shop", "scratch", ALICE)),
        ("a declared name in another namespace", Call::namespaced("UPDATE", DEPLOYMENTS, "other", "web", ALICE)),
        ("an undeclared kind", Call::namespaced("CREATE", ("batch", "v1", "jobs"), "shop", "web", ALICE)),
        (
            "kube-system, even though Git lists it",
            Call::namespaced("UPDATE", CONFIGMAPS, "kube-system", "coredns-extra", ALICE),
        ),
        ("driftgate's own namespace", Call::namespaced("UPDATE", CONFIGMAPS, "driftgate-system", "settings", ALICE)),
        ("the status subresource", Call::namespaced("UPDATE", DEPLOYMENTS, "shop", "web", ALICE).sub("status")),
        ("a generateName create (no name)", {
            let mut c = Call::namespaced("CREATE", CONFIGMAPS, "shop", "", ALICE);
            c.name = None;
            c
        }),
    ];
    for (what, call) in nothing {
        assert!(called(&vwc, &call).is_empty(), "{what} is sent to driftgate: {call:?}");
    }
    for hook in vwc["webhooks"].as_array().unwrap() {
        assert_eq!(hook["failurePolicy"], "Fail", "declared objects stay closed while driftgate is down");
    }
}

#[test]
fn the_cli_says_which_declared_objects_are_never_guarded() {
    let tmp = tempfile::tempdir().unwrap();
    let out =
        Command::new(support::bin()).args(["webhook-config", "--config"]).arg(platform(tmp.path())).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ConfigMap kube-system/coredns-extra is not guarded"), "{err}");
    assert!(err.contains("Lease.coordination.k8s.io kube-node-lease/web-leader is not guarded"), "{err}");
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(yaml.starts_with("apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"));
}

#[test]
fn the_bundled_example_guards_its_overlay_only() {
    let vwc = webhook_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/driftgate.yaml"));
    let prod = "myapp-prod";
    assert_eq!(called(&vwc, &Call::namespaced("UPDATE", DEPLOYMENTS, prod, "myapp", ALICE)).len(), 1);
    assert!(called(&vwc, &Call::namespaced("UPDATE", DEPLOYMENTS, prod, "myapp", ARGO)).is_empty());
    assert!(called(&vwc, &Call::namespaced("UPDATE", DEPLOYMENTS, "myapp-staging", "myapp", ALICE)).is_empty());
    assert!(called(&vwc, &Call::cluster("CREATE", ("", "v1", "namespaces"), prod, ALICE)).is_empty());
}

/// deploy/webhook.yaml is what `serve` starts from when it manages the configuration, so it has
/// the generated shape with nothing declared yet: both entries, their selectors and failure
/// policies, and no rules.
#[test]
fn deploy_ships_the_generated_shape() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = driftgate::config::Config::load(&root.join("deploy/config.yaml")).unwrap();
    assert!(config.admission.manage_webhook_configuration, "deploy/ lets serve keep it current");
    let want = driftgate::admission::registration::configuration(
        &config.admission,
        &config.reconcilers,
        &driftgate::admission::registration::Scope::default(),
        None,
    );
    let shipped = std::fs::read_to_string(root.join("deploy/webhook.yaml")).unwrap();
    let shipped = driftgate::model::load::parse_yaml_values(&shipped).unwrap().remove(0);
    assert_eq!(shipped, want, "regenerate deploy/webhook.yaml from deploy/config.yaml with no sources");
}

/// `admission.manageWebhookConfiguration`: serve brings the live configuration to what Git
/// declares, keeps the caBundle the CA injector wrote, and follows Git as it changes.
#[test]
fn serve_keeps_the_webhook_configuration_current() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/webhook.yaml")).unwrap();
    let mut vwc = driftgate::model::load::parse_yaml_values(&shipped).unwrap().remove(0);
    for hook in vwc["webhooks"].as_array_mut().unwrap() {
        hook["clientConfig"]["caBundle"] = json!("SU5KRUNURUQ=");
    }
    let running =
        support::serving::start_with(tmp.path(), &[], "admission:\n  manageWebhookConfiguration: true\n", &[], |api| {
            api.put(vwc);
        });
    let live = |r: &support::serving::Running| r.api.get("ValidatingWebhookConfiguration", None, "driftgate").unwrap();
    running.until("the configuration names the declared Deployment", Duration::from_secs(10), |r| {
        called(&live(r), &Call::namespaced("UPDATE", DEPLOYMENTS, "demo", "web", ALICE)).len() == 1
    });
    let now = live(&running);
    for hook in now["webhooks"].as_array().unwrap() {
        assert_eq!(hook["clientConfig"]["caBundle"], "SU5KRUNURUQ=", "the CA injector's caBundle is kept");
    }
    assert!(
        running
            .api
            .requests()
            .iter()
            .any(|r| r
                .starts_with("PUT /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/driftgate"))
    );
    assert!(called(&now, &Call::namespaced("UPDATE", CONFIGMAPS, "demo", "scratch", ALICE)).is_empty());

    // Git declares a new object: the configuration follows
    support::git::commit(
        &running.repo,
        &[("apps/more.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: more, namespace: billing}\n")],
        "more",
    );
    running.until("the new object is sent too", Duration::from_secs(10), |r| {
        called(&live(r), &Call::namespaced("UPDATE", CONFIGMAPS, "billing", "more", ALICE)).len() == 1
    });
}

/// Before Git loads after a restart, an object the last known desired state declared is still
/// refused, without a marker, and the refusal names its source and the source's error.
#[test]
fn the_managed_snapshot_outlives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("managed.json");
    let config = format!("admission:\n  managedSnapshot: {}\n", snapshot.display());
    let running = support::serving::start_with(tmp.path(), &[], &config, &[], |_| {});
    running.until("the snapshot is written", Duration::from_secs(10), |_| snapshot.is_file());
    let saved: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    assert_eq!(saved["kind"], "ManagedSnapshot");
    assert!(saved["objects"].as_array().unwrap().iter().any(|o| o["kind"] == "Deployment" && o["source"] == "shop"));

    // the repository goes away: after the restart Git cannot load
    std::fs::rename(&running.repo, tmp.path().join("gone")).unwrap();
    let cache = tmp.path().join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let running = running.restart();
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": "web", "namespace": "demo", "operation": "UPDATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": 9}},
        "oldObject": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"}, "spec": {"replicas": 2}}}});
    let answer = running.review(&review, &[]);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["response"]["allowed"], false, "{body}");
    let message = body["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("source shop:"), "{message}");
    assert!(message.contains("source shop declared when driftgate last knew"), "{message}");
    let other = review.to_string().replace("\"web\"", "\"scratch\"");
    let answer = running.review(&serde_json::from_str(&other).unwrap(), &[]);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["response"]["allowed"], true, "anything else is let through: {body}");
}
