//! The built-in transformers, run in kustomize's order: patches, namespace, name prefix and
//! suffix, labels, annotations, JSON 6902 patches, replicas, images, replacements.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::fieldspec::{self, FieldSpec, any, gk, kind};
use super::resource::Resource;
use super::spec::Kustomization;
use super::{KustomizeError, patch, replacements};
use crate::model::scope::Scopes;
use crate::render::fs::SourceFs;

/// Runs every transformer the kustomization configures.
pub fn run(
    fs: &dyn SourceFs,
    dir: &Path,
    file: &str,
    k: &Kustomization,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    patch::strategic_merge_entries(fs, dir, file, k, acc)?;
    patch::patches(fs, dir, file, &k.patches, "patches", acc)?;
    if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
        namespace(acc, ns);
    }
    if k.name_prefix.is_some() || k.name_suffix.is_some() {
        prefix_suffix(acc, k.name_prefix.as_deref().unwrap_or(""), k.name_suffix.as_deref().unwrap_or(""));
    }
    // kustomize applies each `labels` entry, then `commonLabels`
    for l in &k.labels {
        labels(acc, &l.pairs, l.include_selectors, l.include_templates || l.include_selectors);
    }
    if !k.common_labels.is_empty() {
        labels(acc, &k.common_labels, true, true);
    }
    if !k.common_annotations.is_empty() {
        annotations(acc, &k.common_annotations);
    }
    patch::patches(fs, dir, file, &k.patches_json6902, "patchesJson6902", acc)?;
    for r in &k.replicas {
        replicas(acc, &r.name, r.count);
    }
    for img in k.images.iter().chain(&k.image_tags) {
        images(acc, img);
    }
    replacements::run(fs, dir, file, k, acc)?;
    Ok(())
}

/// Sets the namespace of every namespaced object, and of the references kustomize follows:
/// ServiceAccount subjects of role bindings and webhook services.
fn namespace(acc: &mut [Resource], ns: &str) {
    let scopes = Scopes::learn(acc.iter().map(|r| &r.object));
    for r in acc.iter_mut() {
        let cluster = scopes.is_cluster_scoped(r.group(), r.kind());
        if !cluster {
            r.set_namespace(ns);
        }
        // kustomize renames a v1 Namespace object to the namespace it sets
        if r.kind() == "Namespace" && r.api_version() == "v1" {
            r.set_name(ns);
        }
        match r.kind() {
            "RoleBinding" | "ClusterRoleBinding" => {
                fieldspec::visit(&mut r.object, "subjects[]", false, &mut |s| {
                    let is_sa = s.get("kind").and_then(Value::as_str) == Some("ServiceAccount");
                    let current = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                    if is_sa
                        && (current.is_empty() || current == "default")
                        && let Some(m) = s.as_object_mut()
                    {
                        m.insert("namespace".into(), Value::String(ns.to_owned()));
                    }
                });
            }
            kind => {
                if let Some((_, path)) = SERVICE_REFS.iter().find(|(k, _)| *k == kind) {
                    fieldspec::visit(&mut r.object, path, false, &mut |svc| {
                        if let Some(m) = svc.as_object_mut() {
                            m.insert("namespace".into(), Value::String(ns.to_owned()));
                        }
                    });
                }
            }
        }
    }
}

/// Where kinds name a Service whose namespace follows the kustomization's.
const SERVICE_REFS: &[(&str, &str)] = &[
    ("ValidatingWebhookConfiguration", "webhooks[]/clientConfig/service"),
    ("MutatingWebhookConfiguration", "webhooks[]/clientConfig/service"),
    ("APIService", "spec/service"),
    ("CustomResourceDefinition", "spec/conversion/webhook/clientConfig/service"),
];

/// Kinds whose names the prefix and suffix leave alone.
const NO_PREFIX: &[&str] = &["CustomResourceDefinition", "APIService", "Namespace"];

fn prefix_suffix(acc: &mut [Resource], prefix: &str, suffix: &str) {
    for r in acc.iter_mut() {
        if NO_PREFIX.contains(&r.kind()) {
            continue;
        }
        let name = format!("{prefix}{}{suffix}", r.name());
        r.set_name(&name);
    }
}

