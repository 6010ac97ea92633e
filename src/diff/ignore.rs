//! Ignore rules: Argo CD's `ignoreDifferences` schema verbatim, Flux's `ignore` form, and the
//! built-in `/status` rule. Every suppressed difference records the rule that suppressed it.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compare::{Change, Difference};
use super::jq::JqPath;
use super::managed_fields::ManagedFields;
use super::path::{Side, tokens_of};
use super::selector::Selector as LabelSelector;
use crate::model::ResourceKey;

/// The annotation `kubectl rollout restart` sets on a pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// One entry of `ignoreDifferences`: Argo CD's fields, or Flux's `paths` and `target`.
///
/// Both forms share one struct so that an unknown key is reported with its name and line.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IgnoreRuleSpec {
    /// API group glob; omitted means the core group, as in Argo CD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind glob; required in Argo CD's form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Exact name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Exact namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// RFC 6901 pointers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// jq path expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    /// Fields owned by these managers are ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
    /// Flux's form: RFC 6901 pointers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Flux's form: which objects, by regular expressions. Omitted means every object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<FluxTarget>,
}

/// Flux's target selector.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxTarget {
    /// Group regex.
    #[serde(default)]
    pub group: Option<String>,
    /// Version regex, matched against the version of the object's `apiVersion`.
    #[serde(default)]
    pub version: Option<String>,
    /// Kind regex.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name regex.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace regex.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Label selector, Kubernetes' string form (`k=v`, `k!=v`, `k in (a, b)`, `k notin (a)`,
    /// `k`, `!k`, joined by commas).
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Annotation selector, in the same form.
    #[serde(default)]
    pub annotation_selector: Option<String>,
}

/// Why a rule could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A JSON pointer does not start with `/`.
    #[error("{origin}: {field}: {pointer:?} is not a JSON pointer (it must start with '/')")]
    Pointer {
        /// The rule.
        origin: String,
        /// The field the user wrote: `jsonPointers` or `paths`.
        field: &'static str,
        /// The pointer.
        pointer: String,
    },
    /// A jq expression does not compile.
    #[error("{origin}: jqPathExpressions: {message}")]
    Jq {
        /// The rule.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The rule mixes the two forms or lacks a required field.
    #[error("{origin}: {message}")]
    Shape {
        /// The rule.
        origin: String,
        /// What is wrong.
        message: &'static str,
    },
    /// A label or annotation selector does not parse.
    #[error("{origin}: target.{field}: {message}")]
    Selector {
        /// The rule.
        origin: String,
        /// Which field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A regular expression does not compile.
    #[error("{origin}: target.{field}: {source}")]
    Regex {
        /// The rule.
        origin: String,
        /// Which field.
        field: &'static str,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
}

enum Selector {
    Argo {
        group: String,
        kind: String,
        name: Option<String>,
        namespace: Option<String>,
    },
    Flux {
        group: Option<Regex>,
        version: Option<Regex>,
        kind: Option<Regex>,
        name: Option<Regex>,
        namespace: Option<Regex>,
        labels: LabelSelector,
        annotations: LabelSelector,
    },
    All,
}

/// A compiled rule.
pub struct Rule {
    /// Where the rule was written, e.g. `ignoreDifferences[0]` or `sources[guestbook].ignoreDifferences[1]`.
    pub origin: String,
    selector: Selector,
    pointers: Vec<(String, Vec<String>)>,
    jq: Vec<JqPath>,
    managers: Vec<String>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// Why a difference was suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The rule, e.g. `ignoreDifferences[0]`.
    pub rule: String,
    /// The part of the rule that matched, e.g. `jsonPointers /spec/replicas`.
    pub matched: String,
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.rule, self.matched)
    }
}

impl Rule {
    /// The same rule with its jq expressions under another budget.
    #[must_use]
    pub fn with_jq_budget(mut self, budget: super::jq::Budget) -> Self {
        self.jq = self.jq.into_iter().map(|q| q.with_budget(budget)).collect();
        self
    }

