//! Flux's own diff test suites, translated into driftgate tests (issue 12).
//!
//! Sources, all in fluxcd/pkg at e2cfd1a2d1815a81b3e77ef750e6528282ccccd6:
//! - `ssa/jsondiff/unstructured_test.go`, `selector_test.go`, `mask_test.go`, `diff_test.go`
//!   (the drift reports of `flux diff` and kustomize-controller);
//! - `ssa/manager_diff_test.go` and `ssa/manager_diff_ignore_test.go` (the ResourceManager's
//!   `Diff`, kustomize-controller's drift detection, with `DriftIgnoreRules`);
//! - `ssa/normalize/normalize_test.go` (what Flux normalizes before comparing).
//!
//! Every case is re-expressed: small inline objects keeping what the case exercises (the
//! testdata manifests reduced to the fields that matter; none is copied). Notions map as
//! follows. Flux's tests apply the cluster object with server-side apply under a field owner
//! and diff under the same owner; that owner is kustomize-controller here, a reconciler, so the
//! live objects carry managedFields with kustomize-controller owning what was applied and no one
//! owning the server's defaults, as the API server records them. `DiffTypeNone` /
//! `UnchangedAction` is `Synced`, `DiffTypeUpdate` / `ConfiguredAction` is `OutOfSync`,
//! `DiffTypeCreate` / `CreatedAction` is `Missing`. `IgnorePaths` and `DriftIgnoreRules` are
//! Flux-form rules (`paths` and `target`) in the same `ignoreDifferences` list.
//!
//! Where driftgate deliberately differs (additive drift: a field or keyed-list item Git does
//! not declare, set by someone who is not a reconciler and not explained by a server default,
//! is drift), the test asserts driftgate's answer and says why. Every other disagreement keeps
//! the peer's expected answer and is marked `#[ignore = "disagrees: ..."]`.
//!
//! Skipped, with why:
//! - `ExclusionSelector` cases (TestUnstructuredList "excludes resources with matching
//!   label/annotation/annotation set in the cluster", TestUnstructured "... matching exclusion
//!   selector"), TestDiff_Exclusions, TestDiff_IfNotPresent_OnExisting/_OnObject: object-level
//!   skip annotations (`fluxcd.io/ignore`, `IfNotPresent`); driftgate has no such selectors.
//! - TestUnstructuredList "handles errors gracefully when instructed" and "returns error without
//!   graceful option": they test how a server-side dry-run rejection is surfaced; driftgate makes
//!   no dry-run request.
//! - Test_diffUnstructured "metadata changed": a different `metadata.name` is another object in
//!   driftgate (the name is part of the key), not a difference.
//! - Test_copyAnnotationsAndLabels, TestDiffSet_HasType: helpers with no comparison in them.
//! - TestNormalizeDryRunUnstructured "removes duplicated metrics from v2 HorizontalPodAutoscaler":
//!   a fix for what a dry-run returns on Kubernetes < 1.27 (kubernetes issue 118293); driftgate
//!   compares the stored object, never a dry-run result.
//! - TestFromUnstructured / TestFromUnstructuredWithScheme (normalize): conversions between
//!   typed and unstructured objects, a Go-side concern.
//! - `ssa/manager_apply*_test.go`: applying, cleanup of field managers, force and immutable
//!   fields, staging: what the reconciler does, not how drift is computed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::path::PathBuf;

use driftgate::diff::mask;
use driftgate::diff::report::{self, DriftReport, ResourceReport, Settings, Status};
use driftgate::model::load;
use peer_support::{
    assert_status, change_kinds, compile_one, diff_values, entry, key, paths, reconcilers, rules, suppressed,
    with_managed_fields, yaml,
};
use serde_json::{Value, json};

/// The field owner Flux's tests apply and diff with, mapped onto the reconciler that plays that
/// part in a cluster.
const FLUX: &str = "kustomize-controller";

/// What the API server holds after FLUX applied `applied` with server-side apply: the applied
/// fields owned by FLUX, plus what `defaults` adds (server defaults, owned by no one).
fn applied_by_flux(applied: &Value, defaults: impl FnOnce(&mut Value)) -> Value {
    let mut live = applied.clone();
    defaults(&mut live);
    live["metadata"]["uid"] = json!("0e898e6f-c275-476d-9b4f-5e96072cc129");
    live["metadata"]["resourceVersion"] = json!("1");
    with_managed_fields(live, vec![entry(FLUX, "Apply", applied)])
}

/// jsondiff's testdata deployment.yaml (podinfo), reduced.
const PODINFO: &str = r##"
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: podinfo
      namespace: test
      annotations:
        kubernetes.io/ingress.class: nginx-internal
      labels:
        app: podinfo
    spec:
      minReadySeconds: 3
      revisionHistoryLimit: 5
      progressDeadlineSeconds: 60
      strategy:
        rollingUpdate:
          maxUnavailable: 0
        type: RollingUpdate
      selector:
        matchLabels:
          app: podinfo
      template:
        metadata:
          annotations:
            prometheus.io/scrape: "true"
          labels:
            app: podinfo
        spec:
          containers:
          - name: podinfod
            image: ghcr.io/stefanprodan/podinfo:6.0.3
            imagePullPolicy: IfNotPresent
            ports:
            - name: http
              containerPort: 9898
              protocol: TCP
            - name: grpc
              containerPort: 9999
              protocol: TCP
            command: [./podinfo, --port=9898]
            env:
            - name: PODINFO_UI_COLOR
              value: "#34577c"
            livenessProbe:
              exec:
                command: [podcli, check, http, localhost:9898/healthz]
              initialDelaySeconds: 5
              timeoutSeconds: 5
            resources:
              limits:
                cpu: 2000m
                memory: 512Mi
              requests:
                cpu: 100m
                memory: 64Mi
"##;

/// The server defaults a Deployment gains, on every container.
fn deployment_defaults(d: &mut Value) {
    let spec = &mut d["spec"];
    if spec.get("replicas").is_none() {
        spec["replicas"] = json!(1);
    }
    spec["strategy"]["rollingUpdate"]["maxSurge"] = json!("25%");
    spec["template"]["metadata"]["creationTimestamp"] = Value::Null;
    let pod = &mut spec["template"]["spec"];
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["restartPolicy"] = json!("Always");
    pod["schedulerName"] = json!("default-scheduler");
    pod["securityContext"] = json!({});
    pod["terminationGracePeriodSeconds"] = json!(30);
    for c in pod["containers"].as_array_mut().unwrap() {
        c["terminationMessagePath"] = json!("/dev/termination-log");
        c["terminationMessagePolicy"] = json!("File");
        if c.get("imagePullPolicy").is_none() {
            c["imagePullPolicy"] = json!("Always");
        }
        if c.get("resources").is_none() {
            c["resources"] = json!({});
        }
        if let Some(p) = c.get_mut("livenessProbe") {
            p["periodSeconds"] = json!(10);
            p["successThreshold"] = json!(1);
            p["failureThreshold"] = json!(3);
        }
    }
    d["status"] = json!({"observedGeneration": 1});
}

/// jsondiff's testdata service.yaml.
const PODINFO_SERVICE: &str = r"
    apiVersion: v1
    kind: Service
    metadata:
      name: podinfo
      namespace: test
    spec:
      type: ClusterIP
      selector:
        app: podinfo
      ports:
      - name: http
        port: 9898
        protocol: TCP
        targetPort: http
      - name: grpc
        port: 9999
        protocol: TCP
        targetPort: grpc
