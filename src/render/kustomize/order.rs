//! kustomize's output order: `legacy` (the default of `kustomize build`) or `fifo`.

use super::resource::Resource;
use super::spec::SortOptions;

/// Kinds printed first, in this order.
const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds printed last, in this order.
const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// Sorts resources in place.
pub fn sort(resources: &mut [Resource], options: Option<&SortOptions>) {
    if options.and_then(|o| o.order.as_deref()) == Some("fifo") {
        return;
    }
    let legacy = options.and_then(|o| o.legacy_sort_options.as_ref());
    let first: Vec<&str> =
        legacy.map_or_else(|| ORDER_FIRST.to_vec(), |l| l.order_first.iter().map(String::as_str).collect());
    let last: Vec<&str> =
        legacy.map_or_else(|| ORDER_LAST.to_vec(), |l| l.order_last.iter().map(String::as_str).collect());
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| *k == kind) {
            i64::try_from(i).unwrap_or(0) - i64::try_from(first.len()).unwrap_or(0)
        } else if let Some(i) = last.iter().position(|k| *k == kind) {
            i64::try_from(i).unwrap_or(0) + 1
        } else {
            0
        }
    };
    // same kind: namespace before name, an empty namespace as "~X" (after named ones)
    resources.sort_by_cached_key(|r| {
        (rank(r.kind()), gvk_string(r), r.namespace().unwrap_or("~X").to_owned(), r.name().to_owned())
    });
}

/// kustomize's `Gvk.String()`: `group_version_kind`, with `~G`, `~V`, `~K` for empty parts.
fn gvk_string(r: &Resource) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() { d.to_owned() } else { s.to_owned() }
    };
    format!("{}_{}_{}", or(r.group(), "~G"), or(r.version(), "~V"), or(r.kind(), "~K"))
}