    /// The built-in rule for rollout restarts (`admission.allowRolloutRestart`): the
    /// `kubectl.kubernetes.io/restartedAt` annotation of any pod template is never drift.
    pub fn rollout_restart() -> Self {
        let pointer = format!("/spec/template/metadata/annotations/{}", RESTARTED_AT.replace('/', "~1"));
        Self {
            origin: "built-in (admission.allowRolloutRestart)".into(),
            selector: Selector::All,
            pointers: vec![(pointer.clone(), tokens_of(&pointer))],
            jq: Vec::new(),
            managers: Vec::new(),
        }
    }

    /// The built-in rule: `/status` is never compared.
    pub fn status() -> Self {
        Self {
            origin: "built-in".into(),
            selector: Selector::All,
            pointers: vec![("/status".into(), vec!["status".into()])],
            jq: Vec::new(),
            managers: Vec::new(),
        }
    }

    /// Compiles a rule written at `origin`.
    pub fn compile(spec: &IgnoreRuleSpec, origin: String) -> Result<Self, RuleError> {
        // Flux's `paths` take the RFC 6901 root `""` (the whole object); Argo CD's jsonPointers
        // do not. Errors name the field the user wrote.
        let pointer = |field: &'static str, p: &String| {
            if p.starts_with('/') || (field == "paths" && p.is_empty()) {
                Ok((p.clone(), tokens_of(p)))
            } else {
                Err(RuleError::Pointer { origin: origin.clone(), field, pointer: p.clone() })
            }
        };
        if let Some(paths) = &spec.paths {
            let argo_fields = spec.group.is_some()
                || spec.kind.is_some()
                || spec.name.is_some()
                || spec.namespace.is_some()
                || !spec.json_pointers.is_empty()
                || !spec.jq_path_expressions.is_empty()
                || !spec.managed_fields_managers.is_empty();
            if argo_fields {
                return Err(RuleError::Shape {
                    origin,
                    message: "a rule has either Flux's `paths`/`target` or Argo CD's fields, not both",
                });
            }
            let t = spec.target.clone().unwrap_or_default();
            // as in Flux, an empty field matches anything
            let re = |field: &'static str, v: &Option<String>| -> Result<Option<Regex>, RuleError> {
                v.as_deref()
                    .filter(|s| !s.is_empty())
                    .map(|s| Regex::new(&format!("^(?:{s})$")))
                    .transpose()
                    .map_err(|source| RuleError::Regex { origin: origin.clone(), field, source })
            };
            let sel = |field: &'static str, v: &Option<String>| {
                LabelSelector::parse(v.as_deref().unwrap_or("")).map_err(|message| RuleError::Selector {
                    origin: origin.clone(),
                    field,
                    message,
                })
            };
            return Ok(Self {
                selector: Selector::Flux {
                    group: re("group", &t.group)?,
                    version: re("version", &t.version)?,
                    kind: re("kind", &t.kind)?,
                    name: re("name", &t.name)?,
                    namespace: re("namespace", &t.namespace)?,
                    labels: sel("labelSelector", &t.label_selector)?,
                    annotations: sel("annotationSelector", &t.annotation_selector)?,
                },
                pointers: paths.iter().map(|p| pointer("paths", p)).collect::<Result<_, _>>()?,
                jq: Vec::new(),
                managers: Vec::new(),
                origin,
            });
        }
        if spec.target.is_some() {
            return Err(RuleError::Shape { origin, message: "`target` goes with Flux's `paths`" });
        }
        let Some(kind) = spec.kind.clone() else {
            return Err(RuleError::Shape { origin, message: "`kind` is required (use '*' for every kind)" });
        };
        let jq = spec
            .jq_path_expressions
            .iter()
            .map(|e| JqPath::compile(e).map_err(|message| RuleError::Jq { origin: origin.clone(), message }))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            selector: Selector::Argo {
                group: spec.group.clone().unwrap_or_default(),
                kind,
                name: spec.name.clone(),
                namespace: spec.namespace.clone(),
            },
            pointers: spec.json_pointers.iter().map(|p| pointer("jsonPointers", p)).collect::<Result<_, _>>()?,
            jq,
            managers: spec.managed_fields_managers.clone(),
            origin,
        })
    }

    /// True when the rule applies to the object with this key (and, for Flux, these labels).
    pub fn selects(&self, key: &ResourceKey, obj: &Value) -> bool {
        match &self.selector {
            Selector::All => true,
            Selector::Argo { group, kind, name, namespace } => {
                glob(group, &key.group)
                    && glob(kind, &key.kind)
                    && name.as_ref().is_none_or(|n| *n == key.name)
                    && namespace.as_ref().is_none_or(|n| Some(n.as_str()) == key.namespace.as_deref())
            }
            Selector::Flux { group, version, kind, name, namespace, labels, annotations } => {
                let m = |r: &Option<Regex>, v: &str| r.as_ref().is_none_or(|r| r.is_match(v));
                let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                let v = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
                let meta = |field: &str| obj.pointer(&format!("/metadata/{field}")).and_then(Value::as_object);
                m(group, &key.group)
                    && m(version, v)
                    && m(kind, &key.kind)
                    && m(name, &key.name)
                    && m(namespace, key.namespace.as_deref().unwrap_or(""))
                    && labels.matches(meta("labels"))
                    && annotations.matches(meta("annotations"))
            }
        }
    }
}

