//! `replacements`: copy a field of one resource into fields of others.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::generate::local_path;
use super::patch::Selector;
use super::resource::Resource;
use super::spec::{Kustomization, Target};
use super::{KustomizeError, invalid, read_text};
use crate::model::load;
use crate::render::fs::SourceFs;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Replacement {
    source: Source,
    #[serde(default)]
    targets: Vec<TargetSpec>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Source {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    field_path: Option<String>,
    options: Option<Options>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetSpec {
    select: Option<Target>,
    #[serde(default)]
    reject: Vec<Target>,
    #[serde(default)]
    field_paths: Vec<String>,
    options: Option<Options>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    delimiter: Option<String>,
    #[serde(default)]
    index: i64,
    #[serde(default)]
    create: bool,
}

/// Runs the kustomization's replacements in order.
pub fn run(
    fs: &dyn SourceFs,
    dir: &Path,
    file: &str,
    k: &Kustomization,
    acc: &mut [Resource],
) -> Result<(), KustomizeError> {
    let mut all = Vec::new();
    for entry in &k.replacements {
        if let Some(rel) = &entry.path {
            let text = read_text(fs, &local_path(dir, file, "replacements", rel)?)?;
            for doc in load::parse_yaml_values(&text).map_err(|e| invalid(file, format!("replacements: {rel}: {e}")))? {
                let docs = match doc {
                    Value::Array(items) => items,
                    one => vec![one],
                };
                for d in docs {
                    all.push(
                        serde_json::from_value::<Replacement>(d)
                            .map_err(|e| invalid(file, format!("replacements: {rel}: {e}")))?,
                    );
                }
            }
        } else {
            let v = serde_json::json!({"source": entry.source, "targets": entry.targets.clone().unwrap_or(Value::Array(Vec::new()))});
            all.push(
                serde_json::from_value::<Replacement>(v).map_err(|e| invalid(file, format!("replacements: {e}")))?,
            );
        }
    }
    for r in &all {
        apply(r, acc, file)?;
    }
    Ok(())
}

fn apply(r: &Replacement, acc: &mut [Resource], file: &str) -> Result<(), KustomizeError> {
    let src = &r.source;
    let target = Target {
        group: src.group.clone(),
        version: src.version.clone(),
        kind: src.kind.clone(),
        name: src.name.clone(),
        namespace: src.namespace.clone(),
        label_selector: None,
        annotation_selector: None,
    };
    let selector = Selector::new(&target, file, "replacements")?;
    let found: Vec<&Resource> = acc.iter().filter(|x| selector.matches(x)).collect();
    let source = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(invalid(file, format!("replacements: no resource matches the source {}", describe(src))));
        }
        _ => {
            return Err(invalid(
                file,
                format!("replacements: more than one resource matches the source {}", describe(src)),
            ));
        }
    };
    let path = src.field_path.clone().unwrap_or_else(|| "metadata.name".into());
    let Some(mut value) = get(&source.object, &parse_path(&path)).cloned() else {
        return Err(invalid(file, format!("replacements: the source {} has no field {path}", describe(src))));
    };
    if let Some(o) = &src.options
        && let (Some(d), Some(s)) = (&o.delimiter, value.as_str())
    {
        let parts: Vec<&str> = s.split(d.as_str()).collect();
        let i = usize::try_from(o.index).ok().filter(|i| *i < parts.len());
        let Some(i) = i else {
            return Err(invalid(file, format!("replacements: source options.index {} is out of range", o.index)));
        };
        // kustomize makes a new untagged scalar of the part, so `1.25` becomes a number
        value = untagged_scalar(parts[i]);
    }
    for t in &r.targets {
        let select = t.select.as_ref().map(|s| Selector::new(s, file, "replacements")).transpose()?;
        let rejects: Vec<Selector> =
            t.reject.iter().map(|s| Selector::new(s, file, "replacements")).collect::<Result<_, _>>()?;
        let opts = t.options.clone().unwrap_or_default();
        for res in acc.iter_mut() {
            if select.as_ref().is_some_and(|s| !s.matches(res)) || rejects.iter().any(|s| s.matches(res)) {
                continue;
            }
            for fp in &t.field_paths {
                set(&mut res.object, &parse_path(fp), &value, &opts)
                    .map_err(|m| invalid(file, format!("replacements: {} {fp}: {m}", res.describe())))?;
            }
        }
    }
    Ok(())
}

