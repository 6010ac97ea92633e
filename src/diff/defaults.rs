//! Well-known server defaults of the built-in kinds.
//!
//! A field that Git does not declare is drift only when someone other than a reconciler set it
//! *and* no default explains its value. This table is that explanation. It matters because the
//! manager that creates an object with an Update (`kubectl create`, client-side apply) is
//! recorded as the owner of every defaulted field too. See `docs/semantics.md`.

use serde_json::Value;

/// What value a default takes.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly this string.
    Str(&'static str),
    /// Exactly this integer.
    Int(i64),
    /// Exactly this boolean.
    Bool(bool),
    /// Any one of these strings.
    OneOf(&'static [&'static str]),
    /// Any value: allocated or mirrored by the server or a controller.
    Any,
}

/// One row: a path pattern, matched against the end of a field's path, and its default.
///
/// Pattern steps are map keys, `[]` for a list item, `*` for any key, and `a|b` for either;
/// a leading `^` anchors the pattern at the object's root.
struct Default {
    kinds: &'static [&'static str],
    pattern: &'static str,
    expect: Expect,
}

const fn row(pattern: &'static str, expect: Expect) -> Default {
    Default { kinds: &[], pattern, expect }
}

/// The table. Kinds are empty when a row holds for every kind.
const TABLE: &[Default] = &[
    // every object
    row("^status", Expect::Any),
    row("^metadata.finalizers", Expect::Any),
    row("^metadata.ownerReferences", Expect::Any),
    row("template.metadata.creationTimestamp", Expect::Any),
    // workloads
    row("^spec.replicas", Expect::Int(1)),
    row("^spec.progressDeadlineSeconds", Expect::Int(600)),
    row("^spec.revisionHistoryLimit", Expect::Int(10)),
    row("^spec.strategy.type", Expect::Str("RollingUpdate")),
    row("^spec.strategy.rollingUpdate.maxSurge", Expect::Str("25%")),
    row("^spec.strategy.rollingUpdate.maxUnavailable", Expect::Str("25%")),
    row("^spec.podManagementPolicy", Expect::Str("OrderedReady")),
    row("^spec.updateStrategy.type", Expect::Str("RollingUpdate")),
    row("^spec.updateStrategy.rollingUpdate.partition", Expect::Int(0)),
    row("^spec.updateStrategy.rollingUpdate.maxUnavailable", Expect::Int(1)),
    row("^spec.updateStrategy.rollingUpdate.maxSurge", Expect::Int(0)),
    row("^spec.persistentVolumeClaimRetentionPolicy.whenDeleted", Expect::Str("Retain")),
    row("^spec.persistentVolumeClaimRetentionPolicy.whenScaled", Expect::Str("Retain")),
    row("volumeClaimTemplates.[].apiVersion", Expect::Str("v1")),
    row("volumeClaimTemplates.[].kind", Expect::Str("PersistentVolumeClaim")),
    row("volumeClaimTemplates.[].spec.volumeMode", Expect::Str("Filesystem")),
    row("volumeClaimTemplates.[].status", Expect::Any),
    // jobs and cron jobs
    row("spec.backoffLimit", Expect::Int(6)),
    row("spec.completions", Expect::Int(1)),
    row("spec.parallelism", Expect::Int(1)),
    row("spec.completionMode", Expect::Str("NonIndexed")),
    row("spec.suspend", Expect::Bool(false)),
    row("spec.podReplacementPolicy", Expect::Any),
    row("spec.selector.matchLabels.\"controller-uid|batch.kubernetes.io/controller-uid\"", Expect::Any),
    row(
        "template.metadata.labels.\"controller-uid|job-name|batch.kubernetes.io/controller-uid|batch.kubernetes.io/job-name\"",
        Expect::Any,
    ),
    row("^spec.concurrencyPolicy", Expect::Str("Allow")),
    row("^spec.failedJobsHistoryLimit", Expect::Int(1)),
    row("^spec.successfulJobsHistoryLimit", Expect::Int(3)),
    // pod specs, wherever they sit
    row("spec.dnsPolicy", Expect::Str("ClusterFirst")),
    row("spec.restartPolicy", Expect::Str("Always")),
    row("spec.schedulerName", Expect::Str("default-scheduler")),
    row("spec.terminationGracePeriodSeconds", Expect::Int(30)),
    row("spec.serviceAccount", Expect::Any),
    row("spec.enableServiceLinks", Expect::Bool(true)),
    row("spec.priority", Expect::Any),
    row("spec.preemptionPolicy", Expect::Str("PreemptLowerPriority")),
    row("containers|initContainers|ephemeralContainers.[].imagePullPolicy", Expect::OneOf(&["IfNotPresent", "Always"])),
    row("containers|initContainers|ephemeralContainers.[].terminationMessagePath", Expect::Str("/dev/termination-log")),
    row("containers|initContainers|ephemeralContainers.[].terminationMessagePolicy", Expect::Str("File")),
    row("livenessProbe|readinessProbe|startupProbe.timeoutSeconds", Expect::Int(1)),
    row("livenessProbe|readinessProbe|startupProbe.periodSeconds", Expect::Int(10)),
    row("livenessProbe|readinessProbe|startupProbe.successThreshold", Expect::Int(1)),
    row("livenessProbe|readinessProbe|startupProbe.failureThreshold", Expect::Int(3)),
    row("httpGet.scheme", Expect::Str("HTTP")),
    row("valueFrom.fieldRef.apiVersion", Expect::Str("v1")),
    row("configMap|secret|projected|downwardAPI.defaultMode", Expect::Int(420)),
    row("hostPath.type", Expect::Str("")),
    row("ports.[].protocol", Expect::Str("TCP")),
    // services
    row("^spec.clusterIP", Expect::Any),
    row("^spec.clusterIPs", Expect::Any),
    row("^spec.ipFamilies", Expect::Any),
    row("^spec.ipFamilyPolicy", Expect::Any),
    row("^spec.internalTrafficPolicy", Expect::Str("Cluster")),
    row("^spec.externalTrafficPolicy", Expect::Str("Cluster")),
    row("^spec.sessionAffinity", Expect::Str("None")),
    row("^spec.sessionAffinityConfig.clientIP.timeoutSeconds", Expect::Int(10800)),
    row("^spec.type", Expect::Str("ClusterIP")),
    row("^spec.allocateLoadBalancerNodePorts", Expect::Bool(true)),
    row("^spec.healthCheckNodePort", Expect::Any),
    row("^spec.ports.[].nodePort", Expect::Any),
    row("^spec.ports.[].targetPort", Expect::Any),
    // claims, bindings, namespaces, secrets, service accounts
    row("^spec.volumeMode", Expect::Str("Filesystem")),
    row("^spec.volumeName", Expect::Any),
    row("^spec.storageClassName", Expect::Any),
    row("subjects.[].apiGroup", Expect::Any),
    Default { kinds: &["Namespace"], pattern: "^spec.finalizers", expect: Expect::Any },
    Default { kinds: &["Namespace"], pattern: "^metadata.labels.\"kubernetes.io/metadata.name\"", expect: Expect::Any },
    Default { kinds: &["Secret"], pattern: "^type", expect: Expect::Str("Opaque") },
    Default { kinds: &["ServiceAccount"], pattern: "^secrets", expect: Expect::Any },
];