/// Glob match with `*` (any run) and `?` (one character), as Argo CD's rules use.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The rules that apply to one object, with jq paths evaluated on both sides.
pub struct Applicable<'r> {
    rules: Vec<(&'r Rule, Vec<Vec<String>>)>,
    failures: Vec<String>,
}

impl<'r> Applicable<'r> {
    /// Selects the rules for `key` and evaluates their jq expressions on both objects.
    pub fn new(rules: &'r [Rule], key: &ResourceKey, desired: &Value, live: &Value) -> Self {
        let mut failures = Vec::new();
        let rules = rules
            .iter()
            .filter(|r| r.selects(key, desired))
            .map(|r| {
                let mut jq_paths = Vec::new();
                for q in &r.jq {
                    for side in [live, desired] {
                        match q.paths(side) {
                            Ok(paths) => jq_paths.extend(paths),
                            // a rule over its budget selects nothing; the rest of the diff goes on
                            Err(e) => {
                                let failure = format!(
                                    "{}: jqPathExpressions {:?} {e}: it selected nothing",
                                    r.origin,
                                    q.source()
                                );
                                tracing::warn!(object = %key.human(), "{failure}");
                                if !failures.contains(&failure) {
                                    failures.push(failure);
                                }
                            }
                        }
                    }
                }
                (r, jq_paths)
            })
            .collect();
        Self { rules, failures }
    }