/// A plain YAML scalar's value: `1.25` a number, `true` a boolean, anything else a string.
fn untagged_scalar(text: &str) -> Value {
    match load::parse_yaml_values(text).ok().and_then(|mut v| v.pop()) {
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(text.to_owned()),
    }
}

fn describe(s: &Source) -> String {
    format!("{} {}", s.kind.as_deref().unwrap_or("*"), s.name.as_deref().unwrap_or("*"))
}

/// One step of a field path: a key, or a list item chosen by `[field=value]` or index.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Match(String, String),
    Index(usize),
}

/// Parses `spec.template.spec.containers.[name=app].image`; dots inside brackets do not split.
fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => {
                steps.push(step(&cur));
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        steps.push(step(&cur));
    }
    steps
}

fn step(s: &str) -> Step {
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        if let Some((k, v)) = inner.split_once('=') {
            return Step::Match(k.to_owned(), v.to_owned());
        }
        if let Ok(i) = inner.parse() {
            return Step::Index(i);
        }
    }
    if let Ok(i) = s.parse() {
        return Step::Index(i);
    }
    Step::Key(s.to_owned())
}

fn get<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let Some((first, rest)) = steps.split_first() else {
        return Some(v);
    };
    let next = match first {
        Step::Key(k) => v.get(k)?,
        Step::Index(i) => v.get(*i)?,
        Step::Match(k, want) => v.as_array()?.iter().find(|i| i.get(k).is_some_and(|x| scalar_text(x) == *want))?,
    };
    get(next, rest)
}

fn scalar_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn set(v: &mut Value, steps: &[Step], value: &Value, opts: &Options) -> Result<(), String> {
    let Some((first, rest)) = steps.split_first() else {
        *v = match (&opts.delimiter, v.as_str(), value.as_str()) {
            (Some(d), Some(cur), Some(new)) => {
                let mut parts: Vec<String> = cur.split(d.as_str()).map(str::to_owned).collect();
                let i = usize::try_from(opts.index).map_err(|_| "options.index must not be negative".to_owned())?;
                if i < parts.len() {
                    new.clone_into(&mut parts[i]);
                } else {
                    parts.push(new.to_owned());
                }
                Value::String(parts.join(d))
            }
            _ => value.clone(),
        };
        return Ok(());
    };
    match first {
        Step::Key(k) => {
            if v.is_null() && opts.create {
                *v = Value::Object(Map::new());
            }
            let Some(m) = v.as_object_mut() else {
                return Err(format!("{k} is not under a map"));
            };
            if !m.contains_key(k) {
                if !opts.create {
                    return Ok(());
                }
                m.insert(k.clone(), Value::Null);
            }
            match m.get_mut(k) {
                Some(child) => set(child, rest, value, opts),
                None => Ok(()),
            }
        }
        Step::Index(i) => match v.get_mut(*i) {
            Some(child) => set(child, rest, value, opts),
            None => Ok(()),
        },
        Step::Match(k, want) => {
            let Some(items) = v.as_array_mut() else {
                return Ok(());
            };
            for item in items.iter_mut().filter(|i| i.get(k).is_some_and(|x| scalar_text(x) == *want)) {
                set(item, rest, value, opts)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_with_selectors() {
        assert_eq!(
            parse_path("spec.containers.[name=a.b].image"),
            vec![
                Step::Key("spec".into()),
                Step::Key("containers".into()),
                Step::Match("name".into(), "a.b".into()),
                Step::Key("image".into())
            ]
        );
        let obj = json!({"spec": {"containers": [{"name": "a.b", "image": "x:1"}]}});
        assert_eq!(get(&obj, &parse_path("spec.containers.[name=a.b].image")), Some(&json!("x:1")));
        assert_eq!(get(&obj, &parse_path("spec.containers.0.image")), Some(&json!("x:1")));
    }

    #[test]
    fn set_with_delimiter_and_create() {
        let mut obj = json!({"image": "reg/app:1"});
        let opts = Options { delimiter: Some(":".into()), index: 1, create: false };
        set(&mut obj, &parse_path("image"), &json!("2"), &opts).unwrap();
        assert_eq!(obj["image"], "reg/app:2");
        let opts = Options { create: true, ..Options::default() };
        set(&mut obj, &parse_path("a.b"), &json!("v"), &opts).unwrap();
        assert_eq!(obj["a"]["b"], "v");
    }
}