/// A row with its pattern split once: steps, each a list of alternatives.
struct Compiled {
    row: &'static Default,
    anchored: bool,
    steps: Vec<Vec<&'static str>>,
}

/// The compiled rows, indexed by the last step they match, since every lookup knows its field.
struct Index {
    by_last: std::collections::HashMap<&'static str, Vec<Compiled>>,
}

static INDEX: std::sync::LazyLock<Index> = std::sync::LazyLock::new(|| {
    let mut by_last: std::collections::HashMap<&'static str, Vec<Compiled>> = std::collections::HashMap::new();
    for row in TABLE {
        let (anchored, pattern) = match row.pattern.strip_prefix('^') {
            Some(p) => (true, p),
            None => (false, row.pattern),
        };
        let steps: Vec<Vec<&'static str>> =
            split_pattern(pattern).into_iter().map(|s| s.split('|').collect()).collect();
        for last in steps.last().cloned().unwrap_or_default() {
            by_last.entry(last).or_default().push(Compiled { row, anchored, steps: steps.clone() });
        }
    }
    Index { by_last }
});

/// The rows whose last step is the last step of `shape`.
fn candidates(shape: &[&str]) -> &'static [Compiled] {
    shape.last().and_then(|l| INDEX.by_last.get(*l)).map_or(&[], Vec::as_slice)
}