/// Label field specs beyond `metadata/labels`: selectors.
const LABEL_SELECTORS: &[FieldSpec] = &[
    kind("ReplicationController", "spec/selector", true),
    kind("Service", "spec/selector", true),
    kind("Deployment", "spec/selector/matchLabels", true),
    kind("ReplicaSet", "spec/selector/matchLabels", true),
    kind("DaemonSet", "spec/selector/matchLabels", true),
    gk("apps", "StatefulSet", "spec/selector/matchLabels", true),
    gk("batch", "Job", "spec/selector/matchLabels", false),
    gk("batch", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    gk("policy", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    gk("networking.k8s.io", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    gk("networking.k8s.io", "NetworkPolicy", "spec/ingress[]/from[]/podSelector/matchLabels", false),
    gk("networking.k8s.io", "NetworkPolicy", "spec/egress[]/to[]/podSelector/matchLabels", false),
    gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution[]/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution[]/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution[]/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution[]/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution[]/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution[]/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution[]/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    gk(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution[]/labelSelector/matchLabels",
        false,
    ),
];

/// Label field specs for pod templates and claim templates.
const LABEL_TEMPLATES: &[FieldSpec] = &[
    kind("ReplicationController", "spec/template/metadata/labels", true),
    kind("Deployment", "spec/template/metadata/labels", true),
    kind("ReplicaSet", "spec/template/metadata/labels", true),
    kind("DaemonSet", "spec/template/metadata/labels", true),
    gk("apps", "StatefulSet", "spec/template/metadata/labels", true),
    gk("apps", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true),
    gk("batch", "Job", "spec/template/metadata/labels", true),
    gk("batch", "CronJob", "spec/jobTemplate/metadata/labels", true),
    gk("batch", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
];

/// Annotation field specs beyond `metadata/annotations`.
const ANNOTATION_TEMPLATES: &[FieldSpec] = &[
    kind("ReplicationController", "spec/template/metadata/annotations", true),
    kind("Deployment", "spec/template/metadata/annotations", true),
    kind("ReplicaSet", "spec/template/metadata/annotations", true),
    kind("DaemonSet", "spec/template/metadata/annotations", true),
    gk("apps", "StatefulSet", "spec/template/metadata/annotations", true),
    gk("batch", "Job", "spec/template/metadata/annotations", true),
    gk("batch", "CronJob", "spec/jobTemplate/metadata/annotations", true),
    gk("batch", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
];

fn add_pairs(node: &mut Value, pairs: &BTreeMap<String, String>) {
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Some(m) = node.as_object_mut() {
        for (k, v) in pairs {
            m.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

fn apply_specs(r: &mut Resource, specs: &[FieldSpec], pairs: &BTreeMap<String, String>) {
    let chosen: Vec<&FieldSpec> = specs.iter().filter(|s| s.applies(r)).collect();
    for spec in chosen {
        fieldspec::visit(&mut r.object, spec.path, spec.create, &mut |n| add_pairs(n, pairs));
    }
}

fn labels(acc: &mut [Resource], pairs: &BTreeMap<String, String>, selectors: bool, templates: bool) {
    const META: &[FieldSpec] = &[any("metadata/labels", true)];
    for r in acc.iter_mut() {
        apply_specs(r, META, pairs);
        if selectors {
            apply_specs(r, LABEL_SELECTORS, pairs);
        }
        if templates {
            apply_specs(r, LABEL_TEMPLATES, pairs);
        }
    }
}

fn annotations(acc: &mut [Resource], pairs: &BTreeMap<String, String>) {
    const META: &[FieldSpec] = &[any("metadata/annotations", true)];
    for r in acc.iter_mut() {
        apply_specs(r, META, pairs);
        apply_specs(r, ANNOTATION_TEMPLATES, pairs);
    }
}

/// Kinds whose `spec/replicas` the replicas field sets.
const REPLICAS: &[FieldSpec] = &[
    kind("Deployment", "spec/replicas", true),
    kind("ReplicationController", "spec/replicas", true),
    kind("ReplicaSet", "spec/replicas", true),
    gk("apps", "StatefulSet", "spec/replicas", true),
];

fn replicas(acc: &mut [Resource], name: &str, count: i64) {
    for r in acc.iter_mut().filter(|r| r.name() == name || r.original_name == name) {
        let chosen: Vec<&FieldSpec> = REPLICAS.iter().filter(|s| s.applies(r)).collect();
        for spec in chosen {
            fieldspec::visit(&mut r.object, spec.path, spec.create, &mut |n| *n = Value::from(count));
        }
    }
}

/// Rewrites every container image (in `containers` and `initContainers`, wherever they sit)
/// whose name is `img.name`.
fn images(acc: &mut [Resource], img: &super::spec::Image) {
    for r in acc.iter_mut() {
        visit_containers(&mut r.object, &mut |c| {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                return;
            };
            if let Some(new) = rewrite_image(image, img)
                && let Some(m) = c.as_object_mut()
            {
                m.insert("image".into(), Value::String(new));
            }
        });
    }
}

fn visit_containers(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers") && child.is_array() {
                    if let Some(items) = child.as_array_mut() {
                        for item in items {
                            f(item);
                        }
                    }
                } else {
                    visit_containers(child, f);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|i| visit_containers(i, f)),
        _ => {}
    }
}

/// Splits `name[:tag][@digest]`; a colon inside the registry host (`host:5000/app`) is not a tag.
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

/// The rewritten image, or `None` when the entry does not name this image.
fn rewrite_image(image: &str, img: &super::spec::Image) -> Option<String> {
    let (name, tag, digest) = split_image(image);
    if name != img.name {
        return None;
    }
    let new_name = img.new_name.as_deref().unwrap_or(name);
    let out = if let Some(d) = &img.digest {
        format!("{new_name}@{d}")
    } else if let Some(t) = &img.new_tag {
        format!("{new_name}:{t}")
    } else {
        let mut s = new_name.to_owned();
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
            if let Some(suffix) = &img.tag_suffix {
                s.push_str(suffix);
            }
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        s
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::kustomize::spec::Image;

    #[test]
    fn image_names() {
        assert_eq!(split_image("nginx"), ("nginx", None, None));
        assert_eq!(split_image("nginx:1.25"), ("nginx", Some("1.25"), None));
        assert_eq!(split_image("reg:5000/app:v1@sha256:ab"), ("reg:5000/app", Some("v1"), Some("sha256:ab")));
        let img = Image { name: "myapp".into(), new_tag: Some("v1.2.3".into()), ..Image::default() };
        assert_eq!(rewrite_image("myapp:latest", &img).as_deref(), Some("myapp:v1.2.3"));
        assert_eq!(rewrite_image("other:latest", &img), None);
        let img = Image {
            name: "myapp".into(),
            new_name: Some("reg/myapp".into()),
            digest: Some("sha256:1".into()),
            ..Image::default()
        };
        assert_eq!(rewrite_image("myapp:latest", &img).as_deref(), Some("reg/myapp@sha256:1"));
    }
}
