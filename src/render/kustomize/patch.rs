//! Patches: strategic merge (`patchesStrategicMerge`, and `patches` entries that are maps) and
//! JSON 6902 (`patchesJson6902`, and `patches` entries that are lists), with target selection.

use std::path::Path;

use regex::Regex;
use serde_json::{Map, Value};

use super::generate::local_path;
use super::resource::Resource;
use super::spec::{Kustomization, Patch, Target};
use super::{KustomizeError, invalid, read_text};
use crate::diff::defaults::is_builtin_group;
use crate::model::load;
use crate::render::fs::SourceFs;

/// `patchesStrategicMerge`: each entry is a file or an inline patch.
pub fn strategic_merge_entries(
    fs: &dyn SourceFs,
    dir: &Path,
    file: &str,
    k: &Kustomization,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    for entry in &k.patches_strategic_merge {
        let looks_inline = entry.contains('\n') || entry.contains(": ");
        let text = if looks_inline {
            entry.clone()
        } else {
            read_text(fs, &local_path(dir, file, "patchesStrategicMerge", entry)?)?
        };
        for doc in parse_docs(&text, file, "patchesStrategicMerge")? {
            apply_smp(&doc, None, acc, file, false)?;
        }
    }
    Ok(())
}

/// `patches`: strategic merge or JSON 6902, told apart by shape.
pub fn patches(
    fs: &dyn SourceFs,
    dir: &Path,
    file: &str,
    list: &[Patch],
    field: &str,
    acc: &mut Vec<Resource>,
) -> Result<(), KustomizeError> {
    for p in list {
        let text = match (&p.patch, &p.path) {
            (Some(inline), None) => inline.clone(),
            (None, Some(rel)) => read_text(fs, &local_path(dir, file, field, rel)?)?,
            (Some(_), Some(_)) => {
                return Err(invalid(file, format!("{field}: an entry has both `patch` and `path`")));
            }
            (None, None) => {
                return Err(invalid(file, format!("{field}: an entry has neither `patch` nor `path`")));
            }
        };
        let allow_name_change = p.options.get("allowNameChange").copied().unwrap_or(false);
        let docs = parse_docs(&text, file, field)?;
        let is_json6902 = field == "patchesJson6902" || docs.first().is_some_and(Value::is_array);
        if is_json6902 {
            let Some(target) = &p.target else {
                return Err(invalid(file, format!("{field}: a JSON 6902 patch needs a `target`")));
            };
            let ops = docs.into_iter().next().unwrap_or(Value::Array(Vec::new()));
            let patch: json_patch::Patch = serde_json::from_value(ops)
                .map_err(|e| invalid(file, format!("{field}: invalid JSON 6902 patch: {e}")))?;
            let selector = Selector::new(target, file, field)?;
            let mut matched = false;
            for r in acc.iter_mut().filter(|r| selector.matches(r)) {
                matched = true;
                let name = r.name().to_owned();
                json_patch::patch(&mut r.object, &patch)
                    .map_err(|e| invalid(file, format!("{field}: patch on {}: {e}", r.describe())))?;
                if !allow_name_change {
                    r.set_name(&name);
                }
            }
            if !matched && field == "patchesJson6902" {
                return Err(invalid(file, format!("{field}: no resource matches the target {target:?}")));
            }
        } else {
            for doc in docs {
                apply_smp(&doc, p.target.as_ref(), acc, file, allow_name_change)?;
            }
        }
    }
    Ok(())
}

fn parse_docs(text: &str, file: &str, field: &str) -> Result<Vec<Value>, KustomizeError> {
    let docs = load::parse_yaml_values(text).map_err(|e| invalid(file, format!("{field}: {e}")))?;
    Ok(docs)
}

/// Applies one strategic-merge document, to `target`'s matches or to the object it names.
fn apply_smp(
    patch: &Value,
    target: Option<&Target>,
    acc: &mut Vec<Resource>,
    file: &str,
    allow_name_change: bool,
) -> Result<(), KustomizeError> {
    let field = "patches";
    let selector = match target {
        Some(t) => Selector::new(t, file, field)?,
        None => Selector::of_patch(patch, file)?,
    };
    let delete_whole = patch.get("$patch").and_then(Value::as_str) == Some("delete");
    let mut matched = 0;
    let mut i = 0;
    while i < acc.len() {
        if selector.matches(&acc[i]) {
            matched += 1;
            if delete_whole {
                acc.remove(i);
                continue;
            }
            let r = &mut acc[i];
            let builtin = is_builtin_group(r.group());
            let name = r.name().to_owned();
            let mut p = patch.clone();
            if target.is_some() {
                // a targeted patch's own identity does not rename what it patches
                if let Some(m) = p.as_object_mut() {
                    m.shift_remove("apiVersion");
                    m.shift_remove("kind");
                }
            }
            merge(&mut r.object, &p, &mut Vec::new(), builtin);
            if !allow_name_change {
                r.set_name(&name);
            }
        }
        i += 1;
    }
    if matched == 0 && target.is_none() {
        let what = describe_patch(patch);
        return Err(invalid(file, format!("{field}: no resource matches the patch for {what}")));
    }
    Ok(())
}