";

fn service_defaults(s: &mut Value) {
    let spec = &mut s["spec"];
    spec["clusterIP"] = json!("10.0.0.12");
    spec["clusterIPs"] = json!(["10.0.0.12"]);
    spec["internalTrafficPolicy"] = json!("Cluster");
    spec["ipFamilies"] = json!(["IPv4"]);
    spec["ipFamilyPolicy"] = json!("SingleStack");
    spec["sessionAffinity"] = json!("None");
    s["status"] = json!({"loadBalancer": {}});
}

fn secret_defaults(s: &mut Value) {
    s["type"] = json!("Opaque");
}

fn no_defaults(_: &mut Value) {}

const EMPTY_CONFIGMAP: &str = "{apiVersion: v1, kind: ConfigMap, metadata: {name: configmap-data, namespace: test}}";
const ANNOTATED_CONFIGMAP: &str = "{apiVersion: v1, kind: ConfigMap, metadata: {name: configmap-data, namespace: test, annotations: {prev: some-previous-value}}}";
const EMPTY_SECRET: &str = "{apiVersion: v1, kind: Secret, metadata: {name: secret-data, namespace: test}}";

/// Flux's test pattern: the cluster object is the fixture, changed by `cluster`, applied by FLUX
/// (with the server's `defaults`); Git's object is the fixture changed by `desired`.
fn flux_case(
    fixture: &str,
    defaults: fn(&mut Value),
    cluster: impl FnOnce(&mut Value),
    desired: impl FnOnce(&mut Value),
    rule_yaml: &str,
) -> ResourceReport {
    let mut c = yaml(fixture);
    cluster(&mut c);
    let live = applied_by_flux(&c, defaults);
    let mut d = yaml(fixture);
    desired(&mut d);
    diff_values(&d, &live, &rules(rule_yaml))
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    if v.pointer(parent).is_none_or(Value::is_null) {
        set(v, parent, json!({}));
    }
    v.pointer_mut(parent).unwrap()[last] = value;
}

fn label_and_annotation(v: &mut Value, value: &str) {
    set(v, "/metadata/annotations/annotated", json!(value));
    set(v, "/metadata/labels/labeled", json!(value));
}

fn unchanged(_: &mut Value) {}

fn shown(r: &ResourceReport) -> String {
    format!("{}{:?}{:?}", serde_json::to_string(r).unwrap(), r.live_view, r.desired_view)
}