    /// The rules that could not be evaluated on this object (a jq budget exceeded), each as a
    /// sentence naming the rule.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// The paths that a pointer or jq rule ignores, as tokens: what self-heal must never write,
    /// as Argo CD's RespectIgnoreDifferences.
    pub fn ignored_paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for (rule, jq_paths) in &self.rules {
            out.extend(rule.pointers.iter().map(|(_, t)| t.clone()));
            out.extend(jq_paths.iter().cloned());
        }
        out
    }

    /// The managers that `managedFieldsManagers` rules leave fields to.
    pub fn ignored_managers(&self) -> Vec<&str> {
        self.rules.iter().flat_map(|(r, _)| r.managers.iter().map(String::as_str)).collect()
    }

    /// True when a pointer or jq path of some rule lies strictly inside `diff`: then only part
    /// of it is ignored, and the difference must be judged part by part.
    pub fn addresses_below(&self, diff: &Difference) -> bool {
        let path = &diff.path;
        let inside = |t: &[String]| path.is_above_tokens(Side::Live, t) || path.is_above_tokens(Side::Desired, t);
        self.rules
            .iter()
            .any(|(rule, jq_paths)| rule.pointers.iter().any(|(_, t)| inside(t)) || jq_paths.iter().any(|t| inside(t)))
    }

    /// The rule that suppresses `diff`, if any.
    pub fn suppression(&self, diff: &Difference, live: &Value, managed: &ManagedFields) -> Option<Suppression> {
        let path = &diff.path;
        let under = |prefix: &[String]| {
            path.starts_with_tokens(Side::Live, prefix) || path.starts_with_tokens(Side::Desired, prefix)
        };
        for (rule, jq_paths) in &self.rules {
            if let Some((p, _)) = rule.pointers.iter().find(|(_, t)| under(t)) {
                let (field, shown) = match rule.selector {
                    Selector::Flux { .. } if p.is_empty() => ("paths", "\"\" (the whole object)"),
                    Selector::Flux { .. } => ("paths", p.as_str()),
                    _ => ("jsonPointers", p.as_str()),
                };
                return Some(Suppression { rule: rule.origin.clone(), matched: format!("{field} {shown}") });
            }
            if jq_paths.iter().any(|t| under(t)) {
                let exprs: Vec<&str> = rule.jq.iter().map(JqPath::source).collect();
                return Some(Suppression {
                    rule: rule.origin.clone(),
                    matched: format!("jqPathExpressions {}", exprs.join("; ")),
                });
            }
            if !matches!(diff.change, Change::Missing { .. }) && !rule.managers.is_empty() {
                let owner = managed
                    .touching(live, &diff.path)
                    .into_iter()
                    .find(|e| rule.managers.iter().any(|m| m == e.manager));
                if let Some(e) = owner {
                    return Some(Suppression {
                        rule: rule.origin.clone(),
                        matched: format!("managedFieldsManagers {}", e.manager),
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::path::FieldPath;
    use serde_json::json;

    fn key() -> ResourceKey {
        ResourceKey::new("apps", "Deployment", Some("prod"), "myapp")
    }

    fn argo(yaml: &str) -> Rule {
        let spec: IgnoreRuleSpec = serde_saphyr::from_str(yaml).unwrap();
        Rule::compile(&spec, "ignoreDifferences[0]".into()).unwrap()
    }

    fn diff_at(fields: &[&str]) -> Difference {
        let mut p = FieldPath::default();
        for f in fields {
            p = p.field(f);
        }
        Difference {
            cause: crate::diff::compare::Cause::Drift,
            path: p,
            change: Change::Changed { live: json!(1), desired: json!(2) },
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", "apps"));
        assert!(glob("app?", "apps"));
        assert!(glob("*.k8s.io", "networking.k8s.io"));
        assert!(!glob("apps", "batch"));
        assert!(glob("", ""));
        assert!(!glob("", "apps"));
    }

    #[test]
    fn argo_selection() {
        let obj = json!({});
        assert!(argo("group: apps\nkind: Deployment\njsonPointers: [/spec/replicas]").selects(&key(), &obj));
        assert!(argo("group: '*'\nkind: '*'").selects(&key(), &obj));
        assert!(!argo("kind: Deployment").selects(&key(), &obj), "omitted group is the core group");
        assert!(!argo("group: apps\nkind: Deployment\nname: other").selects(&key(), &obj));
        assert!(!argo("group: apps\nkind: Deployment\nnamespace: dev").selects(&key(), &obj));
    }

    #[test]
    fn pointer_suppresses_path_and_below() {
        let rule = argo("group: apps\nkind: Deployment\njsonPointers: [/spec/replicas, /spec/template/metadata]");
        let rules = [rule];
        let app = Applicable::new(&rules, &key(), &json!({}), &json!({}));
        let mf = ManagedFields::default();
        let s = app.suppression(&diff_at(&["spec", "replicas"]), &json!({}), &mf).unwrap();
        assert_eq!(s.to_string(), "ignoreDifferences[0] (jsonPointers /spec/replicas)");
        assert!(app.suppression(&diff_at(&["spec", "template", "metadata", "labels", "x"]), &json!({}), &mf).is_some());
        assert!(app.suppression(&diff_at(&["spec", "replicasX"]), &json!({}), &mf).is_none());
        assert!(app.suppression(&diff_at(&["spec"]), &json!({}), &mf).is_none());
    }

    #[test]
    fn jq_rules_apply_on_both_sides() {
        let rule = argo(
            "group: apps\nkind: Deployment\njqPathExpressions: ['.spec.template.spec.containers[] | select(.name == \"istio-proxy\")']",
        );
        let live = json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}}}});
        let rules = [rule];
        let app = Applicable::new(&rules, &key(), &json!({}), &live);
        let p = FieldPath::default().field("spec").field("template").field("spec").field("containers").item(
            "name=istio-proxy".into(),
            Some(1),
            None,
        );
        let d = Difference {
            cause: crate::diff::compare::Cause::Drift,
            path: p,
            change: Change::Added { live: json!({}) },
        };
        assert!(app.suppression(&d, &live, &ManagedFields::default()).is_some());
    }

    #[test]
    fn managers_rule() {
        let rule = argo("group: apps\nkind: Deployment\nmanagedFieldsManagers: [kube-controller-manager]");
        let live = json!({"metadata": {"managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}, "spec": {"replicas": 3}});
        let mf = ManagedFields::of(&live);
        let rules = [rule];
        let app = Applicable::new(&rules, &key(), &json!({}), &live);
        let s = app.suppression(&diff_at(&["spec", "replicas"]), &live, &mf).unwrap();
        assert_eq!(s.matched, "managedFieldsManagers kube-controller-manager");
    }

    #[test]
    fn flux_form() {
        let spec: IgnoreRuleSpec = serde_saphyr::from_str(
            "paths: [/spec/replicas]\ntarget:\n  kind: Deploy.*\n  name: my.*\n  labelSelector: team=a",
        )
        .unwrap();
        assert!(spec.paths.is_some());
        let rule = Rule::compile(&spec, "x".into()).unwrap();
        assert!(rule.selects(&key(), &json!({"metadata": {"labels": {"team": "a"}}})));
        assert!(!rule.selects(&key(), &json!({"metadata": {"labels": {"team": "b"}}})));
    }

    #[test]
    fn mixed_forms_are_errors() {
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("kind: X\npaths: [/a]").unwrap();
        assert!(Rule::compile(&spec, "r".into()).is_err());
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("jsonPointers: [/a]").unwrap();
        assert!(Rule::compile(&spec, "r".into()).unwrap_err().to_string().contains("`kind` is required"));
        assert!(serde_saphyr::from_str::<IgnoreRuleSpec>("kind: X\njsonPointer: [/a]").is_err());
    }

    #[test]
    fn bad_rules_are_errors() {
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("kind: X\njsonPointers: [spec/replicas]").unwrap();
        assert!(Rule::compile(&spec, "r".into()).is_err());
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("kind: X\njqPathExpressions: ['.a[']").unwrap();
        assert!(Rule::compile(&spec, "r".into()).is_err());
    }

    /// Finding 7 of issue 12: Flux's `paths: [""]` excludes the whole object, and a bad path is
    /// named as the user wrote it.
    #[test]
    fn flux_root_path_ignores_the_whole_object() {
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("paths: ['']\ntarget:\n  kind: Deployment").unwrap();
        let rules = [Rule::compile(&spec, "r".into()).unwrap()];
        let app = Applicable::new(&rules, &key(), &json!({}), &json!({}));
        let s = app.suppression(&diff_at(&["spec", "template", "spec"]), &json!({}), &ManagedFields::default());
        assert_eq!(s.unwrap().matched, "paths \"\" (the whole object)");
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("paths: [spec/replicas]").unwrap();
        let err = Rule::compile(&spec, "r".into()).err().unwrap().to_string();
        assert_eq!(err, "r: paths: \"spec/replicas\" is not a JSON pointer (it must start with '/')");
        // Argo CD's jsonPointers keep their own name, and no root
        let spec: IgnoreRuleSpec = serde_saphyr::from_str("kind: X\njsonPointers: ['']").unwrap();
        assert!(Rule::compile(&spec, "r".into()).err().unwrap().to_string().contains("jsonPointers"));
    }
}

#[cfg(test)]
mod sync_check {
    #[test]
    fn rules_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Rule>();
    }
}