fn describe_patch(p: &Value) -> String {
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or("?").to_owned();
    format!("{} {}", s("/kind"), s("/metadata/name"))
}

/// Which resources a patch applies to.
pub struct Selector {
    group: Option<Pattern>,
    version: Option<Pattern>,
    kind: Option<Pattern>,
    name: Option<Pattern>,
    namespace: Option<Pattern>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

/// A target field: matched literally when it has no regex syntax (most do), else as an
/// anchored regex. Compiling a regex costs more than a small render, so it is avoided.
enum Pattern {
    Exact(String),
    Regex(Regex),
}

impl Pattern {
    fn is_match(&self, v: &str) -> bool {
        match self {
            Self::Exact(s) => s == v,
            Self::Regex(re) => re.is_match(v),
        }
    }
}

fn anchored(v: Option<&String>, file: &str, field: &str, what: &str) -> Result<Option<Pattern>, KustomizeError> {
    v.map(|s| {
        if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)) {
            return Ok(Pattern::Exact(s.clone()));
        }
        Regex::new(&format!("^(?:{s})$"))
            .map(Pattern::Regex)
            .map_err(|e| invalid(file, format!("{field}: target.{what}: {e}")))
    })
    .transpose()
}

fn literal(v: Option<&str>) -> Option<Pattern> {
    v.map(|s| Pattern::Exact(s.to_owned()))
}

impl Selector {
    /// A selector from a `target`.
    pub fn new(t: &Target, file: &str, field: &str) -> Result<Self, KustomizeError> {
        Ok(Self {
            group: anchored(t.group.as_ref(), file, field, "group")?,
            version: anchored(t.version.as_ref(), file, field, "version")?,
            kind: anchored(t.kind.as_ref(), file, field, "kind")?,
            name: anchored(t.name.as_ref(), file, field, "name")?,
            namespace: anchored(t.namespace.as_ref(), file, field, "namespace")?,
            labels: t.label_selector.as_deref().map(|s| LabelSelector::parse(s, file)).transpose()?,
            annotations: t.annotation_selector.as_deref().map(|s| LabelSelector::parse(s, file)).transpose()?,
        })
    }

    /// The selector a strategic-merge patch without target implies: its own kind and name.
    fn of_patch(p: &Value, file: &str) -> Result<Self, KustomizeError> {
        let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str);
        let (Some(kind), Some(name)) = (s("/kind"), s("/metadata/name")) else {
            return Err(invalid(file, "a strategic-merge patch without target needs kind and metadata.name"));
        };
        let group = s("/apiVersion").map(|v| crate::model::key::group_of(v).to_owned());
        Ok(Self {
            group: literal(group.as_deref()),
            version: None,
            kind: literal(Some(kind)),
            name: literal(Some(name)),
            namespace: literal(s("/metadata/namespace")),
            labels: None,
            annotations: None,
        })
    }

    /// True when the resource matches.
    pub fn matches(&self, r: &Resource) -> bool {
        let m = |re: &Option<Pattern>, v: &str| re.as_ref().is_none_or(|re| re.is_match(v));
        m(&self.group, r.group())
            && m(&self.version, r.version())
            && m(&self.kind, r.kind())
            && m(&self.name, r.name())
            && m(&self.namespace, r.namespace().unwrap_or(""))
            && self.labels.as_ref().is_none_or(|s| s.matches(&r.labels()))
            && self.annotations.as_ref().is_none_or(|s| s.matches(&r.annotations()))
    }
}

/// A Kubernetes label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`.
pub struct LabelSelector {
    terms: Vec<Term>,
}

enum Term {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl LabelSelector {
    /// Parses a selector string.
    pub fn parse(s: &str, file: &str) -> Result<Self, KustomizeError> {
        let mut terms = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let term = if let Some(k) = part.strip_prefix('!') {
                Term::NotExists(k.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                Term::Ne(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Term::Eq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Term::NotIn(k.trim().to_owned(), set(rest))
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Term::In(k.trim().to_owned(), set(rest))
            } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-._/".contains(c)) {
                Term::Exists(part.to_owned())
            } else {
                return Err(invalid(file, format!("invalid selector {s:?}")));
            };
            terms.push(term);
        }
        Ok(Self { terms })
    }

    /// True when the labels satisfy every term.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.terms.iter().all(|t| match t {
            Term::Eq(k, v) => get(k) == Some(v.as_str()),
            Term::Ne(k, v) => get(k) != Some(v.as_str()),
            Term::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Term::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Term::Exists(k) => labels.contains_key(k),
            Term::NotExists(k) => !labels.contains_key(k),
        })
    }
}