// ---------------------------------------------------------------------------------------------
// ssa/jsondiff/unstructured_test.go TestUnstructured
// ---------------------------------------------------------------------------------------------

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with added
// label and annotation": add ops at /metadata/annotations/annotated and /metadata/labels/labeled.
#[test]
fn jsondiff_deployment_added_label_and_annotation() {
    let r = flux_case(PODINFO, deployment_defaults, unchanged, |d| label_and_annotation(d, "yes"), "");
    assert_status(&r, Status::OutOfSync);
    assert_eq!(
        change_kinds(&r),
        [("metadata.annotations.annotated".to_owned(), "missing"), ("metadata.labels.labeled".to_owned(), "missing")]
    );
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "ConfigMap with added
// label and annotation": whole maps added.
#[test]
fn jsondiff_configmap_added_label_and_annotation() {
    let r = flux_case(EMPTY_CONFIGMAP, no_defaults, unchanged, |d| label_and_annotation(d, "yes"), "");
    assert_eq!(
        change_kinds(&r),
        [("metadata.annotations".to_owned(), "missing"), ("metadata.labels".to_owned(), "missing")]
    );
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Annotated ConfigMap with
// added label and annotation": one annotation added to an existing map, the labels map added.
#[test]
fn jsondiff_annotated_configmap_added_label_and_annotation() {
    let r = flux_case(ANNOTATED_CONFIGMAP, no_defaults, unchanged, |d| label_and_annotation(d, "yes"), "");
    assert_eq!(
        change_kinds(&r),
        [("metadata.annotations.annotated".to_owned(), "missing"), ("metadata.labels".to_owned(), "missing")]
    );
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with missing
// label and annotation": the cluster has a label and an annotation (applied by the same owner)
// that Git lacks; jsondiff ignores removals in metadata: no change.
//
// Note: the peers do not agree with each other here. Flux's own ResourceManager.Diff (what
// kustomize-controller's drift detection runs) compares labels and annotations whole, and the
// dry-run apply drops what the owner applied and Git removed, so it reports this
// (TestHasDrifted_Metadata); Argo CD's server-side diff does too ("will reflect deletion of labels
// in predicted live", `ge_ssd_deletion_of_labels` in peers_argo.rs). driftgate follows those two:
// the fields the reconciler applied and Git dropped are pending sync (its next apply removes
// them), OutOfSync but not drift.
#[test]
fn jsondiff_deployment_missing_label_and_annotation() {
    let r = flux_case(PODINFO, deployment_defaults, |c| label_and_annotation(c, "yes"), unchanged, "");
    assert_status(&r, Status::OutOfSync);
    assert!(r.differences.iter().all(|d| d.cause == driftgate::diff::compare::Cause::PendingSync), "{r:?}");
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with changed
// label and annotation".
#[test]
fn jsondiff_deployment_changed_label_and_annotation() {
    let r = flux_case(
        PODINFO,
        deployment_defaults,
        |c| label_and_annotation(c, "no"),
        |d| label_and_annotation(d, "yes"),
        "",
    );
    assert_eq!(
        change_kinds(&r),
        [("metadata.annotations.annotated".to_owned(), "changed"), ("metadata.labels.labeled".to_owned(), "changed")]
    );
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with ignored
// change path": `IgnorePaths{"/metadata/annotations/annotated"}`.
#[test]
fn jsondiff_deployment_ignored_change_path() {
    let rule = "- paths: [/metadata/annotations/annotated]";
    let r = flux_case(
        PODINFO,
        deployment_defaults,
        |c| label_and_annotation(c, "no"),
        |d| label_and_annotation(d, "yes"),
        rule,
    );
    assert_eq!(paths(&r), ["metadata.labels.labeled"]);
    assert_eq!(suppressed(&r), ["metadata.annotations.annotated"]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with ignored
// root path": `IgnorePaths{IgnorePathRoot}`, the RFC 6901 root pointer "", excludes the whole
// object. Here: a rule with `paths: [""]` compiles and suppresses every difference.
#[test]
fn jsondiff_deployment_ignored_root_path() {
    let rule = compile_one(r#"paths: [""]"#);
    assert!(rule.is_ok(), "{:?}", rule.err());
    let r = flux_case(
        PODINFO,
        deployment_defaults,
        |c| label_and_annotation(c, "no"),
        |d| label_and_annotation(d, "yes"),
        r#"- paths: [""]"#,
    );
    assert_status(&r, Status::Synced);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with added
// container".
#[test]
fn jsondiff_deployment_added_container() {
    let add = |d: &mut Value| {
        d["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "nginx", "image": "nginx:latest"}));
    };
    let r = flux_case(PODINFO, deployment_defaults, unchanged, add, "");
    assert_eq!(change_kinds(&r), [("spec.template.spec.containers[name=nginx]".to_owned(), "missing")]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with removed
// container": the cluster has a container the owner applied earlier and Git no longer lists; the
// dry-run apply removes it: a remove op at /spec/template/spec/containers/1.
#[test]
fn jsondiff_deployment_removed_container() {
    let add = |c: &mut Value| {
        c["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "nginx", "image": "nginx:latest"}));
    };
    let r = flux_case(PODINFO, deployment_defaults, add, unchanged, "");
    assert_status(&r, Status::OutOfSync);
    assert_eq!(paths(&r), ["spec.template.spec.containers[name=nginx]"]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment with changed
// container value" and "Deployment with changed container value and ignored path".
#[test]
fn jsondiff_deployment_changed_container_value() {
    let image = |d: &mut Value| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:latest");
    let r = flux_case(PODINFO, deployment_defaults, unchanged, image, "");
    assert_eq!(change_kinds(&r), [("spec.template.spec.containers[name=podinfod].image".to_owned(), "changed")]);
    assert_eq!(r.differences[0].pointer, "/spec/template/spec/containers/0/image");

    let rule = "- paths: [/spec/template/spec/containers/0/image]";
    let r = flux_case(PODINFO, deployment_defaults, unchanged, image, rule);
    assert_status(&r, Status::Synced);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment without
// changes" and "Secret without changes": the server's defaults are not differences.
#[test]
fn jsondiff_without_changes() {
    assert_status(&flux_case(PODINFO, deployment_defaults, unchanged, unchanged, ""), Status::Synced);
    assert_status(&flux_case(EMPTY_SECRET, secret_defaults, unchanged, unchanged, ""), Status::Synced);
    assert_status(&flux_case(PODINFO_SERVICE, service_defaults, unchanged, unchanged, ""), Status::Synced);
}

/// Compares a desired set with a live set, as the detector does.
fn sets(desired: Vec<Value>, live: Vec<Value>, rule_yaml: &str) -> DriftReport {
    let origin = || load::Origin { file: PathBuf::from("x.yaml"), line: Some(1) };
    let d =
        load::index(load::into_manifests(desired.into_iter().map(|v| (v, origin())).collect(), None).unwrap()).unwrap();
    let l = load::into_manifests(live.into_iter().map(|v| (v, origin())).collect(), None).unwrap();
    let rec = reconcilers();
    let rules = rules(rule_yaml);
    report::diff_sets(&d, l, Settings { rules: &rules, reconcilers: &rec, instance_label: false }).unwrap()
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Deployment does not
// exist" and TestUnstructuredList "resources do not exist": DiffTypeCreate is Missing.
#[test]
fn jsondiff_resources_do_not_exist() {
    let r = sets(vec![yaml(PODINFO), yaml(PODINFO_SERVICE)], Vec::new(), "");
    assert_eq!(r.summary.missing, 2);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Secret with added key and
// unmasked value" (MaskSecrets(false)): an added data key. driftgate always masks Secret values;
// the difference itself is the same.
#[test]
fn jsondiff_secret_added_key() {
    let add = |d: &mut Value| d["stringData"] = json!({"foo": "bar"});
    let r = flux_case(EMPTY_SECRET, secret_defaults, unchanged, add, "");
    assert_eq!(change_kinds(&r), [("data".to_owned(), "missing")]);
    assert!(!shown(&r).contains("YmFy"), "{}", shown(&r));
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Secret with changed and
// deleted key and masked value" (and "..., and rationalization enabled", the same changes as one
// replace of /data): the owner applied `foo` and `bar`; Git changes `foo` and drops `bar`, which
// the dry-run apply removes. Flux: remove /data/bar, replace /data/foo (masked before/after).
#[test]
fn jsondiff_secret_changed_and_deleted_key() {
    let cluster = |c: &mut Value| c["stringData"] = json!({"foo": "bar", "bar": "bar"});
    let desired = |d: &mut Value| d["stringData"] = json!({"foo": "baz"});
    let mut c = yaml(EMPTY_SECRET);
    cluster(&mut c);
    // the API server stores stringData as data
    let c = driftgate::diff::normalise::normalise(&c);
    let live = applied_by_flux(&c, secret_defaults);
    let mut d = yaml(EMPTY_SECRET);
    desired(&mut d);
    let r = diff_values(&d, &live, &rules(""));
    assert_eq!(paths(&r), ["data.bar", "data.foo"]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "Secret with changed and
// deleted key and masked value", the part driftgate agrees with: the changed key, masked as two
// different values.
#[test]
fn jsondiff_secret_changed_key_is_masked() {
    let mut c = yaml(EMPTY_SECRET);
    c["stringData"] = json!({"foo": "bar"});
    let live = applied_by_flux(&driftgate::diff::normalise::normalise(&c), secret_defaults);
    let mut d = yaml(EMPTY_SECRET);
    d["stringData"] = json!({"foo": "baz"});
    let r = diff_values(&d, &live, &rules(""));
    assert_eq!(change_kinds(&r), [("data.foo".to_owned(), "changed")]);
    let text = shown(&r);
    assert!(text.contains(mask::MASK_LIVE) && text.contains(mask::MASK_DESIRED), "{text}");
    assert!(!text.contains("YmFy") && !text.contains("YmF6"), "{text}");
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructured "ConfigMap is not masked".
#[test]
fn jsondiff_configmap_is_not_masked() {
    let r = flux_case(
        EMPTY_CONFIGMAP,
        no_defaults,
        |c| c["data"] = json!({"foo": "bar"}),
        |d| d["data"] = json!({"foo": "baz"}),
        "",
    );
    assert_eq!(change_kinds(&r), [("data.foo".to_owned(), "changed")]);
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.contains("\"bar\"") && text.contains("\"baz\""), "{text}");
}

// ---------------------------------------------------------------------------------------------
// ssa/jsondiff/unstructured_test.go TestUnstructuredList
// ---------------------------------------------------------------------------------------------

/// The Deployment and Service of TestUnstructuredList, applied by FLUX, with `desired` applied to
/// Git's copies; the reports in the order Deployment, Service.
fn list_case(desired: impl Fn(&mut Value), rule_yaml: &str) -> Vec<ResourceReport> {
    let fixtures = [(PODINFO, deployment_defaults as fn(&mut Value)), (PODINFO_SERVICE, service_defaults)];
    let mut d = Vec::new();
    let mut l = Vec::new();
    for (f, defaults) in fixtures {
        l.push(applied_by_flux(&yaml(f), defaults));
        let mut g = yaml(f);
        desired(&mut g);
        d.push(g);
    }
    let mut r = sets(d, l, rule_yaml).resources;
    r.sort_by(|a, b| a.key.kind.cmp(&b.key.kind));
    r
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructuredList "resources with
// multiple changes": Git sets replicas 2 (the server defaulted 1) and annotates the Service.
#[test]
fn jsondiff_list_multiple_changes() {
    let r = list_case(
        |o| match o["kind"].as_str() {
            Some("Deployment") => o["spec"]["replicas"] = json!(2),
            _ => set(o, "/metadata/annotations/annotated", json!("yes")),
        },
        "",
    );
    assert_eq!(change_kinds(&r[0]), [("spec.replicas".to_owned(), "changed")]);
    assert_eq!(change_kinds(&r[1]), [("metadata.annotations".to_owned(), "missing")]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructuredList "ignores JSON
// pointers for resources matching selector" and "ignores paths for all resources without selector".
#[test]
fn jsondiff_list_ignore_rules_with_and_without_selector() {
    let change = |o: &mut Value| {
        set(o, "/metadata/annotations/annotated", json!("change"));
        set(o, "/metadata/labels/labeled", json!("change"));
    };
    let r = list_case(change, "- paths: [/metadata/annotations]\n  target:\n    kind: Service");
    assert_eq!(paths(&r[0]), ["metadata.annotations.annotated", "metadata.labels.labeled"]);
    assert_eq!(paths(&r[1]), ["metadata.labels"]);

    let r = list_case(change, "- paths: [/metadata/annotations]");
    assert_eq!(paths(&r[0]), ["metadata.labels.labeled"]);
    assert_eq!(paths(&r[1]), ["metadata.labels"]);
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructuredList "masks Secret data".
#[test]
fn jsondiff_list_masks_secret_data() {
    let r = flux_case(EMPTY_SECRET, secret_defaults, unchanged, |d| d["stringData"] = json!({"foo": "bar"}), "");
    assert_eq!(paths(&r), ["data"]);
    assert!(!shown(&r).contains("YmFy"));
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go TestUnstructuredList "rationalizes data"
// (and Test_diffUnstructured "data change with rationalization"): two values swapped.
#[test]
fn jsondiff_list_rationalizes_data() {
    let r = flux_case(
        EMPTY_CONFIGMAP,
        no_defaults,
        |c| c["data"] = json!({"a": "2", "b": "1"}),
        |d| d["data"] = json!({"a": "1", "b": "2"}),
        "",
    );
    assert_eq!(change_kinds(&r), [("data.a".to_owned(), "changed"), ("data.b".to_owned(), "changed")]);
}

// ---------------------------------------------------------------------------------------------
// ssa/jsondiff/unstructured_test.go Test_diffUnstructuredMetadata and Test_diffUnstructured
// ---------------------------------------------------------------------------------------------

/// A ConfigMap with this metadata (labels, annotations); these cases have no managedFields.
fn cm_meta(meta: &Value) -> Value {
    let mut cm = yaml(EMPTY_CONFIGMAP);
    for (k, v) in meta.as_object().unwrap() {
        cm["metadata"][k] = v.clone();
    }
    cm
}

/// A Test_diffUnstructuredMetadata row: name, cluster metadata, desired metadata, rule, expected changes.
type MetaRow = (&'static str, Value, Value, &'static str, &'static [(&'static str, &'static str)]);

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go Test_diffUnstructuredMetadata, one row per
// case where Flux and driftgate agree (x is the cluster object, y the desired one).
#[test]
fn jsondiff_metadata_rows() {
    let rows: [MetaRow; 6] = [
        (
            "label added",
            json!({"labels": {"foo": "bar"}}),
            json!({"labels": {"foo": "bar", "bar": "foo"}}),
            "",
            &[("metadata.labels.bar", "missing")],
        ),
        (
            "label changed",
            json!({"labels": {"foo": "bar"}}),
            json!({"labels": {"foo": "baz"}}),
            "",
            &[("metadata.labels.foo", "changed")],
        ),
        (
            "annotation added",
            json!({"annotations": {"foo": "bar"}}),
            json!({"annotations": {"foo": "bar", "bar": "foo"}}),
            "",
            &[("metadata.annotations.bar", "missing")],
        ),
        (
            "annotation changed",
            json!({"annotations": {"foo": "bar"}}),
            json!({"annotations": {"foo": "baz"}}),
            "",
            &[("metadata.annotations.foo", "changed")],
        ),
        (
            "label and annotation changed",
            json!({"labels": {"foo": "bar"}, "annotations": {"bar": "foo"}}),
            json!({"labels": {"foo": "baz"}, "annotations": {"bar": "baz"}}),
            "",
            &[("metadata.annotations.bar", "changed"), ("metadata.labels.foo", "changed")],
        ),
        (
            "label and annotation changed with ignore path",
            json!({"labels": {"foo": "bar"}, "annotations": {"bar": "foo"}}),
            json!({"labels": {"foo": "baz"}, "annotations": {"bar": "baz"}}),
            "- paths: [/metadata/annotations/bar]",
            &[("metadata.labels.foo", "changed")],
        ),
    ];
    for (name, x, y, rule, want) in rows {
        let r = diff_values(&cm_meta(&y), &cm_meta(&x), &rules(rule));
        let want: Vec<(String, &str)> = want.iter().map(|(p, k)| ((*p).to_owned(), *k)).collect();
        assert_eq!(change_kinds(&r), want, "{name}");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go Test_diffUnstructuredMetadata "label
// removed" and "annotation removed": the cluster has a label (an annotation) Git lacks; jsondiff
// drops removals from the metadata patch "to avoid false positives due to core Kubernetes
// controllers adding labels", so there is no change.
//
// Deliberate difference (additive drift): the object carries no managedFields, so nothing says a
// reconciler set the extra label, and no default explains it: driftgate reports it as drift. When
// managedFields show that the reconciler owns it, it is pending sync (second half): the next
// apply removes it, as Flux's ResourceManager.Diff and Argo CD's server-side diff also report.
#[test]
fn jsondiff_metadata_removed_is_additive_drift() {
    for (name, x, y) in [
        ("label removed", json!({"labels": {"foo": "bar", "bar": "foo"}}), json!({"labels": {"foo": "bar"}})),
        (
            "annotation removed",
            json!({"annotations": {"foo": "bar", "bar": "foo"}}),
            json!({"annotations": {"foo": "bar"}}),
        ),
    ] {
        let field = x.as_object().unwrap().keys().next().unwrap().clone();
        let r = diff_values(&cm_meta(&y), &cm_meta(&x), &rules(""));
        assert_eq!(change_kinds(&r), [(format!("metadata.{field}.bar"), "added")], "{name}");

        let live = with_managed_fields(cm_meta(&x), vec![entry(FLUX, "Apply", &cm_meta(&x))]);
        let r = diff_values(&cm_meta(&y), &live, &rules(""));
        assert_eq!(r.cause, Some(driftgate::diff::compare::Cause::PendingSync), "{name}");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/unstructured_test.go Test_diffUnstructured "no diff", "spec
// changed", "status changed".
#[test]
fn jsondiff_diff_unstructured_rows() {
    let obj = |replicas: i64, generation: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "test"},
            "spec": {"replicas": replicas}, "status": {"observedGeneration": generation}})
    };
    assert_status(&diff_values(&obj(1, 1), &obj(1, 1), &rules("")), Status::Synced);
    let r = diff_values(&obj(2, 1), &obj(1, 1), &rules(""));
    assert_eq!(change_kinds(&r), [("spec.replicas".to_owned(), "changed")]);
    assert_status(&diff_values(&obj(1, 2), &obj(1, 1), &rules("")), Status::Synced);
}

// ---------------------------------------------------------------------------------------------
// ssa/jsondiff/mask_test.go and diff_test.go
// ---------------------------------------------------------------------------------------------

fn secret_with(data: Value) -> Value {
    let mut s = yaml(EMPTY_SECRET);
    if !data.is_null() {
        s["data"] = data;
    }
    s["type"] = json!("Opaque");
    s
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/mask_test.go TestMaskSecretPatchData, one row per case: replace,
// add and remove of data values, key by key or as a whole map ("rationalized"), and of
// stringData values. No value reaches the output; a changed value shows as a before and an after
// mask that differ.
#[test]
fn mask_secret_patch_data() {
    let rows = [
        ("masks replace data values", json!({"foo": "YmFy", "bar": "Zm9v"}), json!({"foo": "YmF6", "bar": "YmF6"})),
        ("masks add data values", json!({}), json!({"foo": "YmF6", "bar": "YmF6"})),
        ("masks remove data values", json!({"foo": "YmFy", "bar": "Zm9v"}), json!({})),
        (
            "masks rationalized replace data values",
            json!({"foo": "YmFy", "bar": "Zm9v"}),
            json!({"foo": "YmF6", "bar": "YmF6"}),
        ),
        ("masks rationalized add data values", Value::Null, json!({"foo": "YmF6", "bar": "YmF6"})),
        ("masks rationalized remove data values", json!({"foo": "YmFy", "bar": "Zm9v"}), Value::Null),
        (
            "masks rationalized replace complex data values",
            json!({"foo": "YmFy", "bar": "YmF6"}),
            json!({"foo": "YmF6", "baz": "YmFy"}),
        ),
    ];
    for (name, live, git) in rows {
        let r = diff_values(&secret_with(git.clone()), &secret_with(live.clone()), &rules(""));
        assert_eq!(r.status, Status::OutOfSync, "{name}");
        let text = shown(&r);
        for v in ["YmFy", "Zm9v", "YmF6"] {
            assert!(!text.contains(v), "{name}: {v} leaked: {text}");
        }
        if git.get("foo").is_some() && live.get("foo").is_some() {
            assert!(text.contains(mask::MASK_LIVE) && text.contains(mask::MASK_DESIRED), "{name}: {text}");
        }
    }
    for (name, live, git) in [
        ("masks replace stringData values", Some("bar"), Some("baz")),
        ("masks add stringData values", None, Some("baz")),
        ("masks remove stringData values", Some("bar"), None),
    ] {
        let mk = |v: Option<&str>| {
            let mut s = secret_with(Value::Null);
            if let Some(v) = v {
                s["stringData"] = json!({"foo": v});
            }
            s
        };
        let r = diff_values(&mk(git), &driftgate::diff::normalise::normalise(&mk(live)), &rules(""));
        assert_eq!(r.status, Status::OutOfSync, "{name}");
        let text = shown(&r);
        for v in ["bar", "baz", "YmFy", "YmF6"] {
            assert!(!text.contains(&format!("\"{v}\"")), "{name}: {v} leaked: {text}");
        }
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/diff_test.go TestDiffSet_HasChanges, the rows without
// DiffTypeExclude (driftgate has no exclusion): a Missing or an OutOfSync object is a change, a
// Synced one is not, an empty set has none.
#[test]
fn diffset_has_changes() {
    let report = |statuses: &[Status]| {
        let mut r = DriftReport::default();
        for s in statuses {
            let mut one = diff_values(&yaml(EMPTY_CONFIGMAP), &yaml(EMPTY_CONFIGMAP), &rules(""));
            one.status = *s;
            r.push(one);
        }
        r
    };
    assert!(!report(&[Status::Synced, Status::Missing]).summary.in_sync(), "has create");
    assert!(!report(&[Status::Synced, Status::OutOfSync]).summary.in_sync(), "has update");
    assert!(report(&[Status::Synced]).summary.in_sync(), "no changes");
    assert!(report(&[]).summary.in_sync(), "empty");
}

// ---------------------------------------------------------------------------------------------
// ssa/jsondiff/selector_test.go
// ---------------------------------------------------------------------------------------------

/// Whether a Flux-form rule with this `target` (YAML, or None for no target) selects an object
/// of this apiVersion, kind, name, namespace, labels and annotations.
fn selects(
    target: Option<&str>,
    api_version: &str,
    kind: &str,
    name: &str,
    ns: &str,
    labels: Value,
    annotations: Value,
) -> bool {
    let rule = match target {
        Some(t) => format!("paths: [/spec]\ntarget: {t}"),
        None => "paths: [/spec]".to_owned(),
    };
    let rule = compile_one(&rule).unwrap();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}});
    obj["metadata"]["labels"] = labels;
    obj["metadata"]["annotations"] = annotations;
    rule.selects(&key(group, kind, (!ns.is_empty()).then_some(ns), name), &obj)
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchUnstructured, the rows
// driftgate agrees with.
#[test]
fn selector_match_unstructured() {
    let full = r#"{group: apps, version: v1, kind: Deployment, name: "name-.*", namespace: "namespace-.*", labelSelector: "foo.bar/label in (a, b)", annotationSelector: "foo.bar/annotation notin (c)"}"#;
    let rows = [
        (
            "valid input",
            Some(full),
            ("apps/v1", "Deployment", "name-1", "namespace-1"),
            json!({"foo.bar/label": "a"}),
            json!({"foo.bar/annotation": "d"}),
            true,
        ),
        ("nil selector", None, ("apps/v1", "Deployment", "anything", "anything"), json!({}), json!({}), true),
        (
            "mismatched namespace",
            Some("{namespace: exact-namespace}"),
            ("v1", "ConfigMap", "n", "other-namespace"),
            json!({}),
            json!({}),
            false,
        ),
        (
            "mismatched name",
            Some("{name: exact-name}"),
            ("v1", "ConfigMap", "other-name", "ns"),
            json!({}),
            json!({}),
            false,
        ),
        (
            "mismatched GVK",
            Some("{group: apps, version: v1, kind: Deployment}"),
            ("apps/v1", "StatefulSet", "n", "ns"),
            json!({}),
            json!({}),
            false,
        ),
        (
            "combination of mismatches",
            Some(full),
            ("apps/v1", "StatefulSet", "other-name-1", "other-namespace-1"),
            json!({"foo.bar/label": "c"}),
            json!({"foo.bar/annotation": "c"}),
            false,
        ),
        ("empty input object", Some("{}"), ("v1", "ConfigMap", "n", ""), json!({}), json!({}), true),
    ];
    for (name, target, (av, kind, n, ns), labels, annotations, want) in rows {
        assert_eq!(selects(target, av, kind, n, ns, labels, annotations), want, "{name}");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchUnstructured "mismatched
// label" and "mismatched annotation": set-based selectors (`in`, `notin`) as
// `k8s.io/apimachinery/pkg/labels.Parse` reads them.
#[test]
fn selector_match_unstructured_set_based() {
    assert!(
        !selects(
            Some(r#"{labelSelector: "foo.bar/label in (a, b)"}"#),
            "v1",
            "ConfigMap",
            "n",
            "ns",
            json!({"foo.bar/label": "c"}),
            json!({})
        ),
        "mismatched label"
    );
    assert!(
        !selects(
            Some(r#"{annotationSelector: "foo.bar/annotation notin (c)"}"#),
            "v1",
            "ConfigMap",
            "n",
            "ns",
            json!({}),
            json!({"foo.bar/annotation": "c"})
        ),
        "mismatched annotation"
    );
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchGVK, the rows driftgate
// agrees with.
#[test]
fn selector_match_gvk() {
    let rows = [
        ("valid match", Some("{group: apps, version: v1, kind: Deployment}"), ("apps/v1", "Deployment"), true),
        (
            "valid match with regex",
            Some("{group: apps, version: 'v.*', kind: Deployment}"),
            ("apps/v1", "Deployment"),
            true,
        ),
        ("valid match without regex", Some("{}"), ("apps/v1", "Deployment"), true),
        ("invalid group", Some("{group: apps, version: v1, kind: Deployment}"), ("extensions/v1", "Deployment"), false),
        ("invalid kind", Some("{group: apps, version: v1, kind: Deployment}"), ("apps/v1", "StatefulSet"), false),
        ("partial selector", Some("{group: apps, kind: Deployment}"), ("apps/v2", "Deployment"), true),
        ("empty selector", Some("{}"), ("v1", ""), true),
        ("nil selector", None, ("v1", ""), true),
    ];
    for (name, target, (av, kind), want) in rows {
        assert_eq!(selects(target, av, kind, "n", "ns", json!({}), json!({})), want, "{name}");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchGVK "invalid version": a
// target's version narrows by the object's apiVersion.
#[test]
fn selector_match_gvk_version() {
    assert!(!selects(
        Some("{group: apps, version: v1, kind: Deployment}"),
        "apps/v2",
        "Deployment",
        "n",
        "ns",
        json!({}),
        json!({})
    ));
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchName and
// TestSelectorRegex_MatchNamespace, one row per case: anchored regular expressions.
#[test]
fn selector_match_name_and_namespace() {
    let names = [
        ("valid match", Some("{name: name-1}"), "name-1", true),
        ("valid match with regex", Some("{name: 'name-.*'}"), "name-2", true),
        ("invalid name", Some("{name: 'name-.*'}"), "other-name-1", false),
        ("empty selector", Some("{}"), "any-name", true),
        ("nil selector", None, "any-name", true),
    ];
    for (name, target, n, want) in names {
        assert_eq!(selects(target, "v1", "ConfigMap", n, "ns", json!({}), json!({})), want, "name: {name}");
    }
    let namespaces = [
        ("valid match", Some("{namespace: ns-1}"), "ns-1", true),
        ("valid match with regex", Some("{namespace: 'ns-.*'}"), "ns-2", true),
        ("invalid namespace", Some("{namespace: 'ns-.*'}"), "other-ns-1", false),
        ("empty selector", Some("{}"), "any-ns", true),
        ("nil selector", None, "any-ns", true),
    ];
    for (name, target, ns, want) in namespaces {
        assert_eq!(selects(target, "v1", "ConfigMap", "n", ns, json!({}), json!({})), want, "namespace: {name}");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchGVK "empty selector" and
// the name/namespace "empty selector" rows, with the fields written out empty (`Selector{}` has
// every field ""): an empty field places no constraint.
#[test]
fn selector_explicit_empty_fields_match_anything() {
    let empty = r#"{group: "", version: "", kind: "", name: "", namespace: ""}"#;
    assert!(selects(Some(empty), "apps/v1", "Deployment", "n", "ns", json!({}), json!({})));
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchAnnotationSelector and
// TestSelectorRegex_MatchLabelSelector, the rows driftgate agrees with.
#[test]
fn selector_match_label_and_annotation_selectors() {
    let kv = json!({"key-1": "value-1", "key-2": "value-2"});
    for field in ["labelSelector", "annotationSelector"] {
        let (labels, annotations) =
            if field == "labelSelector" { (kv.clone(), json!({})) } else { (json!({}), kv.clone()) };
        let target = format!("{{{field}: key-1=value-1}}");
        assert!(
            selects(Some(&target), "v1", "ConfigMap", "n", "ns", labels.clone(), annotations.clone()),
            "{field}: valid match"
        );
        assert!(
            selects(Some("{}"), "v1", "ConfigMap", "n", "ns", labels.clone(), annotations.clone()),
            "{field}: empty selector"
        );
        assert!(selects(None, "v1", "ConfigMap", "n", "ns", labels, annotations), "{field}: nil selector");
    }
}

// fluxcd/pkg@e2cfd1a ssa/jsondiff/selector_test.go TestSelectorRegex_MatchAnnotationSelector and
// TestSelectorRegex_MatchLabelSelector "invalid annotation" / "invalid label": `key-1 in(value-1)`
// against key-1=value-2 selects nothing.
#[test]
fn selector_match_set_based_selector_rows() {
    let other = json!({"key-1": "value-2"});
    assert!(
        !selects(Some("{labelSelector: 'key-1 in(value-1)'}"), "v1", "ConfigMap", "n", "ns", other.clone(), json!({})),
        "invalid label"
    );
    assert!(
        !selects(Some("{annotationSelector: 'key-1 in(value-1)'}"), "v1", "ConfigMap", "n", "ns", json!({}), other),
        "invalid annotation"
    );
}

// ---------------------------------------------------------------------------------------------
// ssa/manager_diff_test.go
// ---------------------------------------------------------------------------------------------

/// ssa testdata test1.yaml's ConfigMap and Secret (the Secret as the server stores it).
const TEST1_CONFIGMAP: &str =
    r"{apiVersion: v1, kind: ConfigMap, metadata: {name: diff-1, namespace: diff-1}, data: {key: public-key}}";
const TEST1_SECRET: &str = r"{apiVersion: v1, kind: Secret, metadata: {name: diff-1, namespace: diff-1}, immutable: false, stringData: {key: private-key}}";

fn stored(v: &Value) -> Value {
    driftgate::diff::normalise::normalise(v)
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiff "generates empty diff for unchanged
// object" and "generates diff for changed object".
#[test]
fn manager_diff_unchanged_and_changed() {
    let live = applied_by_flux(&yaml(TEST1_CONFIGMAP), no_defaults);
    assert_status(&diff_values(&yaml(TEST1_CONFIGMAP), &live, &rules("")), Status::Synced);
    let mut changed = yaml(TEST1_CONFIGMAP);
    changed["data"]["key"] = json!("diff-test");
    let r = diff_values(&changed, &live, &rules(""));
    assert_eq!(change_kinds(&r), [("data.key".to_owned(), "changed")]);
    assert!(serde_json::to_string(&r).unwrap().contains("diff-test"));
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiff "generates diff for replaced key in
// stringData secret": Git replaces stringData key `key` with `key.new`. Flux's test only checks
// that the change is found (its merged object has `key.new` and no `key`); driftgate reports the
// new key. (That `key`, owned by the reconciler, is not reported is the removal disagreement of
// `manager_diff_removed_map_entry`.)
#[test]
fn manager_diff_replaced_key_in_string_data_secret() {
    let live = applied_by_flux(&stored(&yaml(TEST1_SECRET)), secret_defaults);
    let mut d = yaml(TEST1_SECRET);
    d["stringData"] = json!({"key.new": "diff-test"});
    let r = diff_values(&d, &live, &rules(""));
    assert_status(&r, Status::OutOfSync);
    assert!(paths(&r).contains(&r#"data."key.new""#.to_owned()), "{:?}", paths(&r));
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiff "masks secret values": the new key's name
// shows, its value does not.
#[test]
fn manager_diff_masks_secret_values() {
    let live = applied_by_flux(&stored(&yaml(TEST1_SECRET)), secret_defaults);
    let mut d = yaml(TEST1_SECRET);
    d["stringData"] = json!({"key": "diff-test", "key.new": "diff-test"});
    let r = diff_values(&d, &live, &rules(""));
    assert_status(&r, Status::OutOfSync);
    let text = shown(&r);
    assert!(text.contains("key.new"), "{text}");
    assert!(!text.contains("diff-test") && !text.contains("ZGlmZi10ZXN0"), "{text}");
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiff_Removals "generates empty diff for
// unchanged object" and "generates diff for added map entry".
#[test]
fn manager_diff_added_map_entry() {
    let cm = r"{apiVersion: v1, kind: ConfigMap, metadata: {name: diff-4, namespace: diff-4}}";
    let live = applied_by_flux(&yaml(cm), no_defaults);
    assert_status(&diff_values(&yaml(cm), &live, &rules("")), Status::Synced);
    let mut d = yaml(cm);
    d["data"] = json!({"token": "diff-test"});
    let r = diff_values(&d, &live, &rules(""));
    assert_eq!(change_kinds(&r), [("data".to_owned(), "missing")]);
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiff_Removals "generates diff for removed map
// entry": the manager applied `data.token`; Git removed it; the dry-run apply drops it:
// ConfiguredAction.
#[test]
fn manager_diff_removed_map_entry() {
    let cm =
        r"{apiVersion: v1, kind: ConfigMap, metadata: {name: diff-4, namespace: diff-4}, data: {token: diff-test}}";
    let live = applied_by_flux(&yaml(cm), no_defaults);
    let mut d = yaml(cm);
    d.as_object_mut().unwrap().remove("data");
    let r = diff_values(&d, &live, &rules(""));
    assert_status(&r, Status::OutOfSync);
    assert_eq!(paths(&r), ["data.token"]);
}

/// ssa testdata test6.yaml's HorizontalPodAutoscaler, reduced to the fields the case touches.
const TEST6_HPA: &str = r#"
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: diff-6
      namespace: diff-6
    spec:
      behavior:
        scaleDown:
          policies:
          - periodSeconds: 15
            type: Percent
            value: 100
          selectPolicy: Max
          stabilizationWindowSeconds: 60
      maxReplicas: 30
      metrics:
      - type: Pods
        pods:
          metric:
            name: nginx_http_requests_total
          target:
            averageValue: "4"
            type: AverageValue
      - type: Pods
        pods:
          metric:
            name: nginx_http_requests_total2
          target:
            averageValue: "4"
            type: AverageValue
      minReplicas: 2
      scaleTargetRef:
        apiVersion: apps/v1
        kind: Deployment
        name: frontend
"#;

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestDiffHPA, all four subtests in order: unchanged,
// a metric removed in Git (the metrics list is atomic), unchanged again after applying that, and
// the metric added back.
#[test]
fn manager_diff_hpa() {
    let two = yaml(TEST6_HPA);
    let mut one = two.clone();
    one["spec"]["metrics"].as_array_mut().unwrap().truncate(1);
    let live_two = applied_by_flux(&two, no_defaults);
    assert_status(&diff_values(&two, &live_two, &rules("")), Status::Synced);
    let r = diff_values(&one, &live_two, &rules(""));
    assert_eq!(paths(&r), ["spec.metrics"]);
    let live_one = applied_by_flux(&one, no_defaults);
    assert_status(&diff_values(&one, &live_one, &rules("")), Status::Synced);
    let r = diff_values(&two, &live_one, &rules(""));
    assert_eq!(paths(&r), ["spec.metrics"]);
}

/// ssa testdata test7.yaml's Deployment: PODINFO with an `annotated` annotation and a `labeled` label.
fn test7_deploy() -> Value {
    let mut d = yaml(PODINFO);
    label_and_annotation(&mut d, "yes");
    d
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestHasDrifted_Metadata, one row per case: the live
// object (existing) against the desired one (dry-run); an annotation or a label live has and Git
// does not is drift. (`hasDrifted` compares the two objects directly: there are no managedFields.)
#[test]
fn manager_has_drifted_metadata() {
    let mut dry_run = test7_deploy();
    dry_run["metadata"]["annotations"].as_object_mut().unwrap().remove("annotated");
    let annotated = test7_deploy();
    let mut labeled = dry_run.clone();
    labeled["metadata"]["annotations"] = dry_run["metadata"]["annotations"].clone();
    labeled["metadata"]["labels"]["labeled"] = json!("yes");
    let mut unchanged = dry_run.clone();
    unchanged["metadata"]["labels"].as_object_mut().unwrap().remove("labeled");
    let mut desired = dry_run.clone();
    desired["metadata"]["labels"].as_object_mut().unwrap().remove("labeled");
    let rows = [
        ("returns false if object is unchanged", unchanged, false),
        (
            "returns true if an annotation is removed",
            {
                let mut a = annotated;
                a["metadata"]["labels"].as_object_mut().unwrap().remove("labeled");
                a
            },
            true,
        ),
        ("returns true if an label is removed", labeled, true),
    ];
    for (name, existing, drifted) in rows {
        let r = diff_values(&desired, &existing, &rules(""));
        assert_eq!(r.status == Status::OutOfSync, drifted, "{name}: {:?}", r.differences);
    }
}

/// ssa testdata test11.yaml's CRD with a conversion webhook, with this caBundle.
fn webhook_crd(ca_bundle: &str) -> Value {
    let mut crd = yaml(
        r"
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: webhooks.example.com
          labels:
            kustomize.toolkit.fluxcd.io/name: test
        spec:
          group: example.com
          names:
            kind: Webhook
            listKind: WebhookList
            plural: webhooks
            singular: webhook
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
          conversion:
            strategy: Webhook
            webhook:
              clientConfig:
                service:
                  name: webhook-service
                  namespace: default
                  path: /convert
              conversionReviewVersions: [v1, v1beta1]
    ",
    );
    crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = json!(ca_bundle);
    crd
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_test.go TestResourceManager_Diff_CRDWebhookCABundle, all three
// subtests: Git's invalid caBundle against the valid one live is a change (Flux drops the invalid
// one from the apply, which then removes the field: ConfiguredAction); the same valid caBundle is
// no change; a label change with the valid caBundle is a change of the label alone.
#[test]
fn manager_diff_crd_webhook_ca_bundle() {
    let valid = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t";
    let live = applied_by_flux(&webhook_crd(valid), |c| {
        c["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] = json!(443);
    });
    let r = diff_values(&webhook_crd("invalid-cert-data"), &live, &rules(""));
    assert_eq!(paths(&r), ["spec.conversion.webhook.clientConfig.caBundle"]);

    assert_status(&diff_values(&webhook_crd(valid), &live, &rules("")), Status::Synced);

    let mut labeled = webhook_crd(valid);
    labeled["metadata"]["labels"]["test-change"] = json!("true");
    let r = diff_values(&labeled, &live, &rules(""));
    assert_eq!(change_kinds(&r), [("metadata.labels.test-change".to_owned(), "missing")]);
}

// ---------------------------------------------------------------------------------------------
// ssa/manager_diff_ignore_test.go
// ---------------------------------------------------------------------------------------------

/// ssa testdata test2.yaml's Deployment (no replicas in Git), reduced.
const TEST2_DEPLOY: &str = r"
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: diff-ign
      namespace: diff-ign
    spec:
      minReadySeconds: 3
      revisionHistoryLimit: 5
      progressDeadlineSeconds: 60
      strategy:
        rollingUpdate:
          maxUnavailable: 0
        type: RollingUpdate
      selector:
        matchLabels:
          app: diff-ign
      template:
        metadata:
          labels:
            app: diff-ign
        spec:
          containers:
          - name: podinfod
            image: ghcr.io/stefanprodan/podinfo:6.0.0
            imagePullPolicy: IfNotPresent
            ports:
            - name: http
              containerPort: 9898
            - containerPort: 9125
              protocol: UDP
            - containerPort: 9125
              protocol: TCP
";

/// TEST2_DEPLOY applied by FLUX, then `spec.replicas` force-applied by vpa-controller (which also
/// takes over the selector, template labels and the container's image at their current values).
fn test2_with_vpa_replicas(replicas: i64) -> Value {
    let applied = yaml(TEST2_DEPLOY);
    let mut live = applied_by_flux(&applied, deployment_defaults);
    live["spec"]["replicas"] = json!(replicas);
    let vpa = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "diff-ign", "namespace": "diff-ign"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "diff-ign"}},
            "template": {"metadata": {"labels": {"app": "diff-ign"}},
                "spec": {"containers": [{"name": "podinfod", "image": "ghcr.io/stefanprodan/podinfo:6.0.0"}]}}}});
    live["metadata"]["managedFields"].as_array_mut().unwrap().push(entry("vpa-controller", "Apply", &vpa));
    live
}

const REPLICAS_RULE: &str = "- paths: [/spec/replicas]\n  target:\n    kind: Deployment";

// fluxcd/pkg@e2cfd1a ssa/manager_diff_ignore_test.go TestDiff_DriftIgnoreRules_IgnoredFieldReturnsUnchanged:
// the replicas another controller set are drift (additive: Git does not declare replicas, and
// vpa-controller is not a reconciler), and the rule ignores them: unchanged.
#[test]
fn manager_ignore_rules_ignored_field_returns_unchanged() {
    let live = test2_with_vpa_replicas(5);
    let r = diff_values(&yaml(TEST2_DEPLOY), &live, &rules(""));
    assert_eq!(change_kinds(&r), [("spec.replicas".to_owned(), "added")]);
    let r = diff_values(&yaml(TEST2_DEPLOY), &live, &rules(REPLICAS_RULE));
    assert_status(&r, Status::Synced);
    assert_eq!(suppressed(&r), ["spec.replicas"]);
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_ignore_test.go TestDiff_DriftIgnoreRules_NonIgnoredFieldReturnsConfigured.
#[test]
fn manager_ignore_rules_non_ignored_field_returns_configured() {
    let live = applied_by_flux(&yaml(TEST2_DEPLOY), deployment_defaults);
    let mut d = yaml(TEST2_DEPLOY);
    d["spec"]["minReadySeconds"] = json!(10);
    let r = diff_values(&d, &live, &rules(REPLICAS_RULE));
    assert_eq!(change_kinds(&r), [("spec.minReadySeconds".to_owned(), "changed")]);
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_ignore_test.go TestDiff_DriftIgnoreRules_StripsIgnoredFieldsFromReturnedObjects:
// with other drift present, the ignored field is left out of what is shown.
#[test]
fn manager_ignore_rules_strip_ignored_fields_from_output() {
    let live = test2_with_vpa_replicas(10);
    let mut d = yaml(TEST2_DEPLOY);
    d["spec"]["minReadySeconds"] = json!(42);
    let r = diff_values(&d, &live, &rules(REPLICAS_RULE));
    assert_eq!(paths(&r), ["spec.minReadySeconds"]);
    let views = format!("{:?}{:?}{}", r.live_view, r.desired_view, serde_json::to_string(&r.patch).unwrap());
    assert!(!views.contains("replicas"), "{views}");
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_ignore_test.go TestDiff_DriftIgnoreRules_EmptyRulesFallsBack,
// all three subtests (nil and empty rule lists are the same thing here).
#[test]
fn manager_ignore_rules_empty_rules_fall_back() {
    let live = applied_by_flux(&yaml(TEST1_CONFIGMAP), no_defaults);
    assert_status(&diff_values(&yaml(TEST1_CONFIGMAP), &live, &rules("")), Status::Synced);
    let mut d = yaml(TEST1_CONFIGMAP);
    d["data"]["key"] = json!("new-value");
    assert_status(&diff_values(&d, &live, &rules("")), Status::OutOfSync);
    assert_status(&diff_values(&d, &live, &rules("[]")), Status::OutOfSync);
}

// fluxcd/pkg@e2cfd1a ssa/manager_diff_ignore_test.go TestDiff_DriftIgnoreRules_SelectorScoping: a
// rule for Deployments does not touch a ConfigMap.
#[test]
fn manager_ignore_rules_selector_scoping() {
    let live = applied_by_flux(&yaml(TEST1_CONFIGMAP), no_defaults);
    let mut d = yaml(TEST1_CONFIGMAP);
    d["data"]["key"] = json!("changed-value");
    let r = diff_values(&d, &live, &rules("- paths: [/data/key]\n  target:\n    kind: Deployment"));
    assert_eq!(paths(&r), ["data.key"]);
}

// ---------------------------------------------------------------------------------------------
// ssa/normalize/normalize_test.go
// ---------------------------------------------------------------------------------------------

// fluxcd/pkg@e2cfd1a ssa/normalize/normalize_test.go TestNormalizeUnstructured "adds default port
// protocol to Pod / Deployment / StatefulSet / DaemonSet / ReplicaSet / Job / CronJob", one row
// per kind: ports Git lists without a protocol match the live ones with `protocol: TCP`.
#[test]
fn normalize_default_port_protocol_in_pod_templates() {
    let rows = [
        ("Pod", "v1", "/spec"),
        ("Deployment", "apps/v1", "/spec/template/spec"),
        ("StatefulSet", "apps/v1", "/spec/template/spec"),
        ("DaemonSet", "apps/v1", "/spec/template/spec"),
        ("ReplicaSet", "apps/v1", "/spec/template/spec"),
        ("Job", "batch/v1", "/spec/template/spec"),
        ("CronJob", "batch/v1", "/spec/jobTemplate/spec/template/spec"),
    ];
    for (kind, av, pod) in rows {
        let mk = |protocol: bool| {
            let mut o = json!({"apiVersion": av, "kind": kind, "metadata": {"name": "a", "namespace": "n"}});
            let mut ports = vec![json!({"containerPort": 80}), json!({"containerPort": 8080})];
            if protocol {
                for p in &mut ports {
                    p["protocol"] = json!("TCP");
                }
            }
            set(&mut o, &format!("{pod}/containers"), json!([{"name": "c", "image": "i", "ports": ports}]));
            o
        };
        let r = diff_values(&mk(false), &mk(true), &rules(""));
        assert_eq!(r.status, Status::Synced, "{kind}: {:?}", r.differences);
    }
}

// fluxcd/pkg@e2cfd1a ssa/normalize/normalize_test.go TestNormalizeUnstructured "adds default port
// protocol to Service".
#[test]
fn normalize_default_port_protocol_in_service() {
    let git = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "n"},
        "spec": {"ports": [{"port": 80}, {"port": 443}]}});
    let mut live = git.clone();
    live["spec"]["ports"] =
        json!([{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 443, "protocol": "TCP", "targetPort": 443}]);
    assert_status(&diff_values(&git, &live, &rules("")), Status::Synced);
}

// fluxcd/pkg@e2cfd1a ssa/normalize/normalize_test.go TestNormalizeUnstructured "moves stringData
// to data in Secret", "removes status from any object", "nil writes creationTimestamp on any
// object".
#[test]
fn normalize_string_data_status_and_creation_timestamp() {
    let git = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"foo": "bar"}});
    let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"foo": "YmFy"}});
    assert_status(&diff_values(&git, &live, &rules("")), Status::Synced);

    let git = json!({"apiVersion": "test/v1", "kind": "Test", "metadata": {"name": "t", "namespace": "n"}, "status": {"foo": "bar"}});
    let live = json!({"apiVersion": "test/v1", "kind": "Test", "metadata": {"name": "t", "namespace": "n"}, "status": {"foo": "baz"}});
    assert_status(&diff_values(&git, &live, &rules("")), Status::Synced);

    let git = json!({"apiVersion": "test/v1", "kind": "Test", "metadata": {"name": "t", "namespace": "n", "creationTimestamp": "2020-01-01T00:00:00Z"}});
    let live = json!({"apiVersion": "test/v1", "kind": "Test", "metadata": {"name": "t", "namespace": "n", "creationTimestamp": "2024-05-01T10:00:00Z"}});
    assert_status(&diff_values(&git, &live, &rules("")), Status::Synced);
}