impl Compiled {
    fn applies(&self, kind: &str, shape: &[&str]) -> bool {
        let n = self.steps.len();
        if n > shape.len() || (self.anchored && n != shape.len()) {
            return false;
        }
        (self.row.kinds.is_empty() || self.row.kinds.contains(&kind))
            && self.steps.iter().rev().zip(shape.iter().rev()).all(|(alts, s)| alts.iter().any(|a| *a == "*" || a == s))
    }
}

/// True when a default of the server explains `value` at `shape` in an object of `kind`.
///
/// Empty maps, empty lists and nulls are always explained: they carry no configuration.
pub fn explains(kind: &str, shape: &[&str], value: &Value) -> bool {
    if is_empty(value) {
        return true;
    }
    candidates(shape).iter().any(|c| {
        c.applies(kind, shape)
            && match c.row.expect {
                Expect::Any => true,
                Expect::Str(d) => value.as_str() == Some(d),
                Expect::Int(d) => value.as_i64() == Some(d),
                Expect::Bool(d) => value.as_bool() == Some(d),
                Expect::OneOf(options) => value.as_str().is_some_and(|s| options.contains(&s)),
            }
    })
}

/// True when a whole subtree at `shape` is explained whatever it holds (an `Any` row).
pub fn explains_subtree(kind: &str, shape: &[&str]) -> bool {
    candidates(shape).iter().any(|c| matches!(c.row.expect, Expect::Any) && c.applies(kind, shape))
}

/// True for null, `{}` and `[]`.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Groups whose kinds this table describes; for others only managedFields can tell edits apart.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "node.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "certificates.k8s.io"
    )
}

/// Splits a pattern at dots; a quoted step (`"kubernetes.io/metadata.name"`) keeps its dots.
fn split_pattern(pattern: &str) -> Vec<&str> {
    let mut steps = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            steps.push(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            steps.push(&rest[..end]);
            rest = rest.get(end + 1..).unwrap_or("");
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_spec_defaults_anywhere() {
        let shape = ["spec", "template", "spec", "containers", "[]", "imagePullPolicy"];
        assert!(explains("Deployment", &shape, &json!("IfNotPresent")));
        assert!(!explains("Deployment", &shape, &json!("Never")));
        let cron = ["spec", "jobTemplate", "spec", "template", "spec", "dnsPolicy"];
        assert!(explains("CronJob", &cron, &json!("ClusterFirst")));
    }

    #[test]
    fn anchored_rows_only_at_root() {
        assert!(explains("Deployment", &["spec", "replicas"], &json!(1)));
        assert!(!explains("Deployment", &["spec", "replicas"], &json!(3)));
        assert!(!explains("X", &["spec", "foo", "spec", "replicas"], &json!(1)));
    }

    #[test]
    fn dotted_keys_in_patterns() {
        assert!(explains("Namespace", &["metadata", "labels", "kubernetes.io/metadata.name"], &json!("x")));
        assert!(!explains("ConfigMap", &["metadata", "labels", "kubernetes.io/metadata.name"], &json!("x")));
        assert!(explains(
            "Job",
            &["spec", "template", "metadata", "labels", "batch.kubernetes.io/job-name"],
            &json!("x")
        ));
    }

    #[test]
    fn empties_are_explained() {
        assert!(explains("X", &["spec", "anything"], &json!({})));
        assert!(explains("X", &["spec", "anything"], &json!([])));
        assert!(explains("X", &["spec", "anything"], &json!(null)));
        assert!(!explains("X", &["spec", "anything"], &json!("v")));
    }

    #[test]
    fn subtree_rows() {
        assert!(explains_subtree("Service", &["spec", "clusterIPs"]));
        assert!(explains_subtree("X", &["status"]));
        assert!(!explains_subtree("X", &["spec"]));
    }
}