fn set(rest: &str) -> Vec<String> {
    rest.trim().trim_start_matches('(').trim_end_matches(')').split(',').map(|s| s.trim().to_owned()).collect()
}

/// Splits at commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Strategic merge of `patch` into `target`. For built-in kinds, lists with a merge key merge
/// item by item; other lists, and every list of other kinds, are replaced.
pub fn merge(target: &mut Value, patch: &Value, trail: &mut Vec<String>, builtin: bool) {
    let Value::Object(pm) = patch else {
        *target = strip(patch);
        return;
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip(patch);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(tm) = target.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(keep)) = pm.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        tm.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, pv) in pm {
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(gone)) = (tm.get_mut(list), pv) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            tm.shift_remove(k);
            continue;
        }
        trail.push(k.clone());
        match (tm.get_mut(k), pv) {
            (Some(tv @ Value::Object(_)), Value::Object(_)) => {
                merge(tv, pv, trail, builtin);
                if tv.is_null() {
                    tm.shift_remove(k);
                }
            }
            (Some(Value::Array(tl)), Value::Array(pl)) => merge_list(tl, pl, trail, builtin),
            _ => {
                let v = strip(pv);
                if pv.get("$patch").and_then(Value::as_str) != Some("delete") {
                    tm.insert(k.clone(), v);
                }
            }
        }
        trail.pop();
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], trail: &mut Vec<String>, builtin: bool) {
    let replace_directive = patch.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    let shape: Vec<&str> = shape_of(trail);
    let key = if builtin { crate::diff::merge_keys::merge_key(&shape).filter(|_| merges(&shape)) } else { None };
    let scalar_set = builtin && matches!(shape.last().copied(), Some("finalizers"));
    if replace_directive {
        *target = patch.iter().filter(|i| i.get("$patch").is_none()).map(strip).collect();
        return;
    }
    if scalar_set {
        for item in patch {
            if !target.contains(item) {
                target.push(item.clone());
            }
        }
        return;
    }
    let Some(key) = key else {
        *target = patch.iter().map(strip).collect();
        return;
    };
    // kustomize (kyaml) puts the patch's new items before the existing ones, in patch order
    let mut added = Vec::new();
    for item in patch {
        let Some(k) = crate::diff::merge_keys::item_key(item, key) else {
            added.push(strip(item));
            continue;
        };
        let found =
            target.iter().position(|t| crate::diff::merge_keys::item_key(t, key).is_some_and(|tk| tk[..] == k[..]));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (found, delete) {
            (Some(i), true) => {
                target.remove(i);
            }
            (Some(i), false) => {
                trail.push("[]".into());
                merge(&mut target[i], item, trail, builtin);
                trail.pop();
            }
            (None, true) => {}
            (None, false) => added.push(strip(item)),
        }
    }
    if !added.is_empty() {
        added.append(target);
        *target = added;
    }
}

/// Lists whose strategic-merge strategy is `merge` in the Kubernetes API types.
fn merges(shape: &[&str]) -> bool {
    !matches!(
        shape.last().copied(),
        Some("tolerations" | "topologySpreadConstraints" | "resizePolicy" | "readinessGates" | "webhooks")
    )
}

fn shape_of(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

/// A patch value with `$`-directives removed, as stored in the result.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(target: Value, patch: &Value) -> Value {
        let mut t = target;
        merge(&mut t, patch, &mut Vec::new(), true);
        t
    }

    #[test]
    fn containers_merge_by_name() {
        let t = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let p = json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}});
        assert_eq!(
            smp(t, &p),
            // new items first, as kyaml merges (see tests/kustomize/cases/12 and 32)
            json!({"spec": {"containers": [{"name": "c", "image": "w"}, {"name": "a", "image": "x"}, {"name": "b", "image": "z"}]}})
        );
    }

    #[test]
    fn directives() {
        let t = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "args": ["1"], "x": {"y": 1, "z": 2}}});
        let p = json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}], "args": ["2"], "x": {"$patch": "replace", "w": 3}}});
        assert_eq!(smp(t, &p), json!({"spec": {"containers": [{"name": "b"}], "args": ["2"], "x": {"w": 3}}}));
        let t = json!({"a": {"b": 1, "c": 2}});
        assert_eq!(smp(t, &json!({"a": {"b": null}})), json!({"a": {"c": 2}}));
    }

    #[test]
    fn label_selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        let m = labels.as_object().unwrap();
        assert!(LabelSelector::parse("app=web,tier", "f").unwrap().matches(m));
        assert!(LabelSelector::parse("app in (web, api),!legacy", "f").unwrap().matches(m));
        assert!(!LabelSelector::parse("app!=web", "f").unwrap().matches(m));
        assert!(!LabelSelector::parse("tier notin (front)", "f").unwrap().matches(m));
    }
}
